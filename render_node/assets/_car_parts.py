"""What is added to a car's body: lamps, intakes and screens projected onto the shell, wheels, mirrors, rails.

Lamps and screens are bands projected onto the shell and lifted a few millimetres off it (smooth outlines, no
z-fighting). Wheels have tyres, rims with spokes and brake discs.
"""

from __future__ import annotations

import math

import numpy as np
import trimesh

from render_node.assets._car_body import PROUD_M, plan_half_width
from render_node.assets._car_spec import CarSpec, curve
from render_node.assets._mesh import F64, Part, grid_faces, merge, revolve, rotation, sweep_tube


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


def lamps(spec: CarSpec, shell: trimesh.Trimesh) -> list[Part]:
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
        lights.append(_decal(shell, centre, up, half, ahead, PROUD_M))
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
    tails.append(_decal(shell, centre, up, bar, back, PROUD_M))
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


def wheel(spec: CarSpec, side: int) -> list[Part]:
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


def mirrors(spec: CarSpec) -> list[Part]:
    s = spec.windshield[1] - 0.01
    belt = float(curve(spec.belt, np.array([s]))[0])
    w = float(plan_half_width(spec, np.array([s]))[0])
    meshes = []
    for side in (-1, 1):
        shell = trimesh.creation.icosphere(subdivisions=3, radius=1.0)
        shell.apply_scale([0.11, 0.065, 0.07])
        shell.apply_translation([side * (w + 0.07), belt + 0.1, (s - 0.5) * spec.length_m - 0.05])
        stalk = trimesh.creation.box([0.09, 0.03, 0.05])
        stalk.apply_translation([side * (w + 0.0), belt + 0.07, (s - 0.5) * spec.length_m - 0.03])
        meshes += [shell, stalk]
    return [Part(merge(meshes), "paint", "mirrors", crease_deg=50.0)]


def roof_rails(spec: CarSpec) -> Part:
    s = np.linspace(0.14, 0.6, 40)
    roof = curve(spec.roof, s) + 0.045
    cabin_w = curve(spec.cabin_half_width, s)
    belt = curve(spec.belt, s)
    rails = []
    for side in (-1, 1):
        x = side * (cabin_w - spec.tumblehome * (roof - belt) - 0.12)
        path = np.stack([x, roof, (s - 0.5) * spec.length_m], 1)
        rails.append(sweep_tube(path, 0.018, 10, closed=False))
    return Part(merge(rails), "chrome", "roof-rails", crease_deg=60.0)
