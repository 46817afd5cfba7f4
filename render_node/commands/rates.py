"""`showroom rates list|set`: the bank's loan rate table (rates and fees of car loans by product or kind, term and
validity dates). Customers choose only the term and the down payment; the rate that applies on the day comes
from this table (docs/commerce.md, "Loan rates")."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from render_node.config import load_config
from render_node.errors import BadRequest
from showroom.catalog import ProductKind
from showroom.finance import LoanRate


def register(sub: Any) -> None:
    rates = sub.add_parser("rates", help="the bank's loan rate table (car loans)",
                           description="Lists or adds rows of the loan rate table. A row is never edited: a new "
                           "decision is a new row; on a day the row for the product itself wins over its kind's, "
                           "and among those the one valid from the latest day.")
    rsub = rates.add_subparsers(dest="rates_command", metavar="ACTION", required=True)
    ls = rsub.add_parser("list", help="print the table (every row, or one product's or kind's)")
    ls.add_argument("applies_to", nargs="?", metavar="PRODUCT_OR_KIND", help="a product id or a kind (e.g. car)")
    ls.add_argument("--json", action="store_true", help="print the rows as JSON")
    _db_args(ls)
    ls.set_defaults(func=run_list)

    st = rsub.add_parser("set", help="add a row: the rate (and fees) of loans over N months from a day")
    st.add_argument("applies_to", metavar="PRODUCT_OR_KIND", help="a catalog product id or a product kind (car)")
    st.add_argument("--term-months", type=int, required=True, help="the loan term this rate is for (12-60)")
    st.add_argument("--annual-rate", required=True, help="nominal annual rate as a fraction, e.g. 0.0399")
    st.add_argument("--valid-from", required=True, help="first day it applies, YYYY-MM-DD")
    st.add_argument("--valid-to", help="last day it applies, YYYY-MM-DD (default: until replaced)")
    st.add_argument("--upfront-fee-cny", default="0", help="fee paid when the loan starts (default 0)")
    st.add_argument("--monthly-fee-cny", default="0", help="fee added to every installment (default 0)")
    _db_args(st)
    st.set_defaults(func=run_set)


def _db_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--database-url", help="SQLAlchemy async URL (default: SHOWROOM_DATABASE_URL / the data dir)")
    p.add_argument("--data-dir", help="showroom data folder holding the default SQLite database")


def _day(name: str, raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} must be YYYY-MM-DD, got {raw!r}") from None


def _decimal(name: str, raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise BadRequest(f"{name} must be a decimal number, got {raw!r}") from None
    if not value.is_finite():
        raise BadRequest(f"{name} must be a finite number")
    return value


def _known_targets(config: Any) -> set[str]:
    from showroom.catalog import load_catalog

    kinds = {k.value for k in ProductKind}
    path = config.assets_dir / "catalog.toml"
    if not path.exists():
        return kinds
    return kinds | {p.id for p in load_catalog(path.read_text(encoding="utf-8")).products}


async def _with_db(config: Any, work: Any) -> Any:
    from showroom.adapters import migrate
    from showroom.adapters.sql import SqlDatabase

    db = SqlDatabase(config.commerce.database_url)
    try:
        await migrate.upgrade(db)
        async with db.uow() as uow:
            result = await work(uow)
            await uow.commit()
        return result
    finally:
        await db.close()


def _row(r: LoanRate) -> dict[str, Any]:
    return {"applies_to": r.applies_to, "term_months": r.term_months, "annual_rate": str(r.annual_rate),
            "valid_from": r.valid_from.isoformat(), "valid_to": None if r.valid_to is None else r.valid_to.isoformat(),
            "upfront_fee_cny": str(r.upfront_fee_cny), "monthly_fee_cny": str(r.monthly_fee_cny),
            "set_by": r.set_by, "set_at": None if r.set_at is None else r.set_at.isoformat()}


def run_list(args: argparse.Namespace) -> int:
    config = load_config({"database_url": args.database_url, "data_dir": args.data_dir})

    async def work(uow: Any) -> list[LoanRate]:
        rows: list[LoanRate] = await uow.loan_rates(args.applies_to)
        return rows

    rows = asyncio.run(_with_db(config, work))
    if args.json:
        print(json.dumps([_row(r) for r in rows], indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print("no loan rates: plans use the configured default rate")
        return 0
    print(f"{'applies_to':<24} {'term':>4} {'annual_rate':>11} {'valid_from':<10} {'valid_to':<10} "
          f"{'upfront':>9} {'monthly':>8} set_by")
    for r in rows:
        print(f"{r.applies_to:<24} {r.term_months:>4} {r.annual_rate!s:>11} {r.valid_from.isoformat():<10} "
              f"{'-' if r.valid_to is None else r.valid_to.isoformat():<10} {r.upfront_fee_cny!s:>9} "
              f"{r.monthly_fee_cny!s:>8} {r.set_by}")
    return 0


def run_set(args: argparse.Namespace) -> int:
    config = load_config({"database_url": args.database_url, "data_dir": args.data_dir})
    if args.applies_to not in _known_targets(config):
        raise BadRequest(f"{args.applies_to!r} is neither a catalog product id nor a product kind")
    rate = LoanRate(applies_to=args.applies_to, term_months=args.term_months,
                    annual_rate=_decimal("--annual-rate", args.annual_rate),
                    valid_from=_day("--valid-from", args.valid_from),
                    valid_to=None if args.valid_to is None else _day("--valid-to", args.valid_to),
                    upfront_fee_cny=_decimal("--upfront-fee-cny", args.upfront_fee_cny),
                    monthly_fee_cny=_decimal("--monthly-fee-cny", args.monthly_fee_cny),
                    set_by=f"cli:{getpass.getuser()}"[:64], set_at=datetime.now(UTC))

    async def work(uow: Any) -> None:
        await uow.add_loan_rate(rate)

    asyncio.run(_with_db(config, work))
    print(f"loan rate added: {rate.applies_to} {rate.term_months} months at {rate.annual_rate} "
          f"from {rate.valid_from.isoformat()}" + ("" if rate.valid_to is None else f" to {rate.valid_to.isoformat()}"))
    return 0
