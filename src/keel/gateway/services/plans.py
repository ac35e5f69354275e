"""Scaled purchasing power: a catalogue of benefit plans whose member price falls as more
Keel workers enroll, paid monthly from each worker's health bucket.

* **Pricing.** A plan has an individual monthly price and volume tiers
  (``rules.plans.PlanPricing``); the price every member pays for a month is the price for
  the number enrolled on the month's first day.
* **Enrollment.** An enrollment covers whole months: it is charged for every month it is
  active in, i.e. it started on or before the month's last day and had not ended by the
  month's first day. Leaving on a day ends the enrollment that day (a worker who leaves on
  the 1st is not charged for that month). A worker has at most one open enrollment per plan.
* **Premiums.** ``charge_premiums(month)`` makes one ``PremiumCharge`` per enrollment and
  month (running it again adds nothing). It is paid from the health bucket with a premium
  use (``benefits.use_benefit``, one ledger journal, idempotency key
  ``premium:<enrollment>:<YYYY-MM>``) when the bucket holds it; otherwise the charge is
  recorded unpaid, visible to the worker, who can pay it later with ``pay_premium``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from keel.accounts.models import User
from keel.money import MoneyError, get_currency

from ..errors import Conflict, GatewayError, NotFound
from ..models import BenefitUse, Enrollment, Plan, PremiumCharge, UseKind
from ..rules import plans as rules
from ..rules.policy import PolicyError
from .benefits import bucket_balance, use_benefit

__all__ = [
    "PlanPrices",
    "active_plan",
    "add_plan",
    "catalogue",
    "charge_premiums",
    "enroll",
    "enrolled_count",
    "enrollments_of",
    "leave",
    "open_enrollment",
    "pay_premium",
    "plan_prices",
    "plan_pricing",
    "premium_history",
    "premium_key",
    "worker_enrollment",
]

TierInput = tuple[int, int] | Mapping[str, Any]


def _month_start(day: date) -> date:
    return date(day.year, day.month, 1)


def _month_end(day: date) -> date:
    first = _month_start(day)
    return date(first.year + first.month // 12, first.month % 12 + 1, 1) - timedelta(days=1)


def premium_key(enrollment: Enrollment, month: date) -> str:
    return f"premium:{enrollment.pk}:{month:%Y-%m}"


# ---------------------------------------------------------------------------- catalogue


def _tier(raw: TierInput, index: int) -> rules.PriceTier:
    if isinstance(raw, Mapping):
        members, price = raw.get("min_enrolled"), raw.get("monthly_price")
    elif isinstance(raw, tuple | list) and len(raw) == 2:
        members, price = raw
    else:
        raise GatewayError(
            "a tier is (members, monthly price) or {min_enrolled, monthly_price}",
            field=f"tiers.{index}",
        )
    try:
        return rules.PriceTier(min_enrolled=members, monthly_price=price)  # type: ignore[arg-type]
    except PolicyError as exc:
        raise GatewayError(str(exc), field=f"tiers.{index}.{exc.field}", code=exc.code) from None


def _pricing(currency: str, individual_price: int, tiers: Iterable[TierInput]) -> rules.PlanPricing:
    try:
        code = get_currency((currency or "").strip().upper()).code
    except MoneyError as exc:
        raise GatewayError(str(exc), field="currency") from None
    parsed = tuple(_tier(raw, i) for i, raw in enumerate(tiers))
    try:
        return rules.PlanPricing(code, individual_price, parsed)
    except PolicyError as exc:
        raise GatewayError(str(exc), field=exc.field, code=exc.code) from None


def plan_pricing(plan: Plan) -> rules.PlanPricing:
    data = plan.pricing
    return rules.PlanPricing(
        data["currency"],
        data["individual_price"],
        tuple(rules.PriceTier(t["min_enrolled"], t["monthly_price"]) for t in data["tiers"]),
    )


@transaction.atomic
def add_plan(
    provider: str,
    product_type: str,
    name: str,
    currency: str,
    individual_price: int,
    tiers: Sequence[TierInput] = (),
    *,
    description: str = "",
) -> Plan:
    """Add a plan to the catalogue. Tiers are (members from, monthly price) pairs, in
    increasing members and never increasing price; prices are minor units."""
    values = {}
    for field, value, limit in (
        ("provider", provider, 120),
        ("product_type", product_type, 60),
        ("name", name, 160),
    ):
        text = (value or "").strip()
        if not text:
            raise GatewayError(f"{field} is required", field=field, code="required")
        if len(text) > limit:
            raise GatewayError(f"{field} has at most {limit} characters", field=field)
        values[field] = text
    pricing = _pricing(currency, individual_price, tiers)
    if Plan.objects.filter(name__iexact=values["name"]).exists():
        raise Conflict(f"a plan named {values['name']!r} exists already", field="name")
    return Plan.objects.create(
        provider=values["provider"],
        product_type=values["product_type"],
        name=values["name"],
        description=description.strip(),
        currency=pricing.currency,
        pricing={
            "currency": pricing.currency,
            "individual_price": pricing.individual_price,
            "tiers": [
                {"min_enrolled": t.min_enrolled, "monthly_price": t.monthly_price}
                for t in pricing.tiers
            ],
        },
    )


def active_plan(plan_id: int) -> Plan:
    plan = Plan.objects.filter(pk=plan_id, active=True).first()
    if plan is None:
        raise NotFound(f"no plan with id {plan_id} in the catalogue", field="plan")
    return plan


def catalogue() -> list[Plan]:
    return list(Plan.objects.filter(active=True).order_by("product_type", "name"))


def _active_on(day: date) -> Q:
    return Q(started_on__lte=day) & (Q(ended_on__isnull=True) | Q(ended_on__gt=day))


def enrolled_count(plan: Plan, on: date) -> int:
    """Members of the plan on ``on``: enrolled on or before it and not left by then."""
    return Enrollment.objects.filter(_active_on(on), plan=plan).count()


@dataclass(frozen=True, slots=True)
class PlanPrices:
    plan: Plan
    currency: str
    enrolled: int
    individual_price: int
    price: int  # what each member pays a month now
    saving: int  # per member per month against buying alone
    next_members: int | None  # members still needed for the next lower price
    next_price: int | None


def plan_prices(plan: Plan, on: date | None = None) -> PlanPrices:
    """The plan's price for the members it has on ``on`` (default today), the saving
    against the individual price, and how many more members bring the next lower price."""
    pricing = plan_pricing(plan)
    count = enrolled_count(plan, on or timezone.localdate())
    upcoming = rules.next_tier(pricing, count)
    return PlanPrices(
        plan=plan,
        currency=pricing.currency,
        enrolled=count,
        individual_price=pricing.individual_price,
        price=rules.price_for(pricing, count),
        saving=rules.saving(pricing, count),
        next_members=None if upcoming is None else upcoming[0],
        next_price=None if upcoming is None else upcoming[1],
    )


# ---------------------------------------------------------------------------- enrollment


def open_enrollment(worker: User, plan: Plan) -> Enrollment | None:
    return Enrollment.objects.filter(worker=worker, plan=plan, ended_on__isnull=True).first()


@transaction.atomic
def enroll(worker: User, plan: Plan, on: date | None = None) -> Enrollment:
    on = on or timezone.localdate()
    # Lock the plan so two requests cannot both find no open enrollment.
    locked = Plan.objects.select_for_update().filter(pk=plan.pk).first()
    if locked is None or not locked.active:
        raise GatewayError(f"{plan.name} is not open for enrollment", field="plan")
    if open_enrollment(worker, plan) is not None:
        raise Conflict(f"you are enrolled in {plan.name} already", field="plan", code="enrolled")
    return Enrollment.objects.create(plan=plan, worker=worker, started_on=on)


def worker_enrollment(worker: User, enrollment_id: int) -> Enrollment:
    enrollment = (
        Enrollment.objects.filter(pk=enrollment_id, worker=worker).select_related("plan").first()
    )
    if enrollment is None:
        raise NotFound(f"no enrollment with id {enrollment_id}", field="id")
    return enrollment


@transaction.atomic
def leave(worker: User, enrollment: Enrollment, on: date | None = None) -> Enrollment:
    """End the worker's enrollment on ``on`` (default today): not charged from the first
    month that starts on or after it."""
    on = on or timezone.localdate()
    locked = (
        Enrollment.objects.select_for_update()
        .filter(pk=enrollment.pk, worker=worker)
        .select_related("plan")
        .first()
    )
    if locked is None:
        raise NotFound(f"no enrollment with id {enrollment.pk}", field="id")
    if locked.ended_on is not None:
        raise Conflict(
            f"you left {locked.plan.name} on {locked.ended_on.isoformat()} already",
            field="id",
            code="ended",
        )
    if on < locked.started_on:
        raise GatewayError(
            f"you enrolled on {locked.started_on.isoformat()}; you can leave on that day or later",
            field="on",
        )
    locked.ended_on = on
    locked.save(update_fields=["ended_on"])
    return locked


def enrollments_of(worker: User) -> list[Enrollment]:
    return list(
        Enrollment.objects.filter(worker=worker)
        .select_related("plan")
        .order_by("ended_on", "-started_on")
    )


# ---------------------------------------------------------------------------- premiums


def _pay(enrollment: Enrollment, amount: int, month: date, on: date) -> BenefitUse | None:
    """Pay from the health bucket if it holds the premium; None (nothing written) if not."""
    worker, plan = enrollment.worker, enrollment.plan
    if bucket_balance(worker, "health", plan.currency) < amount:
        return None
    try:
        return use_benefit(
            worker,
            UseKind.PREMIUM,
            amount,
            currency=plan.currency,
            on=on,
            provider=plan.provider,
            note=f"{plan.name}, {month:%B %Y}",
            idempotency_key=premium_key(enrollment, month),
        )
    except GatewayError as exc:
        if exc.code == "insufficient_funds":  # spent since the balance was read
            return None
        raise


def charge_premiums(month: date) -> list[PremiumCharge]:
    """Charge every enrollment active in ``month`` its premium for the month. Returns the
    charges made by this run; an enrollment already charged for the month is skipped."""
    first, last = _month_start(month), _month_end(month)
    enrollments = (
        Enrollment.objects.filter(started_on__lte=last)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gt=first))
        .exclude(charges__month=first)
        .select_related("plan", "worker")
        .order_by("plan_id", "id")
    )
    counts: dict[int, int] = {}
    made: list[PremiumCharge] = []
    for enrollment in enrollments:
        plan = enrollment.plan
        if plan.pk not in counts:
            counts[plan.pk] = enrolled_count(plan, first)
        charge = _charge(enrollment, first, counts[plan.pk])
        if charge is not None:
            made.append(charge)
    return made


@transaction.atomic
def _charge(enrollment: Enrollment, month: date, enrolled: int) -> PremiumCharge | None:
    # Lock the enrollment: a concurrent run for the same month waits, then finds the charge.
    Enrollment.objects.select_for_update().filter(pk=enrollment.pk).first()
    if PremiumCharge.objects.filter(enrollment=enrollment, month=month).exists():
        return None
    pricing = plan_pricing(enrollment.plan)
    amount = rules.price_for(pricing, enrolled)
    use = _pay(enrollment, amount, month, month)
    return PremiumCharge.objects.create(
        enrollment=enrollment,
        month=month,
        amount=amount,
        individual_price=pricing.individual_price,
        enrolled_count=enrolled,
        paid=use is not None,
        use=use,
    )


@transaction.atomic
def pay_premium(worker: User, charge_id: int, on: date | None = None) -> PremiumCharge:
    """Pay an unpaid premium from the health bucket now that it holds enough."""
    charge = (
        PremiumCharge.objects.select_for_update()
        .filter(pk=charge_id, enrollment__worker=worker)
        .select_related("enrollment__plan", "enrollment__worker")
        .first()
    )
    if charge is None:
        raise NotFound(f"no premium with id {charge_id}", field="id")
    if charge.paid:
        return charge
    plan = charge.enrollment.plan
    use = _pay(charge.enrollment, charge.amount, charge.month, on or timezone.localdate())
    if use is None:
        raise GatewayError(
            f"the health bucket holds less than the {plan.name} premium for {charge.month:%B %Y}",
            field="amount",
            code="insufficient_funds",
        )
    charge.paid = True
    charge.use = use
    charge.save(update_fields=["paid", "use"])
    return charge


def premium_history(worker: User) -> list[PremiumCharge]:
    return list(
        PremiumCharge.objects.filter(enrollment__worker=worker)
        .select_related("enrollment__plan")
        .order_by("-month", "-id")
    )
