"""Velvet's sheen baked into the hall's vertex colours (docs/hall.md, "Velvet"): the KHR_materials_sheen lobe of the
renderer's PBR shader (Charlie, Estevez & Kulla 2017, as glsl_lobes.py and glsl_lights.py evaluate it), in numpy,
lit by the bake's area lights (with their shadows) and its ambient light, seen from the customer's place in front of
the showcase. The hall is unlit (one vertex colour a pixel), so the sheen is that of a fixed viewer: it brightens the
trays where that viewer sees them at grazing angles (their far edge and ends), not as the viewer walks.

Arrays: `points`, `normals`, `eyes` `(n, 3)`; light `(n, 3)` linear (irradiance / pi, as `bake.py`'s)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from render_node.hall.bake import (
    DEFAULT_PARAMS,
    AreaLight,
    BakeParams,
    Occluders,
    light_samples,
    segments_blocked,
)

F64 = npt.NDArray[np.float64]

VIEWER_EYE_Y_M = 1.6
"""The customer's eye height for the baked sheen."""
VIEWER_EAST_M = 0.7
"""How far east of a tray's east edge the customer stands (the customer's side of every showcase and the stand)."""


@dataclass(frozen=True)
class Sheen:
    """KHR_materials_sheen's factors: the sheen colour (linear) and roughness."""

    color: tuple[float, float, float]
    roughness: float


def sheen_albedo(nv: F64, rough: float) -> F64:
    """Directional albedo E(n.v) of the Charlie lobe (the curve fit of glsl_lobes.py's `sheen_albedo`): small facing
    the viewer, large at grazing angles."""
    r = min(max(rough, 0.07), 1.0)
    r2 = r * r
    a = -339.2 * r2 + 161.4 * r - 25.9 if r < 0.25 else -8.48 * r2 + 14.3 * r - 9.95
    b = 44.0 * r2 - 23.7 * r + 3.26 if r < 0.25 else 1.97 * r2 - 3.27 * r + 0.72
    dg = np.exp(a * np.asarray(nv, np.float64) + b) + (0.0 if r < 0.25 else 0.1 * (r - 0.25))
    out: F64 = np.clip(dg / np.pi, 0.0, 1.0)
    return out


def _lambda_fit(x: F64, s: float) -> F64:
    out: F64 = (np.interp(s, [0, 1], [21.5473, 25.3245]) / (1.0 + np.interp(s, [0, 1], [3.82987, 3.32435])
                * np.power(x, np.interp(s, [0, 1], [0.19823, 0.16801])))
                + np.interp(s, [0, 1], [-1.97760, -1.27393]) * x + np.interp(s, [0, 1], [-4.32054, -4.85967]))
    return out


def _lambda(c: F64, alpha: float) -> F64:
    s = (1.0 - alpha) ** 2
    c = np.abs(c)
    out: F64 = np.where(c < 0.5, np.exp(_lambda_fit(np.minimum(c, 0.5), s)),
                        np.exp(2.0 * _lambda_fit(np.array(0.5), s) - _lambda_fit(np.maximum(1.0 - c, 0.0), s)))
    return out


def sheen_dv(nl: F64, nv: F64, nh: F64, rough: float) -> F64:
    """The Charlie lobe's distribution x visibility for direct light (glsl_lights.py's `sheen_dv`)."""
    alpha = max(min(max(rough, 0.07), 1.0) ** 2, 1e-6)
    inv = 1.0 / alpha
    d = (2.0 + inv) * np.power(np.maximum(1.0 - nh * nh, 0.0), inv * 0.5) / (2 * np.pi)
    denom = (1.0 + _lambda(nv, alpha) + _lambda(nl, alpha)) * (4.0 * nv * nl)
    vis = np.clip(1.0 / np.maximum(denom, 1e-12), 0.0, 1.0)
    out: F64 = d * vis
    return out


def tray_eyes(points: F64, trays: Sequence[tuple[tuple[float, float, float], tuple[float, float, float]]]) -> F64:
    """Per point, the customer's eye in front of the tray (box min, max) it lies on: VIEWER_EAST_M east of the
    tray's east edge, level with its centre along Z, at VIEWER_EYE_Y_M (the first tray that holds the point;
    points on none get the first tray's)."""
    eyes = np.zeros_like(points)
    done = np.zeros(len(points), bool)
    for lo, hi in trays:
        inside = ~done & np.all((points >= np.asarray(lo) - 1e-6) & (points <= np.asarray(hi) + 1e-6), axis=1)
        eyes[inside] = (hi[0] + VIEWER_EAST_M, VIEWER_EYE_Y_M, (lo[2] + hi[2]) / 2)
        done |= inside
    if trays:
        lo, hi = trays[0]
        eyes[~done] = (hi[0] + VIEWER_EAST_M, VIEWER_EYE_Y_M, (lo[2] + hi[2]) / 2)
    return eyes


def sheen_direct(points: F64, normals: F64, eyes: F64, sheen: Sheen, lights: Sequence[AreaLight], occ: Occluders,
                 params: BakeParams | None = None) -> F64:
    """Radiance `(n, 3)` the sheen lobe sends to the eye from the area lights (each sample's illuminance x
    `sheen_dv` x sheen colour), counted only where the sample is not blocked (as `bake.direct_light`)."""
    params = params or DEFAULT_PARAMS
    out = np.zeros((len(points), 3))
    for start in range(0, len(points), _BLOCK):
        sl = slice(start, start + _BLOCK)
        out[sl] = _sheen_block(points[sl], normals[sl], eyes[sl], sheen, lights, occ, params)
    out *= np.asarray(sheen.color, np.float64)[None, :]
    return out


_BLOCK = 128
"""Points per block of `sheen_direct` (each block tests only the occluders between it and a light)."""


def _sheen_block(points: F64, normals: F64, eyes: F64, sheen: Sheen, lights: Sequence[AreaLight], occ: Occluders,
                 params: BakeParams) -> F64:
    out = np.zeros((len(points), 3))
    origins = points + normals * 0.004
    v = eyes - points
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    nv = np.clip(np.einsum("ki,ki->k", normals, v), 1e-3, 1.0)
    for light in lights:
        samples, area = light_samples(light, params.light_sample_spacing_m, params.max_light_samples)
        d = samples[None, :, :] - origins[:, None, :]
        r2 = np.maximum(np.einsum("ksi,ksi->ks", d, d), 1e-4)
        l_dir = d / np.sqrt(r2)[..., None]
        nl = np.einsum("ksi,ki->ks", l_dir, normals)
        w = np.maximum(nl, 0) * np.maximum(l_dir[..., 1], 0) / r2  # the panel shines down (-Y)
        rows = np.flatnonzero((w > 0).any(axis=1))
        if not len(rows):
            continue
        local = occ.within(np.minimum(origins.min(axis=0), samples.min(axis=0)),
                           np.maximum(origins.max(axis=0), samples.max(axis=0)))
        if len(local):
            w[rows] = np.where(segments_blocked(origins[rows], d[rows], local), 0.0, w[rows])
        h = l_dir + v[:, None, :]
        h /= np.maximum(np.linalg.norm(h, axis=2, keepdims=True), 1e-9)
        nh = np.clip(np.einsum("ksi,ki->ks", h, normals), 0.0, 1.0)
        lobe = sheen_dv(np.clip(nl, 1e-3, 1.0), nv[:, None], nh, sheen.roughness)
        out += ((w * lobe).sum(axis=1) * area)[:, None] * np.asarray(light.radiance, np.float64)[None, :]
    return out


def with_sheen(points: F64, normals: F64, eyes: F64, albedo: F64, light: F64, direct: F64, sheen: Sheen,
               lights: Sequence[AreaLight], occ: Occluders, params: BakeParams | None = None) -> F64:
    """The velvet's radiance `(n, 3)` seen from `eyes`, as the PBR shader's sheen composes it: the diffuse layer
    (`light` x albedo) dimmed by what the sheen reflects (1 - max(sheen colour) x E(n.v)), plus the sheen of the
    ambient light (`light` - `direct`, the bake's irradiance / pi without the area lights) x E(n.v) and the sheen
    lobe of each area light."""
    v = eyes - points
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    e = sheen_albedo(np.clip(np.einsum("ki,ki->k", normals, v), 1e-3, 1.0), sheen.roughness)[:, None]
    color = np.asarray(sheen.color, np.float64)[None, :]
    ambient = np.maximum(light - direct, 0.0)
    out: F64 = (light * albedo * (1.0 - max(sheen.color) * e) + ambient * color * e
                + sheen_direct(points, normals, eyes, sheen, lights, occ, params))
    return out
