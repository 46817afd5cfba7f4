"""branches: the bank's branches (details from assets/branches.toml), slots with a capacity shared by pick-ups and
advisory appointments, pick-ups (the code kept as a SHA-256 only) and appointments

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 15:00:00

Shelves stay in `stock` (branch, product, variant); the branches file stocks a branch's shelves on start where
they have no row yet. Orders placed before this revision have no pick-up: nothing to backfill.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "branches",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "branch_slots",
        sa.Column("branch_id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("branch_id", "purpose", "starts_at"),
    )
    op.create_table(
        "pickups",
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("branch_id", sa.String(length=64), nullable=False),
        sa.Column("slot_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("code_sha256", sa.String(length=64), nullable=False),
        sa.Column("extended", sa.Boolean(), nullable=False),
        sa.Column("missed_slots", sa.Text(), nullable=False),
        sa.Column("history", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handed_over_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("order_id"),
    )
    with op.batch_alter_table("pickups", schema=None) as batch_op:
        batch_op.create_index("ix_pickups_status_slot", ["status", "slot_at"], unique=False)
        batch_op.create_index("ix_pickups_branch_slot", ["branch_id", "slot_at"], unique=False)
    op.create_table(
        "appointments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("branch_id", sa.String(length=64), nullable=False),
        sa.Column("slot_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("customer_key", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index("ix_appointments_branch_slot", ["branch_id", "slot_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index("ix_appointments_branch_slot")
    op.drop_table("appointments")
    with op.batch_alter_table("pickups", schema=None) as batch_op:
        batch_op.drop_index("ix_pickups_branch_slot")
        batch_op.drop_index("ix_pickups_status_slot")
    op.drop_table("pickups")
    op.drop_table("branch_slots")
    op.drop_table("branches")
