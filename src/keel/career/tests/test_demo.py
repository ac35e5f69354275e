"""The demo worker's career: built through the services, balanced in the ledger, and
idempotent (a second load adds nothing)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from keel.accounts.models import User
from keel.career import offers, planning, retainers, services, upselling
from keel.career.demo import HANDLE, MEMBERS, PLAN_DAY, load_career_demo
from keel.career.models import (
    Contract,
    MilestoneState,
    Offer,
    PeerGroup,
    PeerMembership,
    PortfolioItem,
    Profile,
    Referral,
    ReferralStatus,
    Subscriber,
    SubscriptionEvent,
    Testimonial,
    Upsell,
)
from keel.career.reputation_services import public_profile
from keel.ledger import services as ledger
from keel.ledger.models import Journal

from .conftest import person

END = date(2026, 6, 30)


def counts() -> tuple[int, ...]:
    return tuple(
        model.objects.count()
        for model in (
            Journal,
            Offer,
            Subscriber,
            SubscriptionEvent,
            Contract,
            Testimonial,
            PeerMembership,
            Referral,
        )
    )


@pytest.fixture
def demo_worker(db: None) -> User:
    return person("demo@keel.example", "Maya Alvarez", currency="USD")


def test_the_career_demo_loads_once_balances_and_has_every_part(demo_worker: User) -> None:
    others = [
        person("sam@example.org", "Sam Okafor", currency="USD"),
        person("lee@example.org", "Lee Park", currency="USD"),
        person("ana@example.org", "Ana Ruiz", currency="USD"),
    ]
    first = load_career_demo(worker=demo_worker, others=others, end=END)
    assert (first.offers, first.contracts, first.plans, first.testimonials) == (3, 2, 1, 2)
    assert first.peer_groups == 1
    after_first = counts()

    again = load_career_demo(worker=demo_worker, others=others, end=END)
    assert (again.offers, again.contracts, again.plans, again.testimonials) == (0, 0, 0, 0)
    assert again.peer_groups == 0
    assert counts() == after_first
    # A later day adds nothing either: the career is built once.
    load_career_demo(worker=demo_worker, others=others, end=END + timedelta(days=10))
    assert counts() == after_first
    assert ledger.verify().ok

    # Offers: the membership's subscribers and MRR from the books.
    membership = Offer.objects.get(worker=demo_worker, kind="membership")
    assert membership.subscribers.count() == MEMBERS
    statuses = set(membership.subscribers.values_list("status", flat=True))
    assert statuses == {"active", "paused", "cancelled"}
    kinds = set(
        SubscriptionEvent.objects.filter(subscriber__offer=membership).values_list(
            "kind", flat=True
        )
    )
    assert kinds == {"start", "pause", "resume", "cancel"}
    report = offers.recurring_report(demo_worker.pk, "USD", END)
    assert report.mrr > 0
    assert any(month.reactivated_customers for month in report.months)
    retainer = Offer.objects.get(worker=demo_worker, kind="retainer")
    assert retainer.subscribers.filter(status="active").count() == 3
    assert retainer.payments.exists()

    # The upsell converts inside the 20-30% band.
    upsell = Upsell.objects.get(worker=demo_worker)
    assert upsell.base.kind == "digital_product" and upsell.follow_on == membership
    assert upselling.upsell_summary(upsell, END).in_band

    # Contracts: one milestone released (income from the client), one delivered and late.
    summaries = {s.contract.client_name: s for s in services.contract_summaries(demo_worker, END)}
    kestrel, fernway = summaries["Kestrel Outdoor"], summaries["Fernway Press"]
    assert kestrel.paid == 240_000 and kestrel.in_escrow == 360_000 and not kestrel.late
    assert [m.row.state for m in fernway.milestones] == [
        MilestoneState.DELIVERED,
        MilestoneState.PLANNED,
    ]
    assert len(fernway.late) == 1 and fernway.most_days_overdue == 18
    # Nothing releases it automatically on the demo's day: the window is still open.
    assert services.auto_release_due(END).released == []

    # The plan is half-way through, measured from the books.
    plan = planning.current_plan(demo_worker, END)
    assert plan is not None and plan.starts_on == END - timedelta(days=PLAN_DAY)
    status = planning.plan_status(plan, END)
    assert status.progress.day == PLAN_DAY
    assert status.progress.mrr_now > plan.start_mrr
    assert status.channels[0].expansion and status.channels[0].amount > 0
    assert len(status.actions) == 5 and len(status.check_ins) == 6

    # Reputation: portfolio, two verified testimonials, a public profile.
    assert PortfolioItem.objects.filter(worker=demo_worker).count() == 3
    testimonials = Testimonial.objects.filter(request__worker=demo_worker)
    assert testimonials.count() == 2
    assert all(t.verified and t.request.used_at is not None for t in testimonials)
    profile = Profile.objects.get(worker=demo_worker)
    assert profile.public and profile.handle == HANDLE
    shown = public_profile(HANDLE, viewer=None)
    assert shown is not None and len(shown.testimonials) == 2 and len(shown.items) == 3

    # Peers: her group, the others as members (the last still invited), the fee she earned
    # booked in both ledgers, and a gig waiting for her answer.
    group = PeerGroup.objects.get(created_by=demo_worker)
    statuses = dict(group.memberships.values_list("worker__email", "status"))
    assert statuses == {
        "demo@keel.example": "active",
        "sam@example.org": "active",
        "lee@example.org": "active",
        "ana@example.org": "invited",
    }
    passed = Referral.objects.get(from_worker=demo_worker)
    assert passed.status == ReferralStatus.DONE and passed.to_worker == others[0]
    assert passed.fee_amount == 15_000 and passed.fee_journal is not None
    fee_legs = dict(passed.fee_journal.legs.values_list("account__code", "amount"))
    assert fee_legs == {
        f"worker:{others[0].pk}:expenses:referral-fees": 15_000,
        f"worker:{others[0].pk}:cash": -15_000,
        f"worker:{demo_worker.pk}:cash": 15_000,
        f"worker:{demo_worker.pk}:income:referral-fees": -15_000,
    }
    waiting = Referral.objects.get(to_worker=demo_worker)
    assert waiting.status == ReferralStatus.OFFERED and waiting.from_worker == others[1]

    # The retainer's hours are logged: each client's current period has some used.
    retainer = Offer.objects.get(worker=demo_worker, kind="retainer")
    for client in retainer.subscribers.all():
        account = retainers.retainer_account(client, END)
        assert account.uses and account.current is not None
        assert account.current.statement.included == 10
