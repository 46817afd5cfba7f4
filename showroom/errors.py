"""Errors of the bank's side. Every failure is raised as a subclass of `ShowroomError`.

Each subclass carries a stable machine-readable `code` and the HTTP status the API maps it to,
so one middleware can turn any of them into `{"error": {"code", "message"}}`.
"""

from __future__ import annotations


class ShowroomError(Exception):
    """Base of every error raised by `showroom`."""

    code: str = "showroom_error"
    http_status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(ShowroomError):
    code = "invalid_input"
    http_status = 422


class NotFound(ShowroomError):
    code = "not_found"
    http_status = 404


class UnknownProduct(NotFound):
    code = "unknown_product"


class UnknownVariant(NotFound):
    code = "unknown_variant"


class CatalogInvalid(ShowroomError):
    """The catalog file is malformed; the message names the bad field."""

    code = "catalog_invalid"
    http_status = 500
