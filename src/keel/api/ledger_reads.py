"""Reads of the ledger that the API needs and `keel.ledger.services` does not offer (yet).

Kept apart from the key services so the ledger's owner can move them into
`ledger/services.py` unchanged. Everything here is scoped to one owner (a worker, or the
platform a key belongs to): an account or journal of anybody else is indistinguishable
from one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import Prefetch

from keel.ledger import services as ledger
from keel.ledger.models import Account, Journal, Leg
from keel.ledger.rules import UnknownAccount

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class LegView:
    account: str
    amount: int
    currency: str
    own: bool


@dataclass(frozen=True, slots=True)
class JournalView:
    id: int
    kind: str
    status: str
    effective_date: date
    created_at: datetime
    memo: str
    metadata: dict[str, Any]
    legs: list[LegView]


@dataclass(frozen=True, slots=True)
class JournalPage:
    items: list[JournalView]
    next_before_id: int | None


Owner = tuple[str, int]


def owner_balances(owner: Owner) -> list[ledger.Balance]:
    return ledger.balances_for_owner(*owner)


def owner_balance(owner: Owner, code: str, as_of: date | None = None) -> ledger.Balance:
    owner_type, owner_id = owner
    account = Account.objects.filter(code=code, owner_type=owner_type, owner_id=owner_id).first()
    if account is None:
        # The same words whether the account is missing or someone else's.
        raise UnknownAccount(f"account {code} does not exist", field="code")
    return ledger.balance(account, as_of)


def owner_journals(owner: Owner, *, limit: int = 50, before_id: int | None = None) -> JournalPage:
    """The journals with a leg on one of the owner's accounts, newest (highest id) first.

    Keyset pagination on the journal id: the next page is `before_id=next_before_id`,
    stable while new journals arrive, unlike an offset."""
    limit = max(1, min(limit, MAX_PAGE))
    owner_type, owner_id = owner
    own_accounts = Account.objects.filter(owner_type=owner_type, owner_id=owner_id)
    touched = Leg.objects.filter(account__in=own_accounts).values("journal_id")
    journals = Journal.objects.filter(id__in=touched)
    if before_id is not None:
        journals = journals.filter(id__lt=before_id)
    rows = list(
        journals.order_by("-id").prefetch_related(
            Prefetch("legs", queryset=Leg.objects.select_related("account").order_by("id"))
        )[: limit + 1]
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    items = [
        JournalView(
            id=journal.id,
            kind=journal.kind,
            status=journal.status,
            effective_date=journal.effective_date,
            created_at=journal.created_at,
            memo=journal.memo,
            metadata=journal.metadata,
            legs=[
                LegView(
                    account=leg.account.code,
                    amount=leg.amount,
                    currency=leg.currency,
                    own=(leg.account.owner_type, leg.account.owner_id) == owner,
                )
                for leg in journal.legs.all()
            ],
        )
        for journal in rows
    ]
    return JournalPage(items=items, next_before_id=rows[-1].id if has_more else None)
