"""The commerce use cases on a real database (SQLite and PostgreSQL) with a fake payment backend: what the
in-memory unit tests check, here with real transactions, row locks and concurrent requests."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from showroom.adapters import migrate
from showroom.adapters.bus import InProcessBus
from showroom.adapters.sql import SqlDatabase
from showroom.api import requests, views
from showroom.errors import ShowroomError
from showroom.finance import LoanRate
from showroom.orders import OrderStatus, Payment, PaymentStatus, RefundStatus, new_id
from showroom.services import (
    Commerce,
    Reply,
    finance,
    notices,
    orders,
    payments,
    reconciliation,
    recovery,
    refunds,
    run_once,
)
from showroom.services.finance import LoanTerms
from showroom.services.orders import Customer, OrderDetails, PlaceOrder
from showroom.services.payments import StartPayment
from showroom.services.refunds import RequestRefund
from showroom.settings import CommerceSettings
from tests.commerce_fakes import FakeGateway, ManualClock
from tests.integration.commerce_db import DB_KINDS, commerce_on


@dataclass
class World:
    ctx: Commerce
    gw: FakeGateway
    clock: ManualClock
    db: SqlDatabase
    bus: InProcessBus
    url: str

    @property
    def settings(self) -> CommerceSettings:
        return self.ctx.settings

    async def restart(self, gateway: FakeGateway | None = None) -> World:
        """A new process on the same database (the old one is gone without cleanup)."""
        db = SqlDatabase(self.url)
        await migrate.upgrade(db)
        gw = gateway or self.gw
        return World(replace(self.ctx, uow=db.uow, gateway=gw), gw, self.clock, db, self.bus, self.url)


pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture(params=DB_KINDS)
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    async with commerce_on(request.param, tmp_path) as c:
        yield World(c.ctx, c.gw, c.clock, c.db, c.bus, c.url)


WANG = Customer("王芳", "13800000000")


async def post_order(w: World, body: dict[str, Any], key: str) -> Reply:
    """What `POST /api/orders` does with a body and its Idempotency-Key."""
    cmd = requests.place_order(body)
    return await run_once(w.ctx, "orders", key, body, lambda claim: orders.place_order(w.ctx, cmd, claim),
                          views.placed_order_reply, in_transaction=True)


async def order(w: World, product: str = "bar-50g", variant: str = "au9999-50g", **extra: Any) -> str:
    q = await orders.quote(w.ctx, product, variant, 1)
    placed = await orders.place_order(w.ctx, PlaceOrder(q.id, WANG, channel="kiosk", **extra))
    assert placed.created
    return placed.details.order.id


async def pay(w: World, order_id: str, key: str = "p1", method: str = "mobile_banking") -> str:
    p = await payments.start_payment(w.ctx, StartPayment(order_id, method), key)  # type: ignore[arg-type]
    assert p.status is PaymentStatus.PENDING and p.gateway_payment_id
    return p.gateway_payment_id


async def notify(w: World, event_type: str, payment_id: str, **kw: Any) -> notices.NoticeReceipt:
    body, sig = w.gw.notice(event_type, payment_id, **kw)
    return await notices.handle_payment_notice(w.ctx, body, sig)


async def get(w: World, order_id: str, *, with_audit: bool = False) -> OrderDetails:
    return await orders.get_order(w.ctx, order_id, with_audit=with_audit)


async def test_a_customer_buys_a_50g_gold_bar(world: World) -> None:
    order_id = await order(world)
    got = await get(world, order_id)
    assert got.order.status is OrderStatus.PENDING_PAYMENT and got.order.amount_fen == 4689550  # 50 x (930 x 0.9999 + 8)
    pid = await pay(world, order_id)
    await notify(world, world.gw.complete(pid), pid)
    got = await get(world, order_id, with_audit=True)
    assert got.order.status is OrderStatus.PAID and got.order.paid_fen == 4689550
    sent = world.gw.last_request
    assert sent is not None and sent.amount_fen == 4689550
    assert sent.return_url == f"http://node/phone?order={order_id}"  # back to the phone page, not raw JSON
    assert got.audit is not None
    kinds = [a["kind"] for a in got.audit]
    assert kinds[0] == "order_placed" and "paid" in kinds
    placed = got.audit[0]["data"]
    assert placed["quote"]["total_cny"] == "46895.50" and placed["price_snapshot"]["cny_per_g"]["Au"] == "930.00"
    async with world.db.uow() as uow:
        assert await uow.stock_level("online", "bar-50g", "au9999-50g") == (4, 0)


async def test_a_replayed_idempotency_key_returns_the_first_order(world: World) -> None:
    q = await orders.quote(world.ctx, "bar-50g", "au9999-10g", 1)
    body = {"quote_id": q.id, "customer": {"name": "王芳", "phone": "13800000000"}}
    first = await post_order(world, body, "same")
    again = await post_order(world, body, "same")
    assert first == again and first[0] == 201
    with pytest.raises(ShowroomError) as err:
        await post_order(world, {**body, "channel": "vr"}, "same")
    assert err.value.http_status == 422


async def test_idempotency_records_a_day_old_are_swept_and_the_key_then_makes_a_new_request(world: World) -> None:
    q = await orders.quote(world.ctx, "bar-50g", "au9999-10g", 1)
    body = {"quote_id": q.id, "customer": {"name": "王芳", "phone": "13800000000"}}
    first = await post_order(world, body, "old")
    world.clock.advance(recovery.IDEMPOTENCY_KEPT.total_seconds() + 1)
    assert (await recovery.sweep(world.ctx))["idempotency_deleted"] == 1
    again = await post_order(world, body, "old")  # the same quote: the same order, but no stored first reply
    assert again[0] == 200 and again[1]["id"] == first[1]["id"] and "order_token" not in again[1]


async def test_concurrent_requests_with_one_key_make_one_order(world: World) -> None:
    q = await orders.quote(world.ctx, "bar-50g", "au9999-10g", 1)
    body = {"quote_id": q.id, "customer": {"name": "王芳", "phone": "13800000000"}}
    results = await asyncio.gather(*(post_order(world, body, "k-conc") for _ in range(12)), return_exceptions=True)
    ok = [r for r in results if isinstance(r, tuple)]
    errors = [r for r in results if not isinstance(r, tuple)]
    assert ok, errors
    assert {r[1]["id"] for r in ok} == {ok[0][1]["id"]}
    assert all(getattr(e, "http_status", None) == 409 for e in errors), errors
    async with world.db.uow() as uow:
        assert await uow.stock_level("online", "bar-50g", "au9999-10g") == (3, 1)


async def test_a_paid_order_is_never_paid_twice_by_a_second_payment(world: World) -> None:
    order_id = await order(world)
    p1 = await pay(world, order_id, "p1")
    p2 = await pay(world, order_id, "p2")
    await notify(world, world.gw.complete(p1), p1)
    await notify(world, world.gw.complete(p2), p2)
    got = await get(world, order_id)
    assert got.order.status is OrderStatus.PAID and got.order.paid_fen == 4689550
    auto = [r for r in got.refunds if r.automatic]
    assert len(auto) == 1 and auto[0].amount_fen == 4689550 and auto[0].reason == "duplicate_payment"
    assert auto[0].status is RefundStatus.PENDING  # sent to the backend


async def test_payment_after_expiry_is_refunded_automatically(world: World) -> None:
    order_id = await order(world)
    pid = await pay(world, order_id)
    world.clock.advance(world.settings.reservation_ttl_s + 1)
    assert await orders.expire_due(world.ctx) == 1
    async with world.db.uow() as uow:
        assert await uow.stock_level("online", "bar-50g", "au9999-50g") == (5, 0)
    await notify(world, world.gw.complete(pid), pid)
    got = await get(world, order_id)
    assert got.order.status is OrderStatus.EXPIRED
    (refund,) = got.refunds
    assert refund.automatic and refund.reason == "paid_after_expiry" and refund.gateway_refund_id
    world.gw.finish_refund(refund.gateway_refund_id)
    await notify(world, "refund.succeeded", pid, refund_id=refund.gateway_refund_id)
    assert (await get(world, order_id)).order.status is OrderStatus.REFUNDED


async def test_partial_refunds_then_full(world: World) -> None:
    order_id = await order(world)
    pid = await pay(world, order_id)
    await notify(world, world.gw.complete(pid), pid)
    r1 = await refunds.request_refund(world.ctx, RequestRefund(order_id, 90000, "scratch"), "r1")
    assert r1.status is RefundStatus.PENDING and r1.gateway_refund_id
    with pytest.raises(ShowroomError) as err:
        await refunds.request_refund(world.ctx, RequestRefund(order_id, 4599551), "r2")
    assert err.value.code == "refund_not_allowed"
    world.gw.finish_refund(r1.gateway_refund_id)
    await notify(world, "refund.succeeded", pid, refund_id=r1.gateway_refund_id)
    assert (await get(world, order_id)).order.status is OrderStatus.PARTIALLY_REFUNDED
    r2 = await refunds.request_refund(world.ctx, RequestRefund(order_id), "r3")
    assert r2.amount_fen == 4599550 and r2.gateway_refund_id
    world.gw.finish_refund(r2.gateway_refund_id)
    await notify(world, "refund.succeeded", pid, refund_id=r2.gateway_refund_id)
    got = await get(world, order_id)
    assert got.order.status is OrderStatus.REFUNDED and got.order.refunded_fen == 4689550


async def test_forged_stale_and_mismatched_notices_change_nothing(world: World) -> None:
    order_id = await order(world)
    pid = await pay(world, order_id)
    world.gw.complete(pid)
    forged = world.gw.notice("payment.succeeded", pid, secret="wrong")
    stale = world.gw.notice("payment.succeeded", pid, signed_at=world.clock.now() - timedelta(seconds=301))
    cheap = world.gw.notice("payment.succeeded", pid, amount_fen=1)
    other = world.gw.notice("payment.succeeded", pid, order_id="ord_other")
    usd = world.gw.notice("payment.succeeded", pid, currency="USD")
    for (body, sig), status in ((forged, 401), (stale, 401), (cheap, 422), (other, 422), (usd, 422)):
        with pytest.raises(ShowroomError) as err:
            await notices.handle_payment_notice(world.ctx, body, sig)
        assert err.value.http_status == status
    with pytest.raises(ShowroomError) as err:
        await notices.handle_payment_notice(world.ctx, forged[0], None)
    assert err.value.http_status == 401
    assert (await get(world, order_id)).order.status is OrderStatus.PENDING_PAYMENT


async def test_a_declined_payment_can_be_retried(world: World) -> None:
    order_id = await order(world)
    p1 = await pay(world, order_id, "p1")
    await notify(world, world.gw.complete(p1, "declined"), p1)
    got = await get(world, order_id)
    assert got.order.status is OrderStatus.PAYMENT_FAILED and got.payments[0].failure_code == "declined"
    p2 = await pay(world, order_id, "p2")
    await notify(world, world.gw.complete(p2), p2)
    assert (await get(world, order_id)).order.status is OrderStatus.PAID


async def test_server_killed_between_db_write_and_gateway_call_loses_nothing(world: World) -> None:
    order_id = await order(world)
    world.gw.crash_on_create = True
    with pytest.raises(BaseException, match="killed"):
        await payments.start_payment(world.ctx, StartPayment(order_id, "qr"), "pay-1")
    world.gw.crash_on_create = False
    after = await world.restart()
    counts = await recovery.recover(after.ctx)
    assert counts["payments_submitted"] == 1
    (p,) = (await get(after, order_id)).payments
    assert p.status is PaymentStatus.PENDING and p.gateway_payment_id
    # the customer's client retries the same request: same payment, no second one at the backend
    again = await payments.start_payment(after.ctx, StartPayment(order_id, "qr"), "pay-1")
    assert again.gateway_payment_id == p.gateway_payment_id and len(world.gw.payments) == 1
    await notify(after, world.gw.complete(p.gateway_payment_id), p.gateway_payment_id)
    assert (await get(after, order_id)).order.status is OrderStatus.PAID
    await after.db.close()


async def test_payments_pending_too_long_are_queried_on_start(world: World) -> None:
    order_id = await order(world)
    pid = await pay(world, order_id)
    world.gw.complete(pid)  # the notification never arrives
    world.clock.advance(world.settings.pending_query_after_s + 1)
    after = await world.restart()
    counts = await recovery.recover(after.ctx)
    assert counts["payments_queried"] == 1
    assert (await get(after, order_id)).order.status is OrderStatus.PAID
    await after.db.close()


async def test_reconciliation_classifies_mismatches(world: World) -> None:
    paid = []
    for i in range(3):
        q = await orders.quote(world.ctx, "bar-50g", "au9999-10g", 1)
        placed = await orders.place_order(world.ctx, PlaceOrder(q.id, Customer(None, f"1380000000{i}")))
        pid = await pay(world, placed.details.order.id, f"p{i}")
        await notify(world, world.gw.complete(pid), pid)
        paid.append(pid)
    day = world.clock.now().date()
    report = await reconciliation.reconcile(world.ctx, day)
    assert report.matched == 3 and report.mismatches == ()
    world.gw.payments[paid[0]].amount_fen += 1  # the backend settled a different amount
    world.gw.payments[paid[1]].settled_on = None  # the backend does not list it
    world.gw.payments["pay_ghost"] = world.gw.payments[paid[2]].__class__("pay_ghost", "ord_x", 500, "qr", "succeeded",
                                                                          settled_on=day)
    report = await reconciliation.reconcile(world.ctx, day)
    assert sorted(m.kind for m in report.mismatches) == ["amount", "ours_only", "theirs_only"]


async def test_cancelled_order_releases_stock_and_cannot_be_paid(world: World) -> None:
    q = await orders.quote(world.ctx, "bar-50g", "au9999-50g", 1)
    placed = await orders.place_order(world.ctx, PlaceOrder(q.id, WANG, channel="kiosk"))
    order_id = placed.details.order.id
    with pytest.raises(ShowroomError) as refused:
        await orders.cancel(world.ctx, order_id, "not-the-token")
    assert (refused.value.code, refused.value.http_status) == ("not_found", 404)
    assert (await orders.cancel(world.ctx, order_id, placed.token)).order.status is OrderStatus.CANCELLED
    async with world.db.uow() as uow:
        assert await uow.stock_level("online", "bar-50g", "au9999-50g") == (5, 0)
    with pytest.raises(ShowroomError) as err:
        await payments.start_payment(world.ctx, StartPayment(order_id, "card"), "p")
    assert err.value.code == "illegal_transition"


async def test_a_car_is_reserved_with_a_deposit_and_a_loan_pre_application(world: World) -> None:
    await finance.set_rate(world.ctx, LoanRate("car-ev", 60, Decimal("0.0299"), date(2026, 1, 1),
                                               monthly_fee_cny=Decimal("10.00"), set_by="teller"))
    async with world.db.uow() as uow:
        (row,) = await uow.loan_rates("car-ev")
    assert row.annual_rate == Decimal("0.0299") and row.monthly_fee_cny == Decimal("10.00")
    assert row.valid_from == date(2026, 1, 1) and row.valid_to is None and row.set_at is not None
    terms = LoanTerms(Decimal("0.15"), 60)
    order_id = await order(world, "car-ev", "pro-white", finance=terms)
    got = await get(world, order_id)
    assert got.order.amount_fen == 500000 and got.order.finance is not None
    assert got.order.finance["principal_cny"] == "220830.00" and got.order.finance["term_months"] == 60
    assert got.order.finance["annual_rate"] == "0.0299" and got.order.finance["monthly_fee_cny"] == "10.00"
    assert got.order.finance["rate_source"] == "rate-table:car-ev:60m:2026-01-01" and got.order.finance["apr"]
    pid = await pay(world, order_id)
    await notify(world, world.gw.complete(pid), pid)
    assert (await get(world, order_id)).order.status is OrderStatus.PAID


async def test_one_quote_makes_one_order_and_a_retry_under_another_key_gets_it_back(world: World) -> None:
    q = await orders.quote(world.ctx, "bar-50g", "au9999-10g", 1)
    body = {"quote_id": q.id, "customer": {"name": "王芳", "phone": "13800000000"}}
    s1, first = await post_order(world, body, "lost-answer")
    world.clock.advance(world.settings.quote_ttl_s + 1)  # even after the quote expired
    s2, again = await post_order(world, body, "new-key")
    assert (s1, s2) == (201, 200) and again == {"id": first["id"], "status": "pending_payment"}  # no token again
    with pytest.raises(ShowroomError) as err:
        await post_order(world, {"quote_id": q.id, "customer": {"phone": "13999999999"}}, "someone-else")
    assert err.value.code == "quote_used"


async def test_an_expired_quote_cannot_be_ordered(world: World) -> None:
    q = await orders.quote(world.ctx, "bar-50g", "au9999-10g", 1)
    world.clock.advance(world.settings.quote_ttl_s)
    with pytest.raises(ShowroomError) as err:
        await orders.place_order(world.ctx, PlaceOrder(q.id, WANG))
    assert err.value.code == "quote_expired"


async def test_concurrent_orders_on_one_quote_under_different_keys_make_one_order(world: World) -> None:
    q = await orders.quote(world.ctx, "bar-50g", "au9999-10g", 1)
    body = {"quote_id": q.id, "customer": {"name": "王芳", "phone": "13800000000"}}
    replies = await asyncio.gather(*(post_order(world, body, f"key-{i}") for i in range(8)))
    assert len({r[1]["id"] for r in replies}) == 1
    assert sorted(r[0] for r in replies) == [200] * 7 + [201]


async def test_the_order_token_is_kept_as_its_hash_and_only_the_idempotency_answer_holds_it(world: World) -> None:
    q = await orders.quote(world.ctx, "bar-50g", "au9999-10g", 1)
    body = {"quote_id": q.id, "customer": {"name": "王芳", "phone": "13800000000"}}
    status, first = await post_order(world, body, "k-token")
    token = first["order_token"]
    assert status == 201 and len(token) >= 43
    assert (await post_order(world, body, "k-token")) == (201, first)  # a replay gets the same token
    async with world.db.uow() as uow:
        assert await uow.order_token_sha256(first["id"]) == hashlib.sha256(token.encode()).hexdigest()
        audit = await uow.audit_for(first["id"])
    assert token not in json.dumps(audit)
    from sqlalchemy import text

    async with world.db.engine.connect() as conn:
        for table in ("orders", "audit_log", "quotes", "payments"):
            rows = (await conn.execute(text(f"SELECT * FROM {table}"))).all()
            assert token not in repr(rows), table
        stored = (await conn.execute(text("SELECT response_body FROM idempotency_keys WHERE key = 'k-token'"))).one()
    assert token in stored[0]  # the one place: the first answer, replayed to the same key
    assert (await orders.customer_order(world.ctx, first["id"], token)).order.id == first["id"]


async def test_a_customers_activity_counts_the_hour_the_day_and_todays_wallet_payments(world: World) -> None:
    """The compliance inputs (one round trip in SQL): orders in the last hour, live orders and their total today,
    e-CNY wallet payments today; another customer's orders, cancelled ones and yesterday's count nowhere."""
    clock = world.clock
    clock.t = clock.t.replace(hour=1, minute=0)
    early = await order(world)  # 01:00 today, cancelled below
    clock.advance(3 * 3600)  # 04:00
    morning = await order(world, variant="au9999-10g")
    clock.advance(2 * 3600 + 30 * 60)  # 06:30
    recent = await order(world, variant="au9999-10g")
    async with world.db.uow() as uow:  # a pending e-CNY wallet payment of 12.34 CNY (the backend's split)
        await uow.add_payment(Payment(id=new_id("pay"), order_id=recent, method="ecny_wallet", amount_fen=1234,
                                      status=PaymentStatus.PENDING, idempotency_key="w1", created_at=clock.now(),
                                      updated_at=clock.now()))
        await uow.commit()
    other = await orders.quote(world.ctx, "bar-50g", "au9999-50g", 1)
    await orders.place_order(world.ctx, PlaceOrder(other.id, Customer("李雷", "13900000000")))
    async with world.db.uow() as uow:  # the first order is cancelled
        first = await uow.get_order(early, for_update=True)
        first.cancel(clock.now())
        await uow.save_order(first)
        await uow.commit()
    async with world.db.uow() as uow:
        key = (await uow.get_order(morning)).customer["customer_id"]
        activity = await uow.customer_activity(key, clock.now())
        yesterday = await uow.customer_activity(key, clock.now() + timedelta(days=1))
    async with world.db.uow() as uow:
        tenth = (await uow.get_order(recent)).amount_fen
    assert activity.orders_last_hour == 1  # 06:30 only (04:00 is past the hour)
    assert activity.orders_today == 2  # 04:00 and 06:30; 01:00 was cancelled
    assert activity.ordered_today_cny == Decimal(2 * tenth) / 100
    assert activity.wallet_paid_today_cny == Decimal("12.34")
    assert (yesterday.orders_last_hour, yesterday.orders_today, yesterday.wallet_paid_today_cny) == (0, 0, 0)


async def test_concurrent_first_orders_at_a_branch_all_find_the_shelf_stocked(world: World) -> None:
    """The first order at a branch stocks its shelf; orders racing it must still reserve, not see it as empty
    (the row appears, committed by another transaction, between their first try and their second)."""
    quotes = [await orders.quote(world.ctx, "bar-50g", "au9999-10g", 1) for _ in range(3)]
    placed = await asyncio.gather(*(orders.place_order(world.ctx, PlaceOrder(q.id, Customer(None, f"1390000000{i}")))
                                    for i, q in enumerate(quotes)))
    assert all(p.created for p in placed)
    async with world.db.uow() as uow:
        assert await uow.stock_level("online", "bar-50g", "au9999-10g") == (3, 3)
