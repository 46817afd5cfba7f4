"""Branches, their opening hours and the one slot engine that pick-ups and advisory appointments share; the
pick-up itself (code, hand-over against an identity check, the missed-pick-up rule). Pure domain: no I/O.

Times: opening hours are local wall-clock times in Asia/Shanghai (no daylight saving); a slot is named by its
start as a timezone-aware UTC `datetime`. A branch's day is cut into `slot_minutes` slots from the start of each
opening range; a slot that would run past the range's end is not offered.

The missed-pick-up rule (`missed_action`): a paid pick-up whose goods were not handed over by `MISSED_AFTER` past
its slot's end is *missed*. The first miss extends it once, automatically, to the same time on the branch's next
day with room (else the first slot with room within `EXTEND_WITHIN_DAYS`); a customer may instead move it once
themselves, before the slot (that is the one extension). A missed extended pick-up is refunded in full through the
refund path, and the pieces go back on the branch's shelf.

Pick-up code: ten characters (Crockford base32, 50 bits) derived from the order's 256-bit customer token with
HMAC-SHA256, so the order page shows it to the token's holder on every visit while the bank stores only
SHA-256(order id, code) (`code_digest`). The teller types the code; the hand-over also needs the teller's word that
the customer's identity document was checked and the name on it, which must match the order's.
"""

from __future__ import annotations

import hashlib
import hmac
import tomllib
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

from showroom.catalog import LocalizedText
from showroom.errors import InvalidInput, NotFound, ShowroomError

BRANCH_TZ = ZoneInfo("Asia/Shanghai")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Purpose = Literal["pickup", "advisory"]
PURPOSES: tuple[Purpose, ...] = ("pickup", "advisory")

BOOKING_LEAD = timedelta(minutes=60)
"""A slot can be booked when it starts at least this long from now (the branch gets the goods ready)."""
BOOKING_HORIZON_DAYS = 14
"""Slots are offered for today and the next days up to this many."""
MISSED_AFTER = timedelta(minutes=30)
"""A pick-up not handed over this long after its slot ended is missed."""
EXTEND_WITHIN_DAYS = 7


class BranchError(ShowroomError):
    code = "branch_error"
    http_status = 409


class UnknownBranch(NotFound):
    code = "unknown_branch"


class SlotUnavailable(BranchError):
    """Not a slot of this branch, in the past, too soon, too far ahead, or full."""

    code = "slot_unavailable"


class PickupNotAllowed(BranchError):
    code = "pickup_not_allowed"


class PickupCodeWrong(ShowroomError):
    """No pick-up waiting at this branch has this code (answered alike for every wrong code)."""

    code = "pickup_code_wrong"
    http_status = 404


class IdentityNotChecked(ShowroomError):
    code = "identity_not_checked"
    http_status = 422


class NameMismatch(ShowroomError):
    code = "name_mismatch"
    http_status = 409


class BranchesInvalid(ShowroomError):
    code = "branches_invalid"
    http_status = 500


# -- branches and their hours ------------------------------------------------------------------------------------

Range = tuple[int, int]
"""Minutes after local midnight: [open, close)."""


@dataclass(frozen=True)
class Branch:
    id: str
    name: LocalizedText
    city: LocalizedText
    address: LocalizedText
    phone: str
    hours: tuple[tuple[Range, ...], ...]
    """Per weekday, Monday first: the opening ranges (empty: closed)."""
    slot_minutes: int = 30
    pickup_capacity: int = 3
    advisory_capacity: int = 2
    stock: tuple[tuple[str, str, int], ...] = ()
    """(product, variant, pieces) the file stocks the branch with."""

    def capacity(self, purpose: Purpose) -> int:
        return self.pickup_capacity if purpose == "pickup" else self.advisory_capacity

    def slot_starts(self, day: date) -> list[datetime]:
        """The slots of a local calendar day, as UTC starts, in order."""
        out: list[datetime] = []
        for open_min, close_min in self.hours[day.weekday()]:
            start = open_min
            while start + self.slot_minutes <= close_min:
                local = datetime.combine(day, time(start // 60, start % 60), tzinfo=BRANCH_TZ)
                out.append(local.astimezone(UTC))
                start += self.slot_minutes
        return out

    def is_slot(self, start: datetime) -> bool:
        return start.astimezone(UTC) in self.slot_starts(local_day(start))

    def slot_end(self, start: datetime) -> datetime:
        return start + timedelta(minutes=self.slot_minutes)

    def ensure_bookable(self, start: datetime, now: datetime) -> None:
        if start.tzinfo is None:
            raise SlotUnavailable("a slot is a time with its zone (ISO 8601, e.g. 2026-11-24T10:00:00+08:00)")
        if not self.is_slot(start):
            raise SlotUnavailable(f"{start.isoformat()} is not a slot of branch {self.id} (its opening hours)")
        if start < now + BOOKING_LEAD:
            raise SlotUnavailable(f"the slot starts too soon; book at least {BOOKING_LEAD} ahead")
        if local_day(start) > local_day(now) + timedelta(days=BOOKING_HORIZON_DAYS):
            raise SlotUnavailable(f"slots can be booked up to {BOOKING_HORIZON_DAYS} days ahead")

    def stocked(self, product_id: str, variant_id: str) -> int:
        return next((n for p, v, n in self.stock if p == product_id and v == variant_id), 0)

    def document(self) -> dict[str, Any]:
        """The branch as JSON (what the database keeps and the API shows)."""
        return {"id": self.id, "name": _lt(self.name), "city": _lt(self.city), "address": _lt(self.address),
                "phone": self.phone, "timezone": "Asia/Shanghai",
                "hours": {d: ",".join(f"{_hm(a)}-{_hm(b)}" for a, b in self.hours[i]) for i, d in enumerate(WEEKDAYS)},
                "slot_minutes": self.slot_minutes, "pickup_capacity": self.pickup_capacity,
                "advisory_capacity": self.advisory_capacity}


def local_day(at: datetime) -> date:
    return at.astimezone(BRANCH_TZ).date()


def _lt(text: LocalizedText) -> dict[str, str]:
    return {"zh": text.zh, "en": text.en}


def _hm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(raw: str, where: str) -> int:
    try:
        hh, mm = raw.strip().split(":")
        value = int(hh) * 60 + int(mm)
    except ValueError:
        raise BranchesInvalid(f"{where}: {raw!r} is not HH:MM") from None
    if not 0 <= value <= 24 * 60:
        raise BranchesInvalid(f"{where}: {raw!r} is not a time of day")
    return value


def parse_hours(raw: str, where: str) -> tuple[Range, ...]:
    """`"09:00-12:00,13:00-17:00"` -> ((540, 720), (780, 1020)); `""` -> () (closed)."""
    ranges: list[Range] = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        start, sep, end = part.partition("-")
        if not sep:
            raise BranchesInvalid(f"{where}: {part!r} is not HH:MM-HH:MM")
        a, b = _minutes(start, where), _minutes(end, where)
        if b <= a or (ranges and a < ranges[-1][1]):
            raise BranchesInvalid(f"{where}: {part!r} is empty or overlaps the range before it")
        ranges.append((a, b))
    return tuple(ranges)


def _text(doc: Mapping[str, Any], key: str, where: str) -> LocalizedText:
    value = doc.get(key)
    if not isinstance(value, Mapping) or not all(isinstance(value.get(k), str) and value[k] for k in ("zh", "en")):
        raise BranchesInvalid(f"{where}.{key}: needs zh and en text")
    return LocalizedText(value["zh"], value["en"])


def _count(value: Any, where: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise BranchesInvalid(f"{where}: a whole number from {low} to {high}")
    return value


def branch_from_document(doc: Mapping[str, Any], where: str = "branch") -> Branch:
    """One branch from its TOML table (or the JSON `document` the database keeps)."""
    bid = doc.get("id")
    if not isinstance(bid, str) or not bid or len(bid) > 64 or not bid.replace("-", "").replace("_", "").isalnum():
        raise BranchesInvalid(f"{where}.id: letters, digits, - and _ (at most 64)")
    where = f"branch {bid}"
    hours_doc = doc.get("hours", {})
    if not isinstance(hours_doc, Mapping) or set(hours_doc) - set(WEEKDAYS):
        raise BranchesInvalid(f"{where}.hours: a table of mon..sun")
    hours = tuple(parse_hours(str(hours_doc.get(d, "")), f"{where}.hours.{d}") for d in WEEKDAYS)
    slot_minutes = _count(doc.get("slot_minutes", 30), f"{where}.slot_minutes", 10, 240)
    stock: list[tuple[str, str, int]] = []
    stock_doc = doc.get("stock", {})
    if not isinstance(stock_doc, Mapping):
        raise BranchesInvalid(f"{where}.stock: a table of product -> {{variant = pieces}}")
    for product, variants in stock_doc.items():
        if not isinstance(variants, Mapping):
            raise BranchesInvalid(f"{where}.stock.{product}: a table of variant = pieces")
        for variant, pieces in variants.items():
            stock.append((str(product), str(variant), _count(pieces, f"{where}.stock.{product}.{variant}", 0, 100000)))
    phone = doc.get("phone", "")
    return Branch(id=bid, name=_text(doc, "name", where), city=_text(doc, "city", where),
                  address=_text(doc, "address", where), phone=str(phone), hours=hours, slot_minutes=slot_minutes,
                  pickup_capacity=_count(doc.get("pickup_capacity", 3), f"{where}.pickup_capacity", 1, 100),
                  advisory_capacity=_count(doc.get("advisory_capacity", 2), f"{where}.advisory_capacity", 1, 100),
                  stock=tuple(stock))


def load_branches(text: str) -> tuple[Branch, ...]:
    """The branches of `assets/branches.toml` (its text), checked; `BranchesInvalid` names the bad field."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BranchesInvalid(f"branches.toml: {exc}") from None
    raw = doc.get("branches", [])
    if not isinstance(raw, list) or not raw:
        raise BranchesInvalid("branches.toml: needs at least one [[branches]] table")
    branches = tuple(branch_from_document(b, f"branches[{i}]") for i, b in enumerate(raw))
    ids = [b.id for b in branches]
    if len(set(ids)) != len(ids):
        raise BranchesInvalid("branches.toml: branch ids must be unique")
    return branches


# -- the slot engine ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotView:
    start: datetime
    end: datetime
    capacity: int
    taken: int
    bookable: bool
    """In the booking window (not too soon, not too far) and not full."""

    @property
    def left(self) -> int:
        return max(self.capacity - self.taken, 0)


def day_slots(branch: Branch, day: date, purpose: Purpose, taken: Mapping[datetime, int],
              now: datetime) -> list[SlotView]:
    """Every slot of `day` at `branch` with what is left (`taken`: slot start -> places taken)."""
    cap = branch.capacity(purpose)
    horizon = local_day(now) + timedelta(days=BOOKING_HORIZON_DAYS)
    out = []
    for start in branch.slot_starts(day):
        n = taken.get(start, 0)
        ok = start >= now + BOOKING_LEAD and day <= horizon and n < cap
        out.append(SlotView(start, branch.slot_end(start), cap, n, ok))
    return out


def later_slots(branch: Branch, after: datetime, days: int = EXTEND_WITHIN_DAYS) -> Iterator[datetime]:
    """The branch's slots starting after `after`, nearest first: the same local time on the following days
    first (a customer who could come at 10:00 can likely come at 10:00 again), then every other slot in order."""
    local = after.astimezone(BRANCH_TZ)
    first = local.date() + timedelta(days=1)
    same_time: list[datetime] = []
    others: list[datetime] = []
    for i in range(days):
        day = first + timedelta(days=i)
        for start in branch.slot_starts(day):
            if start.astimezone(BRANCH_TZ).time() == local.time():
                same_time.append(start)
            else:
                others.append(start)
    yield from same_time
    yield from others


# -- pick-ups -----------------------------------------------------------------------------------------------------


class PickupStatus(StrEnum):
    BOOKED = "booked"
    """The slot is held; the goods wait (once the order is paid) for the customer."""
    HANDED_OVER = "handed_over"
    RELEASED = "released"
    """The order expired or was cancelled before payment: slot and stock went back."""
    REFUNDED = "refunded"
    """Missed after its one extension: the order was refunded and the pieces went back on the shelf."""


@dataclass
class Pickup:
    order_id: str
    branch_id: str
    slot_at: datetime
    status: PickupStatus
    code_sha256: str
    created_at: datetime
    updated_at: datetime
    extended: bool = False
    """The one extension was used (automatically after a miss, or by the customer)."""
    missed_slots: tuple[datetime, ...] = ()
    handed_over_at: datetime | None = None
    handed_over_by: str | None = None
    version: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)

    def move(self, to: datetime, now: datetime, by: str) -> None:
        """The one extension: to a later slot (the caller took its place and released the old one)."""
        if self.status is not PickupStatus.BOOKED:
            raise PickupNotAllowed(f"the pick-up of order {self.order_id} is {self.status.value}")
        if self.extended:
            raise PickupNotAllowed("a pick-up is extended once; this one was already moved")
        if to <= self.slot_at and by == "customer":
            raise PickupNotAllowed("a pick-up moves to a later slot")
        self.history.append({"from": self.slot_at.isoformat(), "to": to.isoformat(), "by": by})
        self.slot_at, self.extended, self.updated_at = to, True, now

    def hand_over(self, now: datetime, by: str) -> None:
        if self.status is not PickupStatus.BOOKED:
            raise PickupNotAllowed(f"the pick-up of order {self.order_id} is {self.status.value}")
        self.status, self.handed_over_at, self.handed_over_by, self.updated_at = PickupStatus.HANDED_OVER, now, by, now

    def release(self, now: datetime) -> None:
        if self.status is PickupStatus.BOOKED:
            self.status, self.updated_at = PickupStatus.RELEASED, now

    def refunded(self, now: datetime) -> None:
        self.missed_slots = (*self.missed_slots, self.slot_at)
        self.status, self.updated_at = PickupStatus.REFUNDED, now


MissedAction = Literal["wait", "extend", "refund"]


def missed_at(pickup: Pickup, slot_minutes: int) -> datetime:
    """When the pick-up counts as missed: its slot's end plus `MISSED_AFTER`."""
    return pickup.slot_at + timedelta(minutes=slot_minutes) + MISSED_AFTER


def missed_action(pickup: Pickup, paid: bool, slot_minutes: int, now: datetime) -> MissedAction:
    """The rule for a pick-up at `now`: wait, extend once, or refund (only paid, booked pick-ups are missed)."""
    if pickup.status is not PickupStatus.BOOKED or not paid or now < missed_at(pickup, slot_minutes):
        return "wait"
    return "refund" if pickup.extended else "extend"


# -- the pick-up code ---------------------------------------------------------------------------------------------

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford base32: no I, L, O, U (nothing a teller misreads)."""
CODE_CHARS = 10


def pickup_code(order_token: str, order_id: str) -> str:
    """The order's pick-up code, `XXXXX-XXXXX`, derived from its customer token (only the holder can show it)."""
    mac = hmac.new(order_token.encode(), f"pickup-code:{order_id}".encode(), hashlib.sha256).digest()
    n = int.from_bytes(mac[:8], "big")
    chars = "".join(CODE_ALPHABET[(n >> (5 * i)) & 31] for i in range(CODE_CHARS))
    return f"{chars[:5]}-{chars[5:]}"


def normalise_code(raw: str) -> str:
    """What the teller typed, as the code's ten characters (spaces and dashes dropped, O->0, I/L->1)."""
    s = raw.strip().upper().replace("-", "").replace(" ", "")
    s = s.translate(str.maketrans("OIL", "011"))
    if len(s) != CODE_CHARS or any(c not in CODE_ALPHABET for c in s):
        raise InvalidInput(f"a pick-up code is {CODE_CHARS} characters (letters and digits)")
    return s


def code_digest(order_id: str, code: str) -> str:
    """What the bank keeps of a pick-up code: SHA-256 over the order id and the normalised code."""
    return hashlib.sha256(f"pickup:{order_id}:{normalise_code(code)}".encode()).hexdigest()


def same_name(on_order: str | None, on_document: str) -> bool:
    """The name on the identity document matches the order's (Unicode-normalised, case and spacing ignored)."""
    if not on_order:
        return False

    def norm(s: str) -> str:
        return " ".join(unicodedata.normalize("NFKC", s).casefold().split())

    return norm(on_order) == norm(on_document)


# -- advisory appointments ----------------------------------------------------------------------------------------


class AppointmentTopic(StrEnum):
    GOLD_INVESTMENT = "gold_investment"
    JEWELLERY = "jewellery"
    BUYBACK = "buyback"
    CAR_FINANCE = "car_finance"
    WEALTH = "wealth"


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"


@dataclass
class Appointment:
    id: str
    branch_id: str
    slot_at: datetime
    topic: AppointmentTopic
    name: str | None
    phone: str
    customer_key: str
    status: AppointmentStatus
    created_at: datetime
    note: str | None = None
