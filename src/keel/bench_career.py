"""The career figures of `keel bench`, and the child process that measures them.

* `career.mrr.<backend>`: the median time to compute a worker's recurring-revenue report
  (`keel.career.offers.recurring_report`: MRR now, every month's movements, churn and
  the cohort retention table, from one query of the worker's subscription events) for
  10,000 subscribers over five years, beside the median time of one raw SQL aggregate
  over the same event rows (the sum of prices by month, GROUP BY in the database).
  Target: at most 3 times the raw aggregate.

Measured in a child process with its own `KEEL_DATA_DIR` (Django settings are
process-global):

    python -m keel.bench_career --backend sqlite --subscribers 10000 --out r.json
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keel.bench import BenchContext, Figure

SUBSCRIBERS = (10_000, 2_000)  # full, quick
RUNS = (9, 5)
YEARS = 5
FIRST_DAY = date(2021, 1, 1)
MRR_TARGET = 3.0


def career_figures(ctx: BenchContext) -> list[Figure]:
    from keel.bench import _run_worker, make_figure, worker_databases

    subscribers = ctx.size(*SUBSCRIBERS, minimum=100)
    runs = RUNS[1] if ctx.quick else RUNS[0]
    figures = []
    for backend in ctx.backends:
        with worker_databases(ctx, backend, group="career") as target:
            if target is None:
                continue
            env, extra = target
            result = _run_worker(
                ctx,
                env,
                [
                    "--backend",
                    backend,
                    "--subscribers",
                    str(subscribers),
                    "--runs",
                    str(runs),
                    *extra,
                ],
                module="keel.bench_career",
            )
        ctx.note(
            f"career.mrr.{backend}: median of {runs} reports, {result['subscribers']:,}"
            f" subscribers, {result['events']:,} events over {YEARS} years, {result['months']}"
            " months and cohorts, beside a raw GROUP BY month sum of the same events"
        )
        figures.append(
            make_figure(
                f"career.mrr.{backend}",
                value=result["report_ms"],
                baseline=result["raw_ms"],
                unit="ms",
                target=MRR_TARGET,
                better="lower",
                digits=3,
            )
        )
    return figures


# ---------------------------------------------------------------------------- child side


def progress(message: str) -> None:
    print(f"progress: {message}", file=sys.stderr, flush=True)


def lifecycle(rng: random.Random, last_day: date) -> list[tuple[str, date, int | None, str | None]]:
    """One subscriber's events: a start, then plan changes, pauses and resumes, a cancel
    and sometimes a comeback, each a few weeks to months after the one before."""
    span = (last_day - FIRST_DAY).days
    on = FIRST_DAY + timedelta(days=rng.randrange(span))
    interval = rng.choice(("month", "month", "month", "quarter", "year", "week"))
    price = (
        rng.choice((9_00, 19_00, 29_00, 49_00, 99_00))
        * {"week": 1, "month": 1, "quarter": 3, "year": 10}[interval]
        // (4 if interval == "week" else 1)
    )
    events: list[tuple[str, date, int | None, str | None]] = [("start", on, price, interval)]
    status = "active"
    while True:
        on += timedelta(days=rng.randint(20, 300))
        if on > last_day:
            return events
        roll = rng.random()
        if status == "cancelled":
            if roll < 0.3:
                events.append(("start", on, price, interval))
                status = "active"
                continue
            return events
        if roll < 0.25:
            price = max(1_00, price + rng.choice((-10_00, 10_00, 20_00)))
            events.append(("change", on, price, interval))
        elif roll < 0.4 and status == "active":
            events.append(("pause", on, None, None))
            status = "paused"
        elif roll < 0.55 and status == "paused":
            events.append(("resume", on, None, None))
            status = "active"
        elif roll < 0.75:
            events.append(("cancel", on, None, None))
            status = "cancelled"


def build(subscribers: int) -> tuple[int, int, date]:
    from keel.accounts.services import create_worker
    from keel.career import offers
    from keel.career.models import Subscriber, SubscriptionEvent

    worker = create_worker("bench-career@example.org", name="Bench", password=None, currency="EUR")
    offer = offers.create_offer(
        worker, name="Membership", kind="membership", price=19_00, currency="EUR", interval="month"
    )
    last_day = date(FIRST_DAY.year + YEARS, 1, 1) - timedelta(days=1)
    rng = random.Random(20251)
    rows = Subscriber.objects.bulk_create(
        [Subscriber(offer=offer, name=f"S{i}", status="active") for i in range(subscribers)],
        batch_size=2_000,
    )
    events = [
        SubscriptionEvent(
            subscriber=row,
            worker=worker,
            currency="EUR",
            kind=kind,
            on=on,
            price=price,
            interval=interval,
        )
        for row in rows
        for kind, on, price, interval in lifecycle(rng, last_day)
    ]
    SubscriptionEvent.objects.bulk_create(events, batch_size=5_000)
    return worker.pk, len(events), last_day


def raw_aggregate(worker_id: int) -> list[tuple[Any, ...]]:
    """The baseline: the sum of event prices by month, grouped in the database."""
    from django.db import connection

    month = (
        "strftime('%%Y-%%m', \"on\")"
        if connection.vendor == "sqlite"
        else "to_char(\"on\", 'YYYY-MM')"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {month} AS m, COUNT(*), SUM(price) FROM career_subscriptionevent"
            " WHERE worker_id = %s AND currency = %s GROUP BY m ORDER BY m",
            [worker_id, "EUR"],
        )
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    return rows


def measure(backend: str, subscribers: int, runs: int) -> dict[str, Any]:
    from django.core.management import call_command

    from keel.career import offers

    label = f"career/mrr/{backend}"
    progress(f"{label}: migrating")
    call_command("migrate", verbosity=0, interactive=False, database="default")
    progress(f"{label}: {subscribers:,} subscribers over {YEARS} years")
    worker_id, events, last_day = build(subscribers)
    report_seconds, raw_seconds = [], []
    report = offers.recurring_report(worker_id, "EUR", last_day)  # warm-up (and a check)
    if report.subscribers != subscribers:
        raise SystemExit(f"report saw {report.subscribers} subscribers, not {subscribers}")
    raw_aggregate(worker_id)
    for _ in range(runs):
        started = time.perf_counter()
        offers.recurring_report(worker_id, "EUR", last_day)
        report_seconds.append(time.perf_counter() - started)
        started = time.perf_counter()
        raw_aggregate(worker_id)
        raw_seconds.append(time.perf_counter() - started)
    report_ms = statistics.median(report_seconds) * 1e3
    raw_ms = statistics.median(raw_seconds) * 1e3
    progress(f"{label}: report {report_ms:.1f} ms, raw aggregate {raw_ms:.1f} ms")
    return {
        "backend": backend,
        "subscribers": subscribers,
        "events": events,
        "months": len(report.months),
        "report_ms": report_ms,
        "raw_ms": raw_ms,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m keel.bench_career")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--subscribers", type=int, default=SUBSCRIBERS[1])
    parser.add_argument("--runs", type=int, default=RUNS[1])
    parser.add_argument("--raw-database-url")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    from keel.bench_worker import setup_django

    setup_django(args.backend, args.raw_database_url)
    result = measure(args.backend, args.subscribers, args.runs)
    args.out.write_text(json.dumps(result, indent=2))
    progress("career/mrr: done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
