"""Make the journal balance check's cost independent of table statistics.

On PostgreSQL the first version joined the transition table to all legs, a plan that without
statistics (autovacuum off, or a freshly restored database) scanned every leg on each insert.
The check now drives from the new journals and aggregates each one's legs through the index
on ledger_leg(journal_id). On SQLite the two look-ups per journal become one.
"""

from django.db import migrations

POSTGRES = """
CREATE OR REPLACE FUNCTION ledger_check_new_journals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE bad bigint; legs bigint;
BEGIN
  -- One pass per new journal, driven by the transition table: the LATERAL aggregate is
  -- always an index scan on ledger_leg(journal_id), whatever the statistics say.
  SELECT j.id, chk.legs INTO bad, legs FROM new_journals j CROSS JOIN LATERAL (
      SELECT coalesce(sum(n), 0) AS legs, coalesce(bool_or(total <> 0), false) AS unbalanced
      FROM (SELECT count(*) AS n, sum(l.amount) AS total FROM ledger_leg l
            WHERE l.journal_id = j.id GROUP BY l.currency) per_currency
    ) chk
    WHERE chk.legs < 2 OR chk.unbalanced LIMIT 1;
  IF bad IS NOT NULL AND legs < 2 THEN
    RAISE EXCEPTION 'journal % is unbalanced: it needs two or more legs', bad
      USING ERRCODE = 'check_violation';
  ELSIF bad IS NOT NULL THEN
    RAISE EXCEPTION 'journal % is unbalanced: legs must sum to zero per currency', bad
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;
"""

SQLITE = [
    "DROP TRIGGER IF EXISTS ledger_journal_balanced",
    """
    CREATE TRIGGER ledger_journal_balanced AFTER INSERT ON ledger_journal
    WHEN (SELECT coalesce(sum(n), 0) < 2 OR coalesce(max(total <> 0), 0)
          FROM (SELECT count(*) AS n, sum(amount) AS total FROM ledger_leg
                WHERE journal_id = NEW.id GROUP BY currency))
    BEGIN SELECT RAISE(ABORT,
      'journal is unbalanced: it needs two or more legs summing to zero per currency'); END
    """,
]


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES, params=None)
    else:
        for statement in SQLITE:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_ledger_guards")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
