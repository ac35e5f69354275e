"""The API keys settings page."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from keel.api import keys, services
from keel.api.models import ApiKey

from .conftest import key_client
from .test_services import every_stored_value

LIST = "/settings/api-keys/"


@pytest.fixture
def browser(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def shown_key(html: str) -> str | None:
    match = re.search(r'id="new-key-value"\s+value="([^"]+)"', html)
    return match.group(1) if match else None


def test_url_names():
    assert reverse("api_keys:list") == LIST
    assert reverse("api_keys:create") == LIST + "create/"
    assert reverse("api_keys:revoke", args=[3]) == LIST + "3/revoke/"


def test_login_required(db):
    response = Client().get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert Client().post(reverse("api_keys:create"), {"name": "x"}).status_code == 302
    assert ApiKey.objects.count() == 0


def test_page_lists_keys_and_offers_every_scope(browser, make_key, alice):
    key, plaintext = make_key(("ledger:read", "clearing:read"), name="nightly export")
    response = browser.get(LIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert "nightly export" in html
    assert f"keel_{key.prefix}_" in html
    assert plaintext not in html
    assert shown_key(html) is None
    for scope, description in keys.SCOPES.items():
        assert f'value="{scope}"' in html
        assert description in html
    assert response["Cache-Control"].startswith("max-age=0")


def test_create_shows_the_key_once(browser, alice):
    response = browser.post(
        reverse("api_keys:create"),
        {"name": "payroll sync", "scopes": ["ledger:read", "earnings:write"], "expires_in": ""},
    )
    assert response.status_code == 200
    html = response.content.decode()
    plaintext = shown_key(html)
    assert plaintext is not None
    key = ApiKey.objects.get()
    assert services.authenticate_key(plaintext) == key
    assert (key.name, key.scopes, key.expires_at) == (
        "payroll sync",
        ["earnings:write", "ledger:read"],
        None,
    )
    # Nothing kept it: not the key row, not the session, not the messages.
    assert not [v for v in every_stored_value() if plaintext.rsplit("_", 1)[1] in v]
    assert "cannot show it to you again" in html
    assert 'data-copy-target="new-key-value"' in html
    assert "no-store" in response["Cache-Control"]
    # The next visit lists the key but never shows it again.
    again = browser.get(LIST).content.decode()
    assert f"keel_{key.prefix}_" in again
    assert plaintext not in again
    assert key_client(plaintext).get("/api/v1/me").status_code == 200


def test_create_with_expiry(browser):
    browser.post(
        reverse("api_keys:create"), {"name": "trial", "scopes": ["ledger:read"], "expires_in": "30"}
    )
    key = ApiKey.objects.get()
    assert key.expires_at is not None
    assert round((key.expires_at - key.created_at).total_seconds() / 86400) == 30


def test_create_without_scopes_shows_the_error(browser):
    response = browser.post(reverse("api_keys:create"), {"name": "payroll sync"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Choose at least one thing the key may do." in html
    assert shown_key(html) is None
    assert ApiKey.objects.count() == 0


def test_create_with_unknown_scope_is_refused(browser):
    response = browser.post(
        reverse("api_keys:create"), {"name": "x", "scopes": ["ledger:read", "root:all"]}
    )
    assert response.status_code == 400
    assert ApiKey.objects.count() == 0


def test_create_form_needs_csrf(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(reverse("api_keys:create"), {"name": "x", "scopes": ["ledger:read"]})
    assert response.status_code == 403
    assert ApiKey.objects.count() == 0


def test_revoke_asks_then_revokes(browser, make_key):
    key, plaintext = make_key(name="old laptop")
    url = reverse("api_keys:revoke", args=[key.pk])
    confirm = browser.get(url)
    assert confirm.status_code == 200
    assert "Revoke “old laptop”?" in confirm.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is None  # asking changes nothing

    response = browser.post(url, follow=True)
    assert response.redirect_chain == [(LIST, 302)]
    assert "is revoked" in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert key_client(plaintext).get("/api/v1/me").status_code == 401


def test_cannot_revoke_someone_elses_key_from_the_page(browser, make_key, bob):
    key, _ = make_key(user=bob)
    url = reverse("api_keys:revoke", args=[key.pk])
    assert browser.get(url).status_code == 404
    assert browser.post(url).status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_a_resent_form_creates_no_second_key(browser, alice):
    # A reload of the page that showed the key re-sends the same form with the same token.
    form = {"name": "sync", "scopes": ["ledger:read"], "expires_in": "", "token": "t-1"}
    first = browser.post(reverse("api_keys:create"), form)
    again = browser.post(reverse("api_keys:create"), form, follow=True)
    assert shown_key(first.content.decode()) is not None
    assert ApiKey.objects.filter(user=alice).count() == 1
    assert "already sent" in again.content.decode()
    assert "new-key-value" not in again.content.decode()


def test_a_form_that_found_the_database_busy_can_be_sent_again(
    alice, monkeypatch, database_busy_error
):
    form = {"name": "sync", "scopes": ["ledger:read"], "expires_in": "", "token": "t-2"}
    browser = Client(raise_request_exception=False)
    browser.force_login(alice)
    created = services.create_key

    def busy(*args: object, **kwargs: object) -> object:
        raise database_busy_error

    monkeypatch.setattr(services, "create_key", busy)
    refused = browser.post(reverse("api_keys:create"), form)
    assert refused.status_code == 503
    assert "send it again in a few seconds" in refused.content.decode()
    assert not ApiKey.objects.filter(user=alice).exists()

    # The same form, token and all, sent again once the database is free: not a repeat.
    monkeypatch.setattr(services, "create_key", created)
    again = browser.post(reverse("api_keys:create"), form)
    assert again.status_code == 200
    assert shown_key(again.content.decode()) is not None
    assert ApiKey.objects.filter(user=alice).count() == 1
