"""Calendar arithmetic the income rules share: months, month ends, US business days.

Named ``dates`` rather than ``calendar`` so it never shadows the standard library module.

US federal legal holidays follow 5 U.S.C. 6103 and Executive Order 11582: a holiday that
falls on a Saturday is observed on the Friday before, one that falls on a Sunday on the
Monday after. The IRS moves a deadline that falls on a Saturday, Sunday or "legal holiday"
to the next business day (26 U.S.C. 7503), and a legal holiday there includes the holidays
of the District of Columbia, so DC Emancipation Day (April 16, observed the same way) is in
the list: it is why the April deadline was April 18 in 2022 and 2023.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
from collections.abc import Iterable
from datetime import date, timedelta

__all__ = [
    "Month",
    "add_months",
    "days_in_month",
    "is_business_day",
    "month_end",
    "month_of",
    "month_span",
    "next_business_day",
    "nth_weekday",
    "observed",
    "shift_month",
    "us_federal_holidays",
]

Month = tuple[int, int]

MONDAY, THURSDAY = 0, 3


def month_of(day: date) -> Month:
    return (day.year, day.month)


def shift_month(month: Month, delta: int) -> Month:
    """The month ``delta`` months after (or before, when negative) ``month``."""
    index = month[0] * 12 + (month[1] - 1) + delta
    return (index // 12, index % 12 + 1)


def month_span(start: Month, end: Month) -> int:
    """How many months from ``start`` to ``end`` (0 when equal, negative when end < start)."""
    return (end[0] * 12 + end[1]) - (start[0] * 12 + start[1])


def days_in_month(year: int, month: int) -> int:
    return _stdlib_calendar.monthrange(year, month)[1]


def month_end(year: int, month: int) -> date:
    return date(year, month, days_in_month(year, month))


def add_months(day: date, months: int, *, day_of_month: int | None = None) -> date:
    """``day`` moved by ``months`` months, on ``day_of_month`` (default: the same day).

    When the target month is shorter, the date is clamped to its last day: Jan 31 + 1
    month is Feb 28 (or 29). Pass the original day as ``day_of_month`` when stepping
    repeatedly so that Mar 31 follows Feb 28 rather than Mar 28.
    """
    year, month = shift_month((day.year, day.month), months)
    wanted = day.day if day_of_month is None else day_of_month
    return date(year, month, min(wanted, days_in_month(year, month)))


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The ``n``-th ``weekday`` (0 = Monday) of the month; ``n = -1`` for the last one."""
    if n == -1:
        last = month_end(year, month)
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def observed(day: date) -> date:
    """The day a fixed-date holiday is observed: Saturday -> Friday, Sunday -> Monday."""
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


def _holidays_of(year: int, *, district_of_columbia: bool) -> dict[date, str]:
    fixed = [
        (date(year, 1, 1), "New Year's Day"),
        (date(year, 7, 4), "Independence Day"),
        (date(year, 11, 11), "Veterans Day"),
        (date(year, 12, 25), "Christmas Day"),
    ]
    if year >= 2021:  # Juneteenth National Independence Day Act, June 17, 2021
        fixed.append((date(year, 6, 19), "Juneteenth National Independence Day"))
    if district_of_columbia and year >= 2005:  # DC legal holiday since 2005
        fixed.append((date(year, 4, 16), "DC Emancipation Day"))
    days = {observed(d): name for d, name in fixed}
    days[nth_weekday(year, 1, MONDAY, 3)] = "Birthday of Martin Luther King, Jr."
    days[nth_weekday(year, 2, MONDAY, 3)] = "Washington's Birthday"
    days[nth_weekday(year, 5, MONDAY, -1)] = "Memorial Day"
    days[nth_weekday(year, 9, MONDAY, 1)] = "Labor Day"
    days[nth_weekday(year, 10, MONDAY, 2)] = "Columbus Day"
    days[nth_weekday(year, 11, THURSDAY, 4)] = "Thanksgiving Day"
    return days


def us_federal_holidays(year: int, *, district_of_columbia: bool = True) -> dict[date, str]:
    """Observed US federal legal holidays that fall in ``year``, with their names.

    With ``district_of_columbia`` (the default) DC Emancipation Day is included, because
    federal tax deadlines treat DC holidays as legal holidays. A holiday of the next year
    observed in this one (New Year's Day on a Saturday is observed on Dec 31) is included.
    Only the regular holidays: one-off closures (a national day of mourning) and the DC
    Inauguration Day are not.
    """
    found: dict[date, str] = {}
    for y in (year, year + 1):
        for day, name in _holidays_of(y, district_of_columbia=district_of_columbia).items():
            if day.year == year:
                found[day] = name
    return dict(sorted(found.items()))


def is_business_day(day: date, holidays: Iterable[date] = ()) -> bool:
    """Monday to Friday and not one of ``holidays``."""
    return day.weekday() < 5 and day not in set(holidays)


def next_business_day(day: date, holidays: Iterable[date] = ()) -> date:
    """``day`` itself when it is a business day, else the first business day after it."""
    closed = set(holidays)
    while day.weekday() >= 5 or day in closed:
        day += timedelta(days=1)
    return day
