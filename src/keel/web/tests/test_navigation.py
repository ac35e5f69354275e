from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from keel.accounts.models import User
from keel.web import navigation
from keel.web.navigation import NavItem, NavLink, nav_items, register_nav, visible_links


@pytest.fixture
def registry(monkeypatch):
    """An empty registry for the test; the shell's own entries come back afterwards."""
    monkeypatch.setattr(navigation, "_REGISTRY", [])
    return navigation._REGISTRY


def request_for(user, path: str = "/"):
    request = RequestFactory().get(path)
    request.user = user
    return request


def test_the_shell_registers_dashboard_api_keys_and_admin():
    # Other domains add their own entries in between; the shell's keep their order.
    shell = {"web:dashboard", "api_keys:list", "admin:index"}
    assert [(i.label, i.url_name, i.staff_only) for i in nav_items() if i.url_name in shell] == [
        ("Dashboard", "web:dashboard", False),
        ("API keys", "api_keys:list", False),
        ("Admin", "admin:index", True),
    ]


def test_register_nav_orders_entries_and_replaces_a_second_registration(registry):
    register_nav("Admin", "admin:index", order=1000)
    register_nav("Dashboard", "web:dashboard", order=10)
    register_nav("Pools", "web:landing", order=30)
    register_nav("Pool directory", "web:landing", order=20)

    assert nav_items() == (
        NavItem("Dashboard", "web:dashboard", order=10),
        NavItem("Pool directory", "web:landing", order=20),
        NavItem("Admin", "admin:index", order=1000),
    )


def test_anonymous_people_see_only_public_entries(registry, db):
    register_nav("Dashboard", "web:dashboard")
    register_nav("Home", "web:landing", public=True)

    links = visible_links(request_for(AnonymousUser()), frozenset())

    assert links == [NavLink("Home", "/", active=True)]


def test_entries_follow_role_and_staff(registry, db):
    register_nav("Dashboard", "web:dashboard", order=1)
    register_nav("Pool", "web:landing", role="pool member", order=2)
    register_nav("Admin", "admin:index", staff_only=True, order=3)
    worker = User(email="w@example.com", name="W")
    staff = User(email="s@example.com", name="S", is_staff=True)

    def labels(user: User, roles: set[str]) -> list[str]:
        return [link.label for link in visible_links(request_for(user), frozenset(roles))]

    assert labels(worker, {"worker"}) == ["Dashboard"]
    assert labels(worker, {"worker", "pool member"}) == ["Dashboard", "Pool"]
    assert labels(staff, set()) == ["Dashboard", "Admin"]


def test_an_entry_whose_url_does_not_resolve_is_left_out(registry, db):
    register_nav("Not built yet", "nowhere:list")
    register_nav("Dashboard", "web:dashboard")
    user = User(email="w@example.com", name="W")

    assert visible_links(request_for(user), frozenset()) == [
        NavLink("Dashboard", "/dashboard/", active=False)
    ]


@pytest.mark.parametrize(
    ("path", "active"),
    [("/dashboard/", True), ("/dashboard/income/", True), ("/dashboards/", False), ("/", False)],
)
def test_active_entry_covers_its_subpages(registry, db, path, active):
    register_nav("Dashboard", "web:dashboard")
    user = User(email="w@example.com", name="W")
    assert visible_links(request_for(user, path), frozenset())[0].active is active


def test_navbar_on_a_page_shows_registered_entries(client, registry, maya):
    register_nav("Dashboard", "web:dashboard", order=1)
    register_nav("Landing again", "web:landing", order=2)
    register_nav("Only staff", "admin:index", staff_only=True)
    client.force_login(maya)

    page = client.get("/dashboard/").content.decode()

    assert '<a class="nav-link active" href="/dashboard/" aria-current="page">Dashboard</a>' in page
    assert '<a class="nav-link" href="/">Landing again</a>' in page
    assert "Only staff" not in page
