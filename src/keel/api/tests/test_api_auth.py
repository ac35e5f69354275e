"""Who may call: sessions, API keys, scopes, CSRF."""

from __future__ import annotations

import pytest
from django.test import Client

from keel.api import services
from keel.api.models import ApiKey

from .conftest import csrf_token, key_client

INVALID_KEY = {
    "error": {
        "code": "invalid_api_key",
        "message": "the API key is not valid",
        "field": None,
        "details": [],
    }
}


def test_me_by_session(session, alice):
    response = session.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json() == {
        "id": alice.pk,
        "email": "alice@example.org",
        "name": "Alice Adeyemi",
        "home_currency": "USD",
        "roles": [],
        "via": "session",
        "scopes": None,
        "owner_type": "worker",
        "owner_id": alice.pk,
    }


def test_me_reports_roles(session, alice):
    from django.contrib.auth.models import Group

    alice.groups.add(Group.objects.get_or_create(name="worker")[0])
    alice.groups.add(Group.objects.get_or_create(name="pool member")[0])
    assert session.get("/api/v1/me").json()["roles"] == ["pool member", "worker"]


@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
def test_me_by_api_key(make_key, alice, header):
    _, plaintext = make_key(("ledger:read", "earnings:write"))
    response = key_client(plaintext, header=header).get("/api/v1/me")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["email"], body["via"]) == (alice.pk, "alice@example.org", "api_key")
    assert body["scopes"] == ["earnings:write", "ledger:read"]


def test_no_credentials_is_401_not_authenticated(db):
    response = Client().get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="keel"'


def test_revoked_unknown_and_malformed_keys_get_the_same_401(make_key, alice):
    key, plaintext = make_key()
    services.revoke_key(alice, key.pk)
    unknown = "keel_ZZZZZZZZZZ_" + plaintext.rsplit("_", 1)[1]
    wrong = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")
    for presented in (plaintext, unknown, wrong, "keel_garbage"):
        for header in ("bearer", "x-api-key"):
            response = key_client(presented, header=header).get("/api/v1/me")
            assert response.status_code == 401, (presented, header)
            assert response.json() == INVALID_KEY


def test_bad_key_is_refused_even_with_a_valid_session(alice):
    client = Client(headers={"Authorization": "Bearer keel_nope"})
    client.force_login(alice)
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json() == INVALID_KEY


def test_key_without_scope_gets_403_insufficient_scope(make_key):
    _, plaintext = make_key(("earnings:write",))
    response = key_client(plaintext).get("/api/v1/ledger/accounts")
    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "code": "insufficient_scope",
            "message": "this API key lacks the 'ledger:read' scope",
            "field": None,
            "details": [],
        }
    }
    assert 'scope="ledger:read"' in response["WWW-Authenticate"]


def test_last_used_at_updates_when_the_key_is_used(make_key):
    key, plaintext = make_key()
    assert key.last_used_at is None
    assert key_client(plaintext).get("/api/v1/me").status_code == 200
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None
    # A second call within the minute does not write again.
    key_client(plaintext).get("/api/v1/me")
    key.refresh_from_db()
    assert key.last_used_at == first


# ---------------------------------------------------------------------------- keys API


def test_create_key_shows_plaintext_once(session, alice):
    token = csrf_token(session)
    response = session.post(
        "/api/v1/keys",
        {"name": "payroll sync", "scopes": ["ledger:read"]},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 201
    body = response.json()
    key = ApiKey.objects.get()
    assert body["key"].startswith(f"keel_{key.prefix}_")
    assert services.authenticate_key(body["key"]) == key
    assert body["id"] == key.pk
    assert body["name"] == "payroll sync"
    assert body["scopes"] == ["ledger:read"]
    assert body["status"] == "active"
    assert key.user == alice

    listed = session.get("/api/v1/keys")
    assert listed.status_code == 200
    assert [k["prefix"] for k in listed.json()] == [key.prefix]
    assert "key" not in listed.json()[0]
    assert body["key"] not in listed.content.decode()
    assert body["key"].rsplit("_", 1)[1] not in listed.content.decode()


def test_session_post_needs_csrf(session):
    response = session.post(
        "/api/v1/keys",
        {"name": "payroll sync", "scopes": ["ledger:read"]},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    assert ApiKey.objects.count() == 0


def test_session_delete_needs_csrf(session, make_key):
    key, _ = make_key()
    assert session.delete(f"/api/v1/keys/{key.pk}").status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None


def test_a_key_cannot_mint_or_list_keys(make_key):
    _, plaintext = make_key(("ledger:read", "earnings:write", "workers:link", "clearing:read"))
    client = key_client(plaintext)
    response = client.post(
        "/api/v1/keys",
        {"name": "child", "scopes": ["ledger:read"]},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "session_required"
    assert client.get("/api/v1/keys").json()["error"]["code"] == "session_required"
    assert ApiKey.objects.count() == 1


def test_create_key_refuses_unknown_scope_naming_it(session):
    token = csrf_token(session)
    response = session.post(
        "/api/v1/keys",
        {"name": "x", "scopes": ["ledger:read", "ledger:write"]},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_scope", "scopes.1")
    assert ApiKey.objects.count() == 0


def test_revoke_key_by_api(session, make_key, alice):
    key, plaintext = make_key()
    token = csrf_token(session)
    response = session.delete(f"/api/v1/keys/{key.pk}", headers={"X-CSRFToken": token})
    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    assert key_client(plaintext).get("/api/v1/me").status_code == 401


def test_cannot_revoke_someone_elses_key(session, make_key, bob):
    key, plaintext = make_key(user=bob)
    token = csrf_token(session)
    response = session.delete(f"/api/v1/keys/{key.pk}", headers={"X-CSRFToken": token})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    missing = session.delete("/api/v1/keys/999999", headers={"X-CSRFToken": token})
    assert missing.json()["error"]["message"] == "no API key with id 999999"
    assert key_client(plaintext).get("/api/v1/me").status_code == 200


def test_safe_methods_by_session_need_no_csrf(session):
    assert session.get("/api/v1/keys").status_code == 200


def test_key_requests_need_no_csrf(make_key):
    # Machines send no cookies, so there is nothing to forge; the key is the credential.
    _, plaintext = make_key()
    client = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {plaintext}"})
    assert client.get("/api/v1/me").status_code == 200
