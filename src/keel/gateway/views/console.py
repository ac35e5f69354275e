"""The platform operator's console: the platform's API keys, its contribution policy
versions, its linked workers and invitations, what it holds in suspense for workers not
linked yet, and its clearing batches with statements and settlements.

Every page addresses a platform by id and looks it up through the operator
(``services.operated_platform``): a platform the person does not operate answers 404,
exactly like one that does not exist, and every object below it (a key, a link, a batch) is
looked up within that platform. Writes go through the gateway services; their errors come
back onto the form field they name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Max, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from keel.accounts.models import User
from keel.api.keys import ApiKeyError
from keel.api.models import ApiKey
from keel.money import format_amount
from keel.web.forms import ALREADY_CREATED

from .. import services
from ..console_forms import (
    POLICY_FIELDS,
    CorrectionForm,
    InviteForm,
    PlatformForm,
    PlatformKeyForm,
    PolicyForm,
    RefundForm,
    SettlementForm,
    WithdrawSettlementForm,
    apply_error,
    apply_tier_error,
    money_text,
    tier_formset,
    tiers_of,
)
from ..errors import GatewayError, NotFound
from ..models import (
    ClearingBatch,
    EarningsEvent,
    EventCorrection,
    EventStatus,
    LinkStatus,
    Platform,
    WorkerLink,
)
from ..rules.policy import Policy

BATCH_EVENTS_PER_PAGE = 200


def _operator(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required lets only people through
    return request.user


def _platform(request: HttpRequest, platform_id: int) -> Platform:
    try:
        return services.operated_platform(_operator(request), platform_id)
    except NotFound:
        raise Http404("no such platform") from None


def _render(
    request: HttpRequest,
    platform: Platform,
    section: str,
    context: dict[str, Any],
    *,
    status: int = 200,
) -> HttpResponse:
    context = {"platform": platform, "section": section, **context}
    return render(request, f"gateway/console_{section}.html", context, status=status)


@dataclass(frozen=True, slots=True)
class Amount:
    currency: str
    amount: int


def _amounts(totals: dict[str, int]) -> list[Amount]:
    return [Amount(currency, amount) for currency, amount in sorted(totals.items())]


def _totals(rows: Iterable[tuple[str, int | None]]) -> list[Amount]:
    out: dict[str, int] = defaultdict(int)
    for currency, amount in rows:
        out[currency] += int(amount or 0)
    return _amounts(out)


def _held(rows: Iterable[dict[str, object]]) -> list[tuple[str, str, int]]:
    """``services.suspense_by_ref`` rows as (worker ref, currency, amount)."""
    return [(str(row["worker_ref"]), str(row["currency"]), cast(int, row["total"])) for row in rows]


# ---------------------------------------------------------------------------- platforms


def _index(request: HttpRequest, form: PlatformForm, *, status: int = 200) -> HttpResponse:
    context = {"platforms": services.platforms_of(_operator(request)), "form": form}
    return render(request, "gateway/console_index.html", context, status=status)


@login_required
@require_GET
def console(request: HttpRequest) -> HttpResponse:
    platforms = services.platforms_of(_operator(request))
    if len(platforms) == 1 and "all" not in request.GET:
        return redirect("gateway:console_overview", platform_id=platforms[0].pk)
    return _index(request, PlatformForm(initial={"currency": _operator(request).home_currency}))


@login_required
@require_POST
def platform_create(request: HttpRequest) -> HttpResponse:
    form = PlatformForm(request.POST)
    if not form.is_valid():
        return _index(request, form, status=400)
    try:
        platform = services.create_platform(
            form.cleaned_data["name"],
            currency=form.cleaned_data["currency"],
            clearing_cadence=form.cleaned_data["clearing_cadence"],
            operator=_operator(request),
        )
    except GatewayError as exc:
        apply_error(form, exc, {})
        return _index(request, form, status=400)
    messages.success(
        request,
        f"{platform.name} is set up and you operate it. Publish a contribution policy before"
        " your systems send earnings events: events on a day no policy covers are refused.",
    )
    return redirect("gateway:console_policies", platform_id=platform.pk)


# ---------------------------------------------------------------------------- overview


@dataclass(frozen=True, slots=True)
class Overview:
    linked: int
    invited: int
    suspense: list[Amount]
    outstanding: list[Amount]
    unbatched: list[Amount]
    this_month: list[Amount]
    month: date
    policy: Policy | None
    policy_version: int | None
    active_keys: int


def unbatched_of(platform: Platform) -> list[Amount]:
    """Contributions received that no clearing batch has taken yet, with what corrections
    waiting for a batch add or take back."""
    events = (
        EarningsEvent.objects.filter(
            platform=platform, clearing_batch__isnull=True, contribution__gt=0
        )
        .values_list("currency")
        .annotate(total=Sum("contribution"))
        .values_list("currency", "total")
    )
    corrections = (
        EventCorrection.objects.filter(platform=platform, clearing_batch__isnull=True)
        .exclude(booked=0)
        .values_list("event__currency")
        .annotate(total=Sum("booked"))
        .values_list("event__currency", "total")
    )
    return [amount for amount in _totals([*events, *corrections]) if amount.amount]


def overview_of(platform: Platform, today: date) -> Overview:
    links = WorkerLink.objects.filter(platform=platform)
    month = today.replace(day=1)
    events = EarningsEvent.objects.filter(platform=platform)
    outstanding: dict[str, int] = defaultdict(int)
    for state in services.batches_of(platform):
        if state.difference < 0:
            outstanding[state.batch.currency] += -state.difference
    version = services.current_policy(platform, today)
    return Overview(
        linked=links.filter(status=LinkStatus.ACTIVE).count(),
        invited=links.filter(status=LinkStatus.INVITED).count(),
        suspense=_totals(
            (cur, total) for _, cur, total in _held(services.suspense_by_ref(platform))
        ),
        outstanding=_amounts(outstanding),
        unbatched=unbatched_of(platform),
        this_month=_totals(
            events.filter(period_month=month)
            .values_list("currency")
            .annotate(total=Sum("contribution"))
            .values_list("currency", "total")
        ),
        month=month,
        policy=services.terms_of(version) if version is not None else None,
        policy_version=version.version if version is not None else None,
        active_keys=sum(1 for key in services.platform_keys(platform) if key.is_active),
    )


@login_required
@require_GET
def overview(request: HttpRequest, platform_id: int) -> HttpResponse:
    platform = _platform(request, platform_id)
    summary = overview_of(platform, timezone.localdate())
    return _render(request, platform, "overview", {"overview": summary})


# ---------------------------------------------------------------------------- keys


def _keys_page(
    request: HttpRequest,
    platform: Platform,
    form: PlatformKeyForm,
    *,
    new_key: ApiKey | None = None,
    plaintext: str | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "keys": services.platform_keys(platform),
        "form": form,
        "new_key": new_key,
        "new_key_plaintext": plaintext,
    }
    return _render(request, platform, "keys", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
@never_cache  # the answer to a POST carries the plaintext key: no cache may keep it
def keys(request: HttpRequest, platform_id: int) -> HttpResponse:
    platform = _platform(request, platform_id)
    if request.method != "POST":
        return _keys_page(request, platform, PlatformKeyForm())
    form = PlatformKeyForm(request.POST)
    if not form.is_valid():
        return _keys_page(request, platform, form, status=400)
    once = f"platform-key:{platform.pk}:{request.user.pk}"
    if not form.claim(once):
        # The browser re-sent the form (a reload): the key exists and is never shown again.
        messages.info(request, ALREADY_CREATED)
        return redirect("gateway:console_keys", platform_id=platform.pk)
    try:
        with form.given_back_on_error(once):
            key, plaintext = services.create_platform_key(
                platform,
                _operator(request),
                form.cleaned_data["name"],
                form.cleaned_data["scopes"],
            )
    except (GatewayError, ApiKeyError) as exc:
        field = (exc.field or "").split(".")[0]
        form.add_error(field if field in form.fields else None, exc.message)
        return _keys_page(request, platform, form, status=400)
    # Rendered, not redirected: a redirect would have to park the plaintext in the session.
    return _keys_page(request, platform, PlatformKeyForm(), new_key=key, plaintext=plaintext)


@login_required
@require_http_methods(["GET", "POST"])
def key_revoke(request: HttpRequest, platform_id: int, key_id: int) -> HttpResponse:
    platform = _platform(request, platform_id)
    key = next((k for k in services.platform_keys(platform) if k.pk == key_id), None)
    if key is None:
        raise Http404("no such key")
    if request.method == "POST":
        services.revoke_platform_key(platform, _operator(request), key_id)
        messages.success(request, f"Key “{key.name}” (keel_{key.prefix}_…) is revoked.")
        return redirect("gateway:console_keys", platform_id=platform.pk)
    return _render(request, platform, "key_revoke", {"key": key})


# ---------------------------------------------------------------------------- policies


@dataclass(frozen=True, slots=True)
class PolicyRow:
    version: int
    name: str
    effective_from: date
    published_at: Any
    published_by: str
    lines: list[str]
    in_effect: bool


def earliest_start(platform: Platform) -> tuple[date | None, date | None, date | None]:
    """(the last day with a recorded event, the latest version's start, the first day a
    new version may start)."""
    last_event = EarningsEvent.objects.filter(platform=platform).aggregate(d=Max("occurred_on"))[
        "d"
    ]
    latest = platform.policies.aggregate(d=Max("effective_from"))["d"]
    bounds = [d + timedelta(days=1) for d in (last_event, latest) if d is not None]
    return last_event, latest, max(bounds) if bounds else None


def _policies_page(
    request: HttpRequest,
    platform: Platform,
    form: PolicyForm | None = None,
    tiers: Any = None,
    *,
    status: int = 200,
    preview: PolicyPreview | None = None,
) -> HttpResponse:
    today = timezone.localdate()
    versions = services.policy_versions(platform)
    in_effect = services.current_policy(platform, today)
    latest_terms = services.terms_of(versions[0]) if versions else None
    last_event, latest_start, earliest = earliest_start(platform)
    if form is None:
        start = max(today, earliest) if earliest is not None else today
        form = PolicyForm(
            initial=PolicyForm.initial_from(latest_terms, start), currency=platform.currency
        )
        tiers = tier_formset(platform.currency, latest_terms)
    rows = [
        PolicyRow(
            version=v.version,
            name=v.name,
            effective_from=v.effective_from,
            published_at=v.published_at,
            published_by=v.published_by.email if v.published_by else "",
            lines=services.terms_of(v).describe(),
            in_effect=in_effect is not None and v.pk == in_effect.pk,
        )
        for v in versions
    ]
    context = {
        "versions": rows,
        "form": form,
        "tiers": tiers,
        "last_event": last_event,
        "latest_start": latest_start,
        "earliest": earliest,
        "today": today,
        "preview": preview,
    }
    return _render(request, platform, "policies", context, status=status)


@dataclass(frozen=True, slots=True)
class PolicyPreview:
    name: str
    effective_from: date
    lines: list[str]
    compared_with: int | None  # the version the changes are read against
    added: list[str]
    dropped: list[str]


def _policy_preview(
    request: HttpRequest, platform: Platform, form: PolicyForm, tiers: Any
) -> HttpResponse:
    """The draft in the words its workers will read, and what it changes against the
    latest version, before anything is published. The tick is not asked for: a preview
    publishes nothing."""
    form.fields["confirm"].required = False
    if not (form.is_valid() & tiers.is_valid()):
        return _policies_page(request, platform, form, tiers, status=400)
    try:
        draft, latest = services.check_policy(
            platform, form.terms(tiers_of(tiers)), form.cleaned_data["effective_from"]
        )
    except GatewayError as exc:
        if not apply_tier_error(tiers, exc.field or "", exc.message):
            apply_error(form, exc, POLICY_FIELDS)
        return _policies_page(request, platform, form, tiers, status=400)
    lines = draft.describe()
    before = services.terms_of(latest).describe() if latest else []
    preview = PolicyPreview(
        name=form.cleaned_data["name"].strip() or f"{platform.name} contribution policy",
        effective_from=form.cleaned_data["effective_from"],
        lines=lines,
        compared_with=latest.version if latest else None,
        added=[line for line in lines if line not in before],
        dropped=[line for line in before if line not in lines],
    )
    return _policies_page(request, platform, form, tiers, preview=preview)


@login_required
@require_http_methods(["GET", "POST"])
def policies(request: HttpRequest, platform_id: int) -> HttpResponse:
    platform = _platform(request, platform_id)
    if request.method != "POST":
        return _policies_page(request, platform)
    form = PolicyForm(request.POST, currency=platform.currency)
    tiers = tier_formset(platform.currency, None, request.POST)
    if "preview" in request.POST:
        return _policy_preview(request, platform, form, tiers)
    if not (form.is_valid() & tiers.is_valid()):  # both, so every error shows at once
        return _policies_page(request, platform, form, tiers, status=400)
    try:
        version = services.publish_policy(
            platform,
            form.terms(tiers_of(tiers)),
            name=form.cleaned_data["name"],
            effective_from=form.cleaned_data["effective_from"],
            by=_operator(request),
        )
    except GatewayError as exc:
        if not apply_tier_error(tiers, exc.field or "", exc.message):
            apply_error(form, exc, POLICY_FIELDS)
        return _policies_page(request, platform, form, tiers, status=400)
    messages.success(
        request,
        f"Version {version.version} is published and applies to events from"
        f" {date_format(version.effective_from, 'j F Y')}. Earlier events keep the terms they had.",
    )
    return redirect("gateway:console_policies", platform_id=platform.pk)


# ---------------------------------------------------------------------------- workers


def _workers_page(
    request: HttpRequest, platform: Platform, form: InviteForm, *, status: int = 200
) -> HttpResponse:
    held: dict[str, list[Amount]] = defaultdict(list)
    for ref, currency, total in _held(services.suspense_by_ref(platform)):
        held[ref].append(Amount(currency, total))
    links = services.platform_links(platform)
    context = {
        "links": [(link, held.get(link.worker_ref, [])) for link in links],
        "form": form,
        "counts": {
            status: sum(1 for link in links if link.status == status) for status in LinkStatus
        },
    }
    return _render(request, platform, "workers", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def workers(request: HttpRequest, platform_id: int) -> HttpResponse:
    platform = _platform(request, platform_id)
    if request.method != "POST":
        initial = {"worker_ref": request.GET.get("ref", "")[:120]}
        return _workers_page(request, platform, InviteForm(initial=initial))
    form = InviteForm(request.POST)
    if not form.is_valid():
        return _workers_page(request, platform, form, status=400)
    try:
        link = services.invite(
            platform,
            form.cleaned_data["worker_ref"],
            form.cleaned_data["email"],
            worker_status=form.cleaned_data["worker_status"].strip(),
        )
    except GatewayError as exc:
        apply_error(form, exc, {"email": "email", "worker_ref": "worker_ref"})
        return _workers_page(request, platform, form, status=400)
    messages.success(
        request,
        f"{link.worker_ref} is invited. The invitation shows to {link.invited_email} in Keel;"
        " once they accept, anything held for them is released into their account.",
    )
    return redirect("gateway:console_workers", platform_id=platform.pk)


@login_required
@require_http_methods(["GET", "POST"])
def link_end(request: HttpRequest, platform_id: int, link_id: int) -> HttpResponse:
    platform = _platform(request, platform_id)
    link = WorkerLink.objects.filter(platform=platform, pk=link_id).select_related("worker").first()
    if link is None:
        raise Http404("no such link")
    if request.method == "POST":
        try:
            services.end_link(link)
        except GatewayError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                f"The link for {link.worker_ref} has ended. The worker keeps their account"
                " and its history; events for this reference are held in suspense again.",
            )
        return redirect("gateway:console_workers", platform_id=platform.pk)
    return _render(request, platform, "link_end", {"link": link})


# ---------------------------------------------------------------------------- suspense


@login_required
@require_GET
def suspense(request: HttpRequest, platform_id: int) -> HttpResponse:
    platform = _platform(request, platform_id)
    rows = _held(services.suspense_by_ref(platform))
    links = {link.worker_ref: link for link in services.platform_links(platform)}
    counts = {
        (ref, currency): n
        for ref, currency, n in EarningsEvent.objects.filter(
            platform=platform, status=EventStatus.SUSPENSE
        )
        .values_list("worker_ref", "currency")
        .annotate(n=Count("id"))
        .values_list("worker_ref", "currency", "n")
    }
    context = {
        "rows": [
            {
                "worker_ref": ref,
                "currency": currency,
                "total": total,
                "events": counts.get((ref, currency), 0),
                "link": links.get(ref),
            }
            for ref, currency, total in rows
        ],
        "totals": _totals((currency, total) for _, currency, total in rows),
    }
    return _render(request, platform, "suspense", context)


# ---------------------------------------------------------------------------- corrections


def _event_named(platform: Platform, event_id: str) -> EarningsEvent | None:
    return (
        EarningsEvent.objects.filter(platform=platform, event_id=event_id.strip(), kind="earnings")
        .select_related("policy")
        .first()
        if event_id.strip()
        else None
    )


def _corrections_page(
    request: HttpRequest,
    platform: Platform,
    form: CorrectionForm,
    *,
    status: int = 200,
    event: EarningsEvent | None = None,
) -> HttpResponse:
    history = list(event.corrections.order_by("sequence")) if event is not None else []
    context = {
        "form": form,
        "event": event,
        "latest": history[-1] if history else event,
        "booked": (
            event.contribution + sum(c.booked for c in history) if event is not None else None
        ),
        "corrections": services.corrections_of(platform),
    }
    return _render(request, platform, "corrections", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def corrections(request: HttpRequest, platform_id: int) -> HttpResponse:
    """Correct a recorded event: the figures it should have carried and why; every
    correction made, by the API or here."""
    platform = _platform(request, platform_id)
    if request.method != "POST":
        event = _event_named(platform, request.GET.get("event", ""))
        initial: dict[str, Any] = {}
        if event is not None:
            latest = event.corrections.order_by("-sequence").first() or event
            initial = {
                "corrects": event.event_id,
                "gross": money_text(latest.gross, event.currency),
                "tips": money_text(latest.tips, event.currency) if latest.tips else "",
                "bonus": money_text(latest.bonus, event.currency) if latest.bonus else "",
                "jobs": latest.jobs,
            }
        form = CorrectionForm(
            initial=initial, currency=event.currency if event is not None else platform.currency
        )
        return _corrections_page(request, platform, form, event=event)
    event = _event_named(platform, request.POST.get("corrects", ""))
    currency = event.currency if event is not None else platform.currency
    form = CorrectionForm(request.POST, currency=currency)
    if not form.is_valid():
        return _corrections_page(request, platform, form, status=400, event=event)
    data = form.cleaned_data
    try:
        result = services.correct_event(
            platform,
            {
                "correction_id": f"console-{data['token']}",
                "corrects": data["corrects"],
                # A correction keeps the event's reference and currency; the service
                # refuses an event that is not there by its id.
                "worker_ref": event.worker_ref if event is not None else "-",
                "currency": currency,
                "gross": data["gross"],
                "tips": data["tips"],
                "bonus": data["bonus"],
                "jobs": data["jobs"],
                "reason": data["reason"],
            },
            by=_operator(request),
        )
    except GatewayError as exc:
        apply_error(form, exc, {"correction_id": "corrects"})
        return _corrections_page(request, platform, form, status=400, event=event)
    c = result.correction
    if result.status == "exists":
        messages.info(request, f"This correction of {data['corrects']} was already recorded.")
    elif c.booked > 0:
        messages.success(
            request,
            f"Corrected {data['corrects']}: {format_amount(c.booked, currency, symbol=True)}"
            " more is owed and was added for the worker.",
        )
    elif c.booked < 0 or c.shortfall:
        text = (
            f"Corrected {data['corrects']}:"
            f" {format_amount(-c.booked, currency, symbol=True)} taken back"
        )
        if c.shortfall:
            text += (
                f"; {format_amount(c.shortfall, currency, symbol=True)} the worker no longer"
                " held stays owed by the platform"
            )
        messages.success(request, text + ".")
    else:
        messages.success(request, f"Corrected {data['corrects']}: its contribution is unchanged.")
    return redirect(
        f"{reverse('gateway:console_corrections', args=[platform.pk])}"
        f"?event={quote(c.event.event_id)}"
    )


# ---------------------------------------------------------------------------- clearing


@login_required
@require_GET
def clearing(request: HttpRequest, platform_id: int) -> HttpResponse:
    platform = _platform(request, platform_id)
    today = timezone.localdate()
    start, end = services.last_whole_period(platform.clearing_cadence, today)
    context = {
        "batches": services.batches_of(platform),
        "last_period": (start, end),
        "last_period_closed": ClearingBatch.objects.filter(
            platform=platform, period_start=start, period_end=end
        ).exists(),
        "unbatched": unbatched_of(platform),
    }
    return _render(request, platform, "clearing", context)


@login_required
@require_POST
def clearing_close(request: HttpRequest, platform_id: int) -> HttpResponse:
    platform = _platform(request, platform_id)
    start, end, batches = services.close_last_period(platform, timezone.localdate())
    period = date_format(start, "j M Y")
    if start != end:
        period += f" to {date_format(end, 'j M Y')}"
    if batches:
        owed = "; ".join(
            f"{b.event_count} event{'s' if b.event_count != 1 else ''} owing"
            f" {format_amount(b.owed, b.currency, symbol=True)}"
            for b in batches
        )
        messages.success(request, f"The period {period} is closed: {owed}.")
    else:
        messages.info(request, f"Nothing was waiting to be cleared for {period}.")
    return redirect("gateway:console_clearing", platform_id=platform.pk)


def _batch(request: HttpRequest, platform_id: int, batch_id: int) -> tuple[Platform, ClearingBatch]:
    platform = _platform(request, platform_id)
    try:
        return platform, services.platform_batch(platform, batch_id)
    except NotFound:
        raise Http404("no such batch") from None


def _new_settlement_form(batch: ClearingBatch) -> SettlementForm:
    """The empty "Record a payment" form, received today, that every batch page shows."""
    today = timezone.localdate()
    return SettlementForm(currency=batch.currency, today=today, initial={"received_on": today})


def _batch_page(
    request: HttpRequest,
    platform: Platform,
    batch: ClearingBatch,
    form: SettlementForm,
    *,
    status: int = 200,
    withdraw_form: WithdrawSettlementForm | None = None,
    withdrawing: int | None = None,
    refund_form: RefundForm | None = None,
) -> HttpResponse:
    # The statement's rows (services.statement_rows), a page at a time: a batch can be big.
    rows = batch.events.select_related("policy").order_by("occurred_at", "id")
    events = Paginator(rows, BATCH_EVENTS_PER_PAGE)
    context = {
        "state": services.batch_state(batch),
        "batch": batch,
        # Each payment with its own withdrawal form (ids of its own per payment); the one
        # whose withdrawal was refused shows its error.
        "settlements": [
            (
                s,
                withdraw_form
                if withdraw_form is not None and s.pk == withdrawing
                else WithdrawSettlementForm(auto_id=f"id_withdraw_{s.pk}_%s"),
            )
            for s in batch.settlements.select_related("recorded_by", "withdrawn_by")
        ],
        "page": events.get_page(request.GET.get("page")),
        "corrections": services.statement_corrections(batch),
        "form": form,
        "withdrawing": withdrawing,
        "refund_form": refund_form
        or RefundForm(currency=batch.currency, initial={"refunded_on": timezone.localdate()}),
    }
    return _render(request, platform, "batch", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def batch(request: HttpRequest, platform_id: int, batch_id: int) -> HttpResponse:
    platform, found = _batch(request, platform_id, batch_id)
    if request.method != "POST":
        return _batch_page(request, platform, found, _new_settlement_form(found))
    form = SettlementForm(request.POST, currency=found.currency, today=timezone.localdate())
    if not form.is_valid():
        return _batch_page(request, platform, found, form, status=400)
    try:
        services.record_settlement(
            found,
            reference=form.cleaned_data["reference"],
            amount=form.cleaned_data["amount"],
            received_on=form.cleaned_data["received_on"],
            by=_operator(request),
        )
    except GatewayError as exc:
        apply_error(form, exc, {})
        return _batch_page(request, platform, found, form, status=400)
    state = services.batch_state(found)
    if state.status == "settled":
        messages.success(request, "Payment recorded: the batch is settled.")
    else:
        messages.warning(
            request,
            f"Payment recorded, but the batch is {state.status}: the difference stays on the"
            " batch until another payment or a refund settles it.",
        )
    return redirect("gateway:console_batch", platform_id=platform.pk, batch_id=found.pk)


@login_required
@require_POST
def settlement_withdraw(
    request: HttpRequest, platform_id: int, batch_id: int, settlement_id: int
) -> HttpResponse:
    platform, found = _batch(request, platform_id, batch_id)
    try:
        payment = services.batch_settlement(found, settlement_id)
    except NotFound:
        raise Http404("no such payment") from None
    form = WithdrawSettlementForm(request.POST, auto_id=f"id_withdraw_{payment.pk}_%s")
    blank = _new_settlement_form(found)
    if not form.is_valid():
        return _batch_page(
            request, platform, found, blank, status=400, withdraw_form=form, withdrawing=payment.pk
        )
    already = payment.withdrawn_at is not None
    services.withdraw_settlement(payment, reason=form.cleaned_data["reason"], by=_operator(request))
    amount = format_amount(payment.amount, found.currency, symbol=True)
    if already:
        messages.info(request, f"Payment {payment.reference} was already withdrawn.")
    else:
        state = services.batch_state(found)
        messages.success(
            request,
            f"Payment {payment.reference} of {amount} is withdrawn and its booking reversed;"
            f" the batch is {state.status}.",
        )
    return redirect("gateway:console_batch", platform_id=platform.pk, batch_id=found.pk)


@login_required
@require_POST
def refund(request: HttpRequest, platform_id: int, batch_id: int) -> HttpResponse:
    platform, found = _batch(request, platform_id, batch_id)
    form = RefundForm(request.POST, currency=found.currency)
    blank = _new_settlement_form(found)
    if not form.is_valid():
        return _batch_page(request, platform, found, blank, status=400, refund_form=form)
    try:
        services.record_refund(
            found,
            reference=form.cleaned_data["reference"],
            amount=form.cleaned_data["amount"],
            refunded_on=form.cleaned_data["refunded_on"],
            by=_operator(request),
        )
    except GatewayError as exc:
        apply_error(form, exc, {})
        return _batch_page(request, platform, found, blank, status=400, refund_form=form)
    state = services.batch_state(found)
    messages.success(request, f"Refund recorded: the batch is {state.status}.")
    return redirect("gateway:console_batch", platform_id=platform.pk, batch_id=found.pk)


@login_required
@require_GET
def statement(request: HttpRequest, platform_id: int, batch_id: int) -> HttpResponse:
    platform, found = _batch(request, platform_id, batch_id)
    name = f"{platform.slug}-{found.period_start:%Y%m%d}-{found.period_end:%Y%m%d}-{found.currency}"
    response = HttpResponse(services.statement_csv(found), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


urlpatterns = [
    path("platform/", console, name="console"),
    path("platform/new/", platform_create, name="console_create"),
    path("platform/<int:platform_id>/", overview, name="console_overview"),
    path("platform/<int:platform_id>/keys/", keys, name="console_keys"),
    path(
        "platform/<int:platform_id>/keys/<int:key_id>/revoke/",
        key_revoke,
        name="console_key_revoke",
    ),
    path("platform/<int:platform_id>/policies/", policies, name="console_policies"),
    path("platform/<int:platform_id>/workers/", workers, name="console_workers"),
    path(
        "platform/<int:platform_id>/workers/<int:link_id>/end/",
        link_end,
        name="console_link_end",
    ),
    path("platform/<int:platform_id>/suspense/", suspense, name="console_suspense"),
    path("platform/<int:platform_id>/corrections/", corrections, name="console_corrections"),
    path("platform/<int:platform_id>/clearing/", clearing, name="console_clearing"),
    path("platform/<int:platform_id>/clearing/close/", clearing_close, name="console_close"),
    path("platform/<int:platform_id>/clearing/<int:batch_id>/", batch, name="console_batch"),
    path(
        "platform/<int:platform_id>/clearing/<int:batch_id>/payments/<int:settlement_id>/withdraw/",
        settlement_withdraw,
        name="console_settlement_withdraw",
    ),
    path(
        "platform/<int:platform_id>/clearing/<int:batch_id>/refunds/",
        refund,
        name="console_refund",
    ),
    path(
        "platform/<int:platform_id>/clearing/<int:batch_id>/statement.csv",
        statement,
        name="console_statement",
    ),
]
