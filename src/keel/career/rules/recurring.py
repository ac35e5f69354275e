"""Offers and recurring revenue: prices, monthly recurring revenue (MRR), churn, cohorts.

Plain Python, no Django. Every amount is an ``int`` of minor units in ONE currency: the
caller passes the subscriptions of one currency at a time (MRR in two currencies does not
add up). Ratios are ``float``, or ``None`` where the ratio has no meaning (a share of nothing).

Offers
    A worker sells memberships, subscriptions and retainers, which bill every week, month,
    quarter or year, and digital products and one-off services, which are sold once and
    never count towards MRR. A retainer includes a number of hours or deliverables per
    period; units left unused roll over to the next period (up to an optional cap on the
    rolled balance) or expire, as the offer says.

Normalising a price to a month
    MRR is a rate, not cash: the monthly value of a plan is the same every month, so that a
    yearly plan does not make MRR jump in the month it renews. ``normalised_monthly`` is
    price x 52 / 12 for a weekly plan (52 weeks a year, 12 months), price / 3 for a
    quarterly and price / 12 for a yearly plan, rounded half up to a minor unit: a yearly
    1,000.00 is 83.33 a month, a yearly 0.30 is 0.03 (2.5 cents rounds up). Where whole
    months must add up to what was paid (recognising revenue month by month),
    ``monthly_spread`` splits one billing cycle's price over its months by largest
    remainder instead: the yearly 1,000.00 becomes four months of 83.34 and eight of 83.33.

Subscription events
    A subscriber's history is a sequence of events, each with a date: ``start`` (with the
    price paid and its billing interval), ``pause``, ``resume``, ``change`` (a new price or
    plan) and ``cancel``. The price on an event is what this subscriber pays, which may not
    be the offer's list price (discounts, grandfathered prices). Allowed moves:

    * ``start`` a subscriber who never started, or who cancelled (a restart is a
      reactivation);
    * ``pause`` an active subscription; ``resume`` a paused one (at the price it had);
    * ``change`` an active or paused subscription (a paused one resumes at the new price);
    * ``cancel`` an active or paused subscription; after a cancel only a new ``start``.

    Each subscriber's events must be listed in date order; events on the same day apply in
    the order given. Bad input is refused whole, with every subscriber's first error.

MRR and the month's movements
    A subscriber's MRR is the normalised monthly price of their plan while active, and 0
    while paused, cancelled or not yet started. MRR on a date is the sum over subscribers
    after every event of that day. A month's opening MRR is the MRR at the end of the
    previous month, its closing MRR the MRR at the end of its last day.

    Movements compare each subscriber's state at the two month ends (opening, closing):

    * not a customer at the opening, a customer at the closing: **new** when their first
      ever start is in this month, else **reactivation**; the amount is their closing MRR;
    * a customer at the opening, not at the closing: **churned**, by their opening MRR;
    * a customer at both: the difference, as **expansion** (up) or **contraction** (down).

    So opening + new + expansion - contraction - churned + reactivation = closing, exactly.
    A customer is a subscriber who has started and not cancelled: a paused subscriber is
    still a customer. Pausing is therefore not churn: it shows as contraction (MRR drops to
    0) and resuming as expansion. A subscriber who starts and cancels within one month is
    never a customer at a month end, so moves no monthly figure (they still join a cohort).

Churn
    Customer churn rate of a month = customers churned in the month / customers at its
    opening. Revenue churn rate = churned MRR / opening MRR. Net revenue churn rate =
    (churned + contraction - expansion) / opening MRR, negative when existing customers grow
    more than they shrink. New and reactivated customers are left out of all three; each is
    ``None`` when its denominator is 0.

Cohorts
    A subscriber's cohort is the month of their first start. The cohort's size counts every
    subscriber in it, its starting MRR is the sum of their first plans' monthly values. For
    the cohort month and every later month, customer retention = cohort members who are
    customers at the month's end / cohort size, and revenue retention = the cohort's MRR at
    the month's end / its starting MRR (above 1 when upgrades outweigh losses). A member who
    comes back after cancelling counts again from the month they are back.

Speed
    ``subscription_history`` reads the events once (O(events), plus a sort of the distinct
    days on which MRR changed) into per-month movement counters and per-cohort deltas; the
    reports then sweep the months (O(months), O(cohorts x months) for the cohort table).
    Rows can come straight from a ``values_list`` query. For large histories
    ``history_from_columns`` compiles the same history from integer columns (a database
    can compute them per row) with numpy, without a Python step per event; it leaves any
    history it does not decide, such as one that breaks a rule, to ``subscription_history``.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt

from keel.money import allocate, format_amount, is_currency

__all__ = [
    "COLUMN_PRICE_LIMIT",
    "EVENT_KINDS",
    "INTERVALS",
    "INTERVAL_CODES",
    "KIND_CODES",
    "MAX_RETAINER_UNITS",
    "NO_PRICE",
    "OFFER_KINDS",
    "RECURRING_KINDS",
    "CohortCell",
    "CohortRow",
    "Column",
    "EventKind",
    "EventRow",
    "Interval",
    "Month",
    "MrrMonth",
    "Offer",
    "OfferKind",
    "RecurringError",
    "RetainerPeriod",
    "RetainerStatement",
    "RetainerTerms",
    "SubscriberId",
    "SubscriptionEvent",
    "SubscriptionHistory",
    "billing_periods",
    "cohort_retention",
    "history_from_columns",
    "monthly_spread",
    "mrr_at",
    "mrr_movements",
    "normalised_monthly",
    "period_start",
    "retainer_rollover",
    "subscription_history",
]

Month: TypeAlias = tuple[int, int]
SubscriberId: TypeAlias = int | str

OfferKind = Literal["membership", "subscription", "retainer", "digital_product", "one_off_service"]
OFFER_KINDS: tuple[OfferKind, ...] = (
    "membership",
    "subscription",
    "retainer",
    "digital_product",
    "one_off_service",
)
RECURRING_KINDS: frozenset[str] = frozenset({"membership", "subscription", "retainer"})

Interval = Literal["week", "month", "quarter", "year"]
INTERVALS: tuple[Interval, ...] = ("week", "month", "quarter", "year")
# A price per interval times numerator / denominator is the price per month.
_PER_MONTH: dict[str, tuple[int, int]] = {
    "week": (52, 12),
    "month": (1, 1),
    "quarter": (1, 3),
    "year": (1, 12),
}

_NO_INTERVAL = (0, 0)

# The most units a retainer includes a period, or carries over: more is a typing error (a
# month has 744 hours), and past 2**31 - 1 the database's column cannot hold it.
MAX_RETAINER_UNITS = 10_000

EventKind = Literal["start", "pause", "resume", "change", "cancel"]
EVENT_KINDS: tuple[EventKind, ...] = ("start", "pause", "resume", "change", "cancel")

RetainerUnit = Literal["hours", "deliverables"]
UnusedUnits = Literal["roll_over", "expire"]


class RecurringError(ValueError):
    """Bad offer, retainer or subscription input.

    ``errors`` lists every problem found as ``(field, message)``; the field is a path such
    as ``events[12].kind`` or ``periods[3].used``, so forms, imports and the API can attach
    each message to its input.
    """

    def __init__(self, errors: Sequence[tuple[str, str]]) -> None:
        self.errors: list[tuple[str, str]] = list(errors)
        super().__init__("; ".join(f"{f}: {m}" if f else m for f, m in self.errors))

    @classmethod
    def one(cls, field: str, message: str) -> RecurringError:
        return cls([(field, message)])

    @property
    def field(self) -> str:
        """The first offending field, for callers that show one error at a time."""
        return self.errors[0][0] if self.errors else ""


# --------------------------------------------------------------------------- guards


def _whole(value: object, field: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        # A float price is refused, not rounded: floats never touch money.
        raise RecurringError.one(field, f"must be a whole number, not {type(value).__name__}")
    if value < minimum:
        raise RecurringError.one(
            field, "must not be negative" if minimum == 0 else f"must be at least {minimum}"
        )
    return int(value)


def _interval(value: object, field: str) -> tuple[int, int]:
    per_month = _PER_MONTH.get(value) if isinstance(value, str) else None
    if per_month is None:
        raise RecurringError.one(field, f"must be one of {', '.join(INTERVALS)}, not {value!r}")
    return per_month


def _valid_month(value: object, field: str) -> int:
    """A (year, month) pair as a month index (year * 12 + month - 1)."""
    if (
        not isinstance(value, tuple)
        or len(value) != 2
        or not all(isinstance(x, int) and not isinstance(x, bool) for x in value)
        or not 1 <= value[1] <= 12
    ):
        raise RecurringError.one(
            field, f"must be a (year, month) pair with month 1-12, not {value!r}"
        )
    return int(value[0]) * 12 + int(value[1]) - 1


def _month(index: int) -> Month:
    return (index // 12, index % 12 + 1)


def _div_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, for numerator >= 0 and denominator > 0."""
    return (2 * numerator + denominator) // (2 * denominator)


# --------------------------------------------------------------------------- prices


def normalised_monthly(price: int, interval: str) -> int:
    """The monthly value of ``price`` charged every ``interval``, rounded half up.

    week: price x 52 / 12; month: price; quarter: price / 3; year: price / 12 (see the
    module docstring for why MRR rounds each month rather than spreading remainders).
    """
    amount = _whole(price, "price")
    numerator, denominator = _interval(interval, "interval")
    return _div_half_up(amount * numerator, denominator)


def monthly_spread(price: int, interval: str) -> list[int]:
    """One billing cycle's price split over the months it covers, adding up exactly.

    A quarterly price is split over 3 months and a yearly one over 12, by largest
    remainder (the odd minor units go to the first months); a monthly price is one month.
    A weekly price has no whole number of weeks in a month, so the spread is of a year of
    it: 52 weekly payments over 12 months.
    """
    amount = _whole(price, "price")
    numerator, denominator = _interval(interval, "interval")
    return allocate(amount * numerator, [1] * denominator)


# --------------------------------------------------------------------------- offers


@dataclass(frozen=True, slots=True)
class RetainerTerms:
    """What a retainer includes each period and what happens to units left unused.

    Units are whole: count hours in the smallest step you bill (e.g. quarter hours) when
    hours are not whole. ``rollover_cap`` caps the balance carried into the next period
    (``None``: no cap); it only applies when unused units roll over.
    """

    units_per_period: int
    unit: RetainerUnit
    on_unused: UnusedUnits
    rollover_cap: int | None = None

    def __post_init__(self) -> None:
        _whole(self.units_per_period, "units_per_period", minimum=1)
        if self.units_per_period > MAX_RETAINER_UNITS:
            raise RecurringError.one("units_per_period", f"must be at most {MAX_RETAINER_UNITS:,}")
        if self.unit not in ("hours", "deliverables"):
            raise RecurringError.one("unit", f"must be hours or deliverables, not {self.unit!r}")
        if self.on_unused not in ("roll_over", "expire"):
            raise RecurringError.one(
                "on_unused", f"must be roll_over or expire, not {self.on_unused!r}"
            )
        if self.rollover_cap is not None:
            _whole(self.rollover_cap, "rollover_cap")
            if self.rollover_cap > MAX_RETAINER_UNITS:
                raise RecurringError.one("rollover_cap", f"must be at most {MAX_RETAINER_UNITS:,}")
            if self.on_unused == "expire":
                raise RecurringError.one("rollover_cap", "only applies when unused units roll over")


@dataclass(frozen=True, slots=True)
class Offer:
    """Something a worker sells: its kind, its price and, when recurring, how often it bills.

    Memberships, subscriptions and retainers need a billing ``interval``; digital products
    and one-off services are sold once and must not have one. Only a retainer has
    ``retainer`` terms, and it must.
    """

    name: str
    kind: OfferKind
    price: int
    currency: str
    interval: Interval | None = None
    retainer: RetainerTerms | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise RecurringError.one("name", "must not be empty")
        if self.kind not in OFFER_KINDS:
            raise RecurringError.one(
                "kind", f"must be one of {', '.join(OFFER_KINDS)}, not {self.kind!r}"
            )
        _whole(self.price, "price")
        if not is_currency(self.currency):
            raise RecurringError.one(
                "currency", f"must be an ISO 4217 currency code, not {self.currency!r}"
            )
        if self.kind in RECURRING_KINDS:
            if self.interval is None:
                raise RecurringError.one("interval", f"a {self._kind_words} needs one")
            _interval(self.interval, "interval")
        elif self.interval is not None:
            raise RecurringError.one(
                "interval", f"a {self._kind_words} is sold once and has no billing interval"
            )
        if self.kind == "retainer":
            if not isinstance(self.retainer, RetainerTerms):
                raise RecurringError.one(
                    "retainer", "a retainer needs its terms (units per period, unused units)"
                )
        elif self.retainer is not None:
            raise RecurringError.one("retainer", f"a {self._kind_words} has no retainer terms")

    @property
    def _kind_words(self) -> str:
        return self.kind.replace("_", " ").replace("one off", "one-off")

    @property
    def is_recurring(self) -> bool:
        return self.kind in RECURRING_KINDS

    def monthly_value(self) -> int:
        """The offer's list price per month (``normalised_monthly``); 0 for one-time sales,
        which are not recurring revenue."""
        if self.interval is None:
            return 0
        return normalised_monthly(self.price, self.interval)

    def price_label(self, *, locale: str = "en_US") -> str:
        """ "$49.00 a month", "$120.00 once": how the price reads on a page."""
        amount = format_amount(self.price, self.currency, locale=locale, symbol=True)
        return f"{amount} {'once' if self.interval is None else 'a ' + self.interval}"


# --------------------------------------------------------------------------- retainers


class RetainerPeriod(NamedTuple):
    """One billing period of a retainer: units it includes and units the client used."""

    included: int
    used: int


@dataclass(frozen=True, slots=True)
class RetainerStatement:
    """Units of one period: ``available = included + brought_forward``; what was used came
    from ``available`` and, beyond it, is ``overage`` (billed extra or refused by the
    service); ``unused = rolled_over + expired`` and ``rolled_over`` is next period's
    ``brought_forward``."""

    period: int
    included: int
    brought_forward: int
    available: int
    used: int
    overage: int
    unused: int
    rolled_over: int
    expired: int


def retainer_rollover(
    terms: RetainerTerms, periods: Sequence[tuple[int, int]], *, opening_balance: int = 0
) -> list[RetainerStatement]:
    """Units available, used, rolled over and expired in each period, in order.

    ``periods`` gives each period's included units (usually ``terms.units_per_period``,
    less for a prorated first period) and used units. With ``on_unused="roll_over"`` what is
    left carries into the next period up to ``rollover_cap`` and the rest expires; with
    ``"expire"`` all of it expires. Which units a client uses first, the carried or the new,
    does not change any figure: only the carried balance is capped, not its age.
    ``opening_balance`` is a balance carried in from before the first period.
    """
    if not isinstance(terms, RetainerTerms):
        raise RecurringError.one("terms", f"must be RetainerTerms, not {type(terms).__name__}")
    balance = _whole(opening_balance, "opening_balance")
    cap = terms.rollover_cap if terms.on_unused == "roll_over" else 0
    if cap is not None and balance > cap:
        raise RecurringError.one(
            "opening_balance", f"{balance} is more than can be carried over ({cap})"
        )
    statements: list[RetainerStatement] = []
    for i, period in enumerate(periods):
        if not isinstance(period, tuple) or len(period) != 2:
            raise RecurringError.one(f"periods[{i}]", "must be (included, used)")
        included = _whole(period[0], f"periods[{i}].included")
        used = _whole(period[1], f"periods[{i}].used")
        available = included + balance
        unused = max(available - used, 0)
        rolled = unused if cap is None else min(unused, cap)
        statements.append(
            RetainerStatement(
                period=i,
                included=included,
                brought_forward=balance,
                available=available,
                used=used,
                overage=max(used - available, 0),
                unused=unused,
                rolled_over=rolled,
                expired=unused - rolled,
            )
        )
        balance = rolled
    return statements


_PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def period_start(anchor: date, interval: str, k: int) -> date:
    """The first day of the ``k``-th billing period (from 0) of a subscription that started
    on ``anchor``: periods run from the anchor's day in each week, month, quarter or year.
    A day past the end of a shorter month falls on its last day (a retainer started on
    31 January renews on 28 or 29 February, then on 31 March)."""
    if interval == "week":
        return date.fromordinal(anchor.toordinal() + 7 * k)
    months = _PERIOD_MONTHS.get(interval)
    if months is None:
        raise RecurringError.one(
            "interval", f"must be one of {', '.join(INTERVALS)}, not {interval!r}"
        )
    index = anchor.year * 12 + anchor.month - 1 + months * k
    year, month = index // 12, index % 12 + 1
    following = date(year + (month == 12), month % 12 + 1, 1)
    last_day = date.fromordinal(following.toordinal() - 1).day
    return date(year, month, min(anchor.day, last_day))


def billing_periods(anchor: date, interval: str, until: date) -> list[tuple[date, date]]:
    """Every billing period from ``anchor`` up to the one holding ``until``, as (first day,
    last day) pairs; empty when ``until`` is before ``anchor``."""
    periods: list[tuple[date, date]] = []
    k = 0
    while True:
        first = period_start(anchor, interval, k)
        if first > until:
            return periods
        following = period_start(anchor, interval, k + 1)
        periods.append((first, date.fromordinal(following.toordinal() - 1)))
        k += 1


# --------------------------------------------------------------------------- events


class SubscriptionEvent(NamedTuple):
    """One event in a subscriber's life. ``price`` (minor units) and ``interval`` are given
    with ``start`` and ``change`` only. A plain 5-tuple in this order works as well."""

    subscriber: SubscriberId
    kind: EventKind
    on: date
    price: int | None = None
    interval: Interval | None = None


# What a ``values_list("subscriber", "kind", "on", "price", "interval")`` row looks like.
EventRow: TypeAlias = tuple[SubscriberId, str, date, int | None, str | None]

_NEVER, _ACTIVE, _PAUSED, _CANCELLED = 0, 1, 2, 3
_CUSTOMER = frozenset({_ACTIVE, _PAUSED})  # started and not cancelled
_STATUS_WORDS = ("not started", "active", "paused", "cancelled")

# Per-month counters, indexed by these positions.
_NEW, _EXPANSION, _CONTRACTION, _CHURNED, _REACTIVATION = 0, 1, 2, 3, 4
_NEW_CUSTOMERS, _REACTIVATED_CUSTOMERS, _CHURNED_CUSTOMERS, _PAUSED_DELTA = 5, 6, 7, 8


@dataclass(slots=True)
class _Cohort:
    customers: int = 0
    starting_mrr: int = 0
    # month index -> [change in customers, change in MRR] of the cohort at that month's end
    deltas: dict[int, list[int]] = field(default_factory=dict)


_NO_COHORT = _Cohort()
_MALFORMED = object()  # stands in for the subscriber of a row that is not a 5-tuple


@dataclass(frozen=True, slots=True)
class SubscriptionHistory:
    """Validated subscription events, compiled for the reports. Build it with
    ``subscription_history``; read it with ``mrr_at``, ``mrr_movements`` and
    ``cohort_retention``. ``first_month`` and ``last_month`` are the months of the
    earliest and latest event (``None`` without events)."""

    subscribers: int
    first_month: Month | None
    last_month: Month | None
    _moves: Mapping[int, list[int]] = field(repr=False)
    _days: tuple[date, ...] = field(repr=False)
    _mrr_after: tuple[int, ...] = field(repr=False)
    _cohorts: Mapping[int, _Cohort] = field(repr=False)


class _Accumulator:
    """Collects each subscriber's month-end changes into the month and cohort counters."""

    __slots__ = ("cohorts", "day_delta", "first_event", "last_event", "moves")

    def __init__(self) -> None:
        self.moves: dict[int, list[int]] = {}
        self.day_delta: dict[date, int] = {}
        self.cohorts: dict[int, _Cohort] = {}
        self.first_event = date.max
        self.last_event = date.min

    def month_end(
        self,
        month: int,
        cohort: _Cohort,
        first_month: int,
        was_status: int,
        was_mrr: int,
        status: int,
        mrr: int,
    ) -> None:
        """Classify one subscriber's change from ``was_status`` and ``was_mrr`` at the
        opening of ``month`` to ``status`` and ``mrr`` at its closing (module docstring,
        "MRR and the month's movements")."""
        was_customer = was_status in _CUSTOMER
        is_customer = status in _CUSTOMER
        if not (was_customer or is_customer):
            return
        counters = self.moves.get(month)
        if counters is None:
            counters = self.moves[month] = [0] * 9
        if not was_customer:
            if first_month == month:
                counters[_NEW] += mrr
                counters[_NEW_CUSTOMERS] += 1
            else:
                counters[_REACTIVATION] += mrr
                counters[_REACTIVATED_CUSTOMERS] += 1
        elif not is_customer:
            counters[_CHURNED] += was_mrr
            counters[_CHURNED_CUSTOMERS] += 1
        elif mrr > was_mrr:
            counters[_EXPANSION] += mrr - was_mrr
        elif mrr < was_mrr:
            counters[_CONTRACTION] += was_mrr - mrr
        counters[_PAUSED_DELTA] += (status == _PAUSED) - (was_status == _PAUSED)
        customers = is_customer - was_customer
        delta = cohort.deltas.get(month)
        if delta is None:
            cohort.deltas[month] = [customers, mrr - was_mrr]
        else:
            delta[0] += customers
            delta[1] += mrr - was_mrr


def subscription_history(rows: Iterable[EventRow]) -> SubscriptionHistory:
    """Validate every subscriber's events and compile them for the reports.

    ``rows`` are ``(subscriber, kind, on, price, interval)`` tuples or
    ``SubscriptionEvent``s, each subscriber's in date order (different subscribers may
    interleave, though rows ordered by subscriber are the fast case). Raises
    ``RecurringError`` naming ``events[i].<field>`` (``i`` is the row's position in
    ``rows``) for the first bad event of every subscriber that has one; nothing is
    compiled then.
    """
    events = rows if isinstance(rows, list) else list(rows)
    errors: list[tuple[str, str]] = []
    # Each subscriber's rows as runs of consecutive positions: one run per subscriber when
    # the query orders by subscriber, so grouping costs one comparison per row.
    runs: dict[SubscriberId, list[range]] = {}

    def close_run(subscriber: object, start: int, end: int) -> None:
        if end == start or subscriber is _MALFORMED:
            return
        if isinstance(subscriber, bool) or not isinstance(subscriber, int | str):
            errors.append((f"events[{start}].subscriber", "must be an int or str id"))
        else:
            runs.setdefault(subscriber, []).append(range(start, end))

    current: object = _MALFORMED
    run_start = 0
    for i, row in enumerate(events):
        try:
            subscriber = row[0]
        except (TypeError, IndexError, KeyError):
            errors.append((f"events[{i}]", "must be (subscriber, kind, on, price, interval)"))
            subscriber = _MALFORMED
        # ``is`` first: the common case; the type check keeps True and 1 (equal) apart.
        if subscriber is current or (subscriber == current and type(subscriber) is type(current)):
            continue
        close_run(current, run_start, i)
        current, run_start = subscriber, i
    close_run(current, run_start, len(events))

    acc = _Accumulator()
    for subscriber, ranges in runs.items():
        error = _replay(subscriber, ranges, events, acc)
        if error is not None:
            errors.append(error)
    if errors:
        raise RecurringError(sorted(errors, key=_error_position))

    days = sorted(day for day, delta in acc.day_delta.items() if delta)
    running = 0
    mrr_after: list[int] = []
    for day in days:
        running += acc.day_delta[day]
        mrr_after.append(running)
    return SubscriptionHistory(
        subscribers=len(runs),
        first_month=(acc.first_event.year, acc.first_event.month) if runs else None,
        last_month=(acc.last_event.year, acc.last_event.month) if runs else None,
        _moves=acc.moves,
        _days=tuple(days),
        _mrr_after=tuple(mrr_after),
        _cohorts=acc.cohorts,
    )


def _error_position(error: tuple[str, str]) -> int:
    # "events[12].kind" -> 12: errors are reported in the order of the rows.
    return int(error[0][len("events[") : error[0].index("]")])


class _Refused(Exception):
    """An event that cannot apply; caught once per subscriber and named there."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _replay(
    subscriber: SubscriberId, ranges: list[range], events: list[EventRow], acc: _Accumulator
) -> tuple[str, str] | None:
    """Apply one subscriber's events in order; the first error as ``(field, message)``.

    This is the hot loop of the benchmark: one pass, plain locals, no objects per event,
    a fast path for the exact types a database row has and the full checks off it.
    """
    status = _NEVER
    plan = 0  # the plan's monthly value, kept while paused so resume restores it
    mrr = 0
    month = -1
    first_month = -1
    was_status, was_mrr = _NEVER, 0  # at the opening of ``month``
    previous = date.min
    # Replaced at the first start, which must come first: nothing writes to this one.
    cohort = _NO_COHORT
    day_delta = acc.day_delta
    per_month = _PER_MONTH
    month_end = acc.month_end
    cohorts = acc.cohorts
    i, kind = 0, ""
    try:
        for run in ranges:
            for i in run:
                try:
                    _, kind, on, price, interval = events[i]
                except (TypeError, ValueError):
                    kind = "not an event"  # not the previous row's kind in the message
                    raise _Refused("", "must be (subscriber, kind, on, price, interval)") from None
                if type(on) is not date:
                    _check_day(on)
                if on < previous:
                    raise _Refused(
                        "on",
                        f"{on.isoformat()} is before the subscriber's previous event "
                        f"({previous.isoformat()}): list each subscriber's events in date order",
                    )
                previous = on
                index = on.year * 12 + on.month - 1
                if index != month:
                    if month >= 0 and (status != was_status or mrr != was_mrr):
                        month_end(month, cohort, first_month, was_status, was_mrr, status, mrr)
                    month = index
                    was_status, was_mrr = status, mrr

                if kind == "start" or kind == "change":
                    numerator, denominator = (
                        per_month.get(interval, _NO_INTERVAL)
                        if type(interval) is str
                        else _NO_INTERVAL
                    )
                    if type(price) is int and price >= 0 and denominator:
                        new_plan = (2 * price * numerator + denominator) // (2 * denominator)
                    else:
                        new_plan = _plan_value(price, interval)
                    if kind == "start":
                        if status in _CUSTOMER:
                            raise _Refused(
                                "kind", f"cannot start: the subscription is {_STATUS_WORDS[status]}"
                            )
                        if first_month < 0:
                            first_month = index
                            found = cohorts.get(index)
                            if found is None:
                                found = cohorts[index] = _Cohort()
                            cohort = found
                            cohort.customers += 1
                            cohort.starting_mrr += new_plan
                        status = _ACTIVE
                    elif status not in _CUSTOMER:
                        raise _Refused(
                            "kind", f"cannot change: the subscription is {_STATUS_WORDS[status]}"
                        )
                    plan = new_plan
                elif kind == "pause" or kind == "resume" or kind == "cancel":
                    if price is not None:
                        raise _Refused("price", "only a start or change carries a price")
                    if interval is not None:
                        raise _Refused("interval", "only a start or change carries an interval")
                    status = _next_status(status, kind)
                else:
                    raise _Refused("kind", f"must be one of {', '.join(EVENT_KINDS)}, not {kind!r}")

                now = plan if status == _ACTIVE else 0
                if now != mrr:
                    day_delta[on] = day_delta.get(on, 0) + now - mrr
                    mrr = now
    except _Refused as refused:
        where = f"events[{i}].{refused.field}" if refused.field else f"events[{i}]"
        # The event's position in the subscriber's own history, counted only when needed.
        number = (
            1
            + sum(len(r) for r in ranges if r.stop <= i)
            + sum(i - r.start for r in ranges if r.start <= i < r.stop)
        )
        return (where, f"subscriber {subscriber!r}, event {number} ({kind}): {refused.message}")
    if month >= 0 and (status != was_status or mrr != was_mrr):
        acc.month_end(month, cohort, first_month, was_status, was_mrr, status, mrr)
    first_event = events[ranges[0][0]][2]
    if first_event < acc.first_event:
        acc.first_event = first_event
    if previous > acc.last_event:
        acc.last_event = previous
    return None


def _check_day(on: object) -> None:
    # A datetime is a date subclass; accepting one would drop its time and zone silently.
    if isinstance(on, datetime) or not isinstance(on, date):
        raise _Refused("on", f"must be a calendar date, not {type(on).__name__}")


def _plan_value(price: object, interval: object) -> int:
    """The monthly value of a start's or change's plan, with every check
    (``normalised_monthly``; the hot loop inlines the common case)."""
    if price is None:
        raise _Refused("price", "a start or change needs the price")
    if isinstance(price, bool) or not isinstance(price, int):
        raise _Refused("price", f"must be whole minor units, not {type(price).__name__}")
    if price < 0:
        raise _Refused("price", "must not be negative")
    found = _PER_MONTH.get(interval) if isinstance(interval, str) else None
    if found is None:
        raise _Refused("interval", f"must be one of {', '.join(INTERVALS)}, not {interval!r}")
    numerator, denominator = found
    return _div_half_up(int(price) * numerator, denominator)


def _next_status(status: int, kind: str) -> int:
    if kind == "pause":
        if status != _ACTIVE:
            raise _Refused("kind", f"cannot pause: the subscription is {_STATUS_WORDS[status]}")
        return _PAUSED
    if kind == "resume":
        if status != _PAUSED:
            raise _Refused(
                "kind", f"cannot resume: the subscription is {_STATUS_WORDS[status]}, not paused"
            )
        return _ACTIVE
    # kind == "cancel": the caller has refused every other kind
    if status not in _CUSTOMER:
        after = "; only a new start can follow a cancel" if status == _CANCELLED else ""
        raise _Refused("kind", f"cannot cancel: the subscription is {_STATUS_WORDS[status]}{after}")
    return _CANCELLED


# --------------------------------------------------------------------------- columns

# The columnar form of the events (``history_from_columns``): integers a database query
# computes per row, so that a large history reaches Python as two numbers per event
# instead of five objects. Kind 0 and interval 7 stand for anything else.
KIND_CODES: Mapping[str, int] = {"start": 1, "pause": 2, "resume": 3, "change": 4, "cancel": 5}
INTERVAL_CODES: Mapping[str, int] = {"week": 1, "month": 2, "quarter": 3, "year": 4}
NO_PRICE = -1
# Prices from here on are left to ``subscription_history``: below it every sum of the
# sweep stays far inside int64 (a weekly plan of 2**32 is under 2**35 a month).
COLUMN_PRICE_LIMIT = 2**32

_START, _PAUSE, _RESUME, _CHANGE, _CANCEL = (KIND_CODES[k] for k in EVENT_KINDS)
_MAX_ORDINAL = date.max.toordinal()
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# Status after an event of each kind code; a change keeps the status before it.
_KIND_STATUS = np.zeros(8, dtype=np.int64)
_KIND_STATUS[[_START, _PAUSE, _RESUME, _CANCEL]] = [_ACTIVE, _PAUSED, _ACTIVE, _CANCELLED]
# Which kind code may follow which status (``_next_status`` and the start and change rules).
_ALLOWED = np.zeros((8, 4), dtype=bool)
_ALLOWED[_START, [_NEVER, _CANCELLED]] = True
_ALLOWED[_PAUSE, _ACTIVE] = True
_ALLOWED[_RESUME, _PAUSED] = True
_ALLOWED[[_CHANGE, _CHANGE, _CANCEL, _CANCEL], [_ACTIVE, _PAUSED, _ACTIVE, _PAUSED]] = True
# _PER_MONTH by interval code; code 0 (no interval) values a plan at 0 over 1.
_CODE_NUMERATOR = np.zeros(8, dtype=np.int64)
_CODE_DENOMINATOR = np.ones(8, dtype=np.int64)
for _name, _code in INTERVAL_CODES.items():
    _CODE_NUMERATOR[_code], _CODE_DENOMINATOR[_code] = _PER_MONTH[_name]

Column: TypeAlias = npt.NDArray[np.int64]


def history_from_columns(
    subscriber: Column, day: Column, kind: Column, interval: Column, price: Column
) -> SubscriptionHistory | None:
    """``subscription_history`` of events given as equal-length int64 columns, in one
    vectorised sweep: the same history, exactly, for a fraction of the replay's time.

    Row ``i`` is the event ``(subscriber[i], kind, date.fromordinal(day[i]), price,
    interval)`` with ``kind`` and ``interval`` coded by ``KIND_CODES`` and
    ``INTERVAL_CODES`` (interval 0: none) and ``price[i] == NO_PRICE`` for none. The rows
    must come ordered by subscriber, then date (then the order events apply on one day):
    ``ORDER BY subscriber, day, id``.

    Returns ``None`` when the columns hold anything this sweep does not decide: an event
    that breaks a rule, rows out of that order, a price below 0 or from
    ``COLUMN_PRICE_LIMIT`` on. Replay the rows with ``subscription_history`` then, for
    the exact history or the exact errors.
    """
    n = len(subscriber)
    if not len(day) == len(kind) == len(interval) == len(price) == n:
        raise ValueError("the columns must all have the same length")
    if n == 0:
        return subscription_history([])
    same = subscriber[1:] == subscriber[:-1]  # row i + 1 continues row i's subscriber
    if (subscriber[1:] < subscriber[:-1]).any() or ((day[1:] < day[:-1]) & same).any():
        return None
    if day.min() < 1 or day.max() > _MAX_ORDINAL or kind.min() < 1 or kind.max() > 5:
        return None
    first = np.flatnonzero(np.concatenate(([True], ~same)))  # each subscriber's first row
    if (kind[first] != _START).any():
        return None
    carries = (kind == _START) | (kind == _CHANGE)
    priced = (price >= 0) & (price < COLUMN_PRICE_LIMIT) & (interval >= 1) & (interval <= 4)
    if not np.where(carries, priced, (price == NO_PRICE) & (interval == 0)).all():
        return None

    rows = np.arange(n)
    # Carry each row's last status-setting event (and below, its last plan) forward.
    # Every subscriber's first row is a start, which sets both, so nothing carries over
    # from one subscriber to the next.
    status = _KIND_STATUS[kind[np.maximum.accumulate(np.where(kind != _CHANGE, rows, 0))]]
    before = np.empty_like(status)
    before[0] = _NEVER
    before[1:] = status[:-1]
    before[first] = _NEVER
    if not _ALLOWED[kind, before].all():
        return None
    numerator = _CODE_NUMERATOR[interval]
    denominator = _CODE_DENOMINATOR[interval]
    value = (2 * price * numerator + denominator) // (2 * denominator)
    plan = value[np.maximum.accumulate(np.where(carries, rows, 0))]
    mrr = np.where(status == _ACTIVE, plan, 0)

    # MRR by day: each event's change, summed per day; days whose changes cancel drop out.
    was = np.empty_like(mrr)
    was[0] = 0
    was[1:] = mrr[:-1]
    was[first] = 0
    delta = mrr - was
    moved = np.flatnonzero(delta)
    days, at_day = _groups(day[moved])
    day_sums = _sums(at_day, days.size, delta[moved])
    kept = day_sums != 0

    # Each subscriber's month ends: the last row of each of their months, against the
    # previous such row (the opening of that month).
    month = _month_indexes(day)
    end = np.flatnonzero(np.concatenate((~same | (month[1:] != month[:-1]), [True])))
    end_subscriber = subscriber[end]
    end_first = np.concatenate(([True], end_subscriber[1:] != end_subscriber[:-1]))
    end_month, end_status, end_mrr = month[end], status[end], mrr[end]
    was_status, was_mrr = np.empty_like(end_status), np.empty_like(end_mrr)
    was_status[0], was_mrr[0] = _NEVER, 0
    was_status[1:], was_mrr[1:] = end_status[:-1], end_mrr[:-1]
    was_status[end_first], was_mrr[end_first] = _NEVER, 0
    cohort_month = month[first]
    end_cohort = cohort_month[np.cumsum(np.concatenate(([True], ~same)))[end] - 1]
    was_customer = (was_status == _ACTIVE) | (was_status == _PAUSED)
    is_customer = (end_status == _ACTIVE) | (end_status == _PAUSED)
    counted = np.flatnonzero(
        ((end_status != was_status) | (end_mrr != was_mrr)) & (was_customer | is_customer)
    )
    end_month, end_cohort = end_month[counted], end_cohort[counted]
    end_status, end_mrr = end_status[counted], end_mrr[counted]
    was_status, was_mrr = was_status[counted], was_mrr[counted]
    was_customer, is_customer = was_customer[counted], is_customer[counted]
    # Classified as _Accumulator.month_end does, one subscriber at a time.
    joined = ~was_customer & is_customer
    new = joined & (end_cohort == end_month)
    back = joined & ~new
    left = was_customer & ~is_customer
    up = np.where(was_customer & is_customer, end_mrr - was_mrr, 0)
    counters = [np.zeros(0, dtype=np.int64)] * 9
    counters[_NEW] = np.where(new, end_mrr, 0)
    counters[_EXPANSION] = np.maximum(up, 0)
    counters[_CONTRACTION] = np.maximum(-up, 0)
    counters[_CHURNED] = np.where(left, was_mrr, 0)
    counters[_REACTIVATION] = np.where(back, end_mrr, 0)
    counters[_NEW_CUSTOMERS] = new.astype(np.int64)
    counters[_REACTIVATED_CUSTOMERS] = back.astype(np.int64)
    counters[_CHURNED_CUSTOMERS] = left.astype(np.int64)
    counters[_PAUSED_DELTA] = (end_status == _PAUSED).astype(np.int64) - (was_status == _PAUSED)
    months, at_month = _groups(end_month)
    month_sums = np.stack([_sums(at_month, months.size, values) for values in counters], axis=1)

    # Cohorts: size and first plans from each subscriber's first row, then the month-end
    # changes of their members, per (cohort, month).
    cohort_keys, at_cohort = _groups(cohort_month)
    sizes = np.bincount(at_cohort, minlength=cohort_keys.size)
    starting = _sums(at_cohort, cohort_keys.size, value[first])
    low = int(month.min())
    span = int(month.max()) - low + 1
    cells, at_cell = _groups((end_cohort - low) * span + (end_month - low))
    cell_customers = _sums(at_cell, cells.size, is_customer.astype(np.int64) - was_customer)
    cell_mrr = _sums(at_cell, cells.size, end_mrr - was_mrr)

    cohorts = {
        key: _Cohort(size, start)
        for key, size, start in zip(
            cohort_keys.tolist(), sizes.tolist(), starting.tolist(), strict=True
        )
    }
    for cell, customers, cell_delta in zip(
        cells.tolist(), cell_customers.tolist(), cell_mrr.tolist(), strict=True
    ):
        cohort, at = divmod(cell, span)
        cohorts[cohort + low].deltas[at + low] = [customers, cell_delta]
    first_day = date.fromordinal(int(day.min()))
    last_day = date.fromordinal(int(day.max()))
    return SubscriptionHistory(
        subscribers=first.size,
        first_month=(first_day.year, first_day.month),
        last_month=(last_day.year, last_day.month),
        _moves=dict(zip(months.tolist(), month_sums.tolist(), strict=True)),
        _days=tuple(map(date.fromordinal, days[kept].tolist())),
        _mrr_after=tuple(np.cumsum(day_sums[kept]).tolist()),
        _cohorts=cohorts,
    )


def _month_indexes(day: Column) -> Column:
    """The month index (year * 12 + month - 1) of each day ordinal."""
    low = int(day.min())
    span = int(day.max()) - low + 1
    # Calendar arithmetic per element is slow: over a short span, once per day of it.
    days = np.arange(low, low + span) if span <= 4 * day.size + 4096 else day
    months = (days - _EPOCH_ORDINAL).astype("datetime64[D]").astype("datetime64[M]")
    indexes = months.astype(np.int64) + 1970 * 12
    return indexes[day - low] if days is not day else indexes


def _groups(keys: Column) -> tuple[Column, npt.NDArray[np.intp]]:
    """The distinct ``keys`` in order and, for each key, the position of its group: what
    ``np.unique(keys, return_inverse=True)`` gives, without its sort when the keys span a
    short range (months, days and cohort cells of a few years do)."""
    if not keys.size:
        return keys, np.zeros(0, dtype=np.intp)
    low = int(keys.min())
    span = int(keys.max()) - low + 1
    if span > 4 * keys.size + 4096:
        distinct, inverse = np.unique(keys, return_inverse=True)
        return distinct, inverse
    offsets = keys - low
    present = np.zeros(span, dtype=bool)
    present[offsets] = True
    position = np.cumsum(present) - 1
    return np.flatnonzero(present) + low, position[offsets]


def _sums(groups: npt.NDArray[np.intp], size: int, values: Column) -> Column:
    """``values`` summed per group, exactly (int64: no float weights)."""
    sums = np.zeros(size, dtype=np.int64)
    np.add.at(sums, groups, values)
    return sums


# --------------------------------------------------------------------------- reports


def mrr_at(history: SubscriptionHistory, on: date) -> int:
    """MRR at the end of ``on``: every event of that day applied."""
    if isinstance(on, datetime) or not isinstance(on, date):
        raise RecurringError.one("on", f"must be a calendar date, not {type(on).__name__}")
    position = bisect.bisect_right(history._days, on)
    return history._mrr_after[position - 1] if position else 0


@dataclass(frozen=True, slots=True)
class MrrMonth:
    """One month's MRR movements and customer counts (module docstring for definitions).

    ``opening_mrr + new_mrr + expansion_mrr - contraction_mrr - churned_mrr +
    reactivation_mrr == closing_mrr`` and ``opening_customers + new_customers +
    reactivated_customers - churned_customers == closing_customers``. ``paused_customers``
    are those paused at the month's end, included in ``closing_customers``.
    """

    month: Month
    opening_mrr: int
    new_mrr: int
    expansion_mrr: int
    contraction_mrr: int
    churned_mrr: int
    reactivation_mrr: int
    closing_mrr: int
    opening_customers: int
    new_customers: int
    reactivated_customers: int
    churned_customers: int
    closing_customers: int
    paused_customers: int

    @property
    def net_new_mrr(self) -> int:
        return self.closing_mrr - self.opening_mrr

    @property
    def customer_churn_rate(self) -> float | None:
        """Customers churned in the month / customers at its opening."""
        if self.opening_customers == 0:
            return None
        return self.churned_customers / self.opening_customers

    @property
    def revenue_churn_rate(self) -> float | None:
        """Churned MRR / opening MRR."""
        if self.opening_mrr == 0:
            return None
        return self.churned_mrr / self.opening_mrr

    @property
    def net_revenue_churn_rate(self) -> float | None:
        """(Churned + contraction - expansion) / opening MRR; negative when existing
        customers grew more than they shrank."""
        if self.opening_mrr == 0:
            return None
        lost = self.churned_mrr + self.contraction_mrr - self.expansion_mrr
        return lost / self.opening_mrr


def mrr_movements(history: SubscriptionHistory, first: Month, last: Month) -> list[MrrMonth]:
    """Every month from ``first`` to ``last`` (both included) with its MRR movements.

    Months before the history's first event have nothing; months after its last carry the
    closing figures forward with no movement.
    """
    start = _valid_month(first, "first")
    end = _valid_month(last, "last")
    if end < start:
        raise RecurringError.one("last", f"{last} is before first {first}")
    moves = history._moves
    begin = min(start, min(moves)) if moves else start
    mrr = customers = paused = 0
    report: list[MrrMonth] = []
    empty = [0] * 9
    for index in range(begin, end + 1):
        c = moves.get(index, empty)
        closing = mrr + c[_NEW] + c[_EXPANSION] - c[_CONTRACTION] - c[_CHURNED] + c[_REACTIVATION]
        closing_customers = (
            customers + c[_NEW_CUSTOMERS] + c[_REACTIVATED_CUSTOMERS] - c[_CHURNED_CUSTOMERS]
        )
        paused += c[_PAUSED_DELTA]
        if index >= start:
            report.append(
                MrrMonth(
                    month=_month(index),
                    opening_mrr=mrr,
                    new_mrr=c[_NEW],
                    expansion_mrr=c[_EXPANSION],
                    contraction_mrr=c[_CONTRACTION],
                    churned_mrr=c[_CHURNED],
                    reactivation_mrr=c[_REACTIVATION],
                    closing_mrr=closing,
                    opening_customers=customers,
                    new_customers=c[_NEW_CUSTOMERS],
                    reactivated_customers=c[_REACTIVATED_CUSTOMERS],
                    churned_customers=c[_CHURNED_CUSTOMERS],
                    closing_customers=closing_customers,
                    paused_customers=paused,
                )
            )
        mrr, customers = closing, closing_customers
    return report


@dataclass(frozen=True, slots=True)
class CohortCell:
    """A cohort at the end of one month. ``age`` is months since the cohort month (0: the
    cohort month itself); ``customers`` and ``mrr`` are the cohort members who are customers
    at the month's end and their MRR."""

    month: Month
    age: int
    customers: int
    mrr: int
    customer_retention: float
    revenue_retention: float | None  # None when the cohort started with 0 MRR


@dataclass(frozen=True, slots=True)
class CohortRow:
    """Subscribers whose first start was in ``cohort``: how many, their first plans' MRR,
    and one cell per month from the cohort month on."""

    cohort: Month
    customers: int
    starting_mrr: int
    cells: tuple[CohortCell, ...]


def cohort_retention(history: SubscriptionHistory, through: Month) -> list[CohortRow]:
    """The retention table: one row per cohort up to ``through``, oldest first, each with a
    cell for every month from the cohort month to ``through``."""
    end = _valid_month(through, "through")
    rows: list[CohortRow] = []
    starts = sorted(start for start in history._cohorts if start <= end)
    # One (year, month) per month and positional cells: the table has a cell per cohort
    # and month, the bulk of the report's objects.
    months = [_month(index) for index in range(starts[0], end + 1)] if starts else []
    cell = CohortCell
    for start in starts:
        cohort = history._cohorts[start]
        deltas, size, starting = cohort.deltas, cohort.customers, cohort.starting_mrr
        customers = mrr = 0
        cells: list[CohortCell] = []
        add = cells.append
        offset = start - starts[0]
        for age in range(end - start + 1):
            delta = deltas.get(start + age)
            if delta is not None:
                customers += delta[0]
                mrr += delta[1]
            add(
                cell(
                    months[offset + age],
                    age,
                    customers,
                    mrr,
                    customers / size,
                    mrr / starting if starting else None,
                )
            )
        rows.append(CohortRow(_month(start), cohort.customers, cohort.starting_mrr, tuple(cells)))
    return rows
