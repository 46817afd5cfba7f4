"""Campaigns, coupons and points on a real database (SQLite and PostgreSQL): the budget under 200 concurrent
claims and redemptions, the per-customer limit under concurrency, the e-CNY coupon at payment start, and what
refunds, cancellation and expiry give back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

from showroom.audit import Actor
from showroom.campaigns import Campaign, CampaignKind, CampaignState, CouponState
from showroom.errors import ShowroomError
from showroom.orders import OrderStatus
from showroom.services import campaigns, orders, payments, refunds
from showroom.services.orders import Customer, PlaceOrder
from showroom.services.payments import StartPayment
from showroom.services.refunds import RequestRefund
from showroom.staff import FourEyesViolation, Role, StaffMember
from tests.commerce_fakes import make_catalog
from tests.integration.commerce_db import DB_KINDS, commerce_on
from tests.integration.test_sql_commerce import World, notify

pytestmark = pytest.mark.asyncio

ALICE = StaffMember("alice", Role.MANAGER)
BOB = StaffMember("bob", Role.MANAGER)
TELLER = StaffMember("tom", Role.TELLER)


@pytest_asyncio.fixture(params=DB_KINDS)
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    async with commerce_on(request.param, tmp_path, make_catalog(bar_stock=500)) as c:
        yield World(c.ctx, c.gw, c.clock, c.db, c.bus, c.url)


async def live_campaign(w: World, **kw: object) -> Campaign:
    now = w.clock.now()
    args: dict[str, object] = {"name": "双十二", "kind": CampaignKind.AMOUNT_OFF, "budget_fen": 100_000,
                               "per_customer_limit": 1, "starts_at": now - timedelta(hours=1),
                               "ends_at": now + timedelta(days=1), "amount_off_fen": 1_000}
    args.update(kw)
    c = await campaigns.create_campaign(w.ctx, campaigns.NewCampaign(**args), ALICE,  # type: ignore[arg-type]
                                        Actor("alice", "manager"))
    assert c.state is CampaignState.PENDING_APPROVAL
    return await campaigns.decide_campaign(w.ctx, c.id, CampaignState.ACTIVE, BOB, Actor("bob", "manager"))


def phone(i: int) -> str:
    return f"139{i:08d}"


async def test_a_campaign_is_approved_by_a_second_manager_and_audited(world: World) -> None:
    now = world.clock.now()
    cmd = campaigns.NewCampaign("满减", CampaignKind.AMOUNT_OFF, 100_000, 1, now, now + timedelta(days=1),
                                amount_off_fen=1000)
    with pytest.raises(ShowroomError) as denied:
        await campaigns.create_campaign(world.ctx, cmd, TELLER, Actor("tom", "teller"))
    assert denied.value.http_status == 403
    c = await campaigns.create_campaign(world.ctx, cmd, ALICE, Actor("alice", "manager"))
    with pytest.raises(FourEyesViolation):
        await campaigns.decide_campaign(world.ctx, c.id, CampaignState.ACTIVE, ALICE, Actor("alice", "manager"))
    with pytest.raises(ShowroomError):  # not live yet: no claims
        await campaigns.claim(world.ctx, phone(1), campaign_id=c.id)
    await campaigns.decide_campaign(world.ctx, c.id, CampaignState.ACTIVE, BOB, Actor("bob", "manager"))
    with pytest.raises(ShowroomError) as hidden:  # not public: by id it is unknown; by code it is claimable
        await campaigns.claim(world.ctx, phone(1), campaign_id=c.id)
    assert hidden.value.http_status == 404
    got = await campaigns.claim(world.ctx, phone(1), code=c.code.lower())
    assert got.coupon.reserved_fen == 1000
    async with world.db.uow() as uow:
        actions = [e.event.action for e in await uow.audit_entries(subject=f"campaign:{c.id}", limit=50)]
    assert {"campaign_created", "campaign_approved", "coupon_granted"} <= set(actions)


async def test_200_concurrent_claims_never_spend_more_than_the_1000_cny_budget(world: World) -> None:
    c = await live_campaign(world, budget_fen=100_000, amount_off_fen=1_300, public=True)  # 13 CNY: 76 fit
    results = await asyncio.gather(*(campaigns.claim(world.ctx, phone(i), campaign_id=c.id) for i in range(200)),
                                   return_exceptions=True)
    won = [r for r in results if isinstance(r, campaigns.Claimed)]
    lost = [r for r in results if not isinstance(r, campaigns.Claimed)]
    assert len(won) == 100_000 // 1_300 == 76
    assert all(getattr(e, "code", "") == "campaign_exhausted" for e in lost), lost[:3]
    got = await campaigns.get_campaign(world.ctx, c.id)
    assert got.remaining_fen == 100_000 - 76 * 1_300 >= 0
    async with world.db.uow() as uow:
        grants = await uow.audit_entries(subject=f"campaign:{c.id}", limit=500)
    assert sum(1 for e in grants if e.event.action == "coupon_granted") == 76


async def test_200_concurrent_orders_redeeming_by_code_never_pay_out_more_than_the_budget(world: World) -> None:
    c = await live_campaign(world, budget_fen=100_000, kind=CampaignKind.PERCENT_OFF, percent=Decimal("5"),
                            cap_fen=700, amount_off_fen=0)  # 10 g bar ~9,419 CNY: 5% > 7 CNY cap

    async def buy(i: int) -> object:
        q = await orders.quote(world.ctx, "bar-50g", "au9999-10g", 1)
        return await orders.place_order(world.ctx, PlaceOrder(q.id, Customer(None, phone(i)), coupon=c.code))

    results = await asyncio.gather(*(buy(i) for i in range(200)), return_exceptions=True)
    placed = [r for r in results if isinstance(r, orders.PlacedOrder)]
    lost = [r for r in results if not isinstance(r, orders.PlacedOrder)]
    assert len(placed) == 100_000 // 700 == 142
    assert all(getattr(e, "code", "") == "campaign_exhausted" for e in lost), lost[:3]
    got = await campaigns.get_campaign(world.ctx, c.id)
    async with world.db.uow() as uow:
        paid_out = await uow.campaigns.redeemed_fen(c.id)
    assert paid_out == 142 * 700 and paid_out + got.remaining_fen == 100_000 and got.remaining_fen >= 0
    for p in placed:
        o = p.details.order
        async with world.db.uow() as uow:
            q = await uow.get_quote(o.quote_id)
        assert o.amount_fen == q.total_fen - 700


async def test_the_per_customer_limit_holds_under_concurrent_claims_of_one_customer(world: World) -> None:
    c = await live_campaign(world, per_customer_limit=2, public=True)
    results = await asyncio.gather(*(campaigns.claim(world.ctx, phone(7), campaign_id=c.id) for _ in range(20)),
                                   return_exceptions=True)
    won = [r for r in results if isinstance(r, campaigns.Claimed)]
    assert len(won) == 2
    assert all(getattr(e, "code", "") == "claim_limit_reached" for e in results if e not in won)
    # the verified customer, not the typed name: another name with the same number is the same customer
    q = await orders.quote(world.ctx, "bar-50g", "au9999-10g", 1)
    await orders.place_order(world.ctx, PlaceOrder(q.id, Customer("Someone Else", phone(7)), coupon=c.code))
    with pytest.raises(ShowroomError) as err:
        await campaigns.claim(world.ctx, phone(7), campaign_id=c.id)
    assert err.value.code == "claim_limit_reached"


async def test_ecny_coupon_refused_for_card_then_paid_by_ecny_and_a_full_refund_returns_it(world: World) -> None:
    c = await live_campaign(world, ecny_only=True, amount_off_fen=5_000, public=True)
    world.gw.wallets[phone(3)] = 1  # a tier-1 wallet: the bar fits its limits
    claimed = await campaigns.claim(world.ctx, phone(3), campaign_id=c.id)
    q = await orders.quote(world.ctx, "bar-50g", "au9999-10g", 1)
    shown = await campaigns.preview(world.ctx, q.id, phone(3), claimed.coupon.id, 0)
    assert [line.amount_fen for line in shown.lines] == [5_000] and shown.ecny_only
    placed = await orders.place_order(world.ctx, PlaceOrder(q.id, Customer(None, phone(3)), coupon=claimed.coupon.id))
    order_id = placed.details.order.id
    assert placed.details.order.amount_fen == q.total_fen - 5_000
    with pytest.raises(ShowroomError) as refused:
        await payments.start_payment(world.ctx, StartPayment(order_id, "card"), "k-card")
    assert (refused.value.http_status, refused.value.code) == (422, "coupon_requires_ecny")
    p = await payments.start_payment(world.ctx, StartPayment(order_id, "ecny_wallet"), "k-ecny")
    assert p.amount_fen == q.total_fen - 5_000 and p.gateway_payment_id
    await notify(world, world.gw.complete(p.gateway_payment_id), p.gateway_payment_id)
    async with world.db.uow() as uow:
        earned = await uow.campaigns.points_balance(f"cust_{phone(3)}")
        cp = await uow.campaigns.get_coupon(claimed.coupon.id)
    assert earned == (q.total_fen - 5_000) // 1000 and cp is not None and cp.state is CouponState.REDEEMED
    rf = await refunds.request_refund(world.ctx, RequestRefund(order_id), "r1")
    world.gw.finish_refund(rf.gateway_refund_id or "")
    await notify(world, "refund.succeeded", p.gateway_payment_id, refund_id=rf.gateway_refund_id)
    got = await orders.get_order(world.ctx, order_id)
    assert got.order.status is OrderStatus.REFUNDED
    async with world.db.uow() as uow:
        cp = await uow.campaigns.get_coupon(claimed.coupon.id)
        balance = await uow.campaigns.points_balance(f"cust_{phone(3)}")
    assert cp is not None and cp.state is CouponState.AVAILABLE and cp.reserved_fen == 5_000
    assert balance == 0  # the earned points went back with the money


async def test_points_are_earned_redeemed_and_returned_pro_rata_on_a_partial_refund(world: World) -> None:
    cust = f"cust_{phone(4)}"
    async with world.db.uow() as uow:
        await uow.campaigns.grant_points(cust, 10_000, "test", "seed", world.clock.now())
        await uow.commit()
    q = await orders.quote(world.ctx, "bar-50g", "au9999-10g", 1)
    placed = await orders.place_order(world.ctx, PlaceOrder(q.id, Customer(None, phone(4)), points=10_000))
    o = placed.details.order
    assert o.amount_fen == q.total_fen - 10_000  # 10,000 points = 100.00 CNY
    async with world.db.uow() as uow:
        assert await uow.campaigns.points_balance(cust) == 0
    with pytest.raises(ShowroomError) as err:  # nothing left to spend a second time
        q2 = await orders.quote(world.ctx, "bar-50g", "au9999-10g", 1)
        await orders.place_order(world.ctx, PlaceOrder(q2.id, Customer(None, phone(4)), points=100))
    assert err.value.code == "not_enough_points"
    p = await payments.start_payment(world.ctx, StartPayment(o.id, "card"), "k")
    assert p.gateway_payment_id
    await notify(world, world.gw.complete(p.gateway_payment_id), p.gateway_payment_id)
    earned = o.amount_fen // 1000
    half = o.amount_fen // 2
    rf = await refunds.request_refund(world.ctx, RequestRefund(o.id, half), "r-half")
    world.gw.finish_refund(rf.gateway_refund_id or "")
    await notify(world, "refund.succeeded", p.gateway_payment_id, refund_id=rf.gateway_refund_id)
    async with world.db.uow() as uow:
        balance = await uow.campaigns.points_balance(cust)
    assert balance == earned + 10_000 * half // o.amount_fen - earned * half // o.amount_fen


async def test_a_cancelled_order_gives_its_coupon_and_points_back(world: World) -> None:
    c = await live_campaign(world, public=True)
    cust = f"cust_{phone(5)}"
    async with world.db.uow() as uow:
        await uow.campaigns.grant_points(cust, 500, "test", "seed5", world.clock.now())
        await uow.commit()
    q = await orders.quote(world.ctx, "bar-50g", "au9999-10g", 1)
    placed = await orders.place_order(world.ctx, PlaceOrder(q.id, Customer(None, phone(5)), coupon=c.code,
                                                             points=500))
    assert placed.details.order.amount_fen == q.total_fen - 1_000 - 500
    assert placed.token
    await orders.cancel(world.ctx, placed.details.order.id, placed.token)
    async with world.db.uow() as uow:
        assert await uow.campaigns.points_balance(cust) == 500
        mine = await uow.campaigns.coupons_of(cust, c.id)
    assert [cp.state for cp in mine] == [CouponState.AVAILABLE]
    world.clock.advance(1)
    q = await orders.quote(world.ctx, "bar-50g", "au9999-10g", 1)
    again = await orders.place_order(world.ctx, PlaceOrder(q.id, Customer(None, phone(5)), coupon=c.code))
    assert again.details.order.amount_fen == q.total_fen - 1_000
    world.clock.advance(world.settings.reservation_ttl_s + 1)
    assert await orders.expire_due(world.ctx) == 1
    async with world.db.uow() as uow:
        assert [cp.state for cp in await uow.campaigns.coupons_of(cust, c.id)] == [CouponState.AVAILABLE]


async def test_a_disabled_campaign_stops_claims_and_redemptions(world: World) -> None:
    c = await live_campaign(world, public=True)
    await campaigns.claim(world.ctx, phone(6), campaign_id=c.id)
    await campaigns.decide_campaign(world.ctx, c.id, CampaignState.DISABLED, ALICE, Actor("alice", "manager"))
    q = await orders.quote(world.ctx, "bar-50g", "au9999-10g", 1)
    with pytest.raises(ShowroomError) as err:
        await orders.place_order(world.ctx, PlaceOrder(q.id, Customer(None, phone(6)), coupon=c.code))
    assert err.value.code == "coupon_not_applicable"
    assert await campaigns.public_campaigns(world.ctx) == []

