"""The advisor call queue and console tickets (showroom/advisory.py): FIFO per topic, the longest waiting first
when no topic is named, a dropped customer back at the head, an honest wait estimate; tickets that round-trip and
refuse a tampered payload, a wrong key, an expired or a malformed ticket."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from showroom.advisory import (
    TICKET_TTL_S,
    Advisor,
    Callback,
    CallbackAlreadyDone,
    CallQueue,
    CallRequest,
    TicketInvalid,
    Topic,
    check_call_times,
    check_preferred_at,
    sign_ticket,
    verify_ticket,
)
from showroom.errors import InvalidInput

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
AMY = Advisor("amy", "Amy Wang 王")
NOW_S = 1_800_000_000.0
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def req(call_id: str, topic: Topic = Topic.PRECIOUS_METALS, joined_s: float = 0.0) -> CallRequest:
    return CallRequest(call_id, topic, "zh", "kiosk", "kiosk-1", joined_s)


def test_each_topic_is_served_first_come_first_served() -> None:
    q = CallQueue()
    for i, topic in enumerate([Topic.PRECIOUS_METALS, Topic.CAR_FINANCE, Topic.PRECIOUS_METALS]):
        q.join(req(f"call_{i}", topic, float(i)))
    assert [r.id for r in q.waiting(Topic.PRECIOUS_METALS)] == ["call_0", "call_2"]
    assert q.position("call_2") == 2 and q.position("call_1") == 1
    assert q.take(Topic.PRECIOUS_METALS).id == "call_0"  # type: ignore[union-attr]
    assert q.position("call_2") == 1
    assert q.take(Topic.OTHER) is None


def test_taking_without_a_topic_takes_whoever_has_waited_longest() -> None:
    q = CallQueue()
    q.join(req("call_late", Topic.PRECIOUS_METALS, 10.0))
    q.join(req("call_early", Topic.CAR_FINANCE, 3.0))
    q.join(req("call_mid", Topic.OTHER, 5.0))
    assert [r.id for r in q.waiting()] == ["call_early", "call_mid", "call_late"]
    assert [q.take(None).id for _ in range(3)] == ["call_early", "call_mid", "call_late"]  # type: ignore[union-attr]
    assert q.take(None) is None and q.waiting() == []


def test_a_customer_whose_advisor_dropped_is_back_at_the_head_of_the_topic() -> None:
    q = CallQueue()
    first, second, third = req("call_a", joined_s=1.0), req("call_b", joined_s=2.0), req("call_c", joined_s=3.0)
    for r in (first, second, third):
        q.join(r)
    taken = q.take(Topic.PRECIOUS_METALS)
    assert taken == first and q.position("call_b") == 1
    q.requeue_front(first)
    assert [r.id for r in q.waiting(Topic.PRECIOUS_METALS)] == ["call_a", "call_b", "call_c"]
    assert q.position("call_a") == 1 and q.take(None) == first


def test_leaving_and_taking_by_id() -> None:
    q = CallQueue()
    q.join(req("call_a"))
    q.join(req("call_b", Topic.CAR_FINANCE))
    with pytest.raises(ValueError, match="already waiting"):
        q.join(req("call_a"))
    assert q.take_id("call_b") is not None and q.take_id("call_b") is None
    assert q.leave("call_a") is not None and q.leave("call_a") is None
    assert q.position("call_a") is None


def test_no_wait_estimate_when_no_advisor_is_on_duty() -> None:
    q = CallQueue()
    q.join(req("call_a"))
    assert q.wait_estimate_s("call_a", 0) is None
    assert q.wait_estimate_s("call_missing", 2) is None


def test_the_wait_estimate_is_rounds_ahead_times_the_mean_talk_time_of_the_recent_calls() -> None:
    q = CallQueue(default_handle_s=240.0, history=3)
    for i in range(5):
        q.join(req(f"call_{i}", joined_s=float(i)))
    assert q.wait_estimate_s("call_0", 1) == 240.0  # nothing finished yet: the default
    assert q.wait_estimate_s("call_4", 2) == 3 * 240.0  # position 5, 2 advisors: ceil(5/2) = 3 rounds
    for talk_s in (1000.0, 60.0, 120.0, 180.0):  # only the last 3 count
        q.finished(talk_s)
    assert q.mean_talk_s() == 120.0
    assert q.wait_estimate_s("call_2", 1) == 3 * 120.0
    assert q.wait_estimate_s("call_2", 3) == 120.0
    assert q.wait_estimate_s("call_3", 2) == 2 * 120.0
    q.finished(float("nan"))
    q.finished(-5.0)
    assert q.mean_talk_s() == 120.0


def test_a_ticket_round_trips_and_expires_after_its_ttl() -> None:
    ticket = sign_ticket(KEY, AMY, NOW_S)
    assert verify_ticket(KEY, ticket, NOW_S) == AMY
    assert verify_ticket(KEY, ticket, NOW_S + TICKET_TTL_S - 1) == AMY
    with pytest.raises(TicketInvalid) as exc:
        verify_ticket(KEY, ticket, NOW_S + TICKET_TTL_S)
    assert exc.value.reason == "expired"
    short = sign_ticket(KEY, AMY, NOW_S, ttl_s=10)
    with pytest.raises(TicketInvalid, match="expired"):
        verify_ticket(KEY, short, NOW_S + 11)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_tampered_payload_or_another_key_is_a_bad_signature() -> None:
    ticket = sign_ticket(KEY, AMY, NOW_S)
    payload, signature = ticket.split(".")
    forged = _b64(json.dumps({"n": "boss", "d": "Boss", "exp": int(NOW_S) + 300}).encode())
    for bad in (f"{forged}.{signature}", f"{payload[:-2]}AA.{signature}"):
        with pytest.raises(TicketInvalid) as exc:
            verify_ticket(KEY, bad, NOW_S)
        assert exc.value.reason in ("bad_signature", "malformed")
    with pytest.raises(TicketInvalid) as exc:
        verify_ticket(KEY, f"{forged}.{signature}", NOW_S)
    assert exc.value.reason == "bad_signature"
    with pytest.raises(TicketInvalid) as exc:
        verify_ticket(OTHER_KEY, ticket, NOW_S)
    assert exc.value.reason == "bad_signature"
    assert exc.value.code == "bad_ticket" and isinstance(exc.value, ValueError)


@pytest.mark.parametrize("ticket", ["", "abc", "a.b.c", ".", "abc.", "!!.??", "x" * 3000, "é.é"])
def test_a_malformed_ticket_is_refused_as_malformed(ticket: str) -> None:
    with pytest.raises(TicketInvalid) as exc:
        verify_ticket(KEY, ticket, NOW_S)
    assert exc.value.reason in ("malformed", "bad_signature")
    if "." not in ticket or ticket.count(".") > 1 or len(ticket) > 2048:
        assert exc.value.reason == "malformed"


def test_a_correctly_signed_payload_of_the_wrong_shape_is_malformed() -> None:
    import hashlib
    import hmac

    for doc in (b"[1]", b'{"n": "amy", "d": "Amy", "exp": "soon"}', b'{"n": "", "d": "", "exp": 1}', b"\xff"):
        sig = hmac.new(KEY, doc, hashlib.sha256).digest()
        with pytest.raises(TicketInvalid) as exc:
            verify_ticket(KEY, f"{_b64(doc)}.{_b64(sig)}", NOW_S)
        assert exc.value.reason == "malformed"


def test_a_callback_time_must_be_in_the_next_14_days() -> None:
    check_preferred_at(NOW + timedelta(hours=2), NOW)
    check_preferred_at(NOW - timedelta(minutes=1), NOW)  # "now", filled in a minute ago
    with pytest.raises(InvalidInput, match="preferred_at: is in the past"):
        check_preferred_at(NOW - timedelta(hours=1), NOW)
    with pytest.raises(InvalidInput, match="preferred_at: is more than 14 days ahead"):
        check_preferred_at(NOW + timedelta(days=14, minutes=1), NOW)


def test_call_times_must_make_sense() -> None:
    check_call_times(NOW - timedelta(minutes=5), NOW, NOW)
    with pytest.raises(InvalidInput, match="ended_at: is before started_at"):
        check_call_times(NOW, NOW - timedelta(minutes=1), NOW)
    with pytest.raises(InvalidInput, match="ended_at: is in the future"):
        check_call_times(NOW, NOW + timedelta(hours=1), NOW)
    with pytest.raises(InvalidInput, match="started_at"):
        check_call_times(NOW - timedelta(hours=13), NOW, NOW)


def test_a_callback_is_done_once() -> None:
    cb = Callback("cb_1", Topic.OTHER, "en", "phone", None, "13800000000", None, NOW, NOW)
    done = cb.done("amy", NOW)
    assert done.status.value == "done" and done.done_by == "amy" and done.done_at == NOW
    with pytest.raises(CallbackAlreadyDone):
        done.done("bob", NOW)
