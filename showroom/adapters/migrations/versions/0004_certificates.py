"""certificates: one signed certificate per unit of a paid order, re-issued (and the old one revoked) on transfer

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 15:00:00

Orders paid before this revision get their certificates when first asked for (the customer's certificate page,
or the event that an order was paid): nothing to backfill here.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificates",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("unit", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("owner_name", sa.String(length=100), nullable=False),
        sa.Column("owner_phone", sa.String(length=32), nullable=False),
        sa.Column("holder_token_sha256", sa.String(length=64), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=200), nullable=True),
        sa.Column("superseded_by", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id", "unit", "generation", name="uq_certificates_order_unit_generation"),
    )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.create_index("ix_certificates_serial", ["serial"], unique=False)
        batch_op.create_index("ix_certificates_order_id", ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_index("ix_certificates_order_id")
        batch_op.drop_index("ix_certificates_serial")
    op.drop_table("certificates")
