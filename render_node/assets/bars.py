"""Investment gold bars at real size with stamped faces.

- Minted bars (10 g, 50 g, 100 g) stand upright in the showcase: the struck face looks at the customer (+Z), the
  long side is vertical; raised relief in a frame (maker's mark, 足金, fineness, weight, serial), a repeating
  logo on the back, rounded edges.
- Cast bars (100 g, 1 kg) lie on the counter: a frustum with a smaller top, soft cast edges and punched
  (incised) marks on top that read from the front.

The thickness is solved from the weight and the alloy's density, so volume x density = weight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import trimesh
from PIL import ImageDraw

from render_node.assets._mesh import (
    DENSITY_G_PER_CM3,
    F64,
    MaterialSpec,
    Part,
    Stamp,
    double_heightfield_solid,
    relief_image,
    rotation,
    rounded_rect_outline,
    sample_image,
)

MM = 1e-3


@dataclass(frozen=True)
class BarSpec:
    weight_g: float
    width_mm: float
    length_mm: float
    purity: str = "Au9999"
    serial: str = "HJ000001"
    maker: str = "HJB"
    cast: bool = False


def _rounded_rect_distance(x: F64, z: F64, hw: float, hd: float, r: float) -> F64:
    """Distance from a point inside a rounded rectangle to its outline (metres, >= 0 inside)."""
    qx, qz = np.abs(x) - (hw - r), np.abs(z) - (hd - r)
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qz, 0)) + np.minimum(np.maximum(qx, qz), 0)
    result: F64 = r - outside
    return result


def _maker_logo(maker: str) -> object:
    def draw(d: ImageDraw.ImageDraw, size: tuple[int, int]) -> None:
        from render_node.assets._mesh import font

        w, h = size
        cx, cy, r = w * 0.5, h * 0.15, min(w, h) * 0.11
        d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=255, width=max(2, int(r * 0.12)))
        d.text((cx, cy), maker, fill=255, font=font(int(r * 0.8), serif=True), anchor="mm")

    return draw


def minted_bar(spec: BarSpec) -> list[Part]:
    """A minted bar standing upright, front face +Z."""
    hw, hd = spec.width_mm * MM / 2, spec.length_mm * MM / 2
    volume_m3 = spec.weight_g / DENSITY_G_PER_CM3[spec.purity] * 1e-6
    thickness = volume_m3 / (4 * hw * hd) * 1.12  # first guess; the volume is fitted exactly below
    corner = min(hw, hd) * 0.18
    bevel = min(hw, hd) * 0.09
    relief_h = min(0.16 * MM, 0.09 * thickness)
    px_per_m = 14_000.0 if spec.length_mm < 35 else 9_000.0
    size_px = (int(2 * hw * px_per_m), int(2 * hd * px_per_m))
    front = relief_image(
        size_px,
        [
            Stamp("华锦银行", (0.5, 0.31), 0.055, cjk=True),
            Stamp("足金", (0.5, 0.43), 0.1, cjk=True),
            Stamp(f"{spec.weight_g:g}g" if spec.weight_g < 1000 else "1kg", (0.5, 0.56), 0.11),
            Stamp("FINE GOLD", (0.5, 0.66), 0.045),
            Stamp("999.9", (0.5, 0.73), 0.07, serif=True),
            Stamp(spec.serial, (0.5, 0.86), 0.045),
        ],
        frame=0.06,
        draw=_maker_logo(spec.maker),  # type: ignore[arg-type]
        blur_px=size_px[0] / 260,
    )
    aspect = hd / hw
    grid = (round(300 / aspect), 300)  # ~100k triangles on the struck face, whatever the size

    def surface(img: F64) -> object:
        def height(x: F64, z: F64) -> F64:
            e = _rounded_rect_distance(x, z, hw, hd, corner)
            k = np.clip(e / bevel, 0, 1)
            edge = 0.5 + 0.5 * np.sqrt(1 - (1 - k) ** 2)
            # image x runs along +x; the image's top row is the bar's top (-z before standing it up)
            rel = sample_image(img, x, z, hw, hd) * np.clip((e - bevel * 0.6) / bevel, 0, 1)
            out: F64 = thickness / 2 * edge + relief_h * rel
            return out

        return height

    mesh = double_heightfield_solid(
        rounded_rect_outline(hw, hd, corner),
        surface(front),  # type: ignore[arg-type]
        -thickness / 2,
        grid,
    )
    fit_volume(mesh, volume_m3, axis=1)
    # stand it up: local +y (struck face) -> +z, local -z (top of the text) -> +y
    mesh.apply_transform(rotation(math.pi / 2, "x"))
    return [Part(mesh, "metal", "bar")]


def cast_bar(spec: BarSpec) -> list[Part]:
    """A cast bar lying on the counter, marks on its (smaller) top face reading from the front."""
    hw_bottom, hd_bottom = spec.length_mm * MM / 2, spec.width_mm * MM / 2  # long side along X
    taper = 0.9
    hw, hd = hw_bottom * taper, hd_bottom * taper
    volume_m3 = spec.weight_g / DENSITY_G_PER_CM3[spec.purity] * 1e-6
    area_mean = 4 * hw * hd * (1 + 1 / taper**2) / 2
    thickness = volume_m3 / area_mean
    corner = min(hw, hd) * 0.22
    bevel = thickness * 0.35
    punch_h = min(0.35 * MM, 0.06 * thickness)
    px_per_m = 9_000.0
    size_px = (int(2 * hw * px_per_m), int(2 * hd * px_per_m))
    weight = "1000g" if spec.weight_g >= 1000 else f"{spec.weight_g:g}g"
    marks = relief_image(
        size_px,
        [
            Stamp(spec.maker, (0.2, 0.3), 0.2, serif=True),
            Stamp("足金", (0.5, 0.3), 0.22, cjk=True),
            Stamp(weight, (0.8, 0.3), 0.2),
            Stamp("Au 9999", (0.5, 0.58), 0.2, serif=True),
            Stamp(spec.serial, (0.5, 0.82), 0.14),
        ],
        blur_px=size_px[0] / 400,
    )
    rng = np.random.default_rng(7)
    ripple = rng.normal(size=(8, 16))

    def wobble(x: F64, z: F64) -> F64:
        # slow waviness of a cast, cooled surface: a few random cosines
        out: F64 = np.zeros_like(x)
        for i in range(4):
            a, b, ph = ripple[i, 0] * 40, ripple[i, 1] * 40, ripple[i, 2]
            out = out + 0.004 * thickness * np.cos((a * x / hw + b * z / hd) * 0.08 + ph)
        return out

    def top(x: F64, z: F64) -> F64:
        e = _rounded_rect_distance(x, z, hw, hd, corner)
        k = np.clip(e / bevel, 0, 1)
        edge = 0.55 + 0.45 * np.sqrt(1 - (1 - k) ** 2)
        dish = -0.03 * thickness * (1 - (x / hw) ** 2) * (1 - (z / hd) ** 2)  # the top sinks as it cools
        punched = -punch_h * sample_image(marks, x, z, hw, hd)
        out: F64 = thickness * edge + dish + punched + wobble(x, z) * k
        return out

    grid = (320, round(320 * hd / hw))
    mesh = double_heightfield_solid(
        rounded_rect_outline(hw, hd, corner), top, 0.0, grid, bottom_scale=(1 / taper, 1 / taper)
    )
    fit_volume(mesh, volume_m3, axis=1)
    return [Part(mesh, "metal", "bar")]


CAST_METAL = MaterialSpec((1.0, 0.766, 0.336, 1.0), 1.0, 0.3)
"""Cast bars are satin, not mirror."""


def fit_volume(mesh: trimesh.Trimesh, volume_m3: float, axis: int) -> None:
    """Scales the mesh along `axis` (about its centre) so that its enclosed volume is `volume_m3`."""
    current = float(abs(mesh.volume))
    if current <= 0:
        raise ValueError("mesh encloses no volume")
    scale = np.ones(3)
    scale[axis] = volume_m3 / current
    centre = mesh.bounds.mean(axis=0)
    mesh.apply_translation(-centre)
    mesh.apply_transform(np.diag([*scale, 1.0]))
    mesh.apply_translation(centre)
