"""A worker with a year of income opens the income dashboard, sees the charts drawn by
plotly and the stability panel, then imports an Upwork export through the page and watches
the import finish (the suite's task queue runs the check and the apply inside the request
that queues them; test_views drives the real queue)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from keel.accounts.models import User
from keel.accounts.services import create_worker
from keel.income import services as income
from keel.income.importers.base import ParsedRow, RowKind
from keel.income.models import ImportBatch, IncomeItem

pytestmark = pytest.mark.browser

PASSWORD = "quiet-harbour-1987"
UPWORK_CSV = Path(__file__).resolve().parents[2] / "docs" / "samples" / "upwork.csv"


def _payment(line: int, on: date, gross: int, stream: str = "") -> ParsedRow:
    return ParsedRow(
        line=line,
        kind=RowKind.INCOME,
        occurred_on=on,
        currency="USD",
        gross=gross,
        net=gross,
        external_id=f"P{line}",
        stream_hint=stream,
    )


def worker_with_a_year_of_income() -> User:
    """A monthly $1,500.00 retainer and a weekly gig of $120.00 for the past year."""
    worker = create_worker("maya@example.com", name="Maya Chen", password=PASSWORD)
    settings = income.income_settings(worker)
    settings.essential_expenses = 250_000
    settings.save()
    client = income.ensure_source(worker, "Northwind Studio", kind="client")
    today = date.today()  # noqa: DTZ011
    start = today - timedelta(days=365)
    rows = [
        _payment(i + 2, start + timedelta(days=30 * i), 150_000, "recurring") for i in range(12)
    ]
    rows += [_payment(100 + i, start + timedelta(days=7 * i), 12_000, "micro") for i in range(52)]
    income.book_rows(worker, client, rows)
    return worker


def log_in(page: Page) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill("maya@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))


def test_dashboard_charts_and_an_import_with_progress(page: Page, page_problems: list[str]):
    worker_with_a_year_of_income()
    log_in(page)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Income").click()
    expect(page).to_have_url(re.compile(r"/income/$"))
    expect(page.get_by_role("heading", name="Income", exact=True)).to_be_visible()
    # plotly marks the containers it has drawn into with .js-plotly-plot.
    expect(page.locator("#chart-forecast.js-plotly-plot")).to_be_visible()
    expect(page.locator("#chart-mix.js-plotly-plot")).to_be_visible()
    expect(page.locator("#chart-forecast .annotation-text")).to_contain_text("Lowest:")
    stability = page.locator("#stability")
    expect(stability.get_by_role("heading", name="How steady is your income?")).to_be_visible()
    expect(stability.get_by_role("heading", name="Month-to-month swing")).to_be_visible()
    expect(stability).to_contain_text("How much your income swings from month to month")
    expect(page.get_by_test_id("lowest-balance")).to_contain_text("Lowest expected balance:")

    page.get_by_role("link", name="Import", exact=True).click()
    page.get_by_label("Export file").set_input_files(str(UPWORK_CSV))
    page.get_by_role("button", name="Preview the import").click()
    expect(page.get_by_role("heading", name="Preview: upwork.csv")).to_be_visible()
    expect(page.get_by_test_id("rows-read")).to_have_text("13")
    expect(page.get_by_test_id("to-import")).to_have_text("7")
    expect(page.get_by_test_id("rejected")).to_have_text("0")

    page.get_by_role("button", name="Apply the import").click()
    # The progress partial polls until the job has booked the file, then the page
    # reloads with the result.
    result = page.get_by_test_id("import-result")
    expect(result).to_contain_text("Imported 7 items.", timeout=20_000)
    items = page.get_by_test_id("imported-items")
    expect(items).to_contain_text('Milestone 2: "Landing page", revisions')
    expect(items).to_contain_text("+$450.00")
    batch = ImportBatch.objects.get()
    assert batch.status == "applied"
    assert IncomeItem.objects.filter(batch=batch).count() == 7

    # The items are in their month, with their journal's legs one click away.
    page.get_by_role("link", name="May 2024").click()
    expect(page.get_by_role("heading", name="May 2024", level=1)).to_be_visible()
    expect(page.get_by_test_id("month-items")).to_contain_text("Upwork")
    page.get_by_role("link", name=re.compile(r"^Legs")).first.click()
    expect(page.locator(".keel-legs-row:not([hidden])").first).to_contain_text("Held at Upwork")
    assert page_problems == []


def test_the_dashboard_fits_a_phone(phone_page: Page, page_problems: list[str]):
    page = phone_page
    worker_with_a_year_of_income()
    log_in(page)
    page.goto("/income/")
    expect(page.locator("#chart-forecast.js-plotly-plot")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page_problems == []
