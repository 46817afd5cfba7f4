"""The staff API over real HTTP with the payment sandbox: sign-in with a TOTP code, lock-out, CSRF, roles, and
four-eyes refunds end to end (a teller asks above the limit, cannot approve it herself, a manager approves, the
money goes back, the audit trail names both and verifies)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from showroom.staff import Role
from tests.integration.commerce_db import DB_KINDS
from tests.staff_http import StaffStack, staff_stack_on

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def stack(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StaffStack]:
    async with staff_stack_on(getattr(request, "param", "sqlite"), tmp_path) as s:
        yield s


async def test_sign_in_with_a_totp_code_gives_a_session_cookie_and_a_csrf_token(stack: StaffStack) -> None:
    secret = await stack.account("tina", Role.TELLER)
    status, session, cookie = await stack.sign_in("tina", secret)
    assert status == 200 and cookie is not None
    assert session["name"] == "tina" and session["role"] == "teller" and session["display_name"] == "Tina"
    assert session["csrf_token"] and session["expires_at"].endswith("Z")
    async with stack.http.post(stack.base + "/api/staff/session",
                               json={"name": "tina", "password": "wrong password!", "otp": "123456"}) as r:
        assert r.status == 401 and (await r.json())["error"]["code"] == "sign_in_refused"
    async with stack.http.post(stack.base + "/api/staff/session", json={"name": "tina"}) as r:
        body = await r.json()
        assert r.status == 422 and body["error"]["code"] == "invalid_input" and "password" in body["error"]["message"]
    async with stack.http.post(stack.base + "/api/staff/session", data=b'{"name": "tina"}',
                               headers={"Content-Type": "text/plain"}) as r:
        assert r.status == 422  # a form post from another site cannot sign anyone in
    from tests.staff_http import Staff

    tina = Staff("tina", Role.TELLER, cookie, session["csrf_token"], secret)
    status, again, headers = await stack.request("GET", "/api/staff/session", who=tina,
                                                 headers={"X-Request-Id": "console-42"})
    assert status == 200 and again["csrf_token"] == session["csrf_token"]
    assert headers["X-Request-Id"] == "console-42"
    async with stack.http.post(stack.base + "/api/staff/session",
                               json={"name": "tina", "password": "correct horse battery", "otp": "000000"}) as r:
        set_cookie = r.headers.get("Set-Cookie")
        assert r.status == 401 and set_cookie is None


async def test_the_session_cookie_is_httponly_and_samesite_strict(stack: StaffStack) -> None:
    secret = await stack.account("tina", Role.TELLER)
    from datetime import UTC, datetime

    from showroom.identity import totp_code

    body = {"name": "tina", "password": "correct horse battery", "otp": totp_code(secret, datetime.now(UTC))}
    async with stack.http.post(stack.base + "/api/staff/session", json=body) as r:
        header = r.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Path=/" in header
    assert "Secure" not in header  # the node's public URL is http here


async def test_five_wrong_passwords_lock_the_account(stack: StaffStack) -> None:
    secret = await stack.account("tina", Role.TELLER)
    for _ in range(5):
        status, body, _ = await stack.sign_in("tina", secret, password="wrong password!")
        assert status == 401 and body["error"]["code"] == "sign_in_refused"
    status, body, cookie = await stack.sign_in("tina", secret)
    assert status == 423 and body["error"]["code"] == "account_locked" and cookie is None


async def test_roles_and_csrf_are_checked_on_every_staff_route(stack: StaffStack) -> None:
    tina = await stack.staff("tina", Role.TELLER)
    ada = await stack.staff("ada", Role.AUDITOR)
    order_id = await stack.paid_order()
    status, body, _ = await stack.request("GET", "/api/staff/audit", who=tina)
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body, _ = await stack.request("POST", f"/api/orders/{order_id}/refunds", who=ada, body={}, key="r1")
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body, _ = await stack.request("POST", f"/api/orders/{order_id}/fulfilment", who=tina, csrf=None,
                                          body={"status": "fulfilling"})
    assert status == 403 and body["error"]["code"] == "csrf"
    status, body, _ = await stack.request("POST", f"/api/orders/{order_id}/fulfilment", who=tina,
                                          body={"status": "paid"})
    assert status == 422 and body["error"]["code"] == "invalid_input" and "status" in body["error"]["message"]
    status, body, _ = await stack.request("POST", f"/api/orders/{order_id}/refunds", who=tina,
                                          body={"amount_cny": "1.001"}, key="r2")
    assert status == 422 and body["error"]["message"].startswith("amount_cny")
    status, listing, _ = await stack.request("GET", "/api/staff/orders?status=paid&limit=10", who=tina)
    assert status == 200 and listing["total"] == 1
    line = listing["orders"][0]
    assert line["customer_phone_masked"] == "139****0000" and "review" not in line
    status, listing, _ = await stack.request("GET", "/api/staff/orders?q=13900000000&day=2026-13-01", who=ada)
    assert status == 422 and listing["error"]["message"].startswith("day")
    status, listing, _ = await stack.request("GET", "/api/staff/orders?q=13900000000", who=ada)
    assert status == 200 and listing["orders"][0]["review"] == {"aml_review": False}
    status, stock, _ = await stack.request("GET", "/api/staff/stock", who=tina)
    shelf = next(s for s in stock["stock"] if s["product"] == "bar-50g" and s["variant"] == "au9999-10g")
    assert status == 200 and shelf["on_hand"] == 2 and shelf["reserved"] == 0


async def test_a_large_refund_waits_for_a_manager_who_did_not_ask_for_it(stack: StaffStack) -> None:
    tina = await stack.staff("tina", Role.TELLER)
    mark = await stack.staff("mark", Role.MANAGER)
    ada = await stack.staff("ada", Role.AUDITOR)
    order_id = await stack.paid_order()  # 9,419.10 CNY
    status, pending, headers = await stack.request("POST", f"/api/orders/{order_id}/refunds", who=tina,
                                                   body={"amount_cny": "6000.00", "reason": "dent"}, key="r1",
                                                   headers={"X-Request-Id": "req-teller-1"})
    assert status == 202 and pending["state"] == "pending_approval", pending
    assert pending["requested_by"] == "tina" and pending["amount_cny"] == "6000.00"
    assert headers["X-Request-Id"] == "req-teller-1"
    status, replay, _ = await stack.request("POST", f"/api/orders/{order_id}/refunds", who=tina,
                                            body={"amount_cny": "6000.00", "reason": "dent"}, key="r1")
    assert (status, replay["id"]) == (202, pending["id"])
    status, waiting, _ = await stack.request("GET", "/api/staff/refund-requests?state=pending_approval", who=mark)
    assert status == 200 and [r["id"] for r in waiting["refund_requests"]] == [pending["id"]]
    path = f"/api/staff/refund-requests/{pending['id']}/approve"
    status, body, _ = await stack.request("POST", path, who=tina)
    assert status == 403 and body["error"]["code"] == "four_eyes"
    status, approved, _ = await stack.request("POST", path, who=mark, headers={"X-Request-Id": "req-manager-1"})
    assert status == 200 and approved["state"] == "approved" and approved["decided_by"] == "mark", approved
    assert approved["refund"]["amount_cny"] == "6000.00"
    await stack.wait_status(order_id, "partially_refunded")
    status, again, _ = await stack.request("POST", path, who=mark)
    assert status == 409 and again["error"]["code"] == "refund_request_decided"

    status, story, _ = await stack.request("GET", f"/api/staff/orders/{order_id}", who=mark)
    assert status == 200 and story["order"]["status"] == "partially_refunded"
    assert story["quote"]["id"] and story["price_snapshot"] and story["compliance"]["aml_review"] is False
    assert [r["state"] for r in story["refund_requests"]] == ["approved"]
    trail = {(e["action"], e["actor"], e["role"], e["request_id"]) for e in story["audit"]}
    assert ("refund_approval_requested", "tina", "teller", "req-teller-1") in trail
    assert ("refund_approved", "mark", "manager", "req-manager-1") in trail
    status, tinas, _ = await stack.request("GET", f"/api/staff/orders/{order_id}", who=tina)
    assert "compliance" not in tinas and all("compliance" not in (e["after"] or {}) for e in tinas["audit"])

    status, log, _ = await stack.request("GET", f"/api/staff/audit?subject=order:{order_id}", who=ada)
    assert status == 200 and log["total"] == len(log["entries"]) >= 4
    status, verdict, _ = await stack.request("GET", "/api/staff/audit/verify", who=ada)
    assert status == 200 and verdict["ok"] is True and verdict["entries"] > 4, verdict
    out = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "render_node", "audit", "verify",
                                                   "--database-url", stack.database_url,
                                                   "--data-dir", str(stack.data_dir)],
                                  capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0 and f"audit ok: {verdict['entries']} entries" in out.stdout, out.stdout + out.stderr


async def test_a_small_refund_goes_at_once_and_a_manager_can_reject_a_large_one(stack: StaffStack) -> None:
    tina = await stack.staff("tina", Role.TELLER)
    mark = await stack.staff("mark", Role.MANAGER)
    order_id = await stack.paid_order()
    status, refund, _ = await stack.request("POST", f"/api/orders/{order_id}/refunds", who=tina,
                                            body={"amount_cny": "100.00", "reason": "scratch"}, key="r1")
    assert status == 201 and refund["refund_id"] and refund["amount_cny"] == "100.00", refund
    status, pending, _ = await stack.request("POST", f"/api/orders/{order_id}/refunds", who=tina,
                                             body={"reason": "changed mind"}, key="r2")
    assert status == 202 and pending["amount_cny"] == "9319.10"
    path = f"/api/staff/refund-requests/{pending['id']}/reject"
    status, body, _ = await stack.request("POST", path, who=tina, body={"reason": "x"})
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body, _ = await stack.request("POST", path, who=mark, body={})
    assert status == 422 and body["error"]["message"].startswith("reason")
    status, rejected, _ = await stack.request("POST", path, who=mark, body={"reason": "goods not returned"})
    assert status == 200 and rejected["state"] == "rejected" and rejected["decided_by"] == "mark"


async def test_fulfilment_by_staff_and_never_again_after_completion(stack: StaffStack) -> None:
    tina = await stack.staff("tina", Role.TELLER)
    order_id = await stack.paid_order()
    for step in ("fulfilling", "completed"):
        status, story, _ = await stack.request("POST", f"/api/orders/{order_id}/fulfilment", who=tina,
                                               body={"status": step})
        assert status == 200 and story["order"]["status"] == step, story
    status, body, _ = await stack.request("POST", f"/api/orders/{order_id}/fulfilment", who=tina,
                                          body={"status": "fulfilling"})
    assert status == 409 and body["error"]["code"] == "illegal_transition"
    status, pending, _ = await stack.request("POST", f"/api/orders/{order_id}/refunds", who=tina,
                                             body={"amount_cny": "10.00", "reason": "returned"}, key="r1")
    assert status == 202 and pending["state"] == "pending_approval"  # after hand-over: always a second person


async def test_an_admin_manages_accounts_but_not_their_own(stack: StaffStack) -> None:
    root = await stack.staff("root", Role.ADMIN)
    status, created, _ = await stack.request("POST", "/api/staff/accounts", who=root,
                                             body={"name": "tom", "role": "teller", "display_name": "Tom",
                                                   "password": "a long enough password"})
    assert status == 201 and created["totp_uri"].startswith("otpauth://totp/") and created["totp_secret"]
    status, body, _ = await stack.request("POST", "/api/staff/accounts", who=root,
                                          body={"name": "tim", "role": "boss", "password": "a long enough password"})
    assert status == 422 and body["error"]["message"].startswith("role")
    status, body, _ = await stack.request("POST", "/api/staff/accounts", who=root,
                                          body={"name": "tim", "role": "teller", "password": "short"})
    assert status == 422 and body["error"]["code"] == "weak_password"
    status, listing, _ = await stack.request("GET", "/api/staff/accounts", who=root)
    assert [a["name"] for a in listing["accounts"]] == ["root", "tom"]
    assert all("totp_secret" not in a and "password_hash" not in a for a in listing["accounts"])
    status, body, _ = await stack.request("PATCH", "/api/staff/accounts/root", who=root, body={"disabled": True})
    assert status == 409 and body["error"]["code"] == "self_lockout"
    status, body, _ = await stack.request("PATCH", "/api/staff/accounts/tom", who=root, body={"role": "manager"})
    assert status == 200 and body["role"] == "manager"
    status, body, _ = await stack.request("POST", "/api/staff/accounts/tom/password", who=root,
                                          body={"password": "another long secret"})
    assert status == 200
    status, body, _ = await stack.request("PATCH", "/api/staff/accounts/nobody", who=root, body={"disabled": True})
    assert status == 404 and body["error"]["code"] == "unknown_staff"
    status, log, _ = await stack.request("GET", "/api/staff/audit?subject=staff:tom", who=root)
    assert [e["action"] for e in log["entries"]] == ["staff_password_changed", "staff_changed", "staff_created"]
    assert log["entries"][1]["actor"] == "root" and log["entries"][1]["before"]["role"] == "teller"


@pytest.mark.parametrize("stack", DB_KINDS, indirect=True)
async def test_staff_routes_on_both_databases(stack: StaffStack) -> None:
    mark = await stack.staff("mark", Role.MANAGER)
    order_id = await stack.paid_order()
    status, listing, _ = await stack.request("GET", "/api/staff/orders", who=mark)
    assert status == 200 and listing["orders"][0]["id"] == order_id
    status, verdict, _ = await stack.request("GET", "/api/staff/audit/verify", who=mark)
    assert status == 200 and verdict["ok"], verdict


async def test_refunds_partial_then_full_through_the_sandbox(stack: StaffStack) -> None:
    mark = await stack.staff("mark", Role.MANAGER)
    mona = await stack.staff("mona", Role.MANAGER)
    order_id = await stack.paid_order()
    status, refund, _ = await stack.request("POST", f"/api/orders/{order_id}/refunds", who=mark,
                                            body={"amount_cny": "100.00", "reason": "dent"}, key="r1")
    assert status == 201 and refund["refund_id"], refund
    await stack.wait_status(order_id, "partially_refunded")
    status, too_much, _ = await stack.request("POST", f"/api/orders/{order_id}/refunds", who=mark,
                                              body={"amount_cny": "99999.00"}, key="r2")
    assert status == 409 and too_much["error"]["code"] == "refund_not_allowed"
    status, rest, _ = await stack.request("POST", f"/api/orders/{order_id}/refunds", who=mark, body={}, key="r3")
    assert status == 202 and rest["amount_cny"] == "9319.10"  # a manager's own large refund: a second manager
    status, approved, _ = await stack.request("POST", f"/api/staff/refund-requests/{rest['id']}/approve", who=mona)
    assert status == 200 and approved["refund"]["amount_cny"] == "9319.10"
    await stack.wait_status(order_id, "refunded")
    status, story, _ = await stack.request("GET", f"/api/staff/orders/{order_id}", who=mona)
    assert story["order"]["refunded_cny"] == story["order"]["paid_cny"] == "9419.10"


async def test_fulfilment_before_payment_is_an_illegal_transition(stack: StaffStack) -> None:
    tina = await stack.staff("tina", Role.TELLER)
    status, quote = await stack._post("/api/quotes", {"product": "bar-50g", "variant": "au9999-10g"})
    status, order = await stack._post("/api/orders", {"quote_id": quote["id"],
                                                      "customer": {"name": "李雷", "phone": "13900000000"}}, "o9")
    assert status == 201, order
    status, early, _ = await stack.request("POST", f"/api/orders/{order['id']}/fulfilment", who=tina,
                                           body={"status": "fulfilling"})
    assert status == 409 and early["error"]["code"] == "illegal_transition"


async def test_every_staff_route_has_its_openapi_operation_from_the_models() -> None:
    from aiohttp import web

    from showroom.api.staff_models import staff_operations
    from showroom.api.staff_routes import add_staff_routes

    app = web.Application()
    add_staff_routes(app)
    routes = {(r.method, r.resource.canonical) for r in app.router.routes() if r.method != "HEAD"}
    ops = staff_operations()
    assert routes == set(ops)
    assert ops[("POST", "/api/orders/{order_id}/refunds")]["requestBody"]["content"]["application/json"]["schema"][
        "properties"]["amount_cny"]
