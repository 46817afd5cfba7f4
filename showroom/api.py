"""The commerce HTTP API (aiohttp, thin): parse and cap input, call `CommerceService`, shape the reply.

`setup(app, settings, catalog, *, product_image=None, payment_backend_url=None, gateway=None, ...)` adds the
routes and a cleanup context that opens the database (migrating it), the HTTP session to the payment backend,
the event bus and the sweeper, and closes them on shutdown. Every route answers errors as
`{"error": {"code", "message"}}` with a 4xx status on its own (it does not rely on the host app's middleware).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import date
from typing import Any

from aiohttp import WSCloseCode, web

from showroom import events
from showroom.bootstrap import CommerceRuntime, start_commerce
from showroom.catalog import Catalog, Product
from showroom.errors import InvalidInput, ShowroomError
from showroom.ports import Clock, EventBus, PaymentGateway, PriceFeed
from showroom.poster import PosterContent, render_poster
from showroom.pricing import format_cny, price_unit
from showroom.services import CommerceService
from showroom.settings import CommerceSettings
from showroom.signing import SIGNATURE_HEADER

log = logging.getLogger("showroom.api")

ProductImage = Callable[[str, str], Awaitable[bytes | None]]
RUNTIME: web.AppKey[CommerceRuntime] = web.AppKey("commerce_runtime", CommerceRuntime)
PRODUCT_IMAGE: web.AppKey[ProductImage | None] = web.AppKey("commerce_product_image", object)  # type: ignore[arg-type]
ORDER_SOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("commerce_order_sockets")
MAX_BODY_BYTES = 64 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(code: str, message: str, status: int) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def guarded(handler: Handler) -> Handler:
    """JSON errors for this route whatever app hosts it: ShowroomError -> its status, the rest -> 500."""
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ShowroomError as exc:
            return _error(exc.code, exc.message, exc.http_status)
        except web.HTTPException:
            raise
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.path)
            return _error("internal", "internal server error", 500)

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


class PayloadTooLarge(ShowroomError):
    code = "payload_too_large"
    http_status = 413


async def _raw(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")
    data = await request.content.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")
    return data


async def _json(request: web.Request) -> dict[str, Any]:
    raw = await _raw(request)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise InvalidInput("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    return body


def _svc(request: web.Request) -> CommerceService:
    return request.app[RUNTIME].service


def _key(request: web.Request) -> str | None:
    return request.headers.get("Idempotency-Key")


@guarded
async def post_quote(request: web.Request) -> web.Response:
    body = await _json(request)
    product = body.get("product")
    variant = body.get("variant")
    quantity = body.get("quantity", 1)
    if not isinstance(product, str) or (variant is not None and not isinstance(variant, str)):
        raise InvalidInput("product (string) is required; variant is a string")
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidInput("quantity must be an integer")
    svc = _svc(request)
    quote = await svc.quote(product, variant, quantity)
    return web.json_response(svc.quote_view(quote), status=201)


@guarded
async def get_prices(request: web.Request) -> web.Response:
    snap = await _svc(request).prices.snapshot()
    return web.json_response({"source": snap.source, "as_of": snap.as_of.isoformat(), "snapshot_id": snap.snapshot_id,
                              "cny_per_g": {m.value: str(p) for m, p in snap.cny_per_g.items()}})


@guarded
async def post_order(request: web.Request) -> web.Response:
    status, body = await _svc(request).place_order(await _json(request), _key(request))
    return web.json_response(body, status=status)


@guarded
async def get_order(request: web.Request) -> web.Response:
    audit = request.query.get("audit") in ("1", "true")
    return web.json_response(await _svc(request).get_order(request.match_info["order_id"], with_audit=audit))


@guarded
async def post_cancel(request: web.Request) -> web.Response:
    return web.json_response(await _svc(request).cancel(request.match_info["order_id"]))


@guarded
async def post_fulfilment(request: web.Request) -> web.Response:
    return web.json_response(await _svc(request).advance_fulfilment(request.match_info["order_id"],
                                                                    await _json(request)))


@guarded
async def post_payment(request: web.Request) -> web.Response:
    status, body = await _svc(request).start_payment(request.match_info["order_id"], await _json(request),
                                                     _key(request))
    return web.json_response(body, status=status)


@guarded
async def post_refund(request: web.Request) -> web.Response:
    status, body = await _svc(request).refund(request.match_info["order_id"], await _json(request), _key(request))
    return web.json_response(body, status=status)


@guarded
async def post_notify(request: web.Request) -> web.Response:
    raw = await _raw(request)
    return web.json_response(await _svc(request).handle_payment_notice(raw, request.headers.get(SIGNATURE_HEADER)))


@guarded
async def post_finance_plan(request: web.Request) -> web.Response:
    return web.json_response(_svc(request).finance_plan(await _json(request)))


@guarded
async def post_share(request: web.Request) -> web.Response:
    status, body = await _svc(request).issue_share(await _json(request), _key(request))
    return web.json_response(body, status=status)


@guarded
async def get_share(request: web.Request) -> web.Response:
    svc = _svc(request)
    share = await svc.share_by_token(request.match_info["token"], count_visit=True)
    product = svc.catalog.get(share.product_id)
    variant = product.variant(share.variant_id)
    view = svc.share_view(share)
    view.update(name={"zh": product.name.zh, "en": product.name.en},
                variant_name={"zh": variant.name.zh, "en": variant.name.en}, kind=product.kind.value,
                views_url=f"/api/products/{product.id}/views?variant={variant.id}",
                disclaimer=svc.settings.disclaimer)
    return web.json_response(view)


@guarded
async def get_poster(request: web.Request) -> web.Response:
    svc = _svc(request)
    share = await svc.share_by_token(request.match_info["token"], count_visit=False)
    product = svc.catalog.get(share.product_id)
    variant = product.variant(share.variant_id)
    image: bytes | None = None
    fetch = request.app[PRODUCT_IMAGE]
    if fetch is not None:
        try:
            image = await fetch(product.id, variant.id)
        except Exception as exc:  # the poster is still worth having without the render
            log.warning("no product image for the poster of %s (%s); drawing without it", share.id, exc)
    content = PosterContent(
        bank_name=svc.settings.bank_name, title_zh=product.name.zh, title_en=product.name.en,
        variant_label=f"{variant.name.zh} · {variant.name.en}",
        price_cny=None if share.price_fen is None else format_cny(share.price_fen), quoted_at=share.quoted_at,
        link_url=svc.share_view(share)["url"], disclaimer=svc.settings.disclaimer, product_png=image)
    png = await asyncio.to_thread(render_poster, content)
    return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "public, max-age=300"})


@guarded
async def get_reconciliation(request: web.Request) -> web.Response:
    try:
        day = date.fromisoformat(request.match_info["day"])
    except ValueError:
        raise InvalidInput("the date is YYYY-MM-DD") from None
    report = await _svc(request).reconcile(day)
    return web.json_response(report.as_dict())


async def ws_order(request: web.Request) -> web.StreamResponse:
    """Pushes `{"type": "order", "id", "status", ...}` on every change of one order (first: its state now)."""
    svc = _svc(request)
    order_id = request.match_info["order_id"]
    try:
        current = await svc.get_order(order_id)
    except ShowroomError as exc:
        return _error(exc.code, exc.message, exc.http_status)
    ws = web.WebSocketResponse(heartbeat=20.0)
    await ws.prepare(request)
    sockets = request.app[ORDER_SOCKETS]
    sockets.add(ws)
    sub = await svc.bus.subscribe(events.order_channel(order_id))
    log.info("[ws order %s] open", order_id)

    async def pump() -> None:
        async for message in sub:
            # Re-read so the client always sees the committed state, whatever order events arrived in.
            try:
                fresh = await svc.get_order(order_id)
            except ShowroomError:
                fresh = message
            await ws.send_json(events.order_event(order_id, fresh["status"], order=fresh, cause=message))

    pumping = asyncio.get_running_loop().create_task(pump())
    try:
        await ws.send_json(events.order_event(order_id, current["status"], order=current))
        async for _msg in ws:  # the client may send pings; we only push
            pass
    finally:
        pumping.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pumping
        await sub.close()
        sockets.discard(ws)
        log.info("[ws order %s] closed", order_id)
    return ws


async def live_prices(app: web.Application, product: Product) -> dict[str, dict[str, Any]]:
    """Current (unlocked) prices of each variant of `product`, for the catalog routes to merge into their variant
    JSON: `{variant_id: {"price_cny", "price_as_of", "price_source", "metal_cny_per_g"?, "deposit_cny"?}}`.
    Empty when the commerce service is not running here or the price feed has no fresh price."""
    runtime = app.get(RUNTIME)
    if runtime is None:
        return {}
    svc = runtime.service
    try:
        snap = await svc.prices.snapshot()
    except ShowroomError:
        return {}
    deposit = product.reservation_deposit_cny or svc.settings.car_deposit_cny
    out: dict[str, dict[str, Any]] = {}
    for variant in product.variants:
        try:
            b = price_unit(product, variant, snap, car_deposit_cny=deposit)
        except ShowroomError:
            continue
        entry: dict[str, Any] = {"price_cny": str(b.unit_price_cny), "price_as_of": snap.as_of.isoformat(),
                                 "price_source": snap.source}
        if b.metal_cny_per_g is not None:
            entry["metal_cny_per_g"] = str(b.metal_cny_per_g)
        if b.list_price_cny is not None:
            entry.update(deposit_cny=str(b.unit_price_cny), price_cny=str(b.list_price_cny))
        out[variant.id] = entry
    return out


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/prices", get_prices)
    r.add_post("/api/quotes", post_quote)
    r.add_post("/api/orders", post_order)
    r.add_get("/api/orders/{order_id}", get_order)
    r.add_post("/api/orders/{order_id}/cancel", post_cancel)
    r.add_post("/api/orders/{order_id}/fulfilment", post_fulfilment)
    r.add_post("/api/orders/{order_id}/payments", post_payment)
    r.add_post("/api/orders/{order_id}/refunds", post_refund)
    r.add_post("/api/payments/notify", post_notify)
    r.add_post("/api/finance/plans", post_finance_plan)
    r.add_post("/api/shares", post_share)
    r.add_get("/api/shares/{token}", get_share)
    r.add_get("/api/shares/{token}/poster.png", get_poster)
    r.add_get("/api/reconciliation/{day}", get_reconciliation)
    r.add_get("/ws/orders/{order_id}", ws_order)


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
    run_sweeper: bool = True,
) -> None:
    """Adds the commerce routes and their cleanup context to `app`.

    `payment_backend_url` (e.g. the sandbox started by `showroom serve`) overrides
    `settings.payment_backend_url`; `gateway`, `clock`, `prices`, `bus` replace the default adapters (tests).
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
                                           prices=prices, bus=bus, run_sweeper=run_sweeper)
        except BaseException:
            await session.close()
            raise
        app[RUNTIME] = runtime
        try:
            yield
        finally:
            sockets: set[web.WebSocketResponse] = app[ORDER_SOCKETS]
            for ws in list(sockets):
                await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
            await runtime.close()
            await session.close()

    app.cleanup_ctx.append(commerce_ctx)


