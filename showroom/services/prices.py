"""Prices now: the feed's current snapshot, and the current (unlocked) unit price of every variant of every
catalog product, for the catalog pages. A quote (`orders.quote`) is what locks a price."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from showroom.catalog import Product
from showroom.errors import ShowroomError
from showroom.pricing import PriceBreakdown, PriceSnapshot, price_unit
from showroom.services._uow import Commerce


@dataclass(frozen=True)
class CatalogPrices:
    """Unit prices of the catalog at `snapshot` (None, and no prices, when the feed has no fresh price)."""

    snapshot: PriceSnapshot | None
    units: Mapping[str, Mapping[str, PriceBreakdown]] = field(default_factory=dict)
    """product id -> variant id -> breakdown; a variant that cannot be priced (no weight, no metal price) is
    left out."""


def deposit_cny(ctx: Commerce, product: Product) -> Decimal:
    """A car's reservation deposit: the product's own, else the settings' default."""
    return product.reservation_deposit_cny or ctx.settings.car_deposit_cny


async def current_snapshot(ctx: Commerce) -> PriceSnapshot:
    """The feed's latest spot prices; `PriceUnavailable` when it has none fresh."""
    return await ctx.prices.snapshot()


def product_prices(ctx: Commerce, product: Product, snapshot: PriceSnapshot) -> dict[str, PriceBreakdown]:
    out: dict[str, PriceBreakdown] = {}
    for variant in product.variants:
        try:
            out[variant.id] = price_unit(product, variant, snapshot, car_deposit_cny=deposit_cny(ctx, product))
        except ShowroomError:
            continue
    return out


async def catalog_prices(ctx: Commerce, products: tuple[Product, ...] | None = None) -> CatalogPrices:
    """Current unit prices of every variant of `products` (default: the whole catalog)."""
    try:
        snapshot = await current_snapshot(ctx)
    except ShowroomError:
        return CatalogPrices(None)
    chosen = tuple(ctx.catalog) if products is None else products
    return CatalogPrices(snapshot, {p.id: product_prices(ctx, p, snapshot) for p in chosen})
