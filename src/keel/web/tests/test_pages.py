"""The landing page, the dashboard, the shell around them and the error pages."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.template import loader
from django.test import Client, RequestFactory
from django.urls import reverse
from django.views import defaults
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from keel.accounts.models import Role, User
from keel.accounts.services import grant_role

from .conftest import open_accounts, post

DASHBOARD = reverse("web:dashboard")


# ------------------------------------------------------------------ shell


def test_pages_load_assets_from_keel_itself_never_a_cdn(client, db):
    page = client.get("/").content.decode()

    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert [s for s in sources if "//" in s] == []
    assert '<link rel="stylesheet" href="/static/vendor/bootstrap/css/bootstrap.min.css">' in page
    assert '<link rel="stylesheet" href="/static/web/keel.css">' in page
    assert '<script src="/static/vendor/bootstrap/js/bootstrap.bundle.min.js"></script>' in page
    assert '<script src="/static/django_htmx/htmx-2.min.js" defer></script>' in page


def test_the_page_sends_the_csrf_token_with_htmx_requests(client, db):
    response = client.get("/")
    token = response.context["csrf_token"]
    assert f'hx-headers=\'{{"X-CSRFToken": "{token}"}}\'' in response.content.decode()


def test_navbar_for_anonymous_people_offers_log_in_and_sign_up(client, db):
    response = client.get("/")
    assertContains(response, '<a class="btn btn-outline-light" href="/accounts/login/">Log in</a>')
    assertNotContains(response, 'href="/dashboard/">Dashboard')
    assertNotContains(response, "Log out")


def test_navbar_for_a_worker_has_dashboard_and_a_post_logout(client, maya):
    client.force_login(maya)
    response = client.get(DASHBOARD)
    assertContains(response, 'href="/dashboard/" aria-current="page">Dashboard</a>')
    assertContains(response, f'<a class="dropdown-item" href="{reverse("accounts:settings")}">')
    assertContains(response, f'<form method="post" action="{reverse("accounts:logout")}">')
    assertNotContains(response, 'href="/admin/"')


def test_navbar_shows_admin_to_staff_only(client, maya):
    User.objects.filter(pk=maya.pk).update(is_staff=True)
    client.force_login(maya)
    assertContains(client.get(DASHBOARD), '<a class="nav-link" href="/admin/">Admin</a>')


def test_messages_show_as_bootstrap_alerts(client, maya):
    client.force_login(maya)
    response = client.post(
        reverse("accounts:settings"), {"name": "Maya", "home_currency": "USD"}, follow=True
    )
    assertContains(response, "alert alert-success alert-dismissible")
    assertContains(response, "Your settings are saved.")


# ------------------------------------------------------------------ landing


def test_landing_explains_keel_to_its_three_users(client, db):
    response = client.get("/")
    assert response.status_code == 200
    assertTemplateUsed(response, "web/landing.html")
    for heading in ("Workers", "Peer pools", "Platforms"):
        assertContains(response, f'<h3 class="h5 fw-bold">{heading}</h3>', html=True)
    assertContains(response, "portable benefits account")
    assertContains(response, f'href="{reverse("accounts:signup")}"')
    assertNotContains(response, "lorem")
    assertNotContains(response, "coming soon")


def test_landing_for_someone_logged_in_points_to_the_dashboard(client, maya):
    client.force_login(maya)
    response = client.get("/")
    assertContains(response, "Go to your dashboard", count=2)
    assertNotContains(response, f'href="{reverse("accounts:signup")}"')


# ------------------------------------------------------------------ dashboard


def test_dashboard_needs_login(client, db):
    response = client.get(DASHBOARD)
    assert response.status_code == 302
    assert response.url == f"{reverse('accounts:login')}?next={DASHBOARD}"


def test_dashboard_without_accounts_explains_what_will_appear(client, maya):
    client.force_login(maya)

    response = client.get(DASHBOARD)

    assertContains(response, "Hello, Maya")
    assertContains(response, '<span class="badge rounded-pill keel-role">Worker</span>', html=True)
    assertContains(response, "Your books are empty so far")
    assertContains(response, "when you import income from a platform or client export")
    assertNotContains(response, "Recent activity")


def test_dashboard_with_accounts_but_no_activity_shows_zero_balances(client, maya):
    open_accounts(maya.pk)
    client.force_login(maya)

    response = client.get(DASHBOARD)

    assertContains(response, "Nothing has moved yet")
    assertContains(response, '<span class="keel-amount">$0.00</span>', html=True)
    assertNotContains(response, "Recent activity")


def test_dashboard_for_a_platform_operator_points_to_api_keys(client, db):
    operator = User.objects.create_user("ops@platform.example", "x" * 12, name="Olu Ade")
    grant_role(operator, Role.PLATFORM_OPERATOR)
    client.force_login(operator)

    response = client.get(DASHBOARD)

    assertContains(response, "Platform operator")
    assertContains(response, "As a platform operator you pay portable-benefit contributions")
    assertContains(response, f'href="{reverse("api_keys:list")}">Create an API key</a>')


def test_dashboard_shows_balances_totals_and_activity_per_currency(client, maya):
    acct = open_accounts(maya.pk)
    post(
        "gig",
        (acct["cash"], 90_000),
        (acct["fees"], 10_000),
        (acct["upwork"], -100_000),
        memo="Upwork: logo project",
    )
    post(
        "book",
        (acct["cash_eur"], 150_000),
        (acct["verlag"], -150_000),
        currency="EUR",
        on=date(2026, 3, 9),
        memo="Berliner Verlag: chapter 3",
    )
    client.force_login(maya)

    response = client.get(DASHBOARD)
    page = response.content.decode()

    assertContains(response, "Held minus owed, USD")
    assertContains(response, '<div class="keel-stat">$900.00</div>', html=True)
    assertContains(response, '<div class="keel-stat">€1,500.00</div>', html=True)
    assertContains(response, "<span>Total USD</span>", html=True)
    assertContains(response, "<span>Total EUR</span>", html=True)
    assertContains(response, "Upwork: logo project")
    assertContains(response, '<time datetime="2026-03-09">Mar 9, 2026</time>', html=True)
    assertContains(response, '<dd class="mb-0 keel-amount">+€1,500.00</dd>', html=True)
    # Newest first.
    assert page.index("Berliner Verlag: chapter 3") < page.index("Upwork: logo project")
    # Never one total across currencies: 900.00 + 1,500.00 appears nowhere.
    assert "2,400.00" not in page
    assertNotContains(response, "Your books are empty so far")


def test_dashboard_shows_only_the_logged_in_persons_books(client, maya):
    sam = User.objects.create_user("sam@example.com", "x" * 12, name="Sam Okafor")
    theirs = open_accounts(sam.pk)
    post("sam", (theirs["cash"], 777_700), (theirs["upwork"], -777_700), memo="Sam's gig")
    client.force_login(maya)

    response = client.get(DASHBOARD)

    assertNotContains(response, "Sam's gig")
    assertNotContains(response, "7,777.00")
    assertContains(response, "Your books are empty so far")


def test_dashboard_query_count_does_not_grow_with_activity(client, maya, django_assert_num_queries):
    acct = open_accounts(maya.pk)
    for n in range(30):
        post(f"g{n}", (acct["cash"], 100 + n), (acct["upwork"], -(100 + n)))
    client.force_login(maya)

    # 7 for the shell and the books, 2 for the registered panels (career: has the worker
    # recurring offers? a current 90-day plan?), however much has happened.
    with django_assert_num_queries(9):
        response = client.get(DASHBOARD)

    assert response.content.decode().count('<li class="list-group-item py-3">') == 20


# ------------------------------------------------------------------ error pages


@pytest.fixture
def production(settings):
    settings.DEBUG = False


def test_404_uses_keels_page_inside_the_shell(client, db, production):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assertTemplateUsed(response, "404.html")
    assertContains(response, "We could not find that page", status_code=404)
    assertContains(response, "keel-navbar", status_code=404)


def test_403_uses_keels_page(rf: RequestFactory, maya):
    request = rf.get("/somewhere/")
    request.user = maya
    response = defaults.permission_denied(request, PermissionError())
    assert response.status_code == 403
    assert "You do not have access to this page" in response.content.decode()
    assert "maya@example.com" in response.content.decode()


def test_500_renders_without_context_request_or_database():
    # Django renders it with an empty context when something already failed; it must not
    # need context processors, static files or a database connection.
    html = loader.get_template("500.html").render()
    assert "Something went wrong on our side" in html
    assert "{%" not in html and "static/" not in html


def test_500_handler_serves_keels_page(rf: RequestFactory):
    response = defaults.server_error(rf.get("/"))
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


def test_a_page_that_finds_the_database_busy_answers_503_and_asks_to_send_it_again(
    maya, monkeypatch, database_busy_error
):
    def busy(*args: object, **kwargs: object) -> object:
        raise database_busy_error

    monkeypatch.setattr("keel.web.views.worker_overview", busy)
    client = Client(raise_request_exception=False)
    client.force_login(maya)
    response = client.get(reverse("web:dashboard"))

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    html = response.content.decode()
    assert "<title>Keel is busy · Keel</title>" in html
    assert '<p class="eyebrow">Error 503</p>' in html
    assert "<h1>Keel is busy with other changes</h1>" in html
    assert "was not made. Please send it again in a few seconds." in html
    assert "Something went wrong" not in html


def test_any_other_error_on_a_page_is_keels_500(maya, monkeypatch):
    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("a bug")

    monkeypatch.setattr("keel.web.views.worker_overview", broken)
    client = Client(raise_request_exception=False)
    client.force_login(maya)
    response = client.get(reverse("web:dashboard"))

    assert response.status_code == 500
    assert "Retry-After" not in response
    assert "<h1>Something went wrong on our side</h1>" in response.content.decode()
