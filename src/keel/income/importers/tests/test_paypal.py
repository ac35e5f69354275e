"""PayPal activity download, in English (US and UK) and German."""

from __future__ import annotations

from datetime import date

import pytest

from keel.income.importers import ImportFormatError, RowKind

from .helpers import only, rejected, run

HEADER = (
    '"Date","Time","TimeZone","Name","Type","Status","Currency","Gross","Fee","Net",'
    '"From Email Address","To Email Address","Transaction ID","Item Title","Reference Txn ID",'
    '"Balance","Subject","Note","Balance Impact"\n'
)


def pp(date_, name, kind, status, currency, gross, fee, net, txn, ref="", impact="Credit"):
    cells = [date_, "10:00:00", "PDT", name, kind, status, currency, gross, fee, net]
    cells += ["payer@example.com", "me@example.com", txn, "", ref, "0.00", "", "", impact]
    return ",".join(f'"{c}"' for c in cells) + "\n"


def test_payment_keeps_gross_fee_and_net():
    text = HEADER + pp("09/02/2024", "Acme", "General Payment", "Completed", "USD", "1,500.00",
                       "-52.84", "1,447.16", "5TY1")  # fmt: skip
    row = only(run("paypal", text, date_order="MDY"))
    assert (row.kind, row.gross, row.fee, row.net) == (RowKind.INCOME, 150000, 5284, 144716)
    assert (row.external_id, row.counterparty, row.occurred_on) == (
        "5TY1",
        "Acme",
        date(2024, 9, 2),
    )


def test_only_completed_rows_move_money_and_memo_rows_never():
    text = HEADER + (
        pp("09/13/2024", "A", "General Payment", "Pending", "USD", "120.00", "-4.68", "115.32", "1")
        + pp("09/14/2024", "B", "General Payment", "Denied", "USD", "80.00", "-3.28", "76.72", "2")
        + pp(
            "09/14/2024",
            "C",
            "General Authorization",
            "Completed",
            "USD",
            "75.00",
            "0.00",
            "75.00",
            "3",
            impact="Memo",
        )
        + pp(
            "09/15/2024", "D", "General Payment", "Completed", "USD", "10.00", "-0.84", "9.16", "4"
        )
    )
    result = run("paypal", text)
    assert [(s.line, s.reason) for s in result.skipped] == [
        (2, "status 'Pending': only Completed rows move money"),
        (3, "status 'Denied': only Completed rows move money"),
        (4, "Balance Impact is Memo: the row moves no money"),
    ]
    assert [r.line for r in result.rows] == [5]


def test_refund_withdrawal_purchase_conversion_and_platform_payout():
    text = HEADER + (
        pp("09/16/2024", "Acme", "Payment Refund", "Completed", "USD", "-50.00", "1.75", "-48.25",
           "R1", ref="5TY1", impact="Debit")
        + pp("09/16/2024", "", "General Withdrawal", "Completed", "USD", "-400.00", "0.00",
             "-400.00", "W1", impact="Debit")
        + pp("09/16/2024", "Shop", "Express Checkout Payment", "Completed", "USD", "-29.99",
             "0.00", "-29.99", "P1", impact="Debit")
        + pp("09/16/2024", "Shop", "Payment Refund", "Completed", "USD", "29.99", "0.00", "29.99",
             "P2", ref="P1")
        + pp("09/16/2024", "", "General Currency Conversion", "Completed", "EUR", "-192.63",
             "0.00", "-192.63", "C1", ref="G1", impact="Debit")
        + pp("09/16/2024", "Upwork Global Inc.", "Mass Pay Payment", "Completed", "USD",
             "227.08", "0.00", "227.08", "U1")
        + pp("09/16/2024", "Buyer", "Chargeback", "Completed", "USD", "-20.00", "0.00", "-20.00",
             "B1", impact="Debit")
        + pp("09/16/2024", "", "Chargeback Fee", "Completed", "USD", "-20.00", "0.00", "-20.00",
             "B2", impact="Debit")
    )  # fmt: skip
    result = run("paypal", text)
    assert [(r.kind, r.currency, r.gross, r.fee, r.net, r.related_id) for r in result.rows] == [
        (RowKind.REFUND, "USD", 5000, -175, -4825, "5TY1"),
        (RowKind.TRANSFER, "USD", 40000, 0, -40000, ""),
        (RowKind.TRANSFER, "USD", 2999, 0, -2999, ""),
        (RowKind.TRANSFER, "USD", 2999, 0, 2999, "P1"),
        (RowKind.TRANSFER, "EUR", 19263, 0, -19263, "G1"),
        (RowKind.TRANSFER, "USD", 22708, 0, 22708, ""),
        (RowKind.REFUND, "USD", 2000, 0, -2000, ""),
        (RowKind.FEE, "USD", 0, 2000, -2000, ""),
    ]
    assert result.rows[5].description.startswith("from Upwork Global Inc.")


def test_uk_dates_are_settled_by_a_day_above_twelve():
    text = HEADER + (
        pp("03/04/2024", "A", "General Payment", "Completed", "GBP", "10.00", "-0.50", "9.50", "1")
        + pp(
            "25/04/2024", "B", "General Payment", "Completed", "GBP", "10.00", "-0.50", "9.50", "2"
        )
    )
    result = run("paypal", text)
    assert [r.occurred_on for r in result.rows] == [date(2024, 4, 3), date(2024, 4, 25)]
    assert result.notes == [
        "dates read as day/month/year: line 3 has '25/04/2024', which can only be read that way"
    ]


def test_ambiguous_dates_are_refused_then_read_with_date_order():
    text = HEADER + pp("03/04/2024", "A", "General Payment", "Completed", "USD", "10.00", "0.00",
                       "10.00", "1")  # fmt: skip
    result = run("paypal", text)
    assert rejected(result) == [(2, "Date")]
    assert "state the order" in result.rejected[0].reason
    assert only(run("paypal", text, date_order="MDY")).occurred_on == date(2024, 3, 4)


GERMAN = (
    '"Datum","Uhrzeit","Zeitzone","Name","Typ","Status","Währung","Brutto","Gebühr","Netto",'
    '"Absender E-Mail-Adresse","Empfänger E-Mail-Adresse","Transaktionscode",'
    '"Zugehöriger Transaktionscode","Guthaben","Auswirkung auf Guthaben"\n'
)


def test_german_export_with_decimal_commas():
    text = GERMAN + (
        '"18.06.2025","10:00:00","MESZ","Kunde GmbH","Allgemeine Zahlung","Abgeschlossen","EUR",'
        '"1.234,56","-43,45","1.191,11","kunde@example.de","ich@example.de","1AB","","0,00","Haben"\n'
        '"19.06.2025","10:00:00","MESZ","","Allgemeine Abbuchung","Abgeschlossen","EUR",'
        '"-500,00","0,00","-500,00","ich@example.de","","2CD","","0,00","Soll"\n'
        '"20.06.2025","10:00:00","MESZ","Kunde GmbH","Rückzahlung","Abgeschlossen","EUR",'
        '"-10,00","0,35","-9,65","ich@example.de","kunde@example.de","3EF","1AB","0,00","Soll"\n'
        '"21.06.2025","10:00:00","MESZ","X","Allgemeine Zahlung","Ausstehend","EUR",'
        '"5,00","0,00","5,00","x@example.de","ich@example.de","4GH","","0,00","Haben"\n'
    )
    result = run("paypal", text, bom=True)
    assert [(r.kind, r.occurred_on, r.gross, r.fee, r.net) for r in result.rows] == [
        (RowKind.INCOME, date(2025, 6, 18), 123456, 4345, 119111),
        (RowKind.TRANSFER, date(2025, 6, 19), 50000, 0, -50000),
        (RowKind.REFUND, date(2025, 6, 20), 1000, -35, -965),
    ]
    assert [s.line for s in result.skipped] == [5]
    assert result.notes == ["amounts read with a decimal comma (1.234,56): line 2 has '1.234,56'"]


def test_bad_gross_is_rejected_and_net_is_checked():
    text = HEADER + (
        pp("09/14/2024", "A", "General Payment", "Completed", "USD", "ten", "0.00", "10.00", "1")
        + pp(
            "09/14/2024", "B", "General Payment", "Completed", "USD", "10.00", "-1.00", "10.00", "2"
        )
    )
    assert rejected(run("paypal", text)) == [(2, "Gross"), (3, "Net")]


def test_missing_status_column_is_named():
    with pytest.raises(ImportFormatError) as err:
        run("paypal", '"Date","Type","Currency","Gross"\n')
    assert err.value.column == "Status"


def test_identical_rows_without_transaction_id_keep_their_lines():
    text = (
        "Date,Type,Status,Currency,Gross,Fee,Net\n"
        "09/14/2024,General Payment,Completed,USD,10.00,-0.84,9.16\n"
        "09/14/2024,General Payment,Completed,USD,10.00,-0.84,9.16\n"
    )
    result = run("paypal", text)
    assert [r.line for r in result.rows] == [2, 3]
    assert result.rows[0].raw == result.rows[1].raw != ()


def test_personal_account_download_with_one_amount_column():
    # A personal account's activity download has no Gross, Fee or Net: one Amount, the
    # money that moved the balance, and no Transaction ID.
    text = (
        '"Date","Time","TimeZone","Name","Type","Status","Currency","Amount","Receipt ID",'
        '"Balance"\n'
        '"09/02/2024","10:15:32","PDT","Acme","General Payment","Completed","USD",'
        '"1,500.00","","1,500.00"\n'
        '"09/13/2024","11:00:00","PDT","","General Withdrawal","Completed","USD","-400.00",'
        '"","1,100.00"\n'
        '"09/14/2024","09:00:00","PDT","Bea","Mobile Payment","Pending","USD","25.00","",'
        '"1,100.00"\n'
    )
    result = run("paypal", text)
    assert [(r.line, r.kind, r.occurred_on, r.gross, r.fee, r.net) for r in result.rows] == [
        (2, RowKind.INCOME, date(2024, 9, 2), 150000, 0, 150000),
        (3, RowKind.TRANSFER, date(2024, 9, 13), 40000, 0, -40000),
    ]
    assert result.rows[0].counterparty == "Acme"
    assert [s.line for s in result.skipped] == [4]


def test_a_purchase_funded_by_paypal_credit_is_no_income():
    # The funding row brings the credit line's money in for the purchase that follows; read
    # as a payment ("...Payment Funding") it was booked as $535.85 of income.
    text = HEADER + (
        pp("03/14/2023", "", "PayPal Buyer Credit Payment Funding", "Completed", "USD",
           "535.85", "0.00", "535.85", "7VG4")
        + pp("03/14/2023", "Ticketmaster, LLC", "Express Checkout Payment", "Completed",
             "USD", "-535.85", "0.00", "-535.85", "2VS6", impact="Debit")
    )  # fmt: skip
    result = run("paypal", text)
    assert [(r.kind, r.gross, r.net) for r in result.rows] == [
        (RowKind.TRANSFER, 53585, 53585),
        (RowKind.TRANSFER, 53585, -53585),
    ]


def test_money_spent_from_the_balance_is_marked_spent_not_sent_to_the_bank():
    # A purchase paid from the PayPal balance leaves for a merchant, a withdrawal for the
    # worker's own bank: only the withdrawal is the worker's cash.
    text = HEADER + (
        pp("09/10/2024", "Paper Co", "Express Checkout Payment", "Completed", "USD",
           "-29.99", "0.00", "-29.99", "P1", impact="Debit")
        + pp("09/11/2024", "", "General Withdrawal", "Completed", "USD", "-400.00", "0.00",
             "-400.00", "W1", impact="Debit")
        + pp("09/13/2024", "Paper Co", "Payment Refund", "Completed", "USD", "29.99", "0.00",
             "29.99", "R1", "P1")
    )  # fmt: skip
    result = run("paypal", text)
    assert [(r.external_id, r.kind, r.net, r.spent) for r in result.rows] == [
        ("P1", RowKind.TRANSFER, -2999, True),
        ("W1", RowKind.TRANSFER, -40000, False),
        ("R1", RowKind.TRANSFER, 2999, True),
    ]
