"""Quotes and orders against the in-memory unit of work: price locks, idempotent placing, one order per quote,
stock reserved and released, fulfilment."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest

from showroom.compliance import KycLevel, LimitExceeded
from showroom.customers import CustomerFacts
from showroom.errors import InvalidInput, NotFound, ShowroomError
from showroom.orders import IllegalTransition, OrderStatus
from showroom.pricing import QuoteExpired
from showroom.services import Reply, orders, recovery, run_once
from showroom.services._idempotency import request_hash
from showroom.services.orders import Customer, PlacedOrder, PlaceOrder, QuoteUsed
from tests.commerce_fakes import FakeWorld, fake_world

WANG = Customer("王芳", "13800000000")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def _reply(placed: PlacedOrder) -> Reply:
    return (201 if placed.created else 200), {"id": placed.details.order.id}


async def _order(w: FakeWorld, variant: str = "au9999-50g", customer: Customer = WANG) -> PlacedOrder:
    q = await orders.quote(w.ctx, "bar-50g", variant)
    return await orders.place_order(w.ctx, PlaceOrder(q.id, customer, channel="kiosk"))


def test_a_quote_locks_the_price_for_five_minutes_then_cannot_be_ordered() -> None:
    w = fake_world()

    async def go() -> None:
        q = await orders.quote(w.ctx, "bar-50g", "au9999-50g")
        assert q.total_fen == 4689550 and (q.expires_at - q.created_at).total_seconds() == 300
        w.prices.au += 100  # the market moves; the quote does not
        w.clock.advance(299)
        placed = await orders.place_order(w.ctx, PlaceOrder(q.id, WANG))
        assert placed.details.order.amount_fen == 4689550
        late = await orders.quote(w.ctx, "bar-50g", "au9999-50g")
        w.clock.advance(300)
        with pytest.raises(QuoteExpired):
            await orders.place_order(w.ctx, PlaceOrder(late.id, WANG))

    run(go())


def test_an_order_reserves_stock_and_expiry_releases_it() -> None:
    w = fake_world()

    async def go() -> None:
        placed = await _order(w)
        assert placed.created and placed.details.order.status is OrderStatus.PENDING_PAYMENT
        assert w.db.stock_level("online", "bar-50g", "au9999-50g") == (5, 1)
        assert await orders.expire_due(w.ctx) == 0
        w.clock.advance(w.ctx.settings.reservation_ttl_s)
        assert await orders.expire_due(w.ctx) == 1
        assert (await orders.get_order(w.ctx, placed.details.order.id)).order.status is OrderStatus.EXPIRED
        assert w.db.stock_level("online", "bar-50g", "au9999-50g") == (5, 0)
        assert await orders.expire_due(w.ctx) == 0
        assert w.bus.statuses(placed.details.order.id) == ["pending_payment", "expired"]

    run(go())


def test_the_last_piece_cannot_be_reserved_twice() -> None:
    w = fake_world()

    async def go() -> None:
        for i in range(3):  # the 10 g bar has 3 on the shelf
            await _order(w, "au9999-10g", Customer(None, f"1390000000{i}"))
        with pytest.raises(ShowroomError) as err:
            await _order(w, "au9999-10g", Customer(None, "13900000009"))
        assert err.value.code == "out_of_stock"

    run(go())


def test_cancelling_releases_stock_and_a_cancelled_order_stays_cancelled() -> None:
    w = fake_world()

    async def go() -> None:
        placed = await _order(w)
        cancelled = await orders.cancel(w.ctx, placed.details.order.id, placed.token)
        assert cancelled.order.status is OrderStatus.CANCELLED
        assert w.db.stock_level("online", "bar-50g", "au9999-50g") == (5, 0)
        with pytest.raises(IllegalTransition):
            await orders.cancel(w.ctx, placed.details.order.id, placed.token)
        audit = (await orders.get_order(w.ctx, placed.details.order.id, with_audit=True)).audit
        assert audit is not None and [a["kind"] for a in audit] == ["order_placed", "cancelled"]

    run(go())


def test_one_quote_makes_one_order_the_same_customer_gets_it_back() -> None:
    w = fake_world()

    async def go() -> None:
        q = await orders.quote(w.ctx, "bar-50g", "au9999-10g")
        first = await orders.place_order(w.ctx, PlaceOrder(q.id, WANG))
        w.clock.advance(301)  # even after the quote expired
        again = await orders.place_order(w.ctx, PlaceOrder(q.id, WANG))
        assert not again.created and again.details.order.id == first.details.order.id
        with pytest.raises(QuoteUsed):
            await orders.place_order(w.ctx, PlaceOrder(q.id, Customer(None, "13999999999")))

    run(go())


def test_a_replayed_idempotency_key_returns_the_first_answer_and_another_body_is_refused() -> None:
    w = fake_world()

    async def go() -> None:
        q = await orders.quote(w.ctx, "bar-50g", "au9999-10g")
        body = {"quote_id": q.id, "customer": {"phone": "13800000001"}}
        calls = 0

        async def place(claim: Any) -> PlacedOrder:
            nonlocal calls
            calls += 1
            return await orders.place_order(w.ctx, PlaceOrder(q.id, Customer(None, "13800000001")), claim)

        first = await run_once(w.ctx, "orders", "k1", body, place, _reply)
        assert await run_once(w.ctx, "orders", "k1", body, place, _reply) == first
        assert first[0] == 201 and calls == 1
        with pytest.raises(ShowroomError) as err:
            await run_once(w.ctx, "orders", "k1", {**body, "channel": "vr"}, place, _reply)
        assert (err.value.code, err.value.http_status) == ("idempotency_key_reused", 422)
        with pytest.raises(ShowroomError) as err:
            await run_once(w.ctx, "orders", None, body, place, _reply)
        assert (err.value.code, err.value.http_status) == ("idempotency_key_missing", 400)

    run(go())


def test_the_sweeper_forgets_idempotency_records_a_day_old_with_the_token_in_them() -> None:
    w = fake_world()

    async def go() -> None:
        q = await orders.quote(w.ctx, "bar-50g", "au9999-10g")
        body = {"quote_id": q.id, "customer": {"phone": "13800000001"}}

        async def place(claim: Any) -> PlacedOrder:
            return await orders.place_order(w.ctx, PlaceOrder(q.id, Customer(None, "13800000001")), claim)

        await run_once(w.ctx, "orders", "k1", body, place, _reply)
        w.clock.advance(3600)
        assert (await recovery.sweep(w.ctx))["idempotency_deleted"] == 0
        assert len(w.db.tables.idempotency) == 1
        w.clock.advance(recovery.IDEMPOTENCY_KEPT.total_seconds())
        assert (await recovery.sweep(w.ctx))["idempotency_deleted"] == 1
        assert w.db.tables.idempotency == {}

    run(go())


def test_a_key_in_flight_is_refused_until_it_is_stale_and_a_failed_request_releases_it() -> None:
    w = fake_world()

    async def go() -> None:
        placed = await _order(w)

        async def fails(_claim: Any) -> PlacedOrder:
            raise InvalidInput("no")

        async def ok(_claim: Any) -> PlacedOrder:
            return placed

        with pytest.raises(InvalidInput):
            await run_once(w.ctx, "orders", "k", {"a": 1}, fails, _reply)
        assert (await run_once(w.ctx, "orders", "k", {"a": 1}, ok, _reply))[0] == 201  # the key was released
        async with w.db.uow() as uow:  # a server claimed this key and died
            assert await uow.idempotency_begin("orders", "dead", request_hash({"a": 1}), w.clock.now(), 60) is None
            await uow.commit()
        with pytest.raises(ShowroomError) as err:
            await run_once(w.ctx, "orders", "dead", {"a": 1}, ok, _reply)
        assert (err.value.code, err.value.http_status) == ("request_in_flight", 409)
        w.clock.advance(61)
        assert (await run_once(w.ctx, "orders", "dead", {"a": 1}, ok, _reply))[0] == 201

    run(go())


def test_purchase_limits_follow_the_banks_verification_level_and_large_orders_are_flagged() -> None:
    w = fake_world()
    w.customers.add("13800000011", KycLevel.L1)
    w.customers.add("13800000012", KycLevel.L2)

    async def go() -> None:
        q = await orders.quote(w.ctx, "bar-50g", "au9999-50g", 2)  # 93,791 CNY
        with pytest.raises(LimitExceeded):
            await orders.place_order(w.ctx, PlaceOrder(q.id, Customer(None, "13800000011")))
        placed = await orders.place_order(w.ctx, PlaceOrder(q.id, Customer(None, "13800000012")))
        assert placed.details.order.aml_review
        assert placed.details.order.customer["kyc_level"] == "L2"
        assert placed.details.order.customer["customer_id"] == "cust_13800000012"

    run(go())


def test_an_unknown_number_is_unverified_and_gets_the_lowest_limit() -> None:
    w = fake_world()
    w.customers.unknown_level = None

    async def go() -> None:
        big = await orders.quote(w.ctx, "bar-50g", "au9999-50g")  # 46,895.50 CNY > 20,000 unverified
        with pytest.raises(LimitExceeded):
            await orders.place_order(w.ctx, PlaceOrder(big.id, Customer(None, "13811112222")))
        small = await orders.quote(w.ctx, "bar-50g", "au9999-10g")  # 9,419.07 CNY
        placed = await orders.place_order(w.ctx, PlaceOrder(small.id, Customer(None, "13811112222")))
        assert placed.details.order.customer["kyc_level"] == "L0"
        assert placed.details.order.customer["customer_id"].startswith("unverified:")

    run(go())


def test_a_frozen_customer_is_refused_and_an_unreachable_service_takes_no_order() -> None:
    w = fake_world()
    w.customers.add("13800000013", KycLevel.L3, frozen=True)

    async def go() -> None:
        q = await orders.quote(w.ctx, "bar-50g", "au9999-10g")
        with pytest.raises(ShowroomError) as err:
            await orders.place_order(w.ctx, PlaceOrder(q.id, Customer(None, "13800000013")))
        assert (err.value.code, err.value.http_status) == ("customer_refused", 403)
        assert "contact the bank" in err.value.message and "frozen" not in err.value.message
        w.customers.down = True
        with pytest.raises(ShowroomError) as err:
            await orders.place_order(w.ctx, PlaceOrder(q.id, WANG))
        assert (err.value.code, err.value.http_status) == ("customer_info_unavailable", 503)
        assert w.db.stock_level("online", "bar-50g", "au9999-10g") == (0, 0)

    run(go())


def test_velocity_counts_the_verified_customer_not_the_typed_number() -> None:
    w = fake_world()
    same = CustomerFacts("cust_one_person", KycLevel.L2, source="fake")
    for phone in ("13800000021", "13800000022"):  # two numbers of one customer
        w.customers.known[phone] = same

    async def go() -> None:
        for i in range(5):
            q = await orders.quote(w.ctx, "ring-18k", "au750-12" if i % 2 else "pt950-12")
            phone = "13800000021" if i % 2 else "13800000022"
            await orders.place_order(w.ctx, PlaceOrder(q.id, Customer(None, phone)))
            async with w.db.uow() as uow:  # the shelf is restocked between orders
                await uow.release_stock("online", "ring-18k", "au750-12", 1)
                await uow.release_stock("online", "ring-18k", "pt950-12", 1)
                await uow.commit()
        q = await orders.quote(w.ctx, "bar-50g", "au9999-10g")
        with pytest.raises(ShowroomError) as err:
            await orders.place_order(w.ctx, PlaceOrder(q.id, Customer(None, "13800000021")))
        assert err.value.code == "velocity_exceeded"

    run(go())


def test_the_order_token_is_issued_once_and_stored_only_as_its_hash() -> None:
    w = fake_world()

    async def go() -> None:
        placed = await _order(w, "au9999-10g")
        order_id, token = placed.details.order.id, placed.token
        assert token and len(token) >= 43 and token not in order_id
        assert w.db.tables.token_hashes[order_id] == hashlib.sha256(token.encode()).hexdigest()
        assert token not in repr(w.db.tables)
        assert (await orders.customer_order(w.ctx, order_id, token)).order.id == order_id
        for wrong in (None, "", token[:-1] + ("A" if token[-1] != "A" else "B"), "x" * 5000):
            with pytest.raises(NotFound):
                await orders.customer_order(w.ctx, order_id, wrong)
            with pytest.raises(NotFound):
                await orders.cancel(w.ctx, order_id, wrong)
        with pytest.raises(NotFound) as unknown:
            await orders.customer_order(w.ctx, "ord_unknown", token)
        with pytest.raises(NotFound) as wrong_token:
            await orders.customer_order(w.ctx, order_id, "guess")
        assert unknown.value.code == wrong_token.value.code == "not_found"
        assert (await orders.order_status(w.ctx, order_id)).status is OrderStatus.PENDING_PAYMENT
        again = await orders.place_order(w.ctx, PlaceOrder(placed.details.order.quote_id, WANG))
        assert not again.created and again.token is None

    run(go())


def test_a_paid_order_moves_through_fulfilment_only_in_order() -> None:
    w = fake_world()

    async def go() -> None:
        placed = await _order(w)
        order_id = placed.details.order.id
        with pytest.raises(IllegalTransition):
            await orders.advance_fulfilment(w.ctx, order_id, OrderStatus.FULFILLING)
        with pytest.raises(InvalidInput):
            await orders.advance_fulfilment(w.ctx, order_id, OrderStatus.PAID)
        async with w.db.uow() as uow:  # paid (the payment use cases are tested on their own)
            order = await uow.get_order(order_id)
            order.status = OrderStatus.PAID
            await uow.save_order(order)
            await uow.commit()
        assert (await orders.advance_fulfilment(w.ctx, order_id, OrderStatus.FULFILLING)).order.status.value == "fulfilling"
        assert (await orders.advance_fulfilment(w.ctx, order_id, OrderStatus.COMPLETED)).order.status.value == "completed"

    run(go())


def test_a_customer_needs_a_name_or_a_phone() -> None:
    with pytest.raises(InvalidInput):
        Customer(None, None)


def test_an_order_takes_its_idempotency_key_in_its_own_transaction_and_a_replay_changes_nothing() -> None:
    """`in_transaction`: one commit less; the replay is answered from the stored reply and writes nothing, and a
    request that fails inside the transaction leaves no key behind (the next try runs)."""
    w = fake_world()

    async def go() -> None:
        q = await orders.quote(w.ctx, "bar-50g", "au9999-10g")
        body = {"quote_id": q.id, "customer": {"phone": "13800000002"}}
        calls = 0

        async def place(claim: Any) -> PlacedOrder:
            nonlocal calls
            calls += 1
            return await orders.place_order(w.ctx, PlaceOrder(q.id, Customer(None, "13800000002")), claim)

        first = await run_once(w.ctx, "orders", "t1", body, place, _reply, in_transaction=True)
        assert first[0] == 201 and w.db.tables.idempotency[("orders", "t1")].state == "done"
        orders_before = dict(w.db.tables.orders)
        again = await run_once(w.ctx, "orders", "t1", body, place, _reply, in_transaction=True)
        assert again == first and calls == 2 and w.db.tables.orders == orders_before  # ran, rolled back, replayed
        with pytest.raises(ShowroomError) as err:
            await run_once(w.ctx, "orders", "t1", {**body, "channel": "vr"}, place, _reply, in_transaction=True)
        assert err.value.code == "idempotency_key_reused"

        expired = await orders.quote(w.ctx, "bar-50g", "au9999-10g")
        w.clock.advance(w.ctx.settings.quote_ttl_s + 1)

        async def too_late(claim: Any) -> PlacedOrder:
            return await orders.place_order(w.ctx, PlaceOrder(expired.id, Customer(None, "13800000002")), claim)

        with pytest.raises(QuoteExpired):
            await run_once(w.ctx, "orders", "t2", {"q": expired.id}, too_late, _reply, in_transaction=True)
        assert ("orders", "t2") not in w.db.tables.idempotency  # rolled back with the order's transaction

        async def forgets(_claim: Any) -> PlacedOrder:
            return await _order(w)

        with pytest.raises(AssertionError, match="never took"):
            await run_once(w.ctx, "orders", "t3", {"a": 1}, forgets, _reply, in_transaction=True)

    run(go())
