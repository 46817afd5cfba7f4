"""The staff routes (thin): every one checks the staff session (cookie `showroom_staff`: 401 `unauthenticated`),
the CSRF token on state-changing requests (header `X-CSRF-Token`: 403 `csrf`) and the role's permission (403
`forbidden`), parses its input with a pydantic model (422 `invalid_input` naming the field), calls a use case and
shapes the JSON. Every reply carries `X-Request-Id` (the client's when it sent a sane one, else a new one); the
audit trail records it with the actor.

Contract: docs/commerce.md, "Staff".
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from showroom.api import staff_views as sv
from showroom.api.keys import RUNTIME, STAFF_DIRECTORY
from showroom.api.requests import day as parse_day
from showroom.api.requests import read_json
from showroom.api.staff_models import (
    AccountPatchBody,
    ApprovalsQuery,
    AuditQuery,
    DayPath,
    FulfilmentBody,
    NewAccountBody,
    OrdersQuery,
    PasswordBody,
    RefundBody,
    RejectBody,
    SignInBody,
    parse,
    parse_query,
)
from showroom.api.unavailable import database_unavailable, unavailable_reply
from showroom.api.views import refund_view
from showroom.audit import Actor
from showroom.errors import InvalidInput, ShowroomError
from showroom.http_schema import (
    CSRF_TOKEN,
    IDEMPOTENCY_KEY,
    REQUEST_ID,
    STAFF_SESSION,
    Operation,
    operation,
)
from showroom.http_schema import Reply as HttpReply
from showroom.identity import Passwords, SignInAttempt, StaffDirectory
from showroom.orders import Refund
from showroom.pricing import to_fen
from showroom.services import (
    Commerce,
    Reply,
    backoffice,
    check_key,
    orders,
    reconciliation,
    refunds,
    run_once,
)
from showroom.services import audit as audit_service
from showroom.services import staff as staff_service
from showroom.services.staff import SESSIONS, LocalStaffDirectory, SignedIn
from showroom.staff import Permission, RefundApproval, require

log = logging.getLogger("showroom.api.staff")

STAFF_COOKIE = "showroom_staff"
CSRF_HEADER = "X-CSRF-Token"
REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class StaffCall:
    """What a staff handler gets: the commerce context, the signed-in member and the actor for the audit."""

    ctx: Commerce
    signed_in: SignedIn
    request_id: str

    @property
    def actor(self) -> Actor:
        return self.signed_in.actor(self.request_id)


StaffHandler = Callable[[web.Request, StaffCall], Awaitable[web.StreamResponse]]


def request_id(request: web.Request) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def _error(code: str, message: str, status: int) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


async def _answer(request: web.Request, rid: str, run: Callable[[], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    try:
        response = await run()
    except ShowroomError as exc:
        response = _error(exc.code, exc.message, exc.http_status)
    except web.HTTPException:
        raise
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception as exc:
        if database_unavailable(exc):
            log.warning("database unavailable on %s %s (request %s): %s", request.method, request.path, rid,
                        f"{type(exc).__name__}: {exc}"[:300])
            response = unavailable_reply()
        else:
            log.exception("unexpected error on %s %s (request %s)", request.method, request.path, rid)
            response = _error("internal", "internal server error", 500)
    response.headers[REQUEST_ID_HEADER] = rid
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _ctx(request: web.Request) -> Commerce:
    return request.app[RUNTIME].commerce


_STAFF_REPLY: dict[str, Any] = {"type": "object", "description": "docs/commerce.md, \"Staff\", has the shape"}


def staff_operation(summary: str, *, changes: bool, body: type[BaseModel] | None = None,
                    query: type[BaseModel] | None = None, path: type[BaseModel] | None = None,
                    replies: dict[int, str] | None = None, errors: dict[int, str] | None = None,
                    idempotent: bool = False) -> Operation:
    """The declaration of a staff route: the session cookie (401), the CSRF header when it `changes` state
    (403), the role (403), its input models (422 naming the field) and its own errors."""
    common = {401: "no live staff session (unauthenticated)", 403: "csrf, forbidden (the role) or four_eyes"}
    if body is not None or query is not None:
        common[422] = "invalid_input naming the field"
    if body is not None:
        common[413] = "the body is larger than 64 KiB"
    if idempotent:
        common[400] = "no Idempotency-Key header"
    headers = (STAFF_SESSION, *((CSRF_TOKEN,) if changes else ()), *((IDEMPOTENCY_KEY,) if idempotent else ()),
               REQUEST_ID)
    return Operation(summary, ("staff",), {status: HttpReply(text, _STAFF_REPLY if status != 204 else None,
                                                         media=() if status == 204 else ("application/json",),
                                                         headers={REQUEST_ID_HEADER: "the request's id"})
                                           for status, text in (replies or {200: "OK"}).items()},
                     errors={**common, **(errors or {})}, body=body, query=query, path=path, headers=headers,
                     public=False)


def staff_route(permission: Permission | None, summary: str, *, changes: bool = False,
                body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
                path: type[BaseModel] | None = None, replies: dict[int, str] | None = None,
                errors: dict[int, str] | None = None, idempotent: bool = False) -> Callable[[StaffHandler], Handler]:
    """Signed-in staff only; `changes`: the CSRF header is required; `permission`: the role must hold it (None:
    the use case checks, e.g. four eyes before the approver's permission). The route's OpenAPI declaration is
    made here from the same arguments (`staff_operation`), so the document and the checks cannot drift."""
    declaration = staff_operation(summary, changes=changes, body=body, query=query, path=path, replies=replies,
                                  errors=errors, idempotent=idempotent)

    def wrap(handler: StaffHandler) -> Handler:
        async def route(request: web.Request) -> web.StreamResponse:
            rid = request_id(request)

            async def run() -> web.StreamResponse:
                ctx = _ctx(request)
                token = request.cookies.get(STAFF_COOKIE)
                signed_in = await staff_service.session_for(ctx, token)
                if changes:
                    staff_service.check_csrf(signed_in.token, request.headers.get(CSRF_HEADER))
                if permission is not None:
                    require(signed_in.member, permission)
                return await handler(request, StaffCall(ctx, signed_in, rid))

            return await _answer(request, rid, run)

        route.__name__ = handler.__name__
        route.__doc__ = handler.__doc__
        return operation(declaration)(route)

    return wrap


def _reply(reply: Reply) -> web.Response:
    status, body = reply
    return web.json_response(body, status=status)


# -- session ---------------------------------------------------------------------------------------------------


def _set_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    secure = _ctx(request).settings.public_base_url.startswith("https://")
    response.set_cookie(STAFF_COOKIE, token, httponly=True, samesite="Strict", secure=secure, path="/",
                        max_age=int(SESSIONS.absolute.total_seconds()))


@operation(Operation(
    "Sign in: name, password and TOTP code -> the session (sets the showroom_staff cookie)", ("staff",),
    body=SignInBody, headers=(REQUEST_ID,),
    replies={200: HttpReply("the session and its csrf_token", _STAFF_REPLY,
                        headers={"Set-Cookie": "showroom_staff (HttpOnly, SameSite=Strict)",
                                 REQUEST_ID_HEADER: "the request's id"})},
    errors={401: "sign_in_refused (one neutral answer for a wrong name, password or code)",
            413: "the body is larger than 64 KiB", 422: "invalid_input: not JSON, or a field named",
            423: "the account is locked for 15 minutes", 429: "too many failures from this address"}))
async def post_session(request: web.Request) -> web.StreamResponse:
    """Sign in: `{name, password, otp}` -> the session (and its cookie)."""
    rid = request_id(request)

    async def run() -> web.StreamResponse:
        if request.content_type != "application/json":
            raise InvalidInput("sign-in takes a JSON body (Content-Type: application/json)")
        body = parse(SignInBody, await read_json(request))
        directory: StaffDirectory = request.app[STAFF_DIRECTORY]
        client = request.remote or ""
        member = await directory.sign_in(SignInAttempt(body.name, body.password, body.otp, client))
        signed_in = await staff_service.open_session(_ctx(request), member, client, rid)
        response = web.json_response(sv.session_view(signed_in))
        _set_cookie(request, response, signed_in.token)
        return response

    return await _answer(request, rid, run)


@staff_route(None, "The signed-in staff member and the CSRF token")
async def get_session(request: web.Request, call: StaffCall) -> web.StreamResponse:
    return web.json_response(sv.session_view(call.signed_in))


@staff_route(None, "Sign out", changes=True, replies={204: "signed out; the cookie is cleared"})
async def delete_session(request: web.Request, call: StaffCall) -> web.StreamResponse:
    await staff_service.sign_out(call.ctx, call.signed_in, call.request_id)
    response = web.Response(status=204)
    response.del_cookie(STAFF_COOKIE, path="/")
    return response


# -- orders ----------------------------------------------------------------------------------------------------


@staff_route(Permission.VIEW_ORDERS, "Orders, newest first", query=OrdersQuery)
async def get_orders(request: web.Request, call: StaffCall) -> web.StreamResponse:
    q = parse_query(OrdersQuery, request.query)
    page = await backoffice.list_orders(call.ctx, backoffice.OrderQuery(q.status, q.q, q.day, q.limit, q.offset))
    return web.json_response(sv.orders_view(page, call.signed_in.member))


@staff_route(Permission.VIEW_ORDERS, "One order's whole story", errors={404: "unknown order"})
async def get_order_story(request: web.Request, call: StaffCall) -> web.StreamResponse:
    story = await backoffice.order_story(call.ctx, request.match_info["order_id"])
    return web.json_response(sv.story_view(story, call.signed_in.member))


@staff_route(Permission.FULFIL_ORDERS, "Fulfil a paid order", changes=True, body=FulfilmentBody,
             errors={404: "unknown order", 409: "illegal_transition"})
async def post_fulfilment(request: web.Request, call: StaffCall) -> web.StreamResponse:
    """`{"status": "fulfilling"|"completed"}` -> the order's story."""
    step = parse(FulfilmentBody, await read_json(request)).step()
    order_id = request.match_info["order_id"]
    await orders.advance_fulfilment(call.ctx, order_id, step, call.actor)
    return web.json_response(sv.story_view(await backoffice.order_story(call.ctx, order_id), call.signed_in.member))


def _refund_reply(result: Refund | RefundApproval) -> Reply:
    if isinstance(result, RefundApproval):
        return 202, sv.approval_view(result)
    return 201, refund_view(result)


@staff_route(Permission.REQUEST_REFUND, "Refund (201) or ask for approval above the teller limit (202)", changes=True,
             body=RefundBody, idempotent=True, replies={201: "the refund", 202: "the refund request awaiting approval"},
             errors={404: "unknown order", 409: "refund_not_allowed, in flight, or more than was paid"})
async def post_refund(request: web.Request, call: StaffCall) -> web.StreamResponse:
    """`{amount_cny?, reason?}` + Idempotency-Key -> 201 the refund, or 202 the refund request awaiting approval."""
    order_id = request.match_info["order_id"]
    key = check_key(request.headers.get("Idempotency-Key"))
    raw = await read_json(request)
    body = parse(RefundBody, raw)
    cmd = refunds.RequestRefund(order_id, None if body.amount_cny is None else to_fen(body.amount_cny), body.reason)
    member, actor = call.signed_in.member, call.actor
    return _reply(await run_once(call.ctx, f"refunds:{order_id}", key, raw,
                                 lambda claim: refunds.staff_refund(call.ctx, cmd, claim.key, member, actor),
                                 _refund_reply))


@staff_route(Permission.VIEW_RECONCILIATION, "Reconcile a settlement day", path=DayPath,
             errors={404: "no settlement file for that day", 422: "the day is not YYYY-MM-DD in 2000-2099"})
async def get_reconciliation(request: web.Request, call: StaffCall) -> web.StreamResponse:
    day = parse(DayPath, dict(request.match_info)).day
    try:
        on = parse_day(day)
    except InvalidInput as exc:
        raise InvalidInput(f"day: {exc.message}") from None
    return web.json_response((await reconciliation.reconcile(call.ctx, on)).as_dict())


# -- refund requests (four eyes) ---------------------------------------------------------------------------------


@staff_route(Permission.VIEW_ORDERS, "Refund requests", query=ApprovalsQuery)
async def get_refund_requests(request: web.Request, call: StaffCall) -> web.StreamResponse:
    q = parse_query(ApprovalsQuery, request.query)
    found = await refunds.list_approvals(call.ctx, q.state, q.limit, q.offset)
    return web.json_response({"refund_requests": [sv.approval_view(a) for a in found]})


@staff_route(None, "Approve (four eyes)", changes=True,
             errors={404: "unknown refund request", 409: "already decided"})
async def post_approve(request: web.Request, call: StaffCall) -> web.StreamResponse:
    """A manager other than the requester approves: the refund is sent (four eyes checked in the use case)."""
    approval, refund = await refunds.approve(call.ctx, request.match_info["request_id"], call.signed_in.member,
                                             call.actor)
    return web.json_response({**sv.approval_view(approval), "refund": refund_view(refund)})


@staff_route(Permission.APPROVE_REFUND, "Reject", changes=True, body=RejectBody,
             errors={404: "unknown refund request", 409: "already decided"})
async def post_reject(request: web.Request, call: StaffCall) -> web.StreamResponse:
    body = parse(RejectBody, await read_json(request))
    rejected = await refunds.reject(call.ctx, request.match_info["request_id"], call.signed_in.member, call.actor,
                                    body.reason)
    return web.json_response(sv.approval_view(rejected))


# -- audit and stock ---------------------------------------------------------------------------------------------


@staff_route(Permission.VIEW_AUDIT, "The audit trail, newest first", query=AuditQuery)
async def get_audit(request: web.Request, call: StaffCall) -> web.StreamResponse:
    q = parse_query(AuditQuery, request.query)
    page = await audit_service.list_entries(call.ctx, subject=q.subject, limit=q.limit, offset=q.offset)
    return web.json_response(sv.audit_page_view(page, call.signed_in.member))


@staff_route(Permission.VIEW_AUDIT, "Verify the audit chain")
async def get_audit_verify(request: web.Request, call: StaffCall) -> web.StreamResponse:
    keeping = request.app[RUNTIME].audit
    if keeping is None:
        raise ShowroomError("this node keeps no audit key")
    return web.json_response(sv.verification_view(await audit_service.verify_chain(call.ctx, keeping)))


@staff_route(Permission.VIEW_STOCK, "Stock by shelf")
async def get_stock(request: web.Request, call: StaffCall) -> web.StreamResponse:
    return web.json_response(sv.stock_view(await backoffice.stock(call.ctx)))


# -- accounts (admin) --------------------------------------------------------------------------------------------


@staff_route(Permission.MANAGE_STAFF, "Staff accounts")
async def get_accounts(request: web.Request, call: StaffCall) -> web.StreamResponse:
    return web.json_response({"accounts": [sv.account_view(a) for a in await staff_service.list_accounts(call.ctx)]})


def _passwords(request: web.Request) -> Passwords | None:
    directory = request.app[STAFF_DIRECTORY]
    return directory.passwords if isinstance(directory, LocalStaffDirectory) else None


@staff_route(Permission.MANAGE_STAFF, "Add an account (TOTP secret shown once)", changes=True,
             body=NewAccountBody, replies={201: "the account with its TOTP secret and URI"},
             errors={409: "the name is taken"})
async def post_account(request: web.Request, call: StaffCall) -> web.StreamResponse:
    """`{name, role, display_name?, password}` -> 201 the account with its TOTP secret and URI (shown once)."""
    body = parse(NewAccountBody, await read_json(request))
    created = await staff_service.create_account(call.ctx, call.actor, body.name, body.role, body.display_name,
                                                 body.password, by=call.signed_in.member,
                                                 passwords=_passwords(request))
    return web.json_response(sv.new_account_view(created), status=201)


@staff_route(Permission.MANAGE_STAFF, "Change role or disabled", changes=True, body=AccountPatchBody,
             errors={404: "unknown account"})
async def patch_account(request: web.Request, call: StaffCall) -> web.StreamResponse:
    """`{role?, disabled?}` -> the account."""
    body = parse(AccountPatchBody, await read_json(request))
    saved = await staff_service.update_account(call.ctx, call.actor, request.match_info["name"], role=body.role,
                                               disabled=body.disabled, by=call.signed_in.member)
    return web.json_response(sv.account_view(saved))


@staff_route(Permission.MANAGE_STAFF, "Set a password", changes=True, body=PasswordBody,
             errors={404: "unknown account"})
async def post_account_password(request: web.Request, call: StaffCall) -> web.StreamResponse:
    """`{password}` -> the account; its sessions end."""
    body = parse(PasswordBody, await read_json(request))
    saved = await staff_service.set_password(call.ctx, call.actor, request.match_info["name"], body.password,
                                             by=call.signed_in.member,
                                             passwords=_passwords(request))
    return web.json_response(sv.account_view(saved))


@staff_route(Permission.MANAGE_STAFF, "New TOTP secret", changes=True, errors={404: "unknown account"})
async def post_account_totp_reset(request: web.Request, call: StaffCall) -> web.StreamResponse:
    """-> the account with its new TOTP secret and URI (shown once); its sessions end."""
    fresh = await staff_service.reset_totp(call.ctx, call.actor, request.match_info["name"], by=call.signed_in.member)
    return web.json_response(sv.new_account_view(fresh))


def add_staff_routes(app: web.Application) -> None:
    """The staff routes, and the three commerce routes that are staff routes (fulfilment, refunds,
    reconciliation)."""
    r = app.router
    r.add_post("/api/orders/{order_id}/fulfilment", post_fulfilment)
    r.add_post("/api/orders/{order_id}/refunds", post_refund)
    r.add_get("/api/reconciliation/{day}", get_reconciliation)
    r.add_post("/api/staff/session", post_session)
    r.add_get("/api/staff/session", get_session)
    r.add_delete("/api/staff/session", delete_session)
    r.add_get("/api/staff/orders", get_orders)
    r.add_get("/api/staff/orders/{order_id}", get_order_story)
    r.add_get("/api/staff/refund-requests", get_refund_requests)
    r.add_post("/api/staff/refund-requests/{request_id}/approve", post_approve)
    r.add_post("/api/staff/refund-requests/{request_id}/reject", post_reject)
    r.add_get("/api/staff/audit", get_audit)
    r.add_get("/api/staff/audit/verify", get_audit_verify)
    r.add_get("/api/staff/stock", get_stock)
    r.add_get("/api/staff/accounts", get_accounts)
    r.add_post("/api/staff/accounts", post_account)
    r.add_patch("/api/staff/accounts/{name}", patch_account)
    r.add_post("/api/staff/accounts/{name}/password", post_account_password)
    r.add_post("/api/staff/accounts/{name}/totp-reset", post_account_totp_reset)
