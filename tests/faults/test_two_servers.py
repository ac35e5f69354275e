"""Two `keel serve` processes on one database (on the SQLite pass: one SQLite file) under
concurrent writes: every request is answered 200, no "database is locked" reaches a client
or a log, and the books hold exactly what was sent, once.

Eight client threads post small batches of earnings events for the lab's platform to
either server for SERVE_SECONDS (`make soak` runs longer). A fifth of the batches go to
both servers at the same moment and some finished batches are sent again later, so the
servers also race each other on the same idempotency keys.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from .harness import JOBS, worker_refs
from .lab import ROOT, SERVE_SECONDS, Lab, log_tail

pytestmark = pytest.mark.slow

CLIENTS = 8
# Proxies from the environment must not see requests to the servers on this machine.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_server(lab: Lab, n: int, tmp_path: Path) -> Server:
    port, log = free_port(), tmp_path / f"server-{n}.log"
    runtime = tmp_path / f"runtime-{n}"
    runtime.mkdir()
    env = lab.env | {
        "KEEL_INSECURE_HTTP": "1",
        "KEEL_LOG_LEVEL": "INFO",
        # gunicorn's control socket, otherwise one path per user for every server on the
        # machine (the second server would take the first one's).
        "XDG_RUNTIME_DIR": str(runtime),
        # One platform key sends every batch, faster than a real platform's budget allows;
        # what is tested here is the database, not the per-key rate limit.
        "KEEL_API_KEY_RATE": "1000000/m",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "keel", "serve", "--port", str(port), "--workers", "1"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(port, process, log)


def wait_until_up(server: Server, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"keel serve exited\n{log_tail(server.log)}")
        try:
            with OPENER.open(f"{server.url}/api/v1/health", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise AssertionError(f"keel serve did not answer in {timeout:.0f} s\n{log_tail(server.log)}")


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        # gunicorn stops gracefully on SIGTERM; `keel serve` then stops its task runner.
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


@dataclass
class Answer:
    server: int
    status: int
    body: str
    event_ids: list[str]

    def events(self) -> list[dict[str, Any]]:
        return list(json.loads(self.body)["events"])


def post_events(server: Server, key: str, events: list[dict[str, Any]], n: int) -> Answer:
    request = urllib.request.Request(  # noqa: S310 - an http:// URL built here
        f"{server.url}/api/v1/platform/earnings",
        data=json.dumps({"events": events}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    ids = [e["event_id"] for e in events]
    try:
        with OPENER.open(request, timeout=120) as answer:
            return Answer(n, answer.status, answer.read().decode(), ids)
    except urllib.error.HTTPError as exc:
        return Answer(n, exc.code, exc.read().decode(errors="replace"), ids)


def fire(servers: list[Server], key: str, seconds: float) -> list[Answer]:
    """Concurrent batches at both servers for `seconds`; every answer."""
    numbers = itertools.count()
    refs = worker_refs()
    start = datetime(2025, 6, 1, tzinfo=UTC)
    answers: list[Answer] = []
    sent: list[list[dict[str, Any]]] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def event(rng: random.Random) -> dict[str, Any]:
        n = next(numbers)
        return {
            "event_id": f"served-{n}",
            "worker_ref": rng.choice(refs),
            "occurred_at": (start + timedelta(minutes=7 * n)).isoformat(),
            "gross": rng.randint(300, 6000),
            "currency": "USD",
        }

    def client(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < deadline:
            with lock:
                replay = rng.choice(sent) if sent and rng.random() < 0.1 else None
            batch = replay or [event(rng) for _ in range(rng.randint(1, 8))]
            if replay is None and rng.random() < 0.2:
                # The same new batch at both servers at once.
                with ThreadPoolExecutor(2) as both:
                    got = list(both.map(post_events, servers, [key] * 2, [batch] * 2, (0, 1)))
            else:
                n = rng.randrange(2)
                got = [post_events(servers[n], key, batch, n)]
            with lock:
                answers.extend(got)
                if replay is None:
                    sent.append(batch)

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))
    return answers


def test_two_servers_on_one_database_answer_every_concurrent_write_and_lose_nothing(
    lab: Lab, tmp_path: Path, outcomes: Counter
) -> None:
    lab.restore()
    servers = [start_server(lab, n, tmp_path) for n in (1, 2)]
    try:
        for server in servers:
            wait_until_up(server)
        answers = fire(servers, lab.world["platform_key"], SERVE_SECONDS)
    finally:
        for server in servers:
            stop_server(server)

    failed = [(a.server, a.status, a.body[:300]) for a in answers if a.status != 200]
    assert failed == []
    assert not [a for a in answers if "database is locked" in a.body]
    for server in servers:
        log = server.log.read_text(errors="replace")
        assert "database is locked" not in log
        assert "Traceback" not in log, log_tail(server.log, 80)
    assert {a.server for a in answers} == {0, 1}

    # Each event was created by exactly one answer, whichever server gave it and however
    # often it was sent; every other answer for it reported the same contribution.
    created: dict[str, int] = {}
    contributions: dict[str, set[int]] = {}
    for answer in answers:
        for result in answer.events():
            contributions.setdefault(result["event_id"], set()).add(result["contribution"])
            if result["status"] == "created":
                created[result["event_id"]] = created.get(result["event_id"], 0) + 1
    sent_ids = {event_id for a in answers for event_id in a.event_ids}
    outcomes[(lab.backend, "two-servers", "requests answered")] += len(answers)
    outcomes[(lab.backend, "two-servers", "events sent")] += len(sent_ids)
    assert created == dict.fromkeys(sent_ids, 1)
    assert all(len(amounts) == 1 for amounts in contributions.values())

    state = lab.snapshot()
    total = sum(next(iter(amounts)) for amounts in contributions.values())
    assert state["events"] == {
        "events": len(sent_ids),
        "contributions": total,
        "with_journal": len(sent_ids),
        "dangling": 0,
        "journals": len(sent_ids),
    }
    for job in JOBS:
        if job != "events":
            assert state[job] == lab.empty[job]
    verified = lab.keel("ledger", "verify", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)
    assert (report["ok"], report["problems"]) == (True, [])
    assert report["journals"] == state["ledger"]["journals"]
