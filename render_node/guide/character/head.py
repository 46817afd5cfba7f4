"""The guide's head (mesh `Face`): skin (head, ears, neck; lips and the mouth's inside by vertex colour), eyes
(white, iris, pupil), eyelids, brows, teeth and tongue. Sculpted as signed distance fields except the eyes and
lids, which are made on spheres around each eye so a blink can slide the lids exactly shut.

The mouth: a slit between the lips opens into a cavity; the jaw's visemes turn the lower face about `JAW_PIVOT`
(see face.py). Measures are metres in the rest pose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from render_node.guide.character import sdf
from render_node.guide.character.body import Part
from render_node.guide.character.materials import (
    BLUSH_SRGB,
    LASH_SRGB,
    LIP_SRGB,
    MOUTH_SRGB,
    SKIN_SRGB,
    vertex_color,
)
from render_node.guide.character.rig import Piece, fixed, vertical
from render_node.guide.character.sdf import Field, Surface, orient

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

MOUTH_Y = 1.4875
MOUTH_FRONT_Z = 0.088
MOUTH_HALF_WIDTH = 0.0195
SLIT_HALF_M = 0.00085
JAW_PIVOT = np.array([0.0, 1.505, -0.012])
EYE_RADIUS = 0.015
EYES = {"Left": np.array([0.0325, 1.553, 0.0635]), "Right": np.array([-0.0325, 1.553, 0.0635])}
LID_INNER = EYE_RADIUS + 0.0004
LID_OUTER = EYE_RADIUS + 0.0022
SOCKET_M = EYE_RADIUS + 0.0011
"""The skin's hole for each eye: inside the lids' outer surface, so no rim of the hole shows around them."""
LID_FLARE_M = 0.0022
"""How far the lids' outer surface rises towards their far ends, to meet the skin round the socket (no ring
shows round a closed eye)."""
LID_TOP_DEG = 80.0
LID_CODES = (("Left", "upper"), ("Left", "lower"), ("Right", "upper"), ("Right", "lower"))
LID_SIDE_DEG = 95.0
BLINK_MEET_DEG = -9.0

HEAD_BINDING = vertical([(0.0, "Chest"), (1.36, "Neck"), (1.425, "Head")], blend=0.02)
"""By height in the file (world), after `to_world`."""

HEAD_SCALE = 1.12
HEAD_ANCHOR = np.array([0.0, 1.66, -0.01])
"""The head is sculpted at a real adult's size (every measure in this module, the design space) and enlarged by
`HEAD_SCALE` about `HEAD_ANCHOR` (the top of the skull) when written: stylised app-avatar proportions, about 6.7
heads tall, with the chin lower and so a shorter neck. Hair goes with it (body.hair)."""


def to_world(p: F64) -> F64:
    return np.asarray(HEAD_ANCHOR + HEAD_SCALE * (np.asarray(p) - HEAD_ANCHOR))


def to_design(p: F64) -> F64:
    return np.asarray(HEAD_ANCHOR + (np.asarray(p) - HEAD_ANCHOR) / HEAD_SCALE)

SMILE = 8.5
"""The mouth line curves up to the corners (a faint friendly smile): y = MOUTH_Y + SMILE * x^2."""


def mouth_line(x: F64) -> F64:
    return np.asarray(MOUTH_Y + SMILE * x * x)


def _smiling(f: Field) -> Field:
    return lambda p: f(p - np.stack([np.zeros(len(p)), SMILE * p[:, 0] ** 2, np.zeros(len(p))], axis=1))


UPPER_LIP = _smiling(sdf.ellipsoid((0.0, MOUTH_Y + 0.0045, 0.0772), (0.0185, 0.0048, 0.0088)))
LOWER_LIP = _smiling(sdf.ellipsoid((0.0, MOUTH_Y - 0.0052, 0.0762), (0.0165, 0.0055, 0.0088)))
SLIT = _smiling(sdf.round_box((0.0, MOUTH_Y, 0.086), (MOUTH_HALF_WIDTH + 0.001, SLIT_HALF_M, 0.024),
                              SLIT_HALF_M * 0.95))
"""Even in thickness to the corners, so the grid resolves the whole slit and the jaw opens it cleanly."""
CAVITY = sdf.ellipsoid((0.0, MOUTH_Y - 0.003, 0.053), (0.022, 0.0125, 0.021))


def skin_field() -> Field:
    skull = sdf.ellipsoid((0.0, 1.565, -0.01), (0.077, 0.09, 0.091))
    jaw = sdf.ellipsoid((0.0, 1.515, 0.012), (0.058, 0.062, 0.066))
    taper = sdf.ellipsoid((0.0, 1.49, 0.03), (0.042, 0.04, 0.05))
    jaw = sdf.union(jaw, taper, k=0.02)
    chin = sdf.ellipsoid((0.0, 1.466, 0.046), (0.019, 0.015, 0.019))
    cheeks = sdf.union(sdf.sphere((0.033, 1.527, 0.044), 0.027), sdf.sphere((-0.033, 1.527, 0.044), 0.027))
    head = sdf.union(skull, jaw, k=0.035)
    head = sdf.union(head, chin, k=0.024)
    head = sdf.union(head, cheeks, k=0.03)
    nose = sdf.union(sdf.capsule((0.0, 1.55, 0.077), (0.0, 1.526, 0.0895), 0.0052, 0.0066),
                     sdf.sphere((0.0, 1.5235, 0.0893), 0.0072),
                     sdf.sphere((0.0075, 1.5205, 0.0835), 0.0052), sdf.sphere((-0.0075, 1.5205, 0.0835), 0.0052),
                     k=0.005)
    head = sdf.union(head, nose, k=0.01)
    lips = sdf.union(UPPER_LIP, LOWER_LIP, k=0.003)
    head = sdf.union(head, lips, k=0.007)
    ears = sdf.union(sdf.ellipsoid((0.076, 1.542, -0.01), (0.012, 0.022, 0.014)),
                     sdf.ellipsoid((-0.076, 1.542, -0.01), (0.012, 0.022, 0.014)))
    head = sdf.union(head, ears, k=0.008)
    neck = sdf.capsule((0.0, 1.3, -0.02), (0.0, 1.5, -0.022), 0.0315, 0.0305)
    head = sdf.union(head, neck, k=0.02)
    sockets = [sdf.sphere(c, SOCKET_M) for c in EYES.values()]
    head = sdf.subtract(head, *sockets, k=0.003)
    return sdf.subtract(head, SLIT, CAVITY, k=0.0012)


def _skin_colors(p: F64) -> F64:
    skin, lip, mouth, blush = (vertex_color(c) for c in (SKIN_SRGB, LIP_SRGB, MOUTH_SRGB, BLUSH_SRGB))
    d_lip = np.minimum(UPPER_LIP(p), LOWER_LIP(p))
    on_lip = sdf.smoothstep(0.0022, 0.0006, d_lip) * sdf.smoothstep(0.07, 0.078, p[:, 2])
    inside = np.maximum(sdf.smoothstep(0.082, 0.074, p[:, 2]) * sdf.smoothstep(0.004, -0.001, CAVITY(p) - 0.003),
                        sdf.smoothstep(0.0006, -0.0004, SLIT(p)))
    cheek = np.exp(-(((np.abs(p[:, 0]) - 0.042) / 0.016) ** 2 + ((p[:, 1] - 1.522) / 0.012) ** 2)) * (p[:, 2] > 0.03)
    c = skin[None, :] * (1 - 0.32 * cheek[:, None]) + blush[None, :] * 0.32 * cheek[:, None]
    c = c * (1 - on_lip[:, None]) + lip[None, :] * on_lip[:, None]
    inside = np.clip(inside, 0.0, 1.0)
    return np.asarray(c * (1 - inside[:, None]) + mouth[None, :] * inside[:, None])


def skin() -> Part:
    field = skin_field()
    # the grid puts a node on the mouth line so the slit between the lips is resolved
    voxel = 0.0016
    lo_y = MOUTH_Y - voxel * math.floor((MOUTH_Y - 1.3) / voxel)
    return Part("head", "skin", field, (Piece(field, HEAD_BINDING),), (-0.095, lo_y, -0.115), (0.095, 1.67, 0.112),
                voxel, 9500, colors=_skin_colors, head_space=True)


def brows() -> Part:
    head = skin_field()
    pieces = []
    for sx in (1.0, -1.0):
        pts = []
        for x, dy in ((0.013, -0.0014), (0.027, 0.0022), (0.04, 0.0019), (0.052, -0.0032)):
            y = 1.5835 + dy
            z = _front_z(head, x * sx, y)
            pts.append(np.array([x * sx, y, z + 0.0006]))
        radii = (0.0024, 0.0023, 0.0019, 0.0013)
        segs = [sdf.flat_capsule(pts[i], pts[i + 1], radii[i], (1.0, 0.62, 0.55)) for i in range(3)]
        pieces.append(sdf.union(*segs, k=0.002))
    field = sdf.union(*pieces)
    return Part("brows", "brow", field, (Piece(field, fixed("Head")),), (-0.065, 1.56, 0.04), (0.065, 1.6, 0.1),
                0.0009, 600, head_space=True)


def _front_z(field: Field, x: float, y: float) -> float:
    lo, hi = 0.0, 0.13
    for _ in range(40):
        mid = (lo + hi) / 2
        if field(np.array([[x, y, mid]]))[0] < 0:
            lo = mid
        else:
            hi = mid
    return lo


def _teeth_field(y_center: float, upper: bool) -> Field:
    arch = sdf.ellipsoid((0.0, y_center, 0.058), (0.0205, 0.0045, 0.0205))
    inner = sdf.ellipsoid((0.0, y_center, 0.057), (0.0165, 0.02, 0.0165))
    front = sdf.half_space((0.0, 0.0, 0.06), (0.0, 0.0, -1.0))
    return sdf.intersect(sdf.subtract(arch, inner, k=0.002), front, k=0.004)


def teeth() -> Part:
    field = sdf.union(_teeth_field(MOUTH_Y + 0.0056, True), _teeth_field(MOUTH_Y - 0.0072, False))
    return Part("teeth", "teeth", field, (Piece(field, fixed("Head")),), (-0.03, 1.47, 0.045), (0.03, 1.5, 0.085),
                0.0009, 900, head_space=True)


def tongue() -> Part:
    field = sdf.ellipsoid((0.0, MOUTH_Y - 0.0095, 0.056), (0.0165, 0.0058, 0.019))
    return Part("tongue", "tongue", field, (Piece(field, fixed("Head")),), (-0.025, 1.46, 0.03), (0.025, 1.49, 0.08),
                0.0012, 300, head_space=True)


@dataclass(frozen=True)
class Shell:
    """A parametric surface made here (eyes, lids): vertices, normals, faces, and per-vertex data for morphs."""

    name: str
    material: str
    surface: Surface
    colors: F64 | None = None
    lid_index: npt.NDArray[np.int64] | None = None
    """Per vertex of the lids: 0 left upper, 1 left lower, 2 right upper, 3 right lower."""
    phi_deg: F64 | None = None
    lam_deg: F64 | None = None
    radius: F64 | None = None


def _grid_faces(rows: int, cols: int, closed_cols: bool = False) -> I64:
    f = []
    cc = cols if closed_cols else cols - 1
    for r in range(rows - 1):
        for c in range(cc):
            a, b = r * cols + c, r * cols + (c + 1) % cols
            f += [[a, b, a + cols], [b, b + cols, a + cols]]
    return np.asarray(f, np.int64)


def _eye_frame(side: str) -> F64:
    """3x3 local -> world: +Z the eye's gaze (a little outward), +Y up."""
    sx = 1.0 if side == "Left" else -1.0
    yaw = math.radians(4.0) * sx
    z = np.array([math.sin(yaw), 0.0, math.cos(yaw)])
    y = np.array([0.0, 1.0, 0.0])
    x = np.cross(y, z)
    return np.stack([x, y, z], axis=1)


def eye_direction(phi: F64, lam: F64) -> F64:
    """Unit vectors in the eye's frame: elevation `phi` about its x axis, azimuth `lam` about its y axis (rad)."""
    return np.stack([np.cos(phi) * np.sin(lam), np.sin(phi), np.cos(phi) * np.cos(lam)], axis=-1)


def eyes() -> list[Shell]:
    """Per eye: the white, the iris and the pupil, caps of one sphere about the gaze axis (crisp edges)."""
    out: list[Shell] = []
    zones = (("pupil", 0.0, 0.2), ("iris", 0.2, 0.5), ("eye_white", 0.5, 2.3))
    segs = 32
    for material, t0, t1 in zones:
        pos_all, nrm_all, faces_all = [], [], []
        base = 0
        for side, centre in EYES.items():
            frame = _eye_frame(side)
            rings = 3 if material == "pupil" else (4 if material == "iris" else 7)
            theta = np.linspace(max(t0, 1e-3), t1, rings)
            ang = np.linspace(0.0, 2 * math.pi, segs, endpoint=False)
            th, an = np.meshgrid(theta, ang, indexing="ij")
            d = np.stack([np.sin(th) * np.cos(an), np.sin(th) * np.sin(an), np.cos(th)], axis=-1).reshape(-1, 3)
            flat_th = th.reshape(-1)
            if material == "iris":  # the iris sits a little inside the cornea's bulge
                r = EYE_RADIUS * (1.0 - 0.02 * (1 - (flat_th - 0.2) / 0.3))
            elif material == "pupil":
                r = EYE_RADIUS * (1.0 + 0.06 * np.cos(flat_th) ** 8)
            else:
                r = np.full(len(flat_th), EYE_RADIUS)
            pts = d * np.asarray(r).reshape(-1, 1)
            world = pts @ frame.T + centre
            nrm = d @ frame.T
            faces = _grid_faces(rings, segs, closed_cols=True)
            if t0 == 0.0:  # close the pupil's centre
                cpos = (frame @ np.array([0, 0, 1.0])) * EYE_RADIUS * 1.0 + centre
                world = np.vstack([world, cpos])
                nrm = np.vstack([nrm, frame @ np.array([0, 0, 1.0])])
                ci = len(world) - 1
                faces = np.vstack([faces, [[ci, (k + 1) % segs, k] for k in range(segs)]])
            pos_all.append(world)
            nrm_all.append(nrm)
            faces_all.append(faces + base)
            base += len(world)
        surf = orient(Surface(np.vstack(pos_all), np.vstack(nrm_all), np.vstack(faces_all)))
        out.append(Shell(material, material, surf))
    return out


def lid_edge_deg(lam_deg: F64, which: str) -> F64:
    """The lid's edge elevation at azimuth `lam_deg`: an almond opening (rest)."""
    u = np.clip(lam_deg / 60.0, -1.5, 1.5)
    if which == "upper":
        return np.asarray(31.0 - 14.0 * u * u - 4.0 * u)
    return np.asarray(-33.0 + 14.0 * u * u + 3.0 * u)


def blink_edge_deg(lam_deg: F64) -> F64:
    u = np.clip(lam_deg / 60.0, -1.5, 1.5)
    return np.asarray(BLINK_MEET_DEG + 3.0 * u * u)


def lids() -> Shell:
    """Both eyes' upper and lower lids: closed shells (inner, rim, outer) on spheres around the eyeballs."""
    pos_all, nrm_all, faces_all, col_all, phi_all, lam_all, rad_all = [], [], [], [], [], [], []
    sides: list[int] = []
    base = 0
    skin, lash = vertex_color(SKIN_SRGB), vertex_color(LASH_SRGB)
    cols = 26
    lam = np.linspace(-LID_SIDE_DEG, LID_SIDE_DEG, cols)
    for side, centre in EYES.items():
        frame = _eye_frame(side)
        lam_side = lam
        for which in ("upper", "lower"):
            sign = 1.0 if which == "upper" else -1.0
            edge = lid_edge_deg(lam_side * (1.0 if side == "Left" else -1.0), which)
            n_in, n_rim, n_out = 4, 5, 8
            rows_phi, rows_r, rows_dark = [], [], []
            end = sign * LID_TOP_DEG
            for i in range(n_in):
                t = i / (n_in - 1)
                rows_phi.append(end + (edge - end) * t)
                rows_r.append(np.full(cols, LID_INNER))
                rows_dark.append(np.zeros(cols))
            thick = (LID_OUTER - LID_INNER) / 2
            extra = math.degrees(thick / EYE_RADIUS) * 1.3
            for i in range(1, n_rim - 1):
                a = math.pi * i / (n_rim - 1)
                rows_phi.append(edge - sign * extra * math.sin(a))
                rows_r.append(np.full(cols, (LID_INNER + LID_OUTER) / 2 - thick * math.cos(a)))
                rows_dark.append(np.full(cols, (1.0 if which == "upper" else 0.15) if a > math.pi / 2 else 0.0))
            for i in range(n_out):
                t = i / (n_out - 1)
                rows_phi.append(edge + (end - edge) * t)
                flare = min(max((t - 0.4) / 0.6, 0.0), 1.0)
                rows_r.append(np.full(cols, LID_OUTER + LID_FLARE_M * flare * flare * (3.0 - 2.0 * flare)))
                shade = (1.0 if t < 0.02 else 0.0) if which == "upper" else 0.0
                rows_dark.append(np.full(cols, shade))
            phi = np.stack(rows_phi)  # (rows, cols) degrees
            rad = np.stack(rows_r)
            dark_rows = np.stack(rows_dark)
            lam_g = np.broadcast_to(lam_side, phi.shape)
            d = eye_direction(np.radians(phi), np.radians(lam_g)).reshape(-1, 3)
            world = (d * rad.reshape(-1, 1)) @ frame.T + centre
            n_rows = phi.shape[0]
            nrm = d @ frame.T
            inner_rows = np.arange(n_rows) < n_in
            nrm = np.where(np.repeat(inner_rows, cols)[:, None], -nrm, nrm)
            faces = _grid_faces(n_rows, cols)
            pos_all.append(world)
            nrm_all.append(nrm)
            faces_all.append(faces + base)
            col_all.append(skin[None, :] * (1 - dark_rows.reshape(-1, 1)) + lash[None, :] * dark_rows.reshape(-1, 1))
            phi_all.append(phi.reshape(-1))
            lam_all.append(lam_g.reshape(-1))
            rad_all.append(rad.reshape(-1))
            sides += [LID_CODES.index((side, which))] * len(world)
            base += len(world)
    surf = Surface(np.vstack(pos_all), np.vstack(nrm_all), np.vstack(faces_all))
    return Shell("lids", "skin", orient(surf), np.vstack(col_all), np.asarray(sides, np.int64),
                 np.concatenate(phi_all), np.concatenate(lam_all), np.concatenate(rad_all))


def sdf_parts() -> list[Part]:
    return [skin(), brows(), teeth(), tongue()]
