"""Campaigns, coupons and points: what a discount is worth and how discounts stack. Pure domain: no I/O.

A **campaign** is defined by a manager and goes live when a second person (another manager) approves it (four
eyes: it spends the bank's money). It gives coupons of one kind:
- `amount_off`: a fixed amount off (`amount_off_fen`);
- `percent_off`: a percentage of the order total, never more than `cap_fen` (a percent campaign always has a cap);
- either can be `ecny_only`: the coupon applies only when the order is paid with the e-CNY wallet (the order
  keeps the coupon; starting a payment with another method is refused, 422 `coupon_requires_ecny`).
It applies from `min_spend_fen` (the quote's total before discounts), to the products in `product_ids` and the
kinds in `kinds` (empty: all), between `starts_at` and `ends_at`, while its `remaining_fen` budget lasts, and
at most `per_customer_limit` coupons per verified customer.

**Budget.** A claim reserves the coupon's most (`max_value_fen`: the amount, or the percent campaign's cap) from
the campaign's `remaining_fen` with one conditional update (`remaining_fen >= value`): the budget never goes
below zero, whatever the concurrency. Redeeming a coupon for less than it holds gives the rest back to the
budget; a coupon never gives more than it holds (`Coupon.reserved_fen`).

**Stacking** (`price_discounts`): at most ONE coupon per order, then points. The coupon comes off the quote's
total first; points come off what is left, at most `points_max_share` (50%) of it; the order always leaves at
least `MIN_PAYABLE_FEN` (0.01 CNY) to pay. Every amount is whole fen: a percentage rounds half-up to the fen.

**Points** (rates in `CommerceSettings`, documented in docs/commerce.md, "Coupons and points"): paid orders earn
`floor(paid_fen / points_earn_fen_per_point)` points (default: 1 point per 10.00 CNY paid); redeeming
`points_per_cny` points (default 100) takes 1.00 CNY off (so 1 point = 0.01 CNY).

**Refunds** (`points_to_return`): a FULL refund returns the coupon (available again when its campaign is still
active and in its window, else it lapses) and all points redeemed, and takes back the points the order earned;
a PARTIAL refund returns the redeemed points pro rata (`floor(redeemed x refunded / paid)`, cumulative) and takes
back earned points pro rata the same way; the coupon stays used. An order cancelled or expired before payment
gives its coupon and points straight back. Taking back earned points never takes a balance below zero (what was
already spent is written off).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any, Protocol

from showroom.errors import InvalidInput, ShowroomError

MIN_PAYABLE_FEN = 1
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
"""A campaign code: 12 characters of a 32-letter alphabet (60 bits), unguessable; claims are rate-limited too."""


class CampaignKind(StrEnum):
    AMOUNT_OFF = "amount_off"
    PERCENT_OFF = "percent_off"


class CampaignState(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    ACTIVE = "active"
    REJECTED = "rejected"
    DISABLED = "disabled"


class CouponState(StrEnum):
    AVAILABLE = "available"
    REDEEMED = "redeemed"
    LAPSED = "lapsed"


class CampaignError(ShowroomError):
    code = "campaign_error"
    http_status = 409


class CampaignNotFound(ShowroomError):
    code = "campaign_not_found"
    http_status = 404


class CampaignExhausted(CampaignError):
    code = "campaign_exhausted"


class ClaimLimitReached(CampaignError):
    code = "claim_limit_reached"


class CampaignNotActive(CampaignError):
    code = "campaign_not_active"


class CouponNotApplicable(ShowroomError):
    code = "coupon_not_applicable"
    http_status = 422


class CouponRequiresEcny(ShowroomError):
    code = "coupon_requires_ecny"
    http_status = 422


class NotEnoughPoints(ShowroomError):
    code = "not_enough_points"
    http_status = 409


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(raw: str) -> str:
    return raw.strip().upper().replace("-", "").replace(" ", "")


@dataclass(frozen=True)
class PointsRules:
    earn_fen_per_point: int = 1000
    """Paid fen per point earned (1000: one point per 10.00 CNY)."""
    points_per_cny: int = 100
    """Points that take 1.00 CNY off."""
    max_share: Decimal = Decimal("0.5")
    """Points pay at most this share of the amount left after the coupon."""

    def __post_init__(self) -> None:
        if self.earn_fen_per_point <= 0 or self.points_per_cny <= 0 or not Decimal(0) <= self.max_share <= 1:
            raise InvalidInput("points rates must be positive and the share between 0 and 1")

    def earned(self, paid_fen: int) -> int:
        return max(paid_fen, 0) // self.earn_fen_per_point

    def value_fen(self, points: int) -> int:
        """What `points` take off, in whole fen (rounded down)."""
        return points * 100 // self.points_per_cny

    def points_for(self, value_fen: int) -> int:
        """The fewest points worth `value_fen` (rounded up)."""
        return -(-value_fen * self.points_per_cny // 100)


@dataclass
class Campaign:
    id: str
    name: str
    kind: CampaignKind
    code: str
    budget_fen: int
    remaining_fen: int
    per_customer_limit: int
    starts_at: datetime
    ends_at: datetime
    created_by: str
    created_at: datetime
    amount_off_fen: int = 0
    percent: Decimal = Decimal(0)
    cap_fen: int = 0
    ecny_only: bool = False
    public: bool = False
    """Listed on the kiosk and phone with a one-click claim; otherwise claimed with its code alone."""
    min_spend_fen: int = 0
    product_ids: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    state: CampaignState = CampaignState.PENDING_APPROVAL
    decided_by: str | None = None
    decided_at: datetime | None = None
    version: int = 0

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 100:
            raise InvalidInput("name is 1 to 100 characters")
        if self.budget_fen <= 0:
            raise InvalidInput("budget_cny must be positive")
        if self.per_customer_limit < 1:
            raise InvalidInput("per_customer_limit is at least 1")
        if self.ends_at <= self.starts_at:
            raise InvalidInput("ends_at must be after starts_at")
        if self.kind is CampaignKind.AMOUNT_OFF:
            if self.amount_off_fen <= 0:
                raise InvalidInput("amount_off_cny must be positive for an amount_off campaign")
        else:
            if not Decimal(0) < self.percent < Decimal(100):
                raise InvalidInput("percent must be between 0 and 100 for a percent_off campaign")
            if self.cap_fen <= 0:
                raise InvalidInput("cap_cny is required (positive) for a percent_off campaign")
        if self.max_value_fen > self.budget_fen:
            raise InvalidInput("one coupon may not be worth more than the whole budget")

    @property
    def max_value_fen(self) -> int:
        """The most one coupon can take off: what a claim reserves from the budget."""
        return self.amount_off_fen if self.kind is CampaignKind.AMOUNT_OFF else self.cap_fen

    def live(self, now: datetime) -> bool:
        return self.state is CampaignState.ACTIVE and self.starts_at <= now < self.ends_at

    def ensure_claimable(self, now: datetime) -> None:
        if not self.live(now):
            raise CampaignNotActive(f"campaign {self.id} is not running now")

    def applies_to(self, product_id: str, kind: str) -> bool:
        return (not self.product_ids or product_id in self.product_ids) and (not self.kinds or kind in self.kinds)

    def discount_fen(self, total_fen: int, held_fen: int) -> int:
        """The discount on an order of `total_fen` by a coupon holding `held_fen`: the amount, or the percentage
        rounded half-up to the fen and capped; never more than the coupon holds, never the whole order."""
        if self.kind is CampaignKind.AMOUNT_OFF:
            raw = self.amount_off_fen
        else:
            pct = (Decimal(total_fen) * self.percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
            raw = min(int(pct), self.cap_fen)
        return max(0, min(raw, held_fen, total_fen - MIN_PAYABLE_FEN))


@dataclass
class Coupon:
    id: str
    campaign_id: str
    customer_id: str
    slot: int
    """1..per_customer_limit: (campaign, customer, slot) is unique, so concurrent claims cannot pass the limit."""
    reserved_fen: int
    state: CouponState
    claimed_at: datetime
    order_id: str | None = None
    discount_fen: int = 0
    version: int = 0


class LineKind(StrEnum):
    COUPON = "coupon"
    POINTS = "points"


@dataclass(frozen=True)
class DiscountLine:
    kind: LineKind
    amount_fen: int
    label: str
    campaign_id: str | None = None
    coupon_id: str | None = None
    points: int = 0
    ecny_only: bool = False


@dataclass(frozen=True)
class Discounts:
    total_fen: int
    lines: tuple[DiscountLine, ...] = ()
    points_balance: int | None = None

    @property
    def discount_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines)

    @property
    def payable_fen(self) -> int:
        return self.total_fen - self.discount_fen

    @property
    def ecny_only(self) -> bool:
        return any(line.ecny_only for line in self.lines)


@dataclass(frozen=True)
class CouponChoice:
    campaign: Campaign
    coupon: Coupon


def price_discounts(total_fen: int, product_id: str, product_kind: str, now: datetime, rules: PointsRules, *,
                    coupon: CouponChoice | None = None, points: int = 0,
                    points_balance: int | None = None) -> Discounts:
    """The discount lines of an order of `total_fen`: one coupon at most, then points (see the module's rules).
    Refuses (422 `coupon_not_applicable`) a coupon that does not apply, and (409 `not_enough_points`) points
    beyond the balance; points beyond the share allowed are refused too (422 invalid_input), never silently cut."""
    if points < 0:
        raise InvalidInput("points cannot be negative")
    lines: list[DiscountLine] = []
    left = total_fen
    if coupon is not None:
        c, cp = coupon.campaign, coupon.coupon
        if cp.state is not CouponState.AVAILABLE:
            raise CouponNotApplicable("this coupon was used already")
        if not c.live(now):
            raise CouponNotApplicable("this coupon's campaign is not running now")
        if not c.applies_to(product_id, product_kind):
            raise CouponNotApplicable("this coupon does not apply to this product")
        if total_fen < c.min_spend_fen:
            raise CouponNotApplicable(f"this coupon needs a minimum spend of {Decimal(c.min_spend_fen) / 100:.2f} CNY")
        off = c.discount_fen(total_fen, cp.reserved_fen)
        if off <= 0:
            raise CouponNotApplicable("this coupon takes nothing off this order")
        lines.append(DiscountLine(LineKind.COUPON, off, c.name, c.id, cp.id, ecny_only=c.ecny_only))
        left -= off
    if points:
        if points_balance is not None and points > points_balance:
            raise NotEnoughPoints(f"only {points_balance} points are available")
        most_fen = min(int((Decimal(left) * rules.max_share).to_integral_value(rounding="ROUND_FLOOR")),
                       left - MIN_PAYABLE_FEN)
        value = rules.value_fen(points)
        if value > most_fen:
            raise InvalidInput(f"points may pay at most {Decimal(max(most_fen, 0)) / 100:.2f} CNY of this order "
                               f"({rules.points_for(max(most_fen, 0))} points)")
        if value <= 0:
            raise InvalidInput(f"redeem at least {rules.points_for(1)} points")
        used = rules.points_for(value)
        lines.append(DiscountLine(LineKind.POINTS, value, f"{used} points", points=used))
    return Discounts(total_fen, tuple(lines), points_balance)


def pro_rata(total: int, refunded_fen: int, paid_fen: int) -> int:
    """floor(total x refunded / paid), the cumulative share of `total` a refund of `refunded_fen` returns."""
    if paid_fen <= 0:
        return 0
    return total * min(refunded_fen, paid_fen) // paid_fen


def line_dict(line: DiscountLine) -> dict[str, Any]:
    return {"kind": line.kind.value, "amount_cny": f"{Decimal(line.amount_fen) / 100:.2f}", "label": line.label,
            "campaign_id": line.campaign_id, "coupon_id": line.coupon_id, "points": line.points,
            "ecny_only": line.ecny_only}


@dataclass(frozen=True)
class OrderCampaignState:
    """What an order holds from campaigns (its discount lines) and what was given back so far."""

    lines: tuple[DiscountLine, ...] = ()
    points_earned: int = 0
    points_returned: int = 0
    """Redeemed points given back (refunds, cancellation)."""
    earned_reversed: int = 0
    coupon_returned: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def points_redeemed(self) -> int:
        return sum(line.points for line in self.lines if line.kind is LineKind.POINTS)

    @property
    def coupon_line(self) -> DiscountLine | None:
        return next((line for line in self.lines if line.kind is LineKind.COUPON), None)


class CampaignStore(Protocol):
    """Where campaigns, coupons, points and orders' discount lines live (one transaction's view):
    `showroom.adapters.campaign_sql.CampaignSql`, reached as `uow.campaigns`."""

    async def add_campaign(self, c: Campaign) -> None: ...
    async def get_campaign(self, campaign_id: str, *, for_update: bool = False) -> Campaign: ...
    async def campaign_by_code(self, code: str) -> Campaign | None: ...
    async def campaigns(self, *, state: CampaignState | None = None, public_only: bool = False,
                        limit: int = 200) -> list[Campaign]: ...
    async def save_campaign_state(self, c: Campaign) -> None: ...
    async def take_budget(self, campaign_id: str, fen: int) -> bool: ...
    async def give_budget(self, campaign_id: str, fen: int) -> None: ...
    async def coupon_count(self, campaign_id: str, customer_id: str) -> int: ...
    async def add_coupon(self, c: Coupon) -> None: ...
    async def get_coupon(self, coupon_id: str) -> Coupon | None: ...
    async def coupons_of(self, customer_id: str, campaign_id: str | None = None) -> list[Coupon]: ...
    async def save_coupon(self, c: Coupon) -> None: ...
    async def redeemed_fen(self, campaign_id: str) -> int: ...
    async def points_balance(self, customer_id: str) -> int: ...
    async def grant_points(self, customer_id: str, points: int, reason: str, ref: str, at: datetime) -> bool: ...
    async def take_points(self, customer_id: str, points: int, reason: str, ref: str, at: datetime, *,
                          down_to_zero: bool = False) -> int: ...
    async def order_state(self, order_id: str) -> tuple[str, OrderCampaignState] | None: ...
    async def put_order_state(self, order_id: str, customer_id: str, s: OrderCampaignState) -> None: ...
