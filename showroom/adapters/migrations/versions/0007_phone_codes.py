"""phone one-time codes and phone proofs

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 17:20:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "phone_codes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("client_key", sa.String(length=128), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("code_sha256", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_phone_codes_phone_created", "phone_codes", ["phone", "created_at"], unique=False)
    op.create_table(
        "phone_proofs",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=100), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_sha256"),
    )
    op.create_index("ix_phone_proofs_expires_at", "phone_proofs", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_phone_proofs_expires_at", table_name="phone_proofs")
    op.drop_table("phone_proofs")
    op.drop_index("ix_phone_codes_phone_created", table_name="phone_codes")
    op.drop_table("phone_codes")
