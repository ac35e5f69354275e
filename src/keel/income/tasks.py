"""Income's background and scheduled jobs, run by `keel tasks` (huey).

Every job is idempotent: running it twice changes nothing the second time, so a retry, a
duplicate delivery or a second task runner is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from . import jobs, services

logger = logging.getLogger(__name__)


@db_task()  # type: ignore[untyped-decorator]
def preview_import(batch_id: int) -> None:
    """Read and check an uploaded file; its batch becomes previewed (or failed)."""
    jobs.run_preview(batch_id)


@db_task()  # type: ignore[untyped-decorator]
def apply_import(batch_id: int) -> None:
    """Book a previewed file, all rows or none."""
    jobs.run_apply(batch_id)


def start_preview(batch_id: int) -> None:
    """Queue the check of an uploaded file; the page polls its progress."""
    _start(batch_id, jobs.Job.PREVIEW, preview_import)


def start_apply(batch_id: int) -> None:
    """Queue the booking of a previewed file; the page polls its progress."""
    _start(batch_id, jobs.Job.APPLY, apply_import)


def _start(batch_id: int, job: jobs.Job, task: Callable[[int], object]) -> None:
    # Queued before it is enqueued: a task runner may finish the job before enqueue returns
    # (in tests the job runs inside the call), and its state must not be overwritten.
    jobs.write_state(batch_id, job, jobs.Stage.QUEUED)
    try:
        task(batch_id)
    except Exception as exc:
        # The queue itself is unreachable (Redis down): say so instead of waiting forever.
        logger.exception("import %s: the %s job could not be queued", batch_id, job)
        message = f"Keel could not queue this job ({type(exc).__name__}); try again shortly"
        jobs.write_state(batch_id, job, jobs.Stage.FAILED, error=message)
        if job == jobs.Job.PREVIEW:
            services.fail_batch(batch_id, message)


@db_periodic_task(crontab(minute="15", hour="0"))  # type: ignore[untyped-decorator]
def pay_salaries(on: date | None = None) -> list[str]:
    """Every day just after midnight (UTC): pay the salaries due today from the buffers.
    A worker already paid for the day is not paid again."""
    day = on or timezone.localdate()
    outcomes = [f"{worker.email}: {outcome}" for worker, outcome in services.pay_salaries_due(day)]
    for line in outcomes:
        if "not paid" in line:
            logger.warning("salary on %s: %s", day.isoformat(), line)
    logger.info("salaries on %s: %d due", day.isoformat(), len(outcomes))
    return outcomes
