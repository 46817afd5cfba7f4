"""The VR hall benchmark: one run, one table, the machine named, today's single-product stream beside it.

(a) Streams at 2 x (960 x 1080), JPEG, quality pinned, driven by the real head traces of ../shared/vr-traces
    (slerp-resampled to 72 Hz): the single-product VR stream (the 100 g bar, as `bench/node.py` measures it) and
    the hall stream (`mode: "hall"`, the customer standing at the precious-metals counter, the same head motion
    turned to face the showcases), one after the other on the same node: stereo pairs/s, pose-to-frame-sent
    p50/p99 (the node's part) and pose-to-frame-received p50/p99 (the client's, on loopback), render and encode
    p50, bytes per frame.
(b) The browser: headless Chromium opens `/vr` (the hall), the synthetic head turns at 60 deg/s, and the page's
    own counters say how many reprojected views it drew per second (`window.__hall.stats.reprojectFps`) against
    how many stream frames per second arrived: the head is answered at the display's rate, not the stream's.
    Headless Chromium draws with SwiftShader on the CPU here, at the compositor's 60 Hz at most.

Usage: .venv/bin/python bench/hall.py [--assets-dir DIR] [--workers N] [--stream-seconds 8] [--parts a,b]
Writes bench/results/hall.md (or --out DIR) and prints the table.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from node import free_port, get_json, machine, stream_run, summarise, wait_healthy
from showroom_client.stream import play_vr
from showroom_client.traces import PoseSample, load_trace, quat_mul, resample
from showroom_protocol import Hello

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = "bar-au9999-100g"
COUNTER_HEAD_M = (-8.4, 1.6, 0.2)
COUNTER_YAW_DEG = 90.0
"""The gold counter's customer point and facing (render_node/hall/layout.py, zone gold_counter)."""


def hall_poses(trace: Path, hz: float, seconds: float, start_s: float) -> list[PoseSample]:
    """The trace's head rotation, turned to face the showcases, at the counter's head point."""
    times, quats = load_trace(trace)
    turn = (0.0, math.sin(math.radians(COUNTER_YAW_DEG) / 2), 0.0, math.cos(math.radians(COUNTER_YAW_DEG) / 2))
    return [PoseSample(p.t_s, quat_mul(turn, p.orientation_xyzw), COUNTER_HEAD_M)
            for p in resample(times, quats, hz, seconds, start_s=start_s)]


async def hall_run(base: str, traces: list[Path], sessions: int, seconds: float, hz: float = 72.0) -> dict[str, Any]:
    runs = []
    for i in range(sessions):
        poses = hall_poses(traces[i % len(traces)], hz, seconds, 20.0 + 37.0 * i)
        hello = Hello("vr", "", None, 960, 1080, 2, 90.0, 0.064, "jpeg", 200_000, hz, adaptive=False, mode="hall")
        runs.append(play_vr(base, hello, poses, hz, drain_s=2.0))
    return summarise(await asyncio.gather(*runs), sessions, "jpeg")


def browser_run(base: str, seconds: float, delay_ms: int) -> dict[str, float]:
    """Reprojected views/s and stream frames/s in headless Chromium on the hall page while the head turns."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-background-networking", "--enable-unsafe-swiftshader"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(f"{base}/vr?delay_ms={delay_ms}")
            page.wait_for_function("window.__hall && window.__hall.stats && window.__hall.stats.frames > 3",
                                   timeout=120_000)
            page.evaluate("window.__hall.test.turnHead(60)")
            first = page.evaluate("({...window.__hall.stats, t: performance.now()})")
            page.wait_for_timeout(seconds * 1000)
            last = page.evaluate("({...window.__hall.stats, t: performance.now()})")
            # the same turn with the stream held: the node idle, the page reprojecting its last frame alone
            page.evaluate("window.__hall.test.holdPoses(true)")
            page.wait_for_timeout(1000)
            held0 = page.evaluate("({...window.__hall.stats, t: performance.now()})")
            page.wait_for_timeout(seconds * 1000)
            held1 = page.evaluate("({...window.__hall.stats, t: performance.now()})")
            page.evaluate("window.__hall.test.turnHead(0)")
            page.close()
            # the peer: how many animation frames this browser gives a blank page on this machine (its ceiling)
            blank = browser.new_page(viewport={"width": 1280, "height": 720})
            raf_per_s = blank.evaluate("""(ms) => new Promise((done) => {
                let n = 0; const t0 = performance.now();
                const tick = (t) => { n += 1; if (t - t0 < ms) requestAnimationFrame(tick); else done(n * 1000 / (t - t0)); };
                requestAnimationFrame(tick); })""", 2000) if delay_ms == 0 else None
        finally:
            browser.close()
    dt_s = (last["t"] - first["t"]) / 1000
    held_s = (held1["t"] - held0["t"]) / 1000
    return {"delay_ms": delay_ms, "reprojected_per_s": (last["draws"] - first["draws"]) / dt_s,
            "frames_per_s": (last["frames"] - first["frames"]) / dt_s, "raf_per_s": raf_per_s,
            "held_reprojected_per_s": (held1["draws"] - held0["draws"]) / held_s}


def _row(name: str, st: dict[str, Any]) -> str:
    bytes_per_frame = st["kbps"] * 125 / st["pairs_per_s"] if st["pairs_per_s"] else 0.0
    return (f"| {name} | {st['sessions']} | {st['pairs_per_s']:.1f} | {st['send_p50_ms']:.1f} ms | "
            f"{st['send_p99_ms']:.1f} ms | {st['client_p50_ms']:.1f} ms | {st['client_p99_ms']:.1f} ms | "
            f"{st['render_p50_ms']:.1f} ms | {st['encode_p50_ms']:.1f} ms | {bytes_per_frame / 1000:,.0f} KB | "
            f"{st['dropped']}/{st['poses']} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--assets-dir", type=Path, default=None)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--stream-seconds", type=float, default=8.0)
    ap.add_argument("--browser-seconds", type=float, default=5.0)
    ap.add_argument("--parts", default="a,b")
    ap.add_argument("--traces", type=Path, default=ROOT.parent / "shared" / "vr-traces")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    traces = sorted(args.traces.glob("head_*quaternion.txt"))
    if "a" in parts and not traces:
        raise SystemExit(f"no head traces in {args.traces}")
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-hall-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, EGL_PLATFORM="surfaceless")
    if args.assets_dir:
        env["SHOWROOM_ASSETS_DIR"] = str(args.assets_dir)
    showroom = str(Path(sys.executable).with_name("showroom"))
    proc = subprocess.Popen([showroom, "serve", "--port", str(port), "--data-dir", str(work / "data"),
                             "--workers", str(args.workers)], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(work / "serve.log", "wb"))  # noqa: SIM115
    streams: list[tuple[str, dict[str, Any]]] = []
    browser: list[dict[str, float]] = []
    try:
        wait_healthy(base, proc)
        product = get_json(f"{base}/api/products/{PRODUCT}")
        if "a" in parts:
            # warm both paths once (models, probes, panels) so neither row pays a first-frame cost
            asyncio.run(stream_run(base, product, traces, 1, 1.0, "jpeg"))
            asyncio.run(hall_run(base, traces, 1, 1.0))
            streams.append(("single product (today's VR stream)", asyncio.run(
                stream_run(base, product, traces, 1, args.stream_seconds, "jpeg"))))
            streams.append(("hall, gold counter", asyncio.run(hall_run(base, traces, 1, args.stream_seconds))))
        if "b" in parts and shutil.which("chromium"):
            for delay_ms in (0, 200):
                browser.append(browser_run(base, args.browser_seconds, delay_ms))
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [f"# VR hall benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "",
             f"Machine: {machine(gpu=True)}; load average {load} (1/5/15 min) at the end; {args.workers} render workers.", ""]
    if streams:
        lines += ["## (a) Stereo stream, 2 x (960 x 1080), JPEG, real head traces at 72 Hz, quality pinned", "",
                  "| stream | sessions | pairs/s | pose->sent p50 | p99 | pose->received p50 | p99 | render p50 "
                  "| encode p50 | bytes/frame | poses dropped |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        lines += [_row(name, st) for name, st in streams]
        lines.append("")
    if browser:
        lines += ["## (b) Client-side reprojection in headless Chromium (/vr, the head turning at 60 deg/s)", "",
                  "| simulated link delay | reprojected views/s | stream frames/s | reprojected views/s, stream held "
                  "(node idle) |", "| ---: | ---: | ---: | ---: |"]
        lines += [f"| {b['delay_ms']} ms | {b['reprojected_per_s']:.1f} | {b['frames_per_s']:.1f} | "
                  f"{b['held_reprojected_per_s']:.1f} |" for b in browser]
        raf = next((b["raf_per_s"] for b in browser if b.get("raf_per_s")), None)
        if raf:
            lines += ["", f"The peer, in the same browser right after: requestAnimationFrame on a blank page ran "
                          f"{raf:.1f} times a second (the most this headless browser draws here)."]
        lines.append("")
    report = "\n".join(lines)
    (args.out / "hall.md").write_text(report)
    print(report)
    print(f"table: {args.out / 'hall.md'}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
