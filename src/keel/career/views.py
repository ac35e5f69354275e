"""The contract pages: the list of contracts with each client's exposure and late
payments, a new contract with its milestones, the contract page with every milestone's
state, figures and actions, and each milestone's invoice as a page and a PDF.

Views stay thin: what a page shows comes from ``services.contract_summary`` and
``invoices.invoice_document``, every write is one service call. A contract, and everything
under it, is a 404 to anyone but the worker it belongs to. A refused action shows the
contract page again with the reason (400; 409 when the milestone changed meanwhile).

In Keel the client has no account: the worker records what the client does (funding the
escrow, releasing, disputing) when it happens, and Keel releases the escrow itself when a
review window closes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, re_path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from keel.accounts.models import Role, User
from keel.money import from_minor

from . import forms, invoices, services
from .errors import CareerError, Conflict
from .models import AdjustmentKind, Contract, InvoiceAdjustment, Milestone
from .rules.contracts import Invoice

View = Callable[..., HttpResponseBase]

ACTION_DONE = {
    "fund": "Milestone {n} is funded: the client's money is reserved in escrow.",
    "deliver": "Milestone {n} is delivered. The client's review window runs until {closes}.",
    "release": "Milestone {n} is released: {paid} is booked as your income from {client}.",
    "dispute": "Milestone {n} is disputed. The escrow stays reserved until it is resolved.",
    "resolve": "The dispute over milestone {n} is resolved: {paid} to you.",
}


def _worker(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required lets only people through
    return request.user


def worker_page(view: View) -> View:
    """Logged-in people with the worker role only; anyone else is refused (403)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not _worker(request).has_role(Role.WORKER):
            raise PermissionDenied("contracts are for workers")
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def _contract(request: HttpRequest, contract_id: int) -> Contract:
    return get_object_or_404(
        Contract.objects.select_related("worker"), pk=contract_id, worker=_worker(request)
    )


def _milestone(contract: Contract, milestone_id: int) -> Milestone:
    milestone = get_object_or_404(Milestone, pk=milestone_id, contract=contract)
    milestone.contract = contract
    return milestone


# ---------------------------------------------------------------------------- list


@worker_page
@require_GET
def contract_list(request: HttpRequest) -> HttpResponse:
    summaries = services.contract_summaries(_worker(request), timezone.localdate())
    clients = services.client_exposures(summaries)
    return render(request, "career/list.html", {"summaries": summaries, "clients": clients})


# ---------------------------------------------------------------------------- new


def _new_page(
    request: HttpRequest, form: forms.ContractForm, formset: Any, *, status: int = 200
) -> HttpResponse:
    rows = len(formset.forms)
    context = {
        "form": form,
        "formset": formset,
        "currencies": forms.CURRENCIES,
        "more_rows": rows + forms.MILESTONE_ROWS if rows < forms.MAX_MILESTONES else None,
    }
    return render(request, "career/new.html", context, status=status)


@worker_page
@require_http_methods(["GET", "POST"])
def contract_new(request: HttpRequest) -> HttpResponse:
    worker = _worker(request)
    if request.method != "POST":
        currency = forms.currency_of(request.GET, worker.home_currency)
        try:
            count = int(request.GET.get("rows") or forms.MILESTONE_ROWS)
        except ValueError:
            count = forms.MILESTONE_ROWS
        return _new_page(
            request,
            forms.ContractForm(currency=currency),
            forms.milestone_formset(None, currency, count),
        )
    currency = forms.currency_of(request.POST, worker.home_currency)
    form = forms.ContractForm(request.POST, currency=currency)
    formset = forms.milestone_formset(request.POST, currency)
    if not (form.is_valid() & formset.is_valid()):
        return _new_page(request, form, formset, status=400)
    rows = forms.filled_rows(formset)
    data = form.cleaned_data
    try:
        contract = services.create_contract(
            worker,
            title=data["title"],
            client_name=data["client_name"],
            client_email=data.get("client_email") or "",
            currency=data["currency"],
            credit_limit=data["credit_limit"] or 0,
            review_window_days=data["review_window_days"],
            payment_due_days=data["payment_due_days"],
            payment_due_uses_contract_date=bool(data.get("payment_due_uses_contract_date")),
            milestones=[
                services.MilestoneInput(
                    row["deliverable"], row["amount"], row.get("due_on"), row.get("starts_on")
                )
                for _, row in rows
            ],
            key=data.get("token") or "",
        )
    except CareerError as exc:
        forms.add_career_error(form, exc, formset=formset, rows=[index for index, _ in rows])
        return _new_page(request, form, formset, status=400)
    messages.success(
        request,
        f"The contract with {contract.client_name} is saved. Record the client's funding of"
        " the first milestone when they pay it into escrow.",
    )
    return redirect("career:contract", contract_id=contract.pk)


# ---------------------------------------------------------------------------- contract


def _contract_page(
    request: HttpRequest,
    contract: Contract,
    *,
    error: str | None = None,
    failed: tuple[int, str, forms.ActionForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    today = timezone.localdate()
    summary = services.contract_summary(contract, today)
    standings = services.invoice_standings(contract, [view.row for view in summary.milestones])
    rows = []
    for view in summary.milestones:
        action_forms: dict[str, forms.ActionForm] = {}
        for action in view.actions:
            if failed is not None and failed[0] == view.row.pk and failed[1] == action:
                action_forms[action] = failed[2]
                continue
            form_class = forms.ACTION_FORMS[action]
            action_forms[action] = form_class(
                currency=contract.currency,
                initial={"version": view.row.version},
                auto_id=f"id_m{view.row.pk}_{action}_%s",
            )
        release = action_forms.get("release")
        if isinstance(release, forms.ReleaseForm):
            release.where_the_rest_goes(view.rolls_to)
        rows.append((view, action_forms, standings.get(view.row.pk)))
    client = services.client_exposure_of(summary, today)
    releasable = any("release" in view.actions for view in summary.milestones)
    context = {
        "contract": contract,
        "summary": summary,
        # The client as a whole, when the worker has other contracts with them.
        "client": client if len(client.contracts) > 1 else None,
        "client_warning": client.exposure.warning() if len(client.contracts) > 1 else None,
        "rows": rows,
        "escrow": services.escrow_balance(contract),
        "events": services.events_of(contract),
        "warning": summary.exposure.warning(),
        # Otherwise the client's releases and Keel's automatic one fail without the worker
        # seeing why (the task only logs it).
        "release_blocked": services.release_blocked_by(contract, today) if releasable else None,
        "due_rule": services.terms_of(contract).payment_due.describe(),
        "error": error,
    }
    return render(request, "career/detail.html", context, status=status)


@worker_page
@require_GET
def contract_detail(request: HttpRequest, contract_id: int) -> HttpResponse:
    return _contract_page(request, _contract(request, contract_id))


def _done(action: str, milestone: Milestone, contract: Contract) -> str:
    closes = ""
    if milestone.delivered_on is not None:
        closes = (milestone.delivered_on + timedelta(days=contract.review_window_days)).isoformat()
    return ACTION_DONE[action].format(
        n=milestone.sequence,
        closes=closes,
        paid=invoices.money_text(milestone.released, contract.currency),
        client=contract.client_name,
    )


@worker_page
@require_POST
def milestone_action(
    request: HttpRequest, contract_id: int, milestone_id: int, action: str
) -> HttpResponse:
    contract = _contract(request, contract_id)
    milestone = _milestone(contract, milestone_id)
    form_class = forms.ACTION_FORMS.get(action)
    if form_class is None:
        raise Http404("no such action")
    form = form_class(
        request.POST, currency=contract.currency, auto_id=f"id_m{milestone.pk}_{action}_%s"
    )
    if not form.is_valid():
        return _contract_page(
            request,
            contract,
            error=f"Milestone {milestone.sequence} was not changed: see the form below.",
            failed=(milestone.pk, action, form),
            status=400,
        )
    data = form.cleaned_data
    common: dict[str, Any] = {
        "on": data["on"],
        "recorded_by": _worker(request),
        "key": data.get("token") or "",
        "expected_version": data["version"],
    }
    try:
        if action == "fund":
            done = services.fund_milestone(milestone, **common)
        elif action == "deliver":
            done = services.deliver_milestone(milestone, **common)
        elif action == "release":
            done = services.release_milestone(milestone, amount=data.get("amount"), **common)
        elif action == "dispute":
            done = services.dispute_milestone(milestone, reason=data["reason"], **common)
        else:
            done = services.resolve_milestone(
                milestone, awarded=data["awarded"], note=data.get("note") or "", **common
            )
    except CareerError as exc:
        if exc.field in form.fields:
            form.add_error(exc.field, forms.sentence(exc.message))
        return _contract_page(
            request,
            contract,
            error=f"Milestone {milestone.sequence} was not changed: {exc.message}.",
            failed=(milestone.pk, action, form),
            status=409 if isinstance(exc, Conflict) else 400,
        )
    messages.success(request, _done(action, done, contract))
    return redirect("career:contract", contract_id=contract.pk)


# ---------------------------------------------------------------------------- invoices


def _adjustment_form(
    inv: Invoice, milestone: Milestone, currency: str
) -> tuple[str, forms.AdjustmentForm] | None:
    """The document the invoice page offers, with its form filled in for the difference
    between what the milestone comes to and what has been invoiced: a credit note when it
    came down, a supplementary invoice when it went up; None when they agree."""
    difference = inv.difference
    if difference == 0 or inv.net_total is None:
        return None
    kind = AdjustmentKind.CREDIT_NOTE if difference < 0 else AdjustmentKind.SUPPLEMENT
    now = inv.money(inv.subtotal)
    invoiced = inv.money(inv.net_total)
    reason = (
        f"Milestone {milestone.sequence} now comes to {now} instead of the {invoiced}"
        f" invoiced on {inv.number}."
    )
    form = forms.AdjustmentForm(
        currency=currency,
        initial={"amount": abs(difference), "reason": reason},
        auto_id=f"id_{kind}_%s",
    )
    return kind, form


def _invoice_page(
    request: HttpRequest,
    contract: Contract,
    milestone: Milestone,
    *,
    failed: tuple[str, forms.AdjustmentForm] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HttpResponse:
    document = invoices.invoice_document(milestone, timezone.localdate())
    inv = document.invoice
    offer = failed or (
        None if document.draft else _adjustment_form(inv, milestone, contract.currency)
    )
    context = {
        "contract": contract,
        "milestone": milestone,
        "doc": document,
        "inv": inv,
        "offer_kind": offer[0] if offer else None,
        "offer_form": offer[1] if offer else None,
        "error": error,
    }
    return render(request, "career/invoice.html", context, status=status)


@worker_page
@require_GET
def invoice(request: HttpRequest, contract_id: int, milestone_id: int) -> HttpResponse:
    contract = _contract(request, contract_id)
    return _invoice_page(request, contract, _milestone(contract, milestone_id))


@worker_page
@require_POST
def invoice_adjust(
    request: HttpRequest, contract_id: int, milestone_id: int, kind: str
) -> HttpResponse:
    """Issue a credit note or supplementary invoice against the milestone's invoice."""
    contract = _contract(request, contract_id)
    milestone = _milestone(contract, milestone_id)
    form = forms.AdjustmentForm(request.POST, currency=contract.currency, auto_id=f"id_{kind}_%s")
    title = AdjustmentKind(kind).label.lower()
    if not form.is_valid():
        return _invoice_page(
            request,
            contract,
            milestone,
            failed=(kind, form),
            error=f"No {title} was issued: see the form below.",
            status=400,
        )
    issue = (
        services.issue_credit_note
        if kind == AdjustmentKind.CREDIT_NOTE
        else (services.issue_supplement)
    )
    try:
        issued = issue(
            milestone,
            amount=form.cleaned_data["amount"],
            reason=form.cleaned_data["reason"],
            on=timezone.localdate(),
            recorded_by=_worker(request),
            key=form.cleaned_data.get("token") or "",
        )
    except CareerError as exc:
        if exc.field in form.fields:
            form.add_error(exc.field, forms.sentence(exc.message))
        return _invoice_page(
            request,
            contract,
            milestone,
            failed=(kind, form),
            error=f"No {title} was issued: {exc.message}.",
            status=409 if isinstance(exc, Conflict) else 400,
        )
    messages.success(
        request,
        f"{issued.get_kind_display()} {issued.number} is issued for"
        f" {invoices.money_text(issued.signed_amount, contract.currency)} against"
        f" invoice {issued.invoice_number}.",
    )
    return redirect("career:invoice_adjustment", adjustment_id=issued.pk)


@worker_page
@require_GET
def invoice_list(request: HttpRequest) -> HttpResponse:
    rows, totals = services.invoice_register(_worker(request))
    return render(request, "career/invoices.html", {"rows": rows, "totals": totals})


REGISTER_COLUMNS = (
    "issued_on",
    "document",
    "number",
    "invoice",
    "client",
    "contract",
    "milestone",
    "currency",
    "amount",
)


@worker_page
@require_GET
def invoice_list_csv(request: HttpRequest) -> HttpResponse:
    """The register as CSV for a bookkeeper: one row a document, amounts in major units
    with the client's sign (a credit note negative), empty where a total was not kept."""
    rows, _ = services.invoice_register(_worker(request))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REGISTER_COLUMNS)
    for row in rows:
        entry = row.entry
        contract = row.milestone.contract
        writer.writerow(
            [
                entry.issued_on.isoformat(),
                row.title,
                entry.number,
                row.invoice_number,
                contract.client_name,
                contract.title,
                row.milestone.sequence,
                entry.currency,
                "" if entry.amount is None else str(from_minor(entry.amount, entry.currency)),
            ]
        )
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="invoices.csv"'
    return response


def _adjustment(request: HttpRequest, adjustment_id: int) -> InvoiceAdjustment:
    return get_object_or_404(
        InvoiceAdjustment.objects.select_related("milestone__contract__worker"),
        pk=adjustment_id,
        milestone__contract__worker=_worker(request),
    )


@worker_page
@require_GET
def invoice_adjustment(request: HttpRequest, adjustment_id: int) -> HttpResponse:
    row = _adjustment(request, adjustment_id)
    document = invoices.adjustment_document(row)
    context = {
        "contract": row.milestone.contract,
        "milestone": row.milestone,
        "doc": document,
        "adj": document.adjustment,
    }
    return render(request, "career/adjustment.html", context)


@worker_page
@require_GET
def invoice_adjustment_pdf(request: HttpRequest, adjustment_id: int) -> HttpResponse:
    document = invoices.adjustment_document(_adjustment(request, adjustment_id))
    response = HttpResponse(
        invoices.render_adjustment_pdf(document), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'inline; filename="{document.filename}"'
    return response


@worker_page
@require_POST
def invoice_issue(request: HttpRequest, contract_id: int, milestone_id: int) -> HttpResponse:
    contract = _contract(request, contract_id)
    milestone = _milestone(contract, milestone_id)
    issued = services.issue_invoice(
        milestone, on=timezone.localdate(), recorded_by=_worker(request)
    )
    messages.success(request, f"Invoice {issued.invoice_number} is issued.")
    return redirect("career:invoice", contract_id=contract.pk, milestone_id=milestone.pk)


@worker_page
@require_GET
def invoice_pdf(request: HttpRequest, contract_id: int, milestone_id: int) -> HttpResponse:
    contract = _contract(request, contract_id)
    milestone = _milestone(contract, milestone_id)
    document = invoices.invoice_document(milestone, timezone.localdate())
    response = HttpResponse(invoices.render_pdf(document), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{document.filename}"'
    return response


_MILESTONE = r"^contracts/(?P<contract_id>\d+)/milestones/(?P<milestone_id>\d+)/"

urlpatterns = [
    path("contracts/", contract_list, name="contracts"),
    path("contracts/new/", contract_new, name="contract_new"),
    path("contracts/<int:contract_id>/", contract_detail, name="contract"),
    path("contracts/invoices/", invoice_list, name="invoices"),
    path("contracts/invoices.csv", invoice_list_csv, name="invoices_csv"),
    re_path(
        _MILESTONE + r"(?P<action>fund|deliver|release|dispute|resolve)/$",
        milestone_action,
        name="milestone_action",
    ),
    re_path(_MILESTONE + r"invoice/$", invoice, name="invoice"),
    re_path(_MILESTONE + r"invoice/issue/$", invoice_issue, name="invoice_issue"),
    re_path(_MILESTONE + r"invoice\.pdf$", invoice_pdf, name="invoice_pdf"),
    re_path(
        _MILESTONE + r"invoice/credit-note/$",
        invoice_adjust,
        {"kind": AdjustmentKind.CREDIT_NOTE.value},
        name="credit_note_issue",
    ),
    re_path(
        _MILESTONE + r"invoice/supplement/$",
        invoice_adjust,
        {"kind": AdjustmentKind.SUPPLEMENT.value},
        name="supplement_issue",
    ),
    path(
        "contracts/documents/<int:adjustment_id>/",
        invoice_adjustment,
        name="invoice_adjustment",
    ),
    path(
        "contracts/documents/<int:adjustment_id>.pdf",
        invoice_adjustment_pdf,
        name="invoice_adjustment_pdf",
    ),
]
