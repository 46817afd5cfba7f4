"""The catalog file loads, holds what the counter and the car studio need, and names the bad field on error."""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from showroom.catalog import Catalog, CraftFeeBasis, ProductKind, Purity, TryOnAnchor, load_catalog
from showroom.errors import CatalogInvalid, UnknownProduct, UnknownVariant

ROOT = Path(__file__).resolve().parents[2]
CATALOG_TEXT = (ROOT / "assets" / "catalog.toml").read_text(encoding="utf-8")


def _index(product_id: str) -> int:
    """Position of a product in the shipped file, so that tests name the field the way the loader does."""
    ids = [p["id"] for p in tomllib.loads(CATALOG_TEXT)["products"]]
    return ids.index(product_id)


BAR100, BAR1KG, COIN = _index("bar-au9999-100g"), _index("bar-au9999-1kg"), _index("coin-panda-au999-1oz")
RING, SOLITAIRE, BANGLE, SUV = (
    _index("ring-band-classic"),
    _index("ring-solitaire"),
    _index("bangle-au999-classic"),
    _index("car-suv-summit"),
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(CATALOG_TEXT)


def _dump(doc: dict[str, Any]) -> str:
    """A tiny TOML writer for the shapes the catalog uses (tables, arrays of tables, scalars, lists)."""

    def scalar(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(scalar(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {scalar(x)}" for k, x in v.items()) + " }"
        return repr(v)

    lines = [f"{k} = {scalar(v)}" for k, v in doc.items() if k != "products"]
    for p in doc.get("products", []):
        lines.append("[[products]]")
        lines += [f"{k} = {scalar(v)}" for k, v in p.items() if k != "variants"]
        for v in p.get("variants", []):
            lines.append("[[products.variants]]")
            lines += [f"{k} = {scalar(x)}" for k, x in v.items()]
    return "\n".join(lines) + "\n"


def _broken(change: Any) -> str:
    doc = tomllib.loads(CATALOG_TEXT)
    change(doc)
    return _dump(doc)


def _error(text: str) -> str:
    with pytest.raises(CatalogInvalid) as info:
        load_catalog(text)
    return info.value.message


def test_shipped_catalog_has_metals_and_cars(catalog: Catalog) -> None:
    kinds = [p.kind for p in catalog]
    assert len(catalog) >= 14
    assert sum(k is not ProductKind.CAR for k in kinds) >= 10
    assert kinds.count(ProductKind.CAR) >= 2
    for kind in ProductKind:
        assert kind in kinds, f"no {kind.value} in the catalog"


def test_every_product_has_both_languages_and_a_model_file_name(catalog: Catalog) -> None:
    for p in catalog:
        assert p.name.zh and p.name.en and p.description.zh and p.description.en
        assert re.search(r"[\u4e00-\u9fff]", p.name.zh), p.id
        assert p.model == f"{p.id}.glb"
        for v in p.variants:
            assert v.name.zh and v.name.en


def test_investment_bars_cover_10g_to_1kg_cast_and_minted(catalog: Catalog) -> None:
    bars = [p for p in catalog if p.kind is ProductKind.GOLD_BAR]
    weights = {p.variants[0].weight_g for p in bars}
    assert {Decimal(10), Decimal(50), Decimal(100), Decimal(1000)} <= weights
    assert {"cast", "minted"} <= {t for p in bars for t in p.tags}
    for p in bars:
        v = p.variants[0]
        assert v.purity is Purity.AU9999
        assert v.premium_cny_per_g > 0
        assert p.certificate is not None and "Au9999" in p.hallmark


def test_wearables_carry_their_try_on_anchor(catalog: Catalog) -> None:
    expected = {
        ProductKind.RING: TryOnAnchor.FINGER,
        ProductKind.BANGLE: TryOnAnchor.WRIST,
        ProductKind.BRACELET: TryOnAnchor.WRIST,
        ProductKind.NECKLACE: TryOnAnchor.NECK,
        ProductKind.EARRINGS: TryOnAnchor.EAR,
    }
    for p in catalog:
        assert p.tryon_anchor is expected.get(p.kind), p.id


def test_ring_sizes_are_variants_with_inner_diameters_in_gold_and_platinum(catalog: Catalog) -> None:
    ring = catalog.get("ring-band-classic")
    assert {v.purity for v in ring.variants} == {Purity.AU750, Purity.PT950}
    for v in ring.variants:
        assert v.inner_diameter_mm is not None and v.size_label is not None
        # Chinese hand size n has an inner circumference of about (40 + n) mm.
        circumference_mm = float(v.inner_diameter_mm) * 3.14159
        assert abs(circumference_mm - (40 + int(v.size_label))) < 1.0, v.id
    bangle = catalog.get("bangle-au999-classic")
    assert sorted({int(v.inner_diameter_mm or 0) for v in bangle.variants}) == [54, 56, 58, 60, 62]
    assert {v.finish.value for v in bangle.variants} == {"polished", "brushed", "satin"}
    assert all(v.craft_fee_basis is CraftFeeBasis.PER_GRAM for v in bangle.variants)


def test_cars_have_trims_paints_prices_and_a_deposit(catalog: Catalog) -> None:
    for p in (p for p in catalog if p.kind is ProductKind.CAR):
        assert p.reservation_deposit_cny is not None and p.reservation_deposit_cny > 0
        assert len({v.trim for v in p.variants}) >= 2
        assert len({v.paint_hex for v in p.variants}) >= 3
        for v in p.variants:
            assert v.msrp_cny is not None and v.msrp_cny > 100_000
            assert v.purity is None and v.weight_g is None


def test_money_is_decimal_and_exact(catalog: Catalog) -> None:
    coin = catalog.get("coin-panda-au999-1oz").variants[0]
    assert coin.weight_g == Decimal("31.104")
    assert isinstance(coin.premium_cny_per_g, Decimal)


def test_unknown_product_and_variant_are_errors(catalog: Catalog) -> None:
    with pytest.raises(UnknownProduct):
        catalog.get("no-such-thing")
    with pytest.raises(UnknownVariant):
        catalog.get("ring-solitaire").variant("size-99")
    assert catalog.get("ring-solitaire").variant(None) is catalog.get("ring-solitaire").variants[0]


def test_negative_weight_is_named_down_to_the_variant() -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["products"][RING]["variants"][1]["weight_g"] = -5

    assert _error(_broken(change)).startswith(
        f"products[{RING}].variants[1].weight_g: must be a positive number"
    )


def test_missing_english_name_is_named() -> None:
    def change(doc: dict[str, Any]) -> None:
        del doc["products"][BAR100]["name"]["en"]

    assert _error(_broken(change)) == f"products[{BAR100}].name.en: is required"


def test_unknown_kind_lists_the_allowed_ones() -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["products"][0]["kind"] = "watch"

    message = _error(_broken(change))
    assert message.startswith("products[0].kind: must be one of") and "gold_bar" in message


def test_misspelt_field_is_not_silently_ignored() -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["products"][BAR1KG]["variants"][0]["wieght_g"] = 1000

    assert _error(_broken(change)).startswith(f"products[{BAR1KG}].variants[0].wieght_g: unknown field")


def test_duplicate_product_ids_are_refused() -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["products"][3]["id"] = doc["products"][1]["id"]

    assert "products[3].id: duplicate id" in _error(_broken(change))


def test_car_paint_must_be_a_hex_colour() -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["products"][SUV]["variants"][2]["paint_hex"] = "black"

    assert _error(_broken(change)).startswith(f"products[{SUV}].variants[2].paint_hex:")


def test_wearable_without_anchor_is_refused() -> None:
    def change(doc: dict[str, Any]) -> None:
        del doc["products"][SOLITAIRE]["tryon_anchor"]

    assert _error(_broken(change)).startswith(f"products[{SOLITAIRE}].tryon_anchor: is required")


def test_bar_cannot_be_tried_on() -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["products"][0]["tryon_anchor"] = "wrist"

    assert _error(_broken(change)) == "products[0].tryon_anchor: gold_bar cannot be tried on"


def test_unknown_purity_is_named() -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["products"][BANGLE]["variants"][0]["purity"] = "Au585"

    assert _error(_broken(change)).startswith(f"products[{BANGLE}].variants[0].purity: must be one of")


def test_ring_without_inner_diameter_is_refused() -> None:
    def change(doc: dict[str, Any]) -> None:
        del doc["products"][RING]["variants"][2]["inner_diameter_mm"]

    assert _error(_broken(change)).startswith(f"products[{RING}].variants[2].inner_diameter_mm: is required")


def test_model_must_be_a_plain_glb_file_name() -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["products"][COIN]["model"] = "../../etc/passwd.glb"

    assert _error(_broken(change)).startswith(f"products[{COIN}].model: must be a file name")


def test_broken_toml_says_where() -> None:
    assert "line 2" in _error('[[products]]\nid = "x\n')


def test_empty_catalog_is_refused() -> None:
    assert _error("schema_version = 1\n").startswith("products: is required")


def test_round_trip_of_the_shipped_file_through_the_test_writer_is_identical() -> None:
    assert load_catalog(_dump(tomllib.loads(CATALOG_TEXT))) == load_catalog(CATALOG_TEXT)


def test_a_stone_variant_carries_its_own_hallmark_and_the_others_the_products(catalog: Catalog) -> None:
    """The certificate prints `hallmark_of(variant)`: a ruby of the diamond solitaire must not read "D0.30ct"."""
    ring = catalog.get("ring-solitaire")
    assert ring.hallmark_of(ring.variant("ruby-pt950-size-12")) == "HJ Pt950 R0.35ct"
    assert ring.hallmark_of(ring.variant("sapphire-au750-size-10")) == "HJ Au750 S0.35ct"
    assert ring.hallmark_of(ring.variant("pt950-size-12")) == ring.hallmark == "HJ Au750 / Pt950 D0.30ct"
    for product in catalog.products:
        for variant in product.variants:
            stone = (variant.gem or "").split(" ")[0]
            if stone in ("ruby", "sapphire"):
                assert variant.hallmark, f"{product.id}/{variant.id}: a {stone} variant needs its own hallmark"
