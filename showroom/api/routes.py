"""The commerce routes (thin): read and check the request (`requests`), call a use case, shape the reply
(`views`). Every route answers errors as `{"error": {"code", "message"}}` with a 4xx status on its own (it does
not rely on the host app's middleware)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from aiohttp import web

from showroom import events
from showroom.api import requests, views
from showroom.api.keys import ORDER_SOCKETS, PRODUCT_IMAGE, RUNTIME
from showroom.errors import InvalidInput, ShowroomError
from showroom.poster import PosterContent, render_poster
from showroom.pricing import format_cny
from showroom.services import (
    Claim,
    Commerce,
    Reply,
    check_key,
    finance,
    notices,
    orders,
    payments,
    prices,
    reconciliation,
    refunds,
    run_once,
    shares,
)
from showroom.signing import SIGNATURE_HEADER

log = logging.getLogger("showroom.api")

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


def _ctx(request: web.Request) -> Commerce:
    return request.app[RUNTIME].commerce


def _key(request: web.Request) -> str:
    return check_key(request.headers.get("Idempotency-Key"))


def _reply(reply: Reply) -> web.Response:
    status, body = reply
    return web.json_response(body, status=status)


@guarded
async def post_quote(request: web.Request) -> web.Response:
    product, variant, quantity = requests.quote_args(await requests.read_json(request))
    q = await orders.quote(_ctx(request), product, variant, quantity)
    return web.json_response(views.quote_view(q), status=201)


@guarded
async def get_prices(request: web.Request) -> web.Response:
    return web.json_response(views.snapshot_view(await prices.current_snapshot(_ctx(request))))


@guarded
async def get_catalog_prices(request: web.Request) -> web.Response:
    return web.json_response(views.catalog_prices_view(await prices.catalog_prices(_ctx(request))))


@guarded
async def post_order(request: web.Request) -> web.Response:
    ctx, body = _ctx(request), await requests.read_json(request)
    key = _key(request)
    cmd = requests.place_order(body)
    return _reply(await run_once(ctx, "orders", key, body, lambda claim: orders.place_order(ctx, cmd, claim),
                                 views.placed_order_reply))


@guarded
async def get_order(request: web.Request) -> web.Response:
    audit = request.query.get("audit") in ("1", "true")
    found = await orders.get_order(_ctx(request), request.match_info["order_id"], with_audit=audit)
    return web.json_response(views.order_view(found))


@guarded
async def post_cancel(request: web.Request) -> web.Response:
    return web.json_response(views.order_view(await orders.cancel(_ctx(request), request.match_info["order_id"])))


@guarded
async def post_fulfilment(request: web.Request) -> web.Response:
    step = requests.fulfilment_step(await requests.read_json(request))
    moved = await orders.advance_fulfilment(_ctx(request), request.match_info["order_id"], step)
    return web.json_response(views.order_view(moved))


@guarded
async def post_payment(request: web.Request) -> web.Response:
    ctx, order_id = _ctx(request), request.match_info["order_id"]
    body = await requests.read_json(request)
    cmd = requests.start_payment(order_id, body)
    key = _key(request)
    return _reply(await run_once(ctx, f"payments:{order_id}", key, body,
                                 lambda claim: payments.start_payment(ctx, cmd, claim.key), views.payment_reply))


@guarded
async def post_refund(request: web.Request) -> web.Response:
    ctx, order_id = _ctx(request), request.match_info["order_id"]
    body = await requests.read_json(request)
    cmd = requests.request_refund(order_id, body)
    key = _key(request)
    return _reply(await run_once(ctx, f"refunds:{order_id}", key, body,
                                 lambda claim: refunds.request_refund(ctx, cmd, claim.key), views.refund_reply))


@guarded
async def post_notify(request: web.Request) -> web.Response:
    raw = await requests.read_raw(request)
    receipt = await notices.handle_payment_notice(_ctx(request), raw, request.headers.get(SIGNATURE_HEADER))
    return web.json_response(views.notice_view(receipt))


@guarded
async def post_finance_plan(request: web.Request) -> web.Response:
    product, variant, terms = requests.plan_args(await requests.read_json(request))
    return web.json_response(views.plan_view(finance.finance_plan(_ctx(request), product, variant, terms)))


@guarded
async def post_share(request: web.Request) -> web.Response:
    ctx, body = _ctx(request), await requests.read_json(request)
    key, base = _key(request), ctx.settings.public_base_url

    async def issue(_claim: Claim[shares.SharedLink]) -> shares.SharedLink:
        return await shares.issue_share(ctx, requests.issue_share(body))

    return _reply(await run_once(ctx, "shares", key, body, issue, lambda link: (201, views.share_view(link, base))))


@guarded
async def get_share(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    link = await shares.open_share(ctx, request.match_info["token"], count_visit=True)
    product = ctx.catalog.get(link.share.product_id)
    variant = product.variant(link.share.variant_id)
    view = views.share_view(link, ctx.settings.public_base_url)
    view.update(name={"zh": product.name.zh, "en": product.name.en},
                variant_name={"zh": variant.name.zh, "en": variant.name.en}, kind=product.kind.value,
                views_url=f"/api/products/{product.id}/views?variant={variant.id}",
                disclaimer=ctx.settings.disclaimer)
    return web.json_response(view)


@guarded
async def get_poster(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    link = await shares.open_share(ctx, request.match_info["token"], count_visit=False)
    share = link.share
    product = ctx.catalog.get(share.product_id)
    variant = product.variant(share.variant_id)
    image: bytes | None = None
    fetch = request.app[PRODUCT_IMAGE]
    if fetch is not None:
        try:
            image = await fetch(product.id, variant.id)
        except Exception as exc:  # the poster is still worth having without the render
            log.warning("no product image for the poster of %s (%s); drawing without it", share.id, exc)
    content = PosterContent(
        bank_name=ctx.settings.bank_name, title_zh=product.name.zh, title_en=product.name.en,
        variant_label=f"{variant.name.zh} · {variant.name.en}",
        price_cny=None if share.price_fen is None else format_cny(share.price_fen), quoted_at=share.quoted_at,
        link_url=views.share_view(link, ctx.settings.public_base_url)["url"], disclaimer=ctx.settings.disclaimer,
        product_png=image)
    png = await asyncio.to_thread(render_poster, content)
    return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "public, max-age=300"})


@guarded
async def get_reconciliation(request: web.Request) -> web.Response:
    try:
        day = date.fromisoformat(request.match_info["day"])
    except ValueError:
        raise InvalidInput("the date is YYYY-MM-DD") from None
    return web.json_response((await reconciliation.reconcile(_ctx(request), day)).as_dict())


async def ws_order(request: web.Request) -> web.StreamResponse:
    """Pushes `{"type": "order", "id", "status", ...}` on every change of one order (first: its state now)."""
    ctx = _ctx(request)
    order_id = request.match_info["order_id"]

    async def current() -> dict[str, Any]:
        return views.order_view(await orders.get_order(ctx, order_id))

    try:
        first = await current()
    except ShowroomError as exc:
        return _error(exc.code, exc.message, exc.http_status)
    ws = web.WebSocketResponse(heartbeat=20.0)
    await ws.prepare(request)
    sockets = request.app[ORDER_SOCKETS]
    sockets.add(ws)
    sub = await ctx.bus.subscribe(events.order_channel(order_id))
    log.info("[ws order %s] open", order_id)

    async def pump() -> None:
        async for message in sub:
            # Re-read so the client always sees the committed state, whatever order events arrived in.
            try:
                fresh = await current()
            except ShowroomError:
                fresh = message
            await ws.send_json(events.order_event(order_id, fresh["status"], order=fresh, cause=message))

    pumping = asyncio.get_running_loop().create_task(pump())
    try:
        await ws.send_json(events.order_event(order_id, first["status"], order=first))
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


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/prices", get_prices)
    r.add_get("/api/prices/catalog", get_catalog_prices)
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
