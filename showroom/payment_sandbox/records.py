"""The sandbox's records as values: payment, refund and event rows, and the inputs that create or finish them."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from showroom.payment_sandbox.rules import Outcome


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def request_hash(body: Mapping[str, Any]) -> str:
    """Canonical hash of a JSON request body, to tell a replay from a different request under one key."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class PaymentRow:
    id: str
    order_id: str
    amount_fen: int
    currency: str
    method: str
    description: str
    notify_url: str
    return_url: str | None
    status: str
    failure_code: str | None
    fee_fen: int
    created_s: float
    expires_s: float
    completed_s: float | None
    card_token: str | None
    card_brand: str | None
    card_last4: str | None
    wallet_id: str | None
    wallet_tier: int | None


@dataclass(frozen=True)
class RefundRow:
    id: str
    payment_id: str
    amount_fen: int
    reason: str
    status: str
    failure_code: str | None
    fee_fen: int
    created_s: float
    completed_s: float | None


@dataclass(frozen=True)
class EventRow:
    id: str
    payment_id: str
    type: str
    body: bytes
    notify_url: str
    created_s: float
    status: str
    attempts: int
    last_error: str | None
    delivered_s: float | None


@dataclass(frozen=True)
class NewPayment:
    order_id: str
    amount_fen: int
    currency: str
    method: str
    description: str
    notify_url: str
    return_url: str | None
    expires_in_s: int
    fee_fen: int
    wallet_id: str | None = None
    """e-CNY wallet payments created with the payer's number: the wallet registered to it, and its tier."""
    wallet_tier: int | None = None


@dataclass(frozen=True)
class Completion:
    """How the customer (or the test control) finished a payment."""

    outcome: Outcome
    card_token: str | None = None
    card_brand: str | None = None
    card_last4: str | None = None
    wallet_id: str | None = None
    wallet_tier: int | None = None


@dataclass(frozen=True)
class IdempotentAnswer:
    http_status: int
    body: dict[str, Any]
    replayed: bool
