"""The port of branches, their shelves and slots, pick-ups and appointments: part of the one unit of work
(`showroom.ports.UnitOfWork`), so a slot and a shelf are taken in the same transaction as the order that needs
them. Times are timezone-aware UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from showroom.branches import Appointment, Branch, Pickup, Purpose


class BranchRepository(Protocol):
    async def put_branch(self, branch: Branch, now: datetime) -> None:
        """Adds the branch or replaces its details (name, address, hours, capacities)."""
        ...
    async def list_branches(self) -> list[Branch]: ...
    async def get_branch(self, branch_id: str) -> Branch:
        """Raises `showroom.branches.UnknownBranch`."""
        ...
    async def stock_shelf(self, branch_id: str, product_id: str, variant_id: str, on_hand: int, *,
                          reset: bool = False) -> None:
        """A shelf with `on_hand` pieces when it has no row yet; `reset`: its on-hand count set to `on_hand`
        (never below what is reserved on it)."""
        ...
    async def set_on_hand(self, branch_id: str, product_id: str, variant_id: str, on_hand: int) -> tuple[int, int]:
        """Staff count a shelf: on hand becomes `on_hand` (refused with `OutOfStock` below the reserved pieces);
        returns (on hand before, reserved)."""
        ...

    async def slots_taken(self, branch_id: str, purpose: Purpose, start: datetime,
                          end: datetime) -> dict[datetime, int]:
        """Places taken per slot start in [start, end)."""
        ...
    async def take_slot(self, branch_id: str, purpose: Purpose, start: datetime, capacity: int) -> None:
        """One place of the slot, atomically (never more than `capacity`); `SlotUnavailable` when full."""
        ...
    async def free_slot(self, branch_id: str, purpose: Purpose, start: datetime) -> None: ...

    async def add_pickup(self, pickup: Pickup) -> None: ...
    async def get_pickup(self, order_id: str) -> Pickup | None: ...
    async def save_pickup(self, pickup: Pickup) -> None:
        """Version-checked like `save_order` (`ConcurrentUpdate` when someone else wrote it first)."""
        ...
    async def pickups_between(self, branch_id: str | None, start: datetime, end: datetime) -> list[Pickup]:
        """Pick-ups (every status) whose slot starts in [start, end), at one branch or all, by slot."""
        ...
    async def pickups_due(self, before: datetime, limit: int) -> list[Pickup]:
        """Booked pick-ups whose slot started before `before`, oldest first."""
        ...

    async def add_appointment(self, appointment: Appointment, token_sha256: str) -> None: ...
    async def get_appointment(self, appointment_id: str) -> tuple[Appointment, str]:
        """The appointment and its token's SHA-256; `NotFound`."""
        ...
    async def save_appointment(self, appointment: Appointment) -> None: ...
    async def appointments_between(self, branch_id: str | None, start: datetime, end: datetime) -> list[Appointment]:
        ...
