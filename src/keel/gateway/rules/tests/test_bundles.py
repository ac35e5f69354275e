"""Steady micro-contract bundles: weeks, committed income, delivery and top-ups, by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.gateway.rules.bundles import (
    BundleTerms,
    WeekDelivery,
    WeekReport,
    committed_weekly_income,
    delivery,
    end_date,
    schedule,
    topup_due,
    week_bounds,
    weekly_delivery,
)
from keel.gateway.rules.policy import PolicyError

# 20 tasks a week at 6.00 for 12 weeks, guaranteed 120.00 a week, from Wednesday 2025-01-01.
TERMS = BundleTerms(
    currency="USD",
    weeks=12,
    start=date(2025, 1, 1),
    min_tasks_per_week=20,
    rate_per_task=600,
    min_weekly_earnings=12_000,
)


def test_weeks_run_seven_days_from_any_start():
    assert week_bounds(TERMS, 0) == (date(2025, 1, 1), date(2025, 1, 7))
    assert week_bounds(TERMS, 1) == (date(2025, 1, 8), date(2025, 1, 14))
    # Week 11 starts 77 days in: Jan 1 + 77 = Mar 19, ends Mar 25.
    assert week_bounds(TERMS, 11) == (date(2025, 3, 19), date(2025, 3, 25))
    assert end_date(TERMS) == date(2025, 3, 25)
    for index in (-1, 12):
        with pytest.raises(PolicyError) as caught:
            week_bounds(TERMS, index)
        assert caught.value.field == "index"


def test_committed_income_and_schedule():
    # 20 x 6.00 = 120.00, equal to the guarantee.
    assert committed_weekly_income(TERMS) == 12_000
    # A higher guarantee wins; tasks at a higher rate win.
    assert committed_weekly_income(_terms(min_weekly_earnings=15_000)) == 15_000
    assert committed_weekly_income(_terms(rate_per_task=700)) == 14_000  # 20 x 7.00
    plan = schedule(TERMS)
    assert len(plan) == 12
    assert plan[0] == (date(2025, 1, 7), 12_000)
    assert plan[-1] == (date(2025, 3, 25), 12_000)


def _terms(**changes: Any) -> BundleTerms:
    fields = {
        "currency": "USD",
        "weeks": 12,
        "start": date(2025, 1, 1),
        "min_tasks_per_week": 20,
        "rate_per_task": 600,
        "min_weekly_earnings": 12_000,
        **changes,
    }
    return BundleTerms(**fields)


def test_short_week_is_topped_up_to_the_guarantee():
    events = [
        (date(2025, 1, 1), 10, 6_000),
        (date(2025, 1, 7), 7, 4_200),  # week 0: 17 tasks, 102.00
        (date(2025, 1, 8), 20, 12_000),  # week 1: met exactly
        (date(2025, 1, 16), 5, 3_000),  # week 2, in progress on Jan 17
    ]
    reports = delivery(TERMS, events, as_of=date(2025, 1, 17))
    week0, week1, week2, week3 = reports[:4]
    # 20 - 17 = 3 tasks short; 120.00 - 102.00 = 18.00 owed.
    assert week0 == WeekReport(
        index=0,
        start=date(2025, 1, 1),
        end=date(2025, 1, 7),
        tasks=17,
        earnings=10_200,
        committed_tasks=20,
        committed_earnings=12_000,
        task_shortfall=3,
        earnings_shortfall=1_800,
        status="short",
    )
    assert topup_due(week0) == 1_800
    assert (week1.status, week1.task_shortfall, week1.earnings_shortfall) == ("met", 0, 0)
    assert topup_due(week1) == 0
    assert (week2.status, week2.tasks, week2.earnings) == ("in progress", 5, 3_000)
    assert (week2.task_shortfall, week2.earnings_shortfall) == (None, None)
    assert topup_due(week2) == 0
    assert (week3.status, week3.tasks) == ("upcoming", 0)
    assert [r.status for r in reports[4:]] == ["upcoming"] * 8


def test_week_is_over_only_after_its_last_day():
    events = [(date(2025, 1, 3), 17, 10_200)]
    assert delivery(TERMS, events, as_of=date(2025, 1, 7))[0].status == "in progress"
    assert delivery(TERMS, events, as_of=date(2025, 1, 8))[0].status == "short"


def test_more_tasks_for_less_pay_still_owes_the_guarantee():
    # 25 tasks at a cut rate, 100.00 earned: tasks met, 20.00 owed.
    week = delivery(TERMS, [(date(2025, 1, 2), 25, 10_000)], as_of=date(2025, 1, 8))[0]
    assert (week.task_shortfall, week.earnings_shortfall, week.status) == (0, 2_000, "short")
    assert topup_due(week) == 2_000


def test_task_only_bundle_reports_shortfall_but_owes_no_money():
    terms = _terms(min_weekly_earnings=0)
    week = delivery(terms, [(date(2025, 1, 2), 17, 10_200)], as_of=date(2025, 1, 8))[0]
    assert (week.task_shortfall, week.earnings_shortfall, week.status) == (3, 0, "short")
    assert topup_due(week) == 0


def test_events_after_as_of_are_left_out():
    events = [(date(2025, 1, 2), 17, 10_200), (date(2025, 1, 9), 3, 1_800)]
    reports = delivery(TERMS, events, as_of=date(2025, 1, 8))
    assert (reports[1].tasks, reports[1].status) == (0, "in progress")


def test_weekly_delivery_totals():
    events = [(date(2025, 1, 1), 2, 1_200), (date(2025, 1, 7), 3, 1_800)]
    assert weekly_delivery(TERMS, events)[0] == WeekDelivery(
        0, date(2025, 1, 1), date(2025, 1, 7), 5, 3_000
    )


@pytest.mark.parametrize(
    ("event", "field", "code"),
    [
        ((date(2024, 12, 31), 1, 600), "events.1.date", "outside_bundle"),
        ((date(2025, 3, 26), 1, 600), "events.1.date", "outside_bundle"),
        ((datetime(2025, 1, 2, tzinfo=UTC), 1, 600), "events.1.date", "invalid_type"),
        ((date(2025, 1, 2), -1, 600), "events.1.tasks", "negative"),
        ((date(2025, 1, 2), 1, 6.0), "events.1.earnings", "invalid_type"),
        ((date(2025, 1, 2), 1), "events.1", "invalid_type"),
    ],
)
def test_bad_events_are_refused_naming_the_event(event: Any, field: str, code: str):
    with pytest.raises(PolicyError) as caught:
        delivery(TERMS, [(date(2025, 1, 2), 1, 600), event], as_of=date(2025, 4, 1))
    assert (caught.value.field, caught.value.code) == (field, code)


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"currency": "usd"}, "currency", "invalid_currency"),
        ({"weeks": 0}, "weeks", "out_of_range"),
        ({"weeks": 521}, "weeks", "out_of_range"),
        ({"start": "2025-01-01"}, "start", "invalid_type"),
        # The 12th week would end after 9999-12-31 (was an OverflowError, a 500).
        ({"start": date(9999, 10, 15)}, "start", "out_of_range"),
        ({"rate_per_task": -600}, "rate_per_task", "negative"),
        (
            {"min_tasks_per_week": 0, "min_weekly_earnings": 0},
            "min_tasks_per_week",
            "empty_commitment",
        ),
        ({"min_weekly_earnings": 120.0}, "min_weekly_earnings", "invalid_type"),
    ],
)
def test_terms_validation(changes: dict[str, Any], field: str, code: str):
    with pytest.raises(PolicyError) as caught:
        _terms(**changes)
    assert (caught.value.field, caught.value.code) == (field, code)


def test_a_bundle_may_end_on_the_last_day_of_the_calendar():
    assert end_date(_terms(start=date(9999, 10, 9))) == date(9999, 12, 31)


@given(
    st.lists(st.tuples(st.integers(0, 83), st.integers(0, 50), st.integers(0, 10**6)), max_size=40),
    st.integers(-5, 100),
)
def test_delivery_accounts_for_every_event_up_to_as_of(
    raw: list[tuple[int, int, int]], as_of_offset: int
):
    events = [(TERMS.start + timedelta(days=d), t, e) for d, t, e in raw]
    as_of = TERMS.start + timedelta(days=as_of_offset)
    reports = delivery(TERMS, events, as_of)
    counted = [(d, t, e) for d, t, e in events if d <= as_of]
    assert sum(r.tasks for r in reports) == sum(t for _, t, _ in counted)
    assert sum(r.earnings for r in reports) == sum(e for _, _, e in counted)
    for r in reports:
        over = as_of > r.end
        assert (r.earnings_shortfall is not None) == over
        if over:
            assert r.earnings + topup_due(r) >= r.committed_earnings
        assert r.end - r.start == timedelta(days=6)
