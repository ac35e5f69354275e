"""The career domain's database work for 90-day plans: making a plan, its key actions and
weekly check-ins, its progress from the books, the end-of-plan review, and the worker's
current plan.

The rules (``keel.career.rules.plans``, no Django) check every input and compute every
figure; this module loads what they need and saves what they allow. A refused input is a
``CareerError`` naming the rule's field (``expansion_channel``, ``due_on``, ``on``…) with
nothing saved.

From the books
    ``start_mrr`` is the MRR on the plan's first day, captured when the plan is made. The
    MRR series is the MRR at the end of every day of the plan up to today (or to the
    review day), from ONE query of the worker's subscription events in the plan's currency
    (``offers.report_history``, as the recurring report reads them) and
    ``recurring.mrr_at``. Income by channel is the take-home income per income source over
    the plan's days up to today, from ``keel.income.reports.income_by_source`` (one
    grouped query): in the worker's home currency every item counts converted; in another
    currency, the items in it.

The expansion channel
    A plan expands into exactly one channel: one of the worker's income sources, or a
    channel typed in (a new market, a platform not used yet). A typed name that is an
    existing source's name or slug (ignoring case) is that source. The source's income
    counts as the channel's, whatever the source is later renamed to.

The current plan
    The worker's latest active plan that has started: while it runs, and after its 90
    days until it is reviewed (so the dashboard asks for the review).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db import IntegrityError, transaction

from keel.accounts.models import User
from keel.income import queries as income_queries
from keel.income import reports as income_reports
from keel.money import is_currency

from .errors import CareerError
from .models import CheckIn, Plan, PlanAction, PlanReview, PlanStatus
from .offers import report_currencies, report_history
from .rules import plans as rules
from .rules.plans import PLAN_DAYS, PlanError, PlanProgress
from .rules.recurring import mrr_at

__all__ = [
    "PlanStatusReport",
    "add_action",
    "check_in",
    "create_plan",
    "current_plan",
    "dashboard_panel",
    "mark_done",
    "mrr_series",
    "plan_currencies",
    "plan_status",
    "review_plan",
    "rule_plan",
    "set_expansion_channel",
]


def _refused(exc: PlanError) -> CareerError:
    return CareerError(str(exc), field=exc.field, code=exc.code)


def plan_currencies(worker: User) -> list[str]:
    """The currencies a plan can target: those of the worker's recurring offers, home
    currency first, and the home currency always."""
    found = report_currencies(worker)
    return found if worker.home_currency in found else [worker.home_currency, *found]


# ---------------------------------------------------------------------------- the books


def mrr_series(worker_id: int, currency: str, first: date, last: date) -> dict[date, int]:
    """MRR at the end of every day from ``first`` to ``last``: one query of the events."""
    history = report_history(worker_id, currency)
    days = (last - first).days
    return {first + timedelta(d): mrr_at(history, first + timedelta(d)) for d in range(days + 1)}


def _mrr_on(worker_id: int, currency: str, day: date) -> int:
    return mrr_at(report_history(worker_id, currency), day)


@dataclass(frozen=True, slots=True)
class ChannelIncome:
    name: str
    amount: int
    expansion: bool


def _channel_income(plan: Plan, until: date) -> list[ChannelIncome]:
    """Income by channel over the plan's days up to ``until``, the expansion channel's
    source under the plan's channel name."""
    last = min(until, plan.starts_on + timedelta(days=PLAN_DAYS - 1))
    if last < plan.starts_on:
        return [ChannelIncome(plan.expansion_channel, 0, True)]
    rows = income_reports.income_by_source(
        plan.worker, plan.starts_on, last, currency=plan.currency
    )
    channel = plan.expansion_channel.casefold()
    found: list[ChannelIncome] = []
    expansion = 0
    for row in rows:
        if row.slug == plan.expansion_source_slug or (
            not plan.expansion_source_slug and row.name.strip().casefold() == channel
        ):
            expansion += row.amount
            continue
        name = row.name
        if name.strip().casefold() == channel:  # another source with the channel's name
            name = f"{name} ({row.slug})"
        found.append(ChannelIncome(name, row.amount, False))
    return [ChannelIncome(plan.expansion_channel, expansion, True), *found]


def _by_name(channels: Sequence[ChannelIncome]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for c in channels:
        totals[c.name] = totals.get(c.name, 0) + c.amount
    return totals


# ---------------------------------------------------------------------------- plans


def rule_plan(plan: Plan, *, with_check_ins: bool = True) -> rules.Plan:
    """The plan with its actions (and check-ins) as the rules see it."""
    actions = [
        rules.KeyAction(a.title, a.due_on, a.done_on)
        for a in PlanAction.objects.filter(plan=plan).order_by("due_on", "id")
    ]
    check_ins = (
        [rules.CheckIn(c.week, c.on, c.note) for c in CheckIn.objects.filter(plan=plan)]
        if with_check_ins
        else []
    )
    return rules.Plan(
        starts_on=plan.starts_on,
        currency=plan.currency,
        start_mrr=plan.start_mrr,
        target_mrr=plan.target_mrr,
        expansion_channel=plan.expansion_channel,
        expansion_target=plan.expansion_target,
        actions=tuple(actions),
        check_ins=tuple(check_ins),
    )


def _source_for(worker: User, channel: str) -> tuple[str, str]:
    """The channel's name and its income source's slug ('' for none)."""
    wanted = channel.strip().casefold()
    for slug, name in income_queries.source_names(worker):
        if wanted in (slug.casefold(), name.strip().casefold()):
            return name.strip()[:100], slug
    return channel.strip(), ""


def _overlapping(worker: User, starts_on: date) -> Plan | None:
    first = starts_on - timedelta(days=PLAN_DAYS - 1)
    last = starts_on + timedelta(days=PLAN_DAYS - 1)
    return (
        Plan.objects.filter(
            worker=worker,
            status=PlanStatus.ACTIVE,
            starts_on__gte=first,
            starts_on__lte=last,
        )
        .order_by("starts_on")
        .first()
    )


def create_plan(
    worker: User,
    *,
    starts_on: date,
    target_mrr: int,
    expansion_channel: str | Sequence[str],
    expansion_target: int | None = None,
    currency: str | None = None,
) -> Plan:
    """A new 90-day plan from ``starts_on``, its starting MRR read from the books.

    ``expansion_channel`` may be a list (a form that offers a source and a typed name):
    exactly one distinct channel is accepted, a second is refused naming
    ``expansion_channel``. A second active plan whose 90 days overlap this one's is
    refused (``starts_on``). Nothing is saved when refused."""
    try:
        rules.check_starts_on(starts_on)
    except PlanError as exc:
        raise _refused(exc) from None
    code = (currency or worker.home_currency or "").strip().upper()
    if not is_currency(code):
        raise CareerError(
            f"currency: {code!r} is not a currency", field="currency", code="invalid_currency"
        )
    channels = [expansion_channel] if isinstance(expansion_channel, str) else expansion_channel
    # A source's slug and its name are the same channel: compare what they resolve to.
    named = [_source_for(worker, c)[0] for c in channels if isinstance(c, str) and c.strip()]
    try:
        chosen = rules.one_expansion_channel(named)
    except PlanError as exc:
        raise _refused(exc) from None
    name, slug = _source_for(worker, chosen)
    with transaction.atomic():
        # One plan made at a time per worker, so two requests cannot both pass the check.
        User.objects.select_for_update().filter(pk=worker.pk).first()
        clash = _overlapping(worker, starts_on) if isinstance(starts_on, date) else None
        if clash is not None:
            raise CareerError(
                f"starts_on: the plan from {clash.starts_on.isoformat()} runs until "
                f"{(clash.starts_on + timedelta(days=PLAN_DAYS - 1)).isoformat()}; review it "
                "or start this plan after it ends",
                field="starts_on",
                code="overlap",
            )
        start_mrr = _mrr_on(worker.pk, code, starts_on) if isinstance(starts_on, date) else 0
        try:
            checked = rules.Plan(
                starts_on=starts_on,
                currency=code,
                start_mrr=start_mrr,
                target_mrr=target_mrr,
                expansion_channel=name,
                expansion_target=expansion_target,
            )
        except PlanError as exc:
            raise _refused(exc) from None
        return Plan.objects.create(
            worker=worker,
            starts_on=checked.starts_on,
            currency=checked.currency,
            start_mrr=checked.start_mrr,
            target_mrr=checked.target_mrr,
            expansion_channel=checked.expansion_channel or name,
            expansion_source_slug=slug,
            expansion_target=checked.expansion_target,
        )


def _locked(plan: Plan) -> Plan:
    row = Plan.objects.select_for_update().select_related("worker").get(pk=plan.pk)
    if row.status != PlanStatus.ACTIVE:
        raise CareerError(
            "status: the plan is reviewed and can no longer change", field="status", code="closed"
        )
    return row


def set_expansion_channel(plan: Plan, channel: str) -> Plan:
    """Name the plan's expansion channel again (the same one: nothing changes); a second,
    different channel is refused by the rule, naming ``expansion_channel``."""
    with transaction.atomic():
        row = _locked(plan)
        try:
            rules.add_expansion_channel(rule_plan(row, with_check_ins=False), channel)
        except PlanError as exc:
            raise _refused(exc) from None
    return row


def add_action(plan: Plan, title: str, due_on: date) -> PlanAction:
    """A key action, due within the plan (the rule refuses ``due_on`` outside it)."""
    with transaction.atomic():
        row = _locked(plan)
        try:
            checked = rules.add_action(rule_plan(row, with_check_ins=False), title, due_on)
        except PlanError as exc:
            raise _refused(exc) from None
        action = checked.actions[-1]
        return PlanAction.objects.create(plan=row, title=action.title, due_on=action.due_on)


def mark_done(plan: Plan, action_id: int, on: date) -> PlanAction:
    """Mark a key action done on ``on`` (done once: a second time changes nothing)."""
    with transaction.atomic():
        row = _locked(plan)
        action = PlanAction.objects.select_for_update().filter(pk=action_id, plan=row).first()
        if action is None:
            raise CareerError("action: no such key action", field="action", code="missing")
        if action.done_on is None:
            action.done_on = on
            action.save(update_fields=["done_on"])
    return action


def check_in(plan: Plan, on: date, note: str = "", *, today: date) -> tuple[CheckIn, bool]:
    """The check-in of the week holding ``on``: made, or (a second one that week) its note
    edited. ``on`` must fall within the plan and not after ``today``; the week is the
    rule's, never typed in. Returns the check-in and whether it is new."""
    if not isinstance(note, str) or len(note) > 2000:
        raise CareerError("note: at most 2000 characters", field="note", code="too_long")
    with transaction.atomic():
        row = _locked(plan)
        checked = rule_plan(row, with_check_ins=False)
        try:
            week = rules.add_check_in(checked, on, note.strip()).check_ins[-1].week
        except PlanError as exc:
            raise _refused(exc) from None
        if on > today:
            raise CareerError(
                f"on: a check-in is made on or before today ({today.isoformat()}), "
                f"not {on.isoformat()}",
                field="on",
                code="future",
            )
        existing = CheckIn.objects.select_for_update().filter(plan=row, week=week).first()
        if existing is not None:
            existing.on, existing.note = on, note.strip()
            existing.save(update_fields=["on", "note"])
            return existing, False
        try:
            with transaction.atomic():
                return CheckIn.objects.create(plan=row, week=week, on=on, note=note.strip()), True
        except IntegrityError:  # pragma: no cover - the plan row lock serialises check-ins
            raise CareerError(
                f"on: week {week} already has a check-in", field="on", code="duplicate"
            ) from None


# ---------------------------------------------------------------------------- progress


@dataclass(frozen=True, slots=True)
class PlanStatusReport:
    """A plan measured against the books on ``today``: the rules' progress, the MRR series
    it used (day by day, up to the progress day), income by channel, and the review once
    stored (or ``review_due`` when the 90 days are over and it is not)."""

    plan: Plan
    today: date
    progress: PlanProgress
    series: tuple[tuple[date, int], ...]
    channels: tuple[ChannelIncome, ...]
    actions: tuple[PlanAction, ...]
    check_ins: tuple[CheckIn, ...]
    review: PlanReview | None

    @property
    def ends_on(self) -> date:
        return self.plan.starts_on + timedelta(days=PLAN_DAYS - 1)

    @property
    def review_on(self) -> date:
        return self.plan.starts_on + timedelta(days=PLAN_DAYS)

    @property
    def review_due(self) -> bool:
        return self.review is None and self.today >= self.review_on

    @property
    def summary(self) -> list[str]:
        return self.progress.summary()

    def as_dict(self) -> dict[str, Any]:
        p = self.progress
        return {
            "plan": self.plan.pk,
            "status": self.plan.status,
            "currency": p.currency,
            "starts_on": self.plan.starts_on.isoformat(),
            "ends_on": self.ends_on.isoformat(),
            "review_on": self.review_on.isoformat(),
            "as_of": p.as_of.isoformat(),
            "day": p.day,
            "week": p.week,
            "start_mrr": p.start_mrr,
            "target_mrr": p.target_mrr,
            "mrr_now": p.mrr_now,
            "expected_mrr": p.expected_mrr,
            "progress_bps": p.progress_bps,
            "on_track": p.on_track,
            "behind_by": p.behind_by,
            "expansion_channel": p.expansion_channel,
            "expansion_target": self.plan.expansion_target,
            "expansion_income": p.expansion_income,
            "other_income": p.other_income,
            "income_by_channel": {c.name: c.amount for c in self.channels},
            "actions": {
                "done": len(p.actions_done),
                "overdue": len(p.actions_overdue),
                "open": len(p.actions_open),
            },
            "check_ins": len(self.check_ins),
            "review_due": self.review_due,
            "summary": self.summary,
        }


def plan_status(plan: Plan, today: date) -> PlanStatusReport:
    """The plan's progress on ``today`` from the books (module docstring)."""
    as_of = min(max(today, plan.starts_on), plan.starts_on + timedelta(days=PLAN_DAYS))
    series = mrr_series(plan.worker_id, plan.currency, plan.starts_on, as_of)
    channels = _channel_income(plan, today)
    actions = tuple(PlanAction.objects.filter(plan=plan).order_by("due_on", "id"))
    check_ins = tuple(CheckIn.objects.filter(plan=plan).order_by("week"))
    checked = rules.Plan(
        starts_on=plan.starts_on,
        currency=plan.currency,
        start_mrr=plan.start_mrr,
        target_mrr=plan.target_mrr,
        expansion_channel=plan.expansion_channel,
        expansion_target=plan.expansion_target,
        actions=tuple(rules.KeyAction(a.title, a.due_on, a.done_on) for a in actions),
    )
    progress = rules.progress(checked, series, _by_name(channels), today)
    review = PlanReview.objects.filter(plan=plan).first()
    return PlanStatusReport(
        plan=plan,
        today=today,
        progress=progress,
        series=tuple(sorted(series.items())) if today >= plan.starts_on else (),
        channels=tuple(channels),
        actions=actions,
        check_ins=check_ins,
        review=review,
    )


def review_plan(plan: Plan, today: date) -> PlanReview:
    """The end-of-plan review (``rules.review``) stored once the 90 days are over, with the
    draft of the next plan's targets; the plan becomes ``reviewed``. The same review is
    returned when it is asked for again."""
    review_on = plan.starts_on + timedelta(days=PLAN_DAYS)
    if today < review_on:
        raise CareerError(
            f"today: the plan is reviewed on its day 90, {review_on.isoformat()}, "
            f"not before (today is {today.isoformat()})",
            field="today",
            code="too_early",
        )
    with transaction.atomic():
        row = Plan.objects.select_for_update().select_related("worker").get(pk=plan.pk)
        existing = PlanReview.objects.filter(plan=row).first()
        if existing is not None:
            return existing
        series = mrr_series(row.worker_id, row.currency, row.starts_on, review_on)
        result = rules.review(
            rule_plan(row, with_check_ins=False), series, _by_name(_channel_income(row, today))
        )
        draft = result.next_plan
        review = PlanReview.objects.create(
            plan=row,
            results=[
                {"name": r.name, "planned": r.planned, "actual": r.actual, "met": r.met}
                for r in result.results
            ],
            words=list(result.words),
            end_mrr=result.results[0].actual,
            trend_growth=draft.trend_growth,
            next_starts_on=draft.starts_on,
            next_start_mrr=draft.start_mrr,
            next_target_mrr=draft.target_mrr,
        )
        row.status = PlanStatus.REVIEWED
        row.save(update_fields=["status"])
    plan.status = PlanStatus.REVIEWED
    return review


def current_plan(worker: User, today: date) -> Plan | None:
    """The worker's current plan (module docstring), or None."""
    return (
        Plan.objects.filter(worker=worker, status=PlanStatus.ACTIVE, starts_on__lte=today)
        .select_related("worker")
        .order_by("-starts_on", "-id")
        .first()
    )


def dashboard_panel(worker: User, today: date) -> dict[str, Any] | None:
    """The dashboard's panel: the current plan's progress; None without one."""
    if not isinstance(worker, User):
        return None
    plan = current_plan(worker, today)
    if plan is None:
        return None
    return {"status": plan_status(plan, today)}
