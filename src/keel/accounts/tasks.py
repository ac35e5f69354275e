"""Delivering email (found by djhuey's autodiscovery; run by ``keel tasks``)."""

from __future__ import annotations

from django.core.mail import send_mail
from huey.contrib.djhuey import task

# A mail server that is down for a while must not lose a reset link or an invitation: the
# runner tries again, every two minutes for about half an hour.
RETRIES = 15
RETRY_DELAY_SECONDS = 120


@task(retries=RETRIES, retry_delay=RETRY_DELAY_SECONDS, name="accounts.deliver")  # type: ignore[untyped-decorator]
def deliver(to: str, subject: str, body: str) -> None:
    send_mail(subject, body, None, [to], fail_silently=False)
