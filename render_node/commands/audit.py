"""`showroom audit verify [--json]` and `showroom audit list [--subject S] [--limit N] [--json]`: the hash-chained
audit trail, checked with the data folder's key against the head kept there.

`verify` exits 0 printing `audit ok: N entries` when every link holds, 1 naming the first entry that does not."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from render_node.commands._commerce_cli import add_database_flags, commerce, config_of
from render_node.errors import BadRequest


def register(sub: Any) -> None:
    audit = sub.add_parser("audit", help="the audit trail: verify the chain, list entries",
                           description="The hash-chained audit trail of staff actions and money movements.")
    acts = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    ver = acts.add_parser("verify", help="check every entry's link and the kept head (exit 1 naming the first bad)")
    ver.add_argument("--json", action="store_true")
    ver.set_defaults(func=run_verify)
    ls = acts.add_parser("list", help="list entries, newest first")
    ls.add_argument("--subject", help="only this subject, e.g. order:ord_... or staff:alice")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)
    for p in (ver, ls):
        add_database_flags(p)


def run_verify(args: argparse.Namespace) -> int:
    from showroom.adapters import secret_files
    from showroom.services.audit import verify_chain

    config = config_of(args)
    if not secret_files.has_secret(config.data_dir, secret_files.AUDIT_KEY_NAME):
        raise BadRequest(f"no audit key in {config.data_dir / 'secrets'}; give the node's --data-dir")

    async def go() -> dict[str, Any]:
        async with commerce(config) as (ctx, keeping):
            return (await verify_chain(ctx, keeping)).as_dict()

    result = asyncio.run(go())
    if args.json:
        print(json.dumps(result, indent=2))
    elif result["ok"]:
        print(f"audit ok: {result['entries']} entries")
    else:
        print(f"audit FAILED at entry {result['first_bad_seq']}: {result['problem']}")
    return 0 if result["ok"] else 1


def run_list(args: argparse.Namespace) -> int:
    from showroom.audit import entry_document
    from showroom.services.audit import list_entries

    if not 1 <= args.limit <= 10_000:
        raise BadRequest("--limit is 1-10000")

    async def go() -> tuple[list[dict[str, Any]], int]:
        async with commerce(config_of(args)) as (ctx, _):
            page = await list_entries(ctx, subject=args.subject, limit=args.limit)
            return [entry_document(e) for e in page.entries], page.total

    entries, total = asyncio.run(go())
    if args.json:
        print(json.dumps({"entries": entries, "total": total}, indent=2, ensure_ascii=False))
        return 0
    for e in entries:
        print(f"{e['seq']:>6} {e['at']} {e['actor']:<20} {e['role']:<16} {e['action']:<28} {e['subject']}")
    print(f"{len(entries)} of {total} entries")
    return 0
