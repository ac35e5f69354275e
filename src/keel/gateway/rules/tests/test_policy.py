"""Contribution policies against the public pilots (DoorDash, Lyft Utah, Alia), by hand."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.gateway.rules.policy import (
    PERIODS,
    Contribution,
    Earnings,
    PeriodToDate,
    Policy,
    PolicyError,
    Tier,
    contribution,
    eligible_amount,
    format_bps,
    monthly_minimum_topup,
    period_bounds,
    share,
    threshold_amount,
)


def run(
    policy: Policy, events: Sequence[Earnings], *, status: str | None = None
) -> list[Contribution]:
    """Thread the period state through a period's events the way the service does."""
    before = PeriodToDate()
    out = []
    for event in events:
        result = contribution(policy, before, event, status=status)
        out.append(result)
        before = PeriodToDate(
            threshold_basis=before.threshold_basis + threshold_amount(policy, event),
            eligible=before.eligible + eligible_amount(policy, event),
            rate_base=result.rate_base_after,
            month_contributed=before.month_contributed + result.amount,
            year_contributed=before.year_contributed + result.amount,
        )
    return out


DOORDASH = Policy(
    currency="USD",
    rate_bps=400,
    include_tips=False,
    threshold=100_000,
    threshold_period="quarter",
    backdate=True,
)

# --------------------------------------------------------------------------- share


def test_share_rounds_half_up():
    # 4% of $0.12 = 0.48 cent -> 0; of $0.13 = 0.52 -> 1; 50% of 1 cent = 0.5 -> 1.
    assert share(12, 400) == 0
    assert share(13, 400) == 1
    assert share(1, 5000) == 1
    assert share(0, 400) == 0


def test_format_bps():
    assert format_bps(400) == "4%"
    assert format_bps(750) == "7.5%"
    assert format_bps(725) == "7.25%"
    assert format_bps(1) == "0.01%"
    assert format_bps(10_000) == "100%"


# --------------------------------------------------------------------------- DoorDash


def test_doordash_backdated_quarter():
    results = run(
        DOORDASH,
        [
            Earnings(gross=60_000, tips=8_000),  # basis 600.00: tips do not count
            Earnings(gross=39_999),  # basis 999.99: one cent short
            Earnings(gross=1),  # basis 1,000.00: reaching it exactly counts
            Earnings(gross=25_000, tips=3_000),
        ],
    )
    first, second, crossing, after = results
    assert (first.amount, first.eligible, first.rate_base_after) == (0, False, 0)
    assert first.explanation == (
        "No contribution yet: $600.00 of the $1,000.00 needed this quarter is earned, "
        "$400.00 to go."
    )
    assert (second.amount, second.eligible) == (0, False)
    assert second.explanation.endswith("$0.01 to go.")
    # Crossing back-dates to the quarter's start: eligible 600.00 + 399.99 + 0.01 = 1,000.00
    # (tips excluded), 4% = 40.00: 100000 * 400 = 40,000,000; +5000, //10000 = 4000.
    # backdated = 4000 - share(1) = 4000 - (400 + 5000) // 10000 = 4000 - 0 = 4000.
    assert crossing == Contribution(
        amount=4000,
        rate_part=4000,
        per_job_part=0,
        backdated=4000,
        eligible=True,
        capped=0,
        rate_base_after=100_000,
        explanation=(
            "Threshold reached, so this event contributes $40.00: $40.00 for 4% of "
            "$1,000.00 earned since the start of the quarter."
        ),
    )
    # 250.00 gross (tips of 30.00 not eligible): share(125000) - share(100000) = 5000 - 4000.
    assert (after.amount, after.rate_part, after.backdated) == (1000, 1000, 0)
    assert after.rate_base_after == 125_000
    assert after.explanation == "This event contributes $10.00: $10.00 for 4% of $250.00."


def test_doordash_without_backdating_starts_at_the_crossing_event():
    policy = Policy(currency="USD", rate_bps=400, threshold=100_000, backdate=False)
    results = run(
        policy,
        [
            Earnings(gross=60_000, tips=8_000),
            Earnings(gross=39_999),
            Earnings(gross=1),  # crosses
            Earnings(gross=25_000, tips=3_000),
        ],
    )
    crossing, after = results[2], results[3]
    # The crossing event counts alone: share(1) = (400 + 5000) // 10000 = 0.
    assert (crossing.amount, crossing.eligible, crossing.backdated) == (0, True, 0)
    assert crossing.rate_base_after == 1
    # share(25001) - share(1) = (10,000,400 + 5000) // 10000 - 0 = 1000.
    assert (after.amount, after.rate_base_after) == (1000, 25_001)


def test_threshold_reached_exactly_by_one_event():
    # 1,000.00 in one event: basis 0 -> 100000 >= 100000; 4% = 40.00, none of it back-dated.
    result = contribution(DOORDASH, PeriodToDate(), Earnings(gross=100_000))
    assert (result.amount, result.backdated, result.eligible) == (4000, 0, True)


def test_one_cent_below_threshold_pays_nothing_even_per_job():
    policy = Policy(currency="USD", rate_bps=400, per_job=100, threshold=100_000)
    result = contribution(policy, PeriodToDate(), Earnings(gross=99_999, jobs=5))
    assert (result.amount, result.per_job_part, result.eligible) == (0, 0, False)


def test_tips_count_toward_threshold_only_when_the_policy_says_so():
    # 900.00 gross + 100.00 tips: basis 900.00 without tips, 1,000.00 with them.
    event = Earnings(gross=90_000, tips=10_000)
    assert not contribution(DOORDASH, PeriodToDate(), event).eligible
    with_tips = Policy(
        currency="USD", rate_bps=400, threshold=100_000, threshold_includes_tips=True
    )
    result = contribution(with_tips, PeriodToDate(), event)
    # Eligible now, but the rate still excludes tips: 4% of 900.00 = 36.00.
    assert (result.eligible, result.amount) == (True, 3600)


def test_bonus_counts_toward_threshold_and_is_eligible_when_included():
    policy = Policy(currency="USD", rate_bps=400, include_bonus=True, include_tips=True)
    event = Earnings(gross=10_000, tips=2_000, bonus=3_000)
    assert eligible_amount(policy, event) == 15_000  # 100.00 + 20.00 + 30.00
    assert threshold_amount(policy, event) == 13_000  # gross + bonus, tips excluded
    # 4% of 150.00 = 6.00.
    assert contribution(policy, PeriodToDate(), event).amount == 600


def test_per_job_amounts_are_not_backdated():
    policy = Policy(currency="USD", per_job=100, threshold=1_000, backdate=True)
    # First event: basis 6.00 < 10.00, nothing. Second crosses (12.00): only its 3 jobs pay,
    # 3 x 1.00; the first event's 3 jobs are not back-dated.
    results = run(policy, [Earnings(gross=600, jobs=3), Earnings(gross=600, jobs=3)])
    assert [r.amount for r in results] == [0, 300]
    assert results[1].backdated == 0


# --------------------------------------------------------------------------- Lyft Utah


LYFT = Policy(currency="USD", tiers=(Tier("platinum", rate_bps=700),))


def test_lyft_platinum_rate_is_cumulative_over_the_quarter():
    events = [Earnings(gross=41_152), Earnings(gross=41_152), Earnings(gross=41_153)]
    results = run(LYFT, events, status="platinum")
    # Quarter total 1,234.57: 123457 * 700 = 86,419,900; +5000, //10000 = 8642 (86.42).
    # share(41152) = 2881, share(82304) = (57,612,800 + 5000) // 10000 = 5761,
    # so the parts are 2881, 5761 - 2881 = 2880, 8642 - 5761 = 2881.
    assert [r.amount for r in results] == [2881, 2880, 2881]
    assert sum(r.amount for r in results) == 8642
    # Rounding each event alone would have paid 2881 + 2881 + 2881 = 8643: a cent of drift.
    assert sum(share(e.gross, 700) for e in events) == 8643


def test_lyft_other_statuses_get_nothing():
    for status in ("gold", None):
        results = run(LYFT, [Earnings(gross=123_457)], status=status)
        assert results[0].amount == 0
        assert results[0].explanation == (
            "This event contributes $0.00: nothing in it earns a contribution."
        )


def test_terms_for_replaces_only_what_the_tier_sets():
    policy = Policy(
        currency="USD",
        rate_bps=400,
        per_job=50,
        tiers=(Tier("platinum", rate_bps=700), Tier("gold", per_job=75)),
    )
    assert policy.terms_for(None) == (400, 50)
    assert policy.terms_for("silver") == (400, 50)
    assert policy.terms_for("platinum") == (700, 50)
    assert policy.terms_for("gold") == (400, 75)


# --------------------------------------------------------------------------- Alia


ALIA = Policy(currency="USD", per_job=500, monthly_minimum=500, time_off_unit=12_000)


def test_alia_five_dollars_per_cleaning():
    # 3 cleanings x 5.00 = 15.00; the fee itself is not a base (rate 0).
    result = contribution(ALIA, PeriodToDate(), Earnings(gross=36_000, jobs=3))
    assert (result.amount, result.per_job_part, result.rate_part) == (1500, 1500, 0)
    assert result.explanation == "This event contributes $15.00: $15.00 for 3 jobs."


def test_alia_monthly_minimum_topup():
    # One 5.00 job reached the 5.00 minimum: nothing to top up.
    assert monthly_minimum_topup(ALIA, 500, year_contributed=500, worked=True) == 0
    # A policy with only a minimum: worked, contributed 0 -> top up 5.00 - 0 = 5.00.
    minimum_only = Policy(currency="USD", monthly_minimum=500)
    assert contribution(minimum_only, PeriodToDate(), Earnings(gross=12_000)).amount == 0
    assert monthly_minimum_topup(minimum_only, 0, year_contributed=0, worked=True) == 500
    # Partly there: 5.00 - 3.00 = 2.00.
    assert monthly_minimum_topup(minimum_only, 300, year_contributed=300, worked=True) == 200
    # No work that month: no minimum.
    assert monthly_minimum_topup(minimum_only, 0, year_contributed=0, worked=False) == 0


# --------------------------------------------------------------------------- caps


def test_monthly_cap():
    policy = Policy(currency="USD", rate_bps=1000, monthly_cap=5000)
    results = run(policy, [Earnings(gross=30_000)] * 3)
    # 10% of 300.00 = 30.00 each; the cap of 50.00 leaves 20.00 for the second, 0 for the third.
    assert [(r.amount, r.capped) for r in results] == [(3000, 0), (2000, 1000), (0, 3000)]
    # The capped earnings are still covered: next month does not pay for them again.
    assert results[2].rate_base_after == 90_000
    assert results[1].explanation == (
        "This event contributes $20.00: $30.00 for 10% of $300.00, reduced by $10.00 "
        "to stay within the monthly cap."
    )


def test_yearly_cap():
    policy = Policy(currency="USD", rate_bps=1000, yearly_cap=10_000)
    before = PeriodToDate(month_contributed=0, year_contributed=9000)
    result = contribution(policy, before, Earnings(gross=30_000))
    # 30.00 due, 100.00 - 90.00 = 10.00 of room left in the year.
    assert (result.amount, result.capped) == (1000, 2000)
    assert result.explanation.endswith("reduced by $20.00 to stay within the yearly cap.")


def test_both_caps_binding_and_already_over():
    policy = Policy(currency="USD", rate_bps=1000, monthly_cap=5000, yearly_cap=20_000)
    both = contribution(
        policy, PeriodToDate(month_contributed=4000, year_contributed=19_000), Earnings(30_000)
    )
    assert (both.amount, both.capped) == (1000, 2000)  # 1,000 of room under either cap
    assert both.explanation.endswith("to stay within the monthly and yearly caps.")
    # A cap lowered below what was already paid gives 0, never a negative amount.
    over = contribution(policy, PeriodToDate(month_contributed=6000), Earnings(30_000))
    assert (over.amount, over.capped) == (0, 3000)


def test_topup_respects_caps():
    policy = Policy(currency="USD", monthly_minimum=5000, monthly_cap=5000, yearly_cap=20_000)
    # 40.00 short of the minimum, but the year has only 200.00 - 180.00 = 20.00 left.
    assert monthly_minimum_topup(policy, 1000, year_contributed=18_000, worked=True) == 2000
    assert monthly_minimum_topup(policy, 1000, year_contributed=20_000, worked=True) == 0
    # Monthly cap: contributed 50.00 already (the cap) -> nothing.
    assert monthly_minimum_topup(policy, 5000, year_contributed=5000, worked=True) == 0


# --------------------------------------------------------------------------- versions


def test_version_change_charges_the_new_rate_on_the_new_event_only():
    old = Policy(currency="USD", rate_bps=400)
    new = Policy(currency="USD", rate_bps=500)
    # Under the old version 200.00 earned 8.00; the service carries rate_base = 20000.
    assert sum(r.amount for r in run(old, [Earnings(10_000), Earnings(10_000)])) == 800
    carried = PeriodToDate(eligible=20_000, rate_base=20_000)
    result = contribution(new, carried, Earnings(gross=10_000))
    # share(30000, 500) - share(20000, 500) = 1500 - 1000 = 5.00, i.e. 5% of 100.00 only.
    assert (result.amount, result.rate_base_after) == (500, 30_000)


def test_version_change_rounding_stays_within_one_minor_unit():
    new = Policy(currency="USD", rate_bps=500)
    # Carried base 3.33, new event 3.33 at 5%: share(666) - share(333)
    # = (333,000 + 5000) // 10000 - (166,500 + 5000) // 10000 = 33 - 17 = 16,
    # against share(333) = 17 for the event alone.
    result = contribution(new, PeriodToDate(eligible=333, rate_base=333), Earnings(gross=333))
    assert result.amount == 16


def test_threshold_added_mid_period_never_charges_covered_earnings_twice():
    # The old version had no threshold and covered 500.00; the new one wants 1,000.00.
    new = Policy(currency="USD", rate_bps=400, threshold=100_000, backdate=True)
    before = PeriodToDate(threshold_basis=50_000, eligible=50_000, rate_base=50_000)
    waiting = contribution(new, before, Earnings(gross=10_000))
    assert (waiting.amount, waiting.rate_base_after) == (0, 50_000)  # carried, not reset
    crossing = contribution(
        new,
        PeriodToDate(threshold_basis=90_000, eligible=90_000, rate_base=50_000),
        Earnings(10_000),
    )
    # Back-dated base 1,000.00, already covered 500.00: share(100000) - share(50000) = 20.00.
    assert (crossing.amount, crossing.rate_base_after) == (2000, 100_000)
    # Had the service reset rate_base to 0, the crossing would charge all of it again:
    # share(100000) = 40.00, of which 20.00 the old version already paid.
    reset = PeriodToDate(threshold_basis=90_000, eligible=90_000)
    assert contribution(new, reset, Earnings(10_000)).amount == 4000


# --------------------------------------------------------------------------- validation


def test_from_dict_round_trips_and_has_stable_keys():
    policy = Policy(
        currency="USD",
        rate_bps=400,
        per_job=25,
        monthly_cap=5000,
        threshold=100_000,
        backdate=True,
        tiers=(Tier("platinum", rate_bps=700), Tier("gold", per_job=50)),
        time_off_unit=12_000,
    )
    data = policy.to_dict()
    assert list(data) == [
        "currency",
        "rate_bps",
        "include_gross",
        "include_tips",
        "include_bonus",
        "per_job",
        "monthly_minimum",
        "monthly_cap",
        "yearly_cap",
        "threshold",
        "threshold_period",
        "threshold_includes_tips",
        "backdate",
        "tiers",
        "time_off_unit",
    ]
    assert data["tiers"] == [
        {"status": "platinum", "rate_bps": 700, "per_job": None},
        {"status": "gold", "rate_bps": None, "per_job": 50},
    ]
    assert Policy.from_dict(data) == policy
    assert Policy.from_dict({"currency": "EUR"}) == Policy(currency="EUR")


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"rate_bps": 400}, "currency", "required"),
        ({"currency": "usd"}, "currency", "invalid_currency"),
        ({"currency": "XAU"}, "currency", "invalid_currency"),
        ({"currency": 840}, "currency", "invalid_currency"),
        ({"currency": "USD", "rate": 400}, "rate", "unknown_field"),
        ({"currency": "USD", "rate_bps": 10_001}, "rate_bps", "out_of_range"),
        ({"currency": "USD", "rate_bps": -1}, "rate_bps", "negative"),
        ({"currency": "USD", "rate_bps": 4.0}, "rate_bps", "invalid_type"),
        ({"currency": "USD", "rate_bps": True}, "rate_bps", "invalid_type"),
        ({"currency": "USD", "per_job": -500}, "per_job", "negative"),
        ({"currency": "USD", "per_job": "500"}, "per_job", "invalid_type"),
        ({"currency": "USD", "monthly_cap": -1}, "monthly_cap", "negative"),
        ({"currency": "USD", "yearly_cap": 1.5}, "yearly_cap", "invalid_type"),
        ({"currency": "USD", "threshold": -100}, "threshold", "negative"),
        ({"currency": "USD", "threshold_period": "week"}, "threshold_period", "invalid_choice"),
        ({"currency": "USD", "include_tips": 1}, "include_tips", "invalid_type"),
        ({"currency": "USD", "backdate": "yes"}, "backdate", "invalid_type"),
        ({"currency": "USD", "time_off_unit": 0}, "time_off_unit", "out_of_range"),
        # Past the largest amount an event may carry (10**12 minor units).
        ({"currency": "BHD", "per_job": 10**12 + 1}, "per_job", "out_of_range"),
        ({"currency": "USD", "monthly_minimum": 10**23}, "monthly_minimum", "out_of_range"),
        ({"currency": "USD", "monthly_cap": 10**12 + 1}, "monthly_cap", "out_of_range"),
        ({"currency": "USD", "yearly_cap": 10**12 + 1}, "yearly_cap", "out_of_range"),
        ({"currency": "USD", "threshold": 10**12 + 1}, "threshold", "out_of_range"),
        ({"currency": "USD", "time_off_unit": 10**12 + 1}, "time_off_unit", "out_of_range"),
        (
            {"currency": "USD", "tiers": [{"status": "p", "per_job": 10**12 + 1}]},
            "tiers.0.per_job",
            "out_of_range",
        ),
        ({"currency": "USD", "tiers": "platinum"}, "tiers", "invalid_type"),
        ({"currency": "USD", "tiers": ["platinum"]}, "tiers.0", "invalid_type"),
        ({"currency": "USD", "tiers": [{"rate_bps": 700}]}, "tiers.0.status", "required"),
        (
            {"currency": "USD", "tiers": [{"status": "p", "rate_bps": 700, "x": 1}]},
            "tiers.0.x",
            "unknown_field",
        ),
        (
            {"currency": "USD", "tiers": [{"status": "p", "rate_bps": 20_000}]},
            "tiers.0.rate_bps",
            "out_of_range",
        ),
        (
            {"currency": "USD", "tiers": [{"status": "p", "per_job": -5}]},
            "tiers.0.per_job",
            "negative",
        ),
        ({"currency": "USD", "tiers": [{"status": "p"}]}, "tiers.0.status", "empty_tier"),
        (
            {"currency": "USD", "tiers": [{"status": " p", "per_job": 1}]},
            "tiers.0.status",
            "invalid",
        ),
        (
            {
                "currency": "USD",
                "tiers": [{"status": "p", "rate_bps": 700}, {"status": "p", "per_job": 5}],
            },
            "tiers.1.status",
            "duplicate",
        ),
        (
            {"currency": "USD", "monthly_minimum": 600, "monthly_cap": 500},
            "monthly_minimum",
            "minimum_above_cap",
        ),
        (
            {"currency": "USD", "rate_bps": 400, "include_gross": False},
            "include_gross",
            "nothing_eligible",
        ),
    ],
)
def test_from_dict_refuses_bad_input_naming_the_field(data: Any, field: str, code: str):
    with pytest.raises(PolicyError) as caught:
        Policy.from_dict(data)
    assert (caught.value.field, caught.value.code) == (field, code)


def test_from_dict_refuses_a_non_mapping():
    with pytest.raises(PolicyError) as caught:
        Policy.from_dict([("currency", "USD")])  # type: ignore[arg-type]
    assert (caught.value.field, caught.value.code) == ("policy", "invalid_type")


def test_policy_error_is_a_value_error_with_a_message():
    with pytest.raises(ValueError, match=r"rate_bps must be at most 10000, not 10001"):
        Policy(currency="USD", rate_bps=10_001)


@pytest.mark.parametrize(
    ("kwargs", "field", "code"),
    [
        ({"gross": -1}, "gross", "negative"),
        ({"gross": 100, "tips": -1}, "tips", "negative"),
        ({"gross": 1.5}, "gross", "invalid_type"),
        ({"gross": 100, "jobs": True}, "jobs", "invalid_type"),
    ],
)
def test_earnings_validation(kwargs: dict[str, Any], field: str, code: str):
    with pytest.raises(PolicyError) as caught:
        Earnings(**kwargs)
    assert (caught.value.field, caught.value.code) == (field, code)


def test_period_to_date_validation_names_before_fields():
    with pytest.raises(PolicyError) as caught:
        PeriodToDate(rate_base=-1)
    assert caught.value.field == "before.rate_base"


def test_topup_validation():
    with pytest.raises(PolicyError) as caught:
        monthly_minimum_topup(ALIA, -1, year_contributed=0, worked=True)
    assert caught.value.field == "month_contributed"
    with pytest.raises(PolicyError) as caught:
        monthly_minimum_topup(ALIA, 0, year_contributed=0, worked=1)  # type: ignore[arg-type]
    assert caught.value.field == "worked"


# --------------------------------------------------------------------------- describe


def test_describe_doordash():
    assert DOORDASH.describe() == [
        "The platform contributes 4% of your earnings before tips and bonuses.",
        "Eligible once you earn $1,000.00 (excluding tips) in a calendar quarter; "
        "contributions then cover the whole quarter.",
    ]


def test_describe_lyft():
    assert LYFT.describe() == [
        "Unless you have platinum status, your earnings bring no contribution.",
        "With platinum status, the platform contributes 7% of your earnings before tips and "
        "bonuses instead.",
    ]


def test_describe_alia_with_caps():
    policy = Policy(
        currency="USD",
        per_job=500,
        monthly_minimum=500,
        monthly_cap=5000,
        yearly_cap=60_000,
        time_off_unit=12_000,
    )
    assert policy.describe() == [
        "The platform contributes $5.00 per job.",
        "In any month you work, the platform tops your contributions up to at least $5.00.",
        "Contributions are capped at $50.00 a month and $600.00 a year.",
        "Time off is paid out in units of $120.00.",
    ]


def test_describe_variants():
    policy = Policy(
        currency="EUR",
        rate_bps=250,
        include_tips=True,
        per_job=10,
        threshold=50_000,
        threshold_period="month",
        threshold_includes_tips=True,
        backdate=False,
    )
    assert policy.describe() == [
        "The platform contributes 2.5% of your earnings including tips, before bonuses, "
        "plus €0.10 per job.",
        "Eligible once you earn €500.00 (including tips) in a calendar month; "
        "contributions start with the payment that reaches it.",
    ]
    tips_only = Policy(currency="USD", rate_bps=1000, include_gross=False, include_tips=True)
    assert tips_only.describe() == ["The platform contributes 10% of your tips."]
    everything = Policy(currency="USD", rate_bps=100, include_tips=True, include_bonus=True)
    assert everything.describe() == [
        "The platform contributes 1% of your earnings including tips and bonuses."
    ]
    backdated_jobs = Policy(currency="USD", per_job=100, threshold=1000, backdate=True)
    assert backdated_jobs.describe()[1].endswith(
        "contributions then cover the whole quarter, though per-job amounts start only from then."
    )
    assert Policy(currency="USD").describe() == [
        "The platform contributes nothing under this policy."
    ]
    minimum_once_eligible = Policy(
        currency="USD", rate_bps=400, monthly_minimum=500, threshold=100_000
    )
    assert minimum_once_eligible.describe()[1] == (
        "In any month you work once eligible, the platform tops your contributions up to"
        " at least $5.00."
    )


# --------------------------------------------------------------------------- calendar


def test_period_bounds():
    day = date(2024, 11, 5)
    assert period_bounds(day, "month") == (date(2024, 11, 1), date(2024, 11, 30))
    assert period_bounds(day, "quarter") == (date(2024, 10, 1), date(2024, 12, 31))
    assert period_bounds(day, "year") == (date(2024, 1, 1), date(2024, 12, 31))
    assert period_bounds(date(2024, 2, 29), "month") == (date(2024, 2, 1), date(2024, 2, 29))
    assert period_bounds(date(2025, 6, 30), "quarter") == (date(2025, 4, 1), date(2025, 6, 30))
    with pytest.raises(PolicyError) as caught:
        period_bounds(day, "week")
    assert caught.value.field == "period"


# --------------------------------------------------------------------------- properties

amounts = st.integers(min_value=0, max_value=10**9)
bps = st.integers(min_value=0, max_value=10_000)


@given(st.lists(amounts, max_size=30), bps)
def test_no_drift_however_earnings_are_split(grosses: list[int], rate: int):
    policy = Policy(currency="USD", rate_bps=rate)
    results = run(policy, [Earnings(gross=g) for g in grosses])
    assert sum(r.rate_part for r in results) == share(sum(grosses), rate)
    assert sum(r.amount for r in results) == share(sum(grosses), rate)


@given(st.lists(amounts, min_size=1, max_size=30), bps, st.integers(0, 10**10))
def test_backdated_period_pays_the_share_of_everything_once_crossed(
    grosses: list[int], rate: int, threshold: int
):
    policy = Policy(currency="USD", rate_bps=rate, threshold=threshold, backdate=True)
    results = run(policy, [Earnings(gross=g) for g in grosses])
    total = sum(r.amount for r in results)
    if sum(grosses) >= threshold:
        assert total == share(sum(grosses), rate)
    else:
        assert total == 0
    assert sum(r.backdated for r in results) <= total


@given(st.lists(amounts, min_size=1, max_size=30), bps, st.integers(0, 10**10))
def test_without_backdating_the_period_pays_from_the_crossing_event(
    grosses: list[int], rate: int, threshold: int
):
    policy = Policy(currency="USD", rate_bps=rate, threshold=threshold)
    results = run(policy, [Earnings(gross=g) for g in grosses])
    running = 0
    for i, gross in enumerate(grosses):
        running += gross
        if running >= threshold:
            expected = share(sum(grosses[i:]), rate)
            break
    else:
        expected = 0
    assert sum(r.amount for r in results) == expected


@given(
    st.lists(st.tuples(amounts, st.integers(0, 20)), max_size=30),
    bps,
    st.integers(0, 500),
    st.integers(0, 10**7),
    st.one_of(st.none(), st.integers(0, 10**8)),
)
def test_caps_are_never_exceeded(
    events: list[tuple[int, int]], rate: int, per_job: int, monthly_cap: int, yearly_cap: int | None
):
    policy = Policy(
        currency="USD",
        rate_bps=rate,
        per_job=per_job,
        monthly_cap=monthly_cap,
        yearly_cap=yearly_cap,
    )
    results = run(policy, [Earnings(gross=g, jobs=j) for g, j in events])
    for r in results:
        assert r.amount >= 0
        assert r.capped >= 0
        assert r.amount + r.capped == r.rate_part + r.per_job_part
    paid = sum(r.amount for r in results)
    assert paid <= monthly_cap
    if yearly_cap is not None:
        assert paid <= yearly_cap


tiers = st.lists(
    st.builds(
        Tier,
        status=st.sampled_from(["platinum", "gold", "silver", "bronze"]),
        rate_bps=bps,
        per_job=st.one_of(st.none(), st.integers(0, 10**6)),
    ),
    max_size=4,
    unique_by=lambda t: t.status,
).map(tuple)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    cap = draw(st.one_of(st.none(), st.integers(0, 10**8)))
    return Policy(
        currency=draw(st.sampled_from(["USD", "EUR", "JPY", "BHD"])),
        rate_bps=draw(bps),
        include_gross=True,
        include_tips=draw(st.booleans()),
        include_bonus=draw(st.booleans()),
        per_job=draw(st.integers(0, 10**6)),
        monthly_minimum=draw(st.integers(0, cap if cap is not None else 10**6)),
        monthly_cap=cap,
        yearly_cap=draw(st.one_of(st.none(), st.integers(0, 10**9))),
        threshold=draw(st.integers(0, 10**9)),
        threshold_period=draw(st.sampled_from(PERIODS)),
        threshold_includes_tips=draw(st.booleans()),
        backdate=draw(st.booleans()),
        tiers=draw(tiers),
        time_off_unit=draw(st.one_of(st.none(), st.integers(1, 10**6))),
    )


@given(policies())
def test_to_dict_round_trips(policy: Policy):
    assert Policy.from_dict(policy.to_dict()) == policy
    assert all(isinstance(line, str) and line for line in policy.describe())


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31)), st.sampled_from(PERIODS))
def test_periods_tile_the_calendar(day: date, period: str):
    start, end = period_bounds(day, period)
    assert start <= day <= end
    assert start.day == 1
    assert period_bounds(end + timedelta(days=1), period)[0] == end + timedelta(days=1)
    assert period_bounds(start - timedelta(days=1), period)[1] == start - timedelta(days=1)


def test_policy_amounts_may_reach_the_largest_event_amount():
    top = 10**12
    policy = Policy(
        currency="USD",
        per_job=top,
        monthly_minimum=top,
        monthly_cap=top,
        yearly_cap=top,
        threshold=top,
        time_off_unit=top,
        tiers=(Tier("gold", per_job=top),),
    )
    assert Policy.from_dict(policy.to_dict()) == policy
