"""The commerce routes (thin): read and check the request (`requests`), call a use case, shape the reply
(`views`). Every route answers errors as `{"error": {"code", "message"}}` with a 4xx status on its own (it does
not rely on the host app's middleware)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from showroom import events
from showroom.api import requests, views
from showroom.api.keys import ORDER_SOCKETS, PRODUCT_IMAGE, RUNTIME
from showroom.api.rate_routes import add_rate_routes
from showroom.api.schema import (
    BODY_ERRORS,
    KEY_ERRORS,
    CatalogPricesReply,
    IssuedShareReply,
    NoticeReply,
    OrderReply,
    OrderStatusReply,
    PaymentReply,
    PlacedOrderReply,
    PlanReply,
    PriceSnapshotReply,
    QuoteReply,
    ShareLandingReply,
)
from showroom.api.staff_routes import add_staff_routes
from showroom.api.unavailable import database_unavailable, unavailable_reply
from showroom.errors import ShowroomError
from showroom.http_schema import IDEMPOTENCY_KEY, ORDER_TOKEN, Header, Operation, operation
from showroom.http_schema import Reply as HttpReply
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
    run_once,
    shares,
)
from showroom.signing import SIGNATURE_HEADER

log = logging.getLogger("showroom.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(code: str, message: str, status: int) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def guarded(handler: Handler) -> Handler:
    """JSON errors for this route whatever app hosts it: ShowroomError -> its status, the database out of reach
    -> 503 with Retry-After (`database_unavailable`), the rest -> 500."""
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ShowroomError as exc:
            return _error(exc.code, exc.message, exc.http_status)
        except web.HTTPException:
            raise
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as exc:
            if database_unavailable(exc):
                log.warning("database unavailable on %s %s: %s", request.method, request.path,
                            f"{type(exc).__name__}: {exc}"[:300])
                return unavailable_reply()
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


@operation(Operation(
    "Quote a product variant at the live metal price (locked for a few minutes)", ("commerce",),
    operation_id="createQuote", body=requests.QuoteBody,
    replies={201: HttpReply("the quote", QuoteReply, links={"PlaceOrder": {
        "operationId": "placeOrder", "x-schemathesis": {"merge_body": False}, "requestBody": {"quote_id": "$response.body#/id",
                                                     "customer": {"name": "Fuzz", "phone": "13800000000"}}}})},
    errors={404: "unknown product or variant", 409: "out of stock", 503: "no fresh metal price", **BODY_ERRORS}))
@guarded
async def post_quote(request: web.Request) -> web.Response:
    product, variant, quantity = requests.quote_args(await requests.read_json(request))
    q = await orders.quote(_ctx(request), product, variant, quantity)
    return web.json_response(views.quote_view(q), status=201)


@operation(Operation("Live metal prices (CNY per gram by purity)", ("commerce",),
                     replies={200: HttpReply("the snapshot", PriceSnapshotReply)}, errors={503: "no fresh metal price"}))
@guarded
async def get_prices(request: web.Request) -> web.Response:
    return web.json_response(views.snapshot_view(await prices.current_snapshot(_ctx(request))))


@operation(Operation("Current (unlocked) price of every variant of every catalog product", ("commerce",),
                     replies={200: HttpReply("the price table", CatalogPricesReply)}))
@guarded
async def get_catalog_prices(request: web.Request) -> web.Response:
    return web.json_response(views.catalog_prices_view(await prices.catalog_prices(_ctx(request))))


@operation(Operation(
    "Place an order from a quote (the reply carries the order's token, once)", ("commerce",),
    operation_id="placeOrder", body=requests.OrderBody, headers=(IDEMPOTENCY_KEY, Header(
        "X-Phone-Proof", "with a coupon or points: the proof of `POST /api/phone/verify` for the customer's number",
        required=False)),
    replies={201: HttpReply("the order and its order_token", PlacedOrderReply, links={
        "GetOrder": {"operationId": "getOrder", "parameters": {
            "path.order_id": "$response.body#/id", "header.Authorization": "Bearer {$response.body#/order_token}"}},
        "StartPayment": {"operationId": "startPayment", "parameters": {"path.order_id": "$response.body#/id"},
                         "x-schemathesis": {"merge_body": False}, "requestBody": {"method": "card"}},
        "CancelOrder": {"operationId": "cancelOrder", "parameters": {
            "path.order_id": "$response.body#/id",
            "header.Authorization": "Bearer {$response.body#/order_token}"}}}),
             200: HttpReply("the quote's order existed already: its status alone (the token went with the first answer)",
                        OrderStatusReply)},
    errors={**KEY_ERRORS, 404: "unknown quote", 409: "quote expired or used, out of stock, or in flight",
            401: "a coupon or points without a valid X-Phone-Proof", 403: "the phone proof is for another number",
            **BODY_ERRORS, 503: "the bank's customer-information service cannot answer"}))
@guarded
async def post_order(request: web.Request) -> web.Response:
    ctx, body = _ctx(request), await requests.read_json(request)
    key = _key(request)
    cmd = requests.place_order(body)
    if cmd.coupon or cmd.points:  # redeeming coupons or points needs proof that the customer holds the phone
        from showroom.api.phone_routes import proven

        await proven(request, cmd.customer.phone)
    return _reply(await run_once(ctx, "orders", key, body, lambda claim: orders.place_order(ctx, cmd, claim),
                                 views.placed_order_reply, in_transaction=True))


def bearer_token(request: web.Request) -> str | None:
    """The customer's order token from `Authorization: Bearer <token>` (None when absent or another scheme)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


@operation(Operation(
    "One order: with its token the customer's view, without one the status alone", ("commerce",),
    operation_id="getOrder", headers=(ORDER_TOKEN,),
    replies={200: HttpReply("the order (with the token) or its status (without)", (OrderReply, OrderStatusReply))},
    errors={404: "unknown order, or a wrong token (answered alike)"}))
@guarded
async def get_order(request: web.Request) -> web.Response:
    """With the order's token: the customer's view of the order. Without one: `{"id", "status"}` only. A wrong
    token is 404, like an unknown id."""
    ctx, order_id = _ctx(request), request.match_info["order_id"]
    token = bearer_token(request)
    if token is None and "Authorization" not in request.headers:
        return web.json_response(views.order_status_view(await orders.order_status(ctx, order_id)))
    return web.json_response(views.order_view(await orders.customer_order(ctx, order_id, token)))


@operation(Operation("Cancel an unpaid order (needs its token)", ("commerce",), operation_id="cancelOrder",
                     headers=(ORDER_TOKEN,), replies={200: HttpReply("the cancelled order", OrderReply)},
                     errors={404: "unknown order, or a missing or wrong token (answered alike)",
                             409: "the order cannot be cancelled now"}))
@guarded
async def post_cancel(request: web.Request) -> web.Response:
    cancelled = await orders.cancel(_ctx(request), request.match_info["order_id"], bearer_token(request))
    return web.json_response(views.order_view(cancelled))


@operation(Operation(
    "Start a payment: pay URL and QR code (like a payment link: the id is enough)", ("payments",),
    operation_id="startPayment", body=requests.PaymentBody, headers=(IDEMPOTENCY_KEY,),
    replies={201: HttpReply("the payment", PaymentReply)},
    errors={**KEY_ERRORS, 404: "unknown order", **BODY_ERRORS,
            502: "the payment backend answered an error", 503: "the payment backend cannot be reached"}))
@guarded
async def post_payment(request: web.Request) -> web.Response:
    ctx, order_id = _ctx(request), request.match_info["order_id"]
    body = await requests.read_json(request)
    cmd = requests.start_payment(order_id, body)
    key = _key(request)
    return _reply(await run_once(ctx, f"payments:{order_id}", key, body,
                                 lambda claim: payments.start_payment(ctx, cmd, claim.key, claim), views.payment_reply,
                                 in_transaction=True))


@operation(Operation(
    "Signed payment notification from the payment backend (HMAC-SHA256 over `{t}.{body}`)", ("payments",),
    body={"type": "object", "description": "the payment backend's event (docs/payments.md), signed as sent"},
    headers=(Header("X-Signature", "`t=<unix seconds>,v1=<hex HMAC-SHA256>` under the webhook secret"),),
    replies={200: HttpReply("received (duplicate: already recorded)", NoticeReply)},
    errors={400: "not a notification (notice_invalid)", 401: "a bad signature or a stale timestamp",
            404: "no such payment (notice_unknown)", 413: "the body is larger than 64 KiB",
            422: "the notification contradicts the payment (notice_mismatch)"}))
@guarded
async def post_notify(request: web.Request) -> web.Response:
    raw = await requests.read_raw(request)
    receipt = await notices.handle_payment_notice(_ctx(request), raw, request.headers.get(SIGNATURE_HEADER))
    return web.json_response(views.notice_view(receipt))


@operation(Operation("Car finance plans: schedule and disclosed APR from the bank's rate table", ("commerce",),
                     body=requests.PlanBody, replies={200: HttpReply("the plan", PlanReply)},
                     errors={404: "unknown product or variant", **BODY_ERRORS}))
@guarded
async def post_finance_plan(request: web.Request) -> web.Response:
    product, variant, terms = requests.plan_args(await requests.read_json(request))
    return web.json_response(views.plan_view(await finance.finance_plan(_ctx(request), product, variant, terms)))


@operation(Operation(
    "A signed, expiring share link and a poster", ("sharing",), operation_id="createShare",
    body=requests.ShareBody, headers=(IDEMPOTENCY_KEY,),
    replies={201: HttpReply("the share, with its counts", IssuedShareReply, links={
        "OpenShare": {"operationId": "openShare", "parameters": {"path.token": "$response.body#/token"}}})},
    errors={**KEY_ERRORS, 404: "unknown product or variant", **BODY_ERRORS}))
@guarded
async def post_share(request: web.Request) -> web.Response:
    ctx, body = _ctx(request), await requests.read_json(request)
    key, base = _key(request), ctx.settings.public_base_url

    async def issue(_claim: Claim[shares.SharedLink]) -> shares.SharedLink:
        return await shares.issue_share(ctx, requests.issue_share(body))

    return _reply(await run_once(ctx, "shares", key, body, issue, lambda link: (201, views.share_view(link, base, counts=True))))


@operation(Operation("Landing data of a share link (attributes the visit)", ("sharing",), operation_id="openShare",
                     replies={200: HttpReply("the share's content (no counts)", ShareLandingReply)},
                     errors={404: "no such share, or expired or badly signed"}))
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


@operation(Operation("Share poster: render, price, QR code and disclaimer", ("sharing",),
                     replies={200: HttpReply("the poster", media=("image/png",))},
                     errors={404: "no such share, or expired or badly signed"}))
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


@operation(Operation(
    "Order status pushes (WebSocket) to the holder of the order's token", ("commerce",),
    description="`?token=<order_token>` (browsers cannot set headers on a WebSocket). Messages, node to client "
                "only: `{type: order, id, status, order: <the customer's view>}`, first the state now, then on "
                "every change (docs/commerce.md).",
    headers=(Header("token", "the order's token", {"type": "string", "maxLength": 300}, required=False,
                    where="query"), ORDER_TOKEN),
    replies={101: HttpReply("switching protocols to WebSocket", media=())},
    errors={400: "not a WebSocket upgrade request", 404: "unknown order, or a missing or wrong token (alike)"}))
async def ws_order(request: web.Request) -> web.StreamResponse:
    """Pushes `{"type": "order", "id", "status", "order": <the customer's view>}` on every change of one order
    (first: its state now) to the holder of its token (`?token=`: browsers cannot set headers on a WebSocket);
    anyone else gets 404 before the upgrade, like an unknown id."""
    ctx = _ctx(request)
    order_id = request.match_info["order_id"]
    token = request.query.get("token") or bearer_token(request)

    # Subscribed before the first read, so a change committed between the two is not missed (it arrives as an
    # event and the socket re-reads).
    sub = await ctx.bus.subscribe(events.order_channel(order_id))
    try:
        first = views.order_view(await orders.customer_order(ctx, order_id, token))
        ws = web.WebSocketResponse(heartbeat=20.0)
        await ws.prepare(request)
    except ShowroomError as exc:
        await sub.close()
        return _error(exc.code, exc.message, exc.http_status)
    except BaseException:
        await sub.close()
        raise
    sockets = request.app[ORDER_SOCKETS]
    sockets.add(ws)
    log.info("[ws order %s] open", order_id)

    async def pump() -> None:
        async for _message in sub:
            # Re-read so the client always sees the committed state, whatever order events arrived in (the
            # token was checked when the socket opened: the socket is the customer's capability now).
            try:
                fresh = views.order_view(await orders.get_order(ctx, order_id))
            except ShowroomError:
                continue  # the next change (or the client's poll) brings the state; raw events are not sent
            await ws.send_json(events.order_event(order_id, fresh["status"], order=fresh))

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
    r.add_post("/api/orders/{order_id}/payments", post_payment)
    r.add_post("/api/payments/notify", post_notify)
    r.add_post("/api/finance/plans", post_finance_plan)
    r.add_post("/api/shares", post_share)
    r.add_get("/api/shares/{token}", get_share)
    r.add_get("/api/shares/{token}/poster.png", get_poster)
    r.add_get("/ws/orders/{order_id}", ws_order)
    add_staff_routes(app)  # fulfilment, refunds and reconciliation are staff routes
    add_rate_routes(app)  # the loan rate table (MANAGE_SETTINGS)
    from showroom.api.branch_routes import add_branch_routes  # it imports this module's helpers

    add_branch_routes(app)  # branches, slots, pick-ups, appointments and their staff side
    from showroom.api.campaign_routes import add_campaign_routes  # it imports `guarded` from here

    add_campaign_routes(app)  # coupons, campaigns and points
    from showroom.api.phone_routes import add_phone_routes  # it imports `guarded` from here

    add_phone_routes(app)  # one-time codes by SMS and phone proofs (coupons and points need one)
    from showroom.api.certificate_routes import add_certificate_routes  # it imports this module

    add_certificate_routes(app)  # item certificates, /.well-known keys and revocations, verification
    from showroom.api.buyback_routes import add_buyback_routes  # it imports this module

    add_buyback_routes(app)  # buy-backs: quote, booking, inspection, payout notifications
    from showroom.api.advisor_routes import add_advisor_routes  # it imports `guarded` from here

    add_advisor_routes(app)  # advisors: console tickets, call-backs, call records
