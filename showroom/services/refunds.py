"""Refunds: the ones staff ask for (partial, several; four eyes above the teller limit), and the automatic ones
of extra payments. A refund is written as an intent, sent to the backend with its key, then settled by the
backend's answer or notification.

Four eyes (`showroom.staff`): a staff refund that, with the order's earlier staff refunds and those waiting for
approval, stays within `teller_refund_limit_cny` is written and sent at once; above it, or for an order already
handed over (`completed`: the goods come back), it becomes a `RefundApproval` in `pending_approval` that a manager
other than the requester approves (the refund is then written in the approval's transaction and sent) or rejects.
Amounts waiting for approval are held: nobody can ask for more than is left.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from decimal import Decimal

from showroom.audit import PAYMENT_BACKEND, SYSTEM, Actor, order_subject
from showroom.errors import ShowroomError
from showroom.orders import Order, Refund, RefundNotAllowed, RefundStatus, new_id
from showroom.ports import PaymentGatewayUnavailable, PaymentRejected, RefundReply, RefundRequest, UnitOfWork
from showroom.services import campaigns
from showroom.services._uow import Commerce, Outcome, transact
from showroom.staff import (
    ApprovalState,
    Permission,
    RefundApproval,
    RefundPolicy,
    StaffMember,
    check_approval,
    refund_needs_approval,
    require,
)

log = logging.getLogger("showroom.commerce")


class ApprovalDecided(ShowroomError):
    code = "refund_request_decided"
    http_status = 409


@dataclass(frozen=True)
class RequestRefund:
    order_id: str
    amount_fen: int | None = None
    """None: all that is left to refund."""
    reason: str = "customer_request"


def _held_fen(approvals: list[RefundApproval], but: str | None = None) -> int:
    return sum(a.amount_fen for a in approvals if a.state is ApprovalState.PENDING and a.id != but)


def _check_amount(order: Order, amount_fen: int, refunds: list[Refund], held_fen: int) -> None:
    order.ensure_refundable(amount_fen, refunds)
    left = order.refundable_fen(refunds) - held_fen
    if amount_fen > left:
        raise RefundNotAllowed(f"refund of {amount_fen} fen exceeds the {left} fen left to refund "
                               f"({held_fen} fen wait for approval)")


async def _write_refund(ctx: Commerce, uow: UnitOfWork, order: Order, amount_fen: int, reason: str, key: str,
                        actor: Actor, action: str = "refund_requested") -> Refund:
    """Writes a refund intent of the order's paying payment, bumps the order's version (concurrent refunds
    serialise on the order) and audits it."""
    now = ctx.clock.now()
    assert order.paid_payment_id is not None
    refund = Refund(id=new_id("rf"), order_id=order.id, payment_id=order.paid_payment_id, amount_fen=amount_fen,
                    reason=reason, status=RefundStatus.INTENT, idempotency_key=key, created_at=now, updated_at=now)
    await uow.add_refund(refund)
    order.updated_at = now
    await uow.save_order(order)
    await uow.append_audit(actor.event(now, action, order_subject(order.id),
                                       before={"status": order.status.value, "refunded_fen": order.refunded_fen},
                                       after={"refund_id": refund.id, "amount_fen": amount_fen, "reason": reason}))
    return refund


async def request_refund(ctx: Commerce, cmd: RequestRefund, client_key: str, *, actor: Actor = SYSTEM) -> Refund:
    """Writes a refund intent of the order's paying payment (at most what is left, counting refunds in flight and
    amounts waiting for approval) and sends it, with no approval: for the bank's own processes. Staff refunds go
    through `staff_refund`. `client_key` (the request's Idempotency-Key) makes the backend key."""
    key = f"refund:{cmd.order_id}:{client_key}"

    async def work(uow: UnitOfWork, out: Outcome) -> str:
        refunds = await uow.refunds_for_order(cmd.order_id)
        for r in refunds:
            if r.idempotency_key == key:
                return r.id
        order = await uow.get_order(cmd.order_id, for_update=True)
        held = _held_fen(await uow.refund_approvals(order_id=order.id, state=ApprovalState.PENDING))
        amount = order.refundable_fen(refunds) - held if cmd.amount_fen is None else cmd.amount_fen
        _check_amount(order, amount, refunds, held)
        return (await _write_refund(ctx, uow, order, amount, cmd.reason, key, actor)).id

    refund_id, _ = await transact(ctx, work)
    return await execute_refund(ctx, refund_id)


async def staff_refund(ctx: Commerce, cmd: RequestRefund, client_key: str, by: StaffMember,
                       actor: Actor) -> Refund | RefundApproval:
    """A teller's or manager's refund: sent at once within the limit, else waiting for a second person."""
    require(by, Permission.REQUEST_REFUND)
    key = f"refund:{cmd.order_id}:{client_key}"
    policy = RefundPolicy(ctx.settings.teller_refund_limit_cny)

    async def work(uow: UnitOfWork, out: Outcome) -> tuple[str, str]:
        refunds = await uow.refunds_for_order(cmd.order_id)
        for r in refunds:
            if r.idempotency_key == key:
                return "refund", r.id
        earlier = await uow.refund_approval_by_key(key)
        if earlier is not None:
            return "approval", earlier.id
        now = ctx.clock.now()
        order = await uow.get_order(cmd.order_id, for_update=True)
        approvals = await uow.refund_approvals(order_id=order.id, limit=1000)
        held = _held_fen(approvals)
        amount = order.refundable_fen(refunds) - held if cmd.amount_fen is None else cmd.amount_fen
        _check_amount(order, amount, refunds, held)
        by_staff = sum(r.amount_fen for r in refunds if r.counts and not r.automatic) + held
        if not refund_needs_approval(policy, by, Decimal(amount) / 100, already_refunded_cny=Decimal(by_staff) / 100,
                                     handed_over=order.handed_over):
            return "refund", (await _write_refund(ctx, uow, order, amount, cmd.reason, key, actor)).id
        approval = RefundApproval(id=new_id("rr"), order_id=order.id, amount_fen=amount, reason=cmd.reason,
                                  state=ApprovalState.PENDING, requested_by=by.name, requested_role=by.role,
                                  requested_at=now, idempotency_key=key)
        await uow.add_refund_approval(approval)
        order.updated_at = now
        await uow.save_order(order)  # serialises with refunds of the same order
        await uow.append_audit(actor.event(
            now, "refund_approval_requested", order_subject(order.id),
            before={"status": order.status.value, "refunded_fen": order.refunded_fen},
            after={"refund_request_id": approval.id, "amount_fen": amount, "reason": cmd.reason,
                   "state": approval.state.value, "teller_limit_cny": policy.teller_limit_cny,
                   "handed_over": order.handed_over}))
        return "approval", approval.id

    (kind, ident), _ = await transact(ctx, work)
    if kind == "refund":
        return await execute_refund(ctx, ident)
    async with ctx.uow() as uow:
        return await uow.get_refund_approval(ident)


async def list_approvals(ctx: Commerce, state: ApprovalState | None, limit: int = 100,
                         offset: int = 0) -> list[RefundApproval]:
    async with ctx.uow() as uow:
        return await uow.refund_approvals(state=state, limit=limit, offset=offset)


async def approve(ctx: Commerce, approval_id: str, by: StaffMember, actor: Actor) -> tuple[RefundApproval, Refund]:
    """A manager other than the requester approves: the refund is written in the same transaction, then sent."""

    async def work(uow: UnitOfWork, out: Outcome) -> tuple[RefundApproval, str]:
        approval = await uow.get_refund_approval(approval_id)
        check_approval(approval.requested_by, by)
        if approval.state is not ApprovalState.PENDING:
            raise ApprovalDecided(f"refund request {approval.id} is {approval.state.value} already")
        now = ctx.clock.now()
        order = await uow.get_order(approval.order_id, for_update=True)
        refunds = await uow.refunds_for_order(order.id)
        others = await uow.refund_approvals(order_id=order.id, state=ApprovalState.PENDING, limit=1000)
        _check_amount(order, approval.amount_fen, refunds, _held_fen(others, but=approval.id))
        refund = await _write_refund(ctx, uow, order, approval.amount_fen, approval.reason,
                                     f"approval:{approval.id}", actor, action="refund_approved")
        saved = await uow.save_refund_approval(replace(approval, state=ApprovalState.APPROVED, decided_by=by.name,
                                                       decided_at=now, refund_id=refund.id))
        return saved, refund.id

    (saved, refund_id), _ = await transact(ctx, work)
    return saved, await execute_refund(ctx, refund_id)


async def reject(ctx: Commerce, approval_id: str, by: StaffMember, actor: Actor, reason: str) -> RefundApproval:
    """A manager turns a refund request down (no money moves)."""
    require(by, Permission.APPROVE_REFUND)

    async def work(uow: UnitOfWork, out: Outcome) -> RefundApproval:
        approval = await uow.get_refund_approval(approval_id)
        if approval.state is not ApprovalState.PENDING:
            raise ApprovalDecided(f"refund request {approval.id} is {approval.state.value} already")
        now = ctx.clock.now()
        saved = await uow.save_refund_approval(replace(approval, state=ApprovalState.REJECTED, decided_by=by.name,
                                                       decided_at=now, decision_reason=reason))
        await uow.append_audit(actor.event(now, "refund_rejected", order_subject(approval.order_id),
                                           before={"refund_request_id": approval.id, "state": approval.state.value},
                                           after={"state": saved.state.value, "reason": reason,
                                                  "amount_fen": approval.amount_fen}))
        return saved

    saved, _ = await transact(ctx, work)
    return saved


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
            await uow.append_audit(SYSTEM.event(r.updated_at, "refund_sent", order_subject(order.id),
                                                before={"refund_status": RefundStatus.INTENT.value},
                                                after={"refund_id": r.id, "gateway_refund_id": r.gateway_refund_id,
                                                       "amount_fen": r.amount_fen}))
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
        before = {"status": order.status.value, "refunded_fen": order.refunded_fen, "refund_status": refund.status.value}
        refund.status, refund.succeeded_at, refund.updated_at = RefundStatus.SUCCEEDED, now, now
        order.apply_refund_succeeded(refund, now)
        await uow.save_order(order)
        if refund.payment_id == order.paid_payment_id and not refund.automatic:
            await campaigns.on_refunded(ctx, uow, order, refund.id, now)
        await uow.append_audit(PAYMENT_BACKEND.event(
            now, "refunded", order_subject(order.id), before=before,
            after={"status": order.status.value, "refunded_fen": order.refunded_fen, "refund_id": refund.id,
                   "amount_fen": refund.amount_fen, "automatic": refund.automatic}))
    elif not succeeded and refund.status in (RefundStatus.INTENT, RefundStatus.PENDING):
        before = {"refund_status": refund.status.value}
        refund.status, refund.updated_at = RefundStatus.FAILED, now
        await uow.append_audit(PAYMENT_BACKEND.event(
            now, "refund_failed", order_subject(order.id), before=before,
            after={"refund_id": refund.id, "automatic": refund.automatic, "amount_fen": refund.amount_fen,
                   "refund_status": refund.status.value}))
        log.warning("refund %s of order %s failed at the backend: an operator must act", refund.id, order.id)
    await uow.save_refund(refund)
    out.events.extend(order.events)
