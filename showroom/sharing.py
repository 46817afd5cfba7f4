"""Share links: a signed, expiring token naming a product (and the price shown when it was shared). Pure domain.

Token = base64url(JSON payload) + "." + base64url(HMAC-SHA256(secret, payload)); the payload holds the share id,
product, variant and expiry (unix seconds). A token that was tampered with, or has expired, is refused. The
share row counts the landing-page visits, the orders placed from it and the orders paid (attribution).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from showroom.errors import ShowroomError

DEFAULT_SHARE_TTL_S = 30 * 24 * 3600


class ShareInvalid(ShowroomError):
    code = "share_invalid"
    http_status = 404


class ShareExpired(ShareInvalid):
    code = "share_expired"
    http_status = 410


@dataclass(frozen=True)
class Share:
    id: str
    product_id: str
    variant_id: str
    channel: str
    created_at: datetime
    expires_at: datetime
    price_fen: int | None = None
    """The price shown on the poster, with `quoted_at` (a price is only true at a time)."""
    quoted_at: datetime | None = None
    visits: int = 0
    orders: int = 0
    purchases: int = 0


def new_share_id() -> str:
    return "sh_" + secrets.token_hex(8)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(secret: str, share: Share) -> str:
    payload = json.dumps({"s": share.id, "p": share.product_id, "v": share.variant_id,
                          "exp": int(share.expires_at.timestamp())}, separators=(",", ":")).encode()
    sig = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(sig)}"


@dataclass(frozen=True)
class TokenClaims:
    share_id: str
    product_id: str
    variant_id: str
    expires_at: datetime


def read_token(secret: str | Sequence[str], token: str, now: datetime) -> TokenClaims:
    """The claims of a valid token; `ShareInvalid` when forged or malformed, `ShareExpired` when too old.
    `secret` may be several: the current one and, during a rotation's grace period, the previous one."""
    try:
        head, _, tail = token.partition(".")
        payload = _unb64(head)
        sig = _unb64(tail)
    except (ValueError, TypeError):
        raise ShareInvalid("this share link is not valid") from None
    keys = (secret,) if isinstance(secret, str) else tuple(secret)
    digests = [hmac.new(key.encode(), payload, hashlib.sha256).digest() for key in keys]
    if not tail or not any([hmac.compare_digest(expected, sig) for expected in digests]):
        raise ShareInvalid("this share link is not valid")
    try:
        data = json.loads(payload)
        claims = TokenClaims(str(data["s"]), str(data["p"]), str(data["v"]),
                             datetime.fromtimestamp(int(data["exp"]), tz=UTC))
    except (ValueError, KeyError, TypeError):
        raise ShareInvalid("this share link is not valid") from None
    if now >= claims.expires_at:
        raise ShareExpired("this share link has expired")
    return claims
