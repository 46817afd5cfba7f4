"""Encoders: JPEG over a white matte, PNG keeps alpha, WebP, H.264 keyframes and size checks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from render_node.encoding import H264Encoder, decode_image, encode_jpeg, encode_png, encode_webp, to_rgb
from render_node.errors import BadRequest


def _frame(w: int = 64, h: int = 48) -> np.ndarray:
    f = np.zeros((h, w, 4), np.uint8)
    f[:, : w // 2] = (200, 30, 30, 255)
    return f  # right half fully transparent


def test_jpeg_composites_transparent_pixels_over_white() -> None:
    img = decode_image(encode_jpeg(_frame(), 90))
    assert img.shape == (48, 64, 3)
    assert np.abs(img[24, 10].astype(int) - (200, 30, 30)).max() < 12
    assert img[24, 50].min() > 245


def test_png_keeps_alpha_exactly() -> None:
    f = _frame()
    back = cv2.imdecode(np.frombuffer(encode_png(f), np.uint8), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(cv2.cvtColor(back, cv2.COLOR_BGRA2RGBA), f)


def test_webp_decodes_to_the_same_size() -> None:
    assert decode_image(encode_webp(_frame(), 80)).shape == (48, 64, 3)


def test_half_transparent_pixels_blend() -> None:
    f = np.zeros((2, 2, 4), np.uint8)
    f[..., 3] = 128
    assert 120 <= int(to_rgb(f)[0, 0, 0]) <= 135


def test_h264_starts_with_a_keyframe_and_forces_one_on_request() -> None:
    import av

    enc = H264Encoder(64, 48)
    keys = []
    decoder = av.CodecContext.create("h264", "r")
    frames = []
    for i in range(4):
        f = _frame()
        f[:, :, 1] = i * 40
        data, key = enc.encode(f)
        keys.append(key)
        for packet in decoder.parse(data):
            frames.extend(decoder.decode(packet))
        if i == 1:
            enc.force_keyframe()
    assert keys == [True, False, True, False]
    assert frames and (frames[-1].width, frames[-1].height) == (64, 48)
    with pytest.raises(BadRequest):
        enc.encode(_frame(32, 32))
    with pytest.raises(BadRequest):
        H264Encoder(63, 48)
    enc.close()
