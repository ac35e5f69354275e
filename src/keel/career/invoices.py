"""A milestone's invoice as the page and the PDF show it.

``invoice_document`` assembles the invoice once (``rules.contracts.milestone_invoice`` does
the arithmetic); the page and ``render_pdf`` both render that same object, so they cannot
disagree. The PDF uses reportlab's standard fonts, so it needs no system library, and is
built with ``invariant`` on: the same invoice gives the same bytes.
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
from .models import Milestone
from .rules.contracts import Invoice

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

    @property
    def filename(self) -> str:
        return f"{self.invoice.number}.pdf"


def invoice_document(milestone: Milestone, today: date) -> InvoiceDocument:
    contract = milestone.contract
    worker = contract.worker
    return InvoiceDocument(
        invoice=services.invoice_for(milestone, today),
        draft=not milestone.invoice_number,
        worker_name=worker.get_full_name() or worker.email,
        worker_email=worker.email,
        client_email=contract.client_email,
        contract_title=contract.title,
        sequence=milestone.sequence,
        state=milestone.get_state_display(),
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


def _story(doc: InvoiceDocument) -> list[Flowable]:
    st = _styles()
    inv = doc.invoice
    width = PAGE[0] - 2 * MARGIN
    number = "Draft (not yet issued)" if doc.draft else escape(inv.number)
    parties = Table(
        [
            [
                Paragraph("<b>From</b>", st["body"]),
                Paragraph("<b>Bill to</b>", st["body"]),
                Paragraph("<b>Invoice</b>", st["body"]),
            ],
            [
                Paragraph(f"{escape(doc.worker_name)}<br/>{escape(doc.worker_email)}", st["body"]),
                Paragraph(
                    escape(inv.client)
                    + (f"<br/>{escape(doc.client_email)}" if doc.client_email else ""),
                    st["body"],
                ),
                Paragraph(
                    f"Number: {number}<br/>Issued: {day_text(inv.issued_on)}<br/>"
                    + (f"Due: {day_text(inv.due_on)}" if inv.due_on else "Due: on delivery terms"),
                    st["body"],
                ),
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
                ("LINEABOVE", (0, -3), (-1, -3), 0.8, NAVY),
                ("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 10),
            ]
        )
    )
    return [
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


def render_pdf(doc: InvoiceDocument) -> bytes:
    buffer = io.BytesIO()
    footer = f"Keel · Invoice {doc.invoice.number} · {doc.worker_name}"

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
        title=f"Invoice {doc.invoice.number}",
        author=doc.worker_name,
        subject=f"{doc.contract_title}, milestone {doc.sequence}",
        creator="Keel",
        invariant=1,
    )
    template.build(_story(doc), onFirstPage=draw_footer, onLaterPages=draw_footer)
    return buffer.getvalue()
