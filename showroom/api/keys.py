"""The typed `web.AppKey`s of the commerce API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from showroom.bootstrap import CommerceRuntime

ProductImage = Callable[[str, str], Awaitable[bytes | None]]
"""`(product_id, variant_id) -> PNG bytes` of the product's render (or None): the poster's picture."""

RUNTIME: web.AppKey[CommerceRuntime] = web.AppKey("commerce_runtime", CommerceRuntime)
PRODUCT_IMAGE: web.AppKey[ProductImage | None] = web.AppKey("commerce_product_image", object)  # type: ignore[arg-type]
ORDER_SOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("commerce_order_sockets")
