"""The parties of the node's call hub (render_node/rtc/hub.py): its limits, one socket's ordered outbox, a waiting
or talking customer, an advisor's console, a live call and its recording."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import showroom_protocol as protocol

from render_node.rtc.recording import LegWriter, RecordingStore
from render_node.rtc.relay import CallMedia, Side
from showroom.advisory import Advisor, CallRequest


@dataclass(frozen=True)
class AdvisorLimits:
    max_calls: int = 4
    """Live relayed calls at once (SHOWROOM_ADVISOR_MAX_CALLS); an advisor's take past it is `busy`."""
    max_waiting: int = 50
    """Customers waiting at once (SHOWROOM_ADVISOR_MAX_WAITING); more are refused `busy`, close 1013."""
    max_consoles: int = 64
    """Advisor console sockets at once."""
    max_message_bytes: int = 64 * 1024
    max_messages_per_s: int = 50
    hello_timeout_s: float = 10.0
    heartbeat_s: float = 10.0
    max_outbox: int = 256
    """Messages queued for one socket; a client that falls this far behind is closed (1008)."""
    resume_grace_s: float = 30.0
    """How long a call waits for a customer whose connection dropped (a phone changing networks: its socket closed
    or its media failed) to come back with the call's resume token and a fresh offer, before it ends."""


@dataclass(frozen=True)
class Recorder:
    """Dual recording on this node: where recordings go, and the key the receipts are signed with (the advisor
    ticket key, which commerce holds too)."""

    store: RecordingStore
    receipt_key: bytes
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


RecordState = Literal["off", "asked", "on", "refused"]


@dataclass
class Recording:
    id: str
    product: str | None
    started_at: datetime
    writers: dict[Side, LegWriter]


class Socket(Protocol):
    """The part of `aiohttp.web.WebSocketResponse` the hub uses."""

    @property
    def closed(self) -> bool: ...

    async def send_json(self, data: Any) -> None: ...

    async def close(self, *, code: int = ..., message: bytes = ...) -> bool: ...


@dataclass(frozen=True)
class _Close:
    code: int
    reason: str


class Outbox:
    """One socket's outgoing messages, sent in order by `run()`; `close()` sends what is queued, then closes."""

    def __init__(self, ws: Socket, max_items: int) -> None:
        self.ws = ws
        self.max_items = max_items
        self._items: asyncio.Queue[dict[str, Any] | _Close] = asyncio.Queue()
        self.closing = False

    def send(self, msg: dict[str, Any]) -> None:
        if self.closing:
            return
        if self._items.qsize() >= self.max_items:
            self.close(protocol.CLOSE_POLICY, "too slow: messages piled up")
            return
        self._items.put_nowait(msg)

    def close(self, code: int, reason: str) -> None:
        if not self.closing:
            self.closing = True
            self._items.put_nowait(_Close(code, reason))

    async def run(self) -> None:
        while True:
            item = await self._items.get()
            if isinstance(item, _Close):
                with contextlib.suppress(Exception):
                    await self.ws.close(code=item.code, message=item.reason.encode()[:120])
                return
            try:
                await self.ws.send_json(item)
            except (ConnectionError, RuntimeError):
                self.closing = True
                return


@dataclass(eq=False)
class Customer:
    """One customer socket: waiting (`req` set, `call` None) or in a call."""

    outbox: Outbox
    label: str
    req: CallRequest | None = None
    view: dict[str, Any] | None = None
    coview: bool = True
    call: LiveCall | None = None
    last_queued: tuple[Any, ...] | None = None


@dataclass(eq=False)
class Console:
    """One advisor console socket (after its ticket was accepted)."""

    outbox: Outbox
    label: str
    advisor: Advisor
    on_duty: bool = False
    call: LiveCall | None = None


@dataclass(eq=False)
class LiveCall:
    req: CallRequest
    customer: Customer
    console: Console
    taken_s: float
    consent: tuple[bool, bool] | None = None
    media: CallMedia | None = None
    connected: bool = False
    record: RecordState = "off"
    record_product: str | None = None
    recording: Recording | None = None
    resume_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    """Given to the customer with `advisor`; a new socket that shows it takes the call over."""
    away: asyncio.TimerHandle | None = None
    """Set while the customer is unreachable (socket closed or media failed): ends the call when it fires."""


class Busy(Exception):
    """The node keeps no more waiting customers."""
