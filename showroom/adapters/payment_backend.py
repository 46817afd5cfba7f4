"""`HttpPaymentGateway`: the `PaymentGateway` port over the payment backend wire protocol (docs/payments.md).

Speaks to the sandbox or to a bank's real backend alike. Every call has a timeout. Calls are retried (with a
short exponential backoff) only when a retry cannot do harm: GETs, and POSTs that carry an `Idempotency-Key`
(the backend answers a replay with its first answer). Failures become `showroom` errors:
`PaymentGatewayUnavailable` (unreachable, timeout, 5xx - safe to retry later with the same key),
`PaymentRejected` (4xx), `GatewayPaymentNotFound` (404 on a payment), `PaymentGatewayError` (a malformed reply).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import aiohttp

from showroom.buyback_ports import PayoutReply, PayoutRequest
from showroom.ports import (
    PAYMENT_METHODS,
    CreatedPayment,
    CreatePaymentRequest,
    GatewayPayment,
    GatewayPaymentNotFound,
    GatewayPaymentStatus,
    GatewayRefundStatus,
    PaymentGatewayError,
    PaymentGatewayUnavailable,
    PaymentRejected,
    RefundReply,
    RefundRequest,
    SettlementLine,
    WalletFacts,
)

log = logging.getLogger("showroom.adapters.payment_backend")

_PAYMENT_STATUSES: tuple[GatewayPaymentStatus, ...] = ("pending", "succeeded", "failed", "expired")
_REFUND_STATUSES: tuple[GatewayRefundStatus, ...] = ("pending", "succeeded", "failed")
_TEST_OUTCOMES = ("approved", "declined", "insufficient_funds", "limit_exceeded", "timeout")


def _parse_time(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise PaymentGatewayError(f"payment backend sent no {name}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PaymentGatewayError(f"payment backend sent a malformed {name}: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _field(body: Mapping[str, Any], name: str, kind: type) -> Any:
    value = body.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise PaymentGatewayError(f"payment backend reply lacks a valid {name!r}")
    return value


def _payment_status(value: Any) -> GatewayPaymentStatus:
    for status in _PAYMENT_STATUSES:
        if value == status:
            return status
    raise PaymentGatewayError(f"payment backend sent an unknown payment status {value!r}")


def _refund_status(value: Any) -> GatewayRefundStatus:
    for status in _REFUND_STATUSES:
        if value == status:
            return status
    raise PaymentGatewayError(f"payment backend sent an unknown refund status {value!r}")


def _gateway_payment(body: Mapping[str, Any]) -> GatewayPayment:
    failure = body.get("failure_code")
    method = body.get("method")
    return GatewayPayment(
        payment_id=_field(body, "payment_id", str),
        order_id=_field(body, "order_id", str),
        status=_payment_status(body.get("status")),
        amount_fen=_field(body, "amount_fen", int),
        refunded_fen=int(body.get("refunded_fen") or 0),
        currency=str(body.get("currency") or "CNY"),
        method=method if isinstance(method, str) else None,
        failure_code=failure if isinstance(failure, str) else None,
    )


def _payout(body: Mapping[str, Any]) -> PayoutReply:
    status = body.get("status")
    if status not in ("pending", "succeeded", "failed"):
        raise PaymentGatewayError(f"payment backend sent an unknown payout status {status!r}")
    masked, failure = body.get("account_masked"), body.get("failure_code")
    return PayoutReply(_field(body, "payout_id", str), status, masked if isinstance(masked, str) else None,
                       failure if isinstance(failure, str) else None)


def _limit(doc: Mapping[str, Any], name: str) -> int | None:
    value = doc.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PaymentGatewayError(f"payment backend sent a malformed wallet {name}: {value!r}")
    return int(value)


def _wallet(doc: Any) -> WalletFacts | None:
    """The e-CNY wallet of a wallet payment, as the backend reports it (None when it sends none)."""
    if doc is None:
        return None
    if not isinstance(doc, Mapping):
        raise PaymentGatewayError("payment backend sent a malformed wallet")
    tier = doc.get("tier")
    if isinstance(tier, bool) or not isinstance(tier, int) or not 1 <= tier <= 4:
        raise PaymentGatewayError(f"payment backend sent an unknown wallet tier {tier!r}")
    wallet_id = doc.get("wallet_id")
    return WalletFacts(tier, _limit(doc, "single_limit_fen"), _limit(doc, "daily_limit_fen"),
                       _limit(doc, "balance_limit_fen"), wallet_id if isinstance(wallet_id, str) else None)


class HttpPaymentGateway:
    """The payment backend at `base_url` (e.g. `http://127.0.0.1:8090`), reached through `session`.

    The session is the caller's (opened and closed in the app's cleanup context).
    """

    def __init__(
        self,
        base_url: str,
        session: aiohttp.ClientSession,
        *,
        timeout_s: float = 10.0,
        attempts: int = 3,
        backoff_s: float = 0.2,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._attempts = max(1, attempts)
        self._backoff_s = backoff_s

    # --- the port ---------------------------------------------------------------------------------------

    async def create_payment(self, request: CreatePaymentRequest) -> CreatedPayment:
        if request.method not in PAYMENT_METHODS:
            raise PaymentRejected(f"unknown payment method {request.method!r}")
        body = {
            "order_id": request.order_id,
            "amount_fen": request.amount_fen,
            "currency": request.currency,
            "method": request.method,
            "description": request.description,
            "notify_url": request.notify_url,
            "return_url": request.return_url,
            "expires_in_s": request.expires_in_s,
        }
        if request.payer_phone is not None:
            body["payer_phone"] = request.payer_phone
        status, reply = await self._json("POST", "/payments", body, idempotency_key=request.idempotency_key)
        if status == 404:
            raise PaymentRejected("payment backend has no /payments endpoint (wrong base URL?)")
        return CreatedPayment(
            payment_id=_field(reply, "payment_id", str),
            status=_payment_status(reply.get("status")),
            pay_url=_field(reply, "pay_url", str),
            qr_png_url=_field(reply, "qr_png_url", str),
            expires_at=_parse_time(reply.get("expires_at"), "expires_at"),
            wallet=_wallet(reply.get("wallet")),
        )

    async def query_payment(self, payment_id: str) -> GatewayPayment:
        status, reply = await self._json("GET", f"/payments/{_segment(payment_id)}", None)
        if status == 404:
            raise GatewayPaymentNotFound(f"payment backend knows no payment {payment_id!r}")
        return _gateway_payment(reply)

    async def refund(self, request: RefundRequest) -> RefundReply:
        body = {"amount_fen": request.amount_fen, "reason": request.reason}
        status, reply = await self._json(
            "POST",
            f"/payments/{_segment(request.payment_id)}/refunds",
            body,
            idempotency_key=request.idempotency_key,
        )
        if status == 404:
            raise GatewayPaymentNotFound(f"payment backend knows no payment {request.payment_id!r}")
        return RefundReply(
            refund_id=_field(reply, "refund_id", str), status=_refund_status(reply.get("status"))
        )

    async def settlement(self, day: date) -> tuple[SettlementLine, ...]:
        status, text = await self._request("GET", f"/settlements/{day.isoformat()}.csv", None, None)
        if status >= 400:
            raise _rejection(status, text)
        return parse_settlement_csv(text)

    # --- payouts (the buy-back's `PayoutGateway` port, showroom/buyback_ports.py) ---------------------------

    async def create_payout(self, request: PayoutRequest) -> PayoutReply:
        """`POST /payouts`: pays the customer's account of record (the backend knows it by customer id)."""
        body = {"reference": request.reference, "customer_id": request.customer_id, "amount_fen": request.amount_fen,
                "currency": request.currency, "description": request.description, "notify_url": request.notify_url}
        status, reply = await self._json("POST", "/payouts", body, idempotency_key=request.idempotency_key)
        if status == 404:
            raise PaymentRejected("payment backend has no /payouts endpoint (wrong base URL?)")
        return _payout(reply)

    async def query_payout(self, payout_id: str) -> PayoutReply:
        status, reply = await self._json("GET", f"/payouts/{_segment(payout_id)}", None)
        if status == 404:
            raise GatewayPaymentNotFound(f"payment backend knows no payout {payout_id!r}")
        return _payout(reply)

    # --- test helpers (the sandbox's test-control endpoint; not part of the port) --------------------------

    async def complete_for_test(self, payment_id: str, outcome: str = "approved") -> GatewayPayment:
        """Finishes a pending payment in the sandbox as if the customer had paid (`outcome` as in the docs).

        Not retried: a second completion of the same payment is refused (409)."""
        if outcome not in _TEST_OUTCOMES:
            raise PaymentRejected(f"unknown test outcome {outcome!r}")
        status, reply = await self._json(
            "POST", f"/payments/{_segment(payment_id)}/complete", {"outcome": outcome}, retry=False
        )
        if status == 404:
            raise GatewayPaymentNotFound(f"payment backend knows no payment {payment_id!r}")
        return _gateway_payment(reply)

    # --- transport ----------------------------------------------------------------------------------------

    async def _json(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        *,
        idempotency_key: str | None = None,
        retry: bool = True,
    ) -> tuple[int, dict[str, Any]]:
        """Sends a request; returns (status, JSON object) for 2xx and 404, raises for other failures."""
        status, text = await self._request(method, path, body, idempotency_key, retry=retry)
        if status == 404:
            return status, {}
        if status >= 400:
            raise _rejection(status, text)
        try:
            reply = json.loads(text)
        except json.JSONDecodeError:
            raise PaymentGatewayError(
                f"payment backend sent non-JSON for {method} {path} ({status})"
            ) from None
        if not isinstance(reply, dict):
            raise PaymentGatewayError(f"payment backend sent a non-object for {method} {path}")
        return status, reply

    async def _request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        idempotency_key: str | None,
        *,
        retry: bool = True,
    ) -> tuple[int, str]:
        """(status, body text) of the first answer below 500; retries unreachable/timeout/5xx where safe."""
        safe = retry and (method == "GET" or idempotency_key is not None)
        attempts = self._attempts if safe else 1
        headers = {"Accept": "application/json"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        url = self.base_url + path
        last = ""
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))
            try:
                async with self._session.request(
                    method, url, json=body, headers=headers, timeout=self._timeout
                ) as resp:
                    text = await resp.text()
                    if resp.status < 500:
                        return resp.status, text
                    last = f"HTTP {resp.status}: {text[:200]}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            log.warning(
                "payment backend %s %s failed (attempt %d/%d): %s", method, path, attempt + 1, attempts, last
            )
        raise PaymentGatewayUnavailable(f"payment backend {method} {path} failed: {last}")


def _segment(value: str) -> str:
    """`value` as one URL path segment (ids never contain a slash; refuse rather than escape)."""
    if not value or "/" in value or value in (".", ".."):
        raise GatewayPaymentNotFound(f"not a payment id: {value!r}")
    return value


def _rejection(status: int, text: str) -> PaymentRejected:
    code, message = "", text[:300]
    try:
        err = json.loads(text).get("error", {})
        code, message = str(err.get("code", "")), str(err.get("message", message))
    except (json.JSONDecodeError, AttributeError):
        pass
    return PaymentRejected(f"payment backend refused ({status} {code}): {message}")


def parse_settlement_csv(text: str) -> tuple[SettlementLine, ...]:
    """The lines of a settlement file (columns by header name; extra columns are ignored)."""
    reader = csv.DictReader(io.StringIO(text))
    required = {
        "type",
        "payment_id",
        "refund_id",
        "order_id",
        "amount_fen",
        "currency",
        "fee_fen",
        "settled_at",
    }
    missing = required - set(reader.fieldnames or ())
    if missing:
        raise PaymentGatewayError(f"settlement file lacks columns: {', '.join(sorted(missing))}")
    lines: list[SettlementLine] = []
    for n, row in enumerate(reader, start=2):
        kind = row["type"]
        if kind not in ("payment", "refund"):
            raise PaymentGatewayError(f"settlement line {n}: unknown type {kind!r}")
        try:
            amount_fen, fee = int(row["amount_fen"]), int(row["fee_fen"] or 0)
        except ValueError:
            raise PaymentGatewayError(f"settlement line {n}: amounts must be integer fen") from None
        lines.append(
            SettlementLine(
                kind="payment" if kind == "payment" else "refund",
                payment_id=row["payment_id"],
                order_id=row["order_id"],
                amount_fen=amount_fen,
                refund_id=row["refund_id"] or None,
                currency=row["currency"] or "CNY",
                fee_fen=fee,
                settled_at=_parse_time(row["settled_at"], "settled_at") if row["settled_at"] else None,
            )
        )
    return tuple(lines)
