"""The node's OpenAPI 3.1 document, generated from the live router: every route's handler carries its declaration
(`showroom.http_schema.operation`: request models, headers, replies, every error status), and this module turns
each into an operation with `Model.model_json_schema()`. Nothing here imports the commerce code: its routes are in
the router (and so in the document) only when the node's role runs commerce.

What is not an API (the web clients' pages and static files) is described by `WEB_PAGES` below; a route that has
no declaration still appears, marked `x-undeclared`, so the document never lies by omission (and the test that
the document matches the routes fails on it).
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from render_node.keys import CONFIG
from render_node.ratelimit import LIMITS
from render_node.view_sizes import PUBLISHED_SIZES, VIEW_SIZES, size_text
from showroom.http_schema import ERROR_REF, declared, operation_object

_HTML = {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}},
         "404": {"description": "the page is not installed"}}
_FILE = {"200": {"description": "the file"}, "404": {"description": "no such file"},
         "403": {"description": "a path outside the folder"}}

PAGES: tuple[str, ...] = ("kiosk", "phone", "vr", "staff", "advisor", "certificate", "verify")
"""The pages render_node/app.py serves from clients/web/<page>/ (one list for both)."""

WEB_PAGES: dict[str, dict[str, Any]] = {
    "/": {"summary": "Redirects to /kiosk", "responses": {"302": {"description": "to /kiosk"}}},
    **{f"/{page}": {"summary": f"The {page} web client", "responses": _HTML} for page in PAGES},
    **{f"/{page}/": {"summary": f"The {page} web client (its index.html)", "responses": _HTML} for page in PAGES},
    **{f"/{page}/{{filename}}": {"summary": f"Files of the {page} web client", "responses": _FILE}
       for page in (*PAGES, "static")},
    "/s/{token}": {"summary": "Share landing page", "responses": _HTML},
}
"""The web clients (clients/web): pages and their files, served by aiohttp's static handler."""

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "description": "Every 4xx and 5xx answer", "properties": {
        "error": {"type": "object", "required": ["code", "message"],
                  "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
    "ViewSizes": {"type": "object", "description": "The published view-set sizes (WxH) per client kind; a node may "
                                                   "add more (SHOWROOM_EXTRA_VIEW_SIZES, listed under `extra`)",
                  "properties": {kind: {"type": "array", "items": {"type": "string"}} for kind in (*VIEW_SIZES, "extra")},
                  "example": {kind: [size_text(s) for s in sizes] for kind, sizes in VIEW_SIZES.items()}},
}
SECURITY_SCHEMES = {"staffSession": {"type": "apiKey", "in": "cookie", "name": "showroom_staff",
                                     "description": "the staff session (POST /api/staff/session)"}}


def route_entries(app: web.Application) -> list[tuple[str, str, Any]]:
    """(method, OpenAPI path template, handler) of every route of the app (HEAD and OPTIONS left out)."""
    out = []
    for resource in app.router.resources():
        path = re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", resource.canonical)
        if isinstance(resource, web.StaticResource):
            path = path.rstrip("/") + "/{filename}"
        for route in resource:
            method = route.method.upper()
            if method not in ("HEAD", "OPTIONS"):
                out.append((method, path, route.handler))
    return out


def _operation(method: str, path: str, handler: Any) -> dict[str, Any]:
    names = re.findall(r"\{(\w+)\}", path)
    op = declared(handler)
    if op is not None:
        out = operation_object(op, names)
    elif path in WEB_PAGES and method == "GET":
        out = {**WEB_PAGES[path], "tags": ["web"]}
        if names:
            out["parameters"] = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                                 for n in names]
    else:
        out = {"summary": f"{method} {path} (undeclared)", "x-undeclared": True,
               "responses": {"default": {"description": "error", "content": {
                   "application/json": {"schema": {"$ref": ERROR_REF}}}}}}
    limit = next((lim for lim in LIMITS if lim.matches(method, re.sub(r"\{[^}]+\}", "x", path))), None)
    if limit is not None:
        out["responses"] = dict(sorted({**out["responses"], "429": {
            "description": f"rate limited ({limit.name}: {limit.burst} at once, {limit.per_minute:g} a minute per "
                           f"client)",
            "headers": {"Retry-After": {"schema": {"type": "string"}, "description": "seconds"}},
            "content": {"application/json": {"schema": {"$ref": ERROR_REF}}}}}.items()))
    slug = re.sub(r"[^a-zA-Z0-9]+", "_", path).strip("_") + ("_index" if path.endswith("/") and path != "/" else "")
    out.setdefault("operationId", f"{method.lower()}_{slug or 'root'}")
    return out


def _drop_dangling_links(paths: dict[str, dict[str, Any]]) -> None:
    """Links to operations this role does not serve (an edge node's catalog -> the commerce quote) are left out."""
    ids = {op["operationId"] for ops in paths.values() for op in ops.values()}
    for ops in paths.values():
        for op in ops.values():
            for reply in op["responses"].values():
                links = reply.get("links")
                if links is not None:
                    kept = {name: link for name, link in links.items() if link.get("operationId") in ids}
                    if kept:
                        reply["links"] = kept
                    else:
                        del reply["links"]


def document(app: web.Application) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path, handler in route_entries(app):
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, handler)
    _drop_dangling_links(paths)
    config = app.get(CONFIG)
    servers = [{"url": config.public_url}] if config is not None else []
    schemas = dict(SCHEMAS)
    sizes = sorted({size_text(s) for s in (*PUBLISHED_SIZES, *(config.extra_view_sizes if config else ()))})
    extra = sorted(size_text(s) for s in (config.extra_view_sizes if config is not None else ()))
    if extra:
        schemas["ViewSizes"] = {**SCHEMAS["ViewSizes"],
                                "example": {**SCHEMAS["ViewSizes"]["example"], "extra": extra}}
    view_set = paths.get("/api/products/{product_id}/views", {}).get("get")
    if view_set is not None:  # the view store allows only these (any other is a 400 listing them)
        view_set["parameters"] = [
            {**prm, "schema": {"type": "string", "enum": sizes,
                               "description": "a published view-set size (components.schemas.ViewSizes)"}}
            if prm.get("name") == "size" else prm for prm in view_set["parameters"]]
    return {
        "openapi": "3.1.0",
        "info": {"title": "Showroom edge node and commerce API", "version": "1.0.0",
                 "description": "AR/VR product showroom: catalog, renders, 360 view sets, live streams, AR and "
                                "try-on, quotes, orders, payments, sharing, staff. Errors are "
                                "{\"error\": {\"code\", \"message\"}}."},
        "servers": servers,
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
    }
