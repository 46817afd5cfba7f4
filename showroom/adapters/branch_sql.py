"""SQL of branches, slots, pick-ups and appointments (`showroom.branch_ports.BranchRepository`), mixed into the
one SQL unit of work. A slot's place and a shelf's pieces are taken with conditional updates (`taken < capacity`,
`on_hand - reserved >= n`), which PostgreSQL re-checks on the locked row: concurrent orders never overbook a slot
or sell a piece twice; on SQLite one writer at a time does the same."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from showroom.adapters import _statements as st
from showroom.adapters import _stock_units as units
from showroom.adapters import tables as t
from showroom.adapters._rows import utc, utc_req
from showroom.adapters._versioned import update_versioned
from showroom.branches import (
    Appointment,
    AppointmentStatus,
    AppointmentTopic,
    Branch,
    Pickup,
    PickupStatus,
    Purpose,
    SlotUnavailable,
    UnknownBranch,
    branch_from_document,
)
from showroom.errors import NotFound


def _u(at: datetime) -> datetime:
    """Every instant crosses into SQL as UTC (SQLite keeps the wall-clock text of what it is given)."""
    return at.astimezone(UTC)


def _pickup_values(p: Pickup) -> dict[str, Any]:
    return {"branch_id": p.branch_id, "slot_at": _u(p.slot_at), "status": p.status.value, "code_sha256": p.code_sha256,
            "extended": p.extended, "missed_slots": json.dumps([s.isoformat() for s in p.missed_slots]),
            "history": json.dumps(p.history, ensure_ascii=False), "created_at": p.created_at,
            "updated_at": p.updated_at, "handed_over_at": p.handed_over_at, "handed_over_by": p.handed_over_by}


def _pickup(row: Any) -> Pickup:
    return Pickup(order_id=row["order_id"], branch_id=row["branch_id"], slot_at=utc_req(row["slot_at"]),
                  status=PickupStatus(row["status"]), code_sha256=row["code_sha256"], created_at=utc_req(row["created_at"]),
                  updated_at=utc_req(row["updated_at"]), extended=bool(row["extended"]),
                  missed_slots=tuple(datetime.fromisoformat(s) for s in json.loads(row["missed_slots"])),
                  handed_over_at=utc(row["handed_over_at"]), handed_over_by=row["handed_over_by"],
                  version=int(row["version"]), history=list(json.loads(row["history"])))


def _appointment(row: Any) -> Appointment:
    return Appointment(id=row["id"], branch_id=row["branch_id"], slot_at=utc_req(row["slot_at"]),
                       topic=AppointmentTopic(row["topic"]), name=row["name"], phone=row["phone"],
                       customer_key=row["customer_key"], status=AppointmentStatus(row["status"]),
                       created_at=utc_req(row["created_at"]), note=row["note"])


class BranchSqlMixin:
    """The branch half of `SqlUnitOfWork` (which provides `conn`, `_is_sqlite` and `_insert_new`)."""

    @property
    def conn(self) -> AsyncConnection:
        raise NotImplementedError

    @property
    def _is_sqlite(self) -> bool:
        raise NotImplementedError

    async def _insert_new(self, table: Any, **values: Any) -> bool:
        raise NotImplementedError

    def _upsert(self, table: Any) -> Any:
        return sqlite_insert(table) if self._is_sqlite else pg_insert(table)

    # -- branches and shelves -----------------------------------------------------------------------------------

    async def put_branch(self, branch: Branch, now: datetime) -> None:
        doc = branch.document()
        doc["stock"] = {}
        for product, variant, pieces in branch.stock:
            doc["stock"].setdefault(product, {})[variant] = pieces
        text = json.dumps(doc, ensure_ascii=False)
        stmt = self._upsert(t.branches).values(id=branch.id, document=text, updated_at=now)
        await self.conn.execute(stmt.on_conflict_do_update(index_elements=["id"],
                                                           set_={"document": text, "updated_at": now}))

    async def list_branches(self) -> list[Branch]:
        rows = await self.conn.execute(select(t.branches.c.document).order_by(t.branches.c.id))
        return [branch_from_document(json.loads(r[0])) for r in rows]

    async def get_branch(self, branch_id: str) -> Branch:
        row = (await self.conn.execute(select(t.branches.c.document).where(t.branches.c.id == branch_id))).first()
        if row is None:
            raise UnknownBranch(f"no branch {branch_id[:64]!r}")
        return branch_from_document(json.loads(row[0]))

    def _shelf(self, branch_id: str, product_id: str, variant_id: str) -> Any:
        s = t.stock.c
        return and_(s.branch_id == branch_id, s.product_id == product_id, s.variant_id == variant_id)

    async def stock_shelf(self, branch_id: str, product_id: str, variant_id: str, on_hand: int, *,
                          reset: bool = False) -> None:
        key = units.shelf_key(branch_id, product_id, variant_id)
        if await self._insert_new(t.stock, branch_id=branch_id, product_id=product_id, variant_id=variant_id):
            await units.add(self.conn, key, on_hand)
        elif reset:
            await self._lock_shelf(branch_id, product_id, variant_id)
            _before, reserved = await units.level(self.conn, key)
            await units.set_on_hand(self.conn, key, max(reserved, on_hand))

    async def _lock_shelf(self, branch_id: str, product_id: str, variant_id: str) -> bool:
        """Staff changes of one shelf's count, one at a time (PostgreSQL); False when the shelf does not exist."""
        q = select(t.stock.c.branch_id).where(self._shelf(branch_id, product_id, variant_id))
        return (await self.conn.execute(q if self._is_sqlite else q.with_for_update())).first() is not None

    async def set_on_hand(self, branch_id: str, product_id: str, variant_id: str, on_hand: int) -> tuple[int, int]:
        if not await self._lock_shelf(branch_id, product_id, variant_id):
            await self.stock_shelf(branch_id, product_id, variant_id, on_hand)
            return 0, 0
        return await units.set_on_hand(self.conn, units.shelf_key(branch_id, product_id, variant_id), on_hand)

    # -- slots --------------------------------------------------------------------------------------------------

    def _slot(self, branch_id: str, purpose: Purpose, start: datetime) -> Any:
        c = t.branch_slots.c
        return and_(c.branch_id == branch_id, c.purpose == purpose, c.starts_at == _u(start))

    async def slots_taken(self, branch_id: str, purpose: Purpose, start: datetime,
                          end: datetime) -> dict[datetime, int]:
        c = t.branch_slots.c
        rows = await self.conn.execute(select(c.starts_at, c.taken).where(
            and_(c.branch_id == branch_id, c.purpose == purpose, c.starts_at >= _u(start), c.starts_at < _u(end))))
        return {utc_req(r[0]): int(r[1]) for r in rows}

    async def take_slot(self, branch_id: str, purpose: Purpose, start: datetime, capacity: int) -> None:
        await self._insert_new(t.branch_slots, branch_id=branch_id, purpose=purpose, starts_at=_u(start), taken=0)
        c = t.branch_slots.c
        res = await self.conn.execute(update(t.branch_slots).where(
            and_(self._slot(branch_id, purpose, start), c.taken < capacity)).values(taken=c.taken + 1))
        if res.rowcount != 1:
            raise SlotUnavailable(f"the {purpose} slot at {start.isoformat()} is full at branch {branch_id}")

    async def free_slot(self, branch_id: str, purpose: Purpose, start: datetime) -> None:
        c = t.branch_slots.c
        await self.conn.execute(update(t.branch_slots).where(and_(self._slot(branch_id, purpose, start), c.taken > 0))
                                .values(taken=c.taken - 1))

    # -- pick-ups -----------------------------------------------------------------------------------------------

    async def add_pickup(self, pickup: Pickup) -> None:
        await self.conn.execute(insert(t.pickups).values(order_id=pickup.order_id, version=0, **_pickup_values(pickup)))
        pickup.version = 0

    async def get_pickup(self, order_id: str) -> Pickup | None:
        row = (await self.conn.execute(st.PICKUP_OF_ORDER, {"b_id": order_id})).mappings().first()
        return None if row is None else _pickup(row)

    async def save_pickup(self, pickup: Pickup) -> None:
        pickup.version = await update_versioned(self.conn, t.pickups, t.pickups.c.order_id, pickup.order_id,
                                                pickup.version, _pickup_values(pickup), f"pick-up {pickup.order_id}")

    async def pickups_between(self, branch_id: str | None, start: datetime, end: datetime) -> list[Pickup]:
        c = t.pickups.c
        where = [c.slot_at >= _u(start), c.slot_at < _u(end)]
        if branch_id is not None:
            where.append(c.branch_id == branch_id)
        rows = await self.conn.execute(select(t.pickups).where(and_(*where)).order_by(c.slot_at, c.order_id))
        return [_pickup(r) for r in rows.mappings()]

    async def pickups_due(self, before: datetime, limit: int) -> list[Pickup]:
        c = t.pickups.c
        rows = await self.conn.execute(select(t.pickups).where(
            and_(c.status == PickupStatus.BOOKED.value, c.slot_at < _u(before))).order_by(c.slot_at).limit(limit))
        return [_pickup(r) for r in rows.mappings()]

    # -- appointments -------------------------------------------------------------------------------------------

    async def add_appointment(self, appointment: Appointment, token_sha256: str) -> None:
        a = appointment
        await self.conn.execute(insert(t.appointments).values(
            id=a.id, branch_id=a.branch_id, slot_at=_u(a.slot_at), topic=a.topic.value, name=a.name, phone=a.phone,
            customer_key=a.customer_key, status=a.status.value, token_sha256=token_sha256, note=a.note,
            created_at=a.created_at))

    async def get_appointment(self, appointment_id: str) -> tuple[Appointment, str]:
        row = (await self.conn.execute(select(t.appointments).where(t.appointments.c.id == appointment_id))
               ).mappings().first()
        if row is None:
            raise NotFound(f"no appointment {appointment_id[:64]!r}")
        return _appointment(row), str(row["token_sha256"])

    async def save_appointment(self, appointment: Appointment) -> None:
        await self.conn.execute(update(t.appointments).where(t.appointments.c.id == appointment.id)
                                .values(status=appointment.status.value, slot_at=_u(appointment.slot_at)))

    async def appointments_between(self, branch_id: str | None, start: datetime, end: datetime) -> list[Appointment]:
        c = t.appointments.c
        where = [c.slot_at >= _u(start), c.slot_at < _u(end)]
        if branch_id is not None:
            where.append(c.branch_id == branch_id)
        rows = await self.conn.execute(select(t.appointments).where(and_(*where)).order_by(c.slot_at, c.id))
        return [_appointment(r) for r in rows.mappings()]
