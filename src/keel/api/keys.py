"""API key rules as plain Python: the key format, hashing, the scope registry and the
checks that decide whether a key may be used. No Django here.

A key reads `keel_<prefix>_<secret>`. The prefix is public (it is stored in clear, shown in
lists and used to find the row); the secret is 32 random bytes. Both are base62 so the
underscores separate the parts unambiguously and a double-click selects the whole key.

Only a SHA-256 of the whole key is stored. A slow password hash would buy nothing here:
the secret has 256 bits of entropy, so nobody can guess it from the hash, and a fast hash
keeps authentication cheap on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

KEY_NAMESPACE = "keel"
PREFIX_LENGTH = 10
SECRET_BYTES = 32
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# 62**43 > 2**256 > 62**42: 43 base62 digits hold any 32-byte secret.
SECRET_LENGTH = 43
KEY_PATTERN = re.compile(
    rf"^{KEY_NAMESPACE}_([0-9A-Za-z]{{{PREFIX_LENGTH}}})_([0-9A-Za-z]{{{SECRET_LENGTH}}})$"
)
MAX_NAME_LENGTH = 100
# Writing last_used_at on every request would turn every read into a write; a minute is
# precise enough to tell a live key from a forgotten one.
LAST_USED_RESOLUTION = timedelta(minutes=1)

SCOPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")


class ApiKeyError(Exception):
    """A refused key operation. `code` is a stable API error code, `field` names the
    offending input (dotted, e.g. `scopes.1`)."""

    code = "api_key_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidScope(ApiKeyError):
    code = "invalid_scope"


class InvalidKeyName(ApiKeyError):
    code = "invalid_name"


class InvalidExpiry(ApiKeyError):
    code = "invalid_expiry"


class InvalidOwner(ApiKeyError):
    code = "invalid_owner"


# ---------------------------------------------------------------------------- scopes

# Scope name -> what it lets a key do, in words a person granting it understands.
SCOPES: dict[str, str] = {}


def register_scope(name: str, description: str) -> None:
    """Make a scope grantable. Domains call this at import time (e.g. in their
    `AppConfig.ready`); registering the same scope again with the same description is a
    no-op so module reloads are harmless, a different description is a programming error."""
    if not SCOPE_PATTERN.match(name):
        raise ValueError(f"scope {name!r} must look like 'domain:action' in lowercase")
    if not description.strip():
        raise ValueError(f"scope {name!r} needs a description")
    existing = SCOPES.get(name)
    if existing is not None and existing != description:
        raise ValueError(f"scope {name!r} is already registered as {existing!r}")
    SCOPES[name] = description


register_scope("ledger:read", "read your accounts, balances and journals")
register_scope("earnings:write", "post earnings events")
register_scope("workers:link", "link platform worker references")
register_scope("clearing:read", "read clearing batches")


def validate_scopes(scopes: Iterable[object]) -> list[str]:
    """The scopes a new key gets: each must be registered; duplicates collapse and the
    result is sorted so equal grants compare equal."""
    if isinstance(scopes, str):
        # A bare string would otherwise be read as a list of one-letter scopes.
        raise InvalidScope("scopes must be a list of scope names", field="scopes")
    result: set[str] = set()
    for index, scope in enumerate(scopes):
        if not isinstance(scope, str) or scope not in SCOPES:
            known = ", ".join(sorted(SCOPES))
            raise InvalidScope(
                f"unknown scope {scope!r}; known scopes: {known}", field=f"scopes.{index}"
            )
        result.add(scope)
    if not result:
        raise InvalidScope("a key needs at least one scope", field="scopes")
    return sorted(result)


def has_scope(granted: Iterable[str], required: str) -> bool:
    return required in set(granted)


# ---------------------------------------------------------------------------- keys


@dataclass(frozen=True, slots=True)
class NewKey:
    prefix: str
    plaintext: str
    secret_hash: str


@dataclass(frozen=True, slots=True)
class ParsedKey:
    prefix: str
    secret: str


def _base62(value: int, width: int) -> str:
    digits = []
    while value:
        value, rest = divmod(value, 62)
        digits.append(_ALPHABET[rest])
    return "".join(reversed(digits)).rjust(width, _ALPHABET[0])


def generate_key() -> NewKey:
    prefix = "".join(secrets.choice(_ALPHABET) for _ in range(PREFIX_LENGTH))
    secret = _base62(int.from_bytes(secrets.token_bytes(SECRET_BYTES), "big"), SECRET_LENGTH)
    plaintext = format_key(prefix, secret)
    return NewKey(prefix=prefix, plaintext=plaintext, secret_hash=hash_key(plaintext))


def format_key(prefix: str, secret: str) -> str:
    return f"{KEY_NAMESPACE}_{prefix}_{secret}"


def parse_key(text: str) -> ParsedKey | None:
    """Split a presented key, or None if it is not shaped like a Keel key (which lets the
    caller refuse it without touching the database)."""
    match = KEY_PATTERN.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    return ParsedKey(prefix=match.group(1), secret=match.group(2))


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def hash_matches(plaintext: str, secret_hash: str) -> bool:
    # Constant-time, so response timing does not reveal how much of a hash matched.
    return hmac.compare_digest(hash_key(plaintext), secret_hash)


def validate_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidKeyName("give the key a name, e.g. where it is used", field="name")
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidKeyName(f"name is longer than {MAX_NAME_LENGTH} characters", field="name")
    return name


def validate_expiry(expires_at: datetime | None, now: datetime) -> None:
    if expires_at is None:
        return
    if expires_at.tzinfo is None:
        raise InvalidExpiry("expires_at must include a timezone", field="expires_at")
    if expires_at <= now:
        raise InvalidExpiry("expires_at must be in the future", field="expires_at")


def validate_owner(owner_type: str | None, owner_id: int | None) -> None:
    if (owner_type is None) != (owner_id is None):
        raise InvalidOwner("owner_type and owner_id go together", field="owner_type")
    if owner_type is not None and not re.match(r"^[a-z][a-z_]{0,31}$", owner_type):
        raise InvalidOwner(f"owner type {owner_type!r} is not a domain name", field="owner_type")


def key_status(revoked_at: datetime | None, expires_at: datetime | None, now: datetime) -> str:
    if revoked_at is not None:
        return "revoked"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "active"


def needs_touch(last_used_at: datetime | None, now: datetime) -> bool:
    return last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION
