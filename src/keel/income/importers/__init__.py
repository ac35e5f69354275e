"""Platform export files in, ``ParsedFile`` out: one module per format.

``parse(fmt, stream, ...)`` reads a file in one of ``FORMATS``; ``detect_format(head)``
names the format of a file from its first bytes (its header line), or None.  Importers are
pure: no Django, no database.  The income service turns a ``ParsedFile`` into journals
(previewed first, applied whole or not at all).  See ``docs/importers.md``.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import BinaryIO, Final

from keel import collector

from . import (
    csv_profile,
    etsy,
    paypal,
    stripe,
    stripe_itemized,
    upwork,
    upwork_earnings,
    upwork_legacy,
)
from .base import (
    ImportFormatError,
    ParsedFile,
    ParsedRow,
    Progress,
    RejectedRow,
    RowKind,
    SkippedRow,
    row_problems,
)
from .common import DATE_ORDERS, Column, normalize_header, sep_hint, split_header
from .csv_profile import ImportProfile

__all__ = [
    "FORMATS",
    "ImportFormatError",
    "ImportProfile",
    "ImporterSpec",
    "ParsedFile",
    "ParsedRow",
    "RejectedRow",
    "RowKind",
    "SkippedRow",
    "check_head",
    "detect_format",
    "gc_paused",
    "other_export",
    "parse",
    "row_problems",
]

ParseFunction = Callable[..., ParsedFile]


@dataclass(frozen=True, slots=True)
class ImporterSpec:
    name: str
    label: str
    columns: tuple[Column, ...]
    parse: ParseFunction
    needs_profile: bool = False

    def matches(self, header: set[str]) -> bool:
        """Whether a header (normalized names) has every column this format requires."""
        if self.needs_profile:
            return False
        for col in self.columns:
            if col.required and not any(normalize_header(n) in header for n in col.names):
                return False
        if self.name == "stripe-itemized":
            return "created_utc" in header or "created" in header
        return True


def _spec(module: object, *, needs_profile: bool = False) -> ImporterSpec:
    return ImporterSpec(
        name=module.FORMAT,  # type: ignore[attr-defined]
        label=module.LABEL,  # type: ignore[attr-defined]
        columns=tuple(getattr(module, "COLUMNS", ())),
        parse=module.parse,  # type: ignore[attr-defined]
        needs_profile=needs_profile,
    )


FORMATS: Final[Mapping[str, ImporterSpec]] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            _spec(upwork),
            _spec(upwork_legacy),
            _spec(upwork_earnings),
            _spec(stripe),
            _spec(stripe_itemized),
            _spec(paypal),
            _spec(etsy),
            _spec(csv_profile, needs_profile=True),
        )
    }
)

# Most specific first: the Stripe report's names are unique, PayPal's and Etsy's headers are
# distinctive, and an Upwork earnings report matches little else.  Etsy goes before PayPal:
# a newer Etsy statement's Date, Type, Status, Currency and Amount are all PayPal needs
# from a personal account's download, while no PayPal file has Etsy's "Fees & Taxes".
_DETECTION_ORDER: Final = (
    "stripe-itemized",
    "stripe",
    "etsy",
    "paypal",
    "upwork",
    "upwork-legacy",
    "upwork-earnings",
)


# The importers' name for it (the income service pauses around booking, too).
gc_paused = collector.paused


def parse(
    fmt: str,
    stream: BinaryIO,
    *,
    profile: ImportProfile | None = None,
    date_order: str | None = None,
    currency: str | None = None,
    progress: Progress | None = None,
) -> ParsedFile:
    """Read ``stream`` (bytes) as format ``fmt``.

    ``date_order`` ("MDY", "DMY" or "YMD") states the order of numeric dates (otherwise the
    file settles it or its ambiguous dates are refused); ``currency`` overrides the
    currency of formats whose file does not state one (Upwork: USD; a profile's fixed
    currency); ``progress`` is called with the number of rows read every 10,000 rows and
    once at the end.  Raises ``ImportFormatError`` when the file cannot be read as ``fmt``
    at all; rows it cannot read are in ``ParsedFile.rejected`` (line, column, reason).
    """
    spec = FORMATS.get(fmt)
    if spec is None:
        raise ValueError(f"unknown import format {fmt!r}; use one of {', '.join(FORMATS)}")
    if date_order is not None and date_order not in DATE_ORDERS:
        raise ValueError(f"date_order must be one of {', '.join(DATE_ORDERS)}, not {date_order!r}")
    if spec.needs_profile and profile is None:
        raise ValueError(f"the {fmt} format needs an import profile")
    if profile is not None and not isinstance(profile, ImportProfile):
        raise TypeError("profile must be an ImportProfile (use ImportProfile.from_dict)")
    with gc_paused():
        result = spec.parse(
            stream, profile=profile, date_order=date_order, currency=currency, progress=progress
        )
    if progress is not None:
        progress(result.rows_read)
    return result


def check_head(
    fmt: str,
    head: bytes,
    *,
    profile: ImportProfile | None = None,
    date_order: str | None = None,
    currency: str | None = None,
) -> None:
    """Read a file's first bytes as ``fmt`` and raise the ``ImportFormatError`` that reading
    the whole file would raise there (a missing column, the wrong encoding): the check a
    page can afford while the upload is in hand, before the whole file is read elsewhere.

    The head is cut after its last line break so no line is read half; rows it cannot
    read are not this check's business (the full read lists them).
    """
    head = _whole_lines(head, profile.encoding if profile is not None else "utf-8")
    parse(fmt, io.BytesIO(head), profile=profile, date_order=date_order, currency=currency)


def _whole_lines(head: bytes, encoding: str) -> bytes:
    """``head`` up to its last line break: no line, and no character, cut in half."""
    newline = "\n".encode(encoding)
    if newline.endswith(b"\n") and b"\x00" not in newline:
        # ASCII-compatible (UTF-8, Latin-1...): a newline byte is always a line break.
        end = head.rfind(b"\n")
        return head[: end + 1] if end >= 0 else head
    # UTF-16 and UTF-32: a line break is two or four bytes, so cut the text, not the bytes.
    try:
        text = codecs.getincrementaldecoder(encoding)(errors="strict").decode(head, final=False)
    except UnicodeDecodeError:
        return head  # reading it names the line with the bad bytes
    end = text.rfind("\n")
    return (text[: end + 1] if end >= 0 else text).encode(encoding)


# Exports people download from the same platforms that Keel does not read, by columns only
# they have, and which export to download instead: a file refused as "format unknown" then
# says what to do.
_OTHER_EXPORTS: Final = (
    (
        frozenset({"created date (utc)", "amount refunded"}),
        "This is Stripe's payments export. Keel reads the balance history instead: Stripe "
        "Dashboard → Balances → All activity → Export (or Reports → Balance → Balance change "
        "from activity, itemized).",
    ),
    (
        frozenset({"sale date", "order id", "order net"}),
        "This is Etsy's sold orders export. Keel reads the monthly statement instead: Shop "
        "Manager → Finances → Payment account → Monthly statements → Download CSV.",
    ),
)


def other_export(head: bytes) -> str | None:
    """What to download instead when ``head`` is the header of a platform export Keel does
    not read (Stripe's payments export, Etsy's sold orders), or None."""
    names = _header_names(head)
    for columns, advice in _OTHER_EXPORTS:
        if columns <= names:
            return advice
    return None


def detect_format(head: bytes) -> str | None:
    """The format whose header the first line of ``head`` is, or None (use a profile)."""
    best = _header_names(head)
    if not best:
        return None
    for name in _DETECTION_ORDER:
        if FORMATS[name].matches(best):
            return name
    return None


def _header_names(head: bytes) -> set[str]:
    """The normalized column names of the header line of ``head`` (empty if none)."""
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = iter(text.splitlines())
    header_line = ""
    for line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        if sep_hint(stripped):
            continue
        header_line = line
        break
    best: set[str] = set()
    if not header_line:
        return best
    for delimiter in (",", ";", "\t", "|"):
        try:
            names = {normalize_header(c) for c in split_header(header_line, delimiter)}
        except csv.Error:  # pragma: no cover - split_header already swallows it
            continue
        names.discard("")
        if len(names) > len(best):
            best = names
    return best
