"""Procedural product models are true to size: weight = volume x density, ring sizes by inner diameter, real
outer dimensions, resting on the ground facing the customer, with the material names the renderer expects."""

from __future__ import annotations

import json
import struct
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import trimesh

from render_node.assets import jewellery
from render_node.assets._mesh import DENSITY_G_PER_CM3, Part, export_glb
from render_node.assets.procedural import product_parts, product_scene
from render_node.assets.variants import METAL_BASE_COLOR, overrides_for, scale_for
from showroom.catalog import Catalog, ProductKind, Purity, load_catalog

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog((ROOT / "assets" / "catalog.toml").read_text(encoding="utf-8"))


@cache
def _parts(product_id: str) -> list[Part]:
    c = load_catalog((ROOT / "assets" / "catalog.toml").read_text(encoding="utf-8"))
    return product_parts(c.get(product_id))


@cache
def _scene(product_id: str) -> trimesh.Scene:
    c = load_catalog((ROOT / "assets" / "catalog.toml").read_text(encoding="utf-8"))
    return product_scene(c.get(product_id))


def _metal_grams(parts: list[Part], purity: str) -> float:
    volume_m3 = sum(abs(p.mesh.volume) for p in parts if p.material == "metal")
    assert all(p.mesh.is_watertight for p in parts if p.material == "metal")
    return float(volume_m3 * 1e6 * DENSITY_G_PER_CM3[purity])


@pytest.mark.parametrize(
    "product_id", ["bar-au9999-100g", "bar-au9999-10g", "bar-au9999-1kg", "bar-au9999-100g-cast"]
)
def test_gold_bar_volume_times_gold_density_is_its_weight(catalog: Catalog, product_id: str) -> None:
    weight_g = float(catalog.get(product_id).variants[0].weight_g or 0)
    grams = _metal_grams(_parts(product_id), "Au9999")
    assert grams == pytest.approx(weight_g, rel=0.02)


def test_a_100g_bar_weighs_100g_at_19_32_g_per_cm3() -> None:
    volume_cm3 = sum(abs(p.mesh.volume) for p in _parts("bar-au9999-100g")) * 1e6
    assert volume_cm3 * 19.32 == pytest.approx(100.0, rel=0.02)


@pytest.mark.parametrize(
    ("product_id", "purity"), [("coin-panda-au999-1oz", "Au999"), ("coin-panda-ag999-30g", "Ag999")]
)
def test_coin_weight_and_diameter(catalog: Catalog, product_id: str, purity: str) -> None:
    product = catalog.get(product_id)
    assert _metal_grams(_parts(product_id), purity) == pytest.approx(
        float(product.variants[0].weight_g or 0), rel=0.02
    )
    width_mm, height_mm, _ = _scene(product_id).extents * 1000
    assert product.dimensions_mm is not None
    assert width_mm == pytest.approx(float(product.dimensions_mm[0]), rel=0.01)
    assert height_mm == pytest.approx(float(product.dimensions_mm[1]), rel=0.01)


def test_every_ring_size_has_its_inner_diameter(catalog: Catalog) -> None:
    for product_id in ("ring-band-classic", "ring-solitaire"):
        for v in catalog.get(product_id).variants:
            assert v.inner_diameter_mm is not None and v.weight_g is not None and v.purity is not None
            band = jewellery.band(float(v.inner_diameter_mm), 2.5, float(v.weight_g), v.purity.value)
            assert jewellery.measure_inner_diameter_mm(band) == pytest.approx(
                float(v.inner_diameter_mm), abs=0.02
            )
            assert band.volume * 1e6 * DENSITY_G_PER_CM3[v.purity.value] == pytest.approx(
                float(v.weight_g), rel=0.02
            )


def test_built_ring_model_keeps_the_first_size(catalog: Catalog) -> None:
    ring = catalog.get("ring-band-classic")
    shank = _parts("ring-band-classic")[0].mesh
    assert jewellery.measure_inner_diameter_mm(shank) == pytest.approx(
        float(ring.variants[0].inner_diameter_mm or 0), abs=0.02
    )


def test_bangle_inner_diameter(catalog: Catalog) -> None:
    v = catalog.get("bangle-au999-classic").variants[0]
    mesh = _parts("bangle-au999-classic")[0].mesh
    assert jewellery.measure_inner_diameter_mm(mesh, axis=1) == pytest.approx(
        float(v.inner_diameter_mm or 0), abs=0.05
    )


@pytest.mark.parametrize(
    "product_id",
    ["bar-au9999-100g", "bar-au9999-1kg", "ring-solitaire", "car-sedan-aurora", "car-suv-summit"],
)
def test_models_rest_on_the_ground_centred_at_catalog_size(catalog: Catalog, product_id: str) -> None:
    scene = _scene(product_id)
    lo, hi = scene.bounds
    assert lo[1] == pytest.approx(0.0, abs=1e-6)
    assert (lo[0] + hi[0]) / 2 == pytest.approx(0.0, abs=1e-6)
    assert (lo[2] + hi[2]) / 2 == pytest.approx(0.0, abs=1e-6)
    dims = catalog.get(product_id).dimensions_mm
    assert dims is not None
    for got_m, want_mm in zip(scene.extents, dims, strict=True):
        assert got_m * 1000 == pytest.approx(float(want_mm), rel=0.2)


def test_every_precious_metal_model_matches_its_catalog_dimensions(catalog: Catalog) -> None:
    for product in catalog:
        if product.kind is ProductKind.CAR:
            continue
        assert product.dimensions_mm is not None, product.id
        extents_mm = _scene(product.id).extents * 1000
        for got, want in zip(extents_mm, product.dimensions_mm, strict=True):
            assert got == pytest.approx(float(want), rel=0.05, abs=0.3), product.id


def test_cars_are_real_size_and_the_suv_is_taller() -> None:
    sedan, suv = _scene("car-sedan-aurora").extents, _scene("car-suv-summit").extents
    assert sedan[2] == pytest.approx(4.85, abs=0.01)  # length along Z: front faces +Z
    assert suv[2] == pytest.approx(4.72, abs=0.01)
    assert suv[1] > sedan[1] + 0.15
    assert 1.3 < sedan[1] < 1.6


def test_car_front_is_towards_plus_z() -> None:
    """Head lamps sit at the front (+Z), tail lamps at the back."""
    materials = {p.material: p.mesh for p in _parts("car-sedan-aurora")}
    assert materials["light"].bounds.mean(axis=0)[2] > 2.0
    assert materials["taillight"].bounds.mean(axis=0)[2] < -2.0


def test_car_body_is_curved_not_a_box() -> None:
    paint = next(p.mesh for p in _parts("car-sedan-aurora") if p.material == "paint")
    normals = np.round(paint.face_normals, 1)
    assert len(np.unique(normals, axis=0)) > 200
    fill = paint.convex_hull.volume / np.prod(paint.extents)
    assert fill < 0.85


def _glb_json(data: bytes) -> dict[str, object]:
    magic, version, _length = struct.unpack_from("<4sII", data, 0)
    assert magic == b"glTF" and version == 2
    chunk_len, chunk_type = struct.unpack_from("<II", data, 12)
    assert chunk_type == 0x4E4F534A
    doc: dict[str, object] = json.loads(data[20 : 20 + chunk_len])
    return doc


@pytest.mark.parametrize(
    ("product_id", "names"),
    [
        (
            "car-sedan-aurora",
            {"paint", "glass", "tyre", "rim", "light", "taillight", "chrome", "interior", "trim"},
        ),
        ("ring-solitaire", {"metal", "gem"}),
        ("bar-au9999-100g", {"metal"}),
    ],
)
def test_glb_has_named_pbr_materials_normals_and_uvs(product_id: str, names: set[str]) -> None:
    doc = _glb_json(export_glb(_scene(product_id)))
    materials = doc["materials"]
    assert isinstance(materials, list)
    assert {m["name"] for m in materials} == names
    for m in materials:
        assert "pbrMetallicRoughness" in m
    meshes = doc["meshes"]
    assert isinstance(meshes, list)
    for mesh in meshes:
        for prim in mesh["primitives"]:
            assert {"POSITION", "NORMAL", "TEXCOORD_0"} <= set(prim["attributes"])
            assert prim.get("mode", 4) == 4


def test_triangle_budgets(catalog: Catalog) -> None:
    for product_id in ("ring-band-classic", "ring-solitaire", "bar-au9999-100g", "coin-panda-au999-1oz"):
        assert sum(len(p.mesh.faces) for p in _parts(product_id)) <= 110_000, product_id


def test_purity_sets_the_metal_colour(catalog: Catalog) -> None:
    ring = catalog.get("ring-solitaire")
    pt = next(v for v in ring.variants if v.purity is Purity.PT950)
    au = next(v for v in ring.variants if v.purity is Purity.AU750)
    (pt_override,) = overrides_for(ring, pt)
    (au_override,) = overrides_for(ring, au)
    assert pt_override.material == "metal" and pt_override.base_color_rgba == METAL_BASE_COLOR[Purity.PT950]
    assert au_override.base_color_rgba is not None and pt_override.base_color_rgba is not None
    # gold is yellow (red > blue by far), platinum is nearly neutral
    assert au_override.base_color_rgba[0] - au_override.base_color_rgba[2] > 0.4
    assert abs(pt_override.base_color_rgba[0] - pt_override.base_color_rgba[2]) < 0.1


def test_paint_colour_becomes_a_linear_paint_override(catalog: Catalog) -> None:
    car = catalog.get("car-sedan-aurora")
    red = car.variant("pro-ruby-red")
    paint = next(o for o in overrides_for(car, red) if o.material == "paint")
    assert paint.base_color_rgba is not None
    r, g, b, a = paint.base_color_rgba
    assert r > 5 * g and r > 5 * b and a == 1.0
    assert r == pytest.approx(((0x8C / 255 + 0.055) / 1.055) ** 2.4, rel=1e-6)


def test_variant_scale_follows_ring_size(catalog: Catalog) -> None:
    ring = catalog.get("ring-band-classic")
    big = ring.variant("au750-size-16")
    assert scale_for(ring, big) == pytest.approx(17.8 / 16.6)
    assert scale_for(ring, ring.variants[0]) == 1.0
    bar = catalog.get("bar-au9999-100g")
    assert scale_for(bar, bar.variants[0]) == 1.0


def test_every_catalog_product_has_a_model_builder(catalog: Catalog) -> None:
    kinds = {p.kind for p in catalog}
    assert kinds == set(ProductKind)


def test_lod_keeps_the_silhouette_with_a_quarter_of_the_triangles() -> None:
    from render_node.assets.lods import build_lods, decimate, triangle_count

    ring = _parts("ring-band-classic")[0].mesh
    coarse = decimate(ring, len(ring.faces) // 4)
    assert len(coarse.faces) <= len(ring.faces) // 4
    assert coarse.extents == pytest.approx(ring.extents, rel=0.01)
    assert jewellery.measure_inner_diameter_mm(coarse) == pytest.approx(16.6, abs=0.1)
    scene = _scene("ring-solitaire")
    lod0, lod1 = build_lods(scene, (1.0, 0.25))
    assert triangle_count(lod0) == triangle_count(scene)
    assert triangle_count(lod1) < 0.3 * triangle_count(scene)
    names = {g.visual.material.name for g in lod1.geometry.values()}
    assert names == {"metal", "gem"}
    assert lod1.extents == pytest.approx(scene.extents, rel=0.02)
