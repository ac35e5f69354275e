"""Salary smoothing worked by hand."""

from __future__ import annotations

from datetime import date

import pytest

from keel.income.rules.dates import shift_month
from keel.income.rules.smoothing import (
    SALARY_RULE,
    buffer_target,
    monthly_from_cumulative,
    months_covered,
    pay_schedule,
    recommend_salary,
    runs_dry_on,
)


def last_twelve(
    values: list[int], last: tuple[int, int] = (2025, 12)
) -> dict[tuple[int, int], int]:
    """Months ending at ``last``, oldest first."""
    return {shift_month(last, i - len(values) + 1): v for i, v in enumerate(values)}


# --------------------------------------------------------------------------- salary


def test_salary_is_the_average_of_the_three_lowest_of_the_last_six_months():
    first_half = [900_000, 800_000, 700_000, 600_000, 999_000, 950_000]  # Jan-Jun: ignored
    second_half = [420_000, 310_000, 505_000, 280_000, 390_000, 350_000]  # Jul-Dec
    series = last_twelve([*first_half, *second_half])
    result = recommend_salary(series, forecast_median_monthly=400_000)
    # Lowest three of Jul-Dec: 280,000 + 310,000 + 350,000 = 940,000; / 3 = 313,333.33,
    # rounded down: 313,333. The forecast (400,000) is higher, so it does not cap.
    assert result.amount == 313_333
    assert result.lowest_three_average == 313_333
    assert not result.capped_by_forecast
    assert result.months_used == tuple((2025, m) for m in range(7, 13))
    assert result.rule_explanation.startswith(SALARY_RULE)
    # Paid in whole dollars: rounded down to a multiple of 100 cents.
    assert recommend_salary(series, 400_000, round_to=100).amount == 313_300


def test_salary_is_capped_by_a_lower_forecast():
    series = last_twelve([420_000, 310_000, 505_000, 280_000, 390_000, 350_000])
    result = recommend_salary(series, forecast_median_monthly=300_000)
    assert (result.amount, result.capped_by_forecast) == (300_000, True)
    assert "forecast" in result.rule_explanation
    # A forecast of net refunds cannot make the salary negative.
    assert recommend_salary(series, forecast_median_monthly=-5_000).amount == 0
    # No forecast: the history alone decides.
    assert recommend_salary(series, None).amount == 313_333


def test_a_month_without_income_counts_as_zero():
    series = last_twelve([400_000, 400_000, 400_000, 400_000, 400_000, 400_000])
    del series[(2025, 9)]  # inside the known range: a month with nothing
    # Lowest three: 0, 400,000, 400,000 -> 800,000 / 3 = 266,666.67 -> 266,666.
    assert recommend_salary(series, None).amount == 266_666


def test_salary_needs_three_known_months_and_honours_as_of():
    short = last_twelve([500_000, 600_000])
    result = recommend_salary(short, None)
    assert (result.amount, result.lowest_three_average) == (0, None)
    assert "three months" in result.rule_explanation
    # Three known months are enough: 300 + 400 + 500 = 1,200 / 3 = 400.
    assert recommend_salary(last_twelve([300, 400, 500]), None).amount == 400
    # as_of picks the window: ending Oct 2025, the six months are May-Oct.
    series = last_twelve([100, 200, 300, 400, 500, 600, 700, 800], last=(2025, 12))
    assert recommend_salary(series, None, as_of=(2025, 10)).months_used[0] == (2025, 5)
    # May-Oct = 100..600: lowest three 100 + 200 + 300 = 600 / 3 = 200.
    assert recommend_salary(series, None, as_of=(2025, 10)).amount == 200


# --------------------------------------------------------------------------- buffer


def test_buffer_target_is_six_weeks_rounded_up():
    # 3,000.00 a month: 300,000 x 12 / 52 x 6 = 300,000 x 72 / 52 = 415,384.6 -> 415,385.
    assert buffer_target(300_000) == 415_385
    # 5,200.00: 520,000 x 72 / 52 = 720,000 exactly.
    assert buffer_target(520_000) == 720_000
    assert buffer_target(1) == 2  # 72 / 52 = 1.38 -> 2: never under six weeks
    assert buffer_target(0) == 0
    with pytest.raises(ValueError, match="negative"):
        buffer_target(-1)
    with pytest.raises(TypeError, match="float"):
        buffer_target(3000.0)  # type: ignore[arg-type]


def test_months_covered():
    assert months_covered(415_385, 300_000) == pytest.approx(1.384616667)
    assert months_covered(900_000, 300_000) == 3.0
    assert months_covered(-10, 300_000) == 0.0
    assert months_covered(900_000, 0) is None


# --------------------------------------------------------------------------- pay days


def test_monthly_pay_days_clamp_to_month_end_and_come_back():
    assert pay_schedule(date(2025, 1, 31), "monthly", date(2025, 4, 30)) == [
        date(2025, 1, 31),
        date(2025, 2, 28),
        date(2025, 3, 31),
        date(2025, 4, 30),
    ]
    assert pay_schedule(date(2024, 1, 31), "monthly", date(2024, 2, 29))[-1] == date(2024, 2, 29)


def test_weekly_biweekly_and_semi_monthly_pay_days():
    assert pay_schedule(date(2025, 1, 3), "biweekly", date(2025, 2, 14)) == [
        date(2025, 1, 3),
        date(2025, 1, 17),
        date(2025, 1, 31),
        date(2025, 2, 14),
    ]
    assert len(pay_schedule(date(2025, 1, 6), "weekly", date(2025, 1, 31))) == 4
    # Semi-monthly: the 15th and the last day, from the first on or after the start.
    assert pay_schedule(date(2025, 1, 10), "semi-monthly", date(2025, 2, 28)) == [
        date(2025, 1, 15),
        date(2025, 1, 31),
        date(2025, 2, 15),
        date(2025, 2, 28),
    ]
    # Default: one year.
    assert len(pay_schedule(date(2025, 1, 1))) == 12
    with pytest.raises(ValueError, match="period"):
        pay_schedule(date(2025, 1, 1), "daily", date(2025, 2, 1))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- running dry


def test_runs_dry_on_the_first_pay_day_the_buffer_cannot_cover():
    pay_days = pay_schedule(date(2026, 1, 1), "monthly", date(2026, 4, 1))
    income = {(2026, 1): 200_000, (2026, 2): 150_000, (2026, 3): 100_000}
    # Jan 1: 500,000 - 300,000 = 200,000; + January's 200,000 at month end = 400,000.
    # Feb 1: 400,000 - 300,000 = 100,000; + 150,000 = 250,000.
    # Mar 1: 250,000 < 300,000: the buffer runs dry.
    assert runs_dry_on(500_000, 300_000, income, pay_days) == date(2026, 3, 1)
    steady = dict.fromkeys(((2026, m) for m in range(1, 5)), 300_000)
    assert runs_dry_on(500_000, 300_000, steady, pay_days) is None


def test_runs_dry_counts_each_pay_day_of_a_month_before_its_income():
    pay_days = pay_schedule(date(2026, 1, 1), "semi-monthly", date(2026, 2, 28))
    # Jan 15: 250 - 150 = 100; Jan 31: 100 < 150 -> dry, even though January brings 1,000:
    # income is only counted at the month's end (conservative).
    assert runs_dry_on(250, 150, {(2026, 1): 1000}, pay_days) == date(2026, 1, 31)
    assert runs_dry_on(300, 150, {(2026, 1): 300}, pay_days) is None
    assert runs_dry_on(0, 0, {}, pay_days) is None
    assert runs_dry_on(0, 10, {}, []) is None


def test_monthly_from_cumulative():
    days = [date(2026, 1, 30), date(2026, 1, 31), date(2026, 2, 1)]
    assert monthly_from_cumulative(days, [100, 250, 400]) == {(2026, 1): 250, (2026, 2): 150}
