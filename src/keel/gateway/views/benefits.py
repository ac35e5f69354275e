"""The worker's benefits pages: the portable benefits account (buckets, allocation,
linked platforms and their policies, contributions, uses, elective withholding) and the
monthly statements, as pages and PDF.

Views stay thin: what a page shows comes from ``keel.gateway.statements``, every write goes
through the gateway services, and a service's error comes back onto the form field it
names. Objects addressed by id are looked up with the logged-in worker in the filter (by
the services), so another worker's invitation, link or use is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, re_path
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from keel.accounts.models import Role, User
from keel.uploads import limit_upload_size, refuse_oversized

from .. import forms, services, statements
from ..errors import GatewayError, NotFound
from ..models import BenefitUse
from ..rules import buckets as bucket_rules
from ..rules.policy import format_bps

View = Callable[..., HttpResponseBase]


def _worker(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required lets only people through
    return request.user


def worker_page(view: View) -> View:
    """Logged-in people with the worker role only; anyone else is refused (403)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not _worker(request).has_role(Role.WORKER):
            raise PermissionDenied("the benefits account is for workers")
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def _money(minor: int, currency: str) -> str:
    return statements.money_text(minor, currency)


# ---------------------------------------------------------------------------- the page


def _page(
    request: HttpRequest,
    *,
    allocation_form: forms.AllocationForm | None = None,
    use_form: forms.UseForm | None = None,
    withholding_form: forms.WithholdingForm | None = None,
    link_code: str | None = None,
    status: int = 200,
) -> HttpResponse:
    worker = _worker(request)
    overview = statements.benefits_overview(worker)
    currencies = list(overview.currencies) or [worker.home_currency]
    use_forms = {
        kind: (
            use_form
            if use_form is not None and use_form.kind == kind
            else form_class(currencies=currencies)
        )
        for kind, form_class in forms.USE_FORMS.items()
    }
    home = overview.balances[0] if overview.balances else None
    held = {b.bucket: b.balance for b in home.buckets} if home else {}
    use_cards = [
        {
            "form": form,
            "bucket": bucket_rules.USE_BUCKET[kind],
            "bucket_label": bucket_rules.BUCKET_LABELS[bucket_rules.USE_BUCKET[kind]],
            "balance": held.get(bucket_rules.USE_BUCKET[kind], 0),
            "currency": currencies[0],
        }
        for kind, form in use_forms.items()
    ]
    figures = statements.contributions_figures(overview.contributions)
    withholding = withholding_form or forms.WithholdingForm()
    context = {
        "overview": overview,
        "balance_cards": [
            (cb, [(b, format_bps(b.allocation_bps)) for b in cb.buckets])
            for cb in overview.balances
        ],
        "allocation_form": allocation_form or forms.AllocationForm(allocation=overview.allocation),
        "use_cards": use_cards,
        "open_use": use_form.kind if use_form is not None else None,
        "withholding_form": withholding,
        "consent_text": withholding.consent_text(),
        "shown_rate": withholding.shown_rate_text(),
        "withholding_rate": (
            format_bps(overview.withholding.rate_bps) if overview.withholding else None
        ),
        "figures": [(f"fig-contributions-{c.lower()}", c, f) for c, f in figures.items()],
        "time_off_unit_text": _units_text(overview.time_off_units, currencies),
        "link_code": link_code,
        "link_code_hours": int(services.LINK_CODE_LIFETIME.total_seconds() // 3600),
    }
    response = render(request, "gateway/benefits.html", context, status=status)
    if link_code is not None:
        # The code is shown once: no cache may keep the page that shows it.
        response["Cache-Control"] = "no-store"
    return response


def _units_text(units: dict[str, int], currencies: list[str]) -> str | None:
    """The time-off units as the page words them: "$120.00", or with other currencies
    "$120.00 (any amount in EUR)"; None when no currency has one."""
    if not units:
        return None
    text = " or ".join(_money(units[c], c) for c in currencies if c in units)
    free = [c for c in currencies if c not in units]
    return f"{text} (any amount in {', '.join(free)})" if free else text


@worker_page
@require_GET
def benefits(request: HttpRequest) -> HttpResponse:
    return _page(request)


@worker_page
@require_POST
def allocation(request: HttpRequest) -> HttpResponse:
    worker = _worker(request)
    form = forms.AllocationForm(request.POST)
    if not form.is_valid():
        return _page(request, allocation_form=form, status=400)
    try:
        services.set_allocation(worker, form.allocation)
    except GatewayError as exc:
        form.add_error(None, exc.message)
        return _page(request, allocation_form=form, status=400)
    shares = ", ".join(
        f"{bucket_rules.BUCKET_LABELS[b]} {format_bps(v)}" for b, v in form.allocation.items()
    )
    messages.success(request, f"New contributions will be split: {shares}.")
    return redirect("gateway:benefits")


# ---------------------------------------------------------------------------- links


@worker_page
@require_POST
@never_cache
def link_code(request: HttpRequest) -> HttpResponse:
    code = services.create_link_code(_worker(request))
    return _page(request, link_code=code)


@worker_page
@require_POST
def invitation_accept(request: HttpRequest, link_id: int) -> HttpResponse:
    try:
        link = services.accept_invitation(_worker(request), link_id)
    except NotFound:
        raise Http404("no such invitation") from None
    messages.success(
        request,
        f"Linked to {link.platform.name} as {link.worker_ref}. Its contributions now go to"
        " your benefits account, including anything it held for you until now.",
    )
    return redirect("gateway:benefits")


@worker_page
@require_POST
def invitation_decline(request: HttpRequest, link_id: int) -> HttpResponse:
    try:
        link = services.decline_invitation(_worker(request), link_id)
    except NotFound:
        raise Http404("no such invitation") from None
    messages.info(request, f"Declined the invitation from {link.platform.name}.")
    return redirect("gateway:benefits")


@worker_page
@require_http_methods(["GET", "POST"])
def link_end(request: HttpRequest, link_id: int) -> HttpResponse:
    try:
        link = services.worker_link(_worker(request), link_id)
    except NotFound:
        raise Http404("no such link") from None
    if request.method == "POST":
        try:
            services.end_link(link)
        except GatewayError as exc:
            messages.error(request, exc.message)
            return redirect("gateway:benefits")
        messages.success(
            request,
            f"Ended the link with {link.platform.name}. Your account and its history stay;"
            " anything it pays for this reference from now on is held until you link again.",
        )
        return redirect("gateway:benefits")
    return render(request, "gateway/benefits_link_end.html", {"link": link})


# ---------------------------------------------------------------------------- uses


@worker_page
@require_POST
@limit_upload_size(lambda: services.MAX_RECEIPT_BYTES)  # a receipt is cut off as it streams in
def use(request: HttpRequest, kind: str) -> HttpResponse:
    worker = _worker(request)
    form_class = forms.USE_FORMS.get(kind.replace("-", "_"))
    if form_class is None:
        raise Http404("no such use")
    overview_currencies = [b.currency for b in services.bucket_balances(worker)]
    form = form_class(
        request.POST,
        request.FILES,
        currencies=list(dict.fromkeys(overview_currencies)) or [worker.home_currency],
    )
    if refuse_oversized(request, form, forms.RECEIPT_LIMIT_MESSAGE) or not form.is_valid():
        return _page(request, use_form=form, status=400)
    data = form.cleaned_data
    try:
        done = services.use_benefit(
            worker,
            form.kind,
            form.minor,
            currency=data["currency"],
            note=data.get("note", ""),
            idempotency_key=f"web:{worker.pk}:{data['token']}",
            **form.use_kwargs(),
        )
    except GatewayError as exc:
        field = exc.field if exc.field in form.fields and exc.field != "token" else None
        form.add_error(field, exc.message[:1].upper() + exc.message[1:] + ".")
        return _page(request, use_form=form, status=400)
    paid = _money(done.amount, done.currency)
    to = f" to {done.provider}" if done.provider else " to you"
    bucket = bucket_rules.BUCKET_LABELS.get(done.bucket, done.bucket).lower()
    messages.success(request, f"{form.label}: {paid} paid{to} from your {bucket} bucket.")
    return redirect("gateway:benefits")


@worker_page
@require_GET
def receipt(request: HttpRequest, use_id: int) -> FileResponse:
    try:
        found: BenefitUse = services.get_use(_worker(request), use_id)
    except NotFound:
        raise Http404("no such use") from None
    if not found.receipt:
        raise Http404("this use has no receipt")
    return FileResponse(
        found.receipt.open("rb"), as_attachment=True, filename=found.receipt_name or "receipt"
    )


# ---------------------------------------------------------------------------- withholding


@worker_page
@require_POST
def withholding_start(request: HttpRequest) -> HttpResponse:
    form = forms.WithholdingForm(request.POST)
    if not form.is_valid():
        return _page(request, withholding_form=form, status=400)
    try:
        consent = services.start_withholding(_worker(request), form.rate_bps)
    except GatewayError as exc:
        form.add_error("rate", exc.message)
        return _page(request, withholding_form=form, status=400)
    messages.success(
        request,
        f"Withholding is on at {format_bps(consent.rate_bps)} of each payment you import,"
        " from now on. You can stop it at any time.",
    )
    return redirect("gateway:benefits")


@worker_page
@require_POST
def withholding_stop(request: HttpRequest) -> HttpResponse:
    if services.stop_withholding(_worker(request)):
        messages.success(request, "Withholding is stopped. Nothing is withheld from now on.")
    else:
        messages.info(request, "Withholding was not on.")
    return redirect("gateway:benefits")


# ---------------------------------------------------------------------------- statements


def _statement(request: HttpRequest, year: str, month: str) -> statements.MonthlyStatement:
    try:
        statement = statements.monthly_statement(_worker(request), int(year), int(month))
    except ValueError:
        raise Http404("no such month") from None
    # A month with nothing on the worker's account has no statement.
    if not statement.has_activity:
        raise Http404("nothing happened in this month")
    return statement


@worker_page
@require_GET
def statement_list(request: HttpRequest) -> HttpResponse:
    months = statements.statement_months(_worker(request))
    return render(request, "gateway/statement_list.html", {"months": months})


@worker_page
@require_GET
def statement(request: HttpRequest, year: str, month: str) -> HttpResponse:
    found = _statement(request, year, month)
    months = [m.slug for m in statements.statement_months(_worker(request))]
    index = months.index(found.slug) if found.slug in months else -1
    context = {
        "statement": found,
        # Newest first: the month before is further down the list.
        "previous": months[index + 1] if 0 <= index < len(months) - 1 else None,
        "next": months[index - 1] if index > 0 else None,
    }
    return render(request, "gateway/statement.html", context)


@worker_page
@require_GET
def statement_pdf(request: HttpRequest, year: str, month: str) -> HttpResponse:
    found = _statement(request, year, month)
    pdf = statements.render_pdf(found, issued=timezone.localdate())
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="keel-benefits-{found.slug}.pdf"'
    return response


MONTH = r"(?P<year>\d{4})-(?P<month>\d{2})"

urlpatterns: list[URLPattern] = [
    path("benefits/", benefits, name="benefits"),
    path("benefits/allocation/", allocation, name="benefits_allocation"),
    path("benefits/link-code/", link_code, name="benefits_link_code"),
    path(
        "benefits/invitations/<int:link_id>/accept/",
        invitation_accept,
        name="benefits_invitation_accept",
    ),
    path(
        "benefits/invitations/<int:link_id>/decline/",
        invitation_decline,
        name="benefits_invitation_decline",
    ),
    path("benefits/links/<int:link_id>/end/", link_end, name="benefits_link_end"),
    path("benefits/uses/<int:use_id>/receipt/", receipt, name="benefits_receipt"),
    path("benefits/uses/<slug:kind>/", use, name="benefits_use"),
    path("benefits/withholding/", withholding_start, name="benefits_withholding"),
    path("benefits/withholding/stop/", withholding_stop, name="benefits_withholding_stop"),
    path("benefits/statements/", statement_list, name="benefits_statements"),
    re_path(rf"^benefits/statements/{MONTH}/$", statement, name="benefits_statement"),
    re_path(rf"^benefits/statements/{MONTH}\.pdf$", statement_pdf, name="benefits_statement_pdf"),
]
