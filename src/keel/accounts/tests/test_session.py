"""Logging in, logging out and changing the password."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains

from keel.accounts.models import User

LOGIN = reverse("accounts:login")
LOGOUT = reverse("accounts:logout")
PASSWORD_CHANGE = reverse("accounts:password_change")


def test_login_page_asks_for_email_and_password(client, db):
    response = client.get(LOGIN)
    assertContains(response, '<label class="form-label" for="id_username">Email address</label>')
    assertContains(response, 'autocomplete="email"')
    assertContains(response, 'name="password"')


@pytest.mark.parametrize("typed", ["ana@example.com", "  Ana@Example.COM "])
def test_login_with_email_in_any_case_goes_to_the_dashboard(client, ana, password, typed):
    response = client.post(LOGIN, {"username": typed, "password": password})

    assert response.status_code == 302
    assert response.url == reverse("web:dashboard")
    assert get_user(client).pk == ana.pk


def test_login_follows_next(client, ana, password):
    response = client.post(
        LOGIN, {"username": "ana@example.com", "password": password, "next": "/accounts/settings/"}
    )
    assert response.url == "/accounts/settings/"


@pytest.mark.parametrize(
    ("email", "typed_password"),
    [("ana@example.com", "wrong-password-99"), ("nobody@example.com", "harbour-lantern-42")],
)
def test_login_refuses_a_wrong_email_or_password_with_one_message(
    client, ana, email, typed_password
):
    response = client.post(LOGIN, {"username": email, "password": typed_password})

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "That email address and password do not match an account. Check both and try again."
    ]
    assert not get_user(client).is_authenticated
    assert User.objects.get(pk=ana.pk).last_login is None


def test_login_refuses_an_inactive_person(client, ana, password):
    User.objects.filter(pk=ana.pk).update(is_active=False)
    response = client.post(LOGIN, {"username": "ana@example.com", "password": password})
    assert response.status_code == 200
    assert not get_user(client).is_authenticated


def test_login_page_sends_people_already_logged_in_to_the_dashboard(client, ana):
    client.force_login(ana)
    assert client.get(LOGIN).url == reverse("web:dashboard")


def test_logout_needs_a_post(client, ana):
    client.force_login(ana)

    response = client.get(LOGOUT)

    assert response.status_code == 405
    assert get_user(client).pk == ana.pk


def test_logout_ends_the_session_and_says_so(client, ana):
    client.force_login(ana)

    response = client.post(LOGOUT)

    assert response.status_code == 302
    assert response.url == reverse("web:landing")
    assert not get_user(client).is_authenticated
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["You have logged out."]


def test_logout_refuses_a_post_without_csrf_token(ana):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ana)

    response = client.post(LOGOUT)

    assert response.status_code == 403
    assert get_user(client).pk == ana.pk


def test_password_change_needs_login(client, db):
    response = client.get(PASSWORD_CHANGE)
    assert response.status_code == 302
    assert response.url == f"{LOGIN}?next={PASSWORD_CHANGE}"


def test_password_change_keeps_the_session_and_shows_done(client, ana, password):
    client.force_login(ana)

    response = client.post(
        PASSWORD_CHANGE,
        {
            "old_password": password,
            "new_password1": "tidal-compass-3141",
            "new_password2": "tidal-compass-3141",
        },
    )

    assert response.url == reverse("accounts:password_change_done")
    ana.refresh_from_db()
    assert ana.check_password("tidal-compass-3141")
    assert get_user(client).pk == ana.pk
    done = client.get(response.url)
    assertContains(done, "Your password is changed")


def test_password_change_with_wrong_old_password_changes_nothing(client, ana, password):
    client.force_login(ana)
    before = User.objects.get(pk=ana.pk).password

    response = client.post(
        PASSWORD_CHANGE,
        {
            "old_password": "not-my-password",
            "new_password1": "tidal-compass-3141",
            "new_password2": "tidal-compass-3141",
        },
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "old_password": ["Your old password was entered incorrectly. Please enter it again."]
    }
    assert User.objects.get(pk=ana.pk).password == before


def test_password_change_applies_validators_and_changes_nothing(client, ana, password):
    client.force_login(ana)
    before = User.objects.get(pk=ana.pk).password

    response = client.post(
        PASSWORD_CHANGE,
        {"old_password": password, "new_password1": "short", "new_password2": "short"},
    )

    assert response.context["form"].errors["new_password2"] == [
        "This password is too short. It must contain at least 10 characters."
    ]
    assert User.objects.get(pk=ana.pk).password == before
