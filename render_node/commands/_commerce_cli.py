"""What the commerce maintenance commands (`showroom staff ...`, `showroom audit ...`) share: the settings from
`--data-dir`/`--database-url`, and the use cases' `Commerce` over the migrated database with the data folder's
audit key (no payment backend, no price feed: these commands move no money)."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from render_node.config import Config, load_config
from showroom.audit import Actor
from showroom.services.audit import AuditKeeping


def add_database_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--database-url", help="SQLAlchemy async URL (default: SHOWROOM_DATABASE_URL / the data dir)")
    p.add_argument("--data-dir", help="showroom data folder (the default SQLite database, the audit key and head)")


def config_of(args: argparse.Namespace) -> Config:
    return load_config({"database_url": args.database_url, "data_dir": args.data_dir})


def operator() -> Actor:
    """The person at the console, as the audit trail names them: `cli:<login name>`."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Actor(f"cli:{who}"[:64], "operator")


class _NoPrices:
    async def snapshot(self) -> Any:
        from showroom.pricing import PriceUnavailable

        raise PriceUnavailable("maintenance commands quote no prices")


@asynccontextmanager
async def commerce(config: Config) -> AsyncIterator[tuple[Any, AuditKeeping]]:
    """`(Commerce, AuditKeeping)` over the migrated database; closed on exit."""
    from showroom.adapters import migrate
    from showroom.adapters.bus import InProcessBus
    from showroom.adapters.clock import SystemClock
    from showroom.bootstrap import UnconfiguredGateway, audited_database
    from showroom.catalog import Catalog
    from showroom.services import Commerce

    db, keeping = audited_database(config.commerce)
    bus = InProcessBus()
    try:
        await migrate.upgrade(db)
        ctx = Commerce(catalog=Catalog(()), settings=config.commerce, uow=db.uow, gateway=UnconfiguredGateway(),
                       prices=_NoPrices(), bus=bus, clock=SystemClock())
        yield ctx, keeping
    finally:
        await bus.close()
        await db.close()
