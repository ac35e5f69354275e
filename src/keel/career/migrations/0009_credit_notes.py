"""Credit notes and supplementary invoices (``InvoiceAdjustment``), issued once and never
changed; invoice counters get a series prefix (``INV``, ``CN``), so credit notes have
their own gap-free numbers per worker and year."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

# An issued credit note or supplementary invoice never changes: the database refuses every
# update, and every delete but the test suite's purge (the ledger's switch,
# keel.ledger.guards.ledger_purge), as it does for the audit log (audit/0002).
SQLITE = [
    """
    CREATE TRIGGER career_adjustment_no_update BEFORE UPDATE ON career_invoiceadjustment
    BEGIN SELECT RAISE(ABORT, 'an issued credit note or supplementary invoice cannot be changed');
    END
    """,
    """
    CREATE TRIGGER career_adjustment_no_delete BEFORE DELETE ON career_invoiceadjustment
    WHEN keel_ledger_purge_allowed() = 0
    BEGIN SELECT RAISE(ABORT, 'an issued credit note or supplementary invoice cannot be deleted');
    END
    """,
]

SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS career_adjustment_no_delete",
    "DROP TRIGGER IF EXISTS career_adjustment_no_update",
]

POSTGRES = [
    """
    CREATE FUNCTION career_adjustment_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' AND ledger_purge_allowed() THEN RETURN OLD; END IF;
      IF TG_OP = 'TRUNCATE' AND ledger_purge_allowed() THEN RETURN NULL; END IF;
      RAISE EXCEPTION 'an issued credit note or supplementary invoice cannot be %',
        CASE TG_OP WHEN 'UPDATE' THEN 'changed' ELSE lower(TG_OP) || 'd' END
        USING ERRCODE = 'restrict_violation';
    END $$
    """,
    """
    CREATE TRIGGER career_adjustment_no_change BEFORE UPDATE OR DELETE
    ON career_invoiceadjustment
    FOR EACH ROW EXECUTE FUNCTION career_adjustment_refuse_change()
    """,
    """
    CREATE TRIGGER career_adjustment_no_truncate BEFORE TRUNCATE ON career_invoiceadjustment
    FOR EACH STATEMENT EXECUTE FUNCTION career_adjustment_refuse_change()
    """,
]

POSTGRES_REVERSE = [
    "DROP TRIGGER IF EXISTS career_adjustment_no_truncate ON career_invoiceadjustment",
    "DROP TRIGGER IF EXISTS career_adjustment_no_change ON career_invoiceadjustment",
    "DROP FUNCTION IF EXISTS career_adjustment_refuse_change()",
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
        ("career", "0008_invoice_total"),
        # ledger_purge_allowed(), the purge switch the PostgreSQL trigger asks.
        ("ledger", "0002_ledger_guards"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="InvoiceAdjustment",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("credit_note", "Credit note"),
                            ("supplement", "Supplementary invoice"),
                        ],
                        max_length=12,
                    ),
                ),
                ("number", models.CharField(max_length=40)),
                ("issued_on", models.DateField()),
                ("amount", models.BigIntegerField()),
                ("currency", models.CharField(max_length=3)),
                ("reason", models.CharField(max_length=500)),
                ("invoice_number", models.CharField(max_length=40)),
                ("invoice_issued_on", models.DateField()),
                ("invoice_total", models.BigIntegerField()),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("request_key", models.CharField(blank=True, max_length=64)),
            ],
            options={
                "ordering": ("issued_on", "id"),
            },
        ),
        migrations.RemoveConstraint(
            model_name="invoicecounter",
            name="career_invoice_year",
        ),
        migrations.AddField(
            model_name="invoicecounter",
            name="prefix",
            field=models.CharField(default="INV", max_length=10),
        ),
        migrations.AlterField(
            model_name="milestoneevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("fund", "Funded into escrow"),
                    ("deliver", "Delivered"),
                    ("release", "Released"),
                    ("auto_release", "Released automatically"),
                    ("dispute", "Disputed"),
                    ("resolve", "Dispute resolved"),
                    ("roll_in", "Rest of an earlier milestone rolled in"),
                    ("invoice", "Invoice issued"),
                    ("credit_note", "Credit note issued"),
                    ("supplement", "Supplementary invoice issued"),
                ],
                max_length=16,
            ),
        ),
        migrations.AddConstraint(
            model_name="invoicecounter",
            constraint=models.UniqueConstraint(
                fields=("worker", "prefix", "year"), name="career_invoice_series_year"
            ),
        ),
        migrations.AddField(
            model_name="invoiceadjustment",
            name="milestone",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="invoice_adjustments",
                to="career.milestone",
            ),
        ),
        migrations.AddField(
            model_name="invoiceadjustment",
            name="recorded_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="invoiceadjustment",
            name="worker",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddConstraint(
            model_name="invoiceadjustment",
            constraint=models.UniqueConstraint(
                fields=("worker", "number"), name="career_adjustment_number"
            ),
        ),
        migrations.AddConstraint(
            model_name="invoiceadjustment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("request_key", ""), _negated=True),
                fields=("milestone", "request_key"),
                name="career_adjustment_request_once",
            ),
        ),
        migrations.AddConstraint(
            model_name="invoiceadjustment",
            constraint=models.CheckConstraint(
                condition=models.Q(("amount__gt", 0)), name="career_adjustment_amount_positive"
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
