"""Payments: start one for an order (intent first, then the backend), and bring a payment in line with what the
backend says (a notification, or its answer to a query). A successful payment that does not pay the order (a
second one, one after expiry, one of another amount) is refunded in full automatically."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from showroom import compliance
from showroom.audit import PAYMENT_BACKEND, order_subject
from showroom.orders import (
    OPEN_STATUSES,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    new_id,
)
from showroom.ports import (
    CreatePaymentRequest,
    GatewayPayment,
    PaymentMethod,
    PaymentRejected,
    UnitOfWork,
    WalletFacts,
)
from showroom.services import campaigns, refunds
from showroom.services._idempotency import Claim
from showroom.services._uow import Commerce, Outcome, transact

log = logging.getLogger("showroom.commerce")

GATEWAY_STATUSES = {"succeeded": PaymentStatus.SUCCEEDED, "failed": PaymentStatus.FAILED,
                    "expired": PaymentStatus.EXPIRED}


@dataclass(frozen=True)
class StartPayment:
    """Anyone holding the order id may start a payment (like a payment link: paying someone's order harms
    nobody); the reply carries only what the payer needs. The method is the payer's choice; an e-CNY wallet's tier
    and limits are the payment backend's answer, never the payer's."""

    order_id: str
    method: PaymentMethod


async def start_payment(ctx: Commerce, cmd: StartPayment, client_key: str,
                        claim: Claim[Payment] | None = None) -> Payment:
    """Writes the payment as an intent (once per `client_key`, the request's Idempotency-Key), then creates it
    at the backend. With the request's `claim`, the key is taken in the intent's transaction and the answer
    stored in the one that records the backend's reply."""
    gateway_key = f"{cmd.order_id}:{client_key}"
    written: list[Order] = []

    async def work(uow: UnitOfWork, out: Outcome) -> Payment:
        written.clear()
        if claim is not None:
            await claim.begin(uow)
        existing = await uow.payment_by_key(gateway_key)
        if existing is not None:
            return existing
        now = ctx.clock.now()
        order = await uow.get_order(cmd.order_id, for_update=True)
        order.ensure_payable(now)
        await campaigns.check_payment_method(uow, order, cmd.method)
        payment = Payment(id=new_id("pay"), order_id=order.id, method=cmd.method, amount_fen=order.amount_fen,
                          status=PaymentStatus.INTENT, idempotency_key=gateway_key, created_at=now,
                          updated_at=now)
        order.payment_started(now)
        await uow.save_order(order)
        await uow.add_payment(payment)
        out.events.extend(order.events)
        written.append(order)
        return payment

    payment, _ = await transact(ctx, work)
    if claim is not None:
        claim.committed()
    if payment.status is PaymentStatus.INTENT:
        # the intent and its order as this transaction committed them: no need to read them again
        payment = await submit_payment(ctx, payment.id, (payment, written[0]) if written else None, claim)
    return payment


async def submit_payment(ctx: Commerce, payment_id: str, committed: tuple[Payment, Order] | None = None,
                         claim: Claim[Payment] | None = None) -> Payment:
    """Creates an intent payment at the backend (idempotent by its key) and records the backend's ids.
    `committed`: the payment and its order as the caller's transaction just committed them (else read here);
    `claim`: the request's Idempotency-Key, whose answer is stored with the backend's ids."""
    if committed is not None:
        payment, order = committed
    else:
        async with ctx.uow() as uow:
            payment = await uow.get_payment(payment_id)
            order = await uow.get_order(payment.order_id)
    if payment.status is not PaymentStatus.INTENT:
        return payment
    left_s = int((order.expires_at - ctx.clock.now()).total_seconds())
    product = ctx.catalog.get(order.product_id)
    base = ctx.settings.public_base_url
    request = CreatePaymentRequest(
        order_id=order.id, amount_fen=payment.amount_fen, method=payment.method,  # type: ignore[arg-type]
        description=f"{product.name.zh} x{order.quantity}"[:120], notify_url=f"{base}/api/payments/notify",
        return_url=f"{base}/phone?order={order.id}",
        expires_in_s=max(60, min(ctx.settings.payment_expires_in_s, left_s)), idempotency_key=payment.idempotency_key,
        payer_phone=_phone(order) if payment.method == "ecny_wallet" else None)

    async def fail(code: str, wallet: WalletFacts | None = None) -> None:
        async def work(uow: UnitOfWork, out: Outcome) -> None:
            await uow.get_order(order.id, for_update=True)  # payment rows change under the order's lock
            p = await uow.get_payment(payment_id)
            if p.status is PaymentStatus.INTENT:
                p.status, p.failure_code, p.updated_at = PaymentStatus.FAILED, code, ctx.clock.now()
                p.wallet_tier = None if wallet is None else wallet.tier
                await uow.save_payment(p)

        await transact(ctx, work)

    try:
        created = await ctx.gateway.create_payment(request)
    except PaymentRejected:
        await fail("rejected")
        raise
    if payment.method == "ecny_wallet":
        try:
            await _check_wallet(ctx, order, payment, created.wallet)
        except compliance.ComplianceRefused:
            await fail("limit_exceeded", created.wallet)
            raise

    async def record(uow: UnitOfWork, out: Outcome) -> Payment:
        await uow.get_order(order.id, for_update=True)  # a notice may be changing this payment right now
        p = await uow.get_payment(payment_id)
        p.gateway_payment_id = created.payment_id
        p.pay_url, p.qr_png_url, p.expires_at = created.pay_url, created.qr_png_url, created.expires_at
        if created.wallet is not None:
            p.wallet_tier = created.wallet.tier
        if p.status is PaymentStatus.INTENT:
            p.status = PaymentStatus.PENDING
        p.updated_at = ctx.clock.now()
        await uow.save_payment(p)
        if claim is not None:
            await claim.finish(uow, p)
        return p

    done, _ = await transact(ctx, record)
    return done


def _phone(order: Order) -> str | None:
    phone = order.customer.get("phone")
    return phone if isinstance(phone, str) and phone else None


def _cny(fen: int | None) -> Decimal | None:
    return None if fen is None else Decimal(fen) / 100


async def _check_wallet(ctx: Commerce, order: Order, payment: Payment, wallet: WalletFacts | None) -> None:
    """Refuses (`LimitExceeded`) an e-CNY wallet payment over the limits of the wallet the backend reported.
    A backend that names the tier but no limits gets the tier's published limits; one that reports no wallet at
    all is refused: the limits are never assumed."""
    if wallet is None:
        raise compliance.ComplianceRefused("the payment backend reported no e-CNY wallet for this payment; "
                                           "choose another method")
    limits = compliance.WalletTier(wallet.tier, _cny(wallet.single_limit_fen), _cny(wallet.daily_limit_fen),
                                   _cny(wallet.balance_limit_fen))
    if (wallet.single_limit_fen, wallet.daily_limit_fen, wallet.balance_limit_fen) == (None, None, None) \
            and wallet.tier != 1:
        limits = compliance.wallet_limits(ctx.compliance, wallet.tier)
    customer_id = order.customer.get("customer_id") or _phone(order) or order.id
    async with ctx.uow() as uow:
        activity = await uow.customer_activity(str(customer_id), ctx.clock.now())
    # today's wallet total counts this payment's own intent row: take it out before adding the amount again
    spent = max(activity.wallet_paid_today_cny - Decimal(payment.amount_fen) / 100, Decimal(0))
    compliance.check_wallet_payment(limits, Decimal(payment.amount_fen) / 100,
                                    compliance.CustomerActivity(wallet_paid_today_cny=spent))


async def apply_payment_status(ctx: Commerce, uow: UnitOfWork, out: Outcome, order: Order, payment: Payment,
                               status: PaymentStatus, failure_code: object = None) -> None:
    """The backend settled `payment` (idempotent). A success that does not pay the order writes a full refund
    intent into `out.refunds`, for the caller to execute after the commit."""
    now = ctx.clock.now()
    if status is not PaymentStatus.SUCCEEDED:
        if payment.status in (PaymentStatus.INTENT, PaymentStatus.PENDING):
            payment.status, payment.updated_at = status, now
            payment.failure_code = None if failure_code is None else str(failure_code)[:64]
            order.apply_payment_failed(payment, now)
            await uow.save_order(order)
        await uow.save_payment(payment)
        out.events.extend(order.events)
        return
    if payment.status is PaymentStatus.SUCCEEDED:
        await uow.save_payment(payment)
        return
    payment.status, payment.succeeded_at, payment.updated_at = PaymentStatus.SUCCEEDED, now, now
    await uow.save_payment(payment)
    was_open, was_status = order.status in OPEN_STATUSES, order.status
    refund_fen = order.apply_payment_succeeded(payment, now)
    take_stock = order.paid_payment_id == payment.id and was_open
    if order.paid_payment_id == payment.id:
        await uow.append_audit(PAYMENT_BACKEND.event(
            now, "paid", order_subject(order.id), before={"status": was_status.value},
            after={"status": order.status.value, "payment_id": payment.id, "amount_fen": payment.amount_fen,
                   "gateway_payment_id": payment.gateway_payment_id}))
        if order.share_token_id:
            await uow.count_share(order.share_token_id, purchases=1)
        await campaigns.on_paid(ctx, uow, order, now)
    if refund_fen > 0:
        await _refund_extra_payment(uow, out, order, payment, refund_fen, now)
    await uow.save_order(order)
    if take_stock:  # the order's pieces leave the shelf; they stay locked until the commit, so this comes last
        await uow.take_stock(order.branch_id, order.product_id, order.variant_id, order.quantity)
    out.events.extend(order.events)


async def _refund_extra_payment(uow: UnitOfWork, out: Outcome, order: Order, payment: Payment, amount_fen: int,
                                now: datetime) -> None:
    reason = ("paid_after_expiry" if order.status in (OrderStatus.EXPIRED, OrderStatus.CANCELLED)
              else "duplicate_payment" if order.paid_payment_id else "amount_mismatch")
    refund = Refund(id=new_id("rf"), order_id=order.id, payment_id=payment.id, amount_fen=amount_fen, reason=reason,
                    status=RefundStatus.INTENT, idempotency_key=f"auto:{payment.id}", created_at=now,
                    updated_at=now, automatic=True)
    await uow.add_refund(refund)
    await uow.add_audit(order.id, "automatic_refund", {"payment_id": payment.id, "amount_fen": amount_fen,
                                                       "reason": reason}, now)
    out.refunds.append(refund.id)


async def apply_gateway_payment(ctx: Commerce, gp: GatewayPayment) -> None:
    """Brings our payment in line with the backend's answer to a query (used by recovery)."""
    status = GATEWAY_STATUSES.get(gp.status)
    if status is None:
        return

    async def work(uow: UnitOfWork, out: Outcome) -> None:
        found = await uow.payment_by_gateway_id(gp.payment_id)
        if found is None:
            return
        order = await uow.get_order(found.order_id, for_update=True)
        payment = await uow.get_payment(found.id)
        if gp.amount_fen != payment.amount_fen or gp.order_id != order.id:
            log.error("backend payment %s does not match ours (%s): not applied", gp.payment_id, payment.id)
            return
        await apply_payment_status(ctx, uow, out, order, payment, status, gp.failure_code)

    _, outcome = await transact(ctx, work)
    await refunds.execute_all(ctx, outcome.refunds)
