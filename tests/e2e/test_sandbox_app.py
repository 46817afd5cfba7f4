"""The payment sandbox over HTTP (aiohttp test client), with a real receiver of its notifications.

Tests wait for what they expect (an arrival at the notify URL, a status in the sandbox's outbox), never for a
fixed time (tests/waiting.py)."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from showroom.payment_sandbox import SandboxSettings
from showroom.payment_sandbox.app import create_sandbox_app
from showroom.signing import PaymentSignatureInvalid, verify
from tests.waiting import Changes, wait_until

pytestmark = pytest.mark.asyncio

SECRET = "test-webhook-secret"


class FakeClock:
    def __init__(self, at: dt.datetime) -> None:
        self.now_s = at.timestamp()

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


@dataclass
class Receiver:
    """The merchant's notify endpoint: records what arrives, can fail the first attempts of each event."""

    clock: Callable[[], float] = time.time
    fail_first: int = 0
    status_on_failure: int = 500
    arrivals: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    rejected_signatures: int = 0
    seen: dict[str, int] = field(default_factory=dict)
    url: str = ""
    changes: Changes = field(default_factory=Changes)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            verify(SECRET, request.headers.get("X-Signature"), body, self.clock())
        except PaymentSignatureInvalid:
            self.rejected_signatures += 1
            await self.changes.notify()
            return web.Response(status=401)
        event = json.loads(body)
        self.seen[event["id"]] = self.seen.get(event["id"], 0) + 1
        self.arrivals.append((time.monotonic(), event))
        await self.changes.notify()
        if self.seen[event["id"]] <= self.fail_first:
            return web.Response(status=self.status_on_failure)
        return web.Response(status=204)

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        return [e for _, e in self.arrivals if event_type is None or e["type"] == event_type]

    async def wait_for(self, count: int, event_type: str | None = None) -> None:
        await self.changes.wait_until(
            lambda: len(self.events(event_type)) >= count,
            what=f"{count} {event_type or 'notification'} arrival(s) at the notify URL",
        )


SandboxFactory = Callable[..., Awaitable[tuple[TestClient[web.Request, web.Application], Receiver]]]


@pytest.fixture
def sandbox(aiohttp_client: Any, aiohttp_server: Any) -> SandboxFactory:
    async def make(
        receiver: Receiver | None = None, **overrides: Any
    ) -> tuple[TestClient[web.Request, web.Application], Receiver]:
        receiver = receiver or Receiver()
        if "clock" in overrides:
            receiver.clock = overrides["clock"]
        app = web.Application()
        app.router.add_post("/notify", receiver.handle)
        server: TestServer = await aiohttp_server(app)
        receiver.url = str(server.make_url("/notify"))
        settings = SandboxSettings(
            webhook_secret=SECRET,
            notify_retry_schedule_s=(0.05, 0.1, 0.2),
            expiry_sweep_s=0.05,
            refund_processing_s=0.05,
            default_notify_url=receiver.url,
        )
        client = await aiohttp_client(create_sandbox_app(replace(settings, **overrides)))
        return client, receiver

    return make


def payment_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_id": "ord_test_1",
        "amount_fen": 3_456_700,
        "currency": "CNY",
        "method": "mobile_banking",
        "description": "Au9999 50 g 金条",
        "return_url": "http://127.0.0.1:8080/kiosk",
        "expires_in_s": 900,
    }
    body.update(fields)
    return body


async def create(
    client: TestClient[web.Request, web.Application], key: str = "key-1", **fields: Any
) -> dict[str, Any]:
    resp = await client.post("/payments", json=payment_body(**fields), headers={"Idempotency-Key": key})
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def complete(
    client: TestClient[web.Request, web.Application], payment_id: str, outcome: str = "approved"
) -> Any:
    resp = await client.post(f"/payments/{payment_id}/complete", json={"outcome": outcome})
    return resp.status, await resp.json()


async def outbox(client: TestClient[web.Request, web.Application], payment_id: str) -> list[dict[str, Any]]:
    """The sandbox's own record of a payment's notifications (status, attempts)."""
    return list((await (await client.get(f"/payments/{payment_id}/events")).json())["events"])


async def wait_for_event_status(
    client: TestClient[web.Request, web.Application], payment_id: str, status: str
) -> dict[str, Any]:
    """Waits until the sandbox has recorded the payment's first notification as `status`; returns it. (The
    notify URL sees an attempt before the sandbox records its outcome, so an arrival is not enough.)"""
    async def recorded() -> bool:
        return (await outbox(client, payment_id))[0]["status"] == status

    await wait_until(recorded, what=f"the notification of {payment_id} to be {status}")
    return (await outbox(client, payment_id))[0]


async def wait_for_idle_notifier(client: TestClient[web.Request, web.Application]) -> None:
    """Waits until no delivery is in progress: every attempt, retry and deliberate duplicate has been made."""
    async def idle() -> bool:
        return (await (await client.get("/healthz")).json())["notifications_in_flight"] == 0

    await wait_until(idle, what="the sandbox to have no notification in flight")


# --- creating and querying ----------------------------------------------------------------------------------


async def test_a_created_payment_has_a_pay_url_a_qr_code_of_it_and_an_expiry(sandbox: SandboxFactory) -> None:
    client, _ = await sandbox()
    created = await create(client)
    assert created["status"] == "pending"
    assert created["payment_id"].startswith("pay_")
    assert created["pay_url"].endswith(f"/pay/{created['payment_id']}")
    expires = dt.datetime.fromisoformat(created["expires_at"])
    assert 890 <= (expires - dt.datetime.now(dt.UTC)).total_seconds() <= 901
    png = await client.get(created["qr_png_url"].split(str(client.make_url("")).rstrip("/"))[-1])
    assert png.status == 200 and png.content_type == "image/png"
    image = cv2.imdecode(np.frombuffer(await png.read(), np.uint8), cv2.IMREAD_GRAYSCALE)
    decoded, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert decoded == created["pay_url"]


async def test_a_payment_can_be_queried_by_id_and_listed_by_order(sandbox: SandboxFactory) -> None:
    client, _ = await sandbox()
    created = await create(client)
    got = await (await client.get(f"/payments/{created['payment_id']}")).json()
    assert got["order_id"] == "ord_test_1" and got["amount_fen"] == 3_456_700 and got["refunded_fen"] == 0
    assert got["status"] == "pending" and got["failure_code"] is None
    listed = await (await client.get("/payments", params={"order_id": "ord_test_1"})).json()
    assert [p["payment_id"] for p in listed["payments"]] == [created["payment_id"]]


async def test_replaying_an_idempotency_key_returns_the_first_payment(sandbox: SandboxFactory) -> None:
    client, _ = await sandbox()
    first = await create(client, key="same")
    again = await client.post("/payments", json=payment_body(), headers={"Idempotency-Key": "same"})
    assert again.status == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert await again.json() == first
    listed = await (await client.get("/payments", params={"order_id": "ord_test_1"})).json()
    assert len(listed["payments"]) == 1


async def test_concurrent_requests_with_one_key_make_one_payment(sandbox: SandboxFactory) -> None:
    client, _ = await sandbox()
    replies = await asyncio.gather(
        *(
            client.post("/payments", json=payment_body(), headers={"Idempotency-Key": "burst"})
            for _ in range(10)
        )
    )
    ids = {(await r.json())["payment_id"] for r in replies}
    assert len(ids) == 1


async def test_reusing_an_idempotency_key_with_another_body_is_refused(sandbox: SandboxFactory) -> None:
    client, _ = await sandbox()
    await create(client, key="k")
    resp = await client.post("/payments", json=payment_body(amount_fen=1), headers={"Idempotency-Key": "k"})
    assert resp.status == 422
    assert (await resp.json())["error"]["code"] == "idempotency_key_reused"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"amount_fen": 0}, "validation_failed"),
        ({"amount_fen": 12.5}, "validation_failed"),
        ({"amount_fen": "100"}, "validation_failed"),
        ({"currency": "USD"}, "validation_failed"),
        ({"method": "bitcoin"}, "validation_failed"),
        ({"order_id": "a/b"}, "validation_failed"),
        ({"notify_url": "ftp://x"}, "validation_failed"),
        ({"expires_in_s": 0}, "validation_failed"),
        ({"method": "qr", "amount_fen": 5_000_001}, "amount_over_method_limit"),
    ],
)
async def test_bad_payment_requests_get_a_clear_json_error(
    sandbox: SandboxFactory, fields: dict[str, Any], code: str
) -> None:
    client, _ = await sandbox()
    resp = await client.post("/payments", json=payment_body(**fields))
    assert resp.status == 422
    error = (await resp.json())["error"]
    assert error["code"] == code and error["message"]


async def test_malformed_and_oversized_bodies_and_unknown_ids_are_json_errors(
    sandbox: SandboxFactory,
) -> None:
    client, _ = await sandbox()
    bad = await client.post("/payments", data=b"{not json", headers={"Content-Type": "application/json"})
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "bad_request"
    big = await client.post("/payments", data=b"{" + b" " * 70_000 + b"}")
    assert big.status == 413
    missing = await client.get("/payments/pay_nope")
    assert missing.status == 404 and (await missing.json())["error"]["code"] == "payment_not_found"
    nowhere = await client.get("/no/such/route")
    assert nowhere.status == 404 and "error" in await nowhere.json()


# --- outcomes and notifications -----------------------------------------------------------------------------


async def test_an_approved_payment_is_notified_with_a_valid_signature(sandbox: SandboxFactory) -> None:
    client, receiver = await sandbox()
    created = await create(client)
    status, paid = await complete(client, created["payment_id"])
    assert status == 200 and paid["status"] == "succeeded"
    await receiver.wait_for(1)
    event = receiver.events()[0]
    assert event["id"].startswith("evt_") and event["type"] == "payment.succeeded"
    assert abs(event["created"] - time.time()) < 5
    assert event["data"] == {
        "payment_id": created["payment_id"],
        "order_id": "ord_test_1",
        "amount_fen": 3_456_700,
        "currency": "CNY",
        "method": "mobile_banking",
        "status": "succeeded",
        "payment_amount_fen": 3_456_700,
        "refunded_fen": 0,
    }
    assert receiver.rejected_signatures == 0


async def test_notifications_signed_with_another_secret_fail_verification(sandbox: SandboxFactory) -> None:
    client, receiver = await sandbox(webhook_secret="someone-else", notify_retry_schedule_s=())
    created = await create(client)
    await complete(client, created["payment_id"])
    await receiver.changes.wait_until(lambda: receiver.rejected_signatures >= 1, what="a refused signature")
    assert receiver.events() == []


@pytest.mark.parametrize("outcome", ["declined", "insufficient_funds", "limit_exceeded", "timeout"])
async def test_each_failing_outcome_fails_the_payment_with_its_code(
    sandbox: SandboxFactory, outcome: str
) -> None:
    client, receiver = await sandbox()
    created = await create(client)
    status, failed = await complete(client, created["payment_id"], outcome)
    assert status == 200 and failed["status"] == "failed" and failed["failure_code"] == outcome
    await receiver.wait_for(1)
    event = receiver.events()[0]
    assert event["type"] == "payment.failed" and event["data"]["failure_code"] == outcome


async def test_a_payment_completes_only_once(sandbox: SandboxFactory) -> None:
    client, _ = await sandbox()
    created = await create(client)
    await complete(client, created["payment_id"])
    status, body = await complete(client, created["payment_id"], "declined")
    assert status == 409 and body["error"]["code"] == "payment_not_pending"


async def test_failed_deliveries_are_retried_with_growing_delays(sandbox: SandboxFactory) -> None:
    client, receiver = await sandbox(Receiver(fail_first=3), notify_retry_schedule_s=(0.05, 0.1, 0.2))
    created = await create(client)
    await complete(client, created["payment_id"])
    await receiver.wait_for(4)
    times = [t for t, _ in receiver.arrivals]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert [round(g, 2) >= d for g, d in zip(gaps, (0.05, 0.1, 0.2), strict=True)] == [True, True, True]
    assert len({e["id"] for e in receiver.events()}) == 1
    event = await wait_for_event_status(client, created["payment_id"], "delivered")
    assert event["attempts"] == 4


async def test_a_notification_is_abandoned_after_the_schedule_and_can_be_redelivered(
    sandbox: SandboxFactory,
) -> None:
    receiver = Receiver(fail_first=3, status_on_failure=503)
    client, receiver = await sandbox(receiver, notify_retry_schedule_s=(0.01, 0.01))
    created = await create(client)
    await complete(client, created["payment_id"])
    await receiver.wait_for(3)
    event = await wait_for_event_status(client, created["payment_id"], "abandoned")
    assert event["attempts"] == 3 and event["last_error"] == "HTTP 503"
    resp = await client.post(f"/events/{event['id']}/redeliver")
    assert resp.status == 202
    await receiver.wait_for(4)
    assert (await wait_for_event_status(client, created["payment_id"], "delivered"))["attempts"] == 4


async def test_fault_mode_duplicates_every_notification(sandbox: SandboxFactory) -> None:
    client, receiver = await sandbox(duplicate_probability=1.0, fault_seed=7)
    created = await create(client)
    await complete(client, created["payment_id"])
    await receiver.wait_for(2)
    first, second = receiver.events()
    assert first == second


async def test_fault_mode_reorders_notifications(sandbox: SandboxFactory) -> None:
    client, receiver = await sandbox(reorder_window_s=0.4, fault_seed=3)
    ids = [(await create(client, key=f"k{n}", order_id=f"ord_{n}"))["payment_id"] for n in range(10)]
    # Completed together, so that the random delays overlap however slowly the machine creates payments
    # (the sandbox's delays are real time; it takes no injected sleep).
    await asyncio.gather(*(complete(client, payment_id) for payment_id in ids))
    await receiver.wait_for(10)
    arrived = [e["data"]["payment_id"] for e in receiver.events()]
    assert sorted(arrived) == sorted(ids)
    assert arrived != ids


async def test_without_fault_mode_each_notification_arrives_once(sandbox: SandboxFactory) -> None:
    client, receiver = await sandbox()
    for n in range(5):
        created = await create(client, key=f"k{n}", order_id=f"ord_{n}")
        await complete(client, created["payment_id"])
    await receiver.wait_for(5)
    await wait_for_idle_notifier(client)
    assert len(receiver.events()) == 5


async def test_an_unpaid_payment_expires_and_is_notified(sandbox: SandboxFactory) -> None:
    clock = FakeClock(dt.datetime(2026, 5, 1, 2, 0, tzinfo=dt.UTC))
    client, receiver = await sandbox(clock=clock)
    created = await create(client, expires_in_s=60)
    clock.advance(61)
    await receiver.wait_for(1, "payment.expired")
    got = await (await client.get(f"/payments/{created['payment_id']}")).json()
    assert got["status"] == "expired" and got["failure_code"] == "expired"
    status, body = await complete(client, created["payment_id"])
    assert status == 409 and body["error"]["code"] == "payment_not_pending"


# --- refunds ------------------------------------------------------------------------------------------------


async def _paid(client: TestClient[web.Request, web.Application], amount_fen: int = 100_000) -> str:
    created = await create(client, amount_fen=amount_fen)
    await complete(client, created["payment_id"])
    return str(created["payment_id"])


async def refund(
    client: TestClient[web.Request, web.Application], payment_id: str, amount_fen: int, key: str
) -> tuple[int, dict[str, Any]]:
    resp = await client.post(
        f"/payments/{payment_id}/refunds",
        json={"amount_fen": amount_fen, "reason": "customer request"},
        headers={"Idempotency-Key": key},
    )
    return resp.status, await resp.json()


async def test_several_partial_refunds_each_get_their_own_notification(sandbox: SandboxFactory) -> None:
    client, receiver = await sandbox()
    payment_id = await _paid(client)
    s1, r1 = await refund(client, payment_id, 30_000, "r1")
    s2, r2 = await refund(client, payment_id, 70_000, "r2")
    assert (s1, s2) == (201, 201) and r1["status"] == r2["status"] == "pending"
    await receiver.wait_for(2, "refund.succeeded")
    refunds = receiver.events("refund.succeeded")
    assert {e["data"]["refund_id"] for e in refunds} == {r1["refund_id"], r2["refund_id"]}
    assert sorted(e["data"]["amount_fen"] for e in refunds) == [30_000, 70_000]
    got = await (await client.get(f"/payments/{payment_id}")).json()
    assert got["refunded_fen"] == 100_000 and got["status"] == "succeeded"


async def test_refunds_over_the_paid_amount_are_refused(sandbox: SandboxFactory) -> None:
    client, _ = await sandbox()
    payment_id = await _paid(client)
    assert (await refund(client, payment_id, 60_000, "a"))[0] == 201
    status, body = await refund(client, payment_id, 40_001, "b")
    assert status == 422 and body["error"]["code"] == "refund_exceeds_paid"
    assert "39999 fen left" in body["error"]["message"] or "40000 fen left" in body["error"]["message"]
    assert (await refund(client, payment_id, 40_000, "c"))[0] == 201


async def test_a_refund_replayed_with_its_key_is_made_once(sandbox: SandboxFactory) -> None:
    client, _ = await sandbox()
    payment_id = await _paid(client)
    s1, r1 = await refund(client, payment_id, 60_000, "same")
    s2, r2 = await refund(client, payment_id, 60_000, "same")
    assert s1 == s2 == 201 and r1["refund_id"] == r2["refund_id"]
    status, body = await refund(client, payment_id, 50_000, "same")
    assert status == 422 and body["error"]["code"] == "idempotency_key_reused"


async def test_an_unpaid_payment_cannot_be_refunded(sandbox: SandboxFactory) -> None:
    client, _ = await sandbox()
    created = await create(client)
    status, body = await refund(client, created["payment_id"], 1, "x")
    assert status == 409 and body["error"]["code"] == "payment_not_refundable"


async def test_a_refund_failed_by_the_test_control_frees_its_amount(sandbox: SandboxFactory) -> None:
    client, receiver = await sandbox(refund_processing_s=None)
    payment_id = await _paid(client)
    _, r = await refund(client, payment_id, 100_000, "a")
    resp = await client.post(f"/refunds/{r['refund_id']}/complete", json={"outcome": "failed"})
    assert resp.status == 200 and (await resp.json())["status"] == "failed"
    await receiver.wait_for(1, "refund.failed")
    assert (await refund(client, payment_id, 100_000, "b"))[0] == 201


# --- settlement ---------------------------------------------------------------------------------------------


async def test_the_settlement_file_lists_the_days_payments_and_refunds_with_fees(
    sandbox: SandboxFactory,
) -> None:
    clock = FakeClock(dt.datetime(2026, 3, 1, 15, 0, tzinfo=dt.UTC))  # 23:00 in Beijing
    client, _ = await sandbox(clock=clock, refund_processing_s=None)
    late = await create(
        client, key="a", order_id="ord_a", method="card", amount_fen=1_234_567, expires_in_s=7200
    )
    clock.advance(30 * 60)
    await complete(client, late["payment_id"])  # 23:30 Beijing, 1 March
    clock.advance(60 * 60)
    early = await create(client, key="b", order_id="ord_b", method="ecny_wallet", amount_fen=50_000)
    await complete(client, early["payment_id"])  # 00:30 Beijing, 2 March
    _, r = await refund(client, late["payment_id"], 234_567, "r")
    await client.post(f"/refunds/{r['refund_id']}/complete", json={"outcome": "succeeded"})

    day1 = await client.get("/settlements/2026-03-01.csv")
    assert day1.status == 200 and day1.headers["X-Settlement-Final"] == "true"
    rows1 = list(csv.DictReader(io.StringIO(await day1.text())))
    assert [(r["type"], r["order_id"], r["amount_fen"], r["fee_fen"], r["net_fen"]) for r in rows1] == [
        ("payment", "ord_a", "1234567", "7407", str(1_234_567 - 7407)),
    ]
    day2 = await client.get("/settlements/2026-03-02.csv")
    assert day2.headers["X-Settlement-Final"] == "false"
    rows2 = list(csv.DictReader(io.StringIO(await day2.text())))
    assert [(r["type"], r["payment_id"], r["amount_fen"], r["fee_fen"]) for r in rows2] == [
        ("payment", early["payment_id"], "50000", "0"),
        ("refund", late["payment_id"], "234567", "1407"),
    ]
    assert rows2[1]["refund_id"] == r["refund_id"] and rows2[1]["net_fen"] == str(-(234_567 - 1407))
    assert rows2[0]["settled_at"] == "2026-03-01T16:30:00Z"
    assert (await client.get("/settlements/2026-03-03.csv")).status == 404
    assert (await client.get("/settlements/2026-02-30.csv")).status == 422


async def test_a_day_without_activity_has_a_settlement_file_with_only_the_header(
    sandbox: SandboxFactory,
) -> None:
    client, _ = await sandbox()
    resp = await client.get("/settlements/2020-01-01.csv")
    assert resp.status == 200
    assert (await resp.text()).strip() == (
        "type,payment_id,refund_id,order_id,amount_fen,currency,fee_fen,settled_at,method,net_fen,settlement_date"
    )


# --- the pay page ---------------------------------------------------------------------------------------------


async def test_the_pay_page_shows_amount_merchant_and_method_in_chinese_and_english(
    sandbox: SandboxFactory,
) -> None:
    client, _ = await sandbox()
    created = await create(client, method="card", amount_fen=3_456_789)
    page = await client.get(f"/pay/{created['payment_id']}")
    text = await page.text()
    assert page.status == 200 and page.content_type == "text/html"
    assert "34,567.89" in text and "ord_test_1" in text
    assert "银行卡支付" in text and "Bank card" in text and "收银台" in text and "Checkout" in text
    assert "script-src 'nonce-" in page.headers["Content-Security-Policy"]


async def test_paying_by_test_card_tokenises_it_and_never_returns_the_number(sandbox: SandboxFactory) -> None:
    client, receiver = await sandbox()
    created = await create(client, method="card")
    pid = created["payment_id"]
    resp = await client.post(
        f"/pay/{pid}/card",
        data={"card_number": "4242 4242 4242 4242", "expiry": "12/39", "cvc": "123", "holder": "ZHANG SAN"},
        allow_redirects=False,
    )
    assert resp.status == 303 and resp.headers["Location"] == f"/pay/{pid}"
    got = await (await client.get(f"/payments/{pid}")).json()
    assert got["status"] == "succeeded"
    assert got["card"]["last4"] == "4242" and got["card"]["token"].startswith("tok_")
    await receiver.wait_for(1)
    everything = (
        json.dumps(got) + json.dumps(receiver.events()) + await (await client.get(f"/pay/{pid}")).text()
    )
    assert "4242424242424242" not in everything and "4242 4242 4242 4242" not in everything
    assert "支付成功" in await (await client.get(f"/pay/{pid}")).text()


@pytest.mark.parametrize(
    ("number", "failure"),
    [("4000 0000 0000 0002", "declined"), ("4000000000009995", "insufficient_funds")],
)
async def test_declining_test_cards_fail_the_payment(
    sandbox: SandboxFactory, number: str, failure: str
) -> None:
    client, _ = await sandbox()
    created = await create(client, method="card")
    await client.post(
        f"/pay/{created['payment_id']}/card",
        data={"card_number": number, "expiry": "01/40", "cvc": "999"},
        allow_redirects=False,
    )
    got = await (await client.get(f"/payments/{created['payment_id']}")).json()
    assert (got["status"], got["failure_code"]) == ("failed", failure)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"card_number": "4111 1111 1111 1111", "expiry": "12/39", "cvc": "123"}, "Only the sandbox"),
        ({"card_number": "4242 4242 4242 4241", "expiry": "12/39", "cvc": "123"}, "not valid"),
        ({"card_number": "4242424242424242", "expiry": "01/20", "cvc": "123"}, "expired"),
        ({"card_number": "4242424242424242", "expiry": "12/39", "cvc": "12"}, "CVC"),
    ],
)
async def test_bad_card_details_show_an_error_and_leave_the_payment_pending(
    sandbox: SandboxFactory, form: dict[str, str], message: str
) -> None:
    client, _ = await sandbox()
    created = await create(client, method="card")
    resp = await client.post(f"/pay/{created['payment_id']}/card", data=form, allow_redirects=False)
    assert resp.status == 422 and message in await resp.text()
    got = await (await client.get(f"/payments/{created['payment_id']}")).json()
    assert got["status"] == "pending"


async def test_test_amounts_decide_the_customers_approval_but_not_the_test_control(
    sandbox: SandboxFactory,
) -> None:
    client, _ = await sandbox()
    by_customer = await create(client, key="a", amount_fen=1_000_052)
    await client.post(f"/pay/{by_customer['payment_id']}/approve", data={}, allow_redirects=False)
    got = await (await client.get(f"/payments/{by_customer['payment_id']}")).json()
    assert (got["status"], got["failure_code"]) == ("failed", "insufficient_funds")
    by_control = await create(client, key="b", amount_fen=1_000_052)
    _, paid = await complete(client, by_control["payment_id"])
    assert paid["status"] == "succeeded"


async def test_the_customer_can_cancel_on_the_pay_page(sandbox: SandboxFactory) -> None:
    client, receiver = await sandbox()
    created = await create(client, method="qr")
    resp = await client.post(f"/pay/{created['payment_id']}/decline", data={}, allow_redirects=False)
    assert resp.status == 303
    await receiver.wait_for(1)
    assert receiver.events()[0]["type"] == "payment.failed"
    page = await (await client.get(f"/pay/{created['payment_id']}")).text()
    assert "支付失败" in page and "Return to merchant" in page


async def test_ecny_wallet_tiers_limit_single_and_daily_payments(sandbox: SandboxFactory) -> None:
    client, _ = await sandbox()

    async def pay(key: str, amount_fen: int, tier: int, wallet: str = "w1") -> str | None:
        created = await create(client, key=key, method="ecny_wallet", amount_fen=amount_fen)
        await client.post(
            f"/pay/{created['payment_id']}/approve",
            data={"wallet_tier": str(tier), "wallet_id": wallet},
            allow_redirects=False,
        )
        got = await (await client.get(f"/payments/{created['payment_id']}")).json()
        return got["failure_code"] if got["status"] == "failed" else None

    assert await pay("big-t4", 300_000, 4) == "limit_exceeded"  # tier 4: 2,000 CNY at once
    assert await pay("big-t2", 300_000, 2) is None
    assert await pay("d1", 190_000, 4, "w4") is None
    assert await pay("d2", 190_000, 4, "w4") is None
    assert await pay("d3", 190_000, 4, "w4") == "limit_exceeded"  # 5,700 > 5,000 CNY a day
    assert await pay("d4", 190_000, 4, "another") is None


async def test_a_wallet_payment_answers_the_payers_wallet_its_tier_and_limits(sandbox: SandboxFactory) -> None:
    client, _ = await sandbox()
    seeded = await create(client, key="w-seeded", method="ecny_wallet", amount_fen=300_000, payer_phone="13700000000")
    assert seeded["wallet"] == {"wallet_id": "0031000000000005", "tier": 3, "single_limit_fen": 500_000,
                                "daily_limit_fen": 1_000_000, "balance_limit_fen": 2_000_000}
    unlimited = await create(client, key="w-t1", method="ecny_wallet", amount_fen=300_000, payer_phone="13900000000")
    assert unlimited["wallet"]["tier"] == 1 and unlimited["wallet"]["single_limit_fen"] is None
    anonymous = await create(client, key="w-anon", method="ecny_wallet", amount_fen=300_000,
                             payer_phone="13312345678")
    assert anonymous["wallet"]["tier"] == 4 and anonymous["wallet"]["wallet_id"].startswith("anon-")
    assert "13312345678" not in anonymous["wallet"]["wallet_id"]
    not_wallet = await create(client, key="w-card", method="qr", amount_fen=300_000, payer_phone="13700000000")
    assert "wallet" not in not_wallet
    page = await (await client.get(f"/pay/{seeded['payment_id']}")).text()
    assert "0031000000000005" in page and 'name="wallet_tier"' not in page  # the tier is not the payer's choice
    # the page cannot be talked into another tier: the wallet fixed at creation decides (tier 3: 3,000 CNY ok)
    await client.post(f"/pay/{seeded['payment_id']}/approve", data={"wallet_tier": "1"}, allow_redirects=False)
    got = await (await client.get(f"/payments/{seeded['payment_id']}")).json()
    assert got["status"] == "succeeded" and got["wallet"] == {"tier": 3}
    big = await create(client, key="w-big", method="ecny_wallet", amount_fen=600_000, payer_phone="13700000000")
    await client.post(f"/pay/{big['payment_id']}/approve", data={"wallet_tier": "1"}, allow_redirects=False)
    got = await (await client.get(f"/payments/{big['payment_id']}")).json()
    assert got["status"] == "failed" and got["failure_code"] == "limit_exceeded"


@pytest.mark.parametrize("phone", ["1370000000", "23700000000", "1370000000x", 13700000000])
async def test_a_malformed_payer_phone_is_refused(sandbox: SandboxFactory, phone: object) -> None:
    client, _ = await sandbox()
    resp = await client.post("/payments", json=payment_body(method="ecny_wallet", payer_phone=phone),
                             headers={"Idempotency-Key": "bad-phone"})
    assert resp.status == 422 and (await resp.json())["error"]["code"] == "validation_failed"


async def test_healthz_answers_ok(sandbox: SandboxFactory) -> None:
    client, _ = await sandbox()
    body = await (await client.get("/healthz")).json()
    assert body["status"] == "ok" and body["service"] == "payment-sandbox"


async def test_a_redirect_from_the_notify_url_is_not_a_delivery(sandbox: SandboxFactory) -> None:
    client, receiver = await sandbox(Receiver(fail_first=1, status_on_failure=302), notify_retry_schedule_s=(0.05,))
    created = await create(client)
    await complete(client, created["payment_id"])
    await receiver.wait_for(2)
    assert [e["id"] for e in receiver.events()] == [receiver.events()[0]["id"]] * 2
