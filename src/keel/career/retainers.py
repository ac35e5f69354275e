"""Retainer units: what each subscriber of a retainer used, set against what every billing
period includes and what rolled over into it.

A retainer includes ``Offer.retainer_units`` hours or deliverables per billing period.
Periods run from the subscriber's first start (``recurring.billing_periods``); a period
includes the units only when the subscriber was active on its first day (a paused or
cancelled retainer includes nothing new, though a rolled-over balance still carries). The
offer's terms decide what happens to units left unused (``recurring.retainer_rollover``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.utils import timezone

from .errors import CareerError
from .models import OfferKind, RetainerUse, Subscriber, SubscriptionEvent
from .rules import recurring

MAX_UNITS = 10_000  # per entry: more is a typing error, not a day's work
MAX_NOTE = 200


@dataclass(frozen=True, slots=True)
class RetainerPeriod:
    """One billing period of a subscriber's retainer and its units."""

    first_day: date
    last_day: date
    statement: recurring.RetainerStatement


@dataclass(frozen=True, slots=True)
class RetainerAccount:
    """A subscriber's retainer units: every period up to today's, newest last, and the uses."""

    subscriber: Subscriber
    unit: str
    periods: tuple[RetainerPeriod, ...]
    uses: tuple[RetainerUse, ...]

    @property
    def current(self) -> RetainerPeriod | None:
        return self.periods[-1] if self.periods else None


def _terms(subscriber: Subscriber) -> recurring.RetainerTerms:
    offer = subscriber.offer
    if offer.kind != OfferKind.RETAINER or offer.retainer_units is None:
        raise CareerError(f"{offer.name} is not a retainer", field="offer", code="not_retainer")
    return recurring.RetainerTerms(
        units_per_period=offer.retainer_units,
        unit=offer.retainer_unit,  # type: ignore[arg-type]
        on_unused=offer.retainer_on_unused,  # type: ignore[arg-type]
        rollover_cap=offer.retainer_rollover_cap,
    )


def _events(subscriber: Subscriber) -> list[tuple[date, str]]:
    return list(
        SubscriptionEvent.objects.filter(subscriber=subscriber)
        .order_by("on", "id")
        .values_list("on", "kind")
    )


def _active_on(events: list[tuple[date, str]], day: date) -> bool:
    active = False
    for on, kind in events:
        if on > day:
            break
        if kind in ("start", "resume"):
            active = True
        elif kind in ("pause", "cancel"):
            active = False
    return active


def retainer_account(subscriber: Subscriber, today: date | None = None) -> RetainerAccount:
    """Every billing period of the subscriber's retainer from their first start up to the
    one holding ``today``, with units included, brought forward, used, rolled over and
    expired."""
    today = today or timezone.localdate()
    terms = _terms(subscriber)
    events = _events(subscriber)
    uses = tuple(RetainerUse.objects.filter(subscriber=subscriber).order_by("on", "id"))
    starts = [on for on, kind in events if kind == "start"]
    if not starts:
        return RetainerAccount(subscriber, terms.unit, (), uses)
    interval = subscriber.interval or subscriber.offer.interval or "month"
    spans = recurring.billing_periods(starts[0], interval, today)
    used = [0] * len(spans)
    k = 0
    for use in uses:
        while k < len(spans) and use.on > spans[k][1]:
            k += 1
        if k == len(spans):
            break
        if use.on >= spans[k][0]:
            used[k] += use.units
    included = [terms.units_per_period if _active_on(events, first) else 0 for first, _ in spans]
    statements = recurring.retainer_rollover(terms, list(zip(included, used, strict=True)))
    periods = tuple(
        RetainerPeriod(first, last, statement)
        for (first, last), statement in zip(spans, statements, strict=True)
    )
    return RetainerAccount(subscriber, terms.unit, periods, uses)


def log_use(subscriber: Subscriber, *, on: date, units: int, note: str = "") -> RetainerUse:
    """Record units of the retainer the subscriber used on ``on``. Refused (nothing saved)
    for an offer that is not a retainer, a day before the subscriber's first start or in
    the future, or a count that is not a whole number from 1 to MAX_UNITS."""
    _terms(subscriber)
    if isinstance(units, bool) or not isinstance(units, int) or not 1 <= units <= MAX_UNITS:
        raise CareerError(
            f"units: a whole number from 1 to {MAX_UNITS:,}", field="units", code="out_of_range"
        )
    if not isinstance(on, date):
        raise CareerError("on: a date", field="on", code="invalid")
    text = note.strip() if isinstance(note, str) else ""
    if len(text) > MAX_NOTE:
        raise CareerError(
            f"note: at most {MAX_NOTE} characters, not {len(text)}", field="note", code="too_long"
        )
    if on > timezone.localdate():
        raise CareerError("on: units are logged once used, not ahead", field="on", code="future")
    with transaction.atomic():
        row = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
        first = (
            SubscriptionEvent.objects.filter(subscriber=row, kind="start")
            .order_by("on")
            .values_list("on", flat=True)
            .first()
        )
        if first is None or on < first:
            started = f"started on {first:%d %B %Y}" if first else "has not started"
            raise CareerError(
                f"on: {subscriber.name}'s retainer {started}", field="on", code="before_start"
            )
        return RetainerUse.objects.create(subscriber=row, on=on, units=units, note=text)
