"""A shelf's pieces as rows (`stock_units`, revision 0011): an order reserves pieces of its own instead of updating
the shelf's one counter row.

With one counter row per shelf (`stock.on_hand`, `stock.reserved`) every order of a variant updated the same row
and held its lock to the commit: on PostgreSQL the checkouts of one variant queued behind each other (13-18
transactions waiting on it on average in bench/commerce.py). A ledger of movements (inserts only) would not keep
the out-of-stock refusal exact by itself: two transactions summing it concurrently both see the last piece free,
unless they serialise on one lock per shelf again. Here each piece is a row:

- reserve: `UPDATE stock_units SET reserved = true WHERE id IN (SELECT id ... WHERE NOT reserved LIMIT n FOR UPDATE
  SKIP LOCKED)`: concurrent orders lock different pieces and never wait on each other. A piece can be reserved by
  one transaction only (its row lock, then the `reserved` recheck), so a shelf is never oversold. When the
  skipping pass finds fewer pieces than asked, an order holding none yet asks again waiting for the pieces other
  transactions hold (they are looked at again once those commit or roll back): it is refused only when the
  pieces really are gone. An order of several pieces that found some but not all is refused at once (it holds
  pieces, and waiting while holding could deadlock with another such order).
- release (cancel, expiry) and take (paid) touch reserved pieces the same way; pieces are fungible, so any
  reserved piece of the shelf will do, and the counts stay exact.
- on hand = the shelf's rows, reserved = those reserved: one indexed count.
SQLite runs one writer at a time (`SqlDatabase`), so the same statements (without the locking clauses, which
SQLite's dialect leaves out) are exact there too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from showroom.adapters import _statements as st
from showroom.ports import OutOfStock

MAX_UNITS = 1_000_000
"""The most pieces one shelf may hold (one row each)."""


def shelf_key(branch_id: str, product_id: str, variant_id: str) -> dict[str, Any]:
    return {"b_branch": branch_id, "b_product": product_id, "b_variant": variant_id}


async def _run(conn: AsyncConnection, statement: Any, key: dict[str, Any], quantity: int) -> int:
    if quantity <= 0:
        return 0
    res = await conn.execute(statement, {**key, "b_quantity": quantity})
    return int(res.rowcount or 0)


async def level(conn: AsyncConnection, key: dict[str, Any]) -> tuple[int, int]:
    """(on hand, reserved) of the shelf; (0, 0) when it was never stocked."""
    on_hand, reserved = (await conn.execute(st.SHELF_LEVEL, key)).one()
    return int(on_hand or 0), int(reserved or 0)


async def shelf_exists(conn: AsyncConnection, key: dict[str, Any]) -> bool:
    return (await conn.execute(st.SHELF_EXISTS, key)).first() is not None


async def add(conn: AsyncConnection, key: dict[str, Any], pieces: int) -> None:
    """`pieces` new free pieces on the shelf."""
    if pieces > MAX_UNITS:
        raise OutOfStock(f"a shelf holds at most {MAX_UNITS} pieces")
    await _run(conn, st.UNITS_ADD, key, pieces)


async def reserve(conn: AsyncConnection, key: dict[str, Any], quantity: int) -> int:
    """Reserves up to `quantity` free pieces (see the module's docstring); returns how many it got."""
    got = await _run(conn, st.UNITS_RESERVE, key, quantity)
    if got == 0:
        got = await _run(conn, st.UNITS_RESERVE_WAITING, key, quantity)
    return got


async def release(conn: AsyncConnection, key: dict[str, Any], quantity: int) -> None:
    """Up to `quantity` reserved pieces go back on the shelf (fewer only when fewer are reserved)."""
    await _run(conn, st.UNITS_RELEASE, key, quantity)


async def take(conn: AsyncConnection, key: dict[str, Any], quantity: int) -> None:
    """`quantity` reserved pieces leave the shelf (sold); free ones make up any shortfall, as the counter did."""
    got = await _run(conn, st.UNITS_TAKE, key, quantity)
    await _run(conn, st.UNITS_REMOVE_FREE, key, quantity - got)


async def set_on_hand(conn: AsyncConnection, key: dict[str, Any], on_hand: int) -> tuple[int, int]:
    """Adds or removes free pieces until the shelf holds `on_hand`; (on hand, reserved) before. `OutOfStock` when
    more than `on_hand` pieces are reserved (also when orders reserve them while this runs)."""
    before, reserved = await level(conn, key)
    if on_hand < reserved:
        raise OutOfStock(f"{reserved} pieces are reserved on this shelf; on hand cannot be {on_hand}")
    if on_hand > before:
        await add(conn, key, on_hand - before)
    elif on_hand < before:
        surplus = before - on_hand
        surplus -= await _run(conn, st.UNITS_REMOVE_FREE, key, surplus)
        surplus -= await _run(conn, st.UNITS_REMOVE_FREE_WAITING, key, surplus)
        if surplus > 0:
            now_reserved = (await level(conn, key))[1]
            raise OutOfStock(f"{now_reserved} pieces are reserved on this shelf; on hand cannot be {on_hand}")
    return before, reserved
