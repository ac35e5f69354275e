from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from django.test import Client

from keel.accounts.models import User
from keel.api import services
from keel.api.models import ApiKey
from keel.ledger import services as ledger
from keel.ledger.rules import JournalSpec, LegSpec


@pytest.fixture
def alice(db: None) -> User:
    return User.objects.create_user("alice@example.org", "correct horse 1", name="Alice Adeyemi")


@pytest.fixture
def bob(db: None) -> User:
    return User.objects.create_user("bob@example.org", "correct horse 2", name="Bob Brennan")


@pytest.fixture
def session(alice: User) -> Client:
    """Alice in her browser. CSRF is enforced, as it is for a real browser."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    return client


MakeKey = Callable[..., tuple[ApiKey, str]]


@pytest.fixture
def make_key(alice: User) -> MakeKey:
    def make(
        scopes: tuple[str, ...] = ("ledger:read",), user: User | None = None, name: str = "script"
    ) -> tuple[ApiKey, str]:
        return services.create_key(user or alice, name, list(scopes))

    return make


def key_client(plaintext: str, *, header: str = "bearer") -> Client:
    if header == "bearer":
        return Client(headers={"Authorization": f"Bearer {plaintext}"})
    return Client(headers={"X-API-Key": plaintext})


def open_worker_books(user: User) -> dict[str, str]:
    """A worker's cash (floor 0), Upwork income and fees in USD, and a EUR wallet."""
    uid = user.pk
    codes = {
        "cash": (f"worker:{uid}:cash", "asset", "USD", 0),
        "income": (f"worker:{uid}:income:upwork", "income", "USD", None),
        "fees": (f"worker:{uid}:expenses:fees", "expense", "USD", None),
        "eur": (f"worker:{uid}:cash:eur", "asset", "EUR", 0),
    }
    for code, kind, currency, floor in codes.values():
        ledger.open_account(
            code, owner_type="worker", owner_id=uid, kind=kind, currency=currency, floor=floor
        )
    return {name: spec[0] for name, spec in codes.items()}


def post(
    key: str,
    *legs: tuple[str, int],
    currency: str = "USD",
    on: date = date(2026, 3, 2),
    memo: str = "",
    metadata: dict[str, object] | None = None,
) -> int:
    return ledger.post_journal(
        JournalSpec(
            idempotency_key=key,
            kind="income",
            effective_date=on,
            legs=tuple(LegSpec(account, amount, currency) for account, amount in legs),
            memo=memo,
            metadata=metadata or {},
        )
    ).id


@pytest.fixture
def alice_books(alice: User) -> dict[str, str]:
    return open_worker_books(alice)


@pytest.fixture
def bob_books(bob: User) -> dict[str, str]:
    return open_worker_books(bob)


def csrf_token(client: Client) -> str:
    """Give the client a CSRF cookie and return the token to send back in X-CSRFToken."""
    token = "abcdefghijklmnopqrstuvwxyzABCDEF"  # 32 characters from the allowed alphabet
    client.cookies["csrftoken"] = token
    return token
