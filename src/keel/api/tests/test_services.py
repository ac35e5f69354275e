"""Key services against the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone

from keel.api import keys, services
from keel.api.models import ApiKey


def every_stored_value() -> list[str]:
    """Every value in every column of every table, as text."""
    values = []
    with connection.cursor() as cursor:
        for model in apps.get_models(include_auto_created=True):
            table = model._meta.db_table
            if table not in connection.introspection.table_names(cursor):
                continue
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            values.extend(str(value) for row in cursor.fetchall() for value in row)
    return values


def test_create_returns_plaintext_and_stores_only_its_hash(alice):
    key, plaintext = services.create_key(alice, " payroll sync ", ["ledger:read"])
    key.refresh_from_db()
    assert key.name == "payroll sync"
    assert key.user == alice
    assert key.scopes == ["ledger:read"]
    assert plaintext.startswith(f"keel_{key.prefix}_")
    assert key.secret_hash == keys.hash_key(plaintext)
    assert (key.owner_type, key.owner_id, key.revoked_at, key.last_used_at) == (
        None,
        None,
        None,
        None,
    )
    secret = plaintext.rsplit("_", 1)[1]
    stored = every_stored_value()
    assert key.secret_hash in stored  # the scan does see the api_apikey table
    assert not [value for value in stored if secret in value]


def test_platform_owned_key(alice):
    key, _ = services.create_key(
        alice,
        "acme payroll",
        ["earnings:write", "workers:link"],
        owner_type="platform",
        owner_id=7,
    )
    key.refresh_from_db()
    assert (key.owner_type, key.owner_id) == ("platform", 7)
    assert key.scopes == ["earnings:write", "workers:link"]


def test_create_refuses_bad_input_and_writes_nothing(alice):
    with pytest.raises(keys.InvalidScope) as raised:
        services.create_key(alice, "x", ["ledger:read", "admin:all"])
    assert raised.value.field == "scopes.1"
    with pytest.raises(keys.InvalidKeyName):
        services.create_key(alice, "  ", ["ledger:read"])
    with pytest.raises(keys.InvalidExpiry):
        services.create_key(
            alice, "x", ["ledger:read"], expires_at=timezone.now() - timedelta(seconds=1)
        )
    with pytest.raises(keys.InvalidOwner):
        services.create_key(alice, "x", ["ledger:read"], owner_type="platform")
    assert ApiKey.objects.count() == 0


def test_authenticate_accepts_the_key_and_nothing_else(alice):
    key, plaintext = services.create_key(alice, "script", ["ledger:read"])
    assert services.authenticate_key(plaintext) == key
    wrong_secret = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")
    unknown_prefix = "keel_ZZZZZZZZZZ_" + plaintext.rsplit("_", 1)[1]
    for presented in (wrong_secret, unknown_prefix, "keel_nope", "", key.prefix):
        assert services.authenticate_key(presented) is None


def test_revoked_key_no_longer_authenticates(alice):
    key, plaintext = services.create_key(alice, "script", ["ledger:read"])
    revoked = services.revoke_key(alice, key.pk)
    assert revoked.revoked_at is not None
    assert services.authenticate_key(plaintext) is None


def test_revoking_twice_keeps_the_first_time(alice):
    key, _ = services.create_key(alice, "script", ["ledger:read"])
    first = services.revoke_key(alice, key.pk).revoked_at
    assert services.revoke_key(alice, key.pk).revoked_at == first


def test_another_users_key_cannot_be_revoked(alice, bob):
    key, plaintext = services.create_key(alice, "script", ["ledger:read"])
    with pytest.raises(services.ApiKeyNotFound):
        services.revoke_key(bob, key.pk)
    key.refresh_from_db()
    assert key.revoked_at is None
    assert services.authenticate_key(plaintext) == key


def test_expired_key_no_longer_authenticates(alice):
    key, plaintext = services.create_key(
        alice, "script", ["ledger:read"], expires_at=timezone.now() + timedelta(hours=1)
    )
    assert services.authenticate_key(plaintext) == key
    assert services.authenticate_key(plaintext, now=key.expires_at) is None


def test_inactive_users_keys_stop_working(alice):
    _, plaintext = services.create_key(alice, "script", ["ledger:read"])
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert services.authenticate_key(plaintext) is None


def test_last_used_at_is_written_at_most_once_a_minute(alice):
    key, plaintext = services.create_key(alice, "script", ["ledger:read"])
    t0 = timezone.now()
    services.authenticate_key(plaintext, now=t0)
    key.refresh_from_db()
    assert key.last_used_at == t0

    services.authenticate_key(plaintext, now=t0 + timedelta(seconds=59))
    key.refresh_from_db()
    assert key.last_used_at == t0

    services.authenticate_key(plaintext, now=t0 + timedelta(seconds=60))
    key.refresh_from_db()
    assert key.last_used_at == t0 + timedelta(seconds=60)


def test_failed_authentication_does_not_touch_last_used(alice):
    key, plaintext = services.create_key(alice, "script", ["ledger:read"])
    services.authenticate_key(plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B"))
    key.refresh_from_db()
    assert key.last_used_at is None


def test_list_keys_is_newest_first_and_only_mine(alice, bob):
    first, _ = services.create_key(alice, "one", ["ledger:read"])
    second, _ = services.create_key(alice, "two", ["ledger:read"])
    services.create_key(bob, "bob's", ["ledger:read"])
    services.revoke_key(alice, first.pk)
    assert [k.name for k in services.list_keys(alice)] == ["two", "one"]
    assert [k.status() for k in services.list_keys(alice)] == ["active", "revoked"]
    assert second.is_active


def test_owner_pair_is_enforced_by_the_database(alice):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        ApiKey.objects.create(
            name="x",
            user=alice,
            owner_type="platform",
            owner_id=None,
            prefix="AAAAAAAAAA",
            secret_hash="0" * 64,
            scopes=["ledger:read"],
        )
