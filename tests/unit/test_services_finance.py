"""Car finance plans follow the car, the bank's terms and the regulator's minimum down payment."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from showroom.catalog import Catalog, Product
from showroom.compliance import ComplianceRefused
from showroom.errors import InvalidInput
from showroom.finance import RepaymentMethod
from showroom.orders import OrderStatus
from showroom.services import orders
from showroom.services.finance import LoanTerms, finance_plan, is_new_energy
from showroom.services.orders import Customer, PlaceOrder
from tests.commerce_fakes import fake_world, make_catalog


def test_a_plan_for_an_electric_car_with_fifteen_percent_down() -> None:
    w = fake_world()
    fp = finance_plan(w.ctx, "car-ev", None, LoanTerms(Decimal("0.15"), 60))
    assert (fp.product_id, fp.variant_id) == ("car-ev", "pro-white")
    assert fp.plan.principal_cny == Decimal("220830.00") and fp.plan.annual_rate == Decimal("0.0399")
    assert len(fp.plan.schedule) == 60 and fp.plan.method is RepaymentMethod.EQUAL_INSTALLMENT


def test_the_products_own_terms_and_floor_apply() -> None:
    w = fake_world()
    with pytest.raises(ComplianceRefused):
        finance_plan(w.ctx, "car-ev", None, LoanTerms(Decimal("0.1")))
    with pytest.raises(InvalidInput, match="terms offered"):
        finance_plan(w.ctx, "car-ev", None, LoanTerms(term_months=18))
    with pytest.raises(InvalidInput, match="not a car"):
        finance_plan(w.ctx, "bar-50g", None, LoanTerms())
    assert finance_plan(w.ctx, "car-ev", None, LoanTerms()).plan.down_payment_cny == Decimal("38970.00")  # its floor


def test_a_petrol_car_needs_twenty_percent_down() -> None:
    ev = make_catalog().get("car-ev")
    petrol = Product(ev.id, ev.kind, ev.name, ev.description, ev.model, ev.variants, tags=("car", "suv"),
                     reservation_deposit_cny=Decimal("5000"))
    assert is_new_energy(ev) and not is_new_energy(petrol)
    w = fake_world(Catalog((petrol,)))
    with pytest.raises(ComplianceRefused, match="20 %"):
        finance_plan(w.ctx, "car-ev", None, LoanTerms(Decimal("0.15")))
    assert finance_plan(w.ctx, "car-ev", None, LoanTerms(Decimal("0.2"))).plan.down_payment_cny == Decimal("51960.00")


def test_a_car_is_reserved_by_its_deposit_with_the_loan_pre_application_on_the_order() -> None:
    w = fake_world()

    async def go() -> None:
        q = await orders.quote(w.ctx, "car-ev", "pro-white")
        terms = LoanTerms(Decimal("0.2"), 36, method=RepaymentMethod.EQUAL_PRINCIPAL)
        placed = await orders.place_order(w.ctx, PlaceOrder(q.id, Customer("李雷", None), finance=terms))
        order = placed.details.order
        assert order.amount_fen == 500000 and order.status is OrderStatus.PENDING_PAYMENT
        assert order.finance is not None and order.finance["term_months"] == 36 and "schedule" not in order.finance
        assert order.finance["method"] == "equal_principal" and order.finance["apr_percent"] == "3.99"
        q2 = await orders.quote(w.ctx, "car-ev", "pro-white")
        with pytest.raises(ComplianceRefused):
            await orders.place_order(w.ctx, PlaceOrder(q2.id, Customer("李雷", None), finance=LoanTerms(Decimal("0.1"))))

    asyncio.run(go())
