"""Orders, their payments and refunds: the state machine where the bank's money moves. Pure domain.

```
created --reserve--> pending_payment --payment ok--> paid --ship--> fulfilling --deliver--> completed
                      |  ^      |  \\--cancel--> cancelled         \\-- refunds --> partially_refunded -> refunded
                      |  |      \\--expire--> expired
                      v  |
                  payment_failed (retry: back to pending_payment; cancel; expire)
expired | cancelled --late payment succeeds--> (automatic full refund) --refund ok--> refunded
```
Illegal transitions raise `IllegalTransition`. Money is integer fen. An order is paid by exactly one payment:
a second successful payment, or one arriving after the order expired or was cancelled, is refunded in full
automatically (`Order.apply_payment_succeeded` returns what to refund).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from showroom.errors import InvalidInput, ShowroomError


class OrderStatus(StrEnum):
    CREATED = "created"
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    FULFILLING = "fulfilling"
    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    PAYMENT_FAILED = "payment_failed"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.CREATED: frozenset({S.PENDING_PAYMENT, S.CANCELLED}),
    S.PENDING_PAYMENT: frozenset({S.PAID, S.PAYMENT_FAILED, S.EXPIRED, S.CANCELLED}),
    S.PAYMENT_FAILED: frozenset({S.PENDING_PAYMENT, S.PAID, S.EXPIRED, S.CANCELLED}),
    S.PAID: frozenset({S.FULFILLING, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.FULFILLING: frozenset({S.COMPLETED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.COMPLETED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.FULFILLING, S.COMPLETED}),
    S.EXPIRED: frozenset({S.REFUNDED}),
    S.CANCELLED: frozenset({S.REFUNDED}),
    S.REFUNDED: frozenset(),
}
OPEN_STATUSES = frozenset({S.CREATED, S.PENDING_PAYMENT, S.PAYMENT_FAILED})
"""Statuses holding a stock reservation and waiting for money."""
PAID_STATUSES = frozenset({S.PAID, S.FULFILLING, S.COMPLETED, S.PARTIALLY_REFUNDED})


class PaymentStatus(StrEnum):
    INTENT = "intent"
    """Recorded by us, not yet (known to be) created at the backend: startup recovery finishes it."""
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"


class RefundStatus(StrEnum):
    INTENT = "intent"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class IllegalTransition(ShowroomError):
    code = "illegal_transition"
    http_status = 409


class OrderNotFound(ShowroomError):
    code = "order_not_found"
    http_status = 404


class RefundNotAllowed(ShowroomError):
    code = "refund_not_allowed"
    http_status = 409


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


@dataclass
class Payment:
    id: str
    order_id: str
    method: str
    amount_fen: int
    status: PaymentStatus
    idempotency_key: str
    created_at: datetime
    updated_at: datetime
    gateway_payment_id: str | None = None
    pay_url: str | None = None
    qr_png_url: str | None = None
    expires_at: datetime | None = None
    failure_code: str | None = None
    wallet_tier: int | None = None
    succeeded_at: datetime | None = None

    @property
    def is_final(self) -> bool:
        return self.status in {PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.EXPIRED}


@dataclass
class Refund:
    id: str
    order_id: str
    payment_id: str
    amount_fen: int
    reason: str
    status: RefundStatus
    idempotency_key: str
    created_at: datetime
    updated_at: datetime
    gateway_refund_id: str | None = None
    automatic: bool = False
    succeeded_at: datetime | None = None

    @property
    def counts(self) -> bool:
        """Whether it holds money back from further refunds (everything but a failed refund)."""
        return self.status is not RefundStatus.FAILED


@dataclass
class Order:
    id: str
    quote_id: str
    product_id: str
    variant_id: str
    quantity: int
    branch_id: str
    amount_fen: int
    status: OrderStatus
    customer: dict[str, Any]
    channel: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    currency: str = "CNY"
    paid_fen: int = 0
    """Money received from the one payment that paid this order (0 until paid)."""
    refunded_fen: int = 0
    """Money confirmed refunded to the customer for this order's paying payment."""
    paid_payment_id: str | None = None
    aml_review: bool = False
    share_token_id: str | None = None
    finance: dict[str, Any] | None = None
    """Cars: the loan pre-application (plan parameters, APR) sent with the reservation deposit."""
    fulfilment: OrderStatus | None = None
    """How far fulfilment got (`fulfilling`, then `completed`), kept when a refund changes the status: an order is
    fulfilled once, in that order, and never again after completion or a full refund."""
    has_discounts: bool = False
    """The order took discount lines off (coupon, points: `services.campaigns`), set when it is placed: an order
    without them has nothing to read in its discounts."""
    version: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)

    # -- transitions ---------------------------------------------------------------------------------------

    def _move(self, to: OrderStatus, now: datetime, **data: Any) -> None:
        if to not in TRANSITIONS[self.status]:
            raise IllegalTransition(f"order {self.id} cannot go from {self.status.value} to {to.value}")
        before = self.status
        self.status = to
        self.updated_at = now
        self.events.append({"type": "order", "id": self.id, "status": to.value, "from": before.value, **data})

    def reserve(self, now: datetime) -> None:
        """Stock was reserved at the branch: the order now waits for payment."""
        self._move(S.PENDING_PAYMENT, now)

    def ensure_payable(self, now: datetime) -> None:
        if self.status not in (S.PENDING_PAYMENT, S.PAYMENT_FAILED):
            raise IllegalTransition(f"order {self.id} is {self.status.value}; it cannot be paid")
        if now >= self.expires_at:
            raise IllegalTransition(f"order {self.id} expired at {self.expires_at.isoformat()}")

    def payment_started(self, now: datetime) -> None:
        if self.status is S.PAYMENT_FAILED:
            self._move(S.PENDING_PAYMENT, now)

    def apply_payment_succeeded(self, payment: Payment, now: datetime) -> int:
        """Records `payment` as succeeded; returns the fen to refund automatically (0 when it paid the order).

        Paying twice is impossible here: once the order has its paying payment, any other successful payment
        (or one after expiry/cancellation, or of a different amount) is refunded in full.
        """
        if payment.order_id != self.id:
            raise InvalidInput(f"payment {payment.id} belongs to order {payment.order_id}, not {self.id}")
        if self.paid_payment_id == payment.id:
            return 0  # the same success again: nothing changes
        if self.status in OPEN_STATUSES and self.paid_payment_id is None and payment.amount_fen == self.amount_fen:
            self.paid_fen = payment.amount_fen
            self.paid_payment_id = payment.id
            self._move(S.PAID, now, payment_id=payment.id)
            return 0
        self.events.append({"type": "order", "id": self.id, "status": self.status.value,
                            "auto_refund_fen": payment.amount_fen, "payment_id": payment.id})
        self.updated_at = now
        return payment.amount_fen

    def apply_payment_failed(self, payment: Payment, now: datetime) -> None:
        if self.status is S.PENDING_PAYMENT and self.paid_payment_id is None:
            self._move(S.PAYMENT_FAILED, now, payment_id=payment.id, failure_code=payment.failure_code)

    def expire(self, now: datetime) -> None:
        self._move(S.EXPIRED, now)

    def cancel(self, now: datetime) -> None:
        self._move(S.CANCELLED, now)

    def start_fulfilment(self, now: datetime) -> None:
        if self.fulfilment is not None:
            raise IllegalTransition(f"order {self.id} was already {self.fulfilment.value}; it is fulfilled once")
        self._move(S.FULFILLING, now)
        self.fulfilment = S.FULFILLING

    def complete(self, now: datetime) -> None:
        if S.FULFILLING not in (self.fulfilment, self.status):
            raise IllegalTransition(f"order {self.id} is not being fulfilled; it cannot be completed")
        self._move(S.COMPLETED, now)
        self.fulfilment = S.COMPLETED

    @property
    def handed_over(self) -> bool:
        """The goods left the bank (`completed`): a refund now means they come back."""
        return self.fulfilment is S.COMPLETED or self.status is S.COMPLETED

    def refundable_fen(self, refunds: list[Refund]) -> int:
        """What can still be refunded on the paying payment, counting refunds in flight."""
        held = sum(r.amount_fen for r in refunds if r.counts and r.payment_id == self.paid_payment_id)
        return self.paid_fen - held

    def ensure_refundable(self, amount_fen: int, refunds: list[Refund]) -> None:
        if self.status not in PAID_STATUSES or self.paid_payment_id is None:
            raise RefundNotAllowed(f"order {self.id} is {self.status.value}; only paid orders can be refunded")
        if amount_fen <= 0:
            raise InvalidInput("refund amount must be positive")
        left = self.refundable_fen(refunds)
        if amount_fen > left:
            raise RefundNotAllowed(f"refund of {amount_fen} fen exceeds the {left} fen left to refund")

    def apply_refund_succeeded(self, refund: Refund, now: datetime) -> None:
        """A refund of the paying payment landed: partially_refunded or refunded. Automatic refunds of extra
        payments leave the order as it is, except an expired/cancelled order whose late payment is now back."""
        if refund.payment_id == self.paid_payment_id and not refund.automatic:
            self.refunded_fen += refund.amount_fen
            to = S.REFUNDED if self.refunded_fen >= self.paid_fen else S.PARTIALLY_REFUNDED
            self._move(to, now, refund_id=refund.id, refunded_fen=self.refunded_fen)
        elif self.status in (S.EXPIRED, S.CANCELLED):
            self._move(S.REFUNDED, now, refund_id=refund.id, automatic=True)
        else:
            self.events.append({"type": "order", "id": self.id, "status": self.status.value,
                                "auto_refund_done_fen": refund.amount_fen})
            self.updated_at = now

    def snapshot(self) -> dict[str, Any]:
        return {"type": "order", "id": self.id, "status": self.status.value, "amount_fen": self.amount_fen,
                "paid_fen": self.paid_fen, "refunded_fen": self.refunded_fen}
