"""The demo pools: built through the services, idempotent, balanced, and showing every
state a member meets (running and past claims, a pending claim, an open vote)."""

from __future__ import annotations

from datetime import date

from keel.accounts.services import create_worker
from keel.ledger import services as ledger
from keel.ledger.models import Journal
from keel.pools import services
from keel.pools.demo import EMERGENCY_NAME, FUND_NAME, load_pools_demo
from keel.pools.models import ClaimStatus, Gift, MemberStatus, Pool, VoteStatus


def test_demo_pools_show_every_state_and_load_once(db: None) -> None:
    people = [create_worker(f"d{i}@example.org", name=f"D{i}", password=None) for i in range(21)]
    end = date(2026, 11, 20)
    summary = load_pools_demo(steward=people[0], others=people[1:], end=end)
    assert summary.pools == 2
    fund = Pool.objects.get(name=FUND_NAME)
    assert fund.is_public
    assert fund.memberships.filter(status=MemberStatus.ACTIVE).count() == 21
    claims = {c.membership.number: c for c in fund.claims.select_related("membership")}
    # Member 5: sick in month 3, three gift months, recovered in month 7 but reported in
    # month 9: month 8's gift was given after the recovery and is owed back, half repaid.
    assert Gift.objects.filter(claim=claims[5], received__gt=0).count() == 4
    assert claims[5].recovered_on is not None
    owed = services.owed_back(claims[5])
    assert owed.months == (date(2026, 5, 1),)
    assert (owed.repaid, owed.remaining) == (owed.total // 2, owed.total - owed.total // 2)
    # Member 9's gifts are running: September start + one month's wait -> November paid.
    assert claims[9].status == ClaimStatus.APPROVED
    assert Gift.objects.filter(claim=claims[9], received__gt=0).count() == 1
    assert claims[14].status == ClaimStatus.PENDING
    assert services.approval_of(claims[14]).still_needed == 2
    # The last member missed October and November: past the (voted) two months' grace?
    # No: October's deposit is due 1 October, two months' grace runs to 1 December.
    assert services.sick_leave_rules(fund).grace_months == 2
    assert services.unpaid_months(fund.memberships.get(number=21), end) == [
        date(2026, 10, 1),
        date(2026, 11, 1),
    ]
    assert fund.votes.filter(subject="admission", status=VoteStatus.OPEN).count() == 1
    emergency = Pool.objects.get(name=EMERGENCY_NAME)
    assert emergency.claims.get().status == ClaimStatus.CLOSED
    assert ledger.verify().ok
    journals = Journal.objects.count()
    again = load_pools_demo(steward=people[0], others=people[1:], end=end)
    assert (again.pools, Journal.objects.count()) == (0, journals)
