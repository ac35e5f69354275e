"""Gifts owed back after a late-reported recovery: the worked example of the brief,
computed by hand and read back from the books.

Members 1 (steward, tier €375.00), 2 (tier €1,000.00) and 3 (tier €500.00) deposit 25% of
their tier each month. Member 1 falls sick on 2 March; with the one-month wait May is the
first gift month. The runs for May and June are made, and only then is the recovery on
10 May reported: June began after it, so June's gift (€375.00, given €250.00 by member 2
and €125.00 by member 3, in proportion 2:1 to their tiers) is owed back."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client

from keel.audit.models import AuditEvent
from keel.ledger import services as ledger
from keel.ledger.models import Journal
from keel.pools import services
from keel.pools.errors import Conflict, NotAllowed, PoolError
from keel.pools.models import (
    Claim,
    MemberRole,
    MemberStatus,
    Pool,
    Repayment,
    RepaymentKind,
    Vote,
    VoteStatus,
    VoteSubject,
)
from keel.pools.rules import gifts
from keel.pools.rules.pool_rules import RulesError
from keel.pools.tests.test_services import approved_claim, member, pay, people, sick_fund

TIERS = [37_500, 100_000, 50_000]


def late_claim() -> tuple[Pool, Claim]:
    users = people(3)
    pool = sick_fund(users, TIERS, min_members=3, approvals_required=1, deposit_rate_bps=2_500)
    for n in (1, 2, 3):
        pay(pool, n, 1, 2, 3, 4, 5, 6)
    claim = approved_claim(pool, 1, date(2026, 3, 2), approvers=[2])
    for m in (5, 6):
        services.run_month(pool, date(2026, m, 1), today=date(2026, m, 1))
    services.report_recovery(claim, users[0], date(2026, 5, 10))
    claim.refresh_from_db()
    return pool, claim


def repay_journals() -> int:
    return Journal.objects.filter(kind="pool.repayment").count()


def test_repayment_shares_in_proportion_to_what_each_giver_is_still_owed() -> None:
    # €300.00 of €375.00 owed 250:125 -> 300 x 2/3 = 200, 300 x 1/3 = 100, exactly.
    assert gifts.repayment_shares(30_000, [(2, 25_000), (3, 12_500)]) == [20_000, 10_000]
    # 1 cent of 2 + 1 owed: 2/3 and 1/3 of a cent -> the larger remainder takes it.
    assert gifts.repayment_shares(1, [(2, 2), (3, 1)]) == [1, 0]
    # A tie goes to the giver listed first: 1 cent of 1 + 1.
    assert gifts.repayment_shares(1, [(2, 1), (3, 1)]) == [1, 0]
    with pytest.raises(RulesError) as exc:
        gifts.repayment_shares(37_501, [(2, 25_000), (3, 12_500)])
    assert exc.value.field == "amount"


def test_a_repayment_pays_back_the_gifts_owed_oldest_first() -> None:
    # Gifts of €375.00 given 1 June, €375.00 given 1 July and (as arrears, for August,
    # after September's) €200.00 given 3 September: €750.00 owed in all before August.
    owed = [(37_500, date(2026, 6, 1)), (37_500, date(2026, 7, 1)), (20_000, date(2026, 9, 3))]
    # The first €375.00 pays back June's gift alone; one cent more reaches July's.
    assert gifts.last_gift_repaid(owed, 0, 37_500) == date(2026, 6, 1)
    assert gifts.last_gift_repaid(owed, 0, 37_501) == date(2026, 7, 1)
    # With €300.00 repaid before, €75.00 finishes June's; €76.00 reaches July's.
    assert gifts.last_gift_repaid(owed, 30_000, 7_500) == date(2026, 6, 1)
    assert gifts.last_gift_repaid(owed, 30_000, 7_600) == date(2026, 7, 1)
    assert gifts.last_gift_repaid(owed, 75_000, 1) == date(2026, 9, 3)
    # A later month given earlier: the day is the latest of the gifts paid back.
    assert gifts.last_gift_repaid(
        [(100, date(2026, 9, 3)), (100, date(2026, 8, 1))], 0, 200
    ) == date(2026, 9, 3)
    with pytest.raises(RulesError) as exc:
        gifts.last_gift_repaid(owed, 30_000, 65_001)
    assert exc.value.field == "amount"


def test_a_late_recovery_leaves_the_claim_owing_junes_gifts_back(db: None) -> None:
    pool, claim = late_claim()
    owed = services.owed_back(claim)
    assert owed.months == (date(2026, 6, 1),)
    assert (owed.total, owed.repaid, owed.waived, owed.remaining) == (37_500, 0, 0, 37_500)
    assert owed.givers == ((2, 25_000), (3, 12_500))
    event = AuditEvent.objects.get(action="claim.owed_back")
    assert event.details["amount"] == 37_500
    assert event.details["months"] == ["2026-06"]
    # Reserves after six deposits and two gifts: 2 gave 250 twice of 6 x 250; 3 gave 125
    # twice of 6 x 125; member 1 received and gave nothing.
    assert services.reserves(pool) == {1: 56_250, 2: 100_000, 3: 50_000}


def test_a_partial_repayment_returns_each_giver_their_share(db: None) -> None:
    pool, claim = late_claim()
    bank_before = services.balances(pool)[services.bank_code(pool)]
    repayment = services.repay(claim, member(pool, 1).user, 30_000, key="form-1")
    assert repayment.kind == RepaymentKind.PAID
    journal = Journal.objects.get(pk=repayment.journal_id)
    legs = {leg.account.code: leg.amount for leg in journal.legs.select_related("account")}
    assert legs == {
        services.bank_code(pool): 30_000,
        services.reserve_code(member(pool, 2)): -20_000,
        services.reserve_code(member(pool, 3)): -10_000,
    }
    assert services.reserves(pool) == {1: 56_250, 2: 120_000, 3: 60_000}
    assert services.balances(pool)[services.bank_code(pool)] == bank_before + 30_000
    owed = services.owed_back(claim)
    assert (owed.repaid, owed.remaining) == (30_000, 7_500)
    assert owed.givers == ((2, 5_000), (3, 2_500))
    # The rest, €75.00, returns 50.00 and 25.00: every giver has back exactly what they gave.
    services.repay(claim, member(pool, 1).user, 7_500, key="form-2")
    assert services.owed_back(claim).remaining == 0
    assert services.reserves(pool) == {1: 56_250, 2: 125_000, 3: 62_500}
    assert AuditEvent.objects.filter(action="claim.repaid").count() == 2
    assert ledger.verify().ok


def test_a_repayment_sent_twice_books_once(db: None) -> None:
    pool, claim = late_claim()
    first = services.repay(claim, member(pool, 1).user, 30_000, key="same-form")
    again = services.repay(claim, member(pool, 1).user, 30_000, key="same-form")
    assert again.pk == first.pk
    assert repay_journals() == 1
    assert Repayment.objects.count() == 1
    assert services.owed_back(claim).remaining == 7_500
    with pytest.raises(Conflict) as exc:
        services.repay(claim, member(pool, 1).user, 20_000, key="same-form")
    assert exc.value.field == "key"
    assert repay_journals() == 1


def test_repaying_more_than_is_owed_is_refused_and_changes_nothing(db: None) -> None:
    pool, claim = late_claim()
    journals, held = Journal.objects.count(), services.reserves(pool)
    with pytest.raises(PoolError) as exc:
        services.repay(claim, member(pool, 1).user, 37_501, key="too-much")
    assert exc.value.field == "amount"
    assert "only €375.00 is still owed back" in exc.value.message
    for bad in (0, -100, 1.5):
        with pytest.raises(PoolError) as exc:
            services.repay(claim, member(pool, 1).user, bad, key="bad")  # type: ignore[arg-type]
        assert exc.value.field == "amount"
    assert Journal.objects.count() == journals
    assert services.reserves(pool) == held
    assert not Repayment.objects.exists()
    assert services.owed_back(claim).remaining == 37_500


def test_a_repayment_received_before_the_gift_it_repays_was_given_is_refused(db: None) -> None:
    # June's gift, the one owed back, was given on 1 June: money received on 31 May cannot
    # have paid it back, though it is after the recovery on 10 May.
    pool, claim = late_claim()
    journals, held = Journal.objects.count(), services.reserves(pool)
    with pytest.raises(PoolError) as exc:
        services.repay(
            claim, member(pool, 1).user, 30_000, key="early", received_on=date(2026, 5, 31)
        )
    assert exc.value.field == "received_on"
    assert "given on 1 June 2026" in exc.value.message
    assert Journal.objects.count() == journals
    assert services.reserves(pool) == held
    assert not Repayment.objects.exists()
    assert services.owed_back(claim).remaining == 37_500
    # Received the day it was given is fine.
    repayment = services.repay(
        claim, member(pool, 1).user, 30_000, key="on-the-day", received_on=date(2026, 6, 1)
    )
    assert (repayment.amount, repayment.received_on) == (30_000, date(2026, 6, 1))
    assert ledger.verify().ok


def test_only_the_member_or_a_steward_records_a_repayment(db: None) -> None:
    pool, claim = late_claim()
    with pytest.raises(NotAllowed):
        services.repay(claim, member(pool, 3).user, 10_000, key="k")
    assert not Repayment.objects.exists()
    # A steward records money the member paid outside Keel, on the day it came in.
    services.make_steward(pool, member(pool, 1).user, member(pool, 2))
    paid = services.repay(
        claim, member(pool, 2).user, 10_000, key="k", received_on=date(2026, 7, 3)
    )
    assert paid.recorded_by == member(pool, 2)
    assert Journal.objects.get(pk=paid.journal_id).effective_date == date(2026, 7, 3)


def test_leaving_with_gifts_owed_back_repays_them_from_the_reserve_first(db: None) -> None:
    pool, claim = late_claim()
    services.repay(claim, member(pool, 1).user, 30_000, key="part")
    # Member 1 hands stewardship on and leaves: €75.00 of their €562.50 reserve goes back
    # to the givers (50.00 and 25.00), and they take the other €487.50.
    services.make_steward(pool, member(pool, 1).user, member(pool, 2))
    payout = services.leave(member(pool, 1), today=date(2026, 8, 1))
    assert payout == 48_750
    assert services.reserves(pool) == {1: 0, 2: 125_000, 3: 62_500}
    owed = services.owed_back(claim)
    assert (owed.repaid, owed.remaining) == (37_500, 0)
    taken = Repayment.objects.get(kind=RepaymentKind.FROM_RESERVE)
    assert taken.amount == 7_500
    legs = {
        leg.account.code: leg.amount
        for leg in Journal.objects.get(pk=taken.journal_id).legs.select_related("account")
    }
    assert legs == {
        services.reserve_code(member(pool, 1)): 7_500,
        services.reserve_code(member(pool, 2)): -5_000,
        services.reserve_code(member(pool, 3)): -2_500,
    }
    left = AuditEvent.objects.get(action="member.left")
    assert left.details["payout"] == 48_750
    assert left.details["owed_back_repaid"] == 7_500
    assert ledger.verify().ok


def test_a_reserve_too_small_leaves_the_rest_owed(db: None) -> None:
    users = people(3)
    # Member 1 pays one deposit only (€93.75); the long grace keeps their right to claim.
    pool = sick_fund(
        users,
        TIERS,
        min_members=3,
        approvals_required=1,
        deposit_rate_bps=2_500,
        grace_months=12,
    )
    for n in (2, 3):
        pay(pool, n, 1, 2, 3, 4, 5, 6)
    pay(pool, 1, 1)
    claim = approved_claim(pool, 1, date(2026, 3, 2), approvers=[2])
    for m in (5, 6):
        services.run_month(pool, date(2026, m, 1), today=date(2026, m, 1))
    claim = services.report_recovery(claim, users[0], date(2026, 5, 10))
    services.make_steward(pool, users[0], member(pool, 2))
    assert services.leave(member(pool, 1), today=date(2026, 8, 1)) == 0
    owed = services.owed_back(claim)
    # 9375 of 37500 split 2:1 -> 6250 and 3125.
    assert (owed.repaid, owed.remaining) == (9_375, 28_125)
    assert owed.givers == ((2, 18_750), (3, 9_375))
    # The member has left: a steward records the rest when it is paid outside Keel.
    services.repay(claim, users[1], 28_125, key="after-leaving")
    assert services.owed_back(claim).remaining == 0
    assert ledger.verify().ok


def test_the_members_can_waive_what_is_still_owed_by_a_vote(db: None) -> None:
    pool, claim = late_claim()
    services.repay(claim, member(pool, 1).user, 30_000, key="part")
    with pytest.raises(NotAllowed):
        services.propose_waiver(claim, member(pool, 3).user, "long illness")
    with pytest.raises(PoolError) as exc:
        services.propose_waiver(claim, member(pool, 1).user, "  ")
    assert exc.value.field == "reason"
    assert not Vote.objects.filter(subject=VoteSubject.WAIVER).exists()
    vote = services.propose_waiver(claim, member(pool, 1).user, "The recovery was slow")
    assert vote.title == "Waive the €75.00 of gifts Member 1 owes back"
    # The claimant (member 1, a steward here) does not vote on their own debt.
    assert set(vote.eligible.values_list("number", flat=True)) == {2, 3}
    with pytest.raises(Conflict):
        services.propose_waiver(claim, member(pool, 1).user, "again")
    services.cast_ballot(vote, member(pool, 2).user, "yes")
    services.cast_ballot(vote, member(pool, 3).user, "yes")
    vote.refresh_from_db()
    assert vote.status == VoteStatus.PASSED
    owed = services.owed_back(claim)
    assert (owed.repaid, owed.waived, owed.remaining) == (30_000, 7_500, 0)
    assert owed.givers == ((2, 0), (3, 0))
    waiver = Repayment.objects.get(kind=RepaymentKind.WAIVED)
    assert (waiver.amount, waiver.vote_id, waiver.journal_id) == (7_500, vote.pk, None)
    assert AuditEvent.objects.get(action="claim.waived").details["amount"] == 7_500
    with pytest.raises(Conflict):
        services.repay(claim, member(pool, 1).user, 100, key="late")
    assert ledger.verify().ok
    page = page_text(signed_in(pool, 3), f"/pools/{pool.slug}/claims/{claim.pk}/")
    assert "Settled</strong>: €300.00 paid back, €75.00 waived by the members' vote." in page
    assert 'data-testid="repay-form"' not in page


def test_a_waiver_vote_that_fails_waives_nothing(db: None) -> None:
    pool, claim = late_claim()
    vote = services.propose_waiver(claim, member(pool, 1).user, "The recovery was slow")
    # One no of two voters already puts the majority out of reach: the vote fails.
    services.cast_ballot(vote, member(pool, 2).user, "no")
    vote.refresh_from_db()
    assert vote.status == VoteStatus.FAILED
    assert services.owed_back(claim).remaining == 37_500
    assert not Repayment.objects.exists()


def test_a_giver_who_has_left_is_paid_their_share_at_once(db: None) -> None:
    pool, claim = late_claim()
    member3 = member(pool, 3)
    assert member3.role == MemberRole.MEMBER
    services.leave(member3, today=date(2026, 7, 1))
    services.repay(claim, member(pool, 1).user, 30_000, key="k")
    # Member 3's €100.00 passes through: credited to their reserve, paid out with it.
    assert services.reserves(pool)[3] == 0
    out = Journal.objects.get(kind="pool.exit", idempotency_key__endswith=":to:3")
    assert {leg.amount for leg in out.legs.all()} == {10_000, -10_000}
    assert ledger.verify().ok


def test_a_giver_who_left_and_is_invited_back_is_paid_their_share_at_once(db: None) -> None:
    # Invited back but not in yet, member 3 holds no reserve: their €100.00 was credited to
    # the reserve they took with them on leaving and stayed there, held for nobody (only a
    # giver whose status was "left" was paid out).
    pool, claim = late_claim()
    services.leave(member(pool, 3), today=date(2026, 7, 1))
    services.invite(pool, member(pool, 1).user, member(pool, 3).user.email)
    assert member(pool, 3).status == MemberStatus.INVITED
    bank_before = services.balances(pool)[services.bank_code(pool)]
    services.repay(claim, member(pool, 1).user, 30_000, key="k")
    assert services.reserves(pool)[3] == 0
    out = Journal.objects.get(kind="pool.exit", idempotency_key__endswith=":to:3")
    assert {leg.amount for leg in out.legs.all()} == {10_000, -10_000}
    # €300.00 in, €100.00 of it straight out to member 3.
    assert services.balances(pool)[services.bank_code(pool)] == bank_before + 20_000
    assert ledger.verify().ok


# ---------------------------------------------------------------------------- pages


def page_text(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return " ".join(response.content.decode().split())


def signed_in(pool: Pool, number: int) -> Client:
    client = Client()
    client.force_login(member(pool, number).user)
    return client


def test_the_claim_page_shows_what_is_owed_back_and_to_whom(db: None) -> None:
    pool, claim = late_claim()
    url = f"/pools/{pool.slug}/claims/{claim.pk}/"
    page = page_text(signed_in(pool, 3), url)
    assert (
        "gifts were given for months that began on or after it: June 2026 (€375.00); €375.00"
        " in all. They are owed back to the members who gave them, each what they gave."
    ) in page
    assert "€375.00 is still owed" in page
    assert '<td>M02 (Member 2)</td><td class="text-end keel-amount">€250.00</td>' in page
    assert '<td>M03 (Member 3)</td><td class="text-end keel-amount">€125.00</td>' in page
    # Member 3 neither received the gifts nor stewards: no form to record a repayment.
    assert 'data-testid="repay-form"' not in page
    assert 'data-testid="waiver-form"' not in page
    mine = page_text(signed_in(pool, 1), url)
    assert 'data-testid="repay-form"' in mine
    assert 'placeholder="375.00"' in mine
    assert 'data-testid="waiver-form"' in mine  # member 1 created the pool: a steward


def test_a_double_submitted_repayment_form_books_once(db: None) -> None:
    pool, claim = late_claim()
    client = signed_in(pool, 1)
    url = f"/pools/{pool.slug}/claims/{claim.pk}/repayments/"
    form = {"repay-amount": "300.00", "repay-received_on": "2026-07-03", "repay-token": "tok-1"}
    first = client.post(url, form)
    assert first.status_code == 302
    again = client.post(url, form, follow=True)
    assert "That repayment was already sent" in again.content.decode()
    assert repay_journals() == 1
    assert services.reserves(pool) == {1: 56_250, 2: 120_000, 3: 60_000}
    page = page_text(client, f"/pools/{pool.slug}/claims/{claim.pk}/")
    assert "€75.00 is still owed</strong> (€300.00 paid back)" in page
    assert "Jul 3, 2026: €300.00 paid back, recorded by M01 (Member 1)" in page


def test_a_repayment_form_sent_again_after_the_cache_forgot_it_still_books_once(
    db: None,
) -> None:
    from django.core.cache import cache

    pool, claim = late_claim()
    client = signed_in(pool, 1)
    url = f"/pools/{pool.slug}/claims/{claim.pk}/repayments/"
    form = {"repay-amount": "300.00", "repay-token": "tok-2"}
    assert client.post(url, form).status_code == 302
    cache.clear()
    assert client.post(url, form).status_code == 302
    assert repay_journals() == 1
    assert services.owed_back(claim).remaining == 7_500


def test_repaying_more_than_owed_through_the_form_is_refused_on_the_amount(db: None) -> None:
    pool, claim = late_claim()
    client = signed_in(pool, 1)
    url = f"/pools/{pool.slug}/claims/{claim.pk}/repayments/"
    response = client.post(url, {"repay-amount": "375.01", "repay-token": "tok-3"})
    assert response.status_code == 400
    assert "Only €375.00 is still owed back: a repayment cannot be more." in (
        response.content.decode()
    )
    assert repay_journals() == 0
    # The refusal gave the token back: the corrected form goes through.
    assert client.post(url, {"repay-amount": "375.00", "repay-token": "tok-3"}).status_code == 302
    assert services.owed_back(claim).remaining == 0


def test_a_repayment_form_dated_before_the_gift_is_refused_on_the_day(db: None) -> None:
    pool, claim = late_claim()
    client = signed_in(pool, 1)
    url = f"/pools/{pool.slug}/claims/{claim.pk}/repayments/"
    form = {"repay-amount": "300.00", "repay-received_on": "2026-05-31", "repay-token": "tok-4"}
    response = client.post(url, form)
    assert response.status_code == 400
    assert (
        "It pays back a gift given on 1 June 2026: it cannot have been received before then."
    ) in response.content.decode()
    assert repay_journals() == 0
    assert services.owed_back(claim).remaining == 37_500


def test_the_member_sees_what_they_owe_on_the_pool_page_and_everyone_in_the_ledger(
    db: None,
) -> None:
    pool, claim = late_claim()
    services.repay(claim, member(pool, 1).user, 30_000, key="k")
    mine = page_text(signed_in(pool, 1), f"/pools/{pool.slug}/")
    assert (
        "You owe back €75.00</strong> of gifts given for June 2026, after your recovery on"
        " May 10, 2026 (€300.00 of €375.00 already paid back)."
    ) in mine
    assert "You owe back" not in page_text(signed_in(pool, 2), f"/pools/{pool.slug}/")
    ledger_page = page_text(signed_in(pool, 2), f"/pools/{pool.slug}/ledger/")
    assert 'data-testid="owed-back"' in ledger_page
    assert (
        '<td class="small">Jun 2026</td> <td class="text-end keel-amount">€375.00</td>'
        ' <td class="text-end keel-amount">€300.00</td>'
        ' <td class="text-end keel-amount">€0.00</td>'
        ' <td class="text-end keel-amount fw-semibold pe-3">€75.00</td>'
    ) in ledger_page
    assert 'data-kind="pool.repayment"' in ledger_page
    assert "Member 1 gives back gifts for June 2026, given after their recovery (paid in)" in (
        ledger_page
    )


def test_a_steward_asks_for_a_waiver_and_members_read_the_reason(db: None) -> None:
    pool, claim = late_claim()
    client = signed_in(pool, 1)
    url = f"/pools/{pool.slug}/claims/{claim.pk}/waiver/"
    assert client.post(url, {"waiver-reason": ""}).status_code == 400
    response = client.post(url, {"waiver-reason": "Her recovery was slow"})
    vote = Vote.objects.get(subject=VoteSubject.WAIVER)
    assert response["Location"] == f"/pools/{pool.slug}/votes/{vote.pk}/"
    page = page_text(signed_in(pool, 2), response["Location"])
    assert "Waive the €375.00 of gifts Member 1 owes back" in page
    assert "The steward's reason: “Her recovery was slow”" in page


def test_the_leave_page_says_what_goes_back_from_the_reserve(db: None) -> None:
    pool, _ = late_claim()
    page = page_text(signed_in(pool, 1), f"/pools/{pool.slug}/leave/")
    assert (
        "You still owe back €375.00 of gifts given for months after your recovery. It goes"
        " from your reserve to the members who gave them, and you take the rest:"
        " <strong>€187.50</strong>."
    ) in page


def test_the_api_shows_each_claims_gifts_owed_back(db: None) -> None:
    pool, claim = late_claim()
    services.repay(claim, member(pool, 1).user, 30_000, key="k")
    claims = signed_in(pool, 2).get(f"/api/v1/pools/{pool.slug}/claims").json()
    [row] = [c for c in claims if c["id"] == claim.pk]
    assert (row["gifts_received"], row["owed_back"], row["still_owed_back"]) == (
        75_000,
        37_500,
        7_500,
    )
    entries = signed_in(pool, 2).get(f"/api/v1/pools/{pool.slug}/ledger").json()
    assert entries[0]["kind"] == "pool.repayment"
