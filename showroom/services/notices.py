"""Signed notifications from the payment backend: verified (HMAC-SHA256, 300 s tolerance), matched (payment,
order, amount, currency) and deduplicated by event id inside the transaction that applies them. A notice for a
payment or refund whose backend id we do not hold yet matches its intent by order and amount."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from showroom.errors import ShowroomError
from showroom.orders import PaymentStatus
from showroom.ports import UnitOfWork
from showroom.services import refunds
from showroom.services._uow import Commerce, Outcome, transact
from showroom.services.payments import apply_payment_status
from showroom.signing import SIGNATURE_HEADER, verify

log = logging.getLogger("showroom.commerce")

NOTICE_STATUSES = {"payment.succeeded": PaymentStatus.SUCCEEDED, "payment.failed": PaymentStatus.FAILED,
                   "payment.expired": PaymentStatus.EXPIRED}


class NoticeInvalid(ShowroomError):
    code = "notice_invalid"
    http_status = 400


class NoticeMismatch(ShowroomError):
    """A signed notification does not match what we asked for (order, amount, currency): refused, logged."""

    code = "notice_mismatch"
    http_status = 422


class NoticeUnknown(ShowroomError):
    """A notification for a payment or refund we do not (yet) know: the backend retries later."""

    code = "notice_unknown"
    http_status = 404


@dataclass(frozen=True)
class Notice:
    """One notification: `{"id", "type", "data": {"payment_id", "amount_fen", "order_id", "currency",
    "refund_id"?, "failure_code"?}}`."""

    event_id: str
    event_type: str
    payment_id: str
    amount_fen: int
    data: dict[str, Any]

    @property
    def order_id(self) -> str:
        return str(self.data.get("order_id"))

    @property
    def currency(self) -> object:
        return self.data.get("currency", "CNY")


@dataclass(frozen=True)
class NoticeReceipt:
    duplicate: bool
    """True when this event id was applied before (nothing changed now)."""


def read_notice(body: bytes) -> Notice:
    """The one reader of the notification format; `NoticeInvalid` names what is wrong."""
    try:
        doc = json.loads(body)
        data = doc["data"]
        if not isinstance(data, dict):
            raise TypeError
        amount_fen = data["amount_fen"]
        if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
            raise TypeError
        return Notice(str(doc["id"]), str(doc["type"]), str(data["payment_id"]), amount_fen, data)
    except (ValueError, KeyError, TypeError):
        raise NoticeInvalid(f"a notification is JSON with id, type and data (see {SIGNATURE_HEADER})") from None


async def handle_payment_notice(ctx: Commerce, body: bytes, signature: str | None) -> NoticeReceipt:
    """Verifies and applies one notification from the payment backend."""
    now = ctx.clock.now()
    verify(ctx.settings.webhook_secrets(now), signature, body, now.timestamp())
    notice = read_notice(body)

    async def work(uow: UnitOfWork, out: Outcome) -> None:
        if not await uow.record_event(notice.event_id, notice.event_type, now):
            out.duplicate = True
            return
        if notice.event_type.startswith("payment."):
            await _apply_payment_notice(ctx, uow, out, notice)
        elif notice.event_type.startswith("refund."):
            await _apply_refund_notice(ctx, uow, out, notice)
        else:
            log.info("ignoring notification %s of unknown type %s", notice.event_id, notice.event_type)

    _, outcome = await transact(ctx, work)
    await refunds.execute_all(ctx, outcome.refunds)
    return NoticeReceipt(outcome.duplicate)


async def _apply_payment_notice(ctx: Commerce, uow: UnitOfWork, out: Outcome, notice: Notice) -> None:
    payment = await uow.payment_by_gateway_id(notice.payment_id)
    if payment is None:
        # The backend was faster than our write of its id (or we crashed before it): match the intent.
        candidates = [p for p in await uow.payments_for_order(str(notice.data.get("order_id", "")))
                      if p.gateway_payment_id is None and p.amount_fen == notice.amount_fen]
        if not candidates:
            raise NoticeUnknown(f"no payment {notice.payment_id!r} here yet")
        payment = candidates[0]
        payment.gateway_payment_id = notice.payment_id
    order = await uow.get_order(payment.order_id, for_update=True)
    fresh = await uow.get_payment(payment.id)  # as committed now that the order is locked
    fresh.gateway_payment_id = fresh.gateway_payment_id or payment.gateway_payment_id
    if notice.order_id != order.id or notice.currency != order.currency or notice.amount_fen != fresh.amount_fen:
        raise NoticeMismatch(f"notification for {notice.payment_id} does not match order {order.id}: "
                             f"{notice.data.get('order_id')} {notice.amount_fen} {notice.data.get('currency')}")
    status = NOTICE_STATUSES.get(notice.event_type)
    if status is None:
        log.info("ignoring payment notification type %s", notice.event_type)
        return
    await apply_payment_status(ctx, uow, out, order, fresh, status, notice.data.get("failure_code"))


async def _apply_refund_notice(ctx: Commerce, uow: UnitOfWork, out: Outcome, notice: Notice) -> None:
    gateway_refund_id = str(notice.data.get("refund_id") or "")
    if not gateway_refund_id:
        raise NoticeInvalid("a refund notification names its refund_id")
    refund = await uow.refund_by_gateway_id(gateway_refund_id)
    payment = await uow.payment_by_gateway_id(notice.payment_id)
    if refund is None:
        if payment is None:
            raise NoticeUnknown(f"no payment {notice.payment_id!r} here")
        candidates = [r for r in await uow.refunds_for_order(payment.order_id)
                      if r.gateway_refund_id is None and r.payment_id == payment.id
                      and r.amount_fen == notice.amount_fen]
        if not candidates:
            raise NoticeUnknown(f"no refund {gateway_refund_id!r} here yet")
        refund = candidates[0]
        refund.gateway_refund_id = gateway_refund_id
    order = await uow.get_order(refund.order_id, for_update=True)
    fresh = await uow.get_refund(refund.id)
    fresh.gateway_refund_id = fresh.gateway_refund_id or refund.gateway_refund_id
    if (payment is None or payment.id != fresh.payment_id or notice.order_id != order.id
            or notice.amount_fen != fresh.amount_fen or notice.currency != order.currency):
        raise NoticeMismatch(f"refund notification {gateway_refund_id} does not match refund {fresh.id}")
    await refunds.apply_refund_status(ctx, uow, out, order, fresh, succeeded=notice.event_type == "refund.succeeded")
