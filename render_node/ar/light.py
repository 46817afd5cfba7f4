"""Light estimation from the camera frame, and matching a rendered product to it.

The product is rendered under the neutral studio environment (about 6500 K). From the frame we estimate the
ambient intensity (mean linear luminance, with clipped highlights and black borders ignored) and the colour
temperature (grey-world mean -> CIE XYZ -> McCamy's CCT), then tint and expose the product's pixels towards the
frame's light. The correction is deliberately partial (`strength`): grey-world is a guess and a bank's gold must
still look like gold under a cold office light.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]

_SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
_MIDDLE_GREY = 0.18


def _lut_to_linear() -> F32:
    v = np.arange(256, dtype=np.float64) / 255.0
    lin = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    return lin.astype(np.float32)


_TO_LINEAR = _lut_to_linear()


def srgb_to_linear(rgb: U8) -> F32:
    out: F32 = _TO_LINEAR[rgb]
    return out


def linear_to_srgb(lin: F32) -> U8:
    v = np.clip(lin, 0.0, 1.0)
    s = np.where(v <= 0.0031308, v * 12.92, 1.055 * np.power(v, 1 / 2.4) - 0.055)
    out: U8 = np.clip(s * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return out


@dataclass(frozen=True)
class LightEstimate:
    ambient_intensity: float
    """Mean linear luminance of the frame, 0 (black) .. 1 (white)."""
    colour_temperature_k: float
    """Correlated colour temperature of the grey-world mean, clamped to 2000..12000 K."""
    rgb_gain: tuple[float, float, float]
    """Per-channel linear gain (luminance-neutral) that moves a neutral render towards the frame's light."""
    exposure: float
    """Linear brightness factor for the render, 0.55..1.3 (1 = a frame at middle grey)."""


def mccamy_cct(x: float, y: float) -> float:
    """Correlated colour temperature (K) of CIE 1931 chromaticity (x, y), McCamy's cubic."""
    n = (x - 0.3320) / (0.1858 - y)
    return float(449.0 * n**3 + 3525.0 * n**2 + 6823.3 * n + 5520.33)


def estimate_light(frame_rgb: U8, strength: float = 0.35) -> LightEstimate:
    """Estimates the light of a `(h, w, 3) uint8` sRGB frame (subsampled to ~160 px wide: fast and robust)."""
    h, w = frame_rgb.shape[:2]
    step = max(1, w // 160)
    small = frame_rgb[::step, ::step].reshape(-1, 3)
    lin = srgb_to_linear(small).astype(np.float64)
    mx = lin.max(axis=1)
    keep = (mx < 0.97) & (mx > 0.01)
    sample = lin[keep] if keep.sum() > 50 else lin
    mean = sample.mean(axis=0) + 1e-6
    xyz = _SRGB_TO_XYZ @ mean
    lum = float(xyz[1])
    s = float(xyz.sum())
    cct = mccamy_cct(float(xyz[0] / s), float(xyz[1] / s)) if s > 1e-6 else 6500.0
    cct = float(np.clip(cct, 2000.0, 12000.0))
    neutral = mean / max(lum, 1e-6)
    gain = 1.0 + strength * (neutral - 1.0)
    gain = gain / float(_SRGB_TO_XYZ[1] @ gain)
    gain = np.clip(gain, 0.8, 1.25)
    exposure = float(np.clip((lum / _MIDDLE_GREY) ** 0.35, 0.55, 1.3))
    return LightEstimate(ambient_intensity=lum, colour_temperature_k=cct,
                         rgb_gain=(float(gain[0]), float(gain[1]), float(gain[2])), exposure=exposure)


def relight(overlay_rgba: U8, light: LightEstimate) -> U8:
    """The overlay's colour pixels tinted and exposed by `light`; alpha unchanged. `(h, w, 4) uint8` RGBA."""
    out = overlay_rgba.copy()
    ys, xs = np.nonzero(overlay_rgba[..., 3])
    if len(ys) == 0:
        return out
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = overlay_rgba[y0:y1, x0:x1, :3]
    lin = srgb_to_linear(crop) * (np.asarray(light.rgb_gain, np.float32) * np.float32(light.exposure))
    out[y0:y1, x0:x1, :3] = linear_to_srgb(lin)
    return out


def white_balance_gains_for(temperature_k: float) -> tuple[float, float, float]:
    """Approximate linear RGB of a black body at `temperature_k` (normalised to luminance 1); for tests/tools."""
    t = temperature_k / 100.0
    r = 255.0 if t <= 66 else 329.698727446 * (t - 60) ** -0.1332047592
    g = 99.4708025861 * np.log(t) - 161.1195681661 if t <= 66 else 288.1221695283 * (t - 60) ** -0.0755148492
    b = 255.0 if t >= 66 else (0.0 if t <= 19 else 138.5177312231 * np.log(t - 10) - 305.0447927307)
    srgb = np.clip(np.array([r, g, b]), 0, 255).astype(np.uint8).reshape(1, 1, 3)
    lin = srgb_to_linear(srgb).reshape(3).astype(np.float64)
    lin = lin / float(_SRGB_TO_XYZ[1] @ lin)
    return (float(lin[0]), float(lin[1]), float(lin[2]))


