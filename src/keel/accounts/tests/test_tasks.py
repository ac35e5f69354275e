"""The accounts' scheduled job: every hour, sign-ups whose link has expired are deleted,
whether or not anyone signs up again; a second run deletes nothing more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.core import mail
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from keel.accounts import tasks
from keel.accounts.models import Role, SignupRequest

NOW = datetime(2026, 11, 29, 20, 20, tzinfo=UTC)


def signup(email: str, age: timedelta, *, now: datetime = NOW) -> SignupRequest:
    return SignupRequest.objects.create(
        email=email,
        name=email.split("@")[0].title(),
        home_currency="USD",
        role=Role.WORKER.value,
        password="!unused",
        token_digest=email.ljust(64, "0")[:64],
        created_at=now - age,
    )


def due_at(*when: int) -> set[str]:
    """The periodic tasks the task runner's scheduler finds due at that minute (UTC)."""
    return {task.name for task in HUEY.read_periodic(datetime(*when, tzinfo=UTC))}


def test_the_purge_is_scheduled_every_hour_at_twenty_past() -> None:
    name = tasks.purge_signups.task_class().name
    assert name == "accounts.purge_signups"
    assert name in due_at(2026, 11, 28, 0, 20)
    assert name in due_at(2026, 11, 28, 13, 20)
    assert name not in due_at(2026, 11, 28, 13, 21)


def test_sign_ups_older_than_their_day_are_deleted_once(db: None) -> None:
    signup("stale@example.com", timedelta(hours=24, seconds=1))
    signup("old@example.com", timedelta(days=30))
    # A link exactly 24 hours old still works (pending_signup: created_at >= cutoff).
    signup("edge@example.com", timedelta(hours=24))
    signup("fresh@example.com", timedelta(minutes=5))

    assert tasks.purge_signups.call_local(NOW) == 2
    remaining = sorted(SignupRequest.objects.values_list("email", flat=True))
    assert remaining == ["edge@example.com", "fresh@example.com"]

    assert tasks.purge_signups.call_local(NOW) == 0
    assert sorted(SignupRequest.objects.values_list("email", flat=True)) == remaining
    assert mail.outbox == []


def test_the_task_runner_purges_as_of_the_time_it_runs(db: None) -> None:
    # The runner calls it with no arguments; the test settings run it inside the call.
    now = timezone.now()
    signup("stale@example.com", timedelta(hours=25), now=now)
    fresh = signup("fresh@example.com", timedelta(hours=1), now=now)
    tasks.purge_signups()
    assert list(SignupRequest.objects.values_list("pk", flat=True)) == [fresh.pk]
