"""Cars at real size: a lofted body (smooth curved sections along the length, wheel arches, a cabin with
tumblehome), glass, head and tail lights, grille and sills, wheels with tyres, rims and brake discs, mirrors.

The body is a loft of cross-sections: at each station along the car (s = 0 at the tail, 1 at the nose) the
section is built from side-view curves (underside with wheel arches, beltline/hood line, roof line) and
plan-view curves (body half-width, cabin half-width). Faces take their material from where they sit: window
openings are glass, lamps are lights, the lowest band is black trim. Front = +Z, wheels on Y = 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
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
    underside=((0.0, 0.36), (0.04, 0.25), (0.12, 0.17), (0.5, 0.15), (0.9, 0.17), (0.97, 0.24), (1.0, 0.34)),
    belt=(
        (0.0, 0.80),
        (0.05, 0.93),
        (0.2, 0.97),
        (0.5, 0.93),
        (0.7, 0.90),
        (0.85, 0.83),
        (0.95, 0.74),
        (1.0, 0.60),
    ),
    roof=(
        (0.0, 0.7),
        (0.08, 0.96),
        (0.16, 1.02),
        (0.3, 1.36),
        (0.45, 1.46),
        (0.58, 1.42),
        (0.68, 1.12),
        (0.74, 0.88),
        (1.0, 0.5),
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
    underside=((0.0, 0.42), (0.04, 0.30), (0.1, 0.22), (0.5, 0.21), (0.9, 0.23), (0.97, 0.32), (1.0, 0.42)),
    belt=(
        (0.0, 1.0),
        (0.04, 1.06),
        (0.2, 1.08),
        (0.5, 1.06),
        (0.7, 1.04),
        (0.82, 1.0),
        (0.95, 0.94),
        (1.0, 0.80),
    ),
    roof=(
        (0.0, 1.0),
        (0.01, 1.45),
        (0.035, 1.64),
        (0.1, 1.69),
        (0.45, 1.70),
        (0.62, 1.66),
        (0.71, 1.28),
        (0.76, 1.02),
        (1.0, 0.7),
    ),
    cabin_half_width=((0.0, 0.8), (0.1, 0.78), (0.45, 0.78), (0.65, 0.78), (0.75, 0.84), (1.0, 0.84)),
    windshield=(0.61, 0.725),
    rear_window=(0.002, 0.032),
    side_windows=(0.06, 0.685),
    pillars=(0.43, 0.18),
    cladding=True,
    roof_rails=True,
    spokes=6,
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


def _section_points(w: float, yb: float, belt: float, roof: float, cabin_w: float) -> tuple[F64, _Section]:
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
        bulge = 0.012 * math.sin(t * math.pi)
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
    roof_w = cabin_w - 0.09 * (top - belt) if cabin else base_w
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
    """Body half-width in plan view: full width amidships, rounded towards nose and tail."""
    u = np.clip(2 * s - 1, -1, 1)
    out: F64 = spec.width_m / 2 * np.clip(1 - np.abs(u) ** 7, 0, 1) ** (1 / 3.2)
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


def _body(spec: CarSpec) -> list[Part]:
    stations = 300
    u = np.linspace(0, 1, stations)
    s = 0.5 - 0.5 * np.cos(u * math.pi)  # denser at nose and tail
    s = 0.6 * s + 0.4 * u
    w = np.maximum(_plan_half_width(spec, s), 1e-3)
    yb = _arches(spec, s, _curve(spec.underside, s))
    belt = _curve(spec.belt, s)
    roof = _curve(spec.roof, s)
    cabin_w = _curve(spec.cabin_half_width, s)
    sections = []
    layout: _Section | None = None
    for i in range(stations):
        pts, layout = _section_points(
            float(w[i]), float(yb[i]), float(belt[i]), float(roof[i]), float(cabin_w[i])
        )
        sections.append(pts)
    assert layout is not None
    half = np.array(sections)  # (stations, k, 2)
    k = half.shape[1]
    # full ring: right half, then the left half mirrored (without repeating the centre points)
    left = half[:, -2:0:-1].copy()
    left[..., 0] *= -1
    ring = np.concatenate([half, left], axis=1)
    m = ring.shape[1]
    z = (s - 0.5) * spec.length_m
    verts = np.stack([ring[..., 0], ring[..., 1], np.broadcast_to(z[:, None], ring.shape[:2])], -1).reshape(
        -1, 3
    )
    faces = grid_faces(stations, m, closed_cols=True)
    # nose and tail caps: fans around each end ring
    caps: list[list[float]] = []
    for idx, flip in ((0, True), (stations - 1, False)):
        centre = ring[idx].mean(axis=0)
        c = len(verts) + len(caps)
        caps.append([centre[0], centre[1], z[idx]])
        j = np.arange(m)
        tri = np.stack([np.full(m, c), idx * m + j, idx * m + (j + 1) % m], 1)
        faces = np.vstack([faces, tri[:, ::-1] if flip else tri])
    verts = np.vstack([verts, np.array(caps)])
    # material of each face, from the station and the point index of its first corner
    n_grid = (stations - 1) * m
    cell = np.arange(n_grid) % ((stations - 1) * m)
    station = np.concatenate([np.arange(stations - 1).repeat(m)] * 2)
    point = np.concatenate([np.tile(np.arange(m), stations - 1)] * 2)
    j_half = np.where(point < k, point, m - point)  # index along the right half for both sides
    sc = s[station] + 0.5 * (s[np.minimum(station + 1, stations - 1)] - s[station])
    del cell
    label = np.full(len(station), "paint", dtype=object)
    face_pts = verts[faces[: len(station)]].mean(axis=1)
    ax = np.abs(face_pts[:, 0])
    y = face_pts[:, 1]
    in_window = np.isin(j_half, list(layout.window)[1:-1])
    in_roof = np.isin(j_half, list(layout.roof))
    cabin_here = roof[station] > belt[station] + 0.05
    side_glass = in_window & cabin_here & (sc > spec.side_windows[0]) & (sc < spec.side_windows[1])
    for p in spec.pillars:
        side_glass &= np.abs(sc - p) > 0.014
    screens = (in_window | in_roof) & (
        ((sc > spec.windshield[0]) & (sc < spec.windshield[1]))
        | ((sc > spec.rear_window[0]) & (sc < spec.rear_window[1]))
    )
    label[side_glass | screens] = "glass"
    label[
        in_window
        & cabin_here
        & ~side_glass
        & ~screens
        & (sc > spec.rear_window[0])
        & (sc < spec.windshield[1])
    ] = "trim"
    window_frame = np.isin(j_half, [layout.window[0], layout.window[-1]]) & cabin_here
    window_frame &= (sc > spec.side_windows[0]) & (sc < spec.side_windows[1])
    label[window_frame & ~screens] = "chrome"
    low = np.isin(j_half, list(layout.bottom) + list(layout.side)[:4])
    label[low] = "trim"
    belt_f = belt[station]
    yb_f = yb[station]
    head = (sc > 0.965) & (y > belt_f - 0.16) & (y < belt_f - 0.06) & (ax > 0.25)
    tail = (sc < 0.03) & (y > belt_f - 0.14) & (y < belt_f - 0.06)
    grille = (sc > 0.975) & (y < yb_f + 0.22) & (y > yb_f + 0.05) & (ax < 0.55)
    label[head] = "light"
    label[tail] = "taillight"
    label[grille] = "trim"
    if spec.cladding:
        arches = yb_f > _curve(spec.underside, sc) + 0.05
        label[(y < yb_f + 0.12) | (arches & (y < yb_f + 0.1))] = "trim"
    cap_faces = len(faces) - len(station)
    label = np.concatenate([label, np.full(cap_faces, "paint", dtype=object)])
    body = trimesh.Trimesh(verts, faces, process=False)
    outward = ((body.triangles_center - body.bounds.mean(axis=0)) * body.face_normals).sum(axis=1)
    if (outward > 0).mean() < 0.5:  # the loft's winding depends on the section order: face outwards
        body.invert()
    parts = []
    for material in ("paint", "glass", "chrome", "trim", "light", "taillight"):
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
    return parts


def _wheel(spec: CarSpec, side: int) -> list[Part]:
    """A wheel at the origin, axis X, its outer face towards `side` (+1 = +X)."""
    r, rim_r, tw = spec.wheel_radius_m, spec.rim_radius_m, spec.tyre_width_m
    # tyre section: a rounded rectangle (superellipse) from the rim to the tread
    half_r, half_w = (r - rim_r) / 2 + 0.01, tw / 2
    centre_r = rim_r - 0.01 + half_r
    t = np.linspace(0, 2 * math.pi, 48, endpoint=False)
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
    parts = _body(spec)
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
    # underbody and cabin interior: dark masses that stop the eye from seeing through the body
    rear_z = (axles[1] - 0.5) * spec.length_m
    front_z = (axles[0] - 0.5) * spec.length_m
    inner_w = spec.track_m - spec.tyre_width_m - 0.06
    under_top = float(_curve(spec.belt, np.array([0.5]))[0]) - 0.15
    floor = trimesh.creation.box(
        [inner_w, under_top - 0.16, front_z - rear_z + 2 * spec.wheel_radius_m + 0.4]
    )
    floor.apply_translation([0, 0.16 + (under_top - 0.16) / 2, (front_z + rear_z) / 2])
    s_mid = np.array([(spec.side_windows[0] + spec.side_windows[1]) / 2])
    roof_mid = float(_curve(spec.roof, s_mid)[0])
    cabin_len = (spec.side_windows[1] - spec.side_windows[0]) * spec.length_m
    cabin = trimesh.creation.box(
        [
            2 * float(_curve(spec.cabin_half_width, s_mid)[0]) - 0.2,
            roof_mid - under_top - 0.12,
            cabin_len * 0.95,
        ]
    )
    cabin.apply_translation(
        [0, under_top + (roof_mid - under_top - 0.12) / 2, (s_mid[0] - 0.5) * spec.length_m]
    )
    parts.append(Part(merge([floor, cabin]), "interior", "interior", crease_deg=30.0))
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
        x = side * (cabin_w - 0.09 * (roof - belt) - 0.12)
        path = np.stack([x, roof, (s - 0.5) * spec.length_m], 1)
        rails.append(sweep_tube(path, 0.018, 10, closed=False))
    return Part(merge(rails), "chrome", "roof-rails", crease_deg=60.0)
