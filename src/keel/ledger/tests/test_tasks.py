"""The ledger's scheduled job: hourly, and a second run expires nothing more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from keel.ledger import services, tasks
from keel.ledger.models import Journal, JournalStatus
from keel.ledger.rules import JournalSpec, LegSpec

CASH, SAVINGS, INCOME = "worker:1:cash", "worker:1:savings", "worker:1:income:upwork"


def utc(*when: int) -> datetime:
    # huey's scheduler checks periodic tasks against naive UTC times (utc=True).
    return datetime(*when, tzinfo=UTC).replace(tzinfo=None)


def test_expire_pending_runs_every_hour():
    task = tasks.expire_pending.task_class()
    assert task.validate_datetime(utc(2026, 3, 25, 0, 5))
    assert task.validate_datetime(utc(2026, 3, 25, 13, 5))
    assert not task.validate_datetime(utc(2026, 3, 25, 13, 6))


def test_expire_pending_twice_expires_once(books):
    services.post_journal(
        JournalSpec(
            "in",
            "income",
            timezone.localdate(),
            (LegSpec(CASH, 1_000, "USD"), LegSpec(INCOME, -1_000, "USD")),
        )
    )
    held = services.reserve(
        JournalSpec(
            "hold",
            "escrow",
            timezone.localdate(),
            (LegSpec(SAVINGS, 400, "USD"), LegSpec(CASH, -400, "USD")),
        ),
        timeout=timedelta(hours=1),
    )
    assert services.balance(CASH).available == 600
    later = timezone.now() + timedelta(hours=2)
    assert tasks.expire_pending.call_local(later) == 1
    expired = Journal.objects.get(pk=held.id)
    assert expired.status == JournalStatus.EXPIRED
    assert services.balance(CASH).available == 1_000
    assert tasks.expire_pending.call_local(later) == 0
    assert Journal.objects.get(pk=held.id).resolved_at == expired.resolved_at
    assert services.balance(CASH).available == 1_000
    assert services.verify().ok
