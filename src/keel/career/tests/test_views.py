"""The contract pages through Django's test client, with state built by the real services:
the pages render for their worker; a contract and everything under it is a 404 to any
other worker; every action works from its form and a refused one changes nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import Any

from django.test import Client
from django.utils import timezone

from keel.accounts.models import User
from keel.career import services
from keel.career.models import Contract, InvoiceAdjustment, Milestone, MilestoneState
from keel.income import services as income
from keel.income.models import IncomeItem

from .conftest import make_contract, milestones
from .test_services import snapshot


def text(response: Any) -> str:
    """The page's text without its tags, whitespace collapsed, as a reader sees it."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def scripts_from_elsewhere(html: str) -> list[str]:
    """The page's script and style sources that are not served by Keel itself. (Looking
    for "cdn" in the page instead failed now and then: the page's CSRF token is random
    text and spelled it once.)"""
    sources = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', html)
    return [source for source in sources if "//" in source or not source.startswith("/")]


def action_url(m: Milestone, action: str) -> str:
    return f"/career/contracts/{m.contract_id}/milestones/{m.pk}/{action}/"


def post_action(client: Client, m: Milestone, action: str, **data: Any) -> Any:
    m.refresh_from_db()
    payload = {"version": m.version, "token": f"t-{action}-{m.pk}-{m.version}", **data}
    return client.post(action_url(m, action), payload)


def new_contract_data(**changes: str) -> dict[str, str]:
    data = {
        "token": "new-1",
        "title": "Podcast season",
        "client_name": "Wave Media",
        "client_email": "ap@wave.example",
        "currency": "EUR",
        "credit_limit": "2,000.00",
        "review_window_days": "14",
        "payment_due_days": "30",
        "payment_due_uses_contract_date": "on",
        "milestones-TOTAL_FORMS": "3",
        "milestones-INITIAL_FORMS": "0",
        "milestones-MIN_NUM_FORMS": "1",
        "milestones-MAX_NUM_FORMS": "50",
        "milestones-0-deliverable": "Episodes 1-4",
        "milestones-0-amount": "1,200.00",
        "milestones-0-due_on": "2026-12-31",
        "milestones-1-deliverable": "Episodes 5-8",
        "milestones-1-amount": "1,300.50",
        "milestones-2-deliverable": "",
        "milestones-2-amount": "",
    }
    data.update(changes)
    return data


# ---------------------------------------------------------------------------- access


def test_contract_pages_need_a_login(db: None) -> None:
    response = Client().get("/career/contracts/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_contract_pages_are_for_workers(login, db: None) -> None:
    operator = User.objects.create_user("op@example.org", "quiet-harbour-1987", name="Op")
    assert login(operator).get("/career/contracts/").status_code == 403


def test_the_navbar_has_contracts_for_a_worker(login, maya: User) -> None:
    body = login(maya).get("/career/contracts/").content.decode()
    assert 'href="/career/contracts/"' in body and ">Contracts<" in body


def test_another_worker_gets_404_on_my_contract_milestones_and_invoices(
    login, contract: Contract, noor: User
) -> None:
    m1 = milestones(contract)[0]
    base = f"/career/contracts/{contract.pk}/"
    other = login(noor)
    assert other.get(base).status_code == 404
    before = snapshot()
    for action in ("fund", "deliver", "release", "dispute", "resolve"):
        assert post_action(other, m1, action).status_code == 404
    assert other.get(f"{base}milestones/{m1.pk}/invoice/").status_code == 404
    assert other.get(f"{base}milestones/{m1.pk}/invoice.pdf").status_code == 404
    assert other.post(f"{base}milestones/{m1.pk}/invoice/issue/").status_code == 404
    assert snapshot() == before
    assert "Website redesign" not in text(other.get("/career/contracts/"))


def test_a_milestone_of_another_contract_is_not_found_under_mine(
    login, maya: User, noor: User
) -> None:
    mine = make_contract(maya, 100_000)
    theirs = milestones(make_contract(noor, 100_000))[0]
    url = f"/career/contracts/{mine.pk}/milestones/{theirs.pk}/invoice/"
    assert login(maya).get(url).status_code == 404


# ---------------------------------------------------------------------------- list, new


def test_the_list_shows_exposure_over_the_limit_and_late_days(login, maya: User) -> None:
    today = timezone.localdate()
    contract = make_contract(maya, 100_000, 200_000, credit_limit=50_000)
    m1, _ = milestones(contract)
    m1 = services.fund_milestone(m1, on=today - timedelta(days=60), recorded_by=maya)
    m1 = services.deliver_milestone(m1, on=today - timedelta(days=45), recorded_by=maya)
    m1 = services.dispute_milestone(
        m1, on=today - timedelta(days=44), reason="Late", recorded_by=maya
    )
    body = text(login(maya).get("/career/contracts/"))
    assert "Website redesign" in body and "Acme Studio" in body
    assert "over by €500.00" in body
    assert re.search(r"late \d+ days", body)


def test_a_new_contract_is_created_from_the_form(login, maya: User) -> None:
    client = login(maya)
    page = client.get("/career/contracts/new/")
    assert page.status_code == 200 and "Milestone 3" in text(page)
    response = client.post("/career/contracts/new/", new_contract_data())
    contract = Contract.objects.get(worker=maya)
    assert response.status_code == 302
    assert response["Location"] == f"/career/contracts/{contract.pk}/"
    assert (contract.title, contract.client_name, contract.credit_limit) == (
        "Podcast season",
        "Wave Media",
        200_000,
    )
    assert [(m.deliverable, m.amount) for m in milestones(contract)] == [
        ("Episodes 1-4", 120_000),
        ("Episodes 5-8", 130_050),
    ]
    # The browser sends the form again: the same contract, nothing new.
    again = client.post("/career/contracts/new/", new_contract_data())
    assert again["Location"] == f"/career/contracts/{contract.pk}/"
    assert Contract.objects.count() == 1


def test_a_bad_new_contract_shows_the_errors_and_creates_nothing(login, maya: User) -> None:
    before = snapshot()
    client = login(maya)
    response = client.post(
        "/career/contracts/new/", new_contract_data(**{"milestones-1-amount": "12.345"})
    )
    assert response.status_code == 400
    assert "Enter an amount in EUR" in text(response)
    response = client.post(
        "/career/contracts/new/",
        new_contract_data(**{"milestones-0-starts_on": "2027-02-01"}),
    )
    assert response.status_code == 400
    assert "Work starts (2027-02-01) must not be after due on (2026-12-31)" in text(response)
    response = client.post(
        "/career/contracts/new/",
        new_contract_data(**{"milestones-0-deliverable": "", "milestones-0-amount": ""}),
    )
    assert response.status_code == 400
    # Beyond what a ledger leg carries: refused on the box, not a 500 from the database.
    response = client.post(
        "/career/contracts/new/",
        new_contract_data(
            **{
                "milestones-1-amount": "99999999999999999999.99",
                "credit_limit": "10000000000000.01",
            }
        ),
    )
    assert response.status_code == 400
    assert text(response).count("Enter an amount of at most €10,000,000,000,000.00.") == 2
    response = client.post(
        "/career/contracts/new/",
        new_contract_data(
            **{"milestones-0-amount": "10,000,000,000,000.00", "milestones-1-amount": "0.01"}
        ),
    )
    assert response.status_code == 400
    assert "The milestones must add up to at most €10,000,000,000,000.00." in text(response)
    assert snapshot() == before


# ---------------------------------------------------------------------------- contract page


def test_fund_deliver_and_release_in_part_from_the_contract_page(login, contract: Contract) -> None:
    client = login(contract.worker)
    m1, m2 = milestones(contract)
    page = text(client.get(f"/career/contracts/{contract.pk}/"))
    assert "Fund" in page and "Paid to you €0.00" in page

    assert post_action(client, m1, "fund").status_code == 302
    assert post_action(client, m1, "deliver").status_code == 302
    response = post_action(client, m1, "release", amount="600.00")
    assert response.status_code == 302
    m1.refresh_from_db()
    m2.refresh_from_db()
    assert (m1.state, m1.released) == (MilestoneState.RELEASED, 60_000)
    assert (m2.rolled_in, m2.reserved) == (40_000, 40_000)
    assert IncomeItem.objects.get().net == 60_000

    page = client.get(f"/career/contracts/{contract.pk}/", follow=True)
    body = text(page)
    assert "Paid to you €600.00" in body
    assert "In escrow €400.00" in body
    assert "+ €400.00 rolled in" in body
    assert "Rest of an earlier milestone rolled in" in body


def test_a_replayed_action_form_does_nothing_twice(login, contract: Contract) -> None:
    client = login(contract.worker)
    m1 = milestones(contract)[0]
    data = {"version": 0, "token": "once"}
    assert client.post(action_url(m1, "fund"), data).status_code == 302
    before = snapshot()
    assert client.post(action_url(m1, "fund"), data).status_code == 302
    assert snapshot() == before


def test_refused_actions_show_the_reason_and_change_nothing(login, contract: Contract) -> None:
    client = login(contract.worker)
    m1 = milestones(contract)[0]
    before = snapshot()
    refused = post_action(client, m1, "release")
    assert refused.status_code == 400
    assert "its state is planned" in text(refused)
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    refused = post_action(client, m1, "fund", on=tomorrow)
    assert refused.status_code == 400 and "today or earlier" in text(refused)
    stale = client.post(action_url(m1, "fund"), {"version": 7, "token": "x"})
    assert stale.status_code == 409 and "changed since this page was loaded" in text(stale)
    assert snapshot() == before
    post_action(client, m1, "fund")
    too_much = post_action(client, m1, "release", amount="1,000.01")
    assert too_much.status_code == 400
    assert "amount cannot be more than the €1,000.00 held in escrow" in text(too_much)
    assert client.post(action_url(m1, "fund").replace("fund", "explode")).status_code == 404


def test_dispute_and_resolve_from_the_contract_page(login, contract: Contract) -> None:
    client = login(contract.worker)
    m1 = milestones(contract)[0]
    post_action(client, m1, "fund")
    assert post_action(client, m1, "dispute", reason="Wrong colours").status_code == 302
    body = text(client.get(f"/career/contracts/{contract.pk}/"))
    assert "Disputed: Wrong colours" in body and "Resolve" in body
    assert post_action(client, m1, "resolve", awarded="250.00", note="Split").status_code == 302
    m1.refresh_from_db()
    assert (m1.state, m1.released, m1.refunded) == (MilestoneState.RESOLVED, 25_000, 75_000)


def test_the_page_warns_when_a_release_cannot_be_booked_for_want_of_a_rate(
    login, maya: User
) -> None:
    # A USD contract of a worker who counts in euros: without a USD rate every release is
    # refused, the client's and Keel's automatic one too, and the page said nothing.
    contract = make_contract(maya, 100_000, currency="USD")
    client = login(maya)
    page = client.get(f"/career/contracts/{contract.pk}/")
    assert 'data-testid="release-blocked"' not in page.content.decode()  # nothing to release
    post_action(client, milestones(contract)[0], "fund")
    page = text(client.get(f"/career/contracts/{contract.pk}/"))
    today = timezone.localdate()
    assert (
        "Escrow cannot be released today, by you, the client or automatically: a release is"
        " booked as your income, and there is no USD→EUR exchange rate on or in the week"
        f" before {today.isoformat()}" in page
    )
    income.set_rate(maya, "USD", "EUR", today, "0.9")
    page = client.get(f"/career/contracts/{contract.pk}/")
    assert 'data-testid="release-blocked"' not in page.content.decode()


# ---------------------------------------------------------------------------- invoices


def test_the_invoice_of_a_part_released_last_milestone_says_the_rest_went_back(
    login, contract: Contract
) -> None:
    client = login(contract.worker)
    _, m2 = milestones(contract)
    post_action(client, m2, "fund")
    assert post_action(client, m2, "release", amount="1,500.00").status_code == 302
    page = text(client.get(f"/career/contracts/{contract.pk}/milestones/{m2.pk}/invoice/"))
    assert "Part 2 €2,000.00 Returned to the client -€500.00 Subtotal €1,500.00" in page
    assert "Moved to the next milestone" not in page


def test_an_issued_invoice_says_when_the_milestone_changed_after_it(
    login, contract: Contract
) -> None:
    # Milestone 2's invoice was issued for EUR 2,000.00; a part release of milestone 1 then
    # rolled EUR 400.00 onto it and the invoice, same number, said EUR 2,400.00 without a
    # word about what the client had been sent.
    client = login(contract.worker)
    m1, m2 = milestones(contract)
    url = f"/career/contracts/{contract.pk}/milestones/{m2.pk}/invoice/"
    assert client.post(url + "issue/").status_code == 302
    m2.refresh_from_db()
    assert m2.invoice_total == 200_000
    assert 'data-testid="invoice-changed"' not in client.get(url).content.decode()
    post_action(client, m1, "fund")
    assert post_action(client, m1, "release", amount="600.00").status_code == 302
    page = text(client.get(url))
    assert (
        "Issued for €2,000.00; the milestone has changed since (money rolled onto it or moved"
        " on) and now comes to €2,400.00, €400.00 more. The client holds the invoice as"
        " issued: issue a supplementary invoice for €400.00 so that your books and theirs"
        " agree." in page
    )
    assert "Balance due €2,400.00" in page
    m2.refresh_from_db()
    assert (m2.invoice_number, m2.invoice_total) == (
        f"INV-{m2.invoice_issued_on.year}-0001",
        200_000,
    )
    # The page offers the supplementary invoice for the EUR 400.00; once issued, with the
    # next invoice number, the notice goes and the net is EUR 2,400.00.
    assert "Issue a supplementary invoice for €400.00" in page
    done = client.post(
        url + "supplement/", {"amount": "400.00", "reason": "Rolled over", "token": "s-1"}
    )
    assert done.status_code == 302
    year = m2.invoice_issued_on.year
    assert f"Supplementary invoice INV-{year}-0002" in text(client.get(done["Location"]))
    after = text(client.get(url))
    assert "Issue a supplementary invoice" not in after and "Issued for" not in after
    assert f"Supplementary invoice INV-{year}-0002 " in after
    assert "Rolled over €400.00 Net invoiced €2,400.00" in after


def test_an_invoice_page_is_issued_once_and_its_pdf_is_a_pdf(login, contract: Contract) -> None:
    client = login(contract.worker)
    m1 = milestones(contract)[0]
    base = f"/career/contracts/{contract.pk}/milestones/{m1.pk}/invoice"
    draft = text(client.get(base + "/"))
    assert "draft" in draft and "Acme Studio" in draft and "Balance due €1,000.00" in draft
    year = timezone.localdate().year
    response = client.post(base + "/issue/")
    assert response.status_code == 302
    issued = text(client.get(base + "/"))
    assert f"INV-{year}-0001" in issued
    client.post(base + "/issue/")
    m1.refresh_from_db()
    assert m1.invoice_number == f"INV-{year}-0001"
    pdf = client.get(base + ".pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert f"INV-{year}-0001.pdf" in pdf["Content-Disposition"]


def test_a_client_with_two_contracts_is_judged_as_a_whole(maya: User, login) -> None:
    # Each contract is under its EUR 1,500 limit: EUR 1,000 delivered and unpaid on the
    # first, EUR 800 funded on the second. Together EUR 1,800: EUR 300 over.
    today = timezone.localdate()
    first = make_contract(maya, 100_000)
    second = make_contract(maya, 80_000, title="Brand refresh")
    m1 = milestones(first)[0]
    services.fund_milestone(m1, on=today, recorded_by=maya)
    services.deliver_milestone(milestones(first)[0], on=today, recorded_by=maya)
    services.fund_milestone(milestones(second)[0], on=today, recorded_by=maya)
    alone = make_contract(maya, 50_000, client_name="Solo Ltd", title="One-off")
    browser = login(maya)

    page = text(browser.get("/career/contracts/"))
    assert "Acme Studio 2 €1,000.00 €800.00 €1,800.00 / €1,500.00 over by €300.00" in page
    assert "Solo Ltd 1 €0.00 €0.00 €0.00 / €1,500.00" in page

    detail = text(browser.get(f"/career/contracts/{second.pk}/"))
    assert (
        "Across your 2 contracts with them: Acme Studio owes or has work in progress worth"
        " €1,800.00, €300.00 over the credit limit of €1,500.00" in detail
    )
    assert "Across your" not in text(browser.get(f"/career/contracts/{alone.pk}/"))


def test_a_lowered_invoice_offers_a_credit_note_and_shows_it_with_the_net(
    login, contract: Contract, noor: User
) -> None:
    # Invoice for milestone 1, EUR 1,000.00; the client then released EUR 600.00 and the
    # EUR 400.00 rest moved on to milestone 2: the invoice asks EUR 400.00 too much.
    client = login(contract.worker)
    m1, _ = milestones(contract)
    url = f"/career/contracts/{contract.pk}/milestones/{m1.pk}/invoice/"
    assert client.post(url + "issue/").status_code == 302
    post_action(client, m1, "fund")
    assert post_action(client, m1, "release", amount="600.00").status_code == 302
    year = timezone.localdate().year
    page = text(client.get(url))
    assert "Issue a credit note for €400.00" in page
    assert "issue a credit note for €400.00 so that your books and theirs agree" in page
    assert 'value="400.00"' in client.get(url).content.decode()

    # More than the invoice still asks for is refused, and nothing is issued.
    refused = client.post(
        url + "credit-note/", {"amount": "1,000.01", "reason": "Too much", "token": "cn-0"}
    )
    assert refused.status_code == 400
    assert "No credit note was issued: amount cannot be more than the €1,000.00 still" in text(
        refused
    )
    assert not InvoiceAdjustment.objects.exists()
    # Another worker cannot issue one against it, or see it.
    assert (
        login(noor).post(url + "credit-note/", {"amount": "1.00", "reason": "x"}).status_code == 404
    )
    assert not InvoiceAdjustment.objects.exists()

    done = client.post(
        url + "credit-note/",
        {"amount": "400.00", "reason": "Moved on to milestone 2", "token": "cn-1"},
    )
    note = InvoiceAdjustment.objects.get()
    doc_url = f"/career/contracts/documents/{note.pk}/"
    assert done.status_code == 302 and done["Location"] == doc_url
    # The same form sent again issues nothing more.
    client.post(
        url + "credit-note/",
        {"amount": "400.00", "reason": "Moved on to milestone 2", "token": "cn-1"},
    )
    assert InvoiceAdjustment.objects.count() == 1
    doc = text(client.get(doc_url))
    assert f"Credit note CN-{year}-0001" in doc
    assert f"against invoice INV-{year}-0001" in doc
    assert f"Part 1: credited against invoice INV-{year}-0001" in doc
    assert "Total -€400.00 Reason: Moved on to milestone 2" in doc
    pdf = client.get(doc_url[:-1] + ".pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert f'filename="CN-{year}-0001.pdf"' in pdf["Content-Disposition"]

    page = text(client.get(url))
    assert 'data-testid="invoice-changed"' not in client.get(url).content.decode()
    assert "Issue a credit note" not in page
    assert (
        f"Invoice INV-{year}-0001 " in page
        and f"Credit note CN-{year}-0001 " in page
        and "Moved on to milestone 2 -€400.00 Net invoiced €600.00" in page
    )
    detail = text(client.get(f"/career/contracts/{contract.pk}/"))
    assert (
        f"Invoice INV-{year}-0001 · credit note CN-{year}-0001 -€400.00 · net invoiced €600.00"
        in (detail)
    )
    assert "Credit note issued" in detail  # the history

    other = login(noor)
    assert other.get(doc_url).status_code == 404
    assert other.get(doc_url[:-1] + ".pdf").status_code == 404


def test_the_invoice_register_lists_every_document_with_the_net(
    login, contract: Contract, noor: User
) -> None:
    worker = contract.worker
    m1, _ = milestones(contract)
    today = timezone.localdate()
    services.issue_invoice(m1, on=today, recorded_by=worker)
    client = login(worker)
    post_action(client, m1, "fund")
    assert post_action(client, m1, "release", amount="600.00").status_code == 302
    note = services.issue_credit_note(
        m1, amount=40_000, reason="Moved on", on=today, recorded_by=worker
    )
    y = today.year
    page = text(client.get("/career/contracts/invoices/"))
    assert f"{y} EUR €1,000.00 €400.00 €600.00" in page
    assert f"Credit note CN-{y}-0001 against INV-{y}-0001 Acme Studio" in page
    assert (
        f"/career/contracts/documents/{note.pk}/"
        in client.get("/career/contracts/invoices/").content.decode()
    )
    csv_text = client.get("/career/contracts/invoices.csv").content.decode()
    on, project = today.isoformat(), "Acme Studio,Website redesign,1,EUR"
    assert csv_text.splitlines() == [
        "issued_on,document,number,invoice,client,contract,milestone,currency,amount",
        f"{on},Credit note,CN-{y}-0001,INV-{y}-0001,{project},-400.00",
        f"{on},Invoice,INV-{y}-0001,INV-{y}-0001,{project},1000.00",
    ]
    # Another worker's register is their own: empty.
    assert "No invoice issued yet" in text(login(noor).get("/career/contracts/invoices/"))
    assert login(noor).get("/career/contracts/invoices.csv").content.decode().count("\n") == 1
