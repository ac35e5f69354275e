"""90-day plans by hand: the calendar, one expansion channel, on track and behind against
the straight line, income by channel, key actions, and the review's draft of the next plan."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.career.rules.plans import (
    FIRST_START,
    LAST_START,
    PLAN_DAYS,
    CheckIn,
    KeyAction,
    NextPlanDraft,
    Plan,
    PlanError,
    TargetResult,
    add_action,
    add_check_in,
    add_expansion_channel,
    one_expansion_channel,
    progress,
    review,
    trend_growth,
    week_of,
)

START = date(2025, 1, 1)


def plan(**changes: object) -> Plan:
    fields: dict[str, object] = {
        "starts_on": START,
        "currency": "USD",
        "start_mrr": 200_000,
        "target_mrr": 290_000,
        "expansion_channel": "Newsletter sponsorships",
    }
    fields.update(changes)
    return Plan(**fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- calendar


def test_a_plan_covers_exactly_ninety_days():
    p = plan()
    # 1 January + 89 days = 31 March (Jan 31 + Feb 28 + Mar 31 = 90 days); review 1 April.
    assert p.ends_on == date(2025, 3, 31)
    assert p.review_on == date(2025, 4, 1)
    assert (p.ends_on - p.starts_on).days + 1 == PLAN_DAYS


def test_a_plan_starts_within_the_calendar_it_needs():
    # 9999-12-01 + 90 days is past the calendar's end: it was an OverflowError (a 500).
    assert plan(starts_on=LAST_START).review_on == date(3000, 3, 31)
    assert plan(starts_on=FIRST_START).starts_on == FIRST_START
    for day in (date(9999, 12, 1), date(1, 1, 1), LAST_START + timedelta(days=1)):
        with pytest.raises(PlanError) as caught:
            plan(starts_on=day)
        assert (caught.value.field, caught.value.code) == ("starts_on", "out_of_range")


def test_weeks_run_one_to_thirteen():
    p = plan()
    assert week_of(p, date(2025, 1, 1)) == 1
    assert week_of(p, date(2025, 1, 7)) == 1
    assert week_of(p, date(2025, 1, 8)) == 2
    assert week_of(p, date(2025, 3, 25)) == 12  # day 83, the last of week 12
    assert week_of(p, date(2025, 3, 26)) == 13  # day 84
    assert week_of(p, date(2025, 3, 31)) == 13  # day 89


def test_week_of_outside_the_plan_is_refused():
    with pytest.raises(PlanError) as err:
        week_of(plan(), date(2025, 4, 1))
    assert (err.value.field, err.value.code) == ("day", "outside_plan")


# --------------------------------------------------------------------------- expansion channel


def test_a_second_expansion_channel_is_refused():
    with pytest.raises(PlanError) as err:
        add_expansion_channel(plan(), "Podcast guesting")
    assert (err.value.field, err.value.code) == ("expansion_channel", "one_channel")
    assert str(err.value) == (
        "expansion_channel: a plan has exactly one expansion channel and this one already "
        "expands into 'Newsletter sponsorships'; replace it rather than adding "
        "'Podcast guesting'"
    )


def test_the_first_expansion_channel_is_set_and_the_same_one_again_changes_nothing():
    draft = plan(expansion_channel=None)
    chosen = add_expansion_channel(draft, "  Workshops ")
    assert chosen.expansion_channel == "Workshops"
    assert add_expansion_channel(chosen, "workshops") is chosen


def test_a_form_with_two_channels_is_refused_naming_the_second():
    assert one_expansion_channel(["Workshops", "workshops"]) == "Workshops"
    with pytest.raises(PlanError) as err:
        one_expansion_channel(["Workshops", "Podcast"])
    assert err.value.field == "expansion_channel"
    assert "'Podcast' cannot be added to 'Workshops'" in str(err.value)
    with pytest.raises(PlanError) as err:
        one_expansion_channel([])
    assert err.value.code == "required"


# --------------------------------------------------------------------------- actions, check-ins


def test_key_actions_must_fall_within_the_plan():
    p = add_action(plan(), "Pitch three sponsors", date(2025, 3, 31))
    assert p.actions == (KeyAction("Pitch three sponsors", date(2025, 3, 31)),)
    with pytest.raises(PlanError) as err:
        add_action(p, "Launch", date(2025, 4, 1))
    assert (err.value.field, err.value.code) == ("due_on", "outside_plan")
    with pytest.raises(PlanError) as err:
        plan(actions=(KeyAction("Early", date(2024, 12, 31)),))
    assert err.value.field == "actions[0].due_on"


def test_check_ins_are_weekly_and_inside_the_plan():
    p = add_check_in(plan(), date(2025, 1, 10), "Two sponsor calls booked")
    assert p.check_ins == (CheckIn(2, date(2025, 1, 10), "Two sponsor calls booked"),)
    with pytest.raises(PlanError) as err:
        add_check_in(p, date(2025, 1, 14))  # still week 2
    assert (err.value.field, err.value.code) == ("on", "duplicate")
    with pytest.raises(PlanError) as err:
        add_check_in(p, date(2025, 4, 1))
    assert (err.value.field, err.value.code) == ("on", "outside_plan")
    with pytest.raises(PlanError) as err:
        plan(check_ins=(CheckIn(3, date(2025, 1, 10)),))
    assert err.value.field == "check_ins[0].week"


def test_plan_inputs_are_checked_by_field():
    with pytest.raises(PlanError) as err:
        plan(target_mrr=199_999)
    assert (err.value.field, err.value.code) == ("target_mrr", "below_start")
    with pytest.raises(PlanError) as err:
        plan(start_mrr=2000.0)
    assert err.value.field == "start_mrr"
    with pytest.raises(PlanError) as err:
        plan(currency="XXX")
    assert err.value.field == "currency"
    with pytest.raises(PlanError) as err:
        plan(expansion_channel=None, expansion_target=10_000)
    assert err.value.field == "expansion_channel"


# --------------------------------------------------------------------------- progress


def test_behind_on_day_thirty():
    # Line: 200,000 on day 0 to 290,000 on day 90, i.e. 1,000 a day. 31 January is day 30:
    # expected 230,000. MRR is 228,000: behind by 2,000; 28,000 of 90,000 is 31.11% of the
    # way (3111.1 bps rounds to 3111).
    p = plan(
        actions=(
            KeyAction("Media kit", date(2025, 1, 15)),
            KeyAction("Rate card", date(2025, 1, 20), done_on=date(2025, 1, 19)),
            KeyAction("Pitch three sponsors", date(2025, 2, 15)),
        )
    )
    # The point before the plan is ignored: MRR now is the latest point inside it.
    series = {date(2024, 12, 1): 190_000, date(2025, 1, 1): 200_000, date(2025, 1, 31): 228_000}
    income = {"Newsletter sponsorships": 30_000, "Retainers": 80_000, "Courses": 10_000}
    result = progress(p, series, income, date(2025, 1, 31))
    assert (result.day, result.week, result.mrr_now, result.expected_mrr) == (
        30,
        5,
        228_000,
        230_000,
    )
    assert (result.on_track, result.behind_by, result.progress_bps) == (False, 2_000, 3111)
    # Expansion 30,000 of 120,000 income = 25%.
    assert (result.expansion_income, result.other_income, result.expansion_share_bps) == (
        30_000,
        90_000,
        2_500,
    )
    assert [a.title for a in result.actions_done] == ["Rate card"]
    assert [a.title for a in result.actions_overdue] == ["Media kit"]
    assert [a.title for a in result.actions_open] == ["Pitch three sponsors"]
    assert result.summary() == [
        "MRR is $2,280.00, 31.11% of the way from $2,000.00 to the target of $2,900.00; "
        "behind by $20.00 (the plan's line is at $2,300.00 on day 30).",
        "Newsletter sponsorships brought $300.00, 25% of income so far; other channels $900.00.",
        "1 of 3 key actions done; overdue: Media kit.",
    ]


def test_on_track_on_day_thirty():
    # 235,000 against 230,000 expected: on track, 35,000 / 90,000 = 38.89%.
    result = progress(plan(), {date(2025, 1, 31): 235_000}, {}, date(2025, 1, 31))
    assert (result.on_track, result.behind_by, result.progress_bps) == (True, 0, 3889)


def test_on_track_is_compared_exactly_and_behind_rounds_up():
    # Target 200,100 (+100 over 90 days). Day 1: expected 200,001.11; MRR 200,001 is behind
    # by 0.11 of a cent, shown as 1 so that "behind" never says 0. Expected shows 200,001.
    p = plan(target_mrr=200_100)
    result = progress(p, {date(2025, 1, 2): 200_001}, {}, date(2025, 1, 2))
    assert (result.on_track, result.behind_by, result.expected_mrr) == (False, 1, 200_001)
    result = progress(p, {date(2025, 1, 2): 200_002}, {}, date(2025, 1, 2))
    assert result.on_track is True


def test_mrr_falling_gives_a_negative_share():
    result = progress(plan(), {date(2025, 1, 11): 191_000}, {}, date(2025, 1, 11))
    # -9,000 / 90,000 = -10%.
    assert (result.progress_bps, result.on_track, result.behind_by) == (-1000, False, 19_000)


def test_before_the_start_and_after_the_end():
    before = progress(plan(), {}, {}, date(2024, 12, 20))
    assert (before.day, before.week, before.mrr_now, before.on_track) == (0, None, 200_000, True)
    # Long after: measured on the review day, day 90, where the line reaches the target.
    after = progress(plan(), {date(2025, 3, 31): 289_999}, {}, date(2025, 6, 1))
    assert (after.day, after.week, after.as_of, after.expected_mrr) == (
        90,
        None,
        date(2025, 4, 1),
        290_000,
    )
    assert after.behind_by == 1


def test_a_plan_that_holds_mrr():
    p = plan(target_mrr=200_000)
    assert progress(p, {date(2025, 2, 1): 200_000}, {}, date(2025, 2, 1)).progress_bps == 10_000
    assert progress(p, {date(2025, 2, 1): 199_999}, {}, date(2025, 2, 1)).progress_bps == 0


def test_without_an_expansion_channel_all_income_is_other():
    result = progress(plan(expansion_channel=None), {}, {"Retainers": 5_000}, date(2025, 1, 5))
    assert (result.expansion_income, result.other_income) == (0, 5_000)
    assert result.summary()[1] == "No expansion channel is chosen yet."


@given(
    target_gain=st.integers(0, 10**7),
    now=st.integers(0, 10**8),
    day=st.integers(0, PLAN_DAYS),
)
def test_on_track_and_behind_by_agree(target_gain, now, day):
    p = plan(start_mrr=100_000, target_mrr=100_000 + target_gain)
    today = START + timedelta(days=day)
    result = progress(p, {today: now}, {}, today)
    assert result.on_track == (result.behind_by == 0)
    # Adding what it is behind by always puts it on track.
    caught_up = progress(p, {today: now + result.behind_by}, {}, today)
    assert caught_up.on_track


# --------------------------------------------------------------------------- review


SERIES = {
    date(2025, 1, 1): 100_000,  # day 0
    date(2025, 1, 31): 115_000,  # day 30
    date(2025, 3, 2): 120_000,  # day 60
    date(2025, 4, 1): 140_000,  # day 90
}


def test_trend_growth_by_least_squares():
    # x = 0, 30, 60, 90 (mean 45); y mean 118,750. Sum of (x - 45)(y - 118,750) =
    # (-45)(-18,750) + (-15)(-3,750) + (15)(1,250) + (45)(21,250) = 1,875,000; sum of
    # (x - 45)^2 = 4,500. Slope 416.67 a day; times 90 = 37,500.
    p = plan(start_mrr=100_000, target_mrr=150_000)
    assert trend_growth(p, SERIES) == 37_500


def test_review_compares_plan_and_actual_and_drafts_the_next_plan():
    p = plan(
        start_mrr=100_000,
        target_mrr=150_000,
        expansion_channel="Workshops",
        expansion_target=50_000,
        actions=(
            KeyAction("Run a pilot workshop", date(2025, 2, 1), done_on=date(2025, 2, 1)),
            KeyAction("Publish the syllabus", date(2025, 3, 1)),
        ),
    )
    result = review(p, SERIES, {"Workshops": 42_000, "Retainers": 300_000})
    assert result.results == (
        TargetResult("MRR", 150_000, 140_000, False),
        TargetResult("Income from Workshops", 50_000, 42_000, False),
        TargetResult("Key actions done", 2, 1, False),
    )
    assert result.results[0].difference == -10_000
    # Next target = end 140,000 + trend 37,500 = 177,500, due 90 days after 1 April.
    assert result.next_plan == NextPlanDraft(date(2025, 4, 1), 140_000, 177_500, 37_500)
    assert result.next_plan.review_on == date(2025, 6, 30)
    assert result.words == (
        "MRR ended at $1,400.00 against a target of $1,500.00: $100.00 short of the target.",
        "Workshops brought $420.00 against a target of $500.00, $80.00 short; other channels "
        "brought $3,000.00.",
        "1 of 2 key actions were done.",
        "Next plan: the trend added $375.00 of MRR over 90 days, so the draft aims for "
        "$1,775.00 by 2025-06-30, starting from $1,400.00.",
    )


def test_a_falling_trend_drafts_a_plan_that_holds_mrr():
    # Day 0: 100,000; day 45: 90,000; day 90: 95,000. x mean 45, y mean 95,000:
    # sum (x - 45)(y - 95,000) = (-45)(5,000) + 0 + (45)(0) = -225,000; sum (x - 45)^2 =
    # 4,050; slope -55.56 a day; times 90 = -5,000. The draft holds 95,000.
    p = plan(start_mrr=100_000, target_mrr=120_000)
    series = {date(2025, 2, 15): 90_000, date(2025, 4, 1): 95_000}
    result = review(p, series, {})
    assert result.next_plan == NextPlanDraft(date(2025, 4, 1), 95_000, 95_000, -5_000)
    assert result.results == (TargetResult("MRR", 120_000, 95_000, False),)
    assert result.words[-1] == (
        "Next plan: MRR fell by $50.00 on the trend over these 90 days, so the draft holds it "
        "at $950.00 rather than planning a decline."
    )


def test_a_met_target_and_no_data_after_the_start():
    p = plan(start_mrr=100_000, target_mrr=100_000)
    result = review(p, {}, {})
    assert result.results == (TargetResult("MRR", 100_000, 100_000, True),)
    assert result.next_plan == NextPlanDraft(date(2025, 4, 1), 100_000, 100_000, 0)
    assert result.words[0] == ("MRR ended at $1,000.00 against a target of $1,000.00: target met.")


@given(st.dictionaries(st.integers(0, 120), st.integers(0, 10**7), max_size=12))
def test_the_next_target_never_drops_below_the_end_mrr(points):
    p = plan(start_mrr=0, target_mrr=10**7)
    series = {START + timedelta(days=day): mrr for day, mrr in points.items()}
    draft = review(p, series, {}).next_plan
    assert draft.target_mrr >= draft.start_mrr >= 0
