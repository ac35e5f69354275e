"""The solvency simulator's speed, beside its plain-Python reference in the same run.

``bench_simulation`` times ``keel.pools.rules.simulate.simulate`` on ``scenarios`` x
``months`` x ``members`` and ``keel.pools.rules.simulate_reference`` on
``reference_scenarios`` of the same model, and reports member-months per second for both
and their ratio (the issue's target: at least 30x). The pool is a young Broodfonds of
mixed tiers (every tier represented, no reserves at the start, the default sickness
figures), so cuts and shortfalls occur and neither side runs an easy path.

Pure: no Django, so ``keel bench`` and the tests can call it in any process.
"""

from __future__ import annotations

import time
from typing import Any

from keel.pools.rules.simulate import SimulationInput, mixed_tiers, simulate
from keel.pools.rules.simulate_reference import simulate_reference

__all__ = ["bench_simulation"]

DEFAULT_SEED = 20_180_069


def bench_simulation(
    scenarios: int = 100_000,
    months: int = 60,
    members: int = 50,
    reference_scenarios: int = 1_000,
    seed: int = DEFAULT_SEED,
) -> dict[str, Any]:
    """Member-months per second of the fast simulator and of the reference, and the ratio.

    ``months`` must be whole years (the simulator's horizon is in years). Both runs use
    the same input and seed; their cut probabilities are returned too, as a sanity check
    that the two timed the same model.
    """
    if months < 12 or months % 12:
        raise ValueError("months must be a positive multiple of 12")
    if scenarios < 1 or reference_scenarios < 1:
        raise ValueError("scenarios and reference_scenarios must be at least 1")
    inp = SimulationInput(
        gifts=mixed_tiers(members), years=months // 12, scenarios=scenarios, seed=seed
    )

    started = time.perf_counter()
    fast = simulate(inp)
    fast_seconds = time.perf_counter() - started

    started = time.perf_counter()
    reference = simulate_reference(inp, scenarios=reference_scenarios)
    reference_seconds = time.perf_counter() - started

    fast_rate = scenarios * months * members / fast_seconds
    reference_rate = reference_scenarios * months * members / reference_seconds
    return {
        "scenarios": scenarios,
        "months": months,
        "members": members,
        "reference_scenarios": reference_scenarios,
        "seed": seed,
        "fast_seconds": fast_seconds,
        "fast_member_months_per_second": fast_rate,
        "reference_seconds": reference_seconds,
        "reference_member_months_per_second": reference_rate,
        "ratio": fast_rate / reference_rate,
        "fast_cut_probability": fast.cut_probability,
        "fast_cut_probability_se": fast.cut_probability_se,
        "reference_cut_probability": reference.share(reference.cut_count),
    }
