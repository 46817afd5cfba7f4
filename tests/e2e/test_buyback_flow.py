"""Buy-back end to end over real HTTP with the payment sandbox: the live bid, a quote locking it, the booking of
a branch slot (the code as text and QR), the teller's inspection in the staff API, the payout through the
sandbox's `POST /payouts` to the customer's account of record and its signed notification applied once (a
redelivered duplicate changes nothing); an expired quote refused; no account number can be typed anywhere."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

from showroom.compliance import KycLevel
from showroom.staff import Role
from tests.commerce_fakes import FakeCustomers, FixedPrices
from tests.e2e.test_pickups_api import ShiftedClock, _first_slot, branch_stack
from tests.integration.commerce_db import DB_KINDS
from tests.staff_http import StaffStack

pytestmark = pytest.mark.asyncio
SELLER = {"name": "王芳", "phone": "13800000000"}


@asynccontextmanager
async def buyback_stack(kind: str, tmp_path: Path, clock: ShiftedClock) -> AsyncIterator[tuple[StaffStack,
                                                                                               TestServer]]:
    """The branch stack with a bid in the price feed and a register where only the seller is a customer."""
    prices = FixedPrices(clock)  # type: ignore[arg-type]
    prices.bid_spread = Decimal("4.00")
    customers = FakeCustomers(unknown_level=None)
    customers.add("13800000000", KycLevel.L1)
    async with branch_stack(kind, tmp_path, clock, prices=prices, customers=customers) as pair:
        yield pair


Node = tuple[StaffStack, TestServer, ShiftedClock]


@pytest_asyncio.fixture(params=DB_KINDS)
async def node(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Node]:
    clock = ShiftedClock()
    async with buyback_stack(request.param, tmp_path, clock) as (stack, sandbox):
        yield stack, sandbox, clock


async def call(stack: StaffStack, method: str, path: str, body: Any = None, token: str | None = None,
               base: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with stack.http.request(method, (base or stack.base) + path, json=body, headers=headers) as r:
        return r.status, (await r.json() if r.content_type == "application/json" else await r.read())


async def quote_and_book(stack: StaffStack, clock: ShiftedClock) -> tuple[str, str, str]:
    status, q = await call(stack, "POST", "/api/buybacks/quotes", {"product": "bar-50g", "variant": "au9999-50g"})
    assert status == 201 and q["status"] == "quoted" and q["bid_cny_per_g"] == "926.00", q
    slot, _ = await _first_slot(stack, clock, "advisory")
    status, b = await call(stack, "POST", f"/api/buybacks/{q['id']}/book",
                           {"branch": "sh-test", "slot": slot, "customer": SELLER}, q["buyback_token"])
    assert status == 200 and b["status"] == "booked" and len(b["code"]) == 11, b
    return q["id"], q["buyback_token"], b["code"]


async def until_status(stack: StaffStack, bid: str, token: str, status: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            _, b = await call(stack, "GET", f"/api/buybacks/{bid}", token=token)
            if b["status"] == status:
                return dict(b)
            await asyncio.sleep(0.05)


async def test_a_buyback_goes_quote_appointment_inspection_payout(node: Node) -> None:
    stack, sandbox, clock = node
    status, board = await call(stack, "GET", "/api/buybacks/prices")
    assert status == 200 and board["bid_cny_per_g"]["Au"] == "926.00" and board["spot_cny_per_g"]["Au"] == "930.00"
    assert [ln["product"] for ln in board["lines"]] == ["bar-50g", "bar-50g"]  # bars only: no ring, no car
    bid, token, code = await quote_and_book(stack, clock)
    status, png = await call(stack, "GET", f"/api/buybacks/{bid}/code.png", token=token)
    assert status == 200 and png[:8] == b"\x89PNG\r\n\x1a\n"
    assert (await call(stack, "GET", f"/api/buybacks/{bid}", token="wrong"))[0] == 404
    tina = await stack.staff("tina", Role.TELLER)
    status, found, _ = await stack.request("GET", f"/api/staff/buybacks/lookup?branch=sh-test&code={code.lower()}",
                                           who=tina)
    assert status == 200 and found["id"] == bid and found["phone"] == "138****0000", found
    body = {"branch": "sh-test", "code": code, "id_checked": True, "id_name": "王芳",
            "pieces": [{"serial": None, "weight_g": "49.800", "condition": "intact"}]}
    status, done, _ = await stack.request("POST", "/api/staff/buybacks/inspect", who=tina, body=body)
    assert status == 200 and done["status"] == "payout_pending" and done["approval"] is None, done  # below the limit
    assert done["amount_cny"] == "46110.19" and done["pieces"][0]["reason"] == "weight_short_repriced"
    assert done["account_masked"].startswith("6222 ****") and done["inspected_by"] == "tina"
    paid = await until_status(stack, bid, token, "paid_out")
    assert paid["amount_cny"] == "46110.19" and paid["code"] is None
    status, payout = await call(stack, "GET", f"/payouts/{done['payout_id']}", base=stack.pay)
    assert payout["status"] == "succeeded" and payout["customer_id"] == "cust_13800000000"
    assert payout["amount_fen"] == 4611019

    from showroom.payment_sandbox._http import STORE_KEY

    store = sandbox.app[STORE_KEY]
    [event] = await store.run(store.db.outbox.events_of, done["payout_id"])
    async with asyncio.timeout(10):
        while (await store.run(store.db.outbox.event, event.id)).status != "delivered":
            await asyncio.sleep(0.05)
    status, _ = await call(stack, "POST", f"/events/{event.id}/redeliver", base=stack.pay)
    assert status == 202
    async with asyncio.timeout(10):  # the duplicate is delivered (2xx) and changes nothing
        while (await store.run(store.db.outbox.event, event.id)).attempts < 2:
            await asyncio.sleep(0.05)
    mgr = await stack.staff("mia", Role.MANAGER)
    status, audit, _ = await stack.request("GET", f"/api/staff/audit?subject=buyback:{bid}", who=mgr)
    actions = [e["action"] for e in audit["entries"]]
    assert actions.count("buyback_paid_out") == 1 and "buyback_inspected" in actions and "buyback_quoted" in actions
    from showroom.branches import local_day

    when = local_day(datetime.fromisoformat(found["slot"].replace("Z", "+00:00"))).isoformat()  # the branch's day
    status, day, _ = await stack.request("GET", f"/api/staff/buybacks?branch=sh-test&date={when}", who=tina)
    assert status == 200 and any(b["id"] == bid and b["status"] == "paid_out" for b in day["buybacks"]), day


async def test_an_expired_quote_is_refused(node: Node) -> None:
    stack, _, clock = node
    status, q = await call(stack, "POST", "/api/buybacks/quotes", {"product": "bar-50g", "variant": "au9999-50g"})
    assert status == 201
    slot, _ = await _first_slot(stack, clock, "advisory")
    clock.offset = timedelta(minutes=11)
    status, err = await call(stack, "POST", f"/api/buybacks/{q['id']}/book",
                             {"branch": "sh-test", "slot": slot, "customer": SELLER}, q["buyback_token"])
    assert status == 409 and err["error"]["code"] == "quote_expired", err
    _, seen = await call(stack, "GET", f"/api/buybacks/{q['id']}", token=q["buyback_token"])
    assert seen["status"] == "expired"


async def test_no_account_number_can_be_typed_and_unknown_numbers_have_no_payee(node: Node) -> None:
    stack, _, clock = node
    status, q = await call(stack, "POST", "/api/buybacks/quotes", {"product": "bar-50g", "variant": "au9999-50g"})
    slot, _ = await _first_slot(stack, clock, "advisory")
    book = {"branch": "sh-test", "slot": slot, "customer": SELLER}
    for extra in ({"account_number": "6222021234567890"}, {"card": "6222021234567890"}):
        status, err = await call(stack, "POST", f"/api/buybacks/{q['id']}/book", {**book, **extra},
                                 q["buyback_token"])
        assert status == 422 and err["error"]["code"] == "invalid_input", err
        status, err = await call(stack, "POST", f"/api/buybacks/{q['id']}/book",
                                 {**book, "customer": {**SELLER, **extra}}, q["buyback_token"])
        assert status == 422, err
    status, err = await call(stack, "POST", f"/api/buybacks/{q['id']}/book",
                             {**book, "customer": {"name": "张三", "phone": "13912345678"}}, q["buyback_token"])
    assert status == 403 and err["error"]["code"] == "buyback_needs_account", err
    async with stack.http.post(f"{stack.pay}/payouts", headers={"Idempotency-Key": "k1"},
                               json={"reference": "bb_x", "customer_id": "cust_13800000000", "amount_fen": 100,
                                     "notify_url": f"{stack.base}/api/buybacks/notify",
                                     "account": "6222021234567890"}) as r:
        assert r.status == 422 and "account of record" in (await r.json())["error"]["message"]
    payout = {"reference": "bb_x", "customer_id": "cust_13800000000", "amount_fen": 100,
              "notify_url": f"{stack.base}/api/buybacks/notify"}
    replies = []
    for body in (payout, payout, {**payout, "amount_fen": 101}):
        async with stack.http.post(f"{stack.pay}/payouts", headers={"Idempotency-Key": "k2"}, json=body) as r:
            replies.append((r.status, await r.json()))
    assert replies[0][0] == replies[1][0] == 201 and replies[0][1]["payout_id"] == replies[1][1]["payout_id"]
    assert replies[2][0] == 422  # the same key with another payout: refused, never a second payout
    async with stack.http.post(f"{stack.pay}/payouts", headers={"Idempotency-Key": "k3"},
                               json={**payout, "customer_id": "unverified:abc"}) as r:
        assert r.status == 422 and (await r.json())["error"]["code"] == "no_account_of_record"
    status, err = await call(stack, "POST", "/api/buybacks/quotes", {"product": "ring-18k", "variant": "au750-12"})
    assert status == 422 and err["error"]["code"] == "not_bought_back"
