"""Image checks of the glTF reader: PNG, JPEG or WebP, with a header Pillow reads, under a pixel cap.

Only the header is parsed here (no pixels are decoded); the renderer decodes and downsizes when it uploads.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from render_node.gltf.document import Document

MAX_IMAGE_PX = 16384 * 16384
"""Largest image (width x height) a model may carry: a pixel flood is refused before it is decoded."""


def image_mime(data: bytes) -> str | None:
    """The MIME type of PNG, JPEG or WebP bytes, else None."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def check_image(doc: Document, data: bytes, where: str) -> None:
    """Refuses bytes that are not a PNG, JPEG or WebP image with a readable header under `MAX_IMAGE_PX`."""
    if image_mime(data) is None:
        raise doc.fail(where, "is not a PNG, JPEG or WebP image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                w, h = img.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise doc.fail(where, f"cannot be decoded: {exc}") from None
    if w < 1 or h < 1 or w * h > MAX_IMAGE_PX:
        raise doc.fail(where, f"{w} x {h} pixels is outside 1..{MAX_IMAGE_PX} pixels")
