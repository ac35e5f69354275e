"""The 90-day forecast: schedules, the fitted simulation, no double counting, calibration."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.income.rules.analytics import IncomeFact
from keel.income.rules.forecast import (
    ForecastModel,
    ScheduledItem,
    backtest,
    consume_scheduled,
    fit,
    forecast,
    simulate,
)

START = date(2026, 3, 2)  # a Monday


def day(n: int) -> date:
    return START + timedelta(days=n)


def fact(when: date, amount: int, source: str, kind: str) -> IncomeFact:
    return IncomeFact(occurred_on=when, source=source, stream_kind=kind, amount=amount)


def item(when: date, amount: int, key: str = "acme", kind: str = "milestone") -> ScheduledItem:
    return ScheduledItem(due_on=when, amount=amount, kind=kind, key=key)


def synthetic_history(seed: int, start: date, days: int) -> list[IncomeFact]:
    """Stationary income: gigs every day (busier Fridays), a project payment about twice
    a month, a membership on the 1st."""
    rng = np.random.default_rng(seed)
    rates = [3, 3, 3, 4, 6, 5, 1]  # gigs per day, Monday first
    facts: list[IncomeFact] = []
    for offset in range(days):
        when = start + timedelta(days=offset)
        for _ in range(rng.poisson(rates[when.weekday()])):
            facts.append(fact(when, int(rng.integers(8_00, 30_00)), "doordash", "micro"))
        if rng.random() < 2 / 30:
            size = int(rng.choice([500_00, 1200_00, 2500_00]))
            facts.append(fact(when, size, "acme", "project"))
        if when.day == 1:
            facts.append(fact(when, 400_00, "patreon", "recurring"))
    return facts


# --------------------------------------------------------------------------- consume


def test_consume_settles_the_matching_items_only():
    jan, feb, mar = (
        item(date(2026, 1, 31), 1000_00, kind="recurring"),
        item(date(2026, 2, 28), 1000_00, kind="recurring"),
        item(date(2026, 3, 31), 1000_00, kind="recurring"),
    )
    payments = [
        fact(date(2026, 2, 2), 1000_00, "acme", "recurring"),  # 2 days late, exact: jan
        fact(date(2026, 3, 1), 990_00, "acme", "recurring"),  # 1 day late, 1% short: feb
        fact(date(2026, 3, 30), 1000_00, "beta", "recurring"),  # other source: no match
        fact(date(2026, 3, 31), 900_00, "acme", "recurring"),  # 10% short (> 5%): no match
        fact(date(2026, 3, 31), -1000_00, "acme", "recurring"),  # a refund never settles
    ]
    remaining, matches = consume_scheduled([jan, feb, mar], payments)
    assert remaining == [mar]
    assert [(m.item, m.payment.amount, m.days_late) for m in matches] == [
        (jan, 1000_00, 2),
        (feb, 990_00, 1),
    ]


def test_consume_tolerances_are_inclusive():
    due = item(date(2026, 1, 10), 1000_00)
    # 7 days early, 5% over: |1050 - 1000| x 10000 = 500,000 = 500 bps x 1000 -> matches.
    early = fact(date(2026, 1, 3), 1050_00, "acme", "project")
    assert consume_scheduled([due], [early])[0] == []
    # 8 days late: no.
    late = fact(date(2026, 1, 18), 1000_00, "acme", "project")
    assert consume_scheduled([due], [late])[0] == [due]
    # 5.01% short: no.
    short = fact(date(2026, 1, 10), 949_99, "acme", "project")
    assert consume_scheduled([due], [short])[0] == [due]


def test_each_payment_settles_one_item_and_each_item_is_settled_once():
    a, b = item(date(2026, 1, 10), 500_00), item(date(2026, 1, 10), 500_00)
    one_payment = [fact(date(2026, 1, 10), 500_00, "acme", "project")]
    remaining, matches = consume_scheduled([a, b], one_payment)
    assert len(matches) == 1
    assert len(remaining) == 1
    two_payments = [*one_payment, fact(date(2026, 1, 11), 500_00, "acme", "project")]
    remaining, matches = consume_scheduled([a], two_payments)
    assert (remaining, len(matches)) == ([], 1)


def test_a_payment_settles_the_closest_item():
    first, second = item(date(2026, 1, 1), 100_00), item(date(2026, 1, 8), 100_00)
    # Paid Jan 6: 5 days from the first, 2 from the second -> settles the second.
    remaining, _ = consume_scheduled(
        [first, second], [fact(date(2026, 1, 6), 100_00, "acme", "project")]
    )
    assert remaining == [first]


@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(90, 110), st.sampled_from("ab")), max_size=8
    ),
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(-5, 120), st.sampled_from("ab")), max_size=8
    ),
)
def test_consume_properties(items, payments):
    base = date(2026, 1, 1)
    scheduled = [item(base + timedelta(days=d), a, key=k) for d, a, k in items]
    paid = [fact(base + timedelta(days=d), a, k, "project") for d, a, k in payments if a]
    remaining, matches = consume_scheduled(scheduled, paid)
    # Nothing lost, nothing invented: remaining + settled = the schedule.
    assert len(remaining) + len(matches) == len(scheduled)
    assert sorted(remaining + [m.item for m in matches], key=repr) == sorted(scheduled, key=repr)
    # At most one item per payment and vice versa (by identity).
    assert len({id(m.payment) for m in matches}) == len(matches)
    assert len({id(m.item) for m in matches}) == len(matches)
    for m in matches:
        assert m.item.key == m.payment.source
        assert abs(m.days_late) <= 7
        assert abs(m.payment.amount - m.item.amount) * 10_000 <= 500 * m.item.amount


# --------------------------------------------------------------------------- schedules


def test_scheduled_items_appear_in_the_median_on_their_due_date():
    result = forecast(
        [],
        start=START,
        scheduled=[item(day(10), 500_00), item(day(-3), 200_00, kind="invoice")],
        paths=200,
    )
    # The overdue invoice counts on day 0, the milestone on day 10; nothing else is known.
    assert result.scheduled_income[0] == 200_00
    assert result.scheduled_income[10] == 500_00
    assert result.income_p50[9] == 200_00
    assert result.income_p50[10] == 700_00
    assert result.income_p10 == result.income_p50 == result.income_p90  # nothing uncertain
    assert len(result.days) == 90
    assert result.days[0] == START
    assert result.days[-1] == day(89)


def test_items_beyond_the_horizon_are_left_out():
    result = forecast([], start=START, scheduled=[item(day(90), 100_00)], paths=10)
    assert result.income_p90[-1] == 0


def test_a_consumed_item_is_not_counted_again():
    schedule = [item(day(-3), 800_00, kind="invoice"), item(day(20), 800_00)]
    paid = [fact(day(-1), 800_00, "acme", "project")]  # settles the overdue invoice
    remaining, matches = consume_scheduled(schedule, paid)
    assert [m.item for m in matches] == [schedule[0]]
    counted = forecast(paid, start=START, scheduled=remaining, scheduled_sources={"acme"})
    # Only the milestone on day 20 is still expected; the payment itself is history and
    # acme's history is not also simulated as project income.
    assert counted.income_p50[19] == 0
    assert counted.income_p90[-1] == 800_00
    assert counted.income_p10[-1] == 800_00
    assert "acme" not in counted.simulated_sources
    # Without consuming, the invoice would have been counted again on day 0.
    naive = forecast(paid, start=START, scheduled=schedule, paths=10)
    assert naive.income_p50[0] == 800_00


def test_a_scheduled_stream_is_not_also_projected_or_simulated():
    history = [fact(date(2026, m, 1), 400_00, "patreon", "recurring") for m in (1, 2, 3)]
    history += [fact(day(-20), 900_00, "acme", "project"), fact(day(-5), 60_00, "uber", "micro")]
    schedule = [item(date(2026, m, 1), 400_00, key="patreon", kind="recurring") for m in (4, 5)]
    result = forecast(history, start=START, scheduled=schedule, paths=50)
    # Patreon has a schedule: its two items count, and its history is not projected too.
    assert result.projected_streams == ()
    assert sum(result.projected_recurring) == 0
    assert sum(result.scheduled_income) == 800_00
    assert result.simulated_sources == ("acme", "uber")
    # Every stream whose items were all consumed is still named in scheduled_sources.
    quiet = forecast(history, start=START, scheduled_sources={"patreon"}, paths=50)
    assert sum(quiet.projected_recurring) == 0
    # Without a schedule, the history is projected by its monthly cadence instead.
    projected = forecast(history, start=START, paths=50)
    assert [s.source for s in projected.projected_streams] == ["patreon"]
    # Last paid Mar 1; day 89 is May 30: Apr 1 and May 1.
    assert sum(projected.projected_recurring) == 2 * 400_00


# --------------------------------------------------------------------------- recurring cadence


def test_history_only_recurring_stream_is_projected_monthly_with_the_median_amount():
    history = [
        fact(date(2026, 1, 15), 300_00, "ko-fi", "recurring"),
        fact(date(2026, 2, 15), 300_00, "ko-fi", "recurring"),
        fact(date(2026, 3, 15), 360_00, "ko-fi", "recurring"),  # median of last 3: 300
    ]
    fitted = fit(history, start=date(2026, 3, 20))
    (stream,) = fitted.projected
    # Day 89 is Jun 17: the 15th of April, May and June.
    assert stream.cadence == "monthly"
    assert stream.amount == 300_00
    assert stream.projected_on == (date(2026, 4, 15), date(2026, 5, 15), date(2026, 6, 15))


def test_monthly_projection_clamps_to_month_end_and_weekly_cadence_is_detected():
    month_end = [fact(date(2026, 1, 31), 100_00, "club", "recurring")]
    (stream,) = fit(month_end, start=date(2026, 2, 1)).projected
    assert stream.projected_on[:3] == (date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30))
    weekly = [
        fact(START - timedelta(days=7 * k), 50_00, "retainer", "recurring") for k in (1, 2, 3)
    ]
    (stream,) = fit(weekly, start=START).projected
    # Last paid Feb 23; every 7 days from there: Mar 2 (day 0) ... 13 payments in 90 days.
    assert (stream.cadence, stream.amount) == ("weekly", 50_00)
    assert stream.projected_on[0] == START
    assert len(stream.projected_on) == 13


def test_many_small_recurring_payments_project_their_weekly_total():
    # A membership site: every day of the last four weeks, 3 members pay $12.00 each.
    daily = [
        fact(START - timedelta(days=d), 12_00, "members", "recurring")
        for d in range(1, 29)
        for _ in range(3)
    ]
    (stream,) = fit(daily, start=START).projected
    # 28 days x $36.00 = $1,008.00 over 28 days: $252.00 a week, not one $12.00 payment.
    assert (stream.cadence, stream.amount) == ("weekly", 252_00)


def test_a_stopped_recurring_stream_is_not_projected():
    # Monthly stream last paid 46 days before the start: more than 31 + 14 days ago.
    old = [fact(START - timedelta(days=46 + 30 * k), 100_00, "gone", "recurring") for k in (0, 1)]
    assert fit(old, start=START).projected == ()
    recent = [
        fact(START - timedelta(days=45 + 30 * k), 100_00, "alive", "recurring") for k in (0, 1)
    ]
    assert len(fit(recent, start=START).projected) == 1


# --------------------------------------------------------------------------- simulation


def test_micro_bootstrap_keeps_the_weekday_pattern():
    # 26 weeks of gigs only on Fridays, 100 each: every simulated week is a past week,
    # so every path has 100 on each Friday and nothing on other days.
    history = [fact(START - timedelta(days=3 + 7 * k), 100_00, "uber", "micro") for k in range(26)]
    assert all(h.occurred_on.weekday() == 4 for h in history)
    result = forecast(history, start=START, paths=300)
    fridays = [i for i, d in enumerate(result.days) if d.weekday() == 4]
    assert result.income_p10 == result.income_p90
    daily = np.diff(np.concatenate(([0], result.income_p50)))
    assert [i for i in range(90) if daily[i]] == fridays
    assert set(daily[fridays]) == {100_00}


def test_project_income_gives_a_band_and_no_history_gives_nothing():
    history = [fact(day(-30 * k - 7), 1000_00 * (k % 3 + 1), "acme", "project") for k in range(12)]
    result = forecast(history, start=START, paths=2000)
    assert result.income_p10[-1] < result.income_p50[-1] < result.income_p90[-1]
    empty = forecast([], start=START, paths=100)
    assert empty.income_p90[-1] == 0
    assert empty.lowest_balance == 0


def test_same_seed_same_forecast_different_seed_different():
    history = synthetic_history(1, START - timedelta(days=365), 365)
    one = forecast(history, start=START, seed=7, paths=1000)
    again = forecast(history, start=START, seed=7, paths=1000)
    other = forecast(history, start=START, seed=8, paths=1000)
    assert one == again
    assert one.income_p50 != other.income_p50
    fitted = fit(history, start=START)
    a = simulate(fitted, 500, np.random.default_rng(3))
    b = simulate(fitted, 500, np.random.default_rng(3))
    c = simulate(fitted, 500, np.random.default_rng(4))
    assert a.dtype == np.int64
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_percentiles_are_ordered_every_day():
    history = synthetic_history(2, START - timedelta(days=400), 400)
    result = forecast(
        history, start=START, starting_balance=1000_00, essential_expenses_monthly=3000_00
    )
    for series in (
        zip(result.income_p10, result.income_p50, result.income_p90, strict=True),
        zip(result.balance_p10, result.balance_p50, result.balance_p90, strict=True),
    ):
        for low, mid, high in series:
            assert low <= mid <= high
    for window in result.windows:
        assert window.income_p10 <= window.income_p50 <= window.income_p90
    assert all(isinstance(v, int) for v in result.income_p50 + result.balance_p10)


def test_history_on_or_after_the_start_is_ignored():
    future = [fact(START, 999_00, "acme", "project"), fact(day(5), 999_00, "uber", "micro")]
    assert forecast(future, start=START, paths=50).income_p90[-1] == 0


# --------------------------------------------------------------------------- balance


def test_balance_lowest_point_and_shortfall_windows():
    # Essentials 365 a month = 4,380 a year = 12 a day exactly (amounts in cents x 100).
    # Start with 1,000; 1,000 arrives on day 40.
    result = forecast(
        [],
        start=START,
        scheduled=[item(day(40), 1000_00)],
        starting_balance=1000_00,
        essential_expenses_monthly=365_00,
        paths=100,
    )
    assert result.expenses[0] == 12_00
    assert result.expenses[89] == 90 * 12_00
    # Day 39: 1000 - 40 x 12 = 520; day 40: 2000 - 492 = 1508; day 89: 2000 - 1080 = 920.
    assert result.balance_p50[39] == 520_00
    assert result.balance_p50[40] == 1508_00
    assert (result.lowest_balance, result.lowest_balance_on) == (520_00, day(39))
    # Windows of 30 days cost 360 each: nothing comes in days 0-29 and 60-89 -> short for
    # sure; 1,000 in days 30-59 -> never short.
    assert [w.expenses for w in result.windows] == [360_00, 360_00, 360_00]
    assert result.shortfall_probabilities == (1.0, 0.0, 1.0)
    assert result.windows[1].first_day == day(30)
    assert result.windows[1].last_day == day(59)


def test_expenses_are_spread_over_365_days_rounded_down_cumulatively():
    # 1,000.00 a month = 1,200,000 cents a year; day 1: 1,200,000 / 365 = 3,287.67 -> 3,287;
    # after 90 days: 108,000,000 / 365 = 295,890.41 -> 295,890.
    result = forecast([], start=START, essential_expenses_monthly=1000_00, paths=10)
    assert result.expenses[0] == 3287
    assert result.expenses[89] == 295_890
    assert result.windows[0].expenses == 1_200_000 * 30 // 365  # 98,630
    # Without essential expenses there is no shortfall to speak of.
    assert forecast([], start=START, paths=10).shortfall_probabilities == (None, None, None)


def test_monthly_median_income_scales_the_horizon_to_an_average_month():
    result = forecast([], start=START, scheduled=[item(day(1), 3000_00)], paths=10)
    # 300,000 cents over 90 days x 365 / (12 x 90) = 101,388.9 -> 101,388.
    assert result.monthly_median_income == 101_388


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="kind"):
        item(START, 100, kind="salary")
    with pytest.raises(TypeError, match="float"):
        ScheduledItem(START, 10.0, "invoice", "acme")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="paths"):
        forecast([], start=START, paths=0)
    with pytest.raises(ValueError, match="horizon"):
        forecast([], start=START, horizon=0)


# --------------------------------------------------------------------------- backtest


def test_backtest_coverage_on_stationary_data_is_near_eighty_percent():
    origin = date(2023, 1, 2)
    history = synthetic_history(2, origin, 3 * 365)
    cutoffs = [date(2024, 1, 1) + timedelta(days=28 * k) for k in range(22)]
    report = backtest(history, cutoffs, horizon=90, seed=0)
    assert len(report.cutoffs) == 22
    # A calibrated 80% band holds the actual figure about 80% of the time; the days of one
    # cutoff are strongly correlated, so the bound is generous but still fails for a band
    # that is far too narrow (well under 0.6) or far too wide (near 1.0).
    assert 0.6 <= report.day_coverage <= 0.95
    assert report.window_coverage is not None
    assert 0.6 <= report.window_coverage <= 0.95
    assert report.below_share + report.above_share == pytest.approx(1 - report.day_coverage)
    again = backtest(history, list(reversed(cutoffs)), horizon=90, seed=0)
    assert again.day_coverage == report.day_coverage  # independent of cutoff order


def test_backtest_detects_a_forecast_that_is_off():
    # Gig income that grows every day breaks the stationarity the model assumes: every
    # future week earns more than any past week, the actual income runs above the band
    # from the first day, and the coverage collapses -- the check is able to fail.
    origin = date(2023, 1, 2)
    history = [
        fact(origin + timedelta(days=d), 50_00 + 50 * d, "uber", "micro") for d in range(700)
    ]
    cutoffs = [origin + timedelta(days=400 + 28 * k) for k in range(6)]
    report = backtest(history, cutoffs, horizon=90, paths=200)
    assert report.day_coverage < 0.1
    assert report.above_share > 0.9


def test_backtest_refuses_a_horizon_past_the_data():
    history = [fact(date(2026, 1, 1), 100, "uber", "micro")]
    with pytest.raises(ValueError, match="runs past the end"):
        backtest(history, [date(2025, 12, 1)], horizon=90)
    report = backtest(history, [date(2025, 12, 1)], horizon=90, data_end=date(2026, 3, 1))
    assert report.cutoffs[0].actual_total == 100


def test_model_knobs_are_validated():
    with pytest.raises(ValueError, match="lookback"):
        ForecastModel(micro_lookback_weeks=0)
    with pytest.raises(ValueError, match="half_life"):
        ForecastModel(micro_half_life_weeks=0)
