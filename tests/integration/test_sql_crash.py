"""A process killed (SIGKILL) between the database write and the payment-backend call loses nothing: after a
restart, recovery creates the payment at the backend with the same idempotency key and the order gets paid."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from showroom.orders import OrderStatus, PaymentStatus
from showroom.services import notices, orders, recovery
from tests.commerce_fakes import ManualClock
from tests.commerce_faults import open_world

CHILD = textwrap.dedent("""
    import asyncio, os, signal, sys
    from showroom.services import orders, payments
    from showroom.services.orders import Customer, PlaceOrder
    from showroom.services.payments import StartPayment
    from tests.commerce_faults import open_world
    from tests.commerce_fakes import ManualClock

    async def main(url):
        ctx, gw, db = await open_world(url, ManualClock(), bar_stock=5)
        q = await orders.quote(ctx, "bar-50g", "au9999-10g", 1)
        placed = await orders.place_order(ctx, PlaceOrder(q.id, Customer(None, "1")))
        print(placed.details.order.id, flush=True)
        async def die(request):
            os.kill(os.getpid(), signal.SIGKILL)
        gw.create_payment = die
        await payments.start_payment(ctx, StartPayment(placed.details.order.id, "qr"), "pay-key")

    asyncio.run(main(sys.argv[1]))
""")


@pytest.mark.asyncio
async def test_killed_between_db_write_and_gateway_call_then_restarted_loses_nothing(tmp_path: Path,
                                                                                     project_root: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}"
    child = subprocess.run([sys.executable, "-c", CHILD, url], cwd=project_root, capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == -9, child.stderr
    order_id = child.stdout.strip()
    clock = ManualClock()
    ctx, gw, db = await open_world(url, clock, bar_stock=5)
    try:
        before = await orders.get_order(ctx, order_id)
        assert [p.status for p in before.payments] == [PaymentStatus.INTENT]  # written, never sent
        assert (await recovery.recover(ctx))["payments_submitted"] == 1
        (payment,) = (await orders.get_order(ctx, order_id)).payments
        assert payment.status is PaymentStatus.PENDING and payment.gateway_payment_id and len(gw.payments) == 1
        body, sig = gw.notice(gw.complete(payment.gateway_payment_id), payment.gateway_payment_id)
        await notices.handle_payment_notice(ctx, body, sig)
        assert (await orders.get_order(ctx, order_id)).order.status is OrderStatus.PAID
    finally:
        await db.close()
