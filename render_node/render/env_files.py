"""Environment lights from files: an equirectangular (lat-long, 2:1) Radiance `.hdr`, OpenEXR `.exr`, or 8-bit
PNG/JPEG (sRGB, linearised: an approximation of real HDR light), prefiltered by `environment.prefilter_environment`
and cached by content.

The lat-long layout is the one the built-in `<name>.hdr` files use: the top row is +Y (up); across, longitude
`atan2(x, z)` runs from -180 degrees at the left edge to +180 at the right, so the edges are -Z (behind the product),
the first quarter -X, the centre column +Z (the product's front, behind a yaw-0 turntable camera), the third +X.

`prefiltered_env_file(path, cache_dir, face_size_px)` checks and decodes the file (pixel count bounded from the
header before anything is decoded), prefilters it, and keeps the result as `<cache_dir>/<sha256>-<face>-v<N>.npz`;
the next call with the same bytes reads that file instead. Rotation and exposure are applied at render time, so
they do not need a cache entry of their own.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import struct
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt

from render_node.render import environment
from render_node.render.environment import F32, FORMAT_VERSION
from render_node.render.errors import EnvironmentInvalid

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_PIXELS = 8192 * 4096
"""Largest equirectangular image accepted (an 8K panorama); checked from the header, before decoding."""
MIN_HEIGHT_PX = 8
HALF_MAX = 65504.0
"""Radiance is clamped to the largest float16 (the cube maps are half floats)."""
_EXR_MAGIC = b"\x76\x2f\x31\x01"


def _fail(path: Path, what: str) -> EnvironmentInvalid:
    return EnvironmentInvalid(f"environment file {path.name}: {what}")


def _hdr_size(path: Path, data: bytes) -> tuple[int, int]:
    """(width, height) from a Radiance header: `#?RADIANCE`, variables, a blank line, then `-Y h +X w`."""
    end = data.find(b"\n\n", 0, 65536)
    if end < 0:
        raise _fail(path, "Radiance header has no end (no blank line in the first 64 KiB)")
    for line in data[:end].split(b"\n")[1:]:
        if line.startswith(b"FORMAT=") and line.strip() != b"FORMAT=32-bit_rle_rgbe":
            raise _fail(path, f"unsupported Radiance {line.decode('latin-1').strip()} (only 32-bit_rle_rgbe)")
    eol = data.find(b"\n", end + 2, end + 2 + 64)
    parts = data[end + 2 : eol].split() if eol > 0 else []
    if len(parts) != 4 or parts[0] != b"-Y" or parts[2] != b"+X" or not (parts[1].isdigit() and parts[3].isdigit()):
        raise _fail(path, "Radiance resolution line is not '-Y <height> +X <width>'")
    return int(parts[3]), int(parts[1])


def _exr_size(path: Path, data: bytes) -> tuple[int, int]:
    """(width, height) of an OpenEXR file's dataWindow, read from its header attributes."""
    if len(data) < 8:
        raise _fail(path, "unreadable EXR: truncated header")
    (flags,) = struct.unpack_from("<I", data, 4)
    if flags & 0x1800:
        raise _fail(path, "unreadable EXR: multi-part and deep files are not supported")
    pos = 8
    limit = min(len(data), 1 << 20)
    while pos < limit:
        name_end = data.find(b"\0", pos, limit)
        if name_end < 0:
            break
        if name_end == pos:
            break  # the end of the header
        type_end = data.find(b"\0", name_end + 1, limit)
        if type_end < 0 or type_end + 5 > limit:
            break
        (size,) = struct.unpack_from("<i", data, type_end + 1)
        value = type_end + 5
        if size < 0 or value + size > limit:
            break
        if data[pos:name_end] == b"dataWindow" and data[name_end + 1 : type_end] == b"box2i" and size == 16:
            x0, y0, x1, y1 = struct.unpack_from("<4i", data, value)
            return x1 - x0 + 1, y1 - y0 + 1
        pos = value + size
    raise _fail(path, "unreadable EXR: no dataWindow in the header")


def _ldr_size(path: Path, data: bytes) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                w, h = img.size
    except Image.DecompressionBombError:
        raise _fail(path, f"too large (more than {MAX_PIXELS} pixels)") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise _fail(path, f"unreadable image header: {exc}") from None
    return int(w), int(h)


def _srgb_to_linear(x: F32) -> F32:
    out: F32 = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)
    return out


def _decode(path: Path, data: bytes, kind: str) -> F32:
    if kind == "ldr":
        from PIL import Image

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                with Image.open(io.BytesIO(data)) as img:
                    rgb = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
            except (OSError, ValueError) as exc:
                raise _fail(path, f"cannot be decoded: {exc}") from None
        return _srgb_to_linear(rgb)
    if kind == "exr":
        # OpenCV reads this once, at its first OpenEXR call; its codec is off unless asked for.
        os.environ["OPENCV_IO_ENABLE_OPENEXR"] = "1"
    import cv2

    try:
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_ANYDEPTH | cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise _fail(path, f"unreadable {'EXR' if kind == 'exr' else 'Radiance file'}: {str(exc).strip()[:200]}") from None
    if bgr is None:
        raise _fail(path, f"unreadable {'EXR' if kind == 'exr' else 'Radiance file'}: OpenCV could not decode it")
    rgb_f: F32 = np.ascontiguousarray(bgr[..., ::-1], dtype=np.float32)
    return rgb_f


def read_equirect(path: Path) -> tuple[F32, str]:
    """The file's linear radiance `(h, w, 3) float32` and the SHA-256 of its bytes; `EnvironmentInvalid` names the
    file and what is wrong (not an image, not 2:1, too large, NaN or negative values, an unreadable EXR)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise _fail(path, "is not a file")
        if size > MAX_FILE_BYTES:
            raise _fail(path, f"{size} bytes is more than {MAX_FILE_BYTES}")
        data = path.read_bytes()
    except OSError as exc:
        raise _fail(path, f"cannot be read: {exc.strerror or exc}") from None
    if data.startswith((b"#?RADIANCE", b"#?RGBE")):
        kind, (w, h) = "hdr", _hdr_size(path, data)
    elif data.startswith(_EXR_MAGIC):
        kind, (w, h) = "exr", _exr_size(path, data)
    elif data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")):
        kind, (w, h) = "ldr", _ldr_size(path, data)
    else:
        raise _fail(path, "is not an image (expected a Radiance .hdr, OpenEXR .exr, PNG or JPEG file)")
    if w <= 0 or h <= 0:
        raise _fail(path, f"the header gives an empty image ({w} x {h} pixels)")
    if w * h > MAX_PIXELS:
        raise _fail(path, f"{w} x {h} pixels is too large (at most {MAX_PIXELS} pixels, e.g. 8192 x 4096)")
    if abs(w - 2 * h) > 2 or h < MIN_HEIGHT_PX:
        raise _fail(path, f"{w} x {h} pixels is not a 2:1 equirectangular (lat-long) panorama at least {2 * MIN_HEIGHT_PX} x {MIN_HEIGHT_PX}")
    image = _decode(path, data, kind)
    if image.shape[:2] != (h, w):
        raise _fail(path, f"decoded to {image.shape[1]} x {image.shape[0]} pixels, the header says {w} x {h}")
    finite = np.isfinite(image)
    if not finite.all():
        r, c = np.argwhere(~finite.all(axis=-1))[0]
        raise _fail(path, f"contains NaN or infinite values (first at row {r}, column {c})")
    if (image < 0).any():
        r, c = np.argwhere((image < 0).any(axis=-1))[0]
        raise _fail(path, f"contains negative values (first at row {r}, column {c}: {image[r, c].min():.4g})")
    return np.minimum(image, HALF_MAX), hashlib.sha256(data).hexdigest()


def equirect_radiance(image: F32, d: F32) -> F32:
    """Bilinear lookup of a lat-long image `(h, w, 3)` in directions `(..., 3)` -> `(..., 3)`; wraps in longitude."""
    h, w, _ = image.shape
    x, y, z = d[..., 0], d[..., 1], d[..., 2]
    u = (np.arctan2(x, z) + np.pi) / (2 * np.pi) * w - 0.5
    v = np.clip((np.pi / 2 - np.arcsin(np.clip(y, -1, 1))) / np.pi * h - 0.5, 0, h - 1)
    u0f, v0f = np.floor(u), np.floor(v)
    fu, fv = (u - u0f)[..., None], (v - v0f)[..., None]
    u0 = u0f.astype(np.intp) % w
    u1 = (u0 + 1) % w
    v0 = v0f.astype(np.intp)
    v1 = np.minimum(v0 + 1, h - 1)
    top = image[v0, u0] * (1 - fu) + image[v0, u1] * fu
    bottom = image[v1, u0] * (1 - fu) + image[v1, u1] * fu
    out: F32 = (top * (1 - fv) + bottom * fv).astype(np.float32)
    return out


def _working_size(image: F32, face_size_px: int) -> F32:
    """Area-averaged down to about the texel size of the supersampled mirror level (8 x face px around)."""
    import cv2

    h, w, _ = image.shape
    target_w = 8 * face_size_px
    if w <= target_w:
        return image
    out: F32 = cv2.resize(image, (target_w, target_w // 2), interpolation=cv2.INTER_AREA).astype(np.float32)
    return out


def cache_path(cache_dir: Path, digest: str, face_size_px: int) -> Path:
    return Path(cache_dir) / f"{digest}-{face_size_px}-v{FORMAT_VERSION}.npz"


def _read_cache(path: Path) -> tuple[list[F32], F32] | None:
    try:
        with np.load(path) as z:
            if int(z["version"]) != FORMAT_VERSION:
                return None
            chain = [np.asarray(z[f"radiance_{k}"], np.float32) for k in range(int(z["levels"]))]
            return chain, np.asarray(z["irradiance"], np.float32)
    except (OSError, KeyError, ValueError):
        return None


def prefiltered_env_file(path: Path, cache_dir: Path, face_size_px: int) -> tuple[list[F32], F32, str]:
    """The specular mip chain and irradiance cube of the environment file at `path` (see the module docstring),
    and the file's SHA-256. Reads `cache_dir` first; prefilters and writes it there on a miss."""
    image, digest = read_equirect(path)
    cached = cache_path(cache_dir, digest, face_size_px)
    hit = _read_cache(cached)
    if hit is not None:
        return hit[0], hit[1], digest
    work = _working_size(image, face_size_px)
    chain, irr = environment.prefilter_environment(lambda d: equirect_radiance(work, d), face_size_px)
    arrays: dict[str, npt.NDArray[np.generic]] = {
        f"radiance_{k}": np.minimum(level, HALF_MAX).astype(np.float16) for k, level in enumerate(chain)
    }
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".{cached.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, irradiance=irr.astype(np.float16), levels=np.int32(len(chain)), version=np.int32(FORMAT_VERSION), **arrays)
        tmp.replace(cached)
    except OSError as exc:
        log.warning("cannot cache the prefiltered environment %s in %s: %s", path.name, cache_dir, exc)
    return chain, irr, digest
