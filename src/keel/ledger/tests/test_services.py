"""The ledger service, worked by hand, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from keel.ledger import services
from keel.ledger.models import Account, Journal, JournalStatus, Leg
from keel.ledger.rules import (
    FloorBreached,
    IdempotencyConflict,
    InvalidJournal,
    LegSpec,
    PendingStateError,
    UnbalancedJournal,
    UnknownAccount,
)

from .conftest import journal

CASH, SAVINGS, INCOME, FEES = (
    "worker:1:cash",
    "worker:1:savings",
    "worker:1:income:upwork",
    "worker:1:expenses:fees",
)


def snapshot() -> tuple:
    """Everything the ledger holds, to assert a refused write changed nothing."""
    return (
        list(Journal.objects.order_by("id").values_list("id", "status", "content_hash")),
        list(Leg.objects.order_by("id").values_list("id", "journal_id", "account_id", "amount")),
        list(
            Account.objects.order_by("id").values_list(
                "id", "posted_debits", "posted_credits", "pending_debits", "pending_credits"
            )
        ),
    )


def test_gig_payment_books_gross_fee_and_net(books):
    # A $1,000.00 Upwork payment with a 10% fee: cash +900, fees +100, income 1,000.
    result = services.post_journal(
        journal("upwork:T1", (CASH, 90_000), (FEES, 10_000), (INCOME, -100_000))
    )
    assert result.created and result.status == "posted"
    assert services.balance(CASH).posted == 90_000
    assert services.balance(FEES).posted == 10_000
    assert services.balance(INCOME).posted == 100_000
    assert Leg.objects.filter(journal_id=result.id).count() == 3
    assert services.verify().ok


def test_replay_returns_original_and_writes_nothing(books):
    first = services.post_journal(journal("k", (CASH, 500), (INCOME, -500)))
    before = snapshot()
    again = services.post_journal(journal("k", (INCOME, -500), (CASH, 500)))
    assert (again.id, again.created) == (first.id, False)
    assert snapshot() == before


def test_replay_with_other_content_is_refused_and_writes_nothing(books):
    services.post_journal(journal("k", (CASH, 500), (INCOME, -500)))
    before = snapshot()
    with pytest.raises(IdempotencyConflict, match="'k' was already used") as info:
        services.post_journal(journal("k", (CASH, 501), (INCOME, -501)))
    assert info.value.field == "idempotency_key"
    assert snapshot() == before


def test_a_write_that_fails_inside_a_callers_transaction_undoes_only_itself(books, monkeypatch):
    # The write sets its own savepoint (by hand, not a nested atomic): a failure after its
    # rows went in takes back those rows and nothing the caller wrote before it.
    real_save_totals = services._save_totals

    def fail_after_the_rows(rows, *, release=None):
        assert Journal.objects.filter(idempotency_key="b").exists()  # the rows are in
        raise RuntimeError("the disk is full")

    with transaction.atomic():
        first = services.post_journal(journal("a", (CASH, 500), (INCOME, -500)))
        before = snapshot()
        monkeypatch.setattr(services, "_save_totals", fail_after_the_rows)
        with pytest.raises(RuntimeError, match="the disk is full"):
            services.post_journal(journal("b", (CASH, 700), (INCOME, -700)))
        assert snapshot() == before
        monkeypatch.setattr(services, "_save_totals", real_save_totals)
        # The caller's transaction goes on: a later write and the commit both work.
        services.post_journal(journal("c", (CASH, 300), (INCOME, -300)))
    assert services.balance(CASH).posted == 800
    assert list(Journal.objects.order_by("id").values_list("idempotency_key", flat=True)) == [
        "a",
        "c",
    ]
    assert Journal.objects.get(idempotency_key="a").id == first.id
    assert services.verify().ok


def test_batch_is_all_or_nothing(books):
    before = snapshot()
    batch = [
        journal("b1", (CASH, 100), (INCOME, -100)),
        journal("b2", (CASH, 200), (INCOME, -200)),
        journal("b3", (CASH, 300), ("worker:1:nope", -300)),
    ]
    with pytest.raises(UnknownAccount, match="worker:1:nope") as info:
        services.post_journals(batch)
    assert info.value.field == "journals[2].legs[1].account"
    assert snapshot() == before


def test_batch_with_repeated_key_posts_once(books):
    results = services.post_journals(
        [journal("dup", (CASH, 100), (INCOME, -100)), journal("dup", (CASH, 100), (INCOME, -100))]
    )
    assert results[0].id == results[1].id
    assert results[0].created
    assert services.balance(CASH).posted == 100


def test_batch_with_repeated_key_and_other_content_is_refused(books):
    before = snapshot()
    with pytest.raises(IdempotencyConflict, match="twice in the batch"):
        services.post_journals(
            [
                journal("dup", (CASH, 100), (INCOME, -100)),
                journal("dup", (CASH, 200), (INCOME, -200)),
            ]
        )
    assert snapshot() == before


@pytest.mark.parametrize(
    ("legs", "error", "message"),
    [
        (((CASH, 100), (INCOME, -99)), UnbalancedJournal, "off by"),
        (((CASH, 100),), InvalidJournal, "two legs"),
    ],
)
def test_bad_journals_change_nothing(books, legs, error, message):
    before = snapshot()
    with pytest.raises(error, match=message):
        services.post_journal(journal("bad", *legs))
    assert snapshot() == before


def test_unknown_currency_and_wrong_account_currency(books):
    before = snapshot()
    with pytest.raises(InvalidJournal, match="XYZ"):
        services.post_journal(journal("x", (CASH, 1), (INCOME, -1), currency="XYZ"))
    with pytest.raises(InvalidJournal, match="is in USD, the leg is in EUR") as info:
        services.post_journal(journal("x", (CASH, 1), (INCOME, -1), currency="EUR"))
    assert info.value.field == "legs[0].currency"
    assert snapshot() == before


def test_floor_refuses_overdraft_and_changes_nothing(books):
    services.post_journal(journal("in", (CASH, 10_000), (INCOME, -10_000)))
    before = snapshot()
    with pytest.raises(FloorBreached, match="worker:1:cash would go below its floor") as info:
        services.post_journal(journal("out", (SAVINGS, 10_001), (CASH, -10_001), kind="transfer"))
    assert "available 10000" in info.value.message
    assert snapshot() == before
    services.post_journal(journal("out2", (SAVINGS, 10_000), (CASH, -10_000), kind="transfer"))
    assert services.balance(CASH).posted == 0


def test_floor_checks_each_journal_of_a_batch_in_order(books):
    # Spending before the money arrives is refused even if the same batch brings it later.
    with pytest.raises(FloorBreached) as info:
        services.post_journals(
            [
                journal("spend", (SAVINGS, 500), (CASH, -500), kind="transfer"),
                journal("earn", (CASH, 500), (INCOME, -500)),
            ]
        )
    assert info.value.field == "journals[0].legs"
    assert services.balance(CASH).posted == 0


def test_reservation_holds_money_until_posted_in_part(books):
    services.post_journal(journal("in", (CASH, 50_000), (INCOME, -50_000)))
    held = services.reserve(journal("hold", (SAVINGS, 30_000), (CASH, -30_000), kind="escrow"))
    assert held.status == "pending"
    cash = services.balance(CASH)
    assert (cash.posted, cash.available, cash.pending_credits) == (50_000, 20_000, 30_000)
    # Another 20,001 out would break the floor while 30,000 is held.
    with pytest.raises(FloorBreached):
        services.post_journal(journal("x", (SAVINGS, 20_001), (CASH, -20_001), kind="transfer"))

    posted = services.post_pending(held.id, idempotency_key="hold:post", amount=12_000)
    cash = services.balance(CASH)
    assert (cash.posted, cash.available, cash.pending_credits) == (38_000, 38_000, 0)
    assert services.balance(SAVINGS).posted == 12_000
    assert Journal.objects.get(pk=held.id).status == JournalStatus.COMPLETED
    assert Journal.objects.get(pk=posted.id).pending_id == held.id
    # Replaying the post is harmless; posting again under a new key is refused.
    assert (
        services.post_pending(held.id, idempotency_key="hold:post", amount=12_000).id == posted.id
    )
    with pytest.raises(PendingStateError, match="already completed"):
        services.post_pending(held.id, idempotency_key="hold:post2")
    assert services.verify().ok


def test_post_pending_in_full(books):
    services.post_journal(journal("in", (CASH, 1_000), (INCOME, -1_000)))
    held = services.reserve(journal("hold", (SAVINGS, 700), (CASH, -700), kind="escrow"))
    services.post_pending(held.id, idempotency_key="hold:post")
    assert services.balance(CASH).posted == 300
    assert services.balance(SAVINGS).posted == 700


def test_void_releases_and_is_idempotent(books):
    services.post_journal(journal("in", (CASH, 1_000), (INCOME, -1_000)))
    held = services.reserve(journal("hold", (SAVINGS, 700), (CASH, -700), kind="escrow"))
    services.void_pending(held.id)
    services.void_pending(held.id)
    cash = services.balance(CASH)
    assert (cash.posted, cash.available) == (1_000, 1_000)
    with pytest.raises(PendingStateError, match="already voided"):
        services.post_pending(held.id, idempotency_key="late")
    assert services.verify().ok


def test_expire_after_timeout(books):
    services.post_journal(journal("in", (CASH, 1_000), (INCOME, -1_000)))
    held = services.reserve(
        journal("hold", (SAVINGS, 400), (CASH, -400), kind="escrow"), timeout=timedelta(hours=1)
    )
    assert services.expire_pending(timezone.now()) == 0
    assert services.expire_pending(timezone.now() + timedelta(hours=2)) == 1
    assert Journal.objects.get(pk=held.id).status == JournalStatus.EXPIRED
    assert services.balance(CASH).available == 1_000
    assert services.expire_pending(timezone.now() + timedelta(hours=3)) == 0


def test_reverse_restores_balances_once(books):
    original = services.post_journal(journal("in", (CASH, 2_500), (INCOME, -2_500)))
    reversal = services.reverse_journal(original.id, idempotency_key="in:reverse")
    assert services.balance(CASH).posted == 0
    assert services.balance(INCOME).posted == 0
    assert Journal.objects.get(pk=reversal.id).reverses_id == original.id
    assert services.reverse_journal(original.id, idempotency_key="in:reverse").id == reversal.id
    with pytest.raises(services.LedgerError, match="already reversed"):
        services.reverse_journal(original.id, idempotency_key="in:reverse:2")


def test_reversal_that_would_break_a_floor_is_refused(books):
    original = services.post_journal(journal("in", (CASH, 2_500), (INCOME, -2_500)))
    services.post_journal(journal("spend", (SAVINGS, 2_000), (CASH, -2_000), kind="transfer"))
    before = snapshot()
    with pytest.raises(FloorBreached):
        services.reverse_journal(original.id, idempotency_key="in:reverse")
    assert snapshot() == before


def test_balance_as_of_a_date(books):
    services.post_journal(journal("jan", (CASH, 100), (INCOME, -100), on=date(2026, 1, 31)))
    services.post_journal(journal("feb", (CASH, 250), (INCOME, -250), on=date(2026, 2, 1)))
    assert services.balance(CASH, as_of=date(2026, 1, 30)).posted == 0
    assert services.balance(CASH, as_of=date(2026, 1, 31)).posted == 100
    assert services.balance(CASH, as_of=date(2026, 2, 1)).posted == 350
    assert services.balance(INCOME, as_of=date(2026, 2, 1)).posted == 350


def test_cross_currency_goes_through_exchange_accounts(books):
    services.post_journal(journal("in", (CASH, 10_000), (INCOME, -10_000)))
    result = services.post_exchange(
        idempotency_key="fx1",
        effective_date=date(2026, 3, 2),
        source=CASH,
        source_amount=10_000,
        target="worker:1:cash:eur",
        rate=Decimal("0.9234"),
        rate_date=date(2026, 3, 1),
    )
    # $100.00 at 0.9234 is €92.34.
    assert services.balance("worker:1:cash:eur").posted == 9_234
    assert services.balance(CASH).posted == 0
    # Exchange accounts are equity (credit-normal): USD went in (debit), EUR came out.
    assert services.balance("keel:fx:usd").posted == -10_000
    assert services.balance("keel:fx:eur").posted == 9_234
    meta = Journal.objects.get(pk=result.id).metadata["exchange"]
    assert meta == {
        "rate": "0.9234",
        "rate_date": "2026-03-01",
        "source_currency": "USD",
        "target_currency": "EUR",
        "source_amount": 10_000,
        "target_amount": 9_234,
    }
    assert services.verify().ok


def test_open_account_is_idempotent_and_refuses_a_different_shape(db):
    first = services.open_account(
        "pool:3:fund", owner_type="pool", owner_id=3, kind="liability", currency="EUR"
    )
    again = services.open_account(
        "pool:3:fund", owner_type="pool", owner_id=3, kind="liability", currency="EUR"
    )
    assert first.pk == again.pk
    with pytest.raises(services.LedgerError, match="already exists"):
        services.open_account(
            "pool:3:fund", owner_type="pool", owner_id=3, kind="asset", currency="EUR"
        )


def test_verify_names_a_tampered_account(books):
    services.post_journal(journal("in", (CASH, 100), (INCOME, -100)))
    Account.objects.filter(code=CASH).update(posted_debits=999)
    report = services.verify()
    assert not report.ok
    assert any("account worker:1:cash" in problem for problem in report.problems)


def test_two_leg_amount_on_multi_leg_pending_needs_explicit_legs(books):
    services.post_journal(journal("in", (CASH, 1_000), (INCOME, -1_000)))
    held = services.reserve(
        journal("hold", (SAVINGS, 600), (FEES, 100), (CASH, -700), kind="escrow")
    )
    with pytest.raises(PendingStateError, match="explicit legs"):
        services.post_pending(held.id, idempotency_key="p", amount=100)
    services.post_pending(
        held.id,
        idempotency_key="p",
        legs=[LegSpec(SAVINGS, 300, "USD"), LegSpec(CASH, -300, "USD")],
    )
    assert services.balance(CASH).posted == 700
    assert services.balance(FEES).posted == 0
