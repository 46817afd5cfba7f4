"""The bank's loan rate table over the staff API: only a role holding MANAGE_SETTINGS reads or adds rows (with
the CSRF header), the body is bounded, the change is audited with the staff member, and customers' plans use it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from showroom.staff import Role
from tests.staff_http import StaffStack, staff_stack

pytestmark = pytest.mark.asyncio

ROW = {"applies_to": "car-ev", "term_months": 36, "annual_rate": "0.0275", "valid_from": "2020-01-01"}


@pytest_asyncio.fixture
async def stack(tmp_path: Path) -> AsyncIterator[StaffStack]:
    async with staff_stack(f"sqlite+aiosqlite:///{tmp_path / 'commerce.db'}", tmp_path) as s:
        yield s


async def test_an_admin_sets_a_rate_and_customers_plans_use_it(stack: StaffStack) -> None:
    admin = await stack.staff("ada", Role.ADMIN)
    status, row, _ = await stack.request("PUT", "/api/staff/loan-rates", who=admin, body=ROW)
    assert status == 201 and row["set_by"] == "ada" and row["source"] == "rate-table:car-ev:36m:2020-01-01"
    status, table, _ = await stack.request("GET", "/api/staff/loan-rates?applies_to=car-ev", who=admin)
    assert status == 200 and [r["annual_rate"] for r in table["rates"]] == ["0.0275"]
    async with stack.http.post(f"{stack.base}/api/finance/plans", json={"product": "car-ev", "term_months": 36,
                                                                        "down_payment_ratio": "0.2"}) as r:
        plan = await r.json()
    assert r.status == 200 and plan["annual_rate"] == "0.0275" and plan["rate_source"] == row["source"]
    status, audit, _ = await stack.request("GET", "/api/staff/audit?subject=loan_rate:car-ev:36m", who=admin)
    assert status == 200 and "loan_rate_added" in str(audit) and "ada" in str(audit), audit


async def test_other_roles_no_session_and_no_csrf_cannot_touch_the_table(stack: StaffStack) -> None:
    teller = await stack.staff("tom", Role.TELLER)
    manager = await stack.staff("meg", Role.MANAGER)
    admin = await stack.staff("ada", Role.ADMIN)
    for who in (teller, manager):
        status, body, _ = await stack.request("PUT", "/api/staff/loan-rates", who=who, body=ROW)
        assert (status, body["error"]["code"]) == (403, "forbidden")
        status, body, _ = await stack.request("GET", "/api/staff/loan-rates", who=who)
        assert status == 403
    status, body, _ = await stack.request("PUT", "/api/staff/loan-rates", body=ROW)
    assert status == 401
    status, body, _ = await stack.request("PUT", "/api/staff/loan-rates", who=admin, body=ROW, csrf=None)
    assert (status, body["error"]["code"]) == (403, "csrf")


@pytest.mark.parametrize(("change", "field"), [
    ({"annual_rate": "0.30"}, "annual_rate"), ({"annual_rate": "1e30"}, "annual_rate"),
    ({"annual_rate": "NaN"}, "annual_rate"), ({"annual_rate": "-0.01"}, "annual_rate"),
    ({"term_months": 600}, "term_months"), ({"valid_from": "0001-01-01"}, "valid_from"),
    ({"valid_to": "9999-12-31"}, "valid_to"), ({"upfront_fee_cny": "1e30"}, "upfront_fee_cny"),
    ({"applies_to": "yacht"}, "applies_to"), ({"valid_to": "2019-12-31"}, "valid_to"),
    ({"extra": 1}, "extra"),
])
async def test_a_bad_rate_row_is_422_naming_the_field(stack: StaffStack, change: dict[str, object], field: str) -> None:
    admin = await stack.staff("ada", Role.ADMIN)
    status, body, _ = await stack.request("PUT", "/api/staff/loan-rates", who=admin, body={**ROW, **change})
    assert status == 422 and field in body["error"]["message"], body
