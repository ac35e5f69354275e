"""The navigation registry: every domain adds its own entries to the shell's navbar.

A domain registers its pages once, from its ``AppConfig.ready()``::

    from keel.web.navigation import register_nav

    register_nav("Pools", "pools:list", role=Role.POOL_MEMBER, order=30)

The navbar then shows the entry to the people allowed to see it. Entries whose URL name
does not resolve (an app that is not installed, a page still being built) are left out
instead of breaking every page.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

__all__ = ["NavItem", "NavLink", "nav_items", "register_nav", "unregister_nav", "visible_links"]


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    url_name: str
    # A role (group name, see keel.accounts.models.Role) the person must hold; None for all.
    role: str | None = None
    staff_only: bool = False
    # Most pages are private; a public entry is also shown to people who are not logged in.
    public: bool = False
    order: int = 100


@dataclass(frozen=True, slots=True)
class NavLink:
    """A registered entry resolved for one request."""

    label: str
    url: str
    active: bool


_REGISTRY: list[NavItem] = []


def register_nav(
    label: str,
    url_name: str,
    *,
    role: str | None = None,
    staff_only: bool = False,
    public: bool = False,
    order: int = 100,
) -> NavItem:
    """Add an entry to the navbar, or replace the one already registered for `url_name`.

    Replacing (rather than adding twice) keeps the navbar right when ``ready()`` runs more
    than once, as it does under some test runners and autoreloaders.
    """
    item = NavItem(label, url_name, role=role, staff_only=staff_only, public=public, order=order)
    unregister_nav(url_name)
    _REGISTRY.append(item)
    # Stable sort: entries with the same order keep their registration order.
    _REGISTRY.sort(key=lambda entry: entry.order)
    return item


def unregister_nav(url_name: str) -> None:
    _REGISTRY[:] = [item for item in _REGISTRY if item.url_name != url_name]


def nav_items() -> tuple[NavItem, ...]:
    return tuple(_REGISTRY)


def visible_links(request: HttpRequest, roles: frozenset[str]) -> list[NavLink]:
    """The entries this person may see, resolved to URLs, in order."""
    user = request.user
    authenticated = user.is_authenticated
    links: list[NavLink] = []
    for item in _REGISTRY:
        if not authenticated and not item.public:
            continue
        if item.staff_only and not (authenticated and user.is_staff):
            continue
        if item.role is not None and item.role not in roles:
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        links.append(NavLink(item.label, url, active=_is_active(request.path, url)))
    return links


def _is_active(path: str, url: str) -> bool:
    # The site root would otherwise count as the parent of every page.
    if url == "/":
        return path == "/"
    return path == url or path.startswith(url.rstrip("/") + "/")


# The shell's own entries. Other domains add theirs from their AppConfig.ready().
register_nav("Dashboard", "web:dashboard", order=10)
register_nav("API keys", "api_keys:list", order=80)
register_nav("Admin", "admin:index", staff_only=True, order=1000)
