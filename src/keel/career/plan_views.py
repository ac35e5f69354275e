"""The plan pages, under /career/plans/: the worker's plans, a new plan (or the next one
from a review's draft), and the plan page: a chart of MRR against the plan's line, what
is on track or behind in plain words, income by channel, the key actions with their done
buttons, the weekly check-ins and, after the 90 days, the review.

Views stay thin: every figure comes from ``keel.career.planning``, every write is one
service call. A plan is a 404 to anyone but its worker.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from keel.income import queries as income_queries
from keel.money import format_amount

from . import charts, planning
from . import plan_forms as forms
from .errors import CareerError
from .forms import add_career_error, currency_of
from .models import Plan, PlanReview
from .views import _worker, worker_page


def _plan(request: HttpRequest, plan_id: int) -> Plan:
    return get_object_or_404(
        Plan.objects.select_related("worker"), pk=plan_id, worker=_worker(request)
    )


@worker_page
@require_GET
def plan_list(request: HttpRequest) -> HttpResponse:
    worker = _worker(request)
    today = timezone.localdate()
    current = planning.current_plan(worker, today)
    context = {
        "plans": list(Plan.objects.filter(worker=worker).order_by("-starts_on", "-id")),
        "current": planning.plan_status(current, today) if current is not None else None,
    }
    return render(request, "career/plans/list.html", context)


def _new_form(request: HttpRequest, data: Any = None) -> forms.PlanForm:
    worker = _worker(request)
    currencies = planning.plan_currencies(worker)
    initial: dict[str, Any] = {}
    draft = None
    if data is None and request.GET.get("from", "").isdigit():
        draft = PlanReview.objects.filter(
            plan_id=int(request.GET["from"]), plan__worker=worker
        ).first()
    currency = currency_of(data, currencies[0])
    if draft is not None:
        currency = draft.plan.currency
        initial = {
            "starts_on": draft.next_starts_on,
            "currency": currency,
            "target_mrr": format_amount(draft.next_target_mrr, currency),
        }
    return forms.PlanForm(
        data,
        currency=currency,
        currencies=currencies,
        sources=income_queries.source_names(worker),
        initial=initial,
    )


@worker_page
@require_http_methods(["GET", "POST"])
def plan_new(request: HttpRequest) -> HttpResponse:
    worker = _worker(request)
    if request.method != "POST":
        return render(request, "career/plans/new.html", {"form": _new_form(request)})
    form = _new_form(request, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            plan = planning.create_plan(
                worker,
                starts_on=data["starts_on"],
                target_mrr=data["target_mrr"],
                expansion_channel=form.channels(),
                expansion_target=data.get("expansion_target"),
                currency=data["currency"],
            )
        except CareerError as exc:
            if exc.field == "expansion_channel":
                form.add_error("expansion_name", exc.message)
            else:
                add_career_error(form, exc)
        else:
            messages.success(request, "The plan is saved: its progress comes from your books.")
            return redirect("career:plan", plan_id=plan.pk)
    return render(request, "career/plans/new.html", {"form": form}, status=400)


def _plan_page(
    request: HttpRequest,
    plan: Plan,
    *,
    action_form: forms.ActionForm | None = None,
    check_in_form: forms.CheckInForm | None = None,
    status: int = 200,
) -> HttpResponse:
    today = timezone.localdate()
    report = planning.plan_status(plan, today)
    figure = None
    if report.series:
        figure = charts.plan_figure(
            report.series,
            plan.starts_on,
            report.review_on,
            plan.start_mrr,
            plan.target_mrr,
            plan.currency,
        )
    context = {
        "plan": plan,
        "report": report,
        "progress": report.progress,
        "figure": figure,
        "action_form": action_form or forms.ActionForm(),
        "check_in_form": check_in_form or forms.CheckInForm(),
        "active": plan.status == "active",
    }
    return render(request, "career/plans/detail.html", context, status=status)


@worker_page
@require_GET
def plan_detail(request: HttpRequest, plan_id: int) -> HttpResponse:
    return _plan_page(request, _plan(request, plan_id))


@worker_page
@require_POST
def action_new(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = _plan(request, plan_id)
    form = forms.ActionForm(request.POST)
    if form.is_valid():
        try:
            planning.add_action(plan, form.cleaned_data["title"], form.cleaned_data["due_on"])
        except CareerError as exc:
            add_career_error(form, exc)
        else:
            messages.success(request, "The key action is added.")
            return redirect("career:plan", plan_id=plan.pk)
    return _plan_page(request, plan, action_form=form, status=400)


@worker_page
@require_POST
def action_done(request: HttpRequest, plan_id: int, action_id: int) -> HttpResponse:
    plan = _plan(request, plan_id)
    get_object_or_404(plan.actions, pk=action_id)
    try:
        action = planning.mark_done(plan, action_id, timezone.localdate())
    except CareerError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{action.title}: done.")
    return redirect("career:plan", plan_id=plan.pk)


@worker_page
@require_POST
def check_in_new(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = _plan(request, plan_id)
    form = forms.CheckInForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            row, new = planning.check_in(
                plan, data["on"], data.get("note") or "", today=timezone.localdate()
            )
        except CareerError as exc:
            add_career_error(form, exc)
        else:
            done = "saved" if new else "updated"
            messages.success(request, f"The check-in for week {row.week} is {done}.")
            return redirect("career:plan", plan_id=plan.pk)
    return _plan_page(request, plan, check_in_form=form, status=400)


@worker_page
@require_POST
def plan_review(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = _plan(request, plan_id)
    try:
        planning.review_plan(plan, timezone.localdate())
    except CareerError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The plan is reviewed; a draft of the next plan is ready.")
    return redirect("career:plan", plan_id=plan.pk)


urlpatterns = [
    path("plans/", plan_list, name="plans"),
    path("plans/new/", plan_new, name="plan_new"),
    path("plans/<int:plan_id>/", plan_detail, name="plan"),
    path("plans/<int:plan_id>/actions/", action_new, name="plan_action_new"),
    path("plans/<int:plan_id>/actions/<int:action_id>/done/", action_done, name="plan_action_done"),
    path("plans/<int:plan_id>/check-ins/", check_in_new, name="plan_check_in"),
    path("plans/<int:plan_id>/review/", plan_review, name="plan_review"),
]
