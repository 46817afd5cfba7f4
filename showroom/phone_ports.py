"""Proof that the person holds a mobile number: the records, the errors and the ports of the one-time-code step
(use cases: `showroom.services.phone_proofs`; contract: docs/commerce.md, "Proof of the phone").

The bank's SMS service sends a 6-digit code (`SmsSender`); the showroom keeps only a salted SHA-256 of it with
its expiry and the wrong guesses counted (`PhoneCode`), and, for a right code, a random proof token kept as its
SHA-256 (`PhoneProof`), bound to the bank's customer id for the number. `PhoneStore` is one transaction's view of
both (`showroom.adapters.phone_sql.PhoneSql`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from showroom.errors import ShowroomError


class CodeState(StrEnum):
    PENDING = "pending"
    USED = "used"
    SUPERSEDED = "superseded"
    """A newer code was sent to the number: only the latest one counts."""


@dataclass
class PhoneCode:
    """One code sent. `attempts` counts every try (the right one too); at the limit the code is spent."""

    id: str
    phone: str
    salt: str
    code_sha256: str
    attempts: int
    state: CodeState
    created_at: datetime
    expires_at: datetime
    client_key: str = ""
    version: int = 0


@dataclass(frozen=True)
class PhoneProof:
    """A proof token's record: who it proves (`phone`, and the bank's `customer_id` for it when verified)."""

    token_sha256: str
    phone: str
    customer_id: str
    issued_at: datetime
    expires_at: datetime


# -- errors (JSON 4xx/5xx through the API's error mapping) --------------------------------------------------------


class CodeThrottled(ShowroomError):
    code = "code_throttled"
    http_status = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class SmsUnavailable(ShowroomError):
    code = "sms_unavailable"
    http_status = 503


class CodeWrong(ShowroomError):
    code = "code_wrong"
    http_status = 401


class CodeExpired(ShowroomError):
    code = "code_expired"
    http_status = 410


class CodeLocked(ShowroomError):
    code = "code_locked"
    http_status = 410


class PhoneProofRequired(ShowroomError):
    code = "phone_proof_required"
    http_status = 401


class PhoneProofInvalid(ShowroomError):
    code = "phone_proof_invalid"
    http_status = 401


class PhoneProofExpired(ShowroomError):
    code = "phone_proof_expired"
    http_status = 401


class PhoneProofMismatch(ShowroomError):
    code = "phone_proof_mismatch"
    http_status = 403


# -- ports ------------------------------------------------------------------------------------------------------


class SmsSender(Protocol):
    """The bank's SMS service. Raises `SmsUnavailable` when the message could not be handed over."""

    async def send_code(self, phone: str, code: str, *, message_id: str, ttl_min: int) -> None:
        """Sends the one-time `code` to `phone` (a normalised mainland mobile number); `message_id` makes a
        retry of the same message harmless (the service's idempotency key)."""
        ...


class PhoneStore(Protocol):
    """Codes and proofs, in the caller's transaction."""

    async def add_code(self, code: PhoneCode) -> None: ...

    async def codes_since(self, phone: str, since: datetime) -> list[PhoneCode]:
        """The codes sent to `phone` from `since` on, newest first."""
        ...

    async def latest_code(self, phone: str) -> PhoneCode | None: ...

    async def supersede_pending(self, phone: str) -> None: ...

    async def take_attempt(self, code_id: str, max_attempts: int) -> bool:
        """Counts one try of a pending code when it has tries left (one conditional update); False: none left."""
        ...

    async def mark_used(self, code_id: str) -> bool:
        """pending -> used (one conditional update); False when it was no longer pending."""
        ...

    async def add_proof(self, proof: PhoneProof) -> None: ...

    async def get_proof(self, token_sha256: str) -> PhoneProof | None: ...

    async def purge(self, before: datetime) -> int:
        """Deletes codes and proofs that expired before `before`; returns how many rows went."""
        ...
