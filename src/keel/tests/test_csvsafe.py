"""Every CSV Keel writes shows a formula as text and keeps its amounts as numbers.

The rule is one function (``keel.csvsafe.neutralise_cell``); the export tests below put the
same hostile memo, ``=HYPERLINK("http://evil","x")``, through each CSV Keel writes (the
ledger export and the clearing statement, on the page and through the services) and check
the exact bytes that come out.
"""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.test import Client

from keel.accounts.services import create_worker
from keel.csvsafe import FORMULA_STARTS, neutralise_cell
from keel.gateway import services as gateway
from keel.ledger import services as ledger
from keel.ledger.export import Owner, export_owner
from keel.ledger.models import Journal
from keel.ledger.rules import JournalSpec, LegSpec

EVIL = '=HYPERLINK("http://evil","x")'
# How the csv module writes the neutralised memo: quoted, its quotes doubled.
EVIL_CELL = '"\'=HYPERLINK(""http://evil"",""x"")"'


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        (EVIL, "'" + EVIL),
        ("=1+1", "'=1+1"),
        ("+cmd", "'+cmd"),
        ("-1+1", "'-1+1"),
        ("-1250", "'-1250"),  # in a text column even a number-looking cell is text
        ("@SUM(1)", "'@SUM(1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Logo design", "Logo design"),
        ("a=b", "a=b"),
        (" =1+1", " =1+1"),
        ("'=1+1", "'=1+1"),
        ("", ""),
    ],
)
def test_a_text_cell_that_starts_like_a_formula_gets_a_quote(cell, written):
    assert neutralise_cell(cell) == written


def test_the_formula_starts_are_owasps():
    assert FORMULA_STARTS == ("=", "+", "-", "@", "\t", "\r")


# ---------------------------------------------------------------------------- the ledger


@pytest.fixture
def worker_books(db: None) -> None:
    for code, kind in (("worker:1:cash", "asset"), ("worker:1:income:gigs", "income")):
        ledger.open_account(code, owner_type="worker", owner_id=1, kind=kind, currency="USD")
    ledger.post_journal(
        JournalSpec(
            idempotency_key="-1+1",
            kind="income",
            effective_date=date(2026, 3, 2),
            legs=(
                LegSpec("worker:1:cash", 1_250, "USD"),
                LegSpec("worker:1:income:gigs", -1_250, "USD"),
            ),
            memo=EVIL,
        )
    )


def test_the_ledger_csv_export_neutralises_the_memo_and_keeps_amounts(worker_books):
    out = io.StringIO()
    export_owner(Owner("worker", 1), "csv", out)
    (journal_id,) = Journal.objects.values_list("id", flat=True)
    assert out.getvalue() == (
        "journal_id,effective_date,kind,status,memo,account,account_kind,amount,amount_minor,"
        "currency,idempotency_key\n"
        f"{journal_id},2026-03-02,income,posted,{EVIL_CELL},worker:1:cash,asset,12.50,1250,"
        "USD,'-1+1\n"
        f"{journal_id},2026-03-02,income,posted,{EVIL_CELL},worker:1:income:gigs,income,-12.50,"
        "-1250,USD,'-1+1\n"
    )


# ---------------------------------------------------------------------------- clearing


@pytest.fixture
def operator(db: None):
    return create_worker("ops@dash.example", name="Dash Ops", password=None)


@pytest.fixture
def statement_batch(operator):
    platform = gateway.create_platform(
        "Dash",
        operator=operator,
        policy={"currency": "USD", "rate_bps": 1000},
        effective_from=date(2026, 1, 1),
    )
    gateway.record_events(
        platform,
        [
            {
                "event_id": "@e1",
                "worker_ref": "+w1",
                "occurred_at": "2026-03-02T12:00:00Z",
                "gross": 12_500,
                "currency": "USD",
                "description": EVIL,
            }
        ],
    )
    (batch,) = gateway.close_period(platform, date(2026, 3, 1), date(2099, 12, 31))
    return batch


STATEMENT = (
    "event_id,worker_ref,occurred_at,currency,gross,tips,bonus,jobs,policy_version,"
    "contribution,held,description,corrects,reason\n"
    f"'@e1,'+w1,2026-03-02T12:00:00+00:00,USD,12500,0,0,1,1,1250,suspense,{EVIL_CELL},,\n"
)


def test_a_corrections_id_and_reason_are_neutralised(operator):
    # A correction's id and reason are the platform's own text, like a description.
    platform = gateway.create_platform(
        "Dash",
        operator=operator,
        policy={"currency": "USD", "rate_bps": 1000},
        effective_from=date(2026, 1, 1),
    )
    event = {"event_id": "e1", "worker_ref": "w1", "occurred_at": "2026-03-02T12:00:00Z"}
    gateway.record_events(platform, [{**event, "gross": 12_500, "currency": "USD"}])
    gateway.correct_event(
        platform,
        {
            "correction_id": "=fix",
            "corrects": "e1",
            "worker_ref": "w1",
            "currency": "USD",
            "gross": 10_000,
            "reason": EVIL,
        },
    )
    (batch,) = gateway.close_period(platform, date(2026, 3, 1), date(2099, 12, 31))
    last = gateway.statement_csv(batch).splitlines()[-1]
    assert last == (
        "'=fix,w1,2026-03-02T12:00:00+00:00,USD,10000,0,0,1,1,-250,suspense,,e1," + EVIL_CELL
    )


def test_the_clearing_statement_neutralises_the_description(statement_batch):
    assert gateway.statement_csv(statement_batch) == STATEMENT


def test_the_statement_download_is_the_same_neutralised_text(statement_batch, operator):
    client = Client()
    client.force_login(operator)
    batch = statement_batch
    response = client.get(f"/platform/{batch.platform_id}/clearing/{batch.pk}/statement.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.decode() == STATEMENT
