"""Errors of the render node, with their HTTP status. The node's own failures are subclasses of `NodeError`.

The renderer and the glTF reader raise `render_node.render.errors.RenderError` (no HTTP there);
`status_and_code` says how the node answers one of those: `ModelInvalid` -> 422 `model_invalid`, any other
`RenderError` -> 500 `render_failed`,
`RequestInvalid` -> 400 `bad_request`.
"""

from __future__ import annotations

from render_node.render.errors import ModelInvalid, RenderError, RequestInvalid


class NodeError(Exception):
    """Base of every error raised by `render_node`."""

    code: str = "node_error"
    http_status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(NodeError):
    code = "bad_request"
    http_status = 400


class PayloadTooLarge(NodeError):
    code = "payload_too_large"
    http_status = 413


class UnsupportedMediaType(NodeError):
    code = "unsupported_media_type"
    http_status = 415


class InvalidInput(NodeError):
    """A body that is not the route's shape: not JSON, or a field named."""

    code = "invalid_input"
    http_status = 422


class Overloaded(NodeError):
    """No render worker could take the job in time; the client should retry later."""

    code = "overloaded"
    http_status = 503


def status_and_code(exc: NodeError | RenderError) -> tuple[int, str]:
    """The HTTP status and error code the node answers `exc` with."""
    if isinstance(exc, NodeError):
        return exc.http_status, exc.code
    if isinstance(exc, ModelInvalid):
        return 422, "model_invalid"
    if isinstance(exc, RequestInvalid):
        return 400, "bad_request"
    return 500, "render_failed"
