"""Coupons, campaigns and points over HTTP (contract: docs/commerce.md, "Coupons and points").

Customers: `GET /api/campaigns` (public campaigns, one-click claims), `POST /api/coupons/claim` (by campaign id or
code, for the verified holder of the mobile number; this, `mine` and the discounts need the `X-Phone-Proof` of
`POST /api/phone/verify`: `showroom.api.phone_routes`), `POST /api/coupons/mine` (points balance and coupons; the
number goes in the body, not the URL), `POST /api/quotes/{quote_id}/discounts` (the discount lines and the total
after them). The order itself takes `coupon` and `points` (`POST /api/orders`).
Staff (MANAGE_CAMPAIGNS, managers): `GET|POST /api/staff/campaigns`, `POST /api/staff/campaigns/{id}/state`
(`active` approves: not one's own campaign; `rejected`; `disabled`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import Field, model_validator

from showroom.api.keys import RUNTIME
from showroom.api.phone_routes import PHONE_PROOF, proven
from showroom.api.requests import AmountCny, BodyModel, CustomerBody, Id, Name, parse, read_json
from showroom.api.routes import guarded
from showroom.api.schema import BODY_ERRORS
from showroom.api.staff_routes import StaffCall, staff_route
from showroom.campaigns import Campaign, CampaignKind, CampaignState, Coupon, Discounts, line_dict
from showroom.catalog import ProductKind
from showroom.http_schema import Operation, operation
from showroom.http_schema import Reply as HttpReply
from showroom.pricing import format_cny, iso_utc, to_fen
from showroom.services import Commerce
from showroom.services import campaigns as svc
from showroom.staff import Permission

MAX_POINTS = 100_000_000
Points = Annotated[int, Field(strict=True, ge=0, le=MAX_POINTS)]
CouponRef = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\- ]+$")]
_ANY: dict[str, Any] = {"type": "object", "description": "docs/commerce.md, \"Coupons and points\", has the shape"}


class PhoneBody(BodyModel):
    customer: CustomerBody


class ClaimBody(BodyModel):
    customer: CustomerBody
    campaign_id: Id | None = None
    code: CouponRef | None = None

    @model_validator(mode="after")
    def _one(self) -> ClaimBody:
        if (self.campaign_id is None) == (self.code is None):
            raise ValueError("give campaign_id or code (one of them)")
        return self


class DiscountsBody(BodyModel):
    customer: CustomerBody
    coupon: CouponRef | None = None
    points: Points = 0


class CampaignBody(BodyModel):
    name: Name
    kind: CampaignKind
    budget_cny: AmountCny
    per_customer_limit: Annotated[int, Field(strict=True, ge=1, le=100)] = 1
    starts_at: datetime
    ends_at: datetime
    amount_off_cny: AmountCny | None = None
    percent: Annotated[Decimal, Field(gt=0, lt=100, max_digits=5, decimal_places=2, allow_inf_nan=False)] | None = None
    cap_cny: AmountCny | None = None
    ecny_only: bool = False
    public: bool = False
    min_spend_cny: Annotated[Decimal, Field(ge=0, le=Decimal("10000000"), max_digits=12, decimal_places=2,
                                            allow_inf_nan=False)] = Decimal(0)
    product_ids: Annotated[tuple[Id, ...], Field(max_length=50)] = ()
    kinds: Annotated[tuple[ProductKind, ...], Field(max_length=10)] = ()

    @model_validator(mode="after")
    def _times(self) -> CampaignBody:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("starts_at and ends_at need a time zone (e.g. 2026-12-01T00:00:00+08:00)")
        return self


class CampaignStateBody(BodyModel):
    state: Literal["active", "rejected", "disabled"]


def _ctx(request: web.Request) -> Commerce:
    return request.app[RUNTIME].commerce


def campaign_view(c: Campaign, *, staff: bool = False, redeemed_fen: int | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": c.id, "name": c.name, "kind": c.kind.value, "ecny_only": c.ecny_only,
        "amount_off_cny": format_cny(c.amount_off_fen) if c.kind is CampaignKind.AMOUNT_OFF else None,
        "percent": str(c.percent) if c.kind is CampaignKind.PERCENT_OFF else None,
        "cap_cny": format_cny(c.cap_fen) if c.kind is CampaignKind.PERCENT_OFF else None,
        "min_spend_cny": format_cny(c.min_spend_fen), "product_ids": list(c.product_ids), "kinds": list(c.kinds),
        "starts_at": iso_utc(c.starts_at), "ends_at": iso_utc(c.ends_at), "public": c.public,
    }
    if staff:
        view.update(code=c.code, state=c.state.value, budget_cny=format_cny(c.budget_fen),
                    remaining_cny=format_cny(c.remaining_fen), per_customer_limit=c.per_customer_limit,
                    created_by=c.created_by, created_at=iso_utc(c.created_at), decided_by=c.decided_by,
                    decided_at=iso_utc(c.decided_at))
        if redeemed_fen is not None:
            view["redeemed_cny"] = format_cny(redeemed_fen)
    return view


def coupon_view(cp: Coupon, c: Campaign) -> dict[str, Any]:
    return {"coupon_id": cp.id, "state": cp.state.value, "worth_up_to_cny": format_cny(cp.reserved_fen),
            "claimed_at": iso_utc(cp.claimed_at), "campaign": campaign_view(c)}


def discounts_view(quote_id: str, d: Discounts) -> dict[str, Any]:
    return {"quote_id": quote_id, "currency": "CNY", "total_cny": format_cny(d.total_fen),
            "lines": [line_dict(line) for line in d.lines], "discount_cny": format_cny(d.discount_fen),
            "payable_cny": format_cny(d.payable_fen), "ecny_only": d.ecny_only, "points_balance": d.points_balance}


_CUSTOMER_ERRORS = {401: "phone_proof_required, phone_proof_invalid or phone_proof_expired (X-Phone-Proof)",
                    403: "customer_refused, or phone_proof_mismatch (the proof is for another number)",
                    503: "the bank's customer-information service cannot answer"}


@operation(Operation("Public campaigns now running (one-click claims)", ("campaigns",),
                     replies={200: HttpReply("the campaigns", _ANY)}))
@guarded
async def get_campaigns(request: web.Request) -> web.Response:
    return web.json_response({"campaigns": [campaign_view(c) for c in await svc.public_campaigns(_ctx(request))]})


@operation(Operation(
    "Claim a coupon (a public campaign by id, any running one by code) for the verified customer",
    ("campaigns",), body=ClaimBody, headers=(PHONE_PROOF,), replies={201: HttpReply("the coupon", _ANY)},
    errors={404: "no such campaign (or not public)", 409: "campaign_not_active, campaign_exhausted or "
            "claim_limit_reached", **BODY_ERRORS, **_CUSTOMER_ERRORS}))
@guarded
async def post_claim(request: web.Request) -> web.Response:
    b = parse(ClaimBody, await read_json(request))
    await proven(request, b.customer.phone)
    claimed = await svc.claim(_ctx(request), b.customer.phone, campaign_id=b.campaign_id, code=b.code)
    return web.json_response(coupon_view(claimed.coupon, claimed.campaign), status=201)


@operation(Operation("The verified customer's points balance and available coupons", ("campaigns",),
                     body=PhoneBody, headers=(PHONE_PROOF,), replies={200: HttpReply("points and coupons", _ANY)},
                     errors={**BODY_ERRORS, **_CUSTOMER_ERRORS}))
@guarded
async def post_mine(request: web.Request) -> web.Response:
    b = parse(PhoneBody, await read_json(request))
    await proven(request, b.customer.phone)
    balance, coupons = await svc.my_coupons(_ctx(request), b.customer.phone)
    return web.json_response({"points_balance": balance, "points_per_cny": svc.rules(_ctx(request)).points_per_cny,
                              "coupons": [coupon_view(cp, c) for cp, c in coupons]})


@operation(Operation(
    "The discount lines of a quote (one coupon at most, then points) and the total after them", ("campaigns",),
    body=DiscountsBody, headers=(PHONE_PROOF,), replies={200: HttpReply("the lines", _ANY)},
    errors={404: "unknown quote", 409: "quote expired, not_enough_points, campaign exhausted or limit reached",
            **BODY_ERRORS, **_CUSTOMER_ERRORS}))
@guarded
async def post_discounts(request: web.Request) -> web.Response:
    b = parse(DiscountsBody, await read_json(request))
    await proven(request, b.customer.phone)
    quote_id = request.match_info["quote_id"]
    found = await svc.preview(_ctx(request), quote_id, b.customer.phone, b.coupon, b.points)
    return web.json_response(discounts_view(quote_id, found))


# -- staff ---------------------------------------------------------------------------------------------------


@staff_route(Permission.MANAGE_CAMPAIGNS, "Campaigns with their remaining budget")
async def get_staff_campaigns(request: web.Request, call: StaffCall) -> web.StreamResponse:
    rows = await svc.list_campaigns(call.ctx, call.signed_in.member)
    return web.json_response({"campaigns": [campaign_view(r.campaign, staff=True, redeemed_fen=r.redeemed_fen)
                                            for r in rows]})


@staff_route(Permission.MANAGE_CAMPAIGNS, "Create a campaign (waits for a second manager's approval)",
             changes=True, body=CampaignBody, replies={201: "the campaign"},
             errors={404: "unknown product"})
async def post_staff_campaign(request: web.Request, call: StaffCall) -> web.StreamResponse:
    b = parse(CampaignBody, await read_json(request))
    cmd = svc.NewCampaign(
        name=b.name, kind=b.kind, budget_fen=to_fen(b.budget_cny), per_customer_limit=b.per_customer_limit,
        starts_at=b.starts_at, ends_at=b.ends_at,
        amount_off_fen=0 if b.amount_off_cny is None else to_fen(b.amount_off_cny),
        percent=b.percent or Decimal(0), cap_fen=0 if b.cap_cny is None else to_fen(b.cap_cny),
        ecny_only=b.ecny_only, public=b.public, min_spend_fen=to_fen(b.min_spend_cny),
        product_ids=tuple(b.product_ids), kinds=tuple(k.value for k in b.kinds))
    created = await svc.create_campaign(call.ctx, cmd, call.signed_in.member, call.actor)
    return web.json_response(campaign_view(created, staff=True, redeemed_fen=0), status=201)


@staff_route(Permission.MANAGE_CAMPAIGNS, "Approve (not one's own), reject or disable a campaign", changes=True,
             body=CampaignStateBody, errors={404: "unknown campaign", 409: "campaign_decided"})
async def post_staff_campaign_state(request: web.Request, call: StaffCall) -> web.StreamResponse:
    b = parse(CampaignStateBody, await read_json(request))
    decided = await svc.decide_campaign(call.ctx, request.match_info["campaign_id"], CampaignState(b.state),
                                        call.signed_in.member, call.actor)
    return web.json_response(campaign_view(decided, staff=True))


def add_campaign_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/campaigns", get_campaigns)
    r.add_post("/api/coupons/claim", post_claim)
    r.add_post("/api/coupons/mine", post_mine)
    r.add_post("/api/quotes/{quote_id}/discounts", post_discounts)
    r.add_get("/api/staff/campaigns", get_staff_campaigns)
    r.add_post("/api/staff/campaigns", post_staff_campaign)
    r.add_post("/api/staff/campaigns/{campaign_id}/state", post_staff_campaign_state)
