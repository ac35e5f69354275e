"""Income's scheduled jobs: registered on the schedule they promise, and idempotent (a
second run changes nothing). The suite's queue runs a task inside the call that queues it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from keel.accounts.services import create_worker
from keel.income import services as income
from keel.income import tasks
from keel.ledger import services as ledger
from keel.ledger.models import Journal, Leg


@pytest.fixture
def paid_on_the_25th(db):
    """Ana: a $3,000.00 salary on the 25th, $5,000.00 in her buffer."""
    worker = create_worker("ana@example.org", name="Ana Lima", password=None, currency="USD")
    settings = income.income_settings(worker)
    settings.salary, settings.salary_day = 300_000, 25
    settings.save()
    ledger.post_journal(
        ledger.JournalSpec(
            "fund-buffer",
            "transfer",
            date(2026, 3, 1),
            (
                ledger.LegSpec(f"worker:{worker.pk}:buffer", 500_000, "USD"),
                ledger.LegSpec(f"worker:{worker.pk}:cash", -500_000, "USD"),
            ),
        )
    )
    return worker


def books(worker) -> tuple[int, int, int, int]:
    return (
        Journal.objects.count(),
        Leg.objects.count(),
        ledger.balance(f"worker:{worker.pk}:buffer").posted,
        ledger.balance(f"worker:{worker.pk}:cash").posted,
    )


def utc(*when: int) -> datetime:
    # huey's scheduler checks periodic tasks against naive UTC times (utc=True).
    return datetime(*when, tzinfo=UTC).replace(tzinfo=None)


def test_pay_salaries_runs_every_day_just_after_midnight():
    task = tasks.pay_salaries.task_class()
    assert task.validate_datetime(utc(2026, 3, 25, 0, 15))
    assert not task.validate_datetime(utc(2026, 3, 25, 0, 14))
    assert not task.validate_datetime(utc(2026, 3, 25, 1, 15))


def test_pay_salaries_twice_pays_once(paid_on_the_25th):
    worker = paid_on_the_25th
    before = books(worker)
    assert tasks.pay_salaries.call_local(date(2026, 3, 25)) == ["ana@example.org: paid"]
    after_first = books(worker)
    assert after_first == (before[0] + 1, before[1] + 2, 200_000, -200_000)
    assert tasks.pay_salaries.call_local(date(2026, 3, 25)) == ["ana@example.org: already paid"]
    assert books(worker) == after_first


def test_pay_salaries_through_the_queue(paid_on_the_25th):
    # Queued as the scheduler queues it; the suite's queue runs it at once.
    tasks.pay_salaries(date(2026, 3, 25))
    tasks.pay_salaries(date(2026, 3, 25))
    assert books(paid_on_the_25th)[2:] == (200_000, -200_000)


def test_pay_salaries_on_a_day_nobody_is_paid_changes_nothing(paid_on_the_25th):
    before = books(paid_on_the_25th)
    assert tasks.pay_salaries.call_local(date(2026, 3, 24)) == []
    assert books(paid_on_the_25th) == before
