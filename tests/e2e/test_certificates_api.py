"""Certificates over real HTTP with the real payment sandbox: order -> pay -> certificate -> verify ok; every
single-field alteration named by /api/certificates/verify; the QR text and the PDF; the published keys and the
signed revocation list; a gift re-issues and revokes; the staff look-up by serial (roles)."""

from __future__ import annotations

import copy
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from PIL import Image

from showroom.certificates import FIELDS, PublishedKey, verify, verify_document
from showroom.staff import Role
from tests.e2e import test_commerce_api as base
from tests.e2e.test_commerce_api import DB_KINDS, Stack, _order, _pay
from tests.staff_http import StaffStack, staff_stack_on

pytestmark = pytest.mark.asyncio
stack = base.stack  # the fixture: the commerce app and the real payment sandbox on loopback


async def _certified(s: Stack) -> tuple[dict[str, Any], str]:
    order = await _order(s, variant="au9999-50g")
    await _pay(s, order["id"])
    await s.wait_status(order["id"], "paid")
    status, reply = await s.get(f"/api/orders/{order['id']}/certificates", order["order_token"])
    assert status == 200, reply
    [cert] = reply["certificates"]
    return cert, str(order["order_token"])


@pytest.mark.parametrize("stack", DB_KINDS, indirect=True)
async def test_a_paid_order_has_a_certificate_that_verifies_and_every_alteration_is_named(stack: Stack) -> None:
    cert, _token = await _certified(stack)
    f = cert["fields"]
    assert f["weight_g"] == "50" and f["fineness"] == "Au9999 (999.9‰)" and f["price_paid_cny"] == "46895.50"
    assert f["branch"] == "online" and f["owner"] == "李* ***0000" and f["serial"] == cert["serial"]
    status, verdict = await stack.post("/api/certificates/verify", {"certificate": cert["certificate"]})
    assert status == 200 and verdict["valid"] is True, verdict
    status, verdict = await stack.post("/api/certificates/verify", {"qr": cert["verify_url"]})
    assert status == 200 and verdict["valid"] is True
    for name in FIELDS:
        forged = copy.deepcopy(cert["certificate"])
        forged["fields"][name] = "10.5" if name == "weight_g" else forged["fields"][name] + "0"
        status, verdict = await stack.post("/api/certificates/verify", {"certificate": forged})
        assert status == 200 and verdict["valid"] is False
        assert [(p["code"], p["field"]) for p in verdict["problems"]] == [("field_altered", name)], verdict
    forged = copy.deepcopy(cert["certificate"])
    forged["fields"]["weight_g"] = "10.5"
    _, verdict = await stack.post("/api/certificates/verify", {"certificate": forged})
    assert verdict["problems"][0]["message"] == "the weight was changed: the signature does not cover 10.5 g"


async def test_the_certificate_prints_the_variants_own_hallmark(stack: Stack) -> None:
    """A variant stamped differently from its product (the platinum ring of an 18K/Pt950 design, a ruby of a
    diamond ring) gets its own hallmark on the certificate; the other variants the product's."""
    for variant, key, hallmark in (("pt950-12", "o-pt", "HJ Pt950"), ("au750-12", "o-au", "HJ Au750")):
        order = await _order(stack, product="ring-18k", variant=variant, key=key)
        await _pay(stack, order["id"], key=f"p-{key}")
        await stack.wait_status(order["id"], "paid")
        status, reply = await stack.get(f"/api/orders/{order['id']}/certificates", order["order_token"])
        assert status == 200, reply
        assert [c["fields"]["hallmark"] for c in reply["certificates"]] == [hallmark]


async def test_the_keys_are_published_and_verify_offline(stack: Stack) -> None:
    cert, _ = await _certified(stack)
    status, keys = await stack.get("/.well-known/showroom-certificate-keys.json")
    assert status == 200 and keys["keys"][0]["status"] == "current"
    assert keys["keys"][0]["kid"] == cert["certificate"]["signature"]["kid"]
    published = [PublishedKey.parse(k) for k in keys["keys"]]
    assert verify(cert["certificate"], published).valid  # offline: the keys alone, no node


async def test_qr_and_pdf_and_a_gift(stack: Stack) -> None:
    cert, token = await _certified(stack)
    headers = {"Authorization": f"Bearer {token}"}
    async with stack.http.get(stack.base + cert["qr_png_url"], headers=headers) as r:
        assert r.status == 200 and r.content_type == "image/png"
        assert Image.open(io.BytesIO(await r.read())).size == (480, 480)
    async with stack.http.get(stack.base + cert["pdf_url"], headers=headers) as r:
        assert r.status == 200 and r.content_type == "application/pdf"
        assert (await r.read()).startswith(b"%PDF")
    async with stack.http.get(stack.base + cert["pdf_url"]) as r:
        assert r.status == 404
    status, gift = await stack.post(f"/api/certificates/{cert['id']}/transfer",
                                    {"new_owner": {"name": "韩梅梅", "phone": "13700001111"}}, "g1", token)
    assert status == 201, gift
    status, again = await stack.post(f"/api/certificates/{cert['id']}/transfer",
                                     {"new_owner": {"name": "韩梅梅", "phone": "13700001111"}}, "g1", token)
    assert (status, again["holder_token"]) == (201, gift["holder_token"])  # a replay answers the same
    status, err = await stack.post(f"/api/certificates/{cert['id']}/transfer",
                                   {"new_owner": {"name": "张三", "phone": "13700002222"}}, "g2", token)
    assert status == 409 and err["error"]["code"] == "certificate_not_transferable"
    new = gift["certificate"]
    assert new["serial"] == cert["serial"] and new["fields"]["supersedes"] == cert["id"]
    status, mine = await stack.get(f"/api/certificates/{new['id']}", gift["holder_token"])
    assert status == 200 and mine["status"] == "valid"
    _, verdict = await stack.post("/api/certificates/verify", {"certificate": cert["certificate"]})
    assert verdict["valid"] is False and [p["code"] for p in verdict["problems"]] == ["revoked"]
    assert verdict["revoked"]["superseded_by"] == new["id"]
    status, crl = await stack.get("/.well-known/showroom-certificate-revocations.json")
    _, keys = await stack.get("/.well-known/showroom-certificate-keys.json")
    assert status == 200 and verify_document(crl, [PublishedKey.parse(k) for k in keys["keys"]])
    assert [e["certificate_id"] for e in crl["revoked"]] == [cert["id"]]
    status, listed = await stack.get(f"/api/orders/{cert['order_id']}/certificates", token)
    assert [(c["id"], c["status"]) for c in listed["certificates"]] == [(cert["id"], "revoked")]  # not the new owner's


async def test_bad_input_is_a_4xx(stack: Stack) -> None:
    for body in ({}, {"qr": "hello"}, {"qr": "SRC1.@@@"}, {"certificate": "x"}):
        status, err = await stack.post("/api/certificates/verify", body)
        assert status in (400, 422) and "error" in err, (body, err)
    status, err = await stack.get("/api/certificates/crt_nope", "t")
    assert status == 404


@pytest_asyncio.fixture
async def staff_stack(tmp_path: Path) -> AsyncIterator[StaffStack]:
    async with staff_stack_on("sqlite", tmp_path) as s:
        yield s


async def test_staff_look_up_a_certificate_by_serial(staff_stack: StaffStack) -> None:
    s = staff_stack
    order_id = await s.paid_order()
    async with s.http.get(f"{s.base}/api/orders/{order_id}/certificates",
                          headers={"Authorization": f"Bearer {s.tokens[order_id]}"}) as r:
        [cert] = (await r.json())["certificates"]
    teller, auditor, admin = (await s.staff("tina", Role.TELLER), await s.staff("aud", Role.AUDITOR),
                              await s.staff("adm", Role.ADMIN))
    for who in (teller, auditor):
        status, reply, _ = await s.request("GET", f"/api/staff/certificates?serial={cert['serial']}", who=who)
        assert status == 200, reply
        [found] = reply["certificates"]
        assert found["id"] == cert["id"] and found["owner_phone"] == "13900000000"
        assert found["verdict"]["valid"] is True
    status, reply, _ = await s.request("GET", f"/api/staff/certificates?serial={cert['serial']}", who=admin)
    assert status == 403
    status, reply, _ = await s.request("GET", "/api/staff/certificates?serial=HJ10-000000-0000000000X", who=teller)
    assert status == 404 and reply["error"]["code"] == "not_found"
    status, reply, _ = await s.request("GET", f"/api/staff/certificates?serial={cert['serial']}")
    assert status == 401
