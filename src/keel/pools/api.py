"""The pools' JSON API, mounted under /api/v1/pools.

A person's browser session or their own API key (scopes ``pools:read`` to read,
``pools:write`` to claim, decide and vote) acts as that person: it reaches the pools they
are in, and public pools, where outsiders see members by pseudonym only. A private pool is
answered ``404 not_found`` for anyone outside it, exactly like a pool that does not exist;
a claim or vote of another pool is not found either. A key that acts for a platform is
refused (``403 worker_only``): pools belong to people.

Errors from the pools services (``keel.pools.errors.PoolError``) are answered in the API's
one error shape with the error's own status: 403 ``forbidden`` (e.g. approving one's own
claim), 404 ``not_found``, 409 ``conflict`` (e.g. a vote already closed, a second
decision), 422 ``pool_error`` naming the ``field``, with one detail per problem for rules.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from pydantic import Field

from keel.api.auth import Caller, key_or_session, require_scope
from keel.api.errors import ApiError, dotted, error_response, with_errors

from . import present, services, simjobs
from .errors import PoolError
from .models import Claim, Membership, Pool, PoolKind, Vote
from .rules.pool_rules import describe, kind_name, rules_to_json

router = Router(tags=["pools"], auth=key_or_session)

READ = "pools:read"
WRITE = "pools:write"
# A synchronous simulation answers within a request; the page runs larger ones.
MAX_API_SCENARIOS = 20_000
# Pricing a deposit rate runs a dozen or so simulations.
MAX_API_PRICING_SCENARIOS = 5_000
# 20,000 scenarios of 50 members over 5 years: about a second.
MAX_API_MEMBER_MONTHS = 60_000_000


class WorkerOnly(ApiError):
    status = 403
    code = "worker_only"


def person(request: HttpRequest, scope: str) -> Caller:
    who = require_scope(request, scope)
    if who.owner != ("worker", who.user.pk):
        raise WorkerOnly("a platform's key cannot act in pools; use a person's own key")
    return who


def _visible(request: HttpRequest, slug: str, scope: str = READ) -> tuple[Pool, present.Viewer]:
    who = person(request, scope)
    pool, membership = services.visible_pool(who.user, slug)
    return pool, present.viewer(pool, membership)


# ---------------------------------------------------------------------------- schemas


class PoolItemOut(Schema):
    slug: str
    name: str
    kind: str
    kind_label: str
    currency: str
    public: bool
    my_status: str = Field(description="invited, applied, active, rejected or left")
    my_role: str = Field(description="steward or member")
    members: int = Field(description="active members")


class MemberOut(Schema):
    number: int
    pseudonym: str
    name: str | None = Field(description="the member's name, only for the pool's own members")
    role: str
    status: str
    tier_gift: int | None = Field(description="the insured monthly gift, minor units")
    reserve: int | None = Field(description="the member's own reserve, minor units")


# Component names are global in the OpenAPI document: a pools schema named like another
# domain's (the system's MeOut, the ledger's LegOut) would replace that one's definition.
class MembershipOut(Schema):
    number: int
    role: str
    status: str


class PoolOut(Schema):
    slug: str
    name: str
    kind: str
    kind_label: str
    currency: str
    public: bool
    description: str
    rules: dict[str, Any] = Field(description="the rules in force (amounts in minor units)")
    rules_version: int
    rules_text: list[str] = Field(description="the rules in plain sentences")
    names_visible: bool = Field(description="whether member names are shown to the caller")
    me: MembershipOut | None
    members: list[MemberOut]
    money_held: int = Field(description="what the pool's bank account holds, minor units")
    common_fund: int = Field(description="the common fund, minor units")


class PoolLegOut(Schema):
    account: str = Field(description="Money held, Reserve or Common fund")
    who: str = Field(description="Pool, or the member (a pseudonym to outsiders)")
    amount: int = Field(description="as the ledger posts it: positive debit, negative credit")
    change: int = Field(description="how the entry moved the account, as its holder reads it")


class LedgerEntryOut(Schema):
    journal_id: int
    date: date
    kind: str
    memo: str
    legs: list[PoolLegOut]


class ClaimOut(Schema):
    id: int
    member: str = Field(description="the claimant: a name to members, a pseudonym to others")
    kind: str
    status: str = Field(description="pending, approved, rejected or closed")
    start_date: date
    recovered_on: date | None
    amount: int | None
    description: str | None = Field(description="the claimant's note, only for members")
    approvals: int
    approvals_required: int
    still_needed: int
    rejections: int
    gifts_received: int
    owed_back: int = Field(
        description="gifts given for months on or after a late-reported recovery, owed back"
        " to their givers (0 when none)"
    )
    still_owed_back: int = Field(description="of owed_back, what is not yet repaid or waived")


class ClaimIn(Schema):
    start_date: date
    amount: int | None = Field(
        None, description="minor units; for emergency grants and health costs"
    )
    description: str = Field("", max_length=2000)


class DecisionIn(Schema):
    decision: str = Field(description="approve or reject")
    reason: str = Field("", max_length=2000, description="required to reject")


class BallotIn(Schema):
    choice: str = Field(description="yes, no or abstain")


class TallyOut(Schema):
    status: str
    reason: str
    eligible: int
    yes: int
    no: int
    abstain: int
    quorum_needed: int


class VoteOut(Schema):
    id: int
    subject: str
    title: str
    status: str = Field(description="open, passed or failed")
    opened_at: datetime
    closes_at: datetime
    tally: TallyOut


class EpidemicIn(Schema):
    monthly_probability: float = Field(ge=0, le=1)
    incidence_multiplier: float = Field(ge=0)


class SimulateIn(Schema):
    gifts: list[int] = Field(
        description="one tier gift per member, minor units", min_length=2, max_length=10_000
    )
    currency: str = Field(
        "EUR", max_length=3, description="for the record; amounts are minor units"
    )
    deposit_rate_bps: int = 450
    reserve_cap_deposits: int = 36
    waiting_months: int = 1
    max_months: int = 24
    annual_incidence: float = 0.069
    mean_claim_months: float = 7.1
    years: int = 5
    scenarios: int = Field(10_000, ge=1, le=MAX_API_SCENARIOS)
    seed: int = Field(0, ge=0)
    initial_reserves: list[int] = Field(default_factory=list)
    epidemic: EpidemicIn | None = None
    target_no_cut_probability: float | None = Field(
        None,
        description="find the lowest deposit rate that reaches it"
        f" (at most {MAX_API_PRICING_SCENARIOS:,} scenarios)",
    )


class SimulateOut(Schema):
    cut_probability: float
    cut_probability_se: float
    cut_probability_by_year: list[float]
    underpaid_probability: float
    required_deposit_rate_bps: int | None = Field(
        description="the lowest deposit rate reaching the target; null without a target or"
        " when no rate reaches it (see pricing_error)"
    )
    pricing_error: str
    result: dict[str, Any] = Field(
        description="everything the simulator reports: bands of gifts and reserves per month,"
        " per-year probabilities with standard errors, the pooling benefit per tier, inputs"
    )


# ---------------------------------------------------------------------------- bodies


def claim_out(claim: Claim, v: present.Viewer) -> dict[str, Any]:
    approvals = rejections = required = still = 0
    if claim.pool.kind != PoolKind.ROTATING_SAVINGS:
        approval = services.approval_of(claim)
        approvals, rejections = len(approval.approvals), len(approval.rejections)
        required, still = approval.required, approval.still_needed
    return {
        "id": claim.pk,
        "member": v.name(claim.membership),
        "kind": claim.kind,
        "status": claim.status,
        "start_date": claim.start_date,
        "recovered_on": claim.recovered_on,
        "amount": claim.amount,
        "description": claim.description if v.with_names else None,
        "approvals": approvals,
        "approvals_required": required,
        "still_needed": still,
        "rejections": rejections,
        "gifts_received": sum(g.received for g in claim.gifts.all()),
        "owed_back": (owed := services.owed_back(claim)).total,
        "still_owed_back": owed.remaining,
    }


def vote_out(vote: Vote, v: present.Viewer) -> dict[str, Any]:
    t = present.tally(vote)
    return {
        "id": vote.pk,
        "subject": vote.subject,
        "title": present.vote_title(vote, v),
        "status": vote.status,
        "opened_at": vote.opened_at,
        "closes_at": vote.closes_at,
        "tally": {
            "status": t.status,
            "reason": t.reason,
            "eligible": t.eligible,
            "yes": t.yes,
            "no": t.no,
            "abstain": t.abstain,
            "quorum_needed": t.quorum_needed,
        },
    }


def _me(membership: Membership | None) -> dict[str, Any] | None:
    if membership is None:
        return None
    return {"number": membership.number, "role": membership.role, "status": membership.status}


# ---------------------------------------------------------------------------- endpoints


# Before /{slug}: the first path that matches answers, and POST /simulate is no pool.
@router.post(
    "/simulate",
    response=with_errors({200: SimulateOut}, 400, 401, 403, 422),
    summary="Simulate a sick-leave pool's solvency (scope pools:read)",
    description=(
        f"Synchronous, at most {MAX_API_SCENARIOS:,} scenarios ({MAX_API_PRICING_SCENARIOS:,}"
        f" with a target no-cut probability) and {MAX_API_MEMBER_MONTHS:,} member-months"
        " (members x 12 x years x scenarios). The same input and seed give the same answer."
    ),
)
def post_simulate(request: HttpRequest, payload: SimulateIn) -> dict[str, Any]:
    person(request, READ)
    params = payload.model_dump()
    target = simjobs.check_target(payload.target_no_cut_probability)
    if target is not None and payload.scenarios > MAX_API_PRICING_SCENARIOS:
        raise PoolError(
            f"with a target, at most {MAX_API_PRICING_SCENARIOS:,} scenarios",
            field="scenarios",
        )
    if simjobs.member_months(params) > MAX_API_MEMBER_MONTHS:
        raise PoolError(
            f"members x months x scenarios is at most {MAX_API_MEMBER_MONTHS:,} in one"
            " request: simulate fewer scenarios or years, or use the simulator page",
            field="scenarios",
        )
    answer = simjobs.run(params)
    result = answer["result"]
    return {
        "cut_probability": result["cut_probability"],
        "cut_probability_se": result["cut_probability_se"],
        "cut_probability_by_year": result["cut_probability_by_year"],
        "underpaid_probability": result["underpaid_probability"],
        "required_deposit_rate_bps": answer["required_deposit_rate_bps"],
        "pricing_error": answer["pricing_error"],
        "result": result,
    }


@router.get(
    "",
    response=with_errors({200: list[PoolItemOut]}, 401, 403),
    summary="Your pools (scope pools:read)",
)
def list_pools(request: HttpRequest) -> list[dict[str, Any]]:
    who = person(request, READ)
    rows = Membership.objects.filter(user=who.user).select_related("pool").order_by("pool__name")
    return [
        {
            "slug": m.pool.slug,
            "name": m.pool.name,
            "kind": m.pool.kind,
            "kind_label": kind_name(m.pool.kind),
            "currency": m.pool.currency,
            "public": m.pool.is_public,
            "my_status": m.status,
            "my_role": m.role,
            "members": len(services.active_members(m.pool)),
        }
        for m in rows
    ]


@router.get(
    "/{slug}",
    response=with_errors({200: PoolOut}, 401, 403, 404, 422),
    summary="A pool: rules, members (by name or pseudonym), reserves (scope pools:read)",
)
def get_pool(request: HttpRequest, slug: str) -> dict[str, Any]:
    pool, v = _visible(request, slug)
    rules = services.current_rules(pool)
    version = pool.rules_versions.order_by("-version").first()
    held = services.balances(pool)
    return {
        "slug": pool.slug,
        "name": pool.name,
        "kind": pool.kind,
        "kind_label": kind_name(pool.kind),
        "currency": pool.currency,
        "public": pool.is_public,
        "description": pool.description,
        "rules": rules_to_json(rules),
        "rules_version": version.version if version else 1,
        "rules_text": describe(rules),
        "names_visible": v.with_names,
        "me": _me(v.membership),
        "members": [
            {
                "number": m.number,
                "pseudonym": m.pseudonym,
                "name": m.label if v.with_names else None,
                "role": m.role,
                "status": m.status,
                "tier_gift": m.tier_gift,
                "reserve": m.reserve,
            }
            for m in present.member_rows(v)
        ],
        "money_held": held.get(services.bank_code(pool), 0),
        "common_fund": held.get(services.fund_code(pool), 0),
    }


@router.get(
    "/{slug}/ledger",
    response=with_errors({200: list[LedgerEntryOut]}, 401, 403, 404, 422),
    summary="The pool's whole ledger, newest first (scope pools:read)",
)
def get_ledger(request: HttpRequest, slug: str) -> list[dict[str, Any]]:
    pool, v = _visible(request, slug)
    entries = present.ledger_entries(services.ledger_lines(pool, with_names=v.with_names))
    return [
        {
            "journal_id": e.journal_id,
            "date": e.date,
            "kind": e.kind,
            "memo": e.memo,
            "legs": [
                {"account": leg.account, "who": leg.who, "amount": leg.amount, "change": leg.change}
                for leg in e.legs
            ],
        }
        for e in entries
    ]


@router.get(
    "/{slug}/claims",
    response=with_errors({200: list[ClaimOut]}, 401, 403, 404, 422),
    summary="The pool's claims, newest first, with their approvals (scope pools:read)",
)
def list_claims(request: HttpRequest, slug: str) -> list[dict[str, Any]]:
    pool, v = _visible(request, slug)
    claims = pool.claims.select_related("membership", "pool").prefetch_related("gifts")
    return [claim_out(c, v) for c in claims.order_by("-reported_at")]


@router.post(
    "/{slug}/claims",
    response=with_errors({201: ClaimOut}, 400, 401, 403, 404, 409, 422),
    summary="Report a claim as yourself (scope pools:write)",
)
def post_claim(request: HttpRequest, slug: str, payload: ClaimIn) -> Status[dict[str, Any]]:
    pool, v = _visible(request, slug, WRITE)
    claim = services.report_own_claim(
        pool,
        person(request, WRITE).user,
        start_date=payload.start_date,
        amount=payload.amount,
        description=payload.description,
    )
    return Status(201, claim_out(claim, v))


@router.post(
    "/{slug}/claims/{claim_id}/decision",
    response=with_errors({200: ClaimOut}, 400, 401, 403, 404, 409, 422),
    summary="Approve or reject another member's claim (scope pools:write)",
)
def post_decision(
    request: HttpRequest, slug: str, claim_id: int, payload: DecisionIn
) -> dict[str, Any]:
    pool, v = _visible(request, slug, WRITE)
    claim = services.claim_in(pool, claim_id)
    decided = services.decide_claim(
        claim, person(request, WRITE).user, payload.decision, payload.reason
    )
    return claim_out(decided, v)


@router.post(
    "/{slug}/votes/{vote_id}/ballot",
    response=with_errors({200: VoteOut}, 400, 401, 403, 404, 409, 422),
    summary="Cast your ballot: yes, no or abstain (scope pools:write)",
)
def post_ballot(request: HttpRequest, slug: str, vote_id: int, payload: BallotIn) -> dict[str, Any]:
    pool, v = _visible(request, slug, WRITE)
    vote = services.vote_in(pool, vote_id)
    cast = services.cast_ballot(vote, person(request, WRITE).user, payload.choice)
    return vote_out(services.vote_in(pool, cast.pk), v)


# ---------------------------------------------------------------------------- errors


def _install_error_handlers() -> None:
    # Imported here, after `router` exists: keel.api.api imports this module to mount it.
    from keel.api.api import api

    def on_pool_error(request: HttpRequest, exc: PoolError) -> HttpResponse:
        details = [
            {
                "code": exc.code,
                "message": str(d.get("reason") or exc.message),
                "field": dotted(d.get("field")),
            }
            for d in exc.details
        ]
        return error_response(
            api, request, exc.status, exc.code, exc.message, dotted(exc.field), details
        )

    api.exception_handler(PoolError)(on_pool_error)


_install_error_handlers()
