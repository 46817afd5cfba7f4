"""Campaigns, coupons and points (rules: `showroom.campaigns`; contract: docs/commerce.md, "Coupons and points").

Staff: a manager creates a campaign (`pending_approval`), another manager approves it (four eyes; it spends the
bank's money) or it stays off; either can disable it. Customers: claim a coupon (a public campaign with one
click, any campaign with its code), see the discount lines of a quote (`preview`), and place the order with the
coupon and points (`redeem_at_order`, inside the order's transaction). The payment start refuses another method
than the e-CNY wallet for an order holding an e-CNY coupon (`check_payment_method`). Paid orders earn points
(`on_paid`); refunds, cancellation and expiry give coupons and points back (`on_refunded`, `on_released`).

Who the customer is comes from the bank's customer-information service (the verified `customer_id` for the
mobile number): limits, coupons and points key on it, never on a typed name. Every grant (a coupon claimed,
points earned or given back, a coupon given back) and every staff decision goes to the audit log.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from showroom.audit import CUSTOMER, PAYMENT_BACKEND, SYSTEM, Actor, order_subject
from showroom.campaigns import (
    Campaign,
    CampaignExhausted,
    CampaignKind,
    CampaignNotFound,
    CampaignState,
    CampaignStore,
    ClaimLimitReached,
    Coupon,
    CouponChoice,
    CouponNotApplicable,
    CouponRequiresEcny,
    CouponState,
    Discounts,
    LineKind,
    NotEnoughPoints,
    OrderCampaignState,
    PointsRules,
    new_code,
    normalise_code,
    price_discounts,
    pro_rata,
)
from showroom.errors import InvalidInput, ShowroomError
from showroom.orders import Order, OrderStatus
from showroom.ports import UnitOfWork
from showroom.pricing import Quote
from showroom.services._uow import Commerce, Outcome, transact
from showroom.staff import FourEyesViolation, Permission, StaffMember, require

ECNY = "ecny_wallet"


class CampaignDecided(ShowroomError):
    code = "campaign_decided"
    http_status = 409


class NoCampaignStore(ShowroomError):
    code = "campaigns_unavailable"
    http_status = 503


def store_of(uow: UnitOfWork) -> CampaignStore | None:
    """The unit of work's campaign store (`uow.campaigns`); None for a store without one (test fakes of other
    subjects): then no order holds discounts and no points are kept."""
    return cast("CampaignStore | None", getattr(uow, "campaigns", None))


def _store(uow: UnitOfWork) -> CampaignStore:
    store = store_of(uow)
    if store is None:
        raise NoCampaignStore("this database keeps no campaigns")
    return store


def rules(ctx: Commerce) -> PointsRules:
    s = ctx.settings
    return PointsRules(s.points_earn_fen_per_point, s.points_per_cny, s.points_max_share)


def campaign_subject(campaign_id: str) -> str:
    return f"campaign:{campaign_id}"


# -- staff ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewCampaign:
    name: str
    kind: CampaignKind
    budget_fen: int
    per_customer_limit: int
    starts_at: datetime
    ends_at: datetime
    amount_off_fen: int = 0
    percent: Decimal = Decimal(0)
    cap_fen: int = 0
    ecny_only: bool = False
    public: bool = False
    min_spend_fen: int = 0
    product_ids: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()


def _audit_view(c: Campaign) -> dict[str, Any]:
    return {"state": c.state.value, "kind": c.kind.value, "budget_fen": c.budget_fen,
            "remaining_fen": c.remaining_fen, "amount_off_fen": c.amount_off_fen, "percent": str(c.percent),
            "cap_fen": c.cap_fen, "ecny_only": c.ecny_only, "min_spend_fen": c.min_spend_fen,
            "per_customer_limit": c.per_customer_limit, "product_ids": list(c.product_ids), "kinds": list(c.kinds),
            "starts_at": c.starts_at.isoformat(), "ends_at": c.ends_at.isoformat(), "public": c.public}


async def create_campaign(ctx: Commerce, cmd: NewCampaign, by: StaffMember, actor: Actor) -> Campaign:
    require(by, Permission.MANAGE_CAMPAIGNS)
    for product_id in cmd.product_ids:
        ctx.catalog.get(product_id)  # unknown product: 404 now, not a campaign that never applies
    now = ctx.clock.now()
    campaign = Campaign(id="cmp_" + secrets.token_hex(10), name=cmd.name, kind=cmd.kind, code=new_code(),
                        budget_fen=cmd.budget_fen, remaining_fen=cmd.budget_fen,
                        per_customer_limit=cmd.per_customer_limit, starts_at=cmd.starts_at, ends_at=cmd.ends_at,
                        created_by=by.name, created_at=now, amount_off_fen=cmd.amount_off_fen, percent=cmd.percent,
                        cap_fen=cmd.cap_fen, ecny_only=cmd.ecny_only, public=cmd.public,
                        min_spend_fen=cmd.min_spend_fen, product_ids=cmd.product_ids, kinds=cmd.kinds)

    async def work(uow: UnitOfWork, out: Outcome) -> Campaign:
        await _store(uow).add_campaign(campaign)
        await uow.append_audit(actor.event(now, "campaign_created", campaign_subject(campaign.id),
                                           after=_audit_view(campaign)))
        return campaign

    created, _ = await transact(ctx, work)
    return created


async def decide_campaign(ctx: Commerce, campaign_id: str, to: CampaignState, by: StaffMember,
                          actor: Actor) -> Campaign:
    """`active` (approve: a manager other than its creator), `rejected`, or `disabled` (stops claims and new
    redemptions at once; coupons already used stay used)."""
    require(by, Permission.MANAGE_CAMPAIGNS)

    async def work(uow: UnitOfWork, out: Outcome) -> Campaign:
        store = _store(uow)
        c = await store.get_campaign(campaign_id, for_update=True)
        before = c.state
        if to is CampaignState.ACTIVE:
            if c.state is not CampaignState.PENDING_APPROVAL:
                raise CampaignDecided(f"campaign {c.id} is {c.state.value}; only a pending one is approved")
            if by.name == c.created_by:
                raise FourEyesViolation("a campaign is approved by someone other than the person who created it")
        elif to is CampaignState.REJECTED:
            if c.state is not CampaignState.PENDING_APPROVAL:
                raise CampaignDecided(f"campaign {c.id} is {c.state.value}; only a pending one is rejected")
        elif to is CampaignState.DISABLED:
            if c.state is CampaignState.DISABLED:
                return c
        else:
            raise InvalidInput("state must be active, rejected or disabled")
        now = ctx.clock.now()
        c.state, c.decided_by, c.decided_at = to, by.name, now
        await store.save_campaign_state(c)
        action = {CampaignState.ACTIVE: "campaign_approved", CampaignState.REJECTED: "campaign_rejected",
                  CampaignState.DISABLED: "campaign_disabled"}[to]
        await uow.append_audit(actor.event(now, action, campaign_subject(c.id), before={"state": before.value},
                                           after={"state": to.value, "remaining_fen": c.remaining_fen}))
        return c

    decided, _ = await transact(ctx, work)
    return decided


@dataclass(frozen=True)
class CampaignRow:
    campaign: Campaign
    redeemed_fen: int


async def list_campaigns(ctx: Commerce, by: StaffMember) -> list[CampaignRow]:
    require(by, Permission.MANAGE_CAMPAIGNS)
    async with ctx.uow() as uow:
        store = _store(uow)
        return [CampaignRow(c, await store.redeemed_fen(c.id)) for c in await store.campaigns()]


# -- customers ------------------------------------------------------------------------------------------------


async def _customer_id(ctx: Commerce, phone: str) -> str:
    from showroom.services.orders import lookup_customer  # orders imports this module

    facts = await lookup_customer(ctx, phone)
    facts.ensure_may_order()
    return facts.customer_id


async def public_campaigns(ctx: Commerce) -> list[Campaign]:
    """Live public campaigns (one-click claims on the kiosk and phone); their codes are not shown."""
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        store = store_of(uow)
        found = [] if store is None else await store.campaigns(state=CampaignState.ACTIVE, public_only=True)
    return [c for c in found if c.live(now) and c.remaining_fen >= c.max_value_fen]


async def _claim(ctx: Commerce, uow: UnitOfWork, c: Campaign, customer_id: str, now: datetime) -> Coupon:
    store = _store(uow)
    c.ensure_claimable(now)
    count = await store.coupon_count(c.id, customer_id)
    if count >= c.per_customer_limit:
        raise ClaimLimitReached(f"this campaign gives at most {c.per_customer_limit} coupon(s) per customer")
    value = c.max_value_fen
    if not await store.take_budget(c.id, value):
        raise CampaignExhausted("this campaign's budget is spent")
    coupon = Coupon(id="cpn_" + secrets.token_urlsafe(18), campaign_id=c.id, customer_id=customer_id,
                    slot=count + 1, reserved_fen=value, state=CouponState.AVAILABLE, claimed_at=now)
    await store.add_coupon(coupon)
    await uow.append_audit(CUSTOMER.event(now, "coupon_granted", campaign_subject(c.id),
                                          after={"coupon_id": coupon.id, "customer_id": customer_id,
                                                 "reserved_fen": value, "slot": coupon.slot}))
    return coupon


@dataclass(frozen=True)
class Claimed:
    campaign: Campaign
    coupon: Coupon


async def claim(ctx: Commerce, phone: str, *, campaign_id: str | None = None, code: str | None = None) -> Claimed:
    """One coupon for the verified holder of `phone`: of a public campaign by its id (one click), or of any
    running campaign by its code. An unknown or non-public id and an unknown code answer alike (404)."""
    if (campaign_id is None) == (code is None):
        raise InvalidInput("give campaign_id or code")
    customer_id = await _customer_id(ctx, phone)

    async def work(uow: UnitOfWork, out: Outcome) -> Claimed:
        store = _store(uow)
        now = ctx.clock.now()
        c = await _find(store, campaign_id=campaign_id, code=code)
        return Claimed(c, await _claim(ctx, uow, c, customer_id, now))

    claimed, _ = await transact(ctx, work)
    return claimed


async def _find(store: CampaignStore, *, campaign_id: str | None = None, code: str | None = None) -> Campaign:
    unknown = CampaignNotFound("no such campaign")
    if code is not None:
        found = await store.campaign_by_code(normalise_code(code))
        if found is None:
            raise unknown
        return found
    assert campaign_id is not None
    try:
        c = await store.get_campaign(campaign_id)
    except CampaignNotFound:
        raise unknown from None
    if not c.public:
        raise unknown
    return c


async def my_coupons(ctx: Commerce, phone: str) -> tuple[int, list[tuple[Coupon, Campaign]]]:
    """The points balance and the available coupons of the verified holder of `phone`."""
    customer_id = await _customer_id(ctx, phone)
    async with ctx.uow() as uow:
        store = _store(uow)
        coupons = [cp for cp in await store.coupons_of(customer_id) if cp.state is CouponState.AVAILABLE]
        return await store.points_balance(customer_id), [(cp, await store.get_campaign(cp.campaign_id))
                                                         for cp in coupons]


async def _choice(ctx: Commerce, uow: UnitOfWork, customer_id: str, coupon: str | None, now: datetime, *,
                  claim_by_code: bool) -> CouponChoice | None:
    """The coupon named by `coupon`: one of this customer's coupon ids, or a campaign code (this customer's
    available coupon of it, or, `claim_by_code`, a new claim)."""
    if not coupon:
        return None
    store = _store(uow)
    if coupon.startswith("cpn_"):
        cp = await store.get_coupon(coupon)
        if cp is None or cp.customer_id != customer_id:
            raise CouponNotApplicable("no such coupon for this customer")
        return CouponChoice(await store.get_campaign(cp.campaign_id), cp)
    c = await store.campaign_by_code(normalise_code(coupon))
    if c is None:
        raise CouponNotApplicable("no such coupon code")
    mine = [cp for cp in await store.coupons_of(customer_id, c.id) if cp.state is CouponState.AVAILABLE]
    if mine:
        return CouponChoice(c, mine[0])
    if not claim_by_code:
        c.ensure_claimable(now)
        if await store.coupon_count(c.id, customer_id) >= c.per_customer_limit:
            raise ClaimLimitReached(f"this campaign gives at most {c.per_customer_limit} coupon(s) per customer")
        if c.remaining_fen < c.max_value_fen:
            raise CampaignExhausted("this campaign's budget is spent")
        return CouponChoice(c, Coupon("cpn_preview", c.id, customer_id, 0, c.max_value_fen, CouponState.AVAILABLE,
                                      now))
    return CouponChoice(c, await _claim(ctx, uow, c, customer_id, now))


async def preview(ctx: Commerce, quote_id: str, phone: str, coupon: str | None, points: int) -> Discounts:
    """The discount lines of a quote for the verified holder of `phone` (nothing is reserved)."""
    customer_id = await _customer_id(ctx, phone)
    async with ctx.uow() as uow:
        q = await uow.get_quote(quote_id)
        now = ctx.clock.now()
        q.ensure_valid(now)
        product = ctx.catalog.get(q.product_id)
        store = _store(uow)
        choice = await _choice(ctx, uow, customer_id, coupon, now, claim_by_code=False)
        balance = await store.points_balance(customer_id)
        return price_discounts(q.total_fen, product.id, product.kind.value, now, rules(ctx), coupon=choice,
                               points=points, points_balance=balance)


async def redeem_at_order(ctx: Commerce, uow: UnitOfWork, order_id: str, customer_id: str, q: Quote,
                          coupon: str | None, points: int) -> Discounts:
    """Inside the order's transaction: the coupon marked redeemed (what it held beyond the discount goes back to
    the budget), the points taken (conditional: never below zero), the lines kept with the order."""
    now = ctx.clock.now()
    store = _store(uow)
    product = ctx.catalog.get(q.product_id)
    choice = await _choice(ctx, uow, customer_id, coupon, now, claim_by_code=True)
    balance = await store.points_balance(customer_id) if points else None
    found = price_discounts(q.total_fen, product.id, product.kind.value, now, rules(ctx), coupon=choice,
                            points=points, points_balance=balance)
    for line in found.lines:
        if line.kind is LineKind.COUPON and choice is not None:
            cp = choice.coupon
            await store.give_budget(cp.campaign_id, cp.reserved_fen - line.amount_fen)
            cp.state, cp.order_id, cp.discount_fen, cp.reserved_fen = (CouponState.REDEEMED, order_id,
                                                                       line.amount_fen, line.amount_fen)
            await store.save_coupon(cp)
            await uow.append_audit(CUSTOMER.event(now, "coupon_redeemed", order_subject(order_id),
                                                  after={"coupon_id": cp.id, "campaign_id": cp.campaign_id,
                                                         "discount_fen": line.amount_fen,
                                                         "customer_id": customer_id}))
        elif line.kind is LineKind.POINTS:
            if await store.take_points(customer_id, line.points, "redeemed", order_id, now) != line.points:
                raise NotEnoughPoints("not enough points")
            await uow.append_audit(CUSTOMER.event(now, "points_redeemed", order_subject(order_id),
                                                  after={"points": line.points, "discount_fen": line.amount_fen,
                                                         "customer_id": customer_id}))
    if found.lines:
        await store.put_order_state(order_id, customer_id, OrderCampaignState(found.lines))
    return found


async def order_discounts(uow: UnitOfWork, order_id: str) -> OrderCampaignState | None:
    store = store_of(uow)
    found = None if store is None else await store.order_state(order_id)
    return None if found is None else found[1]


async def check_payment_method(uow: UnitOfWork, order: Order, method: str) -> None:
    """An order holding an e-CNY coupon is paid with the e-CNY wallet or not at all (422)."""
    state = await order_discounts(uow, order.id) if order.has_discounts else None
    if state is not None and method != ECNY and any(line.ecny_only for line in state.lines):
        raise CouponRequiresEcny("this order's coupon applies only when paying with the e-CNY wallet; pay with "
                                 "the e-CNY wallet, or cancel the order and order again without the coupon")


def _customer_of(order: Order) -> str | None:
    found = order.customer.get("customer_id")
    return found if isinstance(found, str) and found else None


async def on_paid(ctx: Commerce, uow: UnitOfWork, order: Order, now: datetime) -> None:
    """The order was paid: it earns points (once)."""
    store, customer_id = store_of(uow), _customer_of(order)
    if store is None or customer_id is None:
        return
    earned = rules(ctx).earned(order.paid_fen)
    if earned <= 0 or not await store.grant_points(customer_id, earned, "earned", order.id, now):
        return
    held = await store.order_state(order.id) if order.has_discounts else None  # none without discount lines
    state = OrderCampaignState() if held is None else held[1]
    await store.put_order_state(order.id, customer_id, replace(state, points_earned=earned))
    await uow.append_audit(PAYMENT_BACKEND.event(now, "points_earned", order_subject(order.id),
                                                 after={"points": earned, "customer_id": customer_id,
                                                        "paid_fen": order.paid_fen}))


async def _return_coupon(uow: UnitOfWork, store: CampaignStore, state: OrderCampaignState, order_id: str,
                         now: datetime, why: str) -> OrderCampaignState:
    line = state.coupon_line
    if line is None or line.coupon_id is None or state.coupon_returned:
        return state
    cp = await store.get_coupon(line.coupon_id)
    if cp is None or cp.state is not CouponState.REDEEMED or cp.order_id != order_id:
        return replace(state, coupon_returned=True)
    c = await store.get_campaign(cp.campaign_id)
    if c.live(now):
        # it holds what it gave; it takes back up to its campaign's most again if the budget has it
        top_up = c.max_value_fen - cp.reserved_fen
        if top_up > 0 and await store.take_budget(c.id, top_up):
            cp.reserved_fen += top_up
        cp.state, cp.order_id, cp.discount_fen = CouponState.AVAILABLE, None, 0
        outcome = "available"
    else:
        cp.state = CouponState.LAPSED
        outcome = "lapsed"
    await store.save_coupon(cp)
    await uow.append_audit(SYSTEM.event(now, "coupon_returned", order_subject(order_id),
                                        after={"coupon_id": cp.id, "campaign_id": cp.campaign_id, "state": outcome,
                                               "reserved_fen": cp.reserved_fen, "why": why}))
    return replace(state, coupon_returned=True)


async def _settle_points(uow: UnitOfWork, store: CampaignStore, customer_id: str, state: OrderCampaignState,
                         order_id: str, returned_due: int, reversed_due: int, ref: str, now: datetime,
                         why: str) -> OrderCampaignState:
    give = returned_due - state.points_returned
    take = reversed_due - state.earned_reversed
    if give > 0 and await store.grant_points(customer_id, give, "returned", ref, now):
        state = replace(state, points_returned=state.points_returned + give)
        await uow.append_audit(SYSTEM.event(now, "points_returned", order_subject(order_id),
                                            after={"points": give, "customer_id": customer_id, "why": why}))
    if take > 0:
        taken = await store.take_points(customer_id, take, "earned_reversed", ref, now, down_to_zero=True)
        state = replace(state, earned_reversed=state.earned_reversed + take)  # what was spent is written off
        await uow.append_audit(SYSTEM.event(now, "points_taken_back", order_subject(order_id),
                                            after={"points": taken, "written_off": take - taken,
                                                   "customer_id": customer_id, "why": why}))
    return state


async def on_refunded(ctx: Commerce, uow: UnitOfWork, order: Order, refund_id: str, now: datetime) -> None:
    """A refund of the paying payment landed: full -> the coupon back and all points settled; partial -> points
    pro rata (cumulative over the order's refunds)."""
    store = store_of(uow)
    held = None if store is None else await store.order_state(order.id)
    if store is None or held is None:
        return
    customer_id, state = held
    full = order.status is OrderStatus.REFUNDED or order.refunded_fen >= order.paid_fen
    if full:
        state = await _return_coupon(uow, store, state, order.id, now, "refunded")
        returned_due, reversed_due = state.points_redeemed, state.points_earned
    else:
        returned_due = pro_rata(state.points_redeemed, order.refunded_fen, order.paid_fen)
        reversed_due = pro_rata(state.points_earned, order.refunded_fen, order.paid_fen)
    state = await _settle_points(uow, store, customer_id, state, order.id, returned_due, reversed_due,
                                 f"{order.id}:{refund_id}", now, "refunded" if full else "partially_refunded")
    await store.put_order_state(order.id, customer_id, state)


async def on_released(ctx: Commerce, uow: UnitOfWork, order: Order, now: datetime) -> None:
    """The order was cancelled or expired unpaid: its coupon and points go straight back."""
    store = store_of(uow)
    held = None if store is None or not order.has_discounts else await store.order_state(order.id)
    if store is None or held is None:
        return
    customer_id, state = held
    state = await _return_coupon(uow, store, state, order.id, now, order.status.value)
    state = await _settle_points(uow, store, customer_id, state, order.id, state.points_redeemed,
                                 state.earned_reversed, f"{order.id}:released", now, order.status.value)
    await store.put_order_state(order.id, customer_id, state)


async def get_campaign(ctx: Commerce, campaign_id: str) -> Campaign:
    async with ctx.uow() as uow:
        return await _store(uow).get_campaign(campaign_id)
