"""Background work: finish what a crash (or an unreachable backend) left, and keep the books tidy. Run on start
(`recover`) and by the sweeper (`sweep`)."""

from __future__ import annotations

import logging
from datetime import timedelta

from showroom.errors import ShowroomError
from showroom.orders import PaymentStatus, RefundStatus
from showroom.services import buyback_payouts, payments, pickups, refunds
from showroom.services._uow import Commerce
from showroom.services.orders import expire_due

log = logging.getLogger("showroom.commerce")

SWEEP_INTENT_AGE_S = 30.0
QUOTES_KEPT = timedelta(days=1)
IDEMPOTENCY_KEPT = timedelta(days=1)
"""A replayed Idempotency-Key older than this makes a new request; the first reply (for an order: its token) is
not kept longer than needed."""


async def recover(ctx: Commerce, *, intent_age_s: float = 0.0) -> dict[str, int]:
    """Intent payments and refunds are sent again with their idempotency keys; payments pending too long are
    queried at the backend. Returns what was done."""
    now = ctx.clock.now()
    counts = {"payments_submitted": 0, "refunds_submitted": 0, "payments_queried": 0}
    async with ctx.uow() as uow:
        intents = await uow.payments_in((PaymentStatus.INTENT,), now - timedelta(seconds=intent_age_s))
        refund_intents = await uow.refunds_in((RefundStatus.INTENT,), now - timedelta(seconds=intent_age_s))
        stale = await uow.payments_in((PaymentStatus.PENDING,),
                                      now - timedelta(seconds=ctx.settings.pending_query_after_s))
    for p in intents:
        try:
            await payments.submit_payment(ctx, p.id)
            counts["payments_submitted"] += 1
        except ShowroomError as exc:
            log.warning("could not submit payment %s: %s", p.id, exc.message)
    for r in refund_intents:
        done = await refunds.execute_refund(ctx, r.id)
        counts["refunds_submitted"] += done.status is not RefundStatus.INTENT
    for p in stale:
        if p.gateway_payment_id is None:
            continue
        try:
            await payments.apply_gateway_payment(ctx, await ctx.gateway.query_payment(p.gateway_payment_id))
            counts["payments_queried"] += 1
        except ShowroomError as exc:
            log.warning("could not query payment %s: %s", p.id, exc.message)
    return counts


async def sweep(ctx: Commerce) -> dict[str, int]:
    """One sweeper run: recovery of older intents, expiry of unpaid orders, missed pick-ups, buy-back payouts that
    never reached the backend, unused quotes and idempotency records a day old dropped."""
    counts = await recover(ctx, intent_age_s=SWEEP_INTENT_AGE_S)
    counts["orders_expired"] = await expire_due(ctx)
    counts.update(await pickups.sweep_missed(ctx))  # missed branch pick-ups: extended once, then refunded
    counts["payouts_sent"] = await buyback_payouts.send_due_payouts(ctx)  # accepted buy-backs never paid out
    async with ctx.uow() as uow:
        counts["quotes_deleted"] = await uow.delete_quotes_expired_before(ctx.clock.now() - QUOTES_KEPT)
        counts["idempotency_deleted"] = await uow.delete_idempotency_before(ctx.clock.now() - IDEMPOTENCY_KEPT)
        await uow.commit()
    return counts
