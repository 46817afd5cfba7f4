"""The node's stream sessions: the limits every session runs under, and the registry that caps them."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

import showroom_protocol as protocol
from aiohttp import WSCloseCode

from render_node.stream._socket import Socket


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


class Session(Protocol):
    """What the registry needs of a session (pose or camera)."""

    @property
    def session_id(self) -> str: ...

    @property
    def ws(self) -> Socket: ...


class SessionRegistry:
    """The node's open stream sessions; refuses past `limits.max_sessions`, closes all on shutdown.

    A connection takes a slot with `reserve()` as soon as its socket is open, before its hello and before any
    await, and gives it back with `release()` in its `finally`; so connections arriving together can never
    exceed the cap (each check-and-take happens in one step of the event loop)."""

    def __init__(self, limits: StreamLimits | None = None) -> None:
        self.limits = limits or StreamLimits()
        self._sessions: dict[str, Session] = {}
        self._ids = itertools.count(1)
        self._taken = 0
        self.closing = False

    def __len__(self) -> int:
        """Sessions open now (welcomed and not yet ended)."""
        return len(self._sessions)

    @property
    def taken(self) -> int:
        """Slots held now: open sessions and connections still on their way to one."""
        return self._taken

    def reserve(self) -> bool:
        """Takes a slot for a new connection; False when all `max_sessions` are taken."""
        if self._taken >= self.limits.max_sessions:
            return False
        self._taken += 1
        return True

    def release(self) -> None:
        """Gives back a slot that `reserve()` took."""
        self._taken = max(0, self._taken - 1)

    def new_id(self) -> str:
        return f"s{next(self._ids)}-{secrets.token_hex(4)}"

    def add(self, session: Session) -> None:
        self._sessions[session.session_id] = session

    def remove(self, session: Session) -> None:
        self._sessions.pop(session.session_id, None)

    async def close_all(self) -> None:
        self.closing = True
        await asyncio.gather(*(s.ws.close(code=WSCloseCode.GOING_AWAY, message=b"node shutting down")
                               for s in list(self._sessions.values())), return_exceptions=True)
