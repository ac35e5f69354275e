"""Milestone contracts by hand: a three-milestone contract through fund, delivery, partial
release with roll-over, auto-release after 14 days and a dispute; exposure over the credit
limit; Freelance Isn't Free lateness; invoices; forecast items."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.career.rules.contracts import (
    Contract,
    ContractError,
    ContractTerms,
    EscrowAction,
    EscrowJournal,
    Exposure,
    Invoice,
    InvoiceLine,
    Milestone,
    MilestoneAction,
    MilestoneState,
    PaymentDueRule,
    ScheduledIncome,
    allowed_actions,
    auto_release_date,
    auto_release_due,
    client_exposure,
    deliver,
    dispute,
    exposure,
    fund,
    invoice_number,
    lateness,
    milestone_invoice,
    next_state,
    partial_release,
    payment_due_date,
    release,
    resolve,
    scheduled_income,
)

RESERVE, POST, VOID = EscrowAction.RESERVE, EscrowAction.POST, EscrowAction.VOID
S = MilestoneState

ACME = Contract(client="Acme Studio", currency="USD", credit_limit=750_000)


def schedule() -> tuple[Milestone, Milestone, Milestone]:
    return (
        Milestone(1, 200_000, "Brand audit", due_on=date(2025, 3, 31), starts_on=date(2025, 3, 1)),
        Milestone(2, 300_000, "Logo and identity", due_on=date(2025, 4, 30)),
        Milestone(3, 400_000, "Website", due_on=date(2025, 5, 31)),
    )


# --------------------------------------------------------------------------- the worked example


def test_three_milestones_fund_deliver_partial_release_auto_release_and_dispute():
    m1, m2, m3 = schedule()

    # 1 March: the client funds milestone 1; $2,000.00 is reserved in escrow.
    step = fund(m1)
    m1 = step.milestone
    assert (m1.state, m1.reserved) == (S.FUNDED, 200_000)
    assert step.journals == (EscrowJournal(RESERVE, 1, 200_000),)

    # 20 March: delivered; the review window runs to 3 April (20 + 14).
    m1 = deliver(m1, date(2025, 3, 20)).milestone
    assert m1.state is S.DELIVERED
    assert auto_release_date(date(2025, 3, 20), 14) == date(2025, 4, 3)

    # 25 March: the client releases $1,500.00 of $2,000.00. The ledger posts 150,000 of the
    # reservation and releases the other 50,000, which is reserved again at once for
    # milestone 2: its total becomes 300,000 + 50,000 = 350,000, 50,000 of it in escrow.
    step = release(m1, date(2025, 3, 25), amount=150_000, next_milestone=m2)
    m1, m2 = step.milestone, step.next_milestone
    assert m2 is not None
    assert (m1.state, m1.released, m1.reserved, m1.settled_on) == (
        S.RELEASED,
        150_000,
        0,
        date(2025, 3, 25),
    )
    assert step.journals == (EscrowJournal(POST, 1, 150_000), EscrowJournal(RESERVE, 2, 50_000))
    assert step.refunded == 0
    assert (m2.state, m2.amount, m2.rolled_in, m2.total, m2.reserved) == (
        S.PLANNED,
        300_000,
        50_000,
        350_000,
        50_000,
    )

    # 1 April: funding milestone 2 voids the 50,000 reservation and reserves the whole
    # 350,000; the client only tops up 300,000.
    step = fund(m2)
    m2 = step.milestone
    assert step.journals == (EscrowJournal(VOID, 2, 50_000), EscrowJournal(RESERVE, 2, 350_000))
    assert m2.reserved == 350_000

    # 10 April delivered; the client does nothing. 23 April is day 13: not yet. 24 April is
    # day 14: the escrow releases itself in full.
    m2 = deliver(m2, date(2025, 4, 10)).milestone
    assert auto_release_due(date(2025, 4, 10), 14, date(2025, 4, 23)) is False
    assert auto_release_due(date(2025, 4, 10), 14, date(2025, 4, 24)) is True
    step = release(m2, auto_release_date(date(2025, 4, 10), 14))
    m2 = step.milestone
    assert step.journals == (EscrowJournal(POST, 2, 350_000),)
    assert (m2.state, m2.released, m2.settled_on) == (S.RELEASED, 350_000, date(2025, 4, 24))

    # Milestone 3: funded, delivered 20 May, disputed 25 May (no auto-release while
    # disputed), resolved 10 June with $3,000.00 to the worker and $1,000.00 back.
    m3 = deliver(fund(m3).milestone, date(2025, 5, 20)).milestone
    m3 = dispute(m3).milestone
    assert m3.state is S.DISPUTED
    with pytest.raises(ContractError) as err:
        release(m3, date(2025, 6, 3))
    assert err.value.field == "state"
    step = resolve(m3, date(2025, 6, 10), 300_000)
    assert step.journals == (EscrowJournal(POST, 3, 300_000),)
    assert step.refunded == 100_000
    assert (step.milestone.state, step.milestone.released) == (S.RESOLVED, 300_000)

    # The whole contract: 200,000 + 300,000 + 400,000 = 900,000 scheduled; paid 150,000 +
    # 350,000 + 300,000 = 800,000; refunded 100,000. Nothing is left in escrow.
    assert m1.released + m2.released + step.milestone.released == 800_000


def test_resolving_a_dispute_with_nothing_for_the_worker_voids_the_escrow():
    m = dispute(fund(Milestone("x", 80_000, "Copy")).milestone).milestone
    step = resolve(m, date(2025, 2, 1), 0)
    assert step.journals == (EscrowJournal(VOID, "x", 80_000),)
    assert step.refunded == 80_000
    assert step.milestone.released == 0


def test_a_resolution_cannot_award_more_than_the_escrow():
    m = dispute(fund(Milestone("x", 80_000, "Copy")).milestone).milestone
    with pytest.raises(ContractError) as err:
        resolve(m, date(2025, 2, 1), 80_001)
    assert (err.value.field, err.value.code) == ("awarded", "too_much")


def test_a_client_may_release_a_funded_milestone_before_delivery():
    step = release(fund(Milestone(1, 50_000, "Draft")).milestone, date(2025, 1, 5))
    assert step.milestone.state is S.RELEASED
    assert step.journals == (EscrowJournal(POST, 1, 50_000),)


# --------------------------------------------------------------------------- state machine


def test_allowed_actions_per_state():
    assert allowed_actions("planned") == (MilestoneAction.FUND,)
    assert allowed_actions(S.FUNDED) == (
        MilestoneAction.DELIVER,
        MilestoneAction.RELEASE,
        MilestoneAction.DISPUTE,
    )
    assert allowed_actions(S.DELIVERED) == (MilestoneAction.RELEASE, MilestoneAction.DISPUTE)
    assert allowed_actions(S.DISPUTED) == (MilestoneAction.RESOLVE,)
    assert allowed_actions(S.RELEASED) == ()
    assert allowed_actions(S.RESOLVED) == ()


@pytest.mark.parametrize(
    ("state", "action", "target"),
    [
        ("planned", "fund", S.FUNDED),
        ("funded", "deliver", S.DELIVERED),
        ("funded", "release", S.RELEASED),
        ("funded", "dispute", S.DISPUTED),
        ("delivered", "release", S.RELEASED),
        ("delivered", "dispute", S.DISPUTED),
        ("disputed", "resolve", S.RESOLVED),
    ],
)
def test_allowed_transitions(state, action, target):
    assert next_state(state, action) is target


def test_a_planned_milestone_cannot_be_released_and_the_error_names_the_state():
    with pytest.raises(ContractError) as err:
        next_state("planned", "release")
    assert (err.value.field, err.value.code) == ("state", "invalid_transition")
    assert str(err.value) == (
        "cannot release the milestone: its state is planned, so it can only be funded"
    )


def test_a_settled_milestone_cannot_change():
    with pytest.raises(ContractError) as err:
        next_state("released", "dispute")
    assert str(err.value) == (
        "cannot dispute the milestone: its state is released, so it is settled and cannot change"
    )


def test_delivering_twice_is_refused():
    m = deliver(fund(Milestone(1, 100, "x")).milestone, date(2025, 1, 2)).milestone
    with pytest.raises(ContractError) as err:
        deliver(m, date(2025, 1, 3))
    assert err.value.field == "state"


def test_unknown_state_and_action_are_refused_by_name():
    with pytest.raises(ContractError) as err:
        next_state("paid", "fund")
    assert err.value.field == "state"
    with pytest.raises(ContractError) as err:
        next_state("planned", "pay")
    assert err.value.field == "action"


# --------------------------------------------------------------------------- partial release


def test_partial_release_without_a_next_milestone_gives_the_rest_back():
    roll = partial_release(200_000, 120_000, None)
    assert (roll.released, roll.rest, roll.refunded, roll.next_milestone) == (
        120_000,
        80_000,
        80_000,
        None,
    )
    assert roll.journals == ()


def test_releasing_everything_rolls_nothing():
    _, m2, _ = schedule()
    roll = partial_release(200_000, 200_000, m2)
    assert (roll.rest, roll.refunded, roll.next_milestone, roll.journals) == (0, 0, None, ())


def test_rolling_onto_a_funded_milestone_voids_and_reserves_its_escrow_again():
    # Milestone 2 is funded with 300,000; 50,000 rolls in: void 300,000, reserve 350,000.
    m2 = fund(schedule()[1]).milestone
    roll = partial_release(200_000, 150_000, m2)
    assert roll.journals == (EscrowJournal(VOID, 2, 300_000), EscrowJournal(RESERVE, 2, 350_000))
    assert roll.next_milestone is not None
    assert (roll.next_milestone.state, roll.next_milestone.reserved) == (S.FUNDED, 350_000)


def test_partial_release_refuses_more_than_the_escrow():
    with pytest.raises(ContractError) as err:
        partial_release(200_000, 200_001, None)
    assert (err.value.field, err.value.code) == ("released", "too_much")
    assert str(err.value) == "released cannot be more than the 200000 held in escrow, not 200001"


def test_partial_release_refuses_nothing_and_negative_and_floats():
    with pytest.raises(ContractError) as err:
        partial_release(200_000, 0, None)
    assert err.value.code == "nothing_released"
    with pytest.raises(ContractError) as err:
        partial_release(200_000, -1, None)
    assert err.value.field == "released"
    with pytest.raises(ContractError) as err:
        partial_release(200_000, 1500.0, None)  # type: ignore[arg-type]
    assert err.value.code == "invalid_type"


@pytest.mark.parametrize("state", ["disputed", "released"])
def test_the_rest_cannot_roll_onto_a_disputed_or_settled_milestone(state):
    m = fund(Milestone(9, 1_000, "Next")).milestone
    m = dispute(m).milestone if state == "disputed" else release(m, date(2025, 1, 1)).milestone
    with pytest.raises(ContractError) as err:
        partial_release(5_000, 2_000, m)
    assert (err.value.field, err.value.code) == ("next_milestone", "invalid_transition")


def test_a_milestone_cannot_roll_onto_itself():
    m = fund(Milestone(1, 1_000, "x")).milestone
    with pytest.raises(ContractError) as err:
        release(m, date(2025, 1, 1), amount=500, next_milestone=m)
    assert err.value.field == "next_milestone"


@given(
    funded=st.integers(1, 10**9),
    share=st.integers(1, 10**9),
    next_amount=st.integers(1, 10**9),
    next_funded=st.booleans(),
)
def test_partial_release_never_releases_more_than_funded_and_loses_nothing(
    funded, share, next_amount, next_funded
):
    released = 1 + share % funded
    following = Milestone("n", next_amount, "Next")
    if next_funded:
        following = fund(following).milestone
    roll = partial_release(funded, released, following)
    assert 0 < roll.released <= funded
    assert roll.released + roll.rest == funded
    # None means the next milestone is unchanged.
    after = following if roll.next_milestone is None else roll.next_milestone
    moved = after.reserved - following.reserved
    # Every cent of the escrow is paid, refunded or reserved again for the next milestone.
    assert roll.released + roll.refunded + moved == funded
    assert after.total - following.total == moved


# --------------------------------------------------------------------------- review window


def test_auto_release_counts_calendar_days_across_a_month_end():
    assert auto_release_date(date(2025, 2, 20), 14) == date(2025, 3, 6)
    assert auto_release_due(date(2025, 2, 20), 14, date(2025, 3, 5)) is False
    assert auto_release_due(date(2025, 2, 20), 14, date(2025, 3, 6)) is True


def test_auto_release_refuses_a_datetime():
    with pytest.raises(ContractError) as err:
        auto_release_due(datetime(2025, 2, 20), 14, date(2025, 3, 6))  # noqa: DTZ001
    assert err.value.field == "delivered_on"


# --------------------------------------------------------------------------- exposure


def test_exposure_over_the_credit_limit_by_an_exact_amount():
    today = date(2025, 5, 10)
    milestones = [
        # Delivered, unpaid: 300,000 + 50,000 rolled in.
        Milestone(
            "a",
            300_000,
            "Identity",
            state=S.DELIVERED,
            rolled_in=50_000,
            reserved=350_000,
            delivered_on=date(2025, 5, 2),
        ),
        # Work in progress: funded, not delivered.
        Milestone("b", 400_000, "Website", state=S.FUNDED, reserved=400_000),
        # Work in progress: planned, started 1 May.
        Milestone("c", 250_000, "Copy", starts_on=date(2025, 5, 1)),
        # Not counted: starts 1 June; no start date; already released.
        Milestone("d", 100_000, "Ads", starts_on=date(2025, 6, 1)),
        Milestone("e", 80_000, "Photos"),
        Milestone(
            "f",
            200_000,
            "Audit",
            state=S.RELEASED,
            released=150_000,
            delivered_on=date(2025, 3, 20),
            settled_on=date(2025, 3, 25),
        ),
    ]
    # 350,000 delivered + (400,000 + 250,000) in progress = 1,000,000; limit 750,000;
    # over by 250,000. In escrow: 350,000 + 400,000 = 750,000.
    result = exposure(ACME, milestones, today)
    assert (result.delivered_unpaid, result.work_in_progress, result.total) == (
        350_000,
        650_000,
        1_000_000,
    )
    assert (result.over_by, result.over_limit, result.in_escrow) == (250_000, True, 750_000)
    assert result.warning() == (
        "Acme Studio owes or has work in progress worth $10,000.00, $2,500.00 over the credit "
        "limit of $7,500.00 ($3,500.00 delivered and unpaid, $6,500.00 in progress; "
        "$7,500.00 of it is in escrow)."
    )


def test_exposure_exactly_at_the_limit_is_not_over():
    m = Milestone("b", 750_000, "Website", state=S.FUNDED, reserved=750_000)
    result = exposure(ACME, [m], date(2025, 5, 10))
    assert (result.total, result.over_by, result.over_limit, result.warning()) == (
        750_000,
        0,
        False,
        None,
    )


def test_a_dispute_counts_as_delivered_only_once_delivered():
    before = dispute(fund(Milestone(1, 10_000, "x")).milestone).milestone
    after = dispute(deliver(fund(Milestone(2, 20_000, "y")).milestone, date(2025, 1, 2)).milestone)
    result = exposure(ACME, [before, after.milestone], date(2025, 1, 5))
    assert (result.work_in_progress, result.delivered_unpaid) == (10_000, 20_000)


def test_a_clients_exposure_sums_its_contracts_against_the_largest_limit():
    # Contract 1: $1,000 delivered and unpaid, limit $1,500. Contract 2: $800 in progress,
    # limit $1,000. Together $1,800 against $1,500: $300 over, though neither is alone.
    first = exposure(
        Contract("Acme Studio", "USD", 150_000),
        [
            Milestone(
                1, 100_000, "x", state=S.DELIVERED, reserved=100_000, delivered_on=date(2025, 1, 2)
            )
        ],
        date(2025, 1, 5),
    )
    second = exposure(
        Contract("Acme Studio", "USD", 100_000),
        [Milestone(1, 80_000, "y", state=S.FUNDED, reserved=80_000)],
        date(2025, 1, 5),
    )
    assert not first.over_limit and not second.over_limit
    both = client_exposure([first, second])
    assert both == Exposure("Acme Studio", "USD", 100_000, 80_000, 180_000, 150_000)
    assert (both.total, both.over_by) == (180_000, 30_000)


def test_a_clients_exposure_is_per_currency_and_needs_a_contract():
    usd = exposure(ACME, [], date(2025, 1, 5))
    eur = exposure(Contract("Acme Studio", "EUR", 0), [], date(2025, 1, 5))
    with pytest.raises(ContractError) as err:
        client_exposure([usd, eur])
    assert err.value.field == "exposures[1].currency"
    with pytest.raises(ContractError) as err:
        client_exposure([])
    assert err.value.field == "exposures"


def test_exposure_refuses_a_milestone_listed_twice():
    m = Milestone(1, 100, "x")
    with pytest.raises(ContractError) as err:
        exposure(ACME, [m, m], date(2025, 1, 1))
    assert err.value.field == "milestones[1].id"


# --------------------------------------------------------------------------- lateness


def test_twelve_days_late_under_thirty_days_after_completion():
    # No contract date: delivered 1 March, due 30 days later on 31 March; unpaid on
    # 12 April, that is 12 days overdue.
    m = Milestone(
        1, 200_000, "Audit", state=S.DELIVERED, reserved=200_000, delivered_on=date(2025, 3, 1)
    )
    assert payment_due_date(m) == date(2025, 3, 31)
    late = lateness(m, date(2025, 4, 12))
    assert (late.due_on, late.days_overdue, late.late, late.unpaid) == (
        date(2025, 3, 31),
        12,
        True,
        200_000,
    )
    on_time = lateness(m, date(2025, 3, 31))
    assert (on_time.days_overdue, on_time.late) == (0, False)


def test_the_contract_date_comes_first():
    m = Milestone(
        1,
        100,
        "x",
        due_on=date(2025, 3, 15),
        state=S.DELIVERED,
        reserved=100,
        delivered_on=date(2025, 3, 10),
    )
    assert payment_due_date(m) == date(2025, 3, 15)
    assert lateness(m, date(2025, 3, 20)).days_overdue == 5


def test_work_delivered_after_the_contract_date_is_due_on_delivery():
    m = Milestone(
        1,
        100,
        "x",
        due_on=date(2025, 3, 15),
        state=S.DELIVERED,
        reserved=100,
        delivered_on=date(2025, 3, 18),
    )
    assert payment_due_date(m) == date(2025, 3, 18)
    assert lateness(m, date(2025, 3, 18)).days_overdue == 0
    assert lateness(m, date(2025, 3, 21)).days_overdue == 3


def test_undelivered_work_is_never_late():
    m = Milestone(1, 100, "x", due_on=date(2025, 3, 15), state=S.FUNDED, reserved=100)
    assert payment_due_date(m) == date(2025, 3, 15)
    late = lateness(m, date(2025, 6, 1))
    assert (late.days_overdue, late.late) == (0, False)
    assert payment_due_date(Milestone(2, 100, "y")) is None


def test_a_net_15_contract_ignores_the_contract_date():
    rule = PaymentDueRule(days_after_delivery=15, use_contract_date=False)
    m = Milestone(
        1,
        100,
        "x",
        due_on=date(2025, 3, 31),
        state=S.DELIVERED,
        reserved=100,
        delivered_on=date(2025, 3, 1),
    )
    assert payment_due_date(m, rule) == date(2025, 3, 16)
    assert lateness(m, date(2025, 3, 20), rule).days_overdue == 4


def test_a_paid_milestone_is_not_late_but_remembers_how_late_it_was_paid():
    m = Milestone(
        1,
        100,
        "x",
        state=S.RELEASED,
        released=100,
        delivered_on=date(2025, 3, 1),
        settled_on=date(2025, 4, 3),
    )
    late = lateness(m, date(2025, 6, 1))
    assert (late.days_overdue, late.paid_late_by, late.late, late.unpaid) == (0, 3, False, 0)


# --------------------------------------------------------------------------- invoices


def test_invoice_number_format():
    assert invoice_number("KEEL", date(2025, 3, 25), 7) == "KEEL-2025-0007"
    assert invoice_number("AS2", date(2026, 1, 1), 12_345) == "AS2-2026-12345"
    for bad in ("keel", "", "2KEEL", "TOOLONGPREFIX", "K-1"):
        with pytest.raises(ContractError) as err:
            invoice_number(bad, date(2025, 1, 1), 1)
        assert err.value.field == "prefix"
    with pytest.raises(ContractError) as err:
        invoice_number("KEEL", date(2025, 1, 1), 0)
    assert err.value.field == "sequence"


def test_invoice_for_a_delivered_milestone_with_a_roll_over():
    m = Milestone(
        2,
        300_000,
        "Logo and identity",
        due_on=date(2025, 4, 30),
        state=S.DELIVERED,
        rolled_in=50_000,
        reserved=350_000,
        delivered_on=date(2025, 4, 10),
    )
    invoice = milestone_invoice(ACME, m, number="KEEL-2025-0008", issued_on=date(2025, 4, 10))
    assert invoice == Invoice(
        number="KEEL-2025-0008",
        issued_on=date(2025, 4, 10),
        client="Acme Studio",
        currency="USD",
        milestone=2,
        lines=(
            InvoiceLine("Logo and identity", 300_000),
            InvoiceLine("Carried over from earlier milestones", 50_000),
        ),
        subtotal=350_000,
        paid=0,
        balance_due=350_000,
        due_on=date(2025, 4, 30),
        payment_terms="Due by 2025-04-30, the contract date. Total $3,500.00.",
    )
    assert invoice.money(invoice.balance_due) == "$3,500.00"


def test_invoice_for_a_partly_released_milestone_shows_what_moved_on():
    m = Milestone(
        1,
        200_000,
        "Brand audit",
        state=S.RELEASED,
        released=150_000,
        delivered_on=date(2025, 3, 20),
        settled_on=date(2025, 3, 25),
    )
    invoice = milestone_invoice(ACME, m, number="KEEL-2025-0007", issued_on=date(2025, 3, 25))
    assert invoice.lines == (
        InvoiceLine("Brand audit", 200_000),
        InvoiceLine("Moved to the next milestone", -50_000),
    )
    assert (invoice.subtotal, invoice.paid, invoice.balance_due) == (150_000, 150_000, 0)
    assert invoice.payment_terms == "Paid on 2025-03-25. Total $1,500.00."


def test_invoice_for_a_partly_released_last_milestone_shows_what_went_back():
    # With no milestone to roll to, the rest went back to the client: the invoice said it
    # had "moved to the next milestone".
    m = Milestone(
        2,
        200_000,
        "Website",
        state=S.RELEASED,
        released=150_000,
        settled_on=date(2025, 3, 25),
        refunded=50_000,
    )
    invoice = milestone_invoice(ACME, m, number="KEEL-2025-0008", issued_on=date(2025, 3, 25))
    assert invoice.lines == (
        InvoiceLine("Website", 200_000),
        InvoiceLine("Returned to the client", -50_000),
    )
    assert (invoice.subtotal, invoice.paid, invoice.balance_due) == (150_000, 150_000, 0)


def test_an_invoice_tells_when_it_no_longer_matches_what_was_issued():
    m = Milestone(
        2,
        200_000,
        "Website",
        state=S.RELEASED,
        released=150_000,
        settled_on=date(2025, 3, 25),
        refunded=50_000,
    )
    kept = milestone_invoice(ACME, m, number="A-1", issued_on=date(2025, 3, 1))
    assert kept.issued_total is None and kept.change_notice() is None
    same = milestone_invoice(
        ACME, m, number="A-1", issued_on=date(2025, 3, 1), issued_total=150_000
    )
    assert not same.changed_since_issue and same.change_notice() is None
    issued = milestone_invoice(
        ACME, m, number="A-1", issued_on=date(2025, 3, 1), issued_total=200_000
    )
    assert issued.changed_since_issue
    assert issued.change_notice() == (
        "Issued for $2,000.00; the milestone has changed since (money rolled onto it or moved"
        " on) and now comes to $1,500.00, $500.00 less. The client holds the invoice as"
        " issued: issue a credit note for $500.00 so that your books and theirs agree."
    )
    assert (issued.credit_due, issued.supplement_due, issued.credit_room()) == (50_000, 0, 200_000)
    credited = milestone_invoice(
        ACME,
        m,
        number="A-1",
        issued_on=date(2025, 3, 1),
        issued_total=200_000,
        credited=20_000,
    )
    # $200.00 credited so far: $1,800.00 invoiced in all, still $300.00 above the milestone.
    assert (credited.net_total, credited.difference, credited.credit_room()) == (
        180_000,
        -30_000,
        180_000,
    )
    assert credited.change_notice() == (
        "Issued for $2,000.00, $200.00 credited since: $1,800.00 in all; the milestone has"
        " changed since (money rolled onto it or moved on) and now comes to $1,500.00,"
        " $300.00 less. The client holds the invoice as issued: issue a credit note for"
        " $300.00 so that your books and theirs agree."
    )
    settled = milestone_invoice(
        ACME,
        m,
        number="A-1",
        issued_on=date(2025, 3, 1),
        issued_total=200_000,
        credited=50_000,
    )
    assert settled.net_total == 150_000 and settled.change_notice() is None


def test_a_refund_only_belongs_to_a_settled_milestone_and_its_rest():
    with pytest.raises(ContractError) as caught:
        Milestone(1, 100, "A", state=S.FUNDED, reserved=100, refunded=1)
    assert caught.value.field == "refunded"
    with pytest.raises(ContractError) as caught:
        Milestone(
            1, 100, "A", state=S.RELEASED, released=60, settled_on=date(2025, 1, 2), refunded=41
        )
    assert caught.value.field == "refunded"


def test_invoice_before_delivery_without_a_contract_date():
    invoice = milestone_invoice(
        ACME, Milestone(3, 400_000, "Website"), number="A-1", issued_on=date(2025, 5, 1)
    )
    assert invoice.due_on is None
    assert invoice.payment_terms == "Due 30 days after delivery. Total $4,000.00."


# --------------------------------------------------------------------------- forecast


def test_scheduled_income_for_the_next_ninety_days():
    today = date(2025, 4, 12)
    milestones = [
        # Delivered 10 April: auto-release 24 April, before its contract date 30 April.
        Milestone(
            2,
            300_000,
            "Identity",
            due_on=date(2025, 4, 30),
            state=S.DELIVERED,
            reserved=300_000,
            delivered_on=date(2025, 4, 10),
        ),
        # Funded, contract date 31 May.
        Milestone(
            3, 400_000, "Website", due_on=date(2025, 5, 31), state=S.FUNDED, reserved=400_000
        ),
        # Planned, contract date 10 July: day 89 from 12 April, the last day inside.
        Milestone(4, 150_000, "Launch", due_on=date(2025, 7, 10)),
        # Planned, 11 July: day 90, outside. No date: left out. Disputed: left out.
        Milestone(5, 90_000, "Ads", due_on=date(2025, 7, 11)),
        Milestone(6, 10_000, "Extras"),
        Milestone(7, 5_000, "Fixes", state=S.DISPUTED, reserved=5_000),
        # Funded, contract date passed on 1 April with nothing delivered: overdue, today.
        Milestone(8, 20_000, "Audit", due_on=date(2025, 4, 1), state=S.FUNDED, reserved=20_000),
    ]
    items = scheduled_income(ACME, milestones, today)
    assert [(i.milestone, i.expected_on, i.amount, i.secured, i.overdue) for i in items] == [
        (8, date(2025, 4, 12), 20_000, True, True),
        (2, date(2025, 4, 24), 300_000, True, False),
        (3, date(2025, 5, 31), 400_000, True, False),
        (4, date(2025, 7, 10), 150_000, False, False),
    ]
    assert items[1] == ScheduledIncome(
        milestone=2,
        client="Acme Studio",
        currency="USD",
        expected_on=date(2025, 4, 24),
        amount=300_000,
        secured=True,
        overdue=False,
        description="Acme Studio: Identity",
    )


def test_a_shorter_review_window_moves_the_expected_date():
    contract = replace(ACME, terms=ContractTerms(review_window_days=7))
    m = Milestone(1, 100, "x", state=S.DELIVERED, reserved=100, delivered_on=date(2025, 4, 10))
    (item,) = scheduled_income(contract, [m], date(2025, 4, 10))
    assert item.expected_on == date(2025, 4, 17)


# --------------------------------------------------------------------------- inputs


def test_contract_inputs_are_checked_by_field():
    with pytest.raises(ContractError) as err:
        Contract("Acme", "usd", 100)
    assert err.value.field == "currency"
    with pytest.raises(ContractError) as err:
        Contract("Acme", "USD", 100.0)  # type: ignore[arg-type]
    assert err.value.field == "credit_limit"
    with pytest.raises(ContractError) as err:
        Contract(" ", "USD", 100)
    assert err.value.field == "client"
    with pytest.raises(ContractError) as err:
        ContractTerms(review_window_days=-1)
    assert err.value.field == "review_window_days"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"deliverable": ""}, "deliverable"),
        ({"state": S.FUNDED}, "reserved"),
        ({"state": S.DELIVERED, "reserved": 1_000}, "delivered_on"),
        ({"reserved": 1_001}, "reserved"),
        ({"released": 10}, "released"),
        ({"state": S.RELEASED, "released": 1_000}, "settled_on"),
        ({"due_on": datetime(2025, 1, 1)}, "due_on"),  # noqa: DTZ001
        ({"state": "paid"}, "state"),
    ],
)
def test_an_inconsistent_milestone_is_refused(changes, field):
    with pytest.raises(ContractError) as err:
        Milestone(**{"id": 1, "amount": 1_000, "deliverable": "x", **changes})
    assert err.value.field == field
