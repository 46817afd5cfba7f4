"""`GET /ws/advisor/customer` and `GET /ws/advisor/console`: the two JSON WebSockets of an advisor call, and
`setup(app)`. The handlers only read, check and hand messages to the `CallHub`; each socket's replies are sent by
its own `Outbox` writer."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import showroom_protocol as protocol
from aiohttp import WSCloseCode, WSMsgType, web
from showroom_protocol import ProtocolError

from render_node.config import Config
from render_node.keys import CATALOG, CONFIG
from render_node.rtc import recording_routes
from render_node.rtc.hub import CallHub
from render_node.rtc.messages import (
    ADVISOR_TYPES,
    CUSTOMER_TYPES,
    BadMessage,
    message_type,
    parse_customer_hello,
    parse_resume,
    parse_ticket,
)
from render_node.rtc.parties import AdvisorLimits, Busy, Console, Customer, Outbox, Recorder
from render_node.stream._rate import MessageRate
from showroom.advisory import TicketInvalid, verify_ticket
from showroom.catalog import Catalog
from showroom.errors import ShowroomError
from showroom.http_schema import Operation, Reply, operation

log = logging.getLogger(__name__)

CALL_HUB: web.AppKey[CallHub] = web.AppKey("call_hub")
"""The node's advisor calls (queue, consoles, live calls); set by `setup`."""
_labels = itertools.count(1)


async def _receive(ws: web.WebSocketResponse, timeout_s: float | None, max_bytes: int) -> str | None:
    """The next text message; None when the socket closed. ProtocolError for what ends the connection (no hello
    in time, a message too big, a binary message)."""
    try:
        msg = await ws.receive(timeout=timeout_s)
    except TimeoutError:
        raise ProtocolError("no hello in time", protocol.CLOSE_IDLE) from None
    if msg.type == WSMsgType.TEXT:
        text: str = msg.data
        if len(text) > max_bytes:
            raise ProtocolError(f"message too big: {len(text)} bytes, the limit is {max_bytes}",
                                protocol.CLOSE_TOO_BIG)
        return text
    if msg.type == WSMsgType.BINARY:
        raise ProtocolError("this socket takes JSON text messages only", protocol.CLOSE_INVALID_DATA)
    if msg.type == WSMsgType.ERROR:
        if ws.close_code == WSCloseCode.MESSAGE_TOO_BIG or "too big" in str(ws.exception()).lower():
            raise ProtocolError("message too big", protocol.CLOSE_TOO_BIG)
        raise ProtocolError("bad frame", protocol.CLOSE_POLICY)
    return None


def _load(text: str) -> dict[str, Any]:
    """A message as a dict; BadMessage when it is not a JSON object (the socket stays open)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise BadMessage("message is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadMessage("message must be a JSON object")
    return data


async def _hello(ws: web.WebSocketResponse, limits: AdvisorLimits) -> dict[str, Any] | None:
    text = await _receive(ws, limits.hello_timeout_s, limits.max_message_bytes)
    return None if text is None else _load(text)


async def _loop(ws: web.WebSocketResponse, limits: AdvisorLimits, outbox: Outbox, types: tuple[str, ...],
                handle: Callable[[str, dict[str, Any]], None]) -> None:
    """The receive loop after the hello: every message counted against the rate, checked, handed to `handle`;
    a bad one is answered `bad_message` and the loop goes on."""
    rate = MessageRate(limits.max_messages_per_s)
    while not outbox.closing:
        text = await _receive(ws, None, limits.max_message_bytes)
        if text is None:
            return
        rate.count()
        try:
            msg = _load(text)
            handle(message_type(msg, types), msg)
        except BadMessage as exc:
            outbox.send(exc.to_json())


def _socket(limits: AdvisorLimits) -> web.WebSocketResponse:
    return web.WebSocketResponse(heartbeat=limits.heartbeat_s, max_msg_size=2 * limits.max_message_bytes,
                                 compress=False)


async def _refuse(ws: web.WebSocketResponse, code: str, message: str, close_code: int) -> None:
    with contextlib.suppress(Exception):
        await ws.send_json({"type": "error", "code": code, "message": message})
    with contextlib.suppress(Exception):
        await ws.close(code=close_code, message=message.encode()[:120])


async def _finish(outbox: Outbox, writer: asyncio.Task[None]) -> None:
    """Closes the socket after what is queued was sent (giving up on a client that stopped reading)."""
    outbox.close(protocol.CLOSE_NORMAL, "bye")
    try:
        await asyncio.wait({writer}, timeout=5.0)
    finally:
        if not writer.done():
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer


_OPERATION_COMMON = ("Text messages, each a JSON object with a `type`, at most 64 KiB, at most 50 a second; a bad "
                     "one is answered `{type: error, code: bad_message, message}` and the socket stays open. "
                     "Close codes: 1000 normal, 1001 node shutting down, 1008 flooding, 1009 too big, 1013 busy, "
                     "4400 bad hello, 4403 bad ticket, 4408 no hello in 10 s. The full protocol: docs/advisor.md, "
                     "\"The node: signalling and relay\".")


@operation(Operation(
    "Call an advisor, customer side (WebSocket upgrade): queue, consent, WebRTC signalling, co-view",
    ("advisor",),
    description="No sign-in. First message `{type: hello, topic: precious_metals|car_finance|other, lang: zh|en, "
                "channel: kiosk|phone|vr, place?, view?}` -> `{type: queued, call, position, wait_s, "
                "advisors_on_duty}` (again on every change). Then `cancel`, `view`, `coview`, `video`, "
                "`consent {audio, video}` after `{type: advisor, resume}`, `sdp {kind: offer, sdp, restart?}` (a "
                "complete offer, no trickle ICE; `restart: true` from a fresh peer connection after a network "
                "change) -> `sdp {kind: answer}`, `offer_reply`, `order`; the node sends `advisor`, `show`, "
                "`pointer`, `hotspot`, `offer`, `connected`, `ended {reason}`. A customer whose socket dropped "
                "during a call comes back within 30 s on a new socket with the first message `{type: resume, "
                "call, token}` (the `resume` of `advisor`) -> `{type: resumed, resume, consent, record}`; a "
                "wrong token or an ended call: `bad_message` and close 4400. Over the node's limits: "
                "`{type: error, code: busy}` and close 1013. " + _OPERATION_COMMON,
    replies={101: Reply("switching protocols to WebSocket", media=())},
    errors={400: "not a WebSocket upgrade request"}))
async def customer_handler(request: web.Request) -> web.StreamResponse:
    """GET /ws/advisor/customer: one customer waiting for, then talking to, an advisor."""
    hub = request.app[CALL_HUB]
    limits = hub.limits
    ws = _socket(limits)
    await ws.prepare(request)
    if hub.closing:
        await _refuse(ws, "node_shutdown", "node shutting down", protocol.CLOSE_GOING_AWAY)
        return ws
    if not hub.reserve_customer():
        await _refuse(ws, "busy", "every advisor line is busy: try again later or ask for a call-back",
                      protocol.CLOSE_TRY_AGAIN_LATER)
        return ws
    outbox = Outbox(ws, limits.max_outbox)
    writer = asyncio.get_running_loop().create_task(outbox.run())
    customer = Customer(outbox, f"c{next(_labels)}")
    try:
        await _serve_customer(ws, hub, customer)
    except ProtocolError as exc:
        log.info("[%s] closing: %s", customer.label, exc.message)
        outbox.send({"type": "error", "code": "protocol_error", "message": exc.message})
        outbox.close(exc.close_code, exc.message)
    finally:
        hub.release_customer()
        hub.customer_gone(customer)
        await _finish(outbox, writer)
    return ws


async def _serve_customer(ws: web.WebSocketResponse, hub: CallHub, customer: Customer) -> None:
    limits = hub.limits
    try:
        first = await _hello(ws, limits)
        if first is None:
            return
        if first.get("type") == "resume":
            hub.resume(customer, *parse_resume(first))
        else:
            hub.join(customer, parse_customer_hello(first))
    except BadMessage as exc:
        customer.outbox.send(exc.to_json())
        customer.outbox.close(protocol.CLOSE_BAD_HELLO, exc.message)
        return
    except Busy as exc:
        customer.outbox.send({"type": "error", "code": "busy", "message": str(exc)})
        customer.outbox.close(protocol.CLOSE_TRY_AGAIN_LATER, "busy")
        return
    await _loop(ws, limits, customer.outbox, CUSTOMER_TYPES,
                lambda kind, msg: hub.customer_message(customer, kind, msg))


@operation(Operation(
    "Advisor console (WebSocket upgrade): duty, queues, taking calls, WebRTC signalling, co-view",
    ("advisor",),
    description="First message `{type: hello, ticket}` (the ticket from POST /api/staff/advisor/ticket, signed with "
                "SHOWROOM_ADVISOR_TICKET_KEY; a bad or expired one: `{type: error, code: bad_ticket}` and close "
                "4403) -> `{type: welcome, advisor, on_duty, queues}`; then `duty {on}`, `take {topic?, call?}` -> "
                "`call` (or `nothing_waiting`, `busy`, `in_call`), `sdp {kind: offer}` after the customer's "
                "`consent` -> `sdp {kind: answer}`, `show`, `pointer`, `hotspot`, `offer`, `end`; the node sends "
                "`queues` on every change and forwards the customer's `view`, `coview`, `video`, `offer_reply`, "
                "`order`, then `connected` and `ended`; `customer_away {why: socket|media, grace_s}` when the "
                "customer's connection drops (the call ends unless `customer_back` follows within grace_s). "
                + _OPERATION_COMMON,
    replies={101: Reply("switching protocols to WebSocket", media=())},
    errors={400: "not a WebSocket upgrade request"}))
async def console_handler(request: web.Request) -> web.StreamResponse:
    """GET /ws/advisor/console: one advisor's console."""
    hub = request.app[CALL_HUB]
    limits = hub.limits
    key = request.app[CONFIG].advisor_ticket_key
    ws = _socket(limits)
    await ws.prepare(request)
    if hub.closing:
        await _refuse(ws, "node_shutdown", "node shutting down", protocol.CLOSE_GOING_AWAY)
        return ws
    if not hub.reserve_console():
        await _refuse(ws, "busy", "too many advisor consoles", protocol.CLOSE_TRY_AGAIN_LATER)
        return ws
    outbox = Outbox(ws, limits.max_outbox)
    writer = asyncio.get_running_loop().create_task(outbox.run())
    label = f"a{next(_labels)}"
    console: Console | None = None
    try:
        try:
            first = await _hello(ws, limits)
            if first is None:
                return ws
            ticket = parse_ticket(first)
        except BadMessage as exc:
            outbox.send(exc.to_json())
            outbox.close(protocol.CLOSE_BAD_HELLO, exc.message)
            return ws
        try:
            if not key:
                raise TicketInvalid("bad_signature", "this node has no advisor ticket key")
            advisor = verify_ticket(key, ticket, time.time())
        except TicketInvalid as exc:
            log.info("[%s] ticket refused: %s", label, exc.reason)
            outbox.send({"type": "error", "code": "bad_ticket", "message": str(exc)})
            outbox.close(protocol.CLOSE_CONSENT_REQUIRED, "bad ticket")
            return ws
        console = joined = Console(outbox, label, advisor)
        hub.console_joined(joined)
        await _loop(ws, limits, outbox, ADVISOR_TYPES, lambda kind, msg: hub.console_message(joined, kind, msg))
    except ProtocolError as exc:
        log.info("[%s] closing: %s", label, exc.message)
        outbox.send({"type": "error", "code": "protocol_error", "message": exc.message})
        outbox.close(exc.close_code, exc.message)
    finally:
        hub.release_console()
        if console is not None:
            hub.console_gone(console)
        await _finish(outbox, writer)
    return ws


def limits_from(config: Config) -> AdvisorLimits:
    return AdvisorLimits(max_calls=config.advisor_max_calls, max_waiting=config.advisor_max_waiting)


def _dual_recording(catalog: Catalog) -> Callable[[str], bool]:
    def needs(product_id: str) -> bool:
        try:
            return catalog.get(product_id).dual_recording
        except ShowroomError:
            return False

    return needs


def setup(app: web.Application, limits: AdvisorLimits | None = None) -> None:
    """Mounts the two advisor sockets and the recordings' playback; node shutdown ends every call
    (`node_shutdown`, recordings sealed) and closes every socket."""
    store = recording_routes.setup(app)
    app[CALL_HUB] = CallHub(limits or limits_from(app[CONFIG]),
                            recorder=Recorder(store, app[CONFIG].advisor_ticket_key),
                            dual_recording=_dual_recording(app[CATALOG]))
    app.router.add_get("/ws/advisor/customer", customer_handler, name="advisor_customer")
    app.router.add_get("/ws/advisor/console", console_handler, name="advisor_console")

    async def end_calls(app: web.Application) -> None:
        await app[CALL_HUB].shutdown()

    app.on_shutdown.append(end_calls)
