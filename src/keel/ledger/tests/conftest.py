from __future__ import annotations

from datetime import date

import pytest

from keel.ledger import services
from keel.ledger.models import Account
from keel.ledger.rules import JournalSpec, LegSpec


@pytest.fixture
def books(db: None) -> dict[str, Account]:
    """A worker's small chart of accounts: cash with a floor, income, fees, a client."""
    return {
        "cash": services.open_account(
            "worker:1:cash", owner_type="worker", owner_id=1, kind="asset", currency="USD", floor=0
        ),
        "savings": services.open_account(
            "worker:1:savings",
            owner_type="worker",
            owner_id=1,
            kind="asset",
            currency="USD",
            floor=0,
        ),
        "income": services.open_account(
            "worker:1:income:upwork",
            owner_type="worker",
            owner_id=1,
            kind="income",
            currency="USD",
        ),
        "fees": services.open_account(
            "worker:1:expenses:fees",
            owner_type="worker",
            owner_id=1,
            kind="expense",
            currency="USD",
        ),
        "eur": services.open_account(
            "worker:1:cash:eur",
            owner_type="worker",
            owner_id=1,
            kind="asset",
            currency="EUR",
            floor=0,
        ),
    }


def journal(
    key: str,
    *legs: tuple[str, int],
    currency: str = "USD",
    kind: str = "income",
    on: date = date(2026, 3, 2),
    memo: str = "",
) -> JournalSpec:
    return JournalSpec(
        idempotency_key=key,
        kind=kind,
        effective_date=on,
        legs=tuple(LegSpec(account, amount, currency) for account, amount in legs),
        memo=memo,
    )
