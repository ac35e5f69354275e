"""API key operations: create, list, revoke and authenticate. Rules live in `keys.py`."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from keel import sql
from keel.accounts.models import User
from keel.audit import services as audit

from . import keys
from .models import ApiKey

logger = logging.getLogger(__name__)

# Hash compared against when no row has the presented prefix, so an unknown prefix costs
# the same work as a wrong secret.
_DUMMY_HASH = keys.hash_key("keel_0000000000_" + "0" * keys.SECRET_LENGTH)


class ApiKeyNotFound(keys.ApiKeyError):
    code = "not_found"


def create_key(
    user: User,
    name: str,
    scopes: Iterable[object],
    owner_type: str | None = None,
    owner_id: int | None = None,
    *,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Mint a key. The plaintext is returned here and nowhere else, ever."""
    clean_name = keys.validate_name(name)
    clean_scopes = keys.validate_scopes(scopes)
    keys.validate_owner(owner_type, owner_id)
    keys.validate_expiry(expires_at, timezone.now())
    # 62**10 prefixes make a collision vanishingly rare, but the unique index would turn
    # one into a 500; a fresh prefix is cheap.
    for attempt in range(3):
        new = keys.generate_key()
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(
                    name=clean_name,
                    user=user,
                    owner_type=owner_type,
                    owner_id=owner_id,
                    prefix=new.prefix,
                    secret_hash=new.secret_hash,
                    scopes=clean_scopes,
                    expires_at=expires_at,
                )
                _audit_key("created", key, user)
        except IntegrityError:
            if attempt == 2:
                raise
            continue
        logger.info(
            "api key created: prefix=%s user=%s scopes=%s", key.prefix, user.pk, clean_scopes
        )
        return key, new.plaintext
    raise AssertionError("unreachable")  # pragma: no cover


def list_keys(user: User) -> list[ApiKey]:
    return list(ApiKey.objects.filter(user=user).order_by("-created_at", "-id"))


def revoke_key(user: User, key_id: int, *, by: User | None = None) -> ApiKey:
    """Revoke one of the user's keys. Revoking twice keeps the first revocation time.
    Another user's key is reported as not found, like a key that does not exist. ``by`` is
    who revokes it when that is not its owner (another operator of a platform, staff)."""
    with transaction.atomic():
        try:
            key = ApiKey.objects.select_for_update().get(pk=key_id, user=user)
        except ApiKey.DoesNotExist:
            raise ApiKeyNotFound(f"no API key with id {key_id}", field="id") from None
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
            logger.info("api key revoked: prefix=%s user=%s", key.prefix, user.pk)
            _audit_key("revoked", key, by or user)
    return key


def _audit_key(what: str, key: ApiKey, actor: User) -> None:
    # The prefix is the public half, shown in every key list; the secret and its hash
    # never leave the key's own row.
    audit.record(
        f"{key.owner_type or 'api'}_key.{what}",
        actor=actor,
        subject=f"api_key:{key.pk}",
        platform_id=key.owner_id if key.owner_type == "platform" else None,
        worker_id=key.user_id if key.owner_type is None else None,
        details={
            "name": key.name,
            "prefix": key.prefix,
            "scopes": list(key.scopes),
            "user_id": key.user_id,
            "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        },
    )


def authenticate_key(plaintext: str, *, now: datetime | None = None) -> ApiKey | None:
    """The active key this plaintext is, or None. Callers must not tell apart why."""
    parsed = keys.parse_key(plaintext)
    if parsed is None:
        return None
    now = now or timezone.now()
    # Every API request asks this: by hand, not through the ORM's query compiler.
    key = sql.first(ApiKey, "prefix = %s", [parsed.prefix])
    if key is None:
        keys.hash_matches(plaintext, _DUMMY_HASH)
        return None
    if not keys.hash_matches(plaintext.strip(), key.secret_hash):
        return None
    if keys.key_status(key.revoked_at, key.expires_at, now) != "active":
        return None
    user = sql.first(User, "id = %s", [key.user_id])
    if user is None or not user.is_active:
        return None
    key.user = user
    if keys.needs_touch(key.last_used_at, now):
        # Conditional so concurrent requests in the same minute write once, not each.
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - keys.LAST_USED_RESOLUTION)
        if ApiKey.objects.filter(stale, pk=key.pk).update(last_used_at=now):
            key.last_used_at = now
    return key


def get_key(user: User, key_id: int) -> ApiKey:
    try:
        return ApiKey.objects.get(pk=key_id, user=user)
    except ApiKey.DoesNotExist:
        raise ApiKeyNotFound(f"no API key with id {key_id}", field="id") from None


def database_ok() -> bool:
    """Whether the database answers a trivial query (for the health check)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.exception("health check: database unreachable")
        return False
    return True
