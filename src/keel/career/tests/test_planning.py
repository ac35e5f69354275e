"""90-day plans through the services, against figures worked out by hand from real rows
(offers, subscribers and payments booked through the offer services; euro cents).

The worked example (``books``): Maya's membership is 100.00 a month.
    A starts 15 Dec 2024 at 100.00           -> MRR 100.00 when the plan starts on 1 Jan 2025
    B starts 20 Jan 2025 at 100.00           -> 200.00
    C starts 10 Feb 2025 at 150.00           -> 350.00
    C cancels 28 Feb 2025                    -> 200.00
The plan: 1 Jan 2025, 100.00 -> 400.00 by day 90 (1 Apr), expanding into the
"Workshops (offer)" source. Income: membership 100.00 on 15 Dec (before the plan) and
100.00 on 5 Jan; workshops 250.00 on 1 Feb.

On 15 Feb (day 45): the line is at 100 + 300 * 45/90 = 250.00; MRR 350.00 is above it:
on track, (350 - 100) / 300 = 83.33% of the way. Workshops brought 250.00, other 100.00.
On 2 Mar (day 60): the line is at 100 + 300 * 60/90 = 300.00; MRR 200.00: behind by
100.00, (200 - 100) / 300 = 33.33%.
"""

from __future__ import annotations

from datetime import date

import pytest

from keel.accounts.models import User
from keel.career import offers, planning
from keel.career.errors import CareerError
from keel.career.models import CheckIn, Plan, PlanAction, PlanReview

from .conftest import person
from .test_offers import membership

JAN_1 = date(2025, 1, 1)


def books(worker: User) -> None:
    member = membership(worker)
    workshop = offers.create_offer(
        worker, name="Workshops", kind="one_off_service", price=250_00, currency="EUR"
    )
    a = offers.add_subscriber(member, name="A", start_on=date(2024, 12, 15))
    offers.add_subscriber(member, name="B", start_on=date(2025, 1, 20))
    c = offers.add_subscriber(member, name="C", start_on=date(2025, 2, 10), price=150_00)
    offers.record_event(c, "cancel", date(2025, 2, 28))
    offers.record_payment(member, amount=100_00, on=date(2024, 12, 15), subscriber=a, key="a1")
    offers.record_payment(member, amount=100_00, on=date(2025, 1, 5), subscriber=a, key="a2")
    offers.record_payment(workshop, amount=250_00, on=date(2025, 2, 1), key="w1")


def make_plan(worker: User, **changes: object) -> Plan:
    fields: dict[str, object] = {
        "starts_on": JAN_1,
        "target_mrr": 400_00,
        "expansion_channel": "Workshops (offer)",
    }
    fields.update(changes)
    return planning.create_plan(worker, **fields)  # type: ignore[arg-type]


def test_progress_from_the_books_on_track_then_behind(maya: User) -> None:
    books(maya)
    plan = make_plan(maya)
    assert (plan.start_mrr, plan.currency, plan.expansion_source_slug) == (
        100_00,
        "EUR",
        "workshops-offer",
    )
    feb_15 = planning.plan_status(plan, date(2025, 2, 15))
    p = feb_15.progress
    assert (p.day, p.week, p.mrr_now, p.expected_mrr) == (45, 7, 350_00, 250_00)
    assert (p.on_track, p.behind_by, p.progress_bps) == (True, 0, 8333)
    assert (p.expansion_income, p.other_income) == (250_00, 100_00)
    assert {c.name: c.amount for c in feb_15.channels} == {
        "Workshops (offer)": 250_00,
        "Studio membership (offer)": 100_00,
    }
    # One point a day from the first day to the progress day, from the books.
    assert feb_15.series[0] == (JAN_1, 100_00) and len(feb_15.series) == 46
    assert feb_15.series[19:21] == ((date(2025, 1, 20), 200_00), (date(2025, 1, 21), 200_00))
    mar_2 = planning.plan_status(plan, date(2025, 3, 2)).progress
    assert (mar_2.day, mar_2.mrr_now, mar_2.expected_mrr) == (60, 200_00, 300_00)
    assert (mar_2.on_track, mar_2.behind_by, mar_2.progress_bps) == (False, 100_00, 3333)
    assert "behind by €100.00" in mar_2.summary()[0]


def test_the_mrr_series_is_one_query(maya: User, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    books(maya)
    with django_assert_num_queries(1):
        series = planning.mrr_series(maya.pk, "EUR", JAN_1, date(2025, 3, 31))
    assert len(series) == 90 and series[date(2025, 2, 27)] == 350_00


def test_one_expansion_channel_per_plan(maya: User) -> None:
    books(maya)
    with pytest.raises(CareerError) as refused:
        make_plan(maya, expansion_channel=["workshops-offer", "Newsletter sponsorships"])
    assert refused.value.field == "expansion_channel" and "exactly one" in str(refused.value)
    assert not Plan.objects.exists()
    # The source chosen and the same source typed are one channel.
    plan = make_plan(maya, expansion_channel=["workshops-offer", "Workshops (offer)"])
    assert plan.expansion_channel == "Workshops (offer)"
    assert planning.set_expansion_channel(plan, "WORKSHOPS (offer)").pk == plan.pk
    with pytest.raises(CareerError) as second:
        planning.set_expansion_channel(plan, "Newsletter sponsorships")
    assert second.value.field == "expansion_channel" and second.value.code == "one_channel"
    plan.refresh_from_db()
    assert plan.expansion_channel == "Workshops (offer)"


def test_a_typed_channel_without_a_source_counts_nothing_yet(maya: User) -> None:
    books(maya)
    plan = make_plan(maya, expansion_channel="Newsletter sponsorships")
    assert plan.expansion_source_slug == ""
    p = planning.plan_status(plan, date(2025, 2, 15)).progress
    assert (p.expansion_income, p.other_income) == (0, 350_00)


def test_a_second_overlapping_active_plan_is_refused(maya: User) -> None:
    make_plan(maya)
    with pytest.raises(CareerError) as refused:
        make_plan(maya, starts_on=date(2025, 3, 31))  # day 89 of the first
    assert refused.value.field == "starts_on" and refused.value.code == "overlap"
    assert Plan.objects.count() == 1
    assert make_plan(maya, starts_on=date(2025, 4, 1)).pk  # its review day: no overlap


def test_target_below_start_is_refused_naming_the_field(maya: User) -> None:
    books(maya)
    with pytest.raises(CareerError) as refused:
        make_plan(maya, target_mrr=50_00)
    assert refused.value.field == "target_mrr"
    assert not Plan.objects.exists()


def test_actions_within_the_plan_done_and_overdue(maya: User) -> None:
    plan = make_plan(maya)
    with pytest.raises(CareerError) as outside:
        planning.add_action(plan, "Launch", date(2025, 4, 1))
    assert outside.value.field == "due_on"
    launch = planning.add_action(plan, "Launch the workshop page", date(2025, 1, 20))
    planning.add_action(plan, "Email past clients", date(2025, 2, 1))
    planning.mark_done(plan, launch.pk, date(2025, 1, 19))
    p = planning.plan_status(plan, date(2025, 2, 15)).progress
    assert [a.title for a in p.actions_done] == ["Launch the workshop page"]
    assert [a.title for a in p.actions_overdue] == ["Email past clients"]
    assert PlanAction.objects.get(pk=launch.pk).done_on == date(2025, 1, 19)


def test_check_in_weeks(maya: User) -> None:
    plan = make_plan(maya)
    today = date(2025, 3, 1)
    first, new = planning.check_in(plan, date(2025, 1, 7), "Page drafted", today=today)
    assert (first.week, new) == (1, True)
    eighth, _ = planning.check_in(plan, date(2025, 1, 8), today=today)
    assert eighth.week == 2  # day 7 opens week 2
    # A second check-in the same week edits it.
    again, new = planning.check_in(plan, date(2025, 1, 3), "Page live", today=today)
    assert (again.pk, again.week, again.note, new) == (first.pk, 1, "Page live", False)
    assert CheckIn.objects.filter(plan=plan).count() == 2
    for day, field in ((date(2024, 12, 31), "on"), (date(2025, 3, 31 + 0), "on")):
        with pytest.raises(CareerError) as refused:
            planning.check_in(plan, day, today=today)
        assert refused.value.field == field
    assert CheckIn.objects.filter(plan=plan).count() == 2


def test_the_review_and_its_draft(maya: User) -> None:
    """MRR is 100.00 for days 0..44 and 200.00 for days 45..90 (B starts on 15 Feb, day
    45). The least-squares line through (d, MRR) for d = 0..90: mean day 45, sum of
    (d - 45)^2 = 62,790, sum over d >= 45 of (d - 45) * 100.00 = 1,035 * 10,000, so the
    slope is 10,350,000 / 62,790 cents a day; times 90 days = 14,835.2 -> 148.35.
    The draft aims for the end MRR 200.00 + 148.35 = 348.35 from 1 Apr 2025."""
    member = membership(maya)
    offers.add_subscriber(member, name="A", start_on=date(2024, 12, 15))
    offers.add_subscriber(member, name="B", start_on=date(2025, 2, 15))
    plan = make_plan(maya, target_mrr=300_00, expansion_channel="Talks")
    planning.add_action(plan, "Pitch two conferences", date(2025, 2, 1))
    with pytest.raises(CareerError) as early:
        planning.review_plan(plan, date(2025, 3, 31))
    assert early.value.code == "too_early" and not PlanReview.objects.exists()
    review = planning.review_plan(plan, date(2025, 4, 2))
    assert review.results == [
        {"name": "MRR", "planned": 300_00, "actual": 200_00, "met": False},
        {"name": "Key actions done", "planned": 1, "actual": 0, "met": False},
    ]
    assert (review.end_mrr, review.trend_growth) == (200_00, 148_35)
    assert (review.next_starts_on, review.next_start_mrr, review.next_target_mrr) == (
        date(2025, 4, 1),
        200_00,
        348_35,
    )
    assert review.words[0] == (
        "MRR ended at €200.00 against a target of €300.00: €100.00 short of the target."
    )
    plan.refresh_from_db()
    assert plan.status == "reviewed"
    assert planning.review_plan(plan, date(2025, 5, 1)).pk == review.pk
    assert planning.current_plan(maya, date(2025, 4, 2)) is None
    # The next plan from the draft.
    nxt = make_plan(maya, starts_on=review.next_starts_on, target_mrr=review.next_target_mrr)
    assert nxt.start_mrr == 200_00
    assert planning.current_plan(maya, date(2025, 4, 2)) == nxt


def test_current_plan_is_the_workers_own(maya: User) -> None:
    noor = person("noor@example.org", "Noor Other")
    plan = make_plan(maya)
    assert planning.current_plan(maya, date(2024, 12, 31)) is None
    assert planning.current_plan(maya, date(2025, 2, 1)) == plan
    assert planning.current_plan(maya, date(2025, 6, 1)) == plan  # review due
    assert planning.current_plan(noor, date(2025, 2, 1)) is None
