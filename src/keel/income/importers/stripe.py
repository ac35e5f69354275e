"""Stripe balance history (Dashboard > Balances > All activity / Transactions > Export).

Header (default columns; Stripe adds more, such as ``Customer Facing Amount``,
``Transfer``, ``Transfer Date (UTC)`` or ``<key> (metadata)``, which are ignored)::

    id, Type, Source, Amount, Fee, Net, Currency, Created (UTC), Available On (UTC),
    Description

``Amount``, ``Fee`` and ``Net`` are decimal amounts in major units (``120.00``; ``1200``
for a zero-decimal currency such as JPY), signed from the account's side (``Net = Amount -
Fee``); ``Currency`` is lower case (``usd``); ``Created (UTC)`` is ``2026-09-01 14:03``.
Every row has already moved money into or out of the Stripe balance (a ``pending`` balance
transaction is earned money that is not yet available for payout), so none is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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

FORMAT: Final = "stripe"
LABEL: Final = "Stripe balance history"

COLUMNS: Final = (
    Column("id", ("id", "Transaction ID", "Balance Transaction ID")),
    Column("type", ("Type", "Transaction Type")),
    Column("source", ("Source", "Source ID"), required=False),
    Column("amount", ("Amount", "Gross")),
    Column("fee", ("Fee", "Fees"), required=False),
    Column("net", ("Net",), required=False),
    Column("currency", ("Currency",)),
    Column("created", ("Created (UTC)", "Created date (UTC)", "Created")),
    Column("description", ("Description",), required=False),
    Column(
        "customer",
        ("Customer Name", "Customer Email", "Client name", "Customer Description"),
        required=False,
    ),
)

# How each kind of balance movement reads from the worker's side.  "income"/"refund" are
# turned round by the sign (a positive dispute reversal is money won back: income);
# "connect" is a Stripe Connect transfer: money a platform sends you is income, money you
# send to another account leaves the balance; "connect_back" takes such money back.
INCOME, REFUND, FEE, MOVE, CONNECT, CONNECT_BACK = (
    "income",
    "refund",
    "fee",
    "move",
    "connect",
    "connect_back",
)

TYPES: Final[Mapping[str, str]] = {
    "charge": INCOME,
    "payment": INCOME,
    "application_fee": INCOME,
    "refund_failure": INCOME,
    "payment_failure_refund": INCOME,
    "adjustment": INCOME,  # disputes and their reversals: the sign decides
    "refund": REFUND,
    "payment_refund": REFUND,
    "payment_reversal": REFUND,
    "application_fee_refund": REFUND,
    "stripe_fee": FEE,
    "tax_fee": FEE,
    "stripe_fx_fee": FEE,
    "contribution": FEE,
    "climate_order_purchase": FEE,
    "climate_order_refund": FEE,
    "payout": MOVE,
    "payout_cancel": MOVE,
    "payout_failure": MOVE,
    "payout_minimum_balance_hold": MOVE,
    "payout_minimum_balance_release": MOVE,
    "topup": MOVE,
    "topup_reversal": MOVE,
    "reserve_transaction": MOVE,
    "reserved_funds": MOVE,
    "payment_network_reserve_hold": MOVE,
    "payment_network_reserve_release": MOVE,
    "advance": MOVE,
    "advance_funding": MOVE,
    "anticipation_repayment": MOVE,
    "connect_collection_transfer": MOVE,
    "obligation_outbound": MOVE,
    "obligation_reversal_inbound": MOVE,
    "issuing_authorization_hold": MOVE,
    "issuing_authorization_release": MOVE,
    "issuing_dispute": MOVE,
    "issuing_transaction": MOVE,
    "payment_unreconciled": MOVE,
    "transfer": CONNECT,
    "transfer_cancel": CONNECT_BACK,
    "transfer_failure": CONNECT_BACK,
    "transfer_refund": CONNECT_BACK,
}


def kind_for(what: str, amount: int) -> RowKind:
    """The row kind for a Stripe movement category (see ``TYPES``) and its signed amount."""
    if what == INCOME:
        return RowKind.INCOME
    if what == REFUND:
        return RowKind.REFUND
    if what == FEE:
        return RowKind.FEE
    if what == CONNECT:
        return RowKind.INCOME if amount > 0 else RowKind.TRANSFER
    if what == CONNECT_BACK:
        return RowKind.REFUND if amount < 0 else RowKind.TRANSFER
    return RowKind.TRANSFER


def stream_hint(description: str) -> str:
    return "recurring" if "subscription" in description.lower() else ""


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
        convert = converter(table, dates, numbers, TYPES, "Stripe type")
        items, rejected = collect(table, convert, (dates, numbers))
        return finish(FORMAT, items, rejected, table.count, (dates, numbers))


def converter(
    table: Table,
    dates: DateReader,
    numbers: Numbers,
    types: Mapping[str, str],
    what: str,
) -> Callable[[int, list[str]], ParsedRow | SkippedRow]:
    """Shared by the balance history and the itemized report (same figures, other names)."""
    ix, names = table.index, table.names
    i_id, i_type, i_amount, i_currency = ix["id"], ix["type"], ix["amount"], ix["currency"]
    c_id, c_type, c_amount, c_currency = (
        names["id"],
        names["type"],
        names["amount"],
        names["currency"],
    )
    date_keys = [k for k in ("created_local", "created") if k in ix]
    i_fee, c_fee = ix.get("fee", -1), names.get("fee", "")
    i_net, c_net = ix.get("net", -1), names.get("net", "")
    i_source = ix.get("source", -1)
    i_desc = ix.get("description", -1)
    i_customer = ix.get("customer", -1)
    currencies = Currencies()
    parse_date = dates.parse
    required = numbers.required
    optional = numbers.optional
    lowered: dict[str, str] = {}

    def convert(line: int, cells: list[str]) -> ParsedRow | SkippedRow:
        external_id = cells[i_id].strip()
        if not external_id:
            raise RowError(c_id, "the balance transaction id is empty")
        type_text = cells[i_type]
        key = lowered.get(type_text)
        if key is None:
            key = lowered[type_text] = type_text.strip().lower()
        category = types.get(key)
        when = ""
        column = ""
        for k in date_keys:
            when = cells[ix[k]]
            column = names[k]
            if when.strip():
                break
        occurred_on = parse_date(when, line, column)
        code, exponent = currencies.parse(cells[i_currency], c_currency)
        amount = required(cells[i_amount], code, exponent, line, c_amount)
        kept = optional(cells[i_fee], code, exponent, line, c_fee) if i_fee >= 0 else 0
        if i_net >= 0 and cells[i_net].strip():
            net = numbers.parse(cells[i_net], code, exponent, line, c_net)
            check_net(amount, kept, net, c_net, cells[i_net])
        if category is None:
            if not key:
                raise RowError(c_type, f"{what} is empty")
            return SkippedRow(
                line,
                f"{what} {norm(type_text)!r} is not one Keel knows; not imported "
                "(check it by hand)",
            )
        description = norm(cells[i_desc]) if i_desc >= 0 else ""
        return make_row(
            line,
            kind_for(category, amount),
            occurred_on,
            code,
            amount,
            kept,
            external_id=external_id,
            description=description,
            counterparty=norm(cells[i_customer]) if i_customer >= 0 else "",
            stream_hint=stream_hint(description),
            related_id=cells[i_source].strip() if i_source >= 0 else "",
            source_type=key,
        )

    return convert
