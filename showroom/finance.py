"""Car loan plans: repayment schedules exact to the fen and the APR disclosed with every plan. Pure domain.

Rounding (documented in docs/commerce.md):
- monthly rate r = annual_rate / 12 (exact `Decimal`);
- each month's interest = round_half_up(opening balance x r, fen);
- equal installment (等额本息): the payment A = P r (1+r)^n / ((1+r)^n - 1) rounded half-up to the fen; principal
  part = A - interest; the LAST payment repays the whole remaining balance plus its interest, so it absorbs every
  rounding difference and the principal parts sum to P exactly;
- equal principal (等额本金): principal part = P / n rounded DOWN to the fen, the last one takes the rest;
- zero rate: principal parts as equal principal, no interest.
APR: the nominal annual rate 12 x i, where i is the monthly internal rate of return of the customer's cash
flows (loan received minus upfront fees at month 0, each payment at month k, monthly fees included) - the
"annualised rate" (年化利率) that PBOC requires lenders to disclose, computed by IRR. Also given: the effective
annual rate (1+i)^12 - 1.

Rates and fees are the bank's, never the customer's: a staff-edited rate table (`LoanRate` rows keyed by a product
id or a product kind, a term and validity dates) says what applies on a day (`rate_for`); the plan and the order
keep the rate that applied and where it came from (`AppliedRate.source`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, localcontext
from enum import StrEnum
from typing import Any

from showroom.errors import InvalidInput, ShowroomError

FEN = Decimal("0.01")
MIN_TERM_MONTHS = 12
MAX_TERM_MONTHS = 60
MAX_ANNUAL_RATE = Decimal("0.24")
"""The highest annual rate the rate table accepts (the judicial-protection ceiling for loans, 24 %)."""
MAX_FEE_CNY = Decimal("100000")
EARLIEST_RATE_DAY = date(2000, 1, 1)
LATEST_RATE_DAY = date(2100, 12, 31)


class RepaymentMethod(StrEnum):
    EQUAL_INSTALLMENT = "equal_installment"
    EQUAL_PRINCIPAL = "equal_principal"


@dataclass(frozen=True)
class Installment:
    month: int
    payment_cny: Decimal
    principal_cny: Decimal
    interest_cny: Decimal
    fee_cny: Decimal
    balance_after_cny: Decimal


@dataclass(frozen=True)
class LoanPlan:
    price_cny: Decimal
    down_payment_cny: Decimal
    principal_cny: Decimal
    term_months: int
    annual_rate: Decimal
    method: RepaymentMethod
    upfront_fee_cny: Decimal
    monthly_fee_cny: Decimal
    schedule: tuple[Installment, ...]
    total_interest_cny: Decimal
    total_fees_cny: Decimal
    total_repaid_cny: Decimal
    apr: Decimal
    """Nominal annual rate by IRR incl. fees, as a fraction (0.0523 = 5.23 %), 6 decimal places."""
    effective_annual_rate: Decimal


def _q(x: Decimal) -> Decimal:
    return x.quantize(FEN, rounding=ROUND_HALF_UP)


def schedule(principal_cny: Decimal, annual_rate: Decimal, term_months: int, method: RepaymentMethod,
             monthly_fee_cny: Decimal = Decimal("0")) -> tuple[Installment, ...]:
    """The repayment schedule; principal parts sum exactly to `principal_cny` (rounded to the fen)."""
    if term_months < 1:
        raise InvalidInput("term_months must be at least 1")
    if annual_rate < 0 or annual_rate >= 1:
        raise InvalidInput("annual_rate must be a fraction in [0, 1)")
    principal = _q(principal_cny)
    if principal <= 0:
        raise InvalidInput("the financed amount must be positive")
    fee = _q(monthly_fee_cny)
    r = annual_rate / 12
    rows: list[Installment] = []
    balance = principal
    if method is RepaymentMethod.EQUAL_INSTALLMENT and r > 0:
        with localcontext() as ctx:
            ctx.prec = 40
            growth = (1 + r) ** term_months
            level = _q(principal * r * growth / (growth - 1))
    else:
        level = Decimal("0")
    even_principal = (principal / term_months).quantize(FEN, rounding=ROUND_DOWN)
    for month in range(1, term_months + 1):
        interest = _q(balance * r)
        if month == term_months:
            part = balance
        elif method is RepaymentMethod.EQUAL_INSTALLMENT and r > 0:
            part = min(level - interest, balance)
        else:
            part = even_principal
        balance = balance - part
        rows.append(Installment(month, part + interest + fee, part, interest, fee, balance))
    return tuple(rows)


def _npv(rate: Decimal, flows: list[Decimal]) -> Decimal:
    total = Decimal(0)
    factor = Decimal(1)
    step = 1 / (1 + rate)
    for flow in flows:
        total += flow * factor
        factor *= step
    return total


def irr_monthly(flows: list[Decimal]) -> Decimal:
    """The monthly rate i with sum(flow_k / (1+i)^k) = 0, by bisection (flows: first > 0, the rest <= 0)."""
    with localcontext() as ctx:
        ctx.prec = 34
        lo, hi = Decimal("-0.99"), Decimal("1")
        if _npv(lo, flows) * _npv(hi, flows) > 0:
            raise InvalidInput("the cash flows have no internal rate of return")
        for _ in range(200):
            mid = (lo + hi) / 2
            if _npv(mid, flows) > 0:  # NPV rises with the rate for a loan's flows: the root is below
                hi = mid
            else:
                lo = mid
            if hi - lo < Decimal("1e-15"):
                break
        return (lo + hi) / 2


def plan_loan(
    price_cny: Decimal,
    down_payment_ratio: Decimal,
    term_months: int,
    annual_rate: Decimal,
    method: RepaymentMethod,
    *,
    upfront_fee_cny: Decimal = Decimal("0"),
    monthly_fee_cny: Decimal = Decimal("0"),
) -> LoanPlan:
    """A loan plan with its schedule and disclosed APR (compliance limits are checked by `showroom.compliance`)."""
    if not MIN_TERM_MONTHS <= term_months <= MAX_TERM_MONTHS:
        raise InvalidInput(f"term_months must be between {MIN_TERM_MONTHS} and {MAX_TERM_MONTHS}")
    if not Decimal(0) <= down_payment_ratio < 1:
        raise InvalidInput("down_payment_ratio must be a fraction in [0, 1)")
    if upfront_fee_cny < 0 or monthly_fee_cny < 0:
        raise InvalidInput("fees cannot be negative")
    price = _q(price_cny)
    down = _q(price * down_payment_ratio)
    principal = price - down
    rows = schedule(principal, annual_rate, term_months, method, monthly_fee_cny)
    upfront = _q(upfront_fee_cny)
    flows = [principal - upfront] + [-row.payment_cny for row in rows]
    with localcontext() as ctx:
        ctx.prec = 34
        i = irr_monthly(flows)
        apr = (i * 12).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
        ear = ((1 + i) ** 12 - 1).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
        apr, ear = apr + 0, ear + 0  # no "-0.000000"
    total_interest = sum((row.interest_cny for row in rows), Decimal("0.00"))
    total_fees = upfront + sum((row.fee_cny for row in rows), Decimal("0.00"))
    return LoanPlan(
        price_cny=price,
        down_payment_cny=down,
        principal_cny=principal,
        term_months=term_months,
        annual_rate=annual_rate,
        method=method,
        upfront_fee_cny=upfront,
        monthly_fee_cny=_q(monthly_fee_cny),
        schedule=rows,
        total_interest_cny=total_interest,
        total_fees_cny=total_fees,
        total_repaid_cny=sum((row.payment_cny for row in rows), Decimal("0.00")) + upfront,
        apr=apr,
        effective_annual_rate=ear,
    )


def plan_to_dict(plan: LoanPlan, *, with_schedule: bool = True) -> dict[str, Any]:
    """The JSON of a plan (money as decimal strings): the reply of `POST /api/finance/plans`, and without the
    schedule the loan pre-application kept on a car order."""
    doc: dict[str, Any] = {
        "price_cny": str(plan.price_cny), "down_payment_cny": str(plan.down_payment_cny),
        "principal_cny": str(plan.principal_cny), "term_months": plan.term_months,
        "annual_rate": str(plan.annual_rate), "method": plan.method.value,
        "upfront_fee_cny": str(plan.upfront_fee_cny), "monthly_fee_cny": str(plan.monthly_fee_cny),
        "total_interest_cny": str(plan.total_interest_cny), "total_fees_cny": str(plan.total_fees_cny),
        "total_repaid_cny": str(plan.total_repaid_cny), "apr": str(plan.apr),
        "apr_percent": f"{plan.apr * 100:.2f}", "effective_annual_rate": str(plan.effective_annual_rate),
        "first_payment_cny": str(plan.schedule[0].payment_cny),
        "last_payment_cny": str(plan.schedule[-1].payment_cny),
    }
    if with_schedule:
        doc["schedule"] = [{"month": r.month, "payment_cny": str(r.payment_cny),
                            "principal_cny": str(r.principal_cny), "interest_cny": str(r.interest_cny),
                            "fee_cny": str(r.fee_cny), "balance_after_cny": str(r.balance_after_cny)}
                           for r in plan.schedule]
    return doc


# -- the bank's rate table ----------------------------------------------------------------------------------------


class NoLoanRate(ShowroomError):
    code = "no_loan_rate"
    http_status = 422


@dataclass(frozen=True)
class LoanRate:
    """One row of the bank's rate table: the rate and fees of loans over `term_months` for one product (its id)
    or for every product of a kind (e.g. `car`), valid from `valid_from` to `valid_to` (both days included;
    None: until replaced)."""

    applies_to: str
    term_months: int
    annual_rate: Decimal
    valid_from: date
    valid_to: date | None = None
    upfront_fee_cny: Decimal = Decimal("0")
    monthly_fee_cny: Decimal = Decimal("0")
    set_by: str = "unknown"
    set_at: datetime | None = None

    def __post_init__(self) -> None:
        check_rate(self)

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    @property
    def source(self) -> str:
        return f"rate-table:{self.applies_to}:{self.term_months}m:{self.valid_from.isoformat()}"


@dataclass(frozen=True)
class AppliedRate:
    """The rate and fees a plan was made with, and where they came from."""

    annual_rate: Decimal
    upfront_fee_cny: Decimal
    monthly_fee_cny: Decimal
    source: str


def check_rate(rate: LoanRate) -> None:
    """`InvalidInput` naming the field when a rate-table row is out of the bank's bounds."""
    if not rate.applies_to or len(rate.applies_to) > 100:
        raise InvalidInput("applies_to must be a product id or kind of at most 100 characters")
    if not MIN_TERM_MONTHS <= rate.term_months <= MAX_TERM_MONTHS:
        raise InvalidInput(f"term_months must be between {MIN_TERM_MONTHS} and {MAX_TERM_MONTHS}")
    if not rate.annual_rate.is_finite() or not Decimal(0) <= rate.annual_rate <= MAX_ANNUAL_RATE:
        raise InvalidInput(f"annual_rate must be a fraction between 0 and {MAX_ANNUAL_RATE}")
    if rate.annual_rate != rate.annual_rate.quantize(Decimal("0.000001")):
        raise InvalidInput("annual_rate has at most 6 decimal places")
    for name, fee in (("upfront_fee_cny", rate.upfront_fee_cny), ("monthly_fee_cny", rate.monthly_fee_cny)):
        if not fee.is_finite() or not Decimal(0) <= fee <= MAX_FEE_CNY or fee != fee.quantize(FEN):
            raise InvalidInput(f"{name} must be between 0 and {MAX_FEE_CNY} CNY with at most 2 decimal places")
    for name, day in (("valid_from", rate.valid_from), ("valid_to", rate.valid_to)):
        if day is not None and not EARLIEST_RATE_DAY <= day <= LATEST_RATE_DAY:
            raise InvalidInput(f"{name} must be between {EARLIEST_RATE_DAY} and {LATEST_RATE_DAY}")
    if rate.valid_to is not None and rate.valid_to < rate.valid_from:
        raise InvalidInput("valid_to is before valid_from")


def rate_for(rates: Iterable[LoanRate], product_id: str, kind: str, term_months: int, day: date) -> LoanRate | None:
    """The row that applies to a loan of `term_months` for the product on `day`: a row for the product itself wins
    over a row for its kind; among those, the one valid from the latest day (the newest decision). None: no row."""
    valid = [r for r in rates if r.term_months == term_months and r.valid_on(day)]
    for key in (product_id, kind):
        mine = [r for r in valid if r.applies_to == key]
        if mine:
            return max(mine, key=lambda r: (r.valid_from, r.set_at or datetime.min))
    return None


def applied(rate: LoanRate | None, default_annual_rate: Decimal) -> AppliedRate:
    """What a plan uses: the table's row, or the bank's configured default rate with no fees."""
    if rate is None:
        return AppliedRate(default_annual_rate, Decimal("0"), Decimal("0"), "settings:default_loan_annual_rate")
    return AppliedRate(rate.annual_rate, rate.upfront_fee_cny, rate.monthly_fee_cny, rate.source)
