"""Email Keel sends to people: rendered here, inside the request, and delivered by the task
queue (``keel.accounts.tasks.deliver``).

Delivery is left to the task runner so that a page answers as fast whether or not it sent
anything: a password reset for an address with an account must not take the mail server's
round trip longer than one for an address without (that difference alone would tell a
stranger who uses Keel). Each message is plain text, from templates under
``accounts/templates/accounts/email/``: ``<name>_subject.txt`` and ``<name>.txt``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, register
from django.core.checks import Warning as CheckWarning
from django.http import HttpRequest
from django.template.loader import render_to_string

from .tasks import deliver


def site_url(request: HttpRequest | None) -> str:
    """The address links in an email start with: the one the person used to reach Keel."""
    if request is None:
        return ""
    return f"{request.scheme}://{request.get_host()}"


def send(
    to: str,
    template: str,
    context: Mapping[str, Any],
    *,
    request: HttpRequest | None = None,
) -> None:
    """Render `template` for `to` and hand it to the task queue."""
    send_rendered(
        to,
        f"accounts/email/{template}_subject.txt",
        f"accounts/email/{template}.txt",
        {"site": site_url(request), **context},
    )


def send_rendered(
    to: str, subject_template: str, body_template: str, context: Mapping[str, Any]
) -> None:
    # A header must be one line, whatever a template's trailing newline or a pool's name.
    subject = " ".join(render_to_string(subject_template, dict(context)).split())
    body = render_to_string(body_template, dict(context))
    deliver(to, subject, body)


@register(deploy=True)
def check_email(**kwargs: Any) -> list[CheckMessage]:
    """`check --deploy`: a production Keel whose mail goes nowhere locks out everyone who
    forgets their password."""
    found: list[CheckMessage] = []
    if not settings.KEEL_EMAIL_HOST:
        found.append(
            CheckWarning(
                f"No mail server is set: email is written to files in {settings.EMAIL_FILE_PATH}"
                " and nobody receives password resets, sign-up confirmations or invitations.",
                hint="Set KEEL_EMAIL_HOST (and KEEL_EMAIL_USER, KEEL_EMAIL_PASSWORD,"
                " KEEL_EMAIL_FROM); see docs/operations.md.",
                id="keel.W001",
            )
        )
    elif settings.DEFAULT_FROM_EMAIL.endswith("@localhost>"):
        found.append(
            CheckWarning(
                f"Email is sent from {settings.DEFAULT_FROM_EMAIL}, which mail servers refuse"
                " or mark as spam.",
                hint="Set KEEL_EMAIL_FROM to an address of your domain, e.g."
                " 'Keel <keel@keel.example.org>'.",
                id="keel.W002",
            )
        )
    return found
