"""`keel bench --load`: a load test of Keel as production serves it, and its table.

One run, in a directory of its own:

1. a fresh database: a SQLite file in the run's directory, or a PostgreSQL database
   `keel_load_<pid>_<random>` created on the server named by the caller,
   `KEEL_BENCH_DATABASE_URL` or postgres://postgres@127.0.0.1:5432/postgres, and dropped
   at the end;
2. `python -m keel.loadtest.world --migrate`: the schema and the world the traffic needs;
3. `keel serve --workers 4` (gunicorn, gthread) and `keel tasks` beside it, with Keel's
   production settings; the per-key API rate (KEEL_API_KEY_RATE) is raised for the run,
   because the simulated platforms and workers send more requests per key than the
   production limit allows and a throttled request would measure the limit, not Keel;
   log-in lock-out stays as in production (the traffic never sends a wrong password);
4. `python -m keel.loadtest.drive`: Locust's users for the run's duration;
5. the server stopped gracefully, then `keel ledger verify --json`.

The run is "ok" when no request failed (a wrong answer counts, not only an error status),
none was answered 5xx or went unanswered, no simulated person raised, the server logged
no error and the ledger verifies. The directory is removed unless the run was not ok (its
logs, world and statistics stay for a look) or `keep` is set.

This module imports neither Django nor Locust: it only starts processes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

BACKENDS = ("postgres", "sqlite")
DEFAULT_USERS = 20
SERVER_WORKERS = 4
SERVER_THREADS = 4
# A sick-leave fund has at most 50 members (Broodfonds' own limit, in Keel's rules).
MAX_MEMBERS = 40
# Far above anything the run sends, so no request is throttled (see the module docstring).
LOAD_API_KEY_RATE = "1000000/m"
# `keel serve` collects the static files before it answers.
SERVER_START_SECONDS = 600.0
WORLD_SECONDS = 3_600.0
INSTALL_HINT = (
    "the load test needs Locust, one of Keel's development dependencies: install them with"
    " `pip install -e '.[dev]'` in a checkout, or Locust alone with"
    " `pip install 'locust>=2.37,<3'`"
)
# Settings of the caller that must not reach the run's processes: another database, the
# test suite's settings, a shared Redis whose queue and cache other servers use, proxies
# that would see the requests to localhost.
_NOT_INHERITED = (
    "KEEL_DATABASE_URL",
    "KEEL_TEST_DATABASE_URL",
    "KEEL_TEST_DATABASE_NAME",
    "KEEL_TEST_SQLITE_NAME",
    "KEEL_REDIS_URL",
    "KEEL_STATIC_ROOT",
    "KEEL_DEBUG",
    "DJANGO_SETTINGS_MODULE",
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
)
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

Progress = Callable[[str], None]


class LoadError(RuntimeError):
    """The load test could not run (as opposed to running and finding problems)."""


def locust_installed() -> bool:
    return importlib.util.find_spec("locust") is not None


def run_load(
    *,
    backend: str,
    seconds: float,
    users: int = DEFAULT_USERS,
    world_workers: int | None = None,
    world_members: int | None = None,
    server_workers: int = SERVER_WORKERS,
    database_url: str | None = None,
    keep: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the load test and return its result (see `format_load_table`)."""
    say = progress or (lambda line: None)
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if seconds <= 0:
        raise ValueError(f"the load must run for some time, not {seconds!r} s")
    if not locust_installed():
        raise LoadError(INSTALL_HINT)
    default_workers, default_members = world_size(users)
    world_workers = world_workers or default_workers
    world_members = world_members or default_members
    run_dir = Path(tempfile.mkdtemp(prefix=f"keel-load-{backend}-"))
    ok = False
    try:
        env = _environment(run_dir)
        with _database(backend, env, database_url, say) as database:
            result = _run(
                run_dir, env, say, seconds, users, world_workers, world_members, server_workers
            )
        result |= {"backend": backend, "database": database}
        ok = bool(result["ok"])
        result["run_dir"] = None if ok and not keep else str(run_dir)
        return result
    finally:
        if ok and not keep:
            shutil.rmtree(run_dir, ignore_errors=True)
        elif not keep:
            say(f"load: the run's logs, world and statistics are kept in {run_dir}")


def world_size(users: int) -> tuple[int, int]:
    """Workers and pool members of the world for `users` simulated people: two workers
    a person, so that sessions of one worker seldom overlap, and a member a person (at
    least eight, so that claims find approvers), within a sick-leave fund's limit."""
    workers = max(10, 2 * users)
    return workers, min(workers, MAX_MEMBERS, max(8, users))


def _environment(run_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    runtime = run_dir / "runtime"
    runtime.mkdir(mode=0o700)
    env.update(
        DJANGO_SETTINGS_MODULE="keel.settings",
        KEEL_DATA_DIR=str(run_dir / "data"),
        KEEL_SECRET_KEY=secrets.token_urlsafe(40),
        KEEL_INSECURE_HTTP="1",
        KEEL_API_KEY_RATE=LOAD_API_KEY_RATE,
        # One line a request would cost the server more than some requests do; errors
        # and warnings are still logged (and counted, below).
        KEEL_LOG_LEVEL="WARNING",
        # gunicorn's control socket, else one path per user for every server on the
        # machine.
        XDG_RUNTIME_DIR=str(runtime),
        PYTHONUNBUFFERED="1",
    )
    return env


@contextmanager
def _database(
    backend: str, env: dict[str, str], database_url: str | None, say: Progress
) -> Iterator[str]:
    """The run's own database, named in `env`; dropped afterwards (PostgreSQL)."""
    if backend == "sqlite":
        yield "sqlite (a file in the run's directory)"
        return
    from keel.bench import DEFAULT_POSTGRES_URL, _pg_admin, _redact, _with_database

    server = database_url or os.environ.get("KEEL_BENCH_DATABASE_URL") or DEFAULT_POSTGRES_URL
    try:
        admin = _pg_admin(_with_database(server, "postgres"))
    except Exception as exc:
        raise LoadError(
            f"no PostgreSQL answers at {_redact(server)} ({exc}); start it, name another server"
            " with KEEL_BENCH_DATABASE_URL, or run with --backend sqlite"
        ) from exc
    name = f"keel_load_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        env["KEEL_DATABASE_URL"] = _with_database(server, name)
        say(f"load: PostgreSQL database {name} on {_redact(server)}")
        yield f"postgres ({_redact(_with_database(server, name))})"
    finally:
        with suppress(Exception):
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _run(
    run_dir: Path,
    env: dict[str, str],
    say: Progress,
    seconds: float,
    users: int,
    world_workers: int,
    world_members: int,
    server_workers: int,
) -> dict[str, Any]:
    world = run_dir / "world.json"
    say(f"load: building the world ({world_workers} workers, {world_members} pool members)")
    _child(
        [
            *("-m", "keel.loadtest.world", "--migrate"),
            *("--workers", str(world_workers), "--members", str(world_members)),
            *("--out", str(world)),
        ],
        env,
        run_dir / "world.log",
        say,
        WORLD_SECONDS,
    )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    serve_command = [
        *("-m", "keel", "serve", "--host", "127.0.0.1", "--port", str(port)),
        *("--workers", str(server_workers), "--threads", str(SERVER_THREADS)),
        *("--no-tasks", "--insecure-http"),
    ]
    server_log, tasks_log = run_dir / "server.log", run_dir / "tasks.log"
    say(f"load: starting keel serve --workers {server_workers} and keel tasks")
    server = _start(serve_command, env, server_log)
    tasks = _start(["-m", "keel", "tasks"], env, tasks_log)
    stats = run_dir / "stats.json"
    try:
        _wait_until_up(url, server, server_log)
        say(f"load: {users} users for {seconds:,.0f} s against {url}")
        _child(
            [
                *("-m", "keel.loadtest.drive", "--host", url, "--world", str(world)),
                *("--users", str(users), "--seconds", str(seconds), "--out", str(stats)),
            ],
            env,
            run_dir / "drive.log",
            say,
            seconds + 900,
        )
    finally:
        _stop(server, (signal.SIGTERM,), 90)
        _stop(tasks, (signal.SIGINT, signal.SIGTERM), 30)
    load: dict[str, Any] = json.loads(stats.read_text(encoding="utf-8"))
    say("load: keel ledger verify")
    verified = subprocess.run(
        [sys.executable, "-m", "keel", "ledger", "verify", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=WORLD_SECONDS,
        check=False,
        cwd=run_dir,
    )
    try:
        ledger: dict[str, Any] = json.loads(verified.stdout)
    except json.JSONDecodeError:
        raise LoadError(f"keel ledger verify did not answer:\n{verified.stderr[-2000:]}") from None
    logs = [log.read_text(errors="replace") for log in (server_log, tasks_log)]
    errors = [problem for text in logs for problem in log_problems(text)]
    # Not problems in themselves, but what a stall of every write was (on SQLite).
    slow_locks = [line for text in logs for line in slow_lock_lines(text)]
    total = load["total"]
    ok = (
        total["requests"] > 0
        and total["failures"] == 0
        and total["status_5xx"] == 0
        and total["no_answer"] == 0
        and not load["exceptions"]
        and not errors
        and ledger["ok"]
        and verified.returncode == 0
    )
    return {
        "ok": ok,
        "seconds": seconds,
        "users": users,
        "server": {
            # The port is the run's own; the rest is the command to repeat.
            "command": "keel serve " + " ".join(serve_command[7:]),
            "workers": server_workers,
            "threads": SERVER_THREADS,
            "tasks": "keel tasks",
        },
        "settings": {"KEEL_API_KEY_RATE": LOAD_API_KEY_RATE, "KEEL_LOG_LEVEL": "WARNING"},
        "world": {"workers": world_workers, "members": world_members},
        "load": load,
        "ledger": ledger,
        "server_errors": len(errors),
        "server_error_lines": errors[:20],
        "slow_write_locks": slow_locks[:20],
    }


_FRAME = re.compile(r'\s+File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<function>\S+)')
# keel.sqlite_backend's warnings: a write transaction that held or waited for the lock long.
_SLOW_LOCK = " WARNING keel.sqlite_backend"
# Keel's own code: this package's directory, with a separator.
_PACKAGE = os.path.join(os.path.realpath(Path(__file__).parents[1]), "")
_CHAINED = ("During handling of the above exception", "The above exception was the direct cause")


def log_problems(text: str) -> list[str]:
    """The problems a server's or task runner's log shows, one line each: every ERROR or
    CRITICAL record, and every traceback with no such record before it. A record's
    traceback (chained ones included) adds the exception it ended in and the innermost
    frame in Keel's own code, so that the table says what went wrong even where the run's
    directory is gone (CI)."""
    lines = text.splitlines()
    problems: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if " ERROR " in line or " CRITICAL " in line:
            record, i = line, i + 1
        elif line.startswith("Traceback"):
            record = "a traceback"
        else:
            i += 1
            continue
        exception, frame, i = _traceback(lines, i)
        problems.append(" | ".join(part for part in (record, exception, frame) if part))
    return problems


def slow_lock_lines(text: str) -> list[str]:
    """keel.sqlite_backend's warnings in a log: transactions that held or waited for
    SQLite's write lock long. Not problems in themselves, but where a stall of every write
    came from."""
    return [line for line in text.splitlines() if _SLOW_LOCK in line]


def _traceback(lines: list[str], i: int) -> tuple[str, str, int]:
    """The traceback starting at lines[i], if one does: the exception it ends in, the
    innermost frame in Keel's code ("" for either when there is none) and the index of
    the line after it."""
    exception = frame = ""
    while i < len(lines) and lines[i].startswith("Traceback"):
        i += 1
        while i < len(lines) and lines[i][:1] in (" ", "\t"):
            found = _FRAME.match(lines[i])
            if found:
                path = os.path.realpath(found["path"])
                if path.startswith(_PACKAGE):
                    where = "keel/" + path.removeprefix(_PACKAGE)
                    frame = f"at {where}:{found['line']} in {found['function']}"
            i += 1
        if i < len(lines):
            exception, i = lines[i], i + 1
        following = i
        while following < len(lines) and not lines[following].strip():
            following += 1
        if following < len(lines) and lines[following].startswith(_CHAINED):
            i = following + 1
            while i < len(lines) and not lines[i].strip():
                i += 1
    return exception, frame, i


# ---------------------------------------------------------------------------- processes


def _command(args: list[str]) -> list[str]:
    return [sys.executable, *args]


def _child(args: list[str], env: dict[str, str], log: Path, say: Progress, timeout: float) -> None:
    """Run a child to the end, relaying its progress lines; its output goes to `log`."""
    tail: deque[str] = deque(maxlen=40)
    deadline = time.monotonic() + timeout
    with (
        log.open("w", encoding="utf-8") as out,
        subprocess.Popen(  # noqa: S603 - our own interpreter and modules
            _command(args),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=log.parent,
            start_new_session=True,
        ) as child,
    ):
        assert child.stdout is not None
        for line in child.stdout:
            out.write(line)
            line = line.rstrip("\n")
            if line.startswith("progress: "):
                say(line.removeprefix("progress: "))
            else:
                tail.append(line)
            if time.monotonic() > deadline:
                _stop(child, (signal.SIGTERM,), 10)
                raise LoadError(f"{' '.join(args[:2])} took longer than {timeout:,.0f} s")
        code = child.wait()
    if code != 0:
        raise LoadError(f"{' '.join(args[:2])} failed (exit {code}):\n" + "\n".join(tail))


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and command
            _command(args),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=log.parent,
            start_new_session=True,
        )


def _stop(process: subprocess.Popen[Any], signals: tuple[int, ...], grace: float) -> None:
    """Ask a process to stop with each of `signals` in turn, then kill its whole group."""
    for sig in signals:
        if process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise LoadError(f"keel serve exited ({server.returncode}):\n{_tail(log)}")
        try:
            with _OPENER.open(f"{url}/healthz", timeout=5) as answer:
                if answer.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.5)
    raise LoadError(f"keel serve did not answer /healthz in {SERVER_START_SECONDS:,.0f} s")


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


# ---------------------------------------------------------------------------- table

_COLUMNS = ("operation", "requests", "failures", "5xx", "req/s", "p50 ms", "p95 ms", "p99 ms")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _row(op: dict[str, Any]) -> tuple[str, ...]:
    return (
        op["operation"],
        f"{op['requests']:,}",
        f"{op['failures']:,}",
        f"{op['status_5xx']:,}",
        f"{op['rps']:,.2f}",
        _ms(op["p50"]),
        _ms(op["p95"]),
        _ms(op["p99"]),
    )


def format_load_table(result: dict[str, Any]) -> str:
    """Per operation: requests, failures, 5xx answers, throughput over the run and the
    response-time percentiles; the total; then what ran and what the ledger said."""
    load = result["load"]
    body = [_row(op) for op in load["operations"]]
    rows = [_COLUMNS, *body, _row(load["total"])]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]

    def line(row: tuple[str, ...]) -> str:
        cells = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * width for width in widths)
    out = [line(_COLUMNS), rule, *(line(row) for row in body), rule, line(rows[-1]), ""]
    kinds = ", ".join(f"{n} {name}" for name, n in load["user_classes"].items())
    server = result["server"]
    out.append(
        f"{result['database']}; {server['command']} ({server['workers']} workers x"
        f" {server['threads']} threads) and {server['tasks']}"
    )
    out.append(
        f"{load['users']} users ({kinds}) for {load['seconds']:,.0f} s;"
        f" world of {result['world']['workers']} workers, {result['world']['members']}"
        f" pool members; KEEL_API_KEY_RATE={result['settings']['KEEL_API_KEY_RATE']}"
    )
    events = load["events_created"]
    out.append(
        f"earnings events created: {events:,} ({events / max(load['seconds'], 1):,.1f} a second)"
    )
    statuses = load["total"]["statuses"]
    out.append("answers by status: " + ", ".join(f"{c}: {n:,}" for c, n in statuses.items()))
    ledger = result["ledger"]
    out.append(
        f"keel ledger verify: {'ok' if ledger['ok'] else 'FAILED'} ({ledger['journals']:,}"
        f" journals, {ledger['legs']:,} legs, {ledger['accounts']:,} accounts)"
    )
    out.extend(f"  problem: {p}" for p in ledger["problems"][:10])
    out.append(
        f"failures: {load['total']['failures']:,}; 5xx: {load['total']['status_5xx']:,};"
        f" unanswered: {load['total']['no_answer']:,}; exceptions in the traffic:"
        f" {len(load['exceptions'])}; errors in the server's log: {result['server_errors']}"
    )
    out.extend(f"  failure: {e['operation']}: {e['error'][:200]}" for e in load["errors"][:10])
    out.extend(f"  exception: {e['message'][:200]}" for e in load["exceptions"][:10])
    out.extend(f"  server: {line_[:400]}" for line_ in result["server_error_lines"][:10])
    out.extend(f"  slow lock: {line_[:400]}" for line_ in result["slow_write_locks"][:10])
    out.append("result: " + ("ok" if result["ok"] else "PROBLEMS FOUND"))
    if result.get("run_dir"):
        out.append(f"run directory: {result['run_dir']}")
    return "\n".join(out) + "\n"
