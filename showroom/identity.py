"""Who a staff member is: the identity port (`StaffDirectory`) and the credentials of local accounts.

Local accounts (the default) live in the commerce database: an argon2id password hash (argon2-cffi, re-hashed at
sign-in when the parameters were raised) and a TOTP second factor (RFC 6238, 30 s steps, 6 digits; a code is
accepted once: the account remembers the last time step used). `showroom.services.staff.LocalStaffDirectory`
implements the port over the unit of work.

OpenID Connect by configuration (not built yet; what replacing the local accounts takes):
- an `OidcStaffDirectory` implementing `StaffDirectory`: `sign_in` is not called with a password; instead the
  console is sent to the bank's provider (authorization code flow with PKCE, `nonce`, `state`) and a callback
  route exchanges the code, validates the ID token (issuer, audience, signature from the provider's JWKS,
  expiry, `acr`/`amr` showing a second factor) and maps a group or role claim to `showroom.staff.Role`;
- `member(name)` answers from the token's claims kept with the session (or the provider's userinfo), so a
  person removed at the provider loses access when the session is next checked or ends;
- the rest stays: our server-side sessions (cookie, CSRF token, idle and absolute expiry), roles and permissions
  (`showroom.staff`), four eyes, and the audit trail naming the person by the provider's subject;
- selected by a setting (e.g. `SHOWROOM_STAFF_IDENTITY=oidc` with the issuer URL, client id and the client
  secret from the data folder); local accounts then stay disabled but may be kept for break-glass access.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from urllib.parse import quote

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from showroom.staff import StaffMember

TOTP_STEP_S = 30
TOTP_DIGITS = 6
TOTP_ISSUER = "Showroom Staff"


@dataclass(frozen=True)
class SignInAttempt:
    name: str
    password: str = field(repr=False)
    otp: str = field(repr=False)
    client: str = ""
    """The client's address, for the per-address throttle."""


class StaffDirectory(Protocol):
    """Where staff identities come from: `local` accounts in the database, or (by configuration) the bank's OIDC
    provider. Raises `showroom.staff.SignInRefused` (one neutral answer for a wrong name, password or code),
    `AccountLocked`, `TooManyAttempts`."""

    kind: str

    async def sign_in(self, attempt: SignInAttempt) -> StaffMember: ...

    async def member(self, name: str) -> StaffMember | None:
        """The person as they are now (role, disabled), checked on every staff request."""
        ...


class Passwords:
    """argon2id hashing (argon2-cffi's RFC 9106 low-memory profile by default: t=3, m=64 MiB, p=4)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self._dummy = self.hasher.hash("an unknown name still costs one verification")

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Constant work whether or not the account exists (`password_hash` None checks a dummy hash)."""
        try:
            return bool(self.hasher.verify(password_hash or self._dummy, password)) and password_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)


def new_totp_secret() -> str:
    """A random base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, name: str, issuer: str = TOTP_ISSUER) -> str:
    """The `otpauth://totp/...` URI an authenticator app scans."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_S).provisioning_uri(
        name=quote(name, safe=""), issuer_name=issuer)


def totp_code(secret: str, at: datetime) -> str:
    """The code of `secret` at `at` (tests, and the CLI's check of a freshly added account)."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_S).at(at)


def match_totp(secret: str, code: str, now: datetime, last_step: int) -> int | None:
    """The time step `code` belongs to (the current one, or one either side for clock drift), or None; a step at
    or before `last_step` was used already and never matches again."""
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_S)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if step > last_step and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None
