"""Jewellery at real size: rings (plain comfort-fit band; solitaire with a round brilliant), a bangle, a chain
bracelet, a chain necklace with a heart pendant, stud and drop earrings.

How each stands in the showcase (front = +Z, resting on Y = 0):
- rings stand upright, the finger hole facing the customer (ring axis = Z), the stone on top (+Y);
- the bangle and the bracelet lie flat on the counter (axis = Y);
- the necklace hangs in the XY plane with the pendant at the bottom, earrings hang side by side (a pair).

Ring sizes are set by the inner diameter; band and wire thicknesses are solved from the weight and density.
"""

from __future__ import annotations

import math

import numpy as np
import trimesh

from render_node.assets._mesh import (
    DENSITY_G_PER_CM3,
    F64,
    Part,
    double_heightfield_solid,
    merge,
    revolve,
    rotation,
    sweep_tube,
    torus_link,
)
from render_node.assets.gems import round_brilliant

MM = 1e-3


# ----------------------------------------------------------------------------------------------------------
# Bands (rings, bangle): revolved comfort-fit D profile
# ----------------------------------------------------------------------------------------------------------


def band_profile(
    inner_r: float, width: float, thickness: float, *, comfort: float = 0.12, n: int = 48
) -> F64:
    """Closed (radius, height) profile of a band, counter-clockwise: the inside is a gentle convex curve whose
    smallest radius is exactly `inner_r`; the outside is a rounded D."""
    h = np.linspace(-width / 2, width / 2, n)
    s = 2 * h / width
    inner = inner_r + comfort * thickness * s**2
    outer = inner_r + thickness * (0.35 + 0.65 * np.sqrt(np.clip(1 - s**2, 0, 1)) ** 0.8)
    # outside from bottom to top, then inside from top to bottom; rounded corners come from the sqrt shape
    pts = np.concatenate([np.stack([outer, h], 1)[1:-1], np.stack([inner[::-1], h[::-1]], 1)])
    result: F64 = pts
    return result


def _profile_volume(profile: F64) -> float:
    """Volume of revolution of a closed (r, h) polygon (Pappus: 2 pi x area x centroid radius)."""
    r, h = profile[:, 0], profile[:, 1]
    r1, h1 = np.roll(r, -1), np.roll(h, -1)
    cross = r * h1 - r1 * h
    area = cross.sum() / 2
    cr = ((r + r1) * cross).sum() / (6 * area)
    return float(abs(2 * math.pi * area * cr))


def solve_band_thickness(inner_r: float, width: float, volume_m3: float, comfort: float = 0.12) -> float:
    lo, hi = 0.05 * MM, 20 * MM
    for _ in range(60):
        mid = (lo + hi) / 2
        if _profile_volume(band_profile(inner_r, width, mid, comfort=comfort)) < volume_m3:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def band(
    inner_diameter_mm: float,
    width_mm: float,
    weight_g: float,
    purity: str,
    *,
    axis: str = "z",
    segments: int = 256,
) -> trimesh.Trimesh:
    inner_r = inner_diameter_mm * MM / 2
    width = width_mm * MM
    volume = weight_g / DENSITY_G_PER_CM3[purity] * 1e-6
    t = solve_band_thickness(inner_r, width, volume)
    return revolve(band_profile(inner_r, width, t), segments, axis=axis)


def plain_ring(inner_diameter_mm: float, weight_g: float, purity: str) -> list[Part]:
    return [Part(band(inner_diameter_mm, 2.5, weight_g, purity), "metal", "band", crease_deg=60.0)]


# ----------------------------------------------------------------------------------------------------------
# Stones and settings
# ----------------------------------------------------------------------------------------------------------


def prong_head(stone_d: float, girdle_y: float, base_y: float, prongs: int, base_r: float) -> trimesh.Trimesh:
    """Prongs rising from a small base circle to grip the stone over its girdle, with a basket ring."""
    parts = []
    for k in range(prongs):
        a = (k + 0.5) * 2 * math.pi / prongs
        ca, sa = math.cos(a), math.sin(a)
        t = np.linspace(0, 1, 14)
        r = base_r + (stone_d / 2 * 1.02 - base_r) * np.sin(t * math.pi / 2) ** 1.3
        y = base_y + (girdle_y + 0.14 * stone_d - base_y) * t
        r = np.where(t > 0.85, r - (t - 0.85) * stone_d * 0.6, r)  # the tip bends over the crown
        path = np.stack([r * ca, y, r * sa], 1)
        wire = 0.085 * stone_d
        parts.append(sweep_tube(path, wire, 10, closed=False))
        tip = trimesh.creation.icosphere(subdivisions=2, radius=wire * 1.15)
        tip.apply_translation(path[-1])
        parts.append(tip)
    ring_path = np.array(
        [
            (0.36 * stone_d * math.cos(a), girdle_y - 0.2 * stone_d, 0.36 * stone_d * math.sin(a))
            for a in np.linspace(0, 2 * math.pi, 48, endpoint=False)
        ]
    )
    parts.append(sweep_tube(ring_path, 0.05 * stone_d, 8))
    return merge(parts)


def solitaire_ring(
    inner_diameter_mm: float, weight_g: float, purity: str, stone_mm: float = 4.3
) -> list[Part]:
    """A six-prong solitaire: a 2 mm band, the head on top, the stone's table facing up."""
    shank = band(inner_diameter_mm, 2.0, weight_g * 0.82, purity)
    top_y = float(shank.bounds[1][1])
    girdle_y = top_y + 0.55 * stone_mm * MM
    head = prong_head(stone_mm * MM, girdle_y, top_y - 0.4 * MM, 6, 0.9 * MM)
    stone = round_brilliant(stone_mm)
    stone.apply_translation([0, girdle_y, 0])
    return [
        Part(shank, "metal", "shank", crease_deg=60.0),
        Part(head, "metal", "head", crease_deg=60.0),
        Part(stone, "gem", "stone", crease_deg=None),
    ]


# ----------------------------------------------------------------------------------------------------------
# Bangle and chains
# ----------------------------------------------------------------------------------------------------------


def bangle(inner_diameter_mm: float, weight_g: float, purity: str) -> list[Part]:
    """A solid D-section bangle 5 mm tall, lying flat."""
    inner_r = inner_diameter_mm * MM / 2
    width = 5.0 * MM
    volume = weight_g / DENSITY_G_PER_CM3[purity] * 1e-6
    t = solve_band_thickness(inner_r, width, volume, comfort=0.05)
    mesh = revolve(band_profile(inner_r, width, t, comfort=0.05), 320, axis="y")
    return [Part(mesh, "metal", "bangle", crease_deg=60.0)]


def _links_along(
    path: F64, closed: bool, link_len: float, wire_r: float, flatten: float = 1.0
) -> list[trimesh.Trimesh]:
    """Oval links laid along a polyline, each turned 90 degrees from the last (a cable chain)."""
    seg = np.linalg.norm(np.diff(np.vstack([path, path[:1]]) if closed else path, axis=0), axis=1)
    total = float(seg.sum())
    step = link_len - 2.2 * wire_r
    count = max(2, int(total / step))
    if closed and count % 2:
        count -= 1
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    pts = np.vstack([path, path[:1]]) if closed else path
    s = np.linspace(0, total, count, endpoint=not closed)
    centres = np.stack([np.interp(s, cum, pts[:, i]) for i in range(3)], 1)
    ahead = np.stack(
        [
            np.interp((s + 0.5) % total if closed else np.minimum(s + 0.5 * MM, total), cum, pts[:, i])
            for i in range(3)
        ],
        1,
    )
    behind = np.stack(
        [
            np.interp((s - 0.5) % total if closed else np.maximum(s - 0.5 * MM, 0), cum, pts[:, i])
            for i in range(3)
        ],
        1,
    )
    tangents = ahead - behind
    tangents /= np.linalg.norm(tangents, axis=1, keepdims=True)
    major = (link_len / 2 - wire_r) / 1.35
    proto = torus_link(major, wire_r, stretch=1.35, major_seg=14, minor_seg=6)
    proto.apply_transform(np.diag([1.0, flatten, 1.0, 1.0]))
    links = []
    for i, (c, t) in enumerate(zip(centres, tangents, strict=True)):
        # local link frame: X along the chain, Y the link's plane normal alternating between two sides
        ref = np.array([0.0, 0.0, 1.0]) if abs(t[2]) < 0.9 else np.array([0.0, 1.0, 0.0])
        side = np.cross(ref, t)
        side /= np.linalg.norm(side)
        up = np.cross(t, side)
        if i % 2:
            side, up = up, -side
        frame = np.eye(4)
        frame[:3, 0], frame[:3, 1], frame[:3, 2] = t, side, up
        frame[:3, 3] = c
        link = proto.copy()
        link.apply_transform(frame)
        links.append(link)
    return links


def _solve_wire(
    length_m: float, link_len: float, weight_g: float, purity: str, extra_m3: float = 0.0
) -> float:
    volume = max(weight_g / DENSITY_G_PER_CM3[purity] * 1e-6 - extra_m3, 1e-9)
    wire = 0.3 * MM
    for _ in range(8):
        step = link_len - 2.2 * wire
        count = length_m / step
        major = (link_len / 2 - wire) / 1.35
        perimeter = 2 * math.pi * major * math.sqrt((1 + 1.35**2) / 2)
        wire = math.sqrt(volume / (count * perimeter * math.pi))
    return wire


def bracelet(length_mm: float, weight_g: float, purity: str) -> list[Part]:
    """A chain bracelet closed in a circle on the counter, with a lobster clasp at the back."""
    length = length_mm * MM
    link_len = 5.2 * MM
    wire = _solve_wire(length, link_len, weight_g * 0.93, purity)
    radius = length / (2 * math.pi)
    a = np.linspace(0, 2 * math.pi, 720, endpoint=False)
    path = np.stack([radius * np.sin(a), np.full_like(a, 0.0), radius * np.cos(a)], 1)
    chain = merge(_links_along(path, True, link_len, wire, flatten=0.75))
    clasp = trimesh.creation.capsule(height=6 * MM, radius=1.4 * MM, count=[16, 12])
    clasp.apply_transform(rotation(math.pi / 2, "y"))
    clasp.apply_translation([0, 0, -radius])
    return [Part(chain, "metal", "chain", crease_deg=None), Part(clasp, "metal", "clasp", crease_deg=None)]


def _heart_radius(theta: F64, size: float) -> F64:
    t = np.linspace(0, 2 * math.pi, 720, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t) + 1.5
    ang = np.arctan2(y, x)
    r = np.hypot(x, y)
    order = np.argsort(ang)
    ang, r = ang[order], r[order]
    out: F64 = (
        np.interp(theta, np.concatenate([ang - 2 * math.pi, ang, ang + 2 * math.pi]), np.tile(r, 3))
        * size
        / 34
    )
    return out


def heart_pendant(size_mm: float, thickness_mm: float) -> trimesh.Trimesh:
    """A puffed heart, face +Z, tip down, centred near the origin."""
    size = size_mm * MM
    half_t = thickness_mm * MM / 2

    def outline(u: F64, v: F64) -> tuple[F64, F64]:
        cheb = np.maximum(np.abs(u), np.abs(v))
        theta = np.arctan2(-v, u)  # local -z becomes +y once stood up
        r = _heart_radius(theta, size) * cheb
        return r * np.cos(theta), -r * np.sin(theta)

    def puff(x: F64, z: F64) -> F64:
        theta = np.arctan2(-z, x)
        rho = np.hypot(x, z) / np.maximum(_heart_radius(theta, size), 1e-9)
        out: F64 = half_t * (0.25 + 0.75 * np.sqrt(np.clip(1 - rho**2, 0, 1)))
        return out

    def under(x: F64, z: F64) -> F64:
        out: F64 = -puff(x, z)
        return out

    mesh = double_heightfield_solid(outline, puff, under, (64, 64))
    mesh.apply_transform(rotation(math.pi / 2, "x"))
    return mesh


def necklace(length_mm: float, weight_g: float, purity: str) -> list[Part]:
    """A cable chain hanging as a loop in the XY plane with a heart pendant (set with a small stone) below."""
    length = length_mm * MM
    phi = np.linspace(0, 2 * math.pi, 900, endpoint=False)
    # a loop that narrows to a V where the pendant hangs (phi = 0 at the bottom)
    x = np.sin(phi) * (0.45 + 0.2 * (1 - np.cos(phi)) / 2)
    y = -np.cos(phi) * 0.62 + 0.08 * np.cos(2 * phi)
    curve = np.stack([x, y, np.zeros_like(x)], 1)
    perimeter = float(np.linalg.norm(np.diff(np.vstack([curve, curve[:1]]), axis=0), axis=1).sum())
    curve *= length / perimeter
    heart = heart_pendant(13.0, 2.4)
    heart_vol = abs(float(heart.volume))
    link_len = 3.0 * MM
    wire = _solve_wire(length, link_len, weight_g, purity, extra_m3=heart_vol)
    chain = merge(_links_along(curve, True, link_len, wire))
    bottom = curve[np.argmin(curve[:, 1])]
    bail = torus_link(1.3 * MM, 0.35 * MM, stretch=1.2, major_seg=20, minor_seg=8)
    bail.apply_transform(rotation(math.pi / 2, "y"))
    bail.apply_transform(rotation(math.pi / 2, "x"))
    bail_centre = bottom + np.array([0, -1.3 * MM, 0])
    bail.apply_translation(bail_centre)
    heart_top = float(heart.bounds[1][1])
    heart.apply_translation(bail_centre + np.array([0, -1.4 * MM - heart_top, 0]))
    stone = round_brilliant(2.4)
    stone.apply_transform(rotation(math.pi / 2, "x"))
    stone_centre = heart.bounds.mean(axis=0) + np.array([0, 1.0 * MM, heart.extents[2] / 2 - 0.2 * MM])
    stone.apply_translation(stone_centre)
    return [
        Part(chain, "metal", "chain", crease_deg=None),
        Part(merge([bail, heart]), "metal", "pendant", crease_deg=60.0),
        Part(stone, "gem", "stone", crease_deg=None),
    ]


# ----------------------------------------------------------------------------------------------------------
# Earrings (pairs)
# ----------------------------------------------------------------------------------------------------------


def stud_earrings(stone_mm: float = 3.0) -> list[Part]:
    """A pair of four-prong studs facing the customer, posts and backs behind."""
    metal, stones = [], []
    for side in (-1, 1):  # one mesh per stone: the renderer traces light inside each one's own facets
        head = prong_head(stone_mm * MM, 0.0, -0.9 * stone_mm * MM, 4, 0.6 * MM)
        head.apply_transform(rotation(math.pi / 2, "x"))
        stone = round_brilliant(stone_mm)
        stone.apply_transform(rotation(math.pi / 2, "x"))
        post = trimesh.creation.cylinder(radius=0.4 * MM, height=10 * MM, sections=16)
        post.apply_translation([0, 0, -5 * MM])
        back = revolve(
            np.array([(0.5, -0.5), (2.0, -0.4), (2.2, 0.0), (2.0, 0.6), (0.5, 0.8)], dtype=np.float64) * MM,
            40,
            axis="z",
        )
        back.apply_translation([0, 0, -6.5 * MM])
        offset = np.array([side * 7 * MM, 0, 0])
        for m in (head, post, back):
            m.apply_translation(offset)
            metal.append(m)
        stone.apply_translation(offset)
        stones.append(stone)
    return [
        Part(merge(metal), "metal", "studs", crease_deg=60.0),
        *(Part(stone, "gem", f"stone-{i}", crease_deg=None) for i, stone in enumerate(stones)),
    ]


def drop_earrings(weight_g: float, purity: str) -> list[Part]:
    """A pair of hook earrings with polished teardrops."""
    parts = []
    t = np.linspace(0, 1, 64)
    drop_len = 14 * MM
    r = (
        3.0
        * MM
        * np.sin(t * math.pi) ** 0.9
        * (1 - 0.55 * (1 - t) ** 3)
        * np.where(t > 0.5, 1, (t / 0.5) ** 0.35)
    )
    r = np.maximum(r, 1e-5)
    profile = np.stack([r, -t * drop_len], 1)[::-1]
    for side in (-1, 1):
        drop = revolve(np.vstack([[1e-5, -drop_len], profile[1:-1], [1e-5, 0.0]]), 96, axis="y")
        drop.apply_translation([0, -3.0 * MM, 0])
        u = np.linspace(0, 1, 60)
        hook = np.stack(
            [
                np.zeros_like(u),
                6 * MM * np.sin(u * math.pi * 1.15) + 2 * MM * u,
                -7 * MM * (1 - np.cos(u * math.pi * 1.15)) / 2,
            ],
            1,
        )
        wire = sweep_tube(hook, 0.4 * MM, 10, closed=False)
        ring = torus_link(1.2 * MM, 0.35 * MM, major_seg=20, minor_seg=8)
        ring.apply_transform(rotation(math.pi / 2, "y"))
        ring.apply_translation([0, -1.5 * MM, 0])
        piece = merge([drop, wire, ring])
        piece.apply_translation([side * 9 * MM, 0, 0])
        parts.append(piece)
    return [Part(merge(parts), "metal", "drops", crease_deg=60.0)]


def measure_inner_diameter_mm(mesh: trimesh.Trimesh, axis: int = 2) -> float:
    """The largest circle around the ring axis that no vertex enters (the finger's size)."""
    v = np.asarray(mesh.vertices)
    other = [i for i in range(3) if i != axis]
    centre = v[:, other].mean(axis=0)
    radial = np.linalg.norm(v[:, other] - centre, axis=1)
    return float(2 * radial.min() / MM)
