"""Compositing a rendered product (straight-alpha RGBA) over a camera frame, with a soft contact shadow.

The shadow is built in the frame, not in the renderer: the product's footprint on the ground plane (Y = 0 of
the world: the counter or the marker board) is projected through the same camera, filled and blurred in layers -
a tight dark core where the product touches (ambient occlusion), a wide soft penumbra beneath it, and a faint
cast shadow of its silhouette falling away from the camera (light from above and behind the viewer). It darkens
the frame multiplicatively, so it takes the colour of the table it falls on. Work is limited to the region the
shadow covers.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from render_node.ar.pose import project_points
from render_node.render.types import Intrinsics

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Footprint:
    """Where a product meets the ground, in world metres on the plane Y = 0 (x, z polygons)."""

    contact_xz_m: F64
    """(n, 2) convex hull of the model's points near the ground (what touches the table)."""
    shadow_xz_m: F64
    """(n, 2) convex hull of the whole model seen from above (the soft shadow beneath it)."""
    height_m: float
    silhouette_m: F64 | None = None
    """(n, 3) a sample of the model's points (for the cast shadow); None: no cast shadow."""


@dataclass(frozen=True)
class Shadow:
    """Shadow strength 0..1 over the frame region starting at (x0, y0)."""

    x0: int
    y0: int
    strength: F32

    @property
    def empty(self) -> bool:
        return self.strength.size == 0


def _region(polys: list[F64], margin: float, width_px: int, height_px: int) -> tuple[int, int, int, int]:
    allpts = np.concatenate(polys)
    x0 = max(0, int(np.floor(allpts[:, 0].min() - margin)))
    y0 = max(0, int(np.floor(allpts[:, 1].min() - margin)))
    x1 = min(width_px, int(np.ceil(allpts[:, 0].max() + margin)))
    y1 = min(height_px, int(np.ceil(allpts[:, 1].max() + margin)))
    return x0, y0, max(x0, x1), max(y0, y1)


def _layer(shape: tuple[int, int], poly_px: F64, sigma_px: float) -> F32:
    mask = np.zeros(shape, np.float32)
    pts = np.round(poly_px * 4).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(mask, [pts], (1.0,), lineType=cv2.LINE_AA, shift=2)
    if sigma_px >= 0.7:
        k = int(sigma_px * 3) * 2 + 1
        mask = np.asarray(cv2.GaussianBlur(mask, (k, k), sigma_px), dtype=np.float32)
    return mask


_CIRCLE = np.stack([np.cos(np.linspace(0, 2 * np.pi, 16, endpoint=False)),
                    np.sin(np.linspace(0, 2 * np.pi, 16, endpoint=False))], axis=1)


def _grow(poly_xz: F64, margin_m: float) -> F64:
    """The polygon grown outwards by `margin_m` (Minkowski sum with a disc), as a convex hull."""
    pts = (poly_xz[:, None, :] + _CIRCLE[None, :, :] * margin_m).reshape(-1, 2)
    return np.asarray(cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2), dtype=np.float64)


def _hull_px(points: F64) -> F64:
    return np.asarray(cv2.convexHull(points.astype(np.float32)).reshape(-1, 2), dtype=np.float64)


def contact_shadow(intrinsics: Intrinsics, rotation: F64, translation_m: F64, footprint: Footprint,
                   scale: float = 1.0, opacity: float = 0.6) -> Shadow:
    """The shadow of a product standing at the world origin, seen through the object transform (R, t)."""
    k = intrinsics
    r = np.asarray(rotation, dtype=np.float64)
    t = np.asarray(translation_m, dtype=np.float64)

    def to_px(xz: F64) -> F64 | None:
        world = np.stack([xz[:, 0], np.zeros(len(xz)), xz[:, 1]], axis=1)
        if np.any((world @ r.T + t)[:, 2] <= 1e-3):
            return None
        return project_points(world, r, t, k.fx, k.fy, k.cx, k.cy)

    layers: list[tuple[F64, float, float]] = []  # polygon px, blur sigma px, weight
    height = footprint.height_m
    for poly_xz, margin_m, blur, weight in ((footprint.shadow_xz_m, 0.14 * height, 0.5, 0.7),
                                            (footprint.contact_xz_m, 0.04 * height, 0.5, 1.0)):
        if len(poly_xz) < 3:
            continue
        px = to_px(_grow(poly_xz, margin_m) * scale)
        if px is None:
            continue
        # blur in pixels: the margin's size where it lands in the frame
        centre = px.mean(axis=0)
        span = float(np.max(px.max(axis=0) - px.min(axis=0)))
        ground_span = float(np.max(poly_xz.max(axis=0) - poly_xz.min(axis=0))) + 2 * margin_m
        px_per_m = span / max(ground_span * scale, 1e-6)
        layers.append((centre + (px - centre), max(0.8, blur * margin_m * scale * px_per_m), weight))
    if footprint.silhouette_m is not None and len(footprint.silhouette_m) >= 3:
        # a spotlight above the viewer's left shoulder, 40 degrees from vertical: the shadow falls back and right
        cam_world = -r.T @ t / scale
        away = -np.array([cam_world[0], 0.0, cam_world[2]])
        n = float(np.linalg.norm(away))
        away = away / n if n > 1e-6 else np.array([0.0, 0.0, -1.0])
        c, s = np.cos(np.radians(-50)), np.sin(np.radians(-50))
        away = np.array([c * away[0] + s * away[2], 0.0, -s * away[0] + c * away[2]])
        tilt = np.tan(np.radians(40))
        light = np.array([away[0] * tilt, -1.0, away[2] * tilt])
        pts = footprint.silhouette_m
        ground = pts - (pts[:, 1:2] / -light[1]) * -light[None, :]
        ground_xz = ground[:, [0, 2]] * scale
        px = to_px(ground_xz)
        if px is not None:
            hull = _hull_px(px)
            span = float(np.max(hull.max(axis=0) - hull.min(axis=0)))
            layers.append((hull, max(0.8, 0.06 * span), 0.55))
    if not layers:
        return Shadow(0, 0, np.zeros((0, 0), np.float32))
    margin = max(s for _, s, _ in layers) * 3 + 2
    x0, y0, x1, y1 = _region([p for p, _, _ in layers], margin, k.width_px, k.height_px)
    out = np.zeros((y1 - y0, x1 - x0), np.float32)
    if out.size == 0:
        return Shadow(0, 0, out)
    for px, sigma, weight in layers:
        out = np.maximum(out, _layer((y1 - y0, x1 - x0), px - [x0, y0], sigma) * weight)
    return Shadow(x0, y0, np.clip(out * opacity, 0.0, 1.0).astype(np.float32))


def alpha_box(overlay_rgba: U8) -> tuple[int, int, int, int] | None:
    a = overlay_rgba[..., 3]
    rows = np.flatnonzero(a.any(axis=1))
    if len(rows) == 0:
        return None
    cols = np.flatnonzero(a[rows[0]:rows[-1] + 1].any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def composite_over(frame_rgb: U8, overlay_rgba: U8, shadow: Shadow | None = None,
                   box: tuple[int, int, int, int] | None = None) -> U8:
    """A copy of the frame `(h, w, 3) uint8` darkened by `shadow` then covered by the straight-alpha overlay.

    `box` (x0, y0, x1, y1): where the overlay has pixels, when the caller knows (saves a scan of the frame)."""
    out = frame_rgb.copy()
    if shadow is not None and not shadow.empty:
        sh, sw = shadow.strength.shape
        region = out[shadow.y0:shadow.y0 + sh, shadow.x0:shadow.x0 + sw]
        region[...] = np.clip(region.astype(np.float32) * (1.0 - shadow.strength)[..., None] + 0.5, 0, 255)
    if box is None:
        box = alpha_box(overlay_rgba)
    if box is None:
        return out
    x0, y0, x1, y1 = box
    ov = overlay_rgba[y0:y1, x0:x1]
    region = out[y0:y1, x0:x1]
    a = ov[..., 3:4].astype(np.float32) / np.float32(255.0)
    mixed = region.astype(np.float32) * (np.float32(1.0) - a) + ov[..., :3].astype(np.float32) * a
    region[...] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    return out


def overlay_with_shadow(overlay_rgba: U8, shadow: Shadow | None) -> U8:
    """The overlay with the shadow merged in as translucent black (for clients that composite themselves)."""
    if shadow is None or shadow.empty:
        return overlay_rgba
    out = overlay_rgba.copy()
    sh, sw = shadow.strength.shape
    region = out[shadow.y0:shadow.y0 + sh, shadow.x0:shadow.x0 + sw]
    a = region[..., 3].astype(np.float32) / np.float32(255.0)
    s = shadow.strength
    out_a = a + s * (1.0 - a)
    rgb = region[..., :3].astype(np.float32) * (a / np.maximum(out_a, 1e-6))[..., None]
    region[...] = np.clip(np.dstack([rgb, out_a * 255.0]) + 0.5, 0, 255).astype(np.uint8)
    return out
