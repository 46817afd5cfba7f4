"""Prices of metal products and car reservation deposits from a spot-price snapshot. Pure domain: no I/O.

Rules (all money `Decimal` CNY, rounded half-up to the fen only where a price is shown):
- price per gram of an alloy = spot price of the pure metal per gram x fineness (Au750 = 0.750 x Au spot),
  rounded to the fen;
- gold bars and coins: unit price = weight_g x (alloy price per gram + bank premium per gram);
- jewellery: unit price = weight_g x alloy price per gram + craft fee (per gram x weight_g, or per piece);
- cars: the order is a refundable reservation deposit (a setting, default 5,000 CNY); the list price (MSRP)
  is shown and financed separately (`showroom.finance`);
- total = unit price x quantity.

A `Quote` locks the unit price for `ttl_s` (default 300 s); an order can only be placed on an unexpired quote.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from showroom.catalog import CraftFeeBasis, Metal, Product, ProductKind, Variant
from showroom.errors import InvalidInput, ShowroomError

FEN = Decimal("0.01")
MAX_QUANTITY = 100


class QuoteExpired(ShowroomError):
    code = "quote_expired"
    http_status = 409


class PriceUnavailable(ShowroomError):
    """The price feed has no (fresh) price: no quote can be made now."""

    code = "price_unavailable"
    http_status = 503


@dataclass(frozen=True)
class PriceSnapshot:
    """Spot prices of the pure metals in CNY per gram at one instant, as one feed published them.

    The price of an alloy is the pure price times its fineness (`alloy_price_cny_per_g`).
    """

    snapshot_id: str
    source: str
    as_of: datetime
    cny_per_g: Mapping[Metal, Decimal] = field(default_factory=dict)
    bid_cny_per_g: Mapping[Metal, Decimal] = field(default_factory=dict)
    """The bank's buy-back (bid) price of each pure metal per gram, below the spot (ask) price by the bank's
    spread; empty when the feed publishes none (then no buy-back is quoted: `showroom.buyback`)."""

    def price_cny_per_g(self, metal: Metal) -> Decimal:
        try:
            return self.cny_per_g[metal]
        except KeyError:
            raise PriceUnavailable(f"the price feed {self.source!r} has no price for {metal.value}") from None

    def bid_price_cny_per_g(self, metal: Metal) -> Decimal:
        """The buy-back price of the pure metal per gram; `PriceUnavailable` when the feed gives none."""
        try:
            return self.bid_cny_per_g[metal]
        except KeyError:
            raise PriceUnavailable(f"the price feed {self.source!r} has no buy-back price for {metal.value}; "
                                   "buy-backs cannot be quoted now") from None


def to_fen(amount_cny: Decimal) -> int:
    """CNY -> integer fen, rounding half-up (the only rounding rule for prices)."""
    return int((amount_cny * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_fen(amount_fen: int) -> Decimal:
    return (Decimal(amount_fen) / 100).quantize(FEN)


def round_cny(amount_cny: Decimal) -> Decimal:
    return amount_cny.quantize(FEN, rounding=ROUND_HALF_UP)


def format_cny(amount_fen: int) -> str:
    """Integer fen as the API's decimal string, e.g. 1234567 -> "12345.67"."""
    return str(from_fen(amount_fen))


@dataclass(frozen=True)
class PriceBreakdown:
    """How a unit price was made; kept in the quote and in the order's audit record."""

    metal_cny_per_g: Decimal | None
    """Price per gram of the variant's alloy (spot x fineness), None for cars."""
    weight_g: Decimal | None
    metal_value_cny: Decimal
    premium_cny: Decimal
    craft_fee_cny: Decimal
    unit_price_cny: Decimal
    list_price_cny: Decimal | None = None
    """Cars: the MSRP of the trim (the deposit is what is paid now)."""


def alloy_price_cny_per_g(snapshot: PriceSnapshot, variant: Variant) -> Decimal:
    if variant.purity is None:
        raise InvalidInput(f"variant {variant.id!r} has no purity, so it has no metal price")
    spot = snapshot.price_cny_per_g(variant.purity.metal)
    return round_cny(spot * variant.purity.fineness)


def price_unit(product: Product, variant: Variant, snapshot: PriceSnapshot, *, car_deposit_cny: Decimal) -> PriceBreakdown:
    """The bank's unit price of one piece of `variant` at the prices of `snapshot`."""
    if product.kind is ProductKind.CAR:
        deposit = round_cny(car_deposit_cny)
        return PriceBreakdown(None, None, Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), deposit, variant.msrp_cny)
    if variant.weight_g is None or variant.weight_g <= 0:
        raise InvalidInput(f"variant {variant.id!r} of {product.id!r} has no weight")
    per_g = alloy_price_cny_per_g(snapshot, variant)
    metal_value = round_cny(per_g * variant.weight_g)
    premium = Decimal("0.00")
    craft = Decimal("0.00")
    if product.kind.is_jewellery:
        if variant.craft_fee_basis is CraftFeeBasis.PER_GRAM:
            craft = round_cny(variant.craft_fee_cny * variant.weight_g)
        else:
            craft = round_cny(variant.craft_fee_cny)
    else:
        premium = round_cny(variant.premium_cny_per_g * variant.weight_g)
        craft = round_cny(variant.craft_fee_cny) if variant.craft_fee_cny else Decimal("0.00")
    unit = metal_value + premium + craft
    return PriceBreakdown(per_g, variant.weight_g, metal_value, premium, craft, unit)


@dataclass(frozen=True)
class Quote:
    id: str
    product_id: str
    variant_id: str
    quantity: int
    unit_price_fen: int
    total_fen: int
    breakdown: PriceBreakdown
    snapshot: PriceSnapshot
    created_at: datetime
    expires_at: datetime

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def ensure_valid(self, now: datetime) -> None:
        if self.is_expired(now):
            raise QuoteExpired(f"quote {self.id} expired at {self.expires_at.isoformat()}; ask for a new quote")


def new_quote_id() -> str:
    return "q_" + secrets.token_hex(12)


def make_quote(
    product: Product,
    variant: Variant,
    quantity: int,
    snapshot: PriceSnapshot,
    now: datetime,
    *,
    ttl_s: int,
    car_deposit_cny: Decimal,
    quote_id: str | None = None,
) -> Quote:
    """A quote locking the current price of `quantity` pieces for `ttl_s` seconds."""
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidInput(f"quantity must be between 1 and {MAX_QUANTITY}")
    if product.kind is ProductKind.CAR and quantity != 1:
        raise InvalidInput("a car is reserved one at a time")
    if ttl_s <= 0:
        raise InvalidInput("quote_ttl_s must be positive")
    breakdown = price_unit(product, variant, snapshot, car_deposit_cny=car_deposit_cny)
    unit_fen = to_fen(breakdown.unit_price_cny)
    return Quote(
        id=quote_id or new_quote_id(),
        product_id=product.id,
        variant_id=variant.id,
        quantity=quantity,
        unit_price_fen=unit_fen,
        total_fen=unit_fen * quantity,
        breakdown=breakdown,
        snapshot=snapshot,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
    )


def snapshot_to_dict(s: PriceSnapshot) -> dict[str, Any]:
    """The JSON form of a price snapshot, kept with quotes and in audit records."""
    out: dict[str, Any] = {"snapshot_id": s.snapshot_id, "source": s.source, "as_of": s.as_of.isoformat(),
                           "cny_per_g": {m.value: str(v) for m, v in s.cny_per_g.items()}}
    if s.bid_cny_per_g:
        out["bid_cny_per_g"] = {m.value: str(v) for m, v in s.bid_cny_per_g.items()}
    return out


def snapshot_from_dict(d: dict[str, Any]) -> PriceSnapshot:
    return PriceSnapshot(d["snapshot_id"], d["source"], datetime.fromisoformat(d["as_of"]),
                         {Metal(k): Decimal(v) for k, v in d["cny_per_g"].items()},
                         {Metal(k): Decimal(v) for k, v in (d.get("bid_cny_per_g") or {}).items()})


def iso_utc(value: datetime | None) -> str | None:
    """A time as the API writes it: ISO 8601, UTC as `Z`."""
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def quote_to_dict(q: Quote) -> dict[str, Any]:
    """The quote as the customer saw it: the JSON of `POST /api/quotes`, and what the audit trail keeps."""
    b = q.breakdown
    return {
        "id": q.id, "product": q.product_id, "variant": q.variant_id, "quantity": q.quantity,
        "currency": "CNY", "unit_price_cny": format_cny(q.unit_price_fen), "total_cny": format_cny(q.total_fen),
        "created_at": iso_utc(q.created_at), "expires_at": iso_utc(q.expires_at),
        "breakdown": {"metal_cny_per_g": None if b.metal_cny_per_g is None else str(b.metal_cny_per_g),
                      "weight_g": None if b.weight_g is None else str(b.weight_g),
                      "metal_value_cny": str(b.metal_value_cny), "premium_cny": str(b.premium_cny),
                      "craft_fee_cny": str(b.craft_fee_cny),
                      "list_price_cny": None if b.list_price_cny is None else str(b.list_price_cny)},
        "price_source": q.snapshot.source, "price_as_of": iso_utc(q.snapshot.as_of),
        "price_snapshot_id": q.snapshot.snapshot_id,
    }
