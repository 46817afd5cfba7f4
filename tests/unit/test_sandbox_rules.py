"""Pure rules of the payment sandbox: test cards, test amounts, wallet tiers, fees, settlement days."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import given
from hypothesis import strategies as st

from showroom.payment_sandbox.rules import (
    TEST_CARDS,
    amount_outcome,
    card_for_number,
    day_bounds_s,
    fee_fen,
    luhn_valid,
    normalise_card_number,
    refund_fee_fen,
    settlement_day,
    wallet_outcome,
)
from showroom.payment_sandbox.settings import DEFAULT_WALLET_LIMITS


def test_every_documented_test_card_is_a_valid_card_number() -> None:
    assert all(luhn_valid(card.number) for card in TEST_CARDS)


def test_a_mistyped_card_number_fails_the_luhn_check() -> None:
    assert not luhn_valid("4242424242424241")
    assert not luhn_valid("4242")
    assert not luhn_valid("42424242424242a2")


def test_test_cards_decide_their_outcome_and_real_cards_are_unknown() -> None:
    assert card_for_number(normalise_card_number("4242 4242 4242 4242")).outcome == "approved"  # type: ignore[union-attr]
    assert card_for_number("4000000000000002").outcome == "declined"  # type: ignore[union-attr]
    assert card_for_number("4000000000009995").outcome == "insufficient_funds"  # type: ignore[union-attr]
    assert card_for_number("4111111111111111") is None


def test_amounts_ending_in_51_to_54_fen_simulate_failures() -> None:
    assert amount_outcome(1_234_551) == "declined"
    assert amount_outcome(1_234_552) == "insufficient_funds"
    assert amount_outcome(1_234_553) == "limit_exceeded"
    assert amount_outcome(54) == "timeout"
    assert amount_outcome(1_234_550) == "approved"
    assert amount_outcome(1_234_555) == "approved"


def test_a_tier_four_wallet_cannot_pay_more_than_2000_cny_at_once() -> None:
    tier4 = DEFAULT_WALLET_LIMITS[4]
    assert wallet_outcome(200_000, tier4, 0) == "approved"
    assert wallet_outcome(200_001, tier4, 0) == "limit_exceeded"


def test_a_wallet_over_its_daily_limit_is_refused() -> None:
    tier3 = DEFAULT_WALLET_LIMITS[3]
    assert wallet_outcome(400_000, tier3, 600_000) == "approved"
    assert wallet_outcome(400_001, tier3, 600_000) == "limit_exceeded"


def test_a_tier_one_wallet_has_no_limit() -> None:
    assert wallet_outcome(10**12, DEFAULT_WALLET_LIMITS[1], 10**12) == "approved"


def test_fees_round_half_up_to_the_fen() -> None:
    assert fee_fen(10_000, 60) == 60
    assert fee_fen(1_234_567, 60) == 7_407  # 7407.402
    assert fee_fen(250, 38) == 1  # 0.95 -> 1
    assert fee_fen(100, 0) == 0


@given(
    amount_fen=st.integers(min_value=1, max_value=10**10),
    bps=st.integers(min_value=0, max_value=200),
    cuts=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=6),
)
def test_partial_refunds_return_exactly_the_whole_fee(amount_fen: int, bps: int, cuts: list[float]) -> None:
    fee = fee_fen(amount_fen, bps)
    points = sorted({0, amount_fen, *(int(c * amount_fen) for c in cuts)})
    returned = [
        refund_fee_fen(fee, amount_fen, before, after - before)
        for before, after in itertools.pairwise(points)
    ]
    assert all(r >= 0 for r in returned)
    assert sum(returned) == fee


def test_settlement_days_follow_china_standard_time() -> None:
    before_midnight = dt.datetime(2026, 3, 1, 15, 59, 59, tzinfo=dt.UTC).timestamp()
    after_midnight = dt.datetime(2026, 3, 1, 16, 0, 0, tzinfo=dt.UTC).timestamp()
    assert settlement_day(before_midnight, 8) == dt.date(2026, 3, 1)
    assert settlement_day(after_midnight, 8) == dt.date(2026, 3, 2)
    start_s, end_s = day_bounds_s(dt.date(2026, 3, 2), 8)
    assert start_s == after_midnight
    assert end_s - start_s == 86_400
