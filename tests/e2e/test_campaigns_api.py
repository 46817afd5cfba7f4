"""Coupons, campaigns and points over real HTTP with the payment sandbox: a manager creates a campaign, another
approves it; every customer step carries the proof of the phone (tests/phone_proof_http.py); 200 concurrent
claims never spend more than its 1,000 CNY budget (SQLite and PostgreSQL); claim ->
quote with its discount lines -> order -> the e-CNY coupon refused for a card -> paid with the e-CNY wallet ->
a full refund gives the coupon back."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from showroom.staff import Role
from tests.integration.commerce_db import DB_KINDS
from tests.phone_proof_http import phone_proof, proof_headers
from tests.staff_http import Staff, StaffStack, staff_stack_on

pytestmark = pytest.mark.asyncio

TIER1 = "13900000000"
"""The sandbox's tier-1 e-CNY wallet (no single-payment limit below the bar's price)."""


@pytest_asyncio.fixture(params=DB_KINDS)
async def stack(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StaffStack]:
    async with staff_stack_on(request.param, tmp_path) as s:
        yield s


def campaign_body(**kw: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    body: dict[str, Any] = {"name": "数字人民币满减", "kind": "amount_off", "budget_cny": "1000.00",
                            "amount_off_cny": "10.00", "per_customer_limit": 1, "public": True,
                            "starts_at": (now - timedelta(minutes=5)).isoformat(),
                            "ends_at": (now + timedelta(days=1)).isoformat()}
    body.update(kw)
    return body


async def live(stack: StaffStack, alice: Staff, bob: Staff, **kw: Any) -> dict[str, Any]:
    status, created, _ = await stack.request("POST", "/api/staff/campaigns", who=alice, body=campaign_body(**kw))
    assert status == 201 and created["state"] == "pending_approval", created
    path = f"/api/staff/campaigns/{created['id']}/state"
    status, body, _ = await stack.request("POST", path, who=alice, body={"state": "active"})
    assert status == 403 and body["error"]["code"] == "four_eyes"
    status, approved, _ = await stack.request("POST", path, who=bob, body={"state": "active"})
    assert status == 200 and approved["state"] == "active" and approved["decided_by"] == "bob", approved
    return dict(approved)


_PROOFS: dict[tuple[str, str], str] = {}
_NEEDS_PROOF = re.compile(r"/api/(coupons/(claim|mine)|quotes/[^/]+/discounts)")


async def post(stack: StaffStack, path: str, body: Any, key: str | None = None) -> tuple[int, Any]:
    """POST as the customer: coupons and points carry the proof of the phone (read from the sandbox's SMS)."""
    headers = {"Idempotency-Key": key} if key else {}
    if _NEEDS_PROOF.fullmatch(path) or (path == "/api/orders" and (body.get("coupon") or body.get("points"))):
        phone = body["customer"]["phone"]
        held = (stack.database_url, phone)  # one database per test
        if held not in _PROOFS:
            _PROOFS[held] = await phone_proof(stack.http, stack.base, stack.pay, phone)
        headers.update(proof_headers(_PROOFS[held]))
    async with stack.http.post(stack.base + path, json=body, headers=headers) as r:
        return r.status, await r.json()


async def test_200_concurrent_claims_never_spend_more_than_1000_cny(stack: StaffStack) -> None:
    alice, bob = await stack.staff("alice", Role.MANAGER), await stack.staff("bob", Role.MANAGER)
    c = await live(stack, alice, bob, amount_off_cny="30.00")  # 1,000 / 30: 33 coupons fit
    results = await asyncio.gather(*(post(stack, "/api/coupons/claim", {
        "campaign_id": c["id"], "customer": {"phone": f"139{i:08d}"}}) for i in range(200)))
    won = [b for s, b in results if s == 201]
    lost = [(s, b["error"]["code"]) for s, b in results if s != 201]
    assert len(won) == 33 and set(lost) == {(409, "campaign_exhausted")}
    status, listed, _ = await stack.request("GET", "/api/staff/campaigns", who=alice)
    row = next(r for r in listed["campaigns"] if r["id"] == c["id"])
    assert row["remaining_cny"] == "10.00" and row["budget_cny"] == "1000.00"  # 1000 - 33 x 30
    status, public, _ = await stack.request("GET", "/api/campaigns")
    assert status == 200 and public["campaigns"] == []  # what is left cannot pay one more coupon
    status, trail, _ = await stack.request("GET", f"/api/staff/audit?subject=campaign:{c['id']}&limit=500", who=alice)
    assert status == 200, trail
    actions = [e["action"] for e in trail["entries"]]
    assert actions.count("coupon_granted") == 33 and "campaign_approved" in actions


async def test_claim_quote_order_ecny_refused_for_card_paid_by_ecny_refund_returns_the_coupon(
        stack: StaffStack) -> None:
    alice, bob = await stack.staff("alice", Role.MANAGER), await stack.staff("bob", Role.MANAGER)
    tom = await stack.staff("tom", Role.TELLER)
    status, body, _ = await stack.request("POST", "/api/staff/campaigns", who=tom, body=campaign_body())
    assert status == 403 and body["error"]["code"] == "forbidden"
    c = await live(stack, alice, bob, ecny_only=True, amount_off_cny="50.00")
    status, public, _ = await stack.request("GET", "/api/campaigns")
    assert [p["id"] for p in public["campaigns"]] == [c["id"]] and "code" not in public["campaigns"][0]

    status, claimed = await post(stack, "/api/coupons/claim", {"campaign_id": c["id"], "customer": {"phone": TIER1}})
    assert status == 201 and claimed["coupon_id"].startswith("cpn_"), claimed
    status, again = await post(stack, "/api/coupons/claim", {"campaign_id": c["id"], "customer": {"phone": TIER1}})
    assert (status, again["error"]["code"]) == (409, "claim_limit_reached")

    status, quote = await post(stack, "/api/quotes", {"product": "bar-50g", "variant": "au9999-10g"})
    assert status == 201
    status, lines = await post(stack, f"/api/quotes/{quote['id']}/discounts",
                               {"customer": {"phone": TIER1}, "coupon": claimed["coupon_id"]})
    assert status == 200, lines
    assert lines["total_cny"] == quote["total_cny"] == "9419.10"
    assert [(x["kind"], x["amount_cny"], x["ecny_only"]) for x in lines["lines"]] == [("coupon", "50.00", True)]
    assert lines["payable_cny"] == "9369.10" and lines["ecny_only"] is True

    status, order = await post(stack, "/api/orders", {"quote_id": quote["id"], "coupon": claimed["coupon_id"],
                                                      "customer": {"name": "韩梅梅", "phone": TIER1}}, "o1")
    assert status == 201 and order["amount_cny"] == "9369.10", order
    status, refused = await post(stack, f"/api/orders/{order['id']}/payments", {"method": "card"}, "p-card")
    assert status == 422 and refused["error"]["code"] == "coupon_requires_ecny", refused
    status, payment = await post(stack, f"/api/orders/{order['id']}/payments", {"method": "ecny_wallet"}, "p-ecny")
    assert status == 201 and payment["amount_cny"] == "9369.10", payment
    async with stack.http.post(f"{stack.pay}/payments/{payment['payment_id']}/complete",
                               json={"outcome": "approved"}) as r:
        assert r.status < 300, await r.text()
    await stack.wait_status(order["id"], "paid")
    status, mine = await post(stack, "/api/coupons/mine", {"customer": {"phone": TIER1}})
    assert status == 200 and mine["coupons"] == [] and mine["points_balance"] == 936  # 1 point per 10 CNY paid

    status, pending, _ = await stack.request("POST", f"/api/orders/{order['id']}/refunds", who=alice, body={},
                                             key="r1")
    assert status == 202, pending  # above the teller limit: a second manager
    status, approved, _ = await stack.request("POST", f"/api/staff/refund-requests/{pending['id']}/approve", who=bob)
    assert status == 200, approved
    await stack.wait_status(order["id"], "refunded")
    loop = asyncio.get_running_loop()
    end = loop.time() + 10
    while True:  # the refund's notification settles the coupon in the same transaction as the order
        status, mine = await post(stack, "/api/coupons/mine", {"customer": {"phone": TIER1}})
        if mine["coupons"] or loop.time() > end:
            break
        await asyncio.sleep(0.05)
    assert [x["coupon_id"] for x in mine["coupons"]] == [claimed["coupon_id"]]
    assert mine["coupons"][0]["worth_up_to_cny"] == "50.00" and mine["points_balance"] == 0
