from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user
from django.contrib.messages import get_messages
from django.core import mail
from django.core.cache import caches
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains

from keel.accounts.models import SignupRequest, User
from keel.ledger.models import Account

from .conftest import PASSWORD
from .test_password_reset import without_csrf

SIGNUP = reverse("accounts:signup")
SENT = reverse("accounts:signup_sent")
# Django's own message, with its typographic apostrophe.
MISMATCH = "The two password fields didn\u2019t match."


@pytest.fixture(autouse=True)
def _fresh_limits():
    caches[django_settings.RATELIMIT_USE_CACHE].clear()
    yield
    caches[django_settings.RATELIMIT_USE_CACHE].clear()


def assert_no_one_signed_up(client) -> None:
    assert User.objects.count() == 0
    assert Account.objects.count() == 0
    assert not get_user(client).is_authenticated


def test_signup_page_offers_the_form(client, db):
    response = client.get(SIGNUP)
    assert response.status_code == 200
    assertContains(response, '<h1 class="h3 fw-bold mb-2">Create your Keel account</h1>', html=True)
    assertContains(
        response,
        '<input type="radio" name="role" value="worker" class="form-check-input" id="id_role_0"'
        " required checked>",
        html=True,
    )
    assertContains(response, '<option value="USD" selected>USD — US Dollar</option>', html=True)
    assertContains(response, 'name="password2"')


def confirm_link(message) -> str:
    found = re.findall(r"http://testserver(/accounts/signup/confirm/[\w-]+/)", message.body)
    assert len(found) == 1, message.body
    return str(found[0])


def sign_up_and_confirm(client, data: dict[str, str], query: str = ""):
    response = client.post(f"{SIGNUP}{query}", data)
    assert (response.status_code, response.url) == (302, SENT)
    link = confirm_link(mail.outbox[-1])
    opened = client.get(link)
    assert opened.status_code == 200
    return client.post(link)


def test_signup_emails_a_link_that_creates_a_worker_with_starting_books(client, db, signup_data):
    response = client.post(SIGNUP, signup_data)

    assert (response.status_code, response.url) == (302, SENT)
    # Nobody exists until the owner of the address opens the link.
    assert_no_one_signed_up(client)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["maya@example.com"]
    assert message.subject == "Confirm your email to finish creating your Keel account"
    assert "Hello Maya Chen," in message.body
    assert "It works for 24 hours." in message.body
    link = confirm_link(message)
    # Opening the link (as a mail scanner would) creates nothing: the button does.
    page = client.get(link)
    assertContains(page, "Welcome, Maya Chen")
    assertContains(page, "Create my account")
    assert_no_one_signed_up(client)

    response = client.post(link)

    assert response.status_code == 302
    assert response.url == reverse("web:dashboard")
    user = User.objects.get()
    assert (user.email, user.name, user.home_currency) == ("maya@example.com", "Maya Chen", "EUR")
    assert user.check_password("quiet-harbour-1987")
    assert user.roles == ["worker"]
    assert list(
        Account.objects.order_by("code").values_list("code", "kind", "currency", "floor")
    ) == [
        (f"worker:{user.pk}:buffer", "asset", "EUR", 0),
        (f"worker:{user.pk}:cash", "asset", "EUR", None),
    ]
    assert get_user(client).pk == user.pk
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Welcome to Keel, Maya."]
    assert SignupRequest.objects.count() == 0
    # The link works once.
    again = Client().post(link)
    assert again.status_code == 404
    assert User.objects.count() == 1


def test_a_sign_up_link_expires_after_a_day(client, db, signup_data):
    client.post(SIGNUP, signup_data)
    link = confirm_link(mail.outbox[0])
    SignupRequest.objects.update(created_at=timezone.now() - timedelta(hours=24, seconds=1))

    assertContains(client.get(link), "This sign-up link does not work", status_code=404)
    assertContains(client.post(link), "more than 24 hours old", status_code=404)
    assert_no_one_signed_up(client)


def test_a_made_up_link_creates_no_one(client, db, signup_data):
    client.post(SIGNUP, signup_data)
    response = client.post(reverse("accounts:signup_confirm", args=["not-the-token"]))
    assert response.status_code == 404
    assert_no_one_signed_up(client)
    assert SignupRequest.objects.count() == 1


def test_of_two_links_to_one_address_the_first_opened_wins(client, db, signup_data):
    client.post(SIGNUP, signup_data)
    client.post(SIGNUP, {**signup_data, "name": "Someone Else"})
    first, second = (confirm_link(m) for m in mail.outbox)

    assert client.post(second).status_code == 302
    assert User.objects.get().name == "Someone Else"
    assert Client().post(first).status_code == 404
    assert User.objects.count() == 1
    assert SignupRequest.objects.count() == 0


def test_signup_as_platform_operator_grants_that_role_and_opens_no_worker_books(
    client, db, signup_data
):
    response = sign_up_and_confirm(client, {**signup_data, "role": "platform operator"})

    assert response.status_code == 302
    user = User.objects.get()
    assert user.roles == ["platform operator"]
    assert Account.objects.count() == 0


def test_signup_with_mismatched_passwords_creates_no_one(client, db, signup_data):
    response = client.post(SIGNUP, {**signup_data, "password2": "quiet-harbour-1988"})

    assert response.status_code == 200
    assert response.context["form"].errors == {"password2": [MISMATCH]}
    assert MISMATCH in response.content.decode()
    assert_no_one_signed_up(client)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-1", "This password is too short. It must contain at least 10 characters."),
        ("1234567890123", "This password is entirely numeric."),
        ("password1234", "This password is too common."),
        ("maya@example.com", "The password is too similar to the email."),
    ],
)
def test_signup_applies_djangos_password_validators(client, db, signup_data, password, message):
    response = client.post(SIGNUP, {**signup_data, "password1": password, "password2": password})

    assert response.status_code == 200
    assert message in response.context["form"].errors["password2"]
    assert_no_one_signed_up(client)


def test_a_taken_address_gets_the_same_answer_and_its_owner_an_email(ana, signup_data):
    # The sign-up must not tell a stranger who uses Keel: the page is the same for a new
    # address and a taken one (apart from the CSRF token of each request), and only the
    # owner of the address learns which it was.
    new = Client().post(SIGNUP, signup_data, follow=True)
    taken = Client().post(SIGNUP, {**signup_data, "email": "ANA@example.com"}, follow=True)

    assert new.redirect_chain == taken.redirect_chain == [(SENT, 302)]
    assert without_csrf(new) == without_csrf(taken)
    assertContains(taken, "If the address already has an account, the message says how")
    assert [m.to for m in mail.outbox] == [["maya@example.com"], ["ana@example.com"]]
    note = mail.outbox[1]
    assert note.subject == "Someone tried to sign up for Keel with your address"
    assert "It already\nhas one, so nothing was changed." in note.body
    assert "http://testserver/accounts/login/" in note.body
    assert "http://testserver/accounts/password/reset/" in note.body
    assert "/accounts/signup/confirm/" not in note.body
    # Nothing about the visitor's attempt reaches the account or its owner's settings.
    assert "Maya" not in note.body
    assert list(User.objects.values_list("email", "name")) == [("ana@example.com", "Ana Souza")]
    ana.refresh_from_db()
    assert ana.check_password(PASSWORD)
    assert list(SignupRequest.objects.values_list("email", flat=True)) == ["maya@example.com"]


def test_sign_ups_are_limited_per_address_whether_or_not_it_is_taken(
    client, ana, signup_data, settings
):
    settings.KEEL_MAIL_RATE_PER_ADDRESS = "3/h"
    settings.KEEL_MAIL_RATE_PER_IP = "20/h"
    for email in ("ana@example.com", "maya@example.com"):
        for _ in range(3):
            assert client.post(SIGNUP, {**signup_data, "email": email}).status_code == 302
        refused = client.post(SIGNUP, {**signup_data, "email": email})
        assert refused.status_code == 429
        assertContains(refused, "Too many requests for this email address", status_code=429)
    assert len(mail.outbox) == 6
    assert SignupRequest.objects.count() == 3


@pytest.mark.parametrize("currency", ["usd", "XAU", "ABC", ""])
def test_signup_refuses_a_currency_outside_the_list(client, db, signup_data, currency):
    response = client.post(SIGNUP, {**signup_data, "home_currency": currency})

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["home_currency"]
    assert_no_one_signed_up(client)


@pytest.mark.parametrize("role", ["pool member", "superuser", ""])
def test_signup_refuses_roles_that_cannot_be_self_declared(client, db, signup_data, role):
    response = client.post(SIGNUP, {**signup_data, "role": role})

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["role"]
    assert_no_one_signed_up(client)


def test_signup_requires_a_name(client, db, signup_data):
    response = client.post(SIGNUP, {**signup_data, "name": "   "})

    assert response.context["form"].errors == {
        "name": ["Enter your name, as you would like to be greeted."]
    }
    assert_no_one_signed_up(client)


def test_signup_marks_invalid_fields_for_screen_readers(client, db, signup_data):
    response = client.post(SIGNUP, {**signup_data, "email": "not-an-email"})

    page = response.content.decode()
    assert 'aria-invalid="true"' in page
    assert 'aria-describedby="id_email-errors"' in page
    assert 'id="id_email-errors"' in page
    assert "Enter a valid email address." in page
    assert_no_one_signed_up(client)


def test_signup_follows_a_local_next_url(client, db, signup_data):
    response = sign_up_and_confirm(client, signup_data, "?next=/accounts/settings/")
    assert response.url == "/accounts/settings/"


def test_signup_ignores_a_next_url_to_another_site(client, db, signup_data):
    response = sign_up_and_confirm(client, signup_data, "?next=https://evil.example/")
    assert response.url == reverse("web:dashboard")


def test_signup_sends_people_already_logged_in_to_their_dashboard(client, ana, signup_data):
    client.force_login(ana)

    assert client.get(SIGNUP).url == reverse("web:dashboard")
    response = client.post(SIGNUP, signup_data)
    assert response.url == reverse("web:dashboard")
    assert User.objects.count() == 1
