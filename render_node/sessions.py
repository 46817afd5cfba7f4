"""Live stream sessions on `/ws/stream`: hello -> welcome, poses in, rendered frames out (latest pose wins).

One session = one WebSocket, one receive loop and one frame loop. The receive loop only parses and stores the
newest pose (older unrendered poses are superseded, never queued); the frame loop renders that pose on the
worker pool, encodes it (JPEG/WebP in an executor, H.264 through one encoder per session), and sends it with
a header of stage timestamps, then waits for the next pose. A slow client slows its own frame loop (the send is
awaited), so it gets fewer frames rather than a queue. Adaptive quality lowers JPEG quality, then resolution,
when frames exceed `max_kbps` or the target frame time, and raises them back when there is room.

The camera modes (hello `"mode": "ar"|"tryon"`) are a `CameraSession`: the client sends camera frames (binary,
`protocol.CAMERA_HEADER` + JPEG) and the node answers each processed frame with an overlay or a composite, the
newest frame only, one at a time (detection, smoothing and fitting by `render_node.tryon.stream.
CameraFrameProcessor`, the product rendered on the worker pool). Camera frames live in memory only: they are
never written to disk and never logged (PIPL).
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
from typing import Any, Literal, cast

import numpy as np
import showroom_protocol as protocol
from aiohttp import WSCloseCode, WSMsgType, web
from showroom_protocol import CameraFrame, FrameHeader, Hello, Pose, ProtocolError

from render_node.ar.errors import ConsentRequired, NotWearable
from render_node.ar.frames import decode_frame, parse_intrinsics, parse_pose
from render_node.ar.geometry import model_shape
from render_node.assets.variants import scale_for
from render_node.encoding import H264Encoder, encode_jpeg, encode_png, encode_webp
from render_node.errors import BadRequest, NodeError, Overloaded, PayloadTooLarge
from render_node.keys import CATALOG, METRICS, RENDER_POOL, SESSIONS, VIEWS
from render_node.metrics import NodeMetrics
from render_node.pool import PRIORITY_LIVE, RenderPool
from render_node.render.types import (
    CameraPose,
    Intrinsics,
    MaterialOverride,
    PoseView,
    RenderRequest,
    StereoView,
)
from render_node.tryon.fitting import Anchor, Finger
from render_node.tryon.pipeline import anchor_for
from render_node.tryon.stream import CameraFrameProcessor, FramePlan
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
        self._sessions: dict[str, StreamSession | CameraSession] = {}
        self._ids = itertools.count(1)
        self.closing = False

    def __len__(self) -> int:
        return len(self._sessions)

    def new_id(self) -> str:
        return f"s{next(self._ids)}-{secrets.token_hex(4)}"

    def add(self, session: StreamSession | CameraSession) -> None:
        self._sessions[session.session_id] = session

    def remove(self, session: StreamSession | CameraSession) -> None:
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
        if not await _send_frame(self.ws, self.metrics, header, payload):
            return False
        self.frames_sent += 1
        self.bytes_sent += len(payload) + protocol.HEADER_SIZE
        if self.hello.adaptive:
            busy_s = (r.t_render_end - r.t_render_start) + max(0.0, r.t_encode_end - r.t_render_end)
            self.quality.adapt(len(payload), busy_s / self._depth(), self.hello.target_fps,
                               self.hello.max_kbps)
        return True

    def close(self) -> None:
        if self._h264 is not None:
            self._h264.close()
            self._h264 = None

@dataclass
class _FrameSlot:
    frame: CameraFrame | None = None
    received_at: float = 0.0
    fresh: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True)
class _CameraItem:
    """What a camera session draws: the model, its materials and size, and (try-on) where it is worn."""

    product_id: str
    model_path: Path
    overrides: tuple[MaterialOverride, ...]
    scale: float
    anchor: str | None
    """Try-on: neck, ear, finger or wrist."""
    length_mm: float | None


def _camera_item(catalog: Catalog, views: ViewStore, hello: Hello, product_id: str,
                 variant_id: str | None) -> _CameraItem:
    """Raises NotFound (product/variant), NotWearable (try-on of a gold bar, a ring at the neck)."""
    product = catalog.get(product_id)
    variant = product.variant(variant_id)
    anchor = None
    if hello.mode == "tryon":
        anchor = anchor_for(product.kind.value, product.tryon_anchor.value if product.tryon_anchor else None,
                            hello.anchor)
    length = float(variant.length_mm) if variant.length_mm is not None else None
    return _CameraItem(product.id, views.model_path(product), views.overrides(product, variant),
                       scale_for(product, variant), anchor, length)


def _make_processor(hello: Hello, item: _CameraItem) -> CameraFrameProcessor:
    """Blocking (reads the model's shape, loads the landmark models): run it in an executor."""
    if not item.model_path.is_file():
        raise BadRequest(f"the model of {item.product_id} is not built on this node; run `showroom assets build`")
    mode: Literal["ar", "tryon"] = "tryon" if hello.mode == "tryon" else "ar"
    return CameraFrameProcessor(mode, item.model_path, model_shape(item.model_path),
                                anchor=cast(Anchor | None, item.anchor), overrides=item.overrides, scale=item.scale,
                                consent=hello.consent, finger=cast(Finger, hello.finger), length_mm=item.length_mm,
                                mirrored=hello.mirrored)


@dataclass
class _Processed:
    frame: CameraFrame
    t_receive: float
    t_start: float
    t_done: float
    plan: FramePlan
    image: np.ndarray[Any, np.dtype[np.uint8]]


class CameraSession:
    """An AR or try-on stream: camera frames in, overlays or composites out; the newest frame wins.

    One frame is processed at a time (the processor's smoothing is stateful and in order); a frame that arrives
    while another is processed waits in a one-frame slot and is replaced by any newer frame (superseded, never
    queued). Replies echo the camera frame's seq and client time in the usual frame header. When what the frame
    shows changes ("ok", "no_face", "no_hand", "no_marker", ...) a JSON status message goes out first."""

    def __init__(self, ws: web.WebSocketResponse, session_id: str, hello: Hello, item: _CameraItem,
                 processor: CameraFrameProcessor, pool: RenderPool, metrics: NodeMetrics,
                 limits: StreamLimits) -> None:
        self.ws = ws
        self.session_id = session_id
        self.hello = hello
        self.item = item
        self.processor = processor
        self.pool = pool
        self.metrics = metrics
        self.limits = limits
        self.slot = _FrameSlot()
        self.anchor_pose: CameraPose | None = None
        self.frames_received = 0
        self.frames_superseded = 0
        self.frames_sent = 0
        self.bytes_sent = 0
        self.statuses: dict[str, int] = {}
        self._last_status: str | None = None
        self._last_t_s = -1e9
        self._lock = asyncio.Lock()
        self.log = logging.LoggerAdapter(log, {"session": session_id})

    # the receive side
    def offer(self, frame: CameraFrame) -> None:
        """Stores the newest camera frame; one not yet taken is superseded (and its bytes released)."""
        self.frames_received += 1
        self.metrics.poses_received.inc()
        if self.slot.frame is not None:
            self.frames_superseded += 1
            self.metrics.poses_dropped.inc()
        self.slot.frame = frame
        self.slot.received_at = time.time()
        self.slot.fresh.set()

    def set_anchor_pose(self, msg: dict[str, Any]) -> None:
        """`{"type": "anchor_pose", ...}`: the WebXR camera pose relative to the hit-test anchor, used for the
        following frames (until replaced or `"clear": true`, which goes back to the marker board)."""
        if self.hello.mode != "ar":
            raise ProtocolError("anchor_pose is for ar sessions", protocol.CLOSE_POLICY)
        if msg.get("clear") is True:
            self.anchor_pose = None
            return
        body = {k: v for k, v in msg.items() if k not in ("type", "seq", "t")}
        try:
            self.anchor_pose = parse_pose(json.dumps(body))
        except BadRequest as exc:
            raise ProtocolError(f"anchor_pose: {exc.message}", protocol.CLOSE_INVALID_DATA) from None

    async def select(self, item: _CameraItem) -> None:
        """Switches the product: a new processor (smoothing starts over), the old one closed."""
        loop = asyncio.get_running_loop()
        processor = await loop.run_in_executor(None, _make_processor, self.hello, item)
        async with self._lock:
            old, self.processor, self.item = self.processor, processor, item
            self._last_status = None
        await loop.run_in_executor(None, old.close)

    # the frame side
    async def frame_loop(self) -> None:
        try:
            while not self.ws.closed:
                await self.slot.fresh.wait()
                self.slot.fresh.clear()
                frame, t_receive = self.slot.frame, self.slot.received_at
                self.slot.frame = None
                if frame is None:
                    continue
                done = await self._process(frame, t_receive)
                del frame
                if done is not None and not await self._send(done):
                    return
        except asyncio.CancelledError:
            raise
        except NodeError as exc:
            self.log.warning("[%s] camera stream failed: %s", self.session_id, exc.message)
            await _close(self.ws, protocol.CLOSE_INTERNAL, f"{exc.code}: {exc.message}")
        except Exception as exc:  # the traceback could hold frame data in locals; log the type only
            self.log.error("[%s] camera stream failed: %s", self.session_id, type(exc).__name__)
            await _close(self.ws, protocol.CLOSE_INTERNAL, "internal error")

    async def _tell(self, msg: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_json(msg)

    def _clock(self, client_t: float) -> float:
        """Seconds for the One Euro filters: the client's capture time while it increases, else the node's."""
        t_s = client_t if client_t > self._last_t_s else max(self._last_t_s + 1e-3, time.monotonic())
        self._last_t_s = t_s
        return t_s

    async def _process(self, frame: CameraFrame, t_receive: float) -> _Processed | None:
        loop = asyncio.get_running_loop()
        t_start = time.time()
        async with self._lock:
            proc = self.processor
            try:
                rgb = await loop.run_in_executor(None, decode_frame, frame.image)
                h, w = rgb.shape[:2]
                intrinsics_json = json.dumps(self.hello.intrinsics) if self.hello.intrinsics is not None else None
                k = parse_intrinsics(intrinsics_json, str(self.hello.fov_deg), w, h)
            except (BadRequest, PayloadTooLarge) as exc:  # a corrupt or oversized frame: say so, keep the session
                await self._tell({"type": "error", "code": exc.code, "seq": frame.seq, "message": exc.message})
                return None
            plan = await loop.run_in_executor(None, proc.plan, rgb, k, self.anchor_pose, self._clock(frame.t))
            try:
                renders = await asyncio.gather(*(
                    self.pool.render(win.request, timeout_s=self.limits.render_timeout_s, priority=PRIORITY_LIVE)
                    for win in plan.windows))
            except Overloaded as exc:
                self.log.warning("[%s] frame skipped: %s", self.session_id, exc.message)
                await self._tell({"type": "error", "code": exc.code, "seq": frame.seq, "message": exc.message})
                return None
            image = await loop.run_in_executor(None, proc.finish, plan, list(renders), self.hello.output)
        return _Processed(frame, t_receive, t_start, time.time(), plan, image)

    def _encode(self, image: np.ndarray[Any, np.dtype[np.uint8]]) -> tuple[protocol.Codec, bytes, int]:
        q = 85
        if self.hello.output == "overlay":
            if self.hello.codec == "webp":
                return "webp", encode_webp(image, q), q
            return "png", encode_png(image, 1), 0
        if self.hello.codec == "webp":
            return "webp", encode_webp(image, q), q
        return "jpeg", encode_jpeg(image, q), q

    async def _send(self, p: _Processed) -> bool:
        status = p.plan.status
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status != self._last_status:
            self._last_status = status
            await self._tell({"type": "status", "seq": p.frame.seq, "status": status,
                              "message": p.plan.message or ("placed" if status == "ok" else status)})
        codec, payload, quality = await asyncio.get_running_loop().run_in_executor(None, self._encode, p.image)
        t_encode_end = time.time()
        h, w = p.image.shape[:2]
        header = FrameHeader(codec, True, 1, quality, w, h, p.frame.seq, self.frames_sent, p.frame.t, p.t_receive,
                             p.t_start, p.t_done, t_encode_end, time.time(), len(payload))
        if not await _send_frame(self.ws, self.metrics, header, payload):
            return False
        self.frames_sent += 1
        self.bytes_sent += len(payload) + protocol.HEADER_SIZE
        return True

    def close(self) -> None:
        self.slot.frame = None
        self.processor.close()


async def _send_frame(ws: web.WebSocketResponse, metrics: NodeMetrics, header: FrameHeader, payload: bytes) -> bool:
    """Sends one binary frame and records its bytes and stage times; False when the client is gone."""
    if ws.closed:
        return False
    try:
        await ws.send_bytes(header.pack() + payload)
    except (ConnectionError, RuntimeError):
        return False
    t_sent = time.time()
    metrics.frames_sent.labels(header.codec).inc()
    metrics.frame_bytes.labels(header.codec).inc(len(payload) + protocol.HEADER_SIZE)
    stages = metrics.stage_seconds
    stages.labels("queue").observe(max(0.0, header.t_render_start - header.t_receive))
    stages.labels("render").observe(header.t_render_end - header.t_render_start)
    stages.labels("encode").observe(max(0.0, header.t_encode_end - header.t_render_end))
    stages.labels("send").observe(max(0.0, t_sent - header.t_encode_end))
    metrics.pose_to_send_seconds.observe(max(0.0, t_sent - header.t_receive))
    return True


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
    """The next text message as a dict; None when the socket closed. Raises ProtocolError on bad input."""
    msg = await _receive(ws, timeout_s, max_bytes, camera=False)
    assert not isinstance(msg, bytes)
    return msg


async def _receive(ws: web.WebSocketResponse, timeout_s: float, max_bytes: int, *, camera: bool
                   ) -> dict[str, Any] | bytes | None:
    """The next message: a text message as a dict, a binary one (camera modes only) as bytes; None when the
    socket closed. Raises ProtocolError on bad input.

    aiohttp itself drops messages past its `max_msg_size` (close 1009, no reason); below that the node closes
    with 1009 and says why: text past `max_bytes`, camera frames past `protocol.MAX_CAMERA_FRAME_BYTES`."""
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
        if not camera:
            raise ProtocolError("binary messages are only accepted in the ar and tryon modes",
                                protocol.CLOSE_INVALID_DATA)
        data: bytes = msg.data
        limit = protocol.MAX_CAMERA_FRAME_BYTES + protocol.CAMERA_HEADER_SIZE
        if len(data) > limit:
            raise ProtocolError(f"camera frame too big: {len(data)} bytes, the limit is {limit}",
                                protocol.CLOSE_TOO_BIG)
        return data
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
    max_msg = max(4 * limits.max_message_bytes, protocol.MAX_CAMERA_FRAME_BYTES + 64 * 1024)
    ws = web.WebSocketResponse(heartbeat=limits.heartbeat_s, max_msg_size=max_msg, compress=False)
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
    session: StreamSession | CameraSession | None = None
    frames: asyncio.Task[None] | None = None
    session_id = registry.new_id()
    try:
        first = await _receive_json(ws, limits.hello_timeout_s, limits.max_message_bytes)
        if first is None:
            return ws
        hello = protocol.parse_hello(first)
        if hello.camera:
            session = await _open_camera(ws, session_id, hello, app, metrics, limits)
            registry.add(session)
            metrics.sessions_total.labels(hello.client).inc()
            metrics.sessions_active.labels(hello.client).inc()
            session.log.info("[%s] %s %s session: %s, %s", session_id, hello.client, hello.mode, hello.product,
                             hello.output)
            await ws.send_json(_welcome(session_id, hello, limits))
            frames = asyncio.get_running_loop().create_task(session.frame_loop())
            await _camera_messages(ws, session, app, limits, frames)
            return ws
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
        await ws.send_json(_welcome(session_id, hello, limits))
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
                assert isinstance(session, StreamSession)
                session.offer(protocol.parse_pose(msg))
            elif kind == "ping":
                await ws.send_json({"type": "pong", "t": msg.get("t"), "server_t": time.time()})
            elif kind == "select":
                pid = msg.get("product")
                vid = msg.get("variant")
                if not isinstance(pid, str) or (vid is not None and not isinstance(vid, str)):
                    raise ProtocolError("select needs a product id", protocol.CLOSE_INVALID_DATA)
                assert isinstance(session, StreamSession)
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
        if session is None and exc.close_code == protocol.CLOSE_CONSENT_REQUIRED:
            metrics.sessions_refused.labels("consent_required").inc()
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
            if isinstance(session, CameraSession):
                session.log.info("[%s] ended: %d camera frames, %d answered, %d superseded, %.1f MB, %s",
                                 session_id, session.frames_received, session.frames_sent,
                                 session.frames_superseded, session.bytes_sent / 1e6, session.statuses)
            else:
                session.log.info("[%s] ended: %d poses, %d frames, %d superseded, %.1f MB", session_id,
                                 session.poses_received, session.frames_sent, session.poses_superseded,
                                 session.bytes_sent / 1e6)
        if not ws.closed:
            await _close(ws, protocol.CLOSE_NORMAL, "session over")
    return ws


def _welcome(session_id: str, hello: Hello, limits: StreamLimits) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "type": "welcome", "session_id": session_id, "mode": hello.mode, "codec": hello.codec, "eyes": hello.eyes,
        "viewport": {"width": hello.width_px, "height": hello.height_px},
        "stereo_layout": "side_by_side_left_first" if hello.eyes == 2 else "mono",
        "header": {"magic": protocol.MAGIC.decode(), "version": protocol.VERSION, "size": protocol.HEADER_SIZE},
        "limits": limits.to_json(), "server_t": time.time(),
    }
    if hello.camera:
        msg["camera"] = {"magic": protocol.CAMERA_MAGIC.decode(), "version": protocol.CAMERA_VERSION,
                         "header_size": protocol.CAMERA_HEADER_SIZE, "max_frame_bytes": protocol.MAX_CAMERA_FRAME_BYTES,
                         "output": hello.output,
                         "reply_codec": ("webp" if hello.codec == "webp" else
                                         "png" if hello.output == "overlay" else "jpeg")}
    return msg


async def _open_camera(ws: web.WebSocketResponse, session_id: str, hello: Hello, app: web.Application,
                       metrics: NodeMetrics, limits: StreamLimits) -> CameraSession:
    """The camera session of an ar/tryon hello; ProtocolError (close code + reason) when it cannot start."""
    try:
        item = _camera_item(app[CATALOG], app[VIEWS], hello, hello.product, hello.variant)
    except NotFound as exc:
        raise ProtocolError(exc.message, protocol.CLOSE_UNKNOWN_PRODUCT) from None
    except NotWearable as exc:
        raise ProtocolError(f"{exc.code}: {exc.message}", protocol.CLOSE_BAD_HELLO) from None
    try:
        processor = await asyncio.get_running_loop().run_in_executor(None, _make_processor, hello, item)
    except ConsentRequired as exc:
        raise ProtocolError(f"consent required: {exc.message}", protocol.CLOSE_CONSENT_REQUIRED) from None
    except BadRequest as exc:
        raise ProtocolError(exc.message, protocol.CLOSE_BAD_HELLO) from None
    return CameraSession(ws, session_id, hello, item, processor, app[RENDER_POOL], metrics, limits)


async def _camera_messages(ws: web.WebSocketResponse, session: CameraSession, app: web.Application,
                           limits: StreamLimits, frames: asyncio.Task[None]) -> None:
    """The receive loop of a camera session: camera frames into the one-frame slot, control messages."""
    window_start, window_count = time.monotonic(), 0
    while True:
        msg = await _receive(ws, limits.idle_timeout_s, limits.max_message_bytes, camera=True)
        if msg is None:
            break
        now = time.monotonic()
        if now - window_start >= 1.0:
            window_start, window_count = now, 0
        window_count += 1
        if window_count > limits.max_messages_per_s:
            raise ProtocolError("too many messages per second", protocol.CLOSE_POLICY)
        if isinstance(msg, bytes):
            session.offer(protocol.parse_camera_frame(msg))
            del msg
        else:
            kind = msg.get("type")
            if kind == "anchor_pose":
                session.set_anchor_pose(msg)
            elif kind == "ping":
                await ws.send_json({"type": "pong", "t": msg.get("t"), "server_t": time.time()})
            elif kind == "select":
                pid, vid = msg.get("product"), msg.get("variant")
                if not isinstance(pid, str) or (vid is not None and not isinstance(vid, str)):
                    raise ProtocolError("select needs a product id", protocol.CLOSE_INVALID_DATA)
                try:
                    item = _camera_item(app[CATALOG], app[VIEWS], session.hello, pid, vid)
                    await session.select(item)
                except (NotFound, NotWearable, BadRequest) as exc:
                    await ws.send_json({"type": "error", "code": exc.code, "message": exc.message})
            elif kind == "bye":
                await _close(ws, protocol.CLOSE_NORMAL, "bye")
                break
            elif kind == "hello":
                raise ProtocolError("hello was already received", protocol.CLOSE_POLICY)
            elif kind == "pose":
                raise ProtocolError("pose messages belong to the vr and spin modes; an ar session sends camera "
                                    "frames and anchor_pose", protocol.CLOSE_POLICY)
            else:
                raise ProtocolError(f"unknown message type {kind!r}", protocol.CLOSE_POLICY)
        if frames.done():
            break


def setup(app: web.Application) -> None:
    app.router.add_get("/ws/stream", stream_handler, name="stream")

    async def going_away(app: web.Application) -> None:
        await app[SESSIONS].close_all()

    app.on_shutdown.append(going_away)


