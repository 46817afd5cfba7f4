"""Commerce's side of dual recording: the node's signed receipt is audited (`call_recorded` with the stored files'
hashes) only when its signature verifies; auditors get a ticket of scope `recordings` (which opens no console)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from showroom.advisory import Advisor, TicketInvalid, sign_receipt, verify_ticket
from showroom.api.keys import RUNTIME
from showroom.staff import Role
from tests.integration.commerce_db import DB_KINDS
from tests.staff_http import StaffStack, staff_stack_on

pytestmark = pytest.mark.asyncio

RECEIPT: dict[str, Any] = {
    "id": "rec_0123456789abcdef", "call": "call_00112233aabbccdd", "product": "bar-au9999-1kg", "advisor": "amy",
    "sha256": {"customer": "a" * 64, "advisor": "b" * 64}, "bytes": {"customer": 1234, "advisor": 987},
    "started_at": "2030-01-01T00:00:00Z", "ended_at": "2030-01-01T00:05:00Z"}


@pytest_asyncio.fixture(params=DB_KINDS)
async def stack(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StaffStack]:
    async with staff_stack_on(request.param, tmp_path) as s:
        yield s


async def test_a_signed_receipt_is_audited_with_the_hashes_and_a_changed_one_is_refused(stack: StaffStack) -> None:
    key = stack.app[RUNTIME].commerce.settings.advisor_ticket_key
    amy = await stack.staff("amy", Role.ADVISOR)
    url = "/api/staff/advisor/recordings"
    forged = {"recording": {**RECEIPT, "sha256": {"customer": "c" * 64}}, "sig": sign_receipt(key, RECEIPT)}
    status, body, _ = await stack.request("POST", url, who=amy, body=forged)
    assert status == 422 and body["error"]["code"] == "bad_receipt", body
    status, body, _ = await stack.request("POST", url, who=amy, body={"recording": {"id": "x"}, "sig": "0" * 64})
    assert status == 422 and body["error"]["code"] == "invalid_input", body
    teller = await stack.staff("tina", Role.TELLER)
    status, _, _ = await stack.request("POST", url, who=teller, body={"recording": RECEIPT, "sig": "0" * 64})
    assert status == 403

    status, body, _ = await stack.request("POST", url, who=amy,
                                          body={"recording": RECEIPT, "sig": sign_receipt(key, RECEIPT)})
    assert status == 201, body
    auditor = await stack.staff("ada", Role.AUDITOR)
    status, audit, _ = await stack.request("GET", f"/api/staff/audit?subject=recording:{RECEIPT['id']}", who=auditor)
    [entry] = audit["entries"]
    assert (entry["action"], entry["actor"]) == ("call_recorded", "amy")
    assert entry["after"]["sha256"] == RECEIPT["sha256"] and entry["after"]["call"] == RECEIPT["call"]


async def test_only_auditors_get_a_recordings_ticket_and_it_opens_no_console(stack: StaffStack) -> None:
    key = stack.app[RUNTIME].commerce.settings.advisor_ticket_key
    auditor = await stack.staff("ada", Role.AUDITOR)
    status, got, _ = await stack.request("POST", "/api/staff/recordings/ticket", who=auditor, body={})
    assert status == 200, got
    assert verify_ticket(key, got["ticket"], time.time(), scope="recordings") == Advisor("ada", "Ada")
    with pytest.raises(TicketInvalid):
        verify_ticket(key, got["ticket"], time.time())
    amy = await stack.staff("amy", Role.ADVISOR)
    status, body, _ = await stack.request("POST", "/api/staff/recordings/ticket", who=amy, body={})
    assert status == 403 and body["error"]["code"] == "forbidden"
