"""Managing API keys. Session only: a key must never be able to mint or revoke keys."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from .. import services
from ..auth import caller, session_only
from ..errors import with_errors
from ..models import ApiKey

router = Router(tags=["keys"], auth=session_only)


class KeyIn(Schema):
    name: str = Field(max_length=100, description="where the key is used, e.g. 'payroll sync'")
    scopes: list[str] = Field(description="see GET /scopes")
    expires_at: datetime | None = Field(None, description="optional; ISO 8601 with timezone")


class KeyOut(Schema):
    id: int
    name: str
    prefix: str = Field(description="public part of the key, to recognise it")
    scopes: list[str]
    status: str = Field(description="active, revoked or expired")
    owner_type: str | None
    owner_id: int | None
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class KeyCreatedOut(KeyOut):
    key: str = Field(description="the key itself: shown this once, store it now")


def _key_out(key: ApiKey) -> dict[str, object]:
    return {
        "id": key.pk,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": key.scopes,
        "status": key.status(),
        "owner_type": key.owner_type,
        "owner_id": key.owner_id,
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
    }


@router.get("", response=with_errors({200: list[KeyOut]}, 401, 403), summary="Your API keys")
def list_keys(request: HttpRequest) -> list[dict[str, object]]:
    return [_key_out(key) for key in services.list_keys(caller(request).user)]


@router.post(
    "",
    response=with_errors({201: KeyCreatedOut}, 400, 401, 403, 422),
    summary="Create an API key (the response is the only time the key is shown)",
)
def create_key(request: HttpRequest, payload: KeyIn) -> Status[dict[str, object]]:
    key, plaintext = services.create_key(
        caller(request).user, payload.name, payload.scopes, expires_at=payload.expires_at
    )
    return Status(201, {**_key_out(key), "key": plaintext})


@router.delete(
    "/{id}",
    response=with_errors({200: KeyOut}, 401, 403, 404, 422),
    summary="Revoke an API key (it stops working at once; revoking twice is harmless)",
)
def revoke_key(request: HttpRequest, id: int) -> dict[str, object]:
    return _key_out(services.revoke_key(caller(request).user, id))
