"""Signatures of payment-backend notifications: HMAC-SHA256 over `"{timestamp}.{body}"`.

The header is `X-Signature: t=<unix seconds>,v1=<hex digest>` (several `v1=` entries allowed while a secret is
rotated). A notification is accepted only when one digest matches under one of the accepted secrets (the current
one and, during a rotation's grace period, the previous one) and the timestamp is within the tolerance.
Pure functions: the caller passes the clock and the secrets.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from showroom.errors import ShowroomError

SIGNATURE_HEADER = "X-Signature"
DEFAULT_TOLERANCE_S = 300


class PaymentSignatureInvalid(ShowroomError):
    code = "signature_invalid"
    http_status = 401


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    msg = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The value of the signature header for `body` sent at `timestamp` (unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify(secrets: str | Sequence[str], header: str | None, body: bytes, now_s: float,
           tolerance_s: int = DEFAULT_TOLERANCE_S) -> int:
    """Checks a signature header against one secret or several (current first, then a previous one during its
    grace period); returns its timestamp or raises `PaymentSignatureInvalid` saying why."""
    keys = (secrets,) if isinstance(secrets, str) else tuple(secrets)
    if not keys or not all(keys):
        raise PaymentSignatureInvalid("no webhook secret is configured")
    if not header:
        raise PaymentSignatureInvalid(f"missing {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise PaymentSignatureInvalid("signature timestamp is not an integer") from None
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise PaymentSignatureInvalid("signature header must be t=<unix>,v1=<hex>")
    if abs(now_s - timestamp) > tolerance_s:
        raise PaymentSignatureInvalid(f"signature timestamp is outside the {tolerance_s} s tolerance")
    matched = False
    for key in keys:  # every key and candidate is compared: no early exit that times which one matched
        expected = _digest(key, timestamp, body)
        matched = any([hmac.compare_digest(expected, c) for c in candidates]) or matched
    if not matched:
        raise PaymentSignatureInvalid("signature does not match the body")
    return timestamp
