"""The world the access-control matrix runs in: two of everything, so every object has an
owner and an outsider of the same kind.

Worker tenants A and B (income, imports, benefits, contracts, offers, plans, portfolio,
testimonials, peer groups, API keys), pool tenants P and Q (claims, votes), platform
tenants X and Y (operators, keys with every scope, links, clearing, bundles). Every
object is made through the domain services, with the helpers of the domains' own tests.

Each tenant's private names carry a marker word (`MARKERS`) that no page or API answer
may show to anyone outside that tenant.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.utils import timezone

from keel.accounts.models import User
from keel.accounts.services import create_worker
from keel.api import services as api_keys
from keel.api.keys import SCOPES
from keel.career import client_links, offers, planning, upselling
from keel.career import peer_services as peers
from keel.career import reputation_services as reputation
from keel.career import services as career
from keel.career.tests.conftest import make_contract, milestones
from keel.gateway import services as gateway
from keel.gateway.services.platforms import PLATFORM_SCOPES
from keel.gateway.tests.conftest import event
from keel.income import services as income
from keel.income.importers.base import ParsedRow, RowKind
from keel.income.models import IncomeItem
from keel.ledger.models import Account
from keel.pools import services as pools
from keel.pools import simjobs
from keel.pools.tests.conftest import EUR_1000, EUR_1500, small_fund_rules, this_month

PASSWORD = "matrix-harbour-1987"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"

# Private words of each tenant, and the roles allowed to read them.
MARKERS: dict[str, frozenset[str]] = {
    "Amberquill": frozenset({"worker"}),
    "Brackenfold": frozenset({"other_worker"}),
    "Peppercorn": frozenset({"steward", "pool_member"}),
    "Quillmarsh": frozenset({"other_pool_member"}),
    "Ospreyline": frozenset({"platform"}),
    "Yarrowmere": frozenset({"other_platform"}),
}
OTHER_TENANT = {"A": "B", "B": "A", "P": "Q", "Q": "P", "X": "Y", "Y": "X"}
# Worker per-job policy: $5 a job, so every event pays into the buckets at once.
PER_JOB = {"currency": "USD", "per_job": 500}


@dataclass
class World:
    users: dict[str, User] = field(default_factory=dict)
    # User id -> the worker tenant (A or B) they are.
    tenant_of: dict[int, str] = field(default_factory=dict)
    # Role -> plaintext API key the role presents on the API (the staff user has none and
    # calls the API with its session).
    keys: dict[str, str] = field(default_factory=dict)
    # Tenant -> name -> value filled into URLs (ids, slugs, references).
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Values that belong to no tenant (the plan catalogue, calendar months).
    shared: dict[str, Any] = field(default_factory=dict)


def _month_before(day: date) -> date:
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def _income_row(line: int, gross: int, on: date, description: str) -> ParsedRow:
    return ParsedRow(
        line=line,
        kind=RowKind.INCOME,
        occurred_on=on,
        currency="USD",
        gross=gross,
        fee=0,
        net=gross,
        external_id=f"M{line}",
        description=description,
    )


def _worker_tenant(world: World, tenant: str, user: User, marker: str, month: date) -> None:
    """One worker's own books and career, every object named by the tenant's marker where
    only its owner may read it."""
    values = world.values.setdefault(tenant, {})
    values["user_id"] = user.pk
    today = timezone.localdate()
    key, plaintext = api_keys.create_key(user, f"{marker} script", sorted(SCOPES))
    values["key_id"] = key.pk
    values["api_key"] = plaintext

    client = income.ensure_source(user, f"{marker} Press", kind="client", default_stream="project")
    booked = income.book_rows(
        user,
        client,
        [
            _income_row(1, 120_000, month + timedelta(days=3), f"{marker} chapter"),
            _income_row(2, 80_000, month + timedelta(days=17), f"{marker} edits"),
        ],
    )
    assert booked.applied
    values["source_id"] = client.pk
    income_item = IncomeItem.objects.filter(worker=user, source=client).order_by("id").first()
    assert income_item is not None
    values["income_item_id"] = income_item.pk
    upwork = income.ensure_source(user, "Upwork", kind="platform", default_stream="project")
    with (SAMPLES / "upwork.csv").open("rb") as handle:
        batch = income.preview_upload(
            user, name="upwork.csv", stream=handle, fmt="upwork", source=upwork
        )
    values["import_batch_id"] = batch.pk
    code = Account.objects.filter(owner_type="worker", owner_id=user.pk).order_by("code").first()
    assert code is not None
    values["code"] = code.code

    simjobs.run_job(user.pk, f"matrix-{tenant.lower()}", {"gifts": [EUR_1500], "currency": "EUR"})
    values["job_id"] = f"matrix-{tenant.lower()}"

    contract = make_contract(user, 100_000, 200_000, title=f"{marker} annual report")
    values["contract_id"] = contract.pk
    values["milestone_id"] = milestones(contract)[0].pk
    values["client_token"] = client_links.issue_link(contract)
    # A credit note: an invoice issued for 500.00, of which the client released 300.00 (in
    # the worker's own currency, so the release needs no exchange rate).
    credited = milestones(
        make_contract(user, 50_000, title=f"{marker} credited", currency=user.home_currency)
    )[0]
    career.issue_invoice(credited, on=today, recorded_by=user)
    credited = career.fund_milestone(credited, on=today, recorded_by=user)
    credited = career.release_milestone(credited, on=today, recorded_by=user, amount=30_000)
    values["adjustment_id"] = career.issue_credit_note(
        credited, amount=20_000, reason="Part released", on=today, recorded_by=user
    ).pk
    # The client's link to it, which downloads that invoice and that credit note.
    values["credited_milestone_id"] = credited.pk
    values["credited_token"] = client_links.issue_link(credited.contract)

    membership = offers.create_offer(
        user, name="Studio notes", kind="membership", price=1_500, currency="EUR", interval="month"
    )
    workbook = offers.create_offer(
        user, name="Workbook", kind="digital_product", price=3_900, currency="EUR"
    )
    subscriber = offers.add_subscriber(membership, name="Rin Ota", start_on=today)
    values["offer_id"] = membership.pk
    values["subscriber_id"] = subscriber.pk
    values["workbook_id"] = workbook.pk
    retainer = offers.create_offer(
        user,
        name="Monthly retainer",
        kind="retainer",
        price=120_000,
        currency="EUR",
        interval="month",
        retainer_units=10,
        retainer_unit="hours",
        retainer_on_unused="expire",
    )
    values["retainer_offer_id"] = retainer.pk
    values["retainer_subscriber_id"] = offers.add_subscriber(
        retainer, name="Lumen Labs", start_on=today
    ).pk
    upsell = upselling.create_upsell(user, base=workbook, follow_on=membership, window_days=60)
    values["upsell_id"] = upsell.pk

    plan = planning.create_plan(
        user,
        starts_on=today - timedelta(days=10),
        currency="EUR",
        target_mrr=30_000,
        expansion_channel="Newsletter",
    )
    action = planning.add_action(plan, f"Pitch {marker} clients", today + timedelta(days=5))
    values["plan_id"] = plan.pk
    values["action_id"] = action.pk

    item = reputation.create_portfolio_item(
        user,
        title="Harbour guide",
        summary="A guide.",
        upload=io.BytesIO(PDF),
        upload_name="guide.pdf",
        done_on=today - timedelta(days=30),
    )
    values["item_id"] = item.pk
    open_request, token = reputation.request_testimonial(
        user, client_name="Kite Outdoor", client_email="kite@example.net"
    )
    assert token is not None
    values["request_id"] = open_request.pk
    values["token"] = token
    _, written_token = reputation.request_testimonial(
        user, client_name="Lumen Labs", client_email="lumen@example.net"
    )
    assert written_token is not None
    written = reputation.write_testimonial(
        written_token, text="Clear and calm.", author_name="Jo", author_role="Editor"
    )
    values["testimonial_id"] = written.pk
    values["handle"] = f"{marker.lower()}-writes"
    reputation.save_profile(user, handle=values["handle"], headline="Writer", public=tenant == "A")


def _peer_groups(world: World, a: User, b: User, helper: User) -> None:
    """A's group and B's group, each with the helper as a second member and a referral;
    each invites the other worker, so an invitation is the invited worker's own."""
    for tenant, owner, other in (("A", a, b), ("B", b, a)):
        group = peers.start_group(owner, name=f"Writers circle {tenant}")
        joined = peers.invite(group, owner, helper.email)
        assert peers.respond(helper, joined.pk, accept=True) is not None
        referral = peers.offer_referral(
            group, owner, to_worker_id=helper.pk, title="Brochure copy", client_name="Fig Ltd"
        )
        world.values[tenant]["group_id"] = group.pk
        world.values[tenant]["referral_id"] = referral.pk
        invitation = peers.invite(group, owner, other.email)
        world.values[OTHER_TENANT[tenant]]["membership_id"] = invitation.pk


def _pool_tenant(
    world: World, tenant: str, steward: User, members: list[User], marker: str
) -> None:
    """A private sick-leave fund with a pending claim by its second member and an open
    rule-change vote."""
    # Members since the first of the month, so a sickness from then is covered.
    pool = pools.create_pool(
        steward,
        name=f"{marker} Fund",
        rules=small_fund_rules(),
        tier_gift=EUR_1500,
        today=this_month(),
    )
    for member in members:
        pools.apply(pool, member, tier_gift=EUR_1000, today=this_month())
    for person in (steward, *members):
        pools.pay_own_deposit(pool, person, this_month())
    claim = pools.report_own_claim(
        pool, members[0], start_date=this_month(), description=f"{marker} flu"
    )
    vote = pools.propose_rule_change(pool, steward, {"waiting_months": 1})
    world.values[tenant] = {"slug": pool.slug, "claim_id": claim.pk, "vote_id": vote.pk}


def _platform_tenant(
    world: World,
    tenant: str,
    operator: User,
    name: str,
    marker: str,
    worker: User,
    invited: User,
    month: date,
) -> None:
    """A platform paying $5 a job: its worker linked and paid last month and this week,
    the other worker invited, a closed clearing batch with a settlement, a bundle offered
    to its worker, and a key with every platform scope."""
    today = timezone.localdate()
    platform = gateway.create_platform(
        name, operator=operator, policy=PER_JOB, effective_from=month - timedelta(days=31)
    )
    key, plaintext = gateway.create_platform_key(
        platform, operator, f"{marker} payroll", PLATFORM_SCOPES
    )
    ref = f"{name.lower()}-ref-1"
    link = gateway.link_with_code(platform, ref, gateway.create_link_code(worker))
    invitation = gateway.invite(platform, f"{name.lower()}-ref-2", invited.email)
    gateway.record_events(
        platform,
        [
            event("e1", (month + timedelta(days=4)).isoformat(), 9_000, worker_ref=ref, jobs=40),
            event("e2", today.isoformat(), 4_000, worker_ref=ref, jobs=20),
        ],
    )
    batch = gateway.close_period(platform, today - timedelta(days=6), today)[0]
    settlement = gateway.record_settlement(
        batch, reference=f"{marker} wire", amount=batch.owed, received_on=today, by=operator
    )
    monday = today - timedelta(days=today.weekday())
    bundle = gateway.offer_bundle(
        platform,
        ref,
        "steady-1",
        "Steady deliveries",
        {"start": monday.isoformat(), "weeks": 4, "min_tasks_per_week": 10, "rate_per_task": 500},
    )
    world.values[tenant] = {
        "platform_id": platform.pk,
        "platform_key_id": key.pk,
        "api_key": plaintext,
        "link_id": link.pk,
        "worker_ref": ref,
        "batch_id": batch.pk,
        "settlement_id": settlement.pk,
        "bundle_id": bundle.pk,
        "week": 1,
        # After the bundle above: a second one may not overlap it.
        "bundle_start": (monday + timedelta(weeks=4)).isoformat(),
    }
    worker_values = world.values[world.tenant_of[worker.pk]]
    worker_values["link_id"] = link.pk
    worker_values["bundle_id"] = bundle.pk
    world.values[world.tenant_of[invited.pk]]["invitation_id"] = invitation.pk


def _benefits(world: World, tenant: str, user: User, plan_id: int) -> None:
    values = world.values[tenant]
    use = gateway.use_benefit(
        user,
        "health",
        1_000,
        currency="USD",
        receipt=io.BytesIO(PDF),
        receipt_name="dentist.pdf",
        idempotency_key=f"matrix-use-{tenant}",
    )
    values["use_id"] = use.pk
    enrollment = gateway.enroll(user, gateway.active_plan(plan_id), this_month())
    values["enrollment_id"] = enrollment.pk


def build_world() -> World:
    world = World()
    people = {
        "worker": ("amber@example.org", "Ana Worker"),
        "other_worker": ("bram@example.org", "Bram Worker"),
        "steward": ("sol@example.org", "Sol Steward"),
        "pool_member": ("mia@example.org", "Mia Member"),
        "other_pool_member": ("nik@example.org", "Nik Neighbour"),
        "platform": ("ops@osprey.example", "Osprey Ops"),
        "other_platform": ("ops@yarrow.example", "Yarrow Ops"),
    }
    for role, (email, name) in people.items():
        world.users[role] = create_worker(email, name=name, password=PASSWORD)
    world.users["staff"] = User.objects.create_superuser(
        "staff@keel.example", PASSWORD, name="Stella Staff"
    )
    helper = create_worker("hal@example.org", name="Hal Helper", password=PASSWORD)
    pool_helper = create_worker("quin@example.org", name="Quin Helper", password=PASSWORD)
    a, b = world.users["worker"], world.users["other_worker"]
    world.tenant_of.update({a.pk: "A", b.pk: "B"})

    month = _month_before(timezone.localdate())
    world.shared.update(
        year=f"{month.year:04d}",
        month=f"{month.month:02d}",
        this_month=f"{this_month():%Y-%m}",
        this_year=str(this_month().year),
    )
    _worker_tenant(world, "A", a, "Amberquill", month)
    _worker_tenant(world, "B", b, "Brackenfold", month)
    _peer_groups(world, a, b, helper)
    _pool_tenant(
        world, "P", world.users["steward"], [world.users["pool_member"], helper], "Peppercorn"
    )
    _pool_tenant(world, "Q", world.users["other_pool_member"], [pool_helper], "Quillmarsh")
    _platform_tenant(world, "X", world.users["platform"], "Osprey", "Ospreyline", a, b, month)
    _platform_tenant(world, "Y", world.users["other_platform"], "Yarrow", "Yarrowmere", b, a, month)

    plan = gateway.add_plan("Freelancers Mutual", "telehealth", "Telehealth plus", "USD", 6_000)
    world.shared["plan_id"] = plan.pk
    _benefits(world, "A", a, plan.pk)
    _benefits(world, "B", b, plan.pk)
    charges = gateway.charge_premiums(this_month())
    for charge in charges:
        tenant = world.tenant_of[charge.enrollment.worker_id]
        world.values[tenant]["charge_id"] = charge.pk

    # On the API each person presents a key of their own with every scope, a platform
    # its platform key.
    for role, tenant in (("worker", "A"), ("other_worker", "B"), ("platform", "X")):
        world.keys[role] = world.values[tenant]["api_key"]
    world.keys["other_platform"] = world.values["Y"]["api_key"]
    for role in ("steward", "pool_member", "other_pool_member"):
        _, world.keys[role] = api_keys.create_key(world.users[role], "script", sorted(SCOPES))
    return world
