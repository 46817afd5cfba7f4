"""A branch pick-up's certificate is due after the teller's hand-over, not after payment (services/certificates.py
`certificate_due`): paid, nothing is issued (neither by the issuer nor when the customer asks); handed over, the
node's certificate issuer (bootstrap `_certificate_issuer`, on the order's `completed` event) issues it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from showroom import api, bootstrap
from showroom.certificates import CertificateRecord
from showroom.events import ORDERS_CHANNEL
from showroom.services import certificates as certificate_service
from showroom.staff import Role
from tests.e2e.test_pickups_api import ShiftedClock, _get, _paid_pickup, pickup_stack
from tests.integration.commerce_db import DB_KINDS
from tests.staff_http import StaffStack

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture(params=DB_KINDS)
async def node(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[StaffStack, ShiftedClock]]:
    clock = ShiftedClock()
    async with pickup_stack(request.param, tmp_path, clock) as stack:
        yield stack, clock


async def _issued(book: certificate_service.CertificateBook, order_id: str) -> list[CertificateRecord]:
    async with book.ctx.uow() as uow:
        return list(await book.repo(uow).of_order(order_id))


async def test_a_pickup_gets_its_certificate_after_the_hand_over_not_after_payment(
        node: tuple[StaffStack, ShiftedClock]) -> None:
    stack, clock = node
    ctx = stack.app[api.RUNTIME].commerce
    book = bootstrap.certificate_book(ctx)
    sub = await ctx.bus.subscribe(ORDERS_CHANNEL)  # what `start_commerce` runs
    issuer = asyncio.create_task(bootstrap._certificate_issuer(book, sub))
    try:
        oid, token, _slot = await _paid_pickup(stack, clock)
        assert await certificate_service.settle(book, oid) == []  # what the issuer does with `paid`: nothing
        status, listed = await _get(stack, f"/api/orders/{oid}/certificates", token)
        assert status == 200 and listed["certificates"] == [], listed  # asking does not issue it either
        status, pickup = await _get(stack, f"/api/orders/{oid}/pickup", token)
        assert status == 200 and pickup["code"], pickup
        tina = await stack.staff("tina", Role.TELLER)
        status, body, _ = await stack.request("POST", "/api/staff/pickups/handover", who=tina, body={
            "branch": "sh-test", "code": pickup["code"], "id_checked": True, "id_name": "王芳"})
        assert status == 200 and body["order_status"] == "completed", body
        loop = asyncio.get_running_loop()
        end = loop.time() + 10
        while not (records := await _issued(book, oid)):  # the issuer saw `completed`
            assert loop.time() < end, "no certificate was issued after the hand-over"
            await asyncio.sleep(0.05)
        assert [(r.unit, r.generation, r.owner_name) for r in records] == [(1, 0, "王芳")]
        status, listed = await _get(stack, f"/api/orders/{oid}/certificates", token)
        assert status == 200 and [c["id"] for c in listed["certificates"]] == [records[0].id]
    finally:
        issuer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await issuer
