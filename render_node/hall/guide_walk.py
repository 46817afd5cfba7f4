"""The digital guide in the hall: where it stands, the path it walks to a zone's counter, its pose at a time.

    state = at_entrance(plan)                                   # at plan.guide_m, facing the welcome point, idle
    state = walk_to(state, plan, floor, "gold_counter", now_s)   # the path on the walkable floor, started now
    pose = pose_at(state, now_s + 3.0)                          # position, yaw, clip name and time, morph weights
    state = say(state, track, now_s)                            # the speech reply's viseme track, from now

Pure: values in, values out; no I/O, no clock (the caller passes `now_s`, any monotonic seconds), no GL.

**Walking.** The guide is a body like the customer's (`layout.BODY_RADIUS_M`) on the same walkable floor
(`walkable.HallFloor`: walls, counters, showcases, cars and staff areas are out). The path from where it is to the
zone's point is a straight line when the whole segment is walkable, else the shortest 8-connected route over a
`GRID_M` grid of walkable points (A*), pulled straight between the corners (each leg walkable). It walks at
`SPEED_M_S` with the `walk` clip (in place: the position comes from the path), turns on the spot for `TURN_S` to
its final facing, then plays `point` once and stands `idle` (`talk` while speaking) there.

**Facing.** The model faces +Z; placed with `yaw_matrix(position, yaw_deg)` it faces (sin yaw, cos yaw) on the
floor (x, z), and its right hand is at (-cos yaw, sin yaw). At a counter it turns so the counter (the zone's own
facing direction, `Zone.yaw_deg`) is on its right: the `point` clip points there, the guide's face turned to the
hall and the customer. At the entrance it faces the welcome point.

**Following.** A customer who follows joins the guide's path at its nearest point they can walk to in a straight
line, and keeps `FOLLOW_BEHIND_M` behind the guide along it (catching up at most `FOLLOW_CATCH_UP_M_S`), facing
along the path; when the guide arrives, they stop that far short of it, facing it (at a counter, turned half-way
towards the counter, so both are in view).

**Speech.** A viseme key list `[(t_ms, name, w), ...]` (the speech reply's track) starts at `say`'s time; a
viseme's weight is linear between its own keys and 0 outside them (render_node/guide/visemes.py, docs/guide.md).
Morph targets are named `viseme_<name>` in the model.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Literal

import numpy as np
import numpy.typing as npt

from render_node.hall.layout import HallPlan, Vec3
from render_node.hall.walkable import FloorPoint, HallFloor

SPEED_M_S = 1.1
"""The guide's walking speed (a calm walk)."""
TURN_S = 0.6
"""Turning on the spot to the final facing after arrival."""
FOLLOW_BEHIND_M = 1.2
FOLLOW_CATCH_UP_M_S = 1.6
"""A following customer who starts more than FOLLOW_BEHIND_M behind catches up at most this fast."""
FOLLOW_END_TO_COUNTER = 0.5
"""At a counter the customer ends facing this far from the guide towards the counter (the zone's view): both seen."""
GRID_M = 0.25
"""The path search's grid step (the corners are then pulled straight)."""
STEP_CHECK_M = 0.05
"""A leg of a path is walkable when points this far apart along it all are."""
CORNER_M = 0.4
"""Within this distance of a corner the facing blends from one leg's heading to the next (no snap turn)."""
CLIP_S = {"idle": 8.0, "talk": 4.0, "walk": 1.0, "point": 3.0, "welcome": 2.5}
"""Clip lengths (docs/guide.md, the character): idle, talk and walk loop; point plays once."""
VISEME_PREFIX = "viseme_"

ActivityName = Literal["idle", "walking", "turning", "pointing"]
VisemeKey = tuple[float, str, float]


class NoPath(Exception):
    """No walkable path from where the guide stands to the goal."""


@dataclass(frozen=True)
class Idle:
    since_s: float


@dataclass(frozen=True)
class Walking:
    path: tuple[FloorPoint, ...]
    """From where it started to the goal, at least two points."""
    start_s: float
    final_yaw_deg: float
    zone: str
    point: bool
    """Play `point` after arriving (at a counter; not back at the entrance)."""
    follow: tuple[FloorPoint, ...] | None = None
    """The following customer's path: from where they were to where they join the guide's path, then along it."""
    follow_lead_m: float = 0.0
    """How far along `follow` the guide is when it starts (its arc plus this is its place on `follow`)."""

    @property
    def length_m(self) -> float:
        return path_length(self.path)

    @property
    def arrive_s(self) -> float:
        return self.start_s + self.length_m / SPEED_M_S

    @property
    def done_s(self) -> float:
        """When it is idle again: after turning and (at a counter) pointing."""
        return self.arrive_s + TURN_S + (CLIP_S["point"] if self.point else 0.0)


Activity = Idle | Walking


@dataclass(frozen=True)
class Speech:
    """A viseme track started at `start_s`: per viseme its keys (t_ms, weight) sorted by time."""

    start_s: float
    keys: tuple[tuple[str, tuple[float, ...], tuple[float, ...]], ...]
    end_ms: float

    @classmethod
    def of(cls, track: Sequence[VisemeKey], start_s: float) -> Speech:
        by_name: dict[str, list[tuple[float, float]]] = {}
        for t_ms, name, w in track:
            by_name.setdefault(name, []).append((float(t_ms), float(w)))
        keys = []
        for name, own in by_name.items():
            own.sort(key=lambda k: k[0])  # stable: keys at one time keep their order
            keys.append((name, tuple(k[0] for k in own), tuple(k[1] for k in own)))
        end = max((k[1][-1] for k in keys), default=0.0)
        return cls(start_s, tuple(keys), end)

    def weights_at(self, t_ms: float) -> dict[str, float]:
        """Each viseme's weight `t_ms` after the start: linear between its own keys, 0 outside them."""
        out: dict[str, float] = {}
        for name, times, weights in self.keys:
            if not times[0] <= t_ms <= times[-1]:
                out[name] = 0.0
                continue
            i = max(0, bisect_left(times, t_ms) - 1)  # the first pair of keys that holds t
            j = min(i + 1, len(times) - 1)
            t0, t1 = times[i], times[j]
            out[name] = weights[i] if t1 == t0 else weights[i] + (weights[j] - weights[i]) * (t_ms - t0) / (t1 - t0)
        return out


@dataclass(frozen=True)
class GuideState:
    """Where the guide settled last (`where_m`, `yaw_deg`) and what it is doing since."""

    where_m: FloorPoint
    yaw_deg: float
    activity: Activity
    speech: Speech | None = None


@dataclass(frozen=True)
class GuidePose:
    """The guide at one time: its feet's floor point, its facing, the clip and clip time, the morph weights."""

    position_m: Vec3
    yaw_deg: float
    animation: str
    clip_s: float
    morph: tuple[tuple[str, float], ...] = ()
    activity: ActivityName = "idle"


# -- the floor ----------------------------------------------------------------------------------------------------

def heading_deg(a: FloorPoint, b: FloorPoint) -> float:
    """The model yaw that faces from a to b (the model faces +Z: yaw 0 faces +Z, 90 faces +X)."""
    return math.degrees(math.atan2(b[0] - a[0], b[1] - a[1]))


def path_length(path: Sequence[FloorPoint]) -> float:
    return sum(math.dist(a, b) for a, b in pairwise(path))


def segment_walkable(floor: HallFloor, a: FloorPoint, b: FloorPoint) -> bool:
    n = max(2, math.ceil(math.dist(a, b) / STEP_CHECK_M) + 1)
    u = np.linspace(0.0, 1.0, n)
    return bool(floor.walkable_mask(a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u).all())


def find_path(floor: HallFloor, start: FloorPoint, goal: FloorPoint) -> tuple[FloorPoint, ...]:
    """A walkable path start -> goal (both moved to the nearest walkable point first): the straight line when
    clear, else A* on the grid with its corners pulled straight. Raises NoPath."""
    start = floor.nearest_walkable(*start)
    goal = floor.nearest_walkable(*goal)
    if math.dist(start, goal) < 1e-6:
        return (start, goal)
    if segment_walkable(floor, start, goal):
        return (start, goal)
    plan = floor.plan
    xs = np.arange(plan.min_m[0] + GRID_M / 2, plan.max_m[0], GRID_M)
    zs = np.arange(plan.min_m[2] + GRID_M / 2, plan.max_m[2], GRID_M)
    gx, gz = np.meshgrid(xs, zs, indexing="ij")
    ok = floor.walkable_mask(gx.ravel(), gz.ravel()).reshape(gx.shape)

    def cell_of(p: FloorPoint) -> tuple[int, int]:
        free = np.argwhere(ok)
        if not len(free):
            raise NoPath("no walkable floor")
        d = np.hypot(xs[free[:, 0]] - p[0], zs[free[:, 1]] - p[1])
        for k in np.argsort(d)[:12]:  # the nearest free cell that the point sees
            c = (int(free[k, 0]), int(free[k, 1]))
            if segment_walkable(floor, p, (float(xs[c[0]]), float(zs[c[1]]))):
                return c
        k = int(np.argmin(d))
        return (int(free[k, 0]), int(free[k, 1]))

    s, g = cell_of(start), cell_of(goal)
    cells = _astar(ok, s, g)
    points = [start] + [(float(xs[i]), float(zs[j])) for i, j in cells] + [goal]
    return _pulled(floor, points)


def _astar(ok: npt.NDArray[np.bool_], s: tuple[int, int], g: tuple[int, int]) -> list[tuple[int, int]]:
    nx, nz = ok.shape
    steps = [(1, 0, 1.0), (-1, 0, 1.0), (0, 1, 1.0), (0, -1, 1.0),
             (1, 1, math.sqrt(2)), (1, -1, math.sqrt(2)), (-1, 1, math.sqrt(2)), (-1, -1, math.sqrt(2))]
    best = {s: 0.0}
    came: dict[tuple[int, int], tuple[int, int]] = {}
    todo = [(math.dist(s, g), s)]
    while todo:
        _, c = heapq.heappop(todo)
        if c == g:
            out = [c]
            while c in came:
                c = came[c]
                out.append(c)
            return out[::-1]
        for di, dj, cost in steps:
            n = (c[0] + di, c[1] + dj)
            if not (0 <= n[0] < nx and 0 <= n[1] < nz) or not ok[n]:
                continue
            if di and dj and not (ok[c[0] + di, c[1]] and ok[c[0], c[1] + dj]):
                continue  # no cutting a corner
            d = best[c] + cost
            if d < best.get(n, math.inf):
                best[n] = d
                came[n] = c
                heapq.heappush(todo, (d + math.dist(n, g), n))
    raise NoPath("the goal cannot be reached on the walkable floor")


def _pulled(floor: HallFloor, points: list[FloorPoint]) -> tuple[FloorPoint, ...]:
    """The corners of a grid route that matter: from each kept point, the furthest next point it sees."""
    out = [points[0]]
    i = 0
    while i < len(points) - 1:
        j = i + 1
        for k in range(i + 2, len(points)):
            if segment_walkable(floor, points[i], points[k]):
                j = k
            elif k - j > 8:  # well past the last visible point: the corner is behind
                break
        out.append(points[j])
        i = j
    return tuple(out)


def along(path: Sequence[FloorPoint], s_m: float) -> tuple[FloorPoint, int]:
    """The point `s_m` along the path (clamped to its ends) and the index of its leg."""
    s_m = max(0.0, s_m)
    for i, (a, b) in enumerate(pairwise(path)):
        d = math.dist(a, b)
        if s_m <= d or i == len(path) - 2:
            u = 1.0 if d < 1e-9 else min(1.0, s_m / d)
            return (a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u), i
        s_m -= d
    return path[-1], max(0, len(path) - 2)


def _facing_along(path: Sequence[FloorPoint], s_m: float) -> float:
    """The heading at `s_m`, blended over CORNER_M either side of each corner."""
    p, i = along(path, s_m)
    legs = [(a, b) for a, b in pairwise(path) if math.dist(a, b) > 1e-6]
    if not legs:
        return 0.0
    yaws = [heading_deg(a, b) for a, b in pairwise(path)]
    yaw = yaws[i] if math.dist(path[i], path[i + 1]) > 1e-6 else heading_deg(*legs[-1])
    start_of_leg = path_length(path[: i + 1])
    end_of_leg = start_of_leg + math.dist(path[i], path[i + 1])
    if i + 1 < len(yaws) and end_of_leg - s_m < CORNER_M:
        u = 0.5 * (1 - (end_of_leg - s_m) / CORNER_M)
        return _blend_deg(yaw, yaws[i + 1], u)
    if i > 0 and s_m - start_of_leg < CORNER_M:
        u = 0.5 * (1 - (s_m - start_of_leg) / CORNER_M)
        return _blend_deg(yaw, yaws[i - 1], u)
    return yaw


def _blend_deg(a: float, b: float, u: float) -> float:
    d = (b - a + 180.0) % 360.0 - 180.0
    return wrap_deg(a + d * u)


def wrap_deg(a: float) -> float:
    a = math.fmod(a, 360.0)
    return a + 360.0 if a <= -180.0 else a - 360.0 if a > 180.0 else a


# -- the guide's state ---------------------------------------------------------------------------------------------

def entrance_yaw_deg(plan: HallPlan) -> float:
    """At `guide_m`, facing the welcome point (a customer walking in)."""
    return heading_deg((plan.guide_m[0], plan.guide_m[2]), (plan.welcome_m[0], plan.welcome_m[2]))


def at_entrance(plan: HallPlan, now_s: float = 0.0) -> GuideState:
    return GuideState((plan.guide_m[0], plan.guide_m[2]), entrance_yaw_deg(plan), Idle(now_s))


def counter_yaw_deg(zone_yaw_deg: float) -> float:
    """The guide's yaw with the counter (the zone's facing, a view yaw) on its right: its right hand,
    (-cos y, sin y), along the view direction (-sin z, -cos z)."""
    return wrap_deg(zone_yaw_deg - 90.0)


def settled(state: GuideState, now_s: float) -> GuideState:
    """The same guide with a finished walk turned into standing idle where it ended (speech kept)."""
    a = state.activity
    if isinstance(a, Walking) and now_s >= a.done_s:
        return GuideState(a.path[-1], a.final_yaw_deg, Idle(a.done_s), state.speech)
    return state


def walk_to(state: GuideState, plan: HallPlan, floor: HallFloor, zone_id: str, now_s: float, *,
            customer_m: FloorPoint | None = None) -> GuideState:
    """Starts the walk from where the guide is now to the zone's point (the entrance: back to `guide_m`).
    `customer_m`: the following customer's floor point (None: not following). KeyError for an unknown zone,
    NoPath when the floor does not connect."""
    zone = plan.zone(zone_id)
    pose = pose_at(state, now_s)
    here = (pose.position_m[0], pose.position_m[2])
    if zone.id == "entrance":
        goal: FloorPoint = (plan.guide_m[0], plan.guide_m[2])
        final_yaw, point = entrance_yaw_deg(plan), False
    else:
        goal = (zone.point_m[0], zone.point_m[2])
        final_yaw, point = counter_yaw_deg(zone.yaw_deg), True
    path = find_path(floor, here, goal)
    follow, lead = None, 0.0
    if customer_m is not None:
        follow, lead = _joined(floor, floor.nearest_walkable(*customer_m), path)
    return GuideState(here, pose.yaw_deg, Walking(path, now_s, final_yaw, zone.id, point, follow, lead),
                      state.speech)


def _joined(floor: HallFloor, customer: FloorPoint, path: tuple[FloorPoint, ...]
            ) -> tuple[tuple[FloorPoint, ...], float]:
    """The customer's path onto the guide's (at the nearest point of it they see) and then along it, and the
    guide's start's place on it (prefix length minus the joining point's arc on the guide's path)."""
    length = path_length(path)
    arcs = np.linspace(0.0, length, max(2, math.ceil(length / GRID_M) + 1))
    points = [along(path, float(s)) for s in arcs]
    order = np.argsort([math.dist(customer, p) for p, _ in points])
    for k in order[:40]:
        (join, leg), s_join = points[int(k)], float(arcs[int(k)])
        if segment_walkable(floor, customer, join):
            return (customer, join, *path[leg + 1:]), math.dist(customer, join) - s_join
    prefix = find_path(floor, customer, path[0])
    return (*prefix, *path[1:]), path_length(prefix)


def reset(plan: HallPlan, state: GuideState, now_s: float) -> GuideState:
    """Back at the entrance at once (speech kept)."""
    return replace(at_entrance(plan, now_s), speech=state.speech)


def say(state: GuideState, track: Sequence[VisemeKey], now_s: float) -> GuideState:
    return replace(state, speech=Speech.of(track, now_s) if track else None)


def speaking(state: GuideState, now_s: float) -> bool:
    s = state.speech
    return s is not None and 0.0 <= (now_s - s.start_s) * 1000.0 <= s.end_ms


def activity_at(state: GuideState, now_s: float) -> ActivityName:
    a = state.activity
    if isinstance(a, Walking) and now_s < a.done_s:
        if now_s < a.arrive_s:
            return "walking"
        return "turning" if now_s < a.arrive_s + TURN_S else "pointing"
    return "idle"


def eta_s(state: GuideState, now_s: float) -> float:
    """Seconds until the guide arrives (0 when it is not walking)."""
    a = state.activity
    return max(0.0, a.arrive_s - now_s) if isinstance(a, Walking) else 0.0


def morph_at(state: GuideState, now_s: float) -> tuple[tuple[str, float], ...]:
    if not speaking(state, now_s):
        return ()
    assert state.speech is not None
    w = state.speech.weights_at((now_s - state.speech.start_s) * 1000.0)
    return tuple((VISEME_PREFIX + name, round(v, 4)) for name, v in sorted(w.items()))


def pose_at(state: GuideState, now_s: float) -> GuidePose:
    """The guide at `now_s`: on its path while walking (walk clip), turning on the spot, pointing, then idle."""
    morph = morph_at(state, now_s)
    rest = "talk" if morph else "idle"
    a = state.activity
    if isinstance(a, Walking) and now_s < a.done_s:
        t = max(0.0, now_s - a.start_s)
        if now_s < a.arrive_s:
            (x, z), _ = along(a.path, t * SPEED_M_S)
            return GuidePose((x, 0.0, z), _facing_along(a.path, t * SPEED_M_S), "walk", t % CLIP_S["walk"], morph,
                             "walking")
        x, z = a.path[-1]
        arrived_yaw = _facing_along(a.path, a.length_m) if a.length_m > 1e-6 else state.yaw_deg
        u = (now_s - a.arrive_s) / TURN_S
        if u < 1.0:
            s = u * u * (3 - 2 * u)
            return GuidePose((x, 0.0, z), _blend_deg(arrived_yaw, a.final_yaw_deg, s), rest,
                             (now_s - a.arrive_s) % CLIP_S[rest], morph, "turning")
        return GuidePose((x, 0.0, z), a.final_yaw_deg, "point", now_s - a.arrive_s - TURN_S, morph, "pointing")
    settled_state = settled(state, now_s)
    since = settled_state.activity.since_s if isinstance(settled_state.activity, Idle) else now_s
    x, z = settled_state.where_m
    return GuidePose((x, 0.0, z), settled_state.yaw_deg, rest, max(0.0, now_s - since) % CLIP_S[rest], morph)


def follow_at(state: GuideState, now_s: float) -> tuple[FloorPoint, float] | None:
    """Where a following customer stands at `now_s` and faces (a view yaw: 0 looks -Z): on their path while the
    guide walks, then still, facing the guide; None when no one follows."""
    a = state.activity
    if not isinstance(a, Walking) or a.follow is None:
        return None
    t = max(0.0, now_s - a.start_s)
    guide_s = min(a.length_m, t * SPEED_M_S)
    s = max(0.0, min(t * FOLLOW_CATCH_UP_M_S, a.follow_lead_m + guide_s - FOLLOW_BEHIND_M))
    end = max(0.0, a.follow_lead_m + a.length_m - FOLLOW_BEHIND_M)
    point, _ = along(a.follow, s)
    if s < end - 1e-6:
        yaw = _facing_along(a.follow, s)
    else:  # there: face the guide, or at a counter half-way between the guide and the counter (both in view)
        yaw = heading_deg(point, a.path[-1]) if math.dist(point, a.path[-1]) > 1e-6 else a.final_yaw_deg
        if a.point:
            yaw = _blend_deg(yaw, wrap_deg(a.final_yaw_deg - 90.0), FOLLOW_END_TO_COUNTER)
    return point, wrap_deg(yaw + 180.0)  # the model yaw that faces a direction -> the view yaw that looks along it
