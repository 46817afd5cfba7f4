"""The hall's live panels drawn as images: price tags, the gold price chart, the loan panel, the notices board,
the service buttons. Pillow with Noto Sans CJK (Chinese first, English second); the renderer shows each image on
a quad (`render_node/render/placements.py`) and caches it by its `PanelContent`, so each content is drawn once.

What `PanelContent` carries per kind (`lines` are plain text the node composes, money already formatted):
- price_tag: the product's name (zh, en); `lines[0]` the price ("¥ 6,352.80"), big in the bank's red. A tag with
  that one line shows a gold "live" dot; further lines (small, muted) say why it is not live ("价格待更新 · price
  not live", "建议零售价 · list price"), so those tags show no dot. `highlight` marks the focused item's tag.
- gold_chart: title (zh, en); `values` the price series, oldest first: a line chart with its value axis, the
  change since the first value (a rise red, a fall green, as in Chinese markets). `lines[0]` the latest price as
  text, shown big ("¥ 556.52 /g"; formatted from `values[-1]` when empty), further lines small captions under
  the chart ("as of 10:32", "recorded since 09:00"). Without values the lines are shown as a message.
- loan, notices, text: title (zh, en) and `lines`; a row "label\\tvalue", "label: value" or "label ¥ 1,234" is
  drawn as the label left and the value right-aligned; a loan's last row, when it has a value (the monthly
  instalment), is larger on a gold band. Notices get a bullet each, wrapped.
- button: a rounded bank-red button, the zh label large and the en label under it; `highlight` when pointed at.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter

from render_node.render.types import PanelContent
from showroom.poster import Font, cjk_font, wrap_text

RGBA8 = npt.NDArray[np.uint8]
RGB = tuple[int, int, int]

NAVY: RGB = (11, 24, 48)
NAVY_LIGHT: RGB = (24, 44, 80)
GOLD: RGB = (214, 170, 88)
GOLD_PALE: RGB = (240, 214, 150)
RED: RGB = (190, 22, 42)
RED_DARK: RGB = (150, 12, 30)
IVORY: RGB = (251, 248, 241)
INK: RGB = (30, 32, 40)
MUTED: RGB = (118, 112, 104)
SCREEN_TEXT: RGB = (232, 236, 244)
SCREEN_MUTED: RGB = (150, 164, 190)
UP: RGB = (230, 70, 70)
"""A rise in red and a fall in green: the convention of Chinese markets."""
DOWN: RGB = (60, 190, 120)
MIN_FONT_PX = 8


def draw_panel(content: PanelContent, size_px: tuple[int, int]) -> RGBA8:
    """The panel as `(h, w, 4) uint8` RGBA (sRGB, straight alpha) of `size_px` = (width, height)."""
    w, h = size_px
    if w < 8 or h < 8:
        raise ValueError(f"a panel of {w}x{h} pixels is too small to draw")
    painters = {
        "price_tag": _price_tag,
        "gold_chart": _gold_chart,
        "loan": _terms_screen,
        "notices": _notices,
        "button": _button,
        "text": _terms_screen,
    }
    img = painters[content.kind](content, w, h)
    out: RGBA8 = np.asarray(img.convert("RGBA"), dtype=np.uint8)
    return out


# -- drawing helpers ------------------------------------------------------------------------------------------


def _font(bold: bool, size_px: float) -> Font:
    return cjk_font(bold, max(MIN_FONT_PX, round(size_px)))


def _fit(draw: ImageDraw.ImageDraw, text: str, bold: bool, size_px: float, width_px: float) -> Font:
    """The largest font up to `size_px` in which `text` fits `width_px`."""
    size = max(MIN_FONT_PX, round(size_px))
    font = cjk_font(bold, size)
    length = draw.textlength(text, font=font)
    if length > width_px > 0:
        size = max(MIN_FONT_PX, math.floor(size * width_px / length))
        font = cjk_font(bold, size)
    return font


def _text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, font: Font, fill: RGB,
          anchor: str = "la") -> None:
    draw.text(xy, text, font=font, fill=fill, anchor=anchor)


def _split_term(line: str) -> tuple[str, str]:
    """("label", "value") of a row: split at a tab or a colon, else before an amount in yuan; ("line", "")."""
    for sep in ("\t", "：", ": "):
        if sep in line:
            label, _, value = line.partition(sep)
            return label.strip(), value.strip()
    cut = line.find("¥")
    if cut > 0:
        return line[:cut].strip(), line[cut:].strip()
    return line, ""


def _vertical_gradient(w: int, h: int, top: RGB, bottom: RGB) -> Image.Image:
    t = np.linspace(0.0, 1.0, h)[:, None, None]
    rows = (np.asarray(top, float) * (1 - t) + np.asarray(bottom, float) * t).astype(np.uint8)
    return Image.fromarray(np.repeat(rows, w, axis=1))


def _screen(w: int, h: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """A dark navy screen with a faint gold keyline inside its edge."""
    img = _vertical_gradient(w, h, NAVY_LIGHT, NAVY)
    draw = ImageDraw.Draw(img, "RGBA")
    inset = max(2, round(min(w, h) * 0.018))
    draw.rectangle((inset, inset, w - 1 - inset, h - 1 - inset), outline=(*GOLD, 110), width=max(1, inset // 3))
    return img, draw


def _header(draw: ImageDraw.ImageDraw, content: PanelContent, w: int, u: float, x0: float, y0: float,
            right_px: float = 0.0) -> float:
    """Zh title, en title beside it, a gold rule under them; returns the y below the rule."""
    avail = w - 2 * x0 - right_px
    zh_font = _fit(draw, content.title_zh or " ", True, 9 * u, avail * 0.62)
    _text(draw, (x0, y0), content.title_zh, zh_font, SCREEN_TEXT)
    zh_w = draw.textlength(content.title_zh, font=zh_font)
    en_font = _fit(draw, content.title_en or " ", False, 4.6 * u, max(avail - zh_w - 3 * u, 10))
    bottom = y0 + float(getattr(zh_font, "size", 9 * u)) * 1.16
    _text(draw, (x0 + zh_w + 3 * u, bottom - 1.2 * u), content.title_en, en_font, GOLD_PALE, "ls")
    rule_y = bottom + 2.5 * u
    draw.line((x0, rule_y, x0 + avail, rule_y), fill=(*GOLD, 200), width=max(1, round(0.5 * u)))
    return rule_y + 4 * u


def _live_dot(img: Image.Image, cx: float, cy: float, r: float) -> None:
    """A small gold dot with a soft halo: the price is live. `img` is RGB (drawing blends into it)."""
    reach = math.ceil(r * 5)
    x0, y0 = max(0, round(cx) - reach), max(0, round(cy) - reach)
    box = (x0, y0, min(img.width, round(cx) + reach), min(img.height, round(cy) + reach))
    halo = Image.new("L", (box[2] - x0, box[3] - y0), 0)  # only around the dot: a blur of the whole panel is slow
    ImageDraw.Draw(halo).ellipse((cx - x0 - 2.4 * r, cy - y0 - 2.4 * r, cx - x0 + 2.4 * r, cy - y0 + 2.4 * r), fill=90)
    img.paste(GOLD, box, halo.filter(ImageFilter.GaussianBlur(max(0.5, r * 0.8))))
    ImageDraw.Draw(img).ellipse((cx - r, cy - r, cx + r, cy + r), fill=GOLD)


def _rounded(img: Image.Image, radius: float) -> Image.Image:
    """The RGB drawing as RGBA with its corners rounded off (clear)."""
    mask = Image.new("L", img.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, img.width - 1, img.height - 1), radius=radius, fill=255)
    out = img.convert("RGBA")
    out.putalpha(mask)
    return out


# -- the kinds ------------------------------------------------------------------------------------------------


def _price_tag(content: PanelContent, w: int, h: int) -> Image.Image:
    """An ivory card with a gold edge: name (zh bold, en small), the price big in bank red, a live dot."""
    u = h / 100
    edge = max(1, round((3.2 if content.highlight else 1.6) * u))
    fill = (255, 243, 212) if content.highlight else IVORY
    img = Image.new("RGB", (w, h), fill)
    draw = ImageDraw.Draw(img, "RGBA")
    draw.rounded_rectangle((0, 0, w - 1, h - 1), radius=9 * u, outline=RED if content.highlight else GOLD,
                           width=edge)
    pad = 8 * u
    band_w = max(2, round(2.6 * u))
    draw.rectangle((pad * 0.55, 18 * u, pad * 0.55 + band_w, h - 18 * u), fill=(*RED, 255))
    x0 = pad * 0.55 + band_w + 5 * u
    avail = w - x0 - pad
    dot_r = 3.4 * u
    name_font = _fit(draw, content.title_zh or " ", True, 19 * u, avail - 4 * dot_r)
    _text(draw, (x0, 8 * u), content.title_zh, name_font, INK)
    en_font = _fit(draw, content.title_en or " ", False, 10.5 * u, avail - 4 * dot_r)
    _text(draw, (x0, 33 * u), content.title_en, en_font, MUTED)
    price = content.lines[0] if content.lines else ""
    small = content.lines[1:]
    price_y = 84 * u if not small else 72 * u
    price_font = _fit(draw, price or " ", True, 30 * u, avail)
    _text(draw, (x0, price_y), price, price_font, RED_DARK if content.highlight else RED, "ls")
    if small:
        small_font = _fit(draw, "  ".join(small), False, 9.5 * u, avail)
        _text(draw, (x0, 89 * u), "  ".join(small), small_font, MUTED, "ls")
    if len(content.lines) == 1:
        _live_dot(img, w - pad - dot_r * 0.5, 14 * u, dot_r)
    return _rounded(img, 9 * u)


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2, 2.5 or 5 times a power of ten)."""
    span = max(hi - lo, 1e-9)
    raw = span / max(1, count - 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    ticks = []
    t = first
    while t <= hi + step * 0.5:
        ticks.append(round(t, 10))
        t += step
    return ticks


def _gold_chart(content: PanelContent, w: int, h: int) -> Image.Image:
    """A dark trading screen: title, the latest price big with its change, a gold line chart with axes."""
    img, draw = _screen(w, h)
    u = h / 100
    x0 = 5 * u
    values = [float(v) for v in content.values if math.isfinite(v)]
    captions = [line for line in content.lines[1:] if line]
    price_w = w * 0.36
    top = _header(draw, content, w, u, x0, 4 * u, right_px=price_w if values else 0.0)
    if not values:  # no price yet: the lines as a message in the middle of the screen
        for i, line in enumerate(content.lines[:3]):
            font = _fit(draw, line, i == 0, (9 if i == 0 else 5.5) * u, w - 2 * x0)
            _text(draw, (w / 2, h * 0.5 + i * 11 * u), line, font, SCREEN_TEXT if i == 0 else SCREEN_MUTED, "mm")
        return img
    latest = values[-1]
    change = (latest - values[0]) / values[0] * 100 if values[0] else 0.0
    price = content.lines[0] if content.lines and content.lines[0] else f"¥ {latest:,.2f}"
    price_font = _fit(draw, price, True, 12 * u, price_w)
    _text(draw, (w - x0, 3.5 * u), price, price_font, GOLD_PALE, "ra")
    arrow = "▲" if change > 0 else ("▼" if change < 0 else "■")
    colour = UP if change > 0 else (DOWN if change < 0 else SCREEN_MUTED)
    _text(draw, (w - x0, 21 * u), f"{arrow} {change:+.2f}%", _font(True, 4.6 * u), colour, "ra")
    # plot area
    label_font = _font(False, 3.6 * u)
    left = x0 + 13 * u
    right = w - x0 - 2 * u
    bottom = h - (10 * u if captions else 6 * u)
    top = max(top, 28 * u) + 2 * u
    if len(values) >= 2:
        lo, hi = min(values), max(values)
        pad = max((hi - lo) * 0.12, abs(hi) * 1e-4, 1e-6)
        ticks = _nice_ticks(lo - pad, hi + pad)
        vlo, vhi = ticks[0], ticks[-1]
        decimals = 0 if (ticks[1] - ticks[0]) >= 1 else 2

        def y_of(v: float) -> float:
            return bottom - (v - vlo) / (vhi - vlo) * (bottom - top)

        for t in ticks:
            y = y_of(t)
            draw.line((left, y, right, y), fill=(*SCREEN_MUTED, 45), width=1)
            _text(draw, (left - 1.5 * u, y), f"{t:,.{decimals}f}", label_font, SCREEN_MUTED, "rm")
        n = len(values)
        pts = [(left + (right - left) * i / (n - 1), y_of(v)) for i, v in enumerate(values)]
        # the area under the line: gold fading into the screen
        mask = Image.new("L", img.size, 0)
        ImageDraw.Draw(mask).polygon([(left, bottom), *pts, (right, bottom)], fill=255)
        ramp = np.linspace(110, 0, max(1, round(bottom - top)))
        alpha = np.zeros((h, w), np.uint8)
        alpha[round(top):round(top) + len(ramp)] = ramp[:, None].astype(np.uint8)[: h - round(top)]
        img.paste(GOLD, (0, 0, w, h), Image.fromarray(np.minimum(alpha, np.asarray(mask))))
        draw = ImageDraw.Draw(img, "RGBA")
        draw.line(pts, fill=(*GOLD, 255), width=max(2, round(0.9 * u)), joint="curve")
        _live_dot(img, pts[-1][0], pts[-1][1], 1.3 * u)
        draw = ImageDraw.Draw(img, "RGBA")
    draw.line((left, bottom, right, bottom), fill=(*SCREEN_MUTED, 140), width=max(1, round(0.3 * u)))
    if captions:  # e.g. when the price was quoted and since when this series runs
        caption_font = _fit(draw, "   ".join(captions), False, 3.6 * u, right - left)
        if len(captions) == 2:
            _text(draw, (left, bottom + 2.5 * u), captions[0], caption_font, SCREEN_MUTED)
            _text(draw, (right, bottom + 2.5 * u), captions[1], caption_font, SCREEN_MUTED, "ra")
        else:
            _text(draw, (left, bottom + 2.5 * u), "   ·   ".join(captions), caption_font, SCREEN_MUTED)
    return img


def _term_rows(draw: ImageDraw.ImageDraw, img_w: int, lines: Sequence[str], u: float, x0: float, y: float,
               bottom: float, bullet: bool, emphasise_last: bool = False) -> None:
    """Label/value rows filling [y, bottom]; with `emphasise_last` the last row (the monthly instalment) is
    taller, its value larger, on a faint gold band."""
    rows = max(1, len(lines))
    weights = [1.0] * rows
    emphasise_last = emphasise_last and rows > 1 and bool(_split_term(lines[-1])[1])
    if emphasise_last:
        weights[-1] = 1.5
    unit_h = min(16 * u, (bottom - y) / sum(weights))
    tops = [y + unit_h * sum(weights[:i]) for i in range(rows)]
    for i, line in enumerate(lines):
        label, value = _split_term(line)
        big = emphasise_last and i == rows - 1
        row_h = unit_h * weights[i]
        cy = tops[i] + row_h / 2
        if big:
            draw.rectangle((x0 - 1.5 * u, tops[i] + 0.8 * u, img_w - x0 + 1.5 * u, tops[i] + row_h - 0.8 * u),
                           fill=(*GOLD, 38))
        if bullet:
            r = 1.1 * u
            draw.polygon([(x0 + r, cy - r), (x0 + 2 * r, cy), (x0 + r, cy + r), (x0, cy)], fill=(*GOLD, 255))
        lx = x0 + (4 * u if bullet else 0)
        avail = img_w - x0 - lx
        if value:
            value_font = _fit(draw, value, True, row_h * (0.52 if big else 0.46), avail * 0.45)
            _text(draw, (img_w - x0, cy), value, value_font, GOLD_PALE, "rm")
            label_font = _fit(draw, label, big, unit_h * 0.38, avail * 0.5)
            _text(draw, (lx, cy), label, label_font, SCREEN_TEXT, "lm")
        else:
            label_font = _fit(draw, label, False, row_h * 0.42, avail)
            _text(draw, (lx, cy), label, label_font, SCREEN_TEXT, "lm")
        if i < len(lines) - 1 and not bullet and not (emphasise_last and i == rows - 2):
            ly = tops[i] + row_h
            draw.line((x0, ly, img_w - x0, ly), fill=(*SCREEN_MUTED, 50), width=1)


def _terms_screen(content: PanelContent, w: int, h: int) -> Image.Image:
    """A navy screen with a title and label/value rows (the loan: down payment, term, APR, monthly)."""
    img, draw = _screen(w, h)
    u = h / 100
    x0 = 6 * u
    top = _header(draw, content, w, u, x0, 5 * u)
    _term_rows(draw, w, content.lines, u, x0, top, h - 6 * u, bullet=False, emphasise_last=content.kind == "loan")
    return img


def _notices(content: PanelContent, w: int, h: int) -> Image.Image:
    """The bank's notices: a title and one bulleted, wrapped item per line."""
    img, draw = _screen(w, h)
    u = h / 100
    x0 = 6 * u
    y = _header(draw, content, w, u, x0, 5 * u)
    font = _font(False, 5.4 * u)
    line_h = 5.4 * u * 1.35
    text_x = x0 + 4.5 * u
    for item in content.lines:
        wrapped = wrap_text(draw, item, font, int(w - text_x - x0))
        if y + line_h * len(wrapped) > h - 4 * u:
            break
        r = 1.1 * u
        cy = y + line_h * 0.5
        draw.polygon([(x0 + r, cy - r), (x0 + 2 * r, cy), (x0 + r, cy + r), (x0, cy)], fill=(*GOLD, 255))
        for part in wrapped:
            _text(draw, (text_x, y + line_h * 0.5), part, font, SCREEN_TEXT, "lm")
            y += line_h
        y += line_h * 0.35
    return img


def _button(content: PanelContent, w: int, h: int) -> Image.Image:
    """A rounded bank-red button: zh label large, en label under it; gold edge when highlighted."""
    u = h / 100
    edge = max(1, round((5 if content.highlight else 2) * u))
    img = _vertical_gradient(w, h, (214, 40, 58) if content.highlight else (204, 30, 50), RED_DARK)
    draw = ImageDraw.Draw(img, "RGBA")
    draw.rounded_rectangle((0, 0, w - 1, h - 1), radius=h * 0.28, outline=GOLD_PALE if content.highlight else GOLD,
                           width=edge)
    zh_font = _fit(draw, content.title_zh or " ", True, 40 * u, w * 0.84)
    _text(draw, (w / 2, 46 * u), content.title_zh, zh_font, (255, 255, 255), "mm")
    en_font = _fit(draw, content.title_en or " ", False, 17 * u, w * 0.84)
    _text(draw, (w / 2, 78 * u), content.title_en, en_font, GOLD_PALE, "mm")
    return _rounded(img, h * 0.28)
