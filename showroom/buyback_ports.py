"""Ports of the buy-back: the payout operation of the bank's payment backend, and the buy-back rows of the unit
of work (`uow.buybacks`, in the same transaction as the slot it takes and the audit entry it writes).

The payout wire protocol (docs/commerce.md, "Buy-back"):
`POST {base}/payouts` (header `Idempotency-Key`) `{"reference", "customer_id", "amount_fen", "currency",
"description", "notify_url"}` -> 201 `{"payout_id", "status": "pending"|"succeeded"|"failed", "account_masked",
"failure_code"?}`; `GET {base}/payouts/{id}` the same. The money goes to the customer's **account of record**,
which the backend knows by the bank's customer id: no request carries an account number, so none typed by a
customer can ever be paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from showroom.buyback import Buyback
from showroom.certificates import CertificateRecord
from showroom.staff import ApprovalState

PayoutStatus = Literal["pending", "succeeded", "failed"]


@dataclass(frozen=True)
class PayoutRequest:
    reference: str
    """The buy-back id (one reference may see several attempts, each its own idempotency key)."""
    customer_id: str
    """The bank's id of the verified customer; the backend pays their account of record."""
    amount_fen: int
    description: str
    notify_url: str
    idempotency_key: str
    currency: str = "CNY"


@dataclass(frozen=True)
class PayoutReply:
    payout_id: str
    status: PayoutStatus
    account_masked: str | None = None
    failure_code: str | None = None


@runtime_checkable
class PayoutGateway(Protocol):
    """The payout side of the payment backend (`HttpPaymentGateway` implements it). Errors as the payment
    gateway's: `PaymentGatewayUnavailable` (retry with the same key), `PaymentRejected` (4xx)."""

    async def create_payout(self, request: PayoutRequest) -> PayoutReply: ...

    async def query_payout(self, payout_id: str) -> PayoutReply: ...


class BuybackRepository(Protocol):
    async def add(self, buyback: Buyback, token_sha256: str) -> None: ...
    async def get(self, buyback_id: str, *, for_update: bool = False) -> tuple[Buyback, str]:
        """The buy-back and its customer token's SHA-256; `NotFound`."""
        ...
    async def save(self, buyback: Buyback) -> None:
        """Version-checked (`ConcurrentUpdate` when someone else wrote it first)."""
        ...
    async def by_payout_id(self, payout_id: str) -> Buyback | None: ...
    async def between(self, branch_id: str | None, start: datetime, end: datetime,
                      status: str | None = None) -> list[Buyback]:
        """Buy-backs whose slot starts in [start, end), by slot."""
        ...
    async def open_for_customer(self, customer_id: str) -> int:
        """Booked buy-backs of a customer."""
        ...
    async def awaiting_payout(self, limit: int) -> list[Buyback]:
        """Accepted buy-backs whose payout is not yet at the backend (oldest first)."""
        ...
    async def approvals(self, state: ApprovalState | None, limit: int, offset: int = 0) -> list[Buyback]:
        """Buy-backs under four eyes in `state` (None: any), the latest inspected first."""
        ...
    async def release_serials(self, buyback_id: str) -> int:
        """Gives back the serials a buy-back claimed (its payout was rejected: the pieces go back)."""
        ...
    async def claim_serial(self, serial: str, buyback_id: str, at: datetime) -> bool:
        """Marks a serial bought back (unique); False when another buy-back has it."""
        ...
    async def serial_buyback(self, serial: str) -> str | None: ...
    async def certificates_by_serial(self, serial: str) -> list[CertificateRecord]: ...
    async def revoke_certificate(self, certificate_id: str, at: datetime, reason: str) -> bool: ...
