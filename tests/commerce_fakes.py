"""In-memory fakes of the commerce ports for tests: a payment gateway that behaves like the sandbox (idempotent
creates, outcomes, refunds, signed notifications, settlement lines), a manual clock and a fixed price feed."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from showroom.catalog import (
    Catalog,
    CraftFeeBasis,
    LocalizedText,
    Metal,
    Product,
    ProductKind,
    Purity,
    Variant,
)
from showroom.ports import (
    CreatedPayment,
    CreatePaymentRequest,
    GatewayPayment,
    PaymentGatewayUnavailable,
    PaymentRejected,
    PriceSnapshot,
    RefundReply,
    RefundRequest,
    SettlementLine,
)
from showroom.signing import sign

SECRET = "test-webhook-secret"


class Crash(BaseException):
    """Stands for the process being killed at this point (not an Exception: nothing may catch it)."""


class ManualClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.t = start or datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


class FixedPrices:
    def __init__(self, clock: ManualClock, au: str = "930.00") -> None:
        self.clock = clock
        self.au = Decimal(au)

    async def snapshot(self) -> PriceSnapshot:
        return PriceSnapshot(f"fixed-{self.au}", "fixed", self.clock.now(),
                             {Metal.GOLD: self.au, Metal.SILVER: Decimal("11.50"), Metal.PLATINUM: Decimal("350.00")})


@dataclass
class _Pay:
    id: str
    order_id: str
    amount_fen: int
    method: str
    status: str = "pending"
    refunded_fen: int = 0
    failure_code: str | None = None
    settled_on: date | None = None


@dataclass
class FakeGateway:
    clock: ManualClock
    secret: str = SECRET
    payments: dict[str, _Pay] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)
    refunds: dict[str, tuple[str, int, str]] = field(default_factory=dict)
    refund_keys: dict[str, str] = field(default_factory=dict)
    unavailable: bool = False
    crash_on_create: bool = False
    calls: int = 0
    refunds_succeed_at_once: bool = False
    last_request: CreatePaymentRequest | None = None

    async def create_payment(self, request: CreatePaymentRequest) -> CreatedPayment:
        self.calls += 1
        self.last_request = request
        if self.crash_on_create:
            raise Crash("killed between the database write and the gateway call")
        if self.unavailable:
            raise PaymentGatewayUnavailable("backend down")
        pid = self.by_key.get(request.idempotency_key)
        if pid is None:
            pid = "pay_" + secrets.token_hex(6)
            self.by_key[request.idempotency_key] = pid
            self.payments[pid] = _Pay(pid, request.order_id, request.amount_fen, request.method)
        return CreatedPayment(pid, "pending", f"http://gw/pay/{pid}", f"http://gw/pay/{pid}.png",
                              self.clock.now() + timedelta(seconds=request.expires_in_s))

    async def query_payment(self, payment_id: str) -> GatewayPayment:
        if self.unavailable:
            raise PaymentGatewayUnavailable("backend down")
        p = self.payments[payment_id]
        return GatewayPayment(p.id, p.order_id, p.status, p.amount_fen, p.refunded_fen,  # type: ignore[arg-type]
                              failure_code=p.failure_code)

    async def refund(self, request: RefundRequest) -> RefundReply:
        if self.unavailable:
            raise PaymentGatewayUnavailable("backend down")
        rid = self.refund_keys.get(request.idempotency_key)
        if rid is None:
            p = self.payments[request.payment_id]
            if p.status != "succeeded" or p.refunded_fen + request.amount_fen > p.amount_fen:
                raise PaymentRejected("refund exceeds what was paid")
            p.refunded_fen += request.amount_fen
            rid = "re_" + secrets.token_hex(6)
            self.refund_keys[request.idempotency_key] = rid
            self.refunds[rid] = (request.payment_id, request.amount_fen, "succeeded" if self.refunds_succeed_at_once
                                 else "pending")
        return RefundReply(rid, self.refunds[rid][2])  # type: ignore[arg-type]

    async def settlement(self, day: date) -> tuple[SettlementLine, ...]:
        lines = [SettlementLine("payment", p.id, p.order_id, p.amount_fen) for p in self.payments.values()
                 if p.status == "succeeded" and p.settled_on == day]
        for rid, (pid, amount, status) in self.refunds.items():
            if status == "succeeded":
                lines.append(SettlementLine("refund", pid, self.payments[pid].order_id, amount, refund_id=rid))
        return tuple(lines)

    # -- test control -------------------------------------------------------------------------------------

    def complete(self, payment_id: str, outcome: str = "approved") -> str:
        """Finishes a payment at the backend; returns the event type the backend would notify."""
        p = self.payments[payment_id]
        if outcome == "approved":
            p.status, p.settled_on = "succeeded", self.clock.now().date()
            return "payment.succeeded"
        if outcome == "timeout":
            p.status = "expired"
            return "payment.expired"
        p.status, p.failure_code = "failed", outcome
        return "payment.failed"

    def finish_refund(self, refund_id: str, ok: bool = True) -> None:
        pid, amount, _ = self.refunds[refund_id]
        self.refunds[refund_id] = (pid, amount, "succeeded" if ok else "failed")
        if not ok:
            self.payments[pid].refunded_fen -= amount

    def notice(self, event_type: str, payment_id: str, *, refund_id: str | None = None, amount_fen: int | None = None,
               event_id: str | None = None, order_id: str | None = None, currency: str = "CNY",
               signed_at: datetime | None = None, secret: str | None = None) -> tuple[bytes, str]:
        """A notification body and its signature header, as the backend would send them."""
        p = self.payments[payment_id]
        data: dict[str, object] = {"payment_id": p.id, "order_id": order_id or p.order_id, "currency": currency,
                                   "status": p.status, "amount_fen": p.amount_fen if amount_fen is None else amount_fen}
        if refund_id is not None:
            data["refund_id"] = refund_id
            if amount_fen is None:
                data["amount_fen"] = self.refunds[refund_id][1]
        if p.failure_code:
            data["failure_code"] = p.failure_code
        body = json.dumps({"id": event_id or "evt_" + secrets.token_hex(8), "type": event_type,
                           "created": int(self.clock.now().timestamp()), "data": data}).encode()
        ts = int((signed_at or self.clock.now()).timestamp())
        return body, sign(secret or self.secret, ts, body)


def _lt(zh: str, en: str) -> LocalizedText:
    return LocalizedText(zh, en)


def make_catalog(bar_stock: int = 0) -> Catalog:
    """A small catalog: a bar (50 g, 10 g), an 18K/Pt ring, an electric car. `bar_stock` overrides the 10 g stock."""
    bar = Product("bar-50g", ProductKind.GOLD_BAR, _lt("足金金条 50克", "Gold bar 50 g"), _lt("金条", "bar"), "bar.glb",
                  (Variant("au9999-50g", _lt("Au9999 50克", "Au9999 50 g"), purity=Purity.AU9999,
                           weight_g=Decimal("50"), premium_cny_per_g=Decimal("8"), stock=5),
                   Variant("au9999-10g", _lt("Au9999 10克", "Au9999 10 g"), purity=Purity.AU9999,
                           weight_g=Decimal("10"), premium_cny_per_g=Decimal("12"), stock=bar_stock or 3)))
    ring = Product("ring-18k", ProductKind.RING, _lt("18K金戒指", "18K ring"), _lt("戒指", "ring"), "ring.glb",
                   (Variant("au750-12", _lt("18K 12号", "18K size 12"), purity=Purity.AU750, weight_g=Decimal("3.2"),
                            craft_fee_cny=Decimal("280"), craft_fee_basis=CraftFeeBasis.PER_PIECE, stock=2),
                    Variant("pt950-12", _lt("Pt950 12号", "Pt950 size 12"), purity=Purity.PT950,
                            weight_g=Decimal("4"), craft_fee_cny=Decimal("30"),
                            craft_fee_basis=CraftFeeBasis.PER_GRAM, stock=2)))
    car = Product("car-ev", ProductKind.CAR, _lt("曙光纯电轿车", "Aurora EV"), _lt("轿车", "sedan"), "car.glb",
                  (Variant("pro-white", _lt("Pro 白", "Pro white"), trim="Pro", msrp_cny=Decimal("259800"), stock=3),),
                  tags=("car", "electric"), reservation_deposit_cny=Decimal("5000"),
                  finance_min_down_payment_ratio=Decimal("0.15"), finance_terms_months=(12, 24, 36, 48, 60))
    return Catalog((bar, ring, car))
