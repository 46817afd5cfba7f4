"""The advisor sockets' messages: each one checked and copied field by field (unknown fields are dropped), so the
node forwards only what it understood. Pure: no aiohttp, no aiortc; `BadMessage` names the field at fault."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from showroom.advisory import CHANNELS, LANGS, PLACE_PATTERN, Topic

ID_PATTERN = re.compile(r"[a-z0-9_-]{1,64}")
"""Product, variant and hotspot ids."""
REF_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""Quote and order ids (`q_…`, `ord_…`)."""
CALL_PATTERN = re.compile(r"call_[0-9a-f]{16}")
RESUME_PATTERN = re.compile(r"[A-Za-z0-9_-]{32}")
"""A call's resume token (`secrets.token_urlsafe(24)`)."""
MAX_TICKET_CHARS = 2048
MAX_SDP_CHARS = 48 * 1024
MAX_ANGLE_DEG = 100_000.0
"""A yaw that pages accumulate past one turn stays finite and bounded."""
VIEW_TEXT_KEYS = ("screen", "zone")
VIEW_ID_KEYS = ("product", "variant")

CUSTOMER_TYPES = ("cancel", "consent", "sdp", "view", "coview", "video", "offer_reply", "order", "record_consent",
                  "ping")
ADVISOR_TYPES = ("duty", "take", "sdp", "show", "pointer", "hotspot", "offer", "record", "end", "ping")


class BadMessage(ValueError):
    """A message the node does not accept; answered with `{"type": "error", "code": "bad_message", "message"}`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict[str, str]:
        return {"type": "error", "code": "bad_message", "message": self.message}


@dataclass(frozen=True)
class CustomerHello:
    topic: Topic
    lang: str
    channel: str
    place: str | None
    view: dict[str, Any] | None


def message_type(msg: dict[str, Any], allowed: tuple[str, ...]) -> str:
    kind = msg.get("type")
    if not isinstance(kind, str) or kind not in allowed:
        shown = kind if isinstance(kind, str) and len(kind) <= 32 else "?"
        raise BadMessage(f"unknown message type {shown!r}; this socket takes {', '.join(allowed)}")
    return kind


def _choice(msg: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = msg.get(key)
    if not isinstance(value, str) or value not in allowed:
        raise BadMessage(f"{key} must be one of {', '.join(allowed)}")
    return value


def _flag(msg: dict[str, Any], key: str) -> bool:
    value = msg.get(key)
    if not isinstance(value, bool):
        raise BadMessage(f"{key} must be true or false")
    return value


def _text(msg: dict[str, Any], key: str, pattern: re.Pattern[str], *, required: bool) -> str | None:
    value = msg.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise BadMessage(f"{key} must match {pattern.pattern}")
    return value


def _number(msg: dict[str, Any], key: str, lo: float, hi: float) -> float | None:
    value = msg.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not lo <= value <= hi:
        raise BadMessage(f"{key} must be a number from {lo:g} to {hi:g}")
    return float(value)


def _object(msg: dict[str, Any], key: str) -> dict[str, Any]:
    value = msg.get(key)
    if not isinstance(value, dict):
        raise BadMessage(f"{key} must be an object")
    return value


def parse_customer_hello(msg: dict[str, Any]) -> CustomerHello:
    if msg.get("type") != "hello":
        raise BadMessage("the first message must be a hello")
    topic = Topic(_choice(msg, "topic", tuple(t.value for t in Topic)))
    view = clean_view(_object(msg, "view")) if msg.get("view") is not None else None
    return CustomerHello(topic=topic, lang=_choice(msg, "lang", LANGS), channel=_choice(msg, "channel", CHANNELS),
                         place=_text(msg, "place", PLACE_PATTERN, required=False), view=view)


def clean_view(view: dict[str, Any]) -> dict[str, Any]:
    """What the customer is looking at: `{screen, product?, variant?, yaw_deg?, pitch_deg?, zone?}`."""
    out: dict[str, Any] = {"screen": _text(view, "screen", PLACE_PATTERN, required=True)}
    for key in VIEW_ID_KEYS:
        if (value := _text(view, key, ID_PATTERN, required=False)) is not None:
            out[key] = value
    if (zone := _text(view, "zone", PLACE_PATTERN, required=False)) is not None:
        out["zone"] = zone
    if (yaw := _number(view, "yaw_deg", -MAX_ANGLE_DEG, MAX_ANGLE_DEG)) is not None:
        out["yaw_deg"] = yaw
    if (pitch := _number(view, "pitch_deg", -90.0, 90.0)) is not None:
        out["pitch_deg"] = pitch
    return out


def parse_consent(msg: dict[str, Any]) -> tuple[bool, bool]:
    """(audio, video); both False is a decline. Video without audio is not a call the node relays."""
    audio, video = _flag(msg, "audio"), _flag(msg, "video")
    if video and not audio:
        raise BadMessage("consent: video needs audio (send audio: false, video: false to decline)")
    return audio, video


def parse_offer_sdp(msg: dict[str, Any]) -> tuple[str, bool]:
    """The SDP of a complete (non-trickle) offer, and whether it restarts the side's media (`restart: true`: a
    fresh peer connection after a network change replaces the one answered before)."""
    if msg.get("kind") != "offer":
        raise BadMessage("sdp.kind must be offer: the node answers, it never offers")
    sdp = msg.get("sdp")
    if not isinstance(sdp, str) or not sdp.startswith("v=0") or len(sdp) > MAX_SDP_CHARS:
        raise BadMessage(f"sdp.sdp must be a session description (v=0 …), at most {MAX_SDP_CHARS} characters")
    return sdp, _flag(msg, "restart") if "restart" in msg else False


def parse_resume(msg: dict[str, Any]) -> tuple[str, str]:
    """(call id, resume token) of a customer's first message `{type: resume, call, token}`: back on a new socket
    to the call whose `advisor` message carried the token (after the phone changed networks)."""
    call = _text(msg, "call", CALL_PATTERN, required=True)
    token = msg.get("token")
    if not isinstance(token, str) or not RESUME_PATTERN.fullmatch(token):
        raise BadMessage("token must be the resume token of the call (32 characters)")
    assert call is not None
    return call, token


def customer_note(kind: str, msg: dict[str, Any]) -> dict[str, Any]:
    """A customer's co-view message as forwarded to the advisor (without the call id, which the hub adds)."""
    if kind == "view":
        return {"type": "view", "view": clean_view(_object(msg, "view"))}
    if kind in ("coview", "video"):
        return {"type": kind, "on": _flag(msg, "on")}
    if kind == "offer_reply":
        return {"type": "offer_reply", "quote_id": _text(msg, "quote_id", REF_PATTERN, required=True),
                "accepted": _flag(msg, "accepted")}
    if kind == "order":
        return {"type": "order", "order_id": _text(msg, "order_id", REF_PATTERN, required=True)}
    raise BadMessage(f"{kind} is not a co-view message")


def advisor_action(kind: str, msg: dict[str, Any]) -> dict[str, Any]:
    """An advisor's message for the customer (show, pointer, hotspot, offer), as forwarded."""
    if kind == "show":
        out: dict[str, Any] = {"type": "show", "product": _text(msg, "product", ID_PATTERN, required=True)}
        if (variant := _text(msg, "variant", ID_PATTERN, required=False)) is not None:
            out["variant"] = variant
        if (yaw := _number(msg, "yaw_deg", -MAX_ANGLE_DEG, MAX_ANGLE_DEG)) is not None:
            out["yaw_deg"] = yaw
        if (pitch := _number(msg, "pitch_deg", -90.0, 90.0)) is not None:
            out["pitch_deg"] = pitch
        return out
    if kind == "pointer":
        if msg.get("x") is None:
            return {"type": "pointer", "x": None}
        x, y = _number(msg, "x", 0.0, 1.0), _number(msg, "y", 0.0, 1.0)
        if x is None or y is None:
            raise BadMessage("pointer needs x and y from 0 to 1 (or x: null to hide it)")
        return {"type": "pointer", "x": x, "y": y}
    if kind == "hotspot":
        return {"type": "hotspot", "id": _text(msg, "id", ID_PATTERN, required=True)}
    if kind == "offer":
        quote = _object(msg, "quote")
        try:
            _text(quote, "id", REF_PATTERN, required=True)
            _text(quote, "product", ID_PATTERN, required=True)
        except BadMessage as exc:
            raise BadMessage(f"quote.{exc.message}") from None
        return {"type": "offer", "quote": quote}
    raise BadMessage(f"{kind} is not an advisor action")


def parse_ticket(msg: dict[str, Any]) -> str:
    if msg.get("type") != "hello":
        raise BadMessage("the first message must be a hello")
    ticket = msg.get("ticket")
    if not isinstance(ticket, str) or not 0 < len(ticket) <= MAX_TICKET_CHARS:
        raise BadMessage("hello.ticket must be the ticket from POST /api/staff/advisor/ticket")
    return ticket


def parse_take(msg: dict[str, Any]) -> tuple[Topic | None, str | None]:
    """(topic, call): both None takes whoever has waited longest."""
    topic = msg.get("topic")
    if topic is not None:
        topic = Topic(_choice(msg, "topic", tuple(t.value for t in Topic)))
    return topic, _text(msg, "call", CALL_PATTERN, required=False)


def parse_duty(msg: dict[str, Any]) -> bool:
    return _flag(msg, "on")


def parse_record(msg: dict[str, Any]) -> tuple[bool, str | None]:
    """The advisor's `record {on, product?}`: (on, the product the recording is for)."""
    return _flag(msg, "on"), _text(msg, "product", ID_PATTERN, required=False)


def parse_record_consent(msg: dict[str, Any]) -> bool:
    """The customer's answer to `record_consent`: accepted or refused."""
    return _flag(msg, "accepted")
