"""JSON views of the commerce results: money as decimal strings of CNY, times as ISO 8601 (UTC as `Z`)."""

from __future__ import annotations

from typing import Any

from showroom.campaigns import DiscountLine, line_dict
from showroom.orders import Order, Payment, Refund
from showroom.pricing import PriceBreakdown, PriceSnapshot, Quote, format_cny, iso_utc, quote_to_dict
from showroom.services import Reply
from showroom.services.finance import FinancePlan, plan_document
from showroom.services.notices import NoticeReceipt
from showroom.services.orders import OrderDetails, PlacedOrder
from showroom.services.prices import CatalogPrices
from showroom.services.shares import SharedLink


def quote_view(q: Quote) -> dict[str, Any]:
    return quote_to_dict(q)


REVIEW_UNDER_WAY = "under_review"
"""What the customer sees of any manual check (anti-money-laundering or other): the same neutral word, never the
check, its reasons or the limits behind it (no tipping-off). Staff with VIEW_COMPLIANCE read the details from the
order's records (`order.aml_review`, the audit entry `order_placed`)."""


def payment_view(p: Payment) -> dict[str, Any]:
    """A payment as its payer sees it: what to pay, where, until when (no order details, no customer data)."""
    return {"id": p.id, "payment_id": p.gateway_payment_id, "order_id": p.order_id, "method": p.method,
            "amount_cny": format_cny(p.amount_fen), "status": p.status.value, "pay_url": p.pay_url,
            "qr_png_url": p.qr_png_url, "expires_at": iso_utc(p.expires_at), "failure_code": p.failure_code}


def refund_view(r: Refund) -> dict[str, Any]:
    return {"id": r.id, "refund_id": r.gateway_refund_id, "order_id": r.order_id,
            "amount_cny": format_cny(r.amount_fen), "status": r.status.value, "reason": r.reason,
            "automatic": r.automatic, "created_at": iso_utc(r.created_at)}


def order_status_view(o: Order) -> dict[str, Any]:
    """What anyone holding only the order id sees: `{"id", "status"}` and nothing else."""
    return {"id": o.id, "status": o.status.value}


def discounts_view(o: Order, lines: tuple[DiscountLine, ...]) -> dict[str, Any]:
    """Every discount line (coupon, points) and the total before them (`subtotal_cny`); `total_cny` and
    `amount_cny` are what is paid, after them."""
    off = sum(line.amount_fen for line in lines)
    return {"subtotal_cny": format_cny(o.amount_fen + off), "discounts": [line_dict(line) for line in lines],
            "discount_cny": format_cny(off)}


def order_view(d: OrderDetails) -> dict[str, Any]:
    """The order as its customer (the holder of its token) sees it. A manual check shows as the neutral
    `"review": "under_review"`; no compliance flag, reason, level or limit is in it."""
    o = d.order
    view: dict[str, Any] = {
        "id": o.id, "status": o.status.value, "quote_id": o.quote_id, "product": o.product_id,
        "variant": o.variant_id, "quantity": o.quantity, "branch": o.branch_id, "channel": o.channel,
        "currency": o.currency, "amount_cny": format_cny(o.amount_fen), "total_cny": format_cny(o.amount_fen),
        "paid_cny": format_cny(o.paid_fen), "refunded_cny": format_cny(o.refunded_fen),
        "created_at": iso_utc(o.created_at), "updated_at": iso_utc(o.updated_at), "expires_at": iso_utc(o.expires_at),
        "customer": {"name": o.customer.get("name"), "phone": o.customer.get("phone")},
        **discounts_view(o, d.discounts),
        "finance": o.finance,
        "payments": [payment_view(p) for p in d.payments], "refunds": [refund_view(r) for r in d.refunds],
    }
    if o.aml_review:
        view["review"] = REVIEW_UNDER_WAY
    return view


def placed_order_reply(placed: PlacedOrder) -> Reply:
    """201 with the order and its `order_token` (the only place the token is ever given); 200 with the status
    alone when the quote's order existed already (the token went with the first answer)."""
    if not placed.created or placed.token is None:
        return 200, order_status_view(placed.details.order)
    return 201, {**order_view(placed.details), "order_token": placed.token}


def payment_reply(p: Payment) -> Reply:
    return 201, payment_view(p)


def refund_reply(r: Refund) -> Reply:
    return 201, refund_view(r)


def share_view(link: SharedLink, public_base_url: str, *, counts: bool = False) -> dict[str, Any]:
    """A share's content (product, price quoted, link, poster). `counts` adds its visits, orders and purchases:
    for the answer to whoever made it, never for the public landing page."""
    s = link.share
    view: dict[str, Any] = {
        "id": s.id, "token": link.token, "url": f"{public_base_url}/s/{link.token}",
        "poster_url": f"{public_base_url}/api/shares/{link.token}/poster.png", "product": s.product_id,
        "variant": s.variant_id, "channel": s.channel, "expires_at": iso_utc(s.expires_at),
        "price_cny": None if s.price_fen is None else format_cny(s.price_fen), "quoted_at": iso_utc(s.quoted_at)}
    if counts:
        view.update(visits=s.visits, orders=s.orders, purchases=s.purchases)
    return view


def plan_view(fp: FinancePlan) -> dict[str, Any]:
    return {**plan_document(fp), "product": fp.product_id, "variant": fp.variant_id}


def notice_view(receipt: NoticeReceipt) -> dict[str, Any]:
    return {"received": True, "duplicate": receipt.duplicate}


def snapshot_view(snap: PriceSnapshot) -> dict[str, Any]:
    return {"source": snap.source, "as_of": snap.as_of.isoformat(), "snapshot_id": snap.snapshot_id,
            "cny_per_g": {m.value: str(p) for m, p in snap.cny_per_g.items()}}


def variant_price_entry(b: PriceBreakdown, snap: PriceSnapshot) -> dict[str, Any]:
    """`{"price_cny", "price_as_of", "price_source", "metal_cny_per_g"?, "deposit_cny"?}`: a car's `price_cny`
    is its list price and `deposit_cny` what is paid now."""
    entry: dict[str, Any] = {"price_cny": str(b.unit_price_cny), "price_as_of": snap.as_of.isoformat(),
                             "price_source": snap.source}
    if b.metal_cny_per_g is not None:
        entry["metal_cny_per_g"] = str(b.metal_cny_per_g)
    if b.list_price_cny is not None:
        entry.update(deposit_cny=str(b.unit_price_cny), price_cny=str(b.list_price_cny))
    return entry


def catalog_price_entries(prices: CatalogPrices) -> dict[str, dict[str, dict[str, Any]]]:
    """product id -> variant id -> entry; `{}` without a fresh price, and a product none of whose variants has
    a price is left out."""
    snap = prices.snapshot
    if snap is None:
        return {}
    return {pid: {vid: variant_price_entry(b, snap) for vid, b in variants.items()}
            for pid, variants in prices.units.items() if variants}


def catalog_prices_view(prices: CatalogPrices) -> dict[str, Any]:
    snap = prices.snapshot
    return {"as_of": None if snap is None else snap.as_of.isoformat(), "source": None if snap is None else snap.source,
            "products": catalog_price_entries(prices)}
