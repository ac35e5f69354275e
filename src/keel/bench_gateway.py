"""The gateway figures of `keel bench`, and the child processes that measure them.

Each figure sits beside a baseline measured in the same run (see `keel.bench`):

* `gateway.events.inprocess.<backend>`: earnings events per second through
  `gateway.services.record_events` in batches of 1,000, end to end (validation, policy,
  period sums, event rows, ledger journals), beside the raw rate of inserting the same
  journal and leg rows the service wrote (read back after the timed run) into a database of
  the same schema without the ledger's guard triggers, in one transaction: `executemany` on
  SQLite, `COPY` on PostgreSQL (as `ledger.bulk.*` does). Targets 0.40 (SQLite) and 0.50
  (PostgreSQL).
* `gateway.events.http.sqlite`: the same, but every batch of 1,000 is a `POST
  /api/v1/platform/earnings` with a platform key to a real server (gunicorn, as `keel serve`
  runs it) on localhost, beside the same kind of raw rate. Target 0.30.
* `gateway.single.p50` / `gateway.single.p99`: latency of one-event requests under a steady
  load (a few clients sending back to back), beside the median latency of `GET
  /api/v1/health` sent by the same clients, interleaved, to the same server. Target: the
  p99 at most 5 times the trivial median.

The world: one platform with a 4% policy (DoorDash's rate, without the threshold so every
event moves money), workers whose benefits accounts are already open (the steady state),
nine in ten events for linked workers (a journal of six legs: the receivable and five
buckets) and one in ten for references nobody linked yet (two legs, into suspense).

    python -m keel.bench_gateway --worker inprocess --backend sqlite --events 10000 --out r.json
    python -m keel.bench_gateway --worker http --events 10000 --singles 300 --out r.json

This module loads Django only in the child, so `keel.bench` can import it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keel.bench import BenchContext, Figure
    from keel.gateway.models import Platform

EVENTS = (100_000, 10_000)  # full, quick
SINGLES = (2_000, 300)
BATCH = 1_000
WORKERS = (1_000, 200)  # linked workers, full and quick
UNLINKED_SHARE = 0.10
CLIENTS = 2  # concurrent clients for the single-event latency
WARMUP = 20  # single requests per client not counted
INPROCESS_TARGETS = {"sqlite": 0.40, "postgres": 0.50}
HTTP_TARGET = 0.30
SINGLE_TARGET = 5.0
POLICY = {"currency": "USD", "rate_bps": 400}
SERVER_START_SECONDS = 60


# ---------------------------------------------------------------------------- parent side


def gateway_figures(ctx: BenchContext) -> list[Figure]:
    from keel.bench import make_figure

    events = ctx.size(*EVENTS, minimum=50)
    singles = ctx.size(*SINGLES, minimum=20)
    workers = ctx.size(*WORKERS, minimum=10)
    figures: list[Figure] = []
    common = ["--events", str(events), "--workers", str(workers)]
    for backend in ctx.backends:
        with _databases(ctx, backend) as target:
            if target is None:
                continue
            env, extra = target
            result = _run(
                ctx, env, ["--worker", "inprocess", "--backend", backend, *common, *extra]
            )
        figures.append(
            make_figure(
                f"gateway.events.inprocess.{backend}",
                value=result["events"] / result["service_seconds"],
                baseline=result["events"] / result["raw_seconds"],
                unit="events/s",
                target=INPROCESS_TARGETS[backend],
                better="higher",
            )
        )
    if "sqlite" not in ctx.backends:
        ctx.note("gateway: the HTTP and latency figures are measured on SQLite only")
        return figures
    with _databases(ctx, "sqlite") as target:
        assert target is not None
        env, _ = target
        result = _run(
            ctx,
            env,
            ["--worker", "http", *common, "--singles", str(singles), "--clients", str(CLIENTS)],
        )
    single = result["single"]
    ctx.note(
        f"gateway: {result['events']:,} events in batches of {BATCH:,} for"
        f" {workers:,} workers; {single['count']:,} single-event requests from"
        f" {single['clients']} concurrent clients, each followed by a GET /api/v1/health"
    )
    figures.append(
        make_figure(
            "gateway.events.http.sqlite",
            value=result["events"] / result["http_seconds"],
            baseline=result["events"] / result["raw_seconds"],
            unit="events/s",
            target=HTTP_TARGET,
            better="higher",
        )
    )
    for pct in ("p50", "p99"):
        figures.append(
            make_figure(
                f"gateway.single.{pct}",
                value=single["event_ms"][pct],
                baseline=single["trivial_ms"]["p50"],
                unit="ms",
                # The target is on the tail; the median is shown for context.
                target=SINGLE_TARGET if pct == "p99" else None,
                better="lower",
                digits=3,
            )
        )
    return figures


def _databases(
    ctx: BenchContext, backend: str
) -> AbstractContextManager[tuple[dict[str, str], list[str]] | None]:
    from keel.bench import worker_databases

    # The HTTP child serves over plain HTTP on localhost.
    return worker_databases(ctx, backend, group="gateway", extra_env={"KEEL_INSECURE_HTTP": "1"})


def _run(ctx: BenchContext, env: dict[str, str], args: list[str]) -> dict[str, Any]:
    from keel.bench import _run_worker

    return _run_worker(ctx, env, args, module="keel.bench_gateway")


# ---------------------------------------------------------------------------- child side


def progress(message: str) -> None:
    print(f"progress: {message}", file=sys.stderr, flush=True)


def make_world(workers: int) -> tuple[Platform, list[str], list[str]]:
    """The platform, its linked workers' references and some unlinked references."""
    from django.db import transaction

    from keel.accounts.services import create_worker
    from keel.gateway import services

    with transaction.atomic():
        operator = create_worker("ops@bench.example", name="Bench Ops", password=None)
        platform = services.create_platform(
            "Bench Deliveries", operator=operator, policy=POLICY, effective_from=date(2025, 1, 1)
        )
        linked = []
        for n in range(workers):
            worker = create_worker(f"w{n}@bench.example", name=f"Worker {n}", password=None)
            services.benefits_account(worker)
            ref = f"courier-{n:05d}"
            services.link_with_code(platform, ref, services.create_link_code(worker))
            linked.append(ref)
    unlinked = [f"stranger-{n:05d}" for n in range(max(1, workers // 10))]
    return platform, linked, unlinked


def make_events(
    count: int, linked: Sequence[str], unlinked: Sequence[str], *, prefix: str, seed: int
) -> list[dict[str, Any]]:
    """Events as a platform sends them (JSON-ready), in time order over 2025."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    span = 360 * 24 * 3600
    events = []
    for index in range(count):
        ref = rng.choice(linked)
        if unlinked and rng.random() < UNLINKED_SHARE:
            ref = rng.choice(unlinked)
        moment = start + timedelta(seconds=index * span // max(count, 1))
        event: dict[str, Any] = {
            "event_id": f"{prefix}-{index:09d}",
            "worker_ref": ref,
            "occurred_at": moment.isoformat().replace("+00:00", "Z"),
            "gross": rng.randrange(500, 6_000),
            "currency": "USD",
            "jobs": 1,
            "description": "delivery",
        }
        if rng.random() < 0.4:
            event["tips"] = rng.randrange(100, 800)
        events.append(event)
    return events


def batches(events: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [list(events[i : i + BATCH]) for i in range(0, len(events), BATCH)]


def ledger_rows(
    journal_ids: list[int] | None = None,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The leg and journal rows of `journal_ids` (every one when None) in the default
    database, in the column order `bench_worker.raw_load` takes (dates as dates, metadata
    as JSON text)."""
    from keel.ledger.models import Journal, Leg
    from keel.ledger.services import JOURNAL_COLUMNS, LEG_COLUMNS

    legs = Leg.objects.order_by("id")
    journal_rows = Journal.objects.order_by("id")
    if journal_ids is not None:
        legs = legs.filter(journal_id__in=journal_ids)
        journal_rows = journal_rows.filter(id__in=journal_ids)
    journals = []
    meta = JOURNAL_COLUMNS.index("metadata")
    for row in journal_rows.values_list(*JOURNAL_COLUMNS):
        values = list(row)
        values[meta] = json.dumps(values[meta])
        journals.append(tuple(values))
    return list(legs.values_list(*LEG_COLUMNS)), journals


def copy_accounts() -> None:
    """The accounts, ids included, into the raw database (legs point at them), with the
    statistics the service's database has of them. Without those the raw insert's foreign-
    key checks were planned differently: on the pools bench's 152 accounts, an index scan
    in the raw database against a sequential scan (the cheaper plan by the statistics) in
    the service's, 0.94 ms against 2.3 ms for the same 230 checks. The figure would then
    measure two plans, not the ledger's work."""
    from keel.bench_worker import analyze_like_autovacuum
    from keel.ledger.models import Account

    Account.objects.using("raw").bulk_create(list(Account.objects.order_by("id")))
    analyze_like_autovacuum("accounts copied", using="raw", table=Account._meta.db_table)


def raw_seconds(label: str) -> tuple[float, int, int]:
    from keel.bench_worker import raw_load

    legs, journals = ledger_rows()
    copy_accounts()
    progress(f"{label}: raw baseline: {len(journals):,} journals, {len(legs):,} legs")
    return raw_load(legs, journals), len(journals), len(legs)


def check_events(result: Any, expected: int) -> None:
    if result.created != expected:
        raise SystemExit(f"expected {expected} created events, got {result.created}")


def run_inprocess(backend: str, count: int, workers: int) -> dict[str, Any]:
    from keel.bench_worker import analyze_like_autovacuum, drop_guard_triggers, migrate
    from keel.gateway import services
    from keel.ledger.services import verify

    label = f"gateway/inprocess/{backend}"
    migrate(label)
    drop_guard_triggers()
    progress(f"{label}: {workers:,} linked workers")
    platform, linked, unlinked = make_world(workers)
    analyze_like_autovacuum(label)
    events = make_events(count, linked, unlinked, prefix="ev", seed=1)
    chunks = batches(events)
    progress(f"{label}: {count:,} events in {len(chunks):,} batches through record_events")
    started = time.perf_counter()
    for chunk in chunks:
        check_events(services.record_events(platform, chunk), len(chunk))
    service_seconds = time.perf_counter() - started
    progress(f"{label}: service {count / service_seconds:,.0f} events/s")
    raw, journals, legs = raw_seconds(label)
    progress(f"{label}: raw baseline {count / raw:,.0f} events/s")
    report = verify()
    if not report.ok:
        raise SystemExit(f"ledger verify failed: {report.problems[:3]}")
    return {
        "backend": backend,
        "events": count,
        "journals": journals,
        "legs": legs,
        "service_seconds": service_seconds,
        "raw_seconds": raw,
    }


# ---------------------------------------------------------------------------- http


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def server(data_dir: Path, port: int) -> Iterator[None]:
    """gunicorn serving Keel on localhost, configured as `keel serve` configures it
    (gthread workers), without the access log."""
    log = (data_dir / "server.log").open("w")
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "keel.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--threads",
        "4",
        "--worker-class",
        "gthread",
        "--timeout",
        "120",
        "--log-level",
        "warning",
    ]
    child = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
        command, stdout=log, stderr=subprocess.STDOUT, cwd=data_dir, env=dict(os.environ)
    )
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if child.poll() is not None:
                raise SystemExit(f"the server exited: {(data_dir / 'server.log').read_text()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/api/v1/health")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not answer /api/v1/health in time")
            time.sleep(0.1)
        yield
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover
            child.kill()
            child.wait()
        log.close()


class Client:
    """One keep-alive connection to the server."""

    def __init__(self, port: int, key: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.conn.request("POST", path, body, self.headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def get(self, path: str) -> tuple[int, bytes]:
        self.conn.request("GET", path)
        response = self.conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.conn.close()


def percentile(samples_ns: Sequence[int], fraction: float) -> float:
    from keel.bench_worker import percentile as nearest_rank

    return nearest_rank(samples_ns, fraction)


def single_latency(
    port: int, key: str, linked: Sequence[str], count: int, clients: int
) -> dict[str, Any]:
    """`clients` threads, each sending one-event POSTs back to back, every one followed by
    a GET /api/v1/health; both latencies recorded after a warm-up."""
    per_client = max(1, count // clients)
    event_ns: list[int] = []
    trivial_ns: list[int] = []
    failures: list[str] = []
    lock = threading.Lock()

    def run(number: int) -> None:
        client = Client(port, key)
        events = make_events(
            per_client + WARMUP, linked, (), prefix=f"single-{number}", seed=10 + number
        )
        mine: list[tuple[int, int]] = []
        try:
            for index, event in enumerate(events):
                event["occurred_at"] = "2025-12-31T12:00:00Z"
                body = json.dumps({"events": [event]}).encode()
                started = time.perf_counter_ns()
                status, data = client.post("/api/v1/platform/earnings", body)
                posted = time.perf_counter_ns() - started
                if status != 200:
                    raise RuntimeError(f"single event: HTTP {status}: {data[:300]!r}")
                started = time.perf_counter_ns()
                status, data = client.get("/api/v1/health")
                trivial = time.perf_counter_ns() - started
                if status != 200:
                    raise RuntimeError(f"health: HTTP {status}: {data[:300]!r}")
                if index >= WARMUP:
                    mine.append((posted, trivial))
        except Exception as exc:
            with lock:
                failures.append(str(exc))
        finally:
            client.close()
        with lock:
            event_ns.extend(p for p, _ in mine)
            trivial_ns.extend(t for _, t in mine)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(failures[0])
    return {
        "count": len(event_ns),
        "clients": clients,
        "event_ms": {"p50": percentile(event_ns, 0.50), "p99": percentile(event_ns, 0.99)},
        "trivial_ms": {"p50": percentile(trivial_ns, 0.50), "p99": percentile(trivial_ns, 0.99)},
    }


def run_http(
    count: int, workers: int, singles: int, clients: int, data_dir: Path
) -> dict[str, Any]:
    from django.db import connections

    from keel.bench_worker import drop_guard_triggers, migrate
    from keel.gateway import services
    from keel.gateway.models import EarningsEvent

    label = "gateway/http/sqlite"
    migrate(label)
    drop_guard_triggers()
    progress(f"{label}: {workers:,} linked workers")
    platform, linked, unlinked = make_world(workers)
    _, key = services.create_platform_key(
        platform, platform.operators.get(), "bench", ["earnings:write"]
    )
    events = make_events(count, linked, unlinked, prefix="ev", seed=1)
    # Encoded ahead of time: the client's JSON encoding is not the server's work.
    bodies = [json.dumps({"events": chunk}).encode() for chunk in batches(events)]
    connections.close_all()
    port = free_port()
    progress(f"{label}: starting gunicorn on 127.0.0.1:{port}")
    with server(data_dir, port):
        client = Client(port, key)
        progress(f"{label}: POSTing {count:,} events in {len(bodies):,} batches")
        started = time.perf_counter()
        for body in bodies:
            status, data = client.post("/api/v1/platform/earnings", body)
            if status != 200:
                raise SystemExit(f"batch refused: HTTP {status}: {data[:500]!r}")
        http_seconds = time.perf_counter() - started
        client.close()
        progress(f"{label}: {count / http_seconds:,.0f} events/s over HTTP")
        if EarningsEvent.objects.count() != count:
            raise SystemExit("the server did not record every event")
        raw, journals, legs = raw_seconds(label)
        progress(f"{label}: raw baseline {count / raw:,.0f} events/s")
        connections.close_all()
        progress(f"{label}: {singles:,} single-event requests from {clients} clients")
        single = single_latency(port, key, linked, singles, clients)
        progress(
            f"{label}: single event p50 {single['event_ms']['p50']:.2f} ms, p99"
            f" {single['event_ms']['p99']:.2f} ms; health p50"
            f" {single['trivial_ms']['p50']:.2f} ms"
        )
    return {
        "events": count,
        "journals": journals,
        "legs": legs,
        "http_seconds": http_seconds,
        "raw_seconds": raw,
        "single": single,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m keel.bench_gateway")
    parser.add_argument("--worker", choices=("inprocess", "http"), required=True)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--events", type=int, default=EVENTS[1])
    parser.add_argument("--workers", type=int, default=WORKERS[1])
    parser.add_argument("--singles", type=int, default=SINGLES[1])
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--raw-database-url")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    from keel.bench_worker import setup_django

    backend = args.backend if args.worker == "inprocess" else "sqlite"
    setup_django(backend, args.raw_database_url)
    if args.worker == "inprocess":
        result = run_inprocess(backend, args.events, args.workers)
    else:
        result = run_http(args.events, args.workers, args.singles, args.clients, args.out.parent)
    args.out.write_text(json.dumps(result, indent=2))
    progress(f"gateway/{args.worker}: done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
