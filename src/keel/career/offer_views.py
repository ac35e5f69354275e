"""The offer pages: the list of offers with each one's MRR, a new offer, the offer page
with its subscribers (status and lifecycle actions) and payments, and the recurring
revenue page (MRR now, charts of MRR and its movements, churn by month, cohorts).

Views stay thin: every figure comes from ``keel.career.offers``, every write is one
service call. An offer and everything under it is a 404 to anyone but its worker.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, re_path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import charts, offers, retainers
from . import offer_forms as forms
from .errors import CareerError
from .forms import add_career_error, currency_of
from .invoices import money_text
from .models import Offer, Subscriber, SubscriberStatus
from .views import _worker, worker_page

# Which lifecycle actions a subscriber in each status can take.
ACTIONS = {
    SubscriberStatus.NEW: ("start",),
    SubscriberStatus.ACTIVE: ("change", "pause", "cancel"),
    SubscriberStatus.PAUSED: ("resume", "change", "cancel"),
    SubscriberStatus.CANCELLED: ("start",),
}
ACTION_LABELS = {
    "start": "Start",
    "pause": "Pause",
    "resume": "Resume",
    "change": "Change plan",
    "cancel": "Cancel",
}


def _offer(request: HttpRequest, offer_id: int) -> Offer:
    return get_object_or_404(
        Offer.objects.select_related("worker"), pk=offer_id, worker=_worker(request)
    )


def _subscriber(offer: Offer, subscriber_id: int) -> Subscriber:
    subscriber = get_object_or_404(Subscriber, pk=subscriber_id, offer=offer)
    subscriber.offer = offer
    return subscriber


def _choices(offer: Offer) -> list[tuple[int, str]]:
    return list(offer.subscribers.order_by("name", "id").values_list("id", "name"))


# ---------------------------------------------------------------------------- list and new


@worker_page
@require_GET
def offer_list(request: HttpRequest) -> HttpResponse:
    worker = _worker(request)
    rows = offers.offer_mrr(worker, timezone.localdate())
    return render(request, "career/offers/list.html", {"rows": rows})


@worker_page
@require_http_methods(["GET", "POST"])
def offer_new(request: HttpRequest) -> HttpResponse:
    worker = _worker(request)
    if request.method != "POST":
        form = forms.OfferForm(currency=currency_of(request.GET, worker.home_currency))
        return render(request, "career/offers/new.html", {"form": form})
    form = forms.OfferForm(request.POST, currency=currency_of(request.POST, worker.home_currency))
    if form.is_valid():
        try:
            offer = offers.create_offer(worker, **form.cleaned_data)
        except CareerError as exc:
            add_career_error(form, exc)
        else:
            messages.success(request, f"The offer {offer.name} is saved.")
            return redirect("career:offer", offer_id=offer.pk)
    return render(request, "career/offers/new.html", {"form": form}, status=400)


# ---------------------------------------------------------------------------- the offer


def _paid_by(offer: Offer) -> dict[int, int]:
    totals: dict[int, int] = {}
    for subscriber_id, amount in offer.payments.filter(
        subscriber__isnull=False, currency=offer.currency
    ).values_list("subscriber_id", "amount"):
        totals[subscriber_id] = totals.get(subscriber_id, 0) + amount
    return totals


def _offer_page(
    request: HttpRequest,
    offer: Offer,
    *,
    subscriber_form: forms.SubscriberForm | None = None,
    payment_form: forms.PaymentForm | None = None,
    error: str | None = None,
    status: int = 200,
) -> HttpResponse:
    subscribers = list(offer.subscribers.order_by("name", "id"))
    if not offer.is_recurring:
        # A buyer of something sold once has no status or price per interval: what they
        # paid for it is what the list shows.
        paid = _paid_by(offer)
        for s in subscribers:
            s.paid_total = paid.get(s.pk, 0)  # type: ignore[attr-defined]
    choices = [(s.pk, s.name) for s in subscribers]
    rows = [
        (
            s,
            [
                (
                    action,
                    ACTION_LABELS[action],
                    forms.EventForm(
                        currency=offer.currency, kind=action, auto_id=f"id_s{s.pk}_{action}_%s"
                    ),
                )
                for action in (ACTIONS[SubscriberStatus(s.status)] if offer.is_recurring else ())
            ],
        )
        for s in subscribers
    ]
    today = timezone.localdate()
    mrr = next((r for r in offers.offer_mrr(offer.worker, today) if r.offer.pk == offer.pk), None)
    retainer_rows = []
    if offer.kind == "retainer":
        for s in subscribers:
            s.offer = offer
            account = retainers.retainer_account(s, today)
            if account.current is not None:
                retainer_rows.append(
                    (s, account.current, forms.RetainerUseForm(auto_id=f"id_r{s.pk}_%s"))
                )
    context: dict[str, Any] = {
        "offer": offer,
        "mrr": mrr,
        "rows": rows,
        "retainer_rows": retainer_rows,
        "subscriber_form": subscriber_form
        or forms.SubscriberForm(currency=offer.currency, recurring=offer.is_recurring),
        "payment_form": payment_form
        or forms.PaymentForm(currency=offer.currency, subscribers=choices),
        "payments": list(offer.payments.select_related("subscriber", "income_item")[:50]),
        "unmatched": [
            (
                item,
                forms.MatchForm(
                    subscribers=choices,
                    initial={"income_item": item.pk},
                    auto_id=f"id_i{item.pk}_%s",
                ),
            )
            for item in offers.unmatched_items(offer)
        ],
        "error": error,
    }
    return render(request, "career/offers/detail.html", context, status=status)


@worker_page
@require_GET
def offer_detail(request: HttpRequest, offer_id: int) -> HttpResponse:
    return _offer_page(request, _offer(request, offer_id))


@worker_page
@require_http_methods(["GET", "POST"])
def offer_edit(request: HttpRequest, offer_id: int) -> HttpResponse:
    offer = _offer(request, offer_id)
    retainer = offer.kind == "retainer"
    if request.method != "POST":
        initial = {
            "name": offer.name,
            "price": offer.price,
            "active": offer.active,
            "retainer_units": offer.retainer_units,
            "retainer_unit": offer.retainer_unit,
            "retainer_on_unused": offer.retainer_on_unused,
            "retainer_rollover_cap": offer.retainer_rollover_cap,
        }
        form = forms.OfferEditForm(initial=initial, currency=offer.currency, retainer=retainer)
        return render(request, "career/offers/edit.html", {"offer": offer, "form": form})
    form = forms.OfferEditForm(request.POST, currency=offer.currency, retainer=retainer)
    if form.is_valid():
        try:
            offer = offers.update_offer(offer, **form.cleaned_data)
        except CareerError as exc:
            add_career_error(form, exc)
        else:
            messages.success(request, f"The offer {offer.name} is saved.")
            return redirect("career:offer", offer_id=offer.pk)
    return render(request, "career/offers/edit.html", {"offer": offer, "form": form}, status=400)


def _retainer_page(
    request: HttpRequest,
    subscriber: Subscriber,
    form: forms.RetainerUseForm | None = None,
    status: int = 200,
) -> HttpResponse:
    try:
        account = retainers.retainer_account(subscriber, timezone.localdate())
    except CareerError as exc:
        raise Http404(exc.message) from None
    context = {
        "offer": subscriber.offer,
        "subscriber": subscriber,
        "account": account,
        "periods": list(reversed(account.periods)),
        "uses": list(reversed(account.uses)),
        "form": form or forms.RetainerUseForm(),
    }
    return render(request, "career/offers/retainer.html", context, status=status)


@worker_page
@require_http_methods(["GET", "POST"])
def retainer_units(request: HttpRequest, offer_id: int, subscriber_id: int) -> HttpResponse:
    """A subscriber's retainer units period by period; a POST logs units used."""
    offer = _offer(request, offer_id)
    subscriber = _subscriber(offer, subscriber_id)
    if offer.kind != "retainer":
        raise Http404("not a retainer")
    if request.method != "POST":
        return _retainer_page(request, subscriber)
    form = forms.RetainerUseForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        once = f"retainer-use:{subscriber.pk}"
        if not form.claim(once):
            messages.info(request, "Those units were already logged.")
            return redirect("career:retainer", offer_id=offer.pk, subscriber_id=subscriber.pk)
        try:
            with form.given_back_on_error(once):
                use = retainers.log_use(
                    subscriber, on=data["on"], units=data["units"], note=data.get("note") or ""
                )
        except CareerError as exc:
            add_career_error(form, exc)
        else:
            messages.success(
                request,
                f"{use.units} {offer.retainer_unit} logged for {subscriber.name}"
                f" on {use.on:%d %B %Y}.",
            )
            return redirect("career:retainer", offer_id=offer.pk, subscriber_id=subscriber.pk)
    return _retainer_page(request, subscriber, form, status=400)


@worker_page
@require_POST
def subscriber_new(request: HttpRequest, offer_id: int) -> HttpResponse:
    offer = _offer(request, offer_id)
    form = forms.SubscriberForm(request.POST, currency=offer.currency, recurring=offer.is_recurring)
    if form.is_valid():
        data = form.cleaned_data
        try:
            subscriber = offers.add_subscriber(
                offer,
                name=data["name"],
                email=data.get("email") or "",
                external_reference=data.get("external_reference") or "",
                start_on=data.get("start_on") if offer.is_recurring else None,
                price=data.get("price"),
            )
        except CareerError as exc:
            add_career_error(form, exc)
        else:
            messages.success(request, f"{subscriber.name} is added.")
            return redirect("career:offer", offer_id=offer.pk)
    return _offer_page(
        request, offer, subscriber_form=form, error="The subscriber was not added.", status=400
    )


@worker_page
@require_POST
def subscriber_event(
    request: HttpRequest, offer_id: int, subscriber_id: int, kind: str
) -> HttpResponse:
    offer = _offer(request, offer_id)
    subscriber = _subscriber(offer, subscriber_id)
    if kind not in ACTION_LABELS:
        raise Http404("no such action")
    form = forms.EventForm(request.POST, currency=offer.currency, kind=kind)
    if not form.is_valid():
        problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        return _offer_page(
            request, offer, error=f"{subscriber.name} was not changed: {problems}", status=400
        )
    data = form.cleaned_data
    try:
        offers.record_event(
            subscriber,
            kind,
            data["on"],
            price=data.get("price"),
            interval=data.get("interval") or None,
        )
    except CareerError as exc:
        return _offer_page(
            request, offer, error=f"{subscriber.name} was not changed: {exc.message}.", status=400
        )
    messages.success(request, f"{subscriber.name}: {ACTION_LABELS[kind].lower()} recorded.")
    return redirect("career:offer", offer_id=offer.pk)


@worker_page
@require_POST
def payment_new(request: HttpRequest, offer_id: int) -> HttpResponse:
    offer = _offer(request, offer_id)
    form = forms.PaymentForm(request.POST, currency=offer.currency, subscribers=_choices(offer))
    if form.is_valid():
        data = form.cleaned_data
        subscriber = _subscriber(offer, data["subscriber"]) if data.get("subscriber") else None
        try:
            payment = offers.record_payment(
                offer,
                amount=data["amount"],
                on=data["on"],
                subscriber=subscriber,
                key=data.get("token") or "",
            )
        except CareerError as exc:
            add_career_error(form, exc)
        else:
            messages.success(
                request,
                f"The payment of {money_text(payment.amount, payment.currency)} is booked"
                " as income.",
            )
            return redirect("career:offer", offer_id=offer.pk)
    return _offer_page(
        request, offer, payment_form=form, error="The payment was not booked.", status=400
    )


@worker_page
@require_POST
def payments_match(request: HttpRequest, offer_id: int) -> HttpResponse:
    """Match the income booked under the offer's source, or (with ``income_item``) one
    imported payment by hand."""
    offer = _offer(request, offer_id)
    if "income_item" not in request.POST:
        matched = offers.match_source_payments(offer)
        messages.success(
            request, f"{len(matched)} payment{'s' if len(matched) != 1 else ''} matched."
        )
        return redirect("career:offer", offer_id=offer.pk)
    form = forms.MatchForm(request.POST, subscribers=_choices(offer))
    if not form.is_valid():
        return _offer_page(request, offer, error="The payment was not matched.", status=400)
    data = form.cleaned_data
    subscriber = _subscriber(offer, data["subscriber"]) if data.get("subscriber") else None
    try:
        offers.match_payment(offer, data["income_item"], subscriber)
    except CareerError as exc:
        if exc.code == "missing":
            raise Http404("no such income item") from None
        return _offer_page(
            request, offer, error=f"The payment was not matched: {exc.message}.", status=400
        )
    messages.success(request, "The payment is matched to this offer.")
    return redirect("career:offer", offer_id=offer.pk)


# ---------------------------------------------------------------------------- revenue


@worker_page
@require_GET
def recurring_revenue(request: HttpRequest) -> HttpResponse:
    worker = _worker(request)
    currencies = offers.report_currencies(worker) or [worker.home_currency]
    currency = request.GET.get("currency", "").upper()
    if currency not in currencies:
        currency = currencies[0]
    report = offers.recurring_report(worker.pk, currency, timezone.localdate())
    figures = []
    if report.months:
        figures = [
            (
                "fig-mrr",
                "MRR at each month's end",
                "Monthly recurring revenue over time",
                charts.mrr_figure(report.months, currency),
            ),
            (
                "fig-moves",
                "MRR movements",
                "New, expansion, reactivation, contraction and churned MRR by month",
                charts.movements_figure(report.months, currency),
            ),
        ]
    context = {
        "report": report,
        "currency": currency,
        "currencies": currencies,
        "figures": figures,
        "months": list(reversed(report.months)),
        "max_age": max((len(r.cells) for r in report.cohorts), default=0),
    }
    return render(request, "career/offers/revenue.html", context)


urlpatterns = [
    path("offers/", offer_list, name="offers"),
    path("offers/new/", offer_new, name="offer_new"),
    path("offers/revenue/", recurring_revenue, name="revenue"),
    path("offers/<int:offer_id>/", offer_detail, name="offer"),
    path("offers/<int:offer_id>/edit/", offer_edit, name="offer_edit"),
    path(
        "offers/<int:offer_id>/subscribers/<int:subscriber_id>/retainer/",
        retainer_units,
        name="retainer",
    ),
    path("offers/<int:offer_id>/subscribers/", subscriber_new, name="subscriber_new"),
    path("offers/<int:offer_id>/payments/", payment_new, name="payment_new"),
    path("offers/<int:offer_id>/payments/match/", payments_match, name="payments_match"),
    re_path(
        r"^offers/(?P<offer_id>\d+)/subscribers/(?P<subscriber_id>\d+)/"
        r"(?P<kind>start|pause|resume|change|cancel)/$",
        subscriber_event,
        name="subscriber_event",
    ),
]
