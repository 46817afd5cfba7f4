"""The payment sandbox as an aiohttp app: `create_sandbox_app(settings)`.

Routes (docs/payments.md describes each): the backend protocol (`/payments`, refunds, settlement, healthz),
test controls (`/payments/{id}/complete`, `/refunds/{id}/complete`), the customer's pay page (`/pay/{id}`) and
operator views (`/payments/{id}/events`, `/events/{id}/redeliver`). State lives in SQLite (`store.py`);
background tasks expire payments, finish refunds and deliver notifications (`notifier.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import io
import json
import logging
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import qrcode
from aiohttp import web

from showroom.errors import ShowroomError
from showroom.payment_sandbox import errors
from showroom.payment_sandbox.notifier import Notifier
from showroom.payment_sandbox.page import render_pay_page
from showroom.payment_sandbox.rules import (
    OUTCOMES,
    Outcome,
    amount_outcome,
    card_for_number,
    day_bounds_s,
    fee_fen,
    iso_utc,
    luhn_valid,
    normalise_card_number,
    settlement_day,
    wallet_outcome,
)
from showroom.payment_sandbox.settings import METHODS, SandboxSettings
from showroom.payment_sandbox.store import (
    Completion,
    EventRow,
    NewPayment,
    PaymentRow,
    RefundRow,
    SandboxStore,
    new_id,
    request_hash,
)

log = logging.getLogger("showroom.payment_sandbox")

SETTINGS_KEY = web.AppKey("sandbox_settings", SandboxSettings)
STORE_KEY = web.AppKey("sandbox_store", SandboxStore)
NOTIFIER_KEY = web.AppKey("sandbox_notifier", Notifier)

IDEMPOTENCY_RETENTION_S = 24 * 3600.0
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
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --- helpers ----------------------------------------------------------------------------------------------


def _error_response(code: str, message: str, status: int) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@web.middleware
async def _errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ShowroomError as exc:
        return _error_response(exc.code, exc.message, exc.http_status)
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json":
            return _error_response(exc.reason.lower().replace(" ", "_"), exc.reason, exc.status)
        raise
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _error_response("internal_error", "the sandbox failed unexpectedly; see its log", 500)


def _now(request: web.Request) -> float:
    return request.app[SETTINGS_KEY].clock()


def _base_url(request: web.Request) -> str:
    configured = request.app[SETTINGS_KEY].public_base_url
    if configured:
        return configured.rstrip("/")
    return f"{request.scheme}://{request.host}"


async def _read_json(request: web.Request) -> dict[str, Any]:
    limit = request.app[SETTINGS_KEY].max_body_bytes
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise errors.BodyTooLarge(f"request body is over {limit} bytes")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise errors.BadRequestBody(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise errors.BadRequestBody("request body must be a JSON object")
    return body


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.match(key):
        raise errors.ValidationFailed("Idempotency-Key must be 1-255 printable ASCII characters")
    return key


def _int_field(body: dict[str, Any], name: str, *, default: int | None = None) -> int:
    value = body.get(name, default)
    if value is None:
        raise errors.ValidationFailed(f"{name} is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.ValidationFailed(f"{name} must be an integer, got {value!r}")
    return int(value)


def _str_field(body: dict[str, Any], name: str, *, default: str | None = None, max_len: int = 256) -> str:
    value = body.get(name, default)
    if value is None:
        raise errors.ValidationFailed(f"{name} is required")
    if not isinstance(value, str):
        raise errors.ValidationFailed(f"{name} must be a string")
    if len(value) > max_len:
        raise errors.ValidationFailed(f"{name} is longer than {max_len} characters")
    return value


def _url_field(body: dict[str, Any], name: str, default: str | None) -> str | None:
    value = body.get(name) or default
    if value is None:
        return None
    if not isinstance(value, str) or not re.match(r"^https?://[^\s]+$", value) or len(value) > 2048:
        raise errors.ValidationFailed(f"{name} must be an http(s) URL")
    return value


def _pay_url(base: str, payment_id: str) -> str:
    return f"{base}/pay/{payment_id}"


def _qr_url(base: str, payment_id: str) -> str:
    return f"{base}/payments/{payment_id}/qr.png"


def _refund_view(r: RefundRow) -> dict[str, Any]:
    return {
        "refund_id": r.id,
        "payment_id": r.payment_id,
        "amount_fen": r.amount_fen,
        "reason": r.reason,
        "status": r.status,
        "failure_code": r.failure_code,
        "created_at": iso_utc(r.created_s),
        "completed_at": iso_utc(r.completed_s) if r.completed_s is not None else None,
    }


def _payment_view(p: PaymentRow, refunds: list[RefundRow], base: str) -> dict[str, Any]:
    view: dict[str, Any] = {
        "payment_id": p.id,
        "order_id": p.order_id,
        "status": p.status,
        "amount_fen": p.amount_fen,
        "refunded_fen": sum(r.amount_fen for r in refunds if r.status == "succeeded"),
        "currency": p.currency,
        "method": p.method,
        "description": p.description,
        "failure_code": p.failure_code,
        "created_at": iso_utc(p.created_s),
        "expires_at": iso_utc(p.expires_s),
        "completed_at": iso_utc(p.completed_s) if p.completed_s is not None else None,
        "pay_url": _pay_url(base, p.id),
        "qr_png_url": _qr_url(base, p.id),
        "refunds": [_refund_view(r) for r in refunds],
    }
    if p.card_token:
        view["card"] = {"token": p.card_token, "brand": p.card_brand, "last4": p.card_last4}
    if p.wallet_tier is not None:
        view["wallet"] = {"tier": p.wallet_tier}
    return view


def _event_view(e: EventRow) -> dict[str, Any]:
    return {
        "id": e.id,
        "type": e.type,
        "status": e.status,
        "attempts": e.attempts,
        "last_error": e.last_error,
        "created_at": iso_utc(e.created_s),
        "delivered_at": iso_utc(e.delivered_s) if e.delivered_s is not None else None,
        "notify_url": e.notify_url,
        "body": json.loads(e.body),
    }


async def _payment_and_refunds(store: SandboxStore, payment_id: str) -> tuple[PaymentRow, list[RefundRow]]:
    p = await store.run(store.db.payment, payment_id)
    return p, await store.run(store.db.refunds_of, payment_id)


# --- protocol routes --------------------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    notifier = request.app[NOTIFIER_KEY]
    return web.json_response(
        {
            "status": "ok",
            "service": "payment-sandbox",
            "mode": "test",
            "time": iso_utc(_now(request)),
            "notifications_in_flight": notifier.in_flight,
        }
    )


async def create_payment(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS_KEY]
    store = request.app[STORE_KEY]
    key = _idempotency_key(request)
    body = await _read_json(request)
    order_id = _str_field(body, "order_id", max_len=64)
    if not _ORDER_ID.match(order_id):
        raise errors.ValidationFailed("order_id must be 1-64 characters of A-Z a-z 0-9 _ . : -")
    amount_fen = _int_field(body, "amount_fen")
    if amount_fen <= 0:
        raise errors.ValidationFailed("amount_fen must be a positive integer (fen)")
    currency = _str_field(body, "currency", default="CNY", max_len=3)
    if currency != "CNY":
        raise errors.ValidationFailed(f"currency {currency!r} is not supported; the sandbox settles CNY only")
    method = _str_field(body, "method", max_len=32)
    if method not in METHODS:
        raise errors.ValidationFailed(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    limit_fen = settings.method_limits_fen.get(method)
    if limit_fen is not None and amount_fen > limit_fen:
        raise errors.AmountOverMethodLimit(
            f"{amount_fen} fen is over the {limit_fen} fen single-payment limit of {method}"
        )
    description = _str_field(body, "description", default="", max_len=256)
    notify_url = _url_field(body, "notify_url", settings.default_notify_url)
    if notify_url is None:
        raise errors.ValidationFailed("notify_url is required (the sandbox has no default notify URL)")
    return_url = _url_field(body, "return_url", None)
    expires_in_s = _int_field(body, "expires_in_s", default=settings.default_expires_in_s)
    if not 1 <= expires_in_s <= settings.max_expires_in_s:
        raise errors.ValidationFailed(f"expires_in_s must be between 1 and {settings.max_expires_in_s}")
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
    )
    base = _base_url(request)

    def render(p: PaymentRow) -> dict[str, Any]:
        return {
            "payment_id": p.id,
            "status": p.status,
            "pay_url": _pay_url(base, p.id),
            "qr_png_url": _qr_url(base, p.id),
            "expires_at": iso_utc(p.expires_s),
            "order_id": p.order_id,
            "amount_fen": p.amount_fen,
            "currency": p.currency,
            "method": p.method,
        }

    answer = await store.run(store.db.create_payment, new, key, request_hash(body), _now(request), render)
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
    p, refunds = await _payment_and_refunds(store, request.match_info["payment_id"])
    return web.json_response(_payment_view(p, refunds, _base_url(request)))


async def list_payments(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    order_id = request.query.get("order_id")
    if not order_id:
        raise errors.ValidationFailed("query parameter order_id is required")
    base = _base_url(request)
    views = []
    for p in await store.run(store.db.payments_of_order, order_id):
        views.append(_payment_view(p, await store.run(store.db.refunds_of, p.id), base))
    return web.json_response({"payments": views})


async def _finish(
    request: web.Request, payment_id: str, completion: Completion, decide: Callable[[PaymentRow], Outcome]
) -> PaymentRow:
    store = request.app[STORE_KEY]
    row, event = await store.run(store.db.complete_payment, payment_id, completion, _now(request), decide)
    request.app[NOTIFIER_KEY].enqueue(event)
    if row.status == "expired":
        raise errors.PaymentNotPending(f"payment {payment_id} expired before it was completed")
    log.info("payment %s %s%s", row.id, row.status, f" ({row.failure_code})" if row.failure_code else "")
    return row


async def complete_payment(request: web.Request) -> web.Response:
    """Test control: finishes a pending payment with the named outcome (amount rules and cards do not apply)."""
    body = await _read_json(request)
    outcome = body.get("outcome", "approved")
    if outcome not in OUTCOMES:
        raise errors.ValidationFailed(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    forced: Outcome = outcome
    payment_id = request.match_info["payment_id"]
    await _finish(request, payment_id, Completion(outcome=forced), lambda _p: forced)
    p, refunds = await _payment_and_refunds(request.app[STORE_KEY], payment_id)
    return web.json_response(_payment_view(p, refunds, _base_url(request)))


async def create_refund(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    key = _idempotency_key(request)
    body = await _read_json(request)
    payment_id = request.match_info["payment_id"]
    amount_fen = _int_field(body, "amount_fen")
    if amount_fen <= 0:
        raise errors.ValidationFailed("amount_fen must be a positive integer (fen)")
    reason = _str_field(body, "reason", default="", max_len=256)

    def render(r: RefundRow, p: PaymentRow) -> dict[str, Any]:
        return {**_refund_view(r), "order_id": p.order_id, "currency": p.currency}

    answer = await store.run(
        store.db.create_refund, payment_id, amount_fen, reason, key, request_hash(body), _now(request), render
    )
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    if not answer.replayed:
        log.info("refund %s of %d fen on %s", answer.body["refund_id"], amount_fen, payment_id)
    return web.json_response(answer.body, status=answer.http_status, headers=headers)


async def get_refund(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    r = await store.run(store.db.refund, request.match_info["refund_id"])
    return web.json_response(_refund_view(r))


async def complete_refund(request: web.Request) -> web.Response:
    """Test control: finishes a pending refund (`{"outcome": "succeeded"|"failed"}`)."""
    body = await _read_json(request)
    outcome = body.get("outcome", "succeeded")
    if outcome not in ("succeeded", "failed"):
        raise errors.ValidationFailed("outcome must be succeeded or failed")
    store = request.app[STORE_KEY]
    refund, event = await store.run(
        store.db.complete_refund, request.match_info["refund_id"], outcome == "succeeded", _now(request)
    )
    request.app[NOTIFIER_KEY].enqueue(event)
    return web.json_response(_refund_view(refund))


async def payment_events(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    payment_id = request.match_info["payment_id"]
    await store.run(store.db.payment, payment_id)
    events = await store.run(store.db.events_of, payment_id)
    return web.json_response({"events": [_event_view(e) for e in events]})


async def redeliver_event(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    event = await store.run(store.db.reset_event, request.match_info["event_id"])
    request.app[NOTIFIER_KEY].enqueue(event)
    return web.json_response(_event_view(event), status=202)


async def qr_png(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    p = await store.run(store.db.payment, request.match_info["payment_id"])
    url = _pay_url(_base_url(request), p.id)

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
    today = settlement_day(_now(request), settings.settlement_utc_offset_h)
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


# --- the customer's pay page ------------------------------------------------------------------------------


def _page_response(
    request: web.Request, p: PaymentRow, error: tuple[str, str] | None = None, status: int = 200
) -> web.Response:
    settings = request.app[SETTINGS_KEY]
    base = _base_url(request)
    nonce = secrets.token_urlsafe(16)
    html_text = render_pay_page(
        p,
        settings,
        now_s=_now(request),
        qr_png_url=_qr_url(base, p.id),
        status_url=f"{base}/payments/{p.id}",
        nonce=nonce,
        error=error,
    )
    csp = (
        f"default-src 'self'; img-src 'self' data:; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}';"
        " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return web.Response(
        text=html_text,
        content_type="text/html",
        charset="utf-8",
        status=status,
        headers={
            "Content-Security-Policy": csp,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def pay_page(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    p = await store.run(store.db.payment, request.match_info["payment_id"])
    return _page_response(request, p)


def _customer_decision(
    settings: SandboxSettings, store: SandboxStore, completion: Completion, first: Outcome = "approved"
) -> Callable[[PaymentRow], Outcome]:
    """The outcome of a customer's approval: the card's own outcome, then the test-amount rule, then the e-CNY
    wallet tier limits (runs in the store's transaction)."""

    def decide(p: PaymentRow) -> Outcome:
        if first != "approved":
            return first
        if settings.amount_rules:
            by_amount = amount_outcome(p.amount_fen)
            if by_amount != "approved":
                return by_amount
        if p.method == "ecny_wallet" and completion.wallet_tier is not None and completion.wallet_id:
            limits = settings.wallet_limits[completion.wallet_tier]
            start_s, end_s = day_bounds_s(
                settlement_day(settings.clock(), settings.settlement_utc_offset_h),
                settings.settlement_utc_offset_h,
            )
            spent = store.db.wallet_spent_fen(completion.wallet_id, start_s, end_s)
            return wallet_outcome(p.amount_fen, limits, spent)
        return "approved"

    return decide


async def _form(request: web.Request) -> dict[str, str]:
    limit = request.app[SETTINGS_KEY].max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise errors.BodyTooLarge(f"form is over {limit} bytes")
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}


async def _after_customer(request: web.Request, payment_id: str) -> web.StreamResponse:
    """Post/redirect/get: back to the pay page, which now shows the result."""
    raise web.HTTPSeeOther(f"/pay/{payment_id}")


async def pay_approve(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS_KEY]
    store = request.app[STORE_KEY]
    payment_id = request.match_info["payment_id"]
    form = await _form(request)
    p = await store.run(store.db.payment, payment_id)
    if p.method == "card":
        return _page_response(request, p, ("请填写银行卡信息", "Enter the card details"), status=422)
    completion = Completion(outcome="approved")
    if p.method == "ecny_wallet":
        try:
            tier = int(form.get("wallet_tier", str(settings.default_wallet_tier)))
        except ValueError:
            tier = -1
        if tier not in settings.wallet_limits:
            return _page_response(request, p, ("钱包等级无效", "Unknown wallet tier"), status=422)
        wallet_id = re.sub(r"\s+", "", form.get("wallet_id", ""))[:64] or "sandbox-wallet"
        completion = Completion(outcome="approved", wallet_id=wallet_id, wallet_tier=tier)
    with contextlib.suppress(errors.PaymentNotPending):
        await _finish(request, payment_id, completion, _customer_decision(settings, store, completion))
    return await _after_customer(request, payment_id)


async def pay_decline(request: web.Request) -> web.StreamResponse:
    payment_id = request.match_info["payment_id"]
    await _form(request)
    with contextlib.suppress(errors.PaymentNotPending):
        await _finish(request, payment_id, Completion(outcome="declined"), lambda _p: "declined")
    return await _after_customer(request, payment_id)


def _card_error(form: dict[str, str], now_s: float) -> tuple[str, str] | None:
    number = normalise_card_number(form.get("card_number", ""))
    if not luhn_valid(number):
        return ("卡号无效", "That card number is not valid")
    m = re.match(r"^\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*$", form.get("expiry", ""))
    if m is None or not 1 <= int(m[1]) <= 12:
        return ("有效期格式应为 MM/YY", "Expiry must be MM/YY")
    year = int(m[2]) + (2000 if len(m[2]) == 2 else 0)
    today = dt.datetime.fromtimestamp(now_s, dt.UTC).date()
    if (year, int(m[1])) < (today.year, today.month):
        return ("银行卡已过期", "The card has expired")
    if not re.match(r"^\d{3,4}$", form.get("cvc", "").strip()):
        return ("CVN2 应为 3 或 4 位数字", "CVC must be 3 or 4 digits")
    if card_for_number(number) is None:
        return ("测试环境仅支持测试卡号", "Only the sandbox's test cards work here")
    return None


async def pay_card(request: web.Request) -> web.StreamResponse:
    """Tokenises the card in the sandbox (the number never leaves it, nor is it stored) and pays."""
    settings = request.app[SETTINGS_KEY]
    store = request.app[STORE_KEY]
    payment_id = request.match_info["payment_id"]
    form = await _form(request)
    p = await store.run(store.db.payment, payment_id)
    if p.method != "card":
        return _page_response(request, p, ("该订单不是银行卡支付", "This payment is not by card"), status=422)
    if p.status != "pending":
        return await _after_customer(request, payment_id)
    problem = _card_error(form, _now(request))
    if problem is not None:
        return _page_response(request, p, problem, status=422)
    card = card_for_number(normalise_card_number(form["card_number"]))
    assert card is not None
    completion = Completion(
        outcome=card.outcome, card_token=new_id("tok"), card_brand=card.brand, card_last4=card.number[-4:]
    )
    with contextlib.suppress(errors.PaymentNotPending):
        await _finish(
            request, payment_id, completion, _customer_decision(settings, store, completion, card.outcome)
        )
    return await _after_customer(request, payment_id)


# --- background work ------------------------------------------------------------------------------------


async def _maintenance(app: web.Application) -> None:
    """Expires due payments, finishes refunds after their processing time, purges old idempotency keys."""
    settings = app[SETTINGS_KEY]
    store = app[STORE_KEY]
    notifier = app[NOTIFIER_KEY]
    tick_s = max(0.05, min(settings.expiry_sweep_s, settings.refund_processing_s or 1.0, 1.0))
    last_purge_s = 0.0
    while True:
        try:
            now_s = settings.clock()
            for event in await store.run(store.db.expire_due, now_s):
                log.info("payment %s expired", event.payment_id)
                notifier.enqueue(event)
            if settings.refund_processing_s is not None:
                for refund in await store.run(store.db.pending_refunds, now_s - settings.refund_processing_s):
                    with contextlib.suppress(errors.RefundNotPending):
                        _, event = await store.run(
                            store.db.complete_refund, refund.id, True, settings.clock()
                        )
                        notifier.enqueue(event)
            if now_s - last_purge_s > 3600:
                await store.run(store.db.purge_idempotency, now_s - IDEMPOTENCY_RETENTION_S)
                last_purge_s = now_s
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sandbox maintenance failed; trying again")
        await asyncio.sleep(tick_s)


def _lifecycle(settings: SandboxSettings) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        store = SandboxStore(settings.data_dir)
        await store.open()
        session = aiohttp.ClientSession()
        notifier = Notifier(store, settings, session)
        app[STORE_KEY] = store
        app[NOTIFIER_KEY] = notifier
        resumed = await notifier.resume()
        if resumed:
            log.info("resumed delivery of %d undelivered notifications", resumed)
        maintenance = asyncio.create_task(_maintenance(app), name="payment-sandbox-maintenance")
        try:
            yield
        finally:
            maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await maintenance
            await notifier.close()
            await session.close()
            await store.close()

    return ctx


def create_sandbox_app(settings: SandboxSettings) -> web.Application:
    """The payment sandbox. Its store, notifier and background tasks start and stop with the app."""
    app = web.Application(middlewares=[_errors_middleware], client_max_size=settings.max_body_bytes)
    app[SETTINGS_KEY] = settings
    app.cleanup_ctx.append(_lifecycle(settings))
    r = app.router
    r.add_get("/healthz", healthz)
    r.add_post("/payments", create_payment)
    r.add_get("/payments", list_payments)
    r.add_get("/payments/{payment_id}", get_payment)
    r.add_post("/payments/{payment_id}/complete", complete_payment)
    r.add_post("/payments/{payment_id}/refunds", create_refund)
    r.add_get("/payments/{payment_id}/events", payment_events)
    r.add_get("/payments/{payment_id}/qr.png", qr_png)
    r.add_get("/refunds/{refund_id}", get_refund)
    r.add_post("/refunds/{refund_id}/complete", complete_refund)
    r.add_post("/events/{event_id}/redeliver", redeliver_event)
    r.add_get("/settlements/{date}.csv", settlement_csv)
    r.add_get("/pay/{payment_id}", pay_page)
    r.add_post("/pay/{payment_id}/approve", pay_approve)
    r.add_post("/pay/{payment_id}/decline", pay_decline)
    r.add_post("/pay/{payment_id}/card", pay_card)
    return app
