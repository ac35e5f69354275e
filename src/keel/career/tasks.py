"""The career domain's scheduled job, run by Huey (``keel tasks``; found by djhuey's
autodiscovery).

* ``daily`` (00:45 UTC): every delivered milestone whose review window has closed is
  released to the worker (``services.auto_release_due``), on the day the window closed.
  A released milestone is no longer delivered and each release carries the key
  ``auto-release``, so the job can run every day, be retried or run twice at once and
  releases nothing twice; a missed day is caught up by the next run.

One milestone's refusal (say, its income cannot be booked for want of an exchange rate)
does not stop the others: it is logged, the rest are released, and the job then fails
naming it so Huey reports it and a retry redoes only what is missing.
"""

from __future__ import annotations

import logging
from datetime import date

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from . import services

logger = logging.getLogger(__name__)


class ScheduledJobError(RuntimeError):
    """Some milestones could not be released; the others were."""


def daily(today: date | None = None) -> services.AutoReleaseReport:
    """Release what is due on ``today`` (the worker's calendar day by default)."""
    report = services.auto_release_due(today or timezone.localdate())
    for milestone_id, reason in sorted(report.failures.items()):
        logger.error("career auto-release refused for milestone %s: %s", milestone_id, reason)
    return report


def _daily_job() -> None:
    report = daily()
    if report.failures:
        named = "; ".join(
            f"milestone {pk}: {reason}" for pk, reason in sorted(report.failures.items())
        )
        raise ScheduledJobError(
            f"career.daily failed for {len(report.failures)} milestone(s): {named}"
        )


daily_run = db_periodic_task(crontab(minute="45", hour="0"), name="career.daily")(_daily_job)
