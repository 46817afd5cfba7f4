"""Reconciliation: what we recorded as succeeded on a settlement day against the backend's settlement file."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any, Literal

from showroom.orders import Payment, Refund
from showroom.ports import SettlementLine
from showroom.services._uow import Commerce

MismatchKind = Literal["ours_only", "theirs_only", "amount", "refund"]


@dataclass(frozen=True)
class Mismatch:
    kind: MismatchKind
    payment_id: str
    order_id: str
    ours_fen: int | None
    theirs_fen: int | None
    refund_id: str | None = None
    note: str = ""


@dataclass(frozen=True)
class ReconciliationReport:
    day: date
    matched: int
    mismatches: tuple[Mismatch, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"date": self.day.isoformat(), "matched": self.matched,
                "mismatches": [asdict(m) for m in self.mismatches]}


def _payments(ours: dict[str, Payment], theirs: dict[str, SettlementLine]) -> tuple[int, list[Mismatch]]:
    matched, out = 0, []
    for pid in sorted(set(ours) | set(theirs)):
        mine, their = ours.get(pid), theirs.get(pid)
        if mine and their:
            if mine.amount_fen == their.amount_fen:
                matched += 1
            else:
                out.append(Mismatch("amount", pid, mine.order_id, mine.amount_fen, their.amount_fen))
        elif mine:
            out.append(Mismatch("ours_only", pid, mine.order_id, mine.amount_fen, None))
        elif their:
            out.append(Mismatch("theirs_only", pid, their.order_id, None, their.amount_fen))
    return matched, out


def _refunds(ours: dict[str, Refund], theirs: dict[str, SettlementLine],
             gateway_id_of: dict[str, str]) -> tuple[int, list[Mismatch]]:
    matched, out = 0, []
    for rid in sorted(set(ours) | set(theirs)):
        mine, their = ours.get(rid), theirs.get(rid)
        if mine and their and mine.amount_fen == their.amount_fen:
            matched += 1
            continue
        pid = their.payment_id if their else gateway_id_of.get(mine.payment_id, "") if mine else ""
        order_id = their.order_id if their else mine.order_id if mine else ""
        note = ("amount differs" if mine and their else "refund only in our records" if mine
                else "refund only at the backend")
        out.append(Mismatch("refund", pid, order_id, mine.amount_fen if mine else None,
                            their.amount_fen if their else None, refund_id=rid, note=note))
    return matched, out


async def reconcile(ctx: Commerce, day: date) -> ReconciliationReport:
    """Compares what we recorded as succeeded on the settlement `day` (a calendar day at
    `settlement_utc_offset_h`, China Standard Time by default) with the backend's settlement file."""
    lines = await ctx.gateway.settlement(day)
    tz = timezone(timedelta(hours=ctx.settings.settlement_utc_offset_h))
    start = datetime.combine(day, time(0, 0), tzinfo=tz).astimezone(UTC)
    end = start + timedelta(days=1)
    async with ctx.uow() as uow:
        ours_p = {p.gateway_payment_id: p for p in await uow.payments_succeeded_between(start, end)
                  if p.gateway_payment_id}
        ours_r = {r.gateway_refund_id: r for r in await uow.refunds_succeeded_between(start, end)
                  if r.gateway_refund_id}
        gateway_id_of = {pid: (await uow.get_payment(pid)).gateway_payment_id or ""
                         for pid in {r.payment_id for r in ours_r.values()}}
    theirs_p = {ln.payment_id: ln for ln in lines if ln.kind == "payment"}
    theirs_r = {ln.refund_id or "": ln for ln in lines if ln.kind == "refund"}
    matched_p, out_p = _payments(ours_p, theirs_p)
    matched_r, out_r = _refunds(ours_r, theirs_r, gateway_id_of)
    return ReconciliationReport(day, matched_p + matched_r, tuple(out_p + out_r))
