"""Advisory appointments at a branch, on the same slot engine as pick-ups (their own capacity: the advisors'
desks). Booking answers a secret token once (like an order's); reading and cancelling need it. The customer's
identity comes from the bank's customer-information service, like an order's."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from showroom.audit import CUSTOMER, Actor
from showroom.branches import (
    BOOKING_HORIZON_DAYS,
    Appointment,
    AppointmentStatus,
    AppointmentTopic,
    BranchError,
    PickupNotAllowed,
)
from showroom.errors import NotFound
from showroom.orders import new_id
from showroom.ports import UnitOfWork
from showroom.services._idempotency import Claim
from showroom.services._uow import Commerce, Outcome, transact
from showroom.services.orders import MAX_TOKEN_CHARS, Customer, lookup_customer, new_order_token, token_digest
from showroom.services.pickups import day_bounds

MAX_BOOKED_PER_CUSTOMER = 3
"""Advisory visits one verified customer may hold booked ahead (the advisors' desks are not for hoarding)."""


class AppointmentLimit(BranchError):
    code = "appointment_limit"


@dataclass(frozen=True)
class BookAppointment:
    branch_id: str
    slot: datetime
    topic: AppointmentTopic
    customer: Customer
    note: str | None = None


@dataclass(frozen=True)
class Booked:
    appointment: Appointment
    token: str | None = None
    """The customer's capability for this appointment: only in the answer that booked it (and its replays)."""


def _subject(appointment_id: str) -> str:
    return f"appointment:{appointment_id}"


async def book(ctx: Commerce, cmd: BookAppointment, claim: Claim[Booked] | None = None) -> Booked:
    """Takes a place in the branch's advisory slot and books the visit (the answer stored with it)."""
    facts = await lookup_customer(ctx, cmd.customer.phone)
    slot = cmd.slot.astimezone(UTC)

    async def work(uow: UnitOfWork, _out: Outcome) -> Booked:
        now = ctx.clock.now()
        branch = await uow.get_branch(cmd.branch_id)
        branch.ensure_bookable(slot, now)
        ahead = await uow.appointments_between(None, now, now + timedelta(days=BOOKING_HORIZON_DAYS + 1))
        if sum(a.customer_key == facts.customer_id and a.status is AppointmentStatus.BOOKED for a in ahead) \
                >= MAX_BOOKED_PER_CUSTOMER:
            raise AppointmentLimit(f"at most {MAX_BOOKED_PER_CUSTOMER} advisory visits booked ahead per customer")
        await uow.take_slot(branch.id, "advisory", slot, branch.advisory_capacity)
        token, digest = new_order_token()
        appointment = Appointment(id=new_id("apt"), branch_id=branch.id, slot_at=slot, topic=cmd.topic,
                                  name=cmd.customer.name, phone=cmd.customer.phone, customer_key=facts.customer_id,
                                  status=AppointmentStatus.BOOKED, created_at=now, note=cmd.note)
        await uow.add_appointment(appointment, digest)
        await uow.append_audit(CUSTOMER.event(now, "appointment_booked", _subject(appointment.id),
                                              after={"branch": branch.id, "slot": slot.isoformat(),
                                                     "topic": cmd.topic.value}))
        booked = Booked(appointment, token)
        if claim is not None:
            await claim.finish(uow, booked)
        return booked

    booked, _ = await transact(ctx, work)
    return booked


async def _authorise(uow: UnitOfWork, appointment_id: str, token: str | None) -> Appointment:
    appointment, stored = await uow.get_appointment(appointment_id)
    presented = token_digest(token) if token and len(token) <= MAX_TOKEN_CHARS else ""
    if not hmac.compare_digest(stored, presented):
        raise NotFound(f"no appointment {appointment_id[:64]!r}")
    return appointment


async def get(ctx: Commerce, appointment_id: str, token: str | None) -> Appointment:
    async with ctx.uow() as uow:
        return await _authorise(uow, appointment_id, token)


async def cancel(ctx: Commerce, appointment_id: str, token: str | None, actor: Actor = CUSTOMER) -> Appointment:
    """The customer cancels; the slot's place goes back."""
    async def work(uow: UnitOfWork, _out: Outcome) -> Appointment:
        now = ctx.clock.now()
        appointment = await _authorise(uow, appointment_id, token)
        if appointment.status is not AppointmentStatus.BOOKED:
            raise PickupNotAllowed(f"appointment {appointment.id} is {appointment.status.value}")
        appointment.status = AppointmentStatus.CANCELLED
        await uow.free_slot(appointment.branch_id, "advisory", appointment.slot_at)
        await uow.save_appointment(appointment)
        await uow.append_audit(actor.event(now, "appointment_cancelled", _subject(appointment.id)))
        return appointment

    done, _ = await transact(ctx, work)
    return done


async def on_day(ctx: Commerce, branch_id: str | None, day: date) -> list[Appointment]:
    start, end = day_bounds(day)
    async with ctx.uow() as uow:
        return await uow.appointments_between(branch_id, start, end)
