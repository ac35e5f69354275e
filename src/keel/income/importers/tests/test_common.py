"""The shared pieces: reading text, columns by name, dates, amounts, line numbers."""

from __future__ import annotations

import io
from datetime import date

import pytest

from keel.income.importers import ImportFormatError
from keel.income.importers.base import RowKind, SkippedRow
from keel.income.importers.common import (
    Column,
    DateReader,
    Deferred,
    Numbers,
    RowError,
    collect,
    make_row,
    open_table,
)

COLUMNS = (Column("date", ("Date",)), Column("amount", ("Amount", "Amount $")))


def lines_of(text: str, **kw):
    with open_table(io.BytesIO(text.encode()), COLUMNS, label="test", **kw) as table:
        i_date, i_amount = table.index["date"], table.index["amount"]

        def convert(line, cells):
            return (line, cells[i_date], cells[i_amount])

        items, _ = collect(table, convert, key=lambda item: item[0])
    return items, table


# ---------------------------------------------------------------- reading text


def test_bom_is_stripped_and_columns_found_by_name():
    data = b"\xef\xbb\xbfNote,AMOUNT , date\nx,1.00,2024-01-02\n"
    with open_table(io.BytesIO(data), COLUMNS, label="test") as table:
        assert table.index == {"date": 2, "amount": 1}
        assert table.names == {"date": "date", "amount": "AMOUNT"}


def test_missing_required_column_is_named():
    with pytest.raises(ImportFormatError) as err:
        open_table(io.BytesIO(b"Date,Total\n2024-01-01,1\n"), COLUMNS, label="test")
    assert err.value.column == "Amount"
    assert "'Amount'" in str(err.value)
    assert "Date, Total" in str(err.value)


def test_empty_file_is_refused():
    with pytest.raises(ImportFormatError, match="empty"):
        open_table(io.BytesIO(b"\n\n  \n"), COLUMNS, label="test")


def test_not_utf8_is_refused_with_a_line():
    data = b"Date,Amount\n2024-01-01,1.00\n" + b"2024-01-02,\xff\xfe\n"
    stream = io.BytesIO(data)
    with (
        pytest.raises(ImportFormatError, match="line 3: the file is not UTF-8 text") as err,
        open_table(stream, COLUMNS, label="test") as table,
    ):
        collect(table, lambda line, cells: None)
    assert err.value.line == 3


def test_nul_byte_in_a_cell_is_just_a_bad_amount():
    data = b"Date,Amount\n2024-01-01,1\x00.00\n"

    def convert(line, cells):
        return Numbers(".").parse(cells[1], "USD", 2, line, "Amount")

    with open_table(io.BytesIO(data), COLUMNS, label="test") as table:
        items, rejected = collect(table, convert)
    assert items == []
    assert [(r.line, r.column) for r in rejected] == [(2, "Amount")]


def test_field_over_the_csv_limit_is_an_import_format_error():
    data = b'Date,Amount\n2024-01-01,"' + b"x" * 200_000 + b'"\n'
    with (
        pytest.raises(ImportFormatError, match="line 2"),
        open_table(io.BytesIO(data), COLUMNS, label="test") as table,
    ):
        collect(table, lambda line, cells: None)


def test_semicolon_header_is_recognised():
    items, table = lines_of("Date;Amount\n01.02.2024;1,50\n")
    assert table.delimiter == ";"
    assert items == [(2, "01.02.2024", "1,50")]


def test_excel_sep_line_names_the_delimiter():
    items, table = lines_of("sep=|\nDate|Amount\n2024-01-01|2\n")
    assert table.delimiter == "|"
    assert items == [(3, "2024-01-01", "2")]


@pytest.mark.parametrize("hint", ['"sep=;"', "SEP=;", '"sep=;";;', "sep=;;;"])
def test_excel_sep_line_written_back_quoted_or_padded_still_names_the_delimiter(hint):
    # A program that read the hint line as a cell writes it back quoted (it holds the
    # delimiter) and padded with empty cells; it was then taken for the header.
    items, table = lines_of(f"{hint}\nDate;Amount\n2024-01-01;2\n")
    assert table.delimiter == ";"
    assert items == [(3, "2024-01-01", "2")]


def test_multi_line_quoted_field_keeps_line_numbers():
    text = (
        "Date,Amount,Note\n"
        '2024-01-01,1.00,"two\nlines"\n'
        "2024-01-02,2.00,x\n"
        '2024-01-03,3.00,"three\r\nline\nnote"\n'
        "2024-01-04,4.00,y\n"
    )
    items, _ = lines_of(text)
    assert [item[0] for item in items] == [2, 4, 5, 8]


def test_blank_lines_are_skipped_but_counted_in_line_numbers():
    items, table = lines_of("Date,Amount\n\n2024-01-01,1\n,\n2024-01-02,2\n")
    assert [item[0] for item in items] == [3, 5]
    assert table.count == 2


def test_short_rows_are_padded():
    items, _ = lines_of("Amount,Note,Date\n5\n")
    assert items == [(2, "", "5")]


def test_caller_stream_is_not_closed():
    stream = io.BytesIO(b"Date,Amount\n2024-01-01,1\n")
    with open_table(stream, COLUMNS, label="test") as table:
        collect(table, lambda line, cells: None)
    assert not stream.closed


def test_progress_is_called_every_ten_thousand_rows():
    text = "Date,Amount\n" + "2024-01-01,1\n" * 25_000
    seen = []
    with open_table(io.BytesIO(text.encode()), COLUMNS, label="test", progress=seen.append) as t:
        collect(t, lambda line, cells: None)
    assert seen == [10_000, 20_000]


# ---------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-04", date(2024, 3, 4)),
        ("2024-03-04 14:03", date(2024, 3, 4)),
        ("2024-03-04T23:59:59Z", date(2024, 3, 4)),
        ("2024/3/4", date(2024, 3, 4)),
        ("Oct 2, 2026", date(2026, 10, 2)),
        ("September 24, 2026", date(2026, 9, 24)),
        ("Sept. 24 2026", date(2026, 9, 24)),
        ("31 July, 2026", date(2026, 7, 31)),
        ("31 Mar 2023", date(2023, 3, 31)),
        ("31-Dec-25", date(2025, 12, 31)),
        ("04.03.2024", date(2024, 3, 4)),
        ("25/03/2024", date(2024, 3, 25)),
        ("03/25/2024 10:00:00", date(2024, 3, 25)),
        ("05/05/2024", date(2024, 5, 5)),
    ],
)
def test_dates_that_read_one_way(text, expected):
    assert DateReader().parse(text, 2, "Date") == expected


def test_ambiguous_date_is_deferred_then_refused_naming_the_column():
    reader = DateReader()
    with pytest.raises(Deferred):
        reader.parse("03/04/2024", 2, "Date")
    reader.final = True
    with pytest.raises(RowError) as err:
        reader.parse("03/04/2024", 2, "Date")
    assert err.value.column == "Date"
    assert "ambiguous" in err.value.reason
    assert "March 4 or April 3" in err.value.reason


def test_stated_order_reads_ambiguous_dates():
    assert DateReader("DMY").parse("03/04/2024", 2, "Date") == date(2024, 4, 3)
    assert DateReader("MDY").parse("03/04/2024", 2, "Date") == date(2024, 3, 4)


def test_order_is_settled_by_the_first_unambiguous_date_and_said():
    reader = DateReader()
    assert reader.parse("25/03/2024", 7, "Date") == date(2024, 3, 25)
    assert reader.parse("03/04/2024", 8, "Date") == date(2024, 4, 3)
    assert reader.notes == [
        "dates read as day/month/year: line 7 has '25/03/2024', which can only be read that way"
    ]
    with pytest.raises(RowError, match="does not fit the file's day/month/year order"):
        reader.parse("03/25/2024", 9, "Date")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("2024-02-30", "not a valid date"),
        ("13/13/2024", "not a valid date"),
        ("03/04/24", "two-digit year"),
        ("tomorrow", "not a date"),
    ],
)
def test_bad_dates_are_refused(text, why):
    with pytest.raises(RowError, match=why):
        DateReader().parse(text, 2, "Date")


def test_strptime_pattern():
    reader = DateReader(pattern="%d.%m.%Y")
    assert reader.parse("01.02.2024", 2, "Buchungstag") == date(2024, 2, 1)
    with pytest.raises(RowError, match="does not match the date format"):
        reader.parse("2024-02-01", 3, "Buchungstag")


# ---------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    ("text", "currency", "exponent", "minor"),
    [
        ("120.00", "USD", 2, 12000),
        ("-20.5", "USD", 2, -2050),
        ("1200", "JPY", 0, 1200),
        ("1,234.56", "USD", 2, 123456),
        ("$16.08", "USD", 2, 1608),
        ("-CA$4.42", "CAD", 2, -442),
        ("£3.84", "GBP", 2, 384),
        ("(2.00)", "USD", 2, -200),
        ("1.234", "BHD", 3, 1234),
    ],
)
def test_point_amounts(text, currency, exponent, minor):
    numbers = Numbers(".")
    assert numbers.parse(text, currency, exponent, 2, "Amount") == minor


def test_decimal_comma_is_settled_from_the_file_and_said():
    numbers = Numbers(None)
    assert numbers.parse("12", "EUR", 2, 2, "Brutto") == 1200
    assert numbers.parse("1.234,56", "EUR", 2, 3, "Brutto") == 123456
    assert numbers.parse("-0,99", "EUR", 2, 4, "Brutto") == -99
    assert numbers.parse("1 234,50", "EUR", 2, 5, "Brutto") == 123450
    assert numbers.decimal == ","
    assert numbers.notes == ["amounts read with a decimal comma (1.234,56): line 3 has '1.234,56'"]


def test_grouping_settles_a_decimal_point():
    numbers = Numbers(None)
    assert numbers.parse("1,234", "USD", 2, 2, "Gross") == 123400
    assert numbers.decimal == "."


def test_three_decimals_in_a_three_decimal_currency_wait_for_the_file():
    numbers = Numbers(None)
    with pytest.raises(Deferred):
        numbers.parse("1.234", "KWD", 3, 2, "Amount")
    numbers.final = True
    with pytest.raises(RowError, match="either"):
        numbers.parse("1.234", "KWD", 3, 2, "Amount")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("12.345", "3 decimals"),
        ("abc", "not a valid"),
        ("=HYPERLINK(1)", "not a valid"),
        ("1.2.3", "more than one decimal"),
    ],
)
def test_bad_amounts_are_refused_naming_the_column(text, why):
    with pytest.raises(RowError, match=why) as err:
        Numbers(".").parse(text, "USD", 2, 2, "Amount $")
    assert err.value.column == "Amount $"


def test_empty_markers():
    numbers = Numbers(None, empty=frozenset({"", "--"}))
    assert numbers.optional("--", "USD", 2, 2, "Net") == 0
    with pytest.raises(RowError, match="empty"):
        numbers.required(" -- ", "USD", 2, 2, "Net")


# ---------------------------------------------------------------- rows


def test_make_row_keeps_every_kind_s_identity():
    day = date(2024, 1, 1)
    income = make_row(2, RowKind.INCOME, day, "USD", 10000, 1000)
    assert (income.kind, income.gross, income.fee, income.net) == (
        RowKind.INCOME,
        10000,
        1000,
        9000,
    )
    refund = make_row(3, RowKind.REFUND, day, "USD", -2000, -59)
    assert (refund.kind, refund.gross, refund.fee, refund.net) == (RowKind.REFUND, 2000, -59, -1941)
    out = make_row(4, RowKind.TRANSFER, day, "USD", -22708, 99)
    assert (out.kind, out.gross, out.fee, out.net) == (RowKind.TRANSFER, 22708, 99, -22807)
    back = make_row(5, RowKind.TRANSFER, day, "USD", 5000, 0)
    assert (back.gross, back.net) == (5000, 5000)
    fee = make_row(6, RowKind.FEE, day, "USD", -200, 0)
    assert (fee.kind, fee.gross, fee.fee, fee.net) == (RowKind.FEE, 0, 200, -200)
    credit = make_row(7, RowKind.FEE, day, "USD", 0, -60)
    assert (credit.fee, credit.net) == (-60, 60)


def test_make_row_turns_a_contradicting_sign_round():
    day = date(2024, 1, 1)
    assert make_row(2, RowKind.INCOME, day, "USD", -500, 0).kind is RowKind.REFUND
    assert make_row(3, RowKind.REFUND, day, "USD", 500, 0).kind is RowKind.INCOME
    assert make_row(4, RowKind.INCOME, day, "USD", 0, 30).kind is RowKind.FEE
    assert isinstance(make_row(5, RowKind.INCOME, day, "USD", 0, 0), SkippedRow)


def test_a_junk_amount_does_not_settle_the_file_s_decimal_separator():
    numbers = Numbers(None)
    with pytest.raises(RowError):
        numbers.parse("1.2.3", "USD", 2, 2, "Gross")
    assert numbers.decimal is None
    assert numbers.parse("12.50", "USD", 2, 3, "Gross") == 1250
    assert numbers.decimal == "."
