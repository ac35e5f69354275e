"""Signals the income domain sends, so other domains can act on new income without the
income domain knowing them.

``income_booked`` is sent by ``services.book_rows`` once every row of an import is
booked, *inside* the import's transaction: a receiver's writes land with the import or not
at all, and a receiver that raises refuses the whole import. Keyword arguments:

* ``worker``: the ``User`` whose income it is;
* ``source``: the ``Source`` the rows came from;
* ``items``: one ``BookedIncome`` per newly booked income item (kind ``income``) — never
  refunds, fees or transfers, and never a row that was already booked by an earlier
  import, so a re-import sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.dispatch import Signal

__all__ = ["BookedIncome", "income_booked"]


@dataclass(frozen=True, slots=True)
class BookedIncome:
    """One income item as booked: ``net`` is what reached the worker after the source's
    fees (gross + tips - fee), in minor units of the item's own ``currency``. It can be
    zero or negative when fees exceed the payment."""

    item_id: int
    occurred_on: date
    net: int
    currency: str


income_booked = Signal()
