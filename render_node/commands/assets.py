"""`showroom assets build|import|validate`: the asset pipeline from the command line.

- `build [--if-stale] [--only ID ...]` writes every catalog product's GLB (assets/models/), its thumbnail
  (assets/thumbnails/), the environment maps (assets/env/) and the bank hall (assets/hall/: baked GLB and
  reflection probes; see docs/hall.md), with a progress bar;
- `hall [--force]` builds only the hall (when stale, or always with --force);
- `guide [--force] [--from FILE.glb]` builds only the digital guide's character (assets/guide/guide.glb), or puts
  the bank's own in its place, checked (docs/guide.md);
- `import FILE.glb --id ID` validates and normalises an operator's glTF/GLB (units, up axis, centre, ground)
  into assets/models/ID.glb;
- `validate FILE` checks a glTF/GLB and prints its bounds, triangles and materials, or what is wrong.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from render_node.config import load_config
from render_node.errors import BadRequest, NodeError
from render_node.render.errors import RenderError

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Adds `assets build|import|validate` to `sub` (argparse subparsers)."""
    parser = sub.add_parser("assets", help="build, import and validate 3D assets")
    inner = parser.add_subparsers(dest="assets_command", metavar="ACTION", required=True)

    build = inner.add_parser("build", help="build product models, thumbnails and environment maps")
    build.add_argument("--if-stale", action="store_true", help="only rebuild what is missing or out of date")
    build.add_argument("--only", action="append", metavar="ID", help="only this product (repeatable)")
    build.add_argument("--no-thumbnails", action="store_true", help="skip the thumbnails (no GL needed)")
    build.add_argument("--no-env", action="store_true", help="skip the environment maps")
    build.add_argument("--no-hall", action="store_true", help="skip the bank hall (assets/hall/)")
    build.add_argument("--no-guide", action="store_true", help="skip the guide's character (assets/guide/)")
    build.add_argument(
        "--no-lods",
        action="store_true",
        help="skip ID.lod1.glb (1/4 triangles) and ID.lod2.glb (1/16) per model (the hall draws far products "
        "from them)",
    )
    build.add_argument(
        "--assets-dir", type=Path, default=None, help="assets folder (default: SHOWROOM_ASSETS_DIR)"
    )
    build.set_defaults(func=_build)

    hall = inner.add_parser("hall", help="build the bank hall: baked GLB and reflection probes (assets/hall/)")
    hall.add_argument("--force", action="store_true", help="rebuild even when the hall is up to date")
    hall.add_argument(
        "--assets-dir", type=Path, default=None, help="assets folder (default: SHOWROOM_ASSETS_DIR)"
    )
    hall.set_defaults(func=_hall)

    guide = inner.add_parser("guide", help="build the digital guide's character (assets/guide/guide.glb)")
    guide.add_argument("--force", action="store_true",
                       help="rebuild the default character even when it is up to date (or the bank's own is in place)")
    guide.add_argument("--from", dest="source", type=Path, default=None, metavar="FILE.glb",
                       help="put the bank's own character in place of the default (checked first: skin, Head joint, "
                       "the 15 Oculus visemes and blinks, clips idle/talk/welcome/point/walk); builds keep it")
    guide.add_argument(
        "--assets-dir", type=Path, default=None, help="assets folder (default: SHOWROOM_ASSETS_DIR)"
    )
    guide.set_defaults(func=_guide)

    imp = inner.add_parser("import", help="validate + normalise a glTF/GLB into assets/models/ID.glb")
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument("--id", required=True, help="product id (file name of the model: ID.glb)")
    imp.add_argument(
        "--unit-m", type=float, default=None, help="metres per file unit when the file is not in metres"
    )
    imp.add_argument(
        "--up", choices=("y", "z"), default=None, help="the file's up axis (default: guess; glTF says +Y)"
    )
    imp.add_argument("--force", action="store_true", help="replace an existing model")
    imp.add_argument(
        "--assets-dir", type=Path, default=None, help="assets folder (default: SHOWROOM_ASSETS_DIR)"
    )
    imp.set_defaults(func=_import)

    val = inner.add_parser("validate", help="check a glTF/GLB file and describe it")
    val.add_argument("file", type=Path, metavar="FILE")
    val.add_argument("--json", action="store_true", help="print the report as JSON")
    val.set_defaults(func=_validate)


def _build(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from render_node.assets.build import build_models, stale_products, write_thumbnails
    from render_node.commands.catalog import read_catalog

    config = load_config({"assets_dir": args.assets_dir})
    assets_dir = config.assets_dir
    catalog = read_catalog(assets_dir)
    started = time.monotonic()
    if args.only:
        for pid in args.only:
            catalog.get(pid)  # unknown ids fail before any work
    if not args.no_env:
        _build_environments(assets_dir / "env", args.if_stale)
    todo = (
        stale_products(catalog, assets_dir, args.only)
        if args.if_stale
        else [catalog.get(pid) for pid in (args.only or [p.id for p in catalog])]
    )
    thumbs_missing = [
        p.id for p in (catalog.get(i) for i in (args.only or [p.id for p in catalog]))
        if not (assets_dir / "thumbnails" / f"{p.id}.png").is_file()
    ]  # fmt: skip
    if not todo:
        print(
            f"assets: all {len(args.only or catalog.products)} models are up to date in {assets_dir / 'models'}"
        )
    else:
        with tqdm(total=len(todo), unit="model", desc="models", file=sys.stderr, dynamic_ncols=True) as bar:

            def tick(product: Any) -> None:
                bar.set_postfix_str(product.id)
                bar.update(1)

            built = build_models(catalog, assets_dir, only=[p.id for p in todo], on_product=tick)
        triangles = sum(b.triangles for b in built if not b.skipped)
        print(f"assets: built {len(built)} models ({triangles:,} triangles) in {assets_dir / 'models'}")
    if not args.no_lods:
        from render_node.assets.build import lod_path, write_lods

        rebuilt = {p.id for p in todo}
        lods = [p for p in catalog.products if (not args.only or p.id in args.only)
                and (p.id in rebuilt or not lod_path(assets_dir / "models" / p.model, 2).is_file())]
        if lods:
            with tqdm(total=len(lods), unit="model", desc="LODs", file=sys.stderr, dynamic_ncols=True) as bar:
                for product in lods:
                    write_lods(assets_dir / "models" / product.model)
                    bar.update(1)
            print(f"assets: wrote LODs of {len(lods)} models")
    if not args.no_thumbnails:
        wanted = sorted({p.id for p in todo} | set(thumbs_missing), key=[p.id for p in catalog].index)
        if wanted:
            try:
                with tqdm(
                    total=len(wanted), unit="image", desc="thumbnails", file=sys.stderr, dynamic_ncols=True
                ) as bar:
                    write_thumbnails(catalog, assets_dir, wanted, on_product=lambda _p: bar.update(1))
                print(f"assets: wrote {len(wanted)} thumbnails in {assets_dir / 'thumbnails'}")
            except (NodeError, RenderError) as exc:
                print(f"assets: thumbnails skipped: {exc.message}", file=sys.stderr)
    if not (args.no_hall or args.only):
        try:
            _build_hall(assets_dir, force=not args.if_stale)
        except (NodeError, RenderError) as exc:
            print(f"assets: hall skipped: {exc.message}", file=sys.stderr)
    if not (args.no_guide or args.only):
        _build_guide(assets_dir, force=not args.if_stale)
    print(f"assets: done in {time.monotonic() - started:.1f} s")
    return 0


def _hall(args: argparse.Namespace) -> int:
    config = load_config({"assets_dir": args.assets_dir})
    _build_hall(config.assets_dir, force=args.force)
    return 0


def _build_hall(assets_dir: Path, *, force: bool) -> None:
    from render_node.hall.build import ensure_hall

    t = time.monotonic()
    report = ensure_hall(assets_dir, force=force)
    if report.skipped:
        print(f"assets: the hall is up to date in {report.glb.parent}")
        return
    print(
        f"assets: built the hall in {report.glb.parent} ({report.triangles:,} triangles, "
        f"{report.glb_bytes / 1e6:.1f} MB, {report.probes} probes) in {time.monotonic() - t:.1f} s "
        f"(geometry {report.geometry_s:.1f} s, bake {report.bake_s:.1f} s, GLB {report.write_s:.1f} s, "
        f"probes {report.probes_s:.1f} s)"
    )


def _guide(args: argparse.Namespace) -> int:
    config = load_config({"assets_dir": args.assets_dir})
    if args.source is not None:
        from render_node.guide.guide_import import GuideInvalid, import_guide

        if args.force:
            print("assets: --from and --force exclude each other", file=sys.stderr)
            return 2
        try:
            done = import_guide(config.assets_dir, args.source)
        except GuideInvalid as exc:
            print(f"assets: {exc}", file=sys.stderr)
            return 2
        print(f"assets: the guide is now {done.source} ({done.triangles:,} triangles, clips {', '.join(done.clips)}) "
              f"in {done.glb}; `showroom assets guide --force` puts the default back")
        return 0
    _build_guide(config.assets_dir, force=args.force, replace_imported=args.force)
    return 0


def _build_guide(assets_dir: Path, *, force: bool, replace_imported: bool = False) -> None:
    from render_node.guide.character.build import ensure_guide

    report = ensure_guide(assets_dir, force=force, replace_imported=replace_imported)
    if report.imported:
        print(f"assets: the bank's own guide ({report.imported}) is kept in {report.glb.parent}")
        return
    if report.skipped:
        print(f"assets: the guide is up to date in {report.glb.parent}")
        return
    print(
        f"assets: built the guide in {report.glb} ({report.triangles:,} triangles, {report.glb_bytes / 1e6:.1f} MB) "
        f"in {report.build_s:.1f} s"
    )


def _build_environments(env_dir: Path, if_stale: bool) -> None:
    try:
        from render_node.render import environment
    except ImportError as exc:  # pragma: no cover - the render core ships with the package
        print(f"assets: environment maps skipped: the render core is not available ({exc})", file=sys.stderr)
        return
    build = getattr(environment, "build_environments", None)
    if build is None:  # pragma: no cover
        print(
            "assets: environment maps skipped: render_node.render.environment has no build_environments",
            file=sys.stderr,
        )
        return
    present = getattr(environment, "environments_present", None)
    if if_stale and present is not None and present(env_dir):
        print(f"assets: environment maps are up to date in {env_dir}")
        return
    t = time.monotonic()
    written = build(env_dir)
    print(f"assets: wrote {len(written)} environment files in {env_dir} ({time.monotonic() - t:.1f} s)")


def _import(args: argparse.Namespace) -> int:
    from render_node.assets.build import write_atomic
    from render_node.assets.gltf_import import import_model

    config = load_config({"assets_dir": args.assets_dir})
    from render_node.assets.gltf_import import check_product_id

    check_product_id(args.id)
    target = config.assets_dir / "models" / f"{args.id}.glb"
    if target.exists() and not args.force:
        raise BadRequest(f"{target} exists; pass --force to replace it")
    result = import_model(args.file, unit_m=args.unit_m, up=args.up)
    write_atomic(target, result.glb)
    r = result.report
    print(f"imported {args.file} -> {target}")
    for note in result.notes:
        print(f"  note: {note}")
    w, h, d = (x * 1000 for x in r.size_m)
    print(
        f"  size {w:.1f} x {h:.1f} x {d:.1f} mm (W x H x D), {r.triangles:,} triangles, materials: {', '.join(r.materials) or '-'}"
    )
    print(f'  add it to assets/catalog.toml as a [[products]] entry with model = "{args.id}.glb"')
    return 0


def _validate(args: argparse.Namespace) -> int:
    from render_node.assets.gltf_import import validate_file

    report = validate_file(args.file)
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    w, h, d = (x * 1000 for x in report.size_m)
    print(f"{args.file}: valid glTF {report.version} ({'GLB' if report.binary else 'JSON'})")
    print(
        f"  meshes {report.meshes}, primitives {report.primitives}, triangles {report.triangles:,}, nodes {report.nodes}"
    )
    print(
        f"  size {w:.1f} x {h:.1f} x {d:.1f} mm (W x H x D); bounds min {_fmt(report.bounds_min_m)} max {_fmt(report.bounds_max_m)} m"
    )
    print(
        f"  materials: {', '.join(report.materials) or '-'}; textures {report.textures}; cameras {report.cameras}"
    )
    if report.extensions_used:
        print(f"  extensions: {', '.join(report.extensions_used)}")
    for w_ in report.warnings:
        print(f"  warning: {w_}")
    return 0


def _fmt(v: tuple[float, float, float]) -> str:
    return "(" + ", ".join(f"{x:.4g}" for x in v) + ")"
