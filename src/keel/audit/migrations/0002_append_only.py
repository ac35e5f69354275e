"""The audit log is append-only, enforced by the database on SQLite and PostgreSQL alike:
an event can never be updated, deleted or (PostgreSQL) truncated.

Deleting is possible only for the test suite's purge between tests, through the same
switch as the ledger's guards (`keel.ledger.guards.ledger_purge`): a SQLite function Keel
registers on its own connections, which answers "no" outside that purge, and a session
setting on PostgreSQL. Any other connection is refused.
"""

from django.db import migrations

SQLITE = [
    """
    CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_auditevent
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: an event cannot be updated'); END
    """,
    """
    CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_auditevent
    WHEN keel_ledger_purge_allowed() = 0
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: an event cannot be deleted'); END
    """,
]

SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS audit_event_no_delete",
    "DROP TRIGGER IF EXISTS audit_event_no_update",
]

POSTGRES = [
    """
    CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' AND ledger_purge_allowed() THEN RETURN OLD; END IF;
      IF TG_OP = 'TRUNCATE' AND ledger_purge_allowed() THEN RETURN NULL; END IF;
      RAISE EXCEPTION 'the audit log is append-only: an event cannot be %',
        lower(TG_OP) || 'd'
        USING ERRCODE = 'restrict_violation';
    END $$
    """,
    """
    CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()
    """,
    """
    CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()
    """,
]

POSTGRES_REVERSE = [
    "DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_auditevent",
    "DROP TRIGGER IF EXISTS audit_event_no_change ON audit_auditevent",
    "DROP FUNCTION IF EXISTS audit_refuse_change()",
]


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    statements = POSTGRES if schema_editor.connection.vendor == "postgresql" else SQLITE
    for statement in statements:
        schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        statements = POSTGRES_REVERSE
    else:
        statements = SQLITE_REVERSE
    for statement in statements:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
        # ledger_purge_allowed(), the purge switch the PostgreSQL trigger asks.
        ("ledger", "0002_ledger_guards"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
