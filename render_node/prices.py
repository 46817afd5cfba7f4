"""Live variant prices for the catalog routes, through one port: `CatalogPrices`.

The edge never imports the commerce code. Which adapter a node gets is decided in its composition root
(`render_node.app.create_app`):

- `LocalCatalogPrices`: roles `all` and `commerce`, the commerce service runs in this process;
- `HttpCatalogPrices`: role `edge` with `SHOWROOM_COMMERCE_URL`, asks the commerce service's
  `GET /api/prices/catalog`, keeps the answer a couple of seconds, sends one request at a time, and on an outage
  keeps serving the last answer with every entry marked `"price_stale": true` (never an error page);
- `NoPrices`: role `edge` without a commerce URL.

The table is `{product_id: {variant_id: {"price_cny", "price_as_of", "price_source", "metal_cny_per_g"?,
"deposit_cny"?}}}`, the `products` of the commerce reply; a product without a fresh price is absent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp

if TYPE_CHECKING:
    from render_node.metrics import NodeMetrics

log = logging.getLogger("render_node.prices")

PriceEntry = dict[str, Any]
"""One variant's price: `{"price_cny": "4650.00", "price_as_of": ISO 8601, "price_source": ..., ...}`."""
PriceTable = dict[str, dict[str, PriceEntry]]
"""product id -> variant id -> PriceEntry."""

CATALOG_PRICES_PATH = "/api/prices/catalog"
MAX_REPLY_BYTES = 4 * 1024 * 1024


class CatalogPrices(Protocol):
    """Where the catalog routes get live (unlocked) prices of every variant."""

    async def prices(self) -> PriceTable:
        """The current table; `{}` when no price is known. Never raises for an unreachable price source."""
        ...


class NoPrices:
    """An edge node without a commerce service: the catalog carries no prices."""

    async def prices(self) -> PriceTable:
        return {}


class LocalCatalogPrices:
    """The commerce service in this process (roles all and commerce): `read` is its catalog price function."""

    def __init__(self, read: Callable[[], Awaitable[PriceTable]]) -> None:
        self._read = read

    async def prices(self) -> PriceTable:
        return await self._read()


class CommerceReplyInvalid(ValueError):
    """The commerce service answered, but not with a price table."""


def parse_price_table(body: Any) -> PriceTable:
    """The `products` of a `GET /api/prices/catalog` reply, checked to be product -> variant -> entry."""
    products = body.get("products") if isinstance(body, dict) else None
    if not isinstance(products, dict):
        raise CommerceReplyInvalid("the reply has no products object")
    table: PriceTable = {}
    for product_id, variants in products.items():
        if not isinstance(variants, dict):
            raise CommerceReplyInvalid(f"products.{product_id} is not an object")
        for variant_id, entry in variants.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("price_cny"), str):
                raise CommerceReplyInvalid(f"products.{product_id}.{variant_id} has no price_cny string")
        table[str(product_id)] = {str(v): dict(e) for v, e in variants.items()}
    return table


def mark_stale(table: PriceTable) -> PriceTable:
    """A copy of `table` with every entry marked `"price_stale": true` (shown, but not to be trusted as live)."""
    return {pid: {vid: {**entry, "price_stale": True} for vid, entry in variants.items()}
            for pid, variants in table.items()}


class HttpCatalogPrices:
    """The commerce service over HTTP, cached for `ttl_s`.

    Once the cache is older than `ttl_s`, the next caller starts one refresh and every caller keeps getting the
    previous table until it lands (only the very first call waits for it). A failed refresh (connection refused,
    timeout, an error status, a malformed reply) keeps the last good table, marked stale, and is retried after
    `ttl_s`; with no good table yet the catalog has no prices.
    """

    def __init__(self, base_url: str, *, ttl_s: float = 2.0, timeout_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic, metrics: NodeMetrics | None = None) -> None:
        self.url = base_url.rstrip("/") + CATALOG_PRICES_PATH
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self.requests = 0
        self._clock = clock
        self._metrics = metrics
        self._session: aiohttp.ClientSession | None = None
        self._table: PriceTable | None = None
        self._last_good: PriceTable = {}
        self._fresh_until = 0.0
        self._refresh: asyncio.Task[PriceTable] | None = None
        self._failing = False

    async def prices(self) -> PriceTable:
        if self._table is not None and self._clock() < self._fresh_until:
            return self._table
        task = self._refresh
        if task is None:
            task = asyncio.get_running_loop().create_task(self._refresh_table())
            self._refresh = task
            task.add_done_callback(self._refresh_done)
        if self._table is not None:
            return self._table
        return await asyncio.shield(task)

    def _refresh_done(self, task: asyncio.Task[PriceTable]) -> None:
        self._refresh = None

    async def _refresh_table(self) -> PriceTable:
        try:
            table = await self._fetch()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            self._count("failed")
            if not self._failing:
                log.warning("commerce prices unavailable from %s (%s): serving the last prices, marked stale",
                            self.url, exc.__class__.__name__ if not str(exc) else exc)
                self._failing = True
            table = mark_stale(self._last_good)
        else:
            self._count("ok")
            if self._failing:
                log.info("commerce prices from %s are back", self.url)
                self._failing = False
            self._last_good = table
        self._table = table
        self._fresh_until = self._clock() + self.ttl_s
        return table

    async def _fetch(self) -> PriceTable:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        self.requests += 1
        async with self._session.get(self.url, headers={"Accept": "application/json"}) as resp:
            if resp.status != 200:
                raise CommerceReplyInvalid(f"{self.url} answered {resp.status}")
            body = bytearray()
            async for chunk in resp.content.iter_chunked(64 * 1024):
                body += chunk
                if len(body) > MAX_REPLY_BYTES:
                    raise CommerceReplyInvalid(f"{self.url} answered more than {MAX_REPLY_BYTES} bytes")
        return parse_price_table(json.loads(body))

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.catalog_prices.labels(outcome).inc()

    async def close(self) -> None:
        task = self._refresh
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None
