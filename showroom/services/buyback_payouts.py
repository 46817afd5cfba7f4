"""The buy-back's payout through the bank's payment backend, never lost and never twice:

- the inspection's transaction leaves the buy-back `accepted`: that row is the payout's intent, with the backend
  idempotency key `buyback:<id>:<attempt>`; `send_payout` then asks the backend (`POST /payouts`) and records its
  payout id (`payout_pending`); a crash or an unreachable backend in between leaves the intent, which
  `send_due_payouts` (and the console's retry) sends again with the same key, so the backend pays once;
- the payee is the customer's account of record, named by the bank's customer id (`showroom.buyback_ports`);
- signed notifications (`payout.succeeded` / `payout.failed`) are verified exactly like payment notifications
  (`showroom.signing.verify`, the same webhook secrets, 300 s tolerance), deduplicated by event id in the
  transaction that applies them, and matched (reference, customer, amount, currency); a duplicate changes nothing;
- a failed payout (an account closed or frozen meanwhile) waits for staff: a retry is a new attempt (new key).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from showroom.audit import PAYMENT_BACKEND, SYSTEM, Actor
from showroom.buyback import Buyback, BuybackStatus
from showroom.buyback_ports import PayoutGateway, PayoutReply, PayoutRequest
from showroom.errors import ShowroomError
from showroom.ports import PaymentGatewayError, PaymentGatewayUnavailable, UnitOfWork
from showroom.services._uow import Commerce, Outcome, transact
from showroom.services.buybacks import repo, subject
from showroom.services.notices import NoticeInvalid, NoticeMismatch, NoticeUnknown
from showroom.signing import verify

log = logging.getLogger("showroom.commerce")


def payouts(ctx: Commerce) -> PayoutGateway:
    if not isinstance(ctx.gateway, PayoutGateway):
        raise PaymentGatewayUnavailable("the configured payment backend cannot pay out")
    return ctx.gateway


async def _apply_reply(ctx: Commerce, buyback_id: str, reply: PayoutReply, actor: Actor) -> Buyback:
    async def work(uow: UnitOfWork, _out: Outcome) -> Buyback:
        now = ctx.clock.now()
        b, _ = await repo(uow).get(buyback_id, for_update=True)
        if b.status is not BuybackStatus.ACCEPTED or b.payout_id not in (None, reply.payout_id):
            return b  # a notice was faster, or another sender recorded it
        b.payout_created(reply.payout_id, reply.account_masked, now)
        await uow.append_audit(actor.event(now, "buyback_payout_sent", subject(b.id), after={
            "payout_id": reply.payout_id, "amount_fen": b.amount_fen, "account": reply.account_masked,
            "attempt": b.payout_attempt}))
        if reply.status == "succeeded":
            b.paid_out(now)
        elif reply.status == "failed":
            b.payout_failed(reply.failure_code or "failed", now)
        await repo(uow).save(b)
        return b

    done, _ = await transact(ctx, work)
    return done


async def send_payout(ctx: Commerce, buyback_id: str, actor: Actor = SYSTEM) -> Buyback:
    """Sends an accepted buy-back's payout to the backend (idempotent by its key). With the backend unreachable
    the buy-back stays `accepted` and is sent again later; the caller sees its state either way."""
    async with ctx.uow() as uow:
        b, _ = await repo(uow).get(buyback_id)
    if b.status is not BuybackStatus.ACCEPTED or b.customer_id is None:
        return b
    request = PayoutRequest(reference=b.id, customer_id=b.customer_id, amount_fen=b.amount_fen,
                            description=f"buy-back {b.id} ({b.product_id} x{len([p for p in b.pieces if p.accepted])})",
                            notify_url=f"{ctx.settings.public_base_url.rstrip('/')}/api/buybacks/notify",
                            idempotency_key=b.payout_key)
    try:
        reply = await payouts(ctx).create_payout(request)
    except PaymentGatewayUnavailable as exc:
        log.warning("payout of buy-back %s not sent yet: %s", b.id, exc.message)
        return b
    except PaymentGatewayError as exc:  # refused: staff look at it; it is not retried blindly
        return await _refused(ctx, b.id, exc.message)
    return await _apply_reply(ctx, b.id, reply, actor)


async def _refused(ctx: Commerce, buyback_id: str, why: str) -> Buyback:
    async def work(uow: UnitOfWork, _out: Outcome) -> Buyback:
        now = ctx.clock.now()
        b, _ = await repo(uow).get(buyback_id, for_update=True)
        if b.payout_failed("refused_by_backend", now):
            await repo(uow).save(b)
            await uow.append_audit(PAYMENT_BACKEND.event(now, "buyback_payout_failed", subject(b.id),
                                                         after={"failure": "refused_by_backend", "message": why}))
        return b

    done, _ = await transact(ctx, work)
    return done


async def retry_payout(ctx: Commerce, buyback_id: str, actor: Actor) -> Buyback:
    """Staff send a failed payout again, as a new attempt (a new idempotency key), audited."""
    async def work(uow: UnitOfWork, _out: Outcome) -> None:
        now = ctx.clock.now()
        b, _ = await repo(uow).get(buyback_id, for_update=True)
        if b.status is BuybackStatus.ACCEPTED:
            return  # the intent is there; send it
        b.retry_payout(now)
        await repo(uow).save(b)
        await uow.append_audit(actor.event(now, "buyback_payout_retried", subject(b.id),
                                           after={"attempt": b.payout_attempt}))

    await transact(ctx, work)
    return await send_payout(ctx, buyback_id, actor)


async def send_due_payouts(ctx: Commerce, limit: int = 50) -> int:
    """The sweeper's pass: accepted buy-backs whose payout never reached the backend are sent (same key). A store
    that keeps no buy-backs has none due."""
    async with ctx.uow() as uow:
        if getattr(uow, "buybacks", None) is None:
            return 0
        due = await repo(uow).awaiting_payout(limit)
    sent = 0
    for b in due:
        if (await send_payout(ctx, b.id)).status is not BuybackStatus.ACCEPTED:
            sent += 1
    return sent


# -- notifications ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PayoutNotice:
    event_id: str
    event_type: str
    payout_id: str
    reference: str
    customer_id: str
    amount_fen: int
    data: dict[str, Any]


def read_payout_notice(body: bytes) -> PayoutNotice:
    try:
        doc = json.loads(body)
        data = doc["data"]
        if not isinstance(data, dict):
            raise TypeError
        amount = data["amount_fen"]
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise TypeError
        return PayoutNotice(str(doc["id"]), str(doc["type"]), str(data["payout_id"]), str(data["reference"]),
                            str(data["customer_id"]), amount, data)
    except (ValueError, KeyError, TypeError):
        raise NoticeInvalid("a payout notification is JSON with id, type and data {payout_id, reference, "
                            "customer_id, amount_fen}") from None


@dataclass(frozen=True)
class PayoutReceipt:
    duplicate: bool
    status: str | None = None


async def handle_payout_notice(ctx: Commerce, body: bytes, signature: str | None) -> PayoutReceipt:
    """Verifies and applies one payout notification; a duplicate event does nothing."""
    now = ctx.clock.now()
    verify(ctx.settings.webhook_secrets(now), signature, body, now.timestamp())
    notice = read_payout_notice(body)

    async def work(uow: UnitOfWork, out: Outcome) -> str | None:
        if not await uow.record_event(notice.event_id, notice.event_type, now):
            out.duplicate = True
            return None
        r = repo(uow)
        b = await r.by_payout_id(notice.payout_id)
        matched_intent = b is None
        if b is None:  # the backend was faster than our write of its id: match the intent by reference
            try:
                b, _ = await r.get(notice.reference, for_update=True)
            except ShowroomError:
                raise NoticeUnknown(f"no payout {notice.payout_id!r} here") from None
            if b.payout_id is not None:
                raise NoticeMismatch(f"payout {notice.payout_id} is not the one of buy-back {b.id}")
            b.payout_created(notice.payout_id, notice.data.get("account_masked"), now)
        else:
            b, _ = await r.get(b.id, for_update=True)
        if (notice.reference != b.id or notice.customer_id != b.customer_id or notice.amount_fen != b.amount_fen
                or notice.data.get("currency", "CNY") != "CNY"):
            raise NoticeMismatch(f"payout notification {notice.payout_id} does not match buy-back {b.id}")
        if notice.event_type == "payout.succeeded":
            changed = b.paid_out(now)
            action = "buyback_paid_out"
        elif notice.event_type == "payout.failed":
            changed = b.payout_failed(str(notice.data.get("failure_code") or "failed"), now)
            action = "buyback_payout_failed"
        else:
            log.info("ignoring payout notification type %s", notice.event_type)
            return b.status.value
        if changed or matched_intent:
            await r.save(b)
        if changed:
            await uow.append_audit(PAYMENT_BACKEND.event(now, action, subject(b.id), after={
                "payout_id": notice.payout_id, "amount_fen": notice.amount_fen, "status": b.status.value,
                "failure": b.payout_failure, "event_id": notice.event_id}))
        return b.status.value

    status, outcome = await transact(ctx, work)
    return PayoutReceipt(outcome.duplicate, status)
