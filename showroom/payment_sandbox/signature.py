"""Signing the sandbox's notifications: `X-Signature: t=<unix seconds>,v1=<hex>`, where the digest is
HMAC-SHA256 of `"{t}." + body` under the webhook secret (docs/payments.md, "Signature").

The sandbox stands for another system (the bank's payment backend), so it signs with its own code and shares
nothing with the showroom; the showroom verifies with `showroom/signing.py`, and the tests check that the two
agree. Standard library only.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The value of the signature header for `body` sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
