"""Calling an advisor: the queue per topic, its honest wait estimate, and the signed ticket that lets an advisor's
browser into the node's console socket. Pure domain: no I/O, times are passed in.

The queue is FIFO per topic (`Topic`); an advisor takes the head of a topic or, naming none, the customer who has
waited longest. A customer whose advisor dropped goes back to the head of their topic (`requeue_front`). The wait
estimate is `ceil(position / advisors on duty) x the mean talk time of the last `history` finished calls`
(`default_handle_s` until a call has finished), and None when nobody is on duty: the page then offers a call-back.

A ticket is `b64url(JSON {"n": name, "d": display_name, "exp": unix s}) + "." + b64url(HMAC-SHA256(key, payload))`.
Commerce signs it for a signed-in advisor (staff sessions live in the commerce database); an edge node, which
imports no commerce code, verifies it with the same key (SHOWROOM_ADVISOR_TICKET_KEY). Both sides use wall-clock
seconds (`time.time()`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from showroom.errors import InvalidInput, ShowroomError


class Topic(StrEnum):
    PRECIOUS_METALS = "precious_metals"
    CAR_FINANCE = "car_finance"
    OTHER = "other"


LANGS: tuple[str, ...] = ("zh", "en")
CHANNELS: tuple[str, ...] = ("kiosk", "phone", "vr")
PLACE_MAX = 64
"""A kiosk id, branch id or hall zone: free text the page sends, `[A-Za-z0-9_.:-]{1,64}` (`PLACE_PATTERN`)."""
PLACE_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


@dataclass(frozen=True)
class CallRequest:
    """A customer waiting for an advisor."""

    id: str
    """"call_" + token_hex(8)."""
    topic: Topic
    lang: str
    """One of LANGS."""
    channel: str
    """One of CHANNELS."""
    place: str | None
    joined_s: float
    """Monotonic seconds when it joined the queue."""


class CallQueue:
    """FIFO per topic. Pure: times are passed in."""

    def __init__(self, *, default_handle_s: float = 240.0, history: int = 20) -> None:
        if default_handle_s <= 0 or history < 1:
            raise ValueError("default_handle_s must be positive and history at least 1")
        self.default_handle_s = default_handle_s
        self._queues: dict[Topic, list[CallRequest]] = {topic: [] for topic in Topic}
        self._talk_s: deque[float] = deque(maxlen=history)

    def _find(self, call_id: str) -> tuple[list[CallRequest], int] | None:
        for queue in self._queues.values():
            for index, req in enumerate(queue):
                if req.id == call_id:
                    return queue, index
        return None

    def join(self, req: CallRequest) -> None:
        """At the back of its topic's queue; a call already waiting is refused (ValueError)."""
        if self._find(req.id) is not None:
            raise ValueError(f"{req.id} is already waiting")
        self._queues[req.topic].append(req)

    def leave(self, call_id: str) -> CallRequest | None:
        """Cancelled or gone: out of the queue (None when it was not waiting)."""
        found = self._find(call_id)
        if found is None:
            return None
        queue, index = found
        return queue.pop(index)

    def requeue_front(self, req: CallRequest) -> None:
        """The advisor dropped: back at the head of its topic (it keeps its original `joined_s`)."""
        self.leave(req.id)
        self._queues[req.topic].insert(0, req)

    def take(self, topic: Topic | None) -> CallRequest | None:
        """The head of `topic`; with None, whoever has waited longest of the topics' heads (None: nobody waits)."""
        if topic is not None:
            queue = self._queues[topic]
            return queue.pop(0) if queue else None
        heads = [queue for queue in self._queues.values() if queue]
        if not heads:
            return None
        return min(heads, key=lambda q: q[0].joined_s).pop(0)

    def take_id(self, call_id: str) -> CallRequest | None:
        """That call, wherever it waits (None when it does not)."""
        return self.leave(call_id)

    def position(self, call_id: str) -> int | None:
        """1-based place within its topic's queue; None when it is not waiting."""
        found = self._find(call_id)
        return None if found is None else found[1] + 1

    def waiting(self, topic: Topic | None = None) -> list[CallRequest]:
        """In queue order; with None every topic's, oldest first."""
        if topic is not None:
            return list(self._queues[topic])
        return sorted((req for queue in self._queues.values() for req in queue), key=lambda r: r.joined_s)

    def finished(self, talk_s: float) -> None:
        """A finished call's talk time, for the estimate (negative or non-finite values are ignored)."""
        if math.isfinite(talk_s) and talk_s >= 0:
            self._talk_s.append(talk_s)

    def mean_talk_s(self) -> float:
        """Mean talk time of the last `history` finished calls (`default_handle_s` before any)."""
        return sum(self._talk_s) / len(self._talk_s) if self._talk_s else self.default_handle_s

    def wait_estimate_s(self, call_id: str, advisors_on_duty: int) -> float | None:
        """None when no advisor is on duty (or the call is not waiting); else ceil(position / advisors) x the mean
        talk time. An estimate: it assumes every advisor on duty is about to finish a typical call."""
        position = self.position(call_id)
        if position is None or advisors_on_duty <= 0:
            return None
        return math.ceil(position / advisors_on_duty) * self.mean_talk_s()


@dataclass(frozen=True)
class Advisor:
    name: str
    display_name: str


TicketReason = Literal["malformed", "bad_signature", "expired"]


class TicketInvalid(ShowroomError, ValueError):
    """An advisor ticket that cannot be used; `reason` says why."""

    code = "bad_ticket"
    http_status = 403

    def __init__(self, reason: TicketReason, message: str | None = None) -> None:
        super().__init__(message or f"advisor ticket refused: {reason}")
        self.reason: TicketReason = reason


TICKET_TTL_S = 300


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise TicketInvalid("malformed")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise TicketInvalid("malformed") from None


def _mac(key: bytes, payload: bytes) -> bytes:
    if not key:
        raise ValueError("an advisor ticket needs a key")
    return hmac.new(key, payload, hashlib.sha256).digest()


TicketScope = Literal["console", "recordings"]
"""What a ticket opens: `console` an advisor's console socket (the payload has no `s`), `recordings` the edge's
recordings for an auditor (`"s": "recordings"`). A ticket of one scope never opens the other."""
RECORDINGS_TICKET_TTL_S = 600


def sign_ticket(key: bytes, advisor: Advisor, now_s: float, ttl_s: float = TICKET_TTL_S,
                scope: TicketScope = "console") -> str:
    """A ticket for `advisor` (or, scope `recordings`, an auditor), valid until `now_s + ttl_s` (wall-clock
    seconds)."""
    doc: dict[str, object] = {"n": advisor.name, "d": advisor.display_name, "exp": int(now_s + ttl_s)}
    if scope != "console":
        doc["s"] = scope
    payload = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return f"{_b64(payload)}.{_b64(_mac(key, payload))}"


def ticket_expires_s(ticket: str) -> int:
    """The expiry (unix seconds) written in a ticket this process just signed (no verification)."""
    payload = json.loads(_unb64(ticket.split(".", 1)[0]))
    return int(payload["exp"])


def verify_ticket(key: bytes, ticket: str, now_s: float, scope: TicketScope = "console") -> Advisor:
    """The advisor a valid ticket of `scope` names; TicketInvalid("malformed" | "bad_signature" | "expired")
    otherwise (a ticket of another scope is `bad_signature`: it was never signed for this). The signature is
    checked (in constant time) before anything in the payload is believed."""
    if not isinstance(ticket, str) or len(ticket) > 2048 or ticket.count(".") != 1:
        raise TicketInvalid("malformed")
    head, tail = ticket.split(".")
    payload, signature = _unb64(head), _unb64(tail)
    if not hmac.compare_digest(_mac(key, payload), signature):
        raise TicketInvalid("bad_signature")
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise TicketInvalid("malformed") from None
    if (not isinstance(doc, dict) or not isinstance(doc.get("n"), str) or not doc["n"]
            or not isinstance(doc.get("d"), str) or type(doc.get("exp")) is not int):
        raise TicketInvalid("malformed")
    if doc.get("s", "console") != scope:
        raise TicketInvalid("bad_signature", f"this ticket is not for {scope}")
    if now_s >= doc["exp"]:
        raise TicketInvalid("expired")
    return Advisor(name=doc["n"], display_name=doc["d"])


# -- dual recording: the node's signed receipt ------------------------------------------------------------------

RECORDING_LEGS = ("customer", "advisor")


def canonical_json(doc: object) -> bytes:
    """The bytes a receipt's signature covers: sorted keys, no spaces, UTF-8."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign_receipt(key: bytes, recording: dict[str, object]) -> str:
    """HMAC-SHA256 (hex) of a recording's receipt (`canonical_json`), with the advisor ticket key both sides hold."""
    return _mac(key, canonical_json(recording)).hex()


def verify_receipt(key: bytes, recording: dict[str, object], sig: str) -> bool:
    """True when `sig` is the node's signature of `recording` (constant time)."""
    return isinstance(sig, str) and hmac.compare_digest(sign_receipt(key, recording), sig)


# -- call-backs and call records (stored by commerce) ----------------------------------------------------------------

CALLBACK_HORIZON = timedelta(days=14)
"""A call-back's preferred time lies within the next 14 days."""
CALLBACK_GRACE = timedelta(minutes=5)
"""A preferred time up to this far back counts as "now" (the page's clock, the time to fill the form)."""
CALLER_NAME_MAX = 40
NOTES_MAX = 2000
CALL_MAX = timedelta(hours=12)
"""A call record longer than this is a mistake in its times."""
CLOCK_SKEW = timedelta(minutes=5)


class CallbackStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


class CallOutcome(StrEnum):
    ANSWERED = "answered"
    QUOTE_OFFERED = "quote_offered"
    ORDER_PLACED = "order_placed"
    NO_ANSWER = "no_answer"


class CallbackAlreadyDone(ShowroomError):
    code = "callback_done"
    http_status = 409


class CallAlreadyRecorded(ShowroomError):
    code = "call_recorded"
    http_status = 409


@dataclass(frozen=True)
class Callback:
    """A customer's request to be called back (left when no advisor was on duty)."""

    id: str
    topic: Topic
    lang: str
    channel: str
    place: str | None
    phone: str
    """The 11-digit mainland mobile number."""
    name: str | None
    preferred_at: datetime
    created_at: datetime
    status: CallbackStatus = CallbackStatus.OPEN
    done_by: str | None = None
    """The staff name of the advisor who called back."""
    done_at: datetime | None = None

    def done(self, by: str, at: datetime) -> Callback:
        if self.status is CallbackStatus.DONE:
            raise CallbackAlreadyDone(f"call-back {self.id} was done by {self.done_by}")
        return replace(self, status=CallbackStatus.DONE, done_by=by, done_at=at)


@dataclass(frozen=True)
class CallRecord:
    """What an advisor wrote after a call: who, when, about what, the outcome and the notes."""

    id: str
    call_id: str
    topic: Topic
    lang: str
    channel: str
    place: str | None
    advisor: str
    """The advisor's staff name: from their session, never from a request body."""
    advisor_display_name: str
    started_at: datetime
    ended_at: datetime
    notes: str
    outcome: CallOutcome
    order_id: str | None
    recorded_at: datetime

    @property
    def talk_s(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


def check_preferred_at(preferred_at: datetime, now: datetime) -> None:
    """A call-back's preferred time: not in the past (beyond `CALLBACK_GRACE`), at most 14 days ahead."""
    if preferred_at < now - CALLBACK_GRACE:
        raise InvalidInput("preferred_at: is in the past")
    if preferred_at > now + CALLBACK_HORIZON:
        raise InvalidInput(f"preferred_at: is more than {CALLBACK_HORIZON.days} days ahead")


def check_call_times(started_at: datetime, ended_at: datetime, now: datetime) -> None:
    """A call record's times: it ended after it started, not in the future, and lasted at most `CALL_MAX`."""
    if ended_at < started_at:
        raise InvalidInput("ended_at: is before started_at")
    if ended_at > now + CLOCK_SKEW:
        raise InvalidInput("ended_at: is in the future")
    if ended_at - started_at > CALL_MAX:
        raise InvalidInput(f"started_at: the call would have lasted more than {CALL_MAX.total_seconds() / 3600:g} "
                           f"hours")


def check_choice(field: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidInput(f"{field}: must be one of {', '.join(allowed)}")
    return value


def check_place(place: str | None) -> str | None:
    if place is not None and not PLACE_PATTERN.fullmatch(place):
        raise InvalidInput(f"place: must be 1-{PLACE_MAX} of A-Z a-z 0-9 _ . : -")
    return place
