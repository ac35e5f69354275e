"""Steady micro-contract bundles: a platform commits a minimum volume for a number of weeks.

The commitment is a number of tasks per week at a rate, an earnings guarantee per week, or
both. Weeks run seven days from the bundle's start date (any weekday), so week ``i`` is
``start + 7i`` to ``start + 7i + 6`` inclusive. A week is judged only once it is over:
until then it shows progress, never a shortfall, because the platform can still deliver.

Only the earnings guarantee is owed as money: a week that ends below it is topped up by
the difference. A task shortfall is reported (it is what the worker planned around) but
is not converted to money, because the platform promised volume, not pay, for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from .policy import PolicyError, require_currency, require_date, require_int

__all__ = [
    "WEEK_STATUSES",
    "BundleTerms",
    "WeekDelivery",
    "WeekReport",
    "committed_weekly_income",
    "delivery",
    "end_date",
    "schedule",
    "topup_due",
    "week_bounds",
    "weekly_delivery",
]

WEEK_STATUSES = ("met", "short", "in progress", "upcoming")

# Ten years of weekly commitments; anything longer is a typo, not a contract.
MAX_WEEKS = 520


@dataclass(frozen=True, slots=True)
class BundleTerms:
    currency: str
    weeks: int
    start: date
    min_tasks_per_week: int = 0
    rate_per_task: int = 0
    min_weekly_earnings: int = 0

    def __post_init__(self) -> None:
        require_currency(self.currency)
        require_int(self.weeks, "weeks", minimum=1, maximum=MAX_WEEKS)
        require_date(self.start, "start")
        if (date.max - self.start).days < 7 * self.weeks - 1:
            # Its last day would be past the end of the calendar (a mistyped year).
            raise PolicyError(
                f"start {self.start.isoformat()} leaves no room for {self.weeks} weeks",
                field="start",
                code="out_of_range",
            )
        require_int(self.min_tasks_per_week, "min_tasks_per_week")
        require_int(self.rate_per_task, "rate_per_task")
        require_int(self.min_weekly_earnings, "min_weekly_earnings")
        if not (self.min_tasks_per_week or self.min_weekly_earnings):
            raise PolicyError(
                "a bundle must commit to tasks per week, weekly earnings or both",
                field="min_tasks_per_week",
                code="empty_commitment",
            )


def week_bounds(terms: BundleTerms, index: int) -> tuple[date, date]:
    """First and last day (inclusive) of week ``index`` (0-based) of the bundle."""
    require_int(index, "index", maximum=terms.weeks - 1)
    first = terms.start + timedelta(days=7 * index)
    return first, first + timedelta(days=6)


def end_date(terms: BundleTerms) -> date:
    """The bundle's last day."""
    return week_bounds(terms, terms.weeks - 1)[1]


def committed_weekly_income(terms: BundleTerms) -> int:
    """What the worker can plan on per week: the guarantee, or the committed tasks at the rate."""
    return max(terms.min_weekly_earnings, terms.min_tasks_per_week * terms.rate_per_task)


def schedule(terms: BundleTerms) -> list[tuple[date, int]]:
    """(week's last day, committed income) for every week, for the income forecast."""
    weekly = committed_weekly_income(terms)
    return [(week_bounds(terms, i)[1], weekly) for i in range(terms.weeks)]


@dataclass(frozen=True, slots=True)
class WeekDelivery:
    index: int
    start: date
    end: date
    tasks: int
    earnings: int


@dataclass(frozen=True, slots=True)
class WeekReport:
    """One week against the commitment; shortfalls are None until the week is over."""

    index: int
    start: date
    end: date
    tasks: int
    earnings: int
    committed_tasks: int
    committed_earnings: int
    task_shortfall: int | None
    earnings_shortfall: int | None
    status: str


def weekly_delivery(
    terms: BundleTerms, events: Iterable[tuple[date, int, int]], *, as_of: date | None = None
) -> list[WeekDelivery]:
    """Tasks and earnings per bundle week from (day, tasks, earnings) events.

    An event outside the bundle's weeks is refused, not dropped: it means the caller mixed
    up bundles or dates, and a silently smaller total would hide that. Events after
    ``as_of`` are left out so a report can be rebuilt as it stood on that day.
    """
    if as_of is not None:
        require_date(as_of, "as_of")
    tasks = [0] * terms.weeks
    earnings = [0] * terms.weeks
    last = end_date(terms)
    for i, event in enumerate(events):
        field = f"events.{i}"
        if not isinstance(event, tuple | list) or len(event) != 3:
            raise PolicyError(
                f"{field} must be a (date, tasks, earnings) tuple", field=field, code="invalid_type"
            )
        day = require_date(event[0], f"{field}.date")
        count = require_int(event[1], f"{field}.tasks")
        amount = require_int(event[2], f"{field}.earnings")
        if not terms.start <= day <= last:
            raise PolicyError(
                f"{field}: {day.isoformat()} is outside the bundle "
                f"({terms.start.isoformat()} to {last.isoformat()})",
                field=f"{field}.date",
                code="outside_bundle",
            )
        if as_of is not None and day > as_of:
            continue
        week = (day - terms.start).days // 7
        tasks[week] += count
        earnings[week] += amount
    return [
        WeekDelivery(i, *week_bounds(terms, i), tasks[i], earnings[i]) for i in range(terms.weeks)
    ]


def delivery(
    terms: BundleTerms, events: Iterable[tuple[date, int, int]], as_of: date
) -> list[WeekReport]:
    """Every bundle week judged as of ``as_of`` (the day the report is made).

    A week is over once ``as_of`` is after its last day; the week containing ``as_of`` is
    "in progress" and later weeks are "upcoming", both with no shortfall yet.
    """
    reports = []
    for week in weekly_delivery(terms, events, as_of=as_of):
        task_short: int | None = None
        earnings_short: int | None = None
        if as_of < week.start:
            status = "upcoming"
        elif as_of <= week.end:
            status = "in progress"
        else:
            task_short = max(0, terms.min_tasks_per_week - week.tasks)
            earnings_short = max(0, terms.min_weekly_earnings - week.earnings)
            status = "short" if task_short or earnings_short else "met"
        reports.append(
            WeekReport(
                index=week.index,
                start=week.start,
                end=week.end,
                tasks=week.tasks,
                earnings=week.earnings,
                committed_tasks=terms.min_tasks_per_week,
                committed_earnings=terms.min_weekly_earnings,
                task_shortfall=task_short,
                earnings_shortfall=earnings_short,
                status=status,
            )
        )
    return reports


def topup_due(report: WeekReport) -> int:
    """What the platform owes for a week: its earnings shortfall, 0 while the week runs."""
    return report.earnings_shortfall or 0
