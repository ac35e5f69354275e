"""Keel's URLs plus one view that fails, for the error-logging test."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from keel.urls import urlpatterns as keel_urlpatterns


def fail(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the ledger caught fire")


urlpatterns = [path("ops-test/fail", fail), *keel_urlpatterns]
