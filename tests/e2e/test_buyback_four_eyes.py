"""Four eyes on large buy-back payouts, end to end over real HTTP with the payment sandbox: two 50 g bars
(92,590.74 CNY, above the default limit of 50,000) inspected by a teller wait for a second person; nothing
reaches the payment backend meanwhile, "Pay again" cannot slip past it, the teller who inspected (or another
teller) cannot approve, another manager can, and the payout then happens exactly once even when two managers
approve at the same moment. A rejection buys nothing and gives the serials back. (One bar, below the limit, is
paid at once: tests/e2e/test_buyback_flow.py.)"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from showroom.certificates import new_serial
from showroom.payment_sandbox._http import STORE_KEY
from showroom.payment_sandbox.store import SandboxDb
from showroom.staff import Role
from tests.e2e.test_buyback_flow import SELLER, Node, buyback_stack, call, until_status
from tests.e2e.test_pickups_api import ShiftedClock, _first_slot
from tests.integration.commerce_db import DB_KINDS
from tests.staff_http import StaffStack

pytestmark = pytest.mark.asyncio
TWO_BARS = "92590.74"  # 2 x 926.00 x 0.9999 x 50 g


@pytest_asyncio.fixture(params=DB_KINDS)
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Node]:
    clock = ShiftedClock()
    async with buyback_stack(request.param, tmp_path, clock) as (stack, sandbox):
        yield stack, sandbox, clock


async def book_two_bars(stack: StaffStack, clock: ShiftedClock) -> tuple[str, str, str]:
    status, q = await call(stack, "POST", "/api/buybacks/quotes",
                           {"product": "bar-50g", "variant": "au9999-50g", "quantity": 2})
    assert status == 201 and q["quoted_cny"] == TWO_BARS, q
    slot, _ = await _first_slot(stack, clock, "advisory")
    status, b = await call(stack, "POST", f"/api/buybacks/{q['id']}/book",
                           {"branch": "sh-test", "slot": slot, "customer": SELLER}, q["buyback_token"])
    assert status == 200 and b["status"] == "booked", b
    return q["id"], q["buyback_token"], b["code"]


def inspection(code: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"branch": "sh-test", "code": code, "id_checked": True, "id_name": "王芳",
            "pieces": [{"serial": new_serial("HJ50", now), "weight_g": "50.000", "condition": "intact"}
                       for _ in range(2)]}


def _payouts_of(db: SandboxDb, reference: str) -> list[str]:
    conn: sqlite3.Connection = db._conn
    return [r["id"] for r in conn.execute("SELECT id FROM payouts WHERE reference = ?", (reference,)).fetchall()]


async def payouts_at_backend(node: Node, reference: str) -> list[str]:
    store = node[1].app[STORE_KEY]
    return await store.run(_payouts_of, store.db, reference)


async def test_a_large_payout_waits_for_another_manager_and_is_paid_exactly_once(world: Node) -> None:
    stack, _sandbox, clock = world
    bid, token, code = await book_two_bars(stack, clock)
    tina = await stack.staff("tina", Role.TELLER)
    status, done, _ = await stack.request("POST", "/api/staff/buybacks/inspect", who=tina, body=inspection(code))
    assert status == 200 and done["status"] == "awaiting_approval" and done["approval"] == "pending_approval", done
    assert done["amount_cny"] == TWO_BARS and done["payout_id"] is None and done["inspected_by"] == "tina"
    assert await payouts_at_backend(world, bid) == []
    _, mine = await call(stack, "GET", f"/api/buybacks/{bid}", token=token)
    assert mine["status"] == "accepted" and "approval" not in mine  # the bank's second look is its own business

    status, err, _ = await stack.request("POST", f"/api/staff/buybacks/{bid}/payout", who=tina, body={})
    assert status == 409, err  # "Pay again" does not slip past the approval
    status, err, _ = await stack.request("POST", f"/api/staff/buybacks/{bid}/approve", who=tina, body={})
    assert status == 403 and err["error"]["code"] == "four_eyes", err
    tom = await stack.staff("tom", Role.TELLER)
    status, err, _ = await stack.request("POST", f"/api/staff/buybacks/{bid}/approve", who=tom, body={})
    assert status == 403 and err["error"]["code"] == "forbidden", err
    status, err, _ = await stack.request("POST", f"/api/staff/buybacks/{bid}/reject", who=tom, body={"reason": "x"})
    assert status == 403 and err["error"]["code"] == "forbidden", err
    assert await payouts_at_backend(world, bid) == []

    mia = await stack.staff("mia", Role.MANAGER)
    max_ = await stack.staff("max", Role.MANAGER)
    status, waiting, _ = await stack.request("GET", "/api/staff/buybacks/approvals", who=mia)
    assert status == 200 and [b["id"] for b in waiting["buybacks"]] == [bid], waiting
    answers = await asyncio.gather(
        stack.request("POST", f"/api/staff/buybacks/{bid}/approve", who=mia, body={}),
        stack.request("POST", f"/api/staff/buybacks/{bid}/approve", who=max_, body={}))
    statuses = sorted(a[0] for a in answers)
    assert statuses == [200, 409], answers
    approved = next(a[1] for a in answers if a[0] == 200)
    loser = next(a[1] for a in answers if a[0] == 409)
    assert loser["error"]["code"] == "buyback_approval_decided"
    assert approved["status"] in ("payout_pending", "paid_out") and approved["approval"] == "approved"
    assert approved["decided_by"] in ("mia", "max") and approved["payout_id"]
    paid = await until_status(stack, bid, token, "paid_out")
    assert paid["amount_cny"] == TWO_BARS and paid["account_masked"].startswith("6222 ****")
    assert await payouts_at_backend(world, bid) == [approved["payout_id"]]  # exactly once
    status, again, _ = await stack.request("POST", f"/api/staff/buybacks/{bid}/approve", who=mia, body={})
    assert status in (403, 409), again  # decided (or mia's own decision): nothing more is paid
    assert await payouts_at_backend(world, bid) == [approved["payout_id"]]

    status, audit, _ = await stack.request("GET", f"/api/staff/audit?subject=buyback:{bid}", who=mia)
    actions = [e["action"] for e in audit["entries"]]
    for action in ("buyback_payout_approval_requested", "buyback_payout_approved", "buyback_payout_sent",
                   "buyback_paid_out"):
        assert actions.count(action) == 1, (action, actions)
    approval = next(e for e in audit["entries"] if e["action"] == "buyback_payout_approved")
    assert approval["actor"] == approved["decided_by"] and approval["role"] == "manager"
    status, waiting, _ = await stack.request("GET", "/api/staff/buybacks/approvals", who=mia)
    assert waiting["buybacks"] == []
    status, decided, _ = await stack.request("GET", "/api/staff/buybacks/approvals?state=approved", who=mia)
    assert [b["id"] for b in decided["buybacks"]] == [bid]


async def test_a_rejected_large_payout_pays_nothing_and_gives_the_serials_back(world: Node) -> None:
    stack, _sandbox, clock = world
    bid, token, code = await book_two_bars(stack, clock)
    mia = await stack.staff("mia", Role.MANAGER)
    status, done, _ = await stack.request("POST", "/api/staff/buybacks/inspect", who=mia, body=inspection(code))
    assert status == 200 and done["status"] == "awaiting_approval", done  # a manager's own needs a second one too
    status, err, _ = await stack.request("POST", f"/api/staff/buybacks/{bid}/approve", who=mia, body={})
    assert status == 403 and err["error"]["code"] == "four_eyes", err
    max_ = await stack.staff("max", Role.MANAGER)
    status, err, _ = await stack.request("POST", f"/api/staff/buybacks/{bid}/reject", who=max_, body={})
    assert status == 422, err  # a reason is required
    status, rejected, _ = await stack.request("POST", f"/api/staff/buybacks/{bid}/reject", who=max_,
                                              body={"reason": "the bars' packaging was opened"})
    assert status == 200 and rejected["status"] == "rejected" and rejected["approval"] == "rejected", rejected
    assert rejected["decision_reason"] == "the bars' packaging was opened" and rejected["decided_by"] == "max"
    status, err, _ = await stack.request("POST", f"/api/staff/buybacks/{bid}/approve", who=max_, body={})
    assert status == 409 and err["error"]["code"] == "buyback_approval_decided", err
    _, mine = await call(stack, "GET", f"/api/buybacks/{bid}", token=token)
    assert mine["status"] == "rejected" and mine["rejected_at"] == "approval", mine
    assert "decision_reason" not in mine and "rejection_reason" not in mine
    assert await payouts_at_backend(world, bid) == []
    status, audit, _ = await stack.request("GET", f"/api/staff/audit?subject=buyback:{bid}", who=max_)
    [entry] = [e for e in audit["entries"] if e["action"] == "buyback_payout_rejected"]
    assert entry["actor"] == "max" and entry["after"]["serials_released"] == 2, entry
    assert not any(e["action"] == "buyback_payout_sent" for e in audit["entries"])
