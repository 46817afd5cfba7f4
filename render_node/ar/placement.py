"""A product model placed in a camera frame, and the render request that draws just the pixels around it.

`X_cam = R @ (scale * (X_model - pivot)) + t` (OpenCV camera frame, metres). Rendering a sub-window (the
projected bounds plus a margin, principal point shifted) instead of the whole frame keeps a small ring on a 720p
frame cheap on a CPU renderer; `paste` puts the window back into a full-frame RGBA overlay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from render_node.ar.pose import camera_pose_for_object
from render_node.render.types import Intrinsics, MaterialOverride, PoseView, RenderRequest

F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]

MARGIN_PX = 6
MIN_SIDE_PX = 16
"""The renderer's smallest picture side."""


def _at_least(a: int, b: int, size: int, limit: int) -> tuple[int, int]:
    """The span [a, b) grown to `size` around its middle, kept inside [0, limit)."""
    if b - a >= size:
        return a, b
    a = max(0, (a + b) // 2 - size // 2)
    b = min(limit, a + size)
    return max(0, b - size), b


@dataclass(frozen=True)
class PlacedModel:
    rotation: F64
    """(3, 3) model axes -> OpenCV camera axes."""
    translation_m: F64
    """(3,) where the pivot lands in the OpenCV camera frame."""
    scale: float = 1.0
    pivot_m: F64 = field(default_factory=lambda: np.zeros(3))
    part_min_m: F64 | None = None
    """Model-space box of the part to draw (earrings: one of the pair); None = the whole model."""
    part_max_m: F64 | None = None

    def object_transform(self) -> tuple[F64, F64]:
        """(R, t) with `X_cam = R @ (scale * X_model) + t`."""
        t = self.translation_m - self.scale * (self.rotation @ self.pivot_m)
        return self.rotation, t

    def to_camera(self, points_model_m: F64) -> F64:
        pts = np.asarray(points_model_m, dtype=np.float64)
        out: F64 = (self.scale * (pts - self.pivot_m)) @ self.rotation.T + self.translation_m
        return out


@dataclass(frozen=True)
class Window:
    """A render of part of the frame: pixel origin (x0, y0) of the sub-window and its request."""

    x0: int
    y0: int
    request: RenderRequest
    keep_px: tuple[int, int, int, int] | None = None
    """Frame box (x0, y0, x1, y1) outside which the window's pixels are dropped (a part of a pair)."""
    supersample: int = 1
    """The request renders `supersample` x the window's size; `pixels()` brings it back (antialiasing)."""

    @property
    def size_px(self) -> tuple[int, int]:
        w, h = self.request.size_px
        return w // self.supersample, h // self.supersample

    def pixels(self, rgba: U8) -> U8:
        """The rendered request brought to the window's size (premultiplied area average when supersampled)."""
        if self.supersample == 1:
            return rgba
        w, h = self.size_px
        a = rgba[..., 3:4].astype(np.float32) / np.float32(255.0)
        pre = np.dstack([rgba[..., :3].astype(np.float32) * a, a * np.float32(255.0)])
        small = np.asarray(cv2.resize(pre, (w, h), interpolation=cv2.INTER_AREA), dtype=np.float32)
        alpha = small[..., 3:4] / np.float32(255.0)
        rgb = small[..., :3] / np.maximum(alpha, np.float32(1e-6))
        out = np.dstack([np.clip(rgb, 0, 255), np.clip(small[..., 3:4], 0, 255)]) + np.float32(0.5)
        return np.asarray(out, dtype=np.uint8)


def _corners(lo: F64, hi: F64) -> F64:
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])


def window_for(placed: PlacedModel, bounds_min_m: F64, bounds_max_m: F64, intrinsics: Intrinsics, model_path: Path,
               overrides: tuple[MaterialOverride, ...] = (), far_clip_depth_m: float | None = None,
               supersample: int = 1) -> Window | None:
    """The request that renders `placed` into the pixels it covers, or None when it is out of view.

    `far_clip_depth_m`: only what is nearer than this camera depth is drawn (the front of a ring on a finger).
    `supersample`: render at that many times the resolution (fine chains and prongs stay continuous).
    """
    lo = bounds_min_m if placed.part_min_m is None else placed.part_min_m
    hi = bounds_max_m if placed.part_max_m is None else placed.part_max_m
    cam = placed.to_camera(_corners(lo, hi))
    z = cam[:, 2]
    if np.all(z <= 1e-3):
        return None
    k = intrinsics
    zc = np.maximum(z, 1e-3)
    u = k.fx * cam[:, 0] / zc + k.cx
    v = k.fy * cam[:, 1] / zc + k.cy
    margin = MARGIN_PX if placed.part_min_m is None else 1  # a part's neighbours must stay out of its window
    x0 = max(0, int(np.floor(u.min())) - margin)
    y0 = max(0, int(np.floor(v.min())) - margin)
    x1 = min(k.width_px, int(np.ceil(u.max())) + margin)
    y1 = min(k.height_px, int(np.ceil(v.max())) + margin)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    keep = (x0, y0, x1, y1) if placed.part_min_m is not None else None
    x0, x1 = _at_least(x0, x1, MIN_SIDE_PX, k.width_px)
    y0, y1 = _at_least(y0, y1, MIN_SIDE_PX, k.height_px)
    if x1 - x0 < MIN_SIDE_PX or y1 - y0 < MIN_SIDE_PX:
        return None  # the frame itself is smaller than the renderer's smallest picture
    ss = max(1, supersample)
    if (x1 - x0) * ss > 4096 or (y1 - y0) * ss > 4096:
        ss = 1
    sub = Intrinsics(k.fx * ss, k.fy * ss, (k.cx - x0) * ss, (k.cy - y0) * ss, (x1 - x0) * ss, (y1 - y0) * ss)
    r, t = placed.object_transform()
    pose = camera_pose_for_object(r, t, placed.scale)
    s = placed.scale
    near = max(float(z.min()) * 0.5, 1e-3) / s
    far = (float(z.max()) * 1.5 + 0.05) / s
    if far_clip_depth_m is not None:
        far = far_clip_depth_m / s
        if far <= near:
            return None
    view = PoseView(pose=pose, intrinsics=sub, near_m=near, far_m=far)
    request = RenderRequest(model_path=model_path, view=view, size_px=((x1 - x0) * ss, (y1 - y0) * ss),
                            background="transparent", shadow=False, overrides=overrides)
    return Window(x0, y0, request, keep, ss)


def paste(frame_size_px: tuple[int, int], window: Window, rgba: U8, into: U8 | None = None) -> U8:
    """`rgba` of `window` placed (alpha-over) into a full `(h, w, 4)` overlay (a new one unless `into`)."""
    w, h = frame_size_px
    out = np.zeros((h, w, 4), np.uint8) if into is None else into
    rh, rw = rgba.shape[:2]
    region = out[window.y0:window.y0 + rh, window.x0:window.x0 + rw]
    if window.keep_px is not None:
        kx0, ky0, kx1, ky1 = window.keep_px
        rgba = rgba.copy()
        yy, xx = np.mgrid[window.y0:window.y0 + rh, window.x0:window.x0 + rw]
        rgba[(xx < kx0) | (xx >= kx1) | (yy < ky0) | (yy >= ky1), 3] = 0
    a = rgba[..., 3:4].astype(np.float32) / 255.0
    b = region[..., 3:4].astype(np.float32) / 255.0
    out_a = a + b * (1 - a)
    rgb = (rgba[..., :3] * a + region[..., :3] * b * (1 - a)) / np.maximum(out_a, 1e-6)
    region[...] = np.dstack([np.clip(rgb + 0.5, 0, 255), np.clip(out_a * 255 + 0.5, 0, 255)]).astype(np.uint8)
    return out
