"""HTTP routes of the edge node: catalog, one view, 360 view sets and their frames, health, metrics, OpenAPI.

Thin: parse and validate, call the pool, the view store or the price port, shape the reply. Errors are raised
(NodeError / ShowroomError) and turned into JSON by the app's middleware. Frames are served by aiohttp itself:
from the view store's memory, or by sendfile from its disk cache; nginx or a CDN in front caches them.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib.metadata
import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from aiohttp import ETag, hdrs, web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from render_node import openapi
from render_node.encoding import CONTENT_TYPES, ImageFormat, encode_image
from render_node.errors import BadRequest
from render_node.keys import (
    CATALOG,
    CONFIG,
    METRICS,
    PAYMENT_BACKEND_URL,
    PRICES,
    RENDER_POOL,
    VIEWS,
)
from render_node.pool import PRIORITY_LIVE
from render_node.prices import PriceTable
from render_node.render.cameras import REFERENCE_FOV_DEG
from render_node.render.types import RenderRequest, TurntableView
from render_node.view_sizes import parse_size
from showroom.catalog import Environment, Product, Variant
from showroom.http_schema import Header, Operation, Reply, operation

IMMUTABLE = "public, max-age=31536000, immutable"
MAX_RENDER_PX = 2048
MAX_RENDER_PIXELS = 2048 * 1024
"""One view (`/api/render`) is at most 2048 px a side and 2 MP (1920x1080 fits): every request renders."""


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
                "craft_fee_cny", "craft_fee_basis", "paint_hex", "trim", "msrp_cny", "stock", "hallmark"):
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
        "dual_recording": product.dual_recording,
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


class _Reply(BaseModel):
    model_config = ConfigDict(extra="allow")


class LocalizedText(_Reply):
    zh: str
    en: str


class VariantReply(_Reply):
    """A variant: its catalog fields and, with a fresh price, its live (unlocked) price."""

    id: str
    name: LocalizedText
    purity: str | None = None
    metal: str | None = None
    weight_g: str | None = None
    stock: int | None = None
    price_cny: str | None = Field(None, description="live, unlocked; absent without a fresh price")
    price_as_of: str | None = None
    price_source: str | None = None
    metal_cny_per_g: str | None = None
    deposit_cny: str | None = None
    price_stale: bool | None = Field(None, description="true: the commerce service is unreachable; the last known")


class ProductReply(_Reply):
    id: str
    kind: str
    hall: str
    name: LocalizedText
    variants: list[VariantReply]
    tags: list[str]
    views_url: str
    tryon_anchor: str | None
    dual_recording: bool = Field(False, description="true: sold only in an advisor call that is recorded in audio "
                                 "and video with the customer's consent (docs/advisor.md, \"Dual recording\")")


class ProductList(_Reply):
    products: list[ProductReply]


class ProductsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    kind: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        None, description="filter by product kind or hall (metals, cars)")


class HealthReply(BaseModel):
    """Public health: status, role and version only; the payment backend only when it is the built-in sandbox."""

    model_config = ConfigDict(extra="forbid")
    status: Literal["ok"]
    role: Literal["all", "edge", "commerce"]
    version: str
    payment_backend: str | None = Field(None, description="the sandbox's base URL (test mode only)")
    payment_mode: Literal["sandbox"] | None = None


_QUOTE_FIRST = {"QuoteFirst": {"operationId": "createQuote", "x-schemathesis": {"merge_body": False},
                               "requestBody": {"product": "$response.body#/products/0/id",
                                               "variant": "$response.body#/products/0/variants/0/id"}}}
"""Catalog -> quote (-> order -> payment): the links the stateful fuzz follows (only where commerce runs)."""


@operation(Operation("The catalog (with live prices)", ("catalog",), query=ProductsQuery,
                     replies={200: Reply("the products", ProductList, links=_QUOTE_FIRST)},
                     errors={400: "a bad parameter"}))
async def list_products(request: web.Request) -> web.Response:
    catalog = request.app[CATALOG]
    kind = query_model(ProductsQuery, request).kind
    products = [p for p in catalog.products if kind is None or p.kind.value == kind or p.hall == kind]
    prices = await request.app[PRICES].prices()
    return web.json_response({"products": [_with_prices(prices, product_json(p)) for p in products]})


@operation(Operation("One product with its variants", ("catalog",), replies={200: Reply("the product", ProductReply)},
                     errors={404: "unknown product"}))
async def get_product(request: web.Request) -> web.Response:
    product = request.app[CATALOG].get(request.match_info["product_id"])
    prices = await request.app[PRICES].prices()
    return web.json_response(_with_prices(prices, product_json(product, detail=True)))


def _etag_matches(request: web.Request, etag: str) -> bool:
    """If-None-Match against our quoted `etag`: weak comparison (RFC 9110 13.1.2), `*` matches any."""
    tags = request.if_none_match
    value = etag.strip('"')
    return bool(tags) and any(t.value in (value, "*") for t in tags or ())


_ENV = Field(None, description="the light: studio, counter, car, or the name of an environment file of the node "
                               "(a file in its assets env/ folder, e.g. a bank's calibrated studio .hdr; never a path); "
                               "default: the catalog's for the product")
_ENV_ROTATION = Field(None, ge=-3600, le=3600, allow_inf_nan=False,
                      description="with an environment file: its turn about +Y in degrees (+Z towards +X)")
_ENV_EXPOSURE = Field(None, ge=-16, le=16, allow_inf_nan=False,
                      description="with an environment file: its light x 2^EV")
_EnvText = Annotated[str, StringConstraints(min_length=1, max_length=128)]


def env_choice(env: str | None, rotation_deg: float | None, exposure_ev: float | None) -> Environment | None:
    """The environment a query asks for (checked against the node's files by the view store); None: the catalog's."""
    if env is None:
        if rotation_deg is not None or exposure_ev is not None:
            raise BadRequest("env_rotation_deg and env_exposure_ev need env (an environment file of the node)")
        return None
    return Environment(env, rotation_deg or 0.0, exposure_ev or 0.0)


class RenderQuery(BaseModel):
    """Query of `GET /api/render`; the size is checked by `parse_size` (at most 2048 a side) and the pixel cap.
    Other query parameters (cache busters) are ignored."""

    model_config = ConfigDict(extra="ignore")
    product: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    variant: Annotated[str, StringConstraints(max_length=128)] | None = None
    yaw_deg: Annotated[float, Field(ge=-3600, le=3600, allow_inf_nan=False)] = 0.0
    pitch_deg: Annotated[float, Field(ge=-89, le=89, allow_inf_nan=False)] = 15.0
    distance_scale: Annotated[float, Field(ge=0.2, le=10, allow_inf_nan=False)] = 1.0
    fov_deg: Annotated[float, Field(ge=5, le=120, allow_inf_nan=False)] = 30.0
    size: Annotated[str, StringConstraints(pattern=r"^\d{1,5}[xX]\d{1,5}$")] | None = Field(
        None, description="WxH, at most 2048 per side and 2 megapixels (default 1280x720)")
    format: Literal["jpeg", "png", "webp"] = "jpeg"
    background: Literal["white", "transparent", "env"] | None = Field(
        None, description="default: transparent for png and webp, else white")
    quality: Annotated[int, Field(ge=1, le=100)] = 88
    env: _EnvText | None = _ENV
    env_rotation_deg: float | None = _ENV_ROTATION
    env_exposure_ev: float | None = _ENV_EXPOSURE
    tonemap: Literal["neutral", "aces", "linear"] = Field(
        "neutral", description="neutral: Khronos PBR Neutral; aces: as the glTF Sample Viewer (Hill); linear")
    preset: Literal["product", "reference"] = Field(
        "product", description="reference: the glTF Sample Viewer's conventions (no contact shadow, exact shader, "
                               "exposure 1, gamma 2.2 output, front view at 45 degrees unless yaw/pitch/fov are given)")


_IMAGES = ("image/jpeg", "image/png", "image/webp")
_CACHE = {"ETag": "the image's digest", "Cache-Control": "public, max-age=300"}
_IF_NONE_MATCH = Header("If-None-Match", "a quoted ETag: 304 when it still matches", {"type": "string"},
                        required=False)


@operation(Operation(
    "One turntable view of a product variant", ("views",), query=RenderQuery, headers=(_IF_NONE_MATCH,),
    replies={200: Reply("the image", media=_IMAGES, headers=_CACHE),
             304: Reply("not modified (If-None-Match)", media=(), headers=_CACHE)},
    errors={400: "a bad parameter (named in the message)", 404: "unknown product or variant",
            422: "the product's model cannot be read (model_invalid)",
            503: "no render worker free in time (Retry-After)"},
    error_headers={503: {"Retry-After": "seconds"}}))
async def render_one(request: web.Request) -> web.StreamResponse:
    """GET /api/render: one turntable view of a product variant."""
    q = query_model(RenderQuery, request)
    views = request.app[VIEWS]
    product = request.app[CATALOG].get(q.product)
    variant = product.variant(q.variant or None)
    fmt = q.format
    background = q.background or ("transparent" if fmt in ("png", "webp") else "white")
    size = parse_size(q.size, (1280, 720), MAX_RENDER_PX)
    if size[0] * size[1] > MAX_RENDER_PIXELS:
        raise BadRequest(f"size {size[0]}x{size[1]} is more than {MAX_RENDER_PIXELS} pixels; at most e.g. 1920x1080")
    reference = q.preset == "reference"
    given = q.model_fields_set
    view = TurntableView(yaw_deg=q.yaw_deg, pitch_deg=q.pitch_deg if not reference or "pitch_deg" in given else 0.0,
                         distance_scale=q.distance_scale,
                         fov_deg=q.fov_deg if not reference or "fov_deg" in given else REFERENCE_FOV_DEG)
    env = views.env_for(product, env_choice(q.env, q.env_rotation_deg, q.env_exposure_ev))
    req = RenderRequest(views.model_path(product), view, size_px=size, background=background,
                        env=env, overrides=views.overrides(product, variant), shadow=not reference,
                        tonemap=q.tonemap, reference=reference)
    frame = await request.app[RENDER_POOL].render(req, priority=PRIORITY_LIVE)
    image_format: ImageFormat = fmt
    data = await asyncio.get_running_loop().run_in_executor(None, encode_image, frame, image_format, q.quality)
    etag = f'"{hashlib.sha256(data).hexdigest()[:40]}"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=300"}
    if _etag_matches(request, etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=data, content_type=CONTENT_TYPES[fmt], headers=headers)


class ViewSetQuery(BaseModel):
    """Query of `GET /api/products/{product_id}/views`; the size is checked against the published list by the
    view store (the message lists the allowed sizes). Other query parameters (cache busters) are ignored."""

    model_config = ConfigDict(extra="ignore")
    variant: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    size: Annotated[str, StringConstraints(pattern=r"^\d{1,5}[xX]\d{1,5}$")] | None = None
    format: Literal["jpeg", "png", "webp"] | None = None
    wait: Literal["0", "1"] | None = None
    env: _EnvText | None = _ENV
    env_rotation_deg: float | None = _ENV_ROTATION
    env_exposure_ev: float | None = _ENV_EXPOSURE


M = TypeVar("M", bound=BaseModel)


def query_model(model: type[M], request: web.Request) -> M:
    """The query string as `model`; a validation error is a 400 naming the parameter."""
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "query"
        raise BadRequest(f"{where}: {first['msg']}") from None


class ViewFrame(_Reply):
    yaw_deg: float
    pitch_deg: float
    url: str


class ViewSetReply(_Reply):
    product: str
    variant: str
    size: str
    frames: list[ViewFrame]


class ViewSetPending(_Reply):
    status: Literal["rendering"]
    key: str
    progress: dict[str, int]


@operation(Operation(
    "Manifest of a 360 view set (N yaw x M pitch), rendered and cached on first request", ("views",),
    query=ViewSetQuery, headers=(_IF_NONE_MATCH,),
    replies={200: Reply("the manifest", ViewSetReply, headers={"ETag": "the manifest's digest"}),
             202: Reply("rendering (wait=0): progress", ViewSetPending, headers={"Retry-After": "seconds"}),
             304: Reply("not modified", media=())},
    errors={400: "a size that is not published (the message lists the allowed ones) or a bad parameter",
            404: "unknown product or variant", 422: "the product's model cannot be read",
            503: "no render worker free in time (Retry-After)"},
    error_headers={503: {"Retry-After": "seconds"}}))
async def view_set(request: web.Request) -> web.Response:
    """GET /api/products/{product_id}/views: the manifest of a 360 view set (rendered on first request)."""
    views = request.app[VIEWS]
    q = query_model(ViewSetQuery, request)
    spec = views.spec(request.match_info["product_id"], q.variant, q.size, q.format,
                      env_choice(q.env, q.env_rotation_deg, q.env_exposure_ev))
    key, task, manifest = views.start(spec)
    if manifest is None:
        assert task is not None
        if q.wait == "0":
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


@operation(Operation(
    "A content-addressed view frame (`<sha256>.<ext>`): strong ETag, immutable", ("views",),
    headers=(_IF_NONE_MATCH,),
    replies={200: Reply("the frame", media=_IMAGES, headers={"ETag": "the content hash",
                                                            "Cache-Control": IMMUTABLE}),
             304: Reply("not modified", media=())},
    errors={404: "no such frame (an evicted set's frame: fetch the set again)"}))
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


@functools.cache
def _version() -> str:
    try:
        return importlib.metadata.version("showroom")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


@operation(Operation("Health: status, role and version only", ("operations",),
                     replies={200: Reply("healthy", HealthReply)}))
async def healthz(request: web.Request) -> web.Response:
    """Public health: status, role and version only. Nothing internal (no paths, pids, worker or DB details:
    those are in /metrics, which the front nginx does not publish); the payment backend only when it is the
    built-in test-mode sandbox on loopback (its test controls need it), never a configured real backend."""
    config = request.app[CONFIG]
    body: dict[str, Any] = {"status": "ok", "role": config.role, "version": _version()}
    sandbox_url: str = request.app[PAYMENT_BACKEND_URL]
    if config.payment_sandbox and sandbox_url:
        body["payment_backend"] = sandbox_url
        body["payment_mode"] = "sandbox"
    return web.json_response(body)


@operation(Operation("Prometheus metrics (not published through nginx)", ("operations",),
                     replies={200: Reply("text exposition format", media=("text/plain",))}))
async def metrics(request: web.Request) -> web.Response:
    m = request.app[METRICS]
    resp = web.Response(body=m.exposition())
    resp.headers["Content-Type"] = m.content_type
    return resp


@operation(Operation("This document (OpenAPI 3.1)", ("operations",),
                     replies={200: Reply("the document", {"type": "object", "required": ["openapi", "paths"]})}))
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
