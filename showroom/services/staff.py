"""Staff: sign-in against local accounts (the default `StaffDirectory`), server-side sessions with a CSRF token,
and the accounts an admin (or `showroom staff ...`) manages. Every change is audited.

Sessions: the cookie carries 32 random bytes (base64url); only their SHA-256 is stored. A session ends after
`SessionPolicy.idle` unused or `absolute` after sign-in, at sign-out, and for every session of an account when it
is disabled or its password or role changes. The CSRF token is an HMAC of the cookie value (derived, never
stored): only a page that could read the sign-in reply (or `GET /api/staff/session`) knows it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime

from showroom.audit import Actor, staff_subject
from showroom.errors import InvalidInput
from showroom.identity import Passwords, SignInAttempt, match_totp, new_totp_secret, provisioning_uri
from showroom.ports import UnitOfWork
from showroom.services._uow import Commerce, Outcome, transact
from showroom.staff import (
    ADDRESS_LOCKOUT,
    STAFF_NAME_PATTERN,
    AccountLocked,
    CsrfRefused,
    LockoutPolicy,
    Permission,
    Role,
    SelfLockout,
    SessionPolicy,
    SignInRefused,
    StaffAccount,
    StaffMember,
    StaffSession,
    TooManyAttempts,
    Unauthenticated,
    UnknownStaff,
    check_not_locked,
    check_password_policy,
    record_failure,
    record_success,
    require,
)

TOKEN_BYTES = 32
CSRF_LABEL = b"showroom staff csrf v1"
SIGN_IN_REFUSED = "the name, password or code is not right"
SESSIONS = SessionPolicy()
ACCOUNT_LOCKOUT = LockoutPolicy()


def token_hash(token: str) -> str:
    """The stored form of a session cookie value (SHA-256 of its 32 bytes); Unauthenticated when malformed."""
    if len(token) != 43:
        raise Unauthenticated("sign in first")
    try:
        raw = base64.urlsafe_b64decode(token + "=")
    except (binascii.Error, ValueError):
        raise Unauthenticated("sign in first") from None
    if len(raw) != TOKEN_BYTES:
        raise Unauthenticated("sign in first")
    return hashlib.sha256(raw).hexdigest()


def csrf_token(token: str) -> str:
    return base64.urlsafe_b64encode(hmac.new(token.encode(), CSRF_LABEL, hashlib.sha256).digest()).decode().rstrip("=")


def check_csrf(token: str, header: str | None) -> None:
    """The X-CSRF-Token header equals this session's token (constant-time compare)."""
    if not header or not hmac.compare_digest(header.encode(), csrf_token(token).encode()):
        raise CsrfRefused("this request needs the session's X-CSRF-Token header")


def check_name(name: str) -> str:
    if not re.fullmatch(STAFF_NAME_PATTERN, name):
        raise InvalidInput("name: 2-40 characters a-z 0-9 . _ -, starting with a letter")
    return name


@dataclass(frozen=True)
class SignedIn:
    """A live staff session: who (as they are now), the session, its cookie value and CSRF token."""

    member: StaffMember
    session: StaffSession
    token: str

    @property
    def csrf_token(self) -> str:
        return csrf_token(self.token)

    def actor(self, request_id: str | None) -> Actor:
        return Actor(self.member.name, self.member.role.value, request_id)


@dataclass(frozen=True)
class NewAccount:
    account: StaffAccount
    totp_secret: str
    provisioning_uri: str
    """`otpauth://totp/...`: shown once, at creation or TOTP reset."""


# -- sign-in ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Verdict:
    member: StaffMember | None
    problem: Exception | None = None


class LocalStaffDirectory:
    """`StaffDirectory` over local accounts in the commerce database (see `showroom.identity`)."""

    kind = "local"

    def __init__(self, ctx: Commerce, passwords: Passwords | None = None,
                 lockout: LockoutPolicy = ACCOUNT_LOCKOUT, address_lockout: LockoutPolicy = ADDRESS_LOCKOUT) -> None:
        self.ctx = ctx
        self.passwords = passwords or Passwords()
        self.lockout = lockout
        self.address_lockout = address_lockout

    async def member(self, name: str) -> StaffMember | None:
        async with self.ctx.uow() as uow:
            account = await uow.find_staff(name)
        return None if account is None else account.member

    async def sign_in(self, attempt: SignInAttempt) -> StaffMember:
        ctx, now = self.ctx, self.ctx.clock.now()
        address_key = f"addr:{attempt.client or 'unknown'}"[:100]
        async with ctx.uow() as uow:
            address = await uow.sign_in_throttle(address_key)
            account = await uow.find_staff(attempt.name)
        if address.locked_until is not None and now < address.locked_until:
            raise TooManyAttempts("too many failed sign-ins from this address; try again later")
        if account is not None:
            check_not_locked(account.sign_in, now)
        # argon2 runs off the event loop and outside any transaction (it takes ~0.1 s on purpose).
        password_ok = await asyncio.to_thread(self.passwords.verify,
                                              None if account is None else account.password_hash, attempt.password)
        new_hash = None
        if password_ok and account is not None and self.passwords.needs_rehash(account.password_hash):
            new_hash = await asyncio.to_thread(self.passwords.hash, attempt.password)
        step = None if account is None else match_totp(account.totp_secret, attempt.otp, now, account.totp_last_step)

        async def record(uow: UnitOfWork, out: Outcome) -> _Verdict:
            fresh = await uow.find_staff(attempt.name)
            # A step used meanwhile (a replayed code racing the first use) fails like a wrong code.
            ok = (password_ok and fresh is not None and not fresh.disabled and step is not None
                  and step > fresh.totp_last_step)
            if not ok or fresh is None:
                await uow.save_sign_in_throttle(address_key, record_failure(
                    self.address_lockout, await uow.sign_in_throttle(address_key), now))
                if fresh is None:
                    return _Verdict(None, SignInRefused(SIGN_IN_REFUSED))
                state = record_failure(self.lockout, fresh.sign_in, now)
                await uow.save_staff(replace(fresh, sign_in=state, updated_at=now))
                await uow.append_audit(Actor(fresh.name, "unauthenticated").event(
                    now, "sign_in_refused", staff_subject(fresh.name),
                    after={"failures": state.failures, "locked_until": state.locked_until,
                           "client": attempt.client}))
                return _Verdict(None, SignInRefused(SIGN_IN_REFUSED))
            try:
                check_not_locked(fresh.sign_in, now)
            except AccountLocked as exc:
                return _Verdict(None, exc)
            await uow.save_staff(replace(fresh, sign_in=record_success(), totp_last_step=step or 0, updated_at=now,
                                         password_hash=new_hash or fresh.password_hash))
            return _Verdict(fresh.member)

        verdict, _ = await transact(ctx, record)
        if verdict.problem is not None:
            raise verdict.problem
        assert verdict.member is not None
        return verdict.member


async def open_session(ctx: Commerce, member: StaffMember, client: str, request_id: str | None,
                       policy: SessionPolicy = SESSIONS) -> SignedIn:
    """A new session for a member the directory just signed in; audited."""
    token = base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_BYTES)).decode().rstrip("=")

    async def work(uow: UnitOfWork, out: Outcome) -> StaffSession:
        now = ctx.clock.now()
        session = StaffSession(token_hash(token), member.name, now, now, now + policy.absolute, client[:64])
        await uow.add_staff_session(session)
        await uow.append_audit(Actor(member.name, member.role.value, request_id).event(
            now, "signed_in", staff_subject(member.name), after={"client": client, "expires_at": session.expires_at}))
        return session

    session, _ = await transact(ctx, work)
    return SignedIn(member, session, token)


async def session_for(ctx: Commerce, token: str | None, policy: SessionPolicy = SESSIONS) -> SignedIn:
    """The live session of a cookie value, with the member as they are now; Unauthenticated otherwise."""
    if not token:
        raise Unauthenticated("sign in first")
    id_hash = token_hash(token)
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        session = await uow.get_staff_session(id_hash)
        account = None if session is None else await uow.find_staff(session.name)
        if session is None or account is None or not session.live(policy, now):
            raise Unauthenticated("the session ended; sign in again")
        if account.disabled:
            await uow.revoke_staff_sessions(account.name, now)
            await uow.commit()
            raise Unauthenticated("the session ended; sign in again")
        if now - session.last_seen_at >= policy.touch_every:
            await uow.touch_staff_session(id_hash, now)
            await uow.commit()
            session = replace(session, last_seen_at=now)
    return SignedIn(account.member, session, token)


async def sign_out(ctx: Commerce, signed_in: SignedIn, request_id: str | None) -> None:
    async def work(uow: UnitOfWork, out: Outcome) -> None:
        now = ctx.clock.now()
        await uow.revoke_staff_session(signed_in.session.id_hash, now)
        await uow.append_audit(signed_in.actor(request_id).event(now, "signed_out",
                                                                  staff_subject(signed_in.member.name)))

    await transact(ctx, work)


def session_expires_at(session: StaffSession, policy: SessionPolicy = SESSIONS) -> datetime:
    """When the session ends unless used again (idle), never after its absolute end."""
    return min(session.expires_at, session.last_seen_at + policy.idle)


# -- accounts --------------------------------------------------------------------------------------------------


def _account_doc(a: StaffAccount) -> dict[str, object]:
    return {"role": a.role.value, "display_name": a.display_name, "disabled": a.disabled}


async def _get(uow: UnitOfWork, name: str) -> StaffAccount:
    account = await uow.find_staff(name)
    if account is None:
        raise UnknownStaff(f"no staff account named {name!r}")
    return account


def _manager(by: StaffMember | None) -> None:
    if by is not None:
        require(by, Permission.MANAGE_STAFF)


async def list_accounts(ctx: Commerce) -> list[StaffAccount]:
    async with ctx.uow() as uow:
        return await uow.list_staff()


async def create_account(ctx: Commerce, actor: Actor, name: str, role: Role, display_name: str, password: str, *,
                         by: StaffMember | None = None, passwords: Passwords | None = None) -> NewAccount:
    """A new local account with a fresh TOTP secret (shown once). `by`: the admin doing it (None: the CLI,
    run by the operator of the machine)."""
    _manager(by)
    check_name(name)
    check_password_policy(name, password)
    password_hash = await asyncio.to_thread((passwords or Passwords()).hash, password)
    secret = new_totp_secret()

    async def work(uow: UnitOfWork, out: Outcome) -> StaffAccount:
        now = ctx.clock.now()
        account = StaffAccount(name, role, display_name or name, password_hash, secret, now, now)
        await uow.add_staff(account)
        await uow.append_audit(actor.event(now, "staff_created", staff_subject(name), after=_account_doc(account)))
        return account

    account, _ = await transact(ctx, work)
    return NewAccount(account, secret, provisioning_uri(secret, name))


async def set_password(ctx: Commerce, actor: Actor, name: str, password: str, *, by: StaffMember | None = None,
                       passwords: Passwords | None = None) -> StaffAccount:
    """A new password; every session of the account ends."""
    _manager(by)
    check_password_policy(name, password)
    password_hash = await asyncio.to_thread((passwords or Passwords()).hash, password)

    async def work(uow: UnitOfWork, out: Outcome) -> StaffAccount:
        now = ctx.clock.now()
        account = await _get(uow, name)
        saved = await uow.save_staff(replace(account, password_hash=password_hash, sign_in=record_success(),
                                             updated_at=now))
        ended = await uow.revoke_staff_sessions(name, now)
        await uow.append_audit(actor.event(now, "staff_password_changed", staff_subject(name),
                                           after={"sessions_ended": ended}))
        return saved

    saved, _ = await transact(ctx, work)
    return saved


async def update_account(ctx: Commerce, actor: Actor, name: str, *, role: Role | None = None,
                         disabled: bool | None = None, by: StaffMember | None = None) -> StaffAccount:
    """Changes the role and/or the disabled flag; a disabled or re-roled account's sessions end. An admin may not
    disable or demote themselves. Enabling also lifts a lock-out."""
    _manager(by)
    if by is not None and by.name == name and (disabled or (role is not None and role is not by.role)):
        raise SelfLockout("an admin cannot disable or demote their own account; ask another admin")

    async def work(uow: UnitOfWork, out: Outcome) -> StaffAccount:
        now = ctx.clock.now()
        account = await _get(uow, name)
        changed = replace(account, role=role if role is not None else account.role,
                          disabled=disabled if disabled is not None else account.disabled, updated_at=now)
        if disabled is False:
            changed = replace(changed, sign_in=record_success())
        if changed == account:
            return account
        saved = await uow.save_staff(changed)
        ended = 0
        if saved.disabled or saved.role is not account.role:
            ended = await uow.revoke_staff_sessions(name, now)
        action = ("staff_disabled" if saved.disabled and not account.disabled
                  else "staff_enabled" if account.disabled and not saved.disabled else "staff_changed")
        await uow.append_audit(actor.event(now, action, staff_subject(name), before=_account_doc(account),
                                           after={**_account_doc(saved), "sessions_ended": ended}))
        return saved

    saved, _ = await transact(ctx, work)
    return saved


async def reset_totp(ctx: Commerce, actor: Actor, name: str, *, by: StaffMember | None = None) -> NewAccount:
    """A new TOTP secret (the old authenticator stops working); every session ends."""
    _manager(by)
    secret = new_totp_secret()

    async def work(uow: UnitOfWork, out: Outcome) -> StaffAccount:
        now = ctx.clock.now()
        account = await _get(uow, name)
        saved = await uow.save_staff(replace(account, totp_secret=secret, totp_last_step=0, updated_at=now))
        ended = await uow.revoke_staff_sessions(name, now)
        await uow.append_audit(actor.event(now, "staff_totp_reset", staff_subject(name),
                                           after={"sessions_ended": ended}))
        return saved

    saved, _ = await transact(ctx, work)
    return NewAccount(saved, secret, provisioning_uri(secret, name))
