"""What the income dashboard and `keel report` show, computed from the worker's books.

Reads only: income items (each backed by a ledger journal) aggregated in the database, the
balances of the worker's cash, buffer and tax accounts, and their settings. The rules in
`keel.income.rules` do the arithmetic. Income other domains have committed to the worker
(an accepted micro-contract bundle) comes in through `keel.income.commitments`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Sum
from django.db.models.functions import TruncMonth

from keel.accounts.models import User
from keel.ledger import services as ledger
from keel.ledger.models import Account

from .commitments import Commitment, commitments_for, monthly_amount, scheduled_items
from .models import IncomeItem, ItemKind
from .rules import analytics, forecast, smoothing, tax
from .rules.analytics import IncomeFact, Month
from .services import income_settings

WINDOW_MONTHS = 12
FORECAST_SEED = 90
FORECAST_HORIZON = 90


@dataclass(frozen=True)
class BufferStatus:
    balance: int
    target: int
    months_covered: float | None
    runs_dry_on: date | None


@dataclass(frozen=True)
class TaxStatus:
    enabled: bool
    rate_bps: int
    set_aside_balance: int
    year_net_earnings: int
    self_employment_tax: tax.SETax
    due_dates: list[date]
    next_due: date | None
    # Set aside from income in other currencies, each in its own currency (never added
    # to the home balance): a payment in USD sets aside USD on a EUR worker's books.
    set_aside_other: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class IncomeReport:
    worker_id: int
    currency: str
    as_of: date
    stability: analytics.StabilitySummary
    forecast: forecast.Forecast
    salary: smoothing.SalaryRecommendation
    current_salary: int
    buffer: BufferStatus
    cash: int
    essential_expenses: int
    tax: TaxStatus
    source_names: dict[str, str]
    # Committed payments due over the forecast's horizon (see keel.income.commitments).
    commitments: tuple[Commitment, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        s, f = self.stability, self.forecast
        return {
            "worker": self.worker_id,
            "currency": self.currency,
            "as_of": self.as_of.isoformat(),
            "window": [month(s.months[0]), month(s.months[-1])],
            "income_by_month": {month(m): v for m, v in s.monthly.items()},
            "income_by_stream_kind": {
                kind: {month(m): v for m, v in series.items()}
                for kind, series in s.by_stream_kind.items()
            },
            "income_by_source": {
                self.source_names.get(k, k): v for k, v in s.by_source_total.items()
            },
            "total_income": s.total_income,
            "average_month": s.average_month,
            "median_month": s.median_month,
            "coefficient_of_variation": s.coefficient_of_variation,
            "spikes_and_dips": [
                {
                    "month": month(flag.month),
                    "kind": flag.kind,
                    "amount": flag.amount,
                    "deviation_bps": flag.deviation_bps,
                }
                for flag in s.flags
            ],
            "largest_source": None
            if s.concentration is None
            else {
                "source": self.source_names.get(
                    s.concentration.largest_source, s.concentration.largest_source
                ),
                "share": s.concentration.largest_share,
                "effective_sources": s.concentration.effective_sources,
            },
            "recurring_baseline_monthly": s.recurring_baseline_monthly,
            "committed_monthly": s.committed_monthly,
            "commitments": [
                {
                    "due_on": c.due_on.isoformat(),
                    "amount": c.amount,
                    "key": c.key,
                    "label": c.label,
                }
                for c in self.commitments
            ],
            "baseline_coverage": s.baseline_coverage,
            "runway_months": s.runway_months,
            "savings_rate": s.savings_rate,
            "trend": {
                "slope_per_month": s.trend.slope_per_month,
                "relative_change": s.trend.relative_change,
                "direction": s.trend.direction,
            },
            "forecast": {
                "start": f.start.isoformat(),
                "days": len(f.days),
                "income_p10": f.income_p10[-1],
                "income_p50": f.income_p50[-1],
                "income_p90": f.income_p90[-1],
                "lowest_balance": f.lowest_balance,
                "lowest_balance_on": f.lowest_balance_on.isoformat(),
                "shortfall_probabilities": list(f.shortfall_probabilities),
                "monthly_median_income": f.monthly_median_income,
            },
            "salary": {
                "recommended": self.salary.amount,
                "current": self.current_salary,
                "rule": self.salary.rule_explanation,
            },
            "buffer": {
                "balance": self.buffer.balance,
                "target": self.buffer.target,
                "months_covered": self.buffer.months_covered,
                "runs_dry_on": self.buffer.runs_dry_on.isoformat()
                if self.buffer.runs_dry_on
                else None,
            },
            "cash": self.cash,
            "essential_expenses": self.essential_expenses,
            "tax": {
                "enabled": self.tax.enabled,
                "rate_bps": self.tax.rate_bps,
                "set_aside_balance": self.tax.set_aside_balance,
                "set_aside_other": dict(self.tax.set_aside_other),
                "year_net_earnings": self.tax.year_net_earnings,
                "self_employment_tax": self.tax.self_employment_tax.total,
                "due_dates": [d.isoformat() for d in self.tax.due_dates],
                "next_due": self.tax.next_due.isoformat() if self.tax.next_due else None,
            },
        }


def month(m: Month) -> str:
    return f"{m[0]:04d}-{m[1]:02d}"


def _month(day: date) -> Month:
    return (day.year, day.month)


def _shift(month: Month, delta: int) -> Month:
    index = month[0] * 12 + month[1] - 1 + delta
    return (index // 12, index % 12 + 1)


def monthly_facts(worker: User, start: date, end: date) -> list[IncomeFact]:
    """One fact per (month, source, stream kind): analytics give the same answers as with
    every item, and a worker with ten years of gigs costs one grouped query."""
    rows = (
        IncomeItem.objects.filter(worker=worker, occurred_on__gte=start, occurred_on__lte=end)
        .exclude(kind=ItemKind.TRANSFER)
        .annotate(month=TruncMonth("occurred_on"))
        .values("month", "source__slug", "stream__kind")
        .annotate(total=Sum("home_income"))
    )
    facts = []
    for row in rows:
        month_start = row["month"]
        if hasattr(month_start, "date"):
            month_start = month_start.date()
        facts.append(
            IncomeFact(
                month_start,
                row["source__slug"],
                row["stream__kind"] or "project",
                int(row["total"] or 0),
            )
        )
    return facts


@dataclass(frozen=True, slots=True)
class SourceIncome:
    slug: str
    name: str
    amount: int


def income_by_source(
    worker: User, start: date, end: date, *, currency: str | None = None
) -> list[SourceIncome]:
    """Take-home income per source from ``start`` to ``end`` (inclusive), transfers left
    out, in ONE grouped query, largest first.

    In the worker's home currency (``currency`` None or the home currency) every item
    counts at its booked ``home_income``, as the analytics count it; in another currency
    only the items in that currency count, at their ``net`` (the same take-home amount
    before conversion). Sources with nothing in the window are left out."""
    items = IncomeItem.objects.filter(
        worker=worker, occurred_on__gte=start, occurred_on__lte=end
    ).exclude(kind=ItemKind.TRANSFER)
    column = "home_income"
    if currency is not None and currency != worker.home_currency:
        items, column = items.filter(currency=currency), "net"
    rows = (
        items.values("source__slug", "source__name")
        .annotate(total=Sum(column))
        .order_by("source__slug")
    )
    found = [
        SourceIncome(row["source__slug"], row["source__name"], int(row["total"] or 0))
        for row in rows
    ]
    return sorted(found, key=lambda s: (-s.amount, s.name.casefold(), s.slug))


def recent_facts(worker: User, start: date, end: date) -> list[IncomeFact]:
    """Individual items of the last year, for the forecast's fit."""
    rows = (
        IncomeItem.objects.filter(worker=worker, occurred_on__gte=start, occurred_on__lte=end)
        .exclude(kind=ItemKind.TRANSFER)
        .values_list("occurred_on", "source__slug", "stream__kind", "home_income")
    )
    return [
        IncomeFact(day, slug, kind or "project", int(amount)) for day, slug, kind, amount in rows
    ]


def _balance(code: str) -> int:
    account = Account.objects.filter(code=code).first()
    return 0 if account is None else ledger.balance(account).posted


def _foreign_balances(prefix: str) -> tuple[tuple[str, int], ...]:
    """(currency, posted balance) of the accounts under ``prefix`` that hold money, such as
    a worker's tax set-aside in each currency other than the home one."""
    found = []
    for account in Account.objects.filter(code__startswith=prefix).order_by("currency"):
        posted = ledger.balance(account).posted
        if posted:
            found.append((account.currency, posted))
    return tuple(found)


def income_report(worker: User, *, as_of: date | None = None, paths: int = 4000) -> IncomeReport:
    as_of = as_of or date.today()  # noqa: DTZ011 - the worker's calendar day
    settings = income_settings(worker)
    last_full = _shift(_month(as_of), -1)
    window = analytics.month_range(_shift(last_full, -(WINDOW_MONTHS - 1)), last_full)
    window_start = date(window[0][0], window[0][1], 1)
    window_end = date(as_of.year, as_of.month, 1) - timedelta(days=1)
    cash = _balance(f"worker:{worker.pk}:cash")
    buffer_balance = _balance(f"worker:{worker.pk}:buffer")
    committed = commitments_for(worker, as_of, as_of + timedelta(days=FORECAST_HORIZON - 1))
    stability = analytics.stability_summary(
        monthly_facts(worker, window_start, window_end),
        window,
        essential_expenses_monthly=settings.essential_expenses,
        cash_and_buffer=cash + buffer_balance,
        committed_monthly=monthly_amount(committed, FORECAST_HORIZON),
    )
    history = recent_facts(worker, as_of - timedelta(days=365), as_of - timedelta(days=1))
    # A commitment an actual payment already settled (paid early, under the same key) is
    # not counted again; a committed stream is never also simulated from its history.
    open_items, _ = forecast.consume_scheduled(scheduled_items(committed), history)
    outlook = forecast.forecast(
        history,
        start=as_of,
        horizon=FORECAST_HORIZON,
        scheduled=open_items,
        scheduled_sources={c.key for c in committed},
        starting_balance=cash + buffer_balance,
        essential_expenses_monthly=settings.essential_expenses,
        paths=paths,
        seed=FORECAST_SEED,
    )
    last_six = {m: stability.monthly.get(m, 0) for m in window[-6:]}
    salary = smoothing.recommend_salary(last_six, outlook.monthly_median_income, round_to=100)
    current_salary = settings.salary or salary.amount
    pay_dates = smoothing.pay_schedule(
        date(as_of.year, as_of.month, min(settings.salary_day, 28)),
        "monthly",
        until=as_of + timedelta(days=365),
    )
    buffer = BufferStatus(
        balance=buffer_balance,
        target=smoothing.buffer_target(current_salary),
        months_covered=smoothing.months_covered(buffer_balance, current_salary),
        runs_dry_on=smoothing.runs_dry_on(
            buffer_balance,
            current_salary,
            smoothing.monthly_from_cumulative(outlook.days, outlook.income_p10),
            [d for d in pay_dates if d >= as_of],
        ),
    )
    year_start = date(as_of.year, 1, 1)
    year_net = sum(f.amount for f in recent_facts(worker, year_start, as_of))
    due = tax.quarterly_due_dates(as_of.year)
    tax_status = TaxStatus(
        enabled=settings.tax_set_aside,
        rate_bps=settings.tax_rate_bps,
        set_aside_balance=_balance(f"worker:{worker.pk}:tax"),
        set_aside_other=_foreign_balances(f"worker:{worker.pk}:tax:"),
        year_net_earnings=year_net,
        self_employment_tax=tax.self_employment_tax(max(year_net, 0)),
        due_dates=due,
        next_due=next(
            (d for d in [*due, *tax.quarterly_due_dates(as_of.year + 1)] if d >= as_of), None
        ),
    )
    names = dict(worker.income_sources.values_list("slug", "name"))
    return IncomeReport(
        worker_id=worker.pk,
        currency=worker.home_currency,
        as_of=as_of,
        stability=stability,
        forecast=outlook,
        salary=salary,
        current_salary=current_salary,
        buffer=buffer,
        cash=cash,
        essential_expenses=settings.essential_expenses,
        tax=tax_status,
        source_names=names,
        commitments=tuple(committed),
    )
