"""Database fixtures of the commerce tests: a fresh SQLite file, or a fresh PostgreSQL database per test
(created on the server at SHOWROOM_TEST_POSTGRES_URL, default postgresql://127.0.0.1:5432/test, and dropped
afterwards); PostgreSQL tests skip with the reason when the server cannot be reached, and fail in CI
(`tests/conftest.py`, `service_unreachable`)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

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
