"""A peer pool end to end: a steward starts a sick-leave fund through the page (with a small
minimum membership and one approval per claim), two more members join (through the
services, for speed), a member reports sickness, another approves, the steward runs the
month's gifts, and the gift is in the pool's ledger on the page, charts drawn."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from keel.accounts.services import create_worker
from keel.pools import services
from keel.pools.models import Claim, ClaimStatus, GiftRun, Pool

pytestmark = pytest.mark.browser

PASSWORD = "quiet-harbour-1987"
EUR_1000, EUR_2000 = 100_000, 200_000


def log_in(page: Page, email: str) -> None:
    page.context.clear_cookies()
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log in")).to_have_count(0)


def test_create_join_claim_approve_and_the_gift_is_in_the_ledger(
    page: Page, page_problems: list[str]
) -> None:
    sam = create_worker("sam@example.org", name="Sam Steward", password=PASSWORD, currency="EUR")
    bea = create_worker("bea@example.org", name="Bea Baker", password=PASSWORD, currency="EUR")
    cal = create_worker("cal@example.org", name="Cal Carver", password=PASSWORD, currency="EUR")

    # Sam starts the fund from the Broodfonds template, with rules for a small group.
    log_in(page, sam.email)
    page.goto("/pools/")
    page.get_by_role("link", name="Start a pool").click()
    page.get_by_label("Name", exact=True).fill("Woodworkers Fund")
    page.get_by_label("Fewest members").fill("2")
    page.get_by_label("Approvals a claim needs").fill("1")
    page.get_by_label("Waiting period (months)").fill("0")
    page.get_by_label("Admit new members by a vote").uncheck()
    page.get_by_role("button", name="Start the pool").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Woodworkers Fund")
    expect(page.get_by_test_id("my-status")).to_have_text("steward")

    # Bea and Cal joined on the first of the month (a sickness from before joining is not
    # covered), and everyone pays this month's deposit.
    pool = Pool.objects.get(name="Woodworkers Fund")
    month = timezone.localdate().replace(day=1)
    services.apply(pool, bea, tier_gift=EUR_1000, today=month)
    services.apply(pool, cal, tier_gift=EUR_2000, today=month)
    for user in (sam, bea, cal):
        services.pay_own_deposit(pool, user, month)

    # Bea reports sickness since the first of the month: with no waiting period this
    # month's gift is due (a gift is for a month that begins after the wait).
    log_in(page, bea.email)
    page.goto(f"/pools/{pool.slug}/")
    page.locator("summary", has_text="Report sickness").click()
    page.get_by_label("Sick since").fill(month.isoformat())
    page.get_by_test_id("claim-form").get_by_role("button", name="Report sickness").click()
    expect(page.get_by_test_id("claim-status")).to_have_text("Waiting for approvals")
    expect(page.get_by_test_id("own-claim")).to_be_visible()

    # Cal approves it from the pool page.
    log_in(page, cal.email)
    page.goto(f"/pools/{pool.slug}/")
    page.get_by_test_id("open-claims").get_by_role("link", name="Review").click()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_test_id("claim-status")).to_have_text("Approved")

    # Sam runs the month's gifts; the gift is in the ledger on the page.
    log_in(page, sam.email)
    page.goto(f"/pools/{pool.slug}/")
    page.get_by_role("button", name="Run the month's gifts").click()
    gift = page.get_by_test_id("ledger-entry").filter(has_text="Gift for")
    expect(gift).to_have_count(1)
    expect(gift).to_contain_text("to Member 2")
    expect(gift).to_contain_text("Sam Steward (Member 1)")
    expect(page.get_by_test_id("gift-runs")).to_contain_text("cut to")
    expect(page.get_by_test_id("cut-notice")).to_be_visible()
    expect(page.locator("#chart-fig-pool-money .main-svg").first).to_be_attached()

    claim = Claim.objects.get(pool=pool)
    assert claim.status == ClaimStatus.APPROVED
    assert GiftRun.objects.get(pool=pool).gifts.get().received > 0
    assert page_problems == []
