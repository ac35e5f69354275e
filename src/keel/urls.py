from django.contrib import admin
from django.urls import include, path

from keel.api.api import api

admin.site.site_header = "Keel operators"
admin.site.site_title = "Keel operators"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("keel.accounts.urls")),
    path("api/v1/", api.urls),
    path("settings/api-keys/", include("keel.api.urls")),
    path("income/", include("keel.income.urls")),
    path("pools/", include("keel.pools.urls")),
    path("career/", include("keel.career.urls")),
    # A client's testimonial link (/t/<token>/) and public profiles (/p/<handle>/): no
    # account needed, so at the root, before the catch-all includes below.
    path("", include("keel.career.public_urls")),
    path("", include("keel.gateway.urls")),
    path("", include("keel.web.urls")),
]
