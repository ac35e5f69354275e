from __future__ import annotations

import pytest
from django.contrib.auth import get_user
from django.contrib.messages import get_messages
from django.urls import reverse
from pytest_django.asserts import assertContains

from keel.accounts.models import User
from keel.ledger.models import Account

SIGNUP = reverse("accounts:signup")
# Django's own message, with its typographic apostrophe.
MISMATCH = "The two password fields didn\u2019t match."


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


def test_signup_creates_a_worker_with_starting_books_and_logs_in(client, db, signup_data):
    response = client.post(SIGNUP, signup_data)

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


def test_signup_as_platform_operator_grants_that_role_and_opens_no_worker_books(
    client, db, signup_data
):
    response = client.post(SIGNUP, {**signup_data, "role": "platform operator"})

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


def test_signup_refuses_an_email_already_taken_in_any_case(client, ana, signup_data):
    response = client.post(SIGNUP, {**signup_data, "email": "ANA@example.com"})

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "email": [
            "An account with this email address already exists. Log in instead, or use"
            " another address."
        ]
    }
    assert list(User.objects.values_list("email", flat=True)) == ["ana@example.com"]
    assert not get_user(client).is_authenticated


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
    response = client.post(f"{SIGNUP}?next=/accounts/settings/", signup_data)
    assert response.url == "/accounts/settings/"


def test_signup_ignores_a_next_url_to_another_site(client, db, signup_data):
    response = client.post(f"{SIGNUP}?next=https://evil.example/", signup_data)
    assert response.url == reverse("web:dashboard")


def test_signup_sends_people_already_logged_in_to_their_dashboard(client, ana, signup_data):
    client.force_login(ana)

    assert client.get(SIGNUP).url == reverse("web:dashboard")
    response = client.post(SIGNUP, signup_data)
    assert response.url == reverse("web:dashboard")
    assert User.objects.count() == 1
