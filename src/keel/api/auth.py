"""Who is calling: a person through their browser session, or a machine with an API key.

Endpoints declare `auth=key_or_session` (either) or `auth=session_only` (people only, e.g.
managing keys: a key must not be able to mint keys). Every auth class leaves a `Caller` in
`request.auth`; endpoints that a key may reach call `require_scope(request, "x:y")`.

Order matters in `key_or_session`: explicit key headers are tried first, so a request
that presents a key is judged by that key (a bad key is a 401 even if a session cookie
rides along), and CSRF is only demanded when the session is what authenticates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage
from ninja.security import APIKeyCookie, APIKeyHeader, HttpBearer
from ninja.utils import check_csrf

from keel.accounts.limits import client_ip
from keel.accounts.models import User

from . import keys, services
from .errors import ApiError, CsrfFailed, InsufficientScope, InvalidApiKey, SessionRequired
from .models import ApiKey

API_KEY_HEADER = "X-API-Key"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


@dataclass(frozen=True, slots=True)
class Caller:
    user: User
    api_key: ApiKey | None = None

    @property
    def via(self) -> str:
        return "api_key" if self.api_key is not None else "session"

    @property
    def owner(self) -> tuple[str, int]:
        """Whose books this call acts on, as the ledger names owners: the person's own
        ("worker", user id), or what the key belongs to (e.g. ("platform", 7)), so a key
        handed to a platform's systems never reads its operator's personal books."""
        key = self.api_key
        if key is not None and key.owner_type is not None and key.owner_id is not None:
            return key.owner_type, key.owner_id
        return "worker", self.user.pk

    def has_scope(self, scope: str) -> bool:
        # Scopes limit what a key may do on its user's behalf; a person signed in is
        # limited only by what the endpoints let that person see.
        if self.api_key is None:
            return True
        return keys.has_scope(self.api_key.scopes, scope)


def _key_caller(request: HttpRequest, presented: str) -> Caller:
    _refuse_key_guessing(request)
    key = services.authenticate_key(presented)
    if key is None:
        _count_key_failure(request)
        # Same answer for malformed, unknown, wrong, revoked and expired keys, so the
        # response never confirms that a prefix exists.
        raise InvalidApiKey("the API key is not valid")
    _limit_key(request, key)
    # Code that reads request.user (logging, shared helpers) sees the key's user.
    request.user = key.user
    return Caller(user=key.user, api_key=key)


# Rate limits (django-ratelimit, counted in the Django cache that every server shares): each
# key gets settings.KEEL_API_KEY_RATE requests, and each IP address
# settings.KEEL_API_KEY_FAILURE_RATE presentations of keys that are not valid. Sessions are
# not limited here: people log in through the log-in lock-out.
_KEY_GROUP = "keel.api.key"
_FAILURE_GROUP = "keel.api.key-failures"


def _by_ip(group: str, request: HttpRequest) -> str:
    return client_ip(request)


def _throttled(message: str, usage: dict[str, Any]) -> ApiError:
    # time_left is what remains of the current window: asking again after it succeeds.
    retry_after = max(1, int(usage["time_left"]))
    return ApiError(
        message, status=429, code="throttled", headers={"Retry-After": str(retry_after)}
    )


def _refuse_key_guessing(request: HttpRequest) -> None:
    usage = get_usage(
        request,
        group=_FAILURE_GROUP,
        key=_by_ip,
        rate=settings.KEEL_API_KEY_FAILURE_RATE,
        increment=False,
    )
    if usage is not None and usage["count"] >= usage["limit"]:
        raise _throttled(
            "too many requests with API keys that are not valid came from this address;"
            " wait before trying again",
            usage,
        )


def _count_key_failure(request: HttpRequest) -> None:
    get_usage(
        request,
        group=_FAILURE_GROUP,
        key=_by_ip,
        rate=settings.KEEL_API_KEY_FAILURE_RATE,
        increment=True,
    )


def _limit_key(request: HttpRequest, key: ApiKey) -> None:
    usage = get_usage(
        request,
        group=_KEY_GROUP,
        key=lambda group, request: str(key.pk),
        rate=settings.KEEL_API_KEY_RATE,
        increment=True,
    )
    if usage is not None and usage["should_limit"]:
        raise _throttled(
            f"this API key has made more than {usage['limit']} requests in the current window;"
            " wait before sending more",
            usage,
        )


class ApiKeyBearer(HttpBearer):
    """`Authorization: Bearer keel_<prefix>_<secret>`."""

    def authenticate(self, request: HttpRequest, token: str) -> Caller | None:
        if not token:
            return None
        return _key_caller(request, token)


class ApiKeyHeader(APIKeyHeader):
    """`X-API-Key: keel_<prefix>_<secret>`, for clients that cannot set Authorization."""

    param_name = API_KEY_HEADER

    def authenticate(self, request: HttpRequest, key: str | None) -> Caller | None:
        if not key:
            return None
        return _key_caller(request, key)


class SessionAuth(APIKeyCookie):
    """Django's login session, with Django's CSRF check on unsafe methods.

    Unlike Ninja's `django_auth`, CSRF is checked only once the session has
    authenticated someone, so an anonymous or key-only request is told it is not
    authenticated rather than that its CSRF token is missing."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=False)

    def authenticate(self, request: HttpRequest, key: str | None) -> Caller | None:
        user = request.user
        if not user.is_authenticated:
            if _presents_key(request):
                # Only reachable on session-only endpoints: elsewhere the key classes
                # run first and either accept the key or refuse it.
                raise SessionRequired(
                    "this endpoint is for signed-in people; API keys cannot use it"
                )
            return None
        unsafe = request.method not in _SAFE_METHODS
        exempt = getattr(request, "_ninja_csrf_exempt", False)
        if unsafe and not exempt and check_csrf(request) is not None:
            raise CsrfFailed(
                "CSRF check failed: send the csrftoken cookie's value in the X-CSRFToken header"
            )
        assert isinstance(user, User)
        return Caller(user=user)


def _presents_key(request: HttpRequest) -> bool:
    authorization = request.headers.get("Authorization", "")
    return bool(request.headers.get(API_KEY_HEADER)) or authorization.lower().startswith("bearer ")


key_or_session: list[Any] = [ApiKeyBearer(), ApiKeyHeader(), SessionAuth()]
session_only: list[Any] = [SessionAuth()]


def caller(request: HttpRequest) -> Caller:
    auth = getattr(request, "auth", None)
    if not isinstance(auth, Caller):
        # An endpoint without one of the auth lists above asked who is calling.
        raise TypeError("request.auth is not a Caller; declare auth=key_or_session")
    return auth


def require_scope(request: HttpRequest, scope: str) -> Caller:
    """The caller, if it may act within `scope`; else a 403 `insufficient_scope`.
    Session callers always pass; keys pass if they were granted the scope."""
    if scope not in keys.SCOPES:
        # A typo here would make the endpoint unreachable for every key; fail loudly.
        raise ValueError(f"scope {scope!r} is not registered")
    who = caller(request)
    if not who.has_scope(scope):
        raise InsufficientScope(
            f"this API key lacks the {scope!r} scope",
            field=None,
            headers={
                "WWW-Authenticate": f'Bearer realm="keel", error="insufficient_scope",'
                f' scope="{scope}"'
            },
        )
    return who
