"""Corrections of recorded earnings events, worked by hand.

The flat platform pays 4% of gross with no threshold: $5,000.00 gives $200.00, split by the
default allocation 30/30/20/10/10 into health $60, retirement $60, time off $40, emergency
$20, tax $20. Corrected to $500.00 it should have given $20.00: $180.00 comes back, split
the same way ($54, $54, $36, $18, $18).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from keel.accounts.models import User
from keel.audit.models import AuditEvent
from keel.gateway import services, statements
from keel.gateway.errors import Conflict, GatewayError, NotFound
from keel.gateway.models import ClearingBatch, EarningsEvent, EventCorrection, Platform
from keel.gateway.rules.corrections import take_back
from keel.ledger import services as ledger
from keel.ledger.models import Journal, Leg

from .conftest import event

FLAT = {"currency": "USD", "rate_bps": 400}
SPLIT_20000 = {
    "health": 6_000,
    "retirement": 6_000,
    "time_off": 4_000,
    "emergency": 2_000,
    "tax": 2_000,
}
WEIGHTS = SPLIT_20000


@pytest.fixture
def flat(operator: User) -> Platform:
    return services.create_platform(
        "Flat", operator=operator, policy=FLAT, effective_from=date(2026, 1, 1)
    )


@pytest.fixture
def flat_link(worker: User, flat: Platform) -> Any:
    return services.link_with_code(flat, "dasher-1", services.create_link_code(worker))


def buckets(worker: User) -> dict[str, int]:
    return {b.bucket: b.balance for b in services.bucket_balances(worker) if b.currency == "USD"}


def receivable(platform: Platform) -> int:
    return ledger.balance(services.receivable_code(platform.pk, "USD")).posted


def suspense(platform: Platform) -> int:
    return ledger.balance(services.suspense_code(platform.pk, "USD")).posted


def fix(correction_id: str, corrects: str, gross: int, **extra: Any) -> dict[str, Any]:
    return {
        "correction_id": correction_id,
        "corrects": corrects,
        "worker_ref": extra.pop("worker_ref", "dasher-1"),
        "currency": "USD",
        "gross": gross,
        "reason": extra.pop("reason", "gross typed with an extra zero"),
        **extra,
    }


def state() -> tuple[int, int, int, list[tuple[Any, ...]]]:
    return (
        EventCorrection.objects.count(),
        Journal.objects.count(),
        Leg.objects.count(),
        list(
            EarningsEvent.objects.order_by("id").values_list("event_id", "status", "contribution")
        ),
    )


# ---------------------------------------------------------------------------- the rule


def test_take_back_splits_like_the_original():
    back = take_back(18_000, WEIGHTS, SPLIT_20000)
    assert back.taken == {
        "health": 5_400,
        "retirement": 5_400,
        "time_off": 3_600,
        "emergency": 1_800,
        "tax": 1_800,
    }
    assert back.shortfall == 0


def test_take_back_from_a_spent_bucket_takes_the_rest_from_the_others_in_order():
    # Time off holds $2.00 after $38.00 of time off: it gives $2.00; the $34.00 it could
    # not give comes from health ($6.00 above its share), retirement ($6.00), emergency
    # ($2.00) and tax ($2.00); $18.00 is nowhere in the account.
    held = {**SPLIT_20000, "time_off": 200}
    back = take_back(18_000, WEIGHTS, held)
    assert back.taken == {
        "health": 6_000,
        "retirement": 6_000,
        "time_off": 200,
        "emergency": 2_000,
        "tax": 2_000,
    }
    assert (back.total, back.shortfall) == (16_200, 1_800)


# ---------------------------------------------------------------------------- downward


def test_an_overstated_event_is_corrected_and_180_dollars_come_back(flat, flat_link, worker):
    services.record_events(flat, [event("trip-1", "2026-03-02", 500_000)])
    assert buckets(worker) == SPLIT_20000
    assert receivable(flat) == 20_000
    result = services.correct_event(flat, fix("fix-1", "trip-1", 50_000))
    c = result.correction
    assert result.status == "created"
    assert (c.contribution, c.difference, c.booked, c.shortfall) == (2_000, -18_000, -18_000, 0)
    assert (c.sequence, c.status, c.worker_id) == (1, "credited", worker.pk)
    assert buckets(worker) == {
        "health": 600,
        "retirement": 600,
        "time_off": 400,
        "emergency": 200,
        "tax": 200,
    }
    assert receivable(flat) == 2_000
    legs = dict(Leg.objects.filter(journal_id=c.journal_id).values_list("account__code", "amount"))
    assert legs == {
        f"worker:{worker.pk}:benefits:health": 5_400,
        f"worker:{worker.pk}:benefits:retirement": 5_400,
        f"worker:{worker.pk}:benefits:time-off": 3_600,
        f"worker:{worker.pk}:benefits:emergency": 1_800,
        f"worker:{worker.pk}:benefits:tax": 1_800,
        f"platform:{flat.pk}:receivable:usd": -18_000,
    }
    # The event itself never changes.
    original = EarningsEvent.objects.get(event_id="trip-1")
    assert (original.gross, original.contribution) == (500_000, 20_000)
    audit = AuditEvent.objects.get(action="earnings.corrected")
    assert audit.details["difference"] == -18_000
    assert audit.details["reason"] == "gross typed with an extra zero"
    assert ledger.verify().ok


def test_a_worker_who_already_took_time_off_gives_back_what_the_account_holds(
    flat, flat_link, worker
):
    services.record_events(flat, [event("trip-1", "2026-03-02", 500_000)])
    services.use_benefit(worker, "time_off", 3_800, idempotency_key="pto-1")
    c = services.correct_event(flat, fix("fix-1", "trip-1", 50_000)).correction
    # $180.00 asked; the account held $162.00; the platform bears the $18.00 the worker
    # already spent beyond what the event should have given.
    assert (c.difference, c.booked, c.shortfall) == (-18_000, -16_200, 1_800)
    assert buckets(worker) == dict.fromkeys(SPLIT_20000, 0)
    assert receivable(flat) == 20_000 - 16_200
    assert ledger.verify().ok


def test_a_second_correction_tries_the_shortfall_again(flat, flat_link, worker):
    services.record_events(flat, [event("trip-1", "2026-03-02", 500_000)])
    services.use_benefit(worker, "time_off", 3_800, idempotency_key="pto-1")
    services.correct_event(flat, fix("fix-1", "trip-1", 50_000))
    # A new contribution of $40.00 lands ($12, $12, $8, $4, $4); then the platform
    # corrects again to $450.00 ($18.00): the event has $38.00 booked ($200 - $162), so
    # $20.00 should come back, split 30/30/20/10/10.
    services.record_events(flat, [event("trip-2", "2026-03-03", 100_000)])
    c = services.correct_event(flat, fix("fix-2", "trip-1", 45_000)).correction
    assert (c.sequence, c.contribution, c.difference, c.booked, c.shortfall) == (
        2,
        1_800,
        -2_000,
        -2_000,
        0,
    )
    assert buckets(worker) == {
        "health": 600,
        "retirement": 600,
        "time_off": 400,
        "emergency": 200,
        "tax": 200,
    }
    assert receivable(flat) == 20_000 - 16_200 + 4_000 - 2_000
    assert ledger.verify().ok


def test_corrections_chain_each_from_the_latest_figures(flat, flat_link, worker):
    services.record_events(flat, [event("trip-1", "2026-03-02", 500_000)])
    first = services.correct_event(flat, fix("fix-1", "trip-1", 50_000)).correction
    # Then the platform finds $600.00 was right: $24.00 instead of $20.00, $4.00 more.
    second = services.correct_event(flat, fix("fix-2", "trip-1", 60_000)).correction
    assert (first.sequence, second.sequence) == (1, 2)
    assert (second.contribution, second.difference, second.booked) == (2_400, 400, 400)
    assert sum(buckets(worker).values()) == 2_400
    assert receivable(flat) == 2_400
    # The same figures as the latest correction correct nothing.
    with pytest.raises(GatewayError) as refused:
        services.correct_event(flat, fix("fix-3", "trip-1", 60_000))
    assert refused.value.field == "gross"
    assert EventCorrection.objects.count() == 2


# ---------------------------------------------------------------------------- upward


def test_an_understated_event_is_corrected_upward_into_the_same_buckets(flat, flat_link, worker):
    services.record_events(flat, [event("trip-1", "2026-03-02", 50_000)])
    # The worker changes their allocation afterwards: the correction follows where the
    # event's money went (30/30/20/10/10), not the new allocation.
    services.set_allocation(
        worker, {"health": 10_000, "retirement": 0, "time_off": 0, "emergency": 0, "tax": 0}
    )
    c = services.correct_event(
        flat, fix("fix-1", "trip-1", 500_000, reason="missed a zero")
    ).correction
    assert (c.contribution, c.difference, c.booked, c.shortfall) == (20_000, 18_000, 18_000, 0)
    assert buckets(worker) == SPLIT_20000
    assert receivable(flat) == 20_000
    assert ledger.verify().ok


def test_the_same_period_context_is_used_and_later_events_are_not_recomputed(
    platform, link, worker
):
    # DoorDash: $1,000.00 a quarter before anything is owed, then 4% back-dated. e1 $600
    # owes nothing; e2 $500 crosses: 4% of $1,100 = $44.00; e3 $200 then owes $8.00.
    services.record_events(
        platform,
        [
            event("e1", "2026-01-10", 60_000),
            event("e2", "2026-02-10", 50_000),
            event("e3", "2026-02-20", 20_000),
        ],
    )
    # e2 was really $300: with e1's $600 before it, $900 does not reach the threshold, so
    # e2 owes nothing and its $44.00 comes back. e3 keeps its $8.00: it is not recomputed.
    c = services.correct_event(platform, fix("fix-1", "e2", 30_000)).correction
    assert (c.contribution, c.difference, c.booked) == (0, -4_400, -4_400)
    assert "No contribution yet: $900.00 of the $1,000.00" in c.explanation
    assert EarningsEvent.objects.get(event_id="e3").contribution == 800
    assert sum(buckets(worker).values()) == 800
    # Corrected back to $500, the context is the same and so is the $44.00.
    again = services.correct_event(platform, fix("fix-2", "e2", 50_000)).correction
    assert (again.contribution, again.difference) == (4_400, 4_400)
    assert ledger.verify().ok


def test_an_event_that_gave_nothing_corrected_over_the_threshold_pays_by_the_allocation(
    platform, link, worker
):
    # DoorDash: e1 $600 owes nothing. It was really $1,200: that crosses the $1,000.00
    # threshold on its own, 4% of $1,200 = $48.00, split 30/30/20/10/10 by the allocation
    # (no journal of the event's to follow).
    services.record_events(platform, [event("e1", "2026-01-10", 60_000)])
    assert EarningsEvent.objects.get().contribution == 0
    c = services.correct_event(platform, fix("fix-1", "e1", 120_000)).correction
    assert (c.contribution, c.difference, c.booked, c.status) == (4_800, 4_800, 4_800, "credited")
    assert buckets(worker) == {
        "health": 1_440,
        "retirement": 1_440,
        "time_off": 960,
        "emergency": 480,
        "tax": 480,
    }
    assert receivable(platform) == 4_800
    assert ledger.verify().ok


# ---------------------------------------------------------------------------- suspense


def test_a_correction_of_an_event_held_in_suspense_reduces_suspense_and_releases_with_it(
    flat, worker
):
    services.record_events(flat, [event("trip-1", "2026-03-02", 500_000, worker_ref="new-7")])
    assert suspense(flat) == 20_000
    c = services.correct_event(flat, fix("fix-1", "trip-1", 50_000, worker_ref="new-7")).correction
    assert (c.status, c.booked, c.shortfall, c.worker_id) == ("suspense", -18_000, 0, None)
    assert suspense(flat) == 2_000
    assert receivable(flat) == 2_000
    assert services.suspense_by_ref(flat) == [
        {"worker_ref": "new-7", "currency": "USD", "total": 2_000}
    ]
    # Linking releases the corrected $20.00, not the $200.00 first recorded.
    services.link_with_code(flat, "new-7", services.create_link_code(worker))
    assert sum(buckets(worker).values()) == 2_000
    assert suspense(flat) == 0
    c.refresh_from_db()
    assert (c.status, c.worker_id) == ("released", worker.pk)
    # A later correction follows the money to the worker's buckets.
    up = services.correct_event(
        flat, fix("fix-2", "trip-1", 100_000, worker_ref="new-7")
    ).correction
    assert (up.status, up.booked) == ("credited", 2_000)
    assert sum(buckets(worker).values()) == 4_000
    assert ledger.verify().ok


# ---------------------------------------------------------------------------- clearing


def test_a_correction_while_the_batch_is_open_changes_the_batch_total(flat, flat_link):
    services.record_events(flat, [event("trip-1", "2026-03-02", 500_000)])
    services.correct_event(flat, fix("fix-1", "trip-1", 50_000))
    (batch,) = services.close_period(flat, date(2000, 1, 1), date(2099, 12, 31))
    assert (batch.owed, batch.event_count) == (2_000, 1)
    assert list(batch.corrections.values_list("correction_id", flat=True)) == ["fix-1"]
    rows = list(csv.DictReader(io.StringIO(services.statement_csv(batch))))
    assert [(r["event_id"], r["contribution"], r["corrects"], r["reason"]) for r in rows] == [
        ("trip-1", "20000", "", ""),
        ("fix-1", "-18000", "trip-1", "gross typed with an extra zero"),
    ]
    assert sum(int(r["contribution"]) for r in rows) == batch.owed
    assert rows[1]["gross"] == "50000"


def test_a_correction_recorded_after_the_events_period_joins_the_batch_that_takes_the_event(
    flat, flat_link
):
    services.record_events(flat, [event("trip-1", "2026-03-02", 500_000)])
    received = EarningsEvent.objects.get().received_at
    services.correct_event(flat, fix("fix-1", "trip-1", 50_000))
    # The correction is recorded a week later, but the event's batch was not closed yet.
    EventCorrection.objects.update(recorded_at=received + timedelta(days=7))
    day = received.astimezone(UTC).date()
    (batch,) = services.close_period(flat, day, day)
    assert batch.owed == 2_000


def test_a_correction_after_the_batch_closed_lands_in_the_next_and_the_closed_one_stays(
    flat, flat_link
):
    services.record_events(flat, [event("trip-1", "2026-03-02", 500_000)])
    # The event arrived three days ago and its day's batch closed and was paid.
    EarningsEvent.objects.update(received_at=timezone.now() - timedelta(days=3))
    today = timezone.localdate()
    first_day = today - timedelta(days=3)
    (closed,) = services.close_period(flat, first_day, first_day)
    services.record_settlement(closed, reference="wire-1", amount=20_000, received_on=today)
    statement = services.statement_csv(closed)
    services.correct_event(flat, fix("fix-1", "trip-1", 50_000))
    # Closing the same period again changes nothing, and its statement is not rewritten.
    assert services.close_period(flat, first_day, first_day) == [closed]
    closed.refresh_from_db()
    assert closed.owed == 20_000
    assert services.statement_csv(closed) == statement
    assert services.batch_state(closed).status == "settled"
    # The batch of the period the correction is recorded in carries the -$180.00: the
    # platform paid it already, so that batch is in excess by $180.00, to be refunded.
    (later,) = services.close_period(flat, today - timedelta(days=1), today)
    assert (later.owed, later.event_count) == (-18_000, 0)
    assert services.batch_state(later).status == "excess"
    assert services.close_period(flat, today - timedelta(days=1), today) == [later]
    assert ClearingBatch.objects.count() == 2
    assert receivable(flat) == -18_000
    services.record_refund(later, reference="back-1", amount=18_000, refunded_on=today)
    assert receivable(flat) == 0
    assert ledger.verify().ok


# ---------------------------------------------------------------------------- replay, refusals


def test_a_replayed_correction_exists_and_a_changed_one_is_refused(flat, flat_link, worker):
    services.record_events(flat, [event("trip-1", "2026-03-02", 500_000)])
    first = services.correct_event(flat, fix("fix-1", "trip-1", 50_000))
    again = services.correct_event(flat, fix("fix-1", "trip-1", 50_000))
    assert (again.status, again.correction.pk) == ("exists", first.correction.pk)
    before = state(), buckets(worker)
    with pytest.raises(Conflict) as refused:
        services.correct_event(flat, fix("fix-1", "trip-1", 40_000))
    assert (refused.value.field, refused.value.code) == ("correction_id", "idempotency_conflict")
    assert (state(), buckets(worker)) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"corrects": ""}, "corrects"),
        ({"gross": -1}, "gross"),
        ({"gross": "500.00"}, "gross"),
        ({"tips": 1.5}, "tips"),
        ({"reason": "  "}, "reason"),
        ({"currency": "EUR"}, "currency"),
        ({"currency": "XXQ"}, "currency"),
        ({"worker_ref": "someone-else"}, "worker_ref"),
        ({"occurred_at": "2026-03-01T00:00:00Z"}, "occurred_at"),
        ({"correction_id": None}, "correction_id"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(flat, flat_link, worker, change, field):
    services.record_events(flat, [event("trip-1", "2026-03-02", 500_000)])
    before = state(), buckets(worker)
    with pytest.raises(GatewayError) as refused:
        services.correct_event(flat, {**fix("fix-1", "trip-1", 50_000), **change})
    assert refused.value.field == field
    assert (state(), buckets(worker)) == before


def test_an_unknown_event_or_another_platforms_event_is_not_found(flat, flat_link, platform):
    services.record_events(platform, [event("dash-1", "2026-03-02", 500_000)])
    before = state()
    for corrects in ("nope", "dash-1"):
        with pytest.raises(NotFound) as refused:
            services.correct_event(flat, fix("fix-1", corrects, 50_000))
        assert refused.value.field == "corrects"
    assert state() == before


def test_a_monthly_minimum_top_up_is_not_corrected(alia, worker):
    services.link_with_code(alia, "cleaner-1", services.create_link_code(worker))
    services.record_events(alia, [event("c1", "2026-03-02", 4_000, worker_ref="cleaner-1", jobs=0)])
    services.close_month_minimums(alia, date(2026, 3, 1))
    before = state()
    with pytest.raises(GatewayError) as refused:
        services.correct_event(
            alia, fix("fix-1", "minimum:2026-03:cleaner-1", 0, worker_ref="cleaner-1")
        )
    assert refused.value.field == "corrects"
    assert state() == before


# ---------------------------------------------------------------------------- the books


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    grosses=st.lists(st.integers(min_value=0, max_value=900_000), min_size=1, max_size=5),
    spend=st.integers(min_value=0, max_value=30_000),
)
def test_any_sequence_of_corrections_keeps_the_books_balanced(flat, worker, grosses, spend):
    # Hypothesis reuses the function's database: each example has a reference of its own.
    ref = f"h-{EarningsEvent.objects.count()}"
    services.link_with_code(flat, ref, services.create_link_code(worker))
    event_id = f"trip-{ref}"
    services.record_events(flat, [event(event_id, "2026-03-02", 500_000, worker_ref=ref)])
    if spend and spend <= buckets(worker)["time_off"]:
        services.use_benefit(worker, "time_off", spend, idempotency_key=f"pto-{ref}")
    latest = 500_000
    for n, gross in enumerate(grosses):
        if gross == latest:
            continue
        c = services.correct_event(flat, fix(f"{ref}-{n}", event_id, gross, worker_ref=ref))
        latest = gross
        row = c.correction
        assert row.booked - row.difference == (row.shortfall if row.difference < 0 else 0)
        assert row.shortfall >= 0
        assert all(value >= 0 for value in buckets(worker).values())
    assert ledger.verify().ok


def test_the_journal_date_is_the_day_of_the_correction(flat, flat_link):
    services.record_events(flat, [event("trip-1", "2026-03-02", 500_000)])
    c = services.correct_event(flat, fix("fix-1", "trip-1", 50_000)).correction
    journal = Journal.objects.get(pk=c.journal_id)
    assert journal.effective_date == timezone.localdate()
    assert journal.kind == "contribution_correction"
    assert datetime.now(UTC) - c.recorded_at < timedelta(minutes=5)


# ---------------------------------------------------------------------------- the worker sees it


def test_the_workers_statement_and_benefits_page_show_the_correction(
    client, flat, flat_link, worker
):
    services.record_events(flat, [event("trip-1", "2026-03-02", 500_000)])
    services.use_benefit(worker, "time_off", 3_800, idempotency_key="pto-1")
    services.correct_event(flat, fix("fix-1", "trip-1", 50_000))
    today = timezone.localdate()
    s = statements.monthly_statement(worker, today.year, today.month)
    (line,) = s.corrections
    assert (line.platform, line.event_id, line.reason) == (
        "Flat",
        "trip-1",
        "gross typed with an extra zero",
    )
    assert (line.gross_before, line.gross_after) == (500_000, 50_000)
    assert (line.contribution_before, line.contribution_after) == (20_000, 2_000)
    assert (line.amount, line.shortfall) == (-16_200, 1_800)
    # The month still reconciles, with the take-back as its own movement.
    (usd,) = s.summaries
    assert usd.start + usd.moved == usd.end
    assert ("Corrections by platforms", -16_200) in [(m.label, m.amount) for m in usd.movements]
    # The contributions chart counts the event as corrected: $200.00 - $162.00.
    assert [(c.platform, c.amount) for c in statements.contributions_by_month(worker)] == [
        ("Flat", 3_800)
    ]
    client.force_login(worker)
    page = client.get(f"/benefits/statements/{today:%Y-%m}/").content.decode()
    assert 'data-testid="corrections"' in page
    assert "gross typed with an extra zero" in page
    assert "$18.00 you had already used is not taken back." in page
    assert "-$162.00" in page
    benefits = client.get("/benefits/").content.decode()
    assert 'data-testid="benefit-corrections"' in benefits
    assert "gross $5,000.00 corrected to $500.00" in benefits
    pdf = client.get(f"/benefits/statements/{today:%Y-%m}.pdf")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Corrections by platforms" in text
    assert "gross typed with an extra zero" in text


# ---------------------------------------------------------------------------- the console


def console_form(token: str, corrects: str, gross: str, **extra: str) -> dict[str, str]:
    return {
        "token": token,
        "corrects": corrects,
        "gross": gross,
        "tips": "",
        "bonus": "",
        "jobs": "1",
        "reason": "the rider app doubled the fare",
        **extra,
    }


def test_an_operator_corrects_an_event_in_the_console(client, flat, flat_link, operator, worker):
    services.record_events(flat, [event("trip-1", "2026-03-02", 500_000)])
    client.force_login(operator)
    url = f"/platform/{flat.pk}/corrections/"
    page = client.get(url, {"event": "trip-1"})
    assert page.status_code == 200
    text = page.content.decode()
    assert 'data-testid="event"' in text
    assert 'value="5000.00"' in text  # the event's figures, ready to correct
    response = client.post(url, console_form("t-1", "trip-1", "500.00"))
    assert response.status_code == 302
    assert response["Location"] == f"{url}?event=trip-1"
    c = EventCorrection.objects.get()
    assert (c.correction_id, c.gross, c.booked, c.recorded_by_id) == (
        "console-t-1",
        50_000,
        -18_000,
        operator.pk,
    )
    assert sum(buckets(worker).values()) == 2_000
    followed = client.get(response["Location"]).content.decode()
    assert "Corrected trip-1: $180.00 taken back." in followed
    assert 'data-correction="console-t-1"' in followed
    assert "the rider app doubled the fare" in followed
    # The same form sent twice records it once.
    again = client.post(url, console_form("t-1", "trip-1", "500.00"), follow=True)
    assert "already recorded" in again.content.decode()
    assert EventCorrection.objects.count() == 1
    # The batch page lists the correction with the events, and links each event here.
    (batch,) = services.close_period(flat, date(2000, 1, 1), date(2099, 12, 31))
    batch_page = client.get(f"/platform/{flat.pk}/clearing/{batch.pk}/").content.decode()
    assert 'data-testid="batch-corrections"' in batch_page
    assert 'data-correction="console-t-1"' in batch_page
    assert f"/platform/{flat.pk}/corrections/?event=trip-1" in batch_page


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"gross": "five"}, "gross"),
        ({"gross": ""}, "gross"),
        ({"reason": ""}, "reason"),
        ({"corrects": "nope"}, "corrects"),
        ({"gross": "5000.00"}, "gross"),  # the figures it already carries
    ],
)
def test_a_bad_console_correction_shows_its_error_and_changes_nothing(
    client, flat, flat_link, operator, worker, change, field
):
    services.record_events(flat, [event("trip-1", "2026-03-02", 500_000)])
    client.force_login(operator)
    before = state(), buckets(worker)
    response = client.post(
        f"/platform/{flat.pk}/corrections/", {**console_form("t-1", "trip-1", "500.00"), **change}
    )
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert (state(), buckets(worker)) == before


def test_another_platforms_operator_cannot_reach_the_corrections_page(
    client, flat, flat_link, worker
):
    services.record_events(flat, [event("trip-1", "2026-03-02", 500_000)])
    outsider = services.create_platform(
        "Other", operator=worker, policy=FLAT, effective_from=date(2026, 1, 1)
    )
    client.force_login(worker)
    before = state()
    assert client.get(f"/platform/{flat.pk}/corrections/").status_code == 404
    response = client.post(
        f"/platform/{flat.pk}/corrections/", console_form("t-1", "trip-1", "500.00")
    )
    assert response.status_code == 404
    # On their own platform the event id means nothing.
    own = client.post(
        f"/platform/{outsider.pk}/corrections/", console_form("t-2", "trip-1", "500.00")
    )
    assert own.status_code == 400
    assert state() == before
