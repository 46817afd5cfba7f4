"""The staff and audit parts of the SQL unit of work (`SqlUnitOfWork` mixes this in): local accounts, sessions,
sign-in throttles, refund approvals, the back office's order and stock queries, and the hash-chained audit log.

The audit chain is extended when the transaction commits, after every other write: the committer locks the one
`audit_head` row (PostgreSQL: `SELECT ... FOR UPDATE`; SQLite: one writer anyway), chains its entries onto it,
inserts them (the primary key on `seq` makes a fork impossible: a second writer of the same seq fails and its
transaction is retried by `transact`) and moves the head.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from showroom.adapters import _statements as st
from showroom.adapters import tables as t
from showroom.adapters._rows import (
    approval_from_row,
    approval_values,
    audit_from_row,
    audit_values,
    order_from_row,
    session_from_row,
    staff_from_row,
    staff_values,
    utc,
)
from showroom.adapters._versioned import update_versioned
from showroom.audit import (
    GENESIS,
    Actor,
    AuditEntry,
    AuditEvent,
    ChainHead,
    chain,
    legacy_event,
    legacy_view,
)
from showroom.errors import NotFound
from showroom.orders import Order
from showroom.ports import ConcurrentUpdate
from showroom.staff import ApprovalState, RefundApproval, SignInState, StaffAccount, StaffExists, StaffSession


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class StaffSqlMixin:
    """Needs `conn`, `_is_sqlite`, `_insert_new` and the audit settings from `SqlUnitOfWork`."""

    _pending_audit: list[AuditEvent]
    _audit_key: bytes
    _on_audit_head: Callable[[ChainHead], None] | None

    @property
    def conn(self) -> AsyncConnection:
        raise NotImplementedError

    @property
    def _is_sqlite(self) -> bool:
        raise NotImplementedError

    async def _insert_new(self, table: Any, **values: Any) -> bool:
        raise NotImplementedError

    # -- accounts ---------------------------------------------------------------------------------------------

    async def add_staff(self, account: StaffAccount) -> None:
        if not await self._insert_new(t.staff_accounts, name=account.name, version=0, **staff_values(account)):
            raise StaffExists(f"a staff account named {account.name!r} exists")

    async def find_staff(self, name: str) -> StaffAccount | None:
        row = (await self.conn.execute(select(t.staff_accounts).where(t.staff_accounts.c.name == name))
               ).mappings().first()
        return None if row is None else staff_from_row(row)

    async def save_staff(self, account: StaffAccount) -> StaffAccount:
        version = await update_versioned(self.conn, t.staff_accounts, t.staff_accounts.c.name, account.name,
                                         account.version, staff_values(account), f"staff account {account.name}")
        return replace(account, version=version)

    async def list_staff(self) -> list[StaffAccount]:
        res = await self.conn.execute(select(t.staff_accounts).order_by(t.staff_accounts.c.name))
        return [staff_from_row(r) for r in res.mappings()]

    # -- sessions and throttles -------------------------------------------------------------------------------

    async def add_staff_session(self, session: StaffSession) -> None:
        await self.conn.execute(insert(t.staff_sessions).values(
            id_hash=session.id_hash, name=session.name, client=session.client[:64], created_at=session.created_at,
            last_seen_at=session.last_seen_at, expires_at=session.expires_at, revoked_at=session.revoked_at))

    async def get_staff_session(self, id_hash: str) -> StaffSession | None:
        row = (await self.conn.execute(select(t.staff_sessions).where(t.staff_sessions.c.id_hash == id_hash))
               ).mappings().first()
        return None if row is None else session_from_row(row)

    async def touch_staff_session(self, id_hash: str, at: datetime) -> None:
        await self.conn.execute(update(t.staff_sessions).where(t.staff_sessions.c.id_hash == id_hash)
                                .values(last_seen_at=at))

    async def revoke_staff_session(self, id_hash: str, at: datetime) -> None:
        c = t.staff_sessions.c
        await self.conn.execute(update(t.staff_sessions).where(and_(c.id_hash == id_hash, c.revoked_at.is_(None)))
                                .values(revoked_at=at))

    async def revoke_staff_sessions(self, name: str, at: datetime) -> int:
        c = t.staff_sessions.c
        res = await self.conn.execute(update(t.staff_sessions).where(and_(c.name == name, c.revoked_at.is_(None)))
                                      .values(revoked_at=at))
        return int(res.rowcount or 0)

    async def sign_in_throttle(self, key: str) -> SignInState:
        row = (await self.conn.execute(select(t.sign_in_throttles).where(t.sign_in_throttles.c.key == key))
               ).mappings().first()
        if row is None:
            return SignInState()
        return SignInState(row["failures"], utc(row["first_failure_at"]), utc(row["locked_until"]))

    async def save_sign_in_throttle(self, key: str, state: SignInState) -> None:
        values = dict(failures=state.failures, first_failure_at=state.first_failure_at,
                      locked_until=state.locked_until)
        if not await self._insert_new(t.sign_in_throttles, key=key, **values):
            await self.conn.execute(update(t.sign_in_throttles).where(t.sign_in_throttles.c.key == key)
                                    .values(**values))

    # -- refund approvals -------------------------------------------------------------------------------------

    async def add_refund_approval(self, approval: RefundApproval) -> None:
        await self.conn.execute(insert(t.refund_approvals).values(id=approval.id, version=0,
                                                                  **approval_values(approval)))

    async def _approvals(self, *where: Any, limit: int = 100, offset: int = 0) -> list[RefundApproval]:
        c = t.refund_approvals.c
        res = await self.conn.execute(select(t.refund_approvals).where(*where)
                                      .order_by(c.requested_at.desc(), c.id).limit(limit).offset(offset))
        return [approval_from_row(r) for r in res.mappings()]

    async def get_refund_approval(self, approval_id: str) -> RefundApproval:
        found = await self._approvals(t.refund_approvals.c.id == approval_id)
        if not found:
            raise NotFound(f"no refund request {approval_id!r}")
        return found[0]

    async def refund_approval_by_key(self, idempotency_key: str) -> RefundApproval | None:
        found = await self._approvals(t.refund_approvals.c.idempotency_key == idempotency_key)
        return found[0] if found else None

    async def save_refund_approval(self, approval: RefundApproval) -> RefundApproval:
        version = await update_versioned(self.conn, t.refund_approvals, t.refund_approvals.c.id, approval.id,
                                         approval.version, approval_values(approval), f"refund request {approval.id}")
        return replace(approval, version=version)

    async def refund_approvals(self, *, state: ApprovalState | None = None, order_id: str | None = None,
                               limit: int = 100, offset: int = 0) -> list[RefundApproval]:
        c = t.refund_approvals.c
        where = [w for w in (None if state is None else c.state == state.value,
                             None if order_id is None else c.order_id == order_id) if w is not None]
        return await self._approvals(*where, limit=limit, offset=offset)

    # -- the back office's reads ------------------------------------------------------------------------------

    async def find_orders(self, *, status: str | None = None, text: str | None = None,
                          created_from: datetime | None = None, created_to: datetime | None = None,
                          limit: int = 50, offset: int = 0) -> tuple[list[Order], int]:
        c = t.orders.c
        where: list[Any] = []
        if status:
            where.append(c.status == status)
        if text:
            where.append(or_(c.id.like(_like(text), escape="\\"), c.customer.like(_like(text), escape="\\")))
        if created_from is not None:
            where.append(c.created_at >= created_from)
        if created_to is not None:
            where.append(c.created_at < created_to)
        total = (await self.conn.execute(select(func.count()).select_from(t.orders).where(*where))).scalar_one()
        res = await self.conn.execute(select(t.orders).where(*where).order_by(c.created_at.desc(), c.id)
                                      .limit(limit).offset(offset))
        return [order_from_row(r) for r in res.mappings()], int(total)

    async def stock_levels(self) -> list[tuple[str, str, str, int, int]]:
        s, u = t.stock.c, t.stock_units.c
        on_shelf = and_(u.branch_id == s.branch_id, u.product_id == s.product_id, u.variant_id == s.variant_id)
        res = await self.conn.execute(
            select(s.branch_id, s.product_id, s.variant_id, func.count(u.id), func.count(u.id).filter(u.reserved))
            .select_from(t.stock.outerjoin(t.stock_units, on_shelf))
            .group_by(s.branch_id, s.product_id, s.variant_id).order_by(s.branch_id, s.product_id, s.variant_id))
        return [(str(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4])) for r in res]

    # -- the audit chain --------------------------------------------------------------------------------------

    async def append_audit(self, event: AuditEvent) -> None:
        self._pending_audit.append(replace(event, at=event.at.astimezone(UTC)))

    async def add_audit(self, order_id: str, kind: str, data: dict[str, Any], at: datetime, *,
                        actor: Actor | None = None) -> None:
        await self.append_audit(legacy_event(order_id, kind, data, at, actor))

    async def audit_for(self, order_id: str) -> list[dict[str, Any]]:
        entries = await self.audit_entries(subject=f"order:{order_id}", limit=10_000, newest_first=False)
        return [legacy_view(e) for e in entries]

    async def audit_entries(self, *, subject: str | None = None, limit: int = 100, offset: int = 0,
                            newest_first: bool = True) -> list[AuditEntry]:
        c = t.audit_log.c
        q = select(t.audit_log)
        if subject is not None:
            q = q.where(c.subject == subject)
        q = q.order_by(c.seq.desc() if newest_first else c.seq).limit(limit).offset(offset)
        return [audit_from_row(r) for r in (await self.conn.execute(q)).mappings()]

    async def audit_count(self, *, subject: str | None = None) -> int:
        q = select(func.count()).select_from(t.audit_log)
        if subject is not None:
            q = q.where(t.audit_log.c.subject == subject)
        return int((await self.conn.execute(q)).scalar_one())

    async def audit_scan(self, after_seq: int, limit: int) -> list[AuditEntry]:
        c = t.audit_log.c
        res = await self.conn.execute(select(t.audit_log).where(c.seq > after_seq).order_by(c.seq).limit(limit))
        return [audit_from_row(r) for r in res.mappings()]

    async def _chain_pending(self) -> ChainHead | None:
        """Chains and writes the transaction's audit events (called by `commit`); returns the new head."""
        if not self._pending_audit:
            return None
        q = st.AUDIT_HEAD if self._is_sqlite else st.AUDIT_HEAD_LOCKED
        row = (await self.conn.execute(q)).first()
        if row is None:  # a schema made by create_all (tests): start the head row
            await self._insert_new(t.audit_head, id=1, seq=0, digest=GENESIS)
            row = (await self.conn.execute(q)).first()
            assert row is not None
        start = ChainHead(int(row[0]), str(row[1]))
        head: ChainHead | None = start if start.seq > 0 else None
        rows = []
        for event in self._pending_audit:
            entry = chain(self._audit_key, head, event)
            rows.append(audit_values(entry))
            head = ChainHead(entry.seq, entry.digest)
        assert head is not None
        move = {"b_seq": start.seq, "b_new_seq": head.seq, "b_new_digest": head.digest}
        try:
            if self._is_sqlite or len(rows) > st.AUDIT_CHAIN_MOVE_MAX:
                await self.conn.execute(st.AUDIT_INSERT, rows)
                res = await self.conn.execute(st.AUDIT_HEAD_MOVE, move)
            else:  # the entries and the head's move in one statement: one round trip less holding the head's lock
                for i, values in enumerate(rows):
                    move.update({f"e{i}_{name}": value for name, value in values.items()})
                res = await self.conn.execute(st.audit_chain_move(len(rows)), move)
        except IntegrityError as exc:
            raise ConcurrentUpdate("another transaction extended the audit chain; try again") from exc
        if res.rowcount != 1:
            raise ConcurrentUpdate("another transaction extended the audit chain; try again")
        self._pending_audit = []
        return head
