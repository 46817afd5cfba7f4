"""Car finance plans follow the car, the bank's terms and rate table, and the regulator's minimum down payment."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

import pytest

from showroom.catalog import Catalog, Product
from showroom.compliance import ComplianceRefused
from showroom.errors import InvalidInput
from showroom.finance import LoanRate, RepaymentMethod, rate_for
from showroom.orders import OrderStatus
from showroom.services import orders
from showroom.services.finance import FinancePlan, LoanTerms, finance_plan, is_new_energy, set_rate
from showroom.services.orders import Customer, PlaceOrder
from tests.commerce_fakes import FakeWorld, fake_world, make_catalog

D = Decimal


def plan(w: FakeWorld, product: str, terms: LoanTerms) -> FinancePlan:
    result: FinancePlan = asyncio.run(finance_plan(w.ctx, product, None, terms))
    return result


def test_a_plan_for_an_electric_car_with_fifteen_percent_down() -> None:
    w = fake_world()
    fp = plan(w, "car-ev", LoanTerms(D("0.15"), 60))
    assert (fp.product_id, fp.variant_id) == ("car-ev", "pro-white")
    assert fp.plan.principal_cny == D("220830.00") and fp.plan.annual_rate == D("0.0399")
    assert fp.rate.source == "settings:default_loan_annual_rate"  # no row in the bank's table: the default
    assert len(fp.plan.schedule) == 60 and fp.plan.method is RepaymentMethod.EQUAL_INSTALLMENT


def test_the_products_own_terms_and_floor_apply() -> None:
    w = fake_world()
    with pytest.raises(ComplianceRefused):
        plan(w, "car-ev", LoanTerms(D("0.1")))
    with pytest.raises(InvalidInput, match="terms offered"):
        plan(w, "car-ev", LoanTerms(term_months=18))
    with pytest.raises(InvalidInput, match="not a car"):
        plan(w, "bar-50g", LoanTerms())
    assert plan(w, "car-ev", LoanTerms()).plan.down_payment_cny == D("38970.00")  # its floor


def test_a_petrol_car_needs_twenty_percent_down() -> None:
    ev = make_catalog().get("car-ev")
    petrol = Product(ev.id, ev.kind, ev.name, ev.description, ev.model, ev.variants, tags=("car", "suv"),
                     reservation_deposit_cny=D("5000"))
    assert is_new_energy(ev) and not is_new_energy(petrol)
    w = fake_world(Catalog((petrol,)))
    with pytest.raises(ComplianceRefused, match="20 %"):
        plan(w, "car-ev", LoanTerms(D("0.15")))
    assert plan(w, "car-ev", LoanTerms(D("0.2"))).plan.down_payment_cny == D("51960.00")


def test_the_rate_and_fees_come_from_the_banks_table_for_the_day() -> None:
    w = fake_world()  # the manual clock reads 2026-11-23

    async def go() -> None:
        await set_rate(w.ctx, LoanRate("car", 36, D("0.0450"), date(2026, 1, 1)))
        await set_rate(w.ctx, LoanRate("car-ev", 36, D("0.0299"), date(2026, 11, 1), date(2026, 11, 30),
                                       upfront_fee_cny=D("500.00"), set_by="teller"))
        await set_rate(w.ctx, LoanRate("car-ev", 36, D("0.0199"), date(2027, 1, 1)))  # not yet valid
        ev = await finance_plan(w.ctx, "car-ev", None, LoanTerms(D("0.2"), 36))
        assert ev.plan.annual_rate == D("0.0299") and ev.plan.upfront_fee_cny == D("500.00")
        assert ev.rate.source == "rate-table:car-ev:36m:2026-11-01" and ev.plan.apr > D("0.0299")
        other_term = await finance_plan(w.ctx, "car-ev", None, LoanTerms(D("0.2"), 48))
        assert other_term.plan.annual_rate == D("0.0399")  # no row for 48 months: the default
        w.clock.advance(8 * 86400)  # 2026-12-01: the product's row ended, the kind's applies
        later = await finance_plan(w.ctx, "car-ev", None, LoanTerms(D("0.2"), 36))
        assert later.plan.annual_rate == D("0.0450") and later.rate.source == "rate-table:car:36m:2026-01-01"
        with pytest.raises(InvalidInput, match="applies_to"):
            await set_rate(w.ctx, LoanRate("yacht", 36, D("0.01"), date(2026, 1, 1)))

    asyncio.run(go())


@pytest.mark.parametrize(("kw", "field"), [
    ({"annual_rate": D("-0.01")}, "annual_rate"), ({"annual_rate": D("0.30")}, "annual_rate"),
    ({"annual_rate": D("NaN")}, "annual_rate"), ({"annual_rate": D("0.0000001")}, "annual_rate"),
    ({"term_months": 6}, "term_months"), ({"term_months": 600}, "term_months"),
    ({"upfront_fee_cny": D("-1")}, "upfront_fee_cny"), ({"monthly_fee_cny": D("1e30")}, "monthly_fee_cny"),
    ({"valid_from": date(1, 1, 1)}, "valid_from"), ({"valid_to": date(9999, 12, 31)}, "valid_to"),
    ({"valid_to": date(2025, 12, 31)}, "valid_to"), ({"applies_to": ""}, "applies_to"),
])
def test_a_rate_table_row_out_of_bounds_is_refused_naming_the_field(kw: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"applies_to": "car", "term_months": 36, "annual_rate": D("0.04"),
                               "valid_from": date(2026, 1, 1), **kw}
    with pytest.raises(InvalidInput, match=field):
        LoanRate(**args)  # type: ignore[arg-type]


def test_the_products_row_wins_over_its_kinds_and_the_newest_decision_wins() -> None:
    rows = [LoanRate("car", 36, D("0.05"), date(2026, 1, 1)), LoanRate("car", 36, D("0.045"), date(2026, 6, 1)),
            LoanRate("car-ev", 36, D("0.03"), date(2026, 3, 1), date(2026, 3, 31))]
    assert rate_for(rows, "car-ev", "car", 36, date(2026, 3, 15)) == rows[2]
    assert rate_for(rows, "car-ev", "car", 36, date(2026, 7, 1)) == rows[1]
    assert rate_for(rows, "car-ev", "car", 36, date(2025, 7, 1)) is None
    assert rate_for(rows, "car-ev", "car", 24, date(2026, 7, 1)) is None


def test_a_car_is_reserved_by_its_deposit_with_the_loan_pre_application_on_the_order() -> None:
    w = fake_world()

    async def go() -> None:
        await set_rate(w.ctx, LoanRate("car", 36, D("0.0350"), date(2026, 1, 1)))
        q = await orders.quote(w.ctx, "car-ev", "pro-white")
        terms = LoanTerms(D("0.2"), 36, method=RepaymentMethod.EQUAL_PRINCIPAL)
        placed = await orders.place_order(w.ctx, PlaceOrder(q.id, Customer("李雷", "13900000000"), finance=terms))
        order = placed.details.order
        assert order.amount_fen == 500000 and order.status is OrderStatus.PENDING_PAYMENT
        assert order.finance is not None and order.finance["term_months"] == 36 and "schedule" not in order.finance
        assert order.finance["method"] == "equal_principal" and order.finance["apr_percent"] == "3.50"
        assert order.finance["annual_rate"] == "0.0350" and order.finance["rate_source"] == "rate-table:car:36m:2026-01-01"
        q2 = await orders.quote(w.ctx, "car-ev", "pro-white")
        with pytest.raises(ComplianceRefused):
            await orders.place_order(w.ctx, PlaceOrder(q2.id, Customer("李雷", "13900000000"),
                                                       finance=LoanTerms(D("0.1"))))

    asyncio.run(go())
