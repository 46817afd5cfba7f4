"""Errors of the render node. Every failure is raised as a subclass of `NodeError`."""

from __future__ import annotations


class NodeError(Exception):
    """Base of every error raised by `render_node`."""

    code: str = "node_error"
    http_status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RenderError(NodeError):
    """The renderer could not make a frame (bad model, GL failure)."""

    code = "render_failed"
    http_status = 500


class ModelInvalid(RenderError):
    """A glTF/GLB file is broken or unsupported; the message says what and where."""

    code = "model_invalid"
    http_status = 422


class BadRequest(NodeError):
    code = "bad_request"
    http_status = 400


class PayloadTooLarge(NodeError):
    code = "payload_too_large"
    http_status = 413


class Overloaded(NodeError):
    """No render worker could take the job in time; the client should retry later."""

    code = "overloaded"
    http_status = 503
