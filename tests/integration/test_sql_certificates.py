"""Certificates on a real database (SQLite and PostgreSQL): issued once per unit of a paid order (also under
concurrent issuers), transferred (re-issued, the old one revoked, in one transaction), revoked on a full refund,
found by serial, and listed in the signed revocation list."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from showroom.adapters.bus import InProcessBus
from showroom.bootstrap import certificate_book, start_commerce
from showroom.certificates import CertificateStatus, verify_document
from showroom.errors import NotFound
from showroom.orders import OrderStatus
from showroom.services import certificates as svc
from showroom.services import notices, orders, payments
from showroom.services.orders import PlaceOrder
from showroom.services.payments import StartPayment
from showroom.settings import CommerceSettings
from tests.commerce_fakes import SECRET, FakeCustomers, FakeGateway, FixedPrices, ManualClock, make_catalog
from tests.integration import test_sql_commerce as base
from tests.integration.test_sql_commerce import WANG, World, notify, pay

pytestmark = pytest.mark.asyncio
world = base.world  # the fixture: a fresh SQLite file or PostgreSQL database per test


async def paid_order(w: World, quantity: int = 1) -> tuple[str, str]:
    q = await orders.quote(w.ctx, "bar-50g", "au9999-50g" if quantity == 1 else "au9999-10g", quantity)
    placed = await orders.place_order(w.ctx, PlaceOrder(q.id, WANG, channel="kiosk"))
    assert placed.token
    order_id = placed.details.order.id
    await notify(w, "payment.succeeded", await pay(w, order_id))
    assert (await orders.get_order(w.ctx, order_id)).order.status is OrderStatus.PAID
    return order_id, placed.token


async def test_a_paid_order_gets_one_certificate_per_unit_once(world: World) -> None:
    book = certificate_book(world.ctx)
    order_id, token = await paid_order(world, quantity=3)
    lists = await asyncio.gather(*(svc.customer_certificates(book, order_id, token) for _ in range(6)))
    records = lists[0]
    assert [r.unit for r in records] == [1, 2, 3]
    assert all([r.id for r in rs] == [r.id for r in records] for rs in lists)
    assert len({r.serial for r in records}) == 3
    total = sum(int(r.document["fields"]["price_paid_cny"].replace(".", "")) for r in records)
    assert total == (await orders.get_order(world.ctx, order_id)).order.paid_fen  # the units add up exactly
    for r in records:
        verdict = await svc.check(book, r.document)
        assert verdict.valid, verdict.view()
        assert r.document["fields"]["weight_g"] == "10" and r.document["fields"]["branch"] == "online"
        assert r.document["fields"]["owner"] == "王* ***0000"
    with pytest.raises(NotFound):
        await svc.customer_certificates(book, order_id, "wrong-token")


async def test_an_unpaid_order_has_no_certificate_yet(world: World) -> None:
    book = certificate_book(world.ctx)
    q = await orders.quote(world.ctx, "bar-50g", "au9999-50g", 1)
    placed = await orders.place_order(world.ctx, PlaceOrder(q.id, WANG, channel="kiosk"))
    assert await svc.customer_certificates(book, placed.details.order.id, placed.token) == []


async def test_the_paid_event_issues_them(world: World) -> None:
    book = certificate_book(world.ctx)
    order_id, _token = await paid_order(world)
    await svc.on_order_event(book, {"type": "order", "id": order_id, "status": "paid"})
    async with world.ctx.uow() as uow:
        assert len(await book.repo(uow).of_order(order_id)) == 1


async def test_a_transfer_reissues_to_the_new_owner_and_revokes_the_old(world: World) -> None:
    book = certificate_book(world.ctx)
    order_id, token = await paid_order(world)
    [old] = await svc.customer_certificates(book, order_id, token)
    gift = await svc.transfer(book, old.id, token, "李雷", "13911112222")
    new = gift.certificate
    assert new.serial == old.serial and new.generation == 1 and new.status == CertificateStatus.VALID
    assert new.document["fields"]["supersedes"] == old.id and new.document["fields"]["owner"] == "李* ***2222"
    assert gift.replaced.status == CertificateStatus.REVOKED and gift.replaced.superseded_by == new.id
    assert (await svc.check(book, new.document)).valid
    old_verdict = await svc.check(book, old.document)
    assert old_verdict.signature_ok and not old_verdict.valid
    assert [p.code for p in old_verdict.problems] == ["revoked"]
    # the old owner's token cannot give it again; the new owner's holder token reaches the new one only
    with pytest.raises(svc.CertificateNotTransferable):
        await svc.transfer(book, old.id, token, "韩梅梅", "13700000000")
    assert (await svc.holder_certificate(book, new.id, gift.holder_token)).id == new.id
    with pytest.raises(NotFound):
        await svc.holder_certificate(book, new.id, token)
    with pytest.raises(NotFound):
        await svc.holder_certificate(book, old.id, gift.holder_token)
    # the new owner gives it on
    third = await svc.transfer(book, new.id, gift.holder_token, "韩梅梅", "13700000000")
    assert third.certificate.generation == 2
    history = await svc.by_serial(book, old.serial.lower())
    assert [(r.generation, r.status) for r in history] == [(0, "revoked"), (1, "revoked"), (2, "valid")]
    crl = await svc.revocation_list(book)
    assert verify_document(crl, book.signer.published())
    assert {e["certificate_id"] for e in crl["revoked"]} == {old.id, new.id}


async def test_concurrent_transfers_of_one_certificate_move_it_once(world: World) -> None:
    book = certificate_book(world.ctx)
    order_id, token = await paid_order(world)
    [old] = await svc.customer_certificates(book, order_id, token)

    async def give(i: int) -> Any:
        try:
            return await svc.transfer(book, old.id, token, f"客户{i}", f"1390000000{i}")
        except svc.CertificateNotTransferable as exc:
            return exc

    results = await asyncio.gather(*(give(i) for i in range(5)))
    moved = [r for r in results if isinstance(r, svc.Transferred)]
    assert len(moved) == 1
    history = await svc.by_serial(book, old.serial)
    assert [(r.generation, r.status) for r in history] == [(0, "revoked"), (1, "valid")]


async def test_a_full_refund_revokes_the_certificates(world: World) -> None:
    book = certificate_book(world.ctx)
    order_id, token = await paid_order(world)
    [cert] = await svc.customer_certificates(book, order_id, token)
    async with world.ctx.uow() as uow:
        order = await uow.get_order(order_id, for_update=True)
        order.status = OrderStatus.REFUNDED  # what a landed full refund leaves (tested in the refund tests)
        await uow.save_order(order)
        await uow.commit()
    await svc.on_order_event(book, {"type": "order", "id": order_id, "status": "refunded"})
    verdict = await svc.check(book, cert.document)
    assert verdict.revoked is not None and verdict.revoked.reason == "the order was refunded"


async def test_the_node_issues_them_when_the_paid_event_comes(tmp_path: Path) -> None:
    """`start_commerce` subscribes the issuer to the order events: a payment's `paid` event issues the
    certificate with nobody asking."""
    clock = ManualClock()
    settings = CommerceSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", payment_webhook_secret=SECRET,
                                sweep_interval_s=3600)
    gw = FakeGateway(clock)
    runtime = await start_commerce(settings, make_catalog(), gateway=gw, clock=clock, prices=FixedPrices(clock),
                                   bus=InProcessBus(), customers=FakeCustomers(), run_sweeper=True)
    try:
        ctx = runtime.commerce
        q = await orders.quote(ctx, "bar-50g", "au9999-50g", 1)
        placed = await orders.place_order(ctx, PlaceOrder(q.id, WANG, channel="kiosk"))
        order_id = placed.details.order.id
        p = await payments.start_payment(ctx, StartPayment(order_id, "mobile_banking"), "k1")
        assert p.gateway_payment_id
        body, sig = gw.notice("payment.succeeded", p.gateway_payment_id)
        await notices.handle_payment_notice(ctx, body, sig)
        book = certificate_book(ctx)
        for _ in range(200):
            async with ctx.uow() as uow:
                issued = await book.repo(uow).of_order(order_id)
            if issued:
                break
            await asyncio.sleep(0.01)
        assert len(issued) == 1 and issued[0].status == CertificateStatus.VALID
    finally:
        await runtime.close()
