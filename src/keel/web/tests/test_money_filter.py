from __future__ import annotations

import pytest
from django.template import Context, Template

from keel.money import UnknownCurrency
from keel.web.templatetags.keel_money import money, signed_money

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (123_456, "USD", "$1,234.56"),
        (-123_456, "USD", "-$1,234.56"),
        (5, "EUR", "€0.05"),
        (0, "GBP", "£0.00"),
        (123_456, "JPY", "¥123,456"),
        (123_456, "BHD", f"BHD{NBSP}123.456"),
        (-1_250, "CHF", f"-CHF{NBSP}12.50"),
        (100_000_000_000_001, "USD", "$1,000,000,000,000.01"),
    ],
)
def test_money_formats_minor_units_in_the_currencys_own_decimals(minor, currency, text):
    assert money(minor, currency) == text


def test_signed_money_marks_increases():
    assert signed_money(9_000, "USD") == "+$90.00"
    assert signed_money(-9_000, "USD") == "-$90.00"
    assert signed_money(0, "USD") == "$0.00"


def test_a_missing_amount_renders_empty():
    assert money(None, "USD") == ""
    assert signed_money(None, "USD") == ""


def test_a_float_is_refused_not_rounded():
    with pytest.raises(TypeError, match="floats never touch money"):
        money(12.5, "USD")  # type: ignore[arg-type]


def test_an_unknown_currency_is_refused():
    with pytest.raises(UnknownCurrency):
        money(100, "usd")


def test_filters_in_a_template():
    template = Template(
        "{% load keel_money %}{{ a|money:c }} / {{ a|signed_money:c }} / {{ b|money:'EUR' }}"
    )
    assert template.render(Context({"a": 4_200, "c": "USD", "b": -7})) == (
        "$42.00 / +$42.00 / -€0.07"
    )
