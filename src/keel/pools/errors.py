"""Refusals from the pools domain, with a stable code, the field they are about and the
HTTP status the faces answer with."""

from __future__ import annotations

from typing import Any


class PoolError(ValueError):
    code = "pool_error"
    status = 422

    def __init__(
        self, message: str, *, field: str | None = None, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details or []


class NotFound(PoolError):
    """Also what a person outside a private pool gets: its existence is not theirs to see."""

    code = "not_found"
    status = 404


class NotAllowed(PoolError):
    code = "forbidden"
    status = 403


class Conflict(PoolError):
    code = "conflict"
    status = 409
