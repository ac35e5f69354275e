"""The load test, short: `keel bench --load` runs Locust's mixed traffic for about twenty
seconds against a real `keel serve` (gunicorn, two workers here) and `keel tasks` on a
database of its own, and every request is answered as it should be, none with a 5xx,
every operation is exercised and the ledger verifies afterwards. Times are never
asserted. `make soak` runs the same for ten minutes on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from keel.cli import main_group
from keel.loadtest import OPERATIONS
from keel.loadtest.drive import user_counts
from keel.loadtest.runner import world_size

ROOT = Path(__file__).resolve().parents[2]
MINUTES = "0.35"
USERS = "6"


def bench_load(tmp_path: Path, backend: str, **env: str) -> tuple[dict[str, Any], str]:
    """`keel bench --load` as a person runs it; its JSON result and its table."""
    out = tmp_path / "load.json"
    environ = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"} | env
    done = subprocess.run(
        [
            *(sys.executable, "-m", "keel", "bench", "--load", "--backend", backend),
            *("--minutes", MINUTES, "--users", USERS, "--out", str(out)),
        ],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-5000:]
    return json.loads(out.read_text(encoding="utf-8")), done.stdout


def assert_clean_run(result: dict[str, Any], table: str) -> None:
    load = result["load"]
    assert load["exceptions"] == []
    assert load["errors"] == []
    total = load["total"]
    assert (total["failures"], total["status_5xx"], total["no_answer"]) == (0, 0, 0)
    # Pages and API answers, log-ins and form posts redirecting, and an approval that
    # lost the race to another member's (409) are the only answers the traffic expects.
    assert set(total["statuses"]) <= {"200", "302", "409"}
    seen = {op["operation"]: op["requests"] for op in load["operations"]}
    assert sorted(seen) == sorted(OPERATIONS)
    assert min(seen.values()) >= 1
    assert sum(seen.values()) == total["requests"]
    assert load["user_classes"] == {"PlatformUser": 2, "WorkerUser": 2, "PoolMemberUser": 2}
    # Each platform starts with a batch of at least 100 new events and a single one.
    assert load["events_created"] >= 2 * 101
    assert result["server_errors"] == 0
    ledger = result["ledger"]
    assert (ledger["ok"], ledger["problems"]) == (True, [])
    assert result["ok"] is True
    assert result["run_dir"] is None
    for operation in OPERATIONS:
        assert operation in table
    assert "keel ledger verify: ok" in table
    assert "result: ok" in table


def test_a_short_load_on_sqlite_answers_everything_and_the_ledger_verifies(tmp_path: Path):
    result, table = bench_load(tmp_path, "sqlite")

    assert_clean_run(result, table)
    assert result["backend"] == "sqlite"
    assert result["server"]["workers"] == 4


@pytest.mark.postgres
def test_a_short_load_on_postgres_answers_everything_and_the_ledger_verifies(tmp_path: Path):
    # The runner creates a database of its own (keel_load_<pid>_<random>) on this server
    # and drops it afterwards.
    server = os.environ["KEEL_TEST_DATABASE_URL"]
    result, table = bench_load(tmp_path, "postgres", KEEL_BENCH_DATABASE_URL=server)

    assert_clean_run(result, table)
    assert result["backend"] == "postgres"
    assert result["database"].startswith("postgres (")


def test_users_are_spread_by_weight_with_one_of_each_kind_at_least():
    assert user_counts(3, [1, 3, 2]) == [1, 1, 1]
    assert user_counts(6, [1, 3, 2]) == [2, 2, 2]
    assert user_counts(20, [1, 3, 2]) == [4, 9, 7]
    with pytest.raises(ValueError, match="at least 3 users"):
        user_counts(2, [1, 3, 2])


def test_the_world_grows_with_the_users_within_a_funds_limit():
    assert world_size(3) == (10, 8)
    assert world_size(20) == (40, 20)
    assert world_size(60) == (120, 40)


def test_bench_load_without_locust_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr("keel.loadtest.runner.locust_installed", lambda: False)
    # Where a run's directory would be made.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    done = CliRunner().invoke(main_group, ["bench", "--load", "--backend", "sqlite"])

    assert done.exit_code == 1
    assert "pip install -e '.[dev]'" in done.output
    # Refused before anything was made.
    assert list(tmp_path.iterdir()) == []
