"""Proof that the person holds the phone: a one-time code by SMS, then a proof token (contract: docs/commerce.md,
"Proof of the phone"). Coupons and points need it: a claim, the balance, a discount preview and an order that
redeems a coupon or points (`require`).

- `send_code`: a 6-digit code (`secrets`) to the number through the bank's SMS service. Only a salted SHA-256 of
  it is kept, with its expiry (`code_ttl_s`, 5 min) and its tries (`max_attempts`, 5). A newer code replaces the
  older one. Per number: one code a minute, five an hour (`CodeThrottled`, 429 with the seconds to wait); per
  client the node's rate limit (`phone_codes`) applies at the edge.
- `verify`: every try takes one of the code's tries with one conditional update (so concurrent guesses cannot
  exceed them); a right code marks it used (once) and issues a random proof token (32 bytes; only its SHA-256
  is kept) for `proof_ttl_s` (30 min), bound to the bank's customer id for the number at that moment.
- `require`: the token's record, unexpired, for this very number, whose customer id is still the bank's answer
  for it; else 401 `phone_proof_required` / `phone_proof_invalid` / `phone_proof_expired` or 403
  `phone_proof_mismatch`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from math import ceil

from showroom.phone_ports import (
    CodeExpired,
    CodeLocked,
    CodeState,
    CodeThrottled,
    CodeWrong,
    PhoneCode,
    PhoneProof,
    PhoneProofExpired,
    PhoneProofInvalid,
    PhoneProofMismatch,
    PhoneProofRequired,
    PhoneStore,
    SmsSender,
)
from showroom.ports import UnitOfWork
from showroom.services._uow import Commerce, Outcome, transact

CODE_DIGITS = 6
TOKEN_BYTES = 32
MAX_TOKEN_CHARS = 128


@dataclass(frozen=True)
class PhoneRules:
    code_ttl_s: int = 300
    max_attempts: int = 5
    proof_ttl_s: int = 1800
    resend_after_s: int = 60
    """A number gets at most one code in this many seconds..."""
    codes_per_hour: int = 5
    """...and at most this many codes an hour."""


@dataclass(frozen=True)
class PhoneProofs:
    """The use cases' dependencies: the commerce context (clock, customer directory, units of work), the bank's SMS
    service, and the store of codes and proofs in a unit of work's transaction."""

    ctx: Commerce
    sms: SmsSender
    repo: Callable[[UnitOfWork], PhoneStore]
    rules: PhoneRules = PhoneRules()


@dataclass(frozen=True)
class CodeSent:
    phone: str
    expires_at: datetime
    resend_after_s: int


@dataclass(frozen=True)
class IssuedProof:
    token: str
    """The proof token: only in this answer; the store keeps its SHA-256."""
    phone: str
    expires_at: datetime


@dataclass(frozen=True)
class VerifiedPhone:
    """What `require` found: the number is proven held, by the bank's customer `customer_id`."""

    phone: str
    customer_id: str


def _digest(salt: str, phone: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{phone}:{code}".encode()).hexdigest()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


async def send_code(book: PhoneProofs, phone: str, client_key: str = "") -> CodeSent:
    """A new code to `phone` (a normalised number), unless the number had one too recently (`CodeThrottled`)."""
    rules = book.rules
    code = new_code()

    async def work(uow: UnitOfWork, _out: Outcome) -> PhoneCode:
        store = book.repo(uow)
        now = book.ctx.clock.now()
        recent = await store.codes_since(phone, now - timedelta(hours=1))
        if recent:
            wait_s = rules.resend_after_s - (now - recent[0].created_at).total_seconds()
            if wait_s > 0:
                raise CodeThrottled(f"a code was sent to this number moments ago; ask again in {ceil(wait_s)} s",
                                    ceil(wait_s))
        if len(recent) >= rules.codes_per_hour:
            oldest = min(c.created_at for c in recent)
            wait_s = 3600 - (now - oldest).total_seconds()
            raise CodeThrottled(f"at most {rules.codes_per_hour} codes an hour go to one number; ask again in "
                                f"{ceil(wait_s)} s", max(1, ceil(wait_s)))
        await store.supersede_pending(phone)
        salt = secrets.token_hex(16)
        sent = PhoneCode(id="otp_" + secrets.token_hex(12), phone=phone, salt=salt,
                         code_sha256=_digest(salt, phone, code), attempts=0, state=CodeState.PENDING,
                         created_at=now, expires_at=now + timedelta(seconds=rules.code_ttl_s),
                         client_key=client_key[:128])
        await store.add_code(sent)
        return sent

    sent, _ = await transact(book.ctx, work)  # kept before sending: a lost reply never leaves an unknown code
    await book.sms.send_code(phone, code, message_id=sent.id, ttl_min=max(1, rules.code_ttl_s // 60))
    return CodeSent(phone, sent.expires_at, rules.resend_after_s)


class _Try(Enum):
    NONE = "none"
    EXPIRED = "expired"
    LOCKED = "locked"
    WRONG = "wrong"
    RIGHT = "right"


async def verify(book: PhoneProofs, phone: str, code: str) -> IssuedProof:
    """The proof token for a right code of `phone`'s latest code; `CodeWrong` (401, with the tries left),
    `CodeExpired` (410: none sent, expired or used) or `CodeLocked` (410: its tries are spent)."""
    facts = await _customer(book, phone)
    rules = book.rules
    token = secrets.token_urlsafe(TOKEN_BYTES)

    async def work(uow: UnitOfWork, _out: Outcome) -> tuple[_Try, int, datetime | None]:
        store = book.repo(uow)
        now = book.ctx.clock.now()
        found = await store.latest_code(phone)
        if found is None or found.state is not CodeState.PENDING:
            return _Try.NONE, 0, None
        if found.expires_at <= now:
            return _Try.EXPIRED, 0, None
        if not await store.take_attempt(found.id, rules.max_attempts):
            return _Try.LOCKED, 0, None
        left = rules.max_attempts - found.attempts - 1
        if not hmac.compare_digest(found.code_sha256, _digest(found.salt, phone, code)):
            return _Try.WRONG, left, None
        if not await store.mark_used(found.id):
            return _Try.NONE, 0, None
        expires_at = now + timedelta(seconds=rules.proof_ttl_s)
        await store.add_proof(PhoneProof(token_digest(token), phone, facts, now, expires_at))
        return _Try.RIGHT, left, expires_at

    (outcome, left, expires_at), _ = await transact(book.ctx, work)  # a wrong try is committed, then refused
    if outcome is _Try.RIGHT and expires_at is not None:
        return IssuedProof(token, phone, expires_at)
    if outcome is _Try.WRONG:
        if left <= 0:
            raise CodeLocked("wrong code; that was the last try: ask for a new code")
        raise CodeWrong(f"wrong code; {left} {'try' if left == 1 else 'tries'} left")
    if outcome is _Try.LOCKED:
        raise CodeLocked("this code had too many wrong tries: ask for a new code")
    if outcome is _Try.EXPIRED:
        raise CodeExpired("the code expired: ask for a new code")
    raise CodeExpired("no code is waiting for this number: ask for a code")


async def _customer(book: PhoneProofs, phone: str) -> str:
    from showroom.services.orders import lookup_customer

    return (await lookup_customer(book.ctx, phone)).customer_id


async def require(book: PhoneProofs, token: str | None, phone: str) -> VerifiedPhone:
    """The proof that whoever sent `token` holds `phone` (see the module's docstring for the refusals)."""
    if not token:
        raise PhoneProofRequired("this needs proof that you hold the phone: ask for a code "
                                 "(POST /api/phone/codes), verify it (POST /api/phone/verify) and send the proof "
                                 "in the X-Phone-Proof header")
    if len(token) > MAX_TOKEN_CHARS:
        raise PhoneProofInvalid("the phone proof is not one this bank issued")
    async with book.ctx.uow() as uow:
        proof = await book.repo(uow).get_proof(token_digest(token))
    if proof is None:
        raise PhoneProofInvalid("the phone proof is not one this bank issued; verify the phone again")
    if proof.expires_at <= book.ctx.clock.now():
        raise PhoneProofExpired("the phone proof expired; verify the phone again")
    if proof.phone != phone:
        raise PhoneProofMismatch("the phone proof was issued for another number")
    if await _customer(book, phone) != proof.customer_id:
        raise PhoneProofMismatch("the bank's customer for this number changed since it was verified; verify again")
    return VerifiedPhone(phone, proof.customer_id)


async def purge(book: PhoneProofs) -> int:
    """Deletes codes and proofs expired a day ago (the sweeper may call it)."""
    async def work(uow: UnitOfWork, _out: Outcome) -> int:
        return await book.repo(uow).purge(book.ctx.clock.now() - timedelta(days=1))

    purged, _ = await transact(book.ctx, work)
    return purged
