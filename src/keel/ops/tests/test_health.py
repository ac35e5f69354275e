"""`GET /healthz`: database, task queue and the task runner's heartbeat."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from huey import RedisHuey
from huey.contrib.djhuey import HUEY

from keel.accounts.models import User
from keel.ops import health
from keel.ops.tasks import heartbeat

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(health, "now", lambda: NOW)
    return NOW


@pytest.fixture
def no_heartbeat() -> Iterator[None]:
    HUEY.delete(health.HEARTBEAT_KEY)
    yield
    HUEY.delete(health.HEARTBEAT_KEY)


@pytest.fixture
def beat_20s_ago(clock: datetime, no_heartbeat: None) -> None:
    health.write_heartbeat(HUEY, clock - timedelta(seconds=20))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def database_down(transactional_db: None) -> Iterator[str]:
    """The real connection, pointed where no database is: SQLite at a file in a directory
    that does not exist, PostgreSQL at a port nobody listens on. Yields the text that must
    not appear in a public answer."""
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        secret = f"/nonexistent-{uuid.uuid4().hex}/keel.sqlite3"
        connection.settings_dict["NAME"] = secret
    else:
        secret = str(closed_port())
        connection.settings_dict.update(HOST="127.0.0.1", PORT=secret)
    yield secret
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)


def test_healthz_is_ok_when_everything_answers(db, beat_20s_ago, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {
            "database": {"status": "ok"},
            "queue": {"status": "ok", "pending": 0},
            "task_runner": {"status": "ok", "last_heartbeat_age_seconds": 20},
        },
    }
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    # No session is started for a health check, and nothing names the software or version.
    assert response.cookies == {}
    assert "keel" not in response.content.decode().lower()
    assert "version" not in response.content.decode().lower()


def test_healthz_needs_no_login_and_ignores_one(db, beat_20s_ago):
    client = Client()
    client.force_login(User.objects.create_user("ops@example.org", "pw-0123456789", name="Ops"))
    assert client.get("/healthz").json()["status"] == "ok"


def test_healthz_is_degraded_but_200_when_the_heartbeat_is_stale(db, clock, no_heartbeat):
    health.write_heartbeat(HUEY, clock - timedelta(minutes=5, seconds=1))
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {
            "database": {"status": "ok"},
            "queue": {"status": "ok", "pending": 0},
            "task_runner": {"status": "stale", "last_heartbeat_age_seconds": 301},
        },
    }


def test_a_heartbeat_exactly_at_the_threshold_is_still_ok(db, clock, no_heartbeat):
    health.write_heartbeat(HUEY, clock - timedelta(minutes=5))
    assert health.check_task_runner(HUEY, clock) == {
        "status": "ok",
        "last_heartbeat_age_seconds": 300,
    }


def test_healthz_is_degraded_when_no_runner_ever_beat(db, clock, no_heartbeat):
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["task_runner"] == {
        "status": "missing",
        "last_heartbeat_age_seconds": None,
    }


def test_healthz_is_down_and_503_when_the_database_does_not_answer(database_down, beat_20s_ago):
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "down",
        "checks": {
            "database": {"status": "down", "error": "OperationalError"},
            "queue": {"status": "ok", "pending": 0},
            "task_runner": {"status": "ok", "last_heartbeat_age_seconds": 20},
        },
    }
    # Where the database is (host, port, file) is never part of a public answer.
    assert database_down not in response.content.decode()


def test_the_periodic_heartbeat_writes_the_time_it_ran(no_heartbeat):
    # The consumer's scheduler finds it due at every minute of every hour.
    due = {task.name for task in HUEY.read_periodic(datetime(2026, 11, 28, 3, 17, tzinfo=UTC))}
    assert heartbeat.task_class().name in due
    before = datetime.now(UTC)
    heartbeat()  # the test settings run tasks inside the call
    after = datetime.now(UTC)
    beat = health.read_heartbeat(HUEY)
    assert beat is not None and before <= beat <= after


def test_healthz_is_not_rate_limited(db, beat_20s_ago):
    client = Client()
    statuses = {client.get("/healthz").status_code for _ in range(60)}
    assert statuses == {200}


def test_healthz_is_served_over_plain_http_when_https_is_enforced(db, beat_20s_ago, settings):
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 301


def test_healthz_answers_head_and_refuses_post(db, beat_20s_ago):
    client = Client()
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


def test_queue_down_is_degraded_and_names_only_the_error_class(clock):
    port = closed_port()
    queue = RedisHuey(f"keel-test-{uuid.uuid4().hex}", url=f"redis://127.0.0.1:{port}/0")
    assert health.check_queue(queue) == {"status": "down", "error": "ConnectionError"}


@pytest.mark.redis
def test_queue_check_pings_redis_and_reads_the_heartbeat_there(redis_url):
    # A queue of its own on the real Redis, so nothing else using it is disturbed.
    queue = RedisHuey(f"keel-test-{uuid.uuid4().hex}", url=redis_url, results=False)

    @queue.task()
    def noop() -> None:
        pass

    try:
        assert health.check_queue(queue) == {"status": "ok", "pending": 0}
        noop()
        assert health.check_queue(queue) == {"status": "ok", "pending": 1}
        assert health.check_task_runner(queue, NOW) == {
            "status": "missing",
            "last_heartbeat_age_seconds": None,
        }
        health.write_heartbeat(queue, NOW - timedelta(seconds=42))
        assert health.check_task_runner(queue, NOW) == {
            "status": "ok",
            "last_heartbeat_age_seconds": 42,
        }
    finally:
        queue.storage.flush_all()
