"""Delivering email, and the accounts' scheduled job (found by djhuey's autodiscovery; run
by ``keel tasks``)."""

from __future__ import annotations

import logging
from datetime import datetime

from django.core.mail import send_mail
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, task

logger = logging.getLogger(__name__)

# A mail server that is down for a while must not lose a reset link or an invitation: the
# runner tries again, every two minutes for about half an hour.
RETRIES = 15
RETRY_DELAY_SECONDS = 120


@task(retries=RETRIES, retry_delay=RETRY_DELAY_SECONDS, name="accounts.deliver")  # type: ignore[untyped-decorator]
def deliver(to: str, subject: str, body: str) -> None:
    send_mail(subject, body, None, [to], fail_silently=False)


@db_periodic_task(crontab(minute="20"), name="accounts.purge_signups")  # type: ignore[untyped-decorator]
def purge_signups(now: datetime | None = None) -> int:
    """Every hour: delete sign-ups whose emailed link is more than a day old and so no
    longer works. They were otherwise deleted only when the next sign-up came in, so on a
    quiet site a hashed password and the address of someone who never confirmed stayed for
    good. Idempotent: a second run deletes nothing more."""
    # Imported here: services imports mail, which imports this module for `deliver`.
    from .services import purge_expired_signups

    count = purge_expired_signups(now)
    if count:
        logger.info("%d expired sign-up request(s) deleted", count)
    return count
