"""The access-control matrix: for every page (by URL name) and every API operation (by
method and path), what each role gets.

Roles: `anonymous`; `worker` (A) and `other_worker` (B); `steward` (S) and `pool_member`
(M) of pool P, `other_pool_member` (N) of pool Q; `platform` and `other_platform` (X and Y:
their operators' sessions on pages, their platform keys on the API); `staff` (the
operators' admin, with no worker role). On the API a person presents their own key with
every scope; staff calls it with its session.

Outcomes:
    public    200 for anyone, no account needed
    allow     2xx, or 3xx to a page of the caller's own (not the log-in page)
    act       allowed, but a bare POST would change something: the matrix does not send it
    login     302 to the log-in page
    deny-400  refused as malformed: a tampered signed link, or a form that names another
              tenant's object
    deny-401  the API asks for credentials
    deny-403  authenticated, but a gate before any lookup refuses the role or scope, or the
              object is the caller's own tenant's and their role may not do this
    deny-404  not found, exactly as for an id that does not exist
    deny-405  the method is not accepted (checked after the log-in and role gates)

Each route's ids come from its owning tenant (`tenant`): A's contract, pool P, platform
X. Every other role asks for that same object, so "deny-404" there is the cross-tenant
check; the test also asks every role for ids that do not exist and for the other tenant's
ids (B, Q, Y), and requires the same answer as for the owner's ids it may not see.

The family of Django's admin (`admin:*`) is declared once: staff is let in, everyone else
is sent to log in.

A few routes are asked again as probes (`name#label`), with another tenant's ids in the
query or the form rather than the address, or with a form that would do what the role
may not (a member running the steward's gift run).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

ROLES = (
    "anonymous",
    "worker",
    "other_worker",
    "pool_member",
    "other_pool_member",
    "steward",
    "platform",
    "other_platform",
    "staff",
)
OUTCOMES = frozenset(
    {
        "public",
        "allow",
        "act",
        "login",
        "deny-400",
        "deny-401",
        "deny-403",
        "deny-404",
        "deny-405",
    }
)
# Roles that own a tenant's objects.
OWNERS = {
    "A": ("worker",),
    "B": ("other_worker",),
    "P": ("steward", "pool_member"),
    "Q": ("other_pool_member",),
    "X": ("platform",),
    "Y": ("other_platform",),
}

Outcomes = Mapping[str, str]


def outcomes(default: str, **by_role: str) -> Outcomes:
    """Every role's outcome: `default`, except the roles named."""
    unknown = set(by_role) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    return MappingProxyType({role: by_role.get(role, default) for role in ROLES})


def owned(tenant: str, outcome: str = "allow", **by_role: str) -> Outcomes:
    """A page of one tenant's object: its owners get `outcome`, anonymous the log-in
    page, everyone else (staff too) a 404."""
    owners = dict.fromkeys(OWNERS[tenant], outcome)
    return outcomes("deny-404", **{"anonymous": "login", **owners, **by_role})


def signed_in(outcome: str = "allow", **by_role: str) -> Outcomes:
    """A page of the caller's own (no ids): anyone signed in."""
    return outcomes(outcome, **{"anonymous": "login", **by_role})


def workers(outcome: str = "allow", **by_role: str) -> Outcomes:
    """A page behind the worker-role gate (career, benefits): staff, who is no worker, is
    refused before anything is looked up."""
    return signed_in(outcome, **{"staff": "deny-403", **by_role})


def owned_by_worker(outcome: str = "allow", **by_role: str) -> Outcomes:
    """Worker A's object behind the worker-role gate."""
    return owned("A", outcome, **{"staff": "deny-403", **by_role})


@dataclass(frozen=True)
class Route:
    """One URL name. `get` is always requested; `post` is None when the route takes no
    POST. Keyword arguments of the URL are filled from the owning tenant's values, by
    the kwarg's name unless `ids` renames it; `shared` ones from the world's shared
    values, `fixed` ones as given. `capabilities` are tenant values that are not ids
    (a signed link): they are not swapped for another tenant's in the leak check.
    `tamper` corrupts the named value's signature. `data` is the POST body.
    `cross_tenant=False` when the other tenant's object is meant to be seen (a public
    profile), so only ids that do not exist are compared. `refusals` are the roles whose
    deny-403 is about their own tenant's object rather than a gate before any lookup.

    A `probe` (a name with `#label`) asks a route once more with another tenant's ids in
    its query (`query`) or body (`data`) rather than its address: only that request is
    sent (the POST when there is one). A value written `@B.name` is tenant B's `name`.
    `public_markers` are tenant marker words the route shows to anyone by design (a
    client's link shows the contract's title). `staff_reads_all` marks the operators' own
    pages, where staff reads every tenant's data as in the admin."""

    get: Outcomes
    post: Outcomes | None = None
    tenant: str | None = None
    ids: Mapping[str, str] = field(default_factory=dict)
    shared: tuple[str, ...] = ()
    fixed: Mapping[str, str] = field(default_factory=dict)
    capabilities: tuple[str, ...] = ()
    tamper: tuple[str, ...] = ()
    data: Mapping[str, str] = field(default_factory=dict)
    path: str | None = None
    cross_tenant: bool = True
    refusals: tuple[str, ...] = ()
    query: Mapping[str, str] = field(default_factory=dict)
    probe: bool = False
    public_markers: tuple[str, ...] = ()
    staff_reads_all: bool = False
    area: str = "site"

    def __post_init__(self) -> None:
        for table in (self.get, self.post or {}):
            bad = {o for o in table.values() if o not in OUTCOMES}
            if bad:
                raise ValueError(f"unknown outcomes {sorted(bad)}")


@dataclass(frozen=True)
class Operation:
    """One API operation (method and OpenAPI path). Path parameters come from the owning
    tenant like a Route's; `body` is the JSON sent (valid, so the ownership checks behind
    validation are exercised)."""

    outcomes: Outcomes
    tenant: str | None = None
    ids: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, object] | None = None
    refusals: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        bad = {o for o in self.outcomes.values() if o not in OUTCOMES}
        if bad:
            raise ValueError(f"unknown outcomes {sorted(bad)}")


def _area(area: str, routes: dict[str, Route]) -> dict[str, Route]:
    return {name: replace(route, area=area) for name, route in routes.items()}


# A POST-only route's GET: the log-in and role gates answer first, then the method.
GET_405 = signed_in("deny-405")
WORKER_GET_405 = workers("deny-405")
# Pools: a private pool is not found for anyone outside it, signed in or not; its
# actions ask anonymous callers to log in first.
POOL_PAGE = owned("P", anonymous="deny-404")
POOL_ACTION = owned("P", "allow")

# ---------------------------------------------------------------------------- pages

ACCOUNTS = _area(
    "accounts",
    {
        # Signed-in people are sent on to their dashboard.
        "accounts:signup": Route(get=outcomes("allow", anonymous="public"), post=outcomes("allow")),
        "accounts:signup_sent": Route(get=outcomes("public")),
        # A sign-up link that is not valid is not found; signed-in people go to their dashboard.
        "accounts:signup_confirm": Route(
            get=outcomes("allow", anonymous="deny-404"),
            post=outcomes("allow", anonymous="deny-404"),
            fixed={"token": "not-a-token"},
        ),
        "accounts:login": Route(get=outcomes("allow", anonymous="public"), post=outcomes("allow")),
        # Log-out is POST only; for a session it ends the session.
        "accounts:logout": Route(get=outcomes("deny-405"), post=outcomes("act", anonymous="allow")),
        # Forgot your password: anyone may ask, signed in or not; a link that is not valid
        # shows its own page.
        "accounts:password_reset": Route(get=outcomes("public"), post=outcomes("public")),
        "accounts:password_reset_done": Route(get=outcomes("public")),
        "accounts:password_reset_confirm": Route(
            get=outcomes("public"), fixed={"uidb64": "MQ", "token": "not-a-token"}
        ),
        "accounts:password_reset_complete": Route(get=outcomes("public")),
        "accounts:password_change": Route(get=signed_in(), post=signed_in()),
        "accounts:password_change_done": Route(get=signed_in()),
        "accounts:settings": Route(get=signed_in(), post=signed_in()),
        # No log-in waiting for its code: back to the log-in page.
        "accounts:login_verify": Route(get=outcomes("login"), post=outcomes("login")),
        "accounts:two_factor": Route(get=signed_in()),
        "accounts:two_factor_setup": Route(get=GET_405, post=signed_in("act")),
        "accounts:two_factor_confirm": Route(get=GET_405, post=signed_in()),
        "accounts:two_factor_disable": Route(get=GET_405, post=signed_in()),
        "accounts:backup_codes": Route(get=GET_405, post=signed_in()),
        # One's own data only: the markers are looked for inside the archive too.
        "accounts:data_export": Route(get=GET_405, post=signed_in()),
        "accounts:close": Route(get=signed_in(), post=signed_in()),
        "accounts:closed": Route(get=outcomes("public")),
        # The audit log does not exist for anyone but staff.
        "audit:events": Route(get=signed_in("deny-404", staff="allow"), staff_reads_all=True),
        "healthz": Route(get=outcomes("public")),
        "api_keys:list": Route(get=signed_in()),
        "api_keys:create": Route(get=GET_405, post=signed_in()),
        "api_keys:revoke": Route(get=owned("A"), post=owned("A", "act"), tenant="A"),
        "web:landing": Route(get=outcomes("public")),
        "web:dashboard": Route(get=signed_in()),
        # The API's own pages, outside its operations.
        "api-1:openapi-json": Route(get=outcomes("public")),
        "api-1:openapi-view": Route(get=outcomes("public")),
        "api-1:api-root": Route(get=outcomes("deny-404")),
        "api-1:not-found": Route(
            get=outcomes("deny-404"), post=outcomes("deny-404"), path="/api/v1/no-such-thing"
        ),
    },
)

INCOME = _area(
    "income",
    {
        "income:dashboard": Route(get=signed_in()),
        "income:sources": Route(get=signed_in()),
        "income:source_add": Route(get=GET_405, post=signed_in()),
        "income:source_edit": Route(get=GET_405, post=owned("A"), tenant="A"),
        "income:import": Route(get=signed_in(), post=signed_in()),
        "income:import_profiles": Route(get=signed_in(), post=signed_in()),
        "income:import_preview": Route(
            get=owned("A"), tenant="A", ids={"batch_id": "import_batch_id"}
        ),
        "income:import_apply": Route(
            get=GET_405, post=owned("A", "act"), tenant="A", ids={"batch_id": "import_batch_id"}
        ),
        "income:import_progress": Route(
            get=owned("A"), tenant="A", ids={"batch_id": "import_batch_id"}
        ),
        # Each worker's own month: B has income in it too, nobody else has.
        "income:month": Route(get=owned("A", other_worker="allow"), shared=("year", "month")),
        "income:rates": Route(get=signed_in()),
        "income:rate_add": Route(get=GET_405, post=signed_in()),
        "income:rate_upload": Route(get=GET_405, post=signed_in()),
        "income:settings": Route(get=signed_in(), post=signed_in()),
        # Moves only the caller's own money between their cash and buffer.
        "income:buffer_move": Route(get=GET_405, post=signed_in()),
    },
)

POOLS = _area(
    "pools",
    {
        "pools:list": Route(get=signed_in()),
        "pools:new": Route(get=signed_in(), post=signed_in()),
        "pools:simulate": Route(get=signed_in(), post=signed_in()),
        "pools:simulate_job": Route(get=owned("A"), tenant="A"),
        "pools:simulate_progress": Route(get=owned("A"), tenant="A"),
        "pools:detail": Route(get=POOL_PAGE, tenant="P"),
        "pools:ledger": Route(get=POOL_PAGE, tenant="P"),
        "pools:claim": Route(get=POOL_PAGE, tenant="P"),
        "pools:vote": Route(get=POOL_PAGE, tenant="P"),
        # Actions: an empty form is refused (400) before any service runs.
        "pools:join": Route(get=GET_405, post=POOL_ACTION, tenant="P"),
        "pools:accept": Route(get=GET_405, post=POOL_ACTION, tenant="P"),
        "pools:invite": Route(get=GET_405, post=POOL_ACTION, tenant="P"),
        "pools:withdraw_invitation": Route(get=GET_405, post=POOL_ACTION, tenant="P"),
        "pools:deposit": Route(get=GET_405, post=POOL_ACTION, tenant="P"),
        "pools:claim_new": Route(get=GET_405, post=POOL_ACTION, tenant="P"),
        "pools:claim_decide": Route(get=GET_405, post=POOL_ACTION, tenant="P"),
        "pools:claim_remind": Route(get=GET_405, post=owned("P", "act"), tenant="P"),
        "pools:claim_recovery": Route(get=GET_405, post=POOL_ACTION, tenant="P"),
        "pools:claim_repay": Route(get=GET_405, post=POOL_ACTION, tenant="P"),
        "pools:claim_waiver": Route(get=GET_405, post=POOL_ACTION, tenant="P"),
        "pools:ballot": Route(get=GET_405, post=POOL_ACTION, tenant="P"),
        "pools:rules": Route(get=owned("P"), post=owned("P"), tenant="P"),
        "pools:leave": Route(get=owned("P"), post=owned("P", "act"), tenant="P"),
        "pools:run_gifts": Route(get=GET_405, post=POOL_ACTION, tenant="P"),
        "pools:refund": Route(get=GET_405, post=POOL_ACTION, tenant="P"),
        "pools:start_cycle": Route(get=GET_405, post=POOL_ACTION, tenant="P"),
        "pools:pay_round": Route(get=GET_405, post=POOL_ACTION, tenant="P"),
        "pools:appoint_steward": Route(get=GET_405, post=POOL_ACTION, tenant="P"),
        # A member doing a steward's or another member's part, with a form that would
        # do it: refused, and nothing changes.
        "pools:run_gifts#member": Route(
            get=GET_405,
            post=owned("P", "act", pool_member="deny-403"),
            tenant="P",
            data={"run-month": "@shared.this_month"},
            refusals=("pool_member",),
            probe=True,
        ),
        "pools:appoint_steward#member": Route(
            get=GET_405,
            post=owned("P", "act", pool_member="deny-403"),
            tenant="P",
            data={"member": "2"},
            refusals=("pool_member",),
            probe=True,
        ),
        "pools:refund#member": Route(
            get=GET_405,
            post=owned("P", "act", pool_member="deny-403"),
            tenant="P",
            data={"refund-year": "@shared.this_year"},
            refusals=("pool_member",),
            probe=True,
        ),
        # The claim is M's own.
        "pools:claim_decide#claimant": Route(
            get=GET_405,
            post=owned("P", "act", pool_member="deny-403"),
            tenant="P",
            data={"decision": "approve"},
            refusals=("pool_member",),
            probe=True,
        ),
        # Started from a private pool the caller cannot see: the page starts from nothing,
        # showing nothing of it (its members see their own pool).
        "pools:simulate#foreign-pool": Route(
            get=signed_in(), query={"pool": "@P.slug"}, probe=True
        ),
    },
)

CAREER = _area(
    "career",
    {
        "career:contracts": Route(get=workers()),
        "career:contract_new": Route(get=workers(), post=workers()),
        "career:contract": Route(get=owned_by_worker(), tenant="A"),
        "career:invoices": Route(get=workers()),
        "career:invoices_csv": Route(get=workers()),
        "career:client_link": Route(get=WORKER_GET_405, post=owned_by_worker("act"), tenant="A"),
        "career:client_link_revoke": Route(
            get=WORKER_GET_405, post=owned_by_worker("act"), tenant="A"
        ),
        # The client's signed link to A's contract: whoever holds it sees the contract
        # (its title too), and only that contract's milestones.
        "career_public:client_contract": Route(
            get=outcomes("public"),
            tenant="A",
            ids={"token": "client_token"},
            capabilities=("token",),
            public_markers=("Amberquill",),
        ),
        "career_public:client_contract#tampered": Route(
            get=outcomes("deny-400"),
            tenant="A",
            ids={"token": "client_token"},
            capabilities=("token",),
            tamper=("token",),
        ),
        "career_public:client_action": Route(
            get=outcomes("deny-405"),
            post=outcomes("allow"),
            tenant="A",
            ids={"token": "client_token"},
            capabilities=("token",),
            fixed={"action": "release"},
            public_markers=("Amberquill",),
        ),
        "career_public:client_action#tampered": Route(
            get=outcomes("deny-405"),
            post=outcomes("deny-400"),
            tenant="A",
            ids={"token": "client_token"},
            capabilities=("token",),
            fixed={"action": "release"},
            tamper=("token",),
        ),
        # The same link downloads the contract's issued invoices and the credit notes and
        # supplementary invoices against them: another contract's id through it is not found.
        "career_public:client_invoice_pdf": Route(
            get=outcomes("public"),
            tenant="A",
            ids={"token": "credited_token", "milestone_id": "credited_milestone_id"},
            capabilities=("token",),
        ),
        "career_public:client_invoice_pdf#tampered": Route(
            get=outcomes("deny-400"),
            tenant="A",
            ids={"token": "credited_token", "milestone_id": "credited_milestone_id"},
            capabilities=("token",),
            tamper=("token",),
        ),
        "career_public:client_adjustment_pdf": Route(
            get=outcomes("public"),
            tenant="A",
            ids={"token": "credited_token"},
            capabilities=("token",),
        ),
        "career_public:client_adjustment_pdf#tampered": Route(
            get=outcomes("deny-400"),
            tenant="A",
            ids={"token": "credited_token"},
            capabilities=("token",),
            tamper=("token",),
        ),
        "career:milestone_action": Route(
            get=WORKER_GET_405, post=owned_by_worker(), tenant="A", fixed={"action": "fund"}
        ),
        "career:invoice": Route(get=owned_by_worker(), tenant="A"),
        "career:invoice_issue": Route(get=WORKER_GET_405, post=owned_by_worker("act"), tenant="A"),
        "career:invoice_pdf": Route(get=owned_by_worker(), tenant="A"),
        "career:credit_note_issue": Route(
            get=WORKER_GET_405, post=owned_by_worker("act"), tenant="A"
        ),
        "career:supplement_issue": Route(
            get=WORKER_GET_405, post=owned_by_worker("act"), tenant="A"
        ),
        "career:invoice_adjustment": Route(get=owned_by_worker(), tenant="A"),
        "career:invoice_adjustment_pdf": Route(get=owned_by_worker(), tenant="A"),
        "career:upsells": Route(get=workers(), post=workers()),
        "career:upsell": Route(get=owned_by_worker(), tenant="A"),
        # An upsell from B's offer to A's: no worker has both among their choices.
        "career:upsells#foreign-offers": Route(
            get=workers(),
            post=workers("deny-400"),
            data={"base": "@B.workbook_id", "follow_on": "@A.offer_id", "window_days": "60"},
            probe=True,
        ),
        "career:offers": Route(get=workers()),
        "career:offer_new": Route(get=workers(), post=workers()),
        "career:revenue": Route(get=workers()),
        "career:offer": Route(get=owned_by_worker(), tenant="A"),
        "career:offer_edit": Route(get=owned_by_worker(), post=owned_by_worker(), tenant="A"),
        "career:retainer": Route(
            get=owned_by_worker(),
            post=owned_by_worker(),
            tenant="A",
            ids={"offer_id": "retainer_offer_id", "subscriber_id": "retainer_subscriber_id"},
        ),
        "career:subscriber_new": Route(get=WORKER_GET_405, post=owned_by_worker(), tenant="A"),
        "career:payment_new": Route(get=WORKER_GET_405, post=owned_by_worker(), tenant="A"),
        # Without an income item it matches every payment of the offer's source.
        "career:payments_match": Route(get=WORKER_GET_405, post=owned_by_worker("act"), tenant="A"),
        # A's offer with B's imported payment in the body.
        "career:payments_match#foreign-item": Route(
            get=WORKER_GET_405,
            post=owned_by_worker("deny-404"),
            tenant="A",
            data={"income_item": "@B.income_item_id"},
            probe=True,
        ),
        "career:subscriber_event": Route(
            get=WORKER_GET_405, post=owned_by_worker(), tenant="A", fixed={"kind": "pause"}
        ),
        "career:plans": Route(get=workers()),
        "career:plan_new": Route(get=workers(), post=workers()),
        "career:plan": Route(get=owned_by_worker(), tenant="A"),
        "career:plan_action_new": Route(get=WORKER_GET_405, post=owned_by_worker(), tenant="A"),
        "career:plan_action_done": Route(
            get=WORKER_GET_405, post=owned_by_worker("act"), tenant="A"
        ),
        "career:plan_check_in": Route(get=WORKER_GET_405, post=owned_by_worker(), tenant="A"),
        "career:plan_review": Route(get=WORKER_GET_405, post=owned_by_worker("act"), tenant="A"),
        "career:portfolio": Route(get=workers(), post=workers()),
        "career:portfolio_edit": Route(get=owned_by_worker(), post=owned_by_worker(), tenant="A"),
        "career:portfolio_delete": Route(
            get=WORKER_GET_405, post=owned_by_worker("act"), tenant="A"
        ),
        "career:portfolio_file": Route(get=owned_by_worker(), tenant="A"),
        "career:testimonials": Route(get=workers(), post=workers()),
        "career:testimonial_new_link": Route(
            get=WORKER_GET_405, post=owned_by_worker("act"), tenant="A"
        ),
        "career:testimonial_shown": Route(
            get=WORKER_GET_405, post=owned_by_worker("act"), tenant="A", data={"shown": "1"}
        ),
        "career:profile": Route(get=workers(), post=workers()),
        "career:skills": Route(get=workers(), post=workers()),
        "career:work_new": Route(get=WORKER_GET_405, post=workers()),
        "career:skill_sharing": Route(get=WORKER_GET_405, post=workers("act")),
        "career:peers": Route(get=workers(), post=workers()),
        "career:peer_invitation": Route(
            get=WORKER_GET_405, post=owned_by_worker("act"), tenant="A", fixed={"answer": "accept"}
        ),
        "career:peer_group": Route(get=owned_by_worker(), tenant="A"),
        "career:peer_invite": Route(get=WORKER_GET_405, post=owned_by_worker(), tenant="A"),
        "career:peer_leave": Route(get=WORKER_GET_405, post=owned_by_worker("act"), tenant="A"),
        "career:referral_new": Route(get=WORKER_GET_405, post=owned_by_worker(), tenant="A"),
        # A gig passed to B, who is not in A's group.
        "career:referral_new#outsider": Route(
            get=WORKER_GET_405,
            post=owned_by_worker("deny-400"),
            tenant="A",
            data={"to_worker": "@B.user_id", "title": "Brochure copy"},
            probe=True,
        ),
        "career:referral_action": Route(
            get=WORKER_GET_405, post=owned_by_worker("act"), tenant="A", fixed={"action": "done"}
        ),
        # No account needed: the signed link is the key, and a tampered one is refused.
        "career_public:testimonial": Route(
            get=outcomes("public"),
            post=outcomes("allow"),
            tenant="A",
            capabilities=("token",),
        ),
        "career_public:testimonial#tampered": Route(
            get=outcomes("deny-400"),
            post=outcomes("deny-400"),
            tenant="A",
            capabilities=("token",),
            tamper=("token",),
            data={"text": "Forged praise.", "author_name": "Mallory"},
        ),
        # A's profile is public; B's is private, so only B sees it.
        "career_public:profile": Route(get=outcomes("public"), tenant="A"),
        "career_public:profile#private": Route(
            get=outcomes("deny-404", other_worker="allow"), tenant="B", cross_tenant=False
        ),
    },
)

BENEFITS = _area(
    "benefits",
    {
        "gateway:benefits": Route(get=workers()),
        "gateway:benefits_allocation": Route(get=WORKER_GET_405, post=workers()),
        "gateway:benefits_link_code": Route(get=WORKER_GET_405, post=workers("act")),
        # A's invitation from platform Y.
        "gateway:benefits_invitation_accept": Route(
            get=WORKER_GET_405,
            post=owned_by_worker("act"),
            tenant="A",
            ids={"link_id": "invitation_id"},
        ),
        "gateway:benefits_invitation_decline": Route(
            get=WORKER_GET_405,
            post=owned_by_worker("act"),
            tenant="A",
            ids={"link_id": "invitation_id"},
        ),
        "gateway:benefits_link_end": Route(
            get=owned_by_worker(), post=owned_by_worker("act"), tenant="A"
        ),
        "gateway:benefits_receipt": Route(get=owned_by_worker(), tenant="A"),
        # The currency is a hidden field a browser always sends.
        "gateway:benefits_use": Route(
            get=WORKER_GET_405,
            post=workers(),
            fixed={"kind": "health"},
            data={"health-currency": "USD"},
        ),
        "gateway:benefits_withholding": Route(get=WORKER_GET_405, post=workers()),
        "gateway:benefits_withholding_stop": Route(get=WORKER_GET_405, post=workers("act")),
        "gateway:benefits_statements": Route(get=workers()),
        # Each worker's own month: B was paid in it too, nobody else was.
        "gateway:benefits_statement": Route(
            get=owned_by_worker(other_worker="allow"), shared=("year", "month")
        ),
        "gateway:benefits_statement_pdf": Route(
            get=owned_by_worker(other_worker="allow"), shared=("year", "month")
        ),
        "gateway:bundles": Route(get=signed_in()),
        "gateway:bundle_respond": Route(
            get=GET_405, post=owned("A", "act"), tenant="A", data={"answer": "decline"}
        ),
        "gateway:plans": Route(get=signed_in()),
        # The catalogue is everyone's: any signed-in person may enroll.
        "gateway:plan_enroll": Route(get=GET_405, post=signed_in("act"), shared=("plan_id",)),
        "gateway:plan_leave": Route(get=GET_405, post=owned("A", "act"), tenant="A"),
        "gateway:premium_pay": Route(get=GET_405, post=owned("A", "act"), tenant="A"),
    },
)

CONSOLE = _area(
    "console",
    {
        "gateway:console": Route(get=signed_in()),
        "gateway:console_create": Route(get=GET_405, post=signed_in()),
        "gateway:console_overview": Route(get=owned("X"), tenant="X"),
        "gateway:console_keys": Route(get=owned("X"), post=owned("X"), tenant="X"),
        "gateway:console_key_revoke": Route(
            get=owned("X"), post=owned("X", "act"), tenant="X", ids={"key_id": "platform_key_id"}
        ),
        "gateway:console_policies": Route(get=owned("X"), post=owned("X"), tenant="X"),
        "gateway:console_workers": Route(get=owned("X"), post=owned("X"), tenant="X"),
        "gateway:console_link_end": Route(get=owned("X"), post=owned("X", "act"), tenant="X"),
        "gateway:console_suspense": Route(get=owned("X"), tenant="X"),
        "gateway:console_corrections": Route(get=owned("X"), post=owned("X"), tenant="X"),
        "gateway:console_clearing": Route(get=owned("X"), tenant="X"),
        "gateway:console_close": Route(get=GET_405, post=owned("X", "act"), tenant="X"),
        "gateway:console_batch": Route(get=owned("X"), post=owned("X"), tenant="X"),
        "gateway:console_statement": Route(get=owned("X"), tenant="X"),
        "gateway:console_refund": Route(get=GET_405, post=owned("X"), tenant="X"),
        "gateway:console_settlement_withdraw": Route(
            get=GET_405, post=owned("X", "act"), tenant="X", data={"reason": "recorded twice"}
        ),
        "gateway:platform_bundles": Route(get=owned("X"), post=owned("X"), tenant="X"),
        # X offering a bundle under Y's worker reference.
        "gateway:platform_bundles#foreign-ref": Route(
            get=owned("X"),
            post=owned("X", "deny-400"),
            tenant="X",
            data={
                "worker_ref": "@Y.worker_ref",
                "reference": "probe-1",
                "title": "Probe",
                "weeks": "2",
                "start": "@X.bundle_start",
                "min_tasks_per_week": "1",
                "rate_per_task": "5",
                "min_weekly_earnings": "0",
            },
            probe=True,
        ),
        "gateway:platform_bundle_withdraw": Route(get=GET_405, post=owned("X", "act"), tenant="X"),
        "gateway:platform_bundle_settle": Route(
            get=GET_405, post=owned("X", "act"), tenant="X", fixed={"week": "1"}
        ),
    },
)

# Django's admin, as one family: staff in, everyone else to the admin's log-in page.
# Only its pages without ids are requested (the rest are Django's internals).
ADMIN_PREFIX = "admin:"
ADMIN_FAMILY = Route(get=outcomes("login", staff="allow"), area="admin")
ADMIN = _area(
    "admin",
    {
        # The admin's log-in form sends everyone to Keel's own log-in (with its second
        # factor).
        "admin:login": Route(get=outcomes("login")),
        # Log-out is POST only; Django's admin sends anyone else to its index first.
        "admin:logout": Route(get=outcomes("allow", staff="deny-405")),
    },
)

WEB: dict[str, Route] = {**ACCOUNTS, **INCOME, **POOLS, **CAREER, **BENEFITS, **CONSOLE, **ADMIN}

# ---------------------------------------------------------------------------- the API

PEOPLE_KEYS = {"platform": "deny-403", "other_platform": "deny-403"}
# A platform's key has no ledger or pools scope, and pools refuse platforms outright.
PERSON_API = outcomes("allow", anonymous="deny-401", **PEOPLE_KEYS)
# Key management is for signed-in people only: any key is refused.
SESSION_ONLY = outcomes("deny-403", anonymous="deny-401", staff="allow")
# Platform endpoints take a platform's key only: a session is not authenticated, and a
# person's own key is refused before anything is looked up.
PLATFORM_API = outcomes(
    "deny-403", anonymous="deny-401", staff="deny-401", platform="allow", other_platform="allow"
)


def platform_object(outcome: str = "allow", **by_role: str) -> Outcomes:
    return outcomes(
        "deny-403",
        **{
            "anonymous": "deny-401",
            "staff": "deny-401",
            "platform": outcome,
            "other_platform": "deny-404",
            **by_role,
        },
    )


def person_object(tenant: str, outcome: str = "allow", **by_role: str) -> Outcomes:
    owners = dict.fromkeys(OWNERS[tenant], outcome)
    return outcomes("deny-404", **{"anonymous": "deny-401", **PEOPLE_KEYS, **owners, **by_role})


EARNINGS_EVENT = {
    "event_id": "matrix-probe-1",
    "worker_ref": "osprey-ref-1",
    "occurred_at": "2026-01-05T12:00:00Z",
    "gross": 5_000,
    "currency": "USD",
    "jobs": 10,
}

API: dict[str, Operation] = {
    "GET /api/v1/health": Operation(outcomes("public")),
    "GET /api/v1/scopes": Operation(outcomes("public")),
    "GET /api/v1/me": Operation(outcomes("allow", anonymous="deny-401")),
    "GET /api/v1/ledger/accounts": Operation(PERSON_API),
    "GET /api/v1/ledger/accounts/{code}": Operation(person_object("A"), tenant="A"),
    "GET /api/v1/ledger/journals": Operation(PERSON_API),
    "GET /api/v1/keys": Operation(SESSION_ONLY),
    "POST /api/v1/keys": Operation(
        outcomes("deny-403", anonymous="deny-401", staff="act"),
        body={"name": "probe", "scopes": ["ledger:read"]},
    ),
    "DELETE /api/v1/keys/{id}": Operation(
        outcomes("deny-403", anonymous="deny-401", staff="deny-404"),
        tenant="A",
        ids={"id": "key_id"},
    ),
    "POST /api/v1/platform/earnings": Operation(
        outcomes(
            "deny-403", anonymous="deny-401", staff="deny-401", platform="act", other_platform="act"
        ),
        body={"events": [EARNINGS_EVENT]},
    ),
    # The world's e1 is each platform's own: Y's key corrects its own e1 (and is refused,
    # since X's worker reference is not its e1's), never X's.
    "POST /api/v1/platform/corrections": Operation(
        outcomes(
            "deny-403", anonymous="deny-401", staff="deny-401", platform="act", other_platform="act"
        ),
        body={
            "correction_id": "matrix-fix-1",
            "corrects": "e1",
            "worker_ref": "osprey-ref-1",
            "currency": "USD",
            "gross": 9_000,
            "jobs": 39,
            "reason": "one job was counted twice",
        },
    ),
    "GET /api/v1/platform/corrections": Operation(PLATFORM_API),
    "POST /api/v1/platform/links": Operation(
        outcomes(
            "deny-403", anonymous="deny-401", staff="deny-401", platform="act", other_platform="act"
        ),
        body={"worker_ref": "probe-ref", "email": "probe@example.org"},
    ),
    "GET /api/v1/platform/links": Operation(PLATFORM_API),
    "DELETE /api/v1/platform/links/{worker_ref}": Operation(platform_object("act"), tenant="X"),
    "GET /api/v1/platform/suspense": Operation(PLATFORM_API),
    # Y's own endpoint: X's worker reference means nothing to Y and is refused as input.
    "POST /api/v1/platform/bundles": Operation(
        platform_object("act", other_platform="allow"),
        tenant="X",
        body={
            "worker_ref": "osprey-ref-1",
            "reference": "probe-bundle",
            "title": "Probe",
            "terms": {"start": "2026-01-05", "weeks": 2, "min_tasks_per_week": 1},
        },
    ),
    "GET /api/v1/platform/bundles": Operation(PLATFORM_API),
    "GET /api/v1/platform/policy": Operation(PLATFORM_API),
    "GET /api/v1/platform/clearing": Operation(PLATFORM_API),
    "GET /api/v1/platform/clearing/{id}": Operation(
        platform_object(), tenant="X", ids={"id": "batch_id"}
    ),
    "GET /api/v1/platform/clearing/{id}/statement.csv": Operation(
        platform_object(), tenant="X", ids={"id": "batch_id"}
    ),
    "GET /api/v1/benefits": Operation(PERSON_API),
    "POST /api/v1/pools/simulate": Operation(
        PERSON_API, body={"gifts": [100_000, 150_000], "scenarios": 20, "years": 1}
    ),
    "GET /api/v1/pools": Operation(PERSON_API),
    "GET /api/v1/pools/{slug}": Operation(person_object("P"), tenant="P"),
    "GET /api/v1/pools/{slug}/ledger": Operation(person_object("P"), tenant="P"),
    "GET /api/v1/pools/{slug}/claims": Operation(person_object("P"), tenant="P"),
    "POST /api/v1/pools/{slug}/claims": Operation(
        person_object("P", "act"), tenant="P", body={"start_date": "2026-01-01"}
    ),
    # The claim is M's own: approving it is refused (403), deciding is S's.
    "POST /api/v1/pools/{slug}/claims/{claim_id}/decision": Operation(
        person_object("P", "act", pool_member="deny-403"),
        tenant="P",
        body={"decision": "approve"},
        refusals=("pool_member",),
    ),
    "POST /api/v1/pools/{slug}/votes/{vote_id}/ballot": Operation(
        person_object("P", "act"), tenant="P", body={"choice": "yes"}
    ),
}
