"""SQL storage of buy-backs (tables `buybacks` and `buyback_serials`, revision 0008) on the unit of work's
connection (`SqlUnitOfWork.buybacks`), so a buy-back, the slot it takes, the certificates it revokes and its audit
entry commit together."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from showroom.adapters import _statements as st
from showroom.adapters import tables as t
from showroom.adapters._rows import utc, utc_req
from showroom.adapters._versioned import update_versioned
from showroom.adapters.certificate_sql import SqlCertificates
from showroom.buyback import Buyback, BuybackStatus, Piece
from showroom.catalog import Metal
from showroom.certificates import CertificateRecord
from showroom.errors import NotFound
from showroom.staff import ApprovalState

B = t.buybacks
S = t.buyback_serials


def _values(b: Buyback) -> dict[str, Any]:
    return dict(status=b.status.value, product_id=b.product_id, variant_id=b.variant_id, quantity=b.quantity,
                metal=b.metal.value, fineness=str(b.fineness), nominal_weight_g=str(b.nominal_weight_g),
                bid_cny_per_g=str(b.bid_cny_per_g), quoted_fen=b.quoted_fen,
                snapshot=json.dumps(b.snapshot, ensure_ascii=False, sort_keys=True), created_at=b.created_at,
                quote_expires_at=b.quote_expires_at, updated_at=b.updated_at, customer_name=b.customer_name,
                phone=b.phone, customer_id=b.customer_id, branch_id=b.branch_id, slot_at=b.slot_at,
                lock_until=b.lock_until, code_sha256=b.code_sha256,
                pieces=json.dumps([p.document() for p in b.pieces], ensure_ascii=False),
                inspected_at=b.inspected_at, inspected_by=b.inspected_by, id_kind=b.id_kind,
                amount_fen=b.amount_fen, rejection_reason=b.rejection_reason, payout_attempt=b.payout_attempt,
                payout_id=b.payout_id, payout_failure=b.payout_failure, account_masked=b.account_masked,
                paid_at=b.paid_at, approval=None if b.approval is None else b.approval.value,
                decided_by=b.decided_by, decided_at=b.decided_at, decision_reason=b.decision_reason)


def _from_row(r: Any) -> Buyback:
    return Buyback(
        id=r["id"], status=BuybackStatus(r["status"]), product_id=r["product_id"], variant_id=r["variant_id"],
        quantity=int(r["quantity"]), metal=Metal(r["metal"]), fineness=Decimal(r["fineness"]),
        nominal_weight_g=Decimal(r["nominal_weight_g"]), bid_cny_per_g=Decimal(r["bid_cny_per_g"]),
        quoted_fen=int(r["quoted_fen"]), snapshot=json.loads(r["snapshot"]), created_at=utc_req(r["created_at"]),
        quote_expires_at=utc_req(r["quote_expires_at"]), updated_at=utc_req(r["updated_at"]),
        customer_name=r["customer_name"], phone=r["phone"], customer_id=r["customer_id"], branch_id=r["branch_id"],
        slot_at=utc(r["slot_at"]), lock_until=utc(r["lock_until"]), code_sha256=r["code_sha256"],
        pieces=[Piece.from_document(p) for p in json.loads(r["pieces"])], inspected_at=utc(r["inspected_at"]),
        inspected_by=r["inspected_by"], id_kind=r["id_kind"], amount_fen=int(r["amount_fen"]),
        rejection_reason=r["rejection_reason"], payout_attempt=int(r["payout_attempt"]), payout_id=r["payout_id"],
        payout_failure=r["payout_failure"], account_masked=r["account_masked"], paid_at=utc(r["paid_at"]),
        approval=None if r["approval"] is None else ApprovalState(r["approval"]), decided_by=r["decided_by"],
        decided_at=utc(r["decided_at"]), decision_reason=r["decision_reason"], version=int(r["version"]))


class SqlBuybacks:
    """The buy-back rows seen through one open transaction (`conn`); implements `BuybackRepository`."""

    def __init__(self, conn: AsyncConnection, is_sqlite: bool) -> None:
        self.conn = conn
        self.is_sqlite = is_sqlite

    async def add(self, buyback: Buyback, token_sha256: str) -> None:
        await self.conn.execute(B.insert().values(id=buyback.id, token_sha256=token_sha256, version=0,
                                                  **_values(buyback)))

    async def get(self, buyback_id: str, *, for_update: bool = False) -> tuple[Buyback, str]:
        query = select(B).where(B.c.id == buyback_id)
        if for_update and not self.is_sqlite:
            query = query.with_for_update()
        row = (await self.conn.execute(query)).mappings().first()
        if row is None:
            raise NotFound(f"no buy-back {buyback_id[:64]!r}")
        return _from_row(row), str(row["token_sha256"])

    async def save(self, buyback: Buyback) -> None:
        buyback.version = await update_versioned(self.conn, B, B.c.id, buyback.id, buyback.version,
                                                 _values(buyback), f"buy-back {buyback.id}")

    async def by_payout_id(self, payout_id: str) -> Buyback | None:
        row = (await self.conn.execute(select(B).where(B.c.payout_id == payout_id))).mappings().first()
        return None if row is None else _from_row(row)

    async def between(self, branch_id: str | None, start: datetime, end: datetime,
                      status: str | None = None) -> list[Buyback]:
        cond = [B.c.slot_at >= start, B.c.slot_at < end]
        if branch_id is not None:
            cond.append(B.c.branch_id == branch_id)
        if status is not None:
            cond.append(B.c.status == status)
        rows = (await self.conn.execute(select(B).where(and_(*cond)).order_by(B.c.slot_at, B.c.id))).mappings()
        return [_from_row(r) for r in rows.all()]

    async def open_for_customer(self, customer_id: str) -> int:
        query = select(func.count()).select_from(B).where(and_(B.c.customer_id == customer_id,
                                                               B.c.status == BuybackStatus.BOOKED.value))
        return int((await self.conn.execute(query)).scalar_one())

    async def awaiting_payout(self, limit: int) -> list[Buyback]:
        rows = (await self.conn.execute(select(B).where(B.c.status == BuybackStatus.ACCEPTED.value)
                                        .order_by(B.c.updated_at).limit(limit))).mappings()
        return [_from_row(r) for r in rows.all()]

    async def approvals(self, state: ApprovalState | None, limit: int, offset: int = 0) -> list[Buyback]:
        query = select(B).where(B.c.approval.is_not(None) if state is None else B.c.approval == state.value)
        rows = (await self.conn.execute(query.order_by(B.c.inspected_at.desc(), B.c.id).limit(limit)
                                        .offset(offset))).mappings()
        return [_from_row(r) for r in rows.all()]

    async def release_serials(self, buyback_id: str) -> int:
        res = await self.conn.execute(delete(S).where(S.c.buyback_id == buyback_id))
        return int(res.rowcount or 0)

    async def claim_serial(self, serial: str, buyback_id: str, at: datetime) -> bool:
        values = {"serial": serial, "buyback_id": buyback_id, "at": at}
        res = await self.conn.execute(st.insert_new(S, values), values)
        return bool(res.rowcount == 1)

    async def serial_buyback(self, serial: str) -> str | None:
        row = (await self.conn.execute(select(S.c.buyback_id).where(S.c.serial == serial))).first()
        return None if row is None else str(row[0])

    async def certificates_by_serial(self, serial: str) -> list[CertificateRecord]:
        return await SqlCertificates(self.conn, self.is_sqlite).by_serial(serial)

    async def revoke_certificate(self, certificate_id: str, at: datetime, reason: str) -> bool:
        return await SqlCertificates(self.conn, self.is_sqlite).revoke(certificate_id, at, reason, None)
