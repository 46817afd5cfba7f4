"""Live stream sessions on `/ws/stream`: hello -> welcome, poses in, rendered frames out (latest pose wins).

One session = one WebSocket, one receive loop and one frame loop. The receive loop only parses and stores the
newest pose (older unrendered poses are superseded, never queued); the frame loop renders that pose on the
worker pool, encodes it (JPEG/WebP in an executor, H.264 through one encoder per session), and sends it with
a header of stage timestamps, then waits for the next pose. A slow client slows its own frame loop (the send is
awaited), so it gets fewer frames rather than a queue. Adaptive quality lowers JPEG quality, then resolution,
when frames exceed `max_kbps` or the target frame time, and raises them back when there is room.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import WSCloseCode, WSMsgType, web

from render_node import protocol
from render_node.encoding import H264Encoder, encode_jpeg, encode_webp
from render_node.errors import NodeError, Overloaded
from render_node.keys import CATALOG, METRICS, RENDER_POOL, SESSIONS, VIEWS
from render_node.metrics import NodeMetrics
from render_node.pool import PRIORITY_LIVE, RenderPool
from render_node.protocol import FrameHeader, Hello, Pose, ProtocolError
from render_node.render.types import (
    CameraPose,
    Intrinsics,
    MaterialOverride,
    PoseView,
    RenderRequest,
    StereoView,
)
from render_node.views import ViewStore, env_for
from showroom.catalog import Catalog
from showroom.errors import NotFound

log = logging.getLogger("render_node.sessions")


@dataclass(frozen=True)
class StreamLimits:
    max_sessions: int = 8
    max_message_bytes: int = 64 * 1024
    idle_timeout_s: float = 30.0
    hello_timeout_s: float = 10.0
    heartbeat_s: float = 10.0
    max_messages_per_s: int = 1000
    render_timeout_s: float = 10.0

    def to_json(self) -> dict[str, Any]:
        return {"max_sessions": self.max_sessions, "max_message_bytes": self.max_message_bytes,
                "idle_timeout_s": self.idle_timeout_s, "heartbeat_s": self.heartbeat_s,
                "max_pose_hz": protocol.MAX_POSE_HZ}


class SessionRegistry:
    """The node's open stream sessions; refuses past `limits.max_sessions`, closes all on shutdown."""

    def __init__(self, limits: StreamLimits | None = None) -> None:
        self.limits = limits or StreamLimits()
        self._sessions: dict[str, StreamSession] = {}
        self._ids = itertools.count(1)
        self.closing = False

    def __len__(self) -> int:
        return len(self._sessions)

    def new_id(self) -> str:
        return f"s{next(self._ids)}-{secrets.token_hex(4)}"

    def add(self, session: StreamSession) -> None:
        self._sessions[session.session_id] = session

    def remove(self, session: StreamSession) -> None:
        self._sessions.pop(session.session_id, None)

    async def close_all(self) -> None:
        self.closing = True
        await asyncio.gather(*(s.ws.close(code=WSCloseCode.GOING_AWAY, message=b"node shutting down")
                               for s in list(self._sessions.values())), return_exceptions=True)


@dataclass
class _Quality:
    """Adaptive knobs of one session: JPEG quality and a resolution scale.

    Decisions use moving averages of frame size and busy time (render + encode), and a step needs a few
    frames in a row over (or well under) budget, so one slow frame (an encoder warming up) changes nothing.
    """

    jpeg_quality: int = 80
    scale: float = 1.0
    frames: int = 0
    avg_bytes: float = 0.0
    avg_busy_s: float = 0.0
    over: int = 0
    under: int = 0

    MIN_Q = 35
    MAX_Q = 85
    MIN_SCALE = 0.4
    STEP_AFTER = 3
    RAISE_AFTER = 15

    def adapt(self, frame_bytes: int, busy_s: float, target_fps: float, max_kbps: int) -> None:
        self.frames += 1
        if self.frames <= 2:  # warm-up frames (first render of a scene, encoder start) say little
            self.avg_bytes, self.avg_busy_s = float(frame_bytes), busy_s
            return
        self.avg_bytes = 0.7 * self.avg_bytes + 0.3 * frame_bytes
        self.avg_busy_s = 0.7 * self.avg_busy_s + 0.3 * busy_s
        kbps = self.avg_bytes * 8 * target_fps / 1000
        budget_s = 1.0 / target_fps
        too_big = kbps > max_kbps
        too_slow = self.avg_busy_s > budget_s * 1.15
        if too_big or too_slow:
            self.under = 0
            self.over += 1
            if self.over < self.STEP_AFTER:
                return
            self.over = 0
            if too_big and self.jpeg_quality > self.MIN_Q:
                self.jpeg_quality = max(self.MIN_Q, self.jpeg_quality - (15 if kbps > 1.5 * max_kbps else 5))
            else:
                self.scale = max(self.MIN_SCALE, round(self.scale * 0.85, 3))
            return
        self.over = 0
        if kbps < 0.6 * max_kbps and self.avg_busy_s < 0.6 * budget_s:
            self.under += 1
            if self.under >= self.RAISE_AFTER:
                self.under = 0
                if self.scale < 1.0:
                    self.scale = min(1.0, round(self.scale * 1.1, 3))
                elif self.jpeg_quality < self.MAX_Q:
                    self.jpeg_quality = min(self.MAX_Q, self.jpeg_quality + 5)
        else:
            self.under = 0


@dataclass
class _Rendered:
    pose: Pose
    t_receive: float
    t_render_start: float
    t_render_end: float
    frame: np.ndarray[Any, np.dtype[np.uint8]]
    payload: bytes | None = None
    keyframe: bool = True
    quality: int = 0
    t_encode_end: float = 0.0


@dataclass
class _PoseSlot:
    pose: Pose | None = None
    received_at: float = 0.0
    fresh: asyncio.Event = field(default_factory=asyncio.Event)


class StreamSession:
    def __init__(self, ws: web.WebSocketResponse, session_id: str, hello: Hello, model_path: Path,
                 overrides: tuple[MaterialOverride, ...], env: str, pool: RenderPool, metrics: NodeMetrics,
                 limits: StreamLimits, peers: Callable[[], int] = lambda: 1) -> None:
        self.ws = ws
        self.session_id = session_id
        self.hello = hello
        self.model_path = model_path
        self.overrides = overrides
        self.env = env
        self.pool = pool
        self.metrics = metrics
        self.limits = limits
        self.peers = peers
        self.slot = _PoseSlot()
        self.quality = _Quality()
        self.frames_sent = 0
        self.poses_received = 0
        self.poses_superseded = 0
        self.bytes_sent = 0
        self._h264: H264Encoder | None = None
        self.log = logging.LoggerAdapter(log, {"session": session_id})

    def _size(self) -> tuple[int, int]:
        s = self.quality.scale
        w = max(16, int(self.hello.width_px * s) // 2 * 2)
        h = max(16, int(self.hello.height_px * s) // 2 * 2)
        return w, h

    def request_for(self, pose: Pose) -> RenderRequest:
        w, h = self._size()
        intrinsics = Intrinsics.from_fov(self.hello.fov_deg, w, h)
        camera = CameraPose(pose.position_m, pose.orientation_xyzw)
        view: StereoView | PoseView
        if self.hello.eyes == 2:
            view = StereoView(camera, intrinsics, ipd_m=self.hello.ipd_m)
        else:
            view = PoseView(camera, intrinsics)
        env = self.env if self.env in ("studio", "counter", "car") else "studio"
        return RenderRequest(self.model_path, view, size_px=(w, h), background="env", env=env,  # type: ignore[arg-type]
                             overrides=self.overrides)

    def offer(self, pose: Pose) -> None:
        """Stores the newest pose; an older one not yet rendered is superseded."""
        self.poses_received += 1
        self.metrics.poses_received.inc()
        if self.slot.pose is not None and self.slot.fresh.is_set():
            self.poses_superseded += 1
            self.metrics.poses_dropped.inc()
        if self.slot.pose is None or pose.seq >= self.slot.pose.seq:
            self.slot.pose = pose
            self.slot.received_at = time.time()
            self.slot.fresh.set()

    def _encode(self, frame: np.ndarray[Any, np.dtype[np.uint8]]) -> tuple[bytes, bool, int]:
        codec = self.hello.codec
        if codec == "jpeg":
            return encode_jpeg(frame, self.quality.jpeg_quality), True, self.quality.jpeg_quality
        if codec == "webp":
            return encode_webp(frame, self.quality.jpeg_quality), True, self.quality.jpeg_quality
        h, w = frame.shape[:2]
        if self._h264 is None or (self._h264.width_px, self._h264.height_px) != (w, h):
            if self._h264 is not None:
                self._h264.close()
            kbps = max(200, int(self.hello.max_kbps * 0.8))
            self._h264 = H264Encoder(w, h, bitrate_kbps=kbps, fps=max(1, round(self.hello.target_fps)))
        data, key = self._h264.encode(frame)
        return data, key, 0

    async def frame_loop(self) -> None:
        """Renders and sends frames until the socket closes; a failure that is not a skipped frame closes the
        socket with 1011 and the reason (the receive loop then ends)."""
        try:
            await self._frames()
        except asyncio.CancelledError:
            raise
        except NodeError as exc:
            self.log.warning("[%s] stream failed: %s", self.session_id, exc.message)
            await _close(self.ws, protocol.CLOSE_INTERNAL, f"{exc.code}: {exc.message}")
        except Exception:
            self.log.exception("[%s] stream failed", self.session_id)
            await _close(self.ws, protocol.CLOSE_INTERNAL, "internal error")

    def _depth(self) -> int:
        """Renders this session may have in flight: two when the pool has a worker to spare per session
        (a single viewer then gets about twice the frames), one when sessions share the workers."""
        return max(1, min(2, self.pool.size // max(1, self.peers())))

    async def _render(self, pose: Pose, t_receive: float) -> _Rendered | None:
        """Renders `pose`; JPEG/WebP are encoded here too (in parallel with other renders). None: skipped."""
        loop = asyncio.get_running_loop()
        t_render_start = time.time()
        try:
            frame = await self.pool.render(self.request_for(pose), timeout_s=self.limits.render_timeout_s,
                                           priority=PRIORITY_LIVE)
        except Overloaded as exc:
            self.log.warning("[%s] frame skipped: %s", self.session_id, exc.message)
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.send_json({"type": "error", "code": exc.code, "message": exc.message})
            return None
        t_render_end = time.time()
        done = _Rendered(pose, t_receive, t_render_start, t_render_end, frame)
        if self.hello.codec != "h264":  # stateless codecs encode right away; H.264 waits for its turn
            done.payload, done.keyframe, done.quality = await loop.run_in_executor(None, self._encode, frame)
            done.t_encode_end = time.time()
        return done

    async def _frames(self) -> None:
        loop = asyncio.get_running_loop()
        budget_s = 1.0 / self.hello.target_fps
        next_at = 0.0
        last_seq = -1
        renders: set[asyncio.Task[_Rendered | None]] = set()
        try:
            while not self.ws.closed:
                waiters: set[asyncio.Future[Any]] = set(renders)
                fresh: asyncio.Task[bool] | None = None
                timeout_s: float | None = None
                if len(renders) < self._depth():
                    if self.slot.fresh.is_set():
                        wait_s = next_at - time.monotonic()
                        if wait_s <= 0:  # start the newest pose; poses that arrive meanwhile replace it
                            self.slot.fresh.clear()
                            pose, t_receive = self.slot.pose, self.slot.received_at
                            if pose is not None and pose.seq > last_seq:
                                next_at = time.monotonic() + budget_s
                                renders.add(loop.create_task(self._render(pose, t_receive)))
                            continue
                        timeout_s = wait_s  # pace to target_fps
                    else:
                        fresh = loop.create_task(self.slot.fresh.wait())
                        waiters.add(fresh)
                if not waiters and timeout_s is not None:
                    await asyncio.sleep(timeout_s)
                    continue
                done, _ = await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
                if fresh is not None and not fresh.done():
                    fresh.cancel()
                finished = [t for t in done if t in renders]
                renders.difference_update(finished)
                results = [r for r in (t.result() for t in finished) if r is not None]
                for r in sorted(results, key=lambda r: r.pose.seq):
                    if r.pose.seq <= last_seq:
                        continue  # a newer pose's frame went out first
                    if not await self._send(r):
                        return
                    last_seq = r.pose.seq
        finally:
            for task in renders:
                task.cancel()

    async def _send(self, r: _Rendered) -> bool:
        """Encodes (H.264) and sends one rendered frame; False when the socket is gone."""
        if r.payload is None:
            encoded = await asyncio.get_running_loop().run_in_executor(None, self._encode, r.frame)
            r.payload, r.keyframe, r.quality = encoded
            r.t_encode_end = time.time()
            payload = encoded[0]
        else:
            payload = r.payload
        h, w = r.frame.shape[:2]
        header = FrameHeader(self.hello.codec, r.keyframe, self.hello.eyes, r.quality, w, h, r.pose.seq,
                             self.frames_sent, r.pose.t, r.t_receive, r.t_render_start, r.t_render_end,
                             r.t_encode_end, time.time(), len(payload))
        if self.ws.closed:
            return False
        try:
            await self.ws.send_bytes(header.pack() + payload)
        except (ConnectionError, RuntimeError):
            return False
        t_sent = time.time()
        size = len(payload) + protocol.HEADER_SIZE
        self.frames_sent += 1
        self.bytes_sent += size
        m = self.metrics
        m.frames_sent.labels(self.hello.codec).inc()
        m.frame_bytes.labels(self.hello.codec).inc(size)
        m.stage_seconds.labels("queue").observe(max(0.0, r.t_render_start - r.t_receive))
        m.stage_seconds.labels("render").observe(r.t_render_end - r.t_render_start)
        m.stage_seconds.labels("encode").observe(max(0.0, r.t_encode_end - r.t_render_end))
        m.stage_seconds.labels("send").observe(max(0.0, t_sent - r.t_encode_end))
        m.pose_to_send_seconds.observe(max(0.0, t_sent - r.t_receive))
        if self.hello.adaptive:
            busy_s = (r.t_render_end - r.t_render_start) + max(0.0, r.t_encode_end - r.t_render_end)
            self.quality.adapt(len(payload), busy_s / self._depth(), self.hello.target_fps,
                               self.hello.max_kbps)
        return True

    def close(self) -> None:
        if self._h264 is not None:
            self._h264.close()
            self._h264 = None


def _load_json(data: str) -> dict[str, Any]:
    try:
        msg = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ProtocolError("message is not valid JSON", protocol.CLOSE_INVALID_DATA) from None
    if not isinstance(msg, dict):
        raise ProtocolError("message must be a JSON object", protocol.CLOSE_INVALID_DATA)
    return msg


def _reason(text: str) -> bytes:
    return text.encode()[:120]


async def _close(ws: web.WebSocketResponse, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await ws.close(code=code, message=_reason(reason))


def _resolve(catalog: Catalog, views: ViewStore, product_id: str, variant_id: str | None
             ) -> tuple[Path, tuple[MaterialOverride, ...], str]:
    product = catalog.get(product_id)
    variant = product.variant(variant_id)
    return views.model_path(product), views.overrides(product, variant), env_for(product)


async def _receive_json(ws: web.WebSocketResponse, timeout_s: float, max_bytes: int) -> dict[str, Any] | None:
    """The next text message as a dict; None when the socket closed. Raises ProtocolError on bad input.

    aiohttp itself drops messages past 4 x `max_bytes` (close 1009, no reason); between the two limits the
    node closes with 1009 and says why."""
    try:
        msg = await ws.receive(timeout=timeout_s)
    except TimeoutError:
        raise ProtocolError("idle timeout", protocol.CLOSE_IDLE) from None
    if msg.type == WSMsgType.TEXT:
        if len(msg.data) > max_bytes:
            raise ProtocolError(f"message too big: {len(msg.data)} bytes, the limit is {max_bytes}",
                                protocol.CLOSE_TOO_BIG)
        return _load_json(msg.data)
    if msg.type == WSMsgType.BINARY:
        raise ProtocolError("binary messages are not accepted on this stream", protocol.CLOSE_INVALID_DATA)
    if msg.type == WSMsgType.ERROR:
        exc = ws.exception()
        if ws.close_code == WSCloseCode.MESSAGE_TOO_BIG or "too big" in str(exc).lower():
            raise ProtocolError("message too big", protocol.CLOSE_TOO_BIG)
        raise ProtocolError(f"bad frame: {exc}", protocol.CLOSE_POLICY)
    return None


async def stream_handler(request: web.Request) -> web.StreamResponse:
    """GET /ws/stream: a live VR/phone/kiosk stream."""
    app = request.app
    registry = app[SESSIONS]
    limits = registry.limits
    metrics = app[METRICS]
    ws = web.WebSocketResponse(heartbeat=limits.heartbeat_s, max_msg_size=4 * limits.max_message_bytes,
                               compress=False)
    await ws.prepare(request)
    if registry.closing:
        await _close(ws, protocol.CLOSE_GOING_AWAY, "node shutting down")
        return ws
    if len(registry) >= limits.max_sessions:
        metrics.sessions_refused.labels("max_sessions").inc()
        reason = f"node is full: {limits.max_sessions} sessions"
        with contextlib.suppress(Exception):
            await ws.send_json({"type": "error", "code": "too_many_sessions", "message": reason})
        await _close(ws, protocol.CLOSE_TRY_AGAIN_LATER, reason)
        return ws
    session: StreamSession | None = None
    frames: asyncio.Task[None] | None = None
    session_id = registry.new_id()
    try:
        first = await _receive_json(ws, limits.hello_timeout_s, limits.max_message_bytes)
        if first is None:
            return ws
        hello = protocol.parse_hello(first)
        try:
            model, overrides, env = _resolve(app[CATALOG], app[VIEWS], hello.product, hello.variant)
        except NotFound as exc:
            raise ProtocolError(exc.message, protocol.CLOSE_UNKNOWN_PRODUCT) from None
        session = StreamSession(ws, session_id, hello, model, overrides, env, app[RENDER_POOL], metrics, limits,
                                peers=lambda: len(registry))
        registry.add(session)
        metrics.sessions_total.labels(hello.client).inc()
        metrics.sessions_active.labels(hello.client).inc()
        session.log.info("[%s] %s session: %s %dx%d x%d eyes %s", session_id, hello.client, hello.product,
                         hello.width_px, hello.height_px, hello.eyes, hello.codec)
        await ws.send_json({
            "type": "welcome", "session_id": session_id, "codec": hello.codec, "eyes": hello.eyes,
            "viewport": {"width": hello.width_px, "height": hello.height_px},
            "stereo_layout": "side_by_side_left_first" if hello.eyes == 2 else "mono",
            "header": {"magic": protocol.MAGIC.decode(), "version": protocol.VERSION,
                       "size": protocol.HEADER_SIZE},
            "limits": limits.to_json(), "server_t": time.time(),
        })
        frames = asyncio.get_running_loop().create_task(session.frame_loop())
        window_start, window_count = time.monotonic(), 0
        while True:
            msg = await _receive_json(ws, limits.idle_timeout_s, limits.max_message_bytes)
            if msg is None:
                break
            now = time.monotonic()
            if now - window_start >= 1.0:
                window_start, window_count = now, 0
            window_count += 1
            if window_count > limits.max_messages_per_s:
                raise ProtocolError("too many messages per second", protocol.CLOSE_POLICY)
            kind = msg.get("type")
            if kind == "pose":
                session.offer(protocol.parse_pose(msg))
            elif kind == "ping":
                await ws.send_json({"type": "pong", "t": msg.get("t"), "server_t": time.time()})
            elif kind == "select":
                pid = msg.get("product")
                vid = msg.get("variant")
                if not isinstance(pid, str) or (vid is not None and not isinstance(vid, str)):
                    raise ProtocolError("select needs a product id", protocol.CLOSE_INVALID_DATA)
                try:
                    session.model_path, session.overrides, session.env = _resolve(
                        app[CATALOG], app[VIEWS], pid, vid)
                except NotFound as exc:
                    await ws.send_json({"type": "error", "code": exc.code, "message": exc.message})
            elif kind == "bye":
                await _close(ws, protocol.CLOSE_NORMAL, "bye")
                break
            elif kind == "hello":
                raise ProtocolError("hello was already received", protocol.CLOSE_POLICY)
            else:
                raise ProtocolError(f"unknown message type {kind!r}", protocol.CLOSE_POLICY)
            if frames.done():
                break
    except ProtocolError as exc:
        (session.log if session else log).info("[%s] closing: %s", session_id, exc.message)
        with contextlib.suppress(Exception):
            await ws.send_json({"type": "error", "code": "protocol_error", "message": exc.message})
        await _close(ws, exc.close_code, exc.message)
    except NodeError as exc:
        log.warning("[%s] closing on error: %s", session_id, exc.message)
        await _close(ws, protocol.CLOSE_INTERNAL, exc.message)
    finally:
        if frames is not None:
            frames.cancel()
            with contextlib.suppress(BaseException):
                await frames
            if frames.done() and not frames.cancelled() and frames.exception() is not None:
                log.error("[%s] frame loop failed: %r", session_id, frames.exception())
        if session is not None:
            registry.remove(session)
            metrics.sessions_active.labels(session.hello.client).dec()
            session.close()
            session.log.info("[%s] ended: %d poses, %d frames, %d superseded, %.1f MB", session_id,
                             session.poses_received, session.frames_sent, session.poses_superseded,
                             session.bytes_sent / 1e6)
        if not ws.closed:
            await _close(ws, protocol.CLOSE_NORMAL, "session over")
    return ws


def setup(app: web.Application) -> None:
    app.router.add_get("/ws/stream", stream_handler, name="stream")

    async def going_away(app: web.Application) -> None:
        await app[SESSIONS].close_all()

    app.on_shutdown.append(going_away)


