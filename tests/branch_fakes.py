"""The branch half of the in-memory unit of work (`tests.commerce_fakes.FakeUnitOfWork` mixes it in): branches,
slots, pick-ups and appointments in `FakeTables`, with the SQL one's semantics (a full slot or a short shelf
refuses, a stale pick-up version is `ConcurrentUpdate` at commit)."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from showroom.branches import Appointment, Branch, Pickup, Purpose, SlotUnavailable, UnknownBranch
from showroom.errors import NotFound
from showroom.ports import OutOfStock


class FakeBranchMixin:
    _t: Any

    def _insert(self, table: Any, key: Any, value: Any) -> None:
        raise NotImplementedError

    def _write(self, table: Any, key: Any, value: Any) -> None:
        raise NotImplementedError

    def _shelf(self, where: tuple[str, str, str], d_on_hand: int, d_reserved: int, initial: int = 0) -> None:
        raise NotImplementedError

    async def put_branch(self, branch: Branch, now: datetime) -> None:
        self._write("branches", branch.id, branch)

    async def list_branches(self) -> list[Branch]:
        return [self._t.branches[k] for k in sorted(self._t.branches)]

    async def get_branch(self, branch_id: str) -> Branch:
        try:
            return self._t.branches[branch_id]  # type: ignore[no-any-return]
        except KeyError:
            raise UnknownBranch(f"no branch {branch_id!r}") from None

    async def stock_shelf(self, branch_id: str, product_id: str, variant_id: str, on_hand: int, *,
                          reset: bool = False) -> None:
        where = (branch_id, product_id, variant_id)
        if where not in self._t.stock:
            self._t.stock[where] = (on_hand, 0)
            self._shelf(where, 0, 0, on_hand)
        elif reset:
            now_on_hand, reserved = self._t.stock[where]
            self._shelf(where, max(on_hand, reserved) - now_on_hand, 0)

    async def set_on_hand(self, branch_id: str, product_id: str, variant_id: str, on_hand: int) -> tuple[int, int]:
        where = (branch_id, product_id, variant_id)
        if where not in self._t.stock:
            await self.stock_shelf(branch_id, product_id, variant_id, on_hand)
            return 0, 0
        before, reserved = self._t.stock[where]
        if on_hand < reserved:
            raise OutOfStock(f"{reserved} pieces are reserved on this shelf; on hand cannot be {on_hand}")
        self._shelf(where, on_hand - before, 0)
        return before, reserved

    async def slots_taken(self, branch_id: str, purpose: Purpose, start: datetime,
                          end: datetime) -> dict[datetime, int]:
        return {s: n for (b, p, s), n in self._t.slots.items() if b == branch_id and p == purpose and start <= s < end}

    async def take_slot(self, branch_id: str, purpose: Purpose, start: datetime, capacity: int) -> None:
        key = (branch_id, purpose, start)
        taken = self._t.slots.get(key, 0)
        if taken >= capacity:
            raise SlotUnavailable(f"the {purpose} slot at {start.isoformat()} is full at branch {branch_id}")
        self._write("slots", key, taken + 1)

    async def free_slot(self, branch_id: str, purpose: Purpose, start: datetime) -> None:
        key = (branch_id, purpose, start)
        if self._t.slots.get(key, 0) > 0:
            self._write("slots", key, self._t.slots[key] - 1)

    async def add_pickup(self, pickup: Pickup) -> None:
        pickup.version = 0
        self._insert("pickups", pickup.order_id, pickup)

    async def get_pickup(self, order_id: str) -> Pickup | None:
        found = self._t.pickups.get(order_id)
        return None if found is None else copy.deepcopy(found)

    async def save_pickup(self, pickup: Pickup) -> None:
        pickup.version += 1
        self._write("pickups", pickup.order_id, pickup)

    async def pickups_between(self, branch_id: str | None, start: datetime, end: datetime) -> list[Pickup]:
        found = [p for p in self._t.pickups.values()
                 if start <= p.slot_at < end and (branch_id is None or p.branch_id == branch_id)]
        return [copy.deepcopy(p) for p in sorted(found, key=lambda p: (p.slot_at, p.order_id))]

    async def pickups_due(self, before: datetime, limit: int) -> list[Pickup]:
        found = [p for p in self._t.pickups.values() if p.status.value == "booked" and p.slot_at < before]
        return [copy.deepcopy(p) for p in sorted(found, key=lambda p: p.slot_at)[:limit]]

    async def add_appointment(self, appointment: Appointment, token_sha256: str) -> None:
        self._insert("appointments", appointment.id, (appointment, token_sha256))

    async def get_appointment(self, appointment_id: str) -> tuple[Appointment, str]:
        try:
            a, digest = self._t.appointments[appointment_id]
        except KeyError:
            raise NotFound(f"no appointment {appointment_id!r}") from None
        return copy.deepcopy(a), digest

    async def save_appointment(self, appointment: Appointment) -> None:
        _, digest = self._t.appointments[appointment.id]
        self._write("appointments", appointment.id, (appointment, digest))

    async def appointments_between(self, branch_id: str | None, start: datetime, end: datetime) -> list[Appointment]:
        found = [a for a, _ in self._t.appointments.values()
                 if start <= a.slot_at < end and (branch_id is None or a.branch_id == branch_id)]
        return [copy.deepcopy(a) for a in sorted(found, key=lambda a: (a.slot_at, a.id))]
