"""People with history in every domain, built through the real services (never mocks), for
the data export and account closing tests.

Ana and Ben share a platform, a sick-leave fund (Ben's reserve gives to Ana's claim, and she
repays part of the gift after a recovery reported late) and a
peer group (Ben passes Ana a gig and she pays him its fee): everything two workers can
have in common. Whatever is Ben's own carries the marker "Zzyzx", so a test can look for
it in Ana's archive.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.utils import timezone

from keel.accounts.models import User
from keel.accounts.services import create_worker
from keel.api import services as api_keys
from keel.career import (
    offers,
    peer_services,
    planning,
    reputation_services,
    skills_services,
    upselling,
)
from keel.career import services as career
from keel.career.models import Contract
from keel.career.services import MilestoneInput
from keel.gateway import services as gateway
from keel.gateway.models import Platform
from keel.income import services as income
from keel.pools import services as pools
from keel.pools.models import Pool
from keel.pools.rules.pool_rules import broodfonds_default, rules_to_json

PASSWORD = "harbour-lantern-42"
SAMPLES = Path(__file__).resolve().parents[4] / "docs" / "samples"
MARKER = "zzyzx"
# DoorDash's pilot: 4% of pre-tip earnings once USD 1,000 is earned in the quarter.
DOORDASH = {
    "currency": "USD",
    "rate_bps": 400,
    "threshold": 100_000,
    "threshold_period": "quarter",
    "backdate": True,
}
USD_1000, USD_1500 = 100_000, 150_000


def person(email: str, name: str) -> User:
    return create_worker(email, name=name, password=PASSWORD, currency="USD")


def this_month() -> date:
    return timezone.localdate().replace(day=1)


def fund_rules(**changes: object) -> dict[str, object]:
    rules = rules_to_json(broodfonds_default("USD"))
    rules.update(
        {
            "tiers": [USD_1000, USD_1500],
            "min_members": 2,
            "approvals_required": 1,
            "admission_by_vote": False,
            "waiting_months": 0,
            **changes,
        }
    )
    return rules


def earnings(event_id: str, ref: str, day: str, gross: int) -> dict[str, object]:
    return {
        "event_id": event_id,
        "worker_ref": ref,
        "occurred_at": f"{day}T12:00:00Z",
        "gross": gross,
        "currency": "USD",
    }


def platform(operator: User) -> Platform:
    return gateway.create_platform(
        "Dash", operator=operator, policy=DOORDASH, effective_from=date(2026, 1, 1)
    )


def contract(worker: User, client: str, *amounts: int) -> Contract:
    return career.create_contract(
        worker,
        title=f"Website for {client}",
        client_name=client,
        client_email="pay@client.example",
        currency="USD",
        credit_limit=500_000,
        milestones=[
            MilestoneInput(f"Part {n + 1}", amount, due_on=date(2026, 3, 31))
            for n, amount in enumerate(amounts)
        ],
    )


def fund_and_release(worker: User, row: Contract) -> None:
    milestone = row.milestones.order_by("sequence").first()
    assert milestone is not None
    milestone = career.fund_milestone(milestone, on=date(2026, 3, 2), recorded_by=worker)
    milestone = career.deliver_milestone(milestone, on=date(2026, 3, 9), recorded_by=worker)
    career.release_milestone(milestone, on=date(2026, 3, 10), recorded_by=worker)


@dataclass
class TwoWorkers:
    ana: User
    ben: User
    platform: Platform
    pool: Pool
    ana_key_plaintext: str


def two_workers() -> TwoWorkers:
    ana = person("ana@example.org", "Ana Souza")
    ben = person(f"benedikt.{MARKER}@example.org", f"Benedikt {MARKER.title()}")
    operator = person("ops@dash.example", "Dash Ops")

    # Income: Ana imports an Upwork statement and sets her forecast; Ben sells a class.
    settings = income.income_settings(ana)
    settings.essential_expenses = 250_000
    settings.salary = 300_000
    settings.save()
    source = income.source_for_import(ana, "upwork")
    with (SAMPLES / "upwork.csv").open("rb") as handle:
        income.import_file(ana, handle, fmt="upwork", source=source)
    ben_offer = offers.create_offer(
        ben,
        name=f"{MARKER.title()} masterclass",
        kind="digital_product",
        price=9_900,
        currency="USD",
    )
    offers.record_payment(
        ben_offer, amount=9_900, on=date(2026, 2, 3), description=f"{MARKER} class sale"
    )

    # Benefits: both linked to Dash; Ana earns past the threshold, Ben a little.
    dash = platform(operator)
    gateway.link_with_code(dash, "dasher-ana", gateway.create_link_code(ana))
    gateway.link_with_code(dash, f"dasher-{MARKER}", gateway.create_link_code(ben))
    gateway.record_events(
        dash,
        [
            earnings("a1", "dasher-ana", "2026-02-02", 60_000),
            earnings("a2", "dasher-ana", "2026-02-03", 60_000),
            earnings("b1", f"dasher-{MARKER}", "2026-02-03", 150_000),
        ],
    )
    gateway.start_withholding(ana, 500)
    gateway.use_benefit(
        ana,
        "emergency",
        100,
        note="Boiler repair",
        receipt=io.BytesIO(b"%PDF-1.4 ana receipt"),
        receipt_name="boiler.pdf",
        idempotency_key="ana-emergency-1",
    )

    # Pools: Ben's fund; Ana is a member, claims, and Ben's reserve gives to her gift.
    # Both joined on the 1st, so Ana's flu from the 1st is covered (a sickness from before
    # joining is not).
    fund = pools.create_pool(
        ben, name="Bakers Fund", rules=fund_rules(), tier_gift=USD_1500, today=this_month()
    )
    pools.apply(fund, ana, tier_gift=USD_1000, today=this_month())
    for user in (ben, ana):
        pools.pay_own_deposit(fund, user, this_month())
    claim = pools.report_own_claim(fund, ana, start_date=this_month(), description="Flu")
    pools.decide_claim(claim, ben, "approve", "Get well")
    pools.run_month(fund, this_month())
    # She reports, after the run, that she was well on the 1st: the month's gift is owed
    # back, and she repays $10.00 of it (all to Ben, its only giver).
    pools.report_recovery(claim, ana, this_month())
    pools.repay(claim, ana, 1_000, key="ana-repays-1")

    # Career: contracts (Ana's released, so her escrow is empty), offers, reputation.
    fund_and_release(ana, contract(ana, "Northwind", 80_000))
    contract(ben, f"{MARKER.title()} Client Co", 50_000)
    subscription = offers.create_offer(
        ana,
        name="Studio membership",
        kind="membership",
        price=1_500,
        currency="USD",
        interval="month",
    )
    member = offers.add_subscriber(subscription, name="Lee Reader", start_on=date(2026, 1, 5))
    offers.record_payment(subscription, amount=1_500, on=date(2026, 1, 5), subscriber=member)
    reputation_services.create_portfolio_item(
        ana,
        title="Annual report",
        upload=io.BytesIO(b"%PDF-1.4 ana portfolio"),
        upload_name="report.pdf",
    )
    reputation_services.create_portfolio_item(ben, title=f"{MARKER.title()} portfolio")
    reputation_services.save_profile(ana, handle="ana-souza", headline="Writer", public=True)
    reputation_services.save_profile(ben, handle=MARKER, headline=f"{MARKER} maker")
    _, token = reputation_services.request_testimonial(
        ana, client_name="Northwind", client_email="lead@northwind.example"
    )
    assert token is not None
    reputation_services.write_testimonial(token, text="Sharp and on time.", author_name="Lee Lead")
    reputation_services.request_testimonial(
        ana, client_name="Southwind", client_email="lead@southwind.example"
    )
    copywriting = skills_services.save_skill(ana, name="Copywriting", level=4)
    skills_services.log_work(
        ana,
        done_on=date(2026, 2, 1),
        minutes=90,
        currency="USD",
        skills=[copywriting],
        income=4_000,
        client_name="Northwind",
    )
    workbook = offers.create_offer(
        ana, name="Workbook", kind="digital_product", price=2_500, currency="USD"
    )
    upselling.create_upsell(ana, base=subscription, follow_on=workbook)
    plan = planning.create_plan(
        ana,
        starts_on=date(2026, 1, 5),
        target_mrr=5_000,
        expansion_channel="Newsletter",
        currency="USD",
    )
    planning.add_action(plan, "Launch the newsletter", date(2026, 1, 20))
    planning.check_in(plan, date(2026, 1, 12), "A good first week", today=date(2026, 1, 12))
    income.set_rate(ana, "EUR", "USD", date(2026, 1, 2), "1.1000")
    health = gateway.add_plan("Acme Health", "health", "Acme Basic", "USD", 30_000)
    gateway.enroll(ana, health, on=date(2026, 1, 1))
    gateway.charge_premiums(date(2026, 2, 1))
    profile = json.loads((SAMPLES / "csv-bank.profile.json").read_text(encoding="utf-8"))
    income.save_import_profile(ana, profile)
    skills_services.save_skill(ben, name=f"{MARKER}ing", level=2)

    # A peer group: Ben passes Ana a gig with a fee; she pays it (one journal, both books).
    group = peer_services.start_group(ben, name="Writers circle")
    invitation = peer_services.invite(group, ben, ana.email)
    peer_services.respond(ana, invitation.pk, accept=True)
    referral = peer_services.offer_referral(
        group,
        ben,
        to_worker_id=ana.pk,
        title="Translation gig",
        fee_amount=2_000,
        fee_currency="USD",
    )
    referral = peer_services.move_referral(referral, ana, "accept")
    peer_services.pay_fee(referral, ana, on=date(2026, 3, 1))

    _, ana_plaintext = api_keys.create_key(ana, "My scripts", ["ledger:read"])
    api_keys.create_key(ben, f"{MARKER} key", ["ledger:read"])
    return TwoWorkers(ana, ben, dash, fund, ana_plaintext)
