"""Applies the Alembic migrations of `showroom/adapters/migrations` to a database (`showroom db upgrade`, and
on every start of the commerce service)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from showroom.adapters.sql import SqlDatabase

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _upgrade(connection: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


async def upgrade(db: SqlDatabase, revision: str = "head") -> None:
    """Brings the schema to `revision` inside one transaction (PostgreSQL) or connection (SQLite)."""
    if db.is_sqlite and db.url.startswith("sqlite+aiosqlite:///") and not db.url.endswith(":memory:"):
        path = Path(db.url.removeprefix("sqlite+aiosqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
    async with db.engine.begin() as conn:
        await conn.run_sync(_upgrade, revision)


async def current_revision(db: SqlDatabase) -> str | None:
    from alembic.runtime.migration import MigrationContext

    def read(connection: Connection) -> str | None:
        rev: str | None = MigrationContext.configure(connection).get_current_revision()
        return rev

    async with db.engine.connect() as conn:
        return await conn.run_sync(read)
