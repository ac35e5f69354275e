"""Money in templates: ``{% load keel_money %}`` then ``{{ minor|money:currency }}``.

Amounts reach templates as integer minor units with their ISO 4217 code, exactly as the
ledger stores them; this is the one place they become text.
"""

from __future__ import annotations

import re

from django import template

from keel.money import format_amount

register = template.Library()

# CLDR asks for a space between a letter symbol and the digits ("CHF 12.00"), but babel
# leaves it out ("CHF12.00"); a no-break space keeps the amount on one line.
_LETTER_THEN_DIGIT = re.compile(r"(?<=[A-Za-z])(?=\d)")


@register.filter
def money(minor: int | None, currency: str) -> str:
    """``12345|money:"USD"`` -> ``$123.45``; ``-5|money:"CHF"`` -> ``-CHF 0.05``.

    A missing amount (None) renders as an empty string, as Django filters do. Anything
    else that is not an int (a float, a string) raises: a wrong amount on a page must be
    a bug report, not a quietly blank cell.
    """
    if minor is None:
        return ""
    return _LETTER_THEN_DIGIT.sub("\u00a0", format_amount(minor, currency, symbol=True))


@register.filter
def signed_money(minor: int | None, currency: str) -> str:
    """Like ``money`` but with an explicit ``+`` on increases, for movements."""
    text = money(minor, currency)
    return "+" + text if minor is not None and minor > 0 else text
