"""`keel backup` and `keel restore` round-trip the database and the ledger verifies."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection

from keel.accounts.models import User
from keel.backup import BackupError, backup, restore
from keel.gateway import services as gateway
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


# ------------------------------------------------------------------ a backup while serving

KEEL = [sys.executable, "-m", "keel"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until(condition: Callable[[], bool], timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@dataclass(frozen=True)
class Database:
    """Where a `keel` process finds its database: a data directory, plus a database URL on
    PostgreSQL (SQLite lives in the data directory)."""

    data_dir: Path
    url: str | None = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
        env.update(
            KEEL_DATA_DIR=str(self.data_dir),
            DJANGO_SETTINGS_MODULE="keel.settings",
            KEEL_SECRET_KEY="backup-while-serving-" + "s" * 40,
            KEEL_LOG_FORMAT="json",
        )
        if self.url:
            env["KEEL_DATABASE_URL"] = self.url
        return env

    def keel(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*KEEL, *args], env=self.env(), capture_output=True, text=True, timeout=180
        )

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.url:
            with psycopg.connect(self.url) as conn:
                return [tuple(row) for row in conn.execute(sql).fetchall()]
        conn = sqlite3.connect(f"file:{self.data_dir / 'keel.sqlite3'}?mode=ro", uri=True)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def events(self) -> list[tuple[str, int]]:
        return [
            (event_id, journal_id)
            for event_id, journal_id in self.rows(
                "SELECT event_id, journal_id FROM gateway_earningsevent ORDER BY id"
            )
        ]

    def legs_per_journal(self) -> dict[int, int]:
        counts = dict(self.rows("SELECT journal_id, COUNT(*) FROM ledger_leg GROUP BY journal_id"))
        journals = {journal_id for (journal_id,) in self.rows("SELECT id FROM ledger_journal")}
        return {journal_id: counts.get(journal_id, 0) for journal_id in journals}


class Databases:
    """Databases of their own for `keel` processes, of the suite's kind: SQLite files on the
    SQLite pass, PostgreSQL databases (dropped afterwards) on the PostgreSQL pass."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.settings = connection.settings_dict
        self.vendor = connection.vendor
        self.created: list[str] = []

    def _new(self, name: str) -> Database:
        data_dir = self.root / name
        data_dir.mkdir()
        if self.vendor == "sqlite":
            return Database(data_dir)
        database = f"{self.settings['NAME']}_{name}"
        self.created.append(database)
        user = self.settings["USER"]
        if self.settings.get("PASSWORD"):
            user += f":{self.settings['PASSWORD']}"
        host = f"{self.settings.get('HOST') or '127.0.0.1'}:{self.settings.get('PORT') or 5432}"
        return Database(data_dir, f"postgres://{user}@{host}/{database}")

    def _server(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=self.settings.get("HOST") or "127.0.0.1",
            port=self.settings.get("PORT") or 5432,
            user=self.settings["USER"],
            password=self.settings.get("PASSWORD") or None,
            dbname="postgres",
            autocommit=True,
        )

    def clone(self, name: str) -> Database:
        """A copy of the suite's database as it is now: migrated, with what the test has
        committed (migrating a new one from scratch takes longer than the whole test)."""
        target = self._new(name)
        if self.vendor == "sqlite":
            source = sqlite3.connect(self.settings["NAME"])
            copy = sqlite3.connect(target.data_dir / "keel.sqlite3")
            try:
                with copy:
                    source.backup(copy)
            finally:
                copy.close()
                source.close()
        else:
            # A template database may have no other sessions: the test's own goes first,
            # and any an earlier test left behind (a thread's connection) is ended.
            connection.close()
            with self._server() as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    [self.settings["NAME"]],
                )
                conn.execute(
                    f'CREATE DATABASE "{self.created[-1]}" TEMPLATE "{self.settings["NAME"]}"'
                )
        return target

    def empty(self, name: str) -> Database:
        target = self._new(name)
        if self.vendor == "postgresql":
            with self._server() as conn:
                conn.execute(f'CREATE DATABASE "{self.created[-1]}"')
        return target

    def drop(self) -> None:
        if not self.created:
            return
        with self._server() as conn:
            for database in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture
def databases(transactional_db: None, tmp_path: Path) -> Iterator[Databases]:
    made = Databases(tmp_path)
    yield made
    made.drop()


class Writer(threading.Thread):
    """A platform posting one earnings event per request, each after the previous one was
    acknowledged, so the server commits them in the order sent: a consistent snapshot holds
    exactly the first k of them, each with its journal."""

    def __init__(self, base_url: str, key: str) -> None:
        super().__init__(name="earnings-writer", daemon=True)
        self.url = f"{base_url}/api/v1/platform/earnings"
        self.key = key
        self.acked: list[tuple[str, int]] = []  # (event_id, journal_id), in order
        self.sent = 0  # events whose request has started
        self.failures: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set() and not self.failures:
            event_id = f"e{self.sent:05d}"
            self.sent += 1
            journal_id = self._post(event_id)
            if journal_id is not None:
                self.acked.append((event_id, journal_id))

    def _post(self, event_id: str) -> int | None:
        body = json.dumps(
            {
                "events": [
                    {
                        "event_id": event_id,
                        "worker_ref": "rider-7",
                        "occurred_at": "2026-03-02T14:30:00Z",
                        "gross": 2_500,
                        "currency": "USD",
                    }
                ]
            }
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
            self.url,
            data=body,
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
        )
        # A retry sends the same event id: the gateway answers a replay with the original.
        for _ in range(50):
            try:
                with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                    (event,) = json.load(response)["events"]
                    if event["contribution"] != 100:
                        self.failures.append(f"{event_id}: {event}")
                    return int(event["journal_id"])
            except urllib.error.HTTPError as exc:
                if exc.code not in (429, 503):
                    self.failures.append(f"{event_id}: HTTP {exc.code} {exc.read()[:300]!r}")
                    return None
            except OSError:
                pass
            time.sleep(0.2)
        self.failures.append(f"{event_id}: no answer after 50 tries")
        return None


def _serve(live: Database, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                *KEEL,
                "serve",
                "--port",
                str(port),
                "--workers",
                "2",
                "--threads",
                "2",
                "--insecure-http",
                "--no-tasks",
            ],
            env=live.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
            return bool(response.status == 200)
    except urllib.error.HTTPError as exc:
        return exc.code == 503
    except OSError:
        return False


@pytest.mark.slow
def test_a_backup_taken_while_keel_serves_writes_restores_a_consistent_snapshot(
    databases: Databases, tmp_path: Path
) -> None:
    operator = User.objects.create_user("ops@gigs.example", "pw-0123456789", name="Gig Ops")
    platform = gateway.create_platform(
        "Acme Gigs",
        operator=operator,
        policy={"currency": "USD", "rate_bps": 400},
        effective_from=date(2026, 1, 1),
    )
    _, key = gateway.create_platform_key(platform, operator, "backup test", ["earnings:write"])
    live = databases.clone("live")
    journals_before = live.legs_per_journal()

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _serve(live, port, tmp_path / "serve.log")
    writer = Writer(base, key)
    try:
        assert _wait_until(lambda: _answers(f"{base}/healthz")), "keel serve did not answer"
        writer.start()
        assert _wait_until(lambda: len(writer.acked) >= 15 or bool(writer.failures))
        acked_before_backup = len(writer.acked)
        backed_up = live.keel("backup", str(tmp_path / "keel.backup"))
        sent_by_backup_end = writer.sent
        assert backed_up.returncode == 0, backed_up.stderr
        # The writes go on after the backup: it was taken while Keel was busy.
        assert _wait_until(lambda: len(writer.acked) >= sent_by_backup_end + 5)
    finally:
        writer.halt.set()
        writer.join(timeout=120)
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert writer.failures == []
    assert server.returncode == 0

    restored = databases.empty("restored")
    restore_run = restored.keel("restore", "--yes", str(tmp_path / "keel.backup"))
    assert restore_run.returncode == 0, restore_run.stderr
    verify = restored.keel("ledger", "verify", "--json")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    report = json.loads(verify.stdout)

    # A prefix of what was acknowledged: every event up to some k with the journal the
    # server answered for it, nothing after; k lies between what was acknowledged before
    # the backup started and what had been sent when it ended.
    events = restored.events()
    k = len(events)
    assert acked_before_backup <= k <= sent_by_backup_end
    assert events == writer.acked[:k]
    assert k < len(writer.acked)
    # Every journal with all of its legs, as many as the live database holds for it.
    live_legs = live.legs_per_journal()
    expected = {**journals_before, **{j: live_legs[j] for _, j in writer.acked[:k]}}
    assert restored.legs_per_journal() == expected
    assert (report["ok"], report["journals"], report["legs"]) == (
        True,
        len(expected),
        sum(expected.values()),
    )
    assert f"{len(expected)} journals, ledger verifies" in restore_run.stdout

    # The server wrote its log as JSON, one object per line, one line per request.
    lines = [json.loads(line) for line in (tmp_path / "serve.log").read_text().splitlines()]
    posts = [
        line
        for line in lines
        if line.get("logger") == "keel.request" and line["path"] == "/api/v1/platform/earnings"
    ]
    assert len(posts) >= len(writer.acked)
    assert {line["status"] for line in posts} <= {200, 429, 503}
    assert all(len(line["request_id"]) == 32 for line in posts)
