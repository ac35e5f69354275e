"""The demo world is deterministic, idempotent and balanced."""

from __future__ import annotations

from datetime import date

import pytest

from keel.accounts.models import User
from keel.demo import DEMO_PASSWORD, DEMO_WORKER, load_demo
from keel.ledger import services
from keel.ledger.models import Account, Journal


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
    income = Account.objects.filter(owner_type="worker", owner_id=demo.pk, kind="income")
    assert income.count() >= 6
    assert set(income.values_list("currency", flat=True)) == {"USD", "EUR"}
    dates = Journal.objects.filter(idempotency_key__startswith=f"demo:{demo.pk}:")
    assert dates.earliest("effective_date").effective_date <= date(2023, 7, 10)
    assert date(2026, 7, 1) <= dates.latest("effective_date").effective_date <= date(2026, 7, 10)
    assert services.verify().ok
