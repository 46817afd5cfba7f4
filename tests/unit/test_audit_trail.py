"""The audit trail as the use cases write it: callers that name no actor get the one the event implies, staff
actions carry actor, role and request id, and a chain verified in batches gives the same verdict as at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from showroom.audit import (
    SYSTEM,
    Actor,
    AuditEntry,
    ChainHead,
    Verifier,
    chain,
    legacy_event,
    legacy_view,
    verify,
)

KEY = b"k" * 32
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_order_events_without_an_actor_name_who_acted() -> None:
    assert legacy_event("ord_1", "order_placed", {}, T0, None).actor == "customer"
    assert legacy_event("ord_1", "paid", {}, T0, None).actor == "payment_backend"
    assert legacy_event("ord_1", "automatic_refund", {}, T0, None).actor == "system"
    staff = Actor("tina", "teller", "req-1")
    ev = legacy_event("ord_1", "fulfilling", {"status": "fulfilling"}, T0, staff)
    assert (ev.actor, ev.role, ev.request_id, ev.subject) == ("tina", "teller", "req-1", "order:ord_1")
    view = legacy_view(chain(KEY, None, ev))
    assert view["kind"] == "fulfilling" and view["data"] == {"status": "fulfilling"} and view["seq"] == 1


def _log(n: int) -> list[AuditEntry]:
    out: list[AuditEntry] = []
    for i in range(n):
        head = ChainHead(out[-1].seq, out[-1].digest) if out else None
        out.append(chain(KEY, head, SYSTEM.event(T0 + timedelta(seconds=i), "probe", f"probe:{i}", after={"i": i})))
    return out


def test_a_chain_fed_in_batches_verifies_like_one_read_at_once() -> None:
    log = _log(7)
    head = ChainHead(log[-1].seq, log[-1].digest)
    verifier = Verifier(KEY, head)
    for batch in (log[:3], log[3:6], log[6:]):
        for entry in batch:
            assert verifier.feed(entry) is None
    assert verifier.finish() == verify(KEY, log, head)
    assert verifier.finish().ok and verifier.finish().entries == 7
    short = Verifier(KEY, head)
    for entry in log[:5]:
        short.feed(entry)
    cut = short.finish()
    assert not cut.ok and cut.first_bad_seq == 6
