"""Contracts and milestones through the services, checked in the ledger with worked
examples (euro cents: 100_000 is EUR 1,000.00). Every refusal is checked to have changed
nothing: no journal, no leg, no row."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from keel.accounts.models import User
from keel.career import services
from keel.career.errors import CareerError, Conflict
from keel.career.models import (
    Contract,
    EventAction,
    InvoiceCounter,
    Milestone,
    MilestoneEvent,
    MilestoneState,
    Party,
)
from keel.career.services import MilestoneInput
from keel.income import services as income
from keel.income.commitments import commitments_for
from keel.income.models import IncomeItem
from keel.income.reports import monthly_facts
from keel.ledger import services as ledger
from keel.ledger.models import Account, Journal, JournalStatus, Leg

from .conftest import make_contract, milestones

D = date
FUNDED, DELIVERED, DISPUTED = D(2026, 2, 27), D(2026, 3, 5), D(2026, 3, 8)
RELEASED, RESOLVED = D(2026, 3, 10), D(2026, 3, 20)


def escrow(contract: Contract) -> ledger.Balance:
    return ledger.balance(services.escrow_code(contract))


def client_funds(contract: Contract) -> ledger.Balance:
    return ledger.balance(services.client_funds_code(contract))


def pending_amount(journal_id: int) -> int:
    """What a reservation holds: its debit leg."""
    return sum(
        amount
        for amount in Leg.objects.filter(journal_id=journal_id).values_list("amount", flat=True)
        if amount > 0
    )


def legs(journal_id: int) -> dict[str, int]:
    return dict(Leg.objects.filter(journal_id=journal_id).values_list("account__code", "amount"))


def snapshot() -> tuple[Any, ...]:
    """Everything an action could change."""
    return (
        Journal.objects.count(),
        Leg.objects.count(),
        list(Journal.objects.order_by("id").values_list("id", "status")),
        list(
            Milestone.objects.order_by("id").values_list(
                "state",
                "version",
                "reserved",
                "released",
                "rolled_in",
                "refunded",
                "escrow_pending_id",
                "delivered_on",
                "settled_on",
                "dispute_reason",
            )
        ),
        MilestoneEvent.objects.count(),
        IncomeItem.objects.count(),
        Contract.objects.count(),
        Account.objects.count(),
    )


def fund(m: Milestone, on: date = FUNDED, **kw: Any) -> Milestone:
    return services.fund_milestone(m, on=on, recorded_by=m.contract.worker, **kw)


def deliver(m: Milestone, on: date = DELIVERED, **kw: Any) -> Milestone:
    return services.deliver_milestone(m, on=on, recorded_by=m.contract.worker, **kw)


def release(m: Milestone, on: date = RELEASED, **kw: Any) -> Milestone:
    return services.release_milestone(m, on=on, recorded_by=m.contract.worker, **kw)


def dispute(m: Milestone, on: date = DISPUTED, **kw: Any) -> Milestone:
    kw.setdefault("reason", "The pages do not match the design")
    return services.dispute_milestone(m, on=on, recorded_by=m.contract.worker, **kw)


def resolve(m: Milestone, awarded: int, on: date = RESOLVED, **kw: Any) -> Milestone:
    return services.resolve_milestone(
        m, on=on, awarded=awarded, recorded_by=m.contract.worker, **kw
    )


def fresh(m: Milestone) -> Milestone:
    return Milestone.objects.select_related("contract").get(pk=m.pk)


# ---------------------------------------------------------------------------- creating


def test_a_contract_is_created_with_its_schedule_and_escrow_accounts(maya: User) -> None:
    contract = make_contract(maya, 100_000, 200_000)
    m1, m2 = milestones(contract)
    assert (m1.sequence, m1.amount, m1.state, m1.due_on) == (
        1,
        100_000,
        MilestoneState.PLANNED,
        D(2026, 3, 31),
    )
    assert (m2.sequence, m2.amount) == (2, 200_000)
    assert contract.income_source_slug == "acme-studio"
    assert contract.review_window_days == 14 and contract.payment_due_days == 30
    codes = {
        a.code: (a.kind, a.currency, a.floor, a.owner_id)
        for a in Account.objects.filter(code__contains=":career:")
    }
    assert codes == {
        f"worker:{maya.pk}:career:escrow:{contract.pk}": ("asset", "EUR", 0, maya.pk),
        f"worker:{maya.pk}:career:client-funds:{contract.pk}": ("liability", "EUR", None, maya.pk),
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "  "}, "title"),
        ({"client_name": ""}, "client_name"),
        ({"client_email": "not an email"}, "client_email"),
        ({"currency": "EURO"}, "currency"),
        ({"credit_limit": -1}, "credit_limit"),
        ({"credit_limit": 10.5}, "credit_limit"),
        # More than one ledger leg carries (a bigger number overflows the database's).
        ({"credit_limit": 10**15 + 1}, "credit_limit"),
        ({"credit_limit": 2**63}, "credit_limit"),
        (
            {"milestones": [MilestoneInput("A", 10**15), MilestoneInput("B", 1)]},
            "milestones",
        ),
        ({"milestones": [MilestoneInput("A", 2**63)]}, "milestones"),
        ({"review_window_days": -1}, "review_window_days"),
        ({"payment_due_days": 400}, "payment_due_days"),
        ({"milestones": []}, "milestones"),
        (
            {"milestones": [MilestoneInput("A", 100), MilestoneInput("B", 0)]},
            "milestones[1].amount",
        ),
        (
            {"milestones": [MilestoneInput("A", 100), MilestoneInput(" ", 100)]},
            "milestones[1].deliverable",
        ),
        (
            {
                "milestones": [
                    MilestoneInput("A", 100, due_on=D(2026, 3, 1), starts_on=D(2026, 3, 2))
                ]
            },
            "milestones[0].starts_on",
        ),
    ],
)
def test_a_bad_contract_is_refused_by_field_and_creates_nothing(
    maya: User, changes: dict[str, Any], field: str
) -> None:
    before = snapshot()
    with pytest.raises(CareerError) as refused:
        make_contract(maya, 100_000, **changes)
    assert refused.value.field == field
    assert snapshot() == before


def test_a_resent_create_form_returns_the_contract_it_created(maya: User) -> None:
    first = make_contract(maya, 100_000, key="token-1")
    again = make_contract(maya, 100_000, key="token-1")
    assert again.pk == first.pk
    assert Contract.objects.count() == 1


# ---------------------------------------------------------------------------- fund


def test_funding_reserves_the_milestone_in_escrow(contract: Contract) -> None:
    m1, _ = milestones(contract)
    m1 = fund(m1)
    assert (m1.state, m1.reserved, m1.version) == (MilestoneState.FUNDED, 100_000, 1)
    pending = Journal.objects.get(pk=m1.escrow_pending_id)
    assert pending.status == JournalStatus.PENDING and pending.kind == "career.escrow"
    assert pending.expires_at is not None and pending.expires_at.year == 2999
    assert legs(pending.pk) == {
        services.client_funds_code(contract): 100_000,
        services.escrow_code(contract): -100_000,
    }
    deposit = Journal.objects.get(kind="career.escrow.deposit")
    assert legs(deposit.pk) == {
        services.escrow_code(contract): 100_000,
        services.client_funds_code(contract): -100_000,
    }
    held = escrow(contract)
    assert (held.posted, held.pending_credits, held.available) == (100_000, 100_000, 0)
    assert client_funds(contract).posted == 100_000
    event = m1.events.get()
    assert (event.action, event.party, event.recorded_by, event.on, event.amount) == (
        EventAction.FUND,
        Party.CLIENT,
        contract.worker,
        D(2026, 2, 27),
        100_000,
    )
    assert event.journals == {"posted": [deposit.pk], "reserved": [pending.pk]}
    assert ledger.verify().ok


def test_funding_twice_is_refused_and_changes_nothing(contract: Contract) -> None:
    m1 = fund(milestones(contract)[0])
    before = snapshot()
    with pytest.raises(CareerError) as refused:
        fund(m1)
    assert refused.value.field == "state" and refused.value.code == "invalid_transition"
    assert "its state is funded" in refused.value.message
    assert snapshot() == before


# ---------------------------------------------------------------------------- release


def test_releasing_in_full_pays_the_worker_income_from_the_client(contract: Contract) -> None:
    maya = contract.worker
    m1, _ = milestones(contract)
    m1 = deliver(fund(m1))
    m1 = release(m1)
    assert (m1.state, m1.reserved, m1.released, m1.settled_on) == (
        MilestoneState.RELEASED,
        0,
        100_000,
        D(2026, 3, 10),
    )
    assert m1.escrow_pending_id is None
    reservation = Journal.objects.get(kind="career.escrow", status=JournalStatus.COMPLETED)
    posted = Journal.objects.get(pending=reservation)
    assert posted.status == JournalStatus.POSTED and posted.effective_date == D(2026, 3, 10)
    assert legs(posted.pk) == {
        services.client_funds_code(contract): 100_000,
        services.escrow_code(contract): -100_000,
    }
    held = escrow(contract)
    assert (held.posted, held.pending_credits, held.available) == (0, 0, 0)
    assert client_funds(contract).posted == 0
    # The income domain has it as income from Acme Studio, in its reports too.
    item = IncomeItem.objects.get(worker=maya)
    assert (item.source.slug, item.source.kind, item.stream.kind) == (
        "acme-studio",
        "client",
        "project",
    )
    assert (item.occurred_on, item.gross, item.net, item.home_income) == (
        D(2026, 3, 10),
        100_000,
        100_000,
        100_000,
    )
    assert item.journal_id == m1.income_journal_id
    assert ledger.balance(income.income_code(maya.pk, "acme-studio", "project")).posted == 100_000
    assert ledger.balance(income.held_code(maya.pk, "acme-studio", "EUR")).posted == 100_000
    facts = monthly_facts(maya, D(2026, 3, 1), D(2026, 3, 31))
    assert [(f.source, f.stream_kind, f.amount) for f in facts] == [
        ("acme-studio", "project", 100_000)
    ]
    assert ledger.verify().ok


def test_the_client_may_release_before_delivery(contract: Contract) -> None:
    m1 = release(fund(milestones(contract)[0]), on=D(2026, 3, 3))
    assert (m1.state, m1.released, m1.delivered_on) == (MilestoneState.RELEASED, 100_000, None)
    assert m1.events.order_by("-id").first().party == Party.CLIENT


def test_partial_release_rolls_the_rest_onto_the_next_milestone(contract: Contract) -> None:
    """EUR 1,000 funded; the client releases EUR 600: the worker gets EUR 600 and the
    EUR 400 stays reserved in escrow for milestone 2, which grows to EUR 2,400. Funding
    milestone 2 then tops escrow up by EUR 2,000 and reserves the whole EUR 2,400."""
    m1, m2 = milestones(contract)
    m1 = release(deliver(fund(m1)), amount=60_000)
    m2 = fresh(m2)
    assert (m1.state, m1.released, m1.reserved, m1.refunded) == (
        MilestoneState.RELEASED,
        60_000,
        0,
        0,
    )
    assert (m2.state, m2.amount, m2.rolled_in, m2.total, m2.reserved) == (
        MilestoneState.PLANNED,
        200_000,
        40_000,
        240_000,
        40_000,
    )
    first = Journal.objects.get(pk=m2.escrow_pending_id)
    assert first.status == JournalStatus.PENDING and pending_amount(first.pk) == 40_000
    posted = Journal.objects.get(pending__isnull=False)
    assert legs(posted.pk)[services.escrow_code(contract)] == -60_000
    held = escrow(contract)
    assert (held.posted, held.pending_credits, held.available) == (40_000, 40_000, 0)
    assert IncomeItem.objects.get().net == 60_000
    roll = m2.events.get()
    assert (roll.action, roll.amount) == (EventAction.ROLL_IN, 40_000)
    assert "rolled to milestone 2" in m1.events.order_by("-id").first().note

    m2 = fund(m2, on=D(2026, 3, 12))
    assert (m2.state, m2.reserved) == (MilestoneState.FUNDED, 240_000)
    first.refresh_from_db()
    assert first.status == JournalStatus.VOIDED
    second = Journal.objects.get(pk=m2.escrow_pending_id)
    assert second.status == JournalStatus.PENDING and pending_amount(second.pk) == 240_000
    top_up = Journal.objects.filter(kind="career.escrow.deposit").order_by("-id").first()
    assert legs(top_up.pk)[services.escrow_code(contract)] == 200_000
    held = escrow(contract)
    assert (held.posted, held.pending_credits, held.available) == (240_000, 240_000, 0)

    m2 = release(deliver(m2, on=D(2026, 4, 1)), on=D(2026, 4, 2))
    assert m2.released == 240_000
    assert escrow(contract).posted == 0 and client_funds(contract).posted == 0
    assert sum(IncomeItem.objects.values_list("net", flat=True)) == 300_000
    assert ledger.verify().ok


def test_partial_release_onto_a_funded_milestone_reserves_it_again(contract: Contract) -> None:
    m1, m2 = milestones(contract)
    m1 = fund(m1)
    m2 = fund(m2, on=D(2026, 3, 3))
    old = m2.escrow_pending_id
    release(deliver(m1), amount=75_000)
    m2 = fresh(m2)
    assert (m2.state, m2.total, m2.reserved) == (MilestoneState.FUNDED, 225_000, 225_000)
    assert Journal.objects.get(pk=old).status == JournalStatus.VOIDED
    assert pending_amount(m2.escrow_pending_id) == 225_000
    held = escrow(contract)
    assert (held.posted, held.pending_credits, held.available) == (225_000, 225_000, 0)
    assert ledger.verify().ok


def test_partial_release_of_the_last_milestone_returns_the_rest(maya: User) -> None:
    contract = make_contract(maya, 100_000)
    (m1,) = milestones(contract)
    m1 = release(deliver(fund(m1)), amount=90_000)
    assert (m1.released, m1.refunded) == (90_000, 10_000)
    refund = Journal.objects.get(kind="career.escrow.refund")
    assert legs(refund.pk) == {
        services.client_funds_code(contract): 10_000,
        services.escrow_code(contract): -10_000,
    }
    assert escrow(contract).posted == 0 and client_funds(contract).posted == 0
    assert "returned to Acme Studio" in m1.events.get(action=EventAction.RELEASE).note
    assert ledger.verify().ok


def test_releasing_more_than_the_escrow_is_refused_and_changes_nothing(
    contract: Contract,
) -> None:
    m1 = deliver(fund(milestones(contract)[0]))
    before = snapshot()
    for amount, code in ((100_001, "too_much"), (0, "nothing_released"), (-5, "out_of_range")):
        with pytest.raises(CareerError) as refused:
            release(m1, amount=amount)
        assert refused.value.field == "amount" and refused.value.code == code
    assert snapshot() == before


def test_a_planned_milestone_cannot_be_released(contract: Contract) -> None:
    before = snapshot()
    with pytest.raises(CareerError) as refused:
        release(milestones(contract)[0])
    assert refused.value.field == "state"
    assert snapshot() == before


# ---------------------------------------------------------------------------- auto-release


def test_auto_release_after_fourteen_days_exactly_not_on_day_thirteen(
    contract: Contract,
) -> None:
    m1 = deliver(fund(milestones(contract)[0], on=D(2026, 2, 20)), on=D(2026, 3, 1))
    before = snapshot()
    assert services.auto_release_due(D(2026, 3, 14)).released == []
    assert snapshot() == before
    report = services.auto_release_due(D(2026, 3, 15))
    assert report.released == [m1.pk] and report.failures == {}
    m1 = fresh(m1)
    assert (m1.state, m1.released, m1.settled_on) == (
        MilestoneState.RELEASED,
        100_000,
        D(2026, 3, 15),
    )
    event = m1.events.order_by("-id").first()
    assert (event.action, event.party, event.recorded_by, event.request_key) == (
        EventAction.AUTO_RELEASE,
        Party.KEEL,
        None,
        "auto-release",
    )
    assert IncomeItem.objects.get().occurred_on == D(2026, 3, 15)
    # Idempotent: run again (or late), nothing more happens.
    after = snapshot()
    assert services.auto_release_due(D(2026, 3, 15)).released == []
    assert services.auto_release_due(D(2026, 4, 30)).released == []
    assert snapshot() == after


def test_a_late_run_releases_on_the_day_the_window_closed(contract: Contract) -> None:
    m1 = deliver(fund(milestones(contract)[0]), on=D(2026, 3, 1))
    services.auto_release_due(D(2026, 3, 20))
    assert fresh(m1).settled_on == D(2026, 3, 15)


def test_a_shorter_window_releases_sooner(maya: User) -> None:
    contract = make_contract(maya, 100_000, review_window_days=7)
    m1 = deliver(fund(milestones(contract)[0]), on=D(2026, 3, 1))
    assert services.auto_release_due(D(2026, 3, 7)).released == []
    assert services.auto_release_due(D(2026, 3, 8)).released == [m1.pk]


def test_a_dispute_blocks_auto_release(contract: Contract) -> None:
    m1 = dispute(deliver(fund(milestones(contract)[0]), on=D(2026, 3, 1)), on=D(2026, 3, 5))
    assert m1.dispute_reason == "The pages do not match the design"
    before = snapshot()
    assert services.auto_release_due(D(2026, 6, 1)).released == []
    assert snapshot() == before
    m1 = fresh(m1)
    assert (m1.state, m1.reserved) == (MilestoneState.DISPUTED, 100_000)
    assert Journal.objects.get(pk=m1.escrow_pending_id).status == JournalStatus.PENDING


def test_a_dispute_needs_a_reason(contract: Contract) -> None:
    m1 = fund(milestones(contract)[0])
    before = snapshot()
    with pytest.raises(CareerError) as refused:
        dispute(m1, reason=" ")
    assert refused.value.field == "reason"
    assert snapshot() == before


# ---------------------------------------------------------------------------- resolve


def test_resolving_awards_part_and_returns_the_rest(contract: Contract) -> None:
    m1 = dispute(deliver(fund(milestones(contract)[0])))
    m1 = resolve(m1, 30_000, note="Half the pages were redone")
    assert (m1.state, m1.released, m1.refunded, m1.reserved, m1.settled_on) == (
        MilestoneState.RESOLVED,
        30_000,
        70_000,
        0,
        D(2026, 3, 20),
    )
    posted = Journal.objects.get(pending__isnull=False)
    assert legs(posted.pk)[services.escrow_code(contract)] == -30_000
    refund = Journal.objects.get(kind="career.escrow.refund")
    assert legs(refund.pk)[services.escrow_code(contract)] == -70_000
    assert IncomeItem.objects.get().net == 30_000
    assert escrow(contract).posted == 0 and client_funds(contract).posted == 0
    # The rest of a resolved milestone does not roll on: milestone 2 is unchanged.
    m2 = milestones(contract)[1]
    assert (m2.rolled_in, m2.reserved, m2.version) == (0, 0, 0)
    assert ledger.verify().ok


def test_resolving_with_nothing_for_the_worker_voids_the_escrow(contract: Contract) -> None:
    m1 = dispute(fund(milestones(contract)[0]))
    reservation = m1.escrow_pending_id
    m1 = resolve(m1, 0)
    assert (m1.state, m1.released, m1.refunded) == (MilestoneState.RESOLVED, 0, 100_000)
    assert Journal.objects.get(pk=reservation).status == JournalStatus.VOIDED
    assert not IncomeItem.objects.exists() and m1.income_journal_id is None
    assert escrow(contract).posted == 0
    assert ledger.verify().ok


def test_resolving_more_than_the_escrow_is_refused(contract: Contract) -> None:
    m1 = dispute(fund(milestones(contract)[0]))
    before = snapshot()
    with pytest.raises(CareerError) as refused:
        resolve(m1, 100_001)
    assert refused.value.field == "awarded"
    assert snapshot() == before


# ---------------------------------------------------------------------------- requests


def test_a_replayed_request_does_nothing_twice(contract: Contract) -> None:
    m1 = milestones(contract)[0]
    fund(m1, key="tok-1")
    before = snapshot()
    again = fund(m1, key="tok-1")
    assert again.state == MilestoneState.FUNDED
    assert snapshot() == before
    with pytest.raises(Conflict):
        deliver(m1, key="tok-1")
    assert snapshot() == before


def test_a_stale_page_is_refused(contract: Contract) -> None:
    m1 = fund(milestones(contract)[0])
    before = snapshot()
    with pytest.raises(Conflict) as refused:
        deliver(m1, expected_version=0)
    assert refused.value.field == "version"
    assert snapshot() == before
    assert deliver(m1, expected_version=1).state == MilestoneState.DELIVERED


def test_an_action_cannot_be_dated_before_the_last_change(contract: Contract) -> None:
    m1 = fund(milestones(contract)[0], on=D(2026, 3, 2))
    before = snapshot()
    with pytest.raises(CareerError) as refused:
        deliver(m1, on=D(2026, 3, 1))
    assert refused.value.field == "on"
    assert snapshot() == before


def test_income_that_cannot_be_booked_rolls_the_whole_release_back(maya: User) -> None:
    """A USD contract of a worker who counts in euros: with no exchange rate the income
    cannot be booked, so the escrow is not released either."""
    contract = make_contract(maya, 100_000, currency="USD")
    m1 = deliver(fund(milestones(contract)[0]))
    before = snapshot()
    with pytest.raises(CareerError) as refused:
        release(m1)
    assert refused.value.code == "income_refused" and "exchange rate" in refused.value.message
    assert snapshot() == before
    income.set_rate(maya, "USD", "EUR", D(2026, 3, 10), "0.9")
    m1 = release(m1)
    assert IncomeItem.objects.get().home_income == 90_000
    assert ledger.verify().ok


# ---------------------------------------------------------------------------- exposure, late


def test_exposure_is_delivered_unpaid_plus_work_in_progress_over_the_limit(maya: User) -> None:
    contract = make_contract(maya, 100_000, 200_000, 50_000, credit_limit=150_000)
    m1, m2, _ = milestones(contract)
    deliver(fund(m1), on=D(2026, 3, 20))
    fund(m2, on=D(2026, 3, 21))
    summary = services.contract_summary(contract, D(2026, 3, 25))
    e = summary.exposure
    assert (e.delivered_unpaid, e.work_in_progress, e.in_escrow) == (100_000, 200_000, 300_000)
    assert (e.total, e.over_by, e.over_limit) == (300_000, 150_000, True)
    assert e.warning() == (
        "Acme Studio owes or has work in progress worth €3,000.00, €1,500.00 over the credit"
        " limit of €1,500.00 (€1,000.00 delivered and unpaid, €2,000.00 in progress; "
        "€3,000.00 of it is in escrow)."
    )
    assert (summary.paid, summary.in_escrow, summary.value) == (0, 300_000, 350_000)
    assert escrow(contract).posted == summary.in_escrow


def test_late_payment_follows_freelance_isnt_free(maya: User) -> None:
    """Milestone 1 is due by its contract date, 31 March; delivered on 20 March and unpaid
    on 12 April it is 12 days late. Milestone 2 has no contract date: due 30 days after
    its delivery on 1 April, so on 12 April it is not late yet."""
    contract = services.create_contract(
        maya,
        title="Brand book",
        client_name="Bolt Ltd",
        currency="EUR",
        credit_limit=0,
        milestones=[
            MilestoneInput("Draft", 100_000, due_on=D(2026, 3, 31)),
            MilestoneInput("Final", 100_000),
        ],
    )
    m1, m2 = milestones(contract)
    deliver(fund(m1, on=D(2026, 3, 1)), on=D(2026, 3, 20))
    deliver(fund(m2, on=D(2026, 3, 1)), on=D(2026, 4, 1))
    dispute(fresh(m1), on=D(2026, 3, 25))
    summary = services.contract_summary(contract, D(2026, 4, 12))
    first, second = summary.milestones
    assert (first.lateness.due_on, first.lateness.days_overdue, first.late) == (
        D(2026, 3, 31),
        12,
        True,
    )
    assert (second.lateness.due_on, second.lateness.days_overdue) == (D(2026, 5, 1), 0)
    assert summary.most_days_overdue == 12 and [v.row.pk for v in summary.late] == [m1.pk]
    later = services.contract_summary(contract, D(2026, 5, 4)).milestones[1]
    assert later.lateness.days_overdue == 3


def test_a_net_days_rule_ignores_the_contract_date(maya: User) -> None:
    contract = make_contract(
        maya, 100_000, payment_due_days=15, payment_due_uses_contract_date=False
    )
    deliver(fund(milestones(contract)[0]), on=D(2026, 3, 1))
    view = services.contract_summary(contract, D(2026, 3, 20)).milestones[0]
    assert (view.lateness.due_on, view.lateness.days_overdue) == (D(2026, 3, 16), 4)


# ---------------------------------------------------------------------------- invoices


def test_invoices_are_numbered_per_worker_and_year_never_twice(maya: User, noor: User) -> None:
    contract = make_contract(maya, 100_000, 200_000)
    m1, m2 = milestones(contract)
    assert services.invoice_for(m1, D(2026, 3, 1)).number == "DRAFT"
    m1 = services.issue_invoice(m1, on=D(2026, 3, 1), recorded_by=maya)
    assert (m1.invoice_number, m1.invoice_issued_on) == ("INV-2026-0001", D(2026, 3, 1))
    assert services.issue_invoice(m1, on=D(2026, 4, 1), recorded_by=maya).invoice_number == (
        "INV-2026-0001"
    )
    assert services.issue_invoice(m2, on=D(2026, 4, 1), recorded_by=maya).invoice_number == (
        "INV-2026-0002"
    )
    other = milestones(make_contract(noor, 5_000))[0]
    assert services.issue_invoice(other, on=D(2026, 4, 1), recorded_by=noor).invoice_number == (
        "INV-2026-0001"
    )
    assert InvoiceCounter.objects.get(worker=maya, year=2026).last == 2
    assert m1.events.get().action == EventAction.INVOICE


def test_an_invoice_shows_what_rolled_in_and_what_is_due(contract: Contract) -> None:
    m1, m2 = milestones(contract)
    release(deliver(fund(m1)), amount=60_000)
    m2 = deliver(fund(fresh(m2), on=D(2026, 3, 12)), on=D(2026, 4, 10))
    invoice = services.invoice_for(fresh(m2), D(2026, 4, 10))
    assert [(line.description, line.amount) for line in invoice.lines] == [
        ("Part 2", 200_000),
        ("Carried over from earlier milestones", 40_000),
    ]
    assert (invoice.subtotal, invoice.paid, invoice.balance_due, invoice.due_on) == (
        240_000,
        0,
        240_000,
        D(2026, 4, 30),
    )
    first = services.invoice_for(fresh(m1), D(2026, 4, 10))
    assert [line.amount for line in first.lines] == [100_000, -40_000]
    assert (first.subtotal, first.paid, first.balance_due) == (60_000, 60_000, 0)


def test_the_invoice_pdf_is_a_pdf(contract: Contract) -> None:
    from keel.career import invoices

    m1 = services.issue_invoice(milestones(contract)[0], on=D(2026, 3, 1), recorded_by=None)
    pdf = invoices.render_pdf(invoices.invoice_document(fresh(m1), D(2026, 3, 1)))
    assert pdf.startswith(b"%PDF")
    from io import BytesIO

    from pypdf import PdfReader

    words = " ".join(PdfReader(BytesIO(pdf)).pages[0].extract_text().split())
    assert "Number: INV-2026-0001" in words and "Acme Studio" in words
    assert "Balance due €1,000.00" in words


def test_the_invoice_pdf_shows_what_was_paid_as_the_page_does(contract: Contract) -> None:
    # The page said "Paid €600.00" and the PDF of the same invoice "Paid -€600.00" (a minus sign).
    from io import BytesIO

    from pypdf import PdfReader

    from keel.career import invoices

    m1 = release(deliver(fund(milestones(contract)[0])), amount=60_000)
    doc = invoices.invoice_document(fresh(m1), D(2026, 4, 10))
    words = " ".join(PdfReader(BytesIO(invoices.render_pdf(doc))).pages[0].extract_text().split())
    assert "Subtotal €600.00 Paid €600.00 Balance due €0.00" in words


# ---------------------------------------------------------------------------- forecast


def test_milestones_due_feed_the_income_forecast(maya: User) -> None:
    today = D(2026, 3, 1)
    contract = services.create_contract(
        maya,
        title="Retainer",
        client_name="Acme Studio",
        currency="EUR",
        credit_limit=0,
        milestones=[
            MilestoneInput("Soon", 100_000, due_on=today + timedelta(days=10)),
            MilestoneInput("Later", 50_000, due_on=today + timedelta(days=120)),
            MilestoneInput("Undated", 70_000),
        ],
    )
    m1, _, m3 = milestones(contract)
    deliver(fund(m3, on=today), on=today)
    found = commitments_for(maya, today, today + timedelta(days=89))
    assert [(c.due_on, c.amount, c.key) for c in found] == [
        (D(2026, 3, 11), 100_000, "acme-studio"),
        (D(2026, 3, 15), 70_000, "acme-studio"),  # auto-release comes before day 30
    ]
    assert found[0].label == "Acme Studio: Soon"
    # Paid milestones are no longer expected; other currencies are left out.
    release(fund(m1, on=today), on=D(2026, 3, 2))
    make_contract(maya, 10_000, currency="USD")
    assert [c.amount for c in commitments_for(maya, today, today + timedelta(days=89))] == [70_000]
