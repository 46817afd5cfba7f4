"""Advisor routes, commerce side (docs/advisor.md, "Commerce: tickets, call-backs, call records"): the ticket a
signed-in advisor opens an edge node's console socket with, customers' call-backs (public, rate-limited,
Idempotency-Key) and the staff side of them, and the record an advisor writes after each call (the advisor is the
session's). The call itself (queue, signalling, media relay) runs on the edge: `render_node/rtc/`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from showroom.advisory import (
    CALLER_NAME_MAX,
    CHANNELS,
    LANGS,
    NOTES_MAX,
    PLACE_MAX,
    Callback,
    CallbackStatus,
    CallOutcome,
    CallRecord,
    Topic,
)
from showroom.api.keys import RUNTIME
from showroom.api.requests import PHONE_PATTERN, BodyModel, Id, parse, read_json
from showroom.api.routes import guarded
from showroom.api.schema import BODY_ERRORS, KEY_ERRORS
from showroom.api.staff_models import parse_query
from showroom.api.staff_routes import StaffCall, staff_route
from showroom.customers import normalise_mobile
from showroom.errors import InvalidInput
from showroom.http_schema import IDEMPOTENCY_KEY, Operation, operation
from showroom.http_schema import Reply as HttpReply
from showroom.pricing import iso_utc
from showroom.services import Commerce, advisory, check_key, run_once
from showroom.staff import Forbidden, Permission

Place = Annotated[str, Field(min_length=1, max_length=PLACE_MAX, pattern=r"^[A-Za-z0-9_.:\-]+$")]
Lang = Annotated[str, Field(max_length=8, json_schema_extra={"enum": list(LANGS)})]
ChannelName = Annotated[str, Field(max_length=16, json_schema_extra={"enum": list(CHANNELS)})]


class _CallFacts(BodyModel):
    topic: Topic
    lang: Lang
    channel: ChannelName
    place: Place | None = None

    @field_validator("lang")
    @classmethod
    def _lang(cls, value: str) -> str:
        if value not in LANGS:
            raise ValueError(f"must be one of {', '.join(LANGS)}")
        return value

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        if value not in CHANNELS:
            raise ValueError(f"must be one of {', '.join(CHANNELS)}")
        return value


class CallbackBody(_CallFacts):
    phone: Annotated[str, Field(min_length=1, max_length=32, json_schema_extra={"pattern": PHONE_PATTERN})]
    preferred_at: AwareDatetime
    """When the customer would like the call: not in the past, at most 14 days ahead."""
    name: Annotated[str, Field(min_length=1, max_length=CALLER_NAME_MAX)] | None = None

    @field_validator("phone")
    @classmethod
    def _mobile(cls, value: str) -> str:
        if not value.isascii():
            raise ValueError("must be a mainland mobile number (11 digits starting with 1)")
        try:
            return normalise_mobile(value)
        except InvalidInput as exc:
            raise ValueError("must be a mainland mobile number (11 digits starting with 1)") from exc


class CallRecordBody(_CallFacts):
    call_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
    started_at: AwareDatetime
    ended_at: AwareDatetime
    notes: Annotated[str, Field(max_length=NOTES_MAX)] = ""
    outcome: CallOutcome
    order_id: Id | None = None


Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Leg = Literal["customer", "advisor"]


class RecordingReceipt(BaseModel):
    """What the node sealed, as its receipt says (the signature covers exactly these fields)."""

    model_config = ConfigDict(extra="forbid")
    id: Annotated[str, Field(pattern=r"^rec_[0-9a-f]{16}$")]
    call: Annotated[str, Field(pattern=r"^call_[0-9a-f]{16}$")]
    product: Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,64}$")] | None
    advisor: Annotated[str, Field(min_length=1, max_length=64)]
    sha256: dict[Leg, Sha256]
    bytes: dict[Leg, Annotated[int, Field(ge=0)]]
    started_at: Annotated[str, Field(max_length=40)]
    ended_at: Annotated[str, Field(max_length=40)]


class RecordingReceiptBody(BodyModel):
    recording: RecordingReceipt
    sig: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="HMAC-SHA256 (hex) of the recording's "
                                                                      "canonical JSON with the advisor ticket key")]


class CallbacksQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: CallbackStatus = CallbackStatus.OPEN
    limit: Annotated[int, Field(ge=1, le=advisory.MAX_LIST)] = advisory.MAX_LIST


class CallsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, Field(ge=1, le=advisory.MAX_LIST)] = 50


class CallbackCreatedReply(BaseModel):
    id: str
    topic: str
    preferred_at: str
    status: str


def _ctx(request: web.Request) -> Commerce:
    return request.app[RUNTIME].commerce


def _iso(at: datetime | None) -> str | None:
    return iso_utc(at)


def callback_view(cb: Callback) -> dict[str, Any]:
    return {"id": cb.id, "topic": cb.topic.value, "lang": cb.lang, "channel": cb.channel, "place": cb.place,
            "phone": cb.phone, "name": cb.name, "preferred_at": _iso(cb.preferred_at),
            "created_at": _iso(cb.created_at), "status": cb.status.value, "done_by": cb.done_by,
            "done_at": _iso(cb.done_at)}


def call_view(rec: CallRecord) -> dict[str, Any]:
    return {"id": rec.id, "call_id": rec.call_id, "topic": rec.topic.value, "lang": rec.lang,
            "channel": rec.channel, "place": rec.place, "advisor": rec.advisor,
            "advisor_display_name": rec.advisor_display_name, "started_at": _iso(rec.started_at),
            "ended_at": _iso(rec.ended_at), "talk_s": round(rec.talk_s, 1), "notes": rec.notes,
            "outcome": rec.outcome.value, "order_id": rec.order_id, "recorded_at": _iso(rec.recorded_at)}


# -- customer -----------------------------------------------------------------------------------------------------


@operation(Operation("Ask to be called back by an advisor (when none is on duty)", ("advisor",),
                     operation_id="requestCallback", body=CallbackBody, headers=(IDEMPOTENCY_KEY,),
                     replies={201: HttpReply("the call-back request", CallbackCreatedReply)},
                     errors={**KEY_ERRORS, **BODY_ERRORS, 429: "too many requests from this client (rate_limited)"}))
@guarded
async def post_callback(request: web.Request) -> web.Response:
    ctx, raw = _ctx(request), await read_json(request)
    key = check_key(request.headers.get("Idempotency-Key"))
    b = parse(CallbackBody, raw)
    cmd = advisory.RequestCallback(b.topic, b.lang, b.channel, b.place, b.phone, b.preferred_at, b.name)
    status, body = await run_once(ctx, "advisor_callbacks", key, raw,
                                  lambda claim: advisory.request_callback(ctx, cmd, claim),
                                  lambda cb: (201, {"id": cb.id, "topic": cb.topic.value,
                                                    "preferred_at": _iso(cb.preferred_at),
                                                    "status": cb.status.value}))
    return web.json_response(body, status=status)


# -- staff --------------------------------------------------------------------------------------------------------


@staff_route(Permission.ANSWER_CALLS, "A ticket for an edge node's advisor console socket (valid 5 minutes): "
             "`{ticket, expires_at}`", changes=True)
async def post_ticket(request: web.Request, call: StaffCall) -> web.StreamResponse:
    got = advisory.issue_ticket(call.ctx, call.signed_in.member)
    return web.json_response({"ticket": got.ticket, "expires_at": _iso(got.expires_at)})


@staff_route(Permission.ANSWER_CALLS, "Customers' call-backs (open: soonest preferred time first; done: latest "
             "first)", query=CallbacksQuery)
async def get_callbacks(request: web.Request, call: StaffCall) -> web.StreamResponse:
    q = parse_query(CallbacksQuery, request.query)
    found = await advisory.callbacks(call.ctx, q.status, q.limit)
    return web.json_response({"callbacks": [callback_view(cb) for cb in found]})


@staff_route(Permission.ANSWER_CALLS, "Mark a call-back done (audited with the advisor)", changes=True,
             errors={404: "unknown call-back", 409: "already done (callback_done)"})
async def post_callback_done(request: web.Request, call: StaffCall) -> web.StreamResponse:
    done = await advisory.callback_done(call.ctx, request.match_info["callback_id"], call.actor)
    return web.json_response(callback_view(done))


@staff_route(Permission.ANSWER_CALLS, "Record a finished call: notes and outcome (the advisor is the session's; "
             "audited)", changes=True, body=CallRecordBody, idempotent=True, replies={201: "the call record"},
             errors={404: "the order named does not exist", 409: "this call has a record already (call_recorded), "
                     "or the same key is still being answered"})
async def post_call(request: web.Request, call: StaffCall) -> web.StreamResponse:
    key = check_key(request.headers.get("Idempotency-Key"))
    raw = await read_json(request)
    b = parse(CallRecordBody, raw)
    cmd = advisory.RecordCall(b.call_id, b.topic, b.lang, b.channel, b.place, b.started_at, b.ended_at, b.notes,
                              b.outcome, b.order_id)
    member, actor = call.signed_in.member, call.actor
    status, body = await run_once(call.ctx, f"advisor_calls:{member.name}", key, raw,
                                  lambda claim: advisory.record_call(call.ctx, cmd, member, actor, claim),
                                  lambda rec: (201, call_view(rec)))
    return web.json_response(body, status=status)


@staff_route(None, "Recent call records, latest first (advisors, and whoever reads the audit log)",
             query=CallsQuery)
async def get_calls(request: web.Request, call: StaffCall) -> web.StreamResponse:
    member = call.signed_in.member
    if not (member.may(Permission.ANSWER_CALLS) or member.may(Permission.VIEW_AUDIT)):
        raise Forbidden(f"{member.role.value} may not read call records")
    q = parse_query(CallsQuery, request.query)
    found = await advisory.recent_calls(call.ctx, q.limit)
    return web.json_response({"calls": [call_view(rec) for rec in found]})


@staff_route(Permission.ANSWER_CALLS, "Audit a dual recording the edge sealed: its signed receipt (`call_recorded` "
             "with the sha256 of each stored file)", changes=True, body=RecordingReceiptBody,
             replies={201: "the receipt, audited"},
             errors={422: "a bad field, or a signature that is not the node's (bad_receipt)"})
async def post_recording(request: web.Request, call: StaffCall) -> web.StreamResponse:
    raw = await read_json(request)
    parse(RecordingReceiptBody, raw)
    done = await advisory.record_recording(call.ctx, raw["recording"], raw["sig"], call.actor)
    return web.json_response({"recording": done}, status=201)


@staff_route(Permission.VIEW_RECORDINGS, "A ticket for the edge's recordings list and playback (scope `recordings`, "
             "valid 10 minutes): `{ticket, expires_at}`", changes=True)
async def post_recordings_ticket(request: web.Request, call: StaffCall) -> web.StreamResponse:
    got = advisory.issue_recordings_ticket(call.ctx, call.signed_in.member)
    return web.json_response({"ticket": got.ticket, "expires_at": _iso(got.expires_at)})


def add_advisor_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/api/advisor/callbacks", post_callback)
    r.add_post("/api/staff/advisor/ticket", post_ticket)
    r.add_get("/api/staff/advisor/callbacks", get_callbacks)
    r.add_post("/api/staff/advisor/callbacks/{callback_id}/done", post_callback_done)
    r.add_post("/api/staff/advisor/calls", post_call)
    r.add_get("/api/staff/advisor/calls", get_calls)
    r.add_post("/api/staff/advisor/recordings", post_recording)
    r.add_post("/api/staff/recordings/ticket", post_recordings_ticket)
