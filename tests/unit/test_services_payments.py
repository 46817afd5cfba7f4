"""Payments and the backend's notifications against the in-memory unit of work: intent first, duplicate and
out-of-order notices, mismatches refused, extra payments refunded automatically, recovery after a crash."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from showroom.api import views
from showroom.compliance import LimitExceeded
from showroom.errors import ShowroomError
from showroom.orders import IllegalTransition, OrderStatus, PaymentStatus, RefundStatus
from showroom.ports import PaymentGatewayUnavailable
from showroom.services import notices, orders, payments, recovery, run_once
from showroom.services.orders import Customer, PlaceOrder
from showroom.services.payments import StartPayment
from showroom.signing import PaymentSignatureInvalid, sign
from tests.commerce_fakes import SECRET, FakeWorld, fake_world


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _order(w: FakeWorld, variant: str = "au9999-10g") -> str:
    q = await orders.quote(w.ctx, "bar-50g", variant)
    placed = await orders.place_order(w.ctx, PlaceOrder(q.id, Customer("王芳", "13800000000")))
    return placed.details.order.id


async def _pay(w: FakeWorld, order_id: str, key: str = "p1") -> str:
    p = await payments.start_payment(w.ctx, StartPayment(order_id, "mobile_banking"), key)
    assert p.status is PaymentStatus.PENDING and p.gateway_payment_id
    return p.gateway_payment_id


async def _notify(w: FakeWorld, event_type: str, payment_id: str, **kw: Any) -> notices.NoticeReceipt:
    body, sig = w.gw.notice(event_type, payment_id, **kw)
    return await notices.handle_payment_notice(w.ctx, body, sig)


async def _status(w: FakeWorld, order_id: str) -> OrderStatus:
    return (await orders.get_order(w.ctx, order_id)).order.status


def test_a_payment_is_created_once_per_key_and_paid_by_its_notice() -> None:
    w = fake_world()

    async def go() -> None:
        order_id = await _order(w)
        pid = await _pay(w, order_id)
        assert await _pay(w, order_id) == pid and w.gw.calls == 1  # the same key: no second backend call
        assert w.gw.last_request is not None and w.gw.last_request.return_url == f"http://node/phone?order={order_id}"
        receipt = await _notify(w, w.gw.complete(pid), pid)
        assert not receipt.duplicate and await _status(w, order_id) is OrderStatus.PAID
        assert w.db.stock_level("online", "bar-50g", "au9999-10g") == (2, 0)  # taken off the shelf

    run(go())


def test_a_duplicate_notice_changes_nothing_and_says_so() -> None:
    w = fake_world()

    async def go() -> None:
        order_id = await _order(w)
        pid = await _pay(w, order_id)
        body, sig = w.gw.notice(w.gw.complete(pid), pid, event_id="evt_1")
        assert not (await notices.handle_payment_notice(w.ctx, body, sig)).duplicate
        assert (await notices.handle_payment_notice(w.ctx, body, sig)).duplicate
        got = await orders.get_order(w.ctx, order_id, with_audit=True)
        assert got.audit is not None and [a["kind"] for a in got.audit].count("paid") == 1

    run(go())


def test_a_late_failure_notice_does_not_undo_a_payment() -> None:
    w = fake_world()

    async def go() -> None:
        order_id = await _order(w)
        pid = await _pay(w, order_id)
        w.gw.complete(pid)
        await _notify(w, "payment.succeeded", pid)
        await _notify(w, "payment.failed", pid)  # out of order: an older attempt's failure arrives last
        got = await orders.get_order(w.ctx, order_id)
        assert got.order.status is OrderStatus.PAID and got.payments[0].status is PaymentStatus.SUCCEEDED

    run(go())


def test_a_notice_before_we_stored_the_backend_id_matches_the_intent() -> None:
    w = fake_world()

    async def go() -> None:
        order_id = await _order(w)
        w.gw.unavailable = True  # the create call fails after the backend made the payment
        with pytest.raises(PaymentGatewayUnavailable):
            await payments.start_payment(w.ctx, StartPayment(order_id, "qr"), "p1")
        w.gw.unavailable = False
        created = await w.gw.create_payment(w.gw.last_request)  # type: ignore[arg-type]
        await _notify(w, w.gw.complete(created.payment_id), created.payment_id)
        got = await orders.get_order(w.ctx, order_id)
        assert got.order.status is OrderStatus.PAID and got.payments[0].gateway_payment_id == created.payment_id

    run(go())


def test_forged_stale_and_mismatched_notices_are_refused() -> None:
    w = fake_world()

    async def go() -> None:
        order_id = await _order(w)
        pid = await _pay(w, order_id)
        w.gw.complete(pid)
        cases = [(w.gw.notice("payment.succeeded", pid, secret="wrong"), 401),
                 (w.gw.notice("payment.succeeded", pid, signed_at=w.clock.now() - timedelta(seconds=301)), 401),
                 (w.gw.notice("payment.succeeded", pid, amount_fen=1), 422),
                 (w.gw.notice("payment.succeeded", pid, order_id="ord_other"), 422),
                 (w.gw.notice("payment.succeeded", pid, currency="USD"), 422)]
        for (body, sig), status in cases:
            with pytest.raises(ShowroomError) as err:
                await notices.handle_payment_notice(w.ctx, body, sig)
            assert err.value.http_status == status
        assert await _status(w, order_id) is OrderStatus.PENDING_PAYMENT

    run(go())


def test_a_notice_with_a_bad_or_missing_signature_is_refused_before_anything_is_read() -> None:
    w = fake_world()
    body = b'{"id": "evt_1", "type": "payment.succeeded", "data": {}}'
    for header in (None, "", "t=1,v1=00", sign("other", int(w.clock.now().timestamp()), body)):
        with pytest.raises(PaymentSignatureInvalid):
            run(notices.handle_payment_notice(w.ctx, body, header))
    assert w.db.commits == 0


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"id": "e", "type": "payment.succeeded"}',
                                  b'{"id": "e", "type": "x", "data": {"payment_id": "p", "amount_fen": "12"}}',
                                  b'{"id": "e", "type": "x", "data": {"payment_id": "p", "amount_fen": true}}'])
def test_a_signed_but_malformed_notice_is_a_400(body: bytes) -> None:
    w = fake_world()
    with pytest.raises(ShowroomError) as err:
        run(notices.handle_payment_notice(w.ctx, body, sign(SECRET, int(w.clock.now().timestamp()), body)))
    assert err.value.http_status == 400


def test_a_second_successful_payment_is_refunded_in_full_automatically() -> None:
    w = fake_world()

    async def go() -> None:
        order_id = await _order(w)
        p1, p2 = await _pay(w, order_id, "p1"), await _pay(w, order_id, "p2")
        await _notify(w, w.gw.complete(p1), p1)
        await _notify(w, w.gw.complete(p2), p2)
        got = await orders.get_order(w.ctx, order_id)
        assert got.order.status is OrderStatus.PAID and got.order.paid_fen == got.order.amount_fen
        (auto,) = got.refunds
        assert auto.automatic and auto.reason == "duplicate_payment" and auto.status is RefundStatus.PENDING
        assert auto.amount_fen == got.order.amount_fen and w.gw.payments[p2].refunded_fen == auto.amount_fen

    run(go())


def test_a_payment_after_expiry_is_refunded_and_the_order_ends_refunded() -> None:
    w = fake_world()

    async def go() -> None:
        order_id = await _order(w)
        pid = await _pay(w, order_id)
        w.clock.advance(w.ctx.settings.reservation_ttl_s + 1)
        assert await orders.expire_due(w.ctx) == 1
        await _notify(w, w.gw.complete(pid), pid)
        got = await orders.get_order(w.ctx, order_id)
        (refund,) = got.refunds
        assert got.order.status is OrderStatus.EXPIRED and refund.reason == "paid_after_expiry"
        assert refund.gateway_refund_id is not None
        w.gw.finish_refund(refund.gateway_refund_id)
        await _notify(w, "refund.succeeded", pid, refund_id=refund.gateway_refund_id)
        assert await _status(w, order_id) is OrderStatus.REFUNDED

    run(go())


def test_a_declined_payment_can_be_retried_but_an_expired_order_cannot_be_paid() -> None:
    w = fake_world()

    async def go() -> None:
        order_id = await _order(w)
        p1 = await _pay(w, order_id, "p1")
        await _notify(w, w.gw.complete(p1, "declined"), p1)
        got = await orders.get_order(w.ctx, order_id)
        assert got.order.status is OrderStatus.PAYMENT_FAILED and got.payments[0].failure_code == "declined"
        await _pay(w, order_id, "p2")
        assert await _status(w, order_id) is OrderStatus.PENDING_PAYMENT
        w.clock.advance(w.ctx.settings.reservation_ttl_s)
        with pytest.raises(IllegalTransition):
            await _pay(w, order_id, "p3")

    run(go())


async def _order_by(w: FakeWorld, phone: str, variant: str = "au9999-10g") -> str:
    q = await orders.quote(w.ctx, "bar-50g", variant)
    return (await orders.place_order(w.ctx, PlaceOrder(q.id, Customer(None, phone)))).details.order.id


def test_an_e_cny_wallet_payment_follows_the_tier_the_payment_backend_reports() -> None:
    w = fake_world()  # the fake backend: 13800000003 holds a tier-3 wallet, 13800000002 a tier-2 one

    async def go() -> None:
        small_wallet = await _order_by(w, "13800000003")  # 9,419.07 CNY > 5,000 single limit of tier 3
        with pytest.raises(LimitExceeded):
            await payments.start_payment(w.ctx, StartPayment(small_wallet, "ecny_wallet"), "w3")
        assert w.gw.last_request is not None and w.gw.last_request.payer_phone == "13800000003"
        (refused,) = (await orders.get_order(w.ctx, small_wallet)).payments
        assert refused.status is PaymentStatus.FAILED and refused.failure_code == "limit_exceeded"
        assert refused.wallet_tier == 3
        p = await payments.start_payment(w.ctx, StartPayment(small_wallet, "mobile_banking"), "mb")
        assert p.status is PaymentStatus.PENDING  # another method still pays it

        big_wallet = await _order_by(w, "13800000002")
        p = await payments.start_payment(w.ctx, StartPayment(big_wallet, "ecny_wallet"), "w2")
        assert p.wallet_tier == 2 and p.status is PaymentStatus.PENDING

    run(go())


def test_the_daily_wallet_limit_counts_todays_wallet_payments_of_the_verified_customer() -> None:
    w = fake_world()  # tier 2: single 50,000, daily 100,000

    async def go() -> None:
        for i in range(2):  # 2 x 46,895.50 CNY = 93,791 CNY today
            order_id = await _order_by(w, "13800000002", "au9999-50g")
            await payments.start_payment(w.ctx, StartPayment(order_id, "ecny_wallet"), f"w{i}")
            async with w.db.uow() as uow:  # the shelf is restocked
                await uow.release_stock("online", "bar-50g", "au9999-50g", 1)
                await uow.commit()
        third = await _order_by(w, "13800000002")
        with pytest.raises(LimitExceeded, match="a day"):
            await payments.start_payment(w.ctx, StartPayment(third, "ecny_wallet"), "w3")

    run(go())


def test_a_wallet_payment_is_refused_when_the_backend_reports_no_wallet() -> None:
    w = fake_world()
    w.gw.send_wallet = False

    async def go() -> None:
        order_id = await _order(w)
        with pytest.raises(ShowroomError) as err:
            await payments.start_payment(w.ctx, StartPayment(order_id, "ecny_wallet"), "w")
        assert err.value.code == "compliance_refused"

    run(go())


def test_recovery_sends_intents_again_and_queries_payments_pending_too_long() -> None:
    w = fake_world()

    async def go() -> None:
        order_id = await _order(w)
        w.gw.unavailable = True
        with pytest.raises(PaymentGatewayUnavailable):
            await payments.start_payment(w.ctx, StartPayment(order_id, "card"), "p1")
        assert [p.status for p in (await orders.get_order(w.ctx, order_id)).payments] == [PaymentStatus.INTENT]
        w.gw.unavailable = False
        assert (await recovery.recover(w.ctx))["payments_submitted"] == 1
        (p,) = (await orders.get_order(w.ctx, order_id)).payments
        assert p.status is PaymentStatus.PENDING and p.gateway_payment_id is not None
        w.gw.complete(p.gateway_payment_id)  # its notice never arrives
        w.clock.advance(w.ctx.settings.pending_query_after_s + 1)
        counts = await recovery.sweep(w.ctx)
        assert counts["payments_queried"] == 1 and await _status(w, order_id) is OrderStatus.PAID

    run(go())


def test_a_payment_request_holds_its_key_while_the_backend_is_asked_and_releases_it_when_the_backend_fails() -> None:
    """The route's claim (`in_transaction`): taken with the intent, answered with the backend's ids in the same
    transaction that records them; a backend failure after the intent committed releases the key, so the
    customer's retry with the same key goes through (and the backend sees one idempotent payment)."""
    w = fake_world()

    async def go() -> None:
        order_id = await _order(w)
        cmd = StartPayment(order_id, "qr")
        scope, body = f"payments:{order_id}", {"method": "qr"}

        def start(claim: Any) -> Any:
            return payments.start_payment(w.ctx, cmd, claim.key, claim)

        w.gw.unavailable = True
        with pytest.raises(PaymentGatewayUnavailable):
            await run_once(w.ctx, scope, "k", body, start, views.payment_reply, in_transaction=True)
        assert (scope, "k") not in w.db.tables.idempotency  # released
        w.gw.unavailable = False
        status, reply = await run_once(w.ctx, scope, "k", body, start, views.payment_reply, in_transaction=True)
        assert status == 201 and reply["status"] == "pending"
        assert w.db.tables.idempotency[(scope, "k")].state == "done"  # stored with the backend's ids
        assert await run_once(w.ctx, scope, "k", body, start, views.payment_reply, in_transaction=True) == (status, reply)
        assert len(w.gw.by_key) == 1

    run(go())
