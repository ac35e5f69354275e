"""The plan pages through Django's test client, state built by the real services and dated
from today: the plan page shows progress from the books (worked out by hand below), the
forms refuse a second expansion channel and out-of-plan dates, a plan is a 404 to any
other worker, the review drafts the next plan, and the dashboard shows the current plan.

The example: a plan that started 45 days ago, from 100.00 to 400.00 MRR. A has paid
100.00 a month since 60 days ago; B joined 10 days ago at 100.00, so MRR is 200.00. On day
45 the plan's line is at 100 + 300 * 45/90 = 250.00: behind by 50.00, 33.33% of the way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, timedelta

from django.test import Client
from django.utils import timezone

from keel.accounts.models import User
from keel.career import offers, planning
from keel.career.models import CheckIn, Plan, PlanAction

from .test_offers import membership
from .test_views import scripts_from_elsewhere, text

Login = Callable[[User | None], Client]


def today() -> date:
    return timezone.localdate()


def half_way(worker: User) -> Plan:
    member = membership(worker)
    workshop = offers.create_offer(
        worker, name="Workshops", kind="one_off_service", price=250_00, currency="EUR"
    )
    offers.add_subscriber(member, name="A", start_on=today() - timedelta(days=60))
    offers.add_subscriber(member, name="B", start_on=today() - timedelta(days=10))
    plan = planning.create_plan(
        worker,
        starts_on=today() - timedelta(days=45),
        target_mrr=400_00,
        expansion_channel="workshops-offer",
    )
    offers.record_payment(workshop, amount=250_00, on=today() - timedelta(days=5), key="w")
    return plan


def test_the_plan_page_shows_progress_from_the_books(maya: User, login: Login) -> None:
    plan = half_way(maya)
    client = login(maya)
    listing = client.get("/career/plans/")
    assert listing.status_code == 200
    assert "Current plan" in text(listing) and "Behind by €50.00" in text(listing)
    page = client.get(f"/career/plans/{plan.pk}/")
    assert page.status_code == 200
    body, html = text(page), page.content.decode()
    assert "week 7 of 13" in body and "Behind by €50.00" in body
    assert "MRR is €200.00, 33.33% of the way from €100.00 to the target of €400.00" in body
    assert "Workshops (offer) expansion channel €250.00" in body
    figure = json.loads(
        re.search(r'<script id="fig-plan" type="application/json">(.*?)</script>', html, re.S)[1]
    )
    line, mrr = figure["data"]
    assert line["y"] == ["100.00", "400.00"]
    assert len(mrr["x"]) == 46 and mrr["y"][0] == "100.00" and mrr["y"][-1] == "200.00"
    # Keel's own plotly, and no inline script: only the figure's JSON and served files.
    assert '<script src="/static/vendor/plotly/plotly.min.js" defer></script>' in html
    assert scripts_from_elsewhere(html) == []
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag


def test_a_new_plan_from_the_form(maya: User, login: Login) -> None:
    offers.add_subscriber(membership(maya), name="A", start_on=date(2020, 1, 1))
    client = login(maya)
    form = client.get("/career/plans/new/")
    assert form.status_code == 200
    assert f'value="{today().isoformat()}"' in form.content.decode()
    assert '<option value="studio-membership-offer">' in form.content.decode()
    data = {
        "starts_on": today().isoformat(),
        "currency": "EUR",
        "target_mrr": "250.00",
        "expansion_source": "studio-membership-offer",
        "expansion_name": "Newsletter sponsorships",
    }
    refused = client.post("/career/plans/new/", data)
    assert refused.status_code == 400
    assert "exactly one expansion channel" in text(refused)
    assert not Plan.objects.exists()
    made = client.post("/career/plans/new/", {**data, "expansion_source": ""})
    assert made.status_code == 302
    plan = Plan.objects.get(worker=maya)
    assert made["Location"] == f"/career/plans/{plan.pk}/"
    assert (plan.start_mrr, plan.target_mrr, plan.expansion_channel) == (
        100_00,
        250_00,
        "Newsletter sponsorships",
    )


def test_a_plan_dated_past_the_calendar_is_refused_on_the_field(maya: User, login: Login) -> None:
    client = login(maya)
    for day in ("9999-12-01", "0001-01-01"):
        refused = client.post(
            "/career/plans/new/",
            {"starts_on": day, "currency": "EUR", "target_mrr": "100.00", "expansion_name": "X"},
        )
        assert refused.status_code == 400
        assert "Starts on must be from 1900-01-01 to 2999-12-31" in text(refused)
    assert not Plan.objects.exists()


def test_actions_and_check_ins_from_the_page(maya: User, login: Login) -> None:
    plan = half_way(maya)
    client = login(maya)
    url = f"/career/plans/{plan.pk}/"
    outside = client.post(url + "actions/", {"title": "Launch", "due_on": "2000-01-01"})
    assert outside.status_code == 400 and "must fall within the plan" in text(outside)
    due = (today() - timedelta(days=1)).isoformat()
    assert client.post(url + "actions/", {"title": "Launch", "due_on": due}).status_code == 302
    action = PlanAction.objects.get(plan=plan)
    assert "overdue" in text(client.get(url))
    assert client.post(f"{url}actions/{action.pk}/done/").status_code == 302
    action.refresh_from_db()
    assert action.done_on == today()
    saved = client.post(url + "check-ins/", {"on": today().isoformat(), "note": "Page live"})
    assert saved.status_code == 302
    assert CheckIn.objects.get(plan=plan).week == 7
    future = (today() + timedelta(days=1)).isoformat()
    refused = client.post(url + "check-ins/", {"on": future, "note": "later"})
    assert refused.status_code == 400
    assert "Week 7" in text(client.get(url)) and CheckIn.objects.count() == 1


def test_another_worker_gets_404(maya: User, noor: User, login: Login) -> None:
    plan = half_way(maya)
    action = planning.add_action(plan, "Launch", today())
    client = login(noor)
    url = f"/career/plans/{plan.pk}/"
    assert client.get(url).status_code == 404
    assert client.post(url + "actions/", {"title": "x", "due_on": "2025-01-01"}).status_code == 404
    assert client.post(f"{url}actions/{action.pk}/done/").status_code == 404
    assert client.post(url + "check-ins/", {"on": today().isoformat()}).status_code == 404
    assert client.post(url + "review/").status_code == 404
    assert PlanAction.objects.get(pk=action.pk).done_on is None
    assert "Current plan" not in text(client.get("/career/plans/"))
    assert login(None).get(url).status_code == 302


def test_review_and_the_next_plan_from_its_draft(maya: User, login: Login) -> None:
    offers.add_subscriber(membership(maya), name="A", start_on=date(2020, 1, 1))
    plan = planning.create_plan(
        maya, starts_on=today() - timedelta(days=100), target_mrr=150_00, expansion_channel="Talks"
    )
    client = login(maya)
    url = f"/career/plans/{plan.pk}/"
    assert "The 90 days are over" in text(client.get(url))
    assert client.post(url + "review/").status_code == 302
    page = client.get(url)
    body = text(page)
    # MRR held at 100.00 all along: no trend, so the draft holds it.
    assert "MRR ended at €100.00 against a target of €150.00: €50.00 short" in body
    next_day = (plan.starts_on + timedelta(days=90)).isoformat()
    assert f"Draft of the next plan: from {next_day}, €100.00 to €100.00 MRR." in body
    assert f"/career/plans/new/?from={plan.pk}" in page.content.decode()
    draft = client.get(f"/career/plans/new/?from={plan.pk}").content.decode()
    assert f'value="{next_day}"' in draft and 'value="100.00"' in draft


def test_the_dashboard_shows_the_current_plan(maya: User, login: Login) -> None:
    client = login(maya)
    assert 'data-testid="plan-panel"' not in client.get("/dashboard/").content.decode()
    plan = half_way(maya)
    page = client.get("/dashboard/")
    assert 'data-testid="plan-panel"' in page.content.decode()
    body = text(page)
    assert "90-day plan, week 7 of 13" in body and "Behind by €50.00" in body
    assert f"/career/plans/{plan.pk}/" in page.content.decode()
