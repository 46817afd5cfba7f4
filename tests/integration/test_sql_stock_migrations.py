"""Revision 0011 on a database with data (SQLite and PostgreSQL): each shelf's counted pieces become rows (the
reserved ones reserved), orders holding discount lines are marked, and the downgrade gives the counters back."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection

from showroom.adapters import migrate
from showroom.adapters.sql import SqlDatabase
from tests.integration.commerce_db import DB_KINDS, database_url

pytestmark = pytest.mark.asyncio
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@contextlib.asynccontextmanager
async def _db(kind: str, tmp_path: Path) -> AsyncIterator[SqlDatabase]:
    gen = database_url(kind, tmp_path)
    db = SqlDatabase(await gen.__anext__())
    try:
        yield db
    finally:
        await db.close()
        with contextlib.suppress(StopAsyncIteration):
            await gen.__anext__()


async def _downgrade(db: SqlDatabase, revision: str) -> None:
    def run(connection: Connection) -> None:
        cfg = migrate.alembic_config()
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(run)


ORDER = text(
    "INSERT INTO orders (id, quote_id, product_id, variant_id, quantity, branch_id, amount_fen, currency, status, "
    "customer, customer_key, channel, created_at, updated_at, expires_at, paid_fen, refunded_fen, aml_review, "
    "version) VALUES (:id, :id, 'bar-50g', 'au9999-10g', 1, 'online', 100, 'CNY', 'pending_payment', '{}', 'c', "
    "'web', :now, :now, :later, 0, 0, false, 0)")
DISCOUNTS = text("INSERT INTO order_discounts (order_id, customer_id, lines, points_earned, points_returned, "
                 "earned_reversed, coupon_returned) VALUES (:id, 'c', :lines, :earned, 0, 0, false)")


@pytest.mark.parametrize("kind", DB_KINDS)
async def test_0011_turns_counted_shelves_into_pieces_and_marks_orders_with_discounts(kind: str,
                                                                                       tmp_path: Path) -> None:
    async with _db(kind, tmp_path) as db:
        await migrate.upgrade(db, "0010")
        async with db.engine.begin() as conn:
            for shelf, on_hand, reserved in (("au9999-10g", 5, 2), ("au9999-50g", 3, 0), ("pt950-12", 0, 0)):
                await conn.execute(text("INSERT INTO stock (branch_id, product_id, variant_id, on_hand, reserved) "
                                        "VALUES ('online', 'bar-50g', :v, :on_hand, :reserved)"),
                                   {"v": shelf, "on_hand": on_hand, "reserved": reserved})
            for oid in ("ord_lines", "ord_points_only", "ord_plain"):
                await conn.execute(ORDER, {"id": oid, "now": NOW, "later": NOW + timedelta(minutes=15)})
            await conn.execute(DISCOUNTS, {"id": "ord_lines", "lines": '[{"kind": "points", "points": 5}]',
                                           "earned": 0})
            await conn.execute(DISCOUNTS, {"id": "ord_points_only", "lines": "[]", "earned": 9})

        await migrate.upgrade(db)
        assert await migrate.current_revision(db) == "0011"
        async with db.uow() as uow:
            assert await uow.stock_level("online", "bar-50g", "au9999-10g") == (5, 2)
            assert await uow.stock_level("online", "bar-50g", "au9999-50g") == (3, 0)
            assert sorted(await uow.stock_levels()) == [("online", "bar-50g", "au9999-10g", 5, 2),
                                                        ("online", "bar-50g", "au9999-50g", 3, 0),
                                                        ("online", "bar-50g", "pt950-12", 0, 0)]
            flags = {oid: (await uow.get_order(oid)).has_discounts
                     for oid in ("ord_lines", "ord_points_only", "ord_plain")}
            assert flags == {"ord_lines": True, "ord_points_only": False, "ord_plain": False}
            # the migrated pieces work as pieces: the three free ones are reserved, one goes back
            await uow.reserve_stock("online", "bar-50g", "au9999-10g", 3, 0)
            await uow.release_stock("online", "bar-50g", "au9999-10g", 1)
            await uow.commit()

        await _downgrade(db, "0010")
        async with db.engine.connect() as conn:
            rows = (await conn.execute(text("SELECT variant_id, on_hand, reserved FROM stock ORDER BY variant_id")))
            assert [tuple(r) for r in rows] == [("au9999-10g", 5, 4), ("au9999-50g", 3, 0), ("pt950-12", 0, 0)]
