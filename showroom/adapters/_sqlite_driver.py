"""SQLAlchemy's aiosqlite driver with one thread hop per statement instead of three or four.

aiosqlite runs every call on the connection's own thread; SQLAlchemy's adapter (2.0) makes a cursor, executes,
fetches all rows and closes the cursor as four separate calls, each a round trip through aiosqlite's queue, a
thread wake-up and a wake-up of the event loop. The checkout's ~50 statements made ~180 such hops, about a quarter
of the commerce service's CPU on SQLite (docs/commerce.md, "Benchmark"). Here a statement is one function run on the
connection's thread: cursor, execute, fetch, close. Nothing else changes: the same SQL, parameters, rows, errors
(mapped by the adapter as before) and transactions.

It uses aiosqlite's `Connection._execute` (queue one function on the connection's thread) and `_conn` (the
sqlite3 connection): private API of aiosqlite (pinned at 0.21.0), which every SQLite test exercises.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)

_Run = tuple[Any, list[Any] | None, Any, int]


def _run_one(conn: sqlite3.Connection, operation: str, parameters: Any) -> _Run:
    """On the connection's thread: (description, rows or None, lastrowid, rowcount) of one statement."""
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


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def _apply(self, fn: Any, operation: str, parameters: Any) -> None:
        aio = self._connection
        try:
            description, rows, lastrowid, rowcount = self.await_(aio._execute(fn, aio._conn, operation, parameters))
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


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        return super().cursor(server_side) if server_side else OneHopCursor(self)


class OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module the engine gets (`create_async_engine(url, module=one_hop_dbapi())`)."""

    def connect(self, *arg: Any, **kw: Any) -> Any:
        adapted = super().connect(*arg, **kw)
        if type(adapted) is AsyncAdapt_aiosqlite_connection:
            return OneHopConnection(self, adapted._connection)
        return adapted  # the fallback (sync) connection is left as it is


def one_hop_dbapi() -> OneHopDbapi:
    import aiosqlite

    return OneHopDbapi(aiosqlite, sqlite3)
