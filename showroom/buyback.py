"""Buy-back of the bank's own investment bars and coins at the live bid price. Pure domain: no I/O.

```
quoted --book--> booked --inspection--> accepted --payout created--> payout_pending --> paid_out
   |               |          |            ^ approved                       |
   |               |          +--> awaiting_approval (above the limit)      +--> payout_failed --retry--> payout_pending
   |               |          |            +--rejected--> rejected
   |               |          +--> rejected (no piece acceptable)
   +--> cancelled (customer) / expired (the lock ran out)
```

- **The lock.** A quote locks the bid price of the pure metal per gram (`PriceSnapshot.bid_price_cny_per_g`) for
  `QUOTE_TTL` to book; a booking keeps the lock until its slot's end plus `LATE_GRACE`, and the slot must start
  within `MAX_LOCK` of booking (the bank carries the price risk that long, no longer). Past the lock the buy-back
  is expired: the customer asks for a new quote.
- **The amount** of a piece = round_half_up(locked bid x fineness x priced weight) - deduction, where the priced
  weight is the nominal weight when the scale shows it within `weight_tolerance_g`, the measured weight when it is
  short by more (up to `MAX_SHORT_RATIO`), and the piece is rejected when it is shorter still, or heavier than
  nominal by more than the tolerance plus `MAX_SHORT_RATIO` (not the bank's piece as sold).
- **Condition**: `intact` full price; `worn` (scratches, no original packaging) a documented deduction of
  `WORN_DEDUCTION_CNY_PER_G` per gram of fine metal (re-certification); `damaged` (bent, cut, drilled) and
  `not_genuine` (fails the teller's test) are rejected: the bank does not buy them over the counter.
- **The serial** must be well formed (its check symbol) and carry the variant's prefix when the variant has one;
  found among the bank's certificates it links the piece to the original sale. A serial whose current certificate
  was revoked for a refund (the piece went back to the bank) or that was already bought back is rejected.
- **Four eyes.** A payout above the limit (`SHOWROOM_BUYBACK_FOUR_EYES_CNY`) waits in `awaiting_approval` until a
  second staff member holding APPROVE_PAYOUT, never the one who inspected, approves it (it becomes the payout's
  intent, `accepted`) or rejects it (`rejected`: the bank does not buy, the pieces go back). Nothing reaches the
  payment backend before the approval.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from showroom.branches import CODE_ALPHABET, CODE_CHARS, normalise_code
from showroom.catalog import Metal, Product, ProductKind, Variant
from showroom.errors import InvalidInput, ShowroomError
from showroom.pricing import FEN, PriceSnapshot, to_fen
from showroom.staff import ApprovalState, FourEyesViolation, Permission, StaffMember, require

QUOTE_TTL = timedelta(minutes=10)
"""A buy-back quote must be booked within this long."""
MAX_LOCK = timedelta(hours=72)
"""The booked slot must start within this long of booking (the longest the bank holds a locked bid)."""
LATE_GRACE = timedelta(minutes=30)
"""A booked buy-back's lock holds until its slot's end plus this."""
MAX_PIECES = 10
WEIGHT_TOLERANCE_RATIO = Decimal("0.0002")
MIN_WEIGHT_TOLERANCE_G = Decimal("0.01")
MAX_SHORT_RATIO = Decimal("0.01")
"""Short by more than 1 % of nominal (beyond the tolerance): rejected, not re-priced."""
WORN_DEDUCTION_CNY_PER_G = Decimal("2.00")
MAX_OPEN_PER_CUSTOMER = 3
LARGE_PAYOUT_FEN = 5_000_000
"""Payouts from 50,000 CNY are flagged for the large-value report (PBOC 2016 Order No. 3), never refused."""
BUYBACK_KINDS = frozenset({ProductKind.GOLD_BAR, ProductKind.COIN})


class BuybackError(ShowroomError):
    code = "buyback_not_allowed"
    http_status = 409


class NotBoughtBack(BuybackError):
    """Not one of the bank's investment bars or coins (jewellery and cars are not bought back here)."""

    code = "not_bought_back"
    http_status = 422


class BuybackExpired(BuybackError):
    code = "quote_expired"


class BuybackCodeWrong(ShowroomError):
    code = "buyback_code_wrong"
    http_status = 404


class NeedsAccount(ShowroomError):
    """The payout goes to the customer's account of record at the bank; an unknown number has none."""

    code = "buyback_needs_account"
    http_status = 403


class ApprovalDecided(BuybackError):
    code = "buyback_approval_decided"


class BuybackStatus(StrEnum):
    QUOTED = "quoted"
    BOOKED = "booked"
    ACCEPTED = "accepted"
    """Inspected and accepted; the payout is written as an intent (not yet at the backend)."""
    REJECTED = "rejected"
    AWAITING_APPROVAL = "awaiting_approval"
    """Inspected and accepted above the four-eyes limit: a second person approves before any payout."""
    PAYOUT_PENDING = "payout_pending"
    PAID_OUT = "paid_out"
    PAYOUT_FAILED = "payout_failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


OPEN = frozenset({BuybackStatus.QUOTED, BuybackStatus.BOOKED})
PAYING = frozenset({BuybackStatus.ACCEPTED, BuybackStatus.PAYOUT_PENDING})


class Condition(StrEnum):
    INTACT = "intact"
    WORN = "worn"
    DAMAGED = "damaged"
    NOT_GENUINE = "not_genuine"


def payout_needs_approval(amount_fen: int, limit_cny: Decimal) -> bool:
    """A payout above the four-eyes limit waits for a second person (whoever inspected it, teller or manager)."""
    return Decimal(amount_fen) / 100 > limit_cny


def eligible(product: Product) -> bool:
    """The bank buys back its own investment bars and coins (the catalog's `gold_bar` and `coin` kinds, with a
    purity and a weight)."""
    return product.kind in BUYBACK_KINDS


def _fine_unit(variant: Variant) -> tuple[Metal, Decimal, Decimal]:
    if variant.purity is None or variant.weight_g is None or variant.weight_g <= 0:
        raise NotBoughtBack(f"variant {variant.id!r} has no purity and weight to price")
    return variant.purity.metal, variant.purity.fineness, variant.weight_g


def piece_value_fen(bid_cny_per_g: Decimal, fineness: Decimal, weight_g: Decimal) -> int:
    """round_half_up(bid x fineness x weight) in fen."""
    return to_fen(bid_cny_per_g * fineness * weight_g)


@dataclass
class Piece:
    """One piece as the teller inspected it, and what the bank pays for it."""

    serial: str | None
    weight_g: Decimal
    condition: Condition
    accepted: bool = False
    priced_weight_g: Decimal | None = None
    deduction_fen: int = 0
    amount_fen: int = 0
    reason: str | None = None
    """Why it was rejected or re-priced (`weight_short_repriced`, `weight_short`, `damaged`, ...)."""
    certificate_id: str | None = None
    original_order_id: str | None = None
    certificate_note: str | None = None
    """`ours`, `transferred`, `not_found`: how the serial links to the original sale."""

    def document(self) -> dict[str, Any]:
        return {"serial": self.serial, "weight_g": str(self.weight_g), "condition": self.condition.value,
                "accepted": self.accepted,
                "priced_weight_g": None if self.priced_weight_g is None else str(self.priced_weight_g),
                "deduction_fen": self.deduction_fen, "amount_fen": self.amount_fen, "reason": self.reason,
                "certificate_id": self.certificate_id, "original_order_id": self.original_order_id,
                "certificate_note": self.certificate_note}

    @staticmethod
    def from_document(d: dict[str, Any]) -> Piece:
        return Piece(d["serial"], Decimal(d["weight_g"]), Condition(d["condition"]), bool(d["accepted"]),
                     None if d.get("priced_weight_g") is None else Decimal(d["priced_weight_g"]),
                     int(d.get("deduction_fen", 0)), int(d.get("amount_fen", 0)), d.get("reason"),
                     d.get("certificate_id"), d.get("original_order_id"), d.get("certificate_note"))


@dataclass(frozen=True)
class SerialLink:
    """What the bank's records say about a serial (the service looks it up; the rules here decide)."""

    certificate_id: str | None = None
    order_id: str | None = None
    note: str = "not_found"
    """`ours` (its certificate is valid), `transferred` (valid, held by a later owner), `refunded` (revoked when
    the sale was refunded: the piece went back to the bank), `bought_back` (the bank bought it back already),
    `not_found`."""


@dataclass
class Buyback:
    id: str
    status: BuybackStatus
    product_id: str
    variant_id: str
    quantity: int
    metal: Metal
    fineness: Decimal
    nominal_weight_g: Decimal
    bid_cny_per_g: Decimal
    """The locked buy-back price of the pure metal per gram."""
    quoted_fen: int
    """What all pieces fetch at nominal weight and intact."""
    snapshot: dict[str, Any]
    created_at: datetime
    quote_expires_at: datetime
    updated_at: datetime
    customer_name: str | None = None
    phone: str | None = None
    customer_id: str | None = None
    branch_id: str | None = None
    slot_at: datetime | None = None
    lock_until: datetime | None = None
    code_sha256: str | None = None
    pieces: list[Piece] = field(default_factory=list)
    inspected_at: datetime | None = None
    inspected_by: str | None = None
    id_kind: str | None = None
    amount_fen: int = 0
    rejection_reason: str | None = None
    payout_attempt: int = 0
    payout_id: str | None = None
    payout_failure: str | None = None
    account_masked: str | None = None
    paid_at: datetime | None = None
    approval: ApprovalState | None = None
    """Four eyes: None below the limit; `pending_approval`, then `approved` or `rejected`."""
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    version: int = 0

    @property
    def unit_quoted_fen(self) -> int:
        return piece_value_fen(self.bid_cny_per_g, self.fineness, self.nominal_weight_g)

    @property
    def payout_key(self) -> str:
        """The backend idempotency key of the current payout attempt (a retry after a failure is a new one)."""
        return f"buyback:{self.id}:{self.payout_attempt}"

    def lock_ends(self) -> datetime:
        return self.lock_until if self.lock_until is not None else self.quote_expires_at

    def expire_if_due(self, now: datetime) -> bool:
        """Marks a quoted or booked buy-back whose lock ran out as expired; True when it changed."""
        if self.status in OPEN and now >= self.lock_ends():
            self.status, self.updated_at = BuybackStatus.EXPIRED, now
            return True
        return False

    def ensure(self, *allowed: BuybackStatus) -> None:
        if self.status not in allowed:
            raise BuybackError(f"buy-back {self.id} is {self.status.value}")

    def book(self, branch_id: str, slot_at: datetime, slot_end: datetime, name: str, phone: str, customer_id: str,
             code_sha256: str, now: datetime) -> None:
        self.ensure(BuybackStatus.QUOTED)
        if now >= self.quote_expires_at:
            raise BuybackExpired(f"the buy-back quote {self.id} expired; ask for a new quote")
        if slot_at > now + MAX_LOCK:
            raise BuybackError(f"a buy-back's price is held at most {int(MAX_LOCK.total_seconds() // 3600)} hours: "
                               "choose an earlier slot")
        self.branch_id, self.slot_at, self.lock_until = branch_id, slot_at, slot_end + LATE_GRACE
        self.customer_name, self.phone, self.customer_id = name, phone, customer_id
        self.code_sha256, self.status, self.updated_at = code_sha256, BuybackStatus.BOOKED, now

    def cancel(self, now: datetime) -> None:
        self.ensure(BuybackStatus.QUOTED, BuybackStatus.BOOKED)
        self.status, self.updated_at = BuybackStatus.CANCELLED, now

    def record_inspection(self, pieces: list[Piece], by: str, id_kind: str, now: datetime,
                          four_eyes_limit_cny: Decimal | None = None) -> None:
        """Records the assessed pieces: accepted (the payout's intent), awaiting a second person's approval when
        the amount is above `four_eyes_limit_cny`, or rejected when no piece is acceptable."""
        self.ensure(BuybackStatus.BOOKED)
        self.pieces, self.inspected_at, self.inspected_by, self.id_kind = pieces, now, by, id_kind
        self.amount_fen = sum(p.amount_fen for p in pieces if p.accepted)
        if self.amount_fen > 0 and four_eyes_limit_cny is not None and payout_needs_approval(self.amount_fen,
                                                                                              four_eyes_limit_cny):
            self.status, self.approval = BuybackStatus.AWAITING_APPROVAL, ApprovalState.PENDING
        elif self.amount_fen > 0:
            self.status = BuybackStatus.ACCEPTED
        else:
            self.status = BuybackStatus.REJECTED
            self.rejection_reason = ", ".join(sorted({p.reason or "rejected" for p in pieces}))
        self.updated_at = now

    def approve_payout(self, approver: StaffMember, now: datetime) -> None:
        """A second person approves: the payout becomes the intent (`accepted`). The one who inspected may not
        (checked first, so they are told why), and the approver holds APPROVE_PAYOUT."""
        if approver.name == self.inspected_by:
            raise FourEyesViolation("a large buy-back payout is approved by someone other than the person who "
                                    "inspected it")
        require(approver, Permission.APPROVE_PAYOUT)
        self._ensure_pending()
        self.status, self.approval = BuybackStatus.ACCEPTED, ApprovalState.APPROVED
        self.decided_by, self.decided_at, self.updated_at = approver.name, now, now

    def reject_payout(self, approver: StaffMember, reason: str, now: datetime) -> None:
        """The bank does not buy after all: no money moves and the pieces go back to the customer."""
        require(approver, Permission.APPROVE_PAYOUT)
        self._ensure_pending()
        self.status, self.approval = BuybackStatus.REJECTED, ApprovalState.REJECTED
        self.rejection_reason = "approval_rejected"
        self.decided_by, self.decided_at, self.decision_reason, self.updated_at = approver.name, now, reason, now

    def _ensure_pending(self) -> None:
        if self.status is not BuybackStatus.AWAITING_APPROVAL or self.approval is not ApprovalState.PENDING:
            raise ApprovalDecided(f"buy-back {self.id} is {self.status.value}: not waiting for approval")

    def payout_created(self, payout_id: str, account_masked: str | None, now: datetime) -> None:
        if self.status is BuybackStatus.ACCEPTED:
            self.status = BuybackStatus.PAYOUT_PENDING
        self.payout_id, self.account_masked, self.updated_at = payout_id, account_masked, now

    def paid_out(self, now: datetime) -> bool:
        """The backend paid; False when it was known already (a duplicate or late notice changes nothing)."""
        if self.status is BuybackStatus.PAID_OUT:
            return False
        self.ensure(*PAYING, BuybackStatus.PAYOUT_FAILED)
        self.status, self.paid_at, self.payout_failure, self.updated_at = BuybackStatus.PAID_OUT, now, None, now
        return True

    def payout_failed(self, failure: str, now: datetime) -> bool:
        if self.status not in PAYING:
            return False
        self.status, self.payout_failure, self.updated_at = BuybackStatus.PAYOUT_FAILED, failure, now
        return True

    def retry_payout(self, now: datetime) -> None:
        self.ensure(BuybackStatus.PAYOUT_FAILED)
        self.payout_attempt += 1
        self.status, self.payout_id, self.updated_at = BuybackStatus.ACCEPTED, None, now


def make_buyback(buyback_id: str, product: Product, variant: Variant, quantity: int, snapshot: PriceSnapshot,
                 now: datetime, snapshot_doc: dict[str, Any]) -> Buyback:
    """A quote: the bid of the pure metal locked for `QUOTE_TTL`."""
    if not eligible(product):
        raise NotBoughtBack(f"{product.id!r} is not one of the bank's investment bars or coins; the bank buys back "
                            "only those here")
    if not 1 <= quantity <= MAX_PIECES:
        raise InvalidInput(f"quantity must be between 1 and {MAX_PIECES}")
    metal, fineness, weight = _fine_unit(variant)
    bid = snapshot.bid_price_cny_per_g(metal)
    unit = piece_value_fen(bid, fineness, weight)
    return Buyback(id=buyback_id, status=BuybackStatus.QUOTED, product_id=product.id, variant_id=variant.id,
                   quantity=quantity, metal=metal, fineness=fineness, nominal_weight_g=weight, bid_cny_per_g=bid,
                   quoted_fen=unit * quantity, snapshot=snapshot_doc, created_at=now,
                   quote_expires_at=now + QUOTE_TTL, updated_at=now)


def weight_tolerance_g(nominal_g: Decimal) -> Decimal:
    return max(MIN_WEIGHT_TOLERANCE_G, (nominal_g * WEIGHT_TOLERANCE_RATIO).quantize(Decimal("0.001")))


def serial_prefix_ok(serial: str, prefix: str | None) -> bool:
    return prefix is None or serial.split("-", 1)[0] == prefix


def assess(b: Buyback, serial: str | None, weight_g: Decimal, condition: Condition, link: SerialLink,
           serial_problem: str | None) -> Piece:
    """The rules for one presented piece (module docstring): accepted with its amount, or rejected with why.
    `serial_problem`: what the service found wrong with the serial before any look-up (malformed, wrong prefix,
    missing, repeated in this inspection)."""
    piece = Piece(serial, weight_g, condition, certificate_id=link.certificate_id, original_order_id=link.order_id,
                  certificate_note=link.note)
    nominal = b.nominal_weight_g
    tolerance = weight_tolerance_g(nominal)
    short = nominal - weight_g
    if weight_g <= 0:
        raise InvalidInput("weight_g must be positive")
    reason: str | None = None
    if serial_problem is not None:
        reason = serial_problem
    elif link.note in ("refunded", "bought_back"):
        reason = f"serial_{link.note}"
    elif condition in (Condition.DAMAGED, Condition.NOT_GENUINE):
        reason = condition.value
    elif short > tolerance + nominal * MAX_SHORT_RATIO:
        reason = "weight_short"
    elif -short > tolerance + nominal * MAX_SHORT_RATIO:
        reason = "weight_over"
    if reason is not None:
        piece.reason = reason
        return piece
    priced = nominal if short <= tolerance else weight_g
    if priced != nominal:
        piece.reason = "weight_short_repriced"
    gross = piece_value_fen(b.bid_cny_per_g, b.fineness, priced)
    deduction = 0
    if condition is Condition.WORN:
        deduction = to_fen(WORN_DEDUCTION_CNY_PER_G * b.fineness * priced)
    piece.accepted, piece.priced_weight_g = True, priced.quantize(Decimal("0.001"))
    piece.deduction_fen, piece.amount_fen = deduction, max(gross - deduction, 0)
    return piece


# -- the booking code -----------------------------------------------------------------------------------------


def booking_code(token: str, buyback_id: str) -> str:
    """The booking code the teller types, `XXXXX-XXXXX`, derived from the customer's token (like a pick-up code)."""
    mac = hmac.new(token.encode(), f"buyback-code:{buyback_id}".encode(), hashlib.sha256).digest()
    n = int.from_bytes(mac[:8], "big")
    chars = "".join(CODE_ALPHABET[(n >> (5 * i)) & 31] for i in range(CODE_CHARS))
    return f"{chars[:5]}-{chars[5:]}"


def code_digest(buyback_id: str, code: str) -> str:
    return hashlib.sha256(f"buyback:{buyback_id}:{normalise_code(code)}".encode()).hexdigest()


def cny(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(FEN, rounding=ROUND_HALF_UP)
