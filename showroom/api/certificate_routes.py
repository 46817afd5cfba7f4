"""The certificate routes: the customer's certificates (order token, or a gift's holder token), the QR code and the
PDF, the transfer (a gift), the published keys and signed revocation list (well-known URLs), the verifier, and
the staff look-up by serial. Contract: docs/commerce.md, "Certificates"."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from urllib.parse import quote

from aiohttp import web
from pydantic import Field, StringConstraints

from showroom.api.keys import RUNTIME
from showroom.api.requests import BodyModel, CustomerBody, parse, read_json
from showroom.api.routes import bearer_token, guarded
from showroom.api.schema import BODY_ERRORS, KEY_ERRORS
from showroom.api.staff_models import parse_query
from showroom.api.staff_routes import StaffCall, staff_route
from showroom.bootstrap import certificate_book
from showroom.certificate_render import certificate_pdf, qr_png
from showroom.certificates import CertificateRecord, compact, read_document
from showroom.errors import InvalidInput
from showroom.http_schema import IDEMPOTENCY_KEY, ORDER_TOKEN, Header, Operation, operation
from showroom.http_schema import Reply as HttpReply
from showroom.services import certificates as svc
from showroom.services import check_key, run_once
from showroom.services import orders as order_service
from showroom.services.certificates import CertificateBook
from showroom.staff import Permission

KEYS_PATH = "/.well-known/showroom-certificate-keys.json"
REVOCATIONS_PATH = "/.well-known/showroom-certificate-revocations.json"

HOLDER_TOKEN = Header("Authorization", "`Bearer <token>`: the order's token (the buyer) or the holder token a gift "
                      "answered (the new owner); a wrong one is answered like an unknown certificate (404)",
                      {"type": "string", "maxLength": 300}, required=False)
_CERT: dict[str, Any] = {"type": "object", "description": "a certificate as docs/commerce.md, \"Certificates\", shows"}


class TransferBody(BodyModel):
    new_owner: CustomerBody


class VerifyBody(BodyModel):
    certificate: dict[str, Any] | None = None
    """The certificate JSON (the machine-readable form)."""
    qr: Annotated[str, Field(min_length=1, max_length=16_384)] | None = None
    """What the QR code holds: the compact form `SRC1.…`, or the /verify link carrying it."""


class SerialQuery(BodyModel):
    serial: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=40)]


def _book(request: web.Request) -> CertificateBook:
    return certificate_book(request.app[RUNTIME].commerce)


def verify_url(base: str, document: dict[str, Any]) -> str:
    return f"{base}/verify?c={quote(compact(document), safe='')}"


def certificate_view(record: CertificateRecord, base: str) -> dict[str, Any]:
    return {"id": record.id, "serial": record.serial, "order_id": record.order_id, "unit": record.unit,
            "generation": record.generation, "status": record.status, "issued_at": record.issued_at.isoformat(),
            "revoked_at": None if record.revoked_at is None else record.revoked_at.isoformat(),
            "revoke_reason": record.revoke_reason, "superseded_by": record.superseded_by,
            "fields": record.document["fields"], "certificate": record.document,
            "compact": compact(record.document), "verify_url": verify_url(base, record.document),
            "qr_png_url": f"/api/certificates/{record.id}/qr.png", "pdf_url": f"/api/certificates/{record.id}/pdf"}


def _base(request: web.Request) -> str:
    return request.app[RUNTIME].commerce.settings.public_base_url


@operation(Operation("The order's certificates, one per unit (issued once the order is paid)", ("certificates",),
                     operation_id="getOrderCertificates", headers=(ORDER_TOKEN,),
                     replies={200: HttpReply("the certificates (an unpaid order has none yet)", {
                         "type": "object", "properties": {"certificates": {"type": "array", "items": _CERT}}})},
                     errors={404: "unknown order, or a missing or wrong token (answered alike)"}))
@guarded
async def get_order_certificates(request: web.Request) -> web.Response:
    records = await svc.customer_certificates(_book(request), request.match_info["order_id"], bearer_token(request))
    base = _base(request)
    return web.json_response({"certificates": [certificate_view(r, base) for r in records]},
                             headers={"Cache-Control": "no-store"})


@operation(Operation("One certificate, for its holder", ("certificates",), operation_id="getCertificate",
                     headers=(HOLDER_TOKEN,), replies={200: HttpReply("the certificate", _CERT)},
                     errors={404: "unknown certificate, or a missing or wrong token (answered alike)"}))
@guarded
async def get_certificate(request: web.Request) -> web.Response:
    record = await svc.holder_certificate(_book(request), request.match_info["certificate_id"], bearer_token(request))
    return web.json_response(certificate_view(record, _base(request)), headers={"Cache-Control": "no-store"})


@operation(Operation("The certificate's QR code (a /verify link carrying the whole signed certificate)",
                     ("certificates",), headers=(HOLDER_TOKEN,),
                     replies={200: HttpReply("the QR code", media=("image/png",))},
                     errors={404: "unknown certificate, or a missing or wrong token (answered alike)"}))
@guarded
async def get_certificate_qr(request: web.Request) -> web.Response:
    record = await svc.holder_certificate(_book(request), request.match_info["certificate_id"], bearer_token(request))
    png = await asyncio.to_thread(qr_png, verify_url(_base(request), record.document))
    return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "no-store"})


@operation(Operation("A QR code of the buyer's certificate page (`/certificate#order=…&token=…`), for a shared screen "
                     "(the kiosk) to show instead of a link", ("certificates",), headers=(ORDER_TOKEN,),
                     replies={200: HttpReply("the QR code", media=("image/png",))},
                     errors={404: "unknown order, or a missing or wrong token (answered alike)"}))
@guarded
async def get_certificate_page_qr(request: web.Request) -> web.Response:
    order_id, token = request.match_info["order_id"], bearer_token(request)
    await order_service.customer_order(request.app[RUNTIME].commerce, order_id, token)  # the token's holder only
    page = f"{_base(request)}/certificate#order={quote(order_id, safe='')}&token={quote(token or '', safe='')}"
    png = await asyncio.to_thread(qr_png, page, 360)
    return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "no-store"})


@operation(Operation("The certificate as a PDF (A4, with its QR code)", ("certificates",), headers=(HOLDER_TOKEN,),
                     replies={200: HttpReply("the PDF", media=("application/pdf",))},
                     errors={404: "unknown certificate, or a missing or wrong token (answered alike)"}))
@guarded
async def get_certificate_pdf(request: web.Request) -> web.Response:
    record = await svc.holder_certificate(_book(request), request.match_info["certificate_id"], bearer_token(request))
    doc = record.document
    pdf = await asyncio.to_thread(certificate_pdf, doc["fields"], verify_url(_base(request), doc),
                                  str(doc["signature"]["kid"]), record.status)
    return web.Response(body=pdf, content_type="application/pdf", headers={
        "Cache-Control": "no-store", "Content-Disposition": f'attachment; filename="certificate-{record.serial}.pdf"'})


@operation(Operation(
    "Give the item away: the certificate is re-issued to the new owner and this one revoked", ("certificates",),
    operation_id="transferCertificate", body=TransferBody, headers=(HOLDER_TOKEN, IDEMPOTENCY_KEY),
    replies={201: HttpReply("the new certificate and the new owner's holder_token (answered once)", {
        "type": "object", "properties": {"certificate": _CERT, "replaced": _CERT, "holder_token": {"type": "string"},
                                         "page_url": {"type": "string"}}})},
    errors={**KEY_ERRORS, **BODY_ERRORS, 404: "unknown certificate, or a missing or wrong token (answered alike)",
            409: "the certificate was revoked or transferred already"}))
@guarded
async def post_transfer(request: web.Request) -> web.Response:
    book, body = _book(request), await read_json(request)
    args = parse(TransferBody, body)
    key = check_key(request.headers.get("Idempotency-Key"))
    cid, token, base = request.match_info["certificate_id"], bearer_token(request), _base(request)

    def render(t: svc.Transferred) -> tuple[int, dict[str, Any]]:
        return 201, {"certificate": certificate_view(t.certificate, base),
                     "replaced": certificate_view(t.replaced, base), "holder_token": t.holder_token,
                     "page_url": f"{base}/certificate#id={t.certificate.id}&token={t.holder_token}"}

    status, reply = await run_once(book.ctx, f"certificate-transfer:{cid}", key, body,
                                   lambda _claim: svc.transfer(book, cid, token, args.new_owner.name or "",
                                                               args.new_owner.phone), render)
    return web.json_response(reply, status=status, headers={"Cache-Control": "no-store"})


@operation(Operation(
    "Check a certificate: the signature against the bank's published keys (offline), then this node's revocations",
    ("certificates",), operation_id="verifyCertificate", body=VerifyBody,
    replies={200: HttpReply("the verdict: valid, or every problem named (an altered field by name)", {
        "type": "object", "properties": {"valid": {"type": "boolean"}, "problems": {"type": "array"}}})},
    errors={**BODY_ERRORS}))
@guarded
async def post_verify(request: web.Request) -> web.Response:
    args = parse(VerifyBody, await read_json(request))
    given: Any = args.certificate if args.certificate is not None else args.qr
    if given is None:
        raise InvalidInput("certificate or qr: give the certificate JSON or the QR text")
    verdict = await svc.check(_book(request), read_document(given))
    return web.json_response(verdict.view())


@operation(Operation("The bank's certificate-signing keys (current and retired), by key id", ("certificates",),
                     replies={200: HttpReply("the keys", {"type": "object"})}))
@guarded
async def get_keys(request: web.Request) -> web.Response:
    book = _book(request)
    return web.json_response(book.signer.keys_document(book.ctx.settings.bank_name),
                             headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"})


@operation(Operation("Revoked certificates, signed by the bank's current key", ("certificates",),
                     replies={200: HttpReply("the signed revocation list", {"type": "object"})}))
@guarded
async def get_revocations(request: web.Request) -> web.Response:
    return web.json_response(await svc.revocation_list(_book(request)),
                             headers={"Cache-Control": "public, max-age=60", "Access-Control-Allow-Origin": "*"})


@staff_route(Permission.VIEW_ORDERS, "Certificates by serial number: every owner in order (tellers, auditors)",
             query=SerialQuery, errors={404: "no certificate with that serial"})
async def get_staff_certificates(request: web.Request, call: StaffCall) -> web.Response:
    q = parse_query(SerialQuery, request.query)
    book = certificate_book(call.ctx)
    records = await svc.by_serial(book, q.serial)
    base = call.ctx.settings.public_base_url
    views = []
    for r in records:
        view = certificate_view(r, base)
        view["owner_name"], view["owner_phone"] = r.owner_name, r.owner_phone
        verdict = await svc.check(book, r.document)
        view["verdict"] = verdict.view()
        views.append(view)
    return web.json_response({"serial": q.serial.upper(), "certificates": views})


def add_certificate_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/orders/{order_id}/certificates", get_order_certificates)
    r.add_get("/api/orders/{order_id}/certificate-qr.png", get_certificate_page_qr)  # the kiosk's QR of the page
    r.add_get("/api/certificates/{certificate_id}", get_certificate)
    r.add_get("/api/certificates/{certificate_id}/qr.png", get_certificate_qr)
    r.add_get("/api/certificates/{certificate_id}/pdf", get_certificate_pdf)
    r.add_post("/api/certificates/{certificate_id}/transfer", post_transfer)
    r.add_post("/api/certificates/verify", post_verify)
    r.add_get("/api/staff/certificates", get_staff_certificates)
    r.add_get(KEYS_PATH, get_keys)
    r.add_get(REVOCATIONS_PATH, get_revocations)
