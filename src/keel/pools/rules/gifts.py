"""Gifts, deposits and reserves of a sick-leave fund (Broodfonds model).

Every amount is an ``int`` of minor units; nothing here uses a float.

Which months a claim is paid for
    A sickness starts on ``claim.start``. The waiting period ends ``W = waiting_months``
    calendar months later, on the same day of the month (clamped to the month's last day:
    31 January + 1 month = 28 or 29 February). The gift for calendar month M is due when

    * the waiting period has ended on or before the first day of M,
    * the member has not recovered by then: the first day of M is before ``recovered_on``
      (a member who recovers on 15 May gets May's gift; one who recovers on 1 May does
      not), and
    * fewer than ``max_gift_months`` gifts have been paid for the claim.

    Whole months only: a month is paid in full or not at all. The part-month after the
    wait is unpaid and the part-month before recovery is paid, which evens out: sick from
    10 March to 15 June with a one-month wait, the member is paid for May and June.

    A month counts toward ``max_gift_months`` when the claim received a gift above zero
    for it (a cut or a shortfall does not make it count less).

Who gives
    Every member of the fund except those who receive a gift in the same run: as in the
    Broodfonds, sick members do not give while receiving. A member whose claim is still in
    its waiting period, or not approved yet, still gives. A member's share of a gift is in
    proportion to their own tier's gift, split by largest remainder (``keel.money.allocate``,
    ties to the member listed first), so the shares add up to the gift exactly. Pass the
    members in a stable order (oldest membership first): that order decides who gives the
    odd extra cent, the same members every month.

The cut
    When the givers' reserves *together* hold less than the full gifts of all due claims,
    every gift of the month is cut to the same whole percentage ``p`` of its full amount:
    ``p`` is the largest whole percent for which the cut gifts, each rounded down to a minor
    unit (``gift * p // 100``), fit in those reserves. The shares are then recomputed on
    the cut gifts.

Shortfalls
    A giver whose own reserve still cannot cover their total over all claims gives all of
    it, split over the claims by largest remainder in proportion to what they owed each
    claim; what they owed but could not give is recorded as a shortfall per giver per claim.
    A claim receives its cut gift less its shortfalls.

Reserves, refunds, exit
    A monthly deposit is ``deposit_rate_bps`` of the tier's gift, rounded half up
    (``keel.money.percent_of_bps``). Once a year whatever a reserve holds above
    ``reserve_cap_deposits`` times the member's monthly deposit is refunded. A member who
    leaves takes their whole reserve: gifts they gave are not returned to them, and gifts
    they received are not taken back.

Missed deposits
    The deposit for month M is due on the first day of M. While one stays unpaid for
    ``grace_months`` calendar months after that (until the same day ``grace_months`` later)
    the member keeps the right to claim; from then until it is paid the right is suspended.
    The service checks the right when a claim is reported; suspension does not stop the
    gifts of a claim already approved.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple, TypeAlias

from keel.money import allocate, format_amount, percent_of_bps
from keel.pools.rules.pool_rules import ClaimRules, MemberId, RulesError, SickLeaveRules

__all__ = [
    "Claim",
    "ClaimGift",
    "ClaimId",
    "ClaimRight",
    "GiftRun",
    "GiftTransfer",
    "Member",
    "MemberId",
    "NotDue",
    "Refund",
    "Shortfall",
    "add_months",
    "annual_refunds",
    "claim_right",
    "cut_percent",
    "exit_payout",
    "first_month_after_recovery",
    "gift_due",
    "last_gift_repaid",
    "month_name",
    "monthly_deposit",
    "monthly_gifts",
    "not_due_reason",
    "repayment_shares",
    "reserve_cap",
]

ClaimId: TypeAlias = int | str

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


# --------------------------------------------------------------------------- guards


def _int(value: object, field: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RulesError.one(field, f"must be a whole number, not {type(value).__name__}")
    if value < minimum:
        raise RulesError.one(
            field, "must not be negative" if minimum == 0 else f"must be at least {minimum}"
        )
    return value


def _date(value: object, field: str) -> date:
    # A datetime is a date subclass; accepting one would drop its time and zone silently.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise RulesError.one(field, f"must be a calendar date, not {type(value).__name__}")
    return value


def _first_of_month(value: object, field: str) -> date:
    day = _date(value, field)
    if day.day != 1:
        raise RulesError.one(field, f"must be the first day of a month, not {day.isoformat()}")
    return day


def add_months(day: date, months: int) -> date:
    """The same day ``months`` calendar months later, clamped to the end of that month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def month_name(month: date) -> str:
    """ "March 2025": the same in every locale, unlike ``strftime("%B")``."""
    return f"{_MONTHS[month.month - 1]} {month.year}"


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class Member:
    """A member of the fund as a gift run sees them: their tier's monthly gift and what
    their own reserve holds before the run."""

    id: MemberId
    tier_gift: int
    reserve: int

    def __post_init__(self) -> None:
        # A run builds one per member: plain ints in range pass on two comparisons, and
        # anything else gets _int's checks and message.
        if type(self.tier_gift) is not int or self.tier_gift < 1:
            _int(self.tier_gift, "tier_gift", minimum=1)
        if type(self.reserve) is not int or self.reserve < 0:
            _int(self.reserve, "reserve")


@dataclass(frozen=True, slots=True)
class Claim:
    """A member's sickness. ``months_paid`` counts the months already paid for it before
    the run (see the module docstring for which months count)."""

    id: ClaimId
    member: MemberId
    start: date
    approved: bool
    recovered_on: date | None = None
    months_paid: int = 0

    def __post_init__(self) -> None:
        _date(self.start, "start")
        if not isinstance(self.approved, bool):
            raise RulesError.one("approved", "must be true or false")
        if self.recovered_on is not None:
            _date(self.recovered_on, "recovered_on")
            if self.recovered_on < self.start:
                raise RulesError.one("recovered_on", "must not be before start")
        _int(self.months_paid, "months_paid")


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True, slots=True)
class GiftTransfer:
    """One giver's gift to one claim this month: one pair of ledger legs."""

    giver: MemberId
    claim: ClaimId
    claimant: MemberId
    amount: int


@dataclass(frozen=True, slots=True)
class ClaimGift:
    """What one claim gets this month.

    ``gross`` is the claimant's tier gift; ``cut_gift`` is it after the month's cut;
    ``received == cut_gift - shortfall`` and is the sum of the claim's transfers.
    """

    claim: ClaimId
    claimant: MemberId
    gross: int
    cut_gift: int
    received: int
    shortfall: int


@dataclass(frozen=True, slots=True)
class Shortfall:
    """What a giver owed a claim after the cut but could not give from their reserve."""

    giver: MemberId
    claim: ClaimId
    owed: int
    given: int
    missing: int


@dataclass(frozen=True, slots=True)
class NotDue:
    """An open claim that gets no gift this month, and why, in words a member reads."""

    claim: ClaimId
    reason: str


@dataclass(frozen=True, slots=True)
class GiftRun:
    """The gifts of one month of a sick-leave fund.

    ``needed`` is the sum of the full gifts of the due claims and ``available`` the sum of
    the givers' reserves; ``cut_percent`` is 100 when nothing is cut. ``givers`` are the
    members who give this month, in the order of the run's ``members``; ``gives[c][g]``
    is what ``givers[g]`` gives ``claims[c]``, so a claim's row is the legs of its journal
    (the service posts them without a ``GiftTransfer`` per leg). Transfers and shortfalls
    of zero are left out.
    """

    month: date
    currency: str
    cut_percent: int
    needed: int
    available: int
    claims: tuple[ClaimGift, ...]
    givers: tuple[MemberId, ...]
    gives: tuple[tuple[int, ...], ...]
    shortfalls: tuple[Shortfall, ...]
    not_due: tuple[NotDue, ...]

    @property
    def transfers(self) -> tuple[GiftTransfer, ...]:
        """Every gift of one giver to one claim, giver by giver (built on each call)."""
        return tuple(
            GiftTransfer(giver, claim.claim, claim.claimant, amount)
            for giver, amounts in zip(self.givers, zip(*self.gives, strict=True), strict=False)
            for claim, amount in zip(self.claims, amounts, strict=True)
            if amount
        )

    def given_by(self, member: MemberId) -> int:
        return sum(t.amount for t in self.transfers if t.giver == member)

    def received_by(self, claim: ClaimId) -> int:
        return sum(t.amount for t in self.transfers if t.claim == claim)

    def cut_notice(self) -> str | None:
        """The sentence every member sees when gifts are cut; None when they are not."""
        if self.cut_percent == 100:
            return None
        return (
            f"Gifts for {month_name(self.month)} are cut to {self.cut_percent}% of the full "
            f"gift: the givers' reserves hold {_money(self.available, self.currency)}, the full "
            f"gifts come to {_money(self.needed, self.currency)}."
        )


@dataclass(frozen=True, slots=True)
class Refund:
    """A reserve's surplus above its cap, paid back to the member."""

    member: MemberId
    reserve: int
    cap: int
    amount: int


class ClaimRight(NamedTuple):
    allowed: bool
    reason: str


def _money(amount: int, currency: str) -> str:
    return format_amount(amount, currency, symbol=True)


# --------------------------------------------------------------------------- deposits


def _check_tier(tier_gift: int, rules: SickLeaveRules, field: str) -> int:
    _int(tier_gift, field, minimum=1)
    if tier_gift not in rules.tiers:
        raise RulesError.one(
            field, f"{_money(tier_gift, rules.currency)} is not one of the fund's tiers"
        )
    return tier_gift


def monthly_deposit(tier_gift: int, rules: SickLeaveRules) -> int:
    """``deposit_rate_bps`` of the tier's gift, half a minor unit rounded up."""
    return percent_of_bps(_check_tier(tier_gift, rules, "tier_gift"), rules.deposit_rate_bps)


def reserve_cap(tier_gift: int, rules: SickLeaveRules) -> int:
    return rules.reserve_cap_deposits * monthly_deposit(tier_gift, rules)


def annual_refunds(members: Sequence[Member], rules: SickLeaveRules) -> list[Refund]:
    """The yearly refunds: each reserve's amount above ``reserve_cap`` (members at or below
    their cap are left out)."""
    refunds: list[Refund] = []
    for i, member in enumerate(members):
        cap = reserve_cap(_check_tier(member.tier_gift, rules, f"members[{i}].tier_gift"), rules)
        if member.reserve > cap:
            refunds.append(Refund(member.id, member.reserve, cap, member.reserve - cap))
    return refunds


def exit_payout(reserve: int) -> int:
    """What a leaving member takes: their whole reserve (see the module docstring)."""
    return _int(reserve, "reserve")


def repayment_shares(amount: int, owed: Sequence[tuple[MemberId, int]]) -> list[int]:
    """How a repayment of ``amount`` is returned to the givers, each listed with what they
    are still owed (module docstring, "Gifts owed back"): in proportion to it, by largest
    remainder, so the parts sum to ``amount`` and none exceeds what its giver is owed."""
    amount = _int(amount, "amount", minimum=1)
    still = [_int(o, f"owed[{i}]") for i, (_, o) in enumerate(owed)]
    total = sum(still)
    if amount > total:
        raise RulesError.one("amount", f"is more than the {total} minor units still owed back")
    return allocate(amount, still)


def last_gift_repaid(owed: Sequence[tuple[int, date]], already: int, amount: int) -> date:
    """The day the last of the gifts a repayment of ``amount`` pays back was given.

    ``owed`` lists the gifts owed back oldest month first, each with what it gave and the
    day it was given; ``already`` was repaid or waived before. Repayments pay the gifts back
    in that order, so this one pays back those between ``already`` and ``already + amount``;
    money received before the last of them was given cannot have paid it back."""
    already = _int(already, "already")
    amount = _int(amount, "amount", minimum=1)
    given = [_int(g, f"owed[{i}]") for i, (g, _) in enumerate(owed)]
    days = [_date(d, f"owed[{i}]") for i, (_, d) in enumerate(owed)]
    total = sum(given)
    if already + amount > total:
        raise RulesError.one(
            "amount", f"is more than the {max(total - already, 0)} minor units still owed back"
        )
    end, start = already + amount, 0
    last: date | None = None
    for gift, day in zip(given, days, strict=True):
        if start < end and start + gift > already and (last is None or day > last):
            last = day
        start += gift
    assert last is not None  # amount >= 1 and within the total: some gift is paid back
    return last


def claim_right(unpaid_months: Iterable[date], rules: ClaimRules, as_of: date) -> ClaimRight:
    """Whether a member may report a claim on ``as_of``, given the months whose deposit (or
    contribution) is still unpaid; each month is given by its first day."""
    _date(as_of, "as_of")
    months = [_first_of_month(m, f"unpaid_months[{i}]") for i, m in enumerate(unpaid_months)]
    for i, month in enumerate(months):
        if month > as_of:
            raise RulesError.one(f"unpaid_months[{i}]", "is not due yet")
    if not months:
        return ClaimRight(True, "All deposits are paid.")
    oldest = min(months)
    suspended_from = add_months(oldest, rules.grace_months)
    if as_of >= suspended_from:
        return ClaimRight(
            False,
            f"The deposit for {month_name(oldest)} is unpaid: the right to claim is "
            f"suspended from {suspended_from.isoformat()} until it is paid.",
        )
    return ClaimRight(
        True,
        f"The deposit for {month_name(oldest)} is unpaid: pay it before "
        f"{suspended_from.isoformat()} to keep the right to claim.",
    )


# --------------------------------------------------------------------------- gift months


def not_due_reason(
    claim: Claim, month: date, rules: SickLeaveRules, months_already_paid: int
) -> str | None:
    """Why ``claim`` gets no gift for ``month`` (its first day), or None when it is due.
    Approval is not looked at: that is the claim's state, not its timing."""
    _first_of_month(month, "month")
    _int(months_already_paid, "months_already_paid")
    if claim.recovered_on is not None and month >= claim.recovered_on:
        return f"recovered on {claim.recovered_on.isoformat()}"
    if months_already_paid >= rules.max_gift_months:
        return f"all {rules.max_gift_months} months of gifts have been paid"
    wait_end = add_months(claim.start, rules.waiting_months)
    if wait_end > month:
        first = wait_end if wait_end.day == 1 else add_months(wait_end.replace(day=1), 1)
        return (
            f"the waiting period ends on {wait_end.isoformat()}: the first gift is for "
            f"{month_name(first)}"
        )
    return None


def first_month_after_recovery(recovered_on: date) -> date:
    """The first calendar month (its first day) that gets no gift once the member has
    recovered on ``recovered_on``: the month itself when that is its first day, the next
    month otherwise (see "Which months a claim is paid for")."""
    day = _date(recovered_on, "recovered_on")
    first = day.replace(day=1)
    return first if day.day == 1 else add_months(first, 1)


def gift_due(claim: Claim, month: date, rules: SickLeaveRules, months_already_paid: int) -> bool:
    """Whether the gift for calendar ``month`` (its first day) is due (module docstring)."""
    return not_due_reason(claim, month, rules, months_already_paid) is None


# --------------------------------------------------------------------------- the run


def cut_percent(gifts: Sequence[int], available: int) -> int:
    """The largest whole percent ``p`` (0..100) with ``sum(g * p // 100) <= available``."""
    needed = sum(gifts)
    if needed <= available:
        return 100
    # Rounding each cut gift down can leave room for one or two percent more than the
    # pool-wide ratio suggests; the ratio itself always fits.
    p = available * 100 // needed
    while p < 100 and sum(g * (p + 1) // 100 for g in gifts) <= available:
        p += 1
    return p


def monthly_gifts(
    claims: Sequence[Claim], members: Sequence[Member], rules: SickLeaveRules, month: date
) -> GiftRun:
    """The gifts for ``month`` (its first day), by the rules in the module docstring.

    ``claims`` are the fund's open claims (any not approved or not due this month are
    reported in ``not_due``); ``members`` are all current members with their reserves
    before the run.
    """
    _first_of_month(month, "month")
    by_id = _index_members(members, rules)
    due, not_due = _due_claims(claims, by_id, rules, month)

    receivers = {claim.member for claim in due}
    givers = [member for member in members if member.id not in receivers]
    gross = [by_id[claim.member].tier_gift for claim in due]
    needed = sum(gross)
    available = sum(giver.reserve for giver in givers)
    percent = cut_percent(gross, available)
    cut = [gift * percent // 100 for gift in gross]

    # owed[c][g]: what giver g owes claim c after the cut. Every claim is split by the
    # same weights, so claims whose cut gifts are equal share one split.
    weights = [giver.tier_gift for giver in givers]
    splits: dict[int, list[int]] = {}
    owed = []
    for gift in cut:
        if gift not in splits:
            splits[gift] = allocate(gift, weights) if givers else []
        owed.append(splits[gift])

    # gives[c][g]: what giver g gives claim c: all they owe, unless their reserve cannot
    # cover their total over all claims.
    gives = [list(row) for row in owed]
    shortfalls: list[Shortfall] = []
    for g, (giver, total) in enumerate(
        zip(givers, map(sum, zip(*owed, strict=True)), strict=False)
    ):
        reserve = giver.reserve
        if reserve >= total:
            continue
        owes = [row[g] for row in owed]
        # Largest remainder never gives a claim more than was owed it, since the reserve
        # split is smaller than the total owed.
        split = allocate(reserve, owes) if reserve else [0] * len(owes)
        for row, claim, owe, give in zip(gives, due, owes, split, strict=True):
            row[g] = give
            if give < owe:
                shortfalls.append(Shortfall(giver.id, claim.id, owe, give, owe - give))
    received = [sum(row) for row in gives]

    gifts = tuple(
        ClaimGift(
            claim=claim.id,
            claimant=claim.member,
            gross=gross[c],
            cut_gift=cut[c],
            received=received[c],
            shortfall=cut[c] - received[c],
        )
        for c, claim in enumerate(due)
    )
    return GiftRun(
        month=month,
        currency=rules.currency,
        cut_percent=percent,
        needed=needed,
        available=available,
        claims=gifts,
        givers=tuple(giver.id for giver in givers),
        gives=tuple(tuple(row) for row in gives),
        shortfalls=tuple(shortfalls),
        not_due=tuple(not_due),
    )


def _index_members(members: Sequence[Member], rules: SickLeaveRules) -> dict[MemberId, Member]:
    by_id: dict[MemberId, Member] = {}
    for i, member in enumerate(members):
        if not isinstance(member, Member):
            raise RulesError.one(f"members[{i}]", f"must be a Member, not {type(member).__name__}")
        if member.id in by_id:
            raise RulesError.one(f"members[{i}].id", f"member {member.id!r} is listed twice")
        tier = member.tier_gift
        if type(tier) is not int or tier not in rules.tiers:
            _check_tier(tier, rules, f"members[{i}].tier_gift")
        by_id[member.id] = member
    return by_id


def _due_claims(
    claims: Sequence[Claim], by_id: dict[MemberId, Member], rules: SickLeaveRules, month: date
) -> tuple[list[Claim], list[NotDue]]:
    due: list[Claim] = []
    not_due: list[NotDue] = []
    claim_ids: set[ClaimId] = set()
    receiving: set[MemberId] = set()
    for i, claim in enumerate(claims):
        if not isinstance(claim, Claim):
            raise RulesError.one(f"claims[{i}]", f"must be a Claim, not {type(claim).__name__}")
        if claim.id in claim_ids:
            raise RulesError.one(f"claims[{i}].id", f"claim {claim.id!r} is listed twice")
        claim_ids.add(claim.id)
        if claim.member not in by_id:
            raise RulesError.one(
                f"claims[{i}].member", f"{claim.member!r} is not a member of the fund"
            )
        reason = (
            "not approved yet"
            if not claim.approved
            else not_due_reason(claim, month, rules, claim.months_paid)
        )
        if reason is not None:
            not_due.append(NotDue(claim.id, reason))
            continue
        if claim.member in receiving:
            # Paying two gifts to one sick member would double their tier's cover.
            raise RulesError.one(
                f"claims[{i}].member",
                f"member {claim.member!r} already has a claim paid for {month_name(month)}",
            )
        receiving.add(claim.member)
        due.append(claim)
    return due, not_due
