"""Quotes and orders: lock a price, place an order on it (reserving stock), read it, cancel it, move a paid
order through fulfilment, and expire unpaid orders (releasing their stock).

The customer's capability: placing an order answers a secret `order_token` (32 random bytes, URL-safe) that only
that answer carries; the order keeps its SHA-256 alone. Reading the order in full, cancelling it and following it
live need the token (`customer_order`, `cancel`); without it only the status is public (`order_status`). A wrong
or missing token is refused exactly like an unknown id (`NotFound`), so ids cannot be probed. The verification
level and limits of the customer come from the bank's customer-information service (`ctx.customers`), and the
limits, velocity and AML totals count per the verified customer id."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from showroom import compliance
from showroom.audit import SYSTEM, Actor, order_subject
from showroom.campaigns import DiscountLine
from showroom.catalog import ProductKind
from showroom.customers import CustomerFacts, CustomerInfoUnavailable
from showroom.errors import InvalidInput, NotFound, ShowroomError
from showroom.orders import OPEN_STATUSES, Order, OrderNotFound, OrderStatus, Payment, Refund, new_id
from showroom.ports import UnitOfWork
from showroom.pricing import Quote, make_quote, quote_to_dict, snapshot_to_dict
from showroom.services import campaigns, pickups
from showroom.services._idempotency import Claim
from showroom.services._uow import Commerce, Outcome, transact
from showroom.services.finance import LoanTerms, plan_document, plan_for, rates_for
from showroom.services.prices import current_snapshot, deposit_cny
from showroom.sharing import read_token

TOKEN_BYTES = 32
MAX_TOKEN_CHARS = 128


class QuoteUsed(ShowroomError):
    code = "quote_used"
    http_status = 409


@dataclass(frozen=True)
class Customer:
    """Who orders: a mainland mobile number (normalised at the edge) and, optionally, a name. Nothing the customer
    says here sets a limit: the bank's customer-information service answers for the number."""

    name: str | None
    phone: str

    def __post_init__(self) -> None:
        if not self.phone:
            raise InvalidInput("customer.phone is required")


@dataclass(frozen=True)
class PlaceOrder:
    quote_id: str
    customer: Customer
    channel: str = "web"
    branch_id: str | None = None
    """None: the settings' default branch."""
    product_view: dict[str, Any] | None = None
    """What the customer looked at (e.g. `{"view_set_hash": ...}`), kept in the audit record."""
    share_token: str | None = None
    finance: LoanTerms | None = None
    """Cars: a loan pre-application sent with the reservation deposit."""
    coupon: str | None = None
    """A coupon id of this customer's, or a campaign code (`services.campaigns`: at most one per order)."""
    points: int = 0
    """Points to redeem (`services.campaigns`)."""
    pickup_slot: datetime | None = None
    """A branch pick-up: the slot (its start) at `branch_id`, taken with the order (`services.pickups`)."""


@dataclass(frozen=True)
class OrderDetails:
    order: Order
    payments: tuple[Payment, ...] = ()
    refunds: tuple[Refund, ...] = ()
    audit: tuple[dict[str, Any], ...] | None = None
    discounts: tuple[DiscountLine, ...] = ()
    """The discount lines the order took off (coupon, points: `services.campaigns`); `amount_fen` is after them."""


@dataclass(frozen=True)
class PlacedOrder:
    details: OrderDetails
    created: bool
    """False: the quote's order already existed and this customer gets it back (its status only)."""
    token: str | None = None
    """The customer's capability for this order: only in the answer that created it (and its replays)."""


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_order_token() -> tuple[str, str]:
    """(token, its SHA-256 hex): the token goes to the customer once, the digest is what is stored."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_digest(token)


def _no_order(order_id: str) -> NotFound:
    return NotFound(f"no order {order_id[:64]!r}")


async def _authorise(uow: UnitOfWork, order_id: str, token: str | None) -> Order:
    """The order when `token` is its customer token; `NotFound` (as for an unknown id) otherwise."""
    try:
        order = await uow.get_order(order_id)
        stored = await uow.order_token_sha256(order_id)
    except OrderNotFound:
        raise _no_order(order_id) from None
    presented = token_digest(token) if token and len(token) <= MAX_TOKEN_CHARS else ""
    if not stored or not hmac.compare_digest(stored, presented):
        raise _no_order(order_id)
    return order


async def lookup_customer(ctx: Commerce, phone: str) -> CustomerFacts:
    """The bank's facts about the holder of `phone` (`CustomerInfoUnavailable` when they cannot be had)."""
    if ctx.customers is None:
        raise CustomerInfoUnavailable("no customer-information service is configured; orders cannot be taken")
    return await ctx.customers.lookup(phone)


async def quote(ctx: Commerce, product_id: str, variant_id: str | None, quantity: int = 1) -> Quote:
    """Locks the current price of `quantity` pieces for `quote_ttl_s`."""
    product = ctx.catalog.get(product_id)
    variant = product.variant(variant_id)
    snapshot = await current_snapshot(ctx)
    q = make_quote(product, variant, quantity, snapshot, ctx.clock.now(), ttl_s=ctx.settings.quote_ttl_s,
                   car_deposit_cny=deposit_cny(ctx, product))
    async with ctx.uow() as uow:
        await uow.add_quote(q)
        await uow.commit()
    return q


async def details(uow: UnitOfWork, order: Order) -> OrderDetails:
    held = await campaigns.order_discounts(uow, order.id) if order.has_discounts else None
    return OrderDetails(order, tuple(await uow.payments_for_order(order.id)),
                        tuple(await uow.refunds_for_order(order.id)), discounts=() if held is None else held.lines)


async def place_order(ctx: Commerce, cmd: PlaceOrder, claim: Claim[PlacedOrder] | None = None) -> PlacedOrder:
    """An order on an unexpired, unused quote: the customer's facts asked from the bank, compliance checked, stock
    reserved, audit written, a customer token issued. One quote makes one order; the same customer asking again
    gets that order back (`created` False, no token), anyone else is refused. With a `claim`, the answer (with the
    token) is stored in the order's own transaction."""
    now = ctx.clock.now()
    share_id = read_token(ctx.settings.share_secrets(now), cmd.share_token, now).share_id if cmd.share_token else None
    branch = cmd.branch_id or ctx.settings.default_branch_id
    customer = cmd.customer
    facts = await lookup_customer(ctx, customer.phone)
    facts.ensure_may_order()

    async def answer(uow: UnitOfWork, placed: PlacedOrder) -> PlacedOrder:
        if claim is not None:
            await claim.finish(uow, placed)
        return placed

    async def work(uow: UnitOfWork, out: Outcome) -> PlacedOrder:
        if claim is not None:
            await claim.begin(uow)  # an in-transaction claim takes its Idempotency-Key here
        now = ctx.clock.now()
        q = await uow.get_quote(cmd.quote_id)
        existing_id = await uow.order_for_quote(q.id)
        if existing_id is not None:
            existing = await uow.get_order(existing_id)
            if existing.customer.get("phone") == customer.phone and existing.customer.get("name") == customer.name:
                return await answer(uow, PlacedOrder(OrderDetails(existing), created=False))
            raise QuoteUsed(f"quote {q.id} already has an order; ask for a new quote")
        q.ensure_valid(now)
        product = ctx.catalog.get(q.product_id)
        variant = product.variant(q.variant_id)
        activity = await uow.customer_activity(facts.customer_id, now)
        check = compliance.check_order(ctx.compliance, facts.kyc_level, Decimal(q.total_fen) / 100, activity,
                                       facts.single_order_limit_cny)
        plan: dict[str, Any] | None = None
        if product.kind is ProductKind.CAR and cmd.finance is not None:
            fp = plan_for(ctx, product, variant.id, cmd.finance, await rates_for(uow, product))
            plan = plan_document(fp, with_schedule=False)
        order = Order(id=new_id("ord"), quote_id=q.id, product_id=product.id, variant_id=variant.id,
                      quantity=q.quantity, branch_id=branch, amount_fen=q.total_fen, status=OrderStatus.CREATED,
                      customer={"name": customer.name, "phone": customer.phone, "customer_id": facts.customer_id,
                                "kyc_level": facts.kyc_level.value, "facts_source": facts.source},
                      channel=cmd.channel, created_at=now, updated_at=now,
                      expires_at=now + timedelta(seconds=ctx.settings.reservation_ttl_s),
                      aml_review=check.aml_review, share_token_id=share_id, finance=plan)
        taken_off: tuple[DiscountLine, ...] = ()
        if cmd.coupon or cmd.points:  # the discount lines (coupon, points) come off what is paid
            found = await campaigns.redeem_at_order(ctx, uow, order.id, facts.customer_id, q, cmd.coupon, cmd.points)
            order.amount_fen -= found.discount_fen
            taken_off = found.lines
            order.has_discounts = bool(found.lines)
        order.reserve(now)
        token, digest = new_order_token()
        await uow.add_order(order, facts.customer_id, digest)
        if cmd.pickup_slot is not None:  # the branch pick-up's slot, taken in this transaction
            await pickups.book_with_order(ctx, uow, order, cmd.pickup_slot, token)
        record = compliance.audit_record(quote=quote_to_dict(q), snapshot=snapshot_to_dict(q.snapshot),
                                         view=cmd.product_view, check=check, customer_kyc=facts.kyc_level,
                                         customer_id=facts.customer_id, facts_source=facts.source)
        await uow.add_audit(order.id, "order_placed", record, now)
        if share_id:
            await uow.count_share(share_id, orders=1)
        out.events.extend(order.events)
        placed = await answer(uow, PlacedOrder(OrderDetails(order, discounts=taken_off), created=True, token=token))
        # The shelf last: the pieces this order reserves stay locked until the commit, so nothing but the commit
        # (and its audit chain) comes after it. Out of stock rolls all back.
        initial = variant.stock if variant.stock > 0 else ctx.settings.default_branch_stock
        await uow.reserve_stock(branch, product.id, variant.id, q.quantity, initial)
        return placed

    placed, _ = await transact(ctx, work)
    return placed


async def get_order(ctx: Commerce, order_id: str, *, with_audit: bool = False) -> OrderDetails:
    """The whole order (bank-side use: staff views, recovery, tests, and the order socket once `customer_order`
    checked its token). Customers go through `customer_order`."""
    async with ctx.uow() as uow:
        found = await details(uow, await uow.get_order(order_id))
        if with_audit:
            found = OrderDetails(found.order, found.payments, found.refunds, tuple(await uow.audit_for(order_id)))
    return found


async def order_status(ctx: Commerce, order_id: str) -> Order:
    """The order for its public status alone (the caller shows nothing else); `NotFound` for an unknown id."""
    async with ctx.uow() as uow:
        try:
            return await uow.get_order(order_id)
        except OrderNotFound:
            raise _no_order(order_id) from None


async def customer_order(ctx: Commerce, order_id: str, token: str | None) -> OrderDetails:
    """The order in full for the holder of its customer token; `NotFound` otherwise (as for an unknown id)."""
    async with ctx.uow() as uow:
        return await details(uow, await _authorise(uow, order_id, token))


async def cancel(ctx: Commerce, order_id: str, token: str | None) -> OrderDetails:
    """The customer (holding the order's token) cancels an unpaid order; its stock goes back on the shelf."""
    async with ctx.uow() as uow:
        await _authorise(uow, order_id, token)

    async def work(uow: UnitOfWork, out: Outcome) -> OrderDetails:
        now = ctx.clock.now()
        order = await uow.get_order(order_id, for_update=True)
        order.cancel(now)
        await uow.release_stock(order.branch_id, order.product_id, order.variant_id, order.quantity)
        await campaigns.on_released(ctx, uow, order, now)
        await pickups.release_with_order(uow, order, now)
        await uow.save_order(order)
        await uow.add_audit(order.id, "cancelled", {"by": "customer"}, now)
        out.events.extend(order.events)
        return await details(uow, order)

    cancelled, _ = await transact(ctx, work)
    return cancelled


FULFILMENT_STEPS = (OrderStatus.FULFILLING, OrderStatus.COMPLETED)


async def advance_fulfilment(ctx: Commerce, order_id: str, step: OrderStatus,
                             actor: Actor = SYSTEM) -> OrderDetails:
    """Staff: a paid order is being fulfilled (`fulfilling`) or was handed over (`completed`); once each, in that
    order (`Order.start_fulfilment`, `Order.complete`), audited with who did it."""
    if step not in FULFILMENT_STEPS:
        raise InvalidInput("status must be fulfilling or completed")

    async def work(uow: UnitOfWork, out: Outcome) -> OrderDetails:
        now = ctx.clock.now()
        order = await uow.get_order(order_id, for_update=True)
        before = order.status
        if step is OrderStatus.FULFILLING:
            order.start_fulfilment(now)
        else:
            order.complete(now)
        await uow.save_order(order)
        await uow.append_audit(actor.event(now, step.value, order_subject(order.id), before={"status": before.value},
                                           after={"status": order.status.value}))
        out.events.extend(order.events)
        return await details(uow, order)

    moved, _ = await transact(ctx, work)
    return moved


async def expire_due(ctx: Commerce, limit: int = 200) -> int:
    """Expires unpaid orders past their reservation and releases their stock; returns how many."""
    async with ctx.uow() as uow:
        due = await uow.order_ids_expiring(ctx.clock.now(), limit)
    expired = 0
    for order_id in due:
        async def work(uow: UnitOfWork, out: Outcome, order_id: str = order_id) -> bool:
            order = await uow.get_order(order_id, for_update=True)
            now = ctx.clock.now()
            if order.status not in OPEN_STATUSES or order.expires_at > now:
                return False
            order.expire(now)
            await uow.release_stock(order.branch_id, order.product_id, order.variant_id, order.quantity)
            await campaigns.on_released(ctx, uow, order, now)
            await pickups.release_with_order(uow, order, now)
            await uow.save_order(order)
            out.events.extend(order.events)
            return True

        done, _ = await transact(ctx, work)
        expired += done
    return expired
