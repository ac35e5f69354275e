"""The caller's own ledger: accounts with balances, and journals. Read-only.

"Own" is `Caller.owner`: a person's worker accounts, or, for a key that belongs to a
platform, that platform's accounts.

Amounts are integers in minor units next to their ISO 4217 currency (1050 USD is
$10.50); the API never sends a float for money."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field, field_validator

from keel.ledger.services import Balance

from .. import ledger_reads
from ..auth import key_or_session, require_scope
from ..errors import with_errors

router = Router(tags=["ledger"], auth=key_or_session)
SCOPE = "ledger:read"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class BalanceOut(Schema):
    account: str
    kind: str
    currency: str
    posted: int = Field(description="posted balance on the account's normal side, minor units")
    pending: int = Field(description="net pending movement on the normal side, minor units")
    pending_debits: int
    pending_credits: int
    available: int = Field(description="what can be spent: posted less outgoing reservations")
    floor: int | None
    as_of: date | None = Field(None, description="the date the balance is as of; null = now")


class AsOfQuery(Schema):
    as_of: date | None = Field(None, description="balance at the end of this day, YYYY-MM-DD")

    @field_validator("as_of", mode="before")
    @classmethod
    def _calendar_date(cls, value: Any) -> Any:
        # Pydantic would also take a Unix timestamp or a midnight datetime; a balance
        # date is a calendar date and nothing else.
        if value in (None, ""):
            return None
        if not isinstance(value, str) or not _ISO_DATE.match(value):
            raise ValueError("must be a date as YYYY-MM-DD")
        return value


class LegOut(Schema):
    account: str
    amount: int = Field(description="signed minor units: positive debit, negative credit")
    currency: str
    own: bool = Field(description="whether the account is one of the caller's")


class JournalOut(Schema):
    id: int
    kind: str
    status: str
    effective_date: date
    created_at: datetime
    memo: str
    metadata: dict[str, Any]
    legs: list[LegOut]


class JournalPageOut(Schema):
    items: list[JournalOut]
    next_before_id: int | None = Field(
        description="pass as before_id to get the next (older) page; null on the last page"
    )


class JournalQuery(Schema):
    limit: int = Field(50, ge=1, le=ledger_reads.MAX_PAGE)
    before_id: int | None = Field(None, ge=1, description="only journals with a smaller id")


def _balance_out(balance: Balance, as_of: date | None = None) -> BalanceOut:
    return BalanceOut(
        account=balance.account,
        kind=balance.kind,
        currency=balance.currency,
        posted=balance.posted,
        pending=balance.pending,
        pending_debits=balance.pending_debits,
        pending_credits=balance.pending_credits,
        available=balance.available,
        floor=balance.floor,
        as_of=as_of,
    )


@router.get(
    "/accounts",
    response=with_errors({200: list[BalanceOut]}, 401, 403),
    summary="Your accounts and their balances (scope ledger:read)",
)
def list_accounts(request: HttpRequest) -> list[BalanceOut]:
    who = require_scope(request, SCOPE)
    return [_balance_out(b) for b in ledger_reads.owner_balances(who.owner)]


@router.get(
    "/accounts/{code}",
    response=with_errors({200: BalanceOut}, 401, 403, 404, 422),
    summary="One of your accounts, now or as of a date (scope ledger:read)",
)
def get_account(request: HttpRequest, code: str, query: Query[AsOfQuery]) -> BalanceOut:
    who = require_scope(request, SCOPE)
    balance = ledger_reads.owner_balance(who.owner, code, query.as_of)
    return _balance_out(balance, query.as_of)


@router.get(
    "/journals",
    response=with_errors({200: JournalPageOut}, 401, 403, 422),
    summary="Journals touching your accounts, newest first (scope ledger:read)",
)
def list_journals(request: HttpRequest, query: Query[JournalQuery]) -> ledger_reads.JournalPage:
    who = require_scope(request, SCOPE)
    return ledger_reads.owner_journals(who.owner, limit=query.limit, before_id=query.before_id)
