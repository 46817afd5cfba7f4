"""The branch domain: opening hours in Asia/Shanghai cut into slots, the booking window, the missed-pick-up rule,
the pick-up code and the name check, and the branches file."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from showroom.branches import (
    BranchesInvalid,
    Pickup,
    PickupNotAllowed,
    PickupStatus,
    SlotUnavailable,
    code_digest,
    day_slots,
    later_slots,
    load_branches,
    missed_action,
    normalise_code,
    pickup_code,
    same_name,
)
from showroom.errors import InvalidInput

BRANCH = """
[[branches]]
id = "sh-test"
name = { zh = "测试支行", en = "Test Branch" }
city = { zh = "上海", en = "Shanghai" }
address = { zh = "上海市浦东新区测试路1号", en = "1 Test Road, Pudong, Shanghai" }
phone = "021-0000 0000"
slot_minutes = 30
pickup_capacity = 2
advisory_capacity = 1
hours = { mon = "09:00-17:00", tue = "09:00-12:00,13:00-17:00", wed = "", thu = "09:00-17:00", fri = "09:00-17:00" }

[branches.stock]
"bar-50g" = { "au9999-50g" = 2 }
"""
MONDAY_6PM_LOCAL = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
TUESDAY = date(2026, 11, 24)


def branch():  # type: ignore[no-untyped-def]
    return load_branches(BRANCH)[0]


def at_local(day: date, hh: int, mm: int = 0) -> datetime:
    """Shanghai wall-clock time as UTC (UTC+8, no daylight saving)."""
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC) - timedelta(hours=8)


def test_opening_hours_in_shanghai_time_are_cut_into_half_hour_slots_and_closed_days_have_none() -> None:
    b = branch()
    slots = b.slot_starts(TUESDAY)
    assert len(slots) == 6 + 8  # 09:00-12:00 and 13:00-17:00
    assert slots[0] == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    assert at_local(TUESDAY, 12) not in slots and at_local(TUESDAY, 16, 30) in slots
    assert at_local(TUESDAY, 17) not in slots  # a slot ends by closing time
    assert b.slot_starts(date(2026, 11, 25)) == []  # Wednesday: closed
    assert b.slot_starts(date(2026, 11, 29)) == []  # Sunday: not in the hours at all


def test_a_slot_is_bookable_only_on_the_grid_not_too_soon_and_not_too_far_ahead() -> None:
    b = branch()
    now = MONDAY_6PM_LOCAL
    b.ensure_bookable(at_local(TUESDAY, 9, 30), now)
    for bad in (at_local(TUESDAY, 9, 15), at_local(TUESDAY, 12, 30), at_local(TUESDAY, 18),
                at_local(date(2026, 12, 31), 10), at_local(TUESDAY, 10).replace(tzinfo=None)):
        with pytest.raises(SlotUnavailable):
            b.ensure_bookable(bad, now)
    with pytest.raises(SlotUnavailable):  # starts in 30 minutes: too soon to get the goods ready
        b.ensure_bookable(at_local(TUESDAY, 10), at_local(TUESDAY, 9, 30))


def test_a_days_slots_show_what_is_left_and_full_or_past_slots_are_not_bookable() -> None:
    b = branch()
    nine, ten = at_local(TUESDAY, 9), at_local(TUESDAY, 10)
    views = day_slots(b, TUESDAY, "pickup", {ten: 2, nine: 1}, at_local(TUESDAY, 8, 30))
    by_start = {v.start: v for v in views}
    assert by_start[ten].left == 0 and not by_start[ten].bookable
    assert by_start[nine].left == 1 and not by_start[nine].bookable  # 30 minutes away
    assert by_start[at_local(TUESDAY, 9, 30)].bookable
    assert [v.capacity for v in day_slots(b, TUESDAY, "advisory", {}, MONDAY_6PM_LOCAL)][:1] == [1]


def test_a_missed_slot_moves_to_the_same_time_on_the_next_open_day_first() -> None:
    b = branch()
    later = list(later_slots(b, at_local(TUESDAY, 10)))
    assert later[0] == at_local(date(2026, 11, 26), 10)  # Wednesday is closed: Thursday 10:00
    assert later[1] == at_local(date(2026, 11, 27), 10)
    assert at_local(date(2026, 11, 26), 9) in later[2:]


def _pickup(slot: datetime, extended: bool = False) -> Pickup:
    return Pickup("ord_1", "sh-test", slot, PickupStatus.BOOKED, "x", slot, slot, extended=extended)


def test_the_missed_pickup_rule_waits_then_extends_once_then_refunds() -> None:
    slot = at_local(TUESDAY, 10)
    p = _pickup(slot)
    assert missed_action(p, True, 30, slot + timedelta(minutes=59)) == "wait"  # slot end + 30 min not yet past
    assert missed_action(p, True, 30, slot + timedelta(minutes=60)) == "extend"
    assert missed_action(p, False, 30, slot + timedelta(days=1)) == "wait"  # unpaid: the order's expiry decides
    p.move(at_local(date(2026, 11, 26), 10), slot, "system")
    assert p.extended
    assert missed_action(p, True, 30, at_local(date(2026, 11, 26), 11)) == "refund"
    with pytest.raises(PickupNotAllowed):  # extended once
        p.move(at_local(date(2026, 11, 27), 10), slot, "customer")
    p.hand_over(slot, "teller1")
    assert missed_action(p, True, 30, slot + timedelta(days=9)) == "wait"


def test_the_pickup_code_comes_from_the_order_token_and_is_kept_only_as_a_digest() -> None:
    code = pickup_code("token-a" * 6, "ord_1")
    assert len(code) == 11 and code[5] == "-"
    assert code == pickup_code("token-a" * 6, "ord_1")
    assert code != pickup_code("token-b" * 6, "ord_1") and code != pickup_code("token-a" * 6, "ord_2")
    typed = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    assert normalise_code(typed) == code.replace("-", "")
    assert code_digest("ord_1", typed) == code_digest("ord_1", code) != code_digest("ord_2", code)
    assert code.replace("-", "") not in code_digest("ord_1", code)
    with pytest.raises(InvalidInput):
        normalise_code("12345")


def test_the_name_on_the_id_must_match_the_order_ignoring_spacing_and_case_only() -> None:
    assert same_name("王芳", " 王芳 ")
    assert same_name("Wang Fang", "WANG  fang")
    assert not same_name("王芳", "王方")
    assert not same_name(None, "王芳")


def test_the_committed_branches_file_has_shanghai_and_beijing_branches_with_hours_and_stock() -> None:
    branches = load_branches((Path(__file__).parents[2] / "assets" / "branches.toml").read_text(encoding="utf-8"))
    assert len(branches) >= 3
    assert {b.city.en for b in branches} == {"Shanghai", "Beijing"}
    for b in branches:
        assert b.address.zh and b.address.en and any(b.hours) and b.stock


def test_a_bad_branches_file_names_the_field() -> None:
    with pytest.raises(BranchesInvalid, match="hours.mon"):
        load_branches(BRANCH.replace('mon = "09:00-17:00"', 'mon = "9-5"'))
    with pytest.raises(BranchesInvalid, match="pickup_capacity"):
        load_branches(BRANCH.replace("pickup_capacity = 2", "pickup_capacity = 0"))
