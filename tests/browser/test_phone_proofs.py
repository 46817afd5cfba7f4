"""The kiosk in headless Chromium against a real node: coupons and points wait for the SMS check (the code read
from the payment sandbox's SMS outbox and tapped on the box's own keys); the customer spends points, the pay panel
shows the total before the discounts and every discount line; once paid, the kiosk shows a QR code of the
certificate page for the customer's own phone, never a link. Screenshots: /tmp/s20/shots/phone-proof-*.png and
test-artifacts/browser/."""

from __future__ import annotations

import shutil
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.browser.conftest import Server
from tests.browser.test_staff_console import PRODUCT, VARIANT, _call, _clean
from tests.phone_proof_http import newest_sms_id_sync, sandbox_code_sync

pytestmark = pytest.mark.browser

PHONE = "13612345678"
"""This file's customer (unknown to the sandbox register: unverified, L0), used nowhere else."""
SHOTS = Path("/tmp/s20/shots")


def _shot(w: Any, artifacts: Path, name: str) -> None:
    path = w.screenshot(artifacts, name)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS / path.name)


def _sandbox(server: Server) -> str:
    return str(server.get_json("/healthz")["payment_backend"]).rstrip("/")


def _earn_points(server: Server) -> None:
    """A paid order for PHONE (no discounts, so no proof needed): it earns about 930 points."""
    quote = _call(server, "/api/quotes", {"product": PRODUCT, "variant": VARIANT, "quantity": 1})
    order = _call(server, "/api/orders", {"quote_id": quote["id"], "channel": "web",
                                          "customer": {"name": "周杰", "phone": PHONE}},
                  {"Idempotency-Key": uuid.uuid4().hex})
    payment = _call(server, f"/api/orders/{order['id']}/payments", {"method": "mobile_banking"},
                    {"Idempotency-Key": uuid.uuid4().hex})
    _call(server, f"/payments/{payment['payment_id']}/complete", {"outcome": "approved"}, base=_sandbox(server))
    auth = {"Authorization": f"Bearer {order['order_token']}"}
    deadline = time.monotonic() + 30
    while _call(server, f"/api/orders/{order['id']}", headers=auth)["status"] != "paid":
        assert time.monotonic() < deadline, "the order was not paid within 30 s"
        time.sleep(0.2)


def _decode_qr(png: bytes) -> str:
    import cv2

    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    # OpenCV's classic detector misses about 2 % of these codes whatever the scale; its ArUco-based one reads them
    for detector in (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco()):
        for scale in (1, 2, 3):  # some codes are found only larger, with a wider quiet zone
            big = cv2.copyMakeBorder(cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST),
                                     40, 40, 40, 40, cv2.BORDER_CONSTANT, value=255)
            text, _points, _ = detector.detectAndDecode(big)
            if text:
                return str(text)
    return ""


def test_kiosk_points_need_the_sms_check_and_the_certificate_comes_as_a_qr_code(
        server: Server, new_page: Any, artifacts: Path) -> None:
    _earn_points(server)
    sandbox = _sandbox(server)
    k = new_page((1280, 1000))
    k.page.goto(f"{server.base}/kiosk?product={PRODUCT}&lang=zh", wait_until="domcontentloaded")
    k.page.wait_for_selector("#buy")
    k.page.click("#buy")
    k.page.wait_for_selector(".keypad", timeout=30_000)
    for digit in PHONE:
        k.page.click(f'.keypad [data-key="{digit}"]')
    assert k.page.locator('[data-role="coupon-content"]').is_hidden()  # nothing before the SMS check
    assert k.page.locator('[data-role="phone-verify"]').is_visible()
    before = newest_sms_id_sync(sandbox, PHONE)
    k.page.click('[data-role="send-code"]')
    k.page.wait_for_selector('[data-role="verify-status"]:not(:empty)')
    assert "136 1234 5678" in k.page.inner_text('[data-role="verify-status"]')
    code = sandbox_code_sync(sandbox, PHONE, after=before)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for digit in wrong:  # a wrong code first: told, in the page's language, with the tries left
        k.page.click(f'.otp-keys [data-otp-key="{digit}"]')
    k.page.wait_for_selector('[data-role="verify-status"].error-text')
    assert "验证码不正确" in k.page.inner_text('[data-role="verify-status"]')
    k.page.locator('[data-role="phone-verify"]').scroll_into_view_if_needed()
    _shot(k, artifacts, "phone-proof-kiosk-wrong-code")
    for digit in code:
        k.page.click(f'.otp-keys [data-otp-key="{digit}"]')
    k.page.wait_for_selector('[data-role="coupon-content"]:not([hidden])', timeout=20_000)
    k.page.wait_for_selector('[data-role="points-balance"]:not(:empty)')
    assert "已验证 136 1234 5678" in k.page.inner_text('[data-role="phone-verified"]')
    k.page.fill("#coupon-points", "500")
    k.page.click('[data-role="coupon-apply"]')
    k.page.wait_for_selector('[data-role="discount-lines"] .discount-line[data-kind="points"]', timeout=20_000)
    assert "¥5.00" in k.page.inner_text('[data-role="discount-lines"] .discount-line[data-kind="points"]')
    k.page.locator('[data-role="coupon-box"]').scroll_into_view_if_needed()
    _shot(k, artifacts, "phone-proof-kiosk-verified")

    k.page.click("#confirm-order")
    k.page.wait_for_selector('.pay-panel [data-role="paid-discount-lines"] [data-role="subtotal"]', timeout=30_000)
    k.page.wait_for_function("window.__kiosk.checkout?.payment?.payment_id", timeout=30_000)
    co = k.page.evaluate("({order: window.__kiosk.checkout.order, token: window.__kiosk.checkout.token,"
                         " payment: window.__kiosk.checkout.payment})")
    order, token = co["order"], co["token"]
    assert order["discount_cny"] == "5.00" and [d["kind"] for d in order["discounts"]] == ["points"]
    assert round(float(order["subtotal_cny"]) * 100) - 500 == round(float(order["total_cny"]) * 100)
    _call(server, f"/payments/{co['payment']['payment_id']}/complete", {"outcome": "approved"}, base=sandbox)
    k.page.wait_for_selector('.pay-panel [data-role="certificate-qr"] img', timeout=30_000)
    k.page.wait_for_function("document.querySelector('[data-role=\"certificate-qr\"] img').naturalWidth > 0")
    assert k.page.locator('[data-role="certificate-link"]').count() == 0  # a shared screen: no link to open
    assert k.page.locator('.pay-panel [data-role="paid-discount-lines"] .discount-line[data-kind="points"]').count() == 1
    k.page.locator('[data-role="certificate-qr"]').scroll_into_view_if_needed()
    _shot(k, artifacts, "phone-proof-kiosk-certificate-qr")

    req = urllib.request.Request(f"{server.base}/api/orders/{order['id']}/certificate-qr.png",
                                 headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.headers["Content-Type"] == "image/png" and r.headers["Cache-Control"] == "no-store"
        text = _decode_qr(r.read())
    assert text == f"{server.base}/certificate#order={order['id']}&token={token}"
    forged = urllib.request.Request(f"{server.base}/api/orders/{order['id']}/certificate-qr.png",
                                    headers={"Authorization": "Bearer not-the-token"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, timeout=30)
    refused.value.close()
    assert refused.value.code == 404
    view = _call(server, f"/api/orders/{order['id']}", headers={"Authorization": f"Bearer {token}"})
    assert [(d["kind"], d["points"], d["amount_cny"]) for d in view["discounts"]] == [("points", 500, "5.00")]
    assert not _clean(k.errors), k.errors[:3]
