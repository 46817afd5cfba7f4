"""`PhoneSql`: the `PhoneStore` port (one-time codes and phone proofs) on one open transaction's connection
(tables `phone_codes`, `phone_proofs`, migration 0007). Tries and use move only by conditional updates, so
concurrent guesses never get more tries than a code has, and a code is used once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from showroom.adapters import tables as t
from showroom.adapters._rows import utc_req
from showroom.phone_ports import CodeState, PhoneCode, PhoneProof


def _code(row: Any) -> PhoneCode:
    return PhoneCode(id=row["id"], phone=row["phone"], salt=row["salt"], code_sha256=row["code_sha256"],
                     attempts=int(row["attempts"]), state=CodeState(row["state"]),
                     created_at=utc_req(row["created_at"]), expires_at=utc_req(row["expires_at"]),
                     client_key=row["client_key"], version=int(row["version"]))


class PhoneSql:
    """Codes and proofs seen through one open transaction (`conn`)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add_code(self, code: PhoneCode) -> None:
        await self.conn.execute(insert(t.phone_codes).values(
            id=code.id, phone=code.phone, client_key=code.client_key, salt=code.salt, code_sha256=code.code_sha256,
            attempts=code.attempts, state=code.state.value, created_at=code.created_at, expires_at=code.expires_at,
            version=code.version))

    async def codes_since(self, phone: str, since: datetime) -> list[PhoneCode]:
        c = t.phone_codes.c
        rows = (await self.conn.execute(select(t.phone_codes).where(and_(c.phone == phone, c.created_at >= since))
                                        .order_by(c.created_at.desc()).limit(100))).mappings().all()
        return [_code(r) for r in rows]

    async def latest_code(self, phone: str) -> PhoneCode | None:
        c = t.phone_codes.c
        row = (await self.conn.execute(select(t.phone_codes).where(c.phone == phone)
                                       .order_by(c.created_at.desc()).limit(1))).mappings().first()
        return None if row is None else _code(row)

    async def supersede_pending(self, phone: str) -> None:
        c = t.phone_codes.c
        await self.conn.execute(update(t.phone_codes).where(and_(c.phone == phone,
                                                                  c.state == CodeState.PENDING.value))
                                .values(state=CodeState.SUPERSEDED.value, version=c.version + 1))

    async def take_attempt(self, code_id: str, max_attempts: int) -> bool:
        c = t.phone_codes.c
        res = await self.conn.execute(update(t.phone_codes).where(and_(
            c.id == code_id, c.state == CodeState.PENDING.value, c.attempts < max_attempts))
            .values(attempts=c.attempts + 1, version=c.version + 1))
        return bool(res.rowcount == 1)

    async def mark_used(self, code_id: str) -> bool:
        c = t.phone_codes.c
        res = await self.conn.execute(update(t.phone_codes).where(and_(
            c.id == code_id, c.state == CodeState.PENDING.value))
            .values(state=CodeState.USED.value, version=c.version + 1))
        return bool(res.rowcount == 1)

    async def add_proof(self, proof: PhoneProof) -> None:
        await self.conn.execute(insert(t.phone_proofs).values(
            token_sha256=proof.token_sha256, phone=proof.phone, customer_id=proof.customer_id,
            issued_at=proof.issued_at, expires_at=proof.expires_at))

    async def get_proof(self, token_sha256: str) -> PhoneProof | None:
        p = t.phone_proofs.c
        row = (await self.conn.execute(select(t.phone_proofs).where(p.token_sha256 == token_sha256))).mappings().first()
        if row is None:
            return None
        return PhoneProof(row["token_sha256"], row["phone"], row["customer_id"], utc_req(row["issued_at"]),
                          utc_req(row["expires_at"]))

    async def purge(self, before: datetime) -> int:
        codes = await self.conn.execute(delete(t.phone_codes).where(t.phone_codes.c.expires_at < before))
        proofs = await self.conn.execute(delete(t.phone_proofs).where(t.phone_proofs.c.expires_at < before))
        return int(codes.rowcount or 0) + int(proofs.rowcount or 0)
