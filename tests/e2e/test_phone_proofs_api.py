"""Proof of the phone over real HTTP with the payment sandbox's SMS outbox (SQLite and PostgreSQL): a code sent
and verified gives a proof; five wrong codes burn it; an expired code is refused; a proof opens coupons and points
for its own number only; without a proof a claim, the balance, a preview and an order with points are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import update

from showroom.adapters import tables as t
from showroom.api.keys import RUNTIME
from showroom.staff import Role
from tests.e2e.test_campaigns_api import live
from tests.integration.commerce_db import DB_KINDS
from tests.phone_proof_http import newest_sms_id, phone_proof, proof_headers, sandbox_code
from tests.staff_http import StaffStack, staff_stack_on

pytestmark = pytest.mark.asyncio

PHONE = "13800138000"
OTHER = "13700000000"


@pytest_asyncio.fixture(params=DB_KINDS)
async def stack(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StaffStack]:
    async with staff_stack_on(request.param, tmp_path) as s:
        yield s


async def call(stack: StaffStack, path: str, body: Any, *, proof: str | None = None,
               key: str | None = None) -> tuple[int, Any, Any]:
    headers = proof_headers(proof) if proof else {}
    return await stack.request("POST", path, body=body, headers=headers, key=key)


async def send(stack: StaffStack, phone: str) -> str:
    before = await newest_sms_id(stack.http, stack.pay, phone)
    status, body, _ = await call(stack, "/api/phone/codes", {"customer": {"phone": phone}})
    assert status == 202 and body["phone"] == phone and body["resend_after_s"] == 60, body
    return await sandbox_code(stack.http, stack.pay, phone, after=before)


async def verify(stack: StaffStack, phone: str, code: str) -> tuple[int, Any]:
    status, body, _ = await call(stack, "/api/phone/verify", {"customer": {"phone": phone}, "code": code})
    return status, body


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_a_code_by_sms_gives_a_proof_once_and_the_outbox_shows_the_message(stack: StaffStack) -> None:
    code = await send(stack, PHONE)
    async with stack.http.get(f"{stack.pay}/sms/messages", params={"to": PHONE}) as r:
        message = (await r.json())["messages"][0]
    assert message["to"] == PHONE and code in message["text"] and "5" in message["text"]
    async with stack.http.get(f"{stack.pay}/sms/phone/{PHONE}") as r:
        page = await r.text()
    assert r.status == 200 and code in page and "138" in page
    status, body, headers = await call(stack, "/api/phone/codes", {"customer": {"phone": PHONE}})
    assert status == 429 and body["error"]["code"] == "code_throttled" and int(headers["Retry-After"]) > 0
    status, proof = await verify(stack, PHONE, code)
    assert status == 200 and proof["phone"] == PHONE and len(proof["phone_proof"]) >= 40, proof
    status, again = await verify(stack, PHONE, code)
    assert status == 410 and again["error"]["code"] == "code_expired", again
    status, mine, _ = await call(stack, "/api/coupons/mine", {"customer": {"phone": PHONE}}, proof=proof["phone_proof"])
    assert status == 200 and mine["points_balance"] == 0, mine


async def test_five_wrong_codes_burn_the_code(stack: StaffStack) -> None:
    code = await send(stack, PHONE)
    answers = [await verify(stack, PHONE, other_code(code)) for _ in range(5)]
    assert [s for s, _ in answers] == [401, 401, 401, 401, 410]
    assert answers[0][1]["error"] == {"code": "code_wrong", "message": "wrong code; 4 tries left"}
    assert answers[4][1]["error"]["code"] == "code_locked"
    status, body = await verify(stack, PHONE, code)  # the right one, too late
    assert status == 410 and body["error"]["code"] == "code_locked", body


async def test_an_expired_code_is_refused(stack: StaffStack) -> None:
    code = await send(stack, PHONE)
    db = stack.app[RUNTIME].db
    async with db.uow() as uow:  # five minutes pass
        await uow.conn.execute(update(t.phone_codes).where(t.phone_codes.c.phone == PHONE)
                               .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        await uow.commit()
    status, body = await verify(stack, PHONE, code)
    assert status == 410 and body["error"]["code"] == "code_expired", body


async def test_coupons_and_points_need_a_proof_for_that_very_number(stack: StaffStack) -> None:
    alice, bob = await stack.staff("alice", Role.MANAGER), await stack.staff("bob", Role.MANAGER)
    c = await live(stack, alice, bob)
    claim = {"campaign_id": c["id"], "customer": {"phone": PHONE}}
    status, body, _ = await call(stack, "/api/coupons/claim", claim)
    assert status == 401 and body["error"]["code"] == "phone_proof_required", body
    status, body, _ = await call(stack, "/api/coupons/claim", claim, proof="not-a-proof")
    assert status == 401 and body["error"]["code"] == "phone_proof_invalid", body
    others = await phone_proof(stack.http, stack.base, stack.pay, OTHER)
    status, body, _ = await call(stack, "/api/coupons/claim", claim, proof=others)
    assert status == 403 and body["error"]["code"] == "phone_proof_mismatch", body
    status, body, _ = await call(stack, "/api/coupons/mine", {"customer": {"phone": PHONE}}, proof=others)
    assert status == 403 and body["error"]["code"] == "phone_proof_mismatch", body

    proof = await phone_proof(stack.http, stack.base, stack.pay, PHONE)
    status, coupon, _ = await call(stack, "/api/coupons/claim", claim, proof=proof)
    assert status == 201, coupon
    status, quote, _ = await call(stack, "/api/quotes", {"product": "bar-50g", "variant": "au9999-10g"})
    assert status == 201, quote
    preview = {"customer": {"phone": PHONE}, "coupon": coupon["coupon_id"]}
    status, body, _ = await call(stack, f"/api/quotes/{quote['id']}/discounts", preview)
    assert status == 401 and body["error"]["code"] == "phone_proof_required", body
    status, lines, _ = await call(stack, f"/api/quotes/{quote['id']}/discounts", preview, proof=proof)
    assert status == 200 and lines["discount_cny"] == "10.00", lines
    order = {"quote_id": quote["id"], "channel": "phone", "customer": {"name": "韩梅梅", "phone": PHONE},
             "coupon": coupon["coupon_id"]}
    status, body, _ = await call(stack, "/api/orders", order, key="o-no-proof")
    assert status == 401 and body["error"]["code"] == "phone_proof_required", body
    status, body, _ = await call(stack, "/api/orders", {**order, "coupon": None, "points": 5}, proof=others,
                                 key="o-other")
    assert status == 403 and body["error"]["code"] == "phone_proof_mismatch", body
    status, placed, _ = await call(stack, "/api/orders", order, proof=proof, key="o-proof")
    assert status == 201 and placed["discount_cny"] == "10.00", placed


async def test_an_order_without_coupon_or_points_needs_no_proof(stack: StaffStack) -> None:
    status, quote, _ = await call(stack, "/api/quotes", {"product": "bar-50g", "variant": "au9999-10g"})
    assert status == 201, quote
    status, placed, _ = await call(stack, "/api/orders", {
        "quote_id": quote["id"], "channel": "kiosk", "customer": {"phone": PHONE}}, key="plain")
    assert status == 201 and placed["discount_cny"] == "0.00" and placed["discounts"] == [], placed


async def test_the_customers_order_view_shows_every_discount_line_and_the_totals_before_and_after(
        stack: StaffStack) -> None:
    buyer = "13900000000"  # `paid_order`'s customer: the paid order earns the points spent below
    alice, bob = await stack.staff("alice", Role.MANAGER), await stack.staff("bob", Role.MANAGER)
    c = await live(stack, alice, bob)
    await stack.paid_order()
    proof = await phone_proof(stack.http, stack.base, stack.pay, buyer)
    status, mine, _ = await call(stack, "/api/coupons/mine", {"customer": {"phone": buyer}}, proof=proof)
    assert status == 200 and mine["points_balance"] >= 500, mine
    status, coupon, _ = await call(stack, "/api/coupons/claim", {"campaign_id": c["id"], "customer": {"phone": buyer}},
                                   proof=proof)
    assert status == 201, coupon
    status, quote, _ = await call(stack, "/api/quotes", {"product": "bar-50g", "variant": "au9999-10g"})
    assert status == 201, quote
    status, placed, _ = await call(stack, "/api/orders", {
        "quote_id": quote["id"], "channel": "phone", "customer": {"name": "李雷", "phone": buyer},
        "coupon": coupon["coupon_id"], "points": 500}, proof=proof, key="with-discounts")
    assert status == 201, placed
    async with stack.http.get(f"{stack.base}/api/orders/{placed['id']}",
                              headers={"Authorization": f"Bearer {placed['order_token']}"}) as r:
        view = await r.json()
    assert r.status == 200, view
    total = round(float(quote["total_cny"]) * 100)
    assert view["subtotal_cny"] == quote["total_cny"] and view["discount_cny"] == "15.00"
    assert round(float(view["total_cny"]) * 100) == total - 1500 == round(float(view["amount_cny"]) * 100)
    assert [(d["kind"], d["amount_cny"], d["points"]) for d in view["discounts"]] == [
        ("coupon", "10.00", 0), ("points", "5.00", 500)]
    assert view["discounts"][0]["coupon_id"] == coupon["coupon_id"] and view["discounts"][0]["label"]
    async with stack.http.get(f"{stack.base}/api/orders/{placed['id']}") as r:  # the id alone: the status only
        assert set((await r.json()).keys()) == {"id", "status"}
