"""The hall frame's content: products in their slots, the focused one on the stand, live prices on the tags,
the gold chart from the prices this node saw (never invented), the loan panel, probes and their fallbacks."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from render_node.hall.layout import hall_plan
from render_node.hall.scene import Focus, GoldSeries, HallScene, format_cny, yaw_matrix
from render_node.render.types import CameraPose, EnvFile, Intrinsics, MaterialOverride, StereoView
from showroom.catalog import Catalog, Product, load_catalog

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-11-30T06:00:00+00:00"


@dataclass
class FakeModels:
    models_dir: Path

    def model_path(self, product: Product) -> Path:
        return self.models_dir / product.model

    def overrides(self, product: Product, variant: Any) -> tuple[MaterialOverride, ...]:
        return (MaterialOverride("*", roughness=0.1 if variant.id.endswith("cast") else 0.2),)


@dataclass(frozen=True)
class FakeFiles:
    glb: Path
    probes: dict[str, Path] = field(default_factory=dict)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog((ROOT / "assets" / "catalog.toml").read_text(encoding="utf-8"))


def _scene(tmp_path: Path, catalog: Catalog, probes: dict[str, Path] | None = None) -> HallScene:
    return HallScene(hall_plan(), catalog, FakeModels(tmp_path / "models"), FakeFiles(tmp_path / "hall.glb",
                                                                                      probes or {}))


def _view() -> StereoView:
    return StereoView(CameraPose((-8.4, 1.6, 0.2)), Intrinsics.from_fov(110, 96, 108), 0.063)


def _table(cny_per_g: str, bar_price: str = "6352.8") -> dict[str, dict[str, dict[str, Any]]]:
    return {"bar-au9999-100g": {"au9999-100g": {"price_cny": bar_price, "price_as_of": AS_OF,
                                                 "price_source": "feed", "metal_cny_per_g": cny_per_g}},
            "bar-au9999-10g": {"au9999-10g": {"price_cny": "650.00", "price_as_of": AS_OF, "price_source": "feed",
                                               "metal_cny_per_g": cny_per_g}}}


def test_money_is_formatted_from_decimal_to_the_fen_with_thousands() -> None:
    assert format_cny(Decimal("6352.8")) == "¥ 6,352.80"
    assert format_cny(Decimal("262800")) == "¥ 262,800.00"
    assert format_cny(Decimal("0.005")) == "¥ 0.01"


def test_a_yaw_matrix_turns_the_front_of_a_model_towards_the_customer() -> None:
    m = yaw_matrix((1.0, 2.0, 3.0), 90.0)
    front = (m[0] * 0 + m[2] * 1, m[8] * 0 + m[10] * 1)  # the model's +Z in the world (x, z)
    assert front == pytest.approx((1.0, 0.0)), "yaw 90: the front (+Z) faces +X (east), as the view direction -Z turns to -X"
    assert (m[3], m[7], m[11]) == (1.0, 2.0, 3.0)


def test_every_product_stands_in_its_slot_and_the_hall_is_the_main_model(tmp_path: Path, catalog: Catalog) -> None:
    scene = _scene(tmp_path, catalog)
    request = scene.request(_view(), (96, 108), head_m=(-8.4, 1.6, 0.2))
    plan = hall_plan()
    assert request.model_path == tmp_path / "hall.glb" and request.background == "white" and not request.shadow
    by_model = {p.model_path.name: p for p in request.placements}
    assert len(request.placements) == len(plan.slots)
    slot = plan.slot_of("bar-au9999-100g")
    bar = by_model["bar-au9999-100g.glb"]
    assert (bar.matrix[3], bar.matrix[7], bar.matrix[11]) == slot.position_m
    assert bar.env == "counter", "no probe file: the built-in counter light"
    assert by_model["car-sedan-aurora.glb"].env == "car"


def test_a_probe_file_lights_the_products_of_its_zone(tmp_path: Path, catalog: Catalog) -> None:
    probe = tmp_path / "probe-gold.hdr"
    probe.write_bytes(b"#?RADIANCE stand-in")
    scene = _scene(tmp_path, catalog, {"probe-gold": probe, "probe-cars": tmp_path / "missing.hdr"})
    request = scene.request(_view(), (96, 108), head_m=(-8.4, 1.6, 0.2))
    envs = {p.model_path.name: p.env for p in request.placements}
    assert envs["bar-au9999-100g.glb"] == EnvFile(probe)
    assert envs["car-sedan-aurora.glb"] == "car", "its probe file is missing"


def test_products_small_on_screen_are_drawn_from_their_coarse_models_when_they_were_built(
        tmp_path: Path, catalog: Catalog) -> None:
    (tmp_path / "models").mkdir()
    for name in ("ring-solitaire.lod2.glb", "car-suv-summit.lod1.glb", "car-suv-summit.lod2.glb"):
        (tmp_path / "models" / name).write_bytes(b"coarse")
    scene = _scene(tmp_path, catalog)
    counter = {p.model_path.name for p in scene.request(_view(), (96, 108), head_m=(-8.4, 1.6, 0.2)).placements}
    assert "ring-solitaire.lod2.glb" in counter, "a ring 1.3 m away spans a few pixels"
    assert "car-suv-summit.lod1.glb" in counter, "a car across the hall: a quarter of its triangles"
    assert "car-sedan-aurora.glb" in counter and "ring-band-classic.glb" in counter, "only where the file exists"
    near = {p.model_path.name for p in scene.request(_view(), (96, 108), head_m=(8.0, 1.6, 1.0)).placements}
    assert "car-suv-summit.glb" in near, "a car beside the customer is drawn in full"


def test_the_focused_bar_leaves_its_tray_for_the_stand_magnified_with_a_true_size_copy(
        tmp_path: Path, catalog: Catalog) -> None:
    scene = _scene(tmp_path, catalog)
    stand = hall_plan().stands[0]
    focus = Focus("bar-au9999-100g", "au9999-100g", turn_deg=90.0)
    request = scene.request(_view(), (96, 108), head_m=(-6.6, 1.6, -3.0), focus=focus)
    bars = [p for p in request.placements if p.model_path.name == "bar-au9999-100g.glb"]
    assert len(bars) == 2, "the magnified bar and its true-size copy; the tray is empty"
    big = next(p for p in bars if (p.matrix[3], p.matrix[7], p.matrix[11]) == stand.top_m)
    true = next(p for p in bars if (p.matrix[3], p.matrix[7], p.matrix[11]) == stand.true_size_m)
    assert math.hypot(big.matrix[0], big.matrix[8]) == pytest.approx(0.22 / 0.055)
    assert big.matrix[0] == pytest.approx(0.0, abs=1e-9), "turned by 90 degrees"
    assert math.hypot(true.matrix[0], true.matrix[8]) == pytest.approx(1.0)
    assert scene.magnification("bar-au9999-1kg", stand) == pytest.approx(0.22 / 0.116)
    assert scene.stand_for("car-sedan-aurora") is None, "a car is looked at on its turntable"


def test_price_tags_show_the_live_price_and_the_focused_tag_is_highlighted(tmp_path: Path, catalog: Catalog) -> None:
    scene = _scene(tmp_path, catalog)
    scene.set_prices(_table("612.35"), now_s=1000.0)
    quads = {q.content.title_en: q.content for q in scene.panels(Focus("bar-au9999-100g", "au9999-100g"))}
    tag = quads["Huajin investment gold bar 100 g (minted)"]
    assert tag.kind == "price_tag" and tag.lines[0] == "¥ 6,352.80" and tag.highlight
    ten = quads["Huajin investment gold bar 10 g (minted)"] if "Huajin investment gold bar 10 g (minted)" in quads \
        else next(c for t, c in quads.items() if "10 g" in t)
    assert ten.lines[0] == "¥ 650.00" and not ten.highlight
    one_kg = next(c for t, c in quads.items() if "1 kg" in t)
    assert one_kg.lines[0] == "暂无报价", "no price from the port: none is shown, none is made up"


def test_the_gold_chart_shows_only_the_prices_this_node_recorded(tmp_path: Path, catalog: Catalog) -> None:
    scene = _scene(tmp_path, catalog)
    chart = next(q.content for q in scene.panels(None) if q.content.kind == "gold_chart")
    assert chart.values == () and "No gold price now" in chart.lines
    for i, price in enumerate(("610.00", "611.50", "609.25")):
        scene.set_prices(_table(price), now_s=1000.0 + 60 * i)
    chart = next(q.content for q in scene.panels(None) if q.content.kind == "gold_chart")
    assert chart.values == (610.0, 611.5, 609.25)
    assert chart.lines[0] == "¥ 609.25 /g"
    series = GoldSeries(step_s=30.0)
    series.record(0.0, Decimal("1"))
    series.record(10.0, Decimal("2"))
    assert series.values == (Decimal("2"),), "within one step the newest price replaces the last point"


def test_the_loan_panel_shows_the_car_price_and_the_catalog_finance_terms(tmp_path: Path, catalog: Catalog) -> None:
    scene = _scene(tmp_path, catalog)
    loan = next(q.content for q in scene.panels(None) if q.content.kind == "loan")
    text = " ".join(loan.lines)
    assert "¥ 262,800.00" in text and "15%" in text and "¥ 39,420.00" in text and "12-60" in text
    buttons = {q.content.title_en for q in scene.panels(None) if q.content.kind == "button"}
    assert buttons == {"Call an advisor", "Book an appointment"}


def test_the_products_on_the_trays_face_the_customer_at_the_counter(tmp_path: Path, catalog: Catalog) -> None:
    scene = _scene(tmp_path, catalog)
    plan = hall_plan()
    x0, _, z0 = plan.zone("gold_counter").point_m
    for p in scene.request(_view(), (96, 108)).placements:
        slot = next(s for s in plan.slots if s.product + ".glb" == p.model_path.name)
        if slot.on_turntable is not None:
            continue
        front = (p.matrix[2], p.matrix[10])  # the model's +Z in the world (x, z)
        to_customer = (x0 - p.matrix[3], z0 - p.matrix[11])
        assert front[0] * to_customer[0] + front[1] * to_customer[1] > 0, slot.product


def test_the_guide_stands_posed_in_the_frame_lit_by_its_zone_and_is_left_out_when_out_of_view(
        tmp_path: Path, catalog: Catalog) -> None:
    from render_node.hall.guide_walk import GuidePose
    from render_node.hall.scene import GUIDE_ENV, GuideFigure
    from render_node.render.types import ModelPose

    probe = tmp_path / "probe-gold.hdr"
    probe.write_bytes(b"#?RADIANCE stand-in")
    scene = _scene(tmp_path, catalog, {"probe-gold": probe})
    glb = tmp_path / "guide.glb"
    pose = GuidePose((-8.4, 0.0, -1.0), 0.0, "point", 1.25, (("viseme_aa", 0.5),), "pointing")
    looking_west = StereoView(CameraPose((-6.0, 1.6, -1.0), (0.0, math.sin(math.pi / 4), 0.0, math.cos(math.pi / 4))),
                              Intrinsics.from_fov(110, 96, 108), 0.063)
    request = scene.request(looking_west, (96, 108), head_m=(-6.0, 1.6, -1.0), guide=GuideFigure(glb, pose))
    guide = request.placements[-1]
    assert guide.model_path == glb and guide.pose == ModelPose("point", 1.25, (("viseme_aa", 0.5),))
    assert guide.matrix == yaw_matrix((-8.4, 0.0, -1.0), 0.0)
    assert guide.env == EnvFile(probe), "at the gold counter, the gold counter's probe"
    at_door = GuidePose((1.2, 0.0, 5.2), -45.0, "idle", 0.0)
    request = scene.request(looking_west, (96, 108), head_m=(-6.0, 1.6, -1.0), guide=GuideFigure(glb, at_door))
    assert all(p.model_path != glb for p in request.placements), "behind the customer: not drawn, not posed"
    facing_door = StereoView(CameraPose((0.0, 1.6, 8.0)), Intrinsics.from_fov(110, 96, 108), 0.063)
    request = scene.request(facing_door, (96, 108), head_m=(0.0, 1.6, 8.0), guide=GuideFigure(glb, at_door))
    assert request.placements[-1].model_path == glb and request.placements[-1].env == GUIDE_ENV
    assert len(scene.request(facing_door, (96, 108), head_m=(0.0, 1.6, 8.0)).placements) == len(
        request.placements) - 1
