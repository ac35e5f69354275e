"""Random sequences of gateway operations: earnings for linked and unlinked references,
links accepted and ended, allocation changes, uses, clearing and settlement.

After every step the books balance (verify, zero per currency), no bucket is negative, the
platform's suspense account holds exactly the contributions of events still in suspense,
its receivable equals every contribution less every settlement, and each worker's buckets
hold exactly what was credited or released to them less what they used.
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
from keel.gateway import services
from keel.gateway.errors import GatewayError
from keel.gateway.models import BenefitUse, EarningsEvent, Settlement
from keel.gateway.services.platforms import receivable_code, suspense_code
from keel.ledger import services as ledger

REFS = ("r1", "r2", "r3")
BUCKET_NAMES = ("health", "retirement", "time_off", "emergency", "tax")


class GatewayMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.workers = [
            create_worker(f"w{i}@example.org", name=f"W{i}", password=None) for i in range(2)
        ]
        self.platform = services.create_platform(
            "Prop",
            policy={
                "currency": "USD",
                "rate_bps": 350,
                "per_job": 25,
                "threshold": 20_000,
                "threshold_period": "month",
                "backdate": True,
                "monthly_cap": 9_000,
            },
            effective_from=date(2026, 1, 1),
        )
        self.counter = 0
        self.day = date(2026, 3, 1)

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    @rule(
        refs=st.lists(st.sampled_from(REFS), min_size=1, max_size=4),
        gross=st.integers(0, 40_000),
        jobs=st.integers(0, 3),
        advance=st.integers(0, 20),
    )
    def earnings(self, refs: list[str], gross: int, jobs: int, advance: int) -> None:
        self.day += timedelta(days=advance)
        batch = []
        for ref in refs:
            self.counter += 1
            batch.append(
                {
                    "event_id": f"e{self.counter}",
                    "worker_ref": ref,
                    "occurred_at": f"{self.day.isoformat()}T09:00:00Z",
                    "gross": gross,
                    "tips": gross // 7,
                    "jobs": jobs,
                    "currency": "USD",
                }
            )
        services.record_events(self.platform, batch)

    @rule(ref=st.sampled_from(REFS), who=st.integers(0, 1), by_code=st.booleans())
    def link(self, ref: str, who: int, by_code: bool) -> None:
        worker = self.workers[who]
        try:
            if by_code:
                services.link_with_code(self.platform, ref, services.create_link_code(worker))
            else:
                link = services.invite(self.platform, ref, worker.email)
                services.accept_invitation(worker, link.pk)
        except GatewayError as exc:
            # Another worker already holds the reference: refused, nothing changes.
            if exc.code != "linked":
                raise

    @rule(ref=st.sampled_from(REFS))
    def end(self, ref: str) -> None:
        link = self.platform.links.filter(worker_ref=ref, status="active").first()
        if link is not None:
            services.end_link(link)

    @rule(who=st.integers(0, 1), weights=st.lists(st.integers(0, 5), min_size=5, max_size=5))
    def reallocate(self, who: int, weights: list[int]) -> None:
        if sum(weights) == 0:
            weights = [1, 0, 0, 0, 0]
        total = sum(weights)
        bps = [w * 10_000 // total for w in weights]
        bps[0] += 10_000 - sum(bps)
        services.set_allocation(self.workers[who], dict(zip(BUCKET_NAMES, bps, strict=True)))

    @rule(
        who=st.integers(0, 1),
        kind=st.sampled_from(["emergency", "retirement", "time_off"]),
        amount=st.integers(1, 3_000),
    )
    def use(self, who: int, kind: str, amount: int) -> None:
        self.counter += 1
        try:
            services.use_benefit(
                self.workers[who],
                kind,
                amount,
                provider="Vanguard",
                idempotency_key=f"u{self.counter}",
                on=self.day,
            )
        except GatewayError as exc:
            if exc.code != "insufficient_funds":
                raise

    @rule(paid_share=st.integers(0, 120))
    def clear_and_settle(self, paid_share: int) -> None:
        self.counter += 1
        batches = services.close_period(
            self.platform, self.day - timedelta(days=self.counter), self.day
        )
        for batch in batches:
            amount = batch.owed * paid_share // 100
            if amount > 0:
                services.record_settlement(
                    batch, reference=f"pay{self.counter}", amount=amount, received_on=self.day
                )

    @invariant()
    def books_balance(self) -> None:
        report = ledger.verify()
        assert report.ok, report.problems
        assert all(total == 0 for total in report.totals_by_currency.values())

    @invariant()
    def suspense_and_receivable_match_the_events(self) -> None:
        events = EarningsEvent.objects.filter(platform=self.platform)
        held = events.filter(status="suspense").aggregate(t=Sum("contribution"))["t"] or 0
        assert ledger.balance(suspense_code(self.platform.pk, "USD")).posted == held
        owed = events.aggregate(t=Sum("contribution"))["t"] or 0
        paid = Settlement.objects.aggregate(t=Sum("amount"))["t"] or 0
        assert ledger.balance(receivable_code(self.platform.pk, "USD")).posted == owed - paid

    @invariant()
    def buckets_hold_what_was_given_less_what_was_used(self) -> None:
        for worker in self.workers:
            rows = services.bucket_balances(worker)
            assert all(row.balance >= 0 for row in rows)
            given = (
                EarningsEvent.objects.filter(
                    worker=worker, status__in=["credited", "released"]
                ).aggregate(t=Sum("contribution"))["t"]
                or 0
            )
            used = BenefitUse.objects.filter(worker=worker).aggregate(t=Sum("amount"))["t"] or 0
            assert sum(row.balance for row in rows) == given - used


@pytest.mark.django_db
def test_gateway_books_balance_under_random_operations() -> None:
    run_state_machine_as_test(
        GatewayMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
