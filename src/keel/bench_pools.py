"""The pools figures of `keel bench`, and the child process that measures the gift run.

* `pools.simulate`: member-months per second of the solvency simulator
  (`keel.pools.rules.simulate`) on 100,000 scenarios x 60 months x 50 members, beside the
  plain-Python reference of the same model on 1,000 scenarios in the same run. Target:
  at least 30 times the reference.
* `pools.gift_run.<backend>`: the median time of one monthly gift run
  (`keel.pools.services.run_month`) of a 50-member sick-leave fund with five open claims,
  every run paying all five, beside the median time of inserting the same journals and
  legs raw (read back after each run and inserted right after it, so both see the disk
  alike), in one transaction, into a database of the same schema without the ledger's
  guard triggers, which holds the fund's accounts and its ledger history so far, as the
  service's does (an insert into bigger indexes costs more). On PostgreSQL both databases
  are analyzed first, as autovacuum keeps them on a running server, so both sides plan
  the legs' foreign-key checks alike. Target: at most 2 times the raw insert.

The gift run is measured in a child process with its own `KEEL_DATA_DIR` (Django settings
are process-global):

    python -m keel.bench_pools --backend sqlite --months 6 --out r.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keel.bench import BenchContext, Figure

SCENARIOS = (100_000, 10_000)  # full, quick
REFERENCE_SCENARIOS = (1_000, 200)
MONTHS = 60
MEMBERS = 50
SIMULATE_TARGET = 30.0
GIFT_RUN_TARGET = 2.0
GIFT_RUN_MONTHS = (12, 6)
CLAIMS = 5
# Months of deposits before the runs (the reserve cap): reserves that carry five claims
# through every timed run, so each run pays all five.
DEPOSITS = 36


def pools_figures(ctx: BenchContext) -> list[Figure]:
    from keel.bench import make_figure, worker_databases
    from keel.pools.bench_pools import bench_simulation

    scenarios = ctx.size(*SCENARIOS, minimum=500)
    reference = ctx.size(*REFERENCE_SCENARIOS, minimum=20)
    ctx.progress(f"pools: simulating {scenarios:,} scenarios and {reference:,} in the reference")
    sim = bench_simulation(
        scenarios=scenarios, months=MONTHS, members=MEMBERS, reference_scenarios=reference
    )
    ctx.note(
        f"pools.simulate: {scenarios:,} scenarios x {MONTHS} months x {MEMBERS} members beside"
        f" the plain-Python reference on {reference:,} scenarios of the same model"
    )
    figures = [
        make_figure(
            "pools.simulate",
            value=sim["fast_member_months_per_second"],
            baseline=sim["reference_member_months_per_second"],
            unit="member-months/s",
            target=SIMULATE_TARGET,
            better="higher",
            digits=0,
        )
    ]
    months = ctx.size(*GIFT_RUN_MONTHS, minimum=2)
    for backend in ctx.backends:
        with worker_databases(ctx, backend, group="pools") as target:
            if target is None:
                continue
            env, extra = target
            from keel.bench import _run_worker

            result = _run_worker(
                ctx,
                env,
                ["--backend", backend, "--months", str(months), *extra],
                module="keel.bench_pools",
            )
        ctx.note(
            f"pools.gift_run.{backend}: median of {months} monthly runs, {MEMBERS} members,"
            f" {CLAIMS} open claims, {result['journals_per_run']} journals and"
            f" {result['legs_per_run']} legs a run"
        )
        figures.append(
            make_figure(
                f"pools.gift_run.{backend}",
                value=result["run_ms"],
                baseline=result["raw_ms"],
                unit="ms",
                target=GIFT_RUN_TARGET,
                better="lower",
                digits=3,
            )
        )
    return figures


# ---------------------------------------------------------------------------- child side


def progress(message: str) -> None:
    print(f"progress: {message}", file=sys.stderr, flush=True)


def build_fund(start: date) -> Any:
    from keel.accounts.services import create_worker
    from keel.pools import services
    from keel.pools.rules.gifts import add_months
    from keel.pools.rules.pool_rules import broodfonds_default, rules_to_json

    tiers = broodfonds_default("EUR").tiers
    people = [
        create_worker(f"bench{i}@example.org", name=f"B{i}", password=None, currency="EUR")
        for i in range(MEMBERS)
    ]
    rules = rules_to_json(broodfonds_default("EUR")) | {"admission_by_vote": False}
    pool = services.create_pool(
        people[0], name="Bench fund", rules=rules, tier_gift=tiers[0], today=start
    )
    for i, person in enumerate(people[1:], start=1):
        services.apply(pool, person, tier_gift=tiers[i % len(tiers)], today=start)
    members = services.active_members(pool)
    for k in range(DEPOSITS):
        month = add_months(start, k)
        for member in members:
            services.pay_deposit(member, month, on=month)
    claim_start = add_months(start, DEPOSITS - 2)
    for c in range(CLAIMS):
        claimant = members[c * 7]
        claim = services.report_claim(claimant, start_date=claim_start, today=claim_start)
        for approver in members[c * 7 + 1 : c * 7 + 4]:
            services.decide_claim(claim, approver.user, "approve")
    return pool, add_months(start, DEPOSITS)


def run_gift_runs(backend: str, months: int) -> dict[str, Any]:
    from keel.bench_gateway import copy_accounts, ledger_rows
    from keel.bench_worker import analyze_like_autovacuum, drop_guard_triggers, migrate, raw_load
    from keel.ledger.services import verify
    from keel.pools import services
    from keel.pools.rules.gifts import add_months

    label = f"pools/gift_run/{backend}"
    migrate(label)
    drop_guard_triggers()
    progress(f"{label}: {MEMBERS} members, {DEPOSITS} months of deposits, {CLAIMS} claims")
    pool, first = build_fund(date(2023, 1, 1))
    analyze_like_autovacuum(label)
    copy_accounts()
    # The fund's history too (its deposits and claims' journals), so that the raw insert
    # meets tables and indexes of the same size as the run's.
    legs, journals = ledger_rows()
    raw_load(legs, journals)
    analyze_like_autovacuum(label, using="raw")
    today = add_months(first, months)
    run_seconds, raw_runs = [], []
    journals_per_run = legs_per_run = 0
    # Each run is followed by the raw insert of what it wrote, so that both figures see
    # the same state of the disk (a commit's fsync time drifts over a minute).
    for k in range(months):
        month = add_months(first, k)
        started = time.perf_counter()
        result = services.run_month(pool, month, today=today)
        run_seconds.append(time.perf_counter() - started)
        legs, journals = _gift_rows(month)
        if not result.created or len(journals) != CLAIMS:
            raise SystemExit(
                f"the gift run of {month:%Y-%m} paid {len(journals)} of {CLAIMS} claims"
            )
        journals_per_run, legs_per_run = len(journals), len(legs)
        raw_runs.append(raw_load(legs, journals))
    progress(f"{label}: {months} gift runs, median {statistics.median(run_seconds) * 1e3:.2f} ms")
    progress(
        f"{label}: run ms {[round(x * 1e3, 2) for x in run_seconds]},"
        f" raw ms {[round(x * 1e3, 2) for x in raw_runs]}"
    )
    report = verify()
    if not report.ok:
        raise SystemExit(f"ledger verify failed: {report.problems[:3]}")
    return {
        "backend": backend,
        "months": months,
        "journals_per_run": journals_per_run,
        "legs_per_run": legs_per_run,
        "run_ms": statistics.median(run_seconds) * 1e3,
        "raw_ms": statistics.median(raw_runs) * 1e3,
    }


def _gift_rows(month: date) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The legs and journals a month's gift run wrote, in the column order raw_load takes."""
    from keel.bench_gateway import ledger_rows
    from keel.ledger.models import Journal

    ids = Journal.objects.filter(kind="pool.gift", metadata__month=f"{month:%Y-%m}")
    return ledger_rows(list(ids.values_list("id", flat=True)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m keel.bench_pools")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--months", type=int, default=GIFT_RUN_MONTHS[1])
    parser.add_argument("--raw-database-url")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    from keel.bench_worker import setup_django

    setup_django(args.backend, args.raw_database_url)
    result = run_gift_runs(args.backend, args.months)
    args.out.write_text(json.dumps(result, indent=2))
    progress("pools/gift_run: done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
