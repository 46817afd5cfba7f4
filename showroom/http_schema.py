"""What an HTTP route takes and answers, declared next to its handler: the schema comes from the types.

`@operation(Operation(...))` puts the declaration on the handler: the pydantic models of its JSON body, query,
path parameters or multipart text fields (the same models the handler parses with), the headers and cookies it
needs, its replies and every error status it can answer (`{"error": {"code", "message"}}`, one shared schema).
`operation_object` turns a declaration into an OpenAPI 3.1 operation from `Model.model_json_schema()`; the node's
generator (`render_node/openapi.py`) walks the app's router and asks each handler for its declaration.

Neutral on purpose: pydantic and the standard library only (no aiohttp, no `showroom.api`, no `render_node`), so
the edge routes and the commerce routes both declare with it and an edge-only process loads no commerce code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

JSON = "application/json"
ERROR_REF = "#/components/schemas/Error"
ATTRIBUTE = "__openapi_operation__"

Schema = dict[str, Any]
H = TypeVar("H", bound=Callable[..., Any])


@dataclass(frozen=True)
class Header:
    """A request header (or, with `where="cookie"`, a cookie) the route reads."""

    name: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = True
    where: str = "header"


IDEMPOTENCY_KEY = Header("Idempotency-Key", "replaying a key with the same body returns the first answer; another "
                         "body under the same key is 422 `idempotency_key_reused`",
                         {"type": "string", "minLength": 1, "maxLength": 200})
ORDER_TOKEN = Header("Authorization", "`Bearer <order_token>` (the token `POST /api/orders` answered once); "
                     "a wrong or missing token is answered exactly like an unknown order (404)",
                     {"type": "string", "maxLength": 300}, required=False)
CSRF_TOKEN = Header("X-CSRF-Token", "the staff session's `csrf_token` (state-changing staff requests; else 403 `csrf`)")
STAFF_SESSION = Header("showroom_staff", "the staff session cookie set by `POST /api/staff/session` (else 401)",
                       where="cookie")
REQUEST_ID = Header("X-Request-Id", "echoed; recorded in the audit trail with the actor",
                    {"type": "string", "maxLength": 100}, required=False)


@dataclass(frozen=True)
class Reply:
    """One success reply: a JSON body (a model or a schema), or other media (`media`), with its headers."""

    description: str
    body: type[BaseModel] | tuple[type[BaseModel], ...] | Mapping[str, Any] | None = None
    """A model, several (any of them), or a JSON schema."""
    media: tuple[str, ...] = (JSON,)
    headers: Mapping[str, str] = field(default_factory=dict)
    links: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """OpenAPI links by name: `{"operationId": ..., "parameters": {...}, "requestBody": ...}`."""


@dataclass(frozen=True)
class Form:
    """A multipart/form-data body: its text fields (a model) and its one file part."""

    fields: type[BaseModel]
    file_field: str
    file_media: str = "image/jpeg, image/png"
    before_file: tuple[str, ...] = ()


@dataclass(frozen=True)
class Operation:
    """What one route takes and answers. `errors` maps every error status to what it means."""

    summary: str
    tags: tuple[str, ...]
    replies: Mapping[int, Reply]
    errors: Mapping[int, str] = field(default_factory=dict)
    body: type[BaseModel] | Mapping[str, Any] | None = None
    body_required: bool = True
    query: type[BaseModel] | None = None
    path: type[BaseModel] | None = None
    form: Form | None = None
    headers: tuple[Header, ...] = ()
    error_headers: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    operation_id: str | None = None
    description: str | None = None
    public: bool = True
    """False: needs a staff session (the document marks it with the `staffSession` security scheme)."""


def operation(op: Operation) -> Callable[[H], H]:
    """Declares what the decorated handler takes and answers (put it outermost, above any wrapper)."""

    def mark(handler: H) -> H:
        setattr(handler, ATTRIBUTE, op)
        return handler

    return mark


def declared(handler: Any) -> Operation | None:
    """The declaration of a handler, or None."""
    op = getattr(handler, ATTRIBUTE, None)
    return op if isinstance(op, Operation) else None


def _inline(node: Any, defs: Mapping[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def json_schema(model: type[BaseModel] | tuple[type[BaseModel], ...] | Mapping[str, Any], *, reply: bool = False
                ) -> Schema:
    """The JSON schema of a model (`$defs` inlined: it is embedded in a larger document), of any of several
    models, or a schema as is. `reply`: the model as it is serialized (a reply), else as it is validated."""
    if isinstance(model, tuple):
        return {"anyOf": [json_schema(m, reply=reply) for m in model]}
    if not isinstance(model, type):
        return dict(model)
    schema = model.model_json_schema(mode="serialization" if reply else "validation")
    out: Schema = _inline(schema, schema.get("$defs", {}))
    return out


def _error(description: str, headers: Mapping[str, str] | None = None) -> Schema:
    out: Schema = {"description": description, "content": {JSON: {"schema": {"$ref": ERROR_REF}}}}
    if headers:
        out["headers"] = {name: {"description": text, "schema": {"type": "string"}} for name, text in headers.items()}
    return out


def _reply(reply: Reply) -> Schema:
    out: Schema = {"description": reply.description}
    if reply.body is not None:
        out["content"] = {JSON: {"schema": json_schema(reply.body, reply=True)}}
    elif reply.media and reply.media != (JSON,):
        out["content"] = {m: {"schema": {"type": "string", "contentMediaType": m}} for m in reply.media}
    if reply.headers:
        out["headers"] = {name: {"description": text, "schema": {"type": "string"}}
                          for name, text in reply.headers.items()}
    if reply.links:
        out["links"] = {name: dict(link) for name, link in reply.links.items()}
    return out


def _parameters(model: type[BaseModel], where: str) -> list[Schema]:
    schema = json_schema(model)
    required = set(schema.get("required", ()))
    return [{"name": name, "in": where, "required": where == "path" or name in required, "schema": prop,
             **({"description": prop["description"]} if "description" in prop else {})}
            for name, prop in schema.get("properties", {}).items()]


def _form_schema(form: Form) -> tuple[Schema, Schema]:
    """The multipart body's schema and its encoding (the text fields first, the file part last)."""
    schema = json_schema(form.fields)
    props: Schema = {**schema.get("properties", {}),
                     form.file_field: {"type": "string", "contentMediaType": "application/octet-stream",
                                       "description": f"the image ({form.file_media}), sent last"}}
    out: Schema = {"type": "object", "properties": props, "additionalProperties": False,
                   "required": [*schema.get("required", []), form.file_field]}
    encoding = {form.file_field: {"contentType": form.file_media.replace(" ", "")}}
    return out, encoding


def operation_object(op: Operation, path_names: list[str]) -> Schema:
    """The OpenAPI 3.1 operation of a declaration; `path_names`: the path template's parameters in order."""
    params: list[Schema] = []
    declared_path = {p["name"]: p for p in _parameters(op.path, "path")} if op.path is not None else {}
    for name in path_names:
        params.append(declared_path.get(name) or {"name": name, "in": "path", "required": True,
                                                   "schema": {"type": "string"}})
    if op.query is not None:
        params += _parameters(op.query, "query")
    params += [{"name": h.name, "in": h.where, "required": h.required, "description": h.description,
                "schema": dict(h.schema)} for h in op.headers]
    out: Schema = {"summary": op.summary, "tags": list(op.tags)}
    if op.description:
        out["description"] = op.description
    if op.operation_id:
        out["operationId"] = op.operation_id
    if params:
        out["parameters"] = params
    if op.body is not None:
        out["requestBody"] = {"required": op.body_required, "content": {JSON: {"schema": json_schema(op.body)}}}
    elif op.form is not None:
        schema, encoding = _form_schema(op.form)
        out["requestBody"] = {"required": True, "content": {"multipart/form-data": {
            "schema": schema, "encoding": encoding}}}
    responses: Schema = {str(status): _reply(reply) for status, reply in op.replies.items()}
    for status, description in op.errors.items():
        responses[str(status)] = _error(description, op.error_headers.get(status))
    out["responses"] = dict(sorted(responses.items()))
    if not op.public:
        out["security"] = [{"staffSession": []}]
    return out
