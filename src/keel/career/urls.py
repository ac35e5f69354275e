"""The contract pages, mounted at /career/ (their routes live beside their views)."""

from .views import urlpatterns as urlpatterns

app_name = "career"
