"""The parent side of the fault tests: a Keel database (a SQLite file in a data directory,
or a PostgreSQL database of its own) holding the fault world, a template to put it back
from before every run, and the fork server (tests/faults/harness.py) that runs the jobs.

The pytest process never opens that database through Django: its own settings point at
the test database. It reads the outcome through the fork server's snapshots, runs the real
`keel` command as a subprocess, and touches the database directly only to copy it (SQLite's
backup API, PostgreSQL's CREATE DATABASE ... TEMPLATE) and to drop a connection.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
APPLICATION_NAME = "keel-faults"
# `make soak` raises these; the suite runs a handful of seeds per job.
SEEDS = int(os.environ.get("KEEL_SOAK_SEEDS") or 3)
SERVE_SECONDS = float(os.environ.get("KEEL_SOAK_SERVE_SECONDS") or 10)


def pass_backend() -> str:
    """The backend of this pass of the suite: the fault tests run against it."""
    url = os.environ.get("KEEL_TEST_DATABASE_URL", "")
    return "postgresql" if url.startswith("postgres") else "sqlite"


def log_tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Exit:
    pid: int
    code: int  # negative: killed by that signal
    result: dict[str, Any] | None

    @property
    def runs(self) -> list[dict[str, Any]]:
        assert self.result is not None and "runs" in self.result, self.result
        return self.result["runs"]


class Harness:
    """Talks to the fork server: submit an operation, then wait for its events."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self._ids = itertools.count(1)
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._backlog: list[dict[str, Any]] = []
        self._log_handle = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.harness"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_handle,
        )
        threading.Thread(target=self._read, daemon=True).start()
        self._take(lambda e: e["event"] == "ready", timeout=180)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._events.put(json.loads(line))
        self._events.put({"event": "eof"})

    def _take(self, wanted: Any, timeout: float) -> dict[str, Any]:
        for index, event in enumerate(self._backlog):
            if wanted(event):
                return self._backlog.pop(index)
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self._events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"the fault harness sent nothing in {timeout:.0f} s\n{log_tail(self.log)}"
                ) from None
            if event["event"] == "eof":
                raise AssertionError(f"the fault harness stopped\n{log_tail(self.log)}")
            if wanted(event):
                return event
            self._backlog.append(event)

    def submit(self, **op: Any) -> int:
        """Start an operation in a fresh child; its pid."""
        op["id"] = next(self._ids)
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(op) + "\n").encode())
        self.process.stdin.flush()
        return int(self._take(lambda e: e["event"] == "forked" and e["id"] == op["id"], 30)["pid"])

    def wait_for(self, event: str, pid: int, timeout: float = 120) -> dict[str, Any]:
        """The child's `event`, or its exit if it ended first (left for `finish`)."""
        found = self._take(lambda e: e["event"] in (event, "exit") and e["pid"] == pid, timeout)
        if found["event"] == "exit":
            self._backlog.insert(0, found)
        return found

    def finish(self, pid: int, timeout: float = 300) -> Exit:
        done = self._take(lambda e: e["event"] == "exit" and e["pid"] == pid, timeout)
        self._backlog = [e for e in self._backlog if e.get("pid") != pid]
        return Exit(pid, done["code"], done["result"])

    def call(self, timeout: float = 300, **op: Any) -> Exit:
        return self.finish(self.submit(**op), timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write(b'{"op": "quit"}\n')
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_handle.close()


@dataclass(frozen=True)
class Calibration:
    """One run of a job nobody disturbs: the statements it ran, how long it took, and the
    books it left (the state a whole run must leave)."""

    statements: int
    seconds: float
    state: dict[str, Any]


@dataclass
class Lab:
    """One database with the fault world, its template, and the fork server on it."""

    backend: str
    root: Path
    env: dict[str, str]
    world: dict[str, Any] = field(default_factory=dict)
    harness: Harness | None = None
    database_name: str = ""
    admin_conninfo: str = ""
    admin_connection: Any = None
    empty: dict[str, Any] = field(default_factory=dict)
    measured: dict[str, Calibration] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return Path(self.env["KEEL_DATA_DIR"])

    @property
    def sqlite_file(self) -> Path:
        return self.data_dir / "keel.sqlite3"

    @property
    def template(self) -> Path:
        return self.root / "template.sqlite3"

    @property
    def fork(self) -> Harness:
        assert self.harness is not None
        return self.harness

    # ---------------------------------------------------------------------- lifecycle

    @classmethod
    def create(cls, backend: str, root: Path) -> Lab:
        data_dir = root / "data"
        data_dir.mkdir(parents=True)
        env = {
            key: value
            for key, value in os.environ.items()
            if key
            not in {
                "KEEL_TEST_DATABASE_URL",
                "KEEL_TEST_DATABASE_NAME",
                "KEEL_DATABASE_URL",
                "KEEL_REDIS_URL",
                "DJANGO_SETTINGS_MODULE",
                "KEEL_DEBUG",
            }
        }
        env |= {
            "KEEL_DATA_DIR": str(data_dir),
            "KEEL_SECRET_KEY": "keel-fault-tests-only-" + "f" * 40,
            "KEEL_FAULTS_WORK": str(root),
            "KEEL_LOG_LEVEL": "WARNING",
            # numpy's BLAS would start threads at import; the fork server forks, and a
            # forked child inherits no threads, only their locks.
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
        }
        lab = cls(backend, root, env)
        try:
            lab._build()
        except BaseException:
            lab.close()
            raise
        return lab

    def _build(self) -> None:
        if self.backend == "postgresql":
            self._create_database()
        migrated = self.keel("migrate", timeout=900)
        assert migrated.returncode == 0, migrated.stderr
        self.harness = Harness(self.env, self.root / "harness.log")
        setup = self.fork.call(op="setup")
        assert setup.code == 0 and setup.result is not None, (setup, log_tail(self.fork.log))
        self.world = setup.result
        self._save_template()
        self.empty = self.snapshot()

    def close(self) -> None:
        if self.harness is not None:
            self.harness.stop()
        if self.backend == "postgresql" and self.database_name:
            admin = self._admin()
            for name in (self.database_name, self._template_name):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()

    def _admin(self) -> Any:
        """A connection to the server's maintenance database, kept open: a connection
        dropped after a delay should be dropped then, not after connecting first."""
        import psycopg

        if self.admin_connection is None or self.admin_connection.closed:
            self.admin_connection = psycopg.connect(self.admin_conninfo, autocommit=True)
        return self.admin_connection

    @property
    def _template_name(self) -> str:
        return f"{self.database_name}_tpl"

    def _create_database(self) -> None:
        from psycopg.conninfo import make_conninfo

        base = os.environ["KEEL_TEST_DATABASE_URL"]
        self.database_name = f"keel_faults_{uuid.uuid4().hex[:10]}"
        self.admin_conninfo = make_conninfo(base, dbname="postgres")
        parts = urlsplit(base)
        self.env["KEEL_DATABASE_URL"] = urlunsplit(
            parts._replace(
                path=f"/{self.database_name}", query=f"application_name={APPLICATION_NAME}"
            )
        )
        self._admin().execute(f'CREATE DATABASE "{self.database_name}"')

    def _save_template(self) -> None:
        if self.backend == "sqlite":
            # Through SQLite's backup API: it reads committed pages wherever they are (the
            # database file or its WAL), so the copy is whole and needs no WAL of its own.
            source = sqlite3.connect(self.sqlite_file)
            target = sqlite3.connect(self.template)
            with target:
                source.backup(target)
            source.close()
            target.close()
            return
        self._admin().execute(
            f'CREATE DATABASE "{self._template_name}" TEMPLATE "{self.database_name}"'
        )

    def restore(self) -> None:
        """Put the database back as the world left it (nothing may have it open)."""
        if self.backend == "sqlite":
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.sqlite_file}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(self.template, self.sqlite_file)
            return
        admin = self._admin()
        admin.execute(f'DROP DATABASE IF EXISTS "{self.database_name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{self.database_name}" TEMPLATE "{self._template_name}"')

    # ---------------------------------------------------------------------- operations

    def keel(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """The real `keel` command on this lab's database."""
        return subprocess.run(
            [sys.executable, "-m", "keel", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def calibrate(self, job: str) -> Calibration:
        if job not in self.measured:
            self.restore()
            done = self.fork.call(op="job", job=job, snapshots=True)
            assert done.code == 0, (done, log_tail(self.fork.log))
            (run,) = done.runs
            self.measured[job] = Calibration(run["statements"], run["seconds"], run["snapshot"])
        return self.measured[job]

    def snapshot(self) -> dict[str, Any]:
        self.settle()
        done = self.fork.call(op="snapshot")
        assert done.code == 0 and done.result is not None, (done, log_tail(self.fork.log))
        return done.result

    def settle(self) -> None:
        """Wait until no job's connection is left on the server. A client killed during
        COMMIT leaves its backend finishing that commit; reading the books before it has
        ended would catch a moment, not the outcome."""
        if self.backend != "postgresql":
            return
        ours = "FROM pg_stat_activity WHERE datname = %s AND application_name = %s"
        admin, params = self._admin(), [self.database_name, APPLICATION_NAME]
        for _ in range(1000):
            if admin.execute(f"SELECT 1 {ours}", params).fetchone() is None:
                return
            time.sleep(0.01)
        raise AssertionError("a job's backend is still on the server 10 s after its client ended")

    def terminate_backend(self, backend_pid: int) -> None:
        """Drop a PostgreSQL connection as an operator (or a failover) would, and wait
        until its backend is gone."""
        # Only a backend of this lab's connections: once the child has closed its own, the
        # pid may belong to someone else's.
        ours = "FROM pg_stat_activity WHERE pid = %s AND application_name = %s"
        admin, params = self._admin(), [backend_pid, APPLICATION_NAME]
        admin.execute(f"SELECT pg_terminate_backend(pid) {ours}", params)
        for _ in range(500):
            if admin.execute(f"SELECT 1 {ours}", params).fetchone() is None:
                return
            time.sleep(0.01)
        raise AssertionError(f"backend {backend_pid} is still there after termination")
