"""The hall's live panels as images (Pillow, Noto CJK): sizes, readable text, the chart's line, the states."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest

from render_node.hall.panels import GOLD, RED, draw_panel
from render_node.render.types import PanelContent

TAG = PanelContent("price_tag", "足金金条 10克", "Au99.99 Gold Bar 10 g", ("¥ 6,352.80",))
LOAN = PanelContent("loan", "汽车贷款", "Car loan", ("首付 Down payment\t¥ 37,960", "期限 Term\t36 个月 months",
                                                  "年利率 APR\t3.85%", "月供 Monthly\t¥ 4,472.31"))
NOTICES = PanelContent("notices", "银行公告", "Notices", ("理财非存款，产品有风险，投资须谨慎。", "Gold buy-back from 9:30 daily"))
BUTTON = PanelContent("button", "预约服务", "Book an appointment")


def chart(values: tuple[float, ...]) -> PanelContent:
    return PanelContent("gold_chart", "今日金价", "Gold price (CNY/g)", (f"¥ {values[-1]:,.2f} /g", "更新 as of 10:32:05"),
                        values)


def near(img: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 60) -> np.ndarray:
    return np.abs(img[..., :3].astype(int) - np.array(rgb)).sum(-1) < tolerance


@pytest.mark.parametrize("content", [TAG, LOAN, NOTICES, BUTTON, chart((550.0, 552.0)),
                                     PanelContent("text", "营业时间", "Opening hours", ("9:00-17:00",))])
@pytest.mark.parametrize("size_px", [(130, 60), (640, 360), (1200, 700)])
def test_every_panel_is_drawn_at_the_size_asked_for(content: PanelContent, size_px: tuple[int, int]) -> None:
    img = draw_panel(content, size_px)
    assert img.shape == (size_px[1], size_px[0], 4) and img.dtype == np.uint8
    assert (img[..., 3] > 0).mean() > 0.9, "a panel is a solid card or screen (at most rounded corners clear)"


@pytest.mark.parametrize("content", [LOAN, NOTICES, chart((550.0, 552.0, 551.0)), PanelContent("text", "营业", "Hours")])
def test_screens_are_opaque_so_the_wall_never_shows_through(content: PanelContent) -> None:
    img = draw_panel(content, (800, 450))
    assert (img[..., 3] == 255).all()


def _text_pixels(img: np.ndarray) -> float:
    """The share of pixels that differ from the panel's local background: strokes of text and lines."""
    grey = img[..., :3].astype(int).sum(-1)
    edges = np.abs(np.diff(grey, axis=1)) > 120
    return float(edges.mean())


@pytest.mark.parametrize("content", [TAG, LOAN, NOTICES, BUTTON])
def test_panels_carry_text(content: PanelContent) -> None:
    img = draw_panel(content, (800, 400))
    blank = draw_panel(PanelContent(content.kind), (800, 400))
    assert _text_pixels(img) > 0.01
    assert _text_pixels(img) > 2 * _text_pixels(blank), "the words make the difference, not the frame"


def test_the_price_tag_shows_the_price_in_the_banks_red_on_an_ivory_card() -> None:
    img = draw_panel(TAG, (520, 240))
    assert near(img, (251, 248, 241), 12).mean() > 0.5, "an ivory card"
    red_rows = np.nonzero(near(img, RED, 90).sum(1) > 20)[0]
    assert len(red_rows) > 20 and red_rows.mean() > 120, "the price, big and red, in the lower half"
    assert img[0, 0, 3] == 0, "rounded corners"


def _gold_dot_pixels(img: np.ndarray) -> int:
    """Gold pixels in the tag's top-right corner, where the live dot sits (inside the gold edge)."""
    h, w = img.shape[:2]
    edge = h // 12
    return int(near(img[edge: h // 4, w * 3 // 4: w - edge], GOLD, 40).sum())


def test_only_a_live_price_gets_the_gold_live_dot() -> None:
    live = draw_panel(TAG, (520, 240))
    stale = draw_panel(PanelContent(**{**TAG.__dict__, "lines": ("¥ 6,352.80", "价格待更新 · price not live")}),
                       (520, 240))
    assert _gold_dot_pixels(live) > 30
    assert _gold_dot_pixels(stale) < 5


def test_a_chart_without_prices_says_so_instead_of_drawing_an_empty_plot() -> None:
    img = draw_panel(PanelContent("gold_chart", "今日金价", "Gold price", ("暂无金价", "No gold price now")), (1200, 630))
    middle = img[250:450, 300:900]
    assert _text_pixels(middle) > 0.01, "the message is in the middle of the screen"
    assert not near(img[200:], GOLD, 40).any(), "and there is no chart line"


def test_a_highlighted_tag_looks_different_from_a_plain_one() -> None:
    plain = draw_panel(TAG, (520, 240))
    focused = draw_panel(PanelContent(**{**TAG.__dict__, "highlight": True}), (520, 240))
    assert np.abs(plain[..., :3].astype(int) - focused[..., :3]).mean() > 5


def _line_heights(img: np.ndarray) -> list[float]:
    """Mean row of the chart's gold line in each of eight column bands of the plot (left to right)."""
    gold = near(img, GOLD, 40)
    h, w = gold.shape
    gold[: int(h * 0.3)] = False  # the title and the latest price above the plot
    rows = []
    for band in np.array_split(np.arange(int(w * 0.15), int(w * 0.95)), 8):
        ys = np.nonzero(gold[:, band].any(1))[0]
        rows.append(float(ys.mean()) if len(ys) else math.nan)
    return rows


def test_the_chart_line_goes_up_for_rising_prices_and_down_for_falling() -> None:
    rising = tuple(540.0 + i * 0.5 for i in range(60))
    up = _line_heights(draw_panel(chart(rising), (1200, 630)))
    down = _line_heights(draw_panel(chart(rising[::-1]), (1200, 630)))
    assert not any(math.isnan(r) for r in up + down), "the line crosses the whole plot"
    assert up[0] > up[-1] + 150, "image rows grow downwards: a rise ends higher on the screen"
    assert down[0] + 150 < down[-1]
    assert all(a >= b - 2 for a, b in pairwise(up)), "steadily"


def test_the_chart_shows_a_rise_in_red_and_a_fall_in_green() -> None:
    rising = tuple(540.0 + i for i in range(10))
    up = draw_panel(chart(rising), (1200, 630))
    down = draw_panel(chart(rising[::-1]), (1200, 630))
    top_right = (slice(0, 200), slice(800, 1200))

    def reddish(img: np.ndarray) -> int:
        px = img[top_right][..., :3].astype(int)
        return int(((px[..., 0] > px[..., 1] + 80) & (px[..., 0] > px[..., 2] + 80)).sum())

    def greenish(img: np.ndarray) -> int:
        px = img[top_right][..., :3].astype(int)
        return int(((px[..., 1] > px[..., 0] + 60) & (px[..., 1] > px[..., 2] + 20)).sum())

    assert reddish(up) > 50 and greenish(up) < 10
    assert greenish(down) > 50 and reddish(down) < 10


def test_a_panel_too_small_to_draw_is_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        draw_panel(TAG, (4, 4))


def test_drawing_is_deterministic_so_the_texture_cache_is_sound() -> None:
    assert np.array_equal(draw_panel(LOAN, (600, 350)), draw_panel(LOAN, (600, 350)))
