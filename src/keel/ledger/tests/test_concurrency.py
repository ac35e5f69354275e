"""Floors hold when many writers withdraw from one account at the same moment.

PostgreSQL takes row locks on the accounts a journal touches; SQLite serialises writers
with BEGIN IMMEDIATE. Either way, of 40 withdrawals of 30 from a balance of 1,000 exactly 33
succeed and the account ends at 10, never below zero.
"""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest
from django.db import connection, connections, transaction

from keel.ledger import services
from keel.ledger.rules import FloorBreached, JournalSpec, LegSpec

WITHDRAWALS = 40
AMOUNT = 30


def _open_accounts(*more: str) -> None:
    """worker:9:cash (an asset floored at zero) and worker:9:income, and any of spent
    (an expense), wallet (an asset) and other (income)."""
    services.open_account(
        "worker:9:cash", owner_type="worker", owner_id=9, kind="asset", currency="USD", floor=0
    )
    kinds = {"income": "income", "spent": "expense", "wallet": "asset", "other": "income"}
    for name in ("income", *more):
        services.open_account(
            f"worker:9:{name}", owner_type="worker", owner_id=9, kind=kinds[name], currency="USD"
        )


def _withdraw(index: int, start: threading.Barrier, outcomes: list[str]) -> None:
    try:
        start.wait()
        services.post_journal(
            JournalSpec(
                idempotency_key=f"withdraw-{index}",
                kind="withdrawal",
                effective_date=date(2026, 5, 1),
                legs=(
                    LegSpec("worker:9:spent", AMOUNT, "USD"),
                    LegSpec("worker:9:cash", -AMOUNT, "USD"),
                ),
            )
        )
        outcomes.append("posted")
    except FloorBreached:
        outcomes.append("refused")
    except Exception as exc:
        outcomes.append(f"error: {type(exc).__name__}: {exc}")
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_concurrent_withdrawals_never_break_the_floor():
    _open_accounts("spent")
    services.post_journal(
        JournalSpec(
            idempotency_key="fund",
            kind="income",
            effective_date=date(2026, 5, 1),
            legs=(
                LegSpec("worker:9:cash", 1_000, "USD"),
                LegSpec("worker:9:income", -1_000, "USD"),
            ),
        )
    )
    threads_count = 8 if connection.vendor == "sqlite" else WITHDRAWALS
    start = threading.Barrier(threads_count)
    outcomes: list[str] = []
    per_thread = WITHDRAWALS // threads_count
    workers = [
        threading.Thread(
            target=lambda t=t: [
                _withdraw(t * per_thread + i, start if i == 0 else threading.Barrier(1), outcomes)
                for i in range(per_thread)
            ]
        )
        for t in range(threads_count)
    ]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=120)

    assert [o for o in outcomes if o.startswith("error")] == []
    assert outcomes.count("posted") == 1_000 // AMOUNT
    assert outcomes.count("refused") == WITHDRAWALS - 1_000 // AMOUNT
    cash = services.balance("worker:9:cash")
    assert (cash.posted, cash.available) == (1_000 - 33 * AMOUNT, 10)
    assert services.verify().ok


def _post(
    key: str, amount: int, debit: str = "worker:9:cash", credit: str = "worker:9:income"
) -> services.PostedJournal:
    return services.post_journal(
        JournalSpec(
            idempotency_key=key,
            kind="income",
            effective_date=date(2026, 5, 2),
            legs=(LegSpec(debit, amount, "USD"), LegSpec(credit, -amount, "USD")),
        )
    )


def _post_income(key: str, amount: int) -> None:
    """_post in a thread of its own, which closes its connection after."""
    try:
        _post(key, amount)
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_verify_reads_one_moment_while_another_writer_commits():
    """A journal committed between verify's recount of the legs and its read of the stored
    totals must not show up as a difference: `keel ledger verify` runs beside a live server."""
    _open_accounts()
    _post_income("first", 1_000)
    writer = threading.Thread(target=_post_income, args=("meanwhile", 250))
    started: list[bool] = []

    def commit_between_reads(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if "posted_debits, posted_credits" in sql and not started:
            started.append(True)
            writer.start()
            # Verify is a reader: it must not hold the writer up either.
            writer.join(timeout=60)
            assert not writer.is_alive()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(commit_between_reads):
        report = services.verify()

    assert started == [True]
    assert (report.ok, report.problems, report.journals) == (True, [], 1)
    assert services.balance("worker:9:cash").posted == 1_250
    after = services.verify()
    assert (after.ok, after.journals) == (True, 2)


def _hold_key_until_loser_waits(inserted: threading.Event, outcomes: list[str]) -> None:
    """Post `race` and keep the transaction open until another backend waits for a lock
    (the loser, blocked on the accounts this journal locked), then commit."""
    try:
        with transaction.atomic():
            _post("race", 400)
            inserted.set()
            with connection.cursor() as cursor:
                for _ in range(3_000):
                    cursor.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        " AND datname = current_database() AND pid <> pg_backend_pid()"
                    )
                    if cursor.fetchone()[0]:
                        break
                    time.sleep(0.01)
                else:
                    outcomes.append("the loser never waited")
        outcomes.append("committed")
    except Exception as exc:
        outcomes.append(f"error: {type(exc).__name__}: {exc}")
    finally:
        connections.close_all()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("nested", [False, True], ids=["own-transaction", "in-callers"])
def test_a_key_taken_between_the_look_up_and_the_insert_is_a_replay(nested: bool):
    """Two writers post the same key at once: the loser read no journal under it, then
    waited for the winner's account locks; its insert hits the unique key, and the retry
    returns the winner's journal. Inside a caller's transaction the savepoint the ledger
    set with its reads is what is rolled back to, and the caller's work (on other
    accounts, which the winner does not hold) stays."""
    _open_accounts("wallet", "other")
    inserted = threading.Event()
    outcomes: list[str] = []
    winner = threading.Thread(target=_hold_key_until_loser_waits, args=(inserted, outcomes))
    winner.start()
    assert inserted.wait(timeout=60)
    statements: list[str] = []

    def record(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        if nested:
            with transaction.atomic():
                _post("before", 7, "worker:9:wallet", "worker:9:other")
                posted = _post("race", 400)
                _post("after", 5, "worker:9:wallet", "worker:9:other")
        else:
            posted = _post("race", 400)
    winner.join(timeout=60)

    assert outcomes == ["committed"]
    assert (posted.idempotency_key, posted.created) == ("race", False)
    assert services.balance("worker:9:cash").posted == 400
    assert services.balance("worker:9:wallet").posted == (12 if nested else 0)
    assert services.verify().ok
    rollbacks = [s for s in statements if "ROLLBACK TO SAVEPOINT keel_ledger_write" in s]
    assert len(rollbacks) == (1 if nested else 0)
