"""The node's OpenAPI 3.1 document, built from the live router so that every registered route appears.

Known operations (the node's own, the commerce API's and AR's, after DESIGN.md "The HTTP surface" and
"Wire shapes") carry summaries, parameters, bodies and responses; any other route still appears with its path
parameters and a generic response, so the document never lies by omission.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from render_node.keys import CONFIG

JSON = "application/json"

ERROR = {"$ref": "#/components/schemas/Error"}


def _q(name: str, description: str, schema: dict[str, Any] | None = None, required: bool = False
       ) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema or {"type": "string"}}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _body(schema: dict[str, Any], idempotent: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {"requestBody": {"required": True, "content": {JSON: {"schema": schema}}}}
    if idempotent:
        op["parameters"] = [{"name": "Idempotency-Key", "in": "header", "required": True,
                             "description": "replaying a key returns the first answer; another body is an error",
                             "schema": {"type": "string", "maxLength": 200}}]
    return op


_OBJ = {"type": "object"}
_SIZE = {"type": "string", "pattern": r"^\d+x\d+$", "example": "640x480"}

OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/api/products"): {
        "summary": "The catalog", "tags": ["catalog"],
        "parameters": [_q("kind", "filter by product kind or hall (metals, cars)")],
        "responses": {"200": _json({"type": "object", "properties": {
            "products": {"type": "array", "items": {"$ref": "#/components/schemas/Product"}}}})}},
    ("GET", "/api/products/{product_id}"): {
        "summary": "One product with its variants", "tags": ["catalog"],
        "responses": {"200": _json({"$ref": "#/components/schemas/Product"}), "404": _json(ERROR, "unknown")}},
    ("GET", "/api/render"): {
        "summary": "One turntable view of a product variant", "tags": ["views"],
        "parameters": [_q("product", "product id", required=True), _q("variant", "variant id"),
                       _q("yaw_deg", "camera yaw, degrees", {"type": "number", "default": 0}),
                       _q("pitch_deg", "camera elevation, degrees", {"type": "number", "default": 15}),
                       _q("size", "WxH, at most 2048 per side", _SIZE),
                       _q("format", "image format", {"enum": ["jpeg", "png", "webp"], "default": "jpeg"}),
                       _q("background", "white, transparent or env", {"enum": ["white", "transparent", "env"]}),
                       _q("quality", "JPEG/WebP quality 1-100", {"type": "integer"})],
        "responses": {"200": {"description": "the image", "content": {
            "image/jpeg": {}, "image/png": {}, "image/webp": {}}},
            "304": {"description": "not modified (If-None-Match)"},
            "503": _json(ERROR, "no render worker free in time (Retry-After)")}},
    ("GET", "/api/products/{product_id}/views"): {
        "summary": "Manifest of a 360 view set (N yaw x M pitch), rendered and cached on first request",
        "tags": ["views"],
        "parameters": [_q("variant", "variant id (default: the first)"), _q("size", "WxH (default 640x480)", _SIZE),
                       _q("format", "frame format", {"enum": ["jpeg", "png", "webp"]}),
                       _q("wait", "0: answer 202 with progress instead of waiting", {"enum": ["0", "1"]})],
        "responses": {"200": _json({"$ref": "#/components/schemas/ViewSet"}),
                      "202": _json({"type": "object", "properties": {"status": {"type": "string"},
                                                                      "progress": _OBJ}}, "rendering"),
                      "304": {"description": "not modified"}, "404": _json(ERROR, "unknown product/variant")}},
    ("GET", "/views/{name}"): {
        "summary": "A content-addressed view frame (`<sha256>.<ext>`): strong ETag, immutable", "tags": ["views"],
        "responses": {"200": {"description": "the frame", "headers": {
            "ETag": {"schema": {"type": "string"}}, "Cache-Control": {"schema": {"type": "string"}}},
            "content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}},
            "304": {"description": "not modified"}, "404": _json(ERROR, "no such frame")}},
    ("GET", "/ws/stream"): {
        "summary": "Live stream (WebSocket upgrade): hello -> welcome, poses in, binary frames out "
                   "(docs/streams.md)", "tags": ["streams"],
        "responses": {"101": {"description": "switching protocols to WebSocket"}}},
    ("GET", "/healthz"): {"summary": "Health: role, workers, sessions, payment backend", "tags": ["operations"],
                          "responses": {"200": _json(_OBJ)}},
    ("GET", "/metrics"): {"summary": "Prometheus metrics", "tags": ["operations"],
                          "responses": {"200": {"description": "text exposition format",
                                                "content": {"text/plain": {}}}}},
    ("GET", "/api/openapi.json"): {"summary": "This document", "tags": ["operations"],
                                   "responses": {"200": _json(_OBJ)}},
    ("POST", "/api/ar/overlay"): {
        "summary": "AR overlay: camera frame + intrinsics + pose or marker -> RGBA overlay or composite",
        "tags": ["ar"], "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": _OBJ},
                                                                      JSON: {"schema": _OBJ}}},
        "responses": {"200": {"description": "PNG overlay or JPEG composite",
                              "content": {"image/png": {}, "image/jpeg": {}}},
                      "413": _json(ERROR, "frame too large"), "422": _json(ERROR, "no marker / bad input")}},
    ("POST", "/api/tryon"): {
        "summary": "Virtual try-on: photo + product + variant + consent -> composite", "tags": ["ar"],
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": _OBJ}}},
        "responses": {"200": {"description": "composite image", "content": {"image/jpeg": {}, "image/png": {}}},
                      "403": _json(ERROR, "no consent"), "422": _json(ERROR, "no face/hand/wrist found")}},
    ("POST", "/api/quotes"): {
        "summary": "Quote a product variant at the live metal price (locked for a few minutes)",
        "tags": ["commerce"], **_body({"type": "object", "required": ["product"], "properties": {
            "product": {"type": "string"}, "variant": {"type": "string"}, "quantity": {"type": "integer"}}}),
        "responses": {"201": _json({"$ref": "#/components/schemas/Quote"}), "200": _json({"$ref": "#/components/schemas/Quote"}),
                      "404": _json(ERROR), "422": _json(ERROR)}},
    ("POST", "/api/orders"): {
        "summary": "Place an order from a quote", "tags": ["commerce"],
        **_body({"type": "object", "required": ["quote_id"], "properties": {
            "quote_id": {"type": "string"}, "customer": _OBJ, "channel": {"type": "string"}}}, idempotent=True),
        "responses": {"201": _json({"$ref": "#/components/schemas/Order"}), "409": _json(ERROR),
                      "422": _json(ERROR)}},
    ("GET", "/api/orders/{order_id}"): {"summary": "One order", "tags": ["commerce"],
                                        "responses": {"200": _json({"$ref": "#/components/schemas/Order"}),
                                                      "404": _json(ERROR)}},
    ("POST", "/api/orders/{order_id}/cancel"): {"summary": "Cancel an unpaid order", "tags": ["commerce"],
                                                "responses": {"200": _json({"$ref": "#/components/schemas/Order"}),
                                                              "409": _json(ERROR)}},
    ("POST", "/api/orders/{order_id}/payments"): {
        "summary": "Start a payment: pay URL and QR code", "tags": ["payments"],
        **_body({"type": "object", "required": ["method"], "properties": {
            "method": {"enum": ["card", "mobile_banking", "ecny_wallet", "qr"]}}}, idempotent=True),
        "responses": {"201": _json({"type": "object", "properties": {
            "payment_id": {"type": "string"}, "pay_url": {"type": "string"}, "qr_png_url": {"type": "string"}}}),
            "409": _json(ERROR), "422": _json(ERROR)}},
    ("POST", "/api/orders/{order_id}/refunds"): {
        "summary": "Refund an order, fully or partly", "tags": ["payments"],
        **_body({"type": "object", "properties": {"amount_cny": {"type": "string"}, "reason": {"type": "string"}}},
                idempotent=True),
        "responses": {"201": _json(_OBJ), "409": _json(ERROR)}},
    ("POST", "/api/payments/notify"): {
        "summary": "Signed payment notification from the payment backend (X-Signature, HMAC-SHA256)",
        "tags": ["payments"], "parameters": [{"name": "X-Signature", "in": "header", "required": True,
                                              "schema": {"type": "string"}}],
        "requestBody": {"required": True, "content": {JSON: {"schema": _OBJ}}},
        "responses": {"200": _json(_OBJ), "400": _json(ERROR, "bad signature or stale timestamp")}},
    ("POST", "/api/finance/plans"): {
        "summary": "Car finance plans: schedule and disclosed APR", "tags": ["commerce"],
        **_body({"type": "object", "properties": {"product": {"type": "string"}, "variant": {"type": "string"},
                                                  "down_payment_ratio": {"type": "string"},
                                                  "term_months": {"type": "integer"}}}),
        "responses": {"200": _json(_OBJ), "422": _json(ERROR)}},
    ("POST", "/api/shares"): {
        "summary": "A signed, expiring share link and a poster", "tags": ["sharing"],
        **_body({"type": "object", "properties": {"product": {"type": "string"}, "variant": {"type": "string"}}}),
        "responses": {"201": _json(_OBJ)}},
    ("GET", "/api/shares/{token}"): {"summary": "Landing data of a share link (attributes the visit)",
                                     "tags": ["sharing"], "responses": {"200": _json(_OBJ),
                                                                        "404": _json(ERROR)}},
    ("GET", "/api/prices"): {"summary": "Live metal prices (CNY per gram by purity)", "tags": ["commerce"],
                             "responses": {"200": _json(_OBJ)}},
    ("GET", "/api/prices/catalog"): {
        "summary": "Current (unlocked) price of every variant of every catalog product", "tags": ["commerce"],
        "responses": {"200": _json({"type": "object", "required": ["as_of", "source", "products"], "properties": {
            "as_of": {"type": ["string", "null"], "format": "date-time"}, "source": {"type": ["string", "null"]},
            "products": {"type": "object", "description": "product id -> variant id -> {price_cny, price_as_of, "
                                                          "price_source, metal_cny_per_g?, deposit_cny?}",
                         "additionalProperties": {"type": "object", "additionalProperties": _OBJ}}}})}},
    ("GET", "/api/shares/{token}/poster.png"): {
        "summary": "Share poster: render, price, QR code and disclaimer", "tags": ["sharing"],
        "responses": {"200": {"description": "PNG poster", "content": {"image/png": {}}}, "404": _json(ERROR)}},
    ("GET", "/api/reconciliation/{day}"): {
        "summary": "Reconciliation of a day's payments and refunds against the settlement file",
        "tags": ["payments"], "responses": {"200": _json(_OBJ), "404": _json(ERROR)}},
    ("GET", "/ws/orders/{order_id}"): {
        "summary": "Order status pushes (WebSocket): {type: order, id, status, ...} on every change",
        "tags": ["commerce"], "responses": {"101": {"description": "switching protocols to WebSocket"}}},
    ("GET", "/kiosk"): {"summary": "Kiosk web client", "tags": ["web"],
                        "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}}},
    ("GET", "/phone"): {"summary": "Phone web client (AR, 360, try-on)", "tags": ["web"],
                        "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}}},
    ("GET", "/vr"): {"summary": "VR (WebXR) web client", "tags": ["web"],
                     "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}}},
    ("GET", "/s/{token}"): {"summary": "Share landing page", "tags": ["web"],
                            "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}}},
    **{("GET", f"/{page}/{{filename}}"): {
        "summary": f"Files of the {page} web client (its index.html at /{page}/)", "tags": ["web"],
        "responses": {"200": {"description": "the file"}, "404": {"description": "no such file"}}}
       for page in ("kiosk", "phone", "vr")},
    ("GET", "/static/{filename}"): {"summary": "Static files of every web client (clients/web)", "tags": ["web"],
                                    "responses": {"200": {"description": "the file"},
                                                  "404": {"description": "no such file"}}},
    ("GET", "/"): {"summary": "Redirects to /kiosk", "tags": ["web"],
                   "responses": {"302": {"description": "to /kiosk"}}},
}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
    "LocalizedText": {"type": "object", "properties": {"zh": {"type": "string"}, "en": {"type": "string"}}},
    "Product": {"type": "object", "required": ["id", "kind", "name", "variants"], "properties": {
        "id": {"type": "string"}, "kind": {"type": "string"}, "hall": {"type": "string"},
        "name": {"$ref": "#/components/schemas/LocalizedText"},
        "variants": {"type": "array", "items": {"type": "object", "required": ["id"], "properties": {
            "id": {"type": "string"}, "name": {"$ref": "#/components/schemas/LocalizedText"},
            "purity": {"type": "string"}, "weight_g": {"type": "string"}, "stock": {"type": "integer"},
            "price_cny": {"type": "string", "description": "live, unlocked; absent without a fresh price"},
            "price_as_of": {"type": "string", "format": "date-time"}, "price_source": {"type": "string"},
            "metal_cny_per_g": {"type": "string"}, "deposit_cny": {"type": "string"},
            "price_stale": {"type": "boolean",
                            "description": "true: the commerce service is unreachable; the last known price"}}}},
        "views_url": {"type": "string"}}},
    "ViewSet": {"type": "object", "required": ["product", "variant", "size", "frames"], "properties": {
        "product": {"type": "string"}, "variant": {"type": "string"}, "size": {"type": "string"},
        "format": {"type": "string"}, "yaws": {"type": "integer"},
        "pitches_deg": {"type": "array", "items": {"type": "number"}},
        "frames": {"type": "array", "items": {"type": "object", "required": ["yaw_deg", "pitch_deg", "url"],
                                              "properties": {"yaw_deg": {"type": "number"},
                                                             "pitch_deg": {"type": "number"},
                                                             "url": {"type": "string"}}}}}},
    "Quote": {"type": "object", "properties": {"id": {"type": "string"}, "unit_price_cny": {"type": "string"},
                                               "total_cny": {"type": "string"},
                                               "expires_at": {"type": "string", "format": "date-time"}}},
    "Order": {"type": "object", "properties": {"id": {"type": "string"}, "status": {"enum": [
        "pending_payment", "paid", "expired", "cancelled", "payment_failed", "partially_refunded", "refunded",
        "fulfilling", "completed"]}}},
}


def _route_entries(app: web.Application) -> list[tuple[str, str, str]]:
    """(method, path template, handler doc) of every route of the app."""
    out = []
    for resource in app.router.resources():
        path = resource.canonical
        for route in resource:
            method = route.method.upper()
            if method in ("HEAD", "OPTIONS"):
                continue
            doc = (getattr(route.handler, "__doc__", None) or "").strip().split("\n")[0]
            out.append((method, path, doc))
    return out


def _template(path: str) -> str:
    """aiohttp `{name:regex}` -> OpenAPI `{name}`; a static prefix becomes `prefix{filename}`."""
    return re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", path)


def document(app: web.Application) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, raw, doc in _route_entries(app):
        if method == "*":
            continue
        path = _template(raw)
        if raw.startswith(("/static", "/kiosk/", "/phone/", "/vr/")) and "{" not in raw:
            path = raw.rstrip("/") + "/{filename}"
        op = dict(OPERATIONS.get((method, path)) or {
            "summary": doc or f"{method} {path}",
            "responses": {"200": {"description": "OK"}, "default": _json(ERROR, "error")}})
        names = re.findall(r"\{(\w+)\}", path)
        params = [p for p in op.get("parameters", []) if p.get("in") != "path"]
        params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names] + params
        if params:
            op["parameters"] = params
        op.setdefault("operationId", f"{method.lower()}_{re.sub(r'[^a-zA-Z0-9]+', '_', path).strip('_') or 'root'}")
        paths.setdefault(path, {})[method.lower()] = op
    config = app.get(CONFIG)
    servers = [{"url": config.public_url}] if config is not None else []
    return {
        "openapi": "3.1.0",
        "info": {"title": "Showroom edge node and commerce API", "version": "1.0.0",
                 "description": "AR/VR product showroom: catalog, renders, 360 view sets, live streams, AR and "
                                "try-on, quotes, orders, payments, sharing. Errors are "
                                "{\"error\": {\"code\", \"message\"}}."},
        "servers": servers,
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": SCHEMAS},
    }
