"""A session counts as logged in only once it has given its second factor, if the person has
two-factor sign-in on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject


def _unverified() -> AnonymousUser:
    anonymous = AnonymousUser()
    # What django_otp's OTPMiddleware gives every user, so code asking stays uniform.
    anonymous.otp_device = None  # type: ignore[attr-defined]
    anonymous.is_verified = lambda: False  # type: ignore[attr-defined]
    return anonymous


def verified_or_anonymous(user: Any) -> Any:
    """The user if their session may act as them, else an anonymous user.

    Keel's own log-in never logs someone with two-factor sign-in on in before their code, but
    a session can be logged in without it: one that was already open when the person turned
    two-factor sign-in on elsewhere, or one opened by Django's admin log-in form. Treating
    those as anonymous holds for every page behind a log-in, the JSON API's session
    authentication and the admin at once, without each of them asking."""
    if (
        user.is_authenticated
        and getattr(user, "two_factor_enabled", False)
        and not user.is_verified()
    ):
        return _unverified()
    return user


class TwoFactorSessionMiddleware:
    """Install after django_otp's OTPMiddleware, which tells whether the session is verified."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        request.user = SimpleLazyObject(partial(verified_or_anonymous, user))  # type: ignore[assignment]
        auser: Callable[[], Awaitable[Any]] | None = getattr(request, "auser", None)
        if auser is not None:

            async def verified_auser() -> Any:
                return await sync_to_async(verified_or_anonymous)(await auser())

            request.auser = verified_auser
        return self.get_response(request)
