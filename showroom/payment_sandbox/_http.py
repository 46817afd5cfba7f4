"""What every sandbox route shares: app keys, the JSON error middleware, request parsing and reply shapes.

The middleware writes every `SandboxError` as `{"error": {"code", "message"}}` with its HTTP status (the same
wire shape as the showroom's API, but the sandbox's own errors); anything unexpected is logged and becomes a 500
that leaks nothing."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from showroom.payment_sandbox import errors
from showroom.payment_sandbox.notifier import Notifier
from showroom.payment_sandbox.records import Completion, EventRow, PaymentRow, RefundRow
from showroom.payment_sandbox.rules import Outcome, iso_utc
from showroom.payment_sandbox.settings import SandboxSettings
from showroom.payment_sandbox.store import SandboxStore

log = logging.getLogger("showroom.payment_sandbox")

SETTINGS_KEY = web.AppKey("sandbox_settings", SandboxSettings)
STORE_KEY = web.AppKey("sandbox_store", SandboxStore)
NOTIFIER_KEY = web.AppKey("sandbox_notifier", Notifier)
IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(code: str, message: str, status: int) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except errors.SandboxError as exc:
        return error_response(exc.code, exc.message, exc.http_status)
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json":
            return error_response(exc.reason.lower().replace(" ", "_"), exc.reason, exc.status)
        raise
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response("internal_error", "the sandbox failed unexpectedly; see its log", 500)


def clock_s(request: web.Request) -> float:
    return request.app[SETTINGS_KEY].clock()


def base_url(request: web.Request) -> str:
    configured = request.app[SETTINGS_KEY].public_base_url
    if configured:
        return configured.rstrip("/")
    return f"{request.scheme}://{request.host}"


async def read_json(request: web.Request) -> dict[str, Any]:
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


def idempotency_key_of(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY_PATTERN.match(key):
        raise errors.ValidationFailed("Idempotency-Key must be 1-255 printable ASCII characters")
    return key


def int_field(body: dict[str, Any], name: str, *, default: int | None = None) -> int:
    value = body.get(name, default)
    if value is None:
        raise errors.ValidationFailed(f"{name} is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.ValidationFailed(f"{name} must be an integer, got {value!r}")
    return int(value)


def str_field(body: dict[str, Any], name: str, *, default: str | None = None, max_len: int = 256) -> str:
    value = body.get(name, default)
    if value is None:
        raise errors.ValidationFailed(f"{name} is required")
    if not isinstance(value, str):
        raise errors.ValidationFailed(f"{name} must be a string")
    if len(value) > max_len:
        raise errors.ValidationFailed(f"{name} is longer than {max_len} characters")
    return value


def url_field(body: dict[str, Any], name: str, default: str | None) -> str | None:
    value = body.get(name) or default
    if value is None:
        return None
    if not isinstance(value, str) or not re.match(r"^https?://[^\s]+$", value) or len(value) > 2048:
        raise errors.ValidationFailed(f"{name} must be an http(s) URL")
    return value


def pay_url(base: str, payment_id: str) -> str:
    return f"{base}/pay/{payment_id}"


def qr_url(base: str, payment_id: str) -> str:
    return f"{base}/payments/{payment_id}/qr.png"


def refund_view(r: RefundRow) -> dict[str, Any]:
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


def payment_view(p: PaymentRow, refunds: list[RefundRow], base: str) -> dict[str, Any]:
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
        "pay_url": pay_url(base, p.id),
        "qr_png_url": qr_url(base, p.id),
        "refunds": [refund_view(r) for r in refunds],
    }
    if p.card_token:
        view["card"] = {"token": p.card_token, "brand": p.card_brand, "last4": p.card_last4}
    if p.wallet_tier is not None:
        view["wallet"] = {"tier": p.wallet_tier}
    return view


def event_view(e: EventRow) -> dict[str, Any]:
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


async def payment_and_refunds(store: SandboxStore, payment_id: str) -> tuple[PaymentRow, list[RefundRow]]:
    p = await store.run(store.db.payment, payment_id)
    return p, await store.run(store.db.refunds_of, payment_id)


async def finish_payment(
    request: web.Request, payment_id: str, completion: Completion, decide: Callable[[PaymentRow], Outcome]
) -> PaymentRow:
    store = request.app[STORE_KEY]
    row, event = await store.run(store.db.complete_payment, payment_id, completion, clock_s(request), decide)
    request.app[NOTIFIER_KEY].enqueue(event)
    if row.status == "expired":
        raise errors.PaymentNotPending(f"payment {payment_id} expired before it was completed")
    log.info("payment %s %s%s", row.id, row.status, f" ({row.failure_code})" if row.failure_code else "")
    return row
