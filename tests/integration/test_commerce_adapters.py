"""Price feeds and event buses: the sandbox walk moves realistically and repeatably; file and HTTP feeds refuse
stale or malformed prices; the in-process bus delivers to subscribers and drops for slow ones; Redis when there."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
from collections.abc import Mapping
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from showroom.adapters.bus import QUEUE_SIZE, InProcessBus, RedisBus
from showroom.adapters.prices import HttpPriceFeed, JsonFilePriceFeed, SandboxPriceFeed
from showroom.catalog import Metal
from showroom.ports import EventBusUnavailable, PriceUnavailable
from showroom.services._uow import Commerce, Outcome, publish
from tests.commerce_fakes import ManualClock
from tests.waiting import wait_until

pytestmark = pytest.mark.asyncio


async def test_the_sandbox_feed_moves_plausibly_and_repeatably() -> None:
    clock = ManualClock()
    feed = SandboxPriceFeed(clock, seed=1)
    prices = []
    for _ in range(8640):  # one day in 10 s ticks
        prices.append((await feed.snapshot()).cny_per_g[Metal.GOLD])
        clock.advance(10)
    assert len(set(prices)) > 1000  # it moves
    assert all(Decimal("850") < p < Decimal("1010") for p in prices)  # around 930 CNY/g, no wild jumps
    steps = [abs(b - a) / a for a, b in pairwise(prices)]
    assert max(steps) < Decimal("0.003")
    again = SandboxPriceFeed(ManualClock(), seed=1)
    assert (await again.snapshot()).cny_per_g[Metal.GOLD] == prices[0]
    assert (await SandboxPriceFeed(ManualClock(), seed=2).snapshot()).cny_per_g != {}


async def test_the_file_feed_reads_changes_and_refuses_stale_or_broken_prices(tmp_path: Path) -> None:
    clock = ManualClock()
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"as_of": clock.now().isoformat(), "source": "sge",
                                "cny_per_g": {"Au": "931.20", "Ag": "11.4"}}))
    feed = JsonFilePriceFeed(path, clock, max_age_s=120)
    snap = await feed.snapshot()
    assert snap.cny_per_g[Metal.GOLD] == Decimal("931.20") and snap.source == "sge"
    clock.advance(121)
    with pytest.raises(PriceUnavailable, match="older"):
        await feed.snapshot()
    path.write_text("{not json")
    os.utime(path, (1, 1))
    with pytest.raises(PriceUnavailable):
        await feed.snapshot()


async def test_the_http_feed_fetches_json_and_survives_an_outage() -> None:
    clock = ManualClock()
    state = {"ok": True}

    async def prices(_: web.Request) -> web.Response:
        if not state["ok"]:
            return web.Response(status=503)
        return web.json_response({"as_of": clock.now().isoformat(), "cny_per_g": {"Au": "929.5", "Pt": "351"}})

    app = web.Application()
    app.router.add_get("/p", prices)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            feed = HttpPriceFeed(str(server.make_url("/p")), session, clock, cache_s=0)
            assert (await feed.snapshot()).cny_per_g[Metal.PLATINUM] == Decimal("351")
            state["ok"] = False
            clock.advance(1)
            with pytest.raises(PriceUnavailable, match="503"):
                await feed.snapshot()
    finally:
        await server.close()


async def test_the_in_process_bus_delivers_in_order_and_never_blocks_on_a_slow_subscriber() -> None:
    bus = InProcessBus()
    fast = await bus.subscribe("order:1")
    slow = await bus.subscribe("order:1")
    other = await bus.subscribe("order:2")
    got: list[int] = []

    async def read() -> None:
        async for m in fast:
            got.append(int(m["n"]))
            if len(got) == 3:
                return

    reader = asyncio.get_running_loop().create_task(read())
    for n in range(3):
        await bus.publish("order:1", {"n": n})
    await asyncio.wait_for(reader, 2)
    assert got == [0, 1, 2]
    for n in range(QUEUE_SIZE + 50):
        await bus.publish("order:1", {"n": n})
    assert slow.queue.qsize() == QUEUE_SIZE  # oldest dropped, publisher never waited
    assert other.queue.qsize() == 0
    await bus.close()


@pytest.mark.redis
async def test_the_redis_bus_carries_events_between_nodes(redis_url: str) -> None:
    import redis.asyncio as redis_async

    channel = f"order:{secrets.token_hex(4)}"  # other test runs may share this Redis
    node_a, node_b = RedisBus(redis_url), RedisBus(redis_url)
    observer = redis_async.from_url(redis_url)  # type: ignore[no-untyped-call]
    sub = await node_b.subscribe(channel)

    async def subscribed() -> bool:  # Redis delivers only to subscriptions it has registered
        [(_, count)] = await observer.pubsub_numsub("showroom:" + channel)
        return int(count) >= 1

    await wait_until(subscribed, what=f"node B's subscription to {channel} in Redis")
    await node_a.publish(channel, {"type": "order", "id": "x", "status": "paid"})

    async def first() -> dict[str, object]:
        async for m in sub:
            return m
        raise AssertionError("closed")

    assert (await asyncio.wait_for(first(), 5))["status"] == "paid"
    await sub.close()
    await observer.aclose()
    await node_a.close()
    await node_b.close()



async def test_publishing_without_redis_is_one_warning_and_the_rest_of_the_events_are_not_tried(
        caplog: pytest.LogCaptureFixture) -> None:
    """Redis out of reach: `publish` raises the port's `EventBusUnavailable` (not redis-py's error), and the service
    logs one line for the transaction's events, no traceback, without waiting for a connect timeout per event."""
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bus = RedisBus(f"redis://127.0.0.1:{port}/0")
    try:
        with pytest.raises(EventBusUnavailable, match="Redis cannot be reached"):
            await bus.publish("orders", {"type": "order", "id": "x", "status": "paid"})
        tries: list[str] = []
        real = bus.publish

        async def counted(channel: str, message: Mapping[str, Any]) -> None:
            tries.append(channel)
            await real(channel, message)

        bus.publish = counted  # type: ignore[method-assign]
        outcome = Outcome(events=[{"type": "order", "id": f"o{i}", "status": "paid"} for i in range(3)])
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="showroom.commerce"):
            await publish(cast(Commerce, SimpleNamespace(bus=bus)), outcome)
        assert tries == ["orders"]  # the first failure ends the transaction's publishing
        [record] = [r for r in caplog.records if r.name == "showroom.commerce"]
        assert record.levelno == logging.WARNING and record.exc_info is None
        assert "o0 paid and 2 more" in record.getMessage() and "Redis cannot be reached" in record.getMessage()
    finally:
        await bus.close()
