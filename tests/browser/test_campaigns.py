"""Campaigns in headless Chromium against a real node: a manager creates an e-CNY campaign in the console's
Campaigns page, cannot approve it herself, a second manager approves it; on the phone the customer claims the
coupon with one click once the phone is proven by an SMS code (read from the sandbox outbox), sees the discount line and the total after it, is told the coupon needs the e-CNY wallet
when choosing a card, and orders with the e-CNY wallet at the discounted amount. Screenshots:
test-artifacts/browser/campaigns-*.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Server, StaffLogin
from tests.browser.test_staff_console import _clean, sign_in
from tests.phone_proof_http import newest_sms_id_sync, sandbox_code_sync

pytestmark = pytest.mark.browser

TIER1 = "13500000000"
"""A sandbox customer (L3) whose e-CNY wallet is tier 1."""


@pytest.fixture(scope="module")
def managers(staff_account: Any) -> tuple[StaffLogin, StaffLogin]:
    return (staff_account("qian.hui", "manager", "钱慧"), staff_account("li.ming", "manager", "李明"))


def _coin(server: Server) -> dict[str, Any]:
    products = server.get_json("/api/products")
    items = products if isinstance(products, list) else products.get("products", [])
    for kind in ("coin", "gold_bar"):
        for p in items:
            if p["kind"] == kind:
                return dict(p)
    pytest.fail("no coin or bar in the catalog")


def test_console_campaigns_then_phone_checkout_with_an_ecny_coupon(server: Server, new_page: Any, artifacts: Path,
                                                                  managers: tuple[StaffLogin, StaffLogin]) -> None:
    qian, li = managers
    w = new_page((1366, 900))
    sign_in(w.page, server, qian, "zh")
    w.page.click("#nav-campaigns")
    w.page.wait_for_selector("#campaign-form")
    w.page.fill("#cmp-name", "数字人民币立减 20 元")
    w.page.fill("#cmp-amount", "20.00")
    w.page.fill("#cmp-budget", "1000.00")
    w.page.check("#cmp-ecny")
    w.page.click("#cmp-submit")
    row = w.page.wait_for_selector('#campaigns-result tr[data-state="pending_approval"]')
    campaign_id = row.get_attribute("data-campaign")
    assert w.page.locator(f'tr[data-campaign="{campaign_id}"] .four-eyes').count() == 1  # not her own
    w.screenshot(artifacts, "campaigns-console-pending")
    _ = _clean(w.errors)

    w2 = new_page((1366, 900))
    sign_in(w2.page, server, li, "en")
    w2.page.click("#nav-campaigns")
    w2.page.click(f'tr[data-campaign="{campaign_id}"] [data-act="active"]')
    w2.page.wait_for_selector(f'tr[data-campaign="{campaign_id}"][data-state="active"]')
    remaining = w2.page.inner_text(f'tr[data-campaign="{campaign_id}"] [data-role="remaining"]')
    assert "1,000.00" in remaining
    w2.screenshot(artifacts, "campaigns-console-active-en")
    assert not _clean(w2.errors), w2.errors[:3]

    coin = _coin(server)
    p = new_page((390, 844), is_mobile=True, has_touch=True)
    p.page.goto(f"{server.base}/phone?product={coin['id']}&view=buy&lang=zh", wait_until="domcontentloaded")
    p.page.wait_for_function("document.querySelector('#buy-total').textContent.includes('¥')", timeout=30_000)
    p.page.fill("#cust-phone", TIER1)
    assert p.page.locator('[data-role="coupon-content"]').is_hidden()  # coupons and points wait for the SMS check
    sandbox = str(server.get_json("/healthz")["payment_backend"]).rstrip("/")
    before = newest_sms_id_sync(sandbox, TIER1)
    p.page.click('[data-role="send-code"]')
    p.page.wait_for_selector('[data-role="verify-status"]:not(:empty)')
    p.page.fill("#coupon-otp", sandbox_code_sync(sandbox, TIER1, after=before))
    p.page.click('[data-role="verify-code"]')
    p.page.wait_for_selector('[data-role="coupon-content"]:not([hidden])', timeout=20_000)
    p.page.locator('[data-role="coupon-box"]').scroll_into_view_if_needed()
    p.screenshot(artifacts, "campaigns-phone-verified")
    p.page.click(f'.coupon-offer[data-campaign="{campaign_id}"] [data-role="coupon-claim"]')
    p.page.wait_for_selector('[data-role="discount-lines"] .discount-line[data-kind="coupon"]', timeout=20_000)
    line = p.page.inner_text('[data-role="discount-lines"] .discount-line[data-kind="coupon"]')
    assert "¥20.00" in line and "数字人民币" in line
    p.page.locator('[data-role="coupon-box"]').scroll_into_view_if_needed()
    p.screenshot(artifacts, "campaigns-phone-coupon-lines")
    p.page.click('[data-method="card"]')  # the coupon needs the e-CNY wallet: told, nothing ordered
    p.page.wait_for_selector(".toast.error:not([hidden])")
    assert "数字人民币" in p.page.inner_text(".toast") and p.page.evaluate("window.__phone.checkout") is None
    p.screenshot(artifacts, "campaigns-phone-card-refused")
    p.page.click('[data-method="ecny_wallet"]')
    p.page.wait_for_selector('#pay [data-role="paid-discount-lines"]', timeout=30_000)
    order = p.page.evaluate("window.__phone.checkout.order")
    quote = p.page.evaluate("window.__phone.checkout.quote")
    total_fen = round(float(quote["total_cny"]) * 100)
    assert round(float(order["amount_cny"]) * 100) == total_fen - 2000
    p.page.locator("#pay").scroll_into_view_if_needed()
    p.screenshot(artifacts, "campaigns-phone-ordered")
    assert not _clean(p.errors), p.errors[:3]

    # the kiosk: the same campaign offered in the checkout dialog, claimed with one tap after the number
    k = new_page((1280, 900))
    k.page.goto(f"{server.base}/kiosk?product={coin['id']}&lang=zh", wait_until="domcontentloaded")
    k.page.wait_for_selector("#buy")
    k.page.click("#buy")
    k.page.wait_for_selector(".keypad", timeout=30_000)
    k.page.keyboard.type("13900000000")  # a sandbox customer with a tier-1 e-CNY wallet
    before = newest_sms_id_sync(sandbox, "13900000000")
    k.page.click('[data-role="send-code"]')
    for digit in sandbox_code_sync(sandbox, "13900000000", after=before):  # tapped on the box's own keys
        k.page.click(f'.otp-keys [data-otp-key="{digit}"]')
    k.page.wait_for_selector('[data-role="coupon-content"]:not([hidden])', timeout=20_000)
    k.page.click(f'.coupon-offer[data-campaign="{campaign_id}"] [data-role="coupon-claim"]')
    k.page.wait_for_selector('[data-role="discount-lines"] .discount-line[data-kind="coupon"]', timeout=20_000)
    assert k.page.input_value("#coupon-code") == "" and "1390000" in k.page.inner_text("#phone-number").replace(" ", "")
    k.screenshot(artifacts, "campaigns-kiosk-coupon")
    k.page.click("#confirm-order")
    k.page.wait_for_selector('.pay-panel [data-role="paid-discount-lines"]', timeout=30_000)
    k.page.wait_for_selector(".pay-panel .qr img", timeout=30_000)
    k.page.wait_for_function("document.querySelector('.pay-panel .qr img').naturalWidth > 0", timeout=10_000)
    assert k.page.evaluate("window.__kiosk.checkout.payment.method") == "ecny_wallet"
    k.screenshot(artifacts, "campaigns-kiosk-pay")
    assert not _clean(k.errors), k.errors[:3]
