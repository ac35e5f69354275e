"""Unit tests for keel.money: exact, hand-computed examples plus property tests."""

from __future__ import annotations

import dataclasses
import itertools
import pickle
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.money import (
    CURRENCIES,
    AmountError,
    Currency,
    CurrencyMismatch,
    Money,
    MoneyError,
    UnknownCurrency,
    allocate,
    allocate_bps,
    apply_rate,
    exponent,
    format_amount,
    from_minor,
    get_currency,
    is_currency,
    parse_amount,
    percent_of_bps,
    sum_money,
    to_minor,
)

NNBSP = "\u202f"  # narrow no-break space: CLDR's fr_FR group separator
NBSP = "\u00a0"
MINUS = "\u2212"
RIGHT_QUOTE = "\u2019"

# --------------------------------------------------------------------------- currencies


@pytest.mark.parametrize(
    ("code", "digits"),
    [("JPY", 0), ("USD", 2), ("EUR", 2), ("BHD", 3), ("CLF", 4), ("UYW", 4), ("HUF", 2)],
)
def test_exponents(code, digits):
    assert exponent(code) == digits
    assert get_currency(code).exponent == digits


def test_get_currency_returns_record():
    assert get_currency("USD") == Currency(code="USD", exponent=2, name="US Dollar")
    assert is_currency("EUR")


def test_table_exponent_classes_match_iso_4217():
    by_exponent: dict[int, set[str]] = {}
    for code, cur in CURRENCIES.items():
        assert cur.code == code
        assert len(code) == 3
        assert code.isalpha()
        assert code.isupper()
        by_exponent.setdefault(cur.exponent, set()).add(code)
    assert by_exponent[0] == {
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
        "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
    }  # fmt: skip
    assert by_exponent[3] == {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}
    assert by_exponent[4] == {"CLF", "UYW"}
    assert set(by_exponent) == {0, 2, 3, 4}
    assert len(CURRENCIES) == 167


@pytest.mark.parametrize("code", ["XAU", "XAG", "XPT", "XPD", "XTS", "XXX", "XDR", "HRK", "SLL"])
def test_codes_without_minor_units_or_withdrawn_are_excluded(code):
    assert not is_currency(code)
    with pytest.raises(UnknownCurrency):
        get_currency(code)


def test_unknown_currency_message_and_field():
    with pytest.raises(UnknownCurrency, match=r"^unknown currency 'XYZ'$") as exc:
        get_currency("XYZ")
    assert exc.value.field == "code"
    assert isinstance(exc.value, MoneyError)
    assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize("code", ["usd", "Usd", " USD", "USD "])
def test_lowercase_or_padded_code_is_refused_with_hint(code):
    assert not is_currency(code)
    with pytest.raises(UnknownCurrency, match=r"did you mean 'USD'"):
        get_currency(code)


def test_is_currency_never_raises():
    assert is_currency(None) is False  # type: ignore[arg-type]
    assert is_currency("") is False


def test_money_error_keeps_field_through_pickle():
    err = AmountError("amount 'x' is bad", field="text")
    clone = pickle.loads(pickle.dumps(err))  # noqa: S301 - round-tripping our own object
    assert type(clone) is AmountError
    assert str(clone) == "amount 'x' is bad"
    assert clone.field == "text"


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "currency", "kwargs", "expected"),
    [
        ("1,234.56", "USD", {}, 123456),
        ("1234.56", "USD", {}, 123456),
        ("1234.5", "USD", {}, 123450),
        (".5", "USD", {}, 50),
        ("5.", "USD", {}, 500),
        ("0", "USD", {}, 0),
        ("-0.00", "USD", {}, 0),
        ("  12.34\t\n", "USD", {}, 1234),
        ("1,234,567.89", "USD", {}, 123456789),
        ("007.10", "USD", {}, 710),
        ("1,234", "JPY", {}, 1234),
        ("1.234", "BHD", {}, 1234),
        ("12.3456", "CLF", {}, 123456),
        # de_DE
        ("1.234,56", "EUR", {"locale": "de_DE"}, 123456),
        ("1234,5", "EUR", {"locale": "de_DE"}, 123450),
        ("1.234.567", "EUR", {"locale": "de_DE"}, 123456700),
        # fr_FR: every spelling of a space is a group separator
        (f"1{NNBSP}234,56", "EUR", {"locale": "fr_FR"}, 123456),
        (f"1{NBSP}234,56", "EUR", {"locale": "fr_FR"}, 123456),
        ("1 234,56", "EUR", {"locale": "fr_FR"}, 123456),
        (f"1{NNBSP}234{NNBSP}567,89", "EUR", {"locale": "fr_FR"}, 123456789),
        # de_CH: both apostrophes
        ("1'234.56", "CHF", {"locale": "de_CH"}, 123456),
        (f"1{RIGHT_QUOTE}234.56", "CHF", {"locale": "de_CH"}, 123456),
        # BCP 47 spelling of the locale
        ("1.234,56", "EUR", {"locale": "de-DE"}, 123456),
    ],
)
def test_parse_amount(text, currency, kwargs, expected):
    assert parse_amount(text, currency, **kwargs) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-1.50", -150),
        (f"{MINUS}1.50", -150),
        ("(1.50)", -150),
        ("1.50-", -150),
        (f"1.50{MINUS}", -150),
        ("- 1.50", -150),
        ("1.50 -", -150),
        ("+1.50", 150),
        ("+ 1.50", 150),
        ("-$1.50", -150),
        ("$-1.50", -150),
        ("($1.50)", -150),
        ("$(1.50)", -150),
        ("(USD 1.50)", -150),
        ("-1,234.56 USD", -123456),
    ],
)
def test_parse_negative_and_signed_forms(text, expected):
    assert parse_amount(text, "USD") == expected


@pytest.mark.parametrize(
    ("text", "currency", "locale", "expected"),
    [
        ("$1.50", "USD", "en_US", 150),
        ("$ 1.50", "USD", "en_US", 150),
        ("USD 1.50", "USD", "en_US", 150),
        ("USD1.50", "USD", "en_US", 150),
        ("1.50 USD", "USD", "en_US", 150),
        ("1.50 EUR", "EUR", "en_US", 150),
        ("€1.50", "EUR", "en_US", 150),
        ("€1,50", "EUR", "de_DE", 150),
        (f"1.234,56{NBSP}€", "EUR", "de_DE", 123456),
        (f"-1{NNBSP}234,56{NBSP}€", "EUR", "fr_FR", -123456),
        ("¥1,234", "JPY", "en_US", 1234),
        ("CHF-1'234.56", "CHF", "de_CH", -123456),
        ("1.234,56 kr.", "DKK", "da_DK", 123456),  # symbol ends with the group separator
        ("Cg.5.00", "XCG", "en_US", 500),  # symbol ends with the decimal separator
    ],
)
def test_parse_currency_markers(text, currency, locale, expected):
    assert parse_amount(text, currency, locale=locale) == expected


def test_parse_explicit_separators_override_locale():
    assert parse_amount("1.234,56", "EUR", decimal_separator=",", thousands_separator=".") == 123456
    assert parse_amount("1,234.56", "EUR", locale="de_DE", decimal_separator=".",
                        thousands_separator=",") == 123456  # fmt: skip
    assert parse_amount(f"1{NNBSP}234,56", "EUR", decimal_separator=",",
                        thousands_separator=" ") == 123456  # fmt: skip
    assert parse_amount("1'234.56", "CHF", thousands_separator="'") == 123456


def test_parse_decimal_comma_alone_on_default_locale_accepts_no_grouping():
    # en_US groups with ",", which is now the decimal mark: grouping is refused, not guessed.
    assert parse_amount("1234,56", "USD", decimal_separator=",") == 123456
    with pytest.raises(AmountError):
        parse_amount("1,234.56", "USD", decimal_separator=",")


def test_parse_empty_thousands_separator_means_no_grouping():
    assert parse_amount("1234.56", "USD", thousands_separator="") == 123456
    with pytest.raises(AmountError):
        parse_amount("1,234.56", "USD", thousands_separator="")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"thousands_separator": "."}, "thousands_separator"),  # collides with en_US "."
        ({"decimal_separator": ",", "thousands_separator": ","}, "thousands_separator"),
        ({"decimal_separator": ""}, "decimal_separator"),
        ({"decimal_separator": "1"}, "decimal_separator"),
        ({"decimal_separator": "-"}, "decimal_separator"),
        ({"decimal_separator": ", "}, "decimal_separator"),
        ({"decimal_separator": " "}, "decimal_separator"),
        ({"locale": "xx_YY"}, "locale"),
        ({"locale": "not a locale"}, "locale"),
    ],
)
def test_parse_bad_configuration(kwargs, field):
    with pytest.raises(MoneyError) as exc:
        parse_amount("1", "USD", **kwargs)
    assert exc.value.field == field


@pytest.mark.parametrize(
    ("text", "currency", "locale", "message"),
    [
        ("1.005", "USD", None, r"^amount '1.005' has 3 decimals; USD allows 2$"),
        ("5.5", "JPY", None, r"^amount '5.5' has 1 decimal; JPY allows 0$"),
        ("1.2345", "BHD", None, r"has 4 decimals; BHD allows 3"),
        ("1.500", "USD", None, r"has 3 decimals; USD allows 2"),  # digits count, not value
        ("1,005", "EUR", "de_DE", r"^amount '1,005' has 3 decimals; EUR allows 2$"),
        ("", "USD", None, r"empty"),
        ("   ", "USD", None, r"empty"),
        ("abc", "USD", None, r"unexpected 'abc'"),
        ("1.2.3", "USD", None, r"more than one decimal separator"),
        ("1,2,3.4", "USD", None, r"misplaced digit grouping"),
        ("12,34.5", "USD", None, r"misplaced digit grouping"),
        ("1234,567.00", "USD", None, r"misplaced digit grouping"),
        (",123.00", "USD", None, r"^amount ',123.00' cannot start with ','$"),
        ("1.50", "USD", "de_DE", r"misplaced digit grouping"),  # wrong locale is caught
        ("1 234.56", "USD", None, r"not a valid number"),
        ("1,234.5,6", "USD", None, r"not a valid number"),
        (f"1 234{NNBSP}567,00", "EUR", "fr_FR", r"mixes digit-group separators"),
        ("NaN", "USD", None, r"unexpected 'NaN'"),
        ("Infinity", "USD", None, r"unexpected 'Infinity'"),
        ("-Infinity", "USD", None, r"unexpected 'Infinity'"),
        ("1e5", "USD", None, r"not a valid number"),
        ("1E5", "USD", None, r"not a valid number"),
        ("0x10", "USD", None, r"not a valid number"),
        ("1_000", "USD", None, r"not a valid number"),
        ("\uff11\uff12", "USD", None, r"not a valid number"),  # full-width digits
        ("\u0663", "USD", None, r"not a valid number"),  # Arabic-Indic three
        ("-", "USD", None, r"no digits"),
        (".", "USD", None, r"no digits"),
        ("()", "USD", None, r"no digits"),
        ("$", "USD", None, r"no digits"),
        ("--1", "USD", None, r"more than one sign"),
        ("+-1", "USD", None, r"more than one sign"),
        ("-1-", "USD", None, r"more than one sign"),
        ("1+", "USD", None, r"cannot end with '\+'"),
        ("(-1)", "USD", None, r"both parentheses and a sign"),
        ("(1", "USD", None, r"unbalanced parentheses"),
        ("1)", "USD", None, r"unbalanced parentheses"),
        ("((1))", "USD", None, r"cannot start with '\('"),
        ("$$1", "USD", None, r"names the currency twice"),
        ("USD 1 $", "USD", None, r"names the currency twice"),
        ("EUR 5", "USD", None, r"^amount 'EUR 5' is in EUR, but USD was expected$"),
        ("5 EUR", "USD", None, r"is in EUR, but USD was expected"),
        ("€5", "USD", None, r"unexpected '€'"),
        ("$5", "CAD", None, r"unexpected '\$'"),
        ("usd 5", "USD", None, r"upper case"),
        ("1" * 5000, "USD", None, r"too long"),
    ],
)
def test_parse_rejects(text, currency, locale, message):
    with pytest.raises(AmountError, match=message) as exc:
        parse_amount(text, currency, locale=locale)
    assert exc.value.field == "text"


def test_parse_rejects_unknown_currency_and_non_str():
    with pytest.raises(UnknownCurrency) as exc:
        parse_amount("1", "usd")
    assert exc.value.field == "currency"
    with pytest.raises(TypeError, match="text"):
        parse_amount(1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="text"):
        parse_amount(150, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("currency", "locale"), [("ILS", "he_IL"), ("LBP", "ar_LB"), ("SAR", "ar_SA")]
)
def test_parse_strips_bidi_marks_of_rtl_locales(currency, locale):
    text = format_amount(-123456, currency, locale=locale, symbol=True)
    assert "\u200f" in text or "\u200e" in text or "\u061c" in text
    assert parse_amount(text, currency, locale=locale) == -123456


# --------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("minor", "currency", "kwargs", "expected"),
    [
        (-123456, "USD", {}, "-1,234.56"),
        (-123456, "USD", {"locale": "de_DE"}, "-1.234,56"),
        (123456, "EUR", {"locale": "fr_FR"}, f"1{NNBSP}234,56"),
        (123456, "CHF", {"locale": "de_CH"}, "1'234.56"),
        (1234, "JPY", {}, "1,234"),
        (1234, "BHD", {}, "1.234"),
        (1, "USD", {}, "0.01"),
        (-1, "USD", {}, "-0.01"),
        (0, "USD", {}, "0.00"),
        (0, "JPY", {}, "0"),
        (1, "CLF", {}, "0.0001"),
        (123456789, "USD", {}, "1,234,567.89"),
        (100000, "USD", {}, "1,000.00"),
        (-123456, "USD", {"grouping": False}, "-1234.56"),
        (123456789, "EUR", {"locale": "de_DE", "grouping": False}, "1234567,89"),
        (123456789, "INR", {"locale": "en_IN"}, "1,234,567.89"),  # threes, not lakh
    ],
)
def test_format_amount(minor, currency, kwargs, expected):
    assert format_amount(minor, currency, **kwargs) == expected


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "expected"),
    [
        (123456, "USD", "en_US", "$1,234.56"),
        (-123456, "USD", "en_US", "-$1,234.56"),
        (123456, "EUR", "de_DE", f"1.234,56{NBSP}€"),
        (123456, "EUR", "fr_FR", f"1{NNBSP}234,56{NBSP}€"),
        (1234, "JPY", "en_US", "¥1,234"),
        (123456, "CHF", "de_CH", f"CHF{NBSP}1'234.56"),
        (5, "USD", "en_US", "$0.05"),
        # CLDR gives IQD 0 digits and HUF 0 digits; ISO says 3 and 2 - nothing is rounded.
        (1234567, "IQD", "en_US", "IQD1,234.567"),
        (1234599, "HUF", "en_US", "HUF12,345.99"),
        (12345678, "CLF", "en_US", "CLF1,234.5678"),
        (1234, "BHD", "en_US", "BHD1.234"),
    ],
)
def test_format_amount_with_symbol_is_exact(minor, currency, locale, expected):
    assert format_amount(minor, currency, locale=locale, symbol=True) == expected


def test_format_symbol_groups_apostrophe_locales_correctly():
    # babel 2.19's own grouping loses all but the last apostrophe here
    # ("10000000'000.07") because it strips pattern quotes after inserting digits.
    text = format_amount(1000000000007, "CHF", locale="de_CH", symbol=True)
    assert text == f"CHF{NBSP}10'000'000'000.07"
    assert format_amount(-1000000000, "JPY", locale="de_CH", symbol=True) == "¥-1'000'000'000"
    assert parse_amount(text, "CHF", locale="de_CH") == 1000000000007


def test_format_symbol_without_grouping():
    assert format_amount(123456, "USD", symbol=True, grouping=False) == "$1234.56"


def test_format_huge_amounts_are_not_rounded_by_decimal_context():
    minor = 10**40 + 1  # 41 significant digits, beyond Decimal's default precision of 28
    plain = format_amount(minor, "USD")
    assert plain == "100,000,000,000,000,000,000,000,000,000,000,000,000.01"
    assert format_amount(minor, "USD", symbol=True) == "$" + plain
    assert parse_amount(plain, "USD") == minor


@pytest.mark.parametrize("minor", [0, 1, -1, 5, 99, 100, 123456, -123456, 10**12 + 7, -(10**9)])
@pytest.mark.parametrize("currency", ["USD", "JPY", "BHD", "CLF", "EUR"])
@pytest.mark.parametrize("locale", ["en_US", "de_DE", "fr_FR", "de_CH", "sv_SE", "en_IN"])
@pytest.mark.parametrize("symbol", [False, True])
def test_round_trip_examples(minor, currency, locale, symbol):
    text = format_amount(minor, currency, locale=locale, symbol=symbol)
    assert parse_amount(text, currency, locale=locale) == minor


@settings(deadline=None)
@given(
    minor=st.integers(min_value=-(10**18), max_value=10**18),
    currency=st.sampled_from(sorted(CURRENCIES)),
    locale=st.sampled_from(["en_US", "de_DE", "fr_FR"]),
    grouping=st.booleans(),
    symbol=st.booleans(),
)
def test_round_trip_property(minor, currency, locale, grouping, symbol):
    text = format_amount(minor, currency, locale=locale, grouping=grouping, symbol=symbol)
    assert parse_amount(text, currency, locale=locale) == minor
    money = Money(minor, currency)
    assert Money.parse(money.format(locale=locale, symbol=symbol), currency, locale=locale) == money


def test_format_rejects_non_int_and_bad_locale():
    with pytest.raises(TypeError, match="minor"):
        format_amount(12.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="minor"):
        format_amount(Decimal("12.5"), "USD")  # type: ignore[arg-type]
    with pytest.raises(MoneyError) as exc:
        format_amount(1, "USD", locale="zz_ZZ")
    assert exc.value.field == "locale"


# --------------------------------------------------------------------------- to_minor / from_minor


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (Decimal("12.34"), "USD", 1234),
        (Decimal("-0.01"), "USD", -1),
        (Decimal("1.500"), "USD", 150),  # trailing zeros are exact
        (Decimal("1E+2"), "USD", 10000),
        (Decimal("0.000"), "JPY", 0),
        (Decimal("1234"), "JPY", 1234),
        (Decimal("1.2345"), "CLF", 12345),
        (5, "USD", 500),
        (5, "JPY", 5),
        (-3, "BHD", -3000),
        ("12.34", "USD", 1234),
        ("-12.3", "USD", -1230),
        (" 7 ", "USD", 700),
        (".5", "USD", 50),
        (Decimal("123456789012345678901234567890.12"), "USD", 12345678901234567890123456789012),
    ],
)
def test_to_minor(value, currency, expected):
    assert to_minor(value, currency) == expected


@pytest.mark.parametrize(
    ("value", "currency", "message"),
    [
        (Decimal("1.005"), "USD", r"^amount '1.005' has 3 decimals; USD allows 2$"),
        (Decimal("0.5"), "JPY", r"has 1 decimal; JPY allows 0"),
        (Decimal("1.0050"), "USD", r"has 3 decimals"),
        (Decimal("NaN"), "USD", r"not a finite number"),
        (Decimal("-Infinity"), "USD", r"not a finite number"),
        ("1e2", "USD", r"not a plain number"),
        ("1,000.00", "USD", r"not a plain number"),
        ("", "USD", r"not a plain number"),
        ("12.345", "USD", r"has 3 decimals"),
    ],
)
def test_to_minor_never_rounds(value, currency, message):
    with pytest.raises(AmountError, match=message) as exc:
        to_minor(value, currency)
    assert exc.value.field == "value"


@pytest.mark.parametrize("value", [1.5, True, None, [1]])
def test_to_minor_type_errors(value):
    with pytest.raises(TypeError, match="value"):
        to_minor(value, "USD")


@pytest.mark.parametrize(
    ("minor", "currency", "expected"),
    [
        (1234, "USD", "12.34"),
        (-5, "USD", "-0.05"),
        (0, "USD", "0.00"),
        (5, "JPY", "5"),
        (1, "CLF", "0.0001"),
        (1234, "BHD", "1.234"),
        (10**40 + 1, "USD", "1" + "0" * 37 + "0.01"),
    ],
)
def test_from_minor(minor, currency, expected):
    value = from_minor(minor, currency)
    assert str(value) == expected
    assert to_minor(value, currency) == minor


@settings(deadline=None)
@given(minor=st.integers(), currency=st.sampled_from(sorted(CURRENCIES)))
def test_to_minor_inverts_from_minor(minor, currency):
    assert to_minor(from_minor(minor, currency), currency) == minor
    assert to_minor(str(from_minor(minor, currency)), currency) == minor


# --------------------------------------------------------------------------- allocation


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        (100, [1, 1, 1], [34, 33, 33]),
        (-100, [1, 1, 1], [-34, -33, -33]),
        (1000, [3, 3, 4], [300, 300, 400]),
        # 5/6=0.833, 10/6=1.667, 15/6=2.5 -> floors 0,1,2 (sum 3); the 2 leftover
        # units go to the largest remainders .833 (idx 0) and .667 (idx 1).
        (5, [1, 2, 3], [1, 2, 2]),
        (-5, [1, 2, 3], [-1, -2, -2]),
        (7, [1, 1], [4, 3]),  # tie .5/.5 -> lower index
        (2, [1, 1, 1], [1, 1, 0]),
        (0, [1, 2], [0, 0]),
        (10, [0, 1, 0, 1], [0, 5, 0, 5]),
        (1, [0, 1], [0, 1]),
        (3, [0, 0, 5], [0, 0, 3]),
        (1, [1], [1]),
        # 100*1/3=33.33, 100*2/3=66.67 -> 33, 66, leftover 1 to idx 1.
        (100, [1, 2], [33, 67]),
    ],
)
def test_allocate_worked_examples(total, weights, expected):
    assert allocate(total, weights) == expected


def test_allocate_broodfonds_gift_across_19_givers():
    # A EUR 1,500.00 gift (150000 cents) is funded by 19 givers in proportion to
    # their monthly tier in cents: 5 x 750, 8 x 1000, 4 x 1500, 2 x 2000, listed
    # in sign-up order.  Sum of weights = 3750 + 8000 + 6000 + 4000 = 21750.
    weights = [750, 1000, 1500, 2000, 750, 1000, 1000, 1500, 750, 1000,
               2000, 1500, 1000, 750, 1000, 1500, 1000, 750, 1000]  # fmt: skip
    # Exact shares (150000 * w / 21750) and floors:
    #   750: 112500000 / 21750 =  5172 rem  9000 (.4138)
    #  1000: 150000000 / 21750 =  6896 rem 12000 (.5517)
    #  1500: 225000000 / 21750 = 10344 rem 18000 (.8276)
    #  2000: 300000000 / 21750 = 13793 rem  2250 (.1034)
    # Floors: 5*5172 + 8*6896 + 4*10344 + 2*13793 = 149990, so 10 cents are left.
    # The four 1500-tier givers (largest remainder) get 1 each; the remaining 6
    # go to the first six 1000-tier givers by position (idx 1, 5, 6, 9, 12, 14);
    # idx 16 and 18 keep 6896.
    expected = [5172, 6897, 10345, 13793, 5172, 6897, 6897, 10345, 5172, 6897,
                13793, 10345, 6897, 5172, 6897, 10345, 6896, 5172, 6896]  # fmt: skip
    parts = allocate(150000, weights)
    assert parts == expected
    assert sum(parts) == 150000
    gift = Money(150000, "EUR")
    assert [m.amount for m in gift.split(weights)] == expected


@pytest.mark.parametrize(
    ("total", "bps", "expected"),
    [
        # 10001*3333/10000 = 3333.3333 (x2), 10001*3334/10000 = 3334.3334; floors sum
        # to 10000, the leftover unit goes to the larger remainder .3334 (idx 2).
        (10001, [3333, 3333, 3334], [3333, 3333, 3335]),
        (100, [3333, 3333, 3334], [33, 33, 34]),
        (-10001, [3333, 3333, 3334], [-3333, -3333, -3335]),
        (150000, [10000], [150000]),
        (999, [5000, 5000], [500, 499]),
        (1, [0, 10000], [0, 1]),
    ],
)
def test_allocate_bps(total, bps, expected):
    assert allocate_bps(total, bps) == expected


@pytest.mark.parametrize(
    ("weights", "error", "match"),
    [
        ([], MoneyError, "must not be empty"),
        ([1, -1], MoneyError, r"weights\[1\] is negative"),
        ([0, 0], MoneyError, "at least one weight must be positive"),
        ([1, Decimal(1)], MoneyError, r"weights\[1\] must be an int"),
        ([1, "2"], MoneyError, r"weights\[1\] must be an int"),
        ([1.0, 2.0], TypeError, r"weights\[0\] must be an int, not float"),
        ([True, 1], TypeError, r"weights\[0\] must be an int, not bool"),
        ("12", TypeError, "weights must be a sequence of ints"),
    ],
)
def test_allocate_rejects_bad_weights(weights, error, match):
    with pytest.raises(error, match=match) as exc:
        allocate(100, weights)
    if isinstance(exc.value, MoneyError):
        assert exc.value.field == "weights"


@pytest.mark.parametrize(
    ("bps", "error"),
    [
        ([5000, 4999], MoneyError),
        ([5000, 5001], MoneyError),
        ([], MoneyError),
        ([10001, -1], MoneyError),
        ([5000.0, 5000.0], TypeError),
    ],
)
def test_allocate_bps_rejects(bps, error):
    with pytest.raises(error) as exc:
        allocate_bps(100, bps)
    if isinstance(exc.value, MoneyError):
        assert exc.value.field == "bps"


def test_allocate_rejects_float_total():
    with pytest.raises(TypeError, match="total"):
        allocate(100.0, [1, 1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="total"):
        allocate_bps(True, [10000])


weights_strategy = st.lists(
    st.integers(min_value=0, max_value=10**6), min_size=1, max_size=30
).filter(any)


@settings(deadline=None)
@given(total=st.integers(min_value=-(10**15), max_value=10**15), weights=weights_strategy)
def test_allocate_properties(total, weights):
    parts = allocate(total, weights)
    weight_sum = sum(weights)
    assert len(parts) == len(weights)
    assert sum(parts) == total
    for part, w in zip(parts, weights, strict=True):
        exact = Fraction(total * w, weight_sum)
        assert abs(part - exact) < 1  # every part is its exact share rounded down or up
        if w == 0:
            assert part == 0
    for i, (wi, pi) in enumerate(zip(weights, parts, strict=True)):
        for wj, pj in zip(weights[i + 1 :], parts[i + 1 :], strict=True):
            # More weight never gets less; equal weights differ by at most one
            # unit and the extra unit goes to the earlier position.
            if wi > wj:
                assert abs(pi) >= abs(pj)
            elif wi < wj:
                assert abs(pi) <= abs(pj)
            else:
                assert 0 <= abs(pi) - abs(pj) <= 1
    assert allocate(-total, weights) == [-p for p in parts]


@settings(deadline=None)
@given(
    total=st.integers(min_value=-(10**12), max_value=10**12),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=8),
)
def test_allocate_bps_properties(total, cuts):
    points = sorted([0, *cuts, 10_000])
    bps = [b - a for a, b in itertools.pairwise(points)]
    parts = allocate_bps(total, bps)
    assert sum(parts) == total
    assert parts == allocate(total, bps)


# --------------------------------------------------------------------------- rounding


@pytest.mark.parametrize(
    ("minor", "bps", "expected"),
    [
        (1234, 400, 49),  # 4% of $12.34 = 49.36 -> 49
        (1237, 400, 49),  # 49.48 -> 49
        (1238, 400, 50),  # 49.52 -> 50
        (1250, 400, 50),  # exactly 50
        (125, 1000, 13),  # 12.5 -> 13 (half up; banker's would give 12)
        (-125, 1000, -13),  # symmetric: half away from zero
        (135, 1000, 14),  # 13.5 -> 14
        (-1238, 400, -50),
        (0, 400, 0),
        (1, 4999, 0),  # 0.4999 -> 0
        (1, 5000, 1),  # 0.5 -> 1
        (-1, 5000, -1),
        (150000, 10000, 150000),
        (150000, 0, 0),
        (10**30 + 5, 5000, 5 * 10**29 + 3),  # 5e29 + 2.5 -> +3, exact at any size
    ],
)
def test_percent_of_bps(minor, bps, expected):
    assert percent_of_bps(minor, bps) == expected


@settings(deadline=None)
@given(minor=st.integers(-(10**15), 10**15), bps=st.integers(0, 20_000))
def test_percent_of_bps_property(minor, bps):
    result = percent_of_bps(minor, bps)
    exact = Fraction(minor * bps, 10_000)
    assert abs(result - exact) <= Fraction(1, 2)
    if abs(result - exact) == Fraction(1, 2):
        assert abs(result) > abs(exact)  # ties go away from zero
    assert percent_of_bps(-minor, bps) == -result


def test_percent_of_bps_type_errors():
    with pytest.raises(TypeError, match="minor"):
        percent_of_bps(12.34, 400)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bps"):
        percent_of_bps(1234, 4.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("minor", "source", "target", "rate", "expected"),
    [
        (10000, "USD", "EUR", "0.9234", 9234),  # $100.00 * 0.9234 = EUR 92.34
        (1000, "JPY", "USD", "0.0067", 670),  # JPY 1000 * 0.0067 = $6.70
        (100, "USD", "JPY", "151.235", 151),  # $1.00 -> JPY 151.235 -> 151
        (100, "USD", "BHD", "0.376", 376),  # $1.00 -> BHD 0.376 (3 decimals)
        (1, "USD", "BHD", "0.376", 4),  # $0.01 -> BHD 0.00376 -> 3.76 fils -> 4
        (123456, "EUR", "EUR", "1", 123456),
        # Half-even: $0.02 at 125 JPY = 2.5 -> 2; $0.06 = 7.5 -> 8; $0.01 = 1.25 -> 1.
        (2, "USD", "JPY", "125", 2),
        (6, "USD", "JPY", "125", 8),
        (-2, "USD", "JPY", "125", -2),
        (-6, "USD", "JPY", "125", -8),
        (1, "USD", "JPY", "125", 1),
        (3, "USD", "JPY", "125", 4),  # 3.75 -> 4
        # EUR 0.05 at 0.5 = 0.025 -> 2 cents (even), EUR 0.07 -> 3.5 -> 4
        (5, "EUR", "USD", "0.5", 2),
        (7, "EUR", "USD", "0.5", 4),
        (1, "CLF", "CLP", "38000.5", 4),  # 0.0001 UF * 38000.5 = 3.80005 CLP -> 4
    ],
)
def test_apply_rate(minor, source, target, rate, expected):
    assert apply_rate(minor, source, target, Decimal(rate)) == expected


@settings(deadline=None)
@given(
    minor=st.integers(-(10**12), 10**12),
    source=st.sampled_from(["USD", "JPY", "BHD", "CLF"]),
    target=st.sampled_from(["EUR", "KRW", "KWD", "UYW"]),
    rate=st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(10000), places=6),
)
def test_apply_rate_property(minor, source, target, rate):
    result = apply_rate(minor, source, target, rate)
    exact = Fraction(minor, 10 ** exponent(source)) * Fraction(rate) * 10 ** exponent(target)
    assert abs(result - exact) <= Fraction(1, 2)
    if abs(result - exact) == Fraction(1, 2):
        assert result % 2 == 0  # ties to even
    assert apply_rate(-minor, source, target, rate) == -result


@pytest.mark.parametrize(
    ("rate", "error"),
    [
        (0.9234, TypeError),
        (1, TypeError),
        ("0.9", TypeError),
        (True, TypeError),
        (Decimal(0), MoneyError),
        (Decimal("-1.5"), MoneyError),
        (Decimal("NaN"), MoneyError),
        (Decimal("Infinity"), MoneyError),
    ],
)
def test_apply_rate_rejects_bad_rates(rate, error):
    with pytest.raises(error, match="rate") as exc:
        apply_rate(100, "USD", "EUR", rate)
    if isinstance(exc.value, MoneyError):
        assert exc.value.field == "rate"


def test_apply_rate_rejects_float_minor_and_unknown_currency():
    with pytest.raises(TypeError, match="minor"):
        apply_rate(1.0, "USD", "EUR", Decimal(1))  # type: ignore[arg-type]
    with pytest.raises(UnknownCurrency) as exc:
        apply_rate(1, "USD", "eur", Decimal(1))
    assert exc.value.field == "to_currency"


# --------------------------------------------------------------------------- Money


def test_money_arithmetic_same_currency():
    a, b = Money(1050, "USD"), Money(250, "USD")
    assert a + b == Money(1300, "USD")
    assert a - b == Money(800, "USD")
    assert b - a == Money(-800, "USD")
    assert -a == Money(-1050, "USD")
    assert +a == a
    assert abs(Money(-5, "USD")) == Money(5, "USD")
    assert Money(1, "USD") * 3 == Money(3, "USD")
    assert 3 * Money(1, "USD") == Money(3, "USD")
    assert Money(7, "JPY") * -2 == Money(-14, "JPY")


def test_money_comparisons():
    assert Money(1, "USD") < Money(2, "USD")
    assert Money(2, "USD") <= Money(2, "USD")
    assert Money(3, "USD") > Money(2, "USD")
    assert Money(3, "USD") >= Money(3, "USD")
    assert sorted([Money(3, "EUR"), Money(-1, "EUR"), Money(2, "EUR")]) == [
        Money(-1, "EUR"),
        Money(2, "EUR"),
        Money(3, "EUR"),
    ]
    assert max(Money(3, "EUR"), Money(4, "EUR")) == Money(4, "EUR")


def test_money_equality_across_currencies_is_false_not_an_error():
    assert Money(100, "USD") != Money(100, "EUR")
    assert Money(0, "USD") != Money(0, "EUR")
    assert Money(100, "USD") != 100
    assert len({Money(1, "USD"), Money(1, "USD"), Money(1, "EUR")}) == 2


@pytest.mark.parametrize(
    "operation",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
)
def test_money_currency_mismatch(operation):
    with pytest.raises(CurrencyMismatch, match="USD and EUR") as exc:
        operation(Money(100, "USD"), Money(100, "EUR"))
    assert exc.value.field == "currency"


@pytest.mark.parametrize("amount", [1.5, 1.0, True, False, Decimal("1.50"), "150", None])
def test_money_refuses_non_int_amount(amount):
    with pytest.raises(TypeError, match="amount"):
        Money(amount, "USD")


def test_money_refuses_unknown_or_lowercase_currency():
    with pytest.raises(UnknownCurrency) as exc:
        Money(1, "XYZ")
    assert exc.value.field == "currency"
    with pytest.raises(UnknownCurrency, match="did you mean 'USD'"):
        Money(1, "usd")
    with pytest.raises(TypeError, match="currency"):
        Money(1, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("factor", [1.5, 2.0, True, Decimal(2), "2"])
def test_money_multiplies_only_by_int(factor):
    with pytest.raises(TypeError, match="factor"):
        Money(1, "USD") * factor
    with pytest.raises(TypeError, match="factor"):
        factor * Money(1, "USD")


def test_money_has_no_division_and_no_mixing_with_numbers():
    m = Money(100, "USD")
    with pytest.raises(TypeError):
        m / 2  # type: ignore[operator]
    with pytest.raises(TypeError):
        m // 2  # type: ignore[operator]
    with pytest.raises(TypeError):
        m + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        m + 1.5  # type: ignore[operator]
    with pytest.raises(TypeError):
        m * m  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = m < 5  # type: ignore[operator]


def test_money_is_immutable_and_normalises_int_subclasses():
    import enum

    class Cents(enum.IntEnum):
        HUNDRED = 100

    m = Money(Cents.HUNDRED, "USD")
    assert type(m.amount) is int
    assert m == Money(100, "USD")
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.amount = 5  # type: ignore[misc]


def test_money_helpers():
    assert Money.zero("JPY") == Money(0, "JPY")
    assert Money.zero("JPY").is_zero()
    assert not Money(1, "JPY").is_zero()
    assert Money(1234, "USD").to_decimal() == Decimal("12.34")
    assert str(Money(1234, "USD").to_decimal()) == "12.34"
    assert str(Money(-5, "BHD")) == "-0.005 BHD"
    assert Money.parse("1.234,56", "EUR", locale="de_DE") == Money(123456, "EUR")
    assert Money.parse("$1,234.56", "USD") == Money(123456, "USD")
    assert Money(123456, "EUR").format(locale="de_DE") == "1.234,56"
    assert Money(123456, "EUR").format(locale="de_DE", symbol=True) == f"1.234,56{NBSP}€"
    assert Money(-150, "USD").format() == "-1.50"


def test_money_split():
    assert Money(100, "USD").split([1, 1, 1]) == [
        Money(34, "USD"),
        Money(33, "USD"),
        Money(33, "USD"),
    ]
    assert Money(-100, "EUR").split_bps([2500, 7500]) == [Money(-25, "EUR"), Money(-75, "EUR")]
    with pytest.raises(MoneyError):
        Money(100, "USD").split_bps([5000])


def test_sum_money():
    items = [Money(100, "EUR"), Money(-30, "EUR"), Money(5, "EUR")]
    assert sum_money(items, "EUR") == Money(75, "EUR")
    assert sum_money(iter(items), "EUR") == Money(75, "EUR")
    assert sum_money([], "JPY") == Money(0, "JPY")
    with pytest.raises(CurrencyMismatch, match=r"items\[1\] is in USD, expected EUR") as exc:
        sum_money([Money(1, "EUR"), Money(1, "USD")], "EUR")
    assert exc.value.field == "items"
    with pytest.raises(TypeError, match=r"items\[0\]"):
        sum_money([100], "EUR")  # type: ignore[list-item]
    with pytest.raises(UnknownCurrency):
        sum_money([], "eur")


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: Money(1.0, "USD"), "amount"),
        (lambda: parse_amount(1.0, "USD"), "text"),
        (lambda: format_amount(1.0, "USD"), "minor"),
        (lambda: to_minor(1.0, "USD"), "value"),
        (lambda: from_minor(1.0, "USD"), "minor"),
        (lambda: from_minor(True, "USD"), "minor"),
        (lambda: allocate(1.0, [1]), "total"),
        (lambda: allocate_bps(1.0, [10000]), "total"),
        (lambda: percent_of_bps(1.0, 100), "minor"),
        (lambda: apply_rate(1.0, "USD", "EUR", Decimal(1)), "minor"),
        (lambda: apply_rate(1, "USD", "EUR", 1.0), "rate"),
        (lambda: Money(1, "USD") * 1.0, "factor"),
    ],
)
def test_floats_never_touch_money(call, argument):
    with pytest.raises(TypeError, match=argument):
        call()
