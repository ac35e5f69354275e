"""Forgot your password: a reset link by email that works once, for an hour, never logs
anyone in past two-factor sign-in, and is asked for with the same answer whether or not the
address has an account."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.core.cache import caches
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from pytest_django.asserts import assertContains, assertNotContains

from keel.accounts import closing
from keel.accounts.models import User
from keel.audit.models import AuditEvent

from .conftest import PASSWORD
from .test_two_factor import ana_2fa  # noqa: F401  (a fixture)

RESET = reverse("accounts:password_reset")
SENT = reverse("accounts:password_reset_done")
COMPLETE = reverse("accounts:password_reset_complete")
LOGIN = reverse("accounts:login")
LOGIN_CODE = reverse("accounts:login_verify")
DASHBOARD = reverse("web:dashboard")
NEW = "lighthouse-morning-2027"


@pytest.fixture(autouse=True)
def _fresh_limits():
    caches[settings.AXES_CACHE].clear()
    caches[settings.RATELIMIT_USE_CACHE].clear()
    yield
    caches[settings.RATELIMIT_USE_CACHE].clear()


def reset_link(message: mail.EmailMessage) -> str:
    found = re.findall(
        r"http://testserver(/accounts/password/reset/[^/\s]+/[^/\s]+/)", message.body
    )
    assert len(found) == 1, message.body
    return str(found[0])


def without_csrf(response) -> str:
    """A page's HTML with its CSRF tokens (new for every request) blanked."""
    return re.sub(
        r'(X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+',
        r"\1",
        response.content.decode(),
    )


def choose_password(client: Client, link: str, password: str = NEW):
    # Django swaps the token in the address for one kept in the session, then the form.
    landing = client.get(link)
    assert landing.status_code == 302
    return client.post(landing.url, {"new_password1": password, "new_password2": password})


def test_the_login_page_links_the_reset(client):
    assertContains(client.get(LOGIN), f'<a href="{RESET}">Forgot your password?</a>', html=True)


def test_the_locked_out_page_points_to_the_reset(client, ana):
    for _ in range(5):
        response = client.post(LOGIN, {"username": "ana@example.com", "password": "wrong-one-12"})
    assert response.status_code == 429
    assertContains(response, f'<a href="{RESET}">Reset it by email</a>', status_code=429, html=True)


def test_a_reset_emails_a_link_that_sets_the_password_once(client, ana):
    response = client.post(RESET, {"email": " Ana@Example.COM "})
    assert (response.status_code, response.url) == (302, SENT)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ana@example.com"]
    assert message.subject == "Reset your Keel password"
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert "Hello Ana," in message.body
    assert "The link works once, for 1 hour." in message.body
    link = reset_link(message)

    response = choose_password(client, link)
    assert (response.status_code, response.url) == (302, COMPLETE)
    ana.refresh_from_db()
    assert ana.check_password(NEW)
    assert not ana.check_password(PASSWORD)
    # The reset page logs nobody in; the person logs in with the new password.
    assert not get_user(client).is_authenticated
    assert list(AuditEvent.objects.values_list("action", "actor_id", "subject")) == [
        ("password.reset", ana.pk, f"user:{ana.pk}")
    ]

    again = Client().get(link, follow=True)
    assertContains(again, "This reset link does not work")
    assertNotContains(again, "new_password1")

    logged_in = client.post(LOGIN, {"username": "ana@example.com", "password": NEW})
    assert (logged_in.status_code, logged_in.url) == (302, DASHBOARD)


def test_an_unknown_address_gets_the_same_answer_and_no_mail(client, ana):
    known = Client().post(RESET, {"email": "ana@example.com"}, follow=True)
    unknown = Client().post(RESET, {"email": "nobody@example.com"}, follow=True)
    assert known.redirect_chain == unknown.redirect_chain == [(SENT, 302)]
    assert without_csrf(known) == without_csrf(unknown)
    assertContains(unknown, "If the address you entered belongs to a Keel account")
    assert [m.to for m in mail.outbox] == [["ana@example.com"]]


def test_a_closed_account_gets_no_reset_and_its_old_link_stops_working(client, ana):
    client.post(RESET, {"email": "ana@example.com"})
    link = reset_link(mail.outbox[0])
    closing.close_account(ana, password=PASSWORD, confirmation=closing.CONFIRMATION)
    mail.outbox.clear()

    response = client.post(RESET, {"email": "ana@example.com"})
    assert (response.status_code, response.url) == (302, SENT)
    assert mail.outbox == []
    assertContains(Client().get(link, follow=True), "This reset link does not work")
    closed = User.objects.get(pk=ana.pk)
    assert not closed.has_usable_password()
    assert not AuditEvent.objects.filter(action="password.reset").exists()


def test_an_inactive_account_gets_no_reset(client, ana):
    User.objects.filter(pk=ana.pk).update(is_active=False)
    client.post(RESET, {"email": "ana@example.com"})
    assert mail.outbox == []


def test_the_link_expires_after_an_hour(client, ana):
    gen = default_token_generator
    uid = urlsafe_base64_encode(force_bytes(ana.pk))
    now = gen._num_seconds(gen._now())
    fresh = gen._make_token_with_timestamp(ana, now - 3599, gen.secret)
    stale = gen._make_token_with_timestamp(ana, now - 3601, gen.secret)

    expired = Client().get(reverse("accounts:password_reset_confirm", args=[uid, stale]))
    assertContains(expired, "This reset link does not work")
    assertContains(expired, "more than 1 hour old")

    response = choose_password(
        Client(), reverse("accounts:password_reset_confirm", args=[uid, fresh])
    )
    assert response.url == COMPLETE
    ana.refresh_from_db()
    assert ana.check_password(NEW)


def test_a_refused_new_password_changes_nothing(client, ana):
    client.post(RESET, {"email": "ana@example.com"})
    link = reset_link(mail.outbox[0])
    landing = client.get(link)
    response = client.post(landing.url, {"new_password1": "short", "new_password2": "short"})
    assert response.status_code == 200
    assert response.context["form"].errors["new_password2"]
    ana.refresh_from_db()
    assert ana.check_password(PASSWORD)
    assert not AuditEvent.objects.filter(action="password.reset").exists()


def test_a_reset_does_not_pass_two_factor_sign_in(client, ana_2fa):  # noqa: F811
    client.post(RESET, {"email": "ana@example.com"})
    response = choose_password(client, reset_link(mail.outbox[0]))
    assert response.url == COMPLETE
    assert not get_user(client).is_authenticated

    response = client.post(LOGIN, {"username": "ana@example.com", "password": NEW})
    assert (response.status_code, response.url) == (302, LOGIN_CODE)
    assert not get_user(client).is_authenticated
    assert client.get(DASHBOARD).url.startswith(LOGIN)


def test_reset_requests_are_limited_per_address_whether_or_not_it_has_an_account(
    client, ana, settings
):
    settings.KEEL_MAIL_RATE_PER_ADDRESS = "3/h"
    settings.KEEL_MAIL_RATE_PER_IP = "20/h"
    for email in ("ana@example.com", "nobody@example.com"):
        for attempt in range(3):
            response = client.post(RESET, {"email": email})
            assert response.status_code == 302, (email, attempt)
        refused = client.post(RESET, {"email": email.upper()})
        assert refused.status_code == 429
        assert 0 < int(refused["Retry-After"]) <= 3600
        assertContains(
            refused,
            "Too many requests for this email address or from your network. Try again in",
            status_code=429,
        )
    assert [m.to for m in mail.outbox] == [["ana@example.com"]] * 3


def test_reset_requests_are_limited_per_address_of_the_caller(client, ana, settings):
    settings.KEEL_MAIL_RATE_PER_ADDRESS = "3/h"
    settings.KEEL_MAIL_RATE_PER_IP = "2/h"
    assert client.post(RESET, {"email": "one@example.com"}).status_code == 302
    assert client.post(RESET, {"email": "two@example.com"}).status_code == 302
    assert client.post(RESET, {"email": "ana@example.com"}).status_code == 429
    assert mail.outbox == []
    other_network = Client(REMOTE_ADDR="192.0.2.9")
    assert other_network.post(RESET, {"email": "ana@example.com"}).status_code == 302
    assert len(mail.outbox) == 1
