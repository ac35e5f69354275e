"""The income pages: dashboard, sources, import (upload → preview → apply, each file read
and booked by a background job whose progress the page polls), month drill-down, exchange
rates and settings.

Views stay thin: reads come from ``queries`` and ``reports``, writes go through the income
services, and the figures are built by ``charts``. Every object addressed by id is looked
up with the logged-in worker in the filter, so another worker's batch or source is a 404.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from keel.accounts.models import User
from keel.money import format_amount
from keel.uploads import limit_upload_size, refuse_oversized
from keel.web.services import account_label

from . import charts, forms, jobs, queries
from .importers import FORMATS, ImportFormatError, detect_format, other_export
from .models import (
    ImportBatch,
    ImportProfileRecord,
    ImportStatus,
    ItemKind,
    Source,
)
from .reports import IncomeReport, income_report
from .rules import smoothing, tax
from .rules.analytics import EXPLANATIONS, STREAM_KINDS, StabilitySummary
from .rules.dates import Month
from .services import (
    FORMAT_SOURCES,
    IncomeError,
    check_upload,
    ensure_source,
    format_error_message,
    import_rates,
    income_settings,
    move_buffer,
    receive_upload,
    save_import_profile,
    set_rate,
    source_for_import,
)
from .tasks import start_apply, start_preview

# Long lists on the preview page are cut here; the counts above them stay complete.
PREVIEW_ROWS = 500
RATES_PER_PAGE = 25
MONTH_ITEMS_PER_PAGE = 200

# The forecast's docstring speaks of its parameters; this is the same rule for the page.
FORECAST_EXPLANATION = (
    "The shaded band is where eight in ten simulated futures land, the line the middle one. "
    "Known payments (memberships, retainers, milestones) count on their due dates; the rest is "
    "simulated from how your own gigs and projects paid over the last year."
)

# tax.quarterly_due_dates's docstring names its parameter; the page says it in words.
DUE_DATES_EXPLANATION = (
    "Estimated tax payments are due April 15, June 15 and September 15 of the year and "
    "January 15 of the next, each moved to the next business day when it falls on a weekend "
    "or a legal holiday."
)


def _worker(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required lets only people through
    return request.user


def _first_paragraph(function: Callable[..., object]) -> str:
    # The same convention as analytics.EXPLANATIONS: a rule's docstring opens with the
    # sentence the worker reads, so page and code cannot drift apart.
    doc = inspect.getdoc(function) or ""
    return " ".join(doc.split("\n\n")[0].split())


def month_url(month: Month) -> str:
    return reverse("income:month", kwargs={"year": f"{month[0]:04d}", "month": f"{month[1]:02d}"})


def _month_label(month: Month) -> str:
    return f"{date(month[0], month[1], 1):%B %Y}"


# ---------------------------------------------------------------------------- dashboard


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    label: str
    value: str
    detail: str
    explanation: str
    flags: tuple[dict[str, Any], ...] = ()
    action: tuple[str, str] | None = None  # (link text, url) when the metric needs input


def _percent(value: float | None, places: int = 1) -> str:
    return "—" if value is None else f"{value:.{places}%}"


def _committed_labels(report: IncomeReport) -> str:
    labels = list(dict.fromkeys(c.label for c in report.commitments))
    return "; ".join(labels)


def _spikes_and_dips(s: StabilitySummary, cur: str, flags: tuple[dict[str, Any], ...]) -> Metric:
    money = charts.money_text
    if s.median_month <= 0:
        # Half the months or more brought nothing: a percentage above or below nothing means
        # nothing, so no month is flagged. "No month stood out" would tell someone who
        # earned in two months of twelve that their income was steady.
        earning = sum(1 for month in s.months if s.monthly.get(month, 0) > 0)
        return Metric(
            "spikes_and_dips",
            "Spikes and dips",
            "—",
            f"Not measured: your median month is {money(s.median_month, cur)}, because "
            f"only {earning} of {len(s.months)} months brought income.",
            EXPLANATIONS["spikes_and_dips"],
        )
    return Metric(
        "spikes_and_dips",
        "Spikes and dips",
        f"{len(s.flags)} month{'s' if len(s.flags) != 1 else ''}",
        f"Compared with the median month of {money(s.median_month, cur)}."
        if s.flags
        else "No month stood out.",
        EXPLANATIONS["spikes_and_dips"],
        flags=flags,
    )


def stability_metrics(report: IncomeReport, month_urls: dict[Month, str]) -> list[Metric]:
    """The stability panel: each figure with the plain-language text of its rule."""
    s, cur = report.stability, report.currency
    money = charts.money_text
    settings_url = reverse("income:settings")
    needs_expenses = ("Set your essential expenses", settings_url)
    conc = s.concentration
    flags = tuple(
        {
            "label": _month_label(flag.month),
            "kind": flag.kind,
            "amount": flag.amount,
            "deviation": f"{flag.deviation_bps / 100:+.0f}%",
            "url": month_urls.get(flag.month),
        }
        for flag in s.flags
    )
    trend = s.trend
    direction = {"rising": "Rising", "falling": "Falling", "flat": "Flat"}[trend.direction]
    return [
        Metric(
            "coefficient_of_variation",
            "Month-to-month swing",
            "—" if s.coefficient_of_variation is None else f"{s.coefficient_of_variation:.2f}",
            f"Coefficient of variation over {len(s.months)} months; average month "
            f"{money(s.average_month, cur)}.",
            EXPLANATIONS["coefficient_of_variation"],
        ),
        Metric(
            "median_month",
            "Median month",
            money(s.median_month, cur),
            f"Total over the window {money(s.total_income, cur)}.",
            EXPLANATIONS["median_month"],
        ),
        _spikes_and_dips(s, cur, flags),
        Metric(
            "source_concentration",
            "Largest source",
            "—" if conc is None else _percent(conc.largest_share),
            "No source brought positive income."
            if conc is None
            else f"{report.source_names.get(conc.largest_source, conc.largest_source)}; "
            f"effective number of sources {conc.effective_sources:.1f} of {conc.sources}.",
            EXPLANATIONS["source_concentration"],
        ),
        Metric(
            "baseline_coverage",
            "Recurring baseline coverage",
            _percent(s.baseline_coverage, 0),
            f"Recurring income {money(s.recurring_baseline_monthly, cur)} a month"
            + (
                f" plus {money(s.committed_monthly, cur)} a month committed ahead"
                f" ({_committed_labels(report)}, averaged over the next"
                f" {report.forecast.horizon} days)"
                if s.committed_monthly
                else ""
            )
            + (
                f" against essential expenses of {money(report.essential_expenses, cur)}."
                if report.essential_expenses
                else "; essential expenses are not set."
            ),
            EXPLANATIONS["baseline_coverage"],
            action=None if s.baseline_coverage is not None else needs_expenses,
        ),
        Metric(
            "runway_months",
            "Runway",
            "—" if s.runway_months is None else f"{s.runway_months:.1f} months",
            f"Cash and buffer {money(report.cash + report.buffer.balance, cur)}.",
            EXPLANATIONS["runway_months"],
            action=None if s.runway_months is not None else needs_expenses,
        ),
        Metric(
            "trend",
            "Trend",
            direction,
            f"{money(trend.slope_per_month, cur)} a month"
            + (
                f", {trend.relative_change:+.0%} over the window."
                if trend.relative_change is not None
                else "."
            ),
            EXPLANATIONS["trend"],
        ),
    ]


def month_table(report: IncomeReport, month_urls: dict[Month, str]) -> list[dict[str, Any]]:
    """The figures behind the income-mix chart, newest month first, for the table under it."""
    s = report.stability
    flagged = {flag.month: flag.kind for flag in s.flags}
    rows = []
    for month in reversed(s.months):
        rows.append(
            {
                "label": _month_label(month),
                "url": month_urls.get(month),
                "by_kind": [s.by_stream_kind[kind].get(month, 0) for kind in STREAM_KINDS],
                "total": s.monthly.get(month, 0),
                "flag": flagged.get(month),
            }
        )
    return rows


def _buffer_percent(balance: int, target: int) -> int:
    if target <= 0:
        return 100 if balance > 0 else 0
    return max(0, min(100, balance * 100 // target))


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    return _dashboard(request)


def _dashboard(
    request: HttpRequest, *, buffer_form: forms.BufferMoveForm | None = None, status: int = 200
) -> HttpResponse:
    worker = _worker(request)
    if not queries.has_income(worker):
        return render(request, "income/dashboard_empty.html", {"section": "dashboard"})
    report = income_report(worker)  # ~0.3 s: computed once, everything below reads it
    start, end = queries.report_window(report.as_of)
    month_urls = {m: month_url(m) for m in queries.months_with_items(worker, start, end)}
    settings = income_settings(worker)
    f = report.forecast
    # Old history only (an import of past years): say so instead of drawing empty charts.
    latest = None if month_urls else queries.latest_month(worker)
    context = {
        "window_is_empty": not month_urls,
        "latest": latest and (_month_label(latest), month_url(latest)),
        "section": "dashboard",
        "report": report,
        "currency": report.currency,
        "window_label": f"{_month_label(report.stability.months[0])} to "
        f"{_month_label(report.stability.months[-1])}",
        "figures": {
            "mix": charts.income_mix_figure(report, month_urls),
            "sources": charts.source_figure(report),
            "forecast": charts.forecast_figure(report),
        },
        "kind_labels": [charts.KIND_LABELS[k] for k in STREAM_KINDS],
        "months": month_table(report, month_urls),
        "metrics": stability_metrics(report, month_urls),
        "explanations": EXPLANATIONS,
        "forecast_explanation": FORECAST_EXPLANATION,
        "forecast_windows": [
            {
                "first_day": w.first_day,
                "last_day": w.last_day,
                "expenses": w.expenses,
                "income_p50": w.income_p50,
                "probability": None
                if w.shortfall_probability is None
                else _percent(w.shortfall_probability),
            }
            for w in f.windows
        ],
        "income_90": {"p10": f.income_p10[-1], "p50": f.income_p50[-1], "p90": f.income_p90[-1]},
        "salary_is_set": settings.salary > 0,
        "buffer_percent": _buffer_percent(report.buffer.balance, report.buffer.target),
        "buffer_explanation": _first_paragraph(smoothing.buffer_target),
        "runs_dry_explanation": _first_paragraph(smoothing.runs_dry_on),
        "tax_rate": forms.format_percent_bps(report.tax.rate_bps),
        "se_tax_explanation": _first_paragraph(tax.self_employment_tax),
        "due_explanation": DUE_DATES_EXPLANATION,
        "buffer_form": buffer_form or forms.BufferMoveForm(currency=report.currency),
    }
    return render(request, "income/dashboard.html", context, status=status)


@login_required
@require_POST
def buffer_move(request: HttpRequest) -> HttpResponse:
    """Put money into the salary buffer or take it back out (the dashboard's buffer card)."""
    worker = _worker(request)
    form = forms.BufferMoveForm(request.POST, currency=worker.home_currency)
    if not form.is_valid():
        return _dashboard(request, buffer_form=form, status=400)
    into_buffer = form.cleaned_data["direction"] == "in"
    try:
        moved = move_buffer(
            worker,
            form.cleaned_data["amount"],
            into_buffer=into_buffer,
            on=timezone.localdate(),
            idempotency_key=form.cleaned_data["token"],
        )
    except IncomeError as exc:
        field = exc.field if exc.field in form.fields else None
        form.add_error(field, str(exc)[:1].upper() + str(exc)[1:] + ".")
        return _dashboard(request, buffer_form=form, status=400)
    amount = format_amount(form.cleaned_data["amount"], worker.home_currency, symbol=True)
    if not moved.created:
        messages.info(request, f"Already done: {amount} was moved when this form was first sent.")
    elif into_buffer:
        messages.success(request, f"{amount} put aside in your salary buffer.")
    else:
        messages.success(request, f"{amount} taken out of your salary buffer into your cash.")
    return redirect(reverse("income:dashboard") + "#salary")


# ---------------------------------------------------------------------------- sources


def _sources_page(
    request: HttpRequest,
    *,
    new_form: forms.NewSourceForm | None = None,
    edit_form: forms.SourceForm | None = None,
    status: int = 200,
) -> HttpResponse:
    worker = _worker(request)
    start, end = queries.report_window(date.today())  # noqa: DTZ011 - the worker's day
    rows = queries.source_rows(worker, start, end)
    edit_forms = {
        row.source.pk: (
            edit_form
            if edit_form is not None and edit_form.instance.pk == row.source.pk
            else forms.SourceForm(instance=row.source, worker=worker, prefix=f"s{row.source.pk}")
        )
        for row in rows
    }
    context = {
        "section": "sources",
        "rows": [(row, edit_forms[row.source.pk]) for row in rows],
        # Every source's income is in the home currency already, so they add up.
        "window_total": sum(row.window_income for row in rows),
        "open_edit": edit_form.instance.pk if edit_form is not None else None,
        "new_form": new_form or forms.NewSourceForm(worker=worker),
        "window_label": f"{start:%B %Y} to {end:%B %Y}",
        "currency": worker.home_currency,
    }
    return render(request, "income/sources.html", context, status=status)


@login_required
@require_GET
def sources(request: HttpRequest) -> HttpResponse:
    return _sources_page(request)


@login_required
@require_POST
def source_add(request: HttpRequest) -> HttpResponse:
    worker = _worker(request)
    form = forms.NewSourceForm(request.POST, worker=worker)
    if not form.is_valid():
        return _sources_page(request, new_form=form, status=400)
    data = form.cleaned_data
    try:
        source = ensure_source(
            worker,
            data["name"],
            kind=data["kind"],
            default_stream=data["default_stream"],
            currency=data["currency"],
        )
    except IncomeError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        return _sources_page(request, new_form=form, status=400)
    messages.success(request, f"Source “{source.name}” added.")
    return redirect("income:sources")


@login_required
@require_POST
def source_edit(request: HttpRequest, source_id: int) -> HttpResponse:
    worker = _worker(request)
    source = get_object_or_404(Source, pk=source_id, worker=worker)
    form = forms.SourceForm(request.POST, instance=source, worker=worker, prefix=f"s{source.pk}")
    if not form.is_valid():
        return _sources_page(request, edit_form=form, status=400)
    form.save()
    messages.success(request, f"Source “{source.name}” saved.")
    return redirect("income:sources")


# ---------------------------------------------------------------------------- import


def _import_page(
    request: HttpRequest, form: forms.ImportForm, *, status: int = 200
) -> HttpResponse:
    worker = _worker(request)
    context = {
        "section": "import",
        "form": form,
        "batches": queries.recent_batches(worker),
        "has_profiles": ImportProfileRecord.objects.filter(worker=worker).exists(),
        "max_mb": forms.MAX_UPLOAD_BYTES // forms.MB,
    }
    return render(request, "income/import.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
@limit_upload_size(lambda: forms.MAX_UPLOAD_BYTES)  # before the body is read
def import_upload(request: HttpRequest) -> HttpResponse:
    worker = _worker(request)
    if request.method != "POST":
        return _import_page(request, forms.ImportForm(worker=worker))
    form = forms.ImportForm(request.POST, request.FILES, worker=worker)
    if refuse_oversized(request, form, forms.too_large_message()):
        return _import_page(request, form, status=413)
    if not form.is_valid():
        return _import_page(request, form, status=400)
    data = form.cleaned_data
    fmt = data["format"]
    if fmt == forms.AUTO:
        detected = detect_format(form.head)
        if detected is None:
            form.add_error(
                "format",
                other_export(form.head)
                or "Keel could not tell the format from the file's header. Choose the format "
                "(or the generic CSV format with a saved profile).",
            )
            return _import_page(request, form, status=400)
        fmt = detected
    if not data["source_name"].strip() and fmt not in FORMAT_SOURCES:
        form.add_error("source_name", "Name the source this money came from.")
        return _import_page(request, form, status=400)
    upload = data["file"]
    date_order = data["date_order"] or None
    try:
        source = source_for_import(worker, fmt, name=data["source_name"])
        # The first lines are read here, so a file in the wrong format is refused on the
        # form; the whole file is read by the preview job.
        check_upload(fmt, form.head, source=source, profile=data["profile"], date_order=date_order)
        upload.seek(0)
        batch = receive_upload(
            worker,
            name=upload.name or "upload.csv",
            stream=upload,
            fmt=fmt,
            source=source,
            date_order=date_order,
            profile=data["profile"],
        )
    except ImportFormatError as exc:
        form.add_error("file", format_error_message(exc, fmt))
        return _import_page(request, form, status=400)
    except (IncomeError, ValueError) as exc:
        form.add_error(None, str(exc))
        return _import_page(request, form, status=400)
    start_preview(batch.pk)
    if data["format"] == forms.AUTO:
        messages.info(request, f"Read as {FORMATS[fmt].label} (recognised from its header).")
    return redirect("income:import_preview", batch_id=batch.pk)


# The lines of an import's totals (keys of ImportSummary.totals), in reading order.
TOTAL_ROWS = (
    ("income_gross", "Income (gross)"),
    ("fees", "Fees"),
    ("tips", "Tips"),
    ("refunds", "Refunds"),
    ("transfers", "Transfers"),
    ("net", "Net income"),
)


def _batch(request: HttpRequest, batch_id: int) -> ImportBatch:
    return get_object_or_404(
        ImportBatch.objects.select_related("source"), pk=batch_id, worker=_worker(request)
    )


def _batch_context(batch: ImportBatch) -> dict[str, Any]:
    summary = batch.summary or {}
    rejected = list(summary.get("rejected", []))
    skipped = list(summary.get("skipped", []))
    state = jobs.read_state(batch.pk)
    applied = batch.status == ImportStatus.APPLIED
    # The job the batch is waiting on: the check of a new upload, or the apply of a
    # previewed one. A state left by the other job does not count.
    waiting_on = {ImportStatus.CHECKING: jobs.Job.PREVIEW, ImportStatus.PREVIEWED: jobs.Job.APPLY}
    job = waiting_on.get(ImportStatus(batch.status))
    state = state if state is not None and state.job == job else None
    context: dict[str, Any] = {
        "section": "import",
        "batch": batch,
        "summary": summary,
        "rejected": rejected[:PREVIEW_ROWS],
        "rejected_count": len(rejected),
        "skipped": skipped[:PREVIEW_ROWS],
        "skipped_count": len(skipped),
        "to_import": summary.get("imported", 0),
        "totals": summary.get("totals", {}),
        "total_rows": [
            {
                "key": key,
                "label": label,
                "amounts": [(c, t.get(key, 0)) for c, t in summary.get("totals", {}).items()],
            }
            for key, label in TOTAL_ROWS
        ],
        "state": state,
        "running": state is not None and state.running,
        # Checking with no word from its job at all: the state expired or was lost.
        "lost": batch.status == ImportStatus.CHECKING and (state is None or state.stale),
        "can_apply": batch.status == ImportStatus.PREVIEWED and not rejected,
        "failure": summary.get("error", "") if batch.status == ImportStatus.FAILED else "",
    }
    if applied:
        context.update(
            items=queries.batch_items(batch),
            item_count=queries.batch_item_count(batch),
            months=[(_month_label(m), month_url(m)) for m in queries.batch_months(batch)],
        )
    return context


@login_required
@require_GET
def import_preview(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = _batch(request, batch_id)
    return render(request, "income/import_preview.html", _batch_context(batch))


@login_required
@require_POST
def import_apply(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = _batch(request, batch_id)
    if batch.status == ImportStatus.APPLIED:
        messages.info(request, "This import was already applied.")
        return redirect("income:import_preview", batch_id=batch.pk)
    if batch.status in (ImportStatus.CHECKING, ImportStatus.FAILED):
        messages.error(request, "Only a file that has been read and checked can be applied.")
        return redirect("income:import_preview", batch_id=batch.pk)
    if (batch.summary or {}).get("rejected"):
        # Applied whole or not at all: a file with a rejected row books nothing.
        messages.error(
            request,
            "This file has rejected rows, so nothing was imported. Fix the rows listed below "
            "in the file (or choose the date order) and upload it again.",
        )
        return redirect("income:import_preview", batch_id=batch.pk)
    state = jobs.read_state(batch.pk)
    if state is None or state.job != jobs.Job.APPLY or not state.running:
        start_apply(batch.pk)
    return redirect("income:import_preview", batch_id=batch.pk)


@login_required
@require_GET
def import_progress(request: HttpRequest, batch_id: int) -> HttpResponse:
    """The progress bar alone, polled by htmx every second while a file is checked or
    applied. When the job has finished, the page reloads to show the result."""
    batch = _batch(request, batch_id)
    context = _batch_context(batch)
    response = render(request, "income/_import_progress.html", context)
    if not context["running"]:
        response["HX-Refresh"] = "true"
    return response


# ---------------------------------------------------------------------------- month


@login_required
@require_GET
def month(request: HttpRequest, year: str, month: str) -> HttpResponse:
    worker = _worker(request)
    try:
        first = date(int(year), int(month), 1)
    except ValueError:
        raise Http404("no such month") from None
    key: Month = (first.year, first.month)
    items = queries.month_items(worker, key)
    # A month where this worker booked nothing is not theirs to open.
    if not items.exists():
        raise Http404("no income in this month")
    page = Paginator(items, MONTH_ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    before, after = queries.neighbour_months(worker, key)
    rows = []
    for item in page.object_list:
        legs = [
            {
                "label": account_label(leg.account.code, leg.account.name),
                "code": leg.account.code,
                "debit": leg.amount if leg.amount > 0 else None,
                "credit": -leg.amount if leg.amount < 0 else None,
                "currency": leg.currency,
            }
            for leg in item.journal.legs.all()
        ]
        rows.append({"item": item, "legs": legs})
    context = {
        "section": "dashboard",
        "label": _month_label(key),
        "page": page,
        "rows": rows,
        "totals": queries.month_totals(worker, key),
        "previous": (before and (_month_label(before), month_url(before))),
        "next": (after and (_month_label(after), month_url(after))),
        "transfer": ItemKind.TRANSFER,
    }
    return render(request, "income/month.html", context)


# ---------------------------------------------------------------------------- profiles


@login_required
@require_http_methods(["GET", "POST"])
def import_profiles(request: HttpRequest) -> HttpResponse:
    """Saved column mappings for CSV files in no known format."""
    worker = _worker(request)
    form = forms.ImportProfileForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                record = save_import_profile(worker, form.cleaned_data["config"])
            except IncomeError as exc:
                form.add_error("config", str(exc))
            else:
                messages.success(request, f"Saved the import profile {record.name!r}.")
                return redirect("income:import_profiles")
        status = 400
    context = {
        "section": "import",
        "form": form,
        "profiles": worker.import_profiles.order_by("name"),
        "example": EXAMPLE_PROFILE,
    }
    return render(request, "income/profiles.html", context, status=status)


EXAMPLE_PROFILE = """{
  "name": "My bank",
  "columns": {"date": "Date", "amount": "Amount", "description": "Details",
              "external_id": "Reference"},
  "currency": "EUR",
  "date_format": "%d.%m.%Y",
  "decimal_separator": ",",
  "thousands_separator": ".",
  "sign": "income_positive"
}"""


# ---------------------------------------------------------------------------- rates


def _rates_page(
    request: HttpRequest,
    *,
    rate_form: forms.RateForm | None = None,
    file_form: forms.RateFileForm | None = None,
    status: int = 200,
) -> HttpResponse:
    worker = _worker(request)
    page = Paginator(queries.visible_rates(worker), RATES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "section": "rates",
        "page": page,
        "rate_form": rate_form or forms.RateForm(worker=worker),
        "file_form": file_form or forms.RateFileForm(),
    }
    return render(request, "income/rates.html", context, status=status)


@login_required
@require_GET
def rates(request: HttpRequest) -> HttpResponse:
    return _rates_page(request)


@login_required
@require_POST
def rate_add(request: HttpRequest) -> HttpResponse:
    worker = _worker(request)
    form = forms.RateForm(request.POST, worker=worker)
    if not form.is_valid():
        return _rates_page(request, rate_form=form, status=400)
    data = form.cleaned_data
    try:
        found = set_rate(worker, data["base"], data["quote"], data["on"], data["rate"])
    except IncomeError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        return _rates_page(request, rate_form=form, status=400)
    rate = format(found.rate.normalize(), "f")
    when = f"{found.on:%B} {found.on.day}, {found.on.year}"
    messages.success(request, f"Saved: 1 {found.base} = {rate} {found.quote} on {when}.")
    return redirect("income:rates")


@login_required
@require_POST
@limit_upload_size(lambda: forms.MAX_RATE_FILE_BYTES)
def rate_upload(request: HttpRequest) -> HttpResponse:
    worker = _worker(request)
    form = forms.RateFileForm(request.POST, request.FILES)
    if refuse_oversized(request, form, forms.RATE_FILE_TOO_LARGE) or not form.is_valid():
        return _rates_page(request, file_form=form, status=400)
    try:
        count = import_rates(worker, form.cleaned_data["file"], origin="upload")
    except IncomeError as exc:
        form.add_error("file", f"Nothing was imported: {exc}")
        return _rates_page(request, file_form=form, status=400)
    messages.success(request, f"Imported {count} rate{'s' if count != 1 else ''}.")
    return redirect("income:rates")


# ---------------------------------------------------------------------------- settings


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    worker = _worker(request)
    current = income_settings(worker)
    currency = worker.home_currency
    if request.method == "POST":
        form = forms.IncomeSettingsForm(request.POST, currency=currency)
        if form.is_valid():
            form.apply_to(current)
            current.save()
            messages.success(request, "Income settings saved.")
            return redirect("income:settings")
        status = 400
    else:
        form = forms.IncomeSettingsForm(
            initial=forms.IncomeSettingsForm.initial_from(current, currency), currency=currency
        )
        status = 200
    context = {"section": "settings", "form": form, "currency": currency}
    return render(request, "income/settings.html", context, status=status)
