"""One error shape for the whole API, and the handlers that produce it.

Every error body is::

    {"error": {"code": "...", "message": "...", "field": "legs.0.amount" | null,
               "details": [{"code": "...", "message": "...", "field": ...}, ...]}}

`code` is stable and meant for programs; `message` is for people and may change; `field`
is a dotted path into the request (query parameter, path parameter or body), the same
convention in every domain, so a client can put the message next to the right input.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from django.db import OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from keel.ledger.rules import IdempotencyConflict, LedgerError, UnknownAccount
from keel.sqlite_backend.base import is_busy

from .keys import ApiKeyError

logger = logging.getLogger("keel.api")

# What a 503 for a busy database asks the client to wait before sending the request again.
BUSY_RETRY_AFTER_SECONDS = 5


class ErrorDetail(Schema):
    code: str
    message: str
    field: str | None = None


class ErrorBody(Schema):
    code: str
    message: str
    field: str | None = None
    details: list[ErrorDetail] = []


class ErrorOut(Schema):
    error: ErrorBody


class ApiError(Exception):
    """An error the API reports as is. Raise a subclass (or this with status and code)
    from an endpoint or an auth class."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        status: int | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.headers = dict(headers or {})


class NotAuthenticated(ApiError):
    status = 401
    code = "not_authenticated"


class InvalidApiKey(ApiError):
    status = 401
    code = "invalid_api_key"


class InsufficientScope(ApiError):
    status = 403
    code = "insufficient_scope"


class CsrfFailed(ApiError):
    status = 403
    code = "csrf_failed"


class SessionRequired(ApiError):
    status = 403
    code = "session_required"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class ServiceUnavailable(ApiError):
    status = 503
    code = "service_unavailable"


# Ninja's own HttpErrors (unparseable body, throttling) carry only a status.
_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    429: "throttled",
}
# Ninja prefixes each validation error's location with where the value came from.
_SOURCES = frozenset({"path", "query", "header", "cookie", "body", "form", "file"})
# Authentication challenge for 401s (RFC 6750), so generic HTTP clients know what to send.
_CHALLENGE = 'Bearer realm="keel"'


def dotted(field: str | None) -> str | None:
    """`legs[0].amount` (the ledger's spelling) -> `legs.0.amount` (the API's)."""
    if field is None:
        return None
    return re.sub(r"\[(\d+)\]", r".\1", field)


def field_from_loc(loc: Sequence[Any]) -> str | None:
    parts = list(loc)
    source = parts.pop(0) if parts and parts[0] in _SOURCES else None
    # A schema body arrives under the view's parameter name (`payload`), which the
    # client never wrote; drop it unless it is all there is (the whole body is missing).
    if source == "body" and len(parts) > 1:
        parts.pop(0)
    return ".".join(str(part) for part in parts) or None


def error_body(
    code: str,
    message: str,
    field: str | None = None,
    details: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field, "details": list(details)}}


def error_response(
    api: NinjaAPI,
    request: HttpRequest,
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    details: Iterable[Mapping[str, Any]] = (),
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    response = api.create_response(
        request, error_body(code, message, field, details), status=status
    )
    if status == 401:
        response.setdefault("WWW-Authenticate", _CHALLENGE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def with_errors(ok: Mapping[int, Any], *statuses: int) -> dict[int, Any]:
    """An operation's `response=` mapping: its success schemas plus ErrorOut for each error
    status it can return. 500 and 503 are always there: any operation can fail unexpectedly
    or find the database busy."""
    result: dict[int, Any] = dict(ok)
    for status in (*statuses, 500, 503):
        result[status] = ErrorOut
    return result


def install_error_handlers(api: NinjaAPI) -> None:
    """Replace Ninja's default handlers (which answer `{"detail": ...}` or, for unexpected
    exceptions outside DEBUG, an HTML page) with ones that speak the error shape above."""

    def on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        return error_response(
            api, request, exc.status, exc.code, exc.message, exc.field, headers=exc.headers
        )

    def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        details: list[dict[str, str | None]] = [
            {
                "code": str(error.get("type", "invalid")),
                "message": str(error.get("msg", "invalid value")),
                "field": field_from_loc(error.get("loc", ())),
            }
            for error in exc.errors
        ]
        if not details:  # pragma: no cover - Ninja always sends at least one
            details = [{"code": "invalid", "message": "invalid request", "field": None}]
        field, text = details[0]["field"], str(details[0]["message"])
        message = f"{field}: {text}" if field else text
        if len(details) > 1:
            message += f" (and {len(details) - 1} more)"
        return error_response(api, request, 422, "validation_error", message, field, details)

    def on_ledger_error(request: HttpRequest, exc: LedgerError) -> HttpResponse:
        status = 422
        if isinstance(exc, IdempotencyConflict):
            status = 409
        elif isinstance(exc, UnknownAccount) and _names_path_parameter(request, exc.field):
            # The account is the resource the URL names: it is not there (for this caller).
            status = 404
        return error_response(api, request, status, exc.code, exc.message, dotted(exc.field))

    def on_key_error(request: HttpRequest, exc: ApiKeyError) -> HttpResponse:
        status = 404 if exc.code == "not_found" else 422
        return error_response(api, request, status, exc.code, exc.message, exc.field)

    def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return error_response(
            api,
            request,
            401,
            "not_authenticated",
            "sign in, or send an API key as 'Authorization: Bearer keel_...' or 'X-API-Key'",
        )

    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(api, request, exc.status_code, code, str(exc))

    def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        # Django's message may name a model or a lookup; the client needs only the fact.
        return error_response(api, request, 404, "not_found", "not found")

    def on_unparseable_form(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
        # Reached when the session's CSRF check reads a form body whose Content-Type claims
        # multipart without a valid boundary: the client's fault, as Django itself answers.
        return error_response(
            api, request, 400, "bad_request", f"the request body could not be parsed: {exc}"
        )

    def on_database_error(request: HttpRequest, exc: OperationalError) -> HttpResponse:
        if not is_busy(exc):
            return on_unexpected(request, exc)
        # Another transaction kept SQLite's write lock for the whole wait: the request's
        # transaction never began (or was rolled back whole), and the same request can be
        # sent again (earnings events and journals are idempotent by their ids), so it is
        # a 503 to retry, not a 500.
        logger.error(
            "%s %s: the database stayed locked for the whole wait; answered 503",
            request.method,
            request.path,
        )
        return error_response(
            api,
            request,
            503,
            "database_busy",
            "the database is busy with other writes and the request was not carried out;"
            " send it again shortly",
            headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
        )

    def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.exception("unhandled error in %s %s", request.method, request.path, exc_info=exc)
        return error_response(
            api, request, 500, "internal_error", "something went wrong on our side; it is logged"
        )

    handlers: list[tuple[type[Exception], Callable[[HttpRequest, Any], HttpResponse]]] = [
        (ApiError, on_api_error),
        (ValidationError, on_validation_error),
        (LedgerError, on_ledger_error),
        (ApiKeyError, on_key_error),
        (AuthenticationError, on_authentication_error),
        (HttpError, on_http_error),
        (Http404, on_not_found),
        (MultiPartParserError, on_unparseable_form),
        (OperationalError, on_database_error),
        (Exception, on_unexpected),
    ]
    for exc_class, handler in handlers:
        # Ninja picks the handler of the nearest class in the exception's MRO, so the
        # order here does not matter.
        api.exception_handler(exc_class)(handler)


def _names_path_parameter(request: HttpRequest, field: str | None) -> bool:
    match = getattr(request, "resolver_match", None)
    return bool(field and match is not None and field in match.kwargs)


def not_found_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Unknown paths under the API prefix answer in the error shape, not Django's HTML."""
    return JsonResponse(error_body("not_found", f"no API endpoint at {request.path}"), status=404)
