"""AR overlay: a product standing at real size on the counter in a camera frame.

`plan_overlay` finds where the counter is (the client's camera pose, or the printed marker board) and says what
to render; the caller renders the one window (in-process or through the render pool); `finish_overlay` relights
it to the frame and returns the RGBA overlay (with the contact shadow as translucent black) or the composite.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from render_node.ar.board import DEFAULT_BOARD, BoardPose, BoardSpec, detect_board
from render_node.ar.composite import composite_over, contact_shadow, overlay_with_shadow
from render_node.ar.geometry import ModelShape
from render_node.ar.light import LightEstimate, estimate_light, relight
from render_node.ar.placement import PlacedModel, Window, paste, window_for
from render_node.ar.pose import board_object_transform, object_transform_for_camera
from render_node.render.types import CameraPose, Intrinsics, MaterialOverride

F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]

Output = Literal["overlay", "composite"]


@dataclass(frozen=True)
class OverlayJob:
    intrinsics: Intrinsics
    rotation: F64
    """World -> OpenCV camera."""
    translation_m: F64
    source: Literal["pose", "marker"]
    light: LightEstimate
    shape: ModelShape
    scale: float
    window: Window | None
    """None when the product is out of view (the overlay is then just the shadow, if any, or empty)."""
    board: BoardPose | None = None


def plan_overlay(rgb: U8, intrinsics: Intrinsics, camera_pose: CameraPose | None, shape: ModelShape,
                 model_path: Path, overrides: tuple[MaterialOverride, ...] = (), scale: float = 1.0,
                 board: BoardSpec = DEFAULT_BOARD) -> OverlayJob:
    """Where to draw the product in the `(h, w, 3) uint8` RGB frame; raises MarkerNotFound without pose or board."""
    board_pose = None
    if camera_pose is None:
        gray = np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
        board_pose = detect_board(gray, intrinsics, board)
        r, t = board_object_transform(board_pose, board)
        source: Literal["pose", "marker"] = "marker"
    else:
        r, t = object_transform_for_camera(camera_pose)
        source = "pose"
    placed = PlacedModel(r, t, scale)
    window = window_for(placed, shape.bounds_min_m, shape.bounds_max_m, intrinsics, model_path, overrides)
    return OverlayJob(intrinsics, r, t, source, estimate_light(rgb), shape, scale, window, board_pose)


def finish_overlay(rgb: U8, job: OverlayJob, window_rgba: U8 | None, output: Output) -> U8:
    """The `(h, w, 4)` RGBA overlay or the `(h, w, 3)` RGB composite."""
    k = job.intrinsics
    overlay = np.zeros((k.height_px, k.width_px, 4), np.uint8)
    box = None
    if job.window is not None and window_rgba is not None:
        window_rgba = job.window.pixels(window_rgba)
        paste((k.width_px, k.height_px), job.window, relight(window_rgba, job.light), overlay)
        wh, ww = window_rgba.shape[:2]
        box = (job.window.x0, job.window.y0, job.window.x0 + ww, job.window.y0 + wh)
    shadow = contact_shadow(k, job.rotation, job.translation_m, job.shape.footprint, job.scale,
                            opacity=0.55 + 0.25 * min(1.0, job.light.ambient_intensity / 0.18))
    if output == "overlay":
        return overlay_with_shadow(overlay, shadow)
    return composite_over(rgb, overlay, shadow, box=box)
