"""The next 90 days, day by day: known schedules plus a simulation fitted to your history.

What the forecast adds up, for each day from ``start`` (day 0) to ``start + horizon - 1``:

1. **Scheduled items** (``ScheduledItem``): recurring charges with a schedule, milestones
   due, invoices outstanding, bundles. Each counts in full on its due date, in every
   simulated path (it is known, not uncertain). An overdue item (due before ``start``) is
   still expected and counts on day 0; an item due after the horizon is left out. Pass only
   the items still open: ``consume_scheduled`` removes those an actual payment already
   settled, so nothing is counted twice.

2. **History-only recurring streams**: a source with recurring income in the history but no
   schedule (not in ``scheduled_sources``) is projected by its own cadence. The cadence is
   the median gap between its last six payments: up to 10 days is weekly, up to 21 days
   every two weeks, longer is monthly (same day of the month as the last payment, clamped
   to the month's end). The amount is the median of its last three positive payments. A
   stream counts as active while its last payment is at most one cadence plus 14 days old
   (45 days for a monthly stream); a stream that stopped is not projected, and a payment
   that should have come before ``start`` but did not is not carried forward. Projected
   payments are deterministic, like scheduled items.

3. **Micro income** (platform gigs and tasks) is simulated by a weekly block bootstrap of
   your own days: the history's last ``micro_lookback_weeks`` whole weeks before ``start``
   (only those since your first micro payment) are cut into 7-day blocks aligned with the
   forecast's weeks, and each future week is a copy of a randomly drawn past week. That
   keeps your weekday pattern (busy Fridays, quiet Sundays), your days with no work, the
   real size of your busy days and their clustering within a week, without assuming a
   distribution. Recent weeks are drawn more often: a week's weight halves every
   ``micro_half_life_weeks`` weeks of age, so a change in your pace shows up within weeks.

4. **Project income** (fees, milestones, bonuses) is simulated as a compound Poisson
   process: payments arrive at a rate fitted to the last ``project_lookback_days`` days
   (n payments over an exposure of E days), and each payment's size is drawn from the
   sizes you were actually paid in that period. The rate is uncertain when n is small, so
   each path draws its own rate from the Gamma(n + 1/2, 1/E) posterior (Jeffreys prior)
   before drawing arrivals: three payments a year gives a wide band, thirty a narrower one.
   Exposure is the lookback, or the time since your earliest income item when the history
   is shorter.

Streams with a schedule are never also simulated: history items whose ``source`` is in
``scheduled_sources`` (by default the keys of the scheduled items passed) are left out of
steps 2-4. ``ScheduledItem.key`` and ``IncomeFact.source`` must therefore use the same
identifiers, and the caller should name in ``scheduled_sources`` every stream that has a
schedule, including one whose items are all consumed already.

Balance = starting balance + cumulative income - cumulative essential expenses, where the
expenses are the yearly amount (12 x monthly) spread evenly over 365 days, the cumulative
amount after k days rounded down to whole minor units (so 365 days add up to exactly 12
months). Percentiles are per day across paths, by the inverted CDF (the smallest simulated
value with at least p% of paths at or below it), so each is an amount some path reached and
stays a whole number of minor units; p10 <= p50 <= p90 holds on every day. The lowest
expected balance is the minimum of the per-day median balance (earliest day on ties).
Shortfall probabilities are the share of paths whose income over days 0-29, 30-59 and
60-89 is less than the expenses of those days.

Everything is driven by one ``numpy.random.default_rng(seed)``: the same inputs and seed
give identical results. The simulation is vectorised over paths x days.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt

from keel.income.rules.analytics import IncomeFact, median_month
from keel.income.rules.dates import add_months

__all__ = [
    "SCHEDULED_KINDS",
    "BacktestCutoff",
    "BacktestReport",
    "FittedModel",
    "Forecast",
    "ForecastModel",
    "ForecastWindow",
    "Match",
    "ProjectedStream",
    "ScheduledItem",
    "backtest",
    "consume_scheduled",
    "fit",
    "forecast",
    "simulate",
]

IntArray = npt.NDArray[np.int64]
SCHEDULED_KINDS: tuple[str, ...] = ("recurring", "milestone", "invoice", "bundle")
WINDOW_DAYS = 30
PERCENTILES_BPS = (1000, 5000, 9000)


def _int(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{field} must be an int of minor units, not {type(value).__name__}")
    return int(value)


# --------------------------------------------------------------------------- schedule


@dataclass(frozen=True, slots=True)
class ScheduledItem:
    """A payment Keel knows is coming: ``key`` is the same identifier as ``IncomeFact.source``
    of the payment that will settle it (a stream, contract or client id chosen by the caller)."""

    due_on: date
    amount: int
    kind: str
    key: str

    def __post_init__(self) -> None:
        if not isinstance(self.due_on, date):
            raise TypeError(f"due_on must be a date, not {type(self.due_on).__name__}")
        object.__setattr__(self, "amount", _int(self.amount, "amount"))
        if self.kind not in SCHEDULED_KINDS:
            raise ValueError(f"kind must be one of {', '.join(SCHEDULED_KINDS)}, not {self.kind!r}")
        if not isinstance(self.key, str) or not self.key:
            raise ValueError("key must be a non-empty string")


@dataclass(frozen=True, slots=True)
class Match:
    item: ScheduledItem
    payment: IncomeFact

    @property
    def days_late(self) -> int:
        return (self.payment.occurred_on - self.item.due_on).days


def consume_scheduled(
    scheduled: Iterable[ScheduledItem],
    actual_payments: Iterable[IncomeFact],
    tolerance_days: int = 7,
    tolerance_bps: int = 500,
) -> tuple[list[ScheduledItem], list[Match]]:
    """Settle scheduled items with the payments that actually came in.

    A payment matches an item when its ``source`` equals the item's ``key``, it is dated
    within ``tolerance_days`` of the due date (early or late), and its amount is within
    ``tolerance_bps`` of the item's amount (|paid - due| * 10000 <= bps * due, exact).
    Each payment settles at most one item and each item is settled at most once.

    Payments are taken in date order (then larger first, then by source); each settles the
    unsettled candidate closest in date, then closest in amount, then due first, then first
    in the input. Refunds (amount <= 0) and items of zero or negative amount never match. A
    partial payment (a milestone paid in two halves) does not settle the item: the caller
    decides whether to split it. Returns the unsettled items in input order and the matches
    in payment order.
    """
    if _int(tolerance_days, "tolerance_days") < 0 or _int(tolerance_bps, "tolerance_bps") < 0:
        raise ValueError("tolerances must not be negative")
    items = list(scheduled)
    open_by_key: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        if item.amount > 0:
            open_by_key.setdefault(item.key, []).append(index)
    payments = sorted(
        (p for p in actual_payments if p.amount > 0),
        key=lambda p: (p.occurred_on, -p.amount, p.source),
    )
    settled: set[int] = set()
    matches: list[Match] = []
    for payment in payments:
        best: tuple[int, int, date, int] | None = None
        for index in open_by_key.get(payment.source, ()):
            if index in settled:
                continue
            item = items[index]
            days = abs((payment.occurred_on - item.due_on).days)
            diff = abs(payment.amount - item.amount)
            if days <= tolerance_days and diff * 10_000 <= tolerance_bps * item.amount:
                rank = (days, diff, item.due_on, index)
                if best is None or rank < best:
                    best = rank
        if best is not None:
            settled.add(best[3])
            matches.append(Match(items[best[3]], payment))
    remaining = [item for index, item in enumerate(items) if index not in settled]
    return remaining, matches


# --------------------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class ForecastModel:
    """The knobs of the fit, with the defaults the module docstring describes."""

    micro_lookback_weeks: int = 26
    micro_half_life_weeks: float | None = 13.0
    project_lookback_days: int = 365
    recurring_grace_days: int = 14

    def __post_init__(self) -> None:
        if self.micro_lookback_weeks < 1 or self.project_lookback_days < 1:
            raise ValueError("lookbacks must be at least 1")
        if self.micro_half_life_weeks is not None and self.micro_half_life_weeks <= 0:
            raise ValueError("micro_half_life_weeks must be positive (or None for equal weights)")
        if self.recurring_grace_days < 0:
            raise ValueError("recurring_grace_days must not be negative")


Cadence = Literal["weekly", "biweekly", "monthly"]
_CADENCE_DAYS: dict[str, int] = {"weekly": 7, "biweekly": 14, "monthly": 31}


@dataclass(frozen=True, slots=True)
class ProjectedStream:
    source: str
    cadence: Cadence
    amount: int
    last_paid_on: date
    projected_on: tuple[date, ...]  # payment dates inside the horizon


@dataclass(frozen=True, eq=False)
class FittedModel:
    """What ``fit`` learned from the history; ``simulate`` draws paths from it."""

    start: date
    horizon: int
    known_daily: IntArray  # scheduled items + projected recurring streams, per day
    scheduled_daily: IntArray
    projected: tuple[ProjectedStream, ...]
    micro_weeks: IntArray  # (weeks, 7) daily micro income of past weeks, aligned to start
    micro_weights: npt.NDArray[np.float64]
    project_sizes: IntArray
    project_exposure_days: int
    simulated_sources: tuple[str, ...]  # sources whose history feeds steps 3-4
    excluded_sources: tuple[str, ...] = field(default=())


_WEEKLY_WINDOW_DAYS = 28


def _cadence(days: Sequence[date]) -> Cadence:
    recent = sorted(set(days))[-6:]
    if len(recent) < 2:
        return "monthly"
    gaps = sorted((b - a).days for a, b in itertools.pairwise(recent))
    mid = len(gaps) // 2
    gap2 = 2 * gaps[mid] if len(gaps) % 2 else gaps[mid - 1] + gaps[mid]  # twice the median
    if gap2 <= 20:
        return "weekly"
    if gap2 <= 42:
        return "biweekly"
    return "monthly"


def _project_stream(
    source: str, payments: list[IncomeFact], start: date, horizon: int, grace_days: int
) -> ProjectedStream | None:
    positive = sorted((p for p in payments if p.amount > 0), key=lambda p: p.occurred_on)
    if not positive:
        return None
    last = positive[-1].occurred_on
    cadence = _cadence([p.occurred_on for p in positive])
    if (start - last).days > _CADENCE_DAYS[cadence] + grace_days:
        return None  # stopped
    amount = median_month([p.amount for p in positive[-3:]])
    if cadence == "weekly":
        # Frequent payments are often many payers (a membership site charging dozens of
        # members on different days): project the weekly total of the last four weeks,
        # not the size of one payment.
        window = [p for p in positive if (start - p.occurred_on).days <= _WEEKLY_WINDOW_DAYS]
        span = max(7, (start - min(p.occurred_on for p in window)).days) if window else 7
        amount = sum(p.amount for p in window) * 7 // span
    end = start + timedelta(days=horizon)
    dates: list[date] = []
    step = 1
    while True:
        if cadence == "monthly":
            when = add_months(last, step, day_of_month=last.day)
        else:
            when = last + timedelta(days=_CADENCE_DAYS[cadence] * step)
        if when >= end:
            break
        if when >= start:
            dates.append(when)
        step += 1
    return ProjectedStream(source, cadence, amount, last, tuple(dates))


def fit(
    history: Iterable[IncomeFact],
    *,
    start: date,
    horizon: int = 90,
    scheduled: Iterable[ScheduledItem] = (),
    scheduled_sources: Iterable[str] = (),
    model: ForecastModel | None = None,
) -> FittedModel:
    """Fit the forecast model to the history before ``start`` (later items are ignored)."""
    model = model or ForecastModel()
    if _int(horizon, "horizon") < 1:
        raise ValueError("horizon must be at least 1 day")
    items = list(scheduled)
    excluded = {item.key for item in items} | set(scheduled_sources)
    past = [fact for fact in history if fact.occurred_on < start]

    scheduled_daily = np.zeros(horizon, dtype=np.int64)
    for item in items:
        offset = max((item.due_on - start).days, 0)
        if offset < horizon:
            scheduled_daily[offset] += item.amount

    simulated = [fact for fact in past if fact.source not in excluded]
    recurring: dict[str, list[IncomeFact]] = {}
    for fact in simulated:
        if fact.stream_kind == "recurring":
            recurring.setdefault(fact.source, []).append(fact)
    projected: list[ProjectedStream] = []
    known_daily = scheduled_daily.copy()
    for source in sorted(recurring):
        stream = _project_stream(
            source, recurring[source], start, horizon, model.recurring_grace_days
        )
        if stream is not None:
            projected.append(stream)
            for when in stream.projected_on:
                known_daily[(when - start).days] += stream.amount

    # Micro: 7-day blocks ending the day before start, block k = [start-7(k+1), start-7k).
    micro = [fact for fact in simulated if fact.stream_kind == "micro"]
    sources: set[str] = set()
    weeks = np.zeros((0, 7), dtype=np.int64)
    weights = np.zeros(0, dtype=np.float64)
    if micro:
        first = min(fact.occurred_on for fact in micro)
        n_weeks = min(model.micro_lookback_weeks, ((start - first).days + 6) // 7)
        weeks = np.zeros((n_weeks, 7), dtype=np.int64)
        for fact in micro:
            back = (start - fact.occurred_on).days - 1  # 0 = the day before start
            k = back // 7
            if k < n_weeks:
                weeks[k, 6 - back % 7] += fact.amount
                sources.add(fact.source)
        ages = np.arange(n_weeks, dtype=np.float64)
        if model.micro_half_life_weeks is None:
            weights = np.ones(n_weeks)
        else:
            weights = np.power(0.5, ages / model.micro_half_life_weeks)
        weights = weights / weights.sum()

    earliest = min((fact.occurred_on for fact in past), default=start)
    exposure = max(min(model.project_lookback_days, (start - earliest).days), 1)
    since = start - timedelta(days=exposure)
    project = [f for f in simulated if f.stream_kind == "project" and f.occurred_on >= since]
    sizes = np.array([fact.amount for fact in project], dtype=np.int64)
    sources.update(fact.source for fact in project)
    return FittedModel(
        start=start,
        horizon=horizon,
        known_daily=known_daily,
        scheduled_daily=scheduled_daily,
        projected=tuple(projected),
        micro_weeks=weeks,
        micro_weights=weights,
        project_sizes=sizes,
        project_exposure_days=exposure,
        simulated_sources=tuple(sorted(sources)),
        excluded_sources=tuple(sorted(excluded)),
    )


def simulate(fitted: FittedModel, paths: int, rng: np.random.Generator) -> IntArray:
    """Daily income, ``paths`` x ``horizon`` int64 minor units, drawn from ``fitted``."""
    if _int(paths, "paths") < 1:
        raise ValueError("paths must be at least 1")
    horizon = fitted.horizon
    daily = np.broadcast_to(fitted.known_daily, (paths, horizon)).copy()

    if len(fitted.micro_weeks):
        n_future = -(-horizon // 7)
        picks = rng.choice(len(fitted.micro_weeks), size=(paths, n_future), p=fitted.micro_weights)
        daily += fitted.micro_weeks[picks].reshape(paths, n_future * 7)[:, :horizon]

    n = len(fitted.project_sizes)
    if n:
        rates = rng.gamma(n + 0.5, 1.0 / fitted.project_exposure_days, size=paths)
        counts = rng.poisson(rates[:, None], size=(paths, horizon)).ravel()
        draws = fitted.project_sizes[rng.integers(0, n, size=int(counts.sum()))]
        running = np.concatenate(([0], np.cumsum(draws, dtype=np.int64)))
        ends = np.cumsum(counts)
        daily += (running[ends] - running[ends - counts]).reshape(paths, horizon)
    return daily


# --------------------------------------------------------------------------- forecast


@dataclass(frozen=True, slots=True)
class ForecastWindow:
    first_day: date
    last_day: date
    expenses: int  # essential expenses of these days
    income_p10: int
    income_p50: int
    income_p90: int
    # Share of paths whose income over the window is below its expenses; None when
    # essential expenses are not set.
    shortfall_probability: float | None


@dataclass(frozen=True, slots=True)
class Forecast:
    start: date
    horizon: int
    paths: int
    seed: int
    days: tuple[date, ...]
    scheduled_income: tuple[int, ...]  # per day: the open scheduled items counted that day
    projected_recurring: tuple[int, ...]  # per day: history-only recurring streams
    income_p10: tuple[int, ...]  # cumulative income up to and including each day
    income_p50: tuple[int, ...]
    income_p90: tuple[int, ...]
    expenses: tuple[int, ...]  # cumulative essential expenses
    balance_p10: tuple[int, ...]
    balance_p50: tuple[int, ...]
    balance_p90: tuple[int, ...]
    lowest_balance: int  # the lowest per-day median balance
    lowest_balance_on: date
    windows: tuple[ForecastWindow, ...]
    projected_streams: tuple[ProjectedStream, ...]
    simulated_sources: tuple[str, ...]
    # Median income over the horizon scaled to an average month (x 365 / 12 / horizon,
    # rounded down): what ``smoothing.recommend_salary`` takes as the forecast median.
    monthly_median_income: int

    @property
    def shortfall_probabilities(self) -> tuple[float | None, ...]:
        return tuple(window.shortfall_probability for window in self.windows)


def _percentile_rows(sorted_values: IntArray, bps: int) -> IntArray:
    """Row of the inverted-CDF percentile of each column of an axis-0-sorted array."""
    n = sorted_values.shape[0]
    index = (bps * n + 9_999) // 10_000 - 1  # ceil(p * n) - 1
    return np.asarray(sorted_values[max(index, 0)], dtype=np.int64)


def _cumulative_expenses(monthly: int, horizon: int) -> IntArray:
    days = np.arange(1, horizon + 1, dtype=np.int64)
    return (monthly * 12 * days) // 365


def _ints(values: IntArray) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def forecast(
    history: Iterable[IncomeFact],
    *,
    start: date,
    scheduled: Iterable[ScheduledItem] = (),
    scheduled_sources: Iterable[str] = (),
    starting_balance: int = 0,
    essential_expenses_monthly: int = 0,
    horizon: int = 90,
    paths: int = 4000,
    seed: int = 0,
    model: ForecastModel | None = None,
) -> Forecast:
    """What the next ``horizon`` days are likely to bring, as a band: in eight simulated
    futures out of ten your income so far on a given day lands between the low and the high
    line, and in half of them above the middle line. Known payments (memberships,
    milestones, invoices) are counted on their due dates; the rest comes from how your own
    gigs and projects paid in the past.

    ``scheduled`` must be the open items only (see ``consume_scheduled``). Each
    percentile is taken separately per day, so the p10 line is not one path.
    """
    starting = _int(starting_balance, "starting_balance")
    essential = _int(essential_expenses_monthly, "essential_expenses_monthly")
    if essential < 0:
        raise ValueError("essential_expenses_monthly must not be negative")
    fitted = fit(
        history,
        start=start,
        horizon=horizon,
        scheduled=scheduled,
        scheduled_sources=scheduled_sources,
        model=model,
    )
    rng = np.random.default_rng(_int(seed, "seed"))
    daily = simulate(fitted, paths, rng)
    return _summarise(fitted, daily, starting, essential, paths, int(seed))


def _summarise(
    fitted: FittedModel, daily: IntArray, starting: int, essential: int, paths: int, seed: int
) -> Forecast:
    horizon = fitted.horizon
    cumulative = np.cumsum(daily, axis=1)
    ordered = np.sort(cumulative, axis=0)
    p10, p50, p90 = (_percentile_rows(ordered, bps) for bps in PERCENTILES_BPS)
    expenses = _cumulative_expenses(essential, horizon)
    balance50 = starting + p50 - expenses
    lowest = int(np.argmin(balance50))

    windows: list[ForecastWindow] = []
    for w in range(horizon // WINDOW_DAYS):
        first, last = w * WINDOW_DAYS, (w + 1) * WINDOW_DAYS - 1
        income = cumulative[:, last] - (cumulative[:, first - 1] if first else 0)
        spent = int(expenses[last] - (expenses[first - 1] if first else 0))
        q10, q50, q90 = (_percentile_rows(np.sort(income), bps) for bps in PERCENTILES_BPS)
        windows.append(
            ForecastWindow(
                first_day=fitted.start + timedelta(days=first),
                last_day=fitted.start + timedelta(days=last),
                expenses=spent,
                income_p10=int(q10),
                income_p50=int(q50),
                income_p90=int(q90),
                shortfall_probability=float(np.mean(income < spent)) if essential > 0 else None,
            )
        )
    return Forecast(
        start=fitted.start,
        horizon=horizon,
        paths=paths,
        seed=seed,
        days=tuple(fitted.start + timedelta(days=d) for d in range(horizon)),
        scheduled_income=_ints(fitted.scheduled_daily),
        projected_recurring=_ints(fitted.known_daily - fitted.scheduled_daily),
        income_p10=_ints(p10),
        income_p50=_ints(p50),
        income_p90=_ints(p90),
        expenses=_ints(expenses),
        balance_p10=_ints(starting + p10 - expenses),
        balance_p50=_ints(balance50),
        balance_p90=_ints(starting + p90 - expenses),
        lowest_balance=int(balance50[lowest]),
        lowest_balance_on=fitted.start + timedelta(days=lowest),
        windows=tuple(windows),
        projected_streams=fitted.projected,
        simulated_sources=fitted.simulated_sources,
        monthly_median_income=int(p50[-1]) * 365 // (12 * horizon),
    )


# --------------------------------------------------------------------------- backtest


@dataclass(frozen=True, slots=True)
class BacktestCutoff:
    cutoff: date
    actual_total: int  # what actually came in over the horizon
    p10_total: int
    p50_total: int
    p90_total: int
    days_inside: int  # days whose actual cumulative income was within p10-p90
    days_below: int
    days_above: int
    windows_inside: int  # 30-day windows whose actual income was within p10-p90
    windows: int


@dataclass(frozen=True, slots=True)
class BacktestReport:
    horizon: int
    paths: int
    seed: int
    cutoffs: tuple[BacktestCutoff, ...]
    day_coverage: float  # share of (cutoff, day) pairs inside the 80% band; target ~0.8
    window_coverage: float | None  # share of (cutoff, 30-day window) pairs inside
    below_share: float  # share of days below p10 (forecast too optimistic)
    above_share: float  # share of days above p90 (forecast too pessimistic)


def backtest(
    history_facts: Iterable[IncomeFact],
    cutoffs: Sequence[date],
    horizon: int = 90,
    seed: int = 0,
    *,
    paths: int = 2000,
    model: ForecastModel | None = None,
    data_end: date | None = None,
) -> BacktestReport:
    """Check the forecast against what really happened.

    For each cutoff, forecast from the facts dated before it (no scheduled items: recurring
    streams are projected from history) and compare the actual cumulative income of each
    of the following ``horizon`` days with the forecast's p10-p90 band (inclusive). A well
    calibrated forecast has about 80% of days, and of 30-day windows, inside the band.
    Days are strongly correlated within one cutoff, so use many cutoffs (e.g. monthly over a
    year or more). ``data_end`` is the last day the history is complete (default: the date
    of the last fact); a cutoff whose horizon runs past it is refused. Each cutoff draws
    from its own generator seeded with (seed, cutoff ordinal), so results do not depend on
    the order of the cutoffs.
    """
    facts = sorted(history_facts, key=lambda fact: fact.occurred_on)
    if not cutoffs:
        raise ValueError("cutoffs must not be empty")
    if not facts:
        raise ValueError("history_facts must not be empty")
    end = data_end or facts[-1].occurred_on
    rows: list[BacktestCutoff] = []
    totals = {"inside": 0, "below": 0, "above": 0, "days": 0, "w_inside": 0, "windows": 0}
    for cutoff in cutoffs:
        if cutoff + timedelta(days=horizon - 1) > end:
            raise ValueError(
                f"cutoff {cutoff.isoformat()}: its {horizon}-day horizon runs past the end of "
                f"the data ({end.isoformat()})"
            )
        fitted = fit(facts, start=cutoff, horizon=horizon, model=model)
        rng = np.random.default_rng([int(seed), cutoff.toordinal()])
        daily = simulate(fitted, paths, rng)
        cumulative = np.cumsum(daily, axis=1)
        ordered = np.sort(cumulative, axis=0)
        p10, p50, p90 = (_percentile_rows(ordered, bps) for bps in PERCENTILES_BPS)

        actual_daily = np.zeros(horizon, dtype=np.int64)
        for fact in facts:
            offset = (fact.occurred_on - cutoff).days
            if 0 <= offset < horizon:
                actual_daily[offset] += fact.amount
        actual = np.cumsum(actual_daily)
        below = int(np.sum(actual < p10))
        above = int(np.sum(actual > p90))
        inside = horizon - below - above

        w_inside = 0
        n_windows = horizon // WINDOW_DAYS
        for w in range(n_windows):
            first, last = w * WINDOW_DAYS, (w + 1) * WINDOW_DAYS - 1
            sim = np.sort(cumulative[:, last] - (cumulative[:, first - 1] if first else 0))
            real = int(actual[last] - (actual[first - 1] if first else 0))
            if _percentile_rows(sim, 1000) <= real <= _percentile_rows(sim, 9000):
                w_inside += 1
        rows.append(
            BacktestCutoff(
                cutoff=cutoff,
                actual_total=int(actual[-1]),
                p10_total=int(p10[-1]),
                p50_total=int(p50[-1]),
                p90_total=int(p90[-1]),
                days_inside=inside,
                days_below=below,
                days_above=above,
                windows_inside=w_inside,
                windows=n_windows,
            )
        )
        totals["inside"] += inside
        totals["below"] += below
        totals["above"] += above
        totals["days"] += horizon
        totals["w_inside"] += w_inside
        totals["windows"] += n_windows
    return BacktestReport(
        horizon=horizon,
        paths=paths,
        seed=int(seed),
        cutoffs=tuple(rows),
        day_coverage=totals["inside"] / totals["days"],
        window_coverage=totals["w_inside"] / totals["windows"] if totals["windows"] else None,
        below_share=totals["below"] / totals["days"],
        above_share=totals["above"] / totals["days"],
    )
