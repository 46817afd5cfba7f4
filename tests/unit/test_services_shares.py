"""Shares: a signed, expiring link at the price quoted now; visits, orders and purchases are attributed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from showroom.services import notices, orders, payments, shares
from showroom.services.orders import Customer, PlaceOrder
from showroom.services.payments import StartPayment
from showroom.services.shares import IssueShare
from showroom.sharing import ShareExpired, ShareInvalid
from tests.commerce_fakes import fake_world


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_a_share_is_attributed_its_visits_orders_and_purchases() -> None:
    w = fake_world()

    async def go() -> None:
        link = await shares.issue_share(w.ctx, IssueShare("bar-50g", "au9999-10g", "wechat"))
        assert link.share.price_fen == 941910 and link.share.quoted_at == w.clock.now()
        opened = await shares.open_share(w.ctx, link.token, count_visit=True)
        assert opened.share.visits == 1 and opened.token == link.token
        assert (await shares.open_share(w.ctx, link.token, count_visit=False)).share.visits == 1
        q = await orders.quote(w.ctx, "bar-50g", "au9999-10g")
        placed = await orders.place_order(w.ctx, PlaceOrder(q.id, Customer(None, "1"), share_token=link.token))
        p = await payments.start_payment(w.ctx, StartPayment(placed.details.order.id, "qr"), "p")
        assert p.gateway_payment_id is not None
        body, sig = w.gw.notice(w.gw.complete(p.gateway_payment_id), p.gateway_payment_id)
        await notices.handle_payment_notice(w.ctx, body, sig)
        after = (await shares.open_share(w.ctx, link.token, count_visit=False)).share
        assert (after.visits, after.orders, after.purchases) == (1, 1, 1)

    run(go())


def test_a_tampered_or_expired_link_is_refused() -> None:
    w = fake_world()

    async def go() -> None:
        link = await shares.issue_share(w.ctx, IssueShare("ring-18k"))
        with pytest.raises(ShareInvalid):
            await shares.open_share(w.ctx, link.token + "x", count_visit=True)
        w.clock.advance(w.ctx.settings.share_ttl_s)
        with pytest.raises(ShareExpired):
            await shares.open_share(w.ctx, link.token, count_visit=True)
        q = await orders.quote(w.ctx, "ring-18k", None)
        with pytest.raises(ShareExpired):
            await orders.place_order(w.ctx, PlaceOrder(q.id, Customer(None, "1"), share_token=link.token))

    run(go())
