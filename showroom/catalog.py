"""The catalog: products, their variants, and the facts a bank must show about them. Pure domain: no I/O.

`load_catalog(text, environments)` parses the TOML text of `assets/catalog.toml` (the caller reads the file) and
validates it, naming the bad field on error (`CatalogInvalid`); `environments` are the environment file names the
caller found in its environment folder (`assets/env/`), which the products and halls may name.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from showroom.errors import UnknownProduct, UnknownVariant


class Metal(StrEnum):
    GOLD = "Au"
    SILVER = "Ag"
    PLATINUM = "Pt"


class Purity(StrEnum):
    """Fineness marks as stamped in China (GB 11887)."""

    AU9999 = "Au9999"
    AU999 = "Au999"
    AU750 = "Au750"  # 18K
    PT950 = "Pt950"
    AG999 = "Ag999"
    AG925 = "Ag925"

    @property
    def metal(self) -> Metal:
        return {"Au": Metal.GOLD, "Ag": Metal.SILVER, "Pt": Metal.PLATINUM}[self.value[:2]]

    @property
    def fineness(self) -> Decimal:
        """Mass fraction of the pure metal, e.g. Decimal('0.999') for Au999."""
        return Decimal("0." + self.value[2:])


class ProductKind(StrEnum):
    GOLD_BAR = "gold_bar"
    COIN = "coin"
    RING = "ring"
    BANGLE = "bangle"
    BRACELET = "bracelet"
    NECKLACE = "necklace"
    EARRINGS = "earrings"
    CAR = "car"

    @property
    def hall(self) -> str:
        return "cars" if self is ProductKind.CAR else "metals"

    @property
    def is_jewellery(self) -> bool:
        return self in {
            ProductKind.RING,
            ProductKind.BANGLE,
            ProductKind.BRACELET,
            ProductKind.NECKLACE,
            ProductKind.EARRINGS,
        }


class TryOnAnchor(StrEnum):
    FINGER = "finger"
    WRIST = "wrist"
    NECK = "neck"
    EAR = "ear"


class CraftFeeBasis(StrEnum):
    PER_GRAM = "per_gram"
    PER_PIECE = "per_piece"


class SurfaceFinish(StrEnum):
    """How a metal's surface is worked: mirror polished, brushed (fine lines around a band), satin (softer)."""

    POLISHED = "polished"
    BRUSHED = "brushed"
    SATIN = "satin"


@dataclass(frozen=True)
class LocalizedText:
    zh: str
    en: str


@dataclass(frozen=True)
class Variant:
    """One purchasable form of a product: a metal and weight, a ring size, a car trim and paint."""

    id: str
    name: LocalizedText
    purity: Purity | None = None
    weight_g: Decimal | None = None
    size_label: str | None = None
    """Ring size (Chinese hand size number), bangle inner diameter, chain length, ..."""
    inner_diameter_mm: Decimal | None = None
    length_mm: Decimal | None = None
    premium_cny_per_g: Decimal = Decimal("0")
    """Bars and coins: bank premium over spot per gram of product."""
    craft_fee_cny: Decimal = Decimal("0")
    craft_fee_basis: CraftFeeBasis = CraftFeeBasis.PER_PIECE
    paint_hex: str | None = None
    """Cars: paint colour as #rrggbb."""
    trim: str | None = None
    msrp_cny: Decimal | None = None
    """Cars: the list price of this trim."""
    stock: int = 0
    gem: str | None = None
    """Jewellery with a stone: e.g. "diamond 0.30 ct"."""
    hallmark: str | None = None
    """The stamp of this variant when it differs from the product's (a ruby variant of a diamond ring): see
    `Product.hallmark_of`."""
    serial_prefix: str | None = None
    """Bars: the prefix of the serial number stamped on each bar."""
    finish: SurfaceFinish = SurfaceFinish.POLISHED
    """Jewellery: the metal's surface finish (the picture shows it: render_node/assets/variants.py FINISHES)."""


BUILTIN_ENVIRONMENTS = ("studio", "counter", "car")
"""The render node's own studios; anything else an environment names is a file in the environment folder."""
_ENV_FILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.(hdr|exr|png|jpg|jpeg)$", re.IGNORECASE)
MAX_ENV_EXPOSURE_EV = 16.0


def is_environment_file_name(name: str) -> bool:
    """A bare file name in the environment folder: letters, digits, '.', '_', '-', ending in .hdr, .exr, .png, .jpg
    or .jpeg; no folder, no leading dot (so never a path that leaves the folder)."""
    return bool(_ENV_FILE_RE.match(name)) and ".." not in name


@dataclass(frozen=True)
class Environment:
    """The light a product is shown in: a built-in studio or an environment file (a bank's calibrated studio HDR)
    by its name in the environment folder, turned about the vertical by `rotation_deg` and scaled by 2^`exposure_ev`
    (files only)."""

    name: str
    rotation_deg: float = 0.0
    exposure_ev: float = 0.0

    @property
    def is_file(self) -> bool:
        return self.name not in BUILTIN_ENVIRONMENTS


@dataclass(frozen=True)
class Certificate:
    issuer: str
    standard: str
    number_prefix: str


@dataclass(frozen=True)
class Product:
    id: str
    kind: ProductKind
    name: LocalizedText
    description: LocalizedText
    model: str
    """File name of the GLB under assets/models/."""
    variants: tuple[Variant, ...]
    hallmark: str = ""
    certificate: Certificate | None = None
    tryon_anchor: TryOnAnchor | None = None
    dimensions_mm: tuple[Decimal, Decimal, Decimal] | None = None
    """Nominal outer size (width, height, depth) in millimetres."""
    tags: tuple[str, ...] = field(default=())
    maker: str = ""
    """Maker's mark / refiner (bars, coins, jewellery) or manufacturer (cars)."""
    reservation_deposit_cny: Decimal | None = None
    """Cars: the refundable deposit paid online to reserve the car."""
    finance_min_down_payment_ratio: Decimal | None = None
    """Cars: the lowest down payment the bank offers for this car (0.15 = 15%)."""
    finance_terms_months: tuple[int, ...] = field(default=())
    """Cars: the loan terms offered."""
    dual_recording: bool = False
    """The bank sells this product only with the advisor call recorded in audio and video (双录, its choice per
    product): an advisor's `offer` of it needs the customer's consent and a running recording (docs/advisor.md)."""
    environment: Environment | None = None
    """Its light (the product's own `environment`, else its hall's); None: the node's default for the hall."""

    def hallmark_of(self, variant: Variant) -> str:
        """What is stamped on `variant`: its own hallmark when the catalog gives one, else the product's (the
        certificate prints it)."""
        return variant.hallmark or self.hallmark

    @property
    def hall(self) -> str:
        return self.kind.hall

    def variant(self, variant_id: str | None) -> Variant:
        """The named variant, or the first one when `variant_id` is None."""
        if variant_id is None:
            return self.variants[0]
        for v in self.variants:
            if v.id == variant_id:
                return v
        raise UnknownVariant(f"product {self.id!r} has no variant {variant_id!r}")


@dataclass(frozen=True)
class Catalog:
    products: tuple[Product, ...]

    def get(self, product_id: str) -> Product:
        for p in self.products:
            if p.id == product_id:
                return p
        raise UnknownProduct(f"no product {product_id!r} in the catalog")

    def __iter__(self) -> Iterator[Product]:
        return iter(self.products)

    def __len__(self) -> int:
        return len(self.products)


def load_catalog(text: str, environments: Collection[str] | None = None) -> Catalog:
    """Parses and validates the TOML text of `assets/catalog.toml` (`showroom/_catalog_toml.py`).

    `environments`: the environment file names present (None: names are checked for their form only).
    Raises `CatalogInvalid` whose message names the bad field, e.g.
    `products[3].variants[1].weight_g: must be a positive number (got -5)` or
    `halls.metals.environment: no environment file 'bank.hdr' in the environment folder (...)`.
    """
    from showroom._catalog_toml import read_catalog  # the reader builds this module's types

    return read_catalog(text, environments)
