"""Skills and rates: effective hourly rate by skill and combination, rate ceilings, which
adjacent skill would raise a ceiling, rate history, and whether rates rise with reputation.

Every amount is an ``int`` of minor units in one currency (the service converts first);
time is an ``int`` of minutes so that nothing is lost to rounding before the division.

Effective hourly rate
    ``rate = income * 60 / minutes`` in minor units per hour, rounded half up (``hourly_rate``).
    A job is tagged with a set of skills: its income and minutes count once for that exact
    combination and once for each of its single skills, so a skill's figures include the
    jobs it shared with others. Rates of a group are income over time of the whole group,
    never an average of job rates, so a long job weighs more than a short one.

Rate ceiling
    The highest hourly rate that at least two jobs, and at least one job in ten, reached:
    with the combination's per-job rates sorted from highest, the ``k``-th one, where
    ``k = max(2, ceil(n / 10))``. It needs ``MIN_JOBS_FOR_CEILING`` (3) jobs. One outlier
    can never set it (it takes at least two jobs), and with many jobs it is the nearest-rank
    90th percentile, which does not follow the top tenth either.

Adjacent skill
    For the worker's current combination ``S``, every combination ``S + {x}`` with a higher
    ceiling is a candidate: from the worker's own jobs, and from anonymised peer figures only
    when at least ``MIN_PEERS`` (5) peers stand behind the figure (k-anonymity: a smaller
    group could identify a peer's rate). The baseline is ``S``'s own ceiling, or its
    effective rate while it has too few jobs for one. The suggestion is the candidate with the
    highest ceiling; on a tie the worker's own figure is preferred, then the skill's name.

Rates and reputation
    For each job, the number of the worker's testimonials verified on or before the job's
    day is its reputation at the time. Spearman's rank correlation of job rate against that
    count (ties get their average rank) says whether rates rise with reputation: ``rho >=
    0.3`` rises, ``rho <= -0.3`` falls, anything between shows no clear link (0.3 is the
    usual lower bound of a moderate correlation). It needs ``MIN_JOBS_FOR_TREND`` (5) jobs
    and at least two different counts; it is a statistic, so it is the one float here.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction
from typing import Literal, TypeVar

from keel.money import MoneyError, format_amount, get_currency

__all__ = [
    "MIN_JOBS_FOR_CEILING",
    "MIN_JOBS_FOR_TREND",
    "MIN_PEERS",
    "Candidate",
    "Ceiling",
    "EffectiveRate",
    "Job",
    "MonthlyRate",
    "PeerFigure",
    "ReputationLevel",
    "ReputationTrend",
    "SkillError",
    "SkillSuggestion",
    "ceilings",
    "combination_name",
    "hourly_rate",
    "rate_ceiling",
    "rate_history",
    "rate_vs_reputation",
    "rates_by_combination",
    "rates_by_skill",
    "spearman",
    "suggest_adjacent_skill",
]

MIN_JOBS_FOR_CEILING = 3
MIN_PEERS = 5
MIN_JOBS_FOR_TREND = 5
# Spearman's rho at or beyond which the link is called a trend (a moderate correlation).
TREND_RHO = 0.3

Combination = frozenset[str]
K = TypeVar("K")


# --------------------------------------------------------------------------- errors


class SkillError(ValueError):
    """Bad input to a skills rule. ``field`` names the offending input (``"jobs[3].minutes"``);
    ``code`` is a stable machine-readable reason."""

    def __init__(self, message: str, *, field: str, code: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code


def _int(value: object, field: str, *, minimum: int = 0) -> int:
    # bool is an int and a float may hide a fraction: both are refused, not coerced.
    if isinstance(value, bool) or not isinstance(value, int):
        raise SkillError(
            f"{field} must be a whole number (int), not {type(value).__name__}",
            field=field,
            code="invalid_type",
        )
    if value < minimum:
        words = "must not be negative" if minimum == 0 else f"must be at least {minimum}"
        raise SkillError(f"{field} {words}, not {value}", field=field, code="out_of_range")
    return value


def _date(value: object, field: str) -> date:
    # A datetime is a date subclass; accepting one would drop its time and zone silently.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise SkillError(
            f"{field} must be a calendar date, not {type(value).__name__}",
            field=field,
            code="invalid_type",
        )
    return value


def _skills(value: object, field: str) -> Combination:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise SkillError(
            f"{field} must be a set of skill names, not {type(value).__name__}",
            field=field,
            code="invalid_type",
        )
    names = set()
    for name in value:
        if not isinstance(name, str) or not name.strip():
            raise SkillError(f"{field} holds an empty skill name", field=field, code="required")
        names.add(name.strip())
    if not names:
        raise SkillError(f"{field} must name at least one skill", field=field, code="required")
    return frozenset(names)


def combination_name(combination: Iterable[str]) -> str:
    """``"copywriting + design"``: the skills in alphabetical order, for people."""
    return " + ".join(sorted(combination))


def _currency(value: str) -> str:
    try:
        return get_currency(value).code
    except (MoneyError, TypeError) as exc:
        raise SkillError(str(exc), field="currency", code="invalid_currency") from exc


def _money(amount: int, currency: str) -> str:
    return format_amount(amount, currency, symbol=True)


# --------------------------------------------------------------------------- rates


@dataclass(frozen=True, slots=True)
class Job:
    """A piece of work: its skills, what it paid and how long it took.

    ``client`` is any stable label of the client (for rate history by client).
    """

    skills: Combination
    income: int
    minutes: int
    done_on: date
    client: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "skills", _skills(self.skills, "skills"))
        _int(self.income, "income")
        _int(self.minutes, "minutes", minimum=1)
        _date(self.done_on, "done_on")
        if not isinstance(self.client, str):
            raise SkillError("client must be text", field="client", code="invalid_type")

    @property
    def rate(self) -> int:
        return hourly_rate(self.income, self.minutes)


def hourly_rate(income: int, minutes: int) -> int:
    """``income`` earned in ``minutes``, per hour, rounded half up (never negative)."""
    _int(income, "income")
    _int(minutes, "minutes", minimum=1)
    return (income * 120 + minutes) // (2 * minutes)


@dataclass(frozen=True, slots=True)
class EffectiveRate:
    """Income over time for a group of jobs: ``rate = hourly_rate(income, minutes)``."""

    income: int
    minutes: int
    jobs: int

    @property
    def rate(self) -> int:
        return hourly_rate(self.income, self.minutes)

    @property
    def hours_text(self) -> str:
        hours, minutes = divmod(self.minutes, 60)
        return f"{hours}h{minutes:02d}"


def _jobs(jobs: Iterable[Job]) -> list[Job]:
    out = []
    for i, job in enumerate(jobs):
        if not isinstance(job, Job):
            raise SkillError(
                f"jobs[{i}] must be a Job, not {type(job).__name__}",
                field=f"jobs[{i}]",
                code="invalid_type",
            )
        out.append(job)
    return out


def _tally(pairs: Iterable[tuple[K, Job]]) -> dict[K, EffectiveRate]:
    totals: dict[K, list[int]] = {}
    for key, job in pairs:
        entry = totals.setdefault(key, [0, 0, 0])
        entry[0] += job.income
        entry[1] += job.minutes
        entry[2] += 1
    return {key: EffectiveRate(*entry) for key, entry in totals.items()}


def rates_by_combination(jobs: Iterable[Job]) -> dict[Combination, EffectiveRate]:
    """Effective rate of each exact skill combination."""
    return _tally((job.skills, job) for job in _jobs(jobs))


def rates_by_skill(jobs: Iterable[Job]) -> dict[str, EffectiveRate]:
    """Effective rate of each single skill, over every job tagged with it."""
    return _tally((skill, job) for job in _jobs(jobs) for skill in job.skills)


# --------------------------------------------------------------------------- ceilings


def rate_ceiling(job_rates: Sequence[int]) -> int | None:
    """The ceiling of a group's per-job rates (module docstring); None under 3 jobs."""
    rates = [_int(rate, f"job_rates[{i}]") for i, rate in enumerate(job_rates)]
    if len(rates) < MIN_JOBS_FOR_CEILING:
        return None
    k = max(2, -(-len(rates) // 10))
    return sorted(rates, reverse=True)[k - 1]


@dataclass(frozen=True, slots=True)
class Ceiling:
    """A combination's ceiling (None with too few jobs), its effective rate and best job."""

    combination: Combination
    ceiling: int | None
    effective: EffectiveRate
    best_job_rate: int


def ceilings(jobs: Iterable[Job]) -> dict[Combination, Ceiling]:
    """The ceiling of every exact skill combination the worker has jobs for."""
    grouped: dict[Combination, list[Job]] = defaultdict(list)
    for job in _jobs(jobs):
        grouped[job.skills].append(job)
    out = {}
    for combo, group in grouped.items():
        rates = [job.rate for job in group]
        effective = _tally((combo, job) for job in group)[combo]
        out[combo] = Ceiling(combo, rate_ceiling(rates), effective, max(rates))
    return out


@dataclass(frozen=True, slots=True)
class PeerFigure:
    """An anonymised ceiling from peers who opted in: only figures behind which at least
    ``MIN_PEERS`` peers stand are ever used."""

    combination: Combination
    ceiling: int
    peer_count: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "combination", _skills(self.combination, "combination"))
        _int(self.ceiling, "ceiling")
        _int(self.peer_count, "peer_count")


@dataclass(frozen=True, slots=True)
class Candidate:
    """One adjacent skill and the ceiling of the combination it makes. ``source`` is
    ``"own"`` (``count`` jobs of the worker) or ``"peers"`` (``count`` peers)."""

    skill: str
    combination: Combination
    ceiling: int
    source: Literal["own", "peers"]
    count: int


@dataclass(frozen=True, slots=True)
class SkillSuggestion:
    """Which adjacent skill would raise the ceiling of ``current``; ``candidates`` is best
    first and empty when nothing beats the baseline."""

    current: Combination
    currency: str
    baseline: int | None
    baseline_is_ceiling: bool
    candidates: tuple[Candidate, ...]

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    def words(self) -> str:
        """The suggestion in one or two sentences, naming the figures."""
        cur, name = self.currency, combination_name(self.current)
        if self.baseline is None:
            now = f"You have no rate yet for {name} alone."
        elif self.baseline_is_ceiling:
            now = f"Your ceiling for {name} is {_money(self.baseline, cur)} an hour."
        else:
            now = (
                f"Your effective rate for {name} is {_money(self.baseline, cur)} an hour "
                f"(too few jobs for a ceiling)."
            )
        best = self.best
        if best is None:
            return f"{now} No adjacent skill in your jobs or your peers' figures raises it yet."
        if best.source == "own":
            jobs = "job" if best.count == 1 else "jobs"
            where = f"your {best.count} {jobs} combining {combination_name(best.combination)}"
        else:
            where = f"{best.count} peers who combine {combination_name(best.combination)}"
        raise_by = (
            "" if self.baseline is None else f", {_money(best.ceiling - self.baseline, cur)} more"
        )
        return (
            f"{now} Adding {best.skill} looks most promising: {where} reach "
            f"{_money(best.ceiling, cur)} an hour{raise_by}."
        )


def suggest_adjacent_skill(
    current: Iterable[str],
    jobs: Iterable[Job],
    currency: str,
    peers: Iterable[PeerFigure] = (),
) -> SkillSuggestion:
    """Which one skill added to ``current`` would raise its ceiling (module docstring)."""
    combo = _skills(current, "current")
    currency = _currency(currency)
    table = ceilings(jobs)
    own = table.get(combo)
    baseline: int | None = None
    is_ceiling = False
    if own is not None:
        is_ceiling = own.ceiling is not None
        baseline = own.ceiling if own.ceiling is not None else own.effective.rate
    floor = -1 if baseline is None else baseline

    found: list[Candidate] = []
    for other, entry in table.items():
        extra = other - combo
        if (
            combo < other
            and len(extra) == 1
            and entry.ceiling is not None
            and entry.ceiling > floor
        ):
            skill = next(iter(extra))
            found.append(Candidate(skill, other, entry.ceiling, "own", entry.effective.jobs))
    for i, figure in enumerate(peers):
        if not isinstance(figure, PeerFigure):
            raise SkillError(
                f"peers[{i}] must be a PeerFigure", field=f"peers[{i}]", code="invalid_type"
            )
        extra = figure.combination - combo
        if (
            figure.peer_count >= MIN_PEERS
            and combo < figure.combination
            and len(extra) == 1
            and figure.ceiling > floor
        ):
            found.append(
                Candidate(
                    next(iter(extra)),
                    figure.combination,
                    figure.ceiling,
                    "peers",
                    figure.peer_count,
                )
            )
    found.sort(key=lambda c: (-c.ceiling, c.source != "own", c.skill))
    return SkillSuggestion(combo, currency, baseline, is_ceiling, tuple(found))


# --------------------------------------------------------------------------- history


@dataclass(frozen=True, slots=True)
class MonthlyRate:
    """Effective rate for one calendar month (``month`` is its first day)."""

    month: date
    income: int
    minutes: int
    jobs: int

    @property
    def rate(self) -> int:
        return hourly_rate(self.income, self.minutes)


def rate_history(
    jobs: Iterable[Job], by: Literal["skill", "client"]
) -> dict[str, tuple[MonthlyRate, ...]]:
    """Monthly effective rate per skill (each job counts for each of its skills) or per
    client, months in order; months without jobs are left out rather than shown as 0."""
    if by not in ("skill", "client"):
        raise SkillError(f"by must be skill or client, not {by!r}", field="by", code="invalid")
    tally = _tally(
        ((key, job.done_on.replace(day=1)), job)
        for job in _jobs(jobs)
        for key in (sorted(job.skills) if by == "skill" else [job.client])
    )
    history: dict[str, list[MonthlyRate]] = defaultdict(list)
    for (key, month), rate in sorted(tally.items()):
        history[key].append(MonthlyRate(month, rate.income, rate.minutes, rate.jobs))
    return {key: tuple(months) for key, months in history.items()}


# --------------------------------------------------------------------------- reputation


def _ranks(values: Sequence[int]) -> list[Fraction]:
    """1-based ranks, tied values sharing the average of their ranks."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [Fraction(0)] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        average = Fraction(i + j + 2, 2)
        for k in range(i, j + 1):
            ranks[order[k]] = average
        i = j + 1
    return ranks


def spearman(xs: Sequence[int], ys: Sequence[int]) -> float | None:
    """Spearman's rho (Pearson's correlation of the ranks); None when either side has no
    spread or there are fewer than two pairs."""
    if len(xs) != len(ys):
        raise SkillError("xs and ys must be the same length", field="ys", code="length")
    if len(xs) < 2:
        return None
    rx, ry = _ranks(xs), _ranks(ys)
    mean = Fraction(len(xs) + 1, 2)
    cov = sum(((a - mean) * (b - mean) for a, b in zip(rx, ry, strict=True)), Fraction(0))
    vx = sum(((a - mean) ** 2 for a in rx), Fraction(0))
    vy = sum(((b - mean) ** 2 for b in ry), Fraction(0))
    if vx == 0 or vy == 0:
        return None
    return float(cov) / math.sqrt(float(vx * vy))


@dataclass(frozen=True, slots=True)
class ReputationLevel:
    """The effective rate of the jobs done while ``testimonials`` were verified."""

    testimonials: int
    effective: EffectiveRate


@dataclass(frozen=True, slots=True)
class ReputationTrend:
    currency: str
    jobs: int
    rho: float | None
    verdict: Literal["rising", "falling", "no clear link", "not enough data"]
    levels: tuple[ReputationLevel, ...]

    def words(self) -> str:
        """The verdict in plain words, naming the figures."""
        cur = self.currency
        if self.verdict == "not enough data":
            if self.jobs < MIN_JOBS_FOR_TREND:
                return (
                    f"Not enough jobs yet to tell whether your rates rise with your reputation "
                    f"({self.jobs} of the {MIN_JOBS_FOR_TREND} needed)."
                )
            if len(self.levels) < 2:
                return (
                    "No testimonial was verified between these jobs, so there is nothing to "
                    "compare yet."
                )
            return "Your rate was the same on every job, so reputation made no difference."
        first, last = self.levels[0], self.levels[-1]
        figures = (
            f"{_money(first.effective.rate, cur)} an hour with {first.testimonials} verified "
            f"testimonials, {_money(last.effective.rate, cur)} with {last.testimonials}"
        )
        rho = f"Spearman's rho {self.rho:.2f}"
        if self.verdict == "rising":
            return f"Your rates rise with your reputation: {figures} ({rho})."
        if self.verdict == "falling":
            return f"Your rates have fallen as testimonials came in: {figures} ({rho})."
        return f"No clear link between your rates and testimonials yet: {figures} ({rho})."


def rate_vs_reputation(
    jobs: Iterable[Job], verified_on: Iterable[date], currency: str
) -> ReputationTrend:
    """Whether rates rise with reputation (module docstring). ``verified_on`` lists the day
    each of the worker's testimonials was verified."""
    currency = _currency(currency)
    days = sorted(_date(day, f"verified_on[{i}]") for i, day in enumerate(verified_on))
    listed = sorted(_jobs(jobs), key=lambda job: job.done_on)
    counts = [sum(1 for day in days if day <= job.done_on) for job in listed]
    rates = [job.rate for job in listed]

    by_count = _tally(zip(counts, listed, strict=True))
    levels = tuple(ReputationLevel(count, by_count[count]) for count in sorted(by_count))
    rho = spearman(counts, rates) if len(listed) >= MIN_JOBS_FOR_TREND else None
    verdict: Literal["rising", "falling", "no clear link", "not enough data"]
    if rho is None:
        verdict = "not enough data"
    elif rho >= TREND_RHO:
        verdict = "rising"
    elif rho <= -TREND_RHO:
        verdict = "falling"
    else:
        verdict = "no clear link"
    return ReputationTrend(currency, len(listed), rho, verdict, levels)
