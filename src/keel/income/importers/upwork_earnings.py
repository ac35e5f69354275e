"""Upwork earnings report: one row per payment with the hours behind it.

Header::

    Date, Contract, Hours, Amount, Payment type

(``Client``/``Team`` and ``Currency`` columns are read when present.)  ``Hours`` is
``14:20`` (hours and minutes, as Upwork writes worked time) or ``14.33``; Keel keeps it in
hundredths of an hour.  ``Amount`` is the payment in USD (the currency of every Upwork
balance) unless a ``Currency`` column says otherwise.  The report carries no fee and no
transaction id: the amount is booked as the gross with no fee, and identity is the row's
content (plus the service's occurrence number).  Use the transaction history (``upwork``)
for fees and withdrawals.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import BinaryIO, Final

from .base import ParsedFile, ParsedRow, Progress, RowKind, SkippedRow
from .common import (
    Column,
    Currencies,
    DateReader,
    Numbers,
    RowError,
    Table,
    collect,
    finish,
    make_row,
    norm,
    open_table,
)
from .upwork import PROJECT_TYPES

FORMAT: Final = "upwork-earnings"
LABEL: Final = "Upwork earnings report"

COLUMNS: Final = (
    Column("date", ("Date",)),
    Column("contract", ("Contract", "Contract Title", "Contract name", "Job")),
    Column("hours", ("Hours", "Hours worked"), required=False),
    Column("amount", ("Amount", "Amount $", "Amount USD", "Earnings")),
    Column("type", ("Payment type", "Payment Type", "Type"), required=False),
    Column("client", ("Client", "Client team", "Team", "Client name"), required=False),
    Column("currency", ("Currency",), required=False),
)
_HHMM = re.compile(r"\s*(\d{1,5}):([0-5]\d)(?::[0-5]\d)?\s*\Z")


def hours_of(text: str, column: str) -> int | None:
    """Hundredths of an hour from ``14:20`` or ``14.33``; None when the cell is empty."""
    text = text.strip()
    if not text or text in {"-", "--"}:
        return None
    m = _HHMM.match(text)
    if m is not None:
        minutes = int(m[1]) * 60 + int(m[2])
        return (minutes * 100 + 30) // 60
    try:
        value = Decimal(text.replace(",", ".")) if text.count(",") == 1 else Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0 or value > 100_000:
        raise RowError(column, f"hours {text[:40]!r} are not a number of hours")
    return int((value * 100).to_integral_value())


def parse(
    stream: BinaryIO,
    *,
    date_order: str | None = None,
    currency: str | None = None,
    progress: Progress | None = None,
    **_: object,
) -> ParsedFile:
    with open_table(stream, COLUMNS, label=LABEL, progress=progress) as table:
        dates = DateReader(date_order)
        numbers = Numbers(None)
        convert = _converter(table, dates, numbers, currency)
        items, rejected = collect(table, convert, (dates, numbers))
        return finish(FORMAT, items, rejected, table.count, (dates, numbers))


def _converter(
    table: Table, dates: DateReader, numbers: Numbers, currency: str | None
) -> Callable[[int, list[str]], ParsedRow | SkippedRow]:
    ix, names = table.index, table.names
    i_date, c_date = ix["date"], names["date"]
    i_contract = ix["contract"]
    i_amount, c_amount = ix["amount"], names["amount"]
    i_hours, c_hours = ix.get("hours", -1), names.get("hours", "")
    i_type = ix.get("type", -1)
    i_client = ix.get("client", -1)
    i_currency, c_currency = ix.get("currency", -1), names.get("currency", "")
    currencies = Currencies()
    fixed = currencies.fixed(currency or "USD")

    def convert(line: int, cells: list[str]) -> ParsedRow | SkippedRow:
        occurred_on = dates.parse(cells[i_date], line, c_date)
        if i_currency >= 0 and cells[i_currency].strip() and not currency:
            code, exponent = currencies.parse(cells[i_currency], c_currency)
        else:
            code, exponent = fixed
        amount = numbers.required(cells[i_amount], code, exponent, line, c_amount)
        hours = hours_of(cells[i_hours], c_hours) if i_hours >= 0 else None
        payment_type = norm(cells[i_type]) if i_type >= 0 else ""
        lowered = payment_type.lower().replace("-", " ")
        if "withdraw" in lowered:
            kind = RowKind.TRANSFER
        elif "fee" in lowered:
            kind = RowKind.FEE
        elif "refund" in lowered:
            kind = RowKind.REFUND
            amount = -abs(amount)
        else:
            kind = RowKind.INCOME
        contract = norm(cells[i_contract])
        client = norm(cells[i_client]) if i_client >= 0 else ""
        raw = (
            occurred_on.isoformat(),
            contract,
            client,
            payment_type,
            code,
            str(amount),
            "" if hours is None else str(hours),
        )
        return make_row(
            line,
            kind,
            occurred_on,
            code,
            amount,
            0,
            description=contract,
            counterparty=client,
            stream_hint="project" if lowered in PROJECT_TYPES else "",
            hours=hours,
            raw=raw,
            source_type=payment_type,
        )

    return convert
