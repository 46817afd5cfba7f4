"""Edge node benchmark: one run, one table, one plot, the machine named.

(a) view frames on loopback, side by side on the same content-addressed files (wrk -t2 -c32 cycling through a
    view set's 108 frames, a few seconds a row): the node alone (aiohttp, frames from its memory cache); nginx
    with the deployment's config (deploy/nginx/edge-cache.conf: upstream, listen and cache folder pointed here)
    in front of the node, cold (every request a cache miss: a unique query string per request, keyed by it in
    this copy only) and warm (every request a hit); and nginx serving the files straight from disk (the peer).
    Requests/s, p50/p99 latency, and the servers' CPU time per request (/proc: nginx and the node together,
    independent of their share of a shared machine).
(b) VR stream at 2 x (960 x 1080) driven by the real head traces of ../shared/vr-traces (slerp-resampled to
    72 Hz), quality pinned: sustained stereo pairs/s and pose-to-frame-sent p50/p99 with 1 and 4 sessions
    (and H.264 beside JPEG at 1 session).
(c) a cold 36 x 3 view set at 1280 x 720, seconds.

Usage: .venv/bin/python bench/node.py [--assets-dir DIR] [--workers N] [--wrk-seconds 5] [--stream-seconds 8]
                                     [--rounds 1] [--parts a,b,c] [--size 1280x720]
Writes bench/results/node.md and node.png (or --out DIR); prints the table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Literal

from showroom_client.stream import StreamReport, percentile, play_vr
from showroom_client.traces import load_trace, resample
from showroom_protocol import Hello

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._machine import machine  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])




def get_json(url: str, timeout_s: float = 900) -> Any:
    with urllib.request.urlopen(url, timeout=timeout_s) as r:
        return json.loads(r.read())


def wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout_s: float = 180) -> None:
    end = time.time() + timeout_s
    while time.time() < end:
        if proc.poll() is not None:
            raise SystemExit(f"showroom serve exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            if get_json(base + "/healthz", 2)["status"] == "ok":
                return
        time.sleep(0.5)
    raise SystemExit("showroom serve did not become healthy")


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _latency_ms(out: str, pct: int) -> float:
    m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", out, flags=re.M)
    return float(m.group(1)) * _UNIT_MS[m.group(2)] if m else float("nan")


def wrk_run(url: str, seconds: int, lua: Path | None, connections: int = 32) -> dict[str, float]:
    """requests/s, requests, p50_ms and p99_ms of one wrk run."""
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if lua is not None:
        cmd += ["-s", str(lua)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=seconds + 60).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    n = re.search(r"(\d+) requests in", out)
    if not m or not n:
        raise SystemExit(f"wrk said: {out}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non2xx:
        raise SystemExit(f"wrk saw {non2xx.group(1)} errors from {url}")
    return {"rps": float(m.group(1)), "requests": int(n.group(1)), "p50_ms": _latency_ms(out, 50),
            "p99_ms": _latency_ms(out, 99)}


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of `pids` so far (Linux /proc)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def serve_run(url: str, seconds: int, lua: Path, pids: list[int]) -> dict[str, float]:
    """wrk_run's figures plus cpu_us: the servers' CPU microseconds per request, which does not depend on how
    much of the shared machine they got (the requests/s does)."""
    c0 = cpu_seconds(pids)
    run = wrk_run(url, seconds, lua)
    run["cpu_us"] = (cpu_seconds(pids) - c0) / max(1, run["requests"]) * 1e6
    return run


def _main_conf(root: Path, name: str, workers: str, body: str) -> Path:
    for d in ("tmp", "logs"):
        (root / d).mkdir(parents=True, exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers write the cache under a private tmp folder
    temp = " ".join(f"{kind}_temp_path {root / 'tmp' / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                              "uwsgi", "scgi"))
    conf = root / f"{name}.conf"
    conf.write_text(f"{user}worker_processes {workers};\ndaemon off;\npid {root / name}.pid;\n"
                    f"error_log {root}/logs/error.log warn;\nevents {{ worker_connections 1024; }}\n"
                    f"http {{\n  access_log off;\n  keepalive_requests 1000000;\n  {temp}\n{body}\n}}\n")
    return conf


def deploy_front_conf(root: Path, upstream: str, port: int, cache_dir: Path, *, cold: bool = False) -> Path:
    """The deployment's edge-cache.conf with the upstream, listen address and cache folder pointed here; `cold`
    keys frames by the whole request URI, so a unique query string makes every request a miss."""
    text = (ROOT / "deploy" / "nginx" / "edge-cache.conf").read_text()
    changes = [("edge.showroom.svc.cluster.local:8080", upstream), ("listen 8080;", f"listen 127.0.0.1:{port};"),
               ("/var/cache/nginx/views", str(cache_dir))]
    if cold:
        changes.append(("proxy_cache_key $uri;", "proxy_cache_key $request_uri;"))
    for old, new in changes:
        if text.count(old) != 1:
            raise SystemExit(f"deploy/nginx/edge-cache.conf no longer has {old!r} once")
        text = text.replace(old, new)
    name = "front-cold" if cold else "front"
    (root / f"{name}-site.conf").parent.mkdir(parents=True, exist_ok=True)
    (root / f"{name}-site.conf").write_text(text)
    return _main_conf(root, name, "1", f"  include {root / name}-site.conf;")


def nginx_conf(root: Path, views_dir: Path, port: int, workers: str) -> Path:
    """The peer: nginx serving the view files straight from the node's disk cache."""
    return _main_conf(root, f"disk-{workers}", workers, f"""
  sendfile on; tcp_nopush on;
  types {{ image/jpeg jpg; image/png png; image/webp webp; }}
  server {{
    listen 127.0.0.1:{port};
    location /views/ {{
      alias {views_dir}/;
      add_header Cache-Control "public, max-age=31536000, immutable";
    }}
  }}""")


def start_nginx(nginx: str, conf: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(conf.parent), "-e",
                             str(conf.parent / "logs" / "error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.time() + 10
    while time.time() < end:
        if proc.poll() is not None:
            raise SystemExit(f"nginx exited: {(conf.parent / 'logs' / 'error.log').read_text()[-1000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return proc
        time.sleep(0.05)
    raise SystemExit("nginx did not start")


def stop_nginx(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def find_nginx() -> str | None:
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if path is None and shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light"], check=False)
        path = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    return path


async def stream_run(base: str, product: dict[str, Any], traces: list[Path], sessions: int, seconds: float,
                     codec: Literal["jpeg", "webp", "h264", "png"], hz: float = 72.0) -> dict[str, Any]:
    dims = [float(d) / 1000 for d in product.get("dimensions_mm") or [50, 50, 50]]
    distance = max(0.25, max(dims) / 2 / 1.0 * 1.4)
    runs = []
    for i in range(sessions):
        times, quats = load_trace(traces[i % len(traces)])
        poses = resample(times, quats, hz, seconds, start_s=20.0 + 37.0 * i, distance_m=distance,
                         target_m=(0.0, dims[1] / 2, 0.0))
        hello = Hello("vr", product["id"], None, 960, 1080, 2, 90.0, 0.064, codec, 200_000, hz, adaptive=False)
        runs.append(play_vr(base, hello, poses, hz, drain_s=2.0))
    return summarise(await asyncio.gather(*runs), sessions, codec)


def summarise(reports: list[StreamReport], sessions: int, codec: str) -> dict[str, Any]:
    """One table row of concurrent stream sessions: pairs/s over all, latencies, stage times, bandwidth."""
    frames = sum(r.frames for r in reports)
    duration = max(r.duration_s for r in reports)
    server = [x for r in reports for x in r.server_latencies_s]
    client = [x for r in reports for x in r.latencies_s]
    return {
        "sessions": sessions, "codec": codec, "pairs_per_s": frames / duration if duration else 0.0,
        "per_session_fps": statistics.mean(r.fps for r in reports),
        "send_p50_ms": percentile(server, 50) * 1000, "send_p99_ms": percentile(server, 99) * 1000,
        "client_p50_ms": percentile(client, 50) * 1000, "client_p99_ms": percentile(client, 99) * 1000,
        "kbps": sum(r.bandwidth_kbps for r in reports), "dropped": sum(r.poses_dropped for r in reports),
        "poses": sum(r.poses_sent for r in reports),
        "render_p50_ms": statistics.median(r.stage_ms["render"]["p50"] for r in reports),
        "encode_p50_ms": statistics.median(r.stage_ms["encode"]["p50"] for r in reports),
    }


def plot(out: Path, serving: dict[str, float], streams: list[dict[str, Any]], cold_s: float, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    names = list(serving)
    axes[0].bar(names, [serving[n] for n in names], color=["#c9a227", "#b5744a", "#4a78b5", "#7aa6d8", "#a6c8ea"][: len(names)])
    axes[0].set_title("(a) view frames, requests/s")
    axes[0].tick_params(axis="x", labelrotation=15)
    labels = [f"{s['sessions']}x {s['codec']}" for s in streams]
    x = range(len(streams))
    axes[1].bar([i - 0.2 for i in x], [s["send_p50_ms"] for s in streams], 0.4, label="p50")
    axes[1].bar([i + 0.2 for i in x], [s["send_p99_ms"] for s in streams], 0.4, label="p99")
    axes[1].set_xticks(list(x), labels)
    axes[1].set_title("(b) pose -> frame sent, ms (2x960x1080)")
    axes[1].legend()
    ax2 = axes[2]
    ax2.bar([*labels, "cold 36x3 720p (s)"], [s["pairs_per_s"] for s in streams] + [cold_s],
            color=["#4a78b5"] * len(streams) + ["#c9a227"])
    ax2.set_title("(b) stereo pairs/s   |   (c) view set, s")
    ax2.tick_params(axis="x", labelrotation=15)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def frames_lua(path: Path, paths: list[str], *, unique: bool = False) -> Path:
    """A wrk script cycling through `paths`; `unique` adds a query string no request repeats (cache misses)."""
    nonce = f"{os.getpid()}-{time.time_ns()}"
    target = "paths[i] .. '?miss=' .. nonce .. '-' .. id .. '-' .. n" if unique else "paths[i]"
    path.write_text(
        "paths = {" + ",".join(json.dumps(p) for p in paths) + "}\n"
        f"nonce = {json.dumps(nonce)}\nid = 0\nn = 0\ni = 0\nlocal threads = 0\n"
        "function setup(thread)\n  thread:set('id', threads)\n  threads = threads + 1\nend\n"
        "request = function()\n  n = n + 1\n  i = i % #paths + 1\n"
        f"  return wrk.format('GET', {target})\nend\n")
    return path


def prime(base: str, paths: list[str]) -> None:
    for p in paths:
        with urllib.request.urlopen(base + p, timeout=30) as r:
            r.read()


def serving_rows(base: str, node_pid: int, paths: list[str], work: Path, seconds: int, rounds: int,
                 nginx: str | None) -> dict[str, list[dict[str, float]]]:
    """(a): every row on the same frame files, `rounds` times; a row's CPU is that of every server it uses."""
    cycle = frames_lua(work / "frames.lua", paths)
    upstream = base.removeprefix("http://")
    rows: dict[str, list[dict[str, float]]] = {}
    prime(base, paths)  # the node's memory cache holds them after rendering; this makes sure
    for r in range(rounds):
        rows.setdefault("node alone (aiohttp, memory cache)", []).append(
            serve_run(base + paths[0], seconds, cycle, [node_pid]))
        if nginx is None:
            continue
        port = free_port()
        conf = deploy_front_conf(work / "nginx", upstream, port, work / "nginx" / f"cache-cold-{r}", cold=True)
        proc = start_nginx(nginx, conf, port)
        try:
            unique = frames_lua(work / "frames-miss.lua", paths, unique=True)
            rows.setdefault("nginx cache in front, cold (all MISS)", []).append(
                serve_run(f"http://127.0.0.1:{port}{paths[0]}", seconds, unique, [*process_tree(proc.pid), node_pid]))
        finally:
            stop_nginx(proc)
        port = free_port()
        conf = deploy_front_conf(work / "nginx", upstream, port, work / "nginx" / f"cache-warm-{r}")
        proc = start_nginx(nginx, conf, port)
        try:
            prime(f"http://127.0.0.1:{port}", paths)
            rows.setdefault("nginx cache in front, warm (all HIT)", []).append(
                serve_run(f"http://127.0.0.1:{port}{paths[0]}", seconds, cycle, [*process_tree(proc.pid), node_pid]))
        finally:
            stop_nginx(proc)
        for workers in ("1", "auto"):
            port = free_port()
            proc = start_nginx(nginx, nginx_conf(work / "nginx", work / "data" / "views", port, workers), port)
            try:
                name = f"nginx from disk, peer ({workers} worker{'s' if workers != '1' else ''})"
                rows.setdefault(name, []).append(
                    serve_run(f"http://127.0.0.1:{port}{paths[0]}", seconds, cycle, process_tree(proc.pid)))
            finally:
                stop_nginx(proc)
        shutil.rmtree(work / "nginx" / f"cache-cold-{r}", ignore_errors=True)
    return rows


def serving_table(rows: dict[str, list[dict[str, float]]], rounds: int, seconds: int, frames: int,
                  size: str) -> list[str]:
    lines = [f"## (a) view frames: wrk -t2 -c32, {seconds} s a row, cycling through the {frames} frames of one "
             f"{size} set; mean of {rounds} round(s)", "",
             "| server | requests/s | p50 | p99 | server CPU per request | vs nginx from disk (1 worker) |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    ref_runs = rows.get("nginx from disk, peer (1 worker)")
    ref = statistics.mean(r["rps"] for r in ref_runs) if ref_runs else None
    for name, runs in rows.items():
        rps = statistics.mean(r["rps"] for r in runs)
        lines.append(f"| {name} | {rps:,.0f} | {statistics.mean(r['p50_ms'] for r in runs):.2f} ms | "
                     f"{statistics.mean(r['p99_ms'] for r in runs):.2f} ms | "
                     f"{statistics.mean(r['cpu_us'] for r in runs):.0f} us | "
                     f"{f'{rps / ref:.2f}x' if ref else '-'} |")
    lines += ["", "CPU per request counts every server process a row uses (nginx master and worker, and the node's "
              "HTTP process for the rows in front of it); wrk runs on the same cores.", ""]
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--assets-dir", type=Path, default=None)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--wrk-seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--size", default="1280x720", help="frame size of the view set (a) and (c) use")
    ap.add_argument("--parts", default="a,b,c", help="which parts to run (c always renders the set (a) serves)")
    ap.add_argument("--stream-seconds", type=float, default=8.0)
    ap.add_argument("--sessions", default="1,4")
    ap.add_argument("--traces", type=Path, default=ROOT.parent / "shared" / "vr-traces")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    traces = sorted(args.traces.glob("head_*quaternion.txt"))
    if "b" in parts and not traces:
        raise SystemExit(f"no head traces in {args.traces}")
    if "a" in parts and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-node-"))
    work.chmod(0o755)  # nginx workers run as an unprivileged user and must read the view files
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, EGL_PLATFORM="surfaceless")
    if args.assets_dir:
        env["SHOWROOM_ASSETS_DIR"] = str(args.assets_dir)
    showroom = str(Path(sys.executable).with_name("showroom"))
    proc = subprocess.Popen([showroom, "serve", "--role", "edge", "--port", str(port), "--data-dir",
                             str(work / "data"), "--workers", str(args.workers)], env=env,
                            stdout=subprocess.DEVNULL, stderr=open(work / "serve.log", "wb"))  # noqa: SIM115
    rows: dict[str, list[dict[str, float]]] = {}
    streams: list[dict[str, Any]] = []
    try:
        wait_healthy(base, proc)
        products = get_json(base + "/api/products")["products"]
        product = products[0]
        # (c) cold view set
        t0 = time.perf_counter()
        manifest = get_json(f"{base}/api/products/{product['id']}/views?size={args.size}")
        cold_s = time.perf_counter() - t0
        paths = [f["url"] for f in manifest["frames"]]
        if "a" in parts:
            rows = serving_rows(base, proc.pid, paths, work, args.wrk_seconds, args.rounds, find_nginx())
        if "b" in parts:  # VR stream with the real head traces
            for n in (int(x) for x in args.sessions.split(",")):
                streams.append(asyncio.run(stream_run(base, product, traces, n, args.stream_seconds, "jpeg")))
            streams.append(asyncio.run(stream_run(base, product, traces, 1, args.stream_seconds, "h264")))
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    mach = machine(gpu=True)
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [f"# Edge node benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "",
             f"Machine: {mach}; load average {load} (1/5/15 min) at the end; {args.workers} render workers; "
             f"product `{product['id']}`.", ""]
    if rows:
        lines += serving_table(rows, args.rounds, args.wrk_seconds, len(paths), args.size)
    if streams:
        lines += ["## (b) VR stream, 2 x (960 x 1080), real head traces at 72 Hz, quality pinned", "",
                  "| sessions | codec | pairs/s (all) | fps/session | pose->sent p50 | p99 | client p50 | p99 "
                  "| render p50 | encode p50 | kbit/s | poses dropped |",
                  "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for st in streams:
            lines.append(f"| {st['sessions']} | {st['codec']} | {st['pairs_per_s']:.1f} | "
                         f"{st['per_session_fps']:.1f} | {st['send_p50_ms']:.1f} ms | {st['send_p99_ms']:.1f} ms | "
                         f"{st['client_p50_ms']:.1f} ms | {st['client_p99_ms']:.1f} ms | "
                         f"{st['render_p50_ms']:.1f} ms | {st['encode_p50_ms']:.1f} ms | {st['kbps']:,.0f} | "
                         f"{st['dropped']}/{st['poses']} |")
        lines.append("")
    lines += [f"## (c) cold 36 x 3 view set at {args.size}", "", f"{cold_s:.1f} s for {len(paths)} frames "
              f"({len(paths) / cold_s:.1f} frames/s over {args.workers} workers)", ""]
    report = "\n".join(lines)
    (args.out / "node.md").write_text(report)
    serving = {name: statistics.mean(r["rps"] for r in runs) for name, runs in rows.items()}
    plot(args.out / "node.png", serving, streams, cold_s, f"showroom edge node - {mach}")
    print(report)
    print(f"table: {args.out / 'node.md'}; plot: {args.out / 'node.png'}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
