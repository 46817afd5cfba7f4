"""Edge node benchmark: one run, one table, one plot, the machine named.

(a) cached view serving: requests/s of the node vs nginx serving the same content-addressed files on
    loopback (wrk, cycling through a view set's frames), two rounds compared within each round (the machine
    may be shared), plus the server's CPU time per request (/proc, independent of its share); target >= 0.5 x
    nginx.
(b) VR stream at 2 x (960 x 1080) driven by the real head traces of ../shared/vr-traces (slerp-resampled to
    72 Hz), quality pinned: sustained stereo pairs/s and pose-to-frame-sent p50/p99 with 1 and 4 sessions
    (and H.264 beside JPEG at 1 session).
(c) a cold 36 x 3 view set at 1280 x 720, seconds.

Usage: .venv/bin/python bench/node.py [--assets-dir DIR] [--workers N] [--wrk-seconds 5] [--stream-seconds 8]
Writes bench/results/node.md and node.png (or --out DIR).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
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
from typing import Any

from showroom_client.stream import percentile, play_vr
from showroom_client.traces import load_trace, resample
from showroom_protocol import Hello

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    gpu = "no GPU: Mesa llvmpipe (software GL)"
    if shutil.which("nvidia-smi"):
        with contextlib.suppress(Exception):
            gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                 text=True, timeout=10).stdout.strip() or gpu
    return f"{cpu}, {os.cpu_count()} cores, {gpu}, Python {platform.python_version()}, {platform.system()}"


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


def wrk_run(url: str, seconds: int, lua: Path | None, connections: int = 32) -> tuple[float, int]:
    """(requests/s, requests) of one wrk run."""
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
    return float(m.group(1)), int(n.group(1))


def wrk(url: str, seconds: int, lua: Path | None, connections: int = 32) -> float:
    return wrk_run(url, seconds, lua, connections)[0]


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


def serve_run(url: str, seconds: int, lua: Path, pids: list[int]) -> tuple[float, float]:
    """(requests/s, server CPU microseconds per request): the CPU figure does not depend on how much of the
    shared machine the server got, the requests/s does."""
    c0 = cpu_seconds(pids)
    rps, n = wrk_run(url, seconds, lua)
    return rps, (cpu_seconds(pids) - c0) / max(1, n) * 1e6


def nginx_conf(root: Path, views_dir: Path, port: int, workers: str) -> Path:
    for d in ("tmp", "logs"):
        (root / d).mkdir(parents=True, exist_ok=True)
    conf = root / f"nginx-{workers}.conf"
    conf.write_text(f"""
worker_processes {workers};
daemon off;
pid {root}/nginx-{workers}.pid;
error_log {root}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on; tcp_nopush on; keepalive_requests 1000000;
  types {{ image/jpeg jpg; image/png png; image/webp webp; }}
  client_body_temp_path {root}/tmp/body; proxy_temp_path {root}/tmp/proxy; fastcgi_temp_path {root}/tmp/fcgi;
  uwsgi_temp_path {root}/tmp/uwsgi; scgi_temp_path {root}/tmp/scgi;
  server {{
    listen 127.0.0.1:{port};
    location /views/ {{
      alias {views_dir}/;
      add_header Cache-Control "public, max-age=31536000, immutable";
    }}
  }}
}}
""")
    return conf


def find_nginx() -> str | None:
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if path is None and shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light"], check=False)
        path = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    return path


async def stream_run(base: str, product: dict[str, Any], traces: list[Path], sessions: int, seconds: float,
                     codec: str, hz: float = 72.0) -> dict[str, Any]:
    dims = [float(d) / 1000 for d in product.get("dimensions_mm") or [50, 50, 50]]
    distance = max(0.25, max(dims) / 2 / 1.0 * 1.4)
    runs = []
    for i in range(sessions):
        times, quats = load_trace(traces[i % len(traces)])
        poses = resample(times, quats, hz, seconds, start_s=20.0 + 37.0 * i, distance_m=distance,
                         target_m=(0.0, dims[1] / 2, 0.0))
        hello = Hello("vr", product["id"], None, 960, 1080, 2, 90.0, 0.064, codec, 200_000, hz, adaptive=False)
        runs.append(play_vr(base, hello, poses, hz, drain_s=2.0))
    reports = await asyncio.gather(*runs)
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
    axes[0].bar(names, [serving[n] for n in names], color=["#c9a227", "#4a78b5", "#7aa6d8"][: len(names)])
    axes[0].set_title("(a) cached view frames, requests/s")
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--assets-dir", type=Path, default=None)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--wrk-seconds", type=int, default=5)
    ap.add_argument("--stream-seconds", type=float, default=8.0)
    ap.add_argument("--sessions", default="1,4")
    ap.add_argument("--traces", type=Path, default=ROOT.parent / "shared" / "vr-traces")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()
    traces = sorted(args.traces.glob("head_*quaternion.txt"))
    if not traces:
        raise SystemExit(f"no head traces in {args.traces}")
    if not shutil.which("wrk"):
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
    nginx_procs: list[subprocess.Popen[bytes]] = []
    try:
        wait_healthy(base, proc)
        products = get_json(base + "/api/products")["products"]
        product = products[0]
        # (c) cold view set at 720p
        t0 = time.perf_counter()
        manifest = get_json(f"{base}/api/products/{product['id']}/views?size=1280x720")
        cold_s = time.perf_counter() - t0
        paths = [f["url"] for f in manifest["frames"]]
        lua = work / "frames.lua"
        lua.write_text("paths = {" + ",".join(json.dumps(p) for p in paths) + "}\ni = 0\n"
                       "request = function()\n  i = i % #paths + 1\n  return wrk.format('GET', paths[i])\nend\n")
        # (a) node vs nginx on the same files, two rounds (the machine is shared: compare within a round)
        serving_runs: dict[str, list[tuple[float, float]]] = {}
        wrk(base + paths[0], 1, lua)  # warm the memory cache
        node_pids = [proc.pid]  # the HTTP process; its render workers are idle here
        nginx = find_nginx()
        for _round in range(2):
            serving_runs.setdefault("node (1 process)", []).append(
                serve_run(base + paths[0], args.wrk_seconds, lua, node_pids))
            for workers in ("1", "auto") if nginx else ():
                assert nginx is not None
                nport = free_port()
                conf = nginx_conf(work / "nginx", work / "data" / "views", nport, workers)
                p = subprocess.Popen([nginx, "-c", str(conf), "-p", str(work / "nginx")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                nginx_procs.append(p)
                time.sleep(0.7)
                serving_runs.setdefault(f"nginx ({workers} worker{'s' if workers != '1' else ''})", []).append(
                    serve_run(f"http://127.0.0.1:{nport}{paths[0]}", args.wrk_seconds, lua,
                              process_tree(p.pid)))
                p.terminate()
                p.wait(10)
        serving = {name: statistics.mean(r for r, _ in runs) for name, runs in serving_runs.items()}
        # (b) VR stream with the real head traces
        streams = []
        for n in (int(x) for x in args.sessions.split(",")):
            streams.append(asyncio.run(stream_run(base, product, traces, n, args.stream_seconds, "jpeg")))
        streams.append(asyncio.run(stream_run(base, product, traces, 1, args.stream_seconds, "h264")))
    finally:
        for p in nginx_procs:
            if p.poll() is None:
                p.kill()
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    mach = machine()
    lines = [f"# Edge node benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "",
             f"Machine: {mach}; {args.workers} render workers; product `{product['id']}`.", "",
             "## (a) cached view frames (wrk -t2 -c32, cycling through 108 frames of a 720p set; two rounds)", "",
             "| server | requests/s, round 1 | round 2 | vs nginx (auto), same round | server CPU per request |",
             "| --- | ---: | ---: | ---: | ---: |"]
    refs = serving_runs.get("nginx (auto workers)")
    for name, runs in serving_runs.items():
        ratio = " / ".join(f"{r / ref[0]:.2f}x" for (r, _), ref in zip(runs, refs, strict=True)) if refs else "-"
        cpu_us = statistics.mean(c for _, c in runs)
        lines.append(f"| {name} | {runs[0][0]:,.0f} | {runs[1][0]:,.0f} | {ratio} | {cpu_us:.0f} us |")
    lines += ["", "## (b) VR stream, 2 x (960 x 1080), real head traces at 72 Hz, quality pinned", "",
              "| sessions | codec | pairs/s (all) | fps/session | pose->sent p50 | p99 | client p50 | p99 "
              "| render p50 | encode p50 | kbit/s | poses dropped |",
              "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for s in streams:
        lines.append(f"| {s['sessions']} | {s['codec']} | {s['pairs_per_s']:.1f} | {s['per_session_fps']:.1f} | "
                     f"{s['send_p50_ms']:.1f} ms | {s['send_p99_ms']:.1f} ms | {s['client_p50_ms']:.1f} ms | "
                     f"{s['client_p99_ms']:.1f} ms | {s['render_p50_ms']:.1f} ms | {s['encode_p50_ms']:.1f} ms | "
                     f"{s['kbps']:,.0f} | {s['dropped']}/{s['poses']} |")
    lines += ["", "## (c) cold 36 x 3 view set at 1280 x 720", "", f"{cold_s:.1f} s for {len(paths)} frames "
              f"({len(paths) / cold_s:.1f} frames/s over {args.workers} workers)", ""]
    report = "\n".join(lines)
    (args.out / "node.md").write_text(report)
    plot(args.out / "node.png", serving, streams, cold_s, f"showroom edge node - {mach}")
    print(report)
    print(f"table: {args.out / 'node.md'}; plot: {args.out / 'node.png'}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
