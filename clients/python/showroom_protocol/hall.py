"""The hall mode's control messages (`HALL_VERSION`): teleport, pick, focus, turn, unfocus, sit, stand_up and the
guide's guide_walk, guide_reset, guide_say, parsed into values with every field bounded (docs/streams.md, "Hall mode"). Re-exported by the package."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from showroom_protocol import CLOSE_INVALID_DATA, ProtocolError, _is_id

MAX_COORD_M = 1000.0
"""Points on the wire lie within this many metres of the hall's origin (the hall itself is 26 m x 18 m)."""
MAX_REQUEST_ID = 2**53 - 1
"""Request ids are non-negative integers a JavaScript number holds exactly."""
VISEMES: tuple[str, ...] = ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou")
"""The 15 Oculus/Meta visemes of the speech reply's track (docs/guide.md); the model's targets are `viseme_<name>`."""
MAX_VISEME_KEYS = 2000
MAX_VISEME_T_MS = 60000.0
"""A guide_say track: at most this many keys, none later than 60 s (one speech reply's piece is far shorter)."""

Vec3 = tuple[float, float, float]


class BadMessage(ProtocolError):
    """A hall message with a missing or bad field: the node answers `{"type": "error", "code": "bad_message",
    "id"?, "message"}` and the session goes on (unknown message types still close it with 1008)."""

    code = "bad_message"

    def __init__(self, message: str, request_id: int | None = None) -> None:
        super().__init__(message, CLOSE_INVALID_DATA)
        self.request_id = request_id

    def to_json(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"type": "error", "code": self.code, "message": self.message}
        if self.request_id is not None:
            msg["id"] = self.request_id
        return msg


@dataclass(frozen=True)
class Teleport:
    id: int
    to: str | None = None
    """A zone id; or else `point`."""
    point_m: Vec3 | None = None
    yaw_deg: float | None = None


@dataclass(frozen=True)
class Pick:
    id: int
    origin_m: Vec3
    direction: Vec3
    """A unit vector (normalised by the parser)."""


@dataclass(frozen=True)
class Focus:
    id: int
    product: str
    variant: str | None = None


@dataclass(frozen=True)
class Turn:
    yaw_deg: float
    """Absolute, in (-180, 180]."""


@dataclass(frozen=True)
class Unfocus:
    id: int | None = None


@dataclass(frozen=True)
class Sit:
    id: int
    product: str


@dataclass(frozen=True)
class StandUp:
    id: int


@dataclass(frozen=True)
class GuideWalk:
    """The guide walks to a zone's counter (the entrance: back to its place), the customer behind it if `follow`."""

    to: str
    follow: bool = False
    id: int | None = None


@dataclass(frozen=True)
class GuideReset:
    """The guide back at the entrance at once."""

    id: int | None = None


@dataclass(frozen=True)
class GuideSay:
    """The speech reply's viseme track, started when the node receives it: (t_ms, viseme, weight) keys."""

    visemes: tuple[tuple[float, str, float], ...]
    id: int | None = None


HallMessage = Teleport | Pick | Focus | Turn | Unfocus | Sit | StandUp | GuideWalk | GuideReset | GuideSay
HALL_MESSAGE_TYPES: tuple[str, ...] = ("teleport", "pick", "focus", "turn", "unfocus", "sit", "stand_up", "guide_walk",
                                       "guide_reset", "guide_say")


def _request_id(msg: dict[str, Any], required: bool = True) -> int | None:
    rid = msg.get("id")
    if rid is None and not required:
        return None
    if isinstance(rid, bool) or not isinstance(rid, int) or not 0 <= rid <= MAX_REQUEST_ID:
        raise BadMessage(f"{msg.get('type')}.id must be an integer from 0 to {MAX_REQUEST_ID}")
    return rid


def _finite(msg: dict[str, Any], key: str, rid: int | None, lo: float, hi: float) -> float:
    value = msg.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadMessage(f"{msg.get('type')}.{key} must be a finite number", rid)
    if not lo <= value <= hi:
        raise BadMessage(f"{msg.get('type')}.{key} must be between {lo:g} and {hi:g}", rid)
    return float(value)


def _point(msg: dict[str, Any], key: str, rid: int | None, limit: float = MAX_COORD_M) -> Vec3:
    v = msg.get(key)
    name = f"{msg.get('type')}.{key}"
    if not isinstance(v, list) or len(v) != 3:
        raise BadMessage(f"{name} must be a list of 3 numbers", rid)
    out: list[float] = []
    for x in v:
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
            raise BadMessage(f"{name} must hold finite numbers", rid)
        if abs(x) > limit:
            raise BadMessage(f"{name} must lie within {limit:g} m of the hall's origin", rid)
        out.append(float(x))
    return (out[0], out[1], out[2])


def _wrap_deg(angle_deg: float) -> float:
    """`angle_deg` in (-180, 180]."""
    a = math.fmod(angle_deg, 360.0)
    if a <= -180.0:
        a += 360.0
    elif a > 180.0:
        a -= 360.0
    return a


def _product(msg: dict[str, Any], rid: int | None) -> tuple[str, str | None]:
    pid, vid = msg.get("product"), msg.get("variant")
    if not _is_id(pid):
        raise BadMessage(f"{msg.get('type')}.product must be a product id", rid)
    if vid is not None and not _is_id(vid):
        raise BadMessage(f"{msg.get('type')}.variant must be a variant id", rid)
    return pid, vid


def parse_hall_message(msg: dict[str, Any]) -> HallMessage:
    """A hall control message -> its value; raises BadMessage naming the field (the session answers it with an
    error and goes on). `msg["type"]` must be one of HALL_MESSAGE_TYPES."""
    kind = msg.get("type")
    if kind == "turn":
        return Turn(_wrap_deg(_finite(msg, "yaw_deg", None, -1e6, 1e6)))
    if kind == "unfocus":
        return Unfocus(_request_id(msg, required=False))
    if kind in ("guide_walk", "guide_reset", "guide_say"):
        return _guide_message(msg, _request_id(msg, required=False))
    rid = _request_id(msg)
    assert rid is not None
    if kind == "teleport":
        to, has_point = msg.get("to"), "point" in msg
        if (to is None) == (not has_point):
            raise BadMessage("teleport needs either to (a zone id) or point ([x, y, z] on the floor)", rid)
        yaw = None if msg.get("yaw_deg") is None else _wrap_deg(_finite(msg, "yaw_deg", rid, -1e6, 1e6))
        if to is not None:
            if not _is_id(to):
                raise BadMessage("teleport.to must be a zone id", rid)
            return Teleport(rid, to=to, yaw_deg=yaw)
        return Teleport(rid, point_m=_point(msg, "point", rid), yaw_deg=yaw)
    if kind == "pick":
        origin = _point(msg, "origin", rid)
        d = _point(msg, "direction", rid, limit=1e6)
        norm = math.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
        if not norm > 1e-9:
            raise BadMessage("pick.direction must not be zero", rid)
        return Pick(rid, origin, (d[0] / norm, d[1] / norm, d[2] / norm))
    if kind == "focus":
        pid, vid = _product(msg, rid)
        return Focus(rid, pid, vid)
    if kind == "sit":
        pid, _ = _product(msg, rid)
        return Sit(rid, pid)
    if kind == "stand_up":
        return StandUp(rid)
    raise BadMessage(f"{kind!r} is not a hall message", rid)


def _guide_message(msg: dict[str, Any], rid: int | None) -> GuideWalk | GuideReset | GuideSay:
    kind = msg.get("type")
    if kind == "guide_reset":
        return GuideReset(rid)
    if kind == "guide_walk":
        to, follow = msg.get("to"), msg.get("follow", False)
        if not _is_id(to):
            raise BadMessage("guide_walk.to must be a zone id", rid)
        if not isinstance(follow, bool):
            raise BadMessage("guide_walk.follow must be true or false", rid)
        return GuideWalk(to, follow, rid)
    keys = msg.get("visemes")
    if not isinstance(keys, list):
        raise BadMessage("guide_say.visemes must be a list of [t_ms, viseme, weight]", rid)
    if len(keys) > MAX_VISEME_KEYS:
        raise BadMessage(f"guide_say.visemes holds {len(keys)} keys; at most {MAX_VISEME_KEYS}", rid)
    out: list[tuple[float, str, float]] = []
    for i, key in enumerate(keys):
        where = f"guide_say.visemes[{i}]"
        if not isinstance(key, list) or len(key) != 3:
            raise BadMessage(f"{where} must be [t_ms, viseme, weight]", rid)
        t_ms, name, w = key
        for value, what in ((t_ms, "t_ms"), (w, "weight")):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise BadMessage(f"{where}: {what} must be a finite number", rid)
        if not 0 <= t_ms <= MAX_VISEME_T_MS:
            raise BadMessage(f"{where}: t_ms must be between 0 and {MAX_VISEME_T_MS:g}", rid)
        if not 0 <= w <= 1:
            raise BadMessage(f"{where}: weight must be between 0 and 1", rid)
        if name not in VISEMES:
            raise BadMessage(f"{where}: {str(name)[:20]!r} is not a viseme ({', '.join(VISEMES)})", rid)
        out.append((float(t_ms), str(name), float(w)))
    return GuideSay(tuple(out), rid)
