"""The client's invoices on their contract link: each milestone's issued invoice with the
credit notes and supplementary invoices against it and the net, each a PDF through the same
signed link. The link authorizes its own contract's issued documents and nothing else:
another contract's (the same worker's too) and every draft are not found, and a forged,
replaced, revoked or expired link gives no document at all."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from io import BytesIO

from django.test import Client
from django.utils import timezone
from pypdf import PdfReader

from keel.accounts.models import User
from keel.career import client_links, services
from keel.career.models import Contract, InvoiceAdjustment, Milestone

from .conftest import make_contract, milestones
from .test_views import text

Login = Callable[[User | None], Client]
D = date
ISSUED, FUNDED, DELIVERED, RELEASED, ADJUSTED = (
    D(2026, 3, 1),
    D(2026, 3, 2),
    D(2026, 3, 5),
    D(2026, 3, 10),
    D(2026, 3, 12),
)


def adjusted(worker: User, **changes: object) -> Contract:
    """Three milestones of EUR 1,000, 2,000 and 500. The first two are invoiced on March 1
    (INV-2026-0001 and -0002) and funded; the client releases EUR 600 of the first and the
    EUR 400 rest rolls onto the second, now EUR 2,400. A credit note takes EUR 400 off the
    first invoice (CN-2026-0001, net EUR 600) and a supplementary invoice adds EUR 400 to
    the second (INV-2026-0003, net EUR 2,400). The third stays a draft."""
    contract = make_contract(worker, 100_000, 200_000, 50_000, **changes)
    first, second, _ = milestones(contract)
    for m in (first, second):
        services.issue_invoice(m, on=ISSUED, recorded_by=worker)
        services.fund_milestone(m, on=FUNDED, recorded_by=worker)
    first = services.deliver_milestone(first, on=DELIVERED, recorded_by=worker)
    first = services.release_milestone(first, on=RELEASED, recorded_by=worker, amount=60_000)
    services.issue_credit_note(
        first, amount=40_000, reason="Part released", on=ADJUSTED, recorded_by=worker
    )
    second = Milestone.objects.select_related("contract").get(pk=second.pk)
    services.issue_supplement(
        second, amount=40_000, reason="Rolled over from part 1", on=ADJUSTED, recorded_by=worker
    )
    return contract


def pdf_links(html: str) -> list[str]:
    return re.findall(r'href="(/c/[^"]+\.pdf)"', html)


def pdf_words(body: bytes) -> str:
    return " ".join(PdfReader(BytesIO(body)).pages[0].extract_text().split())


def test_the_client_sees_each_issued_invoice_with_its_credit_notes_and_the_net(
    maya: User,
) -> None:
    contract = adjusted(maya)
    token = client_links.issue_link(contract)

    page = Client().get(f"/c/{token}/")

    assert page.status_code == 200
    shown = text(page)
    assert "Invoice INV-2026-0001 of Mar 1, 2026 · €1,000.00 · Download INV-2026-0001" in shown
    assert "Credit note CN-2026-0001 of Mar 12, 2026 · -€400.00 · Download CN-2026-0001" in shown
    assert "Invoice INV-2026-0002 of Mar 1, 2026 · €2,000.00 · Download INV-2026-0002" in shown
    assert (
        "Supplementary invoice INV-2026-0003 of Mar 12, 2026 · €400.00 · Download INV-2026-0003"
        in shown
    )
    html = page.content.decode()
    assert re.findall(r'data-testid="client-invoice-net">([^<]+)<', html) == [
        "€600.00",
        "€2,400.00",
    ]
    # The third milestone's invoice is a draft: the client is shown none for it.
    assert html.count('data-testid="client-invoice"') == 2
    assert "Draft" not in shown and "/career/" not in html


def test_the_client_downloads_exactly_their_documents(maya: User, login: Login) -> None:
    contract = adjusted(maya)
    first, second, _ = milestones(contract)
    credit, supplement = InvoiceAdjustment.objects.filter(milestone__contract=contract).order_by(
        "id"
    )
    token = client_links.issue_link(contract)
    client = Client()

    links = pdf_links(client.get(f"/c/{token}/").content.decode())

    assert links == [
        f"/c/{token}/milestones/{first.pk}/invoice.pdf",
        f"/c/{token}/documents/{credit.pk}.pdf",
        f"/c/{token}/milestones/{second.pk}/invoice.pdf",
        f"/c/{token}/documents/{supplement.pk}.pdf",
    ]
    names = []
    for link in links:
        got = client.get(link)
        assert got.status_code == 200 and got["Content-Type"] == "application/pdf"
        assert got.content.startswith(b"%PDF")
        assert "no-store" in got["Cache-Control"] and got["X-Robots-Tag"] == "noindex"
        names.append(got["Content-Disposition"])
    assert names == [
        'attachment; filename="INV-2026-0001.pdf"',
        'attachment; filename="CN-2026-0001.pdf"',
        'attachment; filename="INV-2026-0002.pdf"',
        'attachment; filename="INV-2026-0003.pdf"',
    ]

    invoice = pdf_words(client.get(links[0]).content)
    assert "Number: INV-2026-0001" in invoice and "Issued: Mar 1, 2026" in invoice
    assert "Credit note CN-2026-0001 of Mar 12, 2026 -€400.00" in invoice
    assert "Net invoiced €600.00" in invoice
    note = pdf_words(client.get(links[1]).content)
    assert "Number: CN-2026-0001" in note and "Original invoice: INV-2026-0001" in note
    supplement_words = pdf_words(client.get(links[3]).content)
    assert "Number: INV-2026-0003" in supplement_words
    # The very document the worker downloads from their own invoice page.
    worker_pdf = login(maya).get(
        f"/career/contracts/{contract.pk}/milestones/{first.pk}/invoice.pdf"
    )
    assert client.get(links[0]).content == worker_pdf.content


def test_another_contracts_documents_and_drafts_are_not_found_through_the_link(
    maya: User, noor: User
) -> None:
    contract = adjusted(maya)
    draft = milestones(contract)[2]
    # The same worker's other contract with the same client, and another worker's.
    mine = adjusted(maya, title="Brand book")
    theirs = adjusted(noor)
    token = client_links.issue_link(contract)
    other_token = client_links.issue_link(mine)
    client = Client()

    own = InvoiceAdjustment.objects.filter(milestone__contract=contract).order_by("id")[0]
    for url in (
        f"/c/{token}/milestones/{milestones(contract)[0].pk}/invoice.pdf",
        f"/c/{token}/documents/{own.pk}.pdf",
    ):
        assert client.get(url).status_code == 200, url

    refused = [f"/c/{token}/milestones/{draft.pk}/invoice.pdf"]
    for foreign in (mine, theirs):
        refused += [f"/c/{token}/milestones/{m.pk}/invoice.pdf" for m in milestones(foreign)] + [
            f"/c/{token}/documents/{a.pk}.pdf"
            for a in InvoiceAdjustment.objects.filter(milestone__contract=foreign)
        ]
    refused += [f"/c/{other_token}/milestones/{m.pk}/invoice.pdf" for m in milestones(contract)] + [
        f"/c/{other_token}/documents/{a.pk}.pdf"
        for a in InvoiceAdjustment.objects.filter(milestone__contract=contract)
    ]
    refused += [f"/c/{token}/milestones/999999/invoice.pdf", f"/c/{token}/documents/999999.pdf"]

    assert len(refused) == 1 + 2 * (3 + 2) + 3 + 2 + 2
    for url in refused:
        got = client.get(url)
        assert (got.status_code, got.content.startswith(b"%PDF")) == (404, False), url
    # Posting to a document is no action of the client's.
    assert (
        client.post(f"/c/{token}/milestones/{milestones(contract)[0].pk}/invoice.pdf").status_code
        == 405
    )


def test_no_link_no_documents(maya: User) -> None:
    contract = adjusted(maya)
    first = milestones(contract)[0]
    credit = InvoiceAdjustment.objects.filter(milestone__contract=contract).order_by("id")[0]
    client = Client()

    def documents(token: str) -> list[tuple[int, bool]]:
        answers = [
            client.get(f"/c/{token}/milestones/{first.pk}/invoice.pdf"),
            client.get(f"/c/{token}/documents/{credit.pk}.pdf"),
        ]
        return [(got.status_code, got.content.startswith(b"%PDF")) for got in answers]

    expired = client_links.issue_link(
        contract, now=timezone.now() - client_links.VALIDITY - timedelta(seconds=5)
    )
    assert documents(expired) == [(410, False), (410, False)]
    replaced = client_links.issue_link(contract)
    assert documents(replaced[:-2] + "xx") == [(400, False), (400, False)]
    live = client_links.issue_link(contract)
    assert documents(replaced) == [(400, False), (400, False)]
    assert documents(live) == [(200, True), (200, True)]

    client_links.revoke_link(contract)
    assert documents(live) == [(400, False), (400, False)]
    assert "replaced or withdrawn" in text(client.get(f"/c/{live}/documents/{credit.pk}.pdf"))
