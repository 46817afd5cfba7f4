"""Certificates of items bought: issued once an order is due one (`certificate_due`, the one trigger), reached by
the order's token (or, after a gift, the new owner's holder token), transferred (re-issued to the new owner, the
old one revoked), verified offline against the published keys, looked up by serial by staff.

Issuing is idempotent: one certificate per (order, unit, generation); two issuers at once both try, one row
stays (`ON CONFLICT DO NOTHING`) and both read it. It happens when the order's `paid` event is seen
(`on_order_event`, subscribed by `showroom.bootstrap`) and, should that event be lost, when the customer first
asks for the certificates.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from showroom.audit import AuditEvent
from showroom.certificates import (
    FIELDS,
    CertificateRecord,
    CertificateStatus,
    PublishedKey,
    Revocation,
    Signer,
    Verdict,
    key_id,
    mask_name,
    mask_phone,
    new_serial,
    verify,
)
from showroom.errors import InvalidInput, NotFound, ShowroomError
from showroom.orders import PAID_STATUSES, Order, OrderStatus
from showroom.ports import ConcurrentUpdate, UnitOfWork
from showroom.pricing import format_cny
from showroom.services import orders as order_service
from showroom.services._uow import Commerce, transact
from showroom.settings import CommerceSettings

log = logging.getLogger("showroom.commerce")

HOLDER_TOKEN_BYTES = 32
ONLINE_BRANCH = "online"


class CertificateNotTransferable(ShowroomError):
    code = "certificate_not_transferable"
    http_status = 409


class CertificateRepo(Protocol):
    async def add(self, record: CertificateRecord) -> bool: ...
    async def get(self, certificate_id: str, *, for_update: bool = False) -> CertificateRecord: ...
    async def of_order(self, order_id: str) -> list[CertificateRecord]: ...
    async def by_serial(self, serial: str) -> list[CertificateRecord]: ...
    async def revoke(self, certificate_id: str, at: datetime, reason: str, superseded_by: str | None) -> bool: ...
    async def revoked(self, ids: list[str] | None = None) -> list[CertificateRecord]: ...


@dataclass(frozen=True)
class CertificateBook:
    """What the certificate use cases need: the commerce context, the bank's signer, and the certificate rows
    seen through a unit of work."""

    ctx: Commerce
    signer: Signer
    repo: Callable[[UnitOfWork], CertificateRepo]


def signer_from_keys(seed: bytes, retired_keys: tuple[tuple[bytes, datetime], ...]) -> Signer:
    retired = tuple(PublishedKey(key_id(raw), raw, at) for raw, at in retired_keys)
    return Signer.from_seed(seed, retired)


def signer_from(settings: CommerceSettings) -> Signer:
    return signer_from_keys(settings.certificate_key, settings.certificate_retired_keys)


def certificate_due(order: Order, *, pickup: bool = False) -> bool:
    """THE trigger: whether `order` is owed its certificates now. Once it is paid (and stays so while partly
    refunded or being fulfilled); a branch pick-up (`pickup`: the order has one) only once the teller handed the
    goods over (`Order.handed_over`: the hand-over completes the order, and its `completed` event issues them)."""
    if pickup:
        return order.status in PAID_STATUSES and order.handed_over
    return order.status in PAID_STATUSES


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _owner(name: str, phone: str) -> str:
    return f"{mask_name(name)} {mask_phone(phone)}".strip()


def _unit_prices(total_fen: int, quantity: int) -> list[int]:
    """The order's total split over its units in fen, the remainder on the first units: they add up exactly."""
    base, extra = divmod(total_fen, quantity)
    return [base + (1 if i < extra else 0) for i in range(quantity)]


def _iso(at: datetime) -> str:
    return at.replace(microsecond=0).isoformat()


def _fields(book: CertificateBook, order: Order, unit: int, price_fen: int, purchased_at: datetime,
            now: datetime, serial: str, certificate_id: str, owner: str, supersedes: str) -> dict[str, str]:
    ctx = book.ctx
    product = ctx.catalog.get(order.product_id)
    variant = product.variant(order.variant_id)
    fineness = ""
    if variant.purity is not None:
        per_mille = format(variant.purity.fineness * 1000, "f").rstrip("0").rstrip(".")
        fineness = f"{variant.purity.value} ({per_mille}‰)"
    return {
        "certificate_id": certificate_id, "serial": serial, "order_id": order.id,
        "unit": f"{unit}/{order.quantity}", "product_id": product.id,
        "product": f"{product.name.zh} · {product.name.en}", "variant": f"{variant.name.zh} · {variant.name.en}",
        "fineness": fineness, "weight_g": "" if variant.weight_g is None else format(variant.weight_g, "f"),
        "hallmark": product.hallmark_of(variant), "price_paid_cny": format_cny(price_fen), "purchased_at": _iso(purchased_at),
        "issued_at": _iso(now), "branch": order.branch_id or ONLINE_BRANCH, "bank": ctx.settings.bank_name,
        "owner": owner, "supersedes": supersedes,
    }


async def _issue_missing(book: CertificateBook, uow: UnitOfWork, order: Order) -> None:
    repo = book.repo(uow)
    have = {r.unit for r in await repo.of_order(order.id) if r.generation == 0}
    missing = [u for u in range(1, order.quantity + 1) if u not in have]
    if not missing:
        return
    now = book.ctx.clock.now()
    purchased_at = now
    if order.paid_payment_id:
        payment = await uow.get_payment(order.paid_payment_id)
        purchased_at = payment.succeeded_at or payment.updated_at
    variant = book.ctx.catalog.get(order.product_id).variant(order.variant_id)
    prices = _unit_prices(order.paid_fen or order.amount_fen, order.quantity)
    name, phone = str(order.customer.get("name", "")), str(order.customer.get("phone", ""))
    for unit in missing:
        cid = f"crt_{secrets.token_hex(10)}"
        serial = new_serial(variant.serial_prefix or "HJB", now)
        document = book.signer.sign_fields(_fields(book, order, unit, prices[unit - 1], purchased_at, now, serial,
                                                   cid, _owner(name, phone), ""))
        await repo.add(CertificateRecord(id=cid, serial=serial, order_id=order.id, unit=unit, generation=0,
                                         owner_name=name, owner_phone=phone, document=document,
                                         status=CertificateStatus.VALID, issued_at=now))


async def _revoke_if_refunded(book: CertificateBook, uow: UnitOfWork, order: Order) -> None:
    if order.status is not OrderStatus.REFUNDED:
        return
    repo = book.repo(uow)
    now = book.ctx.clock.now()
    for record in await repo.of_order(order.id):
        if record.status == CertificateStatus.VALID:
            await repo.revoke(record.id, now, "the order was refunded", None)


async def settle(book: CertificateBook, order_id: str) -> list[CertificateRecord]:
    """Issues what `order_id` is due and revokes what a full refund took back; returns its certificates."""
    async def work(uow: UnitOfWork, _out: Any) -> list[CertificateRecord]:
        order = await uow.get_order(order_id)
        find_pickup = getattr(uow, "get_pickup", None)  # a store without branches has no pick-ups
        if certificate_due(order, pickup=find_pickup is not None and await find_pickup(order_id) is not None):
            await _issue_missing(book, uow, order)
        await _revoke_if_refunded(book, uow, order)
        return await book.repo(uow).of_order(order_id)

    records, _ = await transact(book.ctx, work)
    return records


async def on_order_event(book: CertificateBook, event: Mapping[str, Any]) -> None:
    """What the order events mean for certificates (the `paid` one issues them; `refunded` revokes)."""
    if event.get("type") != "order" or "id" not in event:
        return
    if event.get("status") in {s.value for s in PAID_STATUSES} | {OrderStatus.REFUNDED.value}:
        await settle(book, str(event["id"]))


async def customer_certificates(book: CertificateBook, order_id: str, token: str | None) -> list[CertificateRecord]:
    """The buyer's certificates of the order (issued now if due and not yet; one given away shows as revoked,
    never the new owner's); a wrong token is `NotFound`, like an unknown order."""
    await order_service.customer_order(book.ctx, order_id, token)
    return [r for r in await settle(book, order_id) if r.generation == 0]


async def _authorise(book: CertificateBook, uow: UnitOfWork, certificate_id: str, token: str | None,
                     *, for_update: bool = False) -> CertificateRecord:
    """The certificate when `token` reaches it: its holder token, or (generation 0) the order's token."""
    try:
        record = await book.repo(uow).get(certificate_id, for_update=for_update)
    except NotFound:
        raise NotFound("no such certificate") from None
    if record.holder_token_sha256 is None:
        try:
            await order_service._authorise(uow, record.order_id, token)  # in this transaction (SQLite: one writer)
        except NotFound:
            raise NotFound("no such certificate") from None
        return record
    presented = token_digest(token) if token and len(token) <= 300 else ""
    if not hmac.compare_digest(presented, record.holder_token_sha256):
        raise NotFound("no such certificate")
    return record


async def holder_certificate(book: CertificateBook, certificate_id: str, token: str | None) -> CertificateRecord:
    async with book.ctx.uow() as uow:
        return await _authorise(book, uow, certificate_id, token)


@dataclass(frozen=True)
class Transferred:
    certificate: CertificateRecord
    replaced: CertificateRecord
    holder_token: str
    """The new owner's capability, answered once (stored as its SHA-256)."""


async def transfer(book: CertificateBook, certificate_id: str, token: str | None, name: str,
                   phone: str) -> Transferred:
    """A gift: the certificate is re-issued to the new owner (same serial, next generation, `supersedes` the
    old one) and the old one revoked, in one transaction. Only a valid certificate moves (409 otherwise)."""
    name, phone = name.strip(), phone.strip()
    if not name or not phone:
        raise InvalidInput("the new owner's name and phone are needed")
    holder_token = secrets.token_urlsafe(HOLDER_TOKEN_BYTES)

    async def work(uow: UnitOfWork, _out: Any) -> Transferred:
        repo = book.repo(uow)
        old = await _authorise(book, uow, certificate_id, token, for_update=True)
        if old.status != CertificateStatus.VALID:
            raise CertificateNotTransferable(f"certificate {old.id} was {old.status}"
                                             + (f" (now {old.superseded_by})" if old.superseded_by else ""))
        order = await uow.get_order(old.order_id)
        now = book.ctx.clock.now()
        cid = f"crt_{secrets.token_hex(10)}"
        kept = old.document["fields"]
        fields = {**kept, "certificate_id": cid, "issued_at": _iso(now), "owner": _owner(name, phone),
                  "supersedes": old.id}
        assert set(fields) == set(FIELDS)
        new = CertificateRecord(id=cid, serial=old.serial, order_id=order.id, unit=old.unit,
                                generation=old.generation + 1, owner_name=name, owner_phone=phone,
                                document=book.signer.sign_fields(fields), status=CertificateStatus.VALID,
                                issued_at=now, holder_token_sha256=token_digest(holder_token))
        if not await repo.add(new) or not await repo.revoke(old.id, now, "transferred to a new owner", cid):
            raise ConcurrentUpdate("the certificate is being transferred by another request")
        await uow.append_audit(AuditEvent(at=now, actor="customer", role="customer", action="certificate_transferred",
                                          subject=f"order:{order.id}",
                                          before={"certificate": old.id, "serial": old.serial},
                                          after={"certificate": cid, "serial": old.serial,
                                                 "owner": _owner(name, phone)}))
        replaced = await repo.get(old.id)
        return Transferred(new, replaced, holder_token)

    try:
        result, _ = await transact(book.ctx, work)
    except ConcurrentUpdate:
        raise CertificateNotTransferable("the certificate was transferred by another request") from None
    return result


async def check(book: CertificateBook, document: Mapping[str, Any]) -> Verdict:
    """Verifies a certificate against the bank's published keys (offline: no row is needed for the signature),
    then against this node's revocations."""
    fields = document.get("fields")
    cid = str(fields.get("certificate_id", "")) if isinstance(fields, Mapping) else ""
    revocations: dict[str, Revocation] = {}
    if cid:
        async with book.ctx.uow() as uow:
            for record in await book.repo(uow).revoked([cid]):
                if record.revocation is not None:
                    revocations[record.id] = record.revocation
    return verify(document, book.signer.published(), revocations)


async def revocation_list(book: CertificateBook) -> dict[str, Any]:
    """Every revoked certificate, signed by the bank's current key (`Signer.sign_document`)."""
    async with book.ctx.uow() as uow:
        revoked = await book.repo(uow).revoked()
    body = {"issuer": book.ctx.settings.bank_name, "issued_at": _iso(book.ctx.clock.now()),
            "revoked": [{"certificate_id": r.id, "serial": r.serial, "revoked_at": _iso(r.revoked_at or r.issued_at),
                         "reason": r.revoke_reason or "revoked", "superseded_by": r.superseded_by} for r in revoked]}
    return book.signer.sign_document(body)


async def by_serial(book: CertificateBook, serial: str) -> list[CertificateRecord]:
    """Staff: every certificate a unit's serial had (its owners in order); NotFound when none."""
    serial = serial.strip().upper()
    async with book.ctx.uow() as uow:
        records = await book.repo(uow).by_serial(serial)
    if not records:
        raise NotFound(f"no certificate with serial {serial!r}")
    return records
