"""`showroom render`: one still of a catalog product (or of any glTF/GLB file) to an image file.

    showroom render PRODUCT [--variant V] [--yaw-deg D] [--pitch-deg D] [--size 1280x720]
                    [--env studio|counter|car] [--background white|transparent|env] -o out.png
    showroom render --model FILE.glb [--camera gltf:N] [...] -o out.png
    showroom render ... --env FILE.hdr|.exr|.png|.jpg [--env-rotation-deg D] [--env-exposure EV] -o out.png
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Any, cast

import numpy as np

from render_node.config import load_config
from render_node.errors import BadRequest
from render_node.render.environment import ENV_NAMES
from render_node.render.types import (
    EnvFile,
    EnvName,
    GltfCameraView,
    MaterialOverride,
    RenderRequest,
    TurntableView,
    View,
)

_SIZE = re.compile(r"^(\d{2,5})x(\d{2,5})$")
_CAMERA = re.compile(r"^gltf:(\d+)$")
DEFAULT_SIZE_PX = (1280, 720)


def parse_size(text: str) -> tuple[int, int]:
    """'1280x720' -> (1280, 720)."""
    m = _SIZE.match(text.strip().lower())
    if not m:
        raise BadRequest(f"--size must look like 1280x720, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def register(sub: Any) -> None:
    """Adds `showroom render`."""
    p: argparse.ArgumentParser = sub.add_parser(
        "render",
        help="render a catalog product or a glTF/GLB file to an image",
        description="Renders one still offscreen (headless EGL) with physically based shading and image-based "
        "lighting, and writes it as PNG (keeps alpha), JPEG or WebP.",
    )
    p.add_argument("product", nargs="?", help="catalog product id (see `showroom catalog list`)")
    p.add_argument("--model", type=Path, help="render this glTF/GLB file instead of a catalog product")
    p.add_argument("--variant", help="variant id of the product (default: its first variant)")
    p.add_argument("--yaw-deg", type=float, default=30.0, help="turntable yaw; 0 looks at the front (default 30)")
    p.add_argument("--pitch-deg", type=float, default=15.0, help="camera elevation above the horizon (default 15)")
    p.add_argument("--fov-deg", type=float, default=30.0, help="vertical field of view (default 30)")
    p.add_argument("--distance-scale", type=float, default=1.0, help="camera distance x this (1 frames the product)")
    p.add_argument("--size", help="WIDTHxHEIGHT in pixels (default 1280x720; with --camera, the camera's aspect)")
    p.add_argument(
        "--env",
        metavar="studio|counter|car|FILE",
        help="environment light: a built-in studio (default: car for cars, else studio) or an equirectangular "
        "(2:1 lat-long) Radiance .hdr, OpenEXR .exr or 8-bit PNG/JPEG file (sRGB, linearised: an approximation of "
        "HDR light); prefiltered once and cached in <assets-dir>/env/cache/",
    )
    p.add_argument(
        "--env-rotation-deg",
        type=float,
        metavar="D",
        help="with --env FILE: turn the environment about +Y by D degrees, +Z towards +X (default 0)",
    )
    p.add_argument("--env-exposure", type=float, metavar="EV", help="with --env FILE: scale its light by 2^EV (default 0)")
    p.add_argument("--background", choices=("white", "transparent", "env"), default="white")
    p.add_argument("--camera", help="gltf:N renders from the model file's N-th camera (its aspect and field of view)")
    p.add_argument("--no-shadow", action="store_true", help="leave out the contact shadow on the ground")
    p.add_argument("--shading", choices=("auto", "exact", "baked"), default="auto", help="see docs/rendering.md")
    p.add_argument("--assets-dir", type=Path, help="catalog, models and environment maps (SHOWROOM_ASSETS_DIR)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output image: .png, .jpg or .webp")
    p.set_defaults(func=run)


def _catalog_target(assets_dir: Path, product_id: str, variant_id: str | None) -> tuple[Path, tuple[MaterialOverride, ...], str]:
    from render_node.assets.variants import overrides_for
    from showroom.catalog import ProductKind, load_catalog

    catalog_path = assets_dir / "catalog.toml"
    if not catalog_path.is_file():
        raise BadRequest(f"no catalog at {catalog_path}")
    catalog = load_catalog(catalog_path.read_text(encoding="utf-8"))
    product = catalog.get(product_id)
    variant = product.variant(variant_id)
    model = assets_dir / "models" / product.model
    if not model.is_file():
        raise BadRequest(f"model {model} is not built yet: run `showroom assets build`")
    env = "car" if product.kind is ProductKind.CAR else "studio"
    return model, tuple(overrides_for(product, variant)), env


def _camera_size(model: Path, index: int, height_px: int) -> tuple[int, int]:
    from render_node.render.cameras import size_for_aspect
    from render_node.render.gltf import read_gltf

    asset = read_gltf(model)
    cams = asset.camera_nodes()
    if not 0 <= index < len(cams):
        raise BadRequest(f"{model.name} has {len(cams)} camera(s); there is no camera {index}")
    aspect = cams[index][0].aspect_ratio
    if aspect is None and cams[index][0].kind == "orthographic":
        aspect = cams[index][0].xmag / cams[index][0].ymag
    return size_for_aspect(aspect, height_px) if aspect else (round(height_px * 16 / 9), height_px)


def _environment(text: str, rotation_deg: float | None, exposure_ev: float | None) -> EnvName | EnvFile:
    """A built-in environment name, or an environment file with its turn and exposure."""
    if text in ENV_NAMES:
        if rotation_deg is not None or exposure_ev is not None:
            raise BadRequest("--env-rotation-deg and --env-exposure apply to --env FILE, not to a built-in studio")
        return cast(EnvName, text)
    path = Path(text)
    if not path.is_file():
        raise BadRequest(f"--env must be {', '.join(ENV_NAMES)} or an image file; no such file: {text}")
    return EnvFile(path, rotation_deg or 0.0, exposure_ev or 0.0)


def write_image(path: Path, frame: np.ndarray[Any, np.dtype[np.uint8]]) -> None:
    """Writes `(h, w, 4)` RGBA as PNG (with alpha), or flattened on white as JPEG/WebP."""
    from PIL import Image

    suffix = path.suffix.lower()
    image = Image.fromarray(frame, "RGBA")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".png":
        image.save(path, optimize=False)
        return
    if suffix not in (".jpg", ".jpeg", ".webp"):
        raise BadRequest(f"output must end in .png, .jpg or .webp, got {path.name!r}")
    flat = Image.new("RGB", image.size, (255, 255, 255))
    flat.paste(image, mask=image.getchannel("A"))
    flat.save(path, quality=92)


def run(args: argparse.Namespace) -> int:
    if (args.product is None) == (args.model is None):
        raise BadRequest("give either a PRODUCT id or --model FILE (not both)")
    if args.camera is not None and args.model is None:
        raise BadRequest("--camera gltf:N needs --model FILE")
    config = load_config({"assets_dir": args.assets_dir})
    overrides: tuple[MaterialOverride, ...] = ()
    env_default: str = "studio"
    if args.model is not None:
        model = Path(args.model)
        if not model.is_file():
            raise BadRequest(f"no such model file: {model}")
    else:
        model, overrides, env_default = _catalog_target(config.assets_dir, args.product, args.variant)
    view: View
    if args.camera is not None:
        m = _CAMERA.match(args.camera)
        if not m:
            raise BadRequest(f"--camera must be gltf:N, got {args.camera!r}")
        index = int(m.group(1))
        view = GltfCameraView(index)
        size = parse_size(args.size) if args.size else _camera_size(model, index, DEFAULT_SIZE_PX[1])
    else:
        view = TurntableView(args.yaw_deg, args.pitch_deg, args.distance_scale, args.fov_deg)
        size = parse_size(args.size) if args.size else DEFAULT_SIZE_PX
    env = _environment(args.env or env_default, args.env_rotation_deg, args.env_exposure)
    request = RenderRequest(
        model_path=model,
        view=view,
        size_px=size,
        background=args.background,
        env=env,
        shadow=not args.no_shadow,
        overrides=overrides,
    )
    from render_node.render.engine import PandaRenderer

    started = time.perf_counter()
    renderer = PandaRenderer(config.assets_dir / "env", shading=args.shading)
    try:
        frame = renderer.render(request)
    finally:
        renderer.close()
    write_image(args.output, frame)
    print(f"{args.output} {frame.shape[1]}x{frame.shape[0]} env={env.path if isinstance(env, EnvFile) else env} in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    return 0
