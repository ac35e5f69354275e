"""The scheduled jobs, run directly (``.call_local``): each does its work once, and running
it again changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from keel.accounts.models import User
from keel.gateway import services, tasks
from keel.gateway.models import ClearingBatch, EarningsEvent, Platform
from keel.gateway.services.platforms import receivable_code
from keel.gateway.tests.conftest import event
from keel.ledger import services as ledger
from keel.ledger.models import Journal
from keel.ledger.rules import FloorBreached

POLICY_START = date(2026, 1, 1)
MINIMUM_ONLY = {"currency": "USD", "monthly_minimum": 500}
APRIL_1 = date(2026, 4, 1)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """Set the time the services see (``timezone.now``), e.g. when an event arrives."""

    def set_to(moment: datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return set_to


@pytest.fixture
def minimum(db: None) -> Platform:
    return services.create_platform("Minimum", policy=MINIMUM_ONLY, effective_from=POLICY_START)


def receivable(platform: Platform) -> int:
    return ledger.balance(receivable_code(platform.pk, "USD")).posted


def minimum_events(platform: Platform) -> list[tuple[str, str, int]]:
    return list(
        EarningsEvent.objects.filter(platform=platform, kind="minimum")
        .order_by("event_id")
        .values_list("event_id", "worker_ref", "contribution")
    )


def snapshot() -> tuple[int, int, int]:
    return Journal.objects.count(), EarningsEvent.objects.count(), ClearingBatch.objects.count()


# ---------------------------------------------------------------------------- minimums


def test_alia_one_job_is_already_the_minimum(alia: Platform) -> None:
    # Alia: $5 per cleaning, $5 a month at least. One cleaning in March is $5.00: no top-up.
    services.record_events(alia, [event("c1", "2026-03-10", 8_000, worker_ref="cleaner-1")])
    assert receivable(alia) == 500
    report = tasks.month_start_minimums.call_local(APRIL_1)
    assert report.top_ups == {}
    assert minimum_events(alia) == []
    assert receivable(alia) == 500


def test_minimum_only_policy_tops_up_five_dollars(minimum: Platform, worker: User) -> None:
    services.link_with_code(minimum, "m-1", services.create_link_code(worker))
    services.record_events(
        minimum,
        [
            event("j1", "2026-03-10", 8_000, worker_ref="m-1"),
            # Someone who worked only in April is not topped up for March.
            event("j2", "2026-04-01", 8_000, worker_ref="m-2"),
        ],
    )
    assert receivable(minimum) == 0
    report = tasks.month_start_minimums.call_local(APRIL_1)
    assert report.top_ups == {"minimum": 1}
    assert minimum_events(minimum) == [("minimum:2026-03:m-1", "m-1", 500)]
    top_up = EarningsEvent.objects.get(kind="minimum")
    assert (top_up.status, top_up.worker, top_up.occurred_on) == (
        "credited",
        worker,
        date(2026, 3, 31),
    )
    assert receivable(minimum) == 500
    assert sum(b.balance for b in services.bucket_balances(worker)) == 500

    before = snapshot()
    again = tasks.month_start_minimums.call_local(APRIL_1)
    assert again.top_ups == {}
    assert snapshot() == before
    assert receivable(minimum) == 500


def test_minimum_counts_what_was_already_contributed(db: None) -> None:
    # 1% of $100.00 is $1.00; the month is topped up by $4.00 to reach $5.00.
    platform = services.create_platform(
        "Percent", policy={**MINIMUM_ONLY, "rate_bps": 100}, effective_from=POLICY_START
    )
    services.record_events(platform, [event("j1", "2026-03-10", 10_000, worker_ref="p-1")])
    tasks.month_start_minimums.call_local(APRIL_1)
    assert minimum_events(platform) == [("minimum:2026-03:p-1", "p-1", 400)]
    assert receivable(platform) == 500


def test_a_worker_with_no_job_in_the_month_gets_no_minimum(minimum: Platform) -> None:
    services.record_events(minimum, [event("j1", "2026-03-10", 8_000, worker_ref="m-1", jobs=0)])
    assert tasks.month_start_minimums.call_local(APRIL_1).top_ups == {}
    assert minimum_events(minimum) == []


@pytest.mark.parametrize(
    "refusal",
    [
        services.GatewayError("the books are locked", field="platform"),
        # The ledger's own refusal (its journal rolled back whole) is that platform's too.
        FloorBreached("the books are locked", field="legs"),
    ],
    ids=["gateway", "ledger"],
)
def test_one_platform_failing_does_not_stop_the_others(
    minimum: Platform, monkeypatch: pytest.MonkeyPatch, refusal: Exception
) -> None:
    other = services.create_platform("Other", policy=MINIMUM_ONLY, effective_from=POLICY_START)
    for platform in (minimum, other):
        services.record_events(platform, [event("j1", "2026-03-10", 8_000, worker_ref="w")])
    real = services.close_month_minimums

    def failing_for_minimum(platform: Platform, month: date) -> Any:
        if platform.pk == minimum.pk:
            raise refusal
        return real(platform, month)

    monkeypatch.setattr(services, "close_month_minimums", failing_for_minimum)
    with pytest.raises(tasks.ScheduledJobError, match="minimum: the books are locked"):
        tasks.month_start_minimums.call_local(APRIL_1)
    assert minimum_events(other) == [("minimum:2026-03:w", "w", 500)]
    assert minimum_events(minimum) == []
    # The retry does only what is missing.
    monkeypatch.setattr(services, "close_month_minimums", real)
    assert tasks.month_start_minimums.call_local(APRIL_1).top_ups == {"minimum": 1}
    assert minimum_events(other) == [("minimum:2026-03:w", "w", 500)]


def test_a_late_event_after_the_minimum_does_not_break_the_catch_up(db: None) -> None:
    platform = services.create_platform(
        "Percent", policy={**MINIMUM_ONLY, "rate_bps": 100}, effective_from=POLICY_START
    )
    services.record_events(platform, [event("j1", "2026-03-10", 10_000, worker_ref="p-1")])
    tasks.month_start_minimums.call_local(APRIL_1)  # $1.00 + $4.00 top-up
    # March work reported in April: for p-1 (already topped up) and for p-2 (new).
    services.record_events(
        platform,
        [
            event("j2", "2026-03-20", 10_000, worker_ref="p-1"),
            event("j3", "2026-03-21", 10_000, worker_ref="p-2"),
        ],
    )
    tasks.daily_catch_up.call_local(date(2026, 4, 2))
    assert minimum_events(platform) == [
        ("minimum:2026-03:p-1", "p-1", 400),
        ("minimum:2026-03:p-2", "p-2", 400),
    ]


def test_minimums_twice_under_a_yearly_cap_add_nothing(db: None) -> None:
    # Cap $6.00 a year: March brings $1.00, the top-up $4.00. Run again, the cap's room
    # is $1.00 and the recomputed top-up $1.00, which must not be a conflict.
    platform = services.create_platform(
        "Capped",
        policy={**MINIMUM_ONLY, "rate_bps": 100, "yearly_cap": 600},
        effective_from=POLICY_START,
    )
    services.record_events(platform, [event("j1", "2026-03-10", 10_000, worker_ref="c-1")])
    tasks.month_start_minimums.call_local(APRIL_1)
    before = snapshot()
    tasks.month_start_minimums.call_local(APRIL_1)
    assert snapshot() == before
    assert minimum_events(platform) == [("minimum:2026-03:c-1", "c-1", 400)]


# ---------------------------------------------------------------------------- clearing


@pytest.fixture
def tenth(db: None) -> Platform:
    return services.create_platform(
        "Tenth", policy={"currency": "USD", "rate_bps": 1000}, effective_from=POLICY_START
    )


def test_daily_close_closes_once(tenth: Platform) -> None:
    today = timezone.localdate()
    services.record_events(
        tenth,
        [
            event("a", today.isoformat(), 10_000, worker_ref="w1"),
            event("b", today.isoformat(), 25_000, worker_ref="w2"),
        ],
    )
    tomorrow = today + timedelta(days=1)
    report = tasks.daily_clearing_close.call_local(tomorrow)
    [batch] = ClearingBatch.objects.all()
    assert report.batches == {"tenth": [batch.pk]}
    assert (batch.period_start, batch.owed, batch.event_count) == (today, 3_500, 2)
    before = snapshot()
    tasks.daily_clearing_close.call_local(tomorrow)
    assert snapshot() == before
    batch.refresh_from_db()
    assert (batch.owed, batch.event_count) == (3_500, 2)


def test_catch_up_after_the_scheduler_was_down(
    tenth: Platform, minimum: Platform, clock: Callable[[datetime], None]
) -> None:
    # Work on 30 and 31 March, then nothing ran until 2 April.
    for day in (date(2026, 3, 30), date(2026, 3, 31)):
        clock(datetime(day.year, day.month, day.day, 12, tzinfo=UTC))
        tag = f"{day:%d}"
        services.record_events(tenth, [event(f"t{tag}", day.isoformat(), 10_000, worker_ref="t")])
        services.record_events(minimum, [event(f"m{tag}", day.isoformat(), 5_000, worker_ref="m")])
    clock(datetime(2026, 4, 2, 3, tzinfo=UTC))
    report = tasks.daily_catch_up.call_local(date(2026, 4, 2))
    assert report.top_ups == {"minimum": 1}
    assert minimum_events(minimum) == [("minimum:2026-03:m", "m", 500)]
    # Each missed day has its own batch; the top-up arrived today, so it waits for today's.
    batches = {
        (b.platform.slug, b.period_start): (b.owed, b.event_count)
        for b in ClearingBatch.objects.select_related("platform")
    }
    assert batches == {
        ("tenth", date(2026, 3, 30)): (1_000, 1),
        ("tenth", date(2026, 3, 31)): (1_000, 1),
    }
    before = snapshot()
    again = tasks.daily_catch_up.call_local(date(2026, 4, 2))
    assert (again.top_ups, again.batches) == ({}, {})
    assert snapshot() == before
    # The next day's close takes the top-up.
    clock(datetime(2026, 4, 3, 0, 5, tzinfo=UTC))
    tasks.daily_clearing_close.call_local(date(2026, 4, 3))
    top_up_batch = EarningsEvent.objects.get(kind="minimum").clearing_batch
    assert top_up_batch is not None
    assert (top_up_batch.period_start, top_up_batch.owed) == (date(2026, 4, 2), 500)


# ---------------------------------------------------------------------------- schedule


@pytest.mark.parametrize(
    ("today", "days", "months"),
    [
        (date(2026, 3, 20), 35, [date(2026, 2, 1)]),
        (date(2026, 3, 2), 35, [date(2026, 1, 1), date(2026, 2, 1)]),
        (date(2026, 1, 1), 35, [date(2025, 11, 1), date(2025, 12, 1)]),
        (date(2026, 1, 10), 1, [date(2025, 12, 1)]),
    ],
)
def test_months_ended_within(today: date, days: int, months: list[date]) -> None:
    assert tasks.months_ended_within(today, days) == months


@pytest.mark.parametrize(
    ("task", "runs_at", "not_at"),
    [
        (
            "daily_clearing_close",
            datetime(2026, 3, 2, 0, 5, tzinfo=UTC),
            datetime(2026, 3, 2, 0, 6, tzinfo=UTC),
        ),
        (
            "month_start_minimums",
            datetime(2026, 3, 1, 0, 15, tzinfo=UTC),
            datetime(2026, 3, 2, 0, 15, tzinfo=UTC),
        ),
        (
            "daily_catch_up",
            datetime(2026, 3, 17, 3, 0, tzinfo=UTC),
            datetime(2026, 3, 17, 4, 0, tzinfo=UTC),
        ),
    ],
)
def test_schedule(task: str, runs_at: datetime, not_at: datetime) -> None:
    periodic = getattr(tasks, task).task_class()
    assert periodic.validate_datetime(runs_at)
    assert not periodic.validate_datetime(not_at)


def test_the_premium_job_charges_each_enrollment_once_a_month(db: None) -> None:
    from keel.gateway.tests.test_plans import fund_health, members

    plan = services.add_plan("Mutual", "dental", "Dental basic", "USD", 4_000, [(2, 3_000)])
    ana, ben = members(2, plan)
    fund_health(ana, 10_000)
    # Two members reach the $30.00 tier; Ana's bucket pays, Ben's is empty.
    assert tasks.premiums(date(2026, 11, 3)) == 2
    assert tasks.premiums(date(2026, 11, 20)) == 0
    charges = sorted(
        (c.enrollment.worker.email, c.amount, c.paid)
        for c in services.premium_history(ana) + services.premium_history(ben)
    )
    assert charges == [(ana.email, 3_000, True), (ben.email, 3_000, False)]
    assert services.bucket_balance(ana, "health", "USD") == 7_000
