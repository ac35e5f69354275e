"""Log-ins, failed log-ins and log-outs, from Django's own authentication signals, so
every way in (the log-in page, the operators' admin, sign-up) is recorded alike."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.http import HttpRequest

from keel.accounts.models import User

from .services import record, truncated_username


def connect() -> None:
    user_logged_in.connect(logged_in, dispatch_uid="keel-audit-login")
    user_logged_out.connect(logged_out, dispatch_uid="keel-audit-logout")
    user_login_failed.connect(login_failed, dispatch_uid="keel-audit-login-failed")


def logged_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    record("login.succeeded", actor=user, request=request, subject=f"user:{user.pk}")


def logged_out(sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any) -> None:
    # Logging out without being logged in sends the signal with no user: nothing happened.
    if user is not None and user.is_authenticated:
        record("logout", actor=user, request=request, subject=f"user:{user.pk}")


def login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Django has already masked the password in `credentials`; only the name tried is kept.
    tried = truncated_username(credentials.get(User.USERNAME_FIELD) or credentials.get("username"))
    known = User.objects.filter(email__iexact=tried).values_list("pk", flat=True).first()
    record(
        "login.failed",
        request=request,
        subject=f"user:{known}" if known is not None else "",
        details={"username": tried},
    )
