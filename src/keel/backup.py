"""Consistent copies of the database while Keel runs, and restoring them.

SQLite uses the online backup API (a consistent snapshot even while other processes write);
PostgreSQL uses pg_dump's custom format, which reads one snapshot, and pg_restore.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


class BackupError(RuntimeError):
    pass


@dataclass(frozen=True)
class BackupResult:
    path: Path
    engine: str
    size: int


def _settings() -> dict[str, Any]:
    return dict(connection.settings_dict)


def backup(path: Path) -> BackupResult:
    settings = _settings()
    path = path.expanduser().resolve()
    if path.exists():
        raise BackupError(f"{path} already exists; choose a new file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    if connection.vendor == "sqlite":
        source = sqlite3.connect(settings["NAME"], timeout=30)
        target = sqlite3.connect(str(path))
        try:
            with target:
                source.backup(target)
        finally:
            target.close()
            source.close()
    elif connection.vendor == "postgresql":
        _run_pg("pg_dump", ["--format=custom", "--no-owner", f"--file={path}"], settings)
    else:
        raise BackupError(f"backups of {connection.vendor} are not supported")
    return BackupResult(path, connection.vendor, path.stat().st_size)


def restore(path: Path) -> None:
    """Replace the database with a backup. Stop Keel's servers first."""
    settings = _settings()
    path = path.expanduser().resolve()
    if not path.is_file():
        raise BackupError(f"{path} does not exist")
    head = path.open("rb").read(16)
    if connection.vendor == "sqlite":
        if head != SQLITE_MAGIC:
            raise BackupError(f"{path} is not a SQLite backup")
        _check_sqlite_backup(path)
        connection.close()
        source = sqlite3.connect(str(path))
        target = sqlite3.connect(settings["NAME"], timeout=30)
        try:
            with target:
                source.backup(target)
        finally:
            target.close()
            source.close()
    elif connection.vendor == "postgresql":
        if not head.startswith(PGDUMP_MAGIC):
            raise BackupError(f"{path} is not a pg_dump custom-format backup")
        connection.close()
        _run_pg(
            "pg_restore",
            ["--clean", "--if-exists", "--no-owner", "--single-transaction", str(path)],
            settings,
            database_flag=True,
        )
    else:
        raise BackupError(f"restoring {connection.vendor} is not supported")


def _check_sqlite_backup(path: Path) -> None:
    probe = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (result,) = probe.execute("PRAGMA integrity_check").fetchone()
        tables = {row[0] for row in probe.execute("SELECT name FROM sqlite_master")}
    finally:
        probe.close()
    if result != "ok":
        raise BackupError(f"{path} fails SQLite's integrity check: {result}")
    if not {"ledger_journal", "ledger_leg", "ledger_account"} <= tables:
        raise BackupError(f"{path} is not a Keel database (no ledger tables)")


def _run_pg(
    program: str, args: list[str], settings: dict[str, Any], *, database_flag: bool = False
) -> None:
    executable = shutil.which(program)
    if executable is None:
        raise BackupError(
            f"{program} is not installed; install the PostgreSQL client tools"
            " (Debian: apt-get install postgresql-client)"
        )
    conn = [
        f"--host={settings.get('HOST') or '127.0.0.1'}",
        f"--port={settings.get('PORT') or 5432}",
    ]
    if settings.get("USER"):
        conn.append(f"--username={settings['USER']}")
    env = None
    if settings.get("PASSWORD"):
        import os

        env = {**os.environ, "PGPASSWORD": settings["PASSWORD"]}
    database = [f"--dbname={settings['NAME']}"]
    command = (
        [executable, *conn, *database, *args]
        if database_flag
        else [executable, *conn, *args, settings["NAME"]]
    )
    # A fixed program found on PATH, with arguments from Keel's own settings.
    completed = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, env=env, check=False
    )
    if completed.returncode != 0:
        message = completed.stderr.strip().splitlines()
        raise BackupError(f"{program} failed: {message[-1] if message else completed.returncode}")
