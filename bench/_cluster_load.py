"""The clients of bench/cluster.py and what is checked after them: kiosks walking a cached view set, VR-like live
streams, checkouts (each order followed on its `/ws/orders/{id}` socket), the per-process CPU and memory sampler,
and the reconciliation of every order (through commerce, and in the private database itself)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

PRODUCT, VARIANT = "bar-au9999-10g", "au9999-10g"
VIEW_SIZE = "32x24"
REQUEST_TIMEOUT_S = 10.0
CHECKOUT_DEADLINE_S = 45.0
PAID_POLL_S = 0.25
MAX_CHECKOUTS_IN_FLIGHT = 64
PUSH_WAIT_S = 20.0
"""How long a checkout waits, once it has seen its order paid, for the `paid` push on its order socket."""



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
    pushes: list[tuple[str, float | None]] = field(default_factory=list)
    """(phase of the approval, seconds from the approval to the `paid` push on the order socket; None: none came)"""
    phases: list[str] = field(default_factory=lambda: ["before"])

    def now(self) -> float:
        return time.monotonic() - self.t0

    def event(self, what: str, phase: str | None = None) -> None:
        self.events.append((self.now(), what))
        print(f"[{self.now():6.1f} s] {what}", flush=True)
        if phase is not None:
            self.phase = phase
            if phase not in self.phases:
                self.phases.append(phase)

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


async def follow(run: Run, http: aiohttp.ClientSession, front: str, order_id: str, token: str) -> float | None:
    """A kiosk page on `/ws/orders/{id}`: the monotonic time the `paid` push arrived, None if the socket ended
    (or never opened) first. Cancelled by the checkout when it gives up waiting."""
    started, phase = time.monotonic(), run.phase
    try:
        async with http.ws_connect(f"{front}/ws/orders/{order_id}?token={token}", heartbeat=None,
                                   timeout=aiohttp.ClientWSTimeout(ws_close=2)) as ws:
            run.note("WS /ws/orders (follower)", "101", started, phase)
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT and '"paid"' in msg.data:
                    with contextlib.suppress(ValueError):
                        if msg.json().get("status") == "paid":
                            return time.monotonic()
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        run.note("WS /ws/orders (follower)", type(exc).__name__, started, phase)
    return None


async def checkout(run: Run, http: aiohttp.ClientSession, front: str, pay: str, i: int, tag: str) -> None:
    """quote -> order -> payment -> sandbox approves -> paid; each step retried (same key) until the deadline."""
    t_start = time.monotonic()
    deadline = t_start + CHECKOUT_DEADLINE_S
    record: dict[str, Any] = {"n": i, "order_id": None, "token": None, "outcome": "no order", "phase": run.phase}
    follower: asyncio.Task[float | None] | None = None

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
        follower = asyncio.create_task(follow(run, http, front, order["id"], record["token"] or ""))
        _, payment = await step("POST", f"{front}/api/orders/{order['id']}/payments", "POST payments", (201,),
                                json={"method": "qr"}, headers={"Idempotency-Key": f"{tag}-p{i}"})
        record["outcome"] = "payment started"
        await step("POST", f"{pay}/payments/{payment['payment_id']}/complete", "POST sandbox complete (direct)",
                   (200,), json={"outcome": "approved"})
        record["outcome"] = "approved"
        approved_at, approved_phase = time.monotonic(), run.phase
        headers = {"Authorization": f"Bearer {record['token']}"} if record["token"] else {}
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
                status, body = await timed(run, http, "GET", f"{front}/api/orders/{order['id']}", "GET order",
                                           headers=headers)
                if status == 200 and body.get("status") == "paid":
                    record["outcome"] = "paid"
                    run.checkouts["paid"] += 1
                    run.checkout_s.append((record["phase"], time.monotonic() - t_start))
                    done, _ = await asyncio.wait({follower}, timeout=PUSH_WAIT_S)
                    pushed = follower.result() if done else None
                    run.pushes.append((approved_phase, None if pushed is None else max(0.0, pushed - approved_at)))
                    return
            await asyncio.sleep(PAID_POLL_S)
        raise TimeoutError("not paid by the checkout's deadline")
    except (TimeoutError, RuntimeError, KeyError, TypeError) as exc:
        record["error"] = str(exc)[:200]
        run.checkouts[f"unfinished ({record['outcome']})"] += 1
    finally:
        if follower is not None and not follower.done():
            follower.cancel()


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
        self.cpu_pids: dict[str, dict[int, float]] = {}
        self.rss_max: dict[str, float] = defaultdict(float)
        self.rss_last: dict[str, float] = {}
        self.seen: dict[str, list[float]] = {}
        """name -> [first, last] sample time: a killed or restarted process's CPU share is over its own span"""

    @property
    def source(self) -> str:
        return "psutil" if self.psutil is not None else "/proc"

    def track(self, name: str, pid: int) -> None:
        self.procs[name] = pid

    def _group(self, pid: int, stats: dict[int, tuple[int, float, float]] | None
               ) -> tuple[dict[int, float], float] | None:
        """({pid: CPU s} of `pid` and each descendant, their RSS bytes summed); None when it is gone."""
        if self.psutil is not None:
            try:
                p = self.psutil.Process(pid)
                if p.status() == self.psutil.STATUS_ZOMBIE:
                    return None
                group = [p, *p.children(recursive=True)]
            except self.psutil.Error:
                return None
            cpu: dict[int, float] = {}
            rss = 0.0
            for q in group:
                with contextlib.suppress(self.psutil.Error):
                    times = q.cpu_times()
                    cpu[q.pid] = times.user + times.system
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
        return {p: stats[p][1] for p in group}, sum(stats[p][2] for p in group)

    def sample(self, t: float) -> None:
        stats = _proc_stats() if self.psutil is None else None
        for name, pid in self.procs.items():
            got = self._group(pid, stats)
            if got is None or got[1] == 0:
                continue  # gone: its last sample stays
            # CPU per process, kept after a child exits (PostgreSQL's server processes come and go with their
            # connections): the group's sum only grows
            per_pid = self.cpu_pids.setdefault(name, {})
            per_pid.update(got[0])
            cpu, rss = sum(per_pid.values()), got[1]
            self.cpu0.setdefault(name, cpu)
            self.seen.setdefault(name, [t, t])[1] = t
            self.cpu[name] = cpu
            self.rss_last[name] = rss
            self.rss_max[name] = max(self.rss_max[name], rss)


# --------------------------------------------------------------------------------------------------- after the run


async def database_check(run: Run, state_dir: Path) -> dict[str, Any]:
    """The private database asked directly: every order in it known to a client, none paid twice or above its
    total (a client that never heard of its order would be an order made while the answer was lost)."""
    import asyncpg

    from render_node.commands._cluster_run import read_state

    state = read_state(state_dir)
    assert state is not None
    conn = await asyncpg.connect(state.database_url.replace("postgresql+asyncpg://", "postgresql://"), timeout=10)
    try:
        rows = await conn.fetch("SELECT o.id, o.status, o.paid_fen, o.amount_fen, (SELECT count(*) FROM payments p "
                                "WHERE p.order_id = o.id AND p.status = 'succeeded') AS captured FROM orders o")
    finally:
        await conn.close()
    known = {rec["order_id"] for rec in run.orders}
    return {"orders": len(rows), "states": dict(Counter(r["status"] for r in rows)),
            "unknown_to_clients": sorted(r["id"] for r in rows if r["id"] not in known)[:20],
            "double_paid": sorted(r["id"] for r in rows if r["captured"] > 1 or r["paid_fen"] > r["amount_fen"])[:20],
            "missing": sorted(known - {r["id"] for r in rows})[:20]}


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
