"""SQL storage of certificates (table `certificates`, revision 0004), on the unit of work's connection so a
certificate is written in the same transaction as what caused it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from showroom.adapters import _statements as st
from showroom.adapters import tables as t
from showroom.adapters._rows import utc, utc_req
from showroom.certificates import CertificateRecord, CertificateStatus
from showroom.errors import NotFound

C = t.certificates


def _from_row(row: Any) -> CertificateRecord:
    return CertificateRecord(
        id=row["id"], serial=row["serial"], order_id=row["order_id"], unit=int(row["unit"]),
        generation=int(row["generation"]), owner_name=row["owner_name"], owner_phone=row["owner_phone"],
        document=json.loads(row["document"]), status=row["status"], issued_at=utc_req(row["issued_at"]),
        holder_token_sha256=row["holder_token_sha256"], revoked_at=utc(row["revoked_at"]),
        revoke_reason=row["revoke_reason"], superseded_by=row["superseded_by"])


class SqlCertificates:
    """The certificate rows seen through one open transaction (`conn`)."""

    def __init__(self, conn: AsyncConnection, is_sqlite: bool) -> None:
        self.conn = conn
        self.is_sqlite = is_sqlite

    async def add(self, record: CertificateRecord) -> bool:
        """Inserts unless (order, unit, generation) exists already (a concurrent issuer won): True when new."""
        values = dict(id=record.id, serial=record.serial, order_id=record.order_id, unit=record.unit,
                      generation=record.generation, owner_name=record.owner_name, owner_phone=record.owner_phone,
                      holder_token_sha256=record.holder_token_sha256,
                      document=json.dumps(record.document, ensure_ascii=False, sort_keys=True),
                      status=record.status, issued_at=record.issued_at, revoked_at=record.revoked_at,
                      revoke_reason=record.revoke_reason, superseded_by=record.superseded_by)
        res = await self.conn.execute(st.insert_new(C, values, ("order_id", "unit", "generation")), values)
        return bool(res.rowcount == 1)

    async def get(self, certificate_id: str, *, for_update: bool = False) -> CertificateRecord:
        query = select(C).where(C.c.id == certificate_id)
        if for_update and not self.is_sqlite:
            query = query.with_for_update()
        row = (await self.conn.execute(query)).mappings().first()
        if row is None:
            raise NotFound(f"no certificate {certificate_id!r}")
        return _from_row(row)

    async def of_order(self, order_id: str) -> list[CertificateRecord]:
        rows = (await self.conn.execute(st.CERTIFICATES_OF_ORDER, {"b_id": order_id})).mappings().all()
        return [_from_row(r) for r in rows]

    async def by_serial(self, serial: str) -> list[CertificateRecord]:
        rows = (await self.conn.execute(select(C).where(C.c.serial == serial)
                                        .order_by(C.c.generation))).mappings().all()
        return [_from_row(r) for r in rows]

    async def revoke(self, certificate_id: str, at: datetime, reason: str, superseded_by: str | None) -> bool:
        """Revokes a valid certificate; False when it was not valid any more (a concurrent transfer won)."""
        res = await self.conn.execute(update(C).where(and_(C.c.id == certificate_id,
                                                           C.c.status == CertificateStatus.VALID))
                                      .values(status=CertificateStatus.REVOKED, revoked_at=at, revoke_reason=reason,
                                              superseded_by=superseded_by))
        return bool(res.rowcount == 1)

    async def revoked(self, ids: Sequence[str] | None = None) -> list[CertificateRecord]:
        query = select(C).where(C.c.status == CertificateStatus.REVOKED)
        if ids is not None:
            query = query.where(C.c.id.in_(list(ids)))
        rows = (await self.conn.execute(query.order_by(C.c.revoked_at))).mappings().all()
        return [_from_row(r) for r in rows]
