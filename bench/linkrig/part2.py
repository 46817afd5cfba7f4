"""bench/links.py part 2: the product through each link profile. The node (`showroom serve`, the real renderer)
and nginx in front of it (deploy/nginx/edge-cache.conf) run in the root namespace; every client runs in the
link's namespace (bench/linkrig/product.py under `ip netns exec`).

Per profile (good, typical, edge): the VR stream with JPEG and with H.264 (stereo pairs/s, pose-to-frame p50/p99,
stalls = gaps of more than STALL_S between frames), a 360 view set through nginx (first frame, whole set), the
try-on stream (replies/s). `edge` once more without its loss (the head-of-line question: how much of the tail is
TCP waiting for a retransmission). The drop: the VR stream on `typical` whose rate falls to 5 Mbit/s and comes
back to 100: how long until the frames fit the new rate (bytes x target fps <= the rate) and until they are back
to their size before the drop.
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from showroom_client.stream import percentile as pct

from bench.linkrig.netns import Link, link
from bench.linkrig.profiles import Profile, profile

ROOT = Path(__file__).resolve().parents[2]
STALL_S = 0.25
DROP_TO_MBIT = 5.0
PRODUCT_VR = "bar-au9999-10g"
PRODUCT_TRYON = "necklace-pendant-heart"
SPIN_SIZE = "960x720"


@dataclass(frozen=True)
class Settings:
    seconds: float = 20.0
    drop_before_s: float = 10.0
    drop_for_s: float = 15.0
    drop_after_s: float = 25.0
    tryon_frames: int = 90
    hz: float = 30.0
    width: int = 640
    height: int = 720
    eyes: int = 2

    @classmethod
    def quick(cls) -> Settings:
        return cls(seconds=8.0, drop_before_s=6.0, drop_for_s=10.0, drop_after_s=16.0, tryon_frames=30)


def client(ln: Link, *args: str, timeout_s: float = 300) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(["ip", "netns", "exec", ln.ns, sys.executable, "-m", "bench.linkrig.product", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise RuntimeError(f"client {args[0]} failed: {done.stderr[-1500:]}")
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def vr_args(url: str, st: Settings, seconds: float, codec: str) -> list[str]:
    return ["vr", "--url", url, "--product", PRODUCT_VR, "--seconds", str(seconds), "--hz", str(st.hz),
            "--target-fps", str(st.hz), "--codec", codec, "--width", str(st.width), "--height", str(st.height),
            "--eyes", str(st.eyes)]


def vr_summary(run: dict[str, Any], *, skip_s: float = 1.0) -> dict[str, float]:
    """Pairs/s, latency and stalls over the run after its first `skip_s` (connect, first render)."""
    t0 = run["t0"] + skip_s
    frames = [f for f in run["frames"] if f[0] >= t0]
    seconds = run["seconds"] - skip_s
    times = [t0] + [f[0] for f in frames]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    lat = [f[5] for f in frames]
    return {"pairs_per_s": len(frames) / seconds, "p50_ms": pct(lat, 50) * 1000, "p99_ms": pct(lat, 99) * 1000,
            "stalls": sum(g > STALL_S for g in gaps), "longest_gap_ms": max(gaps, default=float("nan")) * 1000,
            "kbps": sum(f[1] for f in frames) * 8 / 1000 / seconds,
            "bytes_p50": pct([float(f[1]) for f in frames], 50)}


def drop_summary(run: dict[str, Any], dropped_at: float, restored_at: float, target_fps: float
                 ) -> dict[str, float]:
    """Seconds from the drop until the frames fit it for a whole second (bytes x target fps <= DROP_TO_MBIT),
    and from the rate's return until a second of frames is back to 90 % of the size before the drop."""
    frames = run["frames"]
    budget_b = DROP_TO_MBIT * 1e6 / 8 / target_fps
    before = [f[1] for f in frames if dropped_at - 4 <= f[0] < dropped_at]
    size_before = statistics.median(before) if before else float("nan")

    def first_second(start: float, end: float, ok: Any) -> float:
        for f in frames:
            t = float(f[0])
            if t < start or t > end - 1:
                continue
            window = [g for g in frames if t <= g[0] < t + 1]
            if window and ok(window):
                return t - start
        return float("nan")

    fit_s = first_second(dropped_at, restored_at, lambda w: all(g[1] <= budget_b for g in w))
    end = frames[-1][0] + 1 if frames else restored_at
    climb_s = first_second(restored_at, end, lambda w: statistics.median(g[1] for g in w) >= 1.5 * budget_b)
    climb_full_s = first_second(restored_at, end, lambda w: statistics.median(g[1] for g in w) >= 0.9 * size_before)
    during = [f for f in frames if dropped_at <= f[0] < restored_at]
    lat_during = [f[5] for f in during]
    times = [dropped_at] + [f[0] for f in during] + [restored_at]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return {"fit_s": fit_s, "climb_s": climb_s, "climb_full_s": climb_full_s, "size_before": size_before,
            "after_s": end - restored_at,
            "size_low": min((f[1] for f in during), default=float("nan")),
            "budget_b": budget_b, "p50_during_ms": pct(lat_during, 50) * 1000,
            "p99_during_ms": pct(lat_during, 99) * 1000, "stalls_during": sum(g > STALL_S for g in gaps),
            "pairs_per_s_during": len(during) / max(1e-9, restored_at - dropped_at)}


def measure_profile(p: Profile, ns: str, subnet: int, servers: Servers, photo: Path, st: Settings
                    ) -> dict[str, Any]:
    with link(p, ns, subnet=subnet) as ln:
        url = f"http://{ln.root_addr}:{servers.port}"
        front = f"http://{ln.root_addr}:{servers.nginx_port}"
        standin = f"http://{ln.root_addr}:{servers.standin_port}"
        out: dict[str, Any] = {
            "jpeg": vr_summary(client(ln, *vr_args(url, st, st.seconds, "jpeg"))),
            "h264": vr_summary(client(ln, *vr_args(url, st, st.seconds, "h264"))),
            "standin jpeg": vr_summary(client(ln, *vr_args(standin, st, st.seconds, "jpeg"))),
            "standin h264": vr_summary(client(ln, *vr_args(standin, st, st.seconds, "h264"))),
            "spin": client(ln, "spin", "--url", front, "--product", PRODUCT_VR, "--size", SPIN_SIZE),
            "tryon": client(ln, "tryon", "--url", url, "--product", PRODUCT_TRYON, "--photo", str(photo),
                            "--frames", str(st.tryon_frames), "--fps", "15"),
        }
    return out


def measure_edge_without_loss(ns: str, subnet: int, port: int, st: Settings) -> dict[str, float]:
    with link(profile("edge").without_loss(), ns, subnet=subnet) as ln:
        return vr_summary(client(ln, *vr_args(f"http://{ln.root_addr}:{port}", st, st.seconds, "jpeg")))


def measure_drop(ns: str, subnet: int, port: int, st: Settings) -> dict[str, Any]:
    typical = profile("typical")
    seconds = st.drop_before_s + st.drop_for_s + st.drop_after_s
    marks: dict[str, float] = {}
    with link(typical, ns, subnet=subnet) as ln:
        result: list[dict[str, Any]] = []
        errors: list[BaseException] = []

        def play() -> None:
            try:
                result.append(client(ln, *vr_args(f"http://{ln.root_addr}:{port}", st, seconds, "jpeg")))
            except BaseException as exc:  # handed to the main thread
                errors.append(exc)

        player = threading.Thread(target=play)
        player.start()
        time.sleep(st.drop_before_s + 1.0)  # the client's connect and hello take about a second
        ln.set_rate(DROP_TO_MBIT, DROP_TO_MBIT)
        marks["dropped"] = time.time()
        time.sleep(st.drop_for_s)
        ln.set_rate(typical.down_mbit, typical.up_mbit)
        marks["restored"] = time.time()
        player.join()
    if errors:
        raise errors[0]
    run = result[0]
    return {"summary": vr_summary(run), "drop": drop_summary(run, marks["dropped"], marks["restored"], st.hz),
            "series": per_second(run, marks["dropped"], marks["restored"]),
            "restored_s": marks["restored"] - marks["dropped"],
            "frames": [(f[0] - marks["dropped"], f[1], f[5]) for f in run["frames"]]}


def per_second(run: dict[str, Any], dropped: float, restored: float) -> list[tuple[int, int, float, float, str]]:
    """(second from the drop, frames, median bytes, p50 ms, mark) for each second of the run."""
    rows: list[tuple[int, int, float, float, str]] = []
    frames = run["frames"]
    if not frames:
        return rows
    start = int(frames[0][0] - dropped) - 1
    end = int(frames[-1][0] - dropped) + 1
    for sec in range(start, end):
        w = [f for f in frames if dropped + sec <= f[0] < dropped + sec + 1]
        mark = "drop" if sec == 0 else "back" if int(restored - dropped) == sec else ""
        rows.append((sec, len(w), statistics.median(f[1] for f in w) if w else float("nan"),
                     pct([f[5] for f in w], 50) * 1000, mark))
    return rows


def photo_file(work: Path) -> Path:
    import cv2
    import skimage.data

    path = work / "photo.jpg"
    rgb = skimage.data.astronaut()  # type: ignore[no-untyped-call]
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def workdir() -> Path:
    work = Path(tempfile.mkdtemp(prefix="bench-links-"))
    work.chmod(0o755)
    return work


class Servers:
    """The node (`showroom serve`, real renderer, all addresses) and nginx in front of it (the deployment's
    edge-cache.conf, listening on all addresses), and the stand-in node (bench/linkrig/standin.py), in the root
    namespace."""

    def __init__(self, work: Path, workers: int = 2) -> None:
        from bench.node import deploy_front_conf, find_nginx, free_port, start_nginx, wait_healthy

        self.port, self.nginx_port, self.standin_port = free_port(), free_port(), free_port()
        env = dict(os.environ, EGL_PLATFORM="surfaceless", SHOWROOM_RATE_LIMITS="0")
        path_env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        self.standin = subprocess.Popen([sys.executable, "-m", "bench.linkrig.standin", "--port", str(self.standin_port)],
                                        cwd=ROOT, env=path_env, stdout=subprocess.DEVNULL, stderr=self.log_file(work))
        showroom = str(Path(sys.executable).with_name("showroom"))
        self.node = subprocess.Popen([showroom, "serve", "--role", "edge", "--demo", "--host", "0.0.0.0", "--port",
                                      str(self.port), "--data-dir", str(work / "data"), "--workers", str(workers)],
                                     env=env, stdout=subprocess.DEVNULL, stderr=self.log_file(work))
        self.nginx: subprocess.Popen[bytes] | None = None
        try:
            wait_healthy(f"http://127.0.0.1:{self.port}", self.node)
            wait_healthy(f"http://127.0.0.1:{self.standin_port}", self.standin)
            nginx = find_nginx()
            if nginx is None:
                raise SystemExit("nginx is not installed")
            conf = deploy_front_conf(work / "nginx", f"127.0.0.1:{self.port}", self.nginx_port,
                                     work / "nginx" / "cache")
            site = work / "nginx" / "front-site.conf"
            site.write_text(site.read_text().replace(f"listen 127.0.0.1:{self.nginx_port};",
                                                     f"listen 0.0.0.0:{self.nginx_port};"))
            self.nginx = start_nginx(nginx, conf, self.nginx_port)
        except BaseException:
            self.close()
            raise

    def log_file(self, work: Path) -> Any:
        if not hasattr(self, "log"):
            self.log = open(work / "serve.log", "wb")  # noqa: SIM115
        return self.log

    def close(self) -> None:
        from bench.node import stop_nginx

        if self.nginx is not None:
            stop_nginx(self.nginx)
        for proc in (self.node, self.standin):
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.log.close()


def warm(port: int, nginx_port: int) -> float:
    """Renders the spin's view set on the node and fills nginx's cache with it (every profile then measures the
    link, not the renderer); returns the cold set's seconds."""
    import urllib.request

    def get(url: str) -> bytes:
        with urllib.request.urlopen(url, timeout=600) as r:
            return bytes(r.read())

    t0 = time.perf_counter()
    manifest = json.loads(get(f"http://127.0.0.1:{port}/api/products/{PRODUCT_VR}/views?size={SPIN_SIZE}"))
    cold_s = time.perf_counter() - t0
    get(f"http://127.0.0.1:{nginx_port}/api/products/{PRODUCT_VR}/views?size={SPIN_SIZE}")
    for frame in manifest["frames"]:
        get(f"http://127.0.0.1:{nginx_port}{frame['url']}")
    return cold_s


def _f(x: float, fmt: str = "{:.1f}") -> str:
    return "-" if x != x else fmt.format(x)


def part_two(args: Any, names: list[str], title: str, *, ns: str = "shb", subnet: int = 2,
             plot_path: Path | None = None) -> str:
    """Part 2's tables (markdown); with `plot_path`, also its plot there (bench/linkrig/plot.py)."""
    from datetime import UTC, datetime

    from bench._machine import machine

    st = Settings.quick() if args.quick else Settings()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load0 = os.getloadavg()
    started = time.monotonic()
    work = workdir()
    servers = Servers(work)
    try:
        cold_s = warm(servers.port, servers.nginx_port)
        photo = photo_file(work)
        results = {n: measure_profile(profile(n), ns, subnet, servers, photo, st) for n in names}
        no_loss = measure_edge_without_loss(ns, subnet, servers.standin_port, st) if "edge" in names else None
        drop = measure_drop(ns, subnet, servers.standin_port, st)
    finally:
        servers.close()
    load1 = os.getloadavg()
    minutes = (time.monotonic() - started) / 60
    vr = f"stereo 2 x {st.width}x{st.height}, target {st.hz:g} frames/s, poses at {st.hz:g} Hz, adaptive quality on"
    lines = [
        f"{title} ({when})",
        "",
        f"Machine: {machine()}; load average {load0[0]:.2f} / {load0[1]:.2f} / {load0[2]:.2f} at the start, "
        f"{load1[0]:.2f} / {load1[1]:.2f} / {load1[2]:.2f} at the end (other work shares the 2 cores); "
        f"{minutes:.1f} minutes{' (--quick)' if args.quick else ''}.",
        "",
        "The node: `showroom serve --role edge --workers 2` (the real renderer: panda3d on Mesa llvmpipe, no GPU) "
        "and nginx with deploy/nginx/edge-cache.conf in front, in the root namespace; every client in the link's "
        f"namespace (bench/linkrig/product.py). VR: {vr}, synthetic head motion, {st.seconds:g} s a run, the "
        f"first second left out. Stalls: gaps of more than {STALL_S * 1000:.0f} ms between frames. Spin: the "
        f"{SPIN_SIZE} view set (108 frames) through nginx, its cache warm (the set rendered cold in "
        f"{cold_s:.1f} s before the runs), walked frame after frame as the Python kiosk client does. Try-on: a "
        f"photo sent as camera frames at 15 frames/s ({st.tryon_frames} frames), composites back.",
        "",
        "Rows `product`: the real node. Rows `stand-in`: the same node code with bench/linkrig/standin.py's "
        "renderer (a photograph panned by the head's yaw, a few ms a frame), so that the link, not this machine's "
        "software renderer, limits the stream; the edge loss-off row and the drop use it too.",
        "",
        "| profile | node, codec | pairs/s | pose-to-frame p50 | p99 | stalls | longest gap | Mbit/s | KB/frame |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows = [(n, f"product, {codec}", results[n][codec]) for n in names for codec in ("jpeg", "h264")]
    rows += [(n, f"stand-in, {codec}", results[n][f"standin {codec}"]) for n in names for codec in ("jpeg", "h264")]
    if no_loss is not None:
        rows.append(("edge, loss off", "stand-in, jpeg", no_loss))
    rows.append(("drop (whole run)", "stand-in, jpeg", drop["summary"]))
    for n, codec, v in rows:
        lines.append(f"| {n} | {codec} | {_f(v['pairs_per_s'])} | {_f(v['p50_ms'], '{:.0f} ms')} | "
                     f"{_f(v['p99_ms'], '{:.0f} ms')} | {v['stalls']:.0f} | {_f(v['longest_gap_ms'], '{:.0f} ms')} | "
                     f"{v['kbps'] / 1000:.1f} | {v['bytes_p50'] / 1000:.0f} |")
    lines += ["", "| profile | spin: manifest | first frame | all 108 frames | MB | try-on replies/s | "
                  "try-on latency p50 | p99 |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for n in names:
        sp, tr = results[n]["spin"], results[n]["tryon"]
        lines.append(f"| {n} | {sp['manifest_s'] * 1000:.0f} ms | {sp['first_frame_s'] * 1000:.0f} ms | "
                     f"{sp['whole_s']:.2f} s | {sp['bytes'] / 1e6:.1f} | "
                     f"{tr['answered'] / max(1e-9, tr['send_seconds']):.1f} | {_f(tr['latency_ms'].get('p50', float('nan')), '{:.0f} ms')} | "
                     f"{_f(tr['latency_ms'].get('p99', float('nan')), '{:.0f} ms')} |")
    d = drop["drop"]
    lines += [
        "",
        f"### The drop: `typical`, then {DROP_TO_MBIT:g} Mbit/s for {st.drop_for_s:g} s, then 100 again",
        "",
        f"Frames fit {DROP_TO_MBIT:g} Mbit/s when bytes x {st.hz:g} frames/s <= the rate ({d['budget_b'] / 1000:.1f} KB "
        f"a frame). Before the drop: {d['size_before'] / 1000:.0f} KB a frame (median of its last 4 s).",
        "",
        f"- fit: **{_f(d['fit_s'], '{:.1f} s')}** after the drop until every frame of a whole second fits "
        f"(smallest frame during the drop {d['size_low'] / 1000:.1f} KB);",
        f"- climb back: **{_f(d['climb_s'], '{:.1f} s')}** after the rate returned until a second of frames is over "
        f"1.5 x the drop's budget (the node's link budget has grown past {DROP_TO_MBIT:g} Mbit/s); back to 90 % of "
        f"the size before the drop: "
        + (f"{d['climb_full_s']:.1f} s;" if d["climb_full_s"] == d["climb_full_s"] else
           f"not within the {d['after_s']:.0f} s measured (resolution also follows render + encode time, see "
           "docs/links.md);"),
        f"- during the drop: {d['pairs_per_s_during']:.1f} pairs/s, pose-to-frame p50 "
        f"{_f(d['p50_during_ms'], '{:.0f} ms')}, p99 {_f(d['p99_during_ms'], '{:.0f} ms')}, "
        f"{d['stalls_during']:.0f} stalls.",
        "",
        "| second from the drop | frames | KB/frame (median) | pose-to-frame p50 | |",
        "| ---: | ---: | ---: | ---: | --- |",
    ]
    for sec, n, kb, p50, mark in drop["series"]:
        lines.append(f"| {sec} | {n} | {_f(kb / 1000)} | {_f(p50, '{:.0f} ms')} | {mark} |")
    lines.append("")
    if plot_path is not None:
        from bench.linkrig.plot import plot_part_two

        heading = (f"bench/links.py part 2, {when}, load average {load0[0]:.2f} -> {load1[0]:.2f} "
                   f"(2 shared cores){', --quick' if args.quick else ''}")
        if not plot_part_two(rows, drop, st.hz, DROP_TO_MBIT, heading, plot_path):
            print("bench/links.py: matplotlib is not installed, no plot", file=sys.stderr)
    (work / "part2.json").write_text(json.dumps({"results": results, "no_loss": no_loss, "drop": drop}, default=str))
    return "\n".join(lines)
