"""Schemathesis against a real node (role all) on loopback, driven by the node's own OpenAPI document.

The node runs as a subprocess (schemathesis calls are synchronous): SQLite in a tmp data folder, the built-in
payment sandbox, the tiny numpy renderer over the project's real model files, rate limits off. Every operation
gets a bounded, derandomized run (positive and negative data); the stateful run follows the links the document
declares (quote -> order -> payment, cancel, order view; share -> landing). Checks: no 5xx, and every answer's
status, content type, headers and body are the ones documented.

The table (operation, examples, failures) is written to test-artifacts/fuzz-openapi.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.fuzz

MAX_EXAMPLES = 20
SMALL_VIEW_SIZE = "640x480"
UNRENDERABLE = {("GET", "/api/guide/portrait"): "portrait_unavailable"}
"""Operations whose documented 503 is the honest answer on this node: the tiny renderer draws no face, so the
guide's portrait cannot be rendered (its visemes change no pixel) and the node says so instead of serving one."""


@schemathesis.check
def not_a_server_error_but_the_documented_unrenderable(ctx: Any, response: Any, case: Any) -> bool | None:
    code = UNRENDERABLE.get((case.method.upper(), case.path))
    if code is not None and response.status_code == 503:
        assert response.json()["error"]["code"] == code, response.text
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [not_a_server_error_but_the_documented_unrenderable, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]
PROJECT_ROOT = Path(__file__).resolve().parents[2]

_NODE = """
import asyncio, json, sys
from datetime import UTC, datetime
import aiohttp
from showroom.api.keys import RUNTIME
from showroom.audit import Actor
from showroom.identity import totp_code
from showroom.services import staff as staff_service
from showroom.staff import Role
from dataclasses import replace
from pathlib import Path
from aiohttp import web
from render_node.app import create_app
from render_node.commands.secrets import resolve_secrets
from render_node.config import load_config
from render_node.pool import RenderPool
from showroom.payment_sandbox.server import start_sandbox
from showroom.payment_sandbox.settings import SandboxSettings
from tests.tiny_renderer import make_tiny_renderer

async def main() -> None:
    data = Path(sys.argv[1])
    config = load_config({"data_dir": str(data), "port": 0, "workers": 1, "host": "127.0.0.1"},
                         {"SHOWROOM_RATE_LIMITS": "0"})
    config = resolve_secrets(config)
    pool = RenderPool(make_tiny_renderer, workers=1)
    runner = web.AppRunner(web.Application())
    (data / "payment-sandbox").mkdir(parents=True, exist_ok=True)
    sandbox = None
    try:
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        sandbox = await start_sandbox(SandboxSettings(
            data_dir=data / "payment-sandbox", webhook_secret=config.commerce.payment_webhook_secret,
            default_notify_url=f"http://127.0.0.1:{port}/api/payments/notify"), "127.0.0.1", 0)
        config = replace(config, port=port, payment_sandbox=True, rate_limits=False,
                         commerce=replace(config.commerce, payment_backend_url=sandbox.base_url))
        runner = web.AppRunner(create_app(config, renderer_pool=pool), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        base = f"http://127.0.0.1:{port}"
        sessions = {}
        async with aiohttp.ClientSession() as http:
            for name, role in (("fuzz-manager", Role.MANAGER), ("fuzz-admin", Role.ADMIN)):
                made = await staff_service.create_account(
                    runner.app[RUNTIME].commerce, Actor("cli:fuzz", "operator"), name, role, name,
                    PASSWORD)
                body = {"name": name, "password": PASSWORD, "otp": totp_code(made.totp_secret, datetime.now(UTC))}
                async with http.post(base + "/api/staff/session", json=body) as r:
                    assert r.status == 200, await r.text()
                    sessions[role.value] = {"cookie": r.cookies["showroom_staff"].value,
                                            "csrf": (await r.json())["csrf_token"]}
        print(f"fuzz node on {base} {json.dumps(sessions)}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        await runner.cleanup()
        await pool.close()
        if sandbox is not None:
            await sandbox.close()

PASSWORD = "fuzz staff password 1"
asyncio.run(main())
"""

_RESULTS: dict[str, dict[str, Any]] = defaultdict(lambda: {"examples": 0, "statuses": set(), "failures": set()})


@dataclass(frozen=True)
class FuzzNode:
    base: str
    sessions: dict[str, dict[str, str]]
    """Staff sessions by role (manager, admin): their cookie and CSRF token."""
    items: list[tuple[str, str]]
    """(product id, variant id) of the node's catalog."""


@pytest.fixture(scope="module")
def fuzz_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzNode]:
    data = tmp_path_factory.mktemp("fuzz-node")
    log = (data / "node.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-c", _NODE, str(data / "data")], cwd=PROJECT_ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                            env={**os.environ, "EGL_PLATFORM": "surfaceless", "PYTHONPATH": str(PROJECT_ROOT)})
    assert proc.stdout is not None and proc.stdin is not None
    try:
        line = proc.stdout.readline().decode()
        assert line.startswith("fuzz node on "), (data / "node.log").read_text()[-3000:]
        base, sessions = line.removeprefix("fuzz node on ").strip().split(" ", 1)
        with urllib.request.urlopen(base + "/api/products", timeout=30) as r:
            products = json.load(r)["products"]
        yield FuzzNode(base, json.loads(sessions), [(p["id"], v["id"]) for p in products for v in p["variants"]])
    finally:
        proc.stdin.close()
        proc.stdout.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        tail = (data / "node.log").read_text(errors="replace")
        _write_table(tail)


@pytest.fixture(scope="module")
def node_schema(fuzz_node: FuzzNode) -> Any:
    schema = schemathesis.openapi.from_url(f"{fuzz_node.base}/api/openapi.json")
    schema.config.update(base_url=fuzz_node.base)
    schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, allow_x00=False,
                                    with_security_parameters=False)
    return schema


schema = schemathesis.pytest.from_fixture("node_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented_and_never_5xx(case: Any, fuzz_node: FuzzNode) -> None:
    label = f"{case.operation.method.upper()} {case.operation.path}"
    result = _RESULTS[label]
    result["examples"] += 1
    _sign_in(case, fuzz_node)
    _catalog_item(case, fuzz_node, result["examples"])
    try:
        response = case.call(timeout=60)
        result["statuses"].add(response.status_code)
        case.validate_response(response, CHECKS)
    except BaseException as exc:
        result["failures"].update(_titles(exc))
        raise


def test_the_stateful_links_quote_order_payment_answer_as_documented(fuzz_node: FuzzNode) -> None:
    """Positive data along the declared links: catalog -> quote -> order -> payment, order view and cancel."""
    links_schema = schemathesis.openapi.from_url(f"{fuzz_node.base}/api/openapi.json")
    links_schema.config.update(base_url=fuzz_node.base)
    links_schema.config.generation.update(modes=["positive"], deterministic=True, allow_x00=False,
                                          with_security_parameters=False)
    base = links_schema.as_state_machine()

    class Links(base):  # type: ignore[valid-type,misc]
        def before_call(self, case: Any) -> None:
            _small_view_set(case)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {**super().get_call_kwargs(case), "timeout": 60}

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            result = _RESULTS[f"stateful: {case.operation.method.upper()} {case.operation.path}"]
            result["examples"] += 1
            result["statuses"].add(response.status_code)
            try:
                case.validate_response(response, CHECKS, transport_kwargs=kwargs or None, recorder=self.recorder)
            except BaseException as exc:
                result["failures"].update(_titles(exc))
                raise

    Links.run(settings=settings(max_examples=40, stateful_step_count=8, deadline=None, derandomize=True,
                                  database=None, suppress_health_check=list(HealthCheck)))


STAFF_AS_ADMIN = ("/api/staff/accounts", "/api/staff/loan-rates")
"""Staff routes fuzzed as an admin (accounts, settings); the others as a manager (orders, refunds, audit)."""


def _sign_in(case: Any, node: FuzzNode) -> None:
    """Staff routes get a live session (the cookie and CSRF token of the role that may call them), so the fuzz
    reaches their handlers; signing out is left to its generated cookie (it would end the shared session)."""
    path = case.operation.path
    if not (path.startswith("/api/staff/") or path.startswith(("/api/orders/{order_id}/refunds",
                                                                "/api/orders/{order_id}/fulfilment",
                                                                "/api/reconciliation/"))):
        return
    if (case.operation.method.upper(), path) in (("DELETE", "/api/staff/session"), ("POST", "/api/staff/session")):
        return
    session = node.sessions["admin" if path.startswith(STAFF_AS_ADMIN) else "manager"]
    case.cookies = {**(case.cookies or {}), "showroom_staff": session["cookie"]}
    case.headers = {**(case.headers or {}), "X-CSRF-Token": session["csrf"]}


def _catalog_item(case: Any, node: FuzzNode, n: int) -> None:
    """Every other positive example names a real product and variant (random ids only reach the 404), so the
    fuzz also drives renders, view sets, quotes, plans, shares and uploads with everything else generated."""
    meta = getattr(case, "meta", None)
    if n % 2 or meta is None or meta.generation.mode.is_negative:
        return
    product, variant = node.items[(n // 2) % len(node.items)]
    if isinstance(case.body, dict) and "product" in case.body:
        case.body = {**case.body, "product": product, **({"variant": variant} if "variant" in case.body else {})}
    if case.query and "product" in case.query:
        case.query = {**case.query, "product": product, **({"variant": variant} if "variant" in case.query else {})}
    if case.path_parameters and "product_id" in case.path_parameters:
        case.path_parameters = {**case.path_parameters, "product_id": product}
        if case.query and "variant" in case.query:
            case.query = {**case.query, "variant": variant}
        _small_view_set(case)


def _small_view_set(case: Any) -> None:
    """A real view set renders 108 frames: fuzz its parameters at the smallest published size (the bigger
    sizes only cost time; the size list is checked by tests/unit/test_views.py)."""
    if case.operation.path.endswith("/views"):
        case.query = {**(case.query or {}), "size": SMALL_VIEW_SIZE}


def _titles(exc: BaseException) -> set[str]:
    """What failed, one line per distinct failure (schemathesis groups them)."""
    inner = getattr(exc, "exceptions", None) or [exc]
    return {(getattr(e, "title", None) or type(e).__name__)[:120] for e in inner}


def _write_table(node_log: str) -> None:
    rows = ["| operation | examples | statuses seen | failures |", "| --- | ---: | --- | --- |"]
    for label in sorted(_RESULTS):
        r = _RESULTS[label]
        rows.append(f"| `{label}` | {r['examples']} | {' '.join(map(str, sorted(r['statuses'])))} | "
                    f"{len(r['failures'])}"
                    f"{': ' + '; '.join(sorted(r['failures'])) if r['failures'] else ''} |")
    errors = [line for line in node_log.splitlines() if "unexpected error" in line or "Traceback" in line]
    text = ("# Fuzz run (schemathesis) against the node's OpenAPI document\n\n"
            f"{MAX_EXAMPLES} examples per operation (derandomized), positive and negative data; checks: "
            f"{', '.join(c.__name__ for c in CHECKS)}.\n\n" + "\n".join(rows) + "\n\n"
            f"Unexpected errors in the node's log: {len(errors)}\n")
    out = PROJECT_ROOT / "test-artifacts" / "fuzz-openapi.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print("\n" + text)
