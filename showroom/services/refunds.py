"""Refunds: the customer's (partial, several), and the automatic ones of extra payments. A refund is written as
an intent, sent to the backend with its key, then settled by the backend's answer or notification."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from showroom.orders import Order, Refund, RefundStatus, new_id
from showroom.ports import PaymentGatewayUnavailable, PaymentRejected, RefundReply, RefundRequest, UnitOfWork
from showroom.services._uow import Commerce, Outcome, transact

log = logging.getLogger("showroom.commerce")


@dataclass(frozen=True)
class RequestRefund:
    order_id: str
    amount_fen: int | None = None
    """None: all that is left to refund."""
    reason: str = "customer_request"


async def request_refund(ctx: Commerce, cmd: RequestRefund, client_key: str) -> Refund:
    """Writes a refund intent of the order's paying payment (at most what is left, counting refunds in flight)
    and sends it. `client_key` (the request's Idempotency-Key) makes the backend key."""
    key = f"refund:{cmd.order_id}:{client_key}"

    async def work(uow: UnitOfWork, out: Outcome) -> str:
        refunds = await uow.refunds_for_order(cmd.order_id)
        for r in refunds:
            if r.idempotency_key == key:
                return r.id
        now = ctx.clock.now()
        order = await uow.get_order(cmd.order_id, for_update=True)
        amount = order.refundable_fen(refunds) if cmd.amount_fen is None else cmd.amount_fen
        order.ensure_refundable(amount, refunds)
        assert order.paid_payment_id is not None
        refund = Refund(id=new_id("rf"), order_id=order.id, payment_id=order.paid_payment_id, amount_fen=amount,
                        reason=cmd.reason, status=RefundStatus.INTENT, idempotency_key=key, created_at=now,
                        updated_at=now)
        await uow.add_refund(refund)
        order.updated_at = now
        await uow.save_order(order)  # bumps the version: concurrent refunds serialise on the order
        await uow.add_audit(order.id, "refund_requested", {"refund_id": refund.id, "amount_fen": amount,
                                                           "reason": cmd.reason}, now)
        return refund.id

    refund_id, _ = await transact(ctx, work)
    return await execute_refund(ctx, refund_id)


async def execute_refund(ctx: Commerce, refund_id: str) -> Refund:
    """Sends an intent refund to the backend (idempotent by its key); retried by the sweeper on failure."""
    async with ctx.uow() as uow:
        refund = await uow.get_refund(refund_id)
        payment = await uow.get_payment(refund.payment_id)
    if refund.status is not RefundStatus.INTENT or payment.gateway_payment_id is None:
        return refund
    reply: RefundReply | None
    try:
        reply = await ctx.gateway.refund(RefundRequest(payment.gateway_payment_id, refund.amount_fen,
                                                       refund.reason, refund.idempotency_key))
    except PaymentGatewayUnavailable:
        log.warning("refund %s not sent: payment backend unavailable; the sweeper retries", refund_id)
        return refund
    except PaymentRejected as exc:
        log.warning("refund %s rejected by the backend: %s", refund_id, exc.message)
        reply = None

    async def record(uow: UnitOfWork, out: Outcome) -> Refund:
        order = await uow.get_order(refund.order_id, for_update=True)
        r = await uow.get_refund(refund_id)
        if reply is None:
            await apply_refund_status(ctx, uow, out, order, r, succeeded=False)
            return r
        if r.gateway_refund_id is None:
            r.gateway_refund_id = reply.refund_id
        if r.status is RefundStatus.INTENT:
            r.status, r.updated_at = RefundStatus.PENDING, ctx.clock.now()
        if reply.status == "succeeded":
            await apply_refund_status(ctx, uow, out, order, r, succeeded=True)
        elif reply.status == "failed":
            await apply_refund_status(ctx, uow, out, order, r, succeeded=False)
        else:
            await uow.save_refund(r)
        return r

    done, _ = await transact(ctx, record)
    return done


async def execute_all(ctx: Commerce, refund_ids: list[str]) -> None:
    """Sends the automatic refunds a committed transaction wrote."""
    for refund_id in refund_ids:
        await execute_refund(ctx, refund_id)


async def apply_refund_status(ctx: Commerce, uow: UnitOfWork, out: Outcome, order: Order, refund: Refund, *,
                              succeeded: bool) -> None:
    """The backend settled `refund` (idempotent: a refund changes state once)."""
    now = ctx.clock.now()
    if succeeded and refund.status is not RefundStatus.SUCCEEDED:
        refund.status, refund.succeeded_at, refund.updated_at = RefundStatus.SUCCEEDED, now, now
        order.apply_refund_succeeded(refund, now)
        await uow.save_order(order)
        await uow.add_audit(order.id, "refunded", {"refund_id": refund.id, "amount_fen": refund.amount_fen}, now)
    elif not succeeded and refund.status in (RefundStatus.INTENT, RefundStatus.PENDING):
        refund.status, refund.updated_at = RefundStatus.FAILED, now
        await uow.add_audit(order.id, "refund_failed", {"refund_id": refund.id, "automatic": refund.automatic,
                                                        "amount_fen": refund.amount_fen}, now)
        log.warning("refund %s of order %s failed at the backend: an operator must act", refund.id, order.id)
    await uow.save_refund(refund)
    out.events.extend(order.events)
