"""The database itself keeps the audit log append-only, whatever asks it to change: raw SQL,
the ORM, another program. Runs on SQLite and again on PostgreSQL."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

from keel.audit import services
from keel.audit.models import AuditEvent

from .conftest import event, recorded


def raw(sql: str, params: list[object] | None = None) -> None:
    # A savepoint per attempt, so the refused statement leaves the test's transaction usable.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params or [])


@pytest.fixture
def logged(alice):
    return services.record(
        "login.failed", subject=f"user:{alice.pk}", details={"username": "alice@example.org"}
    )


@pytest.fixture
def before(logged):
    return recorded()


def test_an_event_cannot_be_updated_with_sql(logged, before):
    with pytest.raises(DatabaseError, match="append-only: an event cannot be updated"):
        raw("UPDATE audit_auditevent SET action = 'login.succeeded' WHERE id = %s", [logged.pk])
    assert recorded() == before


def test_an_event_cannot_be_deleted_with_sql(logged, before):
    with pytest.raises(DatabaseError, match="append-only: an event cannot be deleted"):
        raw("DELETE FROM audit_auditevent WHERE id = %s", [logged.pk])
    with pytest.raises(DatabaseError, match="append-only: an event cannot be deleted"):
        raw("DELETE FROM audit_auditevent")
    assert recorded() == before


def test_the_orm_cannot_update_an_event(logged, before):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=logged.pk).update(subject="user:0")
    logged.details = {"username": "someone-else@example.org"}
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        logged.save()
    assert recorded() == before


def test_the_orm_cannot_delete_an_event(logged, before):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        logged.delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.all().delete()
    assert recorded() == before
    assert AuditEvent.objects.filter(pk=logged.pk).exists()


def test_new_events_still_go_in_beside_the_old(logged, before):
    services.record("logout")
    assert recorded() == [*before, event("logout")]


@pytest.mark.postgres
def test_postgres_refuses_truncate(logged, before):
    with pytest.raises(DatabaseError, match="append-only: an event cannot be truncated"):
        raw("TRUNCATE audit_auditevent")
    assert recorded() == before


@pytest.mark.django_db(transaction=True)
def test_another_program_cannot_change_committed_events():
    services.record("logout", subject="user:9")
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        outsider = sqlite3.connect(settings["NAME"])
        # Keel's purge switch is a function only Keel's own connections have.
        with pytest.raises(sqlite3.Error, match="keel_ledger_purge_allowed"):
            outsider.execute("DELETE FROM audit_auditevent")
        with pytest.raises(sqlite3.Error, match="append-only"):
            outsider.execute("UPDATE audit_auditevent SET subject = 'user:1'")
        outsider.close()
    else:
        outsider = psycopg.connect(
            host=settings["HOST"],
            port=settings["PORT"] or 5432,
            user=settings["USER"],
            dbname=settings["NAME"],
            autocommit=True,
        )
        for statement in (
            "DELETE FROM audit_auditevent",
            "UPDATE audit_auditevent SET subject = 'user:1'",
            "TRUNCATE audit_auditevent",
        ):
            with pytest.raises(psycopg.Error, match="append-only"):
                outsider.execute(statement)
        outsider.close()
    assert recorded() == [event("logout", subject="user:9")]


def test_occurred_at_is_set_by_the_database_and_read_back_on_insert(db):
    made = services.record("logout")
    stored = AuditEvent.objects.values_list("occurred_at", flat=True).get(pk=made.pk)
    assert isinstance(made.occurred_at, datetime)
    assert made.occurred_at == stored
    assert stored.tzinfo is not None


def test_record_refuses_a_secret_in_details_and_writes_nothing(db):
    for details in (
        {"password": "hunter2-hunter2"},
        {"key": {"plaintext": "keel_abc"}},
        {"api_token": "t"},
        {"client_secret": "s"},
    ):
        with pytest.raises(ValueError, match="secrets never go into the audit log"):
            services.record("api_key.created", details=details)
    assert AuditEvent.objects.count() == 0


@pytest.mark.parametrize("action", ["", "Login.Failed", "login failed", "login.", "x" * 65])
def test_record_refuses_an_action_that_is_not_a_code(db, action):
    with pytest.raises(ValueError, match="is not a code"):
        services.record(action)
    assert AuditEvent.objects.count() == 0


def test_a_record_inside_a_rolled_back_transaction_leaves_nothing(db):
    with pytest.raises(RuntimeError, match="undone"), transaction.atomic():
        services.record("policy.published", subject="platform:1", platform_id=1)
        raise RuntimeError("undone")
    assert AuditEvent.objects.count() == 0


def test_fields_are_truncated_not_refused(db):
    services.record("logout", subject="s" * 300)
    assert recorded()[0]["subject"] == "s" * 100
