"""The sandbox's SQLite schema, and opening a connection to it (a file in the data dir, or memory for tests)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

DB_FILE_NAME = "payment_sandbox.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS payments (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
    currency TEXT NOT NULL,
    method TEXT NOT NULL,
    description TEXT NOT NULL,
    notify_url TEXT NOT NULL,
    return_url TEXT,
    status TEXT NOT NULL,
    failure_code TEXT,
    fee_fen INTEGER NOT NULL,
    created_s REAL NOT NULL,
    expires_s REAL NOT NULL,
    completed_s REAL,
    card_token TEXT,
    card_brand TEXT,
    card_last4 TEXT,
    wallet_id TEXT,
    wallet_tier INTEGER
);
CREATE INDEX IF NOT EXISTS payments_order ON payments (order_id);
CREATE INDEX IF NOT EXISTS payments_pending ON payments (status, expires_s);
CREATE TABLE IF NOT EXISTS refunds (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments (id),
    amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    failure_code TEXT,
    fee_fen INTEGER NOT NULL,
    created_s REAL NOT NULL,
    completed_s REAL
);
CREATE INDEX IF NOT EXISTS refunds_payment ON refunds (payment_id);
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    http_status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_s REAL NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL,
    type TEXT NOT NULL,
    body BLOB NOT NULL,
    notify_url TEXT NOT NULL,
    created_s REAL NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    delivered_s REAL
);
CREATE INDEX IF NOT EXISTS events_status ON events (status);
CREATE INDEX IF NOT EXISTS events_payment ON events (payment_id);
"""


def connect(path: Path | None) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with the schema in place; `None`: in memory.

    A file is opened in WAL mode with synchronous writes, so a committed change survives a crash."""
    conn = sqlite3.connect(
        str(path) if path is not None else ":memory:", check_same_thread=False, isolation_level=None
    )
    conn.row_factory = sqlite3.Row
    if path is not None:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.executescript(SCHEMA)
    return conn
