"""The career engine end to end: a worker with a membership (three subscribers) and a
current 90-day plan whose expansion channel is a new client, all made through the
services. In the browser she funds, delivers and releases the client's milestone and sees
the paid total on the contract page and the income on the plan's expansion channel move;
then she adds a subscriber on the offer page and sees MRR move on the recurring-revenue
page, the dashboard and the plan's progress."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from keel.accounts.services import create_worker
from keel.career import offers, planning, services
from keel.career.models import MilestoneState
from keel.career.services import MilestoneInput
from keel.ledger import services as ledger

pytestmark = pytest.mark.browser

PASSWORD = "quiet-harbour-1987"


def log_in(page: Page, email: str) -> None:
    page.context.clear_cookies()
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log in")).to_have_count(0)


def test_a_released_milestone_and_a_new_subscriber_move_mrr_and_the_plan(
    page: Page, page_problems: list[str]
) -> None:
    today = timezone.localdate()
    rui = create_worker("rui@example.org", name="Rui Costa", password=PASSWORD, currency="USD")
    membership = offers.create_offer(
        rui, name="Design notes", kind="membership", price=2_000, currency="USD", interval="month"
    )
    for name in ("Ada", "Ben", "Cleo"):
        offers.add_subscriber(membership, name=name, start_on=today - timedelta(days=40))
    plan = planning.create_plan(
        rui,
        starts_on=today - timedelta(days=10),
        target_mrr=10_000,
        expansion_channel="Wave Media",
    )
    contract = services.create_contract(
        rui,
        title="Podcast season",
        client_name="Wave Media",
        currency="USD",
        credit_limit=200_000,
        milestones=[MilestoneInput("Episodes 1-4", 80_000, due_on=today + timedelta(days=30))],
    )
    log_in(page, rui.email)

    # The plan before: MRR from the three members, nothing from the new channel yet.
    page.goto(f"/career/plans/{plan.pk}/")
    expect(page.get_by_test_id("plan-mrr-now")).to_have_text("$60.00")
    channel = page.get_by_test_id("plan-channels").locator("tr", has_text="expansion channel")
    expect(channel.locator("td")).to_have_text("$0.00")

    # Fund, deliver and release the milestone on the contract page.
    page.goto(f"/career/contracts/{contract.pk}/")
    expect(page.get_by_test_id("paid-total")).to_have_text("$0.00")
    milestone = page.get_by_test_id("milestone").nth(0)
    milestone.get_by_role("button", name="Fund").click()
    expect(milestone.get_by_test_id("milestone-state")).to_have_text("Funded")
    expect(page.get_by_test_id("in-escrow")).to_have_text("$800.00")
    milestone.get_by_role("button", name="Mark delivered").click()
    expect(milestone.get_by_test_id("milestone-state")).to_have_text("Delivered")
    milestone.get_by_role("button", name="Release").click()
    expect(milestone.get_by_test_id("milestone-state")).to_have_text("Released")
    expect(page.get_by_test_id("paid-total")).to_have_text("$800.00")
    expect(page.get_by_test_id("in-escrow")).to_have_text("$0.00")

    # The plan's expansion channel now shows the client's income from the books.
    page.goto(f"/career/plans/{plan.pk}/")
    expect(channel.locator("td")).to_have_text("$800.00")
    expect(page.get_by_test_id("plan-mrr-now")).to_have_text("$60.00")

    # MRR before the new subscriber, on the recurring-revenue page.
    page.goto("/career/offers/revenue/")
    expect(page.get_by_test_id("mrr-now")).to_have_text("$60.00")

    # A fourth member joins today, added on the offer page at the list price.
    page.goto(f"/career/offers/{membership.pk}/")
    form = page.get_by_test_id("subscriber-form")
    form.get_by_label("Name").fill("Dana")
    form.get_by_role("button", name="Add").click()
    expect(page.get_by_test_id("subscriber-row")).to_have_count(4)
    expect(page.get_by_test_id("offer-mrr")).to_contain_text("$80.00")

    page.goto("/career/offers/revenue/")
    expect(page.get_by_test_id("mrr-now")).to_have_text("$80.00")
    page.goto("/dashboard/")
    expect(page.get_by_test_id("dashboard-mrr")).to_have_text("$80.00")
    expect(page.get_by_test_id("plan-panel").get_by_test_id("plan-mrr-now")).to_have_text("$80.00")
    page.goto(f"/career/plans/{plan.pk}/")
    expect(page.get_by_test_id("plan-mrr-now")).to_have_text("$80.00")

    m1 = contract.milestones.get()
    assert (m1.state, m1.released) == (MilestoneState.RELEASED, 80_000)
    status = planning.plan_status(plan, today)
    assert (status.progress.mrr_now, status.progress.expansion_income) == (8_000, 80_000)
    assert ledger.verify().ok
    assert page_problems == []
