"""The vr/spin stream: the client's poses in, rendered frames out; the newest pose wins, never a queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import showroom_protocol as protocol
from showroom_protocol import FrameHeader, Hello, Pose

from render_node.encoding import H264Encoder, encode_jpeg, encode_webp
from render_node.errors import NodeError, Overloaded, status_and_code
from render_node.metrics import NodeMetrics
from render_node.pool import PRIORITY_LIVE, RenderPool
from render_node.render.errors import RenderError
from render_node.render.types import (
    CameraPose,
    EnvFile,
    EnvName,
    Intrinsics,
    MaterialOverride,
    PoseView,
    RenderRequest,
    StereoView,
)
from render_node.stream._link import LinkProbe
from render_node.stream._socket import Socket, close, send_frame
from render_node.stream.quality import FrameBudget, LinkBudget, QualityController
from render_node.stream.registry import StreamLimits
from render_node.views import ViewStore
from showroom.catalog import Catalog

log = logging.getLogger(__name__)


def resolve_product(catalog: Catalog, views: ViewStore, product_id: str, variant_id: str | None
                    ) -> tuple[Path, tuple[MaterialOverride, ...], EnvName | EnvFile]:
    """The model, material overrides and environment of a product variant; raises NotFound."""
    product = catalog.get(product_id)
    variant = product.variant(variant_id)
    return views.model_path(product), views.overrides(product, variant), views.env_for(product)


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


class PoseSession:
    """A vr or spin stream: renders the newest pose at the hello's size, codec and frame rate."""

    def __init__(self, ws: Socket, session_id: str, hello: Hello, model_path: Path,
                 overrides: tuple[MaterialOverride, ...], env: EnvName | EnvFile, pool: RenderPool, metrics: NodeMetrics,
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
        self.quality = QualityController(FrameBudget(hello.target_fps, hello.max_kbps))
        self.link: LinkProbe | None = None
        """The socket's send counters (set by the handler); with them quality follows what the link drains."""
        self.link_budget = LinkBudget(hello.max_kbps)
        self.frames_sent = 0
        self.poses_received = 0
        self.poses_superseded = 0
        self.bytes_sent = 0
        self._h264: H264Encoder | None = None
        self._h264_kbps = 0
        self.log = logging.LoggerAdapter(log, {"session": session_id})

    def view_for(self, pose: Pose, fov_deg: float) -> tuple[StereoView | PoseView, tuple[int, int]]:
        """The camera(s) of `pose` at the current quality's size: two eyes for a stereo hello, else one."""
        w, h = self.quality.current.size_px(self.hello.width_px, self.hello.height_px)
        intrinsics = Intrinsics.from_fov(fov_deg, w, h)
        camera = CameraPose(pose.position_m, pose.orientation_xyzw)
        if self.hello.eyes == 2:
            return StereoView(camera, intrinsics, ipd_m=self.hello.ipd_m), (w, h)
        return PoseView(camera, intrinsics), (w, h)

    def request_for(self, pose: Pose) -> RenderRequest:
        view, (w, h) = self.view_for(pose, self.hello.fov_deg)
        return RenderRequest(self.model_path, view, size_px=(w, h), background="env", env=self.env,
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
        jpeg_quality = self.quality.current.jpeg_quality
        if codec == "jpeg":
            return encode_jpeg(frame, jpeg_quality), True, jpeg_quality
        if codec == "webp":
            return encode_webp(frame, jpeg_quality), True, jpeg_quality
        h, w = frame.shape[:2]
        budget = min(self.hello.max_kbps, self.link_budget.kbps) if self.hello.adaptive else self.hello.max_kbps
        kbps = max(200, int(budget * 0.8))
        rebuild = self._h264_kbps and not self._h264_kbps / 1.5 <= kbps <= self._h264_kbps * 1.5
        if self._h264 is None or (self._h264.width_px, self._h264.height_px) != (w, h) or rebuild:
            # a new size, or the link's budget moved by half or more: a new encoder (its first frame is a key)
            if self._h264 is not None:
                self._h264.close()
            self._h264_kbps = kbps
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
        except (NodeError, RenderError) as exc:
            self.log.warning("[%s] stream failed: %s", self.session_id, exc.message)
            await close(self.ws, protocol.CLOSE_INTERNAL, f"{status_and_code(exc)[1]}: {exc.message}")
        except Exception:
            self.log.exception("[%s] stream failed", self.session_id)
            await close(self.ws, protocol.CLOSE_INTERNAL, "internal error")

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
        if self.link is not None:  # what the link drained since the last frame, before this one adds to it
            delivered, backlog = self.link.counters(self.bytes_sent)
            self.link_budget.observe(time.monotonic(), delivered, backlog)
        if not await send_frame(self.ws, self.metrics, header, payload):
            return False
        self.frames_sent += 1
        self.bytes_sent += len(payload) + protocol.HEADER_SIZE
        if self.hello.adaptive:
            busy_s = (r.t_render_end - r.t_render_start) + max(0.0, r.t_encode_end - r.t_render_end)
            link_kbps = self.link_budget.kbps if self.link is not None else None
            self.quality.observe(len(payload), busy_s / self._depth(), link_kbps=link_kbps)
        return True

    def close(self) -> None:
        if self._h264 is not None:
            self._h264.close()
            self._h264 = None
