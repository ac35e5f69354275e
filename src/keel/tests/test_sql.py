"""keel.sql's look-ups by hand: what they return must be what the ORM returns, field for
field and type for type, on either backend."""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model
from django.test.utils import CaptureQueriesContext

from keel import sql
from keel.accounts.models import User
from keel.accounts.services import create_worker
from keel.api.models import ApiKey
from keel.gateway import services
from keel.gateway.models import ContributionPolicy, Platform

pytestmark = pytest.mark.django_db

USED = datetime(2026, 3, 2, 14, 30, 5, 123456, tzinfo=UTC)
EXPIRES = datetime(2027, 1, 31, 23, 59, tzinfo=UTC)


def fields_of(instance: Model) -> dict[str, tuple[type, Any]]:
    """Every concrete field's value and its type (1 and True compare equal; a converter
    that did not run leaves an int where the ORM gives a bool, or text for a datetime)."""
    return {
        f.attname: (type(getattr(instance, f.attname)), getattr(instance, f.attname))
        for f in instance._meta.concrete_fields
    }


@pytest.fixture
def platform_key() -> tuple[Platform, ApiKey]:
    operator = create_worker("ops@dash.example", name="Dash Ops", password=None)
    platform = services.create_platform(
        "Dash", operator=operator, policy={"currency": "USD", "rate_bps": 400}
    )
    key, _ = services.create_platform_key(platform, operator, "ci", ["earnings:write"])
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=USED, expires_at=EXPIRES)
    return platform, key


def test_first_gives_what_the_orm_gives_field_for_field(
    platform_key: tuple[Platform, ApiKey],
) -> None:
    _, key = platform_key

    found = sql.first(ApiKey, "prefix = %s", [key.prefix])

    assert found is not None
    assert fields_of(found) == fields_of(ApiKey.objects.get(pk=key.pk))
    assert found.last_used_at == USED
    assert found.scopes == ["earnings:write"]
    assert found.revoked_at is None
    # As loaded from the database: saving it again updates, never inserts.
    assert found._state.adding is False
    assert found._state.db == "default"
    user = sql.first(User, "id = %s", [key.user_id])
    assert user is not None
    assert fields_of(user) == fields_of(User.objects.get(pk=key.user_id))
    assert type(user.is_active) is bool
    assert user.is_active is True


def test_first_is_none_when_no_row_matches(platform_key: tuple[Platform, ApiKey]) -> None:
    assert sql.first(ApiKey, "prefix = %s", ["nosuchprefix"]) is None


def test_select_keeps_the_order_it_is_given_and_converts_every_row(
    platform_key: tuple[Platform, ApiKey],
) -> None:
    platform, _ = platform_key
    for rate, starts in ((500, date(2026, 7, 1)), (700, date(2027, 1, 1))):
        services.publish_policy(
            platform, {"currency": "USD", "rate_bps": rate}, name="", effective_from=starts
        )

    found = sql.select(
        ContributionPolicy, "platform_id = %s ORDER BY effective_from DESC", [platform.pk]
    )

    expected = ContributionPolicy.objects.filter(platform=platform).order_by("-effective_from")
    assert [fields_of(v) for v in found] == [fields_of(v) for v in expected]
    assert [v.terms["rate_bps"] for v in found] == [700, 500, 400]
    assert [type(v.effective_from) for v in found] == [date, date, date]


def test_a_look_up_is_one_statement(platform_key: tuple[Platform, ApiKey]) -> None:
    _, key = platform_key
    sql.first(ApiKey, "prefix = %s", [key.prefix])  # the columns are worked out here

    with CaptureQueriesContext(connection) as queries:
        assert sql.first(ApiKey, "prefix = %s", [key.prefix]) is not None

    assert len(queries.captured_queries) == 1


def test_a_connection_is_not_kept_alive_by_its_look_up_plans() -> None:
    # A gthread server or a task runner ends threads, and each thread has its own
    # connection: what select() keeps per connection must go with it.
    conn = connections.create_connection(DEFAULT_DB_ALIAS)
    plan = sql._plan(conn, ApiKey)
    assert sql._plan(conn, ApiKey) is plan  # worked out once
    gone = weakref.ref(conn)

    del conn, plan
    gc.collect()

    assert gone() is None
