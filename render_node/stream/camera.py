"""The ar/tryon stream: camera frames in, overlays or composites out; the newest frame wins.

Camera frames live in memory only: they are never written to disk and never logged (PIPL); a failure logs the
exception's type, never a traceback whose locals could hold frame data.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import showroom_protocol as protocol
from showroom_protocol import CameraFrame, FrameHeader, Hello, ProtocolError

from render_node.ar.errors import ConsentRequired, NotWearable
from render_node.ar.frames import decode_frame, parse_intrinsics, parse_pose
from render_node.ar.geometry import model_shape
from render_node.assets.variants import scale_for
from render_node.encoding import encode_jpeg, encode_png, encode_webp
from render_node.errors import BadRequest, NodeError, Overloaded, PayloadTooLarge, status_and_code
from render_node.metrics import NodeMetrics
from render_node.pool import PRIORITY_LIVE, RenderPool
from render_node.render.errors import RenderError
from render_node.render.types import CameraPose, MaterialOverride
from render_node.stream._socket import Socket, close, send_frame
from render_node.stream.registry import StreamLimits
from render_node.tryon.fitting import Anchor, Finger
from render_node.tryon.pipeline import anchor_for
from render_node.tryon.stream import CameraFrameProcessor, FramePlan
from render_node.views import ViewStore
from showroom.catalog import Catalog
from showroom.errors import NotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CameraItem:
    """What a camera session draws: the model, its materials and size, and (try-on) where it is worn."""

    product_id: str
    model_path: Path
    overrides: tuple[MaterialOverride, ...]
    scale: float
    anchor: str | None
    """Try-on: neck, ear, finger or wrist."""
    length_mm: float | None


def camera_item(catalog: Catalog, views: ViewStore, hello: Hello, product_id: str,
                variant_id: str | None) -> CameraItem:
    """Raises NotFound (product/variant), NotWearable (try-on of a gold bar, a ring at the neck)."""
    product = catalog.get(product_id)
    variant = product.variant(variant_id)
    anchor = None
    if hello.mode == "tryon":
        anchor = anchor_for(product.kind.value, product.tryon_anchor.value if product.tryon_anchor else None,
                            hello.anchor)
    length = float(variant.length_mm) if variant.length_mm is not None else None
    return CameraItem(product.id, views.model_path(product), views.overrides(product, variant),
                      scale_for(product, variant), anchor, length)


def _make_processor(hello: Hello, item: CameraItem) -> CameraFrameProcessor:
    """Blocking (reads the model's shape, loads the landmark models): run it in an executor."""
    if not item.model_path.is_file():
        raise BadRequest(f"the model of {item.product_id} is not built on this node; run `showroom assets build`")
    mode: Literal["ar", "tryon"] = "tryon" if hello.mode == "tryon" else "ar"
    return CameraFrameProcessor(mode, item.model_path, model_shape(item.model_path),
                                anchor=cast(Anchor | None, item.anchor), overrides=item.overrides, scale=item.scale,
                                consent=hello.consent, finger=cast(Finger, hello.finger), length_mm=item.length_mm,
                                mirrored=hello.mirrored)


async def open_camera(ws: Socket, session_id: str, hello: Hello, catalog: Catalog, views: ViewStore,
                      pool: RenderPool, metrics: NodeMetrics, limits: StreamLimits) -> CameraSession:
    """The camera session of an ar/tryon hello; ProtocolError (close code + reason) when it cannot start."""
    try:
        item = camera_item(catalog, views, hello, hello.product, hello.variant)
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
    return CameraSession(ws, session_id, hello, item, processor, pool, metrics, limits)


@dataclass
class _FrameSlot:
    frame: CameraFrame | None = None
    received_at: float = 0.0
    fresh: asyncio.Event = field(default_factory=asyncio.Event)


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

    def __init__(self, ws: Socket, session_id: str, hello: Hello, item: CameraItem,
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

    async def select(self, item: CameraItem) -> None:
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
        except (NodeError, RenderError) as exc:
            self.log.warning("[%s] camera stream failed: %s", self.session_id, exc.message)
            await close(self.ws, protocol.CLOSE_INTERNAL, f"{status_and_code(exc)[1]}: {exc.message}")
        except Exception as exc:  # the traceback could hold frame data in locals; log the type only
            self.log.error("[%s] camera stream failed: %s", self.session_id, type(exc).__name__)
            await close(self.ws, protocol.CLOSE_INTERNAL, "internal error")

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
        if not await send_frame(self.ws, self.metrics, header, payload):
            return False
        self.frames_sent += 1
        self.bytes_sent += len(payload) + protocol.HEADER_SIZE
        return True

    def close(self) -> None:
        self.slot.frame = None
        self.processor.close()
