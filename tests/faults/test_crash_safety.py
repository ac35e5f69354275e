"""Crash safety: a bulk import, a batch of earnings events and a monthly gift run, each
stopped at a random point, are then either wholly in the books or not at all; the ledger
verifies; running the job again completes it exactly once, and a third run changes nothing.

Each job runs in a child process with Keel's real settings on a database of its own (see
lab.py and harness.py). Stop points come from a seeded RNG: even seeds stop the job just
before its k-th SQL statement, k drawn from the statements an undisturbed run makes, so the
stop always lands inside the job (on SQLite every statement the database runs counts, the
ledger's bulk INSERTs through the driver and the COMMIT included; on PostgreSQL every
statement through Django's cursor). Odd seeds stop it after a delay drawn from 0 to 1.25
times an undisturbed run's duration, so some land mid-statement and some after the commit.
`make soak` runs many seeds.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import time
from collections import Counter
from typing import Any

import pytest

from .harness import EVENTS, IMPORT_ROWS, JOBS
from .lab import SEEDS, Calibration, Exit, Lab, log_tail

pytestmark = pytest.mark.slow


def first_outcome(job: str) -> dict[str, Any]:
    """What a run reports when it does the whole job."""
    return {
        "import": {"imported": IMPORT_ROWS, "duplicates": 0},
        "events": {"created": EVENTS, "exists": 0},
        "pool": {"created": True},
    }[job]


def replay_outcome(job: str) -> dict[str, Any]:
    """What a run reports when the job was done already: every idempotency key found."""
    return {
        "import": {"imported": 0, "duplicates": IMPORT_ROWS},
        "events": {"created": 0, "exists": EVENTS},
        "pool": {"created": False},
    }[job]


def stop_after(lab: Lab, job: str, delay: float, stop: Any) -> Exit:
    """Start the job and `stop(child_pid, backend_pid)` once `delay` seconds have passed
    since it opened its database connection."""
    pid = lab.fork.submit(op="job", job=job)
    connected = lab.fork.wait_for("connected", pid)
    if connected["event"] == "connected":
        time.sleep(delay)
        stop(pid, connected["backend_pid"])
    return lab.fork.finish(pid)


def sigkill(pid: int, backend_pid: int | None) -> None:
    # The child may have finished and been reaped already.
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def check_whole_or_absent_then_once(
    lab: Lab, job: str, calibration: Calibration, tally: tuple[str, ...], outcomes: Counter
) -> None:
    full = calibration.state
    state = lab.snapshot()
    for other in JOBS:
        if other != job:
            assert state[other] == lab.empty[other]
    assert state[job] in (lab.empty[job], full[job]), (
        f"{job} was partly applied: {state[job]}; whole is {full[job]}\n{log_tail(lab.fork.log)}"
    )
    applied = state[job] == full[job]
    # No stray journal of the job either: the books hold the world's, or those and the job's.
    assert state["ledger"]["journals"] == (full if applied else lab.empty)["ledger"]["journals"]
    outcomes[(*tally, "whole" if applied else "absent")] += 1

    verified = lab.keel("ledger", "verify", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)
    assert (report["ok"], report["problems"]) == (True, [])
    assert report["journals"] == state["ledger"]["journals"]

    rerun = lab.fork.call(op="job", job=job, times=2, snapshots=True)
    assert rerun.code == 0, (rerun.result, log_tail(lab.fork.log))
    second, third = rerun.runs
    assert second["outcome"] == (replay_outcome(job) if applied else first_outcome(job))
    assert second["snapshot"] == full
    assert third["outcome"] == replay_outcome(job)
    assert third["snapshot"] == full


@pytest.mark.parametrize("seed", range(SEEDS))
@pytest.mark.parametrize("job", JOBS)
def test_sigkill_leaves_a_job_whole_or_absent_and_a_rerun_completes_it_once(
    lab: Lab, job: str, seed: int, outcomes: Counter
) -> None:
    calibration = lab.calibrate(job)
    rng = random.Random(f"sigkill:{job}:{seed}")
    lab.restore()
    if seed % 2 == 0:
        at = rng.randint(1, calibration.statements)
        done = lab.fork.call(op="job", job=job, kill_at=at)
        # Killed inside the job, never after it: the statement count stands for the job.
        assert done.code == -signal.SIGKILL, (done, at, calibration.statements)
        mode = "at-statement"
    else:
        done = stop_after(lab, job, rng.uniform(0, 1.25) * calibration.seconds, sigkill)
        assert done.code in (0, -signal.SIGKILL), (done, log_tail(lab.fork.log))
        mode = "after-delay" if done.code else "after-delay-finished-first"
    check_whole_or_absent_then_once(
        lab, job, calibration, (lab.backend, "sigkill", job, mode), outcomes
    )


@pytest.mark.postgres
@pytest.mark.parametrize("seed", range(SEEDS))
@pytest.mark.parametrize("job", JOBS)
def test_dropped_connection_leaves_a_job_whole_or_absent_and_a_rerun_completes_it_once(
    lab: Lab, job: str, seed: int, outcomes: Counter
) -> None:
    assert lab.backend == "postgresql"
    calibration = lab.calibrate(job)
    rng = random.Random(f"drop:{job}:{seed}")
    lab.restore()
    if seed % 2 == 0:
        # Stop before statement k, drop the connection under it, then let it go on: its
        # next statement meets a dead connection and the job fails as a crash would.
        at = rng.randint(1, calibration.statements)
        pid = lab.fork.submit(op="job", job=job, pause_at=at)
        paused = lab.fork.wait_for("paused", pid)
        assert paused["event"] == "paused", paused
        lab.terminate_backend(paused["backend_pid"])
        os.kill(pid, signal.SIGUSR1)
        done = lab.fork.finish(pid)
        assert done.code == 1 and done.result is not None, done
        assert "error" in done.result
        mode = "at-statement"
    else:

        def drop(pid: int, backend_pid: int | None) -> None:
            assert backend_pid is not None
            lab.terminate_backend(backend_pid)

        done = stop_after(lab, job, rng.uniform(0, 1.25) * calibration.seconds, drop)
        assert done.code in (0, 1), (done, log_tail(lab.fork.log))
        mode = "after-delay" if done.code else "after-delay-finished-first"
    check_whole_or_absent_then_once(
        lab, job, calibration, (lab.backend, "dropped", job, mode), outcomes
    )
