"""a shelf's pieces as rows (no counter row updated per order); orders say whether they hold discount lines

`stock_units`: one row per piece on a shelf, `reserved` while an unpaid order holds it (`adapters/_stock_units.py`).
Each shelf's `on_hand` pieces become rows, `reserved` of them reserved; `stock` keeps one row per shelf, without the
counters. `orders.has_discounts`: true when the order's `order_discounts` row holds discount lines.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_SHELF = ("branch_id", "product_id", "variant_id")


def _flag(reserved: bool) -> str:
    return "true" if reserved else "false"


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    op.create_table(
        "stock_units",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("branch_id", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.String(length=100), nullable=False),
        sa.Column("variant_id", sa.String(length=100), nullable=False),
        sa.Column("reserved", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    for name, reserved in (("ix_stock_units_free", False), ("ix_stock_units_held", True)):
        where = sa.text(f"reserved = {int(reserved) if sqlite else _flag(reserved)}")
        op.create_index(name, "stock_units", [*_SHELF, "id"], unique=False, sqlite_where=where,
                        postgresql_where=where)
    # every counted piece becomes a row: the first `reserved` of each shelf reserved, the rest free
    op.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
        "  WHERE i < (SELECT COALESCE(MAX(on_hand), 0) FROM stock)) "
        "INSERT INTO stock_units (branch_id, product_id, variant_id, reserved) "
        "SELECT s.branch_id, s.product_id, s.variant_id, CASE WHEN n.i <= s.reserved THEN TRUE ELSE FALSE END "
        "FROM stock s JOIN n ON n.i <= s.on_hand ORDER BY s.branch_id, s.product_id, s.variant_id, n.i")
    with op.batch_alter_table("stock") as batch:
        batch.drop_column("reserved")
        batch.drop_column("on_hand")

    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("has_discounts", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE orders SET has_discounts = TRUE WHERE id IN "
               "(SELECT order_id FROM order_discounts WHERE lines <> '[]')")


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("has_discounts")
    with op.batch_alter_table("stock") as batch:
        batch.add_column(sa.Column("on_hand", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("reserved", sa.Integer(), nullable=False, server_default="0"))
    counted = " AND ".join(f"u.{c} = stock.{c}" for c in _SHELF)
    op.execute(f"UPDATE stock SET on_hand = (SELECT COUNT(*) FROM stock_units u WHERE {counted}), "
               f"reserved = (SELECT COUNT(*) FROM stock_units u WHERE {counted} AND u.reserved = TRUE)")
    op.drop_index("ix_stock_units_held", table_name="stock_units")
    op.drop_index("ix_stock_units_free", table_name="stock_units")
    op.drop_table("stock_units")
