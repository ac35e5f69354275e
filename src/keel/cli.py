"""The `keel` command.

Every command has --help; a refused operation prints one line starting with "error:" and
exits non-zero. Django's own management commands (createsuperuser, shell, check, ...) are
available too: `keel createsuperuser`.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

_DJANGO_READY = False


def setup_django(**environ: str) -> None:
    """Load settings once; options that change settings must be set before this."""
    global _DJANGO_READY
    for key, value in environ.items():
        os.environ.setdefault(key, value)
    if _DJANGO_READY:
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keel.settings")
    import django

    django.setup()
    _DJANGO_READY = True


def _django_commands() -> dict[str, str]:
    setup_django()
    from django.core.management import get_commands

    return get_commands()


class KeelGroup(click.Group):
    """Keel's commands first; any Django management command after them."""

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        try:
            known = name in _django_commands()
        except Exception:
            return None
        if not known:
            return None

        @click.command(
            name,
            context_settings={
                "ignore_unknown_options": True,
                "allow_extra_args": True,
                "help_option_names": [],
            },
            add_help_option=False,
        )
        @click.pass_context
        def django_command(inner: click.Context) -> None:
            from django.core.management import execute_from_command_line

            execute_from_command_line(["keel", name, *inner.args])

        return django_command


@click.group(cls=KeelGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="keel")
def main_group() -> None:
    """Keel: a safety net for portfolio careers.

    Income stability, portable benefits and peer pools on a double-entry ledger. Settings
    come from the environment: KEEL_DATA_DIR, KEEL_DATABASE_URL, KEEL_SECRET_KEY,
    KEEL_DEBUG, KEEL_ALLOWED_HOSTS (see docs/architecture.md).
    """


# ------------------------------------------------------------------------------ serving


def _collect_static() -> None:
    """collectstatic, unless nothing it would collect changed since it last ran here.

    Servers on one data directory share STATIC_ROOT, and collecting deletes and rewrites
    the hashed files: a server whose worker lists them meanwhile fails to boot. So servers
    take turns (an exclusive lock on the directory; gunicorn needs POSIX, so fcntl is
    there), and a server started beside a running one finds the files collected already.
    """
    import fcntl
    import hashlib

    from django.conf import settings
    from django.contrib.staticfiles.finders import get_finders
    from django.core.management import call_command

    root = Path(settings.STATIC_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    sources = sorted(
        (storage.path(path), path)
        for finder in get_finders()
        for path, storage in finder.list(["CVS", ".*", "*~"])
    )
    digest = hashlib.sha256(f"{root}\0{settings.STORAGES['staticfiles']}\n".encode())
    for source, path in sources:
        found = os.stat(source)
        digest.update(f"{source}\0{path}\0{found.st_size}\0{found.st_mtime_ns}\n".encode())
    # Inside the directory, so a wiped STATIC_ROOT is collected again.
    stamp = root / ".keel-collected"
    turn = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(turn, fcntl.LOCK_EX)
        if stamp.exists() and stamp.read_text() == digest.hexdigest():
            return
        call_command("collectstatic", interactive=False, verbosity=0)
        stamp.write_text(digest.hexdigest())
    finally:
        os.close(turn)


def _serve(host: str, port: int, workers: int, threads: int, *, with_tasks: bool = True) -> None:
    from django.conf import settings
    from gunicorn.app.base import BaseApplication

    _collect_static()

    class KeelServer(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options = {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread",
                "accesslog": "-",
                "errorlog": "-",
                "timeout": 120,
                "graceful_timeout": 20,
                # Longer than a client or proxy keeps an idle connection open (nginx's
                # upstream keepalive_timeout and cloud balancers' idle timeouts are 60 s):
                # gunicorn's 2 s default closes connections just as requests arrive on them,
                # which the client sees as a reset with no answer (a proxy answers 502) and
                # cannot tell whether the request was read. The load test found it. gthread
                # keeps idle connections in its poller, not in a thread.
                "keepalive": KEEP_ALIVE_SECONDS,
                "forwarded_allow_ips": os.environ.get("KEEL_FORWARDED_ALLOW_IPS", "127.0.0.1"),
                # gunicorn's own lines in Keel's log format (JSON in production).
                "logconfig_dict": settings.LOGGING,
                # Keel does not use gunicorn's control socket, whose default path is the
                # same for every server a user runs: a second `keel serve` would take it
                # over and stopping either one would delete it.
                "control_socket_disable": True,
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from keel.wsgi import application

            return application

    # gunicorn forks its workers from this process. A database connection still open here
    # (the migration check, the demo's data) would be inherited by every worker: SQLite
    # forbids using a connection across fork(), since its locks belong to one process and
    # a child's new connections share the inherited lock bookkeeping; a PostgreSQL socket
    # shared by several processes interleaves their messages.
    from django.db import connections

    connections.close_all()
    # Background jobs (import previews and applies, the daily salaries) need a task runner;
    # one runs beside the server unless the operator runs `keel tasks` as its own service.
    runner = start_task_runner() if with_tasks else None
    try:
        KeelServer().run()
    finally:
        if runner is not None:
            stop_task_runner(runner)


KEEP_ALIVE_SECONDS = 75

# Ctrl+C first asks the task runner to finish the job in hand; an import still running
# after this long is interrupted (its transaction rolls back: nothing half-booked stays).
TASK_RUNNER_GRACE_SECONDS = 10.0


def start_task_runner(env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start `keel tasks` as a child process that stops when this process stops.

    The child gets a session of its own so the terminal's Ctrl+C reaches only the server,
    which then stops the child once, gracefully (a second SIGINT would cut its jobs short);
    and it watches this process, so it does not outlive a server that was killed.
    """
    command = [sys.executable, "-m", "keel", "tasks", "--stop-with-parent", str(os.getpid())]
    return subprocess.Popen(command, env=env, start_new_session=True)  # noqa: S603


def stop_task_runner(
    runner: subprocess.Popen[bytes], grace: float = TASK_RUNNER_GRACE_SECONDS
) -> int:
    """Stop a task runner started by `start_task_runner`; returns its exit code."""
    if runner.poll() is not None:
        return runner.returncode
    click.echo("Stopping the task runner ...", err=True)
    # huey: SIGINT finishes the tasks in hand, SIGTERM stops at once.
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 5.0)):
        runner.send_signal(sig)
        try:
            return runner.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    runner.kill()
    return runner.wait()


def _default_workers() -> int:
    return max(2, min(4, (os.cpu_count() or 1) * 2))


@main_group.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=None, type=int, help="Worker processes (default 2-4).")
@click.option("--threads", default=4, show_default=True, type=int, help="Threads per worker.")
@click.option(
    "--insecure-http",
    is_flag=True,
    help="Serve plain HTTP without a TLS proxy (cookies not marked secure). Local use only.",
)
@click.option(
    "--no-tasks",
    is_flag=True,
    help="Do not start a task runner beside the server (run `keel tasks` separately).",
)
def serve(
    host: str, port: int, workers: int | None, threads: int, insecure_http: bool, no_tasks: bool
) -> None:
    """Serve Keel with a production WSGI server (gunicorn) and a task runner beside it."""
    if insecure_http:
        os.environ["KEEL_INSECURE_HTTP"] = "1"
    setup_django()
    _require_migrated()
    _serve(host, port, workers or _default_workers(), threads, with_tasks=not no_tasks)


@main_group.command()
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(min=1),
    help="Jobs run at once (threads).",
)
@click.option("--no-periodic", is_flag=True, help="Run queued jobs only, not the scheduled ones.")
@click.option("--stop-with-parent", type=int, hidden=True, help="Exit when this process exits.")
def tasks(workers: int, no_periodic: bool, stop_with_parent: int | None) -> None:
    """Run background and scheduled jobs (imports, daily salaries, expiring reservations).

    `keel serve` starts one beside the server; in production run it as its own service.
    SIGINT (Ctrl+C) finishes the jobs in hand first, SIGTERM stops at once.
    """
    setup_django()
    _require_migrated()
    from django.core.management import call_command

    if stop_with_parent is not None:
        _exit_with(stop_with_parent)
    call_command(
        "run_huey",
        workers=workers,
        worker_type="thread",
        periodic=not no_periodic,
        # An idle runner polls the SQLite queue at least every second (huey's default backs
        # off to ten), so an upload's check starts while its page is still open.
        max_delay=1.0,
        verbosity=0,
    )


_SIGINT_UNHANDLED = (signal.SIG_IGN, signal.SIG_DFL, signal.default_int_handler, None)


def _exit_with(parent: int) -> None:
    """Interrupt this process (as Ctrl+C would) once `parent` is gone."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        # Sent before huey has set its own handler, SIGINT would be lost where it is
        # ignored (inherited so, as by a server a script started with `keel serve &`) and
        # elsewhere would cut the runner's start-up short half-way: wait for the handler.
        while signal.getsignal(signal.SIGINT) in _SIGINT_UNHANDLED:
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, name="keel-parent-watch", daemon=True).start()


@main_group.command()
@click.option("--no-serve", is_flag=True, help="Load the demo data and stop.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--seed", default=2026, show_default=True, type=int, help="Demo world seed.")
def demo(no_serve: bool, host: str, port: int, seed: int) -> None:
    """Create the database, load the demo world (idempotently) and serve it."""
    # The demo is served over plain HTTP on this machine.
    setup_django(KEEL_INSECURE_HTTP="1")
    from django.core.management import call_command

    from keel.demo import DEMO_PASSWORD, load_demo

    click.echo("Preparing the database ...")
    call_command("migrate", interactive=False, verbosity=0)
    summary = load_demo(seed=seed, progress=lambda line: click.echo(f"  {line}"))
    click.echo(summary.describe())
    url = f"http://{host}:{port}/"
    click.echo("")
    click.echo(f"  Demo login:      {summary.worker_email} / {DEMO_PASSWORD}")
    click.echo(f"  Operator login:  {summary.operator_email} / {DEMO_PASSWORD}  ({url}admin/)")
    click.echo(f"  Email:           {_mail_destination()}")
    if no_serve:
        return
    click.echo(f"  Serving Keel on  {url}  (Ctrl+C stops)")
    click.echo("")
    _serve(host, port, _default_workers(), 4)


def _mail_destination() -> str:
    from django.conf import settings

    if settings.KEEL_EMAIL_HOST:
        return f"sent through {settings.KEEL_EMAIL_HOST}:{settings.EMAIL_PORT}"
    return f"written to files in {settings.EMAIL_FILE_PATH} (password reset links land there)"


@main_group.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False)


def _require_migrated() -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise click.ClickException("the database needs migrating: run `keel migrate` first")


# ------------------------------------------------------------------------------ ledger


@main_group.group()
def ledger() -> None:
    """Inspect and maintain the ledger."""


@ledger.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def ledger_verify(as_json: bool) -> None:
    """Recompute every balance from the legs and prove the books balance."""
    setup_django()
    from keel.ledger.services import verify

    report = verify()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": report.ok,
                    "accounts": report.accounts,
                    "journals": report.journals,
                    "legs": report.legs,
                    "totals_by_currency": report.totals_by_currency,
                    "problems": report.problems,
                },
                indent=2,
            )
        )
    else:
        click.echo(
            f"{report.accounts} accounts, {report.journals} journals, {report.legs} legs checked"
        )
        for currency, total in report.totals_by_currency.items():
            click.echo(f"  {currency}: posted legs sum to {total}")
        for problem in report.problems:
            click.echo(f"PROBLEM: {problem}", err=True)
    if not report.ok:
        raise click.ClickException(f"the ledger does not verify: {len(report.problems)} problem(s)")
    if not as_json:
        click.echo("ok: every journal balances and every balance matches its legs")


@ledger.command("expire")
def ledger_expire() -> None:
    """Expire pending journals whose time is up."""
    setup_django()
    from keel.ledger.services import expire_pending

    click.echo(f"{expire_pending()} pending journal(s) expired")


@main_group.command("export")
@click.option(
    "--owner",
    required=True,
    help="worker:ID, pool:ID, platform:ID, keel, or a worker's email address.",
)
@click.option("--format", "fmt", type=click.Choice(["beancount", "csv", "json"]), required=True)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="File to write ('-' for standard output).",
)
def export(owner: str, fmt: str, output: Path) -> None:
    """Export an owner's books as Beancount, CSV or JSON."""
    setup_django()
    from keel.ledger.export import Owner, export_owner, parse_owner

    if "@" in owner:
        from keel.accounts.models import User

        user = User.objects.filter(email__iexact=owner).first()
        if user is None:
            raise click.ClickException(f"no worker with the email {owner}")
        who = Owner("worker", user.pk)
    else:
        try:
            who = parse_owner(owner)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    if str(output) == "-":
        summary = export_owner(who, fmt, sys.stdout)  # type: ignore[arg-type]
    else:
        with output.open("w", encoding="utf-8", newline="") as out:
            summary = export_owner(who, fmt, out)  # type: ignore[arg-type]
        click.echo(f"wrote {output}: {summary}", err=True)


# ------------------------------------------------------------------------------ people


@main_group.group()
def worker() -> None:
    """Manage workers."""


@worker.command("add")
@click.argument("email")
@click.option("--name", required=True, help="The worker's name.")
@click.option("--currency", default="USD", show_default=True, help="Home currency (ISO 4217).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def worker_add(email: str, name: str, currency: str, password_stdin: bool) -> None:
    """Create a worker with their starting accounts; prints a one-time password."""
    setup_django()
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    from keel.accounts.services import AccountSetupError, create_worker

    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(12)
    try:
        validate_password(password)
        user = create_worker(email, name=name, password=password, currency=currency)
    except AccountSetupError as exc:
        raise click.ClickException(f"{exc.field}: {exc}") from None
    except ValidationError as exc:
        raise click.ClickException("; ".join(exc.messages)) from None
    click.echo(f"created worker {user.pk} {user.email} ({user.home_currency})")
    if not password_stdin:
        click.echo(f"password (shown once): {password}")


@worker.command("export")
@click.argument("email")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    required=True,
    help="The zip file to write.",
)
def worker_export(email: str, output: Path) -> None:
    """Write everything Keel holds about a worker to one zip archive (JSON, CSV, files)."""
    setup_django()
    from keel.accounts.data_export import write_archive
    from keel.accounts.models import User

    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        raise click.ClickException(f"no worker with the email {email}")
    with output.open("wb") as out:
        summary = write_archive(user, out)
    click.echo(
        f"wrote {output}: {summary.rows} rows in {len(summary.counts)} collections,"
        f" {summary.files} uploaded file(s)"
    )
    for name in summary.files_missing:
        click.echo(f"warning: {name} is missing from storage and was left out", err=True)


# ------------------------------------------------------------------------------ income

# Kept here rather than imported so `keel --help` does not load Django.
IMPORT_FORMATS = [
    "upwork",
    "upwork-legacy",
    "upwork-earnings",
    "stripe",
    "stripe-itemized",
    "paypal",
    "etsy",
    "csv",
]


@main_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    required=True,
    type=click.Choice(IMPORT_FORMATS),
    help="The file's format.",
)
@click.option("--worker", "email", required=True, help="The worker's email address.")
@click.option("--source", "source_name", help="Source name (default: the platform's name).")
@click.option(
    "--stream",
    type=click.Choice(["recurring", "project", "micro"]),
    help="Stream kind for a new source.",
)
@click.option("--profile", "profile_name", help="Saved import profile (format csv).")
@click.option(
    "--date-order",
    type=click.Choice(["MDY", "DMY", "YMD"]),
    help="How to read ambiguous dates such as 03/04/2026.",
)
@click.option("--dry-run", is_flag=True, help="Check and summarise; book nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def import_command(
    file: Path,
    fmt: str,
    email: str,
    source_name: str | None,
    stream: str | None,
    profile_name: str | None,
    date_order: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Import a platform export (all rows or none; re-importing adds nothing)."""
    setup_django()
    from keel.accounts.models import User
    from keel.income import services as income
    from keel.income.importers import ImportFormatError
    from keel.income.models import ImportProfileRecord

    worker = User.objects.filter(email__iexact=email).first()
    if worker is None:
        raise click.ClickException(f"no worker with the email {email}")
    if fmt == "csv" and not source_name:
        raise click.ClickException("--source is required for the csv format")
    profile = None
    if fmt == "csv":
        if not profile_name:
            raise click.ClickException("--profile is required for the csv format")
        profile = ImportProfileRecord.objects.filter(worker=worker, name=profile_name).first()
        if profile is None:
            raise click.ClickException(f"{email} has no import profile named {profile_name!r}")
    source = income.source_for_import(worker, fmt, name=source_name, stream=stream)
    show = sys.stderr.isatty() and not as_json

    def progress(stage: str, done: int, total: int) -> None:
        if show:
            text = {
                "parse": f"{done:,} rows read",
                "check": f"checking {total:,} rows",
            }.get(stage, f"{done:,}/{total:,} booked")
            click.echo(f"\r{text:<40}", nl=False, err=True)

    try:
        with file.open("rb") as handle:
            summary = income.import_file(
                worker,
                handle,
                fmt=fmt,
                source=source,
                dry_run=dry_run,
                profile=profile,
                date_order=date_order,
                progress=progress,
            )
    except ImportFormatError as exc:
        raise click.ClickException(income.format_error_message(exc, fmt)) from None
    except income.IncomeError as exc:
        raise click.ClickException(str(exc)) from None
    if show:
        click.echo("", err=True)
    report = summary.as_dict()
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(
            f"{report['rows_read']} rows read, {report['imported']} to import, "
            f"{report['duplicates']} duplicates, {len(report['skipped'])} skipped, "
            f"{len(report['rejected'])} rejected"
        )
        for currency, totals in report["totals"].items():
            parts = ", ".join(f"{k} {v}" for k, v in totals.items())
            click.echo(f"  {currency} (minor units): {parts}")
        for rejected in report["rejected"][:50]:
            column = f", column {rejected['column']}" if rejected["column"] else ""
            click.echo(f"  line {rejected['line']}{column}: {rejected['reason']}", err=True)
    if report["rejected"]:
        raise click.ClickException(
            f"{len(report['rejected'])} row(s) rejected; nothing was imported"
        )
    if not as_json:
        if dry_run:
            click.echo("dry run: nothing booked")
        elif report["imported"]:
            click.echo(f"booked {report['imported']} item(s)")
        else:
            # A re-import of the same file: saying "booked" here read as if it had been
            # booked a second time.
            click.echo("nothing new to book: every row was imported before")


@main_group.group()
def rates() -> None:
    """Exchange rates used to convert income into a worker's home currency."""


@rates.command("set")
@click.argument("base")
@click.argument("quote")
@click.argument("on", metavar="DATE")
@click.argument("rate")
@click.option("--worker", "email", help="Only for this worker (default: shared by everyone).")
def rates_set(base: str, quote: str, on: str, rate: str, email: str | None) -> None:
    """Set 1 BASE = RATE QUOTE on DATE (YYYY-MM-DD)."""
    setup_django()
    from datetime import date

    from keel.income import services as income

    try:
        day = date.fromisoformat(on)
    except ValueError:
        raise click.ClickException(f"date: {on!r} is not YYYY-MM-DD") from None
    worker = _worker_or_none(email)
    try:
        found = income.set_rate(worker, base, quote, day, rate)
    except income.IncomeError as exc:
        raise click.ClickException(f"{exc.field}: {exc}") from None
    click.echo(str(found))


@rates.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--worker", "email", help="Only for this worker (default: shared by everyone).")
def rates_import(file: Path, email: str | None) -> None:
    """Load rates from a CSV file with columns date,base,quote,rate."""
    setup_django()
    from keel.income import services as income

    worker = _worker_or_none(email)
    try:
        count = income.import_rates(worker, file.read_text(encoding="utf-8"))
    except income.IncomeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{count} rate(s) loaded")


def _worker_or_none(email: str | None) -> Any:
    if email is None:
        return None
    from keel.accounts.models import User

    worker = User.objects.filter(email__iexact=email).first()
    if worker is None:
        raise click.ClickException(f"no worker with the email {email}")
    return worker


@main_group.command("import-profile")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--worker", "email", required=True, help="The worker's email address.")
def import_profile(file: Path, email: str) -> None:
    """Save a CSV import profile (JSON; see docs/importers.md) for `--format csv`."""
    setup_django()
    from keel.income import services as income

    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{file} is not JSON: {exc}") from None
    try:
        record = income.save_import_profile(_worker_or_none(email), config)
    except income.IncomeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"saved import profile {record.name!r} for {email}")


@main_group.group()
def salary() -> None:
    """The steady salary paid from each worker's buffer."""


@salary.command("pay")
@click.option("--date", "on", help="Pay day (YYYY-MM-DD); default today.")
@click.option("--worker", "email", help="Pay one worker now, whatever their pay day.")
def salary_pay(on: str | None, email: str | None) -> None:
    """Pay salaries due on a day from the buffers (safe to run twice)."""
    setup_django()
    from datetime import date

    from keel.income import services as income

    try:
        day = date.fromisoformat(on) if on else date.today()  # noqa: DTZ011
    except ValueError:
        raise click.ClickException(f"date: {on!r} is not YYYY-MM-DD") from None
    if email:
        try:
            result = income.pay_salary(_worker_or_none(email), day)
        except income.IncomeError as exc:  # "set a salary above zero first"
            raise click.ClickException(str(exc)) from None
        click.echo(f"{email}: {'paid' if result.created else 'already paid'} (journal {result.id})")
        return
    outcomes = income.pay_salaries_due(day)
    for worker, outcome in outcomes:
        click.echo(f"{worker.email}: {outcome}")
    click.echo(f"{len(outcomes)} salary(ies) due on {day.isoformat()}")


@salary.command("buffer")
@click.option("--worker", "email", required=True, help="The worker's email address.")
@click.option("--put", "put", metavar="AMOUNT", help="Put this much of their cash into the buffer.")
@click.option("--take", "take", metavar="AMOUNT", help="Take this much out of the buffer.")
def salary_buffer(email: str, put: str | None, take: str | None) -> None:
    """Move a worker's money between their cash and their salary buffer (amounts in their
    home currency, e.g. 1250.00); with neither option, show what the buffer holds."""
    setup_django()
    import uuid

    from django.utils import timezone

    from keel.income import services as income
    from keel.ledger.services import balance
    from keel.money import MoneyError, format_amount, parse_amount

    worker = _worker_or_none(email)
    currency = worker.home_currency
    if put is not None and take is not None:
        raise click.ClickException("give --put or --take, not both")
    text = put if put is not None else take
    if text is not None:
        try:
            amount = parse_amount(text, currency)
        except MoneyError as exc:
            raise click.ClickException(f"amount: {exc}") from None
        try:
            income.move_buffer(
                worker,
                amount,
                into_buffer=put is not None,
                on=timezone.localdate(),
                # One run is one move: a run repeated on purpose moves the money again.
                idempotency_key=f"cli:{uuid.uuid4().hex}",
            )
        except income.IncomeError as exc:
            raise click.ClickException(str(exc)) from None
        moved = format_amount(amount, currency, symbol=True)
        click.echo(
            f"{email}: {moved} {'put into' if put is not None else 'taken out of'} the buffer"
        )
    held = balance(f"worker:{worker.pk}:buffer").posted
    click.echo(f"{email}: the buffer holds {format_amount(held, currency, symbol=True)}")


@main_group.command("report")
@click.option("--worker", "email", required=True, help="The worker's email address.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def report_command(email: str, as_json: bool) -> None:
    """Income stability, 90-day forecast, salary, buffer and tax for a worker."""
    setup_django()
    from keel.income.reports import income_report
    from keel.money import format_amount

    worker = _worker_or_none(email)
    data = income_report(worker).as_dict()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    ccy = data["currency"]

    def money(minor: int) -> str:
        return f"{format_amount(minor, ccy)} {ccy}"

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 100:.1f}%"

    f = data["forecast"]
    lines = [
        f"Income report for {worker.email} as of {data['as_of']} (window {data['window'][0]}"
        f" to {data['window'][1]})",
        f"  income over the window      {money(data['total_income'])}",
        f"  average / median month      {money(data['average_month'])} /"
        f" {money(data['median_month'])}",
        f"  coefficient of variation    {pct(data['coefficient_of_variation'])}",
        f"  spikes and dips             {len(data['spikes_and_dips'])} month(s)",
        f"  recurring baseline          {money(data['recurring_baseline_monthly'])} a month,"
        f" covers {pct(data['baseline_coverage'])} of essentials",
        "  runway                      "
        + (
            "n/a (essential expenses not set)"
            if data["runway_months"] is None
            else f"{round(data['runway_months'], 1)} months"
        ),
        f"  trend                       {data['trend']['direction']}",
        f"  next 90 days (p10/p50/p90)  {money(f['income_p10'])} / {money(f['income_p50'])} /"
        f" {money(f['income_p90'])}",
        f"  lowest expected balance     {money(f['lowest_balance'])} on {f['lowest_balance_on']}",
        "  shortfall probability       " + ", ".join(pct(p) for p in f["shortfall_probabilities"]),
        f"  recommended salary          {money(data['salary']['recommended'])} a month",
        f"  buffer                      {money(data['buffer']['balance'])} of"
        f" {money(data['buffer']['target'])} target",
        f"  tax set-aside               {pct(data['tax']['rate_bps'] / 10_000)}"
        f" ({'on' if data['tax']['enabled'] else 'off'}), next due {data['tax']['next_due']}",
    ]
    if data["largest_source"]:
        src = data["largest_source"]
        lines.insert(
            5,
            f"  largest source              {src['source']} ({pct(src['share'])});"
            f" effective sources {src['effective_sources']:.1f}",
        )
    click.echo("\n".join(lines))


# ------------------------------------------------------------------------------ operations


@main_group.command()
@click.option("--json", "as_json", is_flag=True, help="Print figures as JSON.")
@click.option("--quick", is_flag=True, help="Smaller sizes, for CI.")
@click.option(
    "--load",
    is_flag=True,
    help="Run the load test instead: mixed traffic from Locust against `keel serve`"
    " (needs the dev extras).",
)
@click.option(
    "--minutes",
    type=click.FloatRange(min=0, min_open=True),
    default=1.5,
    show_default=True,
    help="With --load: how long the traffic runs.",
)
@click.option(
    "--users",
    type=click.IntRange(min=3),
    default=20,
    show_default=True,
    help="With --load: simulated platforms, workers and pool members.",
)
@click.option(
    "--backend",
    type=click.Choice(["postgres", "sqlite"]),
    default="postgres",
    show_default=True,
    help="With --load: the database (PostgreSQL from KEEL_BENCH_DATABASE_URL).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --load: also write the result as JSON to this file.",
)
def bench(
    as_json: bool,
    quick: bool,
    load: bool,
    minutes: float,
    users: int,
    backend: str,
    out: Path | None,
) -> None:
    """Measure throughput and latency beside raw baselines from the same run.

    With --load, run the load test instead and print per operation its requests,
    failures, 5xx answers, throughput and p50/p95/p99 latency, then verify the ledger;
    exits non-zero when anything failed (see docs/operations.md, "Load testing").
    """
    progress: Callable[[str], None] = lambda line: click.echo(line, err=True)  # noqa: E731
    if load:
        _bench_load(as_json, minutes, users, backend, out, progress)
        return
    from keel.bench import format_table, run_bench

    result = run_bench(quick=quick, progress=progress)
    click.echo(json.dumps(result, indent=2) if as_json else format_table(result))


def _bench_load(
    as_json: bool,
    minutes: float,
    users: int,
    backend: str,
    out: Path | None,
    progress: Callable[[str], None],
) -> None:
    from keel.loadtest.runner import LoadError, format_load_table, run_load

    try:
        result = run_load(backend=backend, seconds=minutes * 60, users=users, progress=progress)
    except LoadError as exc:
        raise click.ClickException(str(exc)) from None
    if out is not None:
        out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    click.echo(json.dumps(result, indent=2) if as_json else format_load_table(result))
    if not result["ok"]:
        raise click.ClickException("the load test found problems (see above)")


@main_group.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(file: Path) -> None:
    """Write a consistent copy of the database to FILE (safe while Keel runs)."""
    setup_django()
    from keel.backup import backup

    result = backup(file)
    click.echo(f"backed up the {result.engine} database to {result.path} ({result.size} bytes)")


@main_group.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_command(file: Path, yes: bool) -> None:
    """Replace the database with the backup in FILE, then verify the ledger."""
    setup_django()
    from keel.backup import restore
    from keel.ledger.services import verify

    if not yes:
        click.confirm(
            "This replaces the whole database. Stop Keel's servers first. Continue?", abort=True
        )
    restore(file)
    report = verify()
    if not report.ok:
        raise click.ClickException(
            f"restored, but the ledger does not verify: {report.problems[0]}"
        )
    click.echo(f"restored {file}: {report.journals} journals, ledger verifies")


main_group.add_command(__import__("keel.gateway.cli", fromlist=["platform"]).platform)
main_group.add_command(__import__("keel.pools.cli", fromlist=["pools"]).pools)
main_group.add_command(__import__("keel.career.cli", fromlist=["plan"]).plan)
main_group.add_command(__import__("keel.audit.cli", fromlist=["audit"]).audit)


# ------------------------------------------------------------------------------ entry


def _known_errors() -> tuple[type[BaseException], ...]:
    from django.core.exceptions import ImproperlyConfigured, ValidationError
    from django.core.management.base import CommandError
    from django.db import DatabaseError

    from keel.backup import BackupError
    from keel.ledger.rules import LedgerError
    from keel.money import MoneyError

    return (
        LedgerError,
        MoneyError,
        BackupError,
        CommandError,
        DatabaseError,
        ImproperlyConfigured,
        ValidationError,
        OSError,
    )


def main(argv: list[str] | None = None) -> int:
    try:
        main_group.main(args=argv, prog_name="keel", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        return exc.exit_code if exc.exit_code else 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:
        if os.environ.get("KEEL_DEBUG") == "1":
            raise
        known = _known_errors()
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, known):
            if "no such table" in message or (
                "relation" in message and "does not exist" in message
            ):
                message += " (is the database set up? run `keel migrate`)"
            click.echo(f"error: {message}", err=True)
        else:
            click.echo(
                f"error: unexpected {type(exc).__name__}: {message}"
                " (run with KEEL_DEBUG=1 for details)",
                err=True,
            )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
