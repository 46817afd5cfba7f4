"""Cars at real size: a lofted body (smooth curved sections along the length, wheel arches, a cabin with
tumblehome), glass, head and tail lights, grille and sills, wheels with tyres, rims and brake discs, mirrors.

The body is a loft of cross-sections: at each station along the car (s = 0 at the tail, 1 at the nose) the
section is built from side-view curves (underside with wheel arches, beltline/hood line, roof line) and
plan-view curves (body half-width, cabin half-width); near nose and tail each section shrinks towards its own
centre, so the ends are blunt faces with rounded edges. Faces take their material from where they sit: window
openings are glass, pillars black trim, the lowest band black trim. Lamps, intakes and the SUV's tailgate
screen are separate bands projected onto the shell and lifted a few millimetres off it (smooth outlines, no
z-fighting). The cabin interior is the shell inset 5 cm. Front = +Z, wheels on Y = 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import trimesh

from render_node.assets._mesh import F64, Part, grid_faces, merge, revolve, rotation, sweep_tube

Curve = tuple[tuple[float, float], ...]
"""Control points (s, value) of a side- or plan-view curve, s in [0, 1] from tail to nose."""


@dataclass(frozen=True)
class CarSpec:
    length_m: float
    width_m: float
    wheelbase_m: float
    front_axle_s: float
    wheel_radius_m: float
    rim_radius_m: float
    tyre_width_m: float
    track_m: float
    underside: Curve
    belt: Curve
    roof: Curve
    """Roof line; where it is at or below the beltline there is no cabin."""
    cabin_half_width: Curve
    windshield: tuple[float, float]
    """s range of the windscreen (top, base)."""
    rear_window: tuple[float, float]
    """s range of the rear screen (base, top)."""
    side_windows: tuple[float, float]
    pillars: tuple[float, ...]
    """s of the B (and C) pillars between side windows."""
    cladding: bool = False
    roof_rails: bool = False
    spokes: int = 5
    nose_round_m: float = 0.34
    tail_round_m: float = 0.26
    tumblehome: float = 0.09
    """How far the side glass leans in, per metre of glass height."""
    tailgate_glass: bool = False
    """The rear screen is an upright tailgate window (an SUV) rather than part of a sloping roof."""


def _curve(points: Curve, s: F64) -> F64:
    xs, ys = zip(*points, strict=True)
    # smooth interpolation through the control points (monotone cubic)
    from scipy.interpolate import PchipInterpolator

    out: F64 = PchipInterpolator(np.array(xs), np.array(ys))(np.clip(s, 0, 1))
    return out


SEDAN = CarSpec(
    length_m=4.85,
    width_m=1.88,
    wheelbase_m=2.90,
    front_axle_s=0.80,
    wheel_radius_m=0.345,
    rim_radius_m=0.24,
    tyre_width_m=0.245,
    track_m=1.60,
    underside=((0.0, 0.34), (0.04, 0.25), (0.12, 0.17), (0.5, 0.15), (0.9, 0.17), (0.97, 0.23), (1.0, 0.30)),
    belt=(
        (0.0, 0.82),
        (0.05, 0.94),
        (0.2, 0.97),
        (0.5, 0.94),
        (0.7, 0.91),
        (0.85, 0.86),
        (0.95, 0.80),
        (1.0, 0.72),
    ),
    roof=(
        (0.0, 0.7),
        (0.08, 0.96),
        (0.16, 1.02),
        (0.3, 1.36),
        (0.45, 1.46),
        (0.58, 1.42),
        (0.68, 1.12),
        (0.715, 0.86),
        (0.76, 0.55),
        (1.0, 0.3),
    ),
    cabin_half_width=((0.0, 0.6), (0.2, 0.66), (0.45, 0.72), (0.65, 0.74), (0.75, 0.8), (1.0, 0.8)),
    windshield=(0.575, 0.705),
    rear_window=(0.17, 0.33),
    side_windows=(0.3, 0.655),
    pillars=(0.47,),
)

SUV = CarSpec(
    length_m=4.72,
    width_m=1.93,
    wheelbase_m=2.81,
    front_axle_s=0.79,
    wheel_radius_m=0.37,
    rim_radius_m=0.245,
    tyre_width_m=0.255,
    track_m=1.64,
    underside=((0.0, 0.40), (0.04, 0.30), (0.1, 0.23), (0.5, 0.21), (0.9, 0.23), (0.97, 0.30), (1.0, 0.38)),
    belt=(
        (0.0, 1.02),
        (0.06, 1.12),
        (0.2, 1.12),
        (0.5, 1.07),
        (0.7, 1.05),
        (0.82, 1.03),
        (0.95, 0.99),
        (1.0, 0.9),
    ),
    roof=(
        (0.0, 1.0),
        (0.012, 1.40),
        (0.05, 1.60),
        (0.14, 1.67),
        (0.45, 1.70),
        (0.62, 1.665),
        (0.705, 1.30),
        (0.745, 1.02),
        (0.8, 0.6),
        (1.0, 0.4),
    ),
    cabin_half_width=((0.0, 0.76), (0.1, 0.77), (0.45, 0.79), (0.65, 0.79), (0.75, 0.84), (1.0, 0.84)),
    windshield=(0.61, 0.735),
    rear_window=(0.002, 0.032),
    side_windows=(0.075, 0.69),
    pillars=(0.43, 0.185),
    cladding=True,
    roof_rails=True,
    spokes=6,
    nose_round_m=0.26,
    tail_round_m=0.2,
    tumblehome=0.16,
    tailgate_glass=True,
)


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


def _plan_half_width(spec: CarSpec, s: F64) -> F64:
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


_PROUD_M = 0.009
"""How far lamp lenses stand off the shell (the bezels and screens sit closer)."""


def _loft(
    spec: CarSpec, s: F64, *, inset_m: float = 0.0, closed: bool = True
) -> tuple[trimesh.Trimesh, _Section, int]:
    """The body surface (or, inset, the cabin's dark interior): sections at stations `s`, capped at both
    ends. Returns the mesh (faces of the grid first, station-major), the section layout and the ring size."""
    w = _plan_half_width(spec, s) - inset_m
    yb = _arches(spec, s, _curve(spec.underside, s)) + 2 * inset_m
    belt = _curve(spec.belt, s) - inset_m
    roof = _curve(spec.roof, s) - inset_m
    cabin_w = _curve(spec.cabin_half_width, s) - inset_m
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
    z = (s - 0.5) * (spec.length_m - 2 * _PROUD_M)  # lamps stand proud of the ends: keep the overall length
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


def _body(spec: CarSpec) -> tuple[list[Part], trimesh.Trimesh]:
    """The painted shell with its glass, window trim and black lower band; also the whole shell (for
    projecting lamps onto it)."""
    s = _stations(300)
    stations = len(s)
    body, layout, m = _loft(spec, s)
    k = layout.count
    belt = _curve(spec.belt, s)
    roof = _curve(spec.roof, s)
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


def _project(surface: trimesh.Trimesh, points: F64, direction: F64, lift_m: float) -> F64:
    """Drops `points (n, 3)` along `direction` onto the first face of `surface` they meet, then lifts them
    `lift_m` off it along that face's normal (a decal that neither sinks in nor z-fights). Points that miss
    keep their place."""
    d = direction / np.linalg.norm(direction)
    up = np.array([0.0, 1.0, 0.0]) if abs(d[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = np.cross(up, d)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(d, e1)
    facing = np.nonzero(surface.face_normals @ d < -1e-3)[0]
    tri = np.asarray(surface.triangles)[facing]
    tu, tv, td = tri @ e1, tri @ e2, tri @ d  # (m, 3) each
    lo_u, hi_u, lo_v, hi_v = tu.min(1), tu.max(1), tv.min(1), tv.max(1)
    qu, qv = points @ e1, points @ e2
    out = points.copy()
    for start in range(0, len(points), 128):
        sl = slice(start, start + 128)
        cand = (
            (qu[sl, None] >= lo_u) & (qu[sl, None] <= hi_u) & (qv[sl, None] >= lo_v) & (qv[sl, None] <= hi_v)
        )
        qi, ti = np.nonzero(cand)
        if len(qi) == 0:
            continue
        px, py = qu[sl][qi], qv[sl][qi]
        x0, y0 = tu[ti, 0], tv[ti, 0]
        x1, y1 = tu[ti, 1] - x0, tv[ti, 1] - y0
        x2, y2 = tu[ti, 2] - x0, tv[ti, 2] - y0
        det = x1 * y2 - x2 * y1
        ok = np.abs(det) > 1e-12
        det = np.where(ok, det, 1.0)
        b1 = ((px - x0) * y2 - (py - y0) * x2) / det
        b2 = ((py - y0) * x1 - (px - x0) * y1) / det
        inside = ok & (b1 >= -1e-9) & (b2 >= -1e-9) & (b1 + b2 <= 1 + 1e-9)
        depth = td[ti, 0] + b1 * (td[ti, 1] - td[ti, 0]) + b2 * (td[ti, 2] - td[ti, 0])
        depth = np.where(inside, depth, np.inf)
        best = np.full(len(range(*sl.indices(len(points)))), np.inf)
        best_t = np.full(len(best), -1)
        order = np.argsort(-depth)  # write the nearest (smallest depth) last
        best[qi[order]] = depth[order]
        best_t[qi[order]] = ti[order]
        hit = np.isfinite(best)
        idx = np.arange(start, start + len(best))[hit]
        n = surface.face_normals[facing[best_t[hit]]]
        out[idx] = np.outer(qu[idx], e1) + np.outer(qv[idx], e2) + np.outer(best[hit], d) + lift_m * n
    return out


def _decal(
    surface: trimesh.Trimesh,
    centre: F64,
    across: F64,
    half_height_m: F64,
    direction: F64,
    lift_m: float,
    rows: int = 9,
) -> trimesh.Trimesh:
    """A band along the polyline `centre (n, 3)`, `half_height_m (n,)` to either side along `across`,
    projected onto `surface` along `direction`: lamps, intakes and screens with smooth outlines."""
    v = np.linspace(-1, 1, rows)
    pts = centre[:, None, :] + v[None, :, None] * half_height_m[:, None, None] * across[None, None, :]
    flat = pts.reshape(-1, 3)
    lifted = _project(surface, flat, direction, lift_m)
    mesh = trimesh.Trimesh(lifted, grid_faces(len(centre), rows), process=False)
    if (mesh.face_normals @ direction).mean() > 0:
        mesh.invert()
    mesh.update_faces(mesh.nondegenerate_faces())
    return mesh


def _lens(t: F64, power: float) -> F64:
    """0 at t = 0 and 1, 1 in the middle: superelliptic ends (power 2 = round, higher = squarer)."""
    out: F64 = np.clip(1 - np.abs(2 * t - 1) ** power, 0, 1) ** (1 / power)
    return out


def _lamps(spec: CarSpec, shell: trimesh.Trimesh) -> list[Part]:
    """Head lamps, a lower intake with a chrome lip, and a full-width tail-lamp bar with a dark band."""
    v = np.asarray(shell.vertices)
    z_front, z_rear = float(v[:, 2].max()), float(v[:, 2].min())
    front = v[v[:, 2] > z_front - 0.12]
    rear = v[v[:, 2] < z_rear + 0.12]
    f_lo, f_hi = float(front[:, 1].min()), float(front[:, 1].max())
    r_lo, r_hi = float(rear[:, 1].min()), float(rear[:, 1].max())
    f_w = float(np.abs(front[:, 0]).max())
    r_w = float(np.abs(rear[:, 0]).max())
    ahead, back = np.array([0.0, 0.0, -1.0]), np.array([0.0, 0.0, 1.0])
    up = np.array([0.0, 1.0, 0.0])
    t = np.linspace(0, 1, 48)
    lights, trims, chromes, tails = [], [], [], []
    tall = spec.tailgate_glass
    for side in (-1, 1):
        # head lamp: a slim blade, higher and a little thicker at its outer end
        x = side * (0.36 + t * (f_w - 0.1 - 0.36))
        y = f_lo + (f_hi - f_lo) * ((0.66 if tall else 0.7) + 0.08 * t)
        half = (0.045 if tall else 0.032) * _lens(t, 3.0) * (0.75 + 0.35 * t)
        centre = np.stack([x, y, np.full_like(x, z_front + 1.0)], 1)
        lights.append(_decal(shell, centre, up, half, ahead, _PROUD_M))
        # a dark bezel round the lens, a little longer and taller, so the lamp's outline reads on any paint
        x2 = side * (0.33 + t * (f_w - 0.07 - 0.33))
        bezel = np.stack([x2, y, centre[:, 2]], 1)
        trims.append(_decal(shell, bezel, up, half * 1.15 + 0.014 * _lens(t, 3.0), ahead, 0.005))
    # lower intake: a wide rounded slot, with a chrome lip above it
    x = (t - 0.5) * 2 * (f_w * (0.62 if tall else 0.58))
    y = f_lo + (f_hi - f_lo) * (0.3 if tall else 0.28) - 0.03 * (2 * t - 1) ** 2
    centre = np.stack([x, y, np.full_like(x, z_front + 1.0)], 1)
    trims.append(_decal(shell, centre, up, (0.1 if tall else 0.075) * _lens(t, 5.0), ahead, 0.005))
    lip = centre + np.array([0.0, (0.115 if tall else 0.09), 0.0])
    chromes.append(_decal(shell, lip * np.array([0.9, 1.0, 1.0]), up, 0.008 * _lens(t, 4.0), ahead, 0.007, 3))
    # tail: one light bar across the back, with a dark band under it for the plate and reflectors
    x = (t - 0.5) * 2 * (r_w - 0.06)
    y = r_lo + (r_hi - r_lo) * (0.52 if tall else 0.68) + 0.015 * (1 - (2 * t - 1) ** 2)
    centre = np.stack([x, y, np.full_like(x, z_rear - 1.0)], 1)
    bar = 0.022 * _lens(t, 6.0) + 0.014 * np.abs(2 * t - 1) ** 4
    tails.append(_decal(shell, centre, up, bar, back, _PROUD_M))
    trims.append(_decal(shell, centre, up, bar + 0.01 * _lens(t, 8.0), back, 0.005))
    band = centre + np.array([0.0, -(0.2 if tall else 0.17), 0.0])
    trims.append(_decal(shell, band * np.array([0.5, 1.0, 1.0]), up, 0.055 * _lens(t, 6.0), back, 0.005))
    parts = [
        Part(merge(lights), "light", "head-lamps", crease_deg=60.0),
        Part(merge(tails), "taillight", "tail-lamps", crease_deg=60.0),
        Part(merge(trims), "trim", "intakes", crease_deg=60.0),
        Part(merge(chromes), "chrome", "lips", crease_deg=60.0),
    ]
    if tall:  # the tailgate's screen, above the light bar
        y_glass = r_lo + (r_hi - r_lo) * 0.79
        x = (t - 0.5) * 2 * (r_w - 0.22)
        centre = np.stack([x, np.full_like(x, y_glass), np.full_like(x, z_rear - 1.0)], 1)
        half = (r_hi - r_lo) * 0.13 * _lens(t, 6.0)
        parts.append(Part(_decal(shell, centre, up, half, back, 0.005, 13), "glass", "tailgate-glass", 70.0))
    return parts


def _wheel(spec: CarSpec, side: int) -> list[Part]:
    """A wheel at the origin, axis X, its outer face towards `side` (+1 = +X)."""
    r, rim_r, tw = spec.wheel_radius_m, spec.rim_radius_m, spec.tyre_width_m
    # tyre section: a rounded rectangle (superellipse) from the rim to the tread
    half_r, half_w = (r - rim_r) / 2 + 0.01, tw / 2
    centre_r = rim_r - 0.01 + half_r
    t = np.linspace(0, 2 * math.pi, 40, endpoint=False)
    c, sn = np.cos(t), np.sin(t)
    profile = np.stack(
        [centre_r + half_r * np.sign(c) * np.abs(c) ** 0.4, half_w * np.sign(sn) * np.abs(sn) ** 0.4], 1
    )
    tyre = revolve(profile, 96, axis="x")
    # rim: barrel + spokes + hub, outer face flush with the tyre's sidewall
    face_x = tw / 2 - 0.03
    barrel = revolve(
        np.array(
            [
                (rim_r, -tw / 2 + 0.03),
                (rim_r + 0.012, face_x),
                (rim_r - 0.02, face_x + 0.008),
                (rim_r - 0.025, -tw / 2 + 0.03),
            ]
        ),
        72,
        axis="x",
    )
    spokes = []
    for k in range(spec.spokes):
        ang = k * 2 * math.pi / spec.spokes
        for twin in (-0.09, 0.09):
            a0 = ang + twin
            p0 = np.array([face_x - 0.005, 0.07 * math.cos(ang), 0.07 * math.sin(ang)])
            p1 = np.array([face_x - 0.02, (rim_r - 0.02) * math.cos(a0), (rim_r - 0.02) * math.sin(a0)])
            path = np.linspace(p0, p1, 8)
            path[:, 0] += 0.012 * np.sin(np.linspace(0, math.pi, 8))
            spokes.append(sweep_tube(path, 0.017, 8, closed=False))
    hub = trimesh.creation.cylinder(radius=0.08, height=0.05, sections=32)
    hub.apply_transform(rotation(math.pi / 2, "y"))
    hub.apply_translation([face_x - 0.02, 0, 0])
    disc = trimesh.creation.cylinder(radius=rim_r - 0.04, height=0.03, sections=48)
    disc.apply_transform(rotation(math.pi / 2, "y"))
    disc.apply_translation([-0.02, 0, 0])
    caliper = trimesh.creation.box([0.06, 0.14, 0.07])
    caliper.apply_translation([0.0, rim_r * 0.55, -rim_r * 0.5])
    parts = [
        Part(tyre, "tyre", "tyre", crease_deg=60.0),
        Part(merge([barrel, *spokes, hub]), "rim", "rim", crease_deg=45.0),
        Part(disc, "chrome", "brake-disc", crease_deg=45.0),
        Part(caliper, "trim", "caliper", crease_deg=30.0),
    ]
    if side < 0:
        flip = np.diag([-1.0, 1.0, 1.0, 1.0])
        for p in parts:
            p.mesh.apply_transform(flip)  # trimesh re-winds faces when a transform mirrors
    return parts


def car(spec: CarSpec) -> list[Part]:
    parts, shell = _body(spec)
    parts += _lamps(spec, shell)
    axles = (spec.front_axle_s, spec.front_axle_s - spec.wheelbase_m / spec.length_m)
    wheel_x = spec.track_m / 2
    for axle_s, axle in zip(axles, ("front", "rear"), strict=True):
        z = (axle_s - 0.5) * spec.length_m
        for side in (-1, 1):
            # facing forward (+Z) with +Y up, the car's left is +X
            where = f"{axle}-{'left' if side > 0 else 'right'}"
            for p in _wheel(spec, side):
                p.mesh.apply_translation([side * wheel_x, spec.wheel_radius_m, z])
                parts.append(Part(p.mesh, p.material, f"{p.name}-{where}", p.crease_deg))
    # cabin interior: the shell inset a few centimetres, dark, so the eye does not see through the glass
    # (an inset copy cannot poke out through the screens or pillars)
    s_in = np.linspace(spec.rear_window[0] - 0.04, spec.windshield[1] + 0.04, 60)
    inner, _, _ = _loft(spec, np.clip(s_in, 0.03, 0.97), inset_m=0.05)
    parts.append(Part(inner, "interior", "interior", crease_deg=30.0))
    parts += _mirrors(spec)
    if spec.roof_rails:
        parts.append(_roof_rails(spec))
    return parts


def _mirrors(spec: CarSpec) -> list[Part]:
    s = spec.windshield[1] - 0.01
    belt = float(_curve(spec.belt, np.array([s]))[0])
    w = float(_plan_half_width(spec, np.array([s]))[0])
    meshes = []
    for side in (-1, 1):
        shell = trimesh.creation.icosphere(subdivisions=3, radius=1.0)
        shell.apply_scale([0.11, 0.065, 0.07])
        shell.apply_translation([side * (w + 0.07), belt + 0.1, (s - 0.5) * spec.length_m - 0.05])
        stalk = trimesh.creation.box([0.09, 0.03, 0.05])
        stalk.apply_translation([side * (w + 0.0), belt + 0.07, (s - 0.5) * spec.length_m - 0.03])
        meshes += [shell, stalk]
    return [Part(merge(meshes), "paint", "mirrors", crease_deg=50.0)]


def _roof_rails(spec: CarSpec) -> Part:
    s = np.linspace(0.14, 0.6, 40)
    roof = _curve(spec.roof, s) + 0.045
    cabin_w = _curve(spec.cabin_half_width, s)
    belt = _curve(spec.belt, s)
    rails = []
    for side in (-1, 1):
        x = side * (cabin_w - spec.tumblehome * (roof - belt) - 0.12)
        path = np.stack([x, roof, (s - 0.5) * spec.length_m], 1)
        rails.append(sweep_tube(path, 0.018, 10, closed=False))
    return Part(merge(rails), "chrome", "roof-rails", crease_deg=60.0)
