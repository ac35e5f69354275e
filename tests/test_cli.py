"""The `keel` command: help everywhere, one-line errors, and the operator commands."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from keel.accounts.models import User
from keel.cli import main, main_group
from keel.ledger import services
from keel.ledger.models import Journal
from keel.ledger.rules import JournalSpec, LegSpec

KEEL = [sys.executable, "-m", "keel"]


def _walk(group: click.Group, path: list[str]) -> list[list[str]]:
    found = [path]
    for name in sorted(group.commands):
        command = group.commands[name]
        if isinstance(command, click.Group):
            found += _walk(command, [*path, name])
        else:
            found.append([*path, name])
    return found


# Every Keel command and subcommand, read from the command tree so that a new command
# cannot go without help (Django's own commands, reached through the same entry point,
# are not Keel's to document).
COMMANDS = _walk(main_group, [])


def run_keel(*args: str, data_dir: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "KEEL_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "keel.settings"}
    env.pop("KEEL_TEST_DATABASE_URL", None)
    env.pop("KEEL_DATABASE_URL", None)
    return subprocess.run(
        [*KEEL, *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=120,
        check=False,
    )


def test_the_installed_command_prints_help(tmp_path):
    result = run_keel("--help", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: keel")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "keel")
def test_every_command_has_help(command):
    # In-process (the tree is the installed command's, checked just above): a process per
    # command would cost the suite a Django start-up each.
    result = CliRunner().invoke(main_group, [*command, "--help"], prog_name="keel")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: keel")
    # Every command says what it does, not only its usage line.
    assert len(result.output.strip().splitlines()) > 2


def test_errors_are_one_line_without_traceback(tmp_path):
    # No database yet: the command explains instead of crashing.
    result = run_keel("worker", "add", "ana@example.org", "--name", "Ana", data_dir=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error:")
    assert "keel migrate" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_migrate_then_worker_add_then_verify(tmp_path):
    assert run_keel("migrate", data_dir=tmp_path).returncode == 0
    added = run_keel(
        "worker",
        "add",
        "ana@example.org",
        "--name",
        "Ana Lima",
        "--currency",
        "EUR",
        data_dir=tmp_path,
    )
    assert added.returncode == 0, added.stderr
    assert "created worker" in added.stdout and "(EUR)" in added.stdout
    assert "password (shown once): " in added.stdout
    again = run_keel("worker", "add", "ana@example.org", "--name", "Ana", data_dir=tmp_path)
    assert again.returncode == 1
    assert (
        again.stderr.strip()
        == "error: email: a person with the email ana@example.org already exists"
    )
    bad_currency = run_keel(
        "worker", "add", "b@example.org", "--name", "B", "--currency", "usd", data_dir=tmp_path
    )
    assert bad_currency.returncode == 1
    assert "did you mean 'USD'" in bad_currency.stderr
    verify = run_keel("ledger", "verify", "--json", data_dir=tmp_path)
    assert verify.returncode == 0
    report = json.loads(verify.stdout)
    assert (report["ok"], report["accounts"], report["journals"]) == (True, 2, 0)


def keel_env(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "KEEL_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "keel.settings"}
    for name in ("KEEL_TEST_DATABASE_URL", "KEEL_DATABASE_URL", "KEEL_REDIS_URL"):
        env.pop(name, None)
    return env


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    # A process that has exited but not been reaped yet is a zombie ("Z"): gone all the same.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def open_files(pid: int) -> list[str]:
    """The paths of the files process `pid` holds open."""
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(FileNotFoundError):  # closed while listed
            found.append(os.readlink(fd))
    return found


def wait_until(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_serve_runs_a_task_runner_and_ctrl_c_stops_both(tmp_path):
    assert run_keel("migrate", data_dir=tmp_path).returncode == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    home, runtime = tmp_path / "home", tmp_path / "run"
    home.mkdir()
    runtime.mkdir()
    server = subprocess.Popen(
        [*KEEL, "serve", "--port", str(port), "--workers", "1", "--insecure-http"],
        env={**keel_env(tmp_path), "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def answers() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health") as r:
                    return r.status == 200
            except OSError:
                return False

        assert wait_until(answers), "the server did not answer"
        # gunicorn forks its workers from this process: no database file may be open in
        # it, or every worker would share its connection (SQLite forbids that).
        database = str(tmp_path / "keel.sqlite3")
        assert [f for f in open_files(server.pid) if f.startswith(database)] == []
        # No control socket: its default path is shared by every server of one user.
        assert [*home.rglob("*.ctl"), *runtime.rglob("*.ctl")] == []
        runners = [
            pid
            for pid in children(server.pid)
            if "tasks" in Path(f"/proc/{pid}/cmdline").read_text()
        ]
        assert len(runners) == 1
        assert wait_until(lambda: (tmp_path / "tasks.sqlite3").exists())
        server.send_signal(signal.SIGINT)  # what Ctrl+C in the terminal sends
        _, stderr = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, stderr
    assert "Stopping the task runner" in stderr
    assert not alive(runners[0])


@pytest.mark.slow
@pytest.mark.parametrize("sigint", ["handled", "ignored"])
def test_a_task_runner_does_not_outlive_its_server(tmp_path, sigint):
    """A server that vanishes (killed outright) takes its task runner with it, also when
    it was started with SIGINT ignored, as a script's `keel serve &` is, which the runner
    inherits; and also when it vanishes before the runner has started."""
    assert run_keel("migrate", data_dir=tmp_path).returncode == 0
    # A stand-in for the server: it starts the runner and vanishes at once.
    ignore = "signal.signal(signal.SIGINT, signal.SIG_IGN); " if sigint == "ignored" else ""
    pid_file = tmp_path / "runner.pid"
    with (tmp_path / "runner.log").open("w") as log:
        subprocess.run(
            [
                sys.executable,
                "-c",
                f"import signal, sys; {ignore}from keel.cli import start_task_runner;"
                " open(sys.argv[1], 'w').write(str(start_task_runner().pid))",
                str(pid_file),
            ],
            env=keel_env(tmp_path),
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=60,
        )
    runner = int(pid_file.read_text())
    try:
        assert wait_until(lambda: not alive(runner)), "the task runner outlived its parent"
    finally:
        if alive(runner):
            os.kill(runner, signal.SIGKILL)
    # Stopped as Ctrl+C stops it, once started, not interrupted half-way through starting.
    log = (tmp_path / "runner.log").read_text()
    assert "Huey consumer started" in log
    assert "All workers have stopped." in log
    assert "aborted" not in log


def test_unknown_command_is_a_usage_error(tmp_path):
    result = run_keel("frobnicate", data_dir=tmp_path)
    assert result.returncode == 2
    assert "No such command 'frobnicate'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.django_db
def test_ledger_verify_exits_non_zero_naming_the_account(capsys):
    services.open_account(
        "worker:5:cash", owner_type="worker", owner_id=5, kind="asset", currency="USD"
    )
    services.open_account(
        "worker:5:income", owner_type="worker", owner_id=5, kind="income", currency="USD"
    )
    services.post_journal(
        JournalSpec(
            "k",
            "income",
            date(2026, 1, 2),
            (LegSpec("worker:5:cash", 700, "USD"), LegSpec("worker:5:income", -700, "USD")),
        )
    )
    assert main(["ledger", "verify"]) == 0
    services.Account.objects.filter(code="worker:5:cash").update(posted_debits=701)
    assert main(["ledger", "verify"]) == 1
    err = capsys.readouterr().err
    assert "PROBLEM: account worker:5:cash" in err
    assert err.strip().endswith("error: the ledger does not verify: 1 problem(s)")


@pytest.mark.django_db
def test_worker_add_in_process_opens_books():
    assert main(["worker", "add", "lee@example.org", "--name", "Lee Park"]) == 0
    user = User.objects.get(email="lee@example.org")
    assert user.roles == ["worker"]
    codes = sorted(services.Account.objects.filter(owner_id=user.pk).values_list("code", flat=True))
    assert codes == [f"worker:{user.pk}:buffer", f"worker:{user.pk}:cash"]
    assert Journal.objects.count() == 0


@pytest.mark.django_db
def test_report_of_a_worker_with_no_income_says_what_is_not_known(capsys):
    # Runway needs essential expenses: unset, the report printed "runway None months".
    assert main(["worker", "add", "lee@example.org", "--name", "Lee Park"]) == 0
    capsys.readouterr()
    assert main(["report", "--worker", "lee@example.org"]) == 0
    out = capsys.readouterr().out
    assert "  runway                      n/a (essential expenses not set)\n" in out
    assert "None" not in out


@pytest.mark.django_db
def test_salary_pay_for_a_worker_without_a_salary_is_a_plain_error(capsys):
    # It was reported as "unexpected IncomeError: set a salary above zero first".
    assert main(["worker", "add", "lee@example.org", "--name", "Lee Park"]) == 0
    capsys.readouterr()
    assert main(["salary", "pay", "--worker", "lee@example.org"]) == 1
    assert capsys.readouterr().err.strip() == "error: set a salary above zero first"


@pytest.mark.django_db
def test_salary_buffer_fills_and_pays_a_salary_that_was_refused_before(capsys):
    # A new worker's buffer is empty and nothing else ever filled it: the salary was
    # refused for good. Putting $1,500.00 aside pays a $1,200.00 salary, leaving $300.00.
    assert main(["worker", "add", "lee@example.org", "--name", "Lee Park"]) == 0
    from keel.accounts.models import User
    from keel.income import services as income

    lee = User.objects.get(email="lee@example.org")
    settings = income.income_settings(lee)
    settings.salary = 120_000
    settings.save()
    capsys.readouterr()
    assert main(["salary", "buffer", "--worker", "lee@example.org", "--put", "1,500.00"]) == 0
    assert capsys.readouterr().out == (
        "lee@example.org: $1,500.00 put into the buffer\n"
        "lee@example.org: the buffer holds $1,500.00\n"
    )
    assert main(["salary", "pay", "--worker", "lee@example.org"]) == 0
    capsys.readouterr()
    journals = Journal.objects.count()
    assert main(["salary", "buffer", "--worker", "lee@example.org", "--take", "300.01"]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: the buffer holds $300.00: no more than that can come out"
    )
    assert Journal.objects.count() == journals
    assert main(["salary", "buffer", "--worker", "lee@example.org"]) == 0
    assert capsys.readouterr().out == "lee@example.org: the buffer holds $300.00\n"


def test_the_demo_says_where_mail_goes(settings):
    from keel.cli import _mail_destination

    assert _mail_destination() == (
        f"written to files in {settings.EMAIL_FILE_PATH} (password reset links land there)"
    )
    settings.KEEL_EMAIL_HOST = "smtp.example.org"
    settings.EMAIL_PORT = 587
    assert _mail_destination() == "sent through smtp.example.org:587"
