"""The rules every importer keeps, checked the same way for each format."""

from __future__ import annotations

import codecs
import csv
import io
from datetime import date

import pytest

from keel.income.importers import ImportProfile, parse

from .helpers import SAMPLES, run

PROFILE = ImportProfile.from_dict(
    {
        "name": "Bank",
        "columns": {
            "date": "Buchungstag",
            "amount": "Betrag",
            "currency": "Währung",
            "description": "Verwendungszweck",
        },
        "decimal_separator": ",",
        "thousands_separator": ".",
        "skip_rows": 2,
    }
)
# One minimal, valid file per format: a header and one income row dated {date}, whose
# amount is {amount} and whose description is {text}; and the names of those columns.
MINIMAL = {
    "upwork": (
        "Date,Transaction ID,Transaction Type,Transaction Summary,Ref ID,Amount $\n"
        '"{date}",T1,Hourly,"{text}",1,{amount}\n',
        "Date",
        "Amount $",
    ),
    "upwork-legacy": (
        'Date,Ref ID,Type,Description,Amount\n"{date}",1,Hourly,"{text}",{amount}\n',
        "Date",
        "Amount",
    ),
    "upwork-earnings": (
        'Date,Contract,Hours,Amount,Payment type\n"{date}","{text}",1:00,{amount},Hourly\n',
        "Date",
        "Amount",
    ),
    "stripe": (
        "id,Type,Amount,Fee,Net,Currency,Created (UTC),Description\n"
        'txn_1,charge,{amount},0.00,,usd,"{date}","{text}"\n',
        "Created (UTC)",
        "Amount",
    ),
    "stripe-itemized": (
        "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,description\n"
        'txn_1,"{date}",usd,{amount},0.00,,charge,"{text}"\n',
        "created_utc",
        "gross",
    ),
    "paypal": (
        "Date,Name,Type,Status,Currency,Gross,Fee,Net,Transaction ID,Item Title\n"
        '"{date}",Acme,General Payment,Completed,USD,{amount},0.00,,X1,"{text}"\n',
        "Date",
        "Gross",
    ),
    "etsy": (
        "Date,Type,Title,Info,Currency,Amount,Fees & Taxes,Net\n"
        '"{date}",Sale,"{text}",,USD,{amount},--,--\n',
        "Date",
        "Amount",
    ),
    "csv": (
        'a;b\nc;d\nBuchungstag;Betrag;Währung;Verwendungszweck\n"{date}";{amount};EUR;"{text}"\n',
        "Buchungstag",
        "Betrag",
    ),
}
FIRST_DATA_LINE = {fmt: (4 if fmt == "csv" else 2) for fmt in MINIMAL}


def file_of(fmt: str, *, when: str = "2024-09-02", amount: str = "10.00", text: str = "x") -> str:
    template = MINIMAL[fmt][0]
    if fmt == "csv":
        amount = amount.replace(".", ",")
    return template.format(date=when, amount=amount, text=text)


def read(fmt: str, text: str, **kw):
    return run(fmt, text, profile=PROFILE if fmt == "csv" else None, **kw)


@pytest.mark.parametrize("fmt", sorted(MINIMAL))
def test_minimal_file_reads_one_income_row(fmt):
    result = read(fmt, file_of(fmt))
    assert [(r.line, r.kind.value, r.gross, r.net) for r in result.rows] == [
        (FIRST_DATA_LINE[fmt], "income", 1000, 1000)
    ]
    assert result.rows[0].occurred_on == date(2024, 9, 2)


@pytest.mark.parametrize("fmt", sorted(MINIMAL))
def test_bom_or_no_bom_gives_the_same_result(fmt):
    text = file_of(fmt)
    assert read(fmt, text, bom=True) == read(fmt, text)


@pytest.mark.parametrize("fmt", sorted(MINIMAL))
def test_bad_amount_is_rejected_with_line_and_column(fmt):
    result = read(fmt, file_of(fmt, amount="12.3.4"))
    assert result.rows == []
    assert [(r.line, r.column) for r in result.rejected] == [
        (FIRST_DATA_LINE[fmt], MINIMAL[fmt][2])
    ]


@pytest.mark.parametrize("fmt", sorted(MINIMAL))
def test_ambiguous_date_is_refused_then_read_with_the_stated_order(fmt):
    text = file_of(fmt, when="03/04/2024")
    refused = read(fmt, text)
    assert refused.rows == []
    assert [(r.line, r.column) for r in refused.rejected] == [
        (FIRST_DATA_LINE[fmt], MINIMAL[fmt][1])
    ]
    assert "ambiguous date '03/04/2024'" in refused.rejected[0].reason
    stated = read(fmt, text, date_order="DMY")
    assert [r.occurred_on for r in stated.rows] == [date(2024, 4, 3)]


@pytest.mark.parametrize("fmt", sorted(MINIMAL))
def test_multi_line_text_and_identical_rows_keep_their_line_numbers(fmt):
    text = file_of(fmt, text="two\nlines")
    body = text.split("\n", FIRST_DATA_LINE[fmt] - 1)[-1]
    doubled = text + body  # the same two-line record again
    first = FIRST_DATA_LINE[fmt]
    result = read(fmt, doubled)
    assert [r.line for r in result.rows] == [first, first + 2]
    if result.rows[0].external_id:
        assert [r.external_id for r in result.rows] == [
            result.rows[0].external_id,
            result.rows[0].external_id + "#2",
        ]
    else:
        assert result.rows[0].raw == result.rows[1].raw != ()


@pytest.mark.parametrize("fmt", sorted(MINIMAL))
def test_columns_in_reverse_order_with_an_extra_column(fmt):
    text = file_of(fmt)
    lines = text.rstrip("\n").split("\n")
    head = lines[: FIRST_DATA_LINE[fmt] - 2]
    delimiter = ";" if fmt == "csv" else ","
    table = list(csv.reader(lines[FIRST_DATA_LINE[fmt] - 2 :], delimiter=delimiter))
    flipped = [[*reversed(r), extra] for r, extra in zip(table, ["Extra", "ignored"], strict=True)]
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(flipped)
    preamble = "".join(line + "\n" for line in head)
    result = read(fmt, preamble + out.getvalue())
    assert [(r.line, r.gross) for r in result.rows] == [(FIRST_DATA_LINE[fmt], 1000)]


@pytest.mark.parametrize("fmt", ["upwork", "stripe", "stripe-itemized", "paypal"])
def test_a_european_spreadsheet_re_save_is_read(fmt):
    """Semicolons and decimal commas, as Excel writes the file back in a European locale."""

    rows = list(csv.reader(io.StringIO(file_of(fmt, amount="1234.50"))))
    rows[1] = [c.replace("1234.50", "1.234,50").replace("0.00", "0,00") for c in rows[1]]
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    result = read(fmt, out.getvalue())
    assert [(r.gross, r.net) for r in result.rows] == [(123450, 123450)]
    assert any("decimal comma" in note for note in result.notes)


def test_samples_parse_the_same_with_or_without_their_bom():
    data = (SAMPLES / "paypal.csv").read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    with_bom = parse("paypal", io.BytesIO(data))
    without = parse("paypal", io.BytesIO(data[len(codecs.BOM_UTF8) :]))
    assert with_bom == without
