"""The typed `web.AppKey`s of the commerce API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from showroom.bootstrap import CommerceRuntime
from showroom.identity import StaffDirectory

ProductImage = Callable[[str, str], Awaitable[bytes | None]]
"""`(product_id, variant_id) -> PNG bytes` of the product's render (or None): the poster's picture."""

RUNTIME: web.AppKey[CommerceRuntime] = web.AppKey("commerce_runtime", CommerceRuntime)
PRODUCT_IMAGE: web.AppKey[ProductImage | None] = web.AppKey("commerce_product_image", object)  # type: ignore[arg-type]
ORDER_SOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("commerce_order_sockets")
STAFF_DIRECTORY: web.AppKey[StaffDirectory] = web.AppKey("staff_directory", object)  # type: ignore[arg-type]
"""Where staff sign in: local accounts (`showroom.services.staff.LocalStaffDirectory`) unless configured otherwise."""
