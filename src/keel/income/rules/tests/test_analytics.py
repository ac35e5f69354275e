"""Income analytics against figures computed by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import math
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.income.rules.analytics import (
    EXPLANATIONS,
    IncomeFact,
    MonthFlag,
    baseline_coverage,
    coefficient_of_variation,
    income_by_month,
    income_by_source,
    income_by_stream_kind,
    median_month,
    month_range,
    runway_months,
    savings_rate,
    source_concentration,
    spikes_and_dips,
    stability_summary,
    trend,
)

JAN, FEB, MAR, APR, MAY = (2026, 1), (2026, 2), (2026, 3), (2026, 4), (2026, 5)


def fact(day: date, amount: int, source: str = "upwork", kind: str = "micro") -> IncomeFact:
    return IncomeFact(occurred_on=day, source=source, stream_kind=kind, amount=amount)


# --------------------------------------------------------------------------- months


def test_month_range_crosses_the_year_and_includes_both_ends():
    assert month_range((2025, 11), (2026, 2)) == [(2025, 11), (2025, 12), (2026, 1), (2026, 2)]
    assert month_range(MAR, MAR) == [MAR]


def test_month_range_refuses_a_reversed_or_invalid_window():
    with pytest.raises(ValueError, match="before start"):
        month_range(MAR, JAN)
    with pytest.raises(ValueError, match="month 1-12"):
        month_range((2026, 13), (2027, 1))


def test_income_fact_refuses_floats_and_unknown_kinds():
    with pytest.raises(TypeError, match="float"):
        fact(date(2026, 1, 1), 10.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="stream_kind"):
        fact(date(2026, 1, 1), 100, kind="salary")


def test_income_by_month_fills_empty_months_nets_refunds_and_ignores_outside():
    items = [
        fact(date(2026, 1, 5), 120_00),
        fact(date(2026, 1, 20), 80_00),
        fact(date(2026, 1, 21), -30_00),  # refund
        fact(date(2026, 3, 31), 50_00),
        fact(date(2025, 12, 31), 999_00),  # before the window
        fact(date(2026, 4, 1), 999_00),  # after it
    ]
    # January: 120 + 80 - 30 = 170; February: nothing; March: 50.
    assert income_by_month(items, month_range(JAN, MAR)) == {JAN: 170_00, FEB: 0, MAR: 50_00}


def test_grouped_by_stream_kind_and_by_source():
    items = [
        fact(date(2026, 1, 1), 400_00, "patreon", "recurring"),
        fact(date(2026, 2, 1), 400_00, "patreon", "recurring"),
        fact(date(2026, 2, 9), 1500_00, "acme", "project"),
        fact(date(2026, 1, 9), 35_00, "doordash", "micro"),
        fact(date(2026, 1, 10), 45_00, "doordash", "micro"),
    ]
    months = [JAN, FEB]
    assert income_by_stream_kind(items, months) == {
        "recurring": {JAN: 400_00, FEB: 400_00},
        "project": {JAN: 0, FEB: 1500_00},
        "micro": {JAN: 80_00, FEB: 0},
    }
    by_source = income_by_source(items, months)
    assert list(by_source) == ["acme", "doordash", "patreon"]  # sorted by name
    assert by_source["acme"] == {JAN: 0, FEB: 1500_00}
    assert by_source["doordash"] == {JAN: 80_00, FEB: 0}


# --------------------------------------------------------------------------- CV


def test_cv_of_one_two_three_thousand():
    # mean 2000; deviations -1000, 0, 1000; population variance (1e6 + 0 + 1e6) / 3
    # = 666,666.67; std 816.50; CV = 816.50 / 2000 = 0.40825 = sqrt(2/3) / 2.
    assert coefficient_of_variation([1000, 2000, 3000]) == pytest.approx(0.4082482905, rel=1e-9)
    assert coefficient_of_variation([1000, 2000, 3000]) == pytest.approx(math.sqrt(2 / 3) / 2)


def test_cv_of_one_big_month_in_four():
    # mean 1000; deviations -1000 x3 and +3000; variance (3 * 1e6 + 9e6) / 4 = 3e6;
    # std 1732.05; CV = sqrt(3) = 1.732.
    assert coefficient_of_variation([0, 0, 0, 4000]) == pytest.approx(math.sqrt(3))


def test_cv_edges():
    assert coefficient_of_variation([5000, 5000, 5000]) == 0.0  # perfectly steady
    assert coefficient_of_variation([5000]) is None  # one month says nothing about swings
    assert coefficient_of_variation([]) is None
    assert coefficient_of_variation([0, 0]) is None  # mean 0
    assert coefficient_of_variation([-100, 50]) is None  # mean negative


# --------------------------------------------------------------------------- median, spikes, dips


def test_median_month_odd_and_even():
    assert median_month([300, 100, 200]) == 200
    # Even count: the average of the two middle months, (200 + 300) / 2 = 250.
    assert median_month([401, 100, 300, 200]) == 250
    # 150.5 and 151.5 round half to even: 150 and 152.
    assert median_month([100, 201]) == 150
    assert median_month([100, 203]) == 152


def test_spikes_and_dips_odd_count_exact_25_percent_is_not_flagged():
    series = {JAN: 1000, FEB: 1250, MAR: 1251, APR: 749, MAY: 750}
    # Sorted 749, 750, 1000, 1250, 1251: the median is 1000. 25% above is 1250, 25% below
    # 750; "more than" is strict, so only 1251 (+25.1%) and 749 (-25.1%) are flagged.
    assert spikes_and_dips(series) == [
        MonthFlag(MAR, 1251, "spike", 2510, 1000),
        MonthFlag(APR, 749, "dip", -2510, 1000),
    ]


def test_spikes_and_dips_even_count_uses_the_mean_of_the_two_middle_months():
    series = {JAN: 1000, FEB: 1200, MAR: 800, APR: 1600}
    # Sorted 800, 1000, 1200, 1600: median (1000 + 1200) / 2 = 1100.
    # Spike above 1.25 x 1100 = 1375: April 1600 is (1600 - 1100) / 1100 = +45.45%.
    # Dip below 0.75 x 1100 = 825: March 800 is -300 / 1100 = -27.27%.
    assert spikes_and_dips(series) == [
        MonthFlag(MAR, 800, "dip", -2727, 1100),
        MonthFlag(APR, 1600, "spike", 4545, 1100),
    ]


def test_spikes_compare_with_the_exact_half_unit_median():
    series = {JAN: 102, FEB: 103, MAR: 128, APR: 60}
    # Sorted 60, 102, 103, 128: median 102.5 (shown as 102, half to even).
    # 1.25 x 102.5 = 128.125, so 128 is NOT a spike; with the rounded median 102 the
    # threshold would be 127.5 and 128 would be wrongly flagged.
    # 0.75 x 102.5 = 76.875, so 60 is a dip: (60 - 102.5) / 102.5 = -41.46%.
    assert spikes_and_dips(series) == [MonthFlag(APR, 60, "dip", -4146, 102)]


def test_spikes_and_dips_with_a_zero_median_flag_nothing():
    assert spikes_and_dips({JAN: 0, FEB: 0, MAR: 0, APR: 500}) == []
    assert spikes_and_dips({}) == []


def test_spikes_and_dips_threshold_is_configurable():
    # Median 1000; at 10% a month of 1101 is a spike and 899 a dip.
    series = {JAN: 1000, FEB: 1101, MAR: 899}
    kinds = [flag.kind for flag in spikes_and_dips(series, threshold_bps=1000)]
    assert kinds == ["spike", "dip"]
    assert spikes_and_dips(series) == []  # not at the default 25%


# --------------------------------------------------------------------------- concentration


def test_concentration_of_fifty_thirty_twenty():
    result = source_concentration({"upwork": 5000_00, "acme": 3000_00, "etsy": 2000_00})
    assert result is not None
    assert result.largest_source == "upwork"
    assert result.largest_share == 0.5
    # HHI = 0.5^2 + 0.3^2 + 0.2^2 = 0.25 + 0.09 + 0.04 = 0.38; effective = 1 / 0.38 = 2.63.
    assert result.hhi == pytest.approx(0.38)
    assert result.effective_sources == pytest.approx(2.631578947)
    assert round(result.effective_sources, 2) == 2.63
    assert result.sources == 3


def test_concentration_leaves_out_sources_that_netted_negative_and_breaks_ties_by_name():
    # "refunds" netted -50: left out, so "b" and "a" split 100 + 100 evenly.
    result = source_concentration({"b": 100, "a": 100, "refunds": -50, "idle": 0})
    assert result is not None
    assert (result.largest_source, result.largest_share, result.hhi) == ("a", 0.5, 0.5)
    assert result.effective_sources == 2.0
    assert source_concentration({"x": 0, "y": -10}) is None
    assert source_concentration({}) is None


@given(st.dictionaries(st.text(min_size=1, max_size=5), st.integers(1, 10**12), min_size=1))
def test_concentration_bounds(by_source):
    result = source_concentration(by_source)
    assert result is not None
    n = len(by_source)
    assert result.largest_share >= 1 / n
    assert result.largest_share <= 1.0
    assert 1.0 <= result.effective_sources <= n
    assert 1 / n <= result.hhi <= 1.0 or math.isclose(result.hhi, 1 / n)
    assert result.effective_sources * result.hhi == pytest.approx(1.0)
    assert by_source[result.largest_source] == max(by_source.values())


# --------------------------------------------------------------------------- coverage ratios


def test_baseline_coverage_runway_and_savings_rate():
    # Recurring 1,500 against essentials 2,000: 75% covered.
    assert baseline_coverage(1500_00, 2000_00) == 0.75
    assert baseline_coverage(1500_00, 0) is None
    # 6,000 of cash and buffer at 2,000 a month: 3 months.
    assert runway_months(6000_00, 2000_00) == 3.0
    assert runway_months(-100_00, 2000_00) == 0.0  # overdrawn: no runway
    assert runway_months(6000_00, 0) is None
    # Earned 5,000, spent 4,000: kept 1,000 / 5,000 = 20%.
    assert savings_rate(5000_00, 4000_00) == 0.2
    # Earned 4,000, spent 5,000: -1,000 / 4,000 = -25%.
    assert savings_rate(4000_00, 5000_00) == -0.25
    assert savings_rate(0, 100) is None


# --------------------------------------------------------------------------- trend


def test_trend_straight_line():
    # 100, 200, 300: slope exactly 100 a month; the line rises 100 x 2 = 200 over the
    # window against a mean month of 200: relative change 1.0.
    result = trend({JAN: 100, FEB: 200, MAR: 300})
    assert (result.slope_per_month, result.relative_change, result.direction) == (
        100,
        1.0,
        "rising",
    )


def test_trend_least_squares_by_hand():
    # y = 1000, 1000, 1300, 1300 at x = 0..3; x mean 1.5, y mean 1150.
    # sum (x - 1.5)(y - 1150) = (-1.5)(-150) + (-0.5)(-150) + (0.5)(150) + (1.5)(150) = 600
    # sum (x - 1.5)^2 = 2.25 + 0.25 + 0.25 + 2.25 = 5; slope = 600 / 5 = 120.
    # relative change = 120 x 3 / 1150 = 0.3130.
    result = trend({JAN: 1000, FEB: 1000, MAR: 1300, APR: 1300})
    assert result.slope_per_month == 120
    assert result.relative_change == pytest.approx(360 / 1150)
    assert result.direction == "rising"


def test_trend_flat_inside_the_dead_band():
    # y = 1000, 1010, 1000, 1030: sum (x - 1.5)(y - 1010) = 15 + 0 - 5 + 30 = 40; slope 8;
    # relative 8 x 3 / 1010 = 2.4% < 10%: flat.
    result = trend({JAN: 1000, FEB: 1010, MAR: 1000, APR: 1030})
    assert (result.slope_per_month, result.direction) == (8, "flat")


def test_trend_dead_band_edge_is_exact():
    # Three months: slope = (last - first) / 2, relative = (last - first) / mean.
    # 950, 1000, 1050: 100 / 1000 = exactly 10% -> rising; 951, 1000, 1049: 9.8% -> flat.
    assert trend({JAN: 950, FEB: 1000, MAR: 1050}).direction == "rising"
    assert trend({JAN: 951, FEB: 1000, MAR: 1049}).direction == "flat"
    assert trend({JAN: 1050, FEB: 1000, MAR: 950}).direction == "falling"


def test_trend_slope_rounds_half_to_even():
    # Three months: slope = (y2 - y0) / 2.
    assert trend({JAN: 0, FEB: 0, MAR: 1}).slope_per_month == 0  # 0.5 -> 0
    assert trend({JAN: 0, FEB: 0, MAR: 3}).slope_per_month == 2  # 1.5 -> 2
    assert trend({JAN: 0, FEB: 0, MAR: -1}).slope_per_month == 0  # -0.5 -> 0
    assert trend({JAN: 0, FEB: 0, MAR: -3}).slope_per_month == -2  # -1.5 -> -2


def test_trend_fills_gaps_with_zero_and_handles_short_series():
    # January 100, February missing (0), March 300: slope (300 - 100) / 2 = 100;
    # mean 400 / 3; relative 100 x 2 / (400 / 3) = 1.5.
    result = trend({JAN: 100, MAR: 300})
    assert (result.months, result.slope_per_month) == (3, 100)
    assert result.relative_change == pytest.approx(1.5)
    assert trend({JAN: 100}).direction == "flat"
    assert trend({}).months == 0
    # Mean <= 0: no relative change; the direction follows the slope.
    negative = trend({JAN: -100, FEB: -50})
    assert (negative.relative_change, negative.direction) == (None, "rising")


# --------------------------------------------------------------------------- summary


def test_stability_summary_composes_the_metrics():
    items = [
        fact(date(2026, 1, 1), 1000_00, "patreon", "recurring"),
        fact(date(2026, 2, 1), 1000_00, "patreon", "recurring"),
        fact(date(2026, 3, 1), 1000_00, "patreon", "recurring"),
        fact(date(2026, 4, 1), 1000_00, "patreon", "recurring"),
        fact(date(2026, 2, 10), 3000_00, "acme", "project"),
        fact(date(2026, 4, 20), 1000_00, "uber", "micro"),
    ]
    summary = stability_summary(
        items,
        month_range(JAN, APR),
        essential_expenses_monthly=2000_00,
        cash_and_buffer=5000_00,
        spending=6000_00,
    )
    # Months: 1000, 4000, 1000, 2000 (hundreds of dollars); total 8000; mean 2000.
    assert summary.monthly == {JAN: 1000_00, FEB: 4000_00, MAR: 1000_00, APR: 2000_00}
    assert summary.total_income == 8000_00
    assert summary.average_month == 2000_00
    # Sorted 1000, 1000, 2000, 4000: median (1000 + 2000) / 2 = 1500.
    assert summary.median_month == 1500_00
    # Spike above 1875: Feb 4000 and Apr 2000; dip below 1125: Jan and Mar 1000.
    assert [(f.month, f.kind) for f in summary.flags] == [
        (JAN, "dip"),
        (FEB, "spike"),
        (MAR, "dip"),
        (APR, "spike"),
    ]
    # Deviations -1000, 2000, -1000, 0 (x100); variance (1 + 4 + 1 + 0) / 4 = 1.5 (x 1e10);
    # std 1224.74; CV 0.6124.
    assert summary.coefficient_of_variation == pytest.approx(math.sqrt(1.5) / 2)
    # Sources: patreon 4000, acme 3000, uber 1000 of 8000: 0.5 / 0.375 / 0.125.
    assert summary.concentration is not None
    assert summary.concentration.largest_source == "patreon"
    assert summary.concentration.hhi == pytest.approx(0.25 + 0.140625 + 0.015625)
    # Recurring baseline: the last three months had 1000 each: 1000; covers 1000 / 2000.
    assert summary.recurring_baseline_monthly == 1000_00
    assert summary.baseline_coverage == 0.5
    assert summary.runway_months == 2.5  # 5000 / 2000
    assert summary.savings_rate == 0.25  # (8000 - 6000) / 8000
    # Trend of 1000, 4000, 1000, 2000: sum (x - 1.5)(y - 2000) = 1500 + (-1000) + (-500) + 0
    # = 0 (x100): slope 0, flat.
    assert summary.trend.slope_per_month == 0
    assert summary.trend.direction == "flat"


# --------------------------------------------------------------------------- explanations


def test_every_metric_has_a_plain_language_explanation():
    expected = {
        "income_by_month",
        "income_by_stream_kind",
        "income_by_source",
        "median_month",
        "coefficient_of_variation",
        "spikes_and_dips",
        "source_concentration",
        "baseline_coverage",
        "runway_months",
        "savings_rate",
        "trend",
    }
    assert set(EXPLANATIONS) == expected
    for name, text in EXPLANATIONS.items():
        assert len(text) > 40, name
        assert "``" not in text, name  # no code markup in what the worker reads
        assert "\n" not in text, name
        assert text.endswith("."), name
