"""Branches and pick-ups: the branches file loaded into the database, a branch's slots for a day, the pick-up
booked with an order (its slot taken in the order's own transaction, given back when the order expires or is
cancelled), the customer's pick-up code and one move to a later slot, the teller's hand-over against the code and
an identity check, staff counting a shelf, and the missed-pick-up rule run by the sweeper (`showroom.branches`
states the rule)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from showroom.audit import SYSTEM, Actor, order_subject
from showroom.branches import (
    BRANCH_TZ,
    Branch,
    IdentityNotChecked,
    NameMismatch,
    Pickup,
    PickupCodeWrong,
    PickupNotAllowed,
    PickupStatus,
    Purpose,
    SlotUnavailable,
    SlotView,
    code_digest,
    day_slots,
    later_slots,
    missed_action,
    normalise_code,
    pickup_code,
    same_name,
)
from showroom.catalog import ProductKind
from showroom.errors import InvalidInput, NotFound, ShowroomError
from showroom.orders import OPEN_STATUSES, PAID_STATUSES, Order, OrderNotFound
from showroom.ports import UnitOfWork
from showroom.services import refunds
from showroom.services._uow import Commerce, Outcome, transact

log = logging.getLogger("showroom.commerce")

HANDOVER_WINDOW = timedelta(days=16)
"""A teller's code is matched against the branch's booked pick-ups with slots this far either side of now."""


# -- branches -----------------------------------------------------------------------------------------------------


async def load_branches(ctx: Commerce, branches: tuple[Branch, ...], *, reset_stock: bool = False) -> int:
    """Writes the branches' details and stocks their shelves: every catalog variant (but cars) gets a shelf at
    every branch, with the file's count, 0 when the file lists none; a shelf already there keeps its count unless
    `reset_stock`. Returns how many branches."""
    async def work(uow: UnitOfWork, _out: Outcome) -> int:
        now = ctx.clock.now()
        for branch in branches:
            await uow.put_branch(branch, now)
            for product in ctx.catalog.products:
                if product.kind is ProductKind.CAR:
                    continue
                for variant in product.variants:
                    await uow.stock_shelf(branch.id, product.id, variant.id, branch.stocked(product.id, variant.id),
                                          reset=reset_stock)
        return len(branches)

    done, _ = await transact(ctx, work)
    return done


async def list_branches(ctx: Commerce) -> list[Branch]:
    async with ctx.uow() as uow:
        return await uow.list_branches()


@dataclass(frozen=True)
class BranchDay:
    branch: Branch
    day: date
    purpose: Purpose
    slots: tuple[SlotView, ...]
    available: int | None = None
    """Pieces of the asked-for product variant free at the branch (None: none asked for)."""


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants a branch's local day starts and ends."""
    start = datetime.combine(day, time(0, 0), tzinfo=BRANCH_TZ)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


async def branch_day(ctx: Commerce, branch_id: str, day: date, purpose: Purpose = "pickup",
                     product_id: str | None = None, variant_id: str | None = None) -> BranchDay:
    """The branch's slots on a local day with the places left, and (for a product) the pieces free there."""
    available = None
    if product_id is not None:
        product = ctx.catalog.get(product_id)
        variant_id = product.variant(variant_id).id
    start, end = day_bounds(day)
    async with ctx.uow() as uow:
        branch = await uow.get_branch(branch_id)
        taken = await uow.slots_taken(branch_id, purpose, start, end)
        if product_id is not None and variant_id is not None:
            on_hand, reserved = await uow.stock_level(branch_id, product_id, variant_id)
            available = max(on_hand - reserved, 0)
    return BranchDay(branch, day, purpose, tuple(day_slots(branch, day, purpose, taken, ctx.clock.now())),
                     available)


# -- the pick-up booked with an order -----------------------------------------------------------------------------


async def book_with_order(ctx: Commerce, uow: UnitOfWork, order: Order, slot: datetime, token: str) -> Pickup:
    """In the order's transaction: the slot's place taken, the pick-up written with its code's digest."""
    now, slot = ctx.clock.now(), slot.astimezone(UTC)
    branch = await uow.get_branch(order.branch_id)
    if ctx.catalog.get(order.product_id).kind is ProductKind.CAR:
        raise PickupNotAllowed("cars are handed over by the dealer, not picked up at a branch")
    if not order.customer.get("name"):
        raise InvalidInput("customer.name is required for a branch pick-up (the teller checks it against the ID)")
    branch.ensure_bookable(slot, now)
    await uow.take_slot(branch.id, "pickup", slot, branch.pickup_capacity)
    pickup = Pickup(order_id=order.id, branch_id=branch.id, slot_at=slot, status=PickupStatus.BOOKED,
                    code_sha256=code_digest(order.id, pickup_code(token, order.id)), created_at=now, updated_at=now)
    await uow.add_pickup(pickup)
    return pickup


async def release_with_order(uow: UnitOfWork, order: Order, now: datetime) -> None:
    """In the transaction that expires or cancels an unpaid order: its slot's place goes back."""
    pickup = await uow.get_pickup(order.id)
    if pickup is None or pickup.status is not PickupStatus.BOOKED:
        return
    await uow.free_slot(pickup.branch_id, "pickup", pickup.slot_at)
    pickup.release(now)
    await uow.save_pickup(pickup)


@dataclass(frozen=True)
class PickupDetails:
    pickup: Pickup
    branch: Branch
    order: Order
    code: str | None = None
    """Shown to the token's holder once the order is paid and the goods wait."""

    @property
    def may_move(self) -> bool:
        return self.pickup.status is PickupStatus.BOOKED and not self.pickup.extended


async def _customer_pickup(uow: UnitOfWork, order_id: str, token: str | None) -> tuple[Order, Pickup, Branch]:
    from showroom.services.orders import _authorise

    order = await _authorise(uow, order_id, token)
    pickup = await uow.get_pickup(order_id)
    if pickup is None:
        raise NotFound(f"order {order_id[:64]!r} has no branch pick-up")
    return order, pickup, await uow.get_branch(pickup.branch_id)


def _with_code(order: Order, pickup: Pickup, branch: Branch, token: str | None) -> PickupDetails:
    show = token is not None and order.status in PAID_STATUSES and pickup.status is PickupStatus.BOOKED
    return PickupDetails(pickup, branch, order, pickup_code(token, order.id) if show and token else None)


async def customer_pickup(ctx: Commerce, order_id: str, token: str | None) -> PickupDetails | None:
    """The order's pick-up for the holder of its token (the code once paid), None when the order is delivered
    (has no pick-up); `NotFound` for an unknown order or a wrong token."""
    from showroom.services.orders import _authorise

    async with ctx.uow() as uow:
        order = await _authorise(uow, order_id, token)
        pickup = await uow.get_pickup(order_id)
        if pickup is None:
            return None
        branch = await uow.get_branch(pickup.branch_id)
    return _with_code(order, pickup, branch, token)


async def move_pickup(ctx: Commerce, order_id: str, token: str | None, slot: datetime) -> PickupDetails:
    """The customer moves the pick-up once, to a later slot with room (the one extension)."""
    slot = slot.astimezone(UTC)
    async with ctx.uow() as uow:
        await _customer_pickup(uow, order_id, token)

    async def work(uow: UnitOfWork, out: Outcome) -> PickupDetails:
        now = ctx.clock.now()
        order = await uow.get_order(order_id, for_update=True)
        pickup = await uow.get_pickup(order_id)
        assert pickup is not None
        branch = await uow.get_branch(pickup.branch_id)
        if pickup.extended:
            raise PickupNotAllowed("a pick-up is extended once; this one was already moved")
        branch.ensure_bookable(slot, now)
        before = pickup.slot_at
        pickup.move(slot, now, "customer")
        await uow.take_slot(branch.id, "pickup", slot, branch.pickup_capacity)
        await uow.free_slot(branch.id, "pickup", before)
        await uow.save_pickup(pickup)
        await uow.add_audit(order.id, "pickup_moved", {"from": before.isoformat(), "to": slot.isoformat()}, now)
        out.events.append(_event(order, pickup))
        return _with_code(order, pickup, branch, token)

    moved, _ = await transact(ctx, work)
    return moved


def _event(order: Order, pickup: Pickup) -> dict[str, Any]:
    return {"type": "pickup", "id": order.id, "status": order.status.value, "pickup_status": pickup.status.value,
            "slot": pickup.slot_at.isoformat(), "extended": pickup.extended}


# -- the teller ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PickupLine:
    pickup: Pickup
    order: Order


async def pickups_on(ctx: Commerce, branch_id: str | None, day: date) -> list[PickupLine]:
    """A local day's pick-ups (every status) at a branch or at all, with their orders, by slot."""
    start, end = day_bounds(day)
    async with ctx.uow() as uow:
        if branch_id is not None:
            await uow.get_branch(branch_id)
        found = await uow.pickups_between(branch_id, start, end)
        return [PickupLine(p, await uow.get_order(p.order_id)) for p in found]


@dataclass(frozen=True)
class HandOver:
    branch_id: str
    code: str
    id_checked: bool
    """The teller's word that the customer's identity document was checked."""
    id_name: str
    """The name on the identity document, as the teller read it."""
    id_kind: str = "resident_id"


async def hand_over(ctx: Commerce, cmd: HandOver, actor: Actor) -> PickupLine:
    """The teller hands the goods over against the pick-up code and an identity check whose name matches the
    order's; the order is fulfilled and completed, all in one transaction, audited with the teller."""
    code = normalise_code(cmd.code)
    if not cmd.id_checked:
        raise IdentityNotChecked("check the customer's identity document before handing over")
    if not cmd.id_name.strip():
        raise InvalidInput("id_name: the name on the identity document is required")

    async def work(uow: UnitOfWork, out: Outcome) -> PickupLine:
        now = ctx.clock.now()
        await uow.get_branch(cmd.branch_id)
        candidates = await uow.pickups_between(cmd.branch_id, now - HANDOVER_WINDOW, now + HANDOVER_WINDOW)
        match = next((p for p in candidates if p.status is PickupStatus.BOOKED
                      and p.code_sha256 == code_digest(p.order_id, code)), None)
        if match is None:
            raise PickupCodeWrong("no pick-up waiting at this branch has this code")
        order = await uow.get_order(match.order_id, for_update=True)
        if order.status not in PAID_STATUSES or order.handed_over:
            raise PickupNotAllowed(f"order {order.id} is {order.status.value}; only paid orders are handed over")
        if not same_name(order.customer.get("name"), cmd.id_name):
            await uow.append_audit(actor.event(now, "pickup_name_mismatch", order_subject(order.id),
                                               after={"branch": cmd.branch_id, "id_kind": cmd.id_kind}))
            await uow.commit()  # the refusal stays in the audit trail
            raise NameMismatch("the name on the identity document does not match the order's; do not hand over")
        before = order.status
        if order.fulfilment is None:
            order.start_fulfilment(now)
        order.complete(now)
        match.hand_over(now, actor.name)
        await uow.save_order(order)
        await uow.save_pickup(match)
        await uow.append_audit(actor.event(
            now, "pickup_handed_over", order_subject(order.id), before={"status": before.value},
            after={"status": order.status.value, "branch": cmd.branch_id, "slot": match.slot_at.isoformat(),
                   "id_checked": True, "id_kind": cmd.id_kind, "name_matched": True}))
        out.events.extend(order.events)
        return PickupLine(match, order)

    line, _ = await transact(ctx, work)
    return line


async def count_shelf(ctx: Commerce, branch_id: str, product_id: str, variant_id: str, on_hand: int,
                      actor: Actor) -> tuple[int, int, int]:
    """Staff set a shelf's on-hand count after counting it (never below its reserved pieces), audited.
    Returns (on hand before, on hand now, reserved)."""
    if on_hand < 0:
        raise InvalidInput("on_hand cannot be negative")
    product = ctx.catalog.get(product_id)
    variant = product.variant(variant_id)

    async def work(uow: UnitOfWork, _out: Outcome) -> tuple[int, int, int]:
        now = ctx.clock.now()
        await uow.get_branch(branch_id)
        before, reserved = await uow.set_on_hand(branch_id, product.id, variant.id, on_hand)
        await uow.append_audit(actor.event(now, "stock_counted", f"stock:{branch_id}/{product.id}/{variant.id}",
                                           before={"on_hand": before}, after={"on_hand": on_hand,
                                                                              "reserved": reserved}))
        return before, on_hand, reserved

    done, _ = await transact(ctx, work)
    return done


# -- the missed-pick-up rule --------------------------------------------------------------------------------------


async def _extend(ctx: Commerce, order_id: str) -> str:
    """One missed pick-up: extended to a later slot with room, or (extended before, or no room) due a refund."""
    async def work(uow: UnitOfWork, out: Outcome) -> str:
        now = ctx.clock.now()
        order = await uow.get_order(order_id, for_update=True)
        pickup = await uow.get_pickup(order_id)
        if pickup is None:
            return "wait"
        branch = await uow.get_branch(pickup.branch_id)
        if pickup.status is PickupStatus.BOOKED and order.status not in PAID_STATUSES | OPEN_STATUSES:
            await uow.free_slot(branch.id, "pickup", pickup.slot_at)  # refunded, expired or cancelled meanwhile
            pickup.release(now)
            await uow.save_pickup(pickup)
            return "released"
        action = missed_action(pickup, order.status in PAID_STATUSES, branch.slot_minutes, now)
        if action != "extend":
            return action
        for slot in later_slots(branch, pickup.slot_at):
            if slot < now + timedelta(hours=2):
                continue
            try:
                await uow.take_slot(branch.id, "pickup", slot, branch.pickup_capacity)
            except SlotUnavailable:
                continue
            missed = pickup.slot_at
            await uow.free_slot(branch.id, "pickup", missed)
            pickup.missed_slots = (*pickup.missed_slots, missed)
            pickup.move(slot, now, "system")
            await uow.save_pickup(pickup)
            await uow.append_audit(SYSTEM.event(now, "pickup_extended", order_subject(order.id),
                                                before={"slot": missed.isoformat()},
                                                after={"slot": slot.isoformat(), "rule": "missed_once_extend"}))
            out.events.append(_event(order, pickup))
            return "extended"
        return "refund"

    done, _ = await transact(ctx, work)
    return done


async def _refund_missed(ctx: Commerce, order_id: str) -> None:
    """A pick-up missed after its extension: the order refunded in full through the refund path (idempotent by
    its key, so a crash between the two steps is finished by the next sweep), then the pick-up closed and its
    pieces put back on the branch's shelf."""
    await refunds.request_refund(ctx, refunds.RequestRefund(order_id, None, "pickup_missed"),
                                 f"pickup-missed:{order_id}", actor=SYSTEM)

    async def work(uow: UnitOfWork, out: Outcome) -> None:
        now = ctx.clock.now()
        order = await uow.get_order(order_id, for_update=True)
        pickup = await uow.get_pickup(order_id)
        if pickup is None or pickup.status is not PickupStatus.BOOKED:
            return
        await uow.free_slot(pickup.branch_id, "pickup", pickup.slot_at)
        pickup.refunded(now)
        on_hand, _reserved = await uow.stock_level(order.branch_id, order.product_id, order.variant_id)
        await uow.set_on_hand(order.branch_id, order.product_id, order.variant_id, on_hand + order.quantity)
        await uow.save_pickup(pickup)
        await uow.append_audit(SYSTEM.event(now, "pickup_missed_refunded", order_subject(order.id),
                                            after={"missed_slots": [s.isoformat() for s in pickup.missed_slots],
                                                   "returned_to_shelf": order.quantity}))
        out.events.append(_event(order, pickup))

    await transact(ctx, work)


async def sweep_missed(ctx: Commerce, limit: int = 100) -> dict[str, int]:
    """The sweeper's pass over booked pick-ups whose slot has started: the missed ones extended once, then
    refunded."""
    counts = {"pickups_extended": 0, "pickups_refunded": 0}
    async with ctx.uow() as uow:
        due = await uow.pickups_due(ctx.clock.now(), limit)
    for pickup in due:
        try:
            action = await _extend(ctx, pickup.order_id)
            if action == "extended":
                counts["pickups_extended"] += 1
            elif action == "refund":
                await _refund_missed(ctx, pickup.order_id)
                counts["pickups_refunded"] += 1
        except (ShowroomError, OrderNotFound) as exc:
            log.warning("missed pick-up of order %s: %s", pickup.order_id, exc.message)
    return counts
