"""Buy-back rules (pure): the bid locked by a quote, the amount on measured fine weight, the inspection's
tolerance, condition and serial rules, the lock's expiry, the payout states, and the bid in the price feeds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from showroom.adapters.prices import SandboxPriceFeed, parse_price_document
from showroom.buyback import (
    LATE_GRACE,
    MAX_LOCK,
    QUOTE_TTL,
    Buyback,
    BuybackError,
    BuybackExpired,
    BuybackStatus,
    Condition,
    NotBoughtBack,
    SerialLink,
    assess,
    booking_code,
    code_digest,
    make_buyback,
    weight_tolerance_g,
)
from showroom.catalog import Metal
from showroom.pricing import PriceSnapshot, PriceUnavailable, snapshot_from_dict, snapshot_to_dict
from tests.commerce_fakes import ManualClock, make_catalog

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SPOT = {Metal.GOLD: Decimal("930.00"), Metal.SILVER: Decimal("11.50"), Metal.PLATINUM: Decimal("350.00")}
BID = {Metal.GOLD: Decimal("926.00"), Metal.SILVER: Decimal("11.30"), Metal.PLATINUM: Decimal("345.00")}
SNAP = PriceSnapshot("s1", "test", NOW, SPOT, BID)
CAT = make_catalog()


def quote(quantity: int = 1, variant: str = "au9999-50g") -> Buyback:
    bar = CAT.get("bar-50g")
    return make_buyback("bb_1", bar, bar.variant(variant), quantity, SNAP, NOW, snapshot_to_dict(SNAP))


def piece(b: Buyback, weight: str, condition: Condition = Condition.INTACT, link: SerialLink | None = None,
          problem: str | None = None) -> tuple[bool, int, str | None]:
    p = assess(b, "HJ50-261123-0000000000", Decimal(weight), condition, link or SerialLink(), problem)
    return p.accepted, p.amount_fen, p.reason


def test_a_quote_locks_the_bid_times_fineness_times_weight() -> None:
    b = quote(quantity=2)
    assert b.bid_cny_per_g == Decimal("926.00") and b.fineness == Decimal("0.9999")
    assert b.unit_quoted_fen == 4629537  # 926.00 x 0.9999 x 50 = 46,295.37 CNY
    assert b.quoted_fen == 2 * 4629537
    assert b.quote_expires_at == NOW + QUOTE_TTL and b.status is BuybackStatus.QUOTED


def test_a_snapshot_without_a_bid_refuses_to_quote() -> None:
    bar = CAT.get("bar-50g")
    bare = PriceSnapshot("s0", "test", NOW, SPOT)
    with pytest.raises(PriceUnavailable) as err:
        make_buyback("bb_0", bar, bar.variants[0], 1, bare, NOW, snapshot_to_dict(bare))
    assert err.value.http_status == 503 and "buy-back price" in err.value.message


def test_jewellery_and_cars_are_not_bought_back_here() -> None:
    for product_id in ("ring-18k", "car-ev"):
        product = CAT.get(product_id)
        with pytest.raises(NotBoughtBack):
            make_buyback("bb_x", product, product.variants[0], 1, SNAP, NOW, {})


def test_a_piece_within_the_tolerance_fetches_the_nominal_weight() -> None:
    b = quote()
    assert weight_tolerance_g(Decimal("50")) == Decimal("0.010")
    assert piece(b, "49.990") == (True, b.unit_quoted_fen, None)
    assert piece(b, "50.004") == (True, b.unit_quoted_fen, None)  # a little over: never more than nominal


def test_a_piece_short_beyond_the_tolerance_is_repriced_on_its_measured_weight() -> None:
    b = quote()
    accepted, amount, reason = piece(b, "49.800")
    assert accepted and reason == "weight_short_repriced"
    assert amount == 4611019  # 926.00 x 0.9999 x 49.8 = 46,110.1885 -> 46,110.19


def test_a_piece_short_by_more_than_one_percent_or_heavy_is_rejected() -> None:
    b = quote()
    assert piece(b, "49.4") == (False, 0, "weight_short")
    assert piece(b, "50.6") == (False, 0, "weight_over")


def test_worn_pieces_carry_the_documented_deduction_and_damaged_or_false_ones_are_refused() -> None:
    b = quote()
    accepted, amount, _ = piece(b, "50", Condition.WORN)
    assert accepted and amount == b.unit_quoted_fen - 9999  # 2.00 CNY per gram of fine gold: 99.99 CNY
    assert piece(b, "50", Condition.DAMAGED) == (False, 0, "damaged")
    assert piece(b, "50", Condition.NOT_GENUINE) == (False, 0, "not_genuine")


def test_serials_refunded_or_bought_back_or_malformed_are_refused() -> None:
    b = quote()
    assert piece(b, "50", link=SerialLink("crt_1", "ord_1", "refunded")) == (False, 0, "serial_refunded")
    assert piece(b, "50", link=SerialLink(note="bought_back")) == (False, 0, "serial_bought_back")
    assert piece(b, "50", problem="serial_invalid") == (False, 0, "serial_invalid")
    p = assess(b, "HJ50-1", Decimal("50"), Condition.INTACT, SerialLink("crt_2", "ord_2", "transferred"), None)
    assert p.accepted and p.original_order_id == "ord_2" and p.certificate_note == "transferred"


def test_an_inspection_pays_the_accepted_pieces_or_rejects_when_none_is() -> None:
    b = quote(quantity=2)
    b.book("sh", NOW + timedelta(hours=3), NOW + timedelta(hours=3, minutes=30), "王芳", "13800000000", "c1", "d",
           NOW)
    good = assess(b, "A", Decimal("50"), Condition.INTACT, SerialLink(), None)
    bad = assess(b, "B", Decimal("50"), Condition.DAMAGED, SerialLink(), None)
    b.record_inspection([good, bad], "teller1", "resident_id", NOW + timedelta(hours=3))
    assert b.status is BuybackStatus.ACCEPTED and b.amount_fen == good.amount_fen
    c = quote()
    c.book("sh", NOW + timedelta(hours=3), NOW + timedelta(hours=3, minutes=30), "王芳", "1", "c1", "d", NOW)
    c.record_inspection([assess(c, "B", Decimal("1"), Condition.INTACT, SerialLink(), None)], "t", "passport", NOW)
    assert c.status is BuybackStatus.REJECTED and c.rejection_reason == "weight_short" and c.amount_fen == 0


def test_the_lock_holds_to_the_booked_slot_and_no_longer() -> None:
    b = quote()
    with pytest.raises(BuybackError):
        b.book("sh", NOW + MAX_LOCK + timedelta(minutes=30), NOW + MAX_LOCK + timedelta(hours=1), "n", "p", "c",
               "d", NOW)
    slot = NOW + timedelta(hours=20)
    b.book("sh", slot, slot + timedelta(minutes=30), "n", "p", "c", "d", NOW + timedelta(minutes=5))
    assert b.lock_ends() == slot + timedelta(minutes=30) + LATE_GRACE
    assert not b.expire_if_due(b.lock_ends() - timedelta(seconds=1))
    assert b.expire_if_due(b.lock_ends()) and b.status is BuybackStatus.EXPIRED


def test_an_expired_quote_cannot_be_booked() -> None:
    b = quote()
    with pytest.raises(BuybackExpired):
        b.book("sh", NOW + timedelta(hours=3), NOW + timedelta(hours=4), "n", "p", "c", "d", NOW + QUOTE_TTL)


def test_a_payout_is_paid_once_and_a_late_failure_changes_nothing() -> None:
    b = quote()
    b.status = BuybackStatus.ACCEPTED
    b.payout_created("po_1", "6222 **** **** 0001", NOW)
    assert b.status.value == "payout_pending"
    assert b.paid_out(NOW) and not b.paid_out(NOW)
    assert not b.payout_failed("account_closed", NOW) and b.status.value == "paid_out"


def test_a_failed_payout_is_retried_as_a_new_attempt_with_a_new_key() -> None:
    b = quote()
    b.status = BuybackStatus.ACCEPTED
    first = b.payout_key
    b.payout_created("po_1", None, NOW)
    assert b.payout_failed("account_frozen", NOW) and b.status.value == "payout_failed"
    b.retry_payout(NOW)
    assert b.status.value == "accepted" and b.payout_key != first and b.payout_id is None


def test_the_booking_code_is_typed_forgivingly_and_only_its_digest_is_kept() -> None:
    code = booking_code("token-abc", "bb_1")
    typed = code.lower().replace("-", " ").replace("0", "o")
    assert code_digest("bb_1", typed) == code_digest("bb_1", code)
    assert code_digest("bb_2", code) != code_digest("bb_1", code)


def test_the_feeds_publish_a_bid_below_the_spot_and_the_snapshot_keeps_it() -> None:
    snap = SandboxPriceFeed(ManualClock(NOW))
    import asyncio

    s = asyncio.run(snap.snapshot())
    assert s.bid_cny_per_g[Metal.GOLD] == s.cny_per_g[Metal.GOLD] - Decimal("4.00")
    assert snapshot_from_dict(snapshot_to_dict(s)) == s
    doc = {"as_of": "2026-11-23T10:00:00Z", "cny_per_g": {"Au": "930"}, "bid_cny_per_g": {"Au": "925.5"}}
    assert parse_price_document(doc, "f").bid_price_cny_per_g(Metal.GOLD) == Decimal("925.5")
    assert parse_price_document({**doc, "bid_cny_per_g": None}, "f").bid_cny_per_g == {}
    with pytest.raises(PriceUnavailable):
        parse_price_document({**doc, "bid_cny_per_g": {"Au": "931"}}, "f")  # a bid above the spot
    with pytest.raises(PriceUnavailable):
        parse_price_document({**doc, "bid_cny_per_g": {"Ag": "10"}}, "f")  # a bid without a spot price
    assert "bid_cny_per_g" not in snapshot_to_dict(PriceSnapshot("s", "t", NOW, SPOT))  # sales snapshots as before
