"""The reply models of the commerce routes (what `views` shapes, as types) and the errors they share, for the
declarations next to each handler (`showroom.http_schema.operation`). Request models are in `requests`,
`staff_models` and `rate_routes`; the OpenAPI document is generated from all of them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from showroom.orders import OrderStatus


class _Reply(BaseModel):
    model_config = ConfigDict(extra="allow")


class QuoteReply(_Reply):
    id: str
    product: str
    variant: str
    quantity: int
    currency: Literal["CNY"]
    unit_price_cny: str
    total_cny: str
    created_at: str
    expires_at: str
    breakdown: dict[str, str | None]
    price_source: str
    price_as_of: str
    price_snapshot_id: str


class OrderStatusReply(_Reply):
    """What the order id alone shows: its status and nothing else."""

    id: str
    status: OrderStatus


class PaymentReply(_Reply):
    """A payment as its payer sees it: what to pay, where, until when."""

    id: str
    payment_id: str | None
    order_id: str
    method: str
    amount_cny: str
    status: str
    pay_url: str | None
    qr_png_url: str | None
    expires_at: str | None
    failure_code: str | None


class RefundReply(_Reply):
    id: str
    refund_id: str | None
    order_id: str
    amount_cny: str
    status: str
    reason: str | None
    automatic: bool
    created_at: str | None


class CustomerReply(_Reply):
    name: str | None
    phone: str | None


class DiscountLineReply(_Reply):
    """One discount the order took off (`showroom.campaigns.line_dict`)."""

    kind: Literal["coupon", "points"]
    amount_cny: str
    label: str
    campaign_id: str | None
    coupon_id: str | None
    points: int
    ecny_only: bool


class OrderReply(_Reply):
    """The order as its customer (the holder of its token) sees it; a manual check shows as `under_review`."""

    id: str
    status: OrderStatus
    quote_id: str
    product: str
    variant: str
    quantity: int
    branch: str | None
    channel: str
    currency: str
    amount_cny: str
    total_cny: str
    paid_cny: str
    refunded_cny: str
    created_at: str | None
    updated_at: str | None
    expires_at: str | None
    customer: CustomerReply
    subtotal_cny: str = Field(description="before the discount lines; `total_cny` and `amount_cny` are after them")
    discounts: list[DiscountLineReply] = Field(description="every discount line (coupon, points), in the order "
                                                           "they were taken off")
    discount_cny: str
    finance: dict[str, Any] | None
    payments: list[PaymentReply]
    refunds: list[RefundReply]
    review: Literal["under_review"] | None = None


class PlacedOrderReply(OrderReply):
    order_token: str = Field(description="the customer's capability for this order, given once: send it as "
                                         "`Authorization: Bearer <order_token>`")


class ShareReply(_Reply):
    id: str
    token: str
    url: str
    poster_url: str
    product: str
    variant: str
    channel: str
    expires_at: str | None
    price_cny: str | None
    quoted_at: str | None


class IssuedShareReply(ShareReply):
    visits: int
    orders: int
    purchases: int


class ShareLandingReply(ShareReply):
    name: dict[str, str]
    variant_name: dict[str, str]
    kind: str
    views_url: str
    disclaimer: str


class PlanReply(_Reply):
    product: str
    variant: str
    rate_source: str


class NoticeReply(BaseModel):
    received: Literal[True]
    duplicate: bool


class PriceSnapshotReply(_Reply):
    source: str
    as_of: str
    snapshot_id: str
    cny_per_g: dict[str, str]


class CatalogPricesReply(BaseModel):
    as_of: str | None
    source: str | None
    products: dict[str, dict[str, dict[str, str]]] = Field(
        description="product id -> variant id -> {price_cny, price_as_of, price_source, metal_cny_per_g?, "
                    "deposit_cny?}")


class OrderPath(BaseModel):
    order_id: str = Field(max_length=200)


BODY_ERRORS: dict[int, str] = {413: "the body is larger than 64 KiB",
                               422: "invalid_input: the field named, or a bank fact sent by the client"}
"""What every route that reads a JSON body may answer besides its own errors."""
KEY_ERRORS: dict[int, str] = {400: "no Idempotency-Key header (idempotency_key_missing)",
                              409: "the same key is still being answered (request_in_flight), or the state forbids it"}
