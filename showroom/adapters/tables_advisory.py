"""The advisors' tables of the commerce schema (revision 0009): call-backs and call records. Defined on the schema's
one metadata; `tables.py` imports them, so `tables.advisor_callbacks` and `tables.advisor_calls` work as before."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, String, Table, Text

from showroom.adapters._metadata import metadata

advisor_callbacks = Table(
    # A customer's request to be called back when no advisor was on duty; `done_*` say who called back, when.
    "advisor_callbacks", metadata,
    Column("id", String(40), primary_key=True),
    Column("topic", String(32), nullable=False),
    Column("lang", String(8), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("place", String(64)),
    Column("phone", String(16), nullable=False),
    Column("name", String(40)),
    Column("preferred_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status", String(8), nullable=False),
    Column("done_by", String(40)),
    Column("done_at", DateTime(timezone=True)),
    Index("ix_advisor_callbacks_status_preferred", "status", "preferred_at"),
)

advisor_calls = Table(
    # One record per call (`call_id` unique), written by the advisor after it: the advisor is the session's.
    "advisor_calls", metadata,
    Column("id", String(40), primary_key=True),
    Column("call_id", String(64), nullable=False, unique=True),
    Column("topic", String(32), nullable=False),
    Column("lang", String(8), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("place", String(64)),
    Column("advisor", String(40), nullable=False),
    Column("advisor_display_name", String(100), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=False),
    Column("notes", Text, nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("order_id", String(100)),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ix_advisor_calls_recorded_at", "recorded_at"),
)
