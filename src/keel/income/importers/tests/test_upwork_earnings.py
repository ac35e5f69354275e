"""Upwork earnings report (Date, Contract, Hours, Amount, Payment type)."""

from __future__ import annotations

from datetime import date

import pytest

from keel.income.importers import ImportFormatError, RowKind
from keel.income.importers.common import RowError
from keel.income.importers.upwork_earnings import hours_of

from .helpers import only, rejected, run

HEADER = "Date,Contract,Hours,Amount,Payment type\n"


def test_hours_in_hundredths():
    row = only(run("upwork-earnings", HEADER + '"Jun 3, 2024",Pipeline,12:30,500.00,Hourly\n'))
    assert (row.kind, row.gross, row.fee, row.net, row.hours) == (
        RowKind.INCOME,
        50000,
        0,
        50000,
        1250,
    )
    assert (row.description, row.occurred_on, row.currency) == ("Pipeline", date(2024, 6, 3), "USD")
    assert row.raw == ("2024-06-03", "Pipeline", "", "Hourly", "USD", "50000", "1250")


@pytest.mark.parametrize(
    ("text", "hundredths"),
    [("14:20", 1433), ("0:01", 2), ("10.5", 1050), ("7,25", 725), ("", None), ("--", None)],
)
def test_hours_forms(text, hundredths):
    assert hours_of(text, "Hours") == hundredths


def test_bad_hours_are_refused():
    with pytest.raises(RowError, match="not a number of hours"):
        hours_of("ten", "Hours")
    result = run("upwork-earnings", HEADER + '"Jun 3, 2024",Pipeline,ten,5.00,Hourly\n')
    assert rejected(result) == [(2, "Hours")]


def test_refund_and_identical_rows():
    text = (
        "Payment type,Amount,Date,Contract,Client\n"
        'Hourly,400.00,"May 27, 2024",Pipeline,Acme\n'
        'Hourly,400.00,"May 27, 2024",Pipeline,Acme\n'
        'Refund,100.00,"May 28, 2024",Pipeline,Acme\n'
    )
    result = run("upwork-earnings", text, bom=True)
    assert [(r.line, r.kind, r.gross, r.net) for r in result.rows] == [
        (2, RowKind.INCOME, 40000, 40000),
        (3, RowKind.INCOME, 40000, 40000),
        (4, RowKind.REFUND, 10000, -10000),
    ]
    assert result.rows[0].raw == result.rows[1].raw


def test_missing_contract_column_is_named():
    with pytest.raises(ImportFormatError) as err:
        run("upwork-earnings", "Date,Hours,Amount\n")
    assert err.value.column == "Contract"
