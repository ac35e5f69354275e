"""Random sequences of ledger operations checked step by step against an in-memory model.

After every step: each account's posted, pending and available balances equal the model's,
every journal balances, no floor is broken, and posted balances sum to zero per currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from keel.ledger import services
from keel.ledger.rules import (
    FloorBreached,
    IdempotencyConflict,
    JournalSpec,
    LegSpec,
    PendingStateError,
    Totals,
)

# code -> (kind, currency, floor)
ACCOUNTS = {
    "worker:1:cash": ("asset", "USD", 0),
    "worker:1:buffer": ("asset", "USD", 0),
    "worker:1:income": ("income", "USD", None),
    "platform:1:payable": ("liability", "USD", 0),
    "worker:1:cash:eur": ("asset", "EUR", 0),
    "worker:1:income:eur": ("income", "EUR", None),
}
USD = [code for code, (_, ccy, _) in ACCOUNTS.items() if ccy == "USD"]
EUR = [code for code, (_, ccy, _) in ACCOUNTS.items() if ccy == "EUR"]


@dataclass
class Model:
    totals: dict[str, Totals] = field(
        default_factory=lambda: {
            code: Totals(kind, floor) for code, (kind, _, floor) in ACCOUNTS.items()
        }
    )
    contents: dict[str, tuple] = field(default_factory=dict)

    def fits(self, legs: tuple[LegSpec, ...], *, pending: bool) -> bool:
        trial = {
            code: Totals(**{s: getattr(t, s) for s in Totals.__slots__})
            for code, t in self.totals.items()
        }
        for leg in legs:
            before = trial[leg.account].available
            trial[leg.account].apply(leg.amount, pending=pending)
            after = trial[leg.account]
            if after.available < before and after.breaches_floor():
                return False
        return True

    def apply(self, legs: tuple[LegSpec, ...], *, pending: bool, release: bool = False) -> None:
        for leg in legs:
            self.totals[leg.account].apply(leg.amount, pending=pending, release=release)


@st.composite
def transfers(draw: st.DrawFn) -> tuple[LegSpec, ...]:
    codes = draw(st.sampled_from([USD, EUR]))
    currency = ACCOUNTS[codes[0]][1]
    source, target = draw(st.lists(st.sampled_from(codes), min_size=2, max_size=2, unique=True))
    amount = draw(st.integers(min_value=1, max_value=5_000))
    if draw(st.booleans()) or len(codes) < 3:
        return (LegSpec(target, amount, currency), LegSpec(source, -amount, currency))
    third = draw(st.sampled_from([c for c in codes if c not in (source, target)]))
    split = draw(st.integers(min_value=1, max_value=amount)) if amount > 1 else 1
    if split == amount:
        return (LegSpec(target, amount, currency), LegSpec(source, -amount, currency))
    return (
        LegSpec(target, split, currency),
        LegSpec(third, amount - split, currency),
        LegSpec(source, -amount, currency),
    )


class LedgerMachine(RuleBasedStateMachine):
    posted = Bundle("posted")
    pending = Bundle("pending")

    def __init__(self) -> None:
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        for code, (kind, currency, floor) in ACCOUNTS.items():
            services.open_account(
                code,
                owner_type=code.split(":")[0],
                owner_id=1,
                kind=kind,
                currency=currency,
                floor=floor,
            )
        self.model = Model()
        self.counter = 0

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    def _key(self) -> str:
        self.counter += 1
        return f"op-{self.counter}"

    def _spec(self, key: str, legs: tuple[LegSpec, ...], kind: str = "transfer") -> JournalSpec:
        return JournalSpec(
            idempotency_key=key, kind=kind, effective_date=date(2026, 1, 1), legs=legs
        )

    @rule(target=posted, legs=transfers())
    def post(self, legs):
        key = self._key()
        if self.model.fits(legs, pending=False):
            result = services.post_journal(self._spec(key, legs))
            assert result.created
            self.model.apply(legs, pending=False)
            self.model.contents[key] = legs
            return multiple((result.id, key, legs))
        with pytest.raises(FloorBreached):
            services.post_journal(self._spec(key, legs))
        return multiple()

    @rule(
        amount=st.integers(min_value=1, max_value=20_000), currency=st.sampled_from(["USD", "EUR"])
    )
    def earn(self, amount, currency):
        cash, income = (
            ("worker:1:cash", "worker:1:income")
            if currency == "USD"
            else ("worker:1:cash:eur", "worker:1:income:eur")
        )
        legs = (LegSpec(cash, amount, currency), LegSpec(income, -amount, currency))
        key = self._key()
        services.post_journal(self._spec(key, legs, kind="income"))
        self.model.apply(legs, pending=False)
        self.model.contents[key] = legs

    @rule(target=pending, legs=transfers())
    def reserve(self, legs):
        key = self._key()
        if self.model.fits(legs, pending=True):
            result = services.reserve(self._spec(key, legs, kind="escrow"))
            self.model.apply(legs, pending=True)
            return multiple((result.id, legs))
        with pytest.raises(FloorBreached):
            services.reserve(self._spec(key, legs, kind="escrow"))
        return multiple()

    @rule(held=consumes(pending), share=st.integers(min_value=1, max_value=100))
    def post_pending(self, held, share):
        journal_id, legs = held
        self.model.apply(legs, pending=True, release=True)
        if len(legs) == 2:
            debit = max(leg.amount for leg in legs)
            amount = max(1, debit * share // 100)
            posted_legs = tuple(
                LegSpec(leg.account, amount if leg.amount > 0 else -amount, leg.currency)
                for leg in legs
            )
            services.post_pending(journal_id, idempotency_key=self._key(), amount=amount)
        else:
            posted_legs = legs
            services.post_pending(journal_id, idempotency_key=self._key())
        self.model.apply(posted_legs, pending=False)

    @rule(held=consumes(pending))
    def void(self, held):
        journal_id, legs = held
        services.void_pending(journal_id)
        self.model.apply(legs, pending=True, release=True)
        with pytest.raises(PendingStateError):
            services.post_pending(journal_id, idempotency_key=self._key())

    @rule(original=consumes(posted))
    def reverse(self, original):
        journal_id, _, legs = original
        mirror = tuple(LegSpec(leg.account, -leg.amount, leg.currency) for leg in legs)
        key = self._key()
        if self.model.fits(mirror, pending=False):
            services.reverse_journal(journal_id, idempotency_key=key)
            self.model.apply(mirror, pending=False)
        else:
            with pytest.raises(FloorBreached):
                services.reverse_journal(journal_id, idempotency_key=key)

    @rule(original=posted)
    def replay(self, original):
        journal_id, key, legs = original
        result = services.post_journal(self._spec(key, legs))
        assert (result.id, result.created) == (journal_id, False)

    @rule(original=posted, extra=st.integers(min_value=1, max_value=50))
    def replay_with_changed_content(self, original, extra):
        _, key, legs = original
        changed = (
            LegSpec(legs[0].account, legs[0].amount + extra, legs[0].currency),
            *legs[1:-1],
            LegSpec(legs[-1].account, legs[-1].amount - extra, legs[-1].currency),
        )
        with pytest.raises(IdempotencyConflict):
            services.post_journal(self._spec(key, changed))

    @invariant()
    def balances_match_the_model(self):
        for code, expected in self.model.totals.items():
            actual = services.balance(code)
            assert actual.posted == expected.posted, code
            assert (actual.pending_debits, actual.pending_credits) == (
                expected.pending_debits,
                expected.pending_credits,
            ), code
            assert actual.available == expected.available, code
            if actual.floor is not None:
                assert actual.available >= actual.floor, code

    @invariant()
    def books_balance(self):
        report = services.verify()
        assert report.ok, report.problems
        assert all(total == 0 for total in report.totals_by_currency.values())


@pytest.mark.django_db
def test_ledger_matches_model_under_random_operations():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
