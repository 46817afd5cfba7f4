"""The soft contact shadow under a product, computed once per model from its triangles (numpy, no GL).

Points sampled over every triangle (area-proportional, so a box with 12 triangles and a 100k-triangle ring both
give a solid footprint) are splatted into a top-down grid: a sharp *contact* layer from geometry near the ground
and a wide *ambient* layer from everything above it, both blurred, then combined into an opacity map that the
renderer draws on a ground quad.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.ndimage import gaussian_filter

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

SHADOW_RES_PX = 128
_MAX_SAMPLES = 400_000
_MAX_VERTICES = 400_000
_MAX_TRIANGLES = 250_000


@dataclass(frozen=True)
class ContactShadow:
    """Opacity map (res, res) in [0, 1] (row 0 at z_min) covering x in [x_min, x_max], z in [z_min, z_max] at
    height `ground_y_m`."""

    opacity: F32
    x_range_m: tuple[float, float]
    z_range_m: tuple[float, float]
    ground_y_m: float


def contact_shadow(triangles_m: F64, res_px: int = SHADOW_RES_PX, seed: int = 7) -> ContactShadow:
    """`triangles_m`: (n, 3, 3) world-space triangles (+Y up). The ground is the lowest point."""
    tri = np.asarray(triangles_m, dtype=np.float64).reshape(-1, 3, 3)
    lo, hi = tri.reshape(-1, 3).min(axis=0), tri.reshape(-1, 3).max(axis=0)
    if len(tri) > _MAX_TRIANGLES:  # a dense mesh keeps its footprint with a fraction of its triangles
        tri = tri[:: len(tri) // _MAX_TRIANGLES + 1]
    ground = float(lo[1])
    height = max(float(hi[1] - lo[1]), 1e-6)
    size = max(float(hi[0] - lo[0]), float(hi[2] - lo[2]), 1e-6)
    half = size / 2 * 1.7 + 0.25 * height
    cx, cz = float(lo[0] + hi[0]) / 2, float(lo[2] + hi[2]) / 2
    cell = 2 * half / res_px

    # Area-proportional sample counts; vertices always count.
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    area_xz = 0.5 * np.abs(e1[:, 0] * e2[:, 2] - e1[:, 2] * e2[:, 0])
    counts = np.clip(np.ceil(area_xz / (cell * cell) * 4), 0, 4096).astype(np.int64)
    total = int(counts.sum())
    if total > _MAX_SAMPLES:
        counts = np.ceil(counts * (_MAX_SAMPLES / total)).astype(np.int64)
    rng = np.random.default_rng(seed)
    idx = np.repeat(np.arange(len(tri)), counts)
    u, v = rng.random(len(idx)), rng.random(len(idx))
    flip = u + v > 1
    u, v = np.where(flip, 1 - u, u), np.where(flip, 1 - v, v)
    pts = tri[idx, 0] + e1[idx] * u[:, None] + e2[idx] * v[:, None]
    corners = tri.reshape(-1, 3)
    pts = np.concatenate([pts, corners[:: max(1, len(corners) // _MAX_VERTICES)]])

    ix = np.clip(((pts[:, 0] - (cx - half)) / cell).astype(np.int64), 0, res_px - 1)
    iz = np.clip(((pts[:, 2] - (cz - half)) / cell).astype(np.int64), 0, res_px - 1)
    h = (pts[:, 1] - ground) / height
    flat = iz * res_px + ix
    # The lowest point over each cell (sort + reduceat: far faster than ufunc.at on millions of points).
    order = np.argsort(flat, kind="stable")
    cells, starts = np.unique(flat[order], return_index=True)
    lowest = np.minimum.reduceat(h[order], starts)
    contact = np.zeros(res_px * res_px)
    contact[cells] = np.exp(-lowest / 0.06)
    ambient = np.zeros(res_px * res_px)
    ambient[cells] = np.exp(-lowest / 0.6)
    contact_map = gaussian_filter(contact.reshape(res_px, res_px), sigma=max(1.0, res_px * 0.012))
    ambient_map = gaussian_filter(ambient.reshape(res_px, res_px), sigma=res_px * 0.06)
    opacity = 1 - (1 - 0.85 * np.clip(contact_map * 1.4, 0, 1)) * (1 - 0.55 * np.clip(ambient_map * 1.6, 0, 1))
    # Fade to zero at the border so the quad's edge never shows.
    ramp = np.clip(np.minimum(np.arange(res_px), np.arange(res_px)[::-1]) / (res_px * 0.08), 0, 1)
    opacity *= ramp[:, None] * ramp[None, :]
    opacity = np.clip((opacity - 0.015) / 0.985, 0, 1)  # a faint tail would leave alpha 1 far from the product
    return ContactShadow(
        opacity=opacity.astype(np.float32),
        x_range_m=(cx - half, cx + half),
        z_range_m=(cz - half, cz + half),
        ground_y_m=ground,
    )
