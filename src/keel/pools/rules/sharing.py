"""Health cost-sharing: how much of a medical need the pool shares, and who shares it.

For one need of ``need`` minor units, in this order:

1. the member pays the first ``unshared_amount`` (all of a need smaller than that);
2. the rest is shared, but at most ``cap_per_need``;
3. and at most what is left of ``cap_per_year`` for this member in the calendar year of
   the need (1 January to 31 December), after what the pool already shared for them.

Whatever is not shared the member pays. The shared part is paid from the common fund and
stands for equal parts of every other member's monthly shares: ``split_shared`` attributes
it to them by largest remainder (ties to the member listed first), so the parts add up to
the shared amount exactly and each member's statement can show their part of each need.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from keel.money import allocate
from keel.pools.rules.pool_rules import HealthSharingRules, MemberId, RulesError

__all__ = ["NeedShare", "PastShare", "SharePart", "share_need", "split_shared"]


@dataclass(frozen=True, slots=True)
class PastShare:
    """An amount the pool already shared for this member."""

    day: date
    amount: int


@dataclass(frozen=True, slots=True)
class NeedShare:
    """How one need is paid: ``shared + member_pays == need``.

    ``unshared`` is the part the member pays first; ``above_caps`` the part beyond the
    per-need or yearly cap, which the member pays as well; ``capped_by`` names the cap that
    bound (``"need"``, ``"year"``) or is None.
    """

    need: int
    unshared: int
    above_caps: int
    shared: int
    member_pays: int
    year_cap_left: int
    capped_by: str | None


@dataclass(frozen=True, slots=True)
class SharePart:
    member: MemberId
    amount: int


def _whole(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RulesError.one(field, f"must be a whole number, not {type(value).__name__}")
    if value < 0:
        raise RulesError.one(field, "must not be negative")
    return value


def _day(value: object, field: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise RulesError.one(field, f"must be a calendar date, not {type(value).__name__}")
    return value


def share_need(
    rules: HealthSharingRules, need: int, past_shares: Iterable[PastShare], on: date
) -> NeedShare:
    """Split a need of ``on`` between the member and the pool (module docstring)."""
    _whole(need, "need")
    _day(on, "on")
    shared_this_year = 0
    for i, past in enumerate(past_shares):
        if _day(past.day, f"past_shares[{i}].day").year == on.year:
            shared_this_year += _whole(past.amount, f"past_shares[{i}].amount")
    year_left = max(0, rules.cap_per_year - shared_this_year)

    unshared = min(need, rules.unshared_amount)
    shareable = need - unshared
    shared = min(shareable, rules.cap_per_need, year_left)
    capped_by = None
    if shared < shareable:
        # The yearly cap is named when it is the tighter one: it is what the member can
        # plan around for the rest of the year.
        capped_by = "year" if year_left < rules.cap_per_need else "need"
    return NeedShare(
        need=need,
        unshared=unshared,
        above_caps=shareable - shared,
        shared=shared,
        member_pays=need - shared,
        year_cap_left=year_left - shared,
        capped_by=capped_by,
    )


def split_shared(shared: int, claimant: MemberId, members: Sequence[MemberId]) -> list[SharePart]:
    """The shared part of a need in equal parts over every member but the claimant."""
    _whole(shared, "shared")
    if len(set(members)) != len(members):
        raise RulesError.one("members", "lists a member twice")
    others = [member for member in members if member != claimant]
    if not others:
        raise RulesError.one("members", "no other member to share the need with")
    parts = allocate(shared, [1] * len(others))
    return [SharePart(member, amount) for member, amount in zip(others, parts, strict=True)]
