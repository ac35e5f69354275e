"""Database guards for the ledger, on SQLite and PostgreSQL alike.

- legs can never be updated or deleted, journals never deleted;
- a journal's only permitted change is a pending journal being resolved once;
- legs must be written before their journal and cannot be added to an existing journal;
- inserting a journal checks it has at least two legs that sum to zero per currency,
  each in its account's currency.

Deletes are possible only for the test suite's purge between tests (a SQLite function that
Keel registers only in tests, a session setting on PostgreSQL); from any other connection
the guards refuse.
"""

from django.db import migrations

SQLITE = [
    """
    CREATE TRIGGER ledger_leg_no_update BEFORE UPDATE ON ledger_leg
    BEGIN SELECT RAISE(ABORT, 'ledger legs are append-only: a leg cannot be updated'); END
    """,
    """
    CREATE TRIGGER ledger_leg_no_delete BEFORE DELETE ON ledger_leg
    WHEN keel_ledger_purge_allowed() = 0
    BEGIN SELECT RAISE(ABORT, 'ledger legs are append-only: a leg cannot be deleted'); END
    """,
    """
    CREATE TRIGGER ledger_leg_sealed BEFORE INSERT ON ledger_leg
    WHEN EXISTS (SELECT 1 FROM ledger_journal WHERE id = NEW.journal_id)
      OR NEW.currency IS NOT (SELECT currency FROM ledger_account WHERE id = NEW.account_id)
    BEGIN SELECT RAISE(ABORT,
      'ledger leg refused: legs go in before their journal, in the account''s currency'); END
    """,
    """
    CREATE TRIGGER ledger_journal_balanced AFTER INSERT ON ledger_journal
    WHEN (SELECT count(*) FROM ledger_leg WHERE journal_id = NEW.id) < 2
      OR EXISTS (SELECT 1 FROM ledger_leg WHERE journal_id = NEW.id
                 GROUP BY currency HAVING sum(amount) <> 0)
    BEGIN SELECT RAISE(ABORT,
      'journal is unbalanced: it needs two or more legs summing to zero per currency'); END
    """,
    """
    CREATE TRIGGER ledger_journal_no_delete BEFORE DELETE ON ledger_journal
    WHEN keel_ledger_purge_allowed() = 0
    BEGIN SELECT RAISE(ABORT, 'journals are append-only: a journal cannot be deleted'); END
    """,
    """
    CREATE TRIGGER ledger_journal_resolve_only BEFORE UPDATE ON ledger_journal
    WHEN NOT (
      OLD.status = 'pending' AND NEW.status IN ('completed', 'voided', 'expired')
      AND NEW.resolved_at IS NOT NULL
      AND NEW.id = OLD.id AND NEW.idempotency_key = OLD.idempotency_key
      AND NEW.content_hash = OLD.content_hash AND NEW.kind = OLD.kind
      AND NEW.effective_date = OLD.effective_date AND NEW.created_at = OLD.created_at
      AND NEW.memo = OLD.memo AND NEW.metadata = OLD.metadata
      AND NEW.pending_id IS OLD.pending_id AND NEW.expires_at IS OLD.expires_at
      AND NEW.reverses_id IS OLD.reverses_id)
    BEGIN SELECT RAISE(ABORT,
      'journals are append-only: only a pending journal can be resolved, once'); END
    """,
]

SQLITE_REVERSE = [
    f"DROP TRIGGER IF EXISTS {name}"
    for name in (
        "ledger_leg_no_update",
        "ledger_leg_no_delete",
        "ledger_leg_sealed",
        "ledger_journal_balanced",
        "ledger_journal_no_delete",
        "ledger_journal_resolve_only",
    )
]

POSTGRES = [
    "CREATE SEQUENCE IF NOT EXISTS ledger_journal_id_seq AS bigint",
    """
    CREATE FUNCTION ledger_purge_allowed() RETURNS boolean LANGUAGE sql STABLE AS $$
      SELECT coalesce(current_setting('keel.ledger_purge', true), '') = 'on'
    $$
    """,
    """
    CREATE FUNCTION ledger_refuse_leg_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' AND ledger_purge_allowed() THEN RETURN OLD; END IF;
      IF TG_OP = 'TRUNCATE' AND ledger_purge_allowed() THEN RETURN NULL; END IF;
      RAISE EXCEPTION 'ledger legs are append-only: a leg cannot be %', lower(TG_OP) || 'd'
        USING ERRCODE = 'restrict_violation';
    END $$
    """,
    """
    CREATE TRIGGER ledger_leg_no_change BEFORE UPDATE OR DELETE ON ledger_leg
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_leg_change()
    """,
    """
    CREATE TRIGGER ledger_leg_no_truncate BEFORE TRUNCATE ON ledger_leg
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_leg_change()
    """,
    """
    CREATE FUNCTION ledger_check_new_legs() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM new_legs l JOIN ledger_journal j ON j.id = l.journal_id) THEN
        RAISE EXCEPTION 'ledger leg refused: legs cannot be added to an existing journal'
          USING ERRCODE = 'restrict_violation';
      END IF;
      IF EXISTS (SELECT 1 FROM new_legs l JOIN ledger_account a ON a.id = l.account_id
                 WHERE a.currency <> l.currency) THEN
        RAISE EXCEPTION 'ledger leg refused: a leg must be in its account''s currency'
          USING ERRCODE = 'check_violation';
      END IF;
      RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER ledger_leg_sealed AFTER INSERT ON ledger_leg
    REFERENCING NEW TABLE AS new_legs
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_new_legs()
    """,
    """
    CREATE FUNCTION ledger_check_new_journals() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE bad bigint;
    BEGIN
      SELECT j.id INTO bad FROM new_journals j
        LEFT JOIN ledger_leg l ON l.journal_id = j.id
        GROUP BY j.id HAVING count(l.id) < 2 LIMIT 1;
      IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'journal % is unbalanced: it needs two or more legs', bad
          USING ERRCODE = 'check_violation';
      END IF;
      SELECT l.journal_id INTO bad FROM new_journals j
        JOIN ledger_leg l ON l.journal_id = j.id
        GROUP BY l.journal_id, l.currency HAVING sum(l.amount) <> 0 LIMIT 1;
      IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'journal % is unbalanced: legs must sum to zero per currency', bad
          USING ERRCODE = 'check_violation';
      END IF;
      RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER ledger_journal_balanced AFTER INSERT ON ledger_journal
    REFERENCING NEW TABLE AS new_journals
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_new_journals()
    """,
    """
    CREATE FUNCTION ledger_guard_journal() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        IF ledger_purge_allowed() THEN RETURN OLD; END IF;
        RAISE EXCEPTION 'journals are append-only: a journal cannot be deleted'
          USING ERRCODE = 'restrict_violation';
      END IF;
      IF TG_OP = 'TRUNCATE' THEN
        IF ledger_purge_allowed() THEN RETURN NULL; END IF;
        RAISE EXCEPTION 'journals are append-only: a journal cannot be deleted'
          USING ERRCODE = 'restrict_violation';
      END IF;
      IF OLD.status = 'pending' AND NEW.status IN ('completed', 'voided', 'expired')
         AND NEW.resolved_at IS NOT NULL
         AND (NEW.id, NEW.idempotency_key, NEW.content_hash, NEW.kind, NEW.effective_date,
              NEW.created_at, NEW.memo, NEW.metadata)
             IS NOT DISTINCT FROM
             (OLD.id, OLD.idempotency_key, OLD.content_hash, OLD.kind, OLD.effective_date,
              OLD.created_at, OLD.memo, OLD.metadata)
         AND NEW.pending_id IS NOT DISTINCT FROM OLD.pending_id
         AND NEW.expires_at IS NOT DISTINCT FROM OLD.expires_at
         AND NEW.reverses_id IS NOT DISTINCT FROM OLD.reverses_id THEN
        RETURN NEW;
      END IF;
      RAISE EXCEPTION 'journals are append-only: only a pending journal can be resolved, once'
        USING ERRCODE = 'restrict_violation';
    END $$
    """,
    """
    CREATE TRIGGER ledger_journal_guard BEFORE UPDATE OR DELETE ON ledger_journal
    FOR EACH ROW EXECUTE FUNCTION ledger_guard_journal()
    """,
    """
    CREATE TRIGGER ledger_journal_no_truncate BEFORE TRUNCATE ON ledger_journal
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_guard_journal()
    """,
]

POSTGRES_REVERSE = [
    "DROP TRIGGER IF EXISTS ledger_journal_no_truncate ON ledger_journal",
    "DROP TRIGGER IF EXISTS ledger_journal_guard ON ledger_journal",
    "DROP TRIGGER IF EXISTS ledger_journal_balanced ON ledger_journal",
    "DROP TRIGGER IF EXISTS ledger_leg_sealed ON ledger_leg",
    "DROP TRIGGER IF EXISTS ledger_leg_no_truncate ON ledger_leg",
    "DROP TRIGGER IF EXISTS ledger_leg_no_change ON ledger_leg",
    "DROP FUNCTION IF EXISTS ledger_guard_journal()",
    "DROP FUNCTION IF EXISTS ledger_check_new_journals()",
    "DROP FUNCTION IF EXISTS ledger_check_new_legs()",
    "DROP FUNCTION IF EXISTS ledger_refuse_leg_change()",
    "DROP FUNCTION IF EXISTS ledger_purge_allowed()",
    "DROP SEQUENCE IF EXISTS ledger_journal_id_seq",
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
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
