"""The Keel API: one NinjaAPI at /api/v1/, with each domain's router mounted here.

A domain adds its router with one `api.add_router(...)` line below (e.g.
`api.add_router("/gateway", "keel.gateway.api.router")`), declares `auth=key_or_session`
or `auth=session_only` from `keel.api.auth`, `response=with_errors({...}, ...)` from
`keel.api.errors`, and registers the scopes its endpoints require with
`keel.api.keys.register_scope`.
"""

from __future__ import annotations

from typing import Any

from django.urls import re_path
from ninja import NinjaAPI

import keel

from .errors import install_error_handlers, not_found_view


class KeelAPI(NinjaAPI):
    @property
    def urls(self) -> tuple[list[Any], str, str]:
        patterns, app_name, namespace = super().urls
        # Last, so it only catches what no operation matched: unknown API paths get a JSON
        # error instead of the site's HTML 404 page.
        return [*patterns, re_path(r"^.*$", not_found_view, name="not-found")], app_name, namespace


api = KeelAPI(
    title="Keel API",
    version="1",
    description=(
        "Keel's JSON API. Authenticate with a browser session (unsafe methods need the"
        " X-CSRFToken header) or an API key sent as `Authorization: Bearer keel_...` or"
        " `X-API-Key`. Money is integer minor units plus an ISO 4217 currency. Every error"
        ' is `{"error": {"code", "message", "field", "details"}}`.'
        f" Keel {keel.__version__}."
    ),
)
install_error_handlers(api)

api.add_router("", "keel.api.routes.system.router")
api.add_router("/ledger", "keel.api.routes.ledger.router")
api.add_router("/keys", "keel.api.routes.keys.router")
api.add_router("", "keel.gateway.api.router")
api.add_router("/pools", "keel.pools.api.router")
