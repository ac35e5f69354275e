"""Leave room in ledger_account's pages on PostgreSQL so that its running totals are updated
in place.

Every posting batch rewrites the totals of each account it touches. A full page forces
PostgreSQL to put the new row version on another page and to add an entry for it to each
of the table's four indexes; with half of each page free the update stays on its page (a
HOT update: no index entries, and the old version is pruned on a later visit). This
changes how rows are stored, not what any row holds. Only pages written from now on are
filled to half; `VACUUM FULL ledger_account` rewrites the existing ones.
"""

from django.db import migrations


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE ledger_account SET (fillfactor = 50)", params=None)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE ledger_account RESET (fillfactor)", params=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0004_cheaper_guards")]
    operations = [migrations.RunPython(forwards, backwards)]
