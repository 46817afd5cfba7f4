"""four eyes on large buy-back payouts: the approval's state, who decided, when and why

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 12:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("buybacks", sa.Column("approval", sa.String(length=20), nullable=True))
    op.add_column("buybacks", sa.Column("decided_by", sa.String(length=64), nullable=True))
    op.add_column("buybacks", sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("buybacks", sa.Column("decision_reason", sa.Text(), nullable=True))
    op.create_index("ix_buybacks_approval_inspected", "buybacks", ["approval", "inspected_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_buybacks_approval_inspected", table_name="buybacks")
    with op.batch_alter_table("buybacks") as batch:
        batch.drop_column("decision_reason")
        batch.drop_column("decided_at")
        batch.drop_column("decided_by")
        batch.drop_column("approval")
