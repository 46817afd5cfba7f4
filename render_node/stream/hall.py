"""The hall stream (hello `"mode": "hall"`): the customer walks the bank hall; poses in, stereo frames out.

A `HallSession` is a `PoseSession` (the same frame loop, newest-pose-wins slot, encoders, adaptive quality and
frame header) whose frames are hall frames (`render_node.hall.scene`), rendered with the hello's field of view
plus `overscan_deg` on each side so the client can reproject a turned head without a black edge. Each session
keeps its own customer: the rig's floor point and facing, the focused product, the car sat in, the cars' yaws.
The rules (`render_node.hall.walkable`, `.picking`) decide where the customer may stand and what a ray hits;
the control messages (teleport, pick, focus, turn, unfocus, sit, stand_up) are answered by `handle`.

The digital guide (when the asset build wrote `<assets>/guide/guide.glb`) is per session too: it stands at the
plan's `guide_m`, walks to a zone on `guide_walk` (`render_node.hall.guide_walk`: the path, its pose at a time),
the customer's rig following when asked (node-side corrections, never the client's word), moves its lips on
`guide_say`, and is drawn in every frame at its pose at the frame's start (its state: render_node/stream/hall_guide.py).

`HallService` is the node's one hall: the plan, the catalog, the files the asset build wrote, the scene (shared:
it holds the live prices and the gold price series), the price refresh (at most every `PRICE_REFRESH_S`) and the
first render that loads the hall on the workers. No aiohttp here (the handler owns the socket).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import showroom_protocol as protocol
from showroom_protocol import Hello, Pose, ProtocolError
from showroom_protocol.hall import Focus as FocusMessage
from showroom_protocol.hall import (
    GuideReset,
    GuideSay,
    GuideWalk,
    HallMessage,
    Pick,
    Sit,
    StandUp,
    Teleport,
    Turn,
    Unfocus,
)

from render_node.errors import NodeError
from render_node.guide.character.build import guide_paths
from render_node.hall import guide_walk
from render_node.hall.files import hall_paths
from render_node.hall.layout import EYE_HEIGHT_M, HallPlan, Vec3, hall_plan
from render_node.hall.picking import HallPicker
from render_node.hall.scene import (
    CAR_TURN_DEG_PER_S,
    Focus,
    HallFilesLike,
    HallScene,
    ModelSource,
)
from render_node.hall.walkable import HallFloor, door_point_m, seat_eye_m
from render_node.metrics import NodeMetrics
from render_node.pool import PRIORITY_LIVE, RenderPool
from render_node.render.types import CameraPose, Intrinsics, PoseView, RenderRequest
from render_node.stream._socket import Socket
from render_node.stream.hall_guide import SessionGuide
from render_node.stream.pose import PoseSession
from render_node.stream.registry import StreamLimits
from showroom.catalog import Catalog
from showroom.errors import NotFound

if TYPE_CHECKING:
    from render_node.prices import CatalogPrices

log = logging.getLogger(__name__)

LEAN_M = 0.35
"""How far the head may lean beyond the walkable floor (over a counter) before the node corrects it."""
SEATED_LEAN_M = 0.35
CORRECTED_EVERY_S = 0.5
"""At most two `corrected` messages a second."""
FOLLOW_CORRECTED_EVERY_S = 0.2
"""While the customer follows the guide, the rig is moved five times a second (the frames are drawn from the
follow point whatever the client sends)."""
PRICE_REFRESH_S = 3.0
HALL_RENDER_TIMEOUT_S = 60.0
"""A hall frame's render limit: the first frame on a worker loads the hall and every product model."""
WARM_TIMEOUT_S = 120.0


class HallNotBuilt(NodeError):
    code = "hall_not_built"
    http_status = 503


class HallService:
    """The node's hall, shared by its hall sessions (built once, on the first hall hello)."""

    def __init__(self, catalog: Catalog, models: ModelSource, prices: CatalogPrices, assets_dir: Path, *,
                 plan: HallPlan | None = None,
                 files: Callable[[Path], HallFilesLike] | None = None) -> None:
        self.catalog = catalog
        self.models = models
        self.prices = prices
        self.assets_dir = assets_dir
        self.plan = plan or hall_plan()
        self._files_of = files
        self._scene: HallScene | None = None
        self._refreshed_at = -math.inf
        self._refresh: asyncio.Task[None] | None = None
        self._warm: asyncio.Task[None] | None = None

    @property
    def scene(self) -> HallScene:
        """The scene; raises HallNotBuilt when the asset build has not written hall.glb."""
        if self._scene is None:
            if self._files_of is not None:
                files = self._files_of(self.assets_dir)
            else:
                files = hall_paths(self.assets_dir)
            if not files.glb.is_file():
                raise HallNotBuilt(f"the hall is not built ({files.glb} is missing): run `showroom assets build`")
            self._scene = HallScene(self.plan, self.catalog, self.models, files)
        return self._scene

    def guide_glb(self) -> Path | None:
        """The guide's model file when the asset build wrote it (a stat: a guide built later shows up in the
        next session), else None: the hall without a guide."""
        path = guide_paths(self.assets_dir).glb
        return path if path.is_file() else None

    def welcome_zones(self) -> list[dict[str, Any]]:
        return [{"id": z.id, "zh": z.zh, "en": z.en, "point": [z.point_m[0], 0.0, z.point_m[2]],
                 "yaw_deg": z.yaw_deg} for z in self.plan.zones]

    def refresh_prices(self) -> None:
        """Starts one price refresh when the last is older than PRICE_REFRESH_S (never waits for it)."""
        now = time.monotonic()
        if self._refresh is not None or now - self._refreshed_at < PRICE_REFRESH_S:
            return
        self._refreshed_at = now
        self._refresh = asyncio.get_running_loop().create_task(self._refresh_prices())
        self._refresh.add_done_callback(self._refresh_done)

    def _refresh_done(self, task: asyncio.Task[None]) -> None:
        self._refresh = None

    async def _refresh_prices(self) -> None:
        try:
            table = await self.prices.prices()
        except Exception:  # the port promises not to raise; a bug there must not stop the hall
            log.exception("hall prices failed")
            return
        self.scene.set_prices(table)

    def preload_request(self) -> RenderRequest:
        """A small frame from the welcome point. Every hall frame holds the hall, every product in its slot and
        every panel, so rendering this one loads them all on a worker."""
        z = self.plan.zone(self.plan.zones[0].id)
        half = math.radians(z.yaw_deg) / 2
        view = PoseView(CameraPose((z.point_m[0], EYE_HEIGHT_M, z.point_m[2]), (0.0, math.sin(half), 0.0,
                                                                                 math.cos(half))),
                        Intrinsics.from_fov(90.0, 64, 64))
        return self.scene.request(view, (64, 64), head_m=(z.point_m[0], EYE_HEIGHT_M, z.point_m[2]))

    async def warm(self, pool: RenderPool, request: RenderRequest) -> None:
        """Renders `request` once on every worker (concurrently), so the first frames of the first hall session
        do not load the hall and every product model under the live frame timeout. Done once per node."""
        if self._warm is None:
            async def warm_all() -> None:
                t0 = time.perf_counter()
                await asyncio.gather(*(pool.render(request, timeout_s=WARM_TIMEOUT_S, priority=PRIORITY_LIVE)
                                       for _ in range(max(1, pool.size))))
                log.info("hall loaded on %d render workers in %.1f s", max(1, pool.size), time.perf_counter() - t0)

            self._warm = asyncio.get_running_loop().create_task(warm_all())
        try:
            await asyncio.shield(self._warm)
        except Exception:
            self._warm = None  # the next session tries again
            raise

    async def close(self) -> None:
        for task in (self._refresh, self._warm):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task


@dataclass
class _Customer:
    """Where this session's customer is: the rig's floor point and facing, and what they are doing."""

    position_m: Vec3
    yaw_deg: float
    seated: str | None = None
    focus: Focus | None = None


class Refused(Exception):
    """A hall request the rules refuse; answered `{"type": "refused", "id", "code", "message"}`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class HallSession(PoseSession):
    """A hall stream: the PoseSession frame loop with hall frames and the customer's state."""

    def __init__(self, ws: Socket, session_id: str, hello: Hello, hall: HallService, pool: RenderPool,
                 metrics: NodeMetrics, limits: StreamLimits, peers: Callable[[], int] = lambda: 1) -> None:
        scene = hall.scene
        super().__init__(ws, session_id, hello, scene.files.glb, (), "counter", pool, metrics,
                         replace(limits, render_timeout_s=max(limits.render_timeout_s, HALL_RENDER_TIMEOUT_S)),
                         peers=peers)
        self.hall = hall
        self.scene = scene
        self.plan = hall.plan
        try:
            zone = self.plan.zone(hello.start)
        except KeyError:
            raise ProtocolError(f"hello.start: no zone {hello.start!r} (zones: "
                                f"{', '.join(z.id for z in self.plan.zones)})", protocol.CLOSE_BAD_HELLO) from None
        self.customer = _Customer(zone.point_m, zone.yaw_deg)
        self._car_yaws = {s.product: s.yaw_deg for s in self.plan.slots if s.on_turntable is not None}
        self._cars_at = time.monotonic()
        self._floor_key: tuple[tuple[str, float], ...] | None = None
        self._floor: HallFloor | None = None
        self._head_checked: tuple[Vec3, Vec3 | None] | None = None
        self._corrected: Vec3 | None = None
        self._corrected_sent_at = -math.inf
        self.head_m: Vec3 = (zone.point_m[0], EYE_HEIGHT_M, zone.point_m[2])
        self.clock: Callable[[], float] = time.monotonic
        self.guide = SessionGuide(self.plan, hall.guide_glb(), lambda: self.clock())
        self._corrected_follow = False
        """The pending correction is the follow's (sent with the rig's yaw)."""

    # -- the world of this customer -------------------------------------------------------------------------
    def car_yaws(self) -> dict[str, float]:
        """The cars' yaws now: an unattended car turns slowly; it stands still while the customer is in the car
        studio, sits in a car or looks at one (so the floor around it stays where it was)."""
        now = time.monotonic()
        dt, self._cars_at = now - self._cars_at, now
        zone = self.plan.zone_at(self.head_m[0], self.head_m[2])
        attended = (self.customer.seated is not None or (zone is not None and zone.id == "car_studio")
                    or (self.customer.focus is not None and self.customer.focus.product in self._car_yaws))
        if not attended:
            for pid in self._car_yaws:
                self._car_yaws[pid] = (self._car_yaws[pid] + CAR_TURN_DEG_PER_S * dt) % 360.0
        return dict(self._car_yaws)

    def floor(self) -> HallFloor:
        key = tuple(sorted((k, round(v, 2)) for k, v in self._car_yaws.items()))
        if self._floor is None or key != self._floor_key:
            self._floor = HallFloor.of(self.plan, self.hall.catalog, dict(key))
            self._floor_key = key
        return self._floor

    # -- poses ----------------------------------------------------------------------------------------------
    def _allowed_head(self, head: Vec3) -> Vec3:
        if self.customer.seated is not None:
            eye, _ = seat_eye_m(self.plan, self.customer.seated, self._car_yaws.get(self.customer.seated))
            dx, dz = head[0] - eye[0], head[2] - eye[2]
            d = math.hypot(dx, dz)
            if d <= SEATED_LEAN_M:
                return head
            return (eye[0] + dx / d * SEATED_LEAN_M, head[1], eye[2] + dz / d * SEATED_LEAN_M)
        floor = self.floor()
        if floor.is_walkable(head[0], head[2]):
            return head
        x, z = floor.allowed_head(head[0], head[2], LEAN_M)
        return (x, head[1], z)

    def _follow(self, y_m: float) -> Vec3 | None:
        """The head's place while the customer follows the guide (None: not following)."""
        at = self.guide.follow()
        if at is None:
            return None
        (x, z), yaw = at
        self.customer.position_m, self.customer.yaw_deg = (x, 0.0, z), yaw
        self._corrected_follow = True
        return (x, y_m, z)

    def offer(self, pose: Pose) -> None:
        """Checks the head against the walkable area (leaning `LEAN_M` is fine) and stores the pose, moved to the
        nearest allowed point when it is not; `take_correction` then says where. While the customer follows
        the guide, the head is where the follow puts it."""
        head = pose.position_m
        y = min(max(head[1], 0.3), 2.5)
        head = (head[0], y, head[2])
        follow = self._follow(y)
        if follow is not None:
            self._corrected = follow
            self.head_m = follow
            self._head_checked = None
            super().offer(Pose(pose.seq, pose.t, follow, pose.orientation_xyzw))
            return
        checked = self._head_checked
        if checked is not None and checked[0] == head:
            allowed = checked[1] or head
        else:
            allowed = self._allowed_head(head)
            self._head_checked = (head, None if allowed == head else allowed)
        if allowed != pose.position_m:
            if allowed[0] != head[0] or allowed[2] != head[2]:
                self._corrected = allowed
            pose = Pose(pose.seq, pose.t, allowed, pose.orientation_xyzw)
        self.head_m = pose.position_m
        super().offer(pose)

    def take_correction(self) -> dict[str, Any] | None:
        """The `corrected` message to send now, if the head was moved and none went out in the last half second."""
        told = self.guide.news()
        if told is not None:
            return told
        if self._corrected is None:
            return None
        now = time.monotonic()
        following = self.guide.following or self._corrected_follow
        if now - self._corrected_sent_at < (FOLLOW_CORRECTED_EVERY_S if following else CORRECTED_EVERY_S):
            return None
        self._corrected_sent_at = now
        position, self._corrected = self._corrected, None
        self._corrected_follow = False
        msg: dict[str, Any] = {"type": "corrected", "position": [round(c, 4) for c in position]}
        if following:
            msg["yaw_deg"] = round(self.customer.yaw_deg, 3)
            msg["follow"] = True
        return msg

    def request_for(self, pose: Pose) -> RenderRequest:
        view, (w, h) = self.view_for(pose, self.hello.render_fov_deg)
        return self.scene.request(view, (w, h), head_m=pose.position_m, focus=self.customer.focus,
                                  car_yaws=self.car_yaws(), guide=self.guide.figure())

    def start_request(self) -> RenderRequest:
        """The frame of the start pose (the rig's point, eye height, facing its zone): the warm-up render."""
        c = self.customer
        half = math.radians(c.yaw_deg) / 2
        return self.request_for(Pose(0, 0.0, (c.position_m[0], EYE_HEIGHT_M, c.position_m[2]),
                                     (0.0, math.sin(half), 0.0, math.cos(half))))

    # -- the welcome ----------------------------------------------------------------------------------------
    def welcome_block(self) -> dict[str, Any]:
        c = self.customer
        zone = self.plan.zone_at(c.position_m[0], c.position_m[2])
        return {"version": protocol.HALL_VERSION, "render_fov_deg": self.hello.render_fov_deg,
                "overscan_deg": self.hello.overscan_deg, "position": [c.position_m[0], 0.0, c.position_m[2]],
                "yaw_deg": c.yaw_deg, "zone": zone.id if zone else None, "eye_height_m": EYE_HEIGHT_M,
                "zones": self.hall.welcome_zones(), "guide": self.guide.block(),
                "attract_path": [{"point": list(p), "yaw_deg": yaw} for p, yaw in self.plan.attract_path]}

    # -- control messages -----------------------------------------------------------------------------------
    def handle(self, msg: HallMessage) -> dict[str, Any] | None:
        """The reply to one hall message (None: no reply); a refusal becomes a `refused` reply."""
        rid = getattr(msg, "id", None)
        try:
            if isinstance(msg, Teleport):
                return self._teleport(msg)
            if isinstance(msg, Pick):
                return self._pick(msg)
            if isinstance(msg, FocusMessage):
                return self._focus(msg)
            if isinstance(msg, Turn):
                if self.customer.focus is None:
                    raise Refused("not_focused", "turn needs a focused product (send focus first)")
                self.customer.focus = replace(self.customer.focus, turn_deg=msg.yaw_deg)
                return None
            if isinstance(msg, Unfocus):
                self.customer.focus = None
                return {"type": "unfocused", **({"id": msg.id} if msg.id is not None else {})}
            if isinstance(msg, Sit):
                return self._sit(msg)
            if isinstance(msg, StandUp):
                return self._stand_up(msg)
            if isinstance(msg, GuideWalk | GuideReset | GuideSay):
                return self._guide(msg)
        except Refused as exc:
            reply: dict[str, Any] = {"type": "refused", "code": exc.code, "message": exc.message}
            if rid is not None:
                reply["id"] = rid
            return reply
        raise AssertionError(f"unhandled hall message {msg!r}")

    def _teleported(self, rid: int, position: Vec3, yaw_deg: float, eye: Vec3 | None = None) -> dict[str, Any]:
        self.guide.following = False  # a teleport (or sitting down) leaves the guide's walk
        self._corrected = None
        c = self.customer
        c.position_m, c.yaw_deg = position, yaw_deg
        head = eye or (position[0], EYE_HEIGHT_M, position[2])
        self.head_m = head
        self._head_checked = None
        zone = self.plan.zone_at(head[0], head[2])
        return {"type": "teleported", "id": rid, "position": [round(v, 4) for v in position],
                "yaw_deg": round(yaw_deg, 3), "zone": zone.id if zone else None, "seated": c.seated,
                "eye": [round(v, 4) for v in head]}

    def _teleport(self, msg: Teleport) -> dict[str, Any]:
        self.car_yaws()  # bring the cars up to now before testing the floor around them
        if msg.to is not None:
            try:
                zone = self.plan.zone(msg.to)
            except KeyError:
                raise Refused("unknown_zone", f"no zone {msg.to!r}; zones: "
                                              f"{', '.join(z.id for z in self.plan.zones)}") from None
            self.customer.seated = None
            x, z = zone.point_m[0], zone.point_m[2]
            floor = self.floor()
            if not floor.is_walkable(x, z):  # a car turned over the zone's point: the nearest free floor
                x, z = floor.nearest_walkable(x, z)
            return self._teleported(msg.id, (x, 0.0, z), zone.yaw_deg if msg.yaw_deg is None else msg.yaw_deg)
        assert msg.point_m is not None
        x, _, z = msg.point_m
        floor = self.floor()
        if not floor.is_walkable(x, z):
            what = floor.blocked_by(x, z)
            where = ("outside the hall" if what == "outside" else "behind the counter (staff only)"
                     if what == "staff-area" else f"too close to {what}")
            raise Refused("not_walkable", f"({x:.2f}, {z:.2f}) is not walkable: {where}")
        self.customer.seated = None
        return self._teleported(msg.id, (x, 0.0, z), self.customer.yaw_deg if msg.yaw_deg is None else msg.yaw_deg)

    def _pick(self, msg: Pick) -> dict[str, Any]:
        self.car_yaws()
        hit = HallPicker(self.plan, self.floor(), self.hall.catalog).pick(msg.origin_m, msg.direction)
        return {"type": "picked", "id": msg.id, "hit": None if hit is None else hit.to_json()}

    def _focus(self, msg: FocusMessage) -> dict[str, Any]:
        catalog = self.hall.catalog
        try:
            product = catalog.get(msg.product)
            variant = product.variant(msg.variant)
        except NotFound as exc:
            raise Refused(exc.code, exc.message) from None
        if not self.scene.has_product(product.id):
            raise Refused("not_in_hall", f"{product.id} is not shown in the hall")
        slot = self.plan.slot_of(product.id)
        stand = self.scene.stand_for(product.id)
        self.customer.focus = Focus(product.id, variant.id)
        if stand is None:  # a car: looked at full size on its turntable, from beside it
            yaws = self.car_yaws()
            x, z = door_point_m(self.floor(), catalog, product.id, yaws.get(product.id))
            view_yaw = math.degrees(math.atan2(-(slot.position_m[0] - x), -(slot.position_m[2] - z)))
            zone = self.plan.zone_at(slot.position_m[0], slot.position_m[2])
            return {"type": "focused", "id": msg.id, "product": product.id, "variant": variant.id,
                    "zone": zone.id if zone else None, "scale": 1.0, "view_point": [round(x, 4), 0.0, round(z, 4)],
                    "view_yaw_deg": round(view_yaw, 3),
                    "show_point": [slot.position_m[0], slot.position_m[1] + 0.7, slot.position_m[2]]}
        scale = self.scene.magnification(product.id, stand)
        height_m = float(product.dimensions_mm[1]) / 1000 * scale if product.dimensions_mm else 0.1
        return {"type": "focused", "id": msg.id, "product": product.id, "variant": variant.id, "zone": stand.zone,
                "scale": round(scale, 4),
                "view_point": [stand.view_point_m[0], 0.0, stand.view_point_m[2]],
                "view_yaw_deg": stand.view_yaw_deg,
                "show_point": [stand.top_m[0], round(stand.top_m[1] + height_m / 2, 4), stand.top_m[2]]}

    def _sit(self, msg: Sit) -> dict[str, Any]:
        if not any(s.product == msg.product for s in self.plan.seats):
            raise Refused("no_seat", f"{msg.product} is not a car one can sit in here")
        yaws = self.car_yaws()
        eye, yaw = seat_eye_m(self.plan, msg.product, yaws.get(msg.product))
        self.customer.seated = msg.product
        return self._teleported(msg.id, (eye[0], eye[1] - EYE_HEIGHT_M, eye[2]), yaw, eye)

    def _stand_up(self, msg: StandUp) -> dict[str, Any]:
        car = self.customer.seated
        if car is None:
            raise Refused("not_seated", "stand_up needs the customer to sit in a car first")
        x, z = door_point_m(self.floor(), self.hall.catalog, car, self._car_yaws.get(car))
        slot = self.plan.slot_of(car)
        self.customer.seated = None
        yaw = math.degrees(math.atan2(-(slot.position_m[0] - x), -(slot.position_m[2] - z)))
        return self._teleported(msg.id, (x, 0.0, z), yaw)

    # -- the guide ------------------------------------------------------------------------------------------
    def _guide(self, msg: GuideWalk | GuideReset | GuideSay) -> dict[str, Any]:
        if self.guide.glb is None:
            raise Refused("no_guide", "this node has no guide character (run `showroom assets build`)")
        follow = isinstance(msg, GuideWalk) and msg.follow and self.customer.seated is None
        customer = (self.customer.position_m[0], self.customer.position_m[2]) if follow else None
        if not isinstance(msg, GuideSay):
            self._corrected_follow = False

        def floor() -> HallFloor:
            self.car_yaws()  # bring the cars up to now before finding the path round them
            return self.floor()

        try:
            return self.guide.handle(msg, floor, customer)
        except KeyError:
            raise Refused("unknown_zone", f"no zone {getattr(msg, 'to', '')!r}; zones: "
                                          f"{', '.join(z.id for z in self.plan.zones)}") from None
        except guide_walk.NoPath as exc:
            raise Refused("no_path", f"the guide cannot reach {getattr(msg, 'to', '')}: {exc}") from None
