"""Current (unlocked) prices of the catalog, and the reconciliation against the backend's settlement file."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from showroom.services import notices, orders, payments, prices, reconciliation
from showroom.services.orders import Customer, PlaceOrder
from showroom.services.payments import StartPayment
from tests.commerce_fakes import FakeWorld, fake_world


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_every_variant_of_the_catalog_has_its_current_price() -> None:
    w = fake_world()
    found = run(prices.catalog_prices(w.ctx))
    assert found.snapshot is not None and found.snapshot.source == "fixed"
    assert set(found.units) == {"bar-50g", "ring-18k", "car-ev"}
    bar = found.units["bar-50g"]["au9999-50g"]
    assert bar.unit_price_cny == Decimal("46895.50") and bar.metal_cny_per_g == Decimal("929.91")
    car = found.units["car-ev"]["pro-white"]
    assert car.unit_price_cny == Decimal("5000.00") and car.list_price_cny == Decimal("259800")
    w.prices.au = Decimal("1000")
    assert run(prices.catalog_prices(w.ctx)).units["bar-50g"]["au9999-50g"].unit_price_cny > bar.unit_price_cny


def test_without_a_fresh_price_there_are_no_prices_and_no_quotes() -> None:
    w = fake_world()
    w.prices.fresh = False
    found = run(prices.catalog_prices(w.ctx))
    assert found.snapshot is None and dict(found.units) == {}


async def _paid(w: FakeWorld, phone: str) -> str:
    q = await orders.quote(w.ctx, "bar-50g", "au9999-10g")
    order_id = (await orders.place_order(w.ctx, PlaceOrder(q.id, Customer(None, phone)))).details.order.id
    p = await payments.start_payment(w.ctx, StartPayment(order_id, "qr"), "p")
    assert p.gateway_payment_id is not None
    body, sig = w.gw.notice(w.gw.complete(p.gateway_payment_id), p.gateway_payment_id)
    await notices.handle_payment_notice(w.ctx, body, sig)
    return p.gateway_payment_id


def test_reconciliation_matches_our_books_with_the_settlement_file_and_names_each_difference() -> None:
    w = fake_world()

    async def go() -> None:
        paid = [await _paid(w, f"1380000000{i}") for i in range(3)]
        day = w.clock.now().date()
        report = await reconciliation.reconcile(w.ctx, day)
        assert report.matched == 3 and report.mismatches == ()
        w.gw.payments[paid[0]].amount_fen += 1
        w.gw.payments[paid[1]].settled_on = None
        report = await reconciliation.reconcile(w.ctx, day)
        assert sorted(m.kind for m in report.mismatches) == ["amount", "ours_only"]
        assert report.as_dict()["mismatches"][0]["payment_id"] in paid

    run(go())
