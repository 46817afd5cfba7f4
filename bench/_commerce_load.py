"""The checkout load of bench/commerce.py: the commerce service and the payment sandbox as their own processes (as
they run in production: `showroom serve --role commerce` and `--role payments`), and C customers in this process
doing what the kiosk and phone pages do: quote -> order -> follow the order on `/ws/orders/{id}` -> pay (QR) ->
the sandbox approves (its test control) -> its signed notification reaches the commerce service -> the socket says
"paid". A checkout's latency is from the quote request to that message.

The commerce process runs with per-client rate limits off (SHOWROOM_RATE_LIMITS=0: every customer here comes from
127.0.0.1) and a copy of the catalog whose stock covers the run; everything else is the shipped default.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench._machine import machine_cpu, postgres_cpu_s
from bench.node import free_port

ROOT = Path(__file__).resolve().parents[1]
PRODUCT, VARIANT = "bar-au9999-10g", "au9999-10g"


def _showroom() -> list[str]:
    exe = Path(sys.executable).with_name("showroom")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "render_node"]


def _bench_assets(into: Path, stock: int) -> Path:
    """A copy of assets/ whose catalog holds `stock` pieces of every variant (the rest linked, not copied)."""
    into.mkdir(parents=True, exist_ok=True)
    src = ROOT / "assets"
    for entry in src.iterdir():
        if entry.name != "catalog.toml":
            (into / entry.name).symlink_to(entry)
    text = (src / "catalog.toml").read_text(encoding="utf-8")
    (into / "catalog.toml").write_text(re.sub(r"(?m)^stock = \d+", f"stock = {stock}", text), encoding="utf-8")
    return into


@dataclass
class Process:
    name: str
    proc: subprocess.Popen[bytes]
    base: str
    log: Path

    def cpu_s(self) -> float:
        """User + system CPU seconds of the process so far (Linux /proc)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _wait_healthy(http: aiohttp.ClientSession, p: Process, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if p.proc.poll() is not None:
            raise RuntimeError(f"{p.name} exited ({p.proc.returncode}); see {p.log}:\n{p.log.read_text()[-2000:]}")
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with http.get(f"{p.base}/healthz") as r:
                if r.status == 200:
                    return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{p.name} did not answer /healthz in {timeout_s:.0f} s; see {p.log}")


@contextlib.asynccontextmanager
async def services(database_url: str, work: Path, stock: int) -> AsyncIterator[tuple[Process, Process]]:
    """The payment sandbox and the commerce service, started and healthy; stopped (SIGTERM) on exit."""
    secret = secrets.token_urlsafe(48)
    pay_port, shop_port = free_port(), free_port()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("SHOWROOM_")}
    started: list[Process] = []

    def start(name: str, args: list[str], env: dict[str, str], port: int) -> Process:
        log = work / f"{name}.log"
        cmd = _showroom()
        if name == "commerce" and os.environ.get("BENCH_CPROFILE"):
            cmd = [sys.executable, os.environ["BENCH_CPROFILE"]]
        proc = subprocess.Popen([*cmd, "serve", *args, "--port", str(port)], cwd=ROOT,
                                env={**base_env, **env}, stdout=log.open("wb"), stderr=subprocess.STDOUT)
        p = Process(name, proc, f"http://127.0.0.1:{port}", log)
        started.append(p)
        return p

    try:
        pay = start("payments", ["--role", "payments", "--data-dir", str(work / "pay")],
                    {"SHOWROOM_PAYMENT_WEBHOOK_SECRET": secret}, pay_port)
        shop = start("commerce", ["--role", "commerce", "--data-dir", str(work / "shop"),
                                  "--assets-dir", str(_bench_assets(work / "assets", stock))],
                     {"SHOWROOM_PAYMENT_WEBHOOK_SECRET": secret, "SHOWROOM_PAYMENT_BACKEND_URL": pay.base,
                      "SHOWROOM_DATABASE_URL": database_url, "SHOWROOM_RATE_LIMITS": "0",
                      "SHOWROOM_PUBLIC_URL": f"http://127.0.0.1:{shop_port}", "SHOWROOM_LOG_LEVEL": "WARNING"},
                     shop_port)
        async with aiohttp.ClientSession() as http:
            await _wait_healthy(http, pay)
            await _wait_healthy(http, shop)
        yield pay, shop
    finally:
        for p in started:
            if p.proc.poll() is None:
                p.proc.send_signal(signal.SIGTERM)
        for p in started:
            try:
                p.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.proc.kill()


class CheckoutFailed(Exception):
    pass


async def _json(r: aiohttp.ClientResponse, want: int) -> dict[str, Any]:
    body = await r.json(content_type=None)
    if r.status != want:
        raise CheckoutFailed(f"{r.method} {r.url.path}: {r.status} {body}")
    return dict(body)


async def checkout(http: aiohttp.ClientSession, shop: str, pay: str, i: int, tag: str) -> None:
    """One customer's checkout, as the pages do it."""
    async with http.post(f"{shop}/api/quotes", json={"product": PRODUCT, "variant": VARIANT}) as r:
        quote = await _json(r, 201)
    body = {"quote_id": quote["id"], "customer": {"phone": f"13{i:09d}"}, "channel": "bench"}
    async with http.post(f"{shop}/api/orders", json=body, headers={"Idempotency-Key": f"{tag}o{i}"}) as r:
        order = await _json(r, 201)
    ws_url = f"{shop}/ws/orders/{order['id']}?token={order['order_token']}"
    async with http.ws_connect(ws_url) as ws:
        await ws.receive_json(timeout=30)  # its state now (reserved)
        async with http.post(f"{shop}/api/orders/{order['id']}/payments", json={"method": "qr"},
                             headers={"Idempotency-Key": f"{tag}p{i}"}) as r:
            payment = await _json(r, 201)
        async with http.post(f"{pay}/payments/{payment['payment_id']}/complete", json={"outcome": "approved"}) as r:
            await _json(r, 200)
        while True:
            msg = await ws.receive_json(timeout=60)
            if msg.get("status") == "paid":
                return
            if msg.get("status") in ("expired", "cancelled", "failed"):
                raise CheckoutFailed(f"order {order['id']} ended {msg.get('status')}")


def _profile(p: Process) -> subprocess.Popen[bytes] | None:
    """py-spy sampling the commerce process while the load runs (`--profile`): folded stacks beside its log (flamegraph.pl, speedscope)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("py-spy is not installed (pip install py-spy): no profile", file=sys.stderr)
        return None
    out = p.log.with_suffix(".folded")
    print(f"profiling {p.name} into {out}", file=sys.stderr)
    return subprocess.Popen([spy, "record", "--pid", str(p.proc.pid), "--output", str(out), "--rate", "200", "--format", "raw",
                             "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def load(shop: Process, pay: Process, checkouts: int, concurrency: int, *,
               profile: bool = False, postgres: bool = False) -> dict[str, Any]:
    """`checkouts` checkouts by `concurrency` customers at once; orders/s, latency, CPU per checkout (each process;
    with `postgres`, this machine's PostgreSQL server too) and how busy the machine's cores were."""
    tag = secrets.token_hex(3)
    latencies: list[float] = []
    errors: list[str] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(checkouts):
        queue.put_nowait(i)

    async def customer(http: aiohttp.ClientSession) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            t0 = time.perf_counter()
            try:
                await checkout(http, shop.base, pay.base, i, tag)
            except (TimeoutError, CheckoutFailed, aiohttp.ClientError) as exc:
                errors.append(str(exc)[:300])
                continue
            latencies.append(time.perf_counter() - t0)

    spy = _profile(shop) if profile else None
    cpu0 = {p.name: p.cpu_s() for p in (shop, pay)}
    self0 = time.process_time()
    pg0, machine0 = (postgres_cpu_s() if postgres else None), machine_cpu()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency * 4)) as http:
        t_start = time.perf_counter()
        await asyncio.gather(*(customer(http) for _ in range(concurrency)))
        wall = time.perf_counter() - t_start
    cpu = {p.name: p.cpu_s() - cpu0[p.name] for p in (shop, pay)}
    cpu["customers"] = time.process_time() - self0
    pg1, machine1 = (postgres_cpu_s() if postgres else None), machine_cpu()
    if pg0 is not None and pg1 is not None:
        cpu["postgresql"] = pg1 - pg0
    busy, total = machine1[0] - machine0[0], machine1[1] - machine0[1]
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
    ms = sorted(x * 1000 for x in latencies)
    paid = len(ms)
    return {"checkouts": checkouts, "paid": paid, "failed": len(errors), "errors": errors[:5],
            "orders_per_s": paid / wall if wall else 0.0,
            "p50_ms": statistics.median(ms) if ms else float("nan"),
            "p99_ms": ms[min(paid - 1, int(paid * 0.99))] if ms else float("nan"), "latencies_ms": ms,
            "cpu_ms_per_checkout": {k: 1000 * v / max(paid, 1) for k, v in cpu.items()},
            "machine_busy": busy / total if total else 0.0}


async def checkout_run(database_url: str, checkouts: int, concurrency: int, work: Path, *,
                       profile: Path | None = None) -> dict[str, Any]:
    """Starts the services on `database_url`, warms them (one checkout per customer), then measures; with
    `profile`, py-spy samples the commerce process during the measured run and its folded stacks go there."""
    work.mkdir(parents=True, exist_ok=True)
    try:
        async with services(database_url, work, stock=checkouts * 2 + concurrency * 4 + 100) as (pay, shop):
            warm = await load(shop, pay, concurrency, concurrency)
            if warm["failed"]:
                raise RuntimeError(f"warm-up checkouts failed: {warm['errors']}")
            result = await load(shop, pay, checkouts, concurrency, profile=profile is not None,
                                postgres=database_url.startswith("postgresql"))
        if profile is not None and (work / "commerce.folded").exists():
            shutil.copyfile(work / "commerce.folded", profile)
        return result
    finally:
        shutil.rmtree(work / "assets", ignore_errors=True)
