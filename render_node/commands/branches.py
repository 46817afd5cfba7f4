"""`showroom branches load|list`: the bank's branches from `assets/branches.toml` (addresses, opening hours in
Asia/Shanghai time, slot capacities, shelves). `showroom serve` loads the file on every start, keeping shelves
staff counted; `load --reset-stock` sets every shelf of the file again (docs/commerce.md, "Branch pick-up")."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from pathlib import Path
from typing import Any

from render_node.commands._commerce_cli import add_database_flags, commerce, config_of
from render_node.errors import BadRequest


def register(sub: Any) -> None:
    branches = sub.add_parser("branches", help="the bank's branches (assets/branches.toml): load, list")
    bsub = branches.add_subparsers(dest="branches_command", metavar="ACTION", required=True)
    load = bsub.add_parser("load", help="load the branches file into the commerce database")
    load.add_argument("--file", help="the branches file (default: <assets dir>/branches.toml)")
    load.add_argument("--reset-stock", action="store_true",
                      help="set every shelf to the file's count (default: only shelves with no row yet)")
    add_database_flags(load)
    load.set_defaults(func=run_load)
    ls = bsub.add_parser("list", help="print the branches in the database")
    add_database_flags(ls)
    ls.set_defaults(func=run_list)


def run_load(args: argparse.Namespace) -> int:
    from showroom.branches import BranchesInvalid, load_branches
    from showroom.catalog import load_catalog
    from showroom.services import pickups

    config = config_of(args)
    path = Path(args.file).expanduser() if args.file else config.assets_dir / "branches.toml"
    if not path.is_file():
        raise BadRequest(f"no branches file at {path}")
    try:
        branches = load_branches(path.read_text(encoding="utf-8"))
    except BranchesInvalid as exc:
        raise BadRequest(exc.message) from None
    catalog = load_catalog((config.assets_dir / "catalog.toml").read_text(encoding="utf-8"))

    async def go() -> int:
        async with commerce(config) as (ctx, _keeping):
            done: int = await pickups.load_branches(dataclasses.replace(ctx, catalog=catalog), branches,
                                                    reset_stock=args.reset_stock)
            return done

    n = asyncio.run(go())
    print(f"{n} branches loaded from {path}" + (" (shelves reset to the file's counts)" if args.reset_stock else ""))
    return 0


def run_list(args: argparse.Namespace) -> int:
    from showroom.services import pickups

    async def go() -> list[Any]:
        async with commerce(config_of(args)) as (ctx, _keeping):
            return list(await pickups.list_branches(ctx))

    for b in asyncio.run(go()):
        print(f"{b.id:<22} {b.city.en:<9} {b.name.zh}  {b.address.zh}")
    return 0
