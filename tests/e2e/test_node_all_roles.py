"""`role = all`: the node with the commerce API mounted: live prices in the catalog, the payment backend in
/healthz, every route in the OpenAPI document."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from render_node.app import create_app
from render_node.config import load_config
from render_node.pool import RenderPool
from showroom.catalog import load_catalog
from tests.tiny_renderer import make_tiny_renderer
from tests.waiting import wait_until

pytestmark = pytest.mark.asyncio


def _price_table(products: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    return {p["id"]: {v["id"]: {k: v[k] for k in v if k.startswith(("price_", "metal_", "deposit_"))}
                      for v in p["variants"] if "price_cny" in v} for p in products}


async def test_the_all_in_one_node_serves_prices_health_and_a_full_openapi(tmp_path: Path,
                                                                         project_root: Path) -> None:
    catalog = load_catalog((project_root / "assets" / "catalog.toml").read_text(encoding="utf-8"))
    (tmp_path / "assets" / "models").mkdir(parents=True)
    config = load_config({"data_dir": str(tmp_path / "data"), "assets_dir": str(tmp_path / "assets"),
                          "port": 0, "workers": 1}, {})
    (tmp_path / "data").mkdir()
    config = replace(config, payment_sandbox=True,  # stands for the built-in sandbox: /healthz names it
                     commerce=replace(config.commerce, payment_backend_url="http://127.0.0.1:9"))
    pool = RenderPool(make_tiny_renderer, workers=1)
    app = create_app(config, catalog=catalog, renderer_pool=pool)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        async with aiohttp.ClientSession() as s:
            products = (await (await s.get(base + "/api/products")).json())["products"]
            bar = next(p for p in products if p["kind"] == "gold_bar")
            assert float(bar["variants"][0]["price_cny"]) > 0
            car = next(p for p in products if p["kind"] == "car")
            assert "deposit_cny" in car["variants"][0]

            async def catalog_shows_the_price_table() -> bool:
                """The all-in-one catalog carries exactly what an edge gets from GET /api/prices/catalog
                (asked twice when a price tick falls in between)."""
                shown = _price_table((await (await s.get(base + "/api/products")).json())["products"])
                table = (await (await s.get(base + "/api/prices/catalog")).json())["products"]
                return bool(shown) and shown == {pid: t for pid, t in table.items() if t}

            await wait_until(catalog_shows_the_price_table, what="the catalog's prices to be the price table")
            health = await (await s.get(base + "/healthz")).json()
            assert health["payment_backend"] == "http://127.0.0.1:9" and health["role"] == "all"
            doc = await (await s.get(base + "/api/openapi.json")).json()
            for path in ("/api/quotes", "/api/orders", "/api/orders/{order_id}/payments", "/api/payments/notify",
                         "/ws/orders/{order_id}", "/api/ar/overlay", "/api/tryon", "/ws/stream"):
                assert path in doc["paths"], path
            assert doc["paths"]["/api/orders"]["post"]["parameters"][0]["name"] == "Idempotency-Key"
    finally:
        await runner.cleanup()
        await pool.close()
