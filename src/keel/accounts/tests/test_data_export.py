"""A worker's data export: one zip archive with data.json, a CSV per collection, the files
they uploaded and a README; only ever their own data; the page's button, and
`keel worker export`. Built on two workers who share a platform, a pool and a peer group
(``worlds.two_workers``)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from keel.accounts.data_export import COLLECTIONS, csv_cell, write_archive
from keel.accounts.models import User
from keel.api.models import ApiKey
from keel.career import offers
from keel.career.models import TestimonialRequest
from keel.cli import main
from keel.gateway import services as gateway
from keel.gateway.models import BenefitsAccount, EarningsEvent, LinkCode
from keel.ledger.models import Account, Journal, Leg
from keel.pools.models import Repayment

from .worlds import MARKER, TwoWorkers, person, two_workers


@pytest.fixture
def world(db: None) -> TwoWorkers:
    return two_workers()


def archive_of(worker: User) -> zipfile.ZipFile:
    buffer = io.BytesIO()
    write_archive(worker, buffer)
    return zipfile.ZipFile(io.BytesIO(buffer.getvalue()))


def rows(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    with archive.open(name) as raw:
        return list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline="")))


def test_the_archive_holds_the_readme_data_json_a_csv_per_collection_and_the_uploads(
    world: TwoWorkers,
) -> None:
    archive = archive_of(world.ana)
    portfolio = world.ana.portfolio_items.get()
    assert set(archive.namelist()) == {
        "README.txt",
        "data.json",
        *(c.csv_name for c in COLLECTIONS),
        f"files/portfolio/{portfolio.pk}-{Path(portfolio.file.name).name}",
    }
    assert archive.read(f"files/portfolio/{portfolio.pk}-{Path(portfolio.file.name).name}") == (
        b"%PDF-1.4 ana portfolio"
    )
    readme = archive.read("README.txt").decode()
    assert "minor units" in readme
    for collection in COLLECTIONS:
        assert f"{collection.csv_name}: {collection.about}" in readme
        with archive.open(collection.csv_name) as raw:
            header = raw.readline().decode().rstrip("\n").split(",")
        assert header == list(collection.header), collection.csv_name


def test_every_collection_reads_back_the_workers_rows(world: TwoWorkers) -> None:
    buffer = io.BytesIO()
    summary = write_archive(world.ana, buffer)
    ledger_rows = {k: v for k, v in summary.counts.items() if k.startswith("ledger.")}
    own = Leg.objects.filter(account__owner_type="worker", account__owner_id=world.ana.pk)
    assert ledger_rows == {
        "ledger.accounts": Account.objects.filter(
            owner_type="worker", owner_id=world.ana.pk
        ).count(),
        "ledger.journals": own.values("journal_id").distinct().count(),
        "ledger.legs": own.count(),
    }
    assert {k: v for k, v in summary.counts.items() if not k.startswith("ledger.")} == {
        "account.profile": 1,
        "account.api_keys": 1,
        "account.consents": 3,
        "income.settings": 1,
        "income.sources": 4,
        "income.streams": 3,
        "income.entries": 9,
        "income.imports": 0,
        "income.import_profiles": 1,
        "income.exchange_rates": 1,
        "benefits.account": 1,
        "benefits.buckets": 5,
        "benefits.contributions": 2,
        "benefits.corrections": 0,
        "benefits.withdrawals": 1,
        "benefits.enrollments": 1,
        "benefits.premiums": 1,
        "benefits.platform_links": 1,
        "benefits.bundles": 0,
        "pools.memberships": 1,
        "pools.deposits": 1,
        "pools.claims": 1,
        "pools.gifts_received": 1,
        "pools.gifts_given": 0,
        "pools.repayments": 1,
        "pools.repayments_received": 0,
        "pools.claim_decisions": 0,
        "pools.ballots": 0,
        "career.contracts": 1,
        "career.milestones": 1,
        "career.milestone_events": 3,
        "career.invoice_adjustments": 0,
        "career.offers": 2,
        "career.subscribers": 1,
        "career.retainer_uses": 0,
        "career.subscription_events": 1,
        "career.offer_payments": 1,
        "career.plans": 1,
        "career.plan_actions": 1,
        "career.check_ins": 1,
        "career.plan_reviews": 0,
        "career.upsells": 1,
        "career.portfolio": 1,
        "career.testimonial_requests": 2,
        "career.testimonials": 1,
        "career.public_profile": 1,
        "career.skills": 1,
        "career.work_logs": 1,
        "career.peer_groups": 1,
        "career.referrals": 1,
    }
    # What Ben did in the pool is in his archive: his decision, his reserve's gift and
    # what Ana's repayment gave back to it.
    ben = write_archive(world.ben, io.BytesIO()).counts
    assert (
        ben["pools.claim_decisions"],
        ben["pools.gifts_given"],
        ben["pools.repayments"],
        ben["pools.repayments_received"],
    ) == (1, 1, 0, 1)
    assert summary.files == 1
    assert summary.files_missing == []


def test_data_json_nests_the_workers_rows_by_domain(world: TwoWorkers) -> None:
    ana = world.ana
    data = json.loads(archive_of(ana).read("data.json"))
    assert data["format"] == "keel-worker-data/1"
    assert data["worker_id"] == ana.pk
    assert list(data) == [
        "format",
        "generated_at",
        "worker_id",
        "account",
        "income",
        "ledger",
        "benefits",
        "pools",
        "career",
    ]
    profile = data["account"]["profile"]
    assert [(p["email"], p["name"], p["home_currency"], p["roles"]) for p in profile] == [
        ("ana@example.org", "Ana Souza", "USD", "pool member, worker")
    ]
    # Seven money rows of the Upwork sample, the membership payment, the released milestone.
    assert len(data["income"]["entries"]) == 9
    assert data["income"]["settings"] == [
        {
            "currency": "USD",
            "essential_expenses": 250_000,
            "essential_expenses_formatted": "2500.00",
            "salary": 300_000,
            "salary_formatted": "3000.00",
            "salary_day": 25,
            "tax_set_aside": True,
            "tax_rate_bps": 2500,
        }
    ]
    gift = data["pools"]["gifts_received"]
    assert [(g["pool_name"], g["gross"], g["received"], g["currency"]) for g in gift] == [
        ("Bakers Fund", 100_000, gift[0]["received"], "USD")
    ]
    assert gift[0]["received"] > 0
    # Ben is the only other member: his reserve gave the whole gift (debits on a reserve).
    given = json.loads(archive_of(world.ben).read("data.json"))["pools"]["gifts_given"]
    assert [(g["pool_name"], g["pseudonym"], g["amount"]) for g in given] == [
        ("Bakers Fund", "Member 1", gift[0]["received"])
    ]
    assert [m["pseudonym"] for m in data["pools"]["memberships"]] == ["Member 2"]
    referral = data["career"]["referrals"]
    assert [
        (r["direction"], r["title"], r["fee_amount"], r["fee_amount_formatted"]) for r in referral
    ] == [("received", "Translation gig", 2_000, "20.00")]
    # The contribution of the event that crossed USD 1,000: 4% of both events, backdated.
    contributions = {c["event_id"]: c["contribution"] for c in data["benefits"]["contributions"]}
    assert contributions == {"a1": 0, "a2": 4_800}
    # The ledger as the worker's own books: every leg on one of their accounts, and the
    # buckets as the gateway itself reads them.
    own = Leg.objects.filter(account__owner_type="worker", account__owner_id=ana.pk)
    codes = set(own.values_list("account__code", flat=True))
    assert {leg["account_code"] for leg in data["ledger"]["legs"]} == codes
    assert len(data["ledger"]["legs"]) == own.count()
    buckets = {(b["bucket"], b["currency"]): b["balance"] for b in data["benefits"]["buckets"]}
    assert buckets == {(b.bucket, b.currency): b.balance for b in gateway.bucket_balances(ana)}


def test_a_repayment_of_gifts_owed_back_is_in_both_members_archives(world: TwoWorkers) -> None:
    # Ana recovered on the 1st, reported after the month's run: its gift is owed back; she
    # paid $10.00 of it in, all of which went back to Ben's reserve (the only giver).
    repayment = Repayment.objects.get()
    ana_data = json.loads(archive_of(world.ana).read("data.json"))
    assert ana_data["pools"]["repayments"] == [
        {
            "claim_id": repayment.claim_id,
            "pool_name": "Bakers Fund",
            "kind": "paid",
            "currency": "USD",
            "amount": 1_000,
            "amount_formatted": "10.00",
            "received_on": timezone.localdate().isoformat(),
            "recorded_by": "Member 2",
            "vote_id": None,
            "journal_id": repayment.journal_id,
            "recorded_at": repayment.recorded_at.isoformat(),
        }
    ]
    assert ana_data["pools"]["repayments_received"] == []
    ben_data = json.loads(archive_of(world.ben).read("data.json"))
    assert ben_data["pools"]["repayments"] == []
    (received,) = ben_data["pools"]["repayments_received"]
    assert (received["pseudonym"], received["journal_id"], received["currency"]) == (
        "Member 1",
        repayment.journal_id,
        "USD",
    )
    # A credit on Ben's reserve: money coming back into it.
    assert (received["amount"], received["amount_formatted"]) == (-1_000, "-10.00")
    assert received["memo"].startswith("Member 2 gives back gifts for ")
    csv_row = rows(archive_of(world.ana), "csv/pools_repayments.csv")
    assert [(r["kind"], r["amount"], r["recorded_by"]) for r in csv_row] == [
        ("paid", "1000", "Member 2")
    ]


def test_a_platforms_correction_of_the_workers_event_is_in_the_archive(world: TwoWorkers) -> None:
    # a2 was $600.00 and crossed the $1,000.00 threshold with a1's $600.00: 4% of $1,200.
    # Corrected to $500.00, 4% of $1,100.00 = $44.00: $4.00 back.
    a2 = EarningsEvent.objects.get(event_id="a2")
    gateway.correct_event(
        a2.platform,
        {
            "correction_id": "fix-a2",
            "corrects": "a2",
            "worker_ref": a2.worker_ref,
            "currency": "USD",
            "gross": 50_000,
            "reason": "one delivery was refunded",
        },
    )
    data = json.loads(archive_of(world.ana).read("data.json"))
    (row,) = data["benefits"]["corrections"]
    assert (row["corrects"], row["correction_id"], row["currency"]) == ("a2", "fix-a2", "USD")
    assert (row["contribution"], row["difference"], row["booked"], row["shortfall"]) == (
        4_400,
        -400,
        -400,
        0,
    )
    assert row["reason"] == "one delivery was refunded"
    assert json.loads(archive_of(world.ben).read("data.json"))["benefits"]["corrections"] == []


def test_money_is_minor_units_with_currency_and_a_formatted_decimal(world: TwoWorkers) -> None:
    archive = archive_of(world.ana)
    legs = rows(archive, "csv/ledger_legs.csv")
    first_income = next(r for r in legs if r["account_code"].endswith(":income:upwork:project"))
    # A credit is negative and stays a number a spreadsheet can add (no quote in front).
    assert (first_income["amount"], first_income["amount_formatted"]) == ("-20000", "-200.00")
    assert first_income["currency"] == "USD"
    entries = rows(archive, "csv/income_entries.csv")
    assert (entries[0]["gross"], entries[0]["gross_formatted"], entries[0]["currency"]) == (
        "20000",
        "200.00",
        "USD",
    )


def test_text_cells_are_neutralised_against_spreadsheet_formulas(world: TwoWorkers) -> None:
    offer = world.ana.offers.get(name="Studio membership")
    offers.record_payment(
        offer, amount=1_500, on=date(2026, 2, 5), description='=HYPERLINK("http://x.example")'
    )
    archive = archive_of(world.ana)
    entries = rows(archive, "csv/income_entries.csv")
    entry = next(r for r in entries if "HYPERLINK" in r["description"])
    assert entry["description"] == '\'=HYPERLINK("http://x.example")'
    # data.json keeps the text as it was: JSON is never run as a formula.
    data = json.loads(archive.read("data.json"))
    assert '=HYPERLINK("http://x.example")' in [e["description"] for e in data["income"]["entries"]]
    assert csv_cell(-1_250) == "-1250"
    assert csv_cell("-1250") == "'-1250"
    assert csv_cell({"a": "=1"}) == '{"a": "=1"}'
    assert csv_cell(None) == ""


def test_another_workers_data_never_appears_in_the_archive(world: TwoWorkers) -> None:
    ana, ben = world.ana, world.ben
    for archive, other in ((archive_of(ana), ben), (archive_of(ben), ana)):
        for name in archive.namelist():
            text = archive.read(name).decode("utf-8", "replace").lower()
            assert other.email.lower() not in text, name
            assert other.name.lower() not in text, name
            assert f"worker:{other.pk}:" not in text, name
            if other == ben:
                assert MARKER not in text, name
    # Ben's own archive does carry his marked rows: the check above can fail.
    assert MARKER in archive_of(ben).read("data.json").decode().lower()


def test_secrets_are_never_exported(world: TwoWorkers) -> None:
    archive = archive_of(world.ana)
    text = "\n".join(archive.read(n).decode("utf-8", "replace") for n in archive.namelist())
    key = ApiKey.objects.get(user=world.ana)
    assert key.prefix in text
    assert key.secret_hash not in text
    assert world.ana_key_plaintext not in text
    for code_hash in LinkCode.objects.filter(worker=world.ana).values_list("code_hash", flat=True):
        assert code_hash not in text
    digests = TestimonialRequest.objects.filter(worker=world.ana).values_list("token_digest")
    assert len(digests) == 2
    for (digest,) in digests:
        assert digest
        assert digest not in text


def test_exporting_writes_nothing(db: None) -> None:
    cy = person("cy@example.org", "Cy Carpenter")
    before = (Journal.objects.count(), Account.objects.count(), BenefitsAccount.objects.count())
    data = json.loads(archive_of(cy).read("data.json"))
    assert data["benefits"] == {
        "account": [],
        "buckets": [],
        "contributions": [],
        "corrections": [],
        "withdrawals": [],
        "enrollments": [],
        "premiums": [],
        "platform_links": [],
        "bundles": [],
    }
    assert (Journal.objects.count(), Account.objects.count(), BenefitsAccount.objects.count()) == (
        before
    )


def test_the_settings_page_offers_the_download_and_closing(world: TwoWorkers) -> None:
    client = Client()
    client.force_login(world.ana)
    page = client.get(reverse("accounts:settings")).content.decode()
    assert "Your data" in page
    assert f'action="{reverse("accounts:data_export")}"' in page
    assert "Download all my data" in page
    assert reverse("accounts:close") in page


def test_download_all_my_data_streams_the_zip(world: TwoWorkers) -> None:
    client = Client()
    client.force_login(world.ana)
    response = client.post(reverse("accounts:data_export"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith(
        f'attachment; filename="keel-data-{world.ana.pk}-'
    )
    assert response["Cache-Control"] == "no-store"
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    data = json.loads(zipfile.ZipFile(io.BytesIO(body)).read("data.json"))
    assert data["worker_id"] == world.ana.pk


def test_download_needs_a_post_by_a_logged_in_person(world: TwoWorkers) -> None:
    anonymous = Client().post(reverse("accounts:data_export"))
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("accounts:login"))
    client = Client()
    client.force_login(world.ana)
    assert client.get(reverse("accounts:data_export")).status_code == 405


def test_keel_worker_export_writes_the_archive(world: TwoWorkers, tmp_path: Path, capsys) -> None:
    target = tmp_path / "ana.zip"
    assert main(["worker", "export", "ANA@example.org", "--output", str(target)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {target}: ")
    assert "1 uploaded file(s)" in out
    data = json.loads(zipfile.ZipFile(target).read("data.json"))
    assert data["account"]["profile"][0]["email"] == "ana@example.org"


def test_keel_worker_export_refuses_an_unknown_email(db: None, tmp_path: Path, capsys) -> None:
    target = tmp_path / "nobody.zip"
    assert main(["worker", "export", "nobody@example.org", "--output", str(target)]) == 1
    assert capsys.readouterr().err == "error: no worker with the email nobody@example.org\n"
    assert not target.exists()
