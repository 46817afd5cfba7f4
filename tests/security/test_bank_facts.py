"""Attack replays on the facts that limit money (docs/commerce.md): the customer's verification level, the e-CNY
wallet's tier and a loan's rate come from the bank, never from the request; commerce inputs are bounded (422,
never a 500)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

from showroom.finance import LoanRate
from showroom.services import finance
from tests.security.commerce_stack import (
    FROZEN,
    REGISTERED_L1,
    REGISTERED_L2,
    SMALL_WALLET,
    UNREGISTERED,
    CommerceNode,
    commerce_node,
)

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def node(tmp_path: Path) -> AsyncIterator[CommerceNode]:
    async for n in commerce_node(tmp_path):
        yield n


async def _quote(node: CommerceNode, variant: str, quantity: int = 1) -> str:
    status, q = await node.call("POST", "/api/quotes", {"product": "bar-50g", "variant": variant, "quantity": quantity})
    assert status == 201, q
    return str(q["id"])


async def test_a_claimed_verification_level_is_refused_and_the_register_decides(node: CommerceNode) -> None:
    quote_id = await _quote(node, "au9999-1kg")  # about 938,000 CNY
    status, body = await node.call("POST", "/api/orders", {
        "quote_id": quote_id, "customer": {"phone": UNREGISTERED, "kyc_level": "L3"}}, key="k1")
    assert status == 422 and body["error"]["code"] == "invalid_input"
    assert "customer.kyc_level" in body["error"]["message"]
    status, body = await node.call("POST", "/api/orders", {
        "quote_id": quote_id, "customer": {"phone": UNREGISTERED}}, key="k2")
    assert status == 422 and body["error"]["code"] == "limit_exceeded"  # unverified: the lowest limit
    status, body = await node.call("POST", "/api/orders", {
        "quote_id": quote_id, "customer": {"phone": REGISTERED_L2}}, key="k3")
    assert status == 422 and body["error"]["code"] == "limit_exceeded"  # L2: 200,000 CNY


async def test_the_acceptance_customer_buys_the_cheapest_bar_and_a_frozen_one_is_refused(node: CommerceNode) -> None:
    status, order = await node.order(REGISTERED_L1)
    assert status == 201 and order["status"] == "pending_payment"
    status, body = await node.order(FROZEN)
    assert (status, body["error"]["code"]) == (403, "customer_refused")
    assert "frozen" not in body["error"]["message"]


async def test_a_wallet_tier_in_the_payment_body_is_refused_and_the_backends_tier_applies(node: CommerceNode) -> None:
    _, order = await node.order(SMALL_WALLET)  # 9,419.10 CNY; the payer's wallet is tier 3 (5,000 at once)
    status, body = await node.call("POST", f"/api/orders/{order['id']}/payments",
                                   {"method": "ecny_wallet", "wallet_tier": 1}, key="w1")
    assert status == 422 and "wallet_tier" in body["error"]["message"]
    status, body = await node.call("POST", f"/api/orders/{order['id']}/payments", {"method": "ecny_wallet"},
                                   key="w2")
    assert (status, body["error"]["code"]) == (422, "limit_exceeded") and "tier-3" in body["error"]["message"]
    _, ok_order = await node.order(REGISTERED_L2)  # a tier-1 wallet: no limit
    status, payment = await node.call("POST", f"/api/orders/{ok_order['id']}/payments", {"method": "ecny_wallet"},
                                      key="w3")
    assert status == 201 and payment["pay_url"]


async def test_a_loan_rate_in_the_body_is_refused_and_the_plan_uses_the_tables_rate(node: CommerceNode) -> None:
    await finance.set_rate(node.ctx, LoanRate("car-ev", 36, Decimal("0.0288"), date(2020, 1, 1)))
    for field, value in (("annual_rate", 0), ("upfront_fee_cny", "0"), ("monthly_fee_cny", "0")):
        status, body = await node.call("POST", "/api/finance/plans", {"product": "car-ev", "down_payment_ratio": "0.2",
                                                                      "term_months": 36, field: value})
        assert status == 422 and field in body["error"]["message"], body
    status, plan = await node.call("POST", "/api/finance/plans", {"product": "car-ev", "down_payment_ratio": "0.2",
                                                                  "term_months": 36})
    assert status == 200 and plan["annual_rate"] == "0.0288" and plan["rate_source"].startswith("rate-table:car-ev")
    status, body = await node.call("POST", "/api/orders", {
        "quote_id": "q", "customer": {"phone": REGISTERED_L1},
        "finance": {"down_payment_ratio": "0.2", "term_months": 36, "annual_rate": "0"}}, key="car")
    assert status == 422 and "finance.annual_rate" in body["error"]["message"]


@pytest.mark.parametrize(("path", "body"), [
    ("/api/finance/plans", {"product": "car-ev", "down_payment_ratio": "1e30"}),
    ("/api/finance/plans", {"product": "car-ev", "down_payment_ratio": "NaN"}),
    ("/api/finance/plans", {"product": "car-ev", "down_payment_ratio": "-1"}),
    ("/api/finance/plans", {"product": "car-ev", "down_payment_ratio": "0." + "1" * 40}),
    ("/api/finance/plans", {"product": "car-ev", "term_months": 10**30}),
    ("/api/quotes", {"product": "bar-50g", "quantity": 10**30}),
    ("/api/quotes", {"product": "bar-50g", "quantity": -1}),
    ("/api/quotes", {"product": "x" * 10_000}),
    ("/api/orders", {"quote_id": "q", "customer": {"phone": "1" * 40}}),
    ("/api/orders", {"quote_id": "q", "customer": {"phone": REGISTERED_L1, "name": "n" * 1000}}),
    ("/api/orders", {"quote_id": "q", "customer": {"phone": REGISTERED_L1}, "channel": "anything"}),
])
async def test_unbounded_commerce_inputs_are_422_never_500(node: CommerceNode, path: str, body: object) -> None:
    status, reply = await node.call("POST", path, body, key="bounded")
    assert status == 422 and reply["error"]["code"] == "invalid_input", reply


@pytest.mark.parametrize("raw", [b'{"product": "car-ev", "down_payment_ratio": 1e30}',
                                 b'{"product": "car-ev", "down_payment_ratio": 1e999}',
                                 b'{"product": "car-ev", "down_payment_ratio": NaN}',
                                 b"[" * 50_000])
async def test_raw_json_numbers_and_nesting_are_refused(node: CommerceNode, raw: bytes) -> None:
    status, reply = await node.call("POST", "/api/finance/plans", raw=raw)
    assert status == 422 and reply["error"]["code"] == "invalid_input", reply


async def test_a_product_view_with_fractional_numbers_is_kept_in_the_audit(node: CommerceNode) -> None:
    quote_id = await _quote(node, "au9999-10g")
    view = {"view_set_hash": "abc", "yaw_deg": 37.5, "client": "phone"}
    status, order = await node.call("POST", "/api/orders", {"quote_id": quote_id, "product_view": view,
                                                            "customer": {"phone": REGISTERED_L1}}, key="pv")
    assert status == 201, order
    from showroom.services import orders

    story = await orders.get_order(node.ctx, order["id"], with_audit=True)
    assert story.audit is not None
    placed = next(a for a in story.audit if a["kind"] == "order_placed")
    assert placed["data"]["product_view"] == view and placed["data"]["customer_id"] == "cust_sbx_0001"
