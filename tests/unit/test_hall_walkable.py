"""The hall's walkable floor: counters, walls, cars and staff areas keep the customer out; sitting in a car."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from render_node.hall.layout import BODY_RADIUS_M, HallPlan, hall_plan
from render_node.hall.walkable import HallFloor, door_point_m, seat_eye_m
from showroom.catalog import Catalog, load_catalog

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog((ROOT / "assets" / "catalog.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def plan() -> HallPlan:
    return hall_plan()


@pytest.fixture(scope="module")
def floor(plan: HallPlan, catalog: Catalog) -> HallFloor:
    return HallFloor.of(plan, catalog)


def test_every_zone_point_stand_view_point_and_attract_waypoint_is_walkable(plan: HallPlan, floor: HallFloor) -> None:
    points = [(z.id, z.point_m) for z in plan.zones] + [(s.id, s.view_point_m) for s in plan.stands]
    points += [(f"attract-{i}", p) for i, (p, _) in enumerate(plan.attract_path)]
    for name, (x, _, z) in points:
        assert floor.is_walkable(x, z), f"{name} at ({x}, {z}) is blocked by {floor.blocked_by(x, z)}"


def test_a_showcase_a_wall_and_the_space_outside_the_hall_are_not_walkable(floor: HallFloor) -> None:
    assert not floor.is_walkable(-9.7, 0.2), "inside the coins showcase"
    assert not floor.is_walkable(-9.4 + BODY_RADIUS_M - 0.05, 0.2), "the body would touch the showcase"
    assert floor.is_walkable(-9.4 + BODY_RADIUS_M + 0.05, 0.2)
    assert not floor.is_walkable(12.9, 0.0), "against the east wall"
    assert not floor.is_walkable(0.0, 12.0) and not floor.is_walkable(math.nan, 0.0)


def test_the_floor_behind_the_showcases_and_the_service_desk_is_for_staff(floor: HallFloor) -> None:
    assert not floor.is_walkable(-11.0, 4.3), "round the end of the showcases, behind them"
    assert floor.blocked_by(-11.0, 4.3) == "staff-area"
    assert not floor.is_walkable(-8.0, -8.6), "the strip behind the service desk"


def test_a_car_blocks_its_own_turned_footprint_and_the_rest_of_the_turntable_stays_walkable(
        plan: HallPlan, floor: HallFloor, catalog: Catalog) -> None:
    slot = plan.slot_of("car-sedan-aurora")
    cx, cz = slot.position_m[0], slot.position_m[2]
    assert not floor.is_walkable(cx, cz), "the turntable's centre, under the car"
    disc = next(d for d in plan.discs if d.id == slot.on_turntable)
    # Along the car's width (its local X turned by the slot's yaw) the body fits on the turntable beside the car.
    yaw = math.radians(slot.yaw_deg)
    side = (math.cos(yaw), -math.sin(yaw))
    w_m = float(catalog.get("car-sedan-aurora").dimensions_mm[0]) / 1000  # type: ignore[index]
    d_m = w_m / 2 + BODY_RADIUS_M + 0.1
    assert d_m < disc.radius_m
    assert floor.is_walkable(cx + side[0] * d_m, cz + side[1] * d_m)
    # Along its length the car reaches further: the same distance is inside the car.
    ahead = (math.sin(yaw), math.cos(yaw))
    assert not floor.is_walkable(cx + ahead[0] * d_m, cz + ahead[1] * d_m)
    turned = HallFloor.of(plan, catalog, {"car-sedan-aurora": slot.yaw_deg + 90})
    assert not turned.is_walkable(cx + side[0] * d_m, cz + side[1] * d_m), "the footprint follows the car's yaw"


def test_the_nearest_walkable_point_of_a_point_in_a_showcase_is_just_in_front_of_it(floor: HallFloor) -> None:
    x, z = floor.nearest_walkable(-9.6, 0.2)
    assert floor.is_walkable(x, z)
    assert x == pytest.approx(-9.4 + BODY_RADIUS_M, abs=0.01) and z == pytest.approx(0.2)
    assert floor.nearest_walkable(-8.4, 0.2) == (-8.4, 0.2), "a walkable point is its own nearest"


def test_the_nearest_walkable_point_of_a_point_behind_the_counter_is_the_customer_side(floor: HallFloor) -> None:
    x, z = floor.nearest_walkable(-11.0, 0.0)
    assert floor.is_walkable(x, z)
    assert math.hypot(x + 11.0, z) < 2.0, "over the counter, not round its end 4 m away"


def test_a_point_far_outside_the_hall_comes_back_inside(floor: HallFloor) -> None:
    x, z = floor.nearest_walkable(50.0, 50.0)
    assert floor.is_walkable(x, z) and x > 12 and z > 8


def test_the_head_may_lean_over_a_counter_but_not_through_it(floor: HallFloor) -> None:
    assert floor.head_allowed(-9.3, 0.2), "0.2 m over the showcase"
    assert not floor.head_allowed(-9.8, 0.2)
    x, z = floor.allowed_head(-9.8, 0.2)
    assert x == pytest.approx(-9.4 + BODY_RADIUS_M - 0.35, abs=0.01) and z == pytest.approx(0.2)
    assert floor.allowed_head(-8.0, 0.2) == (-8.0, 0.2)


def test_sitting_puts_the_eye_in_the_car_and_standing_up_beside_its_door(plan: HallPlan, floor: HallFloor,
                                                                           catalog: Catalog) -> None:
    for seat in plan.seats:
        slot = plan.slot_of(seat.product)
        eye, _ = seat_eye_m(plan, seat.product)
        assert not floor.is_walkable(eye[0], eye[2]), "the seat is off the walkable floor"
        assert math.hypot(eye[0] - slot.position_m[0], eye[2] - slot.position_m[2]) < 1.0
        assert 1.0 < eye[1] < 1.6
        x, z = door_point_m(floor, catalog, seat.product)
        assert floor.is_walkable(x, z)
        assert math.hypot(x - eye[0], z - eye[2]) < 2.0, "beside the driver's door"
    with pytest.raises(KeyError):
        seat_eye_m(plan, "bar-au9999-100g")
