"""Commemorative coins at real size: raised rim, reeded edge, relief on both faces, standing upright in a
display stand (obverse facing the customer, +Z). The thickness is solved from weight and density."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import ImageDraw

from render_node.assets._mesh import (
    DENSITY_G_PER_CM3,
    F64,
    Part,
    Stamp,
    double_heightfield_solid,
    relief_image,
    rotation,
    sample_image,
)
from render_node.assets.bars import fit_volume

MM = 1e-3


@dataclass(frozen=True)
class CoinSpec:
    weight_g: float
    diameter_mm: float
    purity: str
    face_value: str
    weight_label: str
    year: str = "2026"


def _panda(d: ImageDraw.ImageDraw, size: tuple[int, int]) -> None:
    """A panda on bamboo as layered relief (grey level = height)."""
    w, h = size
    s = min(w, h)

    def ell(cx: float, cy: float, rx: float, ry: float, level: int) -> None:
        d.ellipse([(cx - rx) * s, (cy - ry) * s, (cx + rx) * s, (cy + ry) * s], fill=level)

    # bamboo stalks behind
    for x0, lean in ((0.3, 0.05), (0.7, -0.04)):
        d.line([(x0 * s, 0.82 * s), ((x0 + lean) * s, 0.2 * s)], fill=120, width=int(0.035 * s))
        for k in range(1, 4):
            y = 0.82 - k * 0.16
            xx = x0 + lean * (0.82 - y) / 0.62
            d.line([((xx - 0.03) * s, y * s), ((xx + 0.03) * s, y * s)], fill=170, width=int(0.012 * s))
        d.polygon(
            [
                ((x0 + lean) * s, 0.35 * s),
                ((x0 + lean + 0.12) * s, 0.3 * s),
                ((x0 + lean + 0.02) * s, 0.38 * s),
            ],
            fill=150,
        )
    ell(0.5, 0.64, 0.2, 0.17, 170)  # body
    ell(0.36, 0.72, 0.07, 0.1, 235)  # arms and legs (black fur, raised)
    ell(0.64, 0.72, 0.07, 0.1, 235)
    ell(0.42, 0.8, 0.08, 0.05, 235)
    ell(0.58, 0.8, 0.08, 0.05, 235)
    ell(0.5, 0.42, 0.16, 0.14, 200)  # head
    ell(0.37, 0.3, 0.055, 0.05, 245)  # ears
    ell(0.63, 0.3, 0.055, 0.05, 245)
    ell(0.44, 0.42, 0.045, 0.035, 250)  # eye patches
    ell(0.56, 0.42, 0.045, 0.035, 250)
    ell(0.44, 0.415, 0.015, 0.015, 150)  # eyes
    ell(0.56, 0.415, 0.015, 0.015, 150)
    ell(0.5, 0.49, 0.025, 0.017, 250)  # nose


def _emblem(d: ImageDraw.ImageDraw, size: tuple[int, int]) -> None:
    """The reverse: the bank's hall with its roof and columns."""
    w, h = size
    s = min(w, h)
    d.polygon([(0.3 * s, 0.42 * s), (0.5 * s, 0.3 * s), (0.7 * s, 0.42 * s)], fill=230)
    d.rectangle([0.32 * s, 0.43 * s, 0.68 * s, 0.46 * s], fill=200)
    for k in range(6):
        x = 0.34 + k * 0.064
        d.rectangle([x * s, 0.47 * s, (x + 0.03) * s, 0.6 * s], fill=200)
    d.rectangle([0.3 * s, 0.61 * s, 0.7 * s, 0.64 * s], fill=230)


def coin(spec: CoinSpec) -> list[Part]:
    radius = spec.diameter_mm * MM / 2
    volume_m3 = spec.weight_g / DENSITY_G_PER_CM3[spec.purity] * 1e-6
    thickness = volume_m3 / (math.pi * radius**2)
    rim_w = radius * 0.07
    relief_h = thickness * 0.1
    px = 700
    obverse = relief_image(
        (px, px),
        [
            Stamp(f"熊猫 {spec.year}", (0.5, 0.12), 0.06, cjk=True),
            Stamp(f"{spec.weight_label} {spec.purity}", (0.5, 0.9), 0.055),
        ],
        draw=_panda,
        blur_px=2.5,
    )
    reverse = relief_image(
        (px, px),
        [
            Stamp("华锦银行", (0.5, 0.18), 0.075, cjk=True),
            Stamp("HUAJIN BANK", (0.5, 0.26), 0.045),
            Stamp(spec.face_value, (0.5, 0.74), 0.08, cjk=True),
            Stamp(spec.year, (0.5, 0.84), 0.06),
        ],
        draw=_emblem,
        blur_px=2.0,
    )
    reeds = int(spec.diameter_mm * 4.5)

    def outline(u: F64, v: F64) -> tuple[F64, F64]:
        cheb = np.maximum(np.abs(u), np.abs(v))
        eucl = np.hypot(u, v)
        scale = np.where(eucl > 1e-12, cheb / np.maximum(eucl, 1e-12), 0.0)
        theta = np.arctan2(v, u)
        r = radius * (1 - 0.006 * (0.5 + 0.5 * np.cos(reeds * theta)) * (cheb > 0.999))
        return u * scale * r, v * scale * r

    def face(img: F64, sign: float) -> object:
        def height(x: F64, z: F64) -> F64:
            rr = np.hypot(x, z)
            e = radius - rr
            rim = np.clip(1 - np.abs(e - rim_w * 0.6) / (rim_w * 0.6), 0, 1) ** 0.5
            edge_round = 0.75 + 0.25 * np.sqrt(np.clip(e / (rim_w * 0.4), 0, 1))
            field = np.where(e > rim_w * 1.2, sample_image(img, sign * x, z, radius, radius), 0.0)
            out: F64 = sign * (thickness / 2 * edge_round + relief_h * (1.2 * rim + field))
            return out

        return height

    mesh = double_heightfield_solid(
        outline,
        face(obverse, 1.0),  # type: ignore[arg-type]
        face(reverse, -1.0),  # type: ignore[arg-type]
        (161, 161),
    )
    fit_volume(mesh, volume_m3, axis=1)
    mesh.apply_transform(rotation(math.pi / 2, "x"))
    return [Part(mesh, "metal", "coin", crease_deg=50.0)]
