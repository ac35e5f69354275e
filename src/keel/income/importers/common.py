"""What every importer shares: reading the text, finding columns by name, dates, amounts.

The pieces are small on purpose and tuned for the hot loop: a million-row export goes
through ``Table.run`` (``csv.reader`` over a streaming decoder) and a handful of
dictionary look-ups per row.  Nothing here reads the whole file into memory.

File-level decisions (the order of day and month in ``03/04/2024``, whether ``1.234``
uses a decimal comma) are taken from the file itself when the user did not state them:
the readers settle them on the first value that can only be read one way, say so in the
file's notes, and ask the importer to *defer* rows they cannot read yet.  Deferred rows
are read again at the end of the file; if nothing in the file settled the question, they
are rejected with a reason that tells the user what to state.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from itertools import chain
from operator import attrgetter
from typing import IO, Any, BinaryIO, Final

from keel.money import MoneyError, get_currency, parse_amount

from .base import (
    ImportFormatError,
    ParsedFile,
    ParsedRow,
    Progress,
    RejectedRow,
    RowKind,
    SkippedRow,
)

__all__ = [
    "DATE_ORDERS",
    "MAX_AMOUNT",
    "Column",
    "Currencies",
    "DateReader",
    "Deferred",
    "Numbers",
    "RowError",
    "Table",
    "check_net",
    "collect",
    "finish",
    "make_row",
    "norm",
    "normalize_header",
    "open_table",
    "sep_hint",
]

DATE_ORDERS: Final = ("MDY", "DMY", "YMD")
PROGRESS_EVERY: Final = 10_000
_CANDIDATE_DELIMITERS: Final = (",", ";", "\t", "|")
_SNIFF_CHARS: Final = 64 * 1024
_SNIFF_LIMIT: Final = 16 * 1024
_SNIFF_LINE: Final = 2 * 1024
_CACHE_LIMIT: Final = 50_000
_BLANK: Final = " \t\r\n\f\v,;|"
_UTF16_BOMS: Final = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_UTF16_ADVICE: Final = (
    "save it as CSV UTF-8, or use the csv format with a profile whose encoding is utf-16"
)


# --------------------------------------------------------------------------- errors


class RowError(Exception):
    """A row cannot be read: it is rejected with this column (header name) and reason."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


class Deferred(Exception):
    """The row depends on a file-level decision not taken yet: read it again at the end."""


# --------------------------------------------------------------------------- text


def norm(text: str) -> str:
    """Collapse runs of whitespace and trim: the form identities and descriptions use."""
    return " ".join(text.split())


def normalize_header(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").replace("\u00a0", " ").split()).casefold()


@dataclass(frozen=True, slots=True)
class Column:
    """A column an importer reads, found by any of ``names`` (case and spacing ignored)."""

    key: str
    names: tuple[str, ...]
    required: bool = True


class _RawAdapter(io.RawIOBase):
    """Lets ``io.TextIOWrapper`` read from any object with a ``read(n)`` method."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        if not isinstance(data, bytes | bytearray):
            raise ImportFormatError("the upload is not a binary stream")
        n = len(data)
        buffer[:n] = data
        return n


def _check_encoding(encoding: str) -> str:
    try:
        # A text reader refuses codecs that are not text encodings (base64, uu, rot13).
        io.TextIOWrapper(io.BytesIO(), encoding=encoding)
        return codecs.lookup(encoding).name
    except LookupError as exc:
        raise ImportFormatError(f"unknown text encoding {encoding!r}") from exc


class Table:
    """A CSV file opened for reading by column name.

    Use as a context manager; ``run`` (through ``collect``) reads the records after the
    header.  ``index`` maps each found column's key to its position, ``names`` to the
    header name as written in the file (what rejected rows name).
    """

    def __init__(
        self,
        stream: BinaryIO,
        columns: Sequence[Column],
        *,
        label: str,
        encoding: str = "utf-8-sig",
        delimiter: str | None = None,
        skip_rows: int = 0,
        sniff: bool = False,
        progress: Progress | None = None,
    ) -> None:
        self.label = label
        self.encoding = _check_encoding(encoding)
        self.progress = progress
        self.count = 0
        self._stream = stream
        try:
            self._start = stream.tell() if stream.seekable() else -1
        except (AttributeError, OSError, ValueError):
            self._start = -1
        buffer: IO[bytes]
        if isinstance(stream, io.BufferedIOBase | io.RawIOBase):
            buffer = stream
            self._own_buffer = False
        elif hasattr(stream, "read"):
            buffer = io.BufferedReader(_RawAdapter(stream))
            self._own_buffer = True
        else:
            raise ImportFormatError("the upload is not a readable stream")
        self._text = io.TextIOWrapper(buffer, encoding=encoding, errors="strict", newline="")
        try:
            self._open(columns, delimiter, skip_rows, sniff)
        except BaseException:
            self.close()
            raise

    # -- opening

    def _readline(self) -> str:
        try:
            return self._text.readline()
        except UnicodeError as exc:
            raise self._decode_error(exc, self._base + 1) from exc

    def _decode_error(self, exc: UnicodeError, line: int) -> ImportFormatError:
        if not isinstance(exc, UnicodeDecodeError):
            # A decoder that refuses the stream as a whole, such as UTF-16 given bytes
            # that do not start with its byte-order mark.
            return ImportFormatError(
                f"line {line}: the file is not {self.encoding} text ({exc}); check the "
                "encoding the profile names",
                line=line,
            )
        exact = _bad_byte_line(self._stream, self._start, self.encoding) if self._start >= 0 else 0
        where = f"line {exact}" if exact else f"at or after line {line}"
        name = "UTF-8" if self.encoding in ("utf-8", "utf-8-sig") else self.encoding
        if name == "UTF-8" and exc.start == 0 and bytes(exc.object[:2]) in _UTF16_BOMS:
            # Excel's "Unicode text" and some bank exports: the BOM names the encoding.
            return ImportFormatError(
                f"line 1: the file is UTF-16 text, not UTF-8; {_UTF16_ADVICE}", line=1
            )
        advice = (
            "save it as UTF-8, or use the csv format with a profile that names its encoding"
            if name == "UTF-8"
            else "check the encoding the profile names"
        )
        return ImportFormatError(
            f"{where}: the file is not {name} text ({exc.reason}); {advice}",
            line=exact or line,
        )

    def _open(
        self, columns: Sequence[Column], delimiter: str | None, skip_rows: int, sniff: bool
    ) -> None:
        self._base = 0
        for _ in range(skip_rows):
            if not self._readline():
                raise ImportFormatError(
                    f"the file has fewer than {skip_rows} lines before its header (it ends "
                    f"at line {self._base + 1})",
                    line=self._base + 1,
                )
            self._base += 1
        first = self._readline()
        # A blank line before the header may come padded with delimiters (";;;;"), as a
        # spreadsheet writes every row of its used range.
        while first and not first.strip(_BLANK):
            self._base += 1
            first = self._readline()
        if not first:
            raise self._no_header()
        hint = sep_hint(first)
        if hint:
            # Excel's hint line ("sep=;") names the delimiter of the rest.
            delimiter = delimiter or hint
            self._base += 1
            first = self._readline()
            if not first:
                raise self._no_header()
        buffered = first
        wanted = {normalize_header(n) for c in columns for n in c.names}
        if delimiter is None:
            if sniff:
                sample = first + self._read_sample()
                buffered = sample
                delimiter = _sniff_delimiter(sample, first, wanted)
            else:
                delimiter = _header_delimiter(first, wanted)
        if len(delimiter) != 1:
            raise ImportFormatError(f"the delimiter must be one character, not {delimiter!r}")
        self.delimiter = delimiter
        base = self._base + 1
        self._nul: list[tuple[int, bool]] = []
        self._reader = csv.reader(
            _watch_nul(chain(io.StringIO(buffered, newline=""), self._text), base, self._nul),
            delimiter=delimiter,
            quotechar='"',
            doublequote=True,
            skipinitialspace=False,
            strict=False,
        )
        try:
            header = next(self._reader)
        except (csv.Error, StopIteration) as exc:
            raise ImportFormatError(
                f"line {self._base + 1}: unreadable header ({exc})", line=self._base + 1
            ) from exc
        self.header_line = self._base + 1
        if self._nul:
            line, utf16 = self._nul[0]
            if utf16:
                raise ImportFormatError(
                    f"line {line}: the file looks like UTF-16 text without its byte-order "
                    f"mark; {_UTF16_ADVICE}",
                    line=line,
                )
            raise ImportFormatError(
                f"line {line}: the header holds a NUL byte, which a text export never has; "
                "the file is damaged or not a CSV file: export it again as CSV",
                line=line,
            )
        self.header = header
        found: dict[str, int] = {}
        for index, name in enumerate(header):
            key = normalize_header(name)
            if key and key not in found:
                found[key] = index
        self.index: dict[str, int] = {}
        self.names: dict[str, str] = {}
        missing: list[str] = []
        for col in columns:
            for alias in col.names:
                position = found.get(normalize_header(alias))
                if position is not None:
                    self.index[col.key] = position
                    self.names[col.key] = header[position].replace("\ufeff", "").strip()
                    break
            else:
                if col.required:
                    missing.append(col.names[0])
        if missing:
            shown = ", ".join(h.strip() for h in header if h.strip())
            plural = "columns" if len(missing) > 1 else "column"
            raise ImportFormatError(
                f"this is not a {self.label} file: missing required {plural} "
                f"{', '.join(repr(m) for m in missing)} (the header has: {shown[:300]})",
                column=missing[0],
                line=self.header_line,
            )
        self.width = max(self.index.values(), default=-1) + 1

    def _no_header(self) -> ImportFormatError:
        return ImportFormatError(
            f"the file is empty: no {self.label} header found (line {self._base + 1})",
            line=self._base + 1,
        )

    def _read_sample(self) -> str:
        try:
            sample = self._text.read(_SNIFF_CHARS)
            if sample and not sample.endswith(("\n", "\r")):
                sample += self._text.readline()
        except UnicodeError as exc:
            raise self._decode_error(exc, self._base + 1) from exc
        return sample

    # -- reading

    def has(self, key: str) -> bool:
        return key in self.index

    def run(
        self,
        convert: Callable[[int, list[str]], Any],
        items: list[Any],
        rejected: list[RejectedRow],
        deferred: list[tuple[int, list[str]]],
    ) -> None:
        """Read every non-blank record after the header: the hottest loop in Keel's imports.

        ``line`` is the physical line the record starts on (quoted fields may span lines);
        ``cells`` is padded to ``width``.  Appends ``convert(line, cells)`` to ``items``
        (unless None); a ``RowError`` goes to ``rejected`` and a ``Deferred`` row to
        ``deferred``.
        """
        reader = self._reader
        base = self._base
        width = self.width
        progress = self.progress
        count = self.count
        previous = reader.line_num
        append = items.append
        nul = self._nul
        header = self.header
        try:
            for cells in reader:
                line = base + previous + 1
                previous = reader.line_num
                if not cells or (not cells[0] and not any(cells)):
                    continue
                if len(cells) < width:
                    cells.extend([""] * (width - len(cells)))
                count += 1
                if count % PROGRESS_EVERY == 0:
                    self.count = count
                    if progress is not None:
                        progress(count)
                if nul:
                    nul.clear()
                    rejected.append(_nul_row(line, cells, header))
                    continue
                try:
                    item = convert(line, cells)
                except RowError as exc:
                    rejected.append(RejectedRow(line, exc.column, exc.reason))
                    continue
                except Deferred:
                    deferred.append((line, cells))
                    continue
                if item is not None:
                    append(item)
        except UnicodeError as exc:
            raise self._decode_error(exc, base + reader.line_num + 1) from exc
        except csv.Error as exc:
            where = base + reader.line_num
            raise ImportFormatError(f"line {where}: unreadable CSV ({exc})", line=where) from exc
        finally:
            self.count = count

    def close(self) -> None:
        text = getattr(self, "_text", None)
        if text is None:
            return
        self._text = None  # type: ignore[assignment]
        try:
            detached = text.detach()  # never close the caller's stream
        except ValueError:
            return
        if self._own_buffer:
            detached.close()

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Excel's hint line, also as another program writes it back after reading it as a cell:
# quoted ("sep=;" holds the delimiter) and padded with the delimiters of empty cells.
_SEP_HINT = re.compile(r'\s*"?sep=([^"\r\n])"?[,;\t|]*\s*\Z', re.IGNORECASE)


def sep_hint(line: str) -> str:
    """The delimiter an Excel ``sep=`` hint line names, or "" when ``line`` is not one."""
    m = _SEP_HINT.fullmatch(line)
    return m[1] if m else ""


def _watch_nul(lines: Iterable[str], first: int, found: list[tuple[int, bool]]) -> Iterator[str]:
    """The lines of the file from its header on (``first`` is the header's line number).

    Each line holding a NUL is noted in ``found``, with whether it looks like UTF-16 (a NUL
    beside every letter): no text export has one, and PostgreSQL cannot store one in a
    text column, so the row it is in is rejected (``Table.run``) and a header with one
    refuses the file.  One string search per line keeps this off the import's hot path.
    """
    line = first
    for text in lines:
        if "\x00" in text:
            found.append((line, text.count("\x00") * 3 >= len(text)))
        line += 1
        yield text


def _nul_row(line: int, cells: list[str], header: list[str]) -> RejectedRow:
    at = next((i for i, cell in enumerate(cells) if "\x00" in cell), len(header))
    column = header[at].replace("\ufeff", "").strip() if at < len(header) else ""
    return RejectedRow(
        line, column, "the cell holds a NUL byte, which a text export never has (damaged file)"
    )


def _bad_byte_line(stream: Any, start: int, encoding: str) -> int:
    """The 1-based line of the first byte ``encoding`` cannot decode; 0 if unknown.

    Reads the stream again from ``start``, so only for seekable streams (uploads are).
    Lines are counted by their ``\\n`` (or, in a file without any, ``\\r``) bytes, which
    ASCII-compatible encodings never use inside a character.
    """
    try:
        line: int
        stream.seek(start)
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        newlines = returns = 0
        while True:
            chunk = stream.read(1 << 16)
            if not chunk:
                return 0
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                # exc.start counts from the bytes the decoder held back plus this chunk.
                held = len(exc.object) - len(chunk)
                before = chunk[: max(exc.start - held, 0)]
                newlines += before.count(b"\n")
                returns += before.count(b"\r")
                line = 1 + (newlines or returns)
                return line
            newlines += chunk.count(b"\n")
            returns += chunk.count(b"\r")
    except (OSError, ValueError, AttributeError, LookupError):
        return 0


def open_table(
    stream: BinaryIO,
    columns: Sequence[Column],
    *,
    label: str,
    encoding: str = "utf-8-sig",
    delimiter: str | None = None,
    skip_rows: int = 0,
    sniff: bool = False,
    progress: Progress | None = None,
) -> Table:
    return Table(
        stream,
        columns,
        label=label,
        encoding=encoding,
        delimiter=delimiter,
        skip_rows=skip_rows,
        sniff=sniff,
        progress=progress,
    )


def split_header(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter, strict=False), [])
    except csv.Error:
        return []


def _header_delimiter(line: str, wanted: set[str]) -> str:
    """The delimiter under which the header line names the most wanted columns."""
    best, best_score = ",", (-1, -1)
    for candidate in _CANDIDATE_DELIMITERS:
        cells = split_header(line, candidate)
        hits = sum(1 for c in cells if normalize_header(c) in wanted)
        score = (hits, len(cells))
        if score > best_score:
            best, best_score = candidate, score
    return best


def _sniff_delimiter(sample: str, first: str, wanted: set[str]) -> str:
    """Sniff the dialect of a profile's file with clevercsv; fall back to the header.

    clevercsv's cost grows quickly with long cells, so it sees at most 16 KiB in whole
    lines, and none when a line is longer than 2 KiB (the header decides then).
    """
    sample = sample[:_SNIFF_LIMIT]
    if len(sample) == _SNIFF_LIMIT and "\n" in sample:
        sample = sample[: sample.rindex("\n") + 1]
    if max((len(line) for line in sample.splitlines()), default=0) <= _SNIFF_LINE:
        try:
            from clevercsv import Detector  # lazily: only the generic format needs it

            dialect = Detector().detect(sample, delimiters=list(_CANDIDATE_DELIMITERS))
        except Exception:
            dialect = None
        delimiter = getattr(dialect, "delimiter", None)
        if isinstance(delimiter, str) and len(delimiter) == 1:
            return delimiter
    return _header_delimiter(first, wanted)


# --------------------------------------------------------------------------- dates

_MONTHS: Final = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_TIME: Final = (
    r"(?:(?:T|,?\s+)\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s*[AaPp]\.?[Mm]\.?)?"
    r"(?:\s*(?:Z|UTC|GMT|[+-]\d{2}:?\d{2}|[A-Z]{2,5}))?)?\s*\Z"
)
_ISO = re.compile(r"\s*(\d{4})([-/.])(\d{1,2})\2(\d{1,2})" + _TIME)
_NUMERIC = re.compile(r"\s*(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})" + _TIME)
_MONTH_FIRST = re.compile(
    r"\s*(?:[A-Za-z]{3,9},?\s+)??([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4}|\d{2})"
    + _TIME
)
_DAY_FIRST = re.compile(
    r"\s*(\d{1,2})(?:st|nd|rd|th)?(?:\s+|-)([A-Za-z]{3,9})\.?,?(?:\s+|-)(\d{4}|\d{2})" + _TIME
)
_ORDER_WORDS: Final = {"MDY": "month/day/year", "DMY": "day/month/year", "YMD": "year/month/day"}


def _make_date(year: int, month: int, day: int, text: str, column: str) -> date:
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise RowError(column, f"{text.strip()!r} is not a valid date ({exc})") from exc


class DateReader:
    """Reads one date column; settles day/month order from the file when not stated."""

    def __init__(self, order: str | None = None, *, pattern: str = "", label: str = "") -> None:
        if order is not None and order not in DATE_ORDERS:
            raise ValueError(f"date_order must be one of {', '.join(DATE_ORDERS)}, not {order!r}")
        self.order = order
        self.stated = order is not None
        self.pattern = pattern
        self.label = label
        self.final = False
        self.evidence: tuple[int, str] | None = None
        self.notes: list[str] = []
        self.cache: dict[str, date] = {}

    def parse(self, text: str, line: int, column: str) -> date:
        cached = self.cache.get(text)
        if cached is not None:
            return cached
        value = self._strptime(text, column) if self.pattern else self._parse(text, line, column)
        if len(self.cache) >= _CACHE_LIMIT:  # timestamps rarely repeat: keep memory bounded
            self.cache.clear()
        self.cache[text] = value
        return value

    def _strptime(self, text: str, column: str) -> date:
        try:
            return datetime.strptime(text.strip(), self.pattern).date()  # noqa: DTZ007
        except ValueError as exc:
            if not text.strip():
                raise RowError(column, "date is empty") from exc
            raise RowError(
                column, f"{text.strip()!r} does not match the date format {self.pattern!r}"
            ) from exc

    def _parse(self, text: str, line: int, column: str) -> date:
        m = _ISO.match(text)
        if m:  # year first is year/month/day in every convention
            return _make_date(int(m[1]), int(m[3]), int(m[4]), text, column)
        m = _MONTH_FIRST.match(text)
        if m and m[1].lower() in _MONTHS:
            return _make_date(_year(m[3]), _MONTHS[m[1].lower()], int(m[2]), text, column)
        m = _DAY_FIRST.match(text)
        if m and m[2].lower() in _MONTHS:
            return _make_date(_year(m[3]), _MONTHS[m[2].lower()], int(m[1]), text, column)
        m = _NUMERIC.match(text)
        if m:
            return self._numeric(m, text, line, column)
        if not text.strip():
            raise RowError(column, "date is empty")
        raise RowError(column, f"{_show(text)} is not a date Keel can read")

    def _numeric(self, m: re.Match[str], text: str, line: int, column: str) -> date:
        first, separator, second, year_text = int(m[1]), m[2], int(m[3]), m[4]
        shown = text.strip()
        if len(year_text) == 2:
            raise RowError(
                column,
                f"{shown!r} has a two-digit year; export four-digit years, or use the csv "
                "format with a date_format",
            )
        year = int(year_text)
        order = self.order
        if order is None and separator == ".":
            order = "DMY"  # dotted dates are day.month.year wherever they are written
        if order == "YMD":
            raise RowError(column, f"{shown!r} does not fit the stated year/month/day order")
        if order is None:
            if first > 12 and second <= 12:
                self._settle("DMY", line, shown)
                order = "DMY"
            elif second > 12 and first <= 12:
                self._settle("MDY", line, shown)
                order = "MDY"
            elif first == second:
                return _make_date(year, first, second, text, column)
            elif first > 12 and second > 12:
                raise RowError(column, f"{shown!r} is not a valid date (no month in it)")
            elif self.final:
                raise RowError(
                    column,
                    f"ambiguous date {shown!r}: it could be {_month_name(first)} {second} or "
                    f"{_month_name(second)} {first}, and no date in the file settles which; "
                    "state the order (date_order MDY or DMY)",
                )
            else:
                raise Deferred
        month, day = (first, second) if order == "MDY" else (second, first)
        if month > 12:
            why = "the stated" if self.stated else "the file's"
            settled = ""
            if self.evidence is not None and not self.stated:
                settled = f", settled by line {self.evidence[0]}: {self.evidence[1]!r}"
            raise RowError(
                column,
                f"{shown!r} does not fit {why} {_ORDER_WORDS[order]} order{settled}",
            )
        return _make_date(year, month, day, text, column)

    def _settle(self, order: str, line: int, text: str) -> None:
        self.order = order
        self.evidence = (line, text)
        what = self.label or "dates"
        self.notes.append(
            f"{what} read as {_ORDER_WORDS[order]}: line {line} has {text!r}, "
            "which can only be read that way"
        )


def _year(text: str) -> int:
    return int(text) if len(text) == 4 else 2000 + int(text)


def _month_name(month: int) -> str:
    return date(2000, month, 1).strftime("%B") if 1 <= month <= 12 else str(month)


def _show(text: str) -> str:
    text = text.strip()
    return repr(text if len(text) <= 40 else text[:37] + "...")


# --------------------------------------------------------------------------- amounts

_PLAIN_POINT = re.compile(r"([-+]?)(\d{1,30})(?:\.(\d{1,30}))?\Z")
_PLAIN_COMMA = re.compile(r"([-+]?)(\d{1,30})(?:,(\d{1,30}))?\Z")
_SPACE_GROUPS: Final = frozenset(" \u00a0\u202f")
_POW10: Final[tuple[int, ...]] = tuple(10**n for n in range(10))
# The ledger's largest leg (keel.ledger.rules.MAX_LEG_AMOUNT): a larger amount could never
# be booked, and in a 64-bit column it could overflow.
MAX_AMOUNT: Final = 10**15
_APOSTROPHES: Final = frozenset("'\u2019")


class Numbers:
    """Reads amounts in minor units, with a decimal point or comma (stated or inferred).

    ``decimal=None`` settles the separator from the first amount that can only be read one
    way (``12,34`` or ``1,234.56``); amounts without separators read the same either way.
    """

    def __init__(
        self,
        decimal: str | None = ".",
        thousands: str | None = None,
        *,
        empty: frozenset[str] = frozenset({""}),
    ) -> None:
        self.decimal = decimal
        self.thousands = thousands
        self.empty = empty
        self.final = False
        self.notes: list[str] = []
        self._match = (_PLAIN_COMMA if decimal == "," else _PLAIN_POINT).match

    def parse(self, text: str, currency: str, exponent: int, line: int, column: str) -> int:
        """The amount in ``text`` as minor units of ``currency`` (empty text is refused)."""
        m = self._match(text)
        if m is not None:
            sign, whole, frac = m.groups()
            if frac is None:
                value = int(whole) * _POW10[exponent]
                if value <= MAX_AMOUNT:
                    return -value if sign == "-" else value
            elif len(frac) <= exponent and self.decimal is not None:
                value = int(whole + frac.ljust(exponent, "0"))
                if value <= MAX_AMOUNT:
                    return -value if sign == "-" else value
        return self._slow(text, currency, exponent, line, column)

    def optional(self, text: str, currency: str, exponent: int, line: int, column: str) -> int:
        """Like ``parse`` but an empty cell (or one of ``empty``, such as ``--``) is 0."""
        if text in self.empty or text.strip() in self.empty:
            return 0
        return self.parse(text, currency, exponent, line, column)

    def required(self, text: str, currency: str, exponent: int, line: int, column: str) -> int:
        """Like ``parse``, with ``empty`` markers (such as ``--``) refused as empty too."""
        if text in self.empty or text.strip() in self.empty:
            raise RowError(column, "amount is empty")
        return self.parse(text, currency, exponent, line, column)

    def _slow(self, text: str, currency: str, exponent: int, line: int, column: str) -> int:
        decimal = self.decimal
        guessed = ""
        if decimal is None:
            guessed = _guess_decimal(text, exponent)
            if guessed == "?":
                if not self.final:
                    raise Deferred
                raise RowError(
                    column,
                    f"amount {_show(text)} could use either '.' or ',' as its decimal "
                    "separator and no amount in the file settles which; use the csv format "
                    "with a profile that states it",
                )
            decimal = guessed or "."
        thousands = self.thousands
        if thousands is None:
            if any(ch in _SPACE_GROUPS for ch in text):
                thousands = " "
            elif any(ch in _APOSTROPHES for ch in text):
                thousands = "'"
            else:
                thousands = "," if decimal == "." else "."
        try:
            value = parse_amount(
                text, currency, decimal_separator=decimal, thousands_separator=thousands
            )
        except MoneyError as exc:
            raise RowError(column, str(exc)) from exc
        if not -MAX_AMOUNT <= value <= MAX_AMOUNT:
            raise RowError(
                column,
                f"amount {_show(text)} is out of range: Keel books at most "
                f"{MAX_AMOUNT:,} minor units in one amount",
            )
        if guessed:  # settled only by an amount that reads cleanly that way
            self._settle(guessed, line, text)
        return value

    def _settle(self, decimal: str, line: int, text: str) -> None:
        self.decimal = decimal
        self._match = (_PLAIN_COMMA if decimal == "," else _PLAIN_POINT).match
        if decimal == ",":
            self.notes.append(
                f"amounts read with a decimal comma (1.234,56): line {line} has {text.strip()!r}"
            )


def _guess_decimal(text: str, exponent: int) -> str:
    """The decimal separator ``text`` implies: ".", ",", "" (none: any reads the same) or
    "?" (either could be meant, as in ``1.234`` for a currency with three decimals)."""
    point, comma = text.rfind("."), text.rfind(",")
    if point < 0 and comma < 0:
        return ""
    if point >= 0 and comma >= 0:
        return "." if point > comma else ","
    sep = "." if point >= 0 else ","
    other = "," if sep == "." else "."
    if text.count(sep) > 1:
        return other  # repeated: it groups thousands
    position = max(point, comma) + 1
    digits_after = 0
    while position + digits_after < len(text) and text[position + digits_after].isdigit():
        digits_after += 1
    if digits_after != 3:
        return sep
    return other if exponent < 3 else "?"


class Currencies:
    """Validates currency cells (``usd`` and `` USD `` both mean USD) with a cache."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[str, int]] = {}

    def parse(self, text: str, column: str) -> tuple[str, int]:
        """(ISO code, exponent) for ``text``."""
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        code = text.strip().upper()
        if not code:
            raise RowError(column, "currency is empty")
        try:
            cur = get_currency(code)
        except MoneyError as exc:
            raise RowError(column, f"unknown currency {_show(text)}") from exc
        hit = (cur.code, cur.exponent)
        self._cache[text] = hit
        return hit

    def fixed(self, code: str, what: str = "currency") -> tuple[str, int]:
        try:
            cur = get_currency(code.strip().upper())
        except (MoneyError, AttributeError) as exc:
            raise ValueError(f"{what} {code!r} is not an ISO 4217 currency") from exc
        return cur.code, cur.exponent


# --------------------------------------------------------------------------- rows

_EMPTY_RAW: tuple[str, ...] = ()


def make_row(
    line: int,
    kind: RowKind,
    occurred_on: date,
    currency: str,
    amount: int,
    kept: int,
    *,
    external_id: str = "",
    description: str = "",
    counterparty: str = "",
    stream_hint: str = "",
    hours: int | None = None,
    raw: tuple[str, ...] = _EMPTY_RAW,
    related_id: str = "",
    source_type: str = "",
    tips: int = 0,
    spent: bool = False,
) -> ParsedRow | SkippedRow:
    """Build a row from the file's own figures.

    ``amount`` is the signed gross as the source states it (positive into the worker's
    balance), ``kept`` what the platform kept on it (positive for a fee charged, negative
    for a fee given back); the net effect is ``amount + tips - kept``.  A sign that
    contradicts ``kind`` turns it round (an "income" that takes money is a refund, a
    "refund" that brings money is income) so that every row keeps its kind's identity.
    """
    net = amount + tips - kept
    if kind is RowKind.INCOME or kind is RowKind.REFUND:
        if amount > 0 or (amount == 0 and tips > 0):
            return ParsedRow(
                line,
                RowKind.INCOME,
                occurred_on,
                currency,
                amount,
                kept,
                tips,
                net,
                external_id,
                description,
                counterparty,
                stream_hint,
                hours,
                raw,
                related_id,
                source_type,
            )
        if amount < 0:
            return ParsedRow(
                line,
                RowKind.REFUND,
                occurred_on,
                currency,
                -amount,
                kept,
                0,
                net - tips,
                external_id,
                description,
                counterparty,
                stream_hint,
                hours,
                raw,
                related_id,
                source_type,
            )
        kind = RowKind.FEE
    if kind is RowKind.TRANSFER:
        moved = amount - kept if kept < 0 else amount
        if moved != 0:
            fee = kept if kept > 0 else 0
            return ParsedRow(
                line,
                RowKind.TRANSFER,
                occurred_on,
                currency,
                abs(moved),
                fee,
                0,
                moved - fee,
                external_id,
                description,
                counterparty,
                stream_hint,
                hours,
                raw,
                related_id,
                source_type,
                spent,
            )
        kind = RowKind.FEE
    # FEE: the whole net effect is the fee (a positive net is a fee credited back).
    net = amount - kept
    if net == 0:
        return SkippedRow(line, "moves no money (every amount on the row is zero)")
    return ParsedRow(
        line,
        RowKind.FEE,
        occurred_on,
        currency,
        0,
        -net,
        0,
        net,
        external_id,
        description,
        counterparty,
        stream_hint,
        None,
        raw,
        related_id,
        source_type,
    )


def check_net(amount: int, kept: int, net: int, column: str, net_text: str) -> None:
    """Refuse a row whose stated net is not its amount less what the platform kept."""
    if amount - kept != net:
        raise RowError(
            column,
            f"net {net_text.strip()!r} is not the amount less the fee "
            f"({amount - kept} minor units expected, {net} found)",
        )


# --------------------------------------------------------------------------- the loop

_line_of = attrgetter("line")

Convert = Callable[[int, list[str]], Any]


def collect(
    table: Table,
    convert: Convert,
    readers: Iterable[DateReader | Numbers] = (),
    key: Callable[[Any], int] = _line_of,
) -> tuple[list[Any], list[RejectedRow]]:
    """Run ``convert`` on every row; return its results and the rejected rows, in line order.

    ``convert(line, cells)`` returns a result or ``None``, raises ``RowError`` to reject the
    row, or ``Deferred`` to be called again once the whole file has been seen (with its
    ``readers`` switched to ``final``).  ``key`` gives a result's line (``.line`` by default).
    """
    items: list[Any] = []
    rejected: list[RejectedRow] = []
    deferred: list[tuple[int, list[str]]] = []
    append = items.append
    table.run(convert, items, rejected, deferred)
    if deferred:
        for reader in readers:
            reader.final = True
        for line, cells in deferred:
            try:
                item = convert(line, cells)
            except RowError as exc:
                rejected.append(RejectedRow(line, exc.column, exc.reason))
                continue
            except Deferred:  # pragma: no cover - final readers never defer
                rejected.append(RejectedRow(line, "", "row could not be read"))
                continue
            if item is not None:
                append(item)
        items.sort(key=key)
        rejected.sort(key=_line_of)
    return items, rejected


def finish(
    fmt: str,
    results: Iterable[ParsedRow | SkippedRow],
    rejected: list[RejectedRow],
    rows_read: int,
    readers: Iterable[DateReader | Numbers] = (),
    notes: Iterable[str] = (),
) -> ParsedFile:
    """Assemble the ParsedFile; make repeated external ids distinct (``id#2``, ``id#3``)."""
    results = results if isinstance(results, list) else list(results)
    rows: list[ParsedRow] = [item for item in results if type(item) is ParsedRow]
    skipped: list[SkippedRow] = [item for item in results if isinstance(item, SkippedRow)]
    ids = [row.external_id for row in rows if row.external_id]
    repeated = 0
    if len(set(ids)) != len(ids):
        seen: dict[str, int] = {}
        for position, row in enumerate(rows):
            ext = row.external_id
            if ext:
                n = seen.get(ext, 0) + 1
                seen[ext] = n
                if n > 1:
                    repeated += 1
                    rows[position] = replace(row, external_id=f"{ext}#{n}")
    all_notes = [n for r in readers for n in r.notes]
    all_notes.extend(notes)
    if repeated:
        all_notes.append(
            f"{repeated} row(s) repeat a transaction id already used in this file; "
            "they are told apart as id#2, id#3... in file order"
        )
    return ParsedFile(
        format=fmt,
        rows=rows,
        skipped=skipped,
        rejected=rejected,
        rows_read=rows_read,
        notes=all_notes,
    )
