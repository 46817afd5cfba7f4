"""The OpenAPI document is generated from the routes' own declarations: it matches the router exactly, every
operation lists its statuses, and it validates as OpenAPI 3.1."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from openapi_spec_validator import validate

from render_node import openapi
from render_node.app import create_app
from render_node.config import load_config
from render_node.pool import RenderPool
from showroom.http_schema import ERROR_REF, declared, json_schema
from tests.tiny_renderer import make_tiny_renderer

ERROR_STATUSES = {"400", "401", "403", "404", "409", "413", "415", "422", "423", "429", "502", "503"}


def _app(tmp_path: Path, role: str) -> web.Application:
    config = load_config({"data_dir": str(tmp_path / "data"), "port": 0, "workers": 1, "role": role}, {})
    return create_app(config, renderer_pool=RenderPool(make_tiny_renderer, workers=0))


def _routes(app: web.Application) -> set[tuple[str, str]]:
    return {(method, path) for method, path, _ in openapi.route_entries(app)}


def _operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method.upper(), path): op for path, ops in doc["paths"].items() for method, op in ops.items()}


@pytest.fixture
def app_all(tmp_path: Path) -> web.Application:
    return _app(tmp_path, "all")


def test_every_route_has_an_operation_and_every_operation_a_route(app_all: web.Application) -> None:
    doc = openapi.document(app_all)
    ops = _operations(doc)
    assert set(ops) == _routes(app_all)
    assert not [key for key, op in ops.items() if op.get("x-undeclared")], "a route without a declaration"
    for method, path, handler in openapi.route_entries(app_all):
        if path.startswith(("/api/", "/ws/", "/views/")) or path in ("/healthz", "/metrics"):
            assert declared(handler) is not None, f"{method} {path} declares nothing next to its handler"
    assert len({op["operationId"] for op in ops.values()}) == len(ops)


def test_the_document_validates_as_openapi_3_1(app_all: web.Application) -> None:
    doc = openapi.document(app_all)
    assert doc["openapi"] == "3.1.0"
    validate(doc)


def test_every_operation_lists_its_statuses_and_errors_share_one_schema(app_all: web.Application) -> None:
    ops = _operations(openapi.document(app_all))
    for (method, path), op in ops.items():
        statuses = set(op["responses"])
        assert statuses and all(re.fullmatch(r"[1-5]\d\d", s) for s in statuses), (method, path, statuses)
        assert "default" not in statuses, f"{method} {path}: every status is named"
        if path.startswith(("/api/", "/ws/", "/views/")):
            for status in statuses & ERROR_STATUSES:
                schema = op["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": ERROR_REF}, (method, path, status)
        body = op.get("requestBody", {}).get("content", {})
        if "application/json" in body:
            assert {"413", "422"} <= statuses, f"{method} {path} reads a JSON body: 413 and 422"
        if "multipart/form-data" in body:
            assert {"400", "413"} <= statuses, f"{method} {path} reads a form: 400 and 413"
        params = {(p["in"], p["name"]): p for p in op.get("parameters", [])}
        if ("header", "Idempotency-Key") in params:
            assert params[("header", "Idempotency-Key")]["required"] and "400" in statuses
        if path.startswith("/api/staff/") and (method, path) != ("POST", "/api/staff/session"):
            assert params[("cookie", "showroom_staff")]["required"] and {"401", "403"} <= statuses
            if method in ("POST", "PUT", "PATCH", "DELETE"):
                assert params[("header", "X-CSRF-Token")]["required"], f"{method} {path} needs the CSRF header"
    for method, path in (("POST", "/api/orders"), ("POST", "/api/orders/{order_id}/payments"),
                         ("POST", "/api/shares"), ("POST", "/api/orders/{order_id}/refunds")):
        assert any(p["name"] == "Idempotency-Key" for p in ops[(method, path)]["parameters"]), path
    for method, path in (("GET", "/api/orders/{order_id}"), ("POST", "/api/orders/{order_id}/cancel")):
        assert any(p["name"] == "Authorization" for p in ops[(method, path)]["parameters"]), path
    assert "429" in ops[("POST", "/api/quotes")]["responses"] and "503" in ops[("GET", "/api/render")]["responses"]


def test_request_schemas_are_the_models_the_handlers_parse_with(app_all: web.Application) -> None:
    from render_node.ar_routes import TryOnForm
    from render_node.routes import RenderQuery
    from showroom.api.requests import OrderBody, QuoteBody
    from showroom.api.staff_models import OrdersQuery

    ops = _operations(openapi.document(app_all))
    assert ops[("POST", "/api/quotes")]["requestBody"]["content"]["application/json"]["schema"] == json_schema(
        QuoteBody)
    order = ops[("POST", "/api/orders")]["requestBody"]["content"]["application/json"]["schema"]
    assert order == json_schema(OrderBody) and order["additionalProperties"] is False
    render = {p["name"] for p in ops[("GET", "/api/render")]["parameters"]}
    assert set(RenderQuery.model_fields) <= render
    form = ops[("POST", "/api/tryon")]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(form["properties"]) == {*TryOnForm.model_fields, "photo"} and "consent" in form["required"]
    staff_orders = {p["name"] for p in ops[("GET", "/api/staff/orders")]["parameters"] if p["in"] == "query"}
    assert staff_orders == set(OrdersQuery.model_fields)


def test_websockets_are_101_upgrades_and_links_join_quote_order_payment(app_all: web.Application) -> None:
    ops = _operations(openapi.document(app_all))
    for path in ("/ws/stream", "/ws/orders/{order_id}"):
        assert "101" in ops[("GET", path)]["responses"] and ops[("GET", path)]["description"]
    quote_links = ops[("POST", "/api/quotes")]["responses"]["201"]["links"]
    assert quote_links["PlaceOrder"]["operationId"] == "placeOrder"
    order_links = ops[("POST", "/api/orders")]["responses"]["201"]["links"]
    assert order_links["StartPayment"]["operationId"] == "startPayment"
    ids = {op.get("operationId") for op in ops.values()}
    assert {"placeOrder", "startPayment", "getOrder", "cancelOrder", "openShare"} <= ids


def test_an_edge_document_has_no_commerce_operations(tmp_path: Path) -> None:
    doc = openapi.document(_app(tmp_path, "edge"))
    paths = set(doc["paths"])
    assert "/api/render" in paths and "/ws/stream" in paths
    assert not [p for p in paths if p.startswith(("/api/orders", "/api/staff", "/api/quotes", "/ws/orders"))]
    validate(doc)
    assert not [op for ops in doc["paths"].values() for op in ops.values()
                for reply in op["responses"].values() if "links" in reply], "no link to a commerce operation"


def test_the_stream_protocol_parser_needs_only_the_standard_library(project_root: Path) -> None:
    import json
    import subprocess
    import sys

    code = ("import json, sys; before = set(sys.modules); import showroom_protocol; "
            "print(json.dumps(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=project_root / "clients" / "python", capture_output=True,
                         text=True, timeout=60, check=True)
    loaded = json.loads(out.stdout)
    assert "showroom_protocol" in loaded
    foreign = [m for m in loaded if m != "showroom_protocol" and m.split(".")[0] not in sys.stdlib_module_names]
    assert foreign == [], "the stream protocol's parser imports only the standard library"
