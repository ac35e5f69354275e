"""Reads for the income pages: plain queries over a worker's own rows, no business rules.

Every function takes the worker and filters by them, so a page can never show another
worker's sources, items, imports or rates. Amounts stay integer minor units with their
currency; the pages format them with the ``money`` filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from keel.accounts.models import User
from keel.ledger.models import Leg

from .models import ExchangeRate, ImportBatch, IncomeItem, ItemKind, Source, Stream
from .reports import WINDOW_MONTHS
from .rules.dates import Month, month_end, month_of, shift_month


def has_income(worker: User) -> bool:
    return IncomeItem.objects.filter(worker=worker).exists()


def latest_month(worker: User) -> Month | None:
    """The month of the worker's most recent income item, whatever its date (a later
    withdrawal or fee is not income, and the dashboard says "your most recent income")."""
    items = IncomeItem.objects.filter(worker=worker, kind=ItemKind.INCOME)
    latest = items.order_by("-occurred_on").first()
    return None if latest is None else month_of(latest.occurred_on)


def report_window(as_of: date) -> tuple[date, date]:
    """The first and last day of the dashboard's window: the last ``WINDOW_MONTHS`` full
    months before ``as_of``'s month, as ``reports.income_report`` uses."""
    last = shift_month(month_of(as_of), -1)
    first = shift_month(last, -(WINDOW_MONTHS - 1))
    return date(*first, 1), month_end(*last)


# ---------------------------------------------------------------------------- sources


def source_names(worker: User) -> list[tuple[str, str]]:
    """The worker's income sources as ``(slug, name)``, by name."""
    return list(
        Source.objects.filter(worker=worker).order_by("name", "slug").values_list("slug", "name")
    )


@dataclass(frozen=True, slots=True)
class SourceRow:
    source: Source
    window_income: int  # home currency, minor units, in the report window
    window_items: int
    total_income: int  # home currency, all time
    total_items: int


def source_rows(worker: User, start: date, end: date) -> list[SourceRow]:
    """Each of the worker's sources with its income (home currency, transfers left out,
    as analytics count it) in the window and over all time, and its item counts."""
    in_window = Q(items__occurred_on__gte=start, items__occurred_on__lte=end)
    earning = ~Q(items__kind=ItemKind.TRANSFER)
    sources = (
        Source.objects.filter(worker=worker)
        .prefetch_related(Prefetch("streams", queryset=Stream.objects.order_by("kind")))
        .annotate(
            window_income=Sum("items__home_income", filter=in_window & earning),
            window_items=Count("items", filter=in_window),
            total_income=Sum("items__home_income", filter=earning),
            total_items=Count("items"),
        )
        .order_by("name")
    )
    return [
        SourceRow(
            source=s,
            window_income=int(s.window_income or 0),
            window_items=s.window_items,
            total_income=int(s.total_income or 0),
            total_items=s.total_items,
        )
        for s in sources
    ]


# ---------------------------------------------------------------------------- months


def months_with_items(worker: User, start: date, end: date) -> set[Month]:
    rows = (
        IncomeItem.objects.filter(worker=worker, occurred_on__gte=start, occurred_on__lte=end)
        .annotate(month=TruncMonth("occurred_on"))
        .values_list("month", flat=True)
        .distinct()
    )
    return {month_of(m) for m in rows}


def month_items(worker: User, month: Month) -> QuerySet[IncomeItem]:
    """The month's items, oldest first, with their source, stream and journal legs loaded
    (two extra queries for the page, however many items)."""
    legs = Leg.objects.select_related("account").order_by("-amount", "account__code")
    return (
        IncomeItem.objects.filter(
            worker=worker, occurred_on__gte=date(*month, 1), occurred_on__lte=month_end(*month)
        )
        .select_related("source", "stream", "journal")
        .prefetch_related(Prefetch("journal__legs", queryset=legs))
        .order_by("occurred_on", "id")
    )


@dataclass(frozen=True, slots=True)
class CurrencyTotals:
    currency: str
    items: int
    gross: int  # income and refunds; a transfer's amount is not earnings
    fee: int  # every fee, a payout's included: all of them are costs
    tips: int
    net: int  # what income and refunds left at the sources, after fees
    transfers: int  # money moved between the worker's own accounts (payouts are negative)


@dataclass(frozen=True, slots=True)
class MonthTotals:
    per_currency: tuple[CurrencyTotals, ...]
    home_currency: str
    home_income: int  # transfers count 0, as booked


def month_totals(worker: User, month: Month) -> MonthTotals:
    """Sums of the month's items per original currency (never added across currencies),
    and the home-currency income they were booked at."""
    items = IncomeItem.objects.filter(
        worker=worker, occurred_on__gte=date(*month, 1), occurred_on__lte=month_end(*month)
    )
    earning = ~Q(kind=ItemKind.TRANSFER)
    rows = (
        items.values("currency")
        .annotate(
            n=Count("id"),
            sum_gross=Sum("gross", filter=earning),
            sum_fee=Sum("fee"),
            sum_tips=Sum("tips"),
            sum_net=Sum("net", filter=earning),
            sum_transfers=Sum("net", filter=Q(kind=ItemKind.TRANSFER)),
        )
        .order_by("currency")
    )
    home = items.aggregate(total=Sum("home_income"))["total"] or 0
    return MonthTotals(
        per_currency=tuple(
            CurrencyTotals(
                r["currency"],
                r["n"],
                int(r["sum_gross"] or 0),
                int(r["sum_fee"] or 0),
                int(r["sum_tips"] or 0),
                int(r["sum_net"] or 0),
                int(r["sum_transfers"] or 0),
            )
            for r in rows
        ),
        home_currency=worker.home_currency,
        home_income=int(home),
    )


def neighbour_months(worker: User, month: Month) -> tuple[Month | None, Month | None]:
    """The nearest earlier and later months that have items, for month-to-month links."""
    first = date(*month, 1)
    items = IncomeItem.objects.filter(worker=worker)
    before = items.filter(occurred_on__lt=first).order_by("-occurred_on").first()
    after = items.filter(occurred_on__gt=month_end(*month)).order_by("occurred_on").first()
    return (
        month_of(before.occurred_on) if before else None,
        month_of(after.occurred_on) if after else None,
    )


# ---------------------------------------------------------------------------- imports


def recent_batches(worker: User, limit: int = 20) -> Sequence[ImportBatch]:
    return list(
        ImportBatch.objects.filter(worker=worker)
        .select_related("source")
        .order_by("-created_at", "-id")[:limit]
    )


def batch_items(batch: ImportBatch, limit: int = 20) -> Sequence[IncomeItem]:
    return list(
        IncomeItem.objects.filter(batch=batch, worker_id=batch.worker_id)
        .select_related("source", "stream")
        .order_by("-occurred_on", "-id")[:limit]
    )


def batch_item_count(batch: ImportBatch) -> int:
    return IncomeItem.objects.filter(batch=batch, worker_id=batch.worker_id).count()


def batch_months(batch: ImportBatch) -> list[Month]:
    rows = (
        IncomeItem.objects.filter(batch=batch, worker_id=batch.worker_id)
        .annotate(month=TruncMonth("occurred_on"))
        .values_list("month", flat=True)
        .distinct()
    )
    return sorted({month_of(m) for m in rows}, reverse=True)


# ---------------------------------------------------------------------------- rates


def visible_rates(worker: User) -> QuerySet[ExchangeRate]:
    """The worker's own rates and the shared ones (the worker's win on the same day when
    converting), most recent first."""
    return ExchangeRate.objects.filter(Q(worker=worker) | Q(worker__isnull=True)).order_by(
        "-on", "base", "quote", "worker_id"
    )
