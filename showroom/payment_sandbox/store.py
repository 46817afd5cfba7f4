"""The sandbox's state in SQLite: payments, refunds, idempotency keys and settlement queries (`SandboxDb`), and
`SandboxStore`, which runs them on one dedicated thread, off the event loop.

`SandboxDb` is synchronous, one method = one transaction; every change of a payment or refund writes its
notification event into the outbox (`outbox.py`) in the same transaction, so a notification is never lost across
a restart. The rows are plain values (`records.py`), the tables are in `schema.py`.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from showroom.payment_sandbox import errors
from showroom.payment_sandbox.outbox import Outbox
from showroom.payment_sandbox.records import (
    Completion,
    EventRow,
    IdempotentAnswer,
    NewPayment,
    PaymentRow,
    RefundRow,
    new_id,
)
from showroom.payment_sandbox.rules import OUTCOME_FAILURE_CODE, Outcome, refund_fee_fen
from showroom.payment_sandbox.schema import DB_FILE_NAME, connect

P = ParamSpec("P")
T = TypeVar("T")


class SandboxDb:
    """Synchronous SQLite access; every public method is one transaction. Used from one thread at a time."""

    def __init__(self, path: Path | None) -> None:
        self._conn = connect(path)
        self.outbox = Outbox(self._conn)
        """The notification events; `add` is called from this class's transactions only."""

    def close(self) -> None:
        self._conn.close()

    def _tx(self, fn: Callable[[], T]) -> T:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn()
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
        return result

    # --- idempotency -------------------------------------------------------------------------------------

    def _idempotent(
        self, scope: str, key: str | None, req_hash: str, now_s: float, make: Callable[[], dict[str, Any]]
    ) -> IdempotentAnswer:
        def run() -> IdempotentAnswer:
            if key is not None:
                row = self._conn.execute(
                    "SELECT request_hash, http_status, body FROM idempotency WHERE scope = ? AND key = ?",
                    (scope, key),
                ).fetchone()
                if row is not None:
                    if row["request_hash"] != req_hash:
                        raise errors.IdempotencyKeyReused(
                            "this Idempotency-Key was used with a different request body; use a new key"
                        )
                    return IdempotentAnswer(int(row["http_status"]), json.loads(row["body"]), replayed=True)
            body = make()
            if key is not None:
                self._conn.execute(
                    "INSERT INTO idempotency (scope, key, request_hash, http_status, body, created_s)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (scope, key, req_hash, 201, json.dumps(body), now_s),
                )
            return IdempotentAnswer(201, body, replayed=False)

        return self._tx(run)

    def purge_idempotency(self, older_than_s: float) -> int:
        cur = self._conn.execute("DELETE FROM idempotency WHERE created_s < ?", (older_than_s,))
        return cur.rowcount

    # --- payments ----------------------------------------------------------------------------------------

    def create_payment(
        self,
        new: NewPayment,
        key: str | None,
        req_hash: str,
        now_s: float,
        render: Callable[[PaymentRow], dict[str, Any]],
    ) -> IdempotentAnswer:
        def make() -> dict[str, Any]:
            payment_id = new_id("pay")
            self._conn.execute(
                "INSERT INTO payments (id, order_id, amount_fen, currency, method, description, notify_url,"
                " return_url, status, fee_fen, created_s, expires_s, wallet_id, wallet_tier)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    payment_id,
                    new.order_id,
                    new.amount_fen,
                    new.currency,
                    new.method,
                    new.description,
                    new.notify_url,
                    new.return_url,
                    "pending",
                    new.fee_fen,
                    now_s,
                    now_s + new.expires_in_s,
                    new.wallet_id,
                    new.wallet_tier,
                ),
            )
            return render(self._payment(payment_id))

        return self._idempotent("payments", key, req_hash, now_s, make)

    def _payment(self, payment_id: str) -> PaymentRow:
        row = self._conn.execute("SELECT * FROM payments WHERE id = ?", (payment_id,)).fetchone()
        if row is None:
            raise errors.PaymentNotFound(f"no payment {payment_id!r}")
        return PaymentRow(**dict(row))

    def payment(self, payment_id: str) -> PaymentRow:
        return self._payment(payment_id)

    def payments_of_order(self, order_id: str) -> list[PaymentRow]:
        rows = self._conn.execute(
            "SELECT * FROM payments WHERE order_id = ? ORDER BY created_s, id", (order_id,)
        ).fetchall()
        return [PaymentRow(**dict(r)) for r in rows]

    def refunds_of(self, payment_id: str) -> list[RefundRow]:
        rows = self._conn.execute(
            "SELECT * FROM refunds WHERE payment_id = ? ORDER BY created_s, id", (payment_id,)
        ).fetchall()
        return [RefundRow(**dict(r)) for r in rows]

    def refund(self, refund_id: str) -> RefundRow:
        row = self._conn.execute("SELECT * FROM refunds WHERE id = ?", (refund_id,)).fetchone()
        if row is None:
            raise errors.RefundNotFound(f"no refund {refund_id!r}")
        return RefundRow(**dict(row))

    def wallet_spent_fen(self, wallet_id: str, start_s: float, end_s: float) -> int:
        row = self._conn.execute(
            "SELECT COALESCE(SUM(amount_fen), 0) FROM payments WHERE wallet_id = ? AND status = 'succeeded'"
            " AND completed_s >= ? AND completed_s < ?",
            (wallet_id, start_s, end_s),
        ).fetchone()
        return int(row[0])

    def complete_payment(
        self, payment_id: str, completion: Completion, now_s: float, decide: Callable[[PaymentRow], Outcome]
    ) -> tuple[PaymentRow, EventRow]:
        """Finishes a pending payment. `decide` maps the row to the final outcome (amount and wallet rules); it
        runs inside the transaction so two concurrent completions cannot both win. A payment found past its
        expiry is expired instead: the returned row then has status `expired` (the caller refuses the
        completion after queueing the event)."""

        def run() -> tuple[PaymentRow, EventRow]:
            p = self._payment(payment_id)
            if p.status == "pending" and now_s >= p.expires_s:
                event = self._expire(p, now_s)
                return self._payment(payment_id), event
            if p.status != "pending":
                raise errors.PaymentNotPending(f"payment {payment_id} is already {p.status}")
            outcome = decide(p)
            status = "succeeded" if outcome == "approved" else "failed"
            failure = OUTCOME_FAILURE_CODE.get(outcome)
            self._conn.execute(
                "UPDATE payments SET status = ?, failure_code = ?, completed_s = ?, card_token = ?, card_brand = ?,"
                " card_last4 = ?, wallet_id = ?, wallet_tier = ? WHERE id = ?",
                (
                    status,
                    failure,
                    now_s,
                    completion.card_token,
                    completion.card_brand,
                    completion.card_last4,
                    completion.wallet_id,
                    completion.wallet_tier,
                    payment_id,
                ),
            )
            done = self._payment(payment_id)
            event = self.outbox.add(done, f"payment.{status}", now_s, self.refunded_fen(payment_id))
            return done, event

        return self._tx(run)

    def _expire(self, p: PaymentRow, now_s: float) -> EventRow:
        self._conn.execute(
            "UPDATE payments SET status = 'expired', failure_code = 'expired', completed_s = ? WHERE id = ?",
            (now_s, p.id),
        )
        return self.outbox.add(self._payment(p.id), "payment.expired", now_s, self.refunded_fen(p.id))

    def expire_due(self, now_s: float) -> list[EventRow]:
        """Expires every pending payment past its expiry; returns their `payment.expired` events."""

        def run() -> list[EventRow]:
            rows = self._conn.execute(
                "SELECT id FROM payments WHERE status = 'pending' AND expires_s <= ?", (now_s,)
            ).fetchall()
            return [self._expire(self._payment(r["id"]), now_s) for r in rows]

        return self._tx(run)

    # --- refunds -----------------------------------------------------------------------------------------

    def create_refund(
        self,
        payment_id: str,
        amount_fen: int,
        reason: str,
        key: str | None,
        req_hash: str,
        now_s: float,
        render: Callable[[RefundRow, PaymentRow], dict[str, Any]],
    ) -> IdempotentAnswer:
        def make() -> dict[str, Any]:
            p = self._payment(payment_id)
            if p.status != "succeeded":
                raise errors.PaymentNotRefundable(
                    f"payment {payment_id} is {p.status}; only a succeeded one refunds"
                )
            committed = self._refund_committed_fen(payment_id)
            if committed + amount_fen > p.amount_fen:
                raise errors.RefundExceedsPaid(
                    f"refund of {amount_fen} fen would take refunds to {committed + amount_fen} fen,"
                    f" above the {p.amount_fen} fen paid ({p.amount_fen - committed} fen left to refund)"
                )
            fee = refund_fee_fen(p.fee_fen, p.amount_fen, committed, amount_fen)
            refund_id = new_id("re")
            self._conn.execute(
                "INSERT INTO refunds (id, payment_id, amount_fen, reason, status, fee_fen, created_s)"
                " VALUES (?,?,?,?,?,?,?)",
                (refund_id, payment_id, amount_fen, reason, "pending", fee, now_s),
            )
            return render(self.refund(refund_id), p)

        return self._idempotent(f"refunds:{payment_id}", key, req_hash, now_s, make)

    def _refund_committed_fen(self, payment_id: str) -> int:
        row = self._conn.execute(
            "SELECT COALESCE(SUM(amount_fen), 0) FROM refunds WHERE payment_id = ? AND status != 'failed'",
            (payment_id,),
        ).fetchone()
        return int(row[0])

    def refunded_fen(self, payment_id: str) -> int:
        row = self._conn.execute(
            "SELECT COALESCE(SUM(amount_fen), 0) FROM refunds WHERE payment_id = ? AND status = 'succeeded'",
            (payment_id,),
        ).fetchone()
        return int(row[0])

    def complete_refund(self, refund_id: str, succeeded: bool, now_s: float) -> tuple[RefundRow, EventRow]:
        def run() -> tuple[RefundRow, EventRow]:
            r = self.refund(refund_id)
            if r.status != "pending":
                raise errors.RefundNotPending(f"refund {refund_id} is already {r.status}")
            status = "succeeded" if succeeded else "failed"
            self._conn.execute(
                "UPDATE refunds SET status = ?, failure_code = ?, completed_s = ? WHERE id = ?",
                (status, None if succeeded else "refund_rejected", now_s, refund_id),
            )
            done = self.refund(refund_id)
            event = self.outbox.add(
                self._payment(r.payment_id), f"refund.{status}", now_s, self.refunded_fen(r.payment_id), done
            )
            return done, event

        return self._tx(run)

    def pending_refunds(self, created_before_s: float) -> list[RefundRow]:
        rows = self._conn.execute(
            "SELECT * FROM refunds WHERE status = 'pending' AND created_s <= ? ORDER BY created_s",
            (created_before_s,),
        ).fetchall()
        return [RefundRow(**dict(r)) for r in rows]

    # --- settlement --------------------------------------------------------------------------------------

    def settled_payments(self, start_s: float, end_s: float) -> list[PaymentRow]:
        rows = self._conn.execute(
            "SELECT * FROM payments WHERE status = 'succeeded' AND completed_s >= ? AND completed_s < ?"
            " ORDER BY completed_s, id",
            (start_s, end_s),
        ).fetchall()
        return [PaymentRow(**dict(r)) for r in rows]

    def settled_refunds(self, start_s: float, end_s: float) -> list[tuple[RefundRow, PaymentRow]]:
        rows = self._conn.execute(
            "SELECT * FROM refunds WHERE status = 'succeeded' AND completed_s >= ? AND completed_s < ?"
            " ORDER BY completed_s, id",
            (start_s, end_s),
        ).fetchall()
        out = []
        for r in rows:
            refund = RefundRow(**dict(r))
            out.append((refund, self._payment(refund.payment_id)))
        return out


class SandboxStore:
    """Runs `SandboxDb` methods on one dedicated thread, so SQLite never blocks the event loop."""

    def __init__(self, data_dir: Path | None) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="payment-sandbox-db")
        self._data_dir = data_dir
        self._db: SandboxDb | None = None

    async def open(self) -> None:
        path = None
        if self._data_dir is not None:
            self._data_dir.mkdir(parents=True, exist_ok=True)
            path = self._data_dir / DB_FILE_NAME
        self._db = await asyncio.get_running_loop().run_in_executor(self._executor, SandboxDb, path)

    @property
    def db(self) -> SandboxDb:
        if self._db is None:
            raise RuntimeError("SandboxStore.open() was not awaited")
        return self._db

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(fn, *args, **kwargs)
        )

    async def close(self) -> None:
        if self._db is not None:
            await self.run(self._db.close)
            self._db = None
        self._executor.shutdown(wait=True)
