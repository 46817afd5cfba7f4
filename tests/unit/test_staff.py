"""Staff roles: least privilege, four eyes on large refunds, password policy, lock-out after failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from showroom.staff import (
    AccountLocked,
    Forbidden,
    FourEyesViolation,
    LockoutPolicy,
    Permission,
    RefundPolicy,
    Role,
    SignInState,
    StaffMember,
    WeakPassword,
    check_approval,
    check_not_locked,
    check_password_policy,
    record_failure,
    record_success,
    refund_needs_approval,
    require,
)

TELLER = StaffMember("tina", Role.TELLER)
MANAGER = StaffMember("mark", Role.MANAGER)
MANAGER2 = StaffMember("mona", Role.MANAGER)
AUDITOR = StaffMember("ada", Role.AUDITOR)
ADMIN = StaffMember("root", Role.ADMIN)
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_a_teller_hands_over_but_cannot_approve_refunds_or_read_compliance() -> None:
    require(TELLER, Permission.FULFIL_ORDERS)
    for permission in (Permission.APPROVE_REFUND, Permission.VIEW_COMPLIANCE, Permission.VIEW_AUDIT,
                       Permission.MANAGE_STAFF):
        with pytest.raises(Forbidden):
            require(TELLER, permission)


def test_an_auditor_reads_but_moves_no_money_and_an_admin_moves_none_either() -> None:
    require(AUDITOR, Permission.VIEW_AUDIT)
    require(AUDITOR, Permission.VIEW_RECONCILIATION)
    for member in (AUDITOR, ADMIN):
        with pytest.raises(Forbidden):
            require(member, Permission.REQUEST_REFUND)
        with pytest.raises(Forbidden):
            require(member, Permission.FULFIL_ORDERS)


def test_a_disabled_account_may_do_nothing() -> None:
    gone = StaffMember("gone", Role.MANAGER, disabled=True)
    assert not gone.may(Permission.VIEW_ORDERS)
    with pytest.raises(Forbidden, match="disabled"):
        require(gone, Permission.VIEW_ORDERS)


def test_refunds_above_the_teller_limit_wait_for_a_second_person() -> None:
    policy = RefundPolicy(teller_limit_cny=Decimal("5000"))
    assert not refund_needs_approval(policy, TELLER, Decimal("5000"))
    assert refund_needs_approval(policy, TELLER, Decimal("5000.01"))
    assert refund_needs_approval(policy, MANAGER, Decimal("9000"))
    with pytest.raises(Forbidden):
        refund_needs_approval(policy, AUDITOR, Decimal("1"))


def test_the_approver_is_a_manager_who_did_not_request_it() -> None:
    check_approval("tina", MANAGER)
    check_approval("mark", MANAGER2)
    with pytest.raises(FourEyesViolation):
        check_approval("mark", MANAGER)
    with pytest.raises(Forbidden):
        check_approval("tina", StaffMember("tom", Role.TELLER))


@pytest.mark.parametrize("password", ["short-pass1", "x" * 1025, "tina-is-my-name", "abababababababab"])
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(WeakPassword):
        check_password_policy("tina", password)


def test_a_long_varied_password_is_accepted() -> None:
    check_password_policy("tina", "correct horse battery staple")


def test_five_failures_in_the_window_lock_the_account_until_the_lock_ends() -> None:
    policy = LockoutPolicy(max_failures=5, window=timedelta(minutes=15), lock_for=timedelta(minutes=15))
    state = SignInState()
    for i in range(4):
        state = record_failure(policy, state, T0 + timedelta(minutes=i))
        check_not_locked(state, T0 + timedelta(minutes=i))
    state = record_failure(policy, state, T0 + timedelta(minutes=4))
    with pytest.raises(AccountLocked):
        check_not_locked(state, T0 + timedelta(minutes=10))
    check_not_locked(state, T0 + timedelta(minutes=20))
    assert record_success() == SignInState()


def test_failures_spread_beyond_the_window_do_not_lock() -> None:
    policy = LockoutPolicy(max_failures=3, window=timedelta(minutes=10))
    state = SignInState()
    for i in range(6):
        state = record_failure(policy, state, T0 + timedelta(minutes=11 * i))
        check_not_locked(state, T0 + timedelta(minutes=11 * i))
