"""Builds the catalog's assets: one GLB per product under `<assets>/models/`, a thumbnail per product under
`<assets>/thumbnails/`, and the environment maps under `<assets>/env/`.

A product is stale when its GLB is missing or when its catalog entry or the model code changed since it was
built (fingerprints kept in `<assets>/models/.fingerprints.json`). Files are written atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from render_node.assets._mesh import export_glb, glb_material_extensions
from render_node.assets.lods import triangle_count
from render_node.assets.procedural import material_extensions, product_scene
from showroom.catalog import Catalog, Product, ProductKind

log = logging.getLogger(__name__)

FINGERPRINTS = ".fingerprints.json"
THUMBNAIL_SIZE_PX = (512, 512)


@dataclass(frozen=True)
class BuiltModel:
    product_id: str
    path: Path
    triangles: int
    size_bytes: int
    skipped: bool
    """True when the model was up to date and left alone."""


def source_fingerprint() -> str:
    """Hash of the model-building code: a change to it makes every model stale."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted(here.glob("*.py")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def product_fingerprint(product: Product, source: str) -> str:
    return hashlib.sha256(f"{source}\n{product!r}".encode()).hexdigest()[:32]


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_fingerprints(models_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((models_dir / FINGERPRINTS).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def stale_products(catalog: Catalog, assets_dir: Path, only: Iterable[str] | None = None) -> list[Product]:
    """Products whose GLB is missing or out of date."""
    models_dir = assets_dir / "models"
    known = _load_fingerprints(models_dir)
    source = source_fingerprint()
    wanted = _select(catalog, only)
    return [
        p
        for p in wanted
        if not (models_dir / p.model).is_file() or known.get(p.id) != product_fingerprint(p, source)
    ]


def _select(catalog: Catalog, only: Iterable[str] | None) -> list[Product]:
    if only is None:
        return list(catalog)
    return [catalog.get(pid) for pid in only]


def build_models(
    catalog: Catalog,
    assets_dir: Path,
    *,
    only: Iterable[str] | None = None,
    if_stale: bool = False,
    on_product: Callable[[Product], None] | None = None,
) -> list[BuiltModel]:
    """Builds (or, with `if_stale`, rebuilds only out-of-date) product GLBs; `on_product` is called after each."""
    models_dir = assets_dir / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    source = source_fingerprint()
    known = _load_fingerprints(models_dir)
    todo = {p.id for p in (stale_products(catalog, assets_dir, only) if if_stale else _select(catalog, only))}
    built: list[BuiltModel] = []
    for product in _select(catalog, only):
        path = models_dir / product.model
        if product.id not in todo:
            built.append(BuiltModel(product.id, path, -1, path.stat().st_size, skipped=True))
        else:
            scene = product_scene(product)
            data = export_glb(scene, material_extensions(product))
            write_atomic(path, data)
            known[product.id] = product_fingerprint(product, source)
            write_atomic(models_dir / FINGERPRINTS, json.dumps(known, indent=1, sort_keys=True).encode())
            built.append(BuiltModel(product.id, path, triangle_count(scene), len(data), skipped=False))
        if on_product is not None:
            on_product(product)
    return built


def lod_path(model_path: Path, level: int) -> Path:
    """`models/ring.glb` -> `models/ring.lod1.glb` (level 0 is the model itself)."""
    return model_path if level == 0 else model_path.with_name(f"{model_path.stem}.lod{level}.glb")


def write_lods(model_path: Path, ratios: tuple[float, ...] = (0.25, 0.0625)) -> list[Path]:
    """Writes coarser copies of a GLB model (open3d quadric decimation, each mesh to `ratio` of its triangles)
    beside it as `<stem>.lod1.glb`, `<stem>.lod2.glb`, ... Materials and names are kept."""
    import trimesh

    from render_node.assets.lods import build_lods

    scene = trimesh.load(str(model_path), force="scene")
    assert isinstance(scene, trimesh.Scene)
    extensions = glb_material_extensions(model_path.read_bytes())  # trimesh drops them; the LODs keep them
    written: list[Path] = []
    for level, lod in enumerate(build_lods(scene, ratios), start=1):
        path = lod_path(model_path, level)
        write_atomic(path, export_glb(lod, extensions))
        written.append(path)
    return written


def write_thumbnails(
    catalog: Catalog,
    assets_dir: Path,
    product_ids: Iterable[str],
    *,
    on_product: Callable[[Product], None] | None = None,
) -> list[Path]:
    """Renders a 3/4 front view of each product (PNG, transparent background) with the node's renderer."""
    from PIL import Image

    from render_node.assets.variants import overrides_for
    from render_node.render.engine import PandaRenderer
    from render_node.render.types import RenderRequest, TurntableView

    out_dir = assets_dir / "thumbnails"
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    renderer = PandaRenderer(assets_dir / "env")
    try:
        for pid in product_ids:
            product = catalog.get(pid)
            car = product.kind is ProductKind.CAR
            request = RenderRequest(
                model_path=assets_dir / "models" / product.model,
                view=TurntableView(yaw_deg=35.0 if car else 25.0, pitch_deg=12.0 if car else 18.0),
                size_px=THUMBNAIL_SIZE_PX,
                background="transparent",
                env="car" if car else "studio",
                overrides=overrides_for(product, product.variants[0]),
            )
            rgba = renderer.render(request)
            path = out_dir / f"{product.id}.png"
            import io

            buf = io.BytesIO()
            Image.fromarray(rgba, "RGBA").save(buf, format="PNG", optimize=True)
            write_atomic(path, buf.getvalue())
            written.append(path)
            if on_product is not None:
                on_product(product)
    finally:
        renderer.close()
    return written
