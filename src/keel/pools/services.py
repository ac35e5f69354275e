"""The pools domain's database work: pools, membership, deposits, claims, gifts, votes,
refunds, exits and rotating rounds. Every money movement is one ledger journal posted
through the ledger service inside the same transaction as the rows that index it, with an
idempotency key derived from what it is (``pool:<id>:deposit:<member>:<yyyy-mm>``), so a
retried or repeated run posts nothing twice. A member who came back after leaving is in
another period of membership (``Membership.period``): their deposits, refunds and exit
keys end in ``:p<period>`` from the second period on (``_period_suffix``), so they never
meet the first period's, whose keys stay as they were.

Chart of accounts, from the pool's side (the pool holds its members' money):

* ``pool:<id>:bank`` — asset: the money the pool holds.
* ``pool:<id>:reserve:<n>`` — liability, floored at 0: member n's own reserve (sick-leave
  funds). Deposits and gifts given back to the member (repayments of gifts owed back)
  credit it, the member's gifts to others and refunds debit it.
* ``pool:<id>:fund`` — liability, floored at 0: the common fund of the other kinds (and
  entry fees of a sick-leave fund), owed to the members together.

The rules decide; this module only gathers their inputs from the database and records
their outputs (``rules/`` has no Django in it and is tested by hand-worked examples).
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from django.utils.text import slugify

from keel import sql
from keel.accounts import mail
from keel.accounts.models import Role, User
from keel.accounts.services import grant_role
from keel.audit import services as audit
from keel.ledger import services as ledger
from keel.ledger.models import Account, Journal, Leg
from keel.ledger.rules import JournalSpec, LedgerError, LegSpec, natural_balance
from keel.money import format_amount

from .errors import Conflict, NotAllowed, NotFound, PoolError
from .models import (
    Ballot,
    Choice,
    Claim,
    ClaimDecision,
    ClaimKind,
    ClaimReminder,
    ClaimStatus,
    Decision,
    Deposit,
    EmailInvitation,
    Gift,
    GiftRun,
    GiftShortfall,
    MemberRole,
    Membership,
    MemberStatus,
    Pool,
    PoolKind,
    Refund,
    Repayment,
    RepaymentKind,
    Round,
    RulesVersion,
    Vote,
    VoteStatus,
    VoteSubject,
    pseudonym,
)
from .rules import emergency, gifts, rotating, sharing, votes
from .rules.pool_rules import (
    MAX_AMOUNT,
    EmergencyRules,
    HealthSharingRules,
    PoolRules,
    RotatingSavingsRules,
    RulesError,
    SickLeaveRules,
    amend_rules,
    broodfonds_default,
    diff_rules,
    kind_name,
    parse_rules,
    rules_to_json,
)
from .rules.simulate import ClaimHistory

logger = logging.getLogger(__name__)

VOTE_DAYS = 7
CLAIM_KIND = {
    PoolKind.SICK_LEAVE: ClaimKind.SICKNESS,
    PoolKind.EMERGENCY: ClaimKind.GRANT,
    PoolKind.HEALTH_SHARING: ClaimKind.NEED,
}
OPEN_CLAIM = (ClaimStatus.PENDING, ClaimStatus.APPROVED)


def _error_from_rules(exc: RulesError, prefix: str = "") -> PoolError:
    field = f"{prefix}{exc.field}" if exc.field else (prefix.rstrip(".") or None)
    return PoolError(
        str(exc),
        field=field,
        details=[
            {"field": f"{prefix}{f}" if f else prefix.rstrip("."), "reason": m}
            for f, m in exc.errors
        ],
    )


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_key(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def _period_suffix(period: int) -> str:
    # Empty for the first period: the keys of journals posted before members could come
    # back stay valid.
    return "" if period == 1 else f":p{period}"


# ---------------------------------------------------------------------------- accounts


def bank_code(pool: Pool) -> str:
    return f"pool:{pool.pk}:bank"


def fund_code(pool: Pool) -> str:
    return f"pool:{pool.pk}:fund"


def reserve_code(membership: Membership) -> str:
    return f"{_reserve_prefix(membership.pool_id)}{membership.number}"


def _reserve_prefix(pool_id: int) -> str:
    return f"pool:{pool_id}:reserve:"


def _open_pool_accounts(pool: Pool) -> None:
    for code, kind, floor, name in (
        (bank_code(pool), "asset", None, f"{pool.name}: money held"),
        (fund_code(pool), "liability", 0, f"{pool.name}: common fund"),
    ):
        ledger.open_account(
            code,
            owner_type="pool",
            owner_id=pool.pk,
            kind=kind,
            currency=pool.currency,
            floor=floor,
            name=name,
        )


def _open_reserve(membership: Membership) -> None:
    ledger.open_account(
        reserve_code(membership),
        owner_type="pool",
        owner_id=membership.pool_id,
        kind="liability",
        currency=membership.pool.currency,
        floor=0,
        name=f"{membership.pool.name}: reserve of {membership.pseudonym}",
    )


def balances(pool: Pool) -> dict[str, int]:
    """Posted balance of every account of the pool, by code (one query)."""
    return {b.account: b.posted for b in ledger.balances_for_owner("pool", pool.pk)}


def reserves(pool: Pool) -> dict[int, int]:
    """Each member's reserve by membership number."""
    prefix = _reserve_prefix(pool.pk)
    return {
        int(code.removeprefix(prefix)): amount
        for code, amount in balances(pool).items()
        if code.startswith(prefix)
    }


# ---------------------------------------------------------------------------- rules


def current_rules(pool: Pool) -> PoolRules:
    rules = pool.rules_versions.order_by("-version").values_list("rules", flat=True).first()
    if rules is None:  # pragma: no cover - every pool is created with version 1
        raise PoolError(f"pool {pool.name} has no rules")
    return _parsed(json.dumps(rules, sort_keys=True))


@functools.lru_cache(maxsize=256)
def _parsed(rules_json: str) -> PoolRules:
    # Rules are stored already validated and are read on every claim, vote and gift run;
    # parsing the same text once is enough (the models are frozen, so sharing is safe).
    return parse_rules(json.loads(rules_json))


def sick_leave_rules(pool: Pool) -> SickLeaveRules:
    rules = current_rules(pool)
    if not isinstance(rules, SickLeaveRules):
        raise PoolError(f"{pool.name} is not a sick-leave fund", field="pool")
    return rules


def default_rules(kind: str, currency: str) -> dict[str, Any]:
    """The starting rules a new pool of each kind is offered (the steward may change any
    of them before creating it)."""
    if kind == PoolKind.SICK_LEAVE:
        return rules_to_json(broodfonds_default(currency))
    unit = 10 ** _exponent(currency)
    templates: dict[str, dict[str, Any]] = {
        PoolKind.EMERGENCY: {
            "contribution": 25 * unit,
            "grant_limit_per_year": 1_000 * unit,
            "vote_above": 500 * unit,
        },
        PoolKind.HEALTH_SHARING: {
            "monthly_share": 80 * unit,
            "unshared_amount": 250 * unit,
            "cap_per_need": 5_000 * unit,
            "cap_per_year": 10_000 * unit,
        },
        PoolKind.ROTATING_SAVINGS: {"contribution": 100 * unit, "order": "lottery"},
    }
    if kind not in templates:
        raise PoolError(f"unknown pool kind {kind!r}", field="kind")
    return rules_to_json(parse_rules({"kind": kind, "currency": currency, **templates[kind]}))


def _exponent(currency: str) -> int:
    from keel.money import exponent

    return exponent(currency)


# ---------------------------------------------------------------------------- pools


# Paths under /pools/ that are pages of their own, not pools.
RESERVED_SLUGS = frozenset({"new", "simulate"})


def _unique_slug(name: str) -> str:
    base = slugify(name)[:60] or "pool"
    slug = base
    while slug in RESERVED_SLUGS or Pool.objects.filter(slug=slug).exists():
        slug = f"{base}-{secrets.token_hex(2)}"
    return slug


def _next_number(pool: Pool) -> int:
    last = pool.memberships.order_by("-number").values_list("number", flat=True).first()
    return (last or 0) + 1


@transaction.atomic
def create_pool(
    steward: User,
    *,
    name: str,
    rules: Mapping[str, Any],
    tier_gift: int | None = None,
    description: str = "",
    today: date | None = None,
) -> Pool:
    """A new pool with ``rules`` as version 1 and its creator as steward and first member."""
    name = (name or "").strip()
    if not name:
        raise PoolError("a pool needs a name", field="name")
    if len(name) > 120:
        raise PoolError("the name is longer than 120 characters", field="name")
    try:
        parsed = parse_rules(rules)
    except RulesError as exc:
        raise _error_from_rules(exc, "rules.") from None
    today = today or timezone.localdate()
    pool = Pool.objects.create(
        name=name,
        slug=_unique_slug(name),
        kind=parsed.kind,
        description=description.strip(),
        currency=parsed.currency,
        is_public=parsed.public,
        created_by=steward,
    )
    RulesVersion.objects.create(
        pool=pool, version=1, rules=rules_to_json(parsed), effective_from=today
    )
    _open_pool_accounts(pool)
    membership = Membership.objects.create(
        pool=pool,
        user=steward,
        number=1,
        role=MemberRole.STEWARD,
        status=MemberStatus.APPLIED,
        tier_gift=_checked_tier(parsed, tier_gift),
    )
    _admit(membership, today)
    return pool


def _checked_tier(rules: PoolRules, tier_gift: int | None) -> int | None:
    if not isinstance(rules, SickLeaveRules):
        return None
    if tier_gift is None:
        raise PoolError("choose the monthly gift you want to be insured for", field="tier_gift")
    if tier_gift not in rules.tiers:
        tiers = ", ".join(format_amount(t, rules.currency, symbol=True) for t in rules.tiers)
        raise PoolError(f"the gift must be one of the pool's tiers: {tiers}", field="tier_gift")
    return tier_gift


def visible_pool(user: User | None, slug: str) -> tuple[Pool, Membership | None]:
    """The pool at ``slug`` and the person's membership; a private pool is not found for
    anyone who has no membership row in it (its existence is not theirs to see)."""
    pool = Pool.objects.filter(slug=slug).first()
    if pool is None:
        raise NotFound("no such pool")
    membership = None
    if user is not None and user.is_authenticated:
        membership = pool.memberships.filter(user=user).first()
    if membership is None and not pool.is_public:
        raise NotFound("no such pool")
    return pool, membership


def can_see_names(membership: Membership | None) -> bool:
    """Members (and those who were) see each other's names; everyone else pseudonyms."""
    return membership is not None and membership.status in (
        MemberStatus.ACTIVE,
        MemberStatus.LEFT,
    )


def pools_for(user: User) -> QuerySet[Pool]:
    return Pool.objects.filter(memberships__user=user).distinct()


def public_pools() -> QuerySet[Pool]:
    return Pool.objects.filter(is_public=True)


def active_members(pool: Pool) -> list[Membership]:
    return list(
        pool.memberships.filter(status=MemberStatus.ACTIVE)
        .select_related("user")
        .order_by("number")
    )


def require_active(pool: Pool, user: User) -> Membership:
    membership = pool.memberships.filter(user=user).first()
    if membership is None:
        if not pool.is_public:
            raise NotFound("no such pool")
        raise NotAllowed("only members of the pool can do this")
    if membership.status != MemberStatus.ACTIVE:
        status = membership.get_status_display().lower()
        raise NotAllowed(f"only members of the pool can do this (you are {status})")
    return membership


def require_steward(pool: Pool, user: User) -> Membership:
    membership = require_active(pool, user)
    if membership.role != MemberRole.STEWARD:
        raise NotAllowed("only a steward of the pool can do this")
    return membership


def _admit(membership: Membership, today: date) -> None:
    membership.status = MemberStatus.ACTIVE
    membership.joined_on = today
    membership.save(update_fields=["status", "joined_on"])
    if membership.pool.kind == PoolKind.SICK_LEAVE:
        _open_reserve(membership)
    grant_role(membership.user, Role.POOL_MEMBER)
    audit.record(
        "member.admitted",
        subject=f"membership:{membership.pk}",
        pool_id=membership.pool_id,
        worker_id=membership.user_id,
        details={"member": membership.number},
    )


def _check_room(pool: Pool, rules: PoolRules) -> None:
    count = pool.memberships.filter(status=MemberStatus.ACTIVE).count()
    if count >= rules.max_members:
        raise Conflict(f"the pool is full: its rules allow {rules.max_members} members")


@transaction.atomic
def apply(
    pool: Pool, user: User, *, tier_gift: int | None = None, today: date | None = None
) -> Membership:
    """A person asks to join. With admission by vote the members vote on it; otherwise
    they are in at once."""
    pool = Pool.objects.select_for_update().get(pk=pool.pk)
    rules = current_rules(pool)
    today = today or timezone.localdate()
    existing = pool.memberships.filter(user=user).first()
    if existing is not None and existing.status not in (
        MemberStatus.REJECTED,
        MemberStatus.INVITED,
        # Someone who left may come back, as a new member: their number and history stay.
        MemberStatus.LEFT,
    ):
        raise Conflict(f"you are already in this pool ({existing.get_status_display().lower()})")
    _check_room(pool, rules)
    tier = _checked_tier(rules, tier_gift)
    if existing is None:
        membership = Membership.objects.create(
            pool=pool,
            user=user,
            number=_next_number(pool),
            status=MemberStatus.APPLIED,
            tier_gift=tier,
        )
    else:
        membership = existing
        if existing.left_on is not None:
            # Back after leaving (applying, or accepting an invitation back): a new period,
            # whose deposits, refunds and exit are its own.
            membership.period += 1
        membership.status = MemberStatus.APPLIED
        membership.tier_gift = tier
        # Coming back after leaving is joining anew: no steward's role carried over, and
        # the waiting period and cover count from the new joining day (set on admission).
        membership.role = MemberRole.MEMBER
        membership.left_on = None
        membership.joined_on = None
        membership.save(
            update_fields=["status", "tier_gift", "role", "left_on", "joined_on", "period"]
        )
    membership.pool = pool
    if rules.admission_by_vote:
        _open_vote(
            pool,
            VoteSubject.ADMISSION,
            # Pseudonymous: a public pool's outsiders read vote titles.
            f"Admit {membership.pseudonym}",
            opened_by=membership,
            applicant=membership,
        )
    else:
        _admit(membership, today)
    return membership


@dataclass(frozen=True, slots=True)
class OpenInvitation:
    """An invitation nobody has answered, shown by the address it was sent to whether or not
    that address has a Keel account."""

    email: str
    invited_by: str
    invited_on: date
    mine: bool


@transaction.atomic
def invite(pool: Pool, by: User, email: str, *, site: str = "") -> None:
    """An active member invites an email address, and Keel emails it.

    The answer is the same whether or not the address has a Keel account, so a member cannot
    use invitations to find out who uses Keel: a person with an account gets an invitation
    they accept on the pool's page; an address without one gets an ``EmailInvitation`` that
    becomes that invitation when someone with the address joins Keel
    (``claim_email_invitations``). `site` starts the links in the email."""
    inviter = require_active(pool, by)
    address = (email or "").strip().lower()
    if not address:
        raise PoolError("enter the email address of the person to invite", field="email")
    already = Conflict(f"already invited to or in this pool: {address}", field="email")
    if pool.email_invitations.filter(email=address).exists():
        raise already
    person = User.objects.filter(email__iexact=address).first()
    earlier = pool.memberships.filter(user=person).first() if person is not None else None
    if earlier is not None and earlier.status != MemberStatus.LEFT:
        raise already
    _check_room(pool, current_rules(pool))
    if person is None:
        EmailInvitation.objects.create(pool=pool, email=address, invited_by=inviter.user)
    elif earlier is not None:
        # A member who left, invited back: their row (number, history) is the one.
        earlier.status = MemberStatus.INVITED
        earlier.invited_by = inviter.user
        earlier.save(update_fields=["status", "invited_by"])
    else:
        Membership.objects.create(
            pool=pool,
            user=person,
            number=_next_number(pool),
            status=MemberStatus.INVITED,
            invited_by=inviter.user,
        )
    context = {
        "site": site,
        "pool": pool.name,
        "kind": kind_name(pool.kind),
        "inviter": inviter.user.name,
        "pool_path": f"/pools/{pool.slug}/",
        "has_account": person is not None,
    }
    # Only once the invitation is stored; the address alone reads the email, so it may say
    # which of the two cases it is.
    transaction.on_commit(
        lambda: mail.send_rendered(
            address, "pools/email/invitation_subject.txt", "pools/email/invitation.txt", context
        )
    )


def open_invitations(pool: Pool, viewer: Membership | None) -> list[OpenInvitation]:
    """The invitations of the pool nobody has answered yet, oldest first: all of them for a
    steward, the ones they sent for another active member, none for anyone else."""
    if viewer is None or viewer.status != MemberStatus.ACTIVE:
        return []
    steward = viewer.role == MemberRole.STEWARD
    invited = pool.memberships.filter(status=MemberStatus.INVITED).select_related(
        "user", "invited_by"
    )
    by_email = pool.email_invitations.select_related("invited_by")
    if not steward:
        invited = invited.filter(invited_by=viewer.user)
        by_email = by_email.filter(invited_by=viewer.user)
    rows = [(m.created_at, m.user.email, m.invited_by) for m in invited] + [
        (e.created_at, e.email, e.invited_by) for e in by_email
    ]
    return [
        OpenInvitation(
            email=email,
            invited_by=who.name if who is not None else "a former member",
            invited_on=timezone.localdate(at),
            mine=who is not None and who.pk == viewer.user_id,
        )
        for at, email, who in sorted(rows, key=lambda row: (row[0], row[1]))
    ]


@transaction.atomic
def withdraw_invitation(pool: Pool, by: User, email: str) -> None:
    """A steward, or the member who sent it, withdraws an invitation nobody has answered.
    The person is told nothing; their pool page no longer shows it."""
    actor = require_active(pool, by)
    address = (email or "").strip().lower()
    if not address:
        raise PoolError("name the address whose invitation to withdraw", field="email")
    by_email = pool.email_invitations.filter(email=address).first()
    invited = pool.memberships.filter(
        user__email__iexact=address, status=MemberStatus.INVITED
    ).first()
    found = by_email or invited
    if found is None:
        raise Conflict(f"there is no open invitation for {address}", field="email")
    if actor.role != MemberRole.STEWARD and found.invited_by_id != by.pk:
        raise NotAllowed("only a steward or the member who sent it can withdraw an invitation")
    if by_email is not None:
        by_email.delete()
    elif invited is not None and invited.left_on is not None:
        # A former member invited back: they are a former member again.
        invited.status = MemberStatus.LEFT
        invited.save(update_fields=["status"])
    elif invited is not None:
        # Nothing hangs on an invitation nobody answered: no deposit, claim or ballot.
        invited.delete()


def claim_email_invitations(user: User) -> int:
    """Turn the invitations waiting for `user`'s address into ordinary invitations; returns
    how many. Called when a person joins Keel (keel.pools.apps)."""
    claimed = 0
    for waiting in EmailInvitation.objects.filter(email__iexact=user.email).order_by("pk"):
        with transaction.atomic():
            pool = Pool.objects.select_for_update().get(pk=waiting.pool_id)
            if not pool.memberships.filter(user=user).exists():
                Membership.objects.create(
                    pool=pool,
                    user=user,
                    number=_next_number(pool),
                    status=MemberStatus.INVITED,
                    invited_by=waiting.invited_by,
                )
                claimed += 1
            waiting.delete()
    return claimed


def accept_invitation(membership: Membership, *, tier_gift: int | None = None) -> Membership:
    if membership.status != MemberStatus.INVITED:
        raise Conflict("there is no open invitation to accept")
    return apply(membership.pool, membership.user, tier_gift=tier_gift)


@transaction.atomic
def set_tier(membership: Membership, tier_gift: int) -> Membership:
    """Change the insured gift; deposits from next month follow it. Not while a claim is
    open: the gift of a running claim is the tier it was reported under."""
    rules = sick_leave_rules(membership.pool)
    tier = _checked_tier(rules, tier_gift)
    if membership.claims.filter(status__in=OPEN_CLAIM).exists():
        raise Conflict("the tier cannot change while you have an open claim", field="tier_gift")
    membership.tier_gift = tier
    membership.save(update_fields=["tier_gift"])
    return membership


# ---------------------------------------------------------------------------- deposits


def deposit_amount(membership: Membership, rules: PoolRules) -> int:
    if isinstance(rules, SickLeaveRules):
        assert membership.tier_gift is not None
        return gifts.monthly_deposit(membership.tier_gift, rules)
    if isinstance(rules, EmergencyRules | RotatingSavingsRules):
        return rules.contribution
    assert isinstance(rules, HealthSharingRules)
    return rules.monthly_share


def ensure_deposits(pool: Pool, month: date) -> int:
    """The month's deposit for every active member who had joined by its last day;
    returns how many were added (running it again adds none).

    In a rotating savings pool a contribution is owed for a round only, by the members
    of its cycle: the pot was counted for them, and a contribution from anyone else (a
    newcomer mid-cycle, any member between cycles) would go to no one."""
    month = month_start(month)
    rules = current_rules(pool)
    next_month = gifts.add_months(month, 1)
    members = pool.memberships.filter(status=MemberStatus.ACTIVE, joined_on__lt=next_month)
    if pool.kind == PoolKind.ROTATING_SAVINGS:
        cycle = pool.rounds.filter(month=month).values_list("cycle", flat=True).first()
        if cycle is None:
            return 0
        members = members.filter(pk__in=pool.rounds.filter(cycle=cycle).values("recipient_id"))
    # Only the member's present period counts: a month paid before leaving went back with
    # the reserve, so it is due again in the period they came back in.
    have = set(
        Deposit.objects.filter(
            membership__pool=pool, month=month, period=F("membership__period")
        ).values_list("membership_id", flat=True)
    )
    new = [
        Deposit(membership=m, period=m.period, month=month, amount=deposit_amount(m, rules))
        for m in members
        if m.pk not in have
    ]
    Deposit.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


@transaction.atomic
def pay_deposit(
    membership: Membership, month: date, *, on: date | None = None, now: datetime | None = None
) -> Deposit:
    """Record the member's deposit for ``month`` as received on ``on`` (default today; the
    pool's bank shows it): into their own reserve in a sick-leave fund, into the common
    fund otherwise."""
    month = month_start(month)
    pool = membership.pool
    if membership.status != MemberStatus.ACTIVE:
        raise NotAllowed("only active members pay deposits")
    ensure_deposits(pool, month)
    deposit = (
        Deposit.objects.select_for_update()
        .filter(membership=membership, period=membership.period, month=month)
        .first()
    )
    if deposit is None:
        raise PoolError(f"no deposit is due for {gifts.month_name(month)}", field="month")
    if deposit.journal_id is not None:
        return deposit
    rules = current_rules(pool)
    into = reserve_code(membership) if pool.kind == PoolKind.SICK_LEAVE else fund_code(pool)
    legs = [
        LegSpec(bank_code(pool), deposit.amount, pool.currency),
        LegSpec(into, -deposit.amount, pool.currency),
    ]
    fee = rules.entry_fee if isinstance(rules, SickLeaveRules) else 0
    first = not Deposit.objects.filter(membership=membership, journal_id__isnull=False).exists()
    if fee and first:
        # The entry fee is paid once, with the first deposit, into the common fund.
        legs = [
            LegSpec(bank_code(pool), deposit.amount + fee, pool.currency),
            LegSpec(into, -deposit.amount, pool.currency),
            LegSpec(fund_code(pool), -fee, pool.currency),
        ]
    posted = ledger.post_journal(
        JournalSpec(
            idempotency_key=f"pool:{pool.pk}:deposit:{membership.number}:{month_key(month)}"
            f"{_period_suffix(deposit.period)}",
            kind="pool.deposit",
            effective_date=on or timezone.localdate(),
            legs=tuple(legs),
            memo=f"Deposit for {gifts.month_name(month)} from {membership.pseudonym}",
            metadata={"pool": pool.pk, "member": membership.number, "month": month_key(month)},
        )
    )
    deposit.journal_id = posted.id
    deposit.paid_at = now or timezone.now()
    deposit.save(update_fields=["journal_id", "paid_at"])
    return deposit


def unpaid_months(membership: Membership, as_of: date) -> list[date]:
    # A deposit left unpaid in an earlier period is not owed: leaving ended that cover.
    return list(
        membership.deposits.filter(
            period=membership.period, journal_id__isnull=True, month__lte=as_of
        )
        .order_by("month")
        .values_list("month", flat=True)
    )


def claim_right(membership: Membership, as_of: date | None = None) -> gifts.ClaimRight:
    as_of = as_of or timezone.localdate()
    rules = current_rules(membership.pool)
    if isinstance(rules, RotatingSavingsRules):
        return gifts.ClaimRight(False, "a rotating savings pool pays by rounds, not claims")
    return gifts.claim_right(unpaid_months(membership, as_of), rules, as_of)


# ---------------------------------------------------------------------------- claims


@transaction.atomic
def report_claim(
    membership: Membership,
    *,
    start_date: date,
    amount: int | None = None,
    description: str = "",
    today: date | None = None,
) -> Claim:
    """A member reports sickness (or a need); it waits for approval by other members."""
    pool = Pool.objects.select_for_update().get(pk=membership.pool_id)
    membership.pool = pool
    today = today or timezone.localdate()
    if membership.status != MemberStatus.ACTIVE:
        raise NotAllowed("only members of the pool can claim")
    rules = current_rules(pool)
    if isinstance(rules, RotatingSavingsRules):
        raise PoolError("a rotating savings pool pays by rounds, not claims", field="pool")
    if not isinstance(start_date, date) or isinstance(start_date, datetime):
        raise PoolError("the start date must be a date", field="start_date")
    if start_date > today:
        raise PoolError("the start date cannot be in the future", field="start_date")
    if membership.joined_on is not None and start_date < membership.joined_on:
        # Cover begins with membership: a sickness already running when the member joined
        # would skip the waiting period and be paid from the first month.
        raise PoolError(
            f"you joined the pool on {membership.joined_on:%d %B %Y}: a sickness or need"
            " that began before then is not covered",
            field="start_date",
        )
    members = pool.memberships.filter(status=MemberStatus.ACTIVE).count()
    if members < rules.min_members:
        raise Conflict(
            f"the pool is still forming: claims open once it has {rules.min_members} members"
            f" (it has {members})"
        )
    right = gifts.claim_right(unpaid_months(membership, today), rules, today)
    if not right.allowed:
        raise NotAllowed(right.reason)
    kind = CLAIM_KIND[PoolKind(pool.kind)]
    if kind == ClaimKind.SICKNESS:
        amount = None
        if membership.claims.filter(
            kind=kind, status__in=OPEN_CLAIM, recovered_on__isnull=True
        ).exists():
            raise Conflict("you already have an open sickness claim; report recovery first")
        # Sicknesses of one member never overlap: the run pays a member one gift a month,
        # and a month inside two claims' periods would be due twice (gifts module).
        earlier = (
            membership.claims.filter(kind=kind, recovered_on__gt=start_date)
            .exclude(status=ClaimStatus.REJECTED)
            .order_by("-recovered_on")
            .first()
        )
        if earlier is not None and earlier.recovered_on is not None:
            raise Conflict(
                f"your sickness reported from {earlier.start_date:%d %B %Y} lasted until"
                f" {earlier.recovered_on:%d %B %Y}: a new one cannot start before that day",
                field="start_date",
            )
    else:
        if type(amount) is not int or amount <= 0:
            raise PoolError(
                "the amount must be a positive whole number of minor units", field="amount"
            )
        if amount > MAX_AMOUNT:
            raise PoolError(
                f"the amount must be at most {MAX_AMOUNT:,} minor units", field="amount"
            )
        if isinstance(rules, EmergencyRules):
            check = emergency.assess_grant(
                rules,
                amount,
                _past_grants(membership),
                start_date,
                balances(pool).get(fund_code(pool), 0),
            )
            if not check.allowed:
                raise PoolError(check.reason, field="amount")
    return Claim.objects.create(
        pool=pool,
        membership=membership,
        kind=kind,
        start_date=start_date,
        amount=amount,
        description=(description or "").strip(),
    )


def _past_grants(membership: Membership) -> list[emergency.PastGrant]:
    return [
        emergency.PastGrant(c.start_date, c.amount or 0)
        for c in membership.claims.filter(kind=ClaimKind.GRANT, journal_id__isnull=False)
    ]


def _past_shares(membership: Membership) -> list[sharing.PastShare]:
    return [
        sharing.PastShare(c.start_date, _shared_of(c))
        for c in membership.claims.filter(kind=ClaimKind.NEED, journal_id__isnull=False)
    ]


def paid_from_fund(pool: Pool, claims: Iterable[Claim]) -> dict[int, int]:
    """What the common fund paid for each of ``claims`` that it paid (emergency grants,
    shared health costs), by claim id, read from their journals' legs on the bank."""
    by_journal = {c.journal_id: c.pk for c in claims if c.journal_id is not None}
    if not by_journal:
        return {}
    legs = Leg.objects.filter(
        journal_id__in=list(by_journal),
        account__owner_type="pool",
        account__owner_id=pool.pk,
        account__code=bank_code(pool),
    ).values_list("journal_id", "amount")
    return {by_journal[journal]: -amount for journal, amount in legs}


def _shared_of(claim: Claim) -> int:
    """What the pool paid for a need: the journal's credit to the bank."""
    if claim.journal_id is None:
        return 0
    leg = Leg.objects.filter(
        journal_id=claim.journal_id, account__code=bank_code(claim.pool)
    ).first()
    return -leg.amount if leg is not None else 0


def approval_of(claim: Claim) -> votes.Approval:
    rules = current_rules(claim.pool)
    assert not isinstance(rules, RotatingSavingsRules)
    # The pool too, though the claim implies it: its id is the distribution key on Citus.
    decisions = list(claim.decisions.filter(claim__pool_id=claim.pool_id))
    return votes.claim_approval(
        [d.membership_id for d in decisions if d.decision == Decision.APPROVE],
        {d.membership_id: d.reason for d in decisions if d.decision == Decision.REJECT},
        claim.membership_id,
        rules.approvals_required,
    )


@transaction.atomic
def decide_claim(
    claim: Claim, by: User, decision: str, reason: str = "", *, today: date | None = None
) -> Claim:
    """Another member approves or rejects (with a reason) a pending claim."""
    claim = Claim.objects.select_for_update().select_related("pool", "membership").get(pk=claim.pk)
    member = require_active(claim.pool, by)
    try:
        votes.check_approver(member.pk, claim.membership_id)
    except RulesError:
        raise NotAllowed("you cannot approve or reject your own claim") from None
    if claim.status != ClaimStatus.PENDING:
        raise Conflict(f"this claim is already {claim.get_status_display().lower()}")
    if decision not in Decision.values:
        raise PoolError("the decision must be approve or reject", field="decision")
    reason = (reason or "").strip()
    if decision == Decision.REJECT and not reason:
        raise PoolError("a rejection needs a reason", field="reason")
    try:
        ClaimDecision.objects.create(
            claim=claim, membership=member, decision=decision, reason=reason
        )
    except IntegrityError:
        raise Conflict("you have already decided on this claim") from None
    approval = approval_of(claim)
    audit.record(
        "claim.approved" if decision == Decision.APPROVE else "claim.rejected",
        actor=by,
        subject=f"claim:{claim.pk}",
        pool_id=claim.pool_id,
        worker_id=claim.membership.user_id,
        details={"member": member.number, "claim_status": approval.status},
    )
    if approval.status == "pending":
        return claim
    claim.decided_at = timezone.now()
    if approval.status == "rejected":
        claim.status = ClaimStatus.REJECTED
        claim.save(update_fields=["status", "decided_at"])
        return claim
    claim.status = ClaimStatus.APPROVED
    claim.save(update_fields=["status", "decided_at"])
    _after_approval(claim, member, today or timezone.localdate())
    return claim


def _after_approval(claim: Claim, by: Membership, today: date) -> None:
    rules = current_rules(claim.pool)
    if isinstance(rules, EmergencyRules):
        assert claim.amount is not None
        if claim.amount > rules.vote_above:
            _open_vote(
                claim.pool,
                VoteSubject.GRANT,
                f"Grant of {format_amount(claim.amount, claim.pool.currency, symbol=True)}"
                f" to {claim.membership.pseudonym}",
                opened_by=by,
                claim=claim,
            )
            return
        _pay_grant(claim, today)
    elif isinstance(rules, HealthSharingRules):
        _pay_need(claim, rules, today)
    elif isinstance(rules, SickLeaveRules) and claim.kind == ClaimKind.SICKNESS:
        _pay_arrears(claim, rules, today)


def _pay_arrears(claim: Claim, rules: SickLeaveRules, today: date) -> list[Gift]:
    """Gifts for the months whose run was made before the claim was approved.

    A month's run pays the claims approved by then; one approved later (the approvers
    took their time) would have lost every month already run. Each such month, oldest
    first, gets the gift the run would have given it, by the same rules
    (``gifts.monthly_gifts`` on this claim alone): from the reserves the members hold now,
    in proportion to their tiers, cut or short as they allow. Members who received a gift
    in that month's run do not give to it, as in the run itself. The gift joins the
    month's run (one per claim and month) and counts toward the claim's maximum months."""
    pool = claim.pool
    made: list[Gift] = []
    month = month_start(claim.start_date)
    last = month_start(today)
    db = transaction.get_connection()
    while month <= last:
        run = GiftRun.objects.filter(pool=pool, month=month).first()
        if run is None or run.gifts.filter(claim=claim).exists():
            month = gifts.add_months(month, 1)
            continue
        rows = _run_rows(db, pool, month)
        numbers, members, _ = _gift_inputs(rows)
        if claim.membership_id not in numbers:
            break
        paid = claim.gifts.filter(received__gt=0).count()
        rule_claim = gifts.Claim(
            claim.pk, claim.membership_id, claim.start_date, True, claim.recovered_on, paid
        )
        if gifts.not_due_reason(rule_claim, month, rules, paid) is not None:
            month = gifts.add_months(month, 1)
            continue
        receivers = set(
            run.gifts.filter(received__gt=0).values_list("claim__membership_id", flat=True)
        )
        plan = gifts.monthly_gifts(
            [rule_claim], [m for m in members if m.id not in receivers], rules, month
        )
        [cg] = plan.claims
        journal_id = None
        if cg.received:
            codes = _giver_codes(pool, plan, numbers)
            spec = _gift_spec(
                pool, rows.currency, plan, cg, plan.gives[0], codes, numbers, today, arrears=True
            )
            journal_id = ledger.post_journal(spec).id
        gift = Gift.objects.create(
            run=run,
            claim=claim,
            gross=cg.gross,
            after_cut=cg.cut_gift,
            received=cg.received,
            journal_id=journal_id,
        )
        GiftShortfall.objects.bulk_create(
            GiftShortfall(gift=gift, giver_id=int(s.giver), owed=s.owed, given=s.given)
            for s in plan.shortfalls
        )
        made.append(gift)
        if cg.received and paid + 1 >= rules.max_gift_months:
            claim.status = ClaimStatus.CLOSED
            claim.save(update_fields=["status"])
            break
        month = gifts.add_months(month, 1)
    return made


def _pay_grant(claim: Claim, today: date) -> None:
    rules = current_rules(claim.pool)
    assert isinstance(rules, EmergencyRules)
    assert claim.amount is not None
    pool = claim.pool
    check = emergency.assess_grant(
        rules,
        claim.amount,
        _past_grants(claim.membership),
        claim.start_date,
        balances(pool).get(fund_code(pool), 0),
    )
    if not check.allowed:
        raise PoolError(check.reason, field="amount")
    _pay_from_fund(
        claim, claim.amount, "pool.grant", f"Emergency grant to {claim.membership.pseudonym}", today
    )


def _pay_need(claim: Claim, rules: HealthSharingRules, today: date) -> None:
    assert claim.amount is not None
    share = sharing.share_need(
        rules, claim.amount, _past_shares(claim.membership), claim.start_date
    )
    if share.shared == 0:
        claim.status = ClaimStatus.CLOSED
        claim.save(update_fields=["status"])
        return
    _pay_from_fund(
        claim,
        share.shared,
        "pool.need",
        f"Health cost shared for {claim.membership.pseudonym}: the member pays"
        f" {format_amount(share.member_pays, claim.pool.currency, symbol=True)}",
        today,
    )


def _pay_from_fund(claim: Claim, amount: int, kind: str, memo: str, today: date) -> None:
    pool = claim.pool
    try:
        posted = ledger.post_journal(
            JournalSpec(
                idempotency_key=f"pool:{pool.pk}:claim:{claim.pk}",
                kind=kind,
                effective_date=today,
                legs=(
                    LegSpec(fund_code(pool), amount, pool.currency),
                    LegSpec(bank_code(pool), -amount, pool.currency),
                ),
                memo=memo,
                metadata={"pool": pool.pk, "claim": claim.pk, "member": claim.membership.number},
            )
        )
    except LedgerError as exc:
        if exc.code == "floor_breached":
            raise PoolError(
                "the common fund does not hold enough to pay this", field="amount"
            ) from None
        raise
    claim.journal_id = posted.id
    claim.status = ClaimStatus.CLOSED
    claim.save(update_fields=["journal_id", "status"])


@transaction.atomic
def remind(claim: Claim, by: User) -> ClaimReminder:
    """Record a reminder to every member who has not decided on a pending claim."""
    member = require_active(claim.pool, by)
    if claim.status != ClaimStatus.PENDING:
        raise Conflict("only a pending claim needs reminders")
    decided = set(claim.decisions.values_list("membership_id", flat=True))
    undecided = [
        m for m in active_members(claim.pool) if m.pk not in decided and m.pk != claim.membership_id
    ]
    reminder = ClaimReminder.objects.create(claim=claim, sent_by=member)
    reminder.sent_to.set(undecided)
    return reminder


@transaction.atomic
def report_recovery(claim: Claim, by: User, recovered_on: date) -> Claim:
    """The claimant (or a steward) reports recovery: no gift is given for a month that
    begins on or after ``recovered_on`` (``gifts.first_month_after_recovery``)."""
    claim = Claim.objects.select_for_update().select_related("pool", "membership").get(pk=claim.pk)
    member = require_active(claim.pool, by)
    if member.pk != claim.membership_id and member.role != MemberRole.STEWARD:
        raise NotAllowed("only the claimant or a steward can report recovery")
    if claim.kind != ClaimKind.SICKNESS:
        raise PoolError("only a sickness claim has a recovery", field="claim")
    if claim.recovered_on is not None:
        raise Conflict(f"recovery was already reported for {claim.recovered_on:%d %B %Y}")
    if recovered_on < claim.start_date:
        raise PoolError("recovery cannot be before the sickness started", field="recovered_on")
    claim.recovered_on = recovered_on
    update = ["recovered_on"]
    if claim.status == ClaimStatus.PENDING:
        claim.status = ClaimStatus.CLOSED
        update.append("status")
    claim.save(update_fields=update)
    owed = owed_back(claim)
    if owed.total:
        audit.record(
            "claim.owed_back",
            actor=by,
            subject=f"claim:{claim.pk}",
            pool_id=claim.pool_id,
            worker_id=claim.membership.user_id,
            details={
                "member": claim.membership.number,
                "amount": owed.total,
                "currency": claim.pool.currency,
                "months": [month_key(m) for m in owed.months],
            },
        )
    return claim


def gifts_after_recovery(claim: Claim) -> list[Gift]:
    """Gifts given for months that began on or after the recovery: a recovery reported
    late leaves them paid, and the member owes them back (``owed_back``)."""
    if claim.recovered_on is None:
        return []
    first = gifts.first_month_after_recovery(claim.recovered_on)
    return list(
        # The pool too, though the claim implies it: its id is the distribution key.
        claim.gifts.filter(claim__pool_id=claim.pool_id, received__gt=0, run__month__gte=first)
        .select_related("run")
        .order_by("run__month")
    )


# ---------------------------------------------------------------------------- owed back
# Gifts given for months after a late-reported recovery go back to their givers: the
# member pays them into the pool's bank (or a steward records a payment received outside
# Keel), they come out of the member's reserve when the member leaves, or the members
# waive them by a vote. Each return is one journal that mirrors the gifts' journals:
# the money comes in and every giver's reserve is credited their share (rules.gifts,
# "Gifts owed back").


@dataclass(frozen=True, slots=True)
class OwedBack:
    """What a claim owes back: the gifts for ``months`` (``total``), less what was repaid
    (paid, or taken from the reserve) and waived; ``givers`` is what each giver, by
    membership number in number order, is still owed, read from the ledger's legs."""

    months: tuple[date, ...]
    total: int
    repaid: int
    waived: int
    givers: tuple[tuple[int, int], ...]

    @property
    def remaining(self) -> int:
        return self.total - self.repaid - self.waived


NOTHING_OWED = OwedBack((), 0, 0, 0, ())


def owed_back(claim: Claim) -> OwedBack:
    late = gifts_after_recovery(claim)
    if not late:
        return NOTHING_OWED
    rows = list(claim.repayments.filter(claim__pool_id=claim.pool_id))
    waived = sum(r.amount for r in rows if r.kind == RepaymentKind.WAIVED)
    repaid = sum(r.amount for r in rows if r.kind != RepaymentKind.WAIVED)
    prefix = _reserve_prefix(claim.pool_id)
    on_reserves = Leg.objects.filter(
        account__owner_type="pool",
        account__owner_id=claim.pool_id,
        account__code__startswith=prefix,
    )
    still: dict[int, int] = {}
    # A gift debits each giver's reserve their share; a repayment credits it back.
    for code, amount in on_reserves.filter(
        journal_id__in=[g.journal_id for g in late if g.journal_id is not None], amount__gt=0
    ).values_list("account__code", "amount"):
        number = int(code.removeprefix(prefix))
        still[number] = still.get(number, 0) + amount
    for code, amount in on_reserves.filter(
        journal_id__in=[r.journal_id for r in rows if r.journal_id is not None], amount__lt=0
    ).values_list("account__code", "amount"):
        number = int(code.removeprefix(prefix))
        still[number] = still.get(number, 0) + amount
    givers = tuple((number, 0 if waived else amount) for number, amount in sorted(still.items()))
    return OwedBack(
        tuple(g.run.month for g in late), sum(g.received for g in late), repaid, waived, givers
    )


def _owing(claims: QuerySet[Claim]) -> list[tuple[Claim, OwedBack]]:
    # A gift's month is a first day, so "on or after the first month after the recovery"
    # (gifts.first_month_after_recovery) is "on or after the recovery day" itself.
    found = (
        claims.filter(
            kind=ClaimKind.SICKNESS,
            recovered_on__isnull=False,
            gifts__received__gt=0,
            gifts__run__month__gte=F("recovered_on"),
        )
        .select_related("pool", "membership__user")
        .distinct()
        .order_by("recovered_on", "pk")
    )
    return [(claim, owed_back(claim)) for claim in found]


def owed_back_in(pool: Pool) -> list[tuple[Claim, OwedBack]]:
    """Every claim of the pool that owes gifts back, or did, oldest recovery first."""
    return _owing(pool.claims.all())


def still_owed_by(membership: Membership) -> list[tuple[Claim, OwedBack]]:
    """The member's claims that still owe gifts back, oldest recovery first."""
    # The pool too, though the membership implies it: its id is the distribution key.
    claims = Claim.objects.filter(pool_id=membership.pool_id, membership=membership)
    return [(c, o) for c, o in _owing(claims) if o.remaining > 0]


def _repayment_specs(
    claim: Claim, owed: OwedBack, amount: int, *, source: str, key: str, on: date, how: str
) -> list[JournalSpec]:
    """The repayment's journal: ``amount`` from ``source`` (the bank for money paid in,
    the member's reserve on leaving), each giver's reserve credited their share. A giver
    who has left the pool took their reserve with them; their share is paid out to them
    at once, by a journal of its own, rather than left in a reserve nobody holds (so is one
    who left and is on their way back, not admitted yet)."""
    pool = claim.pool
    owing = [(number, left) for number, left in owed.givers if left]
    shares = gifts.repayment_shares(amount, owing)
    prefix = _reserve_prefix(pool.pk)
    months = ", ".join(gifts.month_name(m) for m in owed.months)
    who = claim.membership.pseudonym
    specs = [
        JournalSpec(
            idempotency_key=key,
            kind="pool.repayment",
            effective_date=on,
            legs=(
                LegSpec(source, amount, pool.currency),
                *[
                    LegSpec(f"{prefix}{number}", -share, pool.currency)
                    for (number, _), share in zip(owing, shares, strict=True)
                    if share
                ],
            ),
            memo=f"{who} gives back gifts for {months}, given after their recovery ({how})",
            metadata={"pool": pool.pk, "claim": claim.pk, "member": claim.membership.number},
        )
    ]
    # Not active is gone: one who left and is invited or applying back (or was refused)
    # holds no reserve until admitted again.
    gone = set(
        pool.memberships.filter(number__in=[n for n, _ in owing])
        .exclude(status=MemberStatus.ACTIVE)
        .values_list("number", flat=True)
    )
    for (number, _), share in zip(owing, shares, strict=True):
        if share and number in gone:
            specs.append(
                JournalSpec(
                    idempotency_key=f"{key}:to:{number}",
                    kind="pool.exit",
                    effective_date=on,
                    legs=(
                        LegSpec(f"{prefix}{number}", share, pool.currency),
                        LegSpec(bank_code(pool), -share, pool.currency),
                    ),
                    memo=f"{pseudonym(number)}, who has left, is paid their share of a"
                    f" repayment by {who}",
                    metadata={"pool": pool.pk, "claim": claim.pk, "member": number},
                )
            )
    return specs


def _last_gift_repaid(claim: Claim, owed: OwedBack, amount: int) -> date:
    """The day the last gift a repayment of ``amount`` pays back was given: its journal's
    date (``gifts.last_gift_repaid``; the gifts are paid back oldest month first)."""
    late = gifts_after_recovery(claim)
    given_on = dict(
        Journal.objects.filter(pk__in=[g.journal_id for g in late]).values_list(
            "pk", "effective_date"
        )
    )
    # A gift owed back was received (received > 0), so it has its journal.
    return gifts.last_gift_repaid(
        [(g.received, given_on[g.journal_id]) for g in late if g.journal_id is not None],
        owed.repaid + owed.waived,
        amount,
    )


def _check_amount(amount: object) -> int:
    if type(amount) is not int or amount <= 0:
        raise PoolError("the amount must be a positive whole number of minor units", field="amount")
    return amount


@transaction.atomic
def repay(
    claim: Claim, by: User, amount: int, *, key: str, received_on: date | None = None
) -> Repayment:
    """The member pays back ``amount`` of what the claim owes back, or a steward records
    such a payment received outside Keel, on ``received_on`` (default today; the pool's
    bank shows it; not before the last gift it pays back was given, nor in the future).
    Partial repayments are allowed, never more than is still owed.
    ``key`` (the form's once-token, or the caller's own) makes it idempotent: the same key
    again returns the first repayment and books nothing."""
    claim = Claim.objects.select_for_update().select_related("pool", "membership").get(pk=claim.pk)
    pool = claim.pool
    member = require_active(pool, by)
    if member.pk != claim.membership_id and member.role != MemberRole.STEWARD:
        raise NotAllowed("only the member who received the gifts or a steward can record this")
    amount = _check_amount(amount)
    key = (key or "").strip()
    if not key or len(key) > 64:
        raise PoolError("a repayment needs a key of 1 to 64 characters", field="key")
    journal_key = f"pool:{pool.pk}:repay:{claim.pk}:{key}"
    earlier = Repayment.objects.filter(key=journal_key).first()
    if earlier is not None:
        if earlier.amount != amount:
            raise Conflict(
                "a repayment with this key was already recorded, of another amount", field="key"
            )
        return earlier
    today = timezone.localdate()
    received_on = received_on or today
    if received_on > today:
        raise PoolError("the day it was received cannot be in the future", field="received_on")
    owed = owed_back(claim)
    if owed.remaining <= 0:
        raise Conflict("nothing is owed back on this claim", field="amount")
    if amount > owed.remaining:
        still = format_amount(owed.remaining, pool.currency, symbol=True)
        raise PoolError(
            f"only {still} is still owed back: a repayment cannot be more", field="amount"
        )
    last = _last_gift_repaid(claim, owed, amount)
    if received_on < last:
        raise PoolError(
            f"it pays back a gift given on {last.day} {last:%B %Y}: it cannot have been"
            " received before then",
            field="received_on",
        )
    repayment = _book_repayment(
        claim,
        owed,
        amount,
        kind=RepaymentKind.PAID,
        source=bank_code(pool),
        key=journal_key,
        on=received_on,
        how="paid in",
        recorded_by=member,
        actor=by,
        details={"recorded_by": member.number},
    )
    return repayment


def _book_repayment(
    claim: Claim,
    owed: OwedBack,
    amount: int,
    *,
    kind: str,
    source: str,
    key: str,
    on: date,
    how: str,
    recorded_by: Membership,
    actor: User,
    details: dict[str, Any],
) -> Repayment:
    """One repayment: its journal(s) back to the givers, its row and its audit event."""
    posted = ledger.post_journals(
        _repayment_specs(claim, owed, amount, source=source, key=key, on=on, how=how)
    )
    repayment = Repayment.objects.create(
        claim=claim,
        kind=kind,
        amount=amount,
        key=key,
        journal_id=posted[0].id,
        received_on=on,
        recorded_by=recorded_by,
    )
    audit.record(
        "claim.repaid",
        actor=actor,
        subject=f"claim:{claim.pk}",
        pool_id=claim.pool_id,
        worker_id=claim.membership.user_id,
        details={
            "member": claim.membership.number,
            "amount": amount,
            "currency": claim.pool.currency,
            "still_owed": owed.remaining - amount,
            **details,
        },
    )
    return repayment


def _repay_from_reserve(membership: Membership, reserve: int, today: date) -> int:
    """On leaving, what the member's claims owe back comes out of their reserve first,
    oldest recovery first, as far as it reaches; returns what was taken. Anything it does
    not cover stays owed on the claim."""
    taken = 0
    claims = (
        Claim.objects.select_for_update()
        .filter(membership=membership, kind=ClaimKind.SICKNESS, recovered_on__isnull=False)
        .select_related("pool", "membership")
        .order_by("recovered_on", "pk")
    )
    for claim in claims:
        owed = owed_back(claim)
        take = min(owed.remaining, reserve - taken)
        if take <= 0:
            continue
        key = f"pool:{claim.pool_id}:repay:{claim.pk}:reserve:{claim.repayments.count() + 1}"
        _book_repayment(
            claim,
            owed,
            take,
            kind=RepaymentKind.FROM_RESERVE,
            source=reserve_code(membership),
            key=key,
            on=today,
            how="from their reserve on leaving",
            recorded_by=membership,
            actor=membership.user,
            details={"from_reserve": True},
        )
        taken += take
    return taken


@transaction.atomic
def propose_waiver(claim: Claim, by: User, reason: str) -> Vote:
    """A steward asks the members to waive what the claim still owes back: the givers
    forgo money from their own reserves, so the members decide, by the pool's quorum and
    majority; the claimant does not vote."""
    claim = Claim.objects.select_for_update().select_related("pool", "membership").get(pk=claim.pk)
    pool = claim.pool
    member = require_steward(pool, by)
    reason = (reason or "").strip()
    if not reason:
        raise PoolError("say why the members should waive it", field="reason")
    if len(reason) > 2000:
        raise PoolError("the reason is longer than 2,000 characters", field="reason")
    owed = owed_back(claim)
    if owed.remaining <= 0:
        raise Conflict("nothing is owed back on this claim")
    if claim.votes.filter(subject=VoteSubject.WAIVER, status=VoteStatus.OPEN).exists():
        raise Conflict("a vote on waiving it is already open")
    still = format_amount(owed.remaining, pool.currency, symbol=True)
    vote = _open_vote(
        pool,
        VoteSubject.WAIVER,
        f"Waive the {still} of gifts {claim.membership.pseudonym} owes back",
        opened_by=member,
        claim=claim,
        reason=reason,
    )
    audit.record(
        "claim.waiver_proposed",
        actor=by,
        subject=f"claim:{claim.pk}",
        pool_id=pool.pk,
        worker_id=claim.membership.user_id,
        details={"vote": vote.pk, "amount": owed.remaining, "currency": pool.currency},
    )
    return vote


def _waive(vote: Vote, today: date) -> Repayment | None:
    """A passed waiver vote: whatever the claim still owes back when it closes is waived."""
    assert vote.claim is not None
    claim = (
        Claim.objects.select_for_update().select_related("pool", "membership").get(pk=vote.claim.pk)
    )
    owed = owed_back(claim)
    if owed.remaining <= 0:
        return None
    waiver = Repayment.objects.create(
        claim=claim,
        kind=RepaymentKind.WAIVED,
        amount=owed.remaining,
        key=f"pool:{claim.pool_id}:waive:{vote.pk}",
        received_on=today,
        vote=vote,
    )
    audit.record(
        "claim.waived",
        subject=f"claim:{claim.pk}",
        pool_id=claim.pool_id,
        worker_id=claim.membership.user_id,
        details={"vote": vote.pk, "amount": owed.remaining, "currency": claim.pool.currency},
    )
    return waiver


# ---------------------------------------------------------------------------- gifts


def _months_paid(pool: Pool, claim_ids: Iterable[int]) -> dict[int, int]:
    rows = (
        Gift.objects.filter(claim_id__in=list(claim_ids), claim__pool=pool, received__gt=0)
        .values("claim_id")
        .annotate(n=Count("id"))
    )
    return {r["claim_id"]: r["n"] for r in rows}


@dataclass(frozen=True, slots=True)
class GiftRunResult:
    run: GiftRun
    created: bool
    plan: gifts.GiftRun | None


# The gift run reads and writes its rows with plain SQL: a run is a handful of
# statements, and the ORM's building of each cost more than the ledger write they
# surround (the `pools.gift_run` bench figure).
_POOL, _RUN, _GIFT = Pool._meta.db_table, GiftRun._meta.db_table, Gift._meta.db_table
_LOCK_POOL_SQL = f"SELECT id FROM {_POOL} WHERE id = %s FOR UPDATE"
# Every table is reached by the pool's id (or its owner id), its distribution key on a
# sharded database (docs/scaling.md).
# The pool's currency, its current rules and the month's run if there is one.
_RUN_HEAD_SQL = (
    f"SELECT p.currency,"
    f" (SELECT CAST(v.rules AS TEXT) FROM {RulesVersion._meta.db_table} v"
    f"  WHERE v.pool_id = %s ORDER BY v.version DESC LIMIT 1),"
    f" (SELECT r.id FROM {_RUN} r WHERE r.pool_id = %s AND r.month = %s)"
    f" FROM {_POOL} p WHERE p.id = %s"
)
# Each active member with the posted totals of their reserve account (see reserve_code).
_RUN_MEMBERS_SQL = (
    f"SELECT m.id, m.number, m.tier_gift, a.kind, a.posted_debits, a.posted_credits"
    f" FROM {Membership._meta.db_table} m LEFT JOIN {Account._meta.db_table} a"
    f"  ON a.owner_type = %s AND a.owner_id = %s AND a.code = %s || CAST(m.number AS TEXT)"
    f" WHERE m.pool_id = %s AND m.status = %s ORDER BY m.number"
)
# Each sickness claim that may be paid, with the months already paid for it (see
# _months_paid). A closed claim was approved if it was decided (rejected ones are
# REJECTED); one closed by recovery or exit while still pending was never approved and
# is not paid.
_RUN_CLAIMS_SQL = (
    f"SELECT c.id, c.membership_id, c.start_date, c.recovered_on,"
    f" (SELECT count(*) FROM {_GIFT} g WHERE g.claim_id = c.id AND g.received > 0)"
    f" FROM {Claim._meta.db_table} c WHERE c.pool_id = %s AND c.kind = %s"
    f" AND (c.status = %s OR (c.status = %s AND c.decided_at IS NOT NULL))"
    f" AND (c.recovered_on IS NULL OR c.recovered_on > %s)"
    f" ORDER BY c.reported_at, c.id"
)


@dataclass(frozen=True, slots=True)
class _RunRows:
    """What a gift run is computed from, as read (see the statements above)."""

    currency: str
    rules_json: str | None
    existing_run: int | None
    members: list[tuple[Any, ...]]
    claims: list[tuple[Any, ...]]


def _results(
    db: BaseDatabaseWrapper, statements: Sequence[tuple[str, Sequence[Any]]]
) -> list[list[tuple[Any, ...]]]:
    """The rows of each statement, run in order. PostgreSQL gets them all in one round
    trip: Django's psycopg cursor binds parameters on the client, which lets one execute
    carry several statements (each still sees what was committed before it began)."""
    with db.cursor() as cursor:
        if (
            db.vendor == "postgresql"
            and db.settings_dict["OPTIONS"].get("server_side_binding") is not True
        ):
            cursor.execute(
                "; ".join(sql for sql, _ in statements),
                [value for _, params in statements for value in params],
            )
            results = [cursor.fetchall()]
            while cursor.nextset():
                results.append(cursor.fetchall())
            return results
        found = []
        for sql, params in statements:
            cursor.execute(sql, params)
            found.append(cursor.fetchall())
        return found


def _run_rows(db: BaseDatabaseWrapper, pool: Pool, month: date) -> _RunRows:
    """Lock the pool and read what its gift run for ``month`` is computed from."""
    day = db.ops.adapt_datefield_value(month)
    statements: list[tuple[str, Sequence[Any]]] = [
        (_RUN_HEAD_SQL, (pool.pk, pool.pk, day, pool.pk)),
        (
            _RUN_MEMBERS_SQL,
            ("pool", pool.pk, _reserve_prefix(pool.pk), pool.pk, MemberStatus.ACTIVE.value),
        ),
        (
            _RUN_CLAIMS_SQL,
            (
                pool.pk,
                ClaimKind.SICKNESS.value,
                ClaimStatus.APPROVED.value,
                ClaimStatus.CLOSED.value,
                day,
            ),
        ),
    ]
    if db.features.has_select_for_update:
        # First and a statement of its own: the reads after it see what was committed
        # while it waited for the lock (SQLite's writer lock is held from BEGIN).
        statements.insert(0, (_LOCK_POOL_SQL, (pool.pk,)))
    *_, head, member_rows, claim_rows = _results(db, statements)
    if not head:
        raise Pool.DoesNotExist("Pool matching query does not exist.")
    currency, rules_json, existing_run = head[0]
    return _RunRows(currency, rules_json, existing_run, member_rows, claim_rows)


def _gift_inputs(
    rows: _RunRows,
) -> tuple[dict[gifts.MemberId, int], list[gifts.Member], list[gifts.Claim]]:
    """The rules' inputs from the rows: each active member's number by membership id,
    the members with their reserves, and the claims of active members."""
    numbers: dict[gifts.MemberId, int] = {}
    members = []
    for pk, number, tier_gift, kind, debits, credits in rows.members:
        numbers[pk] = number
        reserve = 0 if kind is None else natural_balance(kind, int(debits), int(credits))
        members.append(gifts.Member(pk, tier_gift or 0, reserve))
    claims = [
        gifts.Claim(pk, member, start, True, recovered, int(paid))
        for pk, member, start, recovered, paid in rows.claims
        if member in numbers
    ]
    return numbers, members, claims


def _gift_key(pool: Pool, claim_id: int, month: date) -> str:
    return f"pool:{pool.pk}:gift:{claim_id}:{month_key(month)}"


def _giver_codes(pool: Pool, plan: gifts.GiftRun, numbers: dict[gifts.MemberId, int]) -> list[str]:
    prefix = _reserve_prefix(pool.pk)
    return [f"{prefix}{numbers[giver]}" for giver in plan.givers]


def _gift_spec(
    pool: Pool,
    currency: str,
    plan: gifts.GiftRun,
    cg: gifts.ClaimGift,
    gives: Sequence[int],
    codes: Sequence[str],
    numbers: dict[gifts.MemberId, int],
    today: date,
    *,
    arrears: bool = False,
) -> JournalSpec:
    """One claim's gift of a run: each giver's reserve debited their share, the bank
    credited what the claim received. ``arrears``: paid on a late approval, after the
    month's run (``_pay_arrears``)."""
    month = plan.month
    why = [f"cut to {plan.cut_percent}%"] if plan.cut_percent < 100 else []
    if arrears:
        why.insert(0, "approved after the month's run")
    metadata: dict[str, Any] = {
        "pool": pool.pk,
        "claim": int(cg.claim),
        "month": month_key(month),
        "gross": cg.gross,
        "cut_percent": plan.cut_percent,
        "shortfall": cg.shortfall,
    }
    if arrears:
        metadata["arrears"] = True
    return JournalSpec(
        idempotency_key=_gift_key(pool, int(cg.claim), month),
        kind="pool.gift",
        effective_date=today,
        legs=(
            *[
                LegSpec(code, amount, currency)
                for code, amount in zip(codes, gives, strict=True)
                if amount
            ],
            LegSpec(bank_code(pool), -cg.received, currency),
        ),
        memo=f"Gift for {gifts.month_name(month)} to {pseudonym(numbers[cg.claimant])}"
        + (f" ({', '.join(why)})" if why else ""),
        metadata=metadata,
    )


def run_month(pool: Pool, month: date, *, today: date | None = None) -> GiftRunResult:
    """The monthly gift run of a sick-leave fund: once per pool and month, however often
    it is started (the pool row is locked and the run row is unique)."""
    month = month_start(month)
    today = today or timezone.localdate()
    if month > month_start(today):
        raise PoolError("a month's gifts cannot be given before the month starts", field="month")
    with transaction.atomic():
        # The connection itself, not the `connection` proxy, which finds it on every use.
        db = transaction.get_connection()
        rows = _run_rows(db, pool, month)
        if rows.existing_run is not None:
            return GiftRunResult(GiftRun.objects.get(pk=rows.existing_run), False, None)
        if rows.rules_json is None:  # pragma: no cover - every pool is created with version 1
            raise PoolError(f"pool {pool.name} has no rules")
        rules = _parsed(rows.rules_json)
        if not isinstance(rules, SickLeaveRules):
            raise PoolError(f"{pool.name} is not a sick-leave fund", field="pool")
        numbers, members, claims = _gift_inputs(rows)
        try:
            plan = gifts.monthly_gifts(claims, members, rules, month)
        except RulesError as exc:
            # Rows the services do not write (two claims of one member due in the month,
            # left from before report_claim refused overlaps) refuse this pool's run, and
            # the daily job goes on with the other pools.
            raise _error_from_rules(exc) from None
        codes = _giver_codes(pool, plan, numbers)
        keys = [_gift_key(pool, int(cg.claim), month) for cg in plan.claims]
        specs = [
            _gift_spec(pool, rows.currency, plan, cg, gives, codes, numbers, today)
            for cg, gives in zip(plan.claims, plan.gives, strict=True)
            if cg.received
        ]
        posted = {p.idempotency_key: p.id for p in ledger.post_journals(specs)} if specs else {}
        run = _insert_run(db, pool, month, plan, [posted.get(k) for k in keys])
        # A claim that has had its last gift month is closed.
        paid = {c.id: c.months_paid for c in claims}
        done = [
            cg.claim
            for cg in plan.claims
            if cg.received and paid[cg.claim] + 1 >= rules.max_gift_months
        ]
        if done:
            Claim.objects.filter(pk__in=done).update(status=ClaimStatus.CLOSED)
        return GiftRunResult(run, True, plan)


def _insert_run(
    db: BaseDatabaseWrapper,
    pool: Pool,
    month: date,
    plan: gifts.GiftRun,
    journal_ids: list[int | None],
) -> GiftRun:
    """Write the run's GiftRun, Gift and GiftShortfall rows (the rows the ORM's create and
    bulk_create would write); returns the GiftRun."""
    ran_at = timezone.now()
    with db.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_RUN} (pool_id, month, cut_percent, ran_at)"
            " VALUES (%s, %s, %s, %s) RETURNING id",
            [
                pool.pk,
                db.ops.adapt_datefield_value(month),
                plan.cut_percent,
                db.ops.adapt_datetimefield_value(ran_at),
            ],
        )
        (run_id,) = cursor.fetchone()
        made = sql.insert_rows(
            cursor,
            _GIFT,
            ("run_id", "claim_id", "gross", "after_cut", "received", "journal_id"),
            [
                (run_id, int(cg.claim), cg.gross, cg.cut_gift, cg.received, journal_id)
                for cg, journal_id in zip(plan.claims, journal_ids, strict=True)
            ],
            returning=("claim_id", "id") if plan.shortfalls else (),
        )
        if plan.shortfalls:
            gift_of = dict(made)
            sql.insert_rows(
                cursor,
                GiftShortfall._meta.db_table,
                ("gift_id", "giver_id", "owed", "given"),
                [(gift_of[int(s.claim)], int(s.giver), s.owed, s.given) for s in plan.shortfalls],
            )
    run = GiftRun(id=run_id, pool=pool, month=month, cut_percent=plan.cut_percent, ran_at=ran_at)
    run._state.adding = False
    run._state.db = db.alias
    return run


def run_pool_month(pool: Pool, today: date) -> tuple[int, bool]:
    """This month's deposits for the pool and, in a sick-leave fund, this month's gift run:
    (deposits added, whether the run was made now). Idempotent."""
    month = month_start(today)
    try:
        with transaction.atomic():
            added = ensure_deposits(pool, month)
    except RulesError as exc:
        # A member on a tier the rules no longer have (rows from before rule changes were
        # checked for it): this pool's deposits are refused, the daily job goes on.
        raise _error_from_rules(exc) from None
    made = pool.kind == PoolKind.SICK_LEAVE and run_month(pool, month, today=today).created
    return added, made


@transaction.atomic
def refund_above_cap(pool: Pool, year: int) -> list[Refund]:
    """The yearly refund of every reserve above its cap; once per member and year."""
    if year > timezone.localdate().year:
        # Made now, a year to come's refund would be done already when that year ends:
        # the surplus its deposits build would wait another year.
        raise PoolError(f"{year} has not begun: a year's refund is made once it has", field="year")
    rules = sick_leave_rules(pool)
    pool = Pool.objects.select_for_update().get(pk=pool.pk)
    members = active_members(pool)
    # Once per period and year: a refund made before the member left went with them.
    done = set(
        Refund.objects.filter(
            membership__pool=pool, year=year, period=F("membership__period")
        ).values_list("membership_id", flat=True)
    )
    held = reserves(pool)
    candidates = [m for m in members if m.pk not in done]
    due = gifts.annual_refunds(
        [gifts.Member(m.pk, m.tier_gift or 0, held.get(m.number, 0)) for m in candidates], rules
    )
    by_id = {m.pk: m for m in candidates}
    made = []
    for refund in due:
        member = by_id[int(refund.member)]
        posted = ledger.post_journal(
            JournalSpec(
                idempotency_key=f"pool:{pool.pk}:refund:{member.number}:{year}"
                f"{_period_suffix(member.period)}",
                kind="pool.refund",
                effective_date=min(timezone.localdate(), date(year, 12, 31)),
                legs=(
                    LegSpec(reserve_code(member), refund.amount, pool.currency),
                    LegSpec(bank_code(pool), -refund.amount, pool.currency),
                ),
                memo=f"Refund {year} of {member.pseudonym}'s reserve above the cap",
                metadata={
                    "pool": pool.pk,
                    "member": member.number,
                    "year": year,
                    "cap": refund.cap,
                },
            )
        )
        made.append(
            Refund.objects.create(
                membership=member,
                period=member.period,
                year=year,
                amount=refund.amount,
                journal_id=posted.id,
            )
        )
    return made


@transaction.atomic
def leave(membership: Membership, *, today: date | None = None) -> int:
    """The member leaves and takes what the rules say is theirs: their whole reserve in a
    sick-leave fund, less the gifts they still owe back, which go from it to their givers
    first (``_repay_from_reserve``); nothing from a common fund (it was given to the
    group). Returns the amount paid out."""
    membership = Membership.objects.select_for_update().select_related("pool").get(pk=membership.pk)
    pool = membership.pool
    today = today or timezone.localdate()
    if membership.status != MemberStatus.ACTIVE:
        raise Conflict("only an active member can leave")
    others = pool.memberships.filter(status=MemberStatus.ACTIVE).exclude(pk=membership.pk)
    if (
        membership.role == MemberRole.STEWARD
        and others.exists()
        and not others.filter(role=MemberRole.STEWARD).exists()
    ):
        raise Conflict("hand stewardship to another member before leaving")
    if pool.kind == PoolKind.ROTATING_SAVINGS:
        # A taker who has had the pot still owes the later rounds; one who has not would
        # leave their contributions in the others' pots. Either way the pot comes up short.
        last = (
            pool.rounds.filter(
                journal_id__isnull=True,
                cycle__in=pool.rounds.filter(recipient=membership).values("cycle"),
            )
            .order_by("-month")
            .first()
        )
        if last is not None:
            raise Conflict(
                "you are in the cycle that runs until the round of"
                f" {gifts.month_name(last.month)}: leave once its last pot is paid"
            )
    payout = repaid = 0
    if pool.kind == PoolKind.SICK_LEAVE:
        held = reserves(pool).get(membership.number, 0)
        repaid = _repay_from_reserve(membership, held, today)
        payout = gifts.exit_payout(held - repaid)
        if payout:
            ledger.post_journal(
                JournalSpec(
                    # One departure each: a member who came back and leaves again
                    # takes the reserve of their second time. The joining day alone
                    # repeats for one who comes back the day they joined; the period
                    # does not (and keeps the first period's keys as they were).
                    idempotency_key=f"pool:{pool.pk}:exit:{membership.number}"
                    f":{membership.joined_on or ''}{_period_suffix(membership.period)}",
                    kind="pool.exit",
                    effective_date=today,
                    legs=(
                        LegSpec(reserve_code(membership), payout, pool.currency),
                        LegSpec(bank_code(pool), -payout, pool.currency),
                    ),
                    memo=f"{membership.pseudonym} leaves and takes their reserve",
                    metadata={"pool": pool.pk, "member": membership.number},
                )
            )
    membership.claims.filter(status__in=OPEN_CLAIM).update(status=ClaimStatus.CLOSED)
    membership.status = MemberStatus.LEFT
    membership.left_on = today
    membership.save(update_fields=["status", "left_on"])
    audit.record(
        "member.left",
        actor=membership.user,
        subject=f"membership:{membership.pk}",
        pool_id=pool.pk,
        worker_id=membership.user_id,
        details={
            "member": membership.number,
            "payout": payout,
            "owed_back_repaid": repaid,
            "currency": pool.currency,
        },
    )
    return payout


@transaction.atomic
def make_steward(pool: Pool, by: User, membership: Membership) -> Membership:
    require_steward(pool, by)
    if membership.pool_id != pool.pk or membership.status != MemberStatus.ACTIVE:
        raise PoolError("only an active member of this pool can become a steward", field="member")
    membership.role = MemberRole.STEWARD
    membership.save(update_fields=["role"])
    audit.record(
        "member.made_steward",
        actor=by,
        subject=f"membership:{membership.pk}",
        pool_id=pool.pk,
        worker_id=membership.user_id,
        details={"member": membership.number},
    )
    return membership


# ---------------------------------------------------------------------------- votes


def _open_vote(
    pool: Pool,
    subject: str,
    title: str,
    *,
    opened_by: Membership,
    applicant: Membership | None = None,
    proposed_rules: dict[str, Any] | None = None,
    claim: Claim | None = None,
    reason: str = "",
) -> Vote:
    eligible = [m for m in active_members(pool) if applicant is None or m.pk != applicant.pk]
    if claim is not None:
        eligible = [m for m in eligible if m.pk != claim.membership_id]
    vote = Vote.objects.create(
        pool=pool,
        subject=subject,
        title=title[:200],
        applicant=applicant,
        proposed_rules=proposed_rules,
        claim=claim,
        reason=reason,
        opened_by=opened_by,
        closes_at=timezone.now() + timedelta(days=VOTE_DAYS),
    )
    vote.eligible.set(eligible)
    if not eligible:
        # Nobody can vote (the first applicant of a one-member pool): the vote cannot pass.
        _close(vote, closed=True)
    return vote


@transaction.atomic
def propose_rule_change(pool: Pool, by: User, changes: Mapping[str, Any]) -> Vote:
    """A member proposes new rules; they apply only if the vote passes."""
    member = require_active(pool, by)
    new, changed = _amended(pool, changes)
    return _open_vote(
        pool,
        VoteSubject.RULE_CHANGE,
        "Change the rules: " + "; ".join(changed),
        opened_by=member,
        proposed_rules=rules_to_json(new),
    )


def _amended(pool: Pool, changes: Mapping[str, Any]) -> tuple[PoolRules, list[str]]:
    """The pool's rules with ``changes`` applied and validated, and what changes, in words."""
    old = current_rules(pool)
    if "kind" in changes and changes["kind"] != old.kind:
        raise PoolError("a pool cannot change its kind", field="rules.kind")
    try:
        new = amend_rules(old, changes)
    except RulesError as exc:
        raise _error_from_rules(exc, "rules.") from None
    changed = diff_rules(old, new)
    if not changed:
        raise PoolError("the proposal changes nothing", field="rules")
    if isinstance(new, SickLeaveRules):
        _check_tiers_held(pool, new)
    return new, changed


def _check_tiers_held(pool: Pool, new: SickLeaveRules) -> None:
    """Refuse rules that drop a tier someone is insured for: their deposit and their
    share of every gift are reckoned from it, so the pool's deposits and gift runs would
    be refused until they moved, and nothing lets a member move while the tier is gone."""
    held = sorted(
        {
            tier
            for tier in pool.memberships.filter(
                status__in=(MemberStatus.ACTIVE, MemberStatus.APPLIED)
            )
            .exclude(tier_gift__in=new.tiers)
            .values_list("tier_gift", flat=True)
            if tier is not None
        }
    )
    if held:
        named = ", ".join(format_amount(t, new.currency, symbol=True) for t in held)
        raise PoolError(
            f"members are insured for {named}: a tier cannot be removed while members hold it",
            field="rules.tiers",
        )


def tally_of(vote: Vote, *, closed: bool = False) -> votes.Outcome:
    return votes.tally(
        list(vote.eligible.values_list("pk", flat=True)),
        [(b.membership_id, b.choice) for b in vote.ballots.all()],
        current_rules(vote.pool),
        closed=closed,
    )


@transaction.atomic
def cast_ballot(vote: Vote, by: User, choice: str) -> Vote:
    """One member, one vote; the vote closes as soon as the outstanding ballots cannot
    change its result."""
    vote = Vote.objects.select_for_update().select_related("pool").get(pk=vote.pk)
    member = require_active(vote.pool, by)
    if vote.status != VoteStatus.OPEN:
        raise Conflict(f"this vote has closed: {vote.get_status_display().lower()}")
    if vote.closes_at <= timezone.now():
        # Its week is up and the daily job counts it as it stood then: a ballot taken
        # now, before the job runs, could still turn the result.
        raise Conflict(
            f"this vote closed on {vote.closes_at:%d %B %Y at %H:%M} UTC: it is counted"
            " without further ballots"
        )
    if not vote.eligible.filter(pk=member.pk).exists():
        raise NotAllowed(
            "you are not eligible in this vote (you joined after it opened, or it is about you)"
        )
    if choice not in Choice.values:
        raise PoolError("the choice must be yes, no or abstain", field="choice")
    try:
        with transaction.atomic():
            Ballot.objects.create(vote=vote, membership=member, choice=choice)
    except IntegrityError:
        raise Conflict("you have already voted") from None
    _close(vote, closed=False)
    return vote


def _close(vote: Vote, *, closed: bool) -> None:
    outcome = tally_of(vote, closed=closed)
    vote.result = {
        "status": outcome.status,
        "reason": outcome.reason,
        "eligible": outcome.eligible,
        "yes": outcome.yes,
        "no": outcome.no,
        "abstain": outcome.abstain,
        "quorum_needed": outcome.quorum_needed,
    }
    if outcome.status == "open":
        vote.save(update_fields=["result"])
        return
    vote.status = VoteStatus.PASSED if outcome.status == "passed" else VoteStatus.FAILED
    vote.closed_at = timezone.now()
    vote.save(update_fields=["result", "status", "closed_at"])
    audit.record(
        "vote.closed",
        subject=f"vote:{vote.pk}",
        pool_id=vote.pool_id,
        details={"about": vote.subject, "title": vote.title, **vote.result},
    )
    today = timezone.localdate()
    if vote.subject == VoteSubject.ADMISSION and vote.applicant is not None:
        applicant = vote.applicant
        if vote.status == VoteStatus.PASSED:
            _check_room(vote.pool, current_rules(vote.pool))
            _admit(applicant, today)
        else:
            applicant.status = MemberStatus.REJECTED
            applicant.save(update_fields=["status"])
    elif vote.subject == VoteSubject.RULE_CHANGE and vote.status == VoteStatus.PASSED:
        adopt_rules(vote)
    elif vote.subject == VoteSubject.GRANT and vote.claim is not None:
        audit.record(
            "grant.approved" if vote.status == VoteStatus.PASSED else "grant.rejected",
            subject=f"claim:{vote.claim_id}",
            pool_id=vote.pool_id,
            worker_id=vote.claim.membership.user_id,
            details={"vote": vote.pk, "amount": vote.claim.amount, "currency": vote.pool.currency},
        )
        if vote.status == VoteStatus.PASSED:
            _pay_grant(vote.claim, today)
        else:
            vote.claim.status = ClaimStatus.REJECTED
            vote.claim.save(update_fields=["status"])
    elif vote.subject == VoteSubject.WAIVER and vote.status == VoteStatus.PASSED:
        _waive(vote, today)


def adopt_rules(vote: Vote) -> RulesVersion:
    """The rules a passed vote proposed become the pool's next version. Nothing else can
    change a pool's rules."""
    if vote.subject != VoteSubject.RULE_CHANGE or vote.status != VoteStatus.PASSED:
        raise NotAllowed("rules change only through a vote that passed")
    if hasattr(vote, "adopted_rules"):
        return vote.adopted_rules
    pool = vote.pool
    assert vote.proposed_rules is not None
    new = parse_rules(vote.proposed_rules)
    last = pool.rules_versions.order_by("-version").first()
    version = RulesVersion.objects.create(
        pool=pool,
        version=(last.version if last else 0) + 1,
        rules=rules_to_json(new),
        effective_from=timezone.localdate(),
        adopted_by_vote=vote,
    )
    audit.record(
        "pool.rules_adopted",
        subject=f"pool:{pool.pk}",
        pool_id=pool.pk,
        details={"version": version.version, "vote": vote.pk, "title": vote.title},
    )
    if pool.is_public != new.public:
        pool.is_public = new.public
        pool.save(update_fields=["is_public"])
    return version


@dataclass(frozen=True, slots=True)
class ClosedVotes:
    """What ``close_due_votes`` did: how many votes it closed, and the reason each pool's
    vote that could not be closed gave (by pool slug)."""

    closed: int
    failures: dict[str, str]


def close_due_votes(now: datetime | None = None) -> ClosedVotes:
    """Close and count every open vote whose week is up. A vote whose outcome cannot be
    carried out yet (a passed grant the common fund cannot pay, an admission into a full
    pool) stays open, rolled back whole, and is tried again on the next call: one pool's
    refusal must not keep the other pools' votes, deposits and gift runs from being done."""
    now = now or timezone.now()
    closed = 0
    failures: dict[str, str] = {}
    for vote in Vote.objects.filter(status=VoteStatus.OPEN, closes_at__lte=now).select_related(
        "pool"
    ):
        try:
            with transaction.atomic():
                locked = Vote.objects.select_for_update().select_related("pool").get(pk=vote.pk)
                if locked.status == VoteStatus.OPEN:
                    _close(locked, closed=True)
                    closed += 1
        except (PoolError, LedgerError) as exc:
            logger.exception("closing vote %s of %s failed", vote.pk, vote.pool.slug)
            failures[vote.pool.slug] = f"vote {vote.pk}: {exc.message}"
    return ClosedVotes(closed, failures)


# ---------------------------------------------------------------------------- rotating


@transaction.atomic
def start_cycle(
    pool: Pool,
    by: User,
    *,
    first_month: date,
    agreed: Sequence[int] | None = None,
    seed: int | None = None,
) -> list[Round]:
    """Fix who takes the pot in which month for one cycle: by the agreed order of
    membership numbers, or by a lottery whose seed is recorded so anyone can redraw it."""
    require_steward(pool, by)
    rules = current_rules(pool)
    if not isinstance(rules, RotatingSavingsRules):
        raise PoolError("only a rotating savings pool has rounds", field="pool")
    if pool.rounds.filter(month__gte=month_start(timezone.localdate())).exists():
        raise Conflict("a cycle is already running")
    members = active_members(pool)
    numbers = [m.number for m in members]
    try:
        if rules.order == "agreement":
            if agreed is None:
                raise PoolError("this pool agrees its order: list every member once", field="order")
            order = rotating.agreed_order(numbers, list(agreed))
        else:
            seed = seed if seed is not None else secrets.randbelow(2**31)
            order = rotating.lottery_order(numbers, seed)
        plan = rotating.schedule(order, month_start(first_month), rules)
    except RulesError as exc:
        raise _error_from_rules(exc) from None
    cycle = (pool.rounds.order_by("-cycle").values_list("cycle", flat=True).first() or 0) + 1
    by_number = {m.number: m for m in members}
    return [
        Round.objects.create(
            pool=pool,
            cycle=cycle,
            number=r.number,
            month=r.month,
            recipient=by_number[int(r.taker)],
            pot=r.pot,
        )
        for r in plan
    ]


@transaction.atomic
def pay_round(pool: Pool, month: date) -> Round:
    """Pay the month's pot to its taker from the contributions received; refused, naming
    who has not paid, until every contribution is in."""
    month = month_start(month)
    rnd = (
        Round.objects.select_for_update()
        .filter(pool=pool, month=month)
        .select_related("recipient")
        .first()
    )
    if rnd is None:
        raise PoolError(f"no round is set for {gifts.month_name(month)}", field="month")
    if rnd.journal_id is not None:
        return rnd
    ensure_deposits(pool, month)
    unpaid = [
        d.membership.pseudonym
        for d in Deposit.objects.filter(
            membership__pool=pool, month=month, journal_id__isnull=True
        ).select_related("membership")
    ]
    if unpaid:
        raise Conflict(
            "the pot is paid once every contribution is in; missing: " + ", ".join(unpaid)
        )
    posted = ledger.post_journal(
        JournalSpec(
            idempotency_key=f"pool:{pool.pk}:round:{rnd.cycle}:{rnd.number}",
            kind="pool.pot",
            effective_date=timezone.localdate(),
            legs=(
                LegSpec(fund_code(pool), rnd.pot, pool.currency),
                LegSpec(bank_code(pool), -rnd.pot, pool.currency),
            ),
            memo=f"Round {rnd.number} of cycle {rnd.cycle}: the pot to {rnd.recipient.pseudonym}",
            metadata={"pool": pool.pk, "cycle": rnd.cycle, "round": rnd.number},
        )
    )
    rnd.journal_id = posted.id
    rnd.save(update_fields=["journal_id"])
    return rnd


# ---------------------------------------------------------------------------- the open ledger


@dataclass(frozen=True, slots=True)
class LedgerLine:
    journal_id: int
    date: date
    kind: str
    memo: str
    account: str
    who: str
    amount: int


def account_label(code: str, pool: Pool, names: Mapping[int, str]) -> tuple[str, str]:
    """(what the account is, whose) for a pool account code."""
    parts = code.split(":")
    if parts[2] == "reserve":
        number = int(parts[3])
        return "Reserve", names.get(number, f"Member {number}")
    return {"bank": ("Money held", "Pool"), "fund": ("Common fund", "Pool")}.get(
        parts[2], (parts[2], "Pool")
    )


def member_names(pool: Pool, *, with_names: bool) -> dict[int, str]:
    rows = pool.memberships.select_related("user").order_by("number")
    return {
        m.number: (f"{m.user.name or m.user.email} ({m.pseudonym})" if with_names else m.pseudonym)
        for m in rows
    }


def ledger_lines(pool: Pool, *, with_names: bool, limit: int | None = None) -> list[LedgerLine]:
    """Every leg on the pool's accounts, newest journal first. No filter a steward could
    set: the page shows what the ledger holds."""
    names = member_names(pool, with_names=with_names)
    legs = (
        Leg.objects.filter(account__owner_type="pool", account__owner_id=pool.pk)
        .select_related("journal", "account")
        .order_by("-journal_id", "id")
    )
    if limit is not None:
        legs = legs[:limit]
    lines = []
    for leg in legs:
        what, who = account_label(leg.account.code, pool, names)
        lines.append(
            LedgerLine(
                leg.journal_id,
                leg.journal.effective_date,
                leg.journal.kind,
                leg.journal.memo,
                what,
                who,
                leg.amount,
            )
        )
    return lines


def pool_accounts(pool: Pool) -> QuerySet[Account]:
    return Account.objects.filter(owner_type="pool", owner_id=pool.pk)


# ============================================================================ faces
# Small reads and guarded actions for the pages and the API (keel.pools.views, .api).
# Each guarded action checks who is acting and then calls the service above unchanged:
# the daily job calls run_month, refund_above_cap and pay_round with no person behind
# it, so those stay unguarded and the faces go through these.


def membership_of(pool: Pool, user: User | None) -> Membership | None:
    if user is None or not user.is_authenticated:
        return None
    return pool.memberships.filter(user=user).first()


def claim_in(pool: Pool, claim_id: int) -> Claim:
    """A claim of this pool; another pool's claim is not found, like a missing one."""
    claim = (
        Claim.objects.filter(pool=pool, pk=claim_id)
        .select_related("pool", "membership__user")
        .first()
    )
    if claim is None:
        raise NotFound("no such claim")
    return claim


def vote_in(pool: Pool, vote_id: int) -> Vote:
    """A vote of this pool; another pool's vote is not found, like a missing one."""
    vote = (
        Vote.objects.filter(pool=pool, pk=vote_id)
        .select_related("pool", "applicant", "claim__membership")
        .first()
    )
    if vote is None:
        raise NotFound("no such vote")
    return vote


@dataclass(frozen=True, slots=True)
class DepositDue:
    """An unpaid deposit: due (this month or later) or missed (a past month)."""

    membership: Membership
    month: date
    amount: int
    missed: bool


def unpaid_deposits(pool: Pool, as_of: date | None = None) -> list[DepositDue]:
    """Every unpaid deposit of the pool's active members up to ``as_of``'s month, oldest
    first; a deposit of a month before ``as_of``'s is missed."""
    this_month = month_start(as_of or timezone.localdate())
    rows = (
        Deposit.objects.filter(
            membership__pool=pool,
            membership__status=MemberStatus.ACTIVE,
            period=F("membership__period"),
            journal_id__isnull=True,
            month__lte=this_month,
        )
        .select_related("membership__user")
        .order_by("month", "membership__number")
    )
    return [DepositDue(d.membership, d.month, d.amount, d.month < this_month) for d in rows]


def preview_rule_change(pool: Pool, changes: Mapping[str, Any]) -> list[str]:
    """What ``propose_rule_change`` would put to the vote, one line per rule changed,
    refused the same way; nothing is written."""
    return _amended(pool, changes)[1]


def accept_own_invitation(pool: Pool, user: User, *, tier_gift: int | None = None) -> Membership:
    membership = membership_of(pool, user)
    if membership is None or membership.status != MemberStatus.INVITED:
        raise Conflict("there is no open invitation to accept")
    membership.pool = pool
    return accept_invitation(membership, tier_gift=tier_gift)


def pay_own_deposit(pool: Pool, user: User, month: date) -> Deposit:
    return pay_deposit(require_active(pool, user), month)


def report_own_claim(
    pool: Pool,
    user: User,
    *,
    start_date: date,
    amount: int | None = None,
    description: str = "",
) -> Claim:
    membership = require_active(pool, user)
    return report_claim(membership, start_date=start_date, amount=amount, description=description)


def leave_pool(pool: Pool, user: User) -> int:
    return leave(require_active(pool, user))


def steward_run_month(pool: Pool, user: User, month: date) -> GiftRunResult:
    require_steward(pool, user)
    sick_leave_rules(pool)
    return run_month(pool, month)


def steward_refund(pool: Pool, user: User, year: int) -> list[Refund]:
    require_steward(pool, user)
    return refund_above_cap(pool, year)


def steward_appoint(pool: Pool, user: User, number: int) -> Membership:
    """A steward makes member ``number`` a steward too (how a sole steward can leave)."""
    require_steward(pool, user)
    target = pool.memberships.filter(number=number).first()
    if target is None:
        raise NotFound("no such member")
    return make_steward(pool, user, target)


def steward_pay_round(pool: Pool, user: User, month: date) -> Round:
    require_steward(pool, user)
    return pay_round(pool, month)


# The simulator's input types, for simulation_state (imported here to leave the imports
# above to the domain; numpy is loaded with the pages' forms anyway).

# A pool's own claims replace the Broodfonds figures in a simulation only once it has at
# least this many months of history.
HISTORY_MIN_MONTHS = 12


def simulation_state(
    pool: Pool, today: date | None = None
) -> tuple[list[int], list[int], ClaimHistory | None]:
    """What a solvency simulation of the pool starts from, its active members in number
    order (``active_members``): each one's tier gift, each one's reserve today, and the
    pool's own claims history, or None before ``HISTORY_MIN_MONTHS`` months of it.

    The history counts the active members only, so that claims and exposure are of the
    same people: ``member_years`` from each one's ``joined_on`` to ``today``; ``claims``,
    their approved sickness claims, less the closed ones that received no gift (they ended
    inside the waiting period, which the simulator's incidence leaves out); ``gift_months``,
    the months each closed claim (recovered, or at the maximum) was paid, counting the gift
    runs that gave it something."""
    today = today or timezone.localdate()
    members = active_members(pool)
    held = reserves(pool)
    gift_list = [m.tier_gift or 0 for m in members]
    reserve_list = [held.get(m.number, 0) for m in members]
    joined = [m.joined_on for m in members if m.joined_on is not None and m.joined_on <= today]
    if not joined or gifts.add_months(min(joined), HISTORY_MIN_MONTHS) > today:
        return gift_list, reserve_list, None
    approved = list(
        Claim.objects.filter(pool=pool, kind=ClaimKind.SICKNESS, membership__in=members)
        .filter(
            Q(status=ClaimStatus.APPROVED) | Q(status=ClaimStatus.CLOSED, decided_at__isnull=False)
        )
        .only("pk", "status", "recovered_on")
    )
    paid = _months_paid(pool, (c.pk for c in approved))
    closed = [c for c in approved if c.status == ClaimStatus.CLOSED or c.recovered_on is not None]
    gift_months = tuple(paid[c.pk] for c in closed if paid.get(c.pk, 0) > 0)
    never_paid = sum(1 for c in closed if paid.get(c.pk, 0) == 0)
    history = ClaimHistory(
        member_years=sum((today - day).days for day in joined) / 365.25,
        claims=len(approved) - never_paid,
        gift_months=gift_months,
    )
    return gift_list, reserve_list, history


def public_pools_of(users: Iterable[User]) -> dict[int, list[Pool]]:
    """The public pools each of ``users`` is an active member of, by user id, in name
    order (for the career peer groups: members see each other's open pools)."""
    ids = [user.pk for user in users]
    rows = (
        Membership.objects.filter(
            user_id__in=ids, status=MemberStatus.ACTIVE, pool__in=public_pools()
        )
        .select_related("pool")
        .order_by("pool__name", "pool_id")
    )
    found: dict[int, list[Pool]] = {pk: [] for pk in ids}
    for membership in rows:
        found[membership.user_id].append(membership.pool)
    return found
