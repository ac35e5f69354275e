"""Votes and claim approvals.

A vote (on an admission, a rule change, a large grant) is counted like this:

* one member, one ballot: ``yes``, ``no`` or ``abstain``; only eligible members vote;
* the **quorum** is met when the ballots cast (abstentions included) reach
  ``quorum_bps`` of the eligible members, rounded up to a whole member:
  ``quorum_needed = ceil(eligible * quorum_bps / 10000)``;
* the **majority** is met when ``yes * 10000 >= majority_bps * (yes + no)``: abstentions
  count toward the quorum but not toward the majority, and a vote with no yes or no at
  all fails;
* a closed vote passes when both are met, and fails otherwise;
* an open vote is already decided when the ballots still outstanding cannot change it:
  passed when the quorum is met and the majority holds even if every remaining member votes
  no; failed when the majority is out of reach even if every remaining member votes yes.

A claim (or a grant, or a need) is approved when at least ``required`` distinct members
other than the claimant approve it. The claimant's own approval never counts: services
refuse it with ``check_approver``, and ``claim_approval`` ignores one that slipped through
and says so. A rejection must give a reason; the claim is rejected when ``required``
distinct members other than the claimant reject it before it is approved.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, NamedTuple, TypeAlias, TypeVar

from keel.pools.rules.pool_rules import MemberId, PoolRules, RulesError

__all__ = [
    "CHOICES",
    "Approval",
    "Ballot",
    "Outcome",
    "check_approver",
    "claim_approval",
    "quorum_needed",
    "tally",
    "yes_needed",
]

Choice: TypeAlias = Literal["yes", "no", "abstain"]
CHOICES: tuple[Choice, ...] = ("yes", "no", "abstain")

BPS_WHOLE = 10_000

# Mapping keys are invariant: a TypeVar lets services pass dict[int, str] or dict[str, str].
_M = TypeVar("_M", int, str)


class Ballot(NamedTuple):
    voter: MemberId
    choice: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """The state of a vote and its tally; ``reason`` is the sentence members read."""

    status: Literal["passed", "failed", "open"]
    reason: str
    eligible: int
    yes: int
    no: int
    abstain: int
    quorum_needed: int

    @property
    def turnout(self) -> int:
        return self.yes + self.no + self.abstain


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def quorum_needed(eligible: int, quorum_bps: int) -> int:
    return _ceil_div(eligible * quorum_bps, BPS_WHOLE)


def yes_needed(cast: int, majority_bps: int) -> int:
    """The fewest yes votes that pass among ``cast`` yes-or-no votes."""
    return max(1, _ceil_div(cast * majority_bps, BPS_WHOLE))


def _majority(yes: int, no: int, majority_bps: int) -> bool:
    return yes + no > 0 and yes * BPS_WHOLE >= majority_bps * (yes + no)


def tally(
    eligible: Collection[MemberId],
    ballots: Iterable[Ballot | tuple[MemberId, str]],
    rules: PoolRules,
    *,
    closed: bool,
) -> Outcome:
    """Count a vote by the pool's quorum and majority (module docstring)."""
    voters = set(eligible)
    if len(voters) != len(eligible):
        raise RulesError.one("eligible", "lists a member twice")
    if not voters:
        raise RulesError.one("eligible", "a vote needs at least one eligible member")
    counts = {"yes": 0, "no": 0, "abstain": 0}
    seen: set[MemberId] = set()
    for i, (voter, choice) in enumerate(ballots):
        if voter not in voters:
            raise RulesError.one(f"ballots[{i}].voter", f"{voter!r} may not vote on this")
        if voter in seen:
            raise RulesError.one(f"ballots[{i}].voter", f"{voter!r} has already voted")
        if choice not in counts:
            raise RulesError.one(f"ballots[{i}].choice", f"must be yes, no or abstain: {choice!r}")
        seen.add(voter)
        counts[choice] += 1

    yes, no, abstain = counts["yes"], counts["no"], counts["abstain"]
    n = len(voters)
    needed = quorum_needed(n, rules.quorum_bps)
    turnout = yes + no + abstain
    remaining = n - turnout

    def outcome(status: Literal["passed", "failed", "open"], reason: str) -> Outcome:
        return Outcome(status, reason, n, yes, no, abstain, needed)

    cast = f"{yes} yes, {no} no, {abstain} abstaining"
    quorum_met = turnout >= needed
    if closed or remaining == 0:
        if not quorum_met:
            return outcome(
                "failed", f"Quorum not met: {turnout} of {n} members voted, {needed} needed."
            )
        if yes + no == 0:
            return outcome("failed", f"No majority: {cast}; nobody voted yes or no.")
        if not _majority(yes, no, rules.majority_bps):
            return outcome(
                "failed",
                f"Majority not met: {cast}; {yes_needed(yes + no, rules.majority_bps)} yes "
                f"of {yes + no} needed.",
            )
        return outcome("passed", f"Passed: {cast}, {turnout} of {n} members voted.")

    if quorum_met and _majority(yes, no + remaining, rules.majority_bps):
        return outcome(
            "passed", f"Passed: {cast}; the {remaining} outstanding votes cannot change it."
        )
    if not _majority(yes + remaining, no, rules.majority_bps):
        return outcome(
            "failed",
            f"Failed: {cast}; the {remaining} outstanding votes cannot bring a majority.",
        )
    if not quorum_met:
        return outcome("open", f"{turnout} of {n} members have voted; {needed} needed for quorum.")
    return outcome("open", f"{cast}; {remaining} members have not voted yet.")


# --------------------------------------------------------------------------- approvals


@dataclass(frozen=True, slots=True)
class Approval:
    """Where a claim stands with its approvers.

    ``approvals`` and ``rejections`` are the distinct members that count, in the order
    given; ``ignored`` says what did not count and why (the claimant's own approval).
    """

    status: Literal["approved", "rejected", "pending"]
    approvals: tuple[MemberId, ...]
    rejections: tuple[tuple[MemberId, str], ...]
    required: int
    ignored: tuple[str, ...]

    @property
    def still_needed(self) -> int:
        return max(0, self.required - len(self.approvals))


def check_approver(approver: MemberId, claimant: MemberId) -> None:
    """Refuse the claimant approving or rejecting their own claim."""
    if approver == claimant:
        raise RulesError.one("approver", "the claimant cannot approve their own claim")


def claim_approval(
    approvers: Iterable[_M],
    rejecters: Mapping[_M, str],
    claimant: _M,
    required: int,
) -> Approval:
    """Whether a claim is approved: ``required`` distinct approvers other than the
    claimant; rejected by ``required`` distinct rejecters (each with a reason) otherwise."""
    if isinstance(required, bool) or not isinstance(required, int) or required < 1:
        raise RulesError.one("required", "must be a whole number of at least 1")
    ignored: list[str] = []
    approvals: list[_M] = []
    for member in approvers:
        if member == claimant:
            ignored.append(f"{member!r} is the claimant: their own approval does not count.")
        elif member not in approvals:
            approvals.append(member)
    rejections: list[tuple[_M, str]] = []
    for member, reason in rejecters.items():
        if not isinstance(reason, str) or not reason.strip():
            raise RulesError.one(f"rejecters[{member!r}]", "a rejection needs a reason")
        if member in approvals:
            raise RulesError.one(f"rejecters[{member!r}]", "this member also approved the claim")
        if member == claimant:
            ignored.append(f"{member!r} is the claimant: their own rejection does not count.")
            continue
        rejections.append((member, reason.strip()))

    status: Literal["approved", "rejected", "pending"] = "pending"
    if len(approvals) >= required:
        status = "approved"
    elif len(rejections) >= required:
        status = "rejected"
    return Approval(status, tuple(approvals), tuple(rejections), required, tuple(ignored))
