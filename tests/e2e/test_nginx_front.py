"""The real nginx with the deployment's config (deploy/nginx/edge-cache.conf, its upstream, listen port and cache
folder pointed at loopback and tmp) in front of an edge node: frames and view-set manifests come from its cache
on the second request, and live streams pass through."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from tests.e2e.conftest import Node, start_node
from tests.waiting import wait_until

pytestmark = pytest.mark.asyncio

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def deploy_conf_on_loopback(project_root: Path, root: Path, upstream: str, port: int) -> Path:
    """A main nginx.conf in `root` that includes the deployment's edge-cache.conf with three things changed:
    the upstream server, the listen address and the cache folder."""
    text = (project_root / "deploy" / "nginx" / "edge-cache.conf").read_text()
    for old, new in (("edge.showroom.svc.cluster.local:8080", upstream), ("listen 8080;", f"listen 127.0.0.1:{port};"),
                     ("/var/cache/nginx/views", str(root / "cache"))):
        assert text.count(old) == 1, f"deploy/nginx/edge-cache.conf no longer has {old!r} once"
        text = text.replace(old, new)
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    (root / "edge-cache.conf").write_text(text)
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must reach the tmp folders
    temp = " ".join(f"{kind}_temp_path {root / 'tmp' / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                              "uwsgi", "scgi"))
    conf = root / "nginx.conf"
    conf.write_text(f"{user}worker_processes 1;\ndaemon off;\npid {root / 'nginx.pid'};\n"
                    f"error_log {root / 'error.log'} warn;\nevents {{ worker_connections 256; }}\n"
                    f"http {{\n  access_log off;\n  {temp}\n  include {root / 'edge-cache.conf'};\n}}\n")
    return conf


@dataclass
class Front:
    base: str
    node: Node
    runner: web.AppRunner
    process: subprocess.Popen[bytes]
    node_stopped: bool = False

    async def stop_node(self) -> None:
        self.node_stopped = True
        await self.runner.cleanup()


@pytest_asyncio.fixture
async def front(tmp_path: Path, project_root: Path) -> AsyncIterator[Front]:
    if NGINX is None:
        pytest.skip("nginx is not installed (scripts/test installs nginx-light)")
    node, runner = await start_node(tmp_path / "node", project_root, workers=1)
    root = tmp_path / "nginx"
    port = _free_port()
    conf = deploy_conf_on_loopback(project_root, root, node.base.removeprefix("http://"), port)
    process = subprocess.Popen([NGINX, "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    f: Front | None = None
    try:
        async with aiohttp.ClientSession() as s:
            async def up() -> bool:
                assert process.poll() is None, (process.stderr.read() if process.stderr else b"").decode()
                try:
                    return (await s.get(base + "/nginx-healthz")).status == 200
                except aiohttp.ClientConnectionError:
                    return False

            await wait_until(up, what="nginx to answer")
        f = Front(base, node, runner, process)
        yield f
    finally:
        process.terminate()
        process.wait(10)
        if process.stderr is not None:
            process.stderr.close()
        if f is None or not f.node_stopped:
            await runner.cleanup()
        await node.pool.close()


async def test_nginx_serves_frames_and_manifests_from_its_cache_on_the_second_request(front: Front) -> None:
    pid = front.node.catalog.products[0].id
    async with aiohttp.ClientSession() as s:
        views = f"{front.base}/api/products/{pid}/views?size=48x32"
        first = await s.get(views)
        manifest = await first.json()
        assert first.status == 200 and first.headers["X-Cache-Status"] == "MISS"
        again = await s.get(views)
        assert again.headers["X-Cache-Status"] == "HIT" and await again.json() == manifest
        assert (await s.get(views.replace("48x32", "40x30"))).headers["X-Cache-Status"] == "MISS", "keyed by URL"

        path = manifest["frames"][7]["url"]
        direct = await s.get(front.node.base + path)
        direct_body = await direct.read()
        r1 = await s.get(front.base + path)
        assert r1.status == 200 and r1.headers["X-Cache-Status"] == "MISS" and await r1.read() == direct_body
        r2 = await s.get(front.base + path)
        assert r2.status == 200 and r2.headers["X-Cache-Status"] == "HIT" and await r2.read() == direct_body
        assert r2.headers["ETag"] == direct.headers["ETag"]
        assert r2.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert r2.headers["Content-Type"] == "image/jpeg"
        r304 = await s.get(front.base + path, headers={"If-None-Match": direct.headers["ETag"]})
        assert r304.status == 304 and r304.headers["X-Cache-Status"] == "HIT"
        busted = await s.get(front.base + path + "?v=2")
        assert busted.headers["X-Cache-Status"] == "HIT", "a query string does not make another copy"
        frames_served = await (await s.get(front.node.base + "/metrics")).text()
        assert 'showroom_http_requests_total{route="/views/{name}",status="200"} 2.0' in frames_served, \
            "the node saw the direct request and nginx's one miss, nothing else"

        async with s.ws_connect(front.base + "/ws/stream") as ws:  # WebSocket upgrade through /ws/
            await ws.send_json({"type": "hello", "client": "kiosk", "product": pid, "viewport": {
                "width": 64, "height": 48}, "eyes": 1, "fov_deg": 30, "ipd_m": 0.064, "codec": "jpeg",
                "max_kbps": 2000, "target_fps": 10})
            welcome = await ws.receive_json(timeout=10)
            assert welcome["type"] == "welcome" and welcome["session_id"]


async def test_cached_frames_outlive_the_edge_node(front: Front) -> None:
    pid = front.node.catalog.products[1].id
    async with aiohttp.ClientSession() as s:
        manifest = await (await s.get(f"{front.base}/api/products/{pid}/views?size=32x24")).json()
        path = manifest["frames"][0]["url"]
        body = await (await s.get(front.base + path)).read()
        await front.stop_node()
        with pytest.raises(aiohttp.ClientConnectionError):
            await s.get(front.node.base + "/healthz")
        r = await s.get(front.base + path)
        assert r.status == 200 and r.headers["X-Cache-Status"] == "HIT" and await r.read() == body
