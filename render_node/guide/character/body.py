"""The guide's sculpted parts as signed distance fields: clothes, hands, hair (mesh `Body`). The head is in
`head.py` (mesh `Face`). Each part: its field, the pieces that say which bones carry it (`rig.Piece`), the box
and voxel size it is meshed at and its triangle budget."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from render_node.guide.character import sdf
from render_node.guide.character.rig import WORLD, Binding, Piece, chain, fixed, vertical
from render_node.guide.character.sdf import Field

F64 = npt.NDArray[np.float64]
Colors = Callable[[F64], F64]


@dataclass(frozen=True)
class Part:
    name: str
    material: str
    field: Field
    pieces: tuple[Piece, ...]
    lo: tuple[float, float, float]
    hi: tuple[float, float, float]
    voxel_m: float
    triangles: int
    colors: Colors | None = None
    """Linear RGB per vertex `(n, 3)` for materials with vertex colours."""
    head_space: bool = False
    """Sculpted in the head's design space (head.py), written through `head.to_world`."""


def mirror(p: tuple[float, float, float]) -> tuple[float, float, float]:
    return (-p[0], p[1], p[2])


TORSO_BINDING = vertical([(0.0, "Hips"), (1.0, "Spine"), (1.15, "Chest")], blend=0.05)
SHOULDERS_BINDING = chain((-0.2, 0, 0), (0.2, 0, 0), [(0.0, "RightShoulder"), (0.36, "Chest"), (0.64, "LeftShoulder")],
                          blend=0.06)


def _torso_core() -> list[Piece]:
    return [
        Piece(sdf.ellipsoid((0.0, 1.235, -0.008), (0.132, 0.13, 0.09)), TORSO_BINDING),
        Piece(sdf.ellipsoid((0.0, 1.222, 0.03), (0.105, 0.058, 0.068)), fixed("Chest")),
        Piece(sdf.ellipsoid((0.0, 1.08, -0.008), (0.104, 0.12, 0.077)), TORSO_BINDING),
        Piece(sdf.ellipsoid((0.0, 0.95, -0.006), (0.146, 0.112, 0.1)), TORSO_BINDING),
        *(Piece(_shoulder(sx), SHOULDERS_BINDING) for sx in (-1.0, 1.0)),
    ]


def _shoulder(sx: float) -> Field:
    """The jacket's shoulder on one side (`sx` +1: the character's left): a flat, lightly padded slab from the
    collar down to the shoulder point, its top line straight and sloping, not a round pad."""
    return sdf.flat_capsule((0.042 * sx, 1.346, -0.013), (0.158 * sx, 1.302, -0.024), 0.042, (1.0, 0.6, 1.0))


def _arm_binding(side: str) -> Binding:
    s, e, w = WORLD[f"{side}UpperArm"], WORLD[f"{side}LowerArm"], WORLD[f"{side}Hand"]
    t_elbow = float(np.linalg.norm(e - s) / (np.linalg.norm(e - s) + np.linalg.norm(w - e)))
    return chain(s, w, [(0.0, f"{side}UpperArm"), (t_elbow, f"{side}LowerArm")], blend=0.07)


def _sleeves(side: str) -> list[Piece]:
    s, e, w = WORLD[f"{side}UpperArm"], WORLD[f"{side}LowerArm"], WORLD[f"{side}Hand"]
    top = s + (np.array([-0.008, -0.046, 0.0]) if side == "Left" else np.array([0.008, -0.046, 0.0]))
    cuff = w + (e - w) * 0.02
    b = _arm_binding(side)
    return [Piece(sdf.capsule(top, e, 0.042, 0.038), b), Piece(sdf.capsule(e, cuff, 0.038, 0.036), b)]


def _v_notch(depth_front_z: float = 0.0, bottom_y: float = 1.135, slope: float = 0.30) -> Field:
    """The jacket's V opening at the front: |x| < slope * (y - bottom_y), z > depth_front_z."""
    a = sdf.half_space((0.0, bottom_y, 0.0), (1.0, -slope, 0.0))
    b = sdf.half_space((0.0, bottom_y, 0.0), (-1.0, -slope, 0.0))
    c = sdf.half_space((0.0, 0.0, depth_front_z), (0.0, 0.0, -1.0))
    return lambda p: np.maximum(np.maximum(a(p), b(p)), c(p))


def jacket() -> Part:
    core = _torso_core()
    sleeves = _sleeves("Left") + _sleeves("Right")
    torso = sdf.union(*(pc.field for pc in core), k=0.04)
    collar = sdf.torus((0.0, 1.372, -0.026), 0.05, 0.013, (1.0, 1.0, 1.1))
    notch = _v_notch()
    # lapels: the torso's surface raised in a band along each edge of the V
    notch_again = _v_notch()

    def band(p: F64) -> F64:  # near the V's edges, at the front
        return np.asarray(np.maximum(np.abs(notch_again(p)) - 0.034, -p[:, 2] + 0.02))

    lapels = sdf.intersect(sdf.offset(torso, 0.0045), band, k=0.006)
    body = sdf.union(torso, lapels, k=0.0)
    body = sdf.union(body, collar, k=0.02)
    body = sdf.union(body, *(pc.field for pc in sleeves), k=0.028)
    hem = sdf.half_space((0.0, 0.875, 0.0), (0.0, 1.0, 0.0))
    field = sdf.subtract(body, notch, hem, k=0.004)
    pieces = (*core, Piece(collar, fixed("Chest")), *sleeves)
    return Part("jacket", "jacket", field, pieces, (-0.27, 0.84, -0.14), (0.27, 1.43, 0.15), 0.004, 6200)


def blouse() -> Part:
    core = _torso_core()[:3]
    torso = sdf.offset(sdf.union(*(pc.field for pc in core), k=0.04), -0.003)
    collar = _collar_ring(1.34, 1.414, 0.0395, 0.0034, front_dip_m=0.01)
    field = sdf.union(torso, collar, k=0.008)
    pieces = (*core, Piece(collar, fixed("Chest")))
    return Part("blouse", "blouse", field, pieces, (-0.1, 1.1, -0.075), (0.1, 1.425, 0.13), 0.003, 1800)


def _ribbon(points: list[tuple[float, float, float]], width_m: float, thick_m: float, normal: F64) -> Field:
    """A flat strip along a polyline: `width_m` wide across (in the plane normal to `normal`), `thick_m` thick."""
    segs = []
    for a, b in itertools.pairwise(points):
        aa, bb = np.asarray(a), np.asarray(b)
        along = (bb - aa) / np.linalg.norm(bb - aa)
        nn = normal - along * (normal @ along)
        nn = nn / np.linalg.norm(nn)
        across = np.cross(nn, along)
        rot = np.stack([across, along, nn], axis=1)
        half = (width_m / 2, float(np.linalg.norm(bb - aa)) / 2 + width_m * 0.1, thick_m / 2)
        segs.append(sdf.round_box((aa + bb) / 2, half, thick_m * 0.45, rot))
    return sdf.union(*segs, k=0.004)


NECK_Z = -0.0225
"""The neck's axis (z), where the collars centre (the head's neck, head.py, through `to_world`)."""


def _collar_ring(y0: float, y1: float, radius_m: float, thick_m: float, front_dip_m: float = 0.0) -> Field:
    """A band round the neck between heights y0 and y1 (the top dipping by `front_dip_m` at the front)."""
    def f(p: F64) -> F64:
        x, z = p[:, 0], (p[:, 2] - NECK_Z) / 1.1
        r = np.hypot(x, z)
        front = np.clip(z / np.maximum(r, 1e-9), 0.0, 1.0) ** 2
        top = y1 - front_dip_m * front
        radial = np.abs(r - radius_m) - thick_m / 2
        vertical = np.maximum(y0 - p[:, 1], p[:, 1] - top)
        return np.asarray(np.hypot(np.maximum(radial, 0.0), np.maximum(vertical, 0.0))
                          + np.minimum(np.maximum(radial, vertical), 0.0))

    return f


def scarf() -> Part:
    """A red silk scarf: a flat band round the blouse's collar, tied at the front in a small bow (two flat loops,
    a knot) with two tails falling at an angle."""
    front = np.array([0.0, 0.0, 1.0])
    band = _collar_ring(1.378, 1.394, 0.0435, 0.0032)
    knot = sdf.ellipsoid((0.0, 1.38, 0.031), (0.0078, 0.0075, 0.005))
    loops = []
    for sx in (1.0, -1.0):
        outer = sdf.ellipsoid((0.0225 * sx, 1.3835, 0.029), (0.0198, 0.0097, 0.004), _rot_z(10.0 * sx))
        hole = sdf.ellipsoid((0.024 * sx, 1.3835, 0.033), (0.0128, 0.0044, 0.02), _rot_z(10.0 * sx))
        loops.append(sdf.subtract(outer, hole, k=0.0015))
    tail_l = _ribbon([(0.003, 1.374, 0.033), (0.013, 1.34, 0.05), (0.024, 1.302, 0.075)], 0.026, 0.0026, front)
    tail_r = _ribbon([(-0.003, 1.374, 0.033), (-0.011, 1.342, 0.05), (-0.021, 1.31, 0.071)], 0.024, 0.0026, front)
    bow = sdf.union(knot, *loops, k=0.004)
    field = sdf.union(band, sdf.union(bow, tail_l, tail_r, k=0.003), k=0.004)
    return Part("scarf", "scarf", field, (Piece(field, fixed("Chest")),), (-0.07, 1.27, -0.085), (0.07, 1.41, 0.085),
                0.0016, 2600)


def _rot_z(deg: float) -> F64:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _surface_z(field: Field, x: float, y: float) -> float:
    """Where the front of `field` is at (x, y): bisection along +z."""
    lo, hi = 0.0, 0.25
    for _ in range(40):
        mid = (lo + hi) / 2
        if field(np.array([[x, y, mid]]))[0] < 0:
            lo = mid
        else:
            hi = mid
    return lo


def badge() -> Part:
    torso = sdf.union(*(pc.field for pc in _torso_core()), k=0.04)
    x, y = 0.083, 1.262
    z = _surface_z(torso, x, y)
    n = sdf.gradient(torso, np.array([[x, y, z]]))[0]
    zaxis = n
    xaxis = np.cross((0.0, 1.0, 0.0), zaxis)
    xaxis /= np.linalg.norm(xaxis)
    yaxis = np.cross(zaxis, xaxis)
    rot = np.stack([xaxis, yaxis, zaxis], axis=1)  # local -> world
    c = np.array([x, y, z]) + n * 0.0062
    field = sdf.round_box(c, (0.024, 0.0075, 0.0022), 0.0016, rot)
    lo, hi = c - 0.03, c + 0.03
    return Part("badge", "badge", field, (Piece(field, fixed("Chest")),), (lo[0], lo[1], lo[2]), (hi[0], hi[1], hi[2]),
                0.0008, 500)


def trousers() -> Part:
    hips = Piece(sdf.ellipsoid((0.0, 0.935, -0.006), (0.137, 0.105, 0.093)), fixed("Hips"))
    pieces = [hips]
    for side, sx in (("Left", 1.0), ("Right", -1.0)):
        hip, knee, ankle = WORLD[f"{side}UpperLeg"], WORLD[f"{side}LowerLeg"], WORLD[f"{side}Foot"]
        t_knee = float(np.linalg.norm(knee - hip) / (np.linalg.norm(knee - hip) + np.linalg.norm(ankle - knee)))
        b = chain(hip, ankle, [(0.0, "Hips"), (0.07, f"{side}UpperLeg"), (t_knee, f"{side}LowerLeg")], blend=0.05)
        thigh_top = hip + np.array([0.008 * sx, 0.02, 0.0])
        pieces.append(Piece(sdf.capsule(thigh_top, knee, 0.071, 0.051), b))
        pieces.append(Piece(sdf.capsule(knee, ankle + np.array([0.0, -0.03, 0.0]), 0.051, 0.047), b))
    legs = [sdf.union(pieces[i].field, pieces[i + 1].field, k=0.012) for i in (1, 3)]
    body = sdf.union(pieces[0].field, sdf.union(*legs, k=0.0), k=0.03)
    hem = sdf.half_space((0.0, 0.058, 0.0), (0.0, 1.0, 0.0))
    field = sdf.subtract(body, hem, k=0.003)
    return Part("trousers", "trousers", field, tuple(pieces), (-0.18, 0.04, -0.13), (0.18, 1.05, 0.13), 0.006, 2800)


def shoes() -> Part:
    pieces = []
    for side, sx in (("Left", 1.0), ("Right", -1.0)):
        x = 0.092 * sx
        body = sdf.ellipsoid((x, 0.036, 0.032), (0.041, 0.04, 0.105))
        toe = sdf.ellipsoid((x + 0.002 * sx, 0.028, 0.085), (0.036, 0.028, 0.055))
        heel = sdf.round_box((x, 0.03, -0.048), (0.026, 0.03, 0.026), 0.01)
        pieces.append(Piece(sdf.union(body, toe, heel, k=0.015), fixed(f"{side}Foot")))
    ground = sdf.half_space((0.0, 0.0, 0.0), (0.0, 1.0, 0.0))
    field = sdf.subtract(sdf.union(*(p.field for p in pieces)), ground, k=0.002)
    return Part("shoes", "shoes", field, tuple(pieces), (-0.15, -0.01, -0.09), (0.15, 0.09, 0.16), 0.0035, 1000)


def _hand_pieces(side: str) -> list[Piece]:
    """A relaxed hand hanging at the side: palm towards the thigh, thumb forward, fingers gently curled."""
    sx = 1.0 if side == "Left" else -1.0
    wrist = WORLD[f"{side}Hand"]
    down = np.array([0.08 * sx, -1.0, 0.02])
    down /= np.linalg.norm(down)
    inward = np.array([-sx, 0.0, 0.0])  # the palm's normal
    inward -= down * (inward @ down)
    inward /= np.linalg.norm(inward)
    across = np.cross(down, inward) * -sx  # towards the thumb (+z)
    if across[2] < 0:
        across = -across
    rot = np.stack([inward, down, across], axis=1)
    b = chain(wrist, wrist + down * 0.17, [(0.0, f"{side}LowerArm"), (0.1, f"{side}Hand")], blend=0.08)
    pieces = [Piece(sdf.ellipsoid(wrist + down * 0.048 + inward * 0.002, (0.0155, 0.047, 0.037), rot), b),
              Piece(sdf.capsule(wrist - down * 0.02, wrist + down * 0.02, 0.026), b)]
    for off, length in ((-0.021, 0.056), (-0.007, 0.068), (0.007, 0.072), (0.021, 0.066)):
        knuckle = wrist + down * 0.088 + across * off * 0.95
        mid = knuckle + down * length * 0.55 + inward * 0.006
        tip = mid + down * length * 0.4 + inward * 0.014
        pieces.append(Piece(sdf.capsule(knuckle, mid, 0.0088, 0.008), b))
        pieces.append(Piece(sdf.capsule(mid, tip, 0.008, 0.0068), b))
    t0 = wrist + down * 0.03 + across * 0.026 + inward * 0.004
    t1 = t0 + down * 0.035 + across * 0.014 + inward * 0.012
    t2 = t1 + down * 0.03 + inward * 0.01
    pieces.append(Piece(sdf.capsule(t0, t1, 0.0115, 0.0095), b))
    pieces.append(Piece(sdf.capsule(t1, t2, 0.0095, 0.0078), b))
    return pieces


def hands() -> Part:
    from render_node.guide.character.materials import SKIN_SRGB, vertex_color

    pieces = _hand_pieces("Left") + _hand_pieces("Right")
    left = sdf.union(pieces[0].field, pieces[1].field, k=0.02)
    left = sdf.union(left, *(p.field for p in pieces[2:14]), k=0.007)
    n = len(pieces) // 2
    right = sdf.union(pieces[n].field, pieces[n + 1].field, k=0.02)
    right = sdf.union(right, *(p.field for p in pieces[n + 2 :]), k=0.007)
    field = sdf.union(left, right)
    skin = vertex_color(SKIN_SRGB)
    return Part("hands", "skin", field, tuple(pieces), (-0.3, 0.62, -0.08), (0.3, 0.87, 0.08), 0.0019, 3000,
                colors=lambda p: np.broadcast_to(skin, p.shape).copy())


def _strands(field: Field, origin: tuple[float, float, float], depth_m: float = 0.0007, count: int = 70) -> Field:
    """Fine grooves fanning out from the parting (strands catching the light), fading near it."""
    o = np.asarray(origin, np.float64)

    def f(p: F64) -> F64:
        q = p - o
        ang = np.arctan2(q[:, 0], q[:, 2] + 0.04)
        fade = sdf.smoothstep(0.015, 0.06, np.linalg.norm(q, axis=1))
        wave = np.sin(ang * count + 2.5 * np.sin(ang * 7.0))
        return np.asarray(field(p) + depth_m * fade * wave)

    return f


PART_X = 0.034
"""The side parting, on the character's left (design space of the head)."""


def hair() -> Part:
    """A chin-length bob in the head's design space (head.py): volume on the crown, a side parting, a fringe swept
    from the parting across the forehead to the right temple, the sides falling past the ears to the jaw line,
    longer at the front, the ends tapered and turned in, grooves for strands. The face is left open in an oval."""
    from render_node.guide.character.head import skin_field

    skin = skin_field()
    cap = sdf.ellipsoid((0.0, 1.566, -0.013), (0.087, 0.1, 0.1025))
    crown = sdf.ellipsoid((0.004, 1.606, -0.012), (0.082, 0.064, 0.096))
    fall = sdf.ellipsoid((0.0, 1.545, -0.024), (0.0915, 0.098, 0.1))
    volume = sdf.union(sdf.union(cap, crown, k=0.03), fall, k=0.035)
    face_oval = sdf.ellipsoid((0.0, 1.527, 0.118), (0.0655, 0.113, 0.15))

    def lower_edge(p: F64) -> F64:  # above the jaw line, longer towards the front; pointed clumps
        ang = np.arctan2(p[:, 0], p[:, 2] + 0.01)
        front = np.cos(ang)  # 1 at the face, -1 at the back
        edge = 1.478 - 0.011 * front - 0.004 * np.maximum(front, 0.0) ** 2
        clumps = 0.0045 * (0.5 + 0.5 * np.sin(ang * 11.0 + 1.3 * np.sin(ang * 5.0))) ** 3
        return np.asarray(edge - clumps - p[:, 1])

    def fringe_line(x: F64) -> F64:  # the fringe's edge, falling from the parting to the right temple
        line = 1.632 - 0.5 * np.clip(PART_X + 0.012 - x, 0.0, 0.12) * (1.0 - 1.4 * np.clip(PART_X - x, 0.0, 0.1))
        return np.asarray(np.where(x > PART_X + 0.012, 1.64, line))

    def hairline_fringe(p: F64) -> F64:  # thinning towards its edge, a few strands grooved along it
        above = p[:, 1] - fringe_line(p[:, 0])
        thick = 0.0032 + 0.0056 * sdf.smoothstep(-0.002, 0.03, above)
        grooves = 0.0008 * np.sin(above * (2.0 * np.pi / 0.011)) * sdf.smoothstep(0.002, 0.012, above)
        return np.asarray(skin(p) - thick + grooves)

    def fringe_region(p: F64) -> F64:  # above the edge, at the front
        return np.asarray(np.maximum(fringe_line(p[:, 0]) - p[:, 1], -p[:, 2] + 0.01) * 0.8)

    fringe = sdf.intersect(hairline_fringe, fringe_region, k=0.005)
    body = sdf.subtract(volume, face_oval, k=0.012)
    body = sdf.union(body, fringe, k=0.008)
    cheeks = sdf.intersect(sdf.offset(skin, 0.0035), sdf.half_space((0.0, 1.545, 0.0), (0.0, 1.0, 0.0)), k=0.01)
    neck_gap = sdf.capsule((0.0, 1.33, -0.02), (0.0, 1.49, -0.024), 0.045)
    body = sdf.intersect(body, lower_edge, k=0.007)
    body = sdf.subtract(body, cheeks, neck_gap, k=0.008)

    def taper(p: F64) -> F64:  # the ends thinner than the top
        return np.asarray(body(p) + 0.004 * sdf.smoothstep(1.53, 1.47, p[:, 1]))

    side_part = sdf.capsule((PART_X, 1.664, 0.07), (PART_X - 0.004, 1.672, -0.03), 0.0028)
    field = _strands(sdf.subtract(taper, side_part, k=0.003), (PART_X, 1.675, 0.02))
    return Part("hair", "hair", field, (Piece(field, fixed("Head")),), (-0.11, 1.44, -0.13), (0.11, 1.69, 0.12),
                0.0019, 5800, head_space=True)


def parts() -> list[Part]:
    return [jacket(), blouse(), scarf(), badge(), trousers(), shoes(), hands(), hair()]
