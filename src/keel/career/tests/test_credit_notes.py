"""Credit notes and supplementary invoices against issued invoices, through the services,
with worked examples (cents: 150_000 is 1,500.00). A credit note moves no money and every
refusal changes nothing: no document, no number taken, no event, no audit row."""

from __future__ import annotations

from datetime import date
from io import BytesIO
from typing import Any

import pytest
from django.db import DatabaseError, transaction
from pypdf import PdfReader

from keel.accounts.models import User
from keel.audit.models import AuditEvent
from keel.career import invoices, services
from keel.career.errors import CareerError, Conflict
from keel.career.models import (
    AdjustmentKind,
    Contract,
    EventAction,
    InvoiceAdjustment,
    InvoiceCounter,
    Milestone,
    MilestoneEvent,
)
from keel.career.services import MilestoneInput
from keel.ledger import services as ledger
from keel.ledger.models import Journal, Leg

from .conftest import make_contract, milestones, person
from .test_services import deliver, fresh, fund, release, resolve

D = date
ISSUED = D(2026, 3, 1)
CREDITED = D(2026, 3, 12)


@pytest.fixture
def sam(db: None) -> User:
    return person("sam@example.org", "Sam Writer", currency="USD")


def website(worker: User, *amounts: int) -> Contract:
    """A USD contract with Beacon Labs, one milestone per amount."""
    return services.create_contract(
        worker,
        title="Website copy",
        client_name="Beacon Labs",
        client_email="ap@beacon.example",
        currency="USD",
        credit_limit=0,
        milestones=[
            MilestoneInput(f"Page set {i + 1}", amount, due_on=D(2026, 3, 31))
            for i, amount in enumerate(amounts)
        ],
    )


def lowered(worker: User) -> Milestone:
    """Invoice INV-2026-0001 issued for $1,500.00; then the client released only
    $1,200.00 of the milestone and the $300.00 rest went back to them: the milestone now
    comes to $1,200.00."""
    m = milestones(website(worker, 150_000))[0]
    services.issue_invoice(m, on=ISSUED, recorded_by=worker)
    return fresh(release(deliver(fund(fresh(m))), amount=120_000))


def credit(m: Milestone, amount: int, on: date = CREDITED, **kw: Any) -> InvoiceAdjustment:
    kw.setdefault("reason", "The client kept $300.00 back for the pages not written")
    return services.issue_credit_note(m, amount=amount, on=on, recorded_by=m.contract.worker, **kw)


def documents() -> tuple[Any, ...]:
    """Everything issuing a document could change."""
    return (
        list(InvoiceAdjustment.objects.order_by("id").values_list("number", "amount")),
        list(InvoiceCounter.objects.order_by("id").values_list("prefix", "year", "last")),
        MilestoneEvent.objects.count(),
        AuditEvent.objects.count(),
        Journal.objects.count(),
        Leg.objects.count(),
    )


def test_a_credit_note_takes_the_lowered_amount_off_the_invoice(sam: User) -> None:
    m = lowered(sam)
    invoice = services.invoice_for(m, CREDITED)
    assert (invoice.issued_total, invoice.subtotal, invoice.difference) == (
        150_000,
        120_000,
        -30_000,
    )
    assert invoice.credit_due == 30_000 and invoice.changed_since_issue
    journals = (Journal.objects.count(), Leg.objects.count())

    note = credit(m, 30_000)

    assert (note.number, note.kind, note.amount, note.signed_amount) == (
        "CN-2026-0001",
        AdjustmentKind.CREDIT_NOTE,
        30_000,
        -30_000,
    )
    assert (note.invoice_number, note.invoice_issued_on, note.invoice_total) == (
        "INV-2026-0001",
        ISSUED,
        150_000,
    )
    assert (note.currency, note.issued_on, note.worker_id) == ("USD", CREDITED, sam.pk)
    after = services.invoice_for(fresh(m), CREDITED)
    assert (after.credited, after.net_total, after.difference) == (30_000, 120_000, 0)
    assert not after.changed_since_issue and after.change_notice() is None
    # A document, not a payment: the books already hold the $1,200.00 the client paid.
    assert (Journal.objects.count(), Leg.objects.count()) == journals
    assert ledger.verify().ok
    event = MilestoneEvent.objects.get(milestone=m, action=EventAction.CREDIT_NOTE)
    assert (event.amount, event.note) == (
        -30_000,
        "CN-2026-0001 against INV-2026-0001: The client kept $300.00 back for the pages"
        " not written",
    )
    audit = AuditEvent.objects.get(action="invoice.credit_note_issued")
    assert (audit.subject, audit.worker_id, audit.actor_id) == (f"milestone:{m.pk}", sam.pk, sam.pk)
    assert audit.details == {
        "contract": m.contract_id,
        "milestone": 1,
        "invoice": "INV-2026-0001",
        "number": "CN-2026-0001",
        "amount": -30_000,
        "currency": "USD",
        "on": "2026-03-12",
    }


def test_a_second_credit_note_is_limited_to_what_is_still_invoiced(sam: User) -> None:
    m = lowered(sam)
    credit(m, 10_000)  # the worker credits $100.00 first
    before = documents()
    with pytest.raises(CareerError) as caught:
        credit(m, 140_001)
    assert (caught.value.field, caught.value.code) == ("amount", "too_much")
    assert caught.value.message == (
        "amount cannot be more than the $1,400.00 still invoiced on INV-2026-0001 (issued for"
        " $1,500.00, $100.00 credited already)"
    )
    assert documents() == before
    # The worker may credit the rest, $1,400.00, though the milestone asks only $200.00
    # less: the net may not go below nothing, and nothing more may be credited after.
    second = credit(m, 140_000)
    assert second.number == "CN-2026-0002"
    assert services.invoice_for(fresh(m), CREDITED).net_total == 0
    before = documents()
    with pytest.raises(CareerError) as caught:
        credit(m, 1)
    assert caught.value.field == "amount" and documents() == before


def test_credit_notes_have_their_own_gap_free_numbers_per_worker_and_year(sam: User) -> None:
    noor = person("noor@example.org", "Noor Other", currency="USD")
    m = lowered(sam)
    assert credit(m, 5_000).number == "CN-2026-0001"
    with pytest.raises(CareerError):
        credit(m, 1_000_000)  # refused: takes no number
    assert credit(m, 5_000).number == "CN-2026-0002"
    assert credit(lowered(noor), 30_000).number == "CN-2026-0001"
    assert credit(m, 5_000, on=D(2027, 1, 4)).number == "CN-2027-0001"
    # Credit notes take no invoice number: the next invoice follows the last one.
    other = milestones(website(sam, 10_000))[0]
    assert services.issue_invoice(other, on=D(2026, 4, 1), recorded_by=sam).invoice_number == (
        "INV-2026-0002"
    )
    counters = InvoiceCounter.objects.filter(worker=sam).order_by("prefix", "year")
    assert list(counters.values_list("prefix", "year", "last")) == [
        ("CN", 2026, 2),
        ("CN", 2027, 1),
        ("INV", 2026, 2),
    ]


def test_a_dispute_resolved_with_a_part_award_is_credited(maya: User) -> None:
    # Milestone 1, EUR 1,000.00, invoiced; the dispute ends with EUR 650.00 to the worker.
    from .test_services import dispute

    m1 = milestones(make_contract(maya, 100_000))[0]
    services.issue_invoice(m1, on=ISSUED, recorded_by=maya)
    m1 = resolve(dispute(deliver(fund(fresh(m1)))), 65_000)
    assert services.invoice_for(fresh(m1), CREDITED).credit_due == 35_000
    note = services.issue_credit_note(
        fresh(m1), amount=35_000, reason="Dispute settled", on=D(2026, 3, 21), recorded_by=maya
    )
    assert (note.number, note.currency) == ("CN-2026-0001", "EUR")
    assert services.invoice_for(fresh(m1), CREDITED).net_total == 65_000


def test_the_credit_note_pdf_names_the_original_invoice(sam: User) -> None:
    note = credit(lowered(sam), 30_000)
    doc = invoices.adjustment_document(InvoiceAdjustment.objects.get(pk=note.pk))
    pdf = invoices.render_adjustment_pdf(doc)
    assert pdf.startswith(b"%PDF") and doc.filename == "CN-2026-0001.pdf"
    words = " ".join(PdfReader(BytesIO(pdf)).pages[0].extract_text().split())
    assert "Credit note" in words
    assert "Number: CN-2026-0001" in words
    assert "Original invoice: INV-2026-0001 of Mar 1, 2026" in words
    assert "Beacon Labs" in words and "ap@beacon.example" in words and "Sam Writer" in words
    assert "Page set 1: credited against invoice INV-2026-0001 of 2026-03-01 -$300.00" in words
    assert "Total -$300.00" in words
    assert "Reason: The client kept $300.00 back for the pages not written" in words
    assert "Reduces invoice INV-2026-0001 of 2026-03-01, issued for $1,500.00, by $300.00." in words
    # The same document gives the same bytes.
    assert invoices.render_adjustment_pdf(doc) == pdf


def test_the_invoice_pdf_lists_its_credit_notes_and_the_net(sam: User) -> None:
    m = lowered(sam)
    credit(m, 30_000)
    pdf = invoices.render_pdf(invoices.invoice_document(fresh(m), CREDITED))
    words = " ".join(PdfReader(BytesIO(pdf)).pages[0].extract_text().split())
    assert (
        "Issued for $1,500.00 Credit note CN-2026-0001 of Mar 12, 2026 -$300.00"
        " Net invoiced $1,200.00"
    ) in words


def test_an_issued_credit_note_never_changes(sam: User) -> None:
    note = credit(lowered(sam), 30_000)
    stored = InvoiceAdjustment.objects.get(pk=note.pk)
    with pytest.raises(DatabaseError, match="cannot be changed"), transaction.atomic():
        InvoiceAdjustment.objects.filter(pk=note.pk).update(amount=1)
    stored.reason = "Something else"
    with pytest.raises(DatabaseError, match="cannot be changed"), transaction.atomic():
        stored.save()
    with pytest.raises(DatabaseError, match="cannot be deleted"), transaction.atomic():
        InvoiceAdjustment.objects.filter(pk=note.pk).delete()
    again = InvoiceAdjustment.objects.get(pk=note.pk)
    assert (again.number, again.amount, again.reason) == (
        "CN-2026-0001",
        30_000,
        "The client kept $300.00 back for the pages not written",
    )


def test_the_same_request_issues_one_credit_note(sam: User) -> None:
    m = lowered(sam)
    first = credit(m, 10_000, key="form-1")
    before = documents()
    assert credit(m, 10_000, key="form-1").pk == first.pk
    assert documents() == before
    with pytest.raises(Conflict) as caught:
        services.issue_supplement(
            m, amount=1, reason="More", on=CREDITED, recorded_by=sam, key="form-1"
        )
    assert caught.value.field == "key" and documents() == before


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"amount": 0}, "amount", "out_of_range"),
        ({"amount": -30_000}, "amount", "out_of_range"),
        ({"amount": 300.0}, "amount", "invalid_type"),
        ({"amount": True}, "amount", "invalid_type"),
        ({"amount": "300.00"}, "amount", "invalid_type"),
        ({"reason": "  "}, "reason", "required"),
        ({"reason": "x" * 501}, "reason", "too_long"),
        ({"on": D(2026, 2, 28)}, "on", "out_of_order"),
    ],
)
def test_a_refused_credit_note_changes_nothing(
    sam: User, changes: dict[str, Any], field: str, code: str
) -> None:
    m = lowered(sam)
    before = documents()
    kw: dict[str, Any] = {"amount": 30_000, "reason": "Lowered", "on": CREDITED, **changes}
    with pytest.raises(CareerError) as caught:
        services.issue_credit_note(m, recorded_by=sam, **kw)
    assert (caught.value.field, caught.value.code) == (field, code)
    assert documents() == before


def test_no_credit_note_against_a_draft_or_an_invoice_without_its_total(sam: User) -> None:
    m = milestones(website(sam, 150_000))[0]
    before = documents()
    with pytest.raises(CareerError) as caught:
        credit(m, 100)
    assert (caught.value.field, caught.value.code) == ("invoice", "not_issued")
    assert "milestone 1's invoice is not issued yet" in caught.value.message
    # An invoice issued before Keel kept issued totals (migration 0008) has no total to
    # credit against.
    services.issue_invoice(m, on=ISSUED, recorded_by=sam)
    Milestone.objects.filter(pk=m.pk).update(invoice_total=None)
    before = documents()
    with pytest.raises(CareerError) as caught:
        credit(fresh(m), 100)
    assert (caught.value.field, caught.value.code) == ("invoice", "not_issued")
    assert documents() == before


def test_a_grown_milestone_gets_a_supplementary_invoice(maya: User) -> None:
    # Milestone 2 invoiced for EUR 2,000.00; a part release of milestone 1 then rolled
    # EUR 400.00 onto it: EUR 2,400.00 is due, EUR 400.00 more than invoiced.
    contract = make_contract(maya, 100_000, 200_000)
    m1, m2 = milestones(contract)
    services.issue_invoice(m2, on=ISSUED, recorded_by=maya)
    release(deliver(fund(m1)), amount=60_000)
    m2 = fresh(m2)
    assert services.invoice_for(m2, CREDITED).supplement_due == 40_000
    before = documents()
    with pytest.raises(CareerError) as caught:
        services.issue_supplement(
            m2, amount=40_001, reason="Rolled over", on=CREDITED, recorded_by=maya
        )
    assert caught.value.message == (
        "amount cannot be more than the €400.00 the milestone has grown beyond what"
        " INV-2026-0001 asks for"
    )
    assert documents() == before
    extra = services.issue_supplement(
        m2, amount=40_000, reason="Rolled over from milestone 1", on=CREDITED, recorded_by=maya
    )
    # A normal invoice number, the next one, naming the original.
    assert (extra.number, extra.kind, extra.signed_amount, extra.invoice_number) == (
        "INV-2026-0002",
        AdjustmentKind.SUPPLEMENT,
        40_000,
        "INV-2026-0001",
    )
    after = services.invoice_for(fresh(m2), CREDITED)
    assert (after.net_total, after.changed_since_issue) == (240_000, False)
    doc = services.adjustment_document(extra)
    assert (doc.total, doc.due_on) == (40_000, D(2026, 4, 30))
    assert doc.terms == (
        "Adds to invoice INV-2026-0001 of 2026-03-01. Due by 2026-04-30, the contract date."
        " Total €400.00."
    )
    assert AuditEvent.objects.filter(action="invoice.supplement_issued").count() == 1
    with pytest.raises(CareerError) as caught:
        services.issue_supplement(m2, amount=1, reason="More", on=CREDITED, recorded_by=maya)
    assert (caught.value.field, caught.value.code) == ("amount", "nothing_to_add")


def test_the_register_nets_credit_notes_per_year_and_currency(sam: User) -> None:
    m = lowered(sam)
    credit(m, 30_000)
    euro = milestones(website(sam, 80_000))[0]
    services.issue_invoice(euro, on=D(2027, 1, 5), recorded_by=sam)
    rows, totals = services.invoice_register(sam)
    assert [(r.entry.number, r.title, r.entry.amount, r.invoice_number) for r in rows] == [
        ("INV-2027-0001", "Invoice", 80_000, "INV-2027-0001"),
        ("CN-2026-0001", "Credit note", -30_000, "INV-2026-0001"),
        ("INV-2026-0001", "Invoice", 150_000, "INV-2026-0001"),
    ]
    assert [(t.year, t.currency, t.invoiced, t.credited, t.net) for t in totals] == [
        (2027, "USD", 80_000, 0, 80_000),
        (2026, "USD", 150_000, 30_000, 120_000),
    ]
