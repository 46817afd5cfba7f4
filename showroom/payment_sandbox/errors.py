"""Errors the sandbox answers with, each a `ShowroomError` with a stable code and HTTP status."""

from __future__ import annotations

from showroom.errors import InvalidInput, NotFound, ShowroomError


class BadRequestBody(ShowroomError):
    code = "bad_request"
    http_status = 400


class ValidationFailed(InvalidInput):
    code = "validation_failed"


class BodyTooLarge(ShowroomError):
    code = "payload_too_large"
    http_status = 413


class PaymentNotFound(NotFound):
    code = "payment_not_found"


class RefundNotFound(NotFound):
    code = "refund_not_found"


class SettlementNotReady(NotFound):
    code = "settlement_not_ready"


class IdempotencyKeyReused(InvalidInput):
    """The same Idempotency-Key came with a different request body."""

    code = "idempotency_key_reused"


class AmountOverMethodLimit(InvalidInput):
    code = "amount_over_method_limit"


class PaymentNotPending(ShowroomError):
    """The payment already has an outcome (or expired); it cannot be completed again."""

    code = "payment_not_pending"
    http_status = 409


class PaymentNotRefundable(ShowroomError):
    code = "payment_not_refundable"
    http_status = 409


class RefundExceedsPaid(InvalidInput):
    """The refund would take the total refunded above the amount paid."""

    code = "refund_exceeds_paid"


class RefundNotPending(ShowroomError):
    code = "refund_not_pending"
    http_status = 409
