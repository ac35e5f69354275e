"""Upsell conversion, its interval and the suggestions, against figures computed by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.career.rules.upsells import (
    Z_95,
    UpsellError,
    band_position,
    median_days,
    upsell_report,
    wilson_interval,
)
from keel.money import Money

MARCH_1 = date(2025, 3, 1)


def buyers(n: int, day: date = MARCH_1, prefix: str = "b") -> list[tuple[str, date]]:
    return [(f"{prefix}{i}", day) for i in range(1, n + 1)]


def takers_after(days: list[int], day: date = MARCH_1) -> list[tuple[str, date]]:
    """Buyers b1, b2, ... each taking the upsell the given number of days after ``day``."""
    return [(f"b{i}", day + timedelta(days=d)) for i, d in enumerate(days, start=1)]


# --------------------------------------------------------------------------- statistics


def test_z_is_the_normal_975_point():
    assert abs(Z_95 - 1.959963984540054) < 1e-15


def test_wilson_interval_matches_newcombes_published_examples():
    # Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I,
    # method 3 (Wilson score, no continuity correction), to four decimals.
    assert wilson_interval(81, 263) == pytest.approx((0.2553, 0.3662), abs=5e-5)
    assert wilson_interval(15, 148) == pytest.approx((0.0624, 0.1605), abs=5e-5)
    assert wilson_interval(0, 20) == pytest.approx((0.0, 0.1611), abs=5e-5)
    assert wilson_interval(1, 29) == pytest.approx((0.0061, 0.1718), abs=5e-5)


def test_wilson_interval_worked_by_hand():
    # 9 of 40: p = 0.225, z^2 = 3.841459, z^2/n = 0.096036, so the denominator is 1.096036.
    # centre = (0.225 + 3.841459/80) / 1.096036 = 0.273018 / 1.096036 = 0.249096
    # half = 1.959964 / 1.096036 * sqrt(0.225 * 0.775 / 40 + 3.841459 / 6400)
    #      = 1.788230 * sqrt(0.004359375 + 0.000600228) = 1.788230 * 0.070424 = 0.125935
    # -> 0.249096 -/+ 0.125935 = (0.123161, 0.375031)
    assert wilson_interval(9, 40) == pytest.approx((0.123161, 0.375031), abs=1e-6)


def test_wilson_interval_is_exact_at_the_edges():
    low, high = wilson_interval(0, 50)
    assert low == 0.0
    assert high == pytest.approx(0.071348, abs=1e-6)  # z^2 / (n + z^2) = 3.8415 / 53.8415
    low, high = wilson_interval(50, 50)
    assert high == 1.0
    assert low == pytest.approx(1 - 0.071348, abs=1e-6)


def test_wilson_interval_refuses_impossible_counts():
    with pytest.raises(UpsellError, match="more than the 10 trials") as caught:
        wilson_interval(11, 10)
    assert caught.value.field == "successes"
    with pytest.raises(UpsellError, match="at least 1") as caught:
        wilson_interval(0, 0)
    assert caught.value.field == "trials"


@given(st.integers(1, 100_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_contains_the_rate_and_stays_in_0_1(counts):
    k, n = counts
    low, high = wilson_interval(k, n)
    assert 0.0 <= low <= k / n <= high <= 1.0


def test_median_days():
    assert median_days([10, 0, 3]) == 3.0
    assert median_days([14, 21, 3, 28]) == 17.5  # (14 + 21) / 2
    assert median_days([]) is None


def test_band_position_is_exact_at_both_ends():
    # 6 / 30 = 20% and 9 / 30 = 30% are both inside; the band includes its ends.
    assert band_position(6, 30) == "inside"
    assert band_position(9, 30) == "inside"
    assert band_position(5, 30) == "below"
    assert band_position(10, 30) == "above"
    assert band_position(10, 29) == "not_enough_buyers"
    assert band_position(1, 5, min_buyers=5, low_bps=1000, high_bps=1500) == "above"


# --------------------------------------------------------------------------- report


# 40 buyers bought the base on 1 March (b1 bought it again on 10 March: counted once, from
# 1 March). Upsell purchases:
#   b1..b9 after 0, 2, 3, 5, 10, 14, 20, 30 and 45 days: nine takers;
#   b9 again on 1 May: a repeat, the same taker;
#   x1, who never bought the base, on 5 March: not counted;
#   b10 on 20 February, before buying the base: not counted.
INSIDE_BASE = [*buyers(40), ("b1", date(2025, 3, 10))]
INSIDE_UPSELLS = [
    *takers_after([0, 2, 3, 5, 10, 14, 20, 30, 45]),
    ("b9", date(2025, 5, 1)),
    ("x1", date(2025, 3, 5)),
    ("b10", date(2025, 2, 20)),
]


def test_an_upsell_inside_the_band():
    report = upsell_report(INSIDE_BASE, INSIDE_UPSELLS)
    # 9 / 40 = 22.5%; median of 0 2 3 5 10 14 20 30 45 is 10; 0, 2, 3, 5 are within 7 days.
    assert (report.buyers, report.takers, report.rate) == (40, 9, 0.225)
    assert report.median_days_to_take == 10.0
    assert report.takers_within_checkout_days == 4
    assert report.band == "inside"
    assert report.not_counted == 3  # the repeat, x1 and b10
    assert report.still_deciding == 0
    assert report.interval == pytest.approx((0.123161, 0.375031), abs=1e-6)
    assert report.suggestions == (
        "9 of 40 buyers took the upsell (22.5%), inside the 20\u201330% target: keep its "
        "price and timing as they are.",
    )


def test_a_window_leaves_out_late_takers():
    report = upsell_report(INSIDE_BASE, INSIDE_UPSELLS, window_days=30)
    # b9 took it after 45 days, outside the 30-day window: 8 / 40 = 20%, the band's low end.
    # Day 30 itself is inside the window.
    assert (report.takers, report.band, report.not_counted) == (8, "inside", 4)
    assert report.median_days_to_take == 7.5  # 0 2 3 5 | 10 14 20 30 -> (5 + 10) / 2


def test_below_the_band_with_early_takers_suggests_the_checkout():
    upsells = takers_after([0, 0, 1, 2, 5, 12, 30])
    report = upsell_report(buyers(50), upsells)
    # 7 / 50 = 14%; 5 of the 7 took it within 7 days (0, 0, 1, 2, 5): more than half.
    # Wilson(7, 50) = (0.0695, 0.2619): its top is above 20%, so the low rate may be noise.
    assert (report.rate, report.band, report.takers_within_checkout_days) == (0.14, "below", 5)
    assert report.suggestions == (
        "7 of 50 buyers took the upsell (14%), below the 20\u201330% target.",
        "5 of 7 takers bought it within 7 days of the base offer: offer it at checkout, when "
        "interest is highest.",
        "The 95% interval (7\u201326.2%) still reaches the band: more buyers will show "
        "whether the rate is really this low.",
    )


def test_below_the_band_with_late_takers_suggests_a_follow_up_on_the_median_day():
    report = upsell_report(buyers(50), takers_after([3, 10, 14, 21, 21, 28]))
    # 6 / 50 = 12%; only 1 of 6 within 7 days; median (14 + 21) / 2 = 17.5 -> day 18.
    # Wilson(6, 50) = (0.0562, 0.2380).
    assert report.suggestions == (
        "6 of 50 buyers took the upsell (12%), below the 20\u201330% target.",
        "Takers waited a median of 17.5 days: follow up with every buyer on day 18 after they buy.",
        "The 95% interval (5.6\u201323.8%) still reaches the band: more buyers will show "
        "whether the rate is really this low.",
    )


def test_clearly_below_the_band_says_nothing_about_noise():
    report = upsell_report(buyers(100), takers_after([1, 2, 3, 20, 30]))
    # 5 / 100 = 5%; Wilson(5, 100) tops out at 11.2%, well below 20%; 3 of 5 early.
    assert report.interval is not None
    assert report.interval[1] == pytest.approx(0.111750, abs=1e-6)
    assert report.suggestions == (
        "5 of 100 buyers took the upsell (5%), below the 20\u201330% target.",
        "3 of 5 takers bought it within 7 days of the base offer: offer it at checkout, when "
        "interest is highest.",
    )


def test_no_takers_at_all():
    report = upsell_report(buyers(40), [])
    assert (report.rate, report.median_days_to_take, report.band) == (0.0, None, "below")
    assert report.suggestions[1] == (
        "No buyer has taken it yet: offer it at checkout, right after the base purchase, and "
        "check that buyers can see it."
    )


def test_above_the_band_suggests_a_higher_price():
    report = upsell_report(buyers(40), takers_after([1] * 16), upsell_price=Money(49_00, "USD"))
    # 16 / 40 = 40%; Wilson(16, 40) = (0.2635, 0.5540): its bottom is back inside the band.
    assert report.band == "above"
    assert report.suggestions == (
        "16 of 40 buyers took the upsell (40%), above the 20\u201330% target.",
        "With that many takers the upsell may be underpriced at $49.00: try a higher price "
        "and watch that the rate stays above 20%.",
        "The 95% interval (26.3\u201355.4%) still reaches into the band: more buyers will "
        "show whether the rate stays this high.",
    )
    clear = upsell_report(buyers(100), takers_after([1] * 60))
    # 60 / 100: Wilson bottom 50.2%, far above 30%: no noise sentence, no price to name.
    assert clear.suggestions[1:] == (
        "With that many takers the upsell may be underpriced: try a higher price and watch "
        "that the rate stays above 20%.",
    )


def test_not_enough_buyers_says_how_many_more():
    report = upsell_report(buyers(12), takers_after([0, 1, 2, 3, 4, 5, 6]))
    # 7 / 12 looks like 58%, but 12 < 30 buyers: 18 more are needed.
    assert report.band == "not_enough_buyers"
    assert report.suggestions == (
        "Only 12 buyers of the base offer so far: 18 more are needed before the conversion "
        "rate can be judged against the 20\u201330% target.",
    )
    one = upsell_report(buyers(29), [])
    assert one.suggestions[0].startswith("Only 29 buyers of the base offer so far: 1 more is")
    nobody = upsell_report([], [("x", MARCH_1)])
    assert (nobody.rate, nobody.interval, nobody.not_counted) == (None, None, 1)
    assert nobody.suggestions[0].startswith("Only 0 buyers of the base offer so far: 30 more")


def test_as_of_leaves_out_buyers_still_inside_their_window():
    # 30 buyers on 1 March and 10 on 1 April; the report is for 10 April with a 14-day window.
    # 1 April + 14 days = 15 April > 10 April: those 10 are still deciding, even the one who
    # already took it, so they are left out of the rate.
    base = [*buyers(30), *buyers(10, date(2025, 4, 1), prefix="late")]
    upsells = [
        *takers_after([1, 2, 3, 4, 5, 6, 7]),
        ("late1", date(2025, 4, 2)),
        ("b8", date(2025, 4, 20)),  # after as_of: not counted
    ]
    report = upsell_report(base, upsells, window_days=14, as_of=date(2025, 4, 10))
    # 7 / 30 = 23.3%
    assert (report.buyers, report.takers, report.still_deciding) == (30, 7, 10)
    assert report.band == "inside"
    assert report.not_counted == 2
    assert report.suggestions[0].startswith("7 of 30 buyers took the upsell (23.3%), inside")
    # Without as_of every buyer counts: 8 / 40 = 20%.
    assert upsell_report(base, upsells, window_days=14).takers == 8


def test_not_enough_buyers_mentions_those_still_deciding():
    base = [*buyers(20), *buyers(5, date(2025, 4, 1), prefix="late")]
    report = upsell_report(base, [], window_days=14, as_of=date(2025, 4, 10))
    assert report.suggestions == (
        "Only 20 buyers of the base offer so far: 10 more are needed before the conversion "
        "rate can be judged against the 20\u201330% target (5 more are still inside the "
        "14-day window).",
    )


def test_bad_input_is_refused_with_its_field():
    with pytest.raises(UpsellError, match="calendar date, not datetime") as caught:
        upsell_report([("a", datetime(2025, 3, 1, 9))], [])  # noqa: DTZ001
    assert caught.value.field == "base_purchases[0].date"
    with pytest.raises(UpsellError, match=r"must be \(buyer, date\)") as caught:
        upsell_report([("a", MARCH_1)], [("a",)])  # type: ignore[list-item]
    assert caught.value.field == "upsell_purchases[0]"
    with pytest.raises(UpsellError, match="must not be negative") as caught:
        upsell_report([], [], window_days=-1)
    assert caught.value.field == "window_days"
    with pytest.raises(UpsellError, match="low_bps <= high_bps") as caught:
        upsell_report([], [], low_bps=3000, high_bps=2000)
    with pytest.raises(UpsellError, match="int or str id") as caught:
        upsell_report([(None, MARCH_1)], [])  # type: ignore[list-item]
    assert caught.value.field == "base_purchases[0].buyer"


_PURCHASES = st.lists(
    st.tuples(st.integers(0, 40), st.integers(0, 120)).map(
        lambda p: (p[0], MARCH_1 + timedelta(days=p[1]))
    ),
    max_size=80,
)


@given(_PURCHASES, _PURCHASES, st.none() | st.integers(0, 60))
def test_takers_are_buyers_and_the_rate_sits_in_its_interval(base, upsells, window):
    report = upsell_report(base, upsells, window_days=window)
    assert report.buyers == len({b for b, _ in base})
    assert 0 <= report.takers <= report.buyers
    assert report.takers + report.not_counted == len(upsells)
    assert report.suggestions
    if report.buyers:
        assert report.rate is not None and report.interval is not None
        assert 0.0 <= report.interval[0] <= report.rate <= report.interval[1] <= 1.0
    if report.takers:
        assert report.median_days_to_take is not None
        assert 0 <= report.median_days_to_take <= (window if window is not None else 120)
