"""The demo world is deterministic, idempotent and balanced."""

from __future__ import annotations

from datetime import date

import pytest

from keel.accounts.models import User
from keel.demo import DEMO_PASSWORD, DEMO_WORKER, load_demo
from keel.gateway import services as gateway
from keel.gateway.models import Bundle, EarningsEvent, Plan, Platform, WorkerLink
from keel.income.models import IncomeItem, Source
from keel.ledger import services
from keel.ledger.models import Journal


@pytest.mark.django_db
def test_demo_loads_three_years_once_and_balances():
    first = load_demo(end=date(2026, 6, 30))
    assert (first.start, first.end) == (date(2023, 7, 1), date(2026, 6, 30))
    assert first.journals_created > 20_000
    assert first.journals_existing == 0

    # The same seed regenerates the same journals: a replay with different content would
    # raise an idempotency conflict instead of counting them as existing.
    again = load_demo(end=date(2026, 6, 30))
    assert (again.journals_created, again.journals_existing) == (0, first.journals_created)

    # A later day adds only the new days, from the same starting point.
    later = load_demo(end=date(2026, 7, 10))
    assert later.start == date(2023, 7, 1)
    assert 0 < later.journals_created < 1_000

    demo = User.objects.get(email=DEMO_WORKER)
    assert demo.check_password(DEMO_PASSWORD)
    sources = Source.objects.filter(worker=demo)
    assert sources.count() >= 6
    assert set(sources.values_list("currency", flat=True)) == {"USD", "EUR"}
    items = IncomeItem.objects.filter(worker=demo)
    assert set(items.values_list("stream__kind", flat=True)) - {None} == {
        "recurring",
        "project",
        "micro",
    }
    assert items.earliest("occurred_on").occurred_on <= date(2023, 7, 10)
    assert date(2026, 7, 1) <= items.latest("occurred_on").occurred_on <= date(2026, 7, 10)
    # Euro income is converted at the rate of its own day; the original amount is kept.
    euro = items.filter(currency="EUR", kind="income").first()
    assert euro is not None and euro.fx_rate is not None
    assert euro.home_currency == "USD" and euro.net > 0 and euro.home_income > 0
    # Every income item is backed by exactly one ledger journal.
    assert (
        Journal.objects.filter(kind="income.income").count()
        == IncomeItem.objects.filter(kind="income").count()
    )
    assert services.verify().ok

    # The gateway: three platforms pay into Maya's account, others wait in suspense, and
    # clearing has settled batches with a short and an excess payment.
    assert sorted(Platform.objects.values_list("name", flat=True)) == ["DashEats", "RideCo", "Tidy"]
    assert WorkerLink.objects.filter(worker=demo, status="active").count() == 3
    assert EarningsEvent.objects.filter(status="suspense").exists()
    statuses = {
        state.status
        for platform in Platform.objects.all()
        for state in gateway.batches_of(platform)
    }
    assert {"settled", "short", "excess", "open"} <= statuses
    assert sum(b.balance for b in gateway.bucket_balances(demo)) > 0
    assert Bundle.objects.filter(link__worker=demo, status="accepted").count() == 1
    # DashEats pays 4% of pre-tip earnings, bonuses included: the bundle's guarantee
    # top-ups bring contributions like any other pay.
    topups = EarningsEvent.objects.filter(platform__name="DashEats", kind="topup")
    assert topups.exists()
    # (Not every one: a top-up before the worker crosses the quarter's $1,000 brings none.)
    assert any(t.contribution > 0 for t in topups)
    assert Plan.objects.count() == 3
    # RideCo has published a raise to 3% from the month after the first load's end; the
    # later load kept it, and its July events were paid under it.
    rideco = Platform.objects.get(name="RideCo")
    versions = rideco.policies.order_by("version")
    assert [(v.version, v.terms["rate_bps"]) for v in versions] == [(1, 200), (2, 300)]
    assert versions[1].effective_from == date(2026, 7, 1)
    july = EarningsEvent.objects.filter(platform=rideco, occurred_at__date__gte=date(2026, 7, 1))
    assert july.exists() and set(july.values_list("policy__version", flat=True)) == {2}
    assert later.notes and "earnings events added" in later.notes[0]
