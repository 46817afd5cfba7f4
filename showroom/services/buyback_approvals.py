"""Four eyes on large buy-back payouts (`showroom.buyback`, "Four eyes"): an inspection whose amount is above
`buyback_four_eyes_cny` leaves the buy-back `awaiting_approval`, its serials claimed (no other inspection can buy
them meanwhile) but its certificates still valid and nothing sent to the payment backend. A second staff member
with APPROVE_PAYOUT, never the one who inspected, then

- approves: in one transaction the buy-back becomes `accepted` (the payout's intent, key `buyback:<id>:0`), the
  pieces' certificates are revoked and the approval audited; the payout is then sent exactly like a payout below
  the limit (`buyback_payouts.send_payout`, idempotent by its key, so a second approval or a retry pays once);
- or rejects, with a reason: the buy-back is `rejected` (the bank does not buy, the pieces go back to the
  customer), its serials are released, audited; no money moves.

A decision on a buy-back that is not waiting (decided already, or never needed one) is 409
`buyback_approval_decided`.
"""

from __future__ import annotations

from showroom.audit import Actor
from showroom.buyback import Buyback, BuybackStatus
from showroom.ports import UnitOfWork
from showroom.services._uow import Commerce, Outcome, transact
from showroom.services.buyback_payouts import send_payout
from showroom.services.buybacks import repo, revoke_accepted, subject
from showroom.staff import ApprovalState, Permission, StaffMember, require


async def list_approvals(ctx: Commerce, state: ApprovalState | None, limit: int = 100,
                         offset: int = 0) -> list[Buyback]:
    """Buy-backs under four eyes in `state` (None: any), the latest inspected first."""
    async with ctx.uow() as uow:
        return await repo(uow).approvals(state, limit, offset)


async def approve(ctx: Commerce, buyback_id: str, by: StaffMember, actor: Actor) -> Buyback:
    """A second person approves a large payout: the intent is written with the approval, then sent once."""

    async def work(uow: UnitOfWork, _out: Outcome) -> Buyback:
        now = ctx.clock.now()
        r = repo(uow)
        b, _ = await r.get(buyback_id, for_update=True)
        b.approve_payout(by, now)
        await revoke_accepted(r, b, now)
        await r.save(b)
        await uow.append_audit(actor.event(
            now, "buyback_payout_approved", subject(b.id),
            before={"status": BuybackStatus.AWAITING_APPROVAL.value, "approval": ApprovalState.PENDING.value},
            after={"status": b.status.value, "approval": ApprovalState.APPROVED.value, "amount_fen": b.amount_fen,
                   "inspected_by": b.inspected_by, "payout_key": b.payout_key}))
        return b

    approved, _ = await transact(ctx, work)
    return await send_payout(ctx, approved.id, actor)


async def reject(ctx: Commerce, buyback_id: str, by: StaffMember, actor: Actor, reason: str) -> Buyback:
    """The bank does not buy: the serials are released and no money moves."""
    require(by, Permission.APPROVE_PAYOUT)

    async def work(uow: UnitOfWork, _out: Outcome) -> Buyback:
        now = ctx.clock.now()
        r = repo(uow)
        b, _ = await r.get(buyback_id, for_update=True)
        b.reject_payout(by, reason, now)
        released = await r.release_serials(b.id)
        await r.save(b)
        await uow.append_audit(actor.event(
            now, "buyback_payout_rejected", subject(b.id),
            before={"status": BuybackStatus.AWAITING_APPROVAL.value, "approval": ApprovalState.PENDING.value},
            after={"status": b.status.value, "approval": ApprovalState.REJECTED.value, "reason": reason,
                   "amount_fen": b.amount_fen, "inspected_by": b.inspected_by, "serials_released": released}))
        return b

    rejected, _ = await transact(ctx, work)
    return rejected
