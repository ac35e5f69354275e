"""Corrections of recorded earnings events.

An event is recorded for good (idempotent by its id, never changed), so a platform that sent
a wrong figure corrects it with a correction record that names the event (`corrects`), gives
the figures it should have carried and says why. Keel recomputes the contribution those
figures give under the same policy version and in the same period context the event saw
(the worker's earnings with the platform recorded before it in its threshold period, month
and year) and books the difference as one ledger journal:

- upward, like a contribution: the platform's receivable is debited and the money goes
  where the event's money is now (the worker's buckets, split in the proportions the event
  filled them, or the platform's suspense account while the reference is unlinked);
- downward, the money comes back from there: from suspense in full, from the buckets as
  far as they hold it (keel.gateway.rules.corrections.take_back), and the receivable is
  reduced only by what came back. What the account did not hold stays with the worker and
  the platform bears its own error; the correction shows it as `shortfall`.

Later events are not recomputed, neither those recorded already nor those to come: their
thresholds, caps, monthly minimums and rate rounding keep measuring against the figures as
first recorded. Recomputing them would silently change contributions the platform and the
worker have already seen on statements and clearing batches (and, through a month's
minimum or a cap, other events' money) for a mistake in one event; a correction changes
exactly one event's money and says so.

Each correction corrects from the one before: the new figures replace the latest ones, and
the difference is measured against everything booked for the event so far (so a shortfall
left by one correction is tried again by the next).

The receivable's change is cleared like a contribution: a correction waits for the next
batch, except that one of an event still waiting for its batch goes into that same batch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from keel.accounts.models import User
from keel.audit import services as audit
from keel.ledger import services as ledger
from keel.ledger.models import Account, Leg
from keel.ledger.rules import MAX_LEG_AMOUNT, JournalSpec, LegSpec
from keel.money import MoneyError, get_currency

from ..errors import Conflict, GatewayError, NotFound
from ..models import EarningsEvent, EventCorrection, EventStatus, LinkStatus, Platform, WorkerLink
from ..rules import corrections as correction_rules
from ..rules.buckets import BUCKETS
from ..rules.policy import (
    Earnings,
    PeriodToDate,
    PolicyError,
    contribution,
    eligible_amount,
    period_bounds,
    threshold_amount,
)
from .benefits import allocation_of, benefits_account, bucket_code, open_buckets
from .events import MAX_AMOUNT, MAX_ID_LENGTH
from .platforms import open_platform_accounts, receivable_code, suspense_code, terms_of

__all__ = [
    "CORRECTION_FIELDS",
    "CorrectionResult",
    "correct_event",
    "corrections_of",
    "event_context",
]

CORRECTION_FIELDS = (
    "correction_id",
    "corrects",
    "worker_ref",
    "currency",
    "gross",
    "tips",
    "bonus",
    "jobs",
    "reason",
)
MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class CorrectionResult:
    correction: EventCorrection
    status: str  # created | exists


def _problem(name: str, message: str, problems: list[dict[str, Any]]) -> None:
    problems.append({"field": name, "message": message, "code": "invalid"})


def _clean(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The correction's fields, checked; every problem named by its field."""
    if not isinstance(raw, Mapping):
        raise GatewayError("a correction must be an object", field="correction", code="invalid")
    problems: list[dict[str, Any]] = []
    for name in sorted(set(raw) - set(CORRECTION_FIELDS)):
        _problem(str(name), "is not a field of a correction", problems)
    out: dict[str, Any] = {}
    for name, limit, required in (
        ("correction_id", MAX_ID_LENGTH, True),
        ("corrects", MAX_ID_LENGTH, True),
        ("worker_ref", MAX_ID_LENGTH, True),
        ("reason", MAX_REASON, True),
    ):
        value = raw.get(name)
        if value is None:
            value = ""
        if not isinstance(value, str):
            _problem(name, "must be a string", problems)
            continue
        value = value.strip()
        if required and not value:
            _problem(name, "is required", problems)
        elif len(value) > limit:
            _problem(name, f"has more than {limit} characters", problems)
        else:
            out[name] = value
    for name, default in (("gross", None), ("tips", 0), ("bonus", 0), ("jobs", 1)):
        value = raw.get(name, default)
        if value is None:
            _problem(name, "is required", problems)
        elif type(value) is not int:
            _problem(
                name, "must be an integer number of minor units (no decimals, no strings)", problems
            )
        elif value < 0:
            _problem(name, "must not be negative", problems)
        elif value > MAX_AMOUNT:
            _problem(name, "is implausibly large", problems)
        else:
            out[name] = value
    currency = raw.get("currency")
    try:
        if not isinstance(currency, str):
            raise MoneyError("is required, as an ISO 4217 code")
        out["currency"] = get_currency(currency.strip().upper()).code
    except MoneyError as exc:
        _problem("currency", str(exc), problems)
    if problems:
        first = problems[0]
        extra = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise GatewayError(
            f"{first['field']}: {first['message']}{extra}; nothing was recorded",
            field=first["field"],
            code="invalid",
            details=problems,
        )
    return out


def _content_hash(clean: Mapping[str, Any]) -> str:
    body = {name: clean[name] for name in CORRECTION_FIELDS}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def event_context(event: EarningsEvent, threshold_period: str) -> PeriodToDate:
    """The period-to-date the event was measured against: the reference's events with the
    platform recorded before it (events apply in the order they arrive, and ids follow that
    order), as they were recorded."""
    day = event.occurred_on
    earlier = EarningsEvent.objects.filter(
        platform_id=event.platform_id,
        worker_ref=event.worker_ref,
        currency=event.currency,
        pk__lt=event.pk,
    )

    def sums(period: str) -> dict[str, int]:
        first, last = period_bounds(day, period)
        row = earlier.filter(period_month__gte=first, period_month__lte=last).aggregate(
            basis=Sum("threshold_amount"),
            eligible=Sum("eligible_amount"),
            rate_base=Sum("rate_base_delta"),
            contributed=Sum("contribution"),
        )
        return {key: int(value or 0) for key, value in row.items()}

    period, month, year = sums(threshold_period), sums("month"), sums("year")
    return PeriodToDate(
        period["basis"],
        period["eligible"],
        period["rate_base"],
        month["contributed"],
        year["contributed"],
    )


@dataclass(frozen=True, slots=True)
class _Where:
    """Where the event's money is now: a worker's buckets (with the proportions the money
    filled them in) or the platform's suspense account."""

    status: str
    worker: User | None
    weights: dict[str, int]


def _bucket_weights(worker: User, currency: str, journal_id: int | None) -> dict[str, int]:
    """What the journal credited to each of the worker's buckets; the worker's allocation
    when no journal moved the money (a release of nothing)."""
    weights: dict[str, int] = {}
    if journal_id is not None:
        codes = {bucket_code(worker, bucket, currency): bucket for bucket in BUCKETS}
        for code, amount in Leg.objects.filter(
            journal_id=journal_id, account__code__in=list(codes)
        ).values_list("account__code", "amount"):
            if amount < 0:
                weights[codes[code]] = weights.get(codes[code], 0) - amount
    if not weights:
        weights = dict(allocation_of(worker))
    return weights


def _where(event: EarningsEvent, earlier: list[EventCorrection]) -> _Where:
    """Follow the event's money: the first record (the event or a correction) that moved
    any decides where the rest went, since a release from suspense takes them together.
    With none yet, the money goes where a new event's would: to the linked worker, or into
    suspense."""
    records: list[EarningsEvent | EventCorrection] = [event, *earlier]
    first = next((r for r in records if r.journal_id is not None), None)
    if first is None:
        link = WorkerLink.objects.filter(
            platform_id=event.platform_id, worker_ref=event.worker_ref, status=LinkStatus.ACTIVE
        ).first()
        if link is None or link.worker is None:
            return _Where(EventStatus.SUSPENSE, None, {})
        benefits_account(link.worker)
        return _Where(EventStatus.CREDITED, link.worker, dict(allocation_of(link.worker)))
    if first.status == EventStatus.SUSPENSE:
        return _Where(EventStatus.SUSPENSE, None, {})
    worker = first.worker
    assert worker is not None  # credited and released records always name their worker
    journal = (
        first.released_journal_id if first.status == EventStatus.RELEASED else first.journal_id
    )
    return _Where(first.status, worker, _bucket_weights(worker, event.currency, journal))


def _held_in_suspense(event: EarningsEvent) -> int:
    """What suspense holds for the event's reference (never less than the event's share)."""
    events = EarningsEvent.objects.filter(
        platform_id=event.platform_id,
        worker_ref=event.worker_ref,
        currency=event.currency,
        status=EventStatus.SUSPENSE,
    ).aggregate(t=Sum("contribution"))["t"]
    corrections = EventCorrection.objects.filter(
        platform_id=event.platform_id,
        event__worker_ref=event.worker_ref,
        event__currency=event.currency,
        status=EventStatus.SUSPENSE,
    ).aggregate(t=Sum("booked"))["t"]
    return int(events or 0) + int(corrections or 0)


def _available(worker: User, currency: str) -> dict[str, int]:
    """What each bucket can give now, read under a row lock so a use cannot take the same
    money while the take-back is booked."""
    codes = {bucket_code(worker, bucket, currency): bucket for bucket in BUCKETS}
    rows = Account.objects.select_for_update().filter(code__in=list(codes))
    out: dict[str, int] = {}
    for account in rows:
        balance = ledger.balance(account)
        out[codes[account.code]] = balance.available
    return out


@transaction.atomic
def correct_event(
    platform: Platform, raw: Mapping[str, Any], *, by: User | None = None
) -> CorrectionResult:
    """Record a correction of one of the platform's events (see the module docstring).
    The same correction id with the same content is the same correction (`exists`); with
    other content it is refused, like an event."""
    clean = _clean(raw)
    content_hash = _content_hash(clean)
    Platform.objects.select_for_update().filter(pk=platform.pk).first()
    existing = (
        EventCorrection.objects.filter(platform=platform, correction_id=clean["correction_id"])
        .select_related("event")
        .first()
    )
    if existing is not None:
        if existing.content_hash != content_hash:
            raise Conflict(
                f"correction {clean['correction_id']} was already recorded with other content;"
                " a correction is never changed: send a new correction (with a new id) to"
                " correct it again",
                field="correction_id",
                code="idempotency_conflict",
            )
        return CorrectionResult(existing, "exists")
    event = (
        EarningsEvent.objects.select_for_update(of=("self",))
        .select_related("policy", "worker")
        .filter(platform=platform, event_id=clean["corrects"])
        .first()
    )
    if event is None:
        raise NotFound(f"no event with id {clean['corrects']}", field="corrects")
    if event.kind != "earnings":
        raise GatewayError(
            f"event {event.event_id} is a top-up Keel recorded under the policy, not earnings"
            " you sent; correct the earnings events it was computed from",
            field="corrects",
        )
    for name in ("worker_ref", "currency"):
        if clean[name] != getattr(event, name):
            raise GatewayError(
                f"{name} must be the event's own ({getattr(event, name)}): a correction"
                " changes an event's figures, not whose or in which currency it is",
                field=name,
            )
    earlier = list(event.corrections.select_related("worker").order_by("sequence"))
    latest: EarningsEvent | EventCorrection = earlier[-1] if earlier else event
    if all(clean[name] == getattr(latest, name) for name in ("gross", "tips", "bonus", "jobs")):
        raise GatewayError(
            "these are the figures the event already carries: nothing to correct", field="gross"
        )
    policy = terms_of(event.policy)
    earnings = Earnings(clean["gross"], clean["tips"], clean["bonus"], clean["jobs"])
    try:
        result = contribution(
            policy,
            event_context(event, policy.threshold_period),
            earnings,
            status=event.worker_status or None,
        )
    except PolicyError as exc:  # pragma: no cover - the figures are checked above
        raise GatewayError(str(exc), field=exc.field) from None
    if result.amount > MAX_LEG_AMOUNT:
        raise GatewayError(
            f"gives a contribution of {result.amount} minor units, more than one ledger entry"
            f" can carry ({MAX_LEG_AMOUNT})",
            field="jobs",
        )
    booked_before = event.contribution + sum(c.booked for c in earlier)
    difference = result.amount - booked_before
    where = _where(event, earlier)
    currency = event.currency
    receivable = receivable_code(platform.pk, currency)
    legs: list[LegSpec] = []
    booked, shortfall = difference, 0
    if difference > 0:
        open_platform_accounts(platform, currency)
        legs.append(LegSpec(receivable, difference, currency))
        if where.worker is None:
            legs.append(LegSpec(suspense_code(platform.pk, currency), -difference, currency))
        else:
            open_buckets(where.worker, currency)
            for bucket, part in correction_rules.split_like(difference, where.weights).items():
                if part:
                    legs.append(
                        LegSpec(bucket_code(where.worker, bucket, currency), -part, currency)
                    )
    elif difference < 0:
        wanted = -difference
        if where.worker is None:
            taken = min(wanted, max(0, _held_in_suspense(event)))
            if taken:
                legs.append(LegSpec(suspense_code(platform.pk, currency), taken, currency))
        else:
            back = correction_rules.take_back(
                wanted, where.weights, _available(where.worker, currency)
            )
            taken = back.total
            for bucket in BUCKETS:
                part = back.taken.get(bucket, 0)
                if part:
                    legs.append(
                        LegSpec(bucket_code(where.worker, bucket, currency), part, currency)
                    )
        if taken:
            legs.append(LegSpec(receivable, -taken, currency))
        booked, shortfall = -taken, wanted - taken
    journal_id: int | None = None
    if legs:
        posted = ledger.post_journal(
            JournalSpec(
                idempotency_key=f"gateway:correction:{platform.pk}:{clean['correction_id']}",
                kind="contribution_correction",
                effective_date=timezone.localdate(),
                legs=tuple(legs),
                memo=(
                    f"{platform.name} correction of {event.event_id} for {event.worker_ref}:"
                    f" {clean['reason']}"
                )[:500],
                metadata={
                    "platform": platform.pk,
                    "event_id": event.event_id,
                    "correction_id": clean["correction_id"],
                    "worker_ref": event.worker_ref,
                    "policy_version": event.policy.version,
                },
            )
        )
        journal_id = posted.id
    correction = EventCorrection.objects.create(
        platform=platform,
        correction_id=clean["correction_id"],
        event=event,
        sequence=len(earlier) + 1,
        reason=clean["reason"],
        gross=clean["gross"],
        tips=clean["tips"],
        bonus=clean["bonus"],
        jobs=clean["jobs"],
        content_hash=content_hash,
        threshold_amount=threshold_amount(policy, earnings),
        eligible_amount=eligible_amount(policy, earnings),
        contribution=result.amount,
        explanation=result.explanation[:300],
        difference=difference,
        booked=booked,
        shortfall=shortfall,
        # New money goes straight to the worker now, even where the event's was released.
        status=(
            EventStatus.NONE
            if not booked
            else EventStatus.SUSPENSE
            if where.worker is None
            else EventStatus.CREDITED
        ),
        worker=where.worker,
        journal_id=journal_id,
        recorded_by=by,
    )
    audit.record(
        "earnings.corrected",
        actor=by,
        subject=f"platform:{platform.pk}",
        platform_id=platform.pk,
        worker_id=where.worker.pk if where.worker is not None else None,
        details={
            "correction_id": correction.correction_id,
            "event_id": event.event_id,
            "worker_ref": event.worker_ref,
            "currency": currency,
            "contribution": result.amount,
            "difference": difference,
            "booked": booked,
            "shortfall": shortfall,
            "reason": correction.reason,
        },
    )
    return CorrectionResult(correction, "created")


def corrections_of(platform: Platform) -> list[EventCorrection]:
    """The platform's corrections, newest first, with their events."""
    return list(
        EventCorrection.objects.filter(platform=platform)
        .select_related("event", "event__policy", "clearing_batch")
        .order_by("-recorded_at", "-id")
    )
