"""Floors hold when many writers withdraw from one account at the same moment.

PostgreSQL takes row locks on the accounts a journal touches; SQLite serialises writers
with BEGIN IMMEDIATE. Either way, of 40 withdrawals of 30 from a balance of 1,000 exactly 33
succeed and the account ends at 10, never below zero.
"""

from __future__ import annotations

import threading
from datetime import date

import pytest
from django.db import connection, connections

from keel.ledger import services
from keel.ledger.rules import FloorBreached, JournalSpec, LegSpec

WITHDRAWALS = 40
AMOUNT = 30


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
    services.open_account(
        "worker:9:cash", owner_type="worker", owner_id=9, kind="asset", currency="USD", floor=0
    )
    services.open_account(
        "worker:9:spent", owner_type="worker", owner_id=9, kind="expense", currency="USD"
    )
    services.open_account(
        "worker:9:income", owner_type="worker", owner_id=9, kind="income", currency="USD"
    )
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


def _post_income(key: str, amount: int) -> None:
    try:
        services.post_journal(
            JournalSpec(
                idempotency_key=key,
                kind="income",
                effective_date=date(2026, 5, 2),
                legs=(
                    LegSpec("worker:9:cash", amount, "USD"),
                    LegSpec("worker:9:income", -amount, "USD"),
                ),
            )
        )
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_verify_reads_one_moment_while_another_writer_commits():
    """A journal committed between verify's recount of the legs and its read of the stored
    totals must not show up as a difference: `keel ledger verify` runs beside a live server."""
    services.open_account(
        "worker:9:cash", owner_type="worker", owner_id=9, kind="asset", currency="USD", floor=0
    )
    services.open_account(
        "worker:9:income", owner_type="worker", owner_id=9, kind="income", currency="USD"
    )
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
