"""Attack replays on the customer's capability (docs/security.md, "Customer capability"): an order id alone reads
the status and nothing else, cannot cancel, cannot open the order's socket, and a wrong token is answered exactly
like an unknown id; paying by id alone is allowed and tells only what the payer needs; no customer view or
event tips anyone off about an anti-money-laundering review."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from tests.security.commerce_stack import REGISTERED_L1, REGISTERED_L2, CommerceNode, commerce_node

pytestmark = pytest.mark.asyncio

PERSONAL = ("Test Customer", REGISTERED_L1, REGISTERED_L2, "13800000000")


@pytest_asyncio.fixture
async def node(tmp_path: Path) -> AsyncIterator[CommerceNode]:
    async for n in commerce_node(tmp_path):
        yield n


async def test_an_order_id_alone_reads_the_status_and_nothing_else(node: CommerceNode) -> None:
    status, order = await node.order(REGISTERED_L1)
    assert status == 201 and order["order_token"] and order["customer"]["phone"] == REGISTERED_L1
    status, public = await node.call("GET", f"/api/orders/{order['id']}")
    assert status == 200 and public == {"id": order["id"], "status": "pending_payment"}
    status, full = await node.call("GET", f"/api/orders/{order['id']}", token=order["order_token"])
    assert status == 200 and full["amount_cny"] == order["amount_cny"] and full["customer"]["phone"] == REGISTERED_L1


async def test_a_wrong_token_is_answered_like_an_unknown_id(node: CommerceNode) -> None:
    _, order = await node.order(REGISTERED_L1)
    token = order["order_token"]
    answers = []
    for order_id, wrong in ((order["id"], token[:-2] + "xx"), (order["id"], ""), (order["id"], "x" * 1000),
                            ("ord_000000000000000000000000", token)):
        status, body = await node.call("GET", f"/api/orders/{order_id}", token=wrong)
        answers.append((status, body["error"]["code"]))
        assert not any(p in json.dumps(body) for p in PERSONAL)
    assert set(answers) == {(404, "not_found")}
    async with node.http.get(f"{node.base}/api/orders/{order['id']}", headers={"Authorization": f"Basic {token}"}) as r:
        assert r.status == 404  # another scheme carries no token


async def test_an_order_id_alone_cannot_cancel(node: CommerceNode) -> None:
    _, order = await node.order(REGISTERED_L1)
    for token in (None, "guess"):
        status, body = await node.call("POST", f"/api/orders/{order['id']}/cancel", {}, token=token)
        assert (status, body["error"]["code"]) == (404, "not_found")
    status, public = await node.call("GET", f"/api/orders/{order['id']}")
    assert public["status"] == "pending_payment"
    status, cancelled = await node.call("POST", f"/api/orders/{order['id']}/cancel", {}, token=order["order_token"])
    assert status == 200 and cancelled["status"] == "cancelled"


async def test_an_order_id_alone_cannot_open_the_order_socket(node: CommerceNode) -> None:
    _, order = await node.order(REGISTERED_L1)
    for query in ("", "?token=guess", f"?token={order['order_token'][:20]}"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await node.http.ws_connect(f"{node.base}/ws/orders/{order['id']}{query}")
        assert refused.value.status == 404
    async with node.http.ws_connect(f"{node.base}/ws/orders/{order['id']}?token={order['order_token']}") as ws:
        first = await ws.receive_json(timeout=5)
        assert first["status"] == "pending_payment" and first["order"]["id"] == order["id"]


async def test_paying_by_id_alone_is_allowed_and_tells_only_what_the_payer_needs(node: CommerceNode) -> None:
    _, order = await node.order(REGISTERED_L1)
    status, payment = await node.call("POST", f"/api/orders/{order['id']}/payments", {"method": "qr"}, key="p1")
    assert status == 201 and payment["pay_url"].startswith(node.pay)
    assert payment["amount_cny"] == order["amount_cny"] and payment["expires_at"]
    text = json.dumps(payment)
    assert not any(p in text for p in PERSONAL) and "customer" not in payment and "product" not in payment
    assert order["order_token"] not in text


async def test_the_customer_view_has_no_aml_fields_while_an_aml_flagged_order_exists(node: CommerceNode) -> None:
    status, order = await node.order(REGISTERED_L2, "au9999-50g", 2)  # 93,791 CNY: flagged for AML review
    assert status == 201
    token = order["order_token"]
    _, full = await node.call("GET", f"/api/orders/{order['id']}", token=token)
    for view in (order, full):
        text = json.dumps(view).lower()
        assert view["review"] == "under_review"
        assert "aml" not in text and "reason" not in text and "kyc" not in text and "limit" not in text
        assert "50000" not in text and "compliance" not in text
    async with node.http.ws_connect(f"{node.base}/ws/orders/{order['id']}?token={token}") as ws:
        first = await ws.receive_json(timeout=5)
        _, payment = await node.call("POST", f"/api/orders/{order['id']}/payments", {"method": "mobile_banking"},
                                     key="p")
        async with node.http.post(f"{node.pay}/payments/{payment['payment_id']}/complete",
                                  json={"outcome": "approved"}) as r:
            assert r.status < 300
        events = [first]
        while events[-1]["status"] != "paid":
            events.append(await ws.receive_json(timeout=10))
    for event in events:
        text = json.dumps(event).lower()
        assert "aml" not in text and "reason" not in text and "compliance" not in text
    from showroom.services import orders

    staff_side = await orders.get_order(node.ctx, order["id"], with_audit=True)  # the bank keeps the details
    assert staff_side.order.aml_review and staff_side.audit is not None
    placed = next(a for a in staff_side.audit if a["kind"] == "order_placed")
    assert placed["data"]["compliance"]["aml_review"] is True


async def test_an_unchecked_order_shows_no_review_at_all(node: CommerceNode) -> None:
    _, order = await node.order(REGISTERED_L1)
    assert "review" not in order
