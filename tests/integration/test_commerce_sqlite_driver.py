"""The SQLite driver of the commerce database (`showroom/adapters/_sqlite_driver.py`): statements, commits and
rollbacks in line on the loop's thread (no hop through aiosqlite's), with the same rows, row counts, errors and
transactions as SQLAlchemy's own aiosqlite adapter; a database locked by another process is waited for without
blocking the loop, and gives up with SQLite's own error."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from showroom.adapters import _sqlite_driver
from showroom.adapters.sql import SqlDatabase

pytestmark = pytest.mark.asyncio


async def test_statements_run_in_line_with_the_same_rows_counts_and_errors(tmp_path: Path,
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
            assert res.rowcount == 1 and hops == []
            res = await conn.execute(text("INSERT INTO t (name) VALUES (:n)"), [{"n": "b"}, {"n": "c"}])
            assert res.rowcount == 2
            hops.clear()
            rows = (await conn.execute(text("SELECT id, name FROM t ORDER BY id"))).all()
            assert [tuple(r) for r in rows] == [(1, "a"), (2, "b"), (3, "c")] and hops == []
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


async def _ticking(until: asyncio.Event) -> list[float]:
    """The loop's turns while a statement waits: gaps between ticks show whether it was blocked."""
    ticks = [time.monotonic()]
    while not until.is_set():
        await asyncio.sleep(0.005)
        ticks.append(time.monotonic())
    return ticks


async def test_a_database_locked_by_another_process_is_waited_for_without_blocking_the_loop(tmp_path: Path) -> None:
    db = SqlDatabase(f"sqlite+aiosqlite:///{tmp_path}/d.db")
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"))
        other = sqlite3.connect(tmp_path / "d.db", isolation_level=None)  # another process's connection
        other.execute("BEGIN IMMEDIATE")  # holds the write lock
        other.execute("INSERT INTO t (name) VALUES ('theirs')")
        done = asyncio.Event()
        ticker = asyncio.ensure_future(_ticking(done))

        async def ours() -> float:
            t0 = time.monotonic()
            async with db.engine.begin() as conn:
                await conn.execute(text("INSERT INTO t (name) VALUES ('ours')"))
            return time.monotonic() - t0

        write = asyncio.ensure_future(ours())
        await asyncio.sleep(0.3)
        assert not write.done()  # still waiting for the lock
        other.execute("COMMIT")
        waited = await asyncio.wait_for(write, 5)
        done.set()
        ticks = await ticker
        other.close()
        assert waited >= 0.3
        assert max(b - a for a, b in itertools.pairwise(ticks)) < 0.25  # the loop kept turning
        async with db.engine.connect() as conn:
            names = (await conn.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all()
        assert names == ["theirs", "ours"]
    finally:
        await db.close()


async def test_a_lock_held_too_long_fails_with_sqlites_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_sqlite_driver, "BUSY_WAIT_S", 0.3)
    db = SqlDatabase(f"sqlite+aiosqlite:///{tmp_path}/d.db")
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"))
        other = sqlite3.connect(tmp_path / "d.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            t0 = time.monotonic()
            with pytest.raises(OperationalError, match="database is locked"):
                async with db.engine.begin() as conn:
                    await conn.execute(text("INSERT INTO t (name) VALUES ('ours')"))
            assert 0.3 <= time.monotonic() - t0 < 5
        finally:
            other.execute("ROLLBACK")
            other.close()
        async with db.engine.begin() as conn:  # the connection is usable again once the lock is gone
            await conn.execute(text("INSERT INTO t (name) VALUES ('later')"))
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 1
    finally:
        await db.close()
