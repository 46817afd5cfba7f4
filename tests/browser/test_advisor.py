"""Call an advisor (docs/advisor.md), in headless Chromium against a real `showroom serve`: a kiosk calls, an advisor
signs in at /advisor, goes on duty and takes the call; both pages decode the other's video (Chromium's fake camera
and microphone, relayed by the node); the advisor shows the 50 g bar, the kiosk shows it, the advisor points at it
and offers a price, the kiosk accepts, a phone pays on the sandbox's pay page and both the kiosk and the advisor's
desk show "paid"; the advisor saves the call's notes. With no advisor on duty the kiosk leaves a call-back, which
the desk lists. Dual recording: the 1 kg bar cannot be offered until the customer agrees on screen to the call being
recorded; the recording's receipt is audited and an auditor plays it back in the staff console. Screenshots:
test-artifacts/browser/advisor-*.png (advisor-rec-*.png for the recording)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Server, StaffLogin, WatchedPage

pytestmark = pytest.mark.browser

BAR = "bar-au9999-50g"
BAR_1KG = "bar-au9999-1kg"  # dual_recording = true in assets/catalog.toml
START = "bar-au9999-10g"
VIEW_TIMEOUT_MS = 240_000  # a view set is rendered on demand (llvmpipe on 2 cores)
MEDIA_TIMEOUT_MS = 90_000
SEAL_TIMEOUT_MS = 120_000  # the node finishes each leg's WebM, encrypts it and sends the receipt

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
    advisor = staff_account("lin.yue", "advisor", "林悦")
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
    kiosk.page.wait_for_selector("#advisor-showing", timeout=VIEW_TIMEOUT_MS)  # once the kiosk has the view set
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


def _take_a_kiosk_call(desk: WatchedPage, kiosk: WatchedPage, server: Server) -> None:
    """The kiosk (on its product wall) calls; the advisor on duty takes it; the customer consents to camera and
    microphone; both sides decode the other's video."""
    desk.page.click("#duty")
    desk.page.wait_for_selector('#duty[aria-pressed="true"]')
    kiosk.page.goto(f"{server.base}/kiosk?screen=wall&lang=zh&place=branch-sh-03", wait_until="domcontentloaded")
    kiosk.page.wait_for_function("document.body.dataset.screen === 'wall'")
    kiosk.page.click("#call-advisor")
    kiosk.page.click('#advisor-call [data-topic="precious_metals"]')
    kiosk.page.click("#advisor-start")
    desk.page.wait_for_selector('.queue[data-topic="precious_metals"][data-waiting="1"] .queue-item')
    desk.page.click('[data-take="precious_metals"]')
    kiosk.page.click("#advisor-consent-video")
    kiosk.page.wait_for_function(FRAMES_DECODED, arg="kiosk", timeout=MEDIA_TIMEOUT_MS)
    desk.page.wait_for_function(FRAMES_DECODED, arg="desk", timeout=MEDIA_TIMEOUT_MS)
    desk.page.wait_for_selector('#call-stage[data-connected="true"]', timeout=MEDIA_TIMEOUT_MS)


def test_the_1kg_bar_is_offered_only_on_a_recorded_call_that_an_auditor_plays_back(
        server: Server, new_page: Any, staff_account: Any, artifacts: Path) -> None:
    desk = new_page((1440, 900))
    desk_refused = _refusals(desk)
    _sign_in_desk(desk, server, staff_account("wang.fang", "advisor", "王芳"), lang="en")
    kiosk = new_page((1280, 800))
    kiosk_refused = _refusals(kiosk)
    _take_a_kiosk_call(desk, kiosk, server)
    # nothing is recorded unless a product needs it: the customer was told so before the camera opened
    assert not kiosk.page.is_visible("#advisor-rec") and not desk.page.is_visible("#call-rec")

    # the advisor picks the 1 kg bar: the desk says it is sold only with dual recording
    desk.page.select_option("#show-product", BAR_1KG)
    desk.page.wait_for_selector("#rec-card:not([hidden]) #rec-required")
    assert "dual recording" in desk.page.inner_text("#rec-required")
    # offered without a recording, the node refuses it and the desk says why; the kiosk sees no offer
    desk.page.click("#offer-make")
    desk.page.wait_for_selector('#offer-status[data-status="refused"]')
    assert "recorded" in desk.page.inner_text("#offer-refused")
    assert kiosk.page.locator("#advisor-offer").count() == 0
    desk.screenshot(artifacts, "advisor-rec-desk-required")

    # the advisor starts the recording: the kiosk asks the customer on screen, nothing is recorded yet
    desk.page.click("#rec-start")
    desk.page.wait_for_selector('#rec-status[data-state="asking"]')
    kiosk.page.wait_for_selector("#advisor-rec-consent:not([hidden]) #advisor-rec-accept")
    consent = kiosk.page.inner_text("#advisor-rec-consent")
    assert "录音录像" in consent and "拒绝" in consent and "加密" in consent
    assert not kiosk.page.is_visible("#advisor-rec")
    kiosk.screenshot(artifacts, "advisor-rec-kiosk-consent")
    kiosk.page.click("#advisor-rec-accept")
    kiosk.page.wait_for_selector("#advisor-rec:not([hidden])")
    desk.page.wait_for_selector("#call-rec:not([hidden])")
    assert kiosk.page.is_hidden("#advisor-rec-consent")

    # now the offer goes through
    desk.page.click("#offer-make")
    desk.page.wait_for_selector('#offer-status[data-status="sent"]')
    kiosk.page.wait_for_selector("#advisor-offer #advisor-offer-accept")
    quote_id = desk.page.get_attribute("#offer-status", "data-quote")
    assert quote_id and kiosk.page.get_attribute("#advisor-offer", "data-quote") == quote_id
    # a few seconds of the call on record, then both screens still show it
    desk.page.wait_for_function(
        "(() => { const [m, s] = document.querySelector('#rec-elapsed').textContent.split(':').map(Number);"
        " return m * 60 + s >= 3; })()", timeout=30_000)
    kiosk.screenshot(artifacts, "advisor-rec-kiosk-recording")
    desk.screenshot(artifacts, "advisor-rec-desk-recording")

    # the advisor ends the call: the node seals the recording and the desk posts its receipt to the audit
    desk.page.click("#call-end")
    kiosk.page.wait_for_selector('#advisor-ended[data-reason="advisor_ended"]')
    desk.page.wait_for_selector("#wrap")
    desk.page.wait_for_selector('#rec-receipts [data-status="stored"]', timeout=SEAL_TIMEOUT_MS)
    assert "Recording stored" in desk.page.inner_text("#rec-receipts")
    receipt = desk.page.evaluate("window.__advisor.state.receipts[0]")
    assert receipt["product"] == BAR_1KG and set(receipt["sha256"]) == {"customer", "advisor"}
    for hex_digest in receipt["sha256"].values():
        assert hex_digest[:12] in desk.page.inner_text("#rec-receipts")
    desk.screenshot(artifacts, "advisor-rec-desk-stored")
    assert not _clean(kiosk.errors), f"kiosk: console errors {kiosk.errors[:3]} {kiosk_refused[:3]}"
    assert not _clean(desk.errors), f"advisor desk: console errors {desk.errors[:3]} {desk_refused[:3]}"

    # an auditor signs in to the staff console, lists the recording and plays it
    auditor = staff_account("qian.yu", "auditor", "钱宇")
    staff = new_page((1366, 900))
    staff.page.goto(f"{server.base}/staff?lang=en", wait_until="domcontentloaded")
    staff.page.wait_for_selector("#signin-form")
    staff.page.fill("#signin-name", auditor.name)
    staff.page.fill("#signin-password", auditor.password)
    staff.page.fill("#signin-otp", auditor.code())
    staff.page.click("#signin-submit")
    staff.page.wait_for_selector("#console:not([hidden]) #nav-recordings")
    staff.page.click("#nav-recordings")
    card = f'#rec-result [data-recording="{receipt["id"]}"]'
    staff.page.wait_for_selector(card)
    text = staff.page.inner_text(card)
    assert receipt["call"] in text and "wang.fang" in text
    for hex_digest in receipt["sha256"].values():
        assert hex_digest in text
    staff.page.evaluate(f"""() => document.querySelectorAll('{card} video').forEach((v) => {{
        v.muted = true; v.play().catch(() => {{}}); }})""")
    for leg in ("customer", "advisor"):
        staff.page.wait_for_function(
            f"(() => {{ const v = document.querySelector('{card} video[data-leg=\"{leg}\"]');"
            " return !!v && (v.readyState >= 2 || v.duration > 0); })()", timeout=30_000)
    staff.screenshot(artifacts, "advisor-rec-staff-recordings")

    # the audit log holds the receipt: call_recorded with the hashes of the stored files
    reply = staff.page.request.get(f"{server.base}/api/staff/audit?subject=recording:{receipt['id']}")
    assert reply.ok, reply.text()
    entries = [e for e in reply.json()["entries"] if e["action"] == "call_recorded"]
    assert entries and entries[0]["after"]["sha256"] == receipt["sha256"]
    assert not _clean(staff.errors), f"staff console: console errors {staff.errors[:3]}"


# The desk's peer connection: video frames decoded so far (it must keep counting across the phone's network change).
DESK_FRAMES = """async () => {
  let n = 0;
  (await window.__advisor.state.pc.getStats()).forEach((r) => { if (r.type === "inbound-rtp" && r.kind === "video") n += r.framesDecoded || 0; });
  return n;
}"""


def test_a_phone_that_changes_networks_mid_call_comes_back_to_the_same_call(
        server: Server, new_page: Any, staff_account: Any, artifacts: Path) -> None:
    """The phone's socket and peer connection both drop and the network stays down for a few seconds (its call
    socket reopens but reaches nothing: Playwright holds it); the desk shows the customer reconnecting, the phone shows it
    too; when the network is back the phone resumes the call with its token and a fresh peer connection, and the
    desk's own connection goes on decoding the phone's camera without being renegotiated."""
    desk = new_page((1440, 900))
    desk_refused = _refusals(desk)
    _sign_in_desk(desk, server, staff_account("he.jing", "advisor", "何静"), lang="en")
    desk.page.click("#duty")
    desk.page.wait_for_selector('#duty[aria-pressed="true"]')
    phone = new_page((390, 844), is_mobile=True, has_touch=True)
    phone_refused = _refusals(phone)
    network = {"up": True}

    def call_socket(ws: Any) -> None:
        # network down: the page's socket opens but reaches nothing (the page gives up on it and tries again)
        if network["up"]:
            ws.connect_to_server()

    phone.page.route_web_socket(re.compile(r"/ws/advisor/customer$"), call_socket)
    phone.page.goto(f"{server.base}/phone?product={BAR}&lang=en", wait_until="domcontentloaded")
    phone.page.wait_for_function(f"window.__phone.product?.id === {BAR!r}")
    phone.page.click("#call-advisor")
    phone.page.click("#advisor-start")
    desk.page.wait_for_selector('.queue[data-topic="precious_metals"][data-waiting="1"] .queue-item')
    desk.page.click('[data-take="precious_metals"]')
    phone.page.click("#advisor-consent-video")
    phone.page.wait_for_function(FRAMES_DECODED, arg="kiosk", timeout=MEDIA_TIMEOUT_MS)
    desk.page.wait_for_selector('#call-stage[data-connected="true"]', timeout=MEDIA_TIMEOUT_MS)
    call_id = phone.page.evaluate("window.__advisorCall.callId")
    old_pc = phone.page.evaluate_handle("window.__advisorCall.pc")

    # the network changes: the socket and the media go at once, and nothing gets through for a while
    network["up"] = False
    phone.page.evaluate("() => { const c = window.__advisorCall; c.pc.close(); c.ws.close(); }")
    desk.page.wait_for_selector("#call-stage.customer-away", timeout=30_000)
    phone.page.wait_for_selector("#advisor-stage.reconnecting")
    assert "reconnect" in desk.page.inner_text("#stage-note")
    assert "Reconnecting" in phone.page.inner_text("#advisor-stage")
    desk.screenshot(artifacts, "advisor-desk-customer-away")
    phone.screenshot(artifacts, "advisor-phone-reconnecting")
    desk_frames = desk.page.evaluate(DESK_FRAMES)

    network["up"] = True
    desk.page.wait_for_selector("#call-stage:not(.customer-away)", timeout=30_000)
    phone.page.wait_for_selector("#advisor-stage:not(.reconnecting)", timeout=MEDIA_TIMEOUT_MS)
    assert phone.page.evaluate("(old) => window.__advisorCall.pc !== old && window.__advisorCall.pc.connectionState",
                               old_pc) == "connected"
    assert phone.page.evaluate("window.__advisorCall.callId") == call_id, "the same call, not a new one"
    phone.page.wait_for_function(FRAMES_DECODED, arg="kiosk", timeout=MEDIA_TIMEOUT_MS)  # the new connection's
    desk.page.wait_for_function(f"async () => (await ({DESK_FRAMES})()) > {desk_frames + 15}",
                                timeout=MEDIA_TIMEOUT_MS)
    assert desk.page.get_attribute("#call-stage", "data-connected") == "true"
    phone.screenshot(artifacts, "advisor-phone-resumed")
    desk.screenshot(artifacts, "advisor-desk-customer-back")

    phone.page.click("#advisor-end")
    desk.page.wait_for_selector("#wrap")
    assert phone.page.evaluate("window.__advisorCall.pc") is None
    assert not _clean(phone.errors), f"phone: console errors {phone.errors[:3]} {phone_refused[:3]}"
    assert not _clean(desk.errors), f"advisor desk: console errors {desk.errors[:3]} {desk_refused[:3]}"
