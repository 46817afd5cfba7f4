"""Buy-back of the bank's bars and coins (`showroom.buyback` states the rules): the live bid, a quote locking it
(answering the customer's secret token once, like an order's), the booking of a branch slot for the inspection
(the customer's facts from the bank's customer-information service; a booking code the teller types), reading and
cancelling with the token, and the teller's inspection: identity checked against the booking's name, each piece's
weight, serial and condition assessed, the serial linked to the original sale and its certificate revoked, and
the payout started (`services.buyback_payouts`)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import cast

from showroom.audit import CUSTOMER, Actor
from showroom.branches import IdentityNotChecked, NameMismatch, Purpose, normalise_code, same_name
from showroom.buyback import (
    LARGE_PAYOUT_FEN,
    MAX_OPEN_PER_CUSTOMER,
    Buyback,
    BuybackCodeWrong,
    BuybackError,
    BuybackExpired,
    BuybackStatus,
    Condition,
    NeedsAccount,
    Piece,
    SerialLink,
    assess,
    booking_code,
    code_digest,
    eligible,
    make_buyback,
    piece_value_fen,
    serial_prefix_ok,
)
from showroom.buyback_ports import BuybackRepository
from showroom.catalog import Product, Variant
from showroom.certificates import CertificateStatus, serial_well_formed
from showroom.errors import InvalidInput, NotFound
from showroom.orders import new_id
from showroom.ports import UnitOfWork
from showroom.pricing import PriceSnapshot, snapshot_to_dict
from showroom.services._uow import Commerce, Outcome, transact
from showroom.services.orders import MAX_TOKEN_CHARS, Customer, lookup_customer, new_order_token, token_digest
from showroom.services.pickups import HANDOVER_WINDOW, day_bounds
from showroom.staff import ApprovalState

BOUGHT_BACK = "bought back by the bank"
"""The revocation reason of a certificate whose piece the bank bought back."""
PURPOSE: Purpose = "advisory"
"""Inspections take a place of the branch's counter desks: the advisory capacity of the slot engine."""


def subject(buyback_id: str) -> str:
    return f"buyback:{buyback_id}"


def repo(uow: UnitOfWork) -> BuybackRepository:
    """The unit of work's buy-back rows (`uow.buybacks`)."""
    found = getattr(uow, "buybacks", None)
    if found is None:
        raise TypeError("this unit of work keeps no buy-backs")
    return cast(BuybackRepository, found)


# -- the live bid -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BidLine:
    product: Product
    variant: Variant
    unit_fen: int
    """What one intact piece at nominal weight fetches at the current bid."""


@dataclass(frozen=True)
class BidBoard:
    snapshot: PriceSnapshot
    lines: tuple[BidLine, ...]


async def bid_board(ctx: Commerce) -> BidBoard:
    """The current buy-back price of every bar and coin the bank buys back (not locked)."""
    from showroom.services.prices import current_snapshot

    snapshot = await current_snapshot(ctx)
    lines = []
    for product in ctx.catalog.products:
        if not eligible(product):
            continue
        for variant in product.variants:
            if variant.purity is None or variant.weight_g is None:
                continue
            bid = snapshot.bid_price_cny_per_g(variant.purity.metal)
            lines.append(BidLine(product, variant, piece_value_fen(bid, variant.purity.fineness, variant.weight_g)))
    return BidBoard(snapshot, tuple(lines))


# -- the customer -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerBuyback:
    buyback: Buyback
    token: str | None = None
    """Only in the answer that created the quote."""
    code: str | None = None
    """The booking code, for the token's holder once booked."""


async def quote(ctx: Commerce, product_id: str, variant_id: str | None, quantity: int) -> CustomerBuyback:
    """Locks the current bid of the pure metal for the pieces; answers the customer's token once."""
    from showroom.services.prices import current_snapshot

    product = ctx.catalog.get(product_id)
    variant = product.variant(variant_id)
    snapshot = await current_snapshot(ctx)
    now = ctx.clock.now()
    b = make_buyback(new_id("bb"), product, variant, quantity, snapshot, now, snapshot_to_dict(snapshot))
    token, digest = new_order_token()

    async def work(uow: UnitOfWork, _out: Outcome) -> None:
        await repo(uow).add(b, digest)
        await uow.append_audit(CUSTOMER.event(now, "buyback_quoted", subject(b.id), after={
            "product": b.product_id, "variant": b.variant_id, "quantity": b.quantity, "metal": b.metal.value,
            "bid_cny_per_g": str(b.bid_cny_per_g), "quoted_fen": b.quoted_fen, "price_snapshot": b.snapshot,
            "quote_expires_at": b.quote_expires_at.isoformat()}))

    await transact(ctx, work)
    return CustomerBuyback(b, token)


async def _authorise(uow: UnitOfWork, buyback_id: str, token: str | None,
                     for_update: bool = False) -> Buyback:
    try:
        b, stored = await repo(uow).get(buyback_id, for_update=for_update)
    except NotFound:
        raise NotFound(f"no buy-back {buyback_id[:64]!r}") from None
    presented = token_digest(token) if token and len(token) <= MAX_TOKEN_CHARS else ""
    if not hmac.compare_digest(stored, presented):
        raise NotFound(f"no buy-back {buyback_id[:64]!r}")
    return b


def _shown(b: Buyback, token: str | None) -> CustomerBuyback:
    code = booking_code(token, b.id) if token and b.status is BuybackStatus.BOOKED else None
    return CustomerBuyback(b, None, code)


async def get(ctx: Commerce, buyback_id: str, token: str | None) -> CustomerBuyback:
    async with ctx.uow() as uow:
        b = await _authorise(uow, buyback_id, token)
    b.expire_if_due(ctx.clock.now())
    return _shown(b, token)


@dataclass(frozen=True)
class BookBuyback:
    branch_id: str
    slot: datetime
    customer: Customer


async def book(ctx: Commerce, buyback_id: str, token: str | None, cmd: BookBuyback) -> CustomerBuyback:
    """Books the inspection: the slot's place taken, the customer's facts from the bank (the payout goes to
    their account of record, so the number must belong to a customer of the bank), the lock held to the slot."""
    if not cmd.customer.name:
        raise InvalidInput("customer.name is required (the teller checks it against the ID)")
    async with ctx.uow() as uow:
        await _authorise(uow, buyback_id, token)
    facts = await lookup_customer(ctx, cmd.customer.phone)
    facts.ensure_may_order()
    if facts.customer_id.startswith("unverified:"):
        raise NeedsAccount("a buy-back is paid into your account at the bank; this mobile number has none. "
                           "Please open an account at a branch first")
    slot = cmd.slot.astimezone(UTC)

    async def work(uow: UnitOfWork, _out: Outcome) -> CustomerBuyback:
        now = ctx.clock.now()
        b = await _authorise(uow, buyback_id, token, for_update=True)
        if b.status is BuybackStatus.BOOKED and b.branch_id == cmd.branch_id and b.slot_at == slot:
            return _shown(b, token)  # a retry of the same booking
        if b.status is BuybackStatus.QUOTED and now >= b.quote_expires_at:  # the lock first, then the slot
            raise BuybackExpired(f"the buy-back quote {b.id} expired; ask for a new quote")
        branch = await uow.get_branch(cmd.branch_id)
        branch.ensure_bookable(slot, now)
        if await repo(uow).open_for_customer(facts.customer_id) >= MAX_OPEN_PER_CUSTOMER:
            raise BuybackError(f"at most {MAX_OPEN_PER_CUSTOMER} buy-back visits booked ahead per customer")
        assert token is not None
        b.book(branch.id, slot, branch.slot_end(slot), cmd.customer.name or "", cmd.customer.phone,
               facts.customer_id, code_digest(b.id, booking_code(token, b.id)), now)
        await uow.take_slot(branch.id, PURPOSE, slot, branch.advisory_capacity)
        await repo(uow).save(b)
        await uow.append_audit(CUSTOMER.event(now, "buyback_booked", subject(b.id), after={
            "branch": branch.id, "slot": slot.isoformat(), "customer_id": facts.customer_id,
            "kyc_level": facts.kyc_level.value, "facts_source": facts.source,
            "lock_until": b.lock_ends().isoformat()}))
        return _shown(b, token)

    done, _ = await transact(ctx, work)
    return done


async def cancel(ctx: Commerce, buyback_id: str, token: str | None) -> CustomerBuyback:
    """The customer cancels a quoted or booked buy-back; a booked slot's place goes back."""
    async def work(uow: UnitOfWork, _out: Outcome) -> CustomerBuyback:
        now = ctx.clock.now()
        b = await _authorise(uow, buyback_id, token, for_update=True)
        booked = b.status is BuybackStatus.BOOKED
        b.cancel(now)
        if booked and b.branch_id is not None and b.slot_at is not None and b.slot_at > now:
            await uow.free_slot(b.branch_id, PURPOSE, b.slot_at)
        await repo(uow).save(b)
        await uow.append_audit(CUSTOMER.event(now, "buyback_cancelled", subject(b.id)))
        return _shown(b, None)

    done, _ = await transact(ctx, work)
    return done


# -- the teller ---------------------------------------------------------------------------------------------------


async def revoke_accepted(r: BuybackRepository, b: Buyback, now: datetime) -> None:
    """Revokes the certificates of the pieces the bank buys (when the payout is decided: at the inspection, or
    at a second person's approval above the four-eyes limit)."""
    for piece in b.pieces:
        if piece.accepted and piece.certificate_id:
            await r.revoke_certificate(piece.certificate_id, now, BOUGHT_BACK)


async def on_day(ctx: Commerce, branch_id: str | None, day: date) -> list[Buyback]:
    start, end = day_bounds(day)
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        if branch_id is not None:
            await uow.get_branch(branch_id)
        found = await repo(uow).between(branch_id, start, end)
    for b in found:
        b.expire_if_due(now)
    return found


async def _match_code(uow: UnitOfWork, branch_id: str, code: str, now: datetime) -> Buyback:
    await uow.get_branch(branch_id)
    candidates = await repo(uow).between(branch_id, now - HANDOVER_WINDOW, now + HANDOVER_WINDOW,
                                         BuybackStatus.BOOKED.value)
    match = next((b for b in candidates if b.code_sha256 == code_digest(b.id, code)), None)
    if match is None:
        raise BuybackCodeWrong("no buy-back booked at this branch has this code")
    return match


async def find_by_code(ctx: Commerce, branch_id: str, code: str) -> Buyback:
    """The booked buy-back a customer's code names at this branch (the console shows it before inspecting)."""
    normalised = normalise_code(code)
    async with ctx.uow() as uow:
        b = await _match_code(uow, branch_id, normalised, ctx.clock.now())
    b.expire_if_due(ctx.clock.now())
    return b


@dataclass(frozen=True)
class PresentedPiece:
    serial: str | None
    weight_g: Decimal
    condition: Condition


@dataclass(frozen=True)
class Inspection:
    branch_id: str
    code: str
    id_checked: bool
    id_name: str
    pieces: tuple[PresentedPiece, ...]
    id_kind: str = "resident_id"


async def _link(r: BuybackRepository, serial: str) -> SerialLink:
    if await r.serial_buyback(serial) is not None:
        return SerialLink(note="bought_back")
    records = await r.certificates_by_serial(serial)
    if not records:
        return SerialLink()
    latest = records[-1]
    first = records[0]
    if latest.status == CertificateStatus.VALID:
        return SerialLink(latest.id, first.order_id, "ours" if latest.generation == 0 else "transferred")
    if latest.revoke_reason == BOUGHT_BACK:
        return SerialLink(latest.id, first.order_id, "bought_back")
    return SerialLink(latest.id, first.order_id, "refunded")


def _serial_problem(serial: str | None, prefix: str | None, seen: set[str]) -> str | None:
    if serial is None:
        return "serial_missing" if prefix is not None else None
    if not serial_well_formed(serial):
        return "serial_invalid"
    if not serial_prefix_ok(serial, prefix):
        return "serial_other_product"
    if serial in seen:
        return "serial_repeated"
    return None


async def inspect(ctx: Commerce, cmd: Inspection, actor: Actor) -> Buyback:
    """The teller's inspection, in one transaction: the booking found by its code at the branch, the identity
    checked against the booking's name, each piece assessed, accepted serials claimed (never bought twice) and
    their certificates revoked, audited with the teller. An accepted buy-back's payout is then sent; one above the
    four-eyes limit waits for a second person (`services.buyback_approvals`) and nothing is sent."""
    code = normalise_code(cmd.code)
    if not cmd.id_checked:
        raise IdentityNotChecked("check the customer's identity document before the inspection")
    if not cmd.id_name.strip():
        raise InvalidInput("id_name: the name on the identity document is required")

    async def work(uow: UnitOfWork, _out: Outcome) -> Buyback:
        now = ctx.clock.now()
        r = repo(uow)
        b = await _match_code(uow, cmd.branch_id, code, now)
        b, _ = await r.get(b.id, for_update=True)
        if b.expire_if_due(now):
            await r.save(b)
            await uow.append_audit(actor.event(now, "buyback_expired", subject(b.id),
                                               after={"lock_until": b.lock_ends().isoformat()}))
            await uow.commit()
            raise BuybackExpired("the locked price of this buy-back expired; the customer asks for a new quote")
        if not same_name(b.customer_name, cmd.id_name):
            await uow.append_audit(actor.event(now, "buyback_name_mismatch", subject(b.id),
                                               after={"branch": cmd.branch_id, "id_kind": cmd.id_kind}))
            await uow.commit()
            raise NameMismatch("the name on the identity document does not match the booking's; do not buy")
        if not 1 <= len(cmd.pieces) <= b.quantity:
            raise InvalidInput(f"pieces: from 1 to {b.quantity} pieces (the quoted quantity)")
        prefix = ctx.catalog.get(b.product_id).variant(b.variant_id).serial_prefix
        seen: set[str] = set()
        pieces: list[Piece] = []
        for presented in cmd.pieces:
            serial = presented.serial.strip().upper() if presented.serial else None
            problem = _serial_problem(serial, prefix, seen)
            link = await _link(r, serial) if serial and problem is None else SerialLink()
            if serial:
                seen.add(serial)
            pieces.append(assess(b, serial, presented.weight_g, presented.condition, link, problem))
        for piece in pieces:
            if piece.accepted and piece.serial and not await r.claim_serial(piece.serial, b.id, now):
                piece.accepted, piece.amount_fen, piece.reason = False, 0, "serial_bought_back"
        before = b.status
        limit = ctx.settings.buyback_four_eyes_cny
        b.record_inspection(pieces, actor.name, cmd.id_kind, now, limit)
        if b.status is BuybackStatus.ACCEPTED:  # awaiting approval: revoked when approved (the serials are held)
            await revoke_accepted(r, b, now)
        await r.save(b)
        await uow.append_audit(actor.event(
            now, "buyback_inspected", subject(b.id), before={"status": before.value},
            after={"status": b.status.value, "branch": cmd.branch_id, "id_checked": True, "id_kind": cmd.id_kind,
                   "name_matched": True, "pieces": [p.document() for p in pieces], "amount_fen": b.amount_fen,
                   "bid_cny_per_g": str(b.bid_cny_per_g), "customer_id": b.customer_id,
                   "aml_review": b.amount_fen >= LARGE_PAYOUT_FEN}))
        if b.status is BuybackStatus.AWAITING_APPROVAL:
            await uow.append_audit(actor.event(now, "buyback_payout_approval_requested", subject(b.id), after={
                "amount_fen": b.amount_fen, "four_eyes_limit_cny": str(limit), "state": ApprovalState.PENDING.value,
                "inspected_by": b.inspected_by}))
        return b

    done, _ = await transact(ctx, work)
    if done.status is BuybackStatus.ACCEPTED:
        from showroom.services.buyback_payouts import send_payout

        return await send_payout(ctx, done.id)
    return done

