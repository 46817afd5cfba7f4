"""`showroom cluster up|status|down`: the real split topology on loopback (two edges, commerce on PostgreSQL, the
payment sandbox, Redis, Debian's nginx in front), driven only through nginx the way clients reach it: the
catalog, a view set from nginx's cache, a purchase through commerce, sticky live streams balanced over the edges,
an edge killed with SIGKILL while new sessions and requests keep succeeding, and `down` leaving no process.

The tests share one cluster (started once for the module, about 10 s) and run in file order: the second kills
an edge, the third takes the cluster down. The edges render with the real panda3d renderer (llvmpipe without a
GPU) at the smallest size, from a one-product assets folder built for the test.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.cluster_support import (
    PRODUCT,
    VARIANT,
    Cluster,
    running_cluster,
)
from tests.conftest import REDIS_URL
from tests.waiting import wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres, pytest.mark.redis, pytest.mark.gl]

VIEW_SIZE = "32x24"
SECOND_VIEW_SIZE = "40x30"
"""The smallest view sets (SHOWROOM_EXTRA_VIEW_SIZES for this run): 108 frames in a few seconds on llvmpipe."""
STREAMS_TO_SPREAD = 16
"""Fresh clients opened to see both edges take streams: all on one edge by chance is 2 x 2^-16."""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, project_root: Path) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("cluster"), project_root, "cluster",
                         f"{VIEW_SIZE},{SECOND_VIEW_SIZE}") as c:
        yield c


def _client() -> aiohttp.ClientSession:
    """A client that keeps cookies like a browser does, also for an address like 127.0.0.1."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _stream(http: aiohttp.ClientSession, front: str) -> str:
    """One live stream through nginx: hello -> welcome -> a pose -> a rendered frame; returns the session id."""
    async with http.ws_connect(front + "/ws/stream") as ws:
        await ws.send_json({"type": "hello", "client": "vr", "product": PRODUCT, "viewport": {"width": 32, "height": 24},
                            "eyes": 1, "fov_deg": 60, "ipd_m": 0.064, "codec": "jpeg", "max_kbps": 2000,
                            "target_fps": 10})
        welcome = await ws.receive_json(timeout=30)
        assert welcome["type"] == "welcome" and welcome["session_id"], welcome
        await ws.send_json({"type": "pose", "seq": 1, "t": time.time(), "position": [0, 0.02, 0.3],
                            "orientation": [0, 0, 0, 1]})
        while True:
            msg = await ws.receive(timeout=60)
            if msg.type == aiohttp.WSMsgType.BINARY:
                assert len(msg.data) > 0
                return str(welcome["session_id"])
            assert msg.type == aiohttp.WSMsgType.TEXT, f"stream ended: {msg.type} {msg.extra}"


async def _streams_served(http: aiohttp.ClientSession, edge_url: str) -> int:
    """Live streams an edge has served (and closed), from its own /metrics (not published through nginx)."""
    text = await (await http.get(edge_url + "/metrics")).text()
    for line in text.splitlines():
        if line.startswith('showroom_http_requests_total{route="/ws/stream",status="101"}'):
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


async def _which_edge(http: aiohttp.ClientSession, edges: dict[str, str], before: dict[str, int]) -> str:
    """The edge whose count of served streams grew by one since `before` (counted when a stream closes)."""
    grown: list[str] = []

    async def one_grew() -> bool:
        now = {name: await _streams_served(http, url) for name, url in edges.items()}
        grown[:] = [name for name in edges if now[name] > before[name]]
        return bool(grown)

    await wait_until(one_grew, what="an edge to count the stream")
    assert len(grown) == 1, grown
    before[grown[0]] += 1
    return grown[0]


async def test_the_cluster_serves_catalog_views_purchases_and_streams_through_nginx(cluster: Cluster) -> None:
    status = cluster.status()
    assert status["healthy"], status
    assert [p["name"] for p in status["processes"]] == ["payments", "commerce", "edge-1", "edge-2", "nginx"]
    assert len({p["port"] for p in status["processes"]}) == 5
    secrets_dir = cluster.state_dir / "secrets"
    assert {f.name for f in secrets_dir.iterdir()} >= {"webhook", "share", "advisor_ticket", "recording"}
    assert all(f.stat().st_mode & 0o077 == 0 for f in secrets_dir.iterdir()), "run secrets are 0600"
    pay = cluster.process("payments")["url"]
    front = cluster.front
    async with aiohttp.ClientSession() as http:
        async def priced() -> bool:  # the edges ask commerce for live prices
            products = (await (await http.get(front + "/api/products")).json())["products"]
            bar = next(p for p in products if p["id"] == PRODUCT)
            return float(bar["variants"][0].get("price_cny", 0)) > 0

        await wait_until(priced, what="the catalog through nginx to carry commerce's prices")
        keys = await http.get(front + "/.well-known/showroom-certificate-keys.json")  # served by commerce only
        assert keys.status == 200 and (await keys.json()).get("keys"), await keys.text()

        views = f"{front}/api/products/{PRODUCT}/views?size={VIEW_SIZE}"
        first = await http.get(views, timeout=aiohttp.ClientTimeout(total=120))
        manifest = await first.json()
        assert first.status == 200 and first.headers["X-Cache-Status"] == "MISS", manifest
        again = await http.get(views)
        assert again.headers["X-Cache-Status"] == "HIT" and await again.json() == manifest
        frame_url = front + manifest["frames"][3]["url"]
        r1 = await http.get(frame_url)
        body = await r1.read()
        assert r1.status == 200 and r1.headers["X-Cache-Status"] == "MISS" and r1.headers["Content-Type"] == "image/jpeg"
        assert body[:2] == b"\xff\xd8", "a JPEG"
        r2 = await http.get(frame_url)
        assert r2.headers["X-Cache-Status"] == "HIT" and await r2.read() == body

        quote = await (await http.post(front + "/api/quotes", json={"product": PRODUCT, "variant": VARIANT,
                                                                    "quantity": 1})).json()
        assert float(quote["total_cny"]) > 0, quote
        placed = await http.post(front + "/api/orders", json={"quote_id": quote["id"], "channel": "kiosk",
                                                              "customer": {"name": "李雷", "phone": "13900000000"}},
                                 headers={"Idempotency-Key": "cluster-order-1"})
        order = await placed.json()
        assert placed.status == 201 and order["status"] == "pending_payment", order
        import redis.asyncio as redis_async

        watcher = redis_async.from_url(REDIS_URL)  # type: ignore[no-untyped-call]
        try:
            async with http.ws_connect(f"{front}/ws/orders/{order['id']}?token={order['order_token']}") as ws:
                assert (await ws.receive_json(timeout=10))["status"] == "pending_payment"
                channels = await watcher.pubsub_channels("showroom:*")
                assert channels, "commerce listens for the order's events on Redis"
                started = await http.post(f"{front}/api/orders/{order['id']}/payments", json={"method": "mobile_banking"},
                                          headers={"Idempotency-Key": "cluster-pay-1"})
                payment = await started.json()
                assert started.status == 201 and payment["pay_url"].startswith(pay), payment
                done = await http.post(f"{pay}/payments/{payment['payment_id']}/complete", json={"outcome": "approved"})
                assert done.status == 200, await done.text()
                seen = ["pending_payment"]
                while seen[-1] != "paid":  # the sandbox's signed notice reached commerce through nginx
                    seen.append((await ws.receive_json(timeout=30))["status"])
        finally:
            await watcher.aclose()

    async with _client() as http:  # a new client: no stickiness cookie yet
        await _stream(http, front)
        assert any(c.key == "showroom_sticky" for c in http.cookie_jar), "nginx pins the client with a cookie"


async def test_streams_spread_over_edges_stick_per_client_and_survive_a_killed_edge(cluster: Cluster) -> None:
    procs = {p["name"]: p for p in cluster.status()["processes"]}
    edges = {name: procs[name]["url"] for name in ("edge-1", "edge-2")}
    front = cluster.front
    async with aiohttp.ClientSession() as probe:
        served = {name: await _streams_served(probe, url) for name, url in edges.items()}
        landed = []
        for _ in range(STREAMS_TO_SPREAD):  # fresh clients (no cookie) land on either edge
            async with aiohttp.ClientSession() as fresh, fresh.ws_connect(front + "/ws/stream") as ws:
                await ws.send_json({"type": "hello", "client": "kiosk", "product": PRODUCT, "viewport": {
                    "width": 32, "height": 24}, "eyes": 1, "fov_deg": 30, "ipd_m": 0.064, "codec": "jpeg",
                    "max_kbps": 2000, "target_fps": 10})
                assert (await ws.receive_json(timeout=30))["type"] == "welcome"
            landed.append(await _which_edge(probe, edges, served))
        assert set(landed) == set(edges), f"every fresh stream on one edge: {landed}"

        async with _client() as client:  # one client: every reconnect on the same edge
            await _stream(client, front)
            home = await _which_edge(probe, edges, served)
            for _ in range(3):
                await _stream(client, front)
                assert await _which_edge(probe, edges, served) == home, "the client's streams stay on one edge"

            seen = await (await client.get(f"{front}/api/products/{PRODUCT}/views?size={VIEW_SIZE}",
                                           timeout=aiohttp.ClientTimeout(total=120))).json()
            cached_frame = front + seen["frames"][3]["url"]
            assert (await client.get(cached_frame)).status == 200  # now in nginx's cache

            os.kill(procs[home]["pid"], signal.SIGKILL)
            other = next(name for name in edges if name != home)

            async def dead() -> bool:
                return not cluster.process(home)["alive"]

            await wait_until(dead, what=f"{home} to be gone")
            await _stream(client, front)  # its edge is gone: the session lands on the other
            assert await _which_edge(probe, {other: edges[other]}, served) == other
            for _ in range(5):  # and requests keep succeeding through nginx: the catalog from the other edge,
                r = await client.get(front + "/api/products")  # frames nginx holds from its cache
                assert r.status == 200
                cached = await client.get(cached_frame)
                assert cached.status == 200 and cached.headers["X-Cache-Status"] == "HIT"
            fresh_set = await client.get(f"{front}/api/products/{PRODUCT}/views?size={SECOND_VIEW_SIZE}",
                                         timeout=aiohttp.ClientTimeout(total=120))  # a new set: the other edge
            manifest = await fresh_set.json()
            assert fresh_set.status == 200, manifest
            for frame in manifest["frames"][:6]:
                assert (await client.get(front + frame["url"])).status == 200
            async with aiohttp.ClientSession() as newcomer:
                await _stream(newcomer, front)
            status = cluster.status()
            assert not status["healthy"] and cluster.process(home)["health"] != "ok"


def _group_alive(pgid: int) -> bool:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if stat[0] != "Z" and int(stat[2]) == pgid:
                return True
    return False


async def test_down_stops_every_process_and_is_safe_to_repeat(cluster: Cluster) -> None:
    pids = [p["pid"] for p in cluster.status()["processes"]]
    first = cluster.cli("down", timeout_s=60)
    assert first.returncode == 0, first.stdout + first.stderr
    assert not any(_group_alive(pid) for pid in pids), "no process of the cluster (render workers included) is left"
    assert not (cluster.state_dir / "secrets").exists(), "the run's secrets are deleted"
    again = cluster.cli("down")
    assert again.returncode == 0 and "nothing to stop" in again.stdout
    assert cluster.cli("status").returncode == 1
