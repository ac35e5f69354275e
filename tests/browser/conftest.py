"""Playwright fixtures: Debian's Chromium driven through the sync API against live_server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from pytest_django.live_server_helper import LiveServer

# Playwright's sync API runs an asyncio event loop in this thread, and Django refuses
# synchronous database calls while one is running. The tests themselves are synchronous,
# so the check only gets in the way here.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing; install Debian's chromium package to run browser tests"
        # Locally a missing browser is a skip; in CI it would silently drop the only test
        # that drives the pages end to end, so it is a failure there.
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (CI=true: browser tests must run)", pytrace=False)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page_problems() -> list[str]:
    """Failed requests and script errors seen by the page; tests assert it stays empty."""
    return []


def _open_page(
    browser: Browser, base_url: str, viewport: dict[str, int], problems: list[str]
) -> tuple[BrowserContext, Page]:
    context = browser.new_context(base_url=base_url, viewport=viewport)  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on(
        "response",
        lambda r: problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None,
    )
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    return context, page


@pytest.fixture
def page(browser: Browser, live_server: LiveServer, page_problems: list[str]) -> Iterator[Page]:
    context, page = _open_page(browser, live_server.url, DESKTOP, page_problems)
    yield page
    context.close()


@pytest.fixture
def phone_page(
    browser: Browser, live_server: LiveServer, page_problems: list[str]
) -> Iterator[Page]:
    context, page = _open_page(browser, live_server.url, PHONE, page_problems)
    yield page
    context.close()
