"""The sandbox's SQLite state: one transaction per change, an outbox event per change, money never over-refunded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from showroom.payment_sandbox import errors
from showroom.payment_sandbox.records import Completion, NewPayment, PaymentRow, RefundRow, request_hash
from showroom.payment_sandbox.store import SandboxDb

T0 = 1_790_000_000.0


def new_payment(amount_fen: int = 100_000, expires_in_s: int = 900) -> NewPayment:
    return NewPayment(
        order_id="ord_1",
        amount_fen=amount_fen,
        currency="CNY",
        method="card",
        description="ring",
        notify_url="http://127.0.0.1:1/notify",
        return_url=None,
        expires_in_s=expires_in_s,
        fee_fen=600,
    )


def render(p: PaymentRow) -> dict[str, Any]:
    return {"payment_id": p.id, "status": p.status}


def render_refund(r: RefundRow, _p: PaymentRow) -> dict[str, Any]:
    return {"refund_id": r.id, "status": r.status, "amount_fen": r.amount_fen}


def paid(db: SandboxDb, amount_fen: int = 100_000) -> str:
    answer = db.create_payment(new_payment(amount_fen), None, "h", T0, render)
    payment_id = str(answer.body["payment_id"])
    db.complete_payment(payment_id, Completion(outcome="approved"), T0 + 1, lambda _p: "approved")
    return payment_id


def test_each_change_of_a_payment_writes_one_outbox_event() -> None:
    db = SandboxDb(None)
    payment_id = paid(db)
    events = db.outbox.events_of(payment_id)
    assert [e.type for e in events] == ["payment.succeeded"]
    assert json.loads(events[0].body)["data"]["status"] == "succeeded"
    with pytest.raises(errors.PaymentNotPending):
        db.complete_payment(payment_id, Completion(outcome="declined"), T0 + 2, lambda _p: "declined")
    assert len(db.outbox.events_of(payment_id)) == 1


def test_a_failed_decision_rolls_back_the_whole_completion() -> None:
    db = SandboxDb(None)
    payment_id = str(db.create_payment(new_payment(), None, "h", T0, render).body["payment_id"])

    def broken(_p: PaymentRow) -> Any:
        raise RuntimeError("issuer exploded")

    with pytest.raises(RuntimeError):
        db.complete_payment(payment_id, Completion(outcome="approved"), T0 + 1, broken)
    assert db.payment(payment_id).status == "pending"
    assert db.outbox.events_of(payment_id) == []


def test_completing_after_expiry_expires_the_payment_instead() -> None:
    db = SandboxDb(None)
    payment_id = str(
        db.create_payment(new_payment(expires_in_s=60), None, "h", T0, render).body["payment_id"]
    )
    row, event = db.complete_payment(
        payment_id, Completion(outcome="approved"), T0 + 61, lambda _p: "approved"
    )
    assert row.status == "expired" and event.type == "payment.expired"
    assert db.expire_due(T0 + 120) == []


def test_idempotency_keys_replay_the_first_answer_and_refuse_another_body() -> None:
    db = SandboxDb(None)
    first = db.create_payment(new_payment(), "k", request_hash({"a": 1}), T0, render)
    again = db.create_payment(new_payment(), "k", request_hash({"a": 1}), T0 + 1, render)
    assert again.replayed and again.body == first.body
    with pytest.raises(errors.IdempotencyKeyReused):
        db.create_payment(new_payment(), "k", request_hash({"a": 2}), T0 + 2, render)
    assert db.purge_idempotency(T0 + 10) == 1
    assert not db.create_payment(new_payment(), "k", request_hash({"a": 2}), T0 + 3, render).replayed


def test_the_state_survives_closing_and_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.sqlite3"
    db = SandboxDb(path)
    payment_id = paid(db)
    db.close()
    reopened = SandboxDb(path)
    assert reopened.payment(payment_id).status == "succeeded"
    assert [e.status for e in reopened.outbox.undelivered()] == ["pending"]


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(min_value=1, max_value=60_000), st.sampled_from(["succeed", "fail", "leave"])),
        min_size=1,
        max_size=12,
    )
)
def test_no_sequence_of_refunds_takes_back_more_than_was_paid(steps: list[tuple[int, str]]) -> None:
    db = SandboxDb(None)
    payment_id = paid(db, 100_000)
    for n, (amount_fen, fate) in enumerate(steps):
        try:
            answer = db.create_refund(payment_id, amount_fen, "r", f"k{n}", "h", T0 + 10 + n, render_refund)
        except errors.RefundExceedsPaid:
            continue
        if fate != "leave":
            db.complete_refund(str(answer.body["refund_id"]), fate == "succeed", T0 + 10 + n)
    refunds = db.refunds_of(payment_id)
    assert sum(r.amount_fen for r in refunds if r.status != "failed") <= 100_000
    succeeded = [r for r in refunds if r.status == "succeeded"]
    assert db.refunded_fen(payment_id) == sum(r.amount_fen for r in succeeded)
    notified = [
        json.loads(e.body)["data"]["refund_id"]
        for e in db.outbox.events_of(payment_id)
        if e.type == "refund.succeeded"
    ]
    assert sorted(notified) == sorted(r.id for r in succeeded)
    db.close()
