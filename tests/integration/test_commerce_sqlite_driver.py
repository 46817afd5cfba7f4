"""The SQLite driver of the commerce database (`showroom/adapters/_sqlite_driver.py`): one thread hop per
statement, with the same rows, row counts, errors and transactions as SQLAlchemy's own aiosqlite adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from showroom.adapters.sql import SqlDatabase

pytestmark = pytest.mark.asyncio


async def test_a_statement_is_one_hop_with_the_same_rows_counts_and_errors(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    db = SqlDatabase(f"sqlite+aiosqlite:///{tmp_path}/d.db")
    hops: list[Any] = []
    real = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(fn)
        return await real(self, fn, *args, **kwargs)

    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        async with db.engine.begin() as conn:
            hops.clear()
            res = await conn.execute(text("INSERT INTO t (name) VALUES (:n)"), {"n": "a"})
            assert res.rowcount == 1 and len(hops) == 1
            res = await conn.execute(text("INSERT INTO t (name) VALUES (:n)"), [{"n": "b"}, {"n": "c"}])
            assert res.rowcount == 2
            hops.clear()
            rows = (await conn.execute(text("SELECT id, name FROM t ORDER BY id"))).all()
            assert [tuple(r) for r in rows] == [(1, "a"), (2, "b"), (3, "c")] and len(hops) == 1
            res = await conn.execute(text("UPDATE t SET name = name || '!' WHERE id > :i"), {"i": 1})
            assert res.rowcount == 2
        with pytest.raises(IntegrityError):
            async with db.engine.begin() as conn:
                await conn.execute(text("INSERT INTO t (name) VALUES ('z')"))
                await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))  # unique: the transaction rolls back
        async with db.engine.connect() as conn:
            names = (await conn.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all()
        assert names == ["a", "b!", "c!"]  # the failed transaction left nothing
    finally:
        await db.close()
