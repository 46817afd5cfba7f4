"""Errors the sandbox answers with, each a `SandboxError` with a stable code and HTTP status.

The sandbox is another system than the showroom: it has its own error types (it never raises `ShowroomError`)
and its own middleware (`_http.py`) that writes them as `{"error": {"code", "message"}}`.
"""

from __future__ import annotations


class SandboxError(Exception):
    """Base of every error the sandbox answers with."""

    code: str = "sandbox_error"
    http_status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(SandboxError):
    code = "invalid_input"
    http_status = 422


class NotFound(SandboxError):
    code = "not_found"
    http_status = 404


class BadRequestBody(SandboxError):
    code = "bad_request"
    http_status = 400


class ValidationFailed(InvalidInput):
    code = "validation_failed"


class BodyTooLarge(SandboxError):
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


class PaymentNotPending(SandboxError):
    """The payment already has an outcome (or expired); it cannot be completed again."""

    code = "payment_not_pending"
    http_status = 409


class PaymentNotRefundable(SandboxError):
    code = "payment_not_refundable"
    http_status = 409


class RefundExceedsPaid(InvalidInput):
    """The refund would take the total refunded above the amount paid."""

    code = "refund_exceeds_paid"


class RefundNotPending(SandboxError):
    code = "refund_not_pending"
    http_status = 409
