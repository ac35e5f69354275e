"""The client's contract page at /c/<token>/ (no account: the signed link is the key), where
the client releases escrow early, in full or in part, or disputes a milestone, and downloads
the issued invoices, credit notes and supplementary invoices as PDFs through the same link;
and the worker's buttons that issue and revoke that link. ``keel.career.client_links`` checks and
writes; a refused link is a page that says why and changes nothing."""

from __future__ import annotations

import logging
from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from . import client_links, invoices, services
from . import forms as career_forms
from .errors import CareerError, Conflict
from .models import Contract
from .rules import reputation as tokens
from .views import _contract, worker_page

logger = logging.getLogger(__name__)

REFUSALS = {
    "expired": "This link has expired. Ask for a new one if you still need it.",
    "wrong_request": "This link was replaced or withdrawn. Use the newest link you were sent.",
    "forged": "This is not a valid contract link. Check that you copied all of it.",
}


class ClientReleaseForm(career_forms.ReleaseForm):
    """The client releases on the day they do it: no date to choose. Money released cannot
    be taken back, and the client has no one to undo it for them: they tick a box that says
    so before it goes."""

    confirm = django_forms.BooleanField(
        label="I release this money for good",
        error_messages={"required": "Tick the box to confirm: a release cannot be undone."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["on"]
        self.where_the_rest_goes(None)

    def where_the_rest_goes(self, rolls_to: int | None) -> None:
        rest = f"moves to milestone {rolls_to}" if rolls_to else "comes back to you"
        self.fields["amount"].help_text = (
            "Leave empty to release everything in escrow for this milestone; if you release"
            f" part, the rest {rest}."
        )


class ClientDisputeForm(career_forms.DisputeForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["on"]
        self.fields["reason"].label = "What you dispute"


CLIENT_FORMS: dict[str, type[career_forms.ActionForm]] = {
    "release": ClientReleaseForm,
    "dispute": ClientDisputeForm,
}


def _refused(request: HttpRequest, exc: tokens.TokenError) -> HttpResponse:
    status = 410 if exc.code in client_links.GONE else 400
    return render(
        request,
        "career/link_refused.html",
        {
            "message": REFUSALS.get(exc.code, REFUSALS["forged"]),
            "code": exc.code,
            "link_name": "Contract link",
            "nothing_done": "Nothing was changed.",
        },
        status=status,
    )


def _page(
    request: HttpRequest,
    token: str,
    contract: Contract,
    *,
    error: str | None = None,
    failed: tuple[int, str, django_forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    summary = services.contract_summary(contract, timezone.localdate())
    # Issued invoices only: invoice_standings leaves the drafts out.
    standings = services.invoice_standings(contract, [view.row for view in summary.milestones])
    rows = []
    for view in summary.milestones:
        action_forms = {}
        for action in view.actions:
            if action not in client_links.CLIENT_ACTIONS:
                continue
            if failed is not None and failed[0] == view.row.pk and failed[1] == action:
                action_forms[action] = failed[2]
                continue
            action_forms[action] = CLIENT_FORMS[action](
                currency=contract.currency,
                initial={"version": view.row.version},
                auto_id=f"id_m{view.row.pk}_{action}_%s",
            )
        release = action_forms.get("release")
        if isinstance(release, career_forms.ReleaseForm):
            release.where_the_rest_goes(view.rolls_to)
        rows.append((view, action_forms, standings.get(view.row.pk)))
    context = {
        "token": token,
        "contract": contract,
        "summary": summary,
        "rows": rows,
        "worker_name": contract.worker.get_full_name(),
        "error": error,
    }
    return render(request, "career/client/contract.html", context, status=status)


@never_cache
@require_http_methods(["GET"])
def client_contract(request: HttpRequest, token: str) -> HttpResponse:
    try:
        contract = client_links.open_link(token)
    except tokens.TokenError as exc:
        return _refused(request, exc)
    return _page(request, token, contract)


@never_cache
@require_POST
def client_action(request: HttpRequest, token: str, milestone_id: int, action: str) -> HttpResponse:
    try:
        contract = client_links.open_link(token)
    except tokens.TokenError as exc:
        return _refused(request, exc)
    form_class = CLIENT_FORMS.get(action)
    milestone = contract.milestones.filter(pk=milestone_id).first()
    if form_class is None or milestone is None:
        raise Http404("no such milestone action")
    form = form_class(
        request.POST, currency=contract.currency, auto_id=f"id_m{milestone.pk}_{action}_%s"
    )
    if not form.is_valid():
        return _page(
            request,
            token,
            contract,
            error=f"Milestone {milestone.sequence} was not changed: see the form below.",
            failed=(milestone.pk, action, form),
            status=400,
        )
    data = form.cleaned_data
    common: dict[str, Any] = {"expected_version": data["version"], "key": data.get("token") or ""}
    try:
        if action == "release":
            done = client_links.client_release(
                token, milestone.pk, amount=data.get("amount"), **common
            )
            note = f"You released {invoices.money_text(done.released, contract.currency)}"
            rest = done.total - done.released
            if done.refunded:
                note += f"; {invoices.money_text(done.refunded, contract.currency)} comes back"
                note += " to you."
            elif rest:
                note += f"; {invoices.money_text(rest, contract.currency)} moves to the next"
                note += " milestone."
            else:
                note += "."
        else:
            done = client_links.client_dispute(token, milestone.pk, reason=data["reason"], **common)
            note = (
                f"Milestone {done.sequence} is disputed: the escrow stays until you and"
                f" {contract.worker.get_full_name()} settle it."
            )
    except tokens.TokenError as exc:
        return _refused(request, exc)
    except CareerError as exc:
        if exc.code == "income_refused":
            # The worker's books cannot take the payment (an exchange rate is missing): the
            # reason and its remedy are the worker's, and the client can do nothing with them.
            logger.warning("client release refused for milestone %s: %s", milestone.pk, exc.message)
            worker = contract.worker.get_full_name() or "the worker"
            reason = (
                f"{worker}'s books cannot record a payment in {contract.currency} today."
                f" Please tell {worker}, and release it again once they have put it right"
            )
        else:
            reason = exc.message
            if exc.field in form.fields:
                form.add_error(exc.field, career_forms.sentence(exc.message))
        return _page(
            request,
            token,
            contract,
            error=f"Milestone {milestone.sequence} was not changed: {reason}.",
            failed=(milestone.pk, action, form),
            status=409 if isinstance(exc, Conflict) else 400,
        )
    messages.success(request, note)
    return redirect("career_public:client_contract", token=token)


def _pdf(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="application/pdf")
    # A download the client keeps with their books, named by the document's number.
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # The page's <meta name=robots> cannot reach a PDF; the header does the same.
    response["X-Robots-Tag"] = "noindex"
    return response


@never_cache
@require_http_methods(["GET"])
def client_invoice_pdf(request: HttpRequest, token: str, milestone_id: int) -> HttpResponse:
    try:
        document = client_links.client_invoice(token, milestone_id)
    except tokens.TokenError as exc:
        return _refused(request, exc)
    except CareerError:
        raise Http404("no issued invoice of this contract") from None
    return _pdf(invoices.render_pdf(document), document.filename)


@never_cache
@require_http_methods(["GET"])
def client_adjustment_pdf(request: HttpRequest, token: str, adjustment_id: int) -> HttpResponse:
    try:
        document = client_links.client_adjustment(token, adjustment_id)
    except tokens.TokenError as exc:
        return _refused(request, exc)
    except CareerError:
        raise Http404("no such document of this contract") from None
    return _pdf(invoices.render_adjustment_pdf(document), document.filename)


@worker_page
@require_POST
def client_link_issue(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = _contract(request, contract_id)
    try:
        token = client_links.issue_link(contract)
    except CareerError as exc:
        messages.error(request, exc.message)
    else:
        url = request.build_absolute_uri(
            reverse("career_public:client_contract", kwargs={"token": token})
        )
        messages.success(
            request,
            f"Send this link to {contract.client_email}; it works until"
            f" {contract.client_link_expires_at:%d %B %Y} and is shown only now: {url}",
        )
    return redirect("career:contract", contract_id=contract.pk)


@worker_page
@require_POST
def client_link_revoke(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = _contract(request, contract_id)
    client_links.revoke_link(contract)
    messages.success(request, f"{contract.client_name}'s link no longer works.")
    return redirect("career:contract", contract_id=contract.pk)


urlpatterns = [
    path("contracts/<int:contract_id>/client-link/", client_link_issue, name="client_link"),
    path(
        "contracts/<int:contract_id>/client-link/revoke/",
        client_link_revoke,
        name="client_link_revoke",
    ),
]

public_urlpatterns = [
    path("c/<str:token>/", client_contract, name="client_contract"),
    path(
        "c/<str:token>/milestones/<int:milestone_id>/<str:action>/",
        client_action,
        name="client_action",
    ),
    path(
        "c/<str:token>/milestones/<int:milestone_id>/invoice.pdf",
        client_invoice_pdf,
        name="client_invoice_pdf",
    ),
    path(
        "c/<str:token>/documents/<int:adjustment_id>.pdf",
        client_adjustment_pdf,
        name="client_adjustment_pdf",
    ),
]
