"""A commerce node and the real payment sandbox on loopback ports, for the commerce attack replays: the
customer-information service is the packaged sandbox register (docs/commerce.md, "Test customers"), the e-CNY
wallets are the sandbox's seeded ones (docs/payments.md), the catalog adds a 1 kg bar to the test catalog."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from showroom import api
from showroom.adapters.clock import SystemClock
from showroom.catalog import Catalog, LocalizedText, Purity, Variant
from showroom.services import Commerce
from showroom.settings import CommerceSettings
from tests.commerce_fakes import SECRET, FixedPrices, make_catalog

REGISTERED_L1 = "13800000000"
"""The acceptance check's number: a phone-verified (L1) customer of the sandbox register, tier-2 wallet."""
REGISTERED_L2 = "13900000000"
"""A real-name (L2) customer with a tier-1 wallet."""
SMALL_WALLET = "13700000000"
"""An L1 customer whose e-CNY wallet is tier 3 (5,000 CNY at once)."""
FROZEN = "13400000000"
UNREGISTERED = "13312345678"


def catalog() -> Catalog:
    """The test catalog with a 1 kg bar (about 938,000 CNY) among the bar's variants."""
    base = make_catalog()
    bar = base.get("bar-50g")
    kilo = Variant("au9999-1kg", LocalizedText("Au9999 1千克", "Au9999 1 kg"), purity=Purity.AU9999,
                   weight_g=Decimal("1000"), premium_cny_per_g=Decimal("8"), stock=3)
    return Catalog(tuple(replace(p, variants=(*p.variants, kilo)) if p.id == bar.id else p for p in base.products))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class CommerceNode:
    base: str
    pay: str
    http: aiohttp.ClientSession
    app: web.Application
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def ctx(self) -> Commerce:
        return self.app[api.RUNTIME].commerce

    async def call(self, method: str, path: str, body: Any = None, *, key: str | None = None,
                   token: str | None = None, raw: bytes | None = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Idempotency-Key"] = key
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
        async with self.http.request(method, self.base + path, headers=headers, **kwargs) as r:
            return r.status, await r.json()

    async def order(self, phone: str, variant: str = "au9999-10g", quantity: int = 1, *,
                    key: str | None = None) -> tuple[int, dict[str, Any]]:
        status, q = await self.call("POST", "/api/quotes", {"product": "bar-50g", "variant": variant,
                                                             "quantity": quantity})
        assert status == 201, q
        status, o = await self.call("POST", "/api/orders", {"quote_id": q["id"], "customer": {
            "name": "Test Customer", "phone": phone}, "channel": "kiosk"}, key=key or f"o-{q['id']}")
        if status == 201:
            self.tokens[o["id"]] = o["order_token"]
        return status, o


async def commerce_node(tmp_path: Path) -> AsyncIterator[CommerceNode]:
    from showroom.payment_sandbox import SandboxSettings
    from showroom.payment_sandbox.app import create_sandbox_app

    sandbox = TestServer(create_sandbox_app(SandboxSettings(webhook_secret=SECRET,
                                                            notify_retry_schedule_s=(0.05, 0.1, 0.2, 0.4))),
                         host="127.0.0.1")
    await sandbox.start_server()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    settings = CommerceSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'commerce.db'}",
                                payment_webhook_secret=SECRET, public_base_url=base)
    app = web.Application()
    clock = SystemClock()
    pay = str(sandbox.make_url("")).rstrip("/")
    api.setup(app, settings, catalog(), payment_backend_url=pay, clock=clock, prices=FixedPrices(clock),  # type: ignore[arg-type]
              run_sweeper=False)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        try:
            yield CommerceNode(base, pay, http, app)
        finally:
            await server.close()
            await sandbox.close()
