"""What a pick ray hits in the hall: a product, a panel (price tag, chart, button), a door, a counter, a wall.

    picker = HallPicker(hall_plan(), floor)              # floor: walkable.HallFloor (cars at their yaws)
    hit = picker.pick((-8.4, 1.5, -1.0), (-1.0, -0.4, 0.0))
    hit.kind, hit.item, hit.product                      # "product", "slot-bar-au9999-100g", "bar-au9999-100g"

The client sends a ray (controller, gaze or a click unprojected) and the node answers from the plan, so picking
works whatever the client draws. The nearest hit wins, with two rules a customer expects: a showcase's glass does
not hide the products inside it (a ray through the glass that meets a product's pick box picks the product), and a
panel on a surface wins over that surface (a price tag on a showcase, a button on the desk). Cars are picked by
their oriented box (the catalog's size turned by the car's yaw). Plain maths; no GL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from render_node.hall.layout import Box, HallPlan, ItemKind, Vec3
from render_node.hall.walkable import HallFloor, car_size_m, rotate_yaw
from showroom.catalog import Catalog

Action = Literal["appointment", "call_advisor"]
ACTIONS: tuple[Action, ...] = ("appointment", "call_advisor")
_COUNTER_IDS = ("case-", "service-desk", "loan-desk", "welcome-desk", "gold-stand")
_PANEL_DEPTH_M = 0.01
_MAX_DISTANCE_M = 100.0


@dataclass(frozen=True)
class Hit:
    kind: ItemKind
    item: str
    point_m: Vec3
    distance_m: float
    walkable: bool = False
    """Floor hits: whether the customer may stand (teleport) there."""
    zone: str | None = None
    product: str | None = None
    action: Action | None = None

    def to_json(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"kind": self.kind, "item": self.item,
                               "point": [round(c, 4) for c in self.point_m],
                               "distance_m": round(self.distance_m, 4), "walkable": self.walkable,
                               "zone": self.zone}
        if self.product is not None:
            msg["product"] = self.product
        if self.action is not None:
            msg["action"] = self.action
        return msg


@dataclass(frozen=True)
class _Target:
    kind: ItemKind
    item: str
    center_m: Vec3
    half_m: Vec3
    yaw_deg: float = 0.0
    product: str | None = None
    action: Action | None = None
    glass: bool = False
    floor_top: bool = False
    """A turntable: a hit on its top is a floor hit (the customer may stand on it)."""


def box_kind(box: Box) -> ItemKind:
    """What a customer would call a box of the plan: a wall, a counter (showcases, desks, glass) or a fixture."""
    if box.id.startswith("wall-") or box.id == "ceiling":
        return "wall"
    if box.id.startswith(_COUNTER_IDS):
        return "counter"
    return "fixture"


def _ray_box(origin: Vec3, direction: Vec3, target: _Target) -> tuple[float, float] | None:
    """(t_near, t_far) of a ray against an oriented box, t along the unit `direction`; None when it misses or the box
    lies behind the origin (a box that holds the origin, like the car one sits in, is not hit either)."""
    ox, oz = rotate_yaw(origin[0] - target.center_m[0], origin[2] - target.center_m[2], -target.yaw_deg)
    dx, dz = rotate_yaw(direction[0], direction[2], -target.yaw_deg)
    o = (ox, origin[1] - target.center_m[1], oz)
    d = (dx, direction[1], dz)
    t0, t1 = -math.inf, math.inf
    for a in range(3):
        h = target.half_m[a]
        if abs(d[a]) < 1e-12:
            if abs(o[a]) > h:
                return None
            continue
        ta, tb = (-h - o[a]) / d[a], (h - o[a]) / d[a]
        if ta > tb:
            ta, tb = tb, ta
        t0, t1 = max(t0, ta), min(t1, tb)
        if t0 > t1:
            return None
    if t0 < 0.0:
        return None
    return t0, t1


class HallPicker:
    """Answers pick rays for one hall plan and one floor (its cars at the floor's yaws)."""

    def __init__(self, plan: HallPlan, floor: HallFloor, catalog: Catalog) -> None:
        self.plan = plan
        self.floor = floor
        self.targets = self._targets(plan, floor, catalog)

    @staticmethod
    def _targets(plan: HallPlan, floor: HallFloor, catalog: Catalog) -> list[_Target]:
        out: list[_Target] = []
        car_yaws = {fp.id.removeprefix("car-"): fp.yaw_deg for fp in floor.footprints}
        for slot in plan.slots:
            x, y, z = slot.position_m
            if slot.on_turntable is not None:
                w, h, length = car_size_m(catalog, slot.product)
                out.append(_Target("product", slot.id, (x, y + h / 2, z), (w / 2, h / 2, length / 2),
                                   car_yaws.get(slot.product, slot.yaw_deg), product=slot.product))
            else:
                hx, hy, hz = slot.pick_half_m
                out.append(_Target("product", slot.id, (x, y + hy, z), (hx, hy, hz), product=slot.product))
        for panel in plan.panels:
            nx, ny, nz = panel.normal
            c = (panel.center_m[0] + nx * _PANEL_DEPTH_M / 2, panel.center_m[1] + ny * _PANEL_DEPTH_M / 2,
                 panel.center_m[2] + nz * _PANEL_DEPTH_M / 2)
            w, h = panel.size_m
            half = (_PANEL_DEPTH_M / 2 if abs(nx) > 0.5 else w / 2, h / 2 if abs(ny) < 0.5 else _PANEL_DEPTH_M / 2,
                    _PANEL_DEPTH_M / 2 if abs(nz) > 0.5 else w / 2)
            action: Action | None = panel.target if panel.target in ACTIONS else None  # type: ignore[assignment]
            product = panel.target if panel.kind in ("price_tag", "loan") else None
            out.append(_Target("panel", panel.id, c, half, product=product, action=action))
        for door in plan.doors:
            out.append(_box_target(door, "door"))
        for box in plan.boxes:
            if box.id in ("floor", "carpet") or box.id.endswith("-tray"):
                continue  # the floor is a plane (below); a tray lies under the products' pick boxes
            target = _box_target(box, box_kind(box))
            out.append(target)
        for disc in plan.discs:
            r = disc.radius_m / math.sqrt(2) * 1.2  # a box close to the disc's area; the top is floor anyway
            out.append(_Target("floor", disc.id, (disc.center_m[0], disc.height_m / 2, disc.center_m[2]),
                               (r, disc.height_m / 2, r), floor_top=True))
        return out

    def pick(self, origin_m: Vec3, direction: Vec3) -> Hit | None:
        """The first thing the ray from `origin_m` along the unit `direction` hits, or None (into the sky)."""
        hits: list[tuple[float, float, _Target]] = []
        for target in self.targets:
            span = _ray_box(origin_m, direction, target)
            if span is not None and span[0] <= _MAX_DISTANCE_M:
                hits.append((span[0], span[1], target))
        floor_t = self._floor_t(origin_m, direction)
        # Panels sit on surfaces: at (nearly) the same distance the panel wins; then products, then the rest.
        rank = {"panel": 0, "product": 1}
        hits.sort(key=lambda h: (round(h[0], 3), rank.get(h[2].kind, 2)))
        for t_near, t_far, target in hits:
            if floor_t is not None and floor_t < t_near:
                break
            if target.glass or target.kind == "product":
                # Products behind the glass, or neighbours on a tray whose pick boxes the ray clips: the one whose
                # centre the ray passes closest to is the one the customer aims at.
                near = [h for h in hits if h[2].kind == "product" and t_near <= h[0] <= t_far + 0.05]
                if near:
                    t, _, chosen = min(near, key=lambda h: _miss_distance_m(origin_m, direction, h[2].center_m))
                    return self._hit(origin_m, direction, t, chosen)
            return self._hit(origin_m, direction, t_near, target)
        if floor_t is None:
            return None
        return self._floor_hit(origin_m, direction, floor_t, "floor")

    def _floor_t(self, origin: Vec3, direction: Vec3) -> float | None:
        if direction[1] >= -1e-9 or origin[1] <= 0.0:
            return None
        t = -origin[1] / direction[1]
        x, z = origin[0] + direction[0] * t, origin[2] + direction[2] * t
        lo, hi = self.plan.min_m, self.plan.max_m
        if not (lo[0] <= x <= hi[0] and lo[2] <= z <= hi[2]) or t > _MAX_DISTANCE_M:
            return None
        return t

    def _floor_hit(self, origin: Vec3, direction: Vec3, t: float, item: str) -> Hit:
        p = (origin[0] + direction[0] * t, origin[1] + direction[1] * t, origin[2] + direction[2] * t)
        zone = self.plan.zone_at(p[0], p[2])
        return Hit("floor", item, p, t, self.floor.is_walkable(p[0], p[2]), zone.id if zone else None)

    def _hit(self, origin: Vec3, direction: Vec3, t: float, target: _Target) -> Hit:
        if target.floor_top:
            return self._floor_hit(origin, direction, t, target.item)
        p = (origin[0] + direction[0] * t, origin[1] + direction[1] * t, origin[2] + direction[2] * t)
        zone = self.plan.zone_at(p[0], p[2])
        return Hit(target.kind, target.item, p, t, False, zone.id if zone else None, target.product, target.action)


def _miss_distance_m(origin: Vec3, direction: Vec3, point: Vec3) -> float:
    """How far the ray (unit `direction`) passes from `point`."""
    v = (point[0] - origin[0], point[1] - origin[1], point[2] - origin[2])
    t = max(0.0, v[0] * direction[0] + v[1] * direction[1] + v[2] * direction[2])
    return math.dist(point, (origin[0] + direction[0] * t, origin[1] + direction[1] * t, origin[2] + direction[2] * t))


def _box_target(box: Box, kind: ItemKind) -> _Target:
    return _Target(kind, box.id, box.center_m, tuple(s / 2 for s in box.size_m),  # type: ignore[arg-type]
                   glass=box.surface == "glass" and kind != "door")
