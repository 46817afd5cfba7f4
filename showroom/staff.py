"""Bank staff: roles, what each role may do, four-eyes refunds, sign-in throttling and lock-out.

Pure domain: who a staff member is comes from an identity port (local accounts by default, the bank's OpenID
Connect provider by configuration); this module decides what they may do.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from showroom.errors import ShowroomError


class Role(StrEnum):
    TELLER = "teller"
    MANAGER = "manager"
    AUDITOR = "auditor"
    ADVISOR = "advisor"
    ADMIN = "admin"


class Permission(StrEnum):
    VIEW_ORDERS = "view_orders"
    FULFIL_ORDERS = "fulfil_orders"
    """Advance fulfilment and hand over at pick-up."""
    REQUEST_REFUND = "request_refund"
    APPROVE_REFUND = "approve_refund"
    APPROVE_PAYOUT = "approve_payout"
    """Approve or reject a buy-back payout above the four-eyes limit (never one's own inspection)."""
    VIEW_COMPLIANCE = "view_compliance"
    """AML review status and compliance reasons (never shown to the customer: no tipping-off)."""
    VIEW_RECONCILIATION = "view_reconciliation"
    VIEW_AUDIT = "view_audit"
    VIEW_STOCK = "view_stock"
    ADJUST_STOCK = "adjust_stock"
    """Set a branch shelf's on-hand count after counting it (audited)."""
    MANAGE_STAFF = "manage_staff"
    MANAGE_SETTINGS = "manage_settings"
    VIEW_INTERNALS = "view_internals"
    """Operational details such as the payment backend's address."""
    MANAGE_CAMPAIGNS = "manage_campaigns"
    """Create, approve (four eyes: not one's own) and disable coupon campaigns."""
    ANSWER_CALLS = "answer_calls"
    """Take customers' video calls: the console ticket, the queue, call-backs and call records (advisors)."""
    VIEW_RECORDINGS = "view_recordings"
    """Play back the dual recordings of advisor calls (auditors; each playback is logged by the edge)."""


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.TELLER: frozenset({Permission.VIEW_ORDERS, Permission.FULFIL_ORDERS, Permission.REQUEST_REFUND,
                            Permission.VIEW_STOCK}),
    Role.MANAGER: frozenset({Permission.VIEW_ORDERS, Permission.FULFIL_ORDERS, Permission.REQUEST_REFUND,
                             Permission.APPROVE_REFUND, Permission.APPROVE_PAYOUT, Permission.VIEW_COMPLIANCE,
                             Permission.VIEW_RECONCILIATION, Permission.VIEW_AUDIT, Permission.VIEW_STOCK,
                             Permission.MANAGE_CAMPAIGNS, Permission.ADJUST_STOCK}),
    Role.AUDITOR: frozenset({Permission.VIEW_ORDERS, Permission.VIEW_COMPLIANCE, Permission.VIEW_RECONCILIATION,
                             Permission.VIEW_AUDIT, Permission.VIEW_STOCK, Permission.VIEW_RECORDINGS}),
    Role.ADVISOR: frozenset({Permission.VIEW_ORDERS, Permission.ANSWER_CALLS}),
    Role.ADMIN: frozenset({Permission.MANAGE_STAFF, Permission.MANAGE_SETTINGS, Permission.VIEW_AUDIT,
                           Permission.VIEW_INTERNALS, Permission.VIEW_STOCK}),
}
"""Least privilege: admins manage people and settings but move no money; auditors read, never act."""


class StaffError(ShowroomError):
    code = "staff_error"
    http_status = 403


class Forbidden(StaffError):
    code = "forbidden"
    http_status = 403


class FourEyesViolation(StaffError):
    code = "four_eyes"
    http_status = 403


class SignInRefused(StaffError):
    """Wrong name, password or second factor: one message for all, so it tells an attacker nothing."""

    code = "sign_in_refused"
    http_status = 401


class AccountLocked(StaffError):
    code = "account_locked"
    http_status = 423


class WeakPassword(ShowroomError):
    code = "weak_password"
    http_status = 422


@dataclass(frozen=True)
class StaffMember:
    name: str
    role: Role
    display_name: str = ""
    disabled: bool = False

    def may(self, permission: Permission) -> bool:
        return not self.disabled and permission in ROLE_PERMISSIONS[self.role]


def require(member: StaffMember, permission: Permission) -> None:
    """Raises Forbidden unless `member` holds `permission`."""
    if member.disabled:
        raise Forbidden(f"the account {member.name} is disabled")
    if permission not in ROLE_PERMISSIONS[member.role]:
        raise Forbidden(f"a {member.role.value} may not {permission.value.replace('_', ' ')}")


@dataclass(frozen=True)
class RefundPolicy:
    teller_limit_cny: Decimal = Decimal("5000")
    """A teller's refund up to this amount goes ahead; above it a manager other than the requester approves."""


def refund_needs_approval(policy: RefundPolicy, requester: StaffMember, amount_cny: Decimal, *,
                          already_refunded_cny: Decimal = Decimal("0"), handed_over: bool = False) -> bool:
    """Every refund a non-manager requests above the teller limit waits for a manager; a manager's own refund
    above the limit waits for a second manager (four eyes apply to managers too).

    The limit counts what this order already had refunded or in flight by staff (`already_refunded_cny`), so
    splitting one large refund into several small ones does not slip past it. A refund of an order already
    handed over (`completed`: the goods come back) always waits for a second person."""
    require(requester, Permission.REQUEST_REFUND)
    return handed_over or already_refunded_cny + amount_cny > policy.teller_limit_cny


def check_approval(requested_by: str, approver: StaffMember) -> None:
    """The approver is not the person who requested the refund (checked first, so a requester is told why) and
    holds APPROVE_REFUND."""
    if approver.name == requested_by:
        raise FourEyesViolation("a refund is approved by someone other than the person who requested it")
    require(approver, Permission.APPROVE_REFUND)


PASSWORD_MIN_CHARS = 12


def check_password_policy(name: str, password: str) -> None:
    """At least 12 characters, not the account name, not one repeated character, at most 1024 characters
    (argon2 hashes any length; the cap bounds the work an attacker can ask for)."""
    if len(password) < PASSWORD_MIN_CHARS:
        raise WeakPassword(f"a staff password has at least {PASSWORD_MIN_CHARS} characters")
    if len(password) > 1024:
        raise WeakPassword("a staff password has at most 1024 characters")
    if name.lower() in password.lower():
        raise WeakPassword("a staff password must not contain the account name")
    if len(set(password)) < 4:
        raise WeakPassword("a staff password needs more than three different characters")


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 5
    """Failed sign-ins within `window` that lock the account."""
    window: timedelta = timedelta(minutes=15)
    lock_for: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class SignInState:
    """Failed sign-ins of one account (or one client address) and when it is locked until."""

    failures: int = 0
    first_failure_at: datetime | None = None
    locked_until: datetime | None = None


def check_not_locked(state: SignInState, now: datetime) -> None:
    if state.locked_until is not None and now < state.locked_until:
        minutes = max(1, int((state.locked_until - now).total_seconds() // 60))
        raise AccountLocked(f"too many failed sign-ins; try again in {minutes} min or ask an admin")


def record_failure(policy: LockoutPolicy, state: SignInState, now: datetime) -> SignInState:
    """The state after one more failed sign-in: counts within the window; the last one allowed locks."""
    if state.first_failure_at is None or now - state.first_failure_at > policy.window:
        state = SignInState(failures=0, first_failure_at=now)
    failures = state.failures + 1
    locked = now + policy.lock_for if failures >= policy.max_failures else state.locked_until
    return replace(state, failures=failures, locked_until=locked)


def record_success() -> SignInState:
    return SignInState()


ADDRESS_LOCKOUT = LockoutPolicy(max_failures=20, window=timedelta(minutes=15), lock_for=timedelta(minutes=15))
"""Failed sign-ins from one client address (any account names) before that address is refused for a while."""


class TooManyAttempts(StaffError):
    code = "too_many_attempts"
    http_status = 429


class Unauthenticated(StaffError):
    code = "unauthenticated"
    http_status = 401


class CsrfRefused(StaffError):
    code = "csrf"
    http_status = 403


class UnknownStaff(StaffError):
    code = "unknown_staff"
    http_status = 404


class StaffExists(StaffError):
    code = "staff_exists"
    http_status = 409


class SelfLockout(StaffError):
    """An admin may not disable or demote their own account (someone must be left who can manage staff)."""

    code = "self_lockout"
    http_status = 409


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=30)
    """A session unused this long ends."""
    absolute: timedelta = timedelta(hours=12)
    """A session ends this long after sign-in, used or not."""
    touch_every: timedelta = timedelta(seconds=60)
    """How often a used session's last-seen time is written (not on every request)."""


@dataclass(frozen=True)
class StaffAccount:
    """A local account: who, which role, the argon2id hash, the TOTP secret (base32) and the sign-in state."""

    name: str
    role: Role
    display_name: str
    password_hash: str
    totp_secret: str
    created_at: datetime
    updated_at: datetime
    disabled: bool = False
    sign_in: SignInState = SignInState()
    totp_last_step: int = 0
    """The last TOTP time step accepted: a code is good once."""
    version: int = 0

    @property
    def member(self) -> StaffMember:
        return StaffMember(self.name, self.role, self.display_name, self.disabled)


@dataclass(frozen=True)
class StaffSession:
    """A signed-in session, stored by the SHA-256 of its cookie value (the value itself is never stored)."""

    id_hash: str
    name: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    """Absolute end: sign-in + `SessionPolicy.absolute`."""
    client: str = ""
    revoked_at: datetime | None = None

    def live(self, policy: SessionPolicy, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at and now < self.last_seen_at + policy.idle


class ApprovalState(StrEnum):
    PENDING = "pending_approval"
    APPROVED = "approved"
    """Approved by a second person; the refund was written and sent (`refund_id`)."""
    REJECTED = "rejected"


@dataclass(frozen=True)
class RefundApproval:
    """A refund waiting for (or decided by) a second person."""

    id: str
    order_id: str
    amount_fen: int
    reason: str
    state: ApprovalState
    requested_by: str
    requested_role: Role
    requested_at: datetime
    idempotency_key: str
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    refund_id: str | None = None
    version: int = 0


STAFF_NAME_PATTERN = r"^[a-z][a-z0-9._-]{1,39}$"
"""Account names: lower case, 2-40 characters, starting with a letter."""
