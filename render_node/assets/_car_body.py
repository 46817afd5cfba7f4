"""The car's body: a loft of cross-sections along the length, with wheel arches and a cabin with tumblehome.

At each station (s = 0 at the tail, 1 at the nose) the section comes from the side-view curves (underside with
arches, beltline, roof) and plan-view curves (body and cabin half-width); near nose and tail each section
shrinks towards its own centre. Faces take their material from where they sit: window openings are glass,
pillars black trim, the lowest band black trim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import trimesh

from render_node.assets._car_spec import CarSpec, curve
from render_node.assets._mesh import F64, Part, grid_faces


@dataclass(frozen=True)
class _Section:
    """Indices of the section's segments (points along the right half, bottom centre to roof centre)."""

    bottom: range
    side: range
    shoulder: range
    window: range
    roof: range
    count: int


def _section_points(
    w: float, yb: float, belt: float, roof: float, cabin_w: float, tumblehome: float = 0.09
) -> tuple[F64, _Section]:
    """Right half of one cross-section, from the bottom centre (x = 0) round to the roof centre."""
    pts: list[tuple[float, float]] = []
    rb = min(0.12, max(0.02, (belt - yb) * 0.3))
    # bottom: centre to the start of the lower corner
    for t in np.linspace(0, 1, 6, endpoint=False):
        pts.append((t * (w - rb), yb))
    n_bottom = len(pts)
    # lower corner arc + side with a slight outward bulge, up to below the shoulder
    for a in np.linspace(-math.pi / 2, 0, 6, endpoint=False):
        pts.append((w - rb + rb * math.cos(a), yb + rb + rb * math.sin(a)))
    side_top = belt - 0.07 * (belt - yb) / 0.8
    for t in np.linspace(0, 1, 22, endpoint=False):
        y = yb + rb + t * (side_top - yb - rb)
        # a gentle outward bow, and a soft character line high on the flank that catches the light
        bulge = 0.012 * math.sin(t * math.pi) + 0.008 * math.exp(-(((t - 0.8) / 0.07) ** 2))
        pts.append((w + bulge, y))
    n_side = len(pts)
    # shoulder: rolls inwards to the base of the glass
    cabin = roof > belt + 0.02
    base_w = min(cabin_w + 0.03, w - 0.04) if cabin else w - 0.04
    for a in np.linspace(0, math.pi / 2, 8, endpoint=False):
        pts.append((base_w + (w - base_w) * math.cos(a), side_top + (belt - side_top) * math.sin(a)))
    n_shoulder = len(pts)
    # window: from the beltline up to the roof edge, leaning in (tumblehome)
    top = max(roof, belt + 1e-4)
    rr = min(0.09, (top - belt) * 0.35) if cabin else 0.0
    roof_w = cabin_w - tumblehome * (top - belt) if cabin else base_w
    for t in np.linspace(0, 1, 10, endpoint=False):
        pts.append((base_w + t * (roof_w - base_w), belt + t * (top - rr - belt)))
    n_window = len(pts)
    # roof edge arc and roof with a crown, to the centre line
    for a in np.linspace(0, math.pi / 2, 6, endpoint=False):
        pts.append((roof_w - rr + rr * math.cos(a), top - rr + rr * math.sin(a)))
    crown = 0.03 if cabin else 0.05
    for t in np.linspace(0, 1, 9):
        x = (roof_w - rr) * (1 - t)
        pts.append((x, top + crown * (1 - (1 - t) ** 2)))
    sec = _Section(
        bottom=range(0, n_bottom),
        side=range(n_bottom, n_side),
        shoulder=range(n_side, n_shoulder),
        window=range(n_shoulder, n_window),
        roof=range(n_window, len(pts)),
        count=len(pts),
    )
    return np.array(pts), sec


def plan_half_width(spec: CarSpec, s: F64) -> F64:
    """Body half-width in plan view: full width amidships, easing in a little towards nose and tail (the
    ends themselves are rounded by `_end_scale`)."""
    u = np.clip(2 * s - 1, -1, 1)
    out: F64 = spec.width_m / 2 * (1 - 0.07 * np.abs(u) ** 4 - 0.05 * np.abs(u) ** 12)
    return out


def _end_scale(spec: CarSpec, s: F64) -> F64:
    """How much each section shrinks towards its own centre near the nose and the tail: a superelliptic
    quarter-round, so that the ends are blunt faces with rounded edges, not points."""
    z = s * spec.length_m
    d_front = (spec.length_m - z) / spec.nose_round_m
    d_tail = z / spec.tail_round_m
    d = np.clip(np.minimum(d_front, d_tail), 0, 1)
    f_min = 0.5
    out: F64 = f_min + (1 - f_min) * (1 - (1 - d) ** 2.4) ** (1 / 2.4)
    return out


def _arches(spec: CarSpec, s: F64, yb: F64) -> F64:
    z = s * spec.length_m
    out = yb.copy()
    arch_r = spec.wheel_radius_m + 0.045
    for axle_s in (spec.front_axle_s, spec.front_axle_s - spec.wheelbase_m / spec.length_m):
        dz = z - axle_s * spec.length_m
        inside = np.abs(dz) < arch_r
        arch = spec.wheel_radius_m + np.sqrt(np.clip(arch_r**2 - dz**2, 0, None))
        out = np.where(inside, np.maximum(out, arch), out)
    return out


PROUD_M = 0.009
"""How far lamp lenses stand off the shell (the bezels and screens sit closer)."""


def loft(
    spec: CarSpec, s: F64, *, inset_m: float = 0.0, closed: bool = True
) -> tuple[trimesh.Trimesh, _Section, int]:
    """The body surface (or, inset, the cabin's dark interior): sections at stations `s`, capped at both
    ends. Returns the mesh (faces of the grid first, station-major), the section layout and the ring size."""
    w = plan_half_width(spec, s) - inset_m
    yb = _arches(spec, s, curve(spec.underside, s)) + 2 * inset_m
    belt = curve(spec.belt, s) - inset_m
    roof = curve(spec.roof, s) - inset_m
    cabin_w = curve(spec.cabin_half_width, s) - inset_m
    sections = []
    layout: _Section | None = None
    for i in range(len(s)):
        pts, layout = _section_points(
            float(w[i]), float(yb[i]), float(belt[i]), float(roof[i]), float(cabin_w[i]), spec.tumblehome
        )
        sections.append(pts)
    assert layout is not None
    half = np.array(sections)  # (stations, k, 2)
    if inset_m == 0.0:
        f = _end_scale(spec, s)[:, None]
        mid_y = 0.5 * (half[..., 1].min(axis=1) + half[..., 1].max(axis=1))[:, None]
        half[..., 0] *= f
        half[..., 1] = mid_y + (half[..., 1] - mid_y) * f
    stations = len(s)
    # full ring: right half, then the left half mirrored (without repeating the centre points)
    left = half[:, -2:0:-1].copy()
    left[..., 0] *= -1
    ring = np.concatenate([half, left], axis=1)
    m = ring.shape[1]
    z = (s - 0.5) * (spec.length_m - 2 * PROUD_M)  # lamps stand proud of the ends: keep the overall length
    verts = np.stack([ring[..., 0], ring[..., 1], np.broadcast_to(z[:, None], ring.shape[:2])], -1).reshape(
        -1, 3
    )
    faces = grid_faces(stations, m, closed_cols=True)
    # the loft's winding depends on the section order: make the grid face outwards (raw cross products)
    if (_outward(verts, faces, verts.mean(axis=0)) > 0).mean() < 0.5:
        faces = faces[:, ::-1]
    if closed:  # nose and tail caps: fans around each end ring (blunt, nearly flat faces)
        caps: list[list[float]] = []
        for idx, axis in ((0, -1.0), (stations - 1, 1.0)):
            centre = ring[idx].mean(axis=0)
            c = len(verts) + len(caps)
            caps.append([centre[0], centre[1], z[idx]])
            j = np.arange(m)
            tri = np.stack([np.full(m, c), idx * m + j, idx * m + (j + 1) % m], 1)
            apex = np.array([centre[0], centre[1], z[idx]])
            b, d = verts[tri[:, 1]], verts[tri[:, 2]]
            if np.cross(b - apex, d - apex)[:, 2].sum() * axis < 0:
                tri = tri[:, ::-1]
            faces = np.vstack([faces, tri])
        verts = np.vstack([verts, np.array(caps)])
    mesh = trimesh.Trimesh(verts, faces, process=False)
    return mesh, layout, m


def _outward(verts: F64, faces: npt.NDArray[np.int64], centre: F64) -> F64:
    """How much each face's (unnormalised) normal points away from `centre`."""
    t = verts[faces]
    n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    out: F64 = ((t.mean(axis=1) - centre) * n).sum(axis=1)
    return out


def _stations(count: int) -> F64:
    u = np.linspace(0, 1, count)
    s = 0.5 - 0.5 * np.cos(u * math.pi)  # denser at nose and tail
    out: F64 = 0.6 * s + 0.4 * u
    return out


def body_parts(spec: CarSpec) -> tuple[list[Part], trimesh.Trimesh]:
    """The painted shell with its glass, window trim and black lower band; also the whole shell (for
    projecting lamps onto it)."""
    s = _stations(300)
    stations = len(s)
    body, layout, m = loft(spec, s)
    k = layout.count
    belt = curve(spec.belt, s)
    roof = curve(spec.roof, s)
    # material of each face, from the station and the point index of its first corner
    station = np.concatenate([np.arange(stations - 1).repeat(m)] * 2)
    point = np.concatenate([np.tile(np.arange(m), stations - 1)] * 2)
    j_half = np.where(point < k, point, m - point)  # index along the right half for both sides
    sc = s[station] + 0.5 * (s[np.minimum(station + 1, stations - 1)] - s[station])
    label = np.full(len(station), "paint", dtype=object)
    in_window = np.isin(j_half, list(layout.window)[1:-1])
    cabin_here = roof[station] > belt[station] + 0.05
    side_glass = in_window & cabin_here & (sc > spec.side_windows[0]) & (sc < spec.side_windows[1])
    for p in spec.pillars:
        side_glass &= np.abs(sc - p) > 0.014
    screen_s = (sc > spec.windshield[0]) & (sc < spec.windshield[1])
    if not spec.tailgate_glass:
        screen_s |= (sc > spec.rear_window[0]) & (sc < spec.rear_window[1])
    # the screens span the roof between its rounded edges; beside them the pillars stay solid
    screens = np.isin(j_half, list(layout.roof)[5:]) & screen_s
    label[side_glass | screens] = "glass"
    label[
        in_window
        & cabin_here
        & ~side_glass
        & ~screens
        & (sc > (spec.side_windows[0] - 0.012 if spec.tailgate_glass else spec.rear_window[0]))
        & (sc < spec.windshield[1])
    ] = "trim"
    window_frame = np.isin(j_half, [layout.window[0], layout.window[-1]]) & cabin_here
    window_frame &= (sc > spec.side_windows[0]) & (sc < spec.side_windows[1])
    label[window_frame & ~screens] = "chrome"
    low = np.isin(j_half, list(layout.bottom) + list(layout.side)[:4])
    label[low] = "trim"
    if spec.cladding:  # rugged black cladding along the sills and round the arches, along grid rows
        label[np.isin(j_half, list(layout.bottom) + list(layout.side)[:10])] = "trim"
    cap_faces = len(body.faces) - len(station)
    label = np.concatenate([label, np.full(cap_faces, "paint", dtype=object)])
    parts = []
    for material in ("paint", "glass", "chrome", "trim"):
        mask = label == material
        if not mask.any():
            continue
        sub = body.submesh([np.nonzero(mask)[0]], append=True)
        assert isinstance(sub, trimesh.Trimesh)
        sub.merge_vertices()
        sub.update_faces(sub.nondegenerate_faces())
        sub.remove_unreferenced_vertices()
        parts.append(
            Part(sub, material, f"body-{material}", crease_deg=50.0 if material != "glass" else 70.0)
        )
    return parts, body
