"""Shared gateway fixtures: a worker, a DoorDash-style platform with an operator, and a
link between them. Built through the real services, never with mocks."""

from __future__ import annotations

from datetime import date

import pytest

from keel.accounts.models import User
from keel.accounts.services import create_worker
from keel.gateway import services
from keel.gateway.models import Platform, WorkerLink

PASSWORD = "correct-horse-battery"
# DoorDash's pilots: 4% of pre-tip earnings once $1,000 (excluding tips) is earned in the
# calendar quarter, covering the whole quarter.
DOORDASH = {
    "currency": "USD",
    "rate_bps": 400,
    "threshold": 100_000,
    "threshold_period": "quarter",
    "backdate": True,
}
# Alia: $5 per cleaning, $5 a month at least, time off paid in $120 units.
ALIA = {"currency": "USD", "per_job": 500, "monthly_minimum": 500, "time_off_unit": 12_000}


@pytest.fixture
def worker(db) -> User:
    return create_worker("ana@example.org", name="Ana", password=PASSWORD)


@pytest.fixture
def operator(db) -> User:
    return create_worker("ops@dash.example", name="Dash Ops", password=PASSWORD)


@pytest.fixture
def platform(operator: User) -> Platform:
    return services.create_platform(
        "Dash", operator=operator, policy=DOORDASH, effective_from=date(2026, 1, 1)
    )


@pytest.fixture
def alia(db) -> Platform:
    return services.create_platform("Tidy", policy=ALIA, effective_from=date(2026, 1, 1))


@pytest.fixture
def link(worker: User, platform: Platform) -> WorkerLink:
    return services.link_with_code(platform, "dasher-1", services.create_link_code(worker))


def event(event_id: str, day: str, gross: int, **extra: object) -> dict[str, object]:
    """An earnings event as a platform sends it."""
    return {
        "event_id": event_id,
        "worker_ref": extra.pop("worker_ref", "dasher-1"),
        "occurred_at": f"{day}T12:00:00Z",
        "gross": gross,
        "currency": "USD",
        **extra,
    }
