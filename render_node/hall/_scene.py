"""The hall's geometry from its plan: the plan's boxes and discs, and the fixtures that make it a branch
(skirting, a brass band, door frame and glass doors, showcase edges, light panels, the ruler, the street seen
through the doors). Positions come from `layout.hall_plan()` only; fixtures are placed relative to them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from render_node.hall._materials import MATERIALS
from render_node.hall._mesh import (
    Chunk,
    Solid,
    box_chunk,
    compact,
    cull_buried,
    cylinder_side,
    disc_top,
    quad,
    sphere,
)
from render_node.hall.layout import HallPlan, Light
from render_node.hall.signage import Poster, poster_chunk, ruler_chunk, sign_chunk

STEP_M = {"floor": 0.22, "wall": 0.32, "ceiling": 0.45}
"""Longest cell edge by material (baked light is interpolated across a cell); others use `DEFAULT_STEP_M`."""
DEFAULT_STEP_M = 0.28
TRAY_STEP_M = 0.08
"""The velvet trays' cells: their baked sheen changes with the angle to the customer's eye across the tray."""
SKIRTING_M = (0.10, 0.015)
"""Height, thickness."""
BAND_M = (2.95, 3.0, 0.012)
"""Bottom, top, thickness of the brass band around the walls."""
TRIM_M = 0.022
LIGHT_FRAME_M = 0.05
DAYLIGHT = ((1.25, 1.30, 1.38), (0.62, 0.78, 1.05))
"""The street's backdrop outside the doors: linear radiance at the horizon and at the top."""
PAVEMENT = (0.34, 0.33, 0.31)
LED = (2.4, 2.5, 2.8)
"""The glowing ring of a turntable (linear radiance, slightly cool)."""
CAR_STRIPS = 6
STRIP_WIDTH_M = 0.18


@dataclass(frozen=True)
class Cylinder:
    center_m: tuple[float, float, float]
    radius_m: float
    height_m: float

    def as_tuple(self) -> tuple[float, float, float, float, float]:
        return (self.center_m[0], self.center_m[2], self.radius_m, self.center_m[1], self.center_m[1] + self.height_m)


def _material(box_id: str, surface: str) -> str:
    if box_id == "carpet":
        return "carpet"
    if box_id.endswith("-tray"):
        return "velvet"
    if box_id == "gold-stand":
        return "granite"
    return surface if surface in MATERIALS else "wall"


def plan_solids(plan: HallPlan) -> list[Solid]:
    """The plan's boxes (doors excepted: the door fixtures draw them)."""
    out = []
    for b in plan.boxes:
        mat = _material(b.id, b.surface)
        step = TRAY_STEP_M if mat == "velvet" else STEP_M.get(b.surface, DEFAULT_STEP_M)
        out.append(Solid(b.id, b.min_m, b.max_m, mat, opaque=mat != "glass", step_m=step))
    return out


def _perimeter_strips(plan: HallPlan, y0: float, y1: float, t: float, material: str, name: str) -> list[Solid]:
    (x0, _, z0), (x1, _, z1) = plan.min_m, plan.max_m
    door = [d for d in plan.doors]
    dx0 = min((d.min_m[0] for d in door), default=0.0)
    dx1 = max((d.max_m[0] for d in door), default=0.0)
    door_top = max((d.max_m[1] for d in door), default=0.0)
    strips = [
        Solid(f"{name}-north", (x0, y0, z0), (x1, y1, z0 + t), material, step_m=DEFAULT_STEP_M),
        Solid(f"{name}-west", (x0, y0, z0 + t), (x0 + t, y1, z1 - t), material, step_m=DEFAULT_STEP_M),
        Solid(f"{name}-east", (x1 - t, y0, z0 + t), (x1, y1, z1 - t), material, step_m=DEFAULT_STEP_M),
    ]
    if door and y0 < door_top:
        strips += [
            Solid(f"{name}-south-w", (x0, y0, z1 - t), (dx0, y1, z1), material, step_m=DEFAULT_STEP_M),
            Solid(f"{name}-south-e", (dx1, y0, z1 - t), (x1, y1, z1), material, step_m=DEFAULT_STEP_M),
        ]
    else:
        strips.append(Solid(f"{name}-south", (x0, y0, z1 - t), (x1, y1, z1), material, step_m=DEFAULT_STEP_M))
    return strips


def _door_solids(plan: HallPlan) -> list[Solid]:
    out: list[Solid] = []
    for d in plan.doors:
        (x0, y0, z0), (x1, y1, z1) = d.min_m, d.max_m
        zc = (z0 + z1) / 2
        post, rail = 0.08, 0.10
        fz0, fz1 = zc - 0.06, zc + 0.06
        xm = (x0 + x1) / 2
        out += [
            Solid(f"{d.id}-post-w", (x0, y0, fz0), (x0 + post, y1, fz1), "metal", step_m=0.5),
            Solid(f"{d.id}-post-e", (x1 - post, y0, fz0), (x1, y1, fz1), "metal", step_m=0.5),
            Solid(f"{d.id}-header", (x0 + post, y1 - post, fz0), (x1 - post, y1, fz1), "metal", step_m=0.5),
            Solid(f"{d.id}-mullion", (xm - 0.03, y0, fz0), (xm + 0.03, y1 - post, fz1), "metal", step_m=0.5),
            Solid(f"{d.id}-rail-w", (x0 + post, y0, fz0 + 0.02), (xm - 0.03, rail, fz1 - 0.02), "metal", step_m=0.5),
            Solid(f"{d.id}-rail-e", (xm + 0.03, y0, fz0 + 0.02), (x1 - post, rail, fz1 - 0.02), "metal", step_m=0.5),
            Solid(f"{d.id}-glass-w", (x0 + post, rail, zc - 0.005), (xm - 0.03, y1 - post, zc + 0.005), "glass",
                  opaque=False, step_m=0.5),
            Solid(f"{d.id}-glass-e", (xm + 0.03, rail, zc - 0.005), (x1 - post, y1 - post, zc + 0.005), "glass",
                  opaque=False, step_m=0.5),
        ]
        for side, (za, zb) in (("in", (fz0 - 0.05, fz0 - 0.02)), ("out", (fz1 + 0.02, fz1 + 0.05))):
            for k, (xa, xb) in enumerate(((xm - 0.16, xm - 0.13), (xm + 0.13, xm + 0.16))):
                out.append(Solid(f"{d.id}-handle-{side}-{k}", (xa, 0.85, za), (xb, 1.85, zb), "brass", step_m=0.5))
                for yy in (0.95, 1.72):  # the stand-offs holding the bar to the glass
                    zs = (za, fz0) if side == "in" else (fz1, zb)
                    out.append(Solid(f"{d.id}-handle-{side}-{k}-{yy}", (xa, yy, zs[0]), (xb, yy + 0.03, zs[1]),
                                     "brass", step_m=0.5))
        # the threshold under the door, through the wall's thickness
        out.append(Solid(f"{d.id}-threshold", (x0, -0.05, plan.max_m[2]), (x1, 0.0, plan.max_m[2] + 0.2), "stone",
                         step_m=0.4))
    return out


def _showcase_trims(plan: HallPlan) -> list[Solid]:
    out = []
    t, o = TRIM_M, 0.002
    for b in plan.boxes:
        if b.surface != "glass":
            continue
        (x0, y0, z0), (x1, y1, z1) = b.min_m, b.max_m
        for i, (xa, za) in enumerate(((x0 - o, z0 - o), (x1 - t + o, z0 - o), (x0 - o, z1 - t + o), (x1 - t + o, z1 - t + o))):
            out.append(Solid(f"{b.id}-edge-{i}", (xa, y0, za), (xa + t, y1 + o, za + t), "brass", step_m=0.5))
        out += [
            Solid(f"{b.id}-top-n", (x0 - o, y1 - t, z0 - o), (x1 + o, y1 + o, z0 - o + t), "brass", step_m=0.5),
            Solid(f"{b.id}-top-s", (x0 - o, y1 - t, z1 + o - t), (x1 + o, y1 + o, z1 + o), "brass", step_m=0.5),
            Solid(f"{b.id}-top-w", (x0 - o, y1 - t, z0 - o), (x0 - o + t, y1 + o, z1 + o), "brass", step_m=0.5),
            Solid(f"{b.id}-top-e", (x1 + o - t, y1 - t, z0 - o), (x1 + o, y1 + o, z1 + o), "brass", step_m=0.5),
        ]
    return out


def _feature_panels(plan: HallPlan) -> list[Solid]:
    """A walnut panel behind the service counter and a travertine wall behind the car studio's desk, where
    their signs hang."""
    out = []
    for s in plan.signs:
        x, _, z = s.center_m
        if s.id == "sign-service":
            # thicker than the brass band it crosses (the band's face is then buried in it), 3 mm behind the sign
            out.append(Solid("service-panel", (x - 2.5, SKIRTING_M[0], z - 0.02), (x + 2.5, 3.3, z - 0.003), "wood"))
        elif s.id == "sign-cars":
            out.append(Solid("cars-panel", (x + 0.008, SKIRTING_M[0], -5.5), (x + 0.02, BAND_M[0], 5.5), "stone"))
    return out


def hall_solids(plan: HallPlan) -> list[Solid]:
    """Every box of the hall's geometry: the plan's, then the fixtures."""
    solids = plan_solids(plan)
    solids += _perimeter_strips(plan, 0.0, SKIRTING_M[0], SKIRTING_M[1], "wood", "skirting")
    solids += _perimeter_strips(plan, BAND_M[0], BAND_M[1], BAND_M[2], "brass", "band")
    solids += _door_solids(plan)
    solids += _showcase_trims(plan)
    solids += _feature_panels(plan)
    return solids


def cylinders(plan: HallPlan) -> list[Cylinder]:
    """The round things that block light: the turntables and the planters."""
    out = [Cylinder(d.center_m, d.radius_m, d.height_m) for d in plan.discs]
    out += [Cylinder((x, 0.0, z), PLANT_POT[0], PLANT_POT[1]) for x, z in plant_spots(plan)]
    return out


def _light_chunks(light: Light) -> list[Chunk]:
    """What a ceiling light looks like: a glowing panel in a thin frame (the car studio's: linear strips)."""
    x, y, z = light.center_m
    w, d = light.size_m
    down, north = (0.0, -1.0, 0.0), (0.0, 0.0, -1.0)
    frame = quad("trim", (x, y + 0.008, z), down, (w + 2 * LIGHT_FRAME_M, d + 2 * LIGHT_FRAME_M), up=north, step_m=0.6)
    rad = light.intensity
    if w >= 2.0 and d >= 2.0:
        strips = []
        share = w * d / (CAR_STRIPS * STRIP_WIDTH_M * d)  # the same light from less area: brighter strips
        for k in range(CAR_STRIPS):
            sx = x - w / 2 + (k + 0.5) * w / CAR_STRIPS
            strips.append(quad("light", (sx, y, z), down, (STRIP_WIDTH_M, d), up=north,
                               emit=tuple(v * share for v in rad)))
        frame = quad("ceiling", (x, y + 0.008, z), down, (w + 0.3, d + 0.3), up=north, step_m=0.6)
        return [frame, *strips]
    return [frame, quad("light", (x, y, z), down, (w, d), up=north, emit=rad)]


def _turntable_chunks(cyl: Cylinder) -> list[Chunk]:
    """A low brushed-metal cylinder with a glowing ring at its rim."""
    c = cyl.center_m
    r, top = cyl.radius_m, c[1] + cyl.height_m
    rim = 0.05
    segments = 120
    return [
        disc_top("turntable", c, 0.0, r - rim, top, segments=segments, step_m=0.3),
        disc_top("led", c, r - rim, r, top, segments=segments, step_m=1.0, emit=LED),
        cylinder_side("metal", c, r, c[1], top - 0.03, segments=segments),
        cylinder_side("led", c, r + 0.001, top - 0.03, top, segments=segments, emit=LED),
    ]


POSTERS = (
    Poster("gold", "金条 · 金币", "Gold bars & coins", "bars"),
    Poster("cars", "安心车贷", "Car loans, simply", "car"),
)
POSTER_X_M = 7.0
POSTER_Y_M = 1.75


def poster_spots(plan: HallPlan) -> list[tuple[Poster, tuple[float, float, float], tuple[float, float, float]]]:
    """The posters on the inside of the south wall, one each side of the entrance (centre, normal)."""
    z = plan.max_m[2] - 0.006
    return [(POSTERS[0], (-POSTER_X_M, POSTER_Y_M, z), (0.0, 0.0, -1.0)),
            (POSTERS[1], (POSTER_X_M, POSTER_Y_M, z), (0.0, 0.0, -1.0))]


PLANT_POT = (0.26, 0.55)
"""Radius, height of a planter."""
PLANT_BALL_M = 0.36
PLANT_INSET_M = 0.55
"""How far a corner planter stands from both walls."""


def plant_spots(plan: HallPlan) -> list[tuple[float, float]]:
    """Where clipped boxwood planters stand (x, z): the hall's corners and both sides of each door, inside."""
    (x0, _, z0), (x1, _, z1) = plan.min_m, plan.max_m
    i = PLANT_INSET_M
    spots = [(x0 + i, z1 - i), (x1 - i, z1 - i), (x1 - i, z0 + i)]
    for d in plan.doors:
        spots += [(d.min_m[0] - 0.7, z1 - i), (d.max_m[0] + 0.7, z1 - i)]
    return spots


def _plant_chunks(x: float, z: float) -> list[Chunk]:
    r, h = PLANT_POT
    c = (x, 0.0, z)
    ball = PLANT_BALL_M
    return [
        cylinder_side("metal", c, r, 0.0, h, segments=36),
        disc_top("brass", c, r - 0.025, r, h, segments=36, step_m=1.0),
        disc_top("wood", c, 0.0, r - 0.025, h - 0.03, segments=36, step_m=1.0),
        cylinder_side("wood", c, 0.025, h - 0.03, 1.3 - ball * 0.8, segments=8),
        sphere("leaves", (x, 1.3, z), ball, rings=12, segments=20),
        sphere("leaves", (x + 0.05, 1.3 + ball * 0.95, z - 0.03), ball * 0.62, rings=10, segments=16),
    ]


def _outside_chunks(plan: HallPlan) -> list[Chunk]:
    """The street beyond the glass doors: pavement and a bright daylight backdrop (fixed colours)."""
    z1 = plan.max_m[2] + 0.2
    depth, half_w, height = 22.0, 45.0, 26.0
    pave = quad("outside", (0.0, 0.0, z1 + depth / 2), (0.0, 1.0, 0.0), (2 * half_w, depth), up=(0.0, 0.0, -1.0),
                step_m=3.0, emit=PAVEMENT)
    # a darker kerb line and road beyond the pavement
    road = quad("outside", (0.0, 0.002, z1 + depth * 0.75), (0.0, 1.0, 0.0), (2 * half_w, depth * 0.5),
                up=(0.0, 0.0, -1.0), step_m=3.0, emit=tuple(v * 0.55 for v in PAVEMENT))
    back = quad("outside", (0.0, height / 2 - 1.0, z1 + depth), (0.0, 0.0, -1.0), (2 * half_w, height), step_m=2.0)
    t = np.clip((back.positions[:, 1] - 0.0) / (height * 0.7), 0, 1)[:, None]
    back.emit = (1 - t) * np.asarray(DAYLIGHT[0]) + t * np.asarray(DAYLIGHT[1])
    return [pave, road, back]


def hall_chunks(plan: HallPlan) -> list[Chunk]:
    """Every piece of the hall, one material each (merge by material before writing)."""
    solids = hall_solids(plan)
    cyls = cylinders(plan)
    cyl_tuples = [c.as_tuple() for c in cyls]
    chunks: list[Chunk] = []
    for s in solids:
        chunk = box_chunk(s, solids, plan.min_m, plan.max_m, MATERIALS[s.material].repeat_m)
        if chunk is None:
            continue
        chunk = cull_buried(chunk, [o for o in solids if o is not s], cyl_tuples)
        if len(chunk.faces):
            chunks.append(chunk)
    for d in plan.discs:
        chunks += _turntable_chunks(Cylinder(d.center_m, d.radius_m, d.height_m))
    for x, z in plant_spots(plan):
        chunks += _plant_chunks(x, z)
    for light in plan.lights:
        chunks += _light_chunks(light)
    chunks += [sign_chunk(s) for s in plan.signs]
    chunks += [poster_chunk(p, c, n) for p, c, n in poster_spots(plan)]
    chunks += [ruler_chunk(s) for s in plan.stands]
    chunks += _outside_chunks(plan)
    return [compact(c) for c in chunks if len(c.faces)]


def occluder_boxes(plan: HallPlan, solids: Iterable[Solid]) -> list[tuple[tuple[float, ...], tuple[float, ...]]]:
    """The boxes that block light in the bake: every opaque solid thicker than 3 cm in each direction... of the
    ones that matter (thin trims, bands and skirting are left out: their shadows are smaller than a cell)."""
    out = []
    for s in solids:
        if not s.opaque:
            continue
        size = np.subtract(s.max_m, s.min_m)
        if float(size.min()) < 0.03 and s.id not in ("floor", "ceiling"):
            continue
        out.append((tuple(s.min_m), tuple(s.max_m)))
    return out
