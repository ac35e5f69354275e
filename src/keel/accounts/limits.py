"""How django-axes and django-ratelimit see Keel: who is trying to log in, from where, and
the page that tells a locked-out person when to come back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_ratelimit.core import get_usage

from keel.ops.client_address import client_address


def login_username(
    request: HttpRequest, credentials: Mapping[str, Any] | None = None
) -> str | None:
    """The email address a log-in attempt is for, as the log-in form stores it, so that
    "Ana@Example.com" and "ana@example.com" share one failure count."""
    if credentials:
        raw = credentials.get(settings.AXES_USERNAME_FORM_FIELD)
    else:
        raw = request.POST.get(settings.AXES_USERNAME_FORM_FIELD)
    if not raw:
        return None
    return str(raw).strip().lower()


def client_ip(request: HttpRequest) -> str:
    """The caller's IP address, as django-axes reads it (keel.ops.client_address), so the
    log-in lock-out and the API key limits count the same address."""
    return client_address(request) or "unknown"


def cooloff_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: Mapping[str, Any] | None = None,
) -> HttpResponse:
    """What django-axes answers a locked-out log-in with: the site's page, a 429 and when to
    try again."""
    seconds = cooloff_seconds()
    response = render(
        request,
        "accounts/locked_out.html",
        {"minutes": max(1, -(-seconds // 60)), "failure_limit": settings.AXES_FAILURE_LIMIT},
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response


# ------------------------------------------------------------- requests that send email

_MAIL_BY_ADDRESS = "keel.mail.address"
_MAIL_BY_IP = "keel.mail.ip"


def mail_request_wait(request: HttpRequest, email: str) -> int:
    """Count one request that would email `email` (a password reset, a sign-up), per address
    and per IP address (django-ratelimit, in the cache every server shares), and return how
    many seconds to wait when either is over its rate, else 0.

    Both are counted whether or not the address has an account, so being refused says
    nothing about who uses Keel."""
    address = email.strip().lower()
    waits = []
    for group, rate, key in (
        (_MAIL_BY_ADDRESS, settings.KEEL_MAIL_RATE_PER_ADDRESS, lambda g, r: address),
        (_MAIL_BY_IP, settings.KEEL_MAIL_RATE_PER_IP, lambda g, r: client_ip(r)),
    ):
        usage = get_usage(request, group=group, key=key, rate=rate, increment=True)
        if usage is not None and usage["should_limit"]:
            waits.append(max(1, int(usage["time_left"])))
    return max(waits, default=0)


def too_many_mail_requests(seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))
    return (
        "Too many requests for this email address or from your network. Try again in"
        f" {minutes} minute{'s' if minutes != 1 else ''}."
    )
