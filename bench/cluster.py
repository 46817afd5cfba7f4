"""Cluster benchmark: the whole `showroom cluster` topology (two edges, commerce on PostgreSQL, the payment sandbox,
Redis, nginx in front) under a bounded mixed load through nginx, with faults injected mid-run.

The load, all through nginx the way clients reach it (tests/e2e/test_cluster.py):
- kiosks walk a cached 360 view set (the manifest, then every frame in turn, at the smallest view size);
- VR-like sessions hold a `/ws/stream` open each (hello -> welcome -> a pose every 100 ms -> frames), each with its
  own cookie jar, so nginx keeps them sticky; a session whose stream ends reconnects, and the gap from its last
  frame before the break to its first frame after it is measured;
- checkouts at a steady rate: quote -> order (Idempotency-Key) -> payment (QR) -> the sandbox approves (its test
  control, on its own port as in the e2e test) -> the order is polled until `paid`. A step that fails on a network
  error or a 5xx is retried with the same Idempotency-Key until the checkout's deadline, as a page would.

The faults (`--faults edge,commerce`): `kill -9` of the edge holding the most live streams at 25 % of the run (it
stays dead: the rest of the run is on one edge), and `kill -9` of the commerce service at 60 %, restarted with the
very command and environment it ran with (read from /proc before the kill) and recorded in the cluster's state
file, so `cluster down` stops the new one. PostgreSQL and Redis are not restarted: they are the machine's shared
services (other test runs use them).

After the load every order that was placed is asked of commerce (GET /api/orders/{id}): paid, or still unpaid and
then cancelled by the bench (the client giving up), never lost (404) and never paid twice (more than one captured
payment, or paid more than its total).

Usage: .venv/bin/python bench/cluster.py [--minutes 2] [--kiosks 4] [--vr 2] [--checkouts-per-s 2]
       [--faults edge,commerce] [--postgres postgresql://127.0.0.1:5432/test] [--redis redis://127.0.0.1:6379/0]
       [--out bench/results]
Writes <out>/cluster.md (and cluster.png with matplotlib).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._commerce_load import _bench_assets  # noqa: E402
from bench._machine import machine  # noqa: E402
from bench.node import free_port  # noqa: E402

PRODUCT, VARIANT = "bar-au9999-10g", "au9999-10g"
VIEW_SIZE = "32x24"
REQUEST_TIMEOUT_S = 10.0
CHECKOUT_DEADLINE_S = 45.0
PAID_POLL_S = 0.25
MAX_CHECKOUTS_IN_FLIGHT = 64
SAMPLE_EVERY_S = 1.0
DURING_EDGE_S = 15.0
"""How long after the edge is killed the phase counts as "during" (nginx takes it out for fail_timeout=10 s)."""


# --------------------------------------------------------------------------------------------------- the cluster


def cli(state_dir: Path, env: dict[str, str], *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "render_node", "cluster", *args, "--state-dir", str(state_dir)],
                          capture_output=True, text=True, timeout=timeout_s, env=env, cwd=ROOT, check=False)


def members(state_dir: Path) -> dict[str, Any]:
    from render_node.commands._cluster_run import read_state

    state = read_state(state_dir)
    return {} if state is None else {m.name: m for m in state.members}


def proc_command(pid: int) -> tuple[list[str], dict[str, str]]:
    """A running process's argv and environment (/proc), to start it again the same way."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    env_raw = Path(f"/proc/{pid}/environ").read_bytes().rstrip(b"\0").split(b"\0")
    env = dict(e.decode().split("=", 1) for e in env_raw if b"=" in e)
    return [a.decode() for a in argv], env


def restart_member(state_dir: Path, name: str, argv: list[str], env: dict[str, str]) -> Any:
    """Starts `name` again with `argv`/`env` (as _cluster_run.spawn does: own session, log appended, cwd the state
    folder) and puts the new pid into the state file, so `cluster down` stops it."""
    from render_node.commands._cluster_run import ClusterState, read_state, spawn, write_state

    state = read_state(state_dir)
    assert state is not None
    old = state.member(name)
    new = spawn(name, old.kind, old.port, argv, env, state_dir)
    write_state(state_dir, ClusterState(state.front_port, state.database_url, state.redis_url,
                                        tuple(new if m.name == name else m for m in state.members)))
    return new


async def wait_healthy(http: aiohttp.ClientSession, url: str, timeout_s: float) -> float:
    """Seconds until `url` answers 200 (bounded); raises TimeoutError."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
            async with http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as r:
                if r.status == 200:
                    return time.monotonic() - t0
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} did not answer 200 within {timeout_s:g} s")


async def live_streams(http: aiohttp.ClientSession, edge_url: str) -> float:
    try:
        async with http.get(edge_url + "/metrics", timeout=aiohttp.ClientTimeout(total=3)) as r:
            text = await r.text()
    except (aiohttp.ClientError, TimeoutError, OSError):
        return -1
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("showroom_stream_sessions{"))


# --------------------------------------------------------------------------------------------------- the record


@dataclass
class Run:
    t0: float = field(default_factory=time.monotonic)
    phase: str = "before"
    requests: list[tuple[float, str, str, str, float]] = field(default_factory=list)
    """(t since start, phase, route, status, seconds)"""
    events: list[tuple[float, str]] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    frames: Counter[str] = field(default_factory=Counter)
    orders: list[dict[str, Any]] = field(default_factory=list)
    checkouts: Counter[str] = field(default_factory=Counter)
    checkout_s: list[tuple[str, float]] = field(default_factory=list)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def event(self, what: str, phase: str | None = None) -> None:
        self.events.append((self.now(), what))
        print(f"[{self.now():6.1f} s] {what}", flush=True)
        if phase is not None:
            self.phase = phase

    def note(self, route: str, status: str, started: float, phase: str) -> None:
        self.requests.append((started - self.t0, phase, route, status, time.monotonic() - started))


async def timed(run: Run, http: aiohttp.ClientSession, method: str, url: str, route: str,
                **kw: Any) -> tuple[int, Any]:
    """One request, recorded by route and phase; returns (status, body: JSON, bytes or text). A network error or
    timeout is recorded by its name and re-raised."""
    started, phase = time.monotonic(), run.phase
    try:
        async with http.request(method, url, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S), **kw) as r:
            ctype = r.headers.get("Content-Type", "")
            body: Any = await (r.json(content_type=None) if "json" in ctype else r.read())
            status = r.status
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        run.note(route, type(exc).__name__, started, phase)
        raise
    run.note(route, str(status), started, phase)
    return status, body


# --------------------------------------------------------------------------------------------------- the load


async def kiosk(run: Run, http: aiohttp.ClientSession, front: str, stop: asyncio.Event) -> None:
    """Walks the view set: the manifest, then every frame in turn (~10 frames/s), again and again."""
    while not stop.is_set():
        try:
            status, manifest = await timed(run, http, "GET", f"{front}/api/products/{PRODUCT}/views?size={VIEW_SIZE}",
                                           "GET views manifest")
            if status != 200:
                await asyncio.sleep(0.5)
                continue
            for frame in manifest["frames"]:
                if stop.is_set():
                    return
                with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
                    await timed(run, http, "GET", front + frame["url"], "GET view frame")
                await asyncio.sleep(0.1)
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
                await timed(run, http, "GET", front + "/api/products", "GET catalog")
        except (aiohttp.ClientError, TimeoutError, OSError):
            await asyncio.sleep(0.5)


async def vr_session(run: Run, n: int, front: str, stop: asyncio.Event) -> None:
    """One VR client: a stream held open, poses at 10/s; reconnects when it ends, the gap measured."""
    name = f"vr-{n}"
    last_frame: float | None = None
    broken_at: float | None = None
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        while not stop.is_set():
            reason = "closed"
            try:
                started, phase = time.monotonic(), run.phase
                async with http.ws_connect(front + "/ws/stream", timeout=aiohttp.ClientWSTimeout(ws_close=2),
                                           heartbeat=None) as ws:
                    await ws.send_json({"type": "hello", "client": "vr", "product": PRODUCT,
                                        "viewport": {"width": 32, "height": 24}, "eyes": 1, "fov_deg": 60,
                                        "ipd_m": 0.064, "codec": "jpeg", "max_kbps": 2000, "target_fps": 10})
                    welcome = await ws.receive_json(timeout=30)
                    if welcome.get("type") != "welcome":
                        raise RuntimeError(f"no welcome: {welcome}")
                    run.note("WS /ws/stream welcome", "101", started, phase)

                    async def poses() -> None:
                        seq = 0
                        while not stop.is_set():
                            seq += 1
                            await ws.send_json({"type": "pose", "seq": seq, "t": time.time(),
                                                "position": [0, 0.02, 0.3 + 0.01 * (seq % 10)],
                                                "orientation": [0, 0, 0, 1]})
                            await asyncio.sleep(0.1)

                    sender = asyncio.create_task(poses())
                    try:
                        while not stop.is_set():
                            try:
                                msg = await ws.receive(timeout=1.0)
                            except TimeoutError:
                                if last_frame is not None and time.monotonic() - last_frame > 10:
                                    reason = "no frame for 10 s"
                                    break
                                continue
                            if msg.type == aiohttp.WSMsgType.BINARY:
                                now = time.monotonic()
                                if broken_at is not None:
                                    run.gaps.append({"session": name, "at_s": broken_at - run.t0,
                                                     "gap_s": now - broken_at, "phase": run.phase})
                                    run.event(f"{name} frames again after {now - broken_at:.2f} s")
                                    broken_at = None
                                last_frame = now
                                run.frames[run.phase] += 1
                            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                              aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
                                reason = f"{msg.type.name} {msg.data}"
                                break
                    finally:
                        sender.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await sender
            except (aiohttp.ClientError, TimeoutError, OSError, RuntimeError, ValueError) as exc:
                reason = type(exc).__name__
                run.note("WS /ws/stream welcome", type(exc).__name__, started, phase)
            if stop.is_set():
                return
            if broken_at is None:
                broken_at = last_frame or time.monotonic()
                run.event(f"{name} stream ended ({reason}); reconnecting")
            await asyncio.sleep(0.1)


async def checkout(run: Run, http: aiohttp.ClientSession, front: str, pay: str, i: int, tag: str) -> None:
    """quote -> order -> payment -> sandbox approves -> paid; each step retried (same key) until the deadline."""
    t_start = time.monotonic()
    deadline = t_start + CHECKOUT_DEADLINE_S
    record: dict[str, Any] = {"n": i, "order_id": None, "token": None, "outcome": "no order", "phase": run.phase}

    async def step(method: str, url: str, route: str, want: tuple[int, ...], **kw: Any) -> tuple[int, Any]:
        while True:
            try:
                status, body = await timed(run, http, method, url, route, **kw)
                if status in want:
                    return status, body
                if status < 500 and status != 429:
                    raise RuntimeError(f"{route}: {status} {str(body)[:200]}")
            except (aiohttp.ClientError, TimeoutError, OSError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{route}: no answer by the checkout's deadline")
            await asyncio.sleep(0.5)

    try:
        _, quote = await step("POST", front + "/api/quotes", "POST /api/quotes", (201,),
                              json={"product": PRODUCT, "variant": VARIANT, "quantity": 1})
        status, order = await step("POST", front + "/api/orders", "POST /api/orders", (200, 201),
                                   json={"quote_id": quote["id"], "channel": "kiosk",
                                         "customer": {"phone": f"13{i:09d}"}},
                                   headers={"Idempotency-Key": f"{tag}-o{i}"})
        record["order_id"], record["token"] = order["id"], order.get("order_token")
        run.orders.append(record)
        record["outcome"] = "order placed"
        _, payment = await step("POST", f"{front}/api/orders/{order['id']}/payments", "POST payments", (201,),
                                json={"method": "qr"}, headers={"Idempotency-Key": f"{tag}-p{i}"})
        record["outcome"] = "payment started"
        await step("POST", f"{pay}/payments/{payment['payment_id']}/complete", "POST sandbox complete (direct)",
                   (200,), json={"outcome": "approved"})
        record["outcome"] = "approved"
        headers = {"Authorization": f"Bearer {record['token']}"} if record["token"] else {}
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
                status, body = await timed(run, http, "GET", f"{front}/api/orders/{order['id']}", "GET order",
                                           headers=headers)
                if status == 200 and body.get("status") == "paid":
                    record["outcome"] = "paid"
                    run.checkouts["paid"] += 1
                    run.checkout_s.append((record["phase"], time.monotonic() - t_start))
                    return
            await asyncio.sleep(PAID_POLL_S)
        raise TimeoutError("not paid by the checkout's deadline")
    except (TimeoutError, RuntimeError, KeyError, TypeError) as exc:
        record["error"] = str(exc)[:200]
        run.checkouts[f"unfinished ({record['outcome']})"] += 1


async def checkouts(run: Run, http: aiohttp.ClientSession, front: str, pay: str, per_s: float,
                    stop: asyncio.Event) -> None:
    tag = secrets.token_hex(3)
    tasks: set[asyncio.Task[None]] = set()
    i = 0
    next_at = time.monotonic()
    while not stop.is_set():
        if len(tasks) < MAX_CHECKOUTS_IN_FLIGHT:
            task = asyncio.create_task(checkout(run, http, front, pay, i, tag))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
        else:
            run.checkouts["skipped (too many in flight)"] += 1
        next_at += 1.0 / per_s
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, next_at - time.monotonic()))
    if tasks:  # the ones in flight finish (each bounded by its deadline)
        await asyncio.wait(tasks, timeout=CHECKOUT_DEADLINE_S + 15)


# --------------------------------------------------------------------------------------------------- processes


def _proc_stats() -> dict[int, tuple[int, float, float]]:
    """pid -> (parent pid, CPU seconds, RSS bytes) of every process, from /proc (the fallback without psutil)."""
    tick, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
    stats: dict[int, tuple[int, float, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick,
                                      int(fields[21]) * page)
    return stats


class Sampler:
    """CPU seconds and RSS of each cluster process with its children (an edge's render workers): psutil where it
    is installed, else /proc."""

    def __init__(self) -> None:
        try:
            import psutil
        except ImportError:
            psutil = None
        self.psutil: Any = psutil
        self.procs: dict[str, int] = {}
        self.cpu: dict[str, float] = {}
        self.cpu0: dict[str, float] = {}
        self.rss_max: dict[str, float] = defaultdict(float)
        self.rss_last: dict[str, float] = {}
        self.seen: dict[str, list[float]] = {}
        """name -> [first, last] sample time: a killed or restarted process's CPU share is over its own span"""

    @property
    def source(self) -> str:
        return "psutil" if self.psutil is not None else "/proc"

    def track(self, name: str, pid: int) -> None:
        self.procs[name] = pid

    def _group(self, pid: int, stats: dict[int, tuple[int, float, float]] | None) -> tuple[float, float] | None:
        """(CPU s, RSS bytes) of `pid` and its descendants; None when it is gone."""
        if self.psutil is not None:
            try:
                p = self.psutil.Process(pid)
                if p.status() == self.psutil.STATUS_ZOMBIE:
                    return None
                group = [p, *p.children(recursive=True)]
            except self.psutil.Error:
                return None
            cpu = rss = 0.0
            for q in group:
                with contextlib.suppress(self.psutil.Error):
                    times = q.cpu_times()
                    cpu += times.user + times.system
                    rss += q.memory_info().rss
            return cpu, rss
        assert stats is not None
        if pid not in stats:
            return None
        group, frontier = {pid}, [pid]
        while frontier:
            parent = frontier.pop()
            for child, (ppid, _, _) in stats.items():
                if ppid == parent and child not in group:
                    group.add(child)
                    frontier.append(child)
        return sum(stats[p][1] for p in group), sum(stats[p][2] for p in group)

    def sample(self, t: float) -> None:
        stats = _proc_stats() if self.psutil is None else None
        for name, pid in self.procs.items():
            got = self._group(pid, stats)
            if got is None or got[1] == 0:
                continue  # gone: its last sample stays
            cpu, rss = got
            self.cpu0.setdefault(name, cpu)
            self.seen.setdefault(name, [t, t])[1] = t
            self.cpu[name] = cpu
            self.rss_last[name] = rss
            self.rss_max[name] = max(self.rss_max[name], rss)


# --------------------------------------------------------------------------------------------------- the run


async def drive(args: argparse.Namespace, state_dir: Path, run: Run) -> dict[str, Any]:
    ms = members(state_dir)
    front = f"http://127.0.0.1:{ms['nginx'].port}"
    pay = ms["payments"].url
    sampler = Sampler()
    for name, m in ms.items():
        sampler.track(name, m.pid)
    sampler.track("bench (clients)", os.getpid())
    commerce_cmd = proc_command(ms["commerce"].pid)
    faults = [f for f in args.faults.split(",") if f]
    duration = args.minutes * 60
    stop = asyncio.Event()
    out: dict[str, Any] = {"front": front}

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as http:
        # warm-up (not measured): the view set rendered by an edge and every frame in nginx's cache
        async def priced() -> bool:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError, KeyError, StopIteration):
                async with http.get(front + "/api/products") as r:
                    bar = next(p for p in (await r.json())["products"] if p["id"] == PRODUCT)
                    return float(bar["variants"][0].get("price_cny", 0)) > 0
            return False

        t_w = time.monotonic()
        while not await priced():
            if time.monotonic() - t_w > 60:
                raise TimeoutError("the catalog through nginx never carried commerce's prices")
            await asyncio.sleep(0.5)
        async with http.get(f"{front}/api/products/{PRODUCT}/views?size={VIEW_SIZE}",
                            timeout=aiohttp.ClientTimeout(total=180)) as r:
            manifest = await r.json()
            assert r.status == 200, manifest
        for frame in manifest["frames"]:
            async with http.get(front + frame["url"], timeout=aiohttp.ClientTimeout(total=30)) as r:
                await r.read()
        out["frames_in_set"] = len(manifest["frames"])
        out["warm_s"] = time.monotonic() - t_w

        run.t0 = time.monotonic()
        run.event("load starts", "before")
        sampler.sample(0.0)
        tasks = [asyncio.create_task(kiosk(run, http, front, stop)) for _ in range(args.kiosks)]
        tasks += [asyncio.create_task(vr_session(run, n, front, stop)) for n in range(args.vr)]
        tasks.append(asyncio.create_task(checkouts(run, http, front, pay, args.checkouts_per_s, stop)))

        async def sampling() -> None:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), SAMPLE_EVERY_S)
                sampler.sample(run.now())

        tasks.append(asyncio.create_task(sampling()))

        async def until(t: float) -> None:
            await asyncio.sleep(max(0.0, t - run.now()))

        if "edge" in faults:
            await until(duration * 0.25)
            edges = {n: m for n, m in members(state_dir).items() if m.kind == "edge"}
            counts = {n: await live_streams(http, m.url) for n, m in edges.items()}
            victim = max(counts, key=lambda n: counts[n])
            os.kill(edges[victim].pid, signal.SIGKILL)
            out["edge_killed"] = {"name": victim, "live_streams": counts}
            run.event(f"kill -9 {victim} (live streams per edge: {counts})", "during edge fault")
            await until(run.now() + DURING_EDGE_S)
            run.event("edge fault: 15 s on", "after edge fault")
        if "commerce" in faults:
            await until(duration * 0.60)
            os.kill(ms["commerce"].pid, signal.SIGKILL)
            t_kill = time.monotonic()
            run.event(f"kill -9 commerce (pid {ms['commerce'].pid})", "during commerce fault")
            await asyncio.sleep(2.0)  # down for a moment, as a crash loop's backoff would leave it
            new = restart_member(state_dir, "commerce", *commerce_cmd)
            sampler.track("commerce (restarted)", new.pid)
            run.event(f"commerce restarted (pid {new.pid})")
            await wait_healthy(http, new.url + "/healthz", 120)
            out["commerce_down_s"] = time.monotonic() - t_kill
            run.event(f"commerce healthy again, {out['commerce_down_s']:.1f} s after the kill")
            await until(run.now() + 5.0)
            run.event("commerce fault: 5 s after healthy", "after commerce fault")
        await until(duration)
        run.event("load stops")
        stop.set()
        done, pending = await asyncio.wait(tasks, timeout=CHECKOUT_DEADLINE_S + 30)
        for t in pending:
            t.cancel()
        for t in done:
            if t.exception() is not None:
                run.event(f"a load task failed: {t.exception()!r}")
        sampler.sample(run.now())
        out["reconciliation"] = await reconcile(run, http, front)
    out["sampler"] = sampler
    return out


async def reconcile(run: Run, http: aiohttp.ClientSession, front: str) -> dict[str, Any]:
    """Every order placed, asked of commerce: paid, or cancelled now by the bench; none lost, none paid twice."""
    result: Counter[str] = Counter()
    problems: list[str] = []
    for rec in run.orders:
        headers = {"Authorization": f"Bearer {rec['token']}"} if rec["token"] else {}
        url = f"{front}/api/orders/{rec['order_id']}"
        try:
            async with http.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=10)) as r:
                body = await r.json(content_type=None)
                status = r.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            result["not answered"] += 1
            problems.append(f"{rec['order_id']}: {exc!r}")
            continue
        if status == 404:
            result["LOST (404)"] += 1
            problems.append(f"{rec['order_id']}: 404")
            continue
        state = body.get("status")
        if state not in ("paid", "expired", "cancelled") and rec["token"]:
            async with http.post(url + "/cancel", headers=headers, timeout=aiohttp.ClientTimeout(total=10)) as r:
                cancelled = await r.json(content_type=None)
            state = f"{state} -> {cancelled.get('status', f'cancel answered {r.status}')}"
            async with http.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=10)) as r:
                body = await r.json(content_type=None)
        result[str(state)] += 1
        payments = body.get("payments") or []
        captured = [p for p in payments if p.get("status") in ("paid", "succeeded", "captured", "approved")]
        paid = float(body.get("paid_cny") or 0)
        total = float(body.get("total_cny") or 0)
        if len(captured) > 1 or (total and paid > total + 0.005):
            result["DOUBLE-PAID"] += 1
            problems.append(f"{rec['order_id']}: {len(captured)} captured payments, paid {paid} of {total}")
        if rec["outcome"] == "paid" and body.get("status") != "paid":
            result["seen paid, now not paid"] += 1
            problems.append(f"{rec['order_id']}: was paid, now {body.get('status')}")
    return {"orders": len(run.orders), "states": dict(result), "problems": problems[:20]}


# --------------------------------------------------------------------------------------------------- the report


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * q))] if xs else float("nan")


PHASES = ["before", "during edge fault", "after edge fault", "during commerce fault", "after commerce fault"]


def write_report(args: argparse.Namespace, run: Run, out: dict[str, Any], start_machine: str,
                 load_start: tuple[float, ...], load_end: tuple[float, ...], path: Path) -> None:
    sampler: Sampler = out["sampler"]
    lines = ["# Cluster benchmark (bench/cluster.py)", "",
             f"Machine: {start_machine}. Load average (1/5/15 min) at start {'/'.join(f'{x:.2f}' for x in load_start)},"
             f" at end {'/'.join(f'{x:.2f}' for x in load_end)} (the machine's 2 cores are shared with other work).",
             "",
             f"Command: `.venv/bin/python bench/cluster.py --minutes {args.minutes:g} --kiosks {args.kiosks} "
             f"--vr {args.vr} --checkouts-per-s {args.checkouts_per_s:g} --faults {args.faults}`", "",
             f"`showroom cluster up` with 2 edges (`--workers 1` each, llvmpipe), commerce on PostgreSQL (a fresh "
             f"database, dropped after), the payment sandbox, Redis, nginx in front; rate limits off "
             f"(`SHOWROOM_RATE_LIMITS=0`: every client is 127.0.0.1). The view set: {out.get('frames_in_set')} frames "
             f"at {VIEW_SIZE}, rendered and put in nginx's cache before the load (warm-up {out.get('warm_s', 0):.1f} s,"
             f" not measured). Kiosks walk it at ~10 frames/s each; VR sessions send a pose every 100 ms; checkouts "
             f"start at a steady rate and poll the order until paid (deadline {CHECKOUT_DEADLINE_S:g} s each, steps "
             f"retried with the same Idempotency-Key).", "", "## Timeline", "", "| t (s) | event |", "| ---: | --- |"]
    lines += [f"| {t:.1f} | {what} |" for t, what in run.events]
    lines += ["", "## Requests per route and phase", "",
              "Latency of each HTTP request through nginx (the sandbox's test control is called on its own port, as "
              "in the e2e test). Statuses: HTTP codes, or the client's exception when no answer came.", "",
              "| phase | route | n | p50 ms | p99 ms | statuses |", "| --- | --- | ---: | ---: | ---: | --- |"]
    by: dict[tuple[str, str], list[tuple[str, float]]] = defaultdict(list)
    for _, phase, route, status, secs in run.requests:
        by[(phase, route)].append((status, secs))
    for phase in PHASES:
        for route in sorted({r for p, r in by if p == phase}):
            rows = by[(phase, route)]
            ok = [s * 1000 for st, s in rows if st.isdigit() and int(st) < 400]
            counts = Counter(st for st, _ in rows)
            shown = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
            lines.append(f"| {phase} | {route} | {len(rows)} | {statistics.median(ok) if ok else float('nan'):.1f} | "
                         f"{pct(ok, 0.99):.1f} | {shown} |")
    lines += ["", "p50/p99 over the answers below 400; the statuses column counts all.", "",
              "## Checkouts", "", "| outcome | count |", "| --- | ---: |"]
    lines += [f"| {k} | {v} |" for k, v in sorted(run.checkouts.items())]
    cs = defaultdict(list)
    for phase, s in run.checkout_s:
        cs[phase].append(s * 1000)
    lines += ["", "Whole checkout (quote to paid seen), by the phase it started in:", "",
              "| phase started | paid | p50 ms | p99 ms |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {p} | {len(cs[p])} | {statistics.median(cs[p]):.0f} | {pct(cs[p], 0.99):.0f} |"
              for p in PHASES if cs[p]]
    rec = out.get("reconciliation", {})
    lines += ["", "## Reconciliation (every order placed, asked of commerce after the run)", "",
              f"Orders placed: {rec.get('orders')}.", "", "| final state | orders |", "| --- | ---: |"]
    lines += [f"| {k} | {v} |" for k, v in sorted(rec.get("states", {}).items())]
    lines += ["", "Lost (404) and double-paid (more than one captured payment, or paid more than the total) must be "
              "absent. Problems: " + ("; ".join(rec.get("problems", [])) or "none") + ".",
              "", "## Live streams", "",
              f"Frames received per phase: {', '.join(f'{p}: {run.frames[p]}' for p in PHASES if run.frames[p])}.", ""]
    if out.get("edge_killed"):
        lines.append(f"Edge killed: {out['edge_killed']['name']}; live streams per edge just before: "
                     f"{out['edge_killed']['live_streams']}.")
    lines += ["", "| session | broke at (s) | gap: last frame to first frame after (s) | phase |",
              "| --- | ---: | ---: | --- |"]
    lines += [f"| {g['session']} | {g['at_s']:.1f} | {g['gap_s']:.2f} | {g['phase']} |" for g in run.gaps]
    if not run.gaps:
        lines.append("| (no stream broke) | | | |")
    lines += ["", "## Processes", "", "CPU seconds over the run (the process and its children: an edge's render "
              "workers) and resident memory (RSS, summed over the group), sampled every second with "
              f"{sampler.source}.", "",
              "| process | seen (s into the load) | CPU s | CPU % of one core while seen | RSS max MiB | "
              "RSS at end (or last seen) MiB |", "| --- | --- | ---: | ---: | ---: | ---: |"]
    for name in sampler.cpu:
        used = sampler.cpu[name] - sampler.cpu0[name]
        first, last = sampler.seen[name]
        lines.append(f"| {name} | {first:.0f}-{last:.0f} | {used:.1f} | {100 * used / max(last - first, 1e-9):.0f} | "
                     f"{sampler.rss_max[name] / 2**20:.0f} | {sampler.rss_last[name] / 2**20:.0f} |")
    lines += ["", "## Not run here", "",
              "- **PostgreSQL and Redis restarts**: both are the machine's shared system services, used by other "
              "test runs at the same time; the bench does not stop them. A commerce restart covers the commerce "
              "side of a database hiccup only partly (its pool reconnects on start). To do on a machine of its own.",
              "- The killed edge is not restarted: the rest of the run is on one edge.",
              "- One short run on a shared 2-core machine with software GL: absolute numbers are this machine's, not "
              "a deployment's. Longer runs (`--minutes 10` and more) and larger loads are to be done.", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def plot(run: Run, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(10, 4.5))
    routes = sorted({r for _, _, r, _, _ in run.requests})
    for route in routes:
        pts = [(t, s * 1000) for t, _, r, st, s in run.requests if r == route]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=4, label=route)
    for t, what in run.events:
        if what.startswith(("kill", "commerce healthy")):
            ax.axvline(t, color="red" if what.startswith("kill") else "green", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("seconds into the load (red: kill -9, green: commerce healthy again)")
    ax.set_ylabel("request latency, ms")
    ax.legend(fontsize=7, markerscale=3, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def pg_admin(url: str, sql: str) -> None:
    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--kiosks", type=int, default=4)
    ap.add_argument("--vr", type=int, default=2)
    ap.add_argument("--checkouts-per-s", dest="checkouts_per_s", type=float, default=2.0)
    ap.add_argument("--faults", default="edge,commerce", help="comma list of: edge, commerce (empty: none)")
    ap.add_argument("--postgres", default=os.environ.get("SHOWROOM_TEST_POSTGRES_URL",
                                                         "postgresql://127.0.0.1:5432/test"),
                    help="a PostgreSQL database to connect to; the bench creates (and drops) its own beside it")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args()
    start_machine = machine()
    load_start = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="showroom-bench-cluster-"))
    state_dir = work / "state"
    stock = int(args.minutes * 60 * args.checkouts_per_s * 2) + 200
    assets = _bench_assets(work / "assets", stock)
    database = "showroom_bench_cluster_" + secrets.token_hex(4)
    base_pg = args.postgres.rsplit("/", 1)[0]
    env = {**os.environ, "SHOWROOM_EXTRA_VIEW_SIZES": VIEW_SIZE, "EGL_PLATFORM": "surfaceless",
           "SHOWROOM_RATE_LIMITS": "0", "SHOWROOM_LOG_LEVEL": "WARNING"}
    port, e1, e2, commerce, payments = (free_port() for _ in range(5))
    run = Run()
    out: dict[str, Any] = {}
    try:
        print(f"cluster up (state in {state_dir}) ...", flush=True)
        started = cli(state_dir, env, "up", "--port", str(port), "--edge-ports", f"{e1},{e2}", "--commerce-port",
                      str(commerce), "--payments-port", str(payments), "--workers", "1", "--assets-dir", str(assets),
                      "--database-url", f"{base_pg}/{database}", "--redis-url", args.redis, "--timeout-s", "180")
        print(started.stdout, started.stderr, flush=True)
        if started.returncode != 0:
            return 1
        out = asyncio.run(asyncio.wait_for(drive(args, state_dir, run), args.minutes * 60 + 600))
    finally:
        down = cli(state_dir, env, "down", timeout_s=120)
        print(down.stdout, down.stderr, flush=True)
        with contextlib.suppress(Exception):
            pg_admin(args.postgres, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        shutil.rmtree(work / "assets", ignore_errors=True)
    load_end = os.getloadavg()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_report(args, run, out, start_machine, load_start, load_end, out_dir / "cluster.md")
    if plot(run, out_dir / "cluster.png"):
        print(f"wrote {out_dir / 'cluster.png'}")
    print(f"wrote {out_dir / 'cluster.md'}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
