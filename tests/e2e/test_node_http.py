"""The node over HTTP on a real port: catalog, one view, view sets with ETags and 304, health, metrics, OpenAPI."""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path

import aiohttp
import pytest

from render_node.encoding import decode_image
from tests.e2e.conftest import Node, start_node
from tests.waiting import wait_until

pytestmark = pytest.mark.asyncio


async def test_catalog_lists_every_product_with_variants(node: Node) -> None:
    async with aiohttp.ClientSession() as s:
        r = await s.get(node.base + "/api/products")
        body = await r.json()
        assert r.status == 200
        assert [p["id"] for p in body["products"]] == [p.id for p in node.catalog.products]
        first = body["products"][0]
        assert {"zh", "en"} <= set(first["name"]) and first["variants"][0]["id"]
        r = await s.get(f"{node.base}/api/products/{first['id']}")
        assert (await r.json())["id"] == first["id"]


async def test_unknown_product_is_a_json_404(node: Node) -> None:
    async with aiohttp.ClientSession() as s:
        r = await s.get(node.base + "/api/products/no-such-thing")
        assert r.status == 404
        assert (await r.json())["error"]["code"] == "unknown_product"
        r = await s.get(node.base + "/api/nowhere")
        assert r.status == 404 and (await r.json())["error"]["code"] == "not_found"
        r = await s.post(node.base + "/api/products")
        assert r.status == 405 and (await r.json())["error"]["code"] == "method_not_allowed"


async def test_one_view_comes_back_as_a_decodable_image_of_the_asked_size(node: Node, first_product: str) -> None:
    async with aiohttp.ClientSession() as s:
        r = await s.get(node.base + "/api/render", params={"product": first_product, "size": "320x240",
                                                           "yaw_deg": "45", "format": "jpeg"})
        assert r.status == 200 and r.content_type == "image/jpeg"
        image = decode_image(await r.read())
        assert image.shape == (240, 320, 3)
        r = await s.get(node.base + "/api/render", params={"product": first_product, "size": "99999x3"})
        assert r.status == 400 and (await r.json())["error"]["code"] == "bad_request"


async def test_view_set_frames_are_immutable_with_strong_etags_and_304(node: Node, first_product: str) -> None:
    async with aiohttp.ClientSession() as s:
        r = await s.get(f"{node.base}/api/products/{first_product}/views", params={"size": "160x120"})
        assert r.status == 200
        manifest = await r.json()
        assert manifest["product"] == first_product and manifest["size"] == "160x120"
        frames = manifest["frames"]
        assert len(frames) == 108
        assert {f["pitch_deg"] for f in frames} == {0.0, 15.0, 30.0}
        assert len({f["url"] for f in frames}) == 108, "every angle looks different"
        url = node.base + frames[3]["url"]
        r1 = await s.get(url)
        etag = r1.headers["ETag"]
        assert r1.status == 200 and etag.startswith('"') and "W/" not in etag
        assert r1.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert decode_image(await r1.read()).shape == (120, 160, 3)
        r2 = await s.get(url, headers={"If-None-Match": etag})
        assert r2.status == 304 and await r2.read() == b""
        r3 = await s.get(node.base + "/views/" + "0" * 64 + ".jpg")
        assert r3.status == 404


async def test_concurrent_requests_for_one_set_render_it_once(node: Node, first_product: str) -> None:
    async with aiohttp.ClientSession() as s:
        url = f"{node.base}/api/products/{first_product}/views?size=64x48"
        rs = await asyncio.gather(*(s.get(url) for _ in range(5)))
        manifests = [await r.json() for r in rs]
        assert all(m == manifests[0] for m in manifests)
        metrics = await (await s.get(node.base + "/metrics")).text()
        assert "showroom_view_sets_rendered_total 1.0" in metrics
        assert 'showroom_renders_total{outcome="ok"} 108.0' in metrics


async def test_view_set_urls_are_stable_across_restarts(tmp_path: Path, project_root: Path) -> None:
    data = tmp_path / "data"
    urls = []
    for run in range(2):
        node, runner = await start_node(tmp_path / f"run{run}", project_root, workers=1, data_dir=data)
        try:
            pid = node.catalog.products[1].id
            async with aiohttp.ClientSession() as s:
                r = await s.get(f"{node.base}/api/products/{pid}/views?size=32x24")
                urls.append([f["url"] for f in (await r.json())["frames"]])
                rendered = await (await s.get(node.base + "/metrics")).text()
        finally:
            await runner.cleanup()
            await node.pool.close()
    assert urls[0] == urls[1]
    assert "showroom_view_sets_rendered_total 0.0" in rendered, "the second run served the set from disk"


async def test_wait_0_answers_202_with_progress_while_rendering(slow_node: Node) -> None:
    pid = slow_node.catalog.products[2].id
    async with aiohttp.ClientSession() as s:
        r = await s.get(f"{slow_node.base}/api/products/{pid}/views", params={"size": "64x48", "wait": "0"})
        assert r.status == 202
        body = await r.json()
        assert body["status"] == "rendering" and body["progress"]["total"] == 108
        r = await s.get(f"{slow_node.base}/api/products/{pid}/views", params={"size": "64x48"})
        assert r.status == 200 and len((await r.json())["frames"]) == 108


async def test_health_metrics_and_openapi_describe_the_node(node: Node) -> None:
    async with aiohttp.ClientSession() as s:
        health = await (await s.get(node.base + "/healthz")).json()
        assert health["status"] == "ok" and health["role"] == "edge"
        assert set(health) <= {"status", "role", "version", "payment_backend", "payment_mode"}, "nothing internal"
        await s.get(node.base + "/api/products/nope")
        text = await (await s.get(node.base + "/metrics")).text()
        assert "# TYPE showroom_stream_sessions gauge" in text
        assert 'showroom_http_requests_total{route="/api/products/{product_id}",status="404"} 1.0' in text
        doc = await (await s.get(node.base + "/api/openapi.json")).json()
        assert doc["openapi"].startswith("3.")
        for path in ("/api/products", "/api/render", "/api/products/{product_id}/views", "/views/{name}",
                     "/ws/stream", "/healthz", "/metrics"):
            assert path in doc["paths"], path
        assert doc["paths"]["/views/{name}"]["get"]["parameters"][0]["in"] == "path"
        sizes = doc["components"]["schemas"]["ViewSizes"]["example"]
        assert "960x720" in sizes["kiosk"] and "640x480" in sizes["phone"] and "64x48" in sizes["extra"]
        size_param = next(p for p in doc["paths"]["/api/products/{product_id}/views"]["get"]["parameters"]
                          if p["name"] == "size")
        assert {"640x480", "960x720", "64x48"} <= set(size_param["schema"]["enum"])
        assert "429" in doc["paths"]["/api/render"]["get"]["responses"]


async def test_a_killed_worker_is_replaced_and_the_node_keeps_serving(node: Node, first_product: str) -> None:
    import os
    import signal

    pids = node.pool.worker_pids()
    os.kill(pids[0], signal.SIGKILL)
    async with aiohttp.ClientSession() as s:
        ok = 0
        for i in range(12):
            r = await s.get(node.base + "/api/render", params={"product": first_product, "size": "64x48",
                                                               "yaw_deg": str(i)})
            if r.status == 503:
                assert "Retry-After" in r.headers
                assert (await r.json())["error"]["code"] == "overloaded"
            else:
                assert r.status == 200
                ok += 1
        assert ok >= 11, "at most the job on the dead worker fails"
        await wait_until(lambda: len(node.pool.worker_pids()) == 2 and pids[0] not in node.pool.worker_pids(),
                         what="the killed worker to be replaced")
        text = await (await s.get(node.base + "/metrics")).text()
        assert re.search(r'showroom_worker_restarts_total\{reason="[a-z_]+"\} 1\.0', text), "counted in /metrics"
        assert pids[0] not in node.pool.worker_pids()


async def test_two_edge_nodes_hand_out_the_same_frame_urls(tmp_path: Path, project_root: Path) -> None:
    """Content addressing across nodes: any node (or a cache in front of several) can answer any frame URL."""
    nodes = [await start_node(tmp_path / f"edge{i}", project_root, workers=1) for i in range(2)]
    try:
        async with aiohttp.ClientSession() as s:
            pid = nodes[0][0].catalog.products[3].id
            manifests = []
            for node, _ in nodes:
                r = await s.get(f"{node.base}/api/products/{pid}/views?size=48x32")
                manifests.append(await r.json())
            assert manifests[0]["frames"] == manifests[1]["frames"]
            url = manifests[0]["frames"][5]["url"]
            bodies = [await (await s.get(node.base + url)).read() for node, _ in nodes]
            assert bodies[0] == bodies[1] and len(bodies[0]) > 100
    finally:
        for node, runner in nodes:
            await runner.cleanup()
            await node.pool.close()


async def test_frames_from_the_disk_cache_keep_their_content_etag_and_304(tmp_path: Path,
                                                                           project_root: Path) -> None:
    """After a restart the frames come from the disk cache (sendfile), with the same bytes and headers."""
    data = tmp_path / "data"
    node, runner = await start_node(tmp_path / "run0", project_root, workers=1, data_dir=data)
    try:
        async with aiohttp.ClientSession() as s:
            r = await s.get(f"{node.base}/api/products/{node.catalog.products[0].id}/views?size=160x120")
            path = (await r.json())["frames"][5]["url"]
            from_memory = await s.get(node.base + path)
            memory_body = await from_memory.read()
    finally:
        await runner.cleanup()
        await node.pool.close()
    digest = path.rsplit("/", 1)[1].split(".")[0]
    node, runner = await start_node(tmp_path / "run1", project_root, workers=1, data_dir=data)
    try:
        async with aiohttp.ClientSession() as s:
            r = await s.get(node.base + path)
            body = await r.read()
            assert r.status == 200 and body == memory_body and hashlib.sha256(body).hexdigest() == digest
            assert r.headers["ETag"] == from_memory.headers["ETag"] == f'"{digest}"'
            assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert r.content_type == "image/jpeg" and int(r.headers["Content-Length"]) == len(body)
            head = await s.head(node.base + path)
            assert head.status == 200 and await head.read() == b"" and head.headers["ETag"] == f'"{digest}"'
            for inm in (f'"{digest}"', f'"nope", W/"{digest}"', "*"):
                r304 = await s.get(node.base + path, headers={"If-None-Match": inm})
                assert r304.status == 304 and await r304.read() == b"" and r304.headers["ETag"] == f'"{digest}"'
            assert (await s.get(node.base + path, headers={"If-None-Match": '"other"'})).status == 200
            r405 = await s.post(node.base + path)
            assert r405.status == 405 and (await r405.json())["error"]["code"] == "method_not_allowed"
            metrics = await (await s.get(node.base + "/metrics")).text()
            assert re.search(r'showroom_view_cache_requests_total\{layer="disk",result="hit"\} [4-9]', metrics)
            assert re.search(r'showroom_http_requests_total\{route="/views/\{name\}",status="304"\} 3', metrics)
    finally:
        await runner.cleanup()
        await node.pool.close()
