"""Skills and rates by hand: effective hourly rates by skill and combination to the cent,
ceilings that one outlier cannot move, the adjacent-skill suggestion with k-anonymous peer
figures, monthly rate history, and whether rates rise with testimonials."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.career.rules.skills import (
    Candidate,
    EffectiveRate,
    Job,
    MonthlyRate,
    PeerFigure,
    ReputationLevel,
    SkillError,
    ceilings,
    combination_name,
    hourly_rate,
    rate_ceiling,
    rate_history,
    rate_vs_reputation,
    rates_by_combination,
    rates_by_skill,
    spearman,
    suggest_adjacent_skill,
)

DESIGN = frozenset({"design"})
COPY = frozenset({"copywriting"})
BOTH = frozenset({"design", "copywriting"})

JOBS = [
    Job(DESIGN, 30_000, 240, date(2025, 1, 6), "Acme"),  # $300 in 4h: $75.00/h
    Job(DESIGN, 45_000, 300, date(2025, 1, 20), "Birch"),  # $450 in 5h: $90.00/h
    Job(DESIGN, 20_000, 200, date(2025, 2, 3), "Acme"),  # $200 in 3h20: $60.00/h
    Job(BOTH, 60_000, 400, date(2025, 2, 10), "Birch"),  # $600 in 6h40: $90.00/h
    Job(BOTH, 50_000, 250, date(2025, 2, 24), "Acme"),  # $500 in 4h10: $120.00/h
    Job(BOTH, 70_000, 350, date(2025, 3, 3), "Cedar"),  # $700 in 5h50: $120.00/h
    Job(COPY, 10_000, 90, date(2025, 3, 17), "Cedar"),  # $100 in 1h30: $66.666.. -> $66.67/h
]


# --------------------------------------------------------------------------- rates


def test_hourly_rate_rounds_half_up_in_whole_cents():
    assert hourly_rate(10_000, 90) == 6_667  # 6,666.67
    assert hourly_rate(1, 120) == 1  # 0.5 rounds up
    assert hourly_rate(1, 121) == 0  # 0.496
    assert hourly_rate(0, 60) == 0


def test_hourly_rate_refuses_bad_input_by_field():
    with pytest.raises(SkillError) as err:
        hourly_rate(100, 0)
    assert (err.value.field, err.value.code) == ("minutes", "out_of_range")
    with pytest.raises(SkillError) as err:
        hourly_rate(-100, 60)
    assert err.value.field == "income"
    with pytest.raises(SkillError) as err:
        hourly_rate(100, 1.5)  # type: ignore[arg-type]
    assert err.value.code == "invalid_type"


def test_rates_by_combination():
    # design: 95,000 over 740 min = 7,702.70 -> 7,703. design + copywriting: 180,000 over
    # 1,000 min = 10,800. copywriting: 10,000 over 90 min = 6,666.67 -> 6,667.
    rates = rates_by_combination(JOBS)
    assert rates == {
        DESIGN: EffectiveRate(95_000, 740, 3),
        BOTH: EffectiveRate(180_000, 1_000, 3),
        COPY: EffectiveRate(10_000, 90, 1),
    }
    assert {combination_name(c): r.rate for c, r in rates.items()} == {
        "design": 7_703,
        "copywriting + design": 10_800,
        "copywriting": 6_667,
    }


def test_rates_by_skill_count_each_job_for_every_skill_it_used():
    # design: (95,000 + 180,000) over (740 + 1,000) min = 9,482.76 -> 9,483.
    # copywriting: (180,000 + 10,000) over (1,000 + 90) min = 10,458.72 -> 10,459.
    rates = rates_by_skill(JOBS)
    assert rates == {
        "design": EffectiveRate(275_000, 1_740, 6),
        "copywriting": EffectiveRate(190_000, 1_090, 4),
    }
    assert (rates["design"].rate, rates["copywriting"].rate) == (9_483, 10_459)
    assert rates["design"].hours_text == "29h00"


def test_a_job_needs_skills_and_time():
    with pytest.raises(SkillError) as err:
        Job(frozenset(), 100, 60, date(2025, 1, 1))
    assert err.value.field == "skills"
    with pytest.raises(SkillError) as err:
        Job("design", 100, 60, date(2025, 1, 1))  # type: ignore[arg-type]
    assert err.value.field == "skills"
    with pytest.raises(SkillError) as err:
        Job(DESIGN, 100, 0, date(2025, 1, 1))
    assert err.value.field == "minutes"


@given(st.integers(0, 10**12), st.integers(1, 10**6))
def test_rates_are_never_negative_and_within_half_a_cent(income, minutes):
    rate = hourly_rate(income, minutes)
    assert rate >= 0
    # |rate - income * 60 / minutes| <= 1/2, in integers.
    assert 2 * abs(rate * minutes - income * 60) <= minutes


# --------------------------------------------------------------------------- ceilings


def test_ceiling_is_the_second_highest_for_small_groups():
    # design job rates 7,500, 9,000, 6,000: sorted 9,000, 7,500, 6,000; k = 2 -> 7,500.
    table = ceilings(JOBS)
    assert table[DESIGN].ceiling == 7_500
    assert table[DESIGN].best_job_rate == 9_000
    # design + copywriting: 9,000, 12,000, 12,000 -> 12,000 (reached twice).
    assert table[BOTH].ceiling == 12_000
    # One job is not enough for a ceiling.
    assert table[COPY].ceiling is None


def test_one_outlier_does_not_move_the_ceiling():
    # A one-hour rush job at $1,000: the design ceiling moves from 7,500 to 9,000, the
    # second highest, not to 100,000.
    table = ceilings([*JOBS, Job(DESIGN, 100_000, 60, date(2025, 3, 20))])
    assert table[DESIGN].ceiling == 9_000


def test_ceiling_with_many_jobs_is_the_ninetieth_percentile():
    # 25 jobs rated 100..2,500: k = max(2, ceil(25 / 10)) = 3, the third highest: 2,300.
    assert rate_ceiling([100 * i for i in range(1, 26)]) == 2_300
    assert rate_ceiling([5_000, 4_000]) is None
    assert rate_ceiling([5_000, 4_000, 3_000]) == 4_000


@given(st.lists(st.integers(0, 10**6), min_size=3, max_size=19), st.integers(0, 10**9))
def test_raising_the_top_rate_never_moves_the_ceiling(rates, outlier):
    ordered = sorted(rates)
    ceiling = rate_ceiling(ordered)
    assert ceiling is not None
    assert min(ordered) <= ceiling <= max(ordered)
    assert rate_ceiling([*ordered[:-1], max(outlier, ordered[-1])]) == ceiling


# --------------------------------------------------------------------------- suggestion


PEERS = [
    PeerFigure(frozenset({"design", "illustration"}), 14_000, 6),
    PeerFigure(frozenset({"design", "motion"}), 20_000, 4),  # four peers: never used
    PeerFigure(frozenset({"design", "copywriting", "seo"}), 30_000, 10),  # two skills away
    PeerFigure(frozenset({"design", "print"}), 7_000, 12),  # below the baseline
]


def test_suggestion_from_the_workers_own_combinations():
    suggestion = suggest_adjacent_skill({"design"}, JOBS, "USD")
    assert (suggestion.baseline, suggestion.baseline_is_ceiling) == (7_500, True)
    assert suggestion.candidates == (Candidate("copywriting", BOTH, 12_000, "own", 3),)
    assert suggestion.words() == (
        "Your ceiling for design is $75.00 an hour. Adding copywriting looks most promising: "
        "your 3 jobs combining copywriting + design reach $120.00 an hour, $45.00 more."
    )


def test_peer_figures_count_only_with_five_or_more_peers():
    suggestion = suggest_adjacent_skill({"design"}, JOBS, "USD", PEERS)
    assert suggestion.candidates == (
        Candidate("illustration", frozenset({"design", "illustration"}), 14_000, "peers", 6),
        Candidate("copywriting", BOTH, 12_000, "own", 3),
    )
    assert suggestion.words() == (
        "Your ceiling for design is $75.00 an hour. Adding illustration looks most "
        "promising: 6 peers who combine design + illustration reach $140.00 an hour, "
        "$65.00 more."
    )


def test_on_a_tie_the_workers_own_figure_wins():
    peers = [PeerFigure(BOTH, 12_000, 40)]
    suggestion = suggest_adjacent_skill({"design"}, JOBS, "USD", peers)
    assert suggestion.best == Candidate("copywriting", BOTH, 12_000, "own", 3)


def test_too_few_jobs_for_a_ceiling_uses_the_effective_rate():
    # copywriting alone: one job, effective 6,667. Nothing of the worker's adds one skill
    # to it with a ceiling above that except design + copywriting at 12,000.
    suggestion = suggest_adjacent_skill({"copywriting"}, JOBS, "USD")
    assert (suggestion.baseline, suggestion.baseline_is_ceiling) == (6_667, False)
    assert suggestion.words() == (
        "Your effective rate for copywriting is $66.67 an hour (too few jobs for a ceiling). "
        "Adding design looks most promising: your 3 jobs combining copywriting + design "
        "reach $120.00 an hour, $53.33 more."
    )


def test_peers_suggest_a_third_skill_for_a_pair():
    suggestion = suggest_adjacent_skill(BOTH, JOBS, "USD", PEERS)
    assert suggestion.best == Candidate(
        "seo", frozenset({"design", "copywriting", "seo"}), 30_000, "peers", 10
    )


def test_the_currency_is_checked():
    with pytest.raises(SkillError) as err:
        suggest_adjacent_skill({"design"}, JOBS, "dollars")
    assert err.value.field == "currency"


def test_nothing_to_suggest():
    suggestion = suggest_adjacent_skill(BOTH, JOBS, "USD", PEERS[:2])
    assert suggestion.best is None
    assert suggestion.words() == (
        "Your ceiling for copywriting + design is $120.00 an hour. No adjacent skill in "
        "your jobs or your peers' figures raises it yet."
    )
    empty = suggest_adjacent_skill({"seo"}, JOBS, "USD")
    assert empty.baseline is None
    assert empty.words().startswith("You have no rate yet for seo alone.")


# --------------------------------------------------------------------------- history


def test_monthly_rate_history_by_client():
    # Acme: January 30,000 / 240 min = 7,500; February (20,000 + 50,000) / 450 min =
    # 9,333.33 -> 9,333.
    history = rate_history(JOBS, "client")
    assert history["Acme"] == (
        MonthlyRate(date(2025, 1, 1), 30_000, 240, 1),
        MonthlyRate(date(2025, 2, 1), 70_000, 450, 2),
    )
    assert [m.rate for m in history["Acme"]] == [7_500, 9_333]
    assert list(history) == ["Acme", "Birch", "Cedar"]


def test_monthly_rate_history_by_skill():
    # copywriting: Feb 110,000 / 650 min = 10,153.85 -> 10,154; Mar (70,000 + 10,000) /
    # 440 min = 10,909.09 -> 10,909.
    history = rate_history(JOBS, "skill")
    assert [(m.month, m.rate) for m in history["copywriting"]] == [
        (date(2025, 2, 1), 10_154),
        (date(2025, 3, 1), 10_909),
    ]
    assert [m.month.month for m in history["design"]] == [1, 2, 3]
    with pytest.raises(SkillError) as err:
        rate_history(JOBS, "year")  # type: ignore[arg-type]
    assert err.value.field == "by"


# --------------------------------------------------------------------------- reputation


TESTIMONIALS = [date(2025, 2, 10), date(2025, 4, 5), date(2025, 5, 20)]
HOURLY = [
    (date(2025, 1, 10), 5_000),  # 0 testimonials verified by then
    (date(2025, 2, 1), 5_200),  # 0
    (date(2025, 2, 10), 5_100),  # 1: verified the same day counts
    (date(2025, 3, 15), 6_000),  # 1
    (date(2025, 4, 20), 6_500),  # 2
    (date(2025, 6, 1), 7_000),  # 3
]


def test_rates_rise_with_reputation():
    # Counts 0, 0, 1, 1, 2, 3 rank 1.5, 1.5, 3.5, 3.5, 5, 6; rates rank 1, 3, 2, 4, 5, 6.
    # Around the mean rank 3.5: covariance 5 + 1 + 0 + 0 + 2.25 + 6.25 = 14.5; squares
    # 16.5 and 17.5; rho = 14.5 / sqrt(288.75) = 0.8533.
    jobs = [Job(DESIGN, rate, 60, day) for day, rate in HOURLY]
    trend = rate_vs_reputation(jobs, TESTIMONIALS, "USD")
    assert trend.rho == pytest.approx(14.5 / 288.75**0.5)
    assert trend.verdict == "rising"
    # Level 0: (5,000 + 5,200) over 2h = 5,100; level 1: (5,100 + 6,000) / 2h = 5,550.
    assert trend.levels == (
        ReputationLevel(0, EffectiveRate(10_200, 120, 2)),
        ReputationLevel(1, EffectiveRate(11_100, 120, 2)),
        ReputationLevel(2, EffectiveRate(6_500, 60, 1)),
        ReputationLevel(3, EffectiveRate(7_000, 60, 1)),
    )
    assert trend.words() == (
        "Your rates rise with your reputation: $51.00 an hour with 0 verified testimonials, "
        "$70.00 with 3 (Spearman's rho 0.85)."
    )


def test_rates_falling_and_no_clear_link():
    falling_rates = [9_000, 8_500, 8_000, 7_500, 7_000, 6_500]
    falling = [Job(DESIGN, r, 60, d) for (d, _), r in zip(HOURLY, falling_rates, strict=True)]
    assert rate_vs_reputation(falling, TESTIMONIALS, "USD").verdict == "falling"
    # Rates 5,000, 6,000, 5,500, 5,000, 6,000, 5,500 rank 1.5, 5.5, 3.5, 1.5, 5.5, 3.5;
    # counts rank 1.5, 1.5, 3.5, 3.5, 5, 6. Around 3.5: covariance (-2)(-2) + (-2)(2) + 0 +
    # 0 + (1.5)(2) + (2.5)(0) = 3; squares 16.5 and 16; rho = 3 / sqrt(264) = 0.18.
    flat_rates = [5_000, 6_000, 5_500, 5_000, 6_000, 5_500]
    flat = [Job(DESIGN, r, 60, d) for (d, _), r in zip(HOURLY, flat_rates, strict=True)]
    trend = rate_vs_reputation(flat, TESTIMONIALS, "USD")
    assert trend.verdict == "no clear link"
    assert trend.rho == pytest.approx(3 / 264**0.5)
    assert trend.words() == (
        "No clear link between your rates and testimonials yet: $55.00 an hour with 0 "
        "verified testimonials, $55.00 with 3 (Spearman's rho 0.18)."
    )


def test_not_enough_data():
    few = [Job(DESIGN, rate, 60, day) for day, rate in HOURLY[:4]]
    trend = rate_vs_reputation(few, TESTIMONIALS, "USD")
    assert (trend.verdict, trend.rho) == ("not enough data", None)
    assert trend.words() == (
        "Not enough jobs yet to tell whether your rates rise with your reputation "
        "(4 of the 5 needed)."
    )
    # No testimonial arrived between the jobs: every count is 0.
    none = rate_vs_reputation([Job(DESIGN, r, 60, d) for d, r in HOURLY], [], "USD")
    assert none.verdict == "not enough data"
    assert none.words().startswith("No testimonial was verified between these jobs")


def test_spearman_edge_cases():
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)
    assert spearman([1, 1, 1], [1, 2, 3]) is None
    assert spearman([1], [1]) is None
    with pytest.raises(SkillError):
        spearman([1, 2], [1])
