"""The payment sandbox is another system: it shares no code with the showroom's commerce side, its rules and
state import no aiohttp, and it signs notifications exactly as the showroom verifies them."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from showroom.payment_sandbox.signature import SIGNATURE_HEADER, sign
from showroom.signing import SIGNATURE_HEADER as SHOWROOM_SIGNATURE_HEADER
from showroom.signing import PaymentSignatureInvalid, verify

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_DIR = ROOT / "showroom" / "payment_sandbox"

PURE_MODULES = [
    "showroom.payment_sandbox",
    *(
        f"showroom.payment_sandbox.{name}"
        for name in ("settings", "rules", "errors", "signature", "records", "schema", "outbox", "store", "page")
    ),
]
WEB_MODULES = ["showroom.payment_sandbox.app", "showroom.payment_sandbox.server"]


def _loaded_after_importing(modules: list[str]) -> set[str]:
    """`sys.modules` of a fresh interpreter that imported `modules` (this process has imported everything)."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


def _showroom_outside_sandbox(modules: set[str]) -> list[str]:
    return sorted(
        m
        for m in modules
        if (m.startswith("showroom.") and not m.startswith("showroom.payment_sandbox")) or m.startswith("render_node")
    )


def test_the_sandbox_rules_and_state_import_neither_aiohttp_nor_the_showroom() -> None:
    loaded = _loaded_after_importing(PURE_MODULES)
    assert "showroom.payment_sandbox.rules" in loaded and "showroom.payment_sandbox.store" in loaded
    assert sorted(m for m in loaded if m == "aiohttp" or m.startswith("aiohttp.")) == []
    assert "showroom.errors" not in loaded
    assert _showroom_outside_sandbox(loaded) == []
    assert sorted(m for m in loaded if m.startswith("showroom.payment_sandbox.")) == sorted(PURE_MODULES[1:])


def test_the_sandbox_app_imports_nothing_of_the_showroom() -> None:
    loaded = _loaded_after_importing(WEB_MODULES)
    assert "aiohttp" in loaded
    assert _showroom_outside_sandbox(loaded) == []


def test_no_sandbox_module_names_a_showroom_module_even_inside_a_function() -> None:
    named: list[str] = []
    for path in sorted(SANDBOX_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            named += [f"{path.name}: {t}" for t in targets if _showroom_outside_sandbox({t})]
    assert named == []


def test_a_notification_signed_by_the_sandbox_is_verified_by_the_showroom() -> None:
    body = b'{"id":"evt_1","type":"payment.succeeded"}'
    header = sign("shared-secret", 1_790_000_000, body)
    assert SIGNATURE_HEADER == SHOWROOM_SIGNATURE_HEADER == "X-Signature"
    assert verify("shared-secret", header, body, now_s=1_790_000_010) == 1_790_000_000
    with pytest.raises(PaymentSignatureInvalid, match="does not match"):
        verify("another-secret", header, body, now_s=1_790_000_010)
    with pytest.raises(PaymentSignatureInvalid, match="does not match"):
        verify("shared-secret", header, body + b" ", now_s=1_790_000_010)
