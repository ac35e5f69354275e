"""Connection set-up for the ledger's database guards.

SQLite triggers call `keel_ledger_purge_allowed()`, which Keel registers on each of its own
connections. It answers 0 unless the test suite is purging tables between tests; any other
connection (the sqlite3 shell, another program) has no such function, so its deletes fail.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection as default_connection
from django.db.backends.base.base import BaseDatabaseWrapper

_state = threading.local()


def _purge_allowed() -> int:
    return 1 if getattr(_state, "purge", False) else 0


def register_sqlite_functions(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "keel_ledger_purge_allowed", 0, _purge_allowed, deterministic=False
        )


@contextmanager
def ledger_purge(connection: BaseDatabaseWrapper = default_connection) -> Iterator[None]:
    """Let the test suite empty the ledger tables, and the audit log, whose guards ask
    the same switch (keel/audit/migrations/0002). Never used outside tests."""
    _state.purge = True
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET keel.ledger_purge = 'on'")
    try:
        yield
    finally:
        _state.purge = False
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("RESET keel.ledger_purge")
