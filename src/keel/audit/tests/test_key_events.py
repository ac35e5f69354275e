"""Personal and platform API keys created and revoked, and contribution policies published:
each recorded once, by whoever did it, never with the key itself."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import transaction

from keel.accounts.models import User
from keel.api import keys
from keel.api import services as api_keys
from keel.api.models import ApiKey
from keel.gateway import services as gateway
from keel.gateway.errors import GatewayError, NotAllowed

from .conftest import ADDRESS, BROWSER, PASSWORD, event, every_audit_value, logged_in, recorded

DOORDASH = {
    "currency": "USD",
    "rate_bps": 400,
    "threshold": 100_000,
    "threshold_period": "quarter",
    "backdate": True,
}


def secret_of(plaintext: str) -> str:
    return plaintext.rsplit("_", 1)[1]


def test_creating_a_personal_key_is_recorded_without_the_key(alice):
    key, plaintext = api_keys.create_key(alice, "payroll sync", ["ledger:read"])
    assert recorded() == [
        event(
            "api_key.created",
            actor_id=alice.pk,
            actor_label="alice@example.org",
            subject=f"api_key:{key.pk}",
            worker_id=alice.pk,
            details={
                "name": "payroll sync",
                "prefix": key.prefix,
                "scopes": ["ledger:read"],
                "user_id": alice.pk,
                "expires_at": None,
            },
        )
    ]
    stored = every_audit_value()
    assert secret_of(plaintext) not in stored
    assert key.secret_hash not in stored


def test_a_key_made_on_the_page_carries_the_browser_and_address(alice):
    client = logged_in(alice)
    response = client.post(
        "/settings/api-keys/create/", {"name": "laptop", "scopes": ["ledger:read"]}
    )
    assert response.status_code == 200
    plaintext = response.context["new_key_plaintext"]
    key = ApiKey.objects.get(user=alice)
    assert recorded("api_key.created") == [
        event(
            "api_key.created",
            actor_id=alice.pk,
            actor_label="alice@example.org",
            subject=f"api_key:{key.pk}",
            worker_id=alice.pk,
            remote_ip=ADDRESS,
            user_agent=BROWSER,
            details={
                "name": "laptop",
                "prefix": key.prefix,
                "scopes": ["ledger:read"],
                "user_id": alice.pk,
                "expires_at": None,
            },
        )
    ]
    assert secret_of(plaintext) not in every_audit_value()


def test_a_refused_key_is_not_recorded(alice):
    with pytest.raises(keys.ApiKeyError):
        api_keys.create_key(alice, "x", ["ledger:read", "admin:all"])
    assert recorded() == []


def test_a_key_rolled_back_with_its_transaction_leaves_no_event(alice):
    with pytest.raises(RuntimeError), transaction.atomic():
        api_keys.create_key(alice, "payroll sync", ["ledger:read"])
        raise RuntimeError("the caller failed after making the key")
    assert (ApiKey.objects.count(), recorded()) == (0, [])


def test_revoking_is_recorded_once(alice):
    key, _ = api_keys.create_key(alice, "payroll sync", ["ledger:read"])
    api_keys.revoke_key(alice, key.pk)
    api_keys.revoke_key(alice, key.pk)
    assert recorded("api_key.revoked") == [
        event(
            "api_key.revoked",
            actor_id=alice.pk,
            actor_label="alice@example.org",
            subject=f"api_key:{key.pk}",
            worker_id=alice.pk,
            details={
                "name": "payroll sync",
                "prefix": key.prefix,
                "scopes": ["ledger:read"],
                "user_id": alice.pk,
                "expires_at": None,
            },
        )
    ]


def test_revoking_someone_elses_key_is_refused_and_not_recorded(alice, bob):
    key, _ = api_keys.create_key(alice, "payroll sync", ["ledger:read"])
    with pytest.raises(api_keys.ApiKeyNotFound):
        api_keys.revoke_key(bob, key.pk)
    assert recorded("api_key.revoked") == []
    key.refresh_from_db()
    assert key.revoked_at is None


def test_staff_revoking_in_the_admin_is_recorded_as_staff(alice, bob):
    first, _ = api_keys.create_key(alice, "one", ["ledger:read"])
    second, _ = api_keys.create_key(bob, "two", ["ledger:read"])
    api_keys.revoke_key(bob, second.pk)
    root = User.objects.create_superuser("root@keel.example", PASSWORD, name="Root")
    response = logged_in(root).post(
        "/admin/api/apikey/",
        {"action": "revoke", "_selected_action": [first.pk, second.pk]},
    )
    assert response.status_code == 302
    assert [(e["actor_label"], e["subject"]) for e in recorded("api_key.revoked")] == [
        ("bob@example.org", f"api_key:{second.pk}"),
        ("root@keel.example", f"api_key:{first.pk}"),
    ]
    first.refresh_from_db()
    assert first.revoked_at is not None


# ---------------------------------------------------------------------------- platforms


@pytest.fixture
def platform(alice):
    return gateway.create_platform(
        "Dash", operator=alice, policy=DOORDASH, effective_from=date(2026, 1, 1)
    )


def test_publishing_a_policy_is_recorded(platform, alice):
    version = platform.policies.get()
    assert recorded("policy.published") == [
        event(
            "policy.published",
            actor_id=alice.pk,
            actor_label="alice@example.org",
            subject=f"platform:{platform.pk}",
            platform_id=platform.pk,
            details={"policy_id": version.pk, "version": 1, "effective_from": "2026-01-01"},
        )
    ]


def test_a_refused_policy_is_not_recorded(platform, alice):
    with pytest.raises(GatewayError):
        gateway.publish_policy(
            platform, DOORDASH, name="Backdated", effective_from=date(2025, 12, 1), by=alice
        )
    assert len(recorded("policy.published")) == 1


def test_platform_keys_are_recorded_with_the_platform_and_who_revoked_them(platform, alice, bob):
    gateway.add_operator(platform, bob)
    key, plaintext = gateway.create_platform_key(platform, alice, "payroll", ["earnings:write"])
    gateway.revoke_platform_key(platform, bob, key.pk)
    details = {
        "name": "payroll",
        "prefix": key.prefix,
        "scopes": ["earnings:write"],
        "user_id": alice.pk,
        "expires_at": None,
    }
    assert recorded("platform_key.created", "platform_key.revoked", "api_key.created") == [
        event(
            "platform_key.created",
            actor_id=alice.pk,
            actor_label="alice@example.org",
            subject=f"api_key:{key.pk}",
            platform_id=platform.pk,
            details=details,
        ),
        event(
            "platform_key.revoked",
            actor_id=bob.pk,
            actor_label="bob@example.org",
            subject=f"api_key:{key.pk}",
            platform_id=platform.pk,
            details=details,
        ),
    ]
    assert secret_of(plaintext) not in every_audit_value()


def test_a_platform_key_refused_to_a_non_operator_is_not_recorded(platform, bob):
    with pytest.raises(NotAllowed):
        gateway.create_platform_key(platform, bob, "payroll", ["earnings:write"])
    key, _ = gateway.create_platform_key(
        platform, platform.operators.get(), "payroll", ["earnings:write"]
    )
    with pytest.raises(NotAllowed):
        gateway.revoke_platform_key(platform, bob, key.pk)
    assert [e["action"] for e in recorded("platform_key.created", "platform_key.revoked")] == [
        "platform_key.created"
    ]
