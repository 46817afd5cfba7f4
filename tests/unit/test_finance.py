"""Loan schedules exact to the fen and the APR disclosed with them."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from showroom.errors import InvalidInput
from showroom.finance import RepaymentMethod, plan_loan, schedule

D = Decimal
EI, EP = RepaymentMethod.EQUAL_INSTALLMENT, RepaymentMethod.EQUAL_PRINCIPAL


def test_equal_installment_matches_the_annuity_formula() -> None:
    # 100,000 CNY, 12 months, 4.8 %/year: A = P r (1+r)^n / ((1+r)^n - 1) = 8551.59 with r = 0.004
    rows = schedule(D("100000"), D("0.048"), 12, EI)
    assert [r.payment_cny for r in rows[:11]] == [D("8551.59")] * 11
    assert rows[0].interest_cny == D("400.00") and rows[0].principal_cny == D("8151.59")
    assert rows[-1].payment_cny == D("8551.54")  # the last payment absorbs the rounding
    assert rows[-1].balance_after_cny == 0
    assert sum(r.interest_cny for r in rows) == D("2619.03")


def test_equal_principal_repays_the_same_principal_each_month() -> None:
    rows = schedule(D("100000"), D("0.048"), 12, EP)
    assert rows[0].payment_cny == D("8733.33") and rows[0].principal_cny == D("8333.33")
    assert all(r.principal_cny == D("8333.33") for r in rows[:11])
    assert rows[-1].principal_cny == D("8333.37") and rows[-1].interest_cny == D("33.33")
    assert sum(r.interest_cny for r in rows) == D("2600.00")
    assert all(a.payment_cny > b.payment_cny for a, b in pairwise(rows))


def test_apr_equals_the_nominal_rate_without_fees_and_rises_with_fees() -> None:
    plain = plan_loan(D("100000"), D("0"), 12, D("0.048"), EI)
    assert plain.apr == D("0.048000") and plain.effective_annual_rate == D("0.049070")
    with_fee = plan_loan(D("100000"), D("0"), 12, D("0.048"), EI, upfront_fee_cny=D("1000"))
    assert with_fee.apr == D("0.066808")
    monthly = plan_loan(D("100000"), D("0"), 12, D("0.048"), EI, monthly_fee_cny=D("50"))
    assert monthly.apr > plain.apr and monthly.total_fees_cny == D("600.00")
    assert plan_loan(D("100000"), D("0"), 12, D("0"), EP).apr == D("0.000000")


def test_a_car_plan_with_down_payment() -> None:
    plan = plan_loan(D("259800"), D("0.15"), 60, D("0.0399"), EI)
    assert plan.down_payment_cny == D("38970.00") and plan.principal_cny == D("220830.00")
    assert plan.schedule[0].payment_cny == D("4065.92") and len(plan.schedule) == 60
    assert plan.apr == D("0.039900")


@pytest.mark.parametrize(("kw", "message"), [
    ({"term_months": 6}, "term_months"), ({"term_months": 72}, "term_months"),
    ({"down_payment_ratio": D("1")}, "down_payment_ratio"), ({"annual_rate": D("-0.01")}, "annual_rate"),
])
def test_bad_plans_are_refused(kw: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"price_cny": D("100000"), "down_payment_ratio": D("0.2"), "term_months": 36,
                               "annual_rate": D("0.04"), "method": EI, **kw}
    with pytest.raises(InvalidInput, match=message):
        plan_loan(**args)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(principal_fen=st.integers(100_00, 5_000_000_00), rate_bp=st.integers(0, 2400), term=st.integers(1, 60),
       method=st.sampled_from(list(RepaymentMethod)))
def test_schedules_sum_to_the_principal_exactly(principal_fen: int, rate_bp: int, term: int,
                                                method: RepaymentMethod) -> None:
    principal = D(principal_fen) / 100
    rows = schedule(principal, D(rate_bp) / 10000, term, method)
    assert len(rows) == term
    assert sum(r.principal_cny for r in rows) == principal
    assert rows[-1].balance_after_cny == 0
    assert all(r.principal_cny >= 0 and r.interest_cny >= 0 and r.balance_after_cny >= 0 for r in rows)
    assert all(r.payment_cny == r.principal_cny + r.interest_cny + r.fee_cny for r in rows)
    assert all(r.payment_cny == r.payment_cny.quantize(D("0.01")) for r in rows)
    if method is RepaymentMethod.EQUAL_INSTALLMENT and rate_bp > 0 and term > 1:
        level = rows[0].payment_cny
        assert all(r.payment_cny == level for r in rows[:-1])
        assert abs(rows[-1].payment_cny - level) <= D("0.01") * term
