"""Stripe "Balance change from activity" itemized report.

Reports > Balance summary > Balance change from activity > Download > Itemized (report
type ``balance_change_from_activity.itemized.1``...``.3``).  Header (default columns; the
report lets you add or drop columns, and Keel reads them by name)::

    balance_transaction_id, created_utc, created, available_on_utc, available_on,
    currency, gross, fee, net, reporting_category, source_id, description,
    customer_facing_amount, customer_facing_currency, ..., customer_id, customer_email,
    customer_name, customer_description, ..., charge_id, payment_intent_id, ...

``gross``, ``fee`` and ``net`` are decimal amounts in major units with ``net = gross -
fee`` (Stripe can write them with a decimal comma when the report is run with
``decimal_separator=","``: Keel settles that from the file); ``currency`` is lower case;
``created_utc`` is ``2026-09-14 10:02:11``.  When the report has the ``created`` column
(the same moment in the time zone the report was run in) Keel books that calendar date,
else the UTC one.  ``reporting_category`` decides the kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import BinaryIO, Final

from .base import ImportFormatError, ParsedFile, Progress
from .common import Column, DateReader, Numbers, collect, finish, open_table
from .stripe import CONNECT, CONNECT_BACK, FEE, INCOME, MOVE, REFUND, converter

FORMAT: Final = "stripe-itemized"
LABEL: Final = "Stripe itemized balance change report"

COLUMNS: Final = (
    Column("id", ("balance_transaction_id",)),
    Column("created_local", ("created",), required=False),
    Column("created", ("created_utc",), required=False),
    Column("currency", ("currency",)),
    Column("amount", ("gross",)),
    Column("fee", ("fee",), required=False),
    Column("net", ("net",), required=False),
    Column("type", ("reporting_category",)),
    Column("source", ("source_id",), required=False),
    Column("description", ("description",), required=False),
    Column(
        "customer",
        ("customer_name", "customer_email", "customer_description"),
        required=False,
    ),
)

# https://docs.stripe.com/reports/reporting-categories, read from the worker's side.
CATEGORIES: Final[Mapping[str, str]] = {
    "charge": INCOME,
    "refund_failure": INCOME,
    "dispute_reversal": INCOME,
    "platform_earning": INCOME,
    "other_adjustment": INCOME,  # the sign decides: a negative adjustment is a refund
    "refund": REFUND,
    "dispute": REFUND,
    "partial_capture_reversal": REFUND,
    "charge_failure": REFUND,
    "platform_earning_refund": REFUND,
    "fee": FEE,
    "tax": FEE,
    "network_cost": FEE,
    "contribution": FEE,
    "climate_order_purchase": FEE,
    "climate_order_refund": FEE,
    "payout": MOVE,
    "payout_reversal": MOVE,
    "topup": MOVE,
    "topup_reversal": MOVE,
    "connect_reserved_funds": MOVE,
    "risk_reserved_funds": MOVE,
    "advance": MOVE,
    "advance_funding": MOVE,
    "anticipation_repayment": MOVE,
    "financing_paydown": MOVE,
    "financing_payout": MOVE,
    "obligation": MOVE,
    "unreconciled_customer_funds": MOVE,
    "payment_unreconciled": MOVE,
    "issuing_authorization_hold": MOVE,
    "issuing_authorization_release": MOVE,
    "issuing_dispute": MOVE,
    "issuing_transaction": MOVE,
    "connect_collection_transfer": MOVE,
    "transfer": CONNECT,
    "transfer_reversal": CONNECT_BACK,
}


def parse(
    stream: BinaryIO,
    *,
    date_order: str | None = None,
    progress: Progress | None = None,
    **_: object,
) -> ParsedFile:
    with open_table(stream, COLUMNS, label=LABEL, progress=progress) as table:
        if not (table.has("created") or table.has("created_local")):
            raise ImportFormatError(
                f"this is not a {LABEL} file: missing required column 'created_utc'",
                column="created_utc",
                line=table.header_line,
            )
        dates = DateReader(date_order)
        numbers = Numbers(None)
        convert = converter(table, dates, numbers, CATEGORIES, "Stripe reporting category")
        items, rejected = collect(table, convert, (dates, numbers))
        return finish(FORMAT, items, rejected, table.count, (dates, numbers))
