"""Where a customer may stand in the hall: the floor inside the walls, minus every solid thing and the staff areas.

    floor = HallFloor.of(hall_plan(), catalog)          # the cars at their slots' yaw
    floor.is_walkable(-8.4, 0.2)                         # True: in front of the gold counter
    floor.nearest_walkable(-9.6, 0.2)                    # (-9.1, 0.2): pushed out of the showcase
    floor.head_allowed(-9.3, 0.2)                        # True: leaning 0.2 m over the counter is fine

The body is a disc of `layout.BODY_RADIUS_M` on the floor: a point is walkable when that disc touches no solid box
of the plan (walls, counters, showcases, doors, furniture), no car (the catalog's width and length of the car,
turned by its yaw on the turntable: an oriented rectangle, so the rest of the turntable stays walkable, to walk
around the car at full size), and lies in no staff area. The head may lean `lean_m` beyond that (over a counter);
sitting in a car is the one place off the floor (`seat_eye_m`). Plain maths on numpy arrays; no I/O, no GL.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from render_node.hall.layout import BODY_RADIUS_M, EYE_HEIGHT_M, HallPlan, Seat, Vec3
from showroom.catalog import Catalog
from showroom.errors import NotFound

FloorPoint = tuple[float, float]
"""(x, z) in metres."""
F64 = npt.NDArray[np.float64]

DEFAULT_CAR_SIZE_M = (1.9, 4.8)
"""Width and length of a car whose catalog entry has no dimensions."""
_EPS_M = 0.005
_BODY_HEIGHT_M = EYE_HEIGHT_M + 0.2
"""Boxes entirely above this (a lintel, a screen above the sofa) do not block walking."""


@dataclass(frozen=True)
class Footprint:
    """An obstacle on the floor: a rectangle of half sizes `half_m` (its local x, z) centred at `center_m`, turned
    by `yaw_deg` about +Y (counter-clockwise seen from above, as the plan's yaws)."""

    id: str
    center_m: FloorPoint
    half_m: FloorPoint
    yaw_deg: float = 0.0


def rotate_yaw(x: float, z: float, yaw_deg: float) -> FloorPoint:
    """(x, z) of a vector in a frame turned by `yaw_deg` about +Y, in world axes (yaw 90 takes -Z to -X)."""
    c, s = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    return (x * c + z * s, -x * s + z * c)


def car_size_m(catalog: Catalog, product_id: str) -> tuple[float, float, float]:
    """(width, height, length) of a car in metres from the catalog's `dimensions_mm`."""
    try:
        dims = catalog.get(product_id).dimensions_mm
    except NotFound:
        dims = None
    if dims is None:
        return (DEFAULT_CAR_SIZE_M[0], 1.5, DEFAULT_CAR_SIZE_M[1])
    return (float(dims[0]) / 1000, float(dims[1]) / 1000, float(dims[2]) / 1000)


def car_footprints(plan: HallPlan, catalog: Catalog, car_yaws: Mapping[str, float] | None = None
                   ) -> tuple[Footprint, ...]:
    """The footprint of every car on a turntable, at `car_yaws[product]` (default: its slot's yaw)."""
    out = []
    for slot in plan.slots:
        if slot.on_turntable is None:
            continue
        w, _, length = car_size_m(catalog, slot.product)
        yaw = (car_yaws or {}).get(slot.product, slot.yaw_deg)
        out.append(Footprint(f"car-{slot.product}", (slot.position_m[0], slot.position_m[2]), (w / 2, length / 2),
                             yaw))
    return tuple(out)


class HallFloor:
    """The walkable floor of one hall with its cars at given yaws (build another for other yaws: it is cheap)."""

    def __init__(self, plan: HallPlan, footprints: tuple[Footprint, ...], body_radius_m: float = BODY_RADIUS_M
                 ) -> None:
        self.plan = plan
        self.body_radius_m = body_radius_m
        self.footprints = footprints
        boxes = [b for b in plan.obstacles() + plan.doors if b.min_m[1] < _BODY_HEIGHT_M and b.max_m[1] > 0.02]
        shapes = [Footprint(b.id, ((b.min_m[0] + b.max_m[0]) / 2, (b.min_m[2] + b.max_m[2]) / 2),
                            ((b.max_m[0] - b.min_m[0]) / 2, (b.max_m[2] - b.min_m[2]) / 2)) for b in boxes]
        shapes += footprints
        self._ids = [s.id for s in shapes]
        self._cx = np.array([s.center_m[0] for s in shapes])
        self._cz = np.array([s.center_m[1] for s in shapes])
        self._hx = np.array([s.half_m[0] for s in shapes])
        self._hz = np.array([s.half_m[1] for s in shapes])
        self._cos = np.cos(np.radians([s.yaw_deg for s in shapes]))
        self._sin = np.sin(np.radians([s.yaw_deg for s in shapes]))
        r = body_radius_m
        self._lo = (plan.min_m[0] + r, plan.min_m[2] + r)
        self._hi = (plan.max_m[0] - r, plan.max_m[2] - r)
        self._staff = np.array([[a[0], a[1], b[0], b[1]] for a, b in plan.staff_areas]).reshape(-1, 4)

    @classmethod
    def of(cls, plan: HallPlan, catalog: Catalog, car_yaws: Mapping[str, float] | None = None) -> HallFloor:
        return cls(plan, car_footprints(plan, catalog, car_yaws))

    # -- the test -------------------------------------------------------------------------------------------
    def _local(self, x: F64, z: F64) -> tuple[F64, F64]:
        """Points (N,) -> their coordinates in every shape's frame, (N, M) each."""
        dx = x[:, None] - self._cx[None, :]
        dz = z[:, None] - self._cz[None, :]
        lx = dx * self._cos - dz * self._sin
        lz = dx * self._sin + dz * self._cos
        return lx, lz

    def walkable_mask(self, x: F64, z: F64) -> npt.NDArray[np.bool_]:
        """Points (N,) x, z -> (N,) bool: the body disc at each point touches nothing."""
        inside = (x >= self._lo[0]) & (x <= self._hi[0]) & (z >= self._lo[1]) & (z <= self._hi[1])
        lx, lz = self._local(x, z)
        qx = np.abs(lx) - self._hx
        qz = np.abs(lz) - self._hz
        outside = np.hypot(np.maximum(qx, 0.0), np.maximum(qz, 0.0))
        sdf = outside + np.minimum(np.maximum(qx, qz), 0.0)
        clear = np.all(sdf >= self.body_radius_m, axis=1) if sdf.shape[1] else np.ones(len(x), bool)
        s = self._staff
        staff = np.any((x[:, None] >= s[None, :, 0]) & (x[:, None] <= s[None, :, 2])
                       & (z[:, None] >= s[None, :, 1]) & (z[:, None] <= s[None, :, 3]), axis=1)
        return inside & clear & ~staff  # type: ignore[no-any-return]

    def is_walkable(self, x_m: float, z_m: float) -> bool:
        if not (math.isfinite(x_m) and math.isfinite(z_m)):
            return False
        return bool(self.walkable_mask(np.array([x_m]), np.array([z_m]))[0])

    def blocked_by(self, x_m: float, z_m: float) -> str | None:
        """The id of what keeps the body from standing at (x, z) ("outside", "staff-area", a box or a car), or None."""
        if not (self._lo[0] <= x_m <= self._hi[0] and self._lo[1] <= z_m <= self._hi[1]):
            return "outside"
        lx, lz = self._local(np.array([x_m]), np.array([z_m]))
        qx = np.abs(lx[0]) - self._hx
        qz = np.abs(lz[0]) - self._hz
        sdf = np.hypot(np.maximum(qx, 0.0), np.maximum(qz, 0.0)) + np.minimum(np.maximum(qx, qz), 0.0)
        if len(sdf) and sdf.min() < self.body_radius_m:
            return self._ids[int(np.argmin(sdf))]
        if not self.is_walkable(x_m, z_m):
            return "staff-area"
        return None

    # -- the nearest good point -----------------------------------------------------------------------------
    def _pushed_out(self, x_m: float, z_m: float) -> list[FloorPoint]:
        """Candidates: (x, z) pushed just outside each inflated shape, each staff area, and into the hall."""
        r = self.body_radius_m + _EPS_M
        out: list[FloorPoint] = [(min(max(x_m, self._lo[0] + _EPS_M), self._hi[0] - _EPS_M),
                                  min(max(z_m, self._lo[1] + _EPS_M), self._hi[1] - _EPS_M))]
        lxs, lzs = self._local(np.array([x_m]), np.array([z_m]))
        for i in range(len(self._ids)):
            lx, lz, hx, hz = float(lxs[0, i]), float(lzs[0, i]), float(self._hx[i]), float(self._hz[i])
            nx, nz = min(max(lx, -hx), hx), min(max(lz, -hz), hz)
            dx, dz = lx - nx, lz - nz
            d = math.hypot(dx, dz)
            if d >= r:
                continue
            if d > 1e-9:
                pushes = [(nx + dx / d * r, nz + dz / d * r)]
            else:  # inside: out through each of the four sides (the nearest may lead into something else)
                pushes = [(hx + r, lz), (-hx - r, lz), (lx, hz + r), (lx, -hz - r)]
            c, s = float(self._cos[i]), float(self._sin[i])
            out += [(float(self._cx[i]) + px * c + pz * s, float(self._cz[i]) - px * s + pz * c) for px, pz in pushes]
        for x0, z0, x1, z1 in self._staff:
            if x0 <= x_m <= x1 and z0 <= z_m <= z1:
                out += [(x0 - _EPS_M, z_m), (x1 + _EPS_M, z_m), (x_m, z0 - _EPS_M), (x_m, z1 + _EPS_M)]
        return out

    def nearest_walkable(self, x_m: float, z_m: float) -> FloorPoint:
        """The walkable point nearest to (x, z): (x, z) itself when walkable; exact when one push out of the shape
        in the way lands on free floor, else the nearest of a search grid (2 cm near, coarser further out)."""
        if not (math.isfinite(x_m) and math.isfinite(z_m)):
            x_m, z_m = self.plan.welcome_m[0], self.plan.welcome_m[2]
        if self.is_walkable(x_m, z_m):
            return (x_m, z_m)
        candidates = self._pushed_out(x_m, z_m)
        xs = np.array([c[0] for c in candidates])
        zs = np.array([c[1] for c in candidates])
        best = self._nearest_of(xs, zs, x_m, z_m)
        if best is not None and math.hypot(best[0] - x_m, best[1] - z_m) <= float(
                np.hypot(xs - x_m, zs - z_m).min()) + 1e-9:
            return best  # the shortest push out of what is in the way lands on free floor: exact
        # Several things in the way (a gap between two showcases, a corner): search a grid, no wider than the best
        # push found, for anything nearer.
        reach_m = 40.0 if best is None else math.hypot(best[0] - x_m, best[1] - z_m)
        for radius_m in (1.0, 4.0, 40.0):
            radius_m = min(radius_m, reach_m)
            step_m = max(0.02, radius_m / 100)
            gx, gz = np.meshgrid(np.arange(x_m - radius_m, x_m + radius_m + step_m, step_m),
                                 np.arange(z_m - radius_m, z_m + radius_m + step_m, step_m))
            found = self._nearest_of(gx.ravel(), gz.ravel(), x_m, z_m)
            if found is not None and (best is None or math.hypot(found[0] - x_m, found[1] - z_m)
                                      < math.hypot(best[0] - x_m, best[1] - z_m)):
                return found
            if radius_m >= reach_m:
                break
        return best if best is not None else (self.plan.welcome_m[0], self.plan.welcome_m[2])

    def _nearest_of(self, xs: F64, zs: F64, x_m: float, z_m: float) -> FloorPoint | None:
        """The walkable one of the points (xs, zs) nearest to (x, z); None when none is walkable."""
        ok = self.walkable_mask(xs, zs)
        if not ok.any():
            return None
        d = np.hypot(xs - x_m, zs - z_m)
        d[~ok] = np.inf
        i = int(np.argmin(d))
        return (float(xs[i]), float(zs[i]))

    def head_allowed(self, x_m: float, z_m: float, lean_m: float = 0.35) -> bool:
        """Whether a standing head at (x, z) is within `lean_m` of the walkable floor (leaning over a counter)."""
        nx, nz = self.nearest_walkable(x_m, z_m)
        return math.hypot(x_m - nx, z_m - nz) <= lean_m + 1e-9

    def allowed_head(self, x_m: float, z_m: float, lean_m: float = 0.35) -> FloorPoint:
        """(x, z) itself when the head is allowed there, else the point `lean_m` from the nearest walkable point
        towards (x, z): where the head is drawn instead."""
        nx, nz = self.nearest_walkable(x_m, z_m)
        d = math.hypot(x_m - nx, z_m - nz)
        if d <= lean_m + 1e-9:
            return (x_m, z_m)
        return (nx + (x_m - nx) / d * lean_m, nz + (z_m - nz) / d * lean_m)


# -- sitting in a car ----------------------------------------------------------------------------------------

def seat_eye_m(plan: HallPlan, product_id: str, car_yaw_deg: float | None = None) -> tuple[Vec3, float]:
    """The driver's eye point in the hall and the facing (yaw_deg) of a car at `car_yaw_deg` (default: its slot's
    yaw). KeyError when the car has no seat in the plan."""
    seat = _seat(plan, product_id)
    slot = plan.slot_of(product_id)
    yaw = slot.yaw_deg if car_yaw_deg is None else car_yaw_deg
    ox, oz = rotate_yaw(seat.offset_m[0], seat.offset_m[2], yaw)
    eye = (slot.position_m[0] + ox, slot.position_m[1] + seat.offset_m[1], slot.position_m[2] + oz)
    return eye, _wrap_deg(yaw + seat.yaw_deg + 180.0)


def door_point_m(floor: HallFloor, catalog: Catalog, product_id: str, car_yaw_deg: float | None = None
                 ) -> FloorPoint:
    """A walkable floor point beside the driver's door of a car: out from the seat's side of the car."""
    plan = floor.plan
    seat = _seat(plan, product_id)
    slot = plan.slot_of(product_id)
    yaw = slot.yaw_deg if car_yaw_deg is None else car_yaw_deg
    w, _, _ = car_size_m(catalog, product_id)
    side = math.copysign(w / 2 + floor.body_radius_m + 0.25, seat.offset_m[0] or -1.0)
    ox, oz = rotate_yaw(side, seat.offset_m[2], yaw)
    return floor.nearest_walkable(slot.position_m[0] + ox, slot.position_m[2] + oz)


def _seat(plan: HallPlan, product_id: str) -> Seat:
    for seat in plan.seats:
        if seat.product == product_id:
            return seat
    raise KeyError(product_id)


def _wrap_deg(angle_deg: float) -> float:
    a = math.fmod(angle_deg, 360.0)
    return a + 360.0 if a <= -180.0 else a - 360.0 if a > 180.0 else a
