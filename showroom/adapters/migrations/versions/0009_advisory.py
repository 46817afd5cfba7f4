"""advisors: call-backs and call records

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "advisor_callbacks",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("place", sa.String(length=64), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=True),
        sa.Column("preferred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("done_by", sa.String(length=40), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_advisor_callbacks_status_preferred", "advisor_callbacks", ["status", "preferred_at"],
                    unique=False)
    op.create_table(
        "advisor_calls",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("place", sa.String(length=64), nullable=True),
        sa.Column("advisor", sa.String(length=40), nullable=False),
        sa.Column("advisor_display_name", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_id"),
    )
    op.create_index("ix_advisor_calls_recorded_at", "advisor_calls", ["recorded_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_advisor_calls_recorded_at", table_name="advisor_calls")
    op.drop_table("advisor_calls")
    op.drop_index("ix_advisor_callbacks_status_preferred", table_name="advisor_callbacks")
    op.drop_table("advisor_callbacks")
