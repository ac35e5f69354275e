"""Clearing and settlement through the services: batches close once and hold exactly what
was owed, late contributions land in the next batch, payments leave visible differences,
and a payment reference is recorded once."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from keel.accounts.models import User
from keel.audit.models import AuditEvent
from keel.gateway import services
from keel.gateway.errors import Conflict, GatewayError, NotFound
from keel.gateway.models import ClearingBatch, EarningsEvent, Platform, Settlement
from keel.gateway.services.platforms import custody_code, receivable_code
from keel.gateway.tests.conftest import event
from keel.ledger import services as ledger
from keel.ledger.models import Journal

# 10% of gross, nothing else: every contribution is a tenth of the gross, easy to check.
TENTH = {"currency": "USD", "rate_bps": 1000}
POLICY_START = date(2026, 1, 1)


@pytest.fixture
def flat(operator: User) -> Platform:
    return services.create_platform(
        "Flat Gigs", operator=operator, policy=TENTH, effective_from=POLICY_START
    )


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """Set the time the services see (``timezone.now``), e.g. when an event arrives."""

    def set_to(moment: datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return set_to


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def receivable(platform: Platform) -> int:
    return ledger.balance(receivable_code(platform.pk, "USD")).posted


def custody() -> int:
    return ledger.balance(custody_code("USD")).posted


def day_events(prefix: str, day: date, *grosses: int) -> list[dict[str, object]]:
    return [
        event(f"{prefix}{i}", day.isoformat(), gross, worker_ref=f"w{i}")
        for i, gross in enumerate(grosses, start=1)
    ]


# ---------------------------------------------------------------------------- closing


def test_close_owes_exactly_the_sum_of_contributions(flat: Platform) -> None:
    today = timezone.localdate()
    # 10% of $123.45, $80.01 and $0.04 (rounds to 0.00: no contribution, so not in the batch).
    services.record_events(flat, day_events("e", today, 12_345, 8_001, 4))
    [batch] = services.close_period(flat, today, today)
    assert (batch.currency, batch.owed, batch.event_count) == ("USD", 1_235 + 800, 2)
    assert batch.owed == sum(
        EarningsEvent.objects.filter(platform=flat).values_list("contribution", flat=True)
    )
    assert set(batch.events.values_list("event_id", flat=True)) == {"e1", "e2"}
    assert EarningsEvent.objects.get(event_id="e3").clearing_batch is None
    assert receivable(flat) == 2_035
    state = services.batch_state(batch)
    assert (state.paid, state.difference, state.status) == (0, -2_035, "open")


def test_closing_twice_is_the_same_batch_and_changes_nothing(flat: Platform) -> None:
    today = timezone.localdate()
    services.record_events(flat, day_events("e", today, 10_000, 20_000))
    first = services.close_period(flat, today, today)
    journals = Journal.objects.count()
    again = services.close_period(flat, today, today)
    assert [b.pk for b in again] == [b.pk for b in first]
    assert ClearingBatch.objects.count() == 1
    assert (again[0].owed, again[0].event_count) == (3_000, 2)
    assert Journal.objects.count() == journals
    assert receivable(flat) == 3_000


def test_close_due_twice_creates_one_batch(flat: Platform) -> None:
    today = timezone.localdate()
    services.record_events(flat, day_events("e", today, 10_000))
    tomorrow = today + timedelta(days=1)
    first = services.close_due(tomorrow)
    second = services.close_due(tomorrow)
    assert [b.pk for b in first] == [b.pk for b in second]
    assert [(b.period_start, b.period_end, b.owed) for b in first] == [(today, today, 1_000)]
    assert ClearingBatch.objects.count() == 1


def test_close_due_leaves_a_running_period_open(flat: Platform) -> None:
    today = timezone.localdate()
    services.record_events(flat, day_events("e", today, 10_000))
    assert services.close_due(today) == []  # closes yesterday: nothing arrived then
    assert ClearingBatch.objects.count() == 0
    assert EarningsEvent.objects.get().clearing_batch is None


def test_late_event_lands_in_the_next_batch(flat: Platform) -> None:
    today = timezone.localdate()
    tomorrow = today + timedelta(days=1)
    services.record_events(flat, day_events("e", today, 10_000, 20_000))
    [first] = services.close_due(tomorrow)
    # Work done before the close, reported after it: the closed batch does not change.
    yesterday = today - timedelta(days=1)
    services.record_events(flat, [event("late", yesterday.isoformat(), 50_000, worker_ref="w9")])
    assert [b.pk for b in services.close_due(tomorrow)] == [first.pk]
    first.refresh_from_db()
    assert (first.owed, first.event_count) == (3_000, 2)
    [second] = services.close_due(tomorrow + timedelta(days=1))
    assert (second.period_start, second.owed, second.event_count) == (tomorrow, 5_000, 1)
    assert list(second.events.values_list("event_id", flat=True)) == ["late"]
    assert receivable(flat) == 8_000


def test_a_period_with_nothing_owed_makes_no_batch(flat: Platform) -> None:
    today = timezone.localdate()
    services.record_events(flat, day_events("e", today, 4))  # 10% of 4 cents rounds to 0
    assert services.close_period(flat, today, today) == []
    assert ClearingBatch.objects.count() == 0


def test_close_refuses_a_period_ending_before_it_starts(flat: Platform) -> None:
    today = timezone.localdate()
    with pytest.raises(GatewayError) as caught:
        services.close_period(flat, today, today - timedelta(days=1))
    assert caught.value.field == "end"


def test_batches_belong_to_their_platform(flat: Platform, platform: Platform) -> None:
    today = timezone.localdate()
    services.record_events(flat, day_events("e", today, 10_000))
    [batch] = services.close_period(flat, today, today)
    assert services.close_period(platform, today, today) == []
    assert [s.batch.pk for s in services.batches_of(flat)] == [batch.pk]
    assert services.batches_of(platform) == []
    with pytest.raises(GatewayError):
        services.platform_batch(platform, batch.pk)


# ---------------------------------------------------------------------------- periods


@pytest.mark.parametrize(
    ("cadence", "today", "period"),
    [
        ("daily", date(2026, 3, 4), (date(2026, 3, 3), date(2026, 3, 3))),
        ("daily", date(2026, 3, 1), (date(2026, 2, 28), date(2026, 2, 28))),
        # Wednesday 4 March 2026: the week of Monday 23 February is the last whole one.
        ("weekly", date(2026, 3, 4), (date(2026, 2, 23), date(2026, 3, 1))),
        ("weekly", date(2026, 3, 2), (date(2026, 2, 23), date(2026, 3, 1))),
        ("monthly", date(2026, 3, 4), (date(2026, 2, 1), date(2026, 2, 28))),
        ("monthly", date(2026, 3, 1), (date(2026, 2, 1), date(2026, 2, 28))),
    ],
)
def test_last_whole_period(cadence: str, today: date, period: tuple[date, date]) -> None:
    assert services.last_whole_period(cadence, today) == period


def test_close_last_period_never_closes_a_running_period(db: None) -> None:
    weekly = services.create_platform(
        "Weekly", policy=TENTH, effective_from=POLICY_START, clearing_cadence="weekly"
    )
    today = timezone.localdate()
    services.record_events(weekly, day_events("e", today, 10_000))
    _, end, batches = services.close_last_period(weekly, today)
    assert end < today
    # The event arrived today, after the last whole week ended: it waits for its own week.
    assert batches == []
    assert EarningsEvent.objects.get().clearing_batch is None


def test_catch_up_closes_each_missed_day_on_its_own(
    flat: Platform, clock: Callable[[datetime], None]
) -> None:
    days = [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]
    for index, day in enumerate(days):
        clock(noon(day))
        services.record_events(flat, day_events(f"d{index}-", day, 10_000 * (index + 1)))
    # The scheduler was down on the 3rd, 4th and 5th; it is back on the 5th.
    clock(noon(date(2026, 3, 5)))
    closed = services.close_missed(date(2026, 3, 5))
    assert [(b.period_start, b.owed, b.event_count) for b in closed] == [
        (days[0], 1_000, 1),
        (days[1], 2_000, 1),
        (days[2], 3_000, 1),
    ]
    assert services.close_missed(date(2026, 3, 5)) == []
    assert services.close_due(date(2026, 3, 5))[0].pk == closed[-1].pk
    assert ClearingBatch.objects.count() == 3


def test_close_due_alone_sweeps_missed_days_into_one_batch(
    flat: Platform, clock: Callable[[datetime], None]
) -> None:
    # What the catch-up avoids: nothing is lost, but three days share one batch.
    for index, day in enumerate([date(2026, 3, 2), date(2026, 3, 3)]):
        clock(noon(day))
        services.record_events(flat, day_events(f"d{index}-", day, 10_000))
    [batch] = services.close_due(date(2026, 3, 4))
    assert (batch.period_start, batch.owed, batch.event_count) == (date(2026, 3, 3), 2_000, 2)


# ---------------------------------------------------------------------------- settlement


@pytest.fixture
def batch(flat: Platform) -> ClearingBatch:
    today = timezone.localdate()
    services.record_events(flat, day_events("e", today, 100_000, 25_000))  # $100 + $25 owed
    [closed] = services.close_period(flat, today, today)
    assert closed.owed == 12_500
    return closed


def pay(batch: ClearingBatch, reference: str, amount: int) -> Settlement:
    return services.record_settlement(
        batch, reference=reference, amount=amount, received_on=timezone.localdate()
    )


def test_exact_payment_settles(batch: ClearingBatch, flat: Platform) -> None:
    settlement = pay(batch, "WIRE-1", 12_500)
    state = services.batch_state(batch)
    assert (state.paid, state.difference, state.status) == (12_500, 0, "settled")
    assert receivable(flat) == 0
    assert custody() == 12_500
    journal = Journal.objects.get(pk=settlement.journal_id)
    assert journal.kind == "settlement"


def test_short_payment_leaves_the_difference(batch: ClearingBatch, flat: Platform) -> None:
    pay(batch, "WIRE-1", 12_000)
    state = services.batch_state(batch)
    assert (state.paid, state.difference, state.status) == (12_000, -500, "short")
    assert receivable(flat) == 500  # still owed, not written off
    [listed] = services.batches_of(flat)
    assert (listed.paid, listed.difference, listed.status) == (12_000, -500, "short")
    # The rest arrives: settled.
    pay(batch, "WIRE-2", 500)
    state = services.batch_state(batch)
    assert (state.paid, state.difference, state.status) == (12_500, 0, "settled")
    assert receivable(flat) == 0


def test_excess_payment_leaves_the_difference(batch: ClearingBatch, flat: Platform) -> None:
    pay(batch, "WIRE-1", 13_000)
    state = services.batch_state(batch)
    assert (state.paid, state.difference, state.status) == (13_000, 500, "excess")
    assert receivable(flat) == -500  # Keel holds $5.00 more than the platform owed
    assert custody() == 13_000


def test_same_reference_again_is_the_same_payment(batch: ClearingBatch, flat: Platform) -> None:
    first = pay(batch, "WIRE-1", 12_000)
    journals = Journal.objects.count()
    again = pay(batch, "WIRE-1", 12_000)
    assert again.pk == first.pk
    assert Settlement.objects.count() == 1
    assert Journal.objects.count() == journals
    assert receivable(flat) == 500
    assert services.batch_state(batch).paid == 12_000


def test_same_reference_with_another_amount_is_refused(
    batch: ClearingBatch, flat: Platform
) -> None:
    pay(batch, "WIRE-1", 12_000)
    journals = Journal.objects.count()
    with pytest.raises(Conflict) as caught:
        pay(batch, "WIRE-1", 12_500)
    assert caught.value.field == "reference"
    assert caught.value.code == "idempotency_conflict"
    assert "$120.00" in caught.value.message
    assert Settlement.objects.count() == 1
    assert Journal.objects.count() == journals
    assert receivable(flat) == 500
    assert services.batch_state(batch).status == "short"


def test_a_mistyped_payment_is_withdrawn_and_recorded_again_under_its_reference(
    batch: ClearingBatch, flat: Platform, operator: User
) -> None:
    # $125.00 was owed; the operator typed $1,250.00. Withdrawn, the batch owes $125.00
    # again, the books are as before, and the same bank reference takes the right amount.
    wrong = pay(batch, "WIRE-1", 125_000)
    assert services.batch_state(batch).status == "excess"
    withdrawn = services.withdraw_settlement(wrong, reason="amount mistyped", by=operator)
    assert (withdrawn.withdrawn_by, withdrawn.withdrawal_reason) == (operator, "amount mistyped")
    reversal = Journal.objects.get(pk=withdrawn.withdrawal_journal_id)
    assert (reversal.kind, reversal.reverses_id) == ("reversal", wrong.journal_id)
    state = services.batch_state(batch)
    assert (state.paid, state.difference, state.status) == (0, -12_500, "open")
    [listed] = services.batches_of(flat)
    assert listed.paid == 0
    assert (receivable(flat), custody()) == (12_500, 0)
    right = pay(batch, "WIRE-1", 12_500)
    assert right.pk != wrong.pk
    state = services.batch_state(batch)
    assert (state.paid, state.status) == (12_500, "settled")
    assert (receivable(flat), custody()) == (0, 12_500)
    assert ledger.verify().ok
    # Withdrawing again changes nothing; the corrected payment stands.
    journals = Journal.objects.count()
    again = services.withdraw_settlement(wrong, reason="again", by=operator)
    assert again.withdrawal_reason == "amount mistyped"
    assert Journal.objects.count() == journals
    assert services.batch_state(batch).status == "settled"
    assert list(
        AuditEvent.objects.filter(action="settlement.withdrawn").values_list(
            "actor_id", "platform_id", "details"
        )
    ) == [
        (
            operator.pk,
            flat.pk,
            {
                "batch_id": batch.pk,
                "reference": "WIRE-1",
                "amount": 125_000,
                "currency": "USD",
                "reason": "amount mistyped",
            },
        )
    ]


def test_an_excess_payment_refunded_settles_the_batch(
    batch: ClearingBatch, flat: Platform, operator: User
) -> None:
    # $125.00 owed, $130.50 paid: $5.50 is sent back. Custody and the receivable are as
    # if the platform had paid exactly.
    pay(batch, "WIRE-1", 13_050)
    today = timezone.localdate()
    journals = Journal.objects.count()
    with pytest.raises(GatewayError) as refused:
        services.record_refund(batch, reference="BACK-1", amount=551, refunded_on=today)
    assert (refused.value.field, Journal.objects.count()) == ("amount", journals)
    assert "holds $5.50 more than it owed" in refused.value.message
    refund = services.record_refund(
        batch, reference="BACK-1", amount=550, refunded_on=today, by=operator
    )
    assert refund.amount == -550
    assert Journal.objects.get(pk=refund.journal_id).kind == "settlement.refund"
    state = services.batch_state(batch)
    assert (state.paid, state.difference, state.status) == (12_500, 0, "settled")
    assert (receivable(flat), custody()) == (0, 12_500)
    # The same refund again is the same; nothing is left to refund.
    again = services.record_refund(batch, reference="BACK-1", amount=550, refunded_on=today)
    assert again.pk == refund.pk
    with pytest.raises(GatewayError, match=r"holds \$0\.00 more"):
        services.record_refund(batch, reference="BACK-2", amount=1, refunded_on=today)
    assert AuditEvent.objects.filter(action="settlement.refunded").count() == 1
    assert ledger.verify().ok


def test_a_batch_paid_short_has_nothing_to_refund(batch: ClearingBatch) -> None:
    pay(batch, "WIRE-1", 12_000)
    journals = Journal.objects.count()
    with pytest.raises(GatewayError) as refused:
        services.record_refund(
            batch, reference="BACK-1", amount=100, refunded_on=timezone.localdate()
        )
    assert refused.value.field == "amount"
    assert Journal.objects.count() == journals
    assert services.batch_state(batch).status == "short"


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201])
def test_a_withdrawal_needs_a_reason_and_changes_nothing_without_one(
    batch: ClearingBatch, flat: Platform, reason: str
) -> None:
    payment = pay(batch, "WIRE-1", 12_500)
    journals = Journal.objects.count()
    with pytest.raises(GatewayError) as refused:
        services.withdraw_settlement(payment, reason=reason)
    assert refused.value.field == "reason"
    assert Journal.objects.count() == journals
    payment.refresh_from_db()
    assert payment.withdrawn_at is None
    assert services.batch_state(batch).status == "settled"


def test_a_payment_of_another_batch_is_not_found(batch: ClearingBatch, flat: Platform) -> None:
    payment = pay(batch, "WIRE-1", 12_500)
    today = timezone.localdate()
    second = services.create_platform("Second", policy=TENTH, effective_from=POLICY_START)
    services.record_events(second, day_events("o", today, 10_000))
    [other] = services.close_period(second, today, today)
    with pytest.raises(NotFound):
        services.batch_settlement(other, payment.pk)
    assert services.batch_settlement(batch, payment.pk) == payment


@pytest.mark.parametrize(
    ("reference", "amount", "field"),
    [
        ("", 100, "reference"),
        ("   ", 100, "reference"),
        ("R" * 121, 100, "reference"),
        ("WIRE-1", 0, "amount"),
        ("WIRE-1", -100, "amount"),
        # Beyond what the ledger can book (the console answered 500).
        ("WIRE-1", 10**15 + 1, "amount"),
    ],
)
def test_bad_settlement_changes_nothing(
    batch: ClearingBatch, flat: Platform, reference: str, amount: int, field: str
) -> None:
    journals = Journal.objects.count()
    with pytest.raises(GatewayError) as caught:
        pay(batch, reference, amount)
    assert caught.value.field == field
    assert Settlement.objects.count() == 0
    assert Journal.objects.count() == journals
    assert receivable(flat) == 12_500


def test_a_payment_received_before_the_period_is_refused(
    batch: ClearingBatch, flat: Platform
) -> None:
    journals = Journal.objects.count()
    day_before = batch.period_start - timedelta(days=1)
    with pytest.raises(GatewayError) as caught:
        services.record_settlement(batch, reference="WIRE-1", amount=12_500, received_on=day_before)
    assert caught.value.field == "received_on"
    start = batch.period_start.isoformat()
    assert caught.value.message == (
        f"a payment for the batch of {start} to {batch.period_end.isoformat()} cannot have"
        f" been received before {start}"
    )
    assert Settlement.objects.count() == 0
    assert Journal.objects.count() == journals
    assert receivable(flat) == 12_500
    # On the period's first day it is taken.
    services.record_settlement(
        batch, reference="WIRE-1", amount=12_500, received_on=batch.period_start
    )
    assert services.batch_state(batch).status == "settled"


# ---------------------------------------------------------------------------- statement


def test_statement_lists_every_event_of_the_batch(flat: Platform) -> None:
    today = timezone.localdate()
    services.record_events(
        flat,
        [
            event("a", today.isoformat(), 10_000, worker_ref="w1", tips=500, jobs=2),
            event("b", today.isoformat(), 2_000, worker_ref="=cmd()", description="+sum"),
        ],
    )
    [batch] = services.close_period(flat, today, today)
    rows = list(csv.reader(io.StringIO(services.statement_csv(batch))))
    assert rows[0] == list(services.STATEMENT_COLUMNS)
    at = f"{today.isoformat()}T12:00:00+00:00"
    assert rows[1:] == [
        ["a", "w1", at, "USD", "10000", "500", "0", "2", "1", "1000", "suspense", "", "", ""],
        # Cells a spreadsheet would run as a formula are neutralised.
        ["b", "'=cmd()", at, "USD", "2000", "0", "0", "1", "1", "200", "suspense", "'+sum", "", ""],
    ]
    assert sum(int(r[9]) for r in rows[1:]) == batch.owed
