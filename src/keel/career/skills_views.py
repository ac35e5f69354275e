"""The skills page at /career/skills/: the worker's skills (add or change one), logged
work (add a log), effective hourly rates by skill and by exact combination with their
ceilings, the monthly rate history per skill (a chart) and per client, the adjacent-skill
suggestion and the reputation verdict in words, and the opt-in to anonymised peer
figures. Views stay thin: ``keel.career.skills_services`` computes and writes."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods, require_POST

from keel.accounts.models import User

from . import charts
from . import skills_services as services
from .errors import CareerError
from .forms import CURRENCIES, add_career_error, currency_of
from .models import Skill
from .skills_forms import SharingForm, SkillForm, WorkLogForm
from .views import _worker, worker_page


def _log_form(worker: User, data: Any = None) -> WorkLogForm:
    return WorkLogForm(
        data,
        currency=currency_of(data, worker.home_currency),
        choices=services.link_choices(worker),
        skills=Skill.objects.filter(worker=worker),
    )


def _page(
    request: HttpRequest,
    *,
    skill_form: SkillForm | None = None,
    log_form: WorkLogForm | None = None,
    status: int = 200,
) -> HttpResponse:
    worker = _worker(request)
    currencies = services.currencies(worker) or [worker.home_currency]
    currency = request.GET.get("currency", "").upper()
    if currency not in currencies:
        currency = currencies[0]
    report = services.skills_report(worker, currency)
    figure = (
        charts.rate_history_figure(report.history_by_skill, currency)
        if report.history_by_skill
        else None
    )
    context = {
        "report": report,
        "currency": currency,
        "currencies": currencies,
        "all_currencies": CURRENCIES,
        "skills": Skill.objects.filter(worker=worker),
        "logs": services.recent_logs(worker),
        "skill_form": skill_form or SkillForm(),
        "log_form": log_form or _log_form(worker),
        "sharing_form": SharingForm(initial={"opted_in": report.sharing}),
        "figure": figure,
    }
    return render(request, "career/skills/index.html", context, status=status)


@worker_page
@require_http_methods(["GET", "POST"])
def skills(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request)
    form = SkillForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            skill = services.save_skill(
                _worker(request),
                name=data["name"],
                level=data["level"],
                acquired_on=data.get("acquired_on"),
                key=data.get("token") or "",
            )
        except CareerError as exc:
            add_career_error(form, exc)
        else:
            messages.success(request, f"{skill.name} is saved at level {skill.level}.")
            return redirect("career:skills")
    return _page(request, skill_form=form, status=400)


@worker_page
@require_POST
def work_new(request: HttpRequest) -> HttpResponse:
    worker = _worker(request)
    form = _log_form(worker, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.log_work(
                worker,
                done_on=data["done_on"],
                minutes=data["minutes"],
                currency=data["currency"],
                skills=list(data["skills"]),
                income=data.get("income"),
                client_name=data.get("client_name") or "",
                milestone=data.get("milestone"),
                offer_payment=data.get("offer_payment"),
                key=data.get("token") or "",
            )
        except CareerError as exc:
            add_career_error(form, exc)
        else:
            messages.success(request, "The work is logged.")
            return redirect("career:skills")
    return _page(request, log_form=form, status=400)


@worker_page
@require_POST
def sharing(request: HttpRequest) -> HttpResponse:
    form = SharingForm(request.POST)
    opted_in = form.is_valid() and bool(form.cleaned_data.get("opted_in"))
    services.set_sharing(_worker(request), opted_in)
    messages.success(
        request,
        "You share and see anonymised peer figures."
        if opted_in
        else "You no longer share or see peer figures.",
    )
    return redirect("career:skills")


urlpatterns = [
    path("skills/", skills, name="skills"),
    path("skills/work/", work_new, name="work_new"),
    path("skills/sharing/", sharing, name="skill_sharing"),
]
