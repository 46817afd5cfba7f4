"""What AR and try-on need to know about a product model's shape: its bounds, footprint and ring axis.

Read once per model file (trimesh, cached by path and modification time). Models follow the renderer's
convention: metres, +Y up, resting on Y = 0, centred in X and Z, front towards +Z.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from render_node.ar.composite import Footprint

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ModelShape:
    bounds_min_m: F64
    bounds_max_m: F64
    footprint: Footprint
    hole_axis: int
    """Index (0 x, 1 y, 2 z) of the thinnest extent: the axis through a ring's or bangle's hole."""
    hole_centre_m: F64
    """(3,) centre of the hole (for rings with a stone: the centre of the band, not of the bounds)."""
    hole_diameter_m: float
    """Diameter of the hole (twice the distance from the centre to the nearest band point)."""
    widest_y_m: float = 0.0
    """Height at which the model is widest in X (a necklace laid out as a loop: where it meets the neck)."""

    @property
    def size_m(self) -> F64:
        out: F64 = self.bounds_max_m - self.bounds_min_m
        return out


def _hull(xz: F64) -> F64:
    if len(xz) < 3:
        return xz
    hull = cv2.convexHull(xz.astype(np.float32)).reshape(-1, 2)
    return hull.astype(np.float64)


def shape_of_points(points_m: F64) -> ModelShape:
    """The shape facts of an (n, 3) point cloud of a model (its vertices)."""
    pts = np.asarray(points_m, dtype=np.float64)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    height = float(hi[1] - lo[1])
    near_ground = pts[pts[:, 1] <= lo[1] + max(0.08 * height, 0.0005)]
    step = max(1, len(pts) // 1500)
    footprint = Footprint(contact_xz_m=_hull(near_ground[:, [0, 2]]), shadow_xz_m=_hull(pts[:, [0, 2]]),
                          height_m=height, silhouette_m=pts[::step].copy())
    ext = hi - lo
    axis = int(np.argmin(ext))
    plane = [i for i in range(3) if i != axis]
    # Hole centre: the centre of the circle through the band. A stone sits on one side only, so fit a circle to
    # the points of the lower-extent half along each in-plane axis by using robust percentiles.
    p2 = pts[:, plane]
    c = np.array([(np.percentile(p2[:, 0], 2) + np.percentile(p2[:, 0], 98)) / 2,
                  np.percentile(p2[:, 1], 2)])
    r_outer = (np.percentile(p2[:, 0], 98) - np.percentile(p2[:, 0], 2)) / 2
    c[1] += r_outer
    radial = np.linalg.norm(p2 - c, axis=1)
    r_inner = float(np.percentile(radial, 1))
    centre = (lo + hi) / 2
    centre[plane[0]], centre[plane[1]] = c[0], c[1]
    half_w = np.abs(pts[:, 0] - (lo[0] + hi[0]) / 2)
    widest = pts[half_w >= 0.97 * half_w.max(), 1]
    return ModelShape(bounds_min_m=lo, bounds_max_m=hi, footprint=footprint, hole_axis=axis,
                      hole_centre_m=centre, hole_diameter_m=2 * r_inner, widest_y_m=float(np.median(widest)))


_CACHE: dict[tuple[str, float], ModelShape] = {}
_LOCK = threading.Lock()


def model_shape(path: Path) -> ModelShape:
    """Shape facts of a GLB/glTF model file (cached)."""
    key = (str(path), path.stat().st_mtime)
    with _LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        return hit
    import trimesh

    scene: Any = trimesh.load(str(path), force="scene")
    verts = [np.asarray(g.vertices, dtype=np.float64) for g in scene.dump(concatenate=False) if len(g.vertices)]
    if not verts:
        from render_node.render.errors import ModelInvalid

        raise ModelInvalid(f"{path.name}: the model has no vertices")
    shape = shape_of_points(np.concatenate(verts))
    with _LOCK:
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[key] = shape
    return shape
