"""customer trust: orders.token_sha256 (the customer's order capability, hashed), the bank's loan rate table

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 12:00:00

Orders placed before this revision have no token hash: their full view, cancel and socket answer 404 to every
token (their status stays public); staff can still read them.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_sha256", sa.String(length=64), nullable=True))
    op.create_table(
        "loan_rates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("applies_to", sa.String(length=100), nullable=False),
        sa.Column("term_months", sa.Integer(), nullable=False),
        sa.Column("annual_rate", sa.String(length=20), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("upfront_fee_cny", sa.String(length=20), nullable=False),
        sa.Column("monthly_fee_cny", sa.String(length=20), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("loan_rates", schema=None) as batch_op:
        batch_op.create_index("ix_loan_rates_applies_term", ["applies_to", "term_months"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("loan_rates", schema=None) as batch_op:
        batch_op.drop_index("ix_loan_rates_applies_term")
    op.drop_table("loan_rates")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("token_sha256")
