"""Advisors, commerce side: the console ticket an edge node lets an advisor in with, customers' call-backs (left
when no advisor is on duty) and the record an advisor writes after each call. Every change is audited in its own
transaction: `callback_requested` (the customer), `callback_done` and `advisor_call` (the advisor, named by their
staff session, never by a request body)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from showroom.advisory import (
    RECORDINGS_TICKET_TTL_S,
    TICKET_TTL_S,
    Advisor,
    CallAlreadyRecorded,
    Callback,
    CallbackAlreadyDone,
    CallbackStatus,
    CallOutcome,
    CallRecord,
    Topic,
    check_call_times,
    check_preferred_at,
    sign_ticket,
    verify_receipt,
)
from showroom.advisory_ports import AdvisoryRepository
from showroom.audit import CUSTOMER, Actor
from showroom.errors import ShowroomError
from showroom.orders import new_id
from showroom.ports import UnitOfWork
from showroom.services._idempotency import Claim
from showroom.services._uow import Commerce, Outcome, transact
from showroom.staff import StaffMember

MAX_LIST = 200


def repo(uow: UnitOfWork) -> AdvisoryRepository:
    """The unit of work's advisory rows (`uow.advisory`)."""
    found = getattr(uow, "advisory", None)
    if found is None:
        raise TypeError("this unit of work keeps no advisory rows")
    return cast(AdvisoryRepository, found)


def callback_subject(callback_id: str) -> str:
    return f"callback:{callback_id}"


def call_subject(call_id: str) -> str:
    return f"call:{call_id}"


# -- the console ticket -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ticket:
    ticket: str
    expires_at: datetime


def issue_ticket(ctx: Commerce, member: StaffMember, now_s: float | None = None) -> Ticket:
    """A ticket naming `member` for an edge node's advisor console (`/ws/advisor/console`), valid
    `TICKET_TTL_S`. Wall-clock seconds, as the edge that verifies it uses."""
    now_s = time.time() if now_s is None else now_s
    advisor = Advisor(member.name, member.display_name or member.name)
    ticket = sign_ticket(ctx.settings.advisor_ticket_key, advisor, now_s, TICKET_TTL_S)
    return Ticket(ticket, datetime.fromtimestamp(int(now_s + TICKET_TTL_S), UTC))


def issue_recordings_ticket(ctx: Commerce, member: StaffMember, now_s: float | None = None) -> Ticket:
    """A ticket of scope `recordings` for an auditor (`view_recordings`): the edge's recordings list and playback,
    valid `RECORDINGS_TICKET_TTL_S`. It opens no console socket."""
    now_s = time.time() if now_s is None else now_s
    viewer = Advisor(member.name, member.display_name or member.name)
    ticket = sign_ticket(ctx.settings.advisor_ticket_key, viewer, now_s, RECORDINGS_TICKET_TTL_S, scope="recordings")
    return Ticket(ticket, datetime.fromtimestamp(int(now_s + RECORDINGS_TICKET_TTL_S), UTC))


class ReceiptInvalid(ShowroomError):
    """A recording receipt whose signature is not the node's (or that was changed)."""

    code = "bad_receipt"
    http_status = 422


def recording_subject(recording_id: str) -> str:
    return f"recording:{recording_id}"


async def record_recording(ctx: Commerce, recording: dict[str, Any], sig: str, actor: Actor) -> dict[str, Any]:
    """Audits a dual recording the node sealed (`call_recorded`, with the hashes of the stored files), on the word
    of its receipt only when the node's signature (the advisor ticket key) verifies."""
    if not verify_receipt(ctx.settings.advisor_ticket_key, recording, sig):
        raise ReceiptInvalid("sig: the receipt is not signed by the node (or was changed)")

    async def work(uow: UnitOfWork, _out: Outcome) -> dict[str, Any]:
        now = ctx.clock.now()
        await uow.append_audit(actor.event(now, "call_recorded", recording_subject(str(recording["id"])),
                                           after={"call": recording.get("call"),
                                                  "product": recording.get("product"),
                                                  "advisor": recording.get("advisor"),
                                                  "sha256": recording.get("sha256"),
                                                  "bytes": recording.get("bytes"),
                                                  "started_at": recording.get("started_at"),
                                                  "ended_at": recording.get("ended_at")}))
        return recording

    done, _ = await transact(ctx, work)
    return done


# -- call-backs ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestCallback:
    topic: Topic
    lang: str
    channel: str
    place: str | None
    phone: str
    preferred_at: datetime
    name: str | None = None


async def request_callback(ctx: Commerce, cmd: RequestCallback, claim: Claim[Callback] | None = None) -> Callback:
    """Stores the customer's call-back request (the answer stored with it for its Idempotency-Key)."""
    preferred_at = cmd.preferred_at.astimezone(UTC)
    check_preferred_at(preferred_at, ctx.clock.now())

    async def work(uow: UnitOfWork, _out: Outcome) -> Callback:
        now = ctx.clock.now()
        callback = Callback(id=new_id("cb"), topic=cmd.topic, lang=cmd.lang, channel=cmd.channel, place=cmd.place,
                            phone=cmd.phone, name=cmd.name, preferred_at=preferred_at, created_at=now)
        await repo(uow).add_callback(callback)
        await uow.append_audit(CUSTOMER.event(now, "callback_requested", callback_subject(callback.id),
                                              after={"topic": cmd.topic.value, "lang": cmd.lang,
                                                     "channel": cmd.channel, "place": cmd.place,
                                                     "preferred_at": preferred_at.isoformat()}))
        if claim is not None:
            await claim.finish(uow, callback)
        return callback

    callback, _ = await transact(ctx, work)
    return callback


async def callbacks(ctx: Commerce, status: CallbackStatus, limit: int = MAX_LIST) -> list[Callback]:
    async with ctx.uow() as uow:
        return await repo(uow).callbacks(status, max(1, min(limit, MAX_LIST)))


async def callback_done(ctx: Commerce, callback_id: str, actor: Actor) -> Callback:
    """The advisor called the customer back (one advisor wins; a second is told `callback_done`, 409)."""
    async def work(uow: UnitOfWork, _out: Outcome) -> Callback:
        now = ctx.clock.now()
        advisory = repo(uow)
        found = await advisory.get_callback(callback_id)
        done = found.done(actor.name, now)
        if not await advisory.mark_callback_done(found.id, actor.name, now):
            raise CallbackAlreadyDone(f"call-back {found.id} was done meanwhile")
        await uow.append_audit(actor.event(now, "callback_done", callback_subject(found.id),
                                           before={"status": found.status.value},
                                           after={"status": done.status.value}))
        return done

    done, _ = await transact(ctx, work)
    return done


# -- call records -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordCall:
    call_id: str
    topic: Topic
    lang: str
    channel: str
    place: str | None
    started_at: datetime
    ended_at: datetime
    notes: str
    outcome: CallOutcome
    order_id: str | None = None


async def record_call(ctx: Commerce, cmd: RecordCall, member: StaffMember, actor: Actor,
                      claim: Claim[CallRecord] | None = None) -> CallRecord:
    """Stores the advisor's record of a call: the advisor is `member` (the session's), one record per call
    (`call_recorded`, 409); an order named must exist (404)."""
    started, ended = cmd.started_at.astimezone(UTC), cmd.ended_at.astimezone(UTC)
    check_call_times(started, ended, ctx.clock.now())

    async def work(uow: UnitOfWork, _out: Outcome) -> CallRecord:
        now = ctx.clock.now()
        if cmd.order_id is not None:
            await uow.get_order(cmd.order_id)
        record = CallRecord(id=new_id("acr"), call_id=cmd.call_id, topic=cmd.topic, lang=cmd.lang,
                            channel=cmd.channel, place=cmd.place, advisor=member.name,
                            advisor_display_name=member.display_name or member.name, started_at=started,
                            ended_at=ended, notes=cmd.notes, outcome=cmd.outcome, order_id=cmd.order_id,
                            recorded_at=now)
        if not await repo(uow).add_call(record):
            raise CallAlreadyRecorded(f"call {cmd.call_id} has a record already")
        await uow.append_audit(actor.event(now, "advisor_call", call_subject(cmd.call_id),
                                           after={"record": record.id, "topic": cmd.topic.value, "lang": cmd.lang,
                                                  "channel": cmd.channel, "place": cmd.place,
                                                  "outcome": cmd.outcome.value, "order": cmd.order_id,
                                                  "talk_s": round(record.talk_s, 1)}))
        if claim is not None:
            await claim.finish(uow, record)
        return record

    record, _ = await transact(ctx, work)
    return record


async def recent_calls(ctx: Commerce, limit: int = 50) -> list[CallRecord]:
    async with ctx.uow() as uow:
        return await repo(uow).calls(max(1, min(limit, MAX_LIST)))
