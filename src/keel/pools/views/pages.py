"""The pool pages (list, new pool, pool, ledger, claim, vote, rule change, leave) and the
actions members and stewards take on them. Every action is a small POST form; on success
it redirects back with a message, on refusal it shows the page again with the reason."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from keel.accounts import limits, mail
from keel.money import format_amount
from keel.web.forms import new_form_token

from .. import forms, present, services
from ..errors import PoolError
from ..models import ClaimStatus, Membership, MemberStatus, Pool, PoolKind
from ..rules.gifts import first_month_after_recovery, month_name
from ..rules.pool_rules import SickLeaveRules, kind_name, rules_to_json
from .render import (
    claim_of,
    claim_page,
    person,
    pool_page,
    refusal_status,
    refuse,
    visible,
    vote_of,
    vote_page,
)

View = Callable[..., HttpResponseBase]
LEDGER_PAGE = 100
ALREADY_STARTED = "That form was already sent: the pool it started is in your list below."
CLAIM_SENT = "That claim was already sent: it is in the claims below."
REPAYMENT_SENT = "That repayment was already sent: it is recorded once, below."


def _money(minor: int, currency: str) -> str:
    return format_amount(minor, currency, symbol=True)


# ---------------------------------------------------------------------------- list


@login_required
@require_GET
def pool_list(request: HttpRequest) -> HttpResponse:
    user = person(request)
    mine = list(
        Membership.objects.filter(user=user)
        .select_related("pool")
        .annotate(
            members=Count(
                "pool__memberships", filter=Q(pool__memberships__status=MemberStatus.ACTIVE)
            )
        )
        .order_by("pool__name")
    )
    public = (
        services.public_pools()
        .exclude(pk__in=[m.pool_id for m in mine])
        .annotate(members=Count("memberships", filter=Q(memberships__status=MemberStatus.ACTIVE)))
        .order_by("name")
    )
    context = {
        "mine": [(m, kind_name(m.pool.kind)) for m in mine],
        "public": [(p, kind_name(p.kind)) for p in public],
    }
    return render(request, "pools/list.html", context)


# ---------------------------------------------------------------------------- a new pool


def _starting_tier(rules: dict[str, Any], currency: str) -> str:
    tiers = list(rules.get("tiers") or [])
    if not tiers:
        return ""
    wanted = 1_500 * 10 ** services._exponent(currency)
    tier = wanted if wanted in tiers else tiers[len(tiers) // 2]
    return forms.amount_text(int(tier), currency)


def _new_page(
    request: HttpRequest,
    template: forms.TemplateForm,
    pool_form: forms.PoolForm,
    rules_form: forms.RulesForm,
    *,
    status: int = 200,
) -> HttpResponse:
    context = {
        "template": template,
        "pool_form": pool_form,
        "rules_form": rules_form,
        "kind": rules_form.kind,
        "kind_label": kind_name(rules_form.kind),
        "currency": rules_form.currency,
        "currencies": forms.CURRENCIES,
    }
    return render(request, "pools/new.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def pool_new(request: HttpRequest) -> HttpResponse:
    user = person(request)
    source = request.POST if request.method == "POST" else request.GET
    template = forms.TemplateForm(source or None)
    kind, currency = template.choice(user.home_currency or "EUR")
    template = forms.TemplateForm(initial={"kind": kind, "currency": currency})
    rules_class = forms.RULES_FORMS[kind]
    defaults = services.default_rules(kind, currency)
    if request.method != "POST":
        pool_form = forms.PoolForm(currency=currency, kind=kind)
        if kind == PoolKind.SICK_LEAVE:
            pool_form.initial["tier_gift"] = _starting_tier(defaults, currency)
        return _new_page(
            request, template, pool_form, rules_class(currency=currency, rules=defaults)
        )

    pool_form = forms.PoolForm(request.POST, currency=currency, kind=kind)
    rules_form = rules_class(request.POST, currency=currency)
    if not (pool_form.is_valid() & rules_form.is_valid()):
        return _new_page(request, template, pool_form, rules_form, status=400)
    once = f"pool-new:{user.pk}"
    if not pool_form.claim(once):
        # The browser sent the form again (a reload): the pool exists already.
        messages.info(request, ALREADY_STARTED)
        return redirect("pools:list")
    data = pool_form.cleaned_data
    try:
        with pool_form.given_back_on_error(once):
            pool = services.create_pool(
                user,
                name=data["name"],
                description=data.get("description") or "",
                rules=rules_form.rules,
                tier_gift=data.get("tier_gift"),
            )
    except PoolError as exc:
        forms.add_pool_error([pool_form, rules_form], exc)
        return _new_page(request, template, pool_form, rules_form, status=400)
    messages.success(
        request,
        f"{pool.name} is started, with you as its steward and first member. Invite the others"
        " or share its page.",
    )
    return redirect("pools:detail", slug=pool.slug)


# ---------------------------------------------------------------------------- pool pages


@require_GET
def pool_detail(request: HttpRequest, slug: str) -> HttpResponse:
    pool, membership = visible(request, slug)
    return pool_page(request, pool, membership)


@require_GET
def pool_ledger(request: HttpRequest, slug: str) -> HttpResponse:
    pool, membership = visible(request, slug)
    v = present.viewer(pool, membership)
    entries = present.ledger_entries(services.ledger_lines(pool, with_names=v.with_names))
    page = Paginator(entries, LEDGER_PAGE).get_page(request.GET.get("page"))
    context = {
        "pool": pool,
        "v": v,
        "page": page,
        "kind_label": kind_name(pool.kind),
        # What the books owe back to givers is part of reading them (gifts given after a
        # late-reported recovery), settled or not.
        "owed_back": [
            (claim, v.name(claim.membership), owed) for claim, owed in services.owed_back_in(pool)
        ],
    }
    return render(request, "pools/ledger.html", context)


@require_GET
def claim_detail(request: HttpRequest, slug: str, claim_id: int) -> HttpResponse:
    pool, membership = visible(request, slug)
    return claim_page(request, pool, membership, claim_of(pool, claim_id))


@require_GET
def vote_detail(request: HttpRequest, slug: str, vote_id: int) -> HttpResponse:
    pool, membership = visible(request, slug)
    return vote_page(request, pool, membership, vote_of(pool, vote_id))


# ---------------------------------------------------------------------------- actions


def pool_action(view: View) -> View:
    """A logged-in person's POST to a pool they can see (others: 404)."""

    @wraps(view)
    def wrapped(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponseBase:
        pool, membership = visible(request, slug)
        return view(request, pool, membership, *args, **kwargs)

    return login_required(require_POST(wrapped))


def _back(pool: Pool, anchor: str = "") -> HttpResponse:
    response = redirect("pools:detail", slug=pool.slug)
    if anchor:
        response["Location"] += f"#{anchor}"
    return response


def _again(
    request: HttpRequest,
    pool: Pool,
    membership: Membership | None,
    name: str,
    form: django_forms.Form,
    exc: PoolError | None = None,
) -> HttpResponse:
    """The pool page again, with the form as sent and the refusal on it."""
    status = refuse(request, exc, form) if exc is not None else 400
    return pool_page(request, pool, membership, forms={name: form}, status=status)


@pool_action
def join(request: HttpRequest, pool: Pool, membership: Membership | None) -> HttpResponse:
    form = forms.TierForm(
        request.POST, tiers=present.tier_choices(pool), currency=pool.currency, prefix="join"
    )
    if not form.is_valid():
        return _again(request, pool, membership, "join", form)
    try:
        joined = services.apply(pool, person(request), tier_gift=form.tier)
    except PoolError as exc:
        return _again(request, pool, membership, "join", form, exc)
    if joined.status == MemberStatus.ACTIVE:
        messages.success(request, f"You are a member of {pool.name}.")
    else:
        messages.success(
            request, "You applied to join. The members vote on it; you are in once it passes."
        )
    return _back(pool)


@pool_action
def accept(request: HttpRequest, pool: Pool, membership: Membership | None) -> HttpResponse:
    form = forms.TierForm(
        request.POST, tiers=present.tier_choices(pool), currency=pool.currency, prefix="accept"
    )
    if not form.is_valid():
        return _again(request, pool, membership, "accept", form)
    try:
        joined = services.accept_own_invitation(pool, person(request), tier_gift=form.tier)
    except PoolError as exc:
        return _again(request, pool, membership, "accept", form, exc)
    if joined.status == MemberStatus.ACTIVE:
        messages.success(request, f"You accepted the invitation: you are a member of {pool.name}.")
    else:
        messages.success(
            request,
            "You accepted the invitation. The members vote on it; you are in once it passes.",
        )
    return _back(pool)


@pool_action
def invite(request: HttpRequest, pool: Pool, membership: Membership | None) -> HttpResponse:
    form = forms.InviteForm(request.POST, prefix="invite")
    if not form.is_valid():
        return _again(request, pool, membership, "invite", form)
    email = form.cleaned_data["email"].strip().lower()
    # Counted like a password reset: invitations must not flood a stranger's inbox.
    wait = limits.mail_request_wait(request, email)
    if wait:
        form.add_error("email", limits.too_many_mail_requests(wait))
        return pool_page(request, pool, membership, forms={"invite": form}, status=429)
    try:
        services.invite(pool, person(request), email, site=mail.site_url(request))
    except PoolError as exc:
        return _again(request, pool, membership, "invite", form, exc)
    # The same words whether or not the address has a Keel account.
    messages.success(
        request,
        f"We have emailed an invitation to {email}. They join by accepting it on this page.",
    )
    return _back(pool, "invitations")


@pool_action
def withdraw_invitation(
    request: HttpRequest, pool: Pool, membership: Membership | None
) -> HttpResponse:
    email = str(request.POST.get("email", ""))
    try:
        services.withdraw_invitation(pool, person(request), email)
    except PoolError as exc:
        return pool_page(request, pool, membership, status=refuse(request, exc))
    messages.success(request, f"The invitation to {email.strip().lower()} is withdrawn.")
    return _back(pool, "invitations")


@pool_action
def deposit(request: HttpRequest, pool: Pool, membership: Membership | None) -> HttpResponse:
    form = forms.MonthForm(request.POST, prefix="deposit", label="Deposit for")
    if not form.is_valid():
        return _again(request, pool, membership, "deposit", form)
    month = form.cleaned_data["month"]
    try:
        paid = services.pay_own_deposit(pool, person(request), month)
    except PoolError as exc:
        return _again(request, pool, membership, "deposit", form, exc)
    messages.success(
        request,
        f"Your deposit of {_money(paid.amount, pool.currency)} for {month_name(paid.month)}"
        " is paid.",
    )
    return _back(pool, "deposits")


@pool_action
def claim_new(request: HttpRequest, pool: Pool, membership: Membership | None) -> HttpResponse:
    form = forms.ClaimForm(request.POST, kind=pool.kind, currency=pool.currency)
    if not form.is_valid():
        return _again(request, pool, membership, "claim", form)
    data = form.cleaned_data
    once = f"pool-claim:{pool.pk}:{person(request).pk}"
    if not form.claim(once):
        # The browser sent the form again (a reload, a double click): it is reported.
        messages.info(request, CLAIM_SENT)
        return _back(pool, "claims")
    try:
        with form.given_back_on_error(once):
            claim = services.report_own_claim(
                pool,
                person(request),
                start_date=data["start_date"],
                amount=data.get("amount"),
                description=data.get("description") or "",
            )
    except PoolError as exc:
        return _again(request, pool, membership, "claim", form, exc)
    messages.success(request, "Your claim is reported. It is paid once enough members approve it.")
    return redirect("pools:claim", slug=pool.slug, claim_id=claim.pk)


@pool_action
def claim_decide(
    request: HttpRequest, pool: Pool, membership: Membership | None, claim_id: int
) -> HttpResponse:
    claim = claim_of(pool, claim_id)
    prefix = "reject" if request.POST.get("decision") == "reject" else "approve"
    form = forms.DecisionForm(request.POST)
    if not form.is_valid():
        return claim_page(request, pool, membership, claim, forms={prefix: form}, status=400)
    try:
        decided = services.decide_claim(
            claim, person(request), form.cleaned_data["decision"], form.cleaned_data["reason"]
        )
    except PoolError as exc:
        status = refuse(request, exc, form)
        return claim_page(request, pool, membership, claim, forms={prefix: form}, status=status)
    verb = "approved" if form.cleaned_data["decision"] == "approve" else "rejected"
    outcome = {
        ClaimStatus.APPROVED: " The claim is approved.",
        ClaimStatus.REJECTED: " The claim is rejected.",
        ClaimStatus.CLOSED: " The claim is approved and paid.",
    }.get(ClaimStatus(decided.status), "")
    messages.success(request, f"You {verb} the claim.{outcome}")
    return redirect("pools:claim", slug=pool.slug, claim_id=claim.pk)


@pool_action
def claim_remind(
    request: HttpRequest, pool: Pool, membership: Membership | None, claim_id: int
) -> HttpResponse:
    claim = claim_of(pool, claim_id)
    try:
        reminder = services.remind(claim, person(request))
    except PoolError as exc:
        status = refuse(request, exc)
        return claim_page(request, pool, membership, claim, status=status)
    count = reminder.sent_to.count()
    messages.success(
        request,
        f"A reminder is recorded for the {count} member{'s' if count != 1 else ''}"
        " who have not decided yet.",
    )
    return redirect("pools:claim", slug=pool.slug, claim_id=claim.pk)


@pool_action
def claim_recovery(
    request: HttpRequest, pool: Pool, membership: Membership | None, claim_id: int
) -> HttpResponse:
    claim = claim_of(pool, claim_id)
    form = forms.RecoveryForm(request.POST, prefix="recovery")
    if not form.is_valid():
        return claim_page(request, pool, membership, claim, forms={"recovery": form}, status=400)
    recovered_on = form.cleaned_data["recovered_on"]
    try:
        services.report_recovery(claim, person(request), recovered_on)
    except PoolError as exc:
        status = refuse(request, exc, form)
        return claim_page(request, pool, membership, claim, forms={"recovery": form}, status=status)
    stop = month_name(first_month_after_recovery(recovered_on))
    messages.success(request, f"Recovery is recorded: no gift is given for {stop} or later.")
    return redirect("pools:claim", slug=pool.slug, claim_id=claim.pk)


@pool_action
def claim_repay(
    request: HttpRequest, pool: Pool, membership: Membership | None, claim_id: int
) -> HttpResponse:
    claim = claim_of(pool, claim_id)
    form = forms.RepayForm(request.POST, currency=pool.currency)
    if not form.is_valid():
        return claim_page(request, pool, membership, claim, forms={"repay": form}, status=400)
    once = f"pool-repay:{claim.pk}:{person(request).pk}"
    if not form.claim(once):
        messages.info(request, REPAYMENT_SENT)
        return redirect("pools:claim", slug=pool.slug, claim_id=claim.pk)
    try:
        with form.given_back_on_error(once):
            # The form's token is the ledger key too: a repeat that got past the check
            # above (the cache was cleared) still books nothing twice.
            repayment = services.repay(
                claim,
                person(request),
                form.cleaned_data["amount"],
                key=form.cleaned_data.get("token") or new_form_token(),
                received_on=form.cleaned_data.get("received_on"),
            )
    except PoolError as exc:
        status = refuse(request, exc, form)
        return claim_page(request, pool, membership, claim, forms={"repay": form}, status=status)
    still = services.owed_back(repayment.claim).remaining
    rest = f" {_money(still, pool.currency)} is still owed." if still else " Nothing more is owed."
    messages.success(
        request,
        f"{_money(repayment.amount, pool.currency)} paid back is recorded and returned to the"
        f" members who gave the gifts.{rest}",
    )
    return redirect("pools:claim", slug=pool.slug, claim_id=claim.pk)


@pool_action
def claim_waiver(
    request: HttpRequest, pool: Pool, membership: Membership | None, claim_id: int
) -> HttpResponse:
    claim = claim_of(pool, claim_id)
    form = forms.WaiverForm(request.POST)
    if not form.is_valid():
        return claim_page(request, pool, membership, claim, forms={"waiver": form}, status=400)
    try:
        vote = services.propose_waiver(claim, person(request), form.cleaned_data["reason"])
    except PoolError as exc:
        status = refuse(request, exc, form)
        return claim_page(request, pool, membership, claim, forms={"waiver": form}, status=status)
    messages.success(
        request, "The members vote on waiving it; it stays owed unless the vote passes."
    )
    return redirect("pools:vote", slug=pool.slug, vote_id=vote.pk)


@pool_action
def ballot(
    request: HttpRequest, pool: Pool, membership: Membership | None, vote_id: int
) -> HttpResponse:
    vote = vote_of(pool, vote_id)
    form = forms.BallotForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose yes, no or abstain.")
        return vote_page(request, pool, membership, vote, form=form, status=400)
    try:
        vote = services.cast_ballot(vote, person(request), form.cleaned_data["choice"])
    except PoolError as exc:
        status = refuse(request, exc)
        return vote_page(request, pool, membership, vote, status=status)
    messages.success(request, f"Your vote is cast: {form.cleaned_data['choice']}.")
    return redirect("pools:vote", slug=pool.slug, vote_id=vote.pk)


# ---------------------------------------------------------------------------- steward


@pool_action
def run_gifts(request: HttpRequest, pool: Pool, membership: Membership | None) -> HttpResponse:
    form = forms.MonthForm(request.POST, prefix="run", label="Gifts for")
    if not form.is_valid():
        return _again(request, pool, membership, "run", form)
    month = form.cleaned_data["month"]
    try:
        result = services.steward_run_month(pool, person(request), month)
    except PoolError as exc:
        return _again(request, pool, membership, "run", form, exc)
    run = result.run
    if not result.created:
        messages.info(request, f"The gifts for {month_name(run.month)} were given already.")
    else:
        given = sum(g.received for g in run.gifts.all())
        text = (
            f"The gifts for {month_name(run.month)} are given: {run.gifts.count()} claim"
            f"{'s' if run.gifts.count() != 1 else ''}, {_money(given, pool.currency)} in all."
        )
        if run.cut_percent < 100 and run.gifts.exists():
            text += f" The reserves were short: every gift was cut to {run.cut_percent}%."
        messages.success(request, text)
    return _back(pool, "gifts")


@pool_action
def appoint_steward(
    request: HttpRequest, pool: Pool, membership: Membership | None
) -> HttpResponse:
    form = forms.StewardForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the member to make a steward.")
        return pool_page(request, pool, membership, status=400)
    try:
        made = services.steward_appoint(pool, person(request), form.cleaned_data["member"])
    except PoolError as exc:
        status = refuse(request, exc)
        return pool_page(request, pool, membership, status=status)
    messages.success(request, f"{present.viewer(pool, membership).name(made)} is a steward now.")
    return _back(pool, "members")


@pool_action
def refund(request: HttpRequest, pool: Pool, membership: Membership | None) -> HttpResponse:
    form = forms.YearForm(request.POST, prefix="refund")
    if not form.is_valid():
        return _again(request, pool, membership, "refund", form)
    year = form.cleaned_data["year"]
    try:
        made = services.steward_refund(pool, person(request), year)
    except PoolError as exc:
        return _again(request, pool, membership, "refund", form, exc)
    total = sum(r.amount for r in made)
    if made:
        messages.success(
            request,
            f"Refunded {_money(total, pool.currency)} above the cap for {year} to {len(made)}"
            f" member{'s' if len(made) != 1 else ''}.",
        )
    else:
        messages.info(request, f"No reserve held more than its cap for {year}: nothing to refund.")
    return _back(pool, "gifts")


@pool_action
def start_cycle(request: HttpRequest, pool: Pool, membership: Membership | None) -> HttpResponse:
    form = forms.CycleForm(request.POST, prefix="cycle")
    if not form.is_valid():
        return _again(request, pool, membership, "cycle", form)
    try:
        rounds = services.start_cycle(
            pool,
            person(request),
            first_month=form.cleaned_data["first_month"],
            agreed=form.cleaned_data.get("order"),
        )
    except PoolError as exc:
        return _again(request, pool, membership, "cycle", form, exc)
    messages.success(request, f"A cycle of {len(rounds)} rounds is set.")
    return _back(pool, "rounds")


@pool_action
def pay_round(request: HttpRequest, pool: Pool, membership: Membership | None) -> HttpResponse:
    form = forms.MonthForm(request.POST, prefix="round", label="Round of")
    if not form.is_valid():
        return _again(request, pool, membership, "round", form)
    try:
        rnd = services.steward_pay_round(pool, person(request), form.cleaned_data["month"])
    except PoolError as exc:
        return _again(request, pool, membership, "round", form, exc)
    messages.success(
        request,
        f"The pot of {_money(rnd.pot, pool.currency)} for {month_name(rnd.month)} is paid.",
    )
    return _back(pool, "rounds")


# ---------------------------------------------------------------------------- rules


@login_required
@require_http_methods(["GET", "POST"])
def rules_change(request: HttpRequest, slug: str) -> HttpResponse:
    pool, membership = visible(request, slug)
    v = present.viewer(pool, membership)
    if not v.active:
        messages.error(request, "Only members of the pool can propose a rule change.")
        return pool_page(request, pool, membership, status=403)
    current = rules_to_json(services.current_rules(pool))
    rules_class = forms.RULES_FORMS[pool.kind]
    changes: list[str] = []
    status = 200
    if request.method != "POST":
        form = rules_class(currency=pool.currency, rules=current)
    else:
        form = rules_class(request.POST, currency=pool.currency)
        if not form.is_valid():
            status = 400
        elif request.POST.get("action") == "propose":
            try:
                vote = services.propose_rule_change(pool, person(request), form.rules)
            except PoolError as exc:
                forms.add_pool_error([form], exc)
                status = refusal_status(exc)
            else:
                messages.success(request, "Your proposal is put to the vote.")
                return redirect("pools:vote", slug=pool.slug, vote_id=vote.pk)
        else:
            try:
                changes = services.preview_rule_change(pool, form.rules)
            except PoolError as exc:
                forms.add_pool_error([form], exc)
                status = refusal_status(exc)
    context = {
        "pool": pool,
        "v": v,
        "form": form,
        "changes": changes,
        "kind_label": kind_name(pool.kind),
    }
    return render(request, "pools/rules.html", context, status=status)


# ---------------------------------------------------------------------------- leave


@login_required
@require_http_methods(["GET", "POST"])
def leave(request: HttpRequest, slug: str) -> HttpResponse:
    pool, membership = visible(request, slug)
    v = present.viewer(pool, membership)
    if not v.active or membership is None:
        messages.error(request, "Only members of the pool can leave it.")
        return pool_page(request, pool, membership, status=403)
    if request.method == "POST":
        try:
            payout = services.leave_pool(pool, person(request))
        except PoolError as exc:
            status = refuse(request, exc)
            return pool_page(request, pool, membership, status=status)
        taken = f" and took your reserve of {_money(payout, pool.currency)}" if payout else ""
        owed = sum(o.remaining for _, o in services.still_owed_by(membership))
        if owed:
            taken += (
                f"; {_money(owed, pool.currency)} of gifts is still owed back to the members"
                " who gave them"
            )
        messages.success(request, f"You left {pool.name}{taken}.")
        return redirect("pools:list")
    rules = services.current_rules(pool)
    reserve = services.reserves(pool).get(membership.number, 0)
    owed = sum(o.remaining for _, o in services.still_owed_by(membership))
    context = {
        "pool": pool,
        "v": v,
        "sick_leave": isinstance(rules, SickLeaveRules),
        "reserve": reserve,
        # What leaving takes from the reserve for gifts owed back (services.leave).
        "owed_back": owed,
        "repaid_from_reserve": min(owed, reserve),
        "takes": reserve - min(owed, reserve),
        "still_after": owed - min(owed, reserve),
        "open_claims": membership.claims.filter(
            status__in=(ClaimStatus.PENDING, ClaimStatus.APPROVED)
        ).count(),
        "last_steward": membership.role == "steward"
        and not pool.memberships.filter(status=MemberStatus.ACTIVE, role="steward")
        .exclude(pk=membership.pk)
        .exists()
        and pool.memberships.filter(status=MemberStatus.ACTIVE).exclude(pk=membership.pk).exists(),
    }
    return render(request, "pools/leave.html", context)


urlpatterns: list[URLPattern] = [
    path("", pool_list, name="list"),
    path("new/", pool_new, name="new"),
    path("<slug:slug>/", pool_detail, name="detail"),
    path("<slug:slug>/ledger/", pool_ledger, name="ledger"),
    path("<slug:slug>/join/", join, name="join"),
    path("<slug:slug>/accept/", accept, name="accept"),
    path("<slug:slug>/invite/", invite, name="invite"),
    path("<slug:slug>/invite/withdraw/", withdraw_invitation, name="withdraw_invitation"),
    path("<slug:slug>/deposits/", deposit, name="deposit"),
    path("<slug:slug>/claims/", claim_new, name="claim_new"),
    path("<slug:slug>/claims/<int:claim_id>/", claim_detail, name="claim"),
    path("<slug:slug>/claims/<int:claim_id>/decide/", claim_decide, name="claim_decide"),
    path("<slug:slug>/claims/<int:claim_id>/remind/", claim_remind, name="claim_remind"),
    path("<slug:slug>/claims/<int:claim_id>/recovery/", claim_recovery, name="claim_recovery"),
    path("<slug:slug>/claims/<int:claim_id>/repayments/", claim_repay, name="claim_repay"),
    path("<slug:slug>/claims/<int:claim_id>/waiver/", claim_waiver, name="claim_waiver"),
    path("<slug:slug>/votes/<int:vote_id>/", vote_detail, name="vote"),
    path("<slug:slug>/votes/<int:vote_id>/ballot/", ballot, name="ballot"),
    path("<slug:slug>/rules/", rules_change, name="rules"),
    path("<slug:slug>/leave/", leave, name="leave"),
    path("<slug:slug>/gifts/", run_gifts, name="run_gifts"),
    path("<slug:slug>/refunds/", refund, name="refund"),
    path("<slug:slug>/stewards/", appoint_steward, name="appoint_steward"),
    path("<slug:slug>/cycle/", start_cycle, name="start_cycle"),
    path("<slug:slug>/rounds/", pay_round, name="pay_round"),
]
