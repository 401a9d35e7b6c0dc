"""Errors that carry JumpCloud's status code and error body.

The body is the spec's ``Error`` schema: ``{"code": int, "message": str, "status": str}``. The
``status`` strings follow the gRPC-style names JumpCloud uses in its examples
(``INVALID_ARGUMENT`` for a 400, see ``fullValidationDetails`` in the v1 spec).
"""

from __future__ import annotations

from typing import Any

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "ALREADY_EXISTS",
    413: "PAYLOAD_TOO_LARGE",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def error_body(code: int, message: str) -> dict[str, Any]:
    """The vendor error envelope for ``code`` with ``message``."""
    return {"code": code, "message": message, "status": STATUS_NAMES.get(code, "UNKNOWN")}


class JumpCloudError(Exception):
    """Base of every emulated API error; ``code`` is the HTTP status."""

    code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message)


class BadRequest(JumpCloudError):
    code = 400


class Unauthorized(JumpCloudError):
    code = 401


class Forbidden(JumpCloudError):
    code = 403


class NotFound(JumpCloudError):
    code = 404


class MethodNotAllowed(JumpCloudError):
    code = 405


class Conflict(JumpCloudError):
    code = 409


class AlreadyExists(Conflict):
    """JumpCloud's "Already Exists" (duplicate group name, existing member or association)."""

    def __init__(self, message: str = "Already Exists") -> None:
        super().__init__(message)
