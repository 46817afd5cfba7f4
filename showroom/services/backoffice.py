"""What the back office reads: orders (filtered, paged), one order's whole story, and stock by shelf.

Compliance details (AML review, the compliance check kept with the order) are part of the story; the views show
them only to roles holding `VIEW_COMPLIANCE` (`showroom.api.staff_views`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

from showroom.audit import AuditEntry, order_subject
from showroom.errors import NotFound
from showroom.orders import Order, OrderStatus, Payment, Refund
from showroom.pricing import Quote
from showroom.services._uow import Commerce
from showroom.staff import RefundApproval


@dataclass(frozen=True)
class OrderQuery:
    status: OrderStatus | None = None
    text: str | None = None
    """Part of the order id, the customer's name or phone number."""
    day: date | None = None
    """Orders created on this calendar day (at the settlement offset, China Standard Time by default)."""
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class OrderPage:
    orders: tuple[Order, ...]
    total: int


@dataclass(frozen=True)
class OrderStory:
    order: Order
    quote: Quote | None
    payments: tuple[Payment, ...]
    refunds: tuple[Refund, ...]
    approvals: tuple[RefundApproval, ...]
    audit: tuple[AuditEntry, ...]


@dataclass(frozen=True)
class StockLine:
    branch_id: str
    product_id: str
    variant_id: str
    on_hand: int
    reserved: int


async def list_orders(ctx: Commerce, query: OrderQuery) -> OrderPage:
    start = end = None
    if query.day is not None:
        tz = timezone(timedelta(hours=ctx.settings.settlement_utc_offset_h))
        start = datetime.combine(query.day, time(0, 0), tzinfo=tz).astimezone(UTC)
        end = start + timedelta(days=1)
    async with ctx.uow() as uow:
        found, total = await uow.find_orders(status=None if query.status is None else query.status.value,
                                             text=query.text, created_from=start, created_to=end,
                                             limit=query.limit, offset=query.offset)
    return OrderPage(tuple(found), total)


async def order_story(ctx: Commerce, order_id: str) -> OrderStory:
    async with ctx.uow() as uow:
        order = await uow.get_order(order_id)
        try:
            quote: Quote | None = await uow.get_quote(order.quote_id)
        except NotFound:
            quote = None
        return OrderStory(order, quote, tuple(await uow.payments_for_order(order_id)),
                          tuple(await uow.refunds_for_order(order_id)),
                          tuple(await uow.refund_approvals(order_id=order_id, limit=1000)),
                          tuple(await uow.audit_entries(subject=order_subject(order_id), limit=10_000,
                                                        newest_first=False)))


async def stock(ctx: Commerce) -> list[StockLine]:
    """Every shelf, plus each catalog variant not stocked at the default branch yet (a shelf is stocked by its
    first order), shown with the stock it will start with."""
    async with ctx.uow() as uow:
        lines = [StockLine(*row) for row in await uow.stock_levels()]
    branch = ctx.settings.default_branch_id
    stocked = {(s.branch_id, s.product_id, s.variant_id) for s in lines}
    for product in ctx.catalog.products:
        for variant in product.variants:
            if (branch, product.id, variant.id) not in stocked:
                initial = variant.stock if variant.stock > 0 else ctx.settings.default_branch_stock
                lines.append(StockLine(branch, product.id, variant.id, initial, 0))
    return sorted(lines, key=lambda s: (s.branch_id, s.product_id, s.variant_id))
