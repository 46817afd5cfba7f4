"""The payment sandbox's pay page in headless Chromium: a customer pays by test card, cancels, sees errors.

Runs `showroom payments-sandbox --in-memory` as the customer would reach it (a real process and port)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import wait_for_health

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    port = _free_port()
    exe = Path(sys.executable).with_name("showroom")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "render_node"]
    proc = subprocess.Popen(
        [*cmd, "payments-sandbox", "--in-memory", "--port", str(port), "--notify-url", "http://127.0.0.1:9/notify"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "SHOWROOM_PAYMENT_WEBHOOK_SECRET": "browser-test-webhook-secret-at-least-32-bytes"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        if not wait_for_health(base + "/healthz", proc, timeout_s=30):
            pytest.fail("showroom payments-sandbox did not answer /healthz")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield browser
        browser.close()


def _create(base: str, method: str, amount_fen: int = 3_456_789) -> dict[str, Any]:
    body = {"order_id": "ORD-BROWSER-1", "amount_fen": amount_fen, "method": method, "description": "Au9999 50 g"}
    return dict(_request(base + "/payments", body))


def _open(chromium: Any, url: str, width: int = 1280) -> tuple[Any, list[str]]:
    page = chromium.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    return page, errors


def test_a_customer_pays_by_test_card_and_sees_success(sandbox_url: str, chromium: Any) -> None:
    created = _create(sandbox_url, "card")
    page, errors = _open(chromium, created["pay_url"])
    assert "34,567.89" in page.inner_text(".amount")
    page.fill("#card_number", "4242 4242 4242 4242")
    page.fill("#expiry", "12/39")
    page.fill("#cvc", "123")
    page.click("button.primary")
    page.wait_for_selector(".result .ok")
    assert "Payment successful" in page.inner_text(".result")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sandbox-pay-card-paid.png"), full_page=True)
    assert _request(f"{sandbox_url}/payments/{created['payment_id']}")["status"] == "succeeded"
    assert errors == []


def test_a_real_card_number_is_refused_on_the_page(sandbox_url: str, chromium: Any) -> None:
    created = _create(sandbox_url, "card")
    page, errors = _open(chromium, created["pay_url"], width=390)
    page.fill("#card_number", "4111 1111 1111 1111")
    page.fill("#expiry", "12/39")
    page.fill("#cvc", "123")
    page.click("button.primary")
    page.wait_for_selector(".error")
    assert "test cards" in page.inner_text(".error")
    assert _request(f"{sandbox_url}/payments/{created['payment_id']}")["status"] == "pending"
    assert [e for e in errors if "422" not in e] == []


def test_the_page_updates_itself_when_the_payment_is_completed_elsewhere(sandbox_url: str, chromium: Any) -> None:
    created = _create(sandbox_url, "qr")
    page, errors = _open(chromium, created["pay_url"])
    assert page.locator(".qr img").evaluate("img => img.naturalWidth") > 100
    _request(f"{sandbox_url}/payments/{created['payment_id']}/complete", {"outcome": "declined"})
    page.wait_for_selector(".result .bad", timeout=10_000)
    assert "Payment failed" in page.inner_text(".result")
    assert errors == []
