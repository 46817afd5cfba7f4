"""The staff routes of the bank's loan rate table: `GET /api/staff/loan-rates[?applies_to=]` lists it and
`PUT /api/staff/loan-rates` adds a row (a new decision; rows are never edited), both for roles holding
MANAGE_SETTINGS, the change audited with the staff member. The CLI twin is `showroom rates list|set`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from aiohttp import web
from pydantic import Field

from showroom.api.requests import EARLIEST_DAY, LATEST_DAY, BodyModel, Id, parse, read_json
from showroom.api.staff_routes import StaffCall, staff_route
from showroom.finance import MAX_ANNUAL_RATE, MAX_FEE_CNY, MAX_TERM_MONTHS, MIN_TERM_MONTHS, LoanRate
from showroom.services import finance
from showroom.staff import Permission

Day = Annotated[date, Field(ge=EARLIEST_DAY, le=LATEST_DAY)]
Fee = Annotated[Decimal, Field(ge=0, le=MAX_FEE_CNY, max_digits=9, decimal_places=2, allow_inf_nan=False)]


class LoanRateBody(BodyModel):
    applies_to: Id
    term_months: Annotated[int, Field(strict=True, ge=MIN_TERM_MONTHS, le=MAX_TERM_MONTHS)]
    annual_rate: Annotated[Decimal, Field(ge=0, le=MAX_ANNUAL_RATE, max_digits=7, decimal_places=6,
                                          allow_inf_nan=False)]
    valid_from: Day
    valid_to: Day | None = None
    upfront_fee_cny: Fee = Decimal("0")
    monthly_fee_cny: Fee = Decimal("0")


class RatesQuery(BodyModel):
    applies_to: Id | None = None


@staff_route(Permission.MANAGE_SETTINGS, "The bank's loan rate table", query=RatesQuery)
async def get_loan_rates(request: web.Request, call: StaffCall) -> web.StreamResponse:
    q = parse(RatesQuery, dict(request.query))
    rows = await finance.list_rates(call.ctx, q.applies_to)
    return web.json_response({"rates": [finance.rate_document(r) for r in rows]})


@staff_route(Permission.MANAGE_SETTINGS, "Add a rate-table row (a new decision; rows are never edited)",
             changes=True, body=LoanRateBody, replies={201: "the row"})
async def put_loan_rate(request: web.Request, call: StaffCall) -> web.StreamResponse:
    b = parse(LoanRateBody, await read_json(request))
    rate = LoanRate(b.applies_to, b.term_months, b.annual_rate, b.valid_from, b.valid_to, b.upfront_fee_cny,
                    b.monthly_fee_cny, set_by=call.signed_in.member.name)
    added = await finance.set_rate(call.ctx, rate, call.actor)
    return web.json_response(finance.rate_document(added), status=201)


def add_rate_routes(app: web.Application) -> None:
    app.router.add_get("/api/staff/loan-rates", get_loan_rates)
    app.router.add_put("/api/staff/loan-rates", put_loan_rate)
