"""Buy-back routes (docs/commerce.md, "Buy-back"): the live bid (public), the customer's quote, booking, reading and
cancelling with the buy-back's token, its booking code as a QR image, the payment backend's signed payout
notifications, and the staff side: a branch's day of buy-backs (VIEW_ORDERS), finding one by its code, recording
the inspection that starts the payout and retrying a failed payout (FULFIL_ORDERS, audited with the teller), and
four eyes on payouts above the limit: the waiting list (VIEW_ORDERS), approve and reject (APPROVE_PAYOUT, never
the person who inspected)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field

from showroom.api.branch_routes import APPOINTMENT_TOKEN, BranchId, DayQuery, _mask
from showroom.api.keys import RUNTIME
from showroom.api.requests import BodyModel, CustomerBody, Id, Name, parse, read_json, read_raw
from showroom.api.routes import bearer_token, guarded
from showroom.api.schema import BODY_ERRORS
from showroom.api.staff_models import ApprovalsQuery, RejectBody, parse_query
from showroom.api.staff_routes import StaffCall, staff_route
from showroom.branches import local_day
from showroom.buyback import MAX_PIECES, Buyback, BuybackStatus, Condition, cny
from showroom.certificate_render import qr_png
from showroom.http_schema import Header, Operation, operation
from showroom.http_schema import Reply as HttpReply
from showroom.pricing import iso_utc
from showroom.services import Commerce, buyback_approvals, buyback_payouts, buybacks
from showroom.services.orders import Customer
from showroom.signing import SIGNATURE_HEADER
from showroom.staff import Permission

BUYBACK_TOKEN = Header("Authorization", "`Bearer <buyback_token>` (answered once by POST /api/buybacks/quotes); a "
                       "wrong or missing token is answered like an unknown buy-back (404)",
                       APPOINTMENT_TOKEN.schema, required=False)
Weight = Annotated[Decimal, Field(gt=0, le=Decimal("100000"), max_digits=10, decimal_places=3, allow_inf_nan=False)]


class QuoteBody(BodyModel):
    product: Id
    variant: Id | None = None
    quantity: Annotated[int, Field(strict=True, ge=1, le=MAX_PIECES)] = 1


class BookBody(BodyModel):
    branch: BranchId
    slot: AwareDatetime
    customer: CustomerBody


class PieceBody(BodyModel):
    serial: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    weight_g: Weight
    condition: Condition


class InspectBody(BodyModel):
    branch: BranchId
    code: Annotated[str, Field(min_length=1, max_length=20)]
    id_checked: bool
    id_name: Name
    id_kind: Literal["resident_id", "passport", "hk_macao_permit", "taiwan_permit", "foreign_permanent_id"] = "resident_id"
    pieces: Annotated[list[PieceBody], Field(min_length=1, max_length=MAX_PIECES)]


class CodeQuery(BodyModel):
    branch: BranchId
    code: Annotated[str, Field(min_length=1, max_length=20)]


class BidLineReply(BaseModel):
    product: str
    variant: str
    product_name: dict[str, str]
    name: dict[str, str]
    metal: str
    fineness: str
    weight_g: str
    unit_bid_cny: str


class BidBoardReply(BaseModel):
    bid_cny_per_g: dict[str, str]
    spot_cny_per_g: dict[str, str]
    as_of: str
    source: str
    lines: list[BidLineReply]


class BuybackReply(BaseModel):
    id: str
    status: str
    product: str
    variant: str
    quantity: int
    metal: str
    bid_cny_per_g: str
    unit_quote_cny: str
    quoted_cny: str
    quote_expires_at: str
    lock_until: str | None
    branch: str | None
    slot: str | None
    amount_cny: str
    account_masked: str | None
    """The customer's account of record the payout went to (masked), once known."""
    code: str | None
    buyback_token: str | None = None


class PayoutNoticeReply(BaseModel):
    received: bool
    duplicate: bool


def _ctx(request: web.Request) -> Commerce:
    return request.app[RUNTIME].commerce


def _iso(at: datetime | None) -> str | None:
    return None if at is None else iso_utc(at.astimezone(UTC))


def customer_view(got: buybacks.CustomerBuyback) -> dict[str, Any]:
    """The customer's view; the bank's own second approval of a large payout shows as `accepted`, a rejection
    says whether the inspection or that approval refused it (`rejected_at`)."""
    b = got.buyback
    status = BuybackStatus.ACCEPTED if b.status is BuybackStatus.AWAITING_APPROVAL else b.status
    out: dict[str, Any] = {
        "id": b.id, "status": status.value, "product": b.product_id, "variant": b.variant_id,
        "quantity": b.quantity, "metal": b.metal.value, "bid_cny_per_g": str(b.bid_cny_per_g),
        "unit_quote_cny": str(cny(b.unit_quoted_fen)), "quoted_cny": str(cny(b.quoted_fen)),
        "quote_expires_at": _iso(b.quote_expires_at), "lock_until": _iso(b.lock_until), "branch": b.branch_id,
        "slot": _iso(b.slot_at), "amount_cny": str(cny(b.amount_fen)), "account_masked": b.account_masked,
        "code": got.code}
    if b.status is BuybackStatus.REJECTED:
        # which step said no (the page tells the customer what happened), never the staff's own reasons
        out["rejected_at"] = "approval" if b.rejection_reason == "approval_rejected" else "inspection"
    if got.token is not None:
        out["buyback_token"] = got.token
    return out


def staff_view(b: Buyback) -> dict[str, Any]:
    return {"id": b.id, "status": b.status.value, "branch": b.branch_id, "slot": _iso(b.slot_at),
            "product": b.product_id, "variant": b.variant_id, "quantity": b.quantity, "metal": b.metal.value,
            "fineness": str(b.fineness), "nominal_weight_g": str(b.nominal_weight_g),
            "bid_cny_per_g": str(b.bid_cny_per_g), "quoted_cny": str(cny(b.quoted_fen)),
            "lock_until": _iso(b.lock_ends()), "customer_name": b.customer_name,
            "phone": _mask(b.phone or ""), "pieces": [{**p.document(), "amount_cny": str(cny(p.amount_fen)),
                                                       "deduction_cny": str(cny(p.deduction_fen))}
                                                      for p in b.pieces],
            "amount_cny": str(cny(b.amount_fen)), "rejection_reason": b.rejection_reason,
            "inspected_by": b.inspected_by, "inspected_at": _iso(b.inspected_at), "payout_id": b.payout_id,
            "payout_attempt": b.payout_attempt, "payout_failure": b.payout_failure,
            "account_masked": b.account_masked, "paid_at": _iso(b.paid_at),
            "approval": None if b.approval is None else b.approval.value, "decided_by": b.decided_by,
            "decided_at": _iso(b.decided_at), "decision_reason": b.decision_reason}


# -- customer -----------------------------------------------------------------------------------------------------


@operation(Operation("The bank's live buy-back (bid) prices of its bars and coins (not locked)", ("buyback",),
                     operation_id="buybackPrices", replies={200: HttpReply("the bid board", BidBoardReply)},
                     errors={503: "the price feed has no fresh buy-back price (price_unavailable)"}))
@guarded
async def get_prices(request: web.Request) -> web.Response:
    board = await buybacks.bid_board(_ctx(request))
    s = board.snapshot
    return web.json_response({
        "bid_cny_per_g": {m.value: str(v) for m, v in s.bid_cny_per_g.items()},
        "spot_cny_per_g": {m.value: str(v) for m, v in s.cny_per_g.items()}, "as_of": iso_utc(s.as_of),
        "source": s.source,
        "lines": [{"product": ln.product.id, "variant": ln.variant.id,
                   "product_name": {"zh": ln.product.name.zh, "en": ln.product.name.en},
                   "name": {"zh": ln.variant.name.zh, "en": ln.variant.name.en},
                   "metal": str(ln.variant.purity.metal.value) if ln.variant.purity else "",
                   "fineness": str(ln.variant.purity.fineness) if ln.variant.purity else "",
                   "weight_g": str(ln.variant.weight_g), "unit_bid_cny": str(cny(ln.unit_fen))}
                  for ln in board.lines]})


@operation(Operation("Quote a buy-back: the bid locked for 10 minutes to book (the reply carries its token, once)",
                     ("buyback",), operation_id="quoteBuyback", body=QuoteBody,
                     replies={201: HttpReply("the quote and its buyback_token", BuybackReply)},
                     errors={404: "unknown product or variant", **BODY_ERRORS,
                             503: "no fresh buy-back price (price_unavailable)"}))
@guarded
async def post_quote(request: web.Request) -> web.Response:
    b = parse(QuoteBody, await read_json(request))
    got = await buybacks.quote(_ctx(request), b.product, b.variant, b.quantity)
    return web.json_response(customer_view(got), status=201)


@operation(Operation("One buy-back with its booking code once booked (needs its token)", ("buyback",),
                     operation_id="getBuyback", headers=(BUYBACK_TOKEN,),
                     replies={200: HttpReply("the buy-back", BuybackReply)},
                     errors={404: "unknown buy-back or a wrong token (answered alike)"}))
@guarded
async def get_buyback(request: web.Request) -> web.Response:
    got = await buybacks.get(_ctx(request), request.match_info["buyback_id"], bearer_token(request))
    return web.json_response(customer_view(got), headers={"Cache-Control": "no-store"})


@operation(Operation("Book the inspection at a branch slot (the price stays locked until the slot's end + 30 min)",
                     ("buyback",), operation_id="bookBuyback", headers=(BUYBACK_TOKEN,), body=BookBody,
                     replies={200: HttpReply("the booked buy-back with its code", BuybackReply)},
                     errors={403: "the number has no account at the bank (buyback_needs_account), or the bank "
                             "refuses (customer_refused)", 404: "unknown buy-back, token or branch",
                             409: "the quote expired, the slot is full, too soon or over 72 hours ahead",
                             **BODY_ERRORS, 503: "the customer-information service cannot answer"}))
@guarded
async def post_book(request: web.Request) -> web.Response:
    b = parse(BookBody, await read_json(request))
    cmd = buybacks.BookBuyback(b.branch, b.slot, Customer(b.customer.name, b.customer.phone))
    got = await buybacks.book(_ctx(request), request.match_info["buyback_id"], bearer_token(request), cmd)
    return web.json_response(customer_view(got))


@operation(Operation("Cancel a quoted or booked buy-back (needs its token)", ("buyback",), operation_id="cancelBuyback",
                     headers=(BUYBACK_TOKEN,), replies={200: HttpReply("the cancelled buy-back", BuybackReply)},
                     errors={404: "unknown buy-back or a wrong token", 409: "already inspected, cancelled or expired"}))
@guarded
async def post_cancel(request: web.Request) -> web.Response:
    got = await buybacks.cancel(_ctx(request), request.match_info["buyback_id"], bearer_token(request))
    return web.json_response(customer_view(got))


@operation(Operation("The booking code as a QR image for the teller's scanner (needs its token)", ("buyback",),
                     headers=(BUYBACK_TOKEN,), replies={200: HttpReply("the QR code", media=("image/png",))},
                     errors={404: "unknown buy-back, a wrong token, or not booked"}))
@guarded
async def get_code_qr(request: web.Request) -> web.Response:
    got = await buybacks.get(_ctx(request), request.match_info["buyback_id"], bearer_token(request))
    if got.code is None:
        return web.json_response({"error": {"code": "not_found", "message": "this buy-back has no booking code now"}},
                                 status=404)
    png = await asyncio.to_thread(qr_png, got.code, 360)
    return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "no-store"})


@operation(Operation(
    "Signed payout notification from the payment backend (HMAC-SHA256 over `{t}.{body}`, as payment ones)",
    ("buyback",), body={"type": "object", "description": "the backend's payout event, signed as sent"},
    headers=(Header("X-Signature", "`t=<unix seconds>,v1=<hex HMAC-SHA256>` under the webhook secret"),),
    replies={200: HttpReply("received (duplicate: already recorded)", PayoutNoticeReply)},
    errors={400: "not a notification", 401: "a bad signature or a stale timestamp", 404: "no such payout",
            413: "the body is larger than 64 KiB", 422: "the notification contradicts the buy-back"}))
@guarded
async def post_notify(request: web.Request) -> web.Response:
    raw = await read_raw(request)
    receipt = await buyback_payouts.handle_payout_notice(_ctx(request), raw, request.headers.get(SIGNATURE_HEADER))
    return web.json_response({"received": True, "duplicate": receipt.duplicate})


# -- staff --------------------------------------------------------------------------------------------------------


@staff_route(Permission.VIEW_ORDERS, "A day's buy-back inspections (a branch or all)", query=DayQuery,
             errors={404: "unknown branch"})
async def get_staff_buybacks(request: web.Request, call: StaffCall) -> web.StreamResponse:
    q = parse(DayQuery, dict(request.query))
    day = q.date or local_day(call.ctx.clock.now())
    found = await buybacks.on_day(call.ctx, q.branch, day)
    return web.json_response({"date": day.isoformat(), "branch": q.branch, "buybacks": [staff_view(b) for b in found]})


@staff_route(Permission.VIEW_ORDERS, "The booked buy-back a customer's code names at a branch", query=CodeQuery,
             errors={404: "no buy-back booked at this branch has this code"})
async def get_staff_lookup(request: web.Request, call: StaffCall) -> web.StreamResponse:
    q = parse(CodeQuery, dict(request.query))
    return web.json_response(staff_view(await buybacks.find_by_code(call.ctx, q.branch, q.code)))


@staff_route(Permission.FULFIL_ORDERS, "Record the inspection (identity, each piece's weight, serial, condition); an "
             "accepted buy-back's payout starts (audited)", changes=True, body=InspectBody,
             errors={404: "no buy-back booked at this branch has this code", 409: "the name does not match the "
                     "booking's, or the locked price expired (quote_expired)"})
async def post_inspect(request: web.Request, call: StaffCall) -> web.StreamResponse:
    b = parse(InspectBody, await read_json(request))
    pieces = tuple(buybacks.PresentedPiece(p.serial, p.weight_g, p.condition) for p in b.pieces)
    done = await buybacks.inspect(call.ctx, buybacks.Inspection(b.branch, b.code, b.id_checked, b.id_name, pieces,
                                                                 b.id_kind), call.actor)
    return web.json_response(staff_view(done))


@staff_route(Permission.FULFIL_ORDERS, "Send a buy-back's payout again (an unsent intent, or a new attempt after a "
             "failure; audited)", changes=True, errors={404: "unknown buy-back", 409: "not awaiting a payout"})
async def post_payout(request: web.Request, call: StaffCall) -> web.StreamResponse:
    done = await buyback_payouts.retry_payout(call.ctx, request.match_info["buyback_id"], call.actor)
    return web.json_response(staff_view(done))


@staff_route(Permission.VIEW_ORDERS, "Buy-back payouts under four eyes (default: those waiting for approval), the "
             "latest inspected first", query=ApprovalsQuery)
async def get_staff_approvals(request: web.Request, call: StaffCall) -> web.StreamResponse:
    q = parse_query(ApprovalsQuery, request.query)
    found = await buyback_approvals.list_approvals(call.ctx, q.state, q.limit, q.offset)
    return web.json_response({"buybacks": [staff_view(b) for b in found]})


@staff_route(None, "Approve a buy-back payout above the four-eyes limit: the payout is sent (four eyes)", changes=True,
             errors={403: "the person who inspected it (four_eyes), or no APPROVE_PAYOUT (forbidden)",
                     404: "unknown buy-back", 409: "not waiting for approval (buyback_approval_decided)"})
async def post_approve(request: web.Request, call: StaffCall) -> web.StreamResponse:
    """APPROVE_PAYOUT and not the inspector, checked in the use case (the inspector is told why first)."""
    done = await buyback_approvals.approve(call.ctx, request.match_info["buyback_id"], call.signed_in.member,
                                           call.actor)
    return web.json_response(staff_view(done))


@staff_route(Permission.APPROVE_PAYOUT, "Reject a buy-back payout waiting for approval: the bank does not buy, the "
             "pieces go back (audited)", changes=True, body=RejectBody,
             errors={404: "unknown buy-back", 409: "not waiting for approval (buyback_approval_decided)"})
async def post_reject(request: web.Request, call: StaffCall) -> web.StreamResponse:
    body = parse(RejectBody, await read_json(request))
    done = await buyback_approvals.reject(call.ctx, request.match_info["buyback_id"], call.signed_in.member,
                                          call.actor, body.reason)
    return web.json_response(staff_view(done))


def add_buyback_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/buybacks/prices", get_prices)
    r.add_post("/api/buybacks/quotes", post_quote)
    r.add_post("/api/buybacks/notify", post_notify)
    r.add_get("/api/buybacks/{buyback_id}", get_buyback)
    r.add_post("/api/buybacks/{buyback_id}/book", post_book)
    r.add_post("/api/buybacks/{buyback_id}/cancel", post_cancel)
    r.add_get("/api/buybacks/{buyback_id}/code.png", get_code_qr)
    r.add_get("/api/staff/buybacks", get_staff_buybacks)
    r.add_get("/api/staff/buybacks/lookup", get_staff_lookup)
    r.add_get("/api/staff/buybacks/approvals", get_staff_approvals)
    r.add_post("/api/staff/buybacks/inspect", post_inspect)
    r.add_post("/api/staff/buybacks/{buyback_id}/payout", post_payout)
    r.add_post("/api/staff/buybacks/{buyback_id}/approve", post_approve)
    r.add_post("/api/staff/buybacks/{buyback_id}/reject", post_reject)
