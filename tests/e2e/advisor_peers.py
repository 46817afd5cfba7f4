"""Test parts for the advisor-call sockets: an edge node with a ticket key and small limits, a JSON WebSocket
client that keeps every message, and an aiortc peer that sends a solid-colour video (and silence) and records the
colour of every video frame it decodes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from aiohttp import web
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError
from av import VideoFrame

from render_node.app import create_app
from render_node.config import Config
from render_node.pool import RenderPool
from render_node.rtc.hub import CallHub
from render_node.rtc.routes import CALL_HUB
from showroom.advisory import Advisor, sign_ticket
from showroom.catalog import load_catalog
from tests.tiny_renderer import make_tiny_renderer
from tests.waiting import Changes

KEY = b"advisor-ticket-key-for-tests-only-0123456789"
RECORDING_KEY = bytes(range(32))
FRAME_PX = (160, 120)
FPS = 10


def ticket(name: str = "adv-wang", display_name: str = "Ms Wang", *, key: bytes = KEY,
           ttl_s: float = 300.0) -> str:
    return sign_ticket(key, Advisor(name, display_name), time.time(), ttl_s)


class AdvisorNode:
    def __init__(self, base: str, app: web.Application, runner: web.AppRunner, pool: RenderPool) -> None:
        self.base, self.app, self.runner, self.pool = base, app, runner, pool
        self.stopped = False

    @property
    def hub(self) -> CallHub:
        return self.app[CALL_HUB]

    def ws_url(self, side: str) -> str:
        return self.base.replace("http://", "ws://") + f"/ws/advisor/{side}"

    async def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            await self.runner.cleanup()
            await self.pool.close()


async def start_advisor_node(tmp_path: Path, project_root: Path, *, max_calls: int = 1,
                             max_waiting: int = 2, recording_key: bytes = RECORDING_KEY) -> AdvisorNode:
    """An edge node (like tests/e2e/conftest.py's) with the advisor ticket key and small call limits; renders
    in-process (no worker processes: these tests render nothing)."""
    catalog = load_catalog((project_root / "assets" / "catalog.toml").read_text(encoding="utf-8"))
    assets = tmp_path / "assets"
    (assets / "models").mkdir(parents=True, exist_ok=True)
    config = Config(host="127.0.0.1", port=0, data_dir=tmp_path / "data", role="edge", assets_dir=assets,
                    workers=0, advisor_ticket_key=KEY, advisor_max_calls=max_calls,
                    advisor_max_waiting=max_waiting, recording_key=recording_key)
    pool = RenderPool(make_tiny_renderer, workers=0)
    app = create_app(config, catalog=catalog, renderer_pool=pool)
    runner = web.AppRunner(app, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return AdvisorNode(f"http://127.0.0.1:{runner.addresses[0][1]}", app, runner, pool)


class Json:
    """A JSON WebSocket client that keeps every message; `expect` takes the first unclaimed one that matches."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self._claimed: set[int] = set()
        self.changes = Changes()
        self.done = False
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, session: aiohttp.ClientSession, url: str, hello: dict[str, Any] | None = None) -> Json:
        sock = cls(await session.ws_connect(url, autoclose=True, heartbeat=None))
        if hello is not None:
            await sock.send(hello)
        return sock

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self.messages.append(msg.json())
                    await self.changes.notify()
        finally:
            self.done = True
            await self.changes.notify()

    async def send(self, msg: dict[str, Any]) -> None:
        await self.ws.send_json(msg)

    def _find(self, kind: str, match: Callable[[dict[str, Any]], bool] | None, fields: dict[str, Any]
              ) -> int | None:
        for i, m in enumerate(self.messages):
            if i in self._claimed or m.get("type") != kind:
                continue
            if all(m.get(k) == v for k, v in fields.items()) and (match is None or match(m)):
                return i
        return None

    async def expect(self, type_: str, match: Callable[[dict[str, Any]], bool] | None = None,
                     timeout_s: float = 15.0, **fields: Any) -> dict[str, Any]:
        """The first unclaimed message of `type_` whose `fields` are equal (and that `match` accepts)."""
        await self.changes.wait_until(lambda: self._find(type_, match, fields) is not None or self.done,
                                      what=f"a {type_} message {fields}", timeout_s=timeout_s)
        index = self._find(type_, match, fields)
        assert index is not None, f"closed ({self.ws.close_code}) before a {type_} {fields}: {self.messages}"
        self._claimed.add(index)
        return self.messages[index]

    def seen(self, kind: str, **fields: Any) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind and all(m.get(k) == v for k, v in fields.items())]

    async def closed(self, timeout_s: float = 15.0) -> int | None:
        """Waits for the node to close the socket; its close code."""
        await self.changes.wait_until(lambda: self.done, what="the socket to close", timeout_s=timeout_s)
        return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(BaseException):
            await self._reader


class ColourTrack(MediaStreamTrack):
    """Solid-colour 160x120 video at 10 fps; `rgb` may be changed while it runs."""

    kind = "video"

    def __init__(self, rgb: tuple[int, int, int]) -> None:
        super().__init__()
        self.rgb = rgb
        self._n = 0
        self._t0: float | None = None

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._t0 is None:
            self._t0 = loop.time()
        delay = self._t0 + self._n / FPS - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)  # the pace of a camera, not a wait for a result
        w, h = FRAME_PX
        frame = VideoFrame.from_ndarray(np.full((h, w, 3), self.rgb, dtype=np.uint8), format="rgb24")
        frame.pts, frame.time_base = self._n * (90_000 // FPS), Fraction(1, 90_000)
        self._n += 1
        return frame


class Peer:
    """One side's browser, played by aiortc: mic (silence) and camera (a colour) out, one audio and one video in."""

    def __init__(self, rgb: tuple[int, int, int] | None) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.audio = AudioStreamTrack()
        self.video = ColourTrack(rgb) if rgb is not None else None
        self.pc.addTrack(self.audio)
        if self.video is not None:
            self.pc.addTrack(self.video)
        else:
            self.pc.addTransceiver("video", direction="recvonly")
        self.colours: list[tuple[int, int, int]] = []
        self.audio_frames = 0
        self.changes = Changes()
        self._readers: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._readers.append(asyncio.get_running_loop().create_task(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if isinstance(frame, VideoFrame):
                    rgb = frame.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)
                    self.colours.append((int(rgb[0]), int(rgb[1]), int(rgb[2])))
                else:
                    self.audio_frames += 1
                await self.changes.notify()

    def saw(self, rgb: tuple[int, int, int], tolerance: int = 40) -> bool:
        return any(all(abs(a - b) <= tolerance for a, b in zip(c, rgb, strict=True)) for c in self.colours)

    async def wait_colour(self, rgb: tuple[int, int, int], timeout_s: float = 30.0) -> None:
        await self.changes.wait_until(lambda: self.saw(rgb), what=f"a decoded video frame of colour {rgb}",
                                      timeout_s=timeout_s)

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def accept(self, answer_sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))

    async def close(self) -> None:
        if self.video is not None:
            self.video.stop()
        self.audio.stop()
        await self.pc.close()
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
