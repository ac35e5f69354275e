"""Pools: admissions, claim decisions, votes, rule adoption, emergency grants, stewards and
exits are recorded in the transaction that does them; refused ones leave nothing."""

from __future__ import annotations

import pytest
from django.utils import timezone

from keel.accounts.models import User
from keel.pools import services
from keel.pools.errors import Conflict, NotAllowed, PoolError
from keel.pools.models import ClaimDecision, ClaimStatus, Membership, Pool, VoteStatus
from keel.pools.tests.conftest import small_fund_rules as sick_fund_rules
from keel.pools.tests.conftest import this_month

from .conftest import event, person, recorded

EUR_1000, EUR_1500 = 100_000, 150_000


@pytest.fixture
def cy(db: None) -> User:
    return person("cy@example.org", "Cy Carpenter")


@pytest.fixture
def fund(alice: User, bob: User, cy: User) -> Pool:
    pool = services.create_pool(
        alice, name="Bakers Fund", rules=sick_fund_rules(), tier_gift=EUR_1500
    )
    services.apply(pool, bob, tier_gift=EUR_1000)
    services.apply(pool, cy, tier_gift=EUR_1000)
    for user in (alice, bob, cy):
        services.pay_own_deposit(pool, user, this_month())
    return pool


def member_of(pool: Pool, user: User) -> Membership:
    return pool.memberships.get(user=user)


def test_admissions_are_recorded(fund, alice, bob, cy):
    assert recorded("member.admitted") == [
        event(
            "member.admitted",
            subject=f"membership:{member_of(fund, user).pk}",
            pool_id=fund.pk,
            worker_id=user.pk,
            details={"member": number},
        )
        for number, user in ((1, alice), (2, bob), (3, cy))
    ]


def test_a_refused_application_records_nothing(fund, bob):
    before = recorded()
    with pytest.raises(Conflict):
        services.apply(fund, bob, tier_gift=EUR_1000)
    assert recorded() == before


def test_claim_approvals_and_rejections_are_recorded(fund, alice, bob, cy):
    claim = services.report_own_claim(fund, bob, start_date=timezone.localdate())
    services.decide_claim(claim, alice, "approve")
    second = services.report_own_claim(fund, cy, start_date=timezone.localdate())
    services.decide_claim(second, alice, "reject", "Seen at the gym daily")
    assert recorded("claim.approved", "claim.rejected") == [
        event(
            "claim.approved",
            actor_id=alice.pk,
            actor_label="alice@example.org",
            subject=f"claim:{claim.pk}",
            pool_id=fund.pk,
            worker_id=bob.pk,
            details={"member": 1, "claim_status": "approved"},
        ),
        event(
            "claim.rejected",
            actor_id=alice.pk,
            actor_label="alice@example.org",
            subject=f"claim:{second.pk}",
            pool_id=fund.pk,
            worker_id=cy.pk,
            details={"member": 1, "claim_status": "rejected"},
        ),
    ]
    # The rejection's reason is about someone's health: it stays in the pool.
    assert "gym" not in str(recorded())


def test_a_refused_claim_decision_records_nothing(fund, bob):
    claim = services.report_own_claim(fund, bob, start_date=timezone.localdate())
    with pytest.raises(NotAllowed, match="your own claim"):
        services.decide_claim(claim, bob, "approve")
    assert recorded("claim.approved", "claim.rejected") == []


def test_a_passed_rule_change_records_the_vote_and_the_adoption(fund, alice, bob, cy):
    vote = services.propose_rule_change(fund, alice, {"max_gift_months": 12})
    for user in (alice, bob):
        vote = services.cast_ballot(vote, user, "yes")
    assert vote.status == VoteStatus.PASSED
    assert recorded("vote.closed", "pool.rules_adopted") == [
        event(
            "vote.closed",
            subject=f"vote:{vote.pk}",
            pool_id=fund.pk,
            details={"about": "rule_change", "title": vote.title, **vote.result},
        ),
        event(
            "pool.rules_adopted",
            subject=f"pool:{fund.pk}",
            pool_id=fund.pk,
            details={"version": 2, "vote": vote.pk, "title": vote.title},
        ),
    ]
    assert recorded("vote.closed")[0]["details"]["status"] == "passed"


def test_a_failed_rule_change_adopts_nothing(fund, alice, bob, cy):
    vote = services.propose_rule_change(fund, alice, {"max_gift_months": 12})
    for user in (bob, cy):
        vote = services.cast_ballot(vote, user, "no")
    assert vote.status == VoteStatus.FAILED
    assert [(e["action"], e["details"]["status"]) for e in recorded("vote.closed")] == [
        ("vote.closed", "failed")
    ]
    assert recorded("pool.rules_adopted") == []


def test_a_member_leaving_is_recorded_with_what_they_took(fund, bob):
    paid = services.leave_pool(fund, bob)
    assert paid > 0
    assert recorded("member.left") == [
        event(
            "member.left",
            actor_id=bob.pk,
            actor_label="bob@example.org",
            subject=f"membership:{member_of(fund, bob).pk}",
            pool_id=fund.pk,
            worker_id=bob.pk,
            details={"member": 2, "payout": paid, "owed_back_repaid": 0, "currency": "EUR"},
        )
    ]


def test_a_steward_who_may_not_leave_yet_records_nothing(fund, alice):
    with pytest.raises(Conflict, match="hand stewardship"):
        services.leave_pool(fund, alice)
    assert recorded("member.left") == []


def test_making_a_steward_is_recorded(fund, alice, bob):
    services.make_steward(fund, alice, member_of(fund, bob))
    assert recorded("member.made_steward") == [
        event(
            "member.made_steward",
            actor_id=alice.pk,
            actor_label="alice@example.org",
            subject=f"membership:{member_of(fund, bob).pk}",
            pool_id=fund.pk,
            worker_id=bob.pk,
            details={"member": 2},
        )
    ]


def test_only_a_steward_makes_stewards_and_a_refusal_records_nothing(fund, bob, cy):
    with pytest.raises(NotAllowed):
        services.make_steward(fund, bob, member_of(fund, cy))
    assert recorded("member.made_steward") == []


# ---------------------------------------------------------------------------- emergency


@pytest.fixture
def rainy_day(alice: User, bob: User, cy: User) -> Pool:
    """An emergency fund of EUR 300 (three contributions of EUR 100); grants above EUR 150
    need a vote."""
    rules = services.default_rules("emergency", "EUR") | {
        "contribution": 10_000,
        "vote_above": 15_000,
        "grant_limit_per_year": 100_000,
        "approvals_required": 1,
        "admission_by_vote": False,
    }
    pool = services.create_pool(alice, name="Rainy Day", rules=rules)
    services.apply(pool, bob)
    services.apply(pool, cy)
    for user in (alice, bob, cy):
        services.pay_own_deposit(pool, user, this_month())
    return pool


def test_a_grant_decided_by_vote_is_recorded(rainy_day, alice, bob, cy):
    claim = services.report_own_claim(
        rainy_day, bob, start_date=timezone.localdate(), amount=20_000
    )
    services.decide_claim(claim, alice, "approve")
    vote = rainy_day.votes.get()
    vote = services.cast_ballot(vote, alice, "yes")
    vote = services.cast_ballot(vote, cy, "yes")
    assert vote.status == VoteStatus.PASSED
    assert recorded("grant.approved", "grant.rejected") == [
        event(
            "grant.approved",
            subject=f"claim:{claim.pk}",
            pool_id=rainy_day.pk,
            worker_id=bob.pk,
            details={"vote": vote.pk, "amount": 20_000, "currency": "EUR"},
        )
    ]
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.CLOSED


def test_an_approval_the_fund_cannot_pay_is_rolled_back_with_its_event(rainy_day, alice, bob, cy):
    # All three asked while the fund held EUR 300; the first two grants leave EUR 30.
    today = timezone.localdate()
    first = services.report_own_claim(rainy_day, bob, start_date=today, amount=13_000)
    second = services.report_own_claim(rainy_day, cy, start_date=today, amount=14_000)
    third = services.report_own_claim(rainy_day, alice, start_date=today, amount=9_000)
    services.decide_claim(first, alice, "approve")
    services.decide_claim(second, alice, "approve")
    before = recorded()
    with pytest.raises(PoolError, match="less than"):
        services.decide_claim(third, bob, "approve")
    assert recorded() == before
    assert not ClaimDecision.objects.filter(claim=third).exists()
    third.refresh_from_db()
    assert third.status == ClaimStatus.PENDING
