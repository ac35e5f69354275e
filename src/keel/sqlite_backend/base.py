"""Django's SQLite backend, with one change: how a write transaction waits for the lock.

Keel opens every transaction with ``BEGIN IMMEDIATE`` (settings.py), so writers queue at
BEGIN instead of failing half-way. SQLite's own busy handler sleeps 1, 2, 5, 10, 15 ms ...
between attempts, so a writer that finds the lock taken for 4 ms (a small transaction and
its fsync) gets it only after 8 ms, and one behind a 9 ms commit after 18 ms: under two
concurrent clients that quantum was most of a single API request's tail latency. Here BEGIN
is retried with sleeps of at most a millisecond until the same timeout (OPTIONS
``timeout``) runs out; every other statement keeps SQLite's handler.

SQLite has one writer at a time, so a transaction that keeps the write lock long stalls
every other write, and the one that waited longest fails with "database is locked" when
its timeout runs out. Where a server or task runner holds or waits for the lock
`SLOW_LOCK_SECONDS` or longer it logs a warning naming the code that did (and the request,
if any), so that the stall can be traced from the log.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sysconfig
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import django
from django.db import OperationalError
from django.db.backends.sqlite3 import base

from keel.ops.logs import current_request_id

logger = logging.getLogger(__name__)

# Seconds to sleep before each further attempt at BEGIN; the last repeats.
RETRY_SLEEPS = (0.0001, 0.0002, 0.0005, 0.001)
DEFAULT_TIMEOUT = 5.0  # seconds, as Python's sqlite3 module
# Holding or waiting for the write lock this long is logged as a warning.
SLOW_LOCK_SECONDS = 5.0
# Monotonic seconds; a test gives its own clock.
clock: Callable[[], float] = time.monotonic


def _directory(path: str | Path) -> str:
    return os.path.join(os.path.realpath(path), "")


# Frames that never name who took the lock: Django's, this module's and the standard
# library's, which can hold site-packages (a system-wide install), where Keel may be.
_NOT_CALLERS = (_directory(Path(django.__file__).parent), _directory(Path(__file__).parent))
_STANDARD_LIBRARY = _directory(sysconfig.get_paths()["stdlib"])
_INSTALLED = tuple(_directory(sysconfig.get_paths()[name]) for name in ("purelib", "platlib"))
_SOURCE_ROOT = _directory(Path(__file__).parents[2])


def is_busy(error: BaseException) -> bool:
    """Whether `error` (Django's, wrapping the driver's) says the database is locked."""
    cause = error.__cause__ if isinstance(error, OperationalError) else error
    code = getattr(cause, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class DatabaseWrapper(base.DatabaseWrapper):
    # When this connection's write transaction took the lock (clock()); None outside one.
    _lock_taken: float | None = None

    def _commit(self) -> None:
        began = clock()
        try:
            super()._commit()  # type: ignore[misc]
        finally:
            self._lock_released(committing=clock() - began)

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]
        finally:
            self._lock_released()

    def _lock_released(self, committing: float | None = None) -> None:
        taken, self._lock_taken = self._lock_taken, None
        held = 0.0 if taken is None else clock() - taken
        if held < SLOW_LOCK_SECONDS:
            return
        if committing is None:
            _warn("held the SQLite write lock for %.1f s", held)
        else:
            # COMMIT is the transaction's fsync (synchronous=FULL): most of a long hold in
            # it means a slow disk, not slow code.
            _warn(
                "held the SQLite write lock for %.1f s (%.1f s of it in COMMIT)", held, committing
            )

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
            started = clock()
            deadline = started + timeout
            attempt = 0
            while True:
                try:
                    # Through Django's cursor, so that the BEGIN is logged and counted as
                    # Django's own BEGIN is.
                    self.cursor().execute(f"BEGIN {mode}")
                    self._lock_taken = clock()
                    if self._lock_taken - started >= SLOW_LOCK_SECONDS:
                        _warn("waited %.1f s for the SQLite write lock", self._lock_taken - started)
                    return
                except OperationalError as exc:
                    if not is_busy(exc) or clock() >= deadline:
                        raise
                time.sleep(RETRY_SLEEPS[min(attempt, len(RETRY_SLEEPS) - 1)])
                attempt += 1
        finally:
            raw.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")


def _warn(message: str, *seconds: float) -> None:
    request = current_request_id()
    logger.warning(
        message + ": %s%s", *seconds, _caller(), f" (request {request})" if request else ""
    )


def _caller() -> str:
    """The innermost frame that is neither Django's, this module's nor the standard
    library's: the code whose transaction it is."""
    for frame in reversed(traceback.extract_stack()):
        path = os.path.realpath(frame.filename)
        if path.startswith(_NOT_CALLERS):
            continue
        if path.startswith(_STANDARD_LIBRARY) and not path.startswith(_INSTALLED):
            continue
        return f"{path.removeprefix(_SOURCE_ROOT)}:{frame.lineno} in {frame.name}"
    return "unknown code"
