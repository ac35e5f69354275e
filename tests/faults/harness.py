"""The child side of the fault tests: a fork server with Keel's real settings loaded.

Run as ``python -m tests.faults.harness`` with ``KEEL_DATA_DIR`` (and, for PostgreSQL,
``KEEL_DATABASE_URL``) set. Loading Django takes seconds and a fault campaign starts
hundreds of jobs, so this process loads it once, never opens a database connection itself,
and forks a fresh child for every operation: each job runs in a process of its own, with
its own connection, which the parent may SIGKILL or whose connection it may drop.

Protocol: one JSON object a line. The parent writes operations on stdin
(``{"op": "job", "job": "events", ...}``); this process answers on stdout with events:
``ready`` once, then per operation ``forked`` (the child's pid), ``exit`` (its exit code,
negative for a signal, and the result it wrote, if it got that far) and, from the child
itself, ``connected`` (when it opens its database connection, with the PostgreSQL backend
pid) and ``paused`` (when it stopped before a statement, waiting for SIGUSR1).

The world the jobs work on, and the jobs themselves, are defined here too; the module's
top level imports no Django so that the parent can use its constants.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

JOBS = ("import", "events", "pool")

# Bulk import: one worker, one Upwork earnings report of IMPORT_ROWS rows.
IMPORT_WORKER = "importer@example.org"
IMPORT_FILE = "upwork-earnings.csv"
IMPORT_ROWS = 600

# Earnings events: a platform paying 4% of gross, LINKED workers linked to it and a few
# references nobody has linked (their contributions wait in suspense).
PLATFORM = "Faultline"
OPERATOR = "ops@faultline.example"
LINKED = 20
UNLINKED = 4
EVENTS = 500
POLICY = {"currency": "USD", "rate_bps": 400}
POLICY_FROM = date(2025, 1, 1)

# The pool: a Broodfonds-style fund of POOL_MEMBERS with POOL_CLAIMS members off sick; the
# job is the gift run of POOL_MONTH.
POOL = "Faultline Fund"
POOL_MEMBERS = 30
POOL_CLAIMS = 5
POOL_FIRST_MONTH = date(2025, 1, 1)
POOL_MONTH = date(2025, 3, 1)
POOL_TODAY = date(2025, 3, 2)
TIERS = (150_000, 100_000, 125_000, 175_000, 75_000, 200_000, 150_000, 250_000)


def import_csv(rows: int = IMPORT_ROWS) -> str:
    """An Upwork earnings report, the same every time: rows differ in date, contract,
    amount or type, a few are refunds."""
    rng = random.Random(7)
    contracts = ["Data pipeline", "Landing page", "Mobile app", "API audit", "Copy edits"]
    lines = ["Date,Contract,Client,Hours,Amount,Payment type"]
    first = date(2024, 1, 1)
    for n in range(rows):
        day = first + timedelta(days=n % 360)
        when = f'"{day:%b} {day.day}, {day.year}"'
        contract = f"{contracts[n % len(contracts)]} #{n}"
        if n % 40 == 39:
            amount, kind, hours = f"-{rng.randint(10, 90)}.00", "Refund", ""
        elif n % 3 == 0:
            amount, kind = f"{rng.randint(100, 900)}.{n % 100:02d}", "Hourly"
            hours = f"{rng.randint(1, 30)}:{rng.choice(['00', '15', '30', '45'])}"
        else:
            amount, kind, hours = f"{rng.randint(50, 2000)}.00", "Fixed Price", ""
        lines.append(f"{when},{contract},Client {n % 17},{hours},{amount},{kind}")
    return "\n".join(lines) + "\n"


def worker_refs() -> list[str]:
    return [f"courier-{n}" for n in range(1, LINKED + 1)] + [
        f"unlinked-{n}" for n in range(1, UNLINKED + 1)
    ]


def earnings_events(count: int = EVENTS) -> list[dict[str, Any]]:
    """The batch of the events job, the same every time (a replay must match)."""
    rng = random.Random(11)
    refs = worker_refs()
    start = datetime(2025, 2, 1, 8, tzinfo=UTC)
    return [
        {
            "event_id": f"trip-{n}",
            "worker_ref": refs[n % len(refs)],
            "occurred_at": (start + timedelta(minutes=97 * n)).isoformat(),
            "gross": rng.randint(300, 6000),
            "tips": rng.choice([0, 0, 100, 250]),
            "currency": "USD",
            "description": f"{1 + n % 4} deliveries",
        }
        for n in range(count)
    ]


# ------------------------------------------------------------------------------ child side


def _emit(fd: int, **event: Any) -> None:
    # The fork server and its running child share this pipe: a child's events are single
    # short lines, and a write under PIPE_BUF bytes is never interleaved with another.
    data = (json.dumps(event) + "\n").encode()
    while data:
        data = data[os.write(fd, data) :]


class StatementTrap:
    """Counts the SQL statements a job runs and stops the job at statement ``kill_at``
    (SIGKILL, before the statement runs) or ``pause_at`` (announces it, then waits for
    SIGUSR1 while the parent drops the connection)."""

    def __init__(self, fd: int, kill_at: int | None, pause_at: int | None) -> None:
        self.fd = fd
        self.kill_at = kill_at
        self.pause_at = pause_at
        self.count = 0
        self.backend_pid: int | None = None

    def hit(self) -> None:
        self.count += 1
        if self.count == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        if self.count == self.pause_at:
            _emit(self.fd, event="paused", pid=os.getpid(), backend_pid=self.backend_pid)
            signal.sigwait({signal.SIGUSR1})


def _install(trap: StatementTrap) -> None:
    from django.db import connection
    from django.db.backends.signals import connection_created

    def on_connect(sender: Any, connection: Any, **kwargs: Any) -> None:
        raw = connection.connection
        if connection.vendor == "sqlite":
            # SQLite reports every statement it runs, the ledger's own bulk INSERTs through
            # the driver and COMMIT included, so a kill can land between any two of them.
            raw.set_trace_callback(lambda sql: trap.hit())
        else:
            trap.backend_pid = raw.info.backend_pid
        _emit(trap.fd, event="connected", pid=os.getpid(), backend_pid=trap.backend_pid)

    connection_created.connect(on_connect, weak=False)
    if connection.vendor == "postgresql":

        def wrapper(
            execute: Callable[..., Any], sql: str, params: Any, many: bool, ctx: Any
        ) -> Any:
            trap.hit()
            return execute(sql, params, many, ctx)

        connection.execute_wrappers.append(wrapper)


def run_job(name: str) -> dict[str, Any]:
    """Run one job once; what it reported."""
    if name == "import":
        from keel.cli import main

        out = io.StringIO()
        path = Path(os.environ["KEEL_DATA_DIR"]) / IMPORT_FILE
        with contextlib.redirect_stdout(out):
            code = main(
                [
                    *("import", str(path), "--format", "upwork-earnings"),
                    *("--worker", IMPORT_WORKER, "--json"),
                ]
            )
        if code != 0:
            raise RuntimeError(f"keel import exited with {code}")
        summary = json.loads(out.getvalue())
        return {"imported": summary["imported"], "duplicates": summary["duplicates"]}
    if name == "events":
        from keel.gateway import services as gateway
        from keel.gateway.models import Platform

        batch = gateway.record_events(Platform.objects.get(name=PLATFORM), earnings_events())
        return {"created": batch.created, "exists": batch.existing}
    if name == "pool":
        from keel.pools import services as pools
        from keel.pools.models import Pool

        run = pools.run_month(Pool.objects.get(name=POOL), POOL_MONTH, today=POOL_TODAY)
        return {"created": run.created}
    raise ValueError(f"unknown job {name!r}")


def snapshot() -> dict[str, Any]:
    """What each job has left in the books, and whether the ledger verifies, read from one
    snapshot of the database (each statement on its own could see a different moment)."""
    from django.db import connection, transaction

    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return _read_books()


def _read_books() -> dict[str, Any]:
    from django.db.models import Count, Q, Sum

    from keel.accounts.models import User
    from keel.gateway.models import EarningsEvent, Platform
    from keel.income.models import IncomeItem
    from keel.ledger.models import Journal
    from keel.ledger.services import verify
    from keel.pools.models import Claim, Gift, GiftRun, Pool
    from keel.pools.services import month_key

    def journals(prefix: str, suffix: str = "") -> int:
        return Journal.objects.filter(
            idempotency_key__startswith=prefix, idempotency_key__endswith=suffix
        ).count()

    worker = User.objects.get(email=IMPORT_WORKER)
    items = IncomeItem.objects.filter(worker=worker).aggregate(
        n=Count("id"), total_net=Sum("net"), journal_ids=Count("journal_id", distinct=True)
    )
    platform = Platform.objects.get(name=PLATFORM)
    events = EarningsEvent.objects.filter(platform=platform)
    known = Journal.objects.values("id")
    booked = events.aggregate(
        n=Count("id"),
        total=Sum("contribution"),
        with_journal=Count("id", filter=Q(journal_id__isnull=False)),
    )
    pool = Pool.objects.get(name=POOL)
    gifts = Gift.objects.filter(run__pool=pool, run__month=POOL_MONTH)
    given = gifts.aggregate(
        n=Count("id"), total=Sum("received"), paid=Count("id", filter=Q(received__gt=0))
    )
    report = verify()
    return {
        "import": {
            "items": items["n"],
            "net": items["total_net"] or 0,
            "item_journals": items["journal_ids"],
            "journals": journals(f"income:{worker.pk}:"),
        },
        "events": {
            "events": booked["n"],
            "contributions": booked["total"] or 0,
            "with_journal": booked["with_journal"],
            "dangling": events.filter(journal_id__isnull=False)
            .exclude(journal_id__in=known)
            .count(),
            "journals": journals(f"gateway:event:{platform.pk}:"),
        },
        "pool": {
            "runs": GiftRun.objects.filter(pool=pool, month=POOL_MONTH).count(),
            "gifts": given["n"],
            "paid": given["paid"],
            "received": given["total"] or 0,
            "dangling": gifts.filter(received__gt=0).exclude(journal_id__in=known).count(),
            "journals": journals(f"pool:{pool.pk}:gift:", f":{month_key(POOL_MONTH)}"),
            "closed_claims": Claim.objects.filter(pool=pool, status="closed").count(),
        },
        "ledger": {"ok": report.ok, "journals": report.journals, "problems": report.problems[:5]},
    }


def build_world() -> dict[str, Any]:
    """The state every job starts from, built through the real services."""
    from keel.accounts.services import create_worker
    from keel.gateway import services as gateway
    from keel.pools import services as pools
    from keel.pools.rules.pool_rules import broodfonds_default, rules_to_json

    create_worker(IMPORT_WORKER, name="Ima Porter", password=None)
    (Path(os.environ["KEEL_DATA_DIR"]) / IMPORT_FILE).write_text(import_csv(), encoding="utf-8")

    operator = create_worker(OPERATOR, name="Faultline Ops", password=None)
    platform = gateway.create_platform(
        PLATFORM, operator=operator, policy=POLICY, effective_from=POLICY_FROM
    )
    for n in range(1, LINKED + 1):
        courier = create_worker(f"courier{n}@example.org", name=f"Courier {n}", password=None)
        gateway.link_with_code(platform, f"courier-{n}", gateway.create_link_code(courier))
    _, key = gateway.create_platform_key(platform, operator, "fault tests", ["earnings:write"])

    rules = rules_to_json(broodfonds_default("EUR")) | {
        "min_members": 2,
        "approvals_required": 1,
        "admission_by_vote": False,
        "waiting_months": 0,
    }
    people = [
        create_worker(f"member{n}@example.org", name=f"Member {n}", password=None, currency="EUR")
        for n in range(1, POOL_MEMBERS + 1)
    ]
    pool = pools.create_pool(
        people[0], name=POOL, rules=rules, tier_gift=TIERS[0], today=POOL_FIRST_MONTH
    )
    for n, person in enumerate(people[1:], start=1):
        pools.apply(pool, person, tier_gift=TIERS[n % len(TIERS)], today=POOL_FIRST_MONTH)
    members = pools.active_members(pool)
    month = POOL_FIRST_MONTH
    while month <= POOL_MONTH:
        for member in members:
            pools.pay_deposit(member, month, on=month + timedelta(days=1))
        month = (month + timedelta(days=32)).replace(day=1)
    for n, member in enumerate(members[-POOL_CLAIMS:]):
        start = date(2025, 2, 3 + n)
        claim = pools.report_claim(member, start_date=start, description="Flu", today=start)
        pools.decide_claim(claim, members[0].user, "approve", today=start)
    return {"platform_key": key}


def _child(op: dict[str, Any], fd: int, result_path: Path) -> int:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Blocked before anything can announce a pause, so SIGUSR1 is never lost.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    from django.db import connections

    trap = StatementTrap(fd, op.get("kill_at"), op.get("pause_at"))
    _install(trap)
    result: dict[str, Any] = {}
    code = 0
    try:
        if op["op"] == "setup":
            result = build_world()
        elif op["op"] == "snapshot":
            result = snapshot()
        elif op["op"] == "job":
            runs = []
            for _ in range(op.get("times", 1)):
                started = time.perf_counter()
                outcome = run_job(op["job"])
                seconds = time.perf_counter() - started
                runs.append(
                    {"outcome": outcome, "seconds": seconds, "statements": trap.count}
                    | ({"snapshot": snapshot()} if op.get("snapshots") else {})
                )
            result = {"runs": runs}
        else:
            raise ValueError(f"unknown operation {op['op']!r}")
    except Exception as exc:
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"}
        code = 1
    with contextlib.suppress(Exception):
        connections.close_all()
    partial = result_path.with_suffix(".part")
    partial.write_text(json.dumps(result), encoding="utf-8")
    partial.replace(result_path)
    return code


def serve() -> None:
    """The fork server's loop."""
    fd = os.dup(1)
    # Anything printed by Keel or Django (in here or in a child) goes to the log, never
    # into the protocol.
    os.dup2(2, 1)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keel.settings")
    from keel.cli import setup_django

    setup_django()
    from django.db import connections

    # Everything a job needs, imported once here rather than in every child.
    import keel.gateway.services
    import keel.income.services
    import keel.ledger.services
    import keel.pools.services  # noqa: F401

    connections.close_all()
    work = Path(os.environ["KEEL_FAULTS_WORK"])
    _emit(fd, event="ready", pid=os.getpid())
    for line in sys.stdin:
        op = json.loads(line)
        if op["op"] == "quit":
            break
        result_path = work / f"result-{op['id']}.json"
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _child(op, fd, result_path)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _emit(fd, event="forked", id=op["id"], pid=pid)
        _, status = os.waitpid(pid, 0)
        result = None
        if result_path.exists():
            result = json.loads(result_path.read_text(encoding="utf-8"))
            result_path.unlink()
        _emit(
            fd,
            event="exit",
            id=op["id"],
            pid=pid,
            code=os.waitstatus_to_exitcode(status),
            result=result,
        )


if __name__ == "__main__":
    serve()
