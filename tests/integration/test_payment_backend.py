"""`HttpPaymentGateway` against the real payment sandbox on a loopback port (and against broken backends)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from showroom.adapters.payment_backend import HttpPaymentGateway, parse_settlement_csv
from showroom.payment_sandbox import SandboxSettings
from showroom.payment_sandbox.rules import settlement_day
from showroom.payment_sandbox.server import SandboxServer, start_sandbox
from showroom.ports import (
    CreatePaymentRequest,
    GatewayPaymentNotFound,
    PaymentGateway,
    PaymentGatewayError,
    PaymentGatewayUnavailable,
    PaymentRejected,
    RefundRequest,
    WalletFacts,
)
from showroom.signing import verify
from tests.waiting import Changes

pytestmark = pytest.mark.asyncio

SECRET = "integration-secret"


class Inbox:
    """The merchant's notify endpoint on a real port; it can be switched to failing (it then counts what it
    refused)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.failing = False
        self.refused = 0
        self.changes = Changes()
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        verify(SECRET, request.headers.get("X-Signature"), body, time.time())
        if self.failing:
            self.refused += 1
            await self.changes.notify()
            return web.Response(status=500)
        self.events.append(json.loads(body))
        await self.changes.notify()
        return web.Response(status=200, text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/payments/notify", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/api/payments/notify"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == event_type]

    async def wait_for(self, event_type: str, count: int = 1) -> list[dict[str, Any]]:
        await self.changes.wait_until(
            lambda: len(self.of_type(event_type)) >= count, what=f"{count} {event_type} notification(s)"
        )
        return self.of_type(event_type)


def settings(**overrides: Any) -> SandboxSettings:
    base = SandboxSettings(
        webhook_secret=SECRET,
        notify_retry_schedule_s=(0.05, 0.1, 0.2, 0.4),
        expiry_sweep_s=0.05,
        refund_processing_s=0.05,
    )
    return SandboxSettings(**{**base.__dict__, **overrides})


@pytest_asyncio.fixture
async def inbox() -> AsyncIterator[Inbox]:
    box = Inbox()
    await box.start()
    yield box
    await box.stop()


@pytest_asyncio.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    server = await start_sandbox(settings())
    yield server
    await server.close()


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def request(
    inbox: Inbox, amount_fen: int = 2_500_000, key: str | None = None, **fields: Any
) -> CreatePaymentRequest:
    values: dict[str, Any] = {
        "order_id": "ord_int_1",
        "amount_fen": amount_fen,
        "method": "mobile_banking",
        "description": "Au9999 50 g",
        "notify_url": inbox.url,
        "return_url": "http://127.0.0.1:8080/kiosk",
        "expires_in_s": 900,
        "idempotency_key": key or str(uuid.uuid4()),
    }
    values.update(fields)
    return CreatePaymentRequest(**values)


async def test_the_adapter_implements_the_payment_gateway_port(
    sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    assert isinstance(HttpPaymentGateway(sandbox.base_url, session), PaymentGateway)


async def test_create_pay_and_query_through_the_adapter(
    sandbox: SandboxServer, session: aiohttp.ClientSession, inbox: Inbox
) -> None:
    gateway = HttpPaymentGateway(sandbox.base_url, session)
    created = await gateway.create_payment(request(inbox))
    assert created.status == "pending" and created.pay_url.startswith(sandbox.base_url + "/pay/")
    assert created.expires_at.tzinfo is not None
    assert 880 < (created.expires_at - dt.datetime.now(dt.UTC)).total_seconds() <= 901
    async with session.get(created.pay_url) as page:
        assert page.status == 200 and "¥" in await page.text()
    paid = await gateway.complete_for_test(created.payment_id)
    assert paid.status == "succeeded"
    queried = await gateway.query_payment(created.payment_id)
    assert (queried.order_id, queried.amount_fen, queried.status, queried.refunded_fen) == (
        "ord_int_1",
        2_500_000,
        "succeeded",
        0,
    )
    [event] = await inbox.wait_for("payment.succeeded")
    assert event["data"]["payment_id"] == created.payment_id


async def test_a_wallet_payment_brings_the_backends_wallet_tier_and_limits(
    sandbox: SandboxServer, session: aiohttp.ClientSession, inbox: Inbox
) -> None:
    gateway = HttpPaymentGateway(sandbox.base_url, session)
    created = await gateway.create_payment(request(inbox, 300_000, method="ecny_wallet", payer_phone="13700000000"))
    assert created.wallet == WalletFacts(3, 500_000, 1_000_000, 2_000_000, "0031000000000005")
    plain = await gateway.create_payment(request(inbox, 300_000, payer_phone="13700000000"))
    assert plain.wallet is None  # only wallet payments name a wallet


@pytest.mark.parametrize("wallet", [{"tier": 7}, {"tier": "2"}, {"tier": 2, "single_limit_fen": -1},
                                    {"tier": 2, "daily_limit_fen": "1"}, [2]])
async def test_a_malformed_wallet_in_the_reply_is_a_backend_error(
    session: aiohttp.ClientSession, inbox: Inbox, wallet: object
) -> None:
    async def handle(_request: web.Request) -> web.Response:
        return web.json_response({"payment_id": "pay_1", "status": "pending", "pay_url": "http://x/pay/pay_1",
                                  "qr_png_url": "http://x/q.png", "expires_at": "2030-01-01T00:00:00Z",
                                  "wallet": wallet}, status=201)

    app = web.Application()
    app.router.add_post("/payments", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        gateway = HttpPaymentGateway(f"http://127.0.0.1:{runner.addresses[0][1]}", session, attempts=1)
        with pytest.raises(PaymentGatewayError):
            await gateway.create_payment(request(inbox, method="ecny_wallet", payer_phone="13700000000"))
    finally:
        await runner.cleanup()


async def test_the_same_idempotency_key_makes_one_payment(
    sandbox: SandboxServer, session: aiohttp.ClientSession, inbox: Inbox
) -> None:
    gateway = HttpPaymentGateway(sandbox.base_url, session)
    a, b = await asyncio.gather(*(gateway.create_payment(request(inbox, key="one-key")) for _ in range(2)))
    assert a == b
    with pytest.raises(PaymentRejected, match="idempotency_key_reused"):
        await gateway.create_payment(request(inbox, amount_fen=1, key="one-key"))


async def test_refunds_through_the_adapter_are_limited_to_the_amount_paid(
    sandbox: SandboxServer, session: aiohttp.ClientSession, inbox: Inbox
) -> None:
    gateway = HttpPaymentGateway(sandbox.base_url, session)
    created = await gateway.create_payment(request(inbox, amount_fen=100_000))
    await gateway.complete_for_test(created.payment_id)
    first = await gateway.refund(RefundRequest(created.payment_id, 40_000, "partial", "r-1"))
    again = await gateway.refund(RefundRequest(created.payment_id, 40_000, "partial", "r-1"))
    assert first == again and first.status == "pending"
    with pytest.raises(PaymentRejected, match="refund_exceeds_paid"):
        await gateway.refund(RefundRequest(created.payment_id, 60_001, "too much", "r-2"))
    await gateway.refund(RefundRequest(created.payment_id, 60_000, "rest", "r-3"))
    refunds = await inbox.wait_for("refund.succeeded", 2)
    assert sum(e["data"]["amount_fen"] for e in refunds) == 100_000
    assert (await gateway.query_payment(created.payment_id)).refunded_fen == 100_000


async def test_unknown_payments_and_rejected_requests_map_to_showroom_errors(
    sandbox: SandboxServer, session: aiohttp.ClientSession, inbox: Inbox
) -> None:
    gateway = HttpPaymentGateway(sandbox.base_url, session)
    with pytest.raises(GatewayPaymentNotFound):
        await gateway.query_payment("pay_unknown")
    with pytest.raises(GatewayPaymentNotFound):
        await gateway.refund(RefundRequest("pay_unknown", 1, "x", "k"))
    with pytest.raises(PaymentRejected, match="amount_over_method_limit") as info:
        await gateway.create_payment(request(inbox, amount_fen=10**9, method="qr"))
    assert info.value.http_status == 422
    created = await gateway.create_payment(request(inbox))
    with pytest.raises(PaymentRejected, match="payment_not_refundable"):
        await gateway.refund(RefundRequest(created.payment_id, 1, "unpaid", "k2"))


async def test_the_settlement_file_parses_into_lines(
    sandbox: SandboxServer, session: aiohttp.ClientSession, inbox: Inbox
) -> None:
    gateway = HttpPaymentGateway(sandbox.base_url, session)
    created = await gateway.create_payment(request(inbox, amount_fen=200_000, method="card"))
    await gateway.complete_for_test(created.payment_id)
    reply = await gateway.refund(RefundRequest(created.payment_id, 50_000, "partial", "s-1"))
    await inbox.wait_for("refund.succeeded")
    lines = await gateway.settlement(settlement_day(time.time(), 8))
    mine = [line for line in lines if line.payment_id == created.payment_id]
    assert [(x.kind, x.amount_fen, x.fee_fen, x.refund_id) for x in mine] == [
        ("payment", 200_000, 1_200, None),
        ("refund", 50_000, 300, reply.refund_id),
    ]
    assert all(x.order_id == "ord_int_1" and x.settled_at is not None for x in mine)
    with pytest.raises(PaymentRejected, match="settlement_not_ready"):
        await gateway.settlement(dt.date.today() + dt.timedelta(days=3))


async def test_a_settlement_file_without_the_protocol_columns_is_an_error() -> None:
    with pytest.raises(PaymentGatewayError, match="lacks columns"):
        parse_settlement_csv("type,payment_id\npayment,pay_1\n")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_an_unreachable_backend_is_unavailable_after_retries(session: aiohttp.ClientSession) -> None:
    gateway = HttpPaymentGateway(f"http://127.0.0.1:{_closed_port()}", session, attempts=3, backoff_s=0.01)
    with pytest.raises(PaymentGatewayUnavailable) as info:
        await gateway.query_payment("pay_x")
    assert info.value.http_status == 503


class FlakyBackend:
    """Answers 503 to the first `failures` requests, then delegates to a fixed reply; counts requests. A `hung`
    backend answers nothing until `release` is set (slower than any client timeout, without waiting for time)."""

    def __init__(self, failures: int, hung: bool = False) -> None:
        self.failures = failures
        self.hung = hung
        self.release = asyncio.Event()
        self.requests: list[tuple[str, str | None]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.headers.get("Idempotency-Key")))
        if self.hung:
            await self.release.wait()
        if len(self.requests) <= self.failures:
            return web.json_response({"error": {"code": "overloaded", "message": "try later"}}, status=503)
        if request.method == "POST" and request.path.endswith("/complete"):
            return web.json_response({"error": {"code": "x", "message": "x"}}, status=409)
        return web.json_response(
            {
                "payment_id": "pay_1",
                "order_id": "o",
                "status": "pending",
                "amount_fen": 1,
                "refunded_fen": 0,
                "pay_url": "http://x/pay/pay_1",
                "qr_png_url": "http://x/q.png",
                "expires_at": "2030-01-01T00:00:00Z",
            },
            status=201 if request.method == "POST" else 200,
        )


async def _serve(handler: FlakyBackend) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def test_a_post_with_an_idempotency_key_is_retried_with_the_same_key(
    session: aiohttp.ClientSession, inbox: Inbox
) -> None:
    backend = FlakyBackend(failures=2)
    runner, url = await _serve(backend)
    try:
        gateway = HttpPaymentGateway(url, session, attempts=3, backoff_s=0.01)
        created = await gateway.create_payment(request(inbox, key="stable"))
        assert created.payment_id == "pay_1"
        assert backend.requests == [("POST", "stable")] * 3
    finally:
        await runner.cleanup()


async def test_the_non_idempotent_test_control_is_never_retried(session: aiohttp.ClientSession) -> None:
    backend = FlakyBackend(failures=5)
    runner, url = await _serve(backend)
    try:
        gateway = HttpPaymentGateway(url, session, attempts=3, backoff_s=0.01)
        with pytest.raises(PaymentGatewayUnavailable):
            await gateway.complete_for_test("pay_1")
        assert len(backend.requests) == 1
    finally:
        await runner.cleanup()


async def test_a_slow_backend_times_out_as_unavailable(session: aiohttp.ClientSession) -> None:
    backend = FlakyBackend(failures=0, hung=True)
    runner, url = await _serve(backend)
    try:
        gateway = HttpPaymentGateway(url, session, timeout_s=0.1, attempts=2, backoff_s=0.01)
        with pytest.raises(PaymentGatewayUnavailable, match="Timeout"):
            await gateway.query_payment("pay_1")
        assert len(backend.requests) == 2
    finally:
        backend.release.set()
        await runner.cleanup()


async def test_a_restarted_sandbox_keeps_its_payments_and_delivers_what_it_owed(
    tmp_path: Path, session: aiohttp.ClientSession, inbox: Inbox
) -> None:
    first = await start_sandbox(settings(data_dir=tmp_path, notify_retry_schedule_s=(0.05,) * 100))
    gateway = HttpPaymentGateway(first.base_url, session)
    inbox.failing = True
    created = await gateway.create_payment(request(inbox, key="persist"))
    await gateway.complete_for_test(created.payment_id)
    await inbox.changes.wait_until(lambda: inbox.refused >= 1, what="a refused delivery of payment.succeeded")
    await first.close()  # stopped while the notification is still owed
    inbox.failing = False
    second = await start_sandbox(settings(data_dir=tmp_path))
    try:
        gateway = HttpPaymentGateway(second.base_url, session)
        assert (await gateway.query_payment(created.payment_id)).status == "succeeded"
        [event] = await inbox.wait_for("payment.succeeded")
        assert event["data"]["payment_id"] == created.payment_id
        again = await gateway.create_payment(request(inbox, key="persist"))
        assert again.payment_id == created.payment_id
    finally:
        await second.close()
