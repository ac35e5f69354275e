"""Money for Keel: integer minor units plus an ISO 4217 currency.

Rules this module enforces so that the rest of Keel cannot get them wrong:

* An amount is always an ``int`` of minor units (cents, fils, yen) paired with a
  currency code.  Floats never touch money: every function that expects an amount
  raises ``TypeError`` naming the argument when given a ``float`` or a ``bool``.
* ``Decimal`` appears only at the edges: parsing, formatting and exchange rates.
* Nothing rounds silently.  Parsing and ``to_minor`` refuse more decimals than the
  currency has; the few operations that must round (``percent_of_bps``,
  ``apply_rate``) say which rule they use and do it in exact integer arithmetic.
* Splits use the largest-remainder method so the parts always add up to the total.

This module is deliberately free of Django so it can be used from anywhere
(ledger, importers, CLI, tests) and reasoned about on its own.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from functools import lru_cache
from types import MappingProxyType

from babel import Locale, UnknownLocaleError
from babel import numbers as babel_numbers

__all__ = [
    "CURRENCIES",
    "AmountError",
    "Currency",
    "CurrencyMismatch",
    "Money",
    "MoneyError",
    "UnknownCurrency",
    "allocate",
    "allocate_bps",
    "apply_rate",
    "exponent",
    "format_amount",
    "from_minor",
    "get_currency",
    "is_currency",
    "parse_amount",
    "percent_of_bps",
    "sum_money",
    "to_minor",
]


# --------------------------------------------------------------------------- errors


class MoneyError(ValueError):
    """Base class of every money error.

    ``field`` names the offending argument or form field so that callers (API
    validators, CSV importers) can attach the message to the right input.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownCurrency(MoneyError):
    """The code is not an ISO 4217 currency that Keel supports."""


class CurrencyMismatch(MoneyError):
    """Two amounts in different currencies were combined or ordered."""


class AmountError(MoneyError):
    """An amount is unparseable, has too many decimals or is not whole minor units."""


# --------------------------------------------------------------------------- currencies

# ISO 4217 list one (active codes) with minor-unit digits, checked against the
# ISO 4217 maintenance agency list published 2024-06-25, plus XCG (Caribbean
# guilder, introduced 2025 to replace ANG; both are listed during the changeover).
# Codes whose minor unit is "N.A." (XAU, XAG, XPD, XPT, XDR, XSU, XUA, XBA-XBD,
# XTS, XXX) are left out on purpose: they cannot be expressed as integer minor units.
# Withdrawn codes (HRK, SLL, ZWL, ...) are not included.
_ISO_4217: dict[str, tuple[int, str]] = {
    "AED": (2, "UAE Dirham"),
    "AFN": (2, "Afghani"),
    "ALL": (2, "Lek"),
    "AMD": (2, "Armenian Dram"),
    "ANG": (2, "Netherlands Antillean Guilder"),
    "AOA": (2, "Kwanza"),
    "ARS": (2, "Argentine Peso"),
    "AUD": (2, "Australian Dollar"),
    "AWG": (2, "Aruban Florin"),
    "AZN": (2, "Azerbaijan Manat"),
    "BAM": (2, "Convertible Mark"),
    "BBD": (2, "Barbados Dollar"),
    "BDT": (2, "Taka"),
    "BGN": (2, "Bulgarian Lev"),
    "BHD": (3, "Bahraini Dinar"),
    "BIF": (0, "Burundi Franc"),
    "BMD": (2, "Bermudian Dollar"),
    "BND": (2, "Brunei Dollar"),
    "BOB": (2, "Boliviano"),
    "BOV": (2, "Mvdol"),
    "BRL": (2, "Brazilian Real"),
    "BSD": (2, "Bahamian Dollar"),
    "BTN": (2, "Ngultrum"),
    "BWP": (2, "Pula"),
    "BYN": (2, "Belarusian Ruble"),
    "BZD": (2, "Belize Dollar"),
    "CAD": (2, "Canadian Dollar"),
    "CDF": (2, "Congolese Franc"),
    "CHE": (2, "WIR Euro"),
    "CHF": (2, "Swiss Franc"),
    "CHW": (2, "WIR Franc"),
    "CLF": (4, "Unidad de Fomento"),
    "CLP": (0, "Chilean Peso"),
    "CNY": (2, "Yuan Renminbi"),
    "COP": (2, "Colombian Peso"),
    "COU": (2, "Unidad de Valor Real"),
    "CRC": (2, "Costa Rican Colon"),
    "CUC": (2, "Peso Convertible"),
    "CUP": (2, "Cuban Peso"),
    "CVE": (2, "Cabo Verde Escudo"),
    "CZK": (2, "Czech Koruna"),
    "DJF": (0, "Djibouti Franc"),
    "DKK": (2, "Danish Krone"),
    "DOP": (2, "Dominican Peso"),
    "DZD": (2, "Algerian Dinar"),
    "EGP": (2, "Egyptian Pound"),
    "ERN": (2, "Nakfa"),
    "ETB": (2, "Ethiopian Birr"),
    "EUR": (2, "Euro"),
    "FJD": (2, "Fiji Dollar"),
    "FKP": (2, "Falkland Islands Pound"),
    "GBP": (2, "Pound Sterling"),
    "GEL": (2, "Lari"),
    "GHS": (2, "Ghana Cedi"),
    "GIP": (2, "Gibraltar Pound"),
    "GMD": (2, "Dalasi"),
    "GNF": (0, "Guinean Franc"),
    "GTQ": (2, "Quetzal"),
    "GYD": (2, "Guyana Dollar"),
    "HKD": (2, "Hong Kong Dollar"),
    "HNL": (2, "Lempira"),
    "HTG": (2, "Gourde"),
    "HUF": (2, "Forint"),
    "IDR": (2, "Rupiah"),
    "ILS": (2, "New Israeli Sheqel"),
    "INR": (2, "Indian Rupee"),
    "IQD": (3, "Iraqi Dinar"),
    "IRR": (2, "Iranian Rial"),
    "ISK": (0, "Iceland Krona"),
    "JMD": (2, "Jamaican Dollar"),
    "JOD": (3, "Jordanian Dinar"),
    "JPY": (0, "Yen"),
    "KES": (2, "Kenyan Shilling"),
    "KGS": (2, "Som"),
    "KHR": (2, "Riel"),
    "KMF": (0, "Comorian Franc"),
    "KPW": (2, "North Korean Won"),
    "KRW": (0, "Won"),
    "KWD": (3, "Kuwaiti Dinar"),
    "KYD": (2, "Cayman Islands Dollar"),
    "KZT": (2, "Tenge"),
    "LAK": (2, "Lao Kip"),
    "LBP": (2, "Lebanese Pound"),
    "LKR": (2, "Sri Lanka Rupee"),
    "LRD": (2, "Liberian Dollar"),
    "LSL": (2, "Loti"),
    "LYD": (3, "Libyan Dinar"),
    "MAD": (2, "Moroccan Dirham"),
    "MDL": (2, "Moldovan Leu"),
    "MGA": (2, "Malagasy Ariary"),
    "MKD": (2, "Denar"),
    "MMK": (2, "Kyat"),
    "MNT": (2, "Tugrik"),
    "MOP": (2, "Pataca"),
    "MRU": (2, "Ouguiya"),
    "MUR": (2, "Mauritius Rupee"),
    "MVR": (2, "Rufiyaa"),
    "MWK": (2, "Malawi Kwacha"),
    "MXN": (2, "Mexican Peso"),
    "MXV": (2, "Mexican Unidad de Inversion (UDI)"),
    "MYR": (2, "Malaysian Ringgit"),
    "MZN": (2, "Mozambique Metical"),
    "NAD": (2, "Namibia Dollar"),
    "NGN": (2, "Naira"),
    "NIO": (2, "Cordoba Oro"),
    "NOK": (2, "Norwegian Krone"),
    "NPR": (2, "Nepalese Rupee"),
    "NZD": (2, "New Zealand Dollar"),
    "OMR": (3, "Rial Omani"),
    "PAB": (2, "Balboa"),
    "PEN": (2, "Sol"),
    "PGK": (2, "Kina"),
    "PHP": (2, "Philippine Peso"),
    "PKR": (2, "Pakistan Rupee"),
    "PLN": (2, "Zloty"),
    "PYG": (0, "Guarani"),
    "QAR": (2, "Qatari Rial"),
    "RON": (2, "Romanian Leu"),
    "RSD": (2, "Serbian Dinar"),
    "RUB": (2, "Russian Ruble"),
    "RWF": (0, "Rwanda Franc"),
    "SAR": (2, "Saudi Riyal"),
    "SBD": (2, "Solomon Islands Dollar"),
    "SCR": (2, "Seychelles Rupee"),
    "SDG": (2, "Sudanese Pound"),
    "SEK": (2, "Swedish Krona"),
    "SGD": (2, "Singapore Dollar"),
    "SHP": (2, "Saint Helena Pound"),
    "SLE": (2, "Leone"),
    "SOS": (2, "Somali Shilling"),
    "SRD": (2, "Surinam Dollar"),
    "SSP": (2, "South Sudanese Pound"),
    "STN": (2, "Dobra"),
    "SVC": (2, "El Salvador Colon"),
    "SYP": (2, "Syrian Pound"),
    "SZL": (2, "Lilangeni"),
    "THB": (2, "Baht"),
    "TJS": (2, "Somoni"),
    "TMT": (2, "Turkmenistan New Manat"),
    "TND": (3, "Tunisian Dinar"),
    "TOP": (2, "Pa'anga"),
    "TRY": (2, "Turkish Lira"),
    "TTD": (2, "Trinidad and Tobago Dollar"),
    "TWD": (2, "New Taiwan Dollar"),
    "TZS": (2, "Tanzanian Shilling"),
    "UAH": (2, "Hryvnia"),
    "UGX": (0, "Uganda Shilling"),
    "USD": (2, "US Dollar"),
    "USN": (2, "US Dollar (Next day)"),
    "UYI": (0, "Uruguay Peso en Unidades Indexadas (UI)"),
    "UYU": (2, "Peso Uruguayo"),
    "UYW": (4, "Unidad Previsional"),
    "UZS": (2, "Uzbekistan Sum"),
    "VED": (2, "Bolivar Soberano (digital)"),
    "VES": (2, "Bolivar Soberano"),
    "VND": (0, "Dong"),
    "VUV": (0, "Vatu"),
    "WST": (2, "Tala"),
    "XAF": (0, "CFA Franc BEAC"),
    "XCD": (2, "East Caribbean Dollar"),
    "XCG": (2, "Caribbean Guilder"),
    "XOF": (0, "CFA Franc BCEAO"),
    "XPF": (0, "CFP Franc"),
    "YER": (2, "Yemeni Rial"),
    "ZAR": (2, "Rand"),
    "ZMW": (2, "Zambian Kwacha"),
    "ZWG": (2, "Zimbabwe Gold"),
}

# ISO codes that exist but have no minor unit; named in the error so nobody
# mistakes the refusal for a typo in the table.
_NO_MINOR_UNIT = frozenset(
    {"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"}
)


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    exponent: int
    name: str


CURRENCIES: Mapping[str, Currency] = MappingProxyType(
    {code: Currency(code, exp, name) for code, (exp, name) in _ISO_4217.items()}
)


def get_currency(code: str) -> Currency:
    return _currency(code, "code")


def is_currency(code: str) -> bool:
    return isinstance(code, str) and code in CURRENCIES


def exponent(code: str) -> int:
    return _currency(code, "code").exponent


def _currency(code: object, field: str) -> Currency:
    if not isinstance(code, str):
        raise TypeError(f"{field} must be an ISO 4217 code (str), not {type(code).__name__}")
    found = CURRENCIES.get(code)
    if found is not None:
        return found
    # Never normalise silently: a lower-case or padded code usually means the
    # value came from somewhere unvalidated, and the caller should fix that.
    hint = ""
    if code.strip().upper() in CURRENCIES:
        hint = f" (codes are exactly 3 upper-case letters: did you mean {code.strip().upper()!r}?)"
    elif code in _NO_MINOR_UNIT:
        hint = " (it has no minor unit, so Keel cannot hold it as money)"
    raise UnknownCurrency(f"unknown currency {code!r}{hint}", field=field)


# --------------------------------------------------------------------------- guards


def _require_int(value: object, field: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{field} must be an int, not bool")
    if isinstance(value, float):
        raise TypeError(f"{field} must be an int, not float: floats never touch money")
    if not isinstance(value, int):
        raise TypeError(f"{field} must be an int, not {type(value).__name__}")
    return int(value)  # collapse int subclasses (IntEnum, ...) to a plain int


def _int_list(values: Iterable[object], field: str) -> list[int]:
    if isinstance(values, str | bytes):
        raise TypeError(f"{field} must be a sequence of ints, not {type(values).__name__}")
    result: list[int] = []
    for i, value in enumerate(values):
        if isinstance(value, bool | float):
            raise TypeError(f"{field}[{i}] must be an int, not {type(value).__name__}")
        if not isinstance(value, int):
            raise MoneyError(
                f"{field}[{i}] must be an int, not {type(value).__name__}", field=field
            )
        if value < 0:
            raise MoneyError(f"{field}[{i}] is negative ({value})", field=field)
        result.append(int(value))
    if not result:
        raise MoneyError(f"{field} must not be empty", field=field)
    return result


# --------------------------------------------------------------------------- Money


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An exact amount: ``amount`` minor units of ``currency``.

    Equality is structural, so amounts in different currencies are simply unequal;
    ordering and arithmetic across currencies raise ``CurrencyMismatch`` because
    there is no right answer without an exchange rate.
    """

    amount: int
    currency: str

    def __post_init__(self) -> None:
        amount = _require_int(self.amount, "amount")
        if type(self.amount) is not int:
            object.__setattr__(self, "amount", amount)
        _currency(self.currency, "currency")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, text: str, currency: str, *, locale: str = "en_US") -> Money:
        return cls(parse_amount(text, currency, locale=locale), currency)

    def to_decimal(self) -> Decimal:
        return from_minor(self.amount, self.currency)

    def format(self, *, locale: str = "en_US", symbol: bool = False) -> str:
        return format_amount(self.amount, self.currency, locale=locale, symbol=symbol)

    def split(self, weights: Sequence[int]) -> list[Money]:
        return [Money(part, self.currency) for part in allocate(self.amount, weights)]

    def split_bps(self, bps: Sequence[int]) -> list[Money]:
        return [Money(part, self.currency) for part in allocate_bps(self.amount, bps)]

    def is_zero(self) -> bool:
        return self.amount == 0

    def __str__(self) -> str:
        return f"{self.to_decimal()} {self.currency}"

    def _same_currency(self, other: Money, verb: str) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(
                f"cannot {verb} {self.currency} and {other.currency}", field="currency"
            )

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "add")
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "subtract")
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        # Only whole multiples: a fractional factor would need a rounding rule,
        # which belongs to percent_of_bps / apply_rate, not to "*".
        return Money(self.amount * _require_int(factor, "factor"), self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __pos__(self) -> Money:
        return self

    def __abs__(self) -> Money:
        return Money(abs(self.amount), self.currency)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.amount < other.amount

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.amount <= other.amount

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.amount > other.amount

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.amount >= other.amount


def sum_money(items: Iterable[Money], currency: str) -> Money:
    # The currency is an argument rather than inferred from the first item so that
    # an empty sum still has a currency and a stray item cannot decide it.
    code = _currency(currency, "currency").code
    total = 0
    for i, item in enumerate(items):
        if not isinstance(item, Money):
            raise TypeError(f"items[{i}] must be Money, not {type(item).__name__}")
        if item.currency != code:
            raise CurrencyMismatch(
                f"items[{i}] is in {item.currency}, expected {code}", field="items"
            )
        total += item.amount
    return Money(total, code)


# --------------------------------------------------------------------------- Decimal edges


def to_minor(value: Decimal | int | str, currency: str) -> int:
    """Convert a major-unit value (``Decimal("12.34")``, ``12``, ``"12.34"``) to minor units.

    Exact or an ``AmountError``: trailing zeros are fine (``Decimal("1.500")`` is
    150 cents) but a value that is not a whole number of minor units is refused.
    A ``str`` must be a plain machine number (``-12.34``); human, localised text
    goes through ``parse_amount``.
    """
    if isinstance(value, bool | float):
        raise TypeError(f"value must be a Decimal, int or str, not {type(value).__name__}")
    cur = _currency(currency, "currency")
    if isinstance(value, int):
        return value * _pow10(cur.exponent)
    if isinstance(value, str):
        text = value.strip()
        if not _is_plain_number(text):
            raise AmountError(f"amount {_show(value)} is not a plain number", field="value")
        value = Decimal(text)
    if not isinstance(value, Decimal):
        raise TypeError(f"value must be a Decimal, int or str, not {type(value).__name__}")
    if not value.is_finite():
        raise AmountError(f"amount {_show(str(value))} is not a finite number", field="value")
    places = _decimal_places(value)
    if places > cur.exponent:
        raise AmountError(_too_many_decimals(str(value), places, cur), field="value")
    numerator, denominator = value.as_integer_ratio()
    return numerator * _pow10(cur.exponent) // denominator  # exact: places <= exponent


def from_minor(minor: int, currency: str) -> Decimal:
    minor = _require_int(minor, "minor")
    cur = _currency(currency, "currency")
    # Built from digits rather than by division so no Decimal context (precision
    # 28 by default) can round a large amount.
    digits = tuple(int(d) for d in str(abs(minor)))
    return Decimal((1 if minor < 0 else 0, digits, -cur.exponent))


def _pow10(n: int) -> int:
    return int(10**n)


def _is_plain_number(text: str) -> bool:
    body = text[1:] if text[:1] in ("+", "-") else text
    whole, _, frac = body.partition(".")
    return (
        (bool(whole) or bool(frac))
        and (not whole or _ascii_digits(whole))
        and (not frac or _ascii_digits(frac))
    )


def _ascii_digits(text: str) -> bool:
    # str.isdigit() accepts other scripts' digits and superscripts; money text must not.
    return text.isascii() and text.isdigit()


def _decimal_places(value: Decimal) -> int:
    """Significant decimal places of a finite Decimal (trailing zeros don't count)."""
    _, digits, exp = value.as_tuple()
    if not isinstance(exp, int) or not any(digits):  # NaN/Infinity are refused by callers
        return 0
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exp + trailing_zeros))


def _too_many_decimals(shown: str, places: int, cur: Currency) -> str:
    noun = "decimal" if places == 1 else "decimals"
    return f"amount {shown!r} has {places} {noun}; {cur.code} allows {cur.exponent}"


def _show(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


# --------------------------------------------------------------------------- locales

# Spellings that people and software use interchangeably for "space" and
# "apostrophe" digit grouping; CLDR picks one, bank exports and keyboards another.
_SPACE_GROUPS = frozenset({" ", "\u00a0", "\u202f"})
_APOSTROPHE_GROUPS = frozenset({"'", "\u2019"})
_MINUS_SIGNS = frozenset({"-", "\u2212"})
_SIGN_CHARS = _MINUS_SIGNS | {"+"}
# Bidi marks that CLDR puts around numbers in RTL locales (he, ar, fa).
_BIDI_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u061c"))


@lru_cache(maxsize=64)
def _locale(name: str) -> Locale:
    try:
        # Accept BCP 47 spellings (de-DE) too: browsers send those.
        return Locale.parse(name.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError) as exc:
        raise MoneyError(f"unknown locale {name!r}", field="locale") from exc


def _check_locale_name(locale: object) -> Locale:
    if not isinstance(locale, str):
        raise TypeError(f"locale must be a str such as 'en_US', not {type(locale).__name__}")
    return _locale(locale)


def _group_variants(group: str) -> frozenset[str]:
    if group in _SPACE_GROUPS:
        return _SPACE_GROUPS
    if group in _APOSTROPHE_GROUPS:
        return _APOSTROPHE_GROUPS
    return frozenset({group}) if group else frozenset()


def _check_separator(value: object, field: str, *, allow_empty: bool) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a str, not {type(value).__name__}")
    if len(value) > 1 or (not value and not allow_empty):
        raise MoneyError(f"{field} must be a single character, got {value!r}", field=field)
    if value and (value.isdigit() or value in _SIGN_CHARS or value in "()"):
        raise MoneyError(f"{field} {value!r} cannot be a digit, sign or bracket", field=field)
    return value


def _separators(
    locale: str | None, decimal_separator: str | None, thousands_separator: str | None
) -> tuple[Locale, str, frozenset[str]]:
    loc = _check_locale_name("en_US" if locale is None else locale)
    decimal = babel_numbers.get_decimal_symbol(loc)
    group = babel_numbers.get_group_symbol(loc)
    if decimal_separator is not None:
        decimal = _check_separator(decimal_separator, "decimal_separator", allow_empty=False)
        if thousands_separator is None and group == decimal:
            # e.g. decimal_separator="," on the default en_US: the locale's group
            # symbol is now ambiguous, so accept no grouping rather than guess.
            group = ""
    if thousands_separator is not None:
        group = _check_separator(thousands_separator, "thousands_separator", allow_empty=True)
    if decimal.isspace():
        raise MoneyError("decimal_separator cannot be whitespace", field="decimal_separator")
    groups = _group_variants(group)
    if decimal in groups:
        field = "thousands_separator" if thousands_separator is not None else "decimal_separator"
        raise MoneyError(
            f"decimal separator {decimal!r} and thousands separator {group!r} collide; "
            "pass both decimal_separator and thousands_separator",
            field=field,
        )
    return loc, decimal, groups


@lru_cache(maxsize=512)
def _currency_affixes(code: str, loc: Locale) -> tuple[str, ...]:
    # Bidi marks are stripped from the text before matching, so from symbols too.
    symbol = babel_numbers.get_currency_symbol(code, loc).translate(_BIDI_MARKS)
    affixes = {code}
    # Symbols may contain spaces (XOF is "F CFA") but never digits, which would
    # make them indistinguishable from the amount.
    if symbol and not any(ch.isdigit() for ch in symbol):
        affixes.add(symbol)
    # Longest first so that "US$" is tried before "$" and "kr." before "kr".
    return tuple(sorted(affixes, key=lambda a: (-len(a), a)))


# --------------------------------------------------------------------------- parsing


def parse_amount(
    text: str,
    currency: str,
    *,
    locale: str | None = None,
    decimal_separator: str | None = None,
    thousands_separator: str | None = None,
) -> int:
    """Parse human-written money text into minor units, exactly.

    Separators come from ``locale`` (default en_US) via babel; explicit
    ``decimal_separator`` / ``thousands_separator`` override it (CSV import
    profiles).  ``thousands_separator=""`` accepts no grouping at all.  When the
    groups are spaces any of space, no-break space and narrow no-break space is
    accepted; apostrophe groups accept both ' and U+2019.

    Accepted decorations: a leading ``+``; a minus as ``-`` or U+2212, leading
    (``-1.50``, ``- 1.50``, ``-$1.50``, ``$-1.50``) or trailing (``1.50-``);
    accounting parentheses ``(1.50)``; the currency's own code or the locale's
    symbol for it, before or after the number.  Anything else is an
    ``AmountError``, as are more decimals than the currency has and grouping
    that is not in threes.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    cur = _currency(currency, "currency")
    loc, decimal, groups = _separators(locale, decimal_separator, thousands_separator)
    affixes = _currency_affixes(cur.code, loc)

    cleaned = text.translate(_BIDI_MARKS).strip()
    if not cleaned:
        raise AmountError("amount is empty", field="text")
    core, negative = _strip_decorations(cleaned, text, cur, decimal, groups, affixes)
    minor = _parse_number(core, text, cur, decimal, groups)
    return -minor if negative else minor


def _strip_decorations(
    s: str,
    text: str,
    cur: Currency,
    decimal: str,
    groups: frozenset[str],
    affixes: tuple[str, ...],
) -> tuple[str, bool]:
    """Peel signs, brackets and currency markers off both ends; return (number, negative)."""
    signs: list[str] = []
    open_bracket = close_bracket = currency_seen = False

    def take_currency() -> None:
        nonlocal currency_seen
        if currency_seen:
            raise AmountError(f"amount {_show(text)} names the currency twice", field="text")
        currency_seen = True

    def take_sign(sign: str) -> None:
        if signs:
            raise AmountError(f"amount {_show(text)} has more than one sign", field="text")
        signs.append(sign)

    while s := s.lstrip():
        affix = next((a for a in affixes if s.startswith(a)), None)
        if affix is not None:
            take_currency()
            s = s[len(affix) :]
        elif s[0] in _SIGN_CHARS:
            take_sign(s[0])
            s = s[1:]
        elif s[0] == "(" and not open_bracket:
            open_bracket = True
            s = s[1:]
        else:
            break

    while s := s.rstrip():
        affix = next((a for a in affixes if s.endswith(a)), None)
        if affix is not None:
            take_currency()
            s = s[: -len(affix)]
        elif s[-1] in _MINUS_SIGNS:  # "1.50-": a trailing "+" is not a convention anywhere
            take_sign(s[-1])
            s = s[:-1]
        elif s[-1] == ")" and not close_bracket:
            close_bracket = True
            s = s[:-1]
        else:
            break

    if not s:
        raise AmountError(f"amount {_show(text)} has no digits", field="text")
    stops = _SIGN_CHARS | groups | {decimal, "(", ")"}
    if not (s[0].isdigit() or s.startswith(decimal)):
        _reject_token(_leading_token(s, stops), s[0], "start", text, cur, affixes)
    if not (s[-1].isdigit() or s.endswith(decimal)):
        _reject_token(_leading_token(s[::-1], stops)[::-1], s[-1], "end", text, cur, affixes)

    if open_bracket != close_bracket:
        raise AmountError(f"amount {_show(text)} has unbalanced parentheses", field="text")
    if open_bracket and signs:
        raise AmountError(f"amount {_show(text)} has both parentheses and a sign", field="text")
    negative = open_bracket or (bool(signs) and signs[0] != "+")
    return s, negative


def _leading_token(s: str, stops: frozenset[str]) -> str:
    end = 0
    while end < len(s) and not (s[end].isspace() or s[end].isdigit() or s[end] in stops):
        end += 1
    return s[:end]


def _reject_token(
    token: str, char: str, where: str, text: str, cur: Currency, affixes: tuple[str, ...]
) -> None:
    if not token:  # a separator, sign or bracket where the digits should begin or end
        raise AmountError(f"amount {_show(text)} cannot {where} with {char!r}", field="text")
    if token in CURRENCIES:
        raise AmountError(
            f"amount {_show(text)} is in {token}, but {cur.code} was expected", field="text"
        )
    if token.upper() == cur.code:
        raise AmountError(
            f"amount {_show(text)}: write the currency code in upper case ({cur.code})",
            field="text",
        )
    accepted = " or ".join(repr(a) for a in affixes)
    raise AmountError(
        f"amount {_show(text)} is not a valid {cur.code} amount: unexpected {token!r} "
        f"(only digits, separators, a sign and {accepted} are allowed)",
        field="text",
    )


def _parse_number(core: str, text: str, cur: Currency, decimal: str, groups: frozenset[str]) -> int:
    parts = core.split(decimal)
    if len(parts) > 2:
        raise AmountError(
            f"amount {_show(text)} has more than one decimal separator {decimal!r}", field="text"
        )
    whole, frac = parts[0], parts[1] if len(parts) == 2 else ""

    used = {g for g in groups if g in whole}
    if len(used) > 1:
        raise AmountError(f"amount {_show(text)} mixes digit-group separators", field="text")
    if used:
        chunks = whole.split(used.pop())
        # Strict thousands grouping: a misplaced separator is far more likely a
        # misread locale (1.234 vs 1,234) than a real amount, so refuse it.
        if not (1 <= len(chunks[0]) <= 3 and all(len(c) == 3 for c in chunks[1:])):
            raise AmountError(
                f"amount {_show(text)} has misplaced digit grouping (expected groups of 3)",
                field="text",
            )
        whole = "".join(chunks)

    if (whole and not _ascii_digits(whole)) or (frac and not _ascii_digits(frac)):
        raise AmountError(f"amount {_show(text)} is not a valid number", field="text")
    if not whole and not frac:
        raise AmountError(f"amount {_show(text)} has no digits", field="text")
    # Count digits, not value: "1.500" for USD is refused even though it equals
    # 1.50, because extra digits in human text usually mean the wrong locale.
    if len(frac) > cur.exponent:
        raise AmountError(_too_many_decimals(text.strip(), len(frac), cur), field="text")
    try:
        return int(whole + frac.ljust(cur.exponent, "0") or "0")
    except ValueError as exc:  # beyond Python's int-from-str digit limit
        raise AmountError(f"amount {_show(text)} is too long", field="text") from exc


# --------------------------------------------------------------------------- formatting


def format_amount(
    minor: int,
    currency: str,
    *,
    locale: str = "en_US",
    grouping: bool = True,
    symbol: bool = False,
) -> str:
    """Format minor units with exactly the currency's number of decimals.

    Digits are always grouped in threes (what ``parse_amount`` accepts), so the
    output round-trips through ``parse_amount`` with the same locale.
    """
    minor = _require_int(minor, "minor")
    cur = _currency(currency, "currency")
    loc = _check_locale_name(locale)
    if symbol:
        return _format_with_symbol(minor, cur, loc, grouping=grouping)

    digits = str(abs(minor)).rjust(cur.exponent + 1, "0")
    split = len(digits) - cur.exponent
    whole, frac = digits[:split], digits[split:]
    if grouping:
        group = babel_numbers.get_group_symbol(loc)
        whole = group.join(_chunks_of_three(whole))
    out = whole + (babel_numbers.get_decimal_symbol(loc) + frac if frac else "")
    return babel_numbers.get_minus_sign_symbol(loc) + out if minor < 0 else out


def _chunks_of_three(digits: str) -> list[str]:
    head = len(digits) % 3 or 3
    return [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]


_FIRST_DIGITS = re.compile(r"[0-9]+")


@lru_cache(maxsize=256)
def _currency_pattern(loc: Locale, places: int) -> babel_numbers.NumberPattern:
    pattern: babel_numbers.NumberPattern = copy.copy(loc.currency_formats["standard"])
    # ISO 4217 digits, not CLDR's: babel's currency_digits=True uses CLDR data,
    # which disagrees with ISO for e.g. IQD (0 vs 3) and HUF (0 vs 2), and would
    # round those amounts.  Forcing the pattern's fraction digits avoids that.
    pattern.frac_prec = (places, places)
    return pattern


def _format_with_symbol(minor: int, cur: Currency, loc: Locale, *, grouping: bool) -> str:
    value = from_minor(minor, cur.code)
    with localcontext() as ctx:
        # babel normalises and quantises in the ambient context; give it enough
        # precision that a large amount is never rounded (or rejected).
        ctx.prec = max(ctx.prec, len(value.as_tuple().digits) + 2)
        text = babel_numbers.format_currency(
            value,
            cur.code,
            format=_currency_pattern(loc, cur.exponent),
            locale=loc,
            currency_digits=False,
            # Grouped below instead: babel 2.19 strips pattern quotes *after*
            # inserting the number, so with CLDR's ASCII apostrophe group symbol
            # (de_CH) "10'000'000'000.07" comes out as "10000000'000.07".
            group_separator=False,
        )
    if not grouping:
        return text
    # The first run of digits is the integer part: currency symbols carry no digits.
    group = babel_numbers.get_group_symbol(loc)
    return _FIRST_DIGITS.sub(lambda m: group.join(_chunks_of_three(m.group())), text, count=1)


# --------------------------------------------------------------------------- allocation


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` minor units in proportion to ``weights``; parts sum to ``total``.

    Largest-remainder method: every part is floor(total * w / sum(weights)) and
    the units left over go one each to the largest fractional remainders, ties
    to the lower index.  Negative totals are split as their absolute value and
    negated, so a refund mirrors the original split exactly.
    """
    total = _require_int(total, "total")
    ws = _int_list(weights, "weights")
    weight_sum = sum(ws)
    if weight_sum == 0:
        raise MoneyError("at least one weight must be positive", field="weights")
    return _largest_remainder(total, ws, weight_sum)


def allocate_bps(total: int, bps: Sequence[int]) -> list[int]:
    """``allocate`` with shares in basis points, which must sum to exactly 10 000."""
    total = _require_int(total, "total")
    shares = _int_list(bps, "bps")
    if sum(shares) != 10_000:
        raise MoneyError(f"bps must sum to 10000, not {sum(shares)}", field="bps")
    return _largest_remainder(total, shares, 10_000)


def _largest_remainder(total: int, weights: list[int], weight_sum: int) -> list[int]:
    magnitude = abs(total)
    parts: list[int] = []
    remainders: list[int] = []
    for w in weights:
        part, remainder = divmod(magnitude * w, weight_sum)
        parts.append(part)
        remainders.append(remainder)
    # Leftover < number of positive weights, and only non-zero remainders can be
    # among the largest `leftover` of them, so zero weights always get 0.
    leftover = magnitude - sum(parts)
    if leftover:
        # A reversed sort is still stable: equal remainders keep index order, so ties go
        # to the lower index without a key tuple per weight.
        largest = sorted(range(len(weights)), key=remainders.__getitem__, reverse=True)
        for i in largest[:leftover]:
            parts[i] += 1
    return [-p for p in parts] if total < 0 else parts


# --------------------------------------------------------------------------- rounding


def _divide_rounded(numerator: int, denominator: int, *, half_even: bool) -> int:
    """numerator / denominator rounded to an int, symmetric around zero."""
    quotient, remainder = divmod(abs(numerator), denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and (not half_even or quotient % 2)):
        quotient += 1
    return -quotient if numerator < 0 else quotient


def percent_of_bps(minor: int, bps: int) -> int:
    """``minor * bps / 10000`` rounded half away from zero.

    Contributions and fees are rounded the way members check them by hand or on
    a calculator: half a cent rounds up (away from zero for negatives).  Banker's
    rounding would be statistically neutral but reads as a bug on a statement
    ("12.5 became 12?").  Integer arithmetic only, so the .5 case is exact.
    """
    minor = _require_int(minor, "minor")
    bps = _require_int(bps, "bps")
    return _divide_rounded(minor * bps, 10_000, half_even=False)


def apply_rate(minor: int, from_currency: str, to_currency: str, rate: Decimal) -> int:
    """Convert ``minor`` units of ``from_currency`` to ``to_currency`` at ``rate``.

    rate is units of to_currency per one unit of from_currency.  The exact value
    minor / 10**e_from * rate * 10**e_to is rounded half to even: conversions
    are frequent and automatic, and banker's rounding keeps the sum of many
    conversions unbiased, where half-up would drift upwards on every exact tie.
    """
    minor = _require_int(minor, "minor")
    source = _currency(from_currency, "from_currency")
    target = _currency(to_currency, "to_currency")
    if not isinstance(rate, Decimal):  # floats (and ints, strs) are refused, not converted
        raise TypeError(f"rate must be a Decimal, not {type(rate).__name__}")
    if not rate.is_finite() or rate <= 0:
        raise MoneyError(f"rate must be a positive finite Decimal, not {rate}", field="rate")
    rate_num, rate_den = rate.as_integer_ratio()
    shift = target.exponent - source.exponent
    numerator = minor * rate_num * _pow10(max(shift, 0))
    denominator = rate_den * _pow10(max(-shift, 0))
    return _divide_rounded(numerator, denominator, half_even=True)
