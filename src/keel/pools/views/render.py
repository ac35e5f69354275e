"""What the pool page, the claim page and the vote page show, and how they are rendered,
with the forms an action sends back (bound, with its errors) in place of a fresh one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from keel.accounts.models import User

from .. import charts, present, services
from ..errors import Conflict, NotAllowed, NotFound, PoolError
from ..forms import (
    BallotForm,
    ClaimForm,
    CycleForm,
    DecisionForm,
    InviteForm,
    MonthForm,
    RecoveryForm,
    RepayForm,
    TierForm,
    WaiverForm,
    YearForm,
    add_pool_error,
    amount_text,
)
from ..models import (
    Ballot,
    Claim,
    ClaimKind,
    ClaimStatus,
    Gift,
    GiftRun,
    Membership,
    MemberStatus,
    Pool,
    PoolKind,
    Vote,
    VoteStatus,
    VoteSubject,
)
from ..rules.pool_rules import SickLeaveRules, describe, kind_name

# The pool page shows the newest journals of the ledger; the ledger page shows them all.
PAGE_JOURNALS = 30
RECENT = 20


def user_of(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


def person(request: HttpRequest) -> User:
    user = user_of(request)
    assert user is not None  # login_required lets only people through
    return user


def visible(request: HttpRequest, slug: str) -> tuple[Pool, Membership | None]:
    try:
        return services.visible_pool(user_of(request), slug)
    except NotFound:
        raise Http404("no such pool") from None


def claim_of(pool: Pool, claim_id: int) -> Claim:
    try:
        return services.claim_in(pool, claim_id)
    except NotFound:
        raise Http404("no such claim") from None


def vote_of(pool: Pool, vote_id: int) -> Vote:
    try:
        return services.vote_in(pool, vote_id)
    except NotFound:
        raise Http404("no such vote") from None


def refusal_status(exc: PoolError) -> int:
    """How a page answers a service's refusal: a pool or claim outside the person's reach
    is not found; a refusal of who they are is 403 with its reason shown; a conflict 409;
    anything else a bad input. The message goes on the page."""
    if isinstance(exc, NotFound):
        raise Http404(exc.message)
    if isinstance(exc, NotAllowed):
        return 403
    if isinstance(exc, Conflict):
        return 409
    return 400


def refuse(request: HttpRequest, exc: PoolError, form: django_forms.Form | None = None) -> int:
    """Put the refusal on the form's field when it names one, else in a message; the
    status to answer with."""
    status = refusal_status(exc)
    if form is not None and exc.field is not None and exc.field in form.fields:
        add_pool_error([form], exc)
    else:
        text = exc.message
        messages.error(request, text[:1].upper() + text[1:].rstrip(".") + ".")
    return status


# ---------------------------------------------------------------------------- the pool page


@dataclass(frozen=True, slots=True)
class ClaimRow:
    claim: Claim
    label: str
    approvals: int
    required: int
    still_needed: int
    rejections: int
    gifts_received: int
    gift_months: int
    is_mine: bool
    status_label: str


@dataclass(frozen=True, slots=True)
class VoteRow:
    vote: Vote
    title: str
    tally: present.Tally
    my_choice: str | None
    can_vote: bool


@dataclass(frozen=True, slots=True)
class RunRow:
    run: GiftRun
    gifts: int
    given: int
    cut: bool


def _claim_rows(pool: Pool, v: present.Viewer, claims: list[Claim]) -> list[ClaimRow]:
    received = {
        row["claim_id"]: (row["total"] or 0, row["months"])
        for row in Gift.objects.filter(claim__in=claims, claim__pool=pool)
        .values("claim_id")
        .annotate(total=Sum("received"), months=Count("id", filter=Q(received__gt=0)))
    }
    # A grant or a shared cost is paid once, from the common fund, not by monthly gifts.
    paid = services.paid_from_fund(pool, claims)
    today = timezone.localdate()
    rows = []
    for claim in claims:
        approvals = rejections = 0
        required = still = 0
        if pool.kind != PoolKind.ROTATING_SAVINGS:
            approval = services.approval_of(claim)
            approvals, rejections = len(approval.approvals), len(approval.rejections)
            required, still = approval.required, approval.still_needed
        total, months = received.get(claim.pk, (paid.get(claim.pk, 0), 0))
        rows.append(
            ClaimRow(
                claim=claim,
                label=v.name(claim.membership),
                approvals=approvals,
                required=required,
                still_needed=still,
                rejections=rejections,
                gifts_received=int(total),
                gift_months=int(months),
                is_mine=v.membership is not None and claim.membership_id == v.membership.pk,
                status_label=present.claim_status_label(claim, today),
            )
        )
    return rows


def _vote_rows(v: present.Viewer, votes: list[Vote]) -> list[VoteRow]:
    me = v.membership
    mine: dict[int, str] = {}
    if me is not None:
        mine = dict(
            Ballot.objects.filter(vote__in=votes, membership=me).values_list("vote_id", "choice")
        )
    rows = []
    now = timezone.now()
    for vote in votes:
        can_vote = (
            v.active
            and me is not None
            and vote.status == VoteStatus.OPEN
            # Past its closing time a vote takes no ballot (the daily job counts it as it
            # stood), so no buttons that could only be refused.
            and vote.closes_at > now
            and vote.pk not in mine
            and vote.eligible.filter(pk=me.pk).exists()
        )
        rows.append(
            VoteRow(
                vote, present.vote_title(vote, v), present.tally(vote), mine.get(vote.pk), can_vote
            )
        )
    return rows


def _run_rows(pool: Pool) -> list[RunRow]:
    runs = list(
        pool.gift_runs.annotate(total=Sum("gifts__received"))
        .prefetch_related(Prefetch("gifts", queryset=Gift.objects.filter(run__pool=pool)))
        .order_by("-month")[:12]
    )
    return [
        RunRow(run, len(run.gifts.all()), int(run.total or 0), run.cut_percent < 100)
        for run in runs
    ]


def pool_forms(
    pool: Pool, given: Mapping[str, django_forms.Form] | None = None
) -> dict[str, django_forms.Form]:
    """Every form of the pool page, fresh, or as an action sent it back."""
    tiers = present.tier_choices(pool)
    made: dict[str, django_forms.Form] = {
        "join": TierForm(tiers=tiers, currency=pool.currency, prefix="join"),
        "accept": TierForm(tiers=tiers, currency=pool.currency, prefix="accept"),
        "invite": InviteForm(prefix="invite"),
        "deposit": MonthForm(prefix="deposit", label="Deposit for"),
        "claim": ClaimForm(kind=pool.kind, currency=pool.currency),
        "run": MonthForm(prefix="run", label="Gifts for"),
        "refund": YearForm(prefix="refund"),
        "cycle": CycleForm(prefix="cycle"),
        "round": MonthForm(prefix="round", label="Round of"),
    }
    made.update(given or {})
    return made


def _money_figures(
    pool: Pool, v: present.Viewer, lines: list[services.LedgerLine]
) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(element id, heading, description for screen readers, figure)."""
    figures = []
    if pool.kind == PoolKind.SICK_LEAVE:
        held = services.reserves(pool)
        rows = [(v.name(m), held.get(m.number, 0)) for m in services.active_members(pool)]
        if rows:
            figures.append(
                (
                    "fig-pool-reserves",
                    "Reserves by member",
                    "Bars of each member's reserve; the members table lists the same amounts.",
                    charts.reserves_figure(rows, pool.currency),
                )
            )
    money = charts.money_figure(lines, pool.currency)
    if money is not None:
        figures.append(
            (
                "fig-pool-money",
                "Money held and gifts given",
                "The money the pool held at the end of each month (a line) and the gifts given"
                " in each month (bars); the ledger below lists every entry.",
                money,
            )
        )
    return figures


def pool_page(
    request: HttpRequest,
    pool: Pool,
    membership: Membership | None,
    *,
    forms: Mapping[str, django_forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    v = present.viewer(pool, membership)
    rules = services.current_rules(pool)
    version = pool.rules_versions.order_by("-version").first()
    members = present.member_rows(v)
    active = [m for m in members if m.status == MemberStatus.ACTIVE]
    unpaid = services.unpaid_deposits(pool)
    claims = pool.claims.select_related("membership").order_by("-reported_at")
    today = timezone.localdate()
    current = list(claims.filter(status__in=(ClaimStatus.PENDING, ClaimStatus.APPROVED)))
    open_claims = [c for c in current if not present.has_ended(c, today)]
    closed_claims = sorted(
        [c for c in current if present.has_ended(c, today)]
        + list(claims.exclude(status__in=(ClaimStatus.PENDING, ClaimStatus.APPROVED))[:RECENT]),
        key=lambda c: (c.reported_at, c.pk),
        reverse=True,
    )[:RECENT]
    votes = pool.votes.select_related("applicant", "pool").order_by("-opened_at")
    runs = _run_rows(pool)
    lines = services.ledger_lines(pool, with_names=v.with_names)
    entries = present.ledger_entries(lines)
    figures = _money_figures(pool, v, lines)
    me = membership
    my_unpaid = [d for d in unpaid if me is not None and d.membership.pk == me.pk]
    my_owed = services.still_owed_by(me) if me is not None else []
    # Whether the member may still claim, said before they need to: a claim reported
    # while the right is suspended is refused, and sickness does not wait.
    my_right = (
        services.claim_right(me)
        if me is not None and my_unpaid and v.active and pool.kind != PoolKind.ROTATING_SAVINGS
        else None
    )
    context = {
        "pool": pool,
        "v": v,
        "me": me,
        "kind_label": kind_name(pool.kind),
        "rules_text": describe(rules),
        "rules_version": version.version if version else 1,
        "rules_since": version.effective_from if version else None,
        "members": members,
        "open_invitations": services.open_invitations(pool, me),
        "active_count": len(active),
        "forming": len(active) < rules.min_members,
        "min_members": rules.min_members,
        "sick_leave": pool.kind == PoolKind.SICK_LEAVE,
        "rotating": pool.kind == PoolKind.ROTATING_SAVINGS,
        "claims_allowed": pool.kind != PoolKind.ROTATING_SAVINGS,
        "unpaid": [(v.name(d.membership), d) for d in unpaid],
        "my_unpaid": my_unpaid,
        "my_owed": my_owed,
        "my_right": my_right,
        "open_claims": _claim_rows(pool, v, open_claims),
        "closed_claims": _claim_rows(pool, v, closed_claims),
        "open_votes": _vote_rows(v, list(votes.filter(status=VoteStatus.OPEN))),
        "closed_votes": _vote_rows(v, list(votes.exclude(status=VoteStatus.OPEN)[:RECENT])),
        "runs": runs,
        "cut_run": next((r for r in runs if r.cut and r.gifts), None),
        "entries": entries[:PAGE_JOURNALS],
        "entry_count": len(entries),
        "figures": figures,
        "rounds": [
            (r, v.name(r.recipient))
            for r in pool.rounds.select_related("recipient").order_by("cycle", "number")
        ],
        "forms": pool_forms(pool, forms),
        "can_join": user_of(request) is not None
        and (me is None or me.status in (MemberStatus.REJECTED, MemberStatus.LEFT)),
        "invited": me is not None and me.status == MemberStatus.INVITED,
        "simulate_url": reverse("pools:simulate") + f"?pool={pool.slug}"
        if isinstance(rules, SickLeaveRules)
        else None,
    }
    return render(request, "pools/detail.html", context, status=status)


# ---------------------------------------------------------------------------- the claim page


@dataclass(frozen=True, slots=True)
class GiftView:
    gift: Gift
    month: date
    shortfalls: list[tuple[str, int, int]]


def claim_page(
    request: HttpRequest,
    pool: Pool,
    membership: Membership | None,
    claim: Claim,
    *,
    forms: Mapping[str, django_forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    v = present.viewer(pool, membership)
    decisions = list(claim.decisions.select_related("membership").order_by("decided_at"))
    approval = services.approval_of(claim) if pool.kind != PoolKind.ROTATING_SAVINGS else None
    reminders = [
        (v.name(r.sent_by), r.sent_at, [v.name(m) for m in r.sent_to.order_by("number")])
        for r in claim.reminders.select_related("sent_by").order_by("sent_at")
    ]
    gifts = [
        GiftView(
            gift,
            gift.run.month,
            [(v.name(s.giver), s.owed, s.given) for s in gift.shortfalls.select_related("giver")],
        )
        for gift in claim.gifts.select_related("run").order_by("run__month")
    ]
    paid = (
        None
        if claim.kind == ClaimKind.SICKNESS
        else services.paid_from_fund(pool, [claim]).get(claim.pk, 0)
    )
    # A grant above the rules' threshold is paid only if the members' vote passes: an
    # "Approved" claim may still be waiting for it, or have been turned down by it.
    vote = claim.votes.filter(pool=pool, subject=VoteSubject.GRANT).order_by("-opened_at").first()
    me = membership
    is_claimant = me is not None and me.pk == claim.membership_id
    decided = me is not None and any(d.membership_id == me.pk for d in decisions)
    pending = claim.status == ClaimStatus.PENDING
    made: dict[str, django_forms.Form] = {
        "approve": DecisionForm(initial={"decision": "approve"}),
        "reject": DecisionForm(initial={"decision": "reject"}),
        "recovery": RecoveryForm(prefix="recovery"),
        "repay": RepayForm(currency=pool.currency),
        "waiver": WaiverForm(),
    }
    made.update(forms or {})
    owed = services.owed_back(claim)
    if owed.remaining and not made["repay"].is_bound:
        # What is still owed is the likeliest amount, not the currency's sample figure.
        made["repay"].fields["amount"].widget.attrs["placeholder"] = amount_text(
            owed.remaining, pool.currency
        )
    waiver_votes = list(
        claim.votes.filter(pool=pool, subject=VoteSubject.WAIVER).order_by("-opened_at")
    )
    names = {m.number: v.names.get(m.number, m.pseudonym) for m in pool.memberships.all()}
    context = {
        "pool": pool,
        "v": v,
        "claim": claim,
        "label": v.name(claim.membership),
        "decisions": [(v.name(d.membership), d) for d in decisions],
        "approval": approval,
        "reminders": reminders,
        "gifts": gifts,
        "owed": owed,
        "overpaid": services.gifts_after_recovery(claim) if owed.total else [],
        "owed_givers": [(names.get(n, f"Member {n}"), left) for n, left in owed.givers],
        "repayments": [
            (r, v.name(r.recorded_by) if r.recorded_by is not None else None)
            for r in claim.repayments.select_related("recorded_by", "vote")
        ],
        "waiver_votes": waiver_votes,
        "can_repay": v.active and owed.remaining > 0 and (is_claimant or v.steward),
        "can_propose_waiver": v.steward
        and owed.remaining > 0
        and not any(w.status == VoteStatus.OPEN for w in waiver_votes),
        "paid": paid,
        "vote": vote,
        "status_label": present.claim_status_label(claim, timezone.localdate()),
        "forms": made,
        "can_decide": v.active and pending and not is_claimant and not decided,
        "is_claimant": is_claimant,
        "can_remind": v.active and pending,
        "can_recover": v.active
        and claim.kind == ClaimKind.SICKNESS
        and claim.recovered_on is None
        and claim.status in (ClaimStatus.PENDING, ClaimStatus.APPROVED)
        and (is_claimant or v.steward),
    }
    return render(request, "pools/claim.html", context, status=status)


# ---------------------------------------------------------------------------- the vote page


def vote_page(
    request: HttpRequest,
    pool: Pool,
    membership: Membership | None,
    vote: Vote,
    *,
    form: BallotForm | None = None,
    status: int = 200,
) -> HttpResponse:
    v = present.viewer(pool, membership)
    [row] = _vote_rows(v, [vote])
    ballots = [
        (v.name(b.membership), b)
        for b in vote.ballots.select_related("membership").order_by("cast_at")
    ]
    context = {
        "pool": pool,
        "v": v,
        "row": row,
        "vote": vote,
        "changes": present.rule_change_lines(vote),
        "ballots": ballots,
        "form": form or BallotForm(),
        "claim_label": v.name(vote.claim.membership) if vote.claim is not None else None,
        # A waiver's reason is members' free text: only those who see names read it.
        "reason": vote.reason if v.with_names else "",
        "vote_time_is_up": vote.closes_at <= timezone.now(),
    }
    return render(request, "pools/vote.html", context, status=status)


def forbid_outsiders(v: present.Viewer) -> None:
    if not v.active:
        raise PermissionDenied("only members of the pool can do this")
