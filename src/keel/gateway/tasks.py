"""The gateway's scheduled jobs, run by Huey (``keel tasks``; found by djhuey's task
autodiscovery).

Each job is idempotent: running it twice, or twice at once, changes nothing the second time,
because the services it calls are (a period is closed once and found again afterwards; a
month's minimum top-up is one event with a fixed id per worker and month). So the
scheduler may retry a job, run it late, or run the catch-up job beside the others, and the
books stay the same.

* ``close_clearing`` (daily, 00:05 UTC): each platform's last whole clearing period.
* ``monthly_minimums`` (the 1st, 00:15 UTC): every platform's monthly minimums for the
  month that just ended.
* ``premiums`` (the 1st, 01:00 UTC): this month's plan premiums from each enrolled
  worker's health bucket (an enrollment is charged once a month; an empty bucket leaves an
  unpaid charge the worker sees).
* ``catch_up`` (daily, 03:00 UTC): repairs what a stopped scheduler missed. Minimums for
  every month that ended in the catch-up window first (their top-ups then land in the next
  batch), then every missed clearing period oldest first, so each batch holds its own
  period's contributions.

The plain functions take the day to act as of, so tests and ``keel`` commands can run them
for any day; the Huey tasks call them for today. One platform's error (the gateway's, or the
ledger's refusal of a journal, which rolls that journal back whole) does not stop the
others: it is logged, the rest are done, and the job then fails naming it (so Huey reports
it and a retry redoes only what is still missing).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from keel.ledger.rules import LedgerError

from . import services
from .errors import GatewayError
from .models import Platform

logger = logging.getLogger(__name__)


class ScheduledJobError(RuntimeError):
    """Some platforms failed in a scheduled job; the others were done."""


@dataclass
class JobReport:
    """What a run did, by platform slug: batches closed, top-up events created."""

    batches: dict[str, list[int]] = field(default_factory=dict)
    top_ups: dict[str, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def raise_failures(self, job: str) -> None:
        if self.failures:
            named = "; ".join(f"{slug}: {reason}" for slug, reason in sorted(self.failures.items()))
            raise ScheduledJobError(f"{job} failed for {len(self.failures)} platform(s): {named}")


def _each_platform(report: JobReport, job: str, work: Callable[[Platform], None]) -> None:
    for platform in Platform.objects.order_by("pk"):
        try:
            work(platform)
        except (GatewayError, LedgerError) as exc:
            logger.exception("%s failed for platform %s", job, platform.slug)
            report.failures[platform.slug] = exc.message


def previous_month(today: date) -> date:
    """The first day of the month before ``today``'s."""
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def months_ended_within(today: date, days: int) -> list[date]:
    """First days of the months whose last day falls in the ``days`` before ``today``,
    oldest first (always at least the previous month)."""
    first_day = today - timedelta(days=days)
    months = [previous_month(today)]
    while months[-1] - timedelta(days=1) >= first_day:  # the month before ended in the window
        months.append(previous_month(months[-1]))
    return sorted(months)


# ---------------------------------------------------------------------------- jobs


def close_clearing(today: date | None = None) -> JobReport:
    """Close each platform's last whole clearing period (``services.close_due``)."""
    report = JobReport()
    for batch in services.close_due(today or timezone.localdate()):
        report.batches.setdefault(batch.platform.slug, []).append(batch.pk)
    return report


def run_monthly_minimums(month: date, report: JobReport) -> None:
    def top_up(platform: Platform) -> None:
        result = services.close_month_minimums(platform, month)
        created = result.created if result is not None else 0
        if created:
            report.top_ups[platform.slug] = report.top_ups.get(platform.slug, 0) + created

    _each_platform(report, f"monthly minimums for {month:%Y-%m}", top_up)


def monthly_minimums(today: date | None = None) -> JobReport:
    """Every platform's monthly minimums for the month before ``today``."""
    report = JobReport()
    run_monthly_minimums(previous_month(today or timezone.localdate()), report)
    report.raise_failures("monthly minimums")
    return report


def premiums(today: date | None = None) -> int:
    """Charge this month's premiums; returns how many charges this run made."""
    today = today or timezone.localdate()
    return len(services.charge_premiums(today.replace(day=1)))


def catch_up(today: date | None = None, *, days: int = services.CATCH_UP_DAYS) -> JobReport:
    """Minimums for every month that ended in the last ``days`` days, then every clearing
    period that ended in them and was not closed, oldest first."""
    today = today or timezone.localdate()
    report = JobReport()
    for month in months_ended_within(today, days):
        run_monthly_minimums(month, report)
    services.charge_premiums(today.replace(day=1))
    for batch in services.close_missed(today, days=days):
        report.batches.setdefault(batch.platform.slug, []).append(batch.pk)
    report.raise_failures("catch-up")
    return report


# ---------------------------------------------------------------------------- schedule
# Registered without decorator syntax: Huey is untyped, and the functions above stay
# plain, typed and callable for any day. ``<task>.call_local(day)`` runs one directly.

daily_clearing_close = db_periodic_task(
    crontab(minute="5", hour="0"), name="gateway.close_clearing"
)(close_clearing)
month_start_minimums = db_periodic_task(
    crontab(minute="15", hour="0", day="1"), name="gateway.monthly_minimums"
)(monthly_minimums)
monthly_premiums = db_periodic_task(
    crontab(minute="0", hour="1", day="1"), name="gateway.premiums"
)(premiums)
daily_catch_up = db_periodic_task(crontab(minute="0", hour="3"), name="gateway.catch_up")(catch_up)
