"""Grants from an emergency fund.

Members pay a fixed monthly contribution into the pool's common fund. A member may receive
one-off grants up to ``grant_limit_per_year`` in total per calendar year (1 January to
31 December of the grant's date, not a rolling twelve months, so members can read their
room off a calendar). Every grant needs ``approvals_required`` approvals from other members
(``votes.claim_approval``); a grant above ``vote_above`` also needs a passing vote
(``votes.tally``). A grant is never more than the fund holds: grants are not cut, they wait.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from keel.money import format_amount
from keel.pools.rules.pool_rules import EmergencyRules, RulesError

__all__ = ["GrantCheck", "PastGrant", "assess_grant", "remaining_limit"]


@dataclass(frozen=True, slots=True)
class PastGrant:
    """A grant the member already received (paid, not merely asked for)."""

    day: date
    amount: int


@dataclass(frozen=True, slots=True)
class GrantCheck:
    """Whether a grant of ``amount`` can go ahead, and what it needs.

    ``remaining`` is the member's limit left this calendar year before this grant.
    """

    allowed: bool
    needs_vote: bool
    remaining: int
    reason: str


def _check_day(day: object, field: str) -> date:
    if isinstance(day, datetime) or not isinstance(day, date):
        raise RulesError.one(field, f"must be a calendar date, not {type(day).__name__}")
    return day


def _check_amount(amount: object, field: str, *, minimum: int = 0) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise RulesError.one(field, f"must be a whole number, not {type(amount).__name__}")
    if amount < minimum:
        raise RulesError.one(
            field, "must not be negative" if minimum == 0 else "must be more than zero"
        )
    return amount


def remaining_limit(rules: EmergencyRules, past_grants: Iterable[PastGrant], on: date) -> int:
    """The member's grant limit left in the calendar year of ``on``."""
    _check_day(on, "on")
    used = 0
    for i, grant in enumerate(past_grants):
        day = _check_day(grant.day, f"past_grants[{i}].day")
        amount = _check_amount(grant.amount, f"past_grants[{i}].amount")
        if day.year == on.year:
            used += amount
    return max(0, rules.grant_limit_per_year - used)


def assess_grant(
    rules: EmergencyRules,
    amount: int,
    past_grants: Iterable[PastGrant],
    on: date,
    fund_balance: int,
) -> GrantCheck:
    """Check a grant request of ``amount`` on ``on`` against the yearly limit and the
    fund's balance, and say whether it needs a vote besides the approvals."""
    _check_amount(amount, "amount", minimum=1)
    _check_amount(fund_balance, "fund_balance")
    remaining = remaining_limit(rules, past_grants, on)
    needs_vote = amount > rules.vote_above
    cur = rules.currency

    def money(value: int) -> str:
        return format_amount(value, cur, symbol=True)

    if amount > remaining:
        return GrantCheck(
            False,
            needs_vote,
            remaining,
            f"{money(amount)} is above the {money(remaining)} left of this member's "
            f"{money(rules.grant_limit_per_year)} limit for {on.year}.",
        )
    if amount > fund_balance:
        return GrantCheck(
            False,
            needs_vote,
            remaining,
            f"The fund holds {money(fund_balance)}, less than the {money(amount)} asked for.",
        )
    approvals = f"{rules.approvals_required} approvals"
    if needs_vote:
        return GrantCheck(
            True,
            True,
            remaining,
            f"Needs {approvals} and a passing vote: it is above {money(rules.vote_above)}.",
        )
    return GrantCheck(True, False, remaining, f"Needs {approvals}.")
