"""Will a sick-leave pool stay solvent? A Monte Carlo of the Broodfonds model, month by month.

The model (``keel.pools.rules.simulate_reference`` runs the same model slowly and obviously,
and the tests check that both agree statistically):

* **Members.** A fixed set of members, each with a tier gift (``SimulationInput.gifts``,
  integer minor units). Joining and leaving are not modelled: a solvency estimate asks what
  the members there now can carry, and a leaver takes their own reserve, which only shrinks
  the pool the same way a smaller pool would. Every member is healthy in month 0 (no open
  claims at the start).

* **Sickness.** Each month, a member with no open claim falls sick with probability ``h``,
  the monthly hazard of the annual incidence ``a``: ``h = 1 - (1 - a) ** (1 / 12)``, so a
  member who stays at risk all year starts a claim with probability ``a``. ``a`` counts only
  sickness that reaches a gift (short illnesses that end inside the waiting period are not
  claims here). The Broodfonds' 2018 figure, 6.9% of members receiving gifts in a year,
  also counts claims carried over from the year before, so reading it as an incidence of
  new claims is on the safe side. The month a member falls sick is the first month of the
  claim; the first ``waiting_months`` months of a claim pay nothing; then the member
  receives their tier gift every month until recovery.

* **Duration** (the number of gift months). Recovery is memoryless: after each gift month
  the member recovers with probability ``q`` (and always after ``max_months`` gift
  months), so the gift months are ``min(D, max_months)`` with ``D`` geometric on 1, 2, ...,
  ``P(D = k) = (1 - q) ** (k - 1) * q``. Calibration: ``q = 1 / mean_claim_months``, so the
  mean *before* truncation is ``mean_claim_months`` (7.1); the mean paid is
  ``(1 - (1 - q) ** max_months) / q`` (6.91 months for 7.1 and 24). A recovered member is
  at risk again from the month they recover. The geometric has a long right tail, as sick
  leave has: a quarter of 7.1-month claims last 10 months or more, 3% reach the 24-month
  maximum. With ``history`` the pool's own claims replace both figures (``ClaimHistory``).

* **Epidemic** (optional, ``EpidemicShock``): each month of each scenario is, with
  probability ``monthly_probability``, an epidemic month in which the hazard of every
  member is multiplied by ``incidence_multiplier`` (at most 1): correlated sickness.

* **Money, each month, in this order**, following the pool's own rule
  (``keel.pools.rules.gifts``). (1) Every member, sick or not, deposits their tier gift's
  ``deposit_rate_bps``, rounded half up (``keel.money.percent_of_bps``), into their own
  reserve. (2) Gifts: the gifts due are the tier gifts of the members in their gift months;
  every other member gives, a member still in their waiting period included. If the
  givers' reserves together are short of the gifts due (by more than half a minor unit),
  every gift is cut alike to ``available / due`` floored to a whole percent (the pool's
  ``cut_percent``, which can find a percent more when rounding each cut gift down to a
  minor unit leaves room; never for gifts in whole units of 100 minor units). Each giver
  owes the cut gifts in proportion to their tier and gives from their reserve; a giver
  whose reserve cannot cover their share gives what they have and the others do not make
  up the shortfall, so a gift can be paid short without a cut: ``underpaid`` counts both.
  (3) Every reserve above its cap (``reserve_cap_deposits`` deposits) is refunded. The
  pool refunds once a year; refunding monthly is the conservative simplification (a
  reserve never holds more than its cap when sickness comes). A month cut to 0% still
  counts toward ``max_months`` here (the pool does not count it; such months need the
  givers' reserves below 1% of the gifts due).

What ``simulate`` reports, over ``scenarios`` independent futures of ``years`` years: the
probability of a cut in any month and per year, and of any gift being underpaid (cut or
giver shortfall), each with its standard error ``sqrt(p (1 - p) / n)``; gifts paid and
total reserves per month (mean and p10/p50/p90 across scenarios, inverted-CDF percentiles
as in ``keel.income.rules.forecast``); the mean cut when there is one; and, per tier, the
pooling benefit: ``self_insurance_reserve`` (and ``self_insurance_reserve_at_benchmark``)
beside ``pool_mean_reserve``.

**Self-insurance.** A member who saves the same monthly deposit on their own and pays
themselves their full tier gift in every gift month of their own sickness (the same
sickness process, same waiting period and maximum) needs a starting buffer ``R`` with
``R + deposits so far - gifts so far >= 0`` at the end of every month of the horizon. The
smallest such ``R`` in one future is ``max(0, max_m(gifts to m - deposits to m))``; the
self-insurance reserve is its quantile at the pool's no-cut probability
``1 - cut_probability``, over every member of the tier in every scenario (the inverted
CDF: the smallest buffer that suffices in at least that share of futures). Beside it is
what the same member holds in the pool: their mean reserve over every month and scenario.
When shortfalls are common, compare at ``1 - underpaid_probability`` instead
(``self_insurance_reserve(paths, gift, confidence)``).

The same confidence as the pool is a fair comparison only when the pool is sure of itself.
A young fund avoids a cut in about half its futures, and at a 50% quantile the buffer
alone is 0: most members are never sick within a few years, so pooling would seem to save
nothing, when in truth it is the pool that is fragile. So each tier also reports the
buffer at a fixed ``BENCHMARK_CONFIDENCE`` (95%), ``self_insurance_reserve_at_benchmark``:
what a member alone needs to be that sure of paying themselves. It is at least the first
figure whenever the pool's confidence is below the benchmark (a quantile rises with its
level); the deposit rate the pool itself needs to be as sure is ``required_deposit_rate``'s.

**Floats.** Reserves are float64 minor units: this is an estimate of probabilities, not a
ledger, and float64 holds any sum of minor units below 2**53 exactly, with the
proportional shares accurate to far below a cent. Comparisons against the rule allow half
a minor unit so that float rounding never invents a cut or a shortfall. Money figures are
reported rounded to whole minor units.

**Randomness.** One ``numpy.random.default_rng([seed, chunk])`` per chunk of scenarios,
and sickness is drawn before and independently of the money: the same input gives the same
result, and two inputs that differ only in money (deposit rate, cap, reserves) see the same
sickness in every scenario (common random numbers), which makes ``required_deposit_rate``'s
search monotone. Chunks bound the memory of the monthly loop; the per-scenario results kept
for percentiles and quantiles take ``16 * months + 16 * members`` bytes a scenario, which
``SimulationInput`` keeps under ``MAX_PATH_BYTES``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from keel.money import percent_of_bps

__all__ = [
    "BENCHMARK_CONFIDENCE",
    "BROODFONDS_TIERS",
    "Band",
    "ClaimHistory",
    "EpidemicShock",
    "SimulationInput",
    "SimulationPaths",
    "SimulationResult",
    "TierBenefit",
    "mixed_tiers",
    "monthly_hazard",
    "required_deposit_rate",
    "result_to_json",
    "self_insurance_reserve",
    "simulate",
    "simulate_paths",
    "truncated_mean_months",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Progress = Callable[[int, int], None]

# The eight Broodfonds tiers, EUR 750 to EUR 2,500 a month in steps of 250, in cents.
BROODFONDS_TIERS: tuple[int, ...] = tuple(range(75_000, 250_001, 25_000))
DEFAULT_INCIDENCE = 0.069
DEFAULT_MEAN_MONTHS = 7.1
MAX_SCENARIOS = 1_000_000
MAX_YEARS = 100
# What the per-scenario results may take (see the module docs), to stay well inside 2 GB.
MAX_PATH_BYTES = 1_500_000_000
PERCENTILES_BPS = (1000, 5000, 9000)
# The confidence at which every result also states the buffer a member alone would need
# (``TierBenefit.self_insurance_reserve_at_benchmark``), whatever the pool's own no-cut
# probability: a careful saver's 95%, so that a fragile pool (about 50% for a young fund,
# where the buffer at the pool's confidence is 0) does not make pooling look worthless.
BENCHMARK_CONFIDENCE = 0.95
# Float reserves may miss an integer amount by a rounding error; the rule's comparisons
# allow half a minor unit so that such an error never counts as a cut or a shortfall.
HALF_UNIT = 0.5
# 100 * available / due can land a hair below a whole percent it equals exactly.
PERCENT_EPSILON = 1e-9
# About 65,000 (member, scenario) cells a chunk: the monthly arrays stay in cache.
CHUNK_CELLS = 1 << 16


def _int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return int(value)


def _real(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite")
    return number


def monthly_hazard(annual_incidence: float) -> float:
    """The monthly probability of falling sick that gives ``annual_incidence`` over a year."""
    return 1.0 - math.pow(1.0 - annual_incidence, 1.0 / 12.0)


def truncated_mean_months(recovery_probability: float, max_months: int) -> float:
    """Mean gift months of ``min(D, max_months)``, D geometric with ``recovery_probability``."""
    q = recovery_probability
    if q >= 1.0:
        return 1.0
    if q <= 0.0:
        return float(max_months)
    return (1.0 - (1.0 - q) ** max_months) / q


def _recovery_for_truncated_mean(mean: float, max_months: int) -> float:
    """The recovery probability whose truncated mean is ``mean`` (bisection; the truncated
    mean falls as the recovery probability rises)."""
    if mean <= 1.0:
        return 1.0
    if mean >= max_months:
        return 0.0
    low, high = 0.0, 1.0
    for _ in range(100):
        middle = (low + high) / 2
        if truncated_mean_months(middle, max_months) > mean:
            low = middle
        else:
            high = middle
    return (low + high) / 2


# --------------------------------------------------------------------------- input


@dataclass(frozen=True, slots=True)
class EpidemicShock:
    """Correlated sickness: each month is, with ``monthly_probability``, an epidemic month
    in which every member's hazard is multiplied by ``incidence_multiplier``."""

    monthly_probability: float
    incidence_multiplier: float

    def __post_init__(self) -> None:
        probability = _real(self.monthly_probability, "epidemic.monthly_probability")
        multiplier = _real(self.incidence_multiplier, "epidemic.incidence_multiplier")
        if not 0.0 <= probability <= 1.0:
            raise ValueError("epidemic.monthly_probability must be between 0 and 1")
        if multiplier < 0.0:
            raise ValueError("epidemic.incidence_multiplier must not be negative")
        object.__setattr__(self, "monthly_probability", probability)
        object.__setattr__(self, "incidence_multiplier", multiplier)


@dataclass(frozen=True, slots=True)
class ClaimHistory:
    """What the pool's own claims show, to use instead of the Broodfonds figures.

    ``member_years``: membership observed (the sum over members of their years in the
    pool); ``claims``: claims that reached a gift in that time, open ones included;
    ``gift_months``: gift months paid by each closed claim. The incidence is the claims
    per member-month at risk, as an annual probability (members in a claim are not at risk;
    counting their time as exposure errs slightly low). The duration is the recovery
    probability whose mean paid months, truncated at ``max_months`` as the closed claims
    were, equals the mean of ``gift_months``; with no closed claim the default duration
    stays. Closed claims are biased short while long claims are still open, and a small
    pool's history is noisy: prefer the defaults until the pool has a few hundred
    member-years.
    """

    member_years: float
    claims: int
    gift_months: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        years = _real(self.member_years, "history.member_years")
        if years <= 0.0:
            raise ValueError("history.member_years must be positive")
        if _int(self.claims, "history.claims") < 0:
            raise ValueError("history.claims must not be negative")
        months = tuple(_int(m, "history.gift_months") for m in self.gift_months)
        if any(m < 1 for m in months):
            raise ValueError("history.gift_months must each be at least 1")
        if len(months) > self.claims:
            raise ValueError("history.gift_months has more closed claims than history.claims")
        object.__setattr__(self, "member_years", years)
        object.__setattr__(self, "gift_months", months)

    @property
    def annual_incidence(self) -> float:
        hazard = min(self.claims / (12.0 * self.member_years), 1.0)
        return 1.0 - (1.0 - hazard) ** 12


@dataclass(frozen=True, slots=True)
class SimulationInput:
    """A pool and the sickness it faces. Amounts are integer minor units; ``gifts`` has one
    tier gift per member; ``initial_reserves`` is empty (every reserve starts at zero: a
    young fund) or has one reserve per member."""

    gifts: tuple[int, ...]
    deposit_rate_bps: int = 450
    reserve_cap_deposits: int = 36
    waiting_months: int = 1
    max_months: int = 24
    annual_incidence: float = DEFAULT_INCIDENCE
    mean_claim_months: float = DEFAULT_MEAN_MONTHS
    years: int = 5
    scenarios: int = 10_000
    seed: int = 0
    initial_reserves: tuple[int, ...] = ()
    epidemic: EpidemicShock | None = None
    history: ClaimHistory | None = None

    def __post_init__(self) -> None:
        gifts = tuple(_int(g, "gifts") for g in self.gifts)
        if len(gifts) < 2:
            raise ValueError("gifts must name at least two members")
        if any(g <= 0 for g in gifts):
            raise ValueError("gifts must each be positive")
        object.__setattr__(self, "gifts", gifts)
        if not 0 <= _int(self.deposit_rate_bps, "deposit_rate_bps") <= 10_000:
            raise ValueError("deposit_rate_bps must be between 0 and 10000")
        if _int(self.reserve_cap_deposits, "reserve_cap_deposits") < 0:
            raise ValueError("reserve_cap_deposits must not be negative")
        if _int(self.waiting_months, "waiting_months") < 0:
            raise ValueError("waiting_months must not be negative")
        if _int(self.max_months, "max_months") < 1:
            raise ValueError("max_months must be at least 1")
        incidence = _real(self.annual_incidence, "annual_incidence")
        if not 0.0 <= incidence < 1.0:
            raise ValueError("annual_incidence must be at least 0 and below 1")
        mean = _real(self.mean_claim_months, "mean_claim_months")
        if mean < 1.0:
            raise ValueError("mean_claim_months must be at least 1")
        object.__setattr__(self, "annual_incidence", incidence)
        object.__setattr__(self, "mean_claim_months", mean)
        if not 1 <= _int(self.years, "years") <= MAX_YEARS:
            raise ValueError(f"years must be between 1 and {MAX_YEARS}")
        if not 1 <= _int(self.scenarios, "scenarios") <= MAX_SCENARIOS:
            raise ValueError(f"scenarios must be between 1 and {MAX_SCENARIOS}")
        if self.scenarios * (16 * self.months + 16 * len(gifts)) > MAX_PATH_BYTES:
            raise ValueError(
                f"scenarios: {self.scenarios} scenarios of {self.months} months and "
                f"{len(gifts)} members need more than {MAX_PATH_BYTES // 10**6} MB; "
                "simulate fewer scenarios or years"
            )
        if _int(self.seed, "seed") < 0:
            raise ValueError("seed must not be negative")
        reserves = tuple(_int(r, "initial_reserves") for r in self.initial_reserves)
        if reserves and len(reserves) != len(gifts):
            raise ValueError("initial_reserves must be empty or have one reserve per member")
        if any(r < 0 for r in reserves):
            raise ValueError("initial_reserves must not be negative")
        object.__setattr__(self, "initial_reserves", reserves)
        if self.epidemic is not None and not isinstance(self.epidemic, EpidemicShock):
            raise TypeError("epidemic must be an EpidemicShock")
        if self.history is not None and not isinstance(self.history, ClaimHistory):
            raise TypeError("history must be a ClaimHistory")

    @property
    def members(self) -> int:
        return len(self.gifts)

    @property
    def months(self) -> int:
        return 12 * self.years

    @property
    def deposits(self) -> tuple[int, ...]:
        return tuple(percent_of_bps(g, self.deposit_rate_bps) for g in self.gifts)

    @property
    def caps(self) -> tuple[int, ...]:
        return tuple(d * self.reserve_cap_deposits for d in self.deposits)

    @property
    def starting_reserves(self) -> tuple[int, ...]:
        return self.initial_reserves or (0,) * self.members

    @property
    def effective_incidence(self) -> float:
        return self.history.annual_incidence if self.history else self.annual_incidence

    @property
    def monthly_hazard(self) -> float:
        return monthly_hazard(self.effective_incidence)

    @property
    def recovery_probability(self) -> float:
        if self.history and self.history.gift_months:
            observed = sum(self.history.gift_months) / len(self.history.gift_months)
            return _recovery_for_truncated_mean(observed, self.max_months)
        return 1.0 / self.mean_claim_months

    @property
    def chunk_scenarios(self) -> int:
        return max(16, CHUNK_CELLS // self.members)


# --------------------------------------------------------------------------- paths


@dataclass(frozen=True, eq=False)
class SimulationPaths:
    """Every scenario's outcome, before summarising; ``n`` is the scenarios' (last) axis."""

    inputs: SimulationInput
    cut_months: npt.NDArray[np.int16]  # (years, n) months with a cut, per year
    underpaid_months: npt.NDArray[np.int16]  # (years, n) months with a gift underpaid
    cut_sum: float  # sum of the cut (1 - paid fraction) over every cut month
    underpaid_sum: float  # sum of (due - paid) / due over every underpaid month
    gifts_due: FloatArray  # (n,) full tier gifts of the claims in their gift months
    gifts_paid: FloatArray  # (months, n) what the claimants received
    reserves: FloatArray  # (months, n) total reserves at the end of each month
    refunds: FloatArray  # (n,) refunded above the cap over the horizon
    final_reserves: FloatArray  # (members, n)
    reserve_month_sum: FloatArray  # (members,) a member's reserve summed over months, scenarios
    # (members,) the largest month-end reserve in any scenario; None unless asked for
    peak_reserve: FloatArray | None
    self_insurance_need: IntArray  # (members, n) the buffer to self-insure that future
    claims: int  # claims started within the horizon

    @property
    def scenarios(self) -> int:
        return int(self.gifts_paid.shape[1])


def simulate_paths(
    inp: SimulationInput, progress: Progress | None = None, *, track_peaks: bool = False
) -> SimulationPaths:
    """Run every scenario of ``inp``; ``progress(done, total)`` follows each chunk.
    ``track_peaks`` also keeps each member's largest month-end reserve (one more pass over
    the reserves a month). Scenarios are the last axis, so a month's figures are one
    contiguous row."""
    n, members, months = inp.scenarios, inp.members, inp.months
    years = inp.years
    cut_months = np.zeros((years, n), dtype=np.int16)
    underpaid_months = np.zeros((years, n), dtype=np.int16)
    gifts_due = np.zeros(n)
    gifts_paid = np.zeros((months, n))
    reserves = np.zeros((months, n))
    refunds = np.zeros(n)
    final_reserves = np.zeros((members, n))
    reserve_month_sum = np.zeros(members)
    peak_reserve = np.zeros(members) if track_peaks else None
    need = np.zeros((members, n), dtype=np.int64)
    cut_sum = underpaid_sum = 0.0
    claims = 0
    step = inp.chunk_scenarios
    for index, lo in enumerate(range(0, n, step)):
        hi = min(lo + step, n)
        rng = np.random.default_rng([inp.seed, index])
        chunk = _run_chunk(
            inp,
            rng,
            cut_months[:, lo:hi],
            underpaid_months[:, lo:hi],
            gifts_due[lo:hi],
            gifts_paid[:, lo:hi],
            reserves[:, lo:hi],
            refunds[lo:hi],
            final_reserves[:, lo:hi],
            reserve_month_sum,
            peak_reserve,
            need[:, lo:hi],
        )
        cut_sum += chunk.cut_sum
        underpaid_sum += chunk.underpaid_sum
        claims += chunk.claims
        if progress is not None:
            progress(hi, n)
    return SimulationPaths(
        inputs=inp,
        cut_months=cut_months,
        underpaid_months=underpaid_months,
        cut_sum=cut_sum,
        underpaid_sum=underpaid_sum,
        gifts_due=gifts_due,
        gifts_paid=gifts_paid,
        reserves=reserves,
        refunds=refunds,
        final_reserves=final_reserves,
        reserve_month_sum=reserve_month_sum,
        peak_reserve=peak_reserve,
        self_insurance_need=need,
        claims=claims,
    )


@dataclass(frozen=True, slots=True)
class _Claims:
    """The claims of one chunk: the cell (``member * scenarios + scenario``), the first
    month of the claim, and the month the member has recovered (after the gift months)."""

    cell: IntArray
    onset: IntArray
    end: IntArray


@dataclass(frozen=True, slots=True)
class _ChunkSums:
    cut_sum: float
    underpaid_sum: float
    claims: int


def _epidemic_onsets(
    inp: SimulationInput, n: int, rng: np.random.Generator
) -> Callable[[IntArray, IntArray], IntArray]:
    """Onsets under a hazard that changes from month to month: invert each scenario's
    cumulative hazard at an exponential draw (exact, and one draw per onset rather than
    one per member-month)."""
    assert inp.epidemic is not None
    months = inp.months
    hazard = np.full((n, months), inp.monthly_hazard)
    shock = rng.random((n, months)) < inp.epidemic.monthly_probability
    hazard[shock] = min(inp.monthly_hazard * inp.epidemic.incidence_multiplier, 1.0)
    # A certain onset has an infinite cumulative hazard; a large finite one serves.
    rate = -np.log1p(-np.minimum(hazard, 1.0 - 1e-15))
    cumulative = np.zeros((n, months + 1))
    np.cumsum(rate, axis=1, out=cumulative[:, 1:])
    # Scenarios laid end to end, each lifted above the one before, so that one searchsorted
    # over the flat array finds every cell's onset within its own scenario.
    lift = np.zeros(n)
    np.cumsum(cumulative[:-1, -1] + 1.0, out=lift[1:])
    flat = (cumulative + lift[:, None]).ravel()

    def onsets(cell: IntArray, at_risk: IntArray) -> IntArray:
        scenario = cell % n
        target = cumulative[scenario, at_risk] + lift[scenario]
        target += rng.standard_exponential(cell.size)
        found: IntArray = np.searchsorted(flat, target) - scenario * (months + 1)
        onset: IntArray = np.maximum(found, at_risk + 1) - 1
        return onset

    return onsets


def _draw_claims(
    inp: SimulationInput, n: int, rng: np.random.Generator
) -> tuple[_Claims, IntArray]:
    """Every claim of ``n`` scenarios, each member's claims one round at a time, and each
    cell's self-insurance need, shape (members, n)."""
    members, months, wait = inp.members, inp.months, inp.waiting_months
    hazard, recovery = inp.monthly_hazard, inp.recovery_probability
    epidemic = _epidemic_onsets(inp, n, rng) if inp.epidemic is not None else None
    gifts = np.asarray(inp.gifts, dtype=np.int64)
    deposits = np.asarray(inp.deposits, dtype=np.int64)
    need = np.zeros(members * n, dtype=np.int64)
    paid_months = np.zeros(members * n, dtype=np.int64)
    cells: list[IntArray] = []
    onsets: list[IntArray] = []
    ends: list[IntArray] = []
    cell = np.arange(members * n, dtype=np.int64)
    at_risk = np.zeros(members * n, dtype=np.int64)  # first month the cell can fall sick
    if epidemic is None and hazard <= 0.0:
        cell = cell[:0]
    while cell.size:
        if epidemic is not None:
            onset = epidemic(cell, at_risk)
        else:
            onset = at_risk + rng.geometric(hazard, cell.size) - 1
        sick = onset < months
        cell, onset = cell[sick], onset[sick]
        if recovery > 0.0:
            duration = np.minimum(rng.geometric(recovery, cell.size), inp.max_months)
        else:  # a history whose claims all ran to the maximum
            duration = np.full(cell.size, inp.max_months, dtype=np.int64)
        end = onset + wait + duration
        cells.append(cell)
        onsets.append(onset)
        ends.append(end)
        # Self-insurance: the need peaks at the last gift month of a claim, since each gift
        # month adds a gift and only one deposit.
        last = np.minimum(end, months)
        paid = last - np.minimum(onset + wait, months)
        paid_months[cell] += paid
        member = cell // n
        peak = paid_months[cell] * gifts[member] - last * deposits[member]
        need[cell] = np.where(paid > 0, np.maximum(need[cell], peak), need[cell])
        going = end < months
        cell, at_risk = cell[going], end[going]
    empty = np.zeros(0, dtype=np.int64)
    claims = _Claims(
        cell=np.concatenate(cells) if cells else empty,
        onset=np.concatenate(onsets) if onsets else empty,
        end=np.concatenate(ends) if ends else empty,
    )
    return claims, need.reshape(members, n)


def _by_month(months: IntArray, horizon: int) -> tuple[IntArray, IntArray]:
    """Claim indices sorted by month, and where each month's run starts."""
    order = np.argsort(months, kind="stable")
    bounds = np.searchsorted(months[order], np.arange(horizon + 1))
    return order, bounds


def _spans(
    scenario: IntArray, start: IntArray, stop: IntArray, weight: FloatArray, n: int, months: int
) -> FloatArray:
    """(months, n): the sum of ``weight`` over the spans [start, stop) of each scenario."""
    start = np.minimum(start, months)
    stop = np.minimum(stop, months)
    diff = np.asarray(np.bincount(start * n + scenario, weight, (months + 1) * n), np.float64)
    diff -= np.bincount(stop * n + scenario, weight, (months + 1) * n)
    spans: FloatArray = np.cumsum(diff.reshape(months + 1, n), axis=0)[:months]
    return spans


def _run_chunk(
    inp: SimulationInput,
    rng: np.random.Generator,
    cut_months: npt.NDArray[np.int16],
    underpaid_months: npt.NDArray[np.int16],
    gifts_due: FloatArray,
    gifts_paid: FloatArray,
    reserves: FloatArray,
    refunds: FloatArray,
    final_reserves: FloatArray,
    reserve_month_sum: FloatArray,
    peak_reserve: FloatArray | None,
    need: IntArray,
) -> _ChunkSums:
    # The monthly arrays are (members, scenarios): numpy is fastest on long contiguous
    # rows, and a pool has far fewer members than a chunk has scenarios.
    n = gifts_paid.shape[1]
    members, months, wait = inp.members, inp.months, inp.waiting_months
    claims, chunk_need = _draw_claims(inp, n, rng)
    need[:] = chunk_need

    gift = np.asarray(inp.gifts, dtype=np.float64)
    paid_from = claims.onset + wait
    # Per month and scenario, the gifts due are also the tiers of the members who receive
    # and so do not give: from the claims' spans instead of every member-month.
    due_by_month = _spans(claims.cell % n, paid_from, claims.end, gift[claims.cell // n], n, months)
    giver_tiers = gift.sum() - due_by_month
    gifts_due[:] = due_by_month.sum(axis=0)

    by_start, start_bounds = _by_month(np.minimum(paid_from, months), months)
    by_end, end_bounds = _by_month(np.minimum(claims.end, months), months)

    def full(values: Sequence[int]) -> FloatArray:
        column = np.asarray(values, dtype=np.float64)[:, None]
        return np.ascontiguousarray(np.broadcast_to(column, (members, n)))

    # Whole arrays rather than broadcast columns: same-shape in-place ufuncs are the fast ones.
    deposit = full(inp.deposits)
    cap = full(inp.caps)
    reserve = full(inp.starting_reserves)
    giving = np.ones((members, n))  # 1 for a member who gives, 0 for one who receives
    giving_tier = full(inp.gifts)  # the tier gift of each giver, 0 for a receiver
    flat_giving = giving.reshape(-1)
    flat_tier = giving_tier.reshape(-1)
    share = np.empty((members, n))
    peak = np.zeros((members, n)) if peak_reserve is not None else None
    by_member = np.ones(members)
    by_scenario = np.ones(n)
    cut = np.empty(n)
    per_tier = np.empty(n)
    cut_sum = 0.0
    underpaid_sum = 0.0

    for month in range(months):
        # Ends before starts: with no waiting period, a member who recovers this month can
        # fall sick and receive again in the same month.
        ended = claims.cell[by_end[end_bounds[month] : end_bounds[month + 1]]]
        if ended.size:
            flat_giving[ended] = 1.0
            flat_tier[ended] = gift[ended // n]
        started = claims.cell[by_start[start_bounds[month] : start_bounds[month + 1]]]
        if started.size:
            flat_giving[started] = 0.0
            flat_tier[started] = 0.0

        reserve += deposit
        due = due_by_month[month]
        available = np.einsum("ij,ij->j", reserve, giving)
        cut.fill(1.0)
        short = available < due - HALF_UNIT
        if short.any():
            cut[short] = np.floor(100.0 * available[short] / due[short] + PERCENT_EPSILON) / 100.0
        owed = cut * due
        tiers = giver_tiers[month]
        per_tier.fill(0.0)
        np.divide(owed, tiers, out=per_tier, where=tiers > 0)
        np.multiply(giving_tier, per_tier, out=share)
        np.minimum(share, reserve, out=share)
        given = by_member @ share
        reserve -= share
        gifts_paid[month] = given

        before = by_member @ reserve
        np.minimum(reserve, cap, out=reserve)
        after = by_member @ reserve
        refunds += before - after
        reserves[month] = after
        reserve_month_sum += reserve @ by_scenario
        if peak is not None:
            np.maximum(peak, reserve, out=peak)

        cutting = cut < 1.0
        underpaid = cutting | (given < owed - HALF_UNIT)
        year = month // 12
        cut_months[year] += cutting
        underpaid_months[year] += underpaid
        if cutting.any():
            cut_sum += float(np.sum(1.0 - cut[cutting]))
        if underpaid.any():
            underpaid_sum += float(np.sum(1.0 - given[underpaid] / due[underpaid]))

    final_reserves[:] = reserve
    if peak_reserve is not None and peak is not None:
        np.maximum(peak_reserve, peak.max(axis=1), out=peak_reserve)
    return _ChunkSums(cut_sum, underpaid_sum, int(claims.cell.size))


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, slots=True)
class Band:
    """A figure per month across scenarios: its mean and inverted-CDF percentiles."""

    mean: tuple[int, ...]
    p10: tuple[int, ...]
    p50: tuple[int, ...]
    p90: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TierBenefit:
    """What pooling saves the members of one tier (amounts in minor units)."""

    gift: int
    members: int
    deposit: int
    reserve_cap: int
    # The buffer a member saving the same deposit alone would need to pay themselves this
    # gift through their own sickness with the pool's confidence (see the module docs).
    self_insurance_reserve: int
    # The same buffer at ``BENCHMARK_CONFIDENCE`` (95%), whatever the pool's confidence.
    self_insurance_reserve_at_benchmark: int
    pool_mean_reserve: int  # a member's reserve in the pool, over every month and scenario
    pool_final_reserve: int  # a member's reserve at the end of the horizon, on average


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """What ``simulate`` found. Probabilities are shares of scenarios, each with its
    standard error; money is in minor units, rounded; per-month tuples have ``months``
    items and per-year tuples ``inputs.years``."""

    inputs: SimulationInput
    scenarios: int
    months: int
    annual_incidence: float  # as simulated (the history's when given)
    monthly_hazard: float
    recovery_probability: float
    mean_paid_months: float  # expected gift months of a claim, after the maximum
    claims_per_scenario: float
    cut_probability: float  # a cut in any month of the horizon
    cut_probability_se: float
    cut_probability_by_year: tuple[float, ...]
    cut_probability_by_year_se: tuple[float, ...]
    underpaid_probability: float  # a gift paid short in any month (cut or giver shortfall)
    underpaid_probability_se: float
    underpaid_probability_by_year: tuple[float, ...]
    underpaid_probability_by_year_se: tuple[float, ...]
    cut_months_mean: float  # expected number of months with a cut
    mean_cut_when_cut: float | None  # the share of each gift withheld, over cut months
    mean_underpayment_when_underpaid: float | None  # share of the gifts due not received
    gifts_paid: Band  # gifts received per month
    reserves: Band  # total reserves at the end of each month
    gifts_due_total_mean: int
    gifts_paid_total_mean: int
    gifts_paid_total_se: float
    deposits_total: int  # the same in every scenario
    refunds_total_mean: int
    initial_reserves_total: int
    final_reserves_mean: int
    final_reserves_se: float
    self_insurance_confidence: float  # 1 - cut_probability: the pool's no-cut probability
    benchmark_confidence: float  # BENCHMARK_CONFIDENCE: the tiers' second buffer's
    tiers: tuple[TierBenefit, ...]  # one per distinct tier gift, smallest first


def _se(p: float, n: int) -> float:
    return math.sqrt(p * (1.0 - p) / n)


def _mean_se(values: FloatArray) -> tuple[float, float]:
    n = values.size
    spread = float(np.std(values, ddof=1)) if n > 1 else 0.0
    return float(np.mean(values)), spread / math.sqrt(n)


def _percentile_index(bps: int, n: int) -> int:
    return max((bps * n + 9_999) // 10_000 - 1, 0)  # ceil(p * n) - 1


def _band(values: FloatArray) -> Band:
    """Per row (month) of a (months, n) array."""
    n = values.shape[1]
    kth = [_percentile_index(bps, n) for bps in PERCENTILES_BPS]
    ordered = np.partition(values, kth, axis=1)
    p10, p50, p90 = (_rounded(ordered[:, k]) for k in kth)
    return Band(mean=_rounded(values.mean(axis=1)), p10=p10, p50=p50, p90=p90)


def _rounded(values: FloatArray) -> tuple[int, ...]:
    return tuple(int(v) for v in np.rint(values))


def self_insurance_reserve(paths: SimulationPaths, gift: int, confidence: float) -> int:
    """The buffer that lets a member of the ``gift`` tier self-insure in at least
    ``confidence`` of the simulated futures (see the module docs): the inverted-CDF quantile
    of the need of every such member in every scenario."""
    chosen = np.flatnonzero(np.asarray(paths.inputs.gifts) == gift)
    if not chosen.size:
        raise ValueError(f"no member has the tier gift {gift}")
    confidence = _real(confidence, "confidence")
    if not 0.0 <= confidence <= 1.0:
        raise ValueError("confidence must be between 0 and 1")
    values = paths.self_insurance_need[chosen].ravel()
    # The smallest value with at least ``confidence`` of the values at or below it; the
    # tolerance keeps 0.7 * 10 from rounding up to an eighth value.
    index = max(math.ceil(confidence * values.size - 1e-9) - 1, 0)
    return int(np.partition(values, index)[index])


def summarise(paths: SimulationPaths) -> SimulationResult:
    """The figures ``simulate`` reports, from every scenario's outcome."""
    inp = paths.inputs
    n = paths.scenarios

    def probabilities(months: npt.NDArray[np.int16]) -> tuple[float, float, list[float]]:
        any_month = float(np.mean(months.sum(axis=0) > 0))
        return any_month, _se(any_month, n), [float(p) for p in np.mean(months > 0, axis=1)]

    cut, cut_se, cut_years = probabilities(paths.cut_months)
    under, under_se, under_years = probabilities(paths.underpaid_months)
    cut_count = int(paths.cut_months.sum())
    under_count = int(paths.underpaid_months.sum())
    paid_mean, paid_se = _mean_se(paths.gifts_paid.sum(axis=0))
    final_mean, final_se = _mean_se(paths.reserves[-1])
    confidence = 1.0 - cut

    gifts = np.asarray(inp.gifts)
    tiers: list[TierBenefit] = []
    for tier in sorted(set(inp.gifts)):
        chosen = np.flatnonzero(gifts == tier)
        index = int(chosen[0])
        tiers.append(
            TierBenefit(
                gift=tier,
                members=int(chosen.size),
                deposit=inp.deposits[index],
                reserve_cap=inp.caps[index],
                self_insurance_reserve=self_insurance_reserve(paths, tier, confidence),
                self_insurance_reserve_at_benchmark=self_insurance_reserve(
                    paths, tier, BENCHMARK_CONFIDENCE
                ),
                pool_mean_reserve=round(
                    float(paths.reserve_month_sum[chosen].sum()) / (chosen.size * n * inp.months)
                ),
                pool_final_reserve=round(float(paths.final_reserves[chosen].mean())),
            )
        )
    return SimulationResult(
        inputs=inp,
        scenarios=n,
        months=inp.months,
        annual_incidence=inp.effective_incidence,
        monthly_hazard=inp.monthly_hazard,
        recovery_probability=inp.recovery_probability,
        mean_paid_months=truncated_mean_months(inp.recovery_probability, inp.max_months),
        claims_per_scenario=paths.claims / n,
        cut_probability=cut,
        cut_probability_se=cut_se,
        cut_probability_by_year=tuple(cut_years),
        cut_probability_by_year_se=tuple(_se(p, n) for p in cut_years),
        underpaid_probability=under,
        underpaid_probability_se=under_se,
        underpaid_probability_by_year=tuple(under_years),
        underpaid_probability_by_year_se=tuple(_se(p, n) for p in under_years),
        cut_months_mean=cut_count / n,
        mean_cut_when_cut=paths.cut_sum / cut_count if cut_count else None,
        mean_underpayment_when_underpaid=paths.underpaid_sum / under_count if under_count else None,
        gifts_paid=_band(paths.gifts_paid),
        reserves=_band(paths.reserves),
        gifts_due_total_mean=round(float(paths.gifts_due.mean())),
        gifts_paid_total_mean=round(paid_mean),
        gifts_paid_total_se=paid_se,
        deposits_total=sum(inp.deposits) * inp.months,
        refunds_total_mean=round(float(paths.refunds.mean())),
        initial_reserves_total=sum(inp.starting_reserves),
        final_reserves_mean=round(final_mean),
        final_reserves_se=final_se,
        self_insurance_confidence=confidence,
        benchmark_confidence=BENCHMARK_CONFIDENCE,
        tiers=tuple(tiers),
    )


def simulate(inp: SimulationInput, progress: Progress | None = None) -> SimulationResult:
    """Simulate ``inp.scenarios`` futures of the pool (see the module docs for the model).

    ``progress(done, total)`` is called after each chunk of scenarios, for a progress bar.
    The same input, seed included, gives the same result.
    """
    return summarise(simulate_paths(inp, progress))


# --------------------------------------------------------------------------- pricing


def required_deposit_rate(
    inp: SimulationInput,
    target_no_cut_probability: float,
    *,
    count_shortfalls: bool = False,
    max_bps: int = 10_000,
    progress: Progress | None = None,
) -> tuple[int, SimulationResult]:
    """The lowest deposit rate, in whole basis points of the tier gift, at which the
    simulated probability of no cut in any month reaches the target, and its result.
    With ``count_shortfalls`` the target is for every gift paid in full (no cut and no
    giver shortfall).

    Every rate is simulated with the same seed, so every rate faces the same sickness
    (common random numbers). A higher deposit (and with it a higher cap) leaves every
    reserve at least as high, month by month, until the lower rate's first cut or
    shortfall, so the set of futures with a cut can only shrink as the rate rises and the
    search is exact: double the rate from ``inp.deposit_rate_bps`` until the target is met,
    then bisect over whole bps. The target is met by the point estimate, not a confidence
    bound: ask for a margin of a few standard errors. Raises ``ValueError`` when even
    ``max_bps`` misses it (an epidemic that makes everyone sick at once cuts whatever the
    reserves). ``progress`` follows each simulation in turn.
    """
    target = _real(target_no_cut_probability, "target_no_cut_probability")
    if not 0.0 <= target <= 1.0:
        raise ValueError("target_no_cut_probability must be between 0 and 1")
    if not 0 <= _int(max_bps, "max_bps") <= 10_000:
        raise ValueError("max_bps must be between 0 and 10000")
    tried: dict[int, SimulationResult] = {}

    def no_cut(bps: int) -> float:
        if bps not in tried:
            tried[bps] = simulate(replace(inp, deposit_rate_bps=bps), progress)
        result = tried[bps]
        return 1.0 - (result.underpaid_probability if count_shortfalls else result.cut_probability)

    # Invariant: ``low`` misses the target (-1 stands for "below every rate"), ``high``
    # meets it.
    low, high = -1, min(inp.deposit_rate_bps, max_bps)
    while no_cut(high) < target:
        if high == max_bps:
            raise ValueError(
                f"no deposit rate up to {max_bps} bps reaches a no-cut probability of "
                f"{target}: {no_cut(high):.4f} at {max_bps} bps"
            )
        low, high = high, min(max(2 * high, 1), max_bps)
    while high - low > 1:
        middle = (low + high) // 2
        if no_cut(middle) >= target:
            high = middle
        else:
            low = middle
    return high, tried[high]


# --------------------------------------------------------------------------- JSON


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    raise TypeError(f"cannot turn {type(value).__name__} into JSON")


def result_to_json(result: SimulationResult) -> dict[str, Any]:
    """The result as plain dicts, lists, ints, floats and None (for ``--json`` and charts);
    ``inputs`` carries the simulated input, so a run can be repeated from its output."""
    plain = _plain(result)
    assert isinstance(plain, dict)
    return plain


def mixed_tiers(members: int, tiers: Sequence[int] = BROODFONDS_TIERS) -> tuple[int, ...]:
    """``members`` gifts cycling through ``tiers``: a pool with every tier represented."""
    return tuple(tiers[i % len(tiers)] for i in range(members))
