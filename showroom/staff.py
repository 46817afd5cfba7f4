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
    VIEW_COMPLIANCE = "view_compliance"
    """AML review status and compliance reasons (never shown to the customer: no tipping-off)."""
    VIEW_RECONCILIATION = "view_reconciliation"
    VIEW_AUDIT = "view_audit"
    VIEW_STOCK = "view_stock"
    MANAGE_STAFF = "manage_staff"
    MANAGE_SETTINGS = "manage_settings"
    VIEW_INTERNALS = "view_internals"
    """Operational details such as the payment backend's address."""


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.TELLER: frozenset({Permission.VIEW_ORDERS, Permission.FULFIL_ORDERS, Permission.REQUEST_REFUND,
                            Permission.VIEW_STOCK}),
    Role.MANAGER: frozenset({Permission.VIEW_ORDERS, Permission.FULFIL_ORDERS, Permission.REQUEST_REFUND,
                             Permission.APPROVE_REFUND, Permission.VIEW_COMPLIANCE, Permission.VIEW_RECONCILIATION,
                             Permission.VIEW_AUDIT, Permission.VIEW_STOCK}),
    Role.AUDITOR: frozenset({Permission.VIEW_ORDERS, Permission.VIEW_COMPLIANCE, Permission.VIEW_RECONCILIATION,
                             Permission.VIEW_AUDIT, Permission.VIEW_STOCK}),
    Role.ADVISOR: frozenset({Permission.VIEW_ORDERS}),
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


def refund_needs_approval(policy: RefundPolicy, requester: StaffMember, amount_cny: Decimal) -> bool:
    """Every refund a non-manager requests above the teller limit waits for a manager; a manager's own refund
    above the limit waits for a second manager (four eyes apply to managers too)."""
    require(requester, Permission.REQUEST_REFUND)
    return amount_cny > policy.teller_limit_cny


def check_approval(requested_by: str, approver: StaffMember) -> None:
    """The approver holds APPROVE_REFUND and is not the person who requested the refund."""
    require(approver, Permission.APPROVE_REFUND)
    if approver.name == requested_by:
        raise FourEyesViolation("a refund is approved by someone other than the person who requested it")


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
