"""What the pool pages and the API show, read from the pools services: members with their
reserves, votes with their tally, the ledger grouped by journal. Reads only; every write
goes through ``keel.pools.services``.

Who sees names: members (and former members) see each other's names; anyone else sees
pseudonyms only (``services.can_see_names``). Everything here takes the resulting
``names`` map, never a user, so no path can put a name where a pseudonym belongs.
Free text written by members (a claim's description, a rejection's reason) may name
people, so it is shown only to those who see names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from . import services
from .models import (
    Claim,
    ClaimStatus,
    Membership,
    MemberStatus,
    Pool,
    Vote,
    VoteStatus,
    VoteSubject,
)
from .rules.pool_rules import SickLeaveRules, diff_rules, parse_rules

KIND_LABELS = {
    "pool.deposit": "Deposit",
    "pool.gift": "Gift",
    "pool.refund": "Refund",
    "pool.exit": "Exit",
    "pool.grant": "Grant",
    "pool.need": "Health cost",
    "pool.pot": "Pot",
    "pool.repayment": "Repayment",
}


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking at a pool, and what that lets them see."""

    pool: Pool
    membership: Membership | None
    with_names: bool
    names: dict[int, str]

    @property
    def active(self) -> bool:
        return self.membership is not None and self.membership.status == MemberStatus.ACTIVE

    @property
    def steward(self) -> bool:
        return self.active and self.membership is not None and self.membership.role == "steward"

    def name(self, membership: Membership) -> str:
        return self.names.get(membership.number, membership.pseudonym)


def viewer(pool: Pool, membership: Membership | None) -> Viewer:
    with_names = services.can_see_names(membership)
    return Viewer(pool, membership, with_names, services.member_names(pool, with_names=with_names))


@dataclass(frozen=True, slots=True)
class MemberRow:
    number: int
    label: str
    pseudonym: str
    role: str
    role_label: str
    status: str
    status_label: str
    tier_gift: int | None
    reserve: int | None
    joined_on: date | None
    is_me: bool


def member_rows(v: Viewer) -> list[MemberRow]:
    """Every membership of the pool (applicants and leavers too), oldest first, but not open
    invitations: a name appearing when an address was invited would tell the inviter that
    the address has a Keel account. Those show by address (services.open_invitations)."""
    held = services.reserves(v.pool)
    sick_leave = v.pool.kind == "sick_leave"
    rows = []
    for m in v.pool.memberships.exclude(status=MemberStatus.INVITED).order_by("number"):
        rows.append(
            MemberRow(
                number=m.number,
                label=v.name(m),
                pseudonym=m.pseudonym,
                role=m.role,
                role_label=m.get_role_display(),
                status=m.status,
                status_label=m.get_status_display(),
                tier_gift=m.tier_gift,
                reserve=held.get(m.number, 0) if sick_leave else None,
                joined_on=m.joined_on,
                is_me=v.membership is not None and v.membership.pk == m.pk,
            )
        )
    return rows


def has_ended(claim: Claim, today: date) -> bool:
    """An approved sickness whose member has recovered by ``today``: it stays approved in
    the books (the gift of its last month may still be run), but it is no longer open."""
    return (
        claim.status == ClaimStatus.APPROVED
        and claim.recovered_on is not None
        and claim.recovered_on <= today
    )


def claim_status_label(claim: Claim, today: date) -> str:
    return "Recovered" if has_ended(claim, today) else str(claim.get_status_display())


def vote_title(vote: Vote, v: Viewer) -> str:
    """The vote's question. An admission's stored title names the applicant, so it is
    rebuilt from what this viewer may see."""
    if vote.subject == VoteSubject.ADMISSION and vote.applicant is not None:
        return f"Admit {v.name(vote.applicant)}"
    return vote.title


@dataclass(frozen=True, slots=True)
class Tally:
    status: str
    reason: str
    eligible: int
    yes: int
    no: int
    abstain: int
    quorum_needed: int

    @property
    def cast(self) -> int:
        return self.yes + self.no + self.abstain


def tally(vote: Vote) -> Tally:
    """The recorded result of a closed vote; the live count of an open one."""
    result: Mapping[str, Any] = vote.result or {}
    if vote.status == VoteStatus.OPEN or not result:
        outcome = services.tally_of(vote)
        return Tally(
            outcome.status,
            outcome.reason,
            outcome.eligible,
            outcome.yes,
            outcome.no,
            outcome.abstain,
            outcome.quorum_needed,
        )
    return Tally(
        str(result.get("status", vote.status)),
        str(result.get("reason", "")),
        int(result.get("eligible", 0)),
        int(result.get("yes", 0)),
        int(result.get("no", 0)),
        int(result.get("abstain", 0)),
        int(result.get("quorum_needed", 0)),
    )


def rule_change_lines(vote: Vote) -> list[str]:
    """What a rule change vote changes, against the rules in force before it (the version
    it replaced once adopted)."""
    if vote.subject != VoteSubject.RULE_CHANGE or not vote.proposed_rules:
        return []
    versions = vote.pool.rules_versions.order_by("-version")
    adopted = versions.filter(adopted_by_vote=vote).first()
    before = (
        versions.filter(version__lt=adopted.version).first()
        if adopted is not None
        else versions.filter(adopted_at__lte=vote.opened_at).first() or versions.first()
    )
    if before is None:
        return []
    return diff_rules(parse_rules(before.rules), parse_rules(vote.proposed_rules))


@dataclass(frozen=True, slots=True)
class LedgerLeg:
    account: str
    who: str
    amount: int  # as the ledger posts it: positive debit, negative credit

    @property
    def change(self) -> int:
        """How the entry moved the account, as its holder reads it: the money the pool
        holds (an asset) rises with a debit; a reserve or the common fund (what the pool
        owes its members) rises with a credit."""
        return self.amount if self.account == "Money held" else -self.amount


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    journal_id: int
    date: date
    kind: str
    kind_label: str
    memo: str
    legs: tuple[LedgerLeg, ...]


def ledger_entries(lines: Sequence[services.LedgerLine]) -> list[LedgerEntry]:
    """The ledger's legs grouped into their journals, in the order given (newest first)."""
    entries: list[LedgerEntry] = []
    current: list[services.LedgerLine] = []

    def flush() -> None:
        if current:
            first = current[0]
            entries.append(
                LedgerEntry(
                    first.journal_id,
                    first.date,
                    first.kind,
                    KIND_LABELS.get(first.kind, first.kind.removeprefix("pool.").title()),
                    first.memo,
                    tuple(LedgerLeg(x.account, x.who, x.amount) for x in current),
                )
            )

    for line in lines:
        if current and line.journal_id != current[0].journal_id:
            flush()
            current = []
        current.append(line)
    flush()
    return entries


def tier_choices(pool: Pool) -> list[int]:
    rules = services.current_rules(pool)
    return list(rules.tiers) if isinstance(rules, SickLeaveRules) else []
