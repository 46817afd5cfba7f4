"""A real node on a real loopback port: the catalog of assets/catalog.toml, stand-in model files, and render
workers running the tiny numpy renderer (these tests are about HTTP, caching and streams, not pixels)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from render_node.app import create_app
from render_node.config import Config
from render_node.pool import RenderPool
from render_node.stream.registry import StreamLimits
from showroom.catalog import Catalog, load_catalog
from tests.e2e.advisor_peers import AdvisorNode, start_advisor_node
from tests.tiny_renderer import make_slow_renderer, make_tiny_renderer

TEST_VIEW_SIZES = ((32, 24), (40, 30), (48, 32), (64, 48), (160, 120), (320, 240))
"""Small view-set sizes these nodes serve besides the published ones (SHOWROOM_EXTRA_VIEW_SIZES), for speed."""


@dataclass
class Node:
    base: str
    app: web.Application
    pool: RenderPool
    catalog: Catalog
    data_dir: Path
    assets_dir: Path


async def start_node(tmp_path: Path, project_root: Path, *, workers: int = 2, slow: bool = False,
                     limits: StreamLimits | None = None, data_dir: Path | None = None,
                     catalog: Catalog | None = None) -> tuple[Node, web.AppRunner]:
    if catalog is None:
        catalog = load_catalog((project_root / "assets" / "catalog.toml").read_text(encoding="utf-8"))
    assets = tmp_path / "assets"
    (assets / "models").mkdir(parents=True, exist_ok=True)
    for product in catalog.products:
        (assets / "models" / product.model).write_bytes(f"stand-in model of {product.id}".encode())
    data = data_dir or tmp_path / "data"
    config = Config(host="127.0.0.1", port=0, data_dir=data, role="edge", assets_dir=assets, workers=workers,
                    extra_view_sizes=TEST_VIEW_SIZES)
    pool = RenderPool(make_slow_renderer if slow else make_tiny_renderer, workers=workers)
    app = create_app(config, catalog=catalog, renderer_pool=pool,
                     stream_limits=limits or StreamLimits(max_sessions=3, max_message_bytes=4096,
                                                          idle_timeout_s=5.0, heartbeat_s=2.0))
    runner = web.AppRunner(app, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return Node(f"http://127.0.0.1:{port}", app, pool, catalog, data, assets), runner


@pytest_asyncio.fixture
async def node(tmp_path: Path, project_root: Path) -> AsyncIterator[Node]:
    n, runner = await start_node(tmp_path, project_root)
    try:
        yield n
    finally:
        await runner.cleanup()
        await n.pool.close()


@pytest_asyncio.fixture
async def slow_node(tmp_path: Path, project_root: Path) -> AsyncIterator[Node]:
    n, runner = await start_node(tmp_path, project_root, workers=1, slow=True)
    try:
        yield n
    finally:
        await runner.cleanup()
        await n.pool.close()


@pytest.fixture
def first_product(node: Node) -> str:
    return node.catalog.products[0].id


@pytest_asyncio.fixture
async def advisor_node(tmp_path: Path, project_root: Path) -> AsyncIterator[AdvisorNode]:
    """An edge node for advisor calls: one call and two waiting customers at most (tests alias it as `node`)."""
    n = await start_advisor_node(tmp_path, project_root, max_calls=1, max_waiting=2)
    try:
        yield n
    finally:
        await n.stop()


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
