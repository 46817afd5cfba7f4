"""The bank hall's plan: where the walls, counters, showcases, cars, screens and doors stand, in metres.

One plan serves every part that needs to know the hall: the asset build turns its boxes into baked geometry
(`build.py`), the node tests positions against its walkable area (`walkable.py`) and answers pick rays with its
items (`picking.py`), and the stream places the catalog's products in its slots. Nothing here does I/O.

Coordinates follow the renderer (render_node/render/__init__.py): right-handed, +Y up, metres, the origin on the
floor at the middle of the hall. The entrance is in the south wall (+Z); a customer who walks in looks north
(-Z). `yaw_deg` turns about +Y, counter-clockwise seen from above: 0 looks north (-Z), 90 looks west (-X),
-90 looks east (+X), 180 looks south (+Z).

    north wall (z = -9): wealth screen, service counter (north-west)
    west  (x = -13): precious-metals counter        east (x = +13): car-finance studio, loan panel
    south wall (z = +9): entrance, welcome point
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

Vec3 = tuple[float, float, float]
ItemKind = Literal["product", "panel", "door", "counter", "wall", "floor", "fixture"]
Surface = Literal["floor", "wall", "ceiling", "wood", "stone", "brass", "glass", "red", "screen", "fabric", "metal",
                  "light", "ruler"]

HALL_MIN: Vec3 = (-13.0, 0.0, -9.0)
HALL_MAX: Vec3 = (13.0, 4.5, 9.0)
EYE_HEIGHT_M = 1.6
BODY_RADIUS_M = 0.3
"""How close a customer's body (and so the head, standing) may come to a wall or a counter."""

BANK_RED = (0.70, 0.06, 0.13)
"""The bank's colour (linear RGB), with gold accents and warm white walls."""
BANK_GOLD = (0.80, 0.58, 0.25)


@dataclass(frozen=True)
class Box:
    """An axis-aligned box: a wall, a counter, a cabinet, a sofa. `surface` chooses its baked material."""

    id: str
    min_m: Vec3
    max_m: Vec3
    surface: Surface = "wall"
    solid: bool = True
    """Solid boxes block walking and pick rays; glass is solid too (a showcase cannot be walked through)."""

    @property
    def center_m(self) -> Vec3:
        return tuple((a + b) / 2 for a, b in zip(self.min_m, self.max_m, strict=True))  # type: ignore[return-value]

    @property
    def size_m(self) -> Vec3:
        return tuple(b - a for a, b in zip(self.min_m, self.max_m, strict=True))  # type: ignore[return-value]


@dataclass(frozen=True)
class Disc:
    """A round platform (a car turntable): centre on the floor, radius, height."""

    id: str
    center_m: Vec3
    radius_m: float
    height_m: float = 0.12
    surface: Surface = "metal"


@dataclass(frozen=True)
class Sign:
    """Text on a wall or counter: a quad facing `normal`, Chinese first line, English second (Noto CJK)."""

    id: str
    center_m: Vec3
    normal: Vec3
    size_m: tuple[float, float]
    zh: str
    en: str
    style: Literal["header", "label", "welcome"] = "header"


@dataclass(frozen=True)
class Panel:
    """A surface whose content the node draws live (a price tag, the gold chart, the loan panel, a button).

    `kind` says what it shows; `target` names the product, zone or action it is about."""

    id: str
    kind: Literal["price_tag", "gold_chart", "loan", "notices", "button"]
    center_m: Vec3
    normal: Vec3
    size_m: tuple[float, float]
    target: str = ""


@dataclass(frozen=True)
class Slot:
    """Where a catalog product stands in the hall: the bottom centre of its model (which rests on Y = 0 with its
    front to +Z) goes to `position_m`, turned by `yaw_deg` so that its front faces the customer."""

    id: str
    product: str
    position_m: Vec3
    yaw_deg: float
    pick_half_m: Vec3 = (0.06, 0.08, 0.06)
    """Half size of the box around the slot that a pick ray hits (small products get a generous target)."""
    on_turntable: str | None = None


@dataclass(frozen=True)
class Stand:
    """The presentation stand of a zone: a focused product is lifted onto it, magnified to `display_size_m`, with
    a true-size copy and a ruler (`ruler_m`, 10 cm) beside it."""

    id: str
    zone: str
    top_m: Vec3
    display_size_m: float
    true_size_m: Vec3
    """Where the true-size copy of the product rests, beside the ruler."""
    ruler_m: Vec3
    view_point_m: Vec3
    view_yaw_deg: float


@dataclass(frozen=True)
class Zone:
    """A place the customer can be sent to ("go to the gold counter"): a point on the floor and a facing."""

    id: str
    zh: str
    en: str
    point_m: Vec3
    yaw_deg: float
    area_min_m: tuple[float, float]
    area_max_m: tuple[float, float]
    """The zone's floor rectangle (x, z): where a position counts as being in this zone."""


@dataclass(frozen=True)
class Probe:
    """A reflection probe: the hall rendered to a cube map from here lights the products of `zone`."""

    id: str
    zone: str
    position_m: Vec3


@dataclass(frozen=True)
class Light:
    """A baked light: a ceiling panel (area light, pointing down) of the given linear RGB power per m^2."""

    id: str
    center_m: Vec3
    size_m: tuple[float, float]
    intensity: Vec3


@dataclass(frozen=True)
class Seat:
    """Where the head goes when the customer sits in a car: relative to the car's slot, in the car's frame."""

    product: str
    offset_m: Vec3
    yaw_deg: float


@dataclass(frozen=True)
class HallPlan:
    boxes: tuple[Box, ...]
    discs: tuple[Disc, ...]
    signs: tuple[Sign, ...]
    panels: tuple[Panel, ...]
    slots: tuple[Slot, ...]
    stands: tuple[Stand, ...]
    zones: tuple[Zone, ...]
    probes: tuple[Probe, ...]
    lights: tuple[Light, ...]
    seats: tuple[Seat, ...]
    doors: tuple[Box, ...]
    welcome_m: Vec3
    welcome_yaw_deg: float
    guide_m: Vec3
    """Where the digital guide will stand (issue 13)."""
    min_m: Vec3 = HALL_MIN
    max_m: Vec3 = HALL_MAX
    attract_path: tuple[tuple[Vec3, float], ...] = field(default=())
    """The kiosk's attract loop: (point, yaw_deg) waypoints walked slowly in order, then back to the first."""
    staff_areas: tuple[tuple[tuple[float, float], tuple[float, float]], ...] = field(default=())
    """Floor rectangles ((x0, z0), (x1, z1)) behind the counters and desks: staff only, never walkable (walkable.py)."""

    def zone(self, zone_id: str) -> Zone:
        for z in self.zones:
            if z.id == zone_id:
                return z
        raise KeyError(zone_id)

    def zone_at(self, x_m: float, z_m: float) -> Zone | None:
        for z in self.zones:
            if z.area_min_m[0] <= x_m <= z.area_max_m[0] and z.area_min_m[1] <= z_m <= z.area_max_m[1]:
                return z
        return None

    def slot_of(self, product_id: str) -> Slot:
        for s in self.slots:
            if s.product == product_id:
                return s
        raise KeyError(product_id)

    def stand_of(self, zone_id: str) -> Stand:
        for s in self.stands:
            if s.zone == zone_id:
                return s
        raise KeyError(zone_id)

    def obstacles(self) -> tuple[Box, ...]:
        return tuple(b for b in self.boxes if b.solid)


def yaw_quaternion(yaw_deg: float) -> tuple[float, float, float, float]:
    """The (x, y, z, w) quaternion of a turn by `yaw_deg` about +Y."""
    h = math.radians(yaw_deg) / 2
    return (0.0, math.sin(h), 0.0, math.cos(h))


# -- the hall -------------------------------------------------------------------------------------------------

_WALL_T = 0.2
_x0, _y0, _z0 = HALL_MIN
_x1, _y1, _z1 = HALL_MAX


def _walls() -> list[Box]:
    door_half = 1.6
    return [
        Box("wall-north", (_x0 - _WALL_T, 0, _z0 - _WALL_T), (_x1 + _WALL_T, _y1, _z0)),
        Box("wall-west", (_x0 - _WALL_T, 0, _z0), (_x0, _y1, _z1)),
        Box("wall-east", (_x1, 0, _z0), (_x1 + _WALL_T, _y1, _z1)),
        Box("wall-south-w", (_x0 - _WALL_T, 0, _z1), (-door_half, _y1, _z1 + _WALL_T)),
        Box("wall-south-e", (door_half, 0, _z1), (_x1 + _WALL_T, _y1, _z1 + _WALL_T)),
        Box("wall-south-lintel", (-door_half, 2.8, _z1), (door_half, _y1, _z1 + _WALL_T)),
        Box("floor", (_x0, -0.05, _z0), (_x1, 0.0, _z1), "floor", solid=False),
        Box("ceiling", (_x0, _y1, _z0), (_x1, _y1 + 0.05, _z1), "ceiling", solid=False),
    ]


# Precious-metals counter (west): three glass showcases in a row along Z, the customer stands east of them.
_CASE_X = (-10.0, -9.4)
_CASE_TOP = 0.90
_GLASS_TOP = 1.20
_CASES = {"bars": (-3.3, -1.1), "coins": (-0.8, 1.0), "jewellery": (1.3, 3.7)}
_TRAY_X = -9.7
_FACE_EAST = 90.0
"""A product's front (+Z) turned to face +X, towards the customer standing east of the showcases (a turn by +90
about +Y takes +Z to +X, as it takes the view direction -Z to -X: "90 looks west")."""


def _showcases() -> list[Box]:
    boxes: list[Box] = []
    for name, (z0, z1) in _CASES.items():
        boxes.append(Box(f"case-{name}", (_CASE_X[0], 0, z0), (_CASE_X[1], _CASE_TOP, z1), "wood"))
        boxes.append(Box(f"case-{name}-glass", (_CASE_X[0], _CASE_TOP, z0), (_CASE_X[1], _GLASS_TOP, z1), "glass"))
        boxes.append(Box(f"case-{name}-tray", (_CASE_X[0] + 0.04, _CASE_TOP, z0 + 0.04),
                         (_CASE_X[1] - 0.04, _CASE_TOP + 0.01, z1 - 0.04), "fabric", solid=False))
    boxes += [
        Box("gold-backwall", (_x0, 0, -4.2), (_x0 + 0.3, 3.2, 4.6), "wood"),
        Box("gold-backwall-band", (_x0 + 0.3, 2.55, -4.2), (_x0 + 0.34, 2.75, 4.6), "brass", solid=False),
        # the presentation stand: a granite pedestal, a brass band, a velvet top at 1.0 m
        Box("gold-stand", (-6.95, 0, -4.55), (-6.25, 0.98, -3.85), "stone"),
        Box("gold-stand-band", (-6.96, 0.88, -4.56), (-6.24, 0.92, -3.84), "brass", solid=False),
        Box("gold-stand-tray", (-6.97, 0.98, -4.57), (-6.23, 1.0, -3.83), "fabric", solid=False),
    ]
    return boxes


def _tray_slots(case: str, products: list[str], y: float = _CASE_TOP + 0.01) -> list[Slot]:
    z0, z1 = _CASES[case]
    step = (z1 - z0) / len(products)
    return [Slot(f"slot-{pid}", pid, (_TRAY_X, y, z0 + step * (i + 0.5)), _FACE_EAST,
                 pick_half_m=(0.2, 0.12, min(0.12, step / 2)))
            for i, pid in enumerate(products)]


_BARS = ["bar-au9999-10g", "bar-au9999-50g", "bar-au9999-100g", "bar-au9999-100g-cast", "bar-au9999-1kg"]
_COINS = ["coin-panda-au999-1oz", "coin-panda-ag999-30g"]
_JEWELLERY = ["ring-band-classic", "ring-solitaire", "bangle-au999-classic", "bracelet-au999-curb",
              "necklace-pendant-heart", "earrings-stud-diamond", "earrings-drop-au750"]

# Car-finance studio (east): two turntables, a loan panel on the east wall.
_TURNTABLES = {"car-sedan-aurora": (6.2, -4.2), "car-suv-summit": (8.8, 3.6)}
_TURNTABLE_R = 2.9


def _car_studio() -> tuple[list[Box], list[Disc], list[Slot]]:
    discs = [Disc(f"turntable-{pid}", (x, 0.0, z), _TURNTABLE_R) for pid, (x, z) in _TURNTABLES.items()]
    slots = [Slot(f"slot-{pid}", pid, (x, 0.12, z), 30.0 if i == 0 else -150.0, pick_half_m=(2.3, 0.8, 2.3),
                  on_turntable=f"turntable-{pid}")
             for i, (pid, (x, z)) in enumerate(_TURNTABLES.items())]
    # A car on its turntable is an obstacle shaped by its own footprint (the catalog's size, turned by the slot's
    # yaw: walkable.py); the rest of the disc stays walkable, to walk around the car at full size.
    boxes = [Box("loan-desk", (11.6, 0, -2.2), (12.4, 0.75, 0.2), "wood")]
    return boxes, discs, slots


def _wealth_corner() -> list[Box]:
    return [
        Box("screen-frame", (-2.3, 1.05, _z0), (2.3, 3.45, _z0 + 0.08), "metal"),
        # the sofa faces the screen (its back to the south), the coffee table between them
        Box("sofa", (-1.6, 0, -6.2), (1.6, 0.45, -5.4), "fabric"),
        Box("sofa-back", (-1.6, 0.45, -5.65), (1.6, 0.85, -5.4), "fabric"),
        Box("coffee-table", (-0.7, 0, -7.4), (0.7, 0.42, -6.8), "stone"),
    ]


def _service_counter() -> list[Box]:
    return [
        Box("service-desk", (-10.6, 0, -8.2), (-6.4, 1.05, -7.4), "wood"),
        Box("service-desk-top", (-10.7, 1.05, -8.25), (-6.3, 1.09, -7.3), "stone", solid=False),
        Box("service-desk-band", (-10.6, 0.8, -7.41), (-6.4, 0.9, -7.38), "red", solid=False),
    ]


def _entrance() -> list[Box]:
    return [
        Box("column-w", (-4.3, 0, 3.7), (-3.7, _y1, 4.3), "stone"),
        Box("column-e", (3.7, 0, 3.7), (4.3, _y1, 4.3), "stone"),
        Box("welcome-desk", (2.0, 0, 6.2), (3.4, 1.0, 6.8), "red"),
        Box("carpet", (-1.5, 0.0, 5.0), (1.5, 0.005, 9.0), "red", solid=False),
    ]


def _lights() -> list[Light]:
    warm = (14.0, 12.6, 10.8)
    lights = [Light(f"ceiling-{i}-{j}", (x, _y1 - 0.02, z), (1.2, 1.2), warm)
              for i, x in enumerate((-9.0, -3.0, 3.0, 9.0)) for j, z in enumerate((-5.0, 0.0, 5.0))]
    lights.append(Light("showcase-spot", (-8.6, _y1 - 0.02, 0.2), (0.6, 6.4), (30.0, 27.0, 23.0)))
    lights.append(Light("car-spot", (7.5, _y1 - 0.02, -0.3), (4.0, 8.0), (10.0, 10.0, 10.0)))
    return lights


def hall_plan() -> HallPlan:
    """The branch hall the node serves (one plan; its products come from the catalog by id)."""
    car_boxes, discs, car_slots = _car_studio()
    boxes = tuple(_walls() + _showcases() + car_boxes + _wealth_corner() + _service_counter() + _entrance())
    slots = tuple(_tray_slots("bars", _BARS) + _tray_slots("coins", _COINS) + _tray_slots("jewellery", _JEWELLERY)
                  + car_slots)
    signs = (
        Sign("sign-gold", (_x0 + 0.36, 2.2, 0.2), (1, 0, 0), (3.6, 0.9), "贵金属", "Precious Metals"),
        Sign("sign-cars", (_x1 - 0.02, 3.1, 2.6), (-1, 0, 0), (3.6, 0.9), "汽车金融", "Car Finance"),
        Sign("sign-wealth", (0.0, 3.8, _z0 + 0.02), (0, 0, 1), (3.2, 0.7), "财富资讯", "Wealth Corner"),
        Sign("sign-service", (-8.5, 2.4, _z0 + 0.02), (0, 0, 1), (3.6, 0.9), "客户服务", "Customer Service"),
        Sign("sign-welcome", (0.0, 3.3, _z1 - 0.02), (0, 0, -1), (4.0, 0.9), "欢迎光临", "Welcome", "welcome"),
        Sign("sign-welcome-desk", (2.7, 0.6, 6.81), (0, 0, 1), (1.2, 0.4), "咨询", "Information", "label"),
    )
    panels = tuple(
        [Panel(f"tag-{s.product}", "price_tag", (_CASE_X[1] + 0.005, 0.72, s.position_m[2]), (1, 0, 0),
               (0.26, 0.12), s.product) for s in slots if s.on_turntable is None]
        + [Panel(f"tag-{s.product}", "price_tag", (s.position_m[0], 0.9, s.position_m[2] + 3.05), (0, 0, 1),
                 (0.9, 0.4), s.product) for s in slots if s.on_turntable is not None]
        + [
            Panel("gold-chart", "gold_chart", (0.0, 2.25, _z0 + 0.09), (0, 0, 1), (4.4, 2.3), "gold"),
            Panel("loan-panel", "loan", (_x1 - 0.02, 1.75, -1.0), (-1, 0, 0), (2.4, 1.4), "car-sedan-aurora"),
            Panel("notices", "notices", (-12.98, 1.6, -6.4), (1, 0, 0), (1.6, 1.1), "notices"),
            Panel("button-appointment", "button", (-9.3, 1.35, -7.32), (0, 0, 1), (1.1, 0.4), "appointment"),
            Panel("button-advisor", "button", (-7.7, 1.35, -7.32), (0, 0, 1), (1.1, 0.4), "call_advisor"),
        ]
    )
    zones = (
        Zone("entrance", "入口", "Entrance", (0.0, 0.0, 6.4), 0.0, (-4.0, 4.5), (4.0, 9.0)),
        Zone("gold_counter", "贵金属柜台", "Precious-metals counter", (-8.4, 0.0, 0.2), 90.0, (-13.0, -4.2),
             (-4.0, 4.6)),
        Zone("car_studio", "汽车金融展厅", "Car-finance studio", (4.2, 0.0, 0.2), -90.0, (2.5, -9.0), (13.0, 9.0)),
        Zone("wealth_corner", "财富资讯区", "Wealth corner", (0.0, 0.0, -3.2), 0.0, (-4.0, -9.0), (2.5, -2.0)),
        Zone("service_counter", "服务柜台", "Service counter", (-8.5, 0.0, -6.3), 0.0, (-13.0, -9.0), (-4.0, -4.2)),
    )
    stands = (
        Stand("stand-gold", "gold_counter", (-6.6, 1.0, -4.2), 0.22, (-6.82, 1.0, -3.95), (-6.45, 1.0, -3.95),
              (-6.6, 0.0, -3.4), 0.0),
    )
    probes = (
        Probe("probe-gold", "gold_counter", (-8.6, 1.1, 0.2)),
        Probe("probe-cars", "car_studio", (7.5, 1.0, -0.3)),
        Probe("probe-stand", "gold_counter", (-6.6, 1.2, -4.2)),
    )
    seats = (
        # Left-hand drive: facing the car's front (+Z), the driver sits on the left, which is +X.
        Seat("car-sedan-aurora", (0.37, 1.12, -0.15), 0.0),
        Seat("car-suv-summit", (0.40, 1.30, -0.10), 0.0),
    )
    doors = (Box("door-entrance", (-1.6, 0, _z1 - 0.05), (1.6, 2.8, _z1 + 0.05), "glass", solid=True),)
    attract = (
        ((0.0, EYE_HEIGHT_M, 6.4), 0.0),
        ((-3.0, EYE_HEIGHT_M, 2.0), 60.0),
        ((-7.6, EYE_HEIGHT_M, 0.2), 90.0),
        ((-2.0, EYE_HEIGHT_M, -2.6), 10.0),
        ((3.0, EYE_HEIGHT_M, 0.0), -100.0),
        ((4.0, EYE_HEIGHT_M, 6.0), -160.0),
    )
    return HallPlan(boxes=boxes, discs=tuple(discs), signs=signs, panels=panels, slots=slots, stands=stands,
                    zones=zones, probes=probes, lights=tuple(_lights()), seats=seats, doors=doors,
                    welcome_m=(0.0, 0.0, 6.4), welcome_yaw_deg=0.0, guide_m=(1.2, 0.0, 5.2), attract_path=attract,
                    staff_areas=(((_x0 + 0.3, -4.2), (_CASE_X[0], 4.6)), ((-11.2, _z0), (-5.8, -8.2))))
