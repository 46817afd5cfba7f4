"""The commerce schema (SQLAlchemy Core). Alembic migrations in `showroom/adapters/migrations` create it.

Money is BIGINT fen; times are UTC; JSON documents (customer, quote breakdown, audit) are TEXT for portability
between SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
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
    Column("fulfilment", String(16)),
    Column("token_sha256", String(64)),  # revision 0003: the SHA-256 of the customer's order token, never the token
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
    # Before revision 0002: one unchained record per order event. Kept, read-only, for what it held then; the
    # audit trail is `audit_log` now.
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


# -- staff and the audit trail (revision 0002) -------------------------------------------------------------------

staff_accounts = Table(
    "staff_accounts", metadata,
    Column("name", String(40), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("display_name", String(100), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("totp_secret", String(64), nullable=False),
    Column("totp_last_step", BigInteger, nullable=False, default=0),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("failures", Integer, nullable=False, default=0),
    Column("first_failure_at", DateTime(timezone=True)),
    Column("locked_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False, default=0),
)

staff_sessions = Table(
    "staff_sessions", metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("name", String(40), nullable=False, index=True),
    Column("client", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

sign_in_throttles = Table(
    "sign_in_throttles", metadata,
    Column("key", String(100), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("first_failure_at", DateTime(timezone=True)),
    Column("locked_until", DateTime(timezone=True)),
)

refund_approvals = Table(
    "refund_approvals", metadata,
    Column("id", String(40), primary_key=True),
    Column("order_id", String(40), nullable=False, index=True),
    Column("amount_fen", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("state", String(20), nullable=False),
    Column("requested_by", String(40), nullable=False),
    Column("requested_role", String(16), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("idempotency_key", String(300), nullable=False, unique=True),
    Column("decided_by", String(40)),
    Column("decided_at", DateTime(timezone=True)),
    Column("decision_reason", Text),
    Column("refund_id", String(40)),
    Column("version", Integer, nullable=False, default=0),
    Index("ix_refund_approvals_state_requested", "state", "requested_at"),
)

audit_log = Table(
    "audit_log", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(120), nullable=False, index=True),
    Column("before", Text),
    Column("after", Text),
    Column("request_id", String(100)),
    Column("prev_digest", String(64), nullable=False),
    Column("digest", String(64), nullable=False),
)

audit_head = Table(
    # One row (id 1): the chain's last seq and digest. Committers lock it (PostgreSQL: FOR UPDATE) to append.
    "audit_head", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("digest", String(64), nullable=False),
)


# -- the bank's loan rate table (revision 0003) ------------------------------------------------------------------

loan_rates = Table(
    # Rows are added, never edited: a new decision is a new row with its own validity (the history stays).
    "loan_rates", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("applies_to", String(100), nullable=False),
    Column("term_months", Integer, nullable=False),
    Column("annual_rate", String(20), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date),
    Column("upfront_fee_cny", String(20), nullable=False),
    Column("monthly_fee_cny", String(20), nullable=False),
    Column("set_by", String(64), nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
    Index("ix_loan_rates_applies_term", "applies_to", "term_months"),
)
