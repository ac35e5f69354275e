"""Errors the gateway reports: a stable `code` for programs, a message for people, the
`field` that is wrong (dotted, e.g. `events.3.gross`) and, for a refused batch, one detail
per bad input. Plain Python so rules and services share them."""

from __future__ import annotations

from typing import Any


class GatewayError(ValueError):
    code = "gateway_error"
    status = 422

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code
        self.details = details or []


class NotFound(GatewayError):
    code = "not_found"
    status = 404


class NotAllowed(GatewayError):
    code = "forbidden"
    status = 403


class Conflict(GatewayError):
    code = "conflict"
    status = 409
