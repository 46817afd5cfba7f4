"""The advisor's commerce routes over real HTTP (SQLite and PostgreSQL): an advisor gets a console ticket the
edge's `verify_ticket` accepts with the served key, a teller gets 403 and the CSRF token is required; a customer
leaves a call-back (Idempotency-Key, bad input 422 naming the field) that an advisor lists and marks done; a call
record carries the advisor of the session whatever the body says; each step is in the audit log."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from showroom.advisory import TICKET_TTL_S, Advisor, verify_ticket
from showroom.api.keys import RUNTIME
from showroom.staff import Role
from tests.integration.commerce_db import DB_KINDS
from tests.staff_http import StaffStack, staff_stack_on

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture(params=DB_KINDS)
async def stack(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StaffStack]:
    async with staff_stack_on(request.param, tmp_path) as s:
        yield s


def _at(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def callback_body(**kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"topic": "precious_metals", "lang": "zh", "channel": "kiosk", "place": "kiosk-07",
                            "phone": "138 0000 0000", "preferred_at": _at(hours=3), "name": "王芳"}
    body.update(kw)
    return body


async def test_an_advisor_gets_a_ticket_the_edge_accepts_and_others_do_not(stack: StaffStack) -> None:
    amy = await stack.staff("amy", Role.ADVISOR)
    status, got, headers = await stack.request("POST", "/api/staff/advisor/ticket", who=amy, body={})
    assert status == 200, got
    assert headers["Cache-Control"] == "no-store"
    key = stack.app[RUNTIME].commerce.settings.advisor_ticket_key
    assert verify_ticket(key, got["ticket"], time.time()) == Advisor("amy", "Amy")
    expires = datetime.fromisoformat(got["expires_at"].replace("Z", "+00:00"))
    assert 0 < (expires - datetime.now(UTC)).total_seconds() <= TICKET_TTL_S + 1

    status, body, _ = await stack.request("POST", "/api/staff/advisor/ticket", who=amy, body={}, csrf=None)
    assert status == 403 and body["error"]["code"] == "csrf"
    teller = await stack.staff("tina", Role.TELLER)
    status, body, _ = await stack.request("POST", "/api/staff/advisor/ticket", who=teller, body={})
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body, _ = await stack.request("POST", "/api/staff/advisor/ticket", body={})
    assert status == 401


async def test_a_callback_is_left_listed_and_done(stack: StaffStack) -> None:
    first = callback_body()
    status, created, _ = await stack.request("POST", "/api/advisor/callbacks", body=first, key="cb-1")
    assert status == 201, created
    assert created["status"] == "open" and created["topic"] == "precious_metals" and created["id"].startswith("cb_")
    assert set(created) == {"id", "topic", "preferred_at", "status"}
    again, replay, _ = await stack.request("POST", "/api/advisor/callbacks", body=first, key="cb-1")
    assert (again, replay) == (201, created)
    status, body, _ = await stack.request("POST", "/api/advisor/callbacks", body={**first, "name": "李"}, key="cb-1")
    assert status == 422 and body["error"]["code"] == "idempotency_key_reused"
    status, body, _ = await stack.request("POST", "/api/advisor/callbacks", body=callback_body())
    assert status == 400 and body["error"]["code"] == "idempotency_key_missing"

    amy = await stack.staff("amy", Role.ADVISOR)
    status, listed, _ = await stack.request("GET", "/api/staff/advisor/callbacks", who=amy)
    assert status == 200, listed
    [cb] = listed["callbacks"]
    assert cb["id"] == created["id"] and cb["phone"] == "13800000000" and cb["name"] == "王芳"
    assert (cb["lang"], cb["channel"], cb["place"], cb["status"], cb["done_by"]) == ("zh", "kiosk", "kiosk-07",
                                                                                    "open", None)
    teller = await stack.staff("tina", Role.TELLER)
    status, _, _ = await stack.request("GET", "/api/staff/advisor/callbacks", who=teller)
    assert status == 403

    path = f"/api/staff/advisor/callbacks/{created['id']}/done"
    status, body, _ = await stack.request("POST", path, who=amy, body={}, csrf=None)
    assert status == 403 and body["error"]["code"] == "csrf"
    status, done, _ = await stack.request("POST", path, who=amy, body={})
    assert status == 200 and done["status"] == "done" and done["done_by"] == "amy", done
    status, body, _ = await stack.request("POST", path, who=amy, body={})
    assert status == 409 and body["error"]["code"] == "callback_done"
    status, body, _ = await stack.request("POST", "/api/staff/advisor/callbacks/cb_nope/done", who=amy, body={})
    assert status == 404
    status, listed, _ = await stack.request("GET", "/api/staff/advisor/callbacks?status=open", who=amy)
    assert listed["callbacks"] == []
    status, listed, _ = await stack.request("GET", "/api/staff/advisor/callbacks?status=done", who=amy)
    assert [c["id"] for c in listed["callbacks"]] == [created["id"]]

    manager = await stack.staff("mia", Role.MANAGER)
    status, audit, _ = await stack.request("GET", f"/api/staff/audit?subject=callback:{created['id']}", who=manager)
    assert status == 200, audit
    assert sorted((e["action"], e["actor"]) for e in audit["entries"]) == [("callback_done", "amy"),
                                                                           ("callback_requested", "customer")]


@pytest.mark.parametrize(("change", "field"), [
    ({"phone": "12345"}, "phone"),
    ({"phone": "12800000000"}, "phone"),
    ({"preferred_at": _at(hours=-2)}, "preferred_at"),
    ({"preferred_at": _at(days=15)}, "preferred_at"),
    ({"preferred_at": "tomorrow"}, "preferred_at"),
    ({"topic": "lottery"}, "topic"),
    ({"lang": "fr"}, "lang"),
    ({"channel": "fax"}, "channel"),
    ({"place": "kiosk 7; drop"}, "place"),
    ({"name": "x" * 41}, "name"),
    ({"extra": 1}, "extra"),
])
async def test_bad_callbacks_are_422_naming_the_field(stack: StaffStack, change: dict[str, Any], field: str) -> None:
    status, body, _ = await stack.request("POST", "/api/advisor/callbacks", body=callback_body(**change),
                                          key=f"bad-{field}")
    assert status == 422, body
    assert body["error"]["code"] == "invalid_input" and body["error"]["message"].startswith(field), body


def call_body(**kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"call_id": "call_00112233aabbccdd", "topic": "car_finance", "lang": "en",
                            "channel": "vr", "place": "hall:finance", "started_at": _at(minutes=-9),
                            "ended_at": _at(minutes=-1), "notes": "asked about a 36-month plan",
                            "outcome": "answered"}
    body.update(kw)
    return body


async def test_a_call_record_names_the_advisor_of_the_session(stack: StaffStack) -> None:
    amy = await stack.staff("amy", Role.ADVISOR)
    status, body, _ = await stack.request("POST", "/api/staff/advisor/calls", who=amy, body=call_body(), csrf=None,
                                          key="r-0")
    assert status == 403 and body["error"]["code"] == "csrf"
    status, body, _ = await stack.request("POST", "/api/staff/advisor/calls", who=amy,
                                          body=call_body(advisor="boss"), key="r-1")
    assert status == 422 and body["error"]["message"].startswith("advisor"), body
    recorded = call_body()
    status, rec, _ = await stack.request("POST", "/api/staff/advisor/calls", who=amy, body=recorded, key="r-2")
    assert status == 201, rec
    assert rec["advisor"] == "amy" and rec["advisor_display_name"] == "Amy" and rec["outcome"] == "answered"
    assert rec["call_id"] == "call_00112233aabbccdd" and 470 <= rec["talk_s"] <= 490
    status, replay, _ = await stack.request("POST", "/api/staff/advisor/calls", who=amy, body=recorded, key="r-2")
    assert (status, replay) == (201, rec)
    status, body, _ = await stack.request("POST", "/api/staff/advisor/calls", who=amy, body=call_body(), key="r-3")
    assert status == 409 and body["error"]["code"] == "call_recorded"
    status, body, _ = await stack.request("POST", "/api/staff/advisor/calls", who=amy,
                                          body=call_body(call_id="call_x", order_id="ord_missing"), key="r-4")
    assert status == 404

    for change, field in (({"notes": "x" * 2001}, "notes"), ({"outcome": "sold_a_car"}, "outcome"),
                          ({"ended_at": _at(minutes=-20)}, "ended_at"), ({"lang": "de"}, "lang"),
                          ({"topic": "crypto"}, "topic"), ({"channel": "web"}, "channel")):
        status, body, _ = await stack.request("POST", "/api/staff/advisor/calls", who=amy,
                                              body=call_body(call_id=f"call_{field}", **change), key=f"bad-{field}")
        assert status == 422 and body["error"]["message"].startswith(field), (field, body)

    teller = await stack.staff("tina", Role.TELLER)
    status, _, _ = await stack.request("POST", "/api/staff/advisor/calls", who=teller, body=call_body(), key="t-1")
    assert status == 403
    status, _, _ = await stack.request("GET", "/api/staff/advisor/calls", who=teller)
    assert status == 403
    auditor = await stack.staff("ada", Role.AUDITOR)
    for who in (amy, auditor):
        status, listed, _ = await stack.request("GET", "/api/staff/advisor/calls?limit=5", who=who)
        assert status == 200 and [c["id"] for c in listed["calls"]] == [rec["id"]], listed
    status, audit, _ = await stack.request("GET", "/api/staff/audit?subject=call:call_00112233aabbccdd", who=auditor)
    [entry] = audit["entries"]
    assert (entry["action"], entry["actor"], entry["role"]) == ("advisor_call", "amy", "advisor")
    assert entry["after"]["outcome"] == "answered" and "notes" not in entry["after"]
