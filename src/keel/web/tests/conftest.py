from __future__ import annotations

from datetime import date

import pytest

from keel.accounts.models import Role, User
from keel.accounts.services import grant_role
from keel.ledger import services as ledger
from keel.ledger.rules import JournalSpec, LegSpec


@pytest.fixture
def maya(db: None) -> User:
    user = User.objects.create_user(
        "maya@example.com", "harbour-lantern-42", name="Maya Chen", home_currency="USD"
    )
    grant_role(user, Role.WORKER)
    return user


def open_accounts(user_id: int, owner_type: str = "worker") -> dict[str, str]:
    """A small chart of accounts in two currencies; returns short name -> account code."""
    spec = {
        "cash": ("cash", "asset", "USD", "Cash"),
        "cash_eur": ("cash:eur", "asset", "EUR", ""),
        "benefits": ("benefits:health", "asset", "USD", ""),
        "tax": ("tax:set-aside", "liability", "USD", "Tax set aside"),
        "upwork": ("income:upwork", "income", "USD", "Upwork"),
        "verlag": ("income:verlag", "income", "EUR", "Berliner Verlag"),
        "fees": ("expenses:fees", "expense", "USD", "Platform fees"),
    }
    codes = {}
    for short, (suffix, kind, currency, name) in spec.items():
        code = f"{owner_type}:{user_id}:{suffix}"
        ledger.open_account(
            code, owner_type=owner_type, owner_id=user_id, kind=kind, currency=currency, name=name
        )
        codes[short] = code
    return codes


def post(
    key: str,
    *legs: tuple[str, int],
    currency: str = "USD",
    kind: str = "income",
    on: date = date(2026, 3, 2),
    memo: str = "",
) -> int:
    return ledger.post_journal(
        JournalSpec(
            idempotency_key=key,
            kind=kind,
            effective_date=on,
            legs=tuple(LegSpec(code, amount, currency) for code, amount in legs),
            memo=memo,
        )
    ).id
