"""Request logs: one line per request, with a request id that follows the request.

`RequestLogMiddleware` takes the caller's ``X-Request-ID`` (a proxy's or a load balancer's)
or makes one, returns it in the response header, and logs method, path, status, duration
and the user's id under the logger ``keel.request``. `RequestIdFilter` stamps the id on
every other record written while the request runs, so an error's traceback can be matched
to its request. Settings choose the line format (`json_formatter` in production).

Never logged: the query string (it can carry tokens), email addresses, passwords, keys.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from django.utils.functional import SimpleLazyObject, empty
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is kept only if it is short and plain: it goes into every log line, so a
# newline or a megabyte from a caller must not.
_ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

logger = logging.getLogger("keel.request")

_request_id: ContextVar[str | None] = ContextVar("keel_request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        request_id = _request_id.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


def json_formatter() -> JsonFormatter:
    """One JSON object per line: timestamp, level, logger, message, any extra fields, and
    the traceback of an error as ``exc_info``."""
    return JsonFormatter(
        ["levelname", "name", "message"],
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp=True,
        # Django passes the request object along with its own records; its text holds the
        # query string, and the fields that matter are already in the request line.
        reserved_attrs=[*RESERVED_ATTRS, "request", "server_time"],
    )


def _incoming_id(request: HttpRequest) -> str | None:
    value = request.headers.get(REQUEST_ID_HEADER, "")
    return value if _ACCEPTABLE_ID.fullmatch(value) else None


def _user_id(request: HttpRequest) -> int | None:
    # Only a user the request already knows: resolving a lazy session user here would cost
    # a query (or fail while the database is down) just to write a log line.
    user: Any = getattr(request, "user", None)
    if user is None or (isinstance(user, SimpleLazyObject) and user.__dict__["_wrapped"] is empty):
        return None
    return user.pk if user.is_authenticated else None


class RequestLogMiddleware:
    """Outermost middleware, so the duration covers every other layer and the request id is
    set for everything they log."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = _incoming_id(request) or uuid.uuid4().hex
        token = _request_id.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            response[REQUEST_ID_HEADER] = request_id
            logger.info(
                "%s %s %s %.1fms",
                request.method,
                request.path,
                response.status_code,
                duration_ms,
                extra={
                    "request_id": request_id,
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": duration_ms,
                    "user_id": _user_id(request),
                },
            )
            return response
        finally:
            _request_id.reset(token)
