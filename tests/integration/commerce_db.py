"""Database fixtures of the commerce tests: a fresh SQLite file, or a fresh PostgreSQL database per test
(created on the server at SHOWROOM_TEST_POSTGRES_URL, default postgresql://127.0.0.1:5432/test, and dropped
afterwards); PostgreSQL tests skip with the reason when the server cannot be reached, and fail in CI
(`tests/conftest.py`, `service_unreachable`)."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from showroom.adapters import migrate
from showroom.adapters.bus import InProcessBus
from showroom.adapters.sql import SqlDatabase
from showroom.catalog import Catalog
from showroom.services import Commerce
from showroom.settings import CommerceSettings
from tests.commerce_fakes import SECRET, FakeCustomers, FakeGateway, FixedPrices, ManualClock, make_catalog
from tests.conftest import service_unreachable

PG_URL = os.environ.get("SHOWROOM_TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")


async def _pg_admin() -> object:
    import asyncpg

    try:
        return await asyncpg.connect(PG_URL, timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        service_unreachable("PostgreSQL", f"{PG_URL}: {exc}")  # skips here, fails in CI


async def database_url(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'commerce.db'}"
        return
    admin = await _pg_admin()
    name = "commerce_" + secrets.token_hex(6)
    await admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[attr-defined]
    base = PG_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
        await admin.close()  # type: ignore[attr-defined]


DB_KINDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)]


@dataclass
class CommerceParts:
    """The commerce use cases on a real, migrated database, with the fake gateway, clock and customers."""

    ctx: Commerce
    gw: FakeGateway
    clock: ManualClock
    db: SqlDatabase
    bus: InProcessBus
    url: str


@contextlib.asynccontextmanager
async def commerce_on(kind: str, tmp_path: Path, catalog: Catalog | None = None) -> AsyncIterator[CommerceParts]:
    """`kind` ("sqlite" or "postgres") migrated and wired into `Commerce`; closed and dropped afterwards."""
    gen = database_url(kind, tmp_path)
    url = await gen.__anext__()
    clock = ManualClock()
    db = SqlDatabase(url)
    await migrate.upgrade(db)
    settings = CommerceSettings(database_url=url, payment_webhook_secret=SECRET, public_base_url="http://node")
    gw = FakeGateway(clock)
    bus = InProcessBus()
    ctx = Commerce(catalog=catalog or make_catalog(), settings=settings, uow=db.uow, gateway=gw,
                   prices=FixedPrices(clock), bus=bus, clock=clock, customers=FakeCustomers())
    try:
        yield CommerceParts(ctx, gw, clock, db, bus, url)
    finally:
        await db.close()
        await bus.close()
        with contextlib.suppress(StopAsyncIteration):
            await gen.__anext__()
