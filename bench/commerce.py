"""Commerce benchmark: one run, two tables, one plot, the machine named.

1. Checkout end to end over real HTTP on loopback - quote -> order (Idempotency-Key) -> payment -> the payment
   sandbox approves (test control) -> signed notification -> order paid - with C concurrent customers, on
   SQLite (the default) and on PostgreSQL side by side: orders/s and p50/p99 latency of the whole checkout.
2. A notification-fault run: orders with 1-3 payments each, every genuine notification delivered, plus N injected
   faults (duplicates, reordering, late delivery after expiry, forged and stale signatures, amount/order/currency
   mismatches) delivered concurrently; reports double-paid, lost and wrong-state orders (each must be 0).

Usage: .venv/bin/python bench/commerce.py [--checkouts 200] [--concurrency 8] [--faults 10000]
       [--postgres postgresql://127.0.0.1:5432/test] [--out bench/results]
Writes <out>/commerce.md and commerce.png.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from aiohttp.test_utils import TestServer  # noqa: E402

from showroom import api  # noqa: E402
from showroom.adapters.clock import SystemClock  # noqa: E402
from showroom.settings import CommerceSettings  # noqa: E402
from tests.commerce_fakes import SECRET, FixedPrices, make_catalog  # noqa: E402
from tests.commerce_faults import as_row, run_faults  # noqa: E402


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{platform.node()}: {os.cpu_count()} CPU cores ({cpu}), Python {platform.python_version()}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


async def checkout_run(url: str, checkouts: int, concurrency: int) -> dict[str, Any]:
    from showroom.payment_sandbox import SandboxSettings
    from showroom.payment_sandbox.app import create_sandbox_app

    sandbox = TestServer(create_sandbox_app(SandboxSettings(webhook_secret=SECRET,
                                                            notify_retry_schedule_s=(0.05, 0.1, 0.2, 0.4, 0.8))),
                         host="127.0.0.1")
    await sandbox.start_server()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    settings = CommerceSettings(database_url=url, payment_webhook_secret=SECRET, public_base_url=base)
    app = web.Application()
    clock = SystemClock()
    api.setup(app, settings, make_catalog(bar_stock=checkouts + 10), clock=clock,
              payment_backend_url=str(sandbox.make_url("")).rstrip("/"), prices=FixedPrices(clock),  # type: ignore[arg-type]
              run_sweeper=False)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    pay = str(sandbox.make_url("")).rstrip("/")
    latencies: list[float] = []
    failures = 0
    sem = asyncio.Semaphore(concurrency)

    async def one(http: aiohttp.ClientSession, i: int) -> None:
        nonlocal failures
        async with sem:
            t0 = time.perf_counter()
            async with http.post(f"{base}/api/quotes", json={"product": "bar-50g", "variant": "au9999-10g"}) as r:
                quote = await r.json()
            body = {"quote_id": quote["id"], "customer": {"phone": f"13{i:09d}"}, "channel": "bench"}
            async with http.post(f"{base}/api/orders", json=body, headers={"Idempotency-Key": f"o{i}"}) as r:
                order = await r.json()
            async with http.post(f"{base}/api/orders/{order['id']}/payments", json={"method": "qr"},
                                 headers={"Idempotency-Key": f"p{i}"}) as r:
                payment = await r.json()
            async with http.post(f"{pay}/payments/{payment['payment_id']}/complete", json={"outcome": "approved"}) as r:
                await r.read()
            for _ in range(2000):
                async with http.get(f"{base}/api/orders/{order['id']}") as r:
                    if (await r.json())["status"] == "paid":
                        latencies.append(time.perf_counter() - t0)
                        return
                await asyncio.sleep(0.005)
            failures += 1

    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http:
            t_start = time.perf_counter()
            await asyncio.gather(*(one(http, i) for i in range(checkouts)))
            wall = time.perf_counter() - t_start
    finally:
        await server.close()
        await sandbox.close()
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    return {"checkouts": checkouts, "paid": len(latencies), "failed": failures, "orders_per_s": len(latencies) / wall,
            "p50_ms": statistics.median(ms) if ms else float("nan"),
            "p99_ms": ms[min(len(ms) - 1, int(len(ms) * 0.99))] if ms else float("nan"), "latencies_ms": ms}


async def main_async(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict[str, Any]] = {}
    faults: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        rows["SQLite"] = await checkout_run(f"sqlite+aiosqlite:///{tmp}/bench.db", args.checkouts, args.concurrency)
        fault_orders = max(50, args.faults // 15)
        faults["SQLite"] = as_row(await run_faults(f"sqlite+aiosqlite:///{tmp}/faults.db", orders=fault_orders,
                                                   faults=args.faults, seed=args.seed))
    if args.postgres:
        for label in ("checkout", "faults"):
            pg = await _pg_database(args.postgres)
            if pg is None:
                break
            try:
                if label == "checkout":
                    rows["PostgreSQL"] = await checkout_run(pg[0], args.checkouts, args.concurrency)
                else:
                    faults["PostgreSQL"] = as_row(await run_faults(pg[0], orders=max(50, args.faults // 15),
                                                                   faults=args.faults, seed=args.seed))
            finally:
                await _drop(pg[1])
    lines = [f"# Commerce benchmark\n\nMachine: {machine()}\n",
             f"## Checkout end to end (quote -> order -> sandbox pay -> signed notice -> paid), "
             f"{args.checkouts} checkouts, {args.concurrency} concurrent\n",
             "| database | paid | failed | orders/s | p50 ms | p99 ms |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['paid']} | {r['failed']} | {r['orders_per_s']:.1f} | {r['p50_ms']:.0f} | "
                     f"{r['p99_ms']:.0f} |")
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
    p.add_argument("--checkouts", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--faults", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--postgres", default=os.environ.get("SHOWROOM_TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test"),
                   help="admin URL of a PostgreSQL server ('' to skip)")
    p.add_argument("--out", default=str(ROOT / "bench" / "results"))
    return asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
