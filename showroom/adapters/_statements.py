"""The statements of the checkout's hot path, built once with bound parameters.

SQLAlchemy caches the compiled SQL of a statement by its cache key, but a statement built on every call still pays
for its construction and for computing that key each time; a statement object built once keeps its key. Measured
on the bench machine (bench/results/commerce.md): one `SELECT ... WHERE id = ?` costs 483 us of CPU built per call
and 263 us prebuilt on SQLite (aiosqlite), 332 and 119 us on PostgreSQL (asyncpg) - the same as the driver's own
`exec_driver_sql`. Values travel as bound parameters named `b_*` (never a column's name: an UPDATE without
`.values()` takes its SET clause from the other parameters).
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Table, and_, bindparam, delete, false, func, insert, select, text, true, update
from sqlalchemy.sql.elements import TextClause

from showroom.adapters import tables as t
from showroom.orders import OrderStatus, PaymentStatus

_o, _p, _r = t.orders.c, t.payments.c, t.refunds.c

QUOTE_INSERT = insert(t.quotes)
QUOTE_BY_ID = select(t.quotes).where(t.quotes.c.id == bindparam("b_id"))

ORDER_INSERT = insert(t.orders)
ORDER_BY_ID = select(t.orders).where(_o.id == bindparam("b_id"))
ORDER_BY_ID_LOCKED = ORDER_BY_ID.with_for_update()
ORDER_TOKEN = select(_o.token_sha256).where(_o.id == bindparam("b_id"))
ORDER_FOR_QUOTE = select(_o.id).where(_o.quote_id == bindparam("b_quote"))

_mine = _o.customer_key == bindparam("b_customer")
_live = _o.status.not_in([OrderStatus.CANCELLED.value, OrderStatus.EXPIRED.value])
_today = and_(_o.created_at >= bindparam("b_day_start"), _live)
_wallet_today = (
    select(func.coalesce(func.sum(_p.amount_fen), 0)).select_from(t.payments.join(t.orders, _p.order_id == _o.id))
    .where(and_(_mine, _p.method == "ecny_wallet", _p.created_at >= bindparam("b_day_start"),
                _p.status.in_([PaymentStatus.INTENT.value, PaymentStatus.PENDING.value,
                               PaymentStatus.SUCCEEDED.value]))).scalar_subquery())
CUSTOMER_ACTIVITY = select(
    func.count().filter(_o.created_at >= bindparam("b_hour_ago")), func.count().filter(_today),
    func.coalesce(func.sum(_o.amount_fen).filter(_today), 0), _wallet_today,
).where(and_(_mine, _o.created_at >= bindparam("b_since")))
"""Orders in the last hour, live orders and their amount today, e-CNY wallet payments today: one round trip."""

_u = t.stock_units.c
_unit_shelf = and_(_u.branch_id == bindparam("b_branch"), _u.product_id == bindparam("b_product"),
                   _u.variant_id == bindparam("b_variant"))


def _units(reserved: bool, *, wait: bool = False) -> Any:
    """Up to `b_quantity` ids of the shelf's free (or reserved) pieces, locked (PostgreSQL): pieces another
    transaction holds are skipped, unless `wait` (then locked pieces are waited for and looked at again)."""
    q = select(_u.id).where(and_(_unit_shelf, _u.reserved == (true() if reserved else false())))
    return q.limit(bindparam("b_quantity")).with_for_update(skip_locked=not wait).scalar_subquery()


SHELF_EXISTS = select(t.stock.c.branch_id).where(and_(
    t.stock.c.branch_id == bindparam("b_branch"), t.stock.c.product_id == bindparam("b_product"),
    t.stock.c.variant_id == bindparam("b_variant")))
SHELF_LEVEL = select(func.count(), func.count().filter(_u.reserved == true())).where(_unit_shelf)
UNITS_RESERVE = update(t.stock_units).where(_u.id.in_(_units(False))).values(reserved=True)
UNITS_RESERVE_WAITING = update(t.stock_units).where(_u.id.in_(_units(False, wait=True))).values(reserved=True)
UNITS_RELEASE = update(t.stock_units).where(_u.id.in_(_units(True))).values(reserved=False)
UNITS_TAKE = delete(t.stock_units).where(_u.id.in_(_units(True)))
UNITS_REMOVE_FREE = delete(t.stock_units).where(_u.id.in_(_units(False)))
UNITS_REMOVE_FREE_WAITING = delete(t.stock_units).where(_u.id.in_(_units(False, wait=True)))
UNITS_ADD = text(
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :b_quantity) "
    "INSERT INTO stock_units (branch_id, product_id, variant_id, reserved) "
    "SELECT CAST(:b_branch AS VARCHAR(64)), CAST(:b_product AS VARCHAR(100)), CAST(:b_variant AS VARCHAR(100)), "
    "FALSE FROM n")
"""`b_quantity` (> 0) new free pieces on the shelf: one statement on SQLite and PostgreSQL."""

PAYMENT_INSERT = insert(t.payments)
PAYMENT_UPDATE = update(t.payments).where(_p.id == bindparam("b_id"))
PAYMENTS_BY = {name: select(t.payments).where(_p[name] == bindparam("b_value")).order_by(_p.created_at)
               for name in ("id", "idempotency_key", "gateway_payment_id", "order_id")}

REFUND_UPDATE = update(t.refunds).where(_r.id == bindparam("b_id"))
REFUNDS_BY = {name: select(t.refunds).where(_r[name] == bindparam("b_value")).order_by(_r.created_at)
              for name in ("id", "gateway_refund_id", "order_id")}

_i = t.idempotency.c
_idempotency_key = and_(_i.scope == bindparam("b_scope"), _i.key == bindparam("b_key"))
IDEMPOTENCY_BY_KEY = select(t.idempotency).where(_idempotency_key)
IDEMPOTENCY_BY_KEY_LOCKED = IDEMPOTENCY_BY_KEY.with_for_update()
IDEMPOTENCY_UPDATE = update(t.idempotency).where(_idempotency_key)

_h = t.audit_head.c
AUDIT_HEAD = select(_h.seq, _h.digest).where(_h.id == 1)
AUDIT_HEAD_LOCKED = AUDIT_HEAD.with_for_update()
AUDIT_HEAD_MOVE = (update(t.audit_head).where(and_(_h.id == 1, _h.seq == bindparam("b_seq")))
                   .values(seq=bindparam("b_new_seq"), digest=bindparam("b_new_digest")))
AUDIT_INSERT = insert(t.audit_log)


AUDIT_CHAIN_MOVE_MAX = 16
"""More entries in one commit than this (rare: a bulk change) take the two statements (bounded statement count and
size: 11 parameters an entry)."""


@functools.cache
def audit_chain_move(entries: int) -> Any:
    """PostgreSQL: the `entries` new audit rows inserted and the head moved in one statement (the head's lock is
    held one round trip less). Bind `b_seq`, `b_new_seq`, `b_new_digest` and `e<i>_<column>` for each entry; one
    statement per count, in text: SQLAlchemy does not cache a statement with a DML CTE (it would compile it on
    every commit)."""
    names = [c.name for c in t.audit_log.columns]
    rows = ", ".join("(" + ", ".join(f":e{i}_{n}" for n in names) + ")" for i in range(entries))
    sql = (f"WITH chained AS (INSERT INTO audit_log ({', '.join(_quoted(n) for n in names)}) VALUES {rows}) "
           "UPDATE audit_head SET seq = :b_new_seq, digest = :b_new_digest WHERE id = 1 AND seq = :b_seq")
    return text(sql).bindparams(*(bindparam(f"e{i}_{c.name}", type_=c.type) for i in range(entries)
                                  for c in t.audit_log.columns))

ORDER_DISCOUNTS = select(t.order_discounts).where(t.order_discounts.c.order_id == bindparam("b_id"))
CERTIFICATES_OF_ORDER = (select(t.certificates).where(t.certificates.c.order_id == bindparam("b_id"))
                         .order_by(t.certificates.c.unit, t.certificates.c.generation))
PICKUP_OF_ORDER = select(t.pickups).where(t.pickups.c.order_id == bindparam("b_id"))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@functools.cache
def _insert_on_conflict(table: Table, columns: tuple[str, ...], conflict: tuple[str, ...],
                        updates: tuple[tuple[str, str], ...]) -> TextClause:
    target = f" ({', '.join(_quoted(c) for c in conflict)})" if conflict else ""
    action = "DO NOTHING" if not updates else "DO UPDATE SET " + ", ".join(
        f"{_quoted(c)} = {expression}" for c, expression in updates)
    sql = (f"INSERT INTO {_quoted(table.name)} ({', '.join(_quoted(c) for c in columns)}) "
           f"VALUES ({', '.join(':' + c for c in columns)}) ON CONFLICT{target} {action}")
    return text(sql).bindparams(*(bindparam(c, type_=table.c[c].type) for c in columns))


def insert_new(table: Table, values: dict[str, Any], conflict: tuple[str, ...] = ()) -> TextClause:
    """`INSERT ... ON CONFLICT [(conflict)] DO NOTHING` for these columns, the same SQL on SQLite and PostgreSQL.

    Written as typed text, built once per table and column set: SQLAlchemy gives the dialects' own
    `on_conflict_do_nothing()` constructs no cache key (2.0.43), so they were compiled again on every execution
    (about 1 ms of CPU each, five times a checkout). The bound values go through the columns' types."""
    return _insert_on_conflict(table, tuple(values), conflict, ())


def upsert(table: Table, values: dict[str, Any], conflict: tuple[str, ...],
           updates: tuple[tuple[str, str], ...]) -> TextClause:
    """`INSERT ... ON CONFLICT (conflict) DO UPDATE SET column = expression, ...` (expressions are SQL text over
    `excluded.*` and the table's own columns, the same on both databases), cached as `insert_new`."""
    return _insert_on_conflict(table, tuple(values), conflict, updates)


@functools.cache
def update_versioned(table: Table, key: str) -> Any:
    """`UPDATE table SET ... WHERE key = :b_key AND version = :b_version` (the SET clause from the parameters)."""
    return update(table).where(and_(table.c[key] == bindparam("b_key"), table.c.version == bindparam("b_version")))
