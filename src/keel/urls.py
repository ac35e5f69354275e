from django.contrib import admin
from django.urls import include, path

from keel.accounts.views import AdminLoginRedirectView
from keel.api.api import api
from keel.ops.health import healthz

# A database that stayed locked answers 503, not 500 (keel.web.views.server_error).
handler500 = "keel.web.views.server_error"

admin.site.site_header = "Keel operators"
admin.site.site_title = "Keel operators"

urlpatterns = [
    # Before the admin: its own log-in form would skip the two-factor code step.
    path("admin/login/", AdminLoginRedirectView.as_view(), name="admin-login"),
    path("admin/", admin.site.urls),
    path("accounts/", include("keel.accounts.urls")),
    path("api/v1/", api.urls),
    path("settings/api-keys/", include("keel.api.urls")),
    path("income/", include("keel.income.urls")),
    path("pools/", include("keel.pools.urls")),
    path("career/", include("keel.career.urls")),
    path("operators/audit/", include("keel.audit.urls")),
    # Load balancers and monitoring: no login, no session (keel.ops.health).
    path("healthz", healthz, name="healthz"),
    # A client's testimonial link (/t/<token>/) and public profiles (/p/<handle>/): no
    # account needed, so at the root, before the catch-all includes below.
    path("", include("keel.career.public_urls")),
    path("", include("keel.gateway.urls")),
    path("", include("keel.web.urls")),
]
