"""The daily job: milestones whose review window has closed are released, once; one that
cannot be released does not stop the others and fails the job by name."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from keel.accounts.models import User
from keel.career import services, tasks
from keel.career.models import MilestoneState

from .conftest import make_contract, milestones


def utc(*when: int) -> datetime:
    # huey's scheduler checks periodic tasks against naive UTC times (utc=True).
    return datetime(*when, tzinfo=UTC).replace(tzinfo=None)


def delivered(worker: User, currency: str = "EUR"):  # type: ignore[no-untyped-def]
    m = milestones(make_contract(worker, 100_000, currency=currency))[0]
    m = services.fund_milestone(m, on=date(2026, 2, 20), recorded_by=worker)
    return services.deliver_milestone(m, on=date(2026, 3, 1), recorded_by=worker)


def test_the_job_runs_every_day_after_midnight() -> None:
    task = tasks.daily_run.task_class()
    assert task.validate_datetime(utc(2026, 3, 15, 0, 45))
    assert not task.validate_datetime(utc(2026, 3, 15, 0, 44))
    assert not task.validate_datetime(utc(2026, 3, 15, 1, 45))


def test_daily_releases_what_is_due_once(maya: User) -> None:
    m = delivered(maya)
    assert tasks.daily(date(2026, 3, 14)).released == []
    assert tasks.daily(date(2026, 3, 15)).released == [m.pk]
    assert tasks.daily(date(2026, 3, 16)).released == []
    m.refresh_from_db()
    assert m.state == MilestoneState.RELEASED


def test_one_refusal_does_not_stop_the_others_and_fails_the_job(
    maya: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_rate = delivered(maya, currency="USD")  # no USD→EUR rate: income cannot be booked
    fine = delivered(maya)
    monkeypatch.setattr(tasks.timezone, "localdate", lambda: date(2026, 3, 15))
    with pytest.raises(tasks.ScheduledJobError, match=f"milestone {no_rate.pk}: "):
        tasks._daily_job()
    fine.refresh_from_db()
    no_rate.refresh_from_db()
    assert fine.state == MilestoneState.RELEASED
    assert no_rate.state == MilestoneState.DELIVERED and no_rate.reserved == 100_000
