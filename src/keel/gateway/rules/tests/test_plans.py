"""Scaled purchasing power: price tiers by enrolment, by hand."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.gateway.rules.plans import (
    PlanPricing,
    PriceTier,
    group_saving,
    next_tier,
    price_for,
    saving,
)
from keel.gateway.rules.policy import PolicyError

# Individual 450.00 a month; 405.00 from 10 members, 360.00 from 50, 315.00 from 200.
PRICING = PlanPricing(
    currency="USD",
    individual_price=45_000,
    tiers=(PriceTier(10, 40_500), PriceTier(50, 36_000), PriceTier(200, 31_500)),
)


def test_price_steps_down_with_enrolment():
    assert price_for(PRICING, 0) == 45_000
    assert price_for(PRICING, 9) == 45_000
    assert price_for(PRICING, 10) == 40_500
    assert price_for(PRICING, 49) == 40_500
    assert price_for(PRICING, 57) == 36_000
    assert price_for(PRICING, 200) == 31_500
    assert price_for(PRICING, 10_000) == 31_500


def test_saving_per_member_and_for_the_group():
    assert saving(PRICING, 9) == 0
    assert saving(PRICING, 10) == 4_500  # 450.00 - 405.00 = 45.00
    assert saving(PRICING, 57) == 9_000  # 450.00 - 360.00 = 90.00
    assert group_saving(PRICING, 57) == 513_000  # 57 x 90.00 = 5,130.00 a month


def test_next_tier():
    assert next_tier(PRICING, 9) == (1, 40_500)
    assert next_tier(PRICING, 10) == (40, 36_000)  # 50 - 10
    assert next_tier(PRICING, 57) == (143, 31_500)  # 200 - 57
    assert next_tier(PRICING, 200) is None


def test_next_tier_skips_a_tier_that_keeps_the_price():
    flat = PlanPricing("USD", 45_000, (PriceTier(10, 40_500), PriceTier(20, 40_500)))
    # At 12 members the tier at 20 would change nothing; there is no cheaper tier.
    assert next_tier(flat, 12) is None
    assert next_tier(flat, 5) == (5, 40_500)


def test_no_tiers_is_the_individual_price():
    alone = PlanPricing("EUR", 12_000)
    assert (price_for(alone, 30), saving(alone, 30), next_tier(alone, 30)) == (12_000, 0, None)


@pytest.mark.parametrize(
    ("kwargs", "field", "code"),
    [
        ({"currency": "XXX"}, "currency", "invalid_currency"),
        ({"individual_price": -1}, "individual_price", "negative"),
        ({"tiers": [PriceTier(10, 40_500)]}, "tiers", "invalid_type"),
        ({"tiers": ((10, 40_500),)}, "tiers.0", "invalid_type"),
        (
            {"tiers": (PriceTier(50, 36_000), PriceTier(10, 40_500))},
            "tiers.1.min_enrolled",
            "not_increasing",
        ),
        (
            {"tiers": (PriceTier(10, 40_500), PriceTier(10, 36_000))},
            "tiers.1.min_enrolled",
            "not_increasing",
        ),
        ({"tiers": (PriceTier(10, 46_000),)}, "tiers.0.monthly_price", "price_increases"),
        (
            {"tiers": (PriceTier(10, 36_000), PriceTier(50, 40_500))},
            "tiers.1.monthly_price",
            "price_increases",
        ),
    ],
)
def test_pricing_validation(kwargs: dict[str, Any], field: str, code: str):
    fields = {"currency": "USD", "individual_price": 45_000, **kwargs}
    with pytest.raises(PolicyError) as caught:
        PlanPricing(**fields)
    assert (caught.value.field, caught.value.code) == (field, code)


def test_tier_validation():
    with pytest.raises(PolicyError) as caught:
        PriceTier(1, 40_000)  # one member is the individual price
    assert (caught.value.field, caught.value.code) == ("min_enrolled", "out_of_range")
    with pytest.raises(PolicyError) as caught:
        PriceTier(10, -1)
    assert (caught.value.field, caught.value.code) == ("monthly_price", "negative")
    with pytest.raises(PolicyError) as caught:
        price_for(PRICING, -1)
    assert caught.value.field == "enrolled"


@given(st.integers(0, 1_000), st.integers(0, 1_000))
def test_more_members_never_cost_more(a: int, b: int):
    low, high = sorted((a, b))
    assert price_for(PRICING, high) <= price_for(PRICING, low) <= PRICING.individual_price
    step = next_tier(PRICING, low)
    if step is not None:
        needed, price = step
        assert needed > 0
        assert price_for(PRICING, low + needed) == price < price_for(PRICING, low)
