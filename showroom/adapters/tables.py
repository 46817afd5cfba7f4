"""The commerce schema (SQLAlchemy Core). Alembic migrations in `showroom/adapters/migrations` create it.

Money is BIGINT fen; times are UTC; JSON documents (customer, quote breakdown, audit) are TEXT for portability
between SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

metadata = MetaData()

quotes = Table(
    "quotes", metadata,
    Column("id", String(40), primary_key=True),
    Column("product_id", String(100), nullable=False),
    Column("variant_id", String(100), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_fen", BigInteger, nullable=False),
    Column("total_fen", BigInteger, nullable=False),
    Column("breakdown", Text, nullable=False),
    Column("snapshot", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)

orders = Table(
    "orders", metadata,
    Column("id", String(40), primary_key=True),
    Column("quote_id", String(40), nullable=False, unique=True),
    Column("product_id", String(100), nullable=False),
    Column("variant_id", String(100), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("branch_id", String(64), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(32), nullable=False),
    Column("customer", Text, nullable=False),
    Column("customer_key", String(128), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("paid_fen", BigInteger, nullable=False, default=0),
    Column("refunded_fen", BigInteger, nullable=False, default=0),
    Column("paid_payment_id", String(40)),
    Column("aml_review", Boolean, nullable=False, default=False),
    Column("share_id", String(40)),
    Column("finance", Text),
    Column("version", Integer, nullable=False, default=0),
    Index("ix_orders_status_expires", "status", "expires_at"),
    Index("ix_orders_customer_created", "customer_key", "created_at"),
)

stock = Table(
    "stock", metadata,
    Column("branch_id", String(64), nullable=False),
    Column("product_id", String(100), nullable=False),
    Column("variant_id", String(100), nullable=False),
    Column("on_hand", Integer, nullable=False),
    Column("reserved", Integer, nullable=False),
    PrimaryKeyConstraint("branch_id", "product_id", "variant_id"),
)

payments = Table(
    "payments", metadata,
    Column("id", String(40), primary_key=True),
    Column("order_id", String(40), nullable=False, index=True),
    Column("method", String(32), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("gateway_payment_id", String(100), unique=True),
    Column("pay_url", Text),
    Column("qr_png_url", Text),
    Column("expires_at", DateTime(timezone=True)),
    Column("failure_code", String(64)),
    Column("wallet_tier", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("succeeded_at", DateTime(timezone=True)),
    Index("ix_payments_status_updated", "status", "updated_at"),
)

refunds = Table(
    "refunds", metadata,
    Column("id", String(40), primary_key=True),
    Column("order_id", String(40), nullable=False, index=True),
    Column("payment_id", String(40), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("gateway_refund_id", String(100), unique=True),
    Column("automatic", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("succeeded_at", DateTime(timezone=True)),
    Index("ix_refunds_status_updated", "status", "updated_at"),
)

processed_events = Table(
    "processed_events", metadata,
    Column("event_id", String(100), primary_key=True),
    Column("event_type", String(40), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

idempotency = Table(
    "idempotency_keys", metadata,
    Column("scope", String(100), nullable=False),
    Column("key", String(200), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("response_status", Integer),
    Column("response_body", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("scope", "key"),
)

audit = Table(
    "audit_records", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", String(40), nullable=False, index=True),
    Column("kind", String(40), nullable=False),
    Column("data", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

shares = Table(
    "shares", metadata,
    Column("id", String(40), primary_key=True),
    Column("product_id", String(100), nullable=False),
    Column("variant_id", String(100), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("price_fen", BigInteger),
    Column("quoted_at", DateTime(timezone=True)),
    Column("visits", Integer, nullable=False, default=0),
    Column("orders", Integer, nullable=False, default=0),
    Column("purchases", Integer, nullable=False, default=0),
)
