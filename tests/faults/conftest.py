"""Fixtures of the fault tests: one lab (database, template, fork server) per session, on
the backend of this pass of the suite, and a tally of where the kills landed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from .lab import Lab, pass_backend

# (backend, test, job, how it was stopped, what it left) -> runs
OUTCOMES: Counter[tuple[str, ...]] = Counter()


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    made = Lab.create(pass_backend(), Path(tmp_path_factory.mktemp("faults")))
    yield made
    made.close()


@pytest.fixture
def outcomes() -> Counter[tuple[str, ...]]:
    return OUTCOMES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # Where the faults landed is worth seeing after a soak: a campaign whose kills all fell
    # before the transaction or after its commit would prove little.
    if not OUTCOMES:
        return
    terminalreporter.section("fault campaign")
    for key, runs in sorted(OUTCOMES.items()):
        terminalreporter.write_line(f"{' '.join(key)}: {runs}")
