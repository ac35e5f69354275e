from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views import defaults
from django.views.generic import TemplateView

from keel.accounts.models import Role, User
from keel.api.errors import BUSY_RETRY_AFTER_SECONDS
from keel.sqlite_backend.base import is_busy

from .context_processors import user_roles
from .panels import dashboard_panels
from .services import worker_overview


class LandingView(TemplateView):
    template_name = "web/landing.html"


class DashboardView(LoginRequiredMixin, TemplateView):
    template_name = "web/dashboard.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        roles = user_roles(self.request)
        user = self.request.user
        assert isinstance(user, User)  # LoginRequiredMixin lets only logged-in people through
        context.update(
            overview=worker_overview(user.pk, home_currency=user.home_currency),
            role_labels=[role.label for role in Role if role.value in roles],
            is_platform_operator=Role.PLATFORM_OPERATOR.value in roles,
            api_keys_url=_url_or_none("api_keys:list"),
            panels=dashboard_panels(user, timezone.localdate()),
        )
        return context


def _url_or_none(name: str) -> str | None:
    # Pages other apps provide may not be installed yet; the dashboard links them if so.
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def server_error(request: HttpRequest) -> HttpResponse:
    """Keel's handler500. Django calls it while handling the exception, so the exception is
    at hand: a database that stayed locked for the whole wait (SQLite's single writer) is a
    503 with Retry-After, since the change was not made and the same form can be sent again;
    anything else is Django's own 500 page (500.html)."""
    error = sys.exception()
    if not (isinstance(error, OperationalError) and is_busy(error)):
        return defaults.server_error(request)
    page = loader.get_template("500.html").render(_DATABASE_BUSY)
    response = HttpResponse(page, status=503)
    response["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
    return response


_DATABASE_BUSY = {
    "status": 503,
    "title": "Keel is busy",
    "heading": "Keel is busy with other changes",
    "message": "Your change waited its turn behind others for too long and was not made."
    " Please send it again in a few seconds.",
}
