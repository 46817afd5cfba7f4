"""Branch pick-up in headless Chromium against a real node (the committed assets/branches.toml loaded on start):
on the phone page the customer ticks pick-up, chooses a branch, a day and a slot, pays, and sees the pick-up code;
in the console a teller opens the branch's day, hands over against the code with the ID-checked box and the name
on the ID. Screenshots: test-artifacts/browser/pickup-*.png."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Server
from tests.browser.test_staff_console import sign_in

pytestmark = pytest.mark.browser
PRODUCT, VARIANT, BRANCH = "bar-au9999-10g", "au9999-10g", "sh-lujiazui"


def _post(url: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        raw = r.read()
        return json.loads(raw) if raw else None


def test_phone_checkout_with_branch_and_slot_then_the_teller_hands_over(
        server: Server, new_page: Any, staff_account: Any, artifacts: Path) -> None:
    w = new_page((390, 844))
    page = w.page
    page.goto(f"{server.base}/phone?product={PRODUCT}&variant={VARIANT}&view=buy&lang=zh", wait_until="domcontentloaded")
    page.wait_for_selector("#view-buy:not([hidden]) [data-role=pickup-toggle]")
    page.fill("#cust-phone", "13800000000")
    page.check("[data-role=pickup-toggle]")
    page.wait_for_selector("[data-role=branch-select] option", state="attached")
    page.select_option("[data-role=branch-select]", BRANCH)
    page.wait_for_selector("[data-role=pickup-days] button")
    # the first day with a free slot (today's may be over: Asia/Shanghai time)
    slot = None
    for i in range(4):
        page.locator("[data-role=pickup-days] button").nth(i).click()
        page.wait_for_selector("[data-role=pickup-stock]:not(:empty)")
        free = page.locator("[data-role=pickup-slots] button:not([disabled])")
        if free.count():
            slot = free.first.get_attribute("data-slot")
            free.first.click()
            break
    assert slot, "no free slot in four days"
    assert "有货" in page.inner_text("[data-role=pickup-stock]")
    page.fill("[data-role=pickup-name]", "王芳")
    page.evaluate("document.querySelector('[data-role=pickup-toggle]').scrollIntoView({block: 'start'})")
    w.screenshot(artifacts, "pickup-phone-branch-slot")
    with page.expect_response(lambda r: "/payments" in r.url and r.request.method == "POST") as made:
        page.click("#methods [data-method=mobile_banking]")
    payment = made.value.json()
    assert made.value.status == 201, payment
    order_id = page.evaluate("sessionStorage.getItem('showroom.order')") or None
    deadline = time.monotonic() + 30
    while order_id is None and time.monotonic() < deadline:
        page.wait_for_timeout(100)
        order_id = page.evaluate("sessionStorage.getItem('showroom.order')")
    sandbox = str(server.get_json("/healthz")["payment_backend"]).rstrip("/")
    _post(f"{sandbox}/payments/{payment['payment_id']}/complete", {"outcome": "approved"})
    page.wait_for_selector("[data-role=pickup-code]", timeout=30_000)
    code = page.inner_text("[data-role=pickup-code]").strip()
    assert len(code) == 11 and code[5] == "-"
    panel = page.inner_text("[data-role=pickup-panel]")
    assert "陆家嘴" in panel and "null" not in panel
    page.locator("[data-role=pickup-panel]").scroll_into_view_if_needed()
    w.screenshot(artifacts, "pickup-phone-code")
    assert not [e for e in w.errors if "status of 4" not in e], w.errors

    # the teller at the branch: the day's pick-ups, then the hand-over against the code and the ID
    teller = staff_account("chen.jing", "teller", "陈静")
    c = new_page((1366, 900))
    cp = c.page
    sign_in(cp, server, teller)
    cp.wait_for_selector("#nav-pickups")
    cp.click("#nav-pickups")
    cp.wait_for_selector("#pickups-branch option", state="attached")
    cp.select_option("#pickups-branch", BRANCH)
    day = page.evaluate("(iso) => new Intl.DateTimeFormat('en-CA', {timeZone: 'Asia/Shanghai'}).format(new Date(iso))",
                        slot)
    cp.fill("#pickups-date", day)
    cp.dispatch_event("#pickups-date", "change")
    row = cp.locator(f"#pickups-lists tr[data-order='{order_id}']")
    row.wait_for()
    assert row.get_attribute("data-pickup") == "booked" and "王芳" in row.inner_text()
    cp.fill("#handover-code", code.lower().replace("-", " "))
    cp.fill("#handover-name", "王芳")
    cp.click("#handover-submit")  # the ID-checked box is not ticked: refused in the page
    assert "核验" in cp.inner_text("#handover-error")
    cp.fill("#handover-name", "王方")
    cp.check("#handover-checked")
    cp.click("#handover-submit")
    cp.wait_for_selector("#handover-error:not(:empty)")
    assert "不一致" in cp.inner_text("#handover-error")  # the name on the ID differs from the order's
    cp.fill("#handover-name", "王芳")
    cp.check("#handover-checked")
    c.screenshot(artifacts, "pickup-console-before-handover")
    cp.click("#handover-submit")
    cp.wait_for_selector("#handover-result .notice")
    cp.locator(f"#pickups-lists tr[data-order='{order_id}'][data-pickup='handed_over']").wait_for()
    c.screenshot(artifacts, "pickup-console-handed-over")
    assert datetime.fromisoformat(slot.replace("Z", "+00:00"))


def test_kiosk_checkout_with_the_kiosks_branch_shows_the_pickup_code_after_payment(
        server: Server, new_page: Any, artifacts: Path) -> None:
    k = new_page()
    page = k.page
    page.goto(f"{server.base}/kiosk?product={PRODUCT}&branch=bj-guomao&lang=zh", wait_until="domcontentloaded")
    page.wait_for_selector("#buy")
    page.click("#buy")
    page.wait_for_selector(".keypad", timeout=30_000)
    page.keyboard.type("13800138000")
    page.check("[data-role=pickup-toggle]")
    page.wait_for_selector("[data-role=branch-select] option", state="attached")
    assert page.input_value("[data-role=branch-select]") == "bj-guomao"  # the kiosk's own branch first
    page.click("#confirm-order")  # no slot chosen yet: the page says so and waits
    assert page.is_visible(".keypad")
    for i in range(4):
        page.locator("[data-role=pickup-days] button").nth(i).click()
        page.wait_for_selector("[data-role=pickup-stock]:not(:empty)")
        free = page.locator("[data-role=pickup-slots] button:not([disabled])")
        if free.count():
            free.first.click()
            break
    page.fill("[data-role=pickup-name]", "Li Lei")
    page.evaluate("document.querySelector('[data-role=pickup-toggle]').scrollIntoView({block: 'center'})")
    k.screenshot(artifacts, "pickup-kiosk-slot")
    page.click("#confirm-order")
    page.wait_for_selector(".pay-panel .qr img", timeout=30_000)
    payment = page.evaluate("window.__kiosk.checkout.payment")
    sandbox = str(server.get_json("/healthz")["payment_backend"]).rstrip("/")
    _post(f"{sandbox}/payments/{payment['payment_id']}/complete", {"outcome": "approved"})
    page.wait_for_selector("[data-role=pickup-code]", timeout=30_000)
    assert "国贸" in page.inner_text("[data-role=pickup-panel]")
    k.screenshot(artifacts, "pickup-kiosk-code")
    assert not [e for e in k.errors if "status of 4" not in e], k.errors
