"""The career domain's database work for offers and recurring revenue: offers and their
subscribers, each subscriber's lifecycle (start, pause, resume, change, cancel), payments
booked or matched to an offer, and the recurring-revenue reports.

The rules (``keel.career.rules.recurring``, no Django) check offers and events and compute
every figure. A new event is checked against the subscriber's earlier events by
``subscription_history`` before it is saved: a refused event names its field and saves
nothing. The reports read every event of one worker in one currency with ONE indexed
query (``SubscriptionEvent`` repeats the offer's worker and currency for this):
``report_history`` has the database code each event as an integer and compiles them with
``recurring.history_from_columns``; other readers hand ``event_rows``' plain 5-tuples to
``subscription_history``.

Payments
    Each offer books under its own income source (``Offer.income_source_slug``, named for
    the offer; stream ``recurring`` for recurring offers, ``project`` for one-time sales),
    so a payment recorded here counts in every income report. ``record_payment`` books it
    through ``income.services.book_rows`` and links the income item to the offer and
    subscriber. ``match_source_payments`` links income items booked under the offer's
    source by other means; ``match_payment`` links an imported item (from any source) to
    the offer by hand. An income item belongs to at most one offer.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from itertools import chain
from typing import Any

import numpy as np
from django.db import IntegrityError, connections, router, transaction
from django.db.models import CharField
from django.db.models.functions import Cast

from keel import collector
from keel.accounts.models import User
from keel.income import services as income
from keel.income.importers.base import ParsedRow, RowKind
from keel.income.models import IncomeItem, ItemKind, SourceKind, StreamKind
from keel.money import format_amount

from .errors import CareerError
from .models import (
    Offer,
    OfferPayment,
    PaymentMatch,
    Subscriber,
    SubscriberStatus,
    SubscriptionEvent,
)
from .rules import recurring
from .rules.recurring import (
    CohortRow,
    MrrMonth,
    RecurringError,
    cohort_retention,
    mrr_at,
    mrr_movements,
    subscription_history,
)

__all__ = [
    "OfferMrr",
    "RecurringReport",
    "add_subscriber",
    "create_offer",
    "dashboard_panel",
    "event_rows",
    "match_payment",
    "match_source_payments",
    "offer_mrr",
    "record_event",
    "record_payment",
    "recurring_report",
    "report_currencies",
    "report_history",
    "unmatched_items",
    "update_offer",
]

MAX_NAME = 120
# Rules' field names -> the model's and the forms'.
_OFFER_FIELDS = {
    "units_per_period": "retainer_units",
    "unit": "retainer_unit",
    "on_unused": "retainer_on_unused",
    "rollover_cap": "retainer_rollover_cap",
    "retainer": "retainer_units",
}
_NEXT_STATUS = {
    "start": SubscriberStatus.ACTIVE,
    "pause": SubscriberStatus.PAUSED,
    "resume": SubscriberStatus.ACTIVE,
    "cancel": SubscriberStatus.CANCELLED,
}


def _money(minor: int, currency: str) -> str:
    return format_amount(minor, currency, symbol=True)


def _text(value: object, field: str, *, max_length: int, required: bool = True) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise CareerError(f"{field} must not be empty", field=field, code="required")
    if len(text) > max_length:
        raise CareerError(
            f"{field} must be at most {max_length} characters, not {len(text)}",
            field=field,
            code="too_long",
        )
    return text


def _refused(exc: RecurringError, names: dict[str, str] | None = None) -> CareerError:
    field, message = exc.errors[0] if exc.errors else ("", str(exc))
    # "events[3].price" -> "price": the form has one event.
    short = field.rsplit(".", 1)[-1] if "." in field else field
    if short.startswith("events["):
        short = ""
    name = (names or {}).get(short, short) or None
    return CareerError(f"{name}: {message}" if name else message, field=name, code="invalid")


# ---------------------------------------------------------------------------- offers


def rule_offer(offer: Offer) -> recurring.Offer:
    """The offer as the rules see it (raises ``RecurringError`` when it is not valid)."""
    terms = None
    if offer.kind == "retainer":
        terms = recurring.RetainerTerms(
            units_per_period=offer.retainer_units,  # type: ignore[arg-type]
            unit=offer.retainer_unit,  # type: ignore[arg-type]
            on_unused=offer.retainer_on_unused,  # type: ignore[arg-type]
            rollover_cap=offer.retainer_rollover_cap,
        )
    return recurring.Offer(
        name=offer.name,
        kind=offer.kind,  # type: ignore[arg-type]
        price=offer.price,
        currency=offer.currency,
        interval=offer.interval or None,  # type: ignore[arg-type]
        retainer=terms,
    )


def _check_offer(offer: Offer) -> None:
    offer.name = _text(offer.name, "name", max_length=MAX_NAME)
    offer.currency = (offer.currency or "").strip().upper()
    if offer.kind != "retainer":
        offer.retainer_units = offer.retainer_rollover_cap = None
        offer.retainer_unit = offer.retainer_on_unused = ""
    try:
        if offer.kind == "retainer" and offer.retainer_units is None:
            raise RecurringError.one("units_per_period", "a retainer needs its units per period")
        rule_offer(offer)
    except RecurringError as exc:
        raise _refused(exc, _OFFER_FIELDS) from None


def create_offer(
    worker: User,
    *,
    name: str,
    kind: str,
    price: int,
    currency: str,
    interval: str = "",
    retainer_units: int | None = None,
    retainer_unit: str = "",
    retainer_on_unused: str = "",
    retainer_rollover_cap: int | None = None,
) -> Offer:
    """A new offer, checked by the rules; its income source is created with it."""
    offer = Offer(
        worker=worker,
        name=name,
        kind=kind,
        price=price,
        currency=currency,
        interval=interval or "",
        retainer_units=retainer_units,
        retainer_unit=retainer_unit or "",
        retainer_on_unused=retainer_on_unused or "",
        retainer_rollover_cap=retainer_rollover_cap,
    )
    _check_offer(offer)
    source_name = f"{offer.name} (offer)"
    offer.income_source_slug = income.source_slug(source_name)
    with transaction.atomic():
        if Offer.objects.filter(worker=worker, income_source_slug=offer.income_source_slug):
            raise CareerError(
                f"name: you already have an offer called {offer.name!r}",
                field="name",
                code="duplicate",
            )
        income.ensure_source(
            worker,
            source_name,
            kind=SourceKind.MEMBERSHIP if offer.is_recurring else SourceKind.SHOP,
            default_stream=StreamKind.RECURRING if offer.is_recurring else StreamKind.PROJECT,
            currency=offer.currency,
        )
        offer.save()
    return offer


def update_offer(offer: Offer, **changes: Any) -> Offer:
    """Change an offer's name, price, terms or whether it is still sold. Its kind,
    currency and billing interval stay (subscribers' events are in them); a new price
    applies to new subscribers, existing ones keep theirs until a ``change`` event."""
    allowed = {
        "name",
        "price",
        "active",
        "retainer_units",
        "retainer_unit",
        "retainer_on_unused",
        "retainer_rollover_cap",
    }
    unknown = set(changes) - allowed
    if unknown:
        field = sorted(unknown)[0]
        raise CareerError(f"{field} cannot be changed", field=field, code="read_only")
    with transaction.atomic():
        row = Offer.objects.select_for_update().get(pk=offer.pk)
        for key, value in changes.items():
            setattr(row, key, value)
        _check_offer(row)
        row.save()
    return row


# ---------------------------------------------------------------------------- subscribers


def add_subscriber(
    offer: Offer,
    *,
    name: str,
    email: str = "",
    external_reference: str = "",
    start_on: date | None = None,
    price: int | None = None,
    interval: str | None = None,
) -> Subscriber:
    """A new buyer of ``offer``; with ``start_on`` their subscription starts that day at
    ``price`` (the offer's list price by default) — all in one transaction."""
    name = _text(name, "name", max_length=200)
    email = _text(email, "email", max_length=254, required=False)
    if email:
        from django.core.exceptions import ValidationError
        from django.core.validators import validate_email

        try:
            validate_email(email)
        except ValidationError:
            raise CareerError(
                f"email: {email!r} is not an email address", field="email", code="invalid"
            ) from None
    reference = _text(external_reference, "external_reference", max_length=200, required=False)
    with transaction.atomic():
        subscriber = Subscriber.objects.create(
            offer=offer, name=name, email=email, external_reference=reference
        )
        if start_on is not None:
            record_event(subscriber, "start", start_on, price=price, interval=interval)
            subscriber.refresh_from_db()
    return subscriber


def record_event(
    subscriber: Subscriber,
    kind: str,
    on: date,
    *,
    price: int | None = None,
    interval: str | None = None,
) -> SubscriptionEvent:
    """Record one lifecycle event, checked with the subscriber's earlier events by the
    rules; refused (``CareerError`` naming ``kind``, ``on``, ``price`` or ``interval``)
    with nothing saved. A start or change without a price takes the offer's list price
    and interval; a one-time offer has no lifecycle."""
    with transaction.atomic():
        row = Subscriber.objects.select_for_update().select_related("offer").get(pk=subscriber.pk)
        offer = row.offer
        if not offer.is_recurring:
            raise CareerError(
                f"kind: a {offer.get_kind_display().lower()} is sold once and has no"
                " subscription to start, pause or cancel",
                field="kind",
                code="not_recurring",
            )
        if kind in ("start", "change"):
            if not interval:
                interval = row.interval if kind == "change" and row.interval else offer.interval
            if price is None:
                if interval != offer.interval:
                    # The list price is per the offer's interval: taken for another one, a
                    # EUR 8.00 monthly plan moved to yearly billing became EUR 10.00 a year.
                    raise CareerError(
                        f"price: the list price, {_money(offer.price, offer.currency)}, is a"
                        f" {offer.interval}: give the price a {interval}",
                        field="price",
                        code="required",
                    )
                price = offer.price
        else:
            if price is not None:
                raise CareerError(
                    "price: only a start or change carries a price", field="price", code="invalid"
                )
            interval = None
        earlier = list(
            SubscriptionEvent.objects.filter(subscriber=row)
            .order_by("on", "id")
            .values_list("subscriber_id", "kind", "on", "price", "interval")
        )
        try:
            subscription_history([*earlier, (row.pk, kind, on, price, interval)])
        except RecurringError as exc:
            raise _refused(exc) from None
        event = SubscriptionEvent.objects.create(
            subscriber=row,
            worker_id=offer.worker_id,
            currency=offer.currency,
            kind=kind,
            on=on,
            price=price,
            interval=interval,
        )
        if kind in _NEXT_STATUS:
            row.status = _NEXT_STATUS[kind]
        if kind in ("start", "change"):
            row.price, row.interval = price, interval or ""
        row.save(update_fields=["status", "price", "interval"])
    subscriber.status, subscriber.price, subscriber.interval = row.status, row.price, row.interval
    return event


# ---------------------------------------------------------------------------- payments


def _link(offer: Offer, item: IncomeItem, subscriber: Subscriber | None, how: str) -> OfferPayment:
    if item.worker_id != offer.worker_id:
        raise CareerError("income_item: no such income item", field="income_item", code="missing")
    if item.kind != ItemKind.INCOME:
        raise CareerError(
            f"income_item: a {item.kind} is not a payment", field="income_item", code="invalid"
        )
    if subscriber is not None and subscriber.offer_id != offer.pk:
        raise CareerError(
            "subscriber: not a subscriber of this offer", field="subscriber", code="invalid"
        )
    try:
        with transaction.atomic():
            return OfferPayment.objects.create(
                offer=offer,
                subscriber=subscriber,
                income_item=item,
                amount=item.gross,
                currency=item.currency,
                on=item.occurred_on,
                matched_by=how,
            )
    except IntegrityError:
        raise CareerError(
            "income_item: this payment is already matched to an offer",
            field="income_item",
            code="duplicate",
        ) from None


def record_payment(
    offer: Offer,
    *,
    amount: int,
    on: date,
    subscriber: Subscriber | None = None,
    key: str = "",
    description: str = "",
) -> OfferPayment:
    """Book a payment for ``offer`` as the worker's income under the offer's source (one
    ledger journal, through the income domain) and match it to the offer. The same
    ``key`` again returns the payment already booked."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise CareerError(
            "amount: must be a positive whole number of minor units", field="amount", code="invalid"
        )
    if subscriber is not None and subscriber.offer_id != offer.pk:
        raise CareerError(
            "subscriber: not a subscriber of this offer", field="subscriber", code="invalid"
        )
    worker = offer.worker
    source_name = f"{offer.name} (offer)"
    external_id = f"keel-offer-{offer.pk}-{key or uuid.uuid4().hex}"[:200]
    who = subscriber.name if subscriber is not None else ""
    paid = ParsedRow(
        line=1,
        kind=RowKind.INCOME,
        occurred_on=on,
        currency=offer.currency,
        gross=amount,
        net=amount,
        external_id=external_id,
        description=(description or f"{offer.name}{': ' + who if who else ''}")[:500],
        counterparty=who[:200],
        stream_hint=StreamKind.RECURRING if offer.is_recurring else StreamKind.PROJECT,
    )
    with transaction.atomic():
        source = income.ensure_source(
            worker,
            source_name,
            kind=SourceKind.MEMBERSHIP if offer.is_recurring else SourceKind.SHOP,
            default_stream=StreamKind.RECURRING if offer.is_recurring else StreamKind.PROJECT,
            currency=offer.currency,
        )
        identity = income.identities(source, [paid])[0]
        existing = OfferPayment.objects.filter(
            income_item__worker=worker, income_item__identity=identity
        ).first()
        if existing is not None:
            return existing
        rejected: list[dict[str, Any]] = []
        booked = income.book_rows(worker, source, [paid], rejected=rejected)
        if not booked.applied:
            reason = rejected[0]["reason"] if rejected else "it is booked already"
            raise CareerError(
                f"on: the payment cannot be booked as income: {reason}",
                field="on",
                code="income_refused",
            )
        item = IncomeItem.objects.get(worker=worker, identity=identity)
        return _link(offer, item, subscriber, PaymentMatch.RECORDED)


def match_source_payments(offer: Offer) -> list[OfferPayment]:
    """Match every income item booked under the offer's own source (by an import, the
    API or by hand in the income pages) that no offer has yet."""
    with transaction.atomic():
        items = IncomeItem.objects.filter(
            worker_id=offer.worker_id,
            source__slug=offer.income_source_slug,
            kind=ItemKind.INCOME,
            offer_payment__isnull=True,
        ).order_by("occurred_on", "id")
        return [_link(offer, item, None, PaymentMatch.SOURCE) for item in items]


def match_payment(offer: Offer, item_id: int, subscriber: Subscriber | None = None) -> OfferPayment:
    """Match one of the worker's income items (an imported payment) to ``offer`` by hand."""
    item = IncomeItem.objects.filter(pk=item_id, worker_id=offer.worker_id).first()
    if item is None:
        raise CareerError("income_item: no such income item", field="income_item", code="missing")
    return _link(offer, item, subscriber, PaymentMatch.MANUAL)


def unmatched_items(offer: Offer, limit: int = 20) -> list[IncomeItem]:
    """The worker's latest payments in the offer's currency that no offer has: the
    candidates for a manual match."""
    return list(
        IncomeItem.objects.filter(
            worker_id=offer.worker_id,
            currency=offer.currency,
            kind=ItemKind.INCOME,
            offer_payment__isnull=True,
        )
        .select_related("source")
        .order_by("-occurred_on", "-id")[:limit]
    )


# ---------------------------------------------------------------------------- reports


def event_rows(worker_id: int, currency: str) -> list[tuple[Any, ...]]:
    """Every subscription event of the worker in ``currency`` as the rules' 5-tuples,
    ordered by subscriber then date: ONE ``values_list`` query on the report index.

    The query is built by the ORM and run on its connection's cursor directly: the
    database driver already returns dates (psycopg), so the ORM's per-row converters would
    only repeat that work on every row. SQLite keeps dates as text and its registered
    converter parses every row's (most of the query's time, for a few thousand distinct
    days): there the date is read as text and each distinct day parsed once.
    """
    events = SubscriptionEvent.objects.filter(worker_id=worker_id, currency=currency).order_by(
        "subscriber_id", "on", "id"
    )
    sqlite = connections[events.db].vendor == "sqlite"
    if sqlite:
        # An expression column has no declared type, so no converter runs on it.
        events = events.annotate(on_text=Cast("on", output_field=CharField()))
    query = events.values_list(
        "subscriber_id", "kind", "on_text" if sqlite else "on", "price", "interval"
    )
    sql, params = query.query.sql_with_params()
    with connections[query.db].cursor() as cursor:
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    if not sqlite:
        return rows
    days: dict[str, date] = {}
    parse = date.fromisoformat
    out: list[tuple[Any, ...]] = []
    add = out.append
    for subscriber, kind, text, price, interval in rows:
        day = days.get(text)
        if day is None:
            day = days[text] = parse(text)
        add((subscriber, kind, day, price, interval))
    return out


# The report's query codes each event as ONE integer, so that a large history reaches
# Python as two numbers per event (subscriber, code), which numpy unpacks in one pass.
# From the lowest bit: the day (22 bits: ``date.toordinal`` stays below 2**22 up to year
# 9999), the kind (3 bits: ``recurring.KIND_CODES``, 0 for any other), the interval (3
# bits: ``recurring.INTERVAL_CODES``, 0 for none, 7 for any other), then the price + 1
# (0 for none). A row the code cannot carry (a negative price, one from
# COLUMN_PRICE_LIMIT on, a day the database cannot read) codes as -1.
_KIND_SHIFT, _INTERVAL_SHIFT, _PRICE_SHIFT = 22, 25, 28
_FETCH_ROWS = 1024
# Days as ``date.toordinal`` (0001-01-01 is day 1) in each database's own date arithmetic.
_DAY_NUMBER = {
    "sqlite": 'CAST(julianday("on") - 1721424.5 AS INTEGER)',
    "postgresql": "(\"on\" - DATE '0001-01-01' + 1)",
}


def _coded_events_sql(vendor: str) -> tuple[str, list[str]]:
    """The SQL of the report's query (worker and currency come last in the params)."""
    # The params in the order their placeholders appear: the interval's, then the kind's.
    params = [*recurring.INTERVAL_CODES, *recurring.KIND_CODES]
    interval = " ".join(
        [
            'CASE WHEN "interval" IS NULL THEN 0',
            *(f'WHEN "interval" = %s THEN {int(c)}' for c in recurring.INTERVAL_CODES.values()),
            "ELSE 7 END",
        ]
    )
    kind = " ".join(
        [
            'CASE "kind"',
            *(f"WHEN %s THEN {int(c)}" for c in recurring.KIND_CODES.values()),
            "ELSE 0 END",
        ]
    )
    limit = int(recurring.COLUMN_PRICE_LIMIT)
    sql = (
        f'SELECT "subscriber_id", COALESCE(CASE WHEN "price" < 0 OR "price" >= {limit} THEN -1'
        f' ELSE ((COALESCE("price" + 1, 0) * {1 << (_PRICE_SHIFT - _INTERVAL_SHIFT)}'
        f" + {interval}) * {1 << (_INTERVAL_SHIFT - _KIND_SHIFT)}"
        f" + {kind}) * {1 << _KIND_SHIFT} + {_DAY_NUMBER[vendor]} END, -1)"
        f' FROM "{SubscriptionEvent._meta.db_table}"'
        ' WHERE "worker_id" = %s AND "currency" = %s ORDER BY "subscriber_id", "on", "id"'
    )
    return sql, params


def report_history(worker_id: int, currency: str) -> recurring.SubscriptionHistory:
    """``subscription_history`` of the worker's events in ``currency``, from ONE query on
    the report index in the usual case.

    The database codes each event as an integer (``_coded_events_sql``) and
    ``recurring.history_from_columns`` compiles the columns in a vectorised sweep. When
    that sweep leaves the rows undecided (an event that breaks a rule, a price beyond the
    codes), they are read again as ``event_rows`` and replayed one by one, which gives
    the same history or the exact errors.
    """
    db = router.db_for_read(SubscriptionEvent)
    connection = connections[db]
    vendor = connection.vendor
    history = None
    if vendor in _DAY_NUMBER:
        sql, params = _coded_events_sql(vendor)
        chunks = [np.zeros(0, dtype=np.int64)]
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, worker_id, currency])
            # In chunks: each batch of rows is freed while the next one is read, so the
            # allocator reuses the same memory instead of holding every row at once.
            while rows := cursor.fetchmany(_FETCH_ROWS):
                chunks.append(np.fromiter(chain.from_iterable(rows), np.int64, 2 * len(rows)))
        columns = np.concatenate(chunks)
        subscriber, code = columns[0::2], columns[1::2]
        if not (code < 0).any():
            history = recurring.history_from_columns(
                subscriber,
                code & ((1 << _KIND_SHIFT) - 1),
                code >> _KIND_SHIFT & 7,
                code >> _INTERVAL_SHIFT & 7,
                (code >> _PRICE_SHIFT) - 1,
            )
    if history is None:
        history = subscription_history(event_rows(worker_id, currency))
    return history


def report_currencies(worker: User) -> list[str]:
    """Currencies the worker has recurring offers in, home currency first."""
    found = set(
        Offer.objects.filter(worker=worker).exclude(interval="").values_list("currency", flat=True)
    )
    return sorted(found, key=lambda c: (c != worker.home_currency, c))


def _month(on: date) -> recurring.Month:
    return (on.year, on.month)


def _previous_month(month: recurring.Month) -> recurring.Month:
    year, m = month
    return (year - 1, 12) if m == 1 else (year, m - 1)


@dataclass(frozen=True, slots=True)
class RecurringReport:
    """A worker's recurring revenue in one currency on ``today``: MRR now and at the end
    of last month, every month's movements from the first event's month to this month,
    and the cohort retention table."""

    currency: str
    today: date
    subscribers: int
    mrr: int
    mrr_last_month_end: int
    months: tuple[MrrMonth, ...]
    cohorts: tuple[CohortRow, ...]

    @property
    def change_this_month(self) -> int:
        return self.mrr - self.mrr_last_month_end

    @property
    def this_month(self) -> MrrMonth | None:
        return self.months[-1] if self.months else None


def recurring_report(worker_id: int, currency: str, today: date) -> RecurringReport:
    """MRR, movements, churn and cohorts of the worker's subscribers in ``currency``,
    from one query of their events."""
    # One short-lived tuple per event, no reference cycles (keel.collector).
    with collector.paused():
        history = report_history(worker_id, currency)
    now = _month(today)
    months: list[MrrMonth] = []
    cohorts: list[CohortRow] = []
    if history.first_month is not None and history.first_month <= now:
        months = mrr_movements(history, history.first_month, now)
        cohorts = cohort_retention(history, now)
    last_end = date(today.year, today.month, 1).toordinal() - 1
    return RecurringReport(
        currency=currency,
        today=today,
        subscribers=history.subscribers,
        mrr=mrr_at(history, today),
        mrr_last_month_end=mrr_at(history, date.fromordinal(last_end)),
        months=tuple(months),
        cohorts=tuple(cohorts),
    )


@dataclass(frozen=True, slots=True)
class OfferMrr:
    offer: Offer
    mrr: int
    customers: int


def offer_mrr(worker: User, today: date) -> list[OfferMrr]:
    """Each of the worker's offers with its MRR now and its customers (active or paused),
    from one query of their events."""
    offers = list(Offer.objects.filter(worker=worker))
    rows: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for offer_id, *event in (
        SubscriptionEvent.objects.filter(worker=worker)
        .order_by("subscriber_id", "on", "id")
        .values_list("subscriber__offer_id", "subscriber_id", "kind", "on", "price", "interval")
    ):
        rows[offer_id].append(tuple(event))
    customers: defaultdict[int, int] = defaultdict(int)
    for offer_id in Subscriber.objects.filter(
        offer__worker=worker, status__in=(SubscriberStatus.ACTIVE, SubscriberStatus.PAUSED)
    ).values_list("offer_id", flat=True):
        customers[offer_id] += 1
    return [
        OfferMrr(
            offer,
            mrr_at(subscription_history(rows[offer.pk]), today) if rows[offer.pk] else 0,
            customers[offer.pk],
        )
        for offer in offers
    ]


def dashboard_panel(worker: User, today: date) -> dict[str, Any] | None:
    """The dashboard's panel: MRR now and its change this month, per currency; None for a
    worker with no recurring offer (or anyone who is not a worker)."""
    if not isinstance(worker, User):
        return None
    currencies = report_currencies(worker)
    if not currencies:
        return None
    reports = [recurring_report(worker.pk, currency, today) for currency in currencies]
    return {"reports": reports}
