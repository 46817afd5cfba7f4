"""PostgreSQL and Redis restarted under the running cluster, seen the way a customer sees it through nginx.

The cluster (`showroom cluster up --private-services`, one edge) runs its own PostgreSQL and Redis, started from
the machine's binaries on ports of their own, so they can be stopped and started without touching the machine's
shared services. PostgreSQL stopped: commerce answers 503 `database_unavailable` with a JSON body and Retry-After
(not a 500, not a hang); started again: the customer's retry with the same Idempotency-Key places the order once,
and the pool reconnects without a commerce restart. Redis restarted: the order sockets that were open follow
their orders again, an order paid while Redis was away (its event lost) and one paid after it came back.
Commerce itself gone: nginx answers the commerce routes with a JSON 503 and Retry-After too.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from render_node.commands import _cluster_services as services
from render_node.commands._cluster_parts import find_nginx
from render_node.commands._cluster_run import ClusterError, Member, group_alive, read_state
from tests.cluster_support import PRODUCT, VARIANT, build_assets, free_ports
from tests.conftest import service_unreachable
from tests.waiting import wait_until

pytestmark = [pytest.mark.asyncio]


@dataclass
class Cluster:
    front: str
    payments: str
    state_dir: Path
    database_url: str

    async def quote(self, http: aiohttp.ClientSession) -> dict[str, Any]:
        async with http.post(self.front + "/api/quotes", json={"product": PRODUCT, "variant": VARIANT,
                                                                 "quantity": 1}) as r:
            assert r.status == 201, await r.text()
            return dict(await r.json())

    async def order(self, http: aiohttp.ClientSession, quote_id: str, key: str) -> tuple[int, Any, str | None]:
        phone = f"139{int(key.encode().hex(), 16) % 10**8:08d}"  # the same request for the same key
        async with http.post(self.front + "/api/orders", headers={"Idempotency-Key": key},
                             json={"quote_id": quote_id, "channel": "kiosk", "customer": {"phone": phone}}) as r:
            return r.status, await r.json(content_type=None), r.headers.get("Retry-After")

    async def checkout_until_payment(self, http: aiohttp.ClientSession) -> tuple[str, str, str]:
        """A placed order with a payment started: (order id, order token, payment id)."""
        quote = await self.quote(http)
        status, order, _ = await self.order(http, quote["id"], "o-" + secrets.token_hex(6))
        assert status == 201, order
        async with http.post(f"{self.front}/api/orders/{order['id']}/payments", json={"method": "qr"},
                             headers={"Idempotency-Key": "p-" + secrets.token_hex(6)}) as r:
            assert r.status == 201, await r.text()
            payment = await r.json()
        return str(order["id"]), str(order["order_token"]), str(payment["payment_id"])

    async def approve(self, http: aiohttp.ClientSession, payment_id: str) -> None:
        async with http.post(f"{self.payments}/payments/{payment_id}/complete", json={"outcome": "approved"}) as r:
            assert r.status == 200, await r.text()

    async def sql(self, query: str, *args: object) -> Any:
        import asyncpg

        conn = await asyncpg.connect(self.database_url.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()


def _cli(state_dir: Path, env: dict[str, str], *args: str, timeout_s: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "render_node", "cluster", *args, "--state-dir", str(state_dir)],
                          capture_output=True, text=True, timeout=timeout_s, env=env, check=False)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, project_root: Path) -> Iterator[Cluster]:
    try:
        find_nginx(None)
    except ClusterError as exc:
        pytest.skip(exc.message)
    try:
        services.find_binaries()
    except ClusterError as exc:
        service_unreachable("PostgreSQL and Redis binaries", exc.message)
    root = tmp_path_factory.mktemp("restarts")
    assets = build_assets(project_root, root)
    port, edge, commerce, payments, pg, redis = free_ports(6)
    env = {**os.environ, "EGL_PLATFORM": "surfaceless"}
    state_dir = root / "state"
    state = None
    started = _cli(state_dir, env, "up", "--private-services", "--port", str(port), "--edges", "1", "--edge-ports",
                   str(edge), "--commerce-port", str(commerce), "--payments-port", str(payments), "--postgres-port",
                   str(pg), "--redis-port", str(redis), "--workers", "1", "--assets-dir", str(assets))
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        state = read_state(state_dir)
        assert state is not None and state.scratch
        status = json.loads(_cli(state_dir, env, "status", "--json").stdout)
        health = {p["name"]: (p["port"], p["health"]) for p in status["processes"]}
        assert health["postgres"] == (pg, "ok") and health["redis"] == (redis, "ok"), health
        assert status["healthy"] and f":{pg}/" in status["database_url"], status
        yield Cluster(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{payments}", state_dir, state.database_url)
    finally:
        down = _cli(state_dir, env, "down", timeout_s=60)
        assert down.returncode == 0, down.stdout + down.stderr
        assert read_state(state_dir) is None, "down removes the state"
        if state is not None:
            assert not any(Path(folder).exists() for folder in state.scratch), "down deletes the private database"


async def test_with_postgresql_down_orders_get_503_and_the_same_key_places_the_order_once_when_it_is_back(
        cluster: Cluster) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        quote = await cluster.quote(http)
        key = "o-" + secrets.token_hex(6)
        await asyncio.to_thread(services.stop_service, cluster.state_dir, "postgres")
        try:
            status, body, retry_after = await cluster.order(http, quote["id"], key)
            assert (status, body["error"]["code"]) == (503, "database_unavailable"), body
            assert retry_after is not None and int(retry_after) >= 1
            async with http.post(cluster.front + "/api/quotes",
                                 json={"product": PRODUCT, "variant": VARIANT, "quantity": 1}) as r:
                assert r.status == 503 and (await r.json())["error"]["code"] == "database_unavailable"
        finally:
            await asyncio.to_thread(services.start_service, cluster.state_dir, "postgres")

        answers: list[tuple[int, Any]] = []

        async def placed() -> bool:  # the customer retries after Retry-After; commerce was not restarted
            status, body, _ = await cluster.order(http, quote["id"], key)
            answers.append((status, body))
            return status != 503

        await wait_until(placed, what="the order placed once PostgreSQL is back", timeout_s=30, poll_s=1.0)
        status, order = answers[-1]
        assert status == 201, order
        assert all(s == 503 for s, _ in answers[:-1]), answers
        status, again, _ = await cluster.order(http, quote["id"], key)
        assert status in (200, 201) and again["id"] == order["id"], again
        assert await cluster.sql("SELECT count(*) FROM orders WHERE quote_id = $1", quote["id"]) == 1

        async with http.post(f"{cluster.front}/api/orders/{order['id']}/payments", json={"method": "qr"},
                             headers={"Idempotency-Key": "p-" + key}) as r:
            assert r.status == 201, await r.text()
            payment = await r.json()
        await cluster.approve(http, payment["payment_id"])

        async def paid() -> bool:
            async with http.get(f"{cluster.front}/api/orders/{order['id']}",
                                headers={"Authorization": f"Bearer {order['order_token']}"}) as r:
                return r.status == 200 and (await r.json())["status"] == "paid"

        await wait_until(paid, what="the order paid", timeout_s=30, poll_s=0.2)
        assert await cluster.sql("SELECT count(*) FROM payments WHERE order_id = $1 AND status = 'succeeded'",
                                 order["id"]) == 1
        assert await cluster.sql("SELECT paid_fen = amount_fen FROM orders WHERE id = $1", order["id"]) is True


def wait_gone(member: Member) -> None:
    deadline = time.monotonic() + 30
    while group_alive(member):
        assert time.monotonic() < deadline, f"{member.name} still running"
        time.sleep(0.05)


async def _next_status(ws: aiohttp.ClientWebSocketResponse, want: str, timeout_s: float = 30) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            message = await ws.receive_json()
            if message.get("status") == want:
                return


async def test_order_sockets_follow_orders_paid_during_and_after_a_redis_restart(cluster: Cluster) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        during = await cluster.checkout_until_payment(http)
        after = await cluster.checkout_until_payment(http)
        sockets = []
        for order_id, token, _ in (during, after):
            ws = await http.ws_connect(f"{cluster.front}/ws/orders/{order_id}?token={token}", heartbeat=None)
            first = await ws.receive_json(timeout=10)
            assert first["status"] != "paid", first
            sockets.append(ws)

        await asyncio.to_thread(services.stop_service, cluster.state_dir, "redis")
        try:
            await cluster.approve(http, during[2])  # paid while Redis is away: its event is lost

            async def paid() -> bool:
                async with http.get(f"{cluster.front}/api/orders/{during[0]}",
                                    headers={"Authorization": f"Bearer {during[1]}"}) as r:
                    return r.status == 200 and (await r.json())["status"] == "paid"

            await wait_until(paid, what="the order paid while Redis is down", timeout_s=30, poll_s=0.2)
        finally:
            await asyncio.to_thread(services.start_service, cluster.state_dir, "redis")
        await _next_status(sockets[0], "paid")  # the socket re-reads the order once subscribed again

        await cluster.approve(http, after[2])  # paid after the restart: the event itself arrives
        await _next_status(sockets[1], "paid")
        for ws in sockets:
            await ws.close()


async def test_with_commerce_gone_nginx_answers_a_json_503_not_an_html_502(cluster: Cluster) -> None:
    """The last test: commerce stays dead (`down` cleans up)."""
    state = read_state(cluster.state_dir)
    assert state is not None
    commerce = state.member("commerce")
    os.kill(commerce.pid, signal.SIGKILL)
    await asyncio.to_thread(wait_gone, commerce)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http, http.post(
            cluster.front + "/api/quotes", json={"product": PRODUCT, "variant": VARIANT, "quantity": 1}) as r:
        assert r.status == 503 and r.content_type == "application/json", await r.text()
        assert (await r.json())["error"]["code"] == "service_unavailable"
        assert r.headers.get("Retry-After") == "2"
