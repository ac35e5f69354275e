"""Hostile files: every importer either reads a file or refuses it with ``ImportFormatError``.

Each format's valid sample in docs/samples is mutated the way files get damaged or forged
in the wild: cut at any byte; rows dropped, repeated or shuffled; columns deleted or
swapped; re-encoded (Latin-1, cp1252, UTF-16 with and without its BOM) or sprinkled with
bytes that are not UTF-8; a 1 MB cell; NUL bytes; mixed line endings; spreadsheet formulas
(``=HYPERLINK(...)``, ``+cmd``, ``@SUM(1)``); any unicode at all.  Whatever comes out:

* a refusal is an ``ImportFormatError`` whose message says where (its line, and the
  column it names); any other exception fails the test;
* a file that is read keeps every rule of ``ParsedFile``: each row keeps its kind's
  identity, amounts are integers, rejected rows name their line and say why, and no text
  carries a NUL (PostgreSQL refuses to store one).

The pure parse functions take the bulk of the examples (fast); the last tests go through
the import page, the way a worker's upload goes, and check that a refused file changes
nothing in the books.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import random
from dataclasses import fields

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keel.accounts.models import User
from keel.accounts.services import create_worker
from keel.income import services as income
from keel.income.importers import (
    FORMATS,
    ImportFormatError,
    ImportProfile,
    ParsedFile,
    ParsedRow,
    check_head,
    detect_format,
    parse,
    row_problems,
)
from keel.income.models import ImportBatch, ImportProfileRecord, ImportStatus, IncomeItem
from keel.ledger.models import Journal, Leg
from keel.money import get_currency

from .helpers import SAMPLES, sample_profile

SAMPLE_OF: dict[str, str] = {
    spec["format"]: name
    for name, spec in json.loads((SAMPLES / "EXPECTED.json").read_text(encoding="utf-8")).items()
    if not name.startswith("_")
}
DELIMITER_OF = {fmt: ";" if fmt == "csv" else "," for fmt in SAMPLE_OF}
# The bank statement sample has two lines and a blank one before its header.
HEADER_INDEX = {fmt: 3 if fmt == "csv" else 0 for fmt in SAMPLE_OF}
MB = 1024 * 1024

FORMULAS = [
    '=HYPERLINK("http://x","y")',
    "=cmd|' /C calc'!A0",
    "+cmd",
    "-1+1",
    "@SUM(1)",
    "\t=1+1",
    "\r=1+1",
]
NASTY = [
    '"',
    '""',
    ",,,",
    ";",
    "\n",
    "\r",
    "\x00",
    "-",
    "--",
    "1e9",
    "NaN",
    "Infinity",
    "∞",
    "١٢٣",  # Arabic-Indic digits
    "\uff11\uff12\uff13",  # full-width digits
    "9" * 400,
    "0.001",
    "-0",
    "(((1)))",
    "12/31/9999",
    "00/00/0000",
    "9999-99-99",
    "Feb 30, 2024",
    "31.02.2024",
    "usd",
    "XXX",
    "\ufeff",
    "\u202e",  # right-to-left override
    "\udcff",  # a lone surrogate (written out with surrogatepass)
]
BAD_UTF8 = [b"\xff", b"\xfe\xff", b"\xc3", b"\xe2\x82", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80"]
ENCODINGS = ["utf-8", "utf-8", "utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16", "utf-16-le"]


def sample_bytes(fmt: str) -> bytes:
    return (SAMPLES / SAMPLE_OF[fmt]).read_bytes()


def _cell_value(draw: st.DrawFn) -> str:
    how = draw(st.sampled_from(["formula", "nasty", "unicode", "huge"]))
    if how == "formula":
        return draw(st.sampled_from(FORMULAS))
    if how == "nasty":
        return draw(st.sampled_from(NASTY))
    if how == "huge":
        return draw(st.sampled_from(["x", "9", "é"])) * MB
    return draw(st.text(max_size=30))


@st.composite
def hostile(draw: st.DrawFn, fmt: str) -> bytes:
    """A format's sample, damaged: first as a table, then as text, then as bytes."""
    delimiter = DELIMITER_OF[fmt]
    text = sample_bytes(fmt).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    header = HEADER_INDEX[fmt]
    for _ in range(draw(st.integers(0, 3))):
        how = draw(
            st.sampled_from(
                ["drop", "repeat", "shuffle", "delete column", "swap columns", "cell", "copy"]
            )
        )
        # Mostly a data row, sometimes the header or a line before it.
        if len(rows) > header + 1 and draw(st.integers(0, 4)):
            at = draw(st.integers(header + 1, len(rows) - 1))
        else:
            at = draw(st.integers(0, len(rows) - 1)) if rows else 0
        if how == "drop" and rows:
            del rows[at]
        elif how == "repeat" and rows:
            rows.insert(at, list(rows[at]))
        elif how == "shuffle":
            body = rows[header + 1 :]
            random.Random(draw(st.integers(0, 2**16))).shuffle(body)
            rows[header + 1 :] = body
        elif how in ("delete column", "swap columns") and rows and rows[at]:
            width = max(len(r) for r in rows)
            first = draw(st.integers(0, width - 1))
            second = draw(st.integers(0, width - 1))
            for row in rows:
                row.extend([""] * (width - len(row)))
                if how == "delete column":
                    del row[first]
                else:
                    row[first], row[second] = row[second], row[first]
        elif how == "cell" and rows and rows[at]:
            rows[at][draw(st.integers(0, len(rows[at]) - 1))] = _cell_value(draw)
        elif how == "copy" and rows and rows[at]:
            # Another row's value here: repeated ids, a fee naming any row (or itself) as
            # its payment, a type or amount in the wrong column.
            origin = rows[draw(st.integers(0, len(rows) - 1))]
            value = origin[draw(st.integers(0, len(origin) - 1))] if origin else ""
            if draw(st.booleans()):
                value = f"Service Fee - Ref ID {value}"
            rows[at][draw(st.integers(0, len(rows[at]) - 1))] = value
    out = io.StringIO(newline="")
    terminator = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    csv.writer(out, delimiter=delimiter, lineterminator=terminator).writerows(rows)
    encoding = draw(st.sampled_from(ENCODINGS))
    if encoding.startswith("utf-8"):
        data = out.getvalue().encode(encoding, "surrogatepass")
    else:
        data = out.getvalue().encode(encoding, "replace")
    for _ in range(draw(st.integers(0, 3))):
        how = draw(st.sampled_from(["cut", "bad utf-8", "nul", "line endings", "junk", "raw cell"]))
        spot = draw(st.integers(0, len(data)))
        if how == "cut":
            data = data[:spot]
        elif how == "bad utf-8":
            data = data[:spot] + draw(st.sampled_from(BAD_UTF8)) + data[spot:]
        elif how == "nul":
            data = data[:spot] + b"\x00" * draw(st.integers(1, 3)) + data[spot:]
        elif how == "line endings":
            ending = draw(st.sampled_from([b"\r", b"\r\n", b"\n\r", b"\n\n"]))
            data = data[:spot] + data[spot:].replace(b"\n", ending, draw(st.integers(1, 4)))
        elif how == "junk":
            data = data[:spot] + draw(st.binary(min_size=1, max_size=12)) + data[spot:]
        else:
            # A cell replaced without CSV quoting, as a hand edit in a text editor does.
            typed = draw(st.sampled_from(FORMULAS + NASTY)).encode("utf-8", "surrogatepass")
            end = data.find(delimiter.encode(), spot)
            data = data[:spot] + typed + (data[end:] if end >= 0 else b"")
    return data


# ---------------------------------------------------------------------------- the rules


def refusal_says_where(exc: ImportFormatError) -> None:
    message = str(exc)
    assert message, "a refusal must say why"
    assert "\x00" not in message, "PostgreSQL cannot store the refusal"
    assert exc.line >= 1, f"a refusal must name its line: {message!r}"
    assert f"line {exc.line}" in message or exc.column, message
    if exc.column:
        assert exc.column in message, message


def sound(result: ParsedFile) -> None:
    assert isinstance(result, ParsedFile)
    assert result.rows_read >= len(result.rows) + len(result.skipped) + len(result.rejected)
    for row in result.rows:
        assert type(row) is ParsedRow
        assert row_problems(row) == [], row
        assert row.line >= 2
        assert all(type(getattr(row, n)) is int for n in ("gross", "fee", "tips", "net"))
        assert get_currency(row.currency).code == row.currency
        texts = [getattr(row, f.name) for f in fields(row) if f.type == "str"]
        assert not any("\x00" in t for t in [*texts, *row.raw]), row
    for skipped in result.skipped:
        assert skipped.line >= 1 and skipped.reason and "\x00" not in skipped.reason
    for bad in result.rejected:
        assert bad.line >= 1 and bad.reason and "\x00" not in bad.reason + bad.column


def check(fmt: str, data: bytes) -> ParsedFile | ImportFormatError:
    """Read ``data`` as ``fmt`` the way the service does; only ImportFormatError may escape."""
    profile = sample_profile() if fmt == "csv" else None
    try:
        result = parse(fmt, io.BytesIO(data), profile=profile, currency="USD")
    except ImportFormatError as exc:
        refusal_says_where(exc)
        return exc
    sound(result)
    return result


def check_first_bytes(fmt: str, data: bytes) -> None:
    """What the upload form reads while the file is in hand: the format and the head."""
    detected = detect_format(data[:4096])
    assert detected is None or detected in FORMATS
    profile = sample_profile() if fmt == "csv" else None
    try:
        check_head(fmt, data[: 64 * 1024], profile=profile, currency="USD")
    except ImportFormatError as exc:
        refusal_says_where(exc)


FUZZ = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_every_format_has_a_sample_to_fuzz():
    assert sorted(SAMPLE_OF) == sorted(FORMATS)


@pytest.mark.parametrize("fmt", sorted(SAMPLE_OF))
def test_the_unmutated_samples_are_read(fmt):
    result = check(fmt, sample_bytes(fmt))
    assert isinstance(result, ParsedFile)
    assert result.rows and not result.rejected


@pytest.mark.parametrize("fmt", sorted(SAMPLE_OF))
@FUZZ
@given(data=st.data())
def test_hostile_file_is_read_or_refused_with_its_line(fmt, data):
    mutated = data.draw(hostile(fmt), label="file")
    check(fmt, mutated)
    check_first_bytes(fmt, mutated)


@pytest.mark.parametrize("fmt", sorted(SAMPLE_OF))
@settings(max_examples=30, deadline=None, derandomize=True)
@given(blob=st.binary(max_size=300))
def test_random_bytes_are_read_or_refused(fmt, blob):
    check(fmt, blob)
    check_first_bytes(fmt, blob)


@pytest.mark.parametrize("fmt", sorted(SAMPLE_OF))
@settings(max_examples=30, deadline=None, derandomize=True)
@given(body=st.text(max_size=200))
def test_random_unicode_under_the_real_header_is_read_or_refused(fmt, body):
    header = sample_bytes(fmt).split(b"\n")[0] + b"\n"
    if fmt == "csv":  # the profile skips a two-line preamble before its header
        header = b"\n".join(sample_bytes(fmt).split(b"\n")[:4]) + b"\n"
    check(fmt, header + body.encode("utf-8", "surrogatepass"))


# ---------------------------------------------------------------------------- the import page

HOME_CURRENCY = {"csv": "EUR", "stripe-itemized": "EUR"}
SOURCE_NAME = {"csv": "Girokonto"}


def books() -> tuple[int, int, int]:
    return IncomeItem.objects.count(), Journal.objects.count(), Leg.objects.count()


def income_failures(records: list[logging.LogRecord]) -> list[str]:
    """Errors the income jobs logged: an exception that was not a refusal."""
    return [r.getMessage() for r in records if r.levelno >= logging.ERROR and "income" in r.name]


def worker_page(fmt: str) -> tuple[Client, ImportProfileRecord | None]:
    """A logged-in worker for ``fmt`` (made once: the examples of a test share its
    database), with the bank statement's profile for the generic format."""
    email = f"{fmt}@example.org"
    worker = User.objects.filter(email=email).first() or create_worker(
        email, name="Fuzz", password=None, currency=HOME_CURRENCY.get(fmt, "USD")
    )
    profile = None
    if fmt == "csv":
        config = json.loads((SAMPLES / "csv-bank.profile.json").read_text(encoding="utf-8"))
        profile = income.save_import_profile(worker, config)
    client = Client()
    client.force_login(worker)
    return client, profile


def upload_through_the_page(
    client: Client, fmt: str, data: bytes, profile: ImportProfileRecord | None, caplog
) -> str:
    """Upload ``data`` as a worker does, apply it if it can be, and check that a refused
    file changed nothing; returns what became of it."""
    before, batches, logged = books(), ImportBatch.objects.count(), len(caplog.records)
    response = client.post(
        "/income/import/",
        {
            "file": SimpleUploadedFile("export.csv", data, content_type="text/csv"),
            "format": fmt,
            "profile": profile.pk if profile is not None else "",
            "source_name": SOURCE_NAME.get(fmt, ""),
            "date_order": "",
        },
    )
    assert income_failures(caplog.records[logged:]) == []
    if response.status_code != 302:
        # Refused on the form: an error on the file's field, nothing stored.
        assert response.status_code in (400, 413), response.status_code
        assert 'id="id_file"' in response.content.decode()
        assert "invalid-feedback" in response.content.decode()
        assert (books(), ImportBatch.objects.count()) == (before, batches)
        return "refused on the form"
    batch = ImportBatch.objects.latest("id")
    if batch.status == ImportStatus.FAILED:
        # The whole file was read and refused: the error names where.
        assert batch.summary["error"].startswith(f"Keel cannot read this file as {fmt}")
        assert books() == before
        return "refused when read"
    assert batch.status == ImportStatus.PREVIEWED
    assert books() == before  # a preview books nothing
    rejected = batch.summary["rejected"]
    assert all(r["line"] >= 0 and r["reason"] for r in rejected)
    client.post(f"/income/import/{batch.pk}/apply/")
    assert income_failures(caplog.records[logged:]) == []
    batch.refresh_from_db()
    assert client.get(f"/income/import/{batch.pk}/").status_code == 200
    if batch.status != ImportStatus.APPLIED:
        assert books() == before, (batch.status, batch.summary)
        return "refused when applied"
    items = IncomeItem.objects.count() - before[0]
    assert items == batch.summary["imported"]
    assert Journal.objects.count() - before[1] >= items
    assert client.get("/income/").status_code == 200
    return "applied"


@pytest.mark.parametrize("fmt", sorted(SAMPLE_OF))
@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(data=st.data())
def test_hostile_upload_through_the_page_is_applied_whole_or_changes_nothing(fmt, data, db, caplog):
    client, profile = worker_page(fmt)
    upload_through_the_page(client, fmt, data.draw(hostile(fmt), label="file"), profile, caplog)


def test_a_file_with_a_nul_byte_changes_nothing_when_applied(caplog, db):
    # Past the first 64 KiB the form reads, so the file reaches the preview; its row is
    # rejected there and the whole file is refused.
    client, _ = worker_page("upwork")
    header, *rows = sample_bytes("upwork").rstrip(b"\n").split(b"\n")
    padding = b"\n".join(rows[2:4]) + b"\n"  # an hourly payment and its service fee
    copies = 64 * 1024 // len(padding) + 1
    (membership,) = [row for row in rows if b"Membership Fee" in row]
    bad = membership.replace(b"Membership Fee", b"Membership\x00Fee")
    data = header + b"\n" + padding * copies + bad + b"\n"
    before = books()
    assert upload_through_the_page(client, "upwork", data, None, caplog) == "refused when applied"
    batch = ImportBatch.objects.get()
    line = 2 + 2 * copies
    assert batch.summary["rejected"] == [
        {
            "line": line,
            "column": "Transaction type",
            "reason": "the cell holds a NUL byte, which a text export never has (damaged file)",
        }
    ]
    assert books() == before
    assert not IncomeItem.objects.exists()


def test_the_unmutated_samples_are_applied_through_the_page(caplog, db):
    for fmt in ("upwork", "csv"):
        client, profile = worker_page(fmt)
        outcome = upload_through_the_page(client, fmt, sample_bytes(fmt), profile, caplog)
        assert outcome == "applied"


# ---------------------------------------------------------------------------- regressions
# Each found by the tests above, with the exact input that showed it.


def test_nul_byte_in_a_text_cell_rejects_its_row_naming_the_column():
    # Before: the row was read with "\x00re_3PqA3..." as its related id, and PostgreSQL
    # refused to store it (a crash when the file was applied).
    data = sample_bytes("stripe").replace(b",re_3PqA3xKZ2aBc0003,", b",\x00re_3PqA3xKZ2aBc0003,")
    result = check("stripe", data)
    assert isinstance(result, ParsedFile)
    assert [(r.line, r.column, r.reason) for r in result.rejected] == [
        (4, "Source", "the cell holds a NUL byte, which a text export never has (damaged file)")
    ]
    assert len(result.rows) == 10


def test_nul_byte_in_the_header_refuses_the_file_at_its_line():
    data = sample_bytes("upwork-earnings").replace(b"Contract", b"Con\x00tract", 1)
    with pytest.raises(ImportFormatError) as refused:
        parse("upwork-earnings", io.BytesIO(data))
    assert (refused.value.line, str(refused.value)) == (
        1,
        "line 1: the header holds a NUL byte, which a text export never has; the file is "
        "damaged or not a CSV file: export it again as CSV",
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty: no Upwork earnings report header found (line 1)"),
        (b"\n\n", "the file is empty: no Upwork earnings report header found (line 3)"),
    ],
)
def test_an_empty_file_is_refused_naming_its_line(data, message):
    # Before: line 0, so the refusal named no line at all.
    with pytest.raises(ImportFormatError) as refused:
        parse("upwork-earnings", io.BytesIO(data))
    assert str(refused.value) == message
    assert refused.value.line == int(message[-2])


def test_a_profile_file_shorter_than_its_preamble_is_refused_naming_its_line():
    with pytest.raises(ImportFormatError) as refused:
        parse("csv", io.BytesIO(b"Kontoauszug;x\n"), profile=sample_profile())
    assert (refused.value.line, str(refused.value)) == (
        2,
        "the file has fewer than 2 lines before its header (it ends at line 2)",
    )


def test_a_blank_line_padded_with_delimiters_before_the_header_is_skipped():
    # Before: a spreadsheet's ";;;;;;;" for the blank line was taken for the header.
    data = (
        sample_bytes("csv")
        .replace(b"\r\n\r\n", b"\r\n;;;;;;;\r\n")
        .replace(b"\n\n", b"\n;;;;;;;\n")
    )
    assert b";;;;;;;" in data
    result = check("csv", data)
    assert isinstance(result, ParsedFile)
    assert (len(result.rows), result.rejected) == (7, [])


def test_an_amount_too_large_to_book_is_rejected_naming_its_column():
    # Before: read as 9999999999999999999999999900 cents, past any 64-bit column.
    data = sample_bytes("stripe").replace(
        b",120.00,3.78,116.22,",
        b",99999999999999999999999999.00,3.78,99999999999999999999999996.22,",
    )
    result = check("stripe", data)
    assert isinstance(result, ParsedFile)
    assert [(r.line, r.column, r.reason) for r in result.rejected] == [
        (
            2,
            "Amount",
            "amount '99999999999999999999999999.00' is out of range: Keel books at most "
            "1,000,000,000,000,000 minor units in one amount",
        )
    ]


def test_the_largest_bookable_amount_is_read():
    data = sample_bytes("upwork").replace(b",258.00,", b",10000000000000.00,")
    result = check("upwork", data)
    assert isinstance(result, ParsedFile)
    assert result.rejected == []
    assert result.rows[1].gross == 10**15


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_the_head_of_a_wide_encoding_file_is_checked_by_whole_lines(encoding):
    # Before: the head was cut after a "\n" byte, half a character, and every UTF-16 file
    # was refused as "not utf-16 text (truncated data)".
    config = json.loads((SAMPLES / "csv-bank.profile.json").read_text(encoding="utf-8"))
    profile = ImportProfile.from_dict({**config, "encoding": encoding})
    data = sample_bytes("csv").decode("utf-8-sig").encode(encoding)
    check_head("csv", data, profile=profile)
    check_head("csv", data[: len(data) // 2 + 1], profile=profile)
    assert len(parse("csv", io.BytesIO(data), profile=profile).rows) == 7


@pytest.mark.parametrize(
    ("encoding", "message"),
    [
        ("utf-16", "line 1: the file is UTF-16 text, not UTF-8; "),
        ("utf-16-le", "line 1: the file looks like UTF-16 text without its byte-order mark; "),
    ],
)
def test_a_utf16_export_is_refused_saying_so(encoding, message):
    data = sample_bytes("upwork").decode("utf-8").encode(encoding)
    with pytest.raises(ImportFormatError) as refused:
        parse("upwork", io.BytesIO(data))
    assert str(refused.value) == (
        message + "save it as CSV UTF-8, or use the csv format with a profile whose "
        "encoding is utf-16"
    )
    assert refused.value.line == 1


def test_a_utf16_file_is_uploaded_through_a_profile_that_names_it(caplog, db):
    # Before: the form refused it as binary (its NUL bytes), and the head check as cut.
    client, profile = worker_page("csv")
    assert profile is not None
    profile.config = {**profile.config, "encoding": "utf-16"}
    profile.save()
    data = sample_bytes("csv").decode("utf-8-sig").encode("utf-16")
    assert upload_through_the_page(client, "csv", data, profile, caplog) == "applied"
    assert IncomeItem.objects.count() == 7


def test_a_utf16_upload_without_a_profile_is_refused_on_the_form(caplog, db):
    client, _ = worker_page("upwork")
    data = sample_bytes("upwork").decode("utf-8").encode("utf-16")
    before = books()
    response = client.post(
        "/income/import/",
        {"file": SimpleUploadedFile("export.csv", data), "format": "auto"},
    )
    assert response.status_code == 400
    assert "This file is saved as UTF-16 (Excel" in response.content.decode()
    assert (books(), ImportBatch.objects.count()) == (before, 0)


def test_a_formula_is_read_as_the_text_it_is():
    data = sample_bytes("stripe").replace(
        b",Logo design - Acme,", b',"=HYPERLINK(""http://x"",""y"")",'
    )
    result = check("stripe", data)
    assert isinstance(result, ParsedFile)
    assert result.rows[0].description == '=HYPERLINK("http://x","y")'
