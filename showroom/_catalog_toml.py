"""The one reader of `assets/catalog.toml` (behind `showroom.catalog.load_catalog`): TOML text in, a validated
`Catalog` out; every refusal is `CatalogInvalid` naming the field."""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Collection, Mapping
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

from showroom.catalog import (
    BUILTIN_ENVIRONMENTS,
    MAX_ENV_EXPOSURE_EV,
    Catalog,
    Certificate,
    CraftFeeBasis,
    Environment,
    LocalizedText,
    Product,
    ProductKind,
    Purity,
    SurfaceFinish,
    TryOnAnchor,
    Variant,
    is_environment_file_name,
)
from showroom.errors import CatalogInvalid

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_HEX_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
_E = TypeVar("_E", bound=StrEnum)

_PRODUCT_KEYS = frozenset(
    {
        "id", "kind", "name", "description", "model", "variants", "hallmark", "certificate", "tryon_anchor",
        "dimensions_mm", "tags", "maker", "reservation_deposit_cny", "finance_min_down_payment_ratio",
        "finance_terms_months", "dual_recording", "environment",
    }
)  # fmt: skip
_VARIANT_KEYS = frozenset(
    {
        "id", "name", "purity", "weight_g", "size_label", "inner_diameter_mm", "length_mm", "premium_cny_per_g",
        "craft_fee_cny", "craft_fee_basis", "paint_hex", "trim", "msrp_cny", "stock", "gem", "serial_prefix", "finish", "hallmark",
    }
)  # fmt: skip
_WEARABLE_ANCHORS: Mapping[ProductKind, frozenset[TryOnAnchor]] = {
    ProductKind.RING: frozenset({TryOnAnchor.FINGER}),
    ProductKind.BANGLE: frozenset({TryOnAnchor.WRIST}),
    ProductKind.BRACELET: frozenset({TryOnAnchor.WRIST}),
    ProductKind.NECKLACE: frozenset({TryOnAnchor.NECK}),
    ProductKind.EARRINGS: frozenset({TryOnAnchor.EAR}),
}


class _Table:
    """A TOML table read with its path, so that every error names the field (`products[3].variants[1].weight_g`)."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise CatalogInvalid(f"{path}: must be a table")
        self.data: dict[str, Any] = data
        self.path = path

    def fail(self, key: str, why: str) -> CatalogInvalid:
        return CatalogInvalid(f"{self.path}.{key}: {why}")

    def reject_unknown(self, allowed: frozenset[str]) -> None:
        for key in self.data:
            if key not in allowed:
                raise self.fail(key, f"unknown field (allowed: {', '.join(sorted(allowed))})")

    def has(self, key: str) -> bool:
        return key in self.data

    def text(self, key: str, *, required: bool = True, default: str = "") -> str:
        if key not in self.data:
            if required:
                raise self.fail(key, "is required")
            return default
        value = self.data[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty string")
        return value.strip()

    def optional_text(self, key: str) -> str | None:
        return self.text(key) if key in self.data else None

    def ident(self, key: str) -> str:
        value = self.text(key)
        if not _ID_RE.match(value):
            raise self.fail(key, f"must be lowercase letters, digits and '-' (got {value!r})")
        return value

    def localized(self, key: str) -> LocalizedText:
        if key not in self.data:
            raise self.fail(key, "is required (a table with zh and en)")
        sub = _Table(self.data[key], f"{self.path}.{key}")
        sub.reject_unknown(frozenset({"zh", "en"}))
        return LocalizedText(zh=sub.text("zh"), en=sub.text("en"))

    def decimal(self, key: str, *, positive: bool = True, allow_zero: bool = False) -> Decimal | None:
        if key not in self.data:
            return None
        value = self.data[key]
        what = "a positive number" if positive and not allow_zero else "a number >= 0"
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.fail(key, f"must be {what}")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise self.fail(key, f"must be {what} (got {value!r})") from None
        if not number.is_finite() or number < 0 or (number == 0 and not allow_zero):
            raise self.fail(key, f"must be {what} (got {value!r})")
        return number

    def integer(self, key: str, default: int) -> int:
        if key not in self.data:
            return default
        value: object = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(key, f"must be a whole number >= 0 (got {value!r})")
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        if key not in self.data:
            return default
        value: object = self.data[key]
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false (got {value!r})")
        return value

    def enum(self, key: str, enum: type[_E], *, required: bool = True) -> _E | None:
        if key not in self.data:
            if required:
                raise self.fail(key, f"is required (one of {', '.join(e.value for e in enum)})")
            return None
        value = self.data[key]
        try:
            return enum(value)
        except ValueError:
            raise self.fail(
                key, f"must be one of {', '.join(e.value for e in enum)} (got {value!r})"
            ) from None

    def array(self, key: str) -> list[Any]:
        value = self.data.get(key)
        if not isinstance(value, list) or not value:
            raise self.fail(key, "must be a non-empty array")
        return value


def _environment(t: _Table, environments: Collection[str] | None) -> Environment | None:
    """`environment = "name"` or `environment = { name = "...", rotation_deg = 0, exposure_ev = 0 }`: a built-in
    studio or a file in the environment folder (one of `environments` when the caller listed them)."""
    if not t.has("environment"):
        return None
    raw = t.data["environment"]
    if isinstance(raw, str):
        sub, name, numbers = t, t.text("environment"), {}
    else:
        sub = _Table(raw, f"{t.path}.environment")
        sub.reject_unknown(frozenset({"name", "rotation_deg", "exposure_ev"}))
        name = sub.text("name")
        numbers = {k: sub.data[k] for k in ("rotation_deg", "exposure_ev") if k in sub.data}
    key = "environment" if sub is t else "name"
    if name not in BUILTIN_ENVIRONMENTS:
        if not is_environment_file_name(name):
            raise sub.fail(key, f"must be {', '.join(BUILTIN_ENVIRONMENTS)} or a file name in the environment folder "
                                f"ending in .hdr, .exr, .png or .jpg (got {name!r})")
        if environments is not None and name not in environments:
            have = ", ".join(sorted(environments)) or "none"
            raise sub.fail(key, f"no environment file {name!r} in the environment folder (have: {have})")
    for k, value in numbers.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise sub.fail(k, f"must be a number (got {value!r})")
        if name in BUILTIN_ENVIRONMENTS:
            raise sub.fail(k, f"applies to an environment file, not to the built-in {name!r}")
    exposure = float(numbers.get("exposure_ev", 0.0))
    if abs(exposure) > MAX_ENV_EXPOSURE_EV:
        raise sub.fail("exposure_ev", f"must be within +-{MAX_ENV_EXPOSURE_EV:g} EV (got {exposure:g})")
    rotation = float(numbers.get("rotation_deg", 0.0))
    if abs(rotation) > 3600:
        raise sub.fail("rotation_deg", f"must be within +-3600 degrees (got {rotation:g})")
    return Environment(name, rotation, exposure)


def _halls(doc: dict[str, Any], environments: Collection[str] | None) -> dict[str, Environment]:
    """`[halls.metals]` / `[halls.cars]` with an `environment` each: the default light of a hall's products."""
    if "halls" not in doc:
        return {}
    halls = _Table(doc["halls"], "halls")
    names = frozenset(k.hall for k in ProductKind)
    halls.reject_unknown(names)
    out: dict[str, Environment] = {}
    for hall in sorted(halls.data):
        table = _Table(halls.data[hall], f"halls.{hall}")
        table.reject_unknown(frozenset({"environment"}))
        env = _environment(table, environments)
        if env is not None:
            out[hall] = env
    return out


def read_catalog(text: str, environments: Collection[str] | None = None) -> Catalog:
    """Parses and validates the TOML text of `assets/catalog.toml`; `environments`: the environment file names
    present in the environment folder (None: only the form of the names is checked).

    Raises `CatalogInvalid` whose message names the bad field, e.g.
    `products[3].variants[1].weight_g: must be a positive number (got -5)`.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogInvalid(f"catalog is not valid TOML: {exc}") from None
    top = _Table(doc, "catalog")
    top.reject_unknown(frozenset({"products", "schema_version", "halls"}))
    hall_envs = _halls(doc, environments)
    if "products" not in doc:
        raise CatalogInvalid("products: is required (an array of [[products]] tables)")
    raw_products = doc["products"]
    if not isinstance(raw_products, list) or not raw_products:
        raise CatalogInvalid("products: must be a non-empty array of [[products]] tables")
    products: list[Product] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_products):
        product = _product(_Table(raw, f"products[{i}]"), environments, hall_envs)
        if product.id in seen:
            raise CatalogInvalid(
                f"products[{i}].id: duplicate id {product.id!r} (also products[{seen[product.id]}])"
            )
        seen[product.id] = i
        products.append(product)
    return Catalog(products=tuple(products))


def _product(t: _Table, environments: Collection[str] | None, hall_envs: Mapping[str, Environment]) -> Product:
    pid = t.ident("id")
    t.reject_unknown(_PRODUCT_KEYS)
    kind = t.enum("kind", ProductKind)
    assert kind is not None
    model = t.text("model")
    if not model.endswith(".glb") or "/" in model or "\\" in model or model.startswith("."):
        raise t.fail("model", f"must be a file name ending in .glb under assets/models/ (got {model!r})")
    anchor = t.enum("tryon_anchor", TryOnAnchor, required=False)
    allowed = _WEARABLE_ANCHORS.get(kind)
    if allowed is not None and anchor is None:
        raise t.fail("tryon_anchor", f"is required for {kind.value} (one of {', '.join(sorted(allowed))})")
    if allowed is not None and anchor not in allowed:
        raise t.fail(
            "tryon_anchor", f"must be {' or '.join(sorted(allowed))} for {kind.value} (got {anchor})"
        )
    if allowed is None and anchor is not None:
        raise t.fail("tryon_anchor", f"{kind.value} cannot be tried on")
    certificate = None
    if t.has("certificate"):
        c = _Table(t.data["certificate"], f"{t.path}.certificate")
        c.reject_unknown(frozenset({"issuer", "standard", "number_prefix"}))
        certificate = Certificate(c.text("issuer"), c.text("standard"), c.text("number_prefix"))
    elif kind is not ProductKind.CAR:
        raise t.fail(
            "certificate", "is required for precious-metal products (issuer, standard, number_prefix)"
        )
    dims = None
    if t.has("dimensions_mm"):
        raw_dims = t.data["dimensions_mm"]
        if not isinstance(raw_dims, list) or len(raw_dims) != 3:
            raise t.fail("dimensions_mm", "must be [width, height, depth] in millimetres")
        values: list[Decimal] = []
        for k, v in enumerate(raw_dims):
            if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0:
                raise t.fail(f"dimensions_mm[{k}]", f"must be a positive number of millimetres (got {v!r})")
            values.append(Decimal(str(v)))
        dims = (values[0], values[1], values[2])
    tags = t.data.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(x, str) and x for x in tags):
        raise t.fail("tags", "must be an array of non-empty strings")
    terms = t.data.get("finance_terms_months", [])
    if not isinstance(terms, list) or not all(
        isinstance(x, int) and not isinstance(x, bool) and 0 < x <= 120 for x in terms
    ):
        raise t.fail("finance_terms_months", "must be an array of whole months between 1 and 120")
    ratio = t.decimal("finance_min_down_payment_ratio", allow_zero=True)
    if ratio is not None and ratio >= 1:
        raise t.fail("finance_min_down_payment_ratio", f"must be a fraction below 1 (got {ratio})")
    deposit = t.decimal("reservation_deposit_cny")
    if kind is ProductKind.CAR and deposit is None:
        raise t.fail("reservation_deposit_cny", "is required for cars")
    variants: list[Variant] = []
    seen: dict[str, int] = {}
    for j, raw in enumerate(t.array("variants")):
        variant = _variant(_Table(raw, f"{t.path}.variants[{j}]"), kind)
        if variant.id in seen:
            raise CatalogInvalid(
                f"{t.path}.variants[{j}].id: duplicate variant id {variant.id!r} in product {pid!r}"
            )
        seen[variant.id] = j
        variants.append(variant)
    return Product(
        id=pid,
        kind=kind,
        name=t.localized("name"),
        description=t.localized("description"),
        model=model,
        variants=tuple(variants),
        hallmark=t.text("hallmark", required=kind is not ProductKind.CAR),
        certificate=certificate,
        tryon_anchor=anchor,
        dimensions_mm=dims,
        tags=tuple(tags),
        maker=t.text("maker", required=False),
        reservation_deposit_cny=deposit,
        finance_min_down_payment_ratio=ratio,
        finance_terms_months=tuple(terms),
        dual_recording=t.flag("dual_recording"),
        environment=_environment(t, environments) or hall_envs.get(kind.hall),
    )


def _variant(t: _Table, kind: ProductKind) -> Variant:
    t.reject_unknown(_VARIANT_KEYS)
    vid = t.ident("id")
    name = t.localized("name")
    purity = t.enum("purity", Purity, required=kind is not ProductKind.CAR)
    weight_g = t.decimal("weight_g")
    basis = t.enum("craft_fee_basis", CraftFeeBasis, required=False) or CraftFeeBasis.PER_PIECE
    paint_hex = t.optional_text("paint_hex")
    if paint_hex is not None and not _HEX_RE.match(paint_hex):
        raise t.fail("paint_hex", f"must be a colour #rrggbb (got {paint_hex!r})")
    msrp = t.decimal("msrp_cny")
    inner = t.decimal("inner_diameter_mm")
    length = t.decimal("length_mm")
    if kind is ProductKind.CAR:
        for key in ("purity", "weight_g", "premium_cny_per_g", "craft_fee_cny", "inner_diameter_mm"):
            if t.has(key):
                raise t.fail(key, "does not apply to a car")
        if msrp is None:
            raise t.fail("msrp_cny", "is required for a car trim")
        if paint_hex is None:
            raise t.fail("paint_hex", "is required for a car variant")
        t.text("trim")
    else:
        if weight_g is None:
            raise t.fail("weight_g", "must be a positive number (grams of metal)")
        for key in ("paint_hex", "msrp_cny", "trim"):
            if t.has(key):
                raise t.fail(key, f"does not apply to {kind.value}")
        if kind in (ProductKind.RING, ProductKind.BANGLE) and inner is None:
            raise t.fail("inner_diameter_mm", f"is required for {kind.value} (the size a customer chooses)")
        if kind in (ProductKind.NECKLACE, ProductKind.BRACELET) and length is None:
            raise t.fail("length_mm", f"is required for {kind.value}")
    return Variant(
        id=vid,
        name=name,
        purity=purity,
        weight_g=weight_g,
        size_label=t.optional_text("size_label"),
        inner_diameter_mm=inner,
        length_mm=length,
        premium_cny_per_g=t.decimal("premium_cny_per_g", allow_zero=True) or Decimal("0"),
        craft_fee_cny=t.decimal("craft_fee_cny", allow_zero=True) or Decimal("0"),
        craft_fee_basis=basis,
        paint_hex=paint_hex.lower() if paint_hex else None,
        trim=t.optional_text("trim"),
        msrp_cny=msrp,
        stock=t.integer("stock", 0),
        gem=t.optional_text("gem"),
        hallmark=t.optional_text("hallmark"),
        serial_prefix=t.optional_text("serial_prefix"),
        finish=t.enum("finish", SurfaceFinish, required=False) or SurfaceFinish.POLISHED,
    )
