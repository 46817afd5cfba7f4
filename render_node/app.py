"""The node's aiohttp application: one factory, `create_app(config, ...)`; `showroom serve` alone runs it.

Roles: `all` (everything on one machine), `edge` (catalog, renders, view sets, streams, AR, web pages),
`commerce` (catalog + the commerce API), `payments` is served by `showroom serve` with the sandbox app alone.
Heavy things (render workers, the view store, the commerce DB) are built in cleanup contexts, never at import.

`create_app` is the node's one composition root: it alone decides, by role, which parts are mounted and where
the catalog's prices come from (`_price_port`). The commerce code (SQLAlchemy, Alembic, `showroom.api`) is
imported only there and only for roles that run it, so an edge-only process never loads it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from aiohttp import web

from render_node import ar_routes
from render_node.config import PROJECT_ROOT, Config
from render_node.encoding import encode_png
from render_node.errors import NodeError, Overloaded, status_and_code
from render_node.guide import ask_routes as guide_ask_routes
from render_node.guide import portrait_routes as guide_portrait_routes
from render_node.guide import routes as guide_routes
from render_node.keys import (
    CATALOG,
    CONFIG,
    METRICS,
    PAYMENT_BACKEND_URL,
    PRICES,
    RENDER_POOL,
    SESSIONS,
    VIEWS,
    WEB_ROOT,
)
from render_node.metrics import NodeMetrics
from render_node.openapi import PAGES
from render_node.pool import PRIORITY_LIVE, PandaRendererFactory, RendererFactory, RenderPool
from render_node.prices import CatalogPrices, HttpCatalogPrices, LocalCatalogPrices, NoPrices
from render_node.ratelimit import RATE_LIMITER, RateLimiter, rate_limit_middleware
from render_node.render.errors import RenderError
from render_node.render.types import RenderRequest, TurntableView
from render_node.routes import add_catalog_routes, add_edge_routes, add_operations_routes
from render_node.rtc import routes as rtc_routes
from render_node.stream import handler as stream_handler
from render_node.stream.registry import SessionRegistry, StreamLimits
from render_node.views import OverridesFor, ViewStore
from render_node.voice import routes as voice_routes
from showroom.catalog import Catalog
from showroom.errors import ShowroomError

log = logging.getLogger("render_node.app")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
WEB_PAGES: tuple[str, ...] = ("kiosk", "phone", "vr", "share")


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def _is_api(request: web.Request) -> bool:
    return request.path.startswith(("/api/", "/views/", "/ws/")) or request.path in ("/api", "/healthz")


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Counts requests by route template and status (`showroom_http_requests_total`)."""
    response = await handler(request)
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    request.app[METRICS].http_requests.labels(route, str(response.status)).inc()
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Maps errors to `{"error": {"code", "message"}}`: NodeError/ShowroomError -> their status; aiohttp's
    HTTP errors pass through (as JSON under /api); anything else is logged and becomes a 500 without details."""
    try:
        return await handler(request)
    except (NodeError, ShowroomError) as exc:
        headers = {}
        if isinstance(exc, Overloaded):
            headers["Retry-After"] = str(int(getattr(exc, "retry_after_s", 2)))
        return web.json_response(error_body(exc.code, exc.message), status=exc.http_status, headers=headers)
    except RenderError as exc:  # the renderer's own errors: ModelInvalid -> 422 model_invalid, else 500
        status, code = status_and_code(exc)
        return web.json_response(error_body(code, exc.message), status=status)
    except web.HTTPException as exc:
        if exc.status >= 400 and _is_api(request):
            code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
                exc.status, (exc.reason or "error").lower().replace(" ", "_"))
            message = exc.text if exc.text and not exc.text.startswith(str(exc.status)) else (exc.reason or "")
            headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
            return web.json_response(error_body(code, message), status=exc.status, headers=headers)
        raise
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return web.json_response(error_body("internal", "internal server error"), status=500)


def load_node_catalog(config: Config) -> Catalog:
    """Reads `<assets_dir>/catalog.toml` (the caller may pass a catalog to create_app instead)."""
    from render_node.env_choice import environment_files
    from showroom.catalog import load_catalog

    path = config.assets_dir / "catalog.toml"
    if not path.is_file():
        raise NodeError(f"no catalog at {path}: run `showroom assets build`")
    return load_catalog(path.read_text(encoding="utf-8"), environment_files(config.assets_dir / "env"))


def _page_handler(web_root: Path, page: str) -> Handler:
    async def page_index(request: web.Request) -> web.StreamResponse:
        index = web_root / page / "index.html"
        if not index.is_file():
            raise web.HTTPNotFound(text=f"the {page} page is not installed")
        return web.FileResponse(index, headers={"Cache-Control": "no-cache"})

    return page_index


async def _redirect_to_kiosk(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/kiosk")


def add_web_clients(app: web.Application, web_root: Path) -> None:
    """/kiosk, /phone, /vr, /staff, /advisor, ... (`openapi.PAGES`, + their own files under /kiosk/...),
    /s/{token} -> the share page, /static/ -> all."""
    router = app.router
    router.add_get("/", _redirect_to_kiosk, name="root")
    for page in PAGES:
        handler = _page_handler(web_root, page)
        router.add_get(f"/{page}", handler, name=f"page_{page}")
        router.add_get(f"/{page}/", handler)
        if (web_root / page).is_dir():
            router.add_static(f"/{page}/", web_root / page, append_version=False)
    router.add_get("/s/{token}", _page_handler(web_root, "share"), name="share_page")
    if web_root.is_dir():
        router.add_static("/static/", web_root, name="static")


def renderer_version() -> str:
    """A digest of the renderer's sources: view sets rendered by another renderer version get new keys."""
    h = hashlib.sha256()
    render_dir = Path(__file__).resolve().parent / "render"
    for path in sorted(render_dir.rglob("*")):
        if path.suffix in (".py", ".glsl", ".vert", ".frag") and path.is_file():
            h.update(path.relative_to(render_dir).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def create_app(
    config: Config,
    *,
    catalog: Catalog | None = None,
    renderer_pool: RenderPool | None = None,
    renderer_factory: RendererFactory | None = None,
    payment_backend_url: str = "",
    web_root: Path | None = None,
    stream_limits: StreamLimits | None = None,
    overrides_for: OverridesFor | None = None,
) -> web.Application:
    """The node's app for `config.role`.

    `catalog` defaults to `<assets_dir>/catalog.toml`; `renderer_pool` to `config.workers` processes of
    `renderer_factory` (default: the panda3d renderer). A pool passed in is started if needed but not closed.
    """
    app = web.Application(middlewares=[metrics_middleware, rate_limit_middleware, error_middleware],
                          client_max_size=16 * 1024 * 1024)
    app[CONFIG] = config
    if config.rate_limits:
        app[RATE_LIMITER] = RateLimiter(trusted_proxies=config.trusted_proxies)
    app[CATALOG] = catalog if catalog is not None else load_node_catalog(config)
    app[METRICS] = NodeMetrics()
    app[PAYMENT_BACKEND_URL] = payment_backend_url or (config.commerce.payment_backend_url or "")
    app[WEB_ROOT] = web_root if web_root is not None else PROJECT_ROOT / "clients" / "web"
    edge = config.role in ("all", "edge")
    commerce = config.role in ("all", "commerce")
    if edge:
        owns_pool = renderer_pool is None
        pool = renderer_pool or RenderPool(
            renderer_factory or PandaRendererFactory(config.assets_dir / "env"), config.workers,
            metrics=app[METRICS])
        if renderer_pool is not None:
            renderer_pool.use_metrics(app[METRICS])
        app[RENDER_POOL] = pool
        app[VIEWS] = ViewStore(config.data_dir / "views", pool, app[CATALOG], config.assets_dir,
                               renderer_version=renderer_version(), metrics=app[METRICS],
                               memory_bytes=config.view_cache_mb * 1024 * 1024, overrides_for=overrides_for,
                               disk_bytes=config.view_disk_cache_mb * 1024 * 1024,
                               extra_sizes=config.extra_view_sizes)
        app[SESSIONS] = SessionRegistry(stream_limits or StreamLimits(max_sessions=config.max_sessions))
        app.cleanup_ctx.append(_pool_ctx(owns_pool))
    if commerce:
        from showroom import api as commerce_api  # only roles that run commerce load SQLAlchemy and Alembic

        commerce_api.setup(app, config.commerce, app[CATALOG], product_image=_product_image(app) if edge else None,
                           payment_backend_url=app[PAYMENT_BACKEND_URL] or None)
    app[PRICES] = _price_port(app, config)
    add_catalog_routes(app)
    if edge:
        add_edge_routes(app)
        stream_handler.setup(app)
        ar_routes.setup(app)
        voice_routes.setup(app)
        guide_routes.setup(app)
        guide_portrait_routes.setup(app)
        guide_ask_routes.setup(app)
        rtc_routes.setup(app)
        add_web_clients(app, app[WEB_ROOT])
    add_operations_routes(app)
    return app


def _price_port(app: web.Application, config: Config) -> CatalogPrices:
    """Where the catalog's live prices come from: the commerce service in this process (roles all, commerce),
    the commerce service over HTTP (role edge with a commerce URL), or nowhere (said once in the log)."""
    if config.role in ("all", "commerce"):
        from showroom import api as commerce_api

        return LocalCatalogPrices(lambda: commerce_api.catalog_prices(app))
    if config.commerce_url:
        http = HttpCatalogPrices(config.commerce_url, metrics=app[METRICS])
        app.on_cleanup.append(lambda _app: http.close())
        log.info("catalog prices from the commerce service at %s", config.commerce_url)
        return http
    log.warning("edge role without SHOWROOM_COMMERCE_URL (--commerce-url): the catalog shows no prices")
    return NoPrices()


def _product_image(app: web.Application) -> Callable[[str, str], Awaitable[bytes | None]]:
    """For posters: a transparent PNG of the product variant, three-quarter view."""

    async def product_image(product_id: str, variant_id: str) -> bytes | None:
        views = app[VIEWS]
        product = app[CATALOG].get(product_id)
        variant = product.variant(variant_id)
        request = RenderRequest(views.model_path(product), TurntableView(yaw_deg=30.0, pitch_deg=20.0),
                                size_px=(800, 800), background="transparent", env=views.env_for(product),
                                overrides=views.overrides(product, variant))
        frame = await app[RENDER_POOL].render(request, priority=PRIORITY_LIVE)
        return await asyncio.get_running_loop().run_in_executor(None, encode_png, frame)

    return product_image


def _pool_ctx(owns_pool: bool) -> Callable[[web.Application], AsyncIterator[None]]:
    async def pool_ctx(app: web.Application) -> AsyncIterator[None]:
        pool = app[RENDER_POOL]
        if not pool.started:
            await pool.start()
        try:
            yield
        finally:
            await app[VIEWS].close()
            if owns_pool:
                await pool.close()

    return pool_ctx
