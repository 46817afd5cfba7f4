"""Which procedural model shows which catalog product: `product_scene(product)` builds it at the real size of
the product's first variant, with that variant's metal colour or paint baked into the GLB's materials (other
variants are shown through `variants.overrides_for`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import trimesh

from render_node.assets import bars, cars, coins, jewellery
from render_node.assets._mesh import MATERIALS, MaterialSpec, Part, to_scene
from render_node.assets.gems import GEMS, gem_of, material_for
from render_node.assets.variants import (
    METAL_BASE_COLOR,
    METAL_ROUGHNESS,
    MODEL_ANISOTROPY,
    has_finishes,
    srgb_hex_to_linear_rgba,
)
from render_node.render.errors import ModelInvalid
from showroom.catalog import Metal, Product, ProductKind, Variant

TROY_OUNCE_G = Decimal("31.1035")


def _f(value: Decimal | None, what: str, product: Product) -> float:
    if value is None:
        raise ModelInvalid(
            f"product {product.id!r}: its first variant has no {what}, needed to build its model"
        )
    return float(value)


def product_parts(product: Product) -> list[Part]:
    """The meshes of `product`'s model (metres, front +Z, not yet placed on the ground)."""
    v = product.variants[0]
    purity = v.purity.value if v.purity else "Au9999"
    weight = _f(v.weight_g, "weight_g", product) if product.kind is not ProductKind.CAR else 0.0
    dims = [float(d) for d in product.dimensions_mm] if product.dimensions_mm else None
    kind = product.kind
    if kind is ProductKind.GOLD_BAR:
        serial = f"{v.serial_prefix or 'HJ'} 260001"
        if "cast" in product.tags:
            length, width = (dims[0], dims[2]) if dims else (116.0, 52.0)
            return bars.cast_bar(bars.BarSpec(weight, width, length, purity, serial=serial, cast=True))
        width, length = (dims[0], dims[1]) if dims else (31.0, 55.0)
        return bars.minted_bar(bars.BarSpec(weight, width, length, purity, serial=serial))
    if kind is ProductKind.COIN:
        diameter = dims[0] if dims else 32.0
        gold = v.purity is not None and v.purity.metal is Metal.GOLD
        ounces = Decimal(str(weight)) / TROY_OUNCE_G
        label = "1 oz" if abs(ounces - 1) < Decimal("0.001") else f"{weight:g} g"
        face = "面额 500 元" if gold else "面额 10 元"
        return coins.coin(coins.CoinSpec(weight, diameter, purity, face, label))
    if kind is ProductKind.RING:
        inner = _f(v.inner_diameter_mm, "inner_diameter_mm", product)
        if v.gem or "diamond" in product.tags:
            return jewellery.solitaire_ring(inner, weight, purity)
        return jewellery.plain_ring(inner, weight, purity)
    if kind is ProductKind.BANGLE:
        return jewellery.bangle(_f(v.inner_diameter_mm, "inner_diameter_mm", product), weight, purity)
    if kind is ProductKind.BRACELET:
        return jewellery.bracelet(_f(v.length_mm, "length_mm", product), weight, purity)
    if kind is ProductKind.NECKLACE:
        return jewellery.necklace(_f(v.length_mm, "length_mm", product), weight, purity)
    if kind is ProductKind.EARRINGS:
        if v.gem or "diamond" in product.tags:
            return jewellery.stud_earrings()
        return jewellery.drop_earrings(weight, purity)
    if kind is ProductKind.CAR:
        return cars.car(cars.SUV if "suv" in product.tags else cars.SEDAN)
    raise ModelInvalid(
        f"no procedural model for kind {kind.value!r}"
    )  # pragma: no cover - enum is exhaustive


def baked_materials(product: Product, variant: Variant | None = None) -> dict[str, MaterialSpec]:
    """Material factors that show `variant` (default: the first) in the GLB itself."""
    v = variant or product.variants[0]
    out: dict[str, MaterialSpec] = {}
    if v.purity is not None:
        roughness = METAL_ROUGHNESS[v.purity.metal]
        if "cast" in product.tags:
            roughness = 0.32
        out["metal"] = MaterialSpec(METAL_BASE_COLOR[v.purity], 1.0, roughness)
    if v.paint_hex is not None:
        base = MATERIALS["paint"]
        out["paint"] = MaterialSpec(srgb_hex_to_linear_rgba(v.paint_hex), base.metallic, base.roughness)
    return out


BRUSH = {"spacing": 0.0002, "contrast": 0.4}
"""`extras.brush` of a product sold in brushed or satin finishes (docs/rendering.md, "Finishes"): streaks round the
band 0.2 mm wide and finer, as deep as each variant's anisotropy (none when polished)."""


def material_extensions(product: Product) -> dict[str, dict[str, Any]]:
    """The product's own KHR material extensions by material name (besides `_mesh.MATERIAL_EXTENSIONS`): a
    product sold in brushed or satin finishes has an anisotropic metal, its direction the band's circumference
    (the TANGENT `_mesh` writes) with the brushing's streaks (`extras.brush`), its strength set per variant by
    `variants.overrides_for`; a product set with stones has its first variant's stone (`gems.GEMS`)."""
    out: dict[str, dict[str, Any]] = {}
    if has_finishes(product):
        out["metal"] = {"KHR_materials_anisotropy": {"anisotropyStrength": MODEL_ANISOTROPY,
                                                     "anisotropyRotation": 0.0},
                        "extras": {"brush": BRUSH}}  # the brushing's streaks, as deep as the variant's finish
    stone = gem_of(product.variants[0].gem)
    if stone is not GEMS["diamond"]:  # the first variant's ruby or sapphire (`_mesh` gives every model a diamond)
        out["gem"] = material_for(stone, depth_mm=2.6)
    return out


def product_scene(product: Product) -> trimesh.Scene:
    """The product's model as a scene ready for GLB export: on the ground, centred, named PBR materials."""
    return to_scene(product_parts(product), baked_materials(product))
