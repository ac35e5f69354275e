"""Income analytics: how much you earned, from where, and how steady it is.

Pure functions over monthly series of net income in the minor units of ONE currency (the
caller converts every item to the worker's home currency at the rate of its own date before
calling). Amounts returned are ``int``; ratios are ``float`` (or ``None`` where the ratio has
no meaning, e.g. a share of nothing). A month missing from a series is a month with no
income, but only within a range given explicitly: functions that need a range take one.

The first paragraph of each metric's docstring is the plain-language explanation shown to
the worker next to the figure; ``EXPLANATIONS`` collects them by metric name. The paragraphs
after it are for developers.

Definitions follow the JPMorgan Chase Institute's work on income volatility: the
coefficient of variation of monthly take-home income, and a spike or dip as a month more
than 25% above or below the median month.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Literal

from keel.income.rules.dates import Month, month_of, month_span, shift_month

__all__ = [
    "DEAD_BAND_BPS",
    "EXPLANATIONS",
    "SPIKE_DIP_THRESHOLD_BPS",
    "STREAM_KINDS",
    "Concentration",
    "IncomeFact",
    "Month",
    "MonthFlag",
    "MonthlySeries",
    "StabilitySummary",
    "Trend",
    "baseline_coverage",
    "coefficient_of_variation",
    "income_by_month",
    "income_by_source",
    "income_by_stream_kind",
    "median_month",
    "month_range",
    "runway_months",
    "savings_rate",
    "source_concentration",
    "spikes_and_dips",
    "stability_summary",
    "trend",
]

MonthlySeries = dict[Month, int]
StreamKind = Literal["recurring", "project", "micro"]
STREAM_KINDS: tuple[str, ...] = ("recurring", "project", "micro")

SPIKE_DIP_THRESHOLD_BPS = 2500
# A trend is "flat" while the fitted line moves by less than 10% of an average month over
# the whole window; see ``trend``.
DEAD_BAND_BPS = 1000


# --------------------------------------------------------------------------- guards


def _int(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{field} must be an int of minor units, not {type(value).__name__}")
    return int(value)


def _div_half_even(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to the nearest int, ties to even (denominator != 0)."""
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    quotient, remainder = divmod(numerator, denominator)  # floor division: 0 <= rem < den
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2):
        quotient += 1
    return quotient


def _valid_month(month: object, field: str) -> Month:
    if (
        not isinstance(month, tuple)
        or len(month) != 2
        or not all(isinstance(x, int) and not isinstance(x, bool) for x in month)
        or not 1 <= month[1] <= 12
    ):
        raise ValueError(f"{field} must be a (year, month) pair with month 1-12, not {month!r}")
    return (int(month[0]), int(month[1]))


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class IncomeFact:
    """One income item as analytics and the forecast see it.

    ``amount`` is net income (after platform fees) in the minor units of the worker's home
    currency; a refund or reversal is a negative fact. ``source`` identifies where the money
    came from (a platform, a client, a stream: the caller chooses, but the forecast matches
    ``ScheduledItem.key`` against it, so both must use the same identifiers).
    """

    occurred_on: date
    source: str
    stream_kind: str
    amount: int

    def __post_init__(self) -> None:
        if not isinstance(self.occurred_on, date):
            raise TypeError(f"occurred_on must be a date, not {type(self.occurred_on).__name__}")
        object.__setattr__(self, "amount", _int(self.amount, "amount"))
        if self.stream_kind not in STREAM_KINDS:
            raise ValueError(
                f"stream_kind must be one of {', '.join(STREAM_KINDS)}, not {self.stream_kind!r}"
            )
        if not isinstance(self.source, str) or not self.source:
            raise ValueError("source must be a non-empty string")


def month_range(start: Month, end: Month) -> list[Month]:
    """Every month from ``start`` to ``end``, both included, in order.

    Raises ``ValueError`` when ``end`` is before ``start``: an empty window is almost always
    a caller's mistake, and every metric below needs at least one month.
    """
    start = _valid_month(start, "start")
    end = _valid_month(end, "end")
    span = month_span(start, end)
    if span < 0:
        raise ValueError(f"end {end} is before start {start}")
    return [shift_month(start, i) for i in range(span + 1)]


def _window(months: Iterable[Month]) -> list[Month]:
    window = [_valid_month(m, "months") for m in months]
    if len(set(window)) != len(window):
        raise ValueError("months must not repeat")
    return window


def income_by_month(items: Iterable[IncomeFact], months: Iterable[Month]) -> dict[Month, int]:
    """Your net income in each month: what reached you after platform fees, minus refunds.

    Every month of ``months`` is in the result, 0 when nothing came in; items dated outside
    those months are left out.
    """
    window = _window(months)
    totals = dict.fromkeys(window, 0)
    for item in items:
        key = month_of(item.occurred_on)
        if key in totals:
            totals[key] += item.amount
    return totals


def _grouped(
    items: Iterable[IncomeFact],
    months: Iterable[Month],
    key: Callable[[IncomeFact], str],
    groups: Iterable[str] = (),
) -> dict[str, dict[Month, int]]:
    window = _window(months)
    inside = set(window)
    result = {group: dict.fromkeys(window, 0) for group in groups}
    for item in items:
        month = month_of(item.occurred_on)
        if month not in inside:
            continue
        group = key(item)
        series = result.get(group)
        if series is None:
            series = result[group] = dict.fromkeys(window, 0)
        series[month] += item.amount
    return result


def income_by_stream_kind(
    items: Iterable[IncomeFact], months: Iterable[Month]
) -> dict[str, dict[Month, int]]:
    """Your income each month split into recurring (memberships, retainers), project (fees,
    milestones) and micro (platform gigs and tasks) income.

    All three kinds are always present, in that order, each with every month of ``months``.
    """
    return _grouped(items, months, lambda item: item.stream_kind, STREAM_KINDS)


def income_by_source(
    items: Iterable[IncomeFact], months: Iterable[Month]
) -> dict[str, dict[Month, int]]:
    """Your income each month from each platform or client.

    Only sources with at least one item inside ``months`` appear, sorted by name; each has
    every month of ``months``.
    """
    grouped = _grouped(items, months, lambda item: item.source)
    return dict(sorted(grouped.items()))


# --------------------------------------------------------------------------- volatility


def coefficient_of_variation(values: Sequence[int]) -> float | None:
    """How much your income swings from month to month: the typical distance of a month
    from your average month, as a share of that average. 0.1 is steady; 0.5 or more means
    months often land at half or one and a half times your average.

    Population standard deviation divided by the mean, the measure the JPMorgan Chase
    Institute uses for monthly take-home income. ``None`` with fewer than two months or when
    the mean is zero or negative (there is no meaningful "share of the average" then).
    Computed as sqrt(n * sum(x^2) - (sum x)^2) / sum(x): integers until the last step.
    """
    xs = [_int(v, "values") for v in values]
    n = len(xs)
    total = sum(xs)
    if n < 2 or total <= 0:
        return None
    spread = n * sum(x * x for x in xs) - total * total  # n^2 * variance, exact, >= 0
    return math.sqrt(spread) / total


def _median_x2(values: Sequence[int]) -> int:
    """Twice the median, exactly: the middle value (odd count) or the sum of the two middle
    values (even count). Doubling keeps the even-count median an integer."""
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return 2 * ordered[mid] if n % 2 else ordered[mid - 1] + ordered[mid]


def median_month(values: Sequence[int]) -> int:
    """Your middle month: half your months earned more, half earned less.

    With an even number of months it is the average of the two middle months; that can
    fall on half a minor unit, which is rounded half to even for display (comparisons with
    the median, as in ``spikes_and_dips``, use the exact value). ``ValueError`` when empty.
    """
    xs = [_int(v, "values") for v in values]
    if not xs:
        raise ValueError("values must not be empty")
    return _div_half_even(_median_x2(xs), 2)


@dataclass(frozen=True, slots=True)
class MonthFlag:
    month: Month
    amount: int
    kind: Literal["spike", "dip"]
    # (amount - median) / median in basis points, rounded half to even: +3000 is 30% above.
    deviation_bps: int
    median: int  # the median month, rounded half to even (see ``median_month``)


def spikes_and_dips(
    series: Mapping[Month, int], threshold_bps: int = SPIKE_DIP_THRESHOLD_BPS
) -> list[MonthFlag]:
    """Months that stood out: a spike is a month more than 25% above your middle (median)
    month, a dip a month more than 25% below it.

    The median of an even number of months is the average of the two middle ones. The test
    is strict and exact: spike when 2 * amount * 10000 > 2 * median * (10000 + threshold),
    dip when 2 * amount * 10000 < 2 * median * (10000 - threshold), in integers. When the
    median month is zero or negative a percentage of it means nothing, and no month is
    flagged. Flags come in month order. Pass every month of the window, zeros included.
    """
    threshold = _int(threshold_bps, "threshold_bps")
    if not 0 <= threshold <= 10_000:
        raise ValueError(f"threshold_bps must be between 0 and 10000, not {threshold}")
    items = sorted((_valid_month(m, "series"), _int(v, "series")) for m, v in series.items())
    if not items:
        return []
    m2 = _median_x2([v for _, v in items])
    if m2 <= 0:
        return []
    median = _div_half_even(m2, 2)
    flags: list[MonthFlag] = []
    for month, amount in items:
        scaled = 2 * amount * 10_000
        kind: Literal["spike", "dip"] | None = None
        if scaled > m2 * (10_000 + threshold):
            kind = "spike"
        elif scaled < m2 * (10_000 - threshold):
            kind = "dip"
        if kind is not None:
            deviation = _div_half_even((2 * amount - m2) * 10_000, m2)
            flags.append(MonthFlag(month, amount, kind, deviation, median))
    return flags


# --------------------------------------------------------------------------- concentration


@dataclass(frozen=True, slots=True)
class Concentration:
    largest_source: str
    largest_share: float  # of positive income, 0 < share <= 1
    hhi: float  # Herfindahl-Hirschman index over shares, 1/n <= hhi <= 1
    effective_sources: float  # 1 / hhi, 1 <= effective <= n
    sources: int  # n: how many sources brought positive income


def source_concentration(by_source: Mapping[str, int]) -> Concentration | None:
    """How much you depend on one client or platform: your largest source's share of your
    income, and your "effective number of sources". Five sources where one brings almost
    everything count as little more than one; five equal sources count as five.

    Shares are each source's net income over the total of sources with positive income (a
    source whose refunds exceed its income is left out: it is not a source you depend on).
    The Herfindahl-Hirschman index is the sum of squared shares, computed exactly as
    sum(a^2) / (sum a)^2 with fractions; the effective number of sources is 1 / HHI. Ties
    for the largest source go to the name that sorts first. ``None`` when no source has
    positive income.
    """
    positive = sorted(
        (name, amount) for name, amount in by_source.items() if _int(amount, name) > 0
    )
    if not positive:
        return None
    total = sum(amount for _, amount in positive)
    squares = sum(amount * amount for _, amount in positive)
    largest_name, largest = min(positive, key=lambda pair: (-pair[1], pair[0]))
    return Concentration(
        largest_source=largest_name,
        largest_share=float(Fraction(largest, total)),
        hhi=float(Fraction(squares, total * total)),
        effective_sources=float(Fraction(total * total, squares)),
        sources=len(positive),
    )


# --------------------------------------------------------------------------- coverage


def baseline_coverage(recurring_monthly: int, essential_expenses_monthly: int) -> float | None:
    """How much of your essential monthly costs your recurring income (memberships,
    retainers, subscriptions, and work a platform has committed to give you) pays on its
    own. 1.0 means the basics are covered before any project or gig comes in.

    recurring ÷ essential expenses; ``None`` when essential expenses are not set (zero or
    less). Negative recurring income (net refunds) gives a negative coverage, shown as is.
    """
    recurring = _int(recurring_monthly, "recurring_monthly")
    essential = _int(essential_expenses_monthly, "essential_expenses_monthly")
    if essential <= 0:
        return None
    return recurring / essential


def runway_months(cash_and_buffer: int, essential_expenses_monthly: int) -> float | None:
    """How many months your cash and buffer would pay your essential costs if no income came
    in at all.

    (cash + buffer) ÷ essential monthly expenses, 0.0 when the cash is zero or overdrawn,
    ``None`` when essential expenses are not set.
    """
    cash = _int(cash_and_buffer, "cash_and_buffer")
    essential = _int(essential_expenses_monthly, "essential_expenses_monthly")
    if essential <= 0:
        return None
    return max(cash, 0) / essential


def savings_rate(income: int, spending: int) -> float | None:
    """The share of your income you kept: what was left after spending, divided by what came
    in. Negative when you spent more than you earned.

    (income - spending) ÷ income over the same period; ``None`` when income is zero or less.
    """
    earned = _int(income, "income")
    spent = _int(spending, "spending")
    if earned <= 0:
        return None
    return (earned - spent) / earned


# --------------------------------------------------------------------------- trend


@dataclass(frozen=True, slots=True)
class Trend:
    months: int
    # Least-squares slope in minor units per month, rounded half to even.
    slope_per_month: int
    # The fitted line's change over the window as a share of the average month
    # (slope * (months - 1) / mean), exact until converted; None when mean <= 0 or < 2 months.
    relative_change: float | None
    direction: Literal["rising", "falling", "flat"]


def trend(series: Mapping[Month, int], months: Iterable[Month] | None = None) -> Trend:
    """Whether your income is going up or down: the straight line that best fits your
    monthly income, how much it climbs or falls per month, and how much that adds up to over
    the period compared with an average month.

    The line is an ordinary least-squares fit of amount against the month's position
    x = 0 .. n-1. Its slope is computed exactly in integers,
    (n*sum(xy) - sum(x)*sum(y)) / (n*sum(x^2) - sum(x)^2), and rounded half to even to whole
    minor units per month. ``relative_change`` = exact slope * (n - 1) / mean month.
    Dead band: the trend is "flat" unless the fitted line moves by at
    least 10% of an average month over the window (``DEAD_BAND_BPS``), so ordinary noise is
    not called a trend. When the average month is zero or negative the direction follows the
    sign of the slope. Fewer than two months: slope 0, flat.

    Months are ``months`` when given (missing ones count as 0), else every month from the
    earliest to the latest key of ``series`` (gaps count as 0).
    """
    if months is None:
        keys = sorted(_valid_month(m, "series") for m in series)
        window = month_range(keys[0], keys[-1]) if keys else []
    else:
        window = _window(months)
    ys = [_int(series.get(m, 0), "series") for m in window]
    n = len(ys)
    if n < 2:
        return Trend(n, 0, None, "flat")
    sx = n * (n - 1) // 2
    sxx = (n - 1) * n * (2 * n - 1) // 6
    sy = sum(ys)
    sxy = sum(i * y for i, y in enumerate(ys))
    numerator = n * sxy - sx * sy
    denominator = n * sxx - sx * sx  # > 0 for n >= 2
    slope = _div_half_even(numerator, denominator)
    relative: Fraction | None = None
    if sy > 0:
        relative = Fraction(numerator * (n - 1) * n, denominator * sy)
    direction: Literal["rising", "falling", "flat"]
    if relative is None:
        direction = "rising" if numerator > 0 else "falling" if numerator < 0 else "flat"
    elif relative >= Fraction(DEAD_BAND_BPS, 10_000):
        direction = "rising"
    elif relative <= -Fraction(DEAD_BAND_BPS, 10_000):
        direction = "falling"
    else:
        direction = "flat"
    return Trend(n, slope, None if relative is None else float(relative), direction)


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True, slots=True)
class StabilitySummary:
    months: tuple[Month, ...]
    total_income: int
    monthly: dict[Month, int]
    by_stream_kind: dict[str, dict[Month, int]]
    by_source_total: dict[str, int]
    average_month: int  # mean month, rounded half to even
    median_month: int
    coefficient_of_variation: float | None
    flags: tuple[MonthFlag, ...]
    concentration: Concentration | None
    recurring_baseline_monthly: int
    baseline_coverage: float | None
    runway_months: float | None
    savings_rate: float | None
    trend: Trend
    # Recurring income committed for the months ahead (e.g. an accepted micro-contract
    # bundle), per month; counted with the recurring baseline in ``baseline_coverage``.
    committed_monthly: int = 0


def stability_summary(
    items: Iterable[IncomeFact],
    months: Iterable[Month],
    *,
    essential_expenses_monthly: int = 0,
    cash_and_buffer: int = 0,
    spending: int | None = None,
    baseline_months: int = 3,
    threshold_bps: int = SPIKE_DIP_THRESHOLD_BPS,
    committed_monthly: int = 0,
) -> StabilitySummary:
    """Everything on the stability panel at once, for the months of the window.

    ``recurring_baseline_monthly`` is the average recurring income of the last
    ``baseline_months`` months of the window (rounded half to even): memberships and
    retainers that stopped a year ago should not count as today's baseline. ``spending`` is
    the total spent over the same window, for the savings rate (``None``: not shown).
    ``committed_monthly`` is recurring income someone has committed to pay in the months
    ahead but that is not in the history yet (see ``keel.income.commitments``): the baseline
    coverage counts it with the recurring baseline, (baseline + committed) / essential.
    """
    committed = _int(committed_monthly, "committed_monthly")
    if committed < 0:
        raise ValueError("committed_monthly must not be negative")
    facts = list(items)
    window = _window(months)
    if not window:
        raise ValueError("months must not be empty")
    if baseline_months < 1:
        raise ValueError("baseline_months must be at least 1")
    monthly = income_by_month(facts, window)
    by_kind = income_by_stream_kind(facts, window)
    by_source = {name: sum(s.values()) for name, s in income_by_source(facts, window).items()}
    values = list(monthly.values())
    total = sum(values)
    recent = sorted(window)[-baseline_months:]
    recurring_baseline = _div_half_even(sum(by_kind["recurring"][m] for m in recent), len(recent))
    return StabilitySummary(
        months=tuple(window),
        total_income=total,
        monthly=monthly,
        by_stream_kind=by_kind,
        by_source_total=by_source,
        average_month=_div_half_even(total, len(values)),
        median_month=median_month(values),
        coefficient_of_variation=coefficient_of_variation(values),
        flags=tuple(spikes_and_dips(monthly, threshold_bps)),
        concentration=source_concentration(by_source),
        recurring_baseline_monthly=recurring_baseline,
        baseline_coverage=baseline_coverage(
            recurring_baseline + committed, essential_expenses_monthly
        ),
        runway_months=runway_months(cash_and_buffer, essential_expenses_monthly),
        savings_rate=None if spending is None else savings_rate(total, spending),
        trend=trend(monthly, window),
        committed_monthly=committed,
    )


def _explanation(function: Callable[..., object]) -> str:
    doc = inspect.getdoc(function) or ""
    return " ".join(doc.split("\n\n")[0].split())


# Plain-language explanations shown next to each metric, taken from the first paragraph of
# the function's docstring so the code and the page cannot drift apart.
_METRICS: dict[str, Callable[..., object]] = {
    "income_by_month": income_by_month,
    "income_by_stream_kind": income_by_stream_kind,
    "income_by_source": income_by_source,
    "median_month": median_month,
    "coefficient_of_variation": coefficient_of_variation,
    "spikes_and_dips": spikes_and_dips,
    "source_concentration": source_concentration,
    "baseline_coverage": baseline_coverage,
    "runway_months": runway_months,
    "savings_rate": savings_rate,
    "trend": trend,
}
EXPLANATIONS: dict[str, str] = {name: _explanation(f) for name, f in _METRICS.items()}
