"""Pick rays in the hall: the product aimed at through the glass, counters, the floor, panels and their actions."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from render_node.hall.layout import HallPlan, Vec3, hall_plan
from render_node.hall.picking import HallPicker, Hit
from render_node.hall.walkable import HallFloor
from showroom.catalog import Catalog, load_catalog

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog((ROOT / "assets" / "catalog.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def plan() -> HallPlan:
    return hall_plan()


@pytest.fixture(scope="module")
def picker(plan: HallPlan, catalog: Catalog) -> HallPicker:
    return HallPicker(plan, HallFloor.of(plan, catalog), catalog)


def _aim(picker: HallPicker, origin: Vec3, target: Vec3) -> Hit | None:
    d = [b - a for a, b in zip(origin, target, strict=True)]
    n = math.sqrt(sum(c * c for c in d))
    return picker.pick(origin, (d[0] / n, d[1] / n, d[2] / n))


def _counter_eye(plan: HallPlan) -> Vec3:
    x, _, z = plan.zone("gold_counter").point_m
    return (x, 1.6, z)


def test_a_ray_from_the_gold_counter_towards_the_100_g_bar_picks_that_product_through_the_glass(
        plan: HallPlan, picker: HallPicker) -> None:
    slot = plan.slot_of("bar-au9999-100g")
    x, y, z = slot.position_m
    hit = _aim(picker, _counter_eye(plan), (x, y + 0.03, z))
    assert hit is not None
    assert (hit.kind, hit.product, hit.item) == ("product", "bar-au9999-100g", slot.id)
    assert hit.zone == "gold_counter" and not hit.walkable
    assert hit.to_json()["product"] == "bar-au9999-100g"


def test_every_product_on_the_trays_is_picked_when_aimed_at_from_the_counter_point(
        plan: HallPlan, picker: HallPicker) -> None:
    for slot in plan.slots:
        x, y, z = slot.position_m
        hit = _aim(picker, _counter_eye(plan), (x, y + 0.03, z))
        assert hit is not None and hit.product == slot.product, slot.product


def test_a_ray_down_at_a_showcase_between_two_products_hits_the_glass_not_the_floor_behind_it(
        plan: HallPlan, picker: HallPicker) -> None:
    hit = _aim(picker, _counter_eye(plan), (-9.7, 0.9, -0.95))
    assert hit is not None and hit.kind == "counter" and hit.item.startswith("case-")
    front = _aim(picker, _counter_eye(plan), (-9.4, 0.5, 0.0))
    assert front is not None and (front.kind, front.item) == ("counter", "case-coins")


def test_a_ray_at_the_floor_behind_a_counter_is_not_walkable_and_one_in_front_is(picker: HallPicker) -> None:
    behind = _aim(picker, (-8.0, 1.6, 4.4), (-10.6, 0.0, 4.4))
    assert behind is not None and behind.kind == "floor"
    assert behind.point_m == pytest.approx((-10.6, 0.0, 4.4))
    assert not behind.walkable and behind.zone == "gold_counter"
    front = _aim(picker, (-6.0, 1.6, 0.2), (-8.4, 0.0, 0.2))
    assert front is not None and front.kind == "floor" and front.walkable and front.zone == "gold_counter"


def test_the_advisor_button_gives_the_call_advisor_action(plan: HallPlan, picker: HallPicker) -> None:
    for panel_id, action in (("button-advisor", "call_advisor"), ("button-appointment", "appointment")):
        panel = next(p for p in plan.panels if p.id == panel_id)
        x, y, z = panel.center_m
        hit = _aim(picker, (x, 1.6, -6.3), (x, y, z))
        assert hit is not None
        assert (hit.kind, hit.item, hit.action) == ("panel", panel_id, action)
        assert hit.to_json()["action"] == action


def test_a_price_tag_on_a_showcase_is_picked_as_a_panel_about_its_product(plan: HallPlan,
                                                                          picker: HallPicker) -> None:
    tag = next(p for p in plan.panels if p.id == "tag-bar-au9999-100g")
    hit = _aim(picker, _counter_eye(plan), tag.center_m)
    assert hit is not None and (hit.kind, hit.item, hit.product) == ("panel", tag.id, "bar-au9999-100g")


def test_a_car_is_picked_by_its_turned_body_and_the_turntable_beside_it_is_floor(plan: HallPlan,
                                                                                 picker: HallPicker) -> None:
    slot = plan.slot_of("car-sedan-aurora")
    x, y, z = slot.position_m
    eye = (plan.zone("car_studio").point_m[0], 1.6, plan.zone("car_studio").point_m[2])
    car = _aim(picker, eye, (x, y + 0.7, z))
    assert car is not None and (car.kind, car.product) == ("product", "car-sedan-aurora")
    disc = next(d for d in plan.discs if d.id == slot.on_turntable)
    rim = (disc.center_m[0] - disc.radius_m * 0.8, disc.height_m, disc.center_m[2] + 0.6)
    hit = _aim(picker, eye, rim)
    assert hit is not None and hit.kind == "floor"


def test_the_entrance_door_walls_and_the_sky_are_answered(picker: HallPicker) -> None:
    door = _aim(picker, (0.0, 1.6, 6.4), (0.0, 1.5, 9.5))
    assert door is not None and door.kind == "door"
    wall = _aim(picker, (0.0, 1.6, 0.0), (13.5, 3.0, 6.0))
    assert wall is not None and (wall.kind, wall.item) == ("wall", "wall-east")
    assert picker.pick((0.0, 1.6, 0.0), (0.0, 1.0, 0.0)) is not None, "the ceiling"
    assert picker.pick((0.0, 50.0, 0.0), (0.0, 1.0, 0.0)) is None, "above the hall, looking up: nothing"
