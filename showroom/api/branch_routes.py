"""Branch routes: the branches and their slots (public), the customer's pick-up (its code once paid, one move) and
advisory appointments (their own token), and the staff side: a day's pick-ups and appointments per branch, the
hand-over against the code and an identity check (FULFIL_ORDERS), branch shelves (VIEW_STOCK) and counting one
(ADJUST_STOCK). Every staff change is audited with the staff member (`services.pickups`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field

from showroom.api.keys import RUNTIME
from showroom.api.requests import (
    EARLIEST_DAY,
    LATEST_DAY,
    BodyModel,
    CustomerBody,
    Id,
    Name,
    parse,
    read_json,
)
from showroom.api.routes import bearer_token, guarded
from showroom.api.schema import BODY_ERRORS, KEY_ERRORS
from showroom.api.staff_routes import StaffCall, staff_route
from showroom.branches import Appointment, AppointmentTopic, Branch, SlotView, local_day
from showroom.http_schema import IDEMPOTENCY_KEY, ORDER_TOKEN, Header, Operation, operation
from showroom.http_schema import Reply as HttpReply
from showroom.pricing import format_cny
from showroom.services import Commerce, appointments, check_key, pickups, run_once
from showroom.services.orders import Customer
from showroom.staff import Permission

BranchId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
Day = Annotated[date, Field(ge=EARLIEST_DAY, le=LATEST_DAY)]
APPOINTMENT_TOKEN = Header("Authorization", "`Bearer <appointment_token>` (answered once by POST /api/appointments); "
                           "a wrong or missing token is answered like an unknown appointment (404)",
                           {"type": "string", "maxLength": 300}, required=False)


class SlotsQuery(BodyModel):
    date: Day | None = None
    """The branch's local day (Asia/Shanghai); default: today there."""
    purpose: Literal["pickup", "advisory"] = "pickup"
    product: Id | None = None
    variant: Id | None = None


class MoveBody(BodyModel):
    slot: AwareDatetime


class AppointmentBody(BodyModel):
    branch: BranchId
    slot: AwareDatetime
    topic: AppointmentTopic
    customer: CustomerBody
    note: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class DayQuery(BodyModel):
    branch: BranchId | None = None
    date: Day | None = None


class HandOverBody(BodyModel):
    branch: BranchId
    code: Annotated[str, Field(min_length=1, max_length=20)]
    id_checked: bool
    """The teller checked the customer's identity document (must be true)."""
    id_name: Name
    """The name on the identity document."""
    id_kind: Literal["resident_id", "passport", "hk_macao_permit", "taiwan_permit", "foreign_permanent_id"] = "resident_id"


class StockQuery(BodyModel):
    branch: BranchId | None = None


class CountBody(BodyModel):
    branch: BranchId
    product: Id
    variant: Id
    on_hand: Annotated[int, Field(strict=True, ge=0, le=100000)]


class LocalText(BaseModel):
    zh: str
    en: str


class BranchReply(BaseModel):
    id: str
    name: LocalText
    city: LocalText
    address: LocalText
    phone: str
    timezone: str
    hours: dict[str, str]
    slot_minutes: int
    pickup_capacity: int
    advisory_capacity: int


class BranchesReply(BaseModel):
    branches: list[BranchReply]


class SlotReply(BaseModel):
    start: str
    end: str
    capacity: int
    left: int
    bookable: bool


class BranchDayReply(BaseModel):
    branch: BranchReply
    date: str
    purpose: str
    available: int | None
    slots: list[SlotReply]


class PickupReply(BaseModel):
    order_id: str
    branch: BranchReply
    slot: str
    slot_end: str
    status: str
    extended: bool
    may_move: bool
    missed_slots: list[str]
    code: str | None


class AppointmentReply(BaseModel):
    id: str
    branch: str
    slot: str
    topic: str
    status: str
    name: str | None
    appointment_token: str | None = None


def _ctx(request: web.Request) -> Commerce:
    return request.app[RUNTIME].commerce


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def branch_view(b: Branch) -> dict[str, Any]:
    return b.document()


def slot_view(s: SlotView) -> dict[str, Any]:
    return {"start": _iso(s.start), "end": _iso(s.end), "capacity": s.capacity, "left": s.left,
            "bookable": s.bookable}


def pickup_view(d: pickups.PickupDetails) -> dict[str, Any]:
    p = d.pickup
    return {"order_id": p.order_id, "branch": branch_view(d.branch), "slot": _iso(p.slot_at),
            "slot_end": _iso(d.branch.slot_end(p.slot_at)), "status": p.status.value, "extended": p.extended,
            "may_move": d.may_move, "missed_slots": [_iso(s) for s in p.missed_slots], "code": d.code}


def appointment_view(a: Appointment, token: str | None = None) -> dict[str, Any]:
    out = {"id": a.id, "branch": a.branch_id, "slot": _iso(a.slot_at), "topic": a.topic.value,
           "status": a.status.value, "name": a.name}
    if token is not None:
        out["appointment_token"] = token
    return out


def _mask(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"


def pickup_line_view(line: pickups.PickupLine) -> dict[str, Any]:
    p, o = line.pickup, line.order
    return {"order_id": o.id, "branch": p.branch_id, "slot": _iso(p.slot_at), "status": p.status.value,
            "extended": p.extended, "customer_name": o.customer.get("name"),
            "phone": _mask(str(o.customer.get("phone", ""))), "product": o.product_id, "variant": o.variant_id,
            "quantity": o.quantity, "order_status": o.status.value, "amount_cny": format_cny(o.amount_fen),
            "handed_over_by": p.handed_over_by,
            "handed_over_at": None if p.handed_over_at is None else _iso(p.handed_over_at)}


# -- public -------------------------------------------------------------------------------------------------------


@operation(Operation("The bank's branches (addresses, opening hours in Asia/Shanghai time, slot capacities)",
                     ("branches",), operation_id="listBranches",
                     replies={200: HttpReply("the branches", BranchesReply)}))
@guarded
async def get_branches(request: web.Request) -> web.Response:
    return web.json_response({"branches": [branch_view(b) for b in await pickups.list_branches(_ctx(request))]})


@operation(Operation("A branch's slots on a day (pick-up or advisory) with places left, and a product's pieces there",
                     ("branches",), operation_id="branchSlots", query=SlotsQuery,
                     replies={200: HttpReply("the day", BranchDayReply)},
                     errors={404: "unknown branch, product or variant", 422: "invalid_input naming the field"}))
@guarded
async def get_slots(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    q = parse(SlotsQuery, dict(request.query))
    day = q.date or local_day(ctx.clock.now())
    got = await pickups.branch_day(ctx, request.match_info["branch_id"], day, q.purpose, q.product, q.variant)
    return web.json_response({"branch": branch_view(got.branch), "date": got.day.isoformat(), "purpose": got.purpose,
                              "available": got.available, "slots": [slot_view(s) for s in got.slots]})


@operation(Operation("The order's branch pick-up: slot, status, and the pick-up code once paid (needs its token)",
                     ("branches",), operation_id="getPickup", headers=(ORDER_TOKEN,),
                     replies={200: HttpReply("the pick-up", PickupReply),
                              204: HttpReply("the order has no pick-up (it is delivered)", media=())},
                     errors={404: "unknown order or a wrong token (answered alike)"}))
@guarded
async def get_pickup(request: web.Request) -> web.Response:
    got = await pickups.customer_pickup(_ctx(request), request.match_info["order_id"], bearer_token(request))
    if got is None:
        return web.Response(status=204)
    return web.json_response(pickup_view(got))


@operation(Operation("Move the pick-up once to a later slot with room (the one extension; needs the order's token)",
                     ("branches",), operation_id="movePickup", headers=(ORDER_TOKEN,), body=MoveBody,
                     replies={200: HttpReply("the pick-up", PickupReply)},
                     errors={404: "unknown order, a wrong token, or no pick-up", 409: "moved before, or the slot "
                             "is full, too soon or not a slot of the branch", **BODY_ERRORS}))
@guarded
async def post_move_pickup(request: web.Request) -> web.Response:
    body = parse(MoveBody, await read_json(request))
    got = await pickups.move_pickup(_ctx(request), request.match_info["order_id"], bearer_token(request), body.slot)
    return web.json_response(pickup_view(got))


@operation(Operation("Book an advisory visit at a branch (the reply carries the appointment's token, once)",
                     ("branches",), operation_id="bookAppointment", body=AppointmentBody, headers=(IDEMPOTENCY_KEY,),
                     replies={201: HttpReply("the appointment and its appointment_token", AppointmentReply)},
                     errors={**KEY_ERRORS, 404: "unknown branch", 409: "the slot is full, too soon or not a slot; or "
                             "this customer holds three visits ahead already (appointment_limit)",
                             **BODY_ERRORS, 503: "the bank's customer-information service cannot answer"}))
@guarded
async def post_appointment(request: web.Request) -> web.Response:
    ctx, raw = _ctx(request), await read_json(request)
    key = check_key(request.headers.get("Idempotency-Key"))
    b = parse(AppointmentBody, raw)
    cmd = appointments.BookAppointment(b.branch, b.slot, b.topic, Customer(b.customer.name, b.customer.phone), b.note)
    status, body = await run_once(ctx, "appointments", key, raw,
                                  lambda claim: appointments.book(ctx, cmd, claim),
                                  lambda booked: (201, appointment_view(booked.appointment, booked.token)))
    return web.json_response(body, status=status)


@operation(Operation("One appointment (needs its token)", ("branches",), operation_id="getAppointment",
                     headers=(APPOINTMENT_TOKEN,), replies={200: HttpReply("the appointment", AppointmentReply)},
                     errors={404: "unknown appointment or a wrong token (answered alike)"}))
@guarded
async def get_appointment(request: web.Request) -> web.Response:
    got = await appointments.get(_ctx(request), request.match_info["appointment_id"], bearer_token(request))
    return web.json_response(appointment_view(got))


@operation(Operation("Cancel an appointment (needs its token); the slot's place goes back", ("branches",),
                     operation_id="cancelAppointment", headers=(APPOINTMENT_TOKEN,),
                     replies={200: HttpReply("the cancelled appointment", AppointmentReply)},
                     errors={404: "unknown appointment or a wrong token", 409: "already cancelled"}))
@guarded
async def post_cancel_appointment(request: web.Request) -> web.Response:
    got = await appointments.cancel(_ctx(request), request.match_info["appointment_id"], bearer_token(request))
    return web.json_response(appointment_view(got))


# -- staff --------------------------------------------------------------------------------------------------------


@staff_route(Permission.VIEW_ORDERS, "A day's pick-ups and advisory appointments (a branch or all)", query=DayQuery,
             errors={404: "unknown branch"})
async def get_staff_pickups(request: web.Request, call: StaffCall) -> web.StreamResponse:
    q = parse(DayQuery, dict(request.query))
    day = q.date or local_day(call.ctx.clock.now())
    lines = await pickups.pickups_on(call.ctx, q.branch, day)
    visits = await appointments.on_day(call.ctx, q.branch, day)
    return web.json_response({"date": day.isoformat(), "branch": q.branch,
                              "pickups": [pickup_line_view(line) for line in lines],
                              "appointments": [appointment_view(a) for a in visits]})


@staff_route(Permission.FULFIL_ORDERS, "Hand over a pick-up: the code and the customer's identity check (audited)",
             changes=True, body=HandOverBody,
             errors={404: "no pick-up waiting at this branch has this code, or unknown branch",
                     409: "the name on the document does not match the order's, or the order is not paid"})
async def post_handover(request: web.Request, call: StaffCall) -> web.StreamResponse:
    b = parse(HandOverBody, await read_json(request))
    line = await pickups.hand_over(call.ctx, pickups.HandOver(b.branch, b.code, b.id_checked, b.id_name, b.id_kind),
                                   call.actor)
    return web.json_response(pickup_line_view(line))


@staff_route(Permission.VIEW_STOCK, "Branch shelves: on hand, reserved and free per product variant", query=StockQuery)
async def get_branch_stock(request: web.Request, call: StaffCall) -> web.StreamResponse:
    q = parse(StockQuery, dict(request.query))
    branches = await pickups.list_branches(call.ctx)
    known = {b.id for b in branches}
    async with call.ctx.uow() as uow:
        shelves = await uow.stock_levels()
    rows = [{"branch": b, "product": p, "variant": v, "on_hand": n, "reserved": r, "free": max(n - r, 0)}
            for b, p, v, n, r in shelves if b in known and (q.branch is None or b == q.branch)]
    return web.json_response({"branches": [branch_view(b) for b in branches], "stock": rows})


@staff_route(Permission.ADJUST_STOCK, "Count a branch shelf: set its on-hand pieces (never below reserved; audited)",
             changes=True, body=CountBody, errors={404: "unknown branch, product or variant",
                                                   409: "fewer than the pieces reserved on the shelf"})
async def put_branch_stock(request: web.Request, call: StaffCall) -> web.StreamResponse:
    b = parse(CountBody, await read_json(request))
    before, now, reserved = await pickups.count_shelf(call.ctx, b.branch, b.product, b.variant, b.on_hand, call.actor)
    return web.json_response({"branch": b.branch, "product": b.product, "variant": b.variant, "before": before,
                              "on_hand": now, "reserved": reserved})


def add_branch_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/branches", get_branches)
    r.add_get("/api/branches/{branch_id}/slots", get_slots)
    r.add_get("/api/orders/{order_id}/pickup", get_pickup)
    r.add_post("/api/orders/{order_id}/pickup/move", post_move_pickup)
    r.add_post("/api/appointments", post_appointment)
    r.add_get("/api/appointments/{appointment_id}", get_appointment)
    r.add_post("/api/appointments/{appointment_id}/cancel", post_cancel_appointment)
    r.add_get("/api/staff/pickups", get_staff_pickups)
    r.add_post("/api/staff/pickups/handover", post_handover)
    r.add_get("/api/staff/branches/stock", get_branch_stock)
    r.add_put("/api/staff/branches/stock", put_branch_stock)
