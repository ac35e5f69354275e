"""Etsy monthly statement."""

from __future__ import annotations

from datetime import date

import pytest

from keel.income.importers import ImportFormatError, RowKind

from .helpers import only, rejected, run

HEADER = "Date,Type,Title,Info,Currency,Amount,Fees & Taxes,Net,Tax Details\n"


def test_sale_with_its_fees_and_the_buyer_s_sales_tax():
    text = HEADER + (
        '"September 24, 2024",Sale,"Payment for Order #381",,USD,$16.08,--,$16.08,--\n'
        '"September 24, 2024",Tax,"Sales tax paid by buyer","Order #381",USD,--,-$1.08,-$1.08,--\n'
        '"September 24, 2024",Fee,"Transaction fee: Fern Print, Vintage","Order #381",USD,--,'
        "-$0.98,-$0.98,--\n"
        '"September 24, 2024",Fee,"Processing fee","Order #381",USD,--,-$0.73,-$0.73,--\n'
    )
    result = run("etsy", text)
    sale = only(result)
    assert (sale.kind, sale.gross, sale.fee, sale.net) == (RowKind.INCOME, 1500, 171, 1329)
    assert (sale.line, sale.occurred_on, sale.related_id) == (2, date(2024, 9, 24), "381")
    assert sale.raw[:3] == ("2024-09-24", "Sale", "Payment for Order #381")
    assert result.rows_read == 4


def test_refund_takes_its_fee_credits():
    text = HEADER + (
        '"September 15, 2024",Refund,"Refund to buyer for Order #600",,USD,-$25.00,--,-$25.00,--\n'
        '"September 15, 2024",Fee,"Credit for processing fee","Order #600",USD,--,$0.60,$0.60,--\n'
    )
    refund = only(run("etsy", text))
    assert (refund.kind, refund.gross, refund.fee, refund.net) == (RowKind.REFUND, 2500, -60, -2440)


def test_deposit_amount_comes_from_its_title():
    text = (
        HEADER
        + '"September 30, 2024",Deposit,"€123.45 sent to your bank account",,EUR,--,--,--,--\n'
    )
    row = only(run("etsy", text, bom=True))
    assert (row.kind, row.currency, row.gross, row.net) == (RowKind.TRANSFER, "EUR", 12345, -12345)


def test_a_deposit_to_a_payoneer_wallet_is_a_transfer_too():
    # Where Etsy pays out through Payoneer the title names the wallet, not a bank: the
    # whole statement was refused ("the deposit's amount is not in its title").
    text = (
        HEADER
        + '"January 26, 2026",Deposit,"$1,061.28 sent to your Payoneer Wallet",,USD,--,--,--,--\n'
    )
    row = only(run("etsy", text, bom=True))
    assert (row.kind, row.gross, row.net) == (RowKind.TRANSFER, 106128, -106128)


def test_fees_without_their_sale_stay_fee_rows_and_identical_rows_both_count():
    line = '"September 22, 2024",Fee,"Listing fee","Listing #14",USD,--,-$0.20,-$0.20,--\n'
    result = run("etsy", HEADER + line + line)
    assert [(r.line, r.kind, r.fee, r.net) for r in result.rows] == [
        (2, RowKind.FEE, 20, -20),
        (3, RowKind.FEE, 20, -20),
    ]
    assert result.rows[0].raw == result.rows[1].raw


def test_uk_statement_with_offsite_ads_fee_and_its_credit():
    text = (
        "Date,Type,Title,Info,Currency,Amount,Fees & Taxes,Net,Tax Details,Status,"
        "Availability Date\n"
        '"31 July, 2026",Sale,Payment for Order #41,,GBP,£29.99,-£1.44,£28.55,--,--,--\n'
        '"31 July, 2026",Marketing,Fee for sale made through Offsite Ads,Order #41,GBP,--,'
        "-£4.80,-£4.80,--,--,--\n"
        '"31 July, 2026",VAT,VAT: Offsite Ads fee,Order #41,GBP,--,-£0.96,-£0.96,--,--,--\n'
    )
    sale = only(run("etsy", text))
    assert (sale.currency, sale.gross, sale.fee, sale.net) == ("GBP", 2999, 720, 2279)


def test_unknown_type_is_skipped_and_bad_amount_rejected():
    text = HEADER + (
        '"September 2, 2024",Mystery,"Something",,USD,$1.00,--,$1.00,--\n'
        '"September 3, 2024",Sale,"Payment for Order #9",,USD,$1O.00,--,$10.00,--\n'
        '"September 4, 2024",Sale,"Payment for Order #8",,USD,$10.00,--,$11.00,--\n'
    )
    result = run("etsy", text)
    assert [s.line for s in result.skipped] == [2]
    assert rejected(result) == [(3, "Amount"), (4, "Net")]


def test_reordered_columns_and_multi_line_title():
    text = (
        "Net,Currency,Amount,Fees & Taxes,Title,Type,Date\n"
        '$40.00,USD,$40.00,--,"Payment for Order #72\n(gift)",Sale,"September 22, 2024"\n'
        '-$1.30,USD,--,-$1.30,Listing fee,Fee,"September 22, 2024"\n'
    )
    result = run("etsy", text)
    assert [(r.line, r.kind) for r in result.rows] == [(2, RowKind.INCOME), (4, RowKind.FEE)]


def test_missing_fees_column_is_named():
    with pytest.raises(ImportFormatError) as err:
        run("etsy", "Date,Type,Title,Currency,Amount,Net\n")
    assert err.value.column == "Fees & Taxes"


def test_row_with_only_a_net_figure():
    text = HEADER + (
        '"September 9, 2024",Payment,"Payment from your card on file",,USD,--,--,$12.00,--\n'
        '"September 9, 2024",Fee,"Auto-renew listing fee",,USD,--,--,-$0.20,--\n'
    )
    result = run("etsy", text)
    assert [(r.kind, r.gross, r.fee, r.net) for r in result.rows] == [
        (RowKind.TRANSFER, 1200, 0, 1200),
        (RowKind.FEE, 0, 20, -20),
    ]


def test_sales_tax_without_its_sale_is_a_transfer_either_way():
    # The buyer's sales tax passes through Etsy to the tax authority: never the worker's
    # income, and never their expense. Charged without its sale in the file it was booked
    # as a fee, while the same tax refunded was a transfer.
    text = HEADER + (
        '"January 24, 2026",Tax,"Sales tax paid by buyer","Order #3900000001",USD,--,-$4.24,'
        "-$4.24,--\n"
        '"January 24, 2026",Tax,"Refund to buyer for sales tax","Order #3900000001",USD,--,'
        "$4.24,$4.24,--\n"
    )
    result = run("etsy", text)
    assert [(r.line, r.kind, r.gross, r.fee, r.net) for r in result.rows] == [
        (2, RowKind.TRANSFER, 424, 0, -424),
        (3, RowKind.TRANSFER, 424, 0, 424),
    ]


def test_a_fee_the_buyer_paid_comes_off_the_sale_like_sales_tax():
    # Type "Buyer Fee" was skipped as unknown, leaving the fee the buyer paid (inside the
    # sale's amount, passed on by Etsy) in the worker's gross income.
    text = HEADER + (
        '"January 13, 2026",Sale,"Payment for Order #3942434022",,USD,$20.28,--,$20.28,--\n'
        '"January 13, 2026","Buyer Fee","Colorado Retail Delivery Fee (paid by buyer)",'
        '"Order #3942434022",USD,--,-$0.28,-$0.28,--\n'
    )
    row = only(run("etsy", text))
    assert (row.kind, row.gross, row.fee, row.net) == (RowKind.INCOME, 2000, 0, 2000)
