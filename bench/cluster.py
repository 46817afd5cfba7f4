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

Every checkout also follows its order the way a kiosk page does, on `/ws/orders/{id}` (through nginx, opened once
the order is placed), and the delay from the sandbox's approval to the `paid` push is measured: that path runs
through Redis.

PostgreSQL and Redis are the cluster's own by default (`--services private`: `cluster up --private-services`,
started from the machine's binaries on free ports, deleted after), so they can be restarted; `--services shared`
uses `--postgres`/`--redis` instead (a fresh database beside the given one, dropped after) and allows only the
edge and commerce faults.

The faults (`--faults edge,redis,postgres,commerce`, at distinct points of the run): `kill -9` of the edge holding
the most live streams at 15 % (it stays dead: the rest of the run is on one edge); a Redis restart at 35 % (stopped,
3 s down, started again: events published meanwhile are lost, the order sockets re-read their order once
subscribed again); a PostgreSQL restart at 55 % (a fast shutdown, 5 s down, started again: commerce answers 503
`database_unavailable` meanwhile and its pool reconnects, commerce is not restarted); `kill -9` of the commerce
service at 78 %, restarted with the very command and environment it ran with (read from /proc before the kill)
and recorded in the cluster's state file, so `cluster down` stops the new one.

After the load every order that was placed is asked of commerce (GET /api/orders/{id}): paid, or still unpaid and
then cancelled by the bench (the client giving up), never lost (404) and never paid twice (more than one captured
payment, or paid more than its total). With private services the database itself is asked too: every order in it
known to a client (none that a client never heard of), none with two succeeded payments or paid above its total.

Usage: .venv/bin/python bench/cluster.py [--minutes 2] [--kiosks 4] [--vr 2] [--checkouts-per-s 2]
       [--faults edge,redis,postgres,commerce] [--services private|shared]
       [--postgres postgresql://127.0.0.1:5432/test] [--redis redis://127.0.0.1:6379/0] [--out bench/results]
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
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._cluster_load import (  # noqa: E402
    CHECKOUT_DEADLINE_S,
    PRODUCT,
    PUSH_WAIT_S,
    VIEW_SIZE,
    Run,
    Sampler,
    checkouts,
    database_check,
    kiosk,
    reconcile,
    vr_session,
)
from bench._commerce_load import _bench_assets  # noqa: E402
from bench._machine import machine  # noqa: E402
from bench.node import free_port  # noqa: E402

SAMPLE_EVERY_S = 1.0
DURING_EDGE_S = 15.0
"""How long after the edge is killed the phase counts as "during" (nginx takes it out for fail_timeout=10 s)."""
FAULT_AT = {"edge": 0.15, "redis": 0.35, "postgres": 0.55, "commerce": 0.78}
"""When each fault starts, as a share of the run (distinct points; each is over before the next begins)."""
DOWN_S = {"redis": 3.0, "postgres": 5.0, "commerce": 2.0}
"""How long a restarted part stays down (commerce: as a crash loop's backoff would leave it)."""
AFTER_FAULT_S = 5.0


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
    """Starts `name` again with `argv`/`env` (own session, log appended, cwd the state folder) and puts the new pid
    into the state file, so `cluster down` stops it."""
    from render_node.commands._cluster_services import start_again

    return start_again(state_dir, name, argv, None, env)


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

        for fault in sorted(faults, key=lambda f: FAULT_AT[f]):
            await until(duration * FAULT_AT[fault])
            if fault == "edge":
                edges = {n: m for n, m in members(state_dir).items() if m.kind == "edge"}
                counts = {n: await live_streams(http, m.url) for n, m in edges.items()}
                victim = max(counts, key=lambda n: counts[n])
                os.kill(edges[victim].pid, signal.SIGKILL)
                out["edge_killed"] = {"name": victim, "live_streams": counts}
                run.event(f"kill -9 {victim} (live streams per edge: {counts})", "during edge fault")
                await until(run.now() + DURING_EDGE_S)
                run.event("edge fault: 15 s on", "after edge fault")
                continue
            if fault == "commerce":
                pid = members(state_dir)["commerce"].pid
                os.kill(pid, signal.SIGKILL)
                t_kill = time.monotonic()
                run.event(f"kill -9 commerce (pid {pid})", "during commerce fault")
                await asyncio.sleep(DOWN_S["commerce"])
                new = restart_member(state_dir, "commerce", *commerce_cmd)
                run.event(f"commerce restarted (pid {new.pid})")
                await wait_healthy(http, new.url + "/healthz", 120)
            else:  # redis, postgres: the cluster's own, stopped and started again (same port, same data)
                from render_node.commands._cluster_services import restart

                t_kill = time.monotonic()
                run.event(f"stop {fault} ({DOWN_S[fault]:g} s down, then started again)", f"during {fault} fault")
                new, _ = await asyncio.to_thread(restart, state_dir, fault, DOWN_S[fault])
            sampler.track(f"{fault} (restarted)", new.pid)
            out[f"{fault}_down_s"] = time.monotonic() - t_kill
            run.event(f"{fault} healthy again, {out[f'{fault}_down_s']:.1f} s after the {'kill' if fault == 'commerce' else 'stop'}")
            out.setdefault("windows", {})[fault] = (t_kill - run.t0, run.now())
            await until(run.now() + AFTER_FAULT_S)
            run.event(f"{fault} fault: {AFTER_FAULT_S:g} s after healthy", f"after {fault} fault")
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
        if args.services == "private":
            out["database_check"] = await database_check(run, state_dir)
    out["sampler"] = sampler
    return out


# --------------------------------------------------------------------------------------------------- the report


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * q))] if xs else float("nan")


COMMERCE_ROUTES = ("POST /api/quotes", "POST /api/orders", "POST payments", "GET order", "WS /ws/orders (follower)")


def fault_effects(run: Run, out: dict[str, Any]) -> list[str]:
    """Per fault and commerce route: failed answers (5xx or no answer) from the fault's start until 5 s after it
    was healthy again, and the window from the first to the last failure (what a customer would have seen)."""
    lines = ["| fault | down (s, stop to healthy) | route | requests | failed | statuses of the failed | "
             "first-last failure (s into the load) |", "| --- | ---: | --- | ---: | ---: | --- | --- |"]
    for fault, (t0, t_ok) in out.get("windows", {}).items():
        for route in COMMERCE_ROUTES:
            rows = [(t, st) for t, _, r, st, _ in run.requests if r == route and t0 <= t <= t_ok + AFTER_FAULT_S]
            failed = [(t, st) for t, st in rows if not st.isdigit() or int(st) >= 500]
            window = f"{failed[0][0]:.1f}-{failed[-1][0]:.1f}" if failed else "-"
            shown = ", ".join(f"{k}: {v}" for k, v in sorted(Counter(st for _, st in failed).items())) or "-"
            lines.append(f"| {fault} | {out.get(f'{fault}_down_s', 0):.1f} | {route} | {len(rows)} | {len(failed)} | "
                         f"{shown} | {window} |")
    return lines


SERVICES = {"private": "PostgreSQL and Redis the cluster's own (`--private-services`: started from the machine's "
                        "binaries on free ports, PostgreSQL with fsync off, Redis without persistence; deleted after)",
            "shared": "PostgreSQL and Redis the machine's (a fresh database, dropped after)"}


def database_lines(out: dict[str, Any]) -> list[str]:
    check = out.get("database_check")
    if not check:
        return []
    return ["", f"The database itself, after the run: {check['orders']} orders "
            f"({', '.join(f'{k}: {v}' for k, v in sorted(check['states'].items()))}); orders no client heard of: "
            f"{len(check['unknown_to_clients'])} {check['unknown_to_clients'] or ''}; orders a client placed that "
            f"are not there: {len(check['missing'])} {check['missing'] or ''}; with more than one succeeded payment "
            f"or paid above the total: {len(check['double_paid'])} {check['double_paid'] or ''}."]


def write_report(args: argparse.Namespace, run: Run, out: dict[str, Any], start_machine: str,
                 load_start: tuple[float, ...], load_end: tuple[float, ...], path: Path) -> None:
    sampler: Sampler = out["sampler"]
    lines = ["# Cluster benchmark (bench/cluster.py)", "",
             f"Machine: {start_machine}. Load average (1/5/15 min) at start {'/'.join(f'{x:.2f}' for x in load_start)},"
             f" at end {'/'.join(f'{x:.2f}' for x in load_end)} (the machine's 2 cores are shared with other work).",
             "",
             f"Command: `.venv/bin/python bench/cluster.py --minutes {args.minutes:g} --kiosks {args.kiosks} "
             f"--vr {args.vr} --checkouts-per-s {args.checkouts_per_s:g} --faults {args.faults} --services "
             f"{args.services}`", "",
             f"`showroom cluster up` with 2 edges (`--workers 1` each, llvmpipe), commerce on PostgreSQL, the payment "
             f"sandbox, Redis, nginx in front; {SERVICES[args.services]}; rate limits off "
             f"(`SHOWROOM_RATE_LIMITS=0`: every client is 127.0.0.1). The view set: {out.get('frames_in_set')} frames "
             f"at {VIEW_SIZE}, rendered and put in nginx's cache before the load (warm-up {out.get('warm_s', 0):.1f} s,"
             f" not measured). Kiosks walk it at ~10 frames/s each; VR sessions send a pose every 100 ms; checkouts "
             f"start at a steady rate and poll the order until paid (deadline {CHECKOUT_DEADLINE_S:g} s each, steps "
             f"retried with the same Idempotency-Key).", "", "## Timeline", "", "| t (s) | event |", "| ---: | --- |"]
    lines += [f"| {t:.1f} | {what} |" for t, what in run.events]
    if out.get("windows"):
        lines += ["", "## What each fault did to the commerce routes", "",
                  "From the fault's start until 5 s after the part answered again; failed = 5xx or no answer "
                  "(the client's exception). Every failed step was retried by the client with the same "
                  "Idempotency-Key.", "", *fault_effects(run, out)]
    lines += ["", "## Requests per route and phase", "",
              "Latency of each HTTP request through nginx (the sandbox's test control is called on its own port, as "
              "in the e2e test). Statuses: HTTP codes, or the client's exception when no answer came.", "",
              "| phase | route | n | p50 ms | p99 ms | statuses |", "| --- | --- | ---: | ---: | ---: | --- |"]
    by: dict[tuple[str, str], list[tuple[str, float]]] = defaultdict(list)
    for _, phase, route, status, secs in run.requests:
        by[(phase, route)].append((status, secs))
    for phase in run.phases:
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
              for p in run.phases if cs[p]]
    pushes: dict[str, list[float | None]] = defaultdict(list)
    for phase, delay in run.pushes:
        pushes[phase].append(delay)
    lines += ["", "## Order pushes (the kiosk page's `/ws/orders/{id}`, through Redis)", "",
              "From the sandbox's approval to the `paid` push on the order's socket, by the phase of the approval; "
              f"missing: no push within {PUSH_WAIT_S:g} s of the order being seen paid.", "",
              "| phase of the approval | pushes | p50 ms | p99 ms | max ms | missing |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for p in run.phases:
        got = [d * 1000 for d in pushes[p] if d is not None]
        if pushes[p]:
            lines.append(f"| {p} | {len(got)} | {statistics.median(got) if got else float('nan'):.0f} | "
                         f"{pct(got, 0.99):.0f} | {max(got, default=float('nan')):.0f} | "
                         f"{sum(d is None for d in pushes[p])} |")
    rec = out.get("reconciliation", {})
    lines += ["", "## Reconciliation (every order placed, asked of commerce after the run)", "",
              f"Orders placed: {rec.get('orders')}.", "", "| final state | orders |", "| --- | ---: |"]
    lines += [f"| {k} | {v} |" for k, v in sorted(rec.get("states", {}).items())]
    lines += ["", "Lost (404) and double-paid (more than one captured payment, or paid more than the total) must be "
              "absent. Problems: " + ("; ".join(rec.get("problems", [])) or "none") + ".", *database_lines(out),
              "", "## Live streams", "",
              f"Frames received per phase: {', '.join(f'{p}: {run.frames[p]}' for p in run.phases if run.frames[p])}.", ""]
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
              f"{sampler.source}. PostgreSQL's RSS sums its server processes, each counting the shared buffers it "
              "touched: an overcount of its memory.", "",
              "| process | seen (s into the load) | CPU s | CPU % of one core while seen | RSS max MiB | "
              "RSS at end (or last seen) MiB |", "| --- | --- | ---: | ---: | ---: | ---: |"]
    for name in sampler.cpu:
        used = sampler.cpu[name] - sampler.cpu0[name]
        first, last = sampler.seen[name]
        lines.append(f"| {name} | {first:.0f}-{last:.0f} | {used:.1f} | {100 * used / max(last - first, 1e-9):.0f} | "
                     f"{sampler.rss_max[name] / 2**20:.0f} | {sampler.rss_last[name] / 2**20:.0f} |")
    lines += ["", "## Not run here", ""]
    if args.services == "shared":
        lines.append("- **PostgreSQL and Redis restarts**: with `--services shared` they are the machine's services, "
                     "used by other work; the bench does not stop them (`--services private` does).")
    lines += ["- The killed edge is not restarted: the rest of the run is on one edge.",
              "- PostgreSQL and Redis stop cleanly (a fast shutdown; SIGTERM): a crash of either (kill -9, a host "
              "lost) is not run.",
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
    fig, ax = plt.subplots(figsize=(12, 4.8))
    routes = sorted({r for _, _, r, _, _ in run.requests})
    for route in routes:
        pts = [(t, s * 1000) for t, _, r, st, s in run.requests if r == route and st.isdigit() and int(st) < 500]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=4, label=route)
    bad = [(t, s * 1000) for t, _, _, st, s in run.requests if not st.isdigit() or int(st) >= 500]
    ax.scatter([p[0] for p in bad], [p[1] for p in bad], s=14, marker="x", color="black",
               label="5xx or no answer (any route)")
    for t, what in run.events:
        if what.startswith(("kill", "stop")) or " healthy again" in what:
            ax.axvline(t, color="red" if what.startswith(("kill", "stop")) else "green", lw=1)
            ax.annotate(what.split(" (")[0].split(",")[0], (t, 1.0), xycoords=("data", "axes fraction"),
                        rotation=90, va="top", ha="right", fontsize=7)
    ax.set_yscale("log")
    ax.set_xlabel("seconds into the load (red: a part killed or stopped, green: healthy again)")
    ax.set_ylabel("request latency, ms")
    ax.legend(fontsize=7, markerscale=2, loc="upper left", bbox_to_anchor=(1.01, 1.0))
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
    ap.add_argument("--faults", default="edge,redis,postgres,commerce",
                    help="comma list of: edge, redis, postgres, commerce (empty: none)")
    ap.add_argument("--services", choices=("private", "shared"), default="private",
                    help="PostgreSQL and Redis: the cluster's own (default; they can be restarted) or the machine's "
                         "(--postgres, --redis; never restarted)")
    ap.add_argument("--postgres", default=os.environ.get("SHOWROOM_TEST_POSTGRES_URL",
                                                         "postgresql://127.0.0.1:5432/test"),
                    help="a PostgreSQL database to connect to; the bench creates (and drops) its own beside it")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args()
    faults = [f for f in args.faults.split(",") if f]
    if set(faults) - set(FAULT_AT):
        ap.error(f"unknown faults: {sorted(set(faults) - set(FAULT_AT))}")
    if args.services == "shared" and {"redis", "postgres"} & set(faults):
        ap.error("the redis and postgres faults need --services private (the machine's services are not restarted)")
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
        services = (["--private-services", "--postgres-port", str(free_port()), "--redis-port", str(free_port())]
                    if args.services == "private" else
                    ["--database-url", f"{base_pg}/{database}", "--redis-url", args.redis])
        started = cli(state_dir, env, "up", "--port", str(port), "--edge-ports", f"{e1},{e2}", "--commerce-port",
                      str(commerce), "--payments-port", str(payments), "--workers", "1", "--assets-dir", str(assets),
                      "--timeout-s", "180", *services)
        print(started.stdout, started.stderr, flush=True)
        if started.returncode != 0:
            return 1
        out = asyncio.run(asyncio.wait_for(drive(args, state_dir, run), args.minutes * 60 + 600))
    finally:
        down = cli(state_dir, env, "down", timeout_s=120)
        print(down.stdout, down.stderr, flush=True)
        if args.services == "shared":
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
