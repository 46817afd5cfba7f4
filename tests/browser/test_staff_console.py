"""The back-office console `/staff` in headless Chromium against a real node: staff sign in with a password and a
TOTP code; a teller asks for a refund above the teller limit, which waits for a manager; a manager approves it
from the queue (but not their own request: four eyes); the order shows refunded; an auditor reads both actions,
with their actors, in the audit log whose chain is verified; a teller sees neither the audit log nor the
reconciliation. Screenshots land in test-artifacts/browser/staff-*.png (Chinese, and English where named)."""

from __future__ import annotations

import json
import re
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Server, StaffLogin

pytestmark = pytest.mark.browser

# above the teller limit (5000 CNY), so a teller's refund of all of it waits for a manager
PRODUCT, VARIANT = "bar-au9999-10g", "au9999-10g"


def _call(server: Server, path: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
          base: str | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request((base or server.base) + path, data=data, method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=30) as r:
        raw = r.read()
        return json.loads(raw) if raw else None


def paid_order(server: Server, customer_name: str) -> dict[str, Any]:
    """A customer's order paid through the payment sandbox, as the public API makes it (quote -> order -> payment
    -> the sandbox's test control approves it); returns the order once the node has it paid."""
    quote = _call(server, "/api/quotes", {"product": PRODUCT, "variant": VARIANT, "quantity": 1})
    order = _call(server, "/api/orders", {"quote_id": quote["id"], "channel": "kiosk",
                                          "customer": {"name": customer_name, "phone": "13900001234"}},
                  {"Idempotency-Key": uuid.uuid4().hex})
    auth = {"Authorization": f"Bearer {order['order_token']}"} if order.get("order_token") else {}
    payment = _call(server, f"/api/orders/{order['id']}/payments", {"method": "mobile_banking"},
                    {"Idempotency-Key": uuid.uuid4().hex, **auth})
    sandbox = str(server.get_json("/healthz")["payment_backend"]).rstrip("/")
    _call(server, f"/payments/{payment['payment_id']}/complete", {"outcome": "approved"}, base=sandbox)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the node learns it from the sandbox's signed notification
        seen = _call(server, f"/api/orders/{order['id']}", headers=auth)
        if seen["status"] == "paid":
            return dict(seen)
        time.sleep(0.2)
    pytest.fail(f"order {order['id']} was not paid within 30 s: {seen}")


def backend_only_payment(server: Server, order_ref: str, amount_fen: int) -> str:
    """A payment made and settled at the payment sandbox whose notification goes nowhere, so the node never
    records it (what reconciliation must catch); returns its id at the backend."""
    sandbox = str(server.get_json("/healthz")["payment_backend"]).rstrip("/")
    made = _call(server, "/payments", {"order_id": order_ref, "amount_fen": amount_fen, "method": "mobile_banking",
                                       "notify_url": "http://127.0.0.1:9/nowhere"},
                 {"Idempotency-Key": uuid.uuid4().hex}, base=sandbox)
    _call(server, f"/payments/{made['payment_id']}/complete", {"outcome": "approved"}, base=sandbox)
    return str(made["payment_id"])


def _clean(errors: list[str]) -> list[str]:
    """Console errors other than the browser's own line for an expected 401 (the page asks for its session)."""
    return [e for e in errors if not re.search(r"status of 40[134]", e)]


def sign_in(page: Any, server: Server, who: StaffLogin, lang: str = "zh") -> None:
    page.goto(f"{server.base}/staff?lang={lang}", wait_until="domcontentloaded")
    page.wait_for_selector("#signin-form")
    page.fill("#signin-name", who.name)
    page.fill("#signin-password", who.password)
    page.fill("#signin-otp", who.code())
    page.click("#signin-submit")
    page.wait_for_selector("#console:not([hidden]) #nav .nav-item, #signin-error:not(:empty)")
    assert page.is_visible("#console"), f"{who.name} not signed in: {page.inner_text('#signin-error')}"
    # nothing typed stays in the page, and the password is in no script variable that the tests can see
    assert page.input_value("#signin-password") == "" and page.input_value("#signin-otp") == ""
    assert who.password not in page.evaluate("JSON.stringify(window.__staff.currentStaff())")


@pytest.fixture(scope="module")
def staff(staff_account: Any) -> dict[str, StaffLogin]:
    """The module's staff, one account per role (each signs in through the page once: the node allows five
    sign-ins a minute from one address, and a TOTP code is good once)."""
    return {"teller": staff_account("zhang.san", "teller", "张三"),
            "manager": staff_account("wang.li", "manager", "王丽"),
            "auditor": staff_account("zhao.min", "auditor", "赵敏"),
            "admin": staff_account("sun.li", "admin", "孙立")}


@pytest.fixture(scope="module")
def sessions() -> dict[str, Any]:
    """Storage states (the session cookie) of the accounts signed in so far in this module, by name."""
    return {}


def console(new_page: Any, server: Server, sessions: dict[str, Any], who: StaffLogin, lang: str = "zh",
            viewport: tuple[int, int] = (1366, 860)) -> Any:
    """A page of the console signed in as `who`: through the sign-in form the first time, later by the session
    cookie that sign-in left (the page restores it from `GET /api/staff/session`)."""
    if who.name in sessions:
        w = new_page(viewport, storage_state=sessions[who.name])
        w.page.goto(f"{server.base}/staff?lang={lang}", wait_until="domcontentloaded")
        w.page.wait_for_selector("#console:not([hidden]) #nav .nav-item")
        return w
    w = new_page(viewport)
    sign_in(w.page, server, who, lang)
    sessions[who.name] = w.page.context.storage_state()
    return w


def nav_sections(page: Any) -> list[str]:
    return list(page.eval_on_selector_all("#nav .nav-item", "els => els.map(e => e.dataset.section)"))


def test_a_large_refund_waits_for_a_manager_and_lands_in_the_verified_audit_log(
        server: Server, new_page: Any, staff: dict[str, StaffLogin], sessions: dict[str, Any],
        artifacts: Path) -> None:
    teller, manager, auditor = staff["teller"], staff["manager"], staff["auditor"]
    order = paid_order(server, "李雷")
    own = paid_order(server, "韩梅梅")  # the manager's own refund request: four eyes apply to managers too

    # ---- the teller finds the paid order and asks for a refund of all of it (above the teller limit)
    t = console(new_page, server, sessions, teller)
    assert nav_sections(t.page) == ["orders", "stock", "pickups", "buybacks", "certificates"]  # no approvals, reconciliation, audit or accounts
    t.page.wait_for_selector(f'tr[data-order="{order["id"]}"]')
    t.page.fill("#f-q", order["id"])
    t.page.click(".filters button[type=submit]")
    t.page.wait_for_function("document.querySelectorAll('#orders-result tr[data-order]').length === 1")
    assert t.page.get_attribute("#orders-result tr[data-order]", "data-status") == "paid"
    t.screenshot(artifacts, "staff-teller-orders-zh")
    t.page.click(f'#orders-result a[href="#/orders/{order["id"]}"]')
    t.page.wait_for_selector(f'.order-head[data-order="{order["id"]}"]')
    for title in ("报价", "价格快照", "支付记录", "退款", "退款申请", "操作记录"):
        assert t.page.locator(".card-s h3", has_text=title).count() >= 1, title
    assert t.page.locator(".card-s h3", has_text="合规").count() == 0  # compliance is not a teller's to read
    t.page.click("#refund-open")
    t.page.wait_for_selector("#refund-amount")
    t.page.fill("#refund-reason", "客户改变主意，全额退款")
    t.screenshot(artifacts, "staff-teller-refund-dialog-zh")
    t.page.click("#refund-send")
    t.page.wait_for_selector('.card-s tr[data-state="pending_approval"]')
    assert "待主管审批" in t.page.inner_text("main")
    assert t.page.get_attribute(".order-head", "data-status") == "paid"
    t.page.screenshot(path=str(artifacts / "staff-teller-refund-pending-zh.png"), full_page=True)
    # the audit log and the reconciliation are not the teller's: not in the nav, refused when typed in
    t.page.evaluate("location.hash = '#/audit'")
    t.page.wait_for_selector("#not-allowed")
    t.screenshot(artifacts, "staff-teller-no-audit-zh")
    t.page.evaluate("location.hash = '#/reconciliation'")
    t.page.wait_for_selector("#not-allowed")
    assert t.page.locator("#audit-result, #recon-result").count() == 0

    # ---- the manager sees it in the queue; their own request is shown but cannot be approved by them
    m = console(new_page, server, sessions, manager)
    assert "approvals" in nav_sections(m.page) and "accounts" not in nav_sections(m.page)
    m.page.goto(f"{server.base}/staff?lang=zh#/orders/{own['id']}")
    m.page.wait_for_selector(f'.order-head[data-order="{own["id"]}"]')
    m.page.click("#refund-open")
    m.page.fill("#refund-amount", "6000")
    m.page.fill("#refund-reason", "质量问题")
    m.page.click("#refund-send")
    m.page.wait_for_selector('.card-s tr[data-state="pending_approval"]')
    m.page.click("#nav-approvals")
    row = f'#approvals-result tr[data-order="{order["id"]}"]'
    m.page.wait_for_selector(row)
    own_row = f'#approvals-result tr[data-order="{own["id"]}"]'
    assert m.page.locator(f"{own_row} [data-act=approve]").count() == 0
    assert "双人复核" in m.page.inner_text(f"{own_row} .four-eyes")
    assert "张三" in m.page.inner_text(row) or teller.name in m.page.inner_text(row)
    m.screenshot(artifacts, "staff-manager-queue-zh")
    m.page.click(f"{row} [data-act=approve]")
    m.page.click("#approve-confirm")
    m.page.wait_for_selector(row, state="detached")
    m.page.goto(f"{server.base}/staff?lang=zh#/orders/{order['id']}")
    m.page.wait_for_selector('.order-head[data-status="refunded"]', timeout=30_000)
    assert m.page.locator('.card-s tr[data-state="approved"]').count() == 1
    assert m.page.locator(".card-s h3", has_text="合规").count() == 1  # a manager reads compliance
    m.page.screenshot(path=str(artifacts / "staff-manager-order-refunded-zh.png"), full_page=True)

    # ---- the auditor reads both actions with their actors, and the chain verifies
    a = console(new_page, server, sessions, auditor, viewport=(1366, 900))
    assert nav_sections(a.page) == ["orders", "reconciliation", "audit", "stock", "pickups", "buybacks", "certificates",
                                      "recordings"]
    a.page.click("#nav-audit")
    a.page.wait_for_selector("#audit-verify .notice-ok")
    assert "审计链校验通过" in a.page.inner_text("#audit-verify")
    a.page.fill("#audit-subject", f"order:{order['id']}")
    a.page.click("#main .filters button[type=submit]")
    a.page.wait_for_selector('#audit-result tr[data-action="refund_approved"]')
    requested = a.page.locator('#audit-result tr[data-action="refund_approval_requested"]')
    approved = a.page.locator('#audit-result tr[data-action="refund_approved"]')
    assert requested.count() >= 1 and requested.first.get_attribute("data-actor") == teller.name
    assert approved.first.get_attribute("data-actor") == manager.name
    assert "申请退款" in requested.first.inner_text() and "批准退款" in approved.first.inner_text()
    a.screenshot(artifacts, "staff-auditor-audit-zh")
    a.page.click('[data-action="lang"]')
    a.page.wait_for_function("/Chain verified/.test(document.querySelector('#audit-verify').textContent)")
    a.page.wait_for_selector('#audit-result tr[data-action="refund_approved"]')
    assert "Refund approved" in a.page.inner_text('#audit-result tr[data-action="refund_approved"]')
    a.screenshot(artifacts, "staff-auditor-audit-en")
    # a payment the backend settled that the node never heard of: the day's report must show it, classified
    stray = backend_only_payment(server, "ord_walkin_unrecorded", 88_800)
    a.page.click("#nav-reconciliation")
    a.page.wait_for_selector(f'#recon-result tr[data-kind="theirs_only"]:has-text("{stray}")')
    assert "Only at the payment backend" in a.page.inner_text('#recon-result tr[data-kind="theirs_only"]')
    assert "¥888.00" in a.page.inner_text('#recon-result tr[data-kind="theirs_only"]')
    a.screenshot(artifacts, "staff-auditor-reconciliation-en")

    for w, who in ((t, "teller"), (m, "manager"), (a, "auditor")):
        assert not _clean(w.errors), (who, w.errors)


def test_a_teller_hands_a_paid_order_over_at_pick_up(
        server: Server, new_page: Any, staff: dict[str, StaffLogin], sessions: dict[str, Any],
        artifacts: Path) -> None:
    order = paid_order(server, "王芳")
    t = console(new_page, server, sessions, staff["teller"])
    t.page.goto(f"{server.base}/staff?lang=zh#/orders/{order['id']}")
    t.page.wait_for_selector(f'.order-head[data-order="{order["id"]}"][data-status="paid"]')
    t.page.click("#fulfil-ready")
    t.page.wait_for_selector('.order-head[data-status="fulfilling"]')
    t.page.click("#fulfil-handover")
    t.page.wait_for_selector("#handover-confirm")
    assert t.page.is_disabled("#handover-confirm")  # the ID check is confirmed first
    # by keyboard: the dialog opens on the ID check; Space ticks it, Tab goes past "close" to the hand-over
    assert t.page.evaluate("document.activeElement.id") == "handover-checked"
    t.page.keyboard.press("Space")
    assert t.page.is_enabled("#handover-confirm")
    t.page.keyboard.press("Tab")
    t.page.keyboard.press("Tab")
    assert t.page.evaluate("document.activeElement.id") == "handover-confirm"
    t.screenshot(artifacts, "staff-teller-handover-zh")
    t.page.keyboard.press("Enter")
    t.page.wait_for_selector('.order-head[data-status="completed"]')
    assert t.page.locator(".steps li.done").count() == 3
    assert t.page.locator('.card-s tr[data-action="completed"][data-actor="zhang.san"]').count() == 1
    assert t.page.locator("#fulfil-ready, #fulfil-handover").count() == 0
    assert not _clean(t.errors), t.errors


def test_an_ended_session_returns_to_sign_in_with_a_message(
        server: Server, new_page: Any, staff: dict[str, StaffLogin], sessions: dict[str, Any],
        artifacts: Path) -> None:
    order = paid_order(server, "赵雷")
    w = console(new_page, server, sessions, staff["teller"], viewport=(1280, 800))
    w.page.goto(f"{server.base}/staff?lang=zh#/orders/{order['id']}")
    w.page.click("#refund-open")
    w.page.fill("#refund-reason", "客户要求")
    w.page.context.clear_cookies()  # as when the session ends on the server (idle, absolute end, revoked)
    w.page.click("#refund-send")
    w.page.wait_for_selector("#signin:not([hidden]) #signin-message:not([hidden])")
    assert "登录已过期" in w.page.inner_text("#signin-message")
    # nothing of the session is left on the screen or in the page
    assert w.page.locator(".overlay, #refund-reason, .order-head, #nav .nav-item").count() == 0
    w.screenshot(artifacts, "staff-session-expired-zh")


def test_an_admin_adds_a_teller_and_sees_the_authenticator_setup_once(
        server: Server, new_page: Any, staff: dict[str, StaffLogin], sessions: dict[str, Any],
        artifacts: Path) -> None:
    admin = staff["admin"]
    w = console(new_page, server, sessions, admin, lang="en")
    assert nav_sections(w.page) == ["audit", "stock", "accounts"]
    w.page.click("#nav-accounts")
    w.page.wait_for_selector('#accounts-result tr[data-account="sun.li"]')
    w.page.click("#account-add")
    w.page.fill("#new-name", "li.na")
    w.page.fill("#new-display", "李娜")
    w.page.select_option("#new-role", "teller")
    w.page.fill("#new-password", "a-long-enough-password-7")
    w.page.click("#new-create")
    w.page.wait_for_selector("#enrolment")
    uri = w.page.input_value("#enrol-uri")
    assert uri.startswith("otpauth://totp/") and "secret=" in uri
    w.screenshot(artifacts, "staff-admin-enrol-en")
    w.page.keyboard.press("Escape")
    w.page.wait_for_selector('#accounts-result tr[data-account="li.na"]')
    w.page.click('#accounts-result tr[data-account="li.na"] [data-act=disable]')
    w.page.wait_for_selector('#accounts-result tr[data-account="li.na"][data-disabled="true"]')
    # the admin's own row cannot be disabled from here
    assert w.page.is_disabled('#accounts-result tr[data-account="sun.li"] [data-act=disable]')
    w.screenshot(artifacts, "staff-admin-accounts-en")
    w.page.click("#signout")
    w.page.wait_for_selector("#signin:not([hidden]) #signin-message:not([hidden])")
    assert "signed out" in w.page.inner_text("#signin-message")
    assert w.page.evaluate("fetch('/api/staff/session').then(r => r.status)") == 401  # ended on the server too
    sessions.pop(admin.name, None)
    assert not _clean(w.errors), w.errors


def test_staff_page_is_served_and_refuses_a_wrong_code_with_one_neutral_message(
        server: Server, new_page: Any, staff: dict[str, StaffLogin], artifacts: Path) -> None:
    # last in the module: its refused sign-ins count against the address's sign-in rate
    with urllib.request.urlopen(server.base + "/staff", timeout=30) as r:
        assert r.status == 200 and b'id="signin-form"' in r.read()
    teller = staff["teller"]
    w = new_page()
    w.page.goto(f"{server.base}/staff?lang=zh", wait_until="domcontentloaded")
    w.page.wait_for_selector("#signin-form:not([hidden])")
    assert w.page.get_attribute("#signin-otp", "autocomplete") == "one-time-code"
    w.screenshot(artifacts, "staff-signin-zh")
    w.page.fill("#signin-name", teller.name)
    w.page.fill("#signin-password", teller.password)
    w.page.fill("#signin-otp", "000000" if teller.code() != "000000" else "111111")
    w.page.click("#signin-submit")
    w.page.wait_for_function("document.querySelector('#signin-error').textContent.length > 0")
    refused = w.page.inner_text("#signin-error")
    assert "验证码" in refused and w.page.is_hidden("#console")
    assert w.page.input_value("#signin-password") == "" and w.page.input_value("#signin-otp") == ""
    # an unknown account gets the very same words
    w.page.fill("#signin-name", "nobody.here")
    w.page.fill("#signin-password", "whatever-password-1")
    w.page.fill("#signin-otp", "123456")
    w.page.click("#signin-submit")
    w.page.wait_for_function("document.querySelector('#signin-error').textContent.length > 0")
    assert w.page.inner_text("#signin-error") == refused
    w.page.click('[data-action="lang"]')  # the message follows the language
    w.page.wait_for_function("/account, password or code/.test(document.querySelector('#signin-error').textContent)")
    w.screenshot(artifacts, "staff-signin-refused-en")
    assert not _clean(w.errors), w.errors
