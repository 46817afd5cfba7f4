"""The commerce API over real HTTP with the real payment sandbox on loopback: buy a gold bar, reserve a car,
idempotency, refunds, the order WebSocket (with the order's token), shares with attribution, JSON errors (never
a 500)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from PIL import Image

from showroom import api
from showroom.adapters.clock import SystemClock
from showroom.adapters.migrate import MIGRATIONS
from showroom.bootstrap import start_commerce
from showroom.settings import CommerceSettings
from tests.commerce_fakes import SECRET, FixedPrices, make_catalog
from tests.integration.commerce_db import DB_KINDS, database_url

pytestmark = pytest.mark.asyncio


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    base: str
    pay: str
    http: aiohttp.ClientSession
    database_url: str
    tokens: dict[str, str] = field(default_factory=dict)
    """order id -> the customer's order token from the order's first answer."""

    async def post(self, path: str, body: Any, key: str | None = None, token: str | None = None) -> tuple[int, Any]:
        headers = {"Idempotency-Key": key} if key else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self.http.post(self.base + path, json=body, headers=headers) as r:
            reply = await r.json()
            if path == "/api/orders" and isinstance(reply, dict) and "order_token" in reply:
                self.tokens[reply["id"]] = reply["order_token"]
            return r.status, reply

    async def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.get(self.base + path, headers=headers) as r:
            return r.status, await r.json()

    async def wait_status(self, order_id: str, status: str, timeout_s: float = 10.0) -> dict[str, Any]:
        """The customer's view (with the order's token) once the order has `status`."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout_s
        while True:
            _, order = await self.get(f"/api/orders/{order_id}", self.tokens.get(order_id))
            if order["status"] == status or loop.time() > end:
                assert order["status"] == status, order
                return dict(order)
            await asyncio.sleep(0.05)


async def _product_image(product_id: str, variant_id: str) -> bytes:
    img = Image.new("RGBA", (300, 200), (212, 175, 55, 255))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


@pytest_asyncio.fixture
async def stack(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Stack]:
    """The commerce app on SQLite (or PostgreSQL when a test asks with `indirect`) and the real sandbox."""
    kind = getattr(request, "param", "sqlite")
    gen = database_url(kind, tmp_path)
    url = await gen.__anext__()
    try:
        async for s in _stack(url):
            yield s
    finally:
        with contextlib.suppress(StopAsyncIteration):
            await gen.__anext__()


async def _stack(url: str) -> AsyncIterator[Stack]:
    from showroom.payment_sandbox import SandboxSettings
    from showroom.payment_sandbox.app import create_sandbox_app

    sandbox = TestServer(create_sandbox_app(SandboxSettings(webhook_secret=SECRET,
                                                            notify_retry_schedule_s=(0.05, 0.1, 0.2, 0.4),
                                                            refund_processing_s=0.1)), host="127.0.0.1")
    await sandbox.start_server()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    settings = CommerceSettings(database_url=url, payment_webhook_secret=SECRET, public_base_url=base)
    app = web.Application()
    clock = SystemClock()
    api.setup(app, settings, make_catalog(), product_image=_product_image,
              payment_backend_url=str(sandbox.make_url("")).rstrip("/"), clock=clock,
              prices=FixedPrices(clock), run_sweeper=False)  # type: ignore[arg-type]
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        try:
            yield Stack(base, str(sandbox.make_url("")).rstrip("/"), http, settings.database_url)
        finally:
            await server.close()
            await sandbox.close()


async def _order(s: Stack, product: str = "bar-50g", variant: str = "au9999-10g", key: str = "o1",
                  **extra: Any) -> dict[str, Any]:
    status, quote = await s.post("/api/quotes", {"product": product, "variant": variant, "quantity": 1})
    assert status == 201, quote
    status, order = await s.post("/api/orders", {"quote_id": quote["id"], "customer": {"name": "李雷", "phone": "13900000000"},
                                                 "channel": "kiosk", **extra}, key)
    assert status == 201, order
    return dict(order)


async def _pay(s: Stack, order_id: str, key: str = "p1", outcome: str = "approved") -> str:
    status, payment = await s.post(f"/api/orders/{order_id}/payments", {"method": "mobile_banking"}, key)
    assert status == 201, payment
    assert payment["pay_url"].startswith(s.pay)
    async with s.http.post(f"{s.pay}/payments/{payment['payment_id']}/complete", json={"outcome": outcome}) as r:
        assert r.status < 300, await r.text()
    return str(payment["payment_id"])


@pytest.mark.parametrize("stack", DB_KINDS, indirect=True)
async def test_a_customer_buys_a_50g_gold_bar_through_the_sandbox(stack: Stack) -> None:
    order = await _order(stack, variant="au9999-50g")
    assert order["amount_cny"] == "46895.50"
    token = order["order_token"]
    async with stack.http.ws_connect(f"{stack.base}/ws/orders/{order['id']}?token={token}") as ws:
        first = await ws.receive_json(timeout=5)
        assert first["type"] == "order" and first["status"] == "pending_payment"
        await _pay(stack, order["id"])
        seen = [first["status"]]
        while seen[-1] != "paid":
            seen.append((await ws.receive_json(timeout=10))["status"])
        assert "aml_review" not in json.dumps(first) and first["order"]["customer"]["phone"] == "13900000000"
    paid = await stack.wait_status(order["id"], "paid")
    assert paid["paid_cny"] == "46895.50" and paid["payments"][0]["status"] == "succeeded"
    status, public = await stack.get(f"/api/orders/{order['id']}")
    assert status == 200 and public == {"id": order["id"], "status": "paid"}


async def test_idempotency_over_http(stack: Stack) -> None:
    _, quote = await stack.post("/api/quotes", {"product": "bar-50g", "variant": "au9999-10g"})
    body = {"quote_id": quote["id"], "customer": {"phone": "13700000000"}}
    s1, o1 = await stack.post("/api/orders", body, "idem-1")
    s2, o2 = await stack.post("/api/orders", body, "idem-1")
    assert (s1, s2) == (201, 201) and o1 == o2 and o1["order_token"]  # the replay carries the same token
    s3, err = await stack.post("/api/orders", {**body, "channel": "vr"}, "idem-1")
    assert s3 == 422 and err["error"]["code"] == "idempotency_key_reused"
    s4, err = await stack.post("/api/orders", body)
    assert s4 == 400 and err["error"]["code"] == "idempotency_key_missing"


async def test_concurrent_http_requests_with_one_key_make_one_order(stack: Stack) -> None:
    _, quote = await stack.post("/api/quotes", {"product": "bar-50g", "variant": "au9999-10g"})
    body = {"quote_id": quote["id"], "customer": {"phone": "13600000000"}}
    replies = await asyncio.gather(*(stack.post("/api/orders", body, "same-key") for _ in range(10)))
    created = {r[1]["id"] for r in replies if r[0] == 201}
    assert len(created) == 1 and all(r[0] in (201, 409) for r in replies)


# Refunds and fulfilment are staff routes: tests/e2e/test_staff_api.py drives them with a staff session.


async def test_a_forged_notification_is_refused(stack: Stack) -> None:
    async with stack.http.post(stack.base + "/api/payments/notify", data=b'{"id":"evt_x","type":"payment.succeeded"}',
                               headers={"X-Signature": "t=1,v1=deadbeef", "Content-Type": "application/json"}) as r:
        assert r.status == 401 and (await r.json())["error"]["code"] == "signature_invalid"


async def test_a_declined_payment_then_a_successful_retry(stack: Stack) -> None:
    order = await _order(stack)
    await _pay(stack, order["id"], "p1", "declined")
    failed = await stack.wait_status(order["id"], "payment_failed")
    assert failed["payments"][0]["failure_code"] == "declined"
    await _pay(stack, order["id"], "p2")
    await stack.wait_status(order["id"], "paid")


@pytest.mark.parametrize("stack", DB_KINDS, indirect=True)
async def test_a_car_reservation_with_a_loan_plan(stack: Stack) -> None:
    status, plan = await stack.post("/api/finance/plans", {"product": "car-ev", "variant": "pro-white",
                                                            "down_payment_ratio": "0.2", "term_months": 36,
                                                            "method": "equal_principal"})
    assert status == 200 and len(plan["schedule"]) == 36 and plan["apr_percent"] == "3.99"
    status, refused = await stack.post("/api/finance/plans", {"product": "car-ev", "down_payment_ratio": "0.1"})
    assert status == 422 and refused["error"]["code"] == "compliance_refused"
    order = await _order(stack, "car-ev", "pro-white", finance={"down_payment_ratio": "0.2", "term_months": 36})
    assert order["amount_cny"] == "5000.00" and order["finance"]["term_months"] == 36
    await _pay(stack, order["id"])
    await stack.wait_status(order["id"], "paid")


async def test_shares_attribute_visits_and_purchases(stack: Stack) -> None:
    status, share = await stack.post("/api/shares", {"product": "bar-50g", "variant": "au9999-10g", "channel": "wechat"},
                                     "s1")
    assert status == 201 and share["url"].startswith(stack.base + "/s/")
    assert share["visits"] == 0  # whoever made the share is told its counts
    status, landing = await stack.get(f"/api/shares/{share['token']}")
    assert status == 200 and landing["name"]["zh"] == "足金金条 50克"
    assert not {"visits", "orders", "purchases"} & set(landing)  # the public landing shows the share's content only
    async with stack.http.get(share["poster_url"]) as r:
        assert r.status == 200 and r.content_type == "image/png"
        assert Image.open(io.BytesIO(await r.read())).size == (1080, 1600)
    order = await _order(stack, share_token=share["token"])
    await _pay(stack, order["id"])
    await stack.wait_status(order["id"], "paid")
    _, again = await stack.post("/api/shares", {"product": "bar-50g", "variant": "au9999-10g", "channel": "wechat"},
                                "s1")  # the replay of the first answer
    assert again["id"] == share["id"]
    from showroom.adapters.sql import SqlDatabase

    db = SqlDatabase(stack.database_url)
    try:
        async with db.uow() as uow:
            after = await uow.get_share(share["id"])
    finally:
        await db.close()
    assert (after.visits, after.orders, after.purchases) == (1, 1, 1)
    status, bad = await stack.get(f"/api/shares/{share['token']}x")
    assert status == 404 and bad["error"]["code"] == "share_invalid"


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("post", "/api/quotes", b"not json", 422),
    ("post", "/api/quotes", b"[1, 2]", 422),
    ("post", "/api/quotes", b'{"product": "nope"}', 404),
    ("post", "/api/quotes", b'{"product": "bar-50g", "quantity": "2"}', 422),
    ("post", "/api/quotes", b'{"product": "bar-50g", "quantity": 1000}', 422),
    ("post", "/api/orders/ord_missing/payments", b'{"method": "card"}', 404),
    ("post", "/api/orders/ord_missing/payments", b'{"method": "cash"}', 422),
    ("get", "/api/orders/ord_missing", b"", 404),
    ("post", "/api/orders/ord_missing/cancel", b"", 404),
    ("post", "/api/finance/plans", b'{"product": "bar-50g"}', 422),
    ("post", "/api/quotes", b"x" * 70_000, 413),
])
async def test_bad_input_gets_a_json_4xx(stack: Stack, method: str, path: str, body: bytes, status: int) -> None:
    headers = {"Content-Type": "application/json", "Idempotency-Key": "bad-1"}
    async with stack.http.request(method.upper(), stack.base + path, data=body, headers=headers) as r:
        assert r.status == status, await r.text()
        assert set((await r.json())["error"]) == {"code", "message"}


async def test_catalog_prices_for_the_catalog_routes() -> None:
    from showroom.adapters.bus import InProcessBus

    app = web.Application()
    assert await api.catalog_prices(app) == {}  # no commerce in this app
    clock = SystemClock()
    settings = CommerceSettings(database_url="sqlite+aiosqlite:///:memory:")
    feed = FixedPrices(clock)  # type: ignore[arg-type]
    runtime = await start_commerce(settings, make_catalog(), prices=feed, clock=clock,
                                   bus=InProcessBus(), run_sweeper=False)
    app[api.RUNTIME] = runtime
    try:
        table = await api.catalog_prices(app)
        bar, car = table["bar-50g"], table["car-ev"]
        assert bar["au9999-50g"]["price_cny"] == "46895.50" and bar["au9999-50g"]["metal_cny_per_g"] == "929.91"
        assert car["pro-white"] == {**car["pro-white"], "deposit_cny": "5000.00", "price_cny": "259800"}
        assert set(table) == {"bar-50g", "ring-18k", "car-ev"}
        assert bar["au9999-10g"]["price_cny"] == "9419.10"
        feed.fresh = False
        assert await api.catalog_prices(app) == {}
    finally:
        await runtime.close()


async def test_the_catalog_prices_route_gives_every_variant_its_current_price(stack: Stack) -> None:
    status, doc = await stack.get("/api/prices/catalog")
    assert status == 200 and doc["source"] == "fixed" and datetime.fromisoformat(doc["as_of"])
    bar = doc["products"]["bar-50g"]["au9999-50g"]
    assert bar == {"price_cny": "46895.50", "price_as_of": doc["as_of"], "price_source": "fixed",
                   "metal_cny_per_g": "929.91"}
    assert doc["products"]["car-ev"]["pro-white"]["deposit_cny"] == "5000.00"


async def _showroom(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "render_node", *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def _migration_head() -> str:
    """The newest revision among the migration scripts (what `showroom db upgrade` must reach)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


async def test_db_upgrade_and_reconcile_commands(stack: Stack, tmp_path: Any) -> None:
    fresh = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    for _ in range(2):  # idempotent
        code, out = await _showroom("db", "upgrade", "--database-url", fresh)
        assert code == 0 and f"revision {_migration_head()}" in out, out
    order = await _order(stack)
    await _pay(stack, order["id"])
    await stack.wait_status(order["id"], "paid")
    day = datetime.now(timezone(timedelta(hours=8))).date().isoformat()
    args = ("reconcile", "--date", day, "--database-url", stack.database_url, "--payment-backend-url", stack.pay)
    code, out = await _showroom(*args)
    assert code == 0 and "1 matched, 0 mismatched" in out, out
    import sqlite3

    with sqlite3.connect(stack.database_url.removeprefix("sqlite+aiosqlite:///")) as db:
        db.execute("UPDATE payments SET amount_fen = amount_fen + 1")
    code, out = await _showroom(*args)
    assert code == 1 and "amount" in out and "0 matched, 1 mismatched" in out, out


async def test_the_rates_command_sets_and_lists_the_banks_loan_rates(tmp_path: Any) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'rates.db'}"
    code, out = await _showroom("rates", "list", "--database-url", db)
    assert code == 0 and "default rate" in out, out
    code, out = await _showroom("rates", "set", "car", "--term-months", "36", "--annual-rate", "0.035",
                                "--valid-from", "2026-01-01", "--valid-to", "2026-12-31", "--database-url", db)
    assert code == 0 and "car 36 months at 0.035" in out, out
    code, out = await _showroom("rates", "list", "car", "--json", "--database-url", db)
    (row,) = json.loads(out[out.index("["):])
    assert row["annual_rate"] == "0.035" and row["valid_to"] == "2026-12-31" and row["set_by"].startswith("cli:")
    for bad in (["--annual-rate", "0.5"], ["--annual-rate", "NaN"], ["--term-months", "6"],
                ["--valid-from", "0001-01-01"]):
        args = {"--term-months": "36", "--annual-rate": "0.03", "--valid-from": "2026-01-01"}
        args.update(dict(zip(bad[::2], bad[1::2], strict=True)))
        code, out = await _showroom("rates", "set", "car", *[x for kv in args.items() for x in kv],
                                    "--database-url", db)
        assert code == 2 and "showroom rates" in out, out
    code, out = await _showroom("rates", "set", "yacht", "--term-months", "36", "--annual-rate", "0.03",
                                "--valid-from", "2026-01-01", "--database-url", db)
    assert code == 2 and "neither a catalog product id nor a product kind" in out, out
