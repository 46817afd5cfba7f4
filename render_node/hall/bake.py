"""Baked light for the hall: direct light from the ceiling's area lights with shadows, plus ambient occlusion
times an ambient term, per vertex, in numpy (no GL).

Per vertex `p` with normal `n` the radiance it sends back is `albedo * (E_direct + E_ambient) / pi`:
- `E_direct` sums, over each light's sample points `s` (a grid on the panel, each sample `A / k` of its area), the
  light's radiance `L * A/k * cos_p * cos_l / r^2`, where `cos_p = n . (s - p) / r` and `cos_l` is the cosine at
  the (downward-facing) panel; a sample counts only when the segment `p -> s` is not blocked by an occluder
  (ray/AABB slab tests and ray/cylinder tests, vectorised);
- `E_ambient / pi` is the mean, over cosine-weighted hemisphere rays (a fixed set turned into each vertex's
  frame, so that neighbouring vertices agree and the result is smooth), of an ambient radiance by direction
  (what the first pass says the floor, walls and ceiling send back), counted in full for rays that travel
  `ao_distance_m` unblocked and by `occluded_weight` for the others (what a near occluder reflects).

Vertices are processed in spatial clusters; each cluster tests only the occluders that lie in the box spanned
by the cluster and the light (or the cluster grown by the AO distance), which keeps the work small.

Arrays: `points (n, 3)`, `normals (n, 3)`, `albedo (n, 3)` float64, linear RGB; results `(n, 3)` linear.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

_EPS = 1e-5
_NUDGE_M = 0.004
"""Ray origins start this far off the surface, along its normal (no self-shadowing)."""


@dataclass(frozen=True)
class AreaLight:
    """A rectangular panel facing down (-Y): centre, size along X and Z, radiance (linear RGB)."""

    center_m: tuple[float, float, float]
    size_m: tuple[float, float]
    radiance: tuple[float, float, float]


@dataclass(frozen=True)
class Occluders:
    """What blocks light: axis-aligned boxes `(b, 3)` min/max and vertical cylinders `(c, 5)`:
    centre x, centre z, radius, bottom y, top y."""

    box_min: F64
    box_max: F64
    cylinders: F64

    @classmethod
    def of(
        cls,
        boxes: Iterable[tuple[Sequence[float], Sequence[float]]],
        cylinders: Iterable[tuple[float, float, float, float, float]] = (),
    ) -> Occluders:
        bx = [(tuple(lo), tuple(hi)) for lo, hi in boxes]
        lo = np.array([b[0] for b in bx], np.float64).reshape(-1, 3)
        hi = np.array([b[1] for b in bx], np.float64).reshape(-1, 3)
        cyl = np.array(list(cylinders), np.float64).reshape(-1, 5)
        return cls(lo, hi, cyl)

    def within(self, lo: F64, hi: F64) -> Occluders:
        """The occluders that overlap the box `lo..hi` (the others cannot block a segment inside it)."""
        keep = np.all((self.box_min <= hi) & (self.box_max >= lo), axis=1)
        c = self.cylinders
        keep_c = (
            (c[:, 0] + c[:, 2] >= lo[0]) & (c[:, 0] - c[:, 2] <= hi[0]) & (c[:, 1] + c[:, 2] >= lo[2])
            & (c[:, 1] - c[:, 2] <= hi[2]) & (c[:, 3] <= hi[1]) & (c[:, 4] >= lo[1])
        )  # fmt: skip
        return Occluders(self.box_min[keep], self.box_max[keep], c[keep_c])

    def __len__(self) -> int:
        return len(self.box_min) + len(self.cylinders)


@dataclass(frozen=True)
class BakeParams:
    """The knobs of the bake (part of the hall's fingerprint)."""

    light_sample_spacing_m: float = 0.45
    max_light_samples: int = 24
    ao_rays: int = 32
    ao_distance_m: float = 1.5
    occluded_weight: float = 0.1
    """Share of the ambient light a blocked AO ray still brings (the near occluder is lit too)."""
    bounce_gain: float = 1.35
    """Multi-bounce: the one-bounce ambient estimate times this."""
    cluster_m: float = 1.5


DEFAULT_PARAMS = BakeParams()


# -- ray tests -------------------------------------------------------------------------------------------------


def segments_blocked(origins: F64, deltas: F64, occ: Occluders) -> B:
    """For origins `(n, 3)` and segment vectors `deltas (n, m, 3)`: `(n, m)` True where the segment
    `o + t d, t in (0, 1)` meets an occluder. An origin inside a box counts as blocked."""
    n, m = deltas.shape[:2]
    hit = np.zeros((n, m), bool)
    if len(occ.box_min):
        d = deltas.astype(np.float32)
        d[np.abs(d) < 1e-9] = 1e-9
        inv = 1.0 / d  # (n, m, 3)
        o = origins.astype(np.float32)[:, None, None, :]  # (n, 1, 1, 3)
        t0 = (occ.box_min.astype(np.float32)[None, None] - o) * inv[:, :, None, :]  # (n, m, b, 3)
        t1 = (occ.box_max.astype(np.float32)[None, None] - o) * inv[:, :, None, :]
        near = np.minimum(t0, t1).max(axis=-1)
        far = np.maximum(t0, t1).min(axis=-1)
        hit |= ((near <= far) & (far > _EPS) & (near < 1 - _EPS)).any(axis=-1)
    for cx, cz, r, y0, y1 in occ.cylinders:
        hit |= _cylinder_hit(origins, deltas, cx, cz, r, y0, y1)
    return hit


def _cylinder_hit(o: F64, d: F64, cx: float, cz: float, r: float, y0: float, y1: float) -> B:
    ox = (o[:, 0] - cx)[:, None]
    oz = (o[:, 2] - cz)[:, None]
    oy = o[:, 1][:, None]
    dx, dy, dz = d[..., 0], d[..., 1], d[..., 2]
    a = dx * dx + dz * dz
    b = 2 * (ox * dx + oz * dz)
    c = ox * ox + oz * oz - r * r
    disc = b * b - 4 * a * c
    flat = a < 1e-12
    sq = np.sqrt(np.maximum(disc, 0))
    a_safe = np.where(flat, 1.0, a)
    t_in = np.where(flat, -np.inf, (-b - sq) / (2 * a_safe))
    t_out = np.where(flat, np.inf, (-b + sq) / (2 * a_safe))
    radial = np.where(flat, c < 0, disc >= 0)
    dy_safe = np.where(np.abs(dy) < 1e-12, 1e-12, dy)
    ty0, ty1 = (y0 - oy) / dy_safe, (y1 - oy) / dy_safe
    near = np.maximum(t_in, np.minimum(ty0, ty1))
    far = np.minimum(t_out, np.maximum(ty0, ty1))
    out: B = radial & (near <= far) & (far > _EPS) & (near < 1 - _EPS)
    return out


# -- sampling --------------------------------------------------------------------------------------------------


def light_samples(light: AreaLight, spacing_m: float, max_samples: int) -> tuple[F64, float]:
    """A stratified grid of points on the panel `(k, 3)` and the area each stands for (m^2)."""
    w, d = light.size_m
    nx = max(1, math.ceil(w / spacing_m))
    nz = max(1, math.ceil(d / spacing_m))
    while nx * nz > max_samples:
        if nx >= nz and nx > 1:
            nx -= 1
        elif nz > 1:
            nz -= 1
        else:
            break
    fx = ((np.arange(nx) + 0.5) / nx - 0.5) * w
    fz = ((np.arange(nz) + 0.5) / nz - 0.5) * d
    gx, gz = np.meshgrid(fx, fz, indexing="ij")
    cx, cy, cz = light.center_m
    pts = np.stack([cx + gx.ravel(), np.full(nx * nz, cy), cz + gz.ravel()], axis=1)
    return pts, w * d / (nx * nz)


def hemisphere_directions(count: int) -> F64:
    """Cosine-weighted directions about +Z `(count, 3)` (a Hammersley set: even, deterministic)."""
    i = np.arange(count, dtype=np.float64)
    u = (i + 0.5) / count
    bits = np.array([_radical_inverse(int(k)) for k in range(count)])
    phi = 2 * np.pi * bits
    r = np.sqrt(u)
    out: F64 = np.stack([r * np.cos(phi), r * np.sin(phi), np.sqrt(np.maximum(1 - u, 0))], axis=1)
    return out


def _radical_inverse(k: int) -> float:
    inv, f = 0.0, 0.5
    while k:
        inv += f * (k & 1)
        k >>= 1
        f *= 0.5
    return inv


def tangent_frames(normals: F64) -> tuple[F64, F64]:
    """Two unit tangents per normal, chosen only from the normal (equal normals get equal frames)."""
    ref = np.where((np.abs(normals[:, 1]) < 0.9)[:, None], np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0]))
    t = np.cross(ref, normals)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    b = np.cross(normals, t)
    return t, b


def _clusters(points: F64, size_m: float) -> list[npt.NDArray[np.intp]]:
    keys = np.floor(points / size_m).astype(np.int64)
    _, inverse = np.unique(keys, axis=0, return_inverse=True)
    order = np.argsort(inverse.ravel(), kind="stable")
    bounds = np.flatnonzero(np.diff(inverse.ravel()[order])) + 1
    return list(np.split(order, bounds))


# -- the bake --------------------------------------------------------------------------------------------------


def direct_light(
    points: F64, normals: F64, lights: Sequence[AreaLight], occ: Occluders, params: BakeParams | None = None
) -> F64:
    """Irradiance `E / pi` from the area lights, with shadows: `(n, 3)` (times albedo = radiance sent back)."""
    params = params or DEFAULT_PARAMS
    out = np.zeros((len(points), 3))
    origins = points + normals * _NUDGE_M
    clusters = [(idx, origins[idx], normals[idx]) for idx in _clusters(points, params.cluster_m)]
    bounds = [(o.min(axis=0), o.max(axis=0)) for _, o, _ in clusters]
    for light in lights:
        samples, area = light_samples(light, params.light_sample_spacing_m, params.max_light_samples)
        lo_l, hi_l = samples.min(axis=0), samples.max(axis=0)
        rad = np.asarray(light.radiance, np.float64)
        for (idx, o, n), (lo, hi) in zip(clusters, bounds, strict=True):
            d = samples[None, :, :] - o[:, None, :]  # (k, s, 3)
            r2 = np.maximum(np.einsum("ksi,ksi->ks", d, d), 1e-4)
            r = np.sqrt(r2)
            cos_p = np.einsum("ksi,ki->ks", d, n) / r
            cos_l = d[..., 1] / r  # the panel faces -Y: light leaves downwards, towards points below it
            w = np.maximum(cos_p, 0) * np.maximum(cos_l, 0) / r2
            rows = np.flatnonzero((w > 0).any(axis=1))
            if not len(rows):
                continue
            local = occ.within(np.minimum(lo, lo_l), np.maximum(hi, hi_l))
            if len(local):
                blocked = segments_blocked(o[rows], d[rows], local)
                w[rows] = np.where(blocked, 0.0, w[rows])
            out[idx] += (w.sum(axis=1) * area / np.pi)[:, None] * rad[None, :]
    return out


def ambient_visibility(points: F64, normals: F64, occ: Occluders, params: BakeParams | None = None) -> F64:
    """Per vertex and AO ray `(n, rays)`: 1.0 where the ray travels `ao_distance_m` unblocked, else 0.0.
    The rays' world directions are `ambient_directions(normals, params)`."""
    params = params or DEFAULT_PARAMS
    dirs = ambient_directions(normals, params)
    vis = np.ones((len(points), params.ao_rays))
    origins = points + normals * _NUDGE_M
    reach = params.ao_distance_m
    for idx in _clusters(points, params.cluster_m):
        o = origins[idx]
        local = occ.within(o.min(axis=0) - reach, o.max(axis=0) + reach)
        if len(local):
            vis[idx] = 1.0 - segments_blocked(o, dirs[idx] * reach, local)
    return vis


def ambient_occlusion(points: F64, normals: F64, occ: Occluders, params: BakeParams | None = None) -> F64:
    """The cosine-weighted share of the hemisphere that is open within `ao_distance_m`: `(n,)` in 0..1."""
    out: F64 = ambient_visibility(points, normals, occ, params).mean(axis=1)
    return out


def ambient_directions(normals: F64, params: BakeParams | None = None) -> F64:
    """The AO rays of each vertex in world space `(n, rays, 3)`."""
    params = params or DEFAULT_PARAMS
    local = hemisphere_directions(params.ao_rays)
    t, b = tangent_frames(normals)
    frames = np.stack([t, b, normals], axis=1)  # (n, 3 axes, 3)
    out: F64 = np.einsum("ri,nij->nrj", local, frames)
    return out


@dataclass(frozen=True)
class AmbientSky:
    """Radiance arriving from above (the ceiling), the sides (walls) and below (the floor), linear RGB."""

    up: tuple[float, float, float]
    side: tuple[float, float, float]
    down: tuple[float, float, float]

    def radiance(self, directions: F64) -> F64:
        """`(..., 3)` directions -> `(..., 3)` radiance, blended smoothly by the directions' height."""
        y = directions[..., 1]
        w_up = _smooth(0.15, 0.75, y)
        w_down = _smooth(-0.15, -0.75, y)
        w_side = 1 - w_up - w_down
        up, side, down = (np.asarray(v, np.float64) for v in (self.up, self.side, self.down))
        out: F64 = w_up[..., None] * up + w_side[..., None] * side + w_down[..., None] * down
        return out


def _smooth(e0: float, e1: float, x: F64) -> F64:
    t = np.clip((x - e0) / (e1 - e0), 0, 1)
    out: F64 = t * t * (3 - 2 * t)
    return out


def sky_from_first_bounce(normals: F64, radiance: F64, weights: F64 | None = None) -> AmbientSky:
    """What the floor (upward normals), walls and ceiling (downward) send back on average after direct light."""
    w = np.ones(len(normals)) if weights is None else weights
    ny = normals[:, 1]

    def mean(mask: B) -> tuple[float, float, float]:
        if not mask.any():
            return (0.0, 0.0, 0.0)
        m = (radiance[mask] * w[mask, None]).sum(axis=0) / max(float(w[mask].sum()), 1e-9)
        return (float(m[0]), float(m[1]), float(m[2]))

    return AmbientSky(up=mean(ny < -0.5), side=mean(np.abs(ny) <= 0.5), down=mean(ny > 0.5))


def ambient_light(
    points: F64, normals: F64, occ: Occluders, sky: AmbientSky, params: BakeParams | None = None
) -> F64:
    """Irradiance `E / pi` of the ambient term with occlusion: `(n, 3)`."""
    params = params or DEFAULT_PARAMS
    vis = ambient_visibility(points, normals, occ, params)
    rad = sky.radiance(ambient_directions(normals, params))  # (n, rays, 3)
    weight = vis + (1 - vis) * params.occluded_weight
    out: F64 = (rad * weight[..., None]).mean(axis=1) * params.bounce_gain
    return out


def bake_vertices(
    points: F64,
    normals: F64,
    albedo: F64,
    lights: Sequence[AreaLight],
    occ: Occluders,
    params: BakeParams | None = None,
    *,
    area_weights: F64 | None = None,
) -> tuple[F64, F64]:
    """Direct + ambient light per vertex. Returns `(irradiance / pi, radiance)`, both `(n, 3)` linear: the first
    is the light falling on the vertex (for textured surfaces, whose texture holds the albedo), the second that
    light times `albedo`."""
    direct = direct_light(points, normals, lights, occ, params)
    sky = sky_from_first_bounce(normals, direct * albedo, area_weights)
    light = direct + ambient_light(points, normals, occ, sky, params)
    return light, light * albedo
