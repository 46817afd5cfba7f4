"""The checkout's statements are built once and cacheable: SQLAlchemy compiles each only once per process."""

from __future__ import annotations

from showroom.adapters import _statements as st
from showroom.adapters import tables as t


def test_on_conflict_statements_are_built_once_and_have_a_cache_key() -> None:
    values = {"scope": "orders", "key": "k", "request_hash": "h", "state": "in_flight", "created_at": None}
    first = st.insert_new(t.idempotency, values)
    assert st.insert_new(t.idempotency, dict(values)) is first
    assert first._generate_cache_key() is not None  # the dialects' on_conflict_do_nothing() has none (2.0.43)
    sql = str(first)
    assert sql.startswith('INSERT INTO "idempotency_keys" ("scope", "key",') and sql.endswith("ON CONFLICT DO NOTHING")
    up = st.upsert(t.points_accounts, {"customer_id": "c", "balance": 1}, ("customer_id",),
                   (("balance", "points_accounts.balance + excluded.balance"),))
    assert str(up).endswith('ON CONFLICT ("customer_id") DO UPDATE SET "balance" = points_accounts.balance + '
                            "excluded.balance")


def test_the_hot_path_reads_are_prebuilt_with_bound_parameters() -> None:
    expected = {st.ORDER_BY_ID: {"b_id"}, st.ORDER_BY_ID_LOCKED: {"b_id"}, st.QUOTE_BY_ID: {"b_id"},
                st.CUSTOMER_ACTIVITY: {"b_customer", "b_hour_ago", "b_day_start", "b_since"},
                st.UNITS_RESERVE: {"b_branch", "b_product", "b_variant", "b_quantity"}}
    for statement, names in expected.items():
        assert statement._generate_cache_key() is not None
        assert names <= set(statement.compile().binds)
