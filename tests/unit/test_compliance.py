"""Compliance rules: verification levels, e-CNY wallet tiers, AML flags, auto-loan limits, velocity."""

from __future__ import annotations

from decimal import Decimal

import pytest

from showroom.compliance import (
    ComplianceRefused,
    ComplianceRules,
    CustomerActivity,
    KycLevel,
    LimitExceeded,
    VelocityExceeded,
    check_auto_loan,
    check_order,
    check_wallet_payment,
    wallet_limits,
)

R = ComplianceRules()
D = Decimal
NONE = CustomerActivity()


def test_each_verification_level_caps_one_order() -> None:
    check_order(R, KycLevel.L0, D("20000"), NONE)
    with pytest.raises(LimitExceeded) as refused:
        check_order(R, KycLevel.L0, D("20000.01"), NONE)
    assert "20000" not in refused.value.message and "L0" not in refused.value.message  # nothing about the holder
    check_order(R, KycLevel.L1, D("50000"), NONE)
    with pytest.raises(LimitExceeded):
        check_order(R, KycLevel.L1, D("50000.01"), NONE)
    check_order(R, KycLevel.L2, D("200000"), NONE)
    with pytest.raises(LimitExceeded):
        check_order(R, KycLevel.L3, D("5000000.01"), NONE)


def test_a_personal_limit_from_the_bank_lowers_the_levels_cap_but_never_raises_it() -> None:
    check_order(R, KycLevel.L2, D("10000"), NONE, personal_limit_cny=D("10000"))
    with pytest.raises(LimitExceeded):
        check_order(R, KycLevel.L2, D("10000.01"), NONE, personal_limit_cny=D("10000"))
    with pytest.raises(LimitExceeded):
        check_order(R, KycLevel.L1, D("60000"), NONE, personal_limit_cny=D("900000"))


def test_large_value_orders_are_flagged_for_aml_review_not_refused() -> None:
    assert not check_order(R, KycLevel.L2, D("49999.99"), NONE).aml_review
    big = check_order(R, KycLevel.L2, D("50000"), NONE)
    assert big.aml_review and "50000" in big.reasons[0]
    split = check_order(R, KycLevel.L2, D("20000"), CustomerActivity(ordered_today_cny=D("30000")))
    assert split.aml_review  # structuring across orders in a day
    strict = ComplianceRules(aml_threshold_cny=D("10000"))
    assert check_order(strict, KycLevel.L1, D("10000"), NONE).aml_review


@pytest.mark.parametrize(("tier", "amount", "today", "ok"), [
    (4, "2000", "0", True), (4, "2000.01", "0", False), (4, "2000", "3000.01", False),
    (3, "5000", "5000", True), (2, "50000", "0", True), (2, "50000.01", "0", False),
    (2, "40000", "60000.01", False), (1, "1000000", "0", True),
])
def test_wallet_tiers_limit_single_daily_and_balance(tier: int, amount: str, today: str, ok: bool) -> None:
    activity = CustomerActivity(wallet_paid_today_cny=D(today))
    if ok:
        check_wallet_payment(wallet_limits(R, tier), D(amount), activity)
    else:
        with pytest.raises(LimitExceeded):
            check_wallet_payment(wallet_limits(R, tier), D(amount), activity)


def test_unknown_wallet_tier_is_refused() -> None:
    with pytest.raises(ComplianceRefused):
        wallet_limits(R, 7)


def test_auto_loans_need_a_minimum_down_payment_and_a_term_of_at_most_60_months() -> None:
    check_auto_loan(R, new_energy=True, down_payment_ratio=D("0.15"), term_months=60)
    with pytest.raises(ComplianceRefused, match="15 %"):
        check_auto_loan(R, new_energy=True, down_payment_ratio=D("0.1499"), term_months=36)
    with pytest.raises(ComplianceRefused, match="20 %"):
        check_auto_loan(R, new_energy=False, down_payment_ratio=D("0.15"), term_months=36)
    with pytest.raises(ComplianceRefused, match="60 months"):
        check_auto_loan(R, new_energy=False, down_payment_ratio=D("0.3"), term_months=61)


def test_velocity_limits_orders_per_hour_and_day() -> None:
    with pytest.raises(VelocityExceeded):
        check_order(R, KycLevel.L1, D("10"), CustomerActivity(orders_last_hour=5))
    with pytest.raises(VelocityExceeded):
        check_order(R, KycLevel.L1, D("10"), CustomerActivity(orders_last_hour=0, orders_today=20))
    check_order(R, KycLevel.L1, D("10"), CustomerActivity(orders_last_hour=4, orders_today=19))
