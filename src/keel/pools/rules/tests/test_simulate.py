"""The solvency simulator: agreement with the plain-Python reference, calibration, and the
exact properties (same seed, cap, conservation, zero incidence, monotone pricing)."""

from __future__ import annotations

import json
import math
from bisect import bisect_right
from dataclasses import replace
from functools import cache

import numpy as np
import pytest

from keel.pools.bench_pools import bench_simulation
from keel.pools.rules.simulate import (
    BENCHMARK_CONFIDENCE,
    BROODFONDS_TIERS,
    ClaimHistory,
    EpidemicShock,
    SimulationInput,
    SimulationResult,
    _draw_claims,
    mixed_tiers,
    monthly_hazard,
    required_deposit_rate,
    result_to_json,
    self_insurance_reserve,
    simulate,
    simulate_paths,
    truncated_mean_months,
)
from keel.pools.rules.simulate_reference import ReferenceRun, simulate_reference

GIFT = 150_000  # EUR 1,500 in cents
DEPOSIT = 6_750  # 4.5% of it

# A fund a few years old: every reserve at 24 deposits.
HEALTHY = SimulationInput(
    gifts=(GIFT,) * 30, initial_reserves=(24 * DEPOSIT,) * 30, years=4, scenarios=20_000, seed=11
)
# A new fund with nothing saved and a lot of sickness: cuts in most futures.
FRAGILE = SimulationInput(
    gifts=(GIFT,) * 20, annual_incidence=0.12, years=3, scenarios=20_000, seed=12
)
# Every tier, uneven reserves (so givers run short without a cut), a two-month wait, a
# twelve-month maximum, shorter claims and epidemics.
MIXED = SimulationInput(
    gifts=mixed_tiers(24),
    initial_reserves=tuple(5_000 * i for i in range(24)),
    waiting_months=2,
    max_months=12,
    mean_claim_months=5.0,
    epidemic=EpidemicShock(monthly_probability=0.05, incidence_multiplier=4.0),
    years=3,
    scenarios=20_000,
    seed=13,
)
CONFIGS = {"healthy": HEALTHY, "fragile": FRAGILE, "mixed": MIXED}
REFERENCE_SCENARIOS = 2_000


@cache
def fast(name: str) -> SimulationResult:
    return simulate(CONFIGS[name])


@cache
def reference(name: str) -> ReferenceRun:
    return simulate_reference(CONFIGS[name], scenarios=REFERENCE_SCENARIOS)


def assert_same_proportion(p_fast: float, n_fast: int, hits: int, n_ref: int, what: str) -> None:
    """Two estimates of one probability differ by at most three standard errors of the
    difference: both samples' errors combined, sqrt(p (1 - p) (1/n1 + 1/n2)) with p pooled
    from both (so two estimates of exactly 0 or 1 must agree exactly)."""
    p_ref = hits / n_ref
    pooled = (round(p_fast * n_fast) + hits) / (n_fast + n_ref)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_fast + 1 / n_ref))
    assert abs(p_fast - p_ref) <= 3 * se + 1e-12, (
        f"{what}: fast {p_fast:.4f} vs reference {p_ref:.4f}, 3 SE = {3 * se:.4f}"
    )


def assert_same_mean(mean_fast: float, se_fast: float, values: list[float], what: str) -> None:
    n = len(values)
    mean_ref = sum(values) / n
    se_ref = math.sqrt(sum((v - mean_ref) ** 2 for v in values) / (n - 1) / n)
    se = math.sqrt(se_fast**2 + se_ref**2)
    assert abs(mean_fast - mean_ref) <= 3 * se + 1.0, (
        f"{what}: fast {mean_fast:.0f} vs reference {mean_ref:.0f}, 3 SE = {3 * se:.0f}"
    )


# --------------------------------------------------------------------------- agreement


@pytest.mark.parametrize("name", CONFIGS)
def test_fast_and_reference_agree_on_every_probability(name):
    result, ref = fast(name), reference(name)
    n, m = result.scenarios, ref.scenarios
    assert_same_proportion(result.cut_probability, n, ref.cut_count, m, f"{name} cut")
    assert_same_proportion(
        result.underpaid_probability, n, ref.underpaid_count, m, f"{name} underpaid"
    )
    for year in range(CONFIGS[name].years):
        assert_same_proportion(
            result.cut_probability_by_year[year],
            n,
            ref.cut_count_in_year(year),
            m,
            f"{name} cut in year {year + 1}",
        )
        assert_same_proportion(
            result.underpaid_probability_by_year[year],
            n,
            ref.underpaid_count_in_year(year),
            m,
            f"{name} underpaid in year {year + 1}",
        )


@pytest.mark.parametrize("name", CONFIGS)
def test_fast_and_reference_agree_on_the_money(name):
    paths = simulate_paths(CONFIGS[name])
    result, ref = fast(name), reference(name)
    due = paths.gifts_due
    due_se = float(np.std(due, ddof=1)) / math.sqrt(due.size)
    assert_same_mean(float(due.mean()), due_se, ref.gifts_due, f"{name} gifts due")
    assert_same_mean(
        result.gifts_paid_total_mean, result.gifts_paid_total_se, ref.gifts_paid, f"{name} paid"
    )
    assert_same_mean(
        result.final_reserves_mean,
        result.final_reserves_se,
        [sum(reserves) for reserves in ref.final_reserves],
        f"{name} final reserves",
    )


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize(
    "figure", ["self_insurance_reserve", "self_insurance_reserve_at_benchmark"]
)
def test_self_insurance_reserve_is_the_same_quantile_in_the_reference(name, figure):
    """The fast quantile v at confidence q (the pool's own no-cut probability, and the
    fixed 95% benchmark): in the reference, at least about q of the members need at most v
    and at most about q need less than v."""
    result, ref = fast(name), reference(name)
    inp = CONFIGS[name]
    q = (
        result.self_insurance_confidence
        if figure == "self_insurance_reserve"
        else result.benchmark_confidence
    )
    for tier in result.tiers:
        value = getattr(tier, figure)
        needs = [
            need[i]
            for need in ref.self_insurance_need
            for i in range(inp.members)
            if inp.gifts[i] == tier.gift
        ]
        n_fast = result.scenarios * tier.members
        se = math.sqrt(q * (1 - q) * (1 / len(needs) + 1 / n_fast))
        at_most = sum(need <= value for need in needs) / len(needs)
        below = sum(need < value for need in needs) / len(needs)
        assert at_most >= q - 3 * se - 1e-12, (name, figure, tier.gift, at_most, q)
        assert below <= q + 3 * se + 1e-12, (name, figure, tier.gift, below, q)


@pytest.mark.parametrize("name", CONFIGS)
def test_the_benchmark_buffer_is_exactly_the_95_percent_quantile(name):
    """Per tier, the benchmark figure is the inverted-CDF 95% quantile of the needs of
    every member of the tier in every scenario, counted by hand."""
    inp = replace(CONFIGS[name], scenarios=3_000)
    paths = simulate_paths(inp)
    result = simulate(inp)
    assert BENCHMARK_CONFIDENCE == 0.95
    assert result.benchmark_confidence == BENCHMARK_CONFIDENCE
    gifts = np.asarray(inp.gifts)
    for tier in result.tiers:
        needs = sorted(int(v) for v in paths.self_insurance_need[gifts == tier.gift].ravel())
        # The smallest need with at least 95% of the needs at or below it.
        expected = next(v for v in needs if bisect_right(needs, v) >= 0.95 * len(needs))
        assert tier.self_insurance_reserve_at_benchmark == expected, (name, tier.gift)
        assert expected == self_insurance_reserve(paths, tier.gift, 0.95)


def test_a_young_fund_is_fragile_but_pooling_still_saves_at_the_benchmark():
    """The demo's kind of fund: 21 members over every Broodfonds tier, nothing saved yet.
    It avoids a cut in only about half its futures, where a member alone needs no buffer
    at all (most are never sick in five years); 95% sure, alone needs months of gifts,
    far more than they hold in the pool."""
    inp = SimulationInput(gifts=mixed_tiers(21, BROODFONDS_TIERS), years=5, scenarios=4_000, seed=1)
    result = simulate(inp)
    assert result.self_insurance_confidence < 0.7
    for tier in result.tiers:
        assert tier.self_insurance_reserve == 0
        assert tier.self_insurance_reserve_at_benchmark > 3 * tier.gift
        assert tier.self_insurance_reserve_at_benchmark > 5 * tier.pool_mean_reserve


@pytest.mark.parametrize("name", CONFIGS)
def test_the_benchmark_buffer_is_at_least_the_pools_when_the_pool_is_less_sure(name):
    result = fast(name)
    for tier in result.tiers:
        if result.self_insurance_confidence < result.benchmark_confidence:
            assert tier.self_insurance_reserve_at_benchmark >= tier.self_insurance_reserve
        else:
            assert tier.self_insurance_reserve_at_benchmark <= tier.self_insurance_reserve
    if name == "fragile":
        assert result.self_insurance_confidence < 0.5
        (tier,) = result.tiers
        assert tier.self_insurance_reserve_at_benchmark > tier.self_insurance_reserve


def test_pooling_needs_far_less_than_saving_alone_in_a_healthy_fund():
    result = fast("healthy")
    assert result.self_insurance_confidence > 0.95
    (tier,) = result.tiers
    assert tier.members == 30 and tier.deposit == DEPOSIT and tier.reserve_cap == 36 * DEPOSIT
    # With the pool's confidence a member alone needs months of gifts in the bank; in the
    # pool they hold about one.
    assert tier.self_insurance_reserve > 4 * GIFT
    assert tier.pool_mean_reserve < 2 * GIFT
    assert tier.self_insurance_reserve > 4 * tier.pool_mean_reserve
    # The pool is surer than the benchmark, so the benchmark buffer is no larger.
    assert tier.self_insurance_reserve_at_benchmark <= tier.self_insurance_reserve


def test_the_epidemic_path_draws_the_same_sickness_when_there_is_no_epidemic():
    plain = replace(FRAGILE, scenarios=10_000, seed=5)
    calm = replace(plain, epidemic=EpidemicShock(monthly_probability=0.5, incidence_multiplier=1))
    a, b = simulate(plain), simulate(calm)
    assert_same_proportion(
        a.cut_probability, a.scenarios, round(b.cut_probability * b.scenarios), b.scenarios, "cut"
    )
    assert abs(a.gifts_paid_total_mean - b.gifts_paid_total_mean) <= 3 * math.sqrt(
        a.gifts_paid_total_se**2 + b.gifts_paid_total_se**2
    )


def test_an_epidemic_makes_cuts_likelier():
    base = replace(HEALTHY, scenarios=5_000)
    shocked = replace(base, epidemic=EpidemicShock(monthly_probability=0.1, incidence_multiplier=6))
    assert simulate(shocked).cut_probability > simulate(base).cut_probability + 0.05


# --------------------------------------------------------------------------- calibration


def test_duration_and_incidence_are_calibrated():
    inp = SimulationInput(gifts=(GIFT,) * 50, years=1, scenarios=1)
    n = 4_000
    claims, _ = _draw_claims(inp, n, np.random.default_rng(1))
    # Durations are drawn whole even past the horizon, so their mean is uncensored.
    months = claims.end - claims.onset - inp.waiting_months
    expected = truncated_mean_months(1 / 7.1, 24)
    assert 6.90 < expected < 6.93
    se = float(np.std(months)) / math.sqrt(months.size)
    assert abs(float(months.mean()) - expected) <= 3 * se
    assert int(months.max()) == 24 and int(months.min()) == 1
    # Nobody is sick before the first year, so the share who fall sick within it is the
    # annual incidence itself.
    first = np.unique(claims.cell[claims.onset < 12]).size / (50 * n)
    assert abs(first - 0.069) <= 3 * math.sqrt(0.069 * 0.931 / (50 * n))
    assert monthly_hazard(0.069) == pytest.approx(1 - 0.931 ** (1 / 12))


def test_history_replaces_the_default_figures():
    history = ClaimHistory(member_years=100.0, claims=10, gift_months=(2, 3, 4))
    inp = SimulationInput(gifts=(GIFT,) * 20, history=history, scenarios=100)
    assert inp.effective_incidence == pytest.approx(1 - (1 - 10 / 1_200) ** 12)
    assert truncated_mean_months(inp.recovery_probability, 24) == pytest.approx(3.0)
    result = simulate(inp)
    assert result.annual_incidence == inp.effective_incidence
    assert result.mean_paid_months == pytest.approx(3.0)
    # No closed claim yet: the default duration stays.
    young = replace(inp, history=ClaimHistory(member_years=5.0, claims=1))
    assert young.recovery_probability == pytest.approx(1 / 7.1)
    # Every closed claim ran to the maximum: so does every simulated one.
    long = replace(inp, history=ClaimHistory(member_years=50.0, claims=2, gift_months=(24, 24)))
    assert long.recovery_probability == 0.0
    assert simulate(long).mean_paid_months == 24.0
    assert set(simulate_reference(long, scenarios=5).closed_claim_months) == {24}


# --------------------------------------------------------------------------- exact


def test_the_same_seed_gives_the_same_result():
    inp = replace(MIXED, scenarios=3_000)
    first = simulate(inp)
    assert simulate(inp) == first
    assert result_to_json(simulate(inp)) == result_to_json(first)
    assert simulate(replace(inp, seed=14)) != first


def test_progress_follows_the_chunks():
    inp = replace(FRAGILE, scenarios=10_000)
    seen: list[tuple[int, int]] = []
    simulate(inp, progress=lambda done, total: seen.append((done, total)))
    assert len(seen) > 1
    assert seen[-1] == (10_000, 10_000)
    assert [done for done, _ in seen] == sorted({done for done, _ in seen})


def test_no_reserve_ever_exceeds_its_cap():
    # Reserves start above the cap and deposits are high, so the cap binds all the time.
    inp = replace(
        MIXED,
        scenarios=2_000,
        deposit_rate_bps=2_000,
        reserve_cap_deposits=6,
        initial_reserves=tuple(3 * g for g in MIXED.gifts),
    )
    caps = np.asarray(inp.caps, dtype=np.float64)
    paths = simulate_paths(inp, track_peaks=True)
    assert paths.peak_reserve is not None
    assert np.all(paths.peak_reserve <= caps)
    assert np.all(paths.final_reserves <= caps[:, None])
    assert np.all(paths.reserves <= caps.sum())
    assert np.all(paths.refunds > 0)
    ref = simulate_reference(inp, scenarios=200)
    assert all(r <= c for peaks in ref.peak_reserves for r, c in zip(peaks, caps, strict=True))


def test_a_pool_without_sickness_never_cuts_and_fills_every_reserve_to_the_cap():
    inp = SimulationInput(gifts=mixed_tiers(12), annual_incidence=0.0, years=4, scenarios=500)
    result = simulate(inp)
    paths = simulate_paths(inp)
    assert result.cut_probability == 0.0 and result.underpaid_probability == 0.0
    assert result.cut_probability_se == 0.0
    assert result.mean_cut_when_cut is None and result.claims_per_scenario == 0.0
    assert result.gifts_paid_total_mean == 0 and result.gifts_due_total_mean == 0
    assert np.array_equal(paths.final_reserves, np.asarray(inp.caps)[:, None] * np.ones(500))
    # 48 deposits against a cap of 36: the last twelve of each member are refunded.
    assert result.refunds_total_mean == 12 * sum(inp.deposits)
    assert result.final_reserves_mean == sum(inp.caps)
    assert result.reserves.p10[35] == result.reserves.p90[-1] == sum(inp.caps)
    assert result.reserves.mean[0] == sum(inp.deposits)
    assert all(tier.self_insurance_reserve == 0 for tier in result.tiers)
    ref = simulate_reference(inp, scenarios=20)
    assert ref.cut_count == ref.underpaid_count == ref.claims_started == 0
    assert all(reserves == list(inp.caps) for reserves in ref.final_reserves)


@pytest.mark.parametrize("name", CONFIGS)
def test_gifts_conserve_money(name):
    """reserves + refunds + gifts paid == deposits + initial reserves, in every scenario."""
    inp = replace(CONFIGS[name], scenarios=3_000)
    paths = simulate_paths(inp)
    deposits = sum(inp.deposits) * inp.months
    initial = sum(inp.starting_reserves)
    left = paths.final_reserves.sum(axis=0) + paths.refunds + paths.gifts_paid.sum(axis=0)
    np.testing.assert_allclose(left, deposits + initial, rtol=1e-12, atol=1e-3)
    # A month's total is its members' reserves.
    np.testing.assert_allclose(paths.reserves[-1], paths.final_reserves.sum(axis=0), rtol=1e-12)
    # Nobody receives more than the gifts due.
    assert np.all(paths.gifts_paid.sum(axis=0) <= paths.gifts_due + 1e-6)
    ref = simulate_reference(inp, scenarios=100)
    for s in range(ref.scenarios):
        left_ref = sum(ref.final_reserves[s]) + ref.refunds[s] + ref.gifts_paid[s]
        assert left_ref == pytest.approx(ref.deposits[s] + initial, rel=1e-12)
        assert ref.deposits[s] == deposits


def test_bands_are_ordered_and_rounded():
    result = fast("mixed")
    for band in (result.gifts_paid, result.reserves):
        assert len(band.mean) == len(band.p10) == result.months
        for p10, p50, p90 in zip(band.p10, band.p50, band.p90, strict=True):
            assert p10 <= p50 <= p90
        assert all(isinstance(v, int) for v in band.mean + band.p10 + band.p50 + band.p90)


def test_required_deposit_rate_is_monotone_and_minimal():
    inp = replace(FRAGILE, annual_incidence=0.069, scenarios=2_000)
    rates = []
    for target in (0.3, 0.6, 0.9, 0.97):
        bps, result = required_deposit_rate(inp, target)
        assert 1 - result.cut_probability >= target
        assert result.inputs.deposit_rate_bps == bps
        if bps > 0:
            below = simulate(replace(inp, deposit_rate_bps=bps - 1))
            assert 1 - below.cut_probability < target
        rates.append(bps)
    assert rates == sorted(rates)
    assert rates[0] < rates[-1]
    in_full, _ = required_deposit_rate(inp, 0.9, count_shortfalls=True)
    assert in_full >= rates[2]


def test_no_cut_probability_rises_with_the_deposit_rate():
    inp = replace(FRAGILE, scenarios=2_000)
    no_cut = [
        1 - simulate(replace(inp, deposit_rate_bps=bps)).cut_probability
        for bps in range(0, 2_001, 250)
    ]
    assert no_cut == sorted(no_cut)
    assert no_cut[0] < no_cut[-1]


def test_required_deposit_rate_refuses_an_unreachable_target():
    # Two members, nearly always sick: sooner or later both are at once, with no giver.
    inp = SimulationInput(gifts=(GIFT, GIFT), annual_incidence=0.95, years=3, scenarios=200)
    with pytest.raises(ValueError, match="no deposit rate up to 10000 bps"):
        required_deposit_rate(inp, 0.99)


def test_result_to_json_is_plain():
    result = fast("mixed")
    data = result_to_json(result)
    assert json.loads(json.dumps(data)) == data
    assert data["cut_probability"] == result.cut_probability
    assert data["inputs"]["gifts"] == list(MIXED.gifts)
    assert data["inputs"]["epidemic"] == {"monthly_probability": 0.05, "incidence_multiplier": 4.0}
    assert data["reserves"]["p50"] == list(result.reserves.p50)
    assert data["tiers"][0]["gift"] == 75_000
    assert data["benchmark_confidence"] == 0.95
    assert data["tiers"][0]["self_insurance_reserve_at_benchmark"] == (
        result.tiers[0].self_insurance_reserve_at_benchmark
    )
    assert isinstance(data["gifts_paid_total_mean"], int)


def test_self_insurance_reserve_rises_with_confidence():
    paths = simulate_paths(replace(HEALTHY, scenarios=2_000))
    values = [self_insurance_reserve(paths, GIFT, q) for q in (0.0, 0.5, 0.9, 0.99, 1.0)]
    assert values == sorted(values)
    assert values[0] == 0 and values[-1] == int(paths.self_insurance_need.max())
    with pytest.raises(ValueError, match="no member has the tier gift"):
        self_insurance_reserve(paths, 1, 0.5)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"gifts": (GIFT,)}, "at least two members"),
        ({"gifts": (GIFT, 0)}, "gifts must each be positive"),
        ({"initial_reserves": (1, 2, 3)}, "one reserve per member"),
        ({"initial_reserves": (-1, 0)}, "must not be negative"),
        ({"annual_incidence": 1.0}, "annual_incidence"),
        ({"mean_claim_months": 0.5}, "mean_claim_months"),
        ({"deposit_rate_bps": 10_001}, "deposit_rate_bps"),
        ({"scenarios": 0}, "scenarios"),
        ({"scenarios": 1_000_000, "years": 100}, "need more than"),
        ({"years": 0}, "years"),
    ],
)
def test_bad_input_is_refused_naming_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        SimulationInput(**{"gifts": (GIFT, GIFT), **changes})


def test_non_integer_money_is_refused():
    with pytest.raises(TypeError, match="gifts must be an int"):
        SimulationInput(gifts=(1500.0, 1500.0))  # type: ignore[arg-type]


def test_bench_simulation_reports_both_rates_and_their_ratio():
    figures = bench_simulation(scenarios=500, months=12, members=8, reference_scenarios=20)
    assert figures["fast_member_months_per_second"] > 0
    assert figures["reference_member_months_per_second"] > 0
    assert figures["ratio"] == pytest.approx(
        figures["fast_member_months_per_second"] / figures["reference_member_months_per_second"]
    )
    assert json.loads(json.dumps(figures)) == figures
    with pytest.raises(ValueError, match="multiple of 12"):
        bench_simulation(months=18)
