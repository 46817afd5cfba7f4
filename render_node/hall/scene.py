"""The hall frame of one pose: the baked hall, the catalog's products in their slots, the live panels.

    scene = HallScene(hall_plan(), catalog, views, hall_paths(assets_dir))
    scene.set_prices(table, now_s=time.time())          # live prices (CatalogPrices port), every few seconds
    request = scene.request(view, (960, 1080), head_m=(x, y, z), focus=focus, car_yaws=yaws)

`request` is a `RenderRequest` of `hall.glb` (static, baked, unlit) with one `Placement` per product (and the
digital guide, `guide=GuideFigure(glb, pose)`: posed, where `guide_walk.pose_at` says it stands): its model
(the coarse LOD 2 when the slot is far from the head and the file exists), the default variant's materials, at
its slot's position and yaw, lit by its zone's reflection probe (the built-in "counter"/"car" light when the probe
file is missing). A focused product leaves its tray for the zone's presentation stand: magnified so its largest
dimension is `stand.display_size_m`, turned by the customer's `turn`, with a true-size copy beside the ruler; a
focused car stays at full size on its turntable. Panels carry the live prices (`¥ 6,352.80`, from `Decimal`),
the gold chart (the node's own record of the gold price since it started: the price port has no history, and
no number here is ever made up), the loan panel (the car's price and the catalog's finance terms), the notices
and the service buttons. No I/O but a stat of the LOD files (once per file); no aiohttp.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from render_node.hall.guide_walk import GuidePose
from render_node.hall.layout import HallPlan, Panel, Slot, Stand, Vec3
from render_node.render.types import (
    EnvFile,
    EnvName,
    MaterialOverride,
    ModelPose,
    PanelContent,
    PanelQuad,
    Placement,
    PoseView,
    RenderRequest,
    StereoView,
)
from showroom.catalog import Catalog, Product
from showroom.errors import NotFound

if TYPE_CHECKING:
    from render_node.prices import PriceTable

CAR_TURN_DEG_PER_S = 6.0
"""How fast an unattended car turns on its turntable."""
LOD_SPANS = ((2, 0.15), (1, 0.6))
"""(LOD level, below this span): a product whose largest dimension spans less than 0.15 of its distance is drawn
from its 1/16-triangle model, less than 0.6 from its 1/4 one, else in full (assets build writes the LODs)."""
"""Slots further than this from the head use the model's LOD 2 when it was built."""
CHART_POINTS = 240
"""The gold chart keeps this many recorded prices (a new one at most every `CHART_STEP_S`)."""
CHART_STEP_S = 30.0
FEN = Decimal("0.01")
GOLD_STAND_PROBE = "probe-stand"
GUIDE_HEIGHT_M = 1.7
GUIDE_ENV: EnvName = "studio"
"""The guide's light where no zone probe reaches (the entrance, the wealth corner)."""


class HallFilesLike(Protocol):
    """What the scene needs of `render_node.hall.files.HallFiles`: the hall model and the probe files."""

    @property
    def glb(self) -> Path: ...

    @property
    def probes(self) -> Mapping[str, Path]: ...


class ModelSource(Protocol):
    """What the scene needs of the view store: where a product's model is and how its variant is painted."""

    def model_path(self, product: Product) -> Path: ...

    def overrides(self, product: Product, variant: Any) -> tuple[MaterialOverride, ...]: ...


@dataclass(frozen=True)
class GuideFigure:
    """The digital guide in a frame: its model file (`<assets>/guide/guide.glb`) and its pose now."""

    glb: Path
    pose: GuidePose


@dataclass(frozen=True)
class Focus:
    """A product lifted onto the stand (or, a car, looked at on its turntable), turned by `turn_deg`."""

    product: str
    variant: str
    turn_deg: float = 0.0


def format_cny(amount: Decimal) -> str:
    """`Decimal("6352.8")` -> `"¥ 6,352.80"` (to the fen, half up)."""
    return f"¥ {amount.quantize(FEN, rounding=ROUND_HALF_UP):,.2f}"


def yaw_matrix(position_m: Vec3, yaw_deg: float, scale: float = 1.0) -> tuple[float, ...]:
    """Row-major 4x4 model -> world: scale, turn by `yaw_deg` about +Y, then move to `position_m`."""
    c, s = math.cos(math.radians(yaw_deg)) * scale, math.sin(math.radians(yaw_deg)) * scale
    x, y, z = position_m
    return (c, 0.0, s, x,
            0.0, scale, 0.0, y,
            -s, 0.0, c, z,
            0.0, 0.0, 0.0, 1.0)


def _decimal(value: Any) -> Decimal | None:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


class GoldSeries:
    """The gold price (CNY per gram) as this node saw it, oldest first: what the wealth corner's chart shows."""

    def __init__(self, max_points: int = CHART_POINTS, step_s: float = CHART_STEP_S) -> None:
        self.step_s = step_s
        self._points: deque[tuple[float, Decimal]] = deque(maxlen=max_points)

    def record(self, t_s: float, cny_per_g: Decimal) -> None:
        if self._points and t_s - self._points[-1][0] < self.step_s:
            if self._points[-1][1] != cny_per_g:  # keep the newest price as the last point
                self._points[-1] = (self._points[-1][0], cny_per_g)
            return
        self._points.append((t_s, cny_per_g))

    @property
    def values(self) -> tuple[Decimal, ...]:
        return tuple(p for _, p in self._points)

    @property
    def since_s(self) -> float | None:
        return self._points[0][0] if self._points else None


def gold_price_of(table: PriceTable, gold_products: tuple[str, ...]) -> tuple[Decimal, str] | None:
    """The gold price per gram and its `price_as_of` from the first gold product with a fresh entry."""
    for pid in gold_products:
        for entry in table.get(pid, {}).values():
            price = _decimal(entry.get("metal_cny_per_g"))
            if price is not None and not entry.get("price_stale"):
                return price, str(entry.get("price_as_of", ""))
    return None


class HallScene:
    """Builds the `RenderRequest` of a pose in the hall; holds the live panel contents between price refreshes."""

    def __init__(self, plan: HallPlan, catalog: Catalog, models: ModelSource, files: HallFilesLike, *,
                 series: GoldSeries | None = None) -> None:
        self.plan = plan
        self.catalog = catalog
        self.models = models
        self.files = files
        self.series = series or GoldSeries()
        self._lod: dict[tuple[Path, int], Path | None] = {}
        self._slots = {s.product: s for s in plan.slots if _in_catalog(catalog, s.product)}
        self._gold = tuple(s.product for s in plan.slots if catalog_kind(catalog, s.product) == "gold_bar")
        self._table: PriceTable = {}
        self._as_of = ""
        self._panels: tuple[Hashable, tuple[PanelQuad, ...]] | None = None

    # -- prices ---------------------------------------------------------------------------------------------
    def set_prices(self, table: PriceTable, now_s: float | None = None) -> None:
        """Takes the port's newest table; records the gold price for the chart."""
        self._table = table
        gold = gold_price_of(table, self._gold)
        if gold is not None:
            self.series.record(time.time() if now_s is None else now_s, gold[0])
            self._as_of = gold[1]

    def price_of(self, product_id: str, variant_id: str) -> tuple[Decimal, bool] | None:
        """(price, stale) of a variant from the live table; None when the port has none."""
        entry = self._table.get(product_id, {}).get(variant_id)
        price = _decimal(entry.get("price_cny")) if entry else None
        if entry is None or price is None:
            return None
        return price, bool(entry.get("price_stale"))

    # -- panels ---------------------------------------------------------------------------------------------
    def panel_content(self, panel: Panel, focus: Focus | None) -> PanelContent:
        if panel.kind == "price_tag":
            return self._price_tag(panel.target, focus is not None and focus.product == panel.target)
        if panel.kind == "gold_chart":
            return self._gold_chart()
        if panel.kind == "loan":
            return self._loan(panel.target)
        if panel.kind == "notices":
            return PanelContent("notices", "公告", "Notices", (
                "价格随金价实时变动，下单时锁定", "Prices follow the live gold price and are locked when you order",
                "投资有风险，购买需谨慎", "Investments carry risk"))
        if panel.target == "call_advisor":
            return PanelContent("button", "呼叫理财顾问", "Call an advisor")
        if panel.target == "appointment":
            return PanelContent("button", "预约办理", "Book an appointment")
        return PanelContent("text", panel.target)

    def _price_tag(self, product_id: str, highlight: bool) -> PanelContent:
        try:
            product = self.catalog.get(product_id)
        except NotFound:
            return PanelContent("price_tag", lines=("—",), highlight=highlight)
        variant = product.variant(None)
        live = self.price_of(product.id, variant.id)
        if live is not None:
            lines = (format_cny(live[0]),) + (("价格待更新 · price not live",) if live[1] else ())
        elif variant.msrp_cny is not None:
            lines = (format_cny(variant.msrp_cny), "建议零售价 · list price")
        else:
            lines = ("暂无报价", "No price now")
        return PanelContent("price_tag", product.name.zh, product.name.en, lines, highlight=highlight)

    def _gold_chart(self) -> PanelContent:
        values = self.series.values
        if not values:
            return PanelContent("gold_chart", "今日金价", "Gold price (CNY/g)", ("暂无金价", "No gold price now"))
        since = self.series.since_s
        since_text = datetime.fromtimestamp(since).strftime("%H:%M") if since is not None else ""
        try:
            as_of = datetime.fromisoformat(self._as_of).astimezone().strftime("%H:%M:%S")
        except ValueError:
            as_of = ""
        lines = (f"{format_cny(values[-1])} /g", f"更新 as of {as_of}" if as_of else "",
                 f"本机记录自 {since_text} · recorded here since {since_text}")
        return PanelContent("gold_chart", "今日金价", "Gold price (CNY/g)", lines,
                            values=tuple(float(v) for v in values))

    def _loan(self, product_id: str) -> PanelContent:
        try:
            product = self.catalog.get(product_id)
        except NotFound:
            return PanelContent("loan", "汽车金融", "Car finance")
        variant = product.variant(None)
        live = self.price_of(product.id, variant.id)
        price = live[0] if live is not None else variant.msrp_cny
        lines: list[str] = [f"{product.name.zh} · {product.name.en}"]
        if price is not None:
            lines.append(f"售价 Price {format_cny(price)}")
            ratio = product.finance_min_down_payment_ratio
            if ratio is not None:
                lines.append(f"首付低至 Down payment from {ratio * 100:.0f}%: {format_cny(price * ratio)}")
        terms = product.finance_terms_months
        if terms:
            lines.append(f"期限 Terms {min(terms)}-{max(terms)} 个月 months")
        return PanelContent("loan", "汽车金融", "Car finance", tuple(lines))

    def panels(self, focus: Focus | None) -> tuple[PanelQuad, ...]:
        """Every live panel; the same tuple again until the prices or the focused product change."""
        key = (id(self._table), self.series.values[-1:], self.series.since_s, focus.product if focus else None)
        if self._panels is None or self._panels[0] != key:
            quads = tuple(PanelQuad(p.center_m, p.normal, p.size_m, self.panel_content(p, focus))
                          for p in self.plan.panels)
            self._panels = (key, quads)
        return self._panels[1]

    # -- placements -----------------------------------------------------------------------------------------
    def _env(self, zone_id: str | None, fallback: EnvName, probe_id: str | None = None) -> EnvName | EnvFile:
        probes = self.files.probes
        if probe_id is not None and probe_id in probes and probes[probe_id].is_file():
            return EnvFile(probes[probe_id])
        for probe in self.plan.probes:
            if probe.zone == zone_id and probe.id != GOLD_STAND_PROBE and probe.id in probes:
                path = probes[probe.id]
                if path.is_file():
                    return EnvFile(path)
        return fallback

    def _model(self, product: Product, position_m: Vec3, head_m: Vec3 | None) -> Path:
        """The model file to draw a product in its slot with: the coarsest LOD its size on screen allows (its
        largest dimension over its distance, a fraction of the view: a ring on a tray 1.5 m away is a few pixels,
        a car beside the customer fills the view); the full model when no LOD file was built."""
        path = self.models.model_path(product)
        if head_m is None:
            return path
        size_m = max((float(d) for d in product.dimensions_mm or ()), default=100.0) / 1000
        span = size_m / max(0.1, math.dist(position_m, head_m))
        level = next((lvl for lvl, most in LOD_SPANS if span < most), 0)
        if level == 0:
            return path
        key = (path, level)
        if key not in self._lod:
            from render_node.assets.build import lod_path  # trimesh behind it: imported when first needed

            coarse = lod_path(path, level)
            self._lod[key] = coarse if coarse.is_file() else None
        return self._lod[key] or path

    def _slot_placement(self, slot: Slot, head_m: Vec3 | None, car_yaws: Mapping[str, float]) -> Placement:
        product = self.catalog.get(slot.product)
        zone = self.plan.zone_at(slot.position_m[0], slot.position_m[2])
        env_name: EnvName = "car" if slot.on_turntable else "counter"
        yaw = car_yaws.get(slot.product, slot.yaw_deg) if slot.on_turntable else slot.yaw_deg
        return Placement(self._model(product, slot.position_m, head_m), yaw_matrix(slot.position_m, yaw),
                         self.models.overrides(product, product.variant(None)),
                         self._env(zone.id if zone else None, env_name))

    def stand_for(self, product_id: str) -> Stand | None:
        """The presentation stand a product is lifted onto; None for a car (it is looked at on its turntable)."""
        slot = self._slots.get(product_id)
        if slot is None or slot.on_turntable is not None or not self.plan.stands:
            return None
        zone = self.plan.zone_at(slot.position_m[0], slot.position_m[2])
        for stand in self.plan.stands:
            if zone is not None and stand.zone == zone.id:
                return stand
        return self.plan.stands[0]

    def magnification(self, product_id: str, stand: Stand) -> float:
        """How much the stand magnifies a product: its largest dimension becomes `stand.display_size_m`."""
        dims = self.catalog.get(product_id).dimensions_mm
        largest_m = max(float(d) for d in dims) / 1000 if dims else stand.display_size_m
        return stand.display_size_m / largest_m if largest_m > 0 else 1.0

    def _stand_placements(self, focus: Focus, stand: Stand) -> tuple[Placement, Placement]:
        product = self.catalog.get(focus.product)
        variant = product.variant(focus.variant)
        overrides = self.models.overrides(product, variant)
        model = self.models.model_path(product)
        env = self._env(stand.zone, "counter", GOLD_STAND_PROBE)
        yaw = stand.view_yaw_deg + focus.turn_deg
        big = Placement(model, yaw_matrix(stand.top_m, yaw, self.magnification(focus.product, stand)), overrides,
                        env)
        true_size = Placement(model, yaw_matrix(stand.true_size_m, stand.view_yaw_deg), overrides, env)
        return big, true_size

    def placements(self, head_m: Vec3 | None, focus: Focus | None, car_yaws: Mapping[str, float]
                   ) -> tuple[Placement, ...]:
        stand = self.stand_for(focus.product) if focus is not None else None
        out: list[Placement] = []
        for slot in self._slots.values():
            if stand is not None and focus is not None and slot.product == focus.product:
                continue  # lifted from its tray onto the stand
            if focus is not None and slot.product == focus.product and slot.on_turntable:
                product = self.catalog.get(slot.product)
                p = self._slot_placement(slot, head_m, car_yaws)
                out.append(Placement(p.model_path, p.matrix,
                                     self.models.overrides(product, product.variant(focus.variant)), p.env))
                continue
            out.append(self._slot_placement(slot, head_m, car_yaws))
        if stand is not None and focus is not None:
            out.extend(self._stand_placements(focus, stand))
        return tuple(out)

    def guide_placement(self, guide: GuideFigure) -> Placement:
        """The guide standing at its pose's floor point, turned to its yaw, in its clip and with its mouth's
        weights, lit by the reflection probe of the zone it stands in (the built-in studio light elsewhere)."""
        pose = guide.pose
        x, _, z = pose.position_m
        zone = self.plan.zone_at(x, z)
        return Placement(guide.glb, yaw_matrix(pose.position_m, pose.yaw_deg), (),
                         self._env(zone.id if zone else None, GUIDE_ENV),
                         ModelPose(pose.animation, pose.clip_s, pose.morph))

    # -- the frame ------------------------------------------------------------------------------------------
    def request(self, view: StereoView | PoseView, size_px: tuple[int, int], *, head_m: Vec3 | None = None,
                focus: Focus | None = None, car_yaws: Mapping[str, float] | None = None,
                guide: GuideFigure | None = None) -> RenderRequest:
        zone = self.plan.zone_at(head_m[0], head_m[2]) if head_m is not None else None
        placements = self.placements(head_m, focus, car_yaws or {})
        if guide is not None and in_view(view, guide.pose.position_m):
            placements += (self.guide_placement(guide),)
        return RenderRequest(self.files.glb, view, size_px=size_px, background="white", shadow=False,
                             env=self._env(zone.id if zone else None, "counter"),
                             placements=placements, panels=self.panels(focus))

    def has_product(self, product_id: str) -> bool:
        return product_id in self._slots


def in_view(view: StereoView | PoseView, feet_m: Vec3, height_m: float = GUIDE_HEIGHT_M) -> bool:
    """Whether a standing figure (a sphere around it) can show in the view: a cone test against the view's
    half diagonal field of view. A guide out of view is left out of the frame, so its pose costs nothing."""
    pose = view.head if isinstance(view, StereoView) else view.pose
    k = view.intrinsics
    x, y, z, w = pose.orientation_xyzw
    forward = (-2 * (x * z + y * w), -2 * (y * z - x * w), -(1 - 2 * (x * x + y * y)))  # rotates (0, 0, -1)
    radius = height_m / 2 + 0.2
    centre = (feet_m[0], feet_m[1] + height_m / 2, feet_m[2])
    to = tuple(c - e for c, e in zip(centre, pose.position_m, strict=True))
    dist = math.sqrt(sum(v * v for v in to))
    if dist <= radius:
        return True
    half_diag = math.atan(math.hypot(k.width_px / 2 / k.fx, k.height_px / 2 / k.fy))
    if isinstance(view, StereoView):
        half_diag += math.atan2(view.ipd_m / 2, dist)
    cos_angle = sum(f * t for f, t in zip(forward, to, strict=True)) / dist
    return math.acos(max(-1.0, min(1.0, cos_angle))) <= half_diag + math.asin(min(1.0, radius / dist))


def _in_catalog(catalog: Catalog, product_id: str) -> bool:
    try:
        catalog.get(product_id)
    except NotFound:
        return False
    return True


def catalog_kind(catalog: Catalog, product_id: str) -> str | None:
    try:
        return str(catalog.get(product_id).kind.value)
    except NotFound:
        return None
