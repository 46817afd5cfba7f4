"""The VR client's tiers over a real 5G-like link (bench/linkrig): a node in the root namespace, the Python client
(`showroom-client tiers`) in the link's namespace; the link goes typical -> edge -> typical. Live holds on
`typical`, falls back to the cached view set on `edge`, and climbs back to live by a probe once the link is
typical again (the rules: docs/links.md "Client tiers"). Needs root, /dev/net/tun, `ip` and `tc`; skips with the
reason where they are missing.

Why `edge` cannot carry the stream asked for: the hello asks for 640x480 mono JPEG at 20 frames/s with adaptive
quality off (fixed quality 80), and this node's renderer draws noise, which JPEG cannot shrink: each frame is
~200 KB (checked below), so even the 40 % of 20 frames/s that the live rule needs is 8 x 200 KB = ~13 Mbit/s,
more than edge's 10 Mbit/s (of which TCP carries at most 9.65). Typical's 100 Mbit/s carries all 20 (~33 Mbit/s).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
import pytest_asyncio
from aiohttp import web
from showroom_client.tiered import VIEWS_SIZE

from bench.linkrig.netns import Link, link, missing_requirements
from bench.linkrig.profiles import profile
from render_node.app import create_app
from render_node.config import Config
from render_node.encoding import encode_jpeg
from render_node.pool import RenderPool
from render_node.render.types import RGBA8, RenderRequest, StereoView
from render_node.stream.registry import StreamLimits
from showroom.catalog import load_catalog

pytestmark = pytest.mark.asyncio

NS = "shf"
SUBNET = 4
"""Apart from a link brought up by hand (shc, 0), the benchmark's (shb, 2) and the shaper test's (sht, 3)."""
WIDTH, HEIGHT, FPS = 640, 480, 20
CLIENT_SECONDS = 50
"""The client's own end: the whole test is bounded by it (plus the node's start and the link's)."""


class NoiseRenderer:
    """Frames of fresh noise: JPEG cannot make them small, so their bitrate is known."""

    def render(self, request: RenderRequest) -> RGBA8:
        w, h = request.size_px
        if isinstance(request.view, StereoView):
            w *= 2
        frame = np.full((h, w, 4), 255, np.uint8)
        frame[..., :3] = np.frombuffer(os.urandom(h * w * 3), np.uint8).reshape(h, w, 3)
        return frame

    def close(self) -> None:
        pass


def make_noise_renderer() -> NoiseRenderer:
    return NoiseRenderer()


@pytest.fixture
def link_allowed() -> None:
    missing = missing_requirements()
    if missing:
        pytest.skip("a real link needs: " + "; ".join(missing))


@pytest_asyncio.fixture
async def open_node(tmp_path: Path, project_root: Path, link_allowed: None) -> AsyncIterator[tuple[str, int]]:
    """A node on all addresses of the root namespace (so the link's 10.77.N.1 reaches it): (product, port)."""
    catalog = load_catalog((project_root / "assets" / "catalog.toml").read_text(encoding="utf-8"))
    assets = tmp_path / "assets"
    (assets / "models").mkdir(parents=True)
    for product in catalog.products:
        (assets / "models" / product.model).write_bytes(f"stand-in model of {product.id}".encode())
    config = Config(host="0.0.0.0", port=0, data_dir=tmp_path / "data", role="edge", assets_dir=assets, workers=2)
    pool = RenderPool(make_noise_renderer, workers=2)
    app = create_app(config, catalog=catalog, renderer_pool=pool,
                     stream_limits=StreamLimits(max_sessions=4, idle_timeout_s=30.0, heartbeat_s=10.0))
    runner = web.AppRunner(app, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, "0.0.0.0", 0)
    await site.start()
    try:
        yield catalog.products[0].id, runner.addresses[0][1]
    finally:
        # The link and its namespace are gone by now: a stream whose client's last packets (FIN included) died
        # with them still holds unsent frames, which transport.close() would wait on forever. Aborted here, its
        # socket closes now instead of being collected during a later test (an unclosed-socket warning there).
        if runner.server is not None:
            for handler in runner.server.connections:
                if handler.transport is not None:
                    handler.transport.abort()
        await runner.cleanup()
        await pool.close()


async def _set_profile(ln: Link, name: str) -> None:
    await asyncio.get_running_loop().run_in_executor(None, ln.set_profile, profile(name))


async def test_the_vr_client_falls_back_to_views_on_the_cell_edge_and_climbs_back_on_typical(
        open_node: tuple[str, int], project_root: Path) -> None:
    product, port = open_node
    frame = NoiseRenderer().render(RenderRequest(Path("x.glb"), None, size_px=(WIDTH, HEIGHT)))  # type: ignore[arg-type]
    frame_bytes = len(encode_jpeg(frame, 80))
    needed_mbit = 0.4 * FPS * frame_bytes * 8 / 1e6
    assert needed_mbit > 10 / 0.965 * 1.2, f"the premise: 40 % of {FPS} fps of {frame_bytes} B frames > edge"
    async with aiohttp.ClientSession() as s:  # the node serves the view set already (rendered on first ask)
        views = f"http://127.0.0.1:{port}/api/products/{product}/views?size={VIEWS_SIZE}"
        async with s.get(views, timeout=aiohttp.ClientTimeout(total=120)) as r:
            assert r.status == 200 and len((await r.json())["frames"]) >= 36
    with link(profile("typical"), NS, subnet=SUBNET, seed=5) as ln:
        url = f"http://{ln.root_addr}:{port}"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        client = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", NS, sys.executable, "-m", "showroom_client", "tiers", "--url", url,
            "--product", product, "--seconds", str(CLIENT_SECONDS), "--hz", str(FPS), "--target-fps", str(FPS),
            "--eyes", "1", "--width", str(WIDTH), "--height", str(HEIGHT), "--fov", "60", "--fixed",
            "--max-kbps", "200000", cwd=project_root, env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        events: list[dict[str, Any]] = []
        stdout, stderr = client.stdout, client.stderr
        assert stdout is not None and stderr is not None

        async def next_event(kind: str, timeout_s: float, **match: Any) -> dict[str, Any]:
            async def read() -> dict[str, Any]:
                while True:
                    line = await stdout.readline()
                    if not line:
                        err = await stderr.read()
                        raise AssertionError(f"client ended before {kind} {match}: {events} {err.decode()[-800:]}")
                    event: dict[str, Any] = json.loads(line)
                    events.append(event)
                    if event["event"] == kind and all(event.get(k) == v for k, v in match.items()):
                        return event
            try:
                return await asyncio.wait_for(read(), timeout_s)
            except TimeoutError:
                raise AssertionError(f"no {kind} {match} within {timeout_s:g} s: {events}") from None

        try:
            start = await next_event("start", 30)
            assert start["tier"] == "live"
            # typical: live holds; 8 s gives the rule a full window past its grace (any change would be read here)
            with contextlib.suppress(AssertionError):
                early = await next_event("tier", 8)
                raise AssertionError(f"live did not hold on typical: {early}")
            await _set_profile(ln, "edge")
            down = await next_event("tier", 10, to="views")
            assert down["from"] == "live" and ("frames/s" in down["reason"] or "p50" in down["reason"]
                                               or "no frame" in down["reason"]), down
            # on edge: the view set carries (frames of ~200 KB fetched in well under 1.5 s), probes of live fail
            failed_probe = await next_event("probe", 16, of="live")
            assert failed_probe["passed"] is False
            assert not [e for e in events if e["event"] == "tier" and e["to"] == "poster"], events
            await _set_profile(ln, "typical")
            up = await next_event("tier", 16, to="live")
            assert up["from"] == "views" and "probe" in up["reason"]
            end = await next_event("end", CLIENT_SECONDS)
            assert end["live_frames"] > 0 and end["views_shown"] > 0 and end["posters"] == 0, end
            assert [(c["from"], c["to"]) for c in end["changes"]] == [("live", "views"), ("views", "live")]
            assert await asyncio.wait_for(client.wait(), 10) == 0
        finally:
            if client.returncode is None:
                client.kill()
                await client.wait()
