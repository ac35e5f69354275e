"""The solvency model of ``keel.pools.rules.simulate``, slowly and obviously.

One scenario at a time, one month at a time, one member at a time, with Python's own
``random.Random``: every rule written out as plainly as it reads in the model's
description. It is the yardstick for the fast simulator (the tests check that both agree
within three standard errors on every probability) and the baseline of its benchmark, so
it must stay simple: no numpy, no cleverness, no shortcuts.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from keel.pools.rules.simulate import HALF_UNIT, PERCENT_EPSILON, SimulationInput

__all__ = ["ReferenceRun", "simulate_reference"]


@dataclass
class ReferenceRun:
    """What each scenario did (lists have one item per scenario)."""

    scenarios: int
    years: int
    cut_in_year: list[list[bool]] = field(default_factory=list)
    underpaid_in_year: list[list[bool]] = field(default_factory=list)
    cut_sizes: list[float] = field(default_factory=list)  # 1 - paid fraction, each cut month
    gifts_due: list[float] = field(default_factory=list)
    gifts_paid: list[float] = field(default_factory=list)
    deposits: list[float] = field(default_factory=list)
    refunds: list[float] = field(default_factory=list)
    final_reserves: list[list[float]] = field(default_factory=list)
    peak_reserves: list[list[float]] = field(default_factory=list)
    self_insurance_need: list[list[int]] = field(default_factory=list)
    claims_started: int = 0
    closed_claim_months: list[int] = field(default_factory=list)  # gift months of each

    def share(self, hits: int) -> float:
        return hits / self.scenarios

    @property
    def cut_count(self) -> int:
        return sum(any(years) for years in self.cut_in_year)

    def cut_count_in_year(self, year: int) -> int:
        return sum(years[year] for years in self.cut_in_year)

    @property
    def underpaid_count(self) -> int:
        return sum(any(years) for years in self.underpaid_in_year)

    def underpaid_count_in_year(self, year: int) -> int:
        return sum(years[year] for years in self.underpaid_in_year)


def simulate_reference(inp: SimulationInput, scenarios: int | None = None) -> ReferenceRun:
    """Run ``scenarios`` (default ``inp.scenarios``) futures of the pool, seeded by
    ``inp.seed``. Draws differ from the fast simulator's; the distribution does not."""
    rng = random.Random(inp.seed)
    count = inp.scenarios if scenarios is None else scenarios
    members = inp.members
    gift = inp.gifts
    deposit = inp.deposits
    cap = inp.caps
    wait = inp.waiting_months
    hazard = inp.monthly_hazard
    recovery = inp.recovery_probability
    run = ReferenceRun(scenarios=count, years=inp.years)

    for _ in range(count):
        reserve = [float(r) for r in inp.starting_reserves]
        peak_reserve = [0.0] * members  # the largest month-end reserve
        # claim_age: months of the current claim so far, this month included; 0: no claim.
        claim_age = [0] * members
        own_gift_months = [0] * members
        need = [0] * members
        cut_in_year = [False] * inp.years
        underpaid_in_year = [False] * inp.years
        due_total = paid_total = deposit_total = refund_total = 0.0

        for month in range(inp.months):
            month_hazard = hazard
            if inp.epidemic is not None and rng.random() < inp.epidemic.monthly_probability:
                month_hazard = min(hazard * inp.epidemic.incidence_multiplier, 1.0)

            # Sickness: recover after a gift month (always after the last one), fall sick
            # when not in a claim, or carry on with the claim.
            for i in range(members):
                if claim_age[i] > wait:
                    gift_months_so_far = claim_age[i] - wait
                    if gift_months_so_far == inp.max_months or rng.random() < recovery:
                        run.closed_claim_months.append(gift_months_so_far)
                        claim_age[i] = 0
                if claim_age[i] == 0:
                    if rng.random() < month_hazard:
                        claim_age[i] = 1
                        run.claims_started += 1
                else:
                    claim_age[i] += 1

            # Deposits: everyone, sick or not.
            for i in range(members):
                reserve[i] += deposit[i]
                deposit_total += deposit[i]

            # Gifts: the members in their gift months receive; everyone else gives.
            receivers = [i for i in range(members) if claim_age[i] > wait]
            givers = [i for i in range(members) if claim_age[i] <= wait]
            due = float(sum(gift[i] for i in receivers))
            available = sum(reserve[i] for i in givers)
            fraction = 1.0
            if available < due - HALF_UNIT:
                fraction = math.floor(100.0 * available / due + PERCENT_EPSILON) / 100.0
            owed = fraction * due
            giver_tiers = sum(gift[i] for i in givers)
            given = 0.0
            for i in givers:
                share = owed * gift[i] / giver_tiers
                paid = min(share, reserve[i])  # a short giver gives what they have
                reserve[i] -= paid
                given += paid
            due_total += due
            paid_total += given
            year = month // 12
            if fraction < 1.0:
                cut_in_year[year] = True
                run.cut_sizes.append(1.0 - fraction)
            if fraction < 1.0 or given < owed - HALF_UNIT:
                underpaid_in_year[year] = True

            # The cap: anything above it is refunded.
            for i in range(members):
                if reserve[i] > cap[i]:
                    refund_total += reserve[i] - cap[i]
                    reserve[i] = cap[i]
                peak_reserve[i] = max(peak_reserve[i], reserve[i])

            # Self-insurance: the buffer that would have paid this member's own gifts.
            for i in receivers:
                own_gift_months[i] += 1
                shortfall = own_gift_months[i] * gift[i] - (month + 1) * deposit[i]
                need[i] = max(need[i], shortfall)

        run.cut_in_year.append(cut_in_year)
        run.underpaid_in_year.append(underpaid_in_year)
        run.gifts_due.append(due_total)
        run.gifts_paid.append(paid_total)
        run.deposits.append(deposit_total)
        run.refunds.append(refund_total)
        run.final_reserves.append(reserve)
        run.peak_reserves.append(peak_reserve)
        run.self_insurance_need.append(need)
    return run
