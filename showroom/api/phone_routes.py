"""Proof of the phone over HTTP (contract: docs/commerce.md, "Proof of the phone").

`POST /api/phone/codes {"customer": {"phone"}}` sends a 6-digit code by the bank's SMS service (202
`{"phone", "expires_at", "resend_after_s"}`; 429 `code_throttled` with `Retry-After`); `POST /api/phone/verify
{"customer": {"phone"}, "code"}` answers the proof token once (200 `{"phone_proof", "phone", "expires_at"}`).
Coupons and points routes take the proof in the `X-Phone-Proof` header (`proven`).
"""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import Field

from showroom.api.keys import RUNTIME
from showroom.api.requests import BodyModel, CustomerBody, parse, read_json
from showroom.api.routes import guarded
from showroom.api.schema import BODY_ERRORS
from showroom.http_schema import Header, Operation, operation
from showroom.http_schema import Reply as HttpReply
from showroom.phone_ports import CodeThrottled, SmsUnavailable
from showroom.pricing import iso_utc
from showroom.services import phone_proofs as svc

PHONE_PROOF_HEADER = "X-Phone-Proof"
PHONE_PROOF = Header(PHONE_PROOF_HEADER, "the proof token of `POST /api/phone/verify` for the customer's number",
                     {"type": "string", "minLength": 1, "maxLength": 128}, required=False)
PROOF_ERRORS = {401: "phone_proof_required, phone_proof_invalid or phone_proof_expired: verify the phone again",
                403: "phone_proof_mismatch: the proof is for another number (or customer)"}

Code = Annotated[str, Field(pattern=r"^\d{6}$", description="the 6-digit code of the SMS")]
_OBJECT: dict[str, Any] = {"type": "object", "description": "docs/commerce.md, \"Proof of the phone\", has the shape"}


class CodeRequestBody(BodyModel):
    customer: CustomerBody


class VerifyBody(BodyModel):
    customer: CustomerBody
    code: Code


def _book(request: web.Request) -> svc.PhoneProofs:
    book = request.app[RUNTIME].phones
    if book is None:
        raise SmsUnavailable("no SMS service is configured: phone proofs cannot be given")
    return book


async def proven(request: web.Request, phone: str) -> svc.VerifiedPhone:
    """The request's `X-Phone-Proof` checked for `phone` (401/403 errors otherwise)."""
    return await svc.require(_book(request), request.headers.get(PHONE_PROOF_HEADER), phone)


@operation(Operation("Send a one-time code to the customer's phone (the bank's SMS service)", ("phone",),
                     body=CodeRequestBody, replies={202: HttpReply("sent", _OBJECT)},
                     errors={429: "code_throttled: one code a minute and five an hour per number",
                             503: "sms_unavailable", **BODY_ERRORS}))
@guarded
async def post_code(request: web.Request) -> web.Response:
    b = parse(CodeRequestBody, await read_json(request))
    try:
        sent = await svc.send_code(_book(request), b.customer.phone, request.remote or "")
    except CodeThrottled as exc:
        return web.json_response({"error": {"code": exc.code, "message": exc.message}}, status=429,
                                 headers={"Retry-After": str(max(1, exc.retry_after_s))})
    return web.json_response({"phone": sent.phone, "expires_at": iso_utc(sent.expires_at),
                              "resend_after_s": sent.resend_after_s}, status=202)


@operation(Operation("Verify the code: the phone proof (once) for the X-Phone-Proof header", ("phone",),
                     body=VerifyBody, replies={200: HttpReply("the proof", _OBJECT)},
                     errors={401: "code_wrong (the message says how many tries are left)",
                             410: "code_expired (none sent, expired or used) or code_locked (five tries spent)",
                             503: "the bank's customer-information service cannot answer", **BODY_ERRORS}))
@guarded
async def post_verify(request: web.Request) -> web.Response:
    b = parse(VerifyBody, await read_json(request))
    issued = await svc.verify(_book(request), b.customer.phone, b.code)
    return web.json_response({"phone_proof": issued.token, "phone": issued.phone,
                              "expires_at": iso_utc(issued.expires_at)}, headers={"Cache-Control": "no-store"})


def add_phone_routes(app: web.Application) -> None:
    app.router.add_post("/api/phone/codes", post_code)
    app.router.add_post("/api/phone/verify", post_verify)
