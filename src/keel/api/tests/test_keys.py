"""Key rules, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from keel.api import keys

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_generated_key_has_the_documented_format():
    new = keys.generate_key()
    assert keys.KEY_PATTERN.match(new.plaintext)
    namespace, prefix, secret = new.plaintext.split("_")
    assert namespace == "keel"
    assert prefix == new.prefix
    assert len(prefix) == 10
    assert len(secret) == 43
    assert new.secret_hash == keys.hash_key(new.plaintext)


def test_generated_keys_differ():
    generated = [keys.generate_key() for _ in range(50)]
    assert len({k.plaintext for k in generated}) == 50
    assert len({k.prefix for k in generated}) == 50


def test_base62_secret_holds_all_32_bytes():
    # The largest 32-byte value still fits the fixed width, the smallest is zero-padded.
    assert len(keys._base62(2**256 - 1, keys.SECRET_LENGTH)) == 43
    assert keys._base62(0, keys.SECRET_LENGTH) == "0" * 43
    assert keys._base62(61, 3) == "00z"
    assert keys._base62(62, 3) == "010"


def test_hash_is_sha256_hex_of_the_whole_key():
    plaintext = "keel_AbCdEf0123_" + "x" * 43
    assert keys.hash_key(plaintext) == (
        "41f080fcd132f6599576893222d9c087f5ad4cb0931260b2ea3937e07be2ad4d"
    )
    assert len(keys.hash_key(plaintext)) == 64
    assert keys.hash_matches(plaintext, keys.hash_key(plaintext))
    assert not keys.hash_matches(plaintext + "y", keys.hash_key(plaintext))


def test_parse_key_splits_prefix_and_secret():
    parsed = keys.parse_key("keel_AbCdEf0123_" + "s" * 43)
    assert parsed == keys.ParsedKey(prefix="AbCdEf0123", secret="s" * 43)
    # Surrounding whitespace from a copy-paste is forgiven.
    assert keys.parse_key("  keel_AbCdEf0123_" + "s" * 43 + "\n") == parsed


@pytest.mark.parametrize(
    "text",
    [
        "",
        "keel_",
        "keel_AbCdEf0123",
        "keel_AbCdEf012_" + "s" * 43,  # prefix one short
        "keel_AbCdEf0123_" + "s" * 42,  # secret one short
        "keel_AbCdEf0123_" + "s" * 44,
        "kool_AbCdEf0123_" + "s" * 43,
        "keel_AbCdEf-123_" + "s" * 43,
        "keel_AbCdEf0123_" + "s" * 42 + "=",
        "Bearer keel_AbCdEf0123_" + "s" * 43,
    ],
)
def test_parse_key_refuses_anything_else(text):
    assert keys.parse_key(text) is None


def test_initial_scopes_are_registered_with_descriptions():
    assert keys.SCOPES["ledger:read"] == "read your accounts, balances and journals"
    assert keys.SCOPES["earnings:write"] == "post earnings events"
    assert keys.SCOPES["workers:link"] == "link platform worker references"
    assert keys.SCOPES["clearing:read"] == "read clearing batches"


def test_register_scope_adds_and_is_idempotent():
    try:
        keys.register_scope("example:read", "read examples")
        keys.register_scope("example:read", "read examples")
        assert keys.SCOPES["example:read"] == "read examples"
        with pytest.raises(ValueError, match="already registered"):
            keys.register_scope("example:read", "something else")
    finally:
        keys.SCOPES.pop("example:read", None)


@pytest.mark.parametrize("name", ["ledger", "Ledger:read", "ledger:", ":read", "ledger:read:all"])
def test_register_scope_refuses_malformed_names(name):
    with pytest.raises(ValueError, match="domain:action"):
        keys.register_scope(name, "whatever")
    assert name not in keys.SCOPES


def test_validate_scopes_sorts_and_deduplicates():
    assert keys.validate_scopes(["ledger:read", "earnings:write", "ledger:read"]) == [
        "earnings:write",
        "ledger:read",
    ]


def test_validate_scopes_names_the_offending_entry():
    with pytest.raises(keys.InvalidScope) as raised:
        keys.validate_scopes(["ledger:read", "ledger:write"])
    assert raised.value.field == "scopes.1"
    assert raised.value.code == "invalid_scope"
    assert "ledger:write" in raised.value.message


@pytest.mark.parametrize("scopes", [[], "ledger:read"])
def test_validate_scopes_needs_a_list_of_at_least_one(scopes):
    with pytest.raises(keys.InvalidScope) as raised:
        keys.validate_scopes(scopes)
    assert raised.value.field == "scopes"


def test_has_scope():
    assert keys.has_scope(["ledger:read"], "ledger:read")
    assert not keys.has_scope(["ledger:read"], "earnings:write")
    assert not keys.has_scope([], "ledger:read")


def test_validate_name():
    assert keys.validate_name("  payroll sync ") == "payroll sync"
    for bad in ("", "   ", None, "x" * 101):
        with pytest.raises(keys.InvalidKeyName) as raised:
            keys.validate_name(bad)
        assert raised.value.field == "name"


def test_validate_expiry():
    keys.validate_expiry(None, NOW)
    keys.validate_expiry(NOW + timedelta(seconds=1), NOW)
    for bad in (NOW, NOW - timedelta(days=1), datetime(2027, 1, 1)):  # noqa: DTZ001
        with pytest.raises(keys.InvalidExpiry):
            keys.validate_expiry(bad, NOW)


def test_validate_owner_needs_both_or_neither():
    keys.validate_owner(None, None)
    keys.validate_owner("platform", 7)
    for owner_type, owner_id in (("platform", None), (None, 7), ("Platform!", 7)):
        with pytest.raises(keys.InvalidOwner):
            keys.validate_owner(owner_type, owner_id)


def test_key_status():
    assert keys.key_status(None, None, NOW) == "active"
    assert keys.key_status(None, NOW + timedelta(seconds=1), NOW) == "active"
    assert keys.key_status(None, NOW, NOW) == "expired"
    assert keys.key_status(NOW, None, NOW) == "revoked"
    # Revoked wins over expired: it is the deliberate act.
    assert keys.key_status(NOW, NOW - timedelta(days=1), NOW) == "revoked"


def test_last_used_is_touched_at_most_once_a_minute():
    assert keys.needs_touch(None, NOW)
    assert not keys.needs_touch(NOW - timedelta(seconds=59), NOW)
    assert keys.needs_touch(NOW - timedelta(seconds=60), NOW)
