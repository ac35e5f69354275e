"""Offers to workers: steady micro-contract bundles (the worker answers them and follows
their delivery; the platform operator offers them, follows delivery and settles short
weeks) and the catalogue of benefit plans priced by how many workers enroll.

Views stay thin: the gateway services do the work and their errors come back as a message
(buttons) or onto the form field they name (the offer form). Objects addressed by id are
looked up with the worker or the operated platform in the filter, so anyone else's is a
404, exactly like one that does not exist.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from keel.accounts.models import User
from keel.money import format_amount

from .. import services
from ..errors import GatewayError, NotFound
from ..models import BundleStatus, LinkStatus, Plan, Platform, WorkerLink
from ..offer_forms import BundleOfferForm, apply_bundle_error


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required lets only people through
    return request.user


def _money(minor: int, currency: str) -> str:
    return format_amount(minor, currency, symbol=True)


# ---------------------------------------------------------------------------- worker: bundles


@login_required
@require_GET
def bundles(request: HttpRequest) -> HttpResponse:
    worker = _user(request)
    views = [services.bundle_view(bundle) for bundle in services.bundles_for_worker(worker)]
    context = {
        "offered": [v for v in views if v.bundle.status == BundleStatus.OFFERED],
        "accepted": [v for v in views if v.bundle.status == BundleStatus.ACCEPTED],
        "closed": [
            v for v in views if v.bundle.status in (BundleStatus.DECLINED, BundleStatus.WITHDRAWN)
        ],
    }
    return render(request, "gateway/bundles.html", context)


@login_required
@require_POST
def bundle_respond(request: HttpRequest, bundle_id: int) -> HttpResponse:
    answer = request.POST.get("answer")
    if answer not in ("accept", "decline"):
        messages.error(request, "Choose Accept or Decline.")
        return redirect("gateway:bundles")
    try:
        bundle = services.respond(_user(request), bundle_id, answer == "accept")
    except NotFound:
        raise Http404("no such bundle") from None
    except GatewayError as exc:
        messages.error(request, exc.message)
        return redirect("gateway:bundles")
    if bundle.status == BundleStatus.ACCEPTED:
        messages.success(
            request,
            f"You accepted “{bundle.title}”. Its committed income now counts in your forecast.",
        )
    else:
        messages.info(request, f"You declined “{bundle.title}”.")
    return redirect("gateway:bundles")


# ---------------------------------------------------------------------------- platform: bundles


def _platform(request: HttpRequest, platform_id: int) -> Platform:
    try:
        return services.operated_platform(_user(request), platform_id)
    except NotFound:
        raise Http404("no such platform") from None


def _linked(platform: Platform) -> list[WorkerLink]:
    return [
        link
        for link in services.platform_links(platform)
        if link.status == LinkStatus.ACTIVE and link.worker is not None
    ]


def _platform_page(
    request: HttpRequest, platform: Platform, form: BundleOfferForm, *, status: int = 200
) -> HttpResponse:
    context: dict[str, Any] = {
        "platform": platform,
        "section": "bundles",
        "form": form,
        "bundles": [services.bundle_view(b) for b in services.bundles_for_platform(platform)],
        "today": timezone.localdate(),
    }
    return render(request, "gateway/bundles_platform.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def platform_bundles(request: HttpRequest, platform_id: int) -> HttpResponse:
    platform = _platform(request, platform_id)
    links = _linked(platform)
    if request.method == "GET":
        form = BundleOfferForm(links=links, currency=platform.currency)
        return _platform_page(request, platform, form)
    form = BundleOfferForm(request.POST, links=links, currency=platform.currency)
    if not form.is_valid():
        return _platform_page(request, platform, form, status=400)
    try:
        bundle = services.offer_bundle(
            platform,
            form.cleaned_data["worker_ref"],
            form.cleaned_data["reference"],
            form.cleaned_data["title"],
            form.terms(),
        )
    except GatewayError as exc:
        apply_bundle_error(form, exc)
        return _platform_page(request, platform, form, status=400)
    messages.success(
        request,
        f"“{bundle.title}” is offered to {bundle.link.worker_ref}; it counts once they accept.",
    )
    return redirect("gateway:platform_bundles", platform_id=platform.pk)


@login_required
@require_POST
def platform_bundle_withdraw(
    request: HttpRequest, platform_id: int, bundle_id: int
) -> HttpResponse:
    platform = _platform(request, platform_id)
    try:
        bundle = services.platform_bundle(platform, bundle_id)
        services.withdraw(platform, bundle.reference)
    except NotFound:
        raise Http404("no such bundle") from None
    except GatewayError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, f"You withdrew the offer “{bundle.title}”.")
    return redirect("gateway:platform_bundles", platform_id=platform.pk)


@login_required
@require_POST
def platform_bundle_settle(
    request: HttpRequest, platform_id: int, bundle_id: int, week: int
) -> HttpResponse:
    platform = _platform(request, platform_id)
    try:
        bundle = services.platform_bundle(platform, bundle_id)
        event = services.settle_shortfall(platform, bundle, week - 1)
    except NotFound:
        raise Http404("no such bundle") from None
    except GatewayError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Week {week} of “{bundle.title}” is topped up by"
            f" {_money(event.bonus, event.currency)} (event {event.event_id}).",
        )
    return redirect("gateway:platform_bundles", platform_id=platform.pk)


# ---------------------------------------------------------------------------- worker: plans


@login_required
@require_GET
def plans(request: HttpRequest) -> HttpResponse:
    worker = _user(request)
    open_by_plan = {e.plan_id: e for e in services.enrollments_of(worker) if e.ended_on is None}
    rows = [
        {"prices": services.plan_prices(plan), "enrollment": open_by_plan.get(plan.pk)}
        for plan in services.catalogue()
    ]
    context = {"rows": rows, "charges": services.premium_history(worker)}
    return render(request, "gateway/plans.html", context)


def _plan(plan_id: int) -> Plan:
    try:
        return services.active_plan(plan_id)
    except NotFound:
        raise Http404("no such plan") from None


@login_required
@require_POST
def plan_enroll(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = _plan(plan_id)
    try:
        services.enroll(_user(request), plan)
    except GatewayError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"You are enrolled in {plan.name}. Premiums are paid each month from your health"
            " bucket.",
        )
    return redirect("gateway:plans")


@login_required
@require_POST
def plan_leave(request: HttpRequest, enrollment_id: int) -> HttpResponse:
    worker = _user(request)
    try:
        enrollment = services.worker_enrollment(worker, enrollment_id)
        services.leave(worker, enrollment)
    except NotFound:
        raise Http404("no such enrollment") from None
    except GatewayError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, f"You left {enrollment.plan.name}.")
    return redirect("gateway:plans")


@login_required
@require_POST
def premium_pay(request: HttpRequest, charge_id: int) -> HttpResponse:
    try:
        charge = services.pay_premium(_user(request), charge_id)
    except NotFound:
        raise Http404("no such premium") from None
    except GatewayError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Paid {_money(charge.amount, charge.enrollment.plan.currency)} for"
            f" {charge.month:%B %Y} from your health bucket.",
        )
    return redirect("gateway:plans")


urlpatterns = [
    path("benefits/bundles/", bundles, name="bundles"),
    path("benefits/bundles/<int:bundle_id>/respond/", bundle_respond, name="bundle_respond"),
    path("benefits/plans/", plans, name="plans"),
    path("benefits/plans/<int:plan_id>/enroll/", plan_enroll, name="plan_enroll"),
    path("benefits/plans/enrollments/<int:enrollment_id>/leave/", plan_leave, name="plan_leave"),
    path("benefits/plans/premiums/<int:charge_id>/pay/", premium_pay, name="premium_pay"),
    path("platform/<int:platform_id>/bundles/", platform_bundles, name="platform_bundles"),
    path(
        "platform/<int:platform_id>/bundles/<int:bundle_id>/withdraw/",
        platform_bundle_withdraw,
        name="platform_bundle_withdraw",
    ),
    path(
        "platform/<int:platform_id>/bundles/<int:bundle_id>/weeks/<int:week>/settle/",
        platform_bundle_settle,
        name="platform_bundle_settle",
    ),
]
