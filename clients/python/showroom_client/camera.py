"""Plays camera frames over `/ws/stream` in the AR or try-on mode, like a phone or a kiosk camera would, and
measures what comes back: frames answered vs superseded (latest frame wins), frame-to-reply latency from the
echoed client time, the node's own processing time, and the statuses the node reported."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from showroom_protocol import Hello, pack_camera_frame, parse_frame

from showroom_client.stream import _stats_ms


@dataclass
class CameraReport:
    product: str
    mode: str
    output: str
    fps: float
    frames_sent: int
    frames_answered: int
    frames_superseded: int
    """Sent but never answered: the node moved on to a newer frame."""
    latency_ms: dict[str, float]
    """Camera frame sent -> reply received (client clock, from the echoed `t`)."""
    node_ms: dict[str, float]
    """Frame received -> reply sent (the node's clock)."""
    statuses: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""
    reply_sizes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        rows = [
            ("product / mode / output", f"{self.product} / {self.mode} / {self.output}"),
            ("frames sent / answered / superseded",
             f"{self.frames_sent} / {self.frames_answered} / {self.frames_superseded}"),
            ("frame-to-reply p50 / p95 / p99 ms", " / ".join(str(v) for v in self.latency_ms.values())),
            ("node receive-to-send p50 / p95 / p99 ms", " / ".join(str(v) for v in self.node_ms.values())),
            ("statuses", ", ".join(f"{s['seq']}: {s['status']}" for s in self.statuses) or "-"),
        ]
        if self.close_code not in (None, 1000):
            rows.append(("closed", f"{self.close_code} {self.close_reason}"))
        rows += [("error", e) for e in self.errors]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


async def play_camera(url: str, hello: Hello, frames: Sequence[bytes], fps: float, *,
                      save_dir: Path | None = None, drain_s: float = 10.0) -> CameraReport:
    """Sends `frames` (JPEG bytes, in order) at `fps` and collects the replies; with `save_dir` the
    replies are written there as `reply-<seq>.<ext>` (the client's choice; the node never stores frames)."""
    ws_url = url.rstrip("/").replace("http://", "ws://").replace("https://", "wss://") + "/ws/stream"
    sent_at: dict[int, float] = {}
    latencies: list[float] = []
    node_s: list[float] = []
    report = CameraReport(hello.product, hello.mode, hello.output, fps, 0, 0, 0, {}, {})
    answered: set[int] = set()
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url, max_msg_size=0) as ws:
        await ws.send_json(hello.to_json())
        last_seq = -1

        async def receive() -> None:
            nonlocal last_seq
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    header, payload = parse_frame(bytes(msg.data))
                    now = time.time()
                    answered.add(header.seq)
                    last_seq = header.seq
                    latencies.append(now - sent_at.get(header.seq, header.client_t))
                    node_s.append(header.t_send - header.t_receive)
                    size = f"{header.width_px}x{header.height_px} {header.codec}"
                    if size not in report.reply_sizes:
                        report.reply_sizes.append(size)
                    if save_dir is not None:
                        save_dir.mkdir(parents=True, exist_ok=True)
                        ext = {"jpeg": "jpg"}.get(header.codec, header.codec)
                        (save_dir / f"reply-{header.seq:05d}.{ext}").write_bytes(payload)
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    body = msg.json()
                    if body.get("type") == "status":
                        report.statuses.append({"seq": body["seq"], "status": body["status"],
                                                "message": body.get("message", "")})
                    elif body.get("type") == "error":
                        report.errors.append(f"{body.get('code')}: {body.get('message')}")
                else:
                    break

        welcome = await ws.receive_json(timeout=60)
        if welcome.get("type") != "welcome":
            report.errors.append(f"{welcome.get('code')}: {welcome.get('message')}")
            msg = await ws.receive(timeout=10)
            report.close_code, report.close_reason = ws.close_code, str(msg.extra or "")
            return report
        reader = asyncio.get_running_loop().create_task(receive())
        try:
            t0 = time.monotonic()
            for i, image in enumerate(frames):
                await asyncio.sleep(max(0.0, t0 + i / fps - time.monotonic()))
                seq = i + 1
                sent_at[seq] = time.time()
                await ws.send_bytes(pack_camera_frame(seq, sent_at[seq], image))
                report.frames_sent += 1
            deadline = time.monotonic() + drain_s
            while last_seq < report.frames_sent and time.monotonic() < deadline and not reader.done():
                await asyncio.sleep(0.02)
            await ws.send_json({"type": "bye"})
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(reader, 5.0)
        finally:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
        report.close_code = ws.close_code
    report.frames_answered = len(answered)
    report.frames_superseded = report.frames_sent - len(answered)
    report.latency_ms = _stats_ms(latencies)
    report.node_ms = _stats_ms(node_s)
    return report
