"""Any other CSV file, read through a saved import profile.

A profile says which column holds what, how dates and numbers are written, and which sign
means money in.  It is a pure dataclass with ``from_dict``/``to_dict`` (the JSON the page
and the CLI store), and every bad value is refused with a ``ValueError`` that names its key.

Rules for rows (think of a bank export, the commonest "other" file):

* A row's signed amount comes from ``amount`` (with ``sign`` saying whether money in is
  positive, ``income_positive``, or negative, ``income_negative``) or from a ``debit`` and a
  ``credit`` column (either may hold the figure with or without a minus).
* With a ``kind`` column, ``kind_map`` turns its values (compared without case or
  surrounding spaces) into ``income``, ``refund``, ``fee``, ``transfer`` or ``skip``.
* Otherwise, and for kind values the map does not name, money in is INCOME and money out
  is a TRANSFER: money leaving the account (spending, moving savings, paying a card) is
  never a refund unless the kind column says so.  Keel never guesses a refund or a fee
  from a minus sign.
* ``fee`` and ``tips`` columns are magnitudes (their sign is ignored); ``amount`` is the
  gross, so the row's net is gross + tips - fee.  A row whose amount is zero moves no
  money and is skipped.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, BinaryIO, Final

from .base import ImportFormatError, ParsedFile, ParsedRow, Progress, RowKind, SkippedRow
from .common import (
    DATE_ORDERS,
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

FORMAT: Final = "csv"
LABEL: Final = "CSV file"

COLUMN_KEYS: Final = (
    "date",
    "amount",
    "debit",
    "credit",
    "fee",
    "tips",
    "currency",
    "description",
    "external_id",
    "counterparty",
    "kind",
)
KINDS: Final = ("income", "refund", "fee", "transfer", "skip")
SIGNS: Final = ("income_positive", "income_negative")
SKIP: Final = "skip"


def _text(d: Mapping[str, Any], key: str, default: str = "") -> str:
    value = d.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string, not {type(value).__name__}")
    return value


def _separator(value: str, key: str, *, allow_empty: bool) -> str:
    if len(value) > 1 or (not value and not allow_empty):
        raise ValueError(f"{key} must be a single character, not {value!r}")
    if value and (value.isdigit() or value in "+-()"):
        raise ValueError(f"{key} {value!r} cannot be a digit, a sign or a bracket")
    return value


def _check_date_format(pattern: str) -> None:
    """Refuse a pattern that cannot read back the dates it writes: an unknown directive
    (``%Q``), or one without the day, month or year (``%H:%M`` read every row as
    1 January 1900)."""
    for day in (date(2024, 1, 31), date(2025, 12, 5)):
        try:
            read = datetime.strptime(day.strftime(pattern), pattern).date()  # noqa: DTZ007
        except ValueError:
            read = None
        if read != day:
            raise ValueError(
                f"date_format {pattern!r} does not read a day, month and year "
                f"(e.g. {day.isoformat()} written with it does not read back)"
            )


@dataclass(frozen=True)
class ImportProfile:
    """How to read one kind of CSV file.  See the module docstring for the row rules."""

    name: str
    columns: Mapping[str, str]
    currency: str = ""  # fixed ISO 4217 currency when there is no currency column
    kind_map: Mapping[str, str] = field(default_factory=dict)
    date_format: str = ""  # strptime pattern such as "%d.%m.%Y"; or state date_order
    date_order: str = ""  # "MDY", "DMY" or "YMD"; empty: settled from the file
    decimal_separator: str = "."
    thousands_separator: str = ","  # "" when the file never groups digits
    sign: str = "income_positive"
    encoding: str = "utf-8-sig"
    delimiter: str | None = None  # None: sniffed from the file
    skip_rows: int = 0  # preamble lines before the header

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("name must be a non-empty string")
        if not isinstance(self.columns, Mapping):
            raise ValueError("columns must be an object mapping fields to column names")
        columns: dict[str, str] = {}
        for key, value in self.columns.items():
            if key not in COLUMN_KEYS:
                raise ValueError(
                    f"columns.{key} is not a field Keel reads (use {', '.join(COLUMN_KEYS)})"
                )
            if not isinstance(value, str):
                raise ValueError(f"columns.{key} must be a column name (a string)")
            if value.strip():
                columns[key] = value.strip()
        if "date" not in columns:
            raise ValueError("columns.date is required: the column with the date")
        has_amount = "amount" in columns
        has_pair = "debit" in columns or "credit" in columns
        if has_amount == has_pair:
            raise ValueError(
                "columns: give either columns.amount or columns.debit and columns.credit"
            )
        if has_pair and not ("debit" in columns and "credit" in columns):
            raise ValueError("columns.debit and columns.credit go together")
        object.__setattr__(self, "columns", MappingProxyType(columns))
        if self.currency:
            try:
                Currencies().fixed(self.currency)
            except ValueError as exc:
                raise ValueError(f"currency: {exc}") from exc
            object.__setattr__(self, "currency", self.currency.strip().upper())
        elif "currency" not in columns:
            raise ValueError("currency is required when there is no columns.currency")
        if not isinstance(self.kind_map, Mapping):
            raise ValueError("kind_map must be an object mapping values to kinds")
        kinds: dict[str, str] = {}
        for value, kind in self.kind_map.items():
            if not isinstance(value, str) or not isinstance(kind, str):
                raise ValueError("kind_map must map strings to strings")
            if kind.strip().lower() not in KINDS:
                raise ValueError(f"kind_map[{value!r}] is {kind!r}; use one of {', '.join(KINDS)}")
            kinds[" ".join(value.split())] = kind.strip().lower()
        if kinds and "kind" not in columns:
            raise ValueError("kind_map needs columns.kind, the column its values are in")
        object.__setattr__(self, "kind_map", MappingProxyType(kinds))
        if not isinstance(self.date_format, str):
            raise ValueError("date_format must be a string")
        if self.date_format and "%" not in self.date_format:
            raise ValueError(f"date_format {self.date_format!r} is not a strftime pattern")
        if self.date_format:
            _check_date_format(self.date_format)
        if self.date_order and self.date_order not in DATE_ORDERS:
            raise ValueError(f"date_order must be one of {', '.join(DATE_ORDERS)}")
        _separator(self.decimal_separator, "decimal_separator", allow_empty=False)
        _separator(self.thousands_separator, "thousands_separator", allow_empty=True)
        if self.decimal_separator == self.thousands_separator:
            raise ValueError("decimal_separator and thousands_separator must differ")
        if self.sign not in SIGNS:
            raise ValueError(f"sign must be one of {', '.join(SIGNS)}, not {self.sign!r}")
        try:
            # A text reader, not just a lookup: codecs also names bytes-to-bytes and
            # text-to-text codecs (base64, uu, rot13) that cannot turn a file into text.
            io.TextIOWrapper(io.BytesIO(), encoding=self.encoding)
        except (LookupError, TypeError) as exc:
            raise ValueError(f"encoding {self.encoding!r} is not a known text encoding") from exc
        if self.delimiter is not None and (
            not isinstance(self.delimiter, str)
            or len(self.delimiter) != 1
            or self.delimiter in '"\r\n'
        ):
            raise ValueError("delimiter must be one character (or null to sniff it)")
        if isinstance(self.skip_rows, bool) or not isinstance(self.skip_rows, int):
            raise ValueError("skip_rows must be a whole number")
        if not 0 <= self.skip_rows <= 1000:
            raise ValueError("skip_rows must be between 0 and 1000")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ImportProfile:
        if not isinstance(d, Mapping):
            raise ValueError("a profile must be an object")
        known = {
            "name",
            "columns",
            "currency",
            "kind_map",
            "date_format",
            "date_order",
            "decimal_separator",
            "thousands_separator",
            "sign",
            "encoding",
            "delimiter",
            "skip_rows",
        }
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"{unknown[0]} is not a profile setting")
        columns = d.get("columns")
        if not isinstance(columns, Mapping):
            raise ValueError("columns must be an object mapping fields to column names")
        kind_map = d.get("kind_map") or {}
        delimiter = d.get("delimiter")
        skip_rows = d.get("skip_rows", 0)
        return cls(
            name=_text(d, "name"),
            columns=dict(columns),
            currency=_text(d, "currency"),
            kind_map=dict(kind_map) if isinstance(kind_map, Mapping) else kind_map,
            date_format=_text(d, "date_format"),
            date_order=_text(d, "date_order"),
            decimal_separator=_text(d, "decimal_separator", "."),
            thousands_separator=_text(d, "thousands_separator", ","),
            sign=_text(d, "sign", "income_positive"),
            encoding=_text(d, "encoding", "utf-8-sig"),
            delimiter=delimiter if delimiter is None else _text(d, "delimiter"),
            skip_rows=skip_rows,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "columns": dict(self.columns),
            "currency": self.currency,
            "kind_map": dict(self.kind_map),
            "date_format": self.date_format,
            "date_order": self.date_order,
            "decimal_separator": self.decimal_separator,
            "thousands_separator": self.thousands_separator,
            "sign": self.sign,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "skip_rows": self.skip_rows,
        }


_KIND_OF: Final = {
    "income": RowKind.INCOME,
    "refund": RowKind.REFUND,
    "fee": RowKind.FEE,
    "transfer": RowKind.TRANSFER,
}


def parse(
    stream: BinaryIO,
    *,
    profile: ImportProfile | None = None,
    date_order: str | None = None,
    currency: str | None = None,
    progress: Progress | None = None,
    **_: object,
) -> ParsedFile:
    if profile is None:
        raise ImportFormatError("the csv format needs an import profile")
    columns = [Column(key, (name,)) for key, name in profile.columns.items()]
    with open_table(
        stream,
        columns,
        label=f"{profile.name!r} profile's",
        encoding=profile.encoding,
        delimiter=profile.delimiter,
        skip_rows=profile.skip_rows,
        sniff=profile.delimiter is None,
        progress=progress,
    ) as table:
        order = date_order or profile.date_order or None
        dates = DateReader(order, pattern="" if date_order else profile.date_format)
        numbers = Numbers(profile.decimal_separator, profile.thousands_separator)
        convert = _converter(table, profile, dates, numbers, currency)
        items, rejected = collect(table, convert, (dates, numbers))
        return finish(FORMAT, items, rejected, table.count, (dates, numbers))


def _converter(
    table: Table,
    profile: ImportProfile,
    dates: DateReader,
    numbers: Numbers,
    currency: str | None,
) -> Callable[[int, list[str]], ParsedRow | SkippedRow]:
    ix, names = table.index, table.names

    def at(key: str) -> tuple[int, str]:
        return ix.get(key, -1), names.get(key, "")

    i_date, c_date = at("date")
    i_amount, c_amount = at("amount")
    i_debit, c_debit = at("debit")
    i_credit, c_credit = at("credit")
    i_fee, c_fee = at("fee")
    i_tips, c_tips = at("tips")
    i_currency, c_currency = at("currency")
    i_desc, _ = at("description")
    i_id, _ = at("external_id")
    i_party, _ = at("counterparty")
    i_kind, _ = at("kind")
    currencies = Currencies()
    fixed = (
        currencies.fixed(currency or profile.currency) if (currency or profile.currency) else None
    )
    flip = profile.sign == "income_negative"
    kind_map = {value.casefold(): kind for value, kind in profile.kind_map.items()}

    def convert(line: int, cells: list[str]) -> ParsedRow | SkippedRow:
        kind_text = norm(cells[i_kind]) if i_kind >= 0 else ""
        mapped = kind_map.get(kind_text.casefold()) if kind_text else None
        if mapped == SKIP:
            return SkippedRow(line, f"{kind_text!r} rows are skipped by the profile")
        occurred_on = dates.parse(cells[i_date], line, c_date)
        if fixed is not None and not (i_currency >= 0 and cells[i_currency].strip()):
            code, exponent = fixed
        elif i_currency >= 0:
            code, exponent = currencies.parse(cells[i_currency], c_currency)
        else:  # pragma: no cover - the profile guarantees one of the two
            raise RowError("", "no currency")
        if i_amount >= 0:
            if not cells[i_amount].strip() and not any(
                i >= 0 and cells[i].strip() for i in (i_fee, i_tips)
            ):
                # Bank exports carry balance lines with a date and no amount (Bank of
                # America's "Beginning balance as of ..."): they move no money, and
                # refusing them refused every such file.
                return SkippedRow(line, "no amount: moves no money (a balance line)")
            amount = numbers.required(cells[i_amount], code, exponent, line, c_amount)
            if flip:
                amount = -amount
        else:
            debit = numbers.optional(cells[i_debit], code, exponent, line, c_debit)
            credit = numbers.optional(cells[i_credit], code, exponent, line, c_credit)
            if debit and credit:
                raise RowError(c_credit, "both the debit and the credit column are filled")
            if not debit and not credit and not (cells[i_debit].strip() or cells[i_credit].strip()):
                raise RowError(c_debit, "neither the debit nor the credit column has an amount")
            amount = abs(credit) - abs(debit)
        fee = abs(numbers.optional(cells[i_fee], code, exponent, line, c_fee)) if i_fee >= 0 else 0
        tips = (
            abs(numbers.optional(cells[i_tips], code, exponent, line, c_tips)) if i_tips >= 0 else 0
        )
        if amount == 0 and fee == 0 and tips == 0:
            return SkippedRow(line, "amount is zero: moves no money")
        # Money out that the profile does not call a transfer (rent, a bill, a purchase) is
        # spent: it leaves the worker's books rather than moving to their cash.
        spent = False
        if mapped is not None:
            kind = _KIND_OF[mapped]
            if kind is RowKind.INCOME and amount < 0:
                raise RowError(
                    c_amount or c_debit,
                    f"{kind_text!r} is income in the profile, but the amount takes money out",
                )
            if kind is RowKind.REFUND:
                amount = -abs(amount)
        else:
            kind = RowKind.INCOME if amount > 0 or (amount == 0 and tips) else RowKind.TRANSFER
            spent = kind is RowKind.TRANSFER
        description = norm(cells[i_desc]) if i_desc >= 0 else ""
        counterparty = norm(cells[i_party]) if i_party >= 0 else ""
        external_id = cells[i_id].strip() if i_id >= 0 else ""
        raw = (
            ()
            if external_id
            else (
                occurred_on.isoformat(),
                code,
                str(amount),
                str(fee),
                str(tips),
                description,
                counterparty,
                kind_text,
            )
        )
        if kind is RowKind.TRANSFER or kind is RowKind.FEE:
            tips = 0
        return make_row(
            line,
            kind,
            occurred_on,
            code,
            amount,
            fee,
            external_id=external_id,
            description=description,
            counterparty=counterparty,
            raw=raw,
            source_type=kind_text,
            tips=tips if kind is RowKind.INCOME else 0,
            spent=spent,
        )

    return convert
