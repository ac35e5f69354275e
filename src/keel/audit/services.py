"""Recording security events and reading them back.

`record` is the one way an event gets in. Called inside a service's transaction it is part
of that transaction: an action that is refused or rolled back leaves no event behind. A
failed log-in has no transaction to join and is written on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from django.db.models import Q, QuerySet
from django.http import HttpRequest

from keel.accounts.models import User
from keel.ops.client_address import client_address

from .models import (
    MAX_ACTION_LENGTH,
    MAX_LABEL_LENGTH,
    MAX_SUBJECT_LENGTH,
    MAX_USER_AGENT_LENGTH,
    AuditEvent,
)

# "logout", "login.failed", "pool.rules_adopted": lower-case words joined by dots.
_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
# Keys under which a secret would be stored. Refused outright, so a wiring mistake fails
# the first test that runs it instead of writing a password into the log.
_SECRET_KEY = re.compile(r"pass(word|wd|phrase)|secret|plaintext|token", re.IGNORECASE)
MAX_USERNAME_LENGTH = 150

# The request being served, for events recorded deep in a service that was not handed one
# (see middleware.py); None in commands and the task runner.
_current_request: ContextVar[HttpRequest | None] = ContextVar("keel_audit_request", default=None)


@contextmanager
def serving(request: HttpRequest) -> Iterator[None]:
    token = _current_request.set(request)
    try:
        yield
    finally:
        _current_request.reset(token)


def record(
    action: str,
    *,
    actor: User | None = None,
    request: HttpRequest | None = None,
    subject: str = "",
    details: Mapping[str, object] | None = None,
    pool_id: int | None = None,
    platform_id: int | None = None,
    worker_id: int | None = None,
) -> AuditEvent:
    """Append one event. ``request`` defaults to the request being served, if any; the
    actor is only ever who the caller says it is."""
    if len(action) > MAX_ACTION_LENGTH or not _ACTION.fullmatch(action):
        raise ValueError(f"audit action {action!r} is not a code like 'login.failed'")
    clean = dict(details or {})
    _refuse_secrets(clean)
    if request is None:
        request = _current_request.get()
    actor_id = actor.pk if actor is not None else None
    return AuditEvent.objects.create(
        action=action,
        actor_id=actor_id,
        actor_label=actor.email[:MAX_LABEL_LENGTH] if actor is not None and actor_id else "",
        subject=subject[:MAX_SUBJECT_LENGTH],
        pool_id=pool_id,
        platform_id=platform_id,
        worker_id=worker_id,
        remote_ip=client_address(request),
        user_agent=_user_agent(request),
        details=clean,
    )


def _refuse_secrets(details: Mapping[str, object], path: str = "details") -> None:
    for key, value in details.items():
        if _SECRET_KEY.search(str(key)):
            raise ValueError(f"{path}.{key}: secrets never go into the audit log")
        if isinstance(value, Mapping):
            _refuse_secrets(value, f"{path}.{key}")


def _user_agent(request: HttpRequest | None) -> str:
    if request is None:
        return ""
    return str(request.META.get("HTTP_USER_AGENT") or "")[:MAX_USER_AGENT_LENGTH]


def truncated_username(value: object) -> str:
    return str(value or "")[:MAX_USERNAME_LENGTH]


# ---------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What an operator narrows the log to; empty fields do not narrow it.

    ``action`` is an exact code ("login.failed") or a domain ("login" matches every
    "login.*"); ``actor`` is a person's id or part of their email address as it was when
    they acted; ``subject`` is exact ("pool:12")."""

    action: str = ""
    actor: str = ""
    subject: str = ""
    pool_id: int | None = None
    platform_id: int | None = None
    worker_id: int | None = None
    since: date | datetime | None = None


def events(where: AuditFilter | None = None) -> QuerySet[AuditEvent]:
    """Events newest first."""
    where = where or AuditFilter()
    rows = AuditEvent.objects.order_by("-occurred_at", "-id")
    action = where.action.strip()
    if action:
        rows = rows.filter(Q(action=action) | Q(action__startswith=action.rstrip(".") + "."))
    actor = where.actor.strip()
    if actor:
        rows = (
            rows.filter(actor_id=int(actor))
            if actor.isdigit()
            else rows.filter(actor_label__icontains=actor)
        )
    if where.subject.strip():
        rows = rows.filter(subject=where.subject.strip())
    if where.pool_id is not None:
        rows = rows.filter(pool_id=where.pool_id)
    if where.platform_id is not None:
        rows = rows.filter(platform_id=where.platform_id)
    if where.worker_id is not None:
        rows = rows.filter(worker_id=where.worker_id)
    if where.since is not None:
        rows = rows.filter(occurred_at__gte=_start_of(where.since))
    return rows


def _start_of(since: date | datetime) -> datetime:
    if isinstance(since, datetime):
        return since if since.tzinfo is not None else since.replace(tzinfo=UTC)
    return datetime.combine(since, time.min, tzinfo=UTC)


def known_actions() -> list[str]:
    return list(AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct())


def as_dict(event: AuditEvent) -> dict[str, object]:
    return {
        "id": event.pk,
        "occurred_at": event.occurred_at.isoformat(),
        "action": event.action,
        "actor_id": event.actor_id,
        "actor": event.actor_label,
        "subject": event.subject,
        "pool_id": event.pool_id,
        "platform_id": event.platform_id,
        "worker_id": event.worker_id,
        "remote_ip": event.remote_ip,
        "user_agent": event.user_agent,
        "details": event.details,
    }
