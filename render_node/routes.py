"""HTTP routes of the edge node: catalog, one view, 360 view sets and their frames, health, metrics, OpenAPI.

Thin: parse and validate, call the pool, the view store or the price port, shape the reply. Errors are raised
(NodeError / ShowroomError) and turned into JSON by the app's middleware. Frames are served by aiohttp itself:
from the view store's memory, or by sendfile from its disk cache; nginx or a CDN in front caches them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import ETag, hdrs, web

from render_node import openapi
from render_node.encoding import CONTENT_TYPES, IMAGE_FORMATS, ImageFormat, encode_image
from render_node.errors import BadRequest
from render_node.keys import (
    CATALOG,
    CONFIG,
    METRICS,
    PAYMENT_BACKEND_URL,
    PRICES,
    RENDER_POOL,
    SESSIONS,
    VIEWS,
)
from render_node.pool import PRIORITY_LIVE
from render_node.prices import PriceTable
from render_node.render.types import RenderRequest, TurntableView
from render_node.views import env_for, parse_size
from showroom.catalog import Product, Variant

IMMUTABLE = "public, max-age=31536000, immutable"
MAX_RENDER_PX = 2048
STARTED_AT = time.time()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "value") and isinstance(value.value, str):  # StrEnum
        return value.value
    return value


def variant_json(variant: Variant) -> dict[str, Any]:
    out: dict[str, Any] = {"id": variant.id, "name": {"zh": variant.name.zh, "en": variant.name.en}}
    for key in ("purity", "weight_g", "size_label", "inner_diameter_mm", "length_mm", "premium_cny_per_g",
                "craft_fee_cny", "craft_fee_basis", "paint_hex", "trim", "msrp_cny", "stock"):
        value = getattr(variant, key, None)
        if value is not None:
            out[key] = _plain(value)
    if variant.purity is not None:
        out["metal"] = variant.purity.metal.value
    return out


def product_json(product: Product, detail: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": product.id,
        "kind": product.kind.value,
        "hall": product.hall,
        "name": {"zh": product.name.zh, "en": product.name.en},
        "variants": [variant_json(v) for v in product.variants],
        "tags": list(product.tags),
        "views_url": f"/api/products/{product.id}/views",
        "tryon_anchor": product.tryon_anchor.value if product.tryon_anchor else None,
    }
    if product.dimensions_mm is not None:
        out["dimensions_mm"] = [str(d) for d in product.dimensions_mm]
    if detail:
        out["description"] = {"zh": product.description.zh, "en": product.description.en}
        out["hallmark"] = product.hallmark
        if product.certificate is not None:
            c = product.certificate
            out["certificate"] = {"issuer": c.issuer, "standard": c.standard, "number_prefix": c.number_prefix}
    return out


def _with_prices(prices: PriceTable, body: dict[str, Any]) -> dict[str, Any]:
    """Merges the live (unlocked) variant prices from the price port into a product's JSON."""
    variant_prices = prices.get(body["id"], {})
    for variant in body["variants"]:
        variant.update(variant_prices.get(variant["id"], {}))
    return body


async def list_products(request: web.Request) -> web.Response:
    catalog = request.app[CATALOG]
    kind = request.query.get("kind")
    products = [p for p in catalog.products if kind is None or p.kind.value == kind or p.hall == kind]
    prices = await request.app[PRICES].prices()
    return web.json_response({"products": [_with_prices(prices, product_json(p)) for p in products]})


async def get_product(request: web.Request) -> web.Response:
    product = request.app[CATALOG].get(request.match_info["product_id"])
    prices = await request.app[PRICES].prices()
    return web.json_response(_with_prices(prices, product_json(product, detail=True)))


def _float(request: web.Request, name: str, default: float, lo: float, hi: float) -> float:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise BadRequest(f"{name} must be between {lo} and {hi}")
    return value


def _etag_matches(request: web.Request, etag: str) -> bool:
    """If-None-Match against our quoted `etag`: weak comparison (RFC 9110 13.1.2), `*` matches any."""
    tags = request.if_none_match
    value = etag.strip('"')
    return bool(tags) and any(t.value in (value, "*") for t in tags or ())


async def render_one(request: web.Request) -> web.StreamResponse:
    """GET /api/render: one turntable view of a product variant."""
    q = request.query
    product_id = q.get("product")
    if not product_id:
        raise BadRequest("product is required")
    views = request.app[VIEWS]
    product = request.app[CATALOG].get(product_id)
    variant = product.variant(q.get("variant") or None)
    fmt = q.get("format", "jpeg")
    if fmt not in IMAGE_FORMATS:
        raise BadRequest(f"format must be one of {', '.join(IMAGE_FORMATS)}")
    background = q.get("background", "transparent" if fmt in ("png", "webp") else "white")
    if background not in ("white", "transparent", "env"):
        raise BadRequest("background must be white, transparent or env")
    size = parse_size(q.get("size"), (1280, 720), MAX_RENDER_PX)
    view = TurntableView(yaw_deg=_float(request, "yaw_deg", 0.0, -3600, 3600),
                         pitch_deg=_float(request, "pitch_deg", 15.0, -89, 89),
                         distance_scale=_float(request, "distance_scale", 1.0, 0.2, 10),
                         fov_deg=_float(request, "fov_deg", 30.0, 5, 120))
    req = RenderRequest(views.model_path(product), view, size_px=size, background=background,  # type: ignore[arg-type]
                        env=env_for(product), overrides=views.overrides(product, variant))
    frame = await request.app[RENDER_POOL].render(req, priority=PRIORITY_LIVE)
    quality = int(_float(request, "quality", 88, 1, 100))
    image_format: ImageFormat = fmt  # type: ignore[assignment]
    data = await asyncio.get_running_loop().run_in_executor(None, encode_image, frame, image_format, quality)
    etag = f'"{hashlib.sha256(data).hexdigest()[:40]}"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=300"}
    if _etag_matches(request, etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=data, content_type=CONTENT_TYPES[fmt], headers=headers)


async def view_set(request: web.Request) -> web.Response:
    """GET /api/products/{product_id}/views: the manifest of a 360 view set (rendered on first request)."""
    views = request.app[VIEWS]
    q = request.query
    spec = views.spec(request.match_info["product_id"], q.get("variant"), q.get("size"), q.get("format"))
    key, task, manifest = views.start(spec)
    if manifest is None:
        assert task is not None
        if q.get("wait") == "0":
            progress = views.progress(key)
            pending = {"status": "rendering", "key": key,
                       "progress": {"done": progress.done if progress else 0,
                                    "total": progress.total if progress else len(spec.angles)}}
            return web.json_response(pending, status=202, headers={"Retry-After": "1"})
        manifest = await asyncio.shield(task)
    body = json.dumps(manifest).encode()
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if _etag_matches(request, etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type="application/json", headers=headers)


class _FrameFile(web.FileResponse):
    """sendfile of a frame file under its content-hash ETag (aiohttp's own ETag would be mtime-size, which
    differs between nodes and between the memory and the disk answer)."""

    def __init__(self, path: Path, etag: str, headers: dict[str, str]) -> None:
        super().__init__(path, headers=headers)
        self._frame_etag = etag
        self.headers[hdrs.ETAG] = etag

    @property
    def etag(self) -> ETag | None:
        return super().etag

    @etag.setter
    def etag(self, value: ETag | str | None) -> None:
        self.headers[hdrs.ETAG] = self._frame_etag


async def view_frame(request: web.Request) -> web.StreamResponse:
    """GET /views/{name}: one content-addressed frame (immutable): from memory, or sendfile from disk."""
    hit = request.app[VIEWS].find_frame(request.match_info["name"])  # unknown names get their 404 first
    headers = {"ETag": hit.etag, "Cache-Control": IMMUTABLE}
    if _etag_matches(request, hit.etag):
        return web.Response(status=304, headers=headers)
    if hit.data is not None:
        return web.Response(body=hit.data, content_type=hit.content_type, headers=headers)
    assert hit.path is not None
    return _FrameFile(hit.path, hit.etag, {**headers, "Content-Type": hit.content_type})


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    config = app[CONFIG]
    body: dict[str, Any] = {
        "status": "ok",
        "role": config.role,
        "uptime_s": round(time.time() - STARTED_AT, 1),
        "products": len(app[CATALOG]),
        "payment_backend": app[PAYMENT_BACKEND_URL] or None,
    }
    if RENDER_POOL in app:
        pool = app[RENDER_POOL]
        body["workers"] = {"size": pool.size, "alive": len(pool.worker_pids()), "busy": pool.busy,
                           "restarts": pool.restarts}
    if SESSIONS in app:
        body["sessions"] = len(app[SESSIONS])
    return web.json_response(body)


async def metrics(request: web.Request) -> web.Response:
    m = request.app[METRICS]
    resp = web.Response(body=m.exposition())
    resp.headers["Content-Type"] = m.content_type
    return resp


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(openapi.document(request.app))


def add_catalog_routes(app: web.Application) -> None:
    """The catalog, unless another part (the commerce API, with live prices) already serves it."""
    taken = {r.canonical for r in app.router.resources()}
    if "/api/products" not in taken:
        app.router.add_get("/api/products", list_products, name="products")
    if "/api/products/{product_id}" not in taken:
        app.router.add_get("/api/products/{product_id}", get_product, name="product")


def add_edge_routes(app: web.Application) -> None:
    app.router.add_get("/api/render", render_one, name="render")
    app.router.add_get("/api/products/{product_id}/views", view_set, name="view_set")
    app.router.add_get("/views/{name}", view_frame, name="view_frame")


def add_operations_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz, name="healthz")
    app.router.add_get("/metrics", metrics, name="metrics")
    app.router.add_get("/api/openapi.json", openapi_json, name="openapi")
