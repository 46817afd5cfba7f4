"""Share links are signed and expire; the poster shows the product, price, quote time, a scannable QR code."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from PIL import Image

from showroom.poster import PosterContent, render_poster
from showroom.sharing import Share, ShareExpired, ShareInvalid, make_token, read_token

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SHARE = Share("sh_1", "bar-50g", "au9999-50g", "wechat", NOW, NOW + timedelta(days=30), 4689550, NOW)


def test_a_token_round_trips_until_it_expires() -> None:
    token = make_token("k", SHARE)
    claims = read_token("k", token, NOW)
    assert (claims.share_id, claims.product_id, claims.variant_id) == ("sh_1", "bar-50g", "au9999-50g")
    with pytest.raises(ShareExpired):
        read_token("k", token, NOW + timedelta(days=30))


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + "xy", lambda t: "A" + t[1:], lambda t: t.split(".")[0],
                                    lambda t: "garbage", lambda t: ""])
def test_tampered_or_foreign_tokens_are_refused(mangle: object) -> None:
    token = make_token("k", SHARE)
    with pytest.raises(ShareInvalid):
        read_token("k", mangle(token), NOW)  # type: ignore[operator]
    with pytest.raises(ShareInvalid):
        read_token("other-key", token, NOW)


def _gold_png() -> bytes:
    img = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    img.paste((212, 175, 55, 255), (100, 80, 300, 220))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def test_the_poster_has_the_product_price_and_a_qr_code_of_the_link() -> None:
    import cv2

    url = "https://bank.example/s/" + make_token("k", SHARE)
    png = render_poster(PosterContent("华锦银行 Huajin Bank", "足金投资金条 50克", "Gold bar 50 g", "Au9999 50克",
                                      "46895.50", NOW, url, "价格仅供参考。 Prices are for reference only.",
                                      _gold_png()))
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert img.shape == (1600, 1080, 3)
    gold = (np.abs(img.astype(int) - [212, 175, 55]).sum(axis=2) < 30).mean()
    assert gold > 0.05  # the product image is on the poster
    decoded, _, _ = cv2.QRCodeDetector().detectAndDecode(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    assert decoded == url


def test_the_poster_without_a_product_image_still_draws() -> None:
    png = render_poster(PosterContent("Bank", "戒指", "Ring", "18K", None, None, "https://x/s/t", "d"))
    assert Image.open(io.BytesIO(png)).size == (1080, 1600)
