"""The node over HTTP on a real port: catalog, one view, view sets with ETags and 304, health, metrics, OpenAPI."""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from render_node.encoding import decode_image
from render_node.routes_frames import FrameSite
from tests.e2e.conftest import Node, start_node

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
        assert health["status"] == "ok" and health["workers"]["alive"] == 2
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
        for _ in range(100):
            health = await (await s.get(node.base + "/healthz")).json()
            if health["workers"]["alive"] == 2:
                break
            await asyncio.sleep(0.1)
        assert health["workers"]["alive"] == 2 and health["workers"]["restarts"] == 1
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


async def _fast_node(tmp_path: Path, project_root: Path) -> tuple[Node, web.AppRunner, FrameSite]:
    """The node as `showroom serve` runs it: cached frames on the fast path in front of aiohttp."""
    n, runner = await start_node(tmp_path, project_root, workers=1)
    site = FrameSite(runner, "127.0.0.1", 0)
    await site.start()
    return replace(n, base=f"http://127.0.0.1:{site.bound_port}"), runner, site


async def test_the_frame_fast_path_keeps_every_header_etag_304_head_and_404(tmp_path: Path,
                                                                           project_root: Path) -> None:
    node, runner, site = await _fast_node(tmp_path, project_root)
    try:
        async with aiohttp.ClientSession() as s:
            r = await s.get(f"{node.base}/api/products/{node.catalog.products[0].id}/views?size=160x120")
            frames = (await r.json())["frames"]
            url = node.base + frames[5]["url"]
            digest = frames[5]["url"].rsplit("/", 1)[1].split(".")[0]
        # a new connection: the one above was handed to aiohttp for good by the manifest request
        async with aiohttp.ClientSession() as s:
            before = site.front.fast_requests
            r1 = await s.get(url)
            body = await r1.read()
            assert site.front.fast_requests == before + 1, "a frame in memory is answered by the fast path"
            assert r1.status == 200 and r1.headers["ETag"] == f'"{digest}"'
            assert r1.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert r1.content_type == "image/jpeg" and int(r1.headers["Content-Length"]) == len(body)
            assert decode_image(body).shape == (120, 160, 3)
            assert hashlib.sha256(body).hexdigest() == digest
            head = await s.head(url)
            assert head.status == 200 and await head.read() == b""
            assert int(head.headers["Content-Length"]) == len(body) and head.headers["ETag"] == f'"{digest}"'
            for inm in (f'"{digest}"', f'"nope", W/"{digest}"', "*"):
                r304 = await s.get(url, headers={"If-None-Match": inm})
                assert r304.status == 304 and await r304.read() == b"" and r304.headers["ETag"] == f'"{digest}"'
            assert (await s.get(url, headers={"If-None-Match": '"other"'})).status == 200
            # not the fast path's to answer: unknown hashes, queries, other methods -> aiohttp, same connection
            r404 = await s.get(node.base + "/views/" + "0" * 64 + ".jpg")
            assert r404.status == 404 and (await r404.json())["error"]["code"] == "not_found"
            assert (await s.get(url + "?x=1")).status == 200
            r405 = await s.post(url)
            assert r405.status == 405 and (await r405.json())["error"]["code"] == "method_not_allowed"
            metrics = await (await s.get(node.base + "/metrics")).text()
            assert re.search(r'showroom_http_requests_total\{route="/views/\{name\}",status="304"\} [3-9]', metrics)
    finally:
        await runner.cleanup()
        await node.pool.close()
    assert not site.front.connections, "stopping the site closes its fast connections"


async def test_pipelined_requests_are_answered_in_order_across_the_hand_over(tmp_path: Path,
                                                                             project_root: Path) -> None:
    node, runner, site = await _fast_node(tmp_path, project_root)
    try:
        async with aiohttp.ClientSession() as s:
            r = await s.get(f"{node.base}/api/products/{node.catalog.products[0].id}/views?size=64x48")
            path = (await r.json())["frames"][0]["url"]
        host, port = node.base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        frame_req = f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        writer.write(frame_req + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + frame_req[:-2]
                     + b"Connection: close\r\n\r\n")
        raw = await asyncio.wait_for(reader.read(-1), 10)
        writer.close()
        statuses = re.findall(rb"HTTP/1.1 (\d{3})", raw)
        assert statuses == [b"200", b"200", b"200"]
        first_end = raw.index(b'"status": "ok"')
        assert raw[:first_end].count(b"\xff\xd8\xff") == 1 and raw[first_end:].count(b"\xff\xd8\xff") == 1
        assert site.front.handed_over >= 1
    finally:
        await runner.cleanup()
        await node.pool.close()


async def test_idle_fast_connections_close_after_the_keepalive_timeout(tmp_path: Path, project_root: Path) -> None:
    n, runner = await start_node(tmp_path, project_root, workers=1)
    site = FrameSite(runner, "127.0.0.1", 0, keepalive_timeout_s=0.5)
    await site.start()
    try:
        async with aiohttp.ClientSession() as s:
            r = await s.get(f"http://127.0.0.1:{site.bound_port}/api/products/{n.catalog.products[0].id}/views"
                            "?size=32x24")
            path = (await r.json())["frames"][0]["url"]
        reader, writer = await asyncio.open_connection("127.0.0.1", site.bound_port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        raw = await asyncio.wait_for(reader.read(-1), 5)  # the reply, then EOF once idle
        writer.close()
        assert raw.startswith(b"HTTP/1.1 200 OK") and site.front.fast_requests == 1
        assert not site.front.connections
    finally:
        await runner.cleanup()
        await n.pool.close()
