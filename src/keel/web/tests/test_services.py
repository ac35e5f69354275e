"""The dashboard's read model, against real ledger postings."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from keel.ledger import services as ledger
from keel.ledger.rules import JournalSpec, LegSpec
from keel.web.services import (
    AccountLine,
    CurrencyAmount,
    Movement,
    account_label,
    humanize_kind,
    recent_journals,
    worker_overview,
)

from .conftest import open_accounts, post


@pytest.mark.parametrize(
    ("code", "name", "label"),
    [
        ("worker:7:benefits:health", "", "Benefits · Health"),
        ("worker:7:tax:set-aside", "", "Tax · Set aside"),
        ("worker:7:income:side_gig", "", "Income · Side gig"),
        ("worker:7:cash", "Everyday cash", "Everyday cash"),
        ("keel:fx:usd", "", "Keel · Fx · Usd"),
        ("pool:3:reserve", "", "Reserve"),
    ],
)
def test_account_label(code, name, label):
    assert account_label(code, name) == label


def test_humanize_kind():
    assert humanize_kind("benefit_contribution") == "Benefit contribution"
    assert humanize_kind("income") == "Income"


def test_overview_of_someone_without_accounts_is_empty(maya):
    overview = worker_overview(maya.pk)
    assert overview.groups == ()
    assert overview.net_position == ()
    assert overview.recent == ()
    assert not overview.has_accounts


def test_overview_groups_by_kind_and_totals_each_currency_separately(maya):
    acct = open_accounts(maya.pk)
    post("p1", (acct["cash"], 90_000), (acct["fees"], 10_000), (acct["upwork"], -100_000))
    post("p2", (acct["benefits"], 4_000), (acct["tax"], -1_500), (acct["upwork"], -2_500))
    post("p3", (acct["cash_eur"], 120_050), (acct["verlag"], -120_050), currency="EUR")

    overview = worker_overview(maya.pk, home_currency="USD")

    assert [(g.kind, g.heading) for g in overview.groups] == [
        ("asset", "What you hold"),
        ("liability", "What you owe"),
        ("income", "Income"),
        ("expense", "Expenses"),
    ]
    assets = overview.groups[0]
    # Home currency first, then by label.
    assert [(a.label, a.currency, a.posted) for a in assets.accounts] == [
        ("Benefits · Health", "USD", 4_000),
        ("Cash", "USD", 90_000),
        ("Cash · Eur", "EUR", 120_050),
    ]
    assert assets.totals == (CurrencyAmount("USD", 94_000), CurrencyAmount("EUR", 120_050))
    assert overview.groups[1].totals == (CurrencyAmount("USD", 1_500),)
    assert overview.groups[2].totals == (
        CurrencyAmount("USD", 102_500),
        CurrencyAmount("EUR", 120_050),
    )
    # Held minus owed: 94,000 - 1,500 in USD; EUR on its own.
    assert overview.net_position == (CurrencyAmount("USD", 92_500), CurrencyAmount("EUR", 120_050))


def test_overview_orders_currencies_by_code_without_a_home_currency(maya):
    acct = open_accounts(maya.pk)
    post("p1", (acct["cash"], 100), (acct["upwork"], -100))
    post("p2", (acct["cash_eur"], 200), (acct["verlag"], -200), currency="EUR")
    overview = worker_overview(maya.pk)
    assert overview.net_position == (CurrencyAmount("EUR", 200), CurrencyAmount("USD", 100))


def test_overview_shows_pending_and_available(maya):
    acct = open_accounts(maya.pk)
    post("p1", (acct["cash"], 50_000), (acct["upwork"], -50_000))
    ledger.reserve(
        JournalSpec(
            idempotency_key="hold",
            kind="transfer",
            effective_date=date(2026, 3, 3),
            legs=(LegSpec(acct["cash"], -20_000, "USD"), LegSpec(acct["fees"], 20_000, "USD")),
        )
    )

    cash = next(a for a in worker_overview(maya.pk).groups[0].accounts if a.label == "Cash")

    assert cash == AccountLine(
        code=acct["cash"],
        label="Cash",
        currency="USD",
        posted=50_000,
        pending=-20_000,
        available=30_000,
    )


def test_overview_leaves_out_other_peoples_accounts(maya, django_user_model):
    other = django_user_model.objects.create_user("sam@example.com", "x" * 12, name="Sam")
    mine, theirs = open_accounts(maya.pk), open_accounts(other.pk)
    post("mine", (mine["cash"], 100), (mine["upwork"], -100))
    post("theirs", (theirs["cash"], 999), (theirs["upwork"], -999))
    # A pool account with Maya's id as owner must not show either: it belongs to a pool.
    pool = open_accounts(maya.pk, owner_type="pool")
    post("pool", (pool["cash"], 777), (pool["upwork"], -777))

    overview = worker_overview(maya.pk)

    codes = {a.code for g in overview.groups for a in g.accounts}
    assert codes == set(mine.values())
    assert [j.memo for j in overview.recent] == [""]
    assert overview.recent[0].movements == (
        Movement("Cash", "USD", 100),
        Movement("Upwork", "USD", 100),
    )


def test_movements_are_signed_so_plus_means_the_account_grew(maya, django_user_model):
    acct = open_accounts(maya.pk)
    platform = django_user_model.objects.create_user("p@example.com", "x" * 12, name="P")
    theirs = open_accounts(platform.pk, owner_type="platform")
    post("gig", (acct["cash"], 90_000), (acct["fees"], 10_000), (acct["upwork"], -100_000))
    # A platform pays into Maya's benefits account: only her leg is shown.
    post(
        "contrib",
        (acct["benefits"], 4_000),
        (theirs["tax"], -4_000),
        kind="benefit_contribution",
        on=date(2026, 3, 5),
        memo="DashMile contribution, February",
    )
    post("spend", (acct["cash"], -2_500), (acct["fees"], 2_500), on=date(2026, 3, 6))

    spend, contrib, gig = recent_journals("worker", maya.pk)

    assert (contrib.kind, contrib.memo) == (
        "Benefit contribution",
        "DashMile contribution, February",
    )
    assert contrib.movements == (Movement("Benefits · Health", "USD", 4_000),)
    assert spend.movements == (
        Movement("Cash", "USD", -2_500),
        Movement("Platform fees", "USD", 2_500),
    )
    assert gig.movements == (
        Movement("Cash", "USD", 90_000),
        Movement("Platform fees", "USD", 10_000),
        Movement("Upwork", "USD", 100_000),
    )


def test_recent_journals_are_the_twenty_newest_newest_first(maya):
    acct = open_accounts(maya.pk)
    start = date(2026, 1, 1)
    # Posted latest date first, so journal ids run against dates; then one more on the
    # latest date: order is by date, then by posting.
    for day in range(24, -1, -1):
        post(
            f"d{day}",
            (acct["cash"], 100 + day),
            (acct["upwork"], -(100 + day)),
            on=start + timedelta(days=day),
        )
    post("late", (acct["cash"], 999), (acct["upwork"], -999), on=start + timedelta(days=24))

    recent = recent_journals("worker", maya.pk)

    assert len(recent) == 20
    assert [(j.effective_date.day, j.movements[0].amount) for j in recent[:3]] == [
        (25, 999),
        (25, 124),
        (24, 123),
    ]
    assert recent[-1].effective_date == start + timedelta(days=6)


def test_recent_journals_show_pending_and_hide_voided_and_completed(maya):
    acct = open_accounts(maya.pk)
    post("p1", (acct["cash"], 50_000), (acct["upwork"], -50_000))

    def hold(key: str, amount: int) -> int:
        return ledger.reserve(
            JournalSpec(
                idempotency_key=key,
                kind="transfer",
                effective_date=date(2026, 3, 3),
                legs=(LegSpec(acct["cash"], -amount, "USD"), LegSpec(acct["fees"], amount, "USD")),
                memo=key,
            )
        ).id

    hold("open hold", 1_000)
    ledger.void_pending(hold("voided hold", 2_000))
    ledger.post_pending(hold("completed hold", 3_000), idempotency_key="post it", memo="posted")

    recent = recent_journals("worker", maya.pk)

    assert [(j.memo, j.pending) for j in recent] == [
        ("posted", False),
        ("open hold", True),
        ("", False),
    ]
