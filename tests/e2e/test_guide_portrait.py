"""The guide's portrait over real HTTP with the real renderer (a render worker, headless EGL): the first request
starts one rendering and answers 202, then the manifest; sheets are immutable WebP with alpha whose mouth patches
line up with the talk frame; a bad size is 422, an unknown sheet 404, no character 404, a character whose visemes
move nothing 503 `portrait_unavailable` and a retry later. Frames are tiny here (the size table is the app's)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
import pytest_asyncio
from aiohttp import web
from PIL import Image

from render_node.app import create_app
from render_node.config import Config
from render_node.guide import portrait as pt
from render_node.guide.portrait_routes import PORTRAIT_SIZES, PORTRAITS
from render_node.pool import PandaRendererFactory, RenderPool
from showroom.catalog import load_catalog
from tests.portrait_models import guide_stand_in
from tests.waiting import wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.gl]

SIZES = {"kiosk": (96, 128), "phone": (48, 64)}


@dataclass
class PortraitNode:
    base: str
    app: web.Application
    glb: Path


@pytest_asyncio.fixture
async def portrait_node(tmp_path: Path, project_root: Path) -> AsyncIterator[PortraitNode]:
    catalog = load_catalog((project_root / "assets" / "catalog.toml").read_text(encoding="utf-8"))
    assets = tmp_path / "assets"
    (assets / "models").mkdir(parents=True)
    env_dir = project_root / "assets" / "env"
    if not env_dir.is_dir() or not any(env_dir.iterdir()):
        env_dir = assets / "env"  # the renderer builds the maps there
    config = Config(port=0, data_dir=tmp_path / "data", role="edge", assets_dir=assets, workers=1)
    pool = RenderPool(PandaRendererFactory(env_dir), workers=1, start_timeout_s=300)
    app = create_app(config, catalog=catalog, renderer_pool=pool)
    app[PORTRAIT_SIZES] = SIZES
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield PortraitNode(f"http://127.0.0.1:{runner.addresses[0][1]}", app, pt.guide_glb(assets))
    finally:
        await runner.cleanup()
        await pool.close()


async def get(node: PortraitNode, path: str, **params: str) -> tuple[int, Any, Any]:
    async with aiohttp.ClientSession() as http, http.get(node.base + path, params=params) as r:
        body: Any = await r.json() if r.content_type == "application/json" else await r.read()
        return r.status, body, r.headers


async def manifest_when_rendered(node: PortraitNode, size: str) -> dict[str, Any]:
    got: dict[str, Any] = {}

    async def rendered() -> bool:
        status, body, _ = await get(node, "/api/guide/portrait", size=size)
        assert status in (200, 202), body
        got.update(body if status == 200 else {})
        return status == 200

    await wait_until(rendered, what="the portrait's manifest", timeout_s=240, poll_s=0.2)
    return got


def decode(data: bytes) -> pt.RGBA8:
    image = Image.open(io.BytesIO(data))
    assert image.format == "WEBP" and image.mode in ("RGBA", "RGB"), "WebP (without alpha when all opaque)"
    return np.asarray(image.convert("RGBA"), dtype=np.uint8)


async def test_the_first_request_renders_once_then_the_manifest_and_sheets_come(portrait_node: PortraitNode) -> None:
    guide_stand_in(portrait_node.glb)
    first = await asyncio.gather(*(get(portrait_node, "/api/guide/portrait", size=s)
                                   for s in ("kiosk", "kiosk", "phone")))
    for status, body, headers in first:
        assert status == 202 and body["status"] == "rendering" and int(headers["Retry-After"]) >= 1, body
    store = portrait_node.app[PORTRAITS]
    assert len(store._jobs) == 1, "concurrent first requests (both sizes) share one rendering"
    manifest = await manifest_when_rendered(portrait_node, "kiosk")

    assert manifest["version"] == pt.PORTRAIT_VERSION and manifest["size"] == "kiosk"
    assert manifest["frame"] == [96, 128] and len(manifest["key"]) == 32
    clips = manifest["clips"]
    assert {n: (c["frames"], c["fps"], c["loop"]) for n, c in clips.items()} == {
        "idle": (8, 8, True), "talk": (4, 8, True), "welcome": (4, 12, False), "point": (4, 12, False)}
    mx, my, mw, mh = manifest["mouth"]["box"]
    ex, ey, ew, eh = manifest["eyes"]["box"]
    assert mx >= 0 and mx + mw <= 96 and my + mh <= 128 and 0 < mw < 48 and 0 < mh < 40
    assert ey + eh <= my, "the eyes are above the mouth"
    assert abs((mx + mw / 2) - 48) <= 2 and abs((ex + ew / 2) - 48) <= 2, "the face is centred"

    status, body, headers = await get(portrait_node, "/api/guide/portrait", size="kiosk")
    assert status == 200 and headers["Cache-Control"] == "no-cache" and headers["ETag"]
    async with aiohttp.ClientSession() as http, http.get(portrait_node.base + "/api/guide/portrait",
                                                         headers={"If-None-Match": headers["ETag"]}) as r:
        assert r.status == 304

    sheets: dict[str, pt.RGBA8] = {}
    for name, url in [*((n, c["sheet"]) for n, c in clips.items()), ("mouth", manifest["mouth"]["sheet"]),
                      ("eyes", manifest["eyes"]["sheet"])]:
        status, data, headers = await get(portrait_node, url)
        assert status == 200 and headers["Content-Type"] == "image/webp", url
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
        sheets[name] = decode(data)
    idle = sheets["idle"]
    assert idle.shape == (128, 8 * 96, 4)
    first_idle = pt.sheet_frame(idle, 0, (96, 128))
    assert first_idle[0, 0, 3] == 0 and first_idle[-1, 48, 3] == 255, "transparent around, the bust opaque"
    assert first_idle[30, 48, 3] == 255 and first_idle[2, 48, 3] == 0, "the top of the head is inside the frame"
    assert sheets["mouth"].shape == (2 * mh, 8 * mw, 4) and sheets["eyes"].shape == (eh, 2 * ew, 4)

    talk0 = pt.sheet_frame(sheets["talk"], 0, (96, 128)).astype(int)
    under = pt.crop(talk0, (mx, my, mw, mh))
    for i, viseme in enumerate(manifest["mouth"]["visemes"]):
        patch = pt.sheet_frame(sheets["mouth"], i, (mw, mh)).astype(int)
        ring = np.ones((mh, mw), bool)
        ring[2:-2, 2:-2] = False
        seam = np.abs(patch[ring] - under[ring]).max()
        assert seam <= 24, f"{viseme}: the patch's edge matches the talk frame (max diff {seam})"
    aa = pt.sheet_frame(sheets["mouth"], manifest["mouth"]["visemes"].index("aa"), (mw, mh)).astype(int)
    assert np.abs(aa - under).max() > 60, "aa opens the mouth"

    phone = await manifest_when_rendered(portrait_node, "phone")  # the same rendering made it: no wait
    assert phone["frame"] == [48, 64] and phone["key"] != manifest["key"]
    assert {n: c["frames"] for n, c in phone["clips"].items()} == {n: c["frames"] for n, c in clips.items()}
    status, data, _ = await get(portrait_node, phone["clips"]["talk"]["sheet"])
    assert status == 200 and decode(data).shape == (64, 4 * 48, 4)


async def test_bad_sizes_unknown_sheets_and_a_missing_character_are_clear_errors(
        portrait_node: PortraitNode) -> None:
    status, body, _ = await get(portrait_node, "/api/guide/portrait", size="kiosk")
    assert status == 404 and body["error"]["code"] == "guide_not_built"
    status, body, _ = await get(portrait_node, "/api/guide/portrait", size="tv")
    assert status == 422 and body["error"]["code"] == "invalid_input" and "size" in body["error"]["message"]
    for path in (f"/guide/portrait/{'0' * 32}/idle.webp", f"/guide/portrait/{'0' * 32}/secrets.webp",
                 "/guide/portrait/..%2F..%2Fetc/idle.webp", f"/guide/portrait/{'0' * 32}/idle.png"):
        status, body, _ = await get(portrait_node, path)
        assert status == 404 and body["error"]["code"] == "not_found", path


async def test_a_character_whose_visemes_move_nothing_is_unavailable_and_retried_later(
        portrait_node: PortraitNode) -> None:
    guide_stand_in(portrait_node.glb, visemes=False)
    status, body, _ = await get(portrait_node, "/api/guide/portrait", size="kiosk")
    assert status == 202

    async def failed() -> bool:
        status, body, headers = await get(portrait_node, "/api/guide/portrait", size="kiosk")
        if status == 503:
            assert body["error"]["code"] == "portrait_unavailable" and "viseme" in body["error"]["message"]
            assert int(headers["Retry-After"]) >= 1
        return status == 503

    await wait_until(failed, what="the failed rendering's 503", timeout_s=240, poll_s=0.2)
    status, body, _ = await get(portrait_node, "/api/guide/portrait", size="phone")
    assert status == 503, "no new rendering at once"
    portrait_node.app[PORTRAITS].retry_after_failure_s = 0.0
    status, body, _ = await get(portrait_node, "/api/guide/portrait", size="kiosk")
    assert status == 202, "later, a request tries again"
    portrait_node.app[PORTRAITS].retry_after_failure_s = 30.0
    await wait_until(failed, what="the retried rendering's 503", timeout_s=240, poll_s=0.2)
