"""Four eyes on a large buy-back payout in headless Chromium against a real node and its payment sandbox: two
50 g bars (above the default limit of 50,000 CNY) booked by a customer; the teller's inspection in the console
says the payout waits for a manager; on the Approvals page the manager sees it with approve and reject, approves
in the dialog, and the customer's buy-back is paid out. Screenshots: test-artifacts/browser/buyback-approval-*.png.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from showroom.certificates import new_serial
from tests.browser.conftest import Server
from tests.browser.test_staff_console import sign_in

pytestmark = pytest.mark.browser
BRANCH = "sh-lujiazui"
SELLER_PHONE = "13600000000"  # this file's own customer (a sandbox customer of the bank, L1)


def _request(server: Server, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(server.base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def book_two_bars(server: Server) -> tuple[str, str, str]:
    """Quotes two 50 g bars and books the first free advisory slot at the branch (the customer's side, by API)."""
    q = _request(server, "POST", "/api/buybacks/quotes",
                 {"product": "bar-au9999-50g", "variant": "au9999-50g", "quantity": 2})
    assert float(q["quoted_cny"]) > 50_000, q  # the sandbox feed's bid moves; two 50 g bars stay well above
    today = datetime.now(UTC) + timedelta(hours=8)  # the branch's day (Asia/Shanghai)
    for days in range(4):
        day = (today + timedelta(days=days)).date().isoformat()
        slots = _request(server, "GET", f"/api/branches/{BRANCH}/slots?date={day}&purpose=advisory")["slots"]
        free = [s for s in slots if s["bookable"]]
        if free:
            b = _request(server, "POST", f"/api/buybacks/{q['id']}/book",
                         {"branch": BRANCH, "slot": free[0]["start"],
                          "customer": {"name": "李雷", "phone": SELLER_PHONE}}, q["buyback_token"])
            return q["id"], q["buyback_token"], b["code"]
    raise AssertionError("no free advisory slot in the lock's days")


def test_a_large_buyback_payout_waits_for_a_manager_who_approves_it_in_the_console(
        server: Server, new_page: Any, staff_account: Any, artifacts: Path) -> None:
    bid, token, code = book_two_bars(server)
    teller = staff_account("qian.teller", "teller", "钱柜员")
    manager = staff_account("sun.manager", "manager", "孙经理")

    t = new_page((1366, 900))
    tp = t.page
    sign_in(tp, server, teller)
    assert "nav-approvals" not in [n.get_attribute("id") for n in tp.locator("#nav .nav-item").all()]
    tp.click("#nav-buybacks")
    tp.wait_for_selector("#buybacks-branch option", state="attached")
    tp.select_option("#buybacks-branch", BRANCH)
    tp.fill("#buyback-code", code)
    tp.click("#buyback-find-submit")
    tp.wait_for_selector("#buyback-inspect")
    now = datetime.now(UTC)
    for i in range(2):
        tp.fill(f"[data-piece='{i}'][data-field='serial']", new_serial("HJ50", now))
        tp.fill(f"[data-piece='{i}'][data-field='weight']", "50.000")
    tp.fill("#buyback-name", "李雷")
    tp.check("#buyback-checked")
    tp.click("#buyback-submit")
    tp.wait_for_selector("#buyback-outcome[data-status=awaiting_approval]")
    assert "待主管审批" in tp.inner_text("#buyback-outcome") and "审批" in tp.inner_text("#buyback-waiting")
    amount = tp.inner_text("#buyback-amount").strip()
    t.screenshot(artifacts, "buyback-approval-inspected")
    assert _request(server, "GET", f"/api/buybacks/{bid}", token=token)["account_masked"] is None  # nothing paid
    assert not [e for e in t.errors if "status of 4" not in e], t.errors

    m = new_page((1366, 900))
    mp = m.page
    sign_in(mp, server, manager)
    mp.click("#nav-approvals")
    row = f'#buyback-approvals tr[data-buyback="{bid}"]'
    mp.wait_for_selector(row)
    text = mp.inner_text(row)
    assert amount in text and "× 2" in text and "qian.teller" in text, (amount, text)
    assert mp.locator(f"{row} button[data-act=approve-payout]").count() == 1
    assert mp.locator(f"{row} button[data-act=reject-payout]").count() == 1
    m.screenshot(artifacts, "buyback-approval-queue")
    mp.click(f"{row} button[data-act=approve-payout]")
    mp.wait_for_selector("#payout-approve-confirm")
    m.screenshot(artifacts, "buyback-approval-confirm")
    mp.click("#payout-approve-confirm")
    mp.wait_for_selector(row, state="detached")
    m.screenshot(artifacts, "buyback-approval-done")
    assert not [e for e in m.errors if "status of 4" not in e], m.errors

    deadline = datetime.now(UTC) + timedelta(seconds=30)
    while True:  # the sandbox settles the payout and notifies the node
        got = _request(server, "GET", f"/api/buybacks/{bid}", token=token)
        if got["status"] == "paid_out" or datetime.now(UTC) > deadline:
            break
        mp.wait_for_timeout(250)
    assert got["status"] == "paid_out" and got["account_masked"].startswith("6222"), got
