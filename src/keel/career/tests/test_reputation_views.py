"""The reputation pages through Django's test client: the client's testimonial page works
once and refuses forged, expired and used links with 400/410 writing nothing; the link is
shown once; a private profile is a 404 to everyone but its worker; a public profile shows
only shown testimonials and no private data; uploads are served to their worker only; and
another worker gets a 404 on my portfolio item, request and testimonial."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import timedelta
from html import unescape

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from keel.accounts.models import User
from keel.career import offers
from keel.career import reputation_services as services
from keel.career.models import PortfolioItem, Testimonial, TestimonialRequest

from .test_reputation import ask, write
from .test_views import text

Login = Callable[[User | None], Client]
PDF = b"%PDF-1.4\n% a tiny test file\n"
FEEDBACK = {"author_name": "Ada", "author_role": "CTO, Acme", "text": "Clear, fast and kind."}


def link_path(page_html: str) -> str:
    found = re.search(r'id="new-link-url"[^>]*value="([^"]+)"', page_html)
    assert found is not None
    url = unescape(found[1])
    return "/" + url.split("/", 3)[3]


def test_the_link_is_shown_once_and_the_client_writes_once(maya: User, login: Login) -> None:
    worker = login(maya)
    made = worker.post(
        "/career/testimonials/",
        {"token": "r-1", "client_name": "Ada Client", "client_email": "ada@acme.example"},
    )
    assert made.status_code == 200
    assert "It is shown only now" in text(made) and "valid until" in text(made)
    path = link_path(made.content.decode())
    assert path.startswith("/t/t1.")
    token = path.split("/")[2]
    # Not on the list page afterwards, and a resent form does not show it again.
    assert token not in worker.get("/career/testimonials/").content.decode()
    resent = worker.post(
        "/career/testimonials/",
        {"token": "r-1", "client_name": "Ada Client", "client_email": "ada@acme.example"},
        follow=True,
    )
    assert token not in resent.content.decode() and "already sent" in text(resent)
    assert TestimonialRequest.objects.count() == 1

    client = Client()  # no account
    form = client.get(path)
    assert form.status_code == 200 and "A testimonial for Maya Maker" in text(form)
    # It told the client the worker would choose to show it, though it is shown at once.
    assert (
        "What you write is shown at once, marked verified, on Maya Maker's profile when"
        " their profile is public (Maya Maker can hide it at any time)"
    ) in text(form)
    assert form["Cache-Control"].startswith("max-age=0")
    done = client.post(path, FEEDBACK)
    assert done.status_code == 200 and "Thank you" in text(done)
    assert Testimonial.objects.get().request.used_at is not None
    assert Testimonial.objects.get().shown
    again = client.post(path, {**FEEDBACK, "text": "Second go"})
    assert again.status_code == 410 and "already been written" in text(again)
    assert client.get(path).status_code == 410
    assert Testimonial.objects.count() == 1
    # The worker sees it, verified, and can hide it.
    page = text(worker.get("/career/testimonials/"))
    assert "Clear, fast and kind." in page and "verified" in page
    t = Testimonial.objects.get()
    assert worker.post(f"/career/testimonials/{t.pk}/shown/", {"shown": "0"}).status_code == 302
    t.refresh_from_db()
    assert not t.shown


def test_forged_wrong_and_expired_links_get_a_clear_page_and_nothing_is_written(
    maya: User,
) -> None:
    row, token = ask(maya)
    version, payload, signature = token.split(".")
    client = Client()
    for bad, status in (
        (f"{version}.{payload}.{signature[::-1]}", 400),
        ("t1.garbage.garbage", 400),
        ("nothing", 400),
    ):
        got = client.post(f"/t/{bad}/", FEEDBACK)
        assert got.status_code == status
        assert "This link cannot be used" in text(got) and "Nothing was saved" in text(got)
    _, expired = ask(maya, now=timezone.now() - timedelta(days=40))
    got = client.post(f"/t/{expired}/", FEEDBACK)
    assert got.status_code == 410 and "expired" in text(got)
    services.replace_link(row)  # the first link is replaced: the old one is refused
    assert client.post(f"/t/{token}/", FEEDBACK).status_code == 400
    assert Testimonial.objects.count() == 0
    assert not TestimonialRequest.objects.filter(used_at__isnull=False).exists()


def test_a_private_profile_is_not_public(maya: User, noor: User, login: Login) -> None:
    owner = login(maya)
    assert owner.get("/career/profile/").status_code == 200
    saved = owner.post("/career/profile/", {"handle": "maya", "headline": "Long-form writer"})
    assert saved.status_code == 302
    assert Client().get("/p/maya/").status_code == 404
    assert login(noor).get("/p/maya/").status_code == 404
    mine = owner.get("/p/maya/")
    assert mine.status_code == 200 and "This profile is private" in text(mine)
    assert Client().get("/p/nobody-here/").status_code == 404
    # A bad handle is refused on the form.
    refused = owner.post("/career/profile/", {"handle": "Admin"})
    assert refused.status_code == 400 and "lowercase" in text(refused)


def test_a_public_profile_shows_only_shown_testimonials_and_no_private_data(
    maya: User, login: Login
) -> None:
    owner = login(maya)
    owner.post("/career/profile/", {"handle": "maya", "bio": "I write.", "public": "on"})
    _, shown = ask(maya, client_name="Ada", client_email="ada@acme.example")
    write(shown, text="Shown words.")
    _, hidden = ask(maya, client_name="Bo", client_email="bo@secret.example")
    services.set_shown(write(hidden, text="Hidden words.", author_name="Bo"), False)
    offers.create_offer(
        maya, name="Studio membership", kind="membership", price=30_00, currency="EUR",
        interval="month",
    )  # fmt: skip
    offers.create_offer(maya, name="Audit", kind="one_off_service", price=450_00, currency="EUR")
    item = services.create_portfolio_item(
        maya,
        title="A long essay",
        link="https://example.org/essay",
        client_name="Acme",
        skills="writing, research",
        upload=SimpleUploadedFile("draft.pdf", PDF),
        upload_name="draft.pdf",
    )
    page = Client().get("/p/maya/")
    assert page.status_code == 200
    html, body = page.content.decode(), text(page)
    assert "Shown words." in body and "Hidden words." not in body
    assert "verified" in body and "This profile is private" not in body
    assert "Studio membership (membership): €30.00 a month" in body
    assert "Audit (one-off service): €450.00 once" in body
    assert "A long essay" in body and "https://example.org/essay" in html
    # No client emails, no upload, no private link.
    assert "@acme.example" not in html and "@secret.example" not in html
    assert f"/career/portfolio/{item.pk}/file/" not in html and "draft.pdf" not in html


def test_uploads_are_served_to_their_worker_only(maya: User, noor: User, login: Login) -> None:
    owner = login(maya)
    made = owner.post(
        "/career/portfolio/",
        {
            "token": "p-1",
            "title": "Annual report",
            "summary": "Forty pages.",
            "done_on": "2025-11-30",
            "skills": "writing, data, writing",
            "file": SimpleUploadedFile("report.pdf", PDF, content_type="application/pdf"),
        },
    )
    assert made.status_code == 302
    item = PortfolioItem.objects.get()
    assert (item.skills, item.file_name) == ("writing, data", "report.pdf")
    # Outside the web root: under the private folder of the media directory.
    assert "/private/portfolio/" in item.file.path
    edit = owner.get(f"/career/portfolio/{item.pk}/edit/")
    assert edit.status_code == 200 and "Remove the file" in text(edit)
    got = owner.get(f"/career/portfolio/{item.pk}/file/")
    assert got.status_code == 200 and b"".join(got.streaming_content) == PDF  # type: ignore[attr-defined]
    assert login(noor).get(f"/career/portfolio/{item.pk}/file/").status_code == 404
    assert Client().get(f"/career/portfolio/{item.pk}/file/").status_code == 302  # to log in
    # A file whose content does not match its name is refused, nothing saved.
    refused = owner.post(
        "/career/portfolio/",
        {"token": "p-2", "title": "Fake", "file": SimpleUploadedFile("x.pdf", b"MZ not a pdf")},
    )
    assert refused.status_code == 400 and "not a PDF" in text(refused)
    assert PortfolioItem.objects.count() == 1
    # Removing the item removes its file.
    path = item.file.path
    assert owner.post(f"/career/portfolio/{item.pk}/delete/").status_code == 302
    assert not PortfolioItem.objects.exists()
    assert not os.path.exists(path)


def test_another_worker_gets_404_on_my_item_request_and_testimonial(
    maya: User, noor: User, login: Login
) -> None:
    item = services.create_portfolio_item(maya, title="Mine", link="https://example.org/m")
    row, token = ask(maya)
    testimonial = write(token)
    other = login(noor)
    assert other.get(f"/career/portfolio/{item.pk}/edit/").status_code == 404
    assert other.post(f"/career/portfolio/{item.pk}/edit/", {"title": "Theirs"}).status_code == 404
    assert other.post(f"/career/portfolio/{item.pk}/delete/").status_code == 404
    assert other.post(f"/career/testimonials/requests/{row.pk}/link/").status_code == 404
    assert (
        other.post(f"/career/testimonials/{testimonial.pk}/shown/", {"shown": "0"}).status_code
        == 404
    )
    assert "Mine" not in text(other.get("/career/portfolio/"))
    assert "Ada Client" not in text(other.get("/career/testimonials/"))
    item.refresh_from_db()
    testimonial.refresh_from_db()
    assert item.title == "Mine" and testimonial.shown
    # The owner can edit.
    owner = login(maya)
    edited = owner.post(
        f"/career/portfolio/{item.pk}/edit/", {"title": "Mine, revised", "link": "example.org/m2"}
    )
    assert edited.status_code == 302
    item.refresh_from_db()
    assert (item.title, item.link) == ("Mine, revised", "https://example.org/m2")
