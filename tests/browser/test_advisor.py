"""Call an advisor (docs/advisor.md), in headless Chromium against a real `showroom serve`: a kiosk calls, an advisor
signs in at /advisor, goes on duty and takes the call; both pages decode the other's video (Chromium's fake camera
and microphone, relayed by the node); the advisor shows the 50 g bar, the kiosk shows it, the advisor points at it
and offers a price, the kiosk accepts, a phone pays on the sandbox's pay page and both the kiosk and the advisor's
desk show "paid"; the advisor saves the call's notes. With no advisor on duty the kiosk leaves a call-back, which
the desk lists. Screenshots: test-artifacts/browser/advisor-*.png."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Server, StaffLogin, WatchedPage

pytestmark = pytest.mark.browser

BAR = "bar-au9999-50g"
START = "bar-au9999-10g"
VIEW_TIMEOUT_MS = 240_000  # a view set is rendered on demand (llvmpipe on 2 cores)
MEDIA_TIMEOUT_MS = 90_000

# Frames of the other side's video the page's peer connection has decoded (WebRTC statistics).
FRAMES_DECODED = """async (side) => {
  const pc = side === "kiosk" ? window.__advisorCall?.pc : window.__advisor?.state.pc;
  if (!pc) return false;
  let n = 0;
  (await pc.getStats()).forEach((r) => { if (r.type === "inbound-rtp" && r.kind === "video") n += r.framesDecoded || 0; });
  return n > 0;
}"""


def _clean(errors: list[str]) -> list[str]:
    """Console errors other than the browser's own line for an expected 401 (the desk asks for its session)."""
    return [e for e in errors if not re.search(r"status of 40[134]", e)]


def _refusals(w: WatchedPage) -> list[str]:
    """The URLs the page's requests were refused at (4xx/5xx other than the desk's own session check), for the
    failure message beside the console's bare "Failed to load resource"."""
    seen: list[str] = []
    w.page.on("response", lambda r: r.status >= 400 and "/api/staff/session" not in r.url
              and seen.append(f"{r.status} {r.request.method} {r.url}"))
    return seen


def _sign_in_desk(w: WatchedPage, server: Server, who: StaffLogin, lang: str = "zh") -> None:
    page = w.page
    page.goto(f"{server.base}/advisor?lang={lang}", wait_until="domcontentloaded")
    page.wait_for_selector("#signin-form")
    page.fill("#signin-name", who.name)
    page.fill("#signin-password", who.password)
    page.fill("#signin-otp", who.code())
    page.click("#signin-submit")
    page.wait_for_selector("#desk:not([hidden]), #signin-error:not(:empty)")
    assert page.is_visible("#desk"), f"{who.name} not signed in: {page.inner_text('#signin-error')}"
    assert page.input_value("#signin-password") == "" and page.input_value("#signin-otp") == ""
    page.wait_for_function("!document.querySelector('#duty').disabled")  # the call socket is up


def _sandbox_pays(server: Server, new_page: Any, pay_url: str) -> None:
    """The customer's phone opens the pay page the kiosk's QR code points to and approves."""
    phone = new_page((390, 844))
    resp = phone.page.goto(pay_url, wait_until="networkidle")
    assert resp is not None and resp.status == 200
    approve = phone.page.locator("button[name='action'][value='approve']")
    assert approve.count(), "the sandbox's pay page has no approve button"
    approve.first.click()
    phone.page.wait_for_load_state("networkidle")


def test_a_kiosk_calls_an_advisor_who_shows_points_offers_and_sees_it_paid(
        server: Server, new_page: Any, staff_account: Any, artifacts: Path) -> None:
    advisor = staff_account("li.na", "advisor", "李娜")
    desk = new_page((1440, 900))
    desk_refused = _refusals(desk)
    _sign_in_desk(desk, server, advisor)
    desk.page.click("#duty")
    desk.page.wait_for_selector('#duty[aria-pressed="true"]')

    kiosk = new_page((1280, 800))
    kiosk_refused = _refusals(kiosk)
    kiosk.page.goto(f"{server.base}/kiosk?product={START}&lang=zh&place=branch-sh-01", wait_until="domcontentloaded")
    kiosk.page.wait_for_function(f"window.__kiosk.product?.id === {START!r}")
    kiosk.page.click("#call-advisor")
    kiosk.page.wait_for_selector('#advisor-call [data-topic="precious_metals"][aria-pressed="true"]')
    kiosk.screenshot(artifacts, "advisor-kiosk-choose")
    kiosk.page.click("#advisor-start")
    kiosk.page.wait_for_selector("#advisor-position")
    assert kiosk.page.get_attribute("#advisor-position", "data-position") == "1"
    assert kiosk.page.is_visible("#advisor-wait")  # one advisor on duty: an estimate, in minutes
    kiosk.screenshot(artifacts, "advisor-kiosk-queued")

    # the desk lists the caller under the topic, with the place and the product on the kiosk's screen
    desk.page.wait_for_selector('.queue[data-topic="precious_metals"][data-waiting="1"] .queue-item')
    assert "branch-sh-01" in desk.page.inner_text('.queue[data-topic="precious_metals"]')
    desk.screenshot(artifacts, "advisor-desk-queue")
    desk.page.click('[data-take="precious_metals"]')

    # the customer agrees on screen before any camera opens; then both sides decode the other's video
    kiosk.page.wait_for_selector("#advisor-consent-video")
    assert kiosk.page.locator("#advisor-remote").count() == 0
    kiosk.screenshot(artifacts, "advisor-kiosk-consent")
    kiosk.page.click("#advisor-consent-video")
    kiosk.page.wait_for_function(FRAMES_DECODED, arg="kiosk", timeout=MEDIA_TIMEOUT_MS)
    desk.page.wait_for_function(FRAMES_DECODED, arg="desk", timeout=MEDIA_TIMEOUT_MS)
    kiosk.page.wait_for_function("Number(document.querySelector('#advisor-stage').dataset.frames) > 2",
                                 timeout=MEDIA_TIMEOUT_MS)
    desk.page.wait_for_function("Number(document.querySelector('#call-stage').dataset.frames) > 2",
                                timeout=MEDIA_TIMEOUT_MS)
    desk.page.wait_for_selector('#call-stage[data-connected="true"]', timeout=MEDIA_TIMEOUT_MS)
    assert desk.page.get_attribute("#call-context", "data-product") == START  # co-view: the customer's product
    kiosk.screenshot(artifacts, "advisor-kiosk-live")

    # the advisor shows the 50 g bar: the kiosk opens it, the desk's view follows the kiosk's
    desk.page.select_option("#show-product", BAR)
    desk.page.click("#show-send")
    kiosk.page.wait_for_function(f"window.__kiosk.product?.id === {BAR!r}")
    kiosk.page.wait_for_selector("#advisor-showing")
    desk.page.wait_for_function(f"document.querySelector('#call-context').dataset.product === {BAR!r}")
    desk.page.wait_for_function(
        "[...document.querySelectorAll('#console-spin img.spin-frame')].some(i => i.complete && i.naturalWidth > 0)",
        timeout=VIEW_TIMEOUT_MS)
    kiosk.page.wait_for_function(
        "[...document.querySelectorAll('#spin img.spin-frame')].some(i => i.complete && i.naturalWidth > 0)",
        timeout=VIEW_TIMEOUT_MS)

    # a click on the desk's picture puts the pointer on the kiosk's picture
    box = desk.page.locator("#console-spin").bounding_box()
    assert box is not None
    desk.page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.45)
    kiosk.page.wait_for_selector(".advisor-pointer:not([hidden])")
    desk.screenshot(artifacts, "advisor-desk-call")

    # the advisor offers a locked price; the kiosk accepts it and buys THAT quote on its keypad
    desk.page.click("#offer-make")
    kiosk.page.wait_for_selector("#advisor-offer-accept")
    quote_id = desk.page.get_attribute("#offer-status", "data-quote")
    assert quote_id and kiosk.page.get_attribute("#advisor-offer", "data-quote") == quote_id
    kiosk.screenshot(artifacts, "advisor-kiosk-offer")
    kiosk.page.click("#advisor-offer-accept")
    desk.page.wait_for_selector('#offer-status[data-status="accepted"]')
    kiosk.page.wait_for_selector(".keypad [data-key='1']")
    assert kiosk.page.evaluate("window.__kiosk.checkout.quote.id") == quote_id
    for digit in "13800138000":
        kiosk.page.click(f'.dialog .keypad [data-key="{digit}"]')
    kiosk.page.click("#confirm-order")
    kiosk.page.wait_for_selector(".pay-panel .qr img")
    order = kiosk.page.evaluate("window.__kiosk.checkout.order")
    desk.page.wait_for_selector("#order-status")
    payment = kiosk.page.evaluate("window.__kiosk.checkout.payment")
    _sandbox_pays(server, new_page, payment["pay_url"])

    kiosk.page.wait_for_selector('.pay-status[data-status="paid"]', timeout=30_000)
    desk.page.wait_for_selector('#order-status[data-status="paid"]', timeout=30_000)
    assert order["id"] in desk.page.inner_text("#offer-card")
    kiosk.screenshot(artifacts, "advisor-kiosk-paid")
    desk.screenshot(artifacts, "advisor-desk-paid")

    # the advisor ends the call and writes the notes; the kiosk is told
    desk.page.click("#call-end")
    kiosk.page.wait_for_selector('#advisor-ended[data-reason="advisor_ended"]')
    desk.page.wait_for_selector("#wrap")
    assert desk.page.input_value("#wrap-outcome") == "order_placed"
    desk.page.fill("#wrap-notes", "50 g bar bought after the offer.")
    desk.screenshot(artifacts, "advisor-desk-notes")
    desk.page.click("#wrap-save")
    desk.page.wait_for_selector("#idle")
    assert kiosk.page.evaluate("window.__advisorCall.pc") is None  # nothing of the call stays open
    assert not _clean(kiosk.errors), f"kiosk: console errors {kiosk.errors[:3]} {kiosk_refused[:3]}"
    assert not _clean(desk.errors), f"advisor desk: console errors {desk.errors[:3]} {desk_refused[:3]}"


def test_with_no_advisor_on_duty_the_kiosk_books_a_call_back_that_the_desk_lists(
        server: Server, new_page: Any, staff_account: Any, artifacts: Path) -> None:
    kiosk = new_page((1280, 800))
    kiosk.page.goto(f"{server.base}/kiosk?screen=wall&lang=zh&place=branch-bj-02", wait_until="domcontentloaded")
    kiosk.page.wait_for_function("document.body.dataset.screen === 'wall'")
    kiosk.page.click("#call-advisor")
    kiosk.page.click('#advisor-call [data-topic="car_finance"]')
    kiosk.page.click("#advisor-start")
    kiosk.page.wait_for_selector("#advisor-none")
    kiosk.screenshot(artifacts, "advisor-kiosk-none-on-duty")
    kiosk.page.click("#advisor-callback")
    for digit in "13912345678":
        kiosk.page.click(f'.advisor-keypad [data-key="{digit}"]')
    kiosk.page.click('#advisor-call [data-day]:nth-child(2)')  # tomorrow (or the next day with free times)
    kiosk.page.click("#advisor-call .advisor-slots .chip >> nth=2")
    kiosk.screenshot(artifacts, "advisor-kiosk-callback-form")
    kiosk.page.click("#cb-submit")
    kiosk.page.wait_for_selector("#cb-done")
    assert "139 **** 5678" in kiosk.page.inner_text("#advisor-call")  # the number shown masked on a shared screen
    kiosk.screenshot(artifacts, "advisor-kiosk-callback-booked")

    desk = new_page((1440, 900))
    _sign_in_desk(desk, server, staff_account("zhou.ming", "advisor", "周明"), lang="en")
    row = desk.page.wait_for_selector('#callbacks tr[data-callback]:has-text("139 1234 5678")')
    assert row is not None and "branch-bj-02" in row.inner_text() and "Car finance" in row.inner_text()
    desk.screenshot(artifacts, "advisor-desk-callbacks")
    row.query_selector("[data-done]").click()  # type: ignore[union-attr]
    desk.page.wait_for_selector('#callbacks tr[data-callback]:has-text("139 1234 5678")', state="detached")
    assert not _clean(kiosk.errors), f"kiosk: console errors {kiosk.errors[:3]}"
    assert not _clean(desk.errors), f"advisor desk: console errors {desk.errors[:3]}"
