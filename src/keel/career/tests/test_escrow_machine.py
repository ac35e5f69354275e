"""Random sequences of milestone actions on one contract: fund, deliver, release in full or
in part (rolling the rest on), dispute, resolve with any award, and the auto-release job.

After every step the books balance (``ledger.verify``), escrow never goes negative and
holds exactly the milestones' open reservations (nothing unreserved), each milestone's
one open reservation is the amount it says, every rule invariant of its row holds, and
money is conserved: what the client paid in is what was released, returned or is still
in escrow, and what was released is the worker's income. A refused action changes
nothing at all.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from keel.accounts.services import create_worker
from keel.career import services
from keel.career.errors import CareerError
from keel.career.models import Milestone
from keel.income.models import IncomeItem
from keel.ledger import services as ledger
from keel.ledger.models import Journal, JournalStatus, Leg

from .conftest import make_contract
from .test_services import pending_amount, snapshot

AMOUNTS = (100_000, 50_000, 75_001)
INDEX = st.integers(0, len(AMOUNTS) - 1)
STEP = st.integers(0, 4)


class EscrowMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.worker = create_worker(
            "machine@example.org", name="Machine", password=None, currency="EUR"
        )
        self.contract = make_contract(self.worker, *AMOUNTS)
        self.day = date(2026, 1, 5)

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    def row(self, index: int) -> Milestone:
        return self.contract.milestones.get(sequence=index + 1)

    def attempt(self, days: int, action: str, index: int, **kw: object) -> None:
        self.day += timedelta(days=days)
        row = self.row(index)
        call = getattr(services, f"{action}_milestone")
        before = snapshot()
        try:
            call(row, on=self.day, recorded_by=self.worker, **kw)
        except CareerError:
            assert snapshot() == before

    @rule(index=INDEX, days=STEP)
    def fund(self, index: int, days: int) -> None:
        self.attempt(days, "fund", index)

    @rule(index=INDEX, days=STEP)
    def deliver(self, index: int, days: int) -> None:
        self.attempt(days, "deliver", index)

    @rule(index=INDEX, days=STEP, percent=st.one_of(st.none(), st.integers(0, 101)))
    def release(self, index: int, days: int, percent: int | None) -> None:
        reserved = self.row(index).reserved
        amount = None if percent is None else reserved * percent // 100
        self.attempt(days, "release", index, amount=amount)

    @rule(index=INDEX, days=STEP)
    def dispute(self, index: int, days: int) -> None:
        self.attempt(days, "dispute", index, reason="Not what we agreed")

    @rule(index=INDEX, days=STEP, percent=st.integers(0, 101))
    def resolve(self, index: int, days: int, percent: int) -> None:
        awarded = self.row(index).reserved * percent // 100
        self.attempt(days, "resolve", index, awarded=awarded)

    @rule(days=st.integers(0, 20))
    def auto_release(self, days: int) -> None:
        self.day += timedelta(days=days)
        report = services.auto_release_due(self.day)
        assert report.failures == {}

    @invariant()
    def books_balance_and_escrow_holds_the_reservations(self) -> None:
        assert ledger.verify().ok
        rows = list(self.contract.milestones.all())
        reserved = sum(m.reserved for m in rows)
        escrow = ledger.balance(services.escrow_code(self.contract))
        funds = ledger.balance(services.client_funds_code(self.contract))
        assert escrow.posted >= 0 and escrow.available == 0
        assert escrow.posted == funds.posted == escrow.pending_credits == reserved
        for m in rows:
            services.rule_milestone(m)  # the rules' own consistency checks
            if m.reserved:
                journal = Journal.objects.get(pk=m.escrow_pending_id)
                assert journal.status == JournalStatus.PENDING
                assert pending_amount(journal.pk) == m.reserved
            else:
                assert m.escrow_pending_id is None

    @invariant()
    def money_is_conserved(self) -> None:
        rows = list(self.contract.milestones.all())
        paid_in = (
            Leg.objects.filter(
                account__code=services.escrow_code(self.contract),
                journal__kind=services.DEPOSIT_KIND,
            ).aggregate(t=Sum("amount"))["t"]
            or 0
        )
        released = sum(m.released for m in rows)
        assert paid_in == released + sum(m.refunded for m in rows) + sum(m.reserved for m in rows)
        assert sum(m.amount for m in rows) == sum(AMOUNTS)
        assert (IncomeItem.objects.aggregate(t=Sum("net"))["t"] or 0) == released


@pytest.mark.django_db
def test_escrow_books_balance_under_random_actions() -> None:
    run_state_machine_as_test(
        EscrowMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
