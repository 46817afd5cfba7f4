"""The hall's signs and the stand's ruler as textures (Pillow, Noto CJK through `showroom.poster.cjk_font`).

A sign is a Chinese line over an English line:
- `header` (the zones' signs): warm white Chinese and gold English on bank red, a gold coin mark at the left;
- `welcome`: gold Chinese and warm white English on bank red, larger;
- `label` (small desk labels): bank red Chinese and dark gold English on warm white.

The ruler is 10 cm with millimetre, 5 mm and centimetre ticks and its numbers, black on white. Posters
(`Poster`) are light boxes the scene hangs on bare walls: a title, a subtitle and a drawn motif (gold bars, a car).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw

from render_node.hall._materials import linear_to_srgb
from render_node.hall._mesh import Chunk, quad
from render_node.hall.layout import BANK_GOLD, BANK_RED, Sign, Stand
from showroom.poster import cjk_font

SIGN_PX_PER_M = 320
SIGN_LIGHT = (0.96, 0.96, 0.96)
"""Signs are lit from within: a fixed vertex colour, not the baked light."""
RULER_LENGTH_M = 0.10
RULER_MARGIN_M = 0.006
RULER_WIDTH_M = 0.03
RULER_PX_PER_MM = 10


def _srgb8(linear: Sequence[float]) -> tuple[int, int, int]:
    c = linear_to_srgb(np.asarray(linear, np.float64))
    return (int(c[0] * 255 + 0.5), int(c[1] * 255 + 0.5), int(c[2] * 255 + 0.5))


RED = _srgb8(BANK_RED)
GOLD = _srgb8(BANK_GOLD)
DARK_GOLD = (150, 108, 40)
WARM_WHITE = (250, 246, 236)
INK = (28, 26, 24)


def _fit_font(draw: ImageDraw.ImageDraw, text: str, bold: bool, height_px: int, width_px: int) -> tuple[object, int]:
    """The largest font (at most `height_px` tall) that fits `text` within `width_px`; returns it and its size."""
    size = max(8, height_px)
    while size > 8:
        font = cjk_font(bold, size)
        if draw.textlength(text, font=font) <= width_px:
            return font, size
        size = int(size * 0.92)
    return cjk_font(bold, 8), 8


def _coin(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, colour: tuple[int, int, int], bg: tuple[int, int, int]) -> None:
    """The bank's mark: a round coin with a square hole."""
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    draw.ellipse((cx - r * 0.82, cy - r * 0.82, cx + r * 0.82, cy + r * 0.82), outline=bg, width=max(1, int(r * 0.06)))
    h = r * 0.3
    draw.rectangle((cx - h, cy - h, cx + h, cy + h), fill=bg)


def sign_image(sign: Sign, px_per_m: int = SIGN_PX_PER_M) -> Image.Image:
    """The sign's face as an RGB image, `size_m` at `px_per_m`."""
    w_px = max(16, round(sign.size_m[0] * px_per_m))
    h_px = max(16, round(sign.size_m[1] * px_per_m))
    if sign.style == "label":
        bg, zh_col, en_col, frame = WARM_WHITE, RED, DARK_GOLD, RED
    elif sign.style == "welcome":
        bg, zh_col, en_col, frame = RED, GOLD, WARM_WHITE, GOLD
    else:
        bg, zh_col, en_col, frame = RED, WARM_WHITE, GOLD, GOLD
    img = Image.new("RGB", (w_px, h_px), bg)
    draw = ImageDraw.Draw(img)
    inset = max(3, h_px // 18)
    draw.rectangle((inset, inset, w_px - 1 - inset, h_px - 1 - inset), outline=frame, width=max(2, h_px // 60))
    left = inset * 2
    if sign.style != "label" and w_px > 2.5 * h_px:
        r = h_px * 0.28
        _coin(draw, left + r + inset, h_px / 2, r, GOLD, bg)
        left = int(left + 2 * r + 3 * inset)
    right = w_px - inset * 2 - (left - inset * 2 if sign.style != "label" and w_px > 2.5 * h_px else 0)
    avail = right - left
    zh_font, _ = _fit_font(draw, sign.zh, True, int(h_px * (0.46 if sign.style != "label" else 0.44)), avail)
    en_font, _ = _fit_font(draw, sign.en, sign.style == "welcome", int(h_px * 0.20), avail)
    zb = draw.textbbox((0, 0), sign.zh, font=zh_font)  # type: ignore[arg-type]
    eb = draw.textbbox((0, 0), sign.en, font=en_font)  # type: ignore[arg-type]
    zh_h, en_h = zb[3] - zb[1], eb[3] - eb[1]
    gap = h_px * 0.08
    top = (h_px - (zh_h + gap + en_h)) / 2
    cx = (left + right) / 2
    draw.text((cx - (zb[2] - zb[0]) / 2 - zb[0], top - zb[1]), sign.zh, font=zh_font, fill=zh_col)  # type: ignore[arg-type]
    draw.text((cx - (eb[2] - eb[0]) / 2 - eb[0], top + zh_h + gap - eb[1]), sign.en, font=en_font, fill=en_col)  # type: ignore[arg-type]
    return img


def ruler_image() -> Image.Image:
    """The 10 cm ruler's face: (length + margins) x width at `RULER_PX_PER_MM`, 0 at the left."""
    ppm = RULER_PX_PER_MM
    w_px = round((RULER_LENGTH_M + 2 * RULER_MARGIN_M) * 1000 * ppm)
    h_px = round(RULER_WIDTH_M * 1000 * ppm)
    img = Image.new("RGB", (w_px, h_px), (252, 251, 248))
    draw = ImageDraw.Draw(img)
    x0 = RULER_MARGIN_M * 1000 * ppm
    font = cjk_font(True, int(h_px * 0.26))
    for mm in range(0, 101):
        x = x0 + mm * ppm
        length = 0.42 if mm % 10 == 0 else 0.30 if mm % 5 == 0 else 0.18
        width = 3 if mm % 10 == 0 else 2
        draw.line((x, 0, x, h_px * length), fill=INK, width=width)
        if mm % 10 == 0:
            label = str(mm // 10)
            tw = draw.textlength(label, font=font)
            draw.text((x - tw / 2, h_px * 0.45), label, font=font, fill=INK)
    unit = cjk_font(False, int(h_px * 0.2))
    draw.text((x0 + 100 * ppm - draw.textlength("cm", font=unit) - 6, h_px * 0.72), "cm", font=unit, fill=RED)
    draw.rectangle((0, 0, w_px - 1, h_px - 1), outline=(70, 68, 64), width=4)
    return img


@dataclass(frozen=True)
class Poster:
    """A light-box poster on a wall (decoration, not in the plan's signs): title, subtitle, a drawn motif."""

    id: str
    zh: str
    en: str
    motif: Literal["bars", "car"]


POSTER_SIZE_M = (1.2, 1.8)


def poster_image(poster: Poster, px_per_m: int = 300) -> Image.Image:
    """Bank red fading to deep red, gold frame, gold Chinese title, warm white English, and the motif."""
    w_px, h_px = round(POSTER_SIZE_M[0] * px_per_m), round(POSTER_SIZE_M[1] * px_per_m)
    top, bottom = np.array(RED, np.float64), np.array(RED, np.float64) * 0.45
    t = np.linspace(0, 1, h_px)[:, None, None]
    grad = (top * (1 - t) + bottom * t).repeat(w_px, axis=1)
    img = Image.fromarray(np.clip(grad + 0.5, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    inset = w_px // 20
    draw.rectangle((inset, inset, w_px - 1 - inset, h_px - 1 - inset), outline=GOLD, width=max(2, w_px // 120))
    avail = w_px - 4 * inset
    zh_font, _ = _fit_font(draw, poster.zh, True, int(h_px * 0.09), avail)
    en_font, _ = _fit_font(draw, poster.en, False, int(h_px * 0.045), avail)
    y = h_px * 0.10
    for text, font, colour in ((poster.zh, zh_font, GOLD), (poster.en, en_font, WARM_WHITE)):
        box = draw.textbbox((0, 0), text, font=font)  # type: ignore[arg-type]
        draw.text(((w_px - (box[2] - box[0])) / 2 - box[0], y - box[1]), text, font=font, fill=colour)  # type: ignore[arg-type]
        y += (box[3] - box[1]) + h_px * 0.035
    _coin(draw, w_px / 2, h_px * 0.36, w_px * 0.06, GOLD, tuple(int(c) for c in (top * 0.8)))  # type: ignore[arg-type]
    if poster.motif == "bars":
        _bars(draw, w_px, h_px)
    else:
        _car(draw, w_px, h_px)
    return img


def _bars(draw: ImageDraw.ImageDraw, w: int, h: int) -> None:
    """Three gold bars stacked as a small pyramid."""
    bw, bh = w * 0.30, h * 0.07
    rows = [(0.5, 0.58), (0.33, 0.67), (0.67, 0.67)]
    for cx, cy in rows[::-1][:2] + rows[:1]:
        x, y = w * cx, h * cy
        draw.polygon([(x - bw / 2, y + bh / 2), (x + bw / 2, y + bh / 2), (x + bw * 0.38, y - bh / 2),
                      (x - bw * 0.38, y - bh / 2)], fill=GOLD, outline=DARK_GOLD)
        draw.polygon([(x - bw * 0.30, y - bh * 0.2), (x + bw * 0.30, y - bh * 0.2), (x + bw * 0.26, y - bh * 0.42),
                      (x - bw * 0.26, y - bh * 0.42)], fill=(246, 226, 170))


def _car(draw: ImageDraw.ImageDraw, w: int, h: int) -> None:
    """A side view of a saloon in gold lines."""
    y0 = h * 0.70
    pts = [(0.12, 0.0), (0.14, -0.05), (0.30, -0.07), (0.40, -0.14), (0.64, -0.14), (0.76, -0.07), (0.88, -0.05),
           (0.89, 0.0)]
    poly = [(w * x, y0 + h * y) for x, y in pts]
    draw.polygon(poly, fill=GOLD, outline=DARK_GOLD)
    draw.polygon([(w * 0.42, y0 - h * 0.125), (w * 0.51, y0 - h * 0.125), (w * 0.51, y0 - h * 0.075),
                  (w * 0.34, y0 - h * 0.075)], fill=(246, 226, 170))
    draw.polygon([(w * 0.53, y0 - h * 0.125), (w * 0.62, y0 - h * 0.125), (w * 0.71, y0 - h * 0.075),
                  (w * 0.53, y0 - h * 0.075)], fill=(246, 226, 170))
    for cx in (0.28, 0.73):
        r = w * 0.065
        draw.ellipse((w * cx - r, y0 - r, w * cx + r, y0 + r), fill=INK, outline=GOLD, width=max(2, w // 100))
    draw.line((w * 0.08, y0 + w * 0.07, w * 0.92, y0 + w * 0.07), fill=GOLD, width=max(2, w // 150))


def poster_chunk(poster: Poster, center: tuple[float, float, float], normal: tuple[float, float, float]) -> Chunk:
    return quad(f"poster:{poster.id}", center, normal, POSTER_SIZE_M, emit=SIGN_LIGHT)


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def sign_chunk(sign: Sign) -> Chunk:
    """The sign's quad (material `sign:<id>`), lit from within."""
    return quad(f"sign:{sign.id}", sign.center_m, sign.normal, sign.size_m, emit=SIGN_LIGHT)


def ruler_chunk(stand: Stand) -> Chunk:
    """The ruler lying on the stand at `ruler_m`, along +X, read from the south (the stand's view point)."""
    x, y, z = stand.ruler_m
    length = RULER_LENGTH_M + 2 * RULER_MARGIN_M
    return quad("ruler", (x, y + 0.0015, z), (0.0, 1.0, 0.0), (length, RULER_WIDTH_M), up=(0.0, 0.0, -1.0))
