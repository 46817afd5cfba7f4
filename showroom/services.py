"""Use cases of the commerce side. They reach the world only through the ports (`showroom/ports.py`).

Money-safety rules kept here (docs/commerce.md explains them):
- every state change is one database transaction; events are published only after it commits;
- a payment is first written as an *intent* row, then created at the backend with an idempotency key derived
  from that row, then marked pending: a crash between the two steps is finished by `recover()` on start;
- a notification is verified (HMAC, 300 s tolerance), matched (payment, order, amount, currency) and
  deduplicated by its event id inside the transaction that applies it; status changes are idempotent too;
- an order is paid by exactly one payment; any other successful payment is refunded in full automatically
  (refund intents are written in the same transaction and executed after it, retried by the sweeper);
- every creating POST is idempotent by `Idempotency-Key` (replay = first answer, other body = 422,
  in flight = 409).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from showroom import compliance, events, finance
from showroom.catalog import Catalog, Product, ProductKind
from showroom.errors import InvalidInput, ShowroomError
from showroom.orders import (
    OPEN_STATUSES,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    new_id,
)
from showroom.ports import (
    PAYMENT_METHODS,
    Clock,
    ConcurrentUpdate,
    CreatePaymentRequest,
    EventBus,
    GatewayPayment,
    PaymentGateway,
    PaymentGatewayUnavailable,
    PaymentRejected,
    PriceFeed,
    RefundRequest,
    UnitOfWork,
)
from showroom.pricing import Quote, format_cny, make_quote, snapshot_to_dict, to_fen
from showroom.settings import CommerceSettings
from showroom.sharing import Share, make_token, new_share_id, read_token
from showroom.signing import SIGNATURE_HEADER, verify

log = logging.getLogger("showroom.commerce")

UowFactory = Callable[[], UnitOfWork]
MAX_RETRIES = 8


class IdempotencyKeyMissing(ShowroomError):
    code = "idempotency_key_missing"
    http_status = 400


class IdempotencyKeyReused(ShowroomError):
    code = "idempotency_key_reused"
    http_status = 422


class RequestInFlight(ShowroomError):
    code = "request_in_flight"
    http_status = 409


class QuoteUsed(ShowroomError):
    code = "quote_used"
    http_status = 409


class NoticeInvalid(ShowroomError):
    code = "notice_invalid"
    http_status = 400


class NoticeMismatch(ShowroomError):
    """A signed notification does not match what we asked for (order, amount, currency): refused, logged."""

    code = "notice_mismatch"
    http_status = 422


class NoticeUnknown(ShowroomError):
    """A notification for a payment or refund we do not (yet) know: the backend retries later."""

    code = "notice_unknown"
    http_status = 404


Reply = tuple[int, dict[str, Any]]


@dataclass
class _Outcome:
    """What a transaction left to do once committed."""

    events: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[str] = field(default_factory=list)
    duplicate: bool = False


@dataclass
class _Claim:
    """An Idempotency-Key claimed for one request; `finish` stores the answer inside the work's transaction."""

    scope: str
    key: str
    finished: bool = False

    async def finish(self, uow: UnitOfWork, status: int, body: dict[str, Any]) -> Reply:
        await uow.idempotency_finish(self.scope, self.key, status, body)
        return status, body


@dataclass(frozen=True)
class Mismatch:
    kind: str
    """ours_only | theirs_only | amount | refund"""
    payment_id: str
    order_id: str
    ours_fen: int | None
    theirs_fen: int | None
    refund_id: str | None = None
    note: str = ""


@dataclass(frozen=True)
class ReconciliationReport:
    day: date
    matched: int
    mismatches: tuple[Mismatch, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"date": self.day.isoformat(), "matched": self.matched,
                "mismatches": [m.__dict__ for m in self.mismatches]}


def _hash_body(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _dt(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _text(body: dict[str, Any], key: str, *, required: bool = True, max_len: int = 200) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise InvalidInput(f"{key} is required")
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise InvalidInput(f"{key} must be a non-empty string of at most {max_len} characters")
    return value.strip()


def _decimal(body: dict[str, Any], key: str, default: Decimal | None = None) -> Decimal:
    value = body.get(key)
    if value is None:
        if default is None:
            raise InvalidInput(f"{key} is required")
        return default
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidInput(f"{key} must be a decimal number")
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput(f"{key} must be a decimal number") from None
    if not out.is_finite():
        raise InvalidInput(f"{key} must be a finite number")
    return out


def _int(body: dict[str, Any], key: str, default: int | None = None) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{key} must be an integer")
    return value


def is_new_energy(product: Product) -> bool:
    tags = {t.lower() for t in product.tags}
    return bool(tags & {"electric", "ev", "bev", "nev", "new-energy", "plug-in-hybrid", "phev"})


class CommerceService:
    def __init__(self, *, catalog: Catalog, settings: CommerceSettings, uow: UowFactory, gateway: PaymentGateway,
                 prices: PriceFeed, bus: EventBus, clock: Clock,
                 rules: compliance.ComplianceRules | None = None) -> None:
        self.catalog = catalog
        self.settings = settings
        self.uow = uow
        self.gateway = gateway
        self.prices = prices
        self.bus = bus
        self.clock = clock
        self.rules = rules or compliance.ComplianceRules(aml_threshold_cny=settings.aml_threshold_cny)

    # -- plumbing ---------------------------------------------------------------------------------------------

    async def _publish(self, outcome: _Outcome) -> None:
        for ev in outcome.events:
            try:
                await self.bus.publish(events.ORDERS_CHANNEL, ev)
                await self.bus.publish(events.order_channel(str(ev["id"])), ev)
            except Exception:  # the state is committed; a lost push is re-read by GET /api/orders/{id}
                log.exception("could not publish %s", ev)

    async def _after(self, outcome: _Outcome) -> None:
        await self._publish(outcome)
        for refund_id in outcome.refunds:
            await self.execute_refund(refund_id)

    async def _transact(self, work: Callable[[UnitOfWork, _Outcome], Awaitable[Any]]) -> tuple[Any, _Outcome]:
        """Runs `work` in one transaction, retrying on a lost optimistic race; publishes after commit."""
        for attempt in range(MAX_RETRIES):
            outcome = _Outcome()
            try:
                async with self.uow() as uow:
                    result = await work(uow, outcome)
                    await uow.commit()
            except ConcurrentUpdate:
                await asyncio.sleep(0.005 * (attempt + 1))
                continue
            await self._after(outcome)
            return result, outcome
        raise ConcurrentUpdate("too many concurrent changes; try again")

    async def _idempotent(self, scope: str, key: str | None, body: Any,
                          work: Callable[[_Claim], Awaitable[Reply]]) -> Reply:
        """Runs `work` once per (scope, Idempotency-Key); `work` may store its answer in its own transaction
        (`claim.finish`), else it is stored right after."""
        if not key:
            raise IdempotencyKeyMissing("this request needs an Idempotency-Key header")
        if len(key) > 200:
            raise InvalidInput("Idempotency-Key is at most 200 characters")
        digest = _hash_body(body)
        now = self.clock.now()
        async with self.uow() as uow:
            record = await uow.idempotency_begin(scope, key, digest, now, self.settings.idempotency_stale_s)
            await uow.commit()
        if record is not None:
            if record.request_hash != digest:
                raise IdempotencyKeyReused("this Idempotency-Key was used with a different request body")
            if record.state == "in_flight":
                raise RequestInFlight("a request with this Idempotency-Key is still being processed")
            assert record.response_status is not None and record.response_body is not None
            return record.response_status, record.response_body
        claim = _Claim(scope, key)
        try:
            status, reply = await work(claim)
        except BaseException:
            async with self.uow() as uow:
                await uow.idempotency_abort(scope, key)
                await uow.commit()
            raise
        if not claim.finished:
            async with self.uow() as uow:
                await uow.idempotency_finish(scope, key, status, reply)
                await uow.commit()
        return status, reply

    # -- views ------------------------------------------------------------------------------------------------

    def quote_view(self, q: Quote) -> dict[str, Any]:
        b = q.breakdown
        return {
            "id": q.id, "product": q.product_id, "variant": q.variant_id, "quantity": q.quantity,
            "currency": "CNY", "unit_price_cny": format_cny(q.unit_price_fen), "total_cny": format_cny(q.total_fen),
            "created_at": _dt(q.created_at), "expires_at": _dt(q.expires_at),
            "breakdown": {"metal_cny_per_g": None if b.metal_cny_per_g is None else str(b.metal_cny_per_g),
                          "weight_g": None if b.weight_g is None else str(b.weight_g),
                          "metal_value_cny": str(b.metal_value_cny), "premium_cny": str(b.premium_cny),
                          "craft_fee_cny": str(b.craft_fee_cny),
                          "list_price_cny": None if b.list_price_cny is None else str(b.list_price_cny)},
            "price_source": q.snapshot.source, "price_as_of": _dt(q.snapshot.as_of),
            "price_snapshot_id": q.snapshot.snapshot_id,
        }

    @staticmethod
    def payment_view(p: Payment) -> dict[str, Any]:
        return {"id": p.id, "payment_id": p.gateway_payment_id, "order_id": p.order_id, "method": p.method,
                "amount_cny": format_cny(p.amount_fen), "status": p.status.value, "pay_url": p.pay_url,
                "qr_png_url": p.qr_png_url, "expires_at": _dt(p.expires_at), "failure_code": p.failure_code,
                "created_at": _dt(p.created_at)}

    @staticmethod
    def refund_view(r: Refund) -> dict[str, Any]:
        return {"id": r.id, "refund_id": r.gateway_refund_id, "order_id": r.order_id,
                "amount_cny": format_cny(r.amount_fen), "status": r.status.value, "reason": r.reason,
                "automatic": r.automatic, "created_at": _dt(r.created_at)}

    def order_view(self, o: Order, payments: list[Payment], refunds: list[Refund]) -> dict[str, Any]:
        return {
            "id": o.id, "status": o.status.value, "quote_id": o.quote_id, "product": o.product_id,
            "variant": o.variant_id, "quantity": o.quantity, "branch": o.branch_id, "channel": o.channel,
            "currency": o.currency, "amount_cny": format_cny(o.amount_fen), "total_cny": format_cny(o.amount_fen),
            "paid_cny": format_cny(o.paid_fen), "refunded_cny": format_cny(o.refunded_fen),
            "created_at": _dt(o.created_at), "updated_at": _dt(o.updated_at), "expires_at": _dt(o.expires_at),
            "aml_review": o.aml_review, "finance": o.finance,
            "payments": [self.payment_view(p) for p in payments], "refunds": [self.refund_view(r) for r in refunds],
        }

    # -- quotes and orders ------------------------------------------------------------------------------------

    async def quote(self, product_id: str, variant_id: str | None, quantity: int = 1) -> Quote:
        product = self.catalog.get(product_id)
        variant = product.variant(variant_id)
        snapshot = await self.prices.snapshot()
        now = self.clock.now()
        deposit = product.reservation_deposit_cny or self.settings.car_deposit_cny
        quote = make_quote(product, variant, quantity, snapshot, now, ttl_s=self.settings.quote_ttl_s,
                           car_deposit_cny=deposit)
        async with self.uow() as uow:
            await uow.add_quote(quote)
            await uow.commit()
        return quote

    async def place_order(self, body: dict[str, Any], idempotency_key: str | None) -> Reply:
        if not isinstance(body, dict):
            raise InvalidInput("the body must be a JSON object")
        return await self._idempotent("orders", idempotency_key, body, lambda claim: self._place_order(body, claim))

    async def _place_order(self, body: dict[str, Any], claim: _Claim) -> Reply:
        quote_id = _text(body, "quote_id")
        assert quote_id is not None
        customer = body.get("customer") or {}
        if not isinstance(customer, dict):
            raise InvalidInput("customer must be an object")
        name = _text(customer, "name", required=False, max_len=100)
        phone = _text(customer, "phone", required=False, max_len=32)
        if not name and not phone:
            raise InvalidInput("customer needs a name or a phone number")
        kyc = compliance.parse_kyc(customer.get("kyc_level"))
        channel = _text(body, "channel", required=False, max_len=32) or "web"
        branch = _text(body, "branch", required=False, max_len=64) or self.settings.default_branch_id
        view = body.get("product_view")
        if view is not None and not isinstance(view, dict):
            raise InvalidInput("product_view must be an object such as {\"view_set_hash\": ...}")
        share_token = _text(body, "share_token", required=False, max_len=1000)
        share_id = read_token(self.settings.share_secret, share_token, self.clock.now()).share_id if share_token else None
        finance_req = body.get("finance")
        if finance_req is not None and not isinstance(finance_req, dict):
            raise InvalidInput("finance must be an object")

        async def work(uow: UnitOfWork, out: _Outcome) -> Reply:
            now = self.clock.now()
            quote = await uow.get_quote(quote_id)
            existing_id = await uow.order_for_quote(quote.id)
            if existing_id is not None:
                # One quote makes one order. The same customer asking again (a retry whose first answer was
                # lost, even under another Idempotency-Key) gets that order back; anyone else is refused.
                existing = await uow.get_order(existing_id)
                if existing.customer.get("phone") == phone and existing.customer.get("name") == name:
                    return await claim.finish(uow, 200, self.order_view(
                        existing, await uow.payments_for_order(existing.id), await uow.refunds_for_order(existing.id)))
                raise QuoteUsed(f"quote {quote.id} already has an order; ask for a new quote")
            quote.ensure_valid(now)
            product = self.catalog.get(quote.product_id)
            variant = product.variant(quote.variant_id)
            amount_cny = Decimal(quote.total_fen) / 100
            customer_key = phone or f"name:{name}"
            activity = await uow.customer_activity(customer_key, now)
            check = compliance.check_order(self.rules, kyc, amount_cny, activity)
            plan_doc: dict[str, Any] | None = None
            if product.kind is ProductKind.CAR and finance_req is not None:
                plan_doc = self._plan_doc(self._finance_plan(product, variant.id, finance_req), summary=True)
            order = Order(id=new_id("ord"), quote_id=quote.id, product_id=product.id, variant_id=variant.id,
                          quantity=quote.quantity, branch_id=branch, amount_fen=quote.total_fen,
                          status=OrderStatus.CREATED, customer={"name": name, "phone": phone, "kyc_level": kyc.value},
                          channel=channel, created_at=now, updated_at=now,
                          expires_at=now + timedelta(seconds=self.settings.reservation_ttl_s),
                          aml_review=check.aml_review, share_token_id=share_id, finance=plan_doc)
            initial = variant.stock if variant.stock > 0 else self.settings.default_branch_stock
            await uow.reserve_stock(branch, product.id, variant.id, quote.quantity, initial)
            order.reserve(now)
            await uow.add_order(order, customer_key)
            record = compliance.audit_record(quote=self.quote_view(quote), snapshot=snapshot_to_dict(quote.snapshot),
                                             view=view, check=check, customer_kyc=kyc)
            await uow.add_audit(order.id, "order_placed", record, now)
            if share_id:
                await uow.count_share(share_id, orders=1)
            out.events.extend(order.events)
            return await claim.finish(uow, 201, self.order_view(order, [], []))

        reply, _ = await self._transact(work)
        claim.finished = True  # the answer was stored in the order's own transaction
        result: Reply = reply
        return result

    async def get_order(self, order_id: str, *, with_audit: bool = False) -> dict[str, Any]:
        async with self.uow() as uow:
            order = await uow.get_order(order_id)
            view = self.order_view(order, await uow.payments_for_order(order_id), await uow.refunds_for_order(order_id))
            if with_audit:
                view["audit"] = await uow.audit_for(order_id)
        return view

    async def cancel(self, order_id: str) -> dict[str, Any]:
        async def work(uow: UnitOfWork, out: _Outcome) -> dict[str, Any]:
            now = self.clock.now()
            order = await uow.get_order(order_id, for_update=True)
            order.cancel(now)
            await uow.release_stock(order.branch_id, order.product_id, order.variant_id, order.quantity)
            await uow.save_order(order)
            await uow.add_audit(order.id, "cancelled", {"by": "customer"}, now)
            out.events.extend(order.events)
            return self.order_view(order, await uow.payments_for_order(order_id), await uow.refunds_for_order(order_id))

        view, _ = await self._transact(work)
        result: dict[str, Any] = view
        return result

    async def advance_fulfilment(self, order_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Operator: a paid order is being fulfilled (`fulfilling`) or was handed over (`completed`)."""
        if not isinstance(body, dict) or body.get("status") not in ("fulfilling", "completed"):
            raise InvalidInput("status must be fulfilling or completed")
        target = OrderStatus(str(body["status"]))

        async def work(uow: UnitOfWork, out: _Outcome) -> dict[str, Any]:
            now = self.clock.now()
            order = await uow.get_order(order_id, for_update=True)
            if target is OrderStatus.FULFILLING:
                order.start_fulfilment(now)
            else:
                order.complete(now)
            await uow.save_order(order)
            await uow.add_audit(order.id, target.value, {"by": "operator"}, now)
            out.events.extend(order.events)
            return self.order_view(order, await uow.payments_for_order(order_id), await uow.refunds_for_order(order_id))

        view, _ = await self._transact(work)
        result: dict[str, Any] = view
        return result

    # -- payments ---------------------------------------------------------------------------------------------

    async def start_payment(self, order_id: str, body: dict[str, Any], idempotency_key: str | None) -> Reply:
        if not isinstance(body, dict):
            raise InvalidInput("the body must be a JSON object")
        method = body.get("method")
        if method not in PAYMENT_METHODS:
            raise InvalidInput(f"method must be one of {', '.join(PAYMENT_METHODS)}")
        tier: int | None = None
        if method == "ecny_wallet":
            tier = _int(body, "wallet_tier", 2)
        return await self._idempotent(f"payments:{order_id}", idempotency_key, body,
                                      lambda claim: self._start_payment(order_id, str(method), tier, claim.key))

    async def _start_payment(self, order_id: str, method: str, tier: int | None, client_key: str) -> Reply:
        gateway_key = f"{order_id}:{client_key}"

        async def work(uow: UnitOfWork, out: _Outcome) -> Payment:
            existing = await uow.payment_by_key(gateway_key)
            if existing is not None:
                return existing
            now = self.clock.now()
            order = await uow.get_order(order_id, for_update=True)
            order.ensure_payable(now)
            if tier is not None:
                activity = await uow.customer_activity(order.customer.get("phone") or f"name:{order.customer.get('name')}", now)
                compliance.check_wallet_payment(self.rules, tier, Decimal(order.amount_fen) / 100, activity)
            payment = Payment(id=new_id("pay"), order_id=order.id, method=method, amount_fen=order.amount_fen,
                              status=PaymentStatus.INTENT, idempotency_key=gateway_key, created_at=now,
                              updated_at=now, wallet_tier=tier)
            order.payment_started(now)
            await uow.save_order(order)
            await uow.add_payment(payment)
            out.events.extend(order.events)
            return payment

        result, _ = await self._transact(work)
        payment: Payment = result
        if payment.status is PaymentStatus.INTENT:
            payment = await self.submit_payment(payment.id)
        return 201, self.payment_view(payment)

    async def submit_payment(self, payment_id: str) -> Payment:
        """Creates an intent payment at the backend (idempotent by its key) and records the backend's ids."""
        async with self.uow() as uow:
            payment = await uow.get_payment(payment_id)
            order = await uow.get_order(payment.order_id)
        if payment.status is not PaymentStatus.INTENT:
            return payment
        now = self.clock.now()
        left_s = int((order.expires_at - now).total_seconds())
        product = self.catalog.get(order.product_id)
        request = CreatePaymentRequest(
            order_id=order.id, amount_fen=payment.amount_fen, method=payment.method,  # type: ignore[arg-type]
            description=f"{product.name.zh} x{order.quantity}"[:120],
            notify_url=f"{self.settings.public_base_url}/api/payments/notify",
            return_url=f"{self.settings.public_base_url}/phone?order={order.id}",
            expires_in_s=max(60, min(self.settings.payment_expires_in_s, left_s)),
            idempotency_key=payment.idempotency_key)
        try:
            created = await self.gateway.create_payment(request)
        except PaymentRejected:
            async def fail(uow: UnitOfWork, out: _Outcome) -> None:
                await uow.get_order(order.id, for_update=True)  # payment rows change under the order's lock
                p = await uow.get_payment(payment_id)
                if p.status is PaymentStatus.INTENT:
                    p.status, p.failure_code, p.updated_at = PaymentStatus.FAILED, "rejected", self.clock.now()
                    await uow.save_payment(p)
            await self._transact(fail)
            raise

        async def record(uow: UnitOfWork, out: _Outcome) -> Payment:
            await uow.get_order(order.id, for_update=True)  # a notice may be changing this payment right now
            p = await uow.get_payment(payment_id)
            p.gateway_payment_id = created.payment_id
            p.pay_url, p.qr_png_url, p.expires_at = created.pay_url, created.qr_png_url, created.expires_at
            if p.status is PaymentStatus.INTENT:
                p.status = PaymentStatus.PENDING
            p.updated_at = self.clock.now()
            await uow.save_payment(p)
            return p

        done, _ = await self._transact(record)
        out_payment: Payment = done
        return out_payment

    # -- notifications ----------------------------------------------------------------------------------------

    async def handle_payment_notice(self, body: bytes, signature: str | None) -> dict[str, Any]:
        """Verifies and applies one notification from the payment backend (see the module docstring)."""
        now = self.clock.now()
        verify(self.settings.payment_webhook_secret, signature, body, now.timestamp())
        try:
            doc = json.loads(body)
            event_id = str(doc["id"])
            event_type = str(doc["type"])
            data = doc["data"]
            if not isinstance(data, dict):
                raise TypeError
            gateway_payment_id = str(data["payment_id"])
            amount_fen = data["amount_fen"]
            if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise NoticeInvalid(f"a notification is JSON with id, type and data (see {SIGNATURE_HEADER})") from None

        async def work(uow: UnitOfWork, out: _Outcome) -> None:
            if not await uow.record_event(event_id, event_type, now):
                out.duplicate = True
                return
            if event_type.startswith("payment."):
                await self._apply_payment_notice(uow, out, event_type, gateway_payment_id, amount_fen, data)
            elif event_type.startswith("refund."):
                await self._apply_refund_notice(uow, out, event_type, gateway_payment_id, amount_fen, data)
            else:
                log.info("ignoring notification %s of unknown type %s", event_id, event_type)

        _, outcome = await self._transact(work)
        return {"received": True, "duplicate": outcome.duplicate}

    async def _apply_payment_notice(self, uow: UnitOfWork, out: _Outcome, event_type: str, gateway_payment_id: str,
                                    amount_fen: int, data: dict[str, Any]) -> None:
        payment = await uow.payment_by_gateway_id(gateway_payment_id)
        if payment is None:
            # The backend was faster than our write of its id (or we crashed before it): match the intent.
            order_id = str(data.get("order_id", ""))
            candidates = [p for p in await uow.payments_for_order(order_id)
                          if p.gateway_payment_id is None and p.amount_fen == amount_fen]
            if not candidates:
                raise NoticeUnknown(f"no payment {gateway_payment_id!r} here yet")
            payment = candidates[0]
            payment.gateway_payment_id = gateway_payment_id
        order = await uow.get_order(payment.order_id, for_update=True)
        payment = await self._fresh_payment(uow, payment)  # as committed now that the order is locked
        if str(data.get("order_id")) != order.id or data.get("currency", "CNY") != order.currency \
                or amount_fen != payment.amount_fen:
            raise NoticeMismatch(f"notification for {gateway_payment_id} does not match order {order.id}: "
                                 f"{data.get('order_id')} {amount_fen} {data.get('currency')}")
        status = {"payment.succeeded": PaymentStatus.SUCCEEDED, "payment.failed": PaymentStatus.FAILED,
                  "payment.expired": PaymentStatus.EXPIRED}.get(event_type)
        if status is None:
            log.info("ignoring payment notification type %s", event_type)
            return
        await self._apply_payment_status(uow, out, order, payment, status, data.get("failure_code"))

    @staticmethod
    async def _fresh_payment(uow: UnitOfWork, payment: Payment) -> Payment:
        fresh = await uow.get_payment(payment.id)
        if fresh.gateway_payment_id is None:
            fresh.gateway_payment_id = payment.gateway_payment_id
        return fresh

    @staticmethod
    async def _fresh_refund(uow: UnitOfWork, refund: Refund) -> Refund:
        fresh = await uow.get_refund(refund.id)
        if fresh.gateway_refund_id is None:
            fresh.gateway_refund_id = refund.gateway_refund_id
        return fresh

    async def _apply_payment_status(self, uow: UnitOfWork, out: _Outcome, order: Order, payment: Payment,
                                    status: PaymentStatus, failure_code: Any) -> None:
        now = self.clock.now()
        if status is PaymentStatus.SUCCEEDED:
            if payment.status is PaymentStatus.SUCCEEDED:
                await uow.save_payment(payment)
                return
            payment.status, payment.succeeded_at, payment.updated_at = PaymentStatus.SUCCEEDED, now, now
            await uow.save_payment(payment)
            was_open = order.status in OPEN_STATUSES
            refund_fen = order.apply_payment_succeeded(payment, now)
            if order.paid_payment_id == payment.id:
                if was_open:
                    await uow.take_stock(order.branch_id, order.product_id, order.variant_id, order.quantity)
                await uow.add_audit(order.id, "paid", {"payment_id": payment.id, "amount_fen": payment.amount_fen,
                                                       "gateway_payment_id": payment.gateway_payment_id}, now)
                if order.share_token_id:
                    await uow.count_share(order.share_token_id, purchases=1)
            if refund_fen > 0:
                reason = ("paid_after_expiry" if order.status in (OrderStatus.EXPIRED, OrderStatus.CANCELLED)
                          else "duplicate_payment" if order.paid_payment_id else "amount_mismatch")
                refund = Refund(id=new_id("rf"), order_id=order.id, payment_id=payment.id, amount_fen=refund_fen,
                                reason=reason, status=RefundStatus.INTENT, idempotency_key=f"auto:{payment.id}",
                                created_at=now, updated_at=now, automatic=True)
                await uow.add_refund(refund)
                await uow.add_audit(order.id, "automatic_refund", {"payment_id": payment.id, "amount_fen": refund_fen,
                                                                   "reason": reason}, now)
                out.refunds.append(refund.id)
            await uow.save_order(order)
        else:
            if payment.status in (PaymentStatus.INTENT, PaymentStatus.PENDING):
                payment.status, payment.updated_at = status, now
                payment.failure_code = None if failure_code is None else str(failure_code)[:64]
                order.apply_payment_failed(payment, now)
                await uow.save_order(order)
            await uow.save_payment(payment)
        out.events.extend(order.events)

    async def _apply_refund_notice(self, uow: UnitOfWork, out: _Outcome, event_type: str, gateway_payment_id: str,
                                   amount_fen: int, data: dict[str, Any]) -> None:
        gateway_refund_id = str(data.get("refund_id") or "")
        if not gateway_refund_id:
            raise NoticeInvalid("a refund notification names its refund_id")
        refund = await uow.refund_by_gateway_id(gateway_refund_id)
        payment = await uow.payment_by_gateway_id(gateway_payment_id)
        if refund is None:
            if payment is None:
                raise NoticeUnknown(f"no payment {gateway_payment_id!r} here")
            candidates = [r for r in await uow.refunds_for_order(payment.order_id)
                          if r.gateway_refund_id is None and r.payment_id == payment.id and r.amount_fen == amount_fen]
            if not candidates:
                raise NoticeUnknown(f"no refund {gateway_refund_id!r} here yet")
            refund = candidates[0]
            refund.gateway_refund_id = gateway_refund_id
        order = await uow.get_order(refund.order_id, for_update=True)
        refund = await self._fresh_refund(uow, refund)
        if (payment is None or payment.id != refund.payment_id or str(data.get("order_id")) != order.id
                or amount_fen != refund.amount_fen or data.get("currency", "CNY") != order.currency):
            raise NoticeMismatch(f"refund notification {gateway_refund_id} does not match refund {refund.id}")
        await self._apply_refund_status(uow, out, order, refund, event_type == "refund.succeeded")

    async def _apply_refund_status(self, uow: UnitOfWork, out: _Outcome, order: Order, refund: Refund,
                                   succeeded: bool) -> None:
        now = self.clock.now()
        if succeeded and refund.status is not RefundStatus.SUCCEEDED:
            refund.status, refund.succeeded_at, refund.updated_at = RefundStatus.SUCCEEDED, now, now
            order.apply_refund_succeeded(refund, now)
            await uow.save_order(order)
            await uow.add_audit(order.id, "refunded", {"refund_id": refund.id, "amount_fen": refund.amount_fen}, now)
        elif not succeeded and refund.status in (RefundStatus.INTENT, RefundStatus.PENDING):
            refund.status, refund.updated_at = RefundStatus.FAILED, now
            await uow.add_audit(order.id, "refund_failed", {"refund_id": refund.id, "automatic": refund.automatic,
                                                            "amount_fen": refund.amount_fen}, now)
            log.warning("refund %s of order %s failed at the backend: an operator must act", refund.id, order.id)
        await uow.save_refund(refund)
        out.events.extend(order.events)

    # -- refunds ----------------------------------------------------------------------------------------------

    async def refund(self, order_id: str, body: dict[str, Any], idempotency_key: str | None) -> Reply:
        if not isinstance(body, dict):
            raise InvalidInput("the body must be a JSON object")
        amount: int | None = None
        if body.get("amount_cny") is not None:
            cny = _decimal(body, "amount_cny")
            if cny != cny.quantize(Decimal("0.01")):
                raise InvalidInput("amount_cny has at most 2 decimal places")
            amount = to_fen(cny)
        reason = _text(body, "reason", required=False, max_len=200) or "customer_request"
        return await self._idempotent(f"refunds:{order_id}", idempotency_key, body,
                                      lambda claim: self._refund(order_id, amount, reason, claim.key))

    async def _refund(self, order_id: str, amount_fen: int | None, reason: str, client_key: str) -> Reply:
        key = f"refund:{order_id}:{client_key}"

        async def work(uow: UnitOfWork, out: _Outcome) -> str:
            refunds = await uow.refunds_for_order(order_id)
            for r in refunds:
                if r.idempotency_key == key:
                    return r.id
            now = self.clock.now()
            order = await uow.get_order(order_id, for_update=True)
            amount = order.refundable_fen(refunds) if amount_fen is None else amount_fen
            order.ensure_refundable(amount, refunds)
            assert order.paid_payment_id is not None
            refund = Refund(id=new_id("rf"), order_id=order.id, payment_id=order.paid_payment_id, amount_fen=amount,
                            reason=reason, status=RefundStatus.INTENT, idempotency_key=key, created_at=now,
                            updated_at=now)
            await uow.add_refund(refund)
            order.updated_at = now
            await uow.save_order(order)  # bumps the version: concurrent refunds serialise on the order
            await uow.add_audit(order.id, "refund_requested", {"refund_id": refund.id, "amount_fen": amount,
                                                               "reason": reason}, now)
            return refund.id

        refund_id, _ = await self._transact(work)
        refund = await self.execute_refund(str(refund_id))
        return 201, self.refund_view(refund)

    async def execute_refund(self, refund_id: str) -> Refund:
        """Sends an intent refund to the backend (idempotent by its key); retried by the sweeper on failure."""
        async with self.uow() as uow:
            refund = await uow.get_refund(refund_id)
            payment = await uow.get_payment(refund.payment_id)
        if refund.status is not RefundStatus.INTENT or payment.gateway_payment_id is None:
            return refund
        try:
            reply = await self.gateway.refund(RefundRequest(payment.gateway_payment_id, refund.amount_fen,
                                                            refund.reason, refund.idempotency_key))
        except PaymentGatewayUnavailable:
            log.warning("refund %s not sent: payment backend unavailable; the sweeper retries", refund_id)
            return refund
        except PaymentRejected as exc:
            log.warning("refund %s rejected by the backend: %s", refund_id, exc.message)
            reply = None

        async def record(uow: UnitOfWork, out: _Outcome) -> Refund:
            order = await uow.get_order(refund.order_id, for_update=True)
            r = await uow.get_refund(refund_id)
            if reply is None:
                await self._apply_refund_status(uow, out, order, r, False)
                return r
            if r.gateway_refund_id is None:
                r.gateway_refund_id = reply.refund_id
            if r.status is RefundStatus.INTENT:
                r.status, r.updated_at = RefundStatus.PENDING, self.clock.now()
            if reply.status == "succeeded":
                await self._apply_refund_status(uow, out, order, r, True)
            elif reply.status == "failed":
                await self._apply_refund_status(uow, out, order, r, False)
            else:
                await uow.save_refund(r)
            return r

        done, _ = await self._transact(record)
        result: Refund = done
        return result

    # -- background work --------------------------------------------------------------------------------------

    async def expire_due(self, limit: int = 200) -> int:
        now = self.clock.now()
        async with self.uow() as uow:
            due = await uow.order_ids_expiring(now, limit)
        expired = 0
        for order_id in due:
            async def work(uow: UnitOfWork, out: _Outcome, order_id: str = order_id) -> bool:
                order = await uow.get_order(order_id, for_update=True)
                if order.status not in OPEN_STATUSES or order.expires_at > self.clock.now():
                    return False
                order.expire(self.clock.now())
                await uow.release_stock(order.branch_id, order.product_id, order.variant_id, order.quantity)
                await uow.save_order(order)
                out.events.extend(order.events)
                return True
            done, _ = await self._transact(work)
            expired += bool(done)
        return expired

    async def apply_gateway_payment(self, gp: GatewayPayment) -> None:
        """Brings our payment in line with the backend's answer to a query (used by recovery)."""
        status = {"succeeded": PaymentStatus.SUCCEEDED, "failed": PaymentStatus.FAILED,
                  "expired": PaymentStatus.EXPIRED}.get(gp.status)
        if status is None:
            return

        async def work(uow: UnitOfWork, out: _Outcome) -> None:
            found = await uow.payment_by_gateway_id(gp.payment_id)
            if found is None:
                return
            order = await uow.get_order(found.order_id, for_update=True)
            payment = await uow.get_payment(found.id)
            if gp.amount_fen != payment.amount_fen or gp.order_id != order.id:
                log.error("backend payment %s does not match ours (%s): not applied", gp.payment_id, payment.id)
                return
            await self._apply_payment_status(uow, out, order, payment, status, gp.failure_code)

        await self._transact(work)

    async def recover(self, *, intent_age_s: float = 0.0) -> dict[str, int]:
        """Finishes work a crash (or an unreachable backend) left: intent payments and refunds are sent again
        with their idempotency keys; payments pending too long are queried. Run on start and by the sweeper."""
        now = self.clock.now()
        counts = {"payments_submitted": 0, "refunds_submitted": 0, "payments_queried": 0}
        async with self.uow() as uow:
            intents = await uow.payments_in((PaymentStatus.INTENT,), now - timedelta(seconds=intent_age_s))
            refunds = await uow.refunds_in((RefundStatus.INTENT,), now - timedelta(seconds=intent_age_s))
            stale = await uow.payments_in((PaymentStatus.PENDING,),
                                          now - timedelta(seconds=self.settings.pending_query_after_s))
        for p in intents:
            try:
                await self.submit_payment(p.id)
                counts["payments_submitted"] += 1
            except ShowroomError as exc:
                log.warning("could not submit payment %s: %s", p.id, exc.message)
        for r in refunds:
            done = await self.execute_refund(r.id)
            counts["refunds_submitted"] += done.status is not RefundStatus.INTENT
        for p in stale:
            if p.gateway_payment_id is None:
                continue
            try:
                await self.apply_gateway_payment(await self.gateway.query_payment(p.gateway_payment_id))
                counts["payments_queried"] += 1
            except ShowroomError as exc:
                log.warning("could not query payment %s: %s", p.id, exc.message)
        return counts

    async def sweep(self) -> dict[str, int]:
        counts = await self.recover(intent_age_s=30.0)
        counts["orders_expired"] = await self.expire_due()
        async with self.uow() as uow:
            counts["quotes_deleted"] = await uow.delete_quotes_expired_before(self.clock.now() - timedelta(days=1))
            await uow.commit()
        return counts

    # -- reconciliation ---------------------------------------------------------------------------------------

    async def reconcile(self, day: date) -> ReconciliationReport:
        """Compares what we recorded as succeeded on the settlement `day` (a calendar day at
        `settlement_utc_offset_h`, China Standard Time by default) with the backend's settlement file."""
        lines = await self.gateway.settlement(day)
        tz = timezone(timedelta(hours=self.settings.settlement_utc_offset_h))
        start = datetime.combine(day, time(0, 0), tzinfo=tz).astimezone(UTC)
        end = start + timedelta(days=1)
        async with self.uow() as uow:
            ours_p = {p.gateway_payment_id: p for p in await uow.payments_succeeded_between(start, end)
                      if p.gateway_payment_id}
            ours_r = {r.gateway_refund_id: r for r in await uow.refunds_succeeded_between(start, end)
                      if r.gateway_refund_id}
            pay_ids = {r.payment_id for r in ours_r.values()}
            gw_of = {pid: (await uow.get_payment(pid)).gateway_payment_id or "" for pid in pay_ids}
        theirs_p = {ln.payment_id: ln for ln in lines if ln.kind == "payment"}
        theirs_r = {ln.refund_id or "": ln for ln in lines if ln.kind == "refund"}
        out: list[Mismatch] = []
        matched = 0
        for pid in sorted(set(ours_p) | set(theirs_p)):
            mine, theirs = ours_p.get(pid), theirs_p.get(pid)
            if mine and theirs:
                if mine.amount_fen == theirs.amount_fen:
                    matched += 1
                else:
                    out.append(Mismatch("amount", pid, mine.order_id, mine.amount_fen, theirs.amount_fen))
            elif mine:
                out.append(Mismatch("ours_only", pid, mine.order_id, mine.amount_fen, None))
            elif theirs:
                out.append(Mismatch("theirs_only", pid, theirs.order_id, None, theirs.amount_fen))
        for rid in sorted(set(ours_r) | set(theirs_r)):
            mr, tr = ours_r.get(rid), theirs_r.get(rid)
            if mr and tr and mr.amount_fen == tr.amount_fen:
                matched += 1
                continue
            pid = tr.payment_id if tr else gw_of.get(mr.payment_id, "") if mr else ""
            order_id = tr.order_id if tr else mr.order_id if mr else ""
            note = "amount differs" if mr and tr else "refund only in our records" if mr else "refund only at the backend"
            out.append(Mismatch("refund", pid, order_id, mr.amount_fen if mr else None,
                                tr.amount_fen if tr else None, refund_id=rid, note=note))
        return ReconciliationReport(day, matched, tuple(out))

    # -- car finance ------------------------------------------------------------------------------------------

    def _finance_plan(self, product: Product, variant_id: str | None, body: dict[str, Any]) -> finance.LoanPlan:
        if product.kind is not ProductKind.CAR:
            raise InvalidInput(f"{product.id} is not a car; finance plans are for cars")
        variant = product.variant(variant_id)
        if variant.msrp_cny is None:
            raise InvalidInput(f"variant {variant.id} has no list price")
        ratio = _decimal(body, "down_payment_ratio", product.finance_min_down_payment_ratio or Decimal("0.2"))
        term = _int(body, "term_months", 36)
        rate = _decimal(body, "annual_rate", self.settings.default_loan_annual_rate)
        method_raw = body.get("method", "equal_installment")
        try:
            method = finance.RepaymentMethod(method_raw)
        except ValueError:
            raise InvalidInput("method must be equal_installment or equal_principal") from None
        compliance.check_auto_loan(self.rules, new_energy=is_new_energy(product), down_payment_ratio=ratio,
                                   term_months=term)
        if product.finance_min_down_payment_ratio and ratio < product.finance_min_down_payment_ratio:
            raise compliance.ComplianceRefused(
                f"the bank's lowest down payment for {product.id} is {product.finance_min_down_payment_ratio * 100:.0f} %")
        if product.finance_terms_months and term not in product.finance_terms_months:
            raise InvalidInput(f"terms offered: {', '.join(map(str, product.finance_terms_months))} months")
        return finance.plan_loan(variant.msrp_cny, ratio, term, rate, method,
                                 upfront_fee_cny=_decimal(body, "upfront_fee_cny", Decimal("0")),
                                 monthly_fee_cny=_decimal(body, "monthly_fee_cny", Decimal("0")))

    @staticmethod
    def _plan_doc(plan: finance.LoanPlan, *, summary: bool = False) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "price_cny": str(plan.price_cny), "down_payment_cny": str(plan.down_payment_cny),
            "principal_cny": str(plan.principal_cny), "term_months": plan.term_months,
            "annual_rate": str(plan.annual_rate), "method": plan.method.value,
            "upfront_fee_cny": str(plan.upfront_fee_cny), "monthly_fee_cny": str(plan.monthly_fee_cny),
            "total_interest_cny": str(plan.total_interest_cny), "total_fees_cny": str(plan.total_fees_cny),
            "total_repaid_cny": str(plan.total_repaid_cny), "apr": str(plan.apr),
            "apr_percent": f"{plan.apr * 100:.2f}", "effective_annual_rate": str(plan.effective_annual_rate),
            "first_payment_cny": str(plan.schedule[0].payment_cny),
            "last_payment_cny": str(plan.schedule[-1].payment_cny),
        }
        if not summary:
            doc["schedule"] = [{"month": r.month, "payment_cny": str(r.payment_cny),
                                "principal_cny": str(r.principal_cny), "interest_cny": str(r.interest_cny),
                                "fee_cny": str(r.fee_cny), "balance_after_cny": str(r.balance_after_cny)}
                               for r in plan.schedule]
        return doc

    def finance_plan(self, body: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise InvalidInput("the body must be a JSON object")
        product = self.catalog.get(_text(body, "product") or "")
        plan = self._finance_plan(product, _text(body, "variant", required=False), body)
        doc = self._plan_doc(plan)
        doc.update(product=product.id, variant=product.variant(body.get("variant")).id)
        return doc

    # -- sharing ----------------------------------------------------------------------------------------------

    async def issue_share(self, body: dict[str, Any], idempotency_key: str | None) -> Reply:
        if not isinstance(body, dict):
            raise InvalidInput("the body must be a JSON object")

        async def run(_claim: _Claim) -> Reply:
            product = self.catalog.get(_text(body, "product") or "")
            variant = product.variant(_text(body, "variant", required=False))
            channel = _text(body, "channel", required=False, max_len=32) or "web"
            quote = await self.quote(product.id, variant.id, 1)
            now = self.clock.now()
            share = Share(new_share_id(), product.id, variant.id, channel, now,
                          now + timedelta(seconds=self.settings.share_ttl_s), quote.unit_price_fen, quote.created_at)
            async with self.uow() as uow:
                await uow.add_share(share)
                await uow.commit()
            return 201, self.share_view(share)

        return await self._idempotent("shares", idempotency_key, body, run)

    def share_view(self, share: Share) -> dict[str, Any]:
        token = make_token(self.settings.share_secret, share)
        base = self.settings.public_base_url
        return {"id": share.id, "token": token, "url": f"{base}/s/{token}",
                "poster_url": f"{base}/api/shares/{token}/poster.png", "product": share.product_id,
                "variant": share.variant_id, "channel": share.channel, "expires_at": _dt(share.expires_at),
                "price_cny": None if share.price_fen is None else format_cny(share.price_fen),
                "quoted_at": _dt(share.quoted_at), "visits": share.visits, "orders": share.orders,
                "purchases": share.purchases}

    async def share_by_token(self, token: str, *, count_visit: bool) -> Share:
        claims = read_token(self.settings.share_secret, token, self.clock.now())
        async with self.uow() as uow:
            if count_visit:
                await uow.count_share(claims.share_id, visits=1)
            share = await uow.get_share(claims.share_id)
            await uow.commit()
        return share
