"""Where the guide's answers get the bank's facts, read at the time of the question (never from the question bank).

- **Prices**: the node's price port (`app[PRICES]`, render_node/prices.py): the same table the catalog routes
  show and `POST /api/quotes` prices from (the commerce service in this process, or its
  `GET /api/prices/catalog` over HTTP on an edge node; none on an edge without a commerce URL).
- **Loans**: the commerce finance plan (`POST /api/finance/plans`): over HTTP to `SHOWROOM_COMMERCE_URL` on an
  edge node; in process on roles that run commerce (`all`, `commerce`), where the commerce code is imported
  lazily, only by those roles, like `render_node.app._price_port` does (an edge-only process never loads it).
- **Branches and hours**: `<assets_dir>/branches.toml` (the file commerce loads its branches from).
- **The quote lock**: the node's commerce settings (`SHOWROOM_QUOTE_TTL_S`).

Every source answers "unavailable" (None, or empty) rather than raising: the guide then says it cannot tell.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from render_node.keys import CATALOG, CONFIG, PRICES
from render_node.prices import CatalogPrices
from showroom.branches import Branch, load_branches
from showroom.catalog import Catalog
from showroom.errors import ShowroomError

log = logging.getLogger("render_node.guide.facts")

FINANCE_PLANS_PATH = "/api/finance/plans"
MAX_REPLY_BYTES = 1024 * 1024


class FinancePlans(Protocol):
    """The bank's loan plan of a product: the `POST /api/finance/plans` reply, or None when unavailable."""

    async def plan(self, product_id: str, variant_id: str, term_months: int) -> dict[str, Any] | None:
        ...


class NoFinancePlans:
    """An edge node without a commerce service: no loan plans."""

    async def plan(self, product_id: str, variant_id: str, term_months: int) -> dict[str, Any] | None:
        return None


class HttpFinancePlans:
    """The commerce service's `POST /api/finance/plans` over HTTP (2 s timeout; any failure: None)."""

    def __init__(self, base_url: str, *, timeout_s: float = 2.0) -> None:
        self.url = base_url.rstrip("/") + FINANCE_PLANS_PATH
        self.timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    async def plan(self, product_id: str, variant_id: str, term_months: int) -> dict[str, Any] | None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        body = {"product": product_id, "variant": variant_id, "term_months": term_months}
        try:
            async with self._session.post(self.url, json=body) as resp:
                if resp.status != 200 or (resp.content_length or 0) > MAX_REPLY_BYTES:
                    log.warning("the finance plan from %s answered %s", self.url, resp.status)
                    return None
                reply = await resp.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("the finance plan from %s is unavailable (%s)", self.url, exc.__class__.__name__)
            return None
        return reply if isinstance(reply, dict) and isinstance(reply.get("apr_percent"), str) else None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class LocalFinancePlans:
    """The commerce service in this process (roles all and commerce): the finance use case, as the route runs it."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    async def plan(self, product_id: str, variant_id: str, term_months: int) -> dict[str, Any] | None:
        from showroom.api import RUNTIME, views  # only roles that run commerce build this adapter
        from showroom.finance import RepaymentMethod as Method
        from showroom.services.finance import LoanTerms, finance_plan

        runtime = self._app.get(RUNTIME)
        if runtime is None:
            return None
        try:
            plan = await finance_plan(runtime.commerce, product_id, variant_id,
                                      LoanTerms(None, term_months, Method.EQUAL_INSTALLMENT))
        except ShowroomError as exc:
            log.warning("no finance plan for %s/%s: %s", product_id, variant_id, exc.message)
            return None
        return views.plan_view(plan)


@dataclass(frozen=True)
class GuideFacts:
    catalog: Catalog
    prices: CatalogPrices
    finance: FinancePlans
    quote_ttl_s: int
    branches: tuple[Branch, ...]


def _branches(app: web.Application) -> tuple[Branch, ...]:
    path = app[CONFIG].assets_dir / "branches.toml"
    try:
        return load_branches(path.read_text(encoding="utf-8"))
    except (OSError, ShowroomError) as exc:
        log.warning("the guide has no branches (%s)", exc)
        return ()


def facts_of(app: web.Application) -> GuideFacts:
    """The guide's sources for this node's role (called once the app's price port is set)."""
    config = app[CONFIG]
    finance: FinancePlans
    if config.role in ("all", "commerce"):
        finance = LocalFinancePlans(app)
    elif config.commerce_url:
        http = HttpFinancePlans(config.commerce_url)
        app.on_cleanup.append(lambda _app: http.close())
        finance = http
    else:
        finance = NoFinancePlans()
    return GuideFacts(app[CATALOG], app[PRICES], finance, config.commerce.quote_ttl_s, _branches(app))
