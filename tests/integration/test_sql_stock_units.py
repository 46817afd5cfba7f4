"""A shelf's pieces as rows (`showroom/adapters/_stock_units.py`, revision 0011) on SQLite and PostgreSQL: concurrent
orders never reserve more pieces than the shelf holds (nor one piece twice), release / take / staff counts keep
(on hand, reserved) exact, and an order without discount lines never reads `order_discounts`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import event, func, select

from showroom.adapters import tables as t
from showroom.errors import ShowroomError
from showroom.orders import OrderStatus
from showroom.ports import OutOfStock
from showroom.services import notices, orders, payments
from showroom.services.orders import Customer, PlacedOrder, PlaceOrder
from showroom.services.payments import StartPayment
from tests.commerce_fakes import make_catalog
from tests.integration.commerce_db import DB_KINDS, CommerceParts, commerce_on

pytestmark = pytest.mark.asyncio
SHELF = ("online", "bar-50g", "au9999-10g")


@pytest_asyncio.fixture(params=DB_KINDS)
async def parts(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CommerceParts]:
    async with commerce_on(request.param, tmp_path, make_catalog(bar_stock=5)) as c:
        yield c


async def _level(c: CommerceParts) -> tuple[int, int]:
    async with c.db.uow() as uow:
        return await uow.stock_level(*SHELF)


async def _pieces(c: CommerceParts) -> list[tuple[int, bool]]:
    """Every row of the shelf: (id, reserved)."""
    u = t.stock_units.c
    async with c.db.engine.connect() as conn:
        rows = await conn.execute(select(u.id, u.reserved).where(u.branch_id == SHELF[0], u.product_id == SHELF[1],
                                                                 u.variant_id == SHELF[2]).order_by(u.id))
        return [(int(r[0]), bool(r[1])) for r in rows]


async def _stock_shelf(c: CommerceParts, on_hand: int) -> None:
    async with c.db.uow() as uow:
        await uow.stock_shelf(*SHELF, on_hand)
        await uow.commit()


async def _reserve_slowly(c: CommerceParts, quantity: int) -> bool:
    """One order's reservation in its own transaction, held open a moment so that all of them overlap."""
    try:
        async with c.db.uow() as uow:
            await uow.reserve_stock(*SHELF, quantity, 0)
            await asyncio.sleep(0.05)
            await uow.commit()
    except OutOfStock:
        return False
    return True


async def test_concurrent_reservations_never_take_more_pieces_than_the_shelf_holds(parts: CommerceParts) -> None:
    await _stock_shelf(parts, 7)
    won = await asyncio.gather(*(_reserve_slowly(parts, 1) for _ in range(24)))
    assert sum(won) == 7  # every piece found its order, and no order got a piece that was not there
    assert await _level(parts) == (7, 7)
    assert [reserved for _id, reserved in await _pieces(parts)] == [True] * 7
    assert not await _reserve_slowly(parts, 1)


async def test_concurrent_reservations_of_several_pieces_stay_within_the_shelf(parts: CommerceParts) -> None:
    await _stock_shelf(parts, 7)
    won = sum(await asyncio.gather(*(_reserve_slowly(parts, 2) for _ in range(10))))
    assert 1 <= won <= 3
    assert await _level(parts) == (7, 2 * won)  # a refused order left none of the pieces it found reserved


async def test_concurrent_orders_never_oversell_and_the_refused_leave_nothing(parts: CommerceParts) -> None:
    """20 customers order the last 5 bars at once through the use case: 5 orders, 15 refused as out of stock."""
    quotes = [await orders.quote(parts.ctx, "bar-50g", "au9999-10g", 1) for _ in range(20)]
    results = await asyncio.gather(*(orders.place_order(parts.ctx, PlaceOrder(q.id, Customer(None, f"1390000{i:04d}")))
                                     for i, q in enumerate(quotes)), return_exceptions=True)
    placed = [r for r in results if isinstance(r, PlacedOrder)]
    refused = [r for r in results if not isinstance(r, PlacedOrder)]
    assert len(placed) == 5, results
    assert {getattr(r, "code", r) for r in refused} == {"out_of_stock"}
    assert await _level(parts) == (5, 5)
    async with parts.db.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(t.orders))).scalar_one() == 5


async def test_release_take_and_counts_keep_the_shelf_exact(parts: CommerceParts) -> None:
    await _stock_shelf(parts, 6)
    async with parts.db.uow() as uow:
        await uow.reserve_stock(*SHELF, 4, 0)
        await uow.commit()
    assert await _level(parts) == (6, 4)
    async with parts.db.uow() as uow:
        await uow.release_stock(*SHELF, 1)  # a cancelled order
        await uow.take_stock(*SHELF, 2)  # a paid one
        await uow.commit()
    assert await _level(parts) == (4, 1)
    async with parts.db.uow() as uow:
        with pytest.raises(OutOfStock):
            await uow.set_on_hand(*SHELF, 0)  # one piece is reserved
    async with parts.db.uow() as uow:
        assert await uow.set_on_hand(*SHELF, 2) == (4, 1)
        await uow.commit()
    assert await _level(parts) == (2, 1)
    async with parts.db.uow() as uow:
        assert await uow.set_on_hand(*SHELF, 9) == (2, 1)
        await uow.stock_shelf(*SHELF, 3, reset=True)  # a reset from the branches file: never below the reserved
        await uow.commit()
    assert await _level(parts) == (3, 1)
    async with parts.db.uow() as uow:
        await uow.release_stock(*SHELF, 5)  # more than is reserved: what is reserved comes back, no more
        await uow.take_stock(*SHELF, 1)  # nothing reserved: a free piece leaves, as the counter did
        await uow.commit()
    assert await _level(parts) == (2, 0)
    async with parts.db.uow() as uow:
        assert await uow.stock_level("online", "bar-50g", "nothing-here") == (0, 0)
        assert ("online", "bar-50g", "au9999-10g", 2, 0) in await uow.stock_levels()


async def test_the_first_order_stocks_the_shelf_from_the_catalog(parts: CommerceParts) -> None:
    q = await orders.quote(parts.ctx, "bar-50g", "au9999-10g", 2)
    await orders.place_order(parts.ctx, PlaceOrder(q.id, Customer(None, "13900000001")))
    assert await _level(parts) == (5, 2)
    q = await orders.quote(parts.ctx, "bar-50g", "au9999-10g", 4)
    with pytest.raises(ShowroomError) as err:
        await orders.place_order(parts.ctx, PlaceOrder(q.id, Customer(None, "13900000002")))
    assert err.value.code == "out_of_stock" and await _level(parts) == (5, 2)


def _count_discount_reads(c: CommerceParts) -> list[str]:
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "order_discounts" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(c.db.engine.sync_engine, "before_cursor_execute", before)
    return seen


async def _checkout(c: CommerceParts, phone: str, **extra: Any) -> str:
    q = await orders.quote(c.ctx, "bar-50g", "au9999-10g", 1)
    placed = await orders.place_order(c.ctx, PlaceOrder(q.id, Customer(None, phone), **extra))
    order_id = placed.details.order.id
    p = await payments.start_payment(c.ctx, StartPayment(order_id, "card"), f"pay-{order_id}")
    assert p.gateway_payment_id is not None
    body, sig = c.gw.notice(c.gw.complete(p.gateway_payment_id), p.gateway_payment_id)
    await notices.handle_payment_notice(c.ctx, body, sig)
    got = await orders.get_order(c.ctx, order_id)
    assert got.order.status is OrderStatus.PAID
    return order_id


async def test_a_checkout_without_discounts_never_reads_order_discounts(parts: CommerceParts) -> None:
    reads = _count_discount_reads(parts)
    order_id = await _checkout(parts, "13900000003")
    assert reads == []
    got = await orders.get_order(parts.ctx, order_id)
    assert not got.order.has_discounts and got.discounts == ()
    assert await _level(parts) == (4, 0)  # the paid piece left the shelf


async def test_an_order_with_discount_lines_says_so_and_its_lines_are_read(parts: CommerceParts) -> None:
    async with parts.db.uow() as uow:
        await uow.campaigns.grant_points("cust_13900000004", 300, "test", "seed", parts.clock.now())
        await uow.commit()
    reads = _count_discount_reads(parts)
    order_id = await _checkout(parts, "13900000004", points=300)
    assert reads  # the lines are read where they matter (the payment method, the order's details)
    got = await orders.get_order(parts.ctx, order_id)
    assert got.order.has_discounts and [line.points for line in got.discounts] == [300]
