"""The public face: FORMATS, parse and detect_format."""

from __future__ import annotations

import gc
import io

import pytest

from keel.income.importers import FORMATS, ImportFormatError, detect_format, parse

from .helpers import SAMPLES


def test_formats():
    assert list(FORMATS) == [
        "upwork",
        "upwork-legacy",
        "upwork-earnings",
        "stripe",
        "stripe-itemized",
        "paypal",
        "etsy",
        "csv",
    ]
    assert FORMATS["csv"].needs_profile


def test_unknown_format_and_bad_date_order_are_value_errors():
    with pytest.raises(ValueError, match="unknown import format 'venmo'"):
        parse("venmo", io.BytesIO(b""))
    with pytest.raises(ValueError, match="date_order"):
        parse("paypal", io.BytesIO(b""), date_order="DM")
    with pytest.raises(ValueError, match="needs an import profile"):
        parse("csv", io.BytesIO(b"a\n"))


def test_a_file_in_the_wrong_format_is_refused_whole():
    with (SAMPLES / "paypal.csv").open("rb") as stream, pytest.raises(ImportFormatError) as err:
        parse("stripe", stream)
    assert "not a Stripe balance history file" in str(err.value)


def test_progress_reports_the_end_and_gc_is_switched_back_on():
    seen = []
    assert gc.isenabled()
    with (SAMPLES / "stripe.csv").open("rb") as stream:
        result = parse("stripe", stream, progress=seen.append)
    assert seen == [11] == [result.rows_read]
    assert gc.isenabled()


def test_works_on_any_object_with_read():
    class Upload:
        def __init__(self, data: bytes) -> None:
            self._buffer = io.BytesIO(data)

        def read(self, n: int = -1) -> bytes:
            return self._buffer.read(n)

    data = (SAMPLES / "stripe.csv").read_bytes()
    assert len(parse("stripe", Upload(data)).rows) == 11  # type: ignore[arg-type]


def test_text_stream_is_refused():
    with pytest.raises(ImportFormatError, match="binary"):
        parse("stripe", io.StringIO("id,Type\n"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xef\xbb\xbf\"Date\",\"Time\",\"TimeZone\",\"Name\",\"Type\",\"Status\",\"Currency\","
         b"\"Gross\",\"Fee\",\"Net\"", "paypal"),
        ("Datum,Uhrzeit,Zeitzone,Name,Typ,Status,Währung,Brutto,Gebühr,Netto".encode(), "paypal"),
        # a personal PayPal account's download, and a newer Etsy statement that has every
        # column the personal download needs (Date, Type, Status, Currency, Amount)
        (b'"Date","Time","TimeZone","Name","Type","Status","Currency","Amount","Receipt ID",'
         b'"Balance"', "paypal"),
        (b"Date,Type,Title,Info,Currency,Amount,Fees & Taxes,Net,Tax Details,Status,"
         b"Availability Date", "etsy"),
        (b"sep=;\nid;Type;Source;Amount;Fee;Net;Currency;Created (UTC)", "stripe"),
        (b'"sep=;";;\nid;Type;Source;Amount;Fee;Net;Currency;Created (UTC)', "stripe"),
        (b"Date,Contract,Hours,Amount,Payment type", "upwork-earnings"),
        (b"Buchungstag;Betrag", None),
        (b"", None),
        (b"\x00\xff\xfe garbage", None),
    ],
)  # fmt: skip
def test_detect_format(head, expected):
    assert detect_format(head) == expected
