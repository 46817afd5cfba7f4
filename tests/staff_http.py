"""A commerce node with the real payment sandbox on loopback, for the staff API tests (e2e and security): staff
accounts made through the use cases, signed in over HTTP with a fresh TOTP code; requests carry the session
cookie and the CSRF header explicitly (no cookie jar), so a test says exactly what each request holds."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from showroom import api
from showroom.adapters.clock import SystemClock
from showroom.audit import Actor
from showroom.identity import totp_code
from showroom.services import staff as staff_service
from showroom.settings import CommerceSettings
from showroom.staff import Role
from tests.commerce_fakes import SECRET, FakeCustomers, FixedPrices, fast_passwords, make_catalog
from tests.integration.commerce_db import database_url

PASSWORD = "correct horse battery"


@dataclass
class Staff:
    name: str
    role: Role
    cookie: str
    csrf: str
    totp_secret: str


@dataclass
class StaffStack:
    base: str
    pay: str
    http: aiohttp.ClientSession
    app: web.Application
    data_dir: Path
    database_url: str
    tokens: dict[str, str] = field(default_factory=dict)

    async def request(self, method: str, path: str, *, who: Staff | None = None, body: Any = None,
                      key: str | None = None, csrf: str | None = "session", cookie: str | None = None,
                      headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
        """`csrf`: "session" sends the session's token, None none, anything else that value."""
        h = dict(headers or {})
        if who is not None or cookie is not None:
            h["Cookie"] = f"showroom_staff={cookie if cookie is not None else who.cookie if who else ''}"
        if csrf == "session" and who is not None:
            h["X-CSRF-Token"] = who.csrf
        elif csrf is not None and csrf != "session":
            h["X-CSRF-Token"] = csrf
        if key:
            h["Idempotency-Key"] = key
        async with self.http.request(method, self.base + path, json=body, headers=h) as r:
            reply = await r.json() if r.content_type == "application/json" else None
            return r.status, reply, r.headers

    async def account(self, name: str, role: Role) -> str:
        """Creates an account (through the use case, as the CLI does); returns its TOTP secret."""
        from showroom.api.keys import RUNTIME

        new = await staff_service.create_account(self.app[RUNTIME].commerce, Actor("cli:test", "operator"), name,
                                                 role, name.title(), PASSWORD, passwords=fast_passwords())
        return new.totp_secret

    async def sign_in(self, name: str, secret: str, password: str = PASSWORD) -> tuple[int, Any, str | None]:
        from datetime import UTC, datetime

        body = {"name": name, "password": password, "otp": totp_code(secret, datetime.now(UTC))}
        async with self.http.post(self.base + "/api/staff/session", json=body) as r:
            cookie = r.cookies.get("showroom_staff")
            return r.status, await r.json(), None if cookie is None else cookie.value

    async def staff(self, name: str, role: Role) -> Staff:
        secret = await self.account(name, role)
        status, session, cookie = await self.sign_in(name, secret)
        assert status == 200 and cookie, session
        return Staff(name, role, cookie, session["csrf_token"], secret)

    async def paid_order(self, variant: str = "au9999-10g", key: str = "o1") -> str:
        status, quote = await self._post("/api/quotes", {"product": "bar-50g", "variant": variant})
        assert status == 201, quote
        status, order = await self._post("/api/orders", {"quote_id": quote["id"], "channel": "kiosk",
                                                         "customer": {"name": "李雷", "phone": "13900000000"}}, key)
        assert status == 201, order
        self.tokens[order["id"]] = order.get("order_token", "")
        status, payment = await self._post(f"/api/orders/{order['id']}/payments", {"method": "mobile_banking"}, "p1")
        assert status == 201, payment
        async with self.http.post(f"{self.pay}/payments/{payment['payment_id']}/complete",
                                  json={"outcome": "approved"}) as r:
            assert r.status < 300, await r.text()
        await self.wait_status(order["id"], "paid")
        return str(order["id"])

    async def _post(self, path: str, body: Any, key: str | None = None) -> tuple[int, Any]:
        async with self.http.post(self.base + path, json=body, headers={"Idempotency-Key": key} if key else {}) as r:
            return r.status, await r.json()

    async def wait_status(self, order_id: str, status: str, timeout_s: float = 10.0) -> None:
        """Waits for the order (as the public status view shows it) to reach `status`."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout_s
        while True:
            async with self.http.get(f"{self.base}/api/orders/{order_id}") as r:
                now = (await r.json())["status"]
            if now == status:
                return
            assert loop.time() < end, f"order {order_id} is {now}, not {status}"
            await asyncio.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def staff_stack(database_url: str, data_dir: Path) -> AsyncIterator[StaffStack]:
    from showroom.payment_sandbox import SandboxSettings
    from showroom.payment_sandbox.app import create_sandbox_app

    sandbox = TestServer(create_sandbox_app(SandboxSettings(webhook_secret=SECRET,
                                                            notify_retry_schedule_s=(0.05, 0.1, 0.2, 0.4),
                                                            refund_processing_s=0.1)), host="127.0.0.1")
    await sandbox.start_server()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    settings = CommerceSettings(database_url=database_url, payment_webhook_secret=SECRET, public_base_url=base,
                                data_dir=data_dir)
    app = web.Application()
    clock = SystemClock()
    pay = str(sandbox.make_url("")).rstrip("/")
    api.setup(app, settings, make_catalog(), payment_backend_url=pay, clock=clock,
              prices=FixedPrices(clock), customers=FakeCustomers(), run_sweeper=False)  # type: ignore[arg-type]
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        try:
            yield StaffStack(base, pay, http, app, data_dir, database_url)
        finally:
            await server.close()
            await sandbox.close()


@asynccontextmanager
async def staff_stack_on(kind: str, tmp_path: Path) -> AsyncIterator[StaffStack]:
    """`staff_stack` on a fresh database of `kind` (sqlite or postgres, see tests/integration/commerce_db.py)."""
    gen = database_url(kind, tmp_path)
    url = await gen.__anext__()
    try:
        async with staff_stack(url, tmp_path / "data") as s:
            yield s
    finally:
        with contextlib.suppress(StopAsyncIteration):
            await gen.__anext__()
