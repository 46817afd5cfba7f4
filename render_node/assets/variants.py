"""What a catalog variant changes in the picture: metal colour by purity, surface finish, car paint, the stone, and
real size.

`overrides_for(product, variant)` returns the `MaterialOverride`s the renderer applies to the product's GLB
(material names as in `render_node.assets`). `scale_for(product, variant)` is the uniform scale that takes the
model (built at the product's first variant) to the variant's real size: try-on and AR use it.
"""

from __future__ import annotations

from dataclasses import dataclass

from render_node.assets.gems import Gem, attenuation_distance_m, dispersion_of, gem_of
from render_node.render.types import MaterialOverride
from showroom.catalog import Metal, Product, ProductKind, Purity, Variant

RGBA = tuple[float, float, float, float]

# Linear-light base colours (the glTF baseColorFactor) of metals, from measured reflectance at normal incidence
# (F0); alloys are blended towards their partner metals: 18K yellow gold carries silver and copper.
METAL_BASE_COLOR: dict[Purity, RGBA] = {
    Purity.AU9999: (1.000, 0.766, 0.336, 1.0),
    Purity.AU999: (1.000, 0.766, 0.336, 1.0),
    Purity.AU750: (0.955, 0.725, 0.400, 1.0),
    Purity.PT950: (0.672, 0.637, 0.585, 1.0),
    Purity.AG999: (0.972, 0.960, 0.915, 1.0),
    Purity.AG925: (0.950, 0.935, 0.890, 1.0),
}

METAL_ROUGHNESS: dict[Metal, float] = {Metal.GOLD: 0.18, Metal.PLATINUM: 0.16, Metal.SILVER: 0.2}


@dataclass(frozen=True)
class Finish:
    """A metal's surface finish: KHR_materials_anisotropy strength along the band's circumference (the model's
    TANGENT) and the roughness; None keeps the model's (the purity's polish)."""

    anisotropy: float
    roughness: float | None = None


FINISHES: dict[str, Finish] = {
    "polished": Finish(0.0),
    # brushed: highlights drawn out around the band, clearly rougher than the mirror polish
    "brushed": Finish(0.85, 0.3),
    # satin: a softer sheen, rougher still, with a milder stretch
    "satin": Finish(0.5, 0.42),
}
"""Finishes a band-shaped product (the plain band ring, the bangle) is sold in: the catalog variant's `finish`."""

MODEL_ANISOTROPY = 0.05
"""The anisotropy written into the model of a product sold in several finishes: a hint of the polishing wheel's
lines around the band that also keeps the shader's anisotropy on, so that `overrides_for` can set each variant's
finish (polished: 0, exactly isotropic)."""


def finish_of(variant: Variant) -> str:
    """The variant's surface finish (the catalog's `finish`, polished when it names none)."""
    return variant.finish.value


def has_finishes(product: Product) -> bool:
    """True when the catalog sells the product in a finish other than polished: its model carries anisotropy."""
    return any(finish_of(v) != "polished" for v in product.variants)


def srgb_hex_to_linear_rgba(hex_colour: str) -> RGBA:
    """'#rrggbb' (sRGB, as people pick colours) -> linear RGBA for a glTF base colour factor."""
    text = hex_colour.lstrip("#")
    if len(text) != 6:
        raise ValueError(f"not a #rrggbb colour: {hex_colour!r}")
    channels = [int(text[i : i + 2], 16) / 255.0 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return (linear[0], linear[1], linear[2], 1.0)


def overrides_for(product: Product, variant: Variant) -> tuple[MaterialOverride, ...]:
    """The material overrides that show `variant` of `product` (empty when the model already shows it)."""
    overrides: list[MaterialOverride] = []
    if variant.purity is not None:
        overrides.append(
            MaterialOverride(
                material="metal",
                base_color_rgba=METAL_BASE_COLOR[variant.purity],
                metallic=1.0,
            )
        )
    if has_finishes(product):
        finish = FINISHES[finish_of(variant)]
        overrides.append(MaterialOverride(material="metal", roughness=finish.roughness, anisotropy=finish.anisotropy))
    if variant.paint_hex is not None:
        overrides.append(
            MaterialOverride(material="paint", base_color_rgba=srgb_hex_to_linear_rgba(variant.paint_hex))
        )
    stone = stone_override(product, variant)
    if stone is not None:
        overrides.append(stone)
    if product.kind is ProductKind.CAR and variant.trim is not None and _is_top_trim(product, variant):
        # The top trim has dark "shadow chrome" window trim and grille.
        overrides.append(
            MaterialOverride(material="chrome", base_color_rgba=(0.18, 0.18, 0.2, 1.0), roughness=0.25)
        )
    return tuple(overrides)


def stone_override(product: Product, variant: Variant) -> MaterialOverride | None:
    """The `gem` material's optics when the variant's stone (its `gem` text: 'ruby 0.35 ct ...') is not the one
    the model was built with (the first variant's, `procedural.material_extensions`): the same ior, dispersion
    and body colour `gems.material_for` writes into a model of that stone. None when the model shows it."""
    if not variant.gem:
        return None
    stone = gem_of(variant.gem)
    if stone == gem_of(product.variants[0].gem):
        return None
    return gem_override(stone)


def gem_override(stone: Gem) -> MaterialOverride:
    """A `gem` material override that turns the model's stone into `stone` (KHR_materials_ior, _dispersion and
    _volume's attenuation colour and distance as `gems.material_for` writes them)."""
    return MaterialOverride(
        material="gem",
        ior=stone.ior,
        dispersion=dispersion_of(stone),
        attenuation_rgb=stone.attenuation_rgb,
        attenuation_distance_m=attenuation_distance_m(stone),
    )


def _is_top_trim(product: Product, variant: Variant) -> bool:
    trims = [v.trim for v in product.variants if v.trim is not None]
    prices = {t: max(v.msrp_cny or 0 for v in product.variants if v.trim == t) for t in trims}
    top = max(prices, key=lambda t: prices[t])
    return len(prices) > 1 and variant.trim == top


def scale_for(product: Product, variant: Variant) -> float:
    """Uniform scale from the built model (the product's first variant) to this variant's real size."""
    base = product.variants[0]
    for attribute in ("inner_diameter_mm", "length_mm"):
        wanted, built = getattr(variant, attribute), getattr(base, attribute)
        if wanted is not None and built is not None and built > 0:
            if product.kind in (ProductKind.NECKLACE, ProductKind.BRACELET):
                return 1.0  # a chain's length changes how it drapes, not the size of its links
            return float(wanted / built)
    return 1.0
