"""The commerce services on a real database (SQLite and PostgreSQL) with a fake payment backend."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from showroom.adapters import migrate
from showroom.adapters.bus import InProcessBus
from showroom.adapters.sql import SqlDatabase
from showroom.services import CommerceService
from showroom.settings import CommerceSettings
from tests.commerce_fakes import SECRET, FakeGateway, FixedPrices, ManualClock, make_catalog
from tests.integration.commerce_db import DB_KINDS, database_url


@dataclass
class World:
    svc: CommerceService
    gw: FakeGateway
    clock: ManualClock
    db: SqlDatabase
    bus: InProcessBus
    url: str

    def settings(self) -> CommerceSettings:
        return self.svc.settings

    async def restart(self, gateway: FakeGateway | None = None) -> World:
        """A new process on the same database (the old one is gone without cleanup)."""
        db = SqlDatabase(self.url)
        await migrate.upgrade(db)
        gw = gateway or self.gw
        svc = CommerceService(catalog=self.svc.catalog, settings=self.svc.settings, uow=db.uow, gateway=gw,
                              prices=self.svc.prices, bus=self.bus, clock=self.clock)
        return World(svc, gw, self.clock, db, self.bus, self.url)


pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture(params=DB_KINDS)
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    gen = database_url(request.param, tmp_path)
    url = await gen.__anext__()
    clock = ManualClock()
    db = SqlDatabase(url)
    await migrate.upgrade(db)
    settings = CommerceSettings(database_url=url, payment_webhook_secret=SECRET, public_base_url="http://node")
    gw = FakeGateway(clock)
    bus = InProcessBus()
    svc = CommerceService(catalog=make_catalog(), settings=settings, uow=db.uow, gateway=gw,
                          prices=FixedPrices(clock), bus=bus, clock=clock)
    w = World(svc, gw, clock, db, bus, url)
    try:
        yield w
    finally:
        await db.close()
        await bus.close()
        with contextlib.suppress(StopAsyncIteration):
            await gen.__anext__()


CUSTOMER = {"name": "王芳", "phone": "13800000000"}


async def order(w: World, product: str = "bar-50g", variant: str = "au9999-50g", key: str = "k1",
                **extra: Any) -> dict[str, Any]:
    q = await w.svc.quote(product, variant, 1)
    status, body = await w.svc.place_order({"quote_id": q.id, "customer": CUSTOMER, "channel": "kiosk", **extra}, key)
    assert status == 201
    return body


async def pay(w: World, order_id: str, key: str = "p1", method: str = "mobile_banking") -> str:
    status, body = await w.svc.start_payment(order_id, {"method": method}, key)
    assert status == 201 and body["status"] == "pending"
    return str(body["payment_id"])


async def notify(w: World, event_type: str, payment_id: str, **kw: Any) -> dict[str, Any]:
    body, sig = w.gw.notice(event_type, payment_id, **kw)
    return await w.svc.handle_payment_notice(body, sig)


async def test_a_customer_buys_a_50g_gold_bar(world: World) -> None:
    o = await order(world)
    assert o["status"] == "pending_payment" and o["amount_cny"] == "46895.50"  # 50 x (930 x 0.9999 + 8)
    pid = await pay(world, o["id"])
    await notify(world, world.gw.complete(pid), pid)
    got = await world.svc.get_order(o["id"], with_audit=True)
    assert got["status"] == "paid" and got["paid_cny"] == "46895.50"
    sent = world.gw.last_request
    assert sent is not None and sent.amount_fen == 4689550
    assert sent.return_url == f"http://node/phone?order={o['id']}"  # back to the phone page, not raw JSON
    kinds = [a["kind"] for a in got["audit"]]
    assert kinds[0] == "order_placed" and "paid" in kinds
    placed = got["audit"][0]["data"]
    assert placed["quote"]["total_cny"] == "46895.50" and placed["price_snapshot"]["cny_per_g"]["Au"] == "930.00"
    async with world.db.uow() as uow:
        assert await uow.stock_level("online", "bar-50g", "au9999-50g") == (4, 0)


async def test_a_replayed_idempotency_key_returns_the_first_order(world: World) -> None:
    q = await world.svc.quote("bar-50g", "au9999-10g", 1)
    body = {"quote_id": q.id, "customer": CUSTOMER}
    first = await world.svc.place_order(body, "same")
    again = await world.svc.place_order(body, "same")
    assert first == again
    with pytest.raises(Exception) as err:
        await world.svc.place_order({**body, "channel": "vr"}, "same")
    assert getattr(err.value, "http_status", None) == 422


async def test_concurrent_requests_with_one_key_make_one_order(world: World) -> None:
    q = await world.svc.quote("bar-50g", "au9999-10g", 1)
    body = {"quote_id": q.id, "customer": CUSTOMER}
    results = await asyncio.gather(*(world.svc.place_order(body, "k-conc") for _ in range(12)),
                                   return_exceptions=True)
    ok = [r for r in results if isinstance(r, tuple)]
    errors = [r for r in results if not isinstance(r, tuple)]
    assert ok, errors
    assert {r[1]["id"] for r in ok} == {ok[0][1]["id"]}
    assert all(getattr(e, "http_status", None) == 409 for e in errors), errors
    async with world.db.uow() as uow:
        assert await uow.stock_level("online", "bar-50g", "au9999-10g") == (3, 1)


async def test_a_paid_order_is_never_paid_twice_by_a_second_payment(world: World) -> None:
    o = await order(world)
    p1 = await pay(world, o["id"], "p1")
    p2 = await pay(world, o["id"], "p2")
    await notify(world, world.gw.complete(p1), p1)
    await notify(world, world.gw.complete(p2), p2)
    got = await world.svc.get_order(o["id"])
    assert got["status"] == "paid" and got["paid_cny"] == "46895.50"
    auto = [r for r in got["refunds"] if r["automatic"]]
    assert len(auto) == 1 and auto[0]["amount_cny"] == "46895.50" and auto[0]["reason"] == "duplicate_payment"
    assert auto[0]["status"] == "pending"  # sent to the backend


async def test_payment_after_expiry_is_refunded_automatically(world: World) -> None:
    o = await order(world)
    pid = await pay(world, o["id"])
    world.clock.advance(world.svc.settings.reservation_ttl_s + 1)
    assert await world.svc.expire_due() == 1
    async with world.db.uow() as uow:
        assert await uow.stock_level("online", "bar-50g", "au9999-50g") == (5, 0)
    await notify(world, world.gw.complete(pid), pid)
    got = await world.svc.get_order(o["id"])
    assert got["status"] == "expired"
    (refund,) = got["refunds"]
    assert refund["automatic"] and refund["reason"] == "paid_after_expiry" and refund["refund_id"]
    world.gw.finish_refund(refund["refund_id"])
    await notify(world, "refund.succeeded", pid, refund_id=refund["refund_id"])
    assert (await world.svc.get_order(o["id"]))["status"] == "refunded"


async def test_partial_refunds_then_full(world: World) -> None:
    o = await order(world)
    pid = await pay(world, o["id"])
    await notify(world, world.gw.complete(pid), pid)
    s1, r1 = await world.svc.refund(o["id"], {"amount_cny": "900.00", "reason": "scratch"}, "r1")
    assert s1 == 201 and r1["status"] == "pending"
    with pytest.raises(Exception) as err:
        await world.svc.refund(o["id"], {"amount_cny": "45995.51"}, "r2")
    assert getattr(err.value, "code", "") == "refund_not_allowed"
    world.gw.finish_refund(r1["refund_id"])
    await notify(world, "refund.succeeded", pid, refund_id=r1["refund_id"])
    assert (await world.svc.get_order(o["id"]))["status"] == "partially_refunded"
    _, r2 = await world.svc.refund(o["id"], {}, "r3")
    assert r2["amount_cny"] == "45995.50"
    world.gw.finish_refund(r2["refund_id"])
    await notify(world, "refund.succeeded", pid, refund_id=r2["refund_id"])
    got = await world.svc.get_order(o["id"])
    assert got["status"] == "refunded" and got["refunded_cny"] == "46895.50"


async def test_forged_stale_and_mismatched_notices_change_nothing(world: World) -> None:
    o = await order(world)
    pid = await pay(world, o["id"])
    world.gw.complete(pid)
    forged_body, forged_sig = world.gw.notice("payment.succeeded", pid, secret="wrong")
    stale_body, stale_sig = world.gw.notice("payment.succeeded", pid, signed_at=world.clock.now() - timedelta(seconds=301))
    cheap_body, cheap_sig = world.gw.notice("payment.succeeded", pid, amount_fen=1)
    other_body, other_sig = world.gw.notice("payment.succeeded", pid, order_id="ord_other")
    usd_body, usd_sig = world.gw.notice("payment.succeeded", pid, currency="USD")
    for body, sig, status in ((forged_body, forged_sig, 401), (stale_body, stale_sig, 401), (cheap_body, cheap_sig, 422),
                              (other_body, other_sig, 422), (usd_body, usd_sig, 422), (forged_body, None, 401)):
        with pytest.raises(Exception) as err:
            await world.svc.handle_payment_notice(body, sig)
        assert getattr(err.value, "http_status", None) == status
    assert (await world.svc.get_order(o["id"]))["status"] == "pending_payment"


async def test_a_declined_payment_can_be_retried(world: World) -> None:
    o = await order(world)
    p1 = await pay(world, o["id"], "p1")
    await notify(world, world.gw.complete(p1, "declined"), p1)
    got = await world.svc.get_order(o["id"])
    assert got["status"] == "payment_failed" and got["payments"][0]["failure_code"] == "declined"
    p2 = await pay(world, o["id"], "p2")
    await notify(world, world.gw.complete(p2), p2)
    assert (await world.svc.get_order(o["id"]))["status"] == "paid"


async def test_server_killed_between_db_write_and_gateway_call_loses_nothing(world: World) -> None:
    o = await order(world)
    world.gw.crash_on_create = True
    with pytest.raises(BaseException, match="killed"):
        await world.svc.start_payment(o["id"], {"method": "qr"}, "pay-1")
    world.gw.crash_on_create = False
    after = await world.restart()
    counts = await after.svc.recover()
    assert counts["payments_submitted"] == 1
    got = await after.svc.get_order(o["id"])
    (p,) = got["payments"]
    assert p["status"] == "pending" and p["payment_id"]
    # the customer's client retries the same request: same payment, no second one at the backend
    world.clock.advance(after.svc.settings.idempotency_stale_s + 1)
    status, again = await after.svc.start_payment(o["id"], {"method": "qr"}, "pay-1")
    assert again["payment_id"] == p["payment_id"] and len(world.gw.payments) == 1
    body, sig = world.gw.notice(world.gw.complete(p["payment_id"]), p["payment_id"])
    await after.svc.handle_payment_notice(body, sig)
    assert (await after.svc.get_order(o["id"]))["status"] == "paid"
    await after.db.close()


async def test_payments_pending_too_long_are_queried_on_start(world: World) -> None:
    o = await order(world)
    pid = await pay(world, o["id"])
    world.gw.complete(pid)  # the notification never arrives
    world.clock.advance(world.svc.settings.pending_query_after_s + 1)
    after = await world.restart()
    counts = await after.svc.recover()
    assert counts["payments_queried"] == 1
    assert (await after.svc.get_order(o["id"]))["status"] == "paid"
    await after.db.close()


async def test_reconciliation_classifies_mismatches(world: World) -> None:
    paid = []
    for i in range(3):
        o = await order(world, variant="au9999-10g", key=f"o{i}")
        pid = await pay(world, o["id"], f"p{i}")
        await notify(world, world.gw.complete(pid), pid)
        paid.append(pid)
    day = world.clock.now().date()
    report = await world.svc.reconcile(day)
    assert report.matched == 3 and report.mismatches == ()
    world.gw.payments[paid[0]].amount_fen += 1  # the backend settled a different amount
    world.gw.payments[paid[1]].settled_on = None  # the backend does not list it
    world.gw.payments["pay_ghost"] = world.gw.payments[paid[2]].__class__("pay_ghost", "ord_x", 500, "qr", "succeeded",
                                                                          settled_on=day)
    report = await world.svc.reconcile(day)
    kinds = sorted(m.kind for m in report.mismatches)
    assert kinds == ["amount", "ours_only", "theirs_only"]


async def test_cancelled_order_releases_stock_and_cannot_be_paid(world: World) -> None:
    o = await order(world)
    got = await world.svc.cancel(o["id"])
    assert got["status"] == "cancelled"
    async with world.db.uow() as uow:
        assert await uow.stock_level("online", "bar-50g", "au9999-50g") == (5, 0)
    with pytest.raises(Exception) as err:
        await world.svc.start_payment(o["id"], {"method": "card"}, "p")
    assert getattr(err.value, "code", "") == "illegal_transition"


async def test_a_car_is_reserved_with_a_deposit_and_a_loan_pre_application(world: World) -> None:
    finance = {"down_payment_ratio": "0.15", "term_months": 60, "annual_rate": "0.0399", "method": "equal_installment"}
    o = await order(world, "car-ev", "pro-white", finance=finance)
    assert o["amount_cny"] == "5000.00" and o["finance"]["principal_cny"] == "220830.00"
    assert o["finance"]["apr"] and o["finance"]["term_months"] == 60
    pid = await pay(world, o["id"])
    await notify(world, world.gw.complete(pid), pid)
    assert (await world.svc.get_order(o["id"]))["status"] == "paid"


async def test_one_quote_makes_one_order_and_a_retry_under_another_key_gets_it_back(world: World) -> None:
    q = await world.svc.quote("bar-50g", "au9999-10g", 1)
    body = {"quote_id": q.id, "customer": CUSTOMER}
    s1, first = await world.svc.place_order(body, "lost-answer")
    world.clock.advance(world.svc.settings.quote_ttl_s + 1)  # even after the quote expired
    s2, again = await world.svc.place_order(body, "new-key")
    assert (s1, s2) == (201, 200) and again["id"] == first["id"]
    with pytest.raises(Exception) as err:
        await world.svc.place_order({"quote_id": q.id, "customer": {"phone": "13999999999"}}, "someone-else")
    assert getattr(err.value, "code", "") == "quote_used"


async def test_an_expired_quote_cannot_be_ordered(world: World) -> None:
    q = await world.svc.quote("bar-50g", "au9999-10g", 1)
    world.clock.advance(world.svc.settings.quote_ttl_s)
    with pytest.raises(Exception) as err:
        await world.svc.place_order({"quote_id": q.id, "customer": CUSTOMER}, "late")
    assert getattr(err.value, "code", "") == "quote_expired"


async def test_concurrent_orders_on_one_quote_under_different_keys_make_one_order(world: World) -> None:
    q = await world.svc.quote("bar-50g", "au9999-10g", 1)
    body = {"quote_id": q.id, "customer": CUSTOMER}
    replies = await asyncio.gather(*(world.svc.place_order(body, f"key-{i}") for i in range(8)))
    assert len({r[1]["id"] for r in replies}) == 1
    assert sorted(r[0] for r in replies) == [200] * 7 + [201]
