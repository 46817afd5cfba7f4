"""buy-backs of the bank's bars and coins, and the serials bought back

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 17:45:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "buybacks",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("product_id", sa.String(length=100), nullable=False),
        sa.Column("variant_id", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("metal", sa.String(length=4), nullable=False),
        sa.Column("fineness", sa.String(length=12), nullable=False),
        sa.Column("nominal_weight_g", sa.String(length=20), nullable=False),
        sa.Column("bid_cny_per_g", sa.String(length=20), nullable=False),
        sa.Column("quoted_fen", sa.BigInteger(), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("quote_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("customer_name", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("customer_id", sa.String(length=128), nullable=True),
        sa.Column("branch_id", sa.String(length=64), nullable=True),
        sa.Column("slot_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lock_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_sha256", sa.String(length=64), nullable=True),
        sa.Column("pieces", sa.Text(), nullable=False),
        sa.Column("inspected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("inspected_by", sa.String(length=64), nullable=True),
        sa.Column("id_kind", sa.String(length=32), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("payout_attempt", sa.Integer(), nullable=False),
        sa.Column("payout_id", sa.String(length=64), nullable=True),
        sa.Column("payout_failure", sa.String(length=64), nullable=True),
        sa.Column("account_masked", sa.String(length=64), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("payout_id"),
    )
    op.create_index("ix_buybacks_branch_slot", "buybacks", ["branch_id", "slot_at"], unique=False)
    op.create_index("ix_buybacks_status_updated", "buybacks", ["status", "updated_at"], unique=False)
    op.create_index("ix_buybacks_customer_status", "buybacks", ["customer_id", "status"], unique=False)
    op.create_table(
        "buyback_serials",
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("buyback_id", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("serial"),
    )


def downgrade() -> None:
    op.drop_table("buyback_serials")
    op.drop_index("ix_buybacks_customer_status", table_name="buybacks")
    op.drop_index("ix_buybacks_status_updated", table_name="buybacks")
    op.drop_index("ix_buybacks_branch_slot", table_name="buybacks")
    op.drop_table("buybacks")
