"""The pool pages, mounted at /pools/ (their routes live beside their views)."""

from .views import urlpatterns as urlpatterns

app_name = "pools"
