"""A client contract end to end: a worker adds a contract with two milestones through the
form, records the client funding the first into escrow, delivers it, records the client's
release, and sees the paid total move on the contract page and the money as income from
the client on the income sources page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from keel.accounts.services import create_worker
from keel.career.models import Contract, MilestoneState
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


def test_create_fund_deliver_release_and_the_income_shows(
    page: Page, page_problems: list[str]
) -> None:
    maya = create_worker("maya@example.org", name="Maya Maker", password=PASSWORD, currency="EUR")
    log_in(page, maya.email)

    page.goto("/career/contracts/")
    expect(page.get_by_test_id("no-contracts")).to_be_visible()
    page.get_by_role("link", name="New contract").click()
    page.get_by_label("Project").fill("Podcast season")
    page.get_by_label("Client", exact=True).fill("Wave Media")
    page.get_by_label("Credit limit").fill("5,000.00")
    rows = page.get_by_test_id("milestone-row")
    rows.nth(0).get_by_label("Deliverable").fill("Episodes 1-4")
    rows.nth(0).get_by_label("Amount").fill("1,200.00")
    rows.nth(1).get_by_label("Deliverable").fill("Episodes 5-8")
    rows.nth(1).get_by_label("Amount").fill("1,300.00")
    page.get_by_role("button", name="Save the contract").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Podcast season")
    expect(page.get_by_test_id("paid-total")).to_have_text("€0.00")
    expect(page.get_by_test_id("milestone")).to_have_count(2)

    first = page.get_by_test_id("milestone").nth(0)
    first.get_by_role("button", name="Fund").click()
    first = page.get_by_test_id("milestone").nth(0)
    expect(first.get_by_test_id("milestone-state")).to_have_text("Funded")
    expect(page.get_by_test_id("in-escrow")).to_have_text("€1,200.00")

    first.get_by_role("button", name="Mark delivered").click()
    first = page.get_by_test_id("milestone").nth(0)
    expect(first.get_by_test_id("milestone-state")).to_have_text("Delivered")
    expect(first.get_by_test_id("auto-release")).to_be_visible()

    first.get_by_role("button", name="Release").click()
    first = page.get_by_test_id("milestone").nth(0)
    expect(first.get_by_test_id("milestone-state")).to_have_text("Released")
    expect(page.get_by_test_id("paid-total")).to_have_text("€1,200.00")
    expect(page.get_by_test_id("in-escrow")).to_have_text("€0.00")
    expect(page.get_by_role("alert").or_(page.get_by_role("status")).first).to_contain_text(
        "booked as your income from Wave Media"
    )

    # The income domain counts it as income from the client.
    page.goto("/income/sources/")
    source = page.locator("[data-source='wave-media']")
    expect(source).to_contain_text("Wave Media")
    expect(source.get_by_test_id("total-income")).to_have_text("€1,200.00")

    contract = Contract.objects.get(worker=maya)
    m1, m2 = contract.milestones.order_by("sequence")
    assert (m1.state, m1.released) == (MilestoneState.RELEASED, 120_000)
    assert m2.state == MilestoneState.PLANNED
    assert ledger.verify().ok
    assert page_problems == []


def test_the_client_releases_part_and_disputes_on_their_link(
    page: Page, page_problems: list[str]
) -> None:
    # The page told the browser to send no referrer, so Chromium sent "Origin: null" with
    # the client's form and Django's CSRF check refused every release and dispute (403).
    from django.utils import timezone

    from keel.career import client_links, services

    maya = create_worker("maya@example.org", name="Maya Maker", password=PASSWORD, currency="EUR")
    contract = services.create_contract(
        maya,
        title="Podcast season",
        client_name="Wave Media",
        client_email="ap@wave.example",
        currency="EUR",
        credit_limit=500_000,
        milestones=[
            services.MilestoneInput("Episodes 1-4", 120_000),
            services.MilestoneInput("Episodes 5-8", 130_000),
        ],
    )
    for milestone in contract.milestones.order_by("sequence"):
        services.fund_milestone(milestone, on=timezone.localdate(), recorded_by=maya)
    issued = services.issue_invoice(
        contract.milestones.get(sequence=1), on=timezone.localdate(), recorded_by=maya
    )
    page.goto(f"/c/{client_links.issue_link(contract)}/")

    # The client downloads the invoice they must pay through the same link.
    with page.expect_download() as download:
        page.get_by_role("link", name=f"Download {issued.invoice_number} (PDF)").click()
    assert download.value.suggested_filename == f"{issued.invoice_number}.pdf"
    with open(download.value.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"

    first = page.get_by_test_id("milestone").nth(0)
    first.get_by_label("Amount to release").fill("1,000.00")
    first.get_by_label("I release this money for good").check()
    first.get_by_role("button", name="Release to Maya Maker").click()
    expect(page.get_by_role("alert").or_(page.get_by_role("status")).first).to_contain_text(
        "You released €1,000.00; €200.00 moves to the next milestone."
    )
    second = page.get_by_test_id("milestone").nth(1)
    second.get_by_text("Dispute this milestone…").click()
    second.get_by_label("What you dispute").fill("Episode 6 is missing")
    second.get_by_role("button", name="Dispute").click()
    second = page.get_by_test_id("milestone").nth(1)
    expect(second.get_by_test_id("milestone-state")).to_have_text("Disputed")

    m1, m2 = contract.milestones.order_by("sequence")
    assert (m1.state, m1.released) == (MilestoneState.RELEASED, 100_000)
    assert (m2.state, m2.reserved) == (MilestoneState.DISPUTED, 150_000)
    assert ledger.verify().ok
    assert page_problems == []
