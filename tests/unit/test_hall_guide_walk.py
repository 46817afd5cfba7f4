"""The guide's walk through the hall (render_node/hall/guide_walk.py): paths on the walkable floor, arrival,
the turn to point at the counter, the following customer, and the mouth from the speech reply's viseme track."""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from render_node.guide.visemes import VISEMES, weights_at
from render_node.hall import guide_walk as gw
from render_node.hall.layout import HallPlan, hall_plan
from render_node.hall.walkable import HallFloor
from showroom.catalog import Catalog, load_catalog

COUNTERS = ("gold_counter", "car_studio", "service_counter", "wealth_corner")


@pytest.fixture(scope="module")
def plan() -> HallPlan:
    return hall_plan()


@pytest.fixture(scope="module")
def floor(plan: HallPlan, project_root: Path) -> HallFloor:
    catalog: Catalog = load_catalog((project_root / "assets" / "catalog.toml").read_text(encoding="utf-8"))
    return HallFloor.of(plan, catalog)


def _walked(state: gw.GuideState) -> gw.Walking:
    assert isinstance(state.activity, gw.Walking)
    return state.activity


def _on_floor(floor: HallFloor, path: tuple[tuple[float, float], ...]) -> bool:
    return all(gw.segment_walkable(floor, a, b) for a, b in pairwise(path))


def test_the_guide_waits_at_the_entrance_facing_a_customer_walking_in(plan: HallPlan) -> None:
    pose = gw.pose_at(gw.at_entrance(plan, 0.0), 3.0)
    assert pose.position_m == (plan.guide_m[0], 0.0, plan.guide_m[2])
    assert (pose.animation, pose.activity, pose.morph) == ("idle", "idle", ())
    # the model faces (sin yaw, cos yaw): towards the welcome point
    to = np.subtract((plan.welcome_m[0], plan.welcome_m[2]), (plan.guide_m[0], plan.guide_m[2]))
    facing = (math.sin(math.radians(pose.yaw_deg)), math.cos(math.radians(pose.yaw_deg)))
    assert np.dot(facing, to / np.linalg.norm(to)) > 0.999


@pytest.mark.parametrize("zone", COUNTERS)
def test_every_path_stays_on_the_walkable_floor_and_ends_at_the_zone(plan: HallPlan, floor: HallFloor,
                                                                     zone: str) -> None:
    walk = _walked(gw.walk_to(gw.at_entrance(plan), plan, floor, zone, 0.0, customer_m=plan.welcome_m[::2]))
    assert _on_floor(floor, walk.path)
    assert walk.follow is not None and _on_floor(floor, walk.follow)
    point = plan.zone(zone).point_m
    assert math.dist(walk.path[-1], (point[0], point[2])) < 1e-6
    for t in np.linspace(0.0, walk.arrive_s, 40):  # every place the guide is drawn at is floor
        x, _, z = gw.pose_at(gw.GuideState((0, 0), 0, walk), float(t)).position_m
        assert floor.is_walkable(x, z)


def test_a_path_goes_round_what_is_in_the_way_not_through_it(plan: HallPlan, floor: HallFloor) -> None:
    start, goal = (-4.0, 2.5), (-4.0, 5.5)  # the west column stands between them
    assert not gw.segment_walkable(floor, start, goal)
    path = gw.find_path(floor, start, goal)
    assert len(path) >= 3 and _on_floor(floor, path)
    assert gw.path_length(path) < 3.0 + 1.0  # round the column, not round the hall
    # from the entrance to the service counter the gold counter's presentation stand is in the straight line
    here, desk = (plan.guide_m[0], plan.guide_m[2]), plan.zone("service_counter").point_m
    assert not gw.segment_walkable(floor, here, (desk[0], desk[2]))
    path = gw.find_path(floor, here, (desk[0], desk[2]))
    assert _on_floor(floor, path)
    assert gw.path_length(path) < math.dist(here, (desk[0], desk[2])) * 1.1


def test_the_guide_walks_at_a_calm_pace_and_arrives(plan: HallPlan, floor: HallFloor) -> None:
    state = gw.walk_to(gw.at_entrance(plan), plan, floor, "gold_counter", 100.0)
    walk = _walked(state)
    assert walk.arrive_s == pytest.approx(100.0 + walk.length_m / gw.SPEED_M_S)
    a, b = gw.pose_at(state, 101.0), gw.pose_at(state, 102.0)
    assert math.dist(a.position_m, b.position_m) == pytest.approx(gw.SPEED_M_S, abs=1e-6)
    assert a.animation == "walk" and a.activity == "walking" and 0 <= a.clip_s < gw.CLIP_S["walk"]
    assert gw.eta_s(state, 101.0) == pytest.approx(walk.arrive_s - 101.0)
    there = gw.pose_at(state, walk.arrive_s + 0.01)
    assert math.dist(there.position_m, plan.zone("gold_counter").point_m) < 1e-6
    assert gw.eta_s(state, walk.arrive_s + 1) == 0.0


def test_after_arriving_it_turns_the_counter_to_its_right_and_points_then_idles(plan: HallPlan,
                                                                                  floor: HallFloor) -> None:
    state = gw.walk_to(gw.at_entrance(plan), plan, floor, "gold_counter", 0.0)
    walk = _walked(state)
    turning = gw.pose_at(state, walk.arrive_s + gw.TURN_S / 2)
    assert turning.activity == "turning"
    start = walk.arrive_s + gw.TURN_S
    pointing = gw.pose_at(state, start + 1.0)
    assert (pointing.animation, pointing.activity) == ("point", "pointing")
    assert pointing.clip_s == pytest.approx(1.0)
    # its right hand, (-cos yaw, sin yaw), is towards the showcases (west of the zone's point)
    right = (-math.cos(math.radians(pointing.yaw_deg)), math.sin(math.radians(pointing.yaw_deg)))
    assert right[0] < -0.99
    later = gw.pose_at(state, start + gw.CLIP_S["point"] + 2.0)
    assert (later.animation, later.activity, later.yaw_deg) == ("idle", "idle", pointing.yaw_deg)
    assert later.clip_s == pytest.approx(2.0)
    settled = gw.settled(state, start + 10)
    assert isinstance(settled.activity, gw.Idle) and settled.where_m == walk.path[-1]


def test_a_new_walk_starts_where_the_guide_is_and_reset_puts_it_back(plan: HallPlan, floor: HallFloor) -> None:
    state = gw.walk_to(gw.at_entrance(plan), plan, floor, "gold_counter", 0.0)
    midway = gw.pose_at(state, 4.0).position_m
    turned = _walked(gw.walk_to(state, plan, floor, "car_studio", 4.0))
    assert math.dist(turned.path[0], (midway[0], midway[2])) < 1e-6
    home = gw.reset(plan, state, 5.0)
    assert gw.pose_at(home, 5.0).position_m == (plan.guide_m[0], 0.0, plan.guide_m[2])
    back = _walked(gw.walk_to(state, plan, floor, "entrance", 30.0))
    assert math.dist(back.path[-1], (plan.guide_m[0], plan.guide_m[2])) < 1e-6 and not back.point
    with pytest.raises(KeyError):
        gw.walk_to(state, plan, floor, "vault", 0.0)


def test_the_customer_follows_behind_facing_along_the_path_and_ends_facing_the_guide(
        plan: HallPlan, floor: HallFloor) -> None:
    state = gw.walk_to(gw.at_entrance(plan), plan, floor, "gold_counter", 0.0, customer_m=(0.0, 6.4))
    walk = _walked(state)
    assert gw.follow_at(gw.at_entrance(plan), 1.0) is None
    for t in np.linspace(1.0, walk.arrive_s, 12):
        (x, z), yaw = gw.follow_at(state, float(t)) or ((0.0, 0.0), 0.0)
        guide = gw.pose_at(state, float(t)).position_m
        assert floor.is_walkable(x, z)
        # the guide is ahead: in front of the customer's view (view yaw: looks along (-sin, -cos))
        look = (-math.sin(math.radians(yaw)), -math.cos(math.radians(yaw)))
        to_guide = (guide[0] - x, guide[2] - z)
        assert look[0] * to_guide[0] + look[1] * to_guide[1] > 0
    (x, z), yaw = gw.follow_at(state, walk.done_s + 5) or ((0.0, 0.0), 0.0)
    assert math.dist((x, z), walk.path[-1]) == pytest.approx(gw.FOLLOW_BEHIND_M, abs=0.01)
    look = (-math.sin(math.radians(yaw)), -math.cos(math.radians(yaw)))
    to_guide = np.subtract(walk.path[-1], (x, z)) / gw.FOLLOW_BEHIND_M
    # at a counter: turned from the guide towards the counter (the zone's view), both within 40 degrees of the look
    zone = plan.zone("gold_counter")
    to_counter = (-math.sin(math.radians(zone.yaw_deg)), -math.cos(math.radians(zone.yaw_deg)))
    assert float(np.dot(look, to_guide)) > math.cos(math.radians(40))
    assert float(np.dot(look, to_counter)) > math.cos(math.radians(40))
    assert float(np.dot(look, to_counter)) > float(np.dot(to_guide, to_counter)) + 0.05
    # back to the entrance: facing the guide
    home = gw.walk_to(gw.settled(state, walk.done_s + 5), plan, floor, "entrance", walk.done_s + 5, customer_m=(x, z))
    back = _walked(home)
    (x, z), yaw = gw.follow_at(home, back.done_s + 5) or ((0.0, 0.0), 0.0)
    look = (-math.sin(math.radians(yaw)), -math.cos(math.radians(yaw)))
    to_guide = np.subtract(back.path[-1], (x, z)) / max(1e-9, math.dist(back.path[-1], (x, z)))
    assert float(np.dot(look, to_guide)) > 0.999


def _track() -> list[tuple[float, str, float]]:
    """A track in the speech reply's shape: phoneme segments with 20 ms cross-fades, a viseme used twice."""
    keys: list[tuple[float, str, float]] = [(0.0, "sil", 1.0), (80.0, "sil", 1.0), (100.0, "sil", 0.0)]
    for s, e, name, w in ((80, 160, "PP", 1.0), (160, 260, "aa", 1.0), (260, 330, "ih", 0.7), (330, 420, "aa", 0.5)):
        keys += [(s - 20.0, name, 0.0), (float(s), name, w), (float(e), name, w), (e + 20.0, name, 0.0)]
    return sorted(keys, key=lambda k: k[0])


def test_the_mouth_follows_the_viseme_track_by_the_speech_rule(plan: HallPlan) -> None:
    track = _track()
    state = gw.say(gw.at_entrance(plan), track, 50.0)
    speech = state.speech
    assert speech is not None
    for t_ms in [*np.linspace(-10.0, 460.0, 95), 60.0, 80.0, 160.0, 260.0, 330.0, 350.0]:
        expected = weights_at(track, float(t_ms))
        got = speech.weights_at(float(t_ms))
        assert got.keys() == expected.keys()
        for name in expected:
            assert got[name] == pytest.approx(expected[name], abs=1e-9), (t_ms, name)
    pose = gw.pose_at(state, 50.0 + 0.2)  # 200 ms in: "aa" fully open, the guide talks
    assert dict(pose.morph)["viseme_aa"] == pytest.approx(1.0)
    assert all(name.removeprefix("viseme_") in VISEMES for name, _ in pose.morph)
    assert pose.animation == "talk"
    quiet = gw.pose_at(state, 50.0 + 1.0)
    assert quiet.morph == () and quiet.animation == "idle"
    assert gw.pose_at(state, 49.0).morph == ()
