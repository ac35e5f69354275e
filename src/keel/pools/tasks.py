"""The pools' scheduled jobs, run by Huey (``keel tasks``; found by djhuey's autodiscovery).

* ``daily`` (00:30 UTC): votes whose week is up are closed and counted (one whose outcome
  cannot be carried out yet, such as a passed grant the fund cannot pay, stays open and is
  tried again the next day); every pool gets this month's deposits due; every sick-leave
  fund gets this month's gift run. The run is once per pool and month (a unique row under
  a lock), so the job can run every day, be retried or run twice at once, and each month's
  gifts are given exactly once.
* ``yearly_refunds`` (2 January, 01:00 UTC): reserves above the cap are refunded for the
  year that ended, once per member and year.

One pool's refusal (by its rules or by the ledger, whose refusal rolls that pool's run
back whole) does not stop the others: it is logged, the rest are done, and the job then
fails naming it so Huey reports it and a retry redoes only what is missing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from keel.ledger.rules import LedgerError

from . import services
from .errors import PoolError
from .models import Pool, PoolKind

logger = logging.getLogger(__name__)


class ScheduledJobError(RuntimeError):
    """Some pools failed in a scheduled job; the others were done."""


@dataclass
class DailyReport:
    votes_closed: int = 0
    deposits_added: int = 0
    gift_runs: list[str] = field(default_factory=list)
    refunds: int = 0
    failures: dict[str, str] = field(default_factory=dict)

    def raise_failures(self, job: str) -> None:
        if self.failures:
            named = "; ".join(f"{slug}: {reason}" for slug, reason in sorted(self.failures.items()))
            raise ScheduledJobError(f"{job} failed for {len(self.failures)} pool(s): {named}")


def daily(today: date | None = None) -> DailyReport:
    today = today or timezone.localdate()
    votes = services.close_due_votes()
    report = DailyReport(votes_closed=votes.closed, failures=dict(votes.failures))
    for pool in Pool.objects.order_by("pk"):
        try:
            added, made = services.run_pool_month(pool, today)
        except (PoolError, LedgerError) as exc:
            logger.exception("pools daily job failed for %s", pool.slug)
            report.failures[pool.slug] = exc.message
            continue
        report.deposits_added += added
        if made:
            report.gift_runs.append(pool.slug)
    return report


def yearly_refunds(year: int | None = None) -> DailyReport:
    year = year if year is not None else timezone.localdate().year - 1
    report = DailyReport()
    for pool in Pool.objects.filter(kind=PoolKind.SICK_LEAVE).order_by("pk"):
        try:
            report.refunds += len(services.refund_above_cap(pool, year))
        except (PoolError, LedgerError) as exc:
            logger.exception("yearly refunds failed for %s", pool.slug)
            report.failures[pool.slug] = exc.message
    return report


def _daily_job() -> None:
    daily().raise_failures("pools.daily")


def _refund_job() -> None:
    yearly_refunds().raise_failures("pools.yearly_refunds")


daily_run = db_periodic_task(crontab(minute="30", hour="0"), name="pools.daily")(_daily_job)
yearly_refund_run = db_periodic_task(
    crontab(minute="0", hour="1", day="2", month="1"), name="pools.yearly_refunds"
)(_refund_job)
