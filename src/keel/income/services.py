"""Income database work: sources and streams, exchange rates, and turning imported or
entered income items into ledger journals.

Every item becomes one journal in its own currency:

    INCOME    held at source +net, fees +fee, income:<stream> -gross, income:tips -tips
    REFUND    income:<stream> +gross, held at source -(gross + fee), fees +fee
    FEE       fees +fee, held at source -fee
    TRANSFER  held at source +net (a payout is negative), cash -net - fee, fees +fee

so fees are visible as expenses, refunds reduce income, and payouts move the worker's own
money without being income. An import is applied whole or not at all.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from keel.accounts.models import User
from keel.ledger import services as ledger
from keel.ledger.rules import (
    MAX_LEG_AMOUNT,
    FloorBreached,
    IdempotencyConflict,
    JournalSpec,
    LedgerError,
    LegSpec,
)
from keel.money import MoneyError, apply_rate, format_amount, get_currency
from keel.sql import in_values

from .importers import ImportFormatError, check_head, gc_paused, parse
from .importers.base import ParsedFile, ParsedRow, RowKind
from .models import (
    ExchangeRate,
    ImportBatch,
    ImportProfileRecord,
    ImportStatus,
    IncomeItem,
    IncomeSettings,
    Source,
    SourceKind,
    Stream,
    StreamKind,
)
from .rules import tax as tax_rules
from .signals import BookedIncome, income_booked

# A rate older than this is too stale to convert with; weekends and holidays are covered.
RATE_LOOKBACK = timedelta(days=7)
POST_CHUNK = 5_000


# progress(stage, done, total): "parse" (rows read, total 0), "check", "post".
Progress = Callable[[str, int, int], None]


class IncomeError(ValueError):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class MissingRate(IncomeError):
    pass


# ---------------------------------------------------------------------------- settings


def income_settings(worker: User) -> IncomeSettings:
    found, _ = IncomeSettings.objects.get_or_create(worker=worker)
    return found


# ---------------------------------------------------------------------------- sources


# What source_slug gave every name without ASCII letters or digits before they were told
# apart; a source saved that way keeps it (its items' identities carry it).
LEGACY_EMPTY_SLUG = "source"


def source_slug(name: str) -> str:
    """The slug of the source ``ensure_source(worker, name)`` books into: what other
    domains use as the key of income they expect from that source (commitments).

    ``slugify`` keeps only ASCII, so "Мария Иванова", "Иван Петров" and "東京デザイン" all
    came out empty and were one source, "source" (adding the second said the first was
    added, and their income merged). A name with no ASCII letter or digit gets a short hash
    of the name instead. Names that keep some ASCII keep their slug: the slug is part of
    every booked row's identity, so changing it would book a re-imported file again."""
    slug = slugify(name)[:60]
    if slug:
        return slug
    digest = hashlib.sha256(name.strip().casefold().encode()).hexdigest()[:12]
    return f"{LEGACY_EMPTY_SLUG}-{digest}"


def ensure_source(
    worker: User,
    name: str,
    *,
    kind: str = SourceKind.OTHER,
    default_stream: str = StreamKind.PROJECT,
    currency: str | None = None,
) -> Source:
    slug = source_slug(name)
    if slug.startswith(f"{LEGACY_EMPTY_SLUG}-"):
        legacy = Source.objects.filter(worker=worker, slug=LEGACY_EMPTY_SLUG, name=name).first()
        if legacy is not None:
            return legacy
    if kind not in SourceKind.values:
        raise IncomeError(f"source kind {kind!r} is not one of {SourceKind.values}", field="kind")
    if default_stream not in StreamKind.values:
        raise IncomeError(
            f"stream kind {default_stream!r} is not one of {StreamKind.values}", field="stream"
        )
    source, _ = Source.objects.get_or_create(
        worker=worker,
        slug=slug,
        defaults={
            "name": name,
            "kind": kind,
            "default_stream": default_stream,
            "currency": currency or worker.home_currency,
        },
    )
    return source


@dataclass(frozen=True)
class FormatSource:
    """The platform a known export format comes from, as a new source is created for it."""

    name: str
    kind: str
    stream: str
    # Upwork balances are always in US dollars ("Amount $"); other formats state the
    # currency on every row.
    currency: str | None = None


FORMAT_SOURCES: dict[str, FormatSource] = {
    "upwork": FormatSource("Upwork", SourceKind.PLATFORM, StreamKind.PROJECT, "USD"),
    "upwork-legacy": FormatSource("Upwork", SourceKind.PLATFORM, StreamKind.PROJECT, "USD"),
    "upwork-earnings": FormatSource("Upwork", SourceKind.PLATFORM, StreamKind.PROJECT, "USD"),
    "stripe": FormatSource("Stripe", SourceKind.PLATFORM, StreamKind.RECURRING),
    "stripe-itemized": FormatSource("Stripe", SourceKind.PLATFORM, StreamKind.RECURRING),
    "paypal": FormatSource("PayPal", SourceKind.PLATFORM, StreamKind.PROJECT),
    "etsy": FormatSource("Etsy", SourceKind.SHOP, StreamKind.MICRO),
}


def source_for_import(
    worker: User, fmt: str, *, name: str | None = None, stream: str | None = None
) -> Source:
    """The source an import of `fmt` books into: the named one, else the platform's."""
    known = FORMAT_SOURCES.get(fmt)
    name = (name or "").strip() or (known.name if known else "")
    if not name:
        raise IncomeError("name the source this money came from", field="source")
    return ensure_source(
        worker,
        name,
        kind=known.kind if known else SourceKind.OTHER,
        default_stream=stream or (known.stream if known else StreamKind.PROJECT),
        currency=known.currency if known else None,
    )


def ensure_stream(source: Source, kind: str) -> Stream:
    # The worker too, though the source implies it: it is the table's distribution key
    # on Citus (docs/scaling.md).
    stream, _ = Stream.objects.get_or_create(
        worker_id=source.worker_id,
        source=source,
        kind=kind,
        defaults={"name": f"{source.name} ({kind})"},
    )
    return stream


def _code(worker_id: int, *parts: str) -> str:
    return ":".join(("worker", str(worker_id), *parts))


def held_code(worker_id: int, source_slug: str, currency: str) -> str:
    return _code(worker_id, "sources", source_slug, currency.lower())


def income_code(worker_id: int, source_slug: str, stream_kind: str) -> str:
    return _code(worker_id, "income", source_slug, stream_kind)


def fees_code(worker_id: int, source_slug: str) -> str:
    return _code(worker_id, "expenses", "fees", source_slug)


def cash_code(worker: User, currency: str) -> str:
    if currency == worker.home_currency:
        return _code(worker.pk, "cash")
    return _code(worker.pk, "cash", currency.lower())


def _open_accounts(
    worker: User, source: Source, currency: str, stream_kinds: Iterable[str]
) -> None:
    owner: dict[str, Any] = {"owner_type": "worker", "owner_id": worker.pk}
    ledger.open_account(
        held_code(worker.pk, source.slug, currency),
        kind="asset",
        currency=currency,
        name=f"Held at {source.name} ({currency})",
        **owner,
    )
    ledger.open_account(
        fees_code(worker.pk, source.slug),
        kind="expense",
        currency=source.currency,
        name=f"{source.name} fees",
        **owner,
    )
    if currency != source.currency:
        ledger.open_account(
            f"{fees_code(worker.pk, source.slug)}:{currency.lower()}",
            kind="expense",
            currency=currency,
            name=f"{source.name} fees ({currency})",
            **owner,
        )
    for kind in stream_kinds:
        suffix = "" if currency == source.currency else f":{currency.lower()}"
        ledger.open_account(
            income_code(worker.pk, source.slug, kind) + suffix,
            kind="income",
            currency=currency,
            name=f"{source.name} ({kind})",
            **owner,
        )
    ledger.open_account(
        cash_code(worker, currency),
        kind="asset",
        currency=currency,
        name="Cash" if currency == worker.home_currency else f"Cash ({currency})",
        **owner,
    )


def _currency_suffix(source: Source, currency: str) -> str:
    return "" if currency == source.currency else f":{currency.lower()}"


# ---------------------------------------------------------------------------- rates


def set_rate(
    worker: User | None,
    base: str,
    quote: str,
    on: date,
    rate: Decimal | str,
    *,
    origin: str = "manual",
) -> ExchangeRate:
    for name, code in (("base", base), ("quote", quote)):
        try:
            get_currency(code)
        except MoneyError as exc:
            raise IncomeError(str(exc), field=name) from None
    try:
        value = Decimal(str(rate))
    except InvalidOperation:
        raise IncomeError(f"rate {rate!r} is not a number", field="rate") from None
    if not value.is_finite() or value <= 0:
        raise IncomeError("rate must be a positive number", field="rate")
    if base == quote:
        raise IncomeError(
            f"a rate converts {base} into another currency, not itself", field="quote"
        )
    # What the rate column holds (24 digits, 10 after the point): a larger rate could not be
    # read back, and a finer one would be rounded, a rate below 1e-10 down to zero.
    column = ExchangeRate._meta.get_field("rate")
    places = column.decimal_places
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:
        raise IncomeError(
            f"rate {format(value, 'f')} has more than {places} decimal places", field="rate"
        )
    if value >= 10 ** (column.max_digits - places):
        raise IncomeError(
            f"rate {format(value, 'f')} is too large: at most "
            f"{column.max_digits - places} digits before the point",
            field="rate",
        )
    found, _ = ExchangeRate.objects.update_or_create(
        worker=worker,
        base=base,
        quote=quote,
        on=on,
        defaults={"rate": value, "origin": origin},
    )
    return found


def import_rates(worker: User | None, text: str, *, origin: str = "import") -> int:
    """Load a rate file: CSV with a header `date,base,quote,rate` (ISO date, e.g.
    `2026-03-02,EUR,USD,1.0842`). All rows or none; errors name the line and column."""
    import csv
    import io

    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = {"date", "base", "quote", "rate"} - set(header)
    if missing:
        raise IncomeError(f"rate file lacks column(s) {', '.join(sorted(missing))}", field="header")
    parsed: list[tuple[date, str, str, Decimal]] = []
    for line, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        try:
            on = date.fromisoformat(row["date"])
        except ValueError:
            raise IncomeError(
                f"line {line}, column date: {row['date']!r} is not YYYY-MM-DD", field="date"
            ) from None
        try:
            rate = Decimal(row["rate"])
        except InvalidOperation:
            raise IncomeError(
                f"line {line}, column rate: {row['rate']!r} is not a number", field="rate"
            ) from None
        parsed.append((on, row["base"], row["quote"], rate))
    with transaction.atomic():
        for index, (on, base, quote, rate) in enumerate(parsed, start=2):
            try:
                set_rate(worker, base, quote, on, rate, origin=origin)
            except IncomeError as exc:
                raise IncomeError(
                    f"line {index}, column {exc.field}: {exc}", field=exc.field
                ) from None
    return len(parsed)


class RateBook:
    """Rates for one worker, loaded once per import: the worker's own rates first, then
    shared ones; a date without a rate uses the latest in the week before it."""

    def __init__(self, worker: User, pairs: Iterable[tuple[str, str]], start: date, end: date):
        self.rates: dict[tuple[str, str], list[tuple[date, Decimal, bool]]] = defaultdict(list)
        for base, quote in set(pairs):
            rows = ExchangeRate.objects.filter(
                base=base,
                quote=quote,
                on__gte=start - RATE_LOOKBACK,
                on__lte=end,
            ).filter(Q(worker=worker) | Q(worker__isnull=True))
            for on, rate, worker_id in rows.values_list("on", "rate", "worker_id"):
                self.rates[(base, quote)].append((on, rate, worker_id is not None))
        for entries in self.rates.values():
            # Own rates sort after shared ones on the same day, so they win.
            entries.sort(key=lambda entry: (entry[0], entry[2]))

    def rate(self, base: str, quote: str, on: date) -> Decimal:
        if base == quote:
            return Decimal(1)
        best: Decimal | None = None
        for day, rate, _ in self.rates.get((base, quote), []):
            if day > on:
                break
            if day >= on - RATE_LOOKBACK:
                best = rate
        if best is None:
            raise MissingRate(
                f"no {base}→{quote} exchange rate on or in the week before {on.isoformat()};"
                " add one on the rates page or import a rate file",
                field="rate",
            )
        return best


# ---------------------------------------------------------------------------- items


def spent_code(worker: User, currency: str) -> str:
    """Where money spent from a source's balance goes (and a purchase refunded comes from):
    outside the worker's books, so never their cash."""
    if currency == worker.home_currency:
        return _code(worker.pk, "expenses", "spent")
    return _code(worker.pk, "expenses", "spent", currency.lower())


def tax_code(worker: User, currency: str) -> str:
    if currency == worker.home_currency:
        return _code(worker.pk, "tax")
    return _code(worker.pk, "tax", currency.lower())


@dataclass(frozen=True, slots=True)
class RowAccounts:
    """The accounts a row of one currency and stream kind posts to."""

    held: str
    fees: str
    income: str
    tips: str
    cash: str
    tax: str
    spent: str
    # Always so for the codes Keel builds; when not, a row's legs on one account are merged.
    distinct: bool


def row_accounts(worker: User, source: Source, currency: str, stream_kind: str) -> RowAccounts:
    suffix = _currency_suffix(source, currency)
    codes = (
        held_code(worker.pk, source.slug, currency),
        fees_code(worker.pk, source.slug) + suffix,
        income_code(worker.pk, source.slug, stream_kind) + suffix,
        income_code(worker.pk, source.slug, "tips") + suffix,
        cash_code(worker, currency),
        tax_code(worker, currency),
        spent_code(worker, currency),
    )
    return RowAccounts(*codes, distinct=len(set(codes)) == len(codes))


def _journal_for(
    worker: User,
    source: Source,
    stream_kind: str,
    row: ParsedRow,
    key: str,
    *,
    tax_rate_bps: int = 0,
    accounts: RowAccounts | None = None,
) -> JournalSpec:
    """The journal of one row. With a tax set-aside, that share of a payment's take-home
    moves from cash to the worker's tax account in the same journal. `accounts` are the
    row's accounts when the caller has them already (a bulk import works them out once per
    currency and stream kind, not once per row)."""
    c = row.currency
    a = accounts or row_accounts(worker, source, c, stream_kind)
    kind = row.kind
    legs: list[tuple[str, int]]
    if kind == RowKind.INCOME:
        legs = [(a.held, row.net), (a.fees, row.fee), (a.income, -row.gross)]
        if row.tips:
            legs.append((a.tips, -row.tips))
    elif kind == RowKind.REFUND:
        legs = [(a.income, row.gross), (a.held, row.net), (a.fees, row.fee)]
    elif kind == RowKind.FEE:
        legs = [(a.fees, row.fee), (a.held, -row.fee)]
    else:
        other = a.spent if row.spent else a.cash
        legs = [(a.held, row.net), (other, -row.net - row.fee), (a.fees, row.fee)]
    set_aside = 0
    if tax_rate_bps and kind == RowKind.INCOME and row.net > 0:
        set_aside = tax_rules.set_aside(row.net, tax_rate_bps)
        legs += [(a.tax, set_aside), (a.cash, -set_aside)]
    if not a.distinct:
        merged: dict[str, int] = defaultdict(int)
        for code, amount in legs:
            merged[code] += amount
        legs = list(merged.items())
    metadata: dict[str, Any] = {
        "source": source.slug,
        "stream": stream_kind,
        "gross": row.gross,
        "fee": row.fee,
        "tips": row.tips,
        "net": row.net,
        "currency": c,
    }
    if set_aside:
        metadata["tax_set_aside"] = set_aside
    if row.external_id:
        metadata["external_id"] = row.external_id
    return JournalSpec(
        idempotency_key=key,
        kind=_JOURNAL_KINDS[kind],
        effective_date=row.occurred_on,
        legs=tuple([LegSpec(code, amount, c) for code, amount in legs if amount]),
        memo=row.description[:500],
        metadata=metadata,
    )


_JOURNAL_KINDS = {kind: f"income.{kind.value}" for kind in RowKind}


def row_problem(row: ParsedRow) -> str | None:
    """Why a parsed row cannot be booked, if it cannot. (A fee row's fee may be negative:
    a fee credited back, such as Etsy's "Credit for Etsy Ads" or a Stripe fee refund.)"""
    if row.kind == RowKind.INCOME and row.net != row.gross + row.tips - row.fee:
        return f"net {row.net} does not equal gross {row.gross} + tips {row.tips} - fee {row.fee}"
    if row.kind == RowKind.REFUND and row.net != -row.gross - row.fee:
        return f"refund net {row.net} does not equal -(gross {row.gross} + fee {row.fee})"
    if row.kind == RowKind.INCOME and row.gross < 0:
        return "income gross is negative"
    if row.kind == RowKind.TRANSFER and row.net == 0:
        return "a transfer of zero moves nothing"
    return None


def identities(source: Source, rows: Sequence[ParsedRow]) -> list[str]:
    """A row's identity is the source's transaction id where the file has one; otherwise a
    hash of its content plus how many identical rows came before it in the file, so two
    genuinely identical rows both survive and a re-import adds neither again."""
    seen: Counter[str] = Counter()
    result = []
    for row in rows:
        if row.external_id:
            result.append(f"{source.slug}:{row.kind.value}:{row.external_id}"[:200])
            continue
        digest = hashlib.sha256("\x1f".join(row.raw).encode()).hexdigest()[:40]
        seen[digest] += 1
        result.append(f"{source.slug}:h:{digest}:{seen[digest]}")
    return result


@dataclass
class ImportSummary:
    format: str
    rows_read: int = 0
    imported: int = 0
    duplicates: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, dict[str, int]] = field(default_factory=dict)
    applied: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "rows_read": self.rows_read,
            "imported": self.imported,
            "duplicates": self.duplicates,
            "skipped": self.skipped,
            "rejected": self.rejected,
            "totals": self.totals,
            "applied": self.applied,
        }


def _totals(rows: Iterable[ParsedRow]) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = {}
    for row in rows:
        bucket = totals.setdefault(
            row.currency,
            {"income_gross": 0, "fees": 0, "tips": 0, "refunds": 0, "transfers": 0, "net": 0},
        )
        if row.kind == RowKind.INCOME:
            bucket["income_gross"] += row.gross
            bucket["tips"] += row.tips
        elif row.kind == RowKind.REFUND:
            bucket["refunds"] += row.gross
        elif row.kind == RowKind.TRANSFER:
            bucket["transfers"] += row.net
        bucket["fees"] += row.fee
        if row.kind != RowKind.TRANSFER:
            bucket["net"] += row.net
    return dict(sorted(totals.items()))


def parse_file(
    stream: IO[bytes],
    *,
    fmt: str,
    source: Source,
    profile: ImportProfileRecord | None = None,
    date_order: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> ParsedFile:
    """Read a file for `source` (whose currency stands in where a format states none);
    `progress("parse", rows_read, 0)` is called as it goes."""
    from .importers.csv_profile import ImportProfile

    options: dict[str, Any] = {"date_order": date_order, "currency": source.currency}
    if profile is not None:
        options["profile"] = ImportProfile.from_dict(profile.config)
    return parse(
        fmt,
        cast(BinaryIO, stream),
        progress=(lambda n: progress("parse", n, 0)) if progress else None,
        **options,
    )


def import_file(
    worker: User,
    stream: IO[bytes],
    *,
    fmt: str,
    source: Source,
    dry_run: bool = False,
    profile: ImportProfileRecord | None = None,
    date_order: str | None = None,
    batch: ImportBatch | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> ImportSummary:
    """Parse a file and, unless dry_run, book every row that moves money — all or none.

    `progress(stage, done, total)` is called while parsing ("parse"), checking rows against
    what is already booked ("check") and posting ("post"). A file with any rejected row
    books nothing; the summary names each rejection.
    """
    parsed = parse_file(
        stream, fmt=fmt, source=source, profile=profile, date_order=date_order, progress=progress
    )
    return summarize(worker, source, parsed, dry_run=dry_run, batch=batch, progress=progress)


def summarize(
    worker: User,
    source: Source,
    parsed: ParsedFile,
    *,
    dry_run: bool = False,
    batch: ImportBatch | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> ImportSummary:
    """Check a parsed file against the books and, unless dry_run, book it (all or none)."""
    summary = ImportSummary(format=parsed.format, rows_read=parsed.rows_read)
    summary.skipped = [{"line": s.line, "reason": s.reason} for s in parsed.skipped]
    summary.rejected = [
        {"line": r.line, "column": r.column, "reason": r.reason} for r in parsed.rejected
    ]
    booked = book_rows(
        worker,
        source,
        parsed.rows,
        dry_run=dry_run,
        batch=batch,
        progress=progress,
        rejected=summary.rejected,
    )
    summary.duplicates = booked.duplicates
    summary.totals = booked.totals
    summary.imported = booked.imported
    summary.applied = booked.applied
    summary.rejected.sort(key=lambda r: (r["line"], r["column"]))
    return summary


@dataclass
class Booked:
    imported: int = 0
    duplicates: int = 0
    applied: bool = False
    totals: dict[str, dict[str, int]] = field(default_factory=dict)


def book_rows(
    worker: User,
    source: Source,
    rows: Sequence[ParsedRow],
    *,
    dry_run: bool = False,
    batch: ImportBatch | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    rejected: list[dict[str, Any]] | None = None,
) -> Booked:
    """Book parsed rows for one source: rows already booked (same identity) are skipped,
    and if any row is refused (listed in `rejected`, which may arrive non-empty) nothing
    is booked."""
    # Booking makes millions of short-lived objects and no reference cycles: the cyclic
    # collector's full passes over the parsed file would cost a tenth of the import.
    with gc_paused():
        if dry_run:
            return _check_rows(worker, source, rows, progress, rejected)[0]
        # The check against what is booked and the booking share one transaction, so a
        # row booked by someone else in between cannot slip through as new.
        with transaction.atomic():
            result, unique, rates = _check_rows(worker, source, rows, progress, rejected)
            if rates is None:
                return result
            _book(worker, source, unique, rates, batch, progress)
            result.applied = True
            return result


def _check_rows(
    worker: User,
    source: Source,
    rows: Sequence[ParsedRow],
    progress: Callable[[str, int, int], None] | None,
    rejected: list[dict[str, Any]] | None,
) -> tuple[Booked, list[tuple[str, ParsedRow]], RateBook | None]:
    """What booking `rows` would do: the rows new to the books (with their identities) and
    the rates to convert them, or no rates when a row is refused."""
    rejected = rejected if rejected is not None else []
    total = len(rows)
    if progress:
        progress("check", 0, total)
    for row in rows:
        problem = row_problem(row)
        if problem:
            rejected.append({"line": row.line, "column": "", "reason": problem})
    ids = identities(source, rows)
    existing = _existing_identities(worker, ids)
    # Identical identities inside one file (an overlapping export pasted twice) count once.
    unique: dict[str, ParsedRow] = {}
    for row, ident in zip(rows, ids, strict=True):
        if ident not in existing:
            unique.setdefault(ident, row)
    result = Booked(duplicates=total - len(unique), totals=_totals(unique.values()))
    rates: RateBook | None = _rates_for(worker, unique.values(), rejected)
    if progress:
        progress("check", total, total)
    if rejected or rates is None:
        return result, [], None
    result.imported = len(unique)
    return result, list(unique.items()), rates


def _existing_identities(worker: User, ids: Sequence[str]) -> set[str]:
    if not ids:
        return set()
    where, param = in_values("identity", ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT identity FROM {IncomeItem._meta.db_table} WHERE worker_id = %s AND {where}",
            [worker.pk, param],
        )
        return {identity for (identity,) in cursor.fetchall()}


def _rates_for(
    worker: User, rows: Iterable[ParsedRow], rejected: list[dict[str, Any]]
) -> RateBook | None:
    """The rates to convert `rows`, or None with a rejection in `rejected` for the first row
    of each currency and day that has no rate: every missing rate at once, each naming a
    line, so one round of adding rates is enough."""
    rows = list(rows)
    foreign = {row.currency for row in rows if row.currency != worker.home_currency}
    if not rows:
        return RateBook(worker, [], date.today(), date.today())  # noqa: DTZ011
    book = RateBook(
        worker,
        [(c, worker.home_currency) for c in foreign],
        min(row.occurred_on for row in rows),
        max(row.occurred_on for row in rows),
    )
    # Every foreign row must have its rate before anything is booked.
    missing: set[tuple[str, date]] = set()
    for row in rows:
        if row.currency == worker.home_currency or row.kind == RowKind.TRANSFER:
            continue
        if (row.currency, row.occurred_on) in missing:
            continue
        try:
            book.rate(row.currency, worker.home_currency, row.occurred_on)
        except MissingRate as exc:
            missing.add((row.currency, row.occurred_on))
            rejected.append({"line": row.line, "column": "Currency", "reason": str(exc)})
    return None if missing else book


def _home_income(worker: User, row: ParsedRow, rates: RateBook) -> tuple[int, Decimal | None]:
    if row.kind == RowKind.TRANSFER:
        return 0, None
    take_home = row.net
    if row.currency == worker.home_currency:
        return take_home, None
    rate = rates.rate(row.currency, worker.home_currency, row.occurred_on)
    return apply_rate(take_home, row.currency, worker.home_currency, rate), rate


ITEM_COLUMNS = (
    "worker_id",
    "source_id",
    "stream_id",
    "journal_id",
    "batch_id",
    "kind",
    "occurred_on",
    "currency",
    "gross",
    "fee",
    "tips",
    "net",
    "home_currency",
    "home_income",
    "fx_rate",
    "identity",
    "external_id",
    "description",
    "counterparty",
    "hours",
)


def _as_is(value: Any) -> Any:
    return value


@transaction.atomic
def _book(
    worker: User,
    source: Source,
    rows: list[tuple[str, ParsedRow]],
    rates: RateBook,
    batch: ImportBatch | None,
    progress: Callable[[str, int, int], None] | None,
) -> None:
    kinds_by_currency: dict[str, set[str]] = defaultdict(set)
    spent_currencies: set[str] = set()
    for _, row in rows:
        kinds_by_currency[row.currency].add(row.stream_hint or source.default_stream)
        if row.spent:
            spent_currencies.add(row.currency)
        if row.tips:
            kinds_by_currency[row.currency].add("tips")
    settings = income_settings(worker)
    tax_rate = settings.tax_rate_bps if settings.tax_set_aside else 0
    streams = {}
    for currency, kinds in kinds_by_currency.items():
        _open_accounts(worker, source, currency, kinds)
        if tax_rate:
            ledger.open_account(
                tax_code(worker, currency),
                owner_type="worker",
                owner_id=worker.pk,
                kind="asset",
                currency=currency,
                floor=0,
                name="Tax set-aside"
                if currency == worker.home_currency
                else f"Tax set-aside ({currency})",
            )
        if currency in spent_currencies:
            ledger.open_account(
                spent_code(worker, currency),
                owner_type="worker",
                owner_id=worker.pk,
                kind="expense",
                currency=currency,
                name="Spent from platform balances"
                if currency == worker.home_currency
                else f"Spent from platform balances ({currency})",
            )
        for kind in kinds - {"tips"}:
            if kind not in streams:
                streams[kind] = ensure_stream(source, kind)
    # Files list newest or oldest first; journals are posted in the order things happened.
    rows = sorted(rows, key=lambda pair: pair[1].occurred_on)
    ops = connection.ops
    day = ops.adapt_datefield_value if connection.vendor == "sqlite" else _as_is

    def decimal(value: Decimal | None) -> Any:
        return None if value is None else ops.adapt_decimalfield_value(value, 24, 10)

    insert_items = (
        f"INSERT INTO {IncomeItem._meta.db_table} ({', '.join(ITEM_COLUMNS)})"
        f" VALUES ({', '.join(['%s'] * len(ITEM_COLUMNS))})"
    )
    total = len(rows)
    booked_income: list[BookedIncome] = []
    # Worked out once per currency and stream kind (or day), not once per row: a
    # million-row file has a handful of each.
    charts: dict[tuple[str, str], RowAccounts] = {}
    days: dict[date, Any] = {}
    home_currency = worker.home_currency
    key_prefix = f"income:{worker.pk}:"
    batch_id = batch.pk if batch is not None else None
    for start in range(0, total, POST_CHUNK):
        chunk = rows[start : start + POST_CHUNK]
        specs = []
        for identity, row in chunk:
            kind = row.stream_hint or source.default_stream
            accounts = charts.get((row.currency, kind))
            if accounts is None:
                accounts = charts[row.currency, kind] = row_accounts(
                    worker, source, row.currency, kind
                )
            specs.append(
                _journal_for(
                    worker,
                    source,
                    kind,
                    row,
                    key_prefix + identity,
                    tax_rate_bps=tax_rate,
                    accounts=accounts,
                )
            )
        try:
            results = ledger.post_journals(specs)
        except LedgerError as exc:
            raise _at_row(exc, chunk) from exc
        items = []
        for (identity, row), result in zip(chunk, results, strict=True):
            if row.kind == RowKind.TRANSFER:
                home, rate = 0, None
            elif row.currency == home_currency:
                home, rate = row.net, None
            else:
                home, rate = _home_income(worker, row, rates)
            kind = row.stream_hint or source.default_stream
            on = days.get(row.occurred_on)
            if on is None:
                on = days[row.occurred_on] = day(row.occurred_on)
            items.append(
                (
                    worker.pk,
                    source.pk,
                    streams[kind].pk,
                    result.id,
                    batch_id,
                    row.kind.value,
                    on,
                    row.currency,
                    row.gross,
                    row.fee,
                    row.tips,
                    row.net,
                    worker.home_currency,
                    home,
                    decimal(rate),
                    identity,
                    row.external_id[:200],
                    row.description[:500],
                    row.counterparty[:200],
                    row.hours,
                )
            )
        # Plain rows with one executemany: the ORM's per-object work cost more than the
        # ledger's own writes for a million-row import.
        with connection.cursor() as cursor:
            cursor.executemany(insert_items, items)
        journals = {
            r.id for (_, row), r in zip(chunk, results, strict=True) if row.kind == RowKind.INCOME
        }
        if journals and income_booked.has_listeners():
            # By journal id alone: its unique index reads just this chunk's range, where a
            # filter on the worker too let SQLite read the worker's whole history each chunk
            # (quadratic: 6 of 110 s on a million-row file). The ids are this chunk's own.
            booked_income += [
                BookedIncome(pk, on, net, currency)
                for pk, journal_id, on, net, currency in IncomeItem.objects.filter(
                    journal_id__gte=min(journals), journal_id__lte=max(journals)
                ).values_list("pk", "journal_id", "occurred_on", "net", "currency")
                if journal_id in journals
            ]
        if progress:
            progress("post", min(start + POST_CHUNK, total), total)
    # Still inside this transaction: what other domains do with the new income (the
    # gateway's elective withholding) lands with the import or not at all.
    income_booked.send(sender=Source, worker=worker, source=source, items=booked_income)


_JOURNAL_INDEX = re.compile(r"^journals\[(\d+)\]\.")


def _at_row(exc: LedgerError, chunk: Sequence[tuple[str, ParsedRow]]) -> IncomeError:
    """The ledger names a journal by its place in the batch; the worker knows the row."""
    field_name = exc.field or ""
    match = _JOURNAL_INDEX.match(field_name)
    index = int(match[1]) if match else 0
    line = chunk[index][1].line if index < len(chunk) else 0
    return IncomeError(
        f"line {line}: {exc}" if line else str(exc),
        field=field_name[match.end() :] if match else field_name,
    )


# ---------------------------------------------------------------------------- batches


def imports_dir() -> Path:
    path = Path(settings.DATA_DIR) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def store_upload(worker: User, name: str, stream: IO[bytes]) -> tuple[Path, str]:
    """Keep an uploaded file outside the web root between preview and apply."""
    digest = hashlib.sha256()
    target = imports_dir() / f"{worker.pk}-{timezone.now():%Y%m%d%H%M%S%f}.upload"
    with target.open("wb") as out:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    return target, digest.hexdigest()


def format_error_message(exc: ImportFormatError, fmt: str) -> str:
    """The one line that says why a file cannot be read as `fmt` at all."""
    where = f" (line {exc.line})" if exc.line and not str(exc).startswith("line ") else ""
    return f"Keel cannot read this file as {fmt}{where}: {exc}"


def check_upload(
    fmt: str,
    head: bytes,
    *,
    source: Source,
    profile: ImportProfileRecord | None = None,
    date_order: str | None = None,
) -> None:
    """Refuse, while the upload is still in hand, a file whose first lines cannot be read as
    `fmt` (missing columns, not UTF-8): raises ImportFormatError. The whole file is read
    later, by the preview job."""
    from .importers.csv_profile import ImportProfile

    check_head(
        fmt,
        head,
        profile=ImportProfile.from_dict(profile.config) if profile is not None else None,
        date_order=date_order,
        currency=source.currency,
    )


def receive_upload(
    worker: User,
    *,
    name: str,
    stream: IO[bytes],
    fmt: str,
    source: Source,
    date_order: str | None = None,
    profile: ImportProfileRecord | None = None,
) -> ImportBatch:
    """Keep an uploaded file and open its batch, waiting to be checked (`preview_batch`)."""
    path, digest = store_upload(worker, name, stream)
    return ImportBatch.objects.create(
        worker=worker,
        format=fmt,
        filename=name[:255],
        file_sha256=digest,
        stored_path=str(path),
        source=source,
        profile=profile,
        options={"date_order": date_order},
        status=ImportStatus.CHECKING,
        summary={},
    )


@contextmanager
def _stored_file(batch: ImportBatch) -> Iterator[IO[bytes]]:
    path = Path(batch.stored_path)
    if not path.is_file():
        raise IncomeError(
            "the uploaded file is no longer on the server; upload it again", field="file"
        )
    with path.open("rb") as handle:
        yield handle


def discard_import_files(worker: User) -> int:
    """Forget the export files the worker uploaded (kept after an import is applied): their
    rows are booked, and a platform's export holds more about the worker and their clients
    (addresses, emails, phone numbers) than the books do. The files go once the calling
    transaction commits; returns how many batches had one."""
    batches = ImportBatch.objects.filter(worker=worker).exclude(stored_path="")
    paths = [Path(p) for p in batches.values_list("stored_path", flat=True)]
    batches.update(stored_path="")

    def remove() -> None:
        for path in paths:
            path.unlink(missing_ok=True)

    transaction.on_commit(remove)
    return len(paths)


def preview_batch(
    batch: ImportBatch, progress: Callable[[str, int, int], None] | None = None
) -> ImportSummary:
    """Read a received upload and check every row against the books, booking nothing; the
    batch becomes previewed, with the summary the page shows."""
    if batch.status != ImportStatus.CHECKING:
        raise IncomeError(
            f"this import is {batch.status}, not waiting to be checked", field="batch"
        )
    if batch.source is None:
        raise IncomeError("the import's source no longer exists", field="source")
    with _stored_file(batch) as handle:
        summary = import_file(
            batch.worker,
            handle,
            fmt=batch.format,
            source=batch.source,
            dry_run=True,
            profile=batch.profile,
            date_order=(batch.options or {}).get("date_order"),
            progress=progress,
        )
    batch.summary = summary.as_dict()
    batch.status = ImportStatus.PREVIEWED
    batch.save(update_fields=["summary", "status"])
    return summary


def fail_batch(batch_id: int, message: str) -> None:
    """A file that could not be checked: its batch keeps the reason and cannot be applied."""
    ImportBatch.objects.filter(pk=batch_id, status=ImportStatus.CHECKING).update(
        status=ImportStatus.FAILED, summary={"error": message}
    )


def preview_upload(
    worker: User,
    *,
    name: str,
    stream: IO[bytes],
    fmt: str,
    source: Source,
    date_order: str | None = None,
    profile: ImportProfileRecord | None = None,
) -> ImportBatch:
    """Receive and check an upload in one go (the page does the checking in a job)."""
    batch = receive_upload(
        worker,
        name=name,
        stream=stream,
        fmt=fmt,
        source=source,
        date_order=date_order,
        profile=profile,
    )
    preview_batch(batch)
    return batch


def _require_applicable(batch: ImportBatch) -> None:
    if batch.status == ImportStatus.APPLIED:
        raise IncomeError("this import was already applied", field="batch")
    if batch.status in (ImportStatus.CHECKING, ImportStatus.FAILED):
        raise IncomeError(f"this import is {batch.status} and cannot be applied", field="batch")
    if batch.source is None:
        raise IncomeError("the import's source no longer exists", field="source")


def apply_batch(
    batch: ImportBatch, progress: Callable[[str, int, int], None] | None = None
) -> ImportSummary:
    """Book a previewed upload, all rows or none; the batch records the outcome."""
    _require_applicable(batch)
    assert batch.source is not None  # _require_applicable refuses a batch without one
    with _stored_file(batch) as handle:
        parsed = parse_file(
            handle,
            fmt=batch.format,
            source=batch.source,
            profile=batch.profile,
            date_order=(batch.options or {}).get("date_order"),
            progress=progress,
        )
    with transaction.atomic():
        # Two applies of one batch queue here (a row lock on PostgreSQL, the writer lock
        # on SQLite); the second then finds the batch applied and books nothing.
        locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        _require_applicable(locked)
        summary = summarize(batch.worker, batch.source, parsed, batch=locked, progress=progress)
        locked.summary = summary.as_dict()
        locked.status = ImportStatus.APPLIED if summary.applied else ImportStatus.REFUSED
        locked.applied_at = timezone.now() if summary.applied else None
        if summary.applied:
            locked.stored_path = batch.stored_path + ".applied"
        locked.save(update_fields=["summary", "status", "applied_at", "stored_path"])
    if summary.applied:
        # Renamed after the commit: a rollback never leaves the file under the new name.
        shutil.move(batch.stored_path, locked.stored_path)
    batch.refresh_from_db()
    return summary


# ---------------------------------------------------------------------------- salary


def pay_salary(worker: User, on: date, amount: int | None = None) -> ledger.PostedJournal:
    """Pay the worker's steady salary for one pay period: a transfer from the salary buffer
    to cash. Idempotent per worker and pay day; refused (nothing moves) when the buffer holds
    less than the salary, since the buffer never goes below zero."""
    settings = income_settings(worker)
    salary = settings.salary if amount is None else amount
    if type(salary) is not int or salary <= 0:
        raise IncomeError("set a salary above zero first", field="salary")
    buffer = _code(worker.pk, "buffer")
    cash = cash_code(worker, worker.home_currency)
    currency = worker.home_currency
    return ledger.post_journal(
        JournalSpec(
            idempotency_key=f"salary:{worker.pk}:{on.isoformat()}",
            kind="salary",
            effective_date=on,
            legs=(LegSpec(cash, salary, currency), LegSpec(buffer, -salary, currency)),
            memo=f"Salary for {on:%B %Y}",
            metadata={"salary": salary},
        )
    )


def move_buffer(
    worker: User, amount: int, *, into_buffer: bool, on: date, idempotency_key: str
) -> ledger.PostedJournal:
    """Move the worker's own money between their cash and their salary buffer: putting
    money in sets it aside for the salaries to come, taking it out gives it back to spend.

    One journal, idempotent by ``idempotency_key`` (a form's token): the same form sent
    twice moves the money once. Cash has no floor (it mirrors a bank account Keel only
    partly sees), so money can go in before Keel has seen it arrive; the buffer never goes
    below zero, so no more can come out than it holds. Nothing moves on a refusal."""
    if type(amount) is not int or amount <= 0:
        raise IncomeError("enter an amount above zero", field="amount")
    currency = worker.home_currency
    if amount > MAX_LEG_AMOUNT:
        limit = format_amount(MAX_LEG_AMOUNT, currency, symbol=True)
        raise IncomeError(f"the amount is out of range (at most {limit})", field="amount")
    if on > timezone.localdate():
        raise IncomeError("a move cannot be dated after today", field="on")
    buffer = _code(worker.pk, "buffer")
    cash = cash_code(worker, currency)
    sign = 1 if into_buffer else -1
    try:
        return ledger.post_journal(
            JournalSpec(
                idempotency_key=f"buffer:{worker.pk}:{idempotency_key}",
                kind="buffer_in" if into_buffer else "buffer_out",
                effective_date=on,
                legs=(
                    LegSpec(buffer, sign * amount, currency),
                    LegSpec(cash, -sign * amount, currency),
                ),
                memo="Put aside in the salary buffer"
                if into_buffer
                else "Taken back from the salary buffer",
            )
        )
    except FloorBreached:
        held = format_amount(ledger.balance(buffer).available, currency, symbol=True)
        raise IncomeError(
            f"the buffer holds {held}: no more than that can come out", field="amount"
        ) from None
    except IdempotencyConflict:
        raise IncomeError(
            "this form was already sent with other figures; reload the page to start again"
        ) from None


def pay_salaries_due(on: date) -> list[tuple[User, str]]:
    """Pay every worker whose pay day is `on` (the scheduled run; running it twice for the
    same day pays nobody twice). Returns who was paid or why not."""
    outcomes: list[tuple[User, str]] = []
    for chosen in IncomeSettings.objects.filter(salary__gt=0).select_related("worker"):
        if on.day != min(chosen.salary_day, 28):
            continue
        try:
            result = pay_salary(chosen.worker, on)
        except LedgerError as exc:
            outcomes.append((chosen.worker, f"not paid: {exc}"))
        else:
            outcomes.append((chosen.worker, "paid" if result.created else "already paid"))
    return outcomes


# ---------------------------------------------------------------------------- profiles


def save_import_profile(worker: User, config: dict[str, Any]) -> ImportProfileRecord:
    """Save (or replace) a column mapping for files in no known format; the profile is
    validated first (errors name the key) and stored by its name."""
    from .importers.csv_profile import ImportProfile

    try:
        profile = ImportProfile.from_dict(config)
    except ValueError as exc:
        raise IncomeError(str(exc), field="profile") from None
    # SQLite stores a longer name whole; PostgreSQL refuses the write (a server error).
    longest = ImportProfileRecord._meta.get_field("name").max_length or 0
    if len(profile.name) > longest:
        raise IncomeError(f"name must be at most {longest} characters", field="profile")
    record, _ = ImportProfileRecord.objects.update_or_create(
        worker=worker, name=profile.name, defaults={"config": profile.to_dict()}
    )
    return record
