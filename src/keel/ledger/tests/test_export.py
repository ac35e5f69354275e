"""Exports of one owner's books, worked by hand, on SQLite and PostgreSQL.

The Beancount export is checked by Beancount itself: `bean-check` must accept it, and must
reject it once a single amount is changed (so the check can fail).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import subprocess
import sys
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from keel.ledger import export, services
from keel.ledger.export import (
    CSV_COLUMNS,
    Owner,
    beancount_account,
    beancount_component,
    export_owner,
    parse_owner,
)
from keel.ledger.models import Account
from keel.ledger.rules import JournalSpec, LegSpec

from .conftest import journal

BEAN_CHECK = Path(sys.executable).parent / "bean-check"
WORKER = Owner("worker", 1)
NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
EXPIRES = datetime(2026, 3, 20, tzinfo=UTC)
MEMO = 'Logo "v2"\nback\\slash'
CASH, SAVINGS, INCOME, FEES = (
    "worker:1:cash",
    "worker:1:savings",
    "worker:1:income:upwork",
    "worker:1:expenses:fees",
)
JPY, BHD, SICK = "worker:1:cash:jpy", "worker:1:cash:bhd", "worker:1:sick_leave"
CLEARING, CLEARING_BHD, OTHER = "platform:7:clearing", "platform:7:clearing:bhd", "worker:2:cash"


def run(owner: Owner, fmt: str) -> tuple[str, export.ExportSummary]:
    out = io.StringIO()
    summary = export_owner(owner, fmt, out, now=NOW)  # type: ignore[arg-type]
    return out.getvalue(), summary


def bean_check(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "books.beancount"
    path.write_text(text, encoding="utf-8")
    return subprocess.run(
        [str(BEAN_CHECK), str(path)], capture_output=True, text=True, check=False, timeout=60
    )


@pytest.fixture
def book(books: dict[str, Account]) -> dict[str, int]:
    """Worker 1's March: a gig with a fee, USD to JPY, a BHD payment, a gig and its
    reversal, a payment split with worker 2, a reservation posted in part, one voided, one
    still open; and a journal of worker 2 alone that must not be exported."""
    for code, owner_type, owner_id, kind, currency in (
        (JPY, "worker", 1, "asset", "JPY"),
        (BHD, "worker", 1, "asset", "BHD"),
        (SICK, "worker", 1, "asset", "USD"),
        (CLEARING, "platform", 7, "liability", "USD"),
        (CLEARING_BHD, "platform", 7, "liability", "BHD"),
        (OTHER, "worker", 2, "asset", "USD"),
    ):
        services.open_account(
            code, owner_type=owner_type, owner_id=owner_id, kind=kind, currency=currency
        )
    ids = {
        "gig": services.post_journal(
            journal("upwork:T1", (CASH, 90_000), (FEES, 10_000), (INCOME, -100_000), memo=MEMO)
        ).id,
        "fx": services.post_exchange(
            idempotency_key="fx:1",
            effective_date=date(2026, 3, 3),
            source=CASH,
            source_amount=10_000,
            target=JPY,
            rate=Decimal("149.5"),
            rate_date=date(2026, 3, 2),
        ).id,
        "bhd": services.post_journal(
            journal(
                "bhd:1",
                (BHD, 1_234),
                (CLEARING_BHD, -1_234),
                currency="BHD",
                kind="gig",
                on=date(2026, 3, 4),
            )
        ).id,
        "gig2": services.post_journal(
            journal("gig:2", (CASH, 5_000), (CLEARING, -5_000), kind="gig", on=date(2026, 3, 4))
        ).id,
    }
    ids["reversal"] = services.reverse_journal(
        ids["gig2"], idempotency_key="gig:2:reverse", effective_date=date(2026, 3, 5)
    ).id
    ids["split"] = services.post_journal(
        journal(
            "split:1",
            (CASH, -2_500),
            (SICK, 500),
            (OTHER, 2_000),
            kind="transfer",
            on=date(2026, 3, 5),
        )
    ).id
    services.post_journal(journal("w2:1", (OTHER, 700), (CLEARING, -700), kind="gig"))
    ids["open"] = services.reserve(
        journal("hold:1", (SAVINGS, 3_000), (CASH, -3_000), kind="escrow", memo="milestone 1"),
        expires_at=EXPIRES,
    ).id
    voided = services.reserve(journal("hold:2", (SAVINGS, 100), (CASH, -100), kind="escrow"))
    services.void_pending(voided.id)
    partly = services.reserve(journal("hold:3", (SAVINGS, 1_000), (CASH, -1_000), kind="escrow"))
    ids["partial"] = services.post_pending(partly.id, idempotency_key="hold:3:post", amount=400).id
    return ids


# ---------------------------------------------------------------------------- owners


@pytest.mark.parametrize(
    ("text", "owner"),
    [
        ("worker:42", Owner("worker", 42)),
        ("pool:3", Owner("pool", 3)),
        ("platform:7", Owner("platform", 7)),
        ("keel", Owner("keel", None)),
        (" worker:42 ", Owner("worker", 42)),
    ],
)
def test_parse_owner(text, owner):
    assert parse_owner(text) == owner
    assert str(owner) == text.strip()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "owner is empty"),
        ("worker", "has no id"),
        ("worker:", "has no id"),
        ("worker:abc", "id 'abc' must be a positive whole number"),
        ("worker:0", "id '0' must be a positive whole number"),
        ("worker:-3", "id '-3' must be a positive whole number"),
        ("worker:042", "id '042' must be a positive whole number"),
        ("worker:4:2", "id '4:2' must be a positive whole number"),
        ("client:3", "unknown type 'client'"),
        ("Worker:3", "unknown type 'Worker'"),
        ("keel:1", "keel has no id"),
    ],
)
def test_parse_owner_refuses_with_a_clear_message(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_owner(text)


def test_owner_refuses_inconsistent_ids():
    with pytest.raises(ValueError, match="needs a positive integer id"):
        Owner("pool", None)
    with pytest.raises(ValueError, match="has no id"):
        Owner("keel", 1)


def test_unknown_format_is_refused(db):
    with pytest.raises(ValueError, match="format 'xlsx' is not one of beancount, csv, json"):
        export_owner(WORKER, "xlsx", io.StringIO())  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- account names


@pytest.mark.parametrize(
    ("code", "kind", "name"),
    [
        ("worker:42:benefits:health", "asset", "Assets:Worker:42:Benefits:Health"),
        ("worker:1:sick_leave", "asset", "Assets:Worker:1:SickLeave"),
        ("pool:3:member_12", "liability", "Liabilities:Pool:3:MemberX12"),
        ("platform:7:xero", "income", "Income:Platform:7:Xxero"),
        ("keel:fx:usd", "equity", "Equity:Keel:Fx:Usd"),
        ("worker:1:-a", "expense", "Expenses:Worker:1:X-a"),
        ("worker:1:_a", "expense", "Expenses:Worker:1:XA"),
        ("worker:1:a__b_", "expense", "Expenses:Worker:1:AXBX"),
        ("worker:1:2fa", "asset", "Assets:Worker:1:2fa"),
        ("worker:1:_2", "asset", "Assets:Worker:1:XX2"),
    ],
)
def test_beancount_account_names(code, kind, name):
    assert beancount_account(code, kind) == name


def test_beancount_components_are_valid_and_injective():
    # Every segment up to five characters over an alphabet that exercises each rule
    # (the escape letter, another letter, a digit, underscore, dash).
    component = re.compile(r"[A-Z0-9][A-Za-z0-9-]*")
    seen: dict[str, str] = {}
    for length in range(1, 6):
        for chars in itertools.product("axz1_-", repeat=length):
            segment = "".join(chars)
            name = beancount_component(segment)
            assert component.fullmatch(name), (segment, name)
            assert seen.setdefault(name, segment) == segment, (segment, seen[name], name)
    assert len(seen) == sum(6**n for n in range(1, 6))


# ---------------------------------------------------------------------------- beancount


def expected_beancount(ids: dict[str, int]) -> str:
    i = ids
    return f"""\
; Keel ledger export for worker:1
; Amounts are exact; balances are checked at the end of the file.
option "title" "Keel: worker:1"
option "operating_currency" "BHD"
option "operating_currency" "EUR"
option "operating_currency" "JPY"
option "operating_currency" "USD"

2026-03-02 open Assets:Worker:1:Cash USD
2026-03-02 open Assets:Worker:1:Cash:Eur EUR
2026-03-02 open Assets:Worker:1:Savings USD
2026-03-02 open Expenses:Worker:1:Expenses:Fees USD
2026-03-02 open Income:Worker:1:Income:Upwork USD
2026-03-03 open Assets:Worker:1:Cash:Jpy JPY
2026-03-03 open Equity:Keel:Fx:Jpy JPY
2026-03-03 open Equity:Keel:Fx:Usd USD
2026-03-04 open Assets:Worker:1:Cash:Bhd BHD
2026-03-04 open Liabilities:Platform:7:Clearing USD
2026-03-04 open Liabilities:Platform:7:Clearing:Bhd BHD
2026-03-05 open Assets:Worker:1:SickLeave USD
2026-03-05 open Assets:Worker:2:Cash USD

2026-03-02 * "Logo \\"v2\\"\\nback\\\\slash"
  keel-journal: {i["gig"]}
  keel-kind: "income"
  Assets:Worker:1:Cash               900.00 USD
  Expenses:Worker:1:Expenses:Fees    100.00 USD
  Income:Worker:1:Income:Upwork    -1000.00 USD

2026-03-02 * ""
  keel-journal: {i["partial"]}
  keel-kind: "escrow"
  Assets:Worker:1:Savings   4.00 USD
  Assets:Worker:1:Cash     -4.00 USD

2026-03-03 * ""
  keel-journal: {i["fx"]}
  keel-kind: "exchange"
  keel-metadata: "{{\\"exchange\\": {{\\"rate\\": \\"149.5\\", \\"rate_date\\": \\"2026-03-02\\", \
\\"source_amount\\": 10000, \\"source_currency\\": \\"USD\\", \\"target_amount\\": 14950, \
\\"target_currency\\": \\"JPY\\"}}}}"
  Assets:Worker:1:Cash      -100.00 USD
  Equity:Keel:Fx:Usd         100.00 USD
  Equity:Keel:Fx:Jpy         -14950 JPY
  Assets:Worker:1:Cash:Jpy    14950 JPY

2026-03-04 * ""
  keel-journal: {i["bhd"]}
  keel-kind: "gig"
  Assets:Worker:1:Cash:Bhd              1.234 BHD
  Liabilities:Platform:7:Clearing:Bhd  -1.234 BHD

2026-03-04 * ""
  keel-journal: {i["gig2"]}
  keel-kind: "gig"
  Assets:Worker:1:Cash              50.00 USD
  Liabilities:Platform:7:Clearing  -50.00 USD

2026-03-05 * "Reversal of journal {i["gig2"]}"
  keel-journal: {i["reversal"]}
  keel-kind: "reversal"
  keel-reverses: {i["gig2"]}
  keel-metadata: "{{\\"reversed_kind\\": \\"gig\\", \\"reverses\\": {i["gig2"]}}}"
  Assets:Worker:1:Cash             -50.00 USD
  Liabilities:Platform:7:Clearing   50.00 USD

2026-03-05 * ""
  keel-journal: {i["split"]}
  keel-kind: "transfer"
  Assets:Worker:1:Cash       -25.00 USD
  Assets:Worker:1:SickLeave    5.00 USD
  Assets:Worker:2:Cash        20.00 USD

; Open reservations (pending journals). Nothing has moved yet, so they are not in the
; transactions or balances above.
; 2026-03-02 pending keel-journal {i["open"]} kind "escrow" memo "milestone 1" \
expires 2026-03-20T00:00:00+00:00
;   Assets:Worker:1:Savings  30.00 USD
;   Assets:Worker:1:Cash  -30.00 USD

; Posted balances as Keel stores them (debits positive).
2026-03-06 balance Assets:Worker:1:Cash  771.00 ~ 0.00 USD
2026-03-06 balance Assets:Worker:1:Cash:Bhd  1.234 ~ 0.000 BHD
2026-03-06 balance Assets:Worker:1:Cash:Eur  0.00 ~ 0.00 EUR
2026-03-06 balance Assets:Worker:1:Cash:Jpy  14950 ~ 0 JPY
2026-03-06 balance Expenses:Worker:1:Expenses:Fees  100.00 ~ 0.00 USD
2026-03-06 balance Income:Worker:1:Income:Upwork  -1000.00 ~ 0.00 USD
2026-03-06 balance Assets:Worker:1:Savings  4.00 ~ 0.00 USD
2026-03-06 balance Assets:Worker:1:SickLeave  5.00 ~ 0.00 USD
"""


def test_beancount_export_exact_text(book):
    text, summary = run(WORKER, "beancount")
    assert text == expected_beancount(book)
    # Eight accounts of worker 1; the journal of worker 2 alone, the voided reservation and
    # the completed one are not exported.
    assert (summary.accounts, summary.journals, summary.legs, summary.pending) == (8, 7, 18, 1)


def test_beancount_export_passes_bean_check(book, tmp_path):
    text, _ = run(WORKER, "beancount")
    result = bean_check(text, tmp_path)
    assert (result.returncode, result.stderr) == (0, "")


def test_bean_check_rejects_a_changed_amount(book, tmp_path):
    text, _ = run(WORKER, "beancount")
    corrupted = text.replace(
        "Assets:Worker:1:Cash:Bhd              1.234 BHD",
        "Assets:Worker:1:Cash:Bhd              1.235 BHD",
    )
    assert corrupted != text
    result = bean_check(corrupted, tmp_path)
    assert result.returncode == 1
    assert "Transaction does not balance: (0.001 BHD)" in result.stderr
    # The balance assertion catches it as well: the stored total no longer matches.
    assert "Balance failed for 'Assets:Worker:1:Cash:Bhd'" in result.stderr


def test_bean_check_rejects_a_balance_that_is_not_stored(book, tmp_path):
    text, _ = run(WORKER, "beancount")
    corrupted = text.replace("Cash  771.00 ~ 0.00 USD", "Cash  771.01 ~ 0.00 USD")
    assert corrupted != text
    result = bean_check(corrupted, tmp_path)
    assert result.returncode == 1
    assert "Balance failed for 'Assets:Worker:1:Cash'" in result.stderr


def test_beancount_strings_are_escaped_and_payee_comes_from_metadata(books, tmp_path):
    services.post_journal(
        JournalSpec(
            idempotency_key="odd",
            kind='gig "rush"',
            effective_date=date(2026, 3, 2),
            legs=(LegSpec(CASH, 100, "USD"), LegSpec(INCOME, -100, "USD")),
            memo="tab\there\r\nback\\slash \x01 bell",
            metadata={"payee": 'ACME "Ltd"'},
        )
    )
    text, _ = run(WORKER, "beancount")
    assert '2026-03-02 * "ACME \\"Ltd\\"" "tab\\there\\r\\nback\\\\slash \ufffd bell"\n' in text
    assert '  keel-kind: "gig \\"rush\\""\n' in text
    result = bean_check(text, tmp_path)
    assert (result.returncode, result.stderr) == (0, "")


def test_counterpart_owner_export_balances_too(book, tmp_path):
    # Platform 7 sees the BHD payment, the gig and its reversal, and worker 2's gig.
    text, summary = run(Owner("platform", 7), "beancount")
    assert (summary.accounts, summary.journals, summary.pending) == (2, 4, 0)
    assert "2026-03-06 balance Liabilities:Platform:7:Clearing  -7.00 ~ 0.00 USD\n" in text
    assert "2026-03-06 balance Liabilities:Platform:7:Clearing:Bhd  -1.234 ~ 0.000 BHD\n" in text
    result = bean_check(text, tmp_path)
    assert (result.returncode, result.stderr) == (0, "")


# ---------------------------------------------------------------------------- csv


def test_csv_export_exact_rows(book):
    text, summary = run(WORKER, "csv")
    i = book
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(CSV_COLUMNS)
    assert rows[1:] == [
        [
            str(i["gig"]),
            "2026-03-02",
            "income",
            "posted",
            MEMO,
            CASH,
            "asset",
            "900.00",
            "90000",
            "USD",
            "upwork:T1",
        ],
        [
            str(i["gig"]),
            "2026-03-02",
            "income",
            "posted",
            MEMO,
            FEES,
            "expense",
            "100.00",
            "10000",
            "USD",
            "upwork:T1",
        ],
        [
            str(i["gig"]),
            "2026-03-02",
            "income",
            "posted",
            MEMO,
            INCOME,
            "income",
            "-1000.00",
            "-100000",
            "USD",
            "upwork:T1",
        ],
        [
            str(i["partial"]),
            "2026-03-02",
            "escrow",
            "posted",
            "",
            SAVINGS,
            "asset",
            "4.00",
            "400",
            "USD",
            "hold:3:post",
        ],
        [
            str(i["partial"]),
            "2026-03-02",
            "escrow",
            "posted",
            "",
            CASH,
            "asset",
            "-4.00",
            "-400",
            "USD",
            "hold:3:post",
        ],
        [
            str(i["fx"]),
            "2026-03-03",
            "exchange",
            "posted",
            "",
            CASH,
            "asset",
            "-100.00",
            "-10000",
            "USD",
            "fx:1",
        ],
        [
            str(i["fx"]),
            "2026-03-03",
            "exchange",
            "posted",
            "",
            "keel:fx:usd",
            "equity",
            "100.00",
            "10000",
            "USD",
            "fx:1",
        ],
        [
            str(i["fx"]),
            "2026-03-03",
            "exchange",
            "posted",
            "",
            "keel:fx:jpy",
            "equity",
            "-14950",
            "-14950",
            "JPY",
            "fx:1",
        ],
        [
            str(i["fx"]),
            "2026-03-03",
            "exchange",
            "posted",
            "",
            JPY,
            "asset",
            "14950",
            "14950",
            "JPY",
            "fx:1",
        ],
        [
            str(i["bhd"]),
            "2026-03-04",
            "gig",
            "posted",
            "",
            BHD,
            "asset",
            "1.234",
            "1234",
            "BHD",
            "bhd:1",
        ],
        [
            str(i["bhd"]),
            "2026-03-04",
            "gig",
            "posted",
            "",
            CLEARING_BHD,
            "liability",
            "-1.234",
            "-1234",
            "BHD",
            "bhd:1",
        ],
        [
            str(i["gig2"]),
            "2026-03-04",
            "gig",
            "posted",
            "",
            CASH,
            "asset",
            "50.00",
            "5000",
            "USD",
            "gig:2",
        ],
        [
            str(i["gig2"]),
            "2026-03-04",
            "gig",
            "posted",
            "",
            CLEARING,
            "liability",
            "-50.00",
            "-5000",
            "USD",
            "gig:2",
        ],
        [
            str(i["reversal"]),
            "2026-03-05",
            "reversal",
            "posted",
            f"Reversal of journal {i['gig2']}",
            CASH,
            "asset",
            "-50.00",
            "-5000",
            "USD",
            "gig:2:reverse",
        ],
        [
            str(i["reversal"]),
            "2026-03-05",
            "reversal",
            "posted",
            f"Reversal of journal {i['gig2']}",
            CLEARING,
            "liability",
            "50.00",
            "5000",
            "USD",
            "gig:2:reverse",
        ],
        [
            str(i["split"]),
            "2026-03-05",
            "transfer",
            "posted",
            "",
            CASH,
            "asset",
            "-25.00",
            "-2500",
            "USD",
            "split:1",
        ],
        [
            str(i["split"]),
            "2026-03-05",
            "transfer",
            "posted",
            "",
            SICK,
            "asset",
            "5.00",
            "500",
            "USD",
            "split:1",
        ],
        [
            str(i["split"]),
            "2026-03-05",
            "transfer",
            "posted",
            "",
            OTHER,
            "asset",
            "20.00",
            "2000",
            "USD",
            "split:1",
        ],
    ]
    assert (summary.journals, summary.legs, summary.pending) == (7, 18, 0)


def test_csv_neutralises_formulas_in_text_but_not_in_amounts(books):
    services.post_journal(
        journal("=1+1", (CASH, 1_000), (INCOME, -1_000), memo='=HYPERLINK("x")', kind="@gig")
    )
    services.post_journal(journal("k2", (CASH, -250), (FEES, 250), memo="+tip", kind="-fee"))
    text, _ = run(WORKER, "csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert [(r[2], r[4], r[7], r[8], r[10]) for r in rows[1:]] == [
        ("'@gig", '\'=HYPERLINK("x")', "10.00", "1000", "'=1+1"),
        ("'@gig", '\'=HYPERLINK("x")', "-10.00", "-1000", "'=1+1"),
        ("'-fee", "'+tip", "-2.50", "-250", "k2"),
        ("'-fee", "'+tip", "2.50", "250", "k2"),
    ]
    assert '"\'=HYPERLINK(""x"")"' in text


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_neutralise_cell(cell, safe):
    assert export.neutralise_cell(cell) == safe


# ---------------------------------------------------------------------------- json


def test_json_export_exact_structure(book):
    text, summary = run(WORKER, "json")
    i = book

    def entry(
        key: str,
        on: str,
        kind: str,
        legs: list[tuple[str, int, str]],
        memo: str = "",
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {
            "id": i[key],
            "effective_date": on,
            "kind": kind,
            "status": "posted",
            "memo": memo,
            "metadata": metadata or {},
            "legs": [{"account": a, "amount": n, "currency": c} for a, n, c in legs],
        }

    assert json.loads(text) == {
        "format": "keel-ledger-export/1",
        "owner": {"type": "worker", "id": 1},
        "generated_at": "2026-03-31T12:00:00+00:00",
        "accounts": [
            {
                "code": CASH,
                "kind": "asset",
                "currency": "USD",
                "posted": 77_100,
                "available": 74_100,
            },
            {"code": BHD, "kind": "asset", "currency": "BHD", "posted": 1_234, "available": 1_234},
            {
                "code": "worker:1:cash:eur",
                "kind": "asset",
                "currency": "EUR",
                "posted": 0,
                "available": 0,
            },
            {
                "code": JPY,
                "kind": "asset",
                "currency": "JPY",
                "posted": 14_950,
                "available": 14_950,
            },
            {
                "code": FEES,
                "kind": "expense",
                "currency": "USD",
                "posted": 10_000,
                "available": 10_000,
            },
            {
                "code": INCOME,
                "kind": "income",
                "currency": "USD",
                "posted": 100_000,
                "available": 100_000,
            },
            {"code": SAVINGS, "kind": "asset", "currency": "USD", "posted": 400, "available": 400},
            {"code": SICK, "kind": "asset", "currency": "USD", "posted": 500, "available": 500},
        ],
        "journals": [
            entry(
                "gig",
                "2026-03-02",
                "income",
                [(CASH, 90_000, "USD"), (FEES, 10_000, "USD"), (INCOME, -100_000, "USD")],
                memo=MEMO,
            ),
            entry("partial", "2026-03-02", "escrow", [(SAVINGS, 400, "USD"), (CASH, -400, "USD")]),
            entry(
                "fx",
                "2026-03-03",
                "exchange",
                [
                    (CASH, -10_000, "USD"),
                    ("keel:fx:usd", 10_000, "USD"),
                    ("keel:fx:jpy", -14_950, "JPY"),
                    (JPY, 14_950, "JPY"),
                ],
                metadata={
                    "exchange": {
                        "rate": "149.5",
                        "rate_date": "2026-03-02",
                        "source_currency": "USD",
                        "target_currency": "JPY",
                        "source_amount": 10_000,
                        "target_amount": 14_950,
                    }
                },
            ),
            entry("bhd", "2026-03-04", "gig", [(BHD, 1_234, "BHD"), (CLEARING_BHD, -1_234, "BHD")]),
            entry("gig2", "2026-03-04", "gig", [(CASH, 5_000, "USD"), (CLEARING, -5_000, "USD")]),
            entry(
                "reversal",
                "2026-03-05",
                "reversal",
                [(CASH, -5_000, "USD"), (CLEARING, 5_000, "USD")],
                memo=f"Reversal of journal {i['gig2']}",
                metadata={"reverses": i["gig2"], "reversed_kind": "gig"},
            ),
            entry(
                "split",
                "2026-03-05",
                "transfer",
                [(CASH, -2_500, "USD"), (SICK, 500, "USD"), (OTHER, 2_000, "USD")],
            ),
        ],
        "pending": [
            {
                "id": i["open"],
                "effective_date": "2026-03-02",
                "kind": "escrow",
                "status": "pending",
                "memo": "milestone 1",
                "metadata": {},
                "legs": [
                    {"account": SAVINGS, "amount": 3_000, "currency": "USD"},
                    {"account": CASH, "amount": -3_000, "currency": "USD"},
                ],
                "expires_at": "2026-03-20T00:00:00+00:00",
            },
        ],
    }
    assert (summary.accounts, summary.journals, summary.legs, summary.pending) == (8, 7, 18, 1)


# ---------------------------------------------------------------------------- empty owners


def test_owner_without_journals_exports_valid_empty_files(books, tmp_path):
    text, summary = run(WORKER, "beancount")
    assert (summary.accounts, summary.journals, summary.legs, summary.pending) == (5, 0, 0, 0)
    opened = Account.objects.get(code=CASH).created_at.astimezone(UTC).date()
    assert f"{opened.isoformat()} open Assets:Worker:1:Cash USD\n" in text
    assert "balance Assets:Worker:1:Cash  0.00 ~ 0.00 USD\n" in text
    assert (bean_check(text, tmp_path).returncode, bean_check(text, tmp_path).stderr) == (0, "")

    text, _ = run(WORKER, "csv")
    assert text == ",".join(CSV_COLUMNS) + "\n"

    document = json.loads(run(WORKER, "json")[0])
    assert (document["journals"], document["pending"]) == ([], [])
    assert [a["posted"] for a in document["accounts"]] == [0, 0, 0, 0, 0]


def test_unknown_owner_exports_valid_empty_files(book, tmp_path):
    nobody = Owner("pool", 99)
    text, summary = run(nobody, "beancount")
    assert (summary.accounts, summary.journals, summary.legs, summary.pending) == (0, 0, 0, 0)
    assert text == (
        "; Keel ledger export for pool:99\n"
        "; Amounts are exact; balances are checked at the end of the file.\n"
        'option "title" "Keel: pool:99"\n\n'
    )
    result = bean_check(text, tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert run(nobody, "csv")[0] == ",".join(CSV_COLUMNS) + "\n"
    assert json.loads(run(nobody, "json")[0]) == {
        "format": "keel-ledger-export/1",
        "owner": {"type": "pool", "id": 99},
        "generated_at": "2026-03-31T12:00:00+00:00",
        "accounts": [],
        "journals": [],
        "pending": [],
    }


# ---------------------------------------------------------------------------- streaming


def test_query_count_does_not_grow_with_the_books(books, monkeypatch):
    def queries_for(fmt: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            export_owner(WORKER, fmt, io.StringIO())  # type: ignore[arg-type]
        return len(captured)

    services.post_journals([journal(f"a{n}", (CASH, 100), (INCOME, -100)) for n in range(3)])
    few = {fmt: queries_for(fmt) for fmt in export.FORMATS}
    services.post_journals([journal(f"b{n}", (CASH, 100), (INCOME, -100)) for n in range(60)])
    assert {fmt: queries_for(fmt) for fmt in export.FORMATS} == few


def test_chunk_boundaries_do_not_split_journals(book, monkeypatch):
    whole = {fmt: run(WORKER, fmt)[0] for fmt in export.FORMATS}
    # Two rows per fetch: every three-leg journal straddles a chunk boundary.
    monkeypatch.setattr(export, "_CHUNK", 2)
    assert {fmt: run(WORKER, fmt)[0] for fmt in export.FORMATS} == whole


@pytest.mark.django_db(transaction=True)
def test_export_outside_a_transaction_reads_one_snapshot(tmp_path):
    # Outside any atomic block the export opens its own read snapshot (a deferred
    # transaction on SQLite, REPEATABLE READ on PostgreSQL) and closes it again.
    services.open_account(CASH, owner_type="worker", owner_id=1, kind="asset", currency="USD")
    services.open_account(INCOME, owner_type="worker", owner_id=1, kind="income", currency="USD")
    services.post_journal(journal("t1", (CASH, 1_234), (INCOME, -1_234)))
    text, summary = run(WORKER, "beancount")
    assert summary.journals == 1
    assert "2026-03-03 balance Assets:Worker:1:Cash  12.34 ~ 0.00 USD\n" in text
    assert not connection.in_atomic_block
    # The connection is back in autocommit: the next write commits on its own.
    services.post_journal(journal("t2", (CASH, 1), (INCOME, -1)))
    assert run(WORKER, "json")[1].journals == 2
    result = bean_check(text, tmp_path)
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.django_db(transaction=True)
def test_writes_during_an_export_do_not_leak_into_it(tmp_path):
    services.open_account(CASH, owner_type="worker", owner_id=1, kind="asset", currency="USD")
    services.open_account(SAVINGS, owner_type="worker", owner_id=1, kind="asset", currency="USD")
    services.open_account(INCOME, owner_type="worker", owner_id=1, kind="income", currency="USD")
    services.post_journal(journal("t1", (CASH, 1_000), (INCOME, -1_000)))

    def write_elsewhere() -> None:
        try:
            services.post_journal(journal("t2", (CASH, 500), (INCOME, -500)))
            services.reserve(journal("hold", (SAVINGS, 300), (CASH, -300), kind="escrow"))
        finally:
            connection.close()  # this thread's own connection

    class WriteMidway(io.StringIO):
        fired = False

        def write(self, text: str) -> int:
            if "keel-journal:" in text and not self.fired:
                # Another connection commits while the export is half written.
                self.fired = True
                thread = threading.Thread(target=write_elsewhere)
                thread.start()
                thread.join()
            return super().write(text)

    out = WriteMidway()
    summary = export_owner(WORKER, "beancount", out)
    assert out.fired
    assert (summary.journals, summary.pending) == (1, 0)
    assert "balance Assets:Worker:1:Cash  10.00 ~ 0.00 USD\n" in out.getvalue()
    assert (bean_check(out.getvalue(), tmp_path).returncode) == 0
    after = run(WORKER, "beancount")[1]
    assert (after.journals, after.pending) == (2, 1)
