"""Committed income from other domains: the provider registry, and how the report counts
commitments in the forecast (settled by actual payments under the same key) and in the
stability panel."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from keel.accounts.models import User
from keel.accounts.services import create_worker
from keel.income import services as income
from keel.income.commitments import (
    Commitment,
    commitments_for,
    monthly_amount,
    register_commitment_provider,
    scheduled_items,
    unregister_commitment_provider,
)
from keel.income.importers.base import ParsedRow, RowKind
from keel.income.reports import income_report
from keel.income.views import stability_metrics

AS_OF = date(2026, 3, 3)


def acme_retainer(worker: User, start: date, end: date) -> list[Commitment]:
    """Acme has committed $800.00 on the 5th of each month (one due outside any range)."""
    return [
        Commitment(date(2026, 3, 30), 80_000, "acme", "Acme retainer"),
        Commitment(date(2026, 3, 5), 80_000, "acme", "Acme retainer"),
        Commitment(date(2027, 1, 5), 80_000, "acme", "Acme retainer"),
    ]


@pytest.fixture
def provider() -> Iterator[None]:
    register_commitment_provider(acme_retainer)
    yield
    unregister_commitment_provider(acme_retainer)


@pytest.fixture
def worker(db: None) -> User:
    user = create_worker("ana@example.org", name="Ana Lima", password=None, currency="USD")
    settings = income.income_settings(user)
    settings.tax_set_aside = False
    settings.essential_expenses = 200_000
    settings.save()
    return user


def test_providers_are_asked_for_a_range_and_registered_once(provider: None, worker: User) -> None:
    register_commitment_provider(acme_retainer)  # again: still one provider
    found = commitments_for(worker, date(2026, 3, 1), date(2026, 3, 31))
    assert [(c.due_on, c.amount, c.key) for c in found] == [
        (date(2026, 3, 5), 80_000, "acme"),
        (date(2026, 3, 30), 80_000, "acme"),
    ]
    unregister_commitment_provider(acme_retainer)
    assert commitments_for(worker, date(2026, 3, 1), date(2026, 3, 31)) == []


def test_a_commitment_is_checked_like_a_scheduled_item() -> None:
    with pytest.raises(TypeError):
        Commitment(date(2026, 3, 5), 800.0, "acme", "Acme")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="key"):
        Commitment(date(2026, 3, 5), 80_000, "", "Acme")
    assert monthly_amount([Commitment(date(2026, 3, 5), 90_000, "a", "A")], 90) == 30_416


def test_report_counts_commitments_an_actual_payment_has_not_settled(
    provider: None, worker: User
) -> None:
    acme = income.ensure_source(worker, "Acme", kind="client", default_stream="recurring")
    assert acme.slug == "acme"  # the key the provider chose
    # Paid three days early: settles the commitment due Mar 5 (within 7 days, same amount).
    income.book_rows(
        worker,
        acme,
        [
            ParsedRow(
                line=2,
                kind=RowKind.INCOME,
                occurred_on=date(2026, 3, 2),
                currency="USD",
                gross=80_000,
                fee=0,
                tips=0,
                net=80_000,
                external_id="A1",
                raw=(),
                stream_hint="",
            )
        ],
    )

    report = income_report(worker, as_of=AS_OF, paths=50)

    assert [c.due_on for c in report.commitments] == [date(2026, 3, 5), date(2026, 3, 30)]
    # Only the Mar 30 commitment is still open: day 27 of the forecast.
    assert report.forecast.scheduled_income[27] == 80_000
    assert sum(report.forecast.scheduled_income) == 80_000
    # Acme has a schedule, so its history is not projected as well.
    assert sum(report.forecast.projected_recurring) == 0
    assert "acme" not in report.forecast.simulated_sources
    # Both commitments in the 90 days: $1,600.00 is $540.74 in an average month,
    # 27.037% of $2,000.00 of essentials (the 12-month window has no recurring income).
    assert report.stability.committed_monthly == 54_074
    assert report.stability.recurring_baseline_monthly == 0
    assert report.stability.baseline_coverage == pytest.approx(0.27037)
    assert report.as_dict()["commitments"][1] == {
        "due_on": "2026-03-30",
        "amount": 80_000,
        "key": "acme",
        "label": "Acme retainer",
    }
    metric = next(m for m in stability_metrics(report, {}) if m.key == "baseline_coverage")
    assert metric.value == "27%"
    assert metric.detail == (
        "Recurring income $0.00 a month plus $540.74 a month committed ahead (Acme retainer,"
        " averaged over the next 90 days) against essential expenses of $2,000.00."
    )


def test_report_without_commitments_is_unchanged(worker: User) -> None:
    report = income_report(worker, as_of=AS_OF, paths=50)
    assert report.commitments == ()
    assert report.stability.committed_monthly == 0
    assert report.stability.baseline_coverage == 0.0
    assert sum(report.forecast.scheduled_income) == 0


def test_one_off_commitments_are_scheduled_but_never_a_recurring_baseline() -> None:
    weekly = Commitment(date(2026, 7, 6), 10_000, "bundle-1", "Bundle week 1")
    milestone = Commitment(date(2026, 7, 20), 300_000, "acme", "Milestone 2", kind="milestone")
    assert [item.kind for item in scheduled_items([weekly, milestone])] == [
        "recurring",
        "milestone",
    ]
    # 10000 x 365 / (12 x 30) = 10138.9 -> 10138; the milestone adds nothing.
    assert monthly_amount([weekly, milestone], 30) == 10_138
    with pytest.raises(ValueError, match="kind must be one of"):
        Commitment(date(2026, 7, 20), 1, "acme", "x", kind="windfall")
