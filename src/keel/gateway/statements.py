"""What the worker's benefits pages and monthly statements show, read from the gateway's
rows and the ledger, and the statement as a PDF.

``monthly_statement`` assembles one month once, as plain dataclasses; the statement page
and the PDF both render that same object, so they cannot disagree. The month reconciles
exactly: for every currency, the buckets' balance at the start of the month plus every
movement booked on them in the month (grouped by the kind of journal) is the balance at
the end — both read from the ledger's legs, never recomputed from the gateway's rows.

``benefits_overview`` gathers what the benefits page shows; ``contributions_figures``
turns the contributions by platform and month into plotly figures (plain dicts) that the
page embeds with ``json_script``, the way the income dashboard does.
"""

from __future__ import annotations

import io
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from xml.sax.saxutils import escape

from django.db.models import Count, Sum
from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import letter
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from keel.accounts.models import User
from keel.ledger.models import Journal, Leg
from keel.money import format_amount, from_minor

from . import services
from .models import (
    BenefitUse,
    ContributionPolicy,
    EarningsEvent,
    EventCorrection,
    EventStatus,
    UseKind,
    WithholdingConsent,
    WorkerLink,
)
from .rules import buckets as bucket_rules
from .rules.policy import Policy

Figure = dict[str, Any]

# Events that reached the worker's account (the others are below a threshold, or held).
PAID = (EventStatus.CREDITED, EventStatus.RELEASED)
RECENT_CONTRIBUTIONS = 20
RECENT_CORRECTIONS = 5

# How each kind of journal on the buckets reads on a statement.
MOVEMENT_LABELS: dict[str, str] = {
    "contribution": "Contributions from platforms",
    "contribution_release": "Released from suspense",
    "contribution_correction": "Corrections by platforms",
    "benefit_withholding": "Withheld from your income",
    **{f"benefit_{kind.value}": str(kind.label) for kind in UseKind},
}
MOVEMENT_ORDER = tuple(MOVEMENT_LABELS)


def money_text(minor: int, currency: str) -> str:
    """The amount as the ``money`` template filter prints it, with a plain space after a
    letter symbol ("CHF 12.00")."""
    return re.sub(r"(?<=[A-Za-z])(?=\d)", " ", format_amount(minor, currency, symbol=True))


def month_label(day: date) -> str:
    return f"{day:%B %Y}"


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """First and last day of a calendar month; ValueError for a month that is not one."""
    first = date(year, month, 1)
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return first, following - timedelta(days=1)


# ---------------------------------------------------------------------------- statement


@dataclass(frozen=True, slots=True)
class StatementEvent:
    occurred_on: date
    event_id: str
    description: str
    kind: str
    gross: int
    tips: int
    bonus: int
    jobs: int
    contribution: int
    currency: str
    policy_version: int
    policy_name: str
    status: str
    released_on: date | None
    explanation: str

    @property
    def earnings(self) -> int:
        return self.gross + self.tips + self.bonus

    @property
    def status_text(self) -> str:
        if self.status == EventStatus.RELEASED:
            when = f" on {self.released_on:%b} {self.released_on.day}" if self.released_on else ""
            return f"held until you linked, released{when}"
        if self.status == EventStatus.NONE:
            return "no contribution"
        return "credited"


@dataclass(slots=True)
class Totals:
    """Sums over events in one currency."""

    currency: str
    events: int = 0
    gross: int = 0
    tips: int = 0
    bonus: int = 0
    jobs: int = 0
    contribution: int = 0

    @property
    def earnings(self) -> int:
        return self.gross + self.tips + self.bonus

    def add(self, event: StatementEvent) -> None:
        self.events += 1
        self.gross += event.gross
        self.tips += event.tips
        self.bonus += event.bonus
        self.jobs += event.jobs
        self.contribution += event.contribution


@dataclass(frozen=True, slots=True)
class PolicyUsed:
    version: int
    name: str
    effective_from: date

    @property
    def text(self) -> str:
        return f"v{self.version} {self.name} (in effect from {self.effective_from.isoformat()})"


@dataclass(frozen=True, slots=True)
class PlatformSection:
    platform: str
    events: tuple[StatementEvent, ...]
    totals: tuple[Totals, ...]
    policies: tuple[PolicyUsed, ...]


@dataclass(frozen=True, slots=True)
class Release:
    released_on: date
    platform: str
    worker_ref: str
    currency: str
    amount: int
    events: int


@dataclass(frozen=True, slots=True)
class CorrectionLine:
    """A platform's correction of one of its events, as the worker reads it: what it
    added to their buckets or took back (negative), and why."""

    recorded_on: date
    platform: str
    event_id: str
    occurred_on: date
    reason: str
    currency: str
    gross_before: int
    gross_after: int
    contribution_before: int
    contribution_after: int
    amount: int
    shortfall: int


@dataclass(frozen=True, slots=True)
class UseLine:
    used_on: date
    kind: str
    label: str
    bucket: str
    amount: int
    currency: str
    provider: str
    note: str


@dataclass(frozen=True, slots=True)
class BucketLine:
    bucket: str
    label: str
    currency: str
    start: int
    end: int

    @property
    def change(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Movement:
    kind: str
    label: str
    currency: str
    amount: int


@dataclass(frozen=True, slots=True)
class CurrencySummary:
    """One currency's reconciliation: start + sum(movements) == end."""

    currency: str
    start: int
    end: int
    movements: tuple[Movement, ...]

    @property
    def moved(self) -> int:
        return sum(m.amount for m in self.movements)


@dataclass(frozen=True, slots=True)
class MonthlyStatement:
    worker_name: str
    worker_email: str
    first_day: date
    last_day: date
    platforms: tuple[PlatformSection, ...]
    totals: tuple[Totals, ...]
    releases: tuple[Release, ...]
    uses: tuple[UseLine, ...]
    buckets: tuple[BucketLine, ...]
    summaries: tuple[CurrencySummary, ...]
    corrections: tuple[CorrectionLine, ...] = ()

    @property
    def label(self) -> str:
        return month_label(self.first_day)

    @property
    def slug(self) -> str:
        return f"{self.first_day:%Y-%m}"

    @property
    def has_activity(self) -> bool:
        return bool(
            self.platforms
            or self.releases
            or self.uses
            or self.corrections
            or any(s.movements for s in self.summaries)
        )


def _bucket_legs(worker: User) -> Any:
    return Leg.objects.filter(
        account__owner_type="worker",
        account__owner_id=worker.pk,
        account__code__startswith=f"worker:{worker.pk}:benefits:",
        is_pending=False,
    )


def _statement_event(event: EarningsEvent, released: dict[int, date]) -> StatementEvent:
    return StatementEvent(
        occurred_on=event.occurred_on,
        event_id=event.event_id,
        description=event.description,
        kind=event.kind,
        gross=event.gross,
        tips=event.tips,
        bonus=event.bonus,
        jobs=event.jobs,
        contribution=event.contribution,
        currency=event.currency,
        policy_version=event.policy.version,
        policy_name=event.policy.name,
        status=event.status,
        released_on=released.get(event.released_journal_id or 0),
        explanation=event.explanation,
    )


def _platform_sections(worker: User, first: date, last: date) -> list[PlatformSection]:
    events = services.events_for_worker(worker, first, last)
    release_ids = {e.released_journal_id for e in events if e.released_journal_id}
    released = dict(Journal.objects.filter(id__in=release_ids).values_list("id", "effective_date"))
    grouped: dict[str, list[EarningsEvent]] = defaultdict(list)
    for event in events:
        grouped[event.platform.name].append(event)
    sections = []
    for name in sorted(grouped, key=str.casefold):
        rows = [_statement_event(e, released) for e in grouped[name]]
        totals: dict[str, Totals] = {}
        for row in rows:
            totals.setdefault(row.currency, Totals(row.currency)).add(row)
        versions: dict[int, ContributionPolicy] = {e.policy.pk: e.policy for e in grouped[name]}
        sections.append(
            PlatformSection(
                platform=name,
                events=tuple(rows),
                totals=tuple(totals[c] for c in sorted(totals)),
                policies=tuple(
                    PolicyUsed(v.version, v.name, v.effective_from)
                    for v in sorted(versions.values(), key=lambda v: v.version)
                ),
            )
        )
    return sections


def _releases(worker: User, first: date, last: date) -> list[Release]:
    journals = dict(
        Journal.objects.filter(
            id__in=EarningsEvent.objects.filter(worker=worker, status=EventStatus.RELEASED).values(
                "released_journal_id"
            ),
            effective_date__gte=first,
            effective_date__lte=last,
        ).values_list("id", "effective_date")
    )
    rows = (
        EarningsEvent.objects.filter(worker=worker, released_journal_id__in=list(journals))
        .values("released_journal_id", "platform__name", "worker_ref", "currency")
        .annotate(amount=Sum("contribution"), events=Count("id"))
    )
    releases = [
        Release(
            released_on=journals[row["released_journal_id"]],
            platform=row["platform__name"],
            worker_ref=row["worker_ref"],
            currency=row["currency"],
            amount=int(row["amount"] or 0),
            events=int(row["events"]),
        )
        for row in rows
    ]
    return sorted(releases, key=lambda r: (r.released_on, r.platform, r.currency))


def corrections_for_worker(
    worker: User, first: date | None = None, last: date | None = None
) -> list[CorrectionLine]:
    """The corrections that moved (or could not move) the worker's own money, oldest
    first: those booked on their buckets, and those that found nothing left to take. A
    correction made while the money was held in suspense reached the worker inside its
    release."""
    rows = EventCorrection.objects.filter(
        worker=worker, status__in=(EventStatus.CREDITED, EventStatus.NONE)
    ).select_related("event", "platform")
    lines = []
    for row in rows.order_by("recorded_at", "id"):
        recorded_on = timezone.localdate(row.recorded_at)
        if (first is not None and recorded_on < first) or (last is not None and recorded_on > last):
            continue
        event = row.event
        # The figures it corrected: the event's, or those of the correction before it.
        gross_before = (
            event.gross
            if row.sequence == 1
            else EventCorrection.objects.values_list("gross", flat=True).get(
                event=event, sequence=row.sequence - 1
            )
        )
        lines.append(
            CorrectionLine(
                recorded_on=recorded_on,
                platform=row.platform.name,
                event_id=event.event_id,
                occurred_on=event.occurred_on,
                reason=row.reason,
                currency=event.currency,
                gross_before=gross_before,
                gross_after=row.gross,
                contribution_before=row.contribution - row.difference,
                contribution_after=row.contribution,
                amount=row.booked,
                shortfall=row.shortfall,
            )
        )
    return lines


def _uses(worker: User, first: date, last: date) -> list[UseLine]:
    uses = BenefitUse.objects.filter(worker=worker, used_on__gte=first, used_on__lte=last)
    return [
        UseLine(
            used_on=use.used_on,
            kind=use.kind,
            label=str(UseKind(use.kind).label),
            bucket=bucket_rules.BUCKET_LABELS.get(use.bucket, use.bucket),
            amount=use.amount,
            currency=use.currency,
            provider=use.provider,
            note=use.note,
        )
        for use in uses.order_by("used_on", "id")
    ]


def _movement_label(kind: str) -> str:
    return MOVEMENT_LABELS.get(kind) or kind.replace("_", " ").capitalize()


def _summaries(
    worker: User, first: date, last: date, buckets: Sequence[BucketLine]
) -> list[CurrencySummary]:
    sums = (
        _bucket_legs(worker)
        .filter(effective_date__gte=first, effective_date__lte=last)
        .values("journal__kind", "currency")
        .annotate(total=Sum("amount"))
    )
    moved: dict[str, list[Movement]] = defaultdict(list)
    for row in sums:
        # A bucket is a liability: a credit (negative leg) adds to what the worker holds.
        amount = -int(row["total"] or 0)
        if amount:
            kind = row["journal__kind"]
            moved[row["currency"]].append(
                Movement(kind, _movement_label(kind), row["currency"], amount)
            )
    order = {kind: i for i, kind in enumerate(MOVEMENT_ORDER)}
    summaries = []
    currencies = list(dict.fromkeys(b.currency for b in buckets))
    for currency in currencies + sorted(set(moved) - set(currencies)):
        in_currency = [b for b in buckets if b.currency == currency]
        summaries.append(
            CurrencySummary(
                currency=currency,
                start=sum(b.start for b in in_currency),
                end=sum(b.end for b in in_currency),
                movements=tuple(
                    sorted(moved[currency], key=lambda m: (order.get(m.kind, 99), m.kind))
                ),
            )
        )
    return summaries


def monthly_statement(worker: User, year: int, month: int) -> MonthlyStatement:
    """Everything that happened to the worker's benefits in one calendar month."""
    first, last = month_bounds(year, month)
    start = {
        (b.bucket, b.currency): b.balance
        for b in services.bucket_balances(worker, first - timedelta(days=1))
    }
    buckets = [
        BucketLine(b.bucket, b.label, b.currency, start.get((b.bucket, b.currency), 0), b.balance)
        for b in services.bucket_balances(worker, last)
    ]
    sections = _platform_sections(worker, first, last)
    totals: dict[str, Totals] = {}
    for section in sections:
        for event in section.events:
            totals.setdefault(event.currency, Totals(event.currency)).add(event)
    return MonthlyStatement(
        worker_name=worker.name or worker.email,
        worker_email=worker.email,
        first_day=first,
        last_day=last,
        platforms=tuple(sections),
        totals=tuple(totals[c] for c in sorted(totals)),
        releases=tuple(_releases(worker, first, last)),
        uses=tuple(_uses(worker, first, last)),
        buckets=tuple(buckets),
        summaries=tuple(_summaries(worker, first, last, buckets)),
        corrections=tuple(corrections_for_worker(worker, first, last)),
    )


@dataclass(frozen=True, slots=True)
class StatementMonth:
    first_day: date
    contributions: tuple[tuple[str, int], ...]  # (currency, amount) of the month's events
    events: int

    @property
    def label(self) -> str:
        return month_label(self.first_day)

    @property
    def slug(self) -> str:
        return f"{self.first_day:%Y-%m}"


def statement_months(worker: User) -> list[StatementMonth]:
    """Every month with something on the worker's statement, newest first."""
    months: set[date] = set()
    months.update(EarningsEvent.objects.filter(worker=worker).dates("occurred_on", "month"))
    months.update(_bucket_legs(worker).dates("effective_date", "month"))
    months.update(BenefitUse.objects.filter(worker=worker).dates("used_on", "month"))
    sums: dict[date, dict[str, int]] = defaultdict(dict)
    counts: dict[date, int] = defaultdict(int)
    for row in (
        EarningsEvent.objects.filter(worker=worker)
        .values("period_month", "currency")
        .annotate(total=Sum("contribution"), events=Count("id"))
    ):
        sums[row["period_month"]][row["currency"]] = int(row["total"] or 0)
        counts[row["period_month"]] += int(row["events"])
    return [
        StatementMonth(m, tuple(sorted(sums[m].items())), counts[m])
        for m in sorted(months, reverse=True)
    ]


# ---------------------------------------------------------------------------- overview


@dataclass(frozen=True, slots=True)
class CurrencyBalances:
    currency: str
    buckets: tuple[services.BucketBalance, ...]

    @property
    def total(self) -> int:
        return sum(b.balance for b in self.buckets)


@dataclass(frozen=True, slots=True)
class PolicyText:
    """One version of a platform's policy in its own words."""

    version: int
    name: str
    effective_from: date
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LinkedPolicy:
    platform: str
    current: PolicyText | None  # None while the first version has not started yet
    # Versions published to start after today, soonest first: a worker learns of a cut in
    # their contributions before it applies, not from their statement afterwards.
    upcoming: tuple[PolicyText, ...]


@dataclass(frozen=True, slots=True)
class MonthlyContribution:
    month: date
    platform: str
    currency: str
    amount: int


@dataclass(frozen=True)
class BenefitsOverview:
    balances: tuple[CurrencyBalances, ...]
    allocation: dict[str, int]
    links: tuple[WorkerLink, ...]
    invitations: tuple[WorkerLink, ...]
    policies: tuple[LinkedPolicy, ...]
    contributions: tuple[MonthlyContribution, ...]
    recent: tuple[EarningsEvent, ...]
    uses: tuple[BenefitUse, ...]
    withholding: WithholdingConsent | None
    time_off_units: dict[str, int]  # currency -> unit, for the currencies that have one
    currencies: tuple[str, ...]
    corrections: tuple[CorrectionLine, ...] = ()  # the latest, newest first


def linked_policies(links: Iterable[WorkerLink], on: date) -> list[LinkedPolicy]:
    """For each platform with an active link (once, however many of the worker's
    references it links): the policy in effect on ``on`` and every version published to
    start later, in the platform's own words."""
    out = []
    seen: set[int] = set()
    for link in links:
        if link.status != "active" or link.platform_id in seen:
            continue
        seen.add(link.platform_id)
        current = services.current_policy(link.platform, on)
        upcoming = list(
            link.platform.policies.filter(effective_from__gt=on).order_by("effective_from")
        )
        if current is None and not upcoming:
            continue
        out.append(
            LinkedPolicy(
                platform=link.platform.name,
                current=None if current is None else _policy_text(current),
                upcoming=tuple(_policy_text(version) for version in upcoming),
            )
        )
    return out


def _policy_text(version: ContributionPolicy) -> PolicyText:
    return PolicyText(
        version=version.version,
        name=version.name,
        effective_from=version.effective_from,
        lines=tuple(Policy.from_dict(version.terms).describe()),
    )


def contributions_by_month(worker: User) -> list[MonthlyContribution]:
    """Contributions that reached the worker, by platform and the month of the work, as
    platforms' corrections left them."""
    totals: dict[tuple[date, str, str], int] = defaultdict(int)
    for month, platform, currency, total in (
        EarningsEvent.objects.filter(worker=worker, status__in=PAID)
        .values_list("period_month", "platform__name", "currency")
        .annotate(total=Sum("contribution"))
        .values_list("period_month", "platform__name", "currency", "total")
    ):
        totals[(month, platform, currency)] += int(total or 0)
    for month, platform, currency, total in (
        EventCorrection.objects.filter(worker=worker, status__in=PAID)
        .values_list("event__period_month", "platform__name", "event__currency")
        .annotate(total=Sum("booked"))
        .values_list("event__period_month", "platform__name", "event__currency", "total")
    ):
        totals[(month, platform, currency)] += int(total or 0)
    return [
        MonthlyContribution(month, platform, currency, amount)
        for (month, platform, currency), amount in sorted(totals.items())
    ]


def recent_contributions(worker: User, limit: int = RECENT_CONTRIBUTIONS) -> list[EarningsEvent]:
    return list(
        EarningsEvent.objects.filter(worker=worker, status__in=PAID, contribution__gt=0)
        .select_related("platform", "policy")
        .order_by("-occurred_at", "-id")[:limit]
    )


def benefits_overview(worker: User) -> BenefitsOverview:
    services.benefits_account(worker)
    by_currency: dict[str, list[services.BucketBalance]] = defaultdict(list)
    for balance in services.bucket_balances(worker):
        by_currency[balance.currency].append(balance)
    links = services.links_of(worker)
    units = {
        currency: unit
        for currency in tuple(by_currency) or (worker.home_currency,)
        if (unit := services.time_off_unit_for(worker, currency)) is not None
    }
    return BenefitsOverview(
        balances=tuple(CurrencyBalances(c, tuple(b)) for c, b in by_currency.items()),
        allocation=services.allocation_of(worker),
        links=tuple(links),
        invitations=tuple(services.invitations_for(worker)),
        policies=tuple(linked_policies(links, timezone.localdate())),
        contributions=tuple(contributions_by_month(worker)),
        recent=tuple(recent_contributions(worker)),
        uses=tuple(services.uses_of(worker)),
        withholding=services.active_withholding(worker),
        time_off_units=units,
        currencies=tuple(by_currency),
        corrections=tuple(reversed(corrections_for_worker(worker)[-RECENT_CORRECTIONS:])),
    )


# ---------------------------------------------------------------------------- chart

# Keel's teal and navy, then colours that stay distinct for red-green colour blindness.
PLATFORM_COLOURS = ("#12837b", "#24507c", "#d9892b", "#7a4fa0", "#5b8c2a", "#b42318")
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


def _months_between(first: date, last: date) -> list[date]:
    months = []
    day = first
    while day <= last:
        months.append(day)
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return months


def contributions_figures(rows: Sequence[MonthlyContribution]) -> dict[str, Figure]:
    """One stacked bar chart per currency: a bar per month (every month from the first to
    the last, so a quiet month shows as a gap), a colour per platform. y values are exact
    Decimal major units; the hover label is the formatted amount."""
    figures: dict[str, Figure] = {}
    for currency in sorted({r.currency for r in rows}):
        mine = [r for r in rows if r.currency == currency]
        months = _months_between(min(r.month for r in mine), max(r.month for r in mine))
        platforms = sorted({r.platform for r in mine}, key=str.casefold)
        amounts = {(r.month, r.platform): r.amount for r in mine}
        data = []
        for index, platform in enumerate(platforms):
            values = [amounts.get((m, platform), 0) for m in months]
            data.append(
                {
                    "type": "bar",
                    "name": platform,
                    "x": [m.isoformat() for m in months],
                    "y": [from_minor(v, currency) for v in values],
                    "customdata": [money_text(v, currency) for v in values],
                    "hovertemplate": "%{fullData.name}: %{customdata}<extra></extra>",
                    "marker": {"color": PLATFORM_COLOURS[index % len(PLATFORM_COLOURS)]},
                }
            )
        figures[currency] = {
            "data": data,
            "layout": {
                "barmode": "stack",
                "hovermode": "x unified",
                "margin": {"l": 8, "r": 8, "t": 8, "b": 8},
                "paper_bgcolor": "rgba(0,0,0,0)",
                "plot_bgcolor": "rgba(0,0,0,0)",
                "font": {"family": FONT, "size": 12, "color": "#1b2a3a"},
                "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
                "xaxis": {
                    "type": "date",
                    "tickformat": "%b %Y",
                    "dtick": "M1",
                    "automargin": True,
                    "fixedrange": True,
                },
                "yaxis": {
                    "title": {"text": currency},
                    "tickformat": "~s",
                    "automargin": True,
                    "gridcolor": "#e3e9ef",
                    "fixedrange": True,
                },
            },
        }
    return figures


# ---------------------------------------------------------------------------- PDF

NAVY = colors.HexColor("#1b2a3a")
GREY = colors.HexColor("#55636f")
RULE = colors.HexColor("#c9d3dd")
SHADE = colors.HexColor("#eef3f6")
PAGE = letter
MARGIN = 0.7 * inch


def _pdf_styles() -> dict[str, ParagraphStyle]:
    body = ParagraphStyle("body", fontName="Helvetica", fontSize=9, leading=12, textColor=NAVY)
    cell = ParagraphStyle("cell", parent=body, fontSize=8, leading=10)
    return {
        "title": ParagraphStyle(
            "title", parent=body, fontName="Helvetica-Bold", fontSize=18, leading=22
        ),
        "h2": ParagraphStyle(
            "h2",
            parent=body,
            fontName="Helvetica-Bold",
            fontSize=12,
            leading=15,
            spaceBefore=14,
            spaceAfter=5,
            keepWithNext=1,
        ),
        "h3": ParagraphStyle(
            "h3",
            parent=body,
            fontName="Helvetica-Bold",
            fontSize=10,
            leading=13,
            spaceBefore=8,
            spaceAfter=2,
            keepWithNext=1,
        ),
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=8, leading=10, textColor=GREY),
        # A policy line sits between a platform's name and its table: keep them together.
        "note": ParagraphStyle(
            "note", parent=body, fontSize=8, leading=10, textColor=GREY, keepWithNext=1
        ),
        "cell": cell,
        "cell_small": ParagraphStyle("cell_small", parent=cell, fontSize=7, textColor=GREY),
    }


def _table(
    rows: list[list[Any]], widths: Sequence[float], *, numeric_from: int, totals: int = 0
) -> Table:
    """A table with a shaded header row, numbers right-aligned from column `numeric_from`,
    and the last `totals` rows in bold under a rule."""
    table = Table(rows, colWidths=list(widths), repeatRows=1, hAlign="LEFT")
    style: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
        ("TEXTCOLOR", (0, 0), (-1, -1), NAVY),
        ("BACKGROUND", (0, 0), (-1, 0), SHADE),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, RULE),
        ("ALIGN", (numeric_from, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    if totals:
        style += [
            ("FONT", (0, -totals), (-1, -1), "Helvetica-Bold", 8),
            ("LINEABOVE", (0, -totals), (-1, -totals), 0.8, NAVY),
        ]
    table.setStyle(TableStyle(style))
    return table


def _day(day: date) -> str:
    return f"{day:%b} {day.day}, {day.year}"


def _pdf_story(statement: MonthlyStatement, issued: date | None) -> list[Flowable]:
    st = _pdf_styles()
    width = PAGE[0] - 2 * MARGIN
    story: list[Flowable] = [
        Paragraph(f"Benefits statement: {escape(statement.label)}", st["title"]),
        Spacer(1, 4),
        Paragraph(
            f"Portable benefits account of <b>{escape(statement.worker_name)}</b>"
            f" ({escape(statement.worker_email)})",
            st["body"],
        ),
        Paragraph(
            f"Period: {_day(statement.first_day)} to {_day(statement.last_day)}"
            + (f" · Issued {_day(issued)}" if issued else ""),
            st["body"],
        ),
        Paragraph(
            "Every amount is exact to the minor unit and in its own currency. Work is listed"
            " under the month it was done; what a platform paid before you linked it reached"
            " your buckets in the month it was released to you.",
            st["small"],
        ),
    ]

    story.append(Paragraph("Your buckets", st["h2"]))
    for summary in statement.summaries:
        lines = [b for b in statement.buckets if b.currency == summary.currency]
        rows: list[list[Any]] = [["Bucket", "Start of month", "End of month", "Change"]]
        rows += [
            [
                b.label,
                money_text(b.start, b.currency),
                money_text(b.end, b.currency),
                _signed(b.change, b.currency),
            ]
            for b in lines
        ]
        rows.append(
            [
                f"Total ({summary.currency})",
                money_text(summary.start, summary.currency),
                money_text(summary.end, summary.currency),
                _signed(summary.end - summary.start, summary.currency),
            ]
        )
        story.append(_table(rows, _split(width, (2.2, 1, 1, 1)), numeric_from=1, totals=1))
        story.append(Spacer(1, 6))
        moves: list[list[Any]] = [[f"How the balance changed ({summary.currency})", "Amount"]]
        moves.append(
            ["Balance at the start of the month", money_text(summary.start, summary.currency)]
        )
        moves += [[m.label, _signed(m.amount, m.currency)] for m in summary.movements]
        moves.append(["Balance at the end of the month", money_text(summary.end, summary.currency)])
        story.append(_table(moves, _split(width, (4.2, 1)), numeric_from=1, totals=1))
        story.append(Spacer(1, 4))

    story.append(Paragraph("What each platform paid", st["h2"]))
    if not statement.platforms:
        story.append(Paragraph("No platform reported work for you this month.", st["body"]))
    widths = _split(width, (0.75, 2.6, 0.8, 0.7, 0.7, 0.45, 0.9, 0.5))
    for section in statement.platforms:
        story.append(Paragraph(escape(section.platform), st["h3"]))
        for policy in section.policies:
            story.append(Paragraph("Policy " + escape(policy.text), st["note"]))
        rows = [["Date", "Work", "Gross", "Tips", "Bonus", "Jobs", "Contribution", "Policy"]]
        for event in section.events:
            work = escape(event.description or event.event_id)
            detail = escape(f"{event.event_id} · {event.status_text}")
            rows.append(
                [
                    _day(event.occurred_on),
                    [Paragraph(work, st["cell"]), Paragraph(detail, st["cell_small"])],
                    money_text(event.gross, event.currency),
                    money_text(event.tips, event.currency),
                    money_text(event.bonus, event.currency),
                    str(event.jobs),
                    money_text(event.contribution, event.currency),
                    f"v{event.policy_version}",
                ]
            )
        for total in section.totals:
            rows.append(_totals_row(f"Total ({total.currency})", total))
        story.append(_table(rows, widths, numeric_from=2, totals=len(section.totals)))
    if len(statement.platforms) > 1:
        story.append(Paragraph("All platforms", st["h3"]))
        rows = [["", "", "Gross", "Tips", "Bonus", "Jobs", "Contribution", ""]]
        rows += [_totals_row(f"Total ({t.currency})", t) for t in statement.totals]
        story.append(_table(rows, widths, numeric_from=2, totals=len(statement.totals)))

    story.append(Paragraph("Released from suspense", st["h2"]))
    if statement.releases:
        rows = [["Date", "Platform", "Your reference there", "Events", "Amount"]]
        rows += [
            [
                _day(r.released_on),
                Paragraph(escape(r.platform), st["cell"]),
                Paragraph(escape(r.worker_ref), st["cell"]),
                str(r.events),
                money_text(r.amount, r.currency),
            ]
            for r in statement.releases
        ]
        story.append(_table(rows, _split(width, (1, 1.6, 1.6, 0.6, 1)), numeric_from=3))
    else:
        story.append(Paragraph("Nothing was released from suspense this month.", st["body"]))

    if statement.corrections:
        story.append(Paragraph("Corrections by platforms", st["h2"]))
        rows = [["Date", "Platform and event", "Why", "Amount"]]
        rows += [
            [
                _day(c.recorded_on),
                Paragraph(
                    escape(
                        f"{c.platform} {c.event_id} of {c.occurred_on:%b} {c.occurred_on.day}:"
                        f" gross {money_text(c.gross_before, c.currency)} corrected to"
                        f" {money_text(c.gross_after, c.currency)}"
                    ),
                    st["cell"],
                ),
                Paragraph(
                    escape(
                        c.reason
                        + (
                            f" ({money_text(c.shortfall, c.currency)} you had already used"
                            " is not taken back)"
                            if c.shortfall
                            else ""
                        )
                    ),
                    st["cell"],
                ),
                _signed(c.amount, c.currency),
            ]
            for c in statement.corrections
        ]
        story.append(_table(rows, _split(width, (1, 2.4, 2.2, 1)), numeric_from=3))

    story.append(Paragraph("Uses", st["h2"]))
    if statement.uses:
        rows = [["Date", "Use", "Bucket", "Paid to", "Amount"]]
        rows += [
            [
                _day(u.used_on),
                Paragraph(escape(u.label + (f": {u.note}" if u.note else "")), st["cell"]),
                u.bucket,
                Paragraph(escape(u.provider or "you"), st["cell"]),
                money_text(u.amount, u.currency),
            ]
            for u in statement.uses
        ]
        story.append(_table(rows, _split(width, (1, 2.4, 1, 1.4, 1)), numeric_from=4))
    else:
        story.append(Paragraph("You used none of your benefits this month.", st["body"]))
    return story


def _totals_row(label: str, total: Totals) -> list[Any]:
    c = total.currency
    return [
        label,
        "",
        money_text(total.gross, c),
        money_text(total.tips, c),
        money_text(total.bonus, c),
        str(total.jobs),
        money_text(total.contribution, c),
        "",
    ]


def _signed(minor: int, currency: str) -> str:
    text = money_text(minor, currency)
    return "+" + text if minor > 0 else text


def _split(width: float, weights: Sequence[float]) -> list[float]:
    whole = sum(weights)
    return [width * w / whole for w in weights]


def render_pdf(statement: MonthlyStatement, *, issued: date | None = None) -> bytes:
    """The statement as a PDF: title, worker, period, tables with totals, and "Page n of
    m" on every page. reportlab's standard fonts, so no system library is needed, and
    ``invariant`` output: the same statement gives the same bytes."""
    footer = f"Keel · Benefits statement · {statement.label} · {statement.worker_name}"

    def build(total_pages: int) -> tuple[bytes, int]:
        buffer = io.BytesIO()
        pages = 0

        def draw_footer(canvas: Any, doc: Any) -> None:
            nonlocal pages
            pages = doc.page
            canvas.saveState()
            canvas.setStrokeColor(RULE)
            canvas.line(MARGIN, MARGIN - 12, PAGE[0] - MARGIN, MARGIN - 12)
            canvas.setFont("Helvetica", 7.5)
            canvas.setFillColor(GREY)
            canvas.drawString(MARGIN, MARGIN - 24, footer)
            canvas.drawRightString(
                PAGE[0] - MARGIN, MARGIN - 24, f"Page {doc.page} of {total_pages or doc.page}"
            )
            canvas.restoreState()

        doc = SimpleDocTemplate(
            buffer,
            pagesize=PAGE,
            leftMargin=MARGIN,
            rightMargin=MARGIN,
            topMargin=MARGIN,
            bottomMargin=MARGIN,
            title=f"Benefits statement {statement.label}",
            author=statement.worker_name,
            subject=f"Portable benefits account, {statement.label}",
            creator="Keel",
            invariant=1,
        )
        doc.build(_pdf_story(statement, issued), onFirstPage=draw_footer, onLaterPages=draw_footer)
        return buffer.getvalue(), pages

    # The first pass counts the pages; the second prints "of m" with the count.
    _, pages = build(0)
    pdf, _ = build(pages)
    return pdf
