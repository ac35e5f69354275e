"""Demo pools, built through the real services so every figure on the pool pages comes
from the ledger: a public Broodfonds-style sick-leave fund of the demo workers, stewarded
by the demo worker, with fourteen months of history, and a small private emergency fund.

The sick-leave fund shows what a member meets in a real one: deposits every month (one
member has missed the last two, so their right to claim is suspended), a claim that ran
three months and ended with a recovery reported late (the month's gift given after it is
owed back, half of it repaid), a claim whose gifts are running now, a claim waiting
for approvals, a newcomer's admission vote still open, and a rule change that was voted.

Loading is idempotent: a pool already there is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from keel.accounts.models import User
from keel.accounts.services import create_worker

from . import services
from .models import Claim, Membership, Pool
from .rules.gifts import add_months
from .rules.pool_rules import broodfonds_default, rules_to_json

FUND_NAME = "Riverside Broodfonds"
EMERGENCY_NAME = "Studio emergency fund"
HISTORY_MONTHS = 14
# Members pick tiers across the range; the demo worker insures €1,500.
TIER_CYCLE = (150_000, 100_000, 125_000, 175_000, 75_000, 200_000, 150_000, 250_000)
NEWCOMER = ("marta.kowalska@example.org", "Marta Kowalska")


@dataclass
class PoolsSummary:
    pools: int = 0
    members: int = 0
    gift_runs: int = 0


def load_pools_demo(
    *,
    steward: User,
    others: Sequence[User],
    end: date,
    progress: Callable[[str], None] = lambda line: None,
) -> PoolsSummary:
    summary = PoolsSummary()
    if not Pool.objects.filter(name=FUND_NAME).exists():
        summary.gift_runs += _sick_leave_fund(steward, others, end)
        summary.pools += 1
        summary.members += len(others) + 1
        progress(f"{FUND_NAME}: {HISTORY_MONTHS} months of deposits, claims and gifts")
    if not Pool.objects.filter(name=EMERGENCY_NAME).exists():
        _emergency_fund(steward, others[:5], end)
        summary.pools += 1
        progress(f"{EMERGENCY_NAME}: contributions and a grant")
    return summary


def _sick_leave_fund(steward: User, others: Sequence[User], end: date) -> int:
    start = add_months(end.replace(day=1), -HISTORY_MONTHS)
    rules = rules_to_json(broodfonds_default("EUR")) | {
        "public": True,
        # The founders were all in on day one; newcomers are voted in.
        "admission_by_vote": False,
    }
    pool = services.create_pool(
        steward,
        name=FUND_NAME,
        rules=rules,
        tier_gift=TIER_CYCLE[0],
        description="Freelancers along the river who give each other a monthly gift when"
        " one of us is too sick to work. Members since the start keep a reserve of their own.",
        today=start,
    )
    for n, user in enumerate(others, start=1):
        services.apply(pool, user, tier_gift=TIER_CYCLE[n % len(TIER_CYCLE)], today=start)
    members = {m.number: m for m in services.active_members(pool)}
    late_payer = members[len(members)]  # misses the last two deposits
    past_claim = running_claim = None
    runs = 0
    month = start
    end_month = end.replace(day=1)
    while month <= end_month:
        for member in members.values():
            if member is late_payer and month >= add_months(end_month, -1):
                continue
            services.pay_deposit(member, month, on=min(end, month + timedelta(days=2)))
        if month == add_months(start, 3):
            past_claim = _approved_claim(pool, members[5], month + timedelta(days=3), [1, 2, 3])
        if month == add_months(start, 9) and past_claim is not None:
            # Recovered on the 12th two months ago, reported only now: last month's gift
            # was given after the recovery and is owed back; the member repays half.
            past_claim = services.report_recovery(
                past_claim, members[5].user, add_months(month, -2) + timedelta(days=11)
            )
            half = services.owed_back(past_claim).total // 2
            services.repay(
                past_claim, members[5].user, half, key="demo", received_on=month + timedelta(days=2)
            )
        if month == add_months(end_month, -2):
            running_claim = _approved_claim(pool, members[9], month + timedelta(days=4), [1, 4, 6])
        runs += services.run_month(pool, month, today=min(end, month + timedelta(days=1))).created
        month = add_months(month, 1)
    assert running_claim is not None
    # Waiting for approvals: reported five days ago, one approval so far.
    pending = services.report_claim(
        members[14], start_date=end - timedelta(days=5), description="Broken wrist", today=end
    )
    services.decide_claim(pending, members[2].user, "approve")
    _rule_change(pool, members)
    _newcomer(pool, members)
    return runs


def _approved_claim(pool: Pool, member: Membership, start: date, approvers: list[int]) -> Claim:
    claim = services.report_claim(
        member, start_date=start, description="Pneumonia, then a slow recovery", today=start
    )
    for number in approvers:
        claim = services.decide_claim(claim, pool.memberships.get(number=number).user, "approve")
    return claim


def _rule_change(pool: Pool, members: dict[int, Membership]) -> None:
    """A passed vote: the grace period for a missed deposit from one month to two."""
    vote = services.propose_rule_change(pool, members[1].user, {"grace_months": 2})
    for number in range(1, 15):
        vote = services.cast_ballot(vote, members[number].user, "yes" if number != 7 else "no")
        if vote.status != "open":
            break


def _newcomer(pool: Pool, members: dict[int, Membership]) -> None:
    """An application under admission by vote, with some ballots cast: the vote is open."""
    email, name = NEWCOMER
    person = User.objects.filter(email=email).first() or create_worker(
        email, name=name, password=None, currency="EUR"
    )
    services.propose_rule_change(pool, members[1].user, {"admission_by_vote": True})
    vote = pool.votes.filter(status="open").get()
    for number in range(1, 13):
        vote = services.cast_ballot(vote, members[number].user, "yes")
        if vote.status != "open":
            break
    services.apply(pool, person, tier_gift=100_000)
    admission = pool.votes.filter(subject="admission", status="open").get()
    for number in (1, 3, 4, 8):
        services.cast_ballot(admission, members[number].user, "yes")


def _emergency_fund(steward: User, others: Sequence[User], end: date) -> None:
    start = add_months(end.replace(day=1), -6)
    rules = services.default_rules("emergency", "EUR") | {"admission_by_vote": False}
    pool = services.create_pool(
        steward,
        name=EMERGENCY_NAME,
        rules=rules,
        description="Five studio mates who cover each other's sudden costs.",
        today=start,
    )
    for user in others:
        services.apply(pool, user, today=start)
    members = services.active_members(pool)
    month = start
    while month <= end.replace(day=1):
        for member in members:
            services.pay_deposit(member, month, on=min(end, month + timedelta(days=1)))
        month = add_months(month, 1)
    claim = services.report_claim(
        members[2],
        start_date=end - timedelta(days=20),
        amount=40_000,
        description="Laptop stolen the week before a deadline",
        today=end - timedelta(days=20),
    )
    for member in members[:2]:
        services.decide_claim(claim, member.user, "approve", today=end - timedelta(days=19))
