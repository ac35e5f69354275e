"""Etsy monthly statement (Shop Manager > Finances > Monthly statements > Download CSV).

Header (``Status`` and ``Availability Date`` appear in newer statements and are not read)::

    Date, Type, Title, Info, Currency, Amount, Fees & Taxes, Net, Tax Details

Dates are ``September 24, 2026`` (or ``31 July, 2026`` / ``31 Mar 2023`` in other shop
locales); amounts carry the currency's symbol (``$16.08``, ``-CA$4.42``, ``£3.84``) and an
empty figure is ``--``.  ``Net = Amount + Fees & Taxes``.  There is no transaction id:
identity is the row's content (plus an occurrence number the service adds, so two
genuinely identical fee rows both count).

Kinds: ``Sale`` is income and ``Refund`` a refund; ``Fee``, ``Marketing``, ``VAT``,
``Tax``, ``Shipping`` (labels), ``Listing`` and ``Transaction`` rows are fees; ``Deposit``
(``€123.45 sent to your bank account``, or ``sent to your Payoneer Wallet``, with ``--``
in every figure: the amount is read from the title) is a transfer out; ``Payment`` and
``Reserve`` rows move money between the balance and the worker's card or reserve
(transfers).

Etsy charges a sale's fees and takes the sales tax the buyer paid (``Sales tax paid by
buyer``: Etsy remits it) on rows of their own that name the order in ``Info``
(``Order #3812345671``).  Keel attaches those rows to the sale of the same order and day:
fees become the sale's fee, and the sales tax comes off the sale's gross (it was never the
worker's income).  A fee credit on a refund's day goes to that refund the same way.  What
cannot be attached stays a FEE row; unattached sales tax is a transfer (money passed
through to the tax authority), never income.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO, Final

from .base import ParsedFile, ParsedRow, Progress, RowKind, SkippedRow
from .common import (
    Column,
    Currencies,
    DateReader,
    Numbers,
    RowError,
    Table,
    check_net,
    collect,
    finish,
    make_row,
    norm,
    open_table,
)

FORMAT: Final = "etsy"
LABEL: Final = "Etsy monthly statement"

COLUMNS: Final = (
    Column("date", ("Date",)),
    Column("type", ("Type",)),
    Column("title", ("Title", "Description")),
    Column("info", ("Info",), required=False),
    Column("currency", ("Currency",)),
    Column("amount", ("Amount",)),
    Column("fees", ("Fees & Taxes", "Fees and Taxes", "Fees")),
    Column("net", ("Net",)),
)
EMPTY: Final = frozenset({"", "--", "-", "\u2014", "\u2013", "n/a", "N/A"})

SALE, REFUND, FEE, SALES_TAX, DEPOSIT, MOVE = range(6)
_FEE_TYPES: Final = frozenset(
    {
        "fee",
        "fees",
        "marketing",
        "vat",
        "tax",
        "taxes",
        "shipping",
        "postage",
        "listing",
        "transaction",
        "subscription",
        "etsy plus",
        "advertising",
        "adjustment",
        "credit",
    }
)
_ORDER = re.compile(r"order\s*#?\s*(\d+)", re.IGNORECASE)
# "$60.00 sent to your bank account"; where Etsy pays out through Payoneer, "$61.28 sent to
# your Payoneer Wallet".
_SENT = re.compile(r"^\s*(.+?)\s+sent to your\b", re.IGNORECASE)


def category(type_text: str, title: str) -> int | None:
    t = type_text.strip().lower()
    if t == "sale":
        return SALE
    if t == "refund":
        return REFUND
    if t == "deposit":
        return DEPOSIT
    if t in {"payment", "reserve", "hold", "release"}:
        return MOVE
    if t == "buyer fee":
        # "Colorado Retail Delivery Fee (paid by buyer)": like sales tax, the buyer paid it
        # within the sale's amount and Etsy passes it on, so it comes off the sale's gross.
        return SALES_TAX
    if t in _FEE_TYPES:
        lowered = title.lower()
        if t in {"tax", "vat", "taxes"} and ("paid by buyer" in lowered or "sales tax" in lowered):
            return SALES_TAX
        return FEE
    return None


@dataclass(slots=True)
class Entry:
    line: int
    cat: int
    occurred_on: date
    currency: str
    amount: int
    kept: int
    order: str
    description: str
    raw: tuple[str, ...]
    source_type: str
    attached: bool = False


def parse(
    stream: BinaryIO,
    *,
    date_order: str | None = None,
    progress: Progress | None = None,
    **_: object,
) -> ParsedFile:
    with open_table(stream, COLUMNS, label=LABEL, progress=progress) as table:
        dates = DateReader(date_order)
        numbers = Numbers(None, empty=EMPTY)
        convert = _converter(table, dates, numbers)
        items, rejected = collect(table, convert, (dates, numbers))
        results, attached = _link(items)
        notes = []
        if attached:
            notes.append(
                f"{attached} fee or sales-tax row(s) attached to the sale or refund of the "
                "same order and day"
            )
        return finish(FORMAT, results, rejected, table.count, (dates, numbers), notes)


def _converter(
    table: Table, dates: DateReader, numbers: Numbers
) -> Callable[[int, list[str]], Entry | SkippedRow]:
    ix, names = table.index, table.names
    i_date, c_date = ix["date"], names["date"]
    i_type, c_type = ix["type"], names["type"]
    i_title, c_title = ix["title"], names["title"]
    i_info = ix.get("info", -1)
    i_currency, c_currency = ix["currency"], names["currency"]
    i_amount, c_amount = ix["amount"], names["amount"]
    i_fees, c_fees = ix["fees"], names["fees"]
    i_net, c_net = ix["net"], names["net"]
    currencies = Currencies()
    optional = numbers.optional

    def convert(line: int, cells: list[str]) -> Entry | SkippedRow:
        type_text, title = cells[i_type], cells[i_title]
        info = cells[i_info] if i_info >= 0 else ""
        cat = category(type_text, title)
        occurred_on = dates.parse(cells[i_date], line, c_date)
        code, exponent = currencies.parse(cells[i_currency], c_currency)
        amount = optional(cells[i_amount], code, exponent, line, c_amount)
        fees = optional(cells[i_fees], code, exponent, line, c_fees)
        net_text = cells[i_net]
        net_given = net_text.strip() not in EMPTY
        net = optional(net_text, code, exponent, line, c_net)
        if cat is None:
            if not type_text.strip():
                raise RowError(c_type, "type is empty")
            return SkippedRow(
                line,
                f"Etsy row type {norm(type_text)!r} is not one Keel knows; not imported "
                "(check it by hand)",
            )
        if cat == DEPOSIT:
            moved = net or amount
            if moved == 0:
                m = _SENT.match(title)
                if m is None:
                    raise RowError(c_title, "the deposit's amount is not in its title")
                moved = numbers.parse(m[1], code, exponent, line, c_title)
            amount, fees = -abs(moved), 0
        elif net_given and amount == 0 and fees == 0:
            # Only the net is written: it is the fee on a fee row, the amount otherwise.
            if cat in (FEE, SALES_TAX):
                fees = net
            else:
                amount = net
        elif net_given:
            check_net(amount, -fees, net, c_net, net_text)
        order = ""
        m = _ORDER.search(info) or _ORDER.search(title)
        if m is not None:
            order = m[1]
        description = norm(title)
        if info.strip():
            description = f"{description} ({norm(info)})" if description else norm(info)
        raw = (
            occurred_on.isoformat(),
            norm(type_text),
            norm(title),
            norm(info),
            code,
            str(amount),
            str(fees),
        )
        return Entry(
            line, cat, occurred_on, code, amount, -fees, order, description, raw, norm(type_text)
        )

    return convert


def _link(items: list[Entry | SkippedRow]) -> tuple[list[ParsedRow | SkippedRow], int]:
    sales: dict[tuple[str, date, str], Entry] = {}
    refunds: dict[tuple[str, date, str], Entry] = {}
    for item in items:
        if isinstance(item, Entry) and item.order:
            key = (item.order, item.occurred_on, item.currency)
            if item.cat == SALE:
                sales.setdefault(key, item)
            elif item.cat == REFUND:
                refunds.setdefault(key, item)
    attached = 0
    if sales or refunds:
        for item in items:
            if not isinstance(item, Entry) or item.cat not in (FEE, SALES_TAX) or not item.order:
                continue
            key = (item.order, item.occurred_on, item.currency)
            money = item.amount - item.kept  # the row's effect on the balance
            if item.cat == SALES_TAX:
                target = sales.get(key) if money < 0 else refunds.get(key)
                if target is not None:
                    target.amount += money
                    item.attached = True
                    attached += 1
                continue
            if money < 0:
                target = sales.get(key) or refunds.get(key)
                if target is not None:
                    target.kept -= money
                    item.attached = True
                    attached += 1
            else:
                target = refunds.get(key)
                if target is not None:
                    target.kept -= money
                    item.attached = True
                    attached += 1
    out: list[ParsedRow | SkippedRow] = []
    for item in items:
        if not isinstance(item, Entry):
            out.append(item)
            continue
        if item.attached:
            continue
        amount, kept = item.amount, item.kept
        if item.cat == SALE or item.cat == REFUND:
            kind = RowKind.INCOME if item.cat == SALE else RowKind.REFUND
        elif item.cat == FEE:
            kind = RowKind.FEE
        else:
            kind = RowKind.TRANSFER
            if item.cat == SALES_TAX:
                # Sales tax is written under "Fees & Taxes", which reads as a fee kept:
                # moved as an amount instead, the unplaced tax charged is a transfer out
                # (it was a fee, an expense of the worker's) as its refund is one in.
                amount, kept = amount - kept, 0
        out.append(
            make_row(
                item.line,
                kind,
                item.occurred_on,
                item.currency,
                amount,
                kept,
                description=item.description,
                raw=item.raw,
                related_id=item.order,
                source_type=item.source_type,
            )
        )
    return out, attached
