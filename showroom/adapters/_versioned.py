"""Optimistic concurrency for rows with a `version` column: one place for the compare-and-set update."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Table
from sqlalchemy.ext.asyncio import AsyncConnection

from showroom.adapters._statements import update_versioned as versioned_statement
from showroom.ports import ConcurrentUpdate


async def update_versioned(conn: AsyncConnection, table: Table, key: Column[Any], key_value: Any, version: int,
                           values: dict[str, Any], what: str) -> int:
    """Writes `values` to the row whose `key` is `key_value` if its version is still `version`; returns the new
    version. ConcurrentUpdate (the caller's transaction retries) when another transaction changed it first."""
    res = await conn.execute(versioned_statement(table, key.name),
                             {"b_key": key_value, "b_version": version, **values, "version": version + 1})
    if res.rowcount != 1:
        raise ConcurrentUpdate(f"{what} was changed by someone else")
    return version + 1
