"""Staff use cases on the in-memory unit of work: sign-in with a password and a one-time TOTP code, lock-out,
sessions that end (idle, absolute, sign-out, disable, new password), admin changes audited, and no admin locking
themselves out."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from showroom.audit import Actor
from showroom.identity import SignInAttempt, totp_code
from showroom.services import audit as audit_service
from showroom.services import staff
from showroom.services.audit import AuditKeeping
from showroom.staff import (
    AccountLocked,
    CsrfRefused,
    Forbidden,
    Role,
    SelfLockout,
    SignInRefused,
    StaffMember,
    TooManyAttempts,
    Unauthenticated,
    UnknownStaff,
    WeakPassword,
)
from tests.commerce_fakes import StaffWorld as FakeWorld
from tests.commerce_fakes import fake_passwords_world

PASSWORD = "correct horse battery"
ADMIN = StaffMember("root", Role.ADMIN)
CLI = Actor("cli:test", "operator")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _account(w: FakeWorld, name: str = "tina", role: Role = Role.TELLER) -> str:
    new = await staff.create_account(w.ctx, CLI, name, role, name.title(), PASSWORD, passwords=w.passwords)
    return new.totp_secret


def _attempt(w: FakeWorld, secret: str, name: str = "tina", password: str = PASSWORD,
             client: str = "10.0.0.1") -> SignInAttempt:
    return SignInAttempt(name, password, totp_code(secret, w.clock.now()), client)


def test_a_password_and_a_fresh_code_sign_in_and_a_code_is_good_once() -> None:
    w = fake_passwords_world()

    async def go() -> None:
        secret = await _account(w)
        directory = staff.LocalStaffDirectory(w.ctx, w.passwords)
        attempt = _attempt(w, secret)
        member = await directory.sign_in(attempt)
        assert member.name == "tina" and member.role is Role.TELLER
        with pytest.raises(SignInRefused):  # the same code again, even within its 30 s
            await directory.sign_in(attempt)
        w.clock.advance(30)
        assert (await directory.sign_in(_attempt(w, secret))).name == "tina"

    run(go())


def test_a_wrong_name_password_or_code_gets_one_neutral_answer() -> None:
    w = fake_passwords_world()

    async def go() -> None:
        secret = await _account(w)
        directory = staff.LocalStaffDirectory(w.ctx, w.passwords)
        good = _attempt(w, secret)
        messages = set()
        for bad in (SignInAttempt("nobody", PASSWORD, good.otp), SignInAttempt("tina", "wrong password!", good.otp),
                    SignInAttempt("tina", PASSWORD, "000000" if good.otp != "000000" else "111111")):
            with pytest.raises(SignInRefused) as refused:
                await directory.sign_in(bad)
            messages.add(refused.value.message)
        assert len(messages) == 1

    run(go())


def test_five_failures_lock_the_account_even_for_the_right_password_until_the_lock_ends() -> None:
    w = fake_passwords_world()

    async def go() -> None:
        secret = await _account(w)
        directory = staff.LocalStaffDirectory(w.ctx, w.passwords)
        for _ in range(5):
            with pytest.raises(SignInRefused):
                await directory.sign_in(_attempt(w, secret, password="wrong password!"))
        with pytest.raises(AccountLocked):
            await directory.sign_in(_attempt(w, secret))
        w.clock.advance(16 * 60)
        assert (await directory.sign_in(_attempt(w, secret))).name == "tina"
        actions = [e.event.action for e in w.db.tables.audit]
        assert actions.count("sign_in_refused") == 5

    run(go())


def test_many_failures_from_one_address_throttle_that_address() -> None:
    w = fake_passwords_world()

    async def go() -> None:
        secret = await _account(w)
        directory = staff.LocalStaffDirectory(w.ctx, w.passwords)
        for i in range(20):
            with pytest.raises(SignInRefused):
                await directory.sign_in(SignInAttempt(f"guess{i}", "wrong password!", "123456", "10.6.6.6"))
        with pytest.raises(TooManyAttempts):
            await directory.sign_in(_attempt(w, secret, client="10.6.6.6"))
        assert (await directory.sign_in(_attempt(w, secret, client="10.0.0.2"))).name == "tina"

    run(go())


def test_a_disabled_account_cannot_sign_in_and_its_live_session_ends() -> None:
    w = fake_passwords_world()

    async def go() -> None:
        secret = await _account(w)
        directory = staff.LocalStaffDirectory(w.ctx, w.passwords)
        session = await staff.open_session(w.ctx, await directory.sign_in(_attempt(w, secret)), "10.0.0.1", "r1")
        await staff.update_account(w.ctx, CLI, "tina", disabled=True)
        with pytest.raises(Unauthenticated):
            await staff.session_for(w.ctx, session.token)
        w.clock.advance(30)
        with pytest.raises(SignInRefused):
            await directory.sign_in(_attempt(w, secret))

    run(go())


def test_sessions_end_when_idle_at_their_absolute_end_and_at_sign_out() -> None:
    w = fake_passwords_world()

    async def go() -> None:
        member = StaffMember("tina", Role.TELLER)
        await _account(w)
        idle = await staff.open_session(w.ctx, member, "10.0.0.1", None)
        w.clock.advance(29 * 60)
        assert (await staff.session_for(w.ctx, idle.token)).member.name == "tina"
        w.clock.advance(29 * 60)  # used 29 min ago: still live
        await staff.session_for(w.ctx, idle.token)
        w.clock.advance(31 * 60)
        with pytest.raises(Unauthenticated):
            await staff.session_for(w.ctx, idle.token)

        busy = await staff.open_session(w.ctx, member, "10.0.0.1", None)
        for _ in range(12 * 4):
            w.clock.advance(15 * 60)
            try:
                await staff.session_for(w.ctx, busy.token)
            except Unauthenticated:
                break
        assert w.clock.now() - busy.session.created_at >= timedelta(hours=12)
        with pytest.raises(Unauthenticated):
            await staff.session_for(w.ctx, busy.token)

        gone = await staff.open_session(w.ctx, member, "10.0.0.1", None)
        await staff.sign_out(w.ctx, gone, "r2")
        with pytest.raises(Unauthenticated):
            await staff.session_for(w.ctx, gone.token)
        for junk in (None, "", "x" * 43, "not a token"):
            with pytest.raises(Unauthenticated):
                await staff.session_for(w.ctx, junk)

    run(go())


def test_a_new_password_ends_every_session_of_the_account() -> None:
    w = fake_passwords_world()

    async def go() -> None:
        await _account(w)
        member = StaffMember("tina", Role.TELLER)
        sessions = [await staff.open_session(w.ctx, member, "10.0.0.1", None) for _ in range(2)]
        await staff.set_password(w.ctx, CLI, "tina", "another long secret", passwords=w.passwords)
        for s in sessions:
            with pytest.raises(Unauthenticated):
                await staff.session_for(w.ctx, s.token)
        with pytest.raises(WeakPassword):
            await staff.set_password(w.ctx, CLI, "tina", "tina-tina-tina-1", passwords=w.passwords)
        with pytest.raises(UnknownStaff):
            await staff.set_password(w.ctx, CLI, "nobody", "another long secret", passwords=w.passwords)

    run(go())


def test_the_csrf_token_belongs_to_its_session() -> None:
    w = fake_passwords_world()

    async def go() -> None:
        await _account(w)
        a = await staff.open_session(w.ctx, StaffMember("tina", Role.TELLER), "", None)
        b = await staff.open_session(w.ctx, StaffMember("tina", Role.TELLER), "", None)
        staff.check_csrf(a.token, a.csrf_token)
        for header in (None, "", b.csrf_token, a.token):
            with pytest.raises(CsrfRefused):
                staff.check_csrf(a.token, header)

    run(go())


def test_admin_changes_are_audited_and_an_admin_cannot_lock_themselves_out() -> None:
    w = fake_passwords_world()

    async def go() -> None:
        await _account(w, "root", Role.ADMIN)
        await _account(w, "tina", Role.TELLER)
        admin = Actor("root", "admin", "req-7")
        with pytest.raises(SelfLockout):
            await staff.update_account(w.ctx, admin, "root", disabled=True, by=ADMIN)
        with pytest.raises(SelfLockout):
            await staff.update_account(w.ctx, admin, "root", role=Role.MANAGER, by=ADMIN)
        with pytest.raises(Forbidden):
            await staff.update_account(w.ctx, admin, "root", disabled=True, by=StaffMember("tina", Role.TELLER))
        saved = await staff.update_account(w.ctx, admin, "tina", role=Role.MANAGER, by=ADMIN)
        assert saved.role is Role.MANAGER
        last = w.db.tables.audit[-1].event
        assert (last.actor, last.role, last.action, last.subject, last.request_id) == (
            "root", "admin", "staff_changed", "staff:tina", "req-7")
        assert last.before is not None and last.after is not None
        assert (last.before["role"], last.after["role"]) == ("teller", "manager")

    run(go())


def test_the_audit_chain_of_the_fake_verifies_and_an_edit_is_found() -> None:
    w = fake_passwords_world()

    async def go() -> None:
        await _account(w, "tina")
        await _account(w, "mark", Role.MANAGER)
        keeping = AuditKeeping(w.db.audit_key, w.db.audit_head)
        assert (await audit_service.verify_chain(w.ctx, keeping)).ok
        from dataclasses import replace

        first = w.db.tables.audit[0]
        w.db.tables.audit[0] = replace(first, event=replace(first.event, actor="mallory"))
        result = await audit_service.verify_chain(w.ctx, keeping)
        assert not result.ok and result.first_bad_seq == 1

    run(go())
