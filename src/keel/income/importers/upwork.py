"""Upwork transaction history (Reports > Transaction history > Download CSV).

Header (2023 onwards; Upwork writes it in Title Case or in sentence case)::

    Date, Transaction ID, Transaction Type, Transaction Summary, Transaction Summary
    Details, Description 1, Description 2, Description 3, Agency, Freelancer, Team,
    Account Name, PO, Ref ID, Amount $, Amount in local currency, Currency,
    Current Balance $, Payment Method

Dates are ``Oct 2, 2026``; ``Amount $`` is the signed USD amount (the currency of every
Upwork balance); ``Amount in local currency`` and ``Currency`` only show the same money in
the worker's local currency and are not booked.

Upwork writes its service fee (and the VAT/GST on that fee, and the withdrawal fee) as rows
of their own.  Keel attaches each fee to the payment it belongs to, so that the income
item shows gross, fee and net together:

* a fee whose description names a ``Ref ID`` (``Service Fee for Hourly - Ref ID
  701123340``; ``VAT (KE) - Service Fee - Ref ID 701123356`` names the service fee, which
  names the payment) goes to that payment;
* otherwise a fee goes to the one payment that shares its ``Transaction ID`` (the 2023
  export groups a payment with its fees under one Transaction ID);
* a fee that cannot be placed that way (a membership fee, Connects, a fee whose payment is
  not in the file) stays a FEE row of its own.  Either way the fee is visible.

The older layout (``Date, Ref ID, Type, Description, ..., Amount, ..., Balance``) is the
``upwork-legacy`` format, read by the same rules (see ``upwork_legacy``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, BinaryIO, Final

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

FORMAT: Final = "upwork"
LABEL: Final = "Upwork transaction history"

COLUMNS: Final = (
    Column("date", ("Date",)),
    Column("txn", ("Transaction ID",), required=False),
    Column("type", ("Transaction Type",)),
    Column("summary", ("Transaction Summary",), required=False),
    Column("details", ("Transaction Summary Details",), required=False),
    Column("desc", ("Description 1", "Description"), required=False),
    Column("ref", ("Ref ID", "Reference ID"), required=False),
    Column("amount", ("Amount $", "Amount USD", "Amount ($)", "Amount")),
    Column("client", ("Client team", "Team", "Client", "Client name"), required=False),
)

# What each Upwork transaction type is, from the worker's side.
EARNING, FEE, REFUND, WITHDRAWAL, FUNDING, ADJUSTMENT = range(6)
_EARNINGS: Final = frozenset(
    {
        "hourly",
        "fixed price",
        "milestone",
        "bonus",
        "upfront payment",
        "expense",
        "reimbursement",
        "miscellaneous",
        "salary",
    }
)
_FEE_WORDS: Final = frozenset(
    {"connects", "subscription", "vat", "gst", "tax", "membership", "freelancer plus", "wht"}
)
PROJECT_TYPES: Final = frozenset({"fixed price", "milestone", "bonus", "upfront payment"})
_REF_IN_TEXT = re.compile(r"Ref\.?\s*ID\s*:?\s*#?\s*(\d+)", re.IGNORECASE)
_HOURS_IN_TEXT = re.compile(r"(\d{1,5}):([0-5]\d)\s*hrs?\b", re.IGNORECASE)


def category(type_text: str) -> int | None:
    """The category of an Upwork transaction type, or None when Keel does not know it."""
    t = " ".join(type_text.lower().replace("-", " ").replace("_", " ").split())
    if t in _EARNINGS:
        return EARNING
    if "fee" in t or t in _FEE_WORDS or t.startswith(("vat ", "gst ", "tax ")):
        return FEE
    if "refund" in t or "chargeback" in t:
        return REFUND
    if "withdraw" in t:
        return WITHDRAWAL
    if t in {"payment", "deposit", "funding", "add funds"}:
        return FUNDING
    if "adjustment" in t:
        return ADJUSTMENT
    return None


def hours_from(text: str) -> int | None:
    """Hundredths of an hour from an hourly invoice text ("... - 14:20 hrs @ $18.00/hr")."""
    m = _HOURS_IN_TEXT.search(text)
    if m is None:
        return None
    minutes = int(m[1]) * 60 + int(m[2])
    return (minutes * 100 + 30) // 60  # to the nearest hundredth, halves up


# ``convert`` returns plain lists, not objects: a million-row file makes a million of them.
# A payment (income, refund, withdrawal...) and a fee row share these positions.
(
    IS_FEE,  # False for a payment, True for a fee row
    LINE,
    DATE,
    AMOUNT,  # signed as in the file
    REF,
    TXN,
    DESC,
    CLIENT,
    RAW,
    TYPE,
    KEPT,  # payment: what the attached fees add up to; fee row: whether it was attached
    KIND,  # payment: its RowKind
    HINT,  # payment: stream hint
    HOURS,  # payment: hundredths of an hour, or None
    LINKS,  # fee row: the Ref IDs its description names
) = range(15)


def parse(
    stream: BinaryIO,
    *,
    date_order: str | None = None,
    currency: str | None = None,
    progress: Progress | None = None,
    **_: object,
) -> ParsedFile:
    with open_table(stream, COLUMNS, label=LABEL, progress=progress) as table:
        return read(table, FORMAT, date_order=date_order, currency=currency)


def read(
    table: Table,
    fmt: str,
    *,
    date_order: str | None,
    currency: str | None,
) -> ParsedFile:
    """Read an opened Upwork table (either layout: the columns are found by name)."""
    code, exponent = Currencies().fixed(currency or "USD")
    dates = DateReader(date_order)
    numbers = Numbers(None)
    convert = _converter(table, dates, numbers, code, exponent)
    items, rejected = collect(table, convert, (dates, numbers), key=_line_of_item)
    results, attached = _link(items, code)
    notes = []
    if attached:
        notes.append(
            f"{attached} fee row(s) attached to the payment they belong to: "
            "their amount shows as that payment's fee"
        )
    return finish(fmt, results, rejected, table.count, (dates, numbers), notes)


def _line_of_item(item: Any) -> int:
    return item[LINE] if type(item) is list else int(item.line)


def _converter(
    table: Table, dates: DateReader, numbers: Numbers, code: str, exponent: int
) -> Callable[[int, list[str]], list[Any] | SkippedRow]:
    ix = table.index
    names = table.names
    i_date, i_type, i_amount = ix["date"], ix["type"], ix["amount"]
    c_date, c_type, c_amount = names["date"], names["type"], names["amount"]
    i_txn = ix.get("txn", -1)
    i_ref = ix.get("ref", -1)
    text_columns = tuple(ix[k] for k in ("summary", "desc", "details") if k in ix)
    i_client = ix.get("client", -1)
    date_cache = dates.cache
    parse_date = dates.parse
    parse_money = numbers.parse
    # type text -> (category, display name, stream hint, hourly?)
    types: dict[str, tuple[int | None, str, str, bool]] = {}
    clients: dict[str, str] = {}
    find_refs = _REF_IN_TEXT.findall
    income, refund, transfer = RowKind.INCOME, RowKind.REFUND, RowKind.TRANSFER

    def convert(line: int, cells: list[str]) -> list[Any] | SkippedRow:
        type_text = cells[i_type]
        known = types.get(type_text)
        if known is None:
            display = norm(type_text)
            lowered = display.lower().replace("-", " ")
            known = types[type_text] = (
                category(type_text),
                display,
                "project" if lowered in PROJECT_TYPES else "",
                lowered == "hourly",
            )
        cat, source_type, hint, hourly = known
        when = cells[i_date]
        occurred_on = date_cache.get(when) or parse_date(when, line, c_date)
        amount = parse_money(cells[i_amount], code, exponent, line, c_amount)
        if cat is None:
            if not source_type:
                raise RowError(c_type, "transaction type is empty")
            return SkippedRow(
                line,
                f"Upwork transaction type {source_type!r} is not one Keel knows; "
                "not imported (check it by hand)",
            )
        ref = cells[i_ref].strip() if i_ref >= 0 else ""
        txn = cells[i_txn].strip() if i_txn >= 0 else ""
        description = ""
        for i in text_columns:
            description = cells[i].strip()
            if description:
                if "  " in description or "\n" in description or "\t" in description:
                    description = norm(description)
                break
        counterparty = ""
        if i_client >= 0:
            client_text = cells[i_client]
            counterparty = clients.get(client_text, "")
            if not counterparty and client_text:
                counterparty = clients[client_text] = norm(client_text)
        raw = () if ref else (occurred_on.isoformat(), txn, source_type, description, str(amount))
        if cat == FEE:
            links = find_refs(description)
            return [True, line, occurred_on, amount, ref, txn, description, counterparty, raw,
                    source_type, False, None, "", None, links]  # fmt: skip
        if cat in (EARNING, ADJUSTMENT):
            kind = income  # a negative one is turned into a refund when the row is built
        elif cat == REFUND:
            kind = refund if amount <= 0 else transfer
        else:
            kind = transfer
        hours = hours_from(description) if hourly else None
        return [False, line, occurred_on, amount, ref, txn, description, counterparty, raw,
                source_type, 0, kind, hint, hours, None]  # fmt: skip

    return convert


def _target_of(
    fee: list[Any],
    by_ref: dict[str, list[Any]],
    fee_by_ref: dict[str, list[Any]],
    by_txn: dict[str, list[list[Any]]] | None,
    depth: int = 0,
) -> list[Any] | None:
    """The payment a fee row belongs to: named by Ref ID (directly or through the fee it is
    a tax on), else the only payment in its Transaction ID group."""
    for ref in fee[LINKS]:
        entry = by_ref.get(ref)
        if entry is not None:
            return entry
        parent = fee_by_ref.get(ref)
        if parent is not None and parent is not fee and depth < 4:
            found = _target_of(parent, by_ref, fee_by_ref, by_txn, depth + 1)
            if found is not None:
                return found
    if by_txn is not None and fee[TXN]:
        group = by_txn.get(fee[TXN])
        if group is not None and len(group) == 1:
            return group[0]
    return None


def _attach(fee: list[Any], entry: list[Any]) -> bool:
    """Add a fee row to its payment's fee, unless that would make an income's fee negative."""
    kept = entry[KEPT] - fee[AMOUNT]
    if entry[KIND] is RowKind.REFUND or kept >= 0:
        entry[KEPT] = kept
        fee[KEPT] = True
        return True
    return False


def _link(items: list[Any], code: str) -> tuple[list[ParsedRow | SkippedRow], int]:
    """Attach fee rows to their payments; build the final rows in line order."""
    fees = [item for item in items if type(item) is list and item[IS_FEE]]
    attached = 0
    if fees:
        by_ref: dict[str, list[Any]] = {}
        fee_by_ref: dict[str, list[Any]] = {}
        for item in items:
            if type(item) is list and item[REF]:
                (fee_by_ref if item[IS_FEE] else by_ref).setdefault(item[REF], item)
        unplaced: list[list[Any]] = []
        for fee in fees:
            entry = _target_of(fee, by_ref, fee_by_ref, None)
            if entry is None:
                unplaced.append(fee)
            elif _attach(fee, entry):
                attached += 1
        if any(fee[TXN] for fee in unplaced):
            # Only now group the payments by Transaction ID: most files never need it.
            by_txn: dict[str, list[list[Any]]] = {}
            for item in items:
                if type(item) is list and not item[IS_FEE] and item[TXN]:
                    by_txn.setdefault(item[TXN], []).append(item)
            for fee in unplaced:
                entry = _target_of(fee, by_ref, fee_by_ref, by_txn)
                if entry is not None and _attach(fee, entry):
                    attached += 1

    out: list[ParsedRow | SkippedRow] = []
    append = out.append
    income = RowKind.INCOME
    for item in items:
        if type(item) is not list:
            append(item)
        elif not item[IS_FEE]:
            (_, line, day, amount, ref, txn, desc, client, raw, stype, kept, kind, hint, hours,
             _) = item  # fmt: skip
            if kind is income and amount > 0:  # the common case, built directly
                append(
                    ParsedRow(
                        line,
                        income,
                        day,
                        code,
                        amount,
                        kept,
                        0,
                        amount - kept,
                        ref,
                        desc,
                        client,
                        hint,
                        hours,
                        raw,
                        txn,
                        stype,
                    )
                )
            else:
                append(
                    make_row(
                        line,
                        kind,
                        day,
                        code,
                        amount,
                        kept,
                        external_id=ref,
                        description=desc,
                        counterparty=client,
                        stream_hint=hint,
                        hours=hours,
                        raw=raw,
                        related_id=txn,
                        source_type=stype,
                    )
                )
        elif not item[KEPT]:
            append(
                make_row(
                    item[LINE],
                    RowKind.FEE,
                    item[DATE],
                    code,
                    item[AMOUNT],
                    0,
                    external_id=item[REF],
                    description=item[DESC],
                    counterparty=item[CLIENT],
                    raw=item[RAW],
                    related_id=item[TXN],
                    source_type=item[TYPE],
                )
            )
    return out, attached
