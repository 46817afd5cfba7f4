"""An edge-only node shows the commerce service's live prices through the price port, without the commerce code.

The edge asks `GET /api/prices/catalog` of the commerce node (a couple of seconds of cache, one request in
flight); on a commerce outage it keeps the last prices, marked `price_stale`, instead of failing the catalog.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from render_node.app import create_app
from render_node.config import Config, load_config
from render_node.pool import RenderPool
from render_node.prices import HttpCatalogPrices
from showroom.catalog import Catalog, load_catalog
from tests.tiny_renderer import make_tiny_renderer
from tests.waiting import wait_until

pytestmark = pytest.mark.asyncio

PRICE_FIELDS = ("price_cny", "price_as_of", "price_source", "metal_cny_per_g", "deposit_cny", "price_stale")
COMMERCE_MODULES = re.compile(r"^(sqlalchemy|alembic|showroom\.api)(\.|$)")


def _catalog(project_root: Path) -> Catalog:
    return load_catalog((project_root / "assets" / "catalog.toml").read_text(encoding="utf-8"))


def _prices(body: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(product, variant) -> the price fields of a `GET /api/products` reply (variants without a price left out)."""
    return {(p["id"], v["id"]): {k: v[k] for k in PRICE_FIELDS if k in v}
            for p in body["products"] for v in p["variants"] if "price_cny" in v}


async def _start(app: web.Application) -> tuple[str, web.AppRunner]:
    runner = web.AppRunner(app, shutdown_timeout=2.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return f"http://127.0.0.1:{runner.addresses[0][1]}", runner


@asynccontextmanager
async def _serving(app: web.Application) -> AsyncIterator[str]:
    base, runner = await _start(app)
    try:
        yield base
    finally:
        await runner.cleanup()


def _commerce_app(tmp_path: Path, catalog: Catalog) -> web.Application:
    config = load_config({"role": "commerce", "data_dir": str(tmp_path / "commerce"), "port": 0,
                          "assets_dir": str(tmp_path / "assets")}, {})
    (tmp_path / "commerce").mkdir()
    config = replace(config, commerce=replace(config.commerce, payment_backend_url="http://127.0.0.1:9"))
    return create_app(config, catalog=catalog)


def _edge_app(tmp_path: Path, catalog: Catalog, commerce_url: str) -> tuple[web.Application, RenderPool]:
    (tmp_path / "assets" / "models").mkdir(parents=True, exist_ok=True)
    config = Config(host="127.0.0.1", port=0, data_dir=tmp_path / "edge", role="edge",
                    assets_dir=tmp_path / "assets", workers=1, commerce_url=commerce_url)
    pool = RenderPool(make_tiny_renderer, workers=0)
    return create_app(config, catalog=catalog, renderer_pool=pool), pool


async def _products(s: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    r = await s.get(base + "/api/products")
    assert r.status == 200
    body: dict[str, Any] = await r.json()
    return body


async def test_an_edge_only_node_shows_the_same_live_prices_as_the_commerce_node(tmp_path: Path,
                                                                                project_root: Path) -> None:
    catalog = _catalog(project_root)
    commerce, commerce_runner = await _start(_commerce_app(tmp_path, catalog))
    edge_app, pool = _edge_app(tmp_path, catalog, commerce)
    async with aiohttp.ClientSession() as s:
        try:
            async with _serving(edge_app) as edge:
                seen: dict[str, Any] = {}

                async def edge_matches_commerce() -> bool:
                    seen["commerce"] = _prices(await _products(s, commerce))
                    seen["edge"] = _prices(await _products(s, edge))
                    return bool(seen["commerce"]) and seen["edge"] == seen["commerce"]

                await wait_until(edge_matches_commerce, what="the edge's catalog prices to equal the commerce node's")
                edge_prices = seen["edge"]
                bar = next(p for p in catalog.products if p.kind.value == "gold_bar")
                car = next(p for p in catalog.products if p.kind.value == "car")
                assert float(edge_prices[(bar.id, bar.variants[0].id)]["price_cny"]) > 0
                assert "metal_cny_per_g" in edge_prices[(bar.id, bar.variants[0].id)]
                assert "deposit_cny" in edge_prices[(car.id, car.variants[0].id)]
                assert not any("price_stale" in e for e in edge_prices.values())
                detail = await (await s.get(f"{edge}/api/products/{bar.id}")).json()
                assert detail["variants"][0]["price_cny"] == edge_prices[(bar.id, bar.variants[0].id)]["price_cny"]

                await commerce_runner.cleanup()  # the commerce service goes away

                async def prices_marked_stale() -> bool:
                    stale = _prices(await _products(s, edge))
                    return bool(stale) and all(e.get("price_stale") is True for e in stale.values())

                await wait_until(prices_marked_stale, what="the edge to mark its last prices stale")
                stale = _prices(await _products(s, edge))
                assert {k: {f: v for f, v in e.items() if f != "price_stale"} for k, e in stale.items()} \
                    == {k: e for k, e in edge_prices.items() if k in stale}, "the last prices, not others"
                metrics = await (await s.get(edge + "/metrics")).text()
                assert 'showroom_catalog_price_fetches_total{outcome="failed"}' in metrics
        finally:
            await commerce_runner.cleanup()
            await pool.close()


async def test_the_http_price_port_caches_and_sends_one_request_at_a_time() -> None:
    hits: list[int] = []
    release = asyncio.Event()
    reply: dict[str, Any] = {"status": 200, "body": {"as_of": "t", "source": "sandbox", "products": {
        "bar": {"au-10g": {"price_cny": "9300.00", "price_as_of": "2026-01-01T00:00:00+00:00",
                           "price_source": "sandbox"}}}}}

    async def catalog_prices(request: web.Request) -> web.Response:
        hits.append(1)
        await release.wait()
        return web.json_response(reply["body"], status=reply["status"])

    fake = web.Application()
    fake.router.add_get("/api/prices/catalog", catalog_prices)
    now = [100.0]
    async with _serving(fake) as base:
        port = HttpCatalogPrices(base + "/", ttl_s=2.0, clock=lambda: now[0])
        try:
            first = [asyncio.ensure_future(port.prices()) for _ in range(10)]
            await wait_until(lambda: len(hits) == 1, what="the first request")
            release.set()
            tables = await asyncio.gather(*first)
            assert len(hits) == 1, "ten callers, one request"
            assert all(t == tables[0] for t in tables) and tables[0]["bar"]["au-10g"]["price_cny"] == "9300.00"
            now[0] += 1.0
            assert await port.prices() == tables[0] and len(hits) == 1, "cached within the TTL"

            reply["status"] = 503
            now[0] += 2.0
            assert await port.prices() == tables[0], "the previous table while one request refreshes it"
            await wait_until(lambda: port.requests == 2 and port._refresh is None, what="the failed refresh")
            stale = await port.prices()
            assert stale["bar"]["au-10g"] == {**tables[0]["bar"]["au-10g"], "price_stale": True}

            reply.update(status=200, body={"products": {"bar": {"au-10g": {"price": 1}}}})  # malformed
            now[0] += 2.5
            await port.prices()
            await wait_until(lambda: port.requests == 3 and port._refresh is None, what="the malformed reply")
            assert (await port.prices())["bar"]["au-10g"]["price_stale"] is True

            reply.update(body={"products": {"bar": {"au-10g": {"price_cny": "9310.00"}}}})
            now[0] += 2.5
            await port.prices()
            await wait_until(lambda: port.requests == 4 and port._refresh is None, what="the recovered reply")
            assert await port.prices() == {"bar": {"au-10g": {"price_cny": "9310.00"}}}
        finally:
            await port.close()


async def test_an_edge_without_a_commerce_url_shows_no_prices_and_says_so(tmp_path: Path, project_root: Path,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    catalog = _catalog(project_root)
    edge_app, pool = _edge_app(tmp_path, catalog, "")
    assert "edge role without SHOWROOM_COMMERCE_URL" in caplog.text
    try:
        async with _serving(edge_app) as edge, aiohttp.ClientSession() as s:
            assert _prices(await _products(s, edge)) == {}
    finally:
        await pool.close()


_EDGE_SCRIPT = """
import asyncio, json, sys
from pathlib import Path
import aiohttp
from aiohttp import web
from render_node.app import create_app
from render_node.config import Config
from render_node.pool import RenderPool
from tests.tiny_renderer import make_tiny_renderer

async def main():
    config = Config(role="edge", port=0, data_dir=Path(sys.argv[1]), workers=1, commerce_url="http://127.0.0.1:9")
    pool = RenderPool(make_tiny_renderer, workers=0)
    runner = web.AppRunner(create_app(config, renderer_pool=pool))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    async with aiohttp.ClientSession() as s:
        r = await s.get(f"http://127.0.0.1:{runner.addresses[0][1]}/api/products")
        assert r.status == 200 and (await r.json())["products"]
    await runner.cleanup()
    await pool.close()

asyncio.run(main())
print(json.dumps(sorted(sys.modules)))
"""


def _commerce_modules(names: list[str]) -> list[str]:
    return [n for n in names if COMMERCE_MODULES.match(n)]


async def test_an_edge_process_imports_no_commerce_code(tmp_path: Path, project_root: Path) -> None:
    importtime = subprocess.run([sys.executable, "-X", "importtime", "-c", "import render_node.app"],
                                cwd=project_root, capture_output=True, text=True, timeout=120, check=True)
    imported = [line.rsplit("|", 1)[1].strip() for line in importtime.stderr.splitlines() if "|" in line]
    assert "render_node.app" in imported and _commerce_modules(imported) == []

    served = subprocess.run([sys.executable, "-c", _EDGE_SCRIPT, str(tmp_path / "data")], cwd=project_root,
                            capture_output=True, text=True, timeout=120)
    assert served.returncode == 0, served.stderr
    modules = json.loads(served.stdout.splitlines()[-1])
    assert "render_node.prices" in modules and "aiohttp" in modules
    assert _commerce_modules(modules) == [], "an edge app that served its catalog loaded commerce code"


async def _serve(args: list[str], project_root: Path, stderr: Path) -> tuple[asyncio.subprocess.Process, str]:
    """`showroom serve ARGS --port 0` (under -X importtime); its base URL, read from its start-up line."""
    with stderr.open("wb") as err:  # the child keeps its own copy of the descriptor
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-X", "importtime", "-m", "render_node", "serve", "--port", "0", *args,
            cwd=project_root, stdout=asyncio.subprocess.PIPE, stderr=err,
            env={**os.environ, "EGL_PLATFORM": "surfaceless"})
    assert proc.stdout is not None
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 120)).decode()
        assert line, f"showroom serve {' '.join(args)} exited: {stderr.read_text()[-2000:]}"
        m = re.search(r"node on (http://\S+?)[,;]", line)
        if m:
            return proc, m.group(1)


@pytest.mark.gl
async def test_showroom_serve_edge_and_commerce_processes_show_the_same_prices(tmp_path: Path,
                                                                             project_root: Path) -> None:
    procs: list[asyncio.subprocess.Process] = []
    try:
        commerce_proc, commerce = await _serve(["--role", "commerce", "--data-dir", str(tmp_path / "commerce")],
                                               project_root, tmp_path / "commerce.log")
        procs.append(commerce_proc)
        edge_proc, edge = await _serve(["--role", "edge", "--workers", "1", "--data-dir", str(tmp_path / "edge"),
                                        "--commerce-url", commerce], project_root, tmp_path / "edge.log")
        procs.append(edge_proc)
        async with aiohttp.ClientSession() as s:
            seen: dict[str, Any] = {}

            async def same_prices() -> bool:
                seen["commerce"] = _prices(await _products(s, commerce))
                seen["edge"] = _prices(await _products(s, edge))
                return bool(seen["commerce"]) and seen["edge"] == seen["commerce"]

            await wait_until(same_prices, what="the edge process's prices to equal the commerce process's")
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            await asyncio.wait_for(proc.wait(), 30)
    imported = [line.rsplit("|", 1)[1].strip() for line in (tmp_path / "edge.log").read_text().splitlines()
                if line.startswith("import time:") and "|" in line]
    assert "render_node.prices" in imported
    assert _commerce_modules(imported) == [], "showroom serve --role edge loaded commerce code"
    commerce_imported = (tmp_path / "commerce.log").read_text()
    assert "sqlalchemy" in commerce_imported, "the check would see commerce modules if they were imported"
