"""Frames -> bytes: JPEG, PNG and WebP stills (OpenCV) and a low-latency H.264 stream encoder (PyAV/libx264).

Takes numpy arrays, returns bytes; no I/O, no asyncio. Frames are `(h, w, 4) uint8 RGBA` or `(h, w, 3) uint8 RGB`.
JPEG has no alpha: transparent pixels are composited over `matte_rgb` (white unless told).
"""

from __future__ import annotations

import contextlib
from fractions import Fraction
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from render_node.errors import BadRequest

ImageFormat = Literal["jpeg", "png", "webp"]
IMAGE_FORMATS: tuple[ImageFormat, ...] = ("jpeg", "png", "webp")
CONTENT_TYPES: dict[str, str] = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "h264": "video/h264",
}
EXTENSIONS: dict[ImageFormat, str] = {"jpeg": "jpg", "png": "png", "webp": "webp"}

Frame = npt.NDArray[np.uint8]


def _check(frame: Frame) -> None:
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] not in (3, 4):
        raise BadRequest(f"a frame must be (h, w, 3|4) uint8, got {frame.shape} {frame.dtype}")
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise BadRequest("a frame must not be empty")


def to_rgb(frame: Frame, matte_rgb: tuple[int, int, int] = (255, 255, 255)) -> Frame:
    """`(h, w, 3|4) uint8` -> `(h, w, 3) uint8` RGB; alpha composited over `matte_rgb`."""
    _check(frame)
    if frame.shape[2] == 3:
        return frame
    alpha = frame[:, :, 3:4]
    if bool(np.all(alpha == 255)):
        return np.ascontiguousarray(frame[:, :, :3])
    a = alpha.astype(np.uint16)
    matte = np.array(matte_rgb, dtype=np.uint16).reshape(1, 1, 3)
    rgb = (frame[:, :, :3].astype(np.uint16) * a + matte * (255 - a) + 127) // 255
    return rgb.astype(np.uint8)


def _to_bgr(frame: Frame, matte_rgb: tuple[int, int, int]) -> Frame:
    return np.asarray(cv2.cvtColor(to_rgb(frame, matte_rgb), cv2.COLOR_RGB2BGR), dtype=np.uint8)


def encode_jpeg(frame: Frame, quality: int = 85, matte_rgb: tuple[int, int, int] = (255, 255, 255)) -> bytes:
    """Baseline JPEG (libjpeg-turbo through OpenCV), `quality` 1-100; alpha goes over `matte_rgb`."""
    q = int(min(100, max(1, quality)))
    ok, buf = cv2.imencode(".jpg", _to_bgr(frame, matte_rgb), [cv2.IMWRITE_JPEG_QUALITY, q])
    if not ok:
        raise BadRequest("JPEG encoding failed")
    return bytes(buf.tobytes())


def encode_png(frame: Frame, compression: int = 3) -> bytes:
    """Lossless PNG that keeps alpha (RGBA in, RGBA out)."""
    _check(frame)
    code = cv2.COLOR_RGBA2BGRA if frame.shape[2] == 4 else cv2.COLOR_RGB2BGR
    ok, buf = cv2.imencode(".png", cv2.cvtColor(frame, code), [cv2.IMWRITE_PNG_COMPRESSION, int(compression)])
    if not ok:
        raise BadRequest("PNG encoding failed")
    return bytes(buf.tobytes())


def encode_webp(frame: Frame, quality: int = 85) -> bytes:
    """Lossy WebP that keeps alpha; 18-60 ms at 720p, so for stills and view sets, not live frames."""
    _check(frame)
    code = cv2.COLOR_RGBA2BGRA if frame.shape[2] == 4 else cv2.COLOR_RGB2BGR
    q = int(min(100, max(1, quality)))
    ok, buf = cv2.imencode(".webp", cv2.cvtColor(frame, code), [cv2.IMWRITE_WEBP_QUALITY, q])
    if not ok:
        raise BadRequest("WebP encoding failed")
    return bytes(buf.tobytes())


def encode_image(frame: Frame, fmt: ImageFormat, quality: int = 85) -> bytes:
    """One still in `fmt`."""
    if fmt == "jpeg":
        return encode_jpeg(frame, quality)
    if fmt == "png":
        return encode_png(frame)
    if fmt == "webp":
        return encode_webp(frame, quality)
    raise BadRequest(f"unknown image format {fmt!r}; use one of {', '.join(IMAGE_FORMATS)}")


def decode_image(data: bytes) -> Frame:
    """Bytes of a JPEG/PNG/WebP -> `(h, w, 3) uint8` RGB (for tests and clients)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if bgr is None:
        raise BadRequest("not a decodable image")
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)


class H264Encoder:
    """A low-latency H.264 elementary stream (Annex B): libx264 `ultrafast` + `zerolatency`, no B-frames.

    One encoder per stream and frame size; every call to `encode` returns the access unit(s) of that frame
    (with zerolatency there is no delay). `force_keyframe()` makes the next frame an IDR (a new viewer, a
    size change). The browser decodes it with WebCodecs (`avc1.42E01E`, baseline-compatible).
    """

    def __init__(self, width_px: int, height_px: int, bitrate_kbps: int = 4000, fps: int = 30,
                 keyframe_interval: int = 120, threads: int = 1) -> None:
        import av  # heavy import kept out of module import time

        if width_px % 2 or height_px % 2:
            raise BadRequest(f"H.264 needs even frame sizes, got {width_px}x{height_px}")
        self.width_px = width_px
        self.height_px = height_px
        self._ctx = av.CodecContext.create("libx264", "w")
        self._ctx.width = width_px
        self._ctx.height = height_px
        self._ctx.pix_fmt = "yuv420p"
        self._ctx.time_base = Fraction(1, 1000)
        self._ctx.framerate = Fraction(fps, 1)
        self._ctx.bit_rate = int(bitrate_kbps) * 1000
        self._ctx.thread_count = threads
        self._ctx.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "profile": "baseline",
            "g": str(keyframe_interval),
            "bf": "0",
            "repeat-headers": "1",
        }
        self._pts = 0
        self._force_key = True
        self._av = av

    def force_keyframe(self) -> None:
        self._force_key = True

    def encode(self, frame: Frame) -> tuple[bytes, bool]:
        """One frame -> (Annex B bytes, is_keyframe)."""
        rgb = to_rgb(frame)
        h, w = rgb.shape[:2]
        if (w, h) != (self.width_px, self.height_px):
            raise BadRequest(f"frame is {w}x{h}, the encoder was made for {self.width_px}x{self.height_px}")
        yuv = np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420), dtype=np.uint8)
        vf = self._av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        vf.pts = self._pts
        self._pts += 33
        if self._force_key:
            vf.pict_type = self._av.video.frame.PictureType.I
            self._force_key = False
        packets = self._ctx.encode(vf)
        data = b"".join(bytes(p) for p in packets)
        key = any(p.is_keyframe for p in packets)
        return data, key

    def close(self) -> None:
        with contextlib.suppress(Exception):  # flushing a finished encoder is best effort
            self._ctx.encode(None)
