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
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)

from showroom.adapters._metadata import metadata

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
    Column("has_discounts", Boolean, nullable=False, default=False),  # revision 0011: order_discounts has lines
    Index("ix_orders_status_expires", "status", "expires_at"),
    Index("ix_orders_customer_created", "customer_key", "created_at"),
)

stock = Table(
    "stock", metadata,  # the shelves: one row each, never updated by an order (revision 0011)
    Column("branch_id", String(64), nullable=False),
    Column("product_id", String(100), nullable=False),
    Column("variant_id", String(100), nullable=False),
    PrimaryKeyConstraint("branch_id", "product_id", "variant_id"),
)

stock_units = Table(
    "stock_units", metadata,  # revision 0011: one row per piece on a shelf; an order reserves rows of its own
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("branch_id", String(64), nullable=False),
    Column("product_id", String(100), nullable=False),
    Column("variant_id", String(100), nullable=False),
    Column("reserved", Boolean, nullable=False, default=False),
)
_u = stock_units.c
Index("ix_stock_units_free", _u.branch_id, _u.product_id, _u.variant_id, _u.id, sqlite_where=_u.reserved == false(),
      postgresql_where=_u.reserved == false())
Index("ix_stock_units_held", _u.branch_id, _u.product_id, _u.variant_id, _u.id, sqlite_where=_u.reserved == true(),
      postgresql_where=_u.reserved == true())

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


# -- campaigns, coupons and points (revision 0006) ---------------------------------------------------------------

campaigns = Table(
    # remaining_fen only moves by conditional updates (`remaining_fen >= amount`): it never goes below zero.
    "campaigns", metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("code", String(40), nullable=False, unique=True),
    Column("public", Boolean, nullable=False, default=False),
    Column("budget_fen", BigInteger, nullable=False),
    Column("remaining_fen", BigInteger, nullable=False),
    Column("per_customer_limit", Integer, nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("amount_off_fen", BigInteger, nullable=False),
    Column("percent", String(20), nullable=False),
    Column("cap_fen", BigInteger, nullable=False),
    Column("ecny_only", Boolean, nullable=False),
    Column("min_spend_fen", BigInteger, nullable=False),
    Column("product_ids", Text, nullable=False),
    Column("kinds", Text, nullable=False),
    Column("state", String(20), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decided_by", String(64)),
    Column("decided_at", DateTime(timezone=True)),
    Column("version", Integer, nullable=False, default=0),
)

coupons = Table(
    "coupons", metadata,
    Column("id", String(40), primary_key=True),
    Column("campaign_id", String(40), nullable=False),
    Column("customer_id", String(100), nullable=False, index=True),
    Column("slot", Integer, nullable=False),
    Column("reserved_fen", BigInteger, nullable=False),
    Column("state", String(20), nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    Column("order_id", String(40)),
    Column("discount_fen", BigInteger, nullable=False, default=0),
    Column("version", Integer, nullable=False, default=0),
    # one row per (campaign, verified customer, slot 1..limit): concurrent claims cannot pass the limit
    Index("ux_coupons_campaign_customer_slot", "campaign_id", "customer_id", "slot", unique=True),
)

points_accounts = Table(
    # balance only goes down by a conditional update (`balance >= points`)
    "points_accounts", metadata,
    Column("customer_id", String(100), primary_key=True),
    Column("balance", BigInteger, nullable=False),
)

points_ledger = Table(
    "points_ledger", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String(100), nullable=False, index=True),
    Column("delta", BigInteger, nullable=False),
    Column("reason", String(40), nullable=False),
    Column("ref", String(100), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    # a grant or a take-back happens once per (reason, ref): replays change nothing
    Index("ux_points_ledger_reason_ref", "reason", "ref", unique=True),
)

order_discounts = Table(
    "order_discounts", metadata,
    Column("order_id", String(40), primary_key=True),
    Column("customer_id", String(100), nullable=False),
    Column("lines", Text, nullable=False),
    Column("points_earned", BigInteger, nullable=False, default=0),
    Column("points_returned", BigInteger, nullable=False, default=0),
    Column("earned_reversed", BigInteger, nullable=False, default=0),
    Column("coupon_returned", Boolean, nullable=False, default=False),
)


# -- certificates (revision 0004) ----------------------------------------------------------------------------------

certificates = Table(
    # One row per certificate issued: one per unit of a paid order (generation 0), and a new one per transfer
    # (generation + 1; the one it replaces is revoked, `superseded_by` the new one). `document` is the signed
    # certificate exactly as issued (showroom/certificates.py); the serial stays with the unit across owners.
    "certificates", metadata,
    Column("id", String(40), primary_key=True),
    Column("serial", String(40), nullable=False, index=True),
    Column("order_id", String(40), nullable=False, index=True),
    Column("unit", Integer, nullable=False),
    Column("generation", Integer, nullable=False),
    Column("owner_name", String(100), nullable=False),
    Column("owner_phone", String(32), nullable=False),
    Column("holder_token_sha256", String(64)),
    Column("document", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoke_reason", String(200)),
    Column("superseded_by", String(40)),
    UniqueConstraint("order_id", "unit", "generation", name="uq_certificates_order_unit_generation"),
)


# -- branches, pick-ups and appointments (revision 0005) ----------------------------------------------------------

branches = Table(
    # The branch's details as JSON (`showroom.branches.Branch.document`), loaded from assets/branches.toml.
    "branches", metadata,
    Column("id", String(64), primary_key=True),
    Column("document", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

branch_slots = Table(
    # taken only moves by conditional updates (`taken < capacity`): a slot is never overbooked.
    "branch_slots", metadata,
    Column("branch_id", String(64), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("taken", Integer, nullable=False),
    PrimaryKeyConstraint("branch_id", "purpose", "starts_at"),
)

pickups = Table(
    "pickups", metadata,
    Column("order_id", String(40), primary_key=True),
    Column("branch_id", String(64), nullable=False),
    Column("slot_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("code_sha256", String(64), nullable=False),
    Column("extended", Boolean, nullable=False, default=False),
    Column("missed_slots", Text, nullable=False),
    Column("history", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("handed_over_at", DateTime(timezone=True)),
    Column("handed_over_by", String(64)),
    Column("version", Integer, nullable=False, default=0),
    Index("ix_pickups_status_slot", "status", "slot_at"),
    Index("ix_pickups_branch_slot", "branch_id", "slot_at"),
)

appointments = Table(
    "appointments", metadata,
    Column("id", String(40), primary_key=True),
    Column("branch_id", String(64), nullable=False),
    Column("slot_at", DateTime(timezone=True), nullable=False),
    Column("topic", String(32), nullable=False),
    Column("name", String(100)),
    Column("phone", String(32), nullable=False),
    Column("customer_key", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("token_sha256", String(64), nullable=False),
    Column("note", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_appointments_branch_slot", "branch_id", "slot_at"),
)


# -- phone one-time codes and proofs (revision 0007) --------------------------------------------------------------

phone_codes = Table(
    # One row per code sent. Only a salted SHA-256 of the 6-digit code is kept; `attempts` counts wrong guesses,
    # `state` is pending, used, burned (too many wrong guesses) or superseded (a newer code was sent).
    "phone_codes", metadata,
    Column("id", String(40), primary_key=True),
    Column("phone", String(32), nullable=False),
    Column("client_key", String(128), nullable=False),
    Column("salt", String(64), nullable=False),
    Column("code_sha256", String(64), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False, default=0),
    Index("ix_phone_codes_phone_created", "phone", "created_at"),
)

phone_proofs = Table(
    # A proof token (stored as its SHA-256) that the holder received the code sent to `phone`, bound to the bank's
    # customer id for that number at the time of verification.
    "phone_proofs", metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("phone", String(32), nullable=False),
    Column("customer_id", String(100), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_phone_proofs_expires_at", "expires_at"),
)


# -- buy-backs (revision 0008) ------------------------------------------------------------------------------------

buybacks = Table(
    # One row per buy-back, from its quote (the locked bid) to its payout. Decimals as strings; `pieces` is the
    # teller's inspection as JSON; only the SHA-256 of the customer's token and of the booking code are kept.
    "buybacks", metadata,
    Column("id", String(40), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("product_id", String(100), nullable=False),
    Column("variant_id", String(100), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("metal", String(4), nullable=False),
    Column("fineness", String(12), nullable=False),
    Column("nominal_weight_g", String(20), nullable=False),
    Column("bid_cny_per_g", String(20), nullable=False),
    Column("quoted_fen", BigInteger, nullable=False),
    Column("snapshot", Text, nullable=False),
    Column("token_sha256", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("quote_expires_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("customer_name", String(100)),
    Column("phone", String(32)),
    Column("customer_id", String(128)),
    Column("branch_id", String(64)),
    Column("slot_at", DateTime(timezone=True)),
    Column("lock_until", DateTime(timezone=True)),
    Column("code_sha256", String(64)),
    Column("pieces", Text, nullable=False),
    Column("inspected_at", DateTime(timezone=True)),
    Column("inspected_by", String(64)),
    Column("id_kind", String(32)),
    Column("amount_fen", BigInteger, nullable=False),
    Column("rejection_reason", Text),
    Column("payout_attempt", Integer, nullable=False),
    Column("payout_id", String(64), unique=True),
    Column("payout_failure", String(64)),
    Column("account_masked", String(64)),
    Column("paid_at", DateTime(timezone=True)),
    Column("version", Integer, nullable=False, default=0),
    # Four eyes above SHOWROOM_BUYBACK_FOUR_EYES_CNY (revision 0010): pending_approval / approved / rejected.
    Column("approval", String(20)),
    Column("decided_by", String(64)),
    Column("decided_at", DateTime(timezone=True)),
    Column("decision_reason", Text),
    Index("ix_buybacks_branch_slot", "branch_id", "slot_at"),
    Index("ix_buybacks_status_updated", "status", "updated_at"),
    Index("ix_buybacks_customer_status", "customer_id", "status"),
    Index("ix_buybacks_approval_inspected", "approval", "inspected_at"),
)

buyback_serials = Table(
    # A serial the bank bought back: the primary key makes a second buy-back of the same piece impossible.
    "buyback_serials", metadata,
    Column("serial", String(40), primary_key=True),
    Column("buyback_id", String(40), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)


# -- advisors: call-backs and call records (revision 0009): in tables_advisory.py, on the same metadata -------------
from showroom.adapters.tables_advisory import advisor_callbacks, advisor_calls  # noqa: E402

__all__ = ["advisor_callbacks", "advisor_calls", "metadata"]
