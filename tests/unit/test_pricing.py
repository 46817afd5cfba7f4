"""Bank prices from the spot price: bars, jewellery, cars; quotes lock the price for their lifetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from showroom.catalog import Metal
from showroom.errors import InvalidInput
from showroom.pricing import (
    PriceSnapshot,
    PriceUnavailable,
    QuoteExpired,
    format_cny,
    make_quote,
    price_unit,
    to_fen,
)
from tests.commerce_fakes import make_catalog

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SNAP = PriceSnapshot("s1", "test", NOW, {Metal.GOLD: Decimal("930.00"), Metal.SILVER: Decimal("11.50"),
                                         Metal.PLATINUM: Decimal("350.00")})
CAT = make_catalog()


def test_a_gold_bar_costs_weight_times_spot_of_its_purity_plus_premium() -> None:
    bar = CAT.get("bar-50g")
    b = price_unit(bar, bar.variant("au9999-50g"), SNAP, car_deposit_cny=Decimal("5000"))
    assert b.metal_cny_per_g == Decimal("929.91")  # 930 x 0.9999
    assert b.premium_cny == Decimal("400.00") and b.unit_price_cny == Decimal("46895.50")


def test_jewellery_adds_a_craft_fee_per_piece_or_per_gram() -> None:
    ring = CAT.get("ring-18k")
    k18 = price_unit(ring, ring.variant("au750-12"), SNAP, car_deposit_cny=Decimal("5000"))
    assert k18.metal_cny_per_g == Decimal("697.50")  # 930 x 0.750
    assert k18.metal_value_cny == Decimal("2232.00") and k18.craft_fee_cny == Decimal("280.00")
    assert k18.unit_price_cny == Decimal("2512.00")
    pt = price_unit(ring, ring.variant("pt950-12"), SNAP, car_deposit_cny=Decimal("5000"))
    assert pt.metal_cny_per_g == Decimal("332.50") and pt.craft_fee_cny == Decimal("120.00")
    assert pt.unit_price_cny == Decimal("1450.00")


def test_a_car_is_reserved_by_its_deposit_and_shows_its_list_price() -> None:
    car = CAT.get("car-ev")
    b = price_unit(car, car.variant(None), SNAP, car_deposit_cny=Decimal("5000"))
    assert b.unit_price_cny == Decimal("5000.00") and b.list_price_cny == Decimal("259800")


def test_a_quote_locks_the_price_until_it_expires() -> None:
    bar = CAT.get("bar-50g")
    q = make_quote(bar, bar.variant("au9999-10g"), 2, SNAP, NOW, ttl_s=300, car_deposit_cny=Decimal("5000"))
    assert q.unit_price_fen == 941910 and q.total_fen == 1883820  # 10 x (929.91 + 12) each
    assert q.expires_at == NOW + timedelta(seconds=300)
    q.ensure_valid(NOW + timedelta(seconds=299))
    with pytest.raises(QuoteExpired):
        q.ensure_valid(NOW + timedelta(seconds=300))


@pytest.mark.parametrize("quantity", [0, -1, 101])
def test_quantities_out_of_range_are_refused(quantity: int) -> None:
    bar = CAT.get("bar-50g")
    with pytest.raises(InvalidInput):
        make_quote(bar, bar.variant(None), quantity, SNAP, NOW, ttl_s=300, car_deposit_cny=Decimal("5000"))


def test_a_missing_metal_price_refuses_to_quote() -> None:
    ring = CAT.get("ring-18k")
    only_gold = PriceSnapshot("s2", "test", NOW, {Metal.GOLD: Decimal("930")})
    with pytest.raises(PriceUnavailable):
        price_unit(ring, ring.variant("pt950-12"), only_gold, car_deposit_cny=Decimal("0"))


def test_fen_rounding_is_half_up_and_formatting_keeps_two_places() -> None:
    assert to_fen(Decimal("0.005")) == 1 and to_fen(Decimal("0.0049")) == 0 and to_fen(Decimal("12.345")) == 1235
    assert format_cny(1234567) == "12345.67" and format_cny(5) == "0.05"
