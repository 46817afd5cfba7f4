"""Typed `web.AppKey`s for everything the node's app shares between routes (no module-level globals).

Other parts (AR routes, the commerce API) read these: `request.app[CATALOG]`, `await request.app[RENDER_POOL]
.render(req)`. The objects behind them are built in `render_node.app.create_app` and its cleanup contexts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from render_node.config import Config
    from render_node.metrics import NodeMetrics
    from render_node.pool import RenderPool
    from render_node.prices import CatalogPrices
    from render_node.stream.registry import SessionRegistry
    from render_node.views import ViewStore
    from showroom.catalog import Catalog

CONFIG: web.AppKey[Config] = web.AppKey("config")
"""The frozen node configuration."""
CATALOG: web.AppKey[Catalog] = web.AppKey("catalog")
"""The loaded product catalog."""
RENDER_POOL: web.AppKey[RenderPool] = web.AppKey("render_pool")
"""Render worker pool: `await pool.render(RenderRequest, timeout_s=...) -> (h, w, 4) uint8 RGBA`."""
METRICS: web.AppKey[NodeMetrics] = web.AppKey("metrics")
"""Prometheus metrics of this node (its own registry)."""
VIEWS: web.AppKey[ViewStore] = web.AppKey("views")
"""360 view sets and the content-addressed frame cache."""
SESSIONS: web.AppKey[SessionRegistry] = web.AppKey("sessions")
"""Live stream sessions (WebSocket) of this node."""
PAYMENT_BACKEND_URL: web.AppKey[str] = web.AppKey("payment_backend_url")
"""Base URL of the payment backend (the sandbox on loopback or the bank's); "" when this role has none."""
PRICES: web.AppKey[CatalogPrices] = web.AppKey("prices")
"""Live variant prices for the catalog routes (in-process commerce, the commerce service over HTTP, or none)."""
WEB_ROOT: web.AppKey[Path] = web.AppKey("web_root")
"""The folder of the static web clients (clients/web)."""
