"""Customers as the bank knows them. Pure domain.

A customer is named on an order by a mainland mobile number; what limits their purchases (verification level,
a personal limit, whether the account may buy at all) are facts the bank's customer-information service gives
for that number (`showroom.ports.CustomerDirectory`), never anything the request says. Purchase limits, velocity
and anti-money-laundering totals count per verified `customer_id`, not per typed phone number.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from showroom.compliance import ComplianceRefused, KycLevel
from showroom.errors import InvalidInput, ShowroomError

_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_SEPARATORS = re.compile(r"[\s\-()]")
MAX_PHONE_INPUT = 32


class CustomerRefused(ComplianceRefused):
    """The bank does not take orders from this customer now (a frozen or restricted account). The message is
    the same neutral one whatever the reason: the customer is told to contact the bank, never why."""

    code = "customer_refused"
    http_status = 403


class CustomerInfoUnavailable(ShowroomError):
    """The customer-information service could not be asked (down, timeout, malformed answer): no order is taken
    on an assumed level."""

    code = "customer_info_unavailable"
    http_status = 503


class AccountStatus(StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"


@dataclass(frozen=True)
class CustomerFacts:
    """What the bank says about the holder of one mobile number."""

    customer_id: str
    """The bank's id of the verified customer (an `unverified:` id derived from the number when unknown)."""
    kyc_level: KycLevel
    status: AccountStatus = AccountStatus.ACTIVE
    single_order_limit_cny: Decimal | None = None
    """A personal limit below the level's cap, when the bank set one."""
    source: str = "unknown"
    """Which service answered (`sandbox-register`, `customer-info:<host>`), kept in the audit record."""

    def ensure_may_order(self) -> None:
        if self.status is not AccountStatus.ACTIVE:
            raise CustomerRefused("we cannot take this order here; please contact the bank")


def normalise_mobile(raw: str) -> str:
    """The 11-digit mainland mobile number in `raw` (spaces, dashes, brackets and a +86 / 0086 prefix are
    allowed); `InvalidInput` otherwise."""
    if len(raw) > MAX_PHONE_INPUT:
        raise InvalidInput(f"customer.phone is at most {MAX_PHONE_INPUT} characters")
    digits = _SEPARATORS.sub("", raw)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if not _MOBILE.match(digits):
        raise InvalidInput("customer.phone must be a mainland mobile number (11 digits starting with 1)")
    return digits


def unverified(phone: str, source: str) -> CustomerFacts:
    """The facts of a number the bank does not know: the lowest level, counted per number (hashed, so the id
    does not spell the number out)."""
    digest = hashlib.sha256(f"mobile:{phone}".encode()).hexdigest()[:24]
    return CustomerFacts(f"unverified:{digest}", KycLevel.L0, source=source)
