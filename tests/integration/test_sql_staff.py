"""Staff and the audit trail on a real database (SQLite and PostgreSQL): accounts, sessions and four-eyes
refunds with real transactions; the audit chain stays one chain under concurrent appends; a row changed behind
the application's back is found by `showroom audit verify`, which names it."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text

from showroom.adapters import migrate
from showroom.adapters.bus import InProcessBus
from showroom.adapters.sql import SqlDatabase
from showroom.audit import SYSTEM, Actor
from showroom.bootstrap import audited_database
from showroom.identity import SignInAttempt, totp_code
from showroom.orders import OrderStatus
from showroom.ports import UnitOfWork
from showroom.services import Commerce, backoffice, notices, orders, payments, refunds
from showroom.services import audit as audit_service
from showroom.services import staff as staff_service
from showroom.services._uow import Outcome, transact
from showroom.services.audit import AuditKeeping
from showroom.services.orders import Customer, PlaceOrder
from showroom.services.payments import StartPayment
from showroom.services.refunds import RequestRefund
from showroom.settings import CommerceSettings
from showroom.staff import (
    ApprovalState,
    FourEyesViolation,
    RefundApproval,
    Role,
    StaffMember,
    Unauthenticated,
)
from tests.commerce_fakes import (
    SECRET,
    FakeCustomers,
    FakeGateway,
    FixedPrices,
    ManualClock,
    fast_passwords,
    make_catalog,
)
from tests.integration.commerce_db import DB_KINDS, database_url

pytestmark = pytest.mark.asyncio
PASSWORD = "correct horse battery"


@dataclass
class World:
    ctx: Commerce
    gw: FakeGateway
    clock: ManualClock
    db: SqlDatabase
    keeping: AuditKeeping
    url: str
    data_dir: Path


@pytest_asyncio.fixture(params=DB_KINDS)
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    gen = database_url(request.param, tmp_path)
    url = await gen.__anext__()
    clock = ManualClock()
    settings = CommerceSettings(database_url=url, payment_webhook_secret=SECRET, public_base_url="http://node",
                                data_dir=tmp_path / "data")
    db, keeping = audited_database(settings)
    await migrate.upgrade(db)
    gw, bus = FakeGateway(clock), InProcessBus()
    ctx = Commerce(catalog=make_catalog(), settings=settings, uow=db.uow, gateway=gw, prices=FixedPrices(clock),
                   bus=bus, clock=clock, customers=FakeCustomers())
    try:
        yield World(ctx, gw, clock, db, keeping, url, tmp_path / "data")
    finally:
        await db.close()
        await bus.close()
        with contextlib.suppress(StopAsyncIteration):
            await gen.__anext__()


async def _paid_order(w: World) -> str:
    q = await orders.quote(w.ctx, "bar-50g", "au9999-10g")
    order_id = (await orders.place_order(w.ctx, PlaceOrder(q.id, Customer("王芳", "13800000000")))).details.order.id
    p = await payments.start_payment(w.ctx, StartPayment(order_id, "card"), "p1")
    assert p.gateway_payment_id is not None
    body, sig = w.gw.notice(w.gw.complete(p.gateway_payment_id), p.gateway_payment_id)
    await notices.handle_payment_notice(w.ctx, body, sig)
    return order_id


async def test_accounts_sign_in_and_sessions_on_a_real_database(world: World) -> None:
    passwords = fast_passwords()
    cli = Actor("cli:test", "operator")
    new = await staff_service.create_account(world.ctx, cli, "tina", Role.TELLER, "Tina", PASSWORD,
                                             passwords=passwords)
    directory = staff_service.LocalStaffDirectory(world.ctx, passwords)
    member = await directory.sign_in(SignInAttempt("tina", PASSWORD, totp_code(new.totp_secret, world.clock.now()),
                                                   "10.0.0.1"))
    session = await staff_service.open_session(world.ctx, member, "10.0.0.1", "r1")
    assert (await staff_service.session_for(world.ctx, session.token)).member.role is Role.TELLER
    world.clock.advance(120)
    await staff_service.session_for(world.ctx, session.token)  # touches last_seen
    await staff_service.update_account(world.ctx, cli, "tina", role=Role.MANAGER)
    with pytest.raises(Unauthenticated):  # a new role ends the sessions
        await staff_service.session_for(world.ctx, session.token)
    assert [a.role for a in await staff_service.list_accounts(world.ctx)] == [Role.MANAGER]


async def test_four_eyes_refund_and_the_order_story_on_a_real_database(world: World) -> None:
    order_id = await _paid_order(world)
    tina, mark = StaffMember("tina", Role.TELLER), StaffMember("mark", Role.MANAGER)
    pending = await refunds.staff_refund(world.ctx, RequestRefund(order_id, 600000, "dent"), "k1", tina,
                                         Actor("tina", "teller", "r1"))
    assert isinstance(pending, RefundApproval)
    with pytest.raises(FourEyesViolation):
        await refunds.approve(world.ctx, pending.id, tina, Actor("tina", "teller", "r2"))
    approved, refund = await refunds.approve(world.ctx, pending.id, mark, Actor("mark", "manager", "r3"))
    assert approved.state is ApprovalState.APPROVED and refund.amount_fen == 600000
    story = await backoffice.order_story(world.ctx, order_id)
    assert story.quote is not None and len(story.payments) == 1 and len(story.refunds) == 1
    actions = [(e.event.action, e.event.actor) for e in story.audit]
    assert actions[0] == ("order_placed", "customer") and ("paid", "payment_backend") in actions
    assert ("refund_approval_requested", "tina") in actions and ("refund_approved", "mark") in actions
    page = await backoffice.list_orders(world.ctx, backoffice.OrderQuery(text="13800000000"))
    assert page.total == 1 and page.orders[0].id == order_id
    assert (await backoffice.list_orders(world.ctx, backoffice.OrderQuery(status=OrderStatus.CANCELLED))).total == 0
    assert (await audit_service.verify_chain(world.ctx, world.keeping)).ok
    head = world.keeping.kept_head()
    assert head is not None and head.seq == await _count(world)


async def _count(w: World) -> int:
    async with w.ctx.uow() as uow:
        return await uow.audit_count()


async def _append(w: World, i: int) -> None:
    async def work(uow: UnitOfWork, out: Outcome) -> None:
        await uow.append_audit(SYSTEM.event(w.clock.now(), "probe", f"probe:{i}", after={"i": i}))

    await transact(w.ctx, work)


async def test_concurrent_appends_make_one_unbroken_chain(world: World) -> None:
    await asyncio.gather(*(_append(world, i) for i in range(40)))
    async with world.ctx.uow() as uow:
        entries = await uow.audit_scan(0, 1000)
    assert [e.seq for e in entries] == list(range(1, 41))
    assert sorted(e.event.after["i"] for e in entries if e.event.after) == list(range(40))
    assert (await audit_service.verify_chain(world.ctx, world.keeping)).ok


def _showroom(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "render_node", *args], capture_output=True, text=True, timeout=120,
                          check=False)


async def test_a_row_changed_in_the_database_is_named_by_audit_verify(world: World) -> None:
    for i in range(5):
        await _append(world, i)
    flags = ("--database-url", world.url, "--data-dir", str(world.data_dir))
    ok = await asyncio.to_thread(_showroom, "audit", "verify", *flags)
    assert ok.returncode == 0 and "audit ok: 5 entries" in ok.stdout, ok.stdout + ok.stderr
    async with world.db.engine.begin() as conn:
        await conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"))
    bad = await asyncio.to_thread(_showroom, "audit", "verify", *flags)
    assert bad.returncode == 1 and "entry 3" in bad.stdout, bad.stdout + bad.stderr
    async with world.db.engine.begin() as conn:
        await conn.execute(text("UPDATE audit_log SET actor = 'system' WHERE seq = 3"))
        await conn.execute(text("DELETE FROM audit_log WHERE seq = 5"))
        await conn.execute(text("UPDATE audit_head SET seq = 4"))
    cut = await asyncio.to_thread(_showroom, "audit", "verify", "--json", *flags)
    assert cut.returncode == 1 and '"first_bad_seq": 5' in cut.stdout, cut.stdout + cut.stderr

