"""Payouts: the bank paying a customer (a buy-back), into the customer's **account of record**.

- `POST /payouts` (header `Idempotency-Key`, required) `{"reference", "customer_id", "amount_fen", "currency"?,
  "description"?, "notify_url"}` -> 201 `{"payout_id", "reference", "customer_id", "amount_fen", "currency",
  "status": "pending", "account_masked", "created_at"}`; a replay answers the same payout. The account is the
  one the bank holds for `customer_id` (`ACCOUNTS`, or a derived sandbox account for `cust_...` ids); no request
  may name an account: any field but those above is refused (422 `unknown_field`), and a customer without an
  account of record (`unverified:...`) is 422 `no_account_of_record`.
- `GET /payouts/{id}`; test control `POST /payouts/{id}/complete {"outcome": "succeeded"|"failed",
  "failure_code"?}`.
- A pending payout succeeds after the sandbox's `refund_processing_s` (the same processing delay as refunds; None
  leaves it to the test control); an account marked frozen fails it (`account_frozen`). Each outcome writes a
  signed notification (`payout.succeeded` / `payout.failed`) into the outbox in the same transaction, delivered
  to `notify_url` like every other event: `{"id", "type", "created", "data": {"payout_id", "reference",
  "customer_id", "amount_fen", "currency", "status", "account_masked", "failure_code"?}}`.

State lives in the sandbox's SQLite file (table `payouts`, created here), on the store's one thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from showroom.payment_sandbox import errors
from showroom.payment_sandbox._http import (
    NOTIFIER_KEY,
    SETTINGS_KEY,
    STORE_KEY,
    clock_s,
    idempotency_key_of,
    int_field,
    log,
    read_json,
    str_field,
    url_field,
)
from showroom.payment_sandbox.records import EventRow, new_id, request_hash
from showroom.payment_sandbox.rules import iso_utc
from showroom.payment_sandbox.store import SandboxDb

SCHEMA = """
CREATE TABLE IF NOT EXISTS payouts (
    id TEXT PRIMARY KEY,
    reference TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
    currency TEXT NOT NULL,
    description TEXT NOT NULL,
    notify_url TEXT NOT NULL,
    account_masked TEXT NOT NULL,
    status TEXT NOT NULL,
    failure_code TEXT,
    created_s REAL NOT NULL,
    completed_s REAL
);
CREATE INDEX IF NOT EXISTS payouts_status ON payouts (status, created_s);
"""
FIELDS = frozenset({"reference", "customer_id", "amount_fen", "currency", "description", "notify_url"})
ACCOUNTS: dict[str, tuple[str, bool]] = {"cust_sbx_0008": ("6222 **** **** 0008", True)}
"""Accounts of record the sandbox knows specially: customer id -> (masked account, frozen)."""
MAX_PAYOUT_FEN = 1_000_000_000


class NoAccountOfRecord(errors.InvalidInput):
    code = "no_account_of_record"


class PayoutNotFound(errors.NotFound):
    code = "payout_not_found"


class PayoutNotPending(errors.SandboxError):
    code = "payout_not_pending"
    http_status = 409


@dataclass(frozen=True)
class PayoutRow:
    id: str
    reference: str
    customer_id: str
    amount_fen: int
    currency: str
    description: str
    notify_url: str
    account_masked: str
    status: str
    failure_code: str | None
    created_s: float
    completed_s: float | None


def account_of(customer_id: str) -> tuple[str, bool]:
    """The customer's account of record at the bank (masked) and whether it is frozen."""
    if customer_id in ACCOUNTS:
        return ACCOUNTS[customer_id]
    if not customer_id.startswith("cust_"):
        raise NoAccountOfRecord(f"customer {customer_id[:40]!r} has no account of record at the bank")
    digits = str(int(hashlib.sha256(customer_id.encode()).hexdigest()[:8], 16) % 10000).zfill(4)
    return f"6222 **** **** {digits}", False


def _conn(db: SandboxDb) -> sqlite3.Connection:
    """The sandbox database's connection (the outbox shares it, so a payout and its event commit together)."""
    return db._conn


def _view(p: PayoutRow) -> dict[str, Any]:
    return {"payout_id": p.id, "reference": p.reference, "customer_id": p.customer_id, "amount_fen": p.amount_fen,
            "currency": p.currency, "status": p.status, "account_masked": p.account_masked,
            "failure_code": p.failure_code, "created_at": iso_utc(p.created_s),
            "completed_at": iso_utc(p.completed_s) if p.completed_s is not None else None}


def _row(conn: sqlite3.Connection, payout_id: str) -> PayoutRow:
    row = conn.execute("SELECT * FROM payouts WHERE id = ?", (payout_id,)).fetchone()
    if row is None:
        raise PayoutNotFound(f"no payout {payout_id[:64]!r}")
    return PayoutRow(**dict(row))


def _tx(conn: sqlite3.Connection, fn: Any) -> Any:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn()
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def create_schema(db: SandboxDb) -> None:
    _conn(db).executescript(SCHEMA)


def create(db: SandboxDb, body: dict[str, Any], key: str, now_s: float) -> tuple[dict[str, Any], bool]:
    """The payout of `body` once per key: (its view, replayed)."""
    conn = _conn(db)
    digest = request_hash(body)

    def run() -> tuple[dict[str, Any], bool]:
        row = conn.execute("SELECT request_hash, body FROM idempotency WHERE scope = 'payouts' AND key = ?",
                           (key,)).fetchone()
        if row is not None:
            if row["request_hash"] != digest:
                raise errors.IdempotencyKeyReused("this Idempotency-Key was used with a different payout")
            return json.loads(row["body"]), True
        masked, _frozen = account_of(str(body["customer_id"]))
        payout_id = new_id("po")
        conn.execute("INSERT INTO payouts (id, reference, customer_id, amount_fen, currency, description, notify_url,"
                     " account_masked, status, created_s) VALUES (?,?,?,?,?,?,?,?,?,?)",
                     (payout_id, body["reference"], body["customer_id"], body["amount_fen"], body["currency"],
                      body["description"], body["notify_url"], masked, "pending", now_s))
        view = _view(_row(conn, payout_id))
        conn.execute("INSERT INTO idempotency (scope, key, request_hash, http_status, body, created_s)"
                     " VALUES ('payouts', ?, ?, 201, ?, ?)", (key, digest, json.dumps(view), now_s))
        return view, False

    result: tuple[dict[str, Any], bool] = _tx(conn, run)
    return result


def complete(db: SandboxDb, payout_id: str, succeeded: bool | None, failure_code: str | None,
             now_s: float) -> tuple[PayoutRow, EventRow]:
    """Finishes a pending payout (`succeeded` None: by the account's state) and writes its notification."""
    conn = _conn(db)

    def run() -> tuple[PayoutRow, EventRow]:
        p = _row(conn, payout_id)
        if p.status != "pending":
            raise PayoutNotPending(f"payout {payout_id} is {p.status}")
        ok = succeeded
        failure = failure_code
        if ok is None:
            ok = not account_of(p.customer_id)[1]
            failure = None if ok else "account_frozen"
        status = "succeeded" if ok else "failed"
        failure = None if ok else (failure or "failed")
        conn.execute("UPDATE payouts SET status = ?, failure_code = ?, completed_s = ? WHERE id = ?",
                     (status, failure, now_s, payout_id))
        done = _row(conn, payout_id)
        event_id = new_id("evt")
        data: dict[str, Any] = {k: v for k, v in _view(done).items() if k not in ("created_at", "completed_at")}
        if failure is None:
            data.pop("failure_code")
        body = json.dumps({"id": event_id, "type": f"payout.{status}", "created": int(now_s), "data": data},
                          separators=(",", ":")).encode()
        conn.execute("INSERT INTO events (id, payment_id, type, body, notify_url, created_s, status)"
                     " VALUES (?,?,?,?,?,?,?)", (event_id, payout_id, f"payout.{status}", body, done.notify_url,
                                                 now_s, "pending"))
        return done, db.outbox.event(event_id)

    result: tuple[PayoutRow, EventRow] = _tx(conn, run)
    return result


def due(db: SandboxDb, created_before_s: float) -> list[str]:
    rows = _conn(db).execute("SELECT id FROM payouts WHERE status = 'pending' AND created_s <= ? ORDER BY created_s",
                             (created_before_s,)).fetchall()
    return [str(r["id"]) for r in rows]


# -- routes -------------------------------------------------------------------------------------------------------


async def create_payout(request: web.Request) -> web.Response:
    settings, store = request.app[SETTINGS_KEY], request.app[STORE_KEY]
    key = idempotency_key_of(request)
    if key is None:
        raise errors.ValidationFailed("a payout needs an Idempotency-Key header")
    body = await read_json(request)
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise errors.InvalidInput(f"unknown_field {unknown[0]!r}: a payout goes to the customer's account of record; "
                                  "no account may be named")
    amount = int_field(body, "amount_fen")
    if not 0 < amount <= MAX_PAYOUT_FEN:
        raise errors.ValidationFailed(f"amount_fen must be 1..{MAX_PAYOUT_FEN}")
    currency = str_field(body, "currency", default="CNY", max_len=3)
    if currency != "CNY":
        raise errors.ValidationFailed("the sandbox pays out CNY only")
    clean = {"reference": str_field(body, "reference", max_len=64),
             "customer_id": str_field(body, "customer_id", max_len=128), "amount_fen": amount, "currency": currency,
             "description": str_field(body, "description", default="", max_len=256),
             "notify_url": url_field(body, "notify_url", settings.default_notify_url)}
    if clean["notify_url"] is None:
        raise errors.ValidationFailed("notify_url is required")
    view, replayed = await store.run(create, store.db, clean, key, clock_s(request))
    if not replayed:
        log.info("payout %s of %d fen to %s", view["payout_id"], amount, clean["customer_id"])
    return web.json_response(view, status=201, headers={"Idempotent-Replayed": "true"} if replayed else {})


async def get_payout(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    row = await store.run(lambda: _row(_conn(store.db), request.match_info["payout_id"]))
    return web.json_response(_view(row))


async def complete_payout(request: web.Request) -> web.Response:
    """Test control: `{"outcome": "succeeded"|"failed", "failure_code"?}`."""
    body = await read_json(request)
    outcome = body.get("outcome", "succeeded")
    if outcome not in ("succeeded", "failed"):
        raise errors.ValidationFailed("outcome must be succeeded or failed")
    failure = str_field(body, "failure_code", default="account_closed", max_len=64)
    store = request.app[STORE_KEY]
    row, event = await store.run(complete, store.db, request.match_info["payout_id"], outcome == "succeeded",
                                 failure, clock_s(request))
    request.app[NOTIFIER_KEY].enqueue(event)
    return web.json_response(_view(row))


async def _processing(app: web.Application) -> None:
    settings, store, notifier = app[SETTINGS_KEY], app[STORE_KEY], app[NOTIFIER_KEY]
    delay = settings.refund_processing_s
    if delay is None:
        return
    while True:
        try:
            for payout_id in await store.run(due, store.db, settings.clock() - delay):
                with contextlib.suppress(PayoutNotPending):
                    _, event = await store.run(complete, store.db, payout_id, None, None, settings.clock())
                    notifier.enqueue(event)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("payout processing failed; trying again")
        await asyncio.sleep(max(0.05, min(delay, 1.0)))


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    store = app[STORE_KEY]
    await store.run(create_schema, store.db)
    task = asyncio.create_task(_processing(app), name="payment-sandbox-payouts")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def install(app: web.Application) -> None:
    """Adds the payout routes and their processing to the sandbox app (after its store's lifecycle)."""
    app.cleanup_ctx.append(_lifecycle)
    app.router.add_post("/payouts", create_payout)
    app.router.add_get("/payouts/{payout_id}", get_payout)
    app.router.add_post("/payouts/{payout_id}/complete", complete_payout)
