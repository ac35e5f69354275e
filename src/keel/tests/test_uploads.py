"""Hostile uploads: every file a page takes is cut off at its limit while it streams in,
checked by its content rather than its name, and stored nowhere when refused; stored
files stay out of the web root and reach only their owner.

Each page's limit is lowered here to a megabyte (the real ones are 10 MB for receipts and
portfolio files, 200 MB for imports): only the limit applied while the file streams in
sees the lowered figure, so a refusal below the form's own limit proves that one acted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import SkipFile
from django.test import Client

import keel.gateway.services as gateway_services
from keel.accounts.models import User
from keel.accounts.services import create_worker
from keel.bench_gateway import make_events
from keel.career import reputation_services
from keel.career.models import PortfolioItem
from keel.gateway import forms as gateway_forms
from keel.gateway.errors import GatewayError
from keel.gateway.models import BenefitUse
from keel.gateway.services import receipt_matches
from keel.gateway.tests.conftest import ALIA, event
from keel.gateway.tests.test_benefits_views import field_errors, token_of, use
from keel.income import forms as income_forms
from keel.income.models import ExchangeRate
from keel.ledger.models import Journal
from keel.uploads import MB, SizeLimitUploadHandler

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 "
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00"


def files_under(root: str | Path) -> set[Path]:
    return {p for p in Path(root).rglob("*") if p.is_file()} if Path(root).exists() else set()


# ---------------------------------------------------------------------------- the handler


def test_the_handler_drops_a_file_at_the_first_chunk_past_its_limit():
    handler = SizeLimitUploadHandler(None, 100)
    handler.new_file("health-receipt", "bill.pdf", "application/pdf", None)
    assert handler.receive_data_chunk(b"x" * 60, 0) == b"x" * 60
    assert handler.receive_data_chunk(b"x" * 40, 60) == b"x" * 40  # exactly the limit
    assert handler.refused == []
    with pytest.raises(SkipFile):
        handler.receive_data_chunk(b"x", 100)
    assert handler.refused == ["health-receipt"]
    assert handler.too_large


@pytest.mark.parametrize(
    ("head", "suffix", "matches"),
    [
        (PDF, ".pdf", True),
        (PNG, ".png", True),
        (JPEG, ".jpg", True),
        (JPEG, ".jpeg", True),
        (WEBP, ".webp", True),
        (HEIC, ".heic", True),
        (PNG, ".pdf", False),
        (PDF, ".png", False),
        (b"MZ\x90\x00", ".jpg", False),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", ".webp", False),
        (b"\x00\x00\x00\x18ftypisom", ".heic", False),
        (b"<html><script>", ".pdf", False),
        (PDF, ".exe", False),
        (b"", ".pdf", False),
    ],
)
def test_a_receipt_is_known_by_its_first_bytes(head, suffix, matches):
    assert receipt_matches(head[:16], suffix) is matches


# ---------------------------------------------------------------------------- receipts


@pytest.fixture
def ana(db) -> tuple[User, Client]:
    """A worker whose health bucket holds $198.00 from a cleaning platform."""
    worker = create_worker("ana@example.org", name="Ana", password=None)
    tidy = gateway_services.create_platform("Tidy", policy=ALIA, effective_from=date(2026, 1, 1))
    gateway_services.link_with_code(tidy, "cleaner-7", gateway_services.create_link_code(worker))
    gateway_services.record_events(
        tidy,
        [event(f"t{i}", "2026-01-05", 8_000, worker_ref="cleaner-7", jobs=40) for i in (1, 2, 3)],
    )
    client = Client()
    client.force_login(worker)
    return worker, client


def health(worker: User) -> int:
    return {b.bucket: b.balance for b in gateway_services.bucket_balances(worker)}["health"]


def test_a_receipt_over_the_limit_is_dropped_as_it_streams_in_and_nothing_is_stored(
    ana, monkeypatch
):
    worker, client = ana
    monkeypatch.setattr(gateway_services, "MAX_RECEIPT_BYTES", MB)
    token = token_of(client.get("/benefits/"), "health")
    bucket, journals = health(worker), Journal.objects.count()
    stored = files_under(settings.MEDIA_ROOT)
    big = SimpleUploadedFile("bill.pdf", PDF + b" " * MB, content_type="application/pdf")
    response = use(client, "health", token, "50", receipt=big)
    assert response.status_code == 400
    # The page's words for its real limit; the form alone would have taken this file.
    assert gateway_forms.RECEIPT_LIMIT_MESSAGE == "A receipt can be at most 10 MB."
    assert field_errors(response, "id_health-receipt") == gateway_forms.RECEIPT_LIMIT_MESSAGE
    assert not BenefitUse.objects.exists()
    assert (health(worker), Journal.objects.count()) == (bucket, journals)
    assert files_under(settings.MEDIA_ROOT) == stored
    # The same receipt under the limit is taken: the limit, nothing else, refused it.
    fits = SimpleUploadedFile("bill.pdf", PDF + b" " * (MB - 100), content_type="application/pdf")
    assert use(client, "health", token, "50", receipt=fits).status_code == 302
    assert health(worker) == bucket - 5_000


def test_a_receipt_whose_content_is_not_its_type_stores_nothing(ana):
    worker, client = ana
    token = token_of(client.get("/benefits/"), "health")
    bucket, stored = health(worker), files_under(settings.MEDIA_ROOT)
    forged = SimpleUploadedFile("bill.pdf", b"<html><script>alert(1)</script>", "application/pdf")
    response = use(client, "health", token, "50", receipt=forged)
    assert response.status_code == 400
    assert field_errors(response, "id_health-receipt") == (
        "This file is not a PDF: its content does not match its name."
    )
    assert not BenefitUse.objects.exists()
    assert (health(worker), files_under(settings.MEDIA_ROOT)) == (bucket, stored)


def test_the_service_checks_a_receipts_content_too(ana):
    worker, _ = ana
    bucket = health(worker)
    with pytest.raises(GatewayError) as refused:
        gateway_services.use_benefit(
            worker,
            "health",
            5_000,
            receipt=SimpleUploadedFile("scan.webp", b"MZ\x90\x00" * 8),
            receipt_name="scan.webp",
            idempotency_key="api:1",
        )
    assert (refused.value.field, refused.value.message) == (
        "receipt",
        "this file is not a WEBP: its content does not match its name",
    )
    assert not BenefitUse.objects.exists()
    assert health(worker) == bucket


def test_a_stored_receipt_is_private_and_served_to_its_owner_only(ana):
    worker, client = ana
    token = token_of(client.get("/benefits/"), "health")
    receipt = SimpleUploadedFile("dentist.pdf", PDF, content_type="application/pdf")
    assert use(client, "health", token, "85.50", receipt=receipt).status_code == 302
    found = BenefitUse.objects.get(worker=worker)
    path = Path(found.receipt.path).resolve()
    assert path.is_relative_to(Path(settings.MEDIA_ROOT).resolve())
    assert not path.is_relative_to(Path(settings.STATIC_ROOT).resolve())
    assert path.stat().st_mode & 0o777 == 0o600
    own = client.get(f"/benefits/uses/{found.pk}/receipt/")
    assert own.status_code == 200
    assert b"".join(own.streaming_content) == PDF
    other = Client()
    other.force_login(create_worker("ben@example.org", name="Ben", password=None))
    assert other.get(f"/benefits/uses/{found.pk}/receipt/").status_code == 404
    for url in no_url_serves(found.receipt.name):
        assert client.get(url).status_code == 404, url


def no_url_serves(name: str) -> list[str]:
    """Addresses someone might try for a stored file: none may answer."""
    return [
        f"/media/{name}",
        f"/static/{name}",
        f"/static/../media/{name}",
        f"/static/%2e%2e/media/{name}",
        f"/{name}",
        f"/media/private/{name}",
    ]


# ---------------------------------------------------------------------------- portfolio


@pytest.fixture
def maya(db) -> Client:
    client = Client()
    client.force_login(create_worker("maya@example.org", name="Maya", password=None))
    return client


def test_a_portfolio_file_over_the_limit_saves_no_item(maya, monkeypatch):
    monkeypatch.setattr(reputation_services, "MAX_FILE_BYTES", MB)
    stored = files_under(settings.MEDIA_ROOT)
    response = maya.post(
        "/career/portfolio/",
        {
            "token": "p-1",
            "title": "Annual report",
            "file": SimpleUploadedFile("report.pdf", PDF + b" " * MB, "application/pdf"),
        },
    )
    # Without the error the form would see no file, and save the item without it.
    assert response.status_code == 400
    assert field_errors(response, "id_file") == "File: can be at most 1 MB."
    assert not PortfolioItem.objects.exists()
    assert files_under(settings.MEDIA_ROOT) == stored


def test_a_stored_portfolio_file_is_private_and_no_url_serves_it(maya):
    made = maya.post(
        "/career/portfolio/",
        {
            "token": "p-1",
            "title": "Annual report",
            "file": SimpleUploadedFile("report.pdf", PDF, "application/pdf"),
        },
    )
    assert made.status_code == 302
    item = PortfolioItem.objects.get()
    path = Path(item.file.path).resolve()
    assert path.is_relative_to(Path(settings.MEDIA_ROOT).resolve() / "private")
    assert path.stat().st_mode & 0o777 == 0o600
    for url in no_url_serves(item.file.name):
        assert maya.get(url).status_code == 404, url
        assert Client().get(url).status_code == 404, url


# ---------------------------------------------------------------------------- income


def test_a_rate_file_over_the_limit_is_dropped_as_it_streams_in(db, monkeypatch):
    worker = create_worker("rates@example.org", name="Rita", password=None)
    client = Client()
    client.force_login(worker)
    monkeypatch.setattr(income_forms, "MAX_RATE_FILE_BYTES", MB)
    rates = b"date,base,quote,rate\n" + b"2026-03-02,EUR,USD,1.0842\n" * (MB // 26 + 1)
    response = client.post("/income/rates/upload/", {"file": SimpleUploadedFile("r.csv", rates)})
    assert response.status_code == 400
    assert "The rate file is larger than 5 MB; split it." in response.content.decode()
    assert not ExchangeRate.objects.exists()


# ---------------------------------------------------------------------------- settings


def test_the_web_root_holds_no_upload():
    media = Path(settings.MEDIA_ROOT).resolve()
    assert not media.is_relative_to(Path(settings.STATIC_ROOT).resolve())
    assert settings.MEDIA_URL in ("", "/")  # no address is given to the media folder


def test_a_static_root_over_the_uploads_is_refused_at_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env.update({"KEEL_DATA_DIR": str(tmp_path), "KEEL_STATIC_ROOT": str(tmp_path)})
    started = subprocess.run(
        [sys.executable, "-c", "import keel.settings"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert started.returncode == 1
    assert (
        f"ImproperlyConfigured: KEEL_STATIC_ROOT ({tmp_path}) holds the private uploads in "
        f"{tmp_path / 'media'}; choose a static directory outside KEEL_DATA_DIR/media"
    ) in started.stderr


def test_the_request_limit_takes_a_full_batch_of_earnings_events_with_room_to_spare():
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    typical = make_events(10_000, ["worker-00001"], [], prefix="bench", seed=1)
    longest = {
        "event_id": "e" * 120,
        "worker_ref": "w" * 120,
        "occurred_at": "2026-03-02T14:30:00.000000+00:00",
        "gross": 10**15,
        "tips": 10**15,
        "bonus": 10**15,
        "currency": "USD",
        "jobs": 10**6,
        "description": "d" * 500,
        "worker_status": "s" * 40,
    }
    accented = {**longest, "event_id": "é" * 120, "worker_ref": "é" * 120, "description": "é" * 500}

    def body_size(events: list[dict[str, object]], *, raw: bool = False) -> int:
        return len(json.dumps({"events": events}, ensure_ascii=not raw).encode())

    assert body_size(typical) * 10 < limit
    assert body_size([longest] * 10_000) * 3 < limit
    assert body_size([accented] * 10_000, raw=True) * 3 // 2 < limit


@pytest.mark.parametrize(
    "path",
    [
        "/benefits/uses/health/",
        "/career/portfolio/",
        "/career/portfolio/1/edit/",
        "/income/import/",
        "/income/rates/upload/",
    ],
)
def test_every_limited_upload_still_checks_csrf(db, path):
    # The limit is installed before the CSRF check reads the body; the check must remain.
    client = Client(enforce_csrf_checks=True)
    client.force_login(create_worker("csrf@example.org", name="Cy", password=None))
    response = client.post(path, {"file": SimpleUploadedFile("x.pdf", PDF), "title": "x"})
    assert response.status_code == 403
    assert not PortfolioItem.objects.exists()
    assert not BenefitUse.objects.exists()
