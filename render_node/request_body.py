"""Request bodies of the node's upload and JSON routes, read in one place: capped (413 from Content-Length before
reading, or as soon as the body runs past), sent as the right media type (415), and validated by the route's
pydantic model with the first bad field named (422 `invalid_input`)."""

from __future__ import annotations

import json
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from render_node.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

M = TypeVar("M", bound=BaseModel)
_CHUNK_BYTES = 64 * 1024


async def read_capped(request: web.Request, limit: int) -> bytes:
    """The body, at most `limit` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"the body is {request.content_length} bytes; at most {limit} bytes")
    buf = bytearray()
    while True:
        chunk = await request.content.read(min(_CHUNK_BYTES, limit + 1 - len(buf)))
        if not chunk:
            return bytes(buf)
        buf.extend(chunk)
        if len(buf) > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes")


def require_json(request: web.Request, shape: str) -> None:
    """415 unless the body is sent as application/json; `shape` shows the client what to send."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType(f"send the body as application/json: {shape}")


def first_error(exc: ValidationError, where: str = "body") -> tuple[str, str]:
    """The first bad field of a pydantic error as (its dotted path, the message)."""
    first = exc.errors()[0]
    return ".".join(str(x) for x in first["loc"]) or where, str(first["msg"])


async def read_model(request: web.Request, model: type[M], limit: int, shape: str) -> M:
    """A JSON body of at most `limit` bytes as `model`."""
    require_json(request, shape)
    raw = await read_capped(request, limit)
    try:
        return model.model_validate(json.loads(raw))
    except ValidationError as exc:
        field, message = first_error(exc)
        raise InvalidInput(f"{field}: {message}") from None
    except (ValueError, RecursionError):
        raise InvalidInput("the body is not valid JSON") from None
