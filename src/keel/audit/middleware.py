"""Makes the request being served available to `services.record`.

Services such as `api.services.create_key` are called from pages, the API and commands
alike and are not handed the request; an event they record still gets the address and
browser it came from."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from .services import serving


class AuditRequestMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        with serving(request):
            return self.get_response(request)
