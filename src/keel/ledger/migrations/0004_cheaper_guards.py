"""The same guards for less work per row; the rules they enforce do not change.

SQLite:
- The leg check runs AFTER INSERT instead of BEFORE: it refuses the same legs (a leg whose
  journal already exists, or in another currency than its account) and its RAISE(ABORT)
  undoes the insert as before, but SQLite does less to run an AFTER trigger per row.
- The journal's balance check sums the new journal's legs once (through the index on
  ledger_leg(journal_id)) and decides from that sum for a journal in one currency, which is
  nearly every journal; only a journal whose legs are in more than one currency, and whose
  amounts sum to zero overall, is grouped by currency as before. Fewer than two legs, or
  any currency not summing to zero, is refused exactly as by 0003.

PostgreSQL: the statement-level leg check looks up each journal and each (account,
currency) of the new legs once, not once per leg (a journal has several legs, and a batch
posts to the same accounts many times).
"""

from django.db import migrations

LEG_CHECK = """
    WHEN EXISTS (SELECT 1 FROM ledger_journal WHERE id = NEW.journal_id)
      OR NEW.currency IS NOT (SELECT currency FROM ledger_account WHERE id = NEW.account_id)
    BEGIN SELECT RAISE(ABORT,
      'ledger leg refused: legs go in before their journal, in the account''s currency'); END
"""

SQLITE = [
    "DROP TRIGGER IF EXISTS ledger_leg_sealed",
    f"CREATE TRIGGER ledger_leg_sealed AFTER INSERT ON ledger_leg {LEG_CHECK}",
    "DROP TRIGGER IF EXISTS ledger_journal_balanced",
    """
    CREATE TRIGGER ledger_journal_balanced AFTER INSERT ON ledger_journal
    WHEN (SELECT CASE
                   WHEN count(*) < 2 OR sum(amount) <> 0 THEN 1
                   WHEN min(currency) = max(currency) THEN 0
                   ELSE EXISTS (SELECT 1 FROM ledger_leg WHERE journal_id = NEW.id
                                GROUP BY currency HAVING sum(amount) <> 0)
                 END
          FROM ledger_leg WHERE journal_id = NEW.id)
    BEGIN SELECT RAISE(ABORT,
      'journal is unbalanced: it needs two or more legs summing to zero per currency'); END
    """,
]

# The triggers as 0002 (legs) and 0003 (journals) left them.
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS ledger_leg_sealed",
    f"CREATE TRIGGER ledger_leg_sealed BEFORE INSERT ON ledger_leg {LEG_CHECK}",
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


POSTGRES_LEG_CHECK = """
CREATE OR REPLACE FUNCTION ledger_check_new_legs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM {journals} l JOIN ledger_journal j ON j.id = l.journal_id) THEN
    RAISE EXCEPTION 'ledger leg refused: legs cannot be added to an existing journal'
      USING ERRCODE = 'restrict_violation';
  END IF;
  IF EXISTS (SELECT 1 FROM {accounts} l JOIN ledger_account a ON a.id = l.account_id
             WHERE a.currency <> l.currency) THEN
    RAISE EXCEPTION 'ledger leg refused: a leg must be in its account''s currency'
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$
"""

POSTGRES = POSTGRES_LEG_CHECK.format(
    journals="(SELECT DISTINCT journal_id FROM new_legs)",
    accounts="(SELECT DISTINCT account_id, currency FROM new_legs)",
)

# The function as 0002 left it.
POSTGRES_REVERSE = POSTGRES_LEG_CHECK.format(journals="new_legs", accounts="new_legs")


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES, params=None)
    else:
        for statement in SQLITE:
            schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_REVERSE, params=None)
    else:
        for statement in SQLITE_REVERSE:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_balance_check_by_journal")]
    operations = [migrations.RunPython(forwards, backwards)]
