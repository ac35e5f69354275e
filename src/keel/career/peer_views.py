"""The peer pages: /career/peers/ (my groups, my invitations, start a group) and
/career/peers/<id>/ (members with their public profiles and open pools, invitations, and
the referral board: offer a gig, accept or decline it, mark it done, pay its fee). A group
is a 404 to anyone who is not an active member of it. Views stay thin:
``keel.career.peer_services`` checks and writes."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, re_path
from django.views.decorators.http import require_http_methods, require_POST

from keel.accounts import limits, mail
from keel.accounts.models import User

from . import peer_services as services
from .errors import CareerError
from .forms import CURRENCIES, add_career_error, currency_of
from .models import PeerGroup
from .skills_forms import GroupForm, InviteForm, ReferralForm
from .views import _worker, worker_page

DONE = {
    "accept": "You took the gig: {title}.",
    "decline": "You declined the gig: {title}.",
    "done": "{title} is marked done.",
}


def _group(request: HttpRequest, group_id: int) -> PeerGroup:
    group = services.group_of(_worker(request), group_id)
    if group is None:
        raise Http404("no such group")
    return group


def _referral_form(group: PeerGroup, worker: User, data: Any = None) -> ReferralForm:
    members = services.member_choices(group, worker)
    fee_currency = currency_of({"currency": (data or {}).get("fee_currency")}, worker.home_currency)
    return ReferralForm(data, members=members, currency=fee_currency)


def _list_page(
    request: HttpRequest, form: GroupForm | None = None, status: int = 200
) -> HttpResponse:
    worker = _worker(request)
    context = {
        "groups": services.groups_of(worker),
        "invitations": services.invitations_of(worker),
        "form": form or GroupForm(),
    }
    return render(request, "career/peers/list.html", context, status=status)


@worker_page
@require_http_methods(["GET", "POST"])
def peers(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _list_page(request)
    form = GroupForm(request.POST)
    if form.is_valid():
        try:
            group = services.start_group(
                _worker(request),
                name=form.cleaned_data["name"],
                key=form.cleaned_data.get("token") or "",
            )
        except CareerError as exc:
            add_career_error(form, exc)
        else:
            messages.success(request, f"{group.name} is started. Invite your peers.")
            return redirect("career:peer_group", group_id=group.pk)
    return _list_page(request, form, status=400)


@worker_page
@require_POST
def invitation(request: HttpRequest, membership_id: int, answer: str) -> HttpResponse:
    membership = services.respond(_worker(request), membership_id, accept=answer == "accept")
    if membership is None:
        raise Http404("no such invitation")
    if answer == "accept":
        messages.success(request, f"You joined {membership.group.name}.")
        return redirect("career:peer_group", group_id=membership.group_id)
    messages.success(request, f"You declined the invitation to {membership.group.name}.")
    return redirect("career:peers")


def _group_page(
    request: HttpRequest,
    group: PeerGroup,
    *,
    invite_form: InviteForm | None = None,
    referral_form: ReferralForm | None = None,
    status: int = 200,
) -> HttpResponse:
    worker = _worker(request)
    page = services.group_page(group, worker)
    context = {
        "page": page,
        "invite_form": invite_form or InviteForm(),
        "referral_form": referral_form or _referral_form(group, worker),
        "currencies": CURRENCIES,
    }
    return render(request, "career/peers/detail.html", context, status=status)


@worker_page
@require_http_methods(["GET"])
def group_detail(request: HttpRequest, group_id: int) -> HttpResponse:
    return _group_page(request, _group(request, group_id))


@worker_page
@require_POST
def group_invite(request: HttpRequest, group_id: int) -> HttpResponse:
    group = _group(request, group_id)
    form = InviteForm(request.POST)
    if form.is_valid():
        email = form.cleaned_data["email"].strip().lower()
        # Counted like a password reset: invitations must not flood a stranger's inbox.
        wait = limits.mail_request_wait(request, email)
        if wait:
            form.add_error("email", limits.too_many_mail_requests(wait))
            return _group_page(request, group, invite_form=form, status=429)
        try:
            services.invite(group, _worker(request), email, site=mail.site_url(request))
        except CareerError as exc:
            add_career_error(form, exc)
        else:
            # The same words whether or not the address is a Keel worker's.
            messages.success(
                request,
                f"We have emailed an invitation to {email}. They join from their peers page.",
            )
            return redirect("career:peer_group", group_id=group.pk)
    return _group_page(request, group, invite_form=form, status=400)


@worker_page
@require_POST
def group_leave(request: HttpRequest, group_id: int) -> HttpResponse:
    group = _group(request, group_id)
    services.leave(group, _worker(request))
    messages.success(request, f"You left {group.name}.")
    return redirect("career:peers")


@worker_page
@require_POST
def referral_new(request: HttpRequest, group_id: int) -> HttpResponse:
    group = _group(request, group_id)
    worker = _worker(request)
    form = _referral_form(group, worker, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            referral = services.offer_referral(
                group,
                worker,
                to_worker_id=data["to_worker"],
                title=data["title"],
                description=data.get("description") or "",
                client_name=data.get("client_name") or "",
                fee_amount=data.get("fee_amount"),
                fee_currency=data.get("fee_currency") or "",
                key=data.get("token") or "",
            )
        except CareerError as exc:
            add_career_error(form, exc)
        else:
            messages.success(request, f"{referral.title} is offered to {referral.to_worker.name}.")
            return redirect("career:peer_group", group_id=group.pk)
    return _group_page(request, group, referral_form=form, status=400)


@worker_page
@require_POST
def referral_action(
    request: HttpRequest, group_id: int, referral_id: int, action: str
) -> HttpResponse:
    group = _group(request, group_id)
    referral = services.referral_in(group, referral_id)
    if referral is None:
        raise Http404("no such referral")
    worker = _worker(request)
    try:
        if action == "pay":
            referral = services.pay_fee(referral, worker)
            messages.success(
                request,
                f"The fee of {services.fee_label(referral)} is recorded in both ledgers.",
            )
        else:
            referral = services.move_referral(referral, worker, action)
            messages.success(request, DONE[action].format(title=referral.title))
    except CareerError as exc:
        messages.error(request, f"Nothing changed: {exc.message}.")
        return _group_page(request, group, status=exc.status)
    return redirect("career:peer_group", group_id=group.pk)


urlpatterns = [
    path("peers/", peers, name="peers"),
    re_path(
        r"^peers/invitations/(?P<membership_id>\d+)/(?P<answer>accept|decline)/$",
        invitation,
        name="peer_invitation",
    ),
    path("peers/<int:group_id>/", group_detail, name="peer_group"),
    path("peers/<int:group_id>/invite/", group_invite, name="peer_invite"),
    path("peers/<int:group_id>/leave/", group_leave, name="peer_leave"),
    path("peers/<int:group_id>/referrals/", referral_new, name="referral_new"),
    re_path(
        r"^peers/(?P<group_id>\d+)/referrals/(?P<referral_id>\d+)/"
        r"(?P<action>accept|decline|done|pay)/$",
        referral_action,
        name="referral_action",
    ),
]
