"""Car finance: a loan plan for a car of the catalog under the bank's and the regulator's rules.

The customer chooses only the term, the down payment and the repayment method, within the product's rules; the
rate and fees come from the bank's rate table (`showroom.finance.rate_for`, staff-edited, `showroom rates`), or
the configured default rate when the table has no row for the product, its kind and the term on that day. The
plan names the rate that applied and where it came from (`rate_source`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from showroom import compliance
from showroom.audit import Actor
from showroom.catalog import Product, ProductKind
from showroom.errors import InvalidInput
from showroom.finance import (
    AppliedRate,
    LoanPlan,
    LoanRate,
    RepaymentMethod,
    applied,
    plan_loan,
    plan_to_dict,
    rate_for,
)
from showroom.ports import UnitOfWork
from showroom.services._uow import Commerce

NEW_ENERGY_TAGS = frozenset({"electric", "ev", "bev", "nev", "new-energy", "plug-in-hybrid", "phev"})
DEFAULT_DOWN_PAYMENT_RATIO = Decimal("0.2")


@dataclass(frozen=True)
class LoanTerms:
    """What the customer asks for; None takes the product's or the bank's default. No rate, no fees: those are
    the bank's."""

    down_payment_ratio: Decimal | None = None
    term_months: int = 36
    method: RepaymentMethod = RepaymentMethod.EQUAL_INSTALLMENT


@dataclass(frozen=True)
class FinancePlan:
    product_id: str
    variant_id: str
    plan: LoanPlan
    rate: AppliedRate


def is_new_energy(product: Product) -> bool:
    return bool({t.lower() for t in product.tags} & NEW_ENERGY_TAGS)


def plan_for(ctx: Commerce, product: Product, variant_id: str | None, terms: LoanTerms,
             rates: list[LoanRate]) -> FinancePlan:
    """The plan of `terms` for a car at the rate the bank's table gives today, refused when the regulator's or the
    product's rules say no."""
    if product.kind is not ProductKind.CAR:
        raise InvalidInput(f"{product.id} is not a car; finance plans are for cars")
    variant = product.variant(variant_id)
    if variant.msrp_cny is None:
        raise InvalidInput(f"variant {variant.id} has no list price")
    least = product.finance_min_down_payment_ratio
    ratio = terms.down_payment_ratio if terms.down_payment_ratio is not None else least or DEFAULT_DOWN_PAYMENT_RATIO
    compliance.check_auto_loan(ctx.compliance, new_energy=is_new_energy(product), down_payment_ratio=ratio,
                               term_months=terms.term_months)
    if least and ratio < least:
        raise compliance.ComplianceRefused(f"the bank's lowest down payment for {product.id} is {least * 100:.0f} %")
    if product.finance_terms_months and terms.term_months not in product.finance_terms_months:
        raise InvalidInput(f"terms offered: {', '.join(map(str, product.finance_terms_months))} months")
    today = ctx.clock.now().date()
    rate = applied(rate_for(rates, product.id, product.kind.value, terms.term_months, today),
                   ctx.settings.default_loan_annual_rate)
    plan = plan_loan(variant.msrp_cny, ratio, terms.term_months, rate.annual_rate, terms.method,
                     upfront_fee_cny=rate.upfront_fee_cny, monthly_fee_cny=rate.monthly_fee_cny)
    return FinancePlan(product.id, variant.id, plan, rate)


def plan_document(fp: FinancePlan, *, with_schedule: bool = True) -> dict[str, Any]:
    """The JSON of a plan with the rate's source: the reply of `POST /api/finance/plans`, and (without the
    schedule) the loan pre-application kept on a car order."""
    return {**plan_to_dict(fp.plan, with_schedule=with_schedule), "rate_source": fp.rate.source}


async def rates_for(uow: UnitOfWork, product: Product) -> list[LoanRate]:
    """The rate-table rows that may apply to `product` (its own and its kind's)."""
    return [*await uow.loan_rates(product.id), *await uow.loan_rates(product.kind.value)]


async def finance_plan(ctx: Commerce, product_id: str, variant_id: str | None, terms: LoanTerms) -> FinancePlan:
    product = ctx.catalog.get(product_id)
    async with ctx.uow() as uow:
        rates = await rates_for(uow, product)
    return plan_for(ctx, product, variant_id, terms, rates)


def rate_document(r: LoanRate) -> dict[str, Any]:
    """A rate-table row as JSON (money and rates as decimal strings)."""
    return {"applies_to": r.applies_to, "term_months": r.term_months, "annual_rate": str(r.annual_rate),
            "valid_from": r.valid_from.isoformat(), "valid_to": None if r.valid_to is None else r.valid_to.isoformat(),
            "upfront_fee_cny": str(r.upfront_fee_cny), "monthly_fee_cny": str(r.monthly_fee_cny),
            "set_by": r.set_by, "set_at": None if r.set_at is None else r.set_at.isoformat(), "source": r.source}


async def list_rates(ctx: Commerce, applies_to: str | None = None) -> list[LoanRate]:
    async with ctx.uow() as uow:
        return await uow.loan_rates(applies_to)


async def set_rate(ctx: Commerce, rate: LoanRate, actor: Actor | None = None) -> LoanRate:
    """Adds a row to the bank's rate table (`showroom rates set`, `PUT /api/staff/loan-rates`); a staff
    member's change is in the audit trail (subject `loan_rate:<product or kind>:<term>m`)."""
    known = {p.id for p in ctx.catalog.products} | {k.value for k in ProductKind}
    if rate.applies_to not in known:
        raise InvalidInput(f"applies_to must be a catalog product id or a product kind ({', '.join(sorted(k.value for k in ProductKind))})")
    if rate.set_at is None:
        rate = replace(rate, set_at=ctx.clock.now())
    assert rate.set_at is not None
    async with ctx.uow() as uow:
        await uow.add_loan_rate(rate)
        if actor is not None:
            await uow.append_audit(actor.event(rate.set_at, "loan_rate_added",
                                               f"loan_rate:{rate.applies_to}:{rate.term_months}m",
                                               after=rate_document(rate)))
        await uow.commit()
    return rate
