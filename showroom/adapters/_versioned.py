"""Optimistic concurrency for rows with a `version` column: one place for the compare-and-set update."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Table, and_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from showroom.ports import ConcurrentUpdate


async def update_versioned(conn: AsyncConnection, table: Table, key: Column[Any], key_value: Any, version: int,
                           values: dict[str, Any], what: str) -> int:
    """Writes `values` to the row whose `key` is `key_value` if its version is still `version`; returns the new
    version. ConcurrentUpdate (the caller's transaction retries) when another transaction changed it first."""
    res = await conn.execute(update(table).where(and_(key == key_value, table.c.version == version))
                             .values(version=version + 1, **values))
    if res.rowcount != 1:
        raise ConcurrentUpdate(f"{what} was changed by someone else")
    return version + 1
