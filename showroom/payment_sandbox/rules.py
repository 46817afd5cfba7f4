"""Pure rules of the sandbox: test cards, test amounts, e-CNY wallet limits, fees and settlement days.

No I/O. The outcome names are those of the test-control endpoint; `OUTCOME_FAILURE_CODE` maps each failing
outcome to the `failure_code` a payment ends with.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from showroom.payment_sandbox.settings import WalletLimits

Outcome = Literal["approved", "declined", "insufficient_funds", "limit_exceeded", "timeout"]
OUTCOMES: tuple[Outcome, ...] = ("approved", "declined", "insufficient_funds", "limit_exceeded", "timeout")

OUTCOME_FAILURE_CODE: Mapping[str, str] = {
    "declined": "declined",
    "insufficient_funds": "insufficient_funds",
    "limit_exceeded": "limit_exceeded",
    "timeout": "timeout",
}

# Fen part of the amount -> outcome when the customer approves (only with `amount_rules` on).
TEST_AMOUNT_FEN_OUTCOMES: Mapping[int, Outcome] = {
    51: "declined",
    52: "insufficient_funds",
    53: "limit_exceeded",
    54: "timeout",
}


@dataclass(frozen=True)
class SandboxCard:
    number: str
    brand: str
    outcome: Outcome
    note: str


TEST_CARDS: tuple[SandboxCard, ...] = (
    SandboxCard("4242424242424242", "visa", "approved", "approves"),
    SandboxCard("5555555555554444", "mastercard", "approved", "approves"),
    SandboxCard("6200000000000005", "unionpay", "approved", "approves (UnionPay debit)"),
    SandboxCard("4000000000000002", "visa", "declined", "declined by the issuer"),
    SandboxCard("4000000000009995", "visa", "insufficient_funds", "insufficient funds"),
    SandboxCard("4000000000009987", "visa", "limit_exceeded", "over the card's limit"),
    SandboxCard("4000000000000119", "visa", "timeout", "the issuer does not answer in time"),
)
_CARDS_BY_NUMBER = {c.number: c for c in TEST_CARDS}


def luhn_valid(number: str) -> bool:
    """True when `number` (digits only) passes the Luhn check every card number carries."""
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def normalise_card_number(raw: str) -> str:
    return "".join(ch for ch in raw if not ch.isspace() and ch != "-")


def card_for_number(number: str) -> SandboxCard | None:
    """The test card with this number, or None (the sandbox refuses every other card)."""
    return _CARDS_BY_NUMBER.get(number)


def amount_outcome(amount_fen: int) -> Outcome:
    """The outcome a customer's approval gets for this amount under the test-amount rule."""
    return TEST_AMOUNT_FEN_OUTCOMES.get(amount_fen % 100, "approved")


def wallet_outcome(amount_fen: int, limits: WalletLimits, spent_today_fen: int) -> Outcome:
    """`limit_exceeded` when the payment breaks the tier's single, daily or balance limit, else `approved`."""
    for cap in (limits.single_fen, limits.balance_fen):
        if cap is not None and amount_fen > cap:
            return "limit_exceeded"
    if limits.daily_fen is not None and spent_today_fen + amount_fen > limits.daily_fen:
        return "limit_exceeded"
    return "approved"


def wallet_for(phone: str, wallets: Mapping[str, tuple[str, int]], anonymous_tier: int) -> tuple[str, int]:
    """(wallet id, tier) of the e-CNY wallet registered to `phone`: a seeded one, or the number's anonymous
    wallet of `anonymous_tier` (its id derived from the number)."""
    seeded = wallets.get(phone)
    if seeded is not None:
        return seeded
    return f"anon-{hashlib.sha256(phone.encode()).hexdigest()[:16]}", anonymous_tier


def wallet_reply(wallet_id: str, tier: int, limits: WalletLimits) -> dict[str, object]:
    """What the backend answers about the payer's wallet when a wallet payment is created."""
    return {"wallet_id": wallet_id, "tier": tier, "single_limit_fen": limits.single_fen,
            "daily_limit_fen": limits.daily_fen, "balance_limit_fen": limits.balance_fen}


def fee_fen(amount_fen: int, bps: int) -> int:
    """Merchant fee for `amount_fen` at `bps` basis points, rounded half up to the fen."""
    return (amount_fen * bps + 5_000) // 10_000


def refund_fee_fen(
    payment_fee_fen: int, payment_amount_fen: int, refunded_before_fen: int, refund_fen: int
) -> int:
    """Fee returned with a refund: the payment's fee in proportion to the amount refunded.

    Computed on cumulative totals so that several partial refunds return exactly the whole fee."""

    def returned(upto_fen: int) -> int:
        return (payment_fee_fen * upto_fen * 2 + payment_amount_fen) // (2 * payment_amount_fen)

    return returned(refunded_before_fen + refund_fen) - returned(refunded_before_fen)


def settlement_day(at_s: float, utc_offset_h: int) -> dt.date:
    """The settlement (calendar) day of unix time `at_s` in the settlement time zone."""
    tz = dt.timezone(dt.timedelta(hours=utc_offset_h))
    return dt.datetime.fromtimestamp(at_s, tz).date()


def day_bounds_s(day: dt.date, utc_offset_h: int) -> tuple[float, float]:
    """[start, end) of a settlement day in unix seconds."""
    tz = dt.timezone(dt.timedelta(hours=utc_offset_h))
    start = dt.datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()
    return start, start + 86_400.0


def iso_utc(at_s: float) -> str:
    """`2026-01-02T03:04:05Z` for unix seconds (whole seconds)."""
    return dt.datetime.fromtimestamp(int(at_s), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
