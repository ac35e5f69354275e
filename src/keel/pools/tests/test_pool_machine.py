"""Random sequences of pool operations: deposits, claims approved and recovered, monthly
gift runs (repeated), yearly refunds, members leaving and coming back.

After every step the books balance (verify), no reserve is negative, the money the pool
holds equals every reserve plus the common fund, each reserve equals the member's deposits
less what they gave, were refunded and took when leaving, and every gift received equals
the sum of the legs that gave it.
"""

from __future__ import annotations

from datetime import date

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from keel.accounts.services import create_worker
from keel.ledger import services as ledger
from keel.ledger.models import Leg
from keel.pools import services
from keel.pools.errors import PoolError
from keel.pools.models import Deposit, Gift, MemberStatus, Refund
from keel.pools.rules.pool_rules import broodfonds_default, rules_to_json

TIERS = [75_000, 100_000, 150_000]
TODAY = date(2026, 11, 1)


class PoolMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        users = [
            create_worker(f"p{i}@example.org", name=f"P{i}", password=None, currency="EUR")
            for i in range(5)
        ]
        rules = rules_to_json(broodfonds_default("EUR")) | {
            "tiers": TIERS,
            "min_members": 3,
            "approvals_required": 1,
            "admission_by_vote": False,
            # Large deposits and a low cap so reserves run short and refunds happen.
            "deposit_rate_bps": 2_000,
            "reserve_cap_deposits": 4,
        }
        self.pool = services.create_pool(
            users[0], name="Machine", rules=rules, tier_gift=TIERS[0], today=date(2025, 12, 1)
        )
        for i, user in enumerate(users[1:], start=1):
            services.apply(self.pool, user, tier_gift=TIERS[i % 3], today=date(2025, 12, 1))
        self.users = users
        self.month = 1

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    def member(self, number: int):  # type: ignore[no-untyped-def]
        return self.pool.memberships.get(number=number)

    @rule(number=st.integers(1, 5), month=st.integers(1, 12))
    def deposit(self, number: int, month: int) -> None:
        member = self.member(number)
        if member.status != MemberStatus.ACTIVE:
            return
        try:
            # Paid ahead for November and December, until the member leaves and comes back.
            services.pay_deposit(member, date(2026, month, 1))
        except PoolError:
            # A month before a member who came back joined again is not due from them.
            assert member.joined_on > date(2026, month, 1)

    @rule(number=st.integers(1, 5), start=st.integers(1, 9), approver=st.integers(1, 5))
    def claim(self, number: int, start: int, approver: int) -> None:
        member = self.member(number)
        try:
            claim = services.report_claim(member, start_date=date(2026, start, 3), today=TODAY)
            services.decide_claim(claim, self.member(approver).user, "approve")
        except PoolError:
            pass  # suspended, already sick, own claim, left: refused and nothing changed

    @rule(month=st.integers(1, 10))
    def run(self, month: int) -> None:
        services.run_month(self.pool, date(2026, month, 1), today=TODAY)

    @rule(number=st.integers(1, 5), month=st.integers(2, 10))
    def recover(self, number: int, month: int) -> None:
        if self.member(number).status != MemberStatus.ACTIVE:
            return
        for claim in self.member(number).claims.filter(recovered_on__isnull=True):
            if claim.start_date < date(2026, month, 1):
                services.report_recovery(claim, self.member(number).user, date(2026, month, 1))

    @rule()
    def refund(self) -> None:
        services.refund_above_cap(self.pool, 2026)

    @rule(number=st.integers(2, 5))
    def leave(self, number: int) -> None:
        member = self.member(number)
        if member.status == MemberStatus.ACTIVE:
            services.leave(member, today=TODAY)

    @rule(number=st.integers(2, 5))
    def come_back(self, number: int) -> None:
        # A new period: its deposits, refunds and exit must not meet the earlier ones' keys.
        member = self.member(number)
        if member.status == MemberStatus.LEFT:
            services.apply(self.pool, member.user, tier_gift=member.tier_gift, today=TODAY)

    @invariant()
    def books_balance(self) -> None:
        assert ledger.verify().ok
        held = services.balances(self.pool)
        reserves = services.reserves(self.pool)
        assert all(amount >= 0 for amount in reserves.values())
        fund = held.get(services.fund_code(self.pool), 0)
        assert held[services.bank_code(self.pool)] == sum(reserves.values()) + fund

    @invariant()
    def each_reserve_is_its_history(self) -> None:
        for member in self.pool.memberships.all():
            code = services.reserve_code(member)
            deposited = (
                Deposit.objects.filter(membership=member, journal_id__isnull=False).aggregate(
                    t=Sum("amount")
                )["t"]
                or 0
            )
            out = (
                Leg.objects.filter(account__code=code, amount__gt=0).aggregate(t=Sum("amount"))["t"]
                or 0
            )
            refunded = Refund.objects.filter(membership=member).aggregate(t=Sum("amount"))["t"] or 0
            gifts_given = (
                Leg.objects.filter(account__code=code, journal__kind="pool.gift").aggregate(
                    t=Sum("amount")
                )["t"]
                or 0
            )
            assert refunded + gifts_given <= out
            assert services.reserves(self.pool).get(member.number, 0) == deposited - out

    @invariant()
    def gifts_received_are_their_legs(self) -> None:
        for gift in Gift.objects.filter(run__pool=self.pool, journal_id__isnull=False):
            given = Leg.objects.filter(journal_id=gift.journal_id, amount__gt=0).aggregate(
                t=Sum("amount")
            )["t"]
            assert given == gift.received
            assert gift.received <= gift.after_cut <= gift.gross


@pytest.mark.django_db
def test_pool_books_balance_under_random_operations() -> None:
    run_state_machine_as_test(
        PoolMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
