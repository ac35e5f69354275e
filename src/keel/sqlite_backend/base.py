"""Django's SQLite backend, with one change: how a write transaction waits for the lock.

Keel opens every transaction with ``BEGIN IMMEDIATE`` (settings.py), so writers queue at
BEGIN instead of failing half-way. SQLite's own busy handler sleeps 1, 2, 5, 10, 15 ms ...
between attempts, so a writer that finds the lock taken for 4 ms (a small transaction and
its fsync) gets it only after 8 ms, and one behind a 9 ms commit after 18 ms: under two
concurrent clients that quantum was most of a single API request's tail latency. Here BEGIN
is retried with sleeps of at most a millisecond until the same timeout (OPTIONS
``timeout``) runs out; every other statement keeps SQLite's handler.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base

# Seconds to sleep before each further attempt at BEGIN; the last repeats.
RETRY_SLEEPS = (0.0001, 0.0002, 0.0005, 0.001)
DEFAULT_TIMEOUT = 5.0  # seconds, as Python's sqlite3 module


def is_busy(error: BaseException) -> bool:
    """Whether `error` (Django's, wrapping the driver's) says the database is locked."""
    cause = error.__cause__ if isinstance(error, OperationalError) else error
    code = getattr(cause, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class DatabaseWrapper(base.DatabaseWrapper):
    def _start_transaction_under_autocommit(self) -> None:
        # Django's SQLite wrapper sets transaction_mode from OPTIONS (not in its stubs).
        mode: str | None = getattr(self, "transaction_mode", None)
        if mode not in ("IMMEDIATE", "EXCLUSIVE"):
            # A deferred BEGIN takes no lock: nothing to wait for.
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
            return
        options: dict[str, Any] = self.settings_dict.get("OPTIONS") or {}
        timeout = float(options.get("timeout", DEFAULT_TIMEOUT))
        raw = self.connection
        # The busy handler would sleep inside BEGIN: off while it is retried here, then
        # back to what the timeout set it to.
        raw.execute("PRAGMA busy_timeout = 0")
        try:
            deadline = time.monotonic() + timeout
            attempt = 0
            while True:
                try:
                    # Through Django's cursor, so that the BEGIN is logged and counted as
                    # Django's own BEGIN is.
                    self.cursor().execute(f"BEGIN {mode}")
                    return
                except OperationalError as exc:
                    if not is_busy(exc) or time.monotonic() >= deadline:
                        raise
                time.sleep(RETRY_SLEEPS[min(attempt, len(RETRY_SLEEPS) - 1)])
                attempt += 1
        finally:
            raw.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
