"""The node's render and view-set routes with an environment choice, over HTTP (the tiny renderer stands in for
panda3d: what is checked is what the routes accept, refuse and key on, not pixels)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.e2e.conftest import start_node

pytestmark = pytest.mark.asyncio


async def test_the_routes_take_a_studio_or_a_file_of_the_node_and_refuse_paths(tmp_path: Path,
                                                                              project_root: Path) -> None:
    env = tmp_path / "assets" / "env"
    env.mkdir(parents=True)
    (env / "bank-studio.hdr").write_bytes(b"#?RADIANCE stand-in")
    (tmp_path / "outside.hdr").write_bytes(b"#?RADIANCE outside")
    node, runner = await start_node(tmp_path, project_root)
    try:
        product = node.catalog.products[0].id
        async with aiohttp.ClientSession() as s:
            for query in ({"env": "counter"}, {"env": "bank-studio.hdr", "env_rotation_deg": "90"},
                          {"tonemap": "aces", "preset": "reference"}):
                r = await s.get(node.base + "/api/render", params={"product": product, "size": "64x48", **query})
                assert r.status == 200, (query, await r.text())
            for query, says in (({"env": "../outside.hdr"}, "env: must be"), ({"env": "/etc/passwd"}, "env: must be"),
                                ({"env": "nope.hdr"}, "no environment file 'nope.hdr'"),
                                ({"env": "studio", "env_exposure_ev": "1"}, "apply to an environment file"),
                                ({"env_rotation_deg": "5"}, "need env"), ({"tonemap": "filmic"}, "tonemap")):
                r = await s.get(node.base + "/api/render", params={"product": product, "size": "64x48", **query})
                body = await r.json()
                assert r.status == 400 and body["error"]["code"] == "bad_request" and says in body["error"]["message"], (
                    query, body)
            views = f"{node.base}/api/products/{product}/views"
            r = await s.get(views, params={"size": "32x24", "env": "studio"})
            assert r.status == 200
            r = await s.get(views, params={"size": "32x24", "env": "studio", "wait": "0"})
            assert r.status == 200, "cached"
            r = await s.get(views, params={"size": "32x24", "env": "bank-studio.hdr", "wait": "0"})
            assert r.status == 202, "another environment is another set (rendered anew)"
            r = await s.get(f"{node.base}/api/products/{product}/views", params={"size": "32x24", "env": "../x.hdr"})
            assert r.status == 400
    finally:
        await runner.cleanup()
        await node.pool.close()
