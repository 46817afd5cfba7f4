"""Attack replays against the staff routes over real HTTP: no session, the wrong role, a forged or missing CSRF
token, a session used after sign-out, a disabled account's live session, a made-up cookie. Each is refused with
the documented status and code, and no money moves."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from showroom.staff import Role
from tests.staff_http import StaffStack, staff_stack_on

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def stack(tmp_path: Path) -> AsyncIterator[StaffStack]:
    async with staff_stack_on("sqlite", tmp_path) as s:
        yield s


async def _no_refund_was_made(stack: StaffStack, order_id: str) -> None:
    mark = await stack.staff(f"m{secrets.token_hex(3)}", Role.MANAGER)
    status, story, _ = await stack.request("GET", f"/api/staff/orders/{order_id}", who=mark)
    assert status == 200 and story["refunds"] == [] and story["refund_requests"] == []


async def test_refund_fulfil_and_reconcile_without_a_session_are_401(stack: StaffStack) -> None:
    order_id = await stack.paid_order()
    for method, path, body in (("POST", f"/api/orders/{order_id}/refunds", {"amount_cny": "1.00"}),
                               ("POST", f"/api/orders/{order_id}/fulfilment", {"status": "fulfilling"}),
                               ("GET", "/api/reconciliation/2026-11-30", None),
                               ("GET", "/api/staff/orders", None),
                               ("GET", "/api/staff/audit", None),
                               ("POST", "/api/staff/accounts", {"name": "eve", "role": "admin",
                                                                "password": "a long enough password"})):
        status, reply, headers = await stack.request(method, path, body=body, key="k1")
        assert status == 401 and reply["error"]["code"] == "unauthenticated", (path, reply)
        assert headers["X-Request-Id"]
    await _no_refund_was_made(stack, order_id)


async def test_a_teller_may_not_read_reconciliation_or_manage_staff(stack: StaffStack) -> None:
    tina = await stack.staff("tina", Role.TELLER)
    for method, path, body in (("GET", "/api/reconciliation/2026-11-30", None),
                               ("GET", "/api/staff/accounts", None),
                               ("PATCH", "/api/staff/accounts/tina", {"role": "admin"})):
        status, reply, _ = await stack.request(method, path, who=tina, body=body)
        assert status == 403 and reply["error"]["code"] == "forbidden", (path, reply)


async def test_a_forged_or_missing_csrf_token_is_refused(stack: StaffStack) -> None:
    tina = await stack.staff("tina", Role.TELLER)
    tom = await stack.staff("tom", Role.TELLER)
    order_id = await stack.paid_order()
    for csrf in (None, "", "forged", tom.csrf, tina.cookie):
        status, reply, _ = await stack.request("POST", f"/api/orders/{order_id}/refunds", who=tina, csrf=csrf,
                                               body={"amount_cny": "1.00"}, key=f"k-{csrf}")
        assert status == 403 and reply["error"]["code"] == "csrf", (csrf, reply)
    status, reply, _ = await stack.request("DELETE", "/api/staff/session", who=tina, csrf=None)
    assert status == 403 and reply["error"]["code"] == "csrf"
    await _no_refund_was_made(stack, order_id)


async def test_a_session_cookie_after_sign_out_is_401(stack: StaffStack) -> None:
    tina = await stack.staff("tina", Role.TELLER)
    status, _, headers = await stack.request("DELETE", "/api/staff/session", who=tina)
    assert status == 204 and "showroom_staff=" in headers.get("Set-Cookie", "")
    for method, path in (("GET", "/api/staff/session"), ("GET", "/api/staff/orders")):
        status, reply, _ = await stack.request(method, path, who=tina)
        assert status == 401 and reply["error"]["code"] == "unauthenticated"


async def test_a_disabled_accounts_live_session_is_401(stack: StaffStack) -> None:
    root = await stack.staff("root", Role.ADMIN)
    tina = await stack.staff("tina", Role.TELLER)
    status, _, _ = await stack.request("GET", "/api/staff/orders", who=tina)
    assert status == 200
    status, body, _ = await stack.request("PATCH", "/api/staff/accounts/tina", who=root, body={"disabled": True})
    assert status == 200 and body["disabled"] is True
    status, reply, _ = await stack.request("GET", "/api/staff/orders", who=tina)
    assert status == 401 and reply["error"]["code"] == "unauthenticated"


async def test_a_made_up_session_cookie_is_401(stack: StaffStack) -> None:
    made_up = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    for cookie in (made_up, "x" * 43, "", "a" * 5000, "../../etc/passwd"):
        status, reply, _ = await stack.request("GET", "/api/staff/session", cookie=cookie)
        assert status == 401 and reply["error"]["code"] == "unauthenticated", cookie


async def test_a_demoted_staff_member_loses_the_old_roles_rights_at_once(stack: StaffStack) -> None:
    root = await stack.staff("root", Role.ADMIN)
    mark = await stack.staff("mark", Role.MANAGER)
    status, _, _ = await stack.request("PATCH", "/api/staff/accounts/mark", who=root, body={"role": "teller"})
    assert status == 200
    status, reply, _ = await stack.request("GET", "/api/reconciliation/2026-11-30", who=mark)
    assert status == 401 and reply["error"]["code"] == "unauthenticated"  # a role change ends the sessions


async def test_a_reconciliation_day_out_of_range_is_a_422_not_a_500(stack: StaffStack) -> None:
    ada = await stack.staff("ada", Role.AUDITOR)
    for day in ("0001-01-01", "9999-12-31", "2026-13-01", "20261130", "2026-11-30x"):
        status, reply, _ = await stack.request("GET", f"/api/reconciliation/{day}", who=ada)
        assert status == 422 and reply["error"]["code"] == "invalid_input", (day, reply)
        assert reply["error"]["message"].startswith("day: ")
