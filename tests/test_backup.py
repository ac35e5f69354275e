"""`keel backup` and `keel restore` round-trip the database and the ledger verifies."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection

from keel.backup import BackupError, backup, restore
from keel.ledger import services
from keel.ledger.models import Journal, Leg
from keel.ledger.rules import JournalSpec, LegSpec


def _earn(key: str, amount: int) -> None:
    services.post_journal(
        JournalSpec(
            key,
            "income",
            date(2026, 4, 1),
            (LegSpec("worker:3:cash", amount, "USD"), LegSpec("worker:3:income", -amount, "USD")),
        )
    )


@pytest.mark.django_db(transaction=True)
def test_backup_then_restore_returns_to_the_backup_point(tmp_path):
    services.open_account(
        "worker:3:cash", owner_type="worker", owner_id=3, kind="asset", currency="USD", floor=0
    )
    services.open_account(
        "worker:3:income", owner_type="worker", owner_id=3, kind="income", currency="USD"
    )
    for n in range(25):
        _earn(f"before-{n}", 1_000 + n)
    target = tmp_path / "keel.backup"
    result = backup(target)
    assert result.size > 0 and result.engine == connection.vendor

    _earn("after-backup", 99_999)
    assert Journal.objects.count() == 26

    restore(target)
    assert Journal.objects.count() == 25
    assert Leg.objects.count() == 50
    # 25 payments of 1,000 + n: 25,000 + (0 + ... + 24) = 25,300.
    assert services.balance("worker:3:cash").posted == 25_300
    report = services.verify()
    assert report.ok, report.problems
    # The restored database still guards its ledger.
    with pytest.raises(Exception, match="append-only"), connection.cursor() as cursor:
        cursor.execute("DELETE FROM ledger_leg")


@pytest.mark.django_db
def test_backup_refuses_to_overwrite_and_restore_refuses_strangers(tmp_path):
    existing = tmp_path / "taken"
    existing.write_text("mine")
    with pytest.raises(BackupError, match="already exists"):
        backup(existing)
    assert existing.read_text() == "mine"
    with pytest.raises(BackupError, match="is not a"):
        restore(existing)
    with pytest.raises(BackupError, match="does not exist"):
        restore(tmp_path / "missing")
