"""The worker's benefits page, driven through Django's test client with state built by the
real gateway services: buckets, allocation, links and invitations, policies, contributions,
uses and elective withholding. Every refused request is checked to have changed nothing."""

from __future__ import annotations

import json
import re
import threading
from datetime import date, timedelta
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from keel.accounts.models import User
from keel.accounts.services import create_worker
from keel.gateway import services
from keel.gateway.models import (
    BenefitUse,
    LinkStatus,
    Platform,
    WithholdingConsent,
    WorkerLink,
)
from keel.gateway.rules.policy import Policy
from keel.gateway.tests.conftest import ALIA, PASSWORD, event
from keel.ledger.models import Journal

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
BENEFITS = "/benefits/"
TIDY_REF = "cleaner-7"


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture
def ana(worker: User) -> Client:
    client = Client()
    client.force_login(worker)
    return client


@pytest.fixture
def ben_user(db) -> User:
    return create_worker("ben@example.org", name="Ben Ode", password=PASSWORD)


@pytest.fixture
def ben(ben_user: User) -> Client:
    client = Client()
    client.force_login(ben_user)
    return client


@pytest.fixture
def tidy_link(worker: User, alia: Platform) -> WorkerLink:
    return services.link_with_code(alia, "cleaner-7", services.create_link_code(worker))


@pytest.fixture
def funded(worker: User, alia: Platform, tidy_link: WorkerLink) -> User:
    """$660.00 from Tidy ($5 a cleaning): 40 and 80 cleanings in January, 12 in February,
    split 30/30/20/10/10 into the buckets."""
    services.record_events(
        alia,
        [
            event("t1", "2026-01-05", 8_000, worker_ref="cleaner-7", jobs=40, description="Week 1"),
            event(
                "t2", "2026-01-12", 16_000, worker_ref="cleaner-7", jobs=80, description="Week 2"
            ),
            event("t3", "2026-02-03", 2_400, worker_ref="cleaner-7", jobs=12, description="Feb"),
        ],
    )
    return worker


FUNDED = {
    "health": 19_800,
    "retirement": 19_800,
    "time_off": 13_200,
    "emergency": 6_600,
    "tax": 6_600,
}


def buckets(worker: User) -> dict[str, int]:
    return {b.bucket: b.balance for b in services.bucket_balances(worker) if b.currency == "USD"}


def text(response) -> str:
    """The page's visible text, tags removed and whitespace collapsed."""
    return text_of(response.content.decode())


def text_of(html: str) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def token_of(response, slug: str) -> str:
    found = re.search(rf'name="{slug}-token" value="([^"]+)"', response.content.decode())
    assert found, f"no token for {slug}"
    return found.group(1)


def field_errors(response, html_id: str) -> str:
    found = re.search(
        rf'id="{html_id}-errors">(.*?)</div>\s*</div>', response.content.decode(), re.S
    )
    assert found, f"no errors shown for {html_id}"
    return unescape(re.sub(r"<[^>]+>|\s+", " ", found.group(1))).strip()


def use(client: Client, slug: str, token: str, amount: str, **extra: object):
    data = {f"{slug}-amount": amount, f"{slug}-currency": "USD", f"{slug}-token": token}
    data.update({f"{slug}-{k}": v for k, v in extra.items()})
    return client.post(f"/benefits/uses/{slug}/", data)


# ---------------------------------------------------------------------------- access


def test_urls_are_in_the_gateway_namespace():
    assert reverse("gateway:benefits") == BENEFITS
    assert reverse("gateway:benefits_statements") == "/benefits/statements/"
    assert (
        reverse("gateway:benefits_statement", kwargs={"year": "2026", "month": "01"})
        == "/benefits/statements/2026-01/"
    )
    assert (
        reverse("gateway:benefits_statement_pdf", kwargs={"year": "2026", "month": "01"})
        == "/benefits/statements/2026-01.pdf"
    )


def test_login_is_required(db):
    response = Client().get(BENEFITS)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_people_without_the_worker_role_are_refused(db):
    operator = User.objects.create_user("ops@example.org", PASSWORD, name="Ops")
    client = Client()
    client.force_login(operator)
    assert client.get(BENEFITS).status_code == 403
    assert client.post("/benefits/link-code/").status_code == 403


# ---------------------------------------------------------------------------- the page


def test_page_renders_for_a_new_worker(ana, worker):
    response = ana.get(BENEFITS)
    assert response.status_code == 200
    page = text(response)
    assert "Benefits account" in page
    assert 'data-testid="total-USD">$0.00<' in response.content.decode()
    assert "No platform is linked yet." in page
    assert "No contributions yet." in page
    assert "Nothing used yet." in page
    assert "Get a link code" in page
    # The opt-in shows the exact consent for the suggested rate.
    assert services.consent_text(500) in page
    assert 'data-figure="' not in response.content.decode()


def test_page_renders_with_balances_policies_contributions(ana, funded, platform, link):
    services.record_events(platform, [event("d1", "2026-01-15", 120_000, description="Dashes")])
    response = ana.get(BENEFITS)
    assert response.status_code == 200
    html = response.content.decode()
    page = text(response)
    # 4% of $1,200.00 back-dated from Dash on top of Tidy's $660.00.
    assert 'data-testid="total-USD">$708.00<' in html
    assert 'data-testid="bucket-health-USD">$212.40<' in html  # 19,800 + 1,440
    assert 'data-testid="bucket-time_off-USD">$141.60<' in html  # 13,200 + 960
    assert "gets 30% of new contributions" in page
    # Linked platforms and their published policies, in plain words.
    assert "Policies are public to the workers they cover." in page
    for line in Policy.from_dict(ALIA).describe():
        assert line in page
    assert "version 1 · in effect since January 1, 2026" in page
    assert "Time off is paid out in units of $120.00." in page
    assert "Paid in units of $120.00" in page
    assert "cleaner-7" in page and "dasher-1" in page
    # Recent contributions, newest first, with their policy version.
    rows = re.findall(r"<tr>\s*<td class=\"ps-3 text-nowrap\"><time datetime=\"([\d-]+)\"", html)
    assert rows[:4] == ["2026-02-03", "2026-01-15", "2026-01-12", "2026-01-05"]
    assert "$48.00" in page and "$400.00" in page and "v1" in page
    # The chart: one stacked bar per month, one trace per platform, exact amounts.
    figure = json.loads(
        re.search(
            r'<script id="fig-contributions-usd" type="application/json">(.*?)</script>',
            html,
            re.S,
        ).group(1)
    )
    traces = {t["name"]: t for t in figure["data"]}
    assert set(traces) == {"Dash", "Tidy"}
    assert traces["Tidy"]["x"] == ["2026-01-01", "2026-02-01"]
    assert traces["Tidy"]["y"] == ["600.00", "60.00"]
    assert traces["Dash"]["y"] == ["48.00", "0.00"]
    assert traces["Tidy"]["customdata"] == ["$600.00", "$60.00"]
    assert figure["layout"]["barmode"] == "stack"


def test_a_platform_linked_twice_shows_its_policy_once(ana, worker, alia, tidy_link):
    services.link_with_code(alia, "cleaner-8", services.create_link_code(worker))
    html = ana.get(BENEFITS).content.decode()
    assert html.count('data-testid="policy"') == 1
    assert html.count("cleaner-8") == 1 and html.count("cleaner-7") == 1


def test_chart_counts_contributions_released_from_suspense(ana, worker, alia):
    services.record_events(alia, [event("s1", "2026-03-03", 1_000, worker_ref="new-9", jobs=2)])
    assert "fig-contributions-usd" not in ana.get(BENEFITS).content.decode()
    services.link_with_code(alia, "new-9", services.create_link_code(worker))
    html = ana.get(BENEFITS).content.decode()
    figure = json.loads(
        re.search(r'id="fig-contributions-usd" type="application/json">(.*?)<', html).group(1)
    )
    assert figure["data"][0]["y"] == ["10.00"]
    assert "released from suspense" in html


# ---------------------------------------------------------------------------- allocation


def allocation_data(**percent: str) -> dict[str, str]:
    values = {"health": "30", "retirement": "30", "time_off": "20", "emergency": "10", "tax": "10"}
    values.update(percent)
    return {f"allocation-{k}": v for k, v in values.items()}


def test_allocation_is_saved_and_applies_to_future_contributions(ana, funded, alia):
    response = ana.post(
        "/benefits/allocation/",
        allocation_data(health="50", retirement="12.5", time_off="12.5", emergency="25", tax=""),
    )
    assert response.status_code == 302
    assert services.allocation_of(funded) == {
        "health": 5_000,
        "retirement": 1_250,
        "time_off": 1_250,
        "emergency": 2_500,
        "tax": 0,
    }
    assert buckets(funded) == FUNDED  # money already in the buckets stays
    services.record_events(alia, [event("t4", "2026-02-10", 100, worker_ref="cleaner-7", jobs=2)])
    after = buckets(funded)
    assert {b: after[b] - FUNDED[b] for b in FUNDED} == {
        "health": 500,
        "retirement": 125,
        "time_off": 125,
        "emergency": 250,
        "tax": 0,
    }
    page = text(ana.get(BENEFITS))
    assert "applies to contributions from now on" in page


def test_allocation_must_add_up_to_100(ana, worker):
    before = services.allocation_of(worker)
    response = ana.post("/benefits/allocation/", allocation_data(health="20"))
    assert response.status_code == 400
    assert "The buckets add up to 90%; they must add up to exactly 100%." in text(response)
    assert services.allocation_of(worker) == before


def test_allocation_errors_name_the_bucket(ana, worker):
    before = services.allocation_of(worker)
    response = ana.post("/benefits/allocation/", allocation_data(retirement="3x"))
    assert response.status_code == 400
    assert field_errors(response, "id_allocation-retirement").startswith("Retirement: enter a")
    response = ana.post("/benefits/allocation/", allocation_data(emergency="120", health="0"))
    assert response.status_code == 400
    assert field_errors(response, "id_allocation-emergency") == "Emergency can be at most 100%."
    response = ana.post("/benefits/allocation/", allocation_data(tax="10.125"))
    assert field_errors(response, "id_allocation-tax").startswith("Tax set-aside: enter a")
    assert services.allocation_of(worker) == before


# ---------------------------------------------------------------------------- links


def test_link_code_is_shown_once_and_links(ana, worker, alia):
    response = ana.post("/benefits/link-code/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    code = re.search(r"\b([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})\b", response.content.decode())
    assert code
    assert "expires in 24 hours" in text(response)
    assert code.group(1) not in ana.get(BENEFITS).content.decode()
    link = services.link_with_code(alia, "cleaner-1", code.group(1))
    assert link.worker == worker and link.status == LinkStatus.ACTIVE


def test_link_code_needs_post(ana):
    assert ana.get("/benefits/link-code/").status_code == 405


def test_invitation_is_accepted_and_releases_suspense(ana, worker, alia):
    services.record_events(alia, [event("s1", "2026-03-03", 1_000, worker_ref="inv-1", jobs=3)])
    invitation = services.invite(alia, "inv-1", worker.email)
    page = text(ana.get(BENEFITS))
    assert "Tidy invites you to link as inv-1" in page
    response = ana.post(f"/benefits/invitations/{invitation.pk}/accept/")
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == LinkStatus.ACTIVE and invitation.worker == worker
    assert sum(buckets(worker).values()) == 1_500
    assert "Linked to Tidy as inv-1" in text(ana.get(BENEFITS))


def test_invitation_is_declined(ana, worker, alia):
    invitation = services.invite(alia, "inv-2", worker.email)
    assert ana.post(f"/benefits/invitations/{invitation.pk}/decline/").status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == LinkStatus.DECLINED and invitation.worker is None
    assert "invites you" not in text(ana.get(BENEFITS))


def test_another_worker_cannot_answer_an_invitation(ben, worker, alia):
    invitation = services.invite(alia, "inv-3", worker.email)
    assert "Tidy invites you" not in text(ben.get(BENEFITS))
    assert ben.post(f"/benefits/invitations/{invitation.pk}/accept/").status_code == 404
    assert ben.post(f"/benefits/invitations/{invitation.pk}/decline/").status_code == 404
    invitation.refresh_from_db()
    assert invitation.status == LinkStatus.INVITED and invitation.worker is None


def test_end_a_link_after_confirming(ana, worker, tidy_link):
    confirm = ana.get(f"/benefits/links/{tidy_link.pk}/end/")
    assert confirm.status_code == 200
    assert "End the link with Tidy?" in text(confirm)
    tidy_link.refresh_from_db()
    assert tidy_link.status == LinkStatus.ACTIVE  # the confirmation page changes nothing
    response = ana.post(f"/benefits/links/{tidy_link.pk}/end/")
    assert response.status_code == 302
    tidy_link.refresh_from_db()
    assert tidy_link.status == LinkStatus.ENDED
    page = text(ana.get(BENEFITS))
    assert "ended" in page and "End link" not in page


def test_another_worker_cannot_see_or_end_a_link(ben, tidy_link):
    assert ben.get(f"/benefits/links/{tidy_link.pk}/end/").status_code == 404
    assert ben.post(f"/benefits/links/{tidy_link.pk}/end/").status_code == 404
    tidy_link.refresh_from_db()
    assert tidy_link.status == LinkStatus.ACTIVE
    assert "cleaner-7" not in text(ben.get(BENEFITS))


# ---------------------------------------------------------------------------- uses


def test_time_off_is_paid_in_whole_units(ana, funded):
    token = token_of(ana.get(BENEFITS), "time-off")
    response = use(ana, "time-off", token, "120.00", note="A week at the lake")
    assert response.status_code == 302
    taken = BenefitUse.objects.get(worker=funded)
    assert (taken.kind, taken.amount, taken.bucket, taken.note) == (
        "time_off",
        12_000,
        "time_off",
        "A week at the lake",
    )
    assert buckets(funded) == {**FUNDED, "time_off": 1_200}
    page = text(ana.get(BENEFITS))
    assert "Time-off payout: $120.00 paid to you from your time off bucket." in page
    assert "A week at the lake" in page


def test_double_submit_with_the_same_token_pays_once(ana, funded):
    token = token_of(ana.get(BENEFITS), "emergency")
    journals = Journal.objects.count()
    first = use(ana, "emergency", token, "20")
    second = use(ana, "emergency", token, "20")
    assert first.status_code == second.status_code == 302
    assert BenefitUse.objects.filter(worker=funded).count() == 1
    assert Journal.objects.count() == journals + 1
    assert buckets(funded)["emergency"] == 6_600 - 2_000
    # A fresh rendering has a fresh token: a second, deliberate withdrawal pays again.
    assert use(ana, "emergency", token_of(ana.get(BENEFITS), "emergency"), "20").status_code == 302
    assert buckets(funded)["emergency"] == 6_600 - 4_000


@pytest.mark.django_db(transaction=True)
def test_concurrent_double_submits_pay_once(funded):
    """Six submits of one form at the same moment (a double click on a slow network): one
    payout, one journal, and no submit fails."""
    start = threading.Barrier(6)
    outcomes: list[str] = []

    def submit() -> None:
        try:
            start.wait()
            done = services.use_benefit(
                funded, "emergency", 2_000, idempotency_key=f"web:{funded.pk}:same-token"
            )
            outcomes.append(f"use {done.pk}")
        except Exception as exc:
            outcomes.append(f"error: {type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    journals = Journal.objects.count()
    threads = [threading.Thread(target=submit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert [o for o in outcomes if o.startswith("error")] == []
    assert len(set(outcomes)) == 1 and len(outcomes) == 6
    assert BenefitUse.objects.filter(worker=funded).count() == 1
    assert Journal.objects.count() == journals + 1
    assert buckets(funded)["emergency"] == 6_600 - 2_000


def test_same_token_with_another_amount_is_refused(ana, funded):
    token = token_of(ana.get(BENEFITS), "emergency")
    assert use(ana, "emergency", token, "20").status_code == 302
    journals = Journal.objects.count()
    response = use(ana, "emergency", token, "30")
    assert response.status_code == 400
    assert "already made with different content" in text(response)
    assert Journal.objects.count() == journals
    assert buckets(funded)["emergency"] == 6_600 - 2_000


def test_use_above_the_bucket_balance_is_refused_and_changes_nothing(ana, funded):
    token = token_of(ana.get(BENEFITS), "time-off")
    journals, uses = Journal.objects.count(), BenefitUse.objects.count()
    response = use(ana, "time-off", token, "240")
    assert response.status_code == 400
    assert field_errors(response, "id_time-off-amount") == (
        "The time off bucket holds $132.00, less than $240.00."
    )
    assert Journal.objects.count() == journals
    assert BenefitUse.objects.count() == uses
    assert buckets(funded) == FUNDED


def test_time_off_not_in_whole_units_is_refused(ana, funded):
    token = token_of(ana.get(BENEFITS), "time-off")
    journals = Journal.objects.count()
    response = use(ana, "time-off", token, "100")
    assert response.status_code == 400
    assert field_errors(response, "id_time-off-amount") == (
        "Time off is paid in whole units of $120.00; $100.00 is not a whole number of units."
    )
    assert Journal.objects.count() == journals
    assert buckets(funded) == FUNDED


def test_time_off_units_hold_only_in_their_policys_currency(ana, funded, worker):
    # Tidy pays in USD with $120.00 units; a euro platform sets none.
    euro = services.create_platform(
        "Euro Gigs", policy={"currency": "EUR", "per_job": 500}, effective_from=date(2026, 1, 1)
    )
    services.link_with_code(euro, "e-1", services.create_link_code(worker))
    services.record_events(
        euro, [{**event("e1", "2026-02-02", 10_000, worker_ref="e-1", jobs=20), "currency": "EUR"}]
    )
    page = text(ana.get(BENEFITS))
    assert "Paid in units of $120.00 (any amount in EUR), as your platform's policy sets." in page
    token = token_of(ana.get(BENEFITS), "time-off")
    data = {"time-off-amount": "15", "time-off-currency": "EUR", "time-off-token": token}
    # €20.00 in the bucket: €15.00 was refused as not a whole number of €120.00 units.
    assert ana.post("/benefits/uses/time-off/", data).status_code == 302
    assert BenefitUse.objects.get(worker=worker).amount == 1_500
    refused = use(ana, "time-off", token_of(ana.get(BENEFITS), "time-off"), "15")
    assert field_errors(refused, "id_time-off-amount") == (
        "Time off is paid in whole units of $120.00; $15.00 is not a whole number of units."
    )


def test_amount_must_be_money(ana, funded):
    token = token_of(ana.get(BENEFITS), "emergency")
    for typed in ("ten", "-5", "0", "1.234"):
        response = use(ana, "emergency", token, typed)
        assert response.status_code == 400, typed
        assert field_errors(response, "id_emergency-amount")
    assert not BenefitUse.objects.exists()
    assert buckets(funded) == FUNDED


def test_health_expense_needs_a_receipt(ana, funded):
    token = token_of(ana.get(BENEFITS), "health")
    journals = Journal.objects.count()
    response = use(ana, "health", token, "50")
    assert response.status_code == 400
    assert field_errors(response, "id_health-receipt") == "This field is required."
    fake = SimpleUploadedFile("bill.pdf", b"not a pdf at all", content_type="application/pdf")
    response = use(ana, "health", token, "50", receipt=fake)
    assert field_errors(response, "id_health-receipt").startswith("This file is not a PDF")
    exe = SimpleUploadedFile("bill.exe", b"MZ", content_type="application/octet-stream")
    response = use(ana, "health", token, "50", receipt=exe)
    assert (
        field_errors(response, "id_health-receipt") == "A receipt must be a PDF, PNG or JPG file."
    )
    assert Journal.objects.count() == journals
    assert not BenefitUse.objects.exists()
    assert buckets(funded) == FUNDED


def test_receipt_over_10_mb_is_refused(ana, funded):
    token = token_of(ana.get(BENEFITS), "health")
    big = SimpleUploadedFile("scan.png", PNG + b"\x00" * (10 * 1024 * 1024), "image/png")
    response = use(ana, "health", token, "50", receipt=big)
    assert response.status_code == 400
    assert field_errors(response, "id_health-receipt") == "A receipt can be at most 10 MB."
    assert not BenefitUse.objects.exists()


def test_health_expense_is_reimbursed_with_its_receipt(ana, ben, funded):
    token = token_of(ana.get(BENEFITS), "health")
    receipt = SimpleUploadedFile("dentist.pdf", PDF, content_type="application/pdf")
    response = use(ana, "health", token, "85.50", receipt=receipt, note="Dentist")
    assert response.status_code == 302
    reimbursed = BenefitUse.objects.get(worker=funded)
    assert (reimbursed.amount, reimbursed.bucket, reimbursed.receipt_name) == (
        8_550,
        "health",
        "dentist.pdf",
    )
    assert buckets(funded)["health"] == 19_800 - 8_550
    download = ana.get(f"/benefits/uses/{reimbursed.pk}/receipt/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    # Another worker can neither fetch the receipt nor see the use.
    assert ben.get(f"/benefits/uses/{reimbursed.pk}/receipt/").status_code == 404
    assert "Dentist" not in text(ben.get(BENEFITS))


def test_retirement_transfer_names_its_provider(ana, funded):
    token = token_of(ana.get(BENEFITS), "retirement")
    response = use(ana, "retirement", token, "100")
    assert response.status_code == 400
    assert field_errors(response, "id_retirement-provider") == "This field is required."
    assert not BenefitUse.objects.exists()
    response = use(ana, "retirement", token, "100", provider="Vanguard IRA")
    assert response.status_code == 302
    moved = BenefitUse.objects.get(worker=funded)
    assert (moved.kind, moved.amount, moved.provider) == ("retirement", 10_000, "Vanguard IRA")
    assert buckets(funded)["retirement"] == 19_800 - 10_000
    assert "Vanguard IRA" in text(ana.get(BENEFITS))


def test_unknown_use_is_404(ana, funded):
    assert ana.post("/benefits/uses/tax/", {}).status_code == 404


# ---------------------------------------------------------------------------- withholding


def withholding_data(rate: str, shown: str, consent: bool = True) -> dict[str, str]:
    data = {"withholding-rate": rate, "withholding-shown_rate": shown}
    if consent:
        data["withholding-consent"] = "on"
    return data


def test_withholding_opt_in_records_the_text_shown(ana, worker):
    page = text(ana.get(BENEFITS))
    shown = services.consent_text(500)
    assert shown in page
    response = ana.post("/benefits/withholding/", withholding_data("5", "5"))
    assert response.status_code == 302
    consent = WithholdingConsent.objects.get(worker=worker)
    assert (consent.rate_bps, consent.consent_text, consent.revoked_at) == (500, shown, None)
    assert shown.startswith("I ask Keel to move 5% of every payment")
    page = text(ana.get(BENEFITS))
    assert "On · 5%" in page and "Stop withholding" in page
    assert f"You agreed on {consent.consented_at:%B} {consent.consented_at.day}" in page


def test_withholding_needs_the_box_ticked(ana, worker):
    response = ana.post("/benefits/withholding/", withholding_data("5", "5", consent=False))
    assert response.status_code == 400
    assert "Tick the box to agree" in text(response)
    assert not WithholdingConsent.objects.exists()


def test_a_changed_rate_shows_its_own_consent_first(ana, worker):
    response = ana.post("/benefits/withholding/", withholding_data("7.5", "5"))
    assert response.status_code == 400
    page = text(response)
    assert "You changed the rate to 7.5%" in page
    assert services.consent_text(750) in page
    assert 'name="withholding-shown_rate" value="7.5"' in response.content.decode()
    assert not WithholdingConsent.objects.exists()
    assert ana.post("/benefits/withholding/", withholding_data("7.5", "7.5")).status_code == 302
    consent = WithholdingConsent.objects.get(worker=worker)
    assert (consent.rate_bps, consent.consent_text) == (750, services.consent_text(750))


def test_withholding_rate_is_bounded(ana, worker):
    for rate in ("0", "60", "abc"):
        response = ana.post("/benefits/withholding/", withholding_data(rate, rate))
        assert response.status_code == 400, rate
        assert field_errors(response, "id_withholding-rate")
    assert not WithholdingConsent.objects.exists()


def test_stop_withholding_is_immediate(ana, worker):
    services.start_withholding(worker, 500)
    response = ana.post("/benefits/withholding/stop/")
    assert response.status_code == 302
    consent = WithholdingConsent.objects.get(worker=worker)
    assert consent.revoked_at is not None
    assert services.active_withholding(worker) is None
    assert "Off" in text(ana.get(BENEFITS))


def test_stop_acts_only_on_ones_own_consent(ben, worker):
    services.start_withholding(worker, 500)
    assert ben.post("/benefits/withholding/stop/").status_code == 302
    assert services.active_withholding(worker) is not None


def test_used_on_is_today(ana, funded):
    token = token_of(ana.get(BENEFITS), "emergency")
    use(ana, "emergency", token, "1")
    assert BenefitUse.objects.get().used_on == timezone.localdate()


def test_a_published_change_is_shown_before_it_starts(ana, worker, alia, tidy_link):
    # Tidy cuts its $5.00 a cleaning to $3.00 from a month ahead. The worker must read the
    # cut on their benefits page before it applies, not find it on a later statement.
    today = timezone.localdate()
    starts = today + timedelta(days=30)
    cut = {**ALIA, "per_job": 300}
    services.publish_policy(alia, cut, name="Tidy 2027", effective_from=starts)
    response = ana.get(BENEFITS)
    page, html = text(response), response.content.decode()
    assert "version 1 · in effect since January 1, 2026" in page
    assert html.count('data-testid="policy-upcoming"') == 1
    assert f"Coming From {starts:%B} {starts.day}, {starts.year}: Tidy 2027 · version 2" in page
    upcoming = html.split('data-testid="policy-upcoming"', 1)[1]
    for line in Policy.from_dict(cut).describe():
        assert line in text_of(upcoming)
    assert "$3.00" not in text_of(html.split('data-testid="policy-upcoming"', 1)[0])


def test_a_platform_whose_first_version_has_not_started_shows_it_as_coming(ana, worker):
    starts = timezone.localdate() + timedelta(days=10)
    later = services.create_platform("Later", policy=ALIA, effective_from=starts)
    services.link_with_code(later, "l-1", services.create_link_code(worker))
    page = text(ana.get(BENEFITS))
    assert "No policy is in effect yet: Later pays nothing for work before its first" in page
    assert f"Coming From {starts:%B} {starts.day}, {starts.year}: " in page


def test_a_version_that_has_started_is_no_longer_coming(ana, worker, alia, tidy_link):
    yesterday = timezone.localdate() - timedelta(days=1)
    services.publish_policy(
        alia, {**ALIA, "per_job": 300}, name="Tidy v2", effective_from=yesterday
    )
    page = text(ana.get(BENEFITS))
    assert "Tidy v2 · version 2 · in effect since" in page
    assert "Coming" not in page
