from __future__ import annotations

import os
from typing import Any

import pytest
from django.db import connections
from django.test import TransactionTestCase

from keel.ledger.guards import ledger_purge

_original_teardown = TransactionTestCase._fixture_teardown


def _teardown_with_purge(self: Any) -> None:
    # Ledger tables refuse DELETE and TRUNCATE; the flush between transactional tests is
    # the one place allowed to empty them.
    with ledger_purge(connections["default"]):
        _original_teardown(self)


TransactionTestCase._fixture_teardown = _teardown_with_purge  # type: ignore[method-assign]


def on_postgres() -> bool:
    return connections["default"].vendor == "postgresql"


@pytest.fixture
def under_ci() -> bool:
    return os.environ.get("CI") == "true"
