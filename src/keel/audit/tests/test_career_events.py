"""A client's release of a milestone before Keel's automatic release, a dispute and its
resolution are recorded as the worker records them; Keel's own release after the review
window is not a person's act and is not."""

from __future__ import annotations

from datetime import date

import pytest

from keel.accounts.models import User
from keel.career import services
from keel.career.errors import CareerError
from keel.career.models import Contract, Milestone
from keel.career.services import MilestoneInput

from .conftest import event, recorded

FUNDED, DELIVERED, ACTED = date(2026, 2, 27), date(2026, 3, 5), date(2026, 3, 8)


@pytest.fixture
def contract(alice: User) -> Contract:
    return services.create_contract(
        alice,
        title="Website redesign",
        client_name="Acme Studio",
        currency="EUR",
        credit_limit=150_000,
        milestones=[MilestoneInput("Design", 100_000, due_on=date(2026, 3, 31))],
    )


@pytest.fixture
def delivered(contract: Contract, alice: User) -> Milestone:
    milestone = contract.milestones.get()
    services.fund_milestone(milestone, on=FUNDED, recorded_by=alice)
    return services.deliver_milestone(milestone, on=DELIVERED, recorded_by=alice)


def test_an_early_release_is_recorded(delivered, contract, alice):
    services.release_milestone(delivered, on=ACTED, recorded_by=alice, amount=60_000)
    assert recorded() == [
        event(
            "milestone.released",
            actor_id=alice.pk,
            actor_label="alice@example.org",
            subject=f"milestone:{delivered.pk}",
            worker_id=alice.pk,
            details={
                "contract": contract.pk,
                "milestone": 1,
                "on": "2026-03-08",
                "amount": 60_000,
                "currency": "EUR",
            },
        )
    ]


def test_a_replayed_release_is_recorded_once(delivered, alice):
    for _ in range(2):
        services.release_milestone(delivered, on=ACTED, recorded_by=alice, key="release-1")
    assert [e["action"] for e in recorded()] == ["milestone.released"]


def test_a_refused_release_is_not_recorded(delivered, alice):
    with pytest.raises(CareerError):
        services.release_milestone(delivered, on=ACTED, recorded_by=alice, amount=200_000)
    assert recorded() == []


def test_the_automatic_release_is_not_a_persons_act(delivered):
    report = services.auto_release_due(date(2026, 3, 19))
    assert report.released == [delivered.pk]
    assert recorded() == []


def test_a_dispute_is_recorded_without_its_reason(delivered, contract, alice):
    services.dispute_milestone(
        delivered, on=ACTED, reason="The pages do not match the design", recorded_by=alice
    )
    assert recorded() == [
        event(
            "milestone.disputed",
            actor_id=alice.pk,
            actor_label="alice@example.org",
            subject=f"milestone:{delivered.pk}",
            worker_id=alice.pk,
            details={"contract": contract.pk, "milestone": 1, "on": "2026-03-08"},
        )
    ]


def test_a_resolution_moves_the_escrow_and_is_recorded(delivered, contract, alice):
    # €600.00 of the €1,000.00 in escrow awarded to the worker, the rest back to the client.
    services.dispute_milestone(delivered, on=ACTED, reason="Late pages", recorded_by=alice)
    services.resolve_milestone(
        delivered, on=date(2026, 3, 12), awarded=60_000, recorded_by=alice, key="resolve-1"
    )
    services.resolve_milestone(
        delivered, on=date(2026, 3, 12), awarded=60_000, recorded_by=alice, key="resolve-1"
    )
    assert recorded()[1:] == [
        event(
            "milestone.resolved",
            actor_id=alice.pk,
            actor_label="alice@example.org",
            subject=f"milestone:{delivered.pk}",
            worker_id=alice.pk,
            details={
                "contract": contract.pk,
                "milestone": 1,
                "on": "2026-03-12",
                "amount": 60_000,
                "currency": "EUR",
            },
        )
    ]
