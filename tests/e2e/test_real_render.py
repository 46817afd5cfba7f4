"""The node with the real panda3d renderer in its worker processes (headless EGL; llvmpipe without a GPU):
one view and a stereo stream frame of a real glTF sample show the product, not an empty frame."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import numpy as np
import pytest
import trimesh
from aiohttp import web
from showroom_protocol import parse_frame

from render_node.app import create_app
from render_node.config import Config
from render_node.encoding import decode_image
from render_node.pool import PandaRendererFactory, RenderPool
from showroom.catalog import load_catalog

pytestmark = [pytest.mark.asyncio, pytest.mark.gl]


async def test_real_renders_over_http_and_the_stream(tmp_path: Path, project_root: Path,
                                                     gltf_samples: Path) -> None:
    sample = gltf_samples / "MetalRoughSpheresNoTextures" / "MetalRoughSpheresNoTextures.glb"
    catalog = load_catalog((project_root / "assets" / "catalog.toml").read_text(encoding="utf-8"))
    models = tmp_path / "assets" / "models"
    models.mkdir(parents=True)
    for product in catalog.products:
        (models / product.model).write_bytes(sample.read_bytes())
    env_dir = project_root / "assets" / "env"
    if not env_dir.is_dir() or not any(env_dir.iterdir()):
        env_dir = tmp_path / "assets" / "env"  # the renderer builds the maps there
    config = Config(port=0, data_dir=tmp_path / "data", role="edge", assets_dir=tmp_path / "assets", workers=1)
    pool = RenderPool(PandaRendererFactory(env_dir), workers=1, start_timeout_s=300)
    app = create_app(config, catalog=catalog, renderer_pool=pool)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        pid = catalog.products[0].id
        async with aiohttp.ClientSession() as s:
            r = await s.get(base + "/api/render", params={"product": pid, "size": "320x240", "yaw_deg": "20"})
            assert r.status == 200, await r.text()
            image = decode_image(await r.read())
            assert image.shape == (240, 320, 3)
            covered = float((image.min(axis=2) < 235).mean())
            assert 0.02 < covered < 0.9, f"the product covers {covered:.1%} of a white-background view"
            bounds = trimesh.load(sample).bounds  # the raw sample is a few millimetres across
            centre, extent = bounds.mean(axis=0), float((bounds[1] - bounds[0]).max())
            eye_m = [float(centre[0]), float(centre[1]), float(bounds[1][2] + 2.5 * extent)]
            async with s.ws_connect(base + "/ws/stream") as ws:
                await ws.send_json({"type": "hello", "client": "vr", "product": pid, "eyes": 2, "fov_deg": 60,
                                    "viewport": {"width": 160, "height": 160}, "codec": "jpeg",
                                    "ipd_m": extent / 3, "adaptive": False})
                assert (await ws.receive_json(timeout=30))["type"] == "welcome"
                await ws.send_json({"type": "pose", "seq": 1, "t": time.time(), "position": eye_m,
                                    "orientation": [0, 0, 0, 1]})
                while True:
                    msg = await ws.receive(timeout=120)
                    if msg.type == aiohttp.WSMsgType.BINARY:
                        break
                    assert msg.type == aiohttp.WSMsgType.TEXT, msg
                header, payload = parse_frame(msg.data)
                pair = decode_image(payload)
                assert header.seq == 1 and pair.shape == (160, 320, 3)
                left, right = pair[:, :160].astype(int), pair[:, 160:].astype(int)
                assert float((pair.min(axis=2) < 200).mean()) > 0.02, "the product is in view"
                assert float(np.abs(left - right).mean()) > 0.5, "the eyes see from different places"
    finally:
        await runner.cleanup()
