"""The income pages, driven through Django's test client with data booked by the real
income services. Every figure asserted here can be checked by hand from the rows booked."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from decimal import Decimal
from html import unescape
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from keel.accounts.models import User
from keel.accounts.services import create_worker
from keel.income import forms as income_forms
from keel.income import jobs, tasks, views
from keel.income import services as income
from keel.income.importers.base import ParsedRow, RowKind
from keel.income.jobs import Job, Stage
from keel.income.models import (
    ExchangeRate,
    ImportBatch,
    ImportProfileRecord,
    ImportStatus,
    IncomeItem,
    IncomeSettings,
    Source,
)
from keel.income.rules.analytics import EXPLANATIONS
from keel.ledger.models import Journal, Leg

SAMPLES = Path(__file__).resolve().parents[4] / "docs" / "samples"
UPWORK_CSV = SAMPLES / "upwork.csv"


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _fresh_progress_cache():
    # Import progress lives in the shared file cache; batch ids restart with each test's
    # database, so an earlier test's entry must not leak into the next one.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def worker(db) -> User:
    return create_worker("ana@example.org", name="Ana Lima", password=None, currency="USD")


@pytest.fixture
def other(db) -> User:
    return create_worker("ben@example.org", name="Ben Ode", password=None, currency="USD")


@pytest.fixture
def ana(worker: User) -> Client:
    client = Client()
    client.force_login(worker)
    return client


@pytest.fixture
def ben(other: User) -> Client:
    client = Client()
    client.force_login(other)
    return client


def last_full_month(today: date | None = None) -> date:
    """The first day of the month before this one: inside the dashboard's window."""
    today = today or date.today()  # noqa: DTZ011
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def income_row(
    line: int,
    gross: int,
    *,
    on: date,
    fee: int = 0,
    currency: str = "USD",
    external_id: str = "",
    description: str = "",
    kind: RowKind = RowKind.INCOME,
) -> ParsedRow:
    net = gross - fee if kind == RowKind.INCOME else -gross - fee
    return ParsedRow(
        line=line,
        kind=kind,
        occurred_on=on,
        currency=currency,
        gross=gross,
        fee=fee,
        net=net,
        external_id=external_id or f"T{line}",
        description=description,
    )


@pytest.fixture
def two_items(worker: User) -> Source:
    """Two Acme payments in the last full month: $100.00 and $50.00 (net, no fees)."""
    acme = income.ensure_source(worker, "Acme Studio", kind="client", default_stream="project")
    month = last_full_month()
    booked = income.book_rows(
        worker,
        acme,
        [
            income_row(2, 10_000, on=month + timedelta(days=2), description="Logo design"),
            income_row(3, 5_000, on=month + timedelta(days=9), description="Revisions"),
        ],
    )
    assert booked.applied
    return acme


def html(response) -> str:
    return response.content.decode()


def text(response) -> str:
    """The page's text with tags removed and whitespace collapsed, for phrase checks."""
    stripped = unescape(re.sub(r"<[^>]+>", " ", html(response)))
    return " ".join(stripped.replace("\xa0", " ").split())


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def counts() -> tuple[int, int, int]:
    return IncomeItem.objects.count(), Journal.objects.count(), Leg.objects.count()


# ---------------------------------------------------------------------------- routing


def test_url_names():
    assert reverse("income:dashboard") == "/income/"
    assert reverse("income:sources") == "/income/sources/"
    assert reverse("income:source_add") == "/income/sources/add/"
    assert reverse("income:source_edit", args=[4]) == "/income/sources/4/"
    assert reverse("income:import") == "/income/import/"
    assert reverse("income:import_preview", args=[7]) == "/income/import/7/"
    assert reverse("income:import_apply", args=[7]) == "/income/import/7/apply/"
    assert reverse("income:import_progress", args=[7]) == "/income/import/7/progress/"
    assert reverse("income:month", kwargs={"year": "2026", "month": "03"}) == (
        "/income/month/2026-03/"
    )
    assert reverse("income:rates") == "/income/rates/"
    assert reverse("income:rate_add") == "/income/rates/add/"
    assert reverse("income:rate_upload") == "/income/rates/upload/"
    assert reverse("income:settings") == "/income/settings/"


@pytest.mark.parametrize(
    "url",
    [
        "/income/",
        "/income/sources/",
        "/income/import/",
        "/income/import/1/",
        "/income/month/2026-03/",
        "/income/rates/",
        "/income/settings/",
    ],
)
def test_every_page_needs_a_login(db, url):
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_the_navbar_links_income_for_workers(ana):
    page = html(ana.get("/dashboard/"))
    assert 'href="/income/"' in page
    assert ">Income<" in page


# ---------------------------------------------------------------------------- dashboard


def test_dashboard_without_income_shows_the_way_to_import(ana):
    response = ana.get("/income/")
    assert response.status_code == 200
    page = html(response)
    assert "No income yet" in page
    assert 'href="/income/import/"' in page
    assert "js-plotly" not in page and "fig-forecast" not in page


def test_dashboard_shows_the_report(ana, worker, two_items):
    settings = income.income_settings(worker)
    settings.essential_expenses = 200_000  # $2,000.00 a month
    settings.save()
    response = ana.get("/income/")
    assert response.status_code == 200
    page, words = html(response), text(response)
    month = last_full_month()
    month_link = f"/income/month/{month:%Y-%m}/"
    # $100.00 + $50.00 in the last full month, nothing in the eleven before it.
    assert "Income, last 12 months $150.00" in words
    assert f'<a href="{month_link}">{month:%B %Y}</a>' in page
    assert "$0.00 $150.00 $0.00 $150.00" in words  # recurring, project, micro, total
    # Every stability metric is shown with its plain-language explanation.
    for key in (
        "coefficient_of_variation",
        "median_month",
        "spikes_and_dips",
        "source_concentration",
        "baseline_coverage",
        "runway_months",
        "trend",
    ):
        assert f'data-metric="{key}"' in page
        assert EXPLANATIONS[key] in words
    # One source brings everything: 100% and one effective source.
    assert "Largest source 100.0% Acme Studio; effective number of sources 1.0 of 1." in words
    # Eleven empty months make the median month $0.00: a share of nothing flags nothing, and
    # the page says why instead of calling the income steady.
    assert (
        "Spikes and dips — Not measured: your median month is $0.00, because only 1 of 12"
        " months brought income."
    ) in words
    assert "No month stood out." not in words
    # Recurring baseline coverage: no recurring income against $2,000.00 of essentials.
    assert "Recurring income $0.00 a month against essential expenses of $2,000.00." in words
    # The forecast: the fan chart's figure, the lowest point in words, three windows.
    assert 'id="fig-forecast"' in page and 'data-figure="fig-forecast"' in page
    assert re.search(r"Lowest expected balance: -?\$[\d,]+\.\d\d on \w+, \w+ \d+", words)
    assert page.count('data-testid="shortfall"') == 3
    # Tax and salary panels.
    assert "Tax set-aside On · 25%" in words
    assert "Estimated self-employment tax" in words
    assert "How Keel picks your salary" in words
    assert "plotly.min.js" in page


def test_dashboard_figures_match_the_report(ana, worker, two_items):
    from keel.income.reports import income_report

    report = income_report(worker)
    response = ana.get("/income/")
    page, words = html(response), text(response)
    f = report.forecast
    money = views.charts.money_text
    assert f"Lowest expected balance: {money(f.lowest_balance, 'USD')}" in words
    assert f"{f.lowest_balance_on:%A, %B} {f.lowest_balance_on.day}" in words
    assert f"Recommended salary {money(report.salary.amount, 'USD')}" in words
    assert f"Target (six weeks of salary) {money(report.buffer.target, 'USD')}" in words
    assert "fig-mix" in page and "fig-sources" in page


def test_dashboard_warns_when_the_buffer_would_run_dry(ana, worker, two_items):
    settings = income.income_settings(worker)
    settings.salary = 100_000  # $1,000.00 a month from an empty buffer
    settings.save()
    words = text(ana.get("/income/"))
    assert "Your buffer could run dry on" in words
    assert "that pay day's salary of $1,000.00 would not be covered" in words


def test_dashboard_without_recent_income_says_so(ana, worker):
    old = income.ensure_source(worker, "Old Client", kind="client")
    income.book_rows(worker, old, [income_row(2, 40_000, on=date(2021, 3, 4))])
    words = text(ana.get("/income/"))
    assert "Nothing was booked in the last 12 full months." in words
    assert "your most recent income is from March 2021" in words


def test_tax_set_aside_in_another_currency_is_shown_in_it(ana, worker):
    # A USD worker paid in EUR: the set-aside is booked in EUR on its own account, and
    # "Set aside so far" showed only the USD one ($0.00), as if nothing had been put by.
    settings = income.income_settings(worker)
    settings.tax_set_aside, settings.tax_rate_bps = True, 2_500
    settings.save()
    month = last_full_month()
    income.set_rate(worker, "EUR", "USD", month, "1.10")
    verlag = income.ensure_source(worker, "Berliner Verlag", kind="client", currency="EUR")
    booked = income.book_rows(
        worker, verlag, [income_row(2, 40_000, on=month + timedelta(days=1), currency="EUR")]
    )
    assert booked.applied
    words = text(ana.get("/income/"))
    # 25% of €400.00 = €100.00, kept in euros.
    assert "Set aside so far $0.00 and in EUR €100.00" in words
    from keel.income.reports import income_report

    report = income_report(worker)
    assert report.tax.set_aside_other == (("EUR", 10_000),)
    assert report.as_dict()["tax"]["set_aside_other"] == {"EUR": 10_000}


def test_most_recent_income_is_not_a_later_withdrawal(ana, worker):
    # Upwork's export ends with the withdrawal of what the last payment earned: that month
    # holds a transfer, not income.
    old = income.ensure_source(worker, "Old Client", kind="client")
    paid = income_row(2, 40_000, on=date(2021, 3, 4))
    withdrawn = ParsedRow(
        line=3, kind=RowKind.TRANSFER, occurred_on=date(2021, 4, 1), currency="USD",
        gross=40_000, net=-40_000, external_id="w-1",
    )  # fmt: skip
    income.book_rows(worker, old, [paid, withdrawn])
    words = text(ana.get("/income/"))
    assert "your most recent income is from March 2021" in words


# ---------------------------------------------------------------------------- sources


def test_sources_page_shows_each_source_with_its_totals(ana, worker, two_items):
    income.ensure_source(worker, "Etsy shop", kind="shop", default_stream="micro")
    response = ana.get("/income/sources/")
    assert response.status_code == 200
    words = text(response)
    assert (
        "Acme Studio Direct client · default stream project · USD Project $150.00 "
        "2 items in the last 12 months All time $150.00 , 2 items"
    ) in words
    assert (
        "Etsy shop Own shop · default stream micro-work · USD $0.00 "
        "0 items in the last 12 months All time $0.00 , 0 items"
    ) in words
    assert "All sources, last 12 months $150.00" in words


def test_a_source_is_renamed_and_reclassified(ana, two_items):
    prefix = f"s{two_items.pk}"
    response = ana.post(
        f"/income/sources/{two_items.pk}/",
        {
            f"{prefix}-name": "Acme Studios",
            f"{prefix}-kind": "platform",
            f"{prefix}-default_stream": "recurring",
        },
    )
    assert response.status_code == 302
    two_items.refresh_from_db()
    assert (two_items.name, two_items.kind, two_items.default_stream, two_items.slug) == (
        "Acme Studios",
        "platform",
        "recurring",
        "acme-studio",
    )


def test_a_bad_source_edit_changes_nothing(ana, worker, two_items):
    income.ensure_source(worker, "Beta Labs")
    prefix = f"s{two_items.pk}"
    response = ana.post(
        f"/income/sources/{two_items.pk}/",
        {
            f"{prefix}-name": "beta labs",
            f"{prefix}-kind": "robot",
            f"{prefix}-default_stream": "project",
        },
    )
    assert response.status_code == 400
    words = text(response)
    assert "You already have a source named “beta labs”." in words
    assert "Select a valid choice. robot is not one of the available choices." in words
    two_items.refresh_from_db()
    assert (two_items.name, two_items.kind) == ("Acme Studio", "client")


def test_another_workers_source_is_not_found(ben, two_items):
    prefix = f"s{two_items.pk}"
    response = ben.post(
        f"/income/sources/{two_items.pk}/",
        {
            f"{prefix}-name": "Mine now",
            f"{prefix}-kind": "client",
            f"{prefix}-default_stream": "project",
        },
    )
    assert response.status_code == 404
    two_items.refresh_from_db()
    assert two_items.name == "Acme Studio"


def test_a_source_is_added_by_hand(ana, worker):
    response = ana.post(
        "/income/sources/add/",
        {"name": "Verlag Berlin", "kind": "client", "default_stream": "project", "currency": "eur"},
    )
    assert response.status_code == 302
    source = Source.objects.get(worker=worker)
    assert (source.name, source.slug, source.currency) == ("Verlag Berlin", "verlag-berlin", "EUR")
    again = ana.post(
        "/income/sources/add/",
        {"name": "verlag berlin", "kind": "client", "default_stream": "project", "currency": "XXY"},
    )
    assert again.status_code == 400
    words = text(again)
    assert "You already have a source named “verlag berlin”." in words
    assert "“XXY” is not an ISO 4217 currency code." in words
    assert Source.objects.filter(worker=worker).count() == 1


# ---------------------------------------------------------------------------- import


def test_upload_preview_and_apply_the_upwork_sample(ana, worker):
    before = counts()
    response = ana.post(
        "/income/import/",
        {
            "file": upload("upwork.csv", UPWORK_CSV.read_bytes()),
            "format": "auto",
            "source_name": "",
            "date_order": "",
        },
    )
    assert response.status_code == 302
    batch = ImportBatch.objects.get(worker=worker)
    assert response["Location"] == f"/income/import/{batch.pk}/"
    # The suite's task queue runs each job inside the call that queues it (see
    # test_the_upload_returns_before_the_file_is_read for the real queue).
    assert (batch.format, batch.source.name, batch.status) == ("upwork", "Upwork", "previewed")
    assert counts() == before  # a preview books nothing

    preview = ana.get(f"/income/import/{batch.pk}/")
    words = text(preview)
    assert "Read as Upwork transaction history (recognised from its header)." in words
    assert "Rows read 13 To import 7 Already imported 0 Skipped 0 Rejected 0" in words
    # The sample's totals (docs/samples): $1,033.00 earned, $106.29 fees, $100.00 refunded,
    # $400.99 paid out to the bank, $827.70 net income.
    assert (
        "Income (gross) $1,033.00 Fees $106.29 Tips $0.00 Refunds $100.00 "
        "Transfers -$400.99 Net income $827.70"
    ) in words
    apply_form = html(preview).split(f'action="/income/import/{batch.pk}/apply/"')[1]
    assert "disabled" not in apply_form.split("</form>")[0]

    applied = ana.post(f"/income/import/{batch.pk}/apply/")
    assert applied.status_code == 302
    batch.refresh_from_db()
    assert batch.status == ImportStatus.APPLIED
    assert IncomeItem.objects.filter(worker=worker, batch=batch).count() == 7
    state = jobs.read_state(batch.pk)
    assert (state.job, state.stage, state.done, state.total) == ("apply", "done", 7, 7)

    result = text(ana.get(f"/income/import/{batch.pk}/"))
    assert "Imported 7 items." in result
    assert "Months with items from this file: June 2024 , May 2024" in result
    assert 'Milestone 2: "Landing page", revisions' in result
    # The import page lists it among past imports.
    past = text(ana.get("/income/import/"))
    assert "upwork.csv upwork Upwork" in past and "7 / 13 applied" in past

    # The same file again adds nothing.
    ana.post(
        "/income/import/",
        {
            "file": upload("upwork.csv", UPWORK_CSV.read_bytes()),
            "format": "upwork",
            "source_name": "Upwork",
        },
    )
    second = ImportBatch.objects.filter(worker=worker).latest("id")
    assert "To import 0 Already imported 7" in text(ana.get(f"/income/import/{second.pk}/"))


def test_a_bad_row_is_shown_and_nothing_can_be_applied(ana, worker):
    bad = UPWORK_CSV.read_bytes().replace(b",258.00,237.69,", b",25x.00,237.69,")
    before = counts()
    ana.post("/income/import/", {"file": upload("bad.csv", bad), "format": "upwork"})
    batch = ImportBatch.objects.get(worker=worker)
    response = ana.get(f"/income/import/{batch.pk}/")
    page, words = html(response), text(response)
    assert "Rejected 1" in words
    assert "Line Column Reason 5 Amount $ amount '25x.00' is not a valid number" in words
    assert re.search(r'<button type="submit" class="btn btn-primary" disabled', page)
    assert "1 row cannot be read, so nothing can be imported" in words

    refused = ana.post(f"/income/import/{batch.pk}/apply/", follow=True)
    assert "This file has rejected rows, so nothing was imported." in text(refused)
    batch.refresh_from_db()
    assert batch.status == ImportStatus.PREVIEWED
    assert counts() == before
    assert jobs.read_state(batch.pk).job == "preview"  # no apply was started


def test_the_progress_partial_polls_until_the_import_is_done(ana, worker):
    source = income.ensure_source(worker, "Upwork", kind="platform")
    batch = income.preview_upload(
        worker, name="upwork.csv", stream=UPWORK_CSV.open("rb"), fmt="upwork", source=source
    )
    jobs.write_state(batch.pk, Job.APPLY, Stage.PARSE, 13, 0)
    reading = ana.get(f"/income/import/{batch.pk}/progress/")
    assert 'hx-trigger="every 1s"' in html(reading)
    assert "Applying the import Reading rows: 13 rows read" in text(reading)
    assert "HX-Refresh" not in reading

    jobs.write_state(batch.pk, Job.APPLY, Stage.CHECK, 0, 20_000)
    checking = ana.get(f"/income/import/{batch.pk}/progress/")
    assert "Checking 20,000 rows against what you imported before" in text(checking)

    jobs.write_state(batch.pk, Job.APPLY, Stage.POST, 5_000, 20_000)
    booking = ana.get(f"/income/import/{batch.pk}/progress/")
    assert "Posting journals: 5,000 of 20,000" in text(booking)
    assert 'aria-valuenow="25"' in html(booking) and 'data-progress-width="25"' in html(booking)
    # The preview page itself shows the bar while the import runs, not the button.
    running = html(ana.get(f"/income/import/{batch.pk}/"))
    assert 'id="import-progress"' in running and "Apply the import</button>" not in running

    jobs.run_apply(batch.pk)
    done = ana.get(f"/income/import/{batch.pk}/progress/")
    assert done["HX-Refresh"] == "true"
    assert "hx-trigger" not in html(done)


def test_an_apply_that_fails_reports_its_error(ana, worker):
    source = income.ensure_source(worker, "Upwork", kind="platform")
    batch = income.preview_upload(
        worker, name="upwork.csv", stream=UPWORK_CSV.open("rb"), fmt="upwork", source=source
    )
    Path(batch.stored_path).unlink()  # the stored upload vanished before apply
    jobs.run_apply(batch.pk)
    state = jobs.read_state(batch.pk)
    assert (state.job, state.stage) == ("apply", "failed")
    assert state.error == "file: the uploaded file is no longer on the server; upload it again"
    words = text(ana.get(f"/income/import/{batch.pk}/"))
    assert (
        "The import stopped with an error; nothing was booked. file: the uploaded file is no "
        "longer on the server; upload it again"
    ) in words
    batch.refresh_from_db()
    assert batch.status == ImportStatus.PREVIEWED  # it can be applied again
    assert IncomeItem.objects.count() == 0


@pytest.fixture
def real_queue():
    """The task queue as `keel serve` has it (a SQLite file in the data directory) instead
    of the suite's run-at-once queue; the test runs each queued job itself."""
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = False
    HUEY.flush()
    yield HUEY
    HUEY.flush()
    HUEY.immediate = True


def run_queued(queue) -> None:
    task = queue.dequeue()
    assert task is not None
    queue.execute(task)


def test_the_upload_returns_before_the_file_is_read(transactional_db, real_queue):
    # Transactional: a job closes stale connections as the task runner does, which would
    # end a test wrapped in one transaction.
    worker = create_worker("ana@example.org", name="Ana Lima", password=None, currency="USD")
    ana = Client()
    ana.force_login(worker)
    response = ana.post(
        "/income/import/", {"file": upload("upwork.csv", UPWORK_CSV.read_bytes()), "format": "auto"}
    )
    batch = ImportBatch.objects.get(worker=worker)
    assert response["Location"] == f"/income/import/{batch.pk}/"
    assert (batch.status, batch.summary, real_queue.pending_count()) == ("checking", {}, 1)
    page = ana.get(f"/income/import/{batch.pk}/")
    assert "Checking: upwork.csv" in text(page)
    assert "Reading and checking the file Waiting to start…" in text(page)
    assert 'hx-trigger="every 1s"' in html(page) and "Rows read" not in text(page)
    assert "HX-Refresh" not in ana.get(f"/income/import/{batch.pk}/progress/")

    run_queued(real_queue)
    assert ana.get(f"/income/import/{batch.pk}/progress/")["HX-Refresh"] == "true"
    preview = text(ana.get(f"/income/import/{batch.pk}/"))
    assert "Rows read 13 To import 7 Already imported 0 Skipped 0 Rejected 0" in preview

    assert ana.post(f"/income/import/{batch.pk}/apply/").status_code == 302
    # A second click while the first apply waits queues nothing more.
    ana.post(f"/income/import/{batch.pk}/apply/")
    assert real_queue.pending_count() == 1
    applying = text(ana.get(f"/income/import/{batch.pk}/"))
    assert "Applying the import Waiting to start…" in applying
    assert IncomeItem.objects.count() == 0

    run_queued(real_queue)
    batch.refresh_from_db()
    assert batch.status == ImportStatus.APPLIED
    assert IncomeItem.objects.filter(batch=batch).count() == 7
    assert "Imported 7 items." in text(ana.get(f"/income/import/{batch.pk}/"))


def big_upwork_file(tail: bytes) -> tuple[bytes, int]:
    """The Upwork sample's rows repeated past the 64 KiB the upload page reads itself, then
    `tail` as one more line; returns the file and the line number of `tail`."""
    header, *rows = UPWORK_CSV.read_bytes().rstrip(b"\n").split(b"\n")
    body = b"\n".join(rows) + b"\n"
    copies = 64 * 1024 // len(body) + 2
    content = header + b"\n" + body * copies + tail + b"\n"
    return content, 1 + len(rows) * copies + 1


def test_a_file_unreadable_past_its_head_fails_with_the_line(ana, worker):
    content, line = big_upwork_file(b"Jun 9, 2024,99,Hourly,caf\xe9,,,,,,,,,,1,5.00,,,,")
    response = ana.post("/income/import/", {"file": upload("big.csv", content), "format": "upwork"})
    batch = ImportBatch.objects.get(worker=worker)
    assert response["Location"] == f"/income/import/{batch.pk}/"
    assert batch.status == ImportStatus.FAILED
    message = (
        f"Keel cannot read this file as upwork: line {line}: the file is not UTF-8 text "
        "(invalid continuation byte); save it as UTF-8, or use the csv format with a "
        "profile that names its encoding"
    )
    assert batch.summary == {"error": message}
    page = text(ana.get(f"/income/import/{batch.pk}/"))
    assert "Cannot read: big.csv" in page
    assert f"Keel could not read this file; nothing was imported. {message}" in page
    refused = ana.post(f"/income/import/{batch.pk}/apply/", follow=True)
    assert "Only a file that has been read and checked can be applied." in text(refused)
    assert "big.csv upwork Upwork" in text(ana.get("/income/import/"))
    assert "unreadable" in text(ana.get("/income/import/"))
    assert counts() == (0, 0, 0)


def test_a_check_gone_silent_is_shown_as_stopped(ana, worker):
    source = income.ensure_source(worker, "Upwork", kind="platform")
    batch = income.receive_upload(
        worker, name="upwork.csv", stream=UPWORK_CSV.open("rb"), fmt="upwork", source=source
    )
    # No word from any job (the state expired): the page stops waiting.
    lost = ana.get(f"/income/import/{batch.pk}/progress/")
    assert lost["HX-Refresh"] == "true"
    assert "Checking this file stopped without finishing" in text(
        ana.get(f"/income/import/{batch.pk}/")
    )
    # A job that reported, then fell silent for longer than a running job ever does.
    jobs.write_state(batch.pk, Job.PREVIEW, Stage.PARSE, 20_000)
    assert "Reading rows: 20,000 rows read" in text(ana.get(f"/income/import/{batch.pk}/"))
    key = jobs.progress_key(batch.pk)
    cache.set(key, {**cache.get(key), "at": time.time() - jobs.STALE_SECONDS - 1})
    assert ana.get(f"/income/import/{batch.pk}/progress/")["HX-Refresh"] == "true"
    assert (
        "Keel could not read this file; nothing was imported. The check stopped without "
        "finishing (the task runner may have restarted)."
    ) in text(ana.get(f"/income/import/{batch.pk}/"))


def test_a_slow_silent_step_keeps_its_job_alive(worker, monkeypatch):
    # A step that reports nothing for a while (a big commit) is not taken for a dead job:
    # the heartbeat renews the state meanwhile, and stops before the job's last word.
    monkeypatch.setattr(jobs, "HEARTBEAT_SECONDS", 0.02)
    source = income.ensure_source(worker, "Upwork", kind="platform")
    batch = income.receive_upload(
        worker, name="upwork.csv", stream=UPWORK_CSV.open("rb"), fmt="upwork", source=source
    )
    seen = []

    def slow_preview(batch, progress):
        seen.append(jobs.read_state(batch.pk))
        time.sleep(0.3)
        seen.append(jobs.read_state(batch.pk))
        return income.ImportSummary(format="upwork", rows_read=13)

    monkeypatch.setattr(income, "preview_batch", slow_preview)
    jobs.run_preview(batch.pk)
    assert [(s.job, s.stage) for s in seen] == [("preview", "parse"), ("preview", "parse")]
    assert seen[1].at > seen[0].at
    time.sleep(0.1)
    state = jobs.read_state(batch.pk)
    assert (state.stage, state.done, state.total) == ("done", 13, 13)


def test_a_job_waiting_long_asks_whether_a_task_runner_runs(ana, worker):
    source = income.ensure_source(worker, "Upwork", kind="platform")
    batch = income.receive_upload(
        worker, name="upwork.csv", stream=UPWORK_CSV.open("rb"), fmt="upwork", source=source
    )
    jobs.write_state(batch.pk, Job.PREVIEW, Stage.QUEUED)
    assert "task runner" not in text(ana.get(f"/income/import/{batch.pk}/progress/"))
    key = jobs.progress_key(batch.pk)
    cache.set(key, {**cache.get(key), "at": time.time() - jobs.SLOW_START_SECONDS - 1})
    waiting = ana.get(f"/income/import/{batch.pk}/progress/")
    assert "HX-Refresh" not in waiting  # a queued job is waiting, not dead
    assert (
        "Keel's task runner has not started this yet. If it stays like this, the task runner "
        "( keel tasks ) may not be running."
    ) in text(waiting)


def test_a_job_that_cannot_be_queued_says_so(ana, worker, monkeypatch):
    def unreachable(batch_id):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379")

    monkeypatch.setattr(tasks, "preview_import", unreachable)
    ana.post(
        "/income/import/",
        {"file": upload("upwork.csv", UPWORK_CSV.read_bytes()), "format": "upwork"},
    )
    batch = ImportBatch.objects.get(worker=worker)
    assert batch.status == ImportStatus.FAILED
    assert (
        "Keel could not read this file; nothing was imported. Keel could not queue this job "
        "(ConnectionError); try again shortly"
    ) in text(ana.get(f"/income/import/{batch.pk}/"))


def test_a_ledger_refusal_names_the_row():
    from keel.income.services import _at_row
    from keel.ledger.rules import FloorBreached

    chunk = [
        ("a", income_row(7, 100, on=date(2026, 3, 2))),
        ("b", income_row(9, 100, on=date(2026, 3, 3))),
    ]
    exc = FloorBreached("account worker:1:tax would go below its floor", field="journals[1].legs")
    refused = _at_row(exc, chunk)
    assert (str(refused), refused.field) == (
        "line 9: account worker:1:tax would go below its floor",
        "legs",
    )


def test_another_workers_import_is_not_found(ana, ben, worker):
    ana.post(
        "/income/import/",
        {"file": upload("upwork.csv", UPWORK_CSV.read_bytes()), "format": "upwork"},
    )
    batch = ImportBatch.objects.get(worker=worker)
    assert ben.get(f"/income/import/{batch.pk}/").status_code == 404
    assert ben.get(f"/income/import/{batch.pk}/progress/").status_code == 404
    assert ben.post(f"/income/import/{batch.pk}/apply/").status_code == 404
    batch.refresh_from_db()
    assert batch.status == ImportStatus.PREVIEWED
    assert IncomeItem.objects.count() == 0
    assert "upwork.csv" not in html(ben.get("/income/import/"))


def test_the_upload_still_checks_csrf(worker):
    # The upload view installs its size limit before CSRF is checked; the check must remain.
    client = Client(enforce_csrf_checks=True)
    client.force_login(worker)
    response = client.post(
        "/income/import/", {"file": upload("upwork.csv", UPWORK_CSV.read_bytes()), "format": "auto"}
    )
    assert response.status_code == 403
    assert ImportBatch.objects.count() == 0


def test_binary_files_are_refused_with_a_clear_message(ana):
    xlsx = b"PK\x03\x04" + b"\x00" * 64
    response = ana.post("/income/import/", {"file": upload("export.xlsx", xlsx), "format": "auto"})
    assert response.status_code == 400
    assert "This looks like a spreadsheet (.xlsx)" in text(response)
    binary = ana.post(
        "/income/import/", {"file": upload("photo.csv", b"abc\x00\x01def"), "format": "auto"}
    )
    assert "This file is not text (it contains binary data)." in text(binary)
    assert ImportBatch.objects.count() == 0


def test_files_over_the_limit_are_refused(ana, monkeypatch):
    # The real limit is 200 MB; one megabyte shows the same refusal without the upload.
    monkeypatch.setattr(income_forms, "MAX_UPLOAD_BYTES", income_forms.MB)
    big = UPWORK_CSV.read_bytes() * (income_forms.MB // len(UPWORK_CSV.read_bytes()) + 1)
    response = ana.post("/income/import/", {"file": upload("upwork.csv", big), "format": "auto"})
    assert response.status_code == 413
    words = text(response)
    assert "The file is larger than 1 MB, the most Keel imports at once." in words
    assert "Export a shorter date range" in words
    assert ImportBatch.objects.count() == 0


@pytest.mark.parametrize(
    ("header", "advice"),
    [
        # Stripe's Payments → Export, the export most Stripe users find first
        (b"id,Description,Seller Message,Created date (UTC),Amount,Amount Refunded,Currency,"
         b"Fee,Status\n", "This is Stripe's payments export. Keel reads the balance history"),
        # Etsy's Orders → Download CSV (sold orders)
        (b"Sale Date,Order ID,Buyer User ID,Full Name,Currency,Order Value,Order Total,"
         b"Card Processing Fees,Order Net\n", "This is Etsy's sold orders export. Keel reads "
         "the monthly statement"),
    ],
)  # fmt: skip
def test_another_export_of_a_known_platform_says_which_to_download(ana, header, advice):
    # Both were refused with "Keel could not tell the format", naming no way forward.
    response = ana.post("/income/import/", {"file": upload("x.csv", header), "format": "auto"})
    assert response.status_code == 400
    assert advice in text(response)
    assert ImportBatch.objects.count() == 0


def test_an_unknown_header_asks_for_the_format(ana):
    response = ana.post(
        "/income/import/",
        {"file": upload("bank.csv", b"when,what,how much\n2026-01-02,x,3\n"), "format": "auto"},
    )
    assert response.status_code == 400
    assert "Keel could not tell the format from the file's header." in text(response)
    generic = ana.post(
        "/income/import/", {"file": upload("bank.csv", b"when,what\n"), "format": "csv"}
    )
    assert "The generic CSV format reads a file through a saved import profile" in text(generic)
    assert ImportBatch.objects.count() == 0


def test_a_file_in_the_wrong_format_is_refused(ana):
    response = ana.post(
        "/income/import/", {"file": upload("x.csv", UPWORK_CSV.read_bytes()), "format": "etsy"}
    )
    assert response.status_code == 400
    assert "Keel cannot read this file as etsy" in text(response)


# ---------------------------------------------------------------------------- month


def test_a_month_lists_its_items_with_their_legs_and_totals(ana, worker):
    source = income.ensure_source(worker, "Verlag", kind="client")
    on = date(2026, 3, 5)
    income.set_rate(None, "EUR", "USD", on, "1.10")
    income.book_rows(
        worker,
        source,
        [
            income_row(2, 20_000, on=on, currency="EUR", description="Essay"),
            income_row(3, 10_000, fee=1_000, on=on + timedelta(days=3), description="Photos"),
            income_row(4, 2_500, on=date(2026, 4, 1)),  # the next month
        ],
    )
    response = ana.get("/income/month/2026-03/")
    assert response.status_code == 200
    page, words = html(response), text(response)
    # €200.00 at 1.10 is $220.00; $100.00 less a $10.00 fee is $90.00; together $310.00.
    assert "Counted as income: $310.00" in words
    assert "EUR 1 €200.00 €0.00 €0.00 €200.00 €0.00" in words
    assert "USD 1 $100.00 $10.00 $0.00 $90.00 $0.00" in words
    assert "Mar 5 Verlag Project Project Income €200.00 €0.00 €0.00 +€200.00 $220.00 1.1" in words
    item = IncomeItem.objects.get(description="Photos")
    assert f'id="journal-{item.journal_id}"' in page
    # The journal's legs: $90.00 held at the source and $10.00 of fees debited, $100.00
    # of project income credited.
    legs = page.split(f'id="journal-{item.journal_id}"')[1].split("</tr>\n          <tr")[0]
    legs_text = " ".join(re.sub(r"<[^>]+>", " ", legs).replace("\xa0", " ").split())
    assert "Held at Verlag (USD) $90.00" in legs_text
    assert "Verlag fees $10.00" in legs_text
    assert "Verlag (project) $100.00" in legs_text
    assert 'href="/income/month/2026-04/" rel="next"' in page


def test_months_that_are_not_yours_are_not_found(ana, ben, worker):
    source = income.ensure_source(worker, "Verlag", kind="client")
    income.book_rows(worker, source, [income_row(2, 20_000, on=date(2026, 3, 5))])
    assert ana.get("/income/month/2026-03/").status_code == 200
    assert ben.get("/income/month/2026-03/").status_code == 404
    assert ana.get("/income/month/2026-02/").status_code == 404
    assert ana.get("/income/month/2026-13/").status_code == 404


# ---------------------------------------------------------------------------- rates


def test_rates_page_lists_own_and_shared_rates_only(ana, worker, other):
    income.set_rate(None, "EUR", "USD", date(2026, 3, 2), "1.0842")
    income.set_rate(worker, "GBP", "USD", date(2026, 3, 3), "1.27")
    income.set_rate(other, "JPY", "USD", date(2026, 3, 4), "0.0067")
    words = text(ana.get("/income/rates/"))
    assert "Mar 3, 2026 GBP → USD 1.27 yours" in words
    assert "Mar 2, 2026 EUR → USD 1.0842 shared" in words
    assert "JPY" not in words


def test_a_rate_is_added_and_a_bad_one_refused(ana, worker):
    response = ana.post(
        "/income/rates/add/", {"base": "eur", "quote": "USD", "on": "2026-03-02", "rate": "1.0842"}
    )
    assert response.status_code == 302
    rate = ExchangeRate.objects.get(worker=worker)
    assert (rate.base, rate.quote, rate.on, rate.rate) == (
        "EUR",
        "USD",
        date(2026, 3, 2),
        Decimal("1.0842"),
    )
    bad = ana.post(
        "/income/rates/add/", {"base": "EUX", "quote": "USD", "on": "2026-03-03", "rate": "-2"}
    )
    assert bad.status_code == 400
    assert "The rate must be a positive number." in text(bad)
    unknown = ana.post(
        "/income/rates/add/", {"base": "EUX", "quote": "USD", "on": "2026-03-03", "rate": "2"}
    )
    assert unknown.status_code == 400
    assert "EUX" in text(unknown)
    assert ExchangeRate.objects.filter(worker=worker).count() == 1


def test_a_rate_file_is_imported_whole_or_not_at_all(ana, worker):
    good = b"date,base,quote,rate\n2026-03-02,EUR,USD,1.0842\n2026-03-03,EUR,USD,1.0850\n"
    response = ana.post("/income/rates/upload/", {"file": upload("rates.csv", good)}, follow=True)
    assert "Imported 2 rates." in text(response)
    bad = b"date,base,quote,rate\n2026-03-04,EUR,USD,1.09\n2026-03-05,EUR,USD,lots\n"
    refused = ana.post("/income/rates/upload/", {"file": upload("rates.csv", bad)})
    assert refused.status_code == 400
    assert "Nothing was imported: line 3, column rate: 'lots' is not a number" in text(refused)
    assert ExchangeRate.objects.filter(worker=worker).count() == 2


# ---------------------------------------------------------------------------- settings


def test_settings_are_saved_exactly(ana, worker):
    page = html(ana.get("/income/settings/"))
    assert 'name="tax_rate" value="25"' in page
    response = ana.post(
        "/income/settings/",
        {
            "essential_expenses": "2,400.50",
            "tax_set_aside": "on",
            "tax_rate": "27.25",
            "salary": "$3,100",
            "salary_day": "15",
        },
    )
    assert response.status_code == 302
    saved = IncomeSettings.objects.get(worker=worker)
    assert (
        saved.essential_expenses,
        saved.tax_set_aside,
        saved.tax_rate_bps,
        saved.salary,
        saved.salary_day,
    ) == (240_050, True, 2725, 310_000, 15)
    again = html(ana.get("/income/settings/"))
    assert 'value="2,400.50"' in again and 'value="27.25"' in again


def test_settings_refuse_three_decimals_and_change_nothing(ana, worker):
    income.income_settings(worker)
    before = list(IncomeSettings.objects.filter(worker=worker).values())
    response = ana.post(
        "/income/settings/",
        {"essential_expenses": "12.345", "tax_rate": "12.345", "salary": "0", "salary_day": "31"},
    )
    assert response.status_code == 400
    words = text(response)
    assert (
        "Enter an amount in USD, for example 2,400.00 "
        "(amount '12.345' has 3 decimals; USD allows 2)."
    ) in words
    assert "Use at most two decimals, e.g. 27.25." in words
    assert "Ensure this value is less than or equal to 28." in words
    assert list(IncomeSettings.objects.filter(worker=worker).values()) == before


def test_settings_refuse_an_amount_larger_than_the_ledger_holds(ana, worker):
    # 99,999,999,999,999,999 cents overflowed the database column: a server error.
    income.income_settings(worker)
    before = list(IncomeSettings.objects.filter(worker=worker).values())
    response = ana.post(
        "/income/settings/",
        {"essential_expenses": "99999999999999999", "salary": "10000000000000.01",
         "salary_day": "1", "tax_rate": "25"},
    )  # fmt: skip
    assert response.status_code == 400
    assert text(response).count("Enter an amount of at most 10,000,000,000,000.00 USD.") == 2
    assert list(IncomeSettings.objects.filter(worker=worker).values()) == before


def test_import_profile_page_saves_a_valid_profile_and_names_a_bad_key(client, db):
    worker = create_worker("pia@example.org", name="Pia", password="x-long-pass-1", currency="EUR")
    client.force_login(worker)
    url = reverse("income:import_profiles")
    assert client.get(url).status_code == 200
    config = (SAMPLES / "csv-bank.profile.json").read_text()
    response = client.post(url, {"config": config})
    assert response.status_code == 302
    assert list(ImportProfileRecord.objects.values_list("name", flat=True)) == ["Girokonto (DE)"]
    bad = client.post(url, {"config": '{"name": "x", "columns": {}}'})
    assert bad.status_code == 400
    assert "columns" in bad.content.decode()
    not_json = client.post(url, {"config": "{name"})
    assert "This is not JSON" in not_json.content.decode()
    assert ImportProfileRecord.objects.count() == 1


def _buffer_held(worker: User) -> int:
    from keel.ledger.services import balance as ledger_balance

    return ledger_balance(f"worker:{worker.pk}:buffer").posted


def test_the_dashboard_puts_money_into_the_buffer_and_takes_it_out(ana, worker, two_items):
    page = html(ana.get("/income/"))
    token = re.search(r'name="buffer-token" value="([^"]+)"', page)
    assert token is not None
    form = {"buffer-token": token.group(1), "buffer-amount": "1,250.00", "buffer-direction": "in"}
    response = ana.post("/income/buffer/", form)
    assert response.status_code == 302
    assert response["Location"] == "/income/#salary"
    assert "$1,250.00 put aside in your salary buffer." in text(ana.get("/income/"))
    # The browser sends the same form again: the money moved once.
    journals = Journal.objects.count()
    again = ana.post("/income/buffer/", form, follow=True)
    assert "Already done: $1,250.00 was moved when this form was first sent." in text(again)
    assert Journal.objects.count() == journals
    assert _buffer_held(worker) == 125_000
    out = {"buffer-token": "second-form-token", "buffer-amount": "250", "buffer-direction": "out"}
    assert ana.post("/income/buffer/", out).status_code == 302
    assert _buffer_held(worker) == 100_000


@pytest.mark.parametrize(
    ("amount", "direction", "error"),
    [
        ("20.01", "out", "The buffer holds $20.00: no more than that can come out."),
        ("0", "in", "Enter an amount above zero."),
        ("", "in", "Enter an amount."),
        ("12.345", "in", "USD"),
    ],
)
def test_a_refused_buffer_move_says_why_and_moves_nothing(
    ana, worker, two_items, amount, direction, error
):
    income.move_buffer(
        worker,
        2_000,
        into_buffer=True,
        on=timezone.localdate(),
        idempotency_key="first",
    )
    journals = Journal.objects.count()
    form = {"buffer-token": "t-refused", "buffer-amount": amount, "buffer-direction": direction}
    response = ana.post("/income/buffer/", form)
    assert response.status_code == 400
    assert error in text(response)
    assert Journal.objects.count() == journals
    assert _buffer_held(worker) == 2_000


def test_another_person_cannot_move_a_workers_buffer(ben, worker, two_items):
    form = {"buffer-token": "t-ben", "buffer-amount": "10", "buffer-direction": "in"}
    ben.post("/income/buffer/", form)
    assert _buffer_held(worker) == 0


def test_rejected_rows_after_a_title_block_keep_the_files_line_numbers(client, db):
    # The bank download opens with three lines (account, period, blank) before its header,
    # so its first row is line 5. The page said line numbers "count the header as line 1",
    # which sent the reader four rows too far down in their spreadsheet.
    pia = create_worker("pia@example.org", name="Pia", password="x-long-pass-1", currency="EUR")
    client.force_login(pia)
    config = (SAMPLES / "csv-bank.profile.json").read_text()
    client.post(reverse("income:import_profiles"), {"config": config})
    profile = ImportProfileRecord.objects.get(worker=pia)
    content = (SAMPLES / "csv-bank.csv").read_bytes().replace(b";1.250,00;", b";1.25x,00;")
    upload_form = {"file": upload("bank.csv", content), "format": "csv", "profile": profile.pk}
    client.post("/income/import/", {**upload_form, "source_name": "Girokonto"})
    batch = ImportBatch.objects.get(worker=pia)
    words = text(client.get(f"/income/import/{batch.pk}/"))
    assert "Line numbers are the file's own lines, counted from its first" in words
    assert "count the header as line 1" not in words
    assert "Line Column Reason 5 Betrag" in words
