"""SQLAlchemy (async) implementation of the `UnitOfWork` port, on SQLite (default) or PostgreSQL.

Concurrency where money moves:
- PostgreSQL: `get_order(for_update=True)` takes a row lock (`SELECT ... FOR UPDATE`) held to the end of the
  transaction, and every `save_order` also checks the version it read (optimistic), so two writers never both win;
- SQLite: one writer at a time per database file anyway; `SqlDatabase` serialises this process's transactions with
  an asyncio lock (so a read never has to be upgraded under a competing writer) and uses WAL; its statements run
  on the loop's thread, and a database locked by another process is waited for without blocking the loop
  (`_sqlite_driver`).
Notification ids and idempotency keys are claimed with `INSERT ... ON CONFLICT DO NOTHING` inside the
transaction: on PostgreSQL a concurrent claim of the same key waits for the first transaction and then sees
the row; other unique keys (gateway ids) make a duplicate fail with `IntegrityError`, rolling everything back.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any

from sqlalchemy import and_, delete, event, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from showroom.adapters import _statements as st
from showroom.adapters import _stock_units as units
from showroom.adapters import tables as t
from showroom.adapters._rows import (
    loan_rate_from_row,
    loan_rate_values,
    order_from_row,
    order_values,
    payment_from_row,
    payment_values,
    quote_from_row,
    quote_to_json,
    refund_from_row,
    refund_values,
    share_from_row,
    utc_req,
)
from showroom.adapters._sqlite_driver import CONNECT_ARGS, inline_dbapi
from showroom.adapters._versioned import update_versioned
from showroom.adapters.advisory_sql import SqlAdvisory
from showroom.adapters.branch_sql import BranchSqlMixin
from showroom.adapters.buyback_sql import SqlBuybacks
from showroom.adapters.campaign_sql import CampaignSql
from showroom.adapters.staff_sql import StaffSqlMixin
from showroom.audit import AuditEvent, ChainHead
from showroom.compliance import CustomerActivity
from showroom.errors import NotFound
from showroom.finance import LoanRate
from showroom.orders import Order, OrderNotFound, OrderStatus, Payment, PaymentStatus, Refund, RefundStatus
from showroom.ports import ConcurrentUpdate, IdempotencyRecord, OutOfStock
from showroom.pricing import Quote
from showroom.sharing import Share, ShareInvalid

POOL_SIZE, POOL_OVERFLOW, POOL_TIMEOUT_S = 10, 0, 10
"""PostgreSQL: connections kept open, none opened beyond them, and how long a transaction waits for one before its
request answers 503 `database_unavailable`. An overflow connection was closed when handed back and opened again by
the next burst: a new backend each time. With 32 customers that churn cost the PostgreSQL server more CPU than the
checkout's own statements (5.2 against 3.4 ms per checkout) and queued them longer than waiting for a kept
connection (docs/commerce.md, "Fifth pass")."""


class SqlDatabase:
    """The engine plus what a unit of work needs; `uow()` opens one transaction."""

    def __init__(self, url: str, *, echo: bool = False, audit_key: bytes | None = None,
                 on_audit_head: Callable[[ChainHead], None] | None = None,
                 on_close: Callable[[], Awaitable[None]] | None = None) -> None:
        """`audit_key` signs the audit chain (None: a throwaway key for this process, for tests and tools that
        append nothing worth keeping); `on_audit_head` is told the chain's new head after each commit that
        extended it (the node keeps it in the data folder); `on_close` runs when the database closes (the keeper
        writes the last head)."""
        self.url = url
        self.audit_key = audit_key if audit_key is not None else secrets.token_bytes(32)
        self.on_audit_head = on_audit_head
        self.on_close = on_close
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo}
        inline = self.is_sqlite and parsed.get_driver_name() == "aiosqlite"
        if inline:
            kwargs["module"] = inline_dbapi()  # statements on the loop's thread (`_sqlite_driver`)
            kwargs["connect_args"] = dict(CONNECT_ARGS)
        elif self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, pool_timeout=POOL_TIMEOUT_S,
                          pool_recycle=1800)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas_inline if inline else _sqlite_pragmas)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self)

    async def create_all(self) -> None:
        """Creates the schema directly (tests); production uses `showroom db upgrade` (Alembic)."""
        async with self.engine.begin() as conn:
            await conn.run_sync(t.metadata.create_all)

    async def close(self) -> None:
        await self.engine.dispose()
        if self.on_close is not None:
            await self.on_close()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any, busy_timeout_ms: int = 30_000) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cur.close()


def _sqlite_pragmas_inline(dbapi_conn: Any, record: Any) -> None:
    """The in-line driver waits for a locked database itself, without blocking the loop (`_sqlite_driver`)."""
    _sqlite_pragmas(dbapi_conn, record, busy_timeout_ms=0)


class SqlUnitOfWork(StaffSqlMixin, BranchSqlMixin):
    """One transaction. Use as `async with db.uow() as uow: ...; await uow.commit()`."""

    @property
    def _is_sqlite(self) -> bool:
        return self._db.is_sqlite

    async def _insert_new(self, table: Any, **values: Any) -> bool:
        """INSERT ... ON CONFLICT DO NOTHING (one round trip, no savepoint); True when the row is new."""
        res = await self.conn.execute(st.insert_new(table, values), values)
        return bool(res.rowcount == 1)

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db
        self._conn: AsyncConnection | None = None
        self._locked = False
        self._pending_audit: list[AuditEvent] = []
        self._tokens: dict[str, str | None] = {}
        """Orders' token digests from the order rows this transaction read (`order_token_sha256` without a read)."""
        self._audit_key = db.audit_key
        self._on_audit_head = db.on_audit_head

    @property
    def conn(self) -> AsyncConnection:
        assert self._conn is not None, "unit of work used outside `async with`"
        return self._conn

    @property
    def campaigns(self) -> CampaignSql:
        """Campaigns, coupons, points and orders' discount lines, in this transaction."""
        return CampaignSql(self.conn, self._db.is_sqlite)

    @property
    def advisory(self) -> SqlAdvisory:
        """Advisors' call-backs and call records, in this transaction (`showroom.advisory_ports`)."""
        return SqlAdvisory(self.conn, self._db.is_sqlite)

    @property
    def buybacks(self) -> SqlBuybacks:
        """Buy-backs and the serials bought back, in this transaction (`showroom.buyback_ports`)."""
        return SqlBuybacks(self.conn, self._db.is_sqlite)

    async def __aenter__(self) -> SqlUnitOfWork:
        if self._db._write_lock is not None:
            await self._db._write_lock.acquire()
            self._locked = True
        try:
            self._conn = await self._db.engine.connect()
            await self._conn.begin()
        except BaseException:
            self._release()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            if self._conn is not None:
                if self._conn.in_transaction():
                    await self._conn.rollback()
                await self._conn.close()
        finally:
            self._conn = None
            self._release()
        if isinstance(exc, IntegrityError):
            # A unique key taken by a concurrent transaction: the service retries and sees the winner's row.
            raise ConcurrentUpdate("a concurrent change took the same key; try again") from exc

    def _release(self) -> None:
        if self._locked and self._db._write_lock is not None:
            self._db._write_lock.release()
            self._locked = False

    async def commit(self) -> None:
        try:
            head = await self._chain_pending()
            await self.conn.commit()
        except IntegrityError as exc:
            raise ConcurrentUpdate("a concurrent change took the same key; try again") from exc
        if head is not None and self._on_audit_head is not None:
            self._on_audit_head(head)

    async def rollback(self) -> None:
        self._pending_audit = []
        await self.conn.rollback()

    # -- quotes -----------------------------------------------------------------------------------------------

    async def add_quote(self, quote: Quote) -> None:
        breakdown, snapshot = quote_to_json(quote)
        await self.conn.execute(st.QUOTE_INSERT, dict(
            id=quote.id, product_id=quote.product_id, variant_id=quote.variant_id, quantity=quote.quantity,
            unit_price_fen=quote.unit_price_fen, total_fen=quote.total_fen, breakdown=breakdown, snapshot=snapshot,
            created_at=quote.created_at, expires_at=quote.expires_at))

    async def get_quote(self, quote_id: str) -> Quote:
        row = (await self.conn.execute(st.QUOTE_BY_ID, {"b_id": quote_id})).mappings().first()
        if row is None:
            raise NotFound(f"no quote {quote_id!r}; quotes are kept for a day after they expire")
        return quote_from_row(row)

    async def delete_quotes_expired_before(self, before: datetime) -> int:
        used = select(t.orders.c.quote_id)
        res = await self.conn.execute(delete(t.quotes).where(
            and_(t.quotes.c.expires_at < before, t.quotes.c.id.not_in(used))))
        return int(res.rowcount or 0)

    async def delete_idempotency_before(self, before: datetime) -> int:
        res = await self.conn.execute(delete(t.idempotency).where(t.idempotency.c.created_at < before))
        return int(res.rowcount or 0)

    # -- orders -----------------------------------------------------------------------------------------------

    async def add_order(self, order: Order, customer_key: str, token_sha256: str | None = None) -> None:
        await self.conn.execute(st.ORDER_INSERT, dict(id=order.id, customer_key=customer_key, version=0,
                                                      token_sha256=token_sha256, **order_values(order)))
        order.version = 0

    async def order_token_sha256(self, order_id: str) -> str | None:
        if order_id in self._tokens:  # the order's row was read in this transaction (the token never changes)
            return self._tokens[order_id]
        row = (await self.conn.execute(st.ORDER_TOKEN, {"b_id": order_id})).first()
        if row is None:
            raise OrderNotFound(f"no order {order_id!r}")
        return None if row[0] is None else str(row[0])

    async def get_order(self, order_id: str, *, for_update: bool = False) -> Order:
        q = st.ORDER_BY_ID_LOCKED if for_update and not self._db.is_sqlite else st.ORDER_BY_ID
        row = (await self.conn.execute(q, {"b_id": order_id})).mappings().first()
        if row is None:
            raise OrderNotFound(f"no order {order_id!r}")
        self._tokens[order_id] = row["token_sha256"]
        return order_from_row(row)

    async def save_order(self, order: Order) -> None:
        order.version = await update_versioned(self.conn, t.orders, t.orders.c.id, order.id, order.version,
                                               order_values(order), f"order {order.id}")

    async def order_ids_expiring(self, now: datetime, limit: int) -> list[str]:
        open_ = [OrderStatus.CREATED.value, OrderStatus.PENDING_PAYMENT.value, OrderStatus.PAYMENT_FAILED.value]
        res = await self.conn.execute(select(t.orders.c.id).where(
            and_(t.orders.c.status.in_(open_), t.orders.c.expires_at <= now)).limit(limit))
        return [r[0] for r in res]

    async def order_for_quote(self, quote_id: str) -> str | None:
        row = (await self.conn.execute(st.ORDER_FOR_QUOTE, {"b_quote": quote_id})).first()
        return None if row is None else str(row[0])

    async def customer_activity(self, customer_key: str, now: datetime) -> CustomerActivity:
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        hour_ago = now - timedelta(hours=1)
        last_hour, today, amount, wallet = (await self.conn.execute(st.CUSTOMER_ACTIVITY, {
            "b_customer": customer_key, "b_hour_ago": hour_ago, "b_day_start": day_start,
            "b_since": min(hour_ago, day_start)})).one()
        return CustomerActivity(int(last_hour), int(today), Decimal(int(amount)) / 100, Decimal(int(wallet)) / 100)

    # -- stock: a shelf's pieces are rows (`_stock_units`) -----------------------------------------------------

    async def reserve_stock(self, branch_id: str, product_id: str, variant_id: str, quantity: int,
                            initial_on_hand: int) -> None:
        key = units.shelf_key(branch_id, product_id, variant_id)
        got = await units.reserve(self.conn, key, quantity)
        if got == 0:
            # the first order at this branch stocks the shelf; another may just have (its pieces, committed since
            # the first try, count: so try again either way)
            if not await units.shelf_exists(self.conn, key) and await self._insert_new(
                    t.stock, branch_id=branch_id, product_id=product_id, variant_id=variant_id):
                await units.add(self.conn, key, initial_on_hand)
            got = await units.reserve(self.conn, key, quantity)
        if got < quantity:  # the transaction rolls back, and what it reserved with it
            raise OutOfStock(f"{product_id} / {variant_id} is out of stock at branch {branch_id}")

    async def release_stock(self, branch_id: str, product_id: str, variant_id: str, quantity: int) -> None:
        await units.release(self.conn, units.shelf_key(branch_id, product_id, variant_id), quantity)

    async def take_stock(self, branch_id: str, product_id: str, variant_id: str, quantity: int) -> None:
        await units.take(self.conn, units.shelf_key(branch_id, product_id, variant_id), quantity)

    async def stock_level(self, branch_id: str, product_id: str, variant_id: str) -> tuple[int, int]:
        return await units.level(self.conn, units.shelf_key(branch_id, product_id, variant_id))

    # -- payments ---------------------------------------------------------------------------------------------

    async def add_payment(self, payment: Payment) -> None:
        await self.conn.execute(st.PAYMENT_INSERT, dict(id=payment.id, **payment_values(payment)))

    async def _payments(self, *where: Any) -> list[Payment]:
        res = await self.conn.execute(select(t.payments).where(*where).order_by(t.payments.c.created_at))
        return [payment_from_row(r) for r in res.mappings()]

    async def _payments_by(self, column: str, value: str) -> list[Payment]:
        res = await self.conn.execute(st.PAYMENTS_BY[column], {"b_value": value})
        return [payment_from_row(r) for r in res.mappings()]

    async def get_payment(self, payment_id: str) -> Payment:
        found = await self._payments_by("id", payment_id)
        if not found:
            raise NotFound(f"no payment {payment_id!r}")
        return found[0]

    async def payment_by_key(self, idempotency_key: str) -> Payment | None:
        found = await self._payments_by("idempotency_key", idempotency_key)
        return found[0] if found else None

    async def payment_by_gateway_id(self, gateway_payment_id: str) -> Payment | None:
        found = await self._payments_by("gateway_payment_id", gateway_payment_id)
        return found[0] if found else None

    async def save_payment(self, payment: Payment) -> None:
        await self.conn.execute(st.PAYMENT_UPDATE, {"b_id": payment.id, **payment_values(payment)})

    async def payments_for_order(self, order_id: str) -> list[Payment]:
        return await self._payments_by("order_id", order_id)

    async def payments_in(self, statuses: tuple[PaymentStatus, ...], updated_before: datetime) -> list[Payment]:
        return await self._payments(t.payments.c.status.in_([s.value for s in statuses]),
                                    t.payments.c.updated_at <= updated_before)

    async def payments_succeeded_between(self, start: datetime, end: datetime) -> list[Payment]:
        c = t.payments.c
        return await self._payments(c.succeeded_at >= start, c.succeeded_at < end)

    # -- refunds ----------------------------------------------------------------------------------------------

    async def _refunds(self, *where: Any) -> list[Refund]:
        res = await self.conn.execute(select(t.refunds).where(*where).order_by(t.refunds.c.created_at))
        return [refund_from_row(r) for r in res.mappings()]

    async def add_refund(self, refund: Refund) -> None:
        await self.conn.execute(insert(t.refunds).values(id=refund.id, **refund_values(refund)))

    async def _refunds_by(self, column: str, value: str) -> list[Refund]:
        res = await self.conn.execute(st.REFUNDS_BY[column], {"b_value": value})
        return [refund_from_row(r) for r in res.mappings()]

    async def get_refund(self, refund_id: str) -> Refund:
        found = await self._refunds_by("id", refund_id)
        if not found:
            raise NotFound(f"no refund {refund_id!r}")
        return found[0]

    async def refund_by_gateway_id(self, gateway_refund_id: str) -> Refund | None:
        found = await self._refunds_by("gateway_refund_id", gateway_refund_id)
        return found[0] if found else None

    async def save_refund(self, refund: Refund) -> None:
        await self.conn.execute(st.REFUND_UPDATE, {"b_id": refund.id, **refund_values(refund)})

    async def refunds_for_order(self, order_id: str) -> list[Refund]:
        return await self._refunds_by("order_id", order_id)

    async def refunds_in(self, statuses: tuple[RefundStatus, ...], updated_before: datetime) -> list[Refund]:
        return await self._refunds(t.refunds.c.status.in_([s.value for s in statuses]),
                                   t.refunds.c.updated_at <= updated_before)

    async def refunds_succeeded_between(self, start: datetime, end: datetime) -> list[Refund]:
        c = t.refunds.c
        return await self._refunds(c.succeeded_at >= start, c.succeeded_at < end)

    # -- notifications, idempotency, audit --------------------------------------------------------------------

    async def record_event(self, event_id: str, event_type: str, received_at: datetime) -> bool:
        return await self._insert_new(t.processed_events, event_id=event_id, event_type=event_type,
                                      received_at=received_at)

    async def idempotency_begin(self, scope: str, key: str, request_hash: str, now: datetime,
                                stale_after_s: float) -> IdempotencyRecord | None:
        if await self._insert_new(t.idempotency, scope=scope, key=key, request_hash=request_hash, state="in_flight",
                                  created_at=now):
            return None
        q = st.IDEMPOTENCY_BY_KEY if self._db.is_sqlite else st.IDEMPOTENCY_BY_KEY_LOCKED
        row = (await self.conn.execute(q, {"b_scope": scope, "b_key": key})).mappings().one()
        record = IdempotencyRecord(row["scope"], row["key"], row["request_hash"], row["state"],
                                   utc_req(row["created_at"]), row["response_status"],
                                   None if row["response_body"] is None else json.loads(row["response_body"]))
        if (record.state == "in_flight" and record.request_hash == request_hash
                and (now - record.created_at).total_seconds() > stale_after_s):
            await self.conn.execute(st.IDEMPOTENCY_UPDATE, {"b_scope": scope, "b_key": key, "created_at": now})
            return None
        return record

    async def idempotency_finish(self, scope: str, key: str, status: int, body: dict[str, Any]) -> None:
        await self.conn.execute(st.IDEMPOTENCY_UPDATE, {
            "b_scope": scope, "b_key": key, "state": "done", "response_status": status,
            "response_body": json.dumps(body, ensure_ascii=False)})

    async def idempotency_abort(self, scope: str, key: str) -> None:
        c = t.idempotency.c
        await self.conn.execute(delete(t.idempotency).where(
            and_(c.scope == scope, c.key == key, c.state == "in_flight")))

    # -- the loan rate table ----------------------------------------------------------------------------------

    async def loan_rates(self, applies_to: str | None = None) -> list[LoanRate]:
        q = select(t.loan_rates).order_by(t.loan_rates.c.id)
        if applies_to is not None:
            q = q.where(t.loan_rates.c.applies_to == applies_to)
        return [loan_rate_from_row(r) for r in (await self.conn.execute(q)).mappings()]

    async def add_loan_rate(self, rate: LoanRate) -> None:
        await self.conn.execute(insert(t.loan_rates).values(**loan_rate_values(rate)))

    # -- shares -----------------------------------------------------------------------------------------------

    async def add_share(self, share: Share) -> None:
        await self.conn.execute(insert(t.shares).values(
            id=share.id, product_id=share.product_id, variant_id=share.variant_id, channel=share.channel,
            created_at=share.created_at, expires_at=share.expires_at, price_fen=share.price_fen,
            quoted_at=share.quoted_at, visits=0, orders=0, purchases=0))

    async def get_share(self, share_id: str) -> Share:
        row = (await self.conn.execute(select(t.shares).where(t.shares.c.id == share_id))).mappings().first()
        if row is None:
            raise ShareInvalid("this share link is not valid")
        return share_from_row(row)

    async def count_share(self, share_id: str, *, visits: int = 0, orders: int = 0, purchases: int = 0) -> None:
        c = t.shares.c
        await self.conn.execute(update(t.shares).where(c.id == share_id).values(
            visits=c.visits + visits, orders=c.orders + orders, purchases=c.purchases + purchases))
