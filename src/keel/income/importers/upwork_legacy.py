"""Upwork transaction history in its older layout (before 2023).

Header::

    Date, Ref ID, Type, Description, Agency, Freelancer, Team, Account Name, PO, Amount,
    Amount in local currency, Currency, Balance

``Amount`` is the signed USD amount; ``Amount in local currency`` and ``Currency`` show the
same money in the worker's local currency and are not booked; ``Balance`` is the running
balance.  Types and fee rows are read exactly as in ``upwork`` (the service fee names the
payment's ``Ref ID`` in its description: ``Service Fee for Hourly - Ref ID 701123340``).
"""

from __future__ import annotations

from typing import BinaryIO, Final

from .base import ParsedFile, Progress
from .common import Column, open_table
from .upwork import read

FORMAT: Final = "upwork-legacy"
LABEL: Final = "Upwork transaction history (legacy layout)"

COLUMNS: Final = (
    Column("date", ("Date",)),
    Column("ref", ("Ref ID", "Reference ID")),
    Column("type", ("Type",)),
    Column("desc", ("Description",), required=False),
    Column("amount", ("Amount", "Amount $", "Amount USD")),
    Column("client", ("Team", "Client", "Client team", "Client name"), required=False),
)


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
