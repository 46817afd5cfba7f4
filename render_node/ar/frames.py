"""Camera frames and photos from clients: decoded in memory, capped in bytes and pixels, never stored.

The header is read first (Pillow, no pixel decode) so a small file that claims a huge picture (a pixel flood)
is refused before any memory is spent on it; then OpenCV decodes the pixels and the result is re-checked.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from render_node.ar.errors import ImageInvalid, ImageTooLarge
from render_node.errors import BadRequest
from render_node.render.types import CameraPose, Intrinsics

U8 = npt.NDArray[np.uint8]

MAX_FRAME_BYTES = 8 * 1024 * 1024
MAX_FRAME_PIXELS = 16_000_000
MAX_SIDE_PX = 8192
WORK_LONG_SIDE_PX = 1280
"""Frames are processed (and answered) at most this long on their longer side."""


def decode_frame(data: bytes, max_pixels: int = MAX_FRAME_PIXELS, work_long_side_px: int = WORK_LONG_SIDE_PX) -> U8:
    """JPEG/PNG bytes -> `(h, w, 3) uint8` RGB, shrunk to `work_long_side_px` on its longer side."""
    if not data:
        raise ImageInvalid("the image is empty")
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            w, h = probe.size
    except Exception:
        raise ImageInvalid("the image is not a readable JPEG or PNG") from None
    if fmt not in ("JPEG", "PNG", "MPO"):
        raise ImageInvalid(f"the image must be JPEG or PNG, not {fmt}")
    if w < 16 or h < 16:
        raise ImageInvalid(f"the image is too small ({w}x{h} px)")
    if w * h > max_pixels or max(w, h) > MAX_SIDE_PX:
        raise ImageTooLarge(f"the image is {w}x{h} px; at most {max_pixels} pixels and {MAX_SIDE_PX} px a side")
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageInvalid("the image could not be decoded")
    if bgr.shape[0] * bgr.shape[1] > max_pixels:
        raise ImageTooLarge("the decoded image is larger than its header said")
    long_side = max(bgr.shape[:2])
    if long_side > work_long_side_px:
        f = work_long_side_px / long_side
        bgr = cv2.resize(bgr, (round(bgr.shape[1] * f), round(bgr.shape[0] * f)), interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)


def _number(obj: dict[str, Any], key: str, what: str) -> float:
    v = obj.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise BadRequest(f"{what}: '{key}' must be a finite number")
    return float(v)


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise BadRequest(f"{what} is not valid JSON") from None


def parse_intrinsics(text: str | None, fov_deg: str | None, width_px: int, height_px: int) -> Intrinsics:
    """Intrinsics JSON `{"fx","fy","cx","cy","width","height"}` (pixels of the frame as sent) or a vertical field
    of view in degrees; scaled to the decoded frame. Neither: a typical phone camera (60 degrees vertical)."""
    if text:
        obj = _json(text, "intrinsics")
        if not isinstance(obj, dict):
            raise BadRequest("intrinsics must be a JSON object {fx, fy, cx, cy, width, height}")
        fx, fy = _number(obj, "fx", "intrinsics"), _number(obj, "fy", "intrinsics")
        cx, cy = _number(obj, "cx", "intrinsics"), _number(obj, "cy", "intrinsics")
        w = obj.get("width", width_px)
        h = obj.get("height", height_px)
        if not isinstance(w, int | float) or not isinstance(h, int | float) or w <= 0 or h <= 0:
            raise BadRequest("intrinsics: width and height must be positive pixel counts")
        if fx <= 0 or fy <= 0:
            raise BadRequest("intrinsics: fx and fy must be positive")
        return Intrinsics(fx, fy, cx, cy, round(w), round(h)).scaled_to(width_px, height_px)
    if fov_deg:
        try:
            fov = float(fov_deg)
        except ValueError:
            raise BadRequest("fov_deg must be a number of degrees") from None
        if not 10.0 <= fov <= 150.0:
            raise BadRequest("fov_deg must be between 10 and 150 degrees")
        return Intrinsics.from_fov(fov, width_px, height_px)
    return Intrinsics.from_fov(60.0, width_px, height_px)


def _pose(obj: Any, what: str) -> CameraPose:
    if not isinstance(obj, dict):
        raise BadRequest(f"{what} must be an object {{position: [x, y, z], orientation: [x, y, z, w]}}")
    pos, ori = obj.get("position"), obj.get("orientation", [0, 0, 0, 1])
    ok = (isinstance(pos, list) and len(pos) == 3 and isinstance(ori, list) and len(ori) == 4
          and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in [*pos, *ori]))
    if not ok:
        raise BadRequest(f"{what}: position must be 3 numbers (metres) and orientation 4 (quaternion x, y, z, w)")
    n = math.sqrt(sum(float(v) ** 2 for v in ori))
    if n < 1e-6:
        raise BadRequest(f"{what}: orientation quaternion has zero length")
    assert isinstance(pos, list) and isinstance(ori, list)
    return CameraPose((float(pos[0]), float(pos[1]), float(pos[2])),
                      (float(ori[0]) / n, float(ori[1]) / n, float(ori[2]) / n, float(ori[3]) / n))


def parse_pose(text: str | None) -> CameraPose | None:
    """The camera pose JSON: `{"position", "orientation"}` in the anchor's frame (the surface point, +Y up), or
    `{"camera": {...}, "anchor": {...}}` both in one WebXR reference space. None/empty: use the marker board."""
    if not text:
        return None
    from render_node.ar.pose import relative_camera_pose

    obj = _json(text, "pose")
    if isinstance(obj, dict) and "camera" in obj:
        camera = _pose(obj["camera"], "pose.camera")
        anchor = _pose(obj.get("anchor"), "pose.anchor")
        return relative_camera_pose(camera, anchor)
    return _pose(obj, "pose")
