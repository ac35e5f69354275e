"""Refusals from the career domain, with a stable code, the field they are about and the
HTTP status the faces answer with."""

from __future__ import annotations


class CareerError(ValueError):
    """A refused career operation; nothing was changed. ``field`` names the offending input
    (``"client_name"``, ``"milestones[1].amount"``, ``"amount"``) so forms can put the
    message beside it."""

    code = "career_error"
    status = 422

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class Conflict(CareerError):
    """The milestone changed since the request was made (another action got there first),
    or an idempotency key was reused for a different action."""

    code = "conflict"
    status = 409
