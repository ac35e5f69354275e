"""Earnings events: a platform reports what a worker earned; the policy in effect on the
event's day says what the platform contributes; one ledger journal books it.

A batch is validated whole before anything is written and applied in one transaction:
every bad event is named (index, field, reason) and a refused batch changes nothing. An
event id already recorded with the same content is reported as `exists` with the
contribution it produced; the same id with other content is refused.

Period sums (what the worker earned and was given so far this quarter, month and year)
come from one grouped query per batch and are carried forward in memory, so a batch of
10,000 events costs a handful of queries plus the bulk ledger write. Events are applied in
the order they arrive: a late event for an earlier day is measured against what had
arrived before it, which keeps every recorded contribution final.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from keel.accounts.models import User
from keel.ledger import services as ledger
from keel.ledger.models import Account
from keel.ledger.rules import JournalSpec, LegSpec
from keel.money import MoneyError, get_currency

from ..errors import GatewayError
from ..models import (
    BenefitsAccount,
    ContributionPolicy,
    EarningsEvent,
    EventStatus,
    LinkStatus,
    Platform,
    WorkerLink,
)
from ..rules.buckets import BUCKETS
from ..rules.policy import (
    Contribution,
    Earnings,
    PeriodToDate,
    Policy,
    PolicyError,
    contribution,
    eligible_amount,
    monthly_minimum_topup,
    period_bounds,
    threshold_amount,
)
from .benefits import CreditLegs, allocation_of, bucket_code, open_buckets
from .platforms import custody_code, open_platform_accounts, receivable_code, suspense_code

MAX_BATCH = 10_000
MAX_ID_LENGTH = 120
MAX_DESCRIPTION = 500
MAX_AMOUNT = 10**12
EVENT_FIELDS = (
    "event_id",
    "worker_ref",
    "occurred_at",
    "gross",
    "tips",
    "bonus",
    "currency",
    "jobs",
    "description",
    "worker_status",
)


# What json.dumps(body, sort_keys=True) uses, made once rather than on every call.
_HASH_JSON = json.JSONEncoder(sort_keys=True)


@dataclass(frozen=True, slots=True)
class EventIn:
    """One validated event."""

    event_id: str
    worker_ref: str
    occurred_at: datetime
    currency: str
    gross: int
    tips: int = 0
    bonus: int = 0
    jobs: int = 1
    description: str = ""
    worker_status: str = ""
    kind: str = "earnings"
    # Set for a month-end minimum top-up: the contribution itself, not earnings.
    fixed_contribution: int | None = None

    @property
    def occurred_on(self) -> date:
        return self.occurred_at.astimezone(UTC).date()

    def content_hash(self) -> str:
        body = {
            "event_id": self.event_id,
            "worker_ref": self.worker_ref,
            "occurred_at": self.occurred_at.astimezone(UTC).isoformat(),
            "currency": self.currency,
            "gross": self.gross,
            "tips": self.tips,
            "bonus": self.bonus,
            "jobs": self.jobs,
            "description": self.description,
            "worker_status": self.worker_status,
            "kind": self.kind,
            "fixed_contribution": self.fixed_contribution,
        }
        return hashlib.sha256(_HASH_JSON.encode(body).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class EventResult:
    index: int
    event_id: str
    status: str  # created | exists
    contribution: int
    currency: str
    held: str  # credited | suspense | released | none
    policy_version: int
    journal_id: int | None
    explanation: str


@dataclass
class BatchResult:
    results: list[EventResult] = field(default_factory=list)

    @property
    def created(self) -> int:
        return sum(1 for r in self.results if r.status == "created")

    @property
    def existing(self) -> int:
        return sum(1 for r in self.results if r.status == "exists")

    def totals(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for r in self.results:
            if r.status == "created":
                out[r.currency] += r.contribution
        return dict(out)


# ---------------------------------------------------------------------------- validation


class _Problems:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, index: int, name: str, message: str, code: str = "invalid") -> None:
        self.items.append(
            {"index": index, "field": f"events.{index}.{name}", "message": message, "code": code}
        )

    def raise_if_any(self) -> None:
        if not self.items:
            return
        first = self.items[0]
        extra = f" (and {len(self.items) - 1} more)" if len(self.items) > 1 else ""
        raise GatewayError(
            f"{first['field']}: {first['message']}{extra}; nothing was recorded",
            field=first["field"],
            code="invalid_batch",
            details=self.items,
        )


def _int_field(raw: Mapping[str, Any], name: str, default: int | None) -> int:
    value = raw.get(name, default)
    if value is None:
        raise ValueError("is required")
    if type(value) is not int:
        raise ValueError("must be an integer number of minor units (no decimals, no strings)")
    if value < 0:
        raise ValueError("must not be negative")
    if value > MAX_AMOUNT:
        raise ValueError("is implausibly large")
    return value


def _text(raw: Mapping[str, Any], name: str, *, required: bool, limit: int) -> str:
    value = raw.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    value = value.strip()
    if required and not value:
        raise ValueError("is required")
    if len(value) > limit:
        raise ValueError(f"has more than {limit} characters")
    return value


def _moment(value: object) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("must be an ISO 8601 date-time, e.g. 2026-11-02T14:30:00Z") from None
    else:
        raise ValueError("is required, as an ISO 8601 date-time")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("must carry a time zone (e.g. Z or +01:00)")
    return moment


def parse_event(raw: Mapping[str, Any], index: int, problems: _Problems) -> EventIn | None:
    if not isinstance(raw, Mapping):
        problems.add(index, "event", "must be an object")
        return None
    unknown = sorted(set(raw) - set(EVENT_FIELDS))
    for name in unknown:
        problems.add(index, name, "is not a field of an earnings event")
    values: dict[str, Any] = {}
    checks: list[tuple[str, Any]] = [
        ("event_id", lambda: _text(raw, "event_id", required=True, limit=MAX_ID_LENGTH)),
        ("worker_ref", lambda: _text(raw, "worker_ref", required=True, limit=MAX_ID_LENGTH)),
        ("occurred_at", lambda: _moment(raw.get("occurred_at"))),
        ("gross", lambda: _int_field(raw, "gross", None)),
        ("tips", lambda: _int_field(raw, "tips", 0)),
        ("bonus", lambda: _int_field(raw, "bonus", 0)),
        ("jobs", lambda: _int_field(raw, "jobs", 1)),
        ("description", lambda: _text(raw, "description", required=False, limit=MAX_DESCRIPTION)),
        ("worker_status", lambda: _text(raw, "worker_status", required=False, limit=40)),
    ]
    ok = not unknown
    for name, check in checks:
        try:
            values[name] = check()
        except ValueError as exc:
            problems.add(index, name, str(exc))
            ok = False
    currency = raw.get("currency")
    try:
        if not isinstance(currency, str):
            raise MoneyError("is required, as an ISO 4217 code")
        values["currency"] = get_currency(currency.strip().upper()).code
    except MoneyError as exc:
        problems.add(index, "currency", str(exc))
        ok = False
    if not ok:
        return None
    return EventIn(**values)


# ---------------------------------------------------------------------------- period sums


@dataclass
class _MonthSums:
    threshold_basis: int = 0
    eligible: int = 0
    rate_base: int = 0
    contributed: int = 0
    jobs: int = 0


_NOTHING = _MonthSums()  # read-only: what a period with no events sums to


def _period_starts(day: date) -> tuple[tuple[str, date], ...]:
    """The first day of the calendar month, quarter and year holding `day`."""
    return (
        ("month", date(day.year, day.month, 1)),
        ("quarter", date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)),
        ("year", date(day.year, 1, 1)),
    )


class _PeriodBook:
    """Per (worker ref, currency) sums for the calendar months, quarters and years the
    batch's events fall in: loaded once, updated as events apply, so an event's
    period-to-date is three look-ups."""

    def __init__(self, platform: Platform, refs: set[str], days: set[date]) -> None:
        # (ref, currency, "month" | "quarter" | "year", first day) -> sums
        self.sums: dict[tuple[str, str, str, date], _MonthSums] = defaultdict(_MonthSums)
        # One grouped statement per period the batch touches (a batch of recent events:
        # a month, its quarter and its year), so the rows read are per reference and
        # period, not per reference and month of the year. Written out in SQL: the ORM
        # spent longer building the query than the database running it.
        table = EarningsEvent._meta.db_table
        in_refs, refs_param = _in("worker_ref", sorted(refs))
        adapt = connection.ops.adapt_datefield_value
        spans = sorted({span for day in days for span in _period_starts(day)})
        with connection.cursor() as cursor:
            for period, first in spans:
                _, last = period_bounds(first, period)
                cursor.execute(
                    "SELECT worker_ref, currency, SUM(threshold_amount), SUM(eligible_amount),"
                    " SUM(rate_base_delta), SUM(contribution), SUM(jobs)"
                    f" FROM {table} WHERE platform_id = %s AND period_month >= %s"
                    f" AND period_month <= %s AND {in_refs} GROUP BY worker_ref, currency",
                    [platform.pk, adapt(first), adapt(last), refs_param],
                )
                for ref, currency, *sums in cursor.fetchall():
                    self.sums[(ref, currency, period, first)] = _MonthSums(
                        *(int(v or 0) for v in sums)
                    )

    def before(self, ref: str, currency: str, day: date, policy: Policy) -> PeriodToDate:
        start, _ = period_bounds(day, policy.threshold_period)
        period = self.sums.get((ref, currency, policy.threshold_period, start), _NOTHING)
        (_, month_start), _, (_, year_start) = _period_starts(day)
        month = self.sums.get((ref, currency, "month", month_start), _NOTHING)
        year = self.sums.get((ref, currency, "year", year_start), _NOTHING)
        return PeriodToDate(
            threshold_basis=period.threshold_basis,
            eligible=period.eligible,
            rate_base=period.rate_base,
            month_contributed=month.contributed,
            year_contributed=year.contributed,
        )

    def add(self, ref: str, currency: str, day: date, sums: _MonthSums) -> None:
        for period, start in _period_starts(day):
            total = self.sums[(ref, currency, period, start)]
            total.threshold_basis += sums.threshold_basis
            total.eligible += sums.eligible
            total.rate_base += sums.rate_base
            total.contributed += sums.contributed
            total.jobs += sums.jobs


# ---------------------------------------------------------------------------- recording


def record_events(platform: Platform, raw_events: Sequence[Mapping[str, Any]]) -> BatchResult:
    """Validate and apply a batch of earnings events, whole or not at all."""
    if not isinstance(raw_events, Sequence) or isinstance(raw_events, str | bytes):
        raise GatewayError("events must be a list", field="events")
    if not raw_events:
        raise GatewayError("the batch has no events", field="events")
    if len(raw_events) > MAX_BATCH:
        raise GatewayError(
            f"a batch has at most {MAX_BATCH:,} events; this one has {len(raw_events):,}",
            field="events",
            code="batch_too_large",
        )
    problems = _Problems()
    parsed: list[EventIn | None] = [
        parse_event(raw, index, problems) for index, raw in enumerate(raw_events)
    ]
    seen: dict[str, int] = {}
    for index, event in enumerate(parsed):
        if event is None:
            continue
        if event.event_id in seen:
            problems.add(
                index,
                "event_id",
                f"repeats the event id of event {seen[event.event_id]} in this batch",
                "duplicate",
            )
        else:
            seen[event.event_id] = index
    problems.raise_if_any()
    events = [e for e in parsed if e is not None]
    return apply_events(platform, events, problems)


@transaction.atomic
def apply_events(
    platform: Platform, events: Sequence[EventIn], problems: _Problems | None = None
) -> BatchResult:
    problems = problems or _Problems()
    # One batch at a time per platform: the period sums below must not change underneath.
    # (SQLite has no row locks: the IMMEDIATE transaction already holds the write lock.)
    if connection.vendor == "postgresql":
        Platform.objects.select_for_update().filter(pk=platform.pk).first()
    existing = _recorded(platform, [e.event_id for e in events])
    versions = list(platform.policies.order_by("effective_from"))
    terms = {v.pk: Policy.from_dict(v.terms) for v in versions}
    plan: list[tuple[int, EventIn, ContributionPolicy | None]] = []
    for index, event in enumerate(events):
        known = existing.get(event.event_id)
        if known is not None:
            if known[1] != event.content_hash():
                problems.add(
                    index,
                    "event_id",
                    "was already recorded with different content; an event id is recorded"
                    " once and never changed (send a new event to correct it)",
                    "idempotency_conflict",
                )
            continue
        version = _version_on(versions, event.occurred_on)
        if version is None:
            problems.add(
                index,
                "occurred_at",
                f"no contribution policy of {platform.name} was in effect on"
                f" {event.occurred_on.isoformat()}",
                "no_policy",
            )
            continue
        policy = terms[version.pk]
        if event.currency != policy.currency:
            problems.add(
                index,
                "currency",
                f"policy version {version.version} pays in {policy.currency}, not {event.currency}",
            )
            continue
        plan.append((index, event, version))
    problems.raise_if_any()

    results: dict[int, EventResult] = {}
    for index, event in enumerate(events):
        known = existing.get(event.event_id)
        if known is not None:
            results[index] = EventResult(
                index=index,
                event_id=event.event_id,
                status="exists",
                contribution=known[2],
                currency=known[3],
                held=known[4],
                policy_version=known[5],
                journal_id=known[6],
                explanation=known[7],
            )
    if plan:
        for result in _book(platform, plan, terms):
            results[result.index] = result
    return BatchResult([results[i] for i in range(len(events))])


def _in(column: str, values: Sequence[str | int]) -> tuple[str, str | list[Any]]:
    """`column IN values` as one parameter whatever the number of values (an array on
    PostgreSQL, a JSON array on SQLite), as the ledger writes it."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", list(values)
    return f"{column} IN (SELECT value FROM json_each(%s))", json.dumps(list(values))


def _recorded(platform: Platform, event_ids: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """What was recorded for these ids: (event_id, content_hash, contribution, currency,
    status, policy version, journal_id, explanation) by id. Written out in SQL, like the
    queries below: a single-event request runs each once, and building them through the
    ORM cost several times what the database spent answering."""
    where, param = _in("e.event_id", event_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.event_id, e.content_hash, e.contribution, e.currency, e.status,"
            " p.version, e.journal_id, e.explanation"
            f" FROM {EarningsEvent._meta.db_table} e"
            f" JOIN {ContributionPolicy._meta.db_table} p ON p.id = e.policy_id"
            f" WHERE e.platform_id = %s AND {where}",
            [platform.pk, param],
        )
        return {row[0]: tuple(row) for row in cursor.fetchall()}


def _allocations(worker_ids: set[int]) -> dict[int, dict[str, int]]:
    """The workers' allocations (bucket -> basis points) of those with a benefits account."""
    if not worker_ids:
        return {}
    where, param = _in("worker_id", sorted(worker_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT worker_id, allocation FROM {BenefitsAccount._meta.db_table} WHERE {where}",
            [param],
        )
        rows = cursor.fetchall()
    out: dict[int, dict[str, int]] = {}
    for worker_id, allocation in rows:
        if isinstance(allocation, str | bytes):
            allocation = json.loads(allocation)
        out[worker_id] = {bucket: int(bps) for bucket, bps in allocation.items()}
    return out


class _Link(NamedTuple):
    worker_status: str
    # Only the id and home currency are loaded (what the bucket codes need); any other
    # field loads on first use.
    worker: User


def _active_links(platform: Platform, refs: set[str]) -> dict[str, _Link]:
    where, param = _in("l.worker_ref", sorted(refs))
    home_currency = User._meta.get_field("home_currency").column
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT l.worker_ref, l.worker_status, u.id, u.{home_currency}"
            f" FROM {WorkerLink._meta.db_table} l"
            f" JOIN {User._meta.db_table} u ON u.id = l.worker_id"
            f" WHERE l.platform_id = %s AND l.status = %s AND {where}",
            [platform.pk, LinkStatus.ACTIVE.value, param],
        )
        rows = cursor.fetchall()
    return {
        ref: _Link(status, User.from_db(connection.alias, ["id", "home_currency"], [pk, ccy]))
        for ref, status, pk, ccy in rows
    }


def _version_on(versions: list[ContributionPolicy], day: date) -> ContributionPolicy | None:
    found = None
    for version in versions:  # ordered by effective_from
        if version.effective_from <= day:
            found = version
    return found


def _book(
    platform: Platform,
    plan: list[tuple[int, EventIn, ContributionPolicy | None]],
    terms: dict[int, Policy],
) -> list[EventResult]:
    refs = {event.worker_ref for _, event, _ in plan}
    days = [event.occurred_on for _, event, _ in plan]
    book = _PeriodBook(platform, refs, set(days))
    links = _active_links(platform, refs)
    # The linked workers' allocations in one query; a worker without a benefits account
    # yet gets one (with the default allocation) on their first contribution below.
    allocations = _allocations({link.worker.pk for link in links.values()})
    # The accounts the journals post to, opened after the loop (see _open_accounts).
    currencies: set[str] = set()
    credits = CreditLegs()
    bucket_owners: dict[tuple[int, str], User] = {}
    rows: list[list[Any]] = []
    specs: list[JournalSpec] = []
    spec_rows: list[int] = []  # the position in rows (and out) of each spec's event
    out: list[EventResult] = []
    # Rows are built in the form the driver takes (as the ledger builds its rows): SQLite
    # gets dates and times as text, PostgreSQL the Python values.
    if connection.vendor == "sqlite":
        day_value = connection.ops.adapt_datefield_value
        moment = connection.ops.adapt_datetimefield_value
    else:
        day_value = moment = _as_is
    received_at = moment(timezone.now())
    for index, event, version in plan:
        assert version is not None
        policy = terms[version.pk]
        link = links.get(event.worker_ref)
        day = event.occurred_on
        status = event.worker_status or (link.worker_status if link else "")
        earnings = Earnings(event.gross, event.tips, event.bonus, event.jobs)
        if event.fixed_contribution is not None:
            result = _minimum_result(event.fixed_contribution)
            earnings_sums = _MonthSums()
        else:
            before = book.before(event.worker_ref, event.currency, day, policy)
            try:
                result = contribution(policy, before, earnings, status=status or None)
            except PolicyError as exc:  # pragma: no cover - inputs are validated above
                raise GatewayError(str(exc), field=f"events.{index}.{exc.field}") from None
            earnings_sums = _MonthSums(
                threshold_basis=threshold_amount(policy, earnings),
                eligible=eligible_amount(policy, earnings),
                rate_base=result.rate_base_after - before.rate_base,
                jobs=event.jobs,
            )
        earnings_sums.contributed = result.amount
        book.add(event.worker_ref, event.currency, day, earnings_sums)
        worker: User | None = link.worker if link is not None else None
        held = EventStatus.NONE
        if result.amount > 0:
            held = EventStatus.CREDITED if worker is not None else EventStatus.SUSPENSE
        row: list[Any] = [
            platform.pk,
            event.event_id,
            event.worker_ref,
            worker.pk if worker is not None and held != EventStatus.SUSPENSE else None,
            moment(event.occurred_at),
            day_value(day),
            day_value(date(day.year, day.month, 1)),
            event.currency,
            event.gross,
            event.tips,
            event.bonus,
            event.jobs,
            event.description,
            status,
            event.kind,
            event.content_hash(),
            version.pk,
            earnings_sums.threshold_basis,
            earnings_sums.eligible,
            earnings_sums.rate_base,
            result.amount,
            result.backdated,
            result.capped,
            result.explanation[:300],
            held.value,
            None,  # journal_id, once posted
            received_at,
        ]
        rows.append(row)
        if result.amount > 0:
            currencies.add(event.currency)
            credit: list[LegSpec]
            if worker is not None:
                if worker.pk not in allocations:
                    allocations[worker.pk] = allocation_of(worker)
                bucket_owners[(worker.pk, event.currency)] = worker
                credit = credits.legs(worker, result.amount, event.currency, allocations[worker.pk])
            else:
                credit = [
                    LegSpec(
                        suspense_code(platform.pk, event.currency), -result.amount, event.currency
                    )
                ]
            specs.append(
                JournalSpec(
                    idempotency_key=f"gateway:event:{platform.pk}:{event.event_id}",
                    kind="contribution",
                    effective_date=day,
                    legs=(
                        LegSpec(
                            receivable_code(platform.pk, event.currency),
                            result.amount,
                            event.currency,
                        ),
                        *credit,
                    ),
                    memo=f"{platform.name} contribution for {event.worker_ref}",
                    metadata={
                        "platform": platform.pk,
                        "event_id": event.event_id,
                        "worker_ref": event.worker_ref,
                        "policy_version": version.version,
                    },
                )
            )
            spec_rows.append(len(out))
        out.append(
            EventResult(
                index=index,
                event_id=event.event_id,
                status="created",
                contribution=result.amount,
                currency=event.currency,
                held=held,
                policy_version=version.version,
                journal_id=None,
                explanation=result.explanation,
            )
        )
    _open_accounts(platform, currencies, bucket_owners)
    posted = ledger.post_journals(specs) if specs else []
    journal_ids: dict[int, int] = {}
    for position, journal in zip(spec_rows, posted, strict=True):
        rows[position][_JOURNAL_ID] = journal_ids[position] = journal.id
    _insert_events(rows)
    return [
        EventResult(
            r.index,
            r.event_id,
            r.status,
            r.contribution,
            r.currency,
            r.held,
            r.policy_version,
            journal_ids.get(position),
            r.explanation,
        )
        for position, r in enumerate(out)
    ]


# The columns _book writes, in the order of its rows; any other column of the table gets
# its field's default (see _event_columns).
EVENT_COLUMNS = (
    "platform_id",
    "event_id",
    "worker_ref",
    "worker_id",
    "occurred_at",
    "occurred_on",
    "period_month",
    "currency",
    "gross",
    "tips",
    "bonus",
    "jobs",
    "description",
    "worker_status",
    "kind",
    "content_hash",
    "policy_id",
    "threshold_amount",
    "eligible_amount",
    "rate_base_delta",
    "contribution",
    "backdated",
    "capped",
    "explanation",
    "status",
    "journal_id",
    "received_at",
)
_JOURNAL_ID = EVENT_COLUMNS.index("journal_id")
# Below this many rows PostgreSQL gets executemany rather than COPY (as in the ledger).
_COPY_FROM = 64


def _event_columns() -> tuple[list[str], list[Any]]:
    """Every column to insert, and the values of those _book does not set."""
    extra_columns, extra_values = [], []
    for model_field in EarningsEvent._meta.concrete_fields:
        if model_field.primary_key or model_field.column in EVENT_COLUMNS:
            continue
        extra_columns.append(model_field.column)
        extra_values.append(
            model_field.get_db_prep_save(model_field.get_default(), connection=connection)
        )
    return [*EVENT_COLUMNS, *extra_columns], extra_values


def _insert_events(rows: list[list[Any]]) -> None:
    """Insert the event rows (already in the driver's form) straight into the table: the
    ORM's bulk_create prepares every field of every row again and cost more than the
    ledger write."""
    if not rows:
        return
    columns, extra = _event_columns()
    table = EarningsEvent._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(rows) >= _COPY_FROM:
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([*row, *extra])
            return
        marks = ", ".join(["%s"] * len(columns))
        cursor.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
            [[*row, *extra] for row in rows],
        )


def _as_is(value: Any) -> Any:
    return value


def _open_accounts(
    platform: Platform, currencies: set[str], bucket_owners: dict[tuple[int, str], User]
) -> None:
    """Open the platform's accounts and the workers' buckets this batch posts to. Opening
    is idempotent but costs a query per account, so the database is asked once which
    already exist and only the missing ones are opened."""
    openers: dict[str, Callable[[], None]] = {}
    for currency in currencies:
        platform_opener = partial(open_platform_accounts, platform, currency)
        for code in (
            receivable_code(platform.pk, currency),
            suspense_code(platform.pk, currency),
            custody_code(currency),
        ):
            openers[code] = platform_opener
    for (_, currency), worker in bucket_owners.items():
        bucket_opener = partial(open_buckets, worker, currency)
        for bucket in BUCKETS:
            openers[bucket_code(worker, bucket, currency)] = bucket_opener
    codes = list(openers)
    if not codes:
        return
    where, param = _in("code", codes)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT code FROM {Account._meta.db_table} WHERE {where}", [param])
        existing = {code for (code,) in cursor.fetchall()}
    missing = {id(openers[code]): openers[code] for code in codes if code not in existing}
    for open_missing in missing.values():
        open_missing()


def _minimum_result(amount: int) -> Contribution:
    return Contribution(
        amount=amount,
        rate_part=0,
        per_job_part=0,
        backdated=0,
        eligible=True,
        capped=0,
        rate_base_after=0,
        explanation="Monthly minimum top-up under the platform's policy.",
    )


# ---------------------------------------------------------------------------- month close


def close_month_minimums(platform: Platform, month: date) -> BatchResult | None:
    """Top every worker who worked this month up to the policy's monthly minimum, as a
    synthetic event per worker and month (so running it twice adds nothing)."""
    start = date(month.year, month.month, 1)
    _, end = period_bounds(start, "month")
    version = _version_on(list(platform.policies.order_by("effective_from")), end)
    if version is None:
        return None
    policy = Policy.from_dict(version.terms)
    if policy.monthly_minimum <= 0:
        return None
    worked = (
        EarningsEvent.objects.filter(
            platform=platform, period_month=start, kind="earnings", jobs__gt=0
        )
        .values("worker_ref", "currency")
        .annotate(total=Sum("contribution"))
    )
    year = {
        (row["worker_ref"], row["currency"]): int(row["total"] or 0)
        for row in EarningsEvent.objects.filter(
            platform=platform, period_month__gte=date(start.year, 1, 1), period_month__lte=start
        )
        .values("worker_ref", "currency")
        .annotate(total=Sum("contribution"))
    }
    # A month is topped up once. Later events only add to it (so it stays at or above the
    # minimum), and recomputing could give another figure for the same event id, which
    # would be refused as a changed replay; repeat the recorded top-up instead ("exists").
    done = dict(
        EarningsEvent.objects.filter(
            platform=platform, period_month=start, kind="minimum", currency=policy.currency
        ).values_list("worker_ref", "contribution")
    )
    events: list[EventIn] = []
    for row in worked:
        if row["currency"] != policy.currency:
            continue
        if row["worker_ref"] in done:
            top_up = done[row["worker_ref"]]
        else:
            top_up = monthly_minimum_topup(
                policy,
                int(row["total"] or 0),
                year_contributed=year.get((row["worker_ref"], row["currency"]), 0),
                worked=True,
            )
        if top_up > 0:
            events.append(
                EventIn(
                    event_id=f"minimum:{start:%Y-%m}:{row['worker_ref']}",
                    worker_ref=row["worker_ref"],
                    occurred_at=datetime(end.year, end.month, end.day, 23, 59, tzinfo=UTC),
                    currency=row["currency"],
                    gross=0,
                    jobs=0,
                    description=f"Monthly minimum for {start:%B %Y}",
                    kind="minimum",
                    fixed_contribution=top_up,
                )
            )
    if not events:
        return None
    return apply_events(platform, events)


def events_for_worker(worker: User, start: date, end: date) -> list[EarningsEvent]:
    return list(
        EarningsEvent.objects.filter(worker=worker, occurred_on__gte=start, occurred_on__lte=end)
        .select_related("platform", "policy")
        .order_by("occurred_at", "id")
    )
