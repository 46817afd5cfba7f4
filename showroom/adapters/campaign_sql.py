"""The campaigns part of the SQL unit of work (`SqlUnitOfWork.campaigns`): campaigns, coupons, points and the
discount lines of orders, on the unit of work's connection (so in its transaction).

Money and points never go below zero under concurrency: the budget and a points balance move down only by one
conditional `UPDATE ... SET x = x - :n WHERE x >= :n` (PostgreSQL takes the row lock and re-checks the condition
on the latest committed row; SQLite has one writer at a time). A coupon's (campaign, customer, slot) is unique, so
two concurrent claims over the per-customer limit cannot both commit (the loser's transaction is retried).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from showroom.adapters import _statements as st
from showroom.adapters import tables as t
from showroom.adapters._rows import utc, utc_req
from showroom.adapters._versioned import update_versioned
from showroom.campaigns import (
    Campaign,
    CampaignKind,
    CampaignNotFound,
    CampaignState,
    Coupon,
    CouponState,
    DiscountLine,
    LineKind,
    OrderCampaignState,
)


def _campaign_values(c: Campaign) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "kind": c.kind.value, "code": c.code, "public": c.public,
            "budget_fen": c.budget_fen, "remaining_fen": c.remaining_fen,
            "per_customer_limit": c.per_customer_limit, "starts_at": c.starts_at, "ends_at": c.ends_at,
            "amount_off_fen": c.amount_off_fen, "percent": str(c.percent), "cap_fen": c.cap_fen,
            "ecny_only": c.ecny_only, "min_spend_fen": c.min_spend_fen, "product_ids": json.dumps(c.product_ids),
            "kinds": json.dumps(c.kinds), "state": c.state.value, "created_by": c.created_by,
            "created_at": c.created_at, "decided_by": c.decided_by, "decided_at": c.decided_at}


def _campaign(row: Any) -> Campaign:
    return Campaign(id=row["id"], name=row["name"], kind=CampaignKind(row["kind"]), code=row["code"],
                    public=bool(row["public"]), budget_fen=int(row["budget_fen"]),
                    remaining_fen=int(row["remaining_fen"]), per_customer_limit=int(row["per_customer_limit"]),
                    starts_at=utc_req(row["starts_at"]), ends_at=utc_req(row["ends_at"]),
                    created_by=row["created_by"], created_at=utc_req(row["created_at"]),
                    amount_off_fen=int(row["amount_off_fen"]), percent=Decimal(row["percent"]),
                    cap_fen=int(row["cap_fen"]), ecny_only=bool(row["ecny_only"]),
                    min_spend_fen=int(row["min_spend_fen"]), product_ids=tuple(json.loads(row["product_ids"])),
                    kinds=tuple(json.loads(row["kinds"])), state=CampaignState(row["state"]),
                    decided_by=row["decided_by"], decided_at=utc(row["decided_at"]), version=int(row["version"]))


def _coupon(row: Any) -> Coupon:
    return Coupon(id=row["id"], campaign_id=row["campaign_id"], customer_id=row["customer_id"], slot=int(row["slot"]),
                  reserved_fen=int(row["reserved_fen"]), state=CouponState(row["state"]),
                  claimed_at=utc_req(row["claimed_at"]), order_id=row["order_id"],
                  discount_fen=int(row["discount_fen"]), version=int(row["version"]))


def _line(d: dict[str, Any]) -> DiscountLine:
    return DiscountLine(LineKind(d["kind"]), int(d["amount_fen"]), str(d["label"]), d.get("campaign_id"),
                        d.get("coupon_id"), int(d.get("points", 0)), bool(d.get("ecny_only", False)))


class CampaignSql:
    """`showroom.campaigns`' store over one transaction's connection."""

    def __init__(self, conn: AsyncConnection, is_sqlite: bool) -> None:
        self.conn = conn
        self.is_sqlite = is_sqlite

    # -- campaigns ----------------------------------------------------------------------------------------------

    async def add_campaign(self, c: Campaign) -> None:
        await self.conn.execute(insert(t.campaigns).values(version=0, **_campaign_values(c)))

    async def get_campaign(self, campaign_id: str, *, for_update: bool = False) -> Campaign:
        q = select(t.campaigns).where(t.campaigns.c.id == campaign_id)
        if for_update and not self.is_sqlite:
            q = q.with_for_update()
        row = (await self.conn.execute(q)).mappings().first()
        if row is None:
            raise CampaignNotFound(f"no campaign {campaign_id[:64]!r}")
        return _campaign(row)

    async def campaign_by_code(self, code: str) -> Campaign | None:
        row = (await self.conn.execute(select(t.campaigns).where(t.campaigns.c.code == code))).mappings().first()
        return None if row is None else _campaign(row)

    async def campaigns(self, *, state: CampaignState | None = None, public_only: bool = False,
                        limit: int = 200) -> list[Campaign]:
        q = select(t.campaigns)
        if state is not None:
            q = q.where(t.campaigns.c.state == state.value)
        if public_only:
            q = q.where(t.campaigns.c.public.is_(True))
        rows = (await self.conn.execute(q.order_by(t.campaigns.c.created_at.desc()).limit(limit))).mappings().all()
        return [_campaign(r) for r in rows]

    async def save_campaign_state(self, c: Campaign) -> None:
        """Writes the state and decision (never the budget: that moves by `take_budget`/`give_budget` alone)."""
        c.version = await update_versioned(self.conn, t.campaigns, t.campaigns.c.id, c.id, c.version,
                                           {"state": c.state.value, "decided_by": c.decided_by,
                                            "decided_at": c.decided_at}, f"campaign {c.id}")

    async def take_budget(self, campaign_id: str, fen: int) -> bool:
        """Takes `fen` from the remaining budget if that much is left; False (nothing changed) otherwise."""
        res = await self.conn.execute(
            update(t.campaigns)
            .where(and_(t.campaigns.c.id == campaign_id, t.campaigns.c.remaining_fen >= fen))
            .values(remaining_fen=t.campaigns.c.remaining_fen - fen))
        return bool(res.rowcount == 1)

    async def give_budget(self, campaign_id: str, fen: int) -> None:
        if fen > 0:
            await self.conn.execute(update(t.campaigns).where(t.campaigns.c.id == campaign_id)
                                    .values(remaining_fen=t.campaigns.c.remaining_fen + fen))

    # -- coupons ------------------------------------------------------------------------------------------------

    async def coupon_count(self, campaign_id: str, customer_id: str) -> int:
        q = select(func.count()).select_from(t.coupons).where(
            and_(t.coupons.c.campaign_id == campaign_id, t.coupons.c.customer_id == customer_id))
        return int((await self.conn.execute(q)).scalar_one())

    async def add_coupon(self, c: Coupon) -> None:
        """A second coupon in the same (campaign, customer, slot) fails with IntegrityError: the transaction is
        retried and sees the first."""
        await self.conn.execute(insert(t.coupons).values(
            id=c.id, campaign_id=c.campaign_id, customer_id=c.customer_id, slot=c.slot,
            reserved_fen=c.reserved_fen, state=c.state.value, claimed_at=c.claimed_at, order_id=c.order_id,
            discount_fen=c.discount_fen, version=0))

    async def get_coupon(self, coupon_id: str) -> Coupon | None:
        row = (await self.conn.execute(select(t.coupons).where(t.coupons.c.id == coupon_id))).mappings().first()
        return None if row is None else _coupon(row)

    async def coupons_of(self, customer_id: str, campaign_id: str | None = None) -> list[Coupon]:
        q = select(t.coupons).where(t.coupons.c.customer_id == customer_id)
        if campaign_id is not None:
            q = q.where(t.coupons.c.campaign_id == campaign_id)
        rows = (await self.conn.execute(q.order_by(t.coupons.c.claimed_at))).mappings().all()
        return [_coupon(r) for r in rows]

    async def save_coupon(self, c: Coupon) -> None:
        c.version = await update_versioned(self.conn, t.coupons, t.coupons.c.id, c.id, c.version,
                                           {"state": c.state.value, "order_id": c.order_id,
                                            "discount_fen": c.discount_fen, "reserved_fen": c.reserved_fen},
                                           f"coupon {c.id}")

    async def redeemed_fen(self, campaign_id: str) -> int:
        q = select(func.coalesce(func.sum(t.coupons.c.discount_fen), 0)).where(
            and_(t.coupons.c.campaign_id == campaign_id, t.coupons.c.state == CouponState.REDEEMED.value))
        return int((await self.conn.execute(q)).scalar_one())

    # -- points ---------------------------------------------------------------------------------------------------

    async def points_balance(self, customer_id: str) -> int:
        q = select(t.points_accounts.c.balance).where(t.points_accounts.c.customer_id == customer_id)
        value = (await self.conn.execute(q)).scalar_one_or_none()
        return 0 if value is None else int(value)

    async def _ledger(self, customer_id: str, delta: int, reason: str, ref: str, at: datetime) -> bool:
        values = dict(customer_id=customer_id, delta=delta, reason=reason, ref=ref, at=at)
        res = await self.conn.execute(st.insert_new(t.points_ledger, values), values)
        return bool(res.rowcount == 1)

    async def grant_points(self, customer_id: str, points: int, reason: str, ref: str, at: datetime) -> bool:
        """Adds `points` once per (reason, ref); False when that grant was made already."""
        if points <= 0 or not await self._ledger(customer_id, points, reason, ref, at):
            return False
        values = {"customer_id": customer_id, "balance": points}
        await self.conn.execute(st.upsert(t.points_accounts, values, ("customer_id",),
                                          (("balance", "points_accounts.balance + excluded.balance"),)), values)
        return True

    async def take_points(self, customer_id: str, points: int, reason: str, ref: str, at: datetime, *,
                          down_to_zero: bool = False) -> int:
        """Takes `points` if the balance holds them (or, `down_to_zero`, as many as it holds); once per (reason,
        ref). Returns the points taken (0: none, or done already)."""
        if points <= 0:
            return 0
        if down_to_zero:
            points = min(points, await self.points_balance(customer_id))
            if points <= 0:
                return 0
        res = await self.conn.execute(
            update(t.points_accounts)
            .where(and_(t.points_accounts.c.customer_id == customer_id, t.points_accounts.c.balance >= points))
            .values(balance=t.points_accounts.c.balance - points))
        if res.rowcount != 1:
            return 0
        if not await self._ledger(customer_id, -points, reason, ref, at):
            # done already under this ref: undo this take
            await self.conn.execute(update(t.points_accounts).where(t.points_accounts.c.customer_id == customer_id)
                                    .values(balance=t.points_accounts.c.balance + points))
            return 0
        return points

    # -- orders' discount lines -------------------------------------------------------------------------------------

    async def order_state(self, order_id: str) -> tuple[str, OrderCampaignState] | None:
        row = (await self.conn.execute(st.ORDER_DISCOUNTS, {"b_id": order_id})).mappings().first()
        if row is None:
            return None
        lines = tuple(_line(d) for d in json.loads(row["lines"]))
        return row["customer_id"], OrderCampaignState(lines, int(row["points_earned"]), int(row["points_returned"]),
                                                      int(row["earned_reversed"]), bool(row["coupon_returned"]))

    async def put_order_state(self, order_id: str, customer_id: str, s: OrderCampaignState) -> None:
        values = {"customer_id": customer_id,
                  "lines": json.dumps([{**asdict(line), "kind": line.kind.value} for line in s.lines]),
                  "points_earned": s.points_earned, "points_returned": s.points_returned,
                  "earned_reversed": s.earned_reversed, "coupon_returned": s.coupon_returned}
        row = {"order_id": order_id, **values}
        await self.conn.execute(st.upsert(t.order_discounts, row, ("order_id",),
                                          tuple((c, f"excluded.{c}") for c in values)), row)
