from __future__ import annotations

import os
from typing import Any

import pytest
from django.db import connections
from django.test import TransactionTestCase

from keel.ledger.guards import ledger_purge

_original_teardown = TransactionTestCase._fixture_teardown


def _teardown_with_purge(self: Any) -> None:
    # Ledger tables refuse DELETE and TRUNCATE; the flush between transactional tests is
    # the one place allowed to empty them.
    with ledger_purge(connections["default"]):
        _original_teardown(self)


TransactionTestCase._fixture_teardown = _teardown_with_purge  # type: ignore[method-assign]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests marked `postgres` belong to the PostgreSQL pass of `make test`; the SQLite pass
    # leaves them out rather than skipping them, so a skip always means something is wrong.
    if os.environ.get("KEEL_TEST_DATABASE_URL", "").startswith("postgres"):
        return
    kept = [item for item in items if item.get_closest_marker("postgres") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


def on_postgres() -> bool:
    return connections["default"].vendor == "postgresql"


@pytest.fixture
def under_ci() -> bool:
    return os.environ.get("CI") == "true"


@pytest.fixture
def redis_url() -> str:
    """A Redis server that answers. Locally a missing Redis is a skip; under CI it fails, so
    the test of the production task queue can never be skipped unnoticed there."""
    import redis

    url = os.environ.get("KEEL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError as exc:
        message = f"Redis does not answer at {url} ({exc})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (CI=true: the Redis tests must run)", pytrace=False)
        pytest.skip(message)
    return url


@pytest.fixture
def database_busy_error(tmp_path: Any) -> Exception:
    """The error a write gets from Django when SQLite's write lock stayed taken for its
    whole wait: Django's OperationalError from the driver's, made by really contending for
    a lock (a file of the test's own, on either pass)."""
    import sqlite3

    from django.db import OperationalError
    from django.db.utils import DatabaseErrorWrapper

    path = tmp_path / "busy.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("BEGIN IMMEDIATE")
    writer = sqlite3.connect(path, isolation_level=None, timeout=0)

    class Wrapped:  # what DatabaseErrorWrapper needs of a connection
        Database = sqlite3
        errors_occurred = False

    try:
        with DatabaseErrorWrapper(Wrapped()):  # type: ignore[arg-type]
            writer.execute("BEGIN IMMEDIATE")
    except OperationalError as exc:
        return exc
    finally:
        writer.close()
        holder.close()
    raise AssertionError("the second writer got the lock")
