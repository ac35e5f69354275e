"""Clearing and settlement: what each platform owes is closed into a batch per period and
currency, listed event by event, and settled by payments the operator records. A payment
that is short or over leaves the difference on the batch and on the platform's
receivable account; nothing is written off.

Batches take every contribution received (not occurred) up to the period's end that no
batch has taken yet, so an event that arrives late, or a day the scheduler missed, lands
in the next batch instead of being lost. Closing a period again finds its batch and
changes nothing.

A correction of an event (keel.gateway.services.corrections) moves the receivable by its
difference, which is cleared the same way: in the batch that takes its event when the event
is still waiting for one (so the batch bills the corrected figure), otherwise in the first
batch closed after it was recorded. A closed batch is never changed: its owed total, its
events and its corrections stay as they were when it closed.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from keel.accounts.models import User
from keel.audit import services as audit
from keel.csvsafe import neutralise_cell
from keel.ledger import services as ledger
from keel.ledger.rules import MAX_LEG_AMOUNT, JournalSpec, LegSpec
from keel.money import format_amount

from ..errors import Conflict, GatewayError, NotFound
from ..models import ClearingBatch, EarningsEvent, EventCorrection, Platform, Settlement
from ..rules import clearing as clearing_rules
from .platforms import custody_code, receivable_code


@transaction.atomic
def close_period(platform: Platform, start: date, end: date) -> list[ClearingBatch]:
    """Close one period: a batch per currency with contributions waiting. Returns the
    batches of that period (the existing ones if it was closed before)."""
    if end < start:
        raise GatewayError("the period ends before it starts", field="end")
    Platform.objects.select_for_update().filter(pk=platform.pk).first()
    existing = list(
        ClearingBatch.objects.filter(platform=platform, period_start=start, period_end=end)
    )
    if existing:
        return existing
    cutoff = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    waiting = EarningsEvent.objects.filter(
        platform=platform,
        clearing_batch__isnull=True,
        contribution__gt=0,
        received_at__lt=cutoff,
    )
    # Read before the events are batched below: a correction follows its event into the
    # batch that takes it, whenever the correction was recorded.
    corrected = EventCorrection.objects.filter(
        Q(recorded_at__lt=cutoff)
        | Q(event__clearing_batch__isnull=True, event__received_at__lt=cutoff),
        platform=platform,
        clearing_batch__isnull=True,
    ).exclude(booked=0)
    totals: dict[str, int] = defaultdict(int)
    for row in waiting.values("currency").annotate(total=Sum("contribution")):
        totals[row["currency"]] += int(row["total"])
    correction_ids: dict[str, list[int]] = defaultdict(list)
    for pk, currency, booked in corrected.values_list("pk", "event__currency", "booked"):
        totals[currency] += booked
        correction_ids[currency].append(pk)
    batches = []
    for currency in sorted(totals):
        batch = ClearingBatch.objects.create(
            platform=platform,
            period_start=start,
            period_end=end,
            currency=currency,
            event_count=0,
            owed=totals[currency],
        )
        count = waiting.filter(currency=currency).update(clearing_batch=batch)
        EventCorrection.objects.filter(pk__in=correction_ids[currency]).update(clearing_batch=batch)
        batch.event_count = count
        batch.save(update_fields=["event_count"])
        batches.append(batch)
    return batches


def close_due(today: date | None = None) -> list[ClearingBatch]:
    """The scheduled close: for every platform, the last whole period of its cadence."""
    today = today or timezone.localdate()
    closed: list[ClearingBatch] = []
    for platform in Platform.objects.all():
        start, end = clearing_rules.period_for(today - timedelta(days=1), platform.clearing_cadence)
        if end < today:
            closed.extend(close_period(platform, start, end))
    return closed


def last_whole_period(cadence: str, today: date) -> tuple[date, date]:
    """The latest period of ``cadence`` that ended before ``today``: yesterday for a daily
    cadence, the last full ISO week or calendar month otherwise."""
    start, end = clearing_rules.period_for(today - timedelta(days=1), cadence)
    if end >= today:
        start, end = clearing_rules.period_for(start - timedelta(days=1), cadence)
    return start, end


def close_last_period(
    platform: Platform, today: date | None = None
) -> tuple[date, date, list[ClearingBatch]]:
    """Close the platform's last whole period now (the console's button): never a period
    still running, whose later contributions would otherwise miss their batch."""
    start, end = last_whole_period(platform.clearing_cadence, today or timezone.localdate())
    return start, end, close_period(platform, start, end)


CATCH_UP_DAYS = 35


def close_missed(today: date | None = None, *, days: int = CATCH_UP_DAYS) -> list[ClearingBatch]:
    """Catch up after the scheduler missed days: for every platform, close each whole period
    that ended in the last ``days`` days, oldest first, so each batch holds what arrived in
    its own period rather than the next close sweeping several into one. Periods before
    the platform's latest batch are skipped (nothing can join them any more); closed
    periods are found, not redone, so running this again creates nothing."""
    today = today or timezone.localdate()
    closed: list[ClearingBatch] = []
    for platform in Platform.objects.all():
        latest = (
            ClearingBatch.objects.filter(platform=platform)
            .order_by("-period_end")
            .values_list("period_end", flat=True)
            .first()
        )
        first_day = today - timedelta(days=days)
        if latest is not None and latest >= first_day:
            first_day = latest + timedelta(days=1)
        last_start, last_end = last_whole_period(platform.clearing_cadence, today)
        periods: list[tuple[date, date]] = []
        start, end = last_start, last_end
        while end >= first_day:
            periods.append((start, end))
            start, end = clearing_rules.period_for(
                start - timedelta(days=1), platform.clearing_cadence
            )
        # Every period here is after the latest batch, so each batch returned is new.
        for start, end in reversed(periods):
            closed.extend(close_period(platform, start, end))
    return closed


@dataclass(frozen=True, slots=True)
class BatchState:
    batch: ClearingBatch
    paid: int
    difference: int
    status: str


def batch_state(batch: ClearingBatch) -> BatchState:
    paid = int(batch.settlements.filter(withdrawn_at=None).aggregate(t=Sum("amount"))["t"] or 0)
    return BatchState(
        batch=batch,
        paid=paid,
        difference=clearing_rules.settlement_difference(batch.owed, paid),
        status=clearing_rules.status(batch.owed, paid),
    )


def batches_of(platform: Platform) -> list[BatchState]:
    batches = list(ClearingBatch.objects.filter(platform=platform))
    paid: dict[int, int] = defaultdict(int)
    for batch_id, amount in Settlement.objects.filter(
        batch__in=batches, withdrawn_at=None
    ).values_list("batch_id", "amount"):
        paid[batch_id] += amount
    return [
        BatchState(
            batch=b,
            paid=paid[b.pk],
            difference=clearing_rules.settlement_difference(b.owed, paid[b.pk]),
            status=clearing_rules.status(b.owed, paid[b.pk]),
        )
        for b in batches
    ]


def platform_batch(platform: Platform, batch_id: int) -> ClearingBatch:
    batch = ClearingBatch.objects.filter(platform=platform, pk=batch_id).first()
    if batch is None:
        raise NotFound(f"no clearing batch with id {batch_id}", field="id")
    return batch


def _checked_entry(
    batch: ClearingBatch, reference: str, amount: int, day: date, *, paid: bool
) -> str:
    """The checks a payment and a refund share; returns the reference, stripped."""
    noun, done = ("payment", "received") if paid else ("refund", "sent")
    field = "received_on" if paid else "refunded_on"
    amount_is = "the amount paid" if paid else "the amount refunded"
    reference = (reference or "").strip()
    if not reference:
        raise GatewayError(f"the {noun} reference is required", field="reference")
    if len(reference) > 120:
        raise GatewayError(f"a {noun} reference has at most 120 characters", field="reference")
    if type(amount) is not int or amount <= 0:
        raise GatewayError(f"{amount_is} must be more than zero", field="amount")
    if amount > MAX_LEG_AMOUNT:
        # The ledger could never book it; refused here, on the field, not as its error.
        raise GatewayError(
            f"{amount_is} is out of range (at most"
            f" {format_amount(MAX_LEG_AMOUNT, batch.currency, symbol=True)})",
            field="amount",
        )
    if day < batch.period_start:
        # Its journal would be dated before the debt existed, and every balance as of a
        # day in between would show money that had not moved.
        raise GatewayError(
            f"a {noun} for the batch of {batch.period_start.isoformat()} to"
            f" {batch.period_end.isoformat()} cannot have been {done} before"
            f" {batch.period_start.isoformat()}",
            field=field,
        )
    return reference


def _standing_entry(batch: ClearingBatch, reference: str, signed_amount: int) -> Settlement | None:
    """The standing entry under ``reference``: the same one again (returned) or, with
    another amount (a refund's is negative), a refusal. None when the reference is free."""
    existing = Settlement.objects.filter(
        batch=batch, reference=reference, withdrawn_at=None
    ).first()
    if existing is not None and existing.amount != signed_amount:
        raise Conflict(
            f"{'payment' if existing.amount > 0 else 'refund'} {reference} is already"
            " recorded for"
            f" {format_amount(existing.amount, batch.currency, symbol=True)}",
            field="reference",
            code="idempotency_conflict",
        )
    return existing


def _entry_key(batch: ClearingBatch, reference: str, kind: str) -> str:
    # A reference whose earlier entry was withdrawn is recorded again under a key of its
    # own: the withdrawn entry's journal keeps the first.
    withdrawn = Settlement.objects.filter(batch=batch, reference=reference).count()
    return f"gateway:{kind}:{batch.pk}:{reference}" + (f":{withdrawn}" if withdrawn else "")


@transaction.atomic
def record_settlement(
    batch: ClearingBatch,
    *,
    reference: str,
    amount: int,
    received_on: date,
    by: User | None = None,
) -> Settlement:
    """Record a payment the platform made for a batch. The same reference again with the
    same amount is the same payment (nothing changes); with another amount it is refused."""
    reference = _checked_entry(batch, reference, amount, received_on, paid=True)
    ClearingBatch.objects.select_for_update().filter(pk=batch.pk).first()
    existing = _standing_entry(batch, reference, amount)
    if existing is not None:
        return existing
    key = _entry_key(batch, reference, "settlement")
    posted = ledger.post_journal(
        JournalSpec(
            idempotency_key=key,
            kind="settlement",
            effective_date=received_on,
            legs=(
                LegSpec(custody_code(batch.currency), amount, batch.currency),
                LegSpec(
                    receivable_code(batch.platform_id, batch.currency), -amount, batch.currency
                ),
            ),
            memo=f"{batch.platform.name} payment {reference} for {batch}",
            metadata={"platform": batch.platform_id, "batch": batch.pk, "reference": reference},
        )
    )
    return Settlement.objects.create(
        batch=batch,
        reference=reference,
        amount=amount,
        received_on=received_on,
        recorded_by=by,
        journal_id=posted.id,
    )


@transaction.atomic
def record_refund(
    batch: ClearingBatch,
    *,
    reference: str,
    amount: int,
    refunded_on: date,
    by: User | None = None,
) -> Settlement:
    """Record money sent back to the platform for what it paid above a batch's total: a
    negative payment on the batch (its journal takes it out of custody and back onto the
    platform's receivable), at most what the batch holds in excess. The same reference
    again with the same amount changes nothing; with another amount it is refused."""
    reference = _checked_entry(batch, reference, amount, refunded_on, paid=False)
    if refunded_on > timezone.localdate():
        raise GatewayError("a refund cannot be dated in the future", field="refunded_on")
    ClearingBatch.objects.select_for_update().filter(pk=batch.pk).first()
    existing = _standing_entry(batch, reference, -amount)
    if existing is not None:
        return existing
    excess = batch_state(batch).difference
    if amount > excess:
        held = format_amount(max(excess, 0), batch.currency, symbol=True)
        raise GatewayError(
            f"the batch holds {held} more than it owed: no more than that can be refunded",
            field="amount",
        )
    key = _entry_key(batch, reference, "refund")
    posted = ledger.post_journal(
        JournalSpec(
            idempotency_key=key,
            kind="settlement.refund",
            effective_date=refunded_on,
            legs=(
                LegSpec(receivable_code(batch.platform_id, batch.currency), amount, batch.currency),
                LegSpec(custody_code(batch.currency), -amount, batch.currency),
            ),
            memo=f"Refund {reference} to {batch.platform.name} of what it paid above {batch}",
            metadata={"platform": batch.platform_id, "batch": batch.pk, "reference": reference},
        )
    )
    refund = Settlement.objects.create(
        batch=batch,
        reference=reference,
        amount=-amount,
        received_on=refunded_on,
        recorded_by=by,
        journal_id=posted.id,
    )
    audit.record(
        "settlement.refunded",
        actor=by,
        subject=f"platform:{batch.platform_id}",
        platform_id=batch.platform_id,
        details={
            "batch_id": batch.pk,
            "reference": reference,
            "amount": amount,
            "currency": batch.currency,
        },
    )
    return refund


def batch_settlement(batch: ClearingBatch, settlement_id: int) -> Settlement:
    found = batch.settlements.filter(pk=settlement_id).first()
    if found is None:
        raise NotFound(f"no payment with id {settlement_id} on this batch", field="id")
    return found


@transaction.atomic
def withdraw_settlement(
    settlement: Settlement, *, reason: str, by: User | None = None
) -> Settlement:
    """Take back a payment recorded in error (a mistyped amount, the wrong batch): its
    journal is reversed, the row stays with who withdrew it and why, and the batch owes
    again what it owed without it. Withdrawing it again changes nothing."""
    reason = (reason or "").strip()
    if not reason:
        raise GatewayError("say why the payment is withdrawn", field="reason")
    if len(reason) > 200:
        raise GatewayError("a reason has at most 200 characters", field="reason")
    row = (
        Settlement.objects.select_for_update()
        .select_related("batch__platform")
        .get(pk=settlement.pk)
    )
    if row.withdrawn_at is not None:
        return row
    batch = row.batch
    reversal = ledger.reverse_journal(
        row.journal_id,
        idempotency_key=f"gateway:settlement:{row.pk}:withdrawn",
        effective_date=timezone.localdate(),
        memo=f"{batch.platform.name} payment {row.reference} for {batch} withdrawn: {reason}"[:500],
    )
    row.withdrawn_at = timezone.now()
    row.withdrawn_by = by
    row.withdrawal_reason = reason
    row.withdrawal_journal_id = reversal.id
    row.save(
        update_fields=[
            "withdrawn_at",
            "withdrawn_by",
            "withdrawal_reason",
            "withdrawal_journal_id",
        ]
    )
    audit.record(
        "settlement.withdrawn",
        actor=by,
        subject=f"platform:{batch.platform_id}",
        platform_id=batch.platform_id,
        details={
            "batch_id": batch.pk,
            "reference": row.reference,
            "amount": row.amount,
            "currency": batch.currency,
            "reason": reason,
        },
    )
    return row


STATEMENT_COLUMNS = (
    "event_id",
    "worker_ref",
    "occurred_at",
    "currency",
    "gross",
    "tips",
    "bonus",
    "jobs",
    "policy_version",
    "contribution",
    "held",
    "description",
    "corrects",
    "reason",
)


def statement_rows(batch: ClearingBatch) -> list[EarningsEvent]:
    return list(batch.events.select_related("policy").order_by("occurred_at", "id"))


def statement_corrections(batch: ClearingBatch) -> list[EventCorrection]:
    """The corrections cleared in the batch, in the order they were recorded."""
    return list(
        batch.corrections.select_related("event", "event__policy").order_by("recorded_at", "id")
    )


def statement_csv(batch: ClearingBatch) -> str:
    """Every event and contribution in the batch, then every correction cleared in it,
    amounts in minor units: the contribution column sums to what the batch owes.

    A correction's row carries its own id in `event_id`, the event it corrects in
    `corrects`, the corrected figures, and as `contribution` what it added to (or, negative,
    took back from) the batch; `reason` is the platform's. Text columns go through
    ``neutralise_cell`` (a platform's references and descriptions must not run as formulas
    in the operator's spreadsheet); amounts are integers."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(STATEMENT_COLUMNS)
    for event in statement_rows(batch):
        writer.writerow(
            [
                neutralise_cell(event.event_id),
                neutralise_cell(event.worker_ref),
                event.occurred_at.astimezone(UTC).isoformat(),
                neutralise_cell(event.currency),
                event.gross,
                event.tips,
                event.bonus,
                event.jobs,
                event.policy.version,
                event.contribution,
                neutralise_cell(event.status),
                neutralise_cell(event.description),
                "",
                "",
            ]
        )
    for correction in statement_corrections(batch):
        event = correction.event
        writer.writerow(
            [
                neutralise_cell(correction.correction_id),
                neutralise_cell(event.worker_ref),
                event.occurred_at.astimezone(UTC).isoformat(),
                neutralise_cell(event.currency),
                correction.gross,
                correction.tips,
                correction.bonus,
                correction.jobs,
                event.policy.version,
                correction.booked,
                neutralise_cell(correction.status),
                neutralise_cell(event.description),
                neutralise_cell(event.event_id),
                neutralise_cell(correction.reason),
            ]
        )
    return out.getvalue()
