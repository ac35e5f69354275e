"""The upsell pages: the list of a worker's upsells with each one's conversion (and the
form to add one), and an upsell's page with its buyers, takers, conversion and 95%
interval, band position, median days to take and the suggestions in plain words.

Views stay thin: every figure comes from ``keel.career.upselling``. An upsell is a 404 to
anyone but its worker.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from . import upselling
from .errors import CareerError
from .forms import add_career_error
from .models import Offer, Upsell
from .upsell_forms import UpsellForm
from .views import _worker, worker_page

BANDS = {
    "not_enough_buyers": "Not enough buyers yet",
    "below": "Below the 20\u201330% band",
    "inside": "Inside the 20\u201330% band",
    "above": "Above the 20\u201330% band",
}


def _offer_choices(request: HttpRequest) -> list[tuple[int, str]]:
    return [
        (o.pk, o.name if o.active else f"{o.name} (not sold)")
        for o in Offer.objects.filter(worker=_worker(request)).order_by("name", "id")
    ]


@worker_page
@require_http_methods(["GET", "POST"])
def upsell_list(request: HttpRequest) -> HttpResponse:
    worker = _worker(request)
    choices = _offer_choices(request)
    status = 200
    if request.method == "POST":
        form = UpsellForm(request.POST, offers=choices)
        if form.is_valid():
            data = form.cleaned_data
            offers = {o.pk: o for o in Offer.objects.filter(worker=worker)}
            try:
                upsell = upselling.create_upsell(
                    worker,
                    base=offers[data["base"]],
                    follow_on=offers[data["follow_on"]],
                    window_days=data.get("window_days"),
                    key=data.get("token") or "",
                )
            except CareerError as exc:
                add_career_error(form, exc)
            else:
                messages.success(request, "The upsell is saved.")
                return redirect("career:upsell", upsell_id=upsell.pk)
        status = 400
    else:
        form = UpsellForm(offers=choices)
    context = {
        "summaries": upselling.upsell_summaries(worker, timezone.localdate()),
        "form": form,
        "enough_offers": len(choices) >= 2,
        "bands": BANDS,
    }
    return render(request, "career/upsells/list.html", context, status=status)


@worker_page
@require_GET
def upsell_detail(request: HttpRequest, upsell_id: int) -> HttpResponse:
    upsell = get_object_or_404(
        Upsell.objects.select_related("base", "follow_on"),
        pk=upsell_id,
        worker=_worker(request),
    )
    summary = upselling.upsell_summary(upsell, timezone.localdate())
    return render(
        request,
        "career/upsells/detail.html",
        {"summary": summary, "upsell": upsell, "report": summary.report, "bands": BANDS},
    )


urlpatterns = [
    path("offers/upsells/", upsell_list, name="upsells"),
    path("offers/upsells/<int:upsell_id>/", upsell_detail, name="upsell"),
]
