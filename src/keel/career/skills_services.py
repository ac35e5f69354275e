"""Skills and work logs: the rows behind ``keel.career.rules.skills``. This module stores
skills and logged work, gathers a worker's jobs in one currency and hands them to the
rules; every figure the skills page shows comes from there.

Jobs
    A work log is a job: its skills, its income and its minutes. Figures are per currency
    (the page offers each currency the worker has logged work in, the home currency first);
    logs in another currency are left out, never converted. A log may point at the contract
    milestone or the offer payment its money came from; when it does and no income is
    typed, the income is what the milestone released or what the payment was.

Peer figures (anonymised, opt-in)
    Peers are every other worker who opted in (``SkillSharing``). For each exact
    combination of skills, each opted-in peer's own ceiling in the currency is taken (the
    rules' ceiling: it needs three of their jobs); the figure is the lower median of those
    ceilings and is used only when at least ``rules.MIN_PEERS`` (5) peers stand behind it.
    A worker sees peer figures only when they opted in themselves, and no figure names,
    counts jobs of, or shows the rate of any one peer. Skill names are lowercase and
    trimmed so that "Copywriting" and "copywriting " are the same skill across workers.

Reputation
    The day each of the worker's verified testimonials was written is its verification
    day; ``rules.rate_vs_reputation`` says whether job rates rise with their number.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from keel.accounts.models import User
from keel.money import MoneyError, get_currency

from .errors import CareerError
from .models import Milestone, OfferPayment, Skill, SkillSharing, Testimonial, WorkLog
from .rules import skills as rules

MAX_MINUTES = 24 * 60 * 31  # a month of round-the-clock work is the most one log can hold


def normalise(name: object) -> str:
    """A skill's name as stored: trimmed, inner spaces collapsed, lowercase."""
    text = " ".join(str(name or "").split()).lower()
    if not text:
        raise CareerError("name: a skill needs a name", field="name", code="required")
    if len(text) > 60:
        raise CareerError("name: at most 60 characters", field="name", code="too_long")
    if "," in text or "+" in text:
        raise CareerError(
            "name: one skill at a time (no commas or plus signs)", field="name", code="invalid"
        )
    return text


def _currency(code: object) -> str:
    try:
        return get_currency(str(code or "").upper()).code
    except MoneyError as exc:
        raise CareerError(f"currency: {exc}", field="currency", code="invalid") from None


# ---------------------------------------------------------------------------- writes


def save_skill(
    worker: User, *, name: str, level: int, acquired_on: date | None = None, key: str = ""
) -> Skill:
    """Add a skill, or change the level and date of one the worker already has."""
    if key:
        existing = Skill.objects.filter(worker=worker, request_key=key).first()
        if existing is not None:
            return existing
    checked = normalise(name)
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 5:
        raise CareerError("level: from 1 to 5", field="level", code="out_of_range")
    if acquired_on is not None and acquired_on > timezone.localdate():
        raise CareerError("acquired_on: not in the future", field="acquired_on", code="future")
    skill = Skill.objects.filter(worker=worker, name=checked).first()
    if skill is None:
        skill = Skill(worker=worker, name=checked, request_key=key)
    skill.level = level
    skill.acquired_on = acquired_on
    try:
        with transaction.atomic():
            skill.save()
    except IntegrityError:  # the same skill added at the same moment
        return Skill.objects.get(worker=worker, name=checked)
    return skill


def _linked_income(
    worker: User, milestone: Milestone | None, payment: OfferPayment | None, currency: str
) -> int | None:
    if milestone is not None and payment is not None:
        raise CareerError(
            "milestone: link a milestone or an offer payment, not both",
            field="milestone",
            code="both",
        )
    if milestone is not None:
        if milestone.contract.worker_id != worker.pk:
            raise CareerError("milestone: not one of yours", field="milestone", code="missing")
        if milestone.contract.currency != currency:
            raise CareerError(
                f"currency: the milestone is in {milestone.contract.currency}",
                field="currency",
                code="currency",
            )
        return milestone.released
    if payment is not None:
        if payment.offer.worker_id != worker.pk:
            raise CareerError(
                "offer_payment: not one of yours", field="offer_payment", code="missing"
            )
        if payment.currency != currency:
            raise CareerError(
                f"currency: the payment is in {payment.currency}", field="currency", code="currency"
            )
        return payment.amount
    return None


def log_work(
    worker: User,
    *,
    done_on: date,
    minutes: int,
    currency: str,
    skills: Sequence[Skill],
    income: int | None = None,
    client_name: str = "",
    milestone: Milestone | None = None,
    offer_payment: OfferPayment | None = None,
    key: str = "",
) -> WorkLog:
    """Log a piece of work; ``skills`` must be the worker's own (at least one)."""
    if key:
        existing = WorkLog.objects.filter(worker=worker, request_key=key).first()
        if existing is not None:
            return existing
    currency = _currency(currency)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
        raise CareerError("minutes: at least 1", field="minutes", code="out_of_range")
    if minutes > MAX_MINUTES:
        raise CareerError(
            f"minutes: at most {MAX_MINUTES} in one log", field="minutes", code="out_of_range"
        )
    if done_on > timezone.localdate():
        raise CareerError("done_on: not in the future", field="done_on", code="future")
    chosen = list(dict.fromkeys(skills))
    if not chosen:
        raise CareerError("skills: choose at least one skill", field="skills", code="required")
    if any(skill.worker_id != worker.pk for skill in chosen):
        raise CareerError("skills: not your skill", field="skills", code="missing")
    linked = _linked_income(worker, milestone, offer_payment, currency)
    if income is None:
        income = linked
    if income is None:
        raise CareerError("income: what did it pay?", field="income", code="required")
    if isinstance(income, bool) or not isinstance(income, int) or income < 0:
        raise CareerError("income: zero or more", field="income", code="out_of_range")
    client = str(client_name or "").strip()[:200]
    with transaction.atomic():
        log = WorkLog.objects.create(
            worker=worker,
            done_on=done_on,
            minutes=minutes,
            income=income,
            currency=currency,
            client_name=client,
            milestone=milestone,
            offer_payment=offer_payment,
            request_key=key,
        )
        log.skills.set(chosen)
    return log


def set_sharing(worker: User, opted_in: bool) -> SkillSharing:
    row, _ = SkillSharing.objects.get_or_create(worker=worker)
    row.opted_in = bool(opted_in)
    row.updated_at = timezone.now()
    row.save(update_fields=["opted_in", "updated_at"])
    return row


def is_sharing(worker: User) -> bool:
    return SkillSharing.objects.filter(worker=worker, opted_in=True).exists()


# ---------------------------------------------------------------------------- reads


def currencies(worker: User) -> list[str]:
    """The currencies the worker has logged work in, the home currency first."""
    found = set(WorkLog.objects.filter(worker=worker).values_list("currency", flat=True))
    home = worker.home_currency
    return [home, *sorted(found - {home})] if home in found else sorted(found)


def _jobs_by_worker(logs: Iterable[WorkLog]) -> dict[int, list[rules.Job]]:
    out: dict[int, list[rules.Job]] = defaultdict(list)
    for log in logs:
        names = [skill.name for skill in log.skills.all()]
        if not names:
            continue
        out[log.worker_id].append(
            rules.Job(frozenset(names), log.income, log.minutes, log.done_on, log.client_name)
        )
    return out


def jobs_of(worker: User, currency: str) -> list[rules.Job]:
    logs = WorkLog.objects.filter(worker=worker, currency=currency).prefetch_related("skills")
    return _jobs_by_worker(logs).get(worker.pk, [])


def peer_figures(worker: User, currency: str) -> list[rules.PeerFigure]:
    """The anonymised figures the worker may see (module docstring): none unless they
    opted in; only combinations at least ``MIN_PEERS`` opted-in peers reach a ceiling in."""
    if not is_sharing(worker):
        return []
    peers = SkillSharing.objects.filter(opted_in=True).exclude(worker=worker)
    logs = WorkLog.objects.filter(
        worker__in=peers.values("worker"), currency=currency
    ).prefetch_related("skills")
    per_combo: dict[rules.Combination, list[int]] = defaultdict(list)
    for jobs in _jobs_by_worker(logs).values():
        for combo, entry in rules.ceilings(jobs).items():
            if entry.ceiling is not None:
                per_combo[combo].append(entry.ceiling)
    figures = []
    for combo, values in per_combo.items():
        if len(values) >= rules.MIN_PEERS:
            values.sort()
            figures.append(rules.PeerFigure(combo, values[(len(values) - 1) // 2], len(values)))
    figures.sort(key=lambda f: rules.combination_name(f.combination))
    return figures


def main_combination(jobs: Sequence[rules.Job]) -> rules.Combination | None:
    """The combination the worker works in most: most jobs, then most minutes, then name."""
    table = rules.rates_by_combination(jobs)
    if not table:
        return None
    return min(
        table,
        key=lambda c: (-table[c].jobs, -table[c].minutes, rules.combination_name(c)),
    )


def verified_days(worker: User) -> list[date]:
    return [
        timezone.localdate(at)
        for at in Testimonial.objects.filter(request__worker=worker, verified=True).values_list(
            "created_at", flat=True
        )
    ]


@dataclass(frozen=True, slots=True)
class RateRow:
    name: str
    rate: int
    income: int
    minutes: int
    jobs: int
    ceiling: int | None = None
    best_job_rate: int | None = None

    @property
    def hours_text(self) -> str:
        hours, minutes = divmod(self.minutes, 60)
        return f"{hours}h{minutes:02d}"


@dataclass(frozen=True, slots=True)
class SkillsReport:
    currency: str
    jobs: int
    by_skill: list[RateRow]
    by_combination: list[RateRow]
    history_by_skill: dict[str, tuple[rules.MonthlyRate, ...]]
    history_by_client: dict[str, tuple[rules.MonthlyRate, ...]]
    suggestion: rules.SkillSuggestion | None
    reputation: rules.ReputationTrend
    sharing: bool
    peer_figures: int


def skills_report(worker: User, currency: str) -> SkillsReport:
    """Everything the skills page shows for one currency (module docstring)."""
    currency = _currency(currency)
    jobs = jobs_of(worker, currency)
    skill_rates = rules.rates_by_skill(jobs)
    by_skill = sorted(
        (RateRow(name, r.rate, r.income, r.minutes, r.jobs) for name, r in skill_rates.items()),
        key=lambda row: (-row.rate, row.name),
    )
    by_combination = sorted(
        (
            RateRow(
                rules.combination_name(combo),
                c.effective.rate,
                c.effective.income,
                c.effective.minutes,
                c.effective.jobs,
                c.ceiling,
                c.best_job_rate,
            )
            for combo, c in rules.ceilings(jobs).items()
        ),
        key=lambda row: (-(row.ceiling or -1), -row.rate, row.name),
    )
    sharing = is_sharing(worker)
    figures = peer_figures(worker, currency) if sharing else []
    current = main_combination(jobs)
    suggestion = rules.suggest_adjacent_skill(current, jobs, currency, figures) if current else None
    by_client = rules.rate_history([j for j in jobs if j.client], "client")
    return SkillsReport(
        currency=currency,
        jobs=len(jobs),
        by_skill=by_skill,
        by_combination=by_combination,
        history_by_skill=rules.rate_history(jobs, "skill"),
        history_by_client=by_client,
        suggestion=suggestion,
        reputation=rules.rate_vs_reputation(jobs, verified_days(worker), currency),
        sharing=sharing,
        peer_figures=len(figures),
    )


def recent_logs(worker: User, limit: int = 50) -> list[WorkLog]:
    return list(
        WorkLog.objects.filter(worker=worker)
        .prefetch_related("skills")
        .order_by("-done_on", "-id")[:limit]
    )


def link_choices(worker: User) -> dict[str, Any]:
    """The milestones (released) and offer payments a log may point at."""
    return {
        "milestones": Milestone.objects.filter(contract__worker=worker, released__gt=0)
        .select_related("contract")
        .order_by("-contract__created_at", "sequence"),
        "payments": OfferPayment.objects.filter(offer__worker=worker).select_related("offer"),
    }
