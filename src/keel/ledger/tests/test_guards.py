"""The database itself refuses what the ledger service never does: raw SQL attempts."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

from keel.ledger import services
from keel.ledger.models import Journal, Leg

from .conftest import journal

CASH, INCOME = "worker:1:cash", "worker:1:income:upwork"


def raw(sql: str, params: list | None = None) -> None:
    # A savepoint per attempt, so the failed statement leaves the test's transaction usable.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params or [])


@pytest.fixture
def posted(books):
    return services.post_journal(journal("in", (CASH, 1_000), (INCOME, -1_000)))


def test_leg_cannot_be_updated(posted):
    with pytest.raises(DatabaseError, match="append-only"):
        raw("UPDATE ledger_leg SET amount = amount + 1 WHERE journal_id = %s", [posted.id])
    assert sorted(Leg.objects.filter(journal_id=posted.id).values_list("amount", flat=True)) == [
        -1_000,
        1_000,
    ]


def test_leg_cannot_be_deleted(posted):
    with pytest.raises(DatabaseError, match="append-only"):
        raw("DELETE FROM ledger_leg WHERE journal_id = %s", [posted.id])
    assert Leg.objects.filter(journal_id=posted.id).count() == 2


def test_posted_journal_cannot_be_updated_or_deleted(posted):
    with pytest.raises(DatabaseError, match="append-only"):
        raw("UPDATE ledger_journal SET memo = 'edited' WHERE id = %s", [posted.id])
    with pytest.raises(DatabaseError, match="append-only"):
        raw("UPDATE ledger_journal SET status = 'voided' WHERE id = %s", [posted.id])
    with pytest.raises(DatabaseError, match="append-only"):
        raw("DELETE FROM ledger_journal WHERE id = %s", [posted.id])
    assert Journal.objects.get(pk=posted.id).memo == ""


def test_resolved_pending_journal_cannot_be_resolved_again(books, posted):
    held = services.reserve(journal("hold", ("worker:1:savings", 100), (CASH, -100)))
    services.void_pending(held.id)
    with pytest.raises(DatabaseError, match="append-only"):
        raw("UPDATE ledger_journal SET status = 'expired' WHERE id = %s", [held.id])


def _insert_legs(journal_id: int, legs: list[tuple[str, int]]) -> None:
    for code, amount in legs:
        raw(
            "INSERT INTO ledger_leg (journal_id, account_id, amount, currency, effective_date,"
            " is_pending) SELECT %s, id, %s, 'USD', '2026-03-02', %s FROM ledger_account"
            " WHERE code = %s",
            [journal_id, amount, False, code],
        )


def _insert_journal(journal_id: int) -> None:
    raw(
        "INSERT INTO ledger_journal (id, idempotency_key, content_hash, kind, status,"
        " effective_date, created_at, memo, metadata) VALUES (%s, %s, 'x', 'income', 'posted',"
        " '2026-03-02', '2026-03-02 10:00:00+00:00', '', '{}')",
        [journal_id, f"raw-{journal_id}"],
    )


def test_unbalanced_journal_cannot_be_inserted(books):
    with pytest.raises(DatabaseError, match="unbalanced"), transaction.atomic():
        _insert_legs(900, [(CASH, 500), (INCOME, -499)])
        _insert_journal(900)
    assert not Journal.objects.filter(pk=900).exists()


def test_journal_with_one_leg_cannot_be_inserted(books):
    with pytest.raises(DatabaseError, match="unbalanced"), transaction.atomic():
        _insert_legs(901, [(CASH, 500)])
        _insert_journal(901)
    assert not Journal.objects.filter(pk=901).exists()


def test_balanced_raw_journal_is_accepted_by_the_database(books):
    # The guards refuse only what is wrong: a balanced journal written legs-first goes in.
    with transaction.atomic():
        _insert_legs(902, [(CASH, 500), (INCOME, -500)])
        _insert_journal(902)
    assert Journal.objects.filter(pk=902).exists()


def test_legs_cannot_be_added_to_an_existing_journal(posted):
    with pytest.raises(DatabaseError, match="leg refused"):
        _insert_legs(posted.id, [(CASH, 7), (INCOME, -7)])
    assert Leg.objects.filter(journal_id=posted.id).count() == 2


def test_leg_in_another_currency_than_its_account_is_refused(books):
    with pytest.raises(DatabaseError, match="leg refused"):
        raw(
            "INSERT INTO ledger_leg (journal_id, account_id, amount, currency, effective_date,"
            " is_pending) SELECT 903, id, 5, 'EUR', '2026-03-02', %s FROM ledger_account"
            " WHERE code = %s",
            [False, CASH],
        )


@pytest.mark.django_db(transaction=True)
def test_another_program_cannot_delete_committed_legs():
    services.open_account(CASH, owner_type="worker", owner_id=1, kind="asset", currency="USD")
    services.open_account(INCOME, owner_type="worker", owner_id=1, kind="income", currency="USD")
    posted = services.post_journal(journal("in", (CASH, 1_000), (INCOME, -1_000)))
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        outsider = sqlite3.connect(settings["NAME"])
        with pytest.raises(sqlite3.Error, match="keel_ledger_purge_allowed"):
            outsider.execute("DELETE FROM ledger_leg")
        outsider.close()
    else:
        outsider = psycopg.connect(
            host=settings["HOST"],
            port=settings["PORT"] or 5432,
            user=settings["USER"],
            dbname=settings["NAME"],
            autocommit=True,
        )
        with pytest.raises(psycopg.Error, match="append-only"):
            outsider.execute("DELETE FROM ledger_leg")
        with pytest.raises(psycopg.Error, match="append-only"):
            outsider.execute("TRUNCATE ledger_leg")
        with pytest.raises(psycopg.Error, match="append-only"):
            outsider.execute("TRUNCATE ledger_journal CASCADE")
        outsider.close()
    assert Leg.objects.filter(journal_id=posted.id).count() == 2
