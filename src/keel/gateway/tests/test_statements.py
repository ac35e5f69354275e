"""Monthly benefits statements: the data (exact totals that reconcile with the ledger), the
page, and the PDF read back with pypdf. State is built through the real gateway services."""

from __future__ import annotations

import io
import re
from datetime import date
from html import unescape

import pytest
from django.test import Client
from django.utils import timezone
from pypdf import PdfReader

from keel.accounts.models import User
from keel.accounts.services import create_worker
from keel.gateway import services, statements
from keel.gateway.models import Platform, WorkerLink
from keel.gateway.tests.conftest import PASSWORD, event

TIDY_REF = "cleaner-7"


@pytest.fixture
def tidy_link(worker: User, alia: Platform) -> WorkerLink:
    return services.link_with_code(alia, TIDY_REF, services.create_link_code(worker))


@pytest.fixture
def history(worker: User, alia: Platform, platform: Platform, link, tidy_link) -> User:
    """January: Tidy pays $5 a cleaning (40 + 80 cleanings), Dash 4% of $1,200.00 once the
    $1,000 threshold is crossed, a $20.00 Tidy contribution for an unlinked reference is held
    in suspense, and the worker withdraws $50.00. February: 12 cleanings. Today: the held
    reference is linked and its $20.00 released."""
    services.record_events(
        alia,
        [
            event("t1", "2026-01-05", 8_000, worker_ref=TIDY_REF, jobs=40, description="Week 1"),
            event("t2", "2026-01-12", 16_000, worker_ref=TIDY_REF, jobs=80, description="Week 2"),
            event("s1", "2026-01-25", 1_000, worker_ref="cleaner-9", jobs=4, description="Held"),
            event("t3", "2026-02-03", 2_400, worker_ref=TIDY_REF, jobs=12, description="Feb"),
        ],
    )
    services.record_events(
        platform,
        [event("d1", "2026-01-15", 120_000, tips=5_000, bonus=2_000, description="Dashes")],
    )
    services.use_benefit(
        worker, "emergency", 5_000, on=date(2026, 1, 20), idempotency_key="t:emergency"
    )
    services.link_with_code(alia, "cleaner-9", services.create_link_code(worker))
    return worker


@pytest.fixture
def ana(worker: User) -> Client:
    client = Client()
    client.force_login(worker)
    return client


@pytest.fixture
def ben(db) -> Client:
    client = Client()
    client.force_login(create_worker("ben@example.org", name="Ben Ode", password=PASSWORD))
    return client


def pdf_text(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def text(response) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


# ---------------------------------------------------------------------------- data


def test_january_statement_has_exact_totals(history):
    s = statements.monthly_statement(history, 2026, 1)
    assert (s.first_day, s.last_day, s.label, s.slug) == (
        date(2026, 1, 1),
        date(2026, 1, 31),
        "January 2026",
        "2026-01",
    )
    assert (s.worker_name, s.worker_email) == ("Ana", "ana@example.org")
    assert [p.platform for p in s.platforms] == ["Dash", "Tidy"]
    dash, tidy = s.platforms
    assert [e.event_id for e in dash.events] == ["d1"]
    (d1,) = dash.events
    assert (d1.gross, d1.tips, d1.bonus, d1.earnings, d1.jobs, d1.contribution) == (
        120_000,
        5_000,
        2_000,
        127_000,
        1,
        4_800,
    )
    assert (d1.policy_version, d1.policy_name, d1.status_text) == (
        1,
        "Dash contribution policy",
        "credited",
    )
    assert [e.event_id for e in tidy.events] == ["t1", "t2", "s1"]
    assert [e.contribution for e in tidy.events] == [20_000, 40_000, 2_000]
    released = tidy.events[2]
    today = timezone.localdate()
    assert released.status == "released" and released.released_on == today
    assert released.status_text == f"held until you linked, released on {today:%b} {today.day}"
    (tidy_total,) = tidy.totals
    assert (tidy_total.currency, tidy_total.events, tidy_total.gross, tidy_total.jobs) == (
        "USD",
        3,
        25_000,
        124,
    )
    assert tidy_total.contribution == 62_000
    assert [p.text for p in tidy.policies] == [
        "v1 Tidy contribution policy (in effect from 2026-01-01)"
    ]
    (total,) = s.totals
    assert (total.events, total.gross, total.tips, total.bonus, total.contribution) == (
        4,
        145_000,
        5_000,
        2_000,
        66_800,
    )
    # The released $20.00 reached the buckets in the month it was released, not here.
    assert s.releases == ()
    assert [(u.label, u.amount, u.bucket, u.used_on) for u in s.uses] == [
        ("Emergency withdrawal", 5_000, "Emergency", date(2026, 1, 20))
    ]
    assert {b.bucket: (b.start, b.end) for b in s.buckets} == {
        "health": (0, 6_000 + 12_000 + 1_440),
        "retirement": (0, 6_000 + 12_000 + 1_440),
        "time_off": (0, 4_000 + 8_000 + 960),
        "emergency": (0, 2_000 + 4_000 + 480 - 5_000),
        "tax": (0, 2_000 + 4_000 + 480),
    }
    (usd,) = s.summaries
    assert [(m.label, m.amount) for m in usd.movements] == [
        ("Contributions from platforms", 64_800),
        ("Emergency withdrawal", -5_000),
    ]
    assert (usd.start, usd.moved, usd.end) == (0, 59_800, 59_800)


def test_every_month_reconciles_with_the_ledger(history):
    ends = {}
    for month in (1, 2, timezone.localdate().month):
        year = 2026
        s = statements.monthly_statement(history, year, month)
        for summary in s.summaries:
            assert summary.start + summary.moved == summary.end
        ends[month] = s.summaries[0].end
    feb = statements.monthly_statement(history, 2026, 2)
    assert feb.summaries[0].start == ends[1] == 59_800
    assert [(m.label, m.amount) for m in feb.summaries[0].movements] == [
        ("Contributions from platforms", 6_000)
    ]
    assert ends[2] == 65_800
    assert sum(b.balance for b in services.bucket_balances(history)) == 67_800


def test_release_from_suspense_is_on_the_month_it_happened(history):
    today = timezone.localdate()
    s = statements.monthly_statement(history, today.year, today.month)
    assert [(r.platform, r.worker_ref, r.amount, r.events, r.released_on) for r in s.releases] == [
        ("Tidy", "cleaner-9", 2_000, 1, today)
    ]
    assert [(m.label, m.amount) for m in s.summaries[0].movements] == [
        ("Released from suspense", 2_000)
    ]
    assert s.has_activity


def test_work_before_linking_is_on_the_statement_without_a_contribution(worker, platform):
    # Dash: nothing until $1,000 is earned in the quarter, then 4% of all of it.
    services.record_events(
        platform,
        [
            event("b1", "2026-10-02", 60_000, worker_ref="late"),
            event("b2", "2026-10-05", 40_000, worker_ref="late"),
        ],
    )
    services.link_with_code(platform, "late", services.create_link_code(worker))
    s = statements.monthly_statement(worker, 2026, 10)
    (dash,) = s.platforms
    assert [(e.event_id, e.contribution, e.status) for e in dash.events] == [
        ("b1", 0, "none"),
        ("b2", 4_000, "released"),
    ]
    (total,) = dash.totals
    assert (total.events, total.gross, total.contribution) == (2, 100_000, 4_000)
    assert [(m.slug, m.events) for m in statements.statement_months(worker)] == [
        (f"{timezone.localdate():%Y-%m}", 0),
        ("2026-10", 2),
    ]


def test_statement_months_lists_months_with_activity(history):
    today = timezone.localdate()
    months = statements.statement_months(history)
    assert [m.slug for m in months] == [f"{today:%Y-%m}", "2026-02", "2026-01"]
    by_slug = {m.slug: m for m in months}
    assert by_slug["2026-01"].contributions == (("USD", 66_800),)
    assert by_slug["2026-01"].events == 4
    assert by_slug["2026-02"].contributions == (("USD", 6_000),)


def test_a_month_without_activity_is_empty(worker):
    s = statements.monthly_statement(worker, 2026, 3)
    assert not s.has_activity
    assert s.platforms == () and s.uses == () and s.releases == ()
    assert statements.statement_months(worker) == []


def test_month_bounds_refuse_a_month_that_is_not_one():
    assert statements.month_bounds(2028, 2) == (date(2028, 2, 1), date(2028, 2, 29))
    assert statements.month_bounds(2026, 12) == (date(2026, 12, 1), date(2026, 12, 31))
    with pytest.raises(ValueError, match="month"):
        statements.month_bounds(2026, 13)


# ---------------------------------------------------------------------------- pages


def test_statement_list_renders_with_and_without_data(ana, ben, history):
    page = text(ana.get("/benefits/statements/"))
    assert "January 2026" in page and "February 2026" in page
    assert "$668.00" in page and "4 events" in page
    empty = ben.get("/benefits/statements/")
    assert empty.status_code == 200
    assert "No statements yet" in text(empty)
    assert "January 2026" not in text(empty)


def test_statement_page_shows_the_month(ana, history):
    response = ana.get("/benefits/statements/2026-01/")
    assert response.status_code == 200
    page = text(response)
    assert "Benefits statement: January 2026" in page
    assert "Ana (ana@example.org)" in page
    assert "v1 Dash contribution policy (in effect from 2026-01-01)" in page
    assert "Week 1" in page and "Dashes" in page
    assert "Total (USD), 3 events" in page and "$620.00" in page
    assert "Emergency withdrawal" in page and "$50.00" in page
    assert "held until you linked" in page
    html = response.content.decode()
    assert 'data-testid="start-USD">$0.00<' in html
    assert 'data-testid="end-USD">$598.00<' in html
    assert "All platforms: $668.00 contributed on $1,520.00 earned" in page
    assert 'href="/benefits/statements/2026-01.pdf"' in html
    assert 'href="/benefits/statements/2026-02/" rel="next"' in html


def test_statement_for_a_month_without_activity_is_404(ana, history):
    assert ana.get("/benefits/statements/2026-03/").status_code == 404
    assert ana.get("/benefits/statements/2026-03.pdf").status_code == 404
    assert ana.get("/benefits/statements/2026-13/").status_code == 404
    assert ana.get("/benefits/statements/2026-00.pdf").status_code == 404


def test_another_worker_cannot_see_a_statement(ben, history):
    assert ben.get("/benefits/statements/2026-01/").status_code == 404
    assert ben.get("/benefits/statements/2026-01.pdf").status_code == 404


def test_statements_need_login(db):
    assert Client().get("/benefits/statements/2026-01.pdf").status_code == 302


# ---------------------------------------------------------------------------- PDF


def test_pdf_is_a_real_document(ana, history):
    response = ana.get("/benefits/statements/2026-01.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="keel-benefits-2026-01.pdf"'
    assert response.content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(response.content))
    assert reader.metadata.title == "Benefits statement January 2026"
    assert reader.metadata.author == "Ana"
    pages = [page.extract_text() for page in reader.pages]
    whole = "\n".join(pages)
    for expected in (
        "Benefits statement: January 2026",
        "Portable benefits account of Ana (ana@example.org)",
        "Period: Jan 1, 2026 to Jan 31, 2026",
        "Your buckets",
        "Total (USD)",
        "Contributions from platforms",
        "+$648.00",
        "Emergency withdrawal",
        "-$50.00",
        "Balance at the end of the month",
        "$598.00",
        "What each platform paid",
        "Dash",
        "Policy v1 Dash contribution policy (in effect from 2026-01-01)",
        "Dashes",
        "$1,200.00",
        "$48.00",
        "Tidy",
        "Week 1",
        "$620.00",
        "All platforms",
        "$668.00",
        "Released from suspense",
        "Uses",
    ):
        assert expected in whole, expected
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert "Keel · Benefits statement · January 2026 · Ana" in page


def test_pdf_of_a_long_month_numbers_every_page(worker, alia, tidy_link):
    services.record_events(
        alia,
        [
            event(f"m{i}", f"2026-05-{1 + i % 28:02d}", 1_000, worker_ref=TIDY_REF, jobs=1)
            for i in range(150)
        ],
    )
    statement = statements.monthly_statement(worker, 2026, 5)
    assert statement.platforms[0].totals[0].contribution == 150 * 500
    pages = pdf_text(statements.render_pdf(statement))
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
    # The table's header repeats on every page it runs over.
    assert all("Contribution" in page for page in pages[1:-1])
    assert "$750.00" in pages[-1] or "$750.00" in "\n".join(pages)


def test_pdf_is_the_same_for_the_same_statement(history):
    s = statements.monthly_statement(history, 2026, 1)
    issued = date(2026, 2, 1)
    first = statements.render_pdf(s, issued=issued)
    assert first == statements.render_pdf(s, issued=issued)
    assert "Issued Feb 1, 2026" in pdf_text(first)[0]


def test_pdf_escapes_what_platforms_wrote(worker, alia, tidy_link):
    services.record_events(
        alia,
        [event("x1", "2026-06-02", 1_000, worker_ref=TIDY_REF, description="Tom & <Jerry>")],
    )
    pages = pdf_text(statements.render_pdf(statements.monthly_statement(worker, 2026, 6)))
    assert "Tom & <Jerry>" in "\n".join(pages)
