"""A person signs up, logs out, logs back in and lands on their dashboard, in a real browser."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from keel.accounts.models import User
from keel.accounts.services import create_worker

pytestmark = pytest.mark.browser

PASSWORD = "quiet-harbour-1987"


def test_sign_up_log_out_log_in_and_see_the_dashboard(page: Page, page_problems: list[str]):
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("A steady keel")
    page.get_by_role("main").get_by_role("link", name="Sign up").first.click()

    expect(page).to_have_url(re.compile(r"/accounts/signup/$"))
    page.get_by_label("Your name").fill("Maya Chen")
    page.get_by_label("Email address").fill("Maya@Example.com")
    page.get_by_label("Home currency").select_option("EUR")
    expect(page.get_by_label("I earn as a worker")).to_be_checked()
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()

    # Nobody exists until the link emailed to the address is opened.
    expect(page).to_have_url(re.compile(r"/accounts/signup/sent/$"))
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    assert not User.objects.exists()
    (message,) = mail.outbox
    assert message.to == ["maya@example.com"]
    link = re.search(r"https?://\S+/accounts/signup/confirm/\S+/", message.body)
    assert link is not None
    page.goto(link.group(0))
    page.get_by_role("button", name="Create my account").click()

    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.get_by_text("Welcome to Keel, Maya.")).to_be_visible()
    expect(page.get_by_role("heading", name="Hello, Maya")).to_be_visible()
    expect(page.get_by_text("Home currency EUR")).to_be_visible()
    expect(page.get_by_role("heading", name="Nothing has moved yet")).to_be_visible()
    user = User.objects.get()
    assert (user.email, user.home_currency, user.roles) == ("maya@example.com", "EUR", ["worker"])

    page.get_by_role("button", name="Maya").click()
    page.get_by_role("button", name="Log out").click()

    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_text("You have logged out.")).to_be_visible()
    expect(page.get_by_role("button", name="Maya")).to_have_count(0)

    page.get_by_role("navigation").get_by_role("link", name="Log in").click()
    page.get_by_label("Email address").fill("maya@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.get_by_role("heading", name="Hello, Maya")).to_be_visible()
    expect(page.get_by_role("link", name="Dashboard")).to_have_attribute("aria-current", "page")
    assert page_problems == []


def test_a_wrong_password_is_refused_with_a_message(page: Page, page_problems: list[str]):
    create_worker("sam@example.com", name="Sam Okafor", password=PASSWORD)

    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill("sam@example.com")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("alert")).to_contain_text(
        "That email address and password do not match an account."
    )
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    assert page_problems == []


def test_on_a_phone_the_menu_collapses_and_still_logs_out(
    phone_page: Page, page_problems: list[str]
):
    page = phone_page
    create_worker("sam@example.com", name="Sam Okafor", password=PASSWORD)

    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill("sam@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Hello, Sam")).to_be_visible()
    # Nothing on the page is wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    dashboard_link = page.get_by_role("link", name="Dashboard")
    expect(dashboard_link).to_be_hidden()
    page.get_by_role("button", name="Open the menu").click()
    expect(dashboard_link).to_be_visible()
    # Wait for the menu to finish opening: a click while it still slides open can land
    # on the account button as it moves, and the dropdown never opens.
    expect(page.locator("#keel-nav")).to_have_class(re.compile(r"\bshow\b"))
    page.get_by_role("button", name="Sam").click()
    log_out = page.get_by_role("button", name="Log out")
    expect(log_out).to_be_visible()
    log_out.click()

    expect(page.get_by_text("You have logged out.")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page_problems == []


def test_forgot_password_reset_by_email_then_log_in(page: Page, page_problems: list[str]):
    create_worker("sam@example.com", name="Sam Okafor", password=PASSWORD)
    new_password = "lighthouse-morning-2027"

    page.goto("/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    page.get_by_label("Email address").fill("Sam@Example.com")
    page.get_by_role("button", name="Email me a reset link").click()

    expect(page).to_have_url(re.compile(r"/accounts/password/reset/sent/$"))
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    (message,) = mail.outbox
    link = re.search(r"https?://\S+/accounts/password/reset/\S+/\S+/", message.body)
    assert link is not None
    page.goto(link.group(0))
    page.get_by_label("New password", exact=True).fill(new_password)
    page.get_by_label("New password again").fill(new_password)
    page.get_by_role("button", name="Set my new password").click()

    expect(page.get_by_role("heading", name="Your new password is set")).to_be_visible()
    page.get_by_role("main").get_by_role("link", name="Log in").click()
    page.get_by_label("Email address").fill("sam@example.com")
    page.get_by_label("Password").fill(new_password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    assert page_problems == []
