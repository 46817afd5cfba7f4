"""The audit chain: every edit, deletion, reordering or truncation is found; a forger without the key fails."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from showroom.audit import (
    AuditEntry,
    AuditEvent,
    AuditKeyTooShort,
    ChainHead,
    chain,
    event_document,
    event_from_document,
    verify,
)

KEY = b"k" * 32
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _events(n: int) -> list[AuditEvent]:
    return [AuditEvent(at=T0 + timedelta(seconds=i), actor="alice", role="teller", action="refund_requested",
                       subject=f"order:ord_{i}", before={"status": "paid"},
                       after={"status": "refund_pending", "amount_cny": Decimal("100.50")}, request_id=f"req-{i}")
            for i in range(n)]


def _log(n: int, key: bytes = KEY) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    for event in _events(n):
        head = ChainHead(entries[-1].seq, entries[-1].digest) if entries else None
        entries.append(chain(key, head, event))
    return entries


def _head(entries: list[AuditEntry]) -> ChainHead:
    return ChainHead(entries[-1].seq, entries[-1].digest)


def test_an_untouched_log_verifies() -> None:
    log = _log(5)
    result = verify(KEY, log, _head(log))
    assert result.ok and result.entries == 5
    assert [e.seq for e in log] == [1, 2, 3, 4, 5]


def test_an_edited_amount_is_found_at_its_entry() -> None:
    log = _log(5)
    changed = replace(log[2].event, after={"status": "refund_pending", "amount_cny": "1000.50"})
    log[2] = replace(log[2], event=changed)
    result = verify(KEY, log, _head(log))
    assert not result.ok and result.first_bad_seq == 3
    assert "changed" in (result.problem or "")


def test_a_deleted_entry_is_found() -> None:
    log = _log(5)
    del log[1]
    result = verify(KEY, log, _head(log))
    assert not result.ok and result.first_bad_seq == 2
    assert "missing" in (result.problem or "")


def test_a_truncated_log_is_found_against_the_kept_head() -> None:
    log = _log(5)
    head = _head(log)
    assert verify(KEY, log[:3]).ok  # the chain alone cannot tell
    result = verify(KEY, log[:3], head)
    assert not result.ok and result.first_bad_seq == 4


def test_a_rewritten_chain_without_the_key_does_not_verify() -> None:
    log = _log(4)
    forged = _log(4, key=b"x" * 32)
    assert not verify(KEY, forged).ok
    assert not verify(KEY, log[:2] + forged[2:]).ok


def test_a_head_that_lags_behind_the_log_still_verifies_its_entry() -> None:
    log = _log(4)
    assert verify(KEY, log, ChainHead(2, log[1].digest)).ok
    assert not verify(KEY, log, ChainHead(2, log[2].digest)).ok


def test_events_round_trip_through_their_json_document() -> None:
    event = _events(1)[0]
    doc = event_document(event)
    assert doc["after"]["amount_cny"] == "100.50"
    back = event_from_document(doc)
    assert back.at == event.at and back.subject == event.subject


def test_a_short_key_is_refused() -> None:
    with pytest.raises(AuditKeyTooShort):
        chain(b"short", None, _events(1)[0])
