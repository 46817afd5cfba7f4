"""The commerce HTTP API (aiohttp, thin): `requests` reads and checks the bodies into typed arguments, the use
cases (`showroom.services`) do the work, `views` shapes the JSON; `routes` holds the handlers.

`setup(app, settings, catalog, *, product_image=None, payment_backend_url=None, gateway=None, ...)` adds the
routes and a cleanup context that opens the database (migrating it), the HTTP session to the payment backend,
the event bus and the sweeper, and closes them on shutdown. `catalog_prices(app)` gives the catalog routes of
the same process the current price of every variant.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from aiohttp import WSCloseCode, web

from showroom.api import views
from showroom.api.keys import ORDER_SOCKETS, PRODUCT_IMAGE, RUNTIME, STAFF_DIRECTORY, ProductImage
from showroom.api.routes import add_routes
from showroom.bootstrap import start_commerce
from showroom.catalog import Catalog
from showroom.identity import StaffDirectory
from showroom.ports import Clock, CustomerDirectory, EventBus, PaymentGateway, PriceFeed
from showroom.services.prices import catalog_prices as priced_catalog
from showroom.services.staff import LocalStaffDirectory
from showroom.settings import CommerceSettings

__all__ = ["ORDER_SOCKETS", "PRODUCT_IMAGE", "RUNTIME", "ProductImage", "add_routes", "catalog_prices",
           "setup"]


async def catalog_prices(app: web.Application) -> dict[str, dict[str, dict[str, Any]]]:
    """Current (unlocked) prices of every variant of every catalog product, as `GET /api/prices/catalog` gives
    them under `products`: `{product_id: {variant_id: {"price_cny", "price_as_of", "price_source",
    "metal_cny_per_g"?, "deposit_cny"?}}}`. `{}` when commerce is not set up in `app` or the feed has no fresh
    price."""
    runtime = app.get(RUNTIME)
    if runtime is None:
        return {}
    return views.catalog_price_entries(await priced_catalog(runtime.commerce))


def setup(
    app: web.Application,
    settings: CommerceSettings,
    catalog: Catalog,
    *,
    product_image: ProductImage | None = None,
    payment_backend_url: str | None = None,
    gateway: PaymentGateway | None = None,
    clock: Clock | None = None,
    prices: PriceFeed | None = None,
    bus: EventBus | None = None,
    customers: CustomerDirectory | None = None,
    run_sweeper: bool = True,
    staff_directory: StaffDirectory | None = None,
) -> None:
    """Adds the commerce routes and their cleanup context to `app`.

    `payment_backend_url` (e.g. the sandbox started by `showroom serve`) overrides
    `settings.payment_backend_url`; `gateway`, `clock`, `prices`, `bus`, `customers` replace the default adapters
    (tests); `staff_directory`: where staff sign in (default: local accounts in the commerce database).
    """
    if payment_backend_url:
        settings = replace(settings, payment_backend_url=payment_backend_url)
    app[PRODUCT_IMAGE] = product_image
    app[ORDER_SOCKETS] = set()
    add_routes(app)

    async def commerce_ctx(app: web.Application) -> AsyncIterator[None]:
        import aiohttp

        session = aiohttp.ClientSession()
        try:
            runtime = await start_commerce(settings, catalog, session=session, gateway=gateway, clock=clock,
                                           prices=prices, bus=bus, customers=customers, run_sweeper=run_sweeper)
        except BaseException:
            await session.close()
            raise
        app[RUNTIME] = runtime
        app[STAFF_DIRECTORY] = staff_directory or LocalStaffDirectory(runtime.commerce)
        try:
            yield
        finally:
            sockets: set[web.WebSocketResponse] = app[ORDER_SOCKETS]
            for ws in list(sockets):
                await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
            await runtime.close()
            await session.close()

    app.cleanup_ctx.append(commerce_ctx)
