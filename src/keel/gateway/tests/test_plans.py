"""Scaled purchasing power: the plan catalogue, enrollment, group prices and monthly
premiums paid from the health bucket."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from keel.accounts.models import User
from keel.accounts.services import create_worker
from keel.gateway import services
from keel.gateway.errors import Conflict, GatewayError, NotFound
from keel.gateway.models import BenefitUse, Enrollment, Plan, Platform, PremiumCharge
from keel.gateway.tests.conftest import PASSWORD, event
from keel.ledger.models import Journal

NOVEMBER = date(2026, 11, 1)
HEALTH_ONLY = {"health": 10_000, "retirement": 0, "time_off": 0, "emergency": 0, "tax": 0}


@pytest.fixture
def plan(db: None) -> Plan:
    # Individual $450.00 a month; $405.00 from 10 members, $360.00 from 50, $315.00 from 200.
    return services.add_plan(
        "Freelancers Mutual",
        "health insurance",
        "Bronze health",
        "USD",
        45_000,
        [(10, 40_500), (50, 36_000), (200, 31_500)],
    )


def members(count: int, plan: Plan, on: date = date(2026, 10, 1)) -> list[User]:
    first = User.objects.count()
    people = [
        create_worker(f"m{i}@example.org", name=f"Member {i}", password=PASSWORD)
        for i in range(first, first + count)
    ]
    for person in people:
        services.enroll(person, plan, on)
    return people


def fund_health(worker: User, amount: int) -> None:
    """Put `amount` in the worker's health bucket through a real contribution."""
    services.set_allocation(worker, HEALTH_ONLY)
    payer = Platform.objects.filter(name="Payer").first() or services.create_platform(
        "Payer", policy={"currency": "USD", "per_job": 1}, effective_from=date(2026, 1, 1)
    )
    ref = f"w-{worker.pk}"
    if not payer.links.filter(worker_ref=ref).exists():
        services.link_with_code(payer, ref, services.create_link_code(worker))
    count = payer.events.count()
    services.record_events(
        payer, [event(f"fund-{count}", "2026-10-15", 0, jobs=amount, worker_ref=ref)]
    )


def health(worker: User) -> int:
    return services.bucket_balance(worker, "health", "USD")


# ---------------------------------------------------------------------------- prices


def test_ten_members_each_pay_the_first_tier(plan: Plan) -> None:
    people = members(10, plan)
    fund_health(people[0], 50_000)
    journals = Journal.objects.count()

    made = services.charge_premiums(date(2026, 11, 17))  # any day of the month

    assert len(made) == 10
    assert {(c.month, c.amount, c.individual_price, c.enrolled_count) for c in made} == {
        (NOVEMBER, 40_500, 45_000, 10)
    }
    paid = PremiumCharge.objects.get(enrollment__worker=people[0])
    assert paid.paid is True
    assert paid.use is not None
    assert (paid.use.kind, paid.use.bucket, paid.use.amount, paid.use.provider) == (
        "premium",
        "health",
        40_500,
        "Freelancers Mutual",
    )
    assert paid.use.idempotency_key == f"premium:{paid.enrollment_id}:2026-11"
    assert health(people[0]) == 9_500
    # The nine with empty buckets owe theirs, unpaid and visible; one journal in all.
    assert PremiumCharge.objects.filter(paid=False, use__isnull=True).count() == 9
    assert Journal.objects.count() == journals + 1

    prices = services.plan_prices(plan, NOVEMBER)
    assert (prices.enrolled, prices.price, prices.saving) == (10, 40_500, 4_500)
    assert (prices.next_members, prices.next_price) == (40, 36_000)


def test_nine_members_pay_the_individual_price(plan: Plan) -> None:
    members(9, plan)
    made = services.charge_premiums(NOVEMBER)
    assert [c.amount for c in made] == [45_000] * 9
    prices = services.plan_prices(plan, NOVEMBER)
    assert (prices.enrolled, prices.price, prices.saving) == (9, 45_000, 0)
    assert (prices.next_members, prices.next_price) == (1, 40_500)


def test_the_price_is_set_by_the_members_on_the_first_of_the_month(plan: Plan) -> None:
    people = members(9, plan)
    # The tenth joins on Nov 2: November is still priced for nine, December for ten.
    people += members(1, plan, date(2026, 11, 2))
    assert {c.amount for c in services.charge_premiums(NOVEMBER)} == {45_000}
    assert len(services.charge_premiums(date(2026, 12, 1))) == 10
    assert set(
        PremiumCharge.objects.filter(month=date(2026, 12, 1)).values_list("amount", flat=True)
    ) == {40_500}


def test_charging_a_month_twice_charges_once(plan: Plan) -> None:
    people = members(10, plan)
    fund_health(people[0], 50_000)
    services.charge_premiums(NOVEMBER)
    journals, uses = Journal.objects.count(), BenefitUse.objects.count()

    assert services.charge_premiums(NOVEMBER) == []

    assert PremiumCharge.objects.count() == 10
    assert (Journal.objects.count(), BenefitUse.objects.count()) == (journals, uses)
    assert health(people[0]) == 9_500


def test_a_bucket_too_small_leaves_the_premium_unpaid(plan: Plan) -> None:
    (person,) = members(1, plan)
    fund_health(person, 44_999)
    journals = Journal.objects.count()

    (charge,) = services.charge_premiums(NOVEMBER)

    assert (charge.amount, charge.paid, charge.use) == (45_000, False, None)
    assert Journal.objects.count() == journals
    assert BenefitUse.objects.count() == 0
    assert health(person) == 44_999

    # Paying later is refused while the bucket is short, and works once it holds enough.
    with pytest.raises(GatewayError) as caught:
        services.pay_premium(person, charge.pk)
    assert caught.value.code == "insufficient_funds"
    assert Journal.objects.count() == journals
    fund_health(person, 1)
    paid = services.pay_premium(person, charge.pk)
    assert (paid.paid, paid.use.amount if paid.use else None) == (True, 45_000)
    assert health(person) == 0
    assert services.pay_premium(person, charge.pk).use == paid.use  # paying twice: once
    assert BenefitUse.objects.count() == 1


def test_only_members_active_in_the_month_are_charged(plan: Plan) -> None:
    stays, left_on_first, left_on_second, later = members(4, plan)
    services.leave(left_on_first, services.open_enrollment(left_on_first, plan), NOVEMBER)  # type: ignore[arg-type]
    services.leave(
        left_on_second, services.open_enrollment(left_on_second, plan), date(2026, 11, 2)
    )  # type: ignore[arg-type]
    Enrollment.objects.filter(worker=later).update(started_on=date(2026, 12, 1))

    made = services.charge_premiums(NOVEMBER)

    assert {c.enrollment.worker for c in made} == {stays, left_on_second}
    # Two members on Nov 1 (the one leaving on the 1st is gone that day).
    assert {c.enrolled_count for c in made} == {2}


# ---------------------------------------------------------------------------- enrollment


def test_enroll_once_and_leave_once(plan: Plan, worker: User) -> None:
    enrollment = services.enroll(worker, plan, date(2026, 10, 1))
    with pytest.raises(Conflict):
        services.enroll(worker, plan, date(2026, 10, 2))
    assert Enrollment.objects.count() == 1

    with pytest.raises(GatewayError):
        services.leave(worker, enrollment, date(2026, 9, 30))
    other = create_worker("bo@example.org", name="Bo", password=PASSWORD)
    with pytest.raises(NotFound):
        services.leave(other, enrollment, date(2026, 10, 5))
    enrollment.refresh_from_db()
    assert enrollment.ended_on is None

    services.leave(worker, enrollment, date(2026, 10, 5))
    with pytest.raises(Conflict):
        services.leave(worker, enrollment, date(2026, 10, 6))
    enrollment.refresh_from_db()
    assert enrollment.ended_on == date(2026, 10, 5)
    assert services.enrolled_count(plan, date(2026, 10, 4)) == 1
    assert services.enrolled_count(plan, date(2026, 10, 5)) == 0
    # Rejoining is a new enrollment.
    services.enroll(worker, plan, date(2026, 11, 1))
    assert Enrollment.objects.count() == 2


def test_add_plan_refuses_bad_pricing(plan: Plan) -> None:
    cases = [
        (
            ("A", "dental", "Dental", "USD", 5_000, [(10, 4_000), (20, 4_500)]),
            "tiers.1.monthly_price",
        ),
        (("A", "dental", "Dental", "USD", 5_000, [(1, 4_000)]), "tiers.0.min_enrolled"),
        (
            ("A", "dental", "Dental", "USD", 5_000, [(20, 4_000), (10, 3_000)]),
            "tiers.1.min_enrolled",
        ),
        (("A", "dental", "Dental", "XXX", 5_000, []), "currency"),
        (("", "dental", "Dental", "USD", 5_000, []), "provider"),
        (("A", "dental", "bronze HEALTH", "USD", 5_000, []), "name"),
    ]
    for args, field in cases:
        with pytest.raises(GatewayError) as caught:
            services.add_plan(*args)  # type: ignore[arg-type]
        assert caught.value.field == field, args
    assert Plan.objects.count() == 1
    assert plan.pricing == {
        "currency": "USD",
        "individual_price": 45_000,
        "tiers": [
            {"min_enrolled": 10, "monthly_price": 40_500},
            {"min_enrolled": 50, "monthly_price": 36_000},
            {"min_enrolled": 200, "monthly_price": 31_500},
        ],
    }


# ---------------------------------------------------------------------------- page


def test_plans_page_shows_group_price_saving_and_next_tier(client: Client, plan: Plan) -> None:
    people = members(10, plan)
    fund_health(people[0], 50_000)
    services.charge_premiums(NOVEMBER)
    client.force_login(people[0])

    page = client.get(reverse("gateway:plans"))
    text = page.content.decode()

    assert page.status_code == 200
    assert "Bronze health" in text
    assert "$450.00" in text and "$405.00" in text
    assert "$45.00 a month" in text
    assert "40 more members → $360.00" in text
    assert "Paid" in text
    assert reverse("gateway:plan_leave", args=[people[0].enrollments.get().pk]) in text

    client.force_login(people[1])
    text = client.get(reverse("gateway:plans")).content.decode()
    charge = PremiumCharge.objects.get(enrollment__worker=people[1])
    assert "Unpaid" in text
    assert reverse("gateway:premium_pay", args=[charge.pk]) in text


def test_enroll_and_leave_from_the_page(client: Client, plan: Plan, worker: User) -> None:
    client.force_login(worker)
    assert client.post(reverse("gateway:plan_enroll", args=[plan.pk])).status_code == 302
    enrollment = Enrollment.objects.get(worker=worker)
    text = client.get(reverse("gateway:plans")).content.decode()
    assert "Enrolled since" in text

    # Someone else cannot end it.
    client.force_login(create_worker("bo@example.org", name="Bo", password=PASSWORD))
    leave = reverse("gateway:plan_leave", args=[enrollment.pk])
    assert client.post(leave).status_code == 404
    enrollment.refresh_from_db()
    assert enrollment.ended_on is None

    client.force_login(worker)
    assert client.post(leave).status_code == 302
    enrollment.refresh_from_db()
    assert enrollment.ended_on is not None


def test_plans_page_needs_a_login(client: Client, plan: Plan) -> None:
    response = client.get(reverse("gateway:plans"))
    assert response.status_code == 302
    assert client.post(reverse("gateway:plan_enroll", args=[plan.pk])).status_code == 302
    assert Enrollment.objects.count() == 0
