"""The customer-information adapters: the packaged sandbox register, and the bank's service over HTTP (its
answers, and every way it can fail: never an assumed level)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from showroom.adapters.customer_info import HttpCustomerDirectory, SandboxCustomerDirectory, load_register
from showroom.compliance import KycLevel
from showroom.customers import AccountStatus, CustomerInfoUnavailable, normalise_mobile

pytestmark = pytest.mark.asyncio

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def _serve(handler: Handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/customers/by-mobile/{phone}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def test_the_sandbox_register_knows_its_test_customers_and_nobody_else() -> None:
    directory = SandboxCustomerDirectory()
    acceptance = await directory.lookup("13800000000")
    assert (acceptance.kyc_level, acceptance.customer_id, acceptance.source) == (
        KycLevel.L1, "cust_sbx_0001", "sandbox-register")
    assert (await directory.lookup("13500000000")).kyc_level is KycLevel.L3
    assert (await directory.lookup("13800000001")).single_order_limit_cny == Decimal("10000")
    assert (await directory.lookup("13400000000")).status is AccountStatus.FROZEN
    stranger = await directory.lookup("13312345678")
    assert stranger.kyc_level is KycLevel.L0 and stranger.customer_id.startswith("unverified:")
    assert "13312345678" not in stranger.customer_id
    assert (await directory.lookup("13312345678")).customer_id == stranger.customer_id  # one id per number
    assert len(load_register()) >= 8


async def test_a_malformed_register_names_the_entry() -> None:
    bad = json.dumps({"customers": [{"phone": "13800000000", "customer_id": "c", "kyc_level": "L9"}]})
    with pytest.raises(ValueError, match=r"customers\[0\]"):
        load_register(bad)


@pytest.mark.parametrize(("raw", "phone"), [("13800000000", "13800000000"), ("+86 138 0000 0000", "13800000000"),
                                            ("0086-138-0000-0000", "13800000000"), ("(139) 0000 0000", "13900000000")])
async def test_mobile_numbers_are_normalised(raw: str, phone: str) -> None:
    assert normalise_mobile(raw) == phone


async def test_the_banks_service_answers_the_level_and_404_is_unverified(session: aiohttp.ClientSession) -> None:
    async def handle(request: web.Request) -> web.Response:
        if request.match_info["phone"] == "13900000000":
            return web.json_response({"customer_id": "C-42", "kyc_level": "L2", "status": "active",
                                      "single_order_limit_cny": "150000"})
        return web.json_response({"error": "unknown"}, status=404)

    runner, url = await _serve(handle)
    try:
        directory = HttpCustomerDirectory(url, session)
        known = await directory.lookup("13900000000")
        assert (known.customer_id, known.kyc_level, known.single_order_limit_cny) == ("C-42", KycLevel.L2,
                                                                                     Decimal("150000"))
        assert known.source.startswith("customer-info:127.0.0.1")
        assert (await directory.lookup("13312345678")).kyc_level is KycLevel.L0
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("answer", [
    web.json_response({"error": "down"}, status=500), web.json_response({"error": "x"}, status=403),
    web.Response(text="not json"), web.json_response([1]), web.json_response({"customer_id": "C", "kyc_level": "L9"}),
    web.json_response({"customer_id": "C", "kyc_level": "L0"}),
    web.json_response({"customer_id": "C", "kyc_level": "L1", "single_order_limit_cny": "NaN"}),
    web.json_response({"kyc_level": "L1"}), web.Response(status=302, headers={"Location": "/elsewhere"}),
])
async def test_every_failure_of_the_service_is_unavailable_never_an_assumed_level(
    session: aiohttp.ClientSession, answer: web.Response
) -> None:
    async def handle(_request: web.Request) -> web.Response:
        return answer

    runner, url = await _serve(handle)
    try:
        with pytest.raises(CustomerInfoUnavailable):
            await HttpCustomerDirectory(url, session).lookup("13900000000")
    finally:
        await runner.cleanup()


async def test_a_slow_or_unreachable_service_is_unavailable(session: aiohttp.ClientSession) -> None:
    release = asyncio.Event()

    async def hang(_request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({})

    runner, url = await _serve(hang)
    try:
        with pytest.raises(CustomerInfoUnavailable):
            await HttpCustomerDirectory(url, session, timeout_s=0.2).lookup("13900000000")
    finally:
        release.set()
        await runner.cleanup()
    with pytest.raises(CustomerInfoUnavailable):
        await HttpCustomerDirectory(url, session, timeout_s=1).lookup("13900000000")  # nothing listens now
