"""Discount rules (amount, percent with its cap, minimum spend, scope, window), stacking (one coupon, then points
within their share), rounding to the fen, the points rates and the pro-rata rule of partial refunds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from showroom.campaigns import (
    CODE_ALPHABET,
    CODE_LENGTH,
    Campaign,
    CampaignKind,
    CampaignState,
    Coupon,
    CouponChoice,
    CouponNotApplicable,
    CouponState,
    LineKind,
    NotEnoughPoints,
    PointsRules,
    new_code,
    normalise_code,
    price_discounts,
    pro_rata,
)
from showroom.errors import InvalidInput

NOW = datetime(2026, 12, 12, 10, 0, tzinfo=UTC)
RULES = PointsRules()


def campaign(**kw: object) -> Campaign:
    args: dict[str, object] = {"id": "cmp_1", "name": "双十二", "kind": CampaignKind.AMOUNT_OFF, "code": "ABCDEFGH2345",
                               "budget_fen": 100_000, "remaining_fen": 100_000, "per_customer_limit": 1,
                               "starts_at": NOW - timedelta(days=1), "ends_at": NOW + timedelta(days=1),
                               "created_by": "alice", "created_at": NOW, "amount_off_fen": 1_000,
                               "state": CampaignState.ACTIVE}
    args.update(kw)
    return Campaign(**args)  # type: ignore[arg-type]


def choice(c: Campaign, held: int | None = None) -> CouponChoice:
    return CouponChoice(c, Coupon("cpn_x", c.id, "cust_1", 1, c.max_value_fen if held is None else held,
                                  CouponState.AVAILABLE, NOW))


def test_amount_off_takes_its_amount_and_the_total_after_it_is_shown() -> None:
    d = price_discounts(941_910, "bar-50g", "gold_bar", NOW, RULES, coupon=choice(campaign()))
    assert [(x.kind, x.amount_fen) for x in d.lines] == [(LineKind.COUPON, 1_000)]
    assert d.payable_fen == 940_910 and d.discount_fen == 1_000


def test_percent_off_rounds_half_up_to_the_fen_and_stops_at_its_cap() -> None:
    c = campaign(kind=CampaignKind.PERCENT_OFF, amount_off_fen=0, percent=Decimal("2.5"), cap_fen=50_000)
    assert c.discount_fen(1_234_5, 50_000) == 309  # 308.625 fen -> 309
    assert c.discount_fen(1_234_2, 50_000) == 309  # 308.55 -> 309 (half-up)
    assert c.discount_fen(1_234_1, 50_000) == 309  # 308.525
    assert c.discount_fen(1_233_8, 50_000) == 308  # 308.45 -> 308
    assert c.discount_fen(10_000_000, 50_000) == 50_000  # 250,000 fen capped at 500 CNY
    assert c.discount_fen(10_000_000, 20_000) == 20_000  # never more than the coupon holds


def test_a_discount_never_takes_the_whole_order() -> None:
    c = campaign(amount_off_fen=5_000)
    assert c.discount_fen(3_000, 5_000) == 2_999
    d = price_discounts(3_000, "bar-50g", "gold_bar", NOW, RULES, coupon=choice(c))
    assert d.payable_fen == 1


@pytest.mark.parametrize(("kw", "why"), [
    ({"min_spend_fen": 1_000_000}, "minimum spend"),
    ({"product_ids": ("ring-18k",)}, "does not apply"),
    ({"kinds": ("car",)}, "does not apply"),
    ({"starts_at": NOW + timedelta(hours=1)}, "not running"),
    ({"ends_at": NOW}, "not running"),
    ({"state": CampaignState.DISABLED}, "not running"),
    ({"state": CampaignState.PENDING_APPROVAL}, "not running"),
])
def test_a_coupon_outside_its_rules_is_refused(kw: dict[str, object], why: str) -> None:
    with pytest.raises(CouponNotApplicable, match=why):
        price_discounts(941_910, "bar-50g", "gold_bar", NOW, RULES, coupon=choice(campaign(**kw)))


def test_scope_by_product_or_kind_applies_when_it_matches() -> None:
    assert campaign(product_ids=("bar-50g",)).applies_to("bar-50g", "gold_bar")
    assert campaign(kinds=("gold_bar", "coin")).applies_to("bar-50g", "gold_bar")
    assert campaign().applies_to("anything", "car")


def test_a_used_coupon_is_refused() -> None:
    c = campaign()
    used = CouponChoice(c, Coupon("cpn_x", c.id, "cust_1", 1, 1000, CouponState.REDEEMED, NOW))
    with pytest.raises(CouponNotApplicable, match="used"):
        price_discounts(941_910, "bar-50g", "gold_bar", NOW, RULES, coupon=used)


def test_stacking_one_coupon_then_points_on_what_is_left_within_their_share() -> None:
    d = price_discounts(100_000, "bar-50g", "gold_bar", NOW, RULES, coupon=choice(campaign(amount_off_fen=10_000)),
                        points=45_000, points_balance=50_000)
    assert [(x.kind, x.amount_fen, x.points) for x in d.lines] == [(LineKind.COUPON, 10_000, 0),
                                                                   (LineKind.POINTS, 45_000, 45_000)]
    assert d.payable_fen == 45_000
    with pytest.raises(InvalidInput, match="at most 450.00 CNY"):  # 50% of the 900 CNY left after the coupon
        price_discounts(100_000, "bar-50g", "gold_bar", NOW, RULES, coupon=choice(campaign(amount_off_fen=10_000)),
                        points=45_001, points_balance=50_000)


def test_points_beyond_the_balance_are_refused() -> None:
    with pytest.raises(NotEnoughPoints):
        price_discounts(100_000, "bar-50g", "gold_bar", NOW, RULES, points=101, points_balance=100)


def test_points_rates_earn_and_redeem_in_whole_fen() -> None:
    assert RULES.earned(936_910) == 936 and RULES.earned(999) == 0  # 1 point per 10 CNY paid
    assert RULES.value_fen(100) == 100 and RULES.points_for(100) == 100  # 100 points = 1 CNY
    odd = PointsRules(earn_fen_per_point=500, points_per_cny=300)
    assert odd.value_fen(100) == 33 and odd.points_for(33) == 99  # down for the value, up for the points
    d = price_discounts(100_000, "bar-50g", "gold_bar", NOW, odd, points=100)
    assert d.lines[0].amount_fen == 33 and d.lines[0].points == 99  # only the points the value needs are taken
    with pytest.raises(InvalidInput):
        PointsRules(points_per_cny=0)


def test_partial_refunds_return_points_pro_rata_rounded_down_and_cumulative() -> None:
    assert pro_rata(10_000, 0, 90_000) == 0
    assert pro_rata(10_000, 30_000, 90_000) == 3_333
    assert pro_rata(10_000, 60_000, 90_000) == 6_666
    assert pro_rata(10_000, 90_000, 90_000) == 10_000
    assert pro_rata(10_000, 99_000, 90_000) == 10_000


def test_a_campaign_checks_its_definition() -> None:
    with pytest.raises(InvalidInput, match="cap"):
        campaign(kind=CampaignKind.PERCENT_OFF, amount_off_fen=0, percent=Decimal(10))
    with pytest.raises(InvalidInput, match="percent"):
        campaign(kind=CampaignKind.PERCENT_OFF, amount_off_fen=0, percent=Decimal(100), cap_fen=100)
    with pytest.raises(InvalidInput, match="whole budget"):
        campaign(amount_off_fen=200_000)
    with pytest.raises(InvalidInput, match="ends_at"):
        campaign(ends_at=NOW - timedelta(days=2))
    with pytest.raises(InvalidInput):
        campaign(per_customer_limit=0)


def test_codes_are_long_random_and_typed_forgivingly() -> None:
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200 and all(len(c) == CODE_LENGTH and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert normalise_code(" abcd-efgh 2345 ") == "ABCDEFGH2345"
