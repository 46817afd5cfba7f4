"""Branch pick-ups and appointments over the in-memory unit of work: the slot and the branch's shelf taken with
the order and given back when it expires, the code after payment, the teller's hand-over against the code and an
identity check, the missed-pick-up rule moved by the clock, one move by the customer, advisory appointments."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest

from showroom.audit import Actor
from showroom.branches import (
    AppointmentTopic,
    IdentityNotChecked,
    NameMismatch,
    PickupCodeWrong,
    PickupNotAllowed,
    PickupStatus,
    SlotUnavailable,
    load_branches,
)
from showroom.errors import InvalidInput, NotFound, ShowroomError
from showroom.orders import OrderStatus
from showroom.services import appointments, notices, orders, payments, pickups, recovery
from showroom.services.orders import Customer, PlacedOrder, PlaceOrder
from showroom.services.payments import StartPayment
from tests.commerce_fakes import FakeWorld, fake_world
from tests.unit.test_branches import BRANCH, TUESDAY, at_local

WANG = Customer("王芳", "13800000000")
TELLER = Actor("teller1", "teller")
TEN = at_local(TUESDAY, 10)
THURSDAY = date(2026, 11, 26)


def _events(w: FakeWorld) -> list[Any]:
    return [entry.event for entry in w.db.tables.audit]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _world() -> FakeWorld:
    w = fake_world()
    assert await pickups.load_branches(w.ctx, load_branches(BRANCH)) == 1
    return w


async def _order(w: FakeWorld, customer: Customer = WANG, slot: Any = TEN) -> PlacedOrder:
    q = await orders.quote(w.ctx, "bar-50g", "au9999-50g")
    return await orders.place_order(w.ctx, PlaceOrder(q.id, customer, channel="phone", branch_id="sh-test",
                                                      pickup_slot=slot))


async def _pay(w: FakeWorld, order_id: str) -> None:
    p = await payments.start_payment(w.ctx, StartPayment(order_id, "card"), f"pay-{order_id}")
    assert p.gateway_payment_id is not None
    body, sig = w.gw.notice(w.gw.complete(p.gateway_payment_id), p.gateway_payment_id)
    await notices.handle_payment_notice(w.ctx, body, sig)


async def _taken(w: FakeWorld, slot: Any = TEN) -> int:
    day = await pickups.branch_day(w.ctx, "sh-test", TUESDAY)
    return next(s.taken for s in day.slots if s.start == slot)


def test_an_order_with_a_pickup_takes_the_slot_and_the_branch_shelf_and_expiry_gives_both_back() -> None:
    async def go() -> None:
        w = await _world()
        placed = await _order(w)
        assert w.db.stock_level("sh-test", "bar-50g", "au9999-50g") == (2, 1)
        assert await _taken(w) == 1
        w.clock.advance(w.ctx.settings.reservation_ttl_s)
        assert await orders.expire_due(w.ctx) == 1
        assert w.db.stock_level("sh-test", "bar-50g", "au9999-50g") == (2, 0)
        assert await _taken(w) == 0
        assert w.db.tables.pickups[placed.details.order.id].status is PickupStatus.RELEASED

    run(go())


def test_a_full_slot_and_an_empty_shelf_refuse_the_order_and_leave_nothing_behind() -> None:
    async def go() -> None:
        w = await _world()
        await _order(w, Customer("甲", "13900000001"))
        await _order(w, Customer("乙", "13900000002"))
        with pytest.raises(ShowroomError) as err:  # the shelf holds 2
            await _order(w, Customer("丙", "13900000003"), at_local(TUESDAY, 11))
        assert err.value.code == "out_of_stock"
        w.db.tables.stock[("sh-test", "bar-50g", "au9999-50g")] = (10, 2)
        with pytest.raises(SlotUnavailable):  # capacity 2 at 10:00
            await _order(w, Customer("丙", "13900000003"))
        assert await _taken(w) == 2 and w.db.stock_level("sh-test", "bar-50g", "au9999-50g") == (10, 2)
        with pytest.raises(InvalidInput):  # the teller checks the name against the ID: a name is needed
            await _order(w, Customer(None, "13900000004"), at_local(TUESDAY, 11))
        with pytest.raises(NotFound):
            q = await orders.quote(w.ctx, "bar-50g", "au9999-50g")
            await orders.place_order(w.ctx, PlaceOrder(q.id, WANG, branch_id="nowhere", pickup_slot=TEN))

    run(go())


def test_the_code_shows_to_the_token_holder_once_paid_and_the_teller_hands_over_against_it_and_the_id() -> None:
    async def go() -> None:
        w = await _world()
        placed = await _order(w)
        oid, token = placed.details.order.id, placed.token
        unpaid = await pickups.customer_pickup(w.ctx, oid, token)
        assert unpaid is not None and unpaid.code is None  # not paid yet
        with pytest.raises(NotFound):
            await pickups.customer_pickup(w.ctx, oid, "wrong")
        await _pay(w, oid)
        paid = await pickups.customer_pickup(w.ctx, oid, token)
        assert paid is not None and paid.code is not None
        code = paid.code
        w.clock.t = TEN
        with pytest.raises(PickupCodeWrong):
            await pickups.hand_over(w.ctx, pickups.HandOver("sh-test", "ABCDE-FGHJK", True, "王芳"), TELLER)
        with pytest.raises(IdentityNotChecked):
            await pickups.hand_over(w.ctx, pickups.HandOver("sh-test", code, False, "王芳"), TELLER)
        with pytest.raises(NameMismatch):
            await pickups.hand_over(w.ctx, pickups.HandOver("sh-test", code, True, "李雷"), TELLER)
        line = await pickups.hand_over(w.ctx, pickups.HandOver("sh-test", code.lower(), True, "王芳"), TELLER)
        assert line.order.status is OrderStatus.COMPLETED and line.pickup.status is PickupStatus.HANDED_OVER
        with pytest.raises(PickupCodeWrong):  # handed over once
            await pickups.hand_over(w.ctx, pickups.HandOver("sh-test", code, True, "王芳"), TELLER)
        actions = [(e.action, e.actor) for e in _events(w) if e.subject == f"order:{oid}"]
        assert ("pickup_name_mismatch", "teller1") in actions and ("pickup_handed_over", "teller1") in actions
        handed = next(e for e in _events(w) if e.action == "pickup_handed_over")
        assert handed.after is not None and handed.after["id_checked"] is True and handed.after["name_matched"]
        assert w.db.stock_level("sh-test", "bar-50g", "au9999-50g") == (1, 0)

    run(go())


def test_a_missed_pickup_is_extended_once_to_the_same_time_next_open_day_then_refunded() -> None:
    async def go() -> None:
        w = await _world()
        placed = await _order(w)
        oid = placed.details.order.id
        await _pay(w, oid)
        w.clock.t = TEN
        assert (await recovery.sweep(w.ctx))["pickups_extended"] == 0  # the slot is on now
        w.clock.t = at_local(TUESDAY, 11)  # slot end + 30 minutes
        assert (await recovery.sweep(w.ctx))["pickups_extended"] == 1
        pickup = w.db.tables.pickups[oid]
        assert pickup.slot_at == at_local(THURSDAY, 10) and pickup.extended and pickup.missed_slots == (TEN,)
        assert await _taken(w) == 0
        w.clock.t = at_local(THURSDAY, 11)
        counts = await recovery.sweep(w.ctx)
        assert counts["pickups_refunded"] == 1
        assert w.db.tables.pickups[oid].status is PickupStatus.REFUNDED
        refunds = list(w.db.tables.refunds.values())
        assert len(refunds) == 1 and refunds[0].reason == "pickup_missed"
        assert refunds[0].amount_fen == placed.details.order.amount_fen
        assert w.db.stock_level("sh-test", "bar-50g", "au9999-50g") == (2, 0)  # back on the shelf
        assert (await recovery.sweep(w.ctx))["pickups_refunded"] == 0
        actions = [e.action for e in _events(w) if e.subject == f"order:{oid}"]
        assert "pickup_extended" in actions and "pickup_missed_refunded" in actions

    run(go())


def test_the_customer_moves_a_pickup_once_and_a_miss_after_that_is_refunded() -> None:
    async def go() -> None:
        w = await _world()
        placed = await _order(w)
        oid, token = placed.details.order.id, placed.token
        await _pay(w, oid)
        moved = await pickups.move_pickup(w.ctx, oid, token, at_local(THURSDAY, 14))
        assert moved.pickup.extended and not moved.may_move and await _taken(w) == 0
        with pytest.raises(PickupNotAllowed):
            await pickups.move_pickup(w.ctx, oid, token, at_local(THURSDAY, 15))
        w.clock.t = at_local(THURSDAY, 15)
        assert (await recovery.sweep(w.ctx))["pickups_refunded"] == 1

    run(go())


def test_staff_count_a_shelf_but_never_below_what_is_reserved() -> None:
    async def go() -> None:
        w = await _world()
        await _order(w)
        assert await pickups.count_shelf(w.ctx, "sh-test", "bar-50g", "au9999-50g", 7, TELLER) == (2, 7, 1)
        with pytest.raises(ShowroomError) as err:
            await pickups.count_shelf(w.ctx, "sh-test", "bar-50g", "au9999-50g", 0, TELLER)
        assert err.value.code == "out_of_stock"
        assert w.db.stock_level("sh-test", "bar-50g", "au9999-50g") == (7, 1)
        assert any(e.action == "stock_counted" and e.actor == "teller1" for e in _events(w))

    run(go())


def test_an_advisory_appointment_uses_the_slot_engine_with_its_own_capacity() -> None:
    async def go() -> None:
        w = await _world()
        await _order(w)  # a pick-up at 10:00 does not take the advisors' place
        booked = await appointments.book(w.ctx, appointments.BookAppointment(
            "sh-test", TEN, AppointmentTopic.GOLD_INVESTMENT, WANG))
        assert booked.token and booked.appointment.status.value == "booked"
        with pytest.raises(SlotUnavailable):  # one advisor's desk
            await appointments.book(w.ctx, appointments.BookAppointment(
                "sh-test", TEN, AppointmentTopic.JEWELLERY, Customer("李雷", "13900000009")))
        with pytest.raises(NotFound):
            await appointments.get(w.ctx, booked.appointment.id, "wrong")
        await appointments.cancel(w.ctx, booked.appointment.id, booked.token)
        again = await appointments.book(w.ctx, appointments.BookAppointment(
            "sh-test", TEN, AppointmentTopic.JEWELLERY, Customer("李雷", "13900000009")))
        assert [a.id for a in await appointments.on_day(w.ctx, "sh-test", TUESDAY)] == sorted(
            [booked.appointment.id, again.appointment.id])

    run(go())


def test_a_car_is_not_picked_up_at_a_branch() -> None:
    async def go() -> None:
        w = await _world()
        car = w.ctx.catalog.get("car-ev")
        q = await orders.quote(w.ctx, car.id, car.variants[0].id)
        with pytest.raises(PickupNotAllowed):
            await orders.place_order(w.ctx, PlaceOrder(q.id, WANG, branch_id="sh-test", pickup_slot=TEN))

    run(go())


def test_one_customer_holds_at_most_three_advisory_visits_ahead() -> None:
    async def go() -> None:
        w = await _world()
        for hour in (9, 10, 11):
            await appointments.book(w.ctx, appointments.BookAppointment(
                "sh-test", at_local(TUESDAY, hour), AppointmentTopic.WEALTH, WANG))
        with pytest.raises(ShowroomError) as err:
            await appointments.book(w.ctx, appointments.BookAppointment(
                "sh-test", at_local(TUESDAY, 13), AppointmentTopic.WEALTH, WANG))
        assert err.value.code == "appointment_limit"

    run(go())
