"""Rotating savings: who takes the pot in which round.

One round a month. In every round each member pays the rules' ``contribution`` and one
member takes the pot, ``contribution * members``. A cycle has one round per member, and the
order of takers is a permutation of the members, so nobody takes the pot twice in a cycle:

* ``lottery``: the members, in the service's stable order (oldest membership first), are
  shuffled by ``random.Random(seed)``; the seed is published with the draw so any member can
  re-run it and get the same order;
* ``agreement``: the order the members agreed, checked to hold every member exactly once.

Rounds are numbered from 1 within a cycle; a new cycle needs a new order.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from keel.pools.rules.pool_rules import MemberId, RotatingSavingsRules, RulesError

__all__ = ["Round", "agreed_order", "check_cycle", "lottery_order", "pot", "schedule", "taker"]


@dataclass(frozen=True, slots=True)
class Round:
    number: int
    month: date
    taker: MemberId
    pot: int


def _unique(members: Sequence[MemberId], field: str) -> None:
    seen: set[MemberId] = set()
    for i, member in enumerate(members):
        if member in seen:
            raise RulesError.one(
                f"{field}[{i}]", f"{member!r} is listed twice: nobody takes the pot twice a cycle"
            )
        seen.add(member)


def check_cycle(order: Sequence[MemberId], members: Sequence[MemberId]) -> None:
    """Refuse an order that is not every member exactly once."""
    _unique(members, "members")
    _unique(order, "order")
    wanted = set(members)
    for i, member in enumerate(order):
        if member not in wanted:
            raise RulesError.one(f"order[{i}]", f"{member!r} is not a member of the pool")
    in_order = set(order)
    missing = [member for member in members if member not in in_order]
    if missing:
        names = ", ".join(repr(member) for member in missing)
        raise RulesError.one("order", f"leaves out {names}: every member takes the pot once")


def lottery_order(members: Sequence[MemberId], seed: int) -> tuple[MemberId, ...]:
    """The members shuffled by ``random.Random(seed)``: the same seed, the same order."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise RulesError.one("seed", f"must be a whole number, not {type(seed).__name__}")
    _unique(members, "members")
    order = list(members)
    # Not for secrecy: the draw must be reproducible by every member from the seed.
    random.Random(seed).shuffle(order)
    return tuple(order)


def agreed_order(members: Sequence[MemberId], agreed: Sequence[MemberId]) -> tuple[MemberId, ...]:
    check_cycle(agreed, members)
    return tuple(agreed)


def pot(rules: RotatingSavingsRules, members: int) -> int:
    if isinstance(members, bool) or not isinstance(members, int) or members < 1:
        raise RulesError.one("members", "must be a whole number of at least 1")
    return rules.contribution * members


def taker(order: Sequence[MemberId], round_number: int) -> MemberId:
    """Who takes the pot in round ``round_number`` (1 is the first round of the cycle)."""
    if isinstance(round_number, bool) or not isinstance(round_number, int):
        raise RulesError.one("round_number", "must be a whole number")
    if not 1 <= round_number <= len(order):
        raise RulesError.one(
            "round_number", f"must be between 1 and {len(order)}: a cycle has one round a member"
        )
    return order[round_number - 1]


def schedule(
    order: Sequence[MemberId], first_month: date, rules: RotatingSavingsRules
) -> list[Round]:
    """Every round of the cycle: its month (a round a month from ``first_month``, the
    first day of a month), its taker and its pot."""
    if isinstance(first_month, datetime) or not isinstance(first_month, date):
        raise RulesError.one("first_month", "must be a calendar date")
    if first_month.day != 1:
        raise RulesError.one("first_month", "must be the first day of a month")
    _unique(order, "order")
    amount = pot(rules, len(order))
    rounds: list[Round] = []
    for k, member in enumerate(order):
        year, month = divmod(first_month.year * 12 + first_month.month - 1 + k, 12)
        rounds.append(Round(k + 1, date(year, month + 1, 1), member, amount))
    return rounds
