"""Pools on the ledger: the worked examples of issue 5, computed by hand, run through the
real services and read back from the books."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from keel.accounts.models import User
from keel.accounts.services import create_worker
from keel.ledger import services as ledger
from keel.ledger.models import Journal
from keel.pools import services
from keel.pools.errors import Conflict, NotAllowed, NotFound, PoolError
from keel.pools.models import (
    Claim,
    ClaimDecision,
    ClaimStatus,
    Gift,
    GiftRun,
    GiftShortfall,
    MemberRole,
    Membership,
    MemberStatus,
    Pool,
    Refund,
    RulesVersion,
    Vote,
    VoteStatus,
)
from keel.pools.rules.pool_rules import broodfonds_default, rules_to_json

START = date(2025, 12, 1)
EUR_1500 = 150_000


def people(n: int, prefix: str = "m") -> list[User]:
    return [
        create_worker(
            f"{prefix}{i:02d}@example.org",
            name=f"{prefix.upper()}{i:02d}",
            password=None,
            currency="EUR",
        )
        for i in range(1, n + 1)
    ]


def sick_fund(members: list[User], tiers: list[int], **rules: Any) -> Pool:
    """A sick-leave fund whose members are in at once (admission by vote is tested apart)."""
    base = rules_to_json(broodfonds_default("EUR"))
    base.update({"tiers": sorted(set(tiers)), "admission_by_vote": False, **rules})
    pool = services.create_pool(
        members[0], name="Fund", rules=base, tier_gift=tiers[0], today=START
    )
    for user, tier in zip(members[1:], tiers[1:], strict=True):
        services.apply(pool, user, tier_gift=tier, today=START)
    return pool


def member(pool: Pool, number: int) -> Membership:
    return pool.memberships.get(number=number)


def pay(pool: Pool, number: int, *months: int) -> None:
    """Deposits for months of 2026 (1 = January)."""
    for m in months:
        services.pay_deposit(member(pool, number), date(2026, m, 1))


def approved_claim(pool: Pool, number: int, start: date, approvers: list[int]) -> Claim:
    claimant = member(pool, number)
    claim = services.report_claim(claimant, start_date=start, today=date(2026, 11, 1))
    for n in approvers:
        claim = services.decide_claim(claim, member(pool, n).user, "approve")
    return claim


def journal_count() -> int:
    return Journal.objects.count()


def test_twenty_member_fund_one_member_sick_three_months_after_the_wait(db: None) -> None:
    users = people(20)
    pool = sick_fund(users, [EUR_1500] * 20)
    # 4.5% of €1,500 = €67.50 a month; four months = €270.00 in every reserve.
    for n in range(1, 21):
        pay(pool, n, 1, 2, 3, 4)
    assert services.reserves(pool) == dict.fromkeys(range(1, 21), 27000)
    # Member 2 falls sick on 4 May: the one-month wait ends 4 June, so June is not paid
    # (1 June is before the wait ends); July, August and September are; recovery on
    # 15 September stops October.
    claim = approved_claim(pool, 2, date(2026, 5, 4), approvers=[1, 3, 4])
    assert claim.status == ClaimStatus.APPROVED
    services.report_recovery(claim, users[1], date(2026, 9, 15))
    given = {}
    for month in (6, 7, 8, 9, 10):
        result = services.run_month(pool, date(2026, month, 1), today=date(2026, 11, 1))
        given[month] = sum(g.received for g in result.run.gifts.all())
    assert given == {6: 0, 7: EUR_1500, 8: EUR_1500, 9: EUR_1500, 10: 0}
    # €1,500 / 19 givers = 7894 cents remainder 14: the first 14 givers in joining order
    # (members 1 and 3-15) give 7895, members 16-20 give 7894, each month.
    july = Journal.objects.get(idempotency_key=f"pool:{pool.pk}:gift:{claim.pk}:2026-07")
    by_account = {leg.account.code: leg.amount for leg in july.legs.select_related("account")}
    expected = {services.reserve_code(member(pool, n)): 7895 for n in [1, *range(3, 16)]}
    expected |= {services.reserve_code(member(pool, n)): 7894 for n in range(16, 21)}
    expected[services.bank_code(pool)] = -EUR_1500
    assert by_account == expected
    # After three months: 27000 - 3 x 7895 = 3315; 27000 - 3 x 7894 = 3318.
    held = services.reserves(pool)
    assert held[2] == 27_000
    assert {held[n] for n in [1, *range(3, 16)]} == {3_315}
    assert {held[n] for n in range(16, 21)} == {3_318}
    # The bank held 20 x €270 and paid out 3 x €1,500.
    assert services.balances(pool)[services.bank_code(pool)] == 540_000 - 450_000
    assert ledger.verify().ok


def test_a_claim_approved_after_a_months_run_gets_that_months_gift(db: None) -> None:
    # Member 1 falls ill on 2 March; with a one-month wait May is the first gift month.
    # May's run is made on 1 May, the claim approved on 10 May: May's gift was lost. Now
    # the approval pays it: €200.00 from members 2 and 3 (same tier), €100.00 each.
    users = people(3)
    pool = sick_fund(
        users, [20_000] * 3, min_members=3, approvals_required=1, deposit_rate_bps=2_500
    )
    for n in (1, 2, 3):
        pay(pool, n, 1, 2, 3, 4, 5)  # €50.00 a month: €250.00 each
    for m in (3, 4, 5):
        services.run_month(pool, date(2026, m, 1), today=date(2026, m, 1))
    claim = services.report_claim(
        member(pool, 1), start_date=date(2026, 3, 2), today=date(2026, 5, 10)
    )
    journals = journal_count()
    services.decide_claim(claim, users[1], "approve", today=date(2026, 5, 10))
    assert journal_count() == journals + 1
    may = GiftRun.objects.get(pool=pool, month=date(2026, 5, 1))
    gift = may.gifts.get(claim=claim)
    assert (gift.gross, gift.after_cut, gift.received) == (20_000, 20_000, 20_000)
    assert services.reserves(pool) == {1: 25_000, 2: 15_000, 3: 15_000}
    journal = Journal.objects.get(pk=gift.journal_id)
    assert journal.idempotency_key == f"pool:{pool.pk}:gift:{claim.pk}:2026-05"
    assert journal.effective_date == date(2026, 5, 10)
    # June's run pays June as usual, the claim's second month.
    june = services.run_month(pool, date(2026, 6, 1), today=date(2026, 6, 1))
    assert [(g.claim_id, g.received) for g in june.run.gifts.all()] == [(claim.pk, 20_000)]
    assert ledger.verify().ok


def test_no_arrears_for_months_not_yet_run_or_before_the_wait(db: None) -> None:
    # Approved on 10 April, before May (the first gift month) is run: nothing is paid at
    # approval; March and April were in the waiting period.
    users = people(3)
    pool = sick_fund(
        users, [20_000] * 3, min_members=3, approvals_required=1, deposit_rate_bps=2_500
    )
    for n in (1, 2, 3):
        pay(pool, n, 1, 2, 3, 4)
    for m in (3, 4):
        services.run_month(pool, date(2026, m, 1), today=date(2026, m, 1))
    claim = services.report_claim(
        member(pool, 1), start_date=date(2026, 3, 2), today=date(2026, 4, 10)
    )
    journals = journal_count()
    services.decide_claim(claim, users[1], "approve", today=date(2026, 4, 10))
    assert journal_count() == journals
    assert not Gift.objects.filter(claim=claim).exists()


def test_gifts_given_after_a_late_reported_recovery_are_shown(db: None) -> None:
    # Paid for May, June and July; the recovery, reported in August, was on 10 May: June
    # and July (2 x €200.00) were given after it. The claim page says so.
    from django.test import Client

    users = people(3)
    pool = sick_fund(
        users, [20_000] * 3, min_members=3, approvals_required=1, deposit_rate_bps=2_500
    )
    for n in (1, 2, 3):
        pay(pool, n, 1, 2, 3, 4, 5, 6, 7)
    claim = approved_claim(pool, 1, date(2026, 3, 2), approvers=[2])
    for m in (5, 6, 7):
        services.run_month(pool, date(2026, m, 1), today=date(2026, m, 1))
    assert services.gifts_after_recovery(claim) == []
    services.report_recovery(claim, users[0], date(2026, 5, 10))
    claim.refresh_from_db()
    late = services.gifts_after_recovery(claim)
    assert [(g.run.month, g.received) for g in late] == [
        (date(2026, 6, 1), 20_000),
        (date(2026, 7, 1), 20_000),
    ]
    client = Client()
    client.force_login(users[1])
    page = " ".join(client.get(f"/pools/{pool.slug}/claims/{claim.pk}/").content.decode().split())
    assert (
        "gifts were given for months that began on or after it: June 2026 (€200.00), July"
        " 2026 (€200.00); €400.00 in all."
    ) in page


def test_the_monthly_run_twice_changes_nothing(db: None) -> None:
    users = people(4)
    pool = sick_fund(users, [100_000] * 4, min_members=3, approvals_required=1)
    for n in range(1, 5):
        pay(pool, n, 1, 2, 3, 4, 5, 6)
    approved_claim(pool, 1, date(2026, 3, 2), approvers=[2])
    first = services.run_month(pool, date(2026, 5, 1), today=date(2026, 11, 1))
    journals, reserves = journal_count(), services.reserves(pool)
    second = services.run_month(pool, date(2026, 5, 1), today=date(2026, 11, 1))
    assert first.created and not second.created
    assert second.run.pk == first.run.pk
    assert journal_count() == journals
    assert services.reserves(pool) == reserves
    assert GiftRun.objects.filter(pool=pool).count() == 1
    assert Gift.objects.filter(run=first.run).count() == 1


def test_mixed_tiers_and_too_small_reserves_cut_the_gift(db: None) -> None:
    # Claimant at €2,500; givers at €750, €1,000, €1,500 with twelve deposits each:
    # 12 x 3375 = 40500, 12 x 4500 = 54000, 12 x 6750 = 81000; 175500 in all, short of
    # the €2,500 gift, so the gift is cut to the largest whole percent that fits: 70%
    # (175000). Shares of 175000 by tier 3:4:6 are 40384.6, 53846.2, 80769.2; floors sum
    # to 174999 and the extra cent goes to the largest remainder (the €750 member).
    users = people(4)
    pool = sick_fund(
        users,
        [250_000, 75_000, 100_000, 150_000],
        min_members=3,
        approvals_required=2,
    )
    for n in range(1, 5):
        pay(pool, n, *range(1, 13))
    assert services.reserves(pool) == {1: 135_000, 2: 40_500, 3: 54_000, 4: 81_000}
    claim = approved_claim(pool, 1, date(2026, 9, 1), approvers=[2, 3])
    result = services.run_month(pool, date(2026, 11, 1), today=date(2026, 11, 1))
    assert result.run.cut_percent == 70
    gift = result.run.gifts.get()
    assert (gift.gross, gift.after_cut, gift.received) == (250_000, 175_000, 175_000)
    # 40500 - 40385, 54000 - 53846, 81000 - 80769; the claimant's reserve is not touched.
    assert services.reserves(pool) == {1: 135_000, 2: 115, 3: 154, 4: 231}
    journal = Journal.objects.get(pk=gift.journal_id)
    assert journal.metadata["cut_percent"] == 70
    assert claim.pk == gift.claim_id


def test_a_giver_short_of_their_share_gives_what_they_have_and_the_shortfall_is_kept(
    db: None,
) -> None:
    # Tier €200, deposits 25% = €50. Members 1 and 2 have paid four (€200), member 3 one (€50).
    # Member 1's €200 gift: €250 available, no cut; €100 each. Member 3 gives €50 and is
    # €50 short; member 1 receives €150.
    users = people(3)
    pool = sick_fund(
        users, [20_000] * 3, min_members=3, approvals_required=1, deposit_rate_bps=2_500
    )
    pay(pool, 1, 1, 2, 3, 4)
    pay(pool, 2, 1, 2, 3, 4)
    pay(pool, 3, 1)
    approved_claim(pool, 1, date(2026, 3, 1), approvers=[2])
    result = services.run_month(pool, date(2026, 5, 1), today=date(2026, 11, 1))
    gift = result.run.gifts.get()
    assert (result.run.cut_percent, gift.after_cut, gift.received) == (100, 20_000, 15_000)
    shortfall = GiftShortfall.objects.get(gift=gift)
    assert (shortfall.giver.number, shortfall.owed, shortfall.given) == (3, 10_000, 5_000)
    assert services.reserves(pool) == {1: 20_000, 2: 10_000, 3: 0}


def test_reserves_above_the_cap_are_refunded_once_a_year(db: None) -> None:
    # Deposit €50 (25% of €200), cap two deposits = €100; three paid = €150: €50 back.
    users = people(3)
    pool = sick_fund(
        users,
        [20_000] * 3,
        min_members=3,
        approvals_required=1,
        deposit_rate_bps=2_500,
        reserve_cap_deposits=2,
    )
    pay(pool, 1, 1, 2, 3)
    pay(pool, 2, 1)
    refunds = services.refund_above_cap(pool, 2026)
    assert [(r.membership.number, r.amount) for r in refunds] == [(1, 5_000)]
    assert services.reserves(pool) == {1: 10_000, 2: 5_000, 3: 0}
    journals = journal_count()
    assert services.refund_above_cap(pool, 2026) == []
    assert journal_count() == journals
    assert Refund.objects.count() == 1


def test_a_year_to_come_is_not_refunded_yet(db: None) -> None:
    # Made now, next year's refund would be done when that year ends, and its surplus
    # would wait another year.
    users = people(3)
    pool = sick_fund(
        users,
        [20_000] * 3,
        min_members=3,
        approvals_required=1,
        deposit_rate_bps=2_500,
        reserve_cap_deposits=2,
    )
    pay(pool, 1, 1, 2, 3)
    next_year = timezone.localdate().year + 1
    journals = journal_count()
    with pytest.raises(PoolError, match=f"{next_year} has not begun") as refused:
        services.refund_above_cap(pool, next_year)
    assert refused.value.field == "year"
    assert journal_count() == journals
    assert not Refund.objects.exists()


def test_a_member_who_leaves_takes_their_reserve(db: None) -> None:
    users = people(3)
    pool = sick_fund(
        users, [20_000] * 3, min_members=3, approvals_required=1, deposit_rate_bps=2_500
    )
    pay(pool, 3, 1, 2, 3)
    bank_before = services.balances(pool)[services.bank_code(pool)]
    assert services.leave(member(pool, 3), today=date(2026, 4, 2)) == 15_000
    assert services.reserves(pool)[3] == 0
    assert services.balances(pool)[services.bank_code(pool)] == bank_before - 15_000
    assert member(pool, 3).status == MemberStatus.LEFT
    with pytest.raises(Conflict):
        services.leave(member(pool, 3))


def test_a_member_who_left_can_come_back_as_a_new_member(db: None) -> None:
    # apply() answered "you are already in this pool (left)" and nothing else let them in.
    users = people(3)
    pool = sick_fund(
        users, [20_000] * 3, min_members=3, approvals_required=1, deposit_rate_bps=2_500
    )
    services.make_steward(pool, users[0], member(pool, 3))
    services.leave(member(pool, 3), today=date(2026, 4, 2))
    back = services.apply(pool, users[2], tier_gift=20_000, today=date(2026, 9, 10))
    assert (back.number, back.status, back.role) == (3, MemberStatus.ACTIVE, MemberRole.MEMBER)
    assert (back.joined_on, back.left_on) == (date(2026, 9, 10), None)
    assert pool.memberships.count() == 3
    # Cover counts from the new joining day: a sickness from before it is not covered.
    with pytest.raises(PoolError, match="you joined the pool on 10 September 2026"):
        services.report_claim(back, start_date=date(2026, 9, 1), today=date(2026, 9, 12))
    with pytest.raises(Conflict, match="already in this pool"):
        services.apply(pool, users[2], tier_gift=20_000, today=date(2026, 9, 11))


def test_a_member_who_came_back_can_leave_again_and_takes_their_new_reserve(db: None) -> None:
    # The exit journal was keyed by the member's number alone, so a second departure hit
    # the first one's key: an idempotency conflict, or with the same amount a silent replay
    # that paid nothing.
    users = people(3)
    pool = sick_fund(
        users, [20_000] * 3, min_members=3, approvals_required=1, deposit_rate_bps=2_500
    )
    pay(pool, 3, 1, 2, 3)
    assert services.leave(member(pool, 3), today=date(2026, 4, 2)) == 15_000
    services.apply(pool, users[2], tier_gift=20_000, today=date(2026, 9, 10))
    pay(pool, 3, 10, 11, 12)
    bank_before = services.balances(pool)[services.bank_code(pool)]
    assert services.leave(member(pool, 3), today=date(2026, 12, 20)) == 15_000
    assert services.reserves(pool)[3] == 0
    assert services.balances(pool)[services.bank_code(pool)] == bank_before - 15_000
    assert Journal.objects.filter(kind="pool.exit").count() == 2
    assert ledger.verify().ok


def test_a_member_who_left_can_be_invited_back(db: None) -> None:
    users = people(3)
    pool = sick_fund(
        users, [20_000] * 3, min_members=3, approvals_required=1, deposit_rate_bps=2_500
    )
    services.leave(member(pool, 2), today=date(2026, 4, 2))
    services.invite(pool, users[0], users[1].email)
    invited = pool.memberships.get(user=users[1])
    assert (invited.number, invited.status) == (2, MemberStatus.INVITED)
    joined = services.accept_invitation(invited, tier_gift=20_000)
    assert joined.status == MemberStatus.ACTIVE
    with pytest.raises(Conflict, match="already invited to or in this pool"):
        services.invite(pool, users[0], users[1].email)


def test_a_claim_with_too_few_approvals_stays_pending_and_is_not_paid(db: None) -> None:
    users = people(4)
    pool = sick_fund(
        users, [20_000] * 4, min_members=3, approvals_required=2, deposit_rate_bps=2_500
    )
    for n in range(1, 5):
        pay(pool, n, 1, 2, 3)
    claim = approved_claim(pool, 1, date(2026, 3, 1), approvers=[2])
    assert claim.status == ClaimStatus.PENDING
    journals = journal_count()
    result = services.run_month(pool, date(2026, 6, 1), today=date(2026, 11, 1))
    assert list(result.run.gifts.all()) == []
    assert journal_count() == journals
    assert services.approval_of(claim).still_needed == 1


def test_the_claimant_cannot_approve_their_own_claim(db: None) -> None:
    users = people(3)
    pool = sick_fund(users, [20_000] * 3, min_members=3, approvals_required=1)
    claim = services.report_claim(member(pool, 1), start_date=date(2026, 3, 1))
    with pytest.raises(NotAllowed, match="your own claim"):
        services.decide_claim(claim, users[0], "approve")
    assert ClaimDecision.objects.count() == 0
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PENDING


def test_a_rejection_needs_a_reason_and_enough_rejections_reject(db: None) -> None:
    users = people(3)
    pool = sick_fund(users, [20_000] * 3, min_members=3, approvals_required=1)
    claim = services.report_claim(member(pool, 1), start_date=date(2026, 3, 1))
    with pytest.raises(PoolError) as refused:
        services.decide_claim(claim, users[1], "reject", "  ")
    assert refused.value.field == "reason"
    assert ClaimDecision.objects.count() == 0
    claim = services.decide_claim(claim, users[1], "reject", "Seen at the gym daily")
    assert claim.status == ClaimStatus.REJECTED


def test_rules_change_only_through_a_vote_that_passes(db: None) -> None:
    users = people(4)
    pool = sick_fund(users, [20_000] * 4, min_members=3, approvals_required=1)
    vote = services.propose_rule_change(pool, users[0], {"max_gift_months": 12})
    assert "12" in vote.title
    with pytest.raises(NotAllowed):
        services.adopt_rules(vote)
    assert RulesVersion.objects.filter(pool=pool).count() == 1
    # Quorum 50% of 4, majority more than half: two no votes out of four can never be
    # outvoted by the two left, so the vote fails at once.
    services.cast_ballot(vote, users[1], "no")
    vote = services.cast_ballot(vote, users[2], "no")
    assert vote.status == VoteStatus.FAILED
    assert services.sick_leave_rules(pool).max_gift_months == 24
    second = services.propose_rule_change(pool, users[0], {"max_gift_months": 12})
    for user in users[:3]:
        second = services.cast_ballot(second, user, "yes")
    assert second.status == VoteStatus.PASSED
    assert services.sick_leave_rules(pool).max_gift_months == 12
    assert RulesVersion.objects.get(pool=pool, version=2).adopted_by_vote == second


def test_a_rule_change_cannot_remove_a_tier_members_are_insured_for(db: None) -> None:
    # Members 1 and 2 are on €1,000, 3 and 4 on €1,500. Without the €1,000 tier their
    # deposits and shares could not be reckoned, and nothing lets them move.
    users = people(4)
    rules = rules_to_json(broodfonds_default("EUR")) | {
        "tiers": [75_000, 100_000, 150_000],
        "admission_by_vote": False,
        "min_members": 3,
        "approvals_required": 1,
    }
    pool = services.create_pool(users[0], name="Fund", rules=rules, tier_gift=100_000)
    for user, tier in zip(users[1:], [100_000, 150_000, 150_000], strict=True):
        services.apply(pool, user, tier_gift=tier)
    for changes in ({"tiers": [150_000]}, {"tiers": [75_000, 150_000, 200_000]}):
        with pytest.raises(PoolError) as refused:
            services.preview_rule_change(pool, changes)
        assert refused.value.field == "rules.tiers"
        assert refused.value.message == (
            "members are insured for €1,000.00: a tier cannot be removed while members hold it"
        )
        with pytest.raises(PoolError):
            services.propose_rule_change(pool, users[0], changes)
    assert not pool.votes.exists()
    # A tier nobody holds can go.
    vote = services.propose_rule_change(pool, users[0], {"tiers": [100_000, 150_000]})
    assert vote.title == "Change the rules: Tiers: removed €750.00."


def test_a_need_too_large_for_the_books_is_refused_naming_the_amount(db: None) -> None:
    # A health-sharing need is checked against its caps only when approved; an amount no
    # 64-bit column holds must be refused when reported, not fail the database write.
    users = people(3)
    rules = services.default_rules("health_sharing", "EUR") | {"admission_by_vote": False}
    pool = services.create_pool(users[0], name="Health", rules=rules, today=START)
    for user in users[1:]:
        services.apply(pool, user, today=START)
    with pytest.raises(PoolError) as refused:
        services.report_claim(member(pool, 2), start_date=date(2026, 3, 1), amount=10**19)
    assert refused.value.field == "amount"
    assert refused.value.message == "the amount must be at most 1,000,000,000,000,000 minor units"
    assert not Claim.objects.exists()


def test_a_rotating_cycle_keeps_its_members_and_only_they_pay_its_rounds(db: None) -> None:
    # Three members take €300 pots in January, February and March (agreed order 1, 2, 3).
    users = people(4)
    rules = services.default_rules("rotating_savings", "EUR") | {
        "admission_by_vote": False,
        "order": "agreement",
    }
    pool = services.create_pool(users[0], name="Savers", rules=rules, today=START)
    for user in users[1:3]:
        services.apply(pool, user, today=START)
    services.start_cycle(pool, users[0], first_month=date(2026, 1, 1), agreed=[1, 2, 3])
    services.make_steward(pool, users[0], member(pool, 2))
    for n in (1, 2, 3):
        pay(pool, n, 1)
    services.pay_round(pool, date(2026, 1, 1))
    # Member 1 has had the pot: leaving now would take €200 of the others' money with them.
    with pytest.raises(Conflict) as refused:
        services.leave(member(pool, 1))
    assert refused.value.message == (
        "you are in the cycle that runs until the round of March 2026: leave once its last"
        " pot is paid"
    )
    assert member(pool, 1).status == MemberStatus.ACTIVE
    # A newcomer in February is not in the cycle: the pot was counted without them, so
    # they owe nothing for its rounds, and the pot is paid from the three contributions.
    newcomer = services.apply(pool, users[3], today=date(2026, 2, 10))
    assert services.ensure_deposits(pool, date(2026, 2, 1)) == 3
    assert not newcomer.deposits.exists()
    for n in (1, 2, 3):
        pay(pool, n, 2, 3)
    services.pay_round(pool, date(2026, 2, 1))
    services.pay_round(pool, date(2026, 3, 1))
    assert services.balances(pool)[services.fund_code(pool)] == 0
    # Between cycles no round is due, so neither is a contribution.
    assert services.ensure_deposits(pool, date(2026, 4, 1)) == 0
    assert services.leave(member(pool, 1)) == 0
    assert member(pool, 1).status == MemberStatus.LEFT


def test_a_ballot_after_the_vote_has_closed_is_refused(db: None) -> None:
    # One yes of four by the end of the week: no quorum (two ballots), so the proposal
    # fails. A yes sent after the closing time, before the daily job counts the vote,
    # would have made the quorum and passed it.
    users = people(4)
    pool = sick_fund(users, [20_000] * 4, min_members=3, approvals_required=1)
    vote = services.propose_rule_change(pool, users[0], {"max_gift_months": 12})
    services.cast_ballot(vote, users[0], "yes")
    closed_at = timezone.now() - timedelta(minutes=5)
    Vote.objects.filter(pk=vote.pk).update(closes_at=closed_at)
    with pytest.raises(Conflict) as refused:
        services.cast_ballot(vote, users[1], "yes")
    assert refused.value.message == (
        f"this vote closed on {closed_at:%d %B %Y at %H:%M} UTC: it is counted without"
        " further ballots"
    )
    assert vote.ballots.count() == 1
    assert services.close_due_votes().closed == 1
    vote.refresh_from_db()
    assert vote.status == VoteStatus.FAILED
    assert services.sick_leave_rules(pool).max_gift_months == 24


def test_bad_rules_are_refused_naming_the_field_and_nothing_is_created(db: None) -> None:
    steward = people(1)[0]
    rules = rules_to_json(broodfonds_default("EUR")) | {"tiers": [75_000, 50_000]}
    with pytest.raises(PoolError) as refused:
        services.create_pool(steward, name="Bad", rules=rules, tier_gift=75_000)
    assert refused.value.field == "rules.tiers[1]"
    assert Pool.objects.count() == 0


def test_admission_by_vote(db: None) -> None:
    users = people(4)
    base = rules_to_json(broodfonds_default("EUR")) | {"min_members": 3, "approvals_required": 1}
    pool = services.create_pool(users[0], name="Vote in", rules=base, tier_gift=75_000)
    applicant = services.apply(pool, users[1], tier_gift=100_000)
    assert applicant.status == MemberStatus.APPLIED
    vote = pool.votes.get()
    vote = services.cast_ballot(vote, users[0], "yes")
    assert vote.status == VoteStatus.PASSED
    applicant.refresh_from_db()
    assert applicant.status == MemberStatus.ACTIVE
    # An outsider to a private pool is told it does not exist.
    with pytest.raises(NotFound):
        services.cast_ballot(vote, users[2], "yes")


def test_a_member_of_one_private_pool_cannot_see_another(db: None) -> None:
    users = people(2)
    services.create_pool(
        users[0], name="Ours", rules=rules_to_json(broodfonds_default("EUR")), tier_gift=75_000
    )
    theirs = services.create_pool(
        users[1], name="Theirs", rules=rules_to_json(broodfonds_default("EUR")), tier_gift=75_000
    )
    with pytest.raises(NotFound):
        services.visible_pool(users[0], theirs.slug)
    _, membership = services.visible_pool(users[1], theirs.slug)
    assert membership is not None and membership.number == 1


def test_missed_deposits_suspend_the_right_to_claim_after_the_grace_period(db: None) -> None:
    users = people(3)
    pool = sick_fund(users, [20_000] * 3, min_members=3, approvals_required=1)
    services.ensure_deposits(pool, date(2026, 9, 1))
    # September's deposit is due on 1 September; one month's grace ends 1 October.
    assert services.claim_right(member(pool, 1), date(2026, 9, 30)).allowed
    assert not services.claim_right(member(pool, 1), date(2026, 10, 1)).allowed
    with pytest.raises(NotAllowed):
        services.report_claim(
            member(pool, 1), start_date=date(2026, 10, 1), today=date(2026, 10, 1)
        )
    assert Claim.objects.count() == 0
    services.pay_deposit(member(pool, 1), date(2026, 9, 1))
    assert services.claim_right(member(pool, 1), date(2026, 10, 1)).allowed


def test_a_claim_closed_by_recovery_before_approval_is_never_paid(db: None) -> None:
    users = people(3)
    pool = sick_fund(users, [20_000] * 3, min_members=3, approvals_required=1)
    for n in range(1, 4):
        pay(pool, n, 1, 2, 3, 4)
    claim = services.report_claim(member(pool, 1), start_date=date(2026, 1, 5))
    services.report_recovery(claim, users[0], date(2026, 4, 20))
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.CLOSED
    journals = journal_count()
    result = services.run_month(pool, date(2026, 3, 1), today=date(2026, 11, 1))
    assert list(result.run.gifts.all()) == []
    assert journal_count() == journals


def test_a_sickness_that_began_before_joining_is_not_covered(db: None) -> None:
    # Member 4 joins on 10 March, already sick since 9 March: with the wait counted from
    # 9 March the gifts would start in May, as if they had been a member all along.
    users = people(4)
    pool = sick_fund(users[:3], [EUR_1500] * 3, min_members=3, approvals_required=1)
    late = services.apply(pool, users[3], tier_gift=EUR_1500, today=date(2026, 3, 10))
    with pytest.raises(PoolError) as refused:
        services.report_claim(late, start_date=date(2026, 3, 9), today=date(2026, 3, 20))
    assert refused.value.field == "start_date"
    assert refused.value.message == (
        "you joined the pool on 10 March 2026: a sickness or need that began before then"
        " is not covered"
    )
    assert not Claim.objects.exists()
    # Sick from the day they joined: covered.
    claim = services.report_claim(late, start_date=date(2026, 3, 10), today=date(2026, 3, 20))
    assert claim.status == ClaimStatus.PENDING


def test_a_new_sickness_cannot_start_before_the_last_one_ended(db: None) -> None:
    # Found by the pool state machine: sick from 3 January, recovered 1 July, then a
    # second claim from 3 January again. Both would be due in May, and the whole pool's
    # gift run for May failed on the member's two gifts.
    users = people(5)
    pool = sick_fund(
        users, [75_000, 150_000, 75_000, 100_000, 75_000], min_members=4, approvals_required=1
    )
    for n in range(1, 6):
        pay(pool, n, 1, 2, 3)
    first = approved_claim(pool, 1, date(2026, 1, 3), approvers=[2])
    assert first.status == ClaimStatus.APPROVED
    services.report_recovery(first, users[0], date(2026, 7, 1))
    claims = Claim.objects.count()
    for start in (date(2026, 1, 3), date(2026, 6, 30), date(2025, 12, 20)):
        with pytest.raises(Conflict) as refused:
            services.report_claim(member(pool, 1), start_date=start, today=date(2026, 11, 1))
        assert refused.value.field == "start_date"
        assert str(refused.value) == (
            "your sickness reported from 03 January 2026 lasted until 01 July 2026:"
            " a new one cannot start before that day"
        )
    assert Claim.objects.count() == claims
    # May pays the first claim alone; a sickness from the day of recovery is a new claim.
    result = services.run_month(pool, date(2026, 5, 1), today=date(2026, 11, 1))
    assert [g.claim_id for g in result.run.gifts.all()] == [first.pk]
    again = approved_claim(pool, 1, date(2026, 7, 1), approvers=[2])
    assert again.status == ClaimStatus.APPROVED


def test_a_rejected_claim_does_not_hold_the_dates_of_a_new_one(db: None) -> None:
    users = people(4)
    pool = sick_fund(users, [20_000] * 4, min_members=4, approvals_required=1)
    for n in range(1, 5):
        pay(pool, n, 1, 2, 3)
    refused = services.report_claim(
        member(pool, 1), start_date=date(2026, 2, 2), today=date(2026, 11, 1)
    )
    services.decide_claim(refused, users[1], "reject", reason="seen at the market")
    services.report_recovery(refused, users[0], date(2026, 3, 10))
    refused.refresh_from_db()
    assert refused.status == ClaimStatus.REJECTED
    # Never paid, so its dates overlap nothing: a claim from 20 February may be reported.
    again = services.report_claim(
        member(pool, 1), start_date=date(2026, 2, 20), today=date(2026, 11, 1)
    )
    assert again.status == ClaimStatus.PENDING


def test_pool_names_never_take_a_page_address_and_admission_titles_are_pseudonymous(
    db: None,
) -> None:
    users = people(2)
    rules = rules_to_json(broodfonds_default("EUR")) | {"min_members": 3, "approvals_required": 1}
    pool = services.create_pool(users[0], name="New", rules=rules, tier_gift=75_000)
    assert pool.slug not in ("new", "simulate") and pool.slug.startswith("new-")
    services.apply(pool, users[1], tier_gift=75_000)
    assert pool.votes.get().title == "Admit Member 2"


def test_a_claim_is_closed_by_the_run_that_pays_its_last_month(db: None) -> None:
    users = people(3)
    pool = sick_fund(
        users,
        [20_000] * 3,
        min_members=3,
        approvals_required=1,
        max_gift_months=2,
        deposit_rate_bps=10_000,
    )
    # Deposits of the whole tier gift: the reserves cover every gift in full.
    for n in range(1, 4):
        pay(pool, n, 1, 2, 3, 4, 5, 6)
    claim = approved_claim(pool, 1, date(2026, 2, 1), approvers=[2])
    received = []
    for month in (3, 4, 5):
        result = services.run_month(pool, date(2026, month, 1), today=date(2026, 11, 1))
        received.append(sum(g.received for g in result.run.gifts.all()))
        claim.refresh_from_db()
        assert claim.status == (ClaimStatus.APPROVED if month == 3 else ClaimStatus.CLOSED)
    assert received == [20_000, 20_000, 0]


def test_the_run_returned_is_the_run_written(db: None) -> None:
    users = people(4)
    pool = sick_fund(
        users, [100_000] * 4, min_members=3, approvals_required=1, deposit_rate_bps=10_000
    )
    for n in range(1, 5):
        pay(pool, n, 1, 2, 3, 4, 5, 6)
    first = approved_claim(pool, 1, date(2026, 3, 2), approvers=[2])
    second = approved_claim(pool, 2, date(2026, 3, 2), approvers=[3])
    result = services.run_month(pool, date(2026, 5, 1), today=date(2026, 11, 1))
    stored = GiftRun.objects.get(pk=result.run.pk)
    assert (stored.pool_id, stored.month, stored.cut_percent, stored.ran_at) == (
        pool.pk,
        result.run.month,
        result.run.cut_percent,
        result.run.ran_at,
    )
    assert result.run.month == date(2026, 5, 1)
    assert result.plan is not None and result.plan.month == result.run.month
    gifts = {g.claim_id: g for g in stored.gifts.all()}
    assert set(gifts) == {first.pk, second.pk}
    for claim in (first, second):
        journal = Journal.objects.get(idempotency_key=f"pool:{pool.pk}:gift:{claim.pk}:2026-05")
        gift = gifts[claim.pk]
        assert (gift.gross, gift.after_cut, gift.received) == (100_000, 100_000, 100_000)
        assert gift.journal_id == journal.pk
        assert journal.memo == f"Gift for May 2026 to Member {claim.membership.number}"
        # The two claimants do not give; the other two members share each gift.
        legs = sorted((leg.account.code, leg.amount) for leg in journal.legs.all())
        assert legs == [
            (services.bank_code(pool), -100_000),
            (services.reserve_code(member(pool, 3)), 50_000),
            (services.reserve_code(member(pool, 4)), 50_000),
        ]


def test_a_gift_run_is_a_few_statements_however_many_members_and_claims(db: None) -> None:
    users = people(12)
    pool = sick_fund(users, [75_000] * 12, min_members=3, approvals_required=1)
    for n in range(1, 13):
        pay(pool, n, 1, 2, 3, 4, 5, 6)
    for n in (1, 2, 3):
        approved_claim(pool, n, date(2026, 3, 2), approvers=[n + 3])
    with CaptureQueriesContext(connection) as queries:
        result = services.run_month(pool, date(2026, 5, 1), today=date(2026, 11, 1))
    assert result.created and len(result.plan.claims if result.plan else ()) == 3
    # Locking and reading the pool, members, reserves and claims, and writing the run and
    # its gifts: statements of their own, never one per member or per claim.
    pools = [q["sql"] for q in queries.captured_queries if "pools_" in q["sql"]]
    assert len(pools) <= 5, pools


def test_a_gift_run_writes_nothing_if_any_part_of_it_fails(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = people(3)
    pool = sick_fund(users, [20_000] * 3, min_members=3, approvals_required=1)
    for n in range(1, 4):
        pay(pool, n, 1, 2, 3, 4)
    approved_claim(pool, 1, date(2026, 2, 1), approvers=[2])
    journals, reserves = journal_count(), services.reserves(pool)

    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(services, "_insert_run", fail)
    with pytest.raises(RuntimeError):
        services.run_month(pool, date(2026, 4, 1), today=date(2026, 11, 1))
    assert journal_count() == journals
    assert services.reserves(pool) == reserves
    assert not GiftRun.objects.filter(pool=pool).exists()
    monkeypatch.undo()
    assert services.run_month(pool, date(2026, 4, 1), today=date(2026, 11, 1)).created


def test_only_a_sick_leave_fund_that_exists_has_gift_runs(db: None) -> None:
    steward = people(1)[0]
    fund = services.create_pool(
        steward, name="Grants", rules=services.default_rules("emergency", "EUR")
    )
    with pytest.raises(PoolError, match="not a sick-leave fund"):
        services.run_month(fund, date(2026, 5, 1), today=date(2026, 11, 1))
    assert not GiftRun.objects.exists()
    gone = Pool(pk=fund.pk + 1000, name="Gone")
    with pytest.raises(Pool.DoesNotExist):
        services.run_month(gone, date(2026, 5, 1), today=date(2026, 11, 1))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_run_that_waits_for_the_pool_sees_the_run_made_meanwhile() -> None:
    users = people(3)
    pool = sick_fund(users, [20_000] * 3, min_members=3, approvals_required=1)
    for n in range(1, 4):
        pay(pool, n, 1, 2, 3, 4)
    approved_claim(pool, 1, date(2026, 2, 1), approvers=[2])
    month, today = date(2026, 4, 1), date(2026, 11, 1)
    outcome: list[Any] = []

    def second_run() -> None:
        try:
            outcome.append(services.run_month(pool, month, today=today).created)
        except Exception as exc:  # reported below, in the test's own thread
            outcome.append(exc)
        finally:
            connection.close()

    with transaction.atomic():
        assert services.run_month(pool, month, today=today).created
        # The pool stays locked until this transaction commits: the second run waits.
        waiting = threading.Thread(target=second_run)
        waiting.start()
        with connection.cursor() as cursor:
            for _ in range(500):
                # pg_locks, not pg_stat_activity: that is read once per transaction.
                cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
                if cursor.fetchone()[0]:
                    break
                time.sleep(0.01)
            else:  # pragma: no cover - the second run never reached the lock
                pytest.fail(f"the second run did not wait for the pool's lock: {outcome}")
        journals = journal_count()
    waiting.join(timeout=30)
    # Its reads after the lock see the run committed while it waited: nothing twice.
    assert outcome == [False]
    assert GiftRun.objects.filter(pool=pool).count() == 1
    assert journal_count() == journals
