"""Advisors' call-backs and call records on a real database (SQLite and PostgreSQL), through the use cases: a
call-back stored and listed (open soonest first, done latest first) and done once even when two advisors press
"done" together; a call record per call, with the advisor from the session; each step audited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from showroom.advisory import CallAlreadyRecorded, CallbackAlreadyDone, CallbackStatus, CallOutcome, Topic
from showroom.audit import Actor
from showroom.errors import NotFound
from showroom.orders import OrderNotFound
from showroom.services import advisory
from showroom.staff import Role, StaffMember
from tests.integration.commerce_db import DB_KINDS, CommerceParts, commerce_on

pytestmark = pytest.mark.asyncio
AMY = StaffMember("amy", Role.ADVISOR, "Amy Wang")
AMY_ACTOR = Actor("amy", "advisor", "req-1")
BOB_ACTOR = Actor("bob", "advisor", "req-2")


@pytest_asyncio.fixture(params=DB_KINDS)
async def parts(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CommerceParts]:
    async with commerce_on(request.param, tmp_path) as p:
        yield p


def _callback(parts: CommerceParts, hours: float, phone: str = "13800000000") -> advisory.RequestCallback:
    return advisory.RequestCallback(Topic.CAR_FINANCE, "zh", "kiosk", "kiosk-3", phone,
                                    parts.clock.now() + timedelta(hours=hours), "王芳")


async def _audit(parts: CommerceParts, subject: str) -> list[tuple[str, str]]:
    async with parts.ctx.uow() as uow:
        entries = await uow.audit_entries(subject=subject, limit=10, offset=0)
    return [(e.event.action, e.event.actor) for e in entries]


async def test_callbacks_are_stored_listed_and_done_once(parts: CommerceParts) -> None:
    later = await advisory.request_callback(parts.ctx, _callback(parts, 30))
    sooner = await advisory.request_callback(parts.ctx, _callback(parts, 2, "13900000000"))
    open_now = await advisory.callbacks(parts.ctx, CallbackStatus.OPEN)
    assert [c.id for c in open_now] == [sooner.id, later.id]
    got = open_now[1]
    assert (got.topic, got.lang, got.channel, got.place, got.phone, got.name) == \
        (Topic.CAR_FINANCE, "zh", "kiosk", "kiosk-3", "13800000000", "王芳")
    assert got.preferred_at == later.preferred_at and got.created_at == parts.clock.now()
    assert got.preferred_at.tzinfo is not None and got.status is CallbackStatus.OPEN

    parts.clock.advance(60)
    done = await advisory.callback_done(parts.ctx, later.id, AMY_ACTOR)
    assert done.status is CallbackStatus.DONE and done.done_by == "amy" and done.done_at == parts.clock.now()
    with pytest.raises(CallbackAlreadyDone):
        await advisory.callback_done(parts.ctx, later.id, BOB_ACTOR)
    with pytest.raises(NotFound):
        await advisory.callback_done(parts.ctx, "cb_missing", AMY_ACTOR)
    assert [c.id for c in await advisory.callbacks(parts.ctx, CallbackStatus.OPEN)] == [sooner.id]
    done_list = await advisory.callbacks(parts.ctx, CallbackStatus.DONE)
    assert [(c.id, c.done_by) for c in done_list] == [(later.id, "amy")]
    assert sorted(await _audit(parts, f"callback:{later.id}")) == [("callback_done", "amy"),
                                                                   ("callback_requested", "customer")]


async def test_two_advisors_marking_one_callback_done_together_make_one_done(parts: CommerceParts) -> None:
    cb = await advisory.request_callback(parts.ctx, _callback(parts, 1))
    results = await asyncio.gather(advisory.callback_done(parts.ctx, cb.id, AMY_ACTOR),
                                   advisory.callback_done(parts.ctx, cb.id, BOB_ACTOR), return_exceptions=True)
    wins = [r for r in results if not isinstance(r, BaseException)]
    losses = [r for r in results if isinstance(r, BaseException)]
    assert len(wins) == 1 and len(losses) == 1 and isinstance(losses[0], CallbackAlreadyDone), results
    assert [a for a, _ in await _audit(parts, f"callback:{cb.id}")].count("callback_done") == 1


def _record(parts: CommerceParts, call_id: str, order_id: str | None = None) -> advisory.RecordCall:
    now = parts.clock.now()
    return advisory.RecordCall(call_id, Topic.PRECIOUS_METALS, "en", "vr", None, now - timedelta(minutes=7),
                               now - timedelta(minutes=1), "wants the 50 g bar next week", CallOutcome.QUOTE_OFFERED,
                               order_id)


async def test_a_call_is_recorded_once_with_the_advisor_from_the_session(parts: CommerceParts) -> None:
    first = await advisory.record_call(parts.ctx, _record(parts, "call_0123456789abcdef"), AMY, AMY_ACTOR)
    assert first.advisor == "amy" and first.advisor_display_name == "Amy Wang" and first.talk_s == 360.0
    with pytest.raises(CallAlreadyRecorded):
        await advisory.record_call(parts.ctx, _record(parts, "call_0123456789abcdef"), AMY, AMY_ACTOR)
    with pytest.raises(OrderNotFound):
        await advisory.record_call(parts.ctx, _record(parts, "call_other", "ord_missing"), AMY, AMY_ACTOR)
    parts.clock.advance(5)
    second = await advisory.record_call(parts.ctx, _record(parts, "call_second"), AMY, AMY_ACTOR)
    recent = await advisory.recent_calls(parts.ctx, 10)
    assert [r.id for r in recent] == [second.id, first.id]
    got = recent[1]
    assert (got.call_id, got.topic, got.lang, got.channel, got.place, got.notes, got.outcome) == \
        ("call_0123456789abcdef", Topic.PRECIOUS_METALS, "en", "vr", None, "wants the 50 g bar next week",
         CallOutcome.QUOTE_OFFERED)
    assert got.started_at == first.started_at and got.recorded_at == first.recorded_at
    assert [r.id for r in await advisory.recent_calls(parts.ctx, 1)] == [second.id]
    assert await _audit(parts, "call:call_0123456789abcdef") == [("advisor_call", "amy")]
