"""Clearing and settlement: which period a contribution clears in, and whether it is paid.

A platform's contributions are cleared in batches, one per period of its cadence, and the
platform settles each batch with a payment. A payment that does not match what was owed is
reported as short or excess and stays that way until corrected; nothing is written off.
"""

from __future__ import annotations

from datetime import date, timedelta

from .policy import period_bounds, require_choice, require_date, require_int

__all__ = [
    "CADENCES",
    "SETTLEMENT_STATUSES",
    "period_for",
    "settlement_difference",
    "status",
]

CADENCES = ("daily", "weekly", "monthly")

SETTLEMENT_STATUSES = ("open", "settled", "short", "excess")


def period_for(day: date, cadence: str) -> tuple[date, date]:
    """First and last day (inclusive) of the clearing period holding ``day``.

    Weekly periods are ISO weeks, Monday to Sunday, so every platform on a weekly cadence
    clears over the same days whatever day it joined.
    """
    require_date(day, "day")
    require_choice(cadence, "cadence", CADENCES)
    if cadence == "daily":
        return day, day
    if cadence == "weekly":
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=6)
    return period_bounds(day, "month")


def settlement_difference(owed: int, paid: int) -> int:
    """Paid minus owed: negative when the platform paid too little, positive when too much.

    Either may be below zero: a batch owes less than nothing when corrections in it took
    back more than its events added (Keel then owes the platform: an excess, refunded), and
    a refund counts as a negative payment."""
    require_int(owed, "owed", minimum=None)
    require_int(paid, "paid", minimum=None)
    return paid - owed


def status(owed: int, paid_total: int) -> str:
    """The batch's state: open until a payment arrives, then settled, short or excess.

    A batch that owes nothing is settled as it stands.
    """
    require_int(owed, "owed", minimum=None)
    require_int(paid_total, "paid_total", minimum=None)
    if paid_total == 0 and owed > 0:
        return "open"
    difference = paid_total - owed
    if difference == 0:
        return "settled"
    return "short" if difference < 0 else "excess"
