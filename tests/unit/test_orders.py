"""The order state machine: every legal transition works, every other one raises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from showroom.orders import (
    TRANSITIONS,
    IllegalTransition,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundNotAllowed,
    RefundStatus,
)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
S = OrderStatus


def make_order(status: OrderStatus = S.PENDING_PAYMENT, amount_fen: int = 10_000) -> Order:
    return Order("ord_1", "q_1", "bar", "v", 1, "online", amount_fen, status, {"phone": "1"}, "kiosk", NOW, NOW,
                 NOW + timedelta(minutes=15))


def payment(pid: str = "pay_1", amount_fen: int = 10_000) -> Payment:
    return Payment(pid, "ord_1", "qr", amount_fen, PaymentStatus.SUCCEEDED, f"k-{pid}", NOW, NOW)


def refund(amount_fen: int, payment_id: str = "pay_1", *, automatic: bool = False,
           status: RefundStatus = RefundStatus.SUCCEEDED) -> Refund:
    return Refund("rf_" + str(amount_fen), "ord_1", payment_id, amount_fen, "r", status, "k", NOW, NOW,
                  automatic=automatic)


ALL_PAIRS = [(a, b) for a in S for b in S]


@pytest.mark.parametrize(("src", "dst"), ALL_PAIRS, ids=[f"{a.value}->{b.value}" for a, b in ALL_PAIRS])
def test_transitions_follow_the_table(src: OrderStatus, dst: OrderStatus) -> None:
    order = make_order(src)
    if dst in TRANSITIONS[src]:
        order._move(dst, NOW)
        assert order.status is dst and order.events[-1]["from"] == src.value
    else:
        with pytest.raises(IllegalTransition):
            order._move(dst, NOW)
        assert order.status is src


def test_every_status_of_the_design_exists() -> None:
    assert {s.value for s in S} >= {"pending_payment", "paid", "expired", "cancelled", "payment_failed",
                                    "partially_refunded", "refunded", "fulfilling", "completed"}


def test_the_first_matching_payment_pays_and_any_other_is_refunded() -> None:
    order = make_order()
    assert order.apply_payment_succeeded(payment("pay_1"), NOW) == 0
    assert order.status is S.PAID and order.paid_fen == 10_000
    assert order.apply_payment_succeeded(payment("pay_1"), NOW) == 0  # the same success again
    assert order.apply_payment_succeeded(payment("pay_2"), NOW) == 10_000  # a second payment: refund it all
    assert order.status is S.PAID and order.paid_fen == 10_000


def test_a_payment_of_the_wrong_amount_does_not_pay_and_is_refunded() -> None:
    order = make_order()
    assert order.apply_payment_succeeded(payment("pay_1", 9_999), NOW) == 9_999
    assert order.status is S.PENDING_PAYMENT


def test_a_payment_after_expiry_is_refunded_and_the_refund_ends_the_order() -> None:
    order = make_order()
    order.expire(NOW)
    assert order.apply_payment_succeeded(payment(), NOW) == 10_000
    order.apply_refund_succeeded(refund(10_000, automatic=True), NOW)
    assert order.status is S.REFUNDED


def test_refunds_are_partial_then_full_and_never_more_than_paid() -> None:
    order = make_order()
    order.apply_payment_succeeded(payment(), NOW)
    order.ensure_refundable(4_000, [])
    order.apply_refund_succeeded(refund(4_000), NOW)
    assert order.status is S.PARTIALLY_REFUNDED
    with pytest.raises(RefundNotAllowed):
        order.ensure_refundable(6_001, [refund(4_000)])
    with pytest.raises(RefundNotAllowed):  # a refund in flight holds its money too
        order.ensure_refundable(3_000, [refund(4_000), refund(3_500, status=RefundStatus.PENDING)])
    order.ensure_refundable(6_000, [refund(4_000), refund(999, status=RefundStatus.FAILED)])
    order.apply_refund_succeeded(refund(6_000), NOW)
    assert order.status is S.REFUNDED and order.refunded_fen == 10_000


def test_an_unpaid_order_cannot_be_refunded_and_a_paid_one_cannot_be_cancelled() -> None:
    order = make_order()
    with pytest.raises(RefundNotAllowed):
        order.ensure_refundable(1, [])
    order.apply_payment_succeeded(payment(), NOW)
    with pytest.raises(IllegalTransition):
        order.cancel(NOW)


def test_an_expired_order_cannot_start_a_payment() -> None:
    order = make_order()
    with pytest.raises(IllegalTransition):
        order.ensure_payable(NOW + timedelta(minutes=15))
    order.ensure_payable(NOW)


def test_a_failed_payment_can_be_retried_and_fulfilment_completes() -> None:
    order = make_order()
    failed = payment()
    failed.status = PaymentStatus.FAILED
    order.apply_payment_failed(failed, NOW)
    assert order.status is S.PAYMENT_FAILED
    order.payment_started(NOW)
    assert order.status is S.PENDING_PAYMENT
    order.apply_payment_succeeded(payment("pay_2"), NOW)
    order.start_fulfilment(NOW)
    order.complete(NOW)
    assert order.status is S.COMPLETED
