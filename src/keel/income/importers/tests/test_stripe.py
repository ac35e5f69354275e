"""Stripe balance history export and the itemized balance change report."""

from __future__ import annotations

from datetime import date

import pytest

from keel.income.importers import ImportFormatError, RowKind

from .helpers import only, rejected, run

HEADER = "id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Available On (UTC),Description\n"


def test_charge_keeps_gross_fee_and_net():
    row = only(
        run("stripe", HEADER + "txn_1,charge,ch_1,120.00,3.78,116.22,usd,2024-09-02 14:03,,Logo\n")
    )
    assert (row.kind, row.currency, row.gross, row.fee, row.net) == (
        RowKind.INCOME,
        "USD",
        12000,
        378,
        11622,
    )
    assert (row.external_id, row.related_id, row.source_type) == ("txn_1", "ch_1", "charge")
    assert row.occurred_on == date(2024, 9, 2)


def test_refund_dispute_payout_fee_and_transfers():
    text = HEADER + (
        "txn_2,refund,re_1,-20.00,0.00,-20.00,usd,2024-09-04 16:40,,Refund\n"
        "txn_3,refund,re_2,-100.00,-5.00,-95.00,usd,2024-09-04 16:40,,Refund with fee back\n"
        "txn_4,adjustment,du_1,-45.00,15.00,-60.00,usd,2024-09-06 10:00,,Chargeback withdrawal\n"
        "txn_5,adjustment,du_1,45.00,0.00,45.00,usd,2024-09-20 10:00,,Chargeback reversal\n"
        "txn_6,payout,po_1,-96.22,0.00,-96.22,usd,2024-09-12 00:05,,STRIPE PAYOUT\n"
        "txn_7,payout_failure,po_1,96.22,0.00,96.22,usd,2024-09-13 00:05,,Payout failed\n"
        "txn_8,stripe_fee,,-2.00,0.00,-2.00,usd,2024-09-10 00:00,,Billing\n"
        "txn_9,transfer,tr_1,80.00,0.00,80.00,usd,2024-09-25 12:00,,From a platform\n"
        "txn_10,transfer,tr_2,-30.00,0.00,-30.00,usd,2024-09-26 12:00,,To a collaborator\n"
        "txn_11,transfer_refund,trr_1,-10.00,0.00,-10.00,usd,2024-09-27 12:00,,Taken back\n"
    )
    result = run("stripe", text)
    assert [(r.kind, r.gross, r.fee, r.net) for r in result.rows] == [
        (RowKind.REFUND, 2000, 0, -2000),
        (RowKind.REFUND, 10000, -500, -9500),
        (RowKind.REFUND, 4500, 1500, -6000),
        (RowKind.INCOME, 4500, 0, 4500),
        (RowKind.TRANSFER, 9622, 0, -9622),
        (RowKind.TRANSFER, 9622, 0, 9622),
        (RowKind.FEE, 0, 200, -200),
        (RowKind.INCOME, 8000, 0, 8000),
        (RowKind.TRANSFER, 3000, 0, -3000),
        (RowKind.REFUND, 1000, 0, -1000),
    ]


def test_zero_decimal_currency_and_reordered_extra_columns():
    text = (
        "Description,Currency,Net,Customer Name,Fee,Amount,Created (UTC),Type,id,Color (metadata)\n"
        "Print,jpy,1150,Aiko,50,1200,2024-09-02 14:03,charge,txn_1,blue\n"
    )
    row = only(run("stripe", text, bom=True))
    assert (row.currency, row.gross, row.fee, row.net) == ("JPY", 1200, 50, 1150)
    assert row.counterparty == "Aiko"


def test_net_that_does_not_add_up_is_rejected():
    result = run("stripe", HEADER + "txn_1,charge,ch_1,120.00,3.78,116.00,usd,2024-09-02,,x\n")
    assert rejected(result) == [(2, "Net")]


def test_bad_amount_and_currency_are_rejected():
    text = HEADER + (
        "txn_1,charge,ch_1,12O.00,3.78,116.22,usd,2024-09-02,,x\n"
        "txn_2,charge,ch_2,120.00,3.78,116.22,usd,2024-09-02,,x\n"
        "txn_3,charge,ch_3,120.00,3.78,116.22,xyz,2024-09-02,,x\n"
    )
    result = run("stripe", text)
    assert rejected(result) == [(2, "Amount"), (4, "Currency")]
    assert [r.line for r in result.rows] == [3]


def test_unknown_type_is_skipped():
    result = run("stripe", HEADER + "txn_1,brand_new_thing,,1.00,0,1.00,usd,2024-09-02,,x\n")
    assert [s.line for s in result.skipped] == [2]
    assert "brand_new_thing" in result.skipped[0].reason


def test_missing_created_column_is_named():
    with pytest.raises(ImportFormatError) as err:
        run("stripe", "id,Type,Amount,Fee,Net,Currency\n")
    assert err.value.column == "Created (UTC)"


def test_excel_resaved_dates_settle_from_the_file():
    text = HEADER + (
        "txn_1,charge,ch_1,10.00,0.59,9.41,usd,8/6/2024 12:00,,x\n"
        "txn_2,charge,ch_2,10.00,0.59,9.41,usd,8/26/2024 12:00,,x\n"
    )
    result = run("stripe", text)
    assert [r.occurred_on for r in result.rows] == [date(2024, 8, 6), date(2024, 8, 26)]


ITEMIZED = (
    "balance_transaction_id,created_utc,created,available_on_utc,currency,gross,fee,net,"
    "reporting_category,source_id,description,customer_name,customer_email\n"
)


def test_itemized_prefers_the_report_time_zone_date():
    text = ITEMIZED + (
        "txn_2,2024-10-01 23:30:00,2024-10-02 01:30:00,,eur,19.00,0.52,18.48,charge,ch_2,"
        "Order 1235,Ben Okafor,ben@example.com\n"
    )
    row = only(run("stripe-itemized", text))
    assert row.occurred_on == date(2024, 10, 2)
    assert (row.currency, row.gross, row.fee, row.net) == ("EUR", 1900, 52, 1848)
    assert (row.counterparty, row.external_id) == ("Ben Okafor", "txn_2")


def test_itemized_categories():
    text = (
        "reporting_category,net,fee,gross,currency,created_utc,balance_transaction_id\n"
        "refund,-19.00,0.00,-19.00,eur,2024-10-02 08:00:00,t1\n"
        "dispute,-65.00,15.00,-50.00,eur,2024-10-03 06:00:00,t2\n"
        "dispute_reversal,50.00,0.00,50.00,eur,2024-10-20 06:00:00,t3\n"
        "fee,-2.00,0.00,-2.00,eur,2024-10-05 06:00:00,t4\n"
        "tax,-0.38,0.00,-0.38,eur,2024-10-05 06:00:00,t5\n"
        "payout,-24.00,0.00,-24.00,eur,2024-10-07 06:00:00,t6\n"
        "payout_reversal,24.00,0.00,24.00,eur,2024-10-08 06:00:00,t7\n"
        "other_adjustment,-1.00,0.00,-1.00,eur,2024-10-09 06:00:00,t8\n"
        "partial_capture_reversal,-3.00,0.00,-3.00,eur,2024-10-09 06:00:00,t9\n"
    )
    result = run("stripe-itemized", text)
    assert [(r.kind, r.gross, r.fee, r.net) for r in result.rows] == [
        (RowKind.REFUND, 1900, 0, -1900),
        (RowKind.REFUND, 5000, 1500, -6500),
        (RowKind.INCOME, 5000, 0, 5000),
        (RowKind.FEE, 0, 200, -200),
        (RowKind.FEE, 0, 38, -38),
        (RowKind.TRANSFER, 2400, 0, -2400),
        (RowKind.TRANSFER, 2400, 0, 2400),
        (RowKind.REFUND, 100, 0, -100),
        (RowKind.REFUND, 300, 0, -300),
    ]


def test_itemized_with_a_decimal_comma():
    text = (
        "balance_transaction_id;created_utc;currency;gross;fee;net;reporting_category\n"
        "t1;2024-10-01 09:12:00;eur;1.045,91;0,94;1.044,97;charge\n"
    )
    result = run("stripe-itemized", text)
    row = only(result)
    assert (row.gross, row.fee, row.net) == (104591, 94, 104497)
    assert result.notes == ["amounts read with a decimal comma (1.234,56): line 2 has '1.045,91'"]


def test_itemized_needs_a_created_column():
    with pytest.raises(ImportFormatError) as err:
        run("stripe-itemized", "balance_transaction_id,currency,gross,reporting_category\n")
    assert err.value.column == "created_utc"
