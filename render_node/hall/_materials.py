"""The hall's materials: a linear albedo per surface, and small procedural textures (marble floor tiles, walnut,
travertine, brushed metal) made with numpy, seeded, so that every build writes the same bytes.

Every material is unlit in the file: the baked light is the vertex colour, the texture (sRGB) carries the
albedo's pattern. A textured surface's vertex colour is the light alone; an untextured one's is light * albedo.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
from PIL import Image

from render_node.hall._sheen import Sheen
from render_node.hall.layout import BANK_GOLD, BANK_RED

F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]

TEXTURE_PX = 512


@dataclass(frozen=True)
class HallMaterial:
    albedo: tuple[float, float, float]
    """Linear reflectance: the colour of an untextured surface, and what a textured one reflects on average."""
    texture: str | None = None
    repeat_m: float = 1.0
    """Metres covered by one repeat of the texture."""
    alpha: float = 1.0
    double_sided: bool = False
    emissive: bool = False
    """The vertex colour is a fixed radiance (a light, the daylight outside), not baked."""
    sheen: Sheen | None = None
    """KHR_materials_sheen's colour and roughness, baked for the customer's place (`_sheen.py`): velvet."""


MATERIALS: dict[str, HallMaterial] = {
    "floor": HallMaterial((0.72, 0.66, 0.57), "marble", 1.2),
    "wall": HallMaterial((0.78, 0.73, 0.64), "plaster", 1.2),
    "ceiling": HallMaterial((0.88, 0.86, 0.82)),
    "wood": HallMaterial((0.11, 0.06, 0.035), "walnut", 1.0),
    "stone": HallMaterial((0.55, 0.48, 0.38), "travertine", 1.5),
    "granite": HallMaterial((0.03, 0.03, 0.03), "granite", 0.6),
    "brass": HallMaterial(BANK_GOLD),
    "glass": HallMaterial((0.78, 0.86, 0.86), alpha=0.14, double_sided=True),
    "red": HallMaterial(BANK_RED),
    "carpet": HallMaterial((0.42, 0.035, 0.07)),
    "screen": HallMaterial((0.015, 0.016, 0.02)),
    "fabric": HallMaterial((0.17, 0.011, 0.024)),
    # deep red velvet: its pile sends a paler red sheen back at grazing angles (the trays' far edge and ends)
    "velvet": HallMaterial((0.075, 0.005, 0.011), sheen=Sheen((0.3, 0.06, 0.075), 0.5)),
    "leaves": HallMaterial((0.06, 0.12, 0.035), "leaves", 1.0),
    "metal": HallMaterial((0.05, 0.05, 0.055)),
    "turntable": HallMaterial((0.50, 0.51, 0.53), "brushed", 1.0),
    "trim": HallMaterial((0.70, 0.68, 0.64)),
    "ruler": HallMaterial((0.85, 0.84, 0.80), "ruler"),
    "light": HallMaterial((1.0, 1.0, 1.0), emissive=True),
    "led": HallMaterial((1.0, 1.0, 1.0), emissive=True),
    "outside": HallMaterial((1.0, 1.0, 1.0), emissive=True),
}
"""By name; `Box.surface` names most of them (a box's id may pick a variant: the carpet, the turntables)."""


def srgb_to_linear(c: F64) -> F64:
    out: F64 = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return out


def linear_to_srgb(c: F64) -> F64:
    c = np.clip(c, 0, 1)
    out: F64 = np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055)
    return out


def _noise(seed: int, size: int, beta: float, stretch: tuple[float, float] = (1.0, 1.0)) -> F64:
    """Periodic fractal noise `(size, size)` in 0..1: white noise shaped by 1/f^beta in the frequency domain
    (tiles seamlessly); `stretch` weights the frequencies along (rows, columns): (1, 14) makes streaks that run
    along the rows (a smooth change along x)."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal((size, size))
    fy = np.fft.fftfreq(size)[:, None] * stretch[0]
    fx = np.fft.fftfreq(size)[None, :] * stretch[1]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    spec = np.fft.fft2(white) / f**beta
    spec[0, 0] = 0
    n = np.real(np.fft.ifft2(spec))
    n -= n.min()
    out: F64 = n / max(float(n.max()), 1e-12)
    return out


def _marble() -> F64:
    """Two by two warm marble tiles with soft veins and thin grout lines: `(px, px, 3)` sRGB 0..1."""
    px = TEXTURE_PX
    base = np.array([0.925, 0.895, 0.845])
    vein_col = np.array([0.70, 0.64, 0.57])
    img = np.zeros((px, px, 3))
    half = px // 2
    for k in range(4):
        turb = _noise(11 + k, half, 1.6)
        cloud = _noise(23 + k, half, 2.2)
        y, x = np.mgrid[0:half, 0:half] / half
        angle = 0.6 + k * 1.1
        band = np.sin((x * np.cos(angle) + y * np.sin(angle)) * 9.0 + turb * 7.0)
        vein = np.exp(-(band**2) / 0.004) * 0.55 + np.exp(-(band**2) / 0.05) * 0.18
        tile = base[None, None, :] * (0.965 + 0.05 * cloud[..., None])
        tile = tile * (1 - vein[..., None]) + vein_col * vein[..., None]
        r, c = divmod(k, 2)
        img[r * half : (r + 1) * half, c * half : (c + 1) * half] = tile
    grout = np.zeros((px, px), bool)
    for g in (0, half):
        grout[g : g + 2, :] = True
        grout[:, g : g + 2] = True
    img[grout] = np.array([0.78, 0.74, 0.68])
    return img


def _walnut() -> F64:
    px = TEXTURE_PX
    grain = _noise(41, px, 1.5, stretch=(1.0, 14.0))
    fine = _noise(43, px, 0.8, stretch=(1.0, 30.0))
    figure = np.sin(grain * 22.0) * 0.5 + 0.5
    t = 0.35 * figure + 0.35 * fine + 0.3 * grain
    dark, light = np.array([0.27, 0.16, 0.095]), np.array([0.43, 0.27, 0.165])
    out: F64 = dark + (light - dark) * t[..., None]
    return out


def _travertine() -> F64:
    """Pale travertine slabs, two per repeat (one above the other), with soft veining and thin joints."""
    px = TEXTURE_PX
    cloud = _noise(61, px, 2.0)
    layers = _noise(67, px, 1.4, stretch=(1.0, 6.0))
    pores = _noise(71, px, 0.3)
    base, dark = np.array([0.91, 0.87, 0.80]), np.array([0.80, 0.74, 0.65])
    t = np.clip(0.35 * cloud + 0.65 * layers, 0, 1) ** 1.8
    img = base + (dark - base) * t[..., None]
    img[pores > 0.93] *= 0.9
    for row in (0, px // 2):
        img[row : row + 2, :] *= 0.82
    img[:, 0:2] *= 0.82
    out: F64 = img
    return out


def _granite() -> F64:
    """Polished black granite: near black with fine grey and white grains (a presentation stand's top)."""
    px = TEXTURE_PX
    grains = _noise(109, px, 0.2)
    cloud = _noise(113, px, 1.8)
    v = 0.25 + 0.07 * cloud
    v = np.where(grains > 0.78, v + 0.40 * (grains - 0.78) / 0.22, v)
    v = np.where(grains < 0.12, v * 0.6, v)
    out: F64 = np.stack([v, v * 0.99, v * 0.97], axis=-1)
    return out


def _brushed() -> F64:
    px = TEXTURE_PX
    streak = _noise(83, px, 0.9, stretch=(1.0, 40.0))
    wide = _noise(89, px, 1.8, stretch=(1.0, 8.0))
    v = 0.40 + 0.08 * streak + 0.05 * wide
    out: F64 = np.stack([v * 0.98, v * 0.99, v * 1.02], axis=-1)
    return out


def _plaster() -> F64:
    """Warm white wall panels: a faint plaster cloud and a thin shadow gap at the panel's left edge (vertical
    joints every repeat), in the colour of the wall's albedo."""
    px = TEXTURE_PX
    base = linear_to_srgb(np.asarray(MATERIALS["wall"].albedo, np.float64))
    cloud = _noise(97, px, 2.4)
    img = base[None, None, :] * (0.985 + 0.03 * cloud[..., None])
    img[:, :3] *= 0.80
    img[:, 3:5] *= 0.93
    out: F64 = img
    return out


def _leaves() -> F64:
    """Clipped boxwood: small leaves (a fine speckle) in greens, darker gaps between them."""
    px = TEXTURE_PX
    fine = _noise(101, px, 0.4)
    clumps = _noise(103, px, 1.6)
    t = np.clip(0.65 * fine + 0.35 * clumps, 0, 1)
    dark, light = np.array([0.10, 0.20, 0.07]), np.array([0.36, 0.52, 0.20])
    img = dark + (light - dark) * (t**1.4)[..., None]
    out: F64 = img
    return out


_TEXTURES = {"granite": _granite, "leaves": _leaves, "marble": _marble, "walnut": _walnut, "travertine": _travertine, "brushed": _brushed,
             "plaster": _plaster}


@cache
def texture_srgb(name: str) -> U8:
    """The procedural texture `name` as `(px, px, 3) uint8` sRGB (the ruler's is drawn by `signage`)."""
    if name == "ruler":
        from render_node.hall.signage import ruler_image

        return np.asarray(ruler_image().convert("RGB"), np.uint8)
    img = np.clip(_TEXTURES[name]() * 255 + 0.5, 0, 255).astype(np.uint8)
    return img


def texture_png(name: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(texture_srgb(name)).save(buf, format="PNG")
    return buf.getvalue()


@cache
def texture_mean_linear(name: str) -> F64:
    """The mean linear colour of a texture (what the surface reflects on average)."""
    lut = srgb_to_linear(np.arange(256, dtype=np.float64) / 255)
    out: F64 = lut[texture_srgb(name)].reshape(-1, 3).mean(axis=0)
    return out


def reflectance(name: str) -> F64:
    """The linear albedo the bake uses for material `name` (a textured material's is its texture's mean)."""
    mat = MATERIALS[name]
    if mat.texture is not None:
        return texture_mean_linear(mat.texture)
    return np.asarray(mat.albedo, np.float64)
