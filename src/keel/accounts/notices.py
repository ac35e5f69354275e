"""Telling a person at once, by email, when what guards their account changes: their
password (on the settings page, by a reset link, or set by an operator in the admin) or
two-factor sign-in turned off.

Someone in a session that is not theirs (a laptop left open, a stolen session cookie) can
change the password and lock the owner out, or turn two-factor sign-in off and come back
later with the password alone. Without a message the owner finds out only when they can
no longer log in, if ever. The message goes to the address on the account and says what
changed, when (UTC) and from which network address, and what to do if it was not them.

It is queued only once the change has committed (``transaction.on_commit``): a change that
was refused or rolled back tells nobody it happened.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from keel.ops.client_address import client_address

from . import mail
from .models import User


class Change(StrEnum):
    """What changed; each names its email templates (``accounts/email/<value>*.txt``)."""

    PASSWORD_CHANGED = "password_changed"  # noqa: S105 (a template name)
    PASSWORD_RESET = "password_reset_done"  # noqa: S105
    TWO_FACTOR_OFF = "two_factor_off"
    OPERATOR_SET_PASSWORD = "password_set_by_operator"  # noqa: S105
    OPERATOR_UNSET_PASSWORD = "password_unset_by_operator"  # noqa: S105


def when_text(moment: datetime) -> str:
    """``Sunday 29 November 2026 at 20:04 UTC``: a person reads it in a mail client that
    knows nothing of Keel's clock, so the zone is spelled out."""
    utc = moment.astimezone(UTC)
    return f"{utc:%A} {utc.day} {utc:%B %Y at %H:%M} UTC"


def notify(user: User, change: Change, *, request: HttpRequest | None) -> None:
    """Queue the notice of `change` for `user`, to be sent when the current transaction
    commits (at once outside one)."""
    to = user.email
    context = {
        "site": mail.site_url(request),
        "name": user.get_short_name(),
        "email": to,
        "when": when_text(timezone.now()),
        "address": client_address(request) or "",
    }
    subject = f"accounts/email/{change.value}_subject.txt"
    body = f"accounts/email/{change.value}.txt"
    transaction.on_commit(lambda: mail.send_rendered(to, subject, body, context))
