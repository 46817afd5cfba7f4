"""`GET /ws/stream`: the WebSocket handler (hello, the session cap, the receive loops) and `setup(app)`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import showroom_protocol as protocol
import showroom_protocol.hall as hall_protocol
from aiohttp import WSCloseCode, WSMessage, WSMsgType, web
from showroom_protocol import Hello, ProtocolError

from render_node.ar.errors import NotWearable
from render_node.errors import BadRequest, NodeError, status_and_code
from render_node.keys import CATALOG, CONFIG, METRICS, PRICES, RENDER_POOL, SESSIONS, VIEWS
from render_node.render.errors import RenderError
from render_node.stream._link import LinkProbe
from render_node.stream._rate import MessageRate
from render_node.stream._socket import close
from render_node.stream.camera import CameraSession, camera_item, open_camera
from render_node.stream.hall import HallNotBuilt, HallService, HallSession
from render_node.stream.pose import PoseSession, resolve_product
from render_node.stream.registry import SessionRegistry, StreamLimits
from showroom.errors import NotFound
from showroom.http_schema import Operation, Reply, operation

log = logging.getLogger(__name__)

HALL: web.AppKey[HallService] = web.AppKey("hall")
"""The node's hall (plan, scene, live prices) shared by its hall sessions; set by `setup`."""


def _load_json(data: str) -> dict[str, Any]:
    try:
        msg = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ProtocolError("message is not valid JSON", protocol.CLOSE_INVALID_DATA) from None
    if not isinstance(msg, dict):
        raise ProtocolError("message must be a JSON object", protocol.CLOSE_INVALID_DATA)
    return msg


async def _receive_json(ws: web.WebSocketResponse, timeout_s: float, max_bytes: int,
                        started: asyncio.Task[WSMessage] | None = None) -> dict[str, Any] | None:
    """The next text message as a dict; None when the socket closed. Raises ProtocolError on bad input.
    `started`: a `ws.receive()` already under way (see `_open_hall`)."""
    msg = await _receive(ws, timeout_s, max_bytes, camera=False, started=started)
    assert not isinstance(msg, bytes)
    return msg


async def _receive(ws: web.WebSocketResponse, timeout_s: float, max_bytes: int, *, camera: bool,
                   started: asyncio.Task[WSMessage] | None = None) -> dict[str, Any] | bytes | None:
    """The next message: a text message as a dict, a binary one (camera modes only) as bytes; None when the
    socket closed. Raises ProtocolError on bad input.

    aiohttp itself drops messages past its `max_msg_size` (close 1009, no reason); below that the node closes
    with 1009 and says why: text past `max_bytes`, camera frames past `protocol.MAX_CAMERA_FRAME_BYTES`."""
    try:
        msg = await (ws.receive(timeout=timeout_s) if started is None else asyncio.wait_for(started, timeout_s))
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


@operation(Operation(
    "Live stream (WebSocket upgrade): hello -> welcome, poses or camera frames in, binary frames out",
    ("streams",),
    description="Messages (docs/streams.md, \"Session\" and \"AR and try-on\"): the client's first text message "
                "is `hello` `{type: hello, client, mode?, product, variant?, viewport: {width, height}, eyes, codec, "
                "...}`; the node answers `welcome` `{type: welcome, session_id, codec, eyes, viewport, stereo_layout, "
                "header, limits, server_t}` or sends `{type: error, code, message}` and closes with a 4xxx code. "
                "Then `pose`, `select`, `ping`, `bye` (vr, spin) or binary camera frames, `anchor_pose`, `select`, "
                "`ping`, `bye` (ar, tryon), or (hall, no product; docs/streams.md \"Hall mode\") `pose`, "
                "`teleport`, `pick`, `focus`, `turn`, `unfocus`, `sit`, `stand_up`, `ping`, `bye`; frames come back as binary messages behind the 76-byte `SRF1` header. "
                "The one parser is `showroom_protocol` (clients/python): standard library only, every field "
                "bounded.",
    replies={101: Reply("switching protocols to WebSocket", media=())},
    errors={400: "not a WebSocket upgrade request"}))
async def stream_handler(request: web.Request) -> web.StreamResponse:
    """GET /ws/stream: a live VR/phone/kiosk stream, or an AR/try-on camera stream."""
    app = request.app
    registry = app[SESSIONS]
    limits = registry.limits
    max_msg = max(4 * limits.max_message_bytes, protocol.MAX_CAMERA_FRAME_BYTES + 64 * 1024)
    ws = web.WebSocketResponse(heartbeat=limits.heartbeat_s, max_msg_size=max_msg, compress=False)
    await ws.prepare(request)
    if registry.closing:
        await close(ws, protocol.CLOSE_GOING_AWAY, "node shutting down")
        return ws
    if not registry.reserve():  # check and take in one step: no await between them
        app[METRICS].sessions_refused.labels("max_sessions").inc()
        reason = f"node is full: {limits.max_sessions} sessions"
        with contextlib.suppress(Exception):
            await ws.send_json({"type": "error", "code": "too_many_sessions", "message": reason})
        await close(ws, protocol.CLOSE_TRY_AGAIN_LATER, reason)
        return ws
    try:
        await _serve(ws, app, registry, request.transport)
    finally:
        registry.release()
    return ws


async def _serve(ws: web.WebSocketResponse, app: web.Application, registry: SessionRegistry,
                 transport: asyncio.Transport | None) -> None:
    """One connection that holds a slot: hello, the session, its receive loop; closes the socket at the end.
    `transport`: the connection's, whose send counters the pose sessions' adaptive quality reads."""
    limits = registry.limits
    metrics = app[METRICS]
    session: PoseSession | CameraSession | None = None
    frames: asyncio.Task[None] | None = None
    early: asyncio.Task[WSMessage] | None = None
    session_id = registry.new_id()
    try:
        first = await _receive_json(ws, limits.hello_timeout_s, limits.max_message_bytes)
        if first is None:
            return
        hello = protocol.parse_hello(first)
        if hello.hall:
            opened = await _open_hall(ws, session_id, hello, app, registry)
            if opened is None:
                return
            session, early = opened
        elif hello.camera:
            session = await open_camera(ws, session_id, hello, app[CATALOG], app[VIEWS], app[RENDER_POOL], metrics,
                                        limits)
        else:
            try:
                model, overrides, env = resolve_product(app[CATALOG], app[VIEWS], hello.product, hello.variant)
            except NotFound as exc:
                raise ProtocolError(exc.message, protocol.CLOSE_UNKNOWN_PRODUCT) from None
            session = PoseSession(ws, session_id, hello, model, overrides, env, app[RENDER_POOL], metrics, limits,
                                  peers=lambda: len(registry))
        if isinstance(session, PoseSession):  # hall sessions too: adaptive quality follows the link
            session.link = LinkProbe.of(transport)
        registry.add(session)
        metrics.sessions_total.labels(hello.client).inc()
        metrics.sessions_active.labels(hello.client).inc()
        if isinstance(session, CameraSession):
            session.log.info("[%s] %s %s session: %s, %s", session_id, hello.client, hello.mode, hello.product,
                             hello.output)
        else:
            session.log.info("[%s] %s %s session: %s %dx%d x%d eyes %s", session_id, hello.client, hello.mode,
                             hello.product or "-", hello.width_px, hello.height_px, hello.eyes, hello.codec)
        welcome = _welcome(session_id, hello, limits)
        if isinstance(session, HallSession):
            welcome["hall"] = session.welcome_block()
        await ws.send_json(welcome)
        frames = asyncio.get_running_loop().create_task(session.frame_loop())
        if isinstance(session, CameraSession):
            await _camera_messages(ws, session, app, limits, frames)
        elif isinstance(session, HallSession):
            await _hall_messages(ws, session, app, limits, frames, early)
        else:
            await _pose_messages(ws, session, app, limits, frames)
    except ProtocolError as exc:
        (session.log if session else log).info("[%s] closing: %s", session_id, exc.message)
        if session is None and exc.close_code == protocol.CLOSE_CONSENT_REQUIRED:
            metrics.sessions_refused.labels("consent_required").inc()
        with contextlib.suppress(Exception):
            await ws.send_json({"type": "error", "code": "protocol_error", "message": exc.message})
        await close(ws, exc.close_code, exc.message)
    except (NodeError, RenderError) as exc:  # e.g. a camera model that cannot be read (ModelInvalid)
        log.warning("[%s] closing on error: %s", session_id, exc.message)
        await close(ws, protocol.CLOSE_INTERNAL, exc.message)
    finally:
        if early is not None and not early.done():
            early.cancel()
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
            await close(ws, protocol.CLOSE_NORMAL, "session over")


async def _open_hall(ws: web.WebSocketResponse, session_id: str, hello: Hello, app: web.Application,
                     registry: SessionRegistry) -> tuple[HallSession, asyncio.Task[WSMessage]] | None:
    """A hall session whose hall is loaded on the render workers, and the socket's next `receive()`, started
    before the loading: aiohttp answers the heartbeat's pongs only inside `receive()`, and the first load of the
    hall on a busy node can outlast the heartbeat (a message the client sends meanwhile is kept, not lost).
    None (the socket closed with 1011 after an `error` message) when the hall is not built or cannot be rendered."""
    try:
        session = HallSession(ws, session_id, hello, app[HALL], app[RENDER_POOL], app[METRICS], registry.limits,
                              peers=lambda: len(registry))
    except HallNotBuilt as exc:
        await _no_hall(ws, session_id, exc)
        return None
    early = asyncio.get_running_loop().create_task(ws.receive())
    try:
        app[HALL].refresh_prices()
        await app[HALL].warm(app[RENDER_POOL], session.start_request())
    except (RenderError, NodeError) as exc:
        early.cancel()
        await _no_hall(ws, session_id, exc)
        return None
    except BaseException:
        early.cancel()
        raise
    return session, early


async def _no_hall(ws: web.WebSocketResponse, session_id: str, exc: NodeError | RenderError) -> None:
    log.warning("[%s] no hall: %s", session_id, exc.message)
    with contextlib.suppress(Exception):
        await ws.send_json({"type": "error", "code": status_and_code(exc)[1], "message": exc.message})
    await close(ws, protocol.CLOSE_INTERNAL, exc.message)


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


def _select_target(msg: dict[str, Any]) -> tuple[str, str | None]:
    """The product and variant of a `select` message; ProtocolError (1007) when they are not strings."""
    pid, vid = msg.get("product"), msg.get("variant")
    if not isinstance(pid, str) or (vid is not None and not isinstance(vid, str)):
        raise ProtocolError("select needs a product id", protocol.CLOSE_INVALID_DATA)
    return pid, vid


async def _pose_messages(ws: web.WebSocketResponse, session: PoseSession, app: web.Application,
                         limits: StreamLimits, frames: asyncio.Task[None]) -> None:
    """The receive loop of a vr/spin session: poses into the one-pose slot, control messages."""
    rate = MessageRate(limits.max_messages_per_s)
    while True:
        msg = await _receive_json(ws, limits.idle_timeout_s, limits.max_message_bytes)
        if msg is None:
            break
        rate.count()
        kind = msg.get("type")
        if kind == "pose":
            session.offer(protocol.parse_pose(msg))
        elif kind == "ping":
            await ws.send_json({"type": "pong", "t": msg.get("t"), "server_t": time.time()})
        elif kind == "select":
            pid, vid = _select_target(msg)
            try:
                session.model_path, session.overrides, session.env = resolve_product(
                    app[CATALOG], app[VIEWS], pid, vid)
            except NotFound as exc:
                await ws.send_json({"type": "error", "code": exc.code, "message": exc.message})
        elif kind == "bye":
            await close(ws, protocol.CLOSE_NORMAL, "bye")
            break
        elif kind == "hello":
            raise ProtocolError("hello was already received", protocol.CLOSE_POLICY)
        else:
            raise ProtocolError(f"unknown message type {kind!r}", protocol.CLOSE_POLICY)
        if frames.done():
            break


async def _hall_messages(ws: web.WebSocketResponse, session: HallSession, app: web.Application,
                         limits: StreamLimits, frames: asyncio.Task[None], early: asyncio.Task[WSMessage] | None
                         ) -> None:
    """The receive loop of a hall session: poses (checked against the walkable floor) and the hall's requests.
    A bad value in a hall request is answered with an error and the session goes on; an unknown type closes it.
    `early`: the receive started before the hall loaded (its message comes first)."""
    rate = MessageRate(limits.max_messages_per_s)
    hall = app[HALL]
    started: asyncio.Task[WSMessage] | None = early
    while True:
        msg = await _receive_json(ws, limits.idle_timeout_s, limits.max_message_bytes, started)
        started = None
        if msg is None:
            break
        rate.count()
        hall.refresh_prices()
        kind = msg.get("type")
        if kind == "pose":
            session.offer(protocol.parse_pose(msg))
            correction = session.take_correction()
            if correction is not None:
                await ws.send_json(correction)
        elif kind in hall_protocol.HALL_MESSAGE_TYPES:
            try:
                reply = session.handle(hall_protocol.parse_hall_message(msg))
            except hall_protocol.BadMessage as exc:
                reply = exc.to_json()
            except (NodeError, RenderError, ValueError, KeyError, ArithmeticError):
                session.log.exception("[%s] %s failed", session.session_id, kind)
                reply = {"type": "error", "code": "internal", "message": f"{kind} failed on the node"}
            if reply is not None:
                await ws.send_json(reply)
        elif kind == "ping":
            await ws.send_json({"type": "pong", "t": msg.get("t"), "server_t": time.time()})
        elif kind == "bye":
            await close(ws, protocol.CLOSE_NORMAL, "bye")
            break
        elif kind == "hello":
            raise ProtocolError("hello was already received", protocol.CLOSE_POLICY)
        else:
            raise ProtocolError(f"unknown message type {kind!r}", protocol.CLOSE_POLICY)
        if frames.done():
            break


async def _camera_messages(ws: web.WebSocketResponse, session: CameraSession, app: web.Application,
                           limits: StreamLimits, frames: asyncio.Task[None]) -> None:
    """The receive loop of a camera session: camera frames into the one-frame slot, control messages."""
    rate = MessageRate(limits.max_messages_per_s)
    while True:
        msg = await _receive(ws, limits.idle_timeout_s, limits.max_message_bytes, camera=True)
        if msg is None:
            break
        rate.count()
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
                pid, vid = _select_target(msg)
                try:
                    item = camera_item(app[CATALOG], app[VIEWS], session.hello, pid, vid)
                    await session.select(item)
                except (NotFound, NotWearable, BadRequest) as exc:
                    await ws.send_json({"type": "error", "code": exc.code, "message": exc.message})
            elif kind == "bye":
                await close(ws, protocol.CLOSE_NORMAL, "bye")
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
    app[HALL] = HallService(app[CATALOG], app[VIEWS], app[PRICES], app[CONFIG].assets_dir)

    async def hall_ctx(app: web.Application) -> AsyncIterator[None]:
        yield
        await app[HALL].close()

    app.cleanup_ctx.append(hall_ctx)

    async def going_away(app: web.Application) -> None:
        await app[SESSIONS].close_all()

    app.on_shutdown.append(going_away)
