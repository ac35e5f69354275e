"""Run the load test's Locust users headless, as a library, and write what they saw.

    python -m keel.loadtest.drive --host http://127.0.0.1:8000 --world world.json \\
        --users 20 --seconds 120 --out stats.json

Locust patches the standard library for gevent when it is imported, so this runs in a
process of its own (keel.loadtest.runner starts it). The result has, per operation and in
total: requests, failures, answers by status code, throughput over the whole run and the
50th, 95th and 99th percentile response times in milliseconds (Locust keeps response
times to 2 significant digits above 100 ms), and the first failures Locust recorded.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PERCENTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}
# Seconds a simulated person may take to finish the task in hand once the time is up: an
# answer still on its way is waited for, so no request is cut off mid-flight.
STOP_TIMEOUT = 60.0
PROGRESS_EVERY = 15.0


def progress(message: str) -> None:
    print(f"progress: {message}", file=sys.stderr, flush=True)


def user_counts(users: int, weights: Sequence[int]) -> list[int]:
    """`users` spread over the classes by weight (largest remainder), at least one each."""
    if users < len(weights):
        raise ValueError(f"the load needs at least {len(weights)} users, one of each kind")
    spare = users - len(weights)
    exact = [spare * w / sum(weights) for w in weights]
    counts = [1 + int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: exact[i] - int(exact[i]), reverse=True)
    for i in by_remainder[: users - sum(counts)]:
        counts[i] += 1
    return counts


def drive(
    host: str, world: dict[str, Any], users: int, seconds: float, spawn_rate: float
) -> dict[str, Any]:
    import gevent
    from locust.env import Environment

    from keel.loadtest import locustfile

    locustfile.use_world(world)
    classes: list[Any] = [locustfile.PlatformUser, locustfile.WorkerUser, locustfile.PoolMemberUser]
    for cls, count in zip(classes, user_counts(users, [c.weight for c in classes]), strict=True):
        cls.fixed_count = count
    env = Environment(user_classes=classes, host=host, stop_timeout=STOP_TIMEOUT)
    statuses: defaultdict[str, Counter[int]] = defaultdict(Counter)

    def on_request(name: str, response: Any = None, **kwargs: Any) -> None:
        # 0: no HTTP answer at all (refused connection, timeout).
        statuses[name][int(getattr(response, "status_code", 0) or 0)] += 1

    env.events.request.add_listener(on_request)  # type: ignore[no-untyped-call]
    runner = env.create_local_runner()
    started = time.monotonic()
    runner.start(users, spawn_rate=spawn_rate)

    def report() -> None:
        while True:
            gevent.sleep(PROGRESS_EVERY)
            total = env.stats.total
            progress(
                f"load: {time.monotonic() - started:,.0f} s, {runner.user_count} users,"
                f" {total.num_requests:,} requests, {total.num_failures:,} failures"
            )

    reporter = gevent.spawn(report)
    gevent.sleep(seconds)
    runner.stop()
    elapsed = time.monotonic() - started
    reporter.kill()
    runner.quit()
    kinds = {cls.__name__: cls.fixed_count for cls in classes}
    result = _result(env, statuses, elapsed, users, kinds)
    result["events_created"] = locustfile.created_events()
    # An exception inside a simulated person (a bug in the traffic, or an answer it could
    # not read) is no request failure in Locust's statistics, but the run did not do what
    # it says: it is reported beside them.
    result["exceptions"] = [
        {"count": row["count"], "message": row["msg"], "traceback": row["traceback"][-2000:]}
        for row in runner.exceptions.values()
    ]
    return result


def _result(
    env: Any,
    statuses: dict[str, Counter[int]],
    elapsed: float,
    users: int,
    kinds: dict[str, int],
) -> dict[str, Any]:
    def row(entry: Any, codes: Counter[int]) -> dict[str, Any]:
        return {
            "operation": entry.name,
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "status_5xx": sum(n for code, n in codes.items() if code >= 500),
            "no_answer": codes.get(0, 0),
            "statuses": {str(code): n for code, n in sorted(codes.items())},
            "rps": round(entry.num_requests / elapsed, 2) if elapsed > 0 else 0.0,
            **{
                key: (
                    round(float(entry.get_response_time_percentile(q)), 1)
                    if entry.num_requests
                    else None
                )
                for key, q in PERCENTILES.items()
            },
        }

    entries = sorted(env.stats.entries.values(), key=lambda e: e.name)
    operations = [row(e, statuses.get(e.name, Counter())) for e in entries]
    everything: Counter[int] = Counter()
    for codes in statuses.values():
        everything.update(codes)
    total = row(env.stats.total, everything) | {"operation": "total"}
    errors = [
        {"operation": e.name, "error": str(e.error), "occurrences": e.occurrences}
        for e in list(env.stats.errors.values())[:20]
    ]
    return {
        "seconds": round(elapsed, 1),
        "users": users,
        "user_classes": kinds,
        "operations": operations,
        "total": total,
        "errors": errors,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--world", type=Path, required=True)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--spawn-rate", type=float, default=5.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    world = json.loads(args.world.read_text(encoding="utf-8"))
    result = drive(args.host, world, args.users, args.seconds, args.spawn_rate)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
