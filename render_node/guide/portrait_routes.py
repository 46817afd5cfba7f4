"""Routes of the guide's portrait frames (docs/guide.md, "Portrait frames"):

- `GET /api/guide/portrait?size=kiosk|phone` -> the manifest (200, `Cache-Control: no-cache` + ETag), or 202
  `{"status": "rendering"}` + Retry-After while the first rendering runs (the first request starts it), 404
  `guide_not_built`, 422 for another size, 503 `portrait_unavailable` + Retry-After after a failed rendering;
- `GET /guide/portrait/{key}/{sheet}.webp` -> a sheet (image/webp with alpha, immutable), 404 JSON for unknown.

Thin: the store (render_node/guide/portrait_store.py) renders through the node's pool and caches on disk; it is
built on startup, where the warm-up starts in the background when the character is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from render_node.errors import InvalidInput, NodeError
from render_node.guide import portrait as pt
from render_node.guide.portrait_store import PRIORITY_WARM, PortraitStore
from render_node.keys import CONFIG, RENDER_POOL, VIEWS
from showroom.http_schema import Operation, Reply, operation

log = logging.getLogger("render_node.guide.portrait")

IMMUTABLE = "public, max-age=31536000, immutable"
RETRY_AFTER_S = 2
PORTRAITS: web.AppKey[PortraitStore] = web.AppKey("guide_portraits", PortraitStore)
"""The guide's portrait sheets (built on startup)."""
PORTRAIT_SIZES: web.AppKey[Mapping[str, tuple[int, int]]] = web.AppKey("guide_portrait_sizes")
"""Frame sizes by name (default `portrait.SIZES`); tests set smaller ones before the app starts."""
_WARM: web.AppKey[asyncio.Task[None]] = web.AppKey("guide_portrait_warm")


class PortraitQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    size: Literal["kiosk", "phone"] = Field("kiosk", description="kiosk: 360x480 frames; phone: 180x240")


class ClipSheet(BaseModel):
    sheet: str
    fps: int
    frames: int
    cols: int
    loop: bool


class PatchSheet(BaseModel):
    box: list[int] = Field(description="[x, y, w, h] on the frame")
    sheet: str
    cols: int
    visemes: list[str] | None = None
    frames: list[str] | None = None


class PortraitManifest(BaseModel):
    """Where the sheets are and how they are laid out: frames left to right, top to bottom, `cols` a row."""

    version: int
    key: str
    size: Literal["kiosk", "phone"]
    frame: list[int] = Field(description="[w, h] of a clip frame")
    clips: dict[str, ClipSheet]
    mouth: PatchSheet
    eyes: PatchSheet


class PortraitPending(BaseModel):
    status: Literal["rendering"]
    key: str
    progress: dict[str, int]


@operation(Operation(
    "The guide's portrait frames: the manifest of its sheets (clips, mouth and eye patches)", ("guide",),
    query=PortraitQuery,
    replies={200: Reply("the manifest", PortraitManifest, headers={"ETag": "the manifest's digest"}),
             202: Reply("the first rendering is under way", PortraitPending, headers={"Retry-After": "seconds"}),
             304: Reply("not modified", media=())},
    description="Rendered once per character file, size and code version through the render pool and cached on "
                "the node; the client composites a clip frame, the mouth patch of the current viseme and an eye "
                "patch. docs/guide.md, \"Portrait frames\".",
    errors={404: "guide_not_built: the guide character is not built on this node",
            422: "invalid_input: size is not kiosk or phone",
            503: "portrait_unavailable: the rendering failed (Retry-After)"},
    error_headers={503: {"Retry-After": "seconds"}}))
async def portrait_manifest(request: web.Request) -> web.Response:
    """GET /api/guide/portrait?size=kiosk|phone."""
    try:
        q = PortraitQuery.model_validate(dict(request.query))
    except ValidationError:
        raise InvalidInput("size: must be kiosk or phone") from None
    store = request.app[PORTRAITS]
    key, manifest = store.start(q.size)
    if manifest is None:
        done, total = store.progress() or (0, 0)
        return web.json_response({"status": "rendering", "key": key, "progress": {"done": done, "total": total}},
                                 status=202, headers={"Retry-After": str(RETRY_AFTER_S), "Cache-Control": "no-store"})
    body = json.dumps(manifest).encode()
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if any(t.value in (etag.strip('"'), "*") for t in request.if_none_match or ()):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type="application/json", headers=headers)


@operation(Operation(
    "A sheet of the guide's portrait (content-addressed by its key: immutable)", ("guide",),
    replies={200: Reply("the sheet", media=("image/webp",), headers={"Cache-Control": IMMUTABLE})},
    errors={404: "no such sheet (load the manifest again)"}))
async def portrait_sheet(request: web.Request) -> web.StreamResponse:
    """GET /guide/portrait/{key}/{sheet}.webp."""
    key, file = request.match_info["key"], request.match_info["file"]
    name = file.removesuffix(".webp") if file.endswith(".webp") else ""
    path = request.app[PORTRAITS].sheet_path(key, name)
    return web.FileResponse(path, headers={"Cache-Control": IMMUTABLE, "Content-Type": "image/webp"})


async def _warm(store: PortraitStore) -> None:
    """Renders the portrait in the background at node start when the character is built (never blocks)."""
    if not store.glb.is_file():
        log.info("no guide character at %s: its portrait is not warmed", store.glb)
        return
    try:
        for size in store.sizes:
            await store.manifest(size, priority=PRIORITY_WARM)
    except NodeError as exc:
        log.warning("the guide's portrait could not be warmed: %s", exc.message)


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    store = PortraitStore(config.data_dir / "portraits", app[RENDER_POOL], config.assets_dir,
                          renderer_version=app[VIEWS].renderer_version, sizes=app.get(PORTRAIT_SIZES, pt.SIZES))
    app[PORTRAITS] = store
    app[_WARM] = asyncio.get_running_loop().create_task(_warm(store))
    try:
        yield
    finally:
        app[_WARM].cancel()
        with contextlib.suppress(BaseException):
            await app[_WARM]
        await store.close()


def setup(app: web.Application) -> None:
    """Adds the portrait routes; the store and its warm-up start with the app (after the render pool)."""
    app.cleanup_ctx.append(_store_ctx)
    app.router.add_get("/api/guide/portrait", portrait_manifest, name="guide_portrait")
    app.router.add_get("/guide/portrait/{key}/{file}", portrait_sheet, name="guide_portrait_sheet")
