"""SQL storage of advisors' call-backs and call records (tables `advisor_callbacks` and `advisor_calls`, revision
0009) on the unit of work's connection (`SqlUnitOfWork.advisory`), so a row and its audit entry commit together."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from showroom.adapters import _statements as st
from showroom.adapters import tables as t
from showroom.adapters._rows import utc, utc_req
from showroom.advisory import Callback, CallbackStatus, CallOutcome, CallRecord, Topic
from showroom.errors import NotFound

CB = t.advisor_callbacks
CALLS = t.advisor_calls


def _callback(r: Any) -> Callback:
    return Callback(id=r["id"], topic=Topic(r["topic"]), lang=r["lang"], channel=r["channel"], place=r["place"],
                    phone=r["phone"], name=r["name"], preferred_at=utc_req(r["preferred_at"]),
                    created_at=utc_req(r["created_at"]), status=CallbackStatus(r["status"]), done_by=r["done_by"],
                    done_at=utc(r["done_at"]))


def _record(r: Any) -> CallRecord:
    return CallRecord(id=r["id"], call_id=r["call_id"], topic=Topic(r["topic"]), lang=r["lang"],
                      channel=r["channel"], place=r["place"], advisor=r["advisor"],
                      advisor_display_name=r["advisor_display_name"], started_at=utc_req(r["started_at"]),
                      ended_at=utc_req(r["ended_at"]), notes=r["notes"], outcome=CallOutcome(r["outcome"]),
                      order_id=r["order_id"], recorded_at=utc_req(r["recorded_at"]))


class SqlAdvisory:
    """The advisory rows seen through one open transaction (`conn`); implements `AdvisoryRepository`."""

    def __init__(self, conn: AsyncConnection, is_sqlite: bool) -> None:
        self.conn = conn
        self.is_sqlite = is_sqlite

    async def add_callback(self, callback: Callback) -> None:
        c = callback
        await self.conn.execute(CB.insert().values(
            id=c.id, topic=c.topic.value, lang=c.lang, channel=c.channel, place=c.place, phone=c.phone, name=c.name,
            preferred_at=c.preferred_at, created_at=c.created_at, status=c.status.value, done_by=c.done_by,
            done_at=c.done_at))

    async def get_callback(self, callback_id: str) -> Callback:
        row = (await self.conn.execute(select(CB).where(CB.c.id == callback_id))).mappings().first()
        if row is None:
            raise NotFound(f"no call-back {callback_id[:64]!r}")
        return _callback(row)

    async def mark_callback_done(self, callback_id: str, by: str, at: datetime) -> bool:
        res = await self.conn.execute(
            update(CB).where(and_(CB.c.id == callback_id, CB.c.status == CallbackStatus.OPEN.value))
            .values(status=CallbackStatus.DONE.value, done_by=by, done_at=at))
        return bool(res.rowcount == 1)

    async def callbacks(self, status: CallbackStatus, limit: int) -> list[Callback]:
        order = (CB.c.preferred_at, CB.c.id) if status is CallbackStatus.OPEN else (CB.c.done_at.desc(), CB.c.id)
        rows = await self.conn.execute(select(CB).where(CB.c.status == status.value).order_by(*order).limit(limit))
        return [_callback(r) for r in rows.mappings().all()]

    async def add_call(self, record: CallRecord) -> bool:
        r = record
        values = {"id": r.id, "call_id": r.call_id, "topic": r.topic.value, "lang": r.lang, "channel": r.channel,
                  "place": r.place, "advisor": r.advisor, "advisor_display_name": r.advisor_display_name,
                  "started_at": r.started_at, "ended_at": r.ended_at, "notes": r.notes, "outcome": r.outcome.value,
                  "order_id": r.order_id, "recorded_at": r.recorded_at}
        res = await self.conn.execute(st.insert_new(CALLS, values, ("call_id",)), values)
        return bool(res.rowcount == 1)

    async def calls(self, limit: int) -> list[CallRecord]:
        rows = await self.conn.execute(select(CALLS).order_by(CALLS.c.recorded_at.desc(), CALLS.c.id.desc())
                                       .limit(limit))
        return [_record(r) for r in rows.mappings().all()]
