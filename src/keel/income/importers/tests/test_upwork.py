"""Upwork transaction history (2023+ layout) and its legacy layout."""

from __future__ import annotations

from datetime import date

import pytest

from keel.income.importers import ImportFormatError, RowKind

from .helpers import only, rejected, run

HEADER = (
    "Date,Transaction ID,Transaction Type,Transaction Summary,Transaction Summary Details,"
    "Description 1,Description 2,Description 3,Agency,Freelancer,Team,Account Name,PO,Ref ID,"
    "Amount $,Amount in local currency,Currency,Current Balance $,Payment Method\n"
)


def row(date_, txn, kind, summary, ref, amount, team="Acme Analytics LLC", details=""):
    return (
        f'"{date_}",{txn},{kind},{summary},{details},,,,,Jordan Rivers,{team},Jordan Rivers,,'
        f"{ref},{amount},,EUR,0.00,\n"
    )


HOURLY = row(
    "Jun 7, 2024", "T2", "Hourly", "Invoice for 05/27/2024-06/02/2024 - 14:20 hrs @ $18.00/hr",
    "701123340", "258.00",
)  # fmt: skip
FEE = row("Jun 7, 2024", "T2", "Service Fee", "Service Fee for Hourly - Ref ID 701123340",
          "701123356", "-25.80")  # fmt: skip
VAT = row("Jun 7, 2024", "T2", "VAT", "VAT (KE) - Service Fee - Ref ID 701123356",
          "701123397", "-4.13")  # fmt: skip


def test_service_fee_and_its_vat_attach_to_the_payment_newest_first():
    result = run("upwork", HEADER + VAT + FEE + HOURLY)
    income = only(result)
    assert income.line == 4
    assert income.kind is RowKind.INCOME
    assert income.occurred_on == date(2024, 6, 7)
    assert (income.currency, income.gross, income.fee, income.net) == ("USD", 25800, 2993, 22807)
    assert income.external_id == "701123340"
    assert income.related_id == "T2"
    assert income.counterparty == "Acme Analytics LLC"
    assert income.hours == 1433  # 14 h 20 min
    assert income.source_type == "Hourly"
    assert result.rows_read == 3
    assert result.skipped == [] and result.rejected == []
    assert result.notes == [
        "2 fee row(s) attached to the payment they belong to: their amount shows as that "
        "payment's fee"
    ]


def test_bom_and_no_bom_read_the_same():
    text = HEADER + HOURLY + FEE
    assert run("upwork", text, bom=True) == run("upwork", text)


def test_sentence_case_header_reordered_with_extra_columns():
    text = (
        "Amount $,Extra column,Ref ID,Transaction type,Date,Client team,Transaction summary\n"
        '1200.00,whatever,555,Fixed-price,"May 31, 2024",Northwind Studio,Milestone 2\n'
    )
    income = only(run("upwork", text))
    assert (income.gross, income.net, income.external_id) == (120000, 120000, "555")
    assert (income.stream_hint, income.counterparty) == ("project", "Northwind Studio")


def test_missing_required_column_is_named():
    with pytest.raises(ImportFormatError) as err:
        run("upwork", 'Date,Transaction Type,Ref ID\n"Jun 7, 2024",Hourly,1\n')
    assert err.value.column == "Amount $"


def test_fee_linked_only_by_transaction_id_group():
    text = (
        HEADER
        + row("Jun 7, 2024", "T9", "Service Fee", "Service Fee", "2", "-10.00")
        + row("Jun 7, 2024", "T9", "Fixed-price", "Milestone 1", "1", "100.00")
    )
    income = only(run("upwork", text))
    assert (income.gross, income.fee, income.net) == (10000, 1000, 9000)


def test_fee_in_a_group_of_two_payments_stays_a_fee_row():
    text = (
        HEADER
        + row("Jun 7, 2024", "T9", "Service Fee", "Service Fee", "3", "-10.00")
        + row("Jun 7, 2024", "T9", "Hourly", "Invoice A", "1", "60.00")
        + row("Jun 7, 2024", "T9", "Hourly", "Invoice B", "2", "40.00")
    )
    result = run("upwork", text)
    assert [(r.kind, r.gross, r.fee, r.net) for r in result.rows] == [
        (RowKind.FEE, 0, 1000, -1000),
        (RowKind.INCOME, 6000, 0, 6000),
        (RowKind.INCOME, 4000, 0, 4000),
    ]


def test_refund_with_its_service_fee_refund():
    text = (
        HEADER
        + row("May 28, 2024", "T8", "Refund to client", "Refund - Milestone 1", "21", "-100.00")
        + row("May 28, 2024", "T8", "Service fee refund", "Service fee refund", "22", "10.00")
    )
    refund = only(run("upwork", text))
    assert (refund.kind, refund.gross, refund.fee, refund.net) == (
        RowKind.REFUND,
        10000,
        -1000,
        -9000,
    )


def test_withdrawal_is_a_transfer_carrying_its_fee():
    text = (
        HEADER
        + row("Jun 10, 2024", "T3", "Withdrawal Fee", "Withdrawal Fee - xxxx-4821", "2", "-0.99")
        + row(
            "Jun 10, 2024", "T3", "Withdrawal", "Direct to Local Bank - xxxx-4821", "1", "-400.00"
        )
    )
    transfer = only(run("upwork", text))
    assert (transfer.kind, transfer.gross, transfer.fee, transfer.net) == (
        RowKind.TRANSFER,
        40000,
        99,
        -40099,
    )


def test_membership_fee_stays_a_fee_row():
    text = HEADER + row("Jun 5, 2024", "T1", "Membership Fee", "Connects (80)", "37", "-12.00")
    fee = only(run("upwork", text))
    assert (fee.kind, fee.gross, fee.fee, fee.net, fee.external_id) == (
        RowKind.FEE,
        0,
        1200,
        -1200,
        "37",
    )


def test_unknown_type_is_skipped_with_a_reason():
    result = run(
        "upwork", HEADER + row("Jun 5, 2024", "T1", "Crypto Bonus Points", "x", "1", "3.00")
    )
    assert result.rows == []
    assert [(s.line, s.reason[:40]) for s in result.skipped] == [
        (2, "Upwork transaction type 'Crypto Bonus Po")
    ]


def test_bad_amount_is_rejected_with_line_and_column():
    result = run("upwork", HEADER + HOURLY + row("Jun 8, 2024", "T4", "Bonus", "x", "9", "12.5O"))
    assert rejected(result) == [(3, "Amount $")]
    assert len(result.rows) == 1


def test_bad_date_is_rejected_with_line_and_column():
    result = run("upwork", HEADER + row("Juneteenth 2024", "T4", "Bonus", "x", "9", "1.00"))
    assert rejected(result) == [(2, "Date")]


def test_multi_line_description_keeps_line_numbers():
    text = (
        HEADER
        + row(
            "May 20, 2024", "T6", "Hourly", "Invoice", "1", "200.00", details='"line one\nline two"'
        )
        + row("May 21, 2024", "T7", "Bonus", "Thanks", "2", "oops")
    )
    result = run("upwork", text)
    assert only(result).line == 2
    assert rejected(result) == [(4, "Amount $")]


def test_identical_rows_without_ref_id_keep_their_own_lines():
    line = row("May 20, 2024", "", "Bonus", "Thanks", "", "5.00")
    result = run("upwork", HEADER + line + line)
    assert [r.line for r in result.rows] == [2, 3]
    assert result.rows[0].raw == result.rows[1].raw == ("2024-05-20", "", "Bonus", "Thanks", "500")
    assert result.rows[0].external_id == ""


def test_repeated_ref_id_is_told_apart():
    line = row("May 20, 2024", "T1", "Bonus", "Thanks", "77", "5.00")
    result = run("upwork", HEADER + line + line)
    assert [r.external_id for r in result.rows] == ["77", "77#2"]


def test_numeric_dates_wait_for_a_day_above_twelve_or_the_stated_order():
    text = HEADER + row("03/04/2024", "T1", "Bonus", "a", "1", "5.00")
    result = run("upwork", text)
    assert rejected(result) == [(2, "Date")]
    assert "ambiguous date '03/04/2024'" in result.rejected[0].reason
    assert only(run("upwork", text, date_order="DMY")).occurred_on == date(2024, 4, 3)
    settled = run("upwork", text + row("03/25/2024", "T2", "Bonus", "b", "2", "5.00"))
    assert [r.occurred_on for r in settled.rows] == [date(2024, 3, 4), date(2024, 3, 25)]
    assert settled.notes == [
        "dates read as month/day/year: line 3 has '03/25/2024', which can only be read that way"
    ]


def test_currency_override():
    assert only(run("upwork", HEADER + HOURLY, currency="EUR")).currency == "EUR"


LEGACY = (
    '"Date","Ref ID","Type","Description","Agency","Freelancer","Team","Account Name","PO",'
    '"Amount","Amount in local currency","Currency","Balance"\n'
)


def legacy(date_, ref, kind, desc, amount, team="Initech"):
    cells = [date_, ref, kind, desc, "", "Jordan", team, "Jordan", "", amount, amount, "USD", "0"]
    return ",".join(f'"{c}"' for c in cells) + "\n"


def test_legacy_fee_names_the_payment_by_ref_id():
    text = (
        LEGACY
        + legacy("Mar 10, 2019", "50", "Service Fee", "Service Fee - Ref ID 49", "-20.00")
        + legacy("Mar 10, 2019", "49", "Hourly", "Invoice - 10:00 hrs @ $20.00/hr", "200.00")
        + legacy("Mar 05, 2019", "10", "Refund", "Refund for Invoice 1", "-40.00")
        + legacy(
            "Mar 14, 2019", "90", "Withdrawal", "Direct to U.S. Bank - xxxx-6789", "-300.00", ""
        )
    )
    result = run("upwork-legacy", text)
    assert [(r.line, r.kind, r.gross, r.fee, r.net, r.hours) for r in result.rows] == [
        (3, RowKind.INCOME, 20000, 2000, 18000, 1000),
        (4, RowKind.REFUND, 4000, 0, -4000, None),
        (5, RowKind.TRANSFER, 30000, 0, -30000, None),
    ]


def test_legacy_missing_ref_id_is_named():
    with pytest.raises(ImportFormatError) as err:
        run("upwork-legacy", '"Date","Type","Amount"\n"Mar 1, 2019","Hourly","1"\n')
    assert err.value.column == "Ref ID"
