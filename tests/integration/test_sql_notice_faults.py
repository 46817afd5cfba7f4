"""Randomised notification faults on SQLite and PostgreSQL, and a property: no sequence pays an order twice."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from showroom.errors import ShowroomError
from showroom.orders import OrderStatus, PaymentStatus
from showroom.services import notices, orders, payments
from showroom.services.orders import Customer, PlaceOrder
from showroom.services.payments import StartPayment
from tests.commerce_fakes import ManualClock
from tests.commerce_faults import open_world, run_faults
from tests.integration.commerce_db import DB_KINDS, database_url


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", DB_KINDS)
@pytest.mark.parametrize("seed", [1, 2])
async def test_randomised_notification_faults_never_pay_twice_lose_or_misstate(kind: str, seed: int,
                                                                                tmp_path: Path) -> None:
    gen = database_url(kind, tmp_path)
    url = await gen.__anext__()
    try:
        report = await run_faults(url, orders=25, faults=150, seed=seed)
    finally:
        with contextlib.suppress(StopAsyncIteration):
            await gen.__anext__()
    assert report.faults.keys() >= {"duplicate", "forged", "stale", "amount"}
    assert report.answers["signature_invalid"] == report.faults["forged"] + report.faults["stale"]
    assert report.answers["notice_mismatch"] >= report.faults["amount"]  # the wrong amount is refused
    assert report.answers["applied"] >= report.payments
    assert (report.double_paid, report.lost, report.wrong_state) == (0, 0, 0), report.problems


EVENTS = st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["ok", "declined", "dup", "expire"])),
                  min_size=1, max_size=12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=EVENTS)
def test_no_sequence_of_notifications_pays_an_order_twice(steps: list[tuple[int, str]]) -> None:
    asyncio.run(_sequence(steps))


async def _sequence(steps: list[tuple[int, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clock = ManualClock()
        ctx, gw, db = await open_world(f"sqlite+aiosqlite:///{tmp}/p.db", clock, bar_stock=10)
        try:
            q = await orders.quote(ctx, "bar-50g", "au9999-10g", 1)
            order_id = (await orders.place_order(ctx, PlaceOrder(q.id, Customer(None, "1")))).details.order.id
            pids: list[str] = []
            for i in range(3):
                try:
                    p = await payments.start_payment(ctx, StartPayment(order_id, "qr"), f"p{i}")
                    assert p.gateway_payment_id is not None
                    pids.append(p.gateway_payment_id)
                except ShowroomError:
                    break
            sent: list[tuple[bytes, str]] = []
            for which, what in steps:
                if not pids:
                    break
                pid = pids[which % len(pids)]
                if what == "expire":
                    clock.advance(ctx.settings.reservation_ttl_s + 1)
                    await orders.expire_due(ctx)
                    continue
                if what == "dup" and sent:
                    body, _ = sent[which % len(sent)]
                else:
                    gwp = gw.payments[pid]
                    if gwp.status == "pending":
                        gw.complete(pid, "approved" if what == "ok" else "declined")
                    body, _ = gw.notice({"succeeded": "payment.succeeded"}.get(gwp.status, "payment.failed"), pid)
                from showroom.signing import sign

                sig = sign(gw.secret, int(clock.now().timestamp()), body)
                sent.append((body, sig))
                await notices.handle_payment_notice(ctx, body, sig)
            got = await orders.get_order(ctx, order_id)
            succeeded = sum(1 for p in got.payments if p.status is PaymentStatus.SUCCEEDED)
            auto = sum(1 for r in got.refunds if r.automatic)
            kept = succeeded - auto
            if got.order.status is OrderStatus.PAID:
                assert kept == 1
            else:
                assert kept == 0, got
        finally:
            await db.close()
