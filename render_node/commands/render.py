"""`showroom render`: one still of a catalog product (or of any glTF/GLB file) to an image file.

    showroom render PRODUCT [--variant V] [--yaw-deg D] [--pitch-deg D] [--size 1280x720]
                    [--env studio|counter|car] [--background white|transparent|env] -o out.png
    showroom render --model FILE.glb [--camera gltf:N] [...] -o out.png
    showroom render ... --env FILE.hdr|.exr|.png|.jpg [--env-rotation-deg D] [--env-exposure EV] -o out.png
    showroom render ... --preset reference [--tonemap neutral|aces|linear] -o out.png
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
from render_node.render.cameras import REFERENCE_FOV_DEG
from render_node.render.environment import ENV_NAMES
from render_node.render.types import (
    EnvFile,
    EnvName,
    GltfCameraView,
    MaterialOverride,
    RenderRequest,
    ToneMap,
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
    p.add_argument("--yaw-deg", type=float, help="turntable yaw; 0 looks at the front (default 30; reference: 0)")
    p.add_argument("--pitch-deg", type=float, help="camera elevation above the horizon (default 15; reference: 0)")
    p.add_argument("--fov-deg", type=float, help="vertical field of view (default 30; reference: 45)")
    p.add_argument("--distance-scale", type=float, default=1.0, help="camera distance x this (1 frames the product)")
    p.add_argument("--size", help="WIDTHxHEIGHT in pixels (default 1280x720; with --camera, the camera's aspect)")
    p.add_argument(
        "--env",
        metavar="studio|counter|car|FILE",
        help="environment light: a built-in studio (default: car for cars, else studio) or an equirectangular "
        "(2:1 lat-long) Radiance .hdr, OpenEXR .exr or 8-bit PNG/JPEG file (sRGB, linearised: an approximation of "
        "HDR light); prefiltered once and cached in <assets-dir>/env/cache/; a catalog product's default is the "
        "catalog's environment (its own, else its hall's)",
    )
    p.add_argument(
        "--env-rotation-deg",
        type=float,
        metavar="D",
        help="with --env FILE: turn the environment about +Y by D degrees, +Z towards +X (default 0)",
    )
    p.add_argument("--env-exposure", type=float, metavar="EV", help="with --env FILE: scale its light by 2^EV (default 0)")
    p.add_argument("--background", choices=("white", "transparent", "env"), help="default white; reference: env")
    p.add_argument(
        "--preset",
        choices=("product", "reference"),
        default="product",
        help="reference: the glTF Sample Viewer's conventions for certification and comparison: the file's own camera "
        "(gltf:0) when it has one, else the front at 45 degrees; no contact shadow; the exact shader on every pixel; "
        "exposure 1; gamma 2.2 output (docs/rendering.md, 'Reference mode')",
    )
    p.add_argument(
        "--tonemap",
        choices=("neutral", "aces", "linear"),
        default="neutral",
        help="neutral: Khronos PBR Neutral (default); aces: ACES as the glTF Sample Viewer implements it (Hill's fit); "
        "linear: exposure only, clipped",
    )
    p.add_argument("--camera", help="gltf:N renders from the model file's N-th camera (its aspect and field of view)")
    p.add_argument("--no-shadow", action="store_true", help="leave out the contact shadow on the ground")
    p.add_argument("--shading", choices=("auto", "exact", "baked"), default="auto", help="see docs/rendering.md")
    p.add_argument("--assets-dir", type=Path, help="catalog, models and environment maps (SHOWROOM_ASSETS_DIR)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output image: .png, .jpg or .webp")
    p.set_defaults(func=run)


def _catalog_target(
    assets_dir: Path, product_id: str, variant_id: str | None
) -> tuple[Path, tuple[MaterialOverride, ...], EnvName | EnvFile]:
    from render_node.assets.variants import overrides_for
    from render_node.env_choice import env_for, environment_files
    from showroom.catalog import load_catalog

    catalog_path = assets_dir / "catalog.toml"
    if not catalog_path.is_file():
        raise BadRequest(f"no catalog at {catalog_path}")
    catalog = load_catalog(catalog_path.read_text(encoding="utf-8"), environment_files(assets_dir / "env"))
    product = catalog.get(product_id)
    variant = product.variant(variant_id)
    model = assets_dir / "models" / product.model
    if not model.is_file():
        raise BadRequest(f"model {model} is not built yet: run `showroom assets build`")
    return model, tuple(overrides_for(product, variant)), env_for(product, assets_dir / "env")


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


def _camera_count(model: Path) -> int:
    from render_node.render.gltf import read_gltf

    return len(read_gltf(model).camera_nodes())


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
    env_default: EnvName | EnvFile = "studio"
    reference = args.preset == "reference"
    if args.model is not None:
        model = Path(args.model)
        if not model.is_file():
            raise BadRequest(f"no such model file: {model}")
    else:
        model, overrides, env_default = _catalog_target(config.assets_dir, args.product, args.variant)
    view: View
    camera = args.camera
    turntable_given = any(v is not None for v in (args.yaw_deg, args.pitch_deg, args.fov_deg))
    if camera is None and reference and args.model is not None and not turntable_given and _camera_count(model):
        camera = "gltf:0"  # the reference preset looks through the file's own camera
    if camera is not None:
        m = _CAMERA.match(camera)
        if not m:
            raise BadRequest(f"--camera must be gltf:N, got {camera!r}")
        index = int(m.group(1))
        view = GltfCameraView(index)
        size = parse_size(args.size) if args.size else _camera_size(model, index, DEFAULT_SIZE_PX[1])
    else:
        yaw, pitch, fov = (0.0, 0.0, REFERENCE_FOV_DEG) if reference else (30.0, 15.0, 30.0)
        view = TurntableView(
            yaw if args.yaw_deg is None else args.yaw_deg,
            pitch if args.pitch_deg is None else args.pitch_deg,
            args.distance_scale,
            fov if args.fov_deg is None else args.fov_deg,
        )
        size = parse_size(args.size) if args.size else DEFAULT_SIZE_PX
    if args.env is not None:
        env = _environment(args.env, args.env_rotation_deg, args.env_exposure)
    elif args.env_rotation_deg is not None or args.env_exposure is not None:
        raise BadRequest("--env-rotation-deg and --env-exposure need --env FILE")
    else:
        env = env_default
    tonemap: ToneMap = args.tonemap
    request = RenderRequest(
        model_path=model,
        view=view,
        size_px=size,
        background=args.background or ("env" if reference else "white"),
        env=env,
        shadow=not (args.no_shadow or reference),
        overrides=overrides,
        tonemap=tonemap,
        reference=reference,
    )
    from render_node.render.engine import PandaRenderer

    started = time.perf_counter()
    renderer = PandaRenderer(config.assets_dir / "env", shading=args.shading)
    try:
        frame = renderer.render(request)
    finally:
        renderer.close()
    write_image(args.output, frame)
    preset = f" preset={args.preset} tonemap={tonemap}" if reference or tonemap != "neutral" else ""
    print(f"{args.output} {frame.shape[1]}x{frame.shape[0]} env={env.path if isinstance(env, EnvFile) else env}{preset} in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    return 0
