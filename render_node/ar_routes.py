"""Routes of AR overlays and try-on: `POST /api/ar/overlay` and `POST /api/tryon` (multipart forms).

Thin: read the form with byte caps, decode the frame in memory, hand detection/fitting to a small thread pool,
render through the node's render pool, composite and encode off the event loop. Camera frames and photos are never
written to disk or logs (PIPL: faces are sensitive personal data); try-on requires `consent=true`.
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import BodyPartReader, web

from render_node.ar.errors import ConsentRequired, ImageTooLarge
from render_node.ar.frames import MAX_FRAME_BYTES, decode_frame, parse_intrinsics, parse_pose
from render_node.ar.geometry import model_shape
from render_node.ar.overlay import finish_overlay, plan_overlay
from render_node.assets.variants import overrides_for, scale_for
from render_node.encoding import encode_jpeg, encode_png
from render_node.errors import BadRequest
from render_node.keys import CATALOG, CONFIG, RENDER_POOL
from render_node.pool import PRIORITY_LIVE
from render_node.render.types import MaterialOverride
from render_node.tryon.fitting import Finger, Fit
from render_node.tryon.landmarks import LandmarkModels
from render_node.tryon.pipeline import ANCHOR_NAMES, anchor_for, detect_fit, finish_tryon, plan_tryon
from showroom.catalog import Product, Variant

T = TypeVar("T")

MAX_FIELD_BYTES = 16 * 1024
FINGERS = ("thumb", "index", "middle", "ring", "little")
RENDER_TIMEOUT_S = 20.0


@dataclass
class ArWorkers:
    """Threads for detection, fitting and compositing, and the landmark models they share (one per thread)."""

    threads: int = 2
    executor: ThreadPoolExecutor = field(init=False)
    models: queue.SimpleQueue[LandmarkModels] = field(init=False)

    def __post_init__(self) -> None:
        self.executor = ThreadPoolExecutor(self.threads, thread_name_prefix="ar")
        self.models = queue.SimpleQueue()
        for _ in range(self.threads):
            self.models.put(LandmarkModels(static=True))

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, partial(fn, *args))

    def with_models(self, fn: Callable[[LandmarkModels], T]) -> T:
        models = self.models.get()
        try:
            return fn(models)
        finally:
            self.models.put(models)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        while not self.models.empty():
            self.models.get().close()


AR_WORKERS: web.AppKey[ArWorkers] = web.AppKey("ar_workers")
"""Detection/compositing threads and landmark models of the AR and try-on routes."""


async def _read_form(request: web.Request, file_field: str) -> tuple[bytes | None, dict[str, str]]:
    """The multipart form: the image field's bytes (at most MAX_FRAME_BYTES, else 413) and the text fields."""
    if request.content_length is not None and request.content_length > MAX_FRAME_BYTES + 64 * 1024:
        raise ImageTooLarge(f"the upload is {request.content_length} bytes; at most {MAX_FRAME_BYTES} bytes")
    if not request.content_type.startswith("multipart/"):
        raise BadRequest(f"send a multipart/form-data form with a '{file_field}' image")
    reader = await request.multipart()
    data: bytes | None = None
    fields: dict[str, str] = {}
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader):
            raise BadRequest("nested multipart forms are not accepted")
        name = part.name or ""
        limit = MAX_FRAME_BYTES if name == file_field else MAX_FIELD_BYTES
        buf = bytearray()
        while True:
            chunk = await part.read_chunk(64 * 1024)
            if not chunk:
                break
            buf.extend(chunk)
            if len(buf) > limit:
                if name == file_field:
                    raise ImageTooLarge(f"the '{file_field}' image is larger than {limit} bytes")
                raise BadRequest(f"the form field '{name}' is longer than {limit} bytes")
        if name == file_field:
            data = bytes(buf)
        elif name:
            fields[name] = buf.decode("utf-8", errors="replace").strip()
    return data, fields


@dataclass(frozen=True)
class _Item:
    """What a form's `product` and `variant` resolve to: the model file and how to draw it."""

    product: Product
    variant: Variant
    model_path: Path
    overrides: tuple[MaterialOverride, ...]
    scale: float


def _item(request: web.Request, fields: dict[str, str]) -> _Item:
    product_id = fields.get("product")
    if not product_id:
        raise BadRequest("the form needs a 'product' field (a catalog product id)")
    product = request.app[CATALOG].get(product_id)
    variant = product.variant(fields.get("variant") or None)
    path = Path(request.app[CONFIG].assets_dir) / "models" / product.model
    if not path.is_file():
        raise BadRequest(f"the model of {product.id} is not built on this node; run `showroom assets build`")
    return _Item(product, variant, path, overrides_for(product, variant), scale_for(product, variant))


def _image_response(body: bytes, content_type: str, headers: dict[str, str]) -> web.Response:
    return web.Response(body=body, content_type=content_type,
                        headers={"Cache-Control": "no-store", **headers})


async def ar_overlay(request: web.Request) -> web.Response:
    """POST /api/ar/overlay: frame + product (+ variant, intrinsics or fov_deg, pose) -> overlay PNG or JPEG."""
    workers = request.app[AR_WORKERS]
    data, fields = await _read_form(request, "frame")
    if data is None:
        raise BadRequest("the form needs a 'frame' image (JPEG or PNG)")
    output = fields.get("output", "composite")
    if output not in ("overlay", "composite"):
        raise BadRequest("output must be 'overlay' (RGBA PNG) or 'composite' (JPEG)")
    item = _item(request, fields)
    rgb = await workers.run(decode_frame, data)
    del data
    h, w = rgb.shape[:2]
    intrinsics = parse_intrinsics(fields.get("intrinsics"), fields.get("fov_deg"), w, h)
    pose = parse_pose(fields.get("pose"))
    shape = await workers.run(model_shape, item.model_path)
    job = await workers.run(plan_overlay, rgb, intrinsics, pose, shape, item.model_path, item.overrides, item.scale)
    rgba = None
    if job.window is not None:
        rgba = await request.app[RENDER_POOL].render(job.window.request, timeout_s=RENDER_TIMEOUT_S,
                                                     priority=PRIORITY_LIVE)
    out = await workers.run(finish_overlay, rgb, job, rgba, output)
    headers = {"X-AR-Source": job.source, "X-AR-Product": item.product.id,
               "X-Light-Intensity": f"{job.light.ambient_intensity:.3f}",
               "X-Light-Temperature-K": f"{job.light.colour_temperature_k:.0f}"}
    if job.board is not None:
        headers["X-AR-Board-Corners"] = str(job.board.corners)
        headers["X-AR-Board-Distance-M"] = f"{float((job.translation_m ** 2).sum()) ** 0.5:.3f}"
    if output == "overlay":
        return _image_response(await workers.run(encode_png, out), "image/png", headers)
    return _image_response(await workers.run(encode_jpeg, out, 88), "image/jpeg", headers)


async def tryon(request: web.Request) -> web.Response:
    """POST /api/tryon: photo + product (+ variant, anchor, finger) + consent=true -> JPEG (or PNG) composite."""
    workers = request.app[AR_WORKERS]
    data, fields = await _read_form(request, "photo")
    if fields.get("consent", "").lower() != "true":
        raise ConsentRequired(
            "try-on analyses your face or hand, which is sensitive personal information (PIPL); send consent=true "
            "to agree. The photo is processed in memory only and is never stored or logged.")
    if data is None:
        raise BadRequest("the form needs a 'photo' image (JPEG or PNG)")
    fmt = fields.get("format", "jpeg")
    if fmt not in ("jpeg", "png"):
        raise BadRequest("format must be 'jpeg' or 'png'")
    asked = fields.get("anchor") or None
    if asked is not None and asked not in ANCHOR_NAMES:
        raise BadRequest(f"anchor must be one of {', '.join(ANCHOR_NAMES)}")
    finger = fields.get("finger", "ring")
    if finger not in FINGERS:
        raise BadRequest(f"finger must be one of {', '.join(FINGERS)}")
    mirrored = fields.get("mirrored", "false").lower() == "true"
    item = _item(request, fields)
    product = item.product
    anchor = anchor_for(product.kind.value, product.tryon_anchor.value if product.tryon_anchor else None, asked)
    rgb = await workers.run(decode_frame, data)
    del data
    shape = await workers.run(model_shape, item.model_path)
    length = float(item.variant.length_mm) if item.variant.length_mm is not None else None
    which_finger: Finger = finger  # type: ignore[assignment]

    def fit_photo(models: LandmarkModels) -> Fit:
        return detect_fit(rgb, anchor, shape, models, scale=item.scale, length_mm=length, finger=which_finger,
                          mirrored=mirrored)

    fit = await workers.run(workers.with_models, fit_photo)
    job = await workers.run(plan_tryon, rgb, fit, shape, item.model_path, item.overrides)
    pool = request.app[RENDER_POOL]
    renders = await asyncio.gather(*(pool.render(win.request, timeout_s=RENDER_TIMEOUT_S, priority=PRIORITY_LIVE)
                                     for win in job.requests()))
    out = await workers.run(finish_tryon, rgb, job, list(renders))
    headers = {"X-Tryon-Anchor": fit.anchor, "X-Tryon-Product": product.id,
               "X-Tryon-Reference": fit.reference, "X-Tryon-Px-Per-Mm": f"{fit.px_per_mm:.3f}"}
    if fmt == "png":
        return _image_response(await workers.run(encode_png, out), "image/png", headers)
    return _image_response(await workers.run(encode_jpeg, out, 90), "image/jpeg", headers)


async def _workers_ctx(app: web.Application) -> AsyncIterator[None]:
    app[AR_WORKERS] = ArWorkers()
    try:
        yield
    finally:
        await asyncio.get_running_loop().run_in_executor(None, app[AR_WORKERS].close)


def setup(app: web.Application) -> None:
    """Adds the AR and try-on routes (and their worker threads) to the node's app."""
    app.cleanup_ctx.append(_workers_ctx)
    app.router.add_post("/api/ar/overlay", ar_overlay, name="ar_overlay")
    app.router.add_post("/api/tryon", tryon, name="tryon")
