"""Advisor calls through a real edge node: set-up time, glass-to-glass video latency, and how many relayed calls
the node holds, alone and while it also renders.

The node is `showroom serve --role edge` on loopback in its own process (a temp data folder, one render worker,
a ticket key of this run, rate limits off: the render loop is one client asking more than the per-client limit). Both sides of every call are aiortc peers in this process, as the e2e tests play them
(tests/e2e/advisor_peers.py: its JSON socket client and tickets are reused): one advisor console per call, on
duty; each peer sends silence and a synthetic camera (VP8, --size at --fps) whose frames carry their send time
(milliseconds, 24 bits and an 8-bit check, in 32 black/white blocks across the top), and reads the time back from
every frame it decodes after the node's relay (the node decodes and re-encodes each leg).

(1) call set-up, --calls calls one after another: the customer's hello -> queued -> the advisor's take -> consent
    -> both offers answered (each peer makes its offer when it learns of the consent, as the pages do) -> both
    legs connected -> the first decoded remote video frame on each side; p50/p90 of each stage.
(2) glass-to-glass video latency of one call on loopback, both directions: the frame's making in the sender's
    track (before its encoder) -> decoded in the other peer (p50/p90/p99).
(3) 1..4 simultaneous calls, --seconds each after --warm-s: frames sent and received per leg, latency, the node's
    CPU. A row holds when every leg receives >= 90 % of the frames sent and its latency p99 is <= 400 ms.
(4) the same with one render loop on the node beside the calls (a customer spinning a product: GET /api/render,
    one request at a time, the yaw advancing 10 degrees), and the loop alone (0 calls).
(5) --recorded calls at once, each dual-recorded (the advisor asks, the customer consents; the node encodes both
    legs to WebM beside the relay): the same figures, the sealed size per recorded minute and the time from the
    end of the call to its receipt.
(6) --resumes network changes, each on a call of its own: the customer's socket and peer connection drop at once,
    the customer comes back as the page does (a new socket with the call's resume token, a fresh peer connection
    offered with restart); times from the drop to `resumed`, to the new leg connected, and to the first frame
    each side decodes of the other after the drop (the advisor's peer connection is the one it had).

The peers run on the same cores as the node (per call they encode and decode as much video as the node does):
the table says how much CPU each took, so the node's share per call can be read off on any machine.

Usage: .venv/bin/python bench/advisor.py [--calls 10] [--concurrency 1,2,3,4] [--seconds 12] [--warm-s 3]
                                         [--recorded 1,2] [--size 640x480] [--fps 15] [--render-size 1280x720]
                                         [--no-render] [--quick] [--out DIR]
Writes bench/results/advisor.md (or --out DIR); prints the table. Under 6 minutes with the defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import numpy.typing as npt
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError
from av import VideoFrame

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._machine import machine  # noqa: E402
from bench.node import cpu_seconds, free_port, get_json, process_tree, wait_healthy  # noqa: E402
from tests.e2e.advisor_peers import Json, ticket  # noqa: E402

HELLO = {"type": "hello", "topic": "precious_metals", "lang": "zh", "channel": "kiosk", "place": "bench"}
HOLD_RATIO = 0.90
HOLD_P99_MS = 400.0
RECORDED_PRODUCT = "bar-au9999-1kg"

# --- the stamp: 24 bits of milliseconds and an 8-bit check in 2 rows of 16 blocks ---------------------------
COLS, ROWS = 16, 2
STAMP_MOD = 1 << 24


def _check(value: int) -> int:
    return ((value >> 16) ^ (value >> 8) ^ value ^ 0x5A) & 0xFF


def stamp_bits(ms: int) -> npt.NDArray[np.uint8]:
    """(32,) uint8 of 0/1: the millisecond clock modulo 2**24, then its check byte, most significant first."""
    value = ms % STAMP_MOD
    word = value << 8 | _check(value)
    return np.array([(word >> (31 - i)) & 1 for i in range(32)], dtype=np.uint8)


def block_px(size: tuple[int, int]) -> tuple[int, int]:
    w, h = size
    return w // COLS, max(16, h // 12)


def read_stamp(luma: npt.NDArray[np.uint8], size: tuple[int, int]) -> int | None:
    """The send time (ms modulo 2**24) written in `luma`: (h, w) uint8; None where the check fails."""
    bw, bh = block_px(size)
    word = 0
    for i in range(COLS * ROWS):
        r, c = divmod(i, COLS)
        y0, x0 = r * bh, c * bw
        inner = luma[y0 + bh // 4:y0 + 3 * bh // 4, x0 + bw // 4:x0 + 3 * bw // 4]
        word = word << 1 | int(inner.mean() > 128)
    value = word >> 8
    return value if word & 0xFF == _check(value) else None


def luma_of(frame: VideoFrame) -> npt.NDArray[np.uint8]:
    """The Y plane of a decoded frame: (h, w) uint8."""
    if frame.format.name == "yuv420p":
        plane = frame.planes[0]
        return np.frombuffer(bytes(plane), np.uint8).reshape(frame.height, plane.line_size)[:, :frame.width]
    return np.asarray(frame.to_ndarray(format="gray"), dtype=np.uint8)


class StampTrack(MediaStreamTrack):
    """A camera at `fps`: a textured picture drifting sideways (work for the encoder, like a real camera), the
    send time in blocks on top. Late (the encoder took too long), it skips frames as a camera would; `sent` holds
    the time of every frame handed to the encoder."""

    kind = "video"

    def __init__(self, size: tuple[int, int], fps: float) -> None:
        super().__init__()
        self.size, self.fps = size, fps
        w, h = size
        rng = np.random.default_rng(7)
        x, y = np.meshgrid(np.arange(w + 256), np.arange(h))
        texture = 110 + 45 * np.sin(x / 17.0) * np.cos(y / 11.0) + rng.normal(0, 10, (h, w + 256))
        self._luma = np.clip(texture, 16, 235).astype(np.uint8)
        half = np.meshgrid(np.arange(w // 2), np.arange(h // 2))
        self._u = (128 + 30 * np.sin(half[0] / 40.0)).astype(np.uint8)
        self._v = (128 + 30 * np.cos(half[1] / 30.0)).astype(np.uint8)
        self.sent: list[float] = []
        self._n = 0
        self._t0: float | None = None

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._t0 is None:
            self._t0 = loop.time()
        behind = int((loop.time() - self._t0) * self.fps)
        if behind > self._n:
            self._n = behind  # a camera does not queue frames the encoder had no time for
        delay = self._t0 + self._n / self.fps - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)  # the camera's pace
        w, h = self.size
        now = time.time()
        shift = (self._n * 4) % 256
        luma = self._luma[:, shift:shift + w].copy()
        bw, bh = block_px(self.size)
        bits = stamp_bits(int(now * 1000)).reshape(ROWS, COLS)
        luma[:ROWS * bh, :COLS * bw] = np.kron(np.where(bits, 235, 16), np.ones((bh, bw))).astype(np.uint8)
        uv = np.concatenate([self._u.reshape(h // 4, w), self._v.reshape(h // 4, w)])
        frame = VideoFrame.from_ndarray(np.concatenate([luma, uv]), format="yuv420p")
        frame.pts, frame.time_base = int(self._n * 90_000 / self.fps), Fraction(1, 90_000)
        self._n += 1
        self.sent.append(now)
        return frame


class BenchPeer:
    """One side's browser: silence and a StampTrack out; every decoded remote video frame's latency kept."""

    def __init__(self, size: tuple[int, int], fps: float) -> None:
        self.size = size
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.audio = AudioStreamTrack()
        self.video = StampTrack(size, fps)
        self.pc.addTrack(self.audio)
        self.pc.addTrack(self.video)
        self.received: list[tuple[float, float]] = []  # (receive time s, latency ms) of each new frame
        self.unreadable = 0
        self.first_video = asyncio.Event()
        self.first_video_at = 0.0
        self._last_stamp: int | None = None
        self._readers: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._readers.append(asyncio.get_running_loop().create_task(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if not isinstance(frame, VideoFrame):
                    continue
                now = time.time()
                if not self.first_video.is_set():
                    self.first_video_at = now
                    self.first_video.set()
                stamp = read_stamp(luma_of(frame), (frame.width, frame.height))
                if stamp is None or (frame.width, frame.height) != self.size:
                    self.unreadable += 1
                elif stamp != self._last_stamp:
                    self._last_stamp = stamp
                    latency_ms = (int(now * 1000) - stamp) % STAMP_MOD
                    if latency_ms < 60_000:
                        self.received.append((now, float(latency_ms)))

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def accept(self, answer_sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))

    async def close(self) -> None:
        self.video.stop()
        self.audio.stop()
        await self.pc.close()
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)


# --- calls --------------------------------------------------------------------------------------------------

STAGES = (("queued", "hello -> queued"), ("taken", "advisor's take -> the customer told"),
          ("consent", "consent -> the advisor told"),
          ("answered", "consent -> both offers answered (each peer's offer with its ICE gathering)"),
          ("connected", "answers -> both legs connected"),
          ("media", "connected -> first decoded remote video frame on both sides"),
          ("total", "hello -> first frame on both sides (the take at once)"))


@dataclass
class Call:
    call_id: str
    customer: Json
    console: Json
    customer_peer: BenchPeer
    advisor_peer: BenchPeer
    stages_s: dict[str, float] = field(default_factory=dict)
    resume: str = ""  # the call's resume token (from `advisor`, then each `resumed`)
    recorded: bool = False
    receipt: dict[str, Any] | None = None
    seal_s: float = 0.0  # from the end of the call to the receipt: encoding finished, encrypted, stored

    def recorded_s(self) -> float:
        """The recording's length by its receipt."""
        assert self.receipt is not None
        start, end = (datetime.fromisoformat(self.receipt[k].replace("Z", "+00:00"))
                      for k in ("started_at", "ended_at"))
        return (end - start).total_seconds()

    async def record(self) -> None:
        """A dual recording: the advisor asks, the customer consents, the node says it runs."""
        await self.console.send({"type": "record", "on": True, "product": RECORDED_PRODUCT})
        await self.customer.expect("record_consent")
        await self.customer.send({"type": "record_consent", "accepted": True})
        await self.console.expect("record", call=self.call_id, on=True, timeout_s=30.0)
        self.recorded = True

    async def end(self) -> None:
        with contextlib.suppress(Exception):
            await self.console.send({"type": "end"})
            t_end = time.time()
            await self.customer.expect("ended", timeout_s=30.0)
            await self.console.expect("ended", call=self.call_id, timeout_s=30.0)
            if self.recorded:  # sealed (encoded, encrypted) before the next row starts
                self.receipt = (await self.console.expect("recording", call=self.call_id, timeout_s=120.0))[
                    "recording"]
                self.seal_s = time.time() - t_end
        await asyncio.gather(self.customer_peer.close(), self.advisor_peer.close(), return_exceptions=True)
        await self.customer.close()


def ws_url(base: str, side: str) -> str:
    return base.replace("http://", "ws://") + f"/ws/advisor/{side}"


async def open_console(http: aiohttp.ClientSession, base: str, key: bytes, n: int) -> Json:
    console = await Json.open(http, ws_url(base, "console"),
                              {"type": "hello", "ticket": ticket(f"adv-{n}", f"Advisor {n}", key=key)})
    await console.expect("welcome")
    await console.send({"type": "duty", "on": True})
    return console


async def open_call(http: aiohttp.ClientSession, base: str, console: Json, size: tuple[int, int],
                    fps: float) -> Call:
    """A customer calls, `console` takes the call at once; returns once each side decoded the other's video."""
    t0 = time.time()
    customer = await Json.open(http, ws_url(base, "customer"), HELLO)
    call_id = (await customer.expect("queued"))["call"]
    t_queued = time.time()
    await console.send({"type": "take", "call": call_id})
    await console.expect("call", call=call_id)
    resume = (await customer.expect("advisor"))["resume"]
    t_taken = time.time()
    customer_peer, advisor_peer = BenchPeer(size, fps), BenchPeer(size, fps)
    call = Call(call_id, customer, console, customer_peer, advisor_peer, resume=resume)
    try:
        await customer.send({"type": "consent", "audio": True, "video": True})
        t_consent_sent = time.time()
        told: list[float] = []

        async def customer_side() -> None:
            await customer.send({"type": "sdp", "kind": "offer", "sdp": await customer_peer.offer()})
            await customer_peer.accept((await customer.expect("sdp", kind="answer", timeout_s=60.0))["sdp"])

        async def advisor_side() -> None:
            await console.expect("consent", call=call_id)
            told.append(time.time())
            await console.send({"type": "sdp", "kind": "offer", "sdp": await advisor_peer.offer()})
            await advisor_peer.accept((await console.expect("sdp", kind="answer", timeout_s=60.0))["sdp"])

        await asyncio.gather(customer_side(), advisor_side())
        t_answered = time.time()
        await customer.expect("connected", timeout_s=60.0)
        await console.expect("connected", call=call_id, timeout_s=60.0)
        t_connected = time.time()
        async with asyncio.timeout(60.0):
            await customer_peer.first_video.wait()
            await advisor_peer.first_video.wait()
        t_media = max(customer_peer.first_video_at, advisor_peer.first_video_at)
    except BaseException:
        await call.end()
        raise
    call.stages_s = {"queued": t_queued - t0, "taken": t_taken - t_queued, "consent": told[0] - t_consent_sent,
                     "answered": t_answered - t_consent_sent, "connected": t_connected - t_answered,
                     "media": t_media - t_connected, "total": t_media - t0}
    return call


async def network_change(http: aiohttp.ClientSession, base: str, call: Call, size: tuple[int, int],
                         fps: float) -> dict[str, float]:
    """The customer's socket and peer connection drop at once and the customer comes back as the page does; seconds
    from the drop to each step. The call goes on with the new socket and peer."""
    t0 = time.time()
    await call.customer.close()
    await call.customer_peer.close()
    customer = await Json.open(http, ws_url(base, "customer"),
                               {"type": "resume", "call": call.call_id, "token": call.resume})
    call.customer = customer
    call.resume = (await customer.expect("resumed", timeout_s=30.0))["resume"]
    t_resumed = time.time()
    peer = BenchPeer(size, fps)
    call.customer_peer = peer
    await customer.send({"type": "sdp", "kind": "offer", "sdp": await peer.offer(), "restart": True})
    await peer.accept((await customer.expect("sdp", kind="answer", timeout_s=60.0))["sdp"])
    await customer.expect("connected", timeout_s=60.0)
    t_connected = time.time()
    async with asyncio.timeout(60.0):
        await peer.first_video.wait()
        while not any(at - ms / 1000 > t0 for at, ms in call.advisor_peer.received):
            await asyncio.sleep(0.01)  # polling the advisor's decoded frames for one sent after the drop
    t_advisor = min(at for at, ms in call.advisor_peer.received if at - ms / 1000 > t0)
    return {"resumed": t_resumed - t0, "connected": t_connected - t0, "customer_video": peer.first_video_at - t0,
            "advisor_video": t_advisor - t0}


RESUME_STAGES = (("resumed", "drop -> `resumed` on the new socket"),
                 ("connected", "drop -> the new leg connected (offer with ICE gathering, answer)"),
                 ("customer_video", "drop -> the customer decodes the advisor again"),
                 ("advisor_video", "drop -> the advisor decodes the customer's new camera"))


# --- the render loop ----------------------------------------------------------------------------------------

@dataclass
class Spin:
    """One customer spinning a product on the node: renders one after another, (end time s, ms) each."""

    base: str
    product: str
    size: str
    done: list[tuple[float, float]] = field(default_factory=list)
    errors: int = 0
    yaw_deg: float = 0.0

    async def render_once(self, http: aiohttp.ClientSession) -> None:
        url = f"{self.base}/api/render"
        params = {"product": self.product, "yaw_deg": f"{self.yaw_deg % 360:.1f}", "size": self.size}
        self.yaw_deg += 10.0
        t0 = time.perf_counter()
        async with http.get(url, params=params, timeout=aiohttp.ClientTimeout(total=120)) as r:
            await r.read()
            if r.status != 200:
                self.errors += 1
                await asyncio.sleep(0.5)  # a refused render (503 busy) is not retried at once
                return
        self.done.append((time.time(), (time.perf_counter() - t0) * 1000))

    async def run(self, http: aiohttp.ClientSession) -> None:
        while True:
            await self.render_once(http)


# --- rows ---------------------------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


@dataclass
class Leg:
    name: str
    sent_fps: float
    received_fps: float
    latencies_ms: list[float]
    unreadable: int

    @property
    def ratio(self) -> float:
        return self.received_fps / self.sent_fps if self.sent_fps else 0.0


def leg(name: str, sender: BenchPeer, receiver: BenchPeer, w0: float, w1: float) -> Leg:
    sent = sum(1 for t in sender.video.sent if w0 <= t < w1)
    got = [ms for t, ms in receiver.received if w0 <= t < w1]
    return Leg(name, sent / (w1 - w0), len(got) / (w1 - w0), got, receiver.unreadable)


@dataclass
class Row:
    calls: int
    legs: list[Leg]
    node_cpu: float  # cores (CPU seconds per second) of the node's main process: the relay, HTTP, sockets
    workers_cpu: float  # of its render worker processes
    peers_cpu: float  # of this process: the peers
    renders: list[float]
    render_errors: int
    window_s: float
    failed: str = ""
    recorded: bool = False
    recordings: list[tuple[int, float, float]] = field(default_factory=list)  # (sealed bytes, seconds, seal s)

    def verdict(self) -> str:
        if self.failed:
            return f"no: {self.failed}"
        if not self.legs:
            return "-"
        low = [lg for lg in self.legs if lg.ratio < HOLD_RATIO]
        slow = [lg for lg in self.legs if pct(lg.latencies_ms, 99) > HOLD_P99_MS]
        if not low and not slow:
            return "yes"
        why = []
        if low:
            why.append(f"{len(low)} leg(s) < {HOLD_RATIO:.0%} of frames")
        if slow:
            why.append(f"{len(slow)} leg(s) p99 > {HOLD_P99_MS:.0f} ms")
        return "no: " + ", ".join(why)


async def measure_row(http: aiohttp.ClientSession, base: str, consoles: list[Json], k: int,
                      args: argparse.Namespace, node_pid: int, spin: Spin | None, *, recorded: bool = False) -> Row:
    calls: list[Call] = []
    spinning: asyncio.Task[None] | None = None
    try:
        if spin is not None:
            spinning = asyncio.get_running_loop().create_task(spin.run(http))
        try:
            for i in range(k):
                calls.append(await open_call(http, base, consoles[i], args.size_px, args.fps))
                if recorded:
                    await calls[-1].record()
        except Exception as exc:  # a node that cannot take one more call is this row's answer
            failed = f"call {len(calls) + 1} did not connect ({exc})"[:160]
            return Row(k, [], 0.0, 0.0, 0.0, [], 0, 0.0, failed=failed, recorded=recorded)
        await asyncio.sleep(args.warm_s)  # past the first key frames and the bitrate's ramp
        pids = process_tree(node_pid)
        workers = [p for p in pids if p != node_pid]
        w0, c0, k0, p0 = time.time(), cpu_seconds([node_pid]), cpu_seconds(workers), time.process_time()
        await asyncio.sleep(args.seconds)
        w1, c1, k1, p1 = time.time(), cpu_seconds([node_pid]), cpu_seconds(workers), time.process_time()
    finally:
        if spinning is not None:
            spinning.cancel()
            await asyncio.gather(spinning, return_exceptions=True)
        for call in calls:
            await call.end()
    window = w1 - w0
    legs = []
    for n, call in enumerate(calls, 1):
        legs.append(leg(f"call {n} customer -> advisor", call.customer_peer, call.advisor_peer, w0, w1))
        legs.append(leg(f"call {n} advisor -> customer", call.advisor_peer, call.customer_peer, w0, w1))
    renders = [ms for t, ms in (spin.done if spin else []) if w0 <= t < w1]
    errors = spin.errors if spin else 0
    if spin is not None:
        spin.done.clear()
        spin.errors = 0
    row = Row(k, legs, (c1 - c0) / window, (k1 - k0) / window, (p1 - p0) / window, renders, errors, window)
    row.recordings = [(sum(c.receipt["bytes"].values()), c.recorded_s(), c.seal_s) for c in calls if c.receipt]
    row.recorded = recorded
    return row


@dataclass
class Results:
    setups: list[dict[str, float]] = field(default_factory=list)
    setup_failures: list[str] = field(default_factory=list)
    latency: Row | None = None
    rows: list[Row] = field(default_factory=list)
    render_rows: list[Row] = field(default_factory=list)
    recorded_rows: list[Row] = field(default_factory=list)
    render_product: str = ""
    first_render_s: float = 0.0
    resumes: list[dict[str, float]] = field(default_factory=list)
    resume_failures: list[str] = field(default_factory=list)


async def measure(base: str, key: bytes, node_pid: int, args: argparse.Namespace) -> Results:
    res = Results()
    ks = args.concurrency_list
    async with aiohttp.ClientSession() as http:
        most = max([1, *ks, *args.recorded_list])
        consoles = [await open_console(http, base, key, n) for n in range(1, most + 1)]
        print(f"(1) set-up of {args.calls} calls", flush=True)
        for _ in range(args.calls):
            try:
                call = await open_call(http, base, consoles[0], args.size_px, args.fps)
            except Exception as exc:
                res.setup_failures.append(str(exc)[:160])
                continue
            res.setups.append(call.stages_s)
            await call.end()
        if args.resumes:
            print(f"(6) {args.resumes} network changes", flush=True)
        for _ in range(args.resumes):
            try:
                call = await open_call(http, base, consoles[0], args.size_px, args.fps)
                try:
                    res.resumes.append(await network_change(http, base, call, args.size_px, args.fps))
                finally:
                    await call.end()
            except Exception as exc:
                res.resume_failures.append(str(exc)[:160] or type(exc).__name__)
        for k in ks:
            print(f"(3) {k} call(s)", flush=True)
            res.rows.append(await measure_row(http, base, consoles, k, args, node_pid, None))
        res.latency = next((r for r in res.rows if r.calls == 1 and r.legs), None)
        for k in args.recorded_list:
            print(f"(5) {k} recorded call(s)", flush=True)
            res.recorded_rows.append(
                await measure_row(http, base, consoles, k, args, node_pid, None, recorded=True))
        if args.render:
            products = (await (await http.get(f"{base}/api/products")).json())["products"]
            spin = Spin(base, products[0]["id"], args.render_size)
            res.render_product = spin.product
            t0 = time.perf_counter()
            await spin.render_once(http)  # loads the model in the worker
            res.first_render_s = time.perf_counter() - t0
            spin.done.clear()
            for k in [0, *ks]:
                print(f"(4) render loop + {k} call(s)", flush=True)
                res.render_rows.append(await measure_row(http, base, consoles, k, args, node_pid, spin))
        for console in consoles:
            await console.close()
    return res


# --- the report ---------------------------------------------------------------------------------------------

def fmt_ms(v: float) -> str:
    return "-" if v != v else f"{v:.0f} ms"


def row_line(row: Row, *, render: bool) -> str:
    cells = [str(row.calls)]
    if row.failed:
        cells += ["-"] * 6
    elif row.legs:
        sent = float(np.mean([lg.sent_fps for lg in row.legs]))
        worst = min(row.legs, key=lambda lg: lg.ratio)
        all_ms = [ms for lg in row.legs for ms in lg.latencies_ms]
        worst_p99 = max(pct(lg.latencies_ms, 99) for lg in row.legs)
        unreadable = sum(lg.unreadable for lg in row.legs)
        cells += [f"{sent:.1f}", f"{worst.received_fps:.1f}", f"{worst.ratio:.0%}", fmt_ms(pct(all_ms, 50)),
                  fmt_ms(worst_p99), str(unreadable)]
    else:
        cells += ["-"] * 6
    cells += [f"{row.node_cpu:.0%}" if not row.failed else "-", f"{row.peers_cpu:.0%}" if not row.failed else "-"]
    if render:
        rate = len(row.renders) / row.window_s if row.window_s else 0.0
        cells += [f"{rate:.2f}" if not row.failed else "-", fmt_ms(pct(row.renders, 50)),
                  fmt_ms(pct(row.renders, 90)), f"{row.workers_cpu:.0%}" if not row.failed else "-"]
        if row.render_errors:
            cells[-1] += f" ({row.render_errors} errors)"
    cells.append(row.verdict() if row.legs or row.failed else "-")
    return "| " + " | ".join(cells) + " |"


def report(res: Results, args: argparse.Namespace, mach: str, load_start: str, load_end: str,
           wall_s: float) -> str:
    w, h = args.size_px
    lines = [f"# Advisor call benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "",
             f"Machine: {mach}; load average {load_start} (1/5/15 min) at the start, {load_end} at the end; "
             f"{wall_s / 60:.1f} minutes in all.", "",
             "The node: `showroom serve --role edge --workers 1` on loopback (SHOWROOM_RATE_LIMITS=0: one client "
             "renders more than the per-client limit), its own process (the relay: aiortc, "
             "each leg decoded and encoded again). The peers: aiortc in the benchmark's process on the same cores, "
             f"silence and a synthetic {w}x{h} camera at {args.fps:g} fps each way (VP8 + Opus as negotiated), the "
             "send time written in blocks on each frame and read back from each decoded frame.", ""]
    lines += [f"## (1) Call set-up: {len(res.setups)} calls one after another", ""]
    if res.setups:
        lines += ["| stage | p50 | p90 |", "| --- | ---: | ---: |"]
        for key, label in STAGES:
            values = [s[key] * 1000 for s in res.setups]
            lines.append(f"| {label} | {fmt_ms(pct(values, 50))} | {fmt_ms(pct(values, 90))} |")
    if res.setup_failures:
        lines += ["", f"{len(res.setup_failures)} call(s) failed: {res.setup_failures[0]}"]
    lines += ["", "The consent and the take are answered at once here; a person takes seconds. Each peer makes "
              "its offer (with ICE gathering) when it learns of the consent, as the pages do.", ""]
    lines += ["## (2) Glass-to-glass video latency: 1 call on loopback", ""]
    if res.latency is not None:
        lines += ["| direction | frames | p50 | p90 | p99 | max |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for lg in res.latency.legs:
            ms = lg.latencies_ms
            lines.append(f"| {lg.name.split(' ', 2)[2]} | {len(ms)} | {fmt_ms(pct(ms, 50))} | "
                         f"{fmt_ms(pct(ms, 90))} | {fmt_ms(pct(ms, 99))} | {fmt_ms(max(ms, default=float('nan')))} |")
        lines += ["", "From the frame's making in the sender's track (before its VP8 encoder) to the frame decoded "
                  "by the other peer, through the node's decode and encode; the same clock on both ends. Each aiortc "
                  "receiver (the node's and the peer's) holds a frame until the next frame's first packet arrives: "
                  "about one frame interval per hop, of which a browser's receiver pays none.", ""]
    else:
        lines += ["(no call with 1 leg measured)", ""]
    head = ("| calls | sent fps/leg | received fps, worst leg | received/sent, worst | latency p50 | p99, worst "
            "leg | unreadable frames | node CPU (relay process) | peers' CPU (this process) |")
    sep = "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    lines += [f"## (3) Simultaneous calls: {w}x{h} at {args.fps:g} fps both ways, {args.seconds:g} s measured "
              f"after {args.warm_s:g} s", "", head + " holds? |", sep + " --- |"]
    lines += [row_line(r, render=False) for r in res.rows]
    lines += ["", f"Holds: every leg receives >= {HOLD_RATIO:.0%} of the frames its sender made and its latency "
              f"p99 is <= {HOLD_P99_MS:.0f} ms. CPU in cores (100 % = one core busy); the machine has "
              f"{os.cpu_count()}. A sent rate below {args.fps:g} fps means the peers' own encoders fell behind "
              "(the camera skips frames), i.e. the machine, not only the node, is full.", ""]
    if res.render_rows:
        lines += [f"## (4) The same with a render loop on the node: GET /api/render of `{res.render_product}` at "
                  f"{args.render_size}, one request at a time, the yaw advancing 10 degrees (first render, "
                  f"loading the model: {res.first_render_s:.1f} s)", "",
                  head + " renders/s | render p50 | p90 | render worker CPU | holds? |",
                  sep + " ---: | ---: | ---: | ---: | --- |"]
        lines += [row_line(r, render=True) for r in res.render_rows]
        lines.append("")
    if res.recorded_rows:
        lines += [f"## (5) The same, every call dual-recorded (`{RECORDED_PRODUCT}`, the customer consenting; "
                  "the node encodes each leg to a WebM in a thread per leg while relaying)", "",
                  head + " sealed MB per recorded minute | end -> receipt (sealed) | holds? |",
                  sep + " ---: | ---: | --- |"]
        for r in res.recorded_rows:
            line = row_line(r, render=False).rsplit(" | ", 1)
            rate = [b / 1e6 / (sec / 60) for b, sec, _ in r.recordings if sec > 0]
            seal = [s for _, _, s in r.recordings]
            lines.append(f"{line[0]} | {float(np.mean(rate)) if rate else float('nan'):.1f} | "
                         f"{fmt_ms(max(seal, default=float('nan')) * 1000)} | {line[1]}")
        lines += ["", "MB per minute: both legs' sealed files together, per call. The receipt comes once the files "
                  "are encoded to the end, encrypted and stored (the row waits for it before the next).", ""]
    if res.resumes or res.resume_failures:
        lines += [f"## (6) A network change: {len(res.resumes)} of {len(res.resumes) + len(res.resume_failures)} "
                  "calls came back", "", "| from the drop of the customer's socket and peer connection | p50 | "
                  "max |", "| --- | ---: | ---: |"]
        for key, label in RESUME_STAGES:
            values = [r[key] * 1000 for r in res.resumes]
            lines.append(f"| {label} | {fmt_ms(pct(values, 50))} | {fmt_ms(max(values, default=float('nan')))} |")
        if res.resume_failures:
            lines += ["", f"Failed: {res.resume_failures[0]}"]
        lines += ["", "The customer comes back at once here (a phone's new network takes its own time to come up: "
                  "add it). The advisor's peer connection is never renegotiated: its forwarding tracks switch to the "
                  "new leg.", ""]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=10, help="calls for (1)")
    ap.add_argument("--resumes", type=int, default=5, help="network changes for (6), each on a call of its own")
    ap.add_argument("--concurrency", default="1,2,3,4")
    ap.add_argument("--seconds", type=float, default=12.0, help="measured per row of (3), (4) and (5)")
    ap.add_argument("--warm-s", type=float, default=3.0, help="before each row's measurement")
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--fps", type=float, default=15.0)
    ap.add_argument("--render-size", default="1280x720")
    ap.add_argument("--recorded", default="1,2", help="rows of (5): calls at once, each dual-recorded ('' none)")
    ap.add_argument("--no-render", dest="render", action="store_false", help="skip (4)")
    ap.add_argument("--assets-dir", type=Path, default=None)
    ap.add_argument("--quick", action="store_true", help="a smoke run: 2 calls, 1 and 2 at once, 1 recorded, 3 s rows")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()
    if args.quick:
        args.calls, args.concurrency, args.recorded, args.seconds, args.warm_s = 2, "1,2", "1", 3.0, 1.0
        args.resumes = min(args.resumes, 2)
    w, h = (int(v) for v in args.size.lower().split("x"))
    if w % (2 * COLS) or h % 4 or h < 4 * 16:
        raise SystemExit(f"--size {args.size}: the width must be a multiple of {2 * COLS}, the height of 4")
    args.size_px = (w, h)
    args.concurrency_list = [int(k) for k in args.concurrency.split(",") if k.strip()]
    args.recorded_list = [int(k) for k in args.recorded.split(",") if k.strip()]

    load_start = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    mach = machine()
    started = time.time()
    work = Path(tempfile.mkdtemp(prefix="bench-advisor-"))
    key = secrets.token_urlsafe(32).encode()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, EGL_PLATFORM="surfaceless", SHOWROOM_ADVISOR_TICKET_KEY=key.decode(),
               SHOWROOM_RATE_LIMITS="0",
               SHOWROOM_ADVISOR_MAX_CALLS=str(max([1, *args.concurrency_list, *args.recorded_list])))
    if args.assets_dir:
        env["SHOWROOM_ASSETS_DIR"] = str(args.assets_dir)
    showroom = str(Path(sys.executable).with_name("showroom"))
    log = open(work / "serve.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([showroom, "serve", "--role", "edge", "--port", str(port), "--data-dir",
                             str(work / "data"), "--workers", "1"], env=env, stdout=subprocess.DEVNULL,
                            stderr=log)
    try:
        wait_healthy(base, proc)
        if not get_json(base + "/api/products")["products"]:
            raise SystemExit("the node lists no products")
        res = asyncio.run(measure(base, key, proc.pid, args))
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    load_end = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    text = report(res, args, mach, load_start, load_end, time.time() - started)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "advisor.md").write_text(text)
    print(text)
    print(f"table: {args.out / 'advisor.md'}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
