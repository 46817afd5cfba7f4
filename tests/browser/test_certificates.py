"""Certificates in headless Chromium against a real node (`showroom serve`, its key generated in the data folder):
the customer's certificate page (fields, the QR code, PDF and JSON downloads, a gift), the /verify page (a valid
certificate from its QR link; an altered weight named and struck through), and a teller's look-up by serial in
the console. Screenshots land in test-artifacts/browser/certificates-*.png."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Server, StaffLogin
from tests.browser.test_staff_console import PRODUCT, VARIANT, _call, _clean, console

pytestmark = pytest.mark.browser


def _certificate(server: Server) -> tuple[dict[str, Any], dict[str, Any]]:
    """An order paid through the payment sandbox (quote -> order -> payment -> the sandbox approves -> the signed
    notification), with its token, and its certificate as the API answers it."""
    quote = _call(server, "/api/quotes", {"product": PRODUCT, "variant": VARIANT, "quantity": 1})
    order = _call(server, "/api/orders", {"quote_id": quote["id"], "channel": "web",
                                          "customer": {"name": "王芳", "phone": "13900005678"}},
                  {"Idempotency-Key": uuid.uuid4().hex})
    auth = {"Authorization": f"Bearer {order['order_token']}"}
    payment = _call(server, f"/api/orders/{order['id']}/payments", {"method": "mobile_banking"},
                    {"Idempotency-Key": uuid.uuid4().hex})
    sandbox = str(server.get_json("/healthz")["payment_backend"]).rstrip("/")
    _call(server, f"/payments/{payment['payment_id']}/complete", {"outcome": "approved"}, base=sandbox)
    deadline = time.monotonic() + 30
    while _call(server, f"/api/orders/{order['id']}", headers=auth)["status"] != "paid":
        assert time.monotonic() < deadline, "the order was not paid within 30 s"
        time.sleep(0.2)
    [cert] = _call(server, f"/api/orders/{order['id']}/certificates", headers=auth)["certificates"]
    return {**order, "token": order["order_token"]}, cert


def test_the_certificate_page_shows_the_qr_and_gives_the_item_away(server: Server, new_page: Any,
                                                                   artifacts: Path) -> None:
    order, cert = _certificate(server)
    w = new_page((1100, 1300))
    w.page.goto(f"{server.base}/certificate#order={order['id']}&token={order['token']}")
    w.page.wait_for_selector(f'.cert[data-certificate="{cert["id"]}"] .cert-qr img[src^="blob:"]')
    w.page.wait_for_function("document.querySelector('.cert-qr img').naturalWidth > 0")
    assert w.page.inner_text(".cert-serial strong") == cert["serial"]
    assert w.page.inner_text('dd[data-field="weight_g"]') == "10 g"
    assert w.page.get_attribute('[data-role="verify"]', "href") == cert["verify_url"]
    with w.page.expect_download() as pdf:
        w.page.click('[data-role="pdf"]')
    assert Path(pdf.value.path()).read_bytes().startswith(b"%PDF")
    w.screenshot(artifacts, "certificates-page-zh")
    w.page.fill('form[data-role="gift"] input[name="name"]', "李雷")
    w.page.fill('form[data-role="gift"] input[name="phone"]', "13911112222")
    w.page.click('form[data-role="gift"] button[type="submit"]')
    link = w.page.wait_for_selector('[data-role="gift-link"]')
    assert w.page.get_attribute(".cert-status", "data-status") == "revoked"
    w.screenshot(artifacts, "certificates-page-gift")
    href = link.get_attribute("href")
    assert not _clean(w.errors), w.errors
    # the new owner opens the link: the new certificate, same serial, valid
    n = new_page((1100, 1300))
    n.page.goto(href)
    n.page.wait_for_selector('.cert-status[data-status="valid"]')
    assert n.page.inner_text(".cert-serial strong") == cert["serial"]
    assert "李*" in n.page.inner_text('dd[data-field="owner"]')
    assert not _clean(n.errors), n.errors


def test_verify_page_accepts_the_qr_link_and_names_an_altered_weight(server: Server, new_page: Any,
                                                                     artifacts: Path) -> None:
    _order, cert = _certificate(server)
    w = new_page((1100, 1200))
    w.page.goto(cert["verify_url"])
    w.page.wait_for_selector('body[data-verified="valid"]')
    assert "Valid" in w.page.inner_text("#verdict-title")
    w.screenshot(artifacts, "certificates-verify-valid")
    forged = json.loads(json.dumps(cert["certificate"]))
    forged["fields"]["weight_g"] = "100"
    w.page.fill("#verify-input", json.dumps(forged))
    w.page.click('#verify-form button[type="submit"]')
    w.page.wait_for_selector('body[data-verified="invalid"]')
    problem = w.page.inner_text('#verdict-problems li[data-field="weight_g"]')
    assert problem == "the weight was changed: the signature does not cover 100 g"
    assert w.page.get_attribute('#verdict-fields dd[data-field="weight_g"]', "class") == "altered"
    w.screenshot(artifacts, "certificates-verify-altered")
    assert not _clean(w.errors), w.errors


def test_a_teller_looks_a_certificate_up_by_serial(server: Server, new_page: Any, staff_account: Any,
                                                   artifacts: Path) -> None:
    _order, cert = _certificate(server)
    teller: StaffLogin = staff_account("cert.teller", "teller", "钱进")
    t = console(new_page, server, {}, teller)
    t.page.goto(f"{server.base}/staff?lang=zh#/certificates")
    t.page.fill("#cert-serial", cert["serial"])
    t.page.click("#cert-find")
    t.page.wait_for_selector(f'tr[data-certificate="{cert["id"]}"][data-status="valid"]')
    assert "13900005678" in t.page.inner_text("#cert-result")
    t.screenshot(artifacts, "certificates-staff-lookup")
    assert not _clean(t.errors), t.errors


def test_verify_page_is_served_and_the_keys_are_public(server: Server) -> None:
    keys = server.get_json("/.well-known/showroom-certificate-keys.json")
    assert keys["keys"] and keys["keys"][0]["alg"] == "Ed25519"
    with urllib.request.urlopen(f"{server.base}/verify?c={urllib.parse.quote('SRC1.x')}", timeout=30) as r:
        assert r.status == 200 and b"verify.js" in r.read()
