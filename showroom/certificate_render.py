"""Certificates drawn for people: the QR code (what it carries: a /verify link holding the compact certificate)
and an A4 page as PNG or PDF (Pillow saves the PDF). Run off the event loop (`asyncio.to_thread`)."""

from __future__ import annotations

import io
from collections.abc import Mapping

import qrcode
from PIL import Image, ImageDraw

from showroom.certificates import FIELDS
from showroom.poster import GOLD, INK, MUTED, PAPER, cjk_font, wrap_text

A4_PX = (1240, 1754)  # A4 at 150 dpi
_SHOWN = ("serial", "product", "variant", "fineness", "weight_g", "hallmark", "price_paid_cny", "purchased_at",
          "branch", "owner", "issued_at", "certificate_id", "order_id", "unit", "supersedes")


def qr_image(text: str, size_px: int) -> Image.Image:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_L, box_size=6, border=3)
    code.add_data(text)
    code.make(fit=True)
    img: Image.Image = code.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    return img.resize((size_px, size_px), Image.Resampling.NEAREST)


def qr_png(text: str, size_px: int = 480) -> bytes:
    out = io.BytesIO()
    qr_image(text, size_px).save(out, format="PNG")
    return out.getvalue()


def _label(name: str) -> str:
    text = FIELDS[name].removeprefix("the ")
    return text[:1].upper() + text[1:]


def certificate_page(fields: Mapping[str, str], qr_text: str, kid: str, status: str) -> Image.Image:
    """The certificate as an A4 page: the bank, every certified field, the QR code and the key id."""
    img = Image.new("RGB", A4_PX, PAPER)
    draw = ImageDraw.Draw(img)
    w, h = A4_PX
    draw.rectangle((30, 30, w - 30, h - 30), outline=GOLD, width=6)
    draw.text((90, 90), fields.get("bank", ""), font=cjk_font(True, 46), fill=INK)
    draw.text((90, 160), "贵金属实物证书 · Certificate of the item", font=cjk_font(True, 40), fill=GOLD)
    if status != "valid":
        draw.text((90, 220), f"REVOKED 已作废 ({status})", font=cjk_font(True, 40), fill=(170, 30, 30))
    y = 300
    label_font, value_font = cjk_font(False, 26), cjk_font(True, 30)
    for name in _SHOWN:
        value = fields.get(name, "")
        if not value:
            continue
        if name == "weight_g":
            value += " g"
        elif name == "price_paid_cny":
            value = f"¥{value} CNY"
        draw.text((90, y), _label(name), font=label_font, fill=MUTED)
        for line in wrap_text(draw, value, value_font, w - 520):
            draw.text((400, y - 2), line, font=value_font, fill=INK)
            y += 42
        y += 12
    qr_size = 460
    img.paste(qr_image(qr_text, qr_size), ((w - qr_size) // 2, h - qr_size - 210))
    small = cjk_font(False, 22)
    note = (f"Ed25519 key {kid} · scan or open /verify to check this certificate offline; every field is signed "
            "(docs/commerce.md, Certificates)")
    ny = h - 180
    for line in wrap_text(draw, note, small, w - 180):
        draw.text((90, ny), line, font=small, fill=MUTED)
        ny += 30
    return img


def certificate_pdf(fields: Mapping[str, str], qr_text: str, kid: str, status: str) -> bytes:
    out = io.BytesIO()
    certificate_page(fields, qr_text, kid, status).save(out, format="PDF", resolution=150.0,
                                                        title=f"Certificate {fields.get('serial', '')}",
                                                        author=fields.get("bank", ""))
    return out.getvalue()
