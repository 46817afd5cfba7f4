"""The notification outbox: the `events` table.

Every change of a payment or refund writes its event here in the same transaction as the change (`Outbox.add`
runs inside the caller's transaction), so a notification is never lost across a restart. The notifier delivers
the `pending` ones and records each attempt; an operator can put an event back in the queue.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from showroom.payment_sandbox import errors
from showroom.payment_sandbox.records import EventRow, PaymentRow, RefundRow, new_id


def event_body(
    event_id: str,
    event_type: str,
    p: PaymentRow,
    now_s: float,
    refunded_fen: int,
    refund: RefundRow | None = None,
) -> bytes:
    """The JSON body of a notification (docs/payments.md, "Notifications"), compact UTF-8."""
    data: dict[str, Any] = {
        "payment_id": p.id,
        "order_id": p.order_id,
        "amount_fen": p.amount_fen if refund is None else refund.amount_fen,
        "currency": p.currency,
        "method": p.method,
        "status": p.status if refund is None else refund.status,
        "payment_amount_fen": p.amount_fen,
        "refunded_fen": refunded_fen,
    }
    if refund is not None:
        data["refund_id"] = refund.id
        if refund.failure_code:
            data["failure_code"] = refund.failure_code
    elif p.failure_code:
        data["failure_code"] = p.failure_code
    return json.dumps(
        {"id": event_id, "type": event_type, "created": int(now_s), "data": data}, separators=(",", ":")
    ).encode()


class Outbox:
    """The events of one sandbox database. Used from the store's thread only."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def add(
        self, p: PaymentRow, event_type: str, now_s: float, refunded_fen: int, refund: RefundRow | None = None
    ) -> EventRow:
        """Writes the event of a change of `p` (or of its `refund`); call it inside the change's transaction."""
        event_id = new_id("evt")
        body = event_body(event_id, event_type, p, now_s, refunded_fen, refund)
        self._conn.execute(
            "INSERT INTO events (id, payment_id, type, body, notify_url, created_s, status) VALUES (?,?,?,?,?,?,?)",
            (event_id, p.id, event_type, body, p.notify_url, now_s, "pending"),
        )
        return self.event(event_id)

    def event(self, event_id: str) -> EventRow:
        row = self._conn.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
        if row is None:
            raise errors.PaymentNotFound(f"no event {event_id!r}")
        return EventRow(**dict(row))

    def events_of(self, payment_id: str) -> list[EventRow]:
        rows = self._conn.execute(
            "SELECT * FROM events WHERE payment_id = ? ORDER BY created_s, rowid", (payment_id,)
        ).fetchall()
        return [EventRow(**dict(r)) for r in rows]

    def undelivered(self) -> list[EventRow]:
        rows = self._conn.execute(
            "SELECT * FROM events WHERE status = 'pending' ORDER BY created_s, rowid"
        ).fetchall()
        return [EventRow(**dict(r)) for r in rows]

    def record_attempt(
        self, event_id: str, delivered: bool, error: str | None, now_s: float, give_up: bool
    ) -> None:
        status = "delivered" if delivered else ("abandoned" if give_up else "pending")
        self._conn.execute(
            "UPDATE events SET attempts = attempts + 1, status = ?, last_error = ?,"
            " delivered_s = CASE WHEN ? THEN ? ELSE delivered_s END WHERE id = ?",
            (status, error, delivered, now_s, event_id),
        )

    def reset(self, event_id: str) -> EventRow:
        """Puts an event back in the queue (operator redelivery)."""
        self.event(event_id)
        self._conn.execute("UPDATE events SET status = 'pending' WHERE id = ?", (event_id,))
        return self.event(event_id)
