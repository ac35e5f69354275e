"""The income figures of `keel bench`, and the child process that measures them.

Three figures, each beside a baseline measured in the same run (see `keel.bench`):

* `import.upwork.sqlite`: file rows per second importing a generated Upwork transaction
  history end to end (`income.services.import_file`: parse, dedupe, post journals, write
  income items) beside the raw rate of reading the same file with `csv.reader` plus
  raw-inserting the journal and leg rows the service wrote (read back after the timed run)
  into a database of the same schema without the ledger's guard triggers, in one
  transaction. `import.upwork.parse` is the importer's parse alone beside `csv.reader`.
* `dashboard.sqlite`: median time of `income.reports.income_report` for a worker with ten
  years of history (at least 100,000 income items at full size) beside the median time of
  one raw SQL query summing that worker's income legs per month.
* `forecast.backtest.coverage`: the share of days whose actual cumulative income fell inside
  the forecast's 80% band, back-testing that worker's history (cutoffs every 13 weeks over
  the last two years) beside the nominal 0.80.

The import and dashboard figures are measured on SQLite only. Each measurement runs in a
child process with its own `KEEL_DATA_DIR` (Django settings are process-global):

    python -m keel.bench_income --worker import --rows 50000 --out r.json
    python -m keel.bench_income --worker dashboard --items 50000 --out r.json

This module loads Django only in the child, so `keel.bench` can import it.
"""

from __future__ import annotations

import argparse
import csv
import gc
import io
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keel.accounts.models import User
    from keel.bench import BenchContext, Figure
    from keel.income.importers.base import ParsedRow

IMPORT_ROWS = (1_000_000, 50_000)  # full, quick
DASHBOARD_ITEMS = (100_000, 50_000)
DASHBOARD_RUNS = 7
IMPORT_TARGET = 0.30
DASHBOARD_TARGET = 3.0
# The issue asks for a coverage ratio between 0.85 and 1.15 (0.68-0.92 coverage);
# `make_figure` has one-sided targets only, so the figure says "at least nominal" and a note
# gives the two-sided verdict.
COVERAGE_NOMINAL = 0.80
COVERAGE_BAND = (0.85, 1.15)
BACKTEST_CUTOFFS = 8
BACKTEST_STEP_DAYS = 91
BACKTEST_HORIZON = 90
BACKTEST_SEED = 7
# The generated worker's history: ten whole years, as of the first day after it.
HISTORY_START = date(2016, 1, 1)
HISTORY_END = date(2025, 12, 31)
# The generated Upwork file: oldest transaction on this day, rows spread over eight years.
UPWORK_START = date(2018, 1, 1)
UPWORK_DAYS = 8 * 365
UPWORK_HEADER = (
    "Date,Transaction ID,Transaction type,Transaction summary,Transaction summary details,"
    "Description 1,Description 2,Description 3,Agency team,Freelancer,Client team,"
    "Account name,PO,Ref ID,Amount $,Amount in local currency,Currency,Current balance $,"
    "Payment method"
)
FREELANCER = "Jordan Rivers"
DAYS_OFF = 0.15  # share of days the delivery worker does not work
# How much a delivery week varies: its volume is Gamma(k, 1/k), mean 1, sd 1/sqrt(k).
BUSY_WEEK_SHAPE = 8.0
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
RAW_MONTHLY_SQL = (
    "SELECT strftime('%Y-%m', l.effective_date), sum(l.amount) FROM ledger_leg l"
    " JOIN ledger_account a ON a.id = l.account_id"
    " WHERE a.owner_type = 'worker' AND a.owner_id = ? AND a.kind = 'income' GROUP BY 1"
)


# ---------------------------------------------------------------------------- parent side


def income_figures(ctx: BenchContext) -> list[Figure]:
    from keel.bench import make_figure

    if "sqlite" not in ctx.backends:
        ctx.note("income figures skipped: they are measured on SQLite only")
        return []
    rows = ctx.size(*IMPORT_ROWS, minimum=100)
    items = ctx.size(*DASHBOARD_ITEMS, minimum=500)
    imported = _run_child(ctx, ["--worker", "import", "--rows", str(rows)])
    dashboard = _run_child(
        ctx, ["--worker", "dashboard", "--items", str(items), "--runs", str(DASHBOARD_RUNS)]
    )
    ctx.note(
        "income: the import and dashboard figures are measured on SQLite only"
        f" ({imported['rows']:,}-row Upwork file; dashboard worker with"
        f" {dashboard['items']:,} income items)"
    )
    n = imported["rows"]
    coverage = dashboard["backtest"]["day_coverage"]
    coverage_fig = make_figure(
        "forecast.backtest.coverage",
        value=coverage,
        baseline=COVERAGE_NOMINAL,
        unit="share",
        target=1.0,
        better="higher",
        digits=3,
    )
    low, high = COVERAGE_BAND
    inside = coverage_fig.ratio is not None and low <= coverage_fig.ratio <= high
    ctx.note(
        f"forecast.backtest.coverage: ratio {coverage_fig.ratio} is "
        f"{'inside' if inside else 'OUTSIDE'} the issue's band {low}-{high}"
        f" ({dashboard['backtest']['cutoffs']} cutoffs, below p10"
        f" {dashboard['backtest']['below_share']:.3f}, above p90"
        f" {dashboard['backtest']['above_share']:.3f})"
    )
    return [
        make_figure(
            "import.upwork.sqlite",
            value=n / imported["import_seconds"],
            baseline=n / (imported["csv_seconds"] + imported["raw_seconds"]),
            unit="rows/s",
            target=IMPORT_TARGET,
            better="higher",
        ),
        make_figure(
            "import.upwork.parse",
            value=n / imported["parse_seconds"],
            baseline=n / imported["csv_seconds"],
            unit="rows/s",
            target=None,
            better="higher",
        ),
        make_figure(
            "dashboard.sqlite",
            value=dashboard["report_ms"],
            baseline=dashboard["raw_ms"],
            unit="ms",
            target=DASHBOARD_TARGET,
            better="lower",
            digits=3,
        ),
        coverage_fig,
    ]


def _run_child(ctx: BenchContext, args: list[str]) -> dict[str, Any]:
    """Run one measurement in a fresh process with its own data directory."""
    from keel.bench import _run_worker

    data_dir = tempfile.mkdtemp(prefix="keel-bench-income-")
    env = dict(os.environ)
    for name in ("KEEL_TEST_DATABASE_URL", "KEEL_DATABASE_URL", "KEEL_TEST_SQLITE_NAME"):
        env.pop(name, None)
    env.update(
        DJANGO_SETTINGS_MODULE="keel.settings",
        KEEL_DATA_DIR=data_dir,
        KEEL_SECRET_KEY=secrets.token_urlsafe(32),
        PYTHONUNBUFFERED="1",
    )
    try:
        return _run_worker(ctx, env, args, module="keel.bench_income")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


# ---------------------------------------------------------------------------- Upwork file


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _upwork_day(day: date) -> str:
    return f"{MONTHS[day.month - 1]} {day.day}, {day.year}"


def _upwork_row(
    stamp: str,
    txn: int,
    type_text: str,
    summary: str,
    client: str,
    ref: int,
    amount: int,
    balance: int,
    method: str = "",
) -> list[str]:
    """One row under UPWORK_HEADER (the local currency is USD too)."""
    money = _money(amount)
    blank = ("", "", "", "", "")  # summary details, descriptions 1-3, agency team
    return [stamp, str(txn), type_text, summary, *blank, FREELANCER, client, FREELANCER, "",
            str(ref), money, money, "USD", _money(balance), method]  # fmt: skip


def write_upwork_file(path: Path, rows: int, *, seed: int = 1) -> dict[str, int]:
    """Write a deterministic Upwork transaction history of exactly `rows` data rows, newest
    first as Upwork writes it (and, within a transaction, the fee above its payment):
    hourly and fixed-price payments each with its Service Fee row naming the payment's Ref
    ID, a withdrawal of most of the balance with its Withdrawal Fee row in about one
    transaction in twenty, and now and then a Connects purchase. Ref IDs are unique per
    row; a payment and its fee share a Transaction ID."""
    import numpy as np

    rng = np.random.default_rng(seed)
    clients = [f"Client {n:03d} {kind}" for n, kind in enumerate(("LLC", "Inc", "GmbH") * 40)]
    events: list[list[list[str]]] = []  # each: its rows, oldest first
    count = balance = 0
    ref, txn = 700_000_000, 2_300_000_000
    expected_events = rows // 2 + 1  # about two rows each: dates spread evenly
    while count < rows:
        day = UPWORK_START + timedelta(days=len(events) * UPWORK_DAYS // expected_events)
        stamp = _upwork_day(day)
        txn += 1
        roll = rng.random()
        entries: list[tuple[str, str, str, int, str]] = []  # type, summary, client, amount
        if rows - count == 1 or roll < 0.01:
            amount = -int(rng.choice([1_200, 2_400, 3_600]))
            summary = f"Fees for additional Connects ({-amount // 15})"
            entries.append(("Membership Fee", summary, "", amount, ""))
        elif roll < 0.06 and balance > 10_000:
            method = "Direct to Local Bank (USD)"
            amount = -(balance - int(rng.integers(0, 5_000)))
            entries.append(("Withdrawal", f"{method} - xxxx-4821", "", amount, method))
            fee_text = "Withdrawal Fee - Direct to Local Bank xxxx-4821"
            entries.append(("Withdrawal Fee", fee_text, "", -99, method))
        else:
            client = clients[int(rng.integers(len(clients)))]
            if roll < 0.70:
                type_text = "Hourly"
                minutes, rate = int(rng.integers(30, 2_400)), int(rng.integers(15, 95))
                amount = minutes * rate * 100 // 60
                week = day - timedelta(days=day.weekday() + 7)
                summary = (
                    f"Invoice for {week:%m/%d/%Y}-{week + timedelta(days=6):%m/%d/%Y} - "
                    f"{minutes // 60}:{minutes % 60:02d} hrs @ ${rate}.00/hr"
                )
            else:
                type_text = "Fixed-price"
                amount = int(rng.lognormal(11.0, 0.8)) // 100 * 100 + 100
                summary = f'Milestone {int(rng.integers(1, 6))}: "Deliverable {txn % 997}"'
            entries.append((type_text, summary, client, amount, ""))
            if rows - count >= 2:  # Upwork's 10% service fee, naming the payment's Ref ID
                fee_text = f"Service Fee for {type_text} - Ref ID {ref + 1}"
                entries.append(("Service Fee", fee_text, client, -((amount + 5) // 10), ""))
        event = []
        for type_text, summary, client, amount, method in entries:
            balance += amount
            ref += 1
            event.append(
                _upwork_row(stamp, txn, type_text, summary, client, ref, amount, balance, method)
            )
        events.append(event)
        count += len(event)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(UPWORK_HEADER + "\r\n")
        writer = csv.writer(out)
        for event in reversed(events):
            writer.writerows(reversed(event))
    return {"rows": count, "transactions": len(events)}


# ---------------------------------------------------------------------------- ten-year worker


def history_rows(items: int, *, seed: int = 3) -> dict[str, list[ParsedRow]]:
    """About `items` income items (plus weekly payouts) over ten years for four sources, as
    their exports would list them: delivery gigs with tips (micro), memberships (recurring,
    card fees), a monthly retainer (recurring) and Upwork projects (10% fee). Activity ramps
    up over the first 30 months, dips in July, August and December and follows the week."""
    import numpy as np

    from keel.income.importers.base import ParsedRow, RowKind

    rng = np.random.default_rng(seed)
    days = [
        HISTORY_START + timedelta(days=n) for n in range((HISTORY_END - HISTORY_START).days + 1)
    ]
    weekday = (1.0, 1.0, 1.0, 1.1, 1.3, 0.7, 0.2)

    def weight(day: date) -> float:
        months_in = (day.year - HISTORY_START.year) * 12 + day.month - HISTORY_START.month
        growth = min(1.0, 0.55 + months_in / 30)
        return growth * (0.85 if day.month in (7, 8, 12) else 1.0) * weekday[day.weekday()]

    weights = np.array([weight(d) for d in days])
    plan = {  # source: (share of the items, stream)
        "dashmile": (0.78, "micro"),
        "memberships": (0.18, "recurring"),
        "upwork": (0.04, "project"),
    }
    result: dict[str, list[ParsedRow]] = {}
    for slug, (share, stream) in plan.items():
        # 5% over, so that the Poisson draws do not fall short of `items`.
        rate = share * items * 1.05 / weights.sum()
        if slug == "dashmile":  # a day off now and then, made up on the days worked
            rate /= 1 - DAYS_OFF
        busy = np.ones(len(days))
        if slug == "dashmile":  # busy and quiet weeks (demand, weather, the worker's time)
            weeks = rng.gamma(BUSY_WEEK_SHAPE, 1 / BUSY_WEEK_SHAPE, size=len(days) // 7 + 1)
            busy = np.repeat(weeks, 7)[: len(days)]
        counts = rng.poisson(weights * busy * rate)
        if slug == "dashmile":
            counts[rng.random(len(days)) < DAYS_OFF] = 0
        rows: list[ParsedRow] = []
        held = 0
        for day, count in zip(days, counts, strict=True):
            for _ in range(int(count)):
                tips = 0
                if slug == "dashmile":
                    gross = max(300, int(rng.lognormal(6.7, 0.45)))
                    fee = 0
                    tips = int(rng.integers(100, 600)) if rng.random() < 0.4 else 0
                elif slug == "memberships":
                    gross = int(rng.choice([500, 1_000, 2_500]))
                    fee = (gross * 290 + 5_000) // 10_000 + 30
                else:
                    gross = int(rng.lognormal(11.2, 0.6)) // 100 * 100 + 1_000
                    fee = (gross + 5) // 10
                net = gross + tips - fee
                held += net
                rows.append(
                    ParsedRow(
                        line=len(rows) + 2,
                        kind=RowKind.INCOME,
                        occurred_on=day,
                        currency="USD",
                        gross=gross,
                        fee=fee,
                        tips=tips,
                        net=net,
                        external_id=f"{slug}-{len(rows)}",
                        description=f"{slug} payment",
                        stream_hint=stream,
                    )
                )
            if day.weekday() == 4 and held > 0:
                rows.append(
                    ParsedRow(
                        line=len(rows) + 2,
                        kind=RowKind.TRANSFER,
                        occurred_on=day,
                        currency="USD",
                        gross=held,
                        net=-held,
                        external_id=f"{slug}-payout-{len(rows)}",
                        description=f"{slug} payout to bank",
                    )
                )
                held = 0
        result[slug] = rows
    result["northwind"] = [
        ParsedRow(
            line=n + 2,
            kind=RowKind.INCOME,
            occurred_on=day,
            currency="USD",
            gross=250_000,
            net=250_000,
            external_id=f"northwind-{day.isoformat()}",
            description="Monthly retainer",
            stream_hint="recurring",
        )
        for n, day in enumerate(d for d in days if d.day == 1)
    ]
    return result


SOURCES = {  # slug: (name, kind, default stream)
    "dashmile": ("DashMile deliveries", "platform", "micro"),
    "memberships": ("Memberships", "membership", "recurring"),
    "upwork": ("Upwork", "platform", "project"),
    "northwind": ("Northwind", "client", "recurring"),
}


def make_history_worker(items: int) -> tuple[User, int]:
    """A worker with ten years of history booked through `book_rows`; returns the worker
    and the number of income items (payouts not counted)."""
    from keel.accounts.services import create_worker
    from keel.income import services as income
    from keel.income.importers.base import RowKind

    worker = create_worker("history@bench.example", name="Ten Years", password=None)
    settings = income.income_settings(worker)
    settings.essential_expenses = 450_000
    settings.save(update_fields=["essential_expenses"])
    income_items = 0
    for slug, rows in history_rows(items).items():
        name, kind, stream = SOURCES[slug]
        source = income.ensure_source(
            worker, name, kind=kind, default_stream=stream, currency="USD"
        )
        booked = income.book_rows(worker, source, rows)
        if not booked.applied or booked.imported != len(rows):
            raise SystemExit(f"booking {slug} failed: {booked}")
        income_items += sum(1 for r in rows if r.kind != RowKind.TRANSFER)
        progress(f"income/dashboard: {slug}: {len(rows):,} items booked")
    return worker, income_items


# ---------------------------------------------------------------------------- child side


def progress(message: str) -> None:
    print(f"progress: {message}", file=sys.stderr, flush=True)


def _sqlite_rows(connection: Any, table: str, columns: Sequence[str]) -> list[tuple[Any, ...]]:
    db = connection.connection
    return list(db.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id"))


def run_import(rows: int, data_dir: Path) -> dict[str, Any]:
    from django.db import connections, transaction

    from keel.accounts.services import create_worker
    from keel.bench_worker import drop_guard_triggers, migrate
    from keel.income import services as income
    from keel.income.importers import parse
    from keel.ledger.services import JOURNAL_COLUMNS, LEG_COLUMNS

    label = "income/import"
    migrate(label)
    drop_guard_triggers()
    path = data_dir / "upwork.csv"
    shape = write_upwork_file(path, rows)
    size = path.stat().st_size
    progress(
        f"{label}: {shape['rows']:,} rows ({shape['transactions']:,} transactions,"
        f" {size / 1e6:,.1f} MB), newest first"
    )
    worker = create_worker("import@bench.example", name="Jordan Rivers", password=None)
    source = income.ensure_source(
        worker, "Upwork", kind="platform", default_stream="project", currency="USD"
    )

    def report(stage: str, done: int, total: int) -> None:
        if stage == "post" and (done == total or done % 100_000 == 0):
            progress(f"{label}: posted {done:,} of {total:,}")

    progress(f"{label}: importing through income.services.import_file")
    with path.open("rb") as handle:
        started = time.perf_counter()
        summary = income.import_file(worker, handle, fmt="upwork", source=source, progress=report)
        import_seconds = time.perf_counter() - started
    if not summary.applied or summary.rejected or summary.rows_read != rows:
        raise SystemExit(f"the import did not apply cleanly: {summary.as_dict()}")
    progress(f"{label}: service {rows / import_seconds:,.0f} rows/s ({summary.imported:,} items)")

    with path.open("rb") as handle:
        started = time.perf_counter()
        parsed = parse("upwork", handle, currency="USD")
        parse_seconds = time.perf_counter() - started
    del parsed
    gc.collect()
    csv_seconds = csv_read_seconds(path)
    progress(
        f"{label}: parse {rows / parse_seconds:,.0f} rows/s, csv.reader"
        f" {rows / csv_seconds:,.0f} rows/s"
    )

    default, raw = connections["default"], connections["raw"]
    default.ensure_connection()
    raw.ensure_connection()
    legs = _sqlite_rows(default, "ledger_leg", LEG_COLUMNS)
    journals = _sqlite_rows(default, "ledger_journal", JOURNAL_COLUMNS)
    account_columns = [
        c.name
        for c in default.introspection.get_table_description(default.cursor(), "ledger_account")
    ]
    accounts = _sqlite_rows(default, "ledger_account", account_columns)
    with transaction.atomic(using="raw"):
        marks = ", ".join("?" * len(account_columns))
        raw.connection.executemany(
            f"INSERT INTO ledger_account ({', '.join(account_columns)}) VALUES ({marks})", accounts
        )
    progress(f"{label}: raw baseline: {len(journals):,} journals, {len(legs):,} legs")
    started = time.perf_counter()
    with transaction.atomic(using="raw"):
        db = raw.connection
        db.executemany(
            f"INSERT INTO ledger_leg ({', '.join(LEG_COLUMNS)}) VALUES"
            f" ({', '.join('?' * len(LEG_COLUMNS))})",
            legs,
        )
        db.executemany(
            f"INSERT INTO ledger_journal ({', '.join(JOURNAL_COLUMNS)}) VALUES"
            f" ({', '.join('?' * len(JOURNAL_COLUMNS))})",
            journals,
        )
    raw_seconds = time.perf_counter() - started
    baseline = rows / (csv_seconds + raw_seconds)
    progress(f"{label}: raw baseline {baseline:,.0f} rows/s (csv.reader + insert)")
    return {
        "rows": rows,
        "transactions": shape["transactions"],
        "items": summary.imported,
        "journals": len(journals),
        "legs": len(legs),
        "import_seconds": import_seconds,
        "parse_seconds": parse_seconds,
        "csv_seconds": csv_seconds,
        "raw_seconds": raw_seconds,
    }


def csv_read_seconds(path: Path) -> float:
    """The standard library reading the file into lists of strings, the collector paused
    as the importer pauses it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        started = time.perf_counter()
        with path.open("rb") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            table = list(csv.reader(text))
        elapsed = time.perf_counter() - started
        del table
    finally:
        if enabled:
            gc.enable()
    return elapsed


def _median_ms(fn: Any, runs: int) -> float:
    fn()  # warm-up: first statements compile, caches fill
    samples = []
    for _ in range(runs):
        started = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - started)
    return statistics.median(samples) / 1e6


def run_dashboard(items: int, runs: int) -> dict[str, Any]:
    from django.core.management import call_command
    from django.db import connection

    from keel.income import reports
    from keel.income.rules import forecast

    label = "income/dashboard"
    progress(f"{label}: migrating")
    call_command("migrate", verbosity=0, interactive=False)
    progress(f"{label}: booking ten years of history (about {items:,} income items)")
    started = time.perf_counter()
    worker, income_items = make_history_worker(items)
    progress(f"{label}: {income_items:,} income items in {time.perf_counter() - started:,.0f} s")
    as_of = HISTORY_END + timedelta(days=1)
    connection.ensure_connection()
    db = connection.connection
    months = db.execute(RAW_MONTHLY_SQL, (worker.pk,)).fetchall()
    if len(months) < 100:
        raise SystemExit(f"the raw query found {len(months)} months, expected 120")

    progress(f"{label}: income_report, median of {runs}")
    report_ms = _median_ms(lambda: reports.income_report(worker, as_of=as_of), runs)
    raw_ms = _median_ms(lambda: db.execute(RAW_MONTHLY_SQL, (worker.pk,)).fetchall(), runs)
    progress(f"{label}: income_report {report_ms:,.1f} ms, raw query {raw_ms:,.1f} ms")

    facts = reports.recent_facts(worker, HISTORY_START, HISTORY_END)
    last = HISTORY_END - timedelta(days=BACKTEST_HORIZON - 1)
    cutoffs = [last - timedelta(days=BACKTEST_STEP_DAYS * k) for k in range(BACKTEST_CUTOFFS)]
    cutoffs.reverse()
    progress(f"{label}: back-testing {len(cutoffs)} cutoffs from {cutoffs[0]} to {cutoffs[-1]}")
    result = forecast.backtest(
        facts, cutoffs, horizon=BACKTEST_HORIZON, seed=BACKTEST_SEED, data_end=HISTORY_END
    )
    progress(f"{label}: coverage of the 80% band {result.day_coverage:.3f}")
    return {
        "items": income_items,
        "runs": runs,
        "report_ms": report_ms,
        "raw_ms": raw_ms,
        "backtest": {
            "cutoffs": len(cutoffs),
            "day_coverage": result.day_coverage,
            "window_coverage": result.window_coverage,
            "below_share": result.below_share,
            "above_share": result.above_share,
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m keel.bench_income")
    parser.add_argument("--worker", choices=("import", "dashboard"), required=True)
    parser.add_argument("--rows", type=int, default=IMPORT_ROWS[1])
    parser.add_argument("--items", type=int, default=DASHBOARD_ITEMS[1])
    parser.add_argument("--runs", type=int, default=DASHBOARD_RUNS)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    from keel.bench_worker import setup_django

    setup_django("sqlite", None)
    if args.worker == "import":
        result = run_import(args.rows, args.out.parent)
    else:
        result = run_dashboard(args.items, args.runs)
    args.out.write_text(json.dumps(result, indent=2))
    progress(f"income/{args.worker}: done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
