"""What the load test reports from the server's and task runner's logs: one line per
problem, with the exception a traceback ended in and the innermost frame in Keel's code.

A CI run once failed with nothing but "Traceback (most recent call last):" four times in
its table, and the run's directory, which held the rest, was gone with the machine.
"""

from __future__ import annotations

import io
import logging
import sqlite3

from keel.loadtest import runner
from keel.loadtest.runner import log_problems, slow_lock_lines
from keel.sqlite_backend import base


def logged(emit, name: str = "keel.test.log_problems") -> str:
    """What `emit(logger)` writes in the plain format `keel serve` logs in under the load
    test (settings.LOGGING)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def fails_in_keel() -> None:
    # A frame in Keel's own code (keel/loadtest/runner.py) at the bottom of the chain.
    try:
        runner.run_load(backend="mysql", seconds=1)
    except ValueError as exc:
        raise sqlite3.OperationalError("database is locked") from exc


def test_a_record_with_a_chained_traceback_is_one_line_with_its_exception_and_keel_frame():
    def emit(logger: logging.Logger) -> None:
        logger.warning("slow request")  # not a problem
        try:
            try:
                fails_in_keel()
            except sqlite3.OperationalError as exc:
                raise RuntimeError("database is locked") from exc
        except RuntimeError:
            logger.exception("Internal Server Error: /accounts/login/")
        logger.warning("another slow request")

    text = logged(emit)
    record = next(line for line in text.splitlines() if " ERROR " in line)
    assert text.count("Traceback (most recent call last):") == 3
    line = runner.run_load.__code__.co_firstlineno
    source = runner.__loader__.get_source(runner.__name__).splitlines()  # type: ignore[union-attr]
    raised = next(
        i + 1 for i in range(line, len(source)) if 'raise ValueError(f"unknown backend' in source[i]
    )

    assert log_problems(text) == [
        f"{record} | RuntimeError: database is locked"
        f" | at keel/loadtest/runner.py:{raised} in run_load"
    ]


def test_an_error_without_a_traceback_and_a_bare_traceback_are_each_one_problem():
    text = "\n".join(
        [
            "2026-11-29 14:02:00,000 INFO gunicorn.error Booting worker with pid: 7",
            "2026-11-29 14:02:01,000 ERROR keel.api refused: the batch has no events",
            "2026-11-29 14:02:01,500 INFO gunicorn.error Worker exiting (pid: 7)",
            "Traceback (most recent call last):",
            '  File "/usr/lib/python3.11/threading.py", line 1045, in _bootstrap_inner',
            "    self.run()",
            "OSError: [Errno 24] Too many open files",
            "2026-11-29 14:02:02,000 CRITICAL gunicorn.error WORKER TIMEOUT (pid:7)",
            "2026-11-29 14:02:03,000 INFO gunicorn.error Booting worker with pid: 8",
        ]
    )

    assert log_problems(text) == [
        "2026-11-29 14:02:01,000 ERROR keel.api refused: the batch has no events",
        "a traceback | OSError: [Errno 24] Too many open files",
        "2026-11-29 14:02:02,000 CRITICAL gunicorn.error WORKER TIMEOUT (pid:7)",
    ]


def test_a_quiet_log_has_no_problems():
    text = "2026-11-29 14:02:00,000 WARNING keel.request GET / 200 1200.0ms\n"

    assert log_problems(text) == []


def test_the_sqlite_backends_lock_warnings_are_picked_out_and_are_not_problems():
    def emit(logger: logging.Logger) -> None:
        base._warn("held the SQLite write lock for %.1f s", 31.0)
        logging.getLogger("keel.request").warning("slow request")

    text = logged(emit, name=base.logger.name)
    lines = text.splitlines()

    assert len(lines) == 1  # keel.request's warning went elsewhere
    assert slow_lock_lines(text) == lines
    assert " held the SQLite write lock for 31.0 s: " in lines[0]
    assert log_problems(text) == []
