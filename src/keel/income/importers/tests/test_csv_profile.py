"""The generic CSV format and its import profile."""

from __future__ import annotations

import json
from datetime import date

import pytest

from keel.income.importers import ImportFormatError, ImportProfile, RowKind

from .helpers import SAMPLES, only, rejected, run

BASE = {"name": "Bank", "columns": {"date": "Date", "amount": "Amount"}, "currency": "EUR"}


def profile(**changes):
    d = json.loads(json.dumps(BASE))
    d.update(changes)
    return ImportProfile.from_dict(d)


def test_round_trip_of_the_sample_profile():
    d = json.loads((SAMPLES / "csv-bank.profile.json").read_text(encoding="utf-8"))
    p = ImportProfile.from_dict(d)
    assert p.to_dict() == d
    assert ImportProfile.from_dict(p.to_dict()) == p


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"name": ""}, "name"),
        ({"columns": {"amount": "Amount"}}, "columns.date"),
        ({"columns": {"date": "D", "amount": "A", "debit": "X", "credit": "Y"}}, "columns"),
        ({"columns": {"date": "D", "debit": "X"}}, "columns.debit"),
        ({"columns": {"date": "D", "amount": "A", "colour": "C"}}, "columns.colour"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": ""}, "currency"),
        ({"kind_map": {"X": "gift"}}, "kind_map"),
        ({"date_format": "dd.mm.yyyy"}, "date_format"),
        # an unknown directive, and a pattern without the date: saved, every row was then
        # rejected or (for %H:%M) booked on 1 January 1900
        ({"date_format": "%Q"}, "date_format"),
        ({"date_format": "%H:%M"}, "date_format"),
        ({"date_format": "%d.%m."}, "date_format"),
        ({"date_order": "DYM"}, "date_order"),
        ({"decimal_separator": ",,"}, "decimal_separator"),
        ({"decimal_separator": ",", "thousands_separator": ","}, "thousands_separator"),
        ({"sign": "positive"}, "sign"),
        ({"encoding": "klingon-8"}, "encoding"),
        # codecs that are not text encodings: a file read with one raised LookupError
        # (a server error on the import page) instead of being refused
        ({"encoding": "base64"}, "encoding"),
        ({"encoding": "uu"}, "encoding"),
        ({"encoding": "rot13"}, "encoding"),
        ({"delimiter": ";;"}, "delimiter"),
        ({"skip_rows": -1}, "skip_rows"),
        ({"skip_rows": "2"}, "skip_rows"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_profiles_name_the_key(changes, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        profile(**changes)


def test_sign_rule_money_in_is_income_money_out_is_a_transfer():
    text = "Date,Amount,Text\n2024-09-02,1250.00,Invoice 31\n2024-09-03,-84.20,Electricity\n"
    result = run("csv", text, profile=profile(columns={"date": "Date", "amount": "Amount",
                                                       "description": "Text"}))  # fmt: skip
    assert [(r.kind, r.gross, r.net, r.description) for r in result.rows] == [
        (RowKind.INCOME, 125000, 125000, "Invoice 31"),
        (RowKind.TRANSFER, 8420, -8420, "Electricity"),
    ]


def test_income_negative_sign():
    text = "Date,Amount\n2024-09-02,-100.00\n"
    row = only(run("csv", text, profile=profile(sign="income_negative")))
    assert (row.kind, row.gross, row.net) == (RowKind.INCOME, 10000, 10000)


def test_debit_and_credit_columns_with_eu_numbers():
    p = profile(
        columns={"date": "Datum", "debit": "Soll", "credit": "Haben"},
        decimal_separator=",",
        thousands_separator=".",
        date_format="%d.%m.%Y",
    )
    text = (
        "Datum;Soll;Haben\n"
        "02.09.2024;;1.250,00\n"
        "03.09.2024;84,20;\n"
        "04.09.2024;-10,00;\n"
        "05.09.2024;5,00;5,00\n"
        "06.09.2024;;\n"
    )
    result = run("csv", text, profile=p)
    assert [(r.line, r.kind, r.gross, r.net) for r in result.rows] == [
        (2, RowKind.INCOME, 125000, 125000),
        (3, RowKind.TRANSFER, 8420, -8420),
        (4, RowKind.TRANSFER, 1000, -1000),
    ]
    assert rejected(result) == [(5, "Haben"), (6, "Soll")]


def test_kind_map_fee_and_tips_columns():
    p = profile(
        columns={"date": "Date", "amount": "Gross", "fee": "Fee", "tips": "Tip", "kind": "Type",
                 "external_id": "Id", "counterparty": "Rider"},
        kind_map={"Trip": "income", "Refund": "refund", "Cash out": "transfer", "Fee": "fee",
                  "Scheduled": "skip"},
    )  # fmt: skip
    text = (
        "Id,Date,Type,Gross,Fee,Tip,Rider\n"
        "t1,2024-09-02,Trip,12.00,-3.00,2.00,Ann\n"
        "t2,2024-09-02,refund,5.00,,,Ann\n"
        "t3,2024-09-03,Cash out,-50.00,0.50,,\n"
        "t4,2024-09-03,FEE,-1.00,,,\n"
        "t5,2024-09-04,Scheduled,10.00,,,\n"
        "t6,2024-09-04,Trip,-10.00,,,\n"
    )
    result = run("csv", text, profile=p)
    assert [(r.external_id, r.kind, r.gross, r.fee, r.tips, r.net) for r in result.rows] == [
        ("t1", RowKind.INCOME, 1200, 300, 200, 1100),
        ("t2", RowKind.REFUND, 500, 0, 0, -500),
        ("t3", RowKind.TRANSFER, 5000, 50, 0, -5050),
        ("t4", RowKind.FEE, 0, 100, 0, -100),
    ]
    assert [(s.line, s.reason) for s in result.skipped] == [
        (6, "'Scheduled' rows are skipped by the profile")
    ]
    assert rejected(result) == [(7, "Gross")]


def test_preamble_encoding_sniffed_delimiter_and_date_order():
    p = profile(columns={"date": "Date", "amount": "Amount"}, encoding="cp1252", skip_rows=2,
                decimal_separator=",", thousands_separator="")  # fmt: skip
    text = "Relevé de compte\nPériode: septembre\nDate;Amount;Libellé\n03/04/2024;12,50;Café\n"
    result = run("csv", text, profile=p, encoding="cp1252")
    assert rejected(result) == [(4, "Date")]
    row = only(run("csv", text, profile=p, encoding="cp1252", date_order="DMY"))
    assert (row.occurred_on, row.gross) == (date(2024, 4, 3), 1250)


def test_missing_mapped_column_is_named():
    with pytest.raises(ImportFormatError) as err:
        run("csv", "Date,Total\n2024-01-01,1\n", profile=profile())
    assert err.value.column == "Amount"


def test_currency_column_and_zero_amounts():
    p = profile(columns={"date": "Date", "amount": "Amount", "currency": "Cur"}, currency="")
    text = "Date,Amount,Cur\n2024-01-01,1.00,usd\n2024-01-02,0.00,EUR\n2024-01-03,1.00,\n"
    result = run("csv", text, profile=p)
    assert [(r.currency, r.gross) for r in result.rows] == [("USD", 100)]
    assert [s.line for s in result.skipped] == [3]
    assert rejected(result) == [(4, "Cur")]


def test_identical_rows_keep_their_own_lines_and_identity():
    text = "Date,Amount\n2024-01-01,5.00\n2024-01-01,5.00\n"
    result = run("csv", text, profile=profile())
    assert [r.line for r in result.rows] == [2, 3]
    assert (
        result.rows[0].raw
        == result.rows[1].raw
        == ("2024-01-01", "EUR", "500", "0", "0", "", "", "")
    )


def test_a_utf16_profile_given_a_file_without_a_byte_order_mark_is_refused_by_line():
    # The UTF-16 decoder raises a bare UnicodeError here, which escaped the importer.
    p = profile(columns={"date": "Date", "amount": "Amount"}, encoding="utf-16")
    with pytest.raises(ImportFormatError, match="line 1: the file is not utf-16 text"):
        run("csv", "Date,Amount\n2024-09-02,10.00\n", profile=p)


@pytest.mark.parametrize("pattern", ["%d.%m.%y", "%m/%d/%Y %H:%M", "%d %b %Y", "%Y%m%d"])
def test_date_formats_that_read_a_whole_date_are_kept(pattern):
    assert profile(date_format=pattern).date_format == pattern


def test_money_out_by_the_sign_rule_is_spent_and_a_mapped_transfer_is_not():
    text = "Date,Amount,Text,Kind\n2024-09-03,-84.20,Electricity,\n2024-09-04,-500.00,Savings,U\n"
    p = profile(
        columns={"date": "Date", "amount": "Amount", "description": "Text", "kind": "Kind"},
        kind_map={"U": "transfer"},
    )
    result = run("csv", text, profile=p)
    assert [(r.description, r.kind, r.spent) for r in result.rows] == [
        ("Electricity", RowKind.TRANSFER, True),
        ("Savings", RowKind.TRANSFER, False),
    ]


def test_a_balance_line_without_an_amount_is_skipped_not_refused():
    # Bank of America's download: a summary preamble, then "Beginning balance as of ..."
    # with no amount as the first row. It refused the whole file ("amount is empty").
    text = (
        "Description,,Summary Amt.\n"
        'Beginning balance as of 01/01/2025,,"1,000.00"\n'
        "\n"
        "Date,Description,Amount,Running Bal.\n"
        '01/01/2025,Beginning balance as of 01/01/2025,,"1,000.00"\n'
        '01/15/2025,"ACME CORP DES:PAYROLL","2,500.00","3,500.00"\n'
    )
    p = profile(
        columns={"date": "Date", "amount": "Amount", "description": "Description"},
        currency="USD", skip_rows=3, decimal_separator=".", thousands_separator=",",
    )  # fmt: skip
    result = run("csv", text, profile=p)
    assert [(s.line, s.reason) for s in result.skipped] == [
        (5, "no amount: moves no money (a balance line)")
    ]
    assert [(r.line, r.kind, r.gross) for r in result.rows] == [(6, RowKind.INCOME, 250000)]
    assert result.rejected == []
