"""Four eyes on refunds, on the in-memory unit of work: within the teller limit a refund goes at once; above it
(or split into pieces that add up above it, or after the goods were handed over) it waits for a manager who did
not ask for it; waiting amounts are held; every step is audited with its actor. Fulfilment happens once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from showroom.audit import Actor
from showroom.orders import IllegalTransition, OrderStatus, RefundNotAllowed, RefundStatus
from showroom.services import notices, orders, payments, refunds
from showroom.services.orders import Customer, PlaceOrder
from showroom.services.payments import StartPayment
from showroom.services.refunds import ApprovalDecided, RequestRefund
from showroom.staff import ApprovalState, Forbidden, FourEyesViolation, RefundApproval, Role, StaffMember
from tests.commerce_fakes import FakeWorld, fake_world

TINA = StaffMember("tina", Role.TELLER)
TOM = StaffMember("tom", Role.TELLER)
MARK = StaffMember("mark", Role.MANAGER)
MONA = StaffMember("mona", Role.MANAGER)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def actor(m: StaffMember, rid: str = "req-1") -> Actor:
    return Actor(m.name, m.role.value, rid)


async def _paid_order(w: FakeWorld, variant: str = "au9999-10g") -> str:
    q = await orders.quote(w.ctx, "bar-50g", variant)  # 10 g: 9,419.10 CNY
    order_id = (await orders.place_order(w.ctx, PlaceOrder(q.id, Customer(None, "13900000001")))).details.order.id
    p = await payments.start_payment(w.ctx, StartPayment(order_id, "card"), "p1")
    assert p.gateway_payment_id is not None
    body, sig = w.gw.notice(w.gw.complete(p.gateway_payment_id), p.gateway_payment_id)
    await notices.handle_payment_notice(w.ctx, body, sig)
    return order_id


async def _refund(w: FakeWorld, order_id: str, fen: int | None, by: StaffMember, key: str) -> Any:
    return await refunds.staff_refund(w.ctx, RequestRefund(order_id, fen, "dent"), key, by, actor(by))


def test_a_teller_refund_within_the_limit_goes_at_once() -> None:
    w = fake_world()

    async def go() -> None:
        order_id = await _paid_order(w)
        done = await _refund(w, order_id, 500000, TINA, "k1")  # 5,000.00: at the limit
        assert not isinstance(done, RefundApproval) and done.status is RefundStatus.PENDING
        again = await _refund(w, order_id, 500000, TINA, "k1")  # the same key: the same refund
        assert again.id == done.id

    run(go())


def test_above_the_limit_the_teller_waits_for_a_manager_who_did_not_ask() -> None:
    w = fake_world()

    async def go() -> None:
        order_id = await _paid_order(w)
        pending = await _refund(w, order_id, 600000, TINA, "k1")
        assert isinstance(pending, RefundApproval) and pending.state is ApprovalState.PENDING
        assert w.gw.refunds == {}  # no money moved
        with pytest.raises(FourEyesViolation):
            await refunds.approve(w.ctx, pending.id, TINA, actor(TINA))
        with pytest.raises(Forbidden):
            await refunds.approve(w.ctx, pending.id, TOM, actor(TOM))
        approved, refund = await refunds.approve(w.ctx, pending.id, MARK, actor(MARK, "req-2"))
        assert approved.state is ApprovalState.APPROVED and approved.decided_by == "mark"
        assert approved.refund_id == refund.id and refund.amount_fen == 600000 and len(w.gw.refunds) == 1
        with pytest.raises(ApprovalDecided):
            await refunds.approve(w.ctx, pending.id, MONA, actor(MONA))
        trail = [(e.event.action, e.event.actor, e.event.role, e.event.request_id)
                 for e in w.db.tables.audit if e.event.subject == f"order:{order_id}"]
        assert ("refund_approval_requested", "tina", "teller", "req-1") in trail
        assert ("refund_approved", "mark", "manager", "req-2") in trail

    run(go())


def test_a_managers_own_large_refund_needs_a_second_manager() -> None:
    w = fake_world()

    async def go() -> None:
        order_id = await _paid_order(w)
        pending = await _refund(w, order_id, None, MARK, "k1")  # all of it: 9,419.10
        assert isinstance(pending, RefundApproval) and pending.amount_fen == 941910
        with pytest.raises(FourEyesViolation):
            await refunds.approve(w.ctx, pending.id, MARK, actor(MARK))
        _, refund = await refunds.approve(w.ctx, pending.id, MONA, actor(MONA))
        assert refund.amount_fen == 941910

    run(go())


def test_small_refunds_that_add_up_above_the_limit_wait_too() -> None:
    w = fake_world()

    async def go() -> None:
        order_id = await _paid_order(w)
        first = await _refund(w, order_id, 300000, TINA, "k1")
        assert not isinstance(first, RefundApproval)
        second = await _refund(w, order_id, 300000, TOM, "k2")
        assert isinstance(second, RefundApproval)

    run(go())


def test_amounts_waiting_for_approval_are_held_and_a_rejection_releases_them() -> None:
    w = fake_world()

    async def go() -> None:
        order_id = await _paid_order(w)
        pending = await _refund(w, order_id, 900000, TINA, "k1")
        assert isinstance(pending, RefundApproval)
        with pytest.raises(RefundNotAllowed):  # 9,000 held of 9,419.10: 419.10 is left
            await _refund(w, order_id, 50000, TOM, "k2")
        with pytest.raises(Forbidden):
            await refunds.reject(w.ctx, pending.id, TOM, actor(TOM), "no")
        rejected = await refunds.reject(w.ctx, pending.id, MARK, actor(MARK), "goods not returned")
        assert rejected.state is ApprovalState.REJECTED and rejected.decision_reason == "goods not returned"
        assert not isinstance(await _refund(w, order_id, 50000, TOM, "k3"), RefundApproval)
        assert [a.state for a in await refunds.list_approvals(w.ctx, ApprovalState.PENDING)] == []

    run(go())


def test_after_hand_over_every_refund_needs_approval_and_fulfilment_happens_once() -> None:
    w = fake_world()

    async def go() -> None:
        order_id = await _paid_order(w)
        by = actor(TINA)
        await orders.advance_fulfilment(w.ctx, order_id, OrderStatus.FULFILLING, by)
        done = await orders.advance_fulfilment(w.ctx, order_id, OrderStatus.COMPLETED, by)
        assert done.order.status is OrderStatus.COMPLETED
        small = await _refund(w, order_id, 1000, TINA, "k1")
        assert isinstance(small, RefundApproval)  # 10.00 CNY, but the goods come back: a second person checks
        _, refund = await refunds.approve(w.ctx, small.id, MARK, actor(MARK))
        assert refund.gateway_refund_id is not None
        w.gw.finish_refund(refund.gateway_refund_id)
        pid = next(iter(w.gw.payments))
        body, sig = w.gw.notice("refund.succeeded", pid, refund_id=refund.gateway_refund_id)
        await notices.handle_payment_notice(w.ctx, body, sig)
        got = (await orders.get_order(w.ctx, order_id)).order
        assert got.status is OrderStatus.PARTIALLY_REFUNDED and got.fulfilment is OrderStatus.COMPLETED
        for step in (OrderStatus.FULFILLING, OrderStatus.COMPLETED):
            with pytest.raises(IllegalTransition):
                await orders.advance_fulfilment(w.ctx, order_id, step, by)
        trail = [(e.event.action, e.event.actor, e.event.before, e.event.after) for e in w.db.tables.audit
                 if e.event.action in ("fulfilling", "completed")]
        assert trail == [("fulfilling", "tina", {"status": "paid"}, {"status": "fulfilling"}),
                         ("completed", "tina", {"status": "fulfilling"}, {"status": "completed"})]

    run(go())


def test_an_order_refunded_before_hand_over_is_never_fulfilled() -> None:
    w = fake_world()

    async def go() -> None:
        order_id = await _paid_order(w)
        refund = await _refund(w, order_id, 100000, TINA, "k1")
        assert not isinstance(refund, RefundApproval) and refund.gateway_refund_id is not None
        w.gw.finish_refund(refund.gateway_refund_id)
        pid = next(iter(w.gw.payments))
        body, sig = w.gw.notice("refund.succeeded", pid, refund_id=refund.gateway_refund_id)
        await notices.handle_payment_notice(w.ctx, body, sig)
        with pytest.raises(IllegalTransition):  # partially refunded, never shipped: cannot jump to completed
            await orders.advance_fulfilment(w.ctx, order_id, OrderStatus.COMPLETED, actor(TINA))
        moved = await orders.advance_fulfilment(w.ctx, order_id, OrderStatus.FULFILLING, actor(TINA))
        assert moved.order.status is OrderStatus.FULFILLING

    run(go())


def test_auditors_and_admins_cannot_ask_for_refunds() -> None:
    w = fake_world()

    async def go() -> None:
        order_id = await _paid_order(w)
        for who in (StaffMember("ada", Role.AUDITOR), StaffMember("root", Role.ADMIN)):
            with pytest.raises(Forbidden):
                await _refund(w, order_id, 100, who, "k")

    run(go())
