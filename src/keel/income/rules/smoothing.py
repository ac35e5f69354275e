"""Salary smoothing: a steady salary paid from a buffer that absorbs the swings.

Income flows into a buffer account; each pay day a fixed salary moves from the buffer to
the worker's spending account (the ledger transfer is the service's job). These rules pick
the salary, the buffer target, say how long the buffer lasts and warn before it runs dry.
Amounts are ``int`` minor units of one currency; every rounding rule is stated where it is
applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from keel.income.rules.dates import Month, add_months, month_end, month_of, shift_month

__all__ = [
    "SALARY_RULE",
    "PayPeriod",
    "SalaryRecommendation",
    "buffer_target",
    "monthly_from_cumulative",
    "months_covered",
    "pay_schedule",
    "recommend_salary",
    "runs_dry_on",
]

PayPeriod = Literal["weekly", "biweekly", "semi-monthly", "monthly"]

SALARY_RULE = (
    "Your salary is the average of your three lowest months out of the last six, rounded "
    "down. Paying yourself what a bad month brings means most months bring in more than you "
    "pay out, and the difference refills your buffer for the months that bring less. If the "
    "forecast for the coming months is lower still, the salary is lowered to the forecast, "
    "so it never promises more than the next months are expected to bring."
)
_MIN_MONTHS = 3


def _int(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{field} must be an int of minor units, not {type(value).__name__}")
    return int(value)


@dataclass(frozen=True, slots=True)
class SalaryRecommendation:
    amount: int  # monthly salary, minor units, >= 0
    rule_explanation: str
    months_used: tuple[Month, ...]  # the (up to) six months looked at
    lowest_three_average: int | None  # None when there were fewer than three months
    forecast_cap: int | None
    capped_by_forecast: bool


def recommend_salary(
    monthly_net_income_last_12: Mapping[Month, int],
    forecast_median_monthly: int | None,
    *,
    as_of: Month | None = None,
    round_to: int = 1,
) -> SalaryRecommendation:
    """The monthly salary Keel suggests you pay yourself from your buffer (``SALARY_RULE``).

    The last six months end at ``as_of`` (the last complete month; default: the latest month
    in the series). Months before the first month of the series are unknown and left out;
    a month inside the known range with no entry had no income and counts as 0. With fewer
    than three known months the recommendation is 0 and says why. The average of the three
    lowest is rounded down to whole minor units, the result is capped by
    ``forecast_median_monthly`` when given (e.g. ``Forecast.monthly_median_income``), never
    goes below 0, and is rounded down to a multiple of ``round_to`` (100 for whole dollars).
    """
    if _int(round_to, "round_to") < 1:
        raise ValueError("round_to must be at least 1")
    series = {
        month: _int(v, "monthly_net_income_last_12")
        for month, v in monthly_net_income_last_12.items()
    }
    cap = (
        None
        if forecast_median_monthly is None
        else _int(forecast_median_monthly, "forecast_median_monthly")
    )
    if not series:
        return SalaryRecommendation(
            0,
            "Keel needs at least three months of income to suggest a salary.",
            (),
            None,
            cap,
            False,
        )
    first = min(series)
    last = as_of or max(series)
    months = tuple(m for m in (shift_month(last, -k) for k in range(5, -1, -1)) if m >= first)
    if len(months) < _MIN_MONTHS:
        return SalaryRecommendation(
            0,
            f"Keel needs at least three months of income to suggest a salary; it has "
            f"{len(months)}.",
            months,
            None,
            cap,
            False,
        )
    lowest = sorted(series.get(m, 0) for m in months)[:3]
    average = sum(lowest) // 3  # floor: round down, never up
    amount = average
    capped = cap is not None and cap < average
    if cap is not None and capped:
        amount = cap
    amount = max(amount, 0)
    amount -= amount % round_to
    if capped:
        why = (
            " This time the forecast is below your three lowest recent months, so the salary "
            "follows the forecast."
        )
    else:
        why = " This time that average is what you get: the forecast does not lower it."
    return SalaryRecommendation(amount, SALARY_RULE + why, months, average, cap, capped)


def buffer_target(salary_monthly: int) -> int:
    """The buffer to aim for: six weeks of your take-home pay, the cushion the JPMorgan Chase
    Institute found families need to ride out typical income dips.

    Six weeks of a monthly salary = salary x 12 months / 52 weeks x 6 weeks
    = salary x 72 / 52, rounded up to the next whole minor unit (a target slightly over six
    weeks, never under). Integer arithmetic only.
    """
    salary = _int(salary_monthly, "salary_monthly")
    if salary < 0:
        raise ValueError("salary_monthly must not be negative")
    return -(-(salary * 72) // 52)


def months_covered(buffer_balance: int, salary: int) -> float | None:
    """How many months of salary your buffer holds right now.

    buffer ÷ monthly salary; 0.0 when the buffer is empty or overdrawn, ``None`` without a
    salary.
    """
    balance = _int(buffer_balance, "buffer_balance")
    pay = _int(salary, "salary")
    if pay <= 0:
        return None
    return max(balance, 0) / pay


def pay_schedule(
    start: date, period: PayPeriod = "monthly", until: date | None = None
) -> list[date]:
    """Pay days from ``start`` to ``until`` (both included; default: one year after start).

    * weekly / biweekly: ``start`` and every 7 / 14 days after it;
    * monthly: the same day of the month as ``start``, on the month's last day when the
      month is shorter (a salary started on Jan 31 is paid Feb 28, then Mar 31);
    * semi-monthly: the 15th and the last day of each month (the usual US payroll
      convention), the first of them on or after ``start``.
    """
    end = until or add_months(start, 12) - timedelta(days=1)
    days: list[date] = []
    if period in ("weekly", "biweekly"):
        step = timedelta(days=7 if period == "weekly" else 14)
        day = start
        while day <= end:
            days.append(day)
            day += step
    elif period == "monthly":
        k = 0
        while (day := add_months(start, k, day_of_month=start.day)) <= end:
            days.append(day)
            k += 1
    elif period == "semi-monthly":
        month = month_of(start)
        while date(*month, 1) <= end:
            for day in (date(*month, 15), month_end(*month)):
                if start <= day <= end:
                    days.append(day)
            month = shift_month(month, 1)
    else:
        raise ValueError(
            f"period must be weekly, biweekly, semi-monthly or monthly, not {period!r}"
        )
    return days


def monthly_from_cumulative(days: Sequence[date], cumulative: Sequence[int]) -> dict[Month, int]:
    """Income per calendar month from a cumulative daily series (e.g. a forecast's
    ``days`` and ``income_p50``), for ``runs_dry_on``."""
    if len(days) != len(cumulative):
        raise ValueError("days and cumulative must have the same length")
    months: dict[Month, int] = {}
    previous = 0
    for day, total in zip(days, cumulative, strict=True):
        months[month_of(day)] = months.get(month_of(day), 0) + _int(total, "cumulative") - previous
        previous = total
    return months


def runs_dry_on(
    buffer_balance: int,
    salary: int,
    forecast_income_by_month: Mapping[Month, int],
    pay_dates: Iterable[date],
) -> date | None:
    """The first pay day your buffer could not pay your full salary, if your income comes in
    as forecast; nothing when it lasts through every pay day given.

    ``salary`` is the amount of each pay day. Conservative on purpose: the income expected
    in a month is added to the buffer only at the end of that month, after that month's pay
    days, because Keel does not know which day it will arrive, and a warning should come
    early rather than late. A month missing from the forecast brings nothing. Pass the
    median forecast for "expected" and the 10th percentile for "in a bad case".
    """
    balance = _int(buffer_balance, "buffer_balance")
    pay = _int(salary, "salary")
    if pay < 0:
        raise ValueError("salary must not be negative")
    income = {m: _int(v, "forecast_income_by_month") for m, v in forecast_income_by_month.items()}
    days = sorted(pay_dates)
    if not days or pay == 0:
        return None
    month = month_of(days[0])
    index = 0
    while index < len(days):
        while index < len(days) and month_of(days[index]) == month:
            if balance < pay:
                return days[index]
            balance -= pay
            index += 1
        balance += income.get(month, 0)
        month = shift_month(month, 1)
    return None
