"""Booking income: every item is one balanced journal, fees visible, refunds reduce income,
payouts are transfers, foreign income converted at its own day's rate, all or nothing."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from keel.accounts.services import create_worker
from keel.income import services as income
from keel.income.importers.base import ParsedRow, RowKind
from keel.income.models import ExchangeRate, IncomeItem, Source
from keel.ledger import services as ledger
from keel.ledger.models import Journal, Leg


@pytest.fixture
def worker(db):
    user = create_worker("ana@example.org", name="Ana Lima", password=None, currency="USD")
    # Cash here is exactly what reached the bank; the set-aside has its own tests.
    settings = income.income_settings(user)
    settings.tax_set_aside = False
    settings.save()
    return user


def test_tax_set_aside_moves_a_share_of_each_payment(worker, upwork):
    settings = income.income_settings(worker)
    settings.tax_set_aside, settings.tax_rate_bps = True, 2_500
    settings.save()
    income.book_rows(
        worker,
        upwork,
        [
            # 25% of $90.10 take-home = $22.525, rounded half up: $22.53.
            row(2, RowKind.INCOME, gross=10_000, fee=990, external_id="P1"),
            # 25% of $10.01 = $2.5025: $2.50.
            row(3, RowKind.INCOME, gross=1_001, external_id="P2"),
            row(4, RowKind.TRANSFER, net=-10_011, external_id="W1"),
        ],
    )
    assert balance(worker, "tax") == 2_253 + 250
    # The payout brought $100.11 to cash, of which $25.03 is set aside.
    assert balance(worker, "cash") == 10_011 - 2_503
    journal = IncomeItem.objects.get(external_id="P1").journal
    assert journal.metadata["tax_set_aside"] == 2_253
    assert ledger.verify().ok


def test_tax_set_aside_turned_off_moves_nothing(worker, upwork):
    income.book_rows(worker, upwork, [row(2, RowKind.INCOME, gross=10_000, external_id="P")])
    assert not ledger.Account.objects.filter(code=f"worker:{worker.pk}:tax").exists()


@pytest.fixture
def upwork(worker):
    return income.ensure_source(worker, "Upwork", kind="platform", default_stream="project")


def row(
    line: int,
    kind: RowKind,
    *,
    gross: int = 0,
    fee: int = 0,
    tips: int = 0,
    net: int | None = None,
    on: date = date(2026, 3, 2),
    currency: str = "USD",
    external_id: str = "",
    raw: tuple[str, ...] = (),
    stream: str = "",
) -> ParsedRow:
    if net is None:
        net = {
            RowKind.INCOME: gross + tips - fee,
            RowKind.REFUND: -gross - fee,
            RowKind.FEE: -fee,
            RowKind.TRANSFER: 0,
        }[kind]
    return ParsedRow(
        line=line,
        kind=kind,
        occurred_on=on,
        currency=currency,
        gross=gross,
        fee=fee,
        tips=tips,
        net=net,
        external_id=external_id,
        raw=raw,
        stream_hint=stream,
    )


def balance(worker, *parts: str) -> int:
    return ledger.balance(":".join(("worker", str(worker.pk), *parts))).posted


def test_payment_books_gross_fee_and_net(worker, upwork):
    # $500.00 fixed price, 10% service fee: $450.00 reaches the Upwork balance.
    booked = income.book_rows(
        worker, upwork, [row(2, RowKind.INCOME, gross=50_000, fee=5_000, external_id="T1")]
    )
    assert (booked.imported, booked.applied) == (1, True)
    assert balance(worker, "sources", "upwork", "usd") == 45_000
    assert balance(worker, "expenses", "fees", "upwork") == 5_000
    assert balance(worker, "income", "upwork", "project") == 50_000
    item = IncomeItem.objects.get(worker=worker)
    assert (item.gross, item.fee, item.net, item.home_income) == (50_000, 5_000, 45_000, 45_000)
    legs = sorted(Leg.objects.filter(journal=item.journal).values_list("amount", flat=True))
    assert legs == [-50_000, 5_000, 45_000]
    assert item.journal.metadata["source"] == "upwork"


def test_tips_refunds_fees_and_payouts(worker, upwork):
    income.book_rows(
        worker,
        upwork,
        [
            row(2, RowKind.INCOME, gross=10_000, tips=1_500, fee=1_000, external_id="A"),
            row(3, RowKind.REFUND, gross=2_000, fee=-200, external_id="B"),  # fee given back
            row(4, RowKind.FEE, fee=1_200, external_id="C"),
            row(5, RowKind.TRANSFER, net=-6_000, fee=99, external_id="D"),
        ],
    )
    # Held at Upwork: +10,500 (10,000 + 1,500 - 1,000) - 1,800 refund - 1,200 fee
    # - 6,000 payout = 1,500.
    assert balance(worker, "sources", "upwork", "usd") == 1_500
    # Income: 10,000 earned - 2,000 refunded; tips on their own account.
    assert balance(worker, "income", "upwork", "project") == 8_000
    assert balance(worker, "income", "upwork", "tips") == 1_500
    # Fees: 1,000 - 200 given back + 1,200 connects + 99 withdrawal fee = 2,099.
    assert balance(worker, "expenses", "fees", "upwork") == 2_099
    # The payout is the worker's own money moving: 6,000 left Upwork, 5,901 reached cash.
    assert balance(worker, "cash") == 5_901
    home = dict(IncomeItem.objects.values_list("external_id", "home_income"))
    assert home == {"A": 10_500, "B": -1_800, "C": -1_200, "D": 0}
    assert ledger.verify().ok


def test_reimport_adds_nothing_and_identical_rows_both_survive(worker, upwork):
    rows = [
        row(2, RowKind.INCOME, gross=700, raw=("2026-03-02", "Task", "7.00")),
        row(3, RowKind.INCOME, gross=700, raw=("2026-03-02", "Task", "7.00")),
        row(4, RowKind.INCOME, gross=900, raw=("2026-03-02", "Task", "9.00")),
    ]
    first = income.book_rows(worker, upwork, rows)
    assert (first.imported, first.duplicates) == (3, 0)
    journals = Journal.objects.count()
    again = income.book_rows(worker, upwork, rows)
    assert (again.imported, again.duplicates) == (0, 3)
    assert Journal.objects.count() == journals
    # An overlapping export: the same rows plus one new identical task.
    overlap = income.book_rows(
        worker,
        upwork,
        [*rows[:2], row(9, RowKind.INCOME, gross=700, raw=("2026-03-02", "Task", "7.00"))],
    )
    assert (overlap.imported, overlap.duplicates) == (1, 2)
    assert balance(worker, "income", "upwork", "project") == 3_000


def test_one_bad_row_books_nothing(worker, upwork):
    rejected: list[dict] = []
    booked = income.book_rows(
        worker,
        upwork,
        [
            row(2, RowKind.INCOME, gross=1_000, external_id="ok"),
            row(3, RowKind.INCOME, gross=1_000, fee=100, net=999, external_id="bad"),
        ],
        rejected=rejected,
    )
    assert (booked.imported, booked.applied) == (0, False)
    assert rejected == [
        {"line": 3, "column": "", "reason": "net 999 does not equal gross 1000 + tips 0 - fee 100"}
    ]
    assert IncomeItem.objects.count() == 0
    assert Journal.objects.count() == 0


def test_foreign_income_converts_at_its_own_days_rate(worker):
    verlag = income.ensure_source(worker, "Berliner Verlag", kind="client", currency="EUR")
    income.set_rate(None, "EUR", "USD", date(2026, 3, 2), Decimal("1.0800"))
    income.set_rate(worker, "EUR", "USD", date(2026, 3, 2), Decimal("1.0850"))  # own wins
    income.set_rate(None, "EUR", "USD", date(2026, 3, 9), Decimal("1.1000"))
    income.book_rows(
        worker,
        verlag,
        [
            row(2, RowKind.INCOME, gross=100_000, currency="EUR", external_id="inv-1"),
            # No rate on Saturday the 7th: the latest in the week before (the 2nd) applies.
            row(
                3,
                RowKind.INCOME,
                gross=20_000,
                currency="EUR",
                on=date(2026, 3, 7),
                external_id="inv-2",
            ),
            row(
                4,
                RowKind.INCOME,
                gross=10_000,
                currency="EUR",
                on=date(2026, 3, 9),
                external_id="inv-3",
            ),
        ],
    )
    items = {i.external_id: i for i in IncomeItem.objects.all()}
    # €1,000.00 x 1.0850 = $1,085.00; €200 x 1.0850 = $217.00; €100 x 1.1 = $110.00.
    assert [items[k].home_income for k in ("inv-1", "inv-2", "inv-3")] == [108_500, 21_700, 11_000]
    assert items["inv-1"].net == 100_000 and items["inv-1"].currency == "EUR"
    assert items["inv-1"].fx_rate == Decimal("1.0850")
    # The ledger keeps euros in euro accounts; nothing was added across currencies.
    assert ledger.balance(f"worker:{worker.pk}:sources:berliner-verlag:eur").posted == 130_000


def test_missing_rate_refuses_the_whole_file(worker):
    verlag = income.ensure_source(worker, "Berliner Verlag", kind="client", currency="EUR")
    rejected: list[dict] = []
    booked = income.book_rows(
        worker,
        verlag,
        [row(2, RowKind.INCOME, gross=5_000, currency="EUR", external_id="x")],
        rejected=rejected,
    )
    assert not booked.applied
    assert "no EUR→USD exchange rate on or in the week before 2026-03-02" in rejected[0]["reason"]
    assert Journal.objects.count() == 0


def test_every_missing_rate_is_named_by_its_line_at_once(worker):
    # One rejection per currency and day without a rate, naming the first row of that day:
    # the worker adds every rate the file needs in one go, not one per upload.
    verlag = income.ensure_source(worker, "Berliner Verlag", kind="client", currency="EUR")
    rows = [
        row(2, RowKind.INCOME, gross=5_000, currency="EUR", external_id="a"),
        row(3, RowKind.INCOME, gross=6_000, currency="EUR", external_id="b"),
        row(4, RowKind.TRANSFER, gross=5_000, net=-5_000, currency="EUR", external_id="c",
            on=date(2026, 3, 20)),
        row(5, RowKind.INCOME, gross=7_000, currency="EUR", external_id="d",
            on=date(2026, 3, 20)),
        row(6, RowKind.INCOME, gross=8_000, currency="GBP", external_id="e"),
    ]  # fmt: skip
    rejected: list[dict] = []
    booked = income.book_rows(worker, verlag, rows, rejected=rejected)
    assert not booked.applied
    assert [(r["line"], r["column"], r["reason"][:42]) for r in rejected] == [
        (2, "Currency", "no EUR→USD exchange rate on or in the week"),
        (5, "Currency", "no EUR→USD exchange rate on or in the week"),
        (6, "Currency", "no GBP→USD exchange rate on or in the week"),
    ]
    assert "before 2026-03-20;" in rejected[1]["reason"]
    assert Journal.objects.count() == 0


def test_a_shared_rate_is_kept_once_per_pair_and_day(db):
    # Shared rates have no worker, and SQL never finds two NULLs equal: without a
    # constraint of their own, a second load (the demo's, at every start) added a copy,
    # and setting the rate again then failed with MultipleObjectsReturned.
    income.set_rate(None, "EUR", "USD", date(2026, 3, 2), "1.08")
    copy = ExchangeRate(worker=None, base="EUR", quote="USD", on=date(2026, 3, 2), rate=1)
    ExchangeRate.objects.bulk_create([copy], ignore_conflicts=True)
    income.set_rate(None, "EUR", "USD", date(2026, 3, 2), "1.09")
    shared = ExchangeRate.objects.filter(worker=None)
    assert list(shared.values_list("base", "quote", "on", "rate")) == [
        ("EUR", "USD", date(2026, 3, 2), Decimal("1.09"))
    ]


@pytest.mark.parametrize(
    ("base", "quote", "rate", "message"),
    [
        # 24 digits, 10 after the point: a larger rate was saved and then every import
        # needing it failed reading it back (decimal.InvalidOperation)...
        ("CHF", "USD", "123456789012345678", "rate 123456789012345678 is too large"),
        # ...and a rate below 1e-10 was saved as 0E-10, refusing imports with no line named.
        ("NOK", "USD", "0.00000000001", "rate 0.00000000001 has more than 10 decimal places"),
        ("USD", "USD", "1.5", "a rate converts USD into another currency, not itself"),
    ],
)
def test_a_rate_the_books_cannot_hold_or_use_is_refused(worker, base, quote, rate, message):
    with pytest.raises(income.IncomeError, match=message):
        income.set_rate(worker, base, quote, date(2026, 3, 2), rate)
    assert not ExchangeRate.objects.filter(worker=worker).exists()


def test_the_finest_and_largest_rates_the_column_holds_are_kept(worker):
    income.set_rate(worker, "IDR", "USD", date(2026, 3, 2), "0.0000000613")
    income.set_rate(worker, "USD", "IDR", date(2026, 3, 2), "99999999999999")
    rates = dict(ExchangeRate.objects.filter(worker=worker).values_list("base", "rate"))
    assert rates == {
        "IDR": Decimal("0.0000000613"),
        "USD": Decimal("99999999999999"),
    }


def test_rate_file_is_all_or_nothing(worker):
    with pytest.raises(income.IncomeError, match="line 3, column rate"):
        income.import_rates(
            None, "date,base,quote,rate\n2026-01-02,EUR,USD,1.09\n2026-01-03,EUR,USD,abc\n"
        )
    assert income.ExchangeRate.objects.count() == 0
    assert income.import_rates(None, "\ufeffdate,base,quote,rate\n2026-01-02,EUR,USD,1.09\n") == 1


def test_streams_by_hint_and_default(worker, upwork):
    income.book_rows(
        worker,
        upwork,
        [
            row(2, RowKind.INCOME, gross=1_000, external_id="a"),
            row(3, RowKind.INCOME, gross=2_000, external_id="b", stream="recurring"),
        ],
    )
    kinds = dict(IncomeItem.objects.values_list("external_id", "stream__kind"))
    assert kinds == {"a": "project", "b": "recurring"}
    assert balance(worker, "income", "upwork", "recurring") == 2_000


def test_salary_moves_from_buffer_to_cash_once_per_pay_day(worker):
    settings = income.income_settings(worker)
    settings.salary, settings.salary_day = 300_000, 25
    settings.save()
    ledger.post_journal(
        ledger.JournalSpec(
            "fund-buffer",
            "transfer",
            date(2026, 3, 1),
            (
                ledger.LegSpec(f"worker:{worker.pk}:buffer", 500_000, "USD"),
                ledger.LegSpec(f"worker:{worker.pk}:cash", -500_000, "USD"),
            ),
        )
    )
    assert [(w.pk, o) for w, o in income.pay_salaries_due(date(2026, 3, 24))] == []
    assert [o for _, o in income.pay_salaries_due(date(2026, 3, 25))] == ["paid"]
    assert [o for _, o in income.pay_salaries_due(date(2026, 3, 25))] == ["already paid"]
    assert balance(worker, "buffer") == 200_000
    assert balance(worker, "cash") == -200_000
    # April's salary would take the buffer below zero: refused, nothing moves.
    outcome = income.pay_salaries_due(date(2026, 4, 25))
    assert outcome[0][1].startswith("not paid: account worker:")
    assert balance(worker, "buffer") == 200_000


def test_names_without_ascii_letters_are_sources_of_their_own(worker):
    # slugify drops every letter of these: all three were the one source "source", and
    # adding the second or third returned the first.
    names = ["Мария Иванова", "Иван Петров", "東京デザイン"]
    sources = [income.ensure_source(worker, n, kind="client") for n in names]
    assert [s.name for s in sources] == names
    assert len({s.pk for s in sources}) == 3
    assert income.ensure_source(worker, "Иван Петров", kind="client") == sources[1]
    # Names with ASCII letters keep the slug they always had (it is in every identity).
    assert income.source_slug("Müller GmbH") == "muller-gmbh"


def test_a_source_saved_under_the_old_empty_slug_keeps_its_items(worker):
    legacy = Source.objects.create(
        worker=worker, name="Мария Иванова", slug="source", kind="client", currency="USD"
    )
    assert income.ensure_source(worker, "Мария Иванова", kind="client") == legacy
    assert income.ensure_source(worker, "Иван Петров", kind="client") != legacy


def test_a_profile_name_longer_than_its_column_is_refused(worker):
    config = {"name": "n" * 81, "currency": "EUR", "columns": {"date": "D", "amount": "A"}}
    with pytest.raises(income.IncomeError, match="name must be at most 80 characters"):
        income.save_import_profile(worker, config)
    assert income.save_import_profile(worker, {**config, "name": "n" * 80}).name == "n" * 80


def test_a_fee_credited_back_on_its_own_is_booked(worker, upwork):
    # Importers write a fee given back without its payment as a fee row with a negative
    # fee (Etsy "Credit for Etsy Ads", "VAT: transaction credit"); the service refused
    # them ("a fee row needs a positive fee"), and with them the whole statement.
    rows = [
        row(2, RowKind.FEE, fee=1_000, external_id="F1"),
        row(3, RowKind.FEE, fee=-795, external_id="C1"),
    ]
    rejected: list[dict] = []
    booked = income.book_rows(worker, upwork, rows, rejected=rejected)
    assert (rejected, booked.applied, booked.imported) == ([], True, 2)
    credit = IncomeItem.objects.get(external_id="C1")
    assert (credit.kind, credit.fee, credit.net) == ("fee", -795, 795)
    fees = f"worker:{worker.pk}:expenses:fees:upwork"
    assert ledger.balance(fees).posted == 1_000 - 795
    assert ledger.verify().ok


def test_money_spent_from_a_balance_does_not_reach_cash(worker, upwork):
    # A purchase paid from a platform balance was booked as a transfer to the worker's
    # cash: paying $29.99 added $29.99 to "Cash" and to the forecast's starting balance.
    spent = ParsedRow(
        line=3, kind=RowKind.TRANSFER, occurred_on=date(2026, 3, 3), currency="USD",
        gross=2_999, net=-2_999, external_id="P1", spent=True,
    )  # fmt: skip
    rows = [row(2, RowKind.INCOME, gross=10_000, external_id="I1"), spent]
    assert income.book_rows(worker, upwork, rows).applied
    assert balance(worker, "cash") == 0
    assert balance(worker, "expenses:spent") == 2_999
    assert ledger.verify().ok


def test_money_goes_into_the_buffer_and_back_out_once_per_key(worker):
    # $1,200.00 put aside, $450.00 taken back: the buffer holds $750.00, cash gave $750.00.
    put = income.move_buffer(
        worker, 120_000, into_buffer=True, on=date(2026, 3, 2), idempotency_key="form-1"
    )
    again = income.move_buffer(
        worker, 120_000, into_buffer=True, on=date(2026, 3, 2), idempotency_key="form-1"
    )
    assert put.created and not again.created and again.id == put.id
    income.move_buffer(
        worker, 45_000, into_buffer=False, on=date(2026, 3, 3), idempotency_key="form-2"
    )
    assert balance(worker, "buffer") == 75_000
    assert balance(worker, "cash") == -75_000
    # Salary then comes out of what was put aside.
    settings = income.income_settings(worker)
    settings.salary = 70_000
    settings.save()
    income.pay_salary(worker, date(2026, 3, 25))
    assert balance(worker, "buffer") == 5_000
    assert balance(worker, "cash") == -5_000


@pytest.mark.parametrize(
    ("amount", "into_buffer", "key", "message"),
    [
        (5_001, False, "k-over", r"the buffer holds \$50\.00: no more than that can come out"),
        (0, True, "k-zero", "enter an amount above zero"),
        (-100, False, "k-negative", "enter an amount above zero"),
        (10**15 + 1, True, "k-huge", "out of range"),
        (2_000, True, "form-1", "already sent with other figures"),
    ],
)
def test_buffer_moves_that_cannot_happen_change_nothing(worker, amount, into_buffer, key, message):
    income.move_buffer(
        worker, 5_000, into_buffer=True, on=date(2026, 3, 2), idempotency_key="form-1"
    )
    journals = Journal.objects.count()
    with pytest.raises(income.IncomeError, match=message):
        income.move_buffer(
            worker, amount, into_buffer=into_buffer, on=date(2026, 3, 4), idempotency_key=key
        )
    assert Journal.objects.count() == journals
    assert balance(worker, "buffer") == 5_000
    assert balance(worker, "cash") == -5_000


def test_a_buffer_move_is_not_dated_after_today(worker):
    tomorrow = timezone.localdate() + timedelta(days=1)
    with pytest.raises(income.IncomeError, match="after today") as refused:
        income.move_buffer(worker, 100, into_buffer=True, on=tomorrow, idempotency_key="k")
    assert refused.value.field == "on"
    assert balance(worker, "buffer") == 0
