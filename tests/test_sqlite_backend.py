"""Keel's SQLite backend: a write transaction waits for the write lock in short steps,
gives up after the configured timeout, and leaves SQLite's own busy handler as it was;
holding or waiting for the lock long is logged with the code that did."""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError
from django.db.utils import ConnectionHandler

from keel.ops.logs import _request_id
from keel.sqlite_backend import base
from keel.sqlite_backend.base import DatabaseWrapper, is_busy

# A handler of its own (it needs a "default"), apart from the suite's connections.
ALIAS = "default"


@pytest.fixture(autouse=True)
def own_databases(django_db_blocker: Any) -> Iterator[None]:
    # These connections are the test's own files, not the suite's test database.
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "lock.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE entry (id INTEGER PRIMARY KEY, note TEXT)")
    db.close()
    return path


def wrapper(path: Path, timeout: float) -> Iterator[DatabaseWrapper]:
    handler = ConnectionHandler(
        {
            ALIAS: {
                "ENGINE": "keel.sqlite_backend",
                "NAME": str(path),
                "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": timeout},
            }
        }
    )
    connection = handler[ALIAS]
    assert isinstance(connection, DatabaseWrapper)
    connection.ensure_connection()
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture
def keel_db(database: Path) -> Iterator[DatabaseWrapper]:
    yield from wrapper(database, timeout=30)


class Holder:
    """Another process's writer: holds the write lock until released."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.taken = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO entry (note) VALUES ('holder')")
        self.taken.set()
        self.release.wait(timeout=30)
        db.execute("COMMIT")
        db.close()

    def __enter__(self) -> Holder:
        self.thread.start()
        assert self.taken.wait(timeout=10)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release.set()
        self.thread.join(timeout=30)


def begin_attempts(connection: DatabaseWrapper) -> list[str]:
    attempts: list[str] = []

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if sql.startswith("BEGIN"):
            attempts.append(sql)
        return execute(sql, params, many, context)

    connection.execute_wrappers.append(count)
    return attempts


def notes(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [note for (note,) in db.execute("SELECT note FROM entry ORDER BY id")]
    finally:
        db.close()


def test_a_writer_retries_begin_until_the_lock_is_free_then_writes(
    database: Path, keel_db: DatabaseWrapper
) -> None:
    attempts = begin_attempts(keel_db)
    with Holder(database) as holder:
        # Release from another thread a while after our first attempt has failed.
        threading.Timer(0.05, holder.release.set).start()
        keel_db._start_transaction_under_autocommit()
        with keel_db.cursor() as cursor:
            cursor.execute("INSERT INTO entry (note) VALUES ('keel')")
            cursor.execute("COMMIT")

    # SQLite's handler would have slept inside one BEGIN; here each step is an attempt.
    assert len(attempts) >= 2
    assert set(attempts) == {"BEGIN IMMEDIATE"}
    assert notes(database) == ["holder", "keel"]
    # The handler is back for every other statement: 30 s, as the timeout says.
    assert keel_db.connection.execute("PRAGMA busy_timeout").fetchone() == (30_000,)


def test_a_writer_gives_up_after_its_timeout_and_writes_nothing(database: Path) -> None:
    for connection in wrapper(database, timeout=0.2):
        with Holder(database), pytest.raises(OperationalError) as refused:
            connection._start_transaction_under_autocommit()
        assert is_busy(refused.value)
        assert "locked" in str(refused.value)
        assert not connection.connection.in_transaction
        assert connection.connection.execute("PRAGMA busy_timeout").fetchone() == (200,)
    assert notes(database) == ["holder"]


def test_a_deferred_transaction_takes_no_lock_and_does_not_wait(database: Path) -> None:
    handler = ConnectionHandler(
        {ALIAS: {"ENGINE": "keel.sqlite_backend", "NAME": str(database), "OPTIONS": {}}}
    )
    connection = handler[ALIAS]
    connection.ensure_connection()
    attempts = begin_attempts(connection)
    with Holder(database):
        connection._start_transaction_under_autocommit()
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM entry")
            assert cursor.fetchone() == (0,)  # the holder has not committed
            cursor.execute("COMMIT")
    connection.close()
    assert attempts == ["BEGIN"]


def test_only_a_locked_database_counts_as_busy(database: Path) -> None:
    db = sqlite3.connect(database)
    with pytest.raises(sqlite3.OperationalError) as no_table:
        db.execute("SELECT * FROM missing")
    db.close()
    assert not is_busy(no_table.value)
    assert not is_busy(OperationalError("no such table"))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    clock = FakeClock()
    monkeypatch.setattr(base, "clock", clock)
    return clock


@pytest.fixture
def lock_warnings(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    caplog.set_level(logging.WARNING, logger=base.logger.name)
    return lambda: [r.getMessage() for r in caplog.records if r.name == base.logger.name]


HERE = os.path.realpath(__file__)


def write_for(connection: DatabaseWrapper, clock: FakeClock, seconds: float, *, end: str) -> int:
    """Write one entry in a transaction that keeps the lock `seconds`; the line that ends
    it (where the warning says the transaction was)."""
    connection._start_transaction_under_autocommit()
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO entry (note) VALUES ('keel')")
    clock.now += seconds
    line = sys._getframe().f_lineno + 1
    connection.commit() if end == "commit" else connection.rollback()
    return line


def test_a_transaction_that_held_the_write_lock_long_is_logged_with_its_code(
    database: Path, keel_db: DatabaseWrapper, fake_clock: FakeClock, lock_warnings: Any
) -> None:
    write_for(keel_db, fake_clock, 4.9, end="commit")  # under SLOW_LOCK_SECONDS: quiet
    line = write_for(keel_db, fake_clock, 7.5, end="commit")
    token = _request_id.set("req-7")
    try:
        rolled_back = write_for(keel_db, fake_clock, 5.0, end="rollback")
    finally:
        _request_id.reset(token)

    assert base.SLOW_LOCK_SECONDS == 5.0
    assert lock_warnings() == [
        f"held the SQLite write lock for 7.5 s (0.0 s of it in COMMIT): {HERE}:{line} in write_for",
        f"held the SQLite write lock for 5.0 s: {HERE}:{rolled_back} in write_for (request req-7)",
    ]
    assert notes(database) == ["keel", "keel"]


class SlowDisk:
    """The driver's connection, with a COMMIT that takes `seconds` on the fake clock (a
    disk that stalls the transaction's fsync)."""

    def __init__(self, connection: sqlite3.Connection, clock: FakeClock, seconds: float) -> None:
        self._connection, self._clock, self._seconds = connection, clock, seconds

    def commit(self) -> None:
        self._connection.commit()
        self._clock.now += self._seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


def test_a_long_hold_says_how_much_of_it_was_the_commit(
    database: Path, keel_db: DatabaseWrapper, fake_clock: FakeClock, lock_warnings: Any
) -> None:
    keel_db.connection = SlowDisk(keel_db.connection, fake_clock, 30.9)
    line = write_for(keel_db, fake_clock, 0.3, end="commit")

    assert lock_warnings() == [
        f"held the SQLite write lock for 31.2 s (30.9 s of it in COMMIT): {HERE}:{line}"
        " in write_for"
    ]
    assert notes(database) == ["keel"]


def test_a_writer_that_waited_long_for_the_lock_is_logged_with_its_code(
    database: Path, keel_db: DatabaseWrapper, fake_clock: FakeClock, lock_warnings: Any
) -> None:
    def begin() -> int:
        line = sys._getframe().f_lineno + 1
        keel_db._start_transaction_under_autocommit()
        return line

    with Holder(database) as holder:

        def six_seconds_later() -> None:
            fake_clock.now += 6.0
            holder.release.set()

        threading.Timer(0.05, six_seconds_later).start()
        line = begin()
    keel_db.rollback()  # held no time at all: quiet

    assert lock_warnings() == [f"waited 6.0 s for the SQLite write lock: {HERE}:{line} in begin"]


def test_the_caller_is_named_when_installed_inside_the_standard_librarys_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A system-wide install: site-packages (Keel and this test, here) lies inside the
    # standard library's directory, whose frames are otherwise passed over.
    tests = os.path.join(os.path.dirname(HERE), "")
    monkeypatch.setattr(base, "_STANDARD_LIBRARY", os.path.join(os.path.dirname(tests[:-1]), ""))
    monkeypatch.setattr(base, "_INSTALLED", (tests,))

    line = sys._getframe().f_lineno + 1
    assert base._caller() == f"{HERE}:{line} in {sys._getframe().f_code.co_name}"
