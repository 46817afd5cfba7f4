"""Signatures of payment-backend notifications: HMAC-SHA256 over `"{timestamp}.{body}"`.

The header is `X-Signature: t=<unix seconds>,v1=<hex digest>` (several `v1=` entries allowed while a secret is
rotated). A notification is accepted only when one digest matches and the timestamp is within the tolerance.
Pure functions: the caller passes the clock.
"""

from __future__ import annotations

import hashlib
import hmac

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


def verify(secret: str, header: str | None, body: bytes, now_s: float, tolerance_s: int = DEFAULT_TOLERANCE_S) -> int:
    """Checks a signature header; returns its timestamp or raises `PaymentSignatureInvalid` saying why."""
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
    expected = _digest(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise PaymentSignatureInvalid("signature does not match the body")
    return timestamp
