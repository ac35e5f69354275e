"""Health, the caller's identity, and the scope catalogue."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

import keel

from .. import keys, services
from ..auth import caller, key_or_session
from ..errors import ServiceUnavailable, with_errors

router = Router(tags=["system"])


class HealthOut(Schema):
    status: str
    database: str
    version: str


class MeOut(Schema):
    id: int
    email: str
    name: str
    home_currency: str
    roles: list[str]
    # How this request authenticated: "session" or "api_key"; with a key, its scopes.
    via: str
    scopes: list[str] | None
    # Whose books the call acts on (ledger owner): ("worker", id) or e.g. ("platform", 7).
    owner_type: str
    owner_id: int


class ScopeOut(Schema):
    name: str
    description: str


@router.get(
    "/health",
    auth=None,
    response=with_errors({200: HealthOut}, 503),
    summary="Is Keel up and can it reach its database?",
)
def health(request: HttpRequest) -> HealthOut:
    if not services.database_ok():
        raise ServiceUnavailable("the database is unreachable", code="database_unavailable")
    return HealthOut(status="ok", database="ok", version=keel.__version__)


@router.get(
    "/me",
    auth=key_or_session,
    response=with_errors({200: MeOut}, 401, 403),
    summary="Who is calling",
)
def me(request: HttpRequest) -> MeOut:
    who = caller(request)
    user = who.user
    return MeOut(
        id=user.pk,
        email=user.email,
        name=user.name,
        home_currency=user.home_currency,
        roles=user.roles,
        via=who.via,
        scopes=list(who.api_key.scopes) if who.api_key is not None else None,
        owner_type=who.owner[0],
        owner_id=who.owner[1],
    )


@router.get(
    "/scopes",
    auth=None,
    response=with_errors({200: list[ScopeOut]}),
    summary="Scopes an API key can be granted",
)
def list_scopes(request: HttpRequest) -> list[ScopeOut]:
    return [ScopeOut(name=name, description=text) for name, text in sorted(keys.SCOPES.items())]
