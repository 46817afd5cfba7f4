"""A variant's stone: the catalog names it in the variant's `gem` text, `variants.overrides_for` turns a stone other
than the model's into a `gem` material override of the same optics `gems.material_for` writes into a model, and
the renderer lays it over the file's material (`gem_optics.with_optics`) into the gem path's inputs."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from render_node.assets.gems import GEMS, gem_of, material_for
from render_node.assets.variants import gem_override, overrides_for
from render_node.gltf.materials import Material
from render_node.render.gem_optics import gem_inputs, gem_iors, with_optics
from render_node.render.types import MaterialOverride
from showroom.catalog import Catalog, Purity, load_catalog

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog((ROOT / "assets" / "catalog.toml").read_text())


def _file_material(stone: str) -> Material:
    """The `gem` material as the renderer reads it from a model built with `stone`."""
    ext = material_for(GEMS[stone], depth_mm=2.6)
    volume = ext["KHR_materials_volume"]
    return Material(name="gem", metallic=0.0, roughness=0.0, transmission=1.0, ior=ext["KHR_materials_ior"]["ior"],
                    thickness=volume["thicknessFactor"], attenuation_color=tuple(volume["attenuationColor"]),
                    attenuation_distance_m=volume.get("attenuationDistance", math.inf),
                    dispersion=ext["KHR_materials_dispersion"]["dispersion"], gem=True)


def test_every_stone_the_catalog_sells_is_one_the_renderer_knows(catalog: Catalog) -> None:
    # gem_of falls back to a diamond for a name it does not know: a misspelt 'rubby' would be drawn as a diamond
    for product in catalog:
        for v in product.variants:
            if v.gem is not None:
                assert v.gem.split()[0].lower() in GEMS, (product.id, v.id, v.gem)


def test_the_solitaire_is_sold_with_a_ruby_and_a_sapphire_in_every_metal_and_size_of_its_diamond(
        catalog: Catalog) -> None:
    ring = catalog.get("ring-solitaire")
    by_stone: dict[str, set[tuple[Purity | None, str | None]]] = {}
    for v in ring.variants:
        assert v.gem is not None
        by_stone.setdefault(v.gem.split()[0], set()).add((v.purity, v.size_label))
    assert set(by_stone) == {"diamond", "ruby", "sapphire"}
    assert by_stone["ruby"] == by_stone["sapphire"] == by_stone["diamond"]
    assert {p for p, _ in by_stone["ruby"]} == {Purity.PT950, Purity.AU750}
    assert gem_of(ring.variants[0].gem) is GEMS["diamond"], "the model is built with the first variant's diamond"


@pytest.mark.parametrize("stone", ["ruby", "sapphire"])
def test_a_coloured_variant_overrides_the_stone_with_the_optics_a_model_of_it_would_carry(
        catalog: Catalog, stone: str) -> None:
    ring = catalog.get("ring-solitaire")
    variant = next(v for v in ring.variants if v.gem and v.gem.startswith(stone))
    (gem,) = [o for o in overrides_for(ring, variant) if o.material == "gem"]
    ext = material_for(GEMS[stone], depth_mm=2.6)
    assert gem.ior == ext["KHR_materials_ior"]["ior"]
    assert gem.dispersion == ext["KHR_materials_dispersion"]["dispersion"]
    assert gem.attenuation_rgb is not None
    assert list(gem.attenuation_rgb) == ext["KHR_materials_volume"]["attenuationColor"]
    assert gem.attenuation_distance_m == ext["KHR_materials_volume"]["attenuationDistance"]
    assert gem.base_color_rgba is None and gem.metallic is None and gem.roughness is None
    # the metal's override is still there, and the override laid over the file's diamond gives the stone itself
    assert any(o.material == "metal" for o in overrides_for(ring, variant))
    assert with_optics(_file_material("diamond"), (gem,)) == _file_material(stone)


def test_the_models_own_stone_needs_no_override(catalog: Catalog) -> None:
    ring = catalog.get("ring-solitaire")
    for v in ring.variants:
        if v.gem and v.gem.startswith("diamond"):
            assert all(o.material != "gem" for o in overrides_for(ring, v)), v.id
    # a product built with a ruby (its first variant's) draws its diamond variant by an override, its ruby not;
    # a variant that names no stone shows the model's
    ruby_first = dataclasses.replace(ring, variants=(ring.variant("ruby-pt950-size-12"), *ring.variants))
    diamond = ring.variant("pt950-size-12")
    assert [o for o in overrides_for(ruby_first, diamond) if o.material == "gem"] == [gem_override(GEMS["diamond"])]
    assert all(o.material != "gem" for o in overrides_for(ruby_first, ruby_first.variants[0]))
    bare = dataclasses.replace(diamond, gem=None)
    assert all(o.material != "gem" for o in overrides_for(ruby_first, bare))


def test_optics_overrides_match_by_name_and_the_later_one_wins() -> None:
    diamond = _file_material("diamond")
    assert with_optics(diamond, ()) is diamond
    assert with_optics(diamond, (MaterialOverride("metal", ior=1.5),)) is diamond
    assert with_optics(diamond, (MaterialOverride("gem", roughness=0.3),)) is diamond  # factors are not optics
    assert with_optics(diamond, (MaterialOverride("*", ior=1.762),)).ior == 1.762
    both = (gem_override(GEMS["ruby"]), gem_override(GEMS["sapphire"]))
    assert with_optics(diamond, both) == _file_material("sapphire")
    partial = with_optics(diamond, (MaterialOverride("gem", attenuation_rgb=(0.9, 0.1, 0.1)),))
    assert partial.attenuation_color == (0.9, 0.1, 0.1) and partial.ior == diamond.ior
    colourless = with_optics(_file_material("ruby"), (MaterialOverride("gem", attenuation_distance_m=math.inf),))
    assert math.isinf(colourless.attenuation_distance_m)


def test_the_gem_paths_inputs_follow_the_variants_stone() -> None:
    ruby = with_optics(_file_material("diamond"), (gem_override(GEMS["ruby"]),))
    inputs = gem_inputs(ruby, 73)
    red, green, blue = gem_iors(GEMS["ruby"].ior, 20 / GEMS["ruby"].abbe)
    iors = inputs["u_gem"]
    assert iors[0] == pytest.approx(red, abs=1e-4) and iors[2] == pytest.approx(blue, abs=1e-4)
    assert iors[1] == pytest.approx(green, abs=1e-4) and iors[3] == 73
    absorb = inputs["u_gemAbsorb"]
    # per metre: green dies fastest in a ruby (6 % left after 2 mm), red barely
    assert absorb[1] == pytest.approx(-math.log(0.06) / 0.002, rel=1e-4)
    assert absorb[1] > absorb[2] > 10 * absorb[0]
    diamond = gem_inputs(_file_material("diamond"), 73)["u_gem"]
    assert diamond[1] == pytest.approx(gem_iors(2.42, 20 / 55.3)[1], abs=1e-4) and diamond[1] > iors[1] + 0.6
