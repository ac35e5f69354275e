"""CSV cells a spreadsheet shows but never runs (OWASP "CSV injection").

A spreadsheet that opens a CSV runs a cell beginning with ``=``, ``+``, ``-`` or ``@`` as a
formula (``=HYPERLINK(...)`` can send the sheet's data anywhere), and a leading tab or
carriage return hides such a start.  Every CSV Keel writes passes its *text* columns
(memos, descriptions, references someone else typed) through ``neutralise_cell``, which
prefixes such a cell with a single quote, so the spreadsheet shows the text as it was.

Amount columns are numbers and are written as they are: a negative amount such as
``-1250`` must stay a number the sheet can add up.  Which columns are text is decided by
each writer from its column's type, never by looking at a cell's content.
"""

from __future__ import annotations

from typing import Final

__all__ = ["FORMULA_STARTS", "neutralise_cell"]

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(text: str) -> str:
    """``text`` for a text column: with a leading ``'`` when a spreadsheet would run it."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text
