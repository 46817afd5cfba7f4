"""Branch pick-up end to end over real HTTP with the payment sandbox: the branches file loaded on start, a slot
chosen at checkout (stock reserved at the branch), paid, the pick-up code shown through the order's token, the
teller's hand-over against the code and the identity check; a missed pick-up extended once by the sweep, then
refunded; an advisory appointment on the same slots. Time moves through the node's clock (a Clock port)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from showroom import api
from showroom.services import recovery
from showroom.settings import CommerceSettings
from showroom.staff import Role
from tests.commerce_fakes import SECRET, FakeCustomers, FixedPrices, make_catalog
from tests.integration.commerce_db import DB_KINDS, database_url
from tests.staff_http import StaffStack, _free_port
from tests.unit.test_branches import BRANCH

pytestmark = pytest.mark.asyncio
ALL_DAY = BRANCH.replace('hours = { mon = "09:00-17:00", tue = "09:00-12:00,13:00-17:00", wed = "", thu = "09:00-17:00", '
                         'fri = "09:00-17:00" }',
                         'hours = { mon = "00:00-24:00", tue = "00:00-24:00", wed = "00:00-24:00", '
                         'thu = "00:00-24:00", fri = "00:00-24:00", sat = "00:00-24:00", sun = "00:00-24:00" }')


class ShiftedClock:
    """The wall clock moved forward by `offset` (the node's Clock port: the test moves time)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


@asynccontextmanager
async def branch_stack(kind: str, tmp_path: Path, clock: ShiftedClock, *, prices: Any = None,
                       customers: Any = None) -> AsyncIterator[tuple[StaffStack, TestServer]]:
    """The commerce API with the all-day branches file, the payment sandbox (also yielded: tests look into its
    store) and the moved clock; `prices` and `customers` replace the fixed prices and the fake register."""
    from showroom.payment_sandbox import SandboxSettings
    from showroom.payment_sandbox.app import create_sandbox_app

    assert "00:00-24:00" in ALL_DAY
    branches = tmp_path / "branches.toml"
    branches.write_text(ALL_DAY, encoding="utf-8")
    gen = database_url(kind, tmp_path)
    url = await gen.__anext__()
    sandbox = TestServer(create_sandbox_app(SandboxSettings(webhook_secret=SECRET,
                                                            notify_retry_schedule_s=(0.05, 0.1, 0.2, 0.4),
                                                            refund_processing_s=0.1)), host="127.0.0.1")
    await sandbox.start_server()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    settings = CommerceSettings(database_url=url, payment_webhook_secret=SECRET, public_base_url=base,
                                data_dir=tmp_path / "data", branches_file=branches)
    app = web.Application()
    pay = str(sandbox.make_url("")).rstrip("/")
    api.setup(app, settings, make_catalog(), payment_backend_url=pay, clock=clock,
              prices=prices or FixedPrices(clock),  # type: ignore[arg-type]
              customers=customers or FakeCustomers(), run_sweeper=False)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
            yield StaffStack(base, pay, http, app, tmp_path / "data", url), sandbox
    finally:
        await server.close()
        await sandbox.close()
        with contextlib.suppress(StopAsyncIteration):
            await gen.__anext__()


@asynccontextmanager
async def pickup_stack(kind: str, tmp_path: Path, clock: ShiftedClock) -> AsyncIterator[StaffStack]:
    async with branch_stack(kind, tmp_path, clock) as (stack, _sandbox):
        yield stack


@pytest_asyncio.fixture(params=DB_KINDS)
async def node(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[StaffStack, ShiftedClock]]:
    clock = ShiftedClock()
    async with pickup_stack(request.param, tmp_path, clock) as stack:
        yield stack, clock


async def _get(stack: StaffStack, path: str, token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with stack.http.get(stack.base + path, headers=headers) as r:
        return r.status, await r.json()


async def _post(stack: StaffStack, path: str, body: Any, *, key: str | None = None,
                token: str | None = None) -> tuple[int, Any]:
    headers = {"Idempotency-Key": key} if key else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with stack.http.post(stack.base + path, json=body, headers=headers) as r:
        return r.status, await r.json()


async def _first_slot(stack: StaffStack, clock: ShiftedClock, purpose: str = "pickup") -> tuple[str, dict[str, Any]]:
    """The first bookable slot at the test branch (today or tomorrow, Shanghai days)."""
    from showroom.branches import local_day

    for days in (0, 1):
        day = (local_day(clock.now()) + timedelta(days=days)).isoformat()
        status, got = await _get(stack, f"/api/branches/sh-test/slots?date={day}&purpose={purpose}"
                                        "&product=bar-50g&variant=au9999-50g")
        assert status == 200, got
        free = [s for s in got["slots"] if s["bookable"]]
        if free:
            return free[0]["start"], got
    raise AssertionError("no bookable slot")


async def _paid_pickup(stack: StaffStack, clock: ShiftedClock, name: str = "王芳") -> tuple[str, str, str]:
    slot, day = await _first_slot(stack, clock)
    assert day["available"] == 2 and day["branch"]["address"]["zh"]
    status, quote = await _post(stack, "/api/quotes", {"product": "bar-50g", "variant": "au9999-50g"})
    assert status == 201, quote
    status, order = await _post(stack, "/api/orders", {
        "quote_id": quote["id"], "channel": "phone", "branch": "sh-test", "pickup_slot": slot,
        "customer": {"name": name, "phone": "13800000000"}}, key=f"o-{quote['id']}")
    assert status == 201, order
    oid, token = order["id"], order["order_token"]
    status, pickup = await _get(stack, f"/api/orders/{oid}/pickup", token)
    assert status == 200 and pickup["status"] == "booked" and pickup["code"] is None and pickup["slot"] == slot
    _, after = await _first_slot(stack, clock)
    assert after["available"] == 1  # reserved at the branch
    status, payment = await _post(stack, f"/api/orders/{oid}/payments", {"method": "mobile_banking"}, key="p1")
    assert status == 201, payment
    async with stack.http.post(f"{stack.pay}/payments/{payment['payment_id']}/complete",
                               json={"outcome": "approved"}) as r:
        assert r.status < 300, await r.text()
    await stack.wait_status(oid, "paid")
    return oid, token, slot


async def test_a_pickup_goes_reserve_slot_paid_code_hand_over(node: tuple[StaffStack, ShiftedClock]) -> None:
    stack, clock = node
    status, listing = await _get(stack, "/api/branches")
    assert status == 200 and [b["id"] for b in listing["branches"]] == ["sh-test"]
    oid, token, slot = await _paid_pickup(stack, clock)
    status, pickup = await _get(stack, f"/api/orders/{oid}/pickup", token)
    assert status == 200 and pickup["code"] and len(pickup["code"]) == 11
    status, _ = await _get(stack, f"/api/orders/{oid}/pickup", "not-the-token")
    assert status == 404
    tina = await stack.staff("tina", Role.TELLER)
    from showroom.branches import local_day

    day = local_day(datetime.fromisoformat(slot.replace("Z", "+00:00"))).isoformat()  # the branch's day
    status, today, _ = await stack.request("GET", f"/api/staff/pickups?branch=sh-test&date={day}", who=tina)
    assert status == 200 and [p["order_id"] for p in today["pickups"]] == [oid]
    assert today["pickups"][0]["customer_name"] == "王芳" and today["pickups"][0]["phone"] == "138****0000"
    hand = {"branch": "sh-test", "code": pickup["code"], "id_checked": False, "id_name": "王芳"}
    status, body, _ = await stack.request("POST", "/api/staff/pickups/handover", who=tina, body=hand)
    assert status == 422 and body["error"]["code"] == "identity_not_checked"
    status, body, _ = await stack.request("POST", "/api/staff/pickups/handover", who=tina,
                                          body={**hand, "id_checked": True, "id_name": "王方"})
    assert status == 409 and body["error"]["code"] == "name_mismatch"
    status, body, _ = await stack.request("POST", "/api/staff/pickups/handover", who=tina,
                                          body={**hand, "id_checked": True, "code": "00000-00000"})
    assert status == 404 and body["error"]["code"] == "pickup_code_wrong"
    status, body, _ = await stack.request("POST", "/api/staff/pickups/handover", who=tina, csrf=None,
                                          body={**hand, "id_checked": True})
    assert status == 403
    status, body, _ = await stack.request("POST", "/api/staff/pickups/handover", who=tina,
                                          body={**hand, "id_checked": True})
    assert status == 200 and body["status"] == "handed_over" and body["order_status"] == "completed"
    assert body["handed_over_by"] == "tina"
    await stack.wait_status(oid, "completed")
    status, pickup = await _get(stack, f"/api/orders/{oid}/pickup", token)
    assert pickup["status"] == "handed_over" and pickup["code"] is None
    mgr = await stack.staff("mia", Role.MANAGER)
    status, audit, _ = await stack.request("GET", f"/api/staff/audit?subject=order:{oid}", who=mgr)
    assert status == 200, audit
    text = str(audit)
    assert "pickup_handed_over" in text and "pickup_name_mismatch" in text and "tina" in text


async def test_a_missed_pickup_is_extended_once_by_the_sweep_then_refunded(
        node: tuple[StaffStack, ShiftedClock]) -> None:
    stack, clock = node
    oid, token, slot = await _paid_pickup(stack, clock)
    ctx = stack.app[api.RUNTIME].commerce
    first = datetime.fromisoformat(slot.replace("Z", "+00:00"))
    clock.offset = first + timedelta(minutes=61) - datetime.now(UTC)  # slot end + 30 min passed
    assert (await recovery.sweep(ctx))["pickups_extended"] == 1
    status, pickup = await _get(stack, f"/api/orders/{oid}/pickup", token)
    assert status == 200 and pickup["extended"] and not pickup["may_move"]
    moved = datetime.fromisoformat(pickup["slot"].replace("Z", "+00:00"))
    assert moved == first + timedelta(days=1)  # the same time the next open day
    status, body = await _post(stack, f"/api/orders/{oid}/pickup/move",
                               {"slot": (moved + timedelta(hours=2)).isoformat()}, token=token)
    assert status == 409 and body["error"]["code"] == "pickup_not_allowed"  # extended once
    clock.offset = moved + timedelta(minutes=61) - datetime.now(UTC)
    assert (await recovery.sweep(ctx))["pickups_refunded"] == 1
    status, pickup = await _get(stack, f"/api/orders/{oid}/pickup", token)
    assert pickup["status"] == "refunded" and len(pickup["missed_slots"]) == 2
    status, order = await _get(stack, f"/api/orders/{oid}", token)
    assert status == 200, order
    assert [(r["reason"], r["amount_cny"]) for r in order["refunds"]] == [("pickup_missed", order["amount_cny"])]
    assert (await recovery.sweep(ctx))["pickups_refunded"] == 0


async def test_an_advisory_appointment_is_booked_on_the_slots_and_cancelled_with_its_token(
        node: tuple[StaffStack, ShiftedClock]) -> None:
    stack, clock = node
    slot, _ = await _first_slot(stack, clock, "advisory")
    body = {"branch": "sh-test", "slot": slot, "topic": "gold_investment",
            "customer": {"name": "王芳", "phone": "13800000000"}}
    status, booked = await _post(stack, "/api/appointments", body, key="a1")
    assert status == 201 and booked["status"] == "booked" and booked["appointment_token"], booked
    status, again = await _post(stack, "/api/appointments", body, key="a1")
    assert status == 201 and again["id"] == booked["id"]  # the replay
    status, full = await _post(stack, "/api/appointments", {**body, "customer": {"phone": "13900000001"}}, key="a2")
    assert status == 409 and full["error"]["code"] == "slot_unavailable"  # one advisor's desk
    status, _ = await _post(stack, "/api/appointments", body)
    assert status == 400
    status, got = await _get(stack, f"/api/appointments/{booked['id']}", "wrong")
    assert status == 404
    status, got = await _post(stack, f"/api/appointments/{booked['id']}/cancel", {},
                              token=booked["appointment_token"])
    assert status == 200 and got["status"] == "cancelled"


async def test_a_delivered_order_has_no_pickup_and_says_so_without_an_error(
        node: tuple[StaffStack, ShiftedClock]) -> None:
    stack, _ = node
    status, quote = await _post(stack, "/api/quotes", {"product": "bar-50g", "variant": "au9999-50g"})
    assert status == 201, quote
    status, order = await _post(stack, "/api/orders", {
        "quote_id": quote["id"], "channel": "phone", "customer": {"name": "王芳", "phone": "13800000000"}},
        key=f"o-{quote['id']}")
    assert status == 201, order
    async with stack.http.get(f"{stack.base}/api/orders/{order['id']}/pickup",
                              headers={"Authorization": f"Bearer {order['order_token']}"}) as r:
        assert r.status == 204 and await r.read() == b""
    status, _ = await _get(stack, f"/api/orders/{order['id']}/pickup", "not-the-token")
    assert status == 404
