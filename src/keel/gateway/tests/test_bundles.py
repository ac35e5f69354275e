"""Steady micro-contract bundles: offer, answer, weekly delivery, top-ups through the
ledger, the worker's forecast, and both sides' pages."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from keel.accounts.models import User
from keel.accounts.services import create_worker
from keel.gateway import services
from keel.gateway.errors import Conflict, GatewayError, NotFound
from keel.gateway.models import Bundle, BundleStatus, EarningsEvent, Platform, WorkerLink
from keel.gateway.tests.conftest import PASSWORD, event
from keel.income.commitments import commitments_for
from keel.income.reports import income_report
from keel.income.services import income_settings
from keel.ledger.models import Journal

# 20 tasks a week at $6.00 with a $120.00 weekly guarantee for 12 weeks, from Monday
# 2026-01-05: week 1 is Jan 5-11, week 12 ends Mar 29.
TERMS: dict[str, Any] = {
    "weeks": 12,
    "start": "2026-01-05",
    "min_tasks_per_week": 20,
    "rate_per_task": 600,
    "min_weekly_earnings": 12_000,
}
# A platform whose policy counts bonuses: 4% of pay and bonuses.
TASKS_POLICY = {"currency": "USD", "rate_bps": 400, "include_bonus": True}


@pytest.fixture
def tasks(operator: User) -> Platform:
    return services.create_platform(
        "Tasks", operator=operator, policy=TASKS_POLICY, effective_from=date(2026, 1, 1)
    )


@pytest.fixture
def tasker(worker: User, tasks: Platform) -> WorkerLink:
    return services.link_with_code(tasks, "tasker-1", services.create_link_code(worker))


@pytest.fixture
def bundle(tasks: Platform, tasker: WorkerLink) -> Bundle:
    offered = services.offer_bundle(tasks, "tasker-1", "b-100", "Lunch rush", TERMS)
    return services.respond(tasker.worker, offered.pk, True, on=date(2026, 1, 2))


def work(platform: Platform, *events: dict[str, object]) -> None:
    services.record_events(platform, [{**e, "worker_ref": "tasker-1"} for e in events])


def first_week_short(platform: Platform, start: date = date(2026, 1, 5)) -> None:
    """Week 1: 17 tasks for $102.00 (tips do not count toward the guarantee)."""
    work(
        platform,
        event("w1a", (start + timedelta(days=1)).isoformat(), 6_000, jobs=10, tips=900),
        event("w1b", (start + timedelta(days=4)).isoformat(), 4_200, jobs=7),
    )


@pytest.fixture
def recent(tasks: Platform, tasker: WorkerLink) -> Bundle:
    """The same bundle started eight days ago: week 1 is over, week 2 runs (for the pages,
    which judge delivery as of today)."""
    start = timezone.localdate() - timedelta(days=8)
    terms = {**TERMS, "start": start.isoformat()}
    offered = services.offer_bundle(tasks, "tasker-1", "b-200", "Lunch rush", terms)
    return services.respond(tasker.worker, offered.pk, True)  # type: ignore[arg-type]


def bucket_total(worker: User) -> int:
    return sum(b.balance for b in services.bucket_balances(worker) if b.currency == "USD")


# ---------------------------------------------------------------------------- worked example


def test_worked_example_shortfall_and_top_up(tasks: Platform, bundle: Bundle) -> None:
    first_week_short(tasks)
    worker = bundle.link.worker
    assert worker is not None
    # 4% of $102.00 = $4.08 so far.
    assert bucket_total(worker) == 408

    weeks = services.bundle_delivery(bundle, date(2026, 1, 12))
    week1 = weeks[0]
    assert (week1.start, week1.end) == (date(2026, 1, 5), date(2026, 1, 11))
    assert (week1.tasks, week1.earnings) == (17, 10_200)
    assert (week1.committed_tasks, week1.committed_earnings) == (20, 12_000)
    assert (week1.task_shortfall, week1.earnings_shortfall) == (3, 1_800)
    assert (week1.status, week1.owed, week1.topped_up) == ("short", 1_800, 0)
    assert [w.status for w in weeks[1:3]] == ["in progress", "upcoming"]
    assert weeks[1].task_shortfall is None

    journals = Journal.objects.count()
    topup = services.settle_shortfall(tasks, bundle, 0, as_of=date(2026, 1, 12))

    assert topup.event_id == "bundle:b-100:week:1:topup"
    assert (topup.kind, topup.gross, topup.bonus, topup.jobs) == ("topup", 0, 1_800, 0)
    assert topup.occurred_on == date(2026, 1, 11)
    # Through the ledger like any earnings: 4% of the $18.00 bonus = $0.72 contributed.
    assert topup.contribution == 72
    assert Journal.objects.count() == journals + 1
    assert Journal.objects.get(pk=topup.journal_id).kind == "contribution"
    assert bucket_total(worker) == 480

    week1 = services.bundle_delivery(bundle, date(2026, 1, 12))[0]
    assert (week1.tasks, week1.earnings) == (17, 12_000)
    assert (week1.task_shortfall, week1.earnings_shortfall) == (3, 0)
    assert (week1.status, week1.owed, week1.topped_up) == ("met", 0, 1_800)

    # Settling again adds nothing and returns the same top-up.
    again = services.settle_shortfall(tasks, bundle, 0, as_of=date(2026, 1, 20))
    assert again.pk == topup.pk
    assert EarningsEvent.objects.filter(kind="topup").count() == 1
    assert Journal.objects.count() == journals + 1
    assert bucket_total(worker) == 480


def test_top_up_under_a_policy_without_bonuses_contributes_nothing(
    platform: Platform, link: WorkerLink
) -> None:
    # DoorDash counts pre-tip pay only, so the top-up is earnings but brings no contribution.
    offered = services.offer_bundle(platform, "dasher-1", "d-1", "Dinner", TERMS)
    bundle = services.respond(link.worker, offered.pk, True, on=date(2026, 1, 2))  # type: ignore[arg-type]
    services.record_events(platform, [event("d1", "2026-01-06", 10_200, jobs=17)])
    journals = Journal.objects.count()

    topup = services.settle_shortfall(platform, bundle, 0, as_of=date(2026, 1, 12))

    assert (topup.bonus, topup.contribution, topup.status, topup.journal_id) == (
        1_800,
        0,
        "none",
        None,
    )
    assert Journal.objects.count() == journals
    assert services.bundle_delivery(bundle, date(2026, 1, 12))[0].status == "met"


# ---------------------------------------------------------------------------- settling refused


def test_settle_refuses_a_week_that_is_not_over(tasks: Platform, bundle: Bundle) -> None:
    first_week_short(tasks)
    with pytest.raises(GatewayError) as caught:
        services.settle_shortfall(tasks, bundle, 0, as_of=date(2026, 1, 11))
    assert (caught.value.code, caught.value.field) == ("week_not_over", "week")
    assert EarningsEvent.objects.filter(kind="topup").count() == 0


def test_settle_refuses_weeks_without_an_earnings_shortfall(
    tasks: Platform, bundle: Bundle
) -> None:
    work(
        tasks,
        # Week 2 delivered in full: 20 tasks, $120.00.
        event("w2", "2026-01-13", 12_000, jobs=20),
        # Week 3 short of tasks only: 18 tasks at $7.00 = $126.00, above the guarantee.
        event("w3", "2026-01-20", 12_600, jobs=18),
    )
    weeks = services.bundle_delivery(bundle, date(2026, 2, 1))
    assert [(w.status, w.task_shortfall, w.earnings_shortfall) for w in weeks[1:3]] == [
        ("met", 0, 0),
        ("short", 2, 0),
    ]
    events = EarningsEvent.objects.count()
    for index in (1, 2):
        with pytest.raises(GatewayError) as caught:
            services.settle_shortfall(tasks, bundle, index, as_of=date(2026, 2, 1))
        assert caught.value.code == "no_shortfall"
    assert EarningsEvent.objects.count() == events


def test_settle_refuses_weeks_outside_the_bundle(tasks: Platform, bundle: Bundle) -> None:
    for index in (-1, 12):
        with pytest.raises(GatewayError) as caught:
            services.settle_shortfall(tasks, bundle, index, as_of=date(2026, 6, 1))
        assert caught.value.field == "week"
    assert EarningsEvent.objects.filter(kind="topup").count() == 0


def test_settle_refuses_an_offer_not_accepted(tasks: Platform, tasker: WorkerLink) -> None:
    offered = services.offer_bundle(tasks, "tasker-1", "b-1", "Lunch rush", TERMS)
    first_week_short(tasks)
    with pytest.raises(GatewayError) as caught:
        services.settle_shortfall(tasks, offered, 0, as_of=date(2026, 1, 12))
    assert caught.value.code == "not_accepted"
    assert EarningsEvent.objects.filter(kind="topup").count() == 0


def test_settle_refuses_another_platforms_bundle(
    tasks: Platform, bundle: Bundle, platform: Platform
) -> None:
    first_week_short(tasks)
    with pytest.raises(NotFound):
        services.settle_shortfall(platform, bundle, 0, as_of=date(2026, 1, 12))
    assert EarningsEvent.objects.filter(kind="topup").count() == 0


# ---------------------------------------------------------------------------- offers


def test_offer_is_idempotent_by_reference(tasks: Platform, tasker: WorkerLink) -> None:
    first = services.offer_bundle(tasks, "tasker-1", "b-1", "Lunch rush", TERMS)
    again = services.offer_bundle(tasks, "tasker-1", "b-1", "Lunch rush", dict(TERMS))
    assert again.pk == first.pk
    assert first.terms == {**TERMS, "currency": "USD"}
    assert (first.starts_on, first.ends_on) == (date(2026, 1, 5), date(2026, 3, 29))
    assert first.status == BundleStatus.OFFERED

    with pytest.raises(Conflict) as caught:
        services.offer_bundle(
            tasks, "tasker-1", "b-1", "Lunch rush", {**TERMS, "min_weekly_earnings": 10_000}
        )
    assert (caught.value.code, caught.value.field) == ("idempotency_conflict", "reference")
    with pytest.raises(Conflict):
        services.offer_bundle(tasks, "tasker-1", "b-1", "Dinner rush", TERMS)
    assert Bundle.objects.count() == 1
    assert Bundle.objects.get().terms["min_weekly_earnings"] == 12_000


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"weeks": 0}, "terms.weeks", "out_of_range"),
        ({"weeks": 12.5}, "terms.weeks", "invalid_type"),
        ({"start": "5 Jan"}, "terms.start", "gateway_error"),
        ({"rate_per_task": -1}, "terms.rate_per_task", "negative"),
        ({"min_tasks_per_week": 0, "min_weekly_earnings": 0}, "terms.min_tasks_per_week", None),
        ({"currency": "XYZ"}, "terms.currency", "invalid_currency"),
        ({"hours": 40}, "terms.hours", "unknown_field"),
    ],
)
def test_offer_refuses_bad_terms(
    tasks: Platform, tasker: WorkerLink, change: dict[str, Any], field: str, code: str | None
) -> None:
    with pytest.raises(GatewayError) as caught:
        services.offer_bundle(tasks, "tasker-1", "b-1", "Lunch rush", {**TERMS, **change})
    assert caught.value.field == field
    if code is not None:
        assert caught.value.code == code
    assert Bundle.objects.count() == 0


def test_offer_reference_leaves_room_for_top_up_event_ids(
    tasks: Platform, tasker: WorkerLink
) -> None:
    with pytest.raises(GatewayError) as caught:
        services.offer_bundle(tasks, "tasker-1", "r" * 99, "Lunch rush", TERMS)
    assert caught.value.field == "reference"
    assert Bundle.objects.count() == 0
    longest = services.offer_bundle(tasks, "tasker-1", "r" * 98, "Lunch rush", TERMS)
    bundle = services.respond(tasker.worker, longest.pk, True, on=date(2026, 1, 2))  # type: ignore[arg-type]
    assert len(services.topup_event_id(bundle, 519)) == 120


def test_the_platform_cannot_take_a_top_ups_event_id(tasks: Platform, bundle: Bundle) -> None:
    first_week_short(tasks)
    # Taken first, the id would leave the week's top-up refused for good (a Conflict).
    with pytest.raises(GatewayError) as caught:
        work(tasks, event("bundle:b-100:week:1:topup", "2026-01-20", 100))
    assert caught.value.details[0]["field"] == "events.0.event_id"
    topup = services.settle_shortfall(tasks, bundle, 0, as_of=date(2026, 1, 12))
    assert (topup.event_id, topup.kind) == ("bundle:b-100:week:1:topup", "topup")


def test_offer_needs_an_active_link(tasks: Platform, tasker: WorkerLink) -> None:
    services.invite(tasks, "tasker-2", "someone@example.org")
    for ref in ("tasker-2", "nobody"):
        with pytest.raises(GatewayError) as caught:
            services.offer_bundle(tasks, ref, f"b-{ref}", "Lunch rush", TERMS)
        assert (caught.value.code, caught.value.field) == ("not_linked", "worker_ref")
    services.end_link(tasker)
    with pytest.raises(GatewayError):
        services.offer_bundle(tasks, "tasker-1", "b-1", "Lunch rush", TERMS)
    assert Bundle.objects.count() == 0


def test_offer_needs_a_policy_in_its_currency(tasks: Platform, tasker: WorkerLink) -> None:
    for change in ({"currency": "EUR"}, {"start": "2025-12-01"}):
        with pytest.raises(GatewayError) as caught:
            services.offer_bundle(tasks, "tasker-1", "b-1", "Lunch rush", {**TERMS, **change})
        assert (caught.value.code, caught.value.field) == ("no_policy", "terms.currency")
    assert Bundle.objects.count() == 0


def test_bundles_for_one_worker_must_not_overlap(tasks: Platform, tasker: WorkerLink) -> None:
    services.offer_bundle(tasks, "tasker-1", "b-1", "Lunch rush", TERMS)
    # Starts on the last day of the first one.
    with pytest.raises(Conflict) as caught:
        services.offer_bundle(tasks, "tasker-1", "b-2", "Later", {**TERMS, "start": "2026-03-29"})
    assert caught.value.code == "overlapping_bundle"
    assert Bundle.objects.count() == 1
    # The day after it ends is fine, and so is any period once the first is withdrawn.
    services.offer_bundle(tasks, "tasker-1", "b-3", "Spring", {**TERMS, "start": "2026-03-30"})
    services.withdraw(tasks, "b-1")
    services.offer_bundle(tasks, "tasker-1", "b-4", "Winter", TERMS)
    assert Bundle.objects.count() == 3


# ---------------------------------------------------------------------------- answers


def test_only_the_linked_worker_answers_and_only_once(tasks: Platform, tasker: WorkerLink) -> None:
    offered = services.offer_bundle(tasks, "tasker-1", "b-1", "Lunch rush", TERMS)
    other = create_worker("bo@example.org", name="Bo", password=PASSWORD)
    with pytest.raises(NotFound):
        services.respond(other, offered.pk, True)
    offered.refresh_from_db()
    assert offered.status == BundleStatus.OFFERED

    declined = services.respond(tasker.worker, offered.pk, False)  # type: ignore[arg-type]
    assert declined.status == BundleStatus.DECLINED
    assert declined.responded_at is not None
    with pytest.raises(Conflict) as caught:
        services.respond(tasker.worker, offered.pk, True)  # type: ignore[arg-type]
    assert caught.value.code == "not_offered"
    offered.refresh_from_db()
    assert offered.status == BundleStatus.DECLINED


def test_an_offer_past_its_end_cannot_be_accepted(tasks: Platform, tasker: WorkerLink) -> None:
    offered = services.offer_bundle(tasks, "tasker-1", "b-1", "Lunch rush", TERMS)
    with pytest.raises(GatewayError) as caught:
        services.respond(tasker.worker, offered.pk, True, on=date(2026, 3, 30))  # type: ignore[arg-type]
    assert caught.value.code == "bundle_over"
    offered.refresh_from_db()
    assert offered.status == BundleStatus.OFFERED


def test_withdraw_only_while_offered(tasks: Platform, tasker: WorkerLink, bundle: Bundle) -> None:
    with pytest.raises(Conflict):
        services.withdraw(tasks, "b-100")
    bundle.refresh_from_db()
    assert bundle.status == BundleStatus.ACCEPTED
    with pytest.raises(NotFound):
        services.withdraw(tasks, "no-such")

    services.offer_bundle(tasks, "tasker-1", "b-2", "Spring", {**TERMS, "start": "2026-04-06"})
    withdrawn = services.withdraw(tasks, "b-2")
    assert withdrawn.status == BundleStatus.WITHDRAWN
    with pytest.raises(Conflict):
        services.respond(tasker.worker, withdrawn.pk, True)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- forecast


def test_an_accepted_bundle_is_committed_income(tasks: Platform, bundle: Bundle) -> None:
    worker = bundle.link.worker
    assert worker is not None
    found = commitments_for(worker, date(2026, 1, 5), date(2026, 1, 31))
    assert [(c.due_on, c.amount, c.key) for c in found] == [
        (date(2026, 1, 11), 12_000, f"bundle-{bundle.pk}"),
        (date(2026, 1, 18), 12_000, f"bundle-{bundle.pk}"),
        (date(2026, 1, 25), 12_000, f"bundle-{bundle.pk}"),
    ]
    assert found[0].label == "Tasks: Lunch rush"


def test_offers_and_other_currencies_are_not_committed_income(
    tasks: Platform, tasker: WorkerLink, worker: User
) -> None:
    services.offer_bundle(tasks, "tasker-1", "b-1", "Lunch rush", TERMS)
    assert commitments_for(worker, date(2026, 1, 1), date(2026, 12, 31)) == []
    euro = services.create_platform(
        "Taken", currency="EUR", policy={"currency": "EUR", "rate_bps": 400}
    )
    services.link_with_code(euro, "t-9", services.create_link_code(worker))
    offered = services.offer_bundle(euro, "t-9", "e-1", "Berlin", TERMS)
    services.respond(worker, offered.pk, True, on=date(2026, 1, 2))
    # The worker plans in USD; a EUR promise has no known future rate.
    assert commitments_for(worker, date(2026, 1, 1), date(2026, 12, 31)) == []


def test_income_report_counts_the_bundle_in_forecast_and_stability(bundle: Bundle) -> None:
    worker = bundle.link.worker
    assert worker is not None
    settings = income_settings(worker)
    settings.essential_expenses = 100_000
    settings.save()

    report = income_report(worker, as_of=date(2026, 1, 5), paths=50)

    # All 12 weeks fall in the 90 days from Jan 5: $120.00 on each week's last day.
    assert len(report.commitments) == 12
    assert report.forecast.scheduled_income[6] == 12_000  # Sunday Jan 11
    assert sum(report.forecast.scheduled_income) == 144_000
    assert report.forecast.income_p50[-1] == 144_000  # no history: nothing else comes in
    # $1,440.00 over 90 days is $486.66 in an average month, 48.666% of $1,000.00.
    assert report.stability.committed_monthly == 48_666
    assert report.stability.recurring_baseline_monthly == 0
    assert report.stability.baseline_coverage == pytest.approx(0.48666)
    assert report.as_dict()["committed_monthly"] == 48_666


# ---------------------------------------------------------------------------- pages


def login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def test_worker_page_shows_offers_and_accepts(
    client: Client, tasks: Platform, tasker: WorkerLink
) -> None:
    start = timezone.localdate() + timedelta(days=7)
    terms = {**TERMS, "start": start.isoformat()}
    offered = services.offer_bundle(tasks, "tasker-1", "b-1", "Lunch rush", terms)
    worker = tasker.worker
    assert worker is not None
    login(client, worker)

    page = client.get(reverse("gateway:bundles"))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Lunch rush" in text
    assert "At least 20 tasks a week at $6.00 a task" in text
    assert "Guaranteed $120.00 a week" in text
    assert 'value="accept"' in text and 'value="decline"' in text

    response = client.post(
        reverse("gateway:bundle_respond", args=[offered.pk]), {"answer": "accept"}
    )
    assert response.status_code == 302
    offered.refresh_from_db()
    assert offered.status == BundleStatus.ACCEPTED
    page = client.get(reverse("gateway:bundles"))
    assert f'data-testid="bundle-weeks-{offered.pk}"' in page.content.decode()


def test_worker_cannot_answer_someone_elses_offer(
    client: Client, tasks: Platform, tasker: WorkerLink
) -> None:
    offered = services.offer_bundle(tasks, "tasker-1", "b-1", "Lunch rush", TERMS)
    login(client, create_worker("bo@example.org", name="Bo", password=PASSWORD))
    response = client.post(
        reverse("gateway:bundle_respond", args=[offered.pk]), {"answer": "accept"}
    )
    assert response.status_code == 404
    offered.refresh_from_db()
    assert offered.status == BundleStatus.OFFERED


def test_both_sides_see_delivery_and_the_platform_settles(
    client: Client, tasks: Platform, recent: Bundle, operator: User
) -> None:
    bundle = recent
    first_week_short(tasks, bundle.starts_on)
    url = reverse("gateway:platform_bundles", args=[tasks.pk])
    login(client, operator)

    text = client.get(url).content.decode()
    assert "Lunch rush" in text
    assert "You owe $18.00 in top-ups for 1 short week" in text
    assert "Settle shortfall" in text
    settle = reverse("gateway:platform_bundle_settle", args=[tasks.pk, bundle.pk, 1])
    assert f'action="{settle}"' in text

    response = client.post(settle)
    assert response.status_code == 302
    assert EarningsEvent.objects.get(kind="topup").bonus == 1_800
    text = client.get(url).content.decode()
    assert "incl. top-up $18.00" in text
    assert "Settle shortfall" not in text
    client.post(settle)
    assert EarningsEvent.objects.filter(kind="topup").count() == 1

    worker = bundle.link.worker
    assert worker is not None
    login(client, worker)
    text = client.get(reverse("gateway:bundles")).content.decode()
    assert "incl. top-up $18.00" in text
    assert "Settle shortfall" not in text


def test_operator_offers_from_the_console(
    client: Client, tasks: Platform, tasker: WorkerLink, operator: User
) -> None:
    url = reverse("gateway:platform_bundles", args=[tasks.pk])
    login(client, operator)
    form = client.get(url).context["form"]
    reference = form.initial["reference"]
    data = {
        "reference": reference,
        "worker_ref": "tasker-1",
        "title": "Lunch rush",
        "weeks": "12",
        "start": "2026-01-05",
        "min_tasks_per_week": "20",
        "rate_per_task": "6.00",
        "min_weekly_earnings": "120",
    }
    assert client.post(url, data).status_code == 302
    # The same form sent twice offers once.
    assert client.post(url, data).status_code == 302
    bundle = Bundle.objects.get()
    assert (bundle.reference, bundle.link_id, bundle.terms) == (
        reference,
        tasker.pk,
        {**TERMS, "currency": "USD"},
    )

    # A service error comes back onto its field, nothing offered.
    response = client.post(
        url, {**data, "reference": "console-other", "start": "2026-02-02", "title": "Overlap"}
    )
    assert response.status_code == 400
    assert "must not overlap" in str(response.context["form"].errors["start"])
    assert Bundle.objects.count() == 1


def test_platform_page_is_for_its_operators_only(
    client: Client, tasks: Platform, recent: Bundle, platform: Platform
) -> None:
    bundle = recent
    first_week_short(tasks, bundle.starts_on)
    stranger = create_worker("ops@other.example", name="Other Ops", password=PASSWORD)
    services.add_operator(platform, stranger)  # operates Dash, not Tasks
    login(client, stranger)
    assert client.get(reverse("gateway:platform_bundles", args=[tasks.pk])).status_code == 404
    settle = reverse("gateway:platform_bundle_settle", args=[tasks.pk, bundle.pk, 1])
    assert client.post(settle).status_code == 404
    # Nor through its own platform's URL.
    settle = reverse("gateway:platform_bundle_settle", args=[platform.pk, bundle.pk, 1])
    assert client.post(settle).status_code == 404
    assert EarningsEvent.objects.filter(kind="topup").count() == 0
