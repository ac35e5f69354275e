"""A member who left and came back: each of their periods in the pool pays its own deposits,
gets its own refunds and takes its own reserve on leaving. Their ledger journals were keyed
by the member's number and the month or year alone, so the second period hit the first's
keys (and rows): a month paid before leaving counted as paid again, a year refunded before
leaving was never refunded again. Worked examples computed by hand."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import timezone

from keel.ledger import services as ledger
from keel.ledger.models import Journal
from keel.pools import services
from keel.pools.errors import PoolError
from keel.pools.models import Deposit, Membership, Pool, Refund
from keel.pools.tests.test_services import member, pay, people, sick_fund

# 25% of a €200.00 tier: every deposit is €50.00.
TIER, DEPOSIT = 20_000, 5_000


def fund(**rules: object) -> Pool:
    return sick_fund(
        people(3),
        [TIER] * 3,
        min_members=3,
        approvals_required=1,
        deposit_rate_bps=2_500,
        **rules,
    )


def come_back(pool: Pool, number: int, on: date) -> Membership:
    return services.apply(pool, member(pool, number).user, tier_gift=TIER, today=on)


def test_a_member_back_in_the_month_they_left_owes_its_deposit_again(db: None) -> None:
    # April's deposit went back to them with the reserve on 10 April; back on 20 April they
    # are a member who joined in April, and owe April like anyone who joins then.
    pool = fund()
    pay(pool, 3, 1, 2, 3, 4)
    assert services.leave(member(pool, 3), today=date(2026, 4, 10)) == 4 * DEPOSIT
    back = come_back(pool, 3, date(2026, 4, 20))
    assert back.period == 2
    assert services.ensure_deposits(pool, date(2026, 4, 1)) == 1
    assert services.unpaid_months(back, date(2026, 4, 30)) == [date(2026, 4, 1)]
    paid = services.pay_deposit(back, date(2026, 4, 1), on=date(2026, 4, 21))
    assert (paid.period, paid.amount) == (2, DEPOSIT)
    assert services.reserves(pool)[3] == DEPOSIT
    journal = Journal.objects.get(pk=paid.journal_id)
    assert journal.idempotency_key == f"pool:{pool.pk}:deposit:3:2026-04:p2"
    # The first period's journals keep their keys.
    assert Journal.objects.filter(idempotency_key=f"pool:{pool.pk}:deposit:3:2026-04").exists()
    assert Deposit.objects.filter(membership=back, month=date(2026, 4, 1)).count() == 2
    assert ledger.verify().ok


def test_a_member_who_paid_ahead_and_left_pays_those_months_again_after_coming_back(
    db: None,
) -> None:
    # Paid January to December in January, left in April with all twelve (€600.00) in the
    # reserve: back in September, September to December are not paid for this time.
    pool = fund()
    pay(pool, 3, *range(1, 13))
    assert services.leave(member(pool, 3), today=date(2026, 4, 2)) == 12 * DEPOSIT
    back = come_back(pool, 3, date(2026, 9, 10))
    pay(pool, 3, 9, 10, 11)
    assert services.reserves(pool)[3] == 3 * DEPOSIT
    assert services.ensure_deposits(pool, date(2026, 12, 1)) == 1
    assert services.unpaid_months(back, date(2026, 12, 1)) == [date(2026, 12, 1)]
    assert ledger.verify().ok


def test_a_deposit_left_unpaid_before_leaving_is_not_owed_after_coming_back(db: None) -> None:
    # March was due and unpaid when they left; it neither suspends their right to claim nor
    # shows as missed in their new period, and it cannot be paid any more.
    pool = fund()
    pay(pool, 3, 1, 2)
    services.ensure_deposits(pool, date(2026, 3, 1))
    assert services.leave(member(pool, 3), today=date(2026, 4, 2)) == 2 * DEPOSIT
    back = come_back(pool, 3, date(2026, 9, 10))
    assert services.unpaid_months(back, date(2026, 9, 30)) == []
    missed = [
        (d.membership.number, d.month)
        for d in services.unpaid_deposits(pool, as_of=date(2026, 9, 30))
    ]
    assert (3, date(2026, 3, 1)) not in missed
    assert services.claim_right(back, date(2026, 9, 30)).allowed
    journals = Journal.objects.count()
    with pytest.raises(PoolError, match="no deposit is due for March 2026") as refused:
        services.pay_deposit(back, date(2026, 3, 1))
    assert refused.value.field == "month"
    assert Journal.objects.count() == journals
    assert services.reserves(pool)[3] == 0


def test_a_member_refunded_before_leaving_is_refunded_again_in_the_same_year(db: None) -> None:
    # Reserves are capped at 2 deposits (€100.00). Before leaving: three deposits, €150.00,
    # €50.00 refunded for 2026, €100.00 taken on leaving. Back in September: three deposits
    # again, €150.00, so €50.00 above the cap is refunded for 2026 once more.
    pool = fund(reserve_cap_deposits=2)
    pay(pool, 3, 1, 2, 3)
    [first] = services.refund_above_cap(pool, 2026)
    assert (first.membership.number, first.amount, first.period) == (3, DEPOSIT, 1)
    assert services.leave(member(pool, 3), today=date(2026, 4, 2)) == 2 * DEPOSIT
    come_back(pool, 3, date(2026, 9, 10))
    pay(pool, 3, 9, 10, 11)
    bank_before = services.balances(pool)[services.bank_code(pool)]
    [second] = services.refund_above_cap(pool, 2026)
    assert (second.membership.number, second.amount, second.period) == (3, DEPOSIT, 2)
    assert services.reserves(pool)[3] == 2 * DEPOSIT
    assert services.balances(pool)[services.bank_code(pool)] == bank_before - DEPOSIT
    assert Journal.objects.get(pk=first.journal_id).idempotency_key == (
        f"pool:{pool.pk}:refund:3:2026"
    )
    assert Journal.objects.get(pk=second.journal_id).idempotency_key == (
        f"pool:{pool.pk}:refund:3:2026:p2"
    )
    # Once per period and year: running it again refunds nobody.
    assert services.refund_above_cap(pool, 2026) == []
    assert Refund.objects.filter(membership__number=3).count() == 2
    assert ledger.verify().ok


def test_a_member_invited_back_starts_a_new_period_and_owes_its_deposits(db: None) -> None:
    # Accepting an invitation admits them today: this month's deposit, paid and taken back
    # with the reserve on leaving earlier today, is due again.
    pool = fund()
    this_month = timezone.localdate().replace(day=1)
    services.pay_deposit(member(pool, 2), this_month)
    assert services.leave(member(pool, 2)) == DEPOSIT
    services.invite(pool, member(pool, 1).user, member(pool, 2).user.email)
    back = services.accept_invitation(member(pool, 2), tier_gift=TIER)
    assert back.period == 2
    assert services.ensure_deposits(pool, this_month) == 1
    services.pay_deposit(back, this_month)
    assert services.reserves(pool)[2] == DEPOSIT
    assert ledger.verify().ok


def test_a_member_who_leaves_and_comes_back_the_day_they_joined_takes_both_reserves(
    db: None,
) -> None:
    # The exit key named the member and their joining day: joined, left, came back and left
    # again all on 1 December 2025, the second exit met the first one's key with the same
    # €50.00 and was replayed: it reported €50.00 paid out and moved nothing.
    pool = fund()
    day = date(2025, 12, 1)
    services.pay_deposit(member(pool, 3), day, on=day)
    assert services.leave(member(pool, 3), today=day) == DEPOSIT
    back = come_back(pool, 3, day)
    assert back.joined_on == day
    assert services.ensure_deposits(pool, day) == 1
    services.pay_deposit(back, day, on=day)
    bank_before = services.balances(pool)[services.bank_code(pool)]
    assert services.leave(member(pool, 3), today=day) == DEPOSIT
    assert services.reserves(pool)[3] == 0
    assert services.balances(pool)[services.bank_code(pool)] == bank_before - DEPOSIT
    keys = set(Journal.objects.filter(kind="pool.exit").values_list("idempotency_key", flat=True))
    assert keys == {f"pool:{pool.pk}:exit:3:2025-12-01", f"pool:{pool.pk}:exit:3:2025-12-01:p2"}
    assert ledger.verify().ok
