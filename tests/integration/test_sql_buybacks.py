"""Buy-backs on a real database (SQLite and PostgreSQL): the whole life of one (quote, booking with its slot,
inspection, payout, signed notifications applied once), the serial linked to the original sale and its
certificate revoked, a serial never bought twice even by concurrent inspections, and a payout that could not be
sent is sent later with the same idempotency key."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

from showroom.adapters.certificate_sql import SqlCertificates
from showroom.adapters.sql import SqlDatabase
from showroom.audit import Actor
from showroom.branches import load_branches
from showroom.buyback import BuybackStatus, Condition
from showroom.buyback_ports import PayoutReply, PayoutRequest
from showroom.certificates import CertificateRecord, CertificateStatus, new_serial
from showroom.ports import PaymentGatewayUnavailable
from showroom.services import Commerce, buyback_payouts, buybacks, pickups, recovery
from showroom.services.orders import Customer
from showroom.signing import sign
from tests.commerce_fakes import SECRET, FakeGateway, FixedPrices, ManualClock
from tests.integration.commerce_db import DB_KINDS, commerce_on
from tests.unit.test_branches import BRANCH, TUESDAY, at_local

pytestmark = pytest.mark.asyncio
TELLER = Actor("teller1", "teller", "req-1")
WANG = Customer("王芳", "13800000000")
TEN = at_local(TUESDAY, 10)


@dataclass
class PayingGateway(FakeGateway):
    """The fake backend with payouts: idempotent by key, to the account of record of a customer id."""

    payouts: dict[str, PayoutRequest] = field(default_factory=dict)
    payout_keys: dict[str, str] = field(default_factory=dict)
    payouts_down: bool = False

    async def create_payout(self, request: PayoutRequest) -> PayoutReply:
        if self.payouts_down:
            raise PaymentGatewayUnavailable("backend down")
        pid = self.payout_keys.setdefault(request.idempotency_key, "po_" + secrets.token_hex(6))
        self.payouts.setdefault(pid, request)
        return PayoutReply(pid, "pending", "6222 **** **** 0001")

    async def query_payout(self, payout_id: str) -> PayoutReply:
        return PayoutReply(payout_id, "pending", "6222 **** **** 0001")

    def payout_notice(self, payout_id: str, event_type: str = "payout.succeeded", event_id: str | None = None,
                      amount_fen: int | None = None) -> tuple[bytes, str]:
        r = self.payouts[payout_id]
        data = {"payout_id": payout_id, "reference": r.reference, "customer_id": r.customer_id, "currency": "CNY",
                "amount_fen": r.amount_fen if amount_fen is None else amount_fen,
                "status": event_type.split(".")[1]}
        body = json.dumps({"id": event_id or "evt_" + secrets.token_hex(6), "type": event_type,
                           "created": int(self.clock.now().timestamp()), "data": data}).encode()
        return body, sign(SECRET, int(self.clock.now().timestamp()), body)


@dataclass
class World:
    ctx: Commerce
    gw: PayingGateway
    clock: ManualClock
    db: SqlDatabase


@pytest_asyncio.fixture(params=DB_KINDS)
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    async with commerce_on(request.param, tmp_path) as c:
        gw = PayingGateway(c.clock)
        ctx = replace(c.ctx, gateway=gw)
        assert isinstance(ctx.prices, FixedPrices)
        ctx.prices.bid_spread = Decimal("4.00")
        await pickups.load_branches(ctx, load_branches(BRANCH.replace("advisory_capacity = 1",
                                                                      "advisory_capacity = 5")))
        yield World(ctx, gw, c.clock, c.db)


async def booked(w: World, quantity: int = 1, customer: Customer = WANG) -> tuple[str, str, str]:
    q = await buybacks.quote(w.ctx, "bar-50g", "au9999-50g", quantity)
    assert q.token is not None
    got = await buybacks.book(w.ctx, q.buyback.id, q.token, buybacks.BookBuyback("sh-test", TEN, customer))
    assert got.code is not None
    return q.buyback.id, q.token, got.code


def inspection(code: str, *pieces: tuple[str | None, str, Condition], name: str = "王芳") -> buybacks.Inspection:
    return buybacks.Inspection("sh-test", code, True, name,
                               tuple(buybacks.PresentedPiece(s, Decimal(g), c) for s, g, c in pieces))


async def certificate(w: World, order_id: str = "ord_original") -> CertificateRecord:
    record = CertificateRecord("crt_" + secrets.token_hex(6), new_serial("HJB", w.clock.now()), order_id, 1, 0,
                               "王芳", "13800000000", {"v": 1}, CertificateStatus.VALID, w.clock.now())
    async with w.db.uow() as uow:
        await SqlCertificates(uow.conn, w.db.is_sqlite).add(record)
        await uow.commit()
    return record


async def test_a_buyback_goes_from_quote_to_booking_inspection_and_payout_once(world: World) -> None:
    original = await certificate(world)
    bid, token, code = await booked(world)
    world.clock.t = TEN
    done = await buybacks.inspect(world.ctx, inspection(code, (original.serial, "49.995", Condition.INTACT)), TELLER)
    assert done.status is BuybackStatus.PAYOUT_PENDING and done.amount_fen == 4629537  # 926 x 0.9999 x 50
    assert done.pieces[0].original_order_id == "ord_original" and done.pieces[0].certificate_note == "ours"
    [request] = world.gw.payouts.values()
    assert request.customer_id == "cust_13800000000" and request.amount_fen == done.amount_fen
    assert request.notify_url == "http://node/api/buybacks/notify"
    body, sig = world.gw.payout_notice(done.payout_id or "", event_id="evt_1")
    first = await buyback_payouts.handle_payout_notice(world.ctx, body, sig)
    again = await buyback_payouts.handle_payout_notice(world.ctx, body, sig)
    assert (first.duplicate, first.status, again.duplicate) == (False, "paid_out", True)
    body2, sig2 = world.gw.payout_notice(done.payout_id or "", event_id="evt_2")  # a second event, same payout
    assert (await buyback_payouts.handle_payout_notice(world.ctx, body2, sig2)).status == "paid_out"
    got = await buybacks.get(world.ctx, bid, token)
    assert got.buyback.status is BuybackStatus.PAID_OUT and got.code is None
    async with world.db.uow() as uow:
        [cert] = await SqlCertificates(uow.conn, world.db.is_sqlite).by_serial(original.serial)
        trail = [e.event.action for e in await uow.audit_entries(subject=f"buyback:{bid}", newest_first=False)]
    assert cert.status == CertificateStatus.REVOKED and cert.revoke_reason == "bought back by the bank"
    assert trail == ["buyback_quoted", "buyback_booked", "buyback_inspected", "buyback_payout_sent",
                     "buyback_paid_out"]


async def test_a_serial_is_never_bought_twice_even_by_concurrent_inspections(world: World) -> None:
    original = await certificate(world)
    (_, _, code1), (_, _, code2) = await booked(world), await booked(world)
    world.clock.t = TEN
    results = await asyncio.gather(*(buybacks.inspect(world.ctx, inspection(c, (original.serial, "50",
                                                                                Condition.INTACT)), TELLER)
                                     for c in (code1, code2)))
    assert sorted(r.status.value for r in results) == ["payout_pending", "rejected"]
    rejected = next(r for r in results if r.status is BuybackStatus.REJECTED)
    assert rejected.pieces[0].reason == "serial_bought_back"
    assert len(world.gw.payouts) == 1


async def test_a_payout_the_backend_could_not_take_is_sent_later_with_the_same_key(world: World) -> None:
    _, _, code = await booked(world)
    world.clock.t = TEN
    world.gw.payouts_down = True
    done = await buybacks.inspect(world.ctx, inspection(code, (None, "50", Condition.WORN)), TELLER)
    assert done.status is BuybackStatus.ACCEPTED and world.gw.payouts == {}
    world.gw.payouts_down = False
    assert (await recovery.sweep(world.ctx))["payouts_sent"] == 1  # the sweeper's pass sends it
    assert await buyback_payouts.send_due_payouts(world.ctx) == 0
    [(key, pid)] = world.gw.payout_keys.items()
    assert key == f"buyback:{done.id}:0" and world.gw.payouts[pid].amount_fen == 4629537 - 9999


async def test_a_mismatched_or_forged_payout_notice_changes_nothing(world: World) -> None:
    from showroom.services.notices import NoticeMismatch
    from showroom.signing import PaymentSignatureInvalid

    _, _, code = await booked(world)
    world.clock.t = TEN
    done = await buybacks.inspect(world.ctx, inspection(code, (None, "50", Condition.INTACT)), TELLER)
    body, sig = world.gw.payout_notice(done.payout_id or "", amount_fen=1)
    with pytest.raises(NoticeMismatch):
        await buyback_payouts.handle_payout_notice(world.ctx, body, sig)
    body, _ = world.gw.payout_notice(done.payout_id or "")
    with pytest.raises(PaymentSignatureInvalid):
        await buyback_payouts.handle_payout_notice(world.ctx, body, "t=1,v1=00")
    assert (await buybacks.on_day(world.ctx, "sh-test", TUESDAY))[0].status is BuybackStatus.PAYOUT_PENDING


async def test_the_teller_is_refused_a_name_that_differs_and_an_expired_lock(world: World) -> None:
    from showroom.branches import NameMismatch
    from showroom.buyback import BuybackExpired

    _, _, code = await booked(world)
    world.clock.t = TEN
    with pytest.raises(NameMismatch):
        await buybacks.inspect(world.ctx, inspection(code, (None, "50", Condition.INTACT), name="李雷"), TELLER)
    world.clock.t = (await buybacks.find_by_code(world.ctx, "sh-test", code)).lock_ends()
    with pytest.raises(BuybackExpired):
        await buybacks.inspect(world.ctx, inspection(code, (None, "50", Condition.INTACT)), TELLER)
    [b] = await buybacks.on_day(world.ctx, "sh-test", TUESDAY)
    assert b.status is BuybackStatus.EXPIRED and world.gw.payouts == {}
