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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from keel import collector
from keel.accounts.models import User
from keel.ledger import services as ledger
from keel.ledger.models import Account
from keel.ledger.rules import MAX_LEG_AMOUNT, JournalSpec, LegSpec
from keel.money import CURRENCIES, MoneyError, get_currency
from keel.sql import in_values, select, sqlite_insert

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
# How far ahead of Keel's clock an event may say it happened (clocks drift; work does not
# happen tomorrow). A later date is a mistake that could never be undone: the event is
# recorded for good, is charged now, and a new policy version may only start after it.
FUTURE_TOLERANCE = timedelta(days=1)
# Ids of the events Keel itself records for a platform (close_month_minimums,
# bundles.topup_event_id). One a platform took first would refuse the top-up as a changed
# replay: a month close failing for all its workers, a bundle week never settled.
RESERVED_ID_PREFIXES = ("minimum:", "bundle:")
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
# How that encoder writes a string (ensure_ascii).
_json_ascii = json.encoder.encode_basestring_ascii


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
        return _content_hash(self, self.occurred_at.astimezone(UTC))


def _hash_body(event: EventIn, utc: datetime) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "worker_ref": event.worker_ref,
        "occurred_at": utc.isoformat(),
        "currency": event.currency,
        "gross": event.gross,
        "tips": event.tips,
        "bonus": event.bonus,
        "jobs": event.jobs,
        "description": event.description,
        "worker_status": event.worker_status,
        "kind": event.kind,
        "fixed_contribution": event.fixed_contribution,
    }


def _content_hash(event: EventIn, utc: datetime) -> str:
    """SHA-256 of `json.dumps(body, sort_keys=True)` (stored with each event and compared on
    replay, so the text must never change). `utc` is the event's moment in UTC. For the
    usual field types the text is written out directly, in exactly the form the encoder
    gives (keys sorted, ", " and ": " separators, non-ASCII escaped); anything else goes
    through the encoder itself."""
    fixed = event.fixed_contribution
    if (
        type(event.gross) is int
        and type(event.tips) is int
        and type(event.bonus) is int
        and type(event.jobs) is int
        and (fixed is None or type(fixed) is int)
        and type(event.event_id) is str
        and type(event.worker_ref) is str
        and type(event.currency) is str
        and type(event.description) is str
        and type(event.worker_status) is str
        and type(event.kind) is str
    ):
        text = (
            f'{{"bonus": {event.bonus}, "currency": {_json_ascii(event.currency)},'
            f' "description": {_json_ascii(event.description)},'
            f' "event_id": {_json_ascii(event.event_id)},'
            f' "fixed_contribution": {"null" if fixed is None else fixed},'
            f' "gross": {event.gross}, "jobs": {event.jobs}, "kind": {_json_ascii(event.kind)},'
            f' "occurred_at": "{utc.isoformat()}", "tips": {event.tips},'
            f' "worker_ref": {_json_ascii(event.worker_ref)},'
            f' "worker_status": {_json_ascii(event.worker_status)}}}'
        )
    else:
        text = _HASH_JSON.encode(_hash_body(event, utc))
    return hashlib.sha256(text.encode()).hexdigest()


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
    try:
        # Every later step works in UTC; at the ends of the calendar there is none.
        moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range: in UTC it falls outside years 1 to 9999") from None
    return moment


_FIELD_SET = frozenset(EVENT_FIELDS)


def _parse_valid(raw: Mapping[str, Any]) -> EventIn | None:
    """The event `raw` describes if it is valid in every field, else None (and
    parse_event's field-by-field checks then name what is wrong). The same rules as those
    checks, written out for the common case: a batch of 10,000 valid events spent longer
    here than in the policy."""
    if not raw.keys() <= _FIELD_SET:
        return None
    event_id, worker_ref = raw.get("event_id"), raw.get("worker_ref")
    currency, occurred_at = raw.get("currency"), raw.get("occurred_at")
    gross, tips, bonus = raw.get("gross"), raw.get("tips", 0), raw.get("bonus", 0)
    jobs = raw.get("jobs", 1)
    description, worker_status = raw.get("description", ""), raw.get("worker_status", "")
    if description is None:
        description = ""
    if worker_status is None:
        worker_status = ""
    if not (
        type(event_id) is str
        and type(worker_ref) is str
        and type(currency) is str
        and type(occurred_at) is str
        and type(description) is str
        and type(worker_status) is str
        and type(gross) is int
        and type(tips) is int
        and type(bonus) is int
        and type(jobs) is int
        and 0 <= gross <= MAX_AMOUNT
        and 0 <= tips <= MAX_AMOUNT
        and 0 <= bonus <= MAX_AMOUNT
        and 0 <= jobs <= MAX_AMOUNT
    ):
        return None
    event_id, worker_ref = event_id.strip(), worker_ref.strip()
    description, worker_status = description.strip(), worker_status.strip()
    if not (
        event_id
        and worker_ref
        and len(event_id) <= MAX_ID_LENGTH
        and len(worker_ref) <= MAX_ID_LENGTH
        and len(description) <= MAX_DESCRIPTION
        and len(worker_status) <= 40
    ):
        return None
    code = CURRENCIES.get(currency.strip().upper())
    if code is None:
        return None
    try:
        moment = datetime.fromisoformat(occurred_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        return None
    if moment.year in (1, 9999):  # may not convert to UTC: _moment checks it exactly
        return None
    return EventIn(
        event_id,
        worker_ref,
        moment,
        code.code,
        gross,
        tips,
        bonus,
        jobs,
        description,
        worker_status,
    )


def parse_event(raw: Mapping[str, Any], index: int, problems: _Problems) -> EventIn | None:
    if isinstance(raw, Mapping):
        valid = _parse_valid(raw)
        if valid is not None:
            return valid
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


_NOTHING = _MonthSums()  # read-only: what a period with no events sums to
_PERIOD_INDEX = {"month": 0, "quarter": 1, "year": 2}


def _period_starts(day: date) -> tuple[date, date, date]:
    """The first day of the calendar month, quarter and year holding `day`."""
    return (
        date(day.year, day.month, 1),
        date(day.year, 3 * ((day.month - 1) // 3) + 1, 1),
        date(day.year, 1, 1),
    )


def _periods_read(policies: Iterable[Policy]) -> tuple[str, ...]:
    """The periods whose sums these policies read: the threshold period always (the
    threshold, and the rate's cumulative rounding, restart there), the month under a
    monthly cap and the year under a yearly cap. `contribution` reads nothing else."""
    periods: set[str] = set()
    for policy in policies:
        periods.add(policy.threshold_period)
        if policy.monthly_cap is not None:
            periods.add("month")
        if policy.yearly_cap is not None:
            periods.add("year")
    return tuple(sorted(periods, key=_PERIOD_INDEX.__getitem__))


class _PeriodBook:
    """Per (worker ref, currency) sums for the calendar periods the batch's events fall
    in and its policies read (see _periods_read): loaded once, updated as events apply,
    so an event's period-to-date is a few look-ups. A period no policy of the batch reads
    is neither loaded nor kept, and reads as zero."""

    def __init__(
        self,
        platform: Platform,
        refs: set[str],
        starts: Iterable[tuple[date, date, date]],
        periods: tuple[str, ...],
    ) -> None:
        # (ref, currency, "month" | "quarter" | "year", first day) -> sums
        self.sums: dict[tuple[str, str, str, date], _MonthSums] = defaultdict(_MonthSums)
        self.periods = tuple((period, _PERIOD_INDEX[period]) for period in periods)
        # One grouped statement per period the batch touches (a batch of recent events:
        # its quarter, say), so the rows read are per reference and period, not per
        # reference and month of the year. Written out in SQL: the ORM spent longer
        # building the query than the database running it.
        table = EarningsEvent._meta.db_table
        in_refs, refs_param = in_values("worker_ref", sorted(refs))
        adapt = connection.ops.adapt_datefield_value
        day_starts = set(starts)
        spans = sorted(
            {(period, first[index]) for first in day_starts for period, index in self.periods}
        )
        with connection.cursor() as cursor:
            for period, first in spans:
                _, last = period_bounds(first, period)
                cursor.execute(
                    "SELECT worker_ref, currency, SUM(threshold_amount), SUM(eligible_amount),"
                    " SUM(rate_base_delta), SUM(contribution)"
                    f" FROM {table} WHERE platform_id = %s AND period_month >= %s"
                    f" AND period_month <= %s AND {in_refs} GROUP BY worker_ref, currency",
                    [platform.pk, adapt(first), adapt(last), refs_param],
                )
                for ref, currency, *sums in cursor.fetchall():
                    self.sums[(ref, currency, period, first)] = _MonthSums(
                        *(int(v or 0) for v in sums)
                    )

    def before(
        self, ref: str, currency: str, starts: tuple[date, date, date], policy: Policy
    ) -> PeriodToDate:
        """`starts` is _period_starts of the event's day."""
        get = self.sums.get
        threshold_period = policy.threshold_period
        period = get(
            (ref, currency, threshold_period, starts[_PERIOD_INDEX[threshold_period]]), _NOTHING
        )
        month = get((ref, currency, "month", starts[0]), _NOTHING)
        year = get((ref, currency, "year", starts[2]), _NOTHING)
        return PeriodToDate(
            period.threshold_basis,
            period.eligible,
            period.rate_base,
            month.contributed,
            year.contributed,
        )

    def add(
        self,
        ref: str,
        currency: str,
        starts: tuple[date, date, date],
        threshold_basis: int,
        eligible: int,
        rate_base: int,
        contributed: int,
    ) -> None:
        sums = self.sums
        for period, index in self.periods:
            total = sums[(ref, currency, period, starts[index])]
            total.threshold_basis += threshold_basis
            total.eligible += eligible
            total.rate_base += rate_base
            total.contributed += contributed


# ---------------------------------------------------------------------------- recording


def record_events(platform: Platform, raw_events: Sequence[Mapping[str, Any]]) -> BatchResult:
    """Validate and apply a batch of earnings events, whole or not at all."""
    # A batch keeps hundreds of thousands of objects alive until it is written (keel.collector).
    with collector.paused():
        return _record_events(platform, raw_events)


def _record_events(platform: Platform, raw_events: Sequence[Mapping[str, Any]]) -> BatchResult:
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
        if event.event_id.startswith(RESERVED_ID_PREFIXES):
            problems.add(
                index,
                "event_id",
                f"must not start with {event.event_id.split(':', 1)[0]!r}: ids starting"
                f" {' or '.join(RESERVED_ID_PREFIXES)} are Keel's own (month-end and bundle"
                " top-ups)",
            )
    latest = timezone.now() + FUTURE_TOLERANCE
    for index, event in enumerate(parsed):
        if event is not None and event.occurred_at > latest:
            problems.add(
                index,
                "occurred_at",
                f"is in the future (after {latest:%Y-%m-%d %H:%M} UTC); report work once it"
                " has happened",
            )
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
    # By hand, like the queries below: a single-event request runs this too.
    versions = select(ContributionPolicy, "platform_id = %s ORDER BY effective_from", [platform.pk])
    terms = {v.pk: Policy.from_dict(v.terms) for v in versions}
    plan: list[_Planned] = []
    for index, event in enumerate(events):
        known = existing.get(event.event_id)
        # The event's moment in UTC, worked out once: its day, its hash and its row use it.
        utc = event.occurred_at.astimezone(UTC)
        if known is not None:
            if known[1] != _content_hash(event, utc):
                problems.add(
                    index,
                    "event_id",
                    "was already recorded with different content; an event id is recorded"
                    " once and never changed (send a new event to correct it)",
                    "idempotency_conflict",
                )
            continue
        day = utc.date()
        version = _version_on(versions, day)
        if version is None:
            problems.add(
                index,
                "occurred_at",
                f"no contribution policy of {platform.name} was in effect on {day.isoformat()}",
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
        plan.append((index, event, version, utc))
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


def _recorded(platform: Platform, event_ids: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """What was recorded for these ids: (event_id, content_hash, contribution, currency,
    status, policy version, journal_id, explanation) by id. Written out in SQL, like the
    queries below: a single-event request runs each once, and building them through the
    ORM cost several times what the database spent answering."""
    where, param = in_values("e.event_id", event_ids)
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
    where, param = in_values("worker_id", sorted(worker_ids))
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
    worker_pk: int


def _active_links(platform: Platform, refs: set[str]) -> dict[str, _Link]:
    where, param = in_values("l.worker_ref", sorted(refs))
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
        ref: _Link(status, User.from_db(connection.alias, ["id", "home_currency"], [pk, ccy]), pk)
        for ref, status, pk, ccy in rows
    }


def _version_on(versions: list[ContributionPolicy], day: date) -> ContributionPolicy | None:
    found = None
    for version in versions:  # ordered by effective_from
        if version.effective_from <= day:
            found = version
    return found


# Where an event's contribution is held, as the result gives it and as the row stores it.
_NONE = (EventStatus.NONE, EventStatus.NONE.value)
_CREDITED = (EventStatus.CREDITED, EventStatus.CREDITED.value)
_SUSPENSE = (EventStatus.SUSPENSE, EventStatus.SUSPENSE.value)

# An event to book: its index in the batch, the event, the policy version in effect on its
# day, and its moment in UTC.
_Planned = tuple[int, EventIn, ContributionPolicy, datetime]


def _book(platform: Platform, plan: list[_Planned], terms: dict[int, Policy]) -> list[EventResult]:
    refs = {event.worker_ref for _, event, _, _ in plan}
    # Per day of the batch, worked out once: the first days of its month, quarter and year,
    # and the day and its month as the driver takes them (SQLite gets dates and times as
    # text, PostgreSQL the Python values; the ledger builds its rows the same way).
    if connection.vendor == "sqlite":
        day_value = connection.ops.adapt_datefield_value
        moment = _sqlite_moment()
    else:
        day_value = moment = _as_is
    days: dict[date, tuple[tuple[date, date, date], Any, Any]] = {}
    for _, _, _, utc in plan:
        day = utc.date()
        if day not in days:
            starts = _period_starts(day)
            days[day] = (starts, day_value(day), day_value(starts[0]))
    policies = {version.pk: terms[version.pk] for _, _, version, _ in plan}
    book = _PeriodBook(
        platform, refs, (info[0] for info in days.values()), _periods_read(policies.values())
    )
    links = _active_links(platform, refs)
    # The linked workers' allocations in one query; a worker without a benefits account
    # yet gets one (with the default allocation) on their first contribution below.
    allocations = _allocations({link.worker_pk for link in links.values()})
    # The accounts the journals post to, opened after the loop (see _open_accounts).
    currencies: set[str] = set()
    credits = CreditLegs()
    bucket_owners: dict[tuple[int, str], User] = {}
    rows: list[list[Any]] = []
    specs: list[JournalSpec] = []
    spec_rows: list[int] = []  # the position in rows (and out) of each spec's event
    out: list[tuple[int, EventIn, int, EventStatus, int, str]] = []
    platform_pk, memo_prefix = platform.pk, f"{platform.name} contribution for "
    received_at = moment(timezone.now())
    key_prefix = f"gateway:event:{platform_pk}:"
    receivables: dict[str, str] = {}
    for index, event, version, utc in plan:
        policy = policies[version.pk]
        ref, currency = event.worker_ref, event.currency
        link = links.get(ref)
        starts, day_text, month_text = days[utc.date()]
        status = event.worker_status or (link.worker_status if link else "")
        earnings = Earnings(event.gross, event.tips, event.bonus, event.jobs)
        if event.fixed_contribution is not None:
            result = _minimum_result(event.fixed_contribution)
            threshold_basis = eligible = rate_base = 0
        else:
            before = book.before(ref, currency, starts, policy)
            try:
                result = contribution(policy, before, earnings, status=status or None)
            except PolicyError as exc:  # pragma: no cover - inputs are validated above
                raise GatewayError(str(exc), field=f"events.{index}.{exc.field}") from None
            threshold_basis = threshold_amount(policy, earnings)
            eligible = eligible_amount(policy, earnings)
            rate_base = result.rate_base_after - before.rate_base
        amount = result.amount
        if amount > MAX_LEG_AMOUNT:
            # A per-job amount times a vast job count: no ledger entry can carry it. Named
            # here, on its event, rather than as the ledger's refusal of a leg.
            problem = _Problems()
            problem.add(
                index,
                "jobs",
                f"gives a contribution of {amount} minor units, more than one ledger entry"
                f" can carry ({MAX_LEG_AMOUNT})",
                code="out_of_range",
            )
            problem.raise_if_any()
        book.add(ref, currency, starts, threshold_basis, eligible, rate_base, amount)
        if amount <= 0:
            held = _NONE
        elif link is not None:
            held = _CREDITED
        else:
            held = _SUSPENSE
        rows.append(
            [
                platform_pk,
                event.event_id,
                ref,
                link.worker_pk if link is not None else None,
                moment(utc),
                day_text,
                month_text,
                currency,
                event.gross,
                event.tips,
                event.bonus,
                event.jobs,
                event.description,
                status,
                event.kind,
                _content_hash(event, utc),
                version.pk,
                threshold_basis,
                eligible,
                rate_base,
                amount,
                result.backdated,
                result.capped,
                result.explanation[:300],
                held[1],
                None,  # journal_id, once posted
                received_at,
            ]
        )
        if amount > 0:
            currencies.add(currency)
            credit: list[LegSpec]
            if link is not None:
                worker, worker_pk = link.worker, link.worker_pk
                if worker_pk not in allocations:
                    allocations[worker_pk] = allocation_of(worker)
                bucket_owners[(worker_pk, currency)] = worker
                credit = credits.legs(worker, amount, currency, allocations[worker_pk])
            else:
                credit = [LegSpec(suspense_code(platform_pk, currency), -amount, currency)]
            receivable = receivables.get(currency)
            if receivable is None:
                receivable = receivables[currency] = receivable_code(platform_pk, currency)
            specs.append(
                JournalSpec(
                    f"{key_prefix}{event.event_id}",
                    "contribution",
                    utc.date(),
                    (LegSpec(receivable, amount, currency), *credit),
                    f"{memo_prefix}{ref}",
                    {
                        "platform": platform_pk,
                        "event_id": event.event_id,
                        "worker_ref": ref,
                        "policy_version": version.version,
                    },
                )
            )
            spec_rows.append(len(out))
        out.append((index, event, amount, held[0], version.version, result.explanation))
    _open_accounts(platform, currencies, bucket_owners)
    posted = ledger.post_journals(specs) if specs else []
    journal_ids: dict[int, int] = {}
    for position, journal in zip(spec_rows, posted, strict=True):
        rows[position][_JOURNAL_ID] = journal_ids[position] = journal.id
    _insert_events(rows)
    return [
        EventResult(
            index,
            event.event_id,
            "created",
            amount,
            event.currency,
            held,
            policy_version,
            journal_ids.get(position),
            explanation,
        )
        for position, (index, event, amount, held, policy_version, explanation) in enumerate(out)
    ]


def _sqlite_moment() -> Callable[[datetime], Any]:
    """How SQLite is given an aware UTC datetime: Django's adapter makes it naive in the
    connection's time zone and writes it as text; in UTC that is the text of the naive
    value, with none of the adapter's checks per call."""
    if settings.USE_TZ and connection.timezone_name == "UTC":
        return _naive_text
    adapt: Callable[[datetime], Any] = connection.ops.adapt_datetimefield_value
    return adapt


def _naive_text(utc: datetime) -> str:
    return str(utc.replace(tzinfo=None))


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
        full_rows = [[*row, *extra] for row in rows]
        if connection.vendor == "sqlite":
            sqlite_insert(cursor, table, columns, full_rows)
            return
        marks = ", ".join(["%s"] * len(columns))
        cursor.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", full_rows
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
    where, param = in_values("code", codes)
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
    # Under a threshold, a month counts as worked only once the worker is eligible: by its
    # end, their earnings of the threshold period have reached the threshold. Otherwise a
    # worker the policy says is not eligible yet would be paid the minimum.
    eligible: set[str] | None = None
    if policy.threshold > 0:
        first, _ = period_bounds(start, policy.threshold_period)
        eligible = {
            row["worker_ref"]
            for row in EarningsEvent.objects.filter(
                platform=platform,
                currency=policy.currency,
                period_month__gte=first,
                period_month__lte=start,
            )
            .values("worker_ref")
            .annotate(basis=Sum("threshold_amount"))
            if int(row["basis"] or 0) >= policy.threshold
        }
    events: list[EventIn] = []
    for row in worked:
        if row["currency"] != policy.currency:
            continue
        if row["worker_ref"] in done:
            top_up = done[row["worker_ref"]]
        elif eligible is not None and row["worker_ref"] not in eligible:
            continue
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
