"""Car finance: a loan plan for a car of the catalog under the bank's and the regulator's rules."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from showroom import compliance
from showroom.catalog import Product, ProductKind
from showroom.errors import InvalidInput
from showroom.finance import LoanPlan, RepaymentMethod, plan_loan
from showroom.services._uow import Commerce

NEW_ENERGY_TAGS = frozenset({"electric", "ev", "bev", "nev", "new-energy", "plug-in-hybrid", "phev"})
DEFAULT_DOWN_PAYMENT_RATIO = Decimal("0.2")


@dataclass(frozen=True)
class LoanTerms:
    """What the customer asks for; None takes the product's or the bank's default."""

    down_payment_ratio: Decimal | None = None
    term_months: int = 36
    annual_rate: Decimal | None = None
    method: RepaymentMethod = RepaymentMethod.EQUAL_INSTALLMENT
    upfront_fee_cny: Decimal = Decimal("0")
    monthly_fee_cny: Decimal = Decimal("0")


@dataclass(frozen=True)
class FinancePlan:
    product_id: str
    variant_id: str
    plan: LoanPlan


def is_new_energy(product: Product) -> bool:
    return bool({t.lower() for t in product.tags} & NEW_ENERGY_TAGS)


def plan_for(ctx: Commerce, product: Product, variant_id: str | None, terms: LoanTerms) -> LoanPlan:
    """The plan of `terms` for a car, refused when the regulator's or the product's rules say no."""
    if product.kind is not ProductKind.CAR:
        raise InvalidInput(f"{product.id} is not a car; finance plans are for cars")
    variant = product.variant(variant_id)
    if variant.msrp_cny is None:
        raise InvalidInput(f"variant {variant.id} has no list price")
    least = product.finance_min_down_payment_ratio
    ratio = terms.down_payment_ratio if terms.down_payment_ratio is not None else least or DEFAULT_DOWN_PAYMENT_RATIO
    rate = terms.annual_rate if terms.annual_rate is not None else ctx.settings.default_loan_annual_rate
    compliance.check_auto_loan(ctx.compliance, new_energy=is_new_energy(product), down_payment_ratio=ratio,
                               term_months=terms.term_months)
    if least and ratio < least:
        raise compliance.ComplianceRefused(f"the bank's lowest down payment for {product.id} is {least * 100:.0f} %")
    if product.finance_terms_months and terms.term_months not in product.finance_terms_months:
        raise InvalidInput(f"terms offered: {', '.join(map(str, product.finance_terms_months))} months")
    return plan_loan(variant.msrp_cny, ratio, terms.term_months, rate, terms.method,
                     upfront_fee_cny=terms.upfront_fee_cny, monthly_fee_cny=terms.monthly_fee_cny)


def finance_plan(ctx: Commerce, product_id: str, variant_id: str | None, terms: LoanTerms) -> FinancePlan:
    product = ctx.catalog.get(product_id)
    plan = plan_for(ctx, product, variant_id, terms)
    return FinancePlan(product.id, product.variant(variant_id).id, plan)
