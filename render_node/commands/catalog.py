"""`showroom catalog list [--json]`: what the catalog holds, as a table or as the JSON the API serves."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields, is_dataclass
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from render_node.config import load_config
from render_node.errors import BadRequest
from showroom.catalog import Catalog, Product, load_catalog


def register(sub: Any) -> None:
    """Adds `catalog list` to `sub` (argparse subparsers)."""
    parser = sub.add_parser("catalog", help="the product catalog (assets/catalog.toml)")
    inner = parser.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)
    lister = inner.add_parser("list", help="list products and their variants")
    lister.add_argument("--json", action="store_true", help='print {"products": [...]} as JSON')
    lister.add_argument(
        "--assets-dir", type=Path, default=None, help="assets folder (default: SHOWROOM_ASSETS_DIR)"
    )
    lister.set_defaults(func=_list)


def read_catalog(assets_dir: Path) -> Catalog:
    """Reads and validates `<assets_dir>/catalog.toml`."""
    path = assets_dir / "catalog.toml"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadRequest(f"cannot read the catalog {path}: {exc.strerror or exc}") from None
    return load_catalog(text)


def to_json(value: Any) -> Any:
    """Plain JSON values of catalog types: Decimal -> string (exact money), enums -> their value."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    return value


def product_json(product: Product) -> dict[str, Any]:
    data: dict[str, Any] = to_json(product)
    data["hall"] = product.hall
    return data


def _list(args: argparse.Namespace) -> int:
    config = load_config({"assets_dir": args.assets_dir})
    catalog = read_catalog(config.assets_dir)
    if args.json:
        json.dump({"products": [product_json(p) for p in catalog]}, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return 0
    rows = [("ID", "KIND", "NAME", "VARIANTS", "FROM")]
    for p in catalog:
        rows.append((p.id, p.kind.value, f"{p.name.en} / {p.name.zh}", str(len(p.variants)), _from(p)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(widths[i]) if i < 4 else c for i, c in enumerate(r)).rstrip())
    print(f"{len(catalog)} products")
    return 0


def _from(p: Product) -> str:
    prices = [v.msrp_cny for v in p.variants if v.msrp_cny is not None]
    if prices:
        return f"CNY {min(prices):,}"
    weights = sorted({v.weight_g for v in p.variants if v.weight_g is not None})
    purities = sorted({v.purity.value for v in p.variants if v.purity is not None})
    return (
        f"{'/'.join(purities)} {', '.join(f'{w}g' for w in weights[:3])}{'...' if len(weights) > 3 else ''}"
    )
