"""Plays a head-pose sequence over `/ws/stream` and measures what a headset would see: frames per second,
pose-to-frame latency (client send -> frame received, from the echoed client timestamp), the node's own stage
times from the frame header, bandwidth and poses never rendered (latest-pose-wins drops)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp
from showroom_protocol import Hello, Pose, parse_frame

from showroom_client.traces import PoseSample


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q / 100
    lo, hi = int(k), min(len(s) - 1, int(k) + 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def _stats_ms(values_s: Sequence[float]) -> dict[str, float]:
    return {f"p{q}": round(percentile(values_s, q) * 1000, 2) for q in (50, 95, 99)}


@dataclass
class StreamReport:
    product: str
    codec: str
    eyes: int
    viewport: str
    hz: float
    duration_s: float
    poses_sent: int
    frames: int
    fps: float
    poses_rendered: int
    poses_dropped: int
    bandwidth_kbps: float
    bytes_received: int
    latency_ms: dict[str, float]
    """Pose sent -> frame received (client clock, from the echoed `t`)."""
    server_pose_to_send_ms: dict[str, float]
    """Pose received -> frame sent (the node's clock)."""
    stage_ms: dict[str, dict[str, float]]
    frame_sizes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    close_code: int | None = None
    latencies_s: list[float] = field(default_factory=list, repr=False)
    """Raw pose-to-frame samples (for pooling several sessions); not in the JSON."""
    server_latencies_s: list[float] = field(default_factory=list, repr=False)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("latencies_s")
        out.pop("server_latencies_s")
        return out

    def table(self) -> str:
        rows = [
            ("product", self.product), ("codec / eyes / viewport", f"{self.codec} / {self.eyes} / {self.viewport}"),
            ("poses sent", f"{self.poses_sent} at {self.hz:g} Hz over {self.duration_s:.1f} s"),
            ("frames", f"{self.frames} ({self.fps:.1f} fps)"),
            ("poses rendered / dropped", f"{self.poses_rendered} / {self.poses_dropped}"),
            ("pose-to-frame p50 / p95 / p99",
             " / ".join(f"{self.latency_ms[k]:.1f}" for k in ("p50", "p95", "p99")) + " ms"),
            ("node pose-to-send p50 / p95 / p99",
             " / ".join(f"{self.server_pose_to_send_ms[k]:.1f}" for k in ("p50", "p95", "p99")) + " ms"),
        ]
        for stage, st in self.stage_ms.items():
            rows.append((f"  {stage} p50 / p99", f"{st['p50']:.1f} / {st['p99']:.1f} ms"))
        rows.append(("bandwidth", f"{self.bandwidth_kbps:.0f} kbit/s ({self.bytes_received / 1e6:.2f} MB)"))
        if self.frame_sizes:
            rows.append(("frame sizes", ", ".join(sorted(set(self.frame_sizes)))))
        if self.errors:
            rows.append(("errors", "; ".join(self.errors[:3])))
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def ws_url(base: str) -> str:
    return base.replace("https://", "wss://").replace("http://", "ws://").rstrip("/") + "/ws/stream"


async def play_vr(base_url: str, hello: Hello, poses: Sequence[PoseSample], hz: float, *,
                  session: aiohttp.ClientSession | None = None, drain_s: float = 1.0) -> StreamReport:
    """Sends `poses` at `hz` in real time after the hello, receives frames until the last pose has been
    answered (or `drain_s` after it), and reports."""
    own = session is None
    s = session or aiohttp.ClientSession()
    latencies: list[float] = []
    server_total: list[float] = []
    stages: dict[str, list[float]] = {"queue": [], "render": [], "encode": []}
    rendered: set[int] = set()
    sizes: list[str] = []
    errors: list[str] = []
    received = 0
    frames = 0
    sent = 0
    close_code: int | None = None
    try:
        async with s.ws_connect(ws_url(base_url), max_msg_size=64 * 1024 * 1024, heartbeat=None) as ws:
            await ws.send_json(hello.to_json())
            welcome = await ws.receive(timeout=30)
            if welcome.type != aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"no welcome: {welcome.type.name} {ws.close_code} {welcome.extra!r}")
            body = json.loads(welcome.data)
            if body.get("type") != "welcome":
                raise ConnectionError(f"refused: {body}")

            async def receive() -> None:
                nonlocal received, frames, close_code
                async for msg in ws:
                    now = time.time()
                    if msg.type == aiohttp.WSMsgType.BINARY:
                        header, payload = parse_frame(msg.data)
                        frames += 1
                        received += len(msg.data)
                        rendered.add(header.seq)
                        latencies.append(now - header.client_t)
                        server_total.append(header.t_send - header.t_receive)
                        stages["queue"].append(header.t_render_start - header.t_receive)
                        stages["render"].append(header.t_render_end - header.t_render_start)
                        stages["encode"].append(header.t_encode_end - header.t_render_end)
                        sizes.append(f"{header.width_px}x{header.height_px}")
                        if header.seq == len(poses) - 1:
                            return
                    elif msg.type == aiohttp.WSMsgType.TEXT:
                        m = json.loads(msg.data)
                        if m.get("type") == "error":
                            errors.append(f"{m.get('code')}: {m.get('message')}")
                close_code = ws.close_code

            receiver = asyncio.create_task(receive())
            t0 = time.monotonic()
            for i, p in enumerate(poses):
                wait = t0 + i / hz - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if receiver.done():
                    break
                pose = Pose(i, time.time(), p.position_m, p.orientation_xyzw)
                await ws.send_json(pose.to_json())
                sent += 1
            duration = time.monotonic() - t0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(receiver), drain_s)
            receiver.cancel()
            with contextlib.suppress(BaseException):
                await receiver
            if close_code is None and not ws.closed:
                await ws.send_json({"type": "bye"})
            close_code = close_code or ws.close_code
    finally:
        if own:
            await s.close()
    return StreamReport(
        product=hello.product, codec=hello.codec, eyes=hello.eyes, viewport=f"{hello.width_px}x{hello.height_px}",
        hz=hz, duration_s=round(duration, 3), poses_sent=sent, frames=frames,
        fps=round(frames / duration, 2) if duration > 0 else 0.0, poses_rendered=len(rendered),
        poses_dropped=sent - len(rendered), bandwidth_kbps=round(received * 8 / 1000 / max(duration, 1e-9), 1),
        bytes_received=received, latency_ms=_stats_ms(latencies), server_pose_to_send_ms=_stats_ms(server_total),
        stage_ms={k: _stats_ms(v) for k, v in stages.items()}, frame_sizes=sorted(set(sizes)), errors=errors,
        close_code=close_code, latencies_s=latencies, server_latencies_s=server_total)
