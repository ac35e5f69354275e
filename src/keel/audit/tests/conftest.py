"""Fixtures of the audit log's tests: people built through the real services, and a way to
read back the events an action left, field by field."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from keel.accounts.models import User
from keel.accounts.services import create_worker
from keel.audit.models import AuditEvent

PASSWORD = "quiet-harbour-1987"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) KeelTest/1.0"
ADDRESS = "203.0.113.9"

FIELDS = (
    "action",
    "actor_id",
    "actor_label",
    "subject",
    "pool_id",
    "platform_id",
    "worker_id",
    "remote_ip",
    "user_agent",
    "details",
)


def person(email: str, name: str, *, currency: str = "EUR") -> User:
    return create_worker(email, name=name, password=PASSWORD, currency=currency)


def recorded(*actions: str) -> list[dict[str, Any]]:
    """The events with these actions (every event without any), oldest first, as dicts."""
    rows = AuditEvent.objects.order_by("id")
    if actions:
        rows = rows.filter(action__in=actions)
    return [dict(zip(FIELDS, values, strict=True)) for values in rows.values_list(*FIELDS)]


def event(action: str, **fields: Any) -> dict[str, Any]:
    """The dict `recorded` returns for an event, with every field not given empty."""
    empty: dict[str, Any] = {
        "actor_id": None,
        "actor_label": "",
        "subject": "",
        "pool_id": None,
        "platform_id": None,
        "worker_id": None,
        "remote_ip": None,
        "user_agent": "",
        "details": {},
    }
    return {"action": action, **empty, **fields}


def every_audit_value() -> str:
    """Every column of every audit row as one text, to look for secrets in."""
    return "\n".join(
        str(value)
        for row in AuditEvent.objects.values_list(*FIELDS, "occurred_at")
        for value in row
    )


@pytest.fixture
def alice(db: None) -> User:
    return person("alice@example.org", "Alice Adeyemi")


@pytest.fixture
def bob(db: None) -> User:
    return person("bob@example.org", "Bob Brennan")


@pytest.fixture
def operator(db: None) -> User:
    """Staff: may read the audit log."""
    return User.objects.create_user(
        "ops@keel.example", PASSWORD, name="Olu Operator", is_staff=True
    )


@pytest.fixture
def browser() -> Client:
    """A browser at a fixed address with a fixed user agent."""
    return Client(REMOTE_ADDR=ADDRESS, headers={"User-Agent": BROWSER})


def logged_in(user: User) -> Client:
    client = Client(REMOTE_ADDR=ADDRESS, headers={"User-Agent": BROWSER})
    client.force_login(user)
    return client
