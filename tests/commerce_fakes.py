"""In-memory fakes of the commerce ports for tests: a payment gateway that behaves like the sandbox (idempotent
creates, outcomes, refunds, signed notifications, settlement lines), a manual clock, a fixed price feed, and an
in-memory database whose unit of work has the SQL one's semantics (`FakeDatabase.uow`, after cosmicpython's
`FakeUnitOfWork`): every transaction works on a copy, a commit applies its changes, leaving without commit drops
them, a stale order version or a key taken by a concurrent commit is `ConcurrentUpdate`."""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any, Literal

from showroom.audit import (
    Actor,
    AuditEntry,
    AuditEvent,
    ChainHead,
    chain,
    event_document,
    legacy_event,
    legacy_view,
)
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
from showroom.compliance import DEFAULT_WALLET_TIERS, CustomerActivity, KycLevel
from showroom.customers import AccountStatus, CustomerFacts, unverified
from showroom.errors import NotFound
from showroom.finance import LoanRate
from showroom.orders import (
    OPEN_STATUSES,
    Order,
    OrderNotFound,
    OrderStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from showroom.ports import (
    ConcurrentUpdate,
    CreatedPayment,
    CreatePaymentRequest,
    GatewayPayment,
    IdempotencyRecord,
    OutOfStock,
    PaymentGatewayUnavailable,
    PaymentRejected,
    RefundReply,
    RefundRequest,
    SettlementLine,
    Subscription,
    WalletFacts,
)
from showroom.pricing import PriceSnapshot, PriceUnavailable, Quote
from showroom.services import Commerce
from showroom.settings import CommerceSettings
from showroom.sharing import Share, ShareInvalid
from showroom.signing import sign
from showroom.staff import ApprovalState, RefundApproval, SignInState, StaffAccount, StaffExists, StaffSession
from tests.branch_fakes import FakeBranchMixin

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
        self.fresh = True
        """False: the feed has no fresh price (`PriceUnavailable`)."""
        self.bid_spread: Decimal | None = None
        """Set: the feed also publishes buy-back prices, spot minus this per gram (None: no bid, as before)."""

    async def snapshot(self) -> PriceSnapshot:
        if not self.fresh:
            raise PriceUnavailable("the fixed feed is switched off")
        spot = {Metal.GOLD: self.au, Metal.SILVER: Decimal("11.50"), Metal.PLATINUM: Decimal("350.00")}
        bids = {} if self.bid_spread is None else {m: p - self.bid_spread for m, p in spot.items() if p > self.bid_spread}
        return PriceSnapshot(f"fixed-{self.au}", "fixed", self.clock.now(), spot, bids)


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


FAKE_WALLET_TIERS: dict[str, int] = {"13800000001": 1, "13800000002": 2, "13800000003": 3, "13800000004": 4}
"""The fake backend's e-CNY wallets: payer number -> tier."""


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
    wallets: dict[str, int] = field(default_factory=lambda: dict(FAKE_WALLET_TIERS))
    """e-CNY wallet tier per payer number, as the backend reports it (others: the anonymous tier 4)."""
    send_wallet: bool = True
    """False: a backend that reports no wallet for a wallet payment."""

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
        wallet = None
        if request.method == "ecny_wallet" and request.payer_phone and self.send_wallet:
            tier = self.wallets.get(request.payer_phone, 4)
            limits = DEFAULT_WALLET_TIERS[tier]
            wallet = WalletFacts(tier, *(None if cny is None else int(cny * 100) for cny in
                                         (limits.single_cny, limits.daily_cny, limits.balance_cny)),
                                 wallet_id=f"w-{request.payer_phone}")
        return CreatedPayment(pid, "pending", f"http://gw/pay/{pid}", f"http://gw/pay/{pid}.png",
                              self.clock.now() + timedelta(seconds=request.expires_in_s), wallet)

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
                            craft_fee_basis=CraftFeeBasis.PER_GRAM, stock=2, hallmark="HJ Pt950")),
                   hallmark="HJ Au750")
    car = Product("car-ev", ProductKind.CAR, _lt("曙光纯电轿车", "Aurora EV"), _lt("轿车", "sedan"), "car.glb",
                  (Variant("pro-white", _lt("Pro 白", "Pro white"), trim="Pro", msrp_cny=Decimal("259800"), stock=3),),
                  tags=("car", "electric"), reservation_deposit_cny=Decimal("5000"),
                  finance_min_down_payment_ratio=Decimal("0.15"), finance_terms_months=(12, 24, 36, 48, 60))
    return Catalog((bar, ring, car))


# -- an in-memory database ----------------------------------------------------------------------------------------

Table = Literal["quotes", "orders", "payments", "refunds", "events", "idempotency", "shares", "staff", "sessions",
                "throttles", "approvals", "loan_rates", "branches", "slots", "pickups", "appointments"]
VERSIONED: tuple[Table, ...] = ("orders", "staff", "approvals", "pickups")
"""Tables whose rows carry a version that a concurrent commit must not have moved."""
AUDIT_KEY = b"fake-audit-key-for-the-unit-tests"


def _json(data: dict[str, Any]) -> dict[str, Any]:
    """What a JSON column gives back (and a refusal of what it cannot hold)."""
    out: dict[str, Any] = json.loads(json.dumps(data, ensure_ascii=False))
    return out


@dataclass
class FakeTables:
    quotes: dict[str, Quote] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    customer_keys: dict[str, str] = field(default_factory=dict)
    token_hashes: dict[str, str | None] = field(default_factory=dict)
    """order id -> SHA-256 of its customer token (what the SQL column holds)."""
    loan_rates: dict[int, LoanRate] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    refunds: dict[str, Refund] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], IdempotencyRecord] = field(default_factory=dict)
    shares: dict[str, Share] = field(default_factory=dict)
    stock: dict[tuple[str, str, str], tuple[int, int]] = field(default_factory=dict)
    """(branch, product, variant) -> (on hand, reserved)."""
    audit: list[AuditEntry] = field(default_factory=list)
    """The audit chain, signed with `AUDIT_KEY`."""
    staff: dict[str, StaffAccount] = field(default_factory=dict)
    sessions: dict[str, StaffSession] = field(default_factory=dict)
    throttles: dict[str, SignInState] = field(default_factory=dict)
    approvals: dict[str, RefundApproval] = field(default_factory=dict)
    # branches, slots ((branch, purpose, start) -> taken), pick-ups, appointments ((appointment, token hash))
    branches: dict[str, Any] = field(default_factory=dict)
    slots: dict[tuple[str, str, datetime], int] = field(default_factory=dict)
    pickups: dict[str, Any] = field(default_factory=dict)
    appointments: dict[str, Any] = field(default_factory=dict)


class FakeDatabase:
    """The committed state; `uow()` opens one transaction on it."""

    def __init__(self) -> None:
        self.tables = FakeTables()
        self.commits = 0
        self.audit_key = AUDIT_KEY

    def audit_head(self) -> ChainHead | None:
        last = self.tables.audit[-1] if self.tables.audit else None
        return None if last is None else ChainHead(last.seq, last.digest)

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)

    def stock_level(self, branch_id: str, product_id: str, variant_id: str) -> tuple[int, int]:
        return self.tables.stock.get((branch_id, product_id, variant_id), (0, 0))


class FakeUnitOfWork(FakeBranchMixin):
    """One transaction of `FakeDatabase` (implements `showroom.ports.UnitOfWork`)."""

    def __init__(self, db: FakeDatabase) -> None:
        self._db = db
        self._t = FakeTables()
        self._read_versions: dict[tuple[Table, str], int] = {}
        self._inserted: set[tuple[Table, Any]] = set()
        self._written: set[tuple[Table, Any]] = set()
        self._deleted: set[tuple[Table, Any]] = set()
        self._stock_delta: dict[tuple[str, str, str], tuple[int, int, int]] = {}
        """(initial on hand if this transaction stocked the shelf, on-hand change, reserved change)."""
        self._share_delta: dict[str, tuple[int, int, int]] = {}
        self._audit: list[AuditEvent] = []

    def _versions(self) -> dict[tuple[Table, str], int]:
        return {(table, key): row.version for table in VERSIONED for key, row in getattr(self._t, table).items()}

    async def __aenter__(self) -> FakeUnitOfWork:
        self._t = copy.deepcopy(self._db.tables)
        self._read_versions = self._versions()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.rollback()

    async def commit(self) -> None:
        db = self._db.tables
        for table, key in self._inserted:
            if key in getattr(db, table):
                await self.rollback()
                raise ConcurrentUpdate(f"a concurrent change took {table} {key!r}")
        for table, key in self._written:
            if (table in VERSIONED and key in getattr(db, table)
                    and getattr(db, table)[key].version != self._read_versions.get((table, key))):
                await self.rollback()
                raise ConcurrentUpdate(f"{table} {key} was changed by someone else")
        for table, key in self._inserted | self._written:
            getattr(db, table)[key] = copy.deepcopy(getattr(self._t, table)[key])
            if table == "orders":
                db.customer_keys[key] = self._t.customer_keys[key]
                if key in self._t.token_hashes:
                    db.token_hashes[key] = self._t.token_hashes[key]
        for table, key in self._deleted:
            getattr(db, table).pop(key, None)
        for where, (initial, d_on_hand, d_reserved) in self._stock_delta.items():
            on_hand, reserved = db.stock.get(where, (initial, 0))
            db.stock[where] = (on_hand + d_on_hand, max(reserved + d_reserved, 0))
        for share_id, (visits, orders, purchases) in self._share_delta.items():
            s = db.shares[share_id]
            db.shares[share_id] = replace(s, visits=s.visits + visits, orders=s.orders + orders,
                                          purchases=s.purchases + purchases)
        for event in self._audit:  # chained at commit, onto the committed head (like the SQL unit of work)
            db.audit.append(chain(self._db.audit_key, self._db.audit_head(), event))
        self._db.commits += 1
        self._read_versions = self._versions()
        await self.rollback()

    async def rollback(self) -> None:
        self._inserted, self._written, self._deleted = set(), set(), set()
        self._stock_delta, self._share_delta, self._audit = {}, {}, []

    def _insert(self, table: Table, key: Any, value: Any) -> None:
        if key in getattr(self._t, table):
            raise ConcurrentUpdate(f"{table} {key!r} exists")
        getattr(self._t, table)[key] = copy.deepcopy(value)
        if (table, key) in self._deleted:  # deleted and inserted again: a write of the row
            self._deleted.discard((table, key))
            self._written.add((table, key))
        else:
            self._inserted.add((table, key))

    def _write(self, table: Table, key: Any, value: Any) -> None:
        getattr(self._t, table)[key] = copy.deepcopy(value)
        if (table, key) not in self._inserted:
            self._written.add((table, key))

    # -- quotes -------------------------------------------------------------------------------------------

    async def add_quote(self, quote: Quote) -> None:
        self._insert("quotes", quote.id, quote)

    async def get_quote(self, quote_id: str) -> Quote:
        try:
            return self._t.quotes[quote_id]
        except KeyError:
            raise NotFound(f"no quote {quote_id!r}") from None

    async def delete_quotes_expired_before(self, before: datetime) -> int:
        used = {o.quote_id for o in self._t.orders.values()}
        gone = [q.id for q in self._t.quotes.values() if q.expires_at < before and q.id not in used]
        for quote_id in gone:
            del self._t.quotes[quote_id]
            self._deleted.add(("quotes", quote_id))
        return len(gone)

    async def delete_idempotency_before(self, before: datetime) -> int:
        gone = [k for k, r in self._t.idempotency.items() if r.created_at < before]
        for k in gone:
            del self._t.idempotency[k]
            self._deleted.add(("idempotency", k))
        return len(gone)

    # -- orders -------------------------------------------------------------------------------------------

    async def add_order(self, order: Order, customer_key: str, token_sha256: str | None = None) -> None:
        order.version = 0
        self._insert("orders", order.id, replace(order, events=[], customer=_json(order.customer),
                                                 finance=None if order.finance is None else _json(order.finance)))
        self._t.customer_keys[order.id] = customer_key
        self._t.token_hashes[order.id] = token_sha256

    async def order_token_sha256(self, order_id: str) -> str | None:
        if order_id not in self._t.orders:
            raise OrderNotFound(f"no order {order_id!r}")
        return self._t.token_hashes.get(order_id)

    async def get_order(self, order_id: str, *, for_update: bool = False) -> Order:
        try:
            return copy.deepcopy(self._t.orders[order_id])
        except KeyError:
            raise OrderNotFound(f"no order {order_id!r}") from None

    async def save_order(self, order: Order) -> None:
        stored = self._t.orders.get(order.id)
        if stored is None or stored.version != order.version:
            raise ConcurrentUpdate(f"order {order.id} was changed by someone else")
        order.version += 1
        self._write("orders", order.id, replace(order, events=[]))

    async def order_ids_expiring(self, now: datetime, limit: int) -> list[str]:
        return [o.id for o in self._t.orders.values() if o.status in OPEN_STATUSES and o.expires_at <= now][:limit]

    async def order_for_quote(self, quote_id: str) -> str | None:
        return next((o.id for o in self._t.orders.values() if o.quote_id == quote_id), None)

    async def customer_activity(self, customer_key: str, now: datetime) -> CustomerActivity:
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        mine = [o for o in self._t.orders.values() if self._t.customer_keys.get(o.id) == customer_key]
        today = [o for o in mine if o.created_at >= day_start
                 and o.status not in (OrderStatus.CANCELLED, OrderStatus.EXPIRED)]
        ids = {o.id for o in mine}
        wallet = sum(p.amount_fen for p in self._t.payments.values() if p.order_id in ids
                     and p.method == "ecny_wallet" and p.created_at >= day_start
                     and p.status in (PaymentStatus.INTENT, PaymentStatus.PENDING, PaymentStatus.SUCCEEDED))
        return CustomerActivity(sum(o.created_at >= now - timedelta(hours=1) for o in mine), len(today),
                                Decimal(sum(o.amount_fen for o in today)) / 100, Decimal(wallet) / 100)

    # -- stock --------------------------------------------------------------------------------------------

    def _shelf(self, where: tuple[str, str, str], d_on_hand: int, d_reserved: int, initial: int = 0) -> None:
        on_hand, reserved = self._t.stock[where]
        self._t.stock[where] = (on_hand + d_on_hand, max(reserved + d_reserved, 0))
        first, a, b = self._stock_delta.get(where, (initial, 0, 0))
        self._stock_delta[where] = (first, a + d_on_hand, b + d_reserved)

    async def reserve_stock(self, branch_id: str, product_id: str, variant_id: str, quantity: int,
                            initial_on_hand: int) -> None:
        where = (branch_id, product_id, variant_id)
        self._t.stock.setdefault(where, (initial_on_hand, 0))
        on_hand, reserved = self._t.stock[where]
        if on_hand - reserved < quantity:
            raise OutOfStock(f"{product_id} / {variant_id} is out of stock at branch {branch_id}")
        self._shelf(where, 0, quantity, initial_on_hand)

    async def release_stock(self, branch_id: str, product_id: str, variant_id: str, quantity: int) -> None:
        if (branch_id, product_id, variant_id) in self._t.stock:
            self._shelf((branch_id, product_id, variant_id), 0, -quantity)

    async def take_stock(self, branch_id: str, product_id: str, variant_id: str, quantity: int) -> None:
        if (branch_id, product_id, variant_id) in self._t.stock:
            self._shelf((branch_id, product_id, variant_id), -quantity, -quantity)

    async def stock_level(self, branch_id: str, product_id: str, variant_id: str) -> tuple[int, int]:
        return self._t.stock.get((branch_id, product_id, variant_id), (0, 0))

    # -- payments and refunds -----------------------------------------------------------------------------

    async def add_payment(self, payment: Payment) -> None:
        self._insert("payments", payment.id, payment)

    async def get_payment(self, payment_id: str) -> Payment:
        try:
            return copy.deepcopy(self._t.payments[payment_id])
        except KeyError:
            raise NotFound(f"no payment {payment_id!r}") from None

    def _payments(self, keep: Any) -> list[Payment]:
        return [copy.deepcopy(p) for p in sorted(self._t.payments.values(), key=lambda p: p.created_at) if keep(p)]

    async def payment_by_key(self, idempotency_key: str) -> Payment | None:
        return next(iter(self._payments(lambda p: p.idempotency_key == idempotency_key)), None)

    async def payment_by_gateway_id(self, gateway_payment_id: str) -> Payment | None:
        return next(iter(self._payments(lambda p: p.gateway_payment_id == gateway_payment_id)), None)

    async def save_payment(self, payment: Payment) -> None:
        self._write("payments", payment.id, payment)

    async def payments_for_order(self, order_id: str) -> list[Payment]:
        return self._payments(lambda p: p.order_id == order_id)

    async def payments_in(self, statuses: tuple[PaymentStatus, ...], updated_before: datetime) -> list[Payment]:
        return self._payments(lambda p: p.status in statuses and p.updated_at <= updated_before)

    async def payments_succeeded_between(self, start: datetime, end: datetime) -> list[Payment]:
        return self._payments(lambda p: p.succeeded_at is not None and start <= p.succeeded_at < end)

    async def add_refund(self, refund: Refund) -> None:
        self._insert("refunds", refund.id, refund)

    async def get_refund(self, refund_id: str) -> Refund:
        try:
            return copy.deepcopy(self._t.refunds[refund_id])
        except KeyError:
            raise NotFound(f"no refund {refund_id!r}") from None

    def _refunds(self, keep: Any) -> list[Refund]:
        return [copy.deepcopy(r) for r in sorted(self._t.refunds.values(), key=lambda r: r.created_at) if keep(r)]

    async def refund_by_gateway_id(self, gateway_refund_id: str) -> Refund | None:
        return next(iter(self._refunds(lambda r: r.gateway_refund_id == gateway_refund_id)), None)

    async def save_refund(self, refund: Refund) -> None:
        self._write("refunds", refund.id, refund)

    async def refunds_for_order(self, order_id: str) -> list[Refund]:
        return self._refunds(lambda r: r.order_id == order_id)

    async def refunds_in(self, statuses: tuple[RefundStatus, ...], updated_before: datetime) -> list[Refund]:
        return self._refunds(lambda r: r.status in statuses and r.updated_at <= updated_before)

    async def refunds_succeeded_between(self, start: datetime, end: datetime) -> list[Refund]:
        return self._refunds(lambda r: r.succeeded_at is not None and start <= r.succeeded_at < end)

    # -- notifications, idempotency, audit, shares --------------------------------------------------------

    async def record_event(self, event_id: str, event_type: str, received_at: datetime) -> bool:
        if event_id in self._t.events:
            return False
        self._insert("events", event_id, event_type)
        return True

    async def idempotency_begin(self, scope: str, key: str, request_hash: str, now: datetime,
                                stale_after_s: float) -> IdempotencyRecord | None:
        record = self._t.idempotency.get((scope, key))
        if record is None:
            self._insert("idempotency", (scope, key), IdempotencyRecord(scope, key, request_hash, "in_flight", now))
            return None
        if (record.state == "in_flight" and record.request_hash == request_hash
                and (now - record.created_at).total_seconds() > stale_after_s):
            self._write("idempotency", (scope, key), replace(record, created_at=now))
            return None
        return record

    async def idempotency_finish(self, scope: str, key: str, status: int, body: dict[str, Any]) -> None:
        record = self._t.idempotency[(scope, key)]
        self._write("idempotency", (scope, key), replace(record, state="done", response_status=status,
                                                         response_body=_json(body)))

    async def idempotency_abort(self, scope: str, key: str) -> None:
        record = self._t.idempotency.get((scope, key))
        if record is not None and record.state == "in_flight":
            del self._t.idempotency[(scope, key)]
            self._deleted.add(("idempotency", (scope, key)))

    # -- the audit chain ----------------------------------------------------------------------------------

    async def append_audit(self, event: AuditEvent) -> None:
        doc = json.loads(json.dumps(event_document(event), ensure_ascii=False))  # what a column gives back
        self._audit.append(replace(event, at=event.at.astimezone(UTC), before=doc["before"], after=doc["after"]))

    async def add_audit(self, order_id: str, kind: str, data: dict[str, Any], at: datetime, *,
                        actor: Actor | None = None) -> None:
        await self.append_audit(legacy_event(order_id, kind, data, at, actor))

    async def audit_for(self, order_id: str) -> list[dict[str, Any]]:
        return [legacy_view(e) for e in await self.audit_entries(subject=f"order:{order_id}", limit=10_000,
                                                                newest_first=False)]

    async def audit_entries(self, *, subject: str | None = None, limit: int = 100, offset: int = 0,
                            newest_first: bool = True) -> list[AuditEntry]:
        found = [e for e in self._t.audit if subject is None or e.event.subject == subject]
        if newest_first:
            found.reverse()
        return found[offset:offset + limit]

    async def audit_count(self, *, subject: str | None = None) -> int:
        return sum(1 for e in self._t.audit if subject is None or e.event.subject == subject)

    async def audit_scan(self, after_seq: int, limit: int) -> list[AuditEntry]:
        return [e for e in self._t.audit if e.seq > after_seq][:limit]

    # -- staff --------------------------------------------------------------------------------------------

    async def add_staff(self, account: StaffAccount) -> None:
        if account.name in self._t.staff:
            raise StaffExists(f"a staff account named {account.name!r} exists")
        self._insert("staff", account.name, replace(account, version=0))

    async def find_staff(self, name: str) -> StaffAccount | None:
        return self._t.staff.get(name)

    async def save_staff(self, account: StaffAccount) -> StaffAccount:
        stored = self._t.staff.get(account.name)
        if stored is None or stored.version != account.version:
            raise ConcurrentUpdate(f"staff account {account.name} was changed by someone else")
        saved = replace(account, version=account.version + 1)
        self._write("staff", account.name, saved)
        return saved

    async def list_staff(self) -> list[StaffAccount]:
        return sorted(self._t.staff.values(), key=lambda a: a.name)

    async def add_staff_session(self, session: StaffSession) -> None:
        self._insert("sessions", session.id_hash, session)

    async def get_staff_session(self, id_hash: str) -> StaffSession | None:
        return self._t.sessions.get(id_hash)

    async def touch_staff_session(self, id_hash: str, at: datetime) -> None:
        if id_hash in self._t.sessions:
            self._write("sessions", id_hash, replace(self._t.sessions[id_hash], last_seen_at=at))

    async def revoke_staff_session(self, id_hash: str, at: datetime) -> None:
        s = self._t.sessions.get(id_hash)
        if s is not None and s.revoked_at is None:
            self._write("sessions", id_hash, replace(s, revoked_at=at))

    async def revoke_staff_sessions(self, name: str, at: datetime) -> int:
        live = [s for s in self._t.sessions.values() if s.name == name and s.revoked_at is None]
        for s in live:
            self._write("sessions", s.id_hash, replace(s, revoked_at=at))
        return len(live)

    async def sign_in_throttle(self, key: str) -> SignInState:
        return self._t.throttles.get(key, SignInState())

    async def save_sign_in_throttle(self, key: str, state: SignInState) -> None:
        self._write("throttles", key, state)

    async def add_refund_approval(self, approval: RefundApproval) -> None:
        if any(a.idempotency_key == approval.idempotency_key for a in self._t.approvals.values()):
            raise ConcurrentUpdate("a concurrent change took the same key")
        self._insert("approvals", approval.id, replace(approval, version=0))

    async def get_refund_approval(self, approval_id: str) -> RefundApproval:
        try:
            return self._t.approvals[approval_id]
        except KeyError:
            raise NotFound(f"no refund request {approval_id!r}") from None

    async def refund_approval_by_key(self, idempotency_key: str) -> RefundApproval | None:
        return next((a for a in self._t.approvals.values() if a.idempotency_key == idempotency_key), None)

    async def save_refund_approval(self, approval: RefundApproval) -> RefundApproval:
        stored = self._t.approvals.get(approval.id)
        if stored is None or stored.version != approval.version:
            raise ConcurrentUpdate(f"refund request {approval.id} was changed by someone else")
        saved = replace(approval, version=approval.version + 1)
        self._write("approvals", approval.id, saved)
        return saved

    async def refund_approvals(self, *, state: ApprovalState | None = None, order_id: str | None = None,
                               limit: int = 100, offset: int = 0) -> list[RefundApproval]:
        found = [a for a in sorted(self._t.approvals.values(), key=lambda a: (a.requested_at, a.id), reverse=True)
                 if (state is None or a.state is state) and (order_id is None or a.order_id == order_id)]
        return found[offset:offset + limit]

    async def find_orders(self, *, status: str | None = None, text: str | None = None,
                          created_from: datetime | None = None, created_to: datetime | None = None,
                          limit: int = 50, offset: int = 0) -> tuple[list[Order], int]:
        def keep(o: Order) -> bool:
            return ((status is None or o.status.value == status)
                    and (not text or text in o.id or text in json.dumps(o.customer, ensure_ascii=False))
                    and (created_from is None or o.created_at >= created_from)
                    and (created_to is None or o.created_at < created_to))

        found = sorted((o for o in self._t.orders.values() if keep(o)), key=lambda o: o.created_at, reverse=True)
        return [copy.deepcopy(o) for o in found[offset:offset + limit]], len(found)

    async def stock_levels(self) -> list[tuple[str, str, str, int, int]]:
        return [(*where, on_hand, reserved) for where, (on_hand, reserved) in sorted(self._t.stock.items())]

    # -- shares -------------------------------------------------------------------------------------------

    async def loan_rates(self, applies_to: str | None = None) -> list[LoanRate]:
        return [r for _, r in sorted(self._t.loan_rates.items()) if applies_to is None or r.applies_to == applies_to]

    async def add_loan_rate(self, rate: LoanRate) -> None:
        self._insert("loan_rates", len(self._t.loan_rates) + 1, rate)

    async def add_share(self, share: Share) -> None:
        self._insert("shares", share.id, replace(share, visits=0, orders=0, purchases=0))

    async def get_share(self, share_id: str) -> Share:
        try:
            return self._t.shares[share_id]
        except KeyError:
            raise ShareInvalid("this share link is not valid") from None

    async def count_share(self, share_id: str, *, visits: int = 0, orders: int = 0, purchases: int = 0) -> None:
        s = self._t.shares.get(share_id)
        if s is None:
            return
        self._t.shares[share_id] = replace(s, visits=s.visits + visits, orders=s.orders + orders,
                                           purchases=s.purchases + purchases)
        a, b, c = self._share_delta.get(share_id, (0, 0, 0))
        self._share_delta[share_id] = (a + visits, b + orders, c + purchases)


# -- the use cases over the fakes ---------------------------------------------------------------------------------


@dataclass
class FakeCustomers:
    """The bank's customer-information service: `known` numbers with their facts; any other number is a
    phone-verified L1 customer of its own (`unknown_level`), or unverified when `unknown_level` is None.
    `down` makes every lookup fail (`CustomerInfoUnavailable`)."""

    known: dict[str, CustomerFacts] = field(default_factory=dict)
    unknown_level: KycLevel | None = KycLevel.L1
    down: bool = False
    lookups: list[str] = field(default_factory=list)

    def add(self, phone: str, level: KycLevel, *, frozen: bool = False, limit_cny: str | None = None) -> None:
        self.known[phone] = CustomerFacts(f"cust_{phone}", level,
                                          AccountStatus.FROZEN if frozen else AccountStatus.ACTIVE,
                                          None if limit_cny is None else Decimal(limit_cny), "fake")

    async def lookup(self, phone: str) -> CustomerFacts:
        from showroom.customers import CustomerInfoUnavailable

        self.lookups.append(phone)
        if self.down:
            raise CustomerInfoUnavailable("the fake customer-information service is down")
        if phone in self.known:
            return self.known[phone]
        if self.unknown_level is None:
            return unverified(phone, "fake")
        return CustomerFacts(f"cust_{phone}", self.unknown_level, source="fake")



class RecordingBus:
    """An event bus that keeps what was published (`published`: (channel, message))."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []

    async def publish(self, channel: str, message: Mapping[str, Any]) -> None:
        self.published.append((channel, dict(message)))

    async def subscribe(self, channel: str) -> Subscription:
        raise NotImplementedError("the unit tests do not subscribe")

    async def close(self) -> None:
        pass

    def statuses(self, order_id: str) -> list[str]:
        return [m["status"] for ch, m in self.published if ch == f"order:{order_id}"]


@dataclass
class FakeWorld:
    """The commerce use cases over in-memory fakes of every port."""

    ctx: Commerce
    db: FakeDatabase
    gw: FakeGateway
    clock: ManualClock
    prices: FixedPrices
    bus: RecordingBus
    customers: FakeCustomers = field(default_factory=FakeCustomers)

    def notice(self, event_type: str, payment_id: str, **kw: Any) -> tuple[bytes, str]:
        return self.gw.notice(event_type, payment_id, **kw)


def fake_world(catalog: Catalog | None = None, **settings: Any) -> FakeWorld:
    clock = ManualClock()
    db, gw, prices, bus = FakeDatabase(), FakeGateway(clock), FixedPrices(clock), RecordingBus()
    config = CommerceSettings(**{"database_url": "sqlite+aiosqlite:///unused.db", "payment_webhook_secret": SECRET,
                                 "public_base_url": "http://node", **settings})
    customers = FakeCustomers()
    ctx = Commerce(catalog=catalog or make_catalog(), settings=config, uow=db.uow, gateway=gw, prices=prices, bus=bus,
                   clock=clock, customers=customers)
    return FakeWorld(ctx, db, gw, clock, prices, bus, customers)


# -- staff -------------------------------------------------------------------------------------------------------


def fast_passwords() -> Any:
    """argon2id with the smallest cost (tests only: the node uses argon2-cffi's defaults)."""
    from argon2 import PasswordHasher

    from showroom.identity import Passwords

    return Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@dataclass
class StaffWorld(FakeWorld):
    passwords: Any = None


def fake_passwords_world(**settings: Any) -> StaffWorld:
    """`fake_world` with a cheap argon2 for the staff tests (`passwords`)."""
    w = fake_world(**settings)
    return StaffWorld(w.ctx, w.db, w.gw, w.clock, w.prices, w.bus, w.customers, passwords=fast_passwords())
