"""Refunds against the in-memory unit of work: partial and several, never more than was paid (counting refunds
in flight), once per key, and a refund the backend refuses is marked failed for an operator."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from showroom.errors import ShowroomError
from showroom.orders import OrderStatus, RefundNotAllowed, RefundStatus
from showroom.services import notices, orders, payments, refunds
from showroom.services.orders import Customer, PlaceOrder
from showroom.services.payments import StartPayment
from showroom.services.refunds import RequestRefund
from tests.commerce_fakes import FakeWorld, fake_world


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _paid_order(w: FakeWorld) -> tuple[str, str]:
    q = await orders.quote(w.ctx, "bar-50g", "au9999-50g")  # 46,895.50 CNY
    order_id = (await orders.place_order(w.ctx, PlaceOrder(q.id, Customer(None, "1")))).details.order.id
    p = await payments.start_payment(w.ctx, StartPayment(order_id, "card"), "p1")
    assert p.gateway_payment_id is not None
    body, sig = w.gw.notice(w.gw.complete(p.gateway_payment_id), p.gateway_payment_id)
    await notices.handle_payment_notice(w.ctx, body, sig)
    return order_id, p.gateway_payment_id


async def _settle(w: FakeWorld, pid: str, refund_id: str | None) -> None:
    assert refund_id is not None
    w.gw.finish_refund(refund_id)
    body, sig = w.gw.notice("refund.succeeded", pid, refund_id=refund_id)
    await notices.handle_payment_notice(w.ctx, body, sig)


def test_partial_refunds_then_the_rest() -> None:
    w = fake_world()

    async def go() -> None:
        order_id, pid = await _paid_order(w)
        r1 = await refunds.request_refund(w.ctx, RequestRefund(order_id, 90000, "scratch"), "r1")
        assert r1.status is RefundStatus.PENDING and r1.amount_fen == 90000
        with pytest.raises(RefundNotAllowed):  # 900.00 is in flight: at most 45,995.50 is left
            await refunds.request_refund(w.ctx, RequestRefund(order_id, 4599551), "r2")
        await _settle(w, pid, r1.gateway_refund_id)
        assert (await orders.get_order(w.ctx, order_id)).order.status is OrderStatus.PARTIALLY_REFUNDED
        rest = await refunds.request_refund(w.ctx, RequestRefund(order_id), "r3")
        assert rest.amount_fen == 4599550
        await _settle(w, pid, rest.gateway_refund_id)
        got = await orders.get_order(w.ctx, order_id)
        assert got.order.status is OrderStatus.REFUNDED and got.order.refunded_fen == got.order.paid_fen

    run(go())


def test_the_same_refund_key_makes_one_refund() -> None:
    w = fake_world()

    async def go() -> None:
        order_id, _ = await _paid_order(w)
        first = await refunds.request_refund(w.ctx, RequestRefund(order_id, 100), "same")
        again = await refunds.request_refund(w.ctx, RequestRefund(order_id, 100), "same")
        assert first.id == again.id and len((await orders.get_order(w.ctx, order_id)).refunds) == 1

    run(go())


def test_an_unpaid_order_cannot_be_refunded_and_amounts_are_positive() -> None:
    w = fake_world()

    async def go() -> None:
        q = await orders.quote(w.ctx, "bar-50g", "au9999-10g")
        order_id = (await orders.place_order(w.ctx, PlaceOrder(q.id, Customer(None, "1")))).details.order.id
        with pytest.raises(RefundNotAllowed):
            await refunds.request_refund(w.ctx, RequestRefund(order_id), "r")
        paid_id, _ = await _paid_order(w)
        with pytest.raises(ShowroomError, match="positive"):
            await refunds.request_refund(w.ctx, RequestRefund(paid_id, 0), "r0")

    run(go())


def test_a_refund_the_backend_refuses_is_failed_and_no_longer_holds_money_back() -> None:
    w = fake_world()

    async def go() -> None:
        order_id, pid = await _paid_order(w)
        w.gw.payments[pid].refunded_fen = w.gw.payments[pid].amount_fen  # the backend thinks all is refunded
        failed = await refunds.request_refund(w.ctx, RequestRefund(order_id, 100), "r1")
        assert failed.status is RefundStatus.FAILED
        got = await orders.get_order(w.ctx, order_id, with_audit=True)
        assert got.audit is not None and got.audit[-1]["kind"] == "refund_failed"
        assert got.order.refundable_fen(list(got.refunds)) == got.order.paid_fen

    run(go())


def test_a_refund_not_sent_while_the_backend_is_down_is_sent_by_recovery() -> None:
    from showroom.services import recovery

    w = fake_world()

    async def go() -> None:
        order_id, _ = await _paid_order(w)
        w.gw.unavailable = True
        intent = await refunds.request_refund(w.ctx, RequestRefund(order_id, 100), "r1")
        assert intent.status is RefundStatus.INTENT
        w.gw.unavailable = False
        assert (await recovery.recover(w.ctx))["refunds_submitted"] == 1
        assert (await orders.get_order(w.ctx, order_id)).refunds[0].status is RefundStatus.PENDING

    run(go())
