"""Compliance rules a bank must apply before taking money. Pure domain; every figure is configurable.

The facts these rules are applied to come from the bank, never from the customer's request: the verification
level from the customer-information service (`showroom.customers`, `CustomerDirectory` port), the e-CNY wallet's
tier and limits from the payment backend when the payment is created.

Defaults and where they come from (docs/commerce.md has the table):
- customer verification (KYC) levels cap one order: L0 unverified (a number the bank does not know) 20,000 CNY,
  L1 phone-verified app user 50,000 CNY, L2 real-name (ID card + bank card) 200,000 CNY, L3 verified face to face
  in a branch 5,000,000 CNY; the customer-information service may set a lower personal limit;
- digital RMB (e-CNY) wallet tiers, as published for the pilot's wallets: tier 1 (opened in a branch) no limit;
  tier 2 (real-name, remote) single 50,000 / daily 100,000 / balance 500,000; tier 3 (bank card linked) single
  5,000 / daily 10,000 / balance 20,000; tier 4 (phone number only, anonymous) single 2,000 / daily 5,000 /
  balance 10,000 CNY (the figures the pilot's wallet app published; the payment sandbox uses the same ones).
  A wallet cannot pay more than its balance cap at once;
- anti-money-laundering: a transaction of 50,000 CNY or more (PBOC large-value report threshold for cash and
  cash-equivalent payments, 2016 Order No. 3), or a customer's orders summing to that in one day, is flagged
  for review (the order proceeds; the flag and the reason are in the audit record);
- auto loans: minimum down payment 15 % for new-energy cars, 20 % for others (maximum loan ratios 85 % / 80 %,
  PBOC/NFRA 2024); maximum term 60 months;
- velocity: at most 5 orders per customer per hour and 20 per day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from showroom.errors import ShowroomError


class ComplianceRefused(ShowroomError):
    code = "compliance_refused"
    http_status = 422


class LimitExceeded(ComplianceRefused):
    code = "limit_exceeded"


class VelocityExceeded(ComplianceRefused):
    code = "velocity_exceeded"
    http_status = 429


class KycLevel(StrEnum):
    L0 = "L0"
    """Unverified: the bank does not know this number."""
    L1 = "L1"
    L2 = "L2"
    L3 = "L3"


@dataclass(frozen=True)
class WalletTier:
    tier: int
    single_cny: Decimal | None
    daily_cny: Decimal | None
    balance_cny: Decimal | None


def _d(x: str) -> Decimal:
    return Decimal(x)


DEFAULT_WALLET_TIERS: dict[int, WalletTier] = {
    1: WalletTier(1, None, None, None),
    2: WalletTier(2, _d("50000"), _d("100000"), _d("500000")),
    3: WalletTier(3, _d("5000"), _d("10000"), _d("20000")),
    4: WalletTier(4, _d("2000"), _d("5000"), _d("10000")),
}


@dataclass(frozen=True)
class ComplianceRules:
    kyc_single_order_cny: dict[KycLevel, Decimal] = field(default_factory=lambda: {
        KycLevel.L0: _d("20000"), KycLevel.L1: _d("50000"), KycLevel.L2: _d("200000"), KycLevel.L3: _d("5000000")})
    wallet_tiers: dict[int, WalletTier] = field(default_factory=lambda: dict(DEFAULT_WALLET_TIERS))
    aml_threshold_cny: Decimal = Decimal("50000")
    auto_loan_min_down_nev: Decimal = Decimal("0.15")
    auto_loan_min_down_other: Decimal = Decimal("0.20")
    auto_loan_max_term_months: int = 60
    max_orders_per_hour: int = 5
    max_orders_per_day: int = 20


@dataclass(frozen=True)
class CustomerActivity:
    """What the customer did recently (counted by the service from stored orders and payments)."""

    orders_last_hour: int = 0
    orders_today: int = 0
    ordered_today_cny: Decimal = Decimal("0")
    wallet_paid_today_cny: Decimal = Decimal("0")


@dataclass(frozen=True)
class OrderCheck:
    aml_review: bool
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"aml_review": self.aml_review, "reasons": list(self.reasons)}


def check_order(rules: ComplianceRules, kyc: KycLevel, amount_cny: Decimal, activity: CustomerActivity,
                personal_limit_cny: Decimal | None = None) -> OrderCheck:
    """Refuses an order over the customer's limits (the level's cap, or the lower personal limit the bank set);
    flags it for AML review when it is large."""
    cap = rules.kyc_single_order_cny[kyc]
    if personal_limit_cny is not None and personal_limit_cny < cap:
        cap = personal_limit_cny
    if amount_cny > cap:
        # no figure and no level in the message: whoever types a number must not learn its holder's limits
        raise LimitExceeded("this order is over the purchase limit of the account with this mobile number; "
                            "verify your identity further at the bank to buy more")
    if activity.orders_last_hour >= rules.max_orders_per_hour:
        raise VelocityExceeded(f"at most {rules.max_orders_per_hour} orders per hour; try again later")
    if activity.orders_today >= rules.max_orders_per_day:
        raise VelocityExceeded(f"at most {rules.max_orders_per_day} orders per day; try again tomorrow")
    reasons: list[str] = []
    if amount_cny >= rules.aml_threshold_cny:
        reasons.append(f"single transaction {amount_cny} CNY >= {rules.aml_threshold_cny} CNY")
    elif activity.ordered_today_cny + amount_cny >= rules.aml_threshold_cny:
        reasons.append(f"orders today {activity.ordered_today_cny + amount_cny} CNY >= {rules.aml_threshold_cny} CNY")
    return OrderCheck(bool(reasons), tuple(reasons))


def wallet_limits(rules: ComplianceRules, tier: int) -> WalletTier:
    """The published limits of a tier (for a backend that names the tier but sends no limits)."""
    try:
        return rules.wallet_tiers[tier]
    except KeyError:
        raise ComplianceRefused(f"unknown e-CNY wallet tier {tier}; tiers are 1-4") from None


def check_wallet_payment(limits: WalletTier, amount_cny: Decimal, activity: CustomerActivity) -> None:
    """Refuses an e-CNY wallet payment over the single, daily or balance limit of the wallet (as the payment
    backend reported its tier and limits)."""
    tier = limits.tier
    if limits.single_cny is not None and amount_cny > limits.single_cny:
        raise LimitExceeded(f"a tier-{tier} e-CNY wallet pays at most {limits.single_cny} CNY at once")
    if limits.balance_cny is not None and amount_cny > limits.balance_cny:
        raise LimitExceeded(f"a tier-{tier} e-CNY wallet holds at most {limits.balance_cny} CNY")
    if limits.daily_cny is not None and activity.wallet_paid_today_cny + amount_cny > limits.daily_cny:
        raise LimitExceeded(f"a tier-{tier} e-CNY wallet pays at most {limits.daily_cny} CNY a day")


def check_auto_loan(rules: ComplianceRules, *, new_energy: bool, down_payment_ratio: Decimal, term_months: int) -> None:
    minimum = rules.auto_loan_min_down_nev if new_energy else rules.auto_loan_min_down_other
    if down_payment_ratio < minimum:
        kind = "a new-energy car" if new_energy else "this car"
        raise ComplianceRefused(f"the down payment for {kind} must be at least {minimum * 100:.0f} %")
    if term_months > rules.auto_loan_max_term_months:
        raise ComplianceRefused(f"an auto loan runs at most {rules.auto_loan_max_term_months} months")


def audit_record(*, quote: dict[str, Any], snapshot: dict[str, Any], view: dict[str, Any] | None,
                 check: OrderCheck, customer_kyc: KycLevel, customer_id: str | None = None,
                 facts_source: str | None = None) -> dict[str, Any]:
    """What the bank keeps per order: the quote, the price-feed snapshot and the product view seen, the
    compliance check, and which verified customer (and from which customer-information source) it applied to."""
    return {"quote": quote, "price_snapshot": snapshot, "product_view": view or {}, "compliance": check.as_dict(),
            "kyc_level": customer_kyc.value, "customer_id": customer_id, "facts_source": facts_source}
