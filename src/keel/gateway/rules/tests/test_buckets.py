"""Benefit buckets: allocation, exact splits, uses and withholding, by hand."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.gateway.rules.buckets import (
    BUCKET_LABELS,
    BUCKETS,
    DEFAULT_ALLOCATION_BPS,
    USE_BUCKET,
    USES,
    allocation_from_percent,
    check_use,
    split,
    validate_allocation,
    withholding,
)
from keel.gateway.rules.policy import PolicyError


def test_constants():
    assert BUCKETS == ("health", "retirement", "time_off", "emergency", "tax")
    assert set(BUCKET_LABELS) == set(BUCKETS)
    assert sum(DEFAULT_ALLOCATION_BPS.values()) == 10_000
    assert USES == ("time_off", "health", "retirement", "emergency")
    assert all(USE_BUCKET[use] in BUCKETS for use in USES)
    with pytest.raises(TypeError):
        DEFAULT_ALLOCATION_BPS["health"] = 0  # type: ignore[index]


def test_split_default_allocation_of_forty_dollars():
    # 40.00 at 30/30/20/10/10 % divides evenly: 12.00, 12.00, 8.00, 4.00, 4.00.
    assert split(4000, DEFAULT_ALLOCATION_BPS) == {
        "health": 1200,
        "retirement": 1200,
        "time_off": 800,
        "emergency": 400,
        "tax": 400,
    }


def test_split_gives_leftover_cents_to_the_largest_remainders():
    # 10.01 at 30/30/20/10/10 %: exact shares 300.3, 300.3, 200.2, 100.1, 100.1 -> floors
    # 300+300+200+100+100 = 1000, one cent left, remainders 0.3, 0.3, 0.2, 0.1, 0.1:
    # it goes to the first of the two largest, health.
    assert split(1001, DEFAULT_ALLOCATION_BPS) == {
        "health": 301,
        "retirement": 300,
        "time_off": 200,
        "emergency": 100,
        "tax": 100,
    }
    # 0.07 at the default: exact 2.1, 2.1, 1.4, 0.7, 0.7 -> floors 2, 2, 1, 0, 0 = 5,
    # two cents left, remainders .1 .1 .4 .7 .7: emergency and tax get them.
    assert split(7, DEFAULT_ALLOCATION_BPS) == {
        "health": 2,
        "retirement": 2,
        "time_off": 1,
        "emergency": 1,
        "tax": 1,
    }


def test_split_of_a_reversal_mirrors_the_original():
    assert split(-1001, DEFAULT_ALLOCATION_BPS) == {
        bucket: -part for bucket, part in split(1001, DEFAULT_ALLOCATION_BPS).items()
    }


def test_split_all_to_one_bucket():
    everything_to_health = {"health": 10_000, "retirement": 0, "time_off": 0, "emergency": 0}
    assert split(12_345, {**everything_to_health, "tax": 0}) == {
        "health": 12_345,
        "retirement": 0,
        "time_off": 0,
        "emergency": 0,
        "tax": 0,
    }


@pytest.mark.parametrize(
    ("allocation", "field", "code"),
    [
        ({**DEFAULT_ALLOCATION_BPS, "pets": 0}, "allocation.pets", "unknown_field"),
        (
            {k: v for k, v in DEFAULT_ALLOCATION_BPS.items() if k != "tax"},
            "allocation.tax",
            "required",
        ),
        ({**DEFAULT_ALLOCATION_BPS, "health": 30.0}, "allocation.health", "invalid_type"),
        ({**DEFAULT_ALLOCATION_BPS, "health": True}, "allocation.health", "invalid_type"),
        ({**DEFAULT_ALLOCATION_BPS, "health": -1}, "allocation.health", "negative"),
        ({**DEFAULT_ALLOCATION_BPS, "health": 10_001}, "allocation.health", "out_of_range"),
        ({**DEFAULT_ALLOCATION_BPS, "health": 2900}, "allocation", "sum"),
        ([("health", 10_000)], "allocation", "invalid_type"),
    ],
)
def test_validate_allocation_names_the_field(allocation: Any, field: str, code: str):
    with pytest.raises(PolicyError) as caught:
        validate_allocation(allocation)
    assert (caught.value.field, caught.value.code) == (field, code)


def test_sum_error_says_the_percentage():
    with pytest.raises(PolicyError, match=r"allocation must add up to 100%, not 99%"):
        validate_allocation({**DEFAULT_ALLOCATION_BPS, "health": 2900})


def test_allocation_from_percent_is_exact():
    # 12.5% is 1250 bps exactly; 33.33 + 33.33 + 33.34 = 100.00.
    assert allocation_from_percent(
        {
            "health": "12.5",
            "retirement": "33.33",
            "time_off": " 20.84 ",
            "emergency": "33.33",
            "tax": "",
        }
    ) == {"health": 1250, "retirement": 3333, "time_off": 2084, "emergency": 3333, "tax": 0}
    assert allocation_from_percent(
        {"health": "30%", "retirement": "30", "time_off": "20", "emergency": "10", "tax": "10.00"}
    ) == dict(DEFAULT_ALLOCATION_BPS)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("12.345", "invalid_percent"),  # a fraction of a basis point
        ("-5", "invalid_percent"),
        ("1e2", "invalid_percent"),
        ("thirty", "invalid_percent"),
        ("100.01", "out_of_range"),
    ],
)
def test_allocation_from_percent_refuses_bad_text(text: str, code: str):
    data = {"health": text, "retirement": "30", "time_off": "20", "emergency": "10", "tax": "10"}
    with pytest.raises(PolicyError) as caught:
        allocation_from_percent(data)
    assert (caught.value.field, caught.value.code) == ("allocation.health", code)


def test_allocation_from_percent_refuses_non_text():
    with pytest.raises(PolicyError) as caught:
        allocation_from_percent({"health": 30})  # type: ignore[dict-item]
    assert (caught.value.field, caught.value.code) == ("allocation.health", "invalid_type")


def test_check_use_returns_the_bucket():
    assert check_use("health", 5000, 5000, time_off_unit=None) == "health"
    # Alia: two $120 units of time off from a $300 balance.
    assert check_use("time_off", 24_000, 30_000, time_off_unit=12_000) == "time_off"
    # Without a unit any amount of time off is fine.
    assert check_use("time_off", 15_000, 30_000, time_off_unit=None) == "time_off"


def test_check_use_refusals():
    with pytest.raises(PolicyError) as caught:
        check_use("emergency", 5001, 5000, time_off_unit=None, currency="USD")
    assert (caught.value.field, caught.value.code) == ("amount", "insufficient_funds")
    assert str(caught.value) == "the emergency bucket holds $50.00, less than $50.01"

    with pytest.raises(PolicyError) as caught:
        check_use("time_off", 15_000, 30_000, time_off_unit=12_000, currency="USD")
    assert (caught.value.field, caught.value.code) == ("amount", "not_whole_units")
    assert str(caught.value) == (
        "time off is paid in whole units of $120.00; $150.00 is not a whole number of units"
    )

    for amount in (0, -100):
        with pytest.raises(PolicyError) as caught:
            check_use("health", amount, 5000, time_off_unit=None)
        assert (caught.value.field, caught.value.code) == ("amount", "not_positive")

    with pytest.raises(PolicyError) as caught:
        check_use("tax", 100, 5000, time_off_unit=None)
    assert (caught.value.field, caught.value.code) == ("use", "invalid_choice")


def test_withholding_rounds_half_up():
    # 5% of 123.45 = 6.1725 -> 6.17; 5% of 0.10 = 0.005 -> 0.01 (half up); 0% = stopped.
    assert withholding(12_345, 500) == 617
    assert withholding(10, 500) == 1
    assert withholding(12_345, 0) == 0
    assert withholding(12_345, 10_000) == 12_345
    with pytest.raises(PolicyError) as caught:
        withholding(12_345, 10_001)
    assert caught.value.field == "rate_bps"
    with pytest.raises(PolicyError) as caught:
        withholding(-1, 500)
    assert caught.value.field == "amount_earned"


@st.composite
def allocations(draw: st.DrawFn) -> dict[str, int]:
    cuts = sorted(draw(st.lists(st.integers(0, 10_000), min_size=4, max_size=4)))
    edges = [0, *cuts, 10_000]
    return {bucket: edges[i + 1] - edges[i] for i, bucket in enumerate(BUCKETS)}


@given(st.integers(-(10**12), 10**12), allocations())
def test_split_sums_exactly_and_stays_close_to_the_share(amount: int, allocation: dict[str, int]):
    parts = split(amount, allocation)
    assert list(parts) == list(BUCKETS)
    assert sum(parts.values()) == amount
    for bucket, part in parts.items():
        exact_times_10000 = amount * allocation[bucket]
        # Each part is the exact share rounded down or up: never more than a unit away.
        assert abs(part * 10_000 - exact_times_10000) < 10_000
    assert split(amount, allocation) == parts  # deterministic


@given(allocations())
def test_percent_text_round_trips(allocation: dict[str, int]):
    text = {bucket: f"{bps // 100}.{bps % 100:02d}" for bucket, bps in allocation.items()}
    assert allocation_from_percent(text) == allocation
