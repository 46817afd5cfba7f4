"""Share posters: product image + name + price with the time it was quoted + QR code of the link + disclaimer.

In-memory drawing (Pillow + `qrcode`); fonts are Noto Sans CJK (Debian `fonts-noto-cjk`) so Chinese renders,
with Pillow's built-in font as a fallback. Run it off the event loop (`asyncio.to_thread`): ~50 ms a poster.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont

WIDTH_PX, HEIGHT_PX = 1080, 1600
CHINA_TZ = timezone(timedelta(hours=8), "CST")
_FONT_DIRS = (Path("/usr/share/fonts/opentype/noto"), Path("/usr/share/fonts/opentype/noto-cjk"),
              Path("/usr/share/fonts/noto-cjk"))
INK = (33, 30, 28)
MUTED = (120, 110, 100)
GOLD = (168, 124, 38)
PAPER = (250, 247, 240)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class PosterContent:
    bank_name: str
    title_zh: str
    title_en: str
    variant_label: str
    price_cny: str | None
    quoted_at: datetime | None
    link_url: str
    disclaimer: str
    product_png: bytes | None = None


@cache
def cjk_font(bold: bool, size_px: int) -> Font:
    """Noto Sans CJK SC (regular or bold) at `size_px`; Pillow's built-in font when Noto is not installed."""
    name = "NotoSansCJK-Bold.ttc" if bold else "NotoSansCJK-Regular.ttc"
    for folder in _FONT_DIRS:
        path = folder / name
        if path.is_file():
            return ImageFont.truetype(str(path), size_px, index=2)  # index 2: the SC (Simplified Chinese) face
    return ImageFont.load_default(size_px)


def wrap_text(draw: ImageDraw.ImageDraw, text: str, font: Font, width_px: int) -> list[str]:
    """Greedy line breaking that works for CJK (no spaces) and Latin text alike."""
    lines: list[str] = []
    current = ""
    for ch in text:
        trial = current + ch
        if draw.textlength(trial, font=font) <= width_px or not current:
            current = trial
        else:
            cut = current.rfind(" ")
            if ch != " " and cut > len(current) // 2:
                lines.append(current[:cut])
                current = current[cut + 1:] + ch
            else:
                lines.append(current.rstrip())
                current = ch.lstrip()
    if current:
        lines.append(current)
    return lines


def _qr(url: str, size_px: int) -> Image.Image:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=2)
    code.add_data(url)
    code.make(fit=True)
    img: Image.Image = code.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    return img.resize((size_px, size_px), Image.Resampling.NEAREST)


def _product_panel(png: bytes | None, size: tuple[int, int], fallback_text: str) -> Image.Image:
    panel = Image.new("RGB", size, (236, 230, 218))
    if png:
        try:
            opened = Image.open(io.BytesIO(png))
            if opened.width * opened.height > 40_000_000:
                raise ValueError("image too large")
            img = opened.convert("RGBA")
            scale = min(size[0] * 0.94 / img.width, size[1] * 0.94 / img.height)
            img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                             Image.Resampling.LANCZOS)
            panel.paste(img, ((size[0] - img.width) // 2, (size[1] - img.height) // 2), img)
            return panel
        except (OSError, ValueError, Image.DecompressionBombError):
            pass
    draw = ImageDraw.Draw(panel)
    font = cjk_font(True, 64)
    text = fallback_text[:12]
    w = draw.textlength(text, font=font)
    draw.text(((size[0] - w) / 2, size[1] / 2 - 40), text, font=font, fill=GOLD)
    return panel


def render_poster(content: PosterContent) -> bytes:
    """The poster as PNG bytes (1080 x 1600)."""
    img = Image.new("RGB", (WIDTH_PX, HEIGHT_PX), PAPER)
    draw = ImageDraw.Draw(img)
    margin = 64
    # header band
    draw.rectangle((0, 0, WIDTH_PX, 120), fill=INK)
    draw.text((margin, 34), content.bank_name, font=cjk_font(True, 44), fill=(236, 205, 140))
    # product image
    panel_h = 760
    img.paste(_product_panel(content.product_png, (WIDTH_PX - 2 * margin, panel_h), content.title_zh),
              (margin, 150))
    y = 150 + panel_h + 36
    for line in wrap_text(draw, content.title_zh, cjk_font(True, 54), WIDTH_PX - 2 * margin)[:2]:
        draw.text((margin, y), line, font=cjk_font(True, 54), fill=INK)
        y += 70
    for line in wrap_text(draw, content.title_en, cjk_font(False, 30), WIDTH_PX - 2 * margin)[:2]:
        draw.text((margin, y), line, font=cjk_font(False, 30), fill=MUTED)
        y += 40
    draw.text((margin, y + 4), content.variant_label, font=cjk_font(False, 32), fill=INK)
    y += 64
    # price and QR side by side
    qr_px = 260
    qr_x, qr_y = WIDTH_PX - margin - qr_px, y
    img.paste(_qr(content.link_url, qr_px), (qr_x, qr_y))
    draw.text((qr_x + 10, qr_y + qr_px + 8), "扫码查看 360° 展示", font=cjk_font(False, 26), fill=MUTED)
    if content.price_cny is not None:
        whole, _, cents = content.price_cny.partition(".")
        price = f"¥{int(whole):,}.{cents or '00'}"
        draw.text((margin, y), "参考价 Reference price", font=cjk_font(False, 30), fill=MUTED)
        draw.text((margin, y + 40), price, font=cjk_font(True, 84), fill=GOLD)
        if content.quoted_at is not None:
            when = content.quoted_at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
            draw.text((margin, y + 150), f"报价时间 Quoted {when} (UTC+8)", font=cjk_font(False, 28), fill=INK)
    # disclaimer
    foot_font = cjk_font(False, 22)
    lines = wrap_text(draw, content.disclaimer, foot_font, WIDTH_PX - 2 * margin)[:6]
    fy = HEIGHT_PX - 40 - 30 * len(lines)
    draw.line((margin, fy - 20, WIDTH_PX - margin, fy - 20), fill=(210, 200, 185), width=2)
    for line in lines:
        draw.text((margin, fy), line, font=foot_font, fill=MUTED)
        fy += 30
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()
