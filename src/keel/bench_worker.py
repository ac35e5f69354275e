"""One backend's ledger measurements, run in a child process by `keel.bench`.

Django settings are process-global, so each backend gets a fresh process whose environment
(`KEEL_DATA_DIR`, `KEEL_DATABASE_URL`) was set by the parent before Django loads. The worker
migrates two empty databases: `default`, where the ledger service writes with its guard
triggers, and `raw`, the same schema with the triggers dropped, where the baseline loads the
very rows the service writes. Progress lines go to stderr as `progress: ...`; the result is
written as JSON to the file named by `--out`.

    python -m keel.bench_worker --backend sqlite --journals 20000 --singles 300 --out r.json
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

# Posting batch size for the bulk figure, one for both backends. Service/raw ratio at 250k
# journals on the reference VM: SQLite 5k 0.29, 10k 0.32, 25k 0.32, 50k 0.29; PostgreSQL
# 5k 0.31, 25k 0.42, 50k 0.46 (there fewer batches mostly mean fewer runs of the journal
# trigger's whole-table plan when the tables have no statistics). 25k is best on SQLite
# and near-best on PostgreSQL. In quick mode (20k journals) it is a single batch.
BATCH_SIZE = 25_000
WORKERS = 1_000  # each with a cash and a benefits account: 2,000 worker accounts
PLATFORMS = 10
FEE_BPS = 1_000  # 10% platform fee
BENEFITS_BPS = 400  # 4% portable-benefits contribution (the DoorDash pilots' rate)
WARMUP = 10  # single-journal rounds not counted: first statements compile and warm caches
LEDGER_TABLES = ("ledger_account", "ledger_journal", "ledger_leg")
SINGLE_TABLE = "keel_bench_single"


def progress(message: str) -> None:
    print(f"progress: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- django set-up


def setup_django(backend: str, raw_url: str | None) -> None:
    """Load Keel's own settings, then add the `raw` database before any connection opens."""
    if not os.environ.get("KEEL_DATA_DIR"):
        # A bench child writes thousands of rows and a raw copy beside the database: run
        # without its own data dir it would fill the person's real Keel database.
        raise SystemExit("bench workers run under `keel bench`, which gives each a KEEL_DATA_DIR")
    os.environ["DJANGO_SETTINGS_MODULE"] = "keel.settings"
    import django
    from django.conf import settings

    default = settings.DATABASES["default"]
    expected = "keel.sqlite_backend" if backend == "sqlite" else "django.db.backends.postgresql"
    if default["ENGINE"] != expected:
        raise SystemExit(f"bench worker for {backend} got a {default['ENGINE']} database")
    if backend == "sqlite":
        raw = copy.deepcopy(default)
        raw["NAME"] = str(Path(default["NAME"]).with_name("raw.sqlite3"))
    else:
        import dj_database_url

        if not raw_url:
            raise SystemExit("--raw-database-url is required for postgres")
        raw = dict(dj_database_url.parse(raw_url))
    settings.DATABASES["raw"] = raw
    django.setup()


def migrate(progress_label: str) -> None:
    from django.core.management import call_command

    for alias in ("default", "raw"):
        progress(f"{progress_label}: migrating the {alias} database")
        call_command("migrate", verbosity=0, interactive=False, database=alias)


def drop_guard_triggers() -> list[str]:
    """Drop every trigger on the ledger tables of the raw database (not the constraint
    triggers PostgreSQL uses for foreign keys): same tables and indexes, no guards."""
    from django.db import connections

    raw = connections["raw"]
    dropped = []
    with raw.cursor() as cursor:
        if raw.vendor == "sqlite":
            marks = ", ".join(["%s"] * len(LEDGER_TABLES))
            cursor.execute(
                f"SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({marks})",
                list(LEDGER_TABLES),
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP TRIGGER "{name}"')
                dropped.append(name)
        else:
            cursor.execute(
                "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c"
                " ON c.oid = t.tgrelid WHERE NOT t.tgisinternal AND c.relname = ANY(%s)",
                [list(LEDGER_TABLES)],
            )
            for name, table in cursor.fetchall():
                cursor.execute(f'DROP TRIGGER "{name}" ON "{table}"')
                dropped.append(name)
    return sorted(dropped)


# ---------------------------------------------------------------------------- workload


@dataclass(frozen=True, slots=True)
class Chart:
    cash: list[str]
    benefits: list[str]
    clearing: list[str]
    fees: str


def open_accounts() -> Chart:
    from django.db import transaction

    from keel.ledger import services
    from keel.ledger.models import Account

    chart = Chart(
        cash=[f"worker:{w}:cash" for w in range(1, WORKERS + 1)],
        benefits=[f"worker:{w}:benefits" for w in range(1, WORKERS + 1)],
        clearing=[f"platform:{p}:clearing" for p in range(1, PLATFORMS + 1)],
        fees="keel:fees",
    )
    # One transaction: 2,000 durable commits would take longer than the measurement.
    with transaction.atomic():
        for w in range(1, WORKERS + 1):
            for code in (f"worker:{w}:cash", f"worker:{w}:benefits"):
                services.open_account(
                    code, owner_type="worker", owner_id=w, kind="asset", currency="USD", floor=0
                )
        for p in range(1, PLATFORMS + 1):
            services.open_account(
                f"platform:{p}:clearing",
                owner_type="platform",
                owner_id=p,
                kind="liability",
                currency="USD",
            )
        services.open_account("keel:fees", owner_type="keel", kind="asset", currency="USD")
    # The same rows, ids included, in the raw database.
    Account.objects.using("raw").bulk_create(list(Account.objects.order_by("id")))
    return chart


def make_journals(chart: Chart, count: int, *, prefix: str, seed: int) -> list[Any]:
    """Gig payments: gross from a platform's clearing account, the platform fee to Keel,
    the net to the worker; every fourth also pays a benefits contribution (4 legs)."""
    from keel.ledger.rules import JournalSpec, LegSpec
    from keel.money import percent_of_bps

    rng = random.Random(seed)  # deterministic: the raw baseline rebuilds the same rows
    start = date(2025, 1, 1)
    specs = []
    for index in range(count):
        worker = rng.randrange(WORKERS)
        platform = rng.randrange(PLATFORMS)
        gross = rng.randrange(1_000, 500_000)
        fee = percent_of_bps(gross, FEE_BPS)
        legs = [
            LegSpec(chart.cash[worker], gross - fee, "USD"),
            LegSpec(chart.fees, fee, "USD"),
        ]
        if index % 4 == 3:
            contribution = percent_of_bps(gross, BENEFITS_BPS)
            legs.append(LegSpec(chart.benefits[worker], contribution, "USD"))
            gross += contribution
        legs.append(LegSpec(chart.clearing[platform], -gross, "USD"))
        specs.append(
            JournalSpec(
                # Zero-padded counter: unique and sorted in posting order, like a ULID.
                idempotency_key=f"{prefix}:{index:09d}",
                kind="gig",
                effective_date=start + timedelta(days=index * 365 // max(count, 1)),
                legs=tuple(legs),
                memo=f"gig {index}",
                metadata={"platform": platform + 1},
            )
        )
    return specs


def expected_rows(
    specs: Sequence[Any], account_ids: dict[str, int], created_at: datetime
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The leg and journal rows the service writes for `specs` into an empty ledger: ids
    from 1 (SQLite allocates max(id) + 1, PostgreSQL a fresh sequence), the content hash the
    service computes, the accounts' ids."""
    from keel.ledger.rules import journal_hash, validate_journal

    legs: list[tuple[Any, ...]] = []
    journals: list[tuple[Any, ...]] = []
    for journal_id, spec in enumerate(specs, start=1):
        for leg in spec.legs:
            legs.append(
                (
                    journal_id,
                    account_ids[leg.account],
                    leg.amount,
                    leg.currency,
                    spec.effective_date,
                    False,
                )
            )
        journals.append(
            (
                journal_id,
                spec.idempotency_key,
                journal_hash("post", spec, validate_journal(spec)),
                spec.kind,
                "posted",
                spec.effective_date,
                created_at,
                spec.memo,
                validate_journal(spec),
                None,
                None,
                None,
                None,
            )
        )
    return legs, journals


# ---------------------------------------------------------------------------- measurements


def raw_load(legs: list[tuple[Any, ...]], journals: list[tuple[Any, ...]]) -> float:
    """Load the rows into the raw database in one transaction; returns seconds."""
    from django.db import connections, transaction

    from keel.ledger.services import JOURNAL_COLUMNS, LEG_COLUMNS

    raw = connections["raw"]
    if raw.vendor == "sqlite":
        ops = raw.ops
        # Adapted ahead of time: the baseline is the database's own speed.
        legs = [(j, a, n, c, ops.adapt_datefield_value(d), p) for j, a, n, c, d, p in legs]
        journals = [
            (
                i,
                k,
                h,
                kind,
                s,
                ops.adapt_datefield_value(d),
                ops.adapt_datetimefield_value(t),
                memo,
                meta,
                pid,
                exp,
                res,
                rev,
            )
            for i, k, h, kind, s, d, t, memo, meta, pid, exp, res, rev in journals
        ]
    raw.ensure_connection()
    started = time.perf_counter()
    with transaction.atomic(using="raw"):
        if raw.vendor == "sqlite":
            db = raw.connection
            db.executemany(
                f"INSERT INTO ledger_leg ({', '.join(LEG_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)",
                legs,
            )
            marks = ", ".join(["?"] * len(JOURNAL_COLUMNS))
            db.executemany(
                f"INSERT INTO ledger_journal ({', '.join(JOURNAL_COLUMNS)}) VALUES ({marks})",
                journals,
            )
        else:
            with raw.cursor() as cursor:
                pg = cursor.cursor
                with pg.copy(f"COPY ledger_leg ({', '.join(LEG_COLUMNS)}) FROM STDIN") as out:
                    for row in legs:
                        out.write_row(row)
                with pg.copy(
                    f"COPY ledger_journal ({', '.join(JOURNAL_COLUMNS)}) FROM STDIN"
                ) as out:
                    for row in journals:
                        out.write_row(row)
    return time.perf_counter() - started


def post_batches(batches: Sequence[Sequence[Any]], *, expect_created: bool) -> float:
    from keel.ledger import services

    started = time.perf_counter()
    for batch in batches:
        results = services.post_journals(batch)
        if any(r.created is not expect_created for r in results):
            raise SystemExit(f"expected created={expect_created} for every journal")
    return time.perf_counter() - started


def check_written(legs: list[tuple[Any, ...]], journals: list[tuple[Any, ...]]) -> None:
    """The service wrote exactly the rows the baseline loaded (ids, keys, hashes, accounts)."""
    from keel.ledger import services
    from keel.ledger.models import Journal, Leg

    stored_journals = list(
        Journal.objects.order_by("id").values_list("id", "idempotency_key", "content_hash")
    )
    if stored_journals != [row[:3] for row in journals]:
        raise SystemExit("the service wrote other journals than the baseline loaded")
    stored_legs = list(Leg.objects.order_by("id").values_list("journal_id", "account_id", "amount"))
    if stored_legs != [row[:3] for row in legs]:
        raise SystemExit("the service wrote other legs than the baseline loaded")
    report = services.verify()
    if not report.ok:
        raise SystemExit(f"ledger verify failed: {report.problems[:3]}")


def percentile(samples_ns: Sequence[int], fraction: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    ordered = sorted(samples_ns)
    rank = max(1, math.ceil(len(ordered) * fraction))
    return ordered[rank - 1] / 1e6


def single_latency(chart: Chart, count: int) -> dict[str, Any]:
    """Journals posted one per durable transaction, interleaved with raw single-row insert
    transactions on the same database so both see the same disk and cache conditions."""
    from django.db import connection, transaction

    from keel.ledger import services

    with connection.cursor() as cursor:
        ident = (
            "id INTEGER PRIMARY KEY AUTOINCREMENT"
            if connection.vendor == "sqlite"
            else "id bigserial PRIMARY KEY"
        )
        cursor.execute(
            f"CREATE TABLE {SINGLE_TABLE} ({ident}, journal_id bigint NOT NULL,"
            " account_id bigint NOT NULL, amount bigint NOT NULL, currency varchar(3) NOT NULL,"
            " effective_date date NOT NULL, is_pending boolean NOT NULL)"
        )
        cursor.execute(
            f"CREATE INDEX {SINGLE_TABLE}_account ON {SINGLE_TABLE} (account_id, effective_date)"
        )
    specs = make_journals(chart, count + WARMUP, prefix="single", seed=2)
    insert = (
        f"INSERT INTO {SINGLE_TABLE} (journal_id, account_id, amount, currency, effective_date,"
        " is_pending) VALUES (%s, %s, %s, %s, %s, %s)"
    )
    service_ns: list[int] = []
    raw_ns: list[int] = []
    day = connection.ops.adapt_datefield_value
    for index, spec in enumerate(specs):
        params = (index, 1, spec.legs[0].amount, "USD", day(spec.effective_date), False)
        started = time.perf_counter_ns()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(insert, params)
        raw_elapsed = time.perf_counter_ns() - started
        started = time.perf_counter_ns()
        services.post_journal(spec)
        service_elapsed = time.perf_counter_ns() - started
        if index >= WARMUP:
            raw_ns.append(raw_elapsed)
            service_ns.append(service_elapsed)
    return {
        "count": count,
        "service_ms": {"p50": percentile(service_ns, 0.50), "p99": percentile(service_ns, 0.99)},
        "raw_ms": {"p50": percentile(raw_ns, 0.50), "p99": percentile(raw_ns, 0.99)},
    }


# ---------------------------------------------------------------------------- main


def analyze_like_autovacuum(label: str, *, using: str = "default", table: str = "") -> None:
    """On PostgreSQL, gather the planner's statistics of the world a worker just built, as
    autovacuum does within a minute or so on a running server. Measured right after the
    build, every plan was made without them: a gift run's read of its members scanned
    every account of the pool once per member (1.1 ms for 50 rows instead of 0.1 ms).
    `table` limits it to one table."""
    from django.db import connections

    db = connections[using]
    if db.vendor != "postgresql":
        return
    what = f" {db.ops.quote_name(table)}" if table else ""
    progress(f"{label}: ANALYZE{what} on {using} (the statistics autovacuum keeps)")
    with db.cursor() as cursor:
        cursor.execute(f"ANALYZE{what}")


def server_notes() -> list[str]:
    """Server settings that change what the figures mean."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        (autovacuum,) = cursor.fetchone()
    if autovacuum == "off":
        return [
            "ledger/postgres: autovacuum is off on this server, so the ledger tables are never"
            " analyzed and the planner works without statistics"
        ]
    return []


def run(backend: str, journals: int, singles: int, batch_size: int) -> dict[str, Any]:
    from django.db import connection
    from django.utils import timezone

    from keel.ledger.models import Account

    label = f"ledger/{backend}"
    migrate(label)
    dropped = drop_guard_triggers()
    progress(f"{label}: raw database without its {len(dropped)} guard triggers")
    progress(f"{label}: opening {WORKERS * 2 + PLATFORMS + 1:,} accounts")
    chart = open_accounts()
    account_ids = dict(Account.objects.values_list("code", "id"))

    specs = make_journals(chart, journals, prefix="bulk", seed=1)
    batches = [specs[i : i + batch_size] for i in range(0, len(specs), batch_size)]
    legs, rows = expected_rows(specs, account_ids, timezone.now())
    leg_count = len(legs)
    progress(f"{label}: {journals:,} journals, {leg_count:,} legs, batches of {batch_size:,}")

    progress(f"{label}: raw baseline: loading the same rows in one transaction")
    raw_seconds = raw_load(legs, rows)
    progress(f"{label}: raw baseline {leg_count / raw_seconds:,.0f} legs/s")

    progress(f"{label}: posting through services.post_journals")
    bulk_seconds = post_batches(batches, expect_created=True)
    progress(f"{label}: service {leg_count / bulk_seconds:,.0f} legs/s")

    progress(f"{label}: replaying every batch (all duplicates)")
    replay_seconds = post_batches(batches, expect_created=False)
    progress(f"{label}: replay {leg_count / replay_seconds:,.0f} legs/s")

    progress(f"{label}: checking the written rows and running ledger verify")
    check_written(legs, rows)
    del legs, rows, specs, batches

    progress(f"{label}: {singles:,} single journals, one durable transaction each")
    single = single_latency(chart, singles)
    return {
        "backend": backend,
        "vendor": connection.vendor,
        "journals": journals,
        "legs": leg_count,
        "batch_size": batch_size,
        "raw_seconds": raw_seconds,
        "bulk_seconds": bulk_seconds,
        "replay_seconds": replay_seconds,
        "single": single,
        "notes": server_notes(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m keel.bench_worker")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), required=True)
    parser.add_argument("--journals", type=int, required=True)
    parser.add_argument("--singles", type=int, required=True)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--raw-database-url")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    setup_django(args.backend, args.raw_database_url)
    result = run(args.backend, args.journals, args.singles, args.batch_size)
    args.out.write_text(json.dumps(result, indent=2))
    progress(f"ledger/{args.backend}: done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
