from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.generic import TemplateView

from keel.accounts.models import Role, User

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
