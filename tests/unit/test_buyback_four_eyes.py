"""Four eyes on large buy-back payouts (pure rules): above the limit an accepted inspection waits for a second
person, who is never the one who inspected and holds APPROVE_PAYOUT; a rejection buys nothing; a decision is made
once; at or below the limit nothing waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from showroom.buyback import (
    ApprovalDecided,
    Buyback,
    BuybackStatus,
    Condition,
    SerialLink,
    assess,
    make_buyback,
    payout_needs_approval,
)
from showroom.pricing import snapshot_to_dict
from showroom.staff import ApprovalState, Forbidden, FourEyesViolation, Role, StaffMember
from tests.unit.test_buyback import CAT, SNAP

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
LIMIT = Decimal("50000")
TELLER = StaffMember("tina", Role.TELLER)
MANAGER = StaffMember("mia", Role.MANAGER)
OTHER_MANAGER = StaffMember("max", Role.MANAGER)
AUDITOR = StaffMember("ada", Role.AUDITOR)


def inspected(quantity: int, by: StaffMember = TELLER) -> Buyback:
    """A booked buy-back of `quantity` 50 g bars (46,295.37 CNY each), every piece intact."""
    bar = CAT.get("bar-50g")
    b = make_buyback("bb_1", bar, bar.variant("au9999-50g"), quantity, SNAP, NOW, snapshot_to_dict(SNAP))
    slot = NOW + timedelta(hours=3)
    b.book("sh", slot, slot + timedelta(minutes=30), "王芳", "13800000000", "c1", "d", NOW)
    pieces = [assess(b, f"S{i}", Decimal("50"), Condition.INTACT, SerialLink(), None) for i in range(quantity)]
    b.record_inspection(pieces, by.name, "resident_id", slot, LIMIT)
    return b


def test_the_limit_is_strictly_above() -> None:
    assert not payout_needs_approval(5_000_000, LIMIT)
    assert payout_needs_approval(5_000_001, LIMIT)


def test_a_payout_at_or_below_the_limit_needs_no_second_person() -> None:
    b = inspected(1)  # 46,295.37 CNY
    assert b.status is BuybackStatus.ACCEPTED and b.approval is None


def test_a_payout_above_the_limit_waits_for_a_second_person() -> None:
    b = inspected(2)  # 92,590.74 CNY
    assert b.status is BuybackStatus.AWAITING_APPROVAL and b.approval is ApprovalState.PENDING
    assert b.amount_fen == 2 * 4629537


def test_the_inspector_cannot_approve_even_as_a_manager() -> None:
    b = inspected(2, by=MANAGER)
    with pytest.raises(FourEyesViolation):
        b.approve_payout(MANAGER, NOW)
    assert b.status is BuybackStatus.AWAITING_APPROVAL
    b.approve_payout(OTHER_MANAGER, NOW)
    assert b.status is BuybackStatus.ACCEPTED and b.approval is ApprovalState.APPROVED and b.decided_by == "max"


def test_a_teller_or_an_auditor_cannot_approve_or_reject() -> None:
    b = inspected(2)
    for who in (StaffMember("tom", Role.TELLER), AUDITOR):
        with pytest.raises(Forbidden):
            b.approve_payout(who, NOW)
        with pytest.raises(Forbidden):
            b.reject_payout(who, "no", NOW)
    assert b.status is BuybackStatus.AWAITING_APPROVAL


def test_another_manager_approves_once_and_the_payout_key_is_the_first_attempt() -> None:
    b = inspected(2)
    b.approve_payout(MANAGER, NOW)
    assert b.status is BuybackStatus.ACCEPTED and b.payout_key == "buyback:bb_1:0"
    with pytest.raises(ApprovalDecided):
        b.approve_payout(OTHER_MANAGER, NOW)
    with pytest.raises(ApprovalDecided):
        b.reject_payout(OTHER_MANAGER, "too late", NOW)


def test_a_rejected_payout_buys_nothing_and_cannot_be_approved_after() -> None:
    b = inspected(2)
    b.reject_payout(MANAGER, "serials do not match the certificates", NOW)
    assert b.status is BuybackStatus.REJECTED and b.approval is ApprovalState.REJECTED
    assert b.rejection_reason == "approval_rejected" and b.decision_reason.startswith("serials")
    with pytest.raises(ApprovalDecided):
        b.approve_payout(OTHER_MANAGER, NOW)


def test_a_payout_that_never_needed_approval_cannot_be_decided() -> None:
    b = inspected(1)
    with pytest.raises(ApprovalDecided):
        b.approve_payout(MANAGER, NOW)
