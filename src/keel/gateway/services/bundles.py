"""Steady micro-contract bundles: a platform commits a minimum volume of work to one linked
worker for a number of weeks; the worker accepts or declines it in Keel; Keel tracks each
week's delivery against the commitment and shows any shortfall to both sides.

* **Offer.** Only to a worker reference whose link is active, and only with terms the rule
  accepts (``rules.bundles.BundleTerms``). The platform's ``reference`` makes an offer
  idempotent: the same reference with the same worker, title and terms returns the bundle
  already offered; with anything else it is refused. A link carries at most one open
  (offered or accepted) bundle at a time: delivery is measured from the earnings events of
  the worker reference, so two overlapping bundles would each count the same work.
* **Delivery.** A week's tasks are the ``jobs`` and its earnings the ``gross + bonus`` (tips
  are the customer's, not the platform's pay) of the reference's earnings and top-up
  events dated in that week, in the bundle's currency.
* **Top-up.** A week that ended below the earnings guarantee is settled by a top-up
  earnings event (``kind="topup"``, the shortfall as ``bonus``, no jobs) recorded through
  ``apply_events`` like any other earnings, dated the week's last day so it counts in that
  week; the platform's policy makes a contribution on it if it counts bonuses. Its event
  id ``bundle:<reference>:week:<n>:topup`` (``n`` counts from 1) makes settling twice a
  no-op. A week made good by a top-up reads "met" (the platform paid what it owed); its
  task shortfall stays in its column, because volume cannot be paid after the fact.
* **Forecast.** An accepted bundle is committed recurring income for the worker:
  ``bundle_commitments`` is registered with ``keel.income.commitments`` (see the gateway's
  ``AppConfig.ready``) and yields each week's committed income on the week's last day,
  under the key ``bundle-<id>``: the commitment is its own income source, since gateway
  earnings never become income items unless the worker imports the platform's payouts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from keel.accounts.models import User
from keel.income.commitments import Commitment

from ..errors import Conflict, GatewayError, NotFound
from ..models import (
    Bundle,
    BundleStatus,
    EarningsEvent,
    LinkStatus,
    Platform,
    WorkerLink,
)
from ..rules import bundles as rules
from ..rules.policy import PolicyError
from .events import EventIn, apply_events
from .platforms import current_policy, terms_of

__all__ = [
    "BundleView",
    "BundleWeek",
    "bundle_commitments",
    "bundle_delivery",
    "bundle_key",
    "bundle_terms",
    "bundle_view",
    "bundles_for_platform",
    "bundles_for_worker",
    "offer_bundle",
    "parse_bundle_terms",
    "platform_bundle",
    "respond",
    "settle_shortfall",
    "topup_event_id",
    "withdraw",
]

TERM_KEYS = (
    "currency",
    "weeks",
    "start",
    "min_tasks_per_week",
    "rate_per_task",
    "min_weekly_earnings",
)
# A top-up's event id is "bundle:<reference>:week:<n>:topup" and an event id has at most
# 120 characters: 22 of them are the frame around the reference with up to 520 weeks.
MAX_REFERENCE = 98
MAX_WORKER_REF = 120
MAX_TITLE = 200
OPEN_STATUSES = (BundleStatus.OFFERED, BundleStatus.ACCEPTED)
DELIVERY_KINDS = ("earnings", "topup")


# ---------------------------------------------------------------------------- terms


def parse_bundle_terms(terms: Mapping[str, Any], *, currency: str) -> rules.BundleTerms:
    """Validated terms from untrusted input (API JSON or a form). ``start`` is a date or
    an ISO date string; ``currency`` defaults to the platform's. Errors name the field
    as ``terms.<name>``."""
    if not isinstance(terms, Mapping):
        raise GatewayError("terms must be an object", field="terms")
    for key in terms:
        if key not in TERM_KEYS:
            raise GatewayError(
                f"unknown field {key!r} (allowed: {', '.join(TERM_KEYS)})",
                field=f"terms.{key}",
                code="unknown_field",
            )
    start: object = terms.get("start")
    if isinstance(start, str):
        try:
            start = date.fromisoformat(start.strip())
        except ValueError:
            raise GatewayError(
                "start must be an ISO date, e.g. 2026-01-05", field="terms.start"
            ) from None
    if start is None:
        raise GatewayError("start is required", field="terms.start", code="required")
    if "weeks" not in terms:
        raise GatewayError("weeks is required", field="terms.weeks", code="required")
    raw_currency = terms.get("currency", currency)
    try:
        return rules.BundleTerms(
            currency=raw_currency.strip().upper()
            if isinstance(raw_currency, str)
            else raw_currency,
            weeks=terms["weeks"],
            start=start,  # type: ignore[arg-type]  # checked by BundleTerms
            min_tasks_per_week=terms.get("min_tasks_per_week", 0),
            rate_per_task=terms.get("rate_per_task", 0),
            min_weekly_earnings=terms.get("min_weekly_earnings", 0),
        )
    except PolicyError as exc:
        raise GatewayError(str(exc), field=f"terms.{exc.field}", code=exc.code) from None


def _terms_dict(terms: rules.BundleTerms) -> dict[str, Any]:
    return {
        "currency": terms.currency,
        "weeks": terms.weeks,
        "start": terms.start.isoformat(),
        "min_tasks_per_week": terms.min_tasks_per_week,
        "rate_per_task": terms.rate_per_task,
        "min_weekly_earnings": terms.min_weekly_earnings,
    }


def bundle_terms(bundle: Bundle) -> rules.BundleTerms:
    data = dict(bundle.terms)
    return rules.BundleTerms(
        currency=data["currency"],
        weeks=data["weeks"],
        start=date.fromisoformat(data["start"]),
        min_tasks_per_week=data["min_tasks_per_week"],
        rate_per_task=data["rate_per_task"],
        min_weekly_earnings=data["min_weekly_earnings"],
    )


def bundle_key(bundle: Bundle) -> str:
    """The income-forecast key of the bundle's committed income (its own source)."""
    return f"bundle-{bundle.pk}"


def topup_event_id(bundle: Bundle, week_index: int) -> str:
    return f"bundle:{bundle.reference}:week:{week_index + 1}:topup"


# ---------------------------------------------------------------------------- offers


def _text(value: str, field: str, limit: int) -> str:
    text = (value or "").strip() if isinstance(value, str) else ""
    if not text:
        raise GatewayError(f"{field} is required", field=field, code="required")
    if len(text) > limit:
        raise GatewayError(f"{field} has at most {limit} characters", field=field)
    return text


@transaction.atomic
def offer_bundle(
    platform: Platform,
    worker_ref: str,
    reference: str,
    title: str,
    terms: Mapping[str, Any],
) -> Bundle:
    """Offer a bundle to the worker linked under ``worker_ref``. Replaying the same
    reference with the same content returns the bundle first offered."""
    reference = _text(reference, "reference", MAX_REFERENCE)
    title = _text(title, "title", MAX_TITLE)
    worker_ref = _text(worker_ref, "worker_ref", MAX_WORKER_REF)
    parsed = parse_bundle_terms(terms, currency=platform.currency)
    stored = _terms_dict(parsed)
    # One offer at a time per platform, so two offers cannot both pass the overlap check.
    Platform.objects.select_for_update().filter(pk=platform.pk).first()
    existing = (
        Bundle.objects.filter(platform=platform, reference=reference).select_related("link").first()
    )
    if existing is not None:
        if (existing.link.worker_ref, existing.title, existing.terms) != (
            worker_ref,
            title,
            stored,
        ):
            raise Conflict(
                f"bundle {reference!r} was already offered with other content; a reference"
                " is used once (offer a new bundle under a new reference)",
                field="reference",
                code="idempotency_conflict",
            )
        return existing
    link = WorkerLink.objects.filter(
        platform=platform, worker_ref=worker_ref, status=LinkStatus.ACTIVE
    ).first()
    if link is None:
        raise GatewayError(
            f"{worker_ref!r} is not linked to a Keel worker; a bundle can only be offered"
            " to a worker who has linked their account",
            field="worker_ref",
            code="not_linked",
        )
    version = current_policy(platform, parsed.start)
    if version is None or terms_of(version).currency != parsed.currency:
        raise GatewayError(
            f"{platform.name} has no contribution policy in {parsed.currency} in effect on"
            f" {parsed.start.isoformat()}; a bundle's top-ups are earnings events under it",
            field="terms.currency",
            code="no_policy",
        )
    ends_on = rules.end_date(parsed)
    overlapping = (
        Bundle.objects.filter(
            link=link, status__in=OPEN_STATUSES, starts_on__lte=ends_on, ends_on__gte=parsed.start
        )
        .order_by("starts_on")
        .first()
    )
    if overlapping is not None:
        raise Conflict(
            f"{worker_ref} already has bundle {overlapping.reference!r}"
            f" ({overlapping.get_status_display().lower()}) from"
            f" {overlapping.starts_on.isoformat()} to {overlapping.ends_on.isoformat()};"
            " bundles for one worker must not overlap",
            field="terms.start",
            code="overlapping_bundle",
        )
    return Bundle.objects.create(
        platform=platform,
        link=link,
        reference=reference,
        title=title,
        terms=stored,
        starts_on=parsed.start,
        ends_on=ends_on,
    )


@transaction.atomic
def respond(worker: User, bundle_id: int, accept: bool, *, on: date | None = None) -> Bundle:
    """The linked worker accepts or declines an offered bundle."""
    on = on or timezone.localdate()
    bundle = (
        Bundle.objects.select_for_update()
        .filter(pk=bundle_id, link__worker=worker)
        .select_related("link", "platform")
        .first()
    )
    if bundle is None:
        raise NotFound(f"no bundle with id {bundle_id}", field="id")
    if bundle.status != BundleStatus.OFFERED:
        raise Conflict(
            f"this bundle is {bundle.get_status_display().lower()}, not open for an answer",
            field="status",
            code="not_offered",
        )
    if bundle.link.status != LinkStatus.ACTIVE:
        raise GatewayError(
            f"your link with {bundle.platform.name} has ended; the offer can no longer be answered",
            field="status",
            code="not_linked",
        )
    if accept and on > bundle.ends_on:
        raise GatewayError(
            f"this bundle ran until {bundle.ends_on.isoformat()}; it can no longer be accepted",
            field="status",
            code="bundle_over",
        )
    bundle.status = BundleStatus.ACCEPTED if accept else BundleStatus.DECLINED
    bundle.responded_at = timezone.now()
    bundle.save(update_fields=["status", "responded_at"])
    return bundle


@transaction.atomic
def withdraw(platform: Platform, reference: str) -> Bundle:
    """The platform takes back an offer the worker has not answered yet."""
    bundle = (
        Bundle.objects.select_for_update().filter(platform=platform, reference=reference).first()
    )
    if bundle is None:
        raise NotFound(f"no bundle {reference!r}", field="reference")
    if bundle.status != BundleStatus.OFFERED:
        raise Conflict(
            f"bundle {reference!r} is {bundle.get_status_display().lower()}; only an offer"
            " not yet answered can be withdrawn",
            field="status",
            code="not_offered",
        )
    bundle.status = BundleStatus.WITHDRAWN
    bundle.save(update_fields=["status"])
    return bundle


def bundles_for_worker(worker: User) -> list[Bundle]:
    return list(
        Bundle.objects.filter(link__worker=worker)
        .select_related("platform", "link")
        .order_by("-starts_on", "-id")
    )


def bundles_for_platform(platform: Platform) -> list[Bundle]:
    return list(
        Bundle.objects.filter(platform=platform)
        .select_related("link", "link__worker")
        .order_by("-starts_on", "-id")
    )


def platform_bundle(platform: Platform, bundle_id: int) -> Bundle:
    bundle = Bundle.objects.filter(platform=platform, pk=bundle_id).select_related("link").first()
    if bundle is None:
        raise NotFound(f"no bundle with id {bundle_id}", field="id")
    return bundle


# ---------------------------------------------------------------------------- delivery


@dataclass(frozen=True, slots=True)
class BundleWeek:
    """One week of a bundle against its commitment, as both sides see it."""

    index: int  # 0-based, as the rules count
    start: date
    end: date
    tasks: int
    earnings: int  # including any top-up
    committed_tasks: int
    committed_earnings: int
    task_shortfall: int | None  # None until the week is over
    earnings_shortfall: int | None
    topped_up: int  # paid by the platform as a top-up for this week
    owed: int  # guarantee shortfall not settled yet
    status: str  # met | short | in progress | upcoming

    @property
    def number(self) -> int:
        return self.index + 1


def _weeks(bundle: Bundle, terms: rules.BundleTerms, as_of: date) -> list[BundleWeek]:
    daily = (
        EarningsEvent.objects.filter(
            platform_id=bundle.platform_id,
            worker_ref=bundle.link.worker_ref,
            kind__in=DELIVERY_KINDS,
            currency=terms.currency,
            occurred_on__gte=bundle.starts_on,
            occurred_on__lte=bundle.ends_on,
        )
        .values("occurred_on")
        .annotate(tasks=Sum("jobs"), earnings=Sum(F("gross") + F("bonus")))
        .order_by("occurred_on")
    )
    events = [
        (row["occurred_on"], int(row["tasks"] or 0), int(row["earnings"] or 0)) for row in daily
    ]
    topped: dict[int, int] = defaultdict(int)
    for day, bonus in EarningsEvent.objects.filter(
        platform_id=bundle.platform_id,
        event_id__in=[topup_event_id(bundle, i) for i in range(terms.weeks)],
        kind="topup",
    ).values_list("occurred_on", "bonus"):
        topped[(day - terms.start).days // 7] += bonus
    weeks = []
    for report in rules.delivery(terms, events, as_of):
        status = report.status
        if status == "short" and not report.earnings_shortfall and topped[report.index]:
            status = "met"
        weeks.append(
            BundleWeek(
                index=report.index,
                start=report.start,
                end=report.end,
                tasks=report.tasks,
                earnings=report.earnings,
                committed_tasks=report.committed_tasks,
                committed_earnings=report.committed_earnings,
                task_shortfall=report.task_shortfall,
                earnings_shortfall=report.earnings_shortfall,
                topped_up=topped[report.index],
                owed=rules.topup_due(report),
                status=status,
            )
        )
    return weeks


def bundle_delivery(bundle: Bundle, as_of: date | None = None) -> list[BundleWeek]:
    """Every week of the bundle judged as of ``as_of`` (default today)."""
    return _weeks(bundle, bundle_terms(bundle), as_of or timezone.localdate())


@dataclass(frozen=True, slots=True)
class BundleView:
    """A bundle with its terms and delivery, for the pages of both sides."""

    bundle: Bundle
    terms: rules.BundleTerms
    committed_weekly: int
    weeks: tuple[BundleWeek, ...]

    @property
    def delivered_tasks(self) -> int:
        return sum(w.tasks for w in self.weeks)

    @property
    def delivered_earnings(self) -> int:
        return sum(w.earnings for w in self.weeks)

    @property
    def owed(self) -> int:
        return sum(w.owed for w in self.weeks)

    @property
    def short_weeks(self) -> int:
        return sum(1 for w in self.weeks if w.status == "short")


def bundle_view(bundle: Bundle, as_of: date | None = None) -> BundleView:
    """Terms and, once accepted, the weekly delivery (an offer has none to show)."""
    terms = bundle_terms(bundle)
    weeks: list[BundleWeek] = []
    if bundle.status == BundleStatus.ACCEPTED:
        weeks = _weeks(bundle, terms, as_of or timezone.localdate())
    return BundleView(bundle, terms, rules.committed_weekly_income(terms), tuple(weeks))


@transaction.atomic
def settle_shortfall(
    platform: Platform, bundle: Bundle, week_index: int, *, as_of: date | None = None
) -> EarningsEvent:
    """Top up a finished week to the guarantee with a top-up earnings event; settling a
    week again returns the top-up already recorded."""
    as_of = as_of or timezone.localdate()
    # The same lock apply_events takes: delivery cannot change between check and write.
    Platform.objects.select_for_update().filter(pk=platform.pk).first()
    found = Bundle.objects.filter(pk=bundle.pk, platform=platform).select_related("link").first()
    if found is None:
        raise NotFound(f"no bundle with id {bundle.pk} on {platform.name}", field="id")
    bundle = found
    terms = bundle_terms(bundle)
    if isinstance(week_index, bool) or not isinstance(week_index, int):
        raise GatewayError("week must be a whole number", field="week")
    if not 0 <= week_index < terms.weeks:
        raise GatewayError(
            f"the bundle has weeks 1 to {terms.weeks}, not {week_index + 1}", field="week"
        )
    event_id = topup_event_id(bundle, week_index)
    existing = EarningsEvent.objects.filter(platform=platform, event_id=event_id).first()
    if existing is not None:
        if existing.kind != "topup":
            raise Conflict(
                f"event id {event_id} is already used by an earnings event the platform sent",
                field="week",
                code="idempotency_conflict",
            )
        return existing
    if bundle.status != BundleStatus.ACCEPTED:
        raise GatewayError(
            f"bundle {bundle.reference!r} is {bundle.get_status_display().lower()}; only an"
            " accepted bundle is settled",
            field="status",
            code="not_accepted",
        )
    week = _weeks(bundle, terms, as_of)[week_index]
    if week.status in ("in progress", "upcoming"):
        raise GatewayError(
            f"week {week.number} runs until {week.end.isoformat()}; a shortfall is settled"
            " once the week is over",
            field="week",
            code="week_not_over",
        )
    if week.owed <= 0:
        raise GatewayError(
            f"week {week.number} has no earnings shortfall to settle",
            field="week",
            code="no_shortfall",
        )
    topup = EventIn(
        event_id=event_id,
        worker_ref=bundle.link.worker_ref,
        occurred_at=datetime.combine(week.end, time(23, 59, 59), tzinfo=UTC),
        currency=terms.currency,
        gross=0,
        bonus=week.owed,
        jobs=0,
        description=f"Guarantee top-up, week {week.number} of {bundle.title}"[:500],
        kind="topup",
    )
    apply_events(platform, [topup])
    return EarningsEvent.objects.get(platform=platform, event_id=event_id)


# ---------------------------------------------------------------------------- forecast


def bundle_commitments(worker: User, start: date, end: date) -> list[Commitment]:
    """The worker's accepted bundles as committed income for ``keel.income.commitments``:
    each week's committed income (``rules.bundles.committed_weekly_income``) due on the
    week's last day, under the key ``bundle-<id>``. The week in progress counts in full:
    what it delivered so far was paid by the platform outside Keel and is not in the income
    history. Bundles in a currency other than the worker's home currency are left out: a
    future payment has no exchange rate yet."""
    bundles = Bundle.objects.filter(
        link__worker=worker,
        link__status=LinkStatus.ACTIVE,
        status=BundleStatus.ACCEPTED,
        ends_on__gte=start,
        starts_on__lte=end,
    ).select_related("platform")
    out: list[Commitment] = []
    for bundle in bundles:
        terms = bundle_terms(bundle)
        if terms.currency != worker.home_currency:
            continue
        label = f"{bundle.platform.name}: {bundle.title}"
        for due_on, amount in rules.schedule(terms):
            if start <= due_on <= end and amount > 0:
                out.append(Commitment(due_on, amount, bundle_key(bundle), label))
    return out
