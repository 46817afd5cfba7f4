"""SQLAlchemy's aiosqlite driver with the statements run in line, on the event loop's thread.

aiosqlite runs every call on the connection's own thread, and a statement's result comes back through its queue,
a thread wake-up and a wake-up of the event loop. SQLite answers the checkout's statements in 10-50 us each, so the
hop was most of a statement's cost - and worse, under load every hop waited for a turn of a busy event loop while
the transaction held this process's SQLite write lock (`SqlDatabase`): the lock was held about 90 % of the time
and every other checkout queued behind it (docs/commerce.md, "Fifth pass"). Here a statement (cursor, execute,
fetch, close), a commit and a rollback run directly on the sqlite3 connection: a transaction runs without giving
the loop away, so the lock is held only for its own work. Opening and closing a connection still go through
aiosqlite's thread. The same SQL, parameters, rows, errors (mapped by the adapter as before) and transactions.

Waiting never blocks the loop: the connection's own busy timeout is 0, and a statement that finds the database
locked by another connection (another process: the `showroom` CLI, a migration) is tried again after an
`asyncio.sleep`, backing off up to `BUSY_WAIT_S` in all, then fails with SQLite's own "database is locked" error.
Only the plain SQLITE_BUSY is retried: SQLite left nothing of the statement behind, and trying again is what its
busy handler would have done; a stale snapshot (SQLITE_BUSY_SNAPSHOT) fails at once, as before.

The sqlite3 connection is opened on aiosqlite's thread and used from the loop's, so it is opened with
`check_same_thread=False` (`SqlDatabase`); the two never use it at once (each call is awaited). It uses
aiosqlite's `_conn` (the sqlite3 connection): private API of aiosqlite (pinned at 0.21.0), which every SQLite test
exercises. A long query blocks the loop for its duration: SQLite is the single-branch and demo database;
PostgreSQL is the one for a bank's production (docs/deploy.md).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)

BUSY_WAIT_S = 30.0
"""How long a statement waits, in all, for another connection's write lock before failing."""
_BACKOFF_S = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)

_Run = tuple[Any, list[Any] | None, Any, int]


def _run_one(conn: sqlite3.Connection, operation: str, parameters: Any) -> _Run:
    """(description, rows or None, lastrowid, rowcount) of one statement."""
    cur = conn.cursor()
    try:
        cur.execute(operation, () if parameters is None else parameters)
        if cur.description:
            return cur.description, cur.fetchall(), -1, -1
        return None, None, cur.lastrowid, cur.rowcount
    finally:
        cur.close()


def _run_many(conn: sqlite3.Connection, operation: str, seq_of_parameters: Any) -> _Run:
    cur = conn.cursor()
    try:
        cur.executemany(operation, seq_of_parameters)
        return None, None, cur.lastrowid, cur.rowcount
    finally:
        cur.close()


def _busy(error: Exception) -> bool:
    return isinstance(error, sqlite3.OperationalError) and getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY


async def _in_line(fn: Any, *args: Any) -> Any:
    """`fn(*args)` now, on the loop's thread, trying again (after an asyncio sleep) while the database is busy.

    A coroutine so that SQLAlchemy's async layer sees the await it requires; it gives the loop away only to wait."""
    try:
        return fn(*args)
    except sqlite3.OperationalError as error:
        if not _busy(error):
            raise
    deadline = time.monotonic() + BUSY_WAIT_S
    attempt = 0
    while True:
        await asyncio.sleep(_BACKOFF_S[min(attempt, len(_BACKOFF_S) - 1)])
        attempt += 1
        try:
            return fn(*args)
        except sqlite3.OperationalError as error:
            if not _busy(error) or time.monotonic() >= deadline:
                raise


class InlineCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def _apply(self, fn: Any, operation: str, parameters: Any) -> None:
        try:
            description, rows, lastrowid, rowcount = self.await_(
                _in_line(fn, self._connection._conn, operation, parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
            return
        self.description = description
        self.lastrowid, self.rowcount = lastrowid, rowcount
        self._rows.clear()
        if rows is not None:
            self._rows.extend(rows)

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        self._apply(_run_one, operation, parameters)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        self._apply(_run_many, operation, seq_of_parameters)


class InlineConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        return super().cursor(server_side) if server_side else InlineCursor(self)

    def commit(self) -> None:
        try:
            self.await_(_in_line(self._connection._conn.commit))
        except Exception as error:
            self._handle_exception(error)

    def rollback(self) -> None:
        try:
            self.await_(_in_line(self._connection._conn.rollback))
        except Exception as error:
            self._handle_exception(error)


class InlineDbapi(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module the engine gets (`create_async_engine(url, module=inline_dbapi())`)."""

    def connect(self, *arg: Any, **kw: Any) -> Any:
        adapted = super().connect(*arg, **kw)
        if type(adapted) is AsyncAdapt_aiosqlite_connection:
            return InlineConnection(self, adapted._connection)
        return adapted  # the fallback (sync) connection is left as it is


CONNECT_ARGS = {"timeout": 0, "check_same_thread": False}
"""What `sqlite3.connect` needs for this driver: no busy wait inside SQLite (it would block the loop; `_in_line`
waits instead), and use from the loop's thread."""


def inline_dbapi() -> InlineDbapi:
    import aiosqlite

    return InlineDbapi(aiosqlite, sqlite3)
