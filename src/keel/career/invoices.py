"""A milestone's invoice, and the credit notes and supplementary invoices against it, as
the pages and the PDFs show them.

``invoice_document`` assembles the invoice once (``rules.contracts.milestone_invoice`` does
the arithmetic), ``adjustment_document`` a credit note or supplementary invoice
(``rules.contracts.invoice_adjustment``); each page and its PDF render that same object, so
they cannot disagree. The PDFs use reportlab's standard fonts, so they need no system
library, and are built with ``invariant`` on: the same document gives the same bytes.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from keel.money import format_amount

from . import services
from .models import InvoiceAdjustment, Milestone
from .rules.contracts import Invoice
from .rules.contracts import InvoiceAdjustment as AdjustmentRule

NAVY = colors.HexColor("#1b2a3a")
GREY = colors.HexColor("#55636f")
RULE = colors.HexColor("#c9d3dd")
SHADE = colors.HexColor("#eef3f6")
PAGE = A4
MARGIN = 0.8 * inch


def money_text(minor: int, currency: str) -> str:
    """The amount as the ``money`` template filter prints it, with a plain space after a
    letter symbol ("CHF 12.00")."""
    return re.sub(r"(?<=[A-Za-z])(?=\d)", " ", format_amount(minor, currency, symbol=True))


def day_text(day: date) -> str:
    return f"{day:%b} {day.day}, {day.year}"


@dataclass(frozen=True, slots=True)
class InvoiceDocument:
    invoice: Invoice
    draft: bool
    worker_name: str
    worker_email: str
    client_email: str
    contract_title: str
    sequence: int
    state: str
    # The credit notes and supplementary invoices issued against it, oldest first.
    adjustments: tuple[InvoiceAdjustment, ...] = ()

    @property
    def filename(self) -> str:
        return f"{self.invoice.number}.pdf"


def invoice_document(milestone: Milestone, today: date) -> InvoiceDocument:
    contract = milestone.contract
    worker = contract.worker
    adjustments = services.invoice_adjustments(milestone)
    return InvoiceDocument(
        invoice=services.invoice_for(milestone, today, adjustments),
        draft=not milestone.invoice_number,
        worker_name=worker.get_full_name() or worker.email,
        worker_email=worker.email,
        client_email=contract.client_email,
        contract_title=contract.title,
        sequence=milestone.sequence,
        state=milestone.get_state_display(),
        adjustments=tuple(adjustments),
    )


@dataclass(frozen=True, slots=True)
class AdjustmentDocument:
    """A credit note or supplementary invoice with the parties, as the invoice has them."""

    adjustment: AdjustmentRule
    row: InvoiceAdjustment
    worker_name: str
    worker_email: str
    client_email: str
    contract_title: str
    sequence: int

    @property
    def filename(self) -> str:
        return f"{self.adjustment.number}.pdf"


def adjustment_document(row: InvoiceAdjustment) -> AdjustmentDocument:
    milestone = row.milestone
    contract = milestone.contract
    worker = contract.worker
    return AdjustmentDocument(
        adjustment=services.adjustment_document(row),
        row=row,
        worker_name=worker.get_full_name() or worker.email,
        worker_email=worker.email,
        client_email=contract.client_email,
        contract_title=contract.title,
        sequence=milestone.sequence,
    )


def _styles() -> dict[str, ParagraphStyle]:
    body = ParagraphStyle("body", fontName="Helvetica", fontSize=9.5, leading=13, textColor=NAVY)
    return {
        "title": ParagraphStyle(
            "title", parent=body, fontName="Helvetica-Bold", fontSize=20, leading=24
        ),
        "h2": ParagraphStyle(
            "h2", parent=body, fontName="Helvetica-Bold", fontSize=10, spaceBefore=10
        ),
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=8, leading=10, textColor=GREY),
    }


def _parties(
    st: dict[str, ParagraphStyle],
    *,
    worker_name: str,
    worker_email: str,
    client: str,
    client_email: str,
    heading: str,
    details: str,
) -> Table:
    width = PAGE[0] - 2 * MARGIN
    parties = Table(
        [
            [
                Paragraph("<b>From</b>", st["body"]),
                Paragraph("<b>Bill to</b>", st["body"]),
                Paragraph(f"<b>{escape(heading)}</b>", st["body"]),
            ],
            [
                Paragraph(f"{escape(worker_name)}<br/>{escape(worker_email)}", st["body"]),
                Paragraph(
                    escape(client) + (f"<br/>{escape(client_email)}" if client_email else ""),
                    st["body"],
                ),
                Paragraph(details, st["body"]),
            ],
        ],
        colWidths=[width / 3] * 3,
        hAlign="LEFT",
    )
    parties.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return parties


def _amounts(rows: list[list[Any]], totals: int) -> Table:
    """The lines under a header row, the last ``totals`` rows set off as totals."""
    width = PAGE[0] - 2 * MARGIN
    table = Table(rows, colWidths=[width * 0.72, width * 0.28], repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), "Helvetica", 9.5),
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 9.5),
                ("TEXTCOLOR", (0, 0), (-1, -1), NAVY),
                ("BACKGROUND", (0, 0), (-1, 0), SHADE),
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, RULE),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEABOVE", (0, -totals), (-1, -totals), 0.8, NAVY),
                ("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 10),
            ]
        )
    )
    return table


def _story(doc: InvoiceDocument) -> list[Flowable]:
    st = _styles()
    inv = doc.invoice
    number = "Draft (not yet issued)" if doc.draft else escape(inv.number)
    parties = _parties(
        st,
        worker_name=doc.worker_name,
        worker_email=doc.worker_email,
        client=inv.client,
        client_email=doc.client_email,
        heading="Invoice",
        details=f"Number: {number}<br/>Issued: {day_text(inv.issued_on)}<br/>"
        + (f"Due: {day_text(inv.due_on)}" if inv.due_on else "Due: on delivery terms"),
    )
    rows: list[list[Any]] = [["Description", f"Amount ({inv.currency})"]]
    rows += [
        [Paragraph(escape(line.description), st["body"]), money_text(line.amount, inv.currency)]
        for line in inv.lines
    ]
    rows += [
        ["Subtotal", money_text(inv.subtotal, inv.currency)],
        # As the page shows it: what was paid, not a negative payment.
        ["Paid", money_text(inv.paid, inv.currency)],
        ["Balance due", money_text(inv.balance_due, inv.currency)],
    ]
    table = _amounts(rows, 3)
    story: list[Flowable] = [
        Paragraph("Invoice" + (" (draft)" if doc.draft else ""), st["title"]),
        Spacer(1, 10),
        parties,
        Spacer(1, 8),
        Paragraph(
            f"{escape(doc.contract_title)}, milestone {doc.sequence} ({escape(doc.state.lower())})",
            st["h2"],
        ),
        Spacer(1, 4),
        table,
    ]
    if doc.adjustments and inv.issued_total is not None and inv.net_total is not None:
        # The client holds these documents too: the invoice lists them with the net.
        adjusted: list[list[Any]] = [["Against this invoice", f"Amount ({inv.currency})"]]
        adjusted.append(["Issued for", money_text(inv.issued_total, inv.currency)])
        adjusted += [
            [
                f"{row.get_kind_display()} {row.number} of {day_text(row.issued_on)}",
                money_text(row.signed_amount, inv.currency),
            ]
            for row in doc.adjustments
        ]
        adjusted.append(["Net invoiced", money_text(inv.net_total, inv.currency)])
        story += [Spacer(1, 8), _amounts(adjusted, 1)]
    return [
        *story,
        Spacer(1, 10),
        Paragraph(escape(inv.payment_terms), st["body"]),
        Spacer(1, 4),
        Paragraph(
            "Amounts are exact to the minor unit. Payment is due as stated; under New York"
            " City's Freelance Isn't Free Act a client pays by the contract date or within"
            " 30 days of completion.",
            st["small"],
        ),
    ]


def _adjustment_story(doc: AdjustmentDocument) -> list[Flowable]:
    st = _styles()
    adj = doc.adjustment
    cur = adj.currency
    parties = _parties(
        st,
        worker_name=doc.worker_name,
        worker_email=doc.worker_email,
        client=adj.client,
        client_email=doc.client_email,
        heading=adj.title,
        details=f"Number: {escape(adj.number)}<br/>Issued: {day_text(adj.issued_on)}<br/>"
        f"Original invoice: {escape(adj.invoice_number)}<br/>"
        f"of {day_text(adj.invoice_issued_on)}"
        + (f"<br/>Due: {day_text(adj.due_on)}" if adj.due_on else ""),
    )
    rows: list[list[Any]] = [["Description", f"Amount ({cur})"]]
    rows += [
        [Paragraph(escape(line.description), st["body"]), money_text(line.amount, cur)]
        for line in adj.lines
    ]
    rows.append(["Total", money_text(adj.total, cur)])
    return [
        Paragraph(adj.title, st["title"]),
        Spacer(1, 10),
        parties,
        Spacer(1, 8),
        Paragraph(f"{escape(doc.contract_title)}, milestone {doc.sequence}", st["h2"]),
        Spacer(1, 4),
        _amounts(rows, 1),
        Spacer(1, 10),
        Paragraph(f"<b>Reason:</b> {escape(adj.reason)}", st["body"]),
        Spacer(1, 4),
        Paragraph(escape(adj.terms), st["body"]),
        Spacer(1, 4),
        Paragraph(
            f"Amounts are exact to the minor unit. Keep this {adj.title.lower()} with invoice"
            f" {escape(adj.invoice_number)}: together they state what is owed.",
            st["small"],
        ),
    ]


def render_adjustment_pdf(doc: AdjustmentDocument) -> bytes:
    adj = doc.adjustment
    return _render(
        _adjustment_story(doc),
        footer=f"Keel · {adj.title} {adj.number} · {doc.worker_name}",
        title=f"{adj.title} {adj.number}",
        author=doc.worker_name,
        subject=f"{doc.contract_title}, milestone {doc.sequence}, invoice {adj.invoice_number}",
    )


def render_pdf(doc: InvoiceDocument) -> bytes:
    return _render(
        _story(doc),
        footer=f"Keel · Invoice {doc.invoice.number} · {doc.worker_name}",
        title=f"Invoice {doc.invoice.number}",
        author=doc.worker_name,
        subject=f"{doc.contract_title}, milestone {doc.sequence}",
    )


def _render(story: list[Flowable], *, footer: str, title: str, author: str, subject: str) -> bytes:
    buffer = io.BytesIO()

    def draw_footer(canvas: Any, template: Any) -> None:
        canvas.saveState()
        canvas.setStrokeColor(RULE)
        canvas.line(MARGIN, MARGIN - 12, PAGE[0] - MARGIN, MARGIN - 12)
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(GREY)
        canvas.drawString(MARGIN, MARGIN - 24, footer)
        canvas.drawRightString(PAGE[0] - MARGIN, MARGIN - 24, f"Page {template.page}")
        canvas.restoreState()

    template = SimpleDocTemplate(
        buffer,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=title,
        author=author,
        subject=subject,
        creator="Keel",
        invariant=1,
    )
    template.build(story, onFirstPage=draw_footer, onLaterPages=draw_footer)
    return buffer.getvalue()
