"""The payment backend protocol: payments, test control, refunds, notifications log, QR codes, settlement."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import re
from typing import Any

import qrcode
from aiohttp import web

from showroom.payment_sandbox import errors
from showroom.payment_sandbox._http import (
    NOTIFIER_KEY,
    SETTINGS_KEY,
    STORE_KEY,
    base_url,
    clock_s,
    event_view,
    finish_payment,
    idempotency_key_of,
    int_field,
    log,
    pay_url,
    payment_and_refunds,
    payment_view,
    qr_url,
    read_json,
    refund_view,
    str_field,
    url_field,
)
from showroom.payment_sandbox.records import Completion, NewPayment, PaymentRow, RefundRow, request_hash
from showroom.payment_sandbox.rules import (
    OUTCOMES,
    Outcome,
    day_bounds_s,
    fee_fen,
    iso_utc,
    settlement_day,
    wallet_for,
    wallet_reply,
)
from showroom.payment_sandbox.settings import ANONYMOUS_WALLET_TIER, METHODS

SETTLEMENT_COLUMNS = (
    "type",
    "payment_id",
    "refund_id",
    "order_id",
    "amount_fen",
    "currency",
    "fee_fen",
    "settled_at",
    "method",
    "net_fen",
    "settlement_date",
)
_ORDER_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


async def healthz(request: web.Request) -> web.Response:
    notifier = request.app[NOTIFIER_KEY]
    return web.json_response(
        {
            "status": "ok",
            "service": "payment-sandbox",
            "mode": "test",
            "time": iso_utc(clock_s(request)),
            "notifications_in_flight": notifier.in_flight,
        }
    )


async def create_payment(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS_KEY]
    store = request.app[STORE_KEY]
    key = idempotency_key_of(request)
    body = await read_json(request)
    order_id = str_field(body, "order_id", max_len=64)
    if not _ORDER_ID.match(order_id):
        raise errors.ValidationFailed("order_id must be 1-64 characters of A-Z a-z 0-9 _ . : -")
    amount_fen = int_field(body, "amount_fen")
    if amount_fen <= 0:
        raise errors.ValidationFailed("amount_fen must be a positive integer (fen)")
    currency = str_field(body, "currency", default="CNY", max_len=3)
    if currency != "CNY":
        raise errors.ValidationFailed(f"currency {currency!r} is not supported; the sandbox settles CNY only")
    method = str_field(body, "method", max_len=32)
    if method not in METHODS:
        raise errors.ValidationFailed(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    limit_fen = settings.method_limits_fen.get(method)
    if limit_fen is not None and amount_fen > limit_fen:
        raise errors.AmountOverMethodLimit(
            f"{amount_fen} fen is over the {limit_fen} fen single-payment limit of {method}"
        )
    description = str_field(body, "description", default="", max_len=256)
    notify_url = url_field(body, "notify_url", settings.default_notify_url)
    if notify_url is None:
        raise errors.ValidationFailed("notify_url is required (the sandbox has no default notify URL)")
    return_url = url_field(body, "return_url", None)
    expires_in_s = int_field(body, "expires_in_s", default=settings.default_expires_in_s)
    if not 1 <= expires_in_s <= settings.max_expires_in_s:
        raise errors.ValidationFailed(f"expires_in_s must be between 1 and {settings.max_expires_in_s}")
    wallet_id: str | None = None
    wallet_tier: int | None = None
    if "payer_phone" in body:
        payer_phone = str_field(body, "payer_phone", max_len=11)
        if not _MOBILE.match(payer_phone):
            raise errors.ValidationFailed("payer_phone must be an 11-digit mainland mobile number")
        if method == "ecny_wallet":
            wallet_id, wallet_tier = wallet_for(payer_phone, settings.wallets, ANONYMOUS_WALLET_TIER)
    new = NewPayment(
        order_id=order_id,
        amount_fen=amount_fen,
        currency=currency,
        method=method,
        description=description,
        notify_url=notify_url,
        return_url=return_url,
        expires_in_s=expires_in_s,
        fee_fen=fee_fen(amount_fen, settings.fee_bps.get(method, 0)),
        wallet_id=wallet_id,
        wallet_tier=wallet_tier,
    )
    base = base_url(request)

    def render(p: PaymentRow) -> dict[str, Any]:
        reply: dict[str, Any] = {
            "payment_id": p.id,
            "status": p.status,
            "pay_url": pay_url(base, p.id),
            "qr_png_url": qr_url(base, p.id),
            "expires_at": iso_utc(p.expires_s),
            "order_id": p.order_id,
            "amount_fen": p.amount_fen,
            "currency": p.currency,
            "method": p.method,
        }
        if p.wallet_id is not None and p.wallet_tier is not None:
            reply["wallet"] = wallet_reply(p.wallet_id, p.wallet_tier, settings.wallet_limits[p.wallet_tier])
        return reply

    answer = await store.run(store.db.create_payment, new, key, request_hash(body), clock_s(request), render)
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    if not answer.replayed:
        log.info(
            "payment %s created: order %s, %d fen, %s",
            answer.body["payment_id"],
            order_id,
            amount_fen,
            method,
        )
    return web.json_response(answer.body, status=answer.http_status, headers=headers)


async def get_payment(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    p, refunds = await payment_and_refunds(store, request.match_info["payment_id"])
    return web.json_response(payment_view(p, refunds, base_url(request)))


async def list_payments(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    order_id = request.query.get("order_id")
    if not order_id:
        raise errors.ValidationFailed("query parameter order_id is required")
    base = base_url(request)
    views = []
    for p in await store.run(store.db.payments_of_order, order_id):
        views.append(payment_view(p, await store.run(store.db.refunds_of, p.id), base))
    return web.json_response({"payments": views})


async def complete_payment(request: web.Request) -> web.Response:
    """Test control: finishes a pending payment with the named outcome (amount rules and cards do not apply)."""
    body = await read_json(request)
    outcome = body.get("outcome", "approved")
    if outcome not in OUTCOMES:
        raise errors.ValidationFailed(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    forced: Outcome = outcome
    payment_id = request.match_info["payment_id"]
    await finish_payment(request, payment_id, Completion(outcome=forced), lambda _p: forced)
    p, refunds = await payment_and_refunds(request.app[STORE_KEY], payment_id)
    return web.json_response(payment_view(p, refunds, base_url(request)))


async def create_refund(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    key = idempotency_key_of(request)
    body = await read_json(request)
    payment_id = request.match_info["payment_id"]
    amount_fen = int_field(body, "amount_fen")
    if amount_fen <= 0:
        raise errors.ValidationFailed("amount_fen must be a positive integer (fen)")
    reason = str_field(body, "reason", default="", max_len=256)

    def render(r: RefundRow, p: PaymentRow) -> dict[str, Any]:
        return {**refund_view(r), "order_id": p.order_id, "currency": p.currency}

    answer = await store.run(
        store.db.create_refund,
        payment_id,
        amount_fen,
        reason,
        key,
        request_hash(body),
        clock_s(request),
        render,
    )
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    if not answer.replayed:
        log.info("refund %s of %d fen on %s", answer.body["refund_id"], amount_fen, payment_id)
    return web.json_response(answer.body, status=answer.http_status, headers=headers)


async def get_refund(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    r = await store.run(store.db.refund, request.match_info["refund_id"])
    return web.json_response(refund_view(r))


async def complete_refund(request: web.Request) -> web.Response:
    """Test control: finishes a pending refund (`{"outcome": "succeeded"|"failed"}`)."""
    body = await read_json(request)
    outcome = body.get("outcome", "succeeded")
    if outcome not in ("succeeded", "failed"):
        raise errors.ValidationFailed("outcome must be succeeded or failed")
    store = request.app[STORE_KEY]
    refund, event = await store.run(
        store.db.complete_refund, request.match_info["refund_id"], outcome == "succeeded", clock_s(request)
    )
    request.app[NOTIFIER_KEY].enqueue(event)
    return web.json_response(refund_view(refund))


async def payment_events(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    payment_id = request.match_info["payment_id"]
    await store.run(store.db.payment, payment_id)
    events = await store.run(store.db.outbox.events_of, payment_id)
    return web.json_response({"events": [event_view(e) for e in events]})


async def redeliver_event(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    event = await store.run(store.db.outbox.reset, request.match_info["event_id"])
    request.app[NOTIFIER_KEY].enqueue(event)
    return web.json_response(event_view(event), status=202)


async def qr_png(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    p = await store.run(store.db.payment, request.match_info["payment_id"])
    url = pay_url(base_url(request), p.id)

    def make() -> bytes:
        buf = io.BytesIO()
        qrcode.make(url, box_size=8, border=2).save(buf)
        return buf.getvalue()

    png = await asyncio.get_running_loop().run_in_executor(None, make)
    return web.Response(
        body=png, content_type="image/png", headers={"Cache-Control": "private, max-age=3600"}
    )


async def settlement_csv(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS_KEY]
    store = request.app[STORE_KEY]
    m = _DATE.match(request.match_info["date"])
    try:
        if m is None:
            raise ValueError
        day = dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise errors.ValidationFailed("the settlement date must be a real date YYYY-MM-DD") from None
    today = settlement_day(clock_s(request), settings.settlement_utc_offset_h)
    if day > today:
        raise errors.SettlementNotReady(
            f"no settlement for {day.isoformat()} yet (today is {today.isoformat()})"
        )
    start_s, end_s = day_bounds_s(day, settings.settlement_utc_offset_h)
    payments = await store.run(store.db.settled_payments, start_s, end_s)
    refunds = await store.run(store.db.settled_refunds, start_s, end_s)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(SETTLEMENT_COLUMNS)
    rows: list[tuple[float, list[object]]] = []
    for p in payments:
        assert p.completed_s is not None
        rows.append(
            (
                p.completed_s,
                [
                    "payment",
                    p.id,
                    "",
                    p.order_id,
                    p.amount_fen,
                    p.currency,
                    p.fee_fen,
                    iso_utc(p.completed_s),
                    p.method,
                    p.amount_fen - p.fee_fen,
                    day.isoformat(),
                ],
            )
        )
    for r, p in refunds:
        assert r.completed_s is not None
        rows.append(
            (
                r.completed_s,
                [
                    "refund",
                    p.id,
                    r.id,
                    p.order_id,
                    r.amount_fen,
                    p.currency,
                    r.fee_fen,
                    iso_utc(r.completed_s),
                    p.method,
                    -(r.amount_fen - r.fee_fen),
                    day.isoformat(),
                ],
            )
        )
    rows.sort(key=lambda item: item[0])
    for _, row in rows:
        writer.writerow(row)
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="settlement-{day.isoformat()}.csv"',
            "X-Settlement-Final": "false" if day == today else "true",
        },
    )
