"""Image-based lighting made by our own code: three HDR environments, prefiltered for the PBR shader.

- **studio**: a neutral photo studio, light-grey sweep, a big overhead softbox, key/fill/rim softboxes and two
  tall strip lights (bright, clean highlights on metal);
- **counter**: a warm jewellery counter, warm halogen spots in a dark wood ceiling, a lit back wall, a pale
  counter top below;
- **car**: a car studio, dark walls and floor, long strip lights along the ceiling and a glowing floor line.

`build_environments(out_dir)` writes, per environment, `<name>.npz` holding `radiance` (the specular cube map:
mip level k is prefiltered with GGX for roughness k / (LEVELS - 1); level 0 is the mirror), `irradiance` (the
diffuse cube map divided by pi, so diffuse = albedo * irradiance) and, shared, `brdf_lut.npz` (split-sum scale and
bias by (n.v, roughness)). It also writes `<name>.hdr` (Radiance RGBE, lat-long) and `<name>.png` (a tone-mapped
preview). Cube faces follow OpenGL's layout; directions are in glTF world space (+Y up, front +Z).
All arrays are linear-light float16.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]

ENV_NAMES: tuple[str, ...] = ("studio", "counter", "car")
FACE_SIZE_PX = 256
LEVELS = 6
"""Prefiltered roughness levels: 0, 0.2, ..., 1.0 at face sizes 256 ... 8 (then plain mips down to 1)."""
IRRADIANCE_SIZE_PX = 16
LUT_SIZE_PX = 64
FORMAT_VERSION = 3
"""Bumped whenever the scenes or the file layout change: older files count as stale and are rebuilt."""
_SAMPLES = 64


def face_directions(size_px: int) -> F32:
    """Unit directions through the texel centres of an OpenGL cube map: (6, n, n, 3); row = t, column = s."""
    c = (np.arange(size_px, dtype=np.float32) + 0.5) / size_px * 2 - 1
    t, s = np.meshgrid(c, c, indexing="ij")
    one = np.ones_like(s)
    faces = [
        (one, -t, -s),  # +X
        (-one, -t, s),  # -X
        (s, one, t),  # +Y
        (s, -one, -t),  # -Y
        (s, -t, one),  # +Z
        (-s, -t, -one),  # -Z
    ]
    d = np.stack([np.stack(f, axis=-1) for f in faces])
    out: F32 = (d / np.linalg.norm(d, axis=-1, keepdims=True)).astype(np.float32)
    return out


def _texel_solid_angles(size_px: int) -> F32:
    c = (np.arange(size_px, dtype=np.float32) + 0.5) / size_px * 2 - 1
    t, s = np.meshgrid(c, c, indexing="ij")
    da = (2.0 / size_px) ** 2
    w = da / (1 + s * s + t * t) ** 1.5
    out: F32 = np.broadcast_to(w, (6, size_px, size_px)).astype(np.float32)
    return out


def _dir_to_face(d: F32) -> tuple[npt.NDArray[np.intp], F32, F32]:
    """Face index and (s, t) in [0, 1] for directions (n, 3) (inverse of `face_directions`)."""
    x, y, z = d[:, 0], d[:, 1], d[:, 2]
    ax, ay, az = np.abs(x), np.abs(y), np.abs(z)
    face = np.where((ax >= ay) & (ax >= az), np.where(x > 0, 0, 1), np.where(ay >= az, np.where(y > 0, 2, 3), np.where(z > 0, 4, 5)))
    ma = np.choose(face, [ax, ax, ay, ay, az, az])
    sc = np.choose(face, [-z, z, x, x, x, -x])
    tc = np.choose(face, [-y, -y, z, -z, -y, -y])
    ma = np.maximum(ma, 1e-12)
    return face, (sc / ma + 1) / 2, (tc / ma + 1) / 2


def sample_cube(cube: F32, d: F32) -> F32:
    """Bilinear lookup of a cube map (6, n, n, c) in directions (m, 3) -> (m, c). Edges clamp within a face."""
    n = cube.shape[1]
    face, s, t = _dir_to_face(d)
    x = np.clip(s * n - 0.5, 0, n - 1)
    y = np.clip(t * n - 0.5, 0, n - 1)
    x0 = np.minimum(x.astype(np.intp), n - 2) if n > 1 else np.zeros_like(x, dtype=np.intp)
    y0 = np.minimum(y.astype(np.intp), n - 2) if n > 1 else np.zeros_like(y, dtype=np.intp)
    fx = (x - x0)[:, None] if n > 1 else np.zeros((len(x), 1), np.float32)
    fy = (y - y0)[:, None] if n > 1 else np.zeros((len(y), 1), np.float32)
    x1, y1 = np.minimum(x0 + 1, n - 1), np.minimum(y0 + 1, n - 1)
    top = cube[face, y0, x0] * (1 - fx) + cube[face, y0, x1] * fx
    bottom = cube[face, y1, x0] * (1 - fx) + cube[face, y1, x1] * fx
    out: F32 = (top * (1 - fy) + bottom * fy).astype(np.float32)
    return out


def _downsample(cube: F32) -> F32:
    f, n = cube.shape[0], cube.shape[1]
    out: F32 = cube.reshape(f, n // 2, 2, n // 2, 2, -1).mean(axis=(2, 4)).astype(np.float32)
    return out


# --- the three scenes, as radiance functions of direction --------------------------------------------------


@dataclass(frozen=True)
class _Panel:
    """A rectangular area light seen from the centre: direction, angular half sizes, radiance (linear RGB)."""

    towards: tuple[float, float, float]
    half_width_deg: float
    half_height_deg: float
    radiance: tuple[float, float, float]
    roll_deg: float = 0.0
    softness: float = 0.08


def _panel(d: F32, p: _Panel) -> F32:
    c = np.asarray(p.towards, dtype=np.float32)
    c /= np.linalg.norm(c)
    up0 = np.array([0.0, 1.0, 0.0], np.float32) if abs(c[1]) < 0.95 else np.array([0.0, 0.0, -1.0], np.float32)
    right = np.cross(c, up0)
    right /= np.linalg.norm(right)
    up = np.cross(right, c)
    roll = math.radians(p.roll_deg)
    right, up = right * math.cos(roll) + up * math.sin(roll), up * math.cos(roll) - right * math.sin(roll)
    dc = d @ c
    safe = np.maximum(dc, 1e-4)
    x = np.abs(d @ right) / safe / math.tan(math.radians(p.half_width_deg))
    y = np.abs(d @ up) / safe / math.tan(math.radians(p.half_height_deg))
    edge = np.clip((1 + p.softness - np.maximum(x, y)) / (2 * p.softness), 0, 1)
    mask = edge * edge * (3 - 2 * edge) * (dc > 0)
    out: F32 = mask[..., None] * np.asarray(p.radiance, dtype=np.float32)
    return out


def _spot(d: F32, towards: tuple[float, float, float], radius_deg: float, radiance: tuple[float, float, float]) -> F32:
    c = np.asarray(towards, dtype=np.float32)
    c /= np.linalg.norm(c)
    ang = np.degrees(np.arccos(np.clip(d @ c, -1, 1)))
    mask = np.clip((radius_deg * 1.3 - ang) / (radius_deg * 0.6), 0, 1)
    out: F32 = (mask * mask)[..., None] * np.asarray(radiance, dtype=np.float32)
    return out


def _mix(a: tuple[float, float, float], b: tuple[float, float, float], t: F32) -> F32:
    aa, bb = np.asarray(a, np.float32), np.asarray(b, np.float32)
    out: F32 = aa + (bb - aa) * t[..., None]
    return out


def _smooth(e0: float, e1: float, x: F32) -> F32:
    t = np.clip((x - e0) / (e1 - e0), 0, 1)
    out: F32 = t * t * (3 - 2 * t)
    return out


def studio_radiance(d: F32) -> F32:
    y = d[..., 1]
    wall = _mix((0.20, 0.18, 0.155), (0.34, 0.32, 0.29), _smooth(0.0, 0.9, y))
    floor = _mix((0.34, 0.31, 0.27), (0.14, 0.13, 0.11), _smooth(-0.2, -1.0, y))
    col = np.where((y >= 0)[..., None], wall, floor) + _mix((0.15, 0.15, 0.15), (0.0, 0.0, 0.0), _smooth(0.0, 0.12, np.abs(y)))
    panels = (
        _Panel((0.0, 1.0, 0.15), 38, 28, (4.5, 4.5, 4.5)),  # overhead
        _Panel((-0.85, 0.35, 0.55), 18, 30, (8.0, 7.9, 7.7)),  # key, front left
        _Panel((0.9, 0.3, 0.45), 14, 28, (4.0, 4.0, 4.2)),  # fill, front right
        _Panel((0.05, 0.35, -1.0), 32, 10, (2.6, 2.6, 2.6)),  # rim, behind
        _Panel((-1.0, 0.05, -0.35), 3, 40, (10.0, 10.0, 10.0), softness=0.15),  # tall strip left
        _Panel((1.0, 0.05, -0.3), 3, 40, (10.0, 10.0, 10.0), softness=0.15),  # tall strip right
        _Panel((0.0, 0.15, 1.0), 40, 12, (2.5, 2.5, 2.5), softness=0.3),  # bounce card behind the camera
    )
    for p in panels:
        col = col + _panel(d, p)
    return col


def counter_radiance(d: F32) -> F32:
    y = d[..., 1]
    ceiling = np.asarray((0.10, 0.065, 0.04), np.float32) * np.ones_like(d)
    wall = _mix((0.35, 0.22, 0.12), (0.20, 0.12, 0.07), _smooth(0.1, 0.6, y))
    counter = _mix((0.75, 0.62, 0.48), (0.55, 0.42, 0.30), _smooth(-0.1, -0.9, y))
    col = np.where((y > 0.6)[..., None], ceiling, np.where((y >= 0)[..., None], wall, counter))
    col = col + _panel(d, _Panel((0.0, 0.15, -1.0), 55, 12, (3.2, 2.5, 1.7), softness=0.2))  # lit back wall
    col = col + _panel(d, _Panel((0.0, 0.9, 0.4), 30, 10, (4.0, 3.4, 2.6)))  # soft light box above the tray
    col = col + _panel(d, _Panel((-1.0, 0.2, 0.3), 10, 25, (6.0, 5.2, 4.2)))  # window left
    for k in range(7):
        az = math.radians(k * 360 / 7 + 15)
        col = col + _spot(d, (math.sin(az) * 0.55, 0.83, math.cos(az) * 0.55), 2.2, (60.0, 48.0, 30.0))
    col = col + _spot(d, (0.0, 1.0, 0.0), 3.0, (50.0, 42.0, 28.0))
    return col


def car_radiance(d: F32) -> F32:
    y = d[..., 1]
    wall = _mix((0.06, 0.06, 0.065), (0.03, 0.03, 0.035), _smooth(0.0, 0.7, y))
    floor = _mix((0.10, 0.10, 0.10), (0.05, 0.05, 0.05), _smooth(0.0, -1.0, y))
    col = np.where((y >= 0)[..., None], wall, floor)
    # Long strip lights in the ceiling (y = 1), running front to back along the car.
    up = np.maximum(y, 1e-4)
    px, pz = d[..., 0] / up, d[..., 2] / up
    along = _smooth(2.6, 2.0, np.abs(pz)) * (y > 0.05)
    for x in (-0.9, -0.45, 0.0, 0.45, 0.9):
        across = _smooth(0.07, 0.045, np.abs(px - x))
        col = col + (across * along)[..., None] * np.float32(14.0)
    col = col + _panel(d, _Panel((-1.0, 0.25, 0.0), 60, 9, (2.2, 2.2, 2.3), softness=0.4))  # side walls glow
    col = col + _panel(d, _Panel((1.0, 0.25, 0.0), 60, 9, (2.2, 2.2, 2.3), softness=0.4))
    col = col + _panel(d, _Panel((0.0, 0.25, 1.0), 60, 9, (1.6, 1.6, 1.7), softness=0.4))
    col = col + _panel(d, _Panel((0.0, 0.25, -1.0), 60, 9, (1.6, 1.6, 1.7), softness=0.4))
    band = _smooth(0.05, 0.0, np.abs(y - 0.03))  # a glowing line where the walls meet the floor
    return col + band[..., None] * np.float32(3.0)


RADIANCE: dict[str, Callable[[F32], F32]] = {"studio": studio_radiance, "counter": counter_radiance, "car": car_radiance}


# --- prefiltering -----------------------------------------------------------------------------------------


def _hammersley(n: int) -> tuple[F32, F32]:
    i = np.arange(n, dtype=np.int64)
    bits = i.copy()
    bits = ((bits << 16) | (bits >> 16)) & 0xFFFFFFFF
    bits = ((bits & 0x55555555) << 1) | ((bits & 0xAAAAAAAA) >> 1)
    bits = ((bits & 0x33333333) << 2) | ((bits & 0xCCCCCCCC) >> 2)
    bits = ((bits & 0x0F0F0F0F) << 4) | ((bits & 0xF0F0F0F0) >> 4)
    bits = ((bits & 0x00FF00FF) << 8) | ((bits & 0xFF00FF00) >> 8)
    return ((i.astype(np.float32) + 0.5) / n).astype(np.float32), (bits.astype(np.float64) / 2**32).astype(np.float32)


def _ggx_half_vectors(alpha: float, n: int) -> tuple[F32, F32]:
    """Tangent-space GGX half vectors (n, 3) and their NdotH."""
    u, v = _hammersley(n)
    phi = 2 * np.pi * u
    cos_t = np.sqrt((1 - v) / (1 + (alpha * alpha - 1) * v))
    sin_t = np.sqrt(np.maximum(1 - cos_t * cos_t, 0))
    h: F32 = np.stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t], axis=1).astype(np.float32)
    return h, cos_t.astype(np.float32)


def _tangent_frames(n: F32) -> tuple[F32, F32]:
    up = np.where((np.abs(n[:, 1]) < 0.999)[:, None], np.array([0, 1, 0], np.float32), np.array([1, 0, 0], np.float32))
    t = np.cross(up, n)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    b: F32 = np.cross(n, t).astype(np.float32)
    return t.astype(np.float32), b


def prefilter_specular(mips: list[F32], roughness: float, size_px: int, samples: int = _SAMPLES) -> F32:
    """GGX-prefiltered radiance (6, size, size, 3) for `roughness`, assuming n = v = r (split-sum).

    `mips[k]` is the radiance box-filtered to face size `mips[0].shape[1] >> k`; each sample reads the mip whose
    texel matches the sample's solid angle (filtered importance sampling), which removes noise."""
    alpha = max(roughness * roughness, 1e-4)
    n = face_directions(size_px).reshape(-1, 3)
    t, b = _tangent_frames(n)
    hs, nh = _ggx_half_vectors(alpha, samples)
    base = mips[0].shape[1]
    texel_sa = 4 * np.pi / (6 * base * base)
    acc = np.zeros((len(n), 3), np.float32)
    wsum = np.zeros((len(n), 1), np.float32)
    for (hx, hy, hz), cos_h in zip(hs, nh, strict=True):
        h = t * hx + b * hy + n * hz
        vh = hz  # v = n
        ldir = 2 * vh * h - n
        nl = np.sum(ldir * n, axis=1)
        d_ggx = alpha * alpha / (np.pi * (cos_h * cos_h * (alpha * alpha - 1) + 1) ** 2)
        pdf = d_ggx / 4  # D * NdotH / (4 VdotH) with n = v
        sample_sa = 1.0 / (samples * pdf + 1e-6)
        lod = float(np.clip(0.5 * math.log2(sample_sa / texel_sa) + 1.0, 0, len(mips) - 1))
        k = min(round(lod), len(mips) - 1)
        w = np.maximum(nl, 0)[:, None]
        acc += sample_cube(mips[k], ldir.astype(np.float32)) * w
        wsum += w
    out: F32 = (acc / np.maximum(wsum, 1e-6)).reshape(6, size_px, size_px, 3).astype(np.float32)
    return out


def irradiance_map(mips: list[F32], size_px: int = IRRADIANCE_SIZE_PX) -> F32:
    """Cosine-weighted irradiance / pi (6, size, size, 3) by direct integration over a 16-texel source."""
    src = next(m for m in mips if m.shape[1] <= 16)
    dirs = face_directions(src.shape[1]).reshape(-1, 3)
    rad = src.reshape(-1, 3) * _texel_solid_angles(src.shape[1]).reshape(-1, 1)
    n = face_directions(size_px).reshape(-1, 3)
    cos = np.maximum(n @ dirs.T, 0)
    out: F32 = ((cos @ rad) / np.pi).reshape(6, size_px, size_px, 3).astype(np.float32)
    return out


def brdf_lut(size_px: int = LUT_SIZE_PX, samples: int = 256) -> F32:
    """Split-sum environment BRDF (Karis 2013): (size, size, 2) scale and bias of F0; rows = roughness, columns =
    n.v, both sampled at texel centres in (0, 1)."""
    c = (np.arange(size_px, dtype=np.float32) + 0.5) / size_px
    rough, nv = np.meshgrid(c, c, indexing="ij")
    rough, nv = rough.reshape(-1), nv.reshape(-1)
    v = np.stack([np.sqrt(1 - nv * nv), np.zeros_like(nv), nv], axis=1)
    a_acc = np.zeros_like(nv)
    b_acc = np.zeros_like(nv)
    u1, u2 = _hammersley(samples)
    alpha = rough * rough
    k = alpha / 2
    for e1, e2 in zip(u1, u2, strict=True):
        phi = 2 * np.pi * e1
        cos_t = np.sqrt((1 - e2) / (1 + (alpha * alpha - 1) * e2))
        sin_t = np.sqrt(1 - cos_t * cos_t)
        h = np.stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t], axis=1)
        vh = np.sum(v * h, axis=1)
        ldir = 2 * vh[:, None] * h - v
        nl = np.clip(ldir[:, 2], 0, 1)
        nh = np.clip(h[:, 2], 0, 1)
        vh = np.clip(vh, 0, 1)
        g = (nv / (nv * (1 - k) + k)) * (nl / (nl * (1 - k) + k))
        g_vis = np.where(nl > 0, g * vh / np.maximum(nh * nv, 1e-6), 0)
        fc = (1 - vh) ** 5
        a_acc += (1 - fc) * g_vis
        b_acc += fc * g_vis
    out: F32 = np.stack([a_acc / samples, b_acc / samples], axis=1).reshape(size_px, size_px, 2).astype(np.float32)
    return out


def build_environment(name: str, face_size_px: int = FACE_SIZE_PX) -> tuple[list[F32], F32]:
    """The specular mip chain (level k prefiltered for roughness k / (LEVELS - 1), then plain mips to 1x1) and
    the irradiance cube of environment `name`."""
    return prefilter_environment(RADIANCE[name], face_size_px)


def prefilter_environment(radiance: Callable[[F32], F32], face_size_px: int = FACE_SIZE_PX) -> tuple[list[F32], F32]:
    """`build_environment` for any radiance function of direction `(..., 3) -> (..., 3)` (e.g. a lat-long file)."""
    # Supersample the mirror level 2x2 for smooth light edges.
    fine = radiance(face_directions(face_size_px * 2)).astype(np.float32)
    mips = [_downsample(fine)]
    while mips[-1].shape[1] > 1:
        mips.append(_downsample(mips[-1]))
    chain = [mips[0]]
    for level in range(1, LEVELS):
        chain.append(prefilter_specular(mips, level / (LEVELS - 1), face_size_px >> level))
    while chain[-1].shape[1] > 1:
        chain.append(_downsample(chain[-1]))
    return chain, irradiance_map(mips)


def _latlong(cube: F32, width_px: int) -> F32:
    h = width_px // 2
    lon = (np.arange(width_px) + 0.5) / width_px * 2 * np.pi - np.pi
    lat = np.pi / 2 - (np.arange(h) + 0.5) / h * np.pi
    lat_g, lon_g = np.meshgrid(lat, lon, indexing="ij")
    d = np.stack([np.cos(lat_g) * np.sin(lon_g), np.sin(lat_g), np.cos(lat_g) * np.cos(lon_g)], -1).reshape(-1, 3)
    out: F32 = sample_cube(cube, d.astype(np.float32)).reshape(h, width_px, 3)
    return out


def write_rgbe(path: Path, image: F32) -> None:
    """Writes a linear float image (h, w, 3) as a Radiance .hdr file (uncompressed RGBE)."""
    h, w, _ = image.shape
    img = np.maximum(image.astype(np.float64), 0)
    peak = img.max(axis=2)
    mant, exp = np.frexp(peak)
    scale = np.where(peak > 1e-32, mant * 256.0 / np.maximum(peak, 1e-32), 0)
    rgbe = np.zeros((h, w, 4), np.uint8)
    rgbe[..., :3] = np.clip(img * scale[..., None], 0, 255).astype(np.uint8)
    rgbe[..., 3] = np.where(peak > 1e-32, exp + 128, 0).astype(np.uint8)
    header = f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {h} +X {w}\n".encode("ascii")
    path.write_bytes(header + rgbe.tobytes())


def _preview_png(path: Path, image: F32) -> None:
    from PIL import Image

    x = image / (1 + image)  # simple Reinhard for a look at the map
    srgb = np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(np.maximum(x, 0), 1 / 2.4) - 0.055)
    Image.fromarray((np.clip(srgb, 0, 1) * 255 + 0.5).astype(np.uint8)).save(path)


def build_environments(out_dir: Path, face_size_px: int = FACE_SIZE_PX) -> list[Path]:
    """Writes studio/counter/car maps (+ the shared BRDF LUT) into `out_dir`; returns the written paths.

    `face_size_px` is the cube face size of the mirror level (a power of two >= 64; smaller builds faster)."""
    if face_size_px < 64 or face_size_px & (face_size_px - 1):
        raise ValueError(f"face_size_px must be a power of two >= 64, got {face_size_px}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    lut_path = out_dir / "brdf_lut.npz"
    np.savez(lut_path, lut=brdf_lut().astype(np.float16), version=np.int32(FORMAT_VERSION))
    written.append(lut_path)
    for name in ENV_NAMES:
        chain, irr = build_environment(name, face_size_px)
        arrays = {f"radiance_{k}": level.astype(np.float16) for k, level in enumerate(chain)}
        path = out_dir / f"{name}.npz"
        tmp = out_dir / f".{name}.tmp.npz"
        np.savez(tmp, irradiance=irr.astype(np.float16), levels=np.int32(len(chain)), version=np.int32(FORMAT_VERSION), **arrays)
        tmp.replace(path)
        latlong = _latlong(chain[0], 512)
        write_rgbe(out_dir / f"{name}.hdr", latlong)
        _preview_png(out_dir / f"{name}.png", latlong)
        written += [path, out_dir / f"{name}.hdr", out_dir / f"{name}.png"]
    return written


@dataclass(frozen=True)
class EnvironmentMaps:
    """One environment loaded from disk: specular mip chain (6, n, n, 3) per level, irradiance, BRDF LUT."""

    radiance: list[F32]
    irradiance: F32
    lut: F32


def load_environment(env_dir: Path, name: str) -> EnvironmentMaps:
    """Reads `<env_dir>/<name>.npz` and the BRDF LUT; raises FileNotFoundError if not built."""
    path = Path(env_dir) / f"{name}.npz"
    with np.load(path) as z:
        levels = int(z["levels"])
        radiance = [np.asarray(z[f"radiance_{k}"]) for k in range(levels)]
        irradiance = np.asarray(z["irradiance"])
    return EnvironmentMaps(radiance, irradiance, load_brdf_lut(env_dir))


def load_brdf_lut(env_dir: Path) -> F32:
    """The shared split-sum BRDF LUT `(n, n, 2)` from `<env_dir>/brdf_lut.npz`."""
    with np.load(Path(env_dir) / "brdf_lut.npz") as z:
        lut: F32 = np.asarray(z["lut"])
    return lut


def environment_face_size(env_dir: Path) -> int:
    """The mirror-level cube face size the built-in maps in `env_dir` were built at (files are prefiltered alike)."""
    with np.load(Path(env_dir) / "studio.npz") as z:
        return int(z["radiance_0"].shape[1])


def environments_present(env_dir: Path) -> bool:
    """True when every map is built, by this version of the code."""
    d = Path(env_dir)
    for name in ("brdf_lut", *ENV_NAMES):
        path = d / f"{name}.npz"
        try:
            with np.load(path) as z:
                if int(z["version"]) != FORMAT_VERSION:
                    return False
        except (OSError, KeyError, ValueError):
            return False
    return True
