"""Commerce benchmark: one run, two tables, one plot, the machine named.

1. Checkout end to end over real HTTP on loopback, the commerce service and the payment sandbox each its own
   process (bench/_commerce_load.py) - quote -> order (Idempotency-Key) -> follow it on /ws/orders -> payment ->
   the sandbox approves (test control) -> signed notification -> "paid" on the socket - with C concurrent
   customers, on SQLite (the default) and on PostgreSQL side by side: orders/s, p50/p99 latency of the whole
   checkout, and each process's CPU per checkout.
2. A notification-fault run: orders with 1-3 payments each, every genuine notification delivered, plus N injected
   faults (duplicates, reordering, late delivery after expiry, forged and stale signatures, amount/order/currency
   mismatches) delivered concurrently; reports double-paid, lost and wrong-state orders (each must be 0).

3. The limit: a bare asyncpg loop doing the same inserts and updates in the same transactions (bench/_pg_limit.py),
   and our share of it.

Usage: .venv/bin/python bench/commerce.py [--checkouts 600] [--concurrency 32] [--faults 10000]
       [--postgres postgresql://127.0.0.1:5432/test] [--out bench/results] [--profile]
Writes <out>/commerce.md and commerce.png (and, with --profile, the commerce process's py-spy samples as
<out>/commerce-sqlite.folded and commerce-postgresql.folded).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._commerce_load import checkout_run  # noqa: E402
from bench._machine import machine  # noqa: E402
from bench._pg_limit import limit_run  # noqa: E402
from showroom.adapters import migrate  # noqa: E402
from showroom.adapters.sql import POOL_SIZE, SqlDatabase  # noqa: E402
from tests.commerce_faults import as_row, run_faults  # noqa: E402


async def _pg_database(admin_url: str) -> tuple[str, Any] | None:
    try:
        import asyncpg

        admin = await asyncpg.connect(admin_url, timeout=3)
    except Exception as exc:
        print(f"PostgreSQL not reachable at {admin_url}: {exc}; skipping it", file=sys.stderr)
        return None
    name = "bench_commerce_" + secrets.token_hex(4)
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}", (admin, name)


async def _drop(handle: Any) -> None:
    admin, name = handle
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def main_async(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict[str, Any]] = {}
    faults: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        rows["SQLite"] = await checkout_run(f"sqlite+aiosqlite:///{tmp}/bench.db", args.checkouts, args.concurrency,
                                            Path(tmp) / "sqlite",
                                            profile=out / "commerce-sqlite.folded" if args.profile else None)
        fault_orders = max(50, args.faults // 15)
        faults["SQLite"] = as_row(await run_faults(f"sqlite+aiosqlite:///{tmp}/faults.db", orders=fault_orders,
                                                   faults=args.faults, seed=args.seed))
    limit: dict[str, Any] | None = None
    if args.postgres:
        for label in ("checkout", "limit", "faults"):
            pg = await _pg_database(args.postgres)
            if pg is None:
                break
            try:
                if label == "checkout":
                    with tempfile.TemporaryDirectory() as tmp:
                        rows["PostgreSQL"] = await checkout_run(pg[0], args.checkouts, args.concurrency,
                                                                Path(tmp) / "pg",
                                                                profile=out / "commerce-postgresql.folded"
                                                                if args.profile else None)
                elif label == "limit":
                    db = SqlDatabase(pg[0])
                    await migrate.upgrade(db)
                    await db.close()
                    limit = await limit_run(pg[0].replace("+asyncpg", ""), args.checkouts, args.concurrency,
                                            POOL_SIZE)
                else:
                    faults["PostgreSQL"] = as_row(await run_faults(pg[0], orders=max(50, args.faults // 15),
                                                                   faults=args.faults, seed=args.seed))
            finally:
                await _drop(pg[1])
    lines = [f"# Commerce benchmark\n\nMachine: {machine()}\n",
             f"## Checkout end to end (quote -> order -> sandbox pay -> signed notice -> paid), "
             f"{args.checkouts} checkouts, {args.concurrency} concurrent\n",
             "Processes: the commerce service and the payment sandbox (`showroom serve --role commerce|payments`), "
             "the customers in the bench process; CPU is each one's user+system time per paid checkout, and the "
             "PostgreSQL server's (all its processes on this machine) in the PostgreSQL run; busy is how much of "
             "the machine's cores were in use during the run (/proc/stat). The limit: a bare asyncpg loop doing "
             f"the same inserts and updates in the same transactions ({POOL_SIZE} connections, "
             "bench/_pg_limit.py).\n",
             "| run | paid | failed | orders/s | p50 ms | p99 ms | CPU ms/checkout: commerce | sandbox "
             "| customers | PostgreSQL server | machine busy | share of the limit |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in rows.items():
        cpu = r["cpu_ms_per_checkout"]
        share = f"{100 * r['orders_per_s'] / limit['orders_per_s']:.0f} %" if limit and name == "PostgreSQL" else ""
        server = f"{cpu['postgresql']:.1f}" if "postgresql" in cpu else ""
        lines.append(f"| {name} | {r['paid']} | {r['failed']} | {r['orders_per_s']:.1f} | {r['p50_ms']:.0f} | "
                     f"{r['p99_ms']:.0f} | {cpu['commerce']:.1f} | {cpu['payments']:.1f} | {cpu['customers']:.1f} "
                     f"| {server} | {100 * r['machine_busy']:.0f} % | {share} |")
    if limit:
        server = f"{limit['postgres_cpu_ms']:.1f}" if limit.get("postgres_cpu_ms") is not None else ""
        lines.append(f"| bare PostgreSQL (the limit) | {limit['paid']} | 0 | {limit['orders_per_s']:.1f} | "
                     f"{limit['p50_ms']:.0f} | {limit['p99_ms']:.0f} | | | {limit['client_cpu_ms']:.1f} | {server} "
                     f"| {100 * limit['machine_busy']:.0f} % | 100 % |")
    for name, r in rows.items():
        if r["errors"]:
            lines.append(f"\n{name} failures (first {len(r['errors'])}): " + "; ".join(r["errors"]))
    lines += ["", f"## Notification faults ({args.faults} injected, seed {args.seed})\n",
              "| database | orders | payments | deliveries | faults | auto refunds | double-paid | lost | wrong state |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, f in faults.items():
        lines.append(f"| {name} | {f['orders']} | {f['payments']} | {f['deliveries']} | {f['faults']} | "
                     f"{f['auto_refunds']} | {f['double_paid']} | {f['lost']} | {f['wrong_state']} |")
    text = "\n".join(lines) + "\n"
    (out / "commerce.md").write_text(text, encoding="utf-8")
    print(text)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for name, r in rows.items():
            ax.hist(r["latencies_ms"], bins=40, alpha=0.6, label=f"{name} (p50 {r['p50_ms']:.0f} ms)")
        ax.set_xlabel("checkout latency, ms (quote -> paid)")
        ax.set_ylabel("checkouts")
        ax.set_title("Commerce checkout end to end")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "commerce.png", dpi=110)
    except ImportError:
        pass
    bad = any(f["double_paid"] or f["lost"] or f["wrong_state"] for f in faults.values())
    return 1 if bad else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkouts", type=int, default=600)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--faults", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--postgres", default=os.environ.get("SHOWROOM_TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test"),
                   help="admin URL of a PostgreSQL server ('' to skip)")
    p.add_argument("--out", default=str(ROOT / "bench" / "results"))
    p.add_argument("--profile", action="store_true",
                   help="sample the commerce process with py-spy while it runs (<out>/commerce-<database>.folded)")
    try:  # the customers on uvloop too, as the services run: less of the shared CPU goes to the load itself
        import uvloop

        factory: Any = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main_async(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
