"""The operators' page of the audit log. Only staff see it; to anyone else it does not
exist (404), as a page they were refused would tell them it does."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import services
from .forms import AuditFilterForm

EVENTS_PER_PAGE = 50


@never_cache
@login_required
@require_GET
def event_list(request: HttpRequest) -> HttpResponse:
    if not request.user.is_staff:
        raise Http404("no such page")
    form = AuditFilterForm(request.GET)
    # A filter that does not make sense (a pool id of "x") shows its error and no events.
    rows = services.events(form.audit_filter()) if form.is_valid() else services.events().none()
    page = Paginator(rows, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "actions": services.known_actions()}
    return render(request, "audit/events.html", context)
