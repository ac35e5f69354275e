"""Clearing periods and settlement status, by hand."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.gateway.rules.clearing import (
    CADENCES,
    SETTLEMENT_STATUSES,
    period_for,
    settlement_difference,
    status,
)
from keel.gateway.rules.policy import PolicyError


def test_periods():
    # 2025-03-13 is a Thursday: its ISO week runs Monday 10th to Sunday 16th.
    day = date(2025, 3, 13)
    assert period_for(day, "daily") == (day, day)
    assert period_for(day, "weekly") == (date(2025, 3, 10), date(2025, 3, 16))
    assert period_for(day, "monthly") == (date(2025, 3, 1), date(2025, 3, 31))
    # A week across the year end: Wednesday 2025-12-31 is in Dec 29 - Jan 4.
    assert period_for(date(2025, 12, 31), "weekly") == (date(2025, 12, 29), date(2026, 1, 4))
    assert period_for(date(2024, 2, 10), "monthly") == (date(2024, 2, 1), date(2024, 2, 29))


def test_bad_cadence_names_the_field():
    with pytest.raises(PolicyError) as caught:
        period_for(date(2025, 3, 13), "hourly")
    assert (caught.value.field, caught.value.code) == ("cadence", "invalid_choice")


def test_settlement_difference():
    # Owed 1,234.56, paid 1,200.00: 34.56 short, reported as -3456.
    assert settlement_difference(123_456, 120_000) == -3_456
    assert settlement_difference(123_456, 123_456) == 0
    assert settlement_difference(123_456, 130_000) == 6_544


def test_status():
    assert SETTLEMENT_STATUSES == ("open", "settled", "short", "excess")
    assert status(123_456, 0) == "open"
    assert status(123_456, 123_456) == "settled"
    assert status(123_456, 120_000) == "short"  # never written off
    assert status(123_456, 123_457) == "excess"  # one cent too much is still a difference
    assert status(0, 0) == "settled"  # nothing owed, nothing to pay
    assert status(0, 500) == "excess"


def test_a_batch_that_owes_less_than_nothing_is_an_excess_until_refunded():
    # Corrections in the batch took back $180.00 more than its events added: Keel owes
    # the platform $180.00, refunded as a negative payment.
    assert settlement_difference(-18_000, 0) == 18_000
    assert status(-18_000, 0) == "excess"
    assert status(-18_000, -18_000) == "settled"


def test_settlement_validation():
    with pytest.raises(PolicyError) as caught:
        status(True, 0)  # type: ignore[arg-type]
    assert (caught.value.field, caught.value.code) == ("owed", "invalid_type")
    with pytest.raises(PolicyError) as caught:
        settlement_difference(100, 99.5)  # type: ignore[arg-type]
    assert (caught.value.field, caught.value.code) == ("paid", "invalid_type")


@given(
    st.dates(min_value=date(1900, 1, 2), max_value=date(2999, 12, 30)), st.sampled_from(CADENCES)
)
def test_periods_tile_the_calendar(day: date, cadence: str):
    start, end = period_for(day, cadence)
    assert start <= day <= end
    assert period_for(end + timedelta(days=1), cadence)[0] == end + timedelta(days=1)
    assert period_for(start - timedelta(days=1), cadence)[1] == start - timedelta(days=1)
    if cadence == "weekly":
        assert (start.weekday(), end - start) == (0, timedelta(days=6))


@given(st.integers(0, 10**12), st.integers(0, 10**12))
def test_status_agrees_with_the_difference(owed: int, paid: int):
    result = status(owed, paid)
    difference = settlement_difference(owed, paid)
    if paid == 0 and owed > 0:
        assert result == "open"
    else:
        assert (
            result == {0: "settled", -1: "short", 1: "excess"}[(difference > 0) - (difference < 0)]
        )
