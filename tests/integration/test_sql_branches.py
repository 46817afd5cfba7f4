"""Branch pick-ups on a real database (SQLite and PostgreSQL): concurrent orders never take more pieces than a
branch shelf holds nor more places than a slot has, expiry gives both back, and the pick-up's whole life (code,
hand-over, the missed-pick-up rule) survives the SQL round trip."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from showroom.adapters.sql import SqlDatabase
from showroom.audit import Actor
from showroom.branches import PickupStatus, load_branches
from showroom.errors import ShowroomError
from showroom.orders import OrderStatus, RefundStatus
from showroom.services import Commerce, appointments, notices, orders, payments, pickups, recovery
from showroom.services.orders import Customer, PlacedOrder, PlaceOrder
from showroom.services.payments import StartPayment
from tests.commerce_fakes import FakeGateway, ManualClock
from tests.integration.commerce_db import DB_KINDS, commerce_on
from tests.unit.test_branches import BRANCH, TUESDAY, at_local
from tests.unit.test_services_pickups import THURSDAY

pytestmark = pytest.mark.asyncio
TEN = at_local(TUESDAY, 10)
SHELF = ("sh-test", "bar-50g", "au9999-50g")


@dataclass
class World:
    ctx: Commerce
    gw: FakeGateway
    clock: ManualClock
    db: SqlDatabase


@pytest_asyncio.fixture(params=DB_KINDS)
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    async with commerce_on(request.param, tmp_path) as c:
        await pickups.load_branches(c.ctx, load_branches(BRANCH.replace("pickup_capacity = 2",
                                                                        "pickup_capacity = 50")))
        yield World(c.ctx, c.gw, c.clock, c.db)


async def _order(w: World, i: int, slot: Any = TEN) -> PlacedOrder:
    q = await orders.quote(w.ctx, "bar-50g", "au9999-50g")
    return await orders.place_order(w.ctx, PlaceOrder(q.id, Customer(f"客户{i}", f"139{i:08d}"), channel="phone",
                                                      branch_id="sh-test", pickup_slot=slot))


async def _level(w: World) -> tuple[int, int]:
    async with w.db.uow() as uow:
        return await uow.stock_level(*SHELF)


async def _taken(w: World, slot: Any = TEN) -> int:
    day = await pickups.branch_day(w.ctx, "sh-test", slot.astimezone(at_local(TUESDAY, 0).tzinfo).date())
    return next(s.taken for s in day.slots if s.start == slot)


async def _set_shelf(w: World, on_hand: int) -> None:
    await pickups.count_shelf(w.ctx, *SHELF, on_hand, Actor("mgr", "manager"))


async def _pay(w: World, order_id: str) -> None:
    p = await payments.start_payment(w.ctx, StartPayment(order_id, "card"), f"pay-{order_id}")
    assert p.gateway_payment_id is not None
    body, sig = w.gw.notice(w.gw.complete(p.gateway_payment_id), p.gateway_payment_id)
    await notices.handle_payment_notice(w.ctx, body, sig)


async def test_concurrent_orders_never_take_more_than_the_branch_shelf_holds(world: World) -> None:
    await _set_shelf(world, 3)
    results = await asyncio.gather(*(_order(world, i) for i in range(16)), return_exceptions=True)
    placed = [r for r in results if isinstance(r, PlacedOrder)]
    refused = [r for r in results if isinstance(r, ShowroomError)]
    assert len(placed) == 3 and len(refused) == 13, results
    assert {r.code for r in refused} == {"out_of_stock"}
    assert await _level(world) == (3, 3)
    assert await _taken(world) == 3  # the refused orders left no place taken


async def test_concurrent_orders_never_overbook_a_slot(world: World) -> None:
    await _set_shelf(world, 20)
    async with world.db.uow() as uow:  # a slot with 2 places, a full shelf
        branch = await uow.get_branch("sh-test")
    async with world.db.uow() as uow:
        await uow.put_branch(replace(branch, pickup_capacity=2), world.clock.now())
        await uow.commit()
    results = await asyncio.gather(*(_order(world, i) for i in range(8)), return_exceptions=True)
    placed = [r for r in results if isinstance(r, PlacedOrder)]
    assert len(placed) == 2, results
    assert {r.code for r in results if isinstance(r, ShowroomError)} == {"slot_unavailable"}
    assert await _taken(world) == 2 and await _level(world) == (20, 2)


async def test_expiry_releases_the_branch_stock_and_the_slot(world: World) -> None:
    placed = await _order(world, 1)
    assert await _level(world) == (2, 1) and await _taken(world) == 1
    world.clock.advance(world.ctx.settings.reservation_ttl_s)
    assert await orders.expire_due(world.ctx) == 1
    assert await _level(world) == (2, 0) and await _taken(world) == 0
    async with world.db.uow() as uow:
        pickup = await uow.get_pickup(placed.details.order.id)
    assert pickup is not None and pickup.status is PickupStatus.RELEASED


async def test_a_pickup_is_paid_handed_over_against_its_code_and_audited(world: World) -> None:
    placed = await _order(world, 1)
    oid = placed.details.order.id
    await _pay(world, oid)
    got = await pickups.customer_pickup(world.ctx, oid, placed.token)
    assert got is not None
    code = got.code
    assert code is not None
    world.clock.t = TEN
    line = await pickups.hand_over(world.ctx, pickups.HandOver("sh-test", code, True, "客户1"),
                                   Actor("teller1", "teller"))
    assert line.order.status is OrderStatus.COMPLETED and line.pickup.handed_over_by == "teller1"
    async with world.db.uow() as uow:
        entries = await uow.audit_entries(subject=f"order:{oid}", limit=20)
    handed = next(e.event for e in entries if e.event.action == "pickup_handed_over")
    assert handed.actor == "teller1" and handed.after is not None and handed.after["id_checked"] is True


async def test_a_missed_pickup_is_extended_then_refunded_on_the_database(world: World) -> None:
    placed = await _order(world, 1)
    oid = placed.details.order.id
    await _pay(world, oid)
    world.clock.t = at_local(TUESDAY, 11)
    assert (await recovery.sweep(world.ctx))["pickups_extended"] == 1
    async with world.db.uow() as uow:
        pickup = await uow.get_pickup(oid)
    assert pickup is not None and pickup.slot_at == at_local(THURSDAY, 10) and pickup.missed_slots == (TEN,)
    assert await _taken(world) == 0 and await _taken(world, at_local(THURSDAY, 10)) == 1
    world.clock.t = at_local(THURSDAY, 11)
    assert (await recovery.sweep(world.ctx))["pickups_refunded"] == 1
    got = await orders.get_order(world.ctx, oid)
    assert [r.reason for r in got.refunds] == ["pickup_missed"]
    assert got.refunds[0].status in (RefundStatus.PENDING, RefundStatus.SUCCEEDED)
    assert await _level(world) == (2, 0)  # the piece is back on the shelf


async def test_concurrent_advisory_bookings_take_at_most_the_slots_places(world: World) -> None:
    books = [appointments.book(world.ctx, appointments.BookAppointment(
        "sh-test", TEN, appointments.AppointmentTopic.WEALTH, Customer(f"客户{i}", f"139{i:08d}")))
        for i in range(6)]
    results = await asyncio.gather(*books, return_exceptions=True)
    assert sum(isinstance(r, appointments.Booked) for r in results) == 1, results  # advisory_capacity = 1
    assert len(await appointments.on_day(world.ctx, "sh-test", TUESDAY)) == 1
