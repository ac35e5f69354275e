from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from keel.accounts.models import Role

from .navigation import visible_links


def user_roles(request: HttpRequest) -> frozenset[str]:
    """The Keel roles (group names) of the person making the request, read once per request.

    Cached on the request because the navbar and the page both ask, and each ask would
    otherwise be a query.
    """
    cached: frozenset[str] | None = getattr(request, "_keel_roles", None)
    if cached is not None:
        return cached
    user = request.user
    roles: frozenset[str] = frozenset()
    if user.is_authenticated:
        roles = frozenset(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
    request._keel_roles = roles  # type: ignore[attr-defined]
    return roles


def navigation(request: HttpRequest) -> dict[str, Any]:
    # Rendering without a user (a template rendered outside the middleware) gets no navbar
    # entries rather than an AttributeError.
    if not hasattr(request, "user"):
        return {"nav_links": [], "user_roles": frozenset()}
    roles = user_roles(request)
    return {"nav_links": visible_links(request, roles), "user_roles": roles}
