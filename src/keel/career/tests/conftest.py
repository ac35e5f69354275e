"""Fixtures of the contract tests: workers and contracts built through the real services
(never mocks). Amounts are euro cents: 100_000 is EUR 1,000.00."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.test import Client

from keel.accounts.models import User
from keel.accounts.services import create_worker
from keel.career import services
from keel.career.models import Contract, Milestone
from keel.career.services import MilestoneInput

PASSWORD = "quiet-harbour-1987"
MARCH_1 = date(2026, 3, 1)


def person(email: str, name: str, currency: str = "EUR") -> User:
    return create_worker(email, name=name, password=PASSWORD, currency=currency)


def make_contract(worker: User, *amounts: int, **changes: Any) -> Contract:
    """A contract with Acme Studio with one milestone per amount, due on the last day of
    March, April, May…"""
    due = [date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31), date(2026, 6, 30)]
    fields: dict[str, Any] = {
        "title": "Website redesign",
        "client_name": "Acme Studio",
        "client_email": "pay@acme.example",
        "currency": "EUR",
        "credit_limit": 150_000,
        "milestones": [
            MilestoneInput(f"Part {i + 1}", amount, due_on=due[i % len(due)])
            for i, amount in enumerate(amounts or (100_000, 200_000))
        ],
    }
    fields.update(changes)
    return services.create_contract(worker, **fields)


def milestones(contract: Contract) -> list[Milestone]:
    return list(contract.milestones.order_by("sequence"))


@pytest.fixture
def maya(db: None) -> User:
    return person("maya@example.org", "Maya Maker")


@pytest.fixture
def noor(db: None) -> User:
    return person("noor@example.org", "Noor Other")


@pytest.fixture
def contract(maya: User) -> Contract:
    return make_contract(maya, 100_000, 200_000)


@pytest.fixture
def login() -> Callable[[User | None], Client]:
    def make(user: User | None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make
