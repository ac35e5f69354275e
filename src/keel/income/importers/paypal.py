"""PayPal activity download (Activity > Statements > Activity download, CSV).

Header (default fields; the report lets the user choose fields, and Keel reads by name)::

    Date, Time, TimeZone, Name, Type, Status, Currency, Gross, Fee, Net, From Email
    Address, To Email Address, Transaction ID, Shipping Address, Address Status, Item
    Title, Item ID, ..., Reference Txn ID, Invoice Number, Custom Number, Quantity,
    Receipt ID, Balance, ..., Subject, Note, Country Code, Balance Impact

PayPal writes the file in the account's language and number style.  Keel reads the
English and the German headers (``Datum, Uhrzeit, Zeitzone, Name, Typ, Status, Währung,
Brutto, Gebühr, Netto, ..., Transaktionscode, ..., Zugehöriger Transaktionscode, ...,
Auswirkung auf Guthaben``); other languages go through the csv format with a profile.
A personal account's download has ``Amount`` (``Betrag``) in place of ``Gross``, ``Fee``
and ``Net``: the amount that moved the balance, read as the gross with no fee.
Dates are ``MM/DD/YYYY`` (US), ``DD/MM/YYYY`` (UK and most others) or ``DD.MM.YYYY``
(German): Keel settles a slashed file's order from its first date with a day above 12, or
from ``date_order``.  Amounts are ``1,234.56`` or ``1.234,56``, settled the same way.
``Fee`` is negative when PayPal charged one and ``Net = Gross + Fee``.

Only rows whose Status is Completed (or a completed payment PayPal has since marked
Refunded, Partially Refunded or Reversed: the refund or reversal is a row of its own) move
money; ``Balance Impact`` Memo rows never do.
"""

from __future__ import annotations

from collections.abc import Callable
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

FORMAT: Final = "paypal"
LABEL: Final = "PayPal activity download"

COLUMNS: Final = (
    Column("date", ("Date", "Datum")),
    Column("name", ("Name",), required=False),
    Column("type", ("Type", "Typ")),
    Column("status", ("Status",)),
    Column("currency", ("Currency", "Währung")),
    # A personal account's download has one "Amount" column (no Gross, Fee or Net):
    # ``Date, Time, TimeZone, Name, Type, Status, Currency, Amount, Receipt ID, Balance``.
    Column("gross", ("Gross", "Brutto", "Amount", "Betrag")),
    Column("fee", ("Fee", "Gebühr", "Entgelt"), required=False),
    Column("net", ("Net", "Netto"), required=False),
    Column("from", ("From Email Address", "Absender E-Mail-Adresse"), required=False),
    Column("to", ("To Email Address", "Empfänger E-Mail-Adresse"), required=False),
    Column("txn", ("Transaction ID", "Transaktionscode"), required=False),
    Column("ref", ("Reference Txn ID", "Zugehöriger Transaktionscode"), required=False),
    Column("item", ("Item Title", "Artikelbezeichnung"), required=False),
    Column("subject", ("Subject", "Betreff"), required=False),
    Column("note", ("Note", "Hinweis"), required=False),
    Column("impact", ("Balance Impact", "Auswirkung auf Guthaben"), required=False),
)

# Statuses of rows that moved money.  PayPal shows a payment's current status, so a
# payment later refunded reads "Refunded" while its refund is a separate Completed row.
MOVED: Final = frozenset(
    {"completed", "abgeschlossen", "refunded", "partially refunded", "reversed"}
)
CREDIT: Final = frozenset({"credit", "haben"})
DEBIT: Final = frozenset({"debit", "soll"})
MEMO: Final = frozenset({"memo"})

# Payers whose PayPal payment is the other leg of a withdrawal from a platform balance
# that Keel imports on its own: booked as a transfer so the income is not counted twice.
PLATFORM_PAYERS: Final = ("upwork", "fiverr")

HOLD, CONVERSION, FEE, REFUND, REVERSAL, MOVE, PAYMENT, NO_MONEY = range(8)


def category(type_text: str) -> int | None:
    """What a PayPal transaction type (English or German) is, or None when unknown."""
    t = type_text.lower()
    if any(k in t for k in ("hold", "release", "einbehaltung", "freigabe", "reserve")):
        return HOLD
    if "conversion" in t or "umrechnung" in t:
        return CONVERSION
    if "fee" in t or "gebühr" in t or "entgelt" in t:
        return FEE
    if "refund" in t or "rückzahlung" in t or "erstattung" in t:
        return REFUND
    if any(k in t for k in ("chargeback", "reversal", "rückbuchung", "rücklastschrift")):
        return REVERSAL
    if any(
        k in t
        for k in (
            "withdraw",
            "abbuchung",
            "auszahlung",
            "deposit",
            "add funds",
            "transfer",
            "gutschrift",
            "einzahlung",
            "überweisung",
            "bank",
            # "PayPal Buyer Credit Payment Funding": PayPal Credit paying for a purchase
            # (the purchase is the next row), not a payment received.
            "funding",
        )
    ):
        return MOVE
    if any(
        k in t
        for k in (
            "payment",
            "zahlung",
            "donation",
            "spende",
            "mass pay",
            "payout",
            "invoice",
            "subscription",
            "abonnement",
        )
    ):
        return PAYMENT
    if any(k in t for k in ("authorization", "autorisierung", "request", "anforderung")):
        return NO_MONEY
    return None


def parse(
    stream: BinaryIO,
    *,
    date_order: str | None = None,
    progress: Progress | None = None,
    **_: object,
) -> ParsedFile:
    with open_table(stream, COLUMNS, label=LABEL, progress=progress) as table:
        dates = DateReader(date_order)
        numbers = Numbers(None)
        convert = _converter(table, dates, numbers)
        items, rejected = collect(table, convert, (dates, numbers))
        return finish(FORMAT, items, rejected, table.count, (dates, numbers))


def _converter(
    table: Table, dates: DateReader, numbers: Numbers
) -> Callable[[int, list[str]], ParsedRow | SkippedRow]:
    ix, names = table.index, table.names
    i_date, c_date = ix["date"], names["date"]
    i_type, c_type = ix["type"], names["type"]
    i_status, c_status = ix["status"], names["status"]
    i_currency, c_currency = ix["currency"], names["currency"]
    i_gross, c_gross = ix["gross"], names["gross"]
    i_fee, c_fee = ix.get("fee", -1), names.get("fee", "")
    i_net, c_net = ix.get("net", -1), names.get("net", "")
    i_impact = ix.get("impact", -1)
    i_txn, i_ref = ix.get("txn", -1), ix.get("ref", -1)
    i_name, i_from, i_to = ix.get("name", -1), ix.get("from", -1), ix.get("to", -1)
    text_columns = tuple(ix[k] for k in ("item", "subject", "note") if k in ix)
    currencies = Currencies()
    categories: dict[str, int | None] = {}

    def convert(line: int, cells: list[str]) -> ParsedRow | SkippedRow:
        status = cells[i_status].strip()
        if status.lower() not in MOVED:
            if not status:
                raise RowError(c_status, "status is empty")
            return SkippedRow(line, f"status {status!r}: only Completed rows move money")
        impact = cells[i_impact].strip().lower() if i_impact >= 0 else ""
        if impact in MEMO:
            return SkippedRow(line, "Balance Impact is Memo: the row moves no money")
        type_text = cells[i_type]
        cat = categories.get(type_text, -1)
        if cat == -1:
            cat = categories[type_text] = category(type_text)
        occurred_on = dates.parse(cells[i_date], line, c_date)
        code, exponent = currencies.parse(cells[i_currency], c_currency)
        gross = numbers.required(cells[i_gross], code, exponent, line, c_gross)
        fee = numbers.optional(cells[i_fee], code, exponent, line, c_fee) if i_fee >= 0 else 0
        if i_net >= 0 and cells[i_net].strip():
            net = numbers.parse(cells[i_net], code, exponent, line, c_net)
            check_net(gross, -fee, net, c_net, cells[i_net])
        if cat is None or cat == NO_MONEY:
            if not type_text.strip():
                raise RowError(c_type, "type is empty")
            return SkippedRow(
                line,
                f"PayPal type {norm(type_text)!r} is not one Keel imports; not imported "
                "(check it by hand)",
            )
        incoming = gross > 0 or (gross == 0 and impact in CREDIT)
        name = norm(cells[i_name]) if i_name >= 0 else ""
        description = ""
        for i in text_columns:
            if cells[i].strip():
                description = norm(cells[i])
                break
        if not description:
            description = norm(type_text)
        hint = ""
        # Money spent from the balance, and a purchase's money coming back, go to or come
        # from a payee outside the worker's books, not their bank: never their cash.
        spent = False
        if cat == PAYMENT:
            if incoming and any(p in name.lower() for p in PLATFORM_PAYERS):
                kind = RowKind.TRANSFER
                description = f"from {name}: the other side of a withdrawal from {name}"
            else:
                kind = RowKind.INCOME if incoming else RowKind.TRANSFER
                spent = not incoming
            lowered = type_text.lower()
            if "subscription" in lowered or "abonnement" in lowered:
                hint = "recurring"
        elif cat == REFUND:
            kind = RowKind.TRANSFER if incoming else RowKind.REFUND
            spent = incoming
        elif cat == REVERSAL:
            if incoming:
                chargeback = "chargeback" in type_text.lower()
                kind = RowKind.INCOME if chargeback else RowKind.TRANSFER
                spent = not chargeback
            else:
                kind = RowKind.REFUND
        elif cat == FEE:
            kind = RowKind.FEE
        else:
            kind = RowKind.TRANSFER
        counterparty = name
        if not counterparty:
            i_mail = i_from if incoming else i_to
            counterparty = norm(cells[i_mail]) if i_mail >= 0 else ""
        external_id = cells[i_txn].strip() if i_txn >= 0 else ""
        raw: tuple[str, ...] = ()
        if not external_id:
            raw = (occurred_on.isoformat(), norm(type_text), code, str(gross), str(fee))
            raw += (counterparty, description)
        return make_row(
            line,
            kind,
            occurred_on,
            code,
            gross,
            -fee,
            external_id=external_id,
            description=description,
            counterparty=counterparty,
            stream_hint=hint,
            related_id=cells[i_ref].strip() if i_ref >= 0 else "",
            source_type=norm(type_text),
            raw=raw,
            spent=spent,
        )

    return convert
