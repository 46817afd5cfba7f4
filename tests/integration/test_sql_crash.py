"""A process killed (SIGKILL) between the database write and the payment-backend call loses nothing: after a
restart, recovery creates the payment at the backend with the same idempotency key and the order gets paid."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.commerce_fakes import ManualClock
from tests.commerce_faults import open_world

CHILD = textwrap.dedent("""
    import asyncio, os, signal, sys
    from tests.commerce_faults import open_world
    from tests.commerce_fakes import ManualClock

    async def main(url):
        svc, gw, db = await open_world(url, ManualClock(), bar_stock=5)
        q = await svc.quote("bar-50g", "au9999-10g", 1)
        _, order = await svc.place_order({"quote_id": q.id, "customer": {"phone": "1"}}, "o")
        print(order["id"], flush=True)
        async def die(request):
            os.kill(os.getpid(), signal.SIGKILL)
        gw.create_payment = die
        await svc.start_payment(order["id"], {"method": "qr"}, "pay-key")

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
    svc, gw, db = await open_world(url, clock, bar_stock=5)
    try:
        before = await svc.get_order(order_id)
        assert [p["status"] for p in before["payments"]] == ["intent"]  # written, never sent
        assert (await svc.recover())["payments_submitted"] == 1
        (payment,) = (await svc.get_order(order_id))["payments"]
        assert payment["status"] == "pending" and len(gw.payments) == 1
        body, sig = gw.notice(gw.complete(payment["payment_id"]), payment["payment_id"])
        await svc.handle_payment_notice(body, sig)
        assert (await svc.get_order(order_id))["status"] == "paid"
    finally:
        await db.close()
