"""Routes of AR overlays and try-on: `POST /api/ar/overlay` and `POST /api/tryon` (multipart forms).

Thin: stream the multipart form with caps on parts and bytes (413 past them; unknown parts and malformed bodies are
400s), validate its text fields with pydantic models, decode the frame in memory, hand detection/fitting to a small
thread pool, render through the node's render pool, composite and encode off the event loop. Camera frames and photos are never
written to disk or logs (PIPL: faces are sensitive personal data); try-on requires `consent=true` sent before the
photo part, and without it the photo's bytes are never read.
"""

from __future__ import annotations

import asyncio
import itertools
import queue
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from render_node.ar.errors import ConsentRequired, ImageTooLarge
from render_node.ar.frames import MAX_FRAME_BYTES, decode_frame, parse_intrinsics, parse_pose
from render_node.ar.geometry import model_shape
from render_node.ar.overlay import finish_overlay, plan_overlay
from render_node.assets.variants import overrides_for, scale_for
from render_node.encoding import encode_jpeg, encode_png
from render_node.errors import BadRequest, PayloadTooLarge
from render_node.keys import CATALOG, CONFIG, RENDER_POOL
from render_node.pool import PRIORITY_LIVE
from render_node.render.types import MaterialOverride
from render_node.tryon.fitting import Finger, Fit
from render_node.tryon.landmarks import LandmarkModels
from render_node.tryon.pipeline import ANCHOR_NAMES, anchor_for, detect_fit, finish_tryon, plan_tryon
from showroom.catalog import Product, Variant
from showroom.http_schema import Form, Operation, Reply, operation

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


@dataclass(frozen=True)
class FormShape:
    """What one upload route accepts, read as a stream (`request.multipart()`): its image part, the text fields,
    the fields that must come before the image (try-on: `consent`), and the caps (413 past them)."""

    file_field: str
    text_fields: frozenset[str]
    before_file: tuple[str, ...] = ()
    max_parts: int = 12
    max_file_bytes: int = MAX_FRAME_BYTES
    max_field_bytes: int = MAX_FIELD_BYTES
    max_total_bytes: int = MAX_FRAME_BYTES + 64 * 1024

    @property
    def fields(self) -> str:
        return ", ".join(sorted({self.file_field, *self.text_fields}))


FileGate = Callable[[dict[str, str]], None]
"""Called with the text fields read so far when the image part begins, before a byte of it is read; raises to
refuse the upload (try-on: no consent)."""

MALFORMED = (ValueError, AssertionError, LookupError, HttpProcessingError)
"""What aiohttp's multipart reader raises on a body that is not a well-formed multipart form."""


def _malformed(exc: BaseException) -> BadRequest:
    return BadRequest(f"the body is not a well-formed multipart/form-data form ({type(exc).__name__}); "
                      f"send it as a browser's FormData does")


async def _read_form(request: web.Request, shape: FormShape, gate: FileGate | None = None
                     ) -> tuple[bytes | None, dict[str, str]]:
    """Streams the multipart form: the image part's bytes and the text fields, each capped (413), at most
    `max_parts` parts, no unknown, repeated or nested part; a malformed body is a 400, never a 500."""
    if request.content_length is not None and request.content_length > shape.max_total_bytes:
        raise ImageTooLarge(f"the upload is {request.content_length} bytes; at most {shape.max_total_bytes} bytes")
    if not request.content_type.startswith("multipart/form-data"):
        raise BadRequest(f"send a multipart/form-data form with a '{shape.file_field}' image")
    try:
        reader = await request.multipart()
    except MALFORMED as exc:
        raise _malformed(exc) from None
    data: bytes | None = None
    fields: dict[str, str] = {}
    total = 0
    for count in itertools.count(1):
        try:
            part = await reader.next()
        except MALFORMED as exc:
            raise _malformed(exc) from None
        if part is None:
            break
        if count > shape.max_parts:
            raise BadRequest(f"the form has more than {shape.max_parts} parts")
        if not isinstance(part, BodyPartReader):
            raise BadRequest("nested multipart forms are not accepted")
        name = part.name or ""
        if name != shape.file_field and name not in shape.text_fields:
            raise BadRequest(f"unknown form field {name[:40]!r}; this form takes: {shape.fields}")
        if name in fields or (name == shape.file_field and data is not None):
            raise BadRequest(f"the form field '{name}' is sent twice")
        if name == shape.file_field:
            missing = [f for f in shape.before_file if f not in fields]
            if gate is not None:
                gate(fields)  # before a byte of the image is read
            if missing:
                raise BadRequest(f"send the field(s) {', '.join(missing)} before the '{name}' part")
        limit = shape.max_file_bytes if name == shape.file_field else shape.max_field_bytes
        buf = bytearray()
        while True:
            try:
                chunk = await part.read_chunk(min(limit + 1, 64 * 1024))
            except MALFORMED as exc:
                raise _malformed(exc) from None
            if not chunk:
                break
            buf.extend(chunk)
            total += len(chunk)
            if total > shape.max_total_bytes:
                raise ImageTooLarge(f"the upload is larger than {shape.max_total_bytes} bytes")
            if len(buf) > limit:
                if name == shape.file_field:
                    raise ImageTooLarge(f"the '{name}' image is larger than {limit} bytes")
                raise PayloadTooLarge(f"the form field '{name}' is longer than {limit} bytes")
        if name == shape.file_field:
            data = bytes(buf)
        else:
            try:
                fields[name] = buf.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise BadRequest(f"the form field '{name}' is not UTF-8 text") from None
    return data, fields


M = TypeVar("M", bound=BaseModel)


def _model(model: type[M], fields: dict[str, str]) -> M:
    """The text fields as `model`; a validation error is a 400 naming the field."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "form"
        raise BadRequest(f"{where}: {first['msg']}") from None


_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


class OverlayForm(BaseModel):
    """Text fields of `POST /api/ar/overlay` (the `frame` image is the file part)."""

    model_config = ConfigDict(extra="forbid")
    product: _Text
    variant: _Text | None = None
    output: Literal["overlay", "composite"] = "composite"
    intrinsics: str | None = None
    fov_deg: str | None = None
    pose: str | None = None


class TryOnForm(BaseModel):
    """Text fields of `POST /api/tryon` (the `photo` image is the file part; `consent` comes before it)."""

    model_config = ConfigDict(extra="forbid")
    consent: Literal["true"]
    product: _Text
    variant: _Text | None = None
    format: Literal["jpeg", "png"] = "jpeg"
    anchor: _Text | None = None
    finger: Literal["thumb", "index", "middle", "ring", "little"] = "ring"
    mirrored: Literal["true", "false"] = "false"


OVERLAY_FORM = FormShape("frame", frozenset(OverlayForm.model_fields))
TRYON_FORM = FormShape("photo", frozenset(TryOnForm.model_fields), before_file=("consent",))

CONSENT_MESSAGE = ("try-on analyses your face or hand, which is sensitive personal information (PIPL); send "
                   "consent=true, as the form's first field, before the photo, to agree. The photo is processed in "
                   "memory only and is never stored or logged.")


def _require_consent(fields: dict[str, str]) -> None:
    if fields.get("consent", "").strip().lower() != "true":
        raise ConsentRequired(CONSENT_MESSAGE)


@dataclass(frozen=True)
class _Item:
    """What a form's `product` and `variant` resolve to: the model file and how to draw it."""

    product: Product
    variant: Variant
    model_path: Path
    overrides: tuple[MaterialOverride, ...]
    scale: float


def _item(request: web.Request, product_id: str, variant_id: str | None) -> _Item:
    product = request.app[CATALOG].get(product_id)
    variant = product.variant(variant_id or None)
    path = Path(request.app[CONFIG].assets_dir) / "models" / product.model
    if not path.is_file():
        raise BadRequest(f"the model of {product.id} is not built on this node; run `showroom assets build`")
    return _Item(product, variant, path, overrides_for(product, variant), scale_for(product, variant))


def _image_response(body: bytes, content_type: str, headers: dict[str, str]) -> web.Response:
    return web.Response(body=body, content_type=content_type,
                        headers={"Cache-Control": "no-store", **headers})


_UPLOAD_ERRORS = {400: "a malformed multipart form, an unknown or repeated field, a bad value (named)",
                  404: "unknown product or variant", 413: "the image, a field or the whole form is too large",
                  503: "no render worker free in time (Retry-After)"}


@operation(Operation(
    "AR overlay: camera frame + intrinsics + pose or marker -> RGBA overlay or composite", ("ar",),
    form=Form(OverlayForm, "frame"),
    replies={200: Reply("PNG overlay or JPEG composite", media=("image/png", "image/jpeg"),
                        headers={"X-AR-Source": "marker or pose"})},
    errors={**_UPLOAD_ERRORS, 422: "no marker found, nothing to anchor, or the model cannot be read"},
    error_headers={503: {"Retry-After": "seconds"}}))
async def ar_overlay(request: web.Request) -> web.Response:
    """POST /api/ar/overlay: frame + product (+ variant, intrinsics or fov_deg, pose) -> overlay PNG or JPEG."""
    workers = request.app[AR_WORKERS]
    data, fields = await _read_form(request, OVERLAY_FORM)
    if data is None:
        raise BadRequest("the form needs a 'frame' image (JPEG or PNG)")
    form = _model(OverlayForm, fields)
    output = form.output
    item = _item(request, form.product, form.variant)
    rgb = await workers.run(decode_frame, data)
    del data
    h, w = rgb.shape[:2]
    intrinsics = parse_intrinsics(form.intrinsics, form.fov_deg, w, h)
    pose = parse_pose(form.pose)
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


@operation(Operation(
    "Virtual try-on: consent=true, then product (+ variant, anchor, finger), then the photo -> composite", ("ar",),
    form=Form(TryOnForm, "photo", before_file=("consent",)),
    replies={200: Reply("the composite", media=("image/jpeg", "image/png"),
                        headers={"X-Tryon-Anchor": "where the product was fitted"})},
    errors={**_UPLOAD_ERRORS, 403: "no consent=true before the photo part (the photo is not read)",
            422: "no face, hand or wrist found, or the product is not wearable"},
    error_headers={503: {"Retry-After": "seconds"}}))
async def tryon(request: web.Request) -> web.Response:
    """POST /api/tryon: photo + product (+ variant, anchor, finger) + consent=true -> JPEG (or PNG) composite."""
    workers = request.app[AR_WORKERS]
    data, fields = await _read_form(request, TRYON_FORM, gate=_require_consent)
    _require_consent(fields)
    if data is None:
        raise BadRequest("the form needs a 'photo' image (JPEG or PNG)")
    fields = {k: v.lower() if k in ("consent", "mirrored") else v for k, v in fields.items()}
    form = _model(TryOnForm, fields)
    fmt = form.format
    asked = form.anchor
    if asked is not None and asked not in ANCHOR_NAMES:
        raise BadRequest(f"anchor must be one of {', '.join(ANCHOR_NAMES)}")
    finger = form.finger
    mirrored = form.mirrored == "true"
    item = _item(request, form.product, form.variant)
    product = item.product
    anchor = anchor_for(product.kind.value, product.tryon_anchor.value if product.tryon_anchor else None, asked)
    rgb = await workers.run(decode_frame, data)
    del data
    shape = await workers.run(model_shape, item.model_path)
    length = float(item.variant.length_mm) if item.variant.length_mm is not None else None
    which_finger: Finger = finger

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
