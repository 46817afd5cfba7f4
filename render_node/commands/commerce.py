"""`showroom db upgrade` (apply the commerce schema migrations) and `showroom reconcile --date D` (compare our
payments and refunds of a day with the payment backend's settlement file)."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import date
from typing import Any

from render_node.config import load_config
from render_node.errors import BadRequest


def register(sub: Any) -> None:
    db = sub.add_parser("db", help="commerce database: schema migrations",
                        description="Commerce database maintenance (SQLite by default, PostgreSQL by URL).")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = db_sub.add_parser("upgrade", help="apply the Alembic migrations up to the newest (also done on start)")
    up.add_argument("--database-url", help="SQLAlchemy async URL (default: SHOWROOM_DATABASE_URL / the data dir)")
    up.add_argument("--data-dir", help="showroom data folder holding the default SQLite database")
    up.add_argument("--revision", default="head", help="target revision (default head)")
    up.set_defaults(func=run_upgrade)

    rec = sub.add_parser("reconcile", help="reconcile a day's payments and refunds with the settlement file",
                         description="Classifies mismatches between our records and the payment backend's "
                         "settlement file for one day (UTC): ours_only, theirs_only, amount, refund. "
                         "Exit code 0 when everything matches, 1 when there are mismatches.")
    rec.add_argument("--date", required=True, help="the day, YYYY-MM-DD")
    rec.add_argument("--database-url", help="SQLAlchemy async URL (default: SHOWROOM_DATABASE_URL)")
    rec.add_argument("--data-dir", help="showroom data folder holding the default SQLite database")
    rec.add_argument("--payment-backend-url", help="payment backend base URL (default: SHOWROOM_PAYMENT_BACKEND_URL)")
    rec.add_argument("--json", action="store_true", help="print the report as JSON")
    rec.set_defaults(func=run_reconcile)


def run_upgrade(args: argparse.Namespace) -> int:
    from showroom.adapters import migrate
    from showroom.adapters.sql import SqlDatabase

    config = load_config({"database_url": args.database_url, "data_dir": args.data_dir})

    async def go() -> str | None:
        db = SqlDatabase(config.commerce.database_url)
        try:
            await migrate.upgrade(db, args.revision)
            return await migrate.current_revision(db)
        finally:
            await db.close()

    revision = asyncio.run(go())
    print(f"commerce database at revision {revision}")
    return 0


def run_reconcile(args: argparse.Namespace) -> int:
    import aiohttp

    from showroom.bootstrap import start_commerce
    from showroom.catalog import load_catalog
    from showroom.services.reconciliation import reconcile

    try:
        day = date.fromisoformat(args.date)
    except ValueError:
        raise BadRequest(f"--date must be YYYY-MM-DD, got {args.date!r}") from None
    config = load_config({"database_url": args.database_url, "data_dir": args.data_dir,
                          "payment_backend_url": args.payment_backend_url})
    if not config.commerce.payment_backend_url:
        raise BadRequest("reconcile needs the payment backend: --payment-backend-url or SHOWROOM_PAYMENT_BACKEND_URL")
    catalog = load_catalog((config.assets_dir / "catalog.toml").read_text(encoding="utf-8"))

    async def go() -> dict[str, Any]:
        async with aiohttp.ClientSession() as session:
            runtime = await start_commerce(config.commerce, catalog, session=session, run_sweeper=False,
                                           recover_on_start=False)
            try:
                return (await reconcile(runtime.commerce, day)).as_dict()
            finally:
                await runtime.close()

    report = asyncio.run(go())
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(f"reconciliation {report['date']}: {report['matched']} matched, {len(report['mismatches'])} mismatched")
        if report["mismatches"]:
            print(f"{'kind':<12} {'payment':<28} {'refund':<28} {'order':<30} {'ours_fen':>10} {'theirs_fen':>10}")
            for m in report["mismatches"]:
                print(f"{m['kind']:<12} {m['payment_id']:<28} {m['refund_id'] or '-':<28} {m['order_id']:<30} "
                      f"{'-' if m['ours_fen'] is None else m['ours_fen']:>10} "
                      f"{'-' if m['theirs_fen'] is None else m['theirs_fen']:>10}")
    return 1 if report["mismatches"] else 0
